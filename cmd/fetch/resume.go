package main

import (
	"context"
	"io"
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

	mu  sync.Mutex
	tmp string // plain -O: the temporary file holding the n bytes
	// whole416, for a plain -O GET, has a 416 to the Range that asks for
	// the rest of a part answered by asking for the whole body: the body
	// is shorter than the part now, and nobody else asked for a range.
	whole416 bool
	// What the first response of the body the n bytes are of said of it:
	// its strong ETag and its Last-Modified (the ETag, or else the
	// Last-Modified, is If-Range's validator), and its length (-1 if
	// unknown). noted says whether they are taken yet.
	etag, modified string
	weak           bool // the ETag was weak: no If-Range at all (RFC 9110 §13.1.5)
	size           int64
	noted          bool
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

// reset forgets the part kept, and what was noted of its body, and
// returns the temporary file that held the part ("" if none), for the
// caller to remove: the next attempt asks for the whole body.
func (h *held) reset() (tmp string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	tmp, h.tmp = h.tmp, ""
	h.forget()
	return tmp
}

// forget has the next attempt ask for the whole body, as reset does, but
// keeps the temporary file, for that attempt to write over. h.mu is held.
func (h *held) forget() {
	h.etag, h.modified, h.weak, h.size, h.noted = "", "", false, 0, false
	h.n.Store(0)
}

// note takes what resp, the first response of a body, says of it, unless
// that is taken already: its ETag if not weak, its Last-Modified, and its
// length (see [bodySize]). A retry asks for the rest of the body with
// If-Range, the ETag or else the Last-Modified, so that it is sent the
// whole of it if it has changed since; and a 206 that names another ETag,
// Last-Modified or length is not of the same body (see [held.sameBody]).
func (h *held) note(resp *http.Response) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.noted {
		return
	}
	h.noted, h.etag, h.modified, h.size = true, strongETag(resp.Header), resp.Header.Get("Last-Modified"), bodySize(resp)
	h.weak = h.etag == "" && resp.Header.Get("ETag") != ""
}

// knownSize returns the length of the body noted, -1 if none is.
func (h *held) knownSize() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.noted {
		return -1
	}
	return h.size
}

// validator returns the If-Range of the next request: the strong ETag
// noted, or else the Last-Modified, unless the ETag was weak, which rules
// out both (RFC 9110 §13.1.5: no date where there is an entity tag); ""
// if none.
func (h *held) validator() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.etag != "" || h.weak {
		return h.etag
	}
	return h.modified
}

// sameBody reports whether resp, a 206 that takes up the body where its
// part stops, is of the body noted: a server that honours Range but not
// If-Range (or given no validator to check) sends the rest of a body
// changed since, and says so only by its ETag, Last-Modified or length.
// What either does not say is taken as the same.
func (h *held) sameBody(resp *http.Response) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.noted {
		return true
	}
	differ := func(a, b string) bool { return a != "" && b != "" && a != b }
	size := bodySize(resp)
	return !differ(h.etag, strongETag(resp.Header)) && !differ(h.modified, resp.Header.Get("Last-Modified")) &&
		!(h.size >= 0 && size >= 0 && h.size != size)
}

// strongETag returns the ETag in h, "" if none or weak.
func strongETag(h http.Header) string {
	if etag := h.Get("ETag"); !strings.HasPrefix(etag, "W/") {
		return etag
	}
	return ""
}

// bodySize returns the length of the whole body resp is of, -1 if it does
// not say: a 206's Content-Range total, another response's Content-Length.
func bodySize(resp *http.Response) int64 {
	if resp.StatusCode != http.StatusPartialContent {
		return resp.ContentLength
	}
	if _, _, total, ok := contentRange(resp.Header.Get("Content-Range")); ok {
		return total
	}
	return -1
}

// resumeTransport sends each request whose context carries a [held] with
// Range: bytes=N-, N the bytes saved of its body when the request is sent
// (none while nothing is), and with If-Range if the held has a validator:
// an attempt and every redirect it follows ask for the rest of the body.
// A 416 to that Range is returned with an empty body (see [dropBody]), or,
// for a held whose whole416 is set, not returned: the held forgets its
// part, and the request is sent again without Range.
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
	if v := h.validator(); v != "" {
		r.Header.Set("If-Range", v)
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		return resp, err
	}
	dropBody(resp)
	if !h.whole416 {
		return resp, nil
	}
	h.mu.Lock()
	h.forget()
	h.mu.Unlock()
	return t.next.RoundTrip(req)
}

// dropBody closes the body of resp, a 416 to the Range of a resumed
// request, and gives resp an empty one: nothing reads it. A body whose
// length is given, and small, is read first, so that its connection can
// be reused; one with no length is not read at all, as wget reads none:
// a server that keeps its connection open after such a body (an HTTP/1.1
// response with neither Content-Length nor chunking) would have it read
// until the stall timeout, or for ever.
func dropBody(resp *http.Response) {
	if resp.ContentLength >= 0 && resp.ContentLength <= 4<<10 {
		io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	resp.Body = http.NoBody
}

// resumes reports whether a retry takes up a body cut short where it
// stopped: with -O (and not --queue, whose bodies are read into memory
// first), for a GET, unless -H sets a Range of its own.
func (o options) resumes() bool {
	return o.outputDir != "" && o.queue == "" && o.method == http.MethodGet && !o.header.has("Range")
}
