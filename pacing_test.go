package fetch

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

// When a host's pause ends, the requests that waited for it go one at a
// time at first (a probe), then faster and faster, instead of all at once.
func TestPauseEndsWithARamp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var arrivals []time.Duration
		start := time.Now()
		first := true
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if first {
				first = false
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			arrivals = append(arrivals, time.Since(start))
		}), WithConcurrency(64))
		if _, err := f.Get(context.Background(), "http://a.test/0"); err != nil { // paused, then retried
			t.Fatal(err)
		}
		mu.Lock()
		arrivals = nil
		mu.Unlock()
		// 30 calls that all queue behind the pause's ramp.
		var wg sync.WaitGroup
		for range 30 {
			wg.Go(func() { f.Get(context.Background(), "http://a.test/") })
		}
		wg.Wait()
		if len(arrivals) != 30 {
			t.Fatalf("%d arrivals; want 30", len(arrivals))
		}
		at := func(d time.Duration) int { // arrivals within d of the first
			n := 0
			for _, a := range arrivals {
				if a-arrivals[0] < d {
					n++
				}
			}
			return n
		}
		if n := at(50 * time.Millisecond); n > 2 {
			t.Errorf("%d requests within 50ms of the first after the pause; want a probe, then a ramp", n)
		}
		if d := arrivals[29] - arrivals[0]; d > 3*time.Second {
			t.Errorf("30 requests took %v after the pause; want the ramp to grow (under 3s)", d)
		}
	})
}

// The ramp after a pause starts from half the rate the host carried before
// it, not from 10/s: a host that answered 400 requests a second for two
// seconds and then asked, once, for a second's pause takes about 200 a
// second again from the pause's end, where it used to start over at 10.
func TestRampStartsFromWhatTheHostCarried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var after []time.Time // arrivals once the 429 has been answered
		var refusedAt time.Time
		start := time.Now()
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(10 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case refusedAt.IsZero() && time.Since(start) >= 2*time.Second:
				refusedAt = time.Now()
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
			case !refusedAt.IsZero():
				after = append(after, time.Now())
			}
		}), WithConcurrency(4))
		for r := range f.Stream(context.Background(), slices.Values(urlsFor("a.test", 1200))) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		resumed := refusedAt.Add(time.Second)
		n := 0
		for _, a := range after {
			if a.Before(resumed.Add(500 * time.Millisecond)) {
				n++
			}
		}
		// About 400/s before: half of it for half a second is some 100,
		// where a ramp from 10/s sends a probe and about 7 more.
		if n < 50 {
			t.Errorf("%d requests in the half second after the pause; want the ramp to start near half the 400/s the host carried (about 100)", n)
		}
	})
}

// A host that is taking requests at the rate it is paced to, and refuses
// one with a 429 because the pace went past its limit, is not paused again:
// the pace is cut, and the refused request waits out its own Retry-After.
// Against a token bucket of 100/s (burst 10) that answers 429 with
// Retry-After: 1 beyond it, 300 URLs at concurrency 32 see the one pause the
// first overshoot brings (no pace yet), then no second: the server is never
// left idle for half a second after it, and the run ends within 1.5 times
// the ideal 2.9 s. Pausing the host for every overshoot of the ramp took
// 2.2 times.
func TestRampOvershootCutsWithoutAPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bucket := rate.NewLimiter(100, 10)
		var mu sync.Mutex
		var arrivals []time.Duration
		refused := 0
		start := time.Now()
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			arrivals = append(arrivals, time.Since(start))
			if !bucket.Allow() {
				refused++
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		}), WithConcurrency(32))
		for r := range f.Stream(context.Background(), slices.Values(urlsFor("a.test", 300))) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		took := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		var paused time.Duration // the first pause: the first gap of over half a second
		for i := 1; i < len(arrivals); i++ {
			if gap := arrivals[i] - arrivals[i-1]; gap > 500*time.Millisecond {
				if paused != 0 {
					t.Errorf("the server was left idle from %v to %v, after the pause at %v: the host was paused again", arrivals[i-1], arrivals[i], paused)
				}
				paused = arrivals[i-1]
			}
		}
		if paused == 0 {
			t.Errorf("no pause after the first 429s")
		}
		if ideal := 2900 * time.Millisecond; took > ideal*3/2 {
			t.Errorf("300 URLs took %v with %d 429s; want within 1.5 × the ideal %v", took, refused, ideal)
		}
		t.Logf("300 URLs in %v, %d 429s", took, refused)
	})
}

// A host that stops taking anything (a quota spent) is paused all the same
// when its pace has been cut: the overshoot absorbed by the cut is the
// round in flight, and the first refusal of a request sent after it pauses
// the host. Over 5 s of 429s with Retry-After: 2, an adaptive Fetcher at
// concurrency 64, whose rate is never below 50/s, sends the round in
// flight, a probe after each pause, and little else; absorbing every 429
// let out 178.
func TestQuotaSpentPausesAPacedHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		start := time.Now()
		during := 0 // requests that reached the server while it refused
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			if since := time.Since(start); since >= time.Second && since < 6*time.Second {
				during++
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		}), WithConcurrency(64), WithAdaptiveRate(AdaptiveRate{Floor: 50, Ceiling: 1000, Initial: 200}),
			WithRetry(RetryPolicy{MaxAttempts: 10, BaseDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second}))
		for r := range f.Stream(context.Background(), slices.Values(urlsFor("a.test", 800))) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		// The round in flight, the requests the cut rate let out before
		// the first of them was answered, and one probe after each 2 s pause,
		// where the floor of 50/s alone would let out 250.
		if during > 30 {
			t.Errorf("%d requests reached the host in the 5 s it refused everything; want the host paused after a round", during)
		}
		t.Logf("%d requests in the 5 s of refusals", during)
	})
}
