package fetch

// Checks of what README.md and the package documentation say, made by a
// review of the documentation as an adopter reads it: each test quotes the
// claim it checks.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
)

// "WithConcurrency(n) | 64 | Requests in flight overall. The batch and
// streaming calls run n workers."
func TestDocReviewDefaultConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c := count(func(w http.ResponseWriter, r *http.Request) { <-release })
		f := newMem(t, c)
		urls := make([]string, 3*DefaultConcurrency)
		for i := range urls {
			urls[i] = fmt.Sprintf("http://h%d.test/", i) // a host each: only the global cap binds
		}
		done := make(chan []Result)
		go func() { done <- f.GetAll(t.Context(), urls) }()
		synctest.Wait()
		if got := c.running.Load(); got != DefaultConcurrency {
			t.Errorf("requests in flight = %d; want DefaultConcurrency, %d", got, DefaultConcurrency)
		}
		close(release)
		for _, r := range <-done {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		if got := c.maxSeen.Load(); got != DefaultConcurrency {
			t.Errorf("most in flight = %d; want %d", got, DefaultConcurrency)
		}
	})
}

// "WithReadAhead(n) | 4096, or 16 × concurrency": while a worker is idle
// because no queued request's host can take it, inputs are read up to the
// read-ahead, and no further.
func TestDocReviewDefaultReadAhead(t *testing.T) {
	for _, tc := range []struct {
		concurrency int
		want        int
	}{
		{2, DefaultReadAhead}, // 16 × 2 is less than 4096
		{512, 16 * 512},       // 16 × 512 is more
	} {
		t.Run(strconv.Itoa(tc.concurrency), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// One host: one request on the wire, the rest queued for it.
				got := inputsRead(t, func(int) string { return "http://one.test/" },
					WithConcurrency(tc.concurrency), WithHostConcurrency(1))
				if got < tc.want || got > tc.want+2 {
					t.Errorf("inputs read = %d; want the read-ahead, %d (and the one in flight)", got, tc.want)
				}
			})
		})
	}
}

// "While the workers are busy, a buffer of up to twice the concurrency is
// kept": with every worker on the wire, to hosts that could all take more,
// reading stops that far ahead.
func TestDocReviewReadAheadWhileBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const concurrency = 4
		got := inputsRead(t, func(i int) string { return fmt.Sprintf("http://h%d.test/", i) }, WithConcurrency(concurrency))
		// Up to twice: reading stops with the buffer full and goes on
		// once half of it is taken.
		if queued := got - concurrency; queued < concurrency || queued > 2*concurrency+1 {
			t.Errorf("inputs queued = %d; want %d in flight and up to twice that queued", queued, concurrency)
		}
	})
}

// inputsRead streams the never-ending input url(0), url(1), ... to a server
// that holds every request, and returns how many inputs Stream has read
// once every goroutine of the bubble is blocked.
func inputsRead(t *testing.T, url func(int) string, opts ...Option) int {
	release := make(chan struct{})
	f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }), opts...)
	var read atomic.Int64
	urls := func(yield func(string) bool) {
		for i := 0; ; i++ {
			read.Add(1)
			if !yield(url(i)) {
				return
			}
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range f.Stream(ctx, urls) {
			return
		}
	}()
	synctest.Wait()
	n := int(read.Load())
	cancel()
	close(release)
	<-done
	return n
}

// "WithRetry(p) | 4 attempts, 100ms base, 10s cap, full jitter,
// Retry-After up to 5 min", and a zero RetryPolicy's fields take those
// values.
func TestDocReviewDefaultRetryPolicy(t *testing.T) {
	d := DefaultRetryPolicy()
	if d.MaxAttempts != 4 || d.BaseDelay != 100*time.Millisecond || d.MaxDelay != 10*time.Second ||
		d.Jitter != FullJitter || d.MaxRetryAfter != 5*time.Minute || d.Retryable == nil {
		t.Errorf("DefaultRetryPolicy() = %+v; want 4 attempts, 100ms, 10s, FullJitter, 5m", d)
	}
	if got := (RetryPolicy{}).Backoff(3, 0); got != 0 {
		t.Errorf("RetryPolicy{}.Backoff = %v; want 0, as documented", got)
	}
	// "Zero means the default, 100ms": unless MaxDelay alone is set
	// below it, when the base is MaxDelay.
	p, err := RetryPolicy{MaxDelay: 10 * time.Millisecond}.withDefaults()
	if err != nil || p.BaseDelay != 10*time.Millisecond {
		t.Errorf("RetryPolicy{MaxDelay: 10ms} takes BaseDelay %v, %v; want 10ms, as its doc says", p.BaseDelay, err)
	}
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, http.StatusServiceUnavailable, nil))
		f := newMem(t, c)
		start := time.Now()
		_, err := f.Get(t.Context(), "http://a.test/")
		var fe *Error
		if !errors.As(err, &fe) || fe.Attempts != 4 || c.n.Load() != 4 {
			t.Fatalf("err = %v, server saw %d; want an *Error after 4 attempts", err, c.n.Load())
		}
		// Full jitter below 100ms, 200ms and 400ms.
		if took := time.Since(start); took >= 700*time.Millisecond {
			t.Errorf("3 retries took %v; want under 700ms with the default backoff", took)
		}
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("err = %v; want a *StatusError 503 under errors.As", err)
		}
	})
	// "Retry-After longer than MaxRetryAfter (default 5 min): *RetryAfterError,
	// at once, with Max set".
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(1, http.StatusTooManyRequests, http.Header{"Retry-After": {"301"}}))
		f := newMem(t, c)
		start := time.Now()
		_, err := f.Get(t.Context(), "http://a.test/")
		var ra *RetryAfterError
		if !errors.As(err, &ra) || ra.Max != 5*time.Minute || time.Since(start) != 0 {
			t.Errorf("err = %v after %v; want a *RetryAfterError with Max 5m, at once", err, time.Since(start))
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v matches DeadlineExceeded; only a deadline's refusal should", err)
		}
	})
}

// "WithMaxBodySize(n) | 10 MiB | ... A larger body is ErrBodyTooLarge,
// never a silent truncation." "A non-2xx status is a *StatusError, which
// carries the response's Header and the first 4 KiB of its Body."
func TestDocReviewBodyCaps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			if r.URL.Path == "/error" {
				w.Header().Set("X-Why", "quota")
				w.WriteHeader(http.StatusBadRequest)
			}
			w.Write(make([]byte, n))
		}))
		b, err := f.Get(t.Context(), "http://a.test/?n="+strconv.Itoa(DefaultMaxBodySize))
		if err != nil || len(b) != 10<<20 {
			t.Errorf("a body of 10 MiB: %d bytes, %v; want it whole", len(b), err)
		}
		_, err = f.Get(t.Context(), "http://a.test/?n="+strconv.Itoa(DefaultMaxBodySize+1))
		var fe *Error
		if !errors.Is(err, ErrBodyTooLarge) || !errors.As(err, &fe) || fe.Attempts != 1 {
			t.Errorf("a body of 10 MiB + 1: %v; want ErrBodyTooLarge, not retried", err)
		}
		_, err = f.Get(t.Context(), "http://a.test/error?n=10000")
		var se *StatusError
		if !errors.As(err, &se) || len(se.Body) != MaxErrorBody || MaxErrorBody != 4096 || se.Header.Get("X-Why") != "quota" {
			t.Errorf("a 400: %v; want a *StatusError with the header and 4 KiB of the body", err)
		}
	})
}

// "WithMaxRedirects(n) | 10 | Redirects to follow before failing with
// ErrTooManyRedirects", and WithClient: "The copy's CheckRedirect first
// asks client's own (net/http's default policy ... if it is nil)", which
// stops after 10 requests, so follows 9 redirects.
func TestDocReviewRedirectLimits(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, _ := strconv.Atoi(r.URL.Query().Get("left")); n > 0 {
			http.Redirect(w, r, "/?left="+strconv.Itoa(n-1), http.StatusFound)
		}
	}))
	defer srv.Close()
	own, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer own.Shutdown(t.Context())
	given, err := New(WithClient(&http.Client{}))
	if err != nil {
		t.Fatal(err)
	}
	defer given.Shutdown(t.Context())
	for _, tc := range []struct {
		name    string
		f       *Fetcher
		follows int
	}{
		{"New", own, DefaultMaxRedirects},
		{"WithClient", given, 9},
	} {
		for _, n := range []int{tc.follows, tc.follows + 1} {
			_, err := tc.f.Get(t.Context(), srv.URL+"/?left="+strconv.Itoa(n))
			if wantErr := n > tc.follows; wantErr != errors.Is(err, ErrTooManyRedirects) {
				t.Errorf("%s, %d redirects: err = %v; want ErrTooManyRedirects %v", tc.name, n, err, wantErr)
			}
		}
	}
}

// "WithMaxHeaderSize(n) | 1 MiB | ... Over HTTP/1.x a larger one is
// ErrHeaderTooLarge".
func TestDocReviewDefaultMaxHeaderSize(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("X-Big", strings.Repeat("x", n))
	}))
	defer srv.Close()
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(t.Context())
	if _, err := f.Get(t.Context(), srv.URL+"/?n="+strconv.Itoa(DefaultMaxHeaderSize-1000)); err != nil {
		t.Errorf("a head just under 1 MiB: %v; want it taken", err)
	}
	if _, err := f.Get(t.Context(), srv.URL+"/?n="+strconv.Itoa(DefaultMaxHeaderSize)); !errors.Is(err, ErrHeaderTooLarge) {
		t.Errorf("a head over 1 MiB: %v; want ErrHeaderTooLarge", err)
	}
}

// "WithCircuitBreaker(b) | off | ... after 5 failures in a row ... calls
// to the host fail at once with *CircuitOpenError, sending nothing, for
// 30 s; then one probe decides whether it closes."
func TestDocReviewCircuitBreakerDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		healthy := atomic.Bool{}
		c := count(func(w http.ResponseWriter, r *http.Request) {
			if !healthy.Load() {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
		f := newMem(t, c, WithCircuitBreaker(CircuitBreaker{}), WithRetry(RetryPolicy{MaxAttempts: 1}))
		for range 5 {
			f.Get(t.Context(), "http://a.test/")
		}
		_, err := f.Get(t.Context(), "http://a.test/")
		var ce *CircuitOpenError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCircuitOpen) || c.n.Load() != 5 {
			t.Fatalf("the 6th call: %v, server saw %d; want *CircuitOpenError matching ErrCircuitOpen, 5 sent", err, c.n.Load())
		}
		if hs := f.Stats().Hosts; len(hs) != 1 || hs[0].Breaker != "open" {
			t.Errorf("Stats().Hosts = %+v; want a.test open", hs)
		}
		time.Sleep(30*time.Second - time.Millisecond)
		if _, err := f.Get(t.Context(), "http://a.test/"); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("just before 30 s: %v; want still open", err)
		}
		time.Sleep(2 * time.Millisecond)
		healthy.Store(true)
		if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
			t.Errorf("the probe after 30 s: %v; want it sent and the breaker closed", err)
		}
		if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
			t.Errorf("after the probe: %v; want closed", err)
		}
	})
}

// "WithRetryBudget(b) | off | Retries to a host at most 20% of its calls
// + 10 over 10 s; a refused retry is a *RetryBudgetError."
func TestDocReviewRetryBudgetDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(1000, http.StatusServiceUnavailable, nil))
		f := newMem(t, c, WithRetryBudget(RetryBudget{}), WithRetry(RetryPolicy{MaxAttempts: 2, Jitter: NoJitter}))
		refused := 0
		for range 50 {
			_, err := f.Get(t.Context(), "http://a.test/")
			var be *RetryBudgetError
			if errors.As(err, &be) {
				refused++
				var se *StatusError
				if !errors.As(err, &se) {
					t.Errorf("err = %v; want it to unwrap to the *StatusError", err)
				}
			}
		}
		if retries := c.n.Load() - 50; retries != 20 || refused != 30 {
			t.Errorf("50 calls made %d retries, %d refused; want 20%% of 50 + 10 = 20, and 30 refused", retries, refused)
		}
	})
}

// The failure table: "invalid URL ... ErrInvalidURL, 0 attempts, no
// network call"; "connection refused | errors.Is(err,
// syscall.ECONNREFUSED) | yes"; ErrClosed after Shutdown.
func TestDocReviewErrorsMatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(ok))
	addr := srv.URL
	srv.Close() // nothing listens there now
	f, err := New(WithRetry(RetryPolicy{BaseDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"file:///etc/passwd", "example.com/a", "http:///x", "http://a.test:70000/"} {
		_, err := f.Get(t.Context(), u)
		var fe *Error
		if !errors.Is(err, ErrInvalidURL) || !errors.As(err, &fe) || fe.Attempts != 0 {
			t.Errorf("Get(%q) = %v; want an *Error matching ErrInvalidURL, 0 attempts", u, err)
		}
	}
	_, err = f.Get(t.Context(), addr)
	var fe *Error
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &fe) || fe.Attempts != 4 {
		t.Errorf("Get(a closed port) = %v; want ECONNREFUSED after 4 attempts", err)
	}
	if err := f.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(t.Context(), addr); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Shutdown = %v; want ErrClosed", err)
	}
	if err := f.Shutdown(t.Context()); err != nil {
		t.Errorf("a second Shutdown = %v; want nil (it may be called more than once)", err)
	}
}

// "A timed-out attempt is retried; its error matches ErrAttemptTimeout"
// ("which also matches context.DeadlineExceeded").
func TestDocReviewAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		f := newMem(t, c, WithAttemptTimeout(time.Second))
		_, err := f.Get(t.Context(), "http://a.test/")
		if !errors.Is(err, ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) || c.n.Load() != 4 {
			t.Errorf("err = %v after %d attempts; want ErrAttemptTimeout and DeadlineExceeded after 4", err, c.n.Load())
		}
	})
}

// GetJSON: "A body that is not one JSON value of T's shape fails with an
// *Error wrapping the decoder's error, not retried".
func TestDocReviewGetJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/ok":
				io.WriteString(w, `{"n": 7}`)
			case "/syntax":
				io.WriteString(w, `{"n": `)
			case "/type":
				io.WriteString(w, `{"n": "seven"}`)
			case "/two":
				io.WriteString(w, `{"n": 1} {"n": 2}`)
			}
		})
		f := newMem(t, c)
		type T struct{ N int }
		if v, err := GetJSON[T](t.Context(), f, "http://a.test/ok"); err != nil || v.N != 7 {
			t.Errorf("GetJSON /ok = %+v, %v", v, err)
		}
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		for path, target := range map[string]any{"/syntax": &syn, "/type": &typ} {
			before := c.n.Load()
			_, err := GetJSON[T](t.Context(), f, "http://a.test"+path)
			var fe *Error
			if !errors.As(err, &fe) || !errors.As(err, target) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("GetJSON %s: %v; want an *Error wrapping the decoder's error", path, err)
			}
			if sent := c.n.Load() - before; sent != 1 {
				t.Errorf("GetJSON %s sent %d requests; want 1, not retried", path, sent)
			}
		}
		if _, err := GetJSON[T](t.Context(), f, "http://a.test/two"); err == nil {
			t.Errorf("GetJSON of two JSON values = nil error; want one: the body is not one JSON value")
		}
	})
}

// Fetch: "the whole Result: status, header, body, and FinalURL, where the
// body came from after redirects"; "Err is set for a non-2xx status too,
// and Status and Body are then still set".
func TestDocReviewFetchResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/old":
				http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			case "/new":
				w.Header().Set("X-Here", "yes")
				io.WriteString(w, "body")
			default:
				http.Error(w, "missing", http.StatusNotFound)
			}
		}))
		r := f.Fetch(t.Context(), "http://a.test/old")
		if r.Err != nil || r.Status != 200 || string(r.Body) != "body" || r.Header.Get("X-Here") != "yes" ||
			r.FinalURL != "http://a.test/new" || r.URL != "http://a.test/old" || r.Attempts != 1 {
			t.Errorf("Fetch = %+v", r)
		}
		r = f.Fetch(t.Context(), "http://a.test/gone")
		var se *StatusError
		if !errors.As(r.Err, &se) || r.Status != 404 || !strings.Contains(string(r.Body), "missing") {
			t.Errorf("Fetch of a 404 = %+v; want Err a *StatusError, Status and Body set", r)
		}
	})
}

// GetAll: "one Result per input, in input order. Each result carries its
// own error"; GetAllFailFast: "the first failure cancels the rest and is
// returned", the cancelled ones "carry an error matching context.Canceled".
func TestDocReviewBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				select {
				case <-time.After(time.Minute):
				case <-r.Context().Done():
				}
				return
			}
			if r.URL.Path == "/bad" {
				w.WriteHeader(http.StatusNotFound)
			}
			io.WriteString(w, r.URL.Path)
		}), WithRetry(RetryPolicy{MaxAttempts: 1}))
		urls := []string{"http://a.test/x", "http://b.test/bad", "ftp://c.test/", "http://d.test/y"}
		rs := f.GetAll(t.Context(), urls)
		for i, r := range rs {
			if r.Index != i || (r.Err == nil) != (i == 0 || i == 3) {
				t.Errorf("GetAll result %d = %+v", i, r)
			}
		}
		start := time.Now()
		rs, err := f.GetAllFailFast(t.Context(), []string{"http://s.test/slow", "http://b.test/bad"})
		var se *StatusError
		if !errors.As(err, &se) || time.Since(start) != 0 {
			t.Errorf("GetAllFailFast err = %v after %v; want the 404, at once", err, time.Since(start))
		}
		if !errors.Is(rs[0].Err, context.Canceled) {
			t.Errorf("the slow request's result: %v; want context.Canceled", rs[0].Err)
		}
	})
}

// Stream: "Every input yields exactly one result. Breaking out of the loop
// cancels the rest and returns once they have ended".
func TestDocReviewStreamBreak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var started, ended atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started.Add(1)
			defer ended.Add(1)
			if r.URL.Path == "/fast" {
				return
			}
			<-r.Context().Done()
		}))
		urls := []string{"http://a.test/fast"}
		for i := range 10 {
			urls = append(urls, fmt.Sprintf("http://h%d.test/slow", i))
		}
		n := 0
		for r := range f.Stream(t.Context(), slices.Values(urls)) {
			n++
			if r.URL != "http://a.test/fast" {
				t.Errorf("first result %s; want the fast one", r.URL)
			}
			break
		}
		if got, sent := ended.Load(), started.Load(); got != sent {
			t.Errorf("after the break, %d of the %d requests sent have ended; want all", got, sent)
		}
		seen := map[int]bool{}
		for r := range f.Stream(t.Context(), slices.Values([]string{"http://a.test/fast", "::", "http://a.test/fast"})) {
			seen[r.Index] = true
		}
		if len(seen) != 3 {
			t.Errorf("results for inputs %v; want one for each of 3", seen)
		}
	})
}

// Hooks: "A call that fails before it starts (an invalid request, or one
// made after Shutdown) runs none of them"; "A hook that panics fails its
// call with a *PanicError".
func TestDocReviewHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		f := newMem(t, http.HandlerFunc(ok), WithHooks(Hooks{
			OnCall: func(ctx context.Context, info CallInfo) context.Context {
				calls.Add(1)
				if info.Request.URL.Path == "/panic" {
					panic("hook")
				}
				return ctx
			},
		}))
		f.Get(t.Context(), "ftp://a.test/")
		if calls.Load() != 0 {
			t.Errorf("OnCall ran for an invalid URL")
		}
		_, err := f.Get(t.Context(), "http://a.test/panic")
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Value != "hook" {
			t.Errorf("a panicking OnCall: %v; want a *PanicError", err)
		}
		st := f.Stats()
		if st.Calls != st.Succeeded+st.Failed.Total() {
			t.Errorf("Stats %+v: Calls is not Succeeded plus Failed.Total()", st)
		}
	})
}

// Limiter: "a limiter that cannot decide should wrap ErrLimiterUnavailable";
// the failure table: "ErrLimiterUnavailable, 0 attempts, nothing sent".
func TestDocReviewLimiterUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, WithLimiter(limiterFunc(func(context.Context) error {
			return fmt.Errorf("store down: %w", ErrLimiterUnavailable)
		})))
		_, err := f.Get(t.Context(), "http://a.test/")
		var fe *Error
		if !errors.Is(err, ErrLimiterUnavailable) || !errors.As(err, &fe) || fe.Attempts != 0 || c.n.Load() != 0 {
			t.Errorf("err = %v, server saw %d; want ErrLimiterUnavailable, 0 attempts, nothing sent", err, c.n.Load())
		}
	})
}

type limiterFunc func(context.Context) error

func (l limiterFunc) Wait(ctx context.Context) error { return l(ctx) }

// Handle: "fetch.RetryableError(err) marks a handler error worth
// retrying"; any other handler error "fails the input at once".
func TestDocReviewHandleRetryable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c)
		errBad := errors.New("bad page")
		var tries atomic.Int64
		for h := range HandleURLs(t.Context(), f, slices.Values([]string{"http://a.test/retry", "http://a.test/fail"}),
			func(u string, resp *http.Response) (string, error) {
				if strings.HasSuffix(u, "/fail") {
					return "", errBad
				}
				if tries.Add(1) < 3 {
					return "", RetryableError(errBad)
				}
				b, err := io.ReadAll(resp.Body)
				return string(b), err
			}) {
			switch {
			case strings.HasSuffix(h.Input, "/retry") && (h.Err != nil || h.Value != "ok" || h.Attempts != 3):
				t.Errorf("retried input: %+v; want ok after 3 attempts", h)
			case strings.HasSuffix(h.Input, "/fail") && (!errors.Is(h.Err, errBad) || h.Attempts != 1):
				t.Errorf("failed input: %+v; want errBad after 1 attempt", h)
			}
		}
	})
}

// A panic in StreamFunc's newRequest, which runs on the goroutine that
// reads the input, is raised on the caller's goroutine as a *PanicError,
// as one in the input iterator is.
func TestDocReviewStreamFuncPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		defer func() {
			pe, ok := recover().(*PanicError)
			if !ok || pe.Value != "build" {
				t.Errorf("recovered %v; want a *PanicError with the value", pe)
			}
		}()
		build := func(ctx context.Context, n int) (*http.Request, error) { panic("build") }
		for range StreamFunc(t.Context(), f, slices.Values([]int{1}), build) {
		}
		t.Errorf("StreamFunc returned; want the panic raised")
	})
}

// WithTransportWrapper: "wrap must not return nil". A nil RoundTripper would
// make net/http send through http.DefaultTransport, out of reach of the
// SSRF guard, the header cap and the tuned pool: New refuses it.
func TestDocReviewTransportWrapperNil(t *testing.T) {
	_, err := New(WithBlockPrivateAddresses(), WithTransportWrapper(func(http.RoundTripper) http.RoundTripper { return nil }))
	if err == nil || !strings.Contains(err.Error(), "WithTransportWrapper") {
		t.Errorf("New with a wrap returning nil: %v; want an error naming WithTransportWrapper", err)
	}
}

// Nil and zero arguments that the documentation says New and NewCrawler
// refuse, each with an error naming the option.
func TestDocReviewNilOptions(t *testing.T) {
	for name, opt := range map[string]Option{
		"WithClient":           WithClient(nil),
		"WithLimiter":          WithLimiter(nil),
		"WithHostLimiter":      WithHostLimiter(nil),
		"WithTLSConfig":        WithTLSConfig(nil),
		"WithTransportWrapper": WithTransportWrapper(nil),
		"WithConcurrency":      WithConcurrency(0),
		"WithReadAhead":        WithReadAhead(0),
		"WithRate":             WithRate(0, 1),
		"WithAdaptiveRate":     WithAdaptiveRate(AdaptiveRate{}),
		"WithHeader":           WithHeader("bad name", "v"),
	} {
		if _, err := New(opt); err == nil || !strings.Contains(err.Error(), name) && !strings.Contains(err.Error(), "AdaptiveRate") {
			t.Errorf("New(%s(nil or zero)) = %v; want an error naming it", name, err)
		}
	}
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewCrawler(nil); err == nil {
		t.Errorf("NewCrawler(nil) succeeded")
	}
	for name, opt := range map[string]CrawlOption{
		"CrawlScope":     CrawlScope(nil),
		"CrawlFrontier":  CrawlFrontier(nil),
		"CrawlUserAgent": CrawlUserAgent(""),
		"CrawlMaxPages":  CrawlMaxPages(0),
		"CrawlHosts":     CrawlHosts(),
	} {
		if _, err := NewCrawler(f, opt); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("NewCrawler(f, %s(nil or zero)) = %v; want an error naming it", name, err)
		}
	}
	// A nil context is refused, not a panic: every input still yields
	// one result.
	//lint:ignore SA1012 the nil context is the point
	if _, err := f.Get(nil, "http://a.test/"); err == nil {
		t.Errorf("Get(nil ctx) succeeded")
	}
	n := 0
	//lint:ignore SA1012 the nil context is the point
	for r := range f.Stream(nil, slices.Values([]string{"http://a.test/", "http://b.test/"})) {
		n++
		if r.Err == nil {
			t.Errorf("Stream(nil ctx) result without an error")
		}
	}
	if n != 2 {
		t.Errorf("Stream(nil ctx) yielded %d results; want 2", n)
	}
}

// TaskGroup, as the README's table says: "errgroup's Go/TryGo/SetLimit/Wait
// with asyncio.TaskGroup's semantics: the first failure cancels the
// siblings, Wait returns every real failure (errors.Join), and a panic
// becomes a *PanicError."
func TestDocReviewTaskGroup(t *testing.T) {
	errA, errB := errors.New("A"), errors.New("B")

	t.Run("first failure cancels, with the failure as cause", func(t *testing.T) {
		g, ctx := NewTaskGroup(t.Context())
		g.Go(func() error { return errA })
		g.Go(func() error { <-ctx.Done(); return ctx.Err() }) // a cancellation it caused: left out
		err := g.Wait()
		if !errors.Is(err, errA) || errors.Is(err, context.Canceled) || !errors.Is(context.Cause(ctx), errA) {
			t.Errorf("Wait = %v, cause %v; want A alone, and A as the cause", err, context.Cause(ctx))
		}
	})

	t.Run("every real failure", func(t *testing.T) {
		g, ctx := NewTaskGroup(t.Context())
		started := make(chan struct{}) // else B may be skipped: it would start after A failed
		g.Go(func() error { close(started); <-ctx.Done(); return fmt.Errorf("cleaning up: %w", errB) })
		g.Go(func() error { <-started; return errA })
		err := g.Wait()
		if !errors.Is(err, errA) || !errors.Is(err, errB) {
			t.Errorf("Wait = %v; want A and B joined", err)
		}
	})

	t.Run("panic", func(t *testing.T) {
		g, ctx := NewTaskGroup(t.Context())
		g.Go(func() error { panic(errA) })
		g.Go(func() error { <-ctx.Done(); return nil }) // run or skipped: either way it ends
		err := g.Wait()
		var pe *PanicError
		if !errors.As(err, &pe) || !errors.Is(err, errA) || len(pe.Stack) == 0 {
			t.Errorf("Wait = %v; want a *PanicError with the stack, matching the panic's error", err)
		}
	})

	t.Run("Wait twice", func(t *testing.T) {
		g, _ := NewTaskGroup(t.Context())
		g.Go(func() error { return errA })
		if e1, e2 := g.Wait(), g.Wait(); !errors.Is(e1, errA) || e1.Error() != e2.Error() {
			t.Errorf("Wait, Wait = %v, %v; want A both times", e1, e2)
		}
	})

	t.Run("Go and TryGo after Wait", func(t *testing.T) {
		g, ctx := NewTaskGroup(t.Context())
		g.Wait()
		if ctx.Err() == nil {
			t.Errorf("the context is live after Wait; want it cancelled")
		}
		var ran atomic.Bool
		g.Go(func() error { ran.Store(true); return errA })
		if g.TryGo(func() error { ran.Store(true); return errA }) {
			t.Errorf("TryGo after Wait = true; want false")
		}
		if err := g.Wait(); err != nil || ran.Load() {
			t.Errorf("after Go following Wait: Wait = %v, ran %v; want the task skipped, nil", err, ran.Load())
		}
	})

	t.Run("zero TaskGroup", func(t *testing.T) {
		var g TaskGroup
		done := make(chan struct{})
		g.Go(func() error { return errA })
		g.Go(func() error { <-done; return errB }) // not cancelled: it runs to its end
		close(done)
		if err := g.Wait(); !errors.Is(err, errA) || !errors.Is(err, errB) {
			t.Errorf("Wait = %v; want both errors", err)
		}
	})

	t.Run("SetLimit", func(t *testing.T) {
		g, _ := NewTaskGroup(t.Context())
		g.SetLimit(1)
		block := make(chan struct{})
		g.Go(func() error { <-block; return nil })
		if g.TryGo(func() error { return nil }) {
			t.Errorf("TryGo at the limit = true; want false")
		}
		close(block)
		g.Wait()

		var z TaskGroup
		z.SetLimit(0)
		if z.TryGo(func() error { return nil }) {
			t.Errorf("TryGo with a limit of 0 = true; want false")
		}
	})

	t.Run("SetLimit while tasks run", func(t *testing.T) {
		// "It must not be called while tasks are running": with a limit
		// set before, errgroup's SetLimit underneath panics. (With none,
		// it would leave Wait blocked for ever: not tested.)
		var g TaskGroup
		g.SetLimit(4)
		block := make(chan struct{})
		g.Go(func() error { <-block; return nil })
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetLimit while a task runs did not panic")
				}
			}()
			g.SetLimit(2)
		}()
		close(block)
		g.Wait()
	})

	t.Run("parent cancelled", func(t *testing.T) {
		parent, cancel := context.WithCancelCause(t.Context())
		g, ctx := NewTaskGroup(parent)
		started := make(chan struct{})
		g.Go(func() error { close(started); <-ctx.Done(); return ctx.Err() })
		<-started
		cancel(errB)
		if err := g.Wait(); !errors.Is(err, errB) {
			t.Errorf("Wait = %v; want the parent's cause", err)
		}
	})

	t.Run("a fetch cancelled by a sibling is not a failure", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
			g, ctx := NewTaskGroup(t.Context())
			g.Go(func() error { _, err := f.Get(ctx, "http://a.test/"); return err })
			g.Go(func() error { time.Sleep(time.Second); return errA })
			if err := g.Wait(); err == nil || err.Error() != "A" {
				t.Errorf("Wait = %v; want A alone", err)
			}
		})
	})
}

// Stream's iterator may be ranged over once per call; the "Calls" table
// names StreamFunc and Handle as the generic forms. Both accept any
// iter.Seq, including one that yields nothing.
func TestDocReviewEmptyInputs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		var none iter.Seq[string] = func(func(string) bool) {}
		for range f.Stream(t.Context(), none) {
			t.Errorf("a result for no input")
		}
		if rs := f.GetAll(t.Context(), nil); len(rs) != 0 {
			t.Errorf("GetAll(nil) = %v; want none", rs)
		}
		rs, err := f.DoAllFailFast(t.Context(), nil)
		if len(rs) != 0 || err != nil {
			t.Errorf("DoAllFailFast(nil) = %v, %v", rs, err)
		}
	})
}

// WithClient: "its Timeout, if set, bounds each attempt", as
// WithAttemptTimeout does: each attempt times out and is retried.
func TestDocReviewClientTimeoutPerAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) < 3 {
				<-r.Context().Done()
				return
			}
			io.WriteString(w, "ok")
		})
		client := memhttp.Client(h)
		client.Timeout = time.Second
		f, err := New(WithClient(client))
		if err != nil {
			t.Fatal(err)
		}
		r := f.Fetch(t.Context(), "http://a.test/")
		if r.Err != nil || r.Attempts != 3 {
			t.Errorf("Fetch = %v after %d attempts; want ok after 3, each bounded by the client's Timeout", r.Err, r.Attempts)
		}
	})
}

// "f.Do(req) | ... You close the body, which holds the request's slot
// until you do."
func TestDocReviewDoBodyHoldsSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithConcurrency(1))
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan error)
		go func() { _, err := f.Get(t.Context(), "http://b.test/"); got <- err }()
		synctest.Wait()
		select {
		case err := <-got:
			t.Fatalf("Get went through (%v) while Do's body was open; want it to wait for the slot", err)
		default:
		}
		if st := f.Stats(); st.InFlight != 1 || st.Waiting != 1 {
			t.Errorf("Stats: InFlight %d, Waiting %d; want 1, 1", st.InFlight, st.Waiting)
		}
		resp.Body.Close()
		if err := <-got; err != nil {
			t.Errorf("Get after the body closed: %v", err)
		}
	})
}

// "Breaking out of the loop returns at once, even while urls is blocked
// (waiting on a channel, say) ... the goroutine reading urls is not waited
// for. It ends when urls next yields, which then returns false."
func TestDocReviewStreamBreakBlockedInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		more := make(chan string)
		var afterBreak atomic.Int64
		urls := func(yield func(string) bool) {
			if !yield("http://a.test/") {
				return
			}
			for u := range more {
				if !yield(u) {
					afterBreak.Add(1)
					return
				}
			}
		}
		start := time.Now()
		for range f.Stream(t.Context(), urls) {
			break
		}
		if took := time.Since(start); took != 0 {
			t.Errorf("the break took %v; want at once", took)
		}
		more <- "http://a.test/late" // the input's next yield
		synctest.Wait()
		if afterBreak.Load() != 1 {
			t.Errorf("the input's yield after the break did not return false")
		}
		close(more)
	})
}

// "Hosts are named by host and port, lower-cased, without the scheme's
// default port: HTTP://A.test:80/ and http://a.test/ share one host's
// limits."
func TestDocReviewHostNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hosts []string
		f := newMem(t, http.HandlerFunc(ok), WithHooks(Hooks{OnCall: func(ctx context.Context, info CallInfo) context.Context {
			hosts = append(hosts, info.Host)
			return ctx
		}}))
		for _, u := range []string{"HTTP://A.test:80/", "http://a.test/", "https://a.test:443/", "http://a.test:8080/"} {
			if _, err := f.Get(t.Context(), u); err != nil {
				t.Fatal(err)
			}
		}
		if want := []string{"a.test", "a.test", "a.test", "a.test:8080"}; !slices.Equal(hosts, want) {
			t.Errorf("hosts %q; want %q", hosts, want)
		}
	})
}
