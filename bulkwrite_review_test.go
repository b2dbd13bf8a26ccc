package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// bulkBody is a request body that counts its Close calls.
type bulkBody struct {
	io.Reader
	closes atomic.Int32
}

func (b *bulkBody) Close() error { b.closes.Add(1); return nil }

func newBulkBody(s string) *bulkBody { return &bulkBody{Reader: strings.NewReader(s)} }

// A request never sent because WithBearerTokenFunc failed still has its
// body closed, as Do promises for every request that is never sent: a
// bulk upload whose token service is down must not leak its open files.
func TestBulkReviewBearerFailureClosesBody(t *testing.T) {
	tokenErr := errors.New("token service down")
	t.Run("first attempt", func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithBearerTokenFunc(func(context.Context) (string, error) {
			return "", tokenErr
		}))
		body := newBulkBody(`{"id":1}`)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://api.test/records", body)
		resp, err := f.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatal("Do succeeded; want the token's error")
		}
		if !errors.Is(err, tokenErr) {
			t.Errorf("err = %v; want the token's error", err)
		}
		if got := body.closes.Load(); got != 1 {
			t.Errorf("body closed %d times; want 1", got)
		}
	})
	t.Run("retry", func(t *testing.T) {
		var calls atomic.Int32
		f := newMem(t, failing(1, http.StatusServiceUnavailable, nil),
			WithRetry(RetryPolicy{BaseDelay: 1, MaxDelay: 1}),
			WithBearerTokenFunc(func(context.Context) (string, error) {
				if calls.Add(1) > 1 {
					return "", tokenErr
				}
				return "t", nil
			}))
		var bodies []*bulkBody
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://api.test/records/1", nil)
		req.GetBody = func() (io.ReadCloser, error) {
			b := newBulkBody(`{"id":1}`)
			bodies = append(bodies, b)
			return b, nil
		}
		req.Body, _ = req.GetBody()
		req.ContentLength = int64(len(`{"id":1}`))
		resp, err := f.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatal("Do succeeded; want the token's error")
		}
		if len(bodies) != 2 {
			t.Fatalf("GetBody called %d times; want 2", len(bodies))
		}
		for i, b := range bodies {
			if got := b.closes.Load(); got != 1 {
				t.Errorf("body %d closed %d times; want 1", i, got)
			}
		}
	})
}

// seenRequest is what a server received of one request.
type seenRequest struct {
	method, key string
	length      int64
	body        []byte
}

// dropFirst is a loopback server that reads the first request it gets in
// full and then resets the connection without answering (the drop after
// the body was written), and answers 201 to the rest. It records every
// request it read.
func dropFirst(t *testing.T) (*httptest.Server, func() []seenRequest) {
	var (
		mu   sync.Mutex
		seen []seenRequest
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		mu.Lock()
		seen = append(seen, seenRequest{r.Method, r.Header.Get("Idempotency-Key"), r.ContentLength, b})
		first := len(seen) == 1
		mu.Unlock()
		if first {
			hijackReset(w)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seenRequest {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// A connection reset after the whole body was written retries a PUT, and a
// POST with an Idempotency-Key, each attempt sending the whole body with
// its Content-Length; a POST without one is sent once, never again.
func TestBulkReviewDropAfterBodyWritten(t *testing.T) {
	payload := bytes.Repeat([]byte(`{"name":"record","n":12345}`), 10000) // 270 KB: past any socket buffer
	for _, tc := range []struct {
		name, method, key string
		want              int // requests the server reads
	}{
		{"PUT", http.MethodPut, "", 2},
		{"PATCH with key", http.MethodPatch, "k-1", 2},
		{"POST with key", http.MethodPost, "k-2", 2},
		{"POST", http.MethodPost, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, seen := dropFirst(t)
			f, err := New(WithRetry(RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+"/records", bytes.NewReader(payload))
			if tc.key != "" {
				req.Header.Set("Idempotency-Key", tc.key)
			}
			resp, err := f.Do(req)
			got := seen()
			if len(got) != tc.want {
				t.Fatalf("server read %d requests; want %d", len(got), tc.want)
			}
			for i, r := range got {
				if r.method != tc.method || r.key != tc.key || r.length != int64(len(payload)) || !bytes.Equal(r.body, payload) {
					t.Errorf("request %d: %s key %q, Content-Length %d, %d body bytes (equal: %v); want %s key %q, %d bytes, equal",
						i+1, r.method, r.key, r.length, len(r.body), bytes.Equal(r.body, payload), tc.method, tc.key, len(payload))
				}
			}
			if tc.want == 1 {
				if err == nil {
					resp.Body.Close()
					t.Fatal("Do succeeded; want the reset's error")
				}
				if n := attemptsOf(t, err); n != 1 {
					t.Errorf("Attempts = %d; want 1", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("status = %d; want 201", resp.StatusCode)
			}
		})
	}
}

// bulkRequests returns n POST requests to api.test, half with a body
// GetBody can replay (every body it makes is recorded too), half with one
// it cannot, and a func that reports every body not closed exactly once.
func bulkRequests(t *testing.T, n int) ([]*http.Request, func() []string) {
	var (
		mu     sync.Mutex
		bodies []*bulkBody
		names  []string
	)
	track := func(name string, b *bulkBody) *bulkBody {
		mu.Lock()
		defer mu.Unlock()
		bodies, names = append(bodies, b), append(names, name)
		return b
	}
	reqs := make([]*http.Request, n)
	for i := range reqs {
		name := fmt.Sprintf("request %d", i)
		reqs[i], _ = http.NewRequest(http.MethodPost, fmt.Sprintf("http://api.test/records/%d", i), track(name, newBulkBody(`{}`)))
		reqs[i].ContentLength = 2
		if i%2 == 0 {
			reqs[i].GetBody = func() (io.ReadCloser, error) { return track(name+" (GetBody)", newBulkBody(`{}`)), nil }
		}
	}
	return reqs, func() []string {
		mu.Lock()
		defer mu.Unlock()
		var bad []string
		for i, b := range bodies {
			if c := b.closes.Load(); c != 1 {
				bad = append(bad, fmt.Sprintf("%s closed %d times", names[i], c))
			}
		}
		return bad
	}
}

// Every request body given to DoAllFailFast and StreamRequests is closed
// exactly once, those a failure or an early break leaves unsent included.
func TestBulkReviewBodiesClosedOnce(t *testing.T) {
	first := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/records/0" {
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}
	t.Run("DoAllFailFast", func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(first), WithConcurrency(1))
		reqs, badly := bulkRequests(t, 40)
		if _, err := f.DoAllFailFast(t.Context(), reqs); err == nil {
			t.Fatal("DoAllFailFast: no error; want the 422")
		}
		if bad := badly(); len(bad) > 0 {
			t.Errorf("bodies not closed once: %v", bad)
		}
	})
	t.Run("DoAll cancelled", func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(first), WithConcurrency(2))
		reqs, badly := bulkRequests(t, 40)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, r := range f.DoAll(ctx, reqs) {
			if !errors.Is(r.Err, context.Canceled) {
				t.Errorf("result %d: err = %v; want context.Canceled", r.Index, r.Err)
			}
		}
		if bad := badly(); len(bad) > 0 {
			t.Errorf("bodies not closed once: %v", bad)
		}
	})
	t.Run("StreamRequests break", func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(first), WithConcurrency(2), WithReadAhead(8))
		reqs, badly := bulkRequests(t, 40)
		done := make(chan struct{})
		var yielded atomic.Int32
		in := func(yield func(*http.Request) bool) {
			defer close(done)
			for _, r := range reqs {
				yielded.Add(1)
				if !yield(r) {
					return
				}
			}
		}
		for range f.StreamRequests(t.Context(), in) {
			break
		}
		<-done // the reader ends at the input's next yield
		if bad := badly(); len(bad) > 0 {
			n := int(yielded.Load())
			// Bodies of requests never yielded are the caller's.
			var mine []string
			for _, b := range bad {
				var i int
				fmt.Sscanf(b, "request %d", &i)
				if i < n {
					mine = append(mine, b)
				}
			}
			if len(mine) > 0 {
				t.Errorf("bodies of yielded requests not closed once: %v", mine)
			}
		}
	})
}

// A 307 or 308 resends the method and the whole body, with its
// Content-Length; a 301, 302 or 303 turns a POST into a GET without a
// body, as net/http does; and a body that cannot be replayed is not
// followed, the 307 itself being the answer.
func TestBulkReviewRedirectBodies(t *testing.T) {
	payload := `{"id":7,"name":"x"}`
	for _, tc := range []struct {
		code       int
		replayable bool
		wantMethod string
		wantBody   string
		wantStatus int
	}{
		{http.StatusTemporaryRedirect, true, http.MethodPost, payload, http.StatusCreated},
		{http.StatusPermanentRedirect, true, http.MethodPost, payload, http.StatusCreated},
		{http.StatusFound, true, http.MethodGet, "", http.StatusCreated},
		{http.StatusSeeOther, true, http.MethodGet, "", http.StatusCreated},
		{http.StatusTemporaryRedirect, false, "", "", http.StatusTemporaryRedirect},
	} {
		t.Run(fmt.Sprintf("%d replayable=%v", tc.code, tc.replayable), func(t *testing.T) {
			var got *seenRequest
			f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if r.URL.Path == "/old" {
					http.Redirect(w, r, "/new", tc.code)
					return
				}
				got = &seenRequest{method: r.Method, length: r.ContentLength, body: b}
				w.WriteHeader(http.StatusCreated)
			}))
			var body io.Reader = strings.NewReader(payload)
			if !tc.replayable {
				body = io.MultiReader(body) // no GetBody
			}
			req, _ := http.NewRequest(http.MethodPost, "http://api.test/old", body)
			req.ContentLength = int64(len(payload))
			r := f.DoAll(t.Context(), []*http.Request{req})[0]
			if r.Status != tc.wantStatus {
				t.Fatalf("status = %d (err %v); want %d", r.Status, r.Err, tc.wantStatus)
			}
			if tc.wantMethod == "" {
				if got != nil {
					t.Errorf("redirect followed with %s and %d bytes; want it not followed", got.method, len(got.body))
				}
				return
			}
			if got == nil {
				t.Fatal("redirect not followed")
			}
			if got.method != tc.wantMethod || string(got.body) != tc.wantBody || got.length != int64(len(tc.wantBody)) {
				t.Errorf("redirected request: %s, Content-Length %d, body %q; want %s, %d, %q",
					got.method, got.length, got.body, tc.wantMethod, len(tc.wantBody), tc.wantBody)
			}
		})
	}
}

// A 429 with Retry-After: a POST with an Idempotency-Key is sent again,
// whole, once the wait is over and not before; one without is not sent
// again, and its error carries the API's error JSON and the wait.
func TestBulkReviewRetryAfterPOST(t *testing.T) {
	const apiErr = `{"error":"rate_limited","detail":"slow down"}`
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var arrivals []time.Duration
		var bodies []string
		start := time.Now()
		var n atomic.Int32
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			arrivals, bodies = append(arrivals, time.Since(start)), append(bodies, string(b))
			mu.Unlock()
			if n.Add(1) == 1 || r.Header.Get("Idempotency-Key") == "" {
				w.Header().Set("Retry-After", "7")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, apiErr)
				return
			}
			w.WriteHeader(http.StatusCreated)
		}))
		post := func(key string) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, "http://api.test/records", strings.NewReader(`{"id":1}`))
			if key != "" {
				req.Header.Set("Idempotency-Key", key)
			}
			return req
		}
		r := f.DoAll(t.Context(), []*http.Request{post("k1")})[0]
		if r.Err != nil || r.Status != http.StatusCreated || r.Attempts != 2 {
			t.Fatalf("keyed POST: status %d, %d attempts, err %v; want 201, 2, nil", r.Status, r.Attempts, r.Err)
		}
		if len(arrivals) != 2 || arrivals[1]-arrivals[0] != 7*time.Second || bodies[1] != `{"id":1}` {
			t.Fatalf("arrivals %v, bodies %q; want the retry 7s later with the same body", arrivals, bodies)
		}

		r = f.DoAll(t.Context(), []*http.Request{post("")})[0]
		var se *StatusError
		if !errors.As(r.Err, &se) {
			t.Fatalf("unkeyed POST: err = %v; want a *StatusError", r.Err)
		}
		if se.StatusCode != http.StatusTooManyRequests || string(se.Body) != apiErr || se.RetryAfter != 7*time.Second || r.Attempts != 1 {
			t.Errorf("unkeyed POST: %d, body %q, RetryAfter %v, %d attempts; want 429, %q, 7s, 1",
				se.StatusCode, se.Body, se.RetryAfter, r.Attempts, apiErr)
		}
		if len(arrivals) != 3 {
			t.Errorf("server saw %d requests; want 3 (the unkeyed POST once)", len(arrivals))
		}
	})
}

// pipeNet is an in-memory network for a real http.Transport and
// http.Server inside a synctest bubble: net.Pipe connections, whose reads
// and writes block durably, so the bubble's clock advances past them.
type pipeNet struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeNet() *pipeNet {
	return &pipeNet{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (p *pipeNet) Accept() (net.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.closed:
		return nil, net.ErrClosed
	}
}

func (p *pipeNet) Close() error   { p.once.Do(func() { close(p.closed) }); return nil }
func (p *pipeNet) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

func (p *pipeNet) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	srv, cli := net.Pipe()
	select {
	case p.conns <- srv:
		return cli, nil
	case <-p.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// slowUpload is an upload that keeps going: a chunk of 1 KiB every gap.
type slowUpload struct {
	chunks int
	gap    time.Duration
}

func (b *slowUpload) Read(p []byte) (int, error) {
	if b.chunks == 0 {
		return 0, io.EOF
	}
	time.Sleep(b.gap) // the bubble's clock: an upload that takes its time
	b.chunks--
	return copy(p, bytes.Repeat([]byte("x"), min(len(p), 1024))), nil
}

func (b *slowUpload) Close() error { return nil }

// An upload that keeps going is no stall (WithStallTimeout), also when
// net/http sends it again by itself, its body rewound through GetBody, on
// a new connection after a kept-alive one died under it.
func TestBulkReviewStallUploadResent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		var uploads atomic.Int32
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			if r.URL.Path == "/upload" && uploads.Add(1) == 1 {
				// The kept-alive connection dies as the request was sent.
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
			if r.URL.Path == "/upload" && n != 10<<10 {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusCreated)
		})}
		go srv.Serve(pn)
		tr := &http.Transport{DialContext: pn.DialContext}
		defer func() {
			tr.CloseIdleConnections()
			srv.Close()
		}()
		f, err := New(WithClient(&http.Client{Transport: tr}), WithStallTimeout(time.Second),
			WithRetry(RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		warm, _ := http.NewRequest(http.MethodGet, "http://api.test/warm", nil)
		resp, err := f.Do(warm) // leaves a kept-alive connection in the pool
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()

		req, _ := http.NewRequest(http.MethodPut, "http://api.test/upload", bytes.NewReader(make([]byte, 10<<10)))
		req.Header.Set("Idempotency-Key", "k-1") // net/http resends a PUT only with one
		req.GetBody = func() (io.ReadCloser, error) { return &slowUpload{chunks: 10, gap: 500 * time.Millisecond}, nil }
		resp, err = f.Do(req)
		if err != nil {
			t.Fatalf("Do: %v; want the resent upload, 5 s long but never silent for 1 s, to succeed", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || uploads.Load() != 2 {
			t.Errorf("status %d after %d uploads; want 201 after 2 (net/http's own resend)", resp.StatusCode, uploads.Load())
		}
	})
}

// A PUT whose body cannot be rewound (a pipe, no GetBody) is not sent
// again after the connection drops, never with an empty or cut body; its
// error says why it was not retried.
func TestBulkReviewUnrewindableNotResent(t *testing.T) {
	srv, seen := dropFirst(t)
	f, err := New(WithRetry(RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"id":1}`))
		pw.Close()
	}()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL+"/records/1", pr)
	resp, err := f.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("Do succeeded; want the reset's error")
	}
	var unrewound *unrewindableError
	if !errors.As(err, &unrewound) || attemptsOf(t, err) != 1 {
		t.Errorf("err = %v; want 1 attempt, not retried for its body", err)
	}
	if got := seen(); len(got) != 1 || string(got[0].body) != `{"id":1}` {
		t.Errorf("server read %d requests; want 1 with the whole body", len(got))
	}
}
