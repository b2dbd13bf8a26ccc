package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// A held counts the bytes of an input's body that its attempts have
// saved so far: in the file itself with --continue (where the run found
// it, then what each attempt appends), or, for a plain -O GET, in the
// temporary file that an attempt cut short left. Every attempt asks for
// the rest from there (see [resumeTransport]), so a retry after a body
// cut short takes up where that body stopped, as wget does, rather than
// fetching it all again.
type held struct {
	n atomic.Int64

	mu        sync.Mutex
	tmp       string // plain -O: the temporary file holding the n bytes
	validator string // If-Range: the first response's strong ETag, or its Last-Modified
}

type heldKey struct{}

// withHeld returns ctx carrying h, for resumeTransport to find in each
// request of the input.
func withHeld(ctx context.Context, h *held) context.Context {
	return context.WithValue(ctx, heldKey{}, h)
}

// part returns the temporary file an earlier attempt left, and the bytes
// in it ("" and 0 if none).
func (h *held) part() (tmp string, n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tmp, h.n.Load()
}

// keep notes that tmp holds the first n bytes of the body.
func (h *held) keep(tmp string, n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tmp = tmp
	h.n.Store(n)
}

// reset forgets the part kept, and the validator, and returns the
// temporary file that held the part ("" if none), for the caller to
// remove: the next attempt asks for the whole body.
func (h *held) reset() (tmp string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	tmp, h.tmp, h.validator = h.tmp, "", ""
	h.n.Store(0)
	return tmp
}

// noteValidator takes the validator of resp for If-Range, if it has one
// and none was taken yet: an ETag that is not weak, or a Last-Modified.
// With it, a retry asks for the rest of the body only if it has not
// changed since, and is sent the whole of it if it has.
func (h *held) noteValidator(resp *http.Response) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.validator != "" {
		return
	}
	if etag := resp.Header.Get("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") {
		h.validator = etag
	} else {
		h.validator = resp.Header.Get("Last-Modified")
	}
}

// resumeTransport sends each request whose context carries a [held] with
// Range: bytes=N-, N the bytes saved of its body when the request is sent
// (none while nothing is), and with If-Range if the held has a validator:
// an attempt and every redirect it follows ask for the rest of the body.
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
	h.mu.Lock()
	if h.validator != "" {
		r.Header.Set("If-Range", h.validator)
	}
	h.mu.Unlock()
	return t.next.RoundTrip(r)
}

// resumes reports whether a retry takes up a body cut short where it
// stopped: with -O (and not --queue, whose bodies are read into memory
// first), for a GET, unless -H sets a Range of its own.
func (o options) resumes() bool {
	return o.outputDir != "" && o.queue == "" && o.method == http.MethodGet && !o.header.has("Range")
}
