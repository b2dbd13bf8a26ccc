package fetch

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

// quotaRun sends callers concurrent Do callers (f.Get, retried up to 20
// times) to first, which may redirect to b.test. b.test refuses everything
// with 429 Retry-After: 1 during its first 5 s, then answers. It returns
// how many requests reached b.test while it refused.
func quotaRun(t *testing.T, viaRedirect bool, opts ...Option) int64 {
	var during atomic.Int64
	start := time.Now()
	f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
		if r.Host == "a.test" {
			http.Redirect(w, r, "http://b.test"+r.URL.Path, http.StatusFound)
			return
		}
		if time.Since(start) < 5*time.Second {
			during.Add(1)
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write([]byte("ok"))
	}), append([]Option{WithConcurrency(64), WithRetry(RetryPolicy{MaxAttempts: 20})}, opts...)...)
	defer f.Shutdown(context.Background())
	first := "b.test"
	if viaRedirect {
		first = "a.test"
	}
	var wg sync.WaitGroup
	for _, u := range urlsFor(first, 20) {
		wg.Go(func() {
			if _, err := f.Get(context.Background(), u); err != nil {
				t.Errorf("%s: %v", u, err)
			}
		})
	}
	wg.Wait()
	return during.Load()
}

// A host reached by a redirect is paused by its 429s as one called directly
// is: a hop is dated by when it passed that host's gates, not by its call's
// attempt (which was undated when the first host was not paced, or dated
// before the target's ramp began), so its 429 was taken for one of a round
// already answered, neither pausing nor cutting the host: 60 requests
// reached it while it refused, 41 with a hook, against 24 directly.
func TestRedirectedOverloadPausesTheHostItReached(t *testing.T) {
	var direct, redirected int64
	synctest.Test(t, func(t *testing.T) { direct = quotaRun(t, false) })
	synctest.Test(t, func(t *testing.T) { redirected = quotaRun(t, true) })
	var hooked int64 // the same, with a hook, which makes every attempt timed
	synctest.Test(t, func(t *testing.T) {
		hooked = quotaRun(t, true, WithHooks(Hooks{OnAttempt: func(AttemptInfo) {}}))
	})
	t.Logf("via a redirect, with an OnAttempt hook: %d", hooked)
	t.Logf("requests reaching b.test in its 5 s of 429s: direct %d, via a redirect from a.test %d", direct, redirected)
	if redirected > 2*direct+5 {
		t.Errorf("via a redirect b.test got %d requests while refusing (direct: %d): its 429s neither pause nor cut it", redirected, direct)
	}
	if hooked > direct+10 {
		t.Errorf("via a redirect, timed by a hook, b.test got %d requests while refusing (direct: %d): a hop is dated by its call's attempt, before it waited at b.test's gates", hooked, direct)
	}
}

// A slow host's ramp grows with its answers, not with the time since the
// pause: against a host that takes 1 s to answer, the probe's success
// (1 s after the pause) set a ramp doubling every 100 ms to 10·2¹⁰, ending
// it, and every request still waiting went at once (40 within 50 ms).
func TestSlowHostsRampGrowsWithItsAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var arrivals []time.Time
		var refused atomic.Bool
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refused.CompareAndSwap(false, true) {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			mu.Lock()
			arrivals = append(arrivals, time.Now())
			mu.Unlock()
			time.Sleep(time.Second) // a slow API
			w.Write([]byte("ok"))
		}), WithConcurrency(64))
		defer f.Shutdown(context.Background())
		if _, err := f.Get(context.Background(), "http://a.test/first"); err != nil { // paused, ramp started, probe
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, u := range urlsFor("a.test", 40) {
			wg.Go(func() { f.Get(context.Background(), u) })
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		most := 0 // the most arrivals within 50 ms
		for i := range arrivals {
			n := 0
			for _, a := range arrivals[i:] {
				if a.Sub(arrivals[i]) < 50*time.Millisecond {
					n++
				}
			}
			most = max(most, n)
		}
		if most > 10 {
			t.Errorf("%d of %d requests reached the slow host within 50 ms after its pause: the ramp ended on the probe's answer", most, len(arrivals))
		}
	})
}

// A host whose limit is below the adaptive rate's Floor is paused by its
// Retry-After: a cut cannot lower a rate at its floor, so it cannot be the
// answer. Floor 10 against an API allowing 2/s, 40 URLs: absorbing those
// 429s gave 55-64 of them and 7-10 calls out of attempts; pausing, 34-38
// and 2-5.
func TestHostSlowerThanTheFloorIsPaused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bucket := rate.NewLimiter(2, 1)
		start := time.Now()
		var refused atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(10 * time.Millisecond)
			if !bucket.Allow() {
				refused.Add(1)
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.Write([]byte("ok"))
		}), WithConcurrency(8), WithAdaptiveRate(AdaptiveRate{Floor: 10, Ceiling: 100}))
		defer f.Shutdown(context.Background())
		failed := 0
		for r := range f.Stream(context.Background(), slices.Values(urlsFor("a.test", 40))) {
			if r.Err != nil {
				failed++
			}
		}
		t.Logf("40 URLs against 2/s with Floor 10: %d 429s, %d failed, in %v", refused.Load(), failed, time.Since(start))
		if failed > 6 || refused.Load() > 45 {
			t.Errorf("%d 429s and %d calls failed out of attempts: the host's Retry-After no longer pauses it", refused.Load(), failed)
		}
	})
}

// A Retry-After longer than MaxRetryAfter fails the call and pauses the
// host for MaxRetryAfter, as RetryPolicy documents, even for a paced host
// that has just answered successes: a quota spent for an hour is not a
// pace to cut.
func TestQuotaPastMaxRetryAfterPausesAPacedHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n, reached atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) <= 5 {
				w.Write([]byte("ok"))
				return
			}
			reached.Add(1)
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", "3600") // a quota spent for an hour
			w.WriteHeader(http.StatusForbidden)
		}), WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 100, Initial: 10}))
		defer f.Shutdown(context.Background())
		for _, u := range urlsFor("a.test", 5) {
			if _, err := f.Get(context.Background(), u); err != nil {
				t.Fatal(err)
			}
		}
		_, err := f.Get(context.Background(), "http://a.test/spent")
		if !errors.As(err, new(*RetryAfterError)) {
			t.Fatalf("err = %v; want a *RetryAfterError", err)
		}
		paused := false
		for _, h := range f.Stats().Hosts {
			paused = paused || !h.PausedUntil.IsZero()
		}
		if !paused {
			t.Errorf("after a 403 whose quota resets in an hour (MaxRetryAfter 5m), the host is not paused: %+v", f.Stats().Hosts)
		}
	})
}
