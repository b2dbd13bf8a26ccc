package fetch

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
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
