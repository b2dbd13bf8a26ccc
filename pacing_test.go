package fetch

import (
	"context"
	"net/http"
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
