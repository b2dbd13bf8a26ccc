package fetch

import (
	"errors"
	"fmt"
	"net/http"
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
