package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

// hammer runs workers goroutines, each sending requests to one of urls (so
// that a slow host does not hold back a fast one) until a call fails: once ctx is near its end, the rate gate refuses waits
// that would pass it.
func hammer(ctx context.Context, f *Fetcher, workers int, urls ...string) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, urls[w%len(urls)], nil)
				resp, err := f.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
}

func within(got, want, slack int64) bool { return got >= want-slack && got <= want+slack }

// The number of attempts over a span of fake time is the bucket's burst plus
// its rate times the span: overall, per minute, and with retries, each of
// which takes a token of its own.
func TestRateLimits(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		opts    []Option
		workers int
		span    time.Duration
		want    int64
	}{
		{"50/s burst 5", ok, []Option{WithRate(50, 5)}, 16, 10 * time.Second, 505},
		{"120/min burst 1", ok, []Option{WithRate(PerMinute(120), 1)}, 4, time.Minute, 121},
		{"10/s with retries", failing(1000, 503, nil),
			[]Option{WithRate(10, 1), WithRetry(RetryPolicy{MaxAttempts: 5, BaseDelay: time.Nanosecond})}, 8, 10 * time.Second, 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(tc.handler)
				f := newMem(t, c, tc.opts...)
				ctx, cancel := context.WithTimeout(context.Background(), tc.span)
				defer cancel()
				hammer(ctx, f, tc.workers, "http://a.test/")
				if got := c.n.Load(); !within(got, tc.want, 1) {
					t.Errorf("%d attempts in %v; want %d±1", got, tc.span, tc.want)
				}
			})
		})
	}
}

func TestHostRates(t *testing.T) {
	t.Run("same rate each host", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a, b := count(ok), count(ok)
			f := newMem(t, byHost(map[string]http.Handler{"a.test": a, "b.test": b}), WithHostRate(50, 5))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			hammer(ctx, f, 16, "http://a.test/", "http://b.test/")
			if !within(a.n.Load(), 505, 1) || !within(b.n.Load(), 505, 1) {
				t.Errorf("a saw %d, b saw %d in 10s at 50/s burst 5 per host; want 505±1 each", a.n.Load(), b.n.Load())
			}
		})
	})
	t.Run("different rate per host", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a, b := count(ok), count(ok)
			rates := map[string]rate.Limit{"a.test": 50, "b.test": 10}
			f := newMem(t, byHost(map[string]http.Handler{"a.test": a, "b.test": b}),
				WithHostLimiter(func(host string) Limiter { return rate.NewLimiter(rates[host], 5) }))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			hammer(ctx, f, 16, "http://a.test/", "http://b.test/")
			if !within(a.n.Load(), 505, 1) || !within(b.n.Load(), 105, 1) {
				t.Errorf("a saw %d, b saw %d in 10s; want 505±1 at 50/s and 105±1 at 10/s", a.n.Load(), b.n.Load())
			}
		})
	})
}

func byHost(m map[string]http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m[r.URL.Hostname()].ServeHTTP(w, r) })
}

func slow(w http.ResponseWriter, r *http.Request) {
	time.Sleep(10 * time.Millisecond)
	w.Write([]byte("ok"))
}

func TestConcurrencyCaps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := count(slow), count(slow)
		all := count(byHost(map[string]http.Handler{"a.test": a, "b.test": b}).ServeHTTP)
		f := newMem(t, all, WithConcurrency(10), WithHostConcurrency(3))
		urls := make([]string, 1000)
		for i := range urls {
			urls[i] = fmt.Sprintf("http://%c.test/%d", 'a'+i%2, i)
		}
		var wg sync.WaitGroup
		for _, u := range urls { // 1,000 callers at once, all gated
			wg.Go(func() {
				if _, err := f.Get(context.Background(), u); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if all.n.Load() != 1000 {
			t.Fatalf("server saw %d requests; want 1000", all.n.Load())
		}
		// Two hosts at 3 each can fill only 6 of the 10 global slots.
		if a.maxSeen.Load() != 3 || b.maxSeen.Load() != 3 || all.maxSeen.Load() != 6 {
			t.Errorf("most at once: a %d, b %d, all %d; want 3, 3, 6", a.maxSeen.Load(), b.maxSeen.Load(), all.maxSeen.Load())
		}

		g := count(slow)
		f = newMem(t, g, WithConcurrency(10))
		for i := range 1000 {
			wg.Go(func() { f.Get(context.Background(), fmt.Sprintf("http://h%d.test/", i)) })
		}
		wg.Wait()
		if g.maxSeen.Load() != 10 {
			t.Errorf("most at once over 1000 hosts: %d; want the global cap, 10", g.maxSeen.Load())
		}
	})
}

// Cancelling a call while it waits at any stage returns promptly with
// context.Canceled, and nothing reaches the server after the cancel.
func TestCancellation(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		// block makes the handler hold the first request until released.
		block bool
		// first is the status of the first response.
		first int
	}{
		{"waiting for a token", []Option{WithRate(PerMinute(1), 1)}, false, 200},
		{"waiting for a global slot", []Option{WithConcurrency(1)}, true, 200},
		{"waiting for a host slot", []Option{WithHostConcurrency(1)}, true, 200},
		{"waiting for a host token", []Option{WithHostRate(PerMinute(1), 1)}, false, 200},
		{"in flight", nil, true, 200},
		{"in backoff", []Option{WithRetry(RetryPolicy{BaseDelay: time.Hour, MaxDelay: time.Hour, Jitter: NoJitter})}, false, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				var first sync.Once
				c := count(func(w http.ResponseWriter, r *http.Request) {
					isFirst := false
					first.Do(func() { isFirst = true })
					if tc.block && isFirst {
						select {
						case <-release:
						case <-r.Context().Done():
						}
					}
					if isFirst {
						w.WriteHeader(tc.first)
					}
				})
				f := newMem(t, c, tc.opts...)
				ctx, cancel := context.WithCancel(context.Background())
				// The "in flight" and "in backoff" cases cancel the first
				// call itself; the others a second call queued behind it.
				target := ctx
				var wg sync.WaitGroup
				if tc.name != "in flight" && tc.name != "in backoff" {
					target = ctx
					wg.Go(func() {
						resp, err := f.Do(get())
						if err == nil {
							resp.Body.Close()
						}
					})
					synctest.Wait()
				}
				done := make(chan error, 1)
				start := time.Now()
				go func() {
					resp, err := f.Do(get().WithContext(target))
					if err == nil {
						resp.Body.Close()
					}
					done <- err
				}()
				time.Sleep(5 * time.Second)
				seen := c.n.Load()
				cancel()
				err := <-done
				if !errors.Is(err, context.Canceled) {
					t.Errorf("err = %v; want context.Canceled", err)
				}
				if d := time.Since(start); d != 5*time.Second {
					t.Errorf("returned after %v; want at the cancel, 5s", d)
				}
				close(release)
				wg.Wait()
				synctest.Wait()
				want := seen
				if tc.name != "in flight" && tc.name != "in backoff" {
					want = 1 // only the first call's request
				}
				if got := c.n.Load(); got != want || seen != 1 {
					t.Errorf("server saw %d requests (%d before the cancel); want %d, 1 before", got, seen, want)
				}
			})
		})
	}
}

func TestRateWaitPastDeadlineIsADeadlineError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithRate(PerMinute(1), 1))
		if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := f.Get(ctx, "http://a.test/")
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 0 {
			t.Errorf("err = %v after %v; want DeadlineExceeded at once", err, time.Since(start))
		}
	})
}

// Per-host state stays bounded however many hosts pass through: idle hosts
// are forgotten once their buckets have refilled.
func TestHostTableForgetsIdleHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := newHostTable(func(string) Limiter { return rate.NewLimiter(10, 1) }, 2, nil, nil)
		most := 0
		for i := range 100_000 {
			h := tab.get(fmt.Sprintf("h%d.test", i))
			if err := h.rate.bucket.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			tab.put(h)
			if i%1000 == 999 {
				time.Sleep(time.Second) // every bucket refills in 100ms
				most = max(most, tab.len())
			}
		}
		if most > 2*hostShards*minSweep {
			t.Errorf("table held up to %d hosts after 100,000; want at most %d", most, 2*hostShards*minSweep)
		}
		// Without a rate, a host is idle as soon as nothing uses it.
		tab = newHostTable(nil, 2, nil, nil)
		for i := range 100_000 {
			tab.put(tab.get(fmt.Sprintf("h%d.test", i)))
		}
		if n := tab.len(); n > hostShards*minSweep {
			t.Errorf("table holds %d idle hosts after 100,000; want at most %d", n, hostShards*minSweep)
		}
		// A host in use is never forgotten.
		held := tab.get("held.test")
		for i := range 100_000 {
			tab.put(tab.get(fmt.Sprintf("g%d.test", i)))
		}
		if again := tab.get("held.test"); again != held {
			t.Errorf("a host in use was dropped and made anew")
		}
	})
}

// A sweep forgets a host whose retry budget counted calls but no retries
// (a fresh budget allows no more retries than it does), and keeps one that
// made retries until they leave the budget's window.
func TestSweepForgetsBudgetsWithoutRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		budget := DefaultRetryBudget()
		tab := newHostTable(nil, 0, nil, []func() policy{func() policy { return newRetryBudget(&budget) }})
		sweep := func() {
			for i := range tab.shards {
				sh := &tab.shards[i]
				sh.mu.Lock()
				sh.sweep()
				sh.mu.Unlock()
			}
		}
		calls := tab.get("calls.test")
		calls.policies[0].(*retryBudget).call()
		tab.put(calls)
		retries := tab.get("retries.test")
		retries.policies[0].(*retryBudget).call()
		if ok, _, _ := retries.policies[0].(*retryBudget).retry(); !ok {
			t.Fatal("the first retry was refused")
		}
		tab.put(retries)

		sweep()
		if again := tab.get("calls.test"); again == calls {
			t.Errorf("a host whose budget holds calls and no retries was kept")
		}
		if again := tab.get("retries.test"); again != retries {
			t.Errorf("a host whose budget holds a retry was forgotten")
		} else {
			tab.put(again)
		}

		time.Sleep(budget.Window)
		sweep()
		if again := tab.get("retries.test"); again == retries {
			t.Errorf("a host whose retries left the window %v ago was kept", budget.Window)
		}
	})
}

// A host's windows keep only the buckets that hold events, never more than
// windowBuckets, and still count what the span holds.
func TestWindowKeepsOnlyBucketsInUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWindow(time.Second) // buckets of 50ms
		w.add(time.Now(), 0)
		if len(w.buckets) != 1 {
			t.Errorf("one event: %d buckets; want 1", len(w.buckets))
		}
		for range 100 { // 5s of events, one every 50ms, two per bucket
			w.add(time.Now(), 0)
			w.add(time.Now(), 1)
			time.Sleep(50 * time.Millisecond)
			if len(w.buckets) > windowBuckets {
				t.Fatalf("%d buckets; want at most %d", len(w.buckets), windowBuckets)
			}
		}
		if a, b := w.total(time.Now()); a != windowBuckets-1 || b != windowBuckets-1 {
			t.Errorf("total: %d, %d; want %d, %d", a, b, windowBuckets-1, windowBuckets-1)
		}
	})
}
