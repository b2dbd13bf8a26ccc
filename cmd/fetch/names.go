package main

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/maphash"
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
//
// It keeps a 64-bit hash of each name handed out, not the name: some 30
// bytes an input. Two names whose hashes collide (about one chance in
// 10^10 among a million) only make the second one take a suffix it did not
// need.
type names struct {
	seed  maphash.Seed
	taken map[uint64]struct{} // hashes of the names handed out, lower case
	next  map[uint64]int      // after a name handed out more than once: the next suffix to try
}

func newNames() names {
	return names{seed: maphash.MakeSeed(), taken: map[uint64]struct{}{}, next: map[uint64]int{}}
}

// reserve returns the file name for l's URL (with http:// before it if it
// has no scheme, see [withScheme]), or "" if that is not an http or https
// URL with a host, which the Fetcher refuses.
func (n names) reserve(l line) string {
	if l.err != nil {
		return ""
	}
	u, err := url.Parse(withScheme(l.url))
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return ""
	}
	base := fileName(u)
	key := maphash.String(n.seed, strings.ToLower(base))
	for i := n.next[key]; ; i++ {
		name := base
		if i > 0 {
			name += "." + strconv.Itoa(i)
		}
		h := key
		if i > 0 {
			h = maphash.String(n.seed, strings.ToLower(name))
		}
		if _, taken := n.taken[h]; !taken {
			n.taken[h] = struct{}{}
			if i > 0 {
				n.next[key] = i + 1
			}
			return name
		}
	}
}
