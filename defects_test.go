package fetch

// Defects found by review of the attempt rebuild (3ea14bf..5cf6837), one
// test each; every one failed before its fix.

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
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
// that begin refuses because Shutdown has begun never gives the held
// slots back (3ea14bf released them in do). Here the white-box path is the
// one take → worker → fetch → do follows when Shutdown lands between them.
func TestDefectHeldSlotsLeakWhenClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithConcurrency(2), WithHostConcurrency(1))
		h := f.gates.hosts.get("a.test") // the scheduler's queue reference
		if err := f.gates.acquire(context.Background(), h); err != nil {
			t.Fatal(err)
		}
		if err := shutdownWithin(f, time.Second); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", "http://a.test/", nil)
		_, _, err := f.do(req, nil, h)
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("do after Shutdown: %v; want ErrClosed", err)
		}
		if n := len(f.gates.slots); n != 0 {
			t.Errorf("global slots held after a refused held call: %d; want 0", n)
		}
		if n := len(h.slots); n != 0 {
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
