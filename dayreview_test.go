package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// With WithAttemptTimeout and WithStallTimeout both set, a body that
// stalls under Do is a stall, not "attempt timed out after <the attempt
// timeout>": the attempt's time had not run out.
func TestDayReviewStallUnderDoNotAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		open := make(chan struct{})
		close(open)
		body := make(chan string, 1)
		body <- "a"
		f, err := New(WithClient(&http.Client{Transport: chunkTransport{head: open, body: body}}),
			WithAttemptTimeout(time.Hour), WithStallTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", "http://a.test/", nil)
		resp, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		start := time.Now()
		_, err = io.ReadAll(resp.Body)
		if !errors.Is(err, ErrAttemptTimeout) || time.Since(start) != time.Second {
			t.Fatalf("stalled body: %v after %v", err, time.Since(start))
		}
		if strings.Contains(err.Error(), "1h0m0s") || !strings.Contains(err.Error(), "stalled") {
			t.Errorf("stalled body under Do: %q; want it said as a stall of 1s, not an attempt timeout of 1h", err)
		}
	})
}

// A token function that panics must not take down the process or leave
// its slot held.
func TestDayReviewBearerTokenFuncPanics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var boom = true
	f, err := New(WithConcurrency(1), WithBearerTokenFunc(func(ctx context.Context) (string, error) {
		if boom {
			boom = false
			panic("token source broke")
		}
		return "t", nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Errorf("the token function's panic reached the caller: %v", v)
			}
		}()
		req, _ := http.NewRequest("GET", srv.URL, nil)
		resp, err := f.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Errorf("Do with a panicking token function: no error")
		} else if !errors.As(err, new(*PanicError)) {
			t.Errorf("Do with a panicking token function: %v; want a *PanicError", err)
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if r := f.Fetch(ctx, srv.URL); r.Err != nil {
		t.Errorf("the call after the panic: %v (its slot leaked?)", r.Err)
	}
}

// liarTransport answers with a short body under a huge Content-Length.
type liarTransport struct{ length int64 }

func (t liarTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, ContentLength: t.length, Header: http.Header{},
		Body: io.NopCloser(strings.NewReader("short")), Request: req}, nil
}

// MaxBodySize(-1) lifts the cap for a download: a server's Content-Length
// must not then size an allocation up front (one of 1<<40 is a fatal
// out-of-memory, one past the address space a panic), before a byte came.
func TestDayReviewUncappedBodyTrustsContentLength(t *testing.T) {
	f, err := New(WithClient(&http.Client{Transport: liarTransport{length: 1 << 62}}), WithRetry(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Fetch(t.Context(), "http://a.test/", MaxBodySize(-1))
	if r.Err == nil || errors.As(r.Err, new(*PanicError)) || !errors.Is(r.Err, io.ErrUnexpectedEOF) {
		t.Errorf("a 5-byte body under Content-Length 1<<62, uncapped: %v; want it cut short (unexpected EOF), not a panic", r.Err)
	}
}

// A body that stalls over HTTP/1 and HTTP/2 is a stall (ErrAttemptTimeout),
// retried, and the retry's whole body is the result.
func TestDayReviewStallRealServers(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		var n atomic.Int32
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			w.Write([]byte("head"))
			w.(http.Flusher).Flush()
			if n.Add(1) == 1 {
				<-r.Context().Done() // stalls until the client gives up
				// Not a return: the server would end the chunked body
				// properly (its close_notify answered over TLS), and the
				// client could read it as whole.
				panic(http.ErrAbortHandler)
			}
			w.Write([]byte("tail"))
			w.Header().Set("X-Sum", "ok")
		}))
		srv.EnableHTTP2 = h2
		srv.StartTLS()
		f, err := New(WithClient(srv.Client()), WithStallTimeout(100*time.Millisecond),
			WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		r := f.Fetch(t.Context(), srv.URL)
		if r.Err != nil || string(r.Body) != "headtail" || r.Attempts != 2 || r.Trailer.Get("X-Sum") != "ok" {
			t.Errorf("h2=%v: %q, %d attempts, trailer %v, %v; want the second attempt's whole body", h2, r.Body, r.Attempts, r.Trailer, r.Err)
		}
		srv.Close()
	}
}

// cutTransport answers each request with body, then err.
type cutTransport struct {
	n    *atomic.Int32
	body string
	err  error
	cl   int64
}

type cutReader struct {
	s   *strings.Reader
	err error
}

func (r *cutReader) Read(p []byte) (int, error) {
	n, _ := r.s.Read(p)
	if n == 0 {
		return 0, r.err
	}
	return n, nil
}

func (t cutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return &http.Response{StatusCode: 200, ContentLength: t.cl, Header: http.Header{}, Request: req,
		Body: io.NopCloser(&cutReader{strings.NewReader(t.body), t.err})}, nil
}

// GetJSON: a body cut short is the body's failure, retried, said with how
// far it got; MaxBodySize caps it in place of the Fetcher's cap.
func TestDayReviewGetJSONBody(t *testing.T) {
	var n atomic.Int32
	f, err := New(WithClient(&http.Client{Transport: cutTransport{&n, `{"a":`, io.ErrUnexpectedEOF, 20}}),
		WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = GetJSON[map[string]int](t.Context(), f, "http://a.test/")
	if !errors.Is(err, io.ErrUnexpectedEOF) || n.Load() != 2 || !strings.Contains(err.Error(), "after 5 of 20 bytes") {
		t.Errorf("cut JSON: %v after %d attempts; want unexpected EOF after 5 of 20 bytes, retried", err, n.Load())
	}
	var m atomic.Int32
	f, err = New(WithClient(&http.Client{Transport: cutTransport{&m, `{"a":1}      `, io.EOF, -1}}), WithMaxBodySize(3))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := GetJSON[map[string]int](t.Context(), f, "http://a.test/", MaxBodySize(100)); err != nil || v["a"] != 1 {
		t.Errorf("GetJSON with MaxBodySize(100) over a Fetcher cap of 3: %v, %v", v, err)
	}
	if _, err := GetJSON[map[string]int](t.Context(), f, "http://a.test/"); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("GetJSON under a Fetcher cap of 3: %v; want ErrBodyTooLarge", err)
	}
}

type idleCounter struct {
	http.RoundTripper
	closed *atomic.Int32
}

func (t idleCounter) CloseIdleConnections() { t.closed.Add(1) }

// Shutdown closes a WithTransportWrapper wrapper's idle connections, as it
// does without WithStallTimeout: the stall's own wrapper passes it on.
func TestDayReviewStallPassesCloseIdle(t *testing.T) {
	var closed atomic.Int32
	f, err := New(WithStallTimeout(time.Second), WithTransportWrapper(func(rt http.RoundTripper) http.RoundTripper {
		return idleCounter{rt, &closed}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if closed.Load() != 1 {
		t.Errorf("the wrapper's CloseIdleConnections ran %d times at Shutdown; want 1", closed.Load())
	}
}

// Edges that must keep working: HEAD, 204 and an empty body under
// WithStallTimeout; the token over a same-host redirect with a cookie jar,
// asked afresh on a retry.
func TestDayReviewEdges(t *testing.T) {
	var auth []string
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/empty":
			w.Header().Set("Content-Length", "0")
		case "/none":
			w.WriteHeader(http.StatusNoContent)
		case "/hop":
			auth = append(auth, r.Header.Get("Authorization"))
			if n.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			http.Redirect(w, r, "/there", http.StatusFound)
		case "/there":
			auth = append(auth, r.Header.Get("Authorization"))
		default:
			w.Header().Set("Content-Length", "5")
			w.Write([]byte("hello"))
		}
	}))
	defer srv.Close()
	cj, _ := cookiejar.New(nil)
	jar := &http.Client{Jar: cj}
	var tok atomic.Int32
	f, err := New(WithClient(jar), WithStallTimeout(time.Second), WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}),
		WithBearerTokenFunc(func(context.Context) (string, error) { return string(rune('a' + tok.Add(1))), nil }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, p := range []string{"/empty", "/none", "/five"} {
		if r := f.Fetch(ctx, srv.URL+p); r.Err != nil {
			t.Errorf("%s: %v", p, r.Err)
		}
		if r := f.Fetch(ctx, srv.URL+p, Method("HEAD")); r.Err != nil || len(r.Body) != 0 {
			t.Errorf("HEAD %s: %q, %v", p, r.Body, r.Err)
		}
	}
	tok.Store(0)
	if r := f.Fetch(ctx, srv.URL+"/hop"); r.Err != nil {
		t.Fatal(r.Err)
	}
	if want := []string{"Bearer b", "Bearer c", "Bearer c"}; !slices.Equal(auth, want) {
		t.Errorf("Authorization sent: %q; want %q", auth, want)
	}
}
