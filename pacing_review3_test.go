package fetch

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

func r3Rate(f *Fetcher, host string) rate.Limit {
	for _, h := range f.Stats().Hosts {
		if h.Host == host {
			return h.Rate
		}
	}
	return 0
}

// A slow host's ramp doubles about once a round trip, not faster: each
// success raises a doubling rate by ln 2 over the doubling period or the
// attempt's time, whichever is longer. With a step of ln 2 / 100 ms, a host
// answering in 1 s (limit 50/s) saw the ramp go from 17 to 135 a second in
// one round trip, and refused 131 requests where 39 do now.
func TestSlowHostsRampDoublesOnceARoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bucket := rate.NewLimiter(50, 5)
		var first atomic.Bool
		var refused atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if first.CompareAndSwap(false, true) {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			time.Sleep(500 * time.Millisecond) // there
			ok := bucket.Allow()
			time.Sleep(500 * time.Millisecond) // and back
			if !ok {
				refused.Add(1)
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.Write([]byte("ok"))
		}), WithConcurrency(1000), WithRetry(RetryPolicy{MaxAttempts: 20}))
		defer f.Shutdown(context.Background())
		if _, err := f.Get(context.Background(), "http://a.test/first"); err != nil { // paused 1 s, ramp
			t.Fatal(err)
		}
		start := time.Now()
		var wg sync.WaitGroup
		for _, u := range urlsFor("a.test", 600) {
			wg.Go(func() { f.Get(context.Background(), u) })
		}
		var rates []rate.Limit
		for range 5 {
			time.Sleep(time.Second)
			rates = append(rates, r3Rate(f, "a.test"))
		}
		wg.Wait()
		t.Logf("ramp rate each second (1 s round trip): %v; 600 Gets took %v, %d refused (limit 50/s)", rates, time.Since(start), refused.Load())
		for i := 1; i < len(rates); i++ {
			if rates[i-1] >= 10 && rates[i] > 3*rates[i-1] && rates[i] < 0.9*rampEnd {
				t.Errorf("the ramp went from %v/s to %v/s in one round trip (1 s): the docs say a slow host's ramp doubles once a round trip", rates[i-1], rates[i])
				break
			}
		}
	})
}
