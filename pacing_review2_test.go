package fetch

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// r2HostStats returns host's HostStats, or the zero HostStats if f does
// not list it.
func r2HostStats(f *Fetcher, host string) HostStats {
	for _, h := range f.Stats().Hosts {
		if h.Host == host {
			return h
		}
	}
	return HostStats{}
}

// r2Hammer runs callers goroutines, each calling f.Get on host in a loop
// until for has passed, and returns how many Gets succeeded.
func r2Hammer(t *testing.T, f *Fetcher, host string, callers int, d time.Duration) int64 {
	var ok atomic.Int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			for i := 0; time.Now().Before(end); i++ {
				if _, err := f.Get(context.Background(), "http://"+host+"/"+strconv.Itoa(g)+"/"+strconv.Itoa(i)); err == nil {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return ok.Load()
}

// r2Batch sends n concurrent Gets to host and returns how long they took.
func r2Batch(t *testing.T, f *Fetcher, host string, n int) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for _, u := range urlsFor(host, n) {
		wg.Go(func() {
			if _, err := f.Get(context.Background(), u); err != nil {
				t.Errorf("%s: %v", u, err)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// The ramp after a pause ends once the host keeps up, even a host that
// answers far fewer than 10,000 requests a second: 16 callers against a
// host answering in 20 ms (800/s, every request a success). Capping the
// doubling at twice the host's answers kept such a ramp pacing the host
// for good (HostStats.Rate never back to zero), and after each idle spell
// it regrew from its start: 64 requests took 330 ms instead of 80.
func TestRampEndsOnceTheHostKeepsUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var refused atomic.Bool
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refused.CompareAndSwap(false, true) {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			time.Sleep(20 * time.Millisecond)
			w.Write([]byte("ok"))
		}), WithConcurrency(16))
		defer f.Shutdown(context.Background())
		if _, err := f.Get(context.Background(), "http://a.test/first"); err != nil { // paused 1 s, ramp
			t.Fatal(err)
		}
		n := r2Hammer(t, f, "a.test", 16, 4*time.Second)
		hs := r2HostStats(f, "a.test")
		t.Logf("after 4 s of successes (%d, %.0f/s): %+v", n, float64(n)/4, hs)
		if hs.Rate != 0 {
			t.Errorf("the ramp is still pacing a.test at %v/s after 4 s of nothing but successes; it ends only at 10,000/s, which a host answering %.0f/s never lets it reach", hs.Rate, float64(n)/4)
		}
		time.Sleep(2 * time.Second) // idle
		took := r2Batch(t, f, "a.test", 64)
		t.Logf("after 2 s idle, 64 concurrent Gets took %v, rate now %v", took, r2HostStats(f, "a.test").Rate)
		// Unpaced: 4 rounds of 16 at 20 ms = 80 ms.
		if took > 200*time.Millisecond {
			t.Errorf("after an idle spell, 64 Gets to a host that refused once, 5 s earlier, took %v (unpaced: 80 ms): the lingering ramp restarts at its start rate", took)
		}
	})
}

// An adaptive rate that is still doubling keeps what it learnt over an
// idle spell: a fast host that never refused, its rate at Ceiling 500, is
// still at 500 after 2 s of idleness. Capping the doubling at twice the
// answers of the last 750 ms took it back to Initial (10/s), and the next
// 500 requests took 2.6 s instead of 1.0.
func TestAdaptiveRateKeptOverAnIdleSpell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(5 * time.Millisecond)
			w.Write([]byte("ok"))
		}), WithConcurrency(64), WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 500, Initial: 10}))
		defer f.Shutdown(context.Background())
		r2Hammer(t, f, "a.test", 64, 4*time.Second)
		before := r2HostStats(f, "a.test")
		if before.Rate != 500 {
			t.Fatalf("after 4 s of successes: %+v; want the Ceiling, 500", before)
		}
		warm := r2Batch(t, f, "a.test", 500)
		time.Sleep(2 * time.Second) // idle
		if _, err := f.Get(context.Background(), "http://a.test/again"); err != nil {
			t.Fatal(err)
		}
		after := r2HostStats(f, "a.test")
		cold := r2Batch(t, f, "a.test", 500)
		t.Logf("rate %v before 2 s idle, %v after one success; 500 Gets took %v before the idle spell, %v after", before.Rate, after.Rate, warm, cold)
		if after.Rate < before.Rate/2 {
			t.Errorf("an idle spell of 2 s took the adaptive rate from %v to %v/s (Initial), with no overload: the gap should not count, not undo the doubling", before.Rate, after.Rate)
		}
		if cold > warm*3/2 {
			t.Errorf("500 Gets after 2 s idle took %v, against %v before it", cold, warm)
		}
	})
}
