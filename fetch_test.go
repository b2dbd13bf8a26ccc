package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

func TestDoReturnsFinalResponseAfterRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(2, http.StatusServiceUnavailable, nil))
		f := newMem(t, c)
		resp, err := f.Do(mustGet(t, "http://a.test/x"))
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok" {
			t.Errorf("got %d %q; want 200 \"ok\"", resp.StatusCode, body)
		}
		if got := c.n.Load(); got != 3 {
			t.Errorf("server saw %d requests; want 3", got)
		}
		if s := f.Stats(); s.Retries != 2 || s.Succeeded != 1 || s.Calls != 1 || s.Attempts != 3 || s.InFlight != 0 {
			t.Errorf("Stats = %+v; want 1 call succeeded after 3 attempts, 2 retries, none in flight", s)
		}
	})
}

func TestDoNon2xxIsNotAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, failing(100, http.StatusNotFound, nil))
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("status = %d; want 404", resp.StatusCode)
		}
	})
}

// The in-flight slot is held until the caller closes the body or reads it
// to EOF, so "in flight" means on the wire.
func TestBodyHoldsSlotUntilClosedOrEOF(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithConcurrency(1))
		resp, err := f.Do(mustGet(t, "http://a.test/1"))
		if err != nil {
			t.Fatal(err)
		}
		if s := f.Stats(); s.InFlight != 1 {
			t.Errorf("InFlight with body open = %d; want 1", s.InFlight)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = f.Do(mustGet(t, "http://a.test/2").WithContext(ctx))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("second Do with body open: err = %v; want deadline exceeded", err)
		}
		io.ReadAll(resp.Body) // EOF frees the slot
		resp2, err := f.Do(mustGet(t, "http://a.test/3"))
		if err != nil {
			t.Fatalf("Do after EOF: %v", err)
		}
		resp2.Body.Close()
		resp.Body.Close() // closing after EOF is harmless
		if s := f.Stats(); s.InFlight != 0 {
			t.Errorf("InFlight after close = %d; want 0", s.InFlight)
		}
	})
}

func TestGetReturnsBodyAndStatusError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("/ok", ok)
		mux.HandleFunc("/missing", http.NotFound)
		mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		})
		f := newMem(t, mux, WithRetry(RetryPolicy{MaxAttempts: 2}))
		ctx := context.Background()
		body, err := f.Get(ctx, "http://a.test/ok")
		if err != nil || string(body) != "ok" {
			t.Errorf("Get /ok = %q, %v; want \"ok\", nil", body, err)
		}
		_, err = f.Get(ctx, "http://a.test/missing")
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 404 {
			t.Errorf("Get /missing: err = %v; want *StatusError 404", err)
		}
		_, err = f.Get(ctx, "http://a.test/busy")
		var fe *Error
		if !errors.As(err, &se) || se.StatusCode != 429 || se.RetryAfter != 2*time.Second {
			t.Errorf("Get /busy: err = %v; want *StatusError 429 with RetryAfter 2s", err)
		}
		if !errors.As(err, &fe) || fe.Attempts != 2 {
			t.Errorf("Get /busy: err = %v; want *Error with 2 attempts", err)
		}
	})
}

func TestGetJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("/item", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"id": 7, "name": "seven"}`)
		})
		mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"id":`) })
		f := newMem(t, mux)
		type item struct {
			ID   int
			Name string
		}
		got, err := GetJSON[item](context.Background(), f, "http://a.test/item")
		if err != nil || got != (item{7, "seven"}) {
			t.Errorf("GetJSON = %+v, %v; want {7 seven}, nil", got, err)
		}
		if _, err := GetJSON[item](context.Background(), f, "http://a.test/bad"); err == nil {
			t.Errorf("GetJSON of truncated JSON: err = nil; want a decoding error")
		}
	})
}

func TestBodyTooLarge(t *testing.T) {
	big := strings.Repeat("x", 100)
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"with Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, big)
		}},
		{"without Content-Length", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, big) // the recorder sets no Content-Length
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(tc.handler)
				f := newMem(t, c, WithMaxBodySize(99))
				body, err := f.Get(context.Background(), "http://a.test/")
				if !errors.Is(err, ErrBodyTooLarge) || body != nil {
					t.Errorf("Get = %d bytes, %v; want nil, ErrBodyTooLarge", len(body), err)
				}
				if c.n.Load() != 1 {
					t.Errorf("server saw %d requests; want 1 (never retried)", c.n.Load())
				}
				f2 := newMem(t, c, WithMaxBodySize(100))
				if body, err := f2.Get(context.Background(), "http://a.test/"); err != nil || len(body) != 100 {
					t.Errorf("Get at exactly the cap = %d bytes, %v; want 100, nil", len(body), err)
				}
			})
		})
	}
}

func TestAttemptTimeoutIsRetriedAndDistinguishable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				<-r.Context().Done() // the first attempt hangs
				return
			}
			w.Write([]byte("ok"))
		}), WithAttemptTimeout(time.Second))
		start := time.Now()
		body, err := f.Get(context.Background(), "http://a.test/")
		if err != nil || string(body) != "ok" {
			t.Fatalf("Get = %q, %v; want \"ok\" after a retry", body, err)
		}
		if n.Load() != 2 || time.Since(start) < time.Second {
			t.Errorf("%d attempts in %v; want 2, the first timing out at 1s", n.Load(), time.Since(start))
		}

		// Every attempt hangs: the error says attempt timeout, not the
		// caller's deadline.
		hang := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }),
			WithAttemptTimeout(time.Second), WithRetry(RetryPolicy{MaxAttempts: 2}))
		_, err = hang.Get(context.Background(), "http://a.test/")
		if !errors.Is(err, ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v; want ErrAttemptTimeout and DeadlineExceeded", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err = hang.Get(ctx, "http://a.test/")
		if errors.Is(err, ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("overall deadline: err = %v; want DeadlineExceeded only", err)
		}
	})
}

func TestShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		// With a body open, Shutdown waits, bounded by its context.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := f.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown with a body open = %v; want DeadlineExceeded", err)
		}
		if _, err := f.Do(mustGet(t, "http://a.test/")); !errors.Is(err, ErrClosed) {
			t.Errorf("Do after Shutdown: err = %v; want ErrClosed", err)
		}
		done := make(chan error)
		go func() { done <- f.Shutdown(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v before the body was closed", err)
		default:
		}
		resp.Body.Close()
		if err := <-done; err != nil {
			t.Errorf("Shutdown after the body closed = %v; want nil", err)
		}
	})
}

func TestInvalidInputCostsNoNetworkCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c)
		for _, u := range []string{"file:///etc/passwd", "example.com/x", "http://", "ftp://h/", "http://u:secret@[::1/", "http://a\x7fb/", "http://a/\r\nX: y", "http://h:0/", "http://h:65536/"} {
			_, err := f.Get(context.Background(), u)
			if !errors.Is(err, ErrInvalidURL) {
				t.Errorf("Get(%q): err = %v; want ErrInvalidURL", u, err)
			}
		}
		if _, err := f.Do(nil); !errors.Is(err, errNilRequest) || err.Error() != "fetch: nil *http.Request" {
			t.Errorf("Do(nil): err = %v; want errNilRequest, said once", err)
		}
		//lint:ignore SA1012 the nil context is what is tested
		if _, err := f.Get(nil, "http://a.test/"); err == nil {
			t.Errorf("Get(nil ctx): err = nil; want an error")
		}
		//lint:ignore SA1012 the nil context is what is tested
		rs, err := f.GetAllFailFast(nil, []string{"http://a.test/"})
		if _, ok := err.(*Error); !ok || len(rs) != 1 || rs[0].Err != err || err.Error() != "fetch: nil context" {
			t.Errorf("GetAllFailFast(nil ctx): %v (%T), results %v; want a *Error saying nil context, in each result too", err, err, rs)
		}
		if c.n.Load() != 0 {
			t.Errorf("server saw %d requests; want 0", c.n.Load())
		}
	})
}

func TestErrorRedactsPassword(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, failing(100, 500, nil), WithRetry(RetryPolicy{MaxAttempts: 1}))
		_, err := f.Get(context.Background(), "http://user:hunter2@a.test/")
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("err = %v; want an error without the password", err)
		}
	})
}

func TestOptionsOutOfRange(t *testing.T) {
	for name, opt := range map[string]Option{
		"concurrency 0":          WithConcurrency(0),
		"concurrency 1e9":        WithConcurrency(1e9), // a worker each: out of memory before anything is sent
		"negative MaxRetryAfter": WithRetry(RetryPolicy{MaxRetryAfter: -1}),
		"host concurrency -1":    WithHostConcurrency(-1),
		"rate 0":                 WithRate(0, 1),
		"burst 0":                WithRate(10, 0),
		"host burst 0":           WithHostRate(10, 0),
		"attempt timeout 0":      WithAttemptTimeout(0),
		"body size 0":            WithMaxBodySize(0),
		"redirects -1":           WithMaxRedirects(-1),
		"nil client":             WithClient(nil),
		"nil limiter":            WithLimiter(nil),
		"negative attempts":      WithRetry(RetryPolicy{MaxAttempts: -1}),
		"max below base":         WithRetry(RetryPolicy{BaseDelay: time.Second, MaxDelay: time.Millisecond}),
		"unknown jitter":         WithRetry(RetryPolicy{Jitter: 9}),
	} {
		if f, err := New(opt); err == nil || f != nil {
			t.Errorf("New(%s) = %v, %v; want nil and an error", name, f, err)
		}
	}
}

// Connections are reused across retries and across requests: the server
// sees one new connection for sequential requests, some of them retried.
func TestConnectionsReused(t *testing.T) {
	var n atomic.Int64
	srv, newConns := countingServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%3 != 0 { // two failures with a body, then success
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, strings.Repeat("e", 1000))
			return
		}
		io.WriteString(w, "ok")
	}))
	f, err := New(WithRetry(RetryPolicy{BaseDelay: time.Microsecond, MaxDelay: time.Microsecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	for i := range 10 {
		if _, err := f.Get(t.Context(), srv.URL); err != nil {
			t.Fatalf("Get %d: %v", i, err)
		}
	}
	if n.Load() != 30 || newConns.Load() != 1 {
		t.Errorf("%d requests over %d connections; want 30 over 1", n.Load(), newConns.Load())
	}
}

// With concurrency c, concurrent requests keep at most c connections.
func TestConnectionsBoundedByConcurrency(t *testing.T) {
	srv, newConns := countingServer(t, "127.0.0.1:0", http.HandlerFunc(ok))
	f, err := New(WithConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	urls := make([]string, 400)
	for i := range urls {
		urls[i] = srv.URL
	}
	for _, r := range f.GetAll(t.Context(), urls) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if got := newConns.Load(); got > 4 {
		t.Errorf("%d connections for 400 requests at concurrency 4; want at most 4", got)
	}
}

func TestConnectionRefusedIsRetriedAndMatchable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var attempts atomic.Int64
	f, err := New(WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Microsecond, MaxDelay: time.Microsecond}),
		WithHooks(Hooks{OnAttempt: func(AttemptInfo) { attempts.Add(1) }}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	_, err = f.Get(t.Context(), "http://"+addr+"/")
	var fe *Error
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &fe) || fe.Attempts != 3 {
		t.Errorf("err = %v; want ECONNREFUSED after 3 attempts", err)
	}
	if attempts.Load() != 3 {
		t.Errorf("OnAttempt ran %d times; want 3", attempts.Load())
	}
	if !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("err = %q; want it to say how many attempts were made", err)
	}
}

func TestTooManyRedirectsNotRetried(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Redirect(w, r, "/", http.StatusFound)
	}))
	defer srv.Close()
	f, err := New(WithMaxRedirects(3))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	_, err = f.Get(t.Context(), srv.URL)
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Errorf("err = %v; want ErrTooManyRedirects", err)
	}
	if n.Load() != 4 {
		t.Errorf("server saw %d requests; want 4 (1 + 3 redirects, no retry)", n.Load())
	}
}

func TestLoggerRedactsAndIsSilentByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf strings.Builder
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		f := newMem(t, failing(1, 503, nil), WithLogger(logger))
		if _, err := f.Get(context.Background(), "http://user:hunter2@a.test/"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "fetch: retrying") || strings.Contains(buf.String(), "hunter2") {
			t.Errorf("log = %q; want a retry logged without the password", buf.String())
		}
	})
}

// closeCounter is a RoundTripper shared with the Fetcher by its caller.
type closeCounter struct {
	http.RoundTripper
	closes atomic.Int64
}

func (c *closeCounter) CloseIdleConnections() { c.closes.Add(1) }

func TestSharedTransportNeverClosed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(ok))
	defer srv.Close()
	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	rt := &closeCounter{RoundTripper: base}
	f, err := New(WithClient(&http.Client{Transport: rt}), WithRetry(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	f.Get(t.Context(), srv.URL)
	f.Get(t.Context(), "http://127.0.0.1:1/") // a failure gives up
	if err := f.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := rt.closes.Load(); n != 0 {
		t.Errorf("CloseIdleConnections called %d times on the caller's transport; want 0", n)
	}
}

// A panicking hook fails its call with a *PanicError and leaks nothing: the
// Fetcher shuts down with nothing in flight.
func TestPanickingHookFailsTheCallOnly(t *testing.T) {
	for name, hooks := range map[string]Hooks{
		"OnAttempt": {OnAttempt: func(AttemptInfo) { panic("attempt hook") }},
		"OnRetry":   {OnRetry: func(RetryInfo) { panic("retry hook") }},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newMem(t, failing(1, 503, nil), WithHooks(hooks), WithConcurrency(1), WithHostConcurrency(1))
				_, err := f.Get(context.Background(), "http://a.test/")
				var pe *PanicError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v; want a *PanicError", err)
				}
				if s := f.Stats(); s.InFlight != 0 || s.Failed.Total() != 1 {
					t.Errorf("Stats = %+v; want nothing in flight, 1 failed", s)
				}
				if err := f.Shutdown(context.Background()); err != nil {
					t.Errorf("Shutdown = %v; want nil (nothing left registered)", err)
				}
			})
		})
	}
}

// An internationalised host name is accepted and dialled in its ASCII
// (punycode) form, as net/http does.
func TestIDNHost(t *testing.T) {
	var dialled atomic.Value
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialled.Store(addr)
		return nil, errors.New("no network in tests")
	}
	f, err := New(WithClient(&http.Client{Transport: tr}), WithRetry(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(t.Context(), "http://bücher.example/"); errors.Is(err, ErrInvalidURL) {
		t.Fatalf("IDN host rejected: %v", err)
	}
	if got := dialled.Load(); got != "xn--bcher-kva.example:80" {
		t.Errorf("dialled %v; want xn--bcher-kva.example:80", got)
	}
}

// The client New builds reads a connection 32 KiB at a time, so that a
// response of up to about that size, headers and body, takes one read.
func TestClientReadsWithLargeBuffer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 16<<10))
	}))
	defer srv.Close()
	var largest atomic.Int64
	f, err := New(withConnRead(func(n int) {
		for {
			m := largest.Load()
			if int64(n) <= m || largest.CompareAndSwap(m, int64(n)) {
				return
			}
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	if _, err := f.Get(t.Context(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if got := largest.Load(); got < readBufferSize {
		t.Errorf("largest read asked for %d bytes; want at least %d", got, readBufferSize)
	}
}

// TestFetchSaysWhereTheBodyCameFrom: Fetch returns the final URL after
// redirects with the body, status and header.
func TestFetchSaysWhereTheBodyCameFrom(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "http://b.test/new", http.StatusMovedPermanently)
			return
		}
		w.Header().Set("X-Served-By", r.URL.Host)
		w.Write([]byte("new"))
	})
	f := newMem(t, h)
	r := f.Fetch(t.Context(), "http://a.test/old")
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if r.URL != "http://a.test/old" || r.FinalURL != "http://b.test/new" || r.Status != 200 ||
		string(r.Body) != "new" || r.Header.Get("X-Served-By") != "b.test" || r.Attempts != 1 {
		t.Errorf("Fetch = %+v; want URL a.test/old, FinalURL b.test/new, 200, body \"new\" from b.test, 1 attempt", r)
	}
}
