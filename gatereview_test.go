package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

// Review of ceaa34c (gates.take: host slot, host tokens, global slot,
// global token).

// slotsState returns s's taken and ticket counts.
func slotsState(s *slots) (taken int, ticket int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.taken, s.ticket.Load()
}

// A server that holds every request for a second, WithHostRate(10, 2)
// under the global cap only (no host cap, the usual configuration): the
// single calls take the host's token before they wait for a global slot.
// Callers queued behind the stalled slots must not bank host tokens and go
// together when the slots free: the server must see at most 12 requests to
// the host in any 1 s window, as it does for WithRate and for a host rate
// under a host cap (TestSharedReviewStallDoesNotBunchGlobalTokens). Before
// host.turn it saw 17 in a 1 s window (16 for the adaptive rate).
func TestGateReviewHostRateUnderGlobalCapDoesNotBunch(t *testing.T) {
	for _, kind := range []string{"WithHostRate", "WithAdaptiveRate"} {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lim := WithHostRate(10, 2)
				if kind == "WithAdaptiveRate" {
					lim = WithAdaptiveRate(AdaptiveRate{Initial: 10, Floor: 10, Ceiling: 10})
				}
				most, total := stallWindow(t, lim, WithConcurrency(4))
				t.Logf("%s under WithConcurrency(4): %d requests, at most %d in a 1 s window", kind, total, most)
				bound := 12
				if kind == "WithAdaptiveRate" {
					bound = 11 // its bucket's burst is 1
				}
				if most > bound {
					t.Errorf("server saw %d requests in 1 s; the host's rate allows %d", most, bound)
				}
			})
		})
	}
}

// slots.free handing a slot to a blocked acquire as its ctx ends: whichever
// way acquire's select goes, the slot is given back or held exactly once,
// and inFlight never counts it.
func TestGateReviewSlotGivenAsCtxEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := map[bool]int{}
		for range 200 {
			s := newSlots(1)
			if err := s.acquire(context.Background(), nil, "x"); err != nil {
				t.Fatal(err)
			}
			s.send() // in flight
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.acquire(ctx, nil, "x") }()
			synctest.Wait() // blocked in line
			cancel()
			s.release() // the slot goes to the waiter as its ctx ends
			if n := s.inFlight(); n != 0 {
				t.Fatalf("inFlight %d while the slot is given to a waiter", n)
			}
			err := <-done
			got[err == nil]++
			taken, ticket := slotsState(s)
			if err == nil {
				if taken != 1 || ticket != 1 || s.inFlight() != 0 {
					t.Fatalf("acquired: taken %d ticket %d inFlight %d; want 1 1 0", taken, ticket, s.inFlight())
				}
				s.releaseTicket()
				taken, ticket = slotsState(s)
			}
			if taken != 0 || ticket != 0 || s.line.Len() != 0 {
				t.Fatalf("after: taken %d ticket %d line %d; want all 0 (err %v)", taken, ticket, s.line.Len(), err)
			}
		}
		t.Logf("acquired %d, refused %d", got[true], got[false])
	})
}

// Do callers blocked at each of take's steps (host slot, host token, global
// slot, global token): none counts in flight; Waiting counts them all; each
// step's cancellation, and then Shutdown, gives every slot back.
func TestGateReviewStatsAndCancelAtEachStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		block := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Host == "busy.test" {
				<-block
			}
		})
		f := newMem(t, h, WithConcurrency(2), WithHostConcurrency(1),
			WithRate(PerMinute(1), 1), WithHostRate(PerMinute(1), 1), WithRetry(RetryPolicy{MaxAttempts: 1}))
		// busy.test: one request in flight, holding a global and a host
		// slot; it spends the global token.
		inflight := make(chan error, 1)
		go func() { _, err := f.Get(context.Background(), "http://busy.test/"); inflight <- err }()
		synctest.Wait()
		if st := f.Stats(); st.InFlight != 1 {
			t.Fatalf("InFlight %d; want 1", st.InFlight)
		}
		type waiter struct {
			name   string
			cancel context.CancelFunc
			done   chan error
		}
		start := func(name, url string) *waiter {
			ctx, cancel := context.WithCancel(context.Background())
			w := &waiter{name, cancel, make(chan error, 1)}
			go func() { _, err := f.Get(ctx, url); w.done <- err }()
			synctest.Wait()
			return w
		}
		// b.test: takes b's slot, b's token (full), the free global slot,
		// then waits for the global token (spent by busy.test).
		wb := start("global token", "http://b.test/")
		// c.test: takes c's slot and token, waits for a global slot.
		wc := start("global slot", "http://c.test/")
		// busy.test again: waits for busy's host slot.
		wh := start("host slot", "http://busy.test/")
		// b.test again: waits for b's slot, held by wb.
		wb2 := start("host slot 2", "http://b.test/")
		st := f.Stats()
		if st.InFlight != 1 || st.Waiting != 4 {
			t.Errorf("with 4 waiting: InFlight %d Waiting %d; want 1 and 4", st.InFlight, st.Waiting)
		}
		if taken, ticket := slotsState(f.gates.slots); taken != 2 || ticket != 1 {
			t.Errorf("global slots: taken %d ticket %d; want 2 and 1", taken, ticket)
		}
		// Cancel in turn: each returns Canceled at once.
		for _, w := range []*waiter{wc, wb2, wb} {
			w.cancel()
			synctest.Wait()
			select {
			case err := <-w.done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("%s: %v; want Canceled", w.name, err)
				}
			default:
				t.Fatalf("%s: still waiting after cancel", w.name)
			}
			if st := f.Stats(); st.InFlight != 1 {
				t.Errorf("after cancelling %s: InFlight %d; want 1", w.name, st.InFlight)
			}
		}
		if taken, ticket := slotsState(f.gates.slots); taken != 1 || ticket != 0 {
			t.Errorf("global slots after cancels: taken %d ticket %d; want 1 and 0", taken, ticket)
		}
		// Shutdown ends the host-slot waiter with ErrClosed.
		sdone := make(chan error, 1)
		go func() { sdone <- f.Shutdown(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-wh.done:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("host slot waiter at Shutdown: %v; want ErrClosed", err)
			}
		default:
			t.Error("host slot waiter still waiting after Shutdown")
		}
		close(block)
		<-inflight
		<-sdone
		if taken, ticket := slotsState(f.gates.slots); taken != 0 || ticket != 0 {
			t.Errorf("global slots at the end: taken %d ticket %d", taken, ticket)
		}
		if st := f.Stats(); st.InFlight != 0 || st.Waiting != 0 {
			t.Errorf("at the end: InFlight %d Waiting %d", st.InFlight, st.Waiting)
		}
	})
}

// A Limiter of the caller's (WithLimiter) that panics in Wait. The panic
// used to reach Do's caller (net/http recovers a handler's panic, say),
// leaving the call registered, so that Shutdown waited for it for ever;
// and since ceaa34c the wait held the host's slot (and, for WithLimiter,
// the global one), which take did not give back: with WithConcurrency(1),
// the next call waited for ever. The panic now fails the call with a
// *PanicError, and take gives back what it holds on every way out.
func TestGateReviewPanickingLimiterKeepsNoSlot(t *testing.T) {
	for _, kind := range []string{"WithLimiter", "WithHostLimiter"} {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var panics atomic.Int32
				panics.Store(1)
				l := limiterFunc(func(ctx context.Context) error {
					if panics.Add(-1) >= 0 {
						panic("limiter bug")
					}
					return nil
				})
				opt := WithLimiter(l)
				if kind == "WithHostLimiter" {
					opt = WithHostLimiter(func(string) Limiter { return l })
				}
				f := newMem(t, http.HandlerFunc(ok), opt, WithConcurrency(1), WithHostConcurrency(1), WithRetry(RetryPolicy{MaxAttempts: 1}))
				_, err := f.Get(context.Background(), "http://a.test/")
				if pe := new(PanicError); !errors.As(err, &pe) || pe.Value != "limiter bug" {
					t.Errorf("Get through a panicking Limiter: %v; want a *PanicError", err)
				}
				taken, _ := slotsState(f.gates.slots)
				if taken != 0 {
					t.Errorf("after the Limiter's panic, %d global slot(s) held", taken)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if _, err := f.Get(ctx, "http://a.test/"); err != nil {
					t.Errorf("next Get: %v", err)
				}
				// The panicking call ended as any other: Shutdown does not
				// wait for it.
				sctx, scancel := context.WithTimeout(context.Background(), time.Millisecond)
				defer scancel()
				if err := f.Shutdown(sctx); err != nil {
					t.Errorf("Shutdown after a Limiter's panic: %v", err)
				}
				if n := f.Stats().Failed.Other; n != 1 {
					t.Errorf("Failed.Other = %d; want 1 (the panic)", n)
				}
			})
		})
	}
}

// Get's documented fail-fast: a wait for a token due after the context's
// deadline is refused at once with DeadlineExceeded. Behind a host slot
// held by a stalled request, the call now first waits for the slot, until
// its deadline, and failed then (10 s); before ceaa34c it failed at once.
// take now checks the buckets' due times against the deadline first.
func TestGateReviewTokenPastDeadlineFailsAtOnceBehindHeldSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		block := make(chan struct{})
		h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block })
		f := newMem(t, h, WithHostRate(PerMinute(1), 1), WithHostConcurrency(1), WithRetry(RetryPolicy{MaxAttempts: 1}))
		done := make(chan struct{})
		go func() { f.Get(context.Background(), "http://a.test/"); close(done) }()
		synctest.Wait() // in flight, its token spent: the next is due in 60 s
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := f.Get(ctx, "http://a.test/")
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 0 {
			t.Errorf("token due in 60 s, deadline 10 s, slot held: %v after %v; want DeadlineExceeded at once", err, time.Since(start))
		}
		close(block)
		<-done
		f.Shutdown(context.Background())
	})
}

// Blocking callers and the scheduler's seats sharing every line, over
// several hosts, with host and global caps and rates, a Limiter that can
// only be waited for, an adaptive rate and 429s with Retry-After: every
// call ends (synctest reports a deadlock otherwise), nothing is held after,
// and a host's rate holds.
func TestGateReviewMixedCallersNoDeadlock(t *testing.T) {
	type cfg struct {
		name string
		opts []Option
	}
	cfgs := []cfg{
		{"rates+caps", []Option{WithConcurrency(2), WithHostConcurrency(1), WithRate(50, 1), WithHostRate(10, 1)}},
		{"host cap over global", []Option{WithConcurrency(1), WithHostConcurrency(2), WithRate(20, 2), WithHostRate(20, 1)}},
		{"opaque global", []Option{WithConcurrency(2), WithHostConcurrency(1), WithLimiter(opaque{rate.NewLimiter(30, 1)}), WithHostRate(10, 1)}},
		{"opaque host", []Option{WithConcurrency(3), WithHostConcurrency(1), WithRate(30, 1), WithHostLimiter(func(string) Limiter { return opaque{rate.NewLimiter(10, 1)} })}},
		{"adaptive", []Option{WithConcurrency(2), WithHostConcurrency(1), WithRate(40, 1), WithAdaptiveRate(AdaptiveRate{Initial: 10, Floor: 2, Ceiling: 20})}},
	}
	for _, c := range cfgs {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n atomic.Int64
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if n.Add(1)%17 == 0 {
						w.Header().Set("Retry-After", "1")
						w.WriteHeader(http.StatusTooManyRequests)
						return
					}
					time.Sleep(30 * time.Millisecond)
				})
				f := newMem(t, h, append(c.opts, WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond}))...)
				hosts := []string{"a.test", "b.test", "c.test"}
				var wg sync.WaitGroup
				for i := range 6 {
					wg.Go(func() {
						for k := range 8 {
							f.Get(context.Background(), fmt.Sprintf("http://%s/%d", hosts[(i+k)%3], k))
						}
					})
				}
				for i := range 2 {
					wg.Go(func() {
						var urls []string
						for k := range 20 {
							urls = append(urls, fmt.Sprintf("http://%s/b%d", hosts[(i+k)%3], k))
						}
						f.GetAll(context.Background(), urls)
					})
				}
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
					defer cancel()
					var urls []string
					for k := range 30 {
						urls = append(urls, fmt.Sprintf("http://%s/s%d", hosts[k%3], k))
					}
					for range f.Stream(ctx, func(yield func(string) bool) {
						for _, u := range urls {
							if !yield(u) {
								return
							}
						}
					}) {
					}
				})
				wg.Wait()
				if err := f.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
				if taken, ticket := slotsState(f.gates.slots); taken != 0 || ticket != 0 {
					t.Errorf("global slots at the end: taken %d ticket %d", taken, ticket)
				}
				for _, name := range hosts {
					hs := f.gates.hosts.get(name)
					if hs.slots != nil {
						if taken, ticket := slotsState(hs.slots); taken != 0 || ticket != 0 {
							t.Errorf("%s slots at the end: taken %d ticket %d", name, taken, ticket)
						}
					}
					f.gates.hosts.put(hs)
				}
				if st := f.Stats(); st.InFlight != 0 || st.Waiting != 0 {
					t.Errorf("at the end: InFlight %d Waiting %d", st.InFlight, st.Waiting)
				}
				t.Logf("%d requests", n.Load())
			})
		})
	}
}

// The design rule: a caller waiting for its host's rate holds no global
// slot. With one global slot and a.test at 1 a minute, callers queued for
// a.test's token do not keep b.test out.
func TestGateReviewHostRateWaiterHoldsNoGlobalSlot(t *testing.T) {
	for _, kind := range []string{"bucket", "opaque", "host cap"} {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts := []Option{WithConcurrency(1), WithRetry(RetryPolicy{MaxAttempts: 1})}
				switch kind {
				case "bucket":
					opts = append(opts, WithHostLimiter(func(h string) Limiter {
						if h == "a.test" {
							return rate.NewLimiter(PerMinute(1), 1)
						}
						return nil
					}))
				case "opaque":
					opts = append(opts, WithHostLimiter(func(h string) Limiter {
						if h == "a.test" {
							return opaque{rate.NewLimiter(PerMinute(1), 1)}
						}
						return nil
					}))
				case "host cap":
					opts = append(opts, WithHostConcurrency(1), WithHostLimiter(func(h string) Limiter {
						if h == "a.test" {
							return rate.NewLimiter(PerMinute(1), 1)
						}
						return nil
					}))
				}
				f := newMem(t, http.HandlerFunc(ok), opts...)
				ctx, cancel := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				for range 5 {
					wg.Go(func() { f.Get(ctx, "http://a.test/") })
				}
				synctest.Wait()
				start := time.Now()
				if _, err := f.Get(context.Background(), "http://b.test/"); err != nil {
					t.Fatal(err)
				}
				if d := time.Since(start); d != 0 {
					t.Errorf("b.test waited %v behind a.test's rate", d)
				}
				res := f.GetAll(context.Background(), []string{"http://b.test/1", "http://b.test/2"})
				for _, r := range res {
					if r.Err != nil {
						t.Error(r.Err)
					}
				}
				if d := time.Since(start); d != 0 {
					t.Errorf("b.test's batch waited %v behind a.test's rate", d)
				}
				cancel()
				wg.Wait()
				f.Shutdown(context.Background())
			})
		})
	}
}

// A caller given its host's slot while a Retry-After pause it did not see
// begin is on waits the pause out without holding the slot or taking a
// token: it neither holds a global slot another host could use nor spends
// the global token another host's request then goes on. (Before, it took
// the global slot and token, and only then saw the pause: the b.test
// request below waited 60 s for the next token.)
func TestGateReviewPausedHostSlotTakesNoGlobalToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Host == "a.test" {
				<-release
				w.Header().Set("Retry-After", "10")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		})
		f := newMem(t, h, WithRate(PerMinute(1), 2), WithHostConcurrency(1), WithRetry(RetryPolicy{MaxAttempts: 1}))
		first := make(chan error, 1)
		go func() { _, err := f.Get(context.Background(), "http://a.test/"); first <- err }()
		synctest.Wait() // in flight, holding a.test's slot and the first token
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		second := make(chan error, 1)
		go func() { _, err := f.Get(ctx, "http://a.test/"); second <- err }()
		synctest.Wait() // waiting for a.test's slot
		close(release)
		if err := <-first; err == nil {
			t.Fatal("the 429 was taken for a success")
		}
		synctest.Wait() // a.test paused for 10 s; the second caller has seen it
		start := time.Now()
		if _, err := f.Get(context.Background(), "http://b.test/"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("b.test waited %v for the global token during a.test's pause; want 0 (the second token is unspent)", d)
		}
		if st := f.Stats(); st.InFlight != 0 {
			t.Errorf("InFlight %d during the pause; want 0", st.InFlight)
		}
		cancel()
		if err := <-second; !errors.Is(err, context.Canceled) {
			t.Errorf("second a.test call: %v; want Canceled", err)
		}
	})
}

// While every global slot is busy, callers to a host with a rate that does
// not bind (b.test) keep their share of the global line, as callers to a
// host without one (a.test) do: they wait for a global slot holding no
// token, and take the host's token with it. (Had they each waited for the
// host's token first, one at a time per host, b.test would have had one
// place in the line: 10 requests in 10 s instead of 40.)
func TestGateReviewRatedHostKeepsItsShareOfBusyGlobalSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var na, nb atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(100 * time.Millisecond)
			if r.URL.Host == "b.test" {
				nb.Add(1)
			} else {
				na.Add(1)
			}
		})
		f := newMem(t, h, WithConcurrency(2), WithHostLimiter(func(host string) Limiter {
			if host == "b.test" {
				return rate.NewLimiter(1000, 10)
			}
			return nil
		}))
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		loop := func(u string) {
			wg.Go(func() {
				for ctx.Err() == nil {
					f.Get(ctx, u)
				}
			})
		}
		for range 20 {
			loop("http://a.test/")
		}
		for range 5 {
			loop("http://b.test/")
		}
		wg.Wait()
		a, b := na.Load(), nb.Load()
		t.Logf("in 10 s: a.test %d, b.test %d (b.test has 5 of the 25 callers)", a, b)
		if b < 30 {
			t.Errorf("b.test served %d times of %d; its 5 callers of 25 should have had about a fifth", b, a+b)
		}
	})
}
