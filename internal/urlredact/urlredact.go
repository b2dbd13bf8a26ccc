// Package urlredact hides the password of a URL for messages, whether or
// not the URL parses.
package urlredact

import (
	"net/url"
	"strings"
)

// String returns rawURL with any password replaced by xxxxx, as
// [url.URL.Redacted] does. For a string that does not parse as a URL, it
// replaces whatever lies between the first colon and the last @ of what
// url.Parse would take for its authority (after "//", up to the first
// "/", "?" or "#").
func String(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return u.Redacted()
	}
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
