package fetch

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

var errNilRequest = errors.New("fetch: nil *http.Request")

// validate checks req before it is queued, so that a request that could never
// succeed costs no token, no slot and no network call.
func validate(req *http.Request) error {
	switch {
	case req == nil:
		return errNilRequest
	case req.URL == nil:
		return fmt.Errorf("%w: request has no URL", ErrInvalidURL)
	case req.URL.Scheme != "http" && req.URL.Scheme != "https":
		return fmt.Errorf("%w: %q: scheme must be http or https", ErrInvalidURL, req.URL.Redacted())
	case req.URL.Hostname() == "":
		return fmt.Errorf("%w: %q: no host", ErrInvalidURL, req.URL.Redacted())
	}
	if p := req.URL.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%w: %q: port %s out of range", ErrInvalidURL, req.URL.Redacted(), p)
		}
	}
	return nil
}

// redact returns rawURL with any password replaced, for messages, whether
// or not it parses as a URL.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return redactRaw(rawURL)
	}
	return u.Redacted()
}

// redactRaw redacts the password of a URL that does not parse, as
// [url.URL.Redacted] would: in what url.Parse would take for its authority
// (after "//", up to the first "/", "?" or "#"), whatever lies between the
// first colon and the last @ is replaced by xxxxx.
func redactRaw(rawURL string) string {
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
