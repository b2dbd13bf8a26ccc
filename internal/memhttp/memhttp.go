// Package memhttp serves HTTP requests in memory, for tests: its Transport
// hands each request straight to an http.Handler, with no sockets, so that
// tests using it can run inside a testing/synctest bubble, whose fake clock
// only advances when every goroutine is blocked on something in the bubble.
package memhttp

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
)

// Transport is an http.RoundTripper that serves every request with Handler
// on the calling goroutine. The handler sees the request's context, so a
// handler that waits on r.Context().Done() models a request in flight that
// the client cancels. When the context ends during the handler, RoundTrip
// returns the context's error, as a real transport would.
type Transport struct {
	Handler http.Handler
}

// RoundTrip implements http.RoundTripper.
func (t Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		closeBody(req)
		return nil, err
	}
	sreq := req.Clone(ctx)
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		closeBody(req)
		if err != nil {
			return nil, err
		}
		sreq.Body = io.NopCloser(bytes.NewReader(b))
	} else {
		sreq.Body = http.NoBody
	}
	sreq.RequestURI = req.URL.RequestURI()
	rec := httptest.NewRecorder()
	t.Handler.ServeHTTP(rec, sreq)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// Client returns an *http.Client that serves every request with h.
func Client(h http.Handler) *http.Client {
	return &http.Client{Transport: Transport{Handler: h}}
}
