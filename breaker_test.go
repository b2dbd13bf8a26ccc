package fetch

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The breaker opens after a run of failures, then fails calls at once
// without sending them, lets one probe through once OpenFor has passed, and
// closes when the probe succeeds.
func TestCircuitBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent atomic.Int64
		var healthy atomic.Bool
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent.Add(1)
			if !healthy.Load() {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}), WithRetry(RetryPolicy{MaxAttempts: 1}),
			WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 3, OpenFor: 10 * time.Second}))
		get := func() error {
			_, err := f.Get(context.Background(), "http://a.test/")
			return err
		}

		for i := range 3 {
			var se *StatusError
			if err := get(); !errors.As(err, &se) {
				t.Fatalf("call %d: %v; want the 500", i+1, err)
			}
		}
		// Open: nothing is sent.
		for range 5 {
			err := get()
			var ce *CircuitOpenError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCircuitOpen) || ce.Host != "a.test" {
				t.Fatalf("call to an open breaker: %v; want a *CircuitOpenError for a.test", err)
			}
		}
		if n := sent.Load(); n != 3 {
			t.Fatalf("server saw %d requests; want 3: an open breaker sends nothing", n)
		}
		if hs := f.Stats().Hosts; len(hs) != 1 || hs[0].Breaker != "open" {
			t.Errorf("Stats().Hosts = %+v; want a.test's breaker open", hs)
		}

		// Half-open after OpenFor: one probe; a failure opens it again.
		time.Sleep(10*time.Second + time.Millisecond)
		if err := get(); errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("probe after OpenFor was refused: %v", err)
		}
		if n := sent.Load(); n != 4 {
			t.Fatalf("server saw %d requests; want the 4th, the probe", n)
		}
		if err := get(); !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("after a failed probe: %v; want the breaker open again", err)
		}

		// A probe that succeeds closes it.
		time.Sleep(10*time.Second + time.Millisecond)
		healthy.Store(true)
		for i := range 5 {
			if err := get(); err != nil {
				t.Fatalf("call %d after a good probe: %v; want the breaker closed", i+1, err)
			}
		}
		if n := sent.Load(); n != 9 {
			t.Errorf("server saw %d requests; want 9: 3 failures, the failed probe, 5", n)
		}
		if hs := f.Stats().Hosts; len(hs) != 0 {
			t.Errorf("Stats().Hosts = %+v; want none: the breaker is closed", hs)
		}
	})
}

// While half-open, the breaker lets only its probes through: the other
// calls fail fast rather than queue behind the probe.
func TestCircuitBreakerHalfOpenLetsOneProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent atomic.Int64
		release := make(chan struct{})
		fail := atomic.Bool{}
		fail.Store(true)
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent.Add(1)
			if fail.Load() {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			<-release
		}), WithRetry(RetryPolicy{MaxAttempts: 1}),
			WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1, OpenFor: time.Second}))
		f.Get(context.Background(), "http://a.test/") // opens it
		time.Sleep(time.Second + time.Millisecond)
		fail.Store(false)
		probe := make(chan error)
		go func() { _, err := f.Get(context.Background(), "http://a.test/"); probe <- err }()
		synctest.Wait() // the probe is at the server
		if _, err := f.Get(context.Background(), "http://a.test/"); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("a second call while the probe is out: %v; want ErrCircuitOpen", err)
		}
		close(release)
		if err := <-probe; err != nil {
			t.Errorf("probe: %v", err)
		}
		if n := sent.Load(); n != 2 {
			t.Errorf("server saw %d requests; want 2", n)
		}
	})
}

// A call whose caller gives up counts neither way, so a breaker is not
// opened by callers' cancellations.
func TestCircuitBreakerIgnoresCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}), WithRetry(RetryPolicy{MaxAttempts: 1}),
			WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 2}))
		for range 5 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := f.Get(ctx, "http://a.test/")
			cancel()
			if errors.Is(err, ErrCircuitOpen) {
				t.Fatalf("the breaker opened on callers' deadlines: %v", err)
			}
		}
	})
}

func TestCircuitBreakerOptionRanges(t *testing.T) {
	for _, b := range []CircuitBreaker{{ConsecutiveFailures: -1}, {FailureRatio: 1.5}, {OpenFor: -time.Second}} {
		if _, err := New(WithCircuitBreaker(b)); err == nil {
			t.Errorf("WithCircuitBreaker(%+v): no error", b)
		}
	}
}

// A body handler that panics is the caller's fault, not the host's: it
// counts neither way, so it neither opens the breaker nor breaks a run of
// the host's own failures.
func TestCircuitBreakerIgnoresHandlerPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := 0
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n++; n%2 == 1 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}), WithRetry(RetryPolicy{MaxAttempts: 1}), WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 2}))
		boom := func(string, *http.Response) (int, error) { panic("handler bug") }
		var errs []error
		for range 4 { // 500, 200 with a panicking handler, 500, then refused
			for h := range HandleURLs(context.Background(), f, slices.Values([]string{"http://a.test/"}), boom) {
				errs = append(errs, h.Err)
			}
		}
		var pe *PanicError
		if !errors.As(errs[1], &pe) {
			t.Errorf("second call: %v; want the handler's panic", errs[1])
		}
		var se *StatusError
		if !errors.As(errs[2], &se) || errors.Is(errs[2], ErrCircuitOpen) {
			t.Errorf("third call: %v; want the 500: the panic did not count as a failure", errs[2])
		}
		if !errors.Is(errs[3], ErrCircuitOpen) {
			t.Errorf("fourth call: %v; want the breaker open after two 500s in a row, the panic between them not counted", errs[3])
		}
	})
}

// The Fetcher's own limits say nothing of the host's health: bodies over
// the cap and too many redirects do not open the default breaker.
func TestCircuitBreakerIgnoresOwnLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/loop" {
				http.Redirect(w, r, "/loop", http.StatusFound)
				return
			}
			w.Write(make([]byte, 100))
		}), WithMaxBodySize(10), WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 2}))
		for _, path := range []string{"/big", "/loop", "/big", "/loop"} {
			if _, err := f.Get(context.Background(), "http://a.test"+path); errors.Is(err, ErrCircuitOpen) {
				t.Fatalf("%s: %v; want the limit's own error: the host is healthy", path, err)
			}
		}
	})
}

// A host that answers a burst of callers with 429 is up and asking them to
// slow down, which the host's pause after Retry-After does: by default the
// breaker counts a 429 neither way, so a rate-limited burst neither opens
// it nor breaks a run of real failures.
func TestCircuitBreakerLeaves429ToThePause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(10 * time.Millisecond)    // latency: the first requests are in flight together
			if time.Since(start) < time.Second { // the first second's burst is over the server's quota
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		}), WithConcurrency(64), WithCircuitBreaker(CircuitBreaker{}))
		urls := slices.Repeat([]string{"http://a.test/"}, 200)
		for i, r := range f.GetAll(context.Background(), urls) {
			if r.Err != nil {
				t.Fatalf("GetAll result %d: %v; want every URL fetched once the pause is over", i, r.Err)
			}
		}
		for _, h := range f.Stats().Hosts {
			if h.Breaker != "" {
				t.Errorf("Stats().Hosts has %+v; want the breaker closed", h)
			}
		}

		// Nor do they reset a run of failures: 3 500s, a 429, a 500, a
		// 503 with Retry-After, a 500 open it.
		statuses := []int{500, 500, 500, 429, 500, 503, 500}
		var n atomic.Int64
		g := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			code := statuses[min(int(n.Add(1))-1, len(statuses)-1)]
			if code != 500 {
				w.Header().Set("Retry-After", "1")
			}
			w.WriteHeader(code)
		}), WithRetry(RetryPolicy{MaxAttempts: 1}), WithCircuitBreaker(CircuitBreaker{}))
		for range statuses {
			g.Get(context.Background(), "http://b.test/")
			time.Sleep(time.Second) // the pause a Retry-After causes
		}
		if _, err := g.Get(context.Background(), "http://b.test/"); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("after 500 ×3, 429, 500, 503, 500: %v; want the breaker open (5 failures in a row, the 429 and 503 counted neither way)", err)
		}
		if DefaultIsFailure(&http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"1"}}}, nil) {
			t.Error("DefaultIsFailure(503 with Retry-After) = true; want false")
		}
		if !DefaultIsFailure(&http.Response{StatusCode: http.StatusServiceUnavailable}, nil) {
			t.Error("DefaultIsFailure(503) = false; want true")
		}
		if DefaultIsFailure(&http.Response{StatusCode: http.StatusTooManyRequests}, nil) {
			t.Error("DefaultIsFailure(429) = true; want false")
		}
	})
}
