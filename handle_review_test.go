package fetch

// A review of the typed handler path (Handle, HandleURLs, GetJSON,
// RetryableError), written as a demanding user who decodes large JSON
// streams and parses HTML with Handle would probe it. Tests about time run
// in a synctest bubble (newMem, or hrFetcher's in-memory RoundTripper);
// tests about connections run on httptest loopback servers.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// hrRT is an in-memory RoundTripper made of a function, for bodies that
// trickle, stall or break, inside a synctest bubble.
type hrRT func(*http.Request) (*http.Response, error)

func (f hrRT) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func hrFetcher(t testing.TB, rt hrRT, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(append([]Option{WithClient(&http.Client{Transport: rt})}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

// hrBody is a response body as a connection delivers it: chunks, each
// after delay; then end (io.EOF, io.ErrUnexpectedEOF), or, if end is nil,
// nothing more, ever. Like net/http's, its reads fail once the request's
// context ends or once it is closed.
type hrBody struct {
	ctx    context.Context
	chunks []string
	delay  time.Duration
	end    error
	closed chan struct{}
	once   sync.Once
	reads  atomic.Int64 // bytes delivered
}

func newHRBody(ctx context.Context, delay time.Duration, end error, chunks ...string) *hrBody {
	return &hrBody{ctx: ctx, chunks: chunks, delay: delay, end: end, closed: make(chan struct{})}
}

func (b *hrBody) wait(d time.Duration) error {
	var timer <-chan time.Time
	if d > 0 {
		tm := time.NewTimer(d)
		defer tm.Stop()
		timer = tm.C
	}
	select {
	case <-b.ctx.Done():
		return b.ctx.Err()
	case <-b.closed:
		return errors.New("http: read on closed response body")
	case <-timer:
		return nil
	}
}

func (b *hrBody) Read(p []byte) (int, error) {
	select {
	case <-b.ctx.Done():
		return 0, b.ctx.Err()
	case <-b.closed:
		return 0, errors.New("http: read on closed response body")
	default:
	}
	if len(b.chunks) == 0 {
		if b.end != nil {
			return 0, b.end
		}
		return 0, b.wait(0) // a body that never ends
	}
	if b.delay > 0 {
		if err := b.wait(b.delay); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.chunks[0])
	if b.chunks[0] = b.chunks[0][n:]; b.chunks[0] == "" {
		b.chunks = b.chunks[1:]
	}
	b.reads.Add(int64(n))
	return n, nil
}

func (b *hrBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

func hrResponse(r *http.Request, status int, body io.ReadCloser) *http.Response {
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: body, ContentLength: -1, Request: r,
	}
}

func hrGet(ctx context.Context, u string) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
}

// hrOne runs Handle on the single URL u and returns its one result,
// failing the test unless there is exactly one.
func hrOne[Out any](t *testing.T, ctx context.Context, f *Fetcher, u string, handle func(string, *http.Response) (Out, error)) Handled[string, Out] {
	t.Helper()
	var got []Handled[string, Out]
	for h := range Handle(ctx, f, slices.Values([]string{u}), hrGet, handle) {
		got = append(got, h)
	}
	if len(got) != 1 {
		t.Fatalf("Handle of one input yielded %d results", len(got))
	}
	return got[0]
}

// hrAddrs is an httptest server that records the client address of every
// request, to count the connections a client used.
type hrAddrs struct {
	mu    sync.Mutex
	addrs map[string]int
}

func (a *hrAddrs) add(r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.addrs == nil {
		a.addrs = map[string]int{}
	}
	a.addrs[r.RemoteAddr]++
}

func (a *hrAddrs) distinct() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.addrs)
}

func hrShutdown(t *testing.T, f *Fetcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v: a call never ended (a slot or body left held)", err)
	}
	if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
		t.Errorf("after the calls: %d in flight, %d waiting; want 0, 0", s.InFlight, s.Waiting)
	}
}

// ---------------------------------------------------------------------
// Early return: connection reuse, slots, leaks (loopback).

// A handler that reads the start of a body and returns early leaves the
// connection reusable when the rest is small, with a Content-Length body
// or a chunked one, and on a non-2xx whose error body is small; and every
// slot is given back, with nothing leaked.
func TestReviewHandleEarlyReturnReusesConnection(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var addrs hrAddrs
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addrs.add(r)
		switch r.URL.Path {
		case "/length": // 2,000 bytes with a Content-Length
			w.Header().Set("Content-Length", "2000")
			io.WriteString(w, strings.Repeat("x", 2000))
		case "/chunked": // 3,000 bytes, chunked
			for range 3 {
				io.WriteString(w, strings.Repeat("y", 1000))
				w.(http.Flusher).Flush()
			}
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, strings.Repeat("z", 1000))
		}
	}))
	defer srv.Close()
	f, err := New(WithConcurrency(1), WithRetry(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	first10 := func(_ string, resp *http.Response) (string, error) {
		calls.Add(1)
		b := make([]byte, 10)
		_, err := io.ReadFull(resp.Body, b)
		return string(b), err
	}
	for _, path := range []string{"/length", "/chunked", "/missing"} {
		t.Run(path, func(t *testing.T) {
			addrs = hrAddrs{}
			calls.Store(0)
			urls := slices.Repeat([]string{srv.URL + path}, 20)
			n := 0
			for h := range HandleURLs(t.Context(), f, slices.Values(urls), first10) {
				n++
				if path == "/missing" {
					var se *StatusError
					if !errors.As(h.Err, &se) || se.StatusCode != 404 || h.Status != 404 {
						t.Errorf("404: %v (status %d); want a *StatusError 404", h.Err, h.Status)
					}
					continue
				}
				if h.Err != nil || len(h.Value) != 10 {
					t.Errorf("%s: %q, %v; want 10 bytes", path, h.Value, h.Err)
				}
			}
			if n != 20 {
				t.Errorf("%d results; want 20", n)
			}
			if path == "/missing" && calls.Load() != 0 {
				t.Errorf("the handler was called %d times for a 404; want never", calls.Load())
			}
			if d := addrs.distinct(); d != 1 {
				t.Errorf("20 sequential requests whose handler left <4 KiB unread used %d connections; want 1", d)
			}
			if s := f.Stats(); s.InFlight != 0 {
				t.Errorf("%d in flight after the loop; want 0", s.InFlight)
			}
		})
	}
	// A big rest is not drained: the connection is closed, but nothing
	// hangs and the slot comes back.
	t.Run("big rest", func(t *testing.T) {
		big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat("b", 4<<20))
		}))
		defer big.Close()
		for h := range HandleURLs(t.Context(), f, slices.Values(slices.Repeat([]string{big.URL}, 5)), first10) {
			if h.Err != nil || h.Value != "bbbbbbbbbb" {
				t.Errorf("early return from a 4 MiB body: %q, %v", h.Value, h.Err)
			}
		}
	})
	hrShutdown(t, f)
}

// A handler that stops early with its own (unmarked) error on a body whose
// rest is small: the input fails at once, and the connection, whose rest
// is as small as in the success case, is reused all the same.
func TestReviewHandleErrorEarlyReusesConnection(t *testing.T) {
	var addrs hrAddrs
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addrs.add(r)
		io.WriteString(w, `{"items": [1, 2, "three", 4]}`+strings.Repeat(" ", 1000))
	}))
	defer srv.Close()
	f, err := New(WithConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer hrShutdown(t, f)
	decode := func(_ string, resp *http.Response) (int, error) {
		var v struct{ Items []int }
		err := json.NewDecoder(resp.Body).Decode(&v) // stops at the first bad item, rest unread
		return len(v.Items), err
	}
	for h := range HandleURLs(t.Context(), f, slices.Values(slices.Repeat([]string{srv.URL}, 10)), decode) {
		if h.Err == nil || h.Attempts != 1 {
			t.Errorf("a bad item: %v after %d attempts; want an error after 1", h.Err, h.Attempts)
		}
	}
	if d := addrs.distinct(); d != 1 {
		t.Errorf("10 sequential requests whose handler failed with ~1 KiB unread used %d connections; want 1", d)
	}
}

// A panicking handler, half way through a body on the network: the input
// fails with a *PanicError, not retried, the slot comes back, and the
// following inputs go on (one slot only).
func TestReviewHandlePanicMidBodyGivesSlotBack(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, strings.Repeat("<p>para</p>", 10000))
	}))
	defer srv.Close()
	f, err := New(WithConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	boom := func(u string, resp *http.Response) (int, error) {
		io.CopyN(io.Discard, resp.Body, 100)
		if strings.HasSuffix(u, "/panic") {
			panic("parser bug")
		}
		return 1, nil
	}
	urls := []string{srv.URL + "/panic", srv.URL + "/a", srv.URL + "/panic", srv.URL + "/b"}
	got := map[int]Handled[string, int]{}
	for h := range HandleURLs(t.Context(), f, slices.Values(urls), boom) {
		got[h.Index] = h
	}
	for i, u := range urls {
		h := got[i]
		if strings.HasSuffix(u, "/panic") {
			var pe *PanicError
			if !errors.As(h.Err, &pe) || pe.Value != "parser bug" || h.Attempts != 1 || h.Value != 0 {
				t.Errorf("input %d: %v after %d attempts, value %d; want a *PanicError after 1", i, h.Err, h.Attempts, h.Value)
			}
		} else if h.Err != nil || h.Value != 1 {
			t.Errorf("input %d: %d, %v; want 1, nil", i, h.Value, h.Err)
		}
	}
	if served.Load() != 4 {
		t.Errorf("the server saw %d requests; want 4: a panic is not retried", served.Load())
	}
	hrShutdown(t, f)
}

// ---------------------------------------------------------------------
// Time: slow handlers, attempt timeouts, bodies that never end (synctest).

// A handler that reads a body trickling in slower than the attempt
// timeout allows: each attempt times out and is retried, and the final
// error matches ErrAttemptTimeout.
func TestReviewHandleSlowBodyPastAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent, handled atomic.Int64
		f := hrFetcher(t, func(r *http.Request) (*http.Response, error) {
			sent.Add(1)
			return hrResponse(r, 200, newHRBody(r.Context(), time.Second, io.EOF, slices.Repeat([]string{"[1,2,3]"}, 10)...)), nil
		}, WithAttemptTimeout(3*time.Second), WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, Jitter: NoJitter}))
		start := time.Now()
		h := hrOne(t, context.Background(), f, "http://a.test/", func(_ string, resp *http.Response) (int, error) {
			handled.Add(1)
			b, err := io.ReadAll(resp.Body)
			return len(b), err
		})
		if !errors.Is(h.Err, ErrAttemptTimeout) || !errors.Is(h.Err, context.DeadlineExceeded) || h.Attempts != 3 || h.Value != 0 {
			t.Errorf("a 10 s body under a 3 s attempt timeout: %v after %d attempts (value %d); want ErrAttemptTimeout after 3", h.Err, h.Attempts, h.Value)
		}
		if sent.Load() != 3 || handled.Load() != 3 {
			t.Errorf("sent %d, handled %d; want 3 and 3", sent.Load(), handled.Load())
		}
		if el := time.Since(start); el < 9*time.Second || el > 10*time.Second {
			t.Errorf("took %v; want about 3 × 3 s", el)
		}
		if s := f.Stats(); s.InFlight != 0 || s.Failed.Timeout != 1 {
			t.Errorf("stats: %+v; want nothing in flight, one timeout", s)
		}
	})
}

// A handler that is itself slow (CPU work, a slow sink) between reads of
// a body that has all arrived: its next read after the attempt's time is
// up fails, and the attempt is retried; a second attempt that is fast
// succeeds.
func TestReviewHandleSlowHandlerRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent atomic.Int64
		f := hrFetcher(t, func(r *http.Request) (*http.Response, error) {
			sent.Add(1)
			return hrResponse(r, 200, newHRBody(r.Context(), 0, io.EOF, "a\n", "b\n", "c\n", "d\n")), nil
		}, WithAttemptTimeout(3*time.Second), WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
		var calls atomic.Int64
		h := hrOne(t, context.Background(), f, "http://a.test/", func(_ string, resp *http.Response) (int, error) {
			slow := calls.Add(1) == 1
			n := 0
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 2), 2) // one short read per line
			for sc.Scan() {
				n++
				if slow {
					time.Sleep(2 * time.Second) // a slow sink, the first time only
				}
			}
			return n, sc.Err()
		})
		if h.Err != nil || h.Value != 4 || h.Attempts != 2 || sent.Load() != 2 {
			t.Errorf("a slow first handler: %d, %v after %d attempts (%d sent); want 4 lines after 2", h.Value, h.Err, h.Attempts, sent.Load())
		}
	})
}

// A handler blocked on a body that never ends returns when the caller's
// context is cancelled, with no attempt timeout set; the result says the
// caller cancelled, and nothing is retried.
func TestReviewHandleEndlessBodyEndsWithCallerContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent atomic.Int64
		f := hrFetcher(t, func(r *http.Request) (*http.Response, error) {
			sent.Add(1)
			return hrResponse(r, 200, newHRBody(r.Context(), 0, nil, `{"events": [`)), nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(10*time.Second, cancel)
		start := time.Now()
		h := hrOne(t, ctx, f, "http://a.test/", func(_ string, resp *http.Response) (int, error) {
			var v map[string][]int
			err := json.NewDecoder(resp.Body).Decode(&v)
			return len(v), err
		})
		if !errors.Is(h.Err, context.Canceled) || h.Attempts != 1 || sent.Load() != 1 {
			t.Errorf("an endless body, cancelled: %v after %d attempts (%d sent); want context.Canceled after 1", h.Err, h.Attempts, sent.Load())
		}
		if el := time.Since(start); el != 10*time.Second {
			t.Errorf("returned after %v; want at the cancel, 10 s", el)
		}
	})
}

// The same on the network: a real server that sends the start of a body
// and then holds the connection open; cancelling the caller's context
// ends the handler's read, and the server sees the request cancelled.
func TestReviewHandleEndlessBodyLoopback(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	gone := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"events": [`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		gone <- struct{}{}
	}))
	defer srv.Close()
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	reading := make(chan struct{})
	done := make(chan Handled[string, int], 1)
	go func() {
		for h := range HandleURLs(ctx, f, slices.Values([]string{srv.URL}), func(_ string, resp *http.Response) (int, error) {
			b := make([]byte, 4)
			io.ReadFull(resp.Body, b) // the start has come
			close(reading)
			n, err := io.Copy(io.Discard, resp.Body) // the rest never does
			return int(n), err
		}) {
			done <- h
		}
	}()
	<-reading
	cancel()
	select {
	case h := <-done:
		if !errors.Is(h.Err, context.Canceled) || h.Attempts != 1 {
			t.Errorf("an endless body, cancelled: %v after %d attempts; want context.Canceled after 1", h.Err, h.Attempts)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler never returned after the caller's context was cancelled")
	}
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Error("the server never saw the request cancelled")
	}
	hrShutdown(t, f)
}

// A handler that reads the first event of a stream that goes on (a
// long-poll, NDJSON or server-sent events feed) and returns: the result
// comes when the handler returns (after at most drainWait spent draining
// what comes at once), not when the stream next sends 4 KiB or the caller
// gives up.
func TestReviewHandleEarlyReturnFromEndlessStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := hrFetcher(t, func(r *http.Request) (*http.Response, error) {
			return hrResponse(r, 200, newHRBody(r.Context(), 0, nil, `{"event": 1}`+"\n")), nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(time.Hour, cancel) // the guard: a result should come long before
		start := time.Now()
		h := hrOne(t, ctx, f, "http://a.test/feed", func(_ string, resp *http.Response) (string, error) {
			return bufio.NewReader(resp.Body).ReadString('\n') // the first event only
		})
		if el := time.Since(start); el > drainWait || h.Err != nil || h.Value != `{"event": 1}`+"\n" {
			t.Errorf("first event of an endless feed: %q, %v after %v; want it within %v", h.Value, h.Err, el, drainWait)
		}
		// With an attempt timeout, the result waits for it.
		g := hrFetcher(t, func(r *http.Request) (*http.Response, error) {
			return hrResponse(r, 200, newHRBody(r.Context(), 0, nil, `{"event": 1}`+"\n")), nil
		}, WithAttemptTimeout(time.Minute))
		start = time.Now()
		h = hrOne(t, context.Background(), g, "http://a.test/feed", func(_ string, resp *http.Response) (string, error) {
			return bufio.NewReader(resp.Body).ReadString('\n')
		})
		if el := time.Since(start); el > drainWait || h.Err != nil {
			t.Errorf("first event of an endless feed, 1 min attempt timeout: %q, %v after %v; want it within %v", h.Value, h.Err, el, drainWait)
		}
	})
}

// The same on the network, with net/http's own body.
func TestReviewHandleEarlyReturnFromEndlessStreamLoopback(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"event": 1}`+"\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the feed goes on, with nothing to say yet
	}))
	defer srv.Close()
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer hrShutdown(t, f)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan Handled[string, string], 1)
	go func() {
		for h := range HandleURLs(ctx, f, slices.Values([]string{srv.URL}), func(_ string, resp *http.Response) (string, error) {
			return bufio.NewReader(resp.Body).ReadString('\n')
		}) {
			done <- h
		}
	}()
	select {
	case h := <-done:
		if h.Err != nil {
			t.Errorf("first event of a live feed: %v", h.Err)
		}
	case <-time.After(5 * time.Second): // a bound, not a synchronisation: the result is due at once
		cancel()
		h := <-done
		t.Errorf("first event of a live feed: no result 5 s after the handler returned; after cancelling: %q, %v", h.Value, h.Err)
	}
}

// ---------------------------------------------------------------------
// Body caps.

// A handler that reads past the cap gets ErrBodyTooLarge, with any
// reader (ReadAll, a JSON decoder), and the input fails with it, not
// retried; a body exactly at the cap is whole; a handler that stops
// before the cap is not failed, even though the body goes on past it.
func TestReviewHandleBodyCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 1000
		var sent atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent.Add(1)
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			if r.URL.Path == "/json" { // a JSON array of n bytes or so
				io.WriteString(w, "["+strings.Repeat("1,", n/2)+"1]")
				return
			}
			io.WriteString(w, strings.Repeat("x", n))
		}), WithMaxBodySize(limit))
		readAll := func(_ string, resp *http.Response) (int, error) {
			b, err := io.ReadAll(resp.Body)
			return len(b), err
		}
		decode := func(_ string, resp *http.Response) (int, error) {
			var v []int
			err := json.NewDecoder(resp.Body).Decode(&v)
			return len(v), err
		}
		first := func(_ string, resp *http.Response) (int, error) {
			b := make([]byte, 100)
			n, err := io.ReadFull(resp.Body, b)
			return n, err
		}
		for _, tc := range []struct {
			name   string
			url    string
			handle func(string, *http.Response) (int, error)
			want   int   // the value, if no error
			err    error // the error wanted, if any
		}{
			{"ReadAll at the cap", "http://a.test/?n=1000", readAll, 1000, nil},
			{"ReadAll one past", "http://a.test/?n=1001", readAll, 0, ErrBodyTooLarge},
			{"ReadAll far past", "http://a.test/?n=100000", readAll, 0, ErrBodyTooLarge},
			{"JSON past", "http://a.test/json?n=5000", decode, 0, ErrBodyTooLarge},
			{"JSON within", "http://a.test/json?n=900", decode, 451, nil},
			{"stop before the cap", "http://a.test/?n=100000", first, 100, nil},
		} {
			sent.Store(0)
			h := hrOne(t, context.Background(), f, tc.url, tc.handle)
			if tc.err != nil {
				if !errors.Is(h.Err, tc.err) || h.Value != 0 || h.Attempts != 1 || sent.Load() != 1 {
					t.Errorf("%s: %d, %v after %d attempts (%d sent); want %v after 1", tc.name, h.Value, h.Err, h.Attempts, sent.Load(), tc.err)
				}
				continue
			}
			if h.Err != nil || h.Value != tc.want {
				t.Errorf("%s: %d, %v; want %d, nil", tc.name, h.Value, h.Err, tc.want)
			}
		}
		// GetJSON under the same cap.
		if _, err := GetJSON[[]int](context.Background(), f, "http://a.test/json?n=5000"); !errors.Is(err, ErrBodyTooLarge) {
			t.Errorf("GetJSON of a 5 KB array under a 1,000-byte cap: %v; want ErrBodyTooLarge", err)
		}
	})
}

// A handler that drops its reader's error, as code using bufio.Scanner
// without checking Err does, is not handed a silently truncated body as a
// success: the Fetcher knows the body went past the cap.
func TestReviewHandleBodyCapNotSilentWhenHandlerDropsError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := range 1000 {
				fmt.Fprintf(w, "line %d\n", i)
			}
		}), WithMaxBodySize(1000))
		h := hrOne(t, context.Background(), f, "http://a.test/", func(_ string, resp *http.Response) (int, error) {
			n := 0
			for sc := bufio.NewScanner(resp.Body); sc.Scan(); { // sc.Err() unchecked
				n++
			}
			return n, nil
		})
		if !errors.Is(h.Err, ErrBodyTooLarge) {
			t.Errorf("a 1,000-line body under a 1,000-byte cap, scanner error dropped: %d lines, %v; want ErrBodyTooLarge, never a silent truncation", h.Value, h.Err)
		}
	})
}

// ---------------------------------------------------------------------
// Handler errors: RetryableError, unmarked errors, panics.

func TestReviewHandleRetryableError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "<html><title>page %d</title>", sent.Add(1))
		}), WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Second, Jitter: NoJitter}))
		partial := errors.New("page without </html>: served half-built")

		// Retried within the policy, and a later attempt's value is kept.
		sent.Store(0)
		start := time.Now()
		h := hrOne(t, context.Background(), f, "http://a.test/", func(_ string, resp *http.Response) (string, error) {
			b, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(b), "page 3") {
				return "stale " + string(b), fmt.Errorf("parsing: %w", RetryableError(partial))
			}
			return string(b), nil
		})
		if h.Err != nil || h.Value != "<html><title>page 3</title>" || h.Attempts != 3 || h.Status != 200 {
			t.Errorf("retryable twice, then fine: %q, %v after %d attempts; want page 3 after 3", h.Value, h.Err, h.Attempts)
		}
		if el := time.Since(start); el != 3*time.Second {
			t.Errorf("retries took %v; want the policy's 1 s + 2 s backoff", el)
		}

		// Always retryable: the policy's attempts, then the handler's words.
		sent.Store(0)
		h = hrOne(t, context.Background(), f, "http://a.test/x", func(_ string, resp *http.Response) (string, error) {
			return "half", RetryableError(partial)
		})
		var e *Error
		if !errors.As(h.Err, &e) || !errors.Is(h.Err, partial) || !strings.Contains(h.Err.Error(), partial.Error()) ||
			e.Attempts != 3 || h.Attempts != 3 || sent.Load() != 3 || h.Value != "" {
			t.Errorf("always retryable: %v (value %q) after %d attempts, %d sent; want an *Error saying %q after 3", h.Err, h.Value, h.Attempts, sent.Load(), partial)
		}

		// Unmarked: final at once.
		sent.Store(0)
		h = hrOne(t, context.Background(), f, "http://a.test/y", func(_ string, resp *http.Response) (string, error) {
			return "half", partial
		})
		if !errors.Is(h.Err, partial) || h.Attempts != 1 || sent.Load() != 1 || h.Value != "" || h.Status != 200 {
			t.Errorf("unmarked: %v (value %q) after %d attempts; want it after 1", h.Err, h.Value, h.Attempts)
		}

		// A panic, even with a retryable error value: final at once.
		sent.Store(0)
		h = hrOne(t, context.Background(), f, "http://a.test/z", func(_ string, resp *http.Response) (string, error) {
			panic(RetryableError(partial))
		})
		var pe *PanicError
		if !errors.As(h.Err, &pe) || h.Attempts != 1 || sent.Load() != 1 {
			t.Errorf("panic: %v after %d attempts; want a *PanicError after 1", h.Err, h.Attempts)
		}

		// RetryableError(nil) is nil: a success.
		if RetryableError(nil) != nil {
			t.Error("RetryableError(nil) != nil")
		}
	})
}

// RetryableError does not override the policy: a POST (not idempotent)
// is not retried, nor is anything once the caller's context has ended.
func TestReviewHandleRetryableErrorWithinPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent.Add(1)
			io.WriteString(w, "{}")
		}), WithRetry(RetryPolicy{MaxAttempts: 5, BaseDelay: time.Second}))
		bad := errors.New("try again")
		post := func(ctx context.Context, u string) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader("q=1"))
		}
		for h := range Handle(context.Background(), f, slices.Values([]string{"http://a.test/search"}), post,
			func(string, *http.Response) (int, error) { return 0, RetryableError(bad) }) {
			if !errors.Is(h.Err, bad) || h.Attempts != 1 || sent.Load() != 1 {
				t.Errorf("POST, retryable handler error: %v after %d attempts (%d sent); want it after 1: POST is not retried", h.Err, h.Attempts, sent.Load())
			}
		}
		// The caller cancels while the handler runs: no retry, and the
		// error says cancelled.
		sent.Store(0)
		ctx, cancel := context.WithCancel(context.Background())
		h := hrOne(t, ctx, f, "http://a.test/", func(string, *http.Response) (int, error) {
			cancel()
			return 0, RetryableError(bad)
		})
		if !errors.Is(h.Err, context.Canceled) || h.Attempts != 1 || sent.Load() != 1 {
			t.Errorf("cancelled in the handler: %v after %d attempts; want context.Canceled after 1", h.Err, h.Attempts)
		}
	})
}

// A body cut short on the wire while the handler reads it is retried, as
// Handle's doc says, whatever words the handler puts on the failure (a
// parser that reports "unexpected end of input" without wrapping the
// read error); the second attempt's whole body succeeds.
func TestReviewHandleCutBodyRetriedWhateverTheHandlerSays(t *testing.T) {
	for _, wrap := range []bool{true, false} {
		t.Run(fmt.Sprintf("wrapped=%v", wrap), func(t *testing.T) {
			if !wrap {
			}
			synctest.Test(t, func(t *testing.T) {
				var sent atomic.Int64
				f := hrFetcher(t, func(r *http.Request) (*http.Response, error) {
					if sent.Add(1) == 1 {
						return hrResponse(r, 200, newHRBody(r.Context(), 0, io.ErrUnexpectedEOF, "<html><body><p>half")), nil
					}
					return hrResponse(r, 200, newHRBody(r.Context(), 0, io.EOF, "<html><body><p>whole</p></body></html>")), nil
				}, WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}))
				h := hrOne(t, context.Background(), f, "http://a.test/", func(_ string, resp *http.Response) (string, error) {
					b, err := io.ReadAll(resp.Body)
					if err != nil {
						if wrap {
							return "", fmt.Errorf("parsing page: %w", err)
						}
						return "", fmt.Errorf("parsing page: %v", err)
					}
					return string(b), nil
				})
				if h.Err != nil || !strings.Contains(h.Value, "whole") || h.Attempts != 2 {
					t.Errorf("a body cut on the first attempt: %q, %v after %d attempts; want the whole page after 2", h.Value, h.Err, h.Attempts)
				}
			})
		})
	}
}

// ---------------------------------------------------------------------
// Non-2xx responses.

func TestReviewHandleNon2xx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := sent.Add(1)
			switch r.URL.Path {
			case "/gone":
				w.Header().Set("X-Reason", "deleted")
				w.WriteHeader(http.StatusGone)
				io.WriteString(w, `{"error":"page deleted"}`+strings.Repeat(" ", 10000))
			case "/busy": // 429 with Retry-After: 7 once, then fine
				if n == 1 {
					w.Header().Set("Retry-After", "7")
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				io.WriteString(w, "ok")
			case "/down": // 503 that asks for more than MaxRetryAfter
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, "maintenance")
			case "/broken":
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, "oops")
			}
		}), WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Second, Jitter: NoJitter}))
		var called atomic.Int64
		read := func(_ string, resp *http.Response) (string, error) {
			called.Add(1)
			b, err := io.ReadAll(resp.Body)
			return string(b), err
		}

		sent.Store(0)
		h := hrOne(t, context.Background(), f, "http://gone.test/gone", read)
		var se *StatusError
		if !errors.As(h.Err, &se) || se.StatusCode != 410 || se.Header.Get("X-Reason") != "deleted" ||
			len(se.Body) != MaxErrorBody || !strings.HasPrefix(string(se.Body), `{"error":"page deleted"}`) ||
			!strings.Contains(h.Err.Error(), "page deleted") || h.Status != 410 || h.Attempts != 1 || called.Load() != 0 {
			t.Errorf("410: %v (status %d, %d attempts, handler called %d times); want a *StatusError with the header and the first 4 KiB, handler never called", h.Err, h.Status, h.Attempts, called.Load())
		}

		sent.Store(0)
		start := time.Now()
		h = hrOne(t, context.Background(), f, "http://busy.test/busy", read)
		if h.Err != nil || h.Value != "ok" || h.Attempts != 2 || called.Load() != 1 {
			t.Errorf("429 then 200: %q, %v after %d attempts, handler called %d times; want ok after 2, called once", h.Value, h.Err, h.Attempts, called.Load())
		}
		if el := time.Since(start); el != 7*time.Second {
			t.Errorf("429 with Retry-After: 7 retried after %v; want 7 s", el)
		}

		sent.Store(0)
		called.Store(0)
		h = hrOne(t, context.Background(), f, "http://broken.test/broken", read)
		if !errors.As(h.Err, &se) || se.StatusCode != 500 || string(se.Body) != "oops" || h.Attempts != 3 || sent.Load() != 3 || called.Load() != 0 || h.Status != 500 {
			t.Errorf("500 throughout: %v after %d attempts (status %d, handler called %d times); want a 500 StatusError after 3", h.Err, h.Attempts, h.Status, called.Load())
		}

		sent.Store(0)
		start = time.Now()
		h = hrOne(t, context.Background(), f, "http://down.test/down", read) // a host of its own: a.test is paced after its 429 (the ramp)
		var ra *RetryAfterError
		if !errors.As(h.Err, &ra) || !errors.As(h.Err, &se) || se.StatusCode != 503 || string(se.Body) != "maintenance" || h.Attempts != 1 || time.Since(start) != 0 {
			t.Errorf("503 asking for an hour: %v after %d attempts (%v, se %+v); want a RetryAfterError at once, carrying the 503 and its body", h.Err, h.Attempts, time.Since(start), se)
		}
	})
}

// Handled.Status is "the final status; 0 if no response": that of the
// response the input failed on, even when the call gave up on it before
// reading its body (a Retry-After past MaxRetryAfter), and 0 when the last
// attempt got no response, whatever an earlier one got.
func TestReviewHandledStatusIsTheFinalOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		h := hrOne(t, context.Background(), f, "http://a.test/", func(string, *http.Response) (int, error) { return 1, nil })
		if r := f.Fetch(context.Background(), "http://a.test/"); h.Status != r.Status {
			t.Errorf("a 503 with a Retry-After past MaxRetryAfter: Handled.Status %d, Result.Status %d; want both 503", h.Status, r.Status)
		}

		var sent atomic.Int64
		g := hrFetcher(t, func(r *http.Request) (*http.Response, error) {
			if sent.Add(1) == 1 {
				return hrResponse(r, 200, newHRBody(r.Context(), 0, io.EOF, "stale")), nil
			}
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		}, WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
		h = hrOne(t, context.Background(), g, "http://a.test/", func(string, *http.Response) (int, error) {
			return 0, RetryableError(errors.New("stale page"))
		})
		if !errors.Is(h.Err, syscall.ECONNREFUSED) || h.Status != 0 {
			t.Errorf("200 (retried by the handler), then connection refused: status %d, %v; want 0: the final attempt got no response", h.Status, h.Err)
		}
	})
}

// ---------------------------------------------------------------------
// Redirects.

// The handler sees the final response (its URL, its body); Handled keeps
// the input and the URL as given; a redirect to a non-2xx is a
// StatusError naming the final URL, the handler not called.
func TestReviewHandleRedirects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/old":
				http.Redirect(w, r, "http://b.test/new", http.StatusMovedPermanently)
			case "/new":
				io.WriteString(w, "<title>new</title>")
			case "/lost":
				http.Redirect(w, r, "/nowhere", http.StatusFound)
			default:
				http.NotFound(w, r)
			}
		}))
		type in struct{ id int }
		inputs := []in{{1}, {2}}
		paths := map[int]string{1: "http://a.test/old", 2: "http://a.test/lost"}
		var calls atomic.Int64
		got := map[int]Handled[in, string]{}
		for h := range Handle(context.Background(), f, slices.Values(inputs),
			func(ctx context.Context, v in) (*http.Request, error) { return hrGet(ctx, paths[v.id]) },
			func(v in, resp *http.Response) (string, error) {
				calls.Add(1)
				b, err := io.ReadAll(resp.Body)
				return resp.Request.URL.String() + " " + string(b), err
			}) {
			got[h.Input.id] = h
		}
		if h := got[1]; h.Err != nil || h.Value != "http://b.test/new <title>new</title>" || h.URL != "http://a.test/old" || h.Input.id != 1 || h.Status != 200 || h.Attempts != 1 {
			t.Errorf("redirected: %+v; want the final URL and body in the value, the input and its URL kept", h)
		}
		var se *StatusError
		if h := got[2]; !errors.As(h.Err, &se) || se.StatusCode != 404 || se.URL != "http://a.test/nowhere" || h.URL != "http://a.test/lost" || h.Status != 404 {
			t.Errorf("redirected to a 404: %+v; want a StatusError naming the final URL", h)
		}
		if calls.Load() != 1 {
			t.Errorf("handler called %d times; want once", calls.Load())
		}
	})
}

// ---------------------------------------------------------------------
// GetJSON.

func TestReviewGetJSONShapes(t *testing.T) {
	type item struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	synctest.Test(t, func(t *testing.T) {
		var sent atomic.Int64
		bodies := map[string]string{
			"/ok":       `{"id": 7, "name": "seven"}`,
			"/ws":       " \n{\"id\": 7, \"name\": \"seven\"}\n\t ",
			"/trailing": `{"id": 7, "name": "seven"} {"id": 8}`,
			"/garbage":  `{"id": 7, "name": "seven"}<!-- cached -->`,
			"/empty":    "",
			"/spaces":   "   \n",
			"/type":     `{"id": "7", "name": "seven"}`,
			"/huge":     `{"id": 9223372036854775808, "name": "big"}`,
			"/float":    `{"id": 1e3, "name": "float"}`,
			"/cut":      `{"id": 7, "name": "sev`,
			"/null":     `null`,
			"/html":     `<html>Service Unavailable</html>`,
		}
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent.Add(1)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, bodies[r.URL.Path])
		}))
		for _, tc := range []struct {
			path string
			want item
			ok   bool
			as   any // a pointer to the error type wanted, if any
		}{
			{"/ok", item{7, "seven"}, true, nil},
			{"/ws", item{7, "seven"}, true, nil},
			{"/null", item{}, true, nil}, // as json.Unmarshal: null leaves T as it is
			{"/trailing", item{}, false, nil},
			{"/garbage", item{}, false, new(*json.SyntaxError)},
			{"/empty", item{}, false, nil},
			{"/spaces", item{}, false, nil},
			{"/type", item{}, false, new(*json.UnmarshalTypeError)},
			{"/huge", item{}, false, new(*json.UnmarshalTypeError)},
			{"/float", item{}, false, new(*json.UnmarshalTypeError)},
			{"/cut", item{}, false, nil},
			{"/html", item{}, false, new(*json.SyntaxError)},
		} {
			sent.Store(0)
			v, err := GetJSON[item](context.Background(), f, "http://a.test"+tc.path)
			if tc.ok {
				if err != nil || v != tc.want {
					t.Errorf("GetJSON %s = %+v, %v; want %+v", tc.path, v, err, tc.want)
				}
				continue
			}
			var e *Error
			if err == nil || !errors.As(err, &e) || e.Attempts != 1 || sent.Load() != 1 || v != (item{}) {
				t.Errorf("GetJSON %s = %+v, %v (%d sent); want an *Error, the zero value, not retried", tc.path, v, err, sent.Load())
			}
			if tc.as != nil && !errors.As(err, tc.as) {
				t.Errorf("GetJSON %s = %v; want it to match %T", tc.path, err, tc.as)
			}
			if errors.Is(err, io.EOF) {
				t.Errorf("GetJSON %s = %v: matches io.EOF, which reads as a body cut short", tc.path, err)
			}
		}
		// Huge numbers into a float64 are refused too, not made +Inf.
		f2 := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `[1e400]`) }))
		if v, err := GetJSON[[]float64](context.Background(), f2, "http://a.test/"); err == nil {
			t.Errorf("GetJSON [1e400] into []float64 = %v, nil; want an error", v)
		}
	})
}

// GetJSON on the network: a body cut mid-value by the connection (its
// Content-Length not reached, or a chunked body with no last chunk) is
// retried and the second, whole, body decoded; a malformed value sent
// whole is not retried.
func TestReviewGetJSONCutOnTheWire(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := sent.Add(1)
		whole := `{"ids": [1, 2, 3, 4]}`
		if r.URL.Path == "/malformed" {
			io.WriteString(w, `{"ids": [1, 2,, 3]}`)
			return
		}
		if n > 1 {
			io.WriteString(w, whole)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		if r.URL.Path == "/length" {
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(whole), whole[:10])
		} else {
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", 10, whole[:10])
		}
		buf.Flush()
	}))
	defer srv.Close()
	f, err := New(WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	type ids struct{ IDs []int }
	for _, path := range []string{"/length", "/chunked"} {
		sent.Store(0)
		v, err := GetJSON[ids](t.Context(), f, srv.URL+path)
		if err != nil || len(v.IDs) != 4 || sent.Load() != 2 {
			t.Errorf("GetJSON %s, cut then whole: %v, %v (%d sent); want 4 ids after 2", path, v, err, sent.Load())
		}
	}
	sent.Store(0)
	var se *json.SyntaxError
	if _, err := GetJSON[ids](t.Context(), f, srv.URL+"/malformed"); !errors.As(err, &se) || sent.Load() != 1 {
		t.Errorf("GetJSON of a malformed value sent whole: %v (%d sent); want a *json.SyntaxError, not retried", err, sent.Load())
	}
	hrShutdown(t, f)
}

// ---------------------------------------------------------------------
// Cancellation.

// Breaking out of the Handle loop while handlers are blocked reading
// bodies that go on returns promptly, cancels their requests (the server
// sees each go), and every handler has returned by then.
func TestReviewHandleBreakCancelsInFlightHandlers(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const slow = 4
	arrived := make(chan struct{}, slow)
	gone := make(chan struct{}, slow)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fast" {
			io.WriteString(w, "[]")
			return
		}
		io.WriteString(w, "[1,")
		w.(http.Flusher).Flush()
		arrived <- struct{}{}
		<-r.Context().Done()
		gone <- struct{}{}
	}))
	defer srv.Close()
	f, err := New(WithConcurrency(8))
	if err != nil {
		t.Fatal(err)
	}
	urls := append(slices.Repeat([]string{srv.URL + "/slow"}, slow), srv.URL+"/fast")
	var reading, returned atomic.Int64
	decode := func(_ string, resp *http.Response) (int, error) {
		defer returned.Add(1)
		reading.Add(1)
		var v []int
		err := json.NewDecoder(resp.Body).Decode(&v)
		return len(v), err
	}
	results := 0
	for h := range HandleURLs(t.Context(), f, slices.Values(urls), decode) {
		results++
		if h.Err != nil || !strings.HasSuffix(h.Input, "/fast") {
			t.Errorf("first result: %+v; want /fast", h)
		}
		for range slow { // every slow request is on the wire
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
				t.Fatal("the slow requests never arrived")
			}
		}
		break
	}
	if results != 1 {
		t.Fatalf("%d results", results)
	}
	if reading.Load() != returned.Load() {
		t.Errorf("after the loop returned, %d handlers had started and %d returned; want all returned", reading.Load(), returned.Load())
	}
	for range slow {
		select {
		case <-gone:
		case <-time.After(10 * time.Second):
			t.Fatal("a slow request was never cancelled")
		}
	}
	hrShutdown(t, f)
}

// ---------------------------------------------------------------------
// Results: one per input, Index, order, inputs that fail to become requests.

func TestReviewHandleResults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 40
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
			time.Sleep(time.Duration(n-i) * time.Second) // later inputs answer sooner
			fmt.Fprint(w, i*i)
		}), WithConcurrency(n))
		var called sync.Map
		var order []int
		var got []Handled[int, int]
		inputs := make([]int, n)
		for i := range inputs {
			inputs[i] = i
		}
		build := func(ctx context.Context, i int) (*http.Request, error) {
			if i%7 == 3 {
				return nil, fmt.Errorf("input %d: no URL for it", i)
			}
			return hrGet(ctx, fmt.Sprintf("http://a.test/%d", i))
		}
		for h := range Handle(context.Background(), f, slices.Values(inputs), build, func(i int, resp *http.Response) (int, error) {
			if _, dup := called.LoadOrStore(i, true); dup {
				t.Errorf("handler called twice for input %d", i)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return 0, err
			}
			return strconv.Atoi(string(b))
		}) {
			got = append(got, h)
			order = append(order, h.Index)
		}
		if len(got) != n {
			t.Fatalf("%d results for %d inputs", len(got), n)
		}
		seen := map[int]bool{}
		var okOrder []int
		for _, h := range got {
			if seen[h.Index] {
				t.Errorf("two results for index %d", h.Index)
			}
			seen[h.Index] = true
			if h.Input != h.Index {
				t.Errorf("result with Index %d carries input %d", h.Index, h.Input)
			}
			if h.Index%7 == 3 {
				if h.Err == nil || !strings.Contains(h.Err.Error(), "no URL for it") || h.Attempts != 0 || h.Status != 0 || h.Value != 0 {
					t.Errorf("input %d that made no request: %+v; want its error, nothing sent", h.Index, h)
				}
				if _, ok := called.Load(h.Index); ok {
					t.Errorf("handler called for input %d, which made no request", h.Index)
				}
				continue
			}
			okOrder = append(okOrder, h.Index)
			if h.Err != nil || h.Value != h.Index*h.Index || h.Status != 200 || h.Attempts != 1 ||
				h.URL != fmt.Sprintf("http://a.test/%d", h.Index) || h.Duration != time.Duration(n-h.Index)*time.Second {
				t.Errorf("input %d: %+v; want %d, in %v", h.Index, h, h.Index*h.Index, time.Duration(n-h.Index)*time.Second)
			}
		}
		// Completion order: the later inputs answered first.
		if !slices.IsSortedFunc(okOrder, func(a, b int) int { return b - a }) {
			t.Errorf("results of the sent inputs came in order %v; want completion order (descending here)", okOrder)
		}
	})
}

// HandleURLs: an invalid URL yields an error result without calling the
// handler; a URL with a password is reported redacted; and a nil context
// yields one error result, no panic.
func TestReviewHandleURLsInputs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
		var calls atomic.Int64
		read := func(u string, resp *http.Response) (string, error) {
			calls.Add(1)
			b, err := io.ReadAll(resp.Body)
			return string(b), err
		}
		urls := []string{"http://a.test/1", "ftp://a.test/x", "http://user:hunter2@a.test/2", "::not a url", ""}
		got := map[int]Handled[string, string]{}
		for h := range HandleURLs(context.Background(), f, slices.Values(urls), read) {
			got[h.Index] = h
			if strings.Contains(h.URL, "hunter2") || (h.Err != nil && strings.Contains(h.Err.Error(), "hunter2")) {
				t.Errorf("input %d: password shown in %q / %v", h.Index, h.URL, h.Err)
			}
		}
		if len(got) != len(urls) || calls.Load() != 2 {
			t.Fatalf("%d results, handler called %d times; want %d and 2", len(got), calls.Load(), len(urls))
		}
		for i, u := range urls {
			h := got[i]
			if h.Input != u {
				t.Errorf("input %d: Input %q; want %q as given", i, h.Input, u)
			}
			switch i {
			case 0, 2:
				if h.Err != nil || h.Value != "ok" {
					t.Errorf("%q: %q, %v", u, h.Value, h.Err)
				}
			default:
				if !errors.Is(h.Err, ErrInvalidURL) || h.Attempts != 0 || h.Value != "" {
					t.Errorf("%q: %v; want ErrInvalidURL, nothing sent", u, h.Err)
				}
			}
		}
		//lint:ignore SA1012 a nil context on purpose
		for h := range HandleURLs(nil, f, slices.Values([]string{"http://a.test/"}), read) { //nolint:staticcheck
			if h.Err == nil {
				t.Error("HandleURLs(nil ctx): no error")
			}
		}
	})
}

// The default cap (10 MiB) applies to Handle's streamed bodies too, though
// nothing is buffered: a handler streaming a JSON array past it fails with
// ErrBodyTooLarge, and one past it with WithMaxBodySize raised does not.
func TestReviewHandleDefaultCapOnStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		chunk := strings.Repeat(`"`+strings.Repeat("x", 1021)+`",`, 64) // 64 KiB, 64 strings
		stream := func(r *http.Request) (*http.Response, error) {
			chunks := append([]string{"["}, slices.Repeat([]string{chunk}, 11<<4)...) // 11 MiB
			return hrResponse(r, 200, newHRBody(r.Context(), 0, io.EOF, append(chunks, `""]`)...)), nil
		}
		count := func(_ string, resp *http.Response) (int, error) {
			dec := json.NewDecoder(resp.Body)
			if _, err := dec.Token(); err != nil {
				return 0, err
			}
			n := 0
			for dec.More() {
				var v string
				if err := dec.Decode(&v); err != nil {
					return n, err
				}
				n++
			}
			_, err := dec.Token()
			return n, err
		}
		h := hrOne(t, context.Background(), hrFetcher(t, stream), "http://a.test/", count)
		if !errors.Is(h.Err, ErrBodyTooLarge) || h.Attempts != 1 {
			t.Errorf("an 11 MiB JSON stream, default cap: %d, %v; want ErrBodyTooLarge after 1 attempt", h.Value, h.Err)
		}
		h = hrOne(t, context.Background(), hrFetcher(t, stream, WithMaxBodySize(1<<40)), "http://a.test/", count)
		if want := 11<<20/1024 + 1; h.Err != nil || h.Value != want {
			t.Errorf("an 11 MiB JSON stream, 1 TiB cap: %d, %v; want %d", h.Value, h.Err, want)
		}
	})
}

// A request body that is never sent is closed, as http.Client.Do and the
// Fetcher promise for the requests they are given: here, one that
// Handle's newRequest made, or StreamRequests was given, as the caller
// broke out of the loop.
func TestReviewHandleUnsentRequestBodyClosedOnBreak(t *testing.T) {
	post := func(closed *atomic.Bool) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, "http://a.test/search", &hrTrackedBody{Reader: strings.NewReader(`{"q": 1}`), closed: closed})
		return req
	}
	t.Run("Handle", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
			release := make(chan struct{})
			var closed, unused atomic.Bool
			build := func(ctx context.Context, i int) (*http.Request, error) {
				if i == 1 {
					<-release // made as the caller breaks
					return post(&closed), nil
				}
				return post(&unused), nil
			}
			for range Handle(context.Background(), f, slices.Values([]int{0, 1}), build, func(int, *http.Response) (int, error) { return 0, nil }) {
				break
			}
			close(release)
			synctest.Wait()
			if !closed.Load() {
				t.Error("the body of a request made for Handle but never sent was not closed")
			}
		})
	})
	t.Run("StreamRequests", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
			release := make(chan struct{})
			var closed, unused atomic.Bool
			reqs := func(yield func(*http.Request) bool) {
				if !yield(post(&unused)) {
					return
				}
				<-release // yielded as the caller breaks
				yield(post(&closed))
			}
			for range f.StreamRequests(context.Background(), reqs) {
				break
			}
			close(release)
			synctest.Wait()
			if !closed.Load() {
				t.Error("the body of a request given to StreamRequests but never sent was not closed")
			}
		})
	})
}

type hrTrackedBody struct {
	io.Reader
	closed *atomic.Bool
}

func (b *hrTrackedBody) Close() error { b.closed.Store(true); return nil }

// A handler's own verdict on a body it read whole is final, as the doc
// says, even when the handler took longer than the attempt timeout to
// reach it: nothing it read failed, so a retry would read the same.
func TestReviewHandleVerdictAfterAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent.Add(1)
			io.WriteString(w, "<html><body>no table here</body></html>")
		}), WithAttemptTimeout(3*time.Second), WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}))
		invalid := errors.New("no price table in page")
		h := hrOne(t, context.Background(), f, "http://a.test/", func(_ string, resp *http.Response) (int, error) {
			if _, err := io.ReadAll(resp.Body); err != nil {
				return 0, err
			}
			time.Sleep(5 * time.Second) // slow parsing of a body read whole
			return 0, invalid
		})
		if !errors.Is(h.Err, invalid) || !strings.Contains(h.Err.Error(), invalid.Error()) || h.Attempts != 1 || sent.Load() != 1 {
			t.Errorf("a slow handler's own error: %v after %d attempts (%d sent); want %q, final, after 1", h.Err, h.Attempts, sent.Load(), invalid)
		}
	})
}

// If the caller's context ends mid-stream (no break), every input still
// yields exactly one Handled: those not yet sent fail with the context's
// error, without their handler being called.
func TestReviewHandleCancelledMidStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Second)
			io.WriteString(w, "ok")
		}), WithConcurrency(2))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(2500*time.Millisecond, cancel)
		var called atomic.Int64
		urls := make([]string, 20)
		for i := range urls {
			urls[i] = fmt.Sprintf("http://a.test/%d", i)
		}
		seen := map[int]bool{}
		ok, canceled := 0, 0
		for h := range HandleURLs(ctx, f, slices.Values(urls), func(_ string, resp *http.Response) (string, error) {
			called.Add(1)
			b, err := io.ReadAll(resp.Body)
			return string(b), err
		}) {
			if seen[h.Index] || h.Input != urls[h.Index] {
				t.Errorf("result %+v: duplicate, or the wrong input", h)
			}
			seen[h.Index] = true
			switch {
			case h.Err == nil && h.Value == "ok":
				ok++
			case errors.Is(h.Err, context.Canceled):
				canceled++
			default:
				t.Errorf("input %d: %q, %v", h.Index, h.Value, h.Err)
			}
		}
		if len(seen) != 20 || ok != 4 || canceled != 16 || called.Load() != 4 {
			t.Errorf("%d results: %d ok, %d cancelled, handler called %d times; want 20: 4 ok (2 × 2 in 2.5 s), 16 cancelled, 4 calls", len(seen), ok, canceled, called.Load())
		}
	})
}
