package main

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
)

// A held counts the bytes an input's file holds during a --continue run:
// where the run found it, then what each attempt appends. Every attempt
// asks for the rest from there (see [resumeTransport]), so a retry after a
// body cut short takes up where that body stopped, as wget does, rather
// than where the run began.
type held struct{ n atomic.Int64 }

type heldKey struct{}

// withHeld returns ctx carrying h, for resumeTransport to find in each
// request of the input.
func withHeld(ctx context.Context, h *held) context.Context {
	return context.WithValue(ctx, heldKey{}, h)
}

// resumeTransport sends each request whose context carries a [held] with
// Range: bytes=N-, N the bytes its file holds when the request is sent
// (none while it holds none): an attempt and every redirect it follows
// ask for the rest of the file as it is then.
type resumeTransport struct{ next http.RoundTripper }

func (t resumeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h, _ := req.Context().Value(heldKey{}).(*held)
	if h == nil {
		return t.next.RoundTrip(req)
	}
	n := h.n.Load()
	if n == 0 {
		return t.next.RoundTrip(req)
	}
	r := req.Clone(req.Context()) // a RoundTripper must not change req
	r.Header.Set("Range", "bytes="+strconv.FormatInt(n, 10)+"-")
	return t.next.RoundTrip(r)
}
