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
	}
	return validateURL(req.URL)
}

// validateURL checks that u is an http or https URL with a host and, if it
// has one, a port in range: the checks a first request and each redirect
// pass.
func validateURL(u *url.URL) error {
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: %q: scheme must be http or https", ErrInvalidURL, u.Redacted())
	case u.Hostname() == "":
		return fmt.Errorf("%w: %q: no host", ErrInvalidURL, u.Redacted())
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%w: %q: port %s out of range", ErrInvalidURL, u.Redacted(), p)
		}
	}
	return nil
}

// requote percent-encodes, in u's path and query as written, the bytes a
// request-target may not hold (a space, a control, a non-ASCII byte, and
// "<>`{} as browsers do), keeping every escape already there, so that the
// request line is one and "%2F" stays apart from "/". net/http sends a
// query as written, and re-escapes a path it cannot keep from its decoded
// form, which turns "%2F" into "/".
func requote(u *url.URL) {
	u.RawQuery = quoteInvalid(u.RawQuery)
	if u.RawPath != "" {
		u.RawPath = quoteInvalid(u.RawPath)
	}
}

// quoteInvalid returns s with the bytes requote encodes percent-encoded.
func quoteInvalid(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r > 0x7e || invalidInTarget(byte(r)) })
	if i < 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for j := i; j < len(s); j++ {
		if c := s[j]; c > 0x7e || invalidInTarget(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func invalidInTarget(c byte) bool {
	return c <= ' ' || strings.IndexByte("\"<>`{}", c) >= 0
}
