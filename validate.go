package fetch

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
	case req.URL.Host == "":
		return fmt.Errorf("%w: %q: no host", ErrInvalidURL, req.URL.Redacted())
	}
	return nil
}

// redact returns rawURL with any password replaced, for messages; a string
// that does not parse as a URL is returned as it is.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.Redacted()
}
