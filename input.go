package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/c989c033/fetch/internal/urlredact"
)

// A requester turns one input of a call into the request to send, with the
// call's context. It also returns the text to report as the Result's URL:
// the input as the caller gave it, if that holds no password, or "" to
// report the request's own URL, redacted. An input it cannot make a request
// of yields an error, and the input's text, redacted. A request sent under
// a context made of the call's and the request's own (see withRequest)
// comes with that context, to be released once its result is delivered.
//
// Each batch and streaming call has one; the goroutine that reads the
// call's inputs runs it on each as it reads it, so that a job is queued
// for its host with its request ready.
type requester[T any] func(ctx context.Context, in T) (req *http.Request, text string, rc *requestContext, err error)

// getURL is the requester of the calls that take URLs: Get, GetAll and
// Stream, with their requests shaped by opts.
func getURL(opts []RequestOption) requester[string] {
	return func(ctx context.Context, rawURL string) (*http.Request, string, *requestContext, error) {
		req, text, err := newURLRequest(ctx, rawURL, opts)
		return req, text, nil, err
	}
}

// newURLRequest is getURL's requester.
func newURLRequest(ctx context.Context, rawURL string, opts []RequestOption) (*http.Request, string, error) {
	req, err := newGet(ctx, rawURL)
	if err != nil {
		return nil, urlredact.String(rawURL), err
	}
	for i, opt := range opts {
		if opt == nil {
			return nil, urlredact.String(rawURL), fmt.Errorf("RequestOption %d of %d is nil", i+1, len(opts))
		}
		if err := opt(req); err != nil {
			return nil, urlredact.String(rawURL), err
		}
	}
	if strings.Contains(rawURL, "@") { // may hold a password: report it redacted
		rawURL = ""
	}
	return req, rawURL, nil
}

func newGet(ctx context.Context, rawURL string) (*http.Request, error) {
	if ctx == nil {
		return nil, errors.New("nil context") // the call's error names the URL
	}
	// The request carries its call from the start (see preparedCall).
	req, err := http.NewRequestWithContext(preparedCall(ctx), http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, invalidURL(rawURL, err)
	}
	requote(req.URL) // a space in the query would make no request line
	return req, nil
}

// invalidURL is the error for rawURL, which does not parse, err being
// the parser's: it matches ErrInvalidURL, and the URL it quotes is all of
// rawURL, redacted. (The parser's own quotes only what precedes a "#",
// which may be the start of a password.) If a password's "/", "?" or "#"
// cut the URL short, the parser's complaint, which quotes the start of
// the password as a port, gives way to one that says to percent-encode
// them.
func invalidURL(rawURL string, err error) error {
	if ue, ok := err.(*url.Error); ok {
		ue.URL = urlredact.String(rawURL)
		if urlredact.CutShort(rawURL) {
			ue.Err = urlredact.ErrCutShort
		}
	}
	return fmt.Errorf("%w: %w", ErrInvalidURL, err)
}

// sendRequest is the requester of the calls given requests, DoAll and
// StreamRequests: each request is sent under a context that ends with the
// call's or its own, and holds the values of both, its own first (see
// withRequest); it keeps the settings [RequestOption]s gave it, such as
// [MaxBodySize], and, if its body can be rewound (GetBody), it gets a
// body of its own, so that a request given as several inputs sends its
// whole body each time (the one it came with is closed). A request whose
// own context has already ended fails with its error, unsent. A nil
// request is left for do to refuse.
func sendRequest(ctx context.Context, req *http.Request) (*http.Request, string, *requestContext, error) {
	if req == nil {
		return nil, "", nil, nil
	}
	ctx, rc, err := withRequest(ctx, req.Context())
	if err != nil {
		return req, "", nil, err
	}
	if o := ownOf(req); o != (own{}) {
		if v, _ := ctx.Value(ownKey{}).(own); v != o {
			// Settings under a call that sends req (a response's
			// request, given again), which the call's context hides.
			ctx = context.WithValue(ctx, ownKey{}, o)
		}
	}
	c := preparedCall(ctx)
	c.sharedHeader = true // the caller's request's header map
	r := req.WithContext(c)
	if req.Body != nil && req.Body != http.NoBody && req.GetBody != nil {
		if body, err := req.GetBody(); err == nil {
			req.Body.Close()
			r.Body = body
		}
	}
	return r, "", rc, nil
}

// funcRequester is the requester of StreamFunc and Handle, which make
// each request with newRequest. A request made with the context newRequest
// is given (or one made from it with values added) is sent as it is; one
// made with another that may end on its own (a deadline for this input),
// or never (made with [http.NewRequest]), is sent under a context that
// ends with either and holds the values of both, as sendRequest's
// requests are.
// The text of an input it fails on is the input itself if it is a string
// or a fmt.Stringer.
func funcRequester[T any](newRequest func(context.Context, T) (*http.Request, error)) requester[T] {
	if newRequest == nil {
		panic("fetch: nil newRequest func") // see run
	}
	return func(ctx context.Context, v T) (*http.Request, string, *requestContext, error) {
		req, err := newRequest(ctx, v)
		if err != nil {
			var text string
			switch v := any(v).(type) {
			case string:
				text = v
			case fmt.Stringer:
				text = v.String()
			}
			return nil, urlredact.String(text), nil, err
		}
		if req == nil || req.Context().Done() == ctx.Done() {
			return req, "", nil, nil // made with ctx, or from it with values added: it ends with ctx
		}
		rctx, rc, err := withRequest(ctx, req.Context())
		if err != nil {
			return req, "", nil, err
		}
		return req.WithContext(rctx), "", rc, nil
	}
}
