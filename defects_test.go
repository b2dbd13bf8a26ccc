package fetch

// Defects found by review of the attempt rebuild (3ea14bf..5cf6837), one
// test each; every one failed before its fix.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
	"go.uber.org/goleak"
	"golang.org/x/time/rate"
)

// shutdownWithin reports whether f drains within d (fake time in a bubble).
func shutdownWithin(f *Fetcher, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return f.Shutdown(ctx)
}

// F1. A retryable status (503) whose retry MaxElapsed forbids is handed
// back by decide as "done, no error" — but for the calls that read the body
// (Get, Fetch, GetAll, Stream, GetJSON, Handle) consume never ran, so do
// returns an unread body wrapped in slotBody that nobody closes: the global
// and host slot, the host reference and the Fetcher's active count leak,
// and the call reports success (Err nil) for a 503 with no body.
func TestDefectMaxElapsedLeaksSlotAndLosesError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("down"))
		}), WithConcurrency(1), WithRetry(RetryPolicy{MaxAttempts: 4, BaseDelay: time.Second, Jitter: NoJitter, MaxElapsed: time.Millisecond}))
		r := f.Fetch(context.Background(), "http://a.test/")
		var se *StatusError
		if !errors.As(r.Err, &se) {
			t.Errorf("Fetch of a 503 past MaxElapsed: Err = %v, Status = %d, Body = %q; want a *StatusError (Result doc: Err is nil only for a 2xx)", r.Err, r.Status, r.Body)
		}
		if n := f.Stats().InFlight; n != 0 {
			t.Errorf("Stats().InFlight = %d after Fetch returned; want 0 (slot leaked)", n)
		}
		if err := shutdownWithin(f, time.Minute); err != nil {
			t.Errorf("Shutdown: %v; want it to drain (the call never exited)", err)
		}
	})
}

// F1b. The same leak through GetJSON/Handle: the value is zero, Err is nil.
func TestDefectMaxElapsedGetJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}), WithRetry(RetryPolicy{BaseDelay: time.Second, Jitter: NoJitter, MaxElapsed: time.Millisecond}))
		v, err := GetJSON[map[string]int](context.Background(), f, "http://a.test/")
		if err == nil {
			t.Errorf("GetJSON of a 503 past MaxElapsed = %v, nil; want an error", v)
		}
		if err := shutdownWithin(f, time.Minute); err != nil {
			t.Errorf("Shutdown: %v; want it to drain", err)
		}
	})
}

// F2. A call handed over by the scheduler with its gates held (held != nil)
// that begin refuses because Shutdown has begun never gave the held slots
// back (3ea14bf released them in do). The scheduler now registers the call
// (enter) as it passes its gates, so Shutdown cannot land between take and
// do: it waits for the call, which runs, and its slots come back. Here the
// white-box path is the one take → worker → fetch → do follows.
func TestDefectHeldSlotsLeakWhenClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, WithConcurrency(2), WithHostConcurrency(1))
		h := f.gates.hosts.get("a.test") // the scheduler's queue reference
		if err := f.gates.take(context.Background(), h); err != nil {
			t.Fatal(err)
		}
		if !f.enter() { // as the scheduler does once it holds the gates
			t.Fatal("enter refused before Shutdown")
		}
		shut := make(chan error, 1)
		go func() { shut <- f.Shutdown(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned (%v) before the handed-over call ran", err)
		default:
		}
		req, _ := http.NewRequest("GET", "http://a.test/", nil)
		resp, _, err := f.do(req, nil, handOff{held: h})
		if err != nil {
			t.Fatalf("do of a call registered before Shutdown: %v", err)
		}
		resp.Body.Close()
		if err := <-shut; err != nil {
			t.Fatal(err)
		}
		if n := f.gates.slots.inFlight(); n != 0 {
			t.Errorf("global slots held after the handed-over call: %d; want 0", n)
		}
		if n := h.slots.inFlight(); n != 0 {
			t.Errorf("host slots held after the handed-over call: %d; want 0", n)
		}
		// A held call refused by validation gives back its slots and its
		// registration: Shutdown has returned, and an invalid request is
		// still refused as such.
		if err := f.gates.take(context.Background(), h); err != nil {
			t.Fatal(err)
		}
		f.active.Add(1) // registered, as by the scheduler before Shutdown
		bad, _ := http.NewRequest("GET", "http://a.test/", nil)
		bad.URL.Host = ""
		if _, _, err := f.do(bad, nil, handOff{held: h}); !errors.Is(err, ErrInvalidURL) {
			t.Errorf("do of an invalid held request: %v; want ErrInvalidURL", err)
		}
		if n := f.active.Load(); n != 0 {
			t.Errorf("calls registered after the refusal: %d; want 0", n)
		}
		if n := f.gates.slots.inFlight(); n != 0 {
			t.Errorf("global slots held after a refused held call: %d; want 0", n)
		}
		if n := h.slots.inFlight(); n != 0 {
			t.Errorf("host slots held after a refused held call: %d; want 0", n)
		}
	})
}

// F3. The calls that read bodies turn a non-2xx into o.err (a StatusError)
// inside the attempt, and the breaker's default IsFailure sees err != nil:
// a run of 404s from Get trips the breaker, which the same 404s via Do
// would not (default IsFailure: transport error, 429, 5xx).
func TestDefectBreakerCounts404AsFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		}), WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 2}))
		for range 2 {
			f.Get(context.Background(), "http://a.test/missing")
		}
		_, err := f.Get(context.Background(), "http://a.test/other")
		if errors.Is(err, ErrCircuitOpen) {
			t.Errorf("after two 404s from Get: %v; a 404 is not a failure by CircuitBreaker's doc", err)
		}
	})
}

// F4. Same root cause for the adaptive rate: overloaded() treats any
// o.read && o.err != nil as "not overload unless attempt timeout", so a
// final 429 read by Get (last attempt, or a non-idempotent method) is not
// an overload signal — and throttle.observe then GROWS the rate (429 < 500).
func TestDefectAdaptiveIgnoresFinal429FromGet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		newF := func() *Fetcher {
			return newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusTooManyRequests)
			}), WithRetry(RetryPolicy{MaxAttempts: 1}), WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 100, Initial: 10}))
		}
		viaDo := newF()
		if resp, err := viaDo.Do(mustGet(t, "http://a.test/")); err == nil {
			resp.Body.Close()
		}
		viaGet := newF()
		viaGet.Get(context.Background(), "http://a.test/")
		d, g := viaDo.Stats().Hosts, viaGet.Stats().Hosts
		if len(d) != 1 || len(g) != 1 || d[0].Cuts != g[0].Cuts {
			t.Errorf("the same final 429: via Do Hosts = %+v; via Get Hosts = %+v; want the same cut", d, g)
		}
	})
}

// F5. The breaker's done is told of an outcome of ANOTHER host: a call to
// a.test redirected to b.test, which fails, counts against a.test's breaker.
func TestDefectBreakerBlamesOriginForRedirectTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Host == "a.test" {
				http.Redirect(w, r, "http://b.test/", http.StatusFound)
				return
			}
			w.WriteHeader(http.StatusInternalServerError)
		}), WithRetry(RetryPolicy{MaxAttempts: 1}), WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 2}))
		for range 2 {
			resp, err := f.Do(mustGet(t, "http://a.test/"))
			if err == nil {
				resp.Body.Close()
			}
		}
		for _, hs := range f.Stats().Hosts {
			if hs.Host == "a.test" && hs.Breaker != "" {
				t.Errorf("a.test's breaker is %q after b.test failed twice; a.test answered every time with a 302", hs.Breaker)
			}
		}
	})
}

// F6. An open breaker is consulted only after the call has waited for the
// host's pause, a rate token and a slot: "fails at once" takes as long as
// the host's rate says, and spends the token.
func TestDefectOpenBreakerWaitsForRateFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
		}), WithRetry(RetryPolicy{MaxAttempts: 1}), WithHostRate(0.1, 1),
			WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1, OpenFor: time.Hour}))
		f.Get(context.Background(), "http://a.test/") // trips it
		start := time.Now()
		_, err := f.Get(context.Background(), "http://a.test/")
		if !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("second Get: %v; want ErrCircuitOpen", err)
		}
		if d := time.Since(start); d > 0 {
			t.Errorf("an open breaker refused after %v; want at once (CircuitBreaker doc: fails at once)", d)
		}
	})
}

// F7. The attempt that trips the breaker is retried into it: the call
// fails with a *CircuitOpenError whose doc says "Nothing was sent", and the
// real cause (the 503 and its body) is lost.
func TestDefectBreakerTripLosesCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"db down"}`))
		}), WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1}))
		_, err := f.Get(context.Background(), "http://a.test/")
		var e *Error
		errors.As(err, &e)
		var se *StatusError
		if errors.Is(err, ErrCircuitOpen) && !errors.As(err, &se) {
			t.Errorf("Get: %v (Attempts %d); the 503 that tripped the breaker is lost, and CircuitOpenError says nothing was sent", err, e.Attempts)
		}
	})
}

// F8. A panic in the body handler (here: a type whose UnmarshalJSON
// panics; for Handle, the user's handler) unwinds through do without
// finish: the slot, host reference, active count and the breaker's
// two-step done all leak. With a half-open breaker (Probes: 1), the leaked
// done wedges the host's breaker for good.
type panicky struct{}

func (*panicky) UnmarshalJSON([]byte) error { panic("boom") }

func TestDefectHandlerPanicLeaks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{}`))
		}), WithCircuitBreaker(CircuitBreaker{}))
		func() {
			defer func() { recover() }()
			GetJSON[panicky](context.Background(), f, "http://a.test/")
		}()
		if n := f.Stats().InFlight; n != 0 {
			t.Errorf("Stats().InFlight = %d after a handler panic; want 0", n)
		}
		if err := shutdownWithin(f, time.Minute); err != nil {
			t.Errorf("Shutdown after a handler panic: %v; want it to drain", err)
		}
	})
}

// F9. Breaker IsFailure's doc: "exactly one of resp and err is non-nil".
// For a body-reading call whose body read failed, both are set.
func TestDefectIsFailureGetsBoth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		both := false
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
		}), WithCircuitBreaker(CircuitBreaker{IsFailure: func(resp *http.Response, err error) bool {
			both = both || resp != nil && err != nil
			return err != nil
		}}))
		f.Get(context.Background(), "http://a.test/")
		if both {
			t.Errorf("IsFailure was called with both resp and err set; its doc says exactly one is")
		}
	})
}

// F10. WithMaxBodySize(math.MaxInt64) ("no cap") is accepted, but
// cappedBody computes b.left+1, which overflows: the handler's first Read
// slices p[:MinInt64] and panics (on a worker goroutine for Handle: the
// process dies). readBody's io.LimitReader(limit+1) has the same overflow
// and silently returns an empty body for a chunked response.
func TestDefectMaxBodySizeOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"a":1}`))
		}), WithMaxBodySize(1<<63-1))
		var v map[string]int
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					err = errors.New("panic: " + toString(p))
				}
			}()
			v, err = GetJSON[map[string]int](context.Background(), f, "http://a.test/")
		}()
		if err != nil || v["a"] != 1 {
			t.Errorf("GetJSON with WithMaxBodySize(MaxInt64) = %v, %v; want map[a:1], nil", v, err)
		}
	})
}

func toString(v any) string {
	if e, ok := v.(error); ok {
		return e.Error()
	}
	if s, ok := v.(string); ok {
		return s
	}
	return "?"
}

func TestDefectMaxBodySizeOverflowGet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`hello`))
		}), WithMaxBodySize(1<<63-1))
		r := f.Fetch(context.Background(), "http://a.test/")
		if string(r.Body) != "hello" {
			t.Errorf("Fetch with WithMaxBodySize(MaxInt64): Body = %q (ContentLength path?) Err = %v; want hello", r.Body, r.Err)
		}
	})
}

// F11. DoAll/StreamRequests send req.WithContext(preparedCall(ctx)), a
// shallow copy sharing the caller's Header map; newCall then sees a
// prepared call and applies the Fetcher's default headers with
// shared=false, writing into the caller's map. The caller's request is
// modified, and the same request sent twice (or by two DoAll calls) is a
// concurrent map write (run with -race).
func TestDefectDoAllMutatesCallerHeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithHeader("User-Agent", "fetch-review"))
		req := mustGet(t, "http://a.test/")
		f.DoAll(context.Background(), []*http.Request{req, req, req, req})
		if v := req.Header.Get("User-Agent"); v != "" {
			t.Errorf("caller's req.Header[User-Agent] = %q after DoAll; want it untouched", v)
		}
	})
}

// A call that reads bodies and is refused a retry keeps the response that
// was refused: Result.Status and Header say what failed, and the
// StatusError has the start of the body.
func TestDefectRefusedRetryKeepsStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("back soon"))
		}))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r := f.Fetch(ctx, "http://a.test/")
		var ra *RetryAfterError
		var se *StatusError
		if !errors.As(r.Err, &ra) || !errors.As(r.Err, &se) || r.Status != 503 || string(se.Body) != "back soon" {
			t.Errorf("Fetch = status %d, %v (body %q); want 503 and a RetryAfterError with the body", r.Status, r.Err, se.Body)
		}
	})
}

// A circuit breaker that opens on a call's own failures, refusing its
// retry, carries that failure with its body.
func TestDefectBreakerRefusalKeepsBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"db down"}`))
		}), WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1}))
		_, err := f.Get(context.Background(), "http://a.test/")
		var se *StatusError
		if !errors.Is(err, ErrCircuitOpen) || !errors.As(err, &se) || string(se.Body) != `{"error":"db down"}` {
			t.Errorf("Get = %v; want the breaker's refusal carrying the 503 and its body", err)
		}
	})
}

// A panic in OnDone on a call that failed is not lost: the call's error
// carries it too.
func TestDefectOnDonePanicOnFailedCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.NotFoundHandler(), WithHooks(Hooks{OnDone: func(DoneInfo) { panic("hook") }}))
		_, err := f.Get(context.Background(), "http://a.test/")
		var pe *PanicError
		var se *StatusError
		if !errors.As(err, &pe) || !errors.As(err, &se) {
			t.Errorf("Get = %v; want both the 404 and the hook's panic", err)
		}
	})
}

// Found by a second review, of the typed handler path, request options, the
// crawl and the TaskGroup.

// GetJSON: a complete body that is not JSON (one cut inside a value but
// sent whole with its Content-Length, or an empty one) is the decoder's
// error, not retried as a body cut short on the wire would be.
func TestGetJSONOfAWholeBadBodyNotRetried(t *testing.T) {
	for _, body := range []string{`{"a": 1`, ""} {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int64
			f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, body)
			}))
			_, err := GetJSON[map[string]int](context.Background(), f, "http://a.test/")
			if err == nil {
				t.Fatalf("GetJSON of %q: no error; want a decoding error", body)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("GetJSON of a whole body %q sent %d requests (err %v); want 1: the doc says a body that is not JSON of T's shape is not retried", body, n, err)
			}
			if body == "" && (errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "empty body")) {
				t.Errorf("GetJSON of an empty body: %v; want it said, and not to match io.EOF (a cut)", err)
			}
		})
	}
}

// GetJSON: a body holding more than one JSON value, or JSON followed by
// garbage, is not "JSON of T's shape"; json.Unmarshal refuses it.
func TestGetJSONTrailingGarbage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"a": 1}<br><b>Warning</b>: something broke`)
		}))
		v, err := GetJSON[map[string]int](context.Background(), f, "http://a.test/")
		if err == nil {
			t.Errorf("GetJSON of `{\"a\": 1}<br>...` = %v, nil; want a decoding error, as json.Unmarshal gives", v)
		}
	})
}

// A per-call Header("Host", ...) (like curl -H "Host: ...") must reach the
// server; net/http ignores a Host entry in Request.Header.
func TestHeaderHostReachesServer(t *testing.T) {
	var mu sync.Mutex
	var hosts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		mu.Unlock()
	}))
	defer srv.Close()
	f, err := New(WithHeader("Host", "default.example"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	if _, err := f.Get(t.Context(), srv.URL, Header("Host", "api.example")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(t.Context(), srv.URL); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hosts) != 2 || hosts[0] != "api.example" || hosts[1] != "default.example" {
		t.Errorf("server saw Host %q; want [api.example default.example]: Header(\"Host\", v) and WithHeader(\"Host\", v) are silently dropped", hosts)
	}
}

// Handle: an error the handler returns, not marked with RetryableError,
// fails the input at once, even if it wraps io.ErrUnexpectedEOF (a parser
// that found a record cut short in a body the server sent whole).
func TestHandleUnmarkedErrorNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			io.WriteString(w, "id,name\n1,")
		}))
		var last Handled[string, int]
		for h := range HandleURLs(context.Background(), f, slices.Values([]string{"http://a.test/x.csv"}),
			func(_ string, resp *http.Response) (int, error) {
				io.ReadAll(resp.Body) // the whole body, read to its end
				return 0, fmt.Errorf("record 1: %w", io.ErrUnexpectedEOF)
			}) {
			last = h
		}
		if last.Err == nil || calls.Load() != 1 || last.Attempts != 1 {
			t.Errorf("an unmarked handler error: %v after %d attempts (%d requests); want it after 1: the doc says only RetryableError is retried, otherwise the input fails at once", last.Err, last.Attempts, calls.Load())
		}
	})
}

// A host's Crawl-delay spaces every request the crawl sends it: retries of
// a page too, not only the first attempt of each URL.
func TestCrawlDelayCoversRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var times []time.Time
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				io.WriteString(w, "User-agent: *\nCrawl-delay: 5\n")
				return
			}
			mu.Lock()
			times = append(times, time.Now())
			n := len(times)
			mu.Unlock()
			if n <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<p>ok</p>")
		}), WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond}))
		c, err := NewCrawler(f)
		if err != nil {
			t.Fatal(err)
		}
		for p := range c.Run(context.Background(), "http://a.test/page") {
			if p.Err != nil {
				t.Errorf("%s: %v", p.URL, p.Err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(times) != 3 {
			t.Fatalf("/page requested %d times; want 3", len(times))
		}
		for i := 1; i < len(times); i++ {
			if d := times[i].Sub(times[i-1]); d < 5*time.Second-time.Millisecond { // the limiter rounds 1/0.2 s down by a nanosecond
				t.Errorf("requests %d and %d to a host with Crawl-delay 5 were %v apart (retries of one page); want at least 5s", i-1, i, d)
			}
		}
	})
}

// A URL that robots.txt disallows is not sent, so it must not use up the
// host's Crawl-delay: the next allowed URL goes one delay after the last
// request, not one delay per disallowed URL queued before it.
func TestCrawlDelayNotSpentOnDisallowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var got time.Time
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/robots.txt":
				io.WriteString(w, "User-agent: *\nCrawl-delay: 10\nDisallow: /private\n")
			case "/public":
				got = time.Now()
				io.WriteString(w, "ok")
			default:
				t.Errorf("%s fetched", r.URL.Path)
			}
		}))
		c, err := NewCrawler(f)
		if err != nil {
			t.Fatal(err)
		}
		disallowed := 0
		for p := range c.Run(context.Background(), "http://a.test/private/1", "http://a.test/private/2",
			"http://a.test/private/3", "http://a.test/private/4", "http://a.test/public") {
			if errors.Is(p.Err, ErrDisallowed) {
				disallowed++
			}
		}
		if disallowed != 4 {
			t.Errorf("%d pages disallowed; want 4", disallowed)
		}
		if d := got.Sub(start); d > 11*time.Second {
			t.Errorf("/public fetched %v after robots.txt; want one Crawl-delay (10s): four disallowed URLs, never sent, each took a delay", d)
		}
	})
}

var errNotFoundSentinel = errors.New("not found")

// TaskGroup.Wait reports every real failure: a second task's own failure,
// returned after the first failure cancelled the group, is kept even if it
// wraps the same sentinel as the first (asyncio.TaskGroup raises both).
func TestTaskGroupKeepsFailureWrappingSameSentinel(t *testing.T) {
	g, ctx := NewTaskGroup(context.Background())
	started, proceed := make(chan struct{}), make(chan struct{})
	second := fmt.Errorf("user 2: %w", errNotFoundSentinel)
	g.Go(func() error {
		<-started // the second task runs: a task not started when the first fails is skipped
		return errNotFoundSentinel
	})
	g.Go(func() error {
		close(started)
		<-proceed // busy with its own work, not watching ctx
		return second
	})
	<-ctx.Done()
	close(proceed)
	err := g.Wait()
	if !strings.Contains(fmt.Sprint(err), "user 2") {
		t.Errorf("Wait() = %v; want both failures, \"not found\" and %q: the second task's own error was dropped as if it only reflected the cancellation", err, second)
	}
}

// Every failure is an *Error that names its request (the doc of Error: "it
// names the request"), so that logging p.Err says which URL failed. The
// pages a crawl refuses (robots.txt, a full crawl) and the inputs a
// request option fails on carry an *Error with neither method nor URL:
// "fetch:  : fetch: disallowed by robots.txt".
func TestRefusedErrorsNameTheURL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				io.WriteString(w, "User-agent: *\nDisallow: /private\n")
				return
			}
			io.WriteString(w, "ok")
		}))
		check := func(what, wantURL string, err error) {
			t.Helper()
			e, ok := errors.AsType[*Error](err)
			if !ok {
				t.Errorf("%s: %v is not an *Error", what, err)
				return
			}
			if e.URL != wantURL || !strings.Contains(e.Error(), wantURL) {
				t.Errorf("%s: *Error{Method: %q, URL: %q}, message %q; want it to name %s", what, e.Method, e.URL, e.Error(), wantURL)
			}
		}
		c, err := NewCrawler(f, CrawlMaxURLs(2))
		if err != nil {
			t.Fatal(err)
		}
		for p := range c.Run(context.Background(), "http://a.test/private/x", "http://a.test/ok", "http://a.test/third") {
			switch p.URL {
			case "http://a.test/private/x":
				check("a page robots.txt disallows", p.URL, p.Err)
			case "http://a.test/third":
				check("a page past CrawlMaxURLs", p.URL, p.Err)
			}
		}
		rs := f.GetAll(context.Background(), []string{"http://a.test/1"}, Header("Bad Name", "v"))
		check("GetAll with a bad request option", "http://a.test/1", rs[0].Err)
	})
}

// A crawl seeded with credentials in its URL (an intranet behind Basic
// auth) resolves relative links against the final URL: that must be the
// URL itself, not its redacted form, or the links found are fetched with
// the password "xxxxx".
func TestCrawlLinksKeepURLCredentials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		auth := map[string]string{}
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, _ := r.BasicAuth()
			mu.Lock()
			auth[r.URL.Path] = u + ":" + p
			mu.Unlock()
			if p != "secret" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, `<a href="next">next</a>`)
		}))
		c, err := NewCrawler(f, CrawlIgnoreRobots(), CrawlMaxDepth(1))
		if err != nil {
			t.Fatal(err)
		}
		for p := range c.Run(context.Background(), "http://alice:secret@intranet.test/dir/page") {
			if p.Depth == 0 {
				if err := p.Follow(p.Links()...); err != nil {
					t.Fatal(err)
				}
			} else if p.Err != nil {
				t.Errorf("the linked page %s: %v", p.URL, p.Err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if got := auth["/dir/next"]; got != "alice:secret" {
			t.Errorf("the page linked from the seed was fetched with credentials %q; want alice:secret, as the seed URL gives (links were resolved against the redacted URL)", got)
		}
	})
}

// Found by a third review, of Do, retries, the gates, Stats, hooks, the
// breaker and the retry budget.

// A retry that is never sent (the caller cancels during the backoff) must
// not be counted in Stats.Retries, which the docs define as "attempts that
// were retries": Attempts must stay >= Calls + Retries.
func TestRetriesCountsOnlySentRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, http.StatusServiceUnavailable, nil))
		f := newMem(t, c, WithRetry(RetryPolicy{BaseDelay: time.Second, Jitter: NoJitter}))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			resp, err := f.Do(mustGet(t, "http://a.test/").WithContext(ctx))
			if resp != nil {
				resp.Body.Close()
			}
			done <- err
		}()
		time.Sleep(500 * time.Millisecond) // the call is in its 1s backoff
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v; want Canceled", err)
		}
		s := f.Stats()
		if c.n.Load() != 1 {
			t.Fatalf("server saw %d requests; want 1", c.n.Load())
		}
		if s.Attempts != 1 || s.Retries != 0 {
			t.Errorf("Stats: Attempts %d, Retries %d, Calls %d; want Attempts 1, Retries 0: the retry was never sent", s.Attempts, s.Retries, s.Calls)
		}
	})
}

// Stats.Attempts is "attempts sent": an attempt already sent must show up
// while its call is still running (waiting to retry), not only when the
// call ends; otherwise Retries runs ahead of Attempts mid-call.
func TestAttemptsCountedAsSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(2, http.StatusServiceUnavailable, nil))
		f := newMem(t, c, WithRetry(RetryPolicy{BaseDelay: time.Second, Jitter: NoJitter}))
		done := make(chan error)
		go func() {
			_, err := f.Get(context.Background(), "http://a.test/")
			done <- err
		}()
		time.Sleep(1500 * time.Millisecond) // two attempts sent; waiting 2s for the third
		synctest.Wait()
		s := f.Stats()
		if got := c.n.Load(); got != 2 {
			t.Fatalf("server saw %d requests; want 2", got)
		}
		if s.Attempts < 2 || s.Retries > s.Attempts {
			t.Errorf("mid-call Stats: Attempts %d, Retries %d; want Attempts >= 2 (the server has seen 2) and Retries <= Attempts", s.Attempts, s.Retries)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// Without WithAdaptiveRate, HostStats.Rate and AttemptInfo.HostRate are
// zero until a Retry-After pause, and then report the ramp that paces the
// host (they were documented as zero unless WithAdaptiveRate is set, while
// the ramp showed in both, and in otelfetch's fetch.host.rate gauge).
func TestHostRateIsTheRampWithoutAdaptive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limited := failing(1, http.StatusTooManyRequests, http.Header{"Retry-After": {"2"}})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Host == "a.test" {
				limited(w, r)
			}
		})
		var rates []float64
		f := newMem(t, h, WithHooks(Hooks{OnAttempt: func(a AttemptInfo) { rates = append(rates, float64(a.HostRate)) }}))
		if _, err := f.Get(context.Background(), "http://b.test/"); err != nil { // answered at once: no pause
			t.Fatal(err)
		}
		if len(rates) != 1 || rates[0] != 0 {
			t.Errorf("HostRate of an attempt to an unpaced host: %v; want [0]", rates)
		}
		rates = nil
		if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		if len(rates) != 2 || rates[0] != rampStart || rates[1] < rampStart {
			t.Errorf("HostRate of a 429 with Retry-After and its retry: %v; want the ramp's, from %d", rates, rampStart)
		}
		hs := f.Stats().Hosts
		if len(hs) != 1 || hs[0].Host != "a.test" || hs[0].Rate < rampStart {
			t.Errorf("Stats().Hosts = %+v; want a.test, paced by the ramp", hs)
		}
	})
}

// RetryBudget: "over the last Window, retries to a host may be at most
// Ratio of the calls made to it, plus Min". With one call, Ratio 0.5 and
// Min 2 that is at most 2.5, so 2 retries; the budget lets a third through
// because it compares the retries already made (2 < 2.5) rather than the
// count the new retry would make (3 > 2.5).
func TestRetryBudgetAtMost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, http.StatusServiceUnavailable, nil))
		f := newMem(t, c,
			WithRetry(RetryPolicy{MaxAttempts: 20, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, Jitter: NoJitter}),
			WithRetryBudget(RetryBudget{Ratio: 0.5, Min: 2, Window: 10 * time.Second}))
		_, err := f.Get(context.Background(), "http://a.test/")
		var be *RetryBudgetError
		if !errors.As(err, &be) {
			t.Fatalf("err = %v; want *RetryBudgetError", err)
		}
		if retries := c.n.Load() - 1; retries > 2 {
			t.Errorf("the budget let %d retries through for 1 call; want at most 2 (0.5 x 1 call + 2); error: %v", retries, err)
		}
	})
}

// A host whose circuit breaker is open gets nothing sent to it ("every
// call to the host fails at once ... sending nothing"), and the README
// says a redirect "cannot carry a request past a host's limits". Yet a
// request to another host that redirects into the open host is sent to it.
func TestRedirectIntoOpenBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var toB atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Host {
			case "a.test":
				http.Redirect(w, r, "http://b.test/down", http.StatusFound)
			case "b.test":
				toB.Add(1)
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
		f := newMem(t, h, WithRetry(RetryPolicy{MaxAttempts: 1}),
			WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 2, OpenFor: time.Minute}))
		for range 2 {
			f.Get(context.Background(), "http://b.test/down")
		}
		if _, err := f.Get(context.Background(), "http://b.test/down"); !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("b.test: err = %v; want its breaker open", err)
		}
		before := toB.Load()
		_, err := f.Get(context.Background(), "http://a.test/")
		if sent := toB.Load() - before; sent != 0 {
			t.Errorf("a redirect into b.test, whose breaker is open, sent it %d request(s); want 0 (err = %v)", sent, err)
		}
		if !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("err = %v; want it to match ErrCircuitOpen", err)
		}
	})
}

// A URL whose user info does not parse (a password with a space, or a
// stray '%') fails with ErrInvalidURL, and its error and Result.URL then
// carry the password in clear. SECURITY.md counts "a URL's password
// appearing in an error, a Result or a log line" as a vulnerability; the
// parseable case is redacted (xxxxx), so should this one be.
func TestUnparsableURLPasswordRedacted(t *testing.T) {
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	for _, u := range []string{"http://admin:hunter2 secret@a.invalid/", "http://admin:hunter2%zz@a.invalid/"} {
		_, err := f.Get(context.Background(), u)
		if !errors.Is(err, ErrInvalidURL) {
			t.Fatalf("Get(%q): err = %v; want ErrInvalidURL", u, err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Get error %q shows the URL's password; want it redacted", err)
		}
		if r := f.Fetch(context.Background(), u); strings.Contains(r.URL, "hunter2") {
			t.Errorf("Result.URL %q shows the URL's password; want it redacted", r.URL)
		}
	}
}

// Found by an audit of the README against the code.

// A non-2xx status is a *StatusError whatever the size of its body: a 404
// whose body is over WithMaxBodySize used to fail with ErrBodyTooLarge (and
// count as Failed.Other), losing the status the README promises.
func TestStatusErrorWithABodyOverTheCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			w.Write(bytes.Repeat([]byte("x"), 5000))
		}), WithMaxBodySize(1000))
		r := f.Fetch(context.Background(), "http://a.test/")
		se, ok := errors.AsType[*StatusError](r.Err)
		if !ok || se.StatusCode != http.StatusNotFound || errors.Is(r.Err, ErrBodyTooLarge) {
			t.Fatalf("Fetch of a 404 with a 5000-byte body over a 1000-byte cap: %v; want a *StatusError 404", r.Err)
		}
		if r.Status != http.StatusNotFound || len(r.Body) != 1000 || r.Attempts != 1 {
			t.Errorf("Result: status %d, %d bytes of body, %d attempts; want 404, the first 1000, 1", r.Status, len(r.Body), r.Attempts)
		}
		if s := f.Stats(); s.Failed.Status != 1 {
			t.Errorf("Stats().Failed = %+v; want Status 1", s.Failed)
		}
	})
}

// A call whose retry the budget refuses counts as Refused, whatever the
// attempt before it failed on: a 503 made it Status, a transport error
// Refused.
func TestBudgetRefusalCountsAsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, failing(1000, http.StatusServiceUnavailable, nil),
			WithRetryBudget(RetryBudget{Ratio: 0.01, Min: 1, Window: time.Minute}),
			WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}))
		for range 3 {
			f.Get(context.Background(), "http://a.test/")
		}
		s := f.Stats()
		if s.Failed.Refused == 0 || s.Failed.Refused+s.Failed.Status != 3 {
			t.Errorf("Stats().Failed = %+v after 3 calls to a failing host with a budget of 1 retry; want the calls whose retry was refused counted as Refused", s.Failed)
		}
	})
}

// Found by a review of the calls that run many requests.

// trackedBody is a request body that records whether it was closed.
type trackedBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackedBody) Close() error { b.closed.Store(true); return nil }

func postsWithBodies(t *testing.T, n int) ([]*http.Request, []*trackedBody) {
	t.Helper()
	var reqs []*http.Request
	var bodies []*trackedBody
	for i := range n {
		b := &trackedBody{Reader: bytes.NewReader([]byte("payload"))}
		req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("http://a.test/%d", i), b)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, req)
		bodies = append(bodies, b)
	}
	return reqs, bodies
}

// TestUnsentRequestBodiesAreClosed: a request handed to DoAll,
// DoAllFailFast or StreamRequests that is never sent (cancelled by the
// fail-fast, by the caller's context, or by a break) must still have its
// body closed, as http.Client.Do promises ("The request Body, if non-nil,
// will be closed by the underlying Transport, even on errors"). Otherwise a
// body backed by a file or a pipe leaks.
func TestUnsentRequestBodiesAreClosed(t *testing.T) {
	// One request an hour to the host: the requests after the first wait
	// in their host's queue, and are cancelled there.
	slowHost := WithHostRate(rate.Every(time.Hour), 1)
	t.Run("DoAllFailFast", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusNotFound) // the first request fails: the rest are cancelled
			}), WithConcurrency(1), slowHost)
			reqs, bodies := postsWithBodies(t, 4)
			results, err := f.DoAllFailFast(t.Context(), reqs)
			if err == nil {
				t.Fatal("DoAllFailFast returned no error; want the 404")
			}
			for i, b := range bodies {
				if !b.closed.Load() {
					t.Errorf("request %d (%v): its body was never closed; want every request body closed, sent or not, as http.Client.Do does", i, results[i].Err)
				}
			}
		})
	})
	t.Run("DoAll/cancelled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newMem(t, http.HandlerFunc(ok), WithConcurrency(1), slowHost)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			reqs, bodies := postsWithBodies(t, 4)
			results := f.DoAll(ctx, reqs)
			for i, b := range bodies {
				if !b.closed.Load() {
					t.Errorf("request %d (%v): its body was never closed; want every request body closed, sent or not, as http.Client.Do does", i, results[i].Err)
				}
			}
		})
	})
	t.Run("StreamRequests/cancelled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newMem(t, http.HandlerFunc(ok), WithConcurrency(1), slowHost)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			reqs, bodies := postsWithBodies(t, 4)
			for range f.StreamRequests(ctx, slices.Values(reqs)) {
			}
			for i, b := range bodies {
				if !b.closed.Load() {
					t.Errorf("request %d: its body was never closed; want every request body closed, sent or not, as http.Client.Do does", i)
				}
			}
		})
	})
}

// TestGetAllPanickingOptionLeavesNoWorkers: a RequestOption is a
// function of the caller's; if it panics, GetAll reads its inputs on the
// caller's goroutine, so the panic goes up the caller's stack, but the
// workers GetAll started are never told that no more input will come: they
// park for ever (and the call's watch on ctx is never removed).
// Stream, given the same option, turns the panic into a *PanicError and
// stops its workers.
//
// Not in a synctest bubble: the leaked workers would make the bubble
// deadlock and crash the test binary. goleak checks for them instead.
func TestGetAllPanickingOptionLeavesNoWorkers(t *testing.T) {
	before := goleak.IgnoreCurrent()
	f := newMem(t, http.HandlerFunc(ok), WithConcurrency(4))
	var n atomic.Int64
	opt := RequestOption(func(r *http.Request) error {
		if n.Add(1) == 3 {
			panic("option panicked")
		}
		return nil
	})
	urls := []string{"http://a.test/1", "http://a.test/2", "http://a.test/3", "http://a.test/4"}
	var got any
	func() {
		defer func() { got = recover() }()
		f.GetAll(context.Background(), urls, opt)
	}()
	if got == nil {
		t.Fatal("GetAll swallowed the option's panic; want it raised to the caller")
	}
	if err := goleak.Find(before); err != nil {
		t.Errorf("after GetAll panicked (%v), its workers are still running; want none left:\n%v", got, err)
	}
}

// Found by a review of WithClient and how it meets the other options.

// A client with a cookie jar: each attempt carries the jar's cookies as
// they are when it is sent, once each, as a fresh http.Client.Do would, and
// the caller's request is left as it was. Here the first two attempts'
// 503s set s=1 then s=2; the third must send s=2, once. (net/http adds the
// jar's cookies to the request it is given: retries of one request piled
// them up, in the caller's own header when it had no default headers.)
func TestJarCookiesAcrossRetries(t *testing.T) {
	for _, via := range []string{"Get", "Do"} {
		t.Run(via, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				var seen []string
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					seen = append(seen, strings.Join(r.Header.Values("Cookie"), " | "))
					k := len(seen)
					mu.Unlock()
					if k < 3 {
						http.SetCookie(w, &http.Cookie{Name: "s", Value: fmt.Sprint(k)})
						w.WriteHeader(http.StatusServiceUnavailable)
					}
				})
				jar, _ := cookiejar.New(nil)
				u, _ := url.Parse("http://a.test/")
				jar.SetCookies(u, []*http.Cookie{{Name: "a", Value: "1"}})
				client := &http.Client{Transport: memhttp.Transport{Handler: h}, Jar: jar}
				f, err := New(WithClient(client), WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}))
				if err != nil {
					t.Fatal(err)
				}
				req := mustGet(t, "http://a.test/")
				if via == "Get" {
					_, err = f.Get(t.Context(), "http://a.test/")
				} else {
					var resp *http.Response
					if resp, err = f.Do(req); err == nil {
						resp.Body.Close()
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				defer mu.Unlock()
				if want := []string{"a=1", "a=1; s=1", "a=1; s=2"}; fmt.Sprint(seen) != fmt.Sprint(want) {
					t.Errorf("%s: Cookie headers per attempt = %q; want %q", via, seen, want)
				}
				if c := req.Header.Values("Cookie"); len(c) != 0 {
					t.Errorf("%s: the caller's request has Cookie %q; want none", via, c)
				}
			})
		})
	}
}

// A client's own Timeout bounds each attempt (WithClient's doc), redirects
// waiting at their host's gates included (Do's doc: a redirect that cannot
// pass them before the attempt's timeout ends fails the call).
func TestClientTimeoutBoundsRedirectWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := byHost(map[string]http.Handler{"a.test": redirectTo("b.test"), "b.test": http.HandlerFunc(ok)})
		client := &http.Client{Transport: memhttp.Transport{Handler: h}, Timeout: time.Second}
		f, err := New(WithClient(client), WithHostRate(PerMinute(1), 1), WithRetry(RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Get(t.Context(), "http://b.test/"); err != nil { // b's one token
			t.Fatal(err)
		}
		start := time.Now()
		_, err = f.Get(t.Context(), "http://a.test/")
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Get took %v (err %v); want it bounded by the client's 1s Timeout", took, err)
		}
		if err == nil {
			t.Error("Get succeeded; want the client's Timeout to end it")
		}
	})
}
