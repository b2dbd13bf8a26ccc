package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
)

// maxName is the longest file name fileName returns, leaving room under
// the usual limit of 255 bytes for a collision's suffix and a temporary
// file's prefix and suffix.
const maxName = 200

// fileName returns the name under which -O saves the body of u, an http or
// https URL with a host: its host, path and query, with every run of bytes
// other than ASCII letters, digits and -._~+=,@ (a slash, a backslash, a
// colon, a NUL, anything else) made one _, so that the name is one file in
// the directory however the URL is written: http://example.com/a/b.html is
// example.com_a_b.html, and a path that is empty or ends in / gets
// index.html. The name never starts with a dot, so it is never hidden, .
// or .., and it never ends with one. A name that would be longer than
// maxName is cut, and ends with a hash of the whole URL.
func fileName(u *url.URL) string {
	p := u.Path // decoded: %2e%2e%2f is ../, and made safe below like any ../
	if p == "" || strings.HasSuffix(p, "/") {
		p += "index.html"
	}
	s := u.Host + "/" + strings.TrimPrefix(p, "/")
	if u.RawQuery != "" {
		s += "?" + u.RawQuery
	}
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		switch {
		case safe(c) && !(c == '.' && b.Len() == 0):
			b.WriteByte(c)
		case b.Len() == 0 || !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	name := b.String()
	if len(name) > maxName {
		sum := sha256.Sum256([]byte(u.String()))
		name = name[:maxName-17] + "-" + hex.EncodeToString(sum[:8])
	}
	if strings.HasSuffix(name, ".") {
		name += "_"
	}
	return name
}

func safe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+=,@", c) >= 0
}

// names hands out one file name per input, as inputs are read, so that
// which input gets which name depends on input order alone, never on which
// request finishes first. The second input whose name is taken gets the
// name with .1 after it, the third .2, and so on. Names that differ only in
// case count as the same, as they are on some file systems. A names is not
// safe for concurrent use.
type names struct {
	taken map[string]bool // lower case
	next  map[string]int  // the next suffix to try after a name, lower case
}

func newNames() names { return names{taken: map[string]bool{}, next: map[string]int{}} }

// reserve returns the file name for l, or "" if l is not an http or https
// URL with a host, which the Fetcher refuses.
func (n names) reserve(l line) string {
	if l.err != nil {
		return ""
	}
	u, err := url.Parse(l.url)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return ""
	}
	base := fileName(u)
	key := strings.ToLower(base)
	for i := n.next[key]; ; i++ {
		name := base
		if i > 0 {
			name += "." + strconv.Itoa(i)
		}
		if lower := strings.ToLower(name); !n.taken[lower] {
			n.taken[lower] = true
			n.next[key] = i + 1
			return name
		}
	}
}
