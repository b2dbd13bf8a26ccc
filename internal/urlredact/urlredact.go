// Package urlredact hides the password of a URL for messages, whether or
// not the URL parses.
package urlredact

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// ErrCutShort is the error to give for a URL whose password a "/", "?" or
// "#" cut short (see [CutShort]) in place of url.Parse's, which quotes
// the start of the password as a port ("invalid port \":s3cr\" after
// host").
var ErrCutShort = errors.New("a / ? or # in the password must be percent-encoded (%2F %3F %23)")

// String returns rawURL with any password replaced by xxxxx, as
// [url.URL.Redacted] does, the user name kept.
//
// A password typed with a "/", "?" or "#" not percent-encoded ends the
// authority where the user did not mean it to: url.Parse reads
// http://user:p#ss@host/ as host "user", port "p" and fragment
// "ss@host/". String takes for such a password everything between the
// first colon after the "//" and the last "@" of all when the text before
// that colon holds no "/", "?", "#" or "[" and the text after it, up to
// the first "/", "?" or "#", holds no "@" and is not a port (1 to 5
// digits, at most 65535). It may then hide more than the password, never
// less; an ordinary URL with an "@" or ":" in its path, query or fragment
// (http://host/@me, http://host:8080/?mail=a@b.test) is left whole.
//
// Otherwise, for a string that does not parse as a URL, it replaces
// whatever lies between the first colon and the last @ of what url.Parse
// would take for its authority (after "//", up to the first "/", "?" or
// "#").
//
// A URL that parses as written is read as url.Parse reads it, which is
// also how it is fetched: http://user:1234#x@host/ names host "user" on
// port 1234, and is returned unchanged.
func String(rawURL string) string {
	if s, ok := cutShort(rawURL); ok {
		return s
	}
	if u, err := url.Parse(rawURL); err == nil {
		return u.Redacted()
	}
	return inAuthority(rawURL)
}

// CutShort reports whether rawURL holds a password that a "/", "?" or "#"
// not percent-encoded cut short, as [String] reads it: what url.Parse
// makes of such a URL, or its error, may show part of the password.
func CutShort(rawURL string) bool {
	_, ok := cutShort(rawURL)
	return ok
}

// cutShort is rawURL redacted, and true, if its password holds a "/", "?"
// or "#" that cut the authority short (see [String]).
func cutShort(rawURL string) (string, bool) {
	i := strings.Index(rawURL, "//")
	if i < 0 {
		return "", false
	}
	rest := rawURL[i+2:]
	user, after, ok := strings.Cut(rest, ":")
	if !ok || strings.ContainsAny(user, "/?#[") {
		return "", false
	}
	end := strings.IndexAny(after, "/?#")
	if end < 0 || strings.Contains(after[:end], "@") || isPort(after[:end]) {
		return "", false
	}
	at := strings.LastIndex(after[end:], "@")
	if at < 0 {
		return "", false
	}
	return rawURL[:i+2] + user + ":xxxxx" + after[end+at:], true
}

// isPort reports whether s can be a port: 1 to 5 digits, at most 65535.
func isPort(s string) bool {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return false
	}
	n, _ := strconv.Atoi(s)
	return n <= 65535
}

// inAuthority is rawURL with whatever lies between the first colon and
// the last @ of its authority (after "//", up to the first "/", "?" or
// "#") replaced by xxxxx.
func inAuthority(rawURL string) string {
	i := strings.Index(rawURL, "//")
	if i < 0 {
		return rawURL
	}
	auth := rawURL[i+2:]
	if end := strings.IndexAny(auth, "/?#"); end >= 0 {
		auth = auth[:end]
	}
	at := strings.LastIndex(auth, "@")
	if at < 0 {
		return rawURL
	}
	user, _, ok := strings.Cut(auth[:at], ":")
	if !ok {
		return rawURL
	}
	return rawURL[:i+2] + user + ":xxxxx" + rawURL[i+2+at:]
}
