package fetch

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
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
