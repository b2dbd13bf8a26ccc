package fetch

// A download service's review: large bodies streamed to storage through Do
// and Handle, long downloads against the attempt timeout, bodies cut short,
// slots held by slow bodies, memory, cancellation mid-body, redirects to
// other hosts, and Stats during long downloads.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// blob returns n bytes of a repeating, position-dependent pattern.
func blob(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// serveBlob serves b, with Content-Length unless chunked.
func serveBlob(b []byte, chunked bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !chunked {
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		}
		w.Write(b)
	}
}

// copyTo is a Handle handler that streams the body into a fresh buffer per
// attempt, as a download service writes to storage, and records what each
// attempt wrote and the error its copy saw.
type copyTo struct {
	mu       sync.Mutex
	attempts []int   // bytes written by each attempt
	errs     []error // the copy's error in each attempt
	last     *bytes.Buffer
}

func (c *copyTo) handle(_ string, resp *http.Response) (int64, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, resp.Body)
	c.mu.Lock()
	c.attempts = append(c.attempts, int(n))
	c.errs = append(c.errs, err)
	c.last = &buf
	c.mu.Unlock()
	return n, err
}

func handleOneURL[Out any](t *testing.T, ctx context.Context, f *Fetcher, url string,
	h func(string, *http.Response) (Out, error)) Handled[string, Out] {
	t.Helper()
	var out []Handled[string, Out]
	for r := range HandleURLs(ctx, f, slices.Values([]string{url}), h) {
		out = append(out, r)
	}
	if len(out) != 1 {
		t.Fatalf("HandleURLs yielded %d results, want 1", len(out))
	}
	return out[0]
}

// The size cap applies to Handle (the handler's reads) but not to Do; the
// option's doc should say so, since a handler's body is not one "the
// Fetcher reads for you".
func TestDownloadReviewMaxBodyCapsHandleNotDo(t *testing.T) {
	const limit = 64 << 10
	body := blob(256 << 10)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			srv := httptest.NewServer(serveBlob(body, chunked))
			defer srv.Close()
			f, err := New(WithMaxBodySize(limit))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Shutdown(context.Background())

			// Do: uncapped, as documented.
			resp, err := f.Do(mustGet(t, srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("Do: read %d bytes, %v; want the whole %d-byte body", len(got), err, len(body))
			}

			// Handle: capped.
			var c copyTo
			h := handleOneURL(t, context.Background(), f, srv.URL, c.handle)
			if !errors.Is(h.Err, ErrBodyTooLarge) {
				t.Fatalf("Handle: err = %v, want ErrBodyTooLarge", h.Err)
			}
			if h.Attempts != 1 {
				t.Errorf("Handle: %d attempts, want 1 (a body over the cap is not retried)", h.Attempts)
			}
			t.Logf("Handle error: %v; handler attempts wrote %v bytes", h.Err, c.attempts)
			for _, n := range c.attempts {
				if n > limit {
					t.Errorf("the handler's copy wrote %d bytes to its storage, past the cap %d", n, limit)
				}
			}
		})
	}
}

// A body whose Content-Length is over the cap fails Get before reading
// any of it; Handle should refuse it as promptly, not stream up to the
// cap into the caller's storage first only to fail.
func TestDownloadReviewHandleRefusesOversizedContentLengthUpFront(t *testing.T) {
	const limit = 64 << 10
	srv := httptest.NewServer(serveBlob(blob(1<<20), false))
	defer srv.Close()
	f, err := New(WithMaxBodySize(limit))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	_, gerr := f.Get(context.Background(), srv.URL)
	if !errors.Is(gerr, ErrBodyTooLarge) {
		t.Fatalf("Get: %v, want ErrBodyTooLarge", gerr)
	}
	var called atomic.Int32
	h := handleOneURL(t, context.Background(), f, srv.URL, func(_ string, resp *http.Response) (int64, error) {
		called.Add(1)
		return io.Copy(io.Discard, resp.Body)
	})
	if !errors.Is(h.Err, ErrBodyTooLarge) {
		t.Fatalf("Handle: %v, want ErrBodyTooLarge", h.Err)
	}
	if n := called.Load(); n != 0 {
		t.Errorf("the handler ran %d times for a body whose Content-Length is over the cap; want it refused before, as Get refuses it (Get: %v)", n, gerr)
	}
	if h.Status != http.StatusOK {
		t.Errorf("Status = %d, want 200", h.Status)
	}
	// A HEAD's Content-Length describes no body: it is handed over.
	var heads []Handled[string, int64]
	for r := range HandleURLs(context.Background(), f, slices.Values([]string{srv.URL}), func(_ string, resp *http.Response) (int64, error) {
		return resp.ContentLength, nil
	}, Method(http.MethodHead)) {
		heads = append(heads, r)
	}
	if len(heads) != 1 || heads[0].Err != nil || heads[0].Value != 1<<20 {
		t.Errorf("HEAD: %+v; want the 1 MiB Content-Length handed over", heads)
	}
}

// A Handle input waiting for a host's slot held by a slow download ends
// at once when its context does; the download goes on.
func TestDownloadReviewCancelWhileWaitingBehindSlowBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &trickle{size: 100, chunk: 10, gap: time.Second}
		f, err := New(WithClient(&http.Client{Transport: tr}), WithHostConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		resp, err := f.Do(mustGet(t, "http://files.test/big"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan Handled[string, int64], 1)
		go func() {
			done <- handleOneURL(t, ctx, f, "http://files.test/small", func(_ string, resp *http.Response) (int64, error) {
				return io.Copy(io.Discard, resp.Body)
			})
		}()
		synctest.Wait()
		start := time.Now()
		cancel()
		h := <-done
		if !errors.Is(h.Err, context.Canceled) || time.Since(start) != 0 || h.Attempts != 0 {
			t.Errorf("waiting input: %v after %v, %d attempts; want context.Canceled at once, nothing sent", h.Err, time.Since(start), h.Attempts)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != 100 || err != nil {
			t.Errorf("the download: %d bytes, %v; want it whole", n, err)
		}
	})
}

// A body cut short part way is retried by Handle, from the start (no
// Range), and the handler's own copy sees the cut as io.ErrUnexpectedEOF.
func TestDownloadReviewHandleRetriesCutBodyFromStart(t *testing.T) {
	body := blob(1 << 20)
	var n atomic.Int32
	var ranges sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		ranges.Store(i, r.Header.Get("Range"))
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if i == 1 {
			w.Write(body[:300<<10])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	f, err := New(WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	var c copyTo
	h := handleOneURL(t, context.Background(), f, srv.URL, c.handle)
	if h.Err != nil {
		t.Fatalf("Handle: %v", h.Err)
	}
	if h.Attempts != 2 || len(c.attempts) != 2 {
		t.Fatalf("attempts = %d, handler runs = %d; want 2 and 2", h.Attempts, len(c.attempts))
	}
	if !errors.Is(c.errs[0], io.ErrUnexpectedEOF) {
		t.Errorf("first attempt's copy saw %v, want io.ErrUnexpectedEOF", c.errs[0])
	}
	if c.attempts[0] >= len(body) || h.Value != int64(len(body)) || !bytes.Equal(c.last.Bytes(), body) {
		t.Errorf("attempts wrote %v bytes; value %d; want a partial first and the whole %d bytes second", c.attempts, h.Value, len(body))
	}
	if r, _ := ranges.Load(int32(2)); r != "" {
		t.Errorf("retry sent Range %q; the library restarts from 0", r)
	}
}

// Memory while a big body streams through Handle or Do does not grow with
// its size.
func TestDownloadReviewStreamingMemoryFlat(t *testing.T) {
	const size = 32 << 20
	chunk := blob(64 << 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	f, err := New(WithMaxBodySize(1 << 40))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	measure := func(name string, run func() int64) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		n := run()
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d bytes read, %d bytes allocated", name, n, alloc)
		if n != size {
			t.Errorf("%s: read %d bytes, want %d", name, n, size)
		}
		if alloc > size/8 {
			t.Errorf("%s: allocated %d bytes for a %d-byte body: grows with the body", name, alloc, size)
		}
	}
	measure("Handle", func() int64 {
		h := handleOneURL(t, context.Background(), f, srv.URL, func(_ string, resp *http.Response) (int64, error) {
			return io.Copy(io.Discard, resp.Body)
		})
		if h.Err != nil {
			t.Error(h.Err)
		}
		return h.Value
	})
	measure("Do", func() int64 {
		resp, err := f.Do(mustGet(t, srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		n, _ := io.Copy(io.Discard, resp.Body)
		return n
	})
}

// Cancelling the context while a Handle handler is blocked reading a body
// that stalled returns promptly, with the context's error, and leaves no
// goroutine behind.
func TestDownloadReviewHandleCancelMidBody(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(1<<20))
		w.Write(blob(64 << 10))
		w.(http.Flusher).Flush()
		select { // stall
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	var once sync.Once
	var copyErr error
	h := handleOneURL(t, ctx, f, srv.URL, func(_ string, resp *http.Response) (int64, error) {
		buf := make([]byte, 32<<10)
		var n int64
		for {
			m, err := resp.Body.Read(buf)
			n += int64(m)
			if n > 0 {
				once.Do(func() { close(started); cancel() })
			}
			if err != nil {
				copyErr = err
				return n, err
			}
		}
	})
	<-started
	if !errors.Is(h.Err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", h.Err)
	}
	if errors.Is(h.Err, ErrAttemptTimeout) {
		t.Errorf("err %v matches ErrAttemptTimeout", h.Err)
	}
	if !errors.Is(copyErr, context.Canceled) {
		t.Logf("the handler's read saw %v", copyErr)
	}
	t.Logf("err: %v (handler read saw %v)", h.Err, copyErr)
	if err := f.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.CloseClientConnections()
	f.client.CloseIdleConnections()
	goleak.VerifyNone(t, goleak.IgnoreCurrent())
}

// trickle is a transport, for synctest bubbles, whose responses' bodies
// come chunk bytes every gap, size in all, honouring the request's context.
type trickle struct {
	size, chunk int
	gap         time.Duration
	stallAfter  int // if > 0, the body stalls (no more bytes) after this many bytes
	sent        atomic.Int32
}

func (tr *trickle) RoundTrip(req *http.Request) (*http.Response, error) {
	tr.sent.Add(1)
	return &http.Response{
		StatusCode:    200,
		Status:        "200 OK",
		Header:        http.Header{"Content-Length": {strconv.Itoa(tr.size)}},
		ContentLength: int64(tr.size),
		Body:          &trickleBody{tr: tr, ctx: req.Context()},
		Request:       req,
		ProtoMajor:    1, ProtoMinor: 1,
	}, nil
}

type trickleBody struct {
	tr   *trickle
	ctx  context.Context
	read int
}

func (b *trickleBody) Read(p []byte) (int, error) {
	if b.read >= b.tr.size {
		return 0, io.EOF
	}
	wait := b.tr.gap
	if b.tr.stallAfter > 0 && b.read >= b.tr.stallAfter {
		wait = time.Hour
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-b.ctx.Done():
		return 0, b.ctx.Err()
	case <-t.C:
	}
	n := min(len(p), b.tr.chunk, b.tr.size-b.read)
	b.read += n
	return n, nil
}

func (b *trickleBody) Close() error { return nil }

// WithAttemptTimeout bounds the whole download, body included: a body that
// keeps coming but takes longer than the timeout is cut, and Handle
// restarts it, from the start, until attempts run out. There is no way in
// the library to bound a stall rather than the total.
func TestDownloadReviewAttemptTimeoutCutsSteadyDownload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &trickle{size: 100, chunk: 10, gap: time.Second} // 10 s in all, never stalling
		f, err := New(WithClient(&http.Client{Transport: tr}), WithAttemptTimeout(5*time.Second),
			WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		var c copyTo
		h := handleOneURL(t, context.Background(), f, "http://files.test/big", c.handle)
		if !errors.Is(h.Err, ErrAttemptTimeout) {
			t.Fatalf("Handle: %v, want ErrAttemptTimeout", h.Err)
		}
		if h.Attempts != 3 || tr.sent.Load() != 3 {
			t.Errorf("attempts %d, sent %d; want 3 restarts", h.Attempts, tr.sent.Load())
		}
		t.Logf("Handle: %v; each attempt wrote %v bytes", h.Err, c.attempts)
		// The message says the body was coming when the time ran out, so
		// that the user knows to raise the timeout, not to blame the host.
		if !strings.Contains(h.Err.Error(), "while reading the response body") {
			t.Errorf("Handle: %q does not say the time ran out while the body was read", h.Err)
		}

		// Do: the body's reads fail once the attempt's time is up.
		resp, err := f.Do(mustGet(t, "http://files.test/big"))
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if !errors.Is(err, ErrAttemptTimeout) || n >= 100 {
			t.Errorf("Do: read %d bytes, %v; want a cut with ErrAttemptTimeout", n, err)
		}
		t.Logf("Do body read: %d bytes, %v", n, err)
		if err == nil || !strings.Contains(err.Error(), "while reading the response body") {
			t.Errorf("Do: %v does not say the time ran out while the body was read", err)
		}

		// A server that sends no header at all: the timeout is not the body's.
		hang := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			<-req.Context().Done()
			return nil, req.Context().Err()
		})
		g, err := New(WithClient(&http.Client{Transport: hang}), WithAttemptTimeout(5*time.Second),
			WithRetry(RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		defer g.Shutdown(context.Background())
		hh := handleOneURL(t, context.Background(), g, "http://files.test/big", c.handle)
		if !errors.Is(hh.Err, ErrAttemptTimeout) || strings.Contains(hh.Err.Error(), "body") {
			t.Errorf("no header: %v; want ErrAttemptTimeout not naming the body", hh.Err)
		}
	})
}

// A slow body from Do holds its host's slot (and InFlight) until it is
// closed; an early Close gives it back; a cancelled context makes the
// body's reads fail, and Close then gives the slot back.
func TestDownloadReviewDoBodyHoldsSlotUntilClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &trickle{size: 1 << 20, chunk: 1 << 10, gap: time.Second}
		f, err := New(WithClient(&http.Client{Transport: tr}), WithHostConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())

		second := func() chan error {
			done := make(chan error, 1)
			go func() {
				resp, err := f.Do(mustGet(t, "http://files.test/other"))
				if err == nil {
					resp.Body.Close()
				}
				done <- err
			}()
			return done
		}
		blocked := func(name string, done chan error) {
			synctest.Wait()
			select {
			case err := <-done:
				t.Fatalf("%s: the second Do went through (%v) while the first body was open", name, err)
			default:
			}
			if s := f.Stats(); s.InFlight != 1 || s.Waiting != 1 {
				t.Errorf("%s: Stats InFlight=%d Waiting=%d, want 1 and 1", name, s.InFlight, s.Waiting)
			}
		}

		// Early close.
		resp, err := f.Do(mustGet(t, "http://files.test/big"))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4<<10)
		io.ReadFull(resp.Body, buf)
		done := second()
		blocked("early close", done)
		resp.Body.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		// Context cancelled mid-body.
		ctx, cancel := context.WithCancel(context.Background())
		resp, err = f.Do(mustGet(t, "http://files.test/big").WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(resp.Body, buf)
		done = second()
		blocked("cancel", done)
		cancel()
		_, rerr := io.Copy(io.Discard, resp.Body)
		if !errors.Is(rerr, context.Canceled) {
			t.Errorf("read after cancel: %v, want context.Canceled", rerr)
		}
		resp.Body.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
			t.Errorf("after: Stats InFlight=%d Waiting=%d, want 0", s.InFlight, s.Waiting)
		}
	})
}

// Stats during a long Handle download: the attempt is in flight, a second
// request to the host waits.
func TestDownloadReviewStatsDuringLongHandle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &trickle{size: 100, chunk: 10, gap: time.Second}
		f, err := New(WithClient(&http.Client{Transport: tr}), WithHostConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		urls := []string{"http://files.test/a", "http://files.test/b"}
		done := make(chan []Handled[string, int64])
		go func() {
			var out []Handled[string, int64]
			for h := range HandleURLs(context.Background(), f, slices.Values(urls), func(_ string, resp *http.Response) (int64, error) {
				return io.Copy(io.Discard, resp.Body)
			}) {
				out = append(out, h)
			}
			done <- out
		}()
		time.Sleep(3 * time.Second) // fake time: part way through the first body
		synctest.Wait()
		s := f.Stats()
		t.Logf("mid-download: %+v", s)
		if s.InFlight != 1 || s.Waiting != 1 || s.Calls != 0 {
			t.Errorf("mid-download: InFlight=%d Waiting=%d Calls=%d, want 1, 1, 0", s.InFlight, s.Waiting, s.Calls)
		}
		out := <-done
		for _, h := range out {
			if h.Err != nil || h.Value != 100 {
				t.Errorf("%s: %d, %v", h.URL, h.Value, h.Err)
			}
		}
		if s := f.Stats(); s.InFlight != 0 || s.Calls != 2 || s.Succeeded != 2 {
			t.Errorf("after: %+v", s)
		}
	})
}

// A redirect to another host: the body holds the slot of the host that
// answered, not of the one first asked.
func TestDownloadReviewRedirectSlotOnAnsweringHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		body := &trickle{size: 1 << 20, chunk: 1 << 10, gap: time.Second}
		rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.URL.Host == "short.test" {
				return &http.Response{StatusCode: 302, Status: "302 Found", Request: req,
					Header: http.Header{"Location": {"http://cdn.test/file"}}, Body: http.NoBody}, nil
			}
			return body.RoundTrip(req)
		})
		f, err := New(WithClient(&http.Client{Transport: rt}), WithHostConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		resp, err := f.Do(mustGet(t, "http://short.test/x"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Request.URL.Host != "cdn.test" {
			t.Fatalf("final host %s", resp.Request.URL.Host)
		}
		// short.test's slot is free: another redirect from it goes through
		// as far as cdn.test's gates, where it waits.
		done := make(chan error, 1)
		go func() {
			r, err := f.Do(mustGet(t, "http://short.test/y"))
			if err == nil {
				r.Body.Close()
			}
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("second call ended (%v) while cdn.test's only slot was held", err)
		default:
		}
		resp.Body.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// A body cut short on every attempt: the error a user sees.
func TestDownloadReviewCutBodyErrorMessage(t *testing.T) {
	body := blob(1 << 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:300<<10])
		w.(http.Flusher).Flush()
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	f, err := New(WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	var c copyTo
	h := handleOneURL(t, context.Background(), f, srv.URL, c.handle)
	t.Logf("Handle: %v", h.Err)
	if h.Err == nil || !strings.Contains(h.Err.Error(), "reading the body: unexpected EOF after 307200 of 1048576 bytes") {
		t.Errorf("Handle: %q does not say the body was cut, nor where", h.Err)
	}
	if !errors.Is(h.Err, io.ErrUnexpectedEOF) || h.Attempts != 2 {
		t.Errorf("Handle: %v after %d attempts; want io.ErrUnexpectedEOF after 2", h.Err, h.Attempts)
	}
	_, gerr := f.Get(context.Background(), srv.URL)
	t.Logf("Get: %v", gerr)
	// A handler that swallows the cut is still not a success.
	h2 := handleOneURL(t, context.Background(), f, srv.URL, func(_ string, resp *http.Response) (int64, error) {
		n, _ := io.Copy(io.Discard, resp.Body)
		return n, nil
	})
	t.Logf("Handle, cut swallowed: %v", h2.Err)
	if !errors.Is(h2.Err, io.ErrUnexpectedEOF) {
		t.Errorf("Handle with the cut swallowed: %v; want io.ErrUnexpectedEOF", h2.Err)
	}
}
