package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// chunkTransport answers each request with a body whose reads take the
// chunks sent on body, one a read, and end at its close; a read waiting for
// a chunk, or the wait for the response if head is not closed, ends with
// the request's context, as a real transport's does.
type chunkTransport struct {
	head <-chan struct{}
	body <-chan string
}

func (t chunkTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	select {
	case <-t.head:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	return &http.Response{StatusCode: 200, Body: &chunkBody{ctx: ctx, chunks: t.body}, Request: req}, nil
}

type chunkBody struct {
	ctx    context.Context
	chunks <-chan string
}

func (b *chunkBody) Read(p []byte) (int, error) {
	select {
	case c, ok := <-b.chunks:
		if !ok {
			return 0, io.EOF
		}
		return copy(p, c), nil
	case <-b.ctx.Done():
		return 0, context.Cause(b.ctx)
	}
}

func (b *chunkBody) Close() error { return nil }

// The stall clock runs only while the response is awaited and while a read
// waits: time the reader spends between reads does not count.
func TestStallTimeoutCountsOnlyWaits(t *testing.T) {
	const d = time.Second
	open := make(chan struct{})
	close(open)
	get := func(rt http.RoundTripper) (*http.Response, error) {
		req, _ := http.NewRequest("GET", "http://a.test/", nil)
		return stallTimeout(rt, d).RoundTrip(req)
	}
	synctest.Test(t, func(t *testing.T) {
		body := make(chan string, 2)
		body <- "a"
		body <- "b"
		close(body)
		resp, err := get(chunkTransport{head: open, body: body})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 8)
		resp.Body.Read(buf)
		time.Sleep(10 * d) // a slow disk between reads
		if n, err := resp.Body.Read(buf); n != 1 || err != nil {
			t.Errorf("read after a pause between reads: %d, %v; want the next byte", n, err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		body := make(chan string)
		go func() { // a byte every 0.9 s for 9 s
			for range 10 {
				time.Sleep(d * 9 / 10)
				body <- "x"
			}
			close(body)
		}()
		resp, err := get(chunkTransport{head: open, body: body})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if got, err := io.ReadAll(resp.Body); len(got) != 10 || err != nil {
			t.Errorf("trickle: read %q, %v; want all 10 bytes", got, err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		body := make(chan string, 1)
		body <- "a"
		resp, err := get(chunkTransport{head: open, body: body})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 8)
		resp.Body.Read(buf)
		start := time.Now()
		_, err = resp.Body.Read(buf)
		if !errors.Is(err, ErrAttemptTimeout) || time.Since(start) != d {
			t.Errorf("stalled body: %v after %v; want an attempt timeout after %v", err, time.Since(start), d)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		_, err := get(chunkTransport{head: make(chan struct{})})
		if !errors.Is(err, ErrAttemptTimeout) || time.Since(start) != d {
			t.Errorf("no response: %v after %v; want an attempt timeout after %v", err, time.Since(start), d)
		}
	})
}

// Through a Fetcher, on the wire: a body that keeps coming is fetched
// whole past the stall timeout, one that stops is retried and fails with
// an attempt timeout, with the client New builds and with WithClient.
func TestStallTimeoutOnTheWire(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/trickle" { // 20 bytes over about 0.6 s
			for range 20 {
				w.Write([]byte("x"))
				w.(http.Flusher).Flush()
				select {
				case <-time.After(30 * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
			return
		}
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	for name, opts := range map[string][]Option{
		"own client": nil,
		"WithClient": {WithClient(&http.Client{})},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := New(append(opts, WithStallTimeout(200*time.Millisecond),
				WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))...)
			if err != nil {
				t.Fatal(err)
			}
			if r := f.Fetch(t.Context(), srv.URL+"/trickle"); r.Err != nil || len(r.Body) != 20 {
				t.Errorf("trickle: %d bytes, %v; want all 20 past the stall timeout", len(r.Body), r.Err)
			}
			r := f.Fetch(t.Context(), srv.URL+"/stall")
			if !errors.Is(r.Err, ErrAttemptTimeout) || !errors.Is(r.Err, context.DeadlineExceeded) || r.Attempts != 2 ||
				!strings.Contains(r.Err.Error(), "attempt stalled: no bytes of the response body for 200ms") {
				t.Errorf("stall: %d attempts, %v; want 2, each stalled", r.Attempts, r.Err)
			}
		})
	}
	if _, err := New(WithStallTimeout(0)); err == nil || !strings.Contains(err.Error(), "WithStallTimeout(0s)") {
		t.Errorf("WithStallTimeout(0): %v; want an error naming it", err)
	}
}
