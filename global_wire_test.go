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

// A global token a stream's seat is given at its turn, when the host it
// waited for cannot go then (a caller of Get took the host's token while
// the seat waited), is not kept for a later pass: sent later, with the
// global token of that moment taken by another call, it put two requests
// on the wire where the global rate (burst 1) allows one.
func TestGlobalTokenGivenAtATurnIsNotSentLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Duration
		start := time.Now()
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			at = append(at, time.Since(start))
			mu.Unlock()
		}), WithConcurrency(64), WithRate(10, 1),
			WithHostLimiter(func(host string) Limiter {
				if host == "a.test" {
					return rate.NewLimiter(1, 1)
				}
				return nil
			}))
		ctx := context.Background()
		var wg sync.WaitGroup
		get := func(url string) {
			wg.Go(func() {
				if _, err := f.Get(ctx, url); err != nil {
					t.Error(err)
				}
			})
			synctest.Wait()
		}
		get("http://b.test/1") // t=0: takes the global token
		get("http://b.test/2") // waits in the global line for 100ms
		wg.Go(func() {
			// Its seat takes a.test's token, finds the global line, waits
			// in it, and gives a.test's token back.
			for r := range f.Stream(ctx, slices.Values([]string{"http://a.test/s1", "http://a.test/s2"})) {
				if r.Err != nil {
					t.Error(r.Err)
				}
			}
		})
		synctest.Wait()
		get("http://a.test/3") // takes a.test's token, then waits in the global line behind the seat
		// 200ms: the seat is given its global token, and a.test cannot go
		// until 1s. At 1s, a Get takes the global token of that moment.
		wg.Go(func() {
			time.Sleep(time.Second - time.Since(start))
			if _, err := f.Get(ctx, "http://b.test/4"); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		slices.Sort(at)
		t.Logf("arrivals: %v", at)
		if i, j, ok := bucketOK(at, 10, 1); !ok {
			t.Errorf("global rate exceeded on the wire: %d arrivals in [%v, %v] at 10/s, burst 1", j-i+1, at[i], at[j])
		}
	})
}
