package fetch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

// Calls cancelled while they wait for a token leave no debt in the bucket,
// whichever bucket they wait on, however they were made, and in whatever
// order they are cancelled: at 1 token a second, burst 1, the request after
// the cancelled ones goes out at 1s, when the bucket would have given it a
// token had nobody waited.
func TestCancelledWaitsLeaveNoDebt(t *testing.T) {
	limits := []struct {
		name string
		opt  Option
	}{
		{"global", WithRate(PerSecond(1), 1)},
		{"host", WithHostRate(PerSecond(1), 1)},
		{"adaptive", WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 1})},
	}
	urls := make([]string, 20)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://a.test/%d", i)
	}
	// Each caller makes its calls and returns once cancel has been called
	// and they have all ended.
	callers := []struct {
		name string
		run  func(f *Fetcher, cancel func()) // cancels at 0.5s
	}{
		{"GetAll", func(f *Fetcher, cancel func()) {
			ctx, stop := context.WithCancel(context.Background())
			time.AfterFunc(500*time.Millisecond, func() { stop(); cancel() })
			f.GetAll(ctx, urls)
		}},
		{"Stream", func(f *Fetcher, cancel func()) {
			ctx, stop := context.WithCancel(context.Background())
			time.AfterFunc(500*time.Millisecond, func() { stop(); cancel() })
			for range f.Stream(ctx, slices.Values(urls)) {
			}
		}},
		{"TaskGroup", func(f *Fetcher, cancel func()) {
			ctx, stop := context.WithCancel(context.Background())
			g, gctx := NewTaskGroup(ctx)
			for _, u := range urls {
				g.Go(func() error {
					_, err := f.Get(gctx, u)
					return err
				})
			}
			time.Sleep(500 * time.Millisecond)
			stop()
			cancel()
			g.Wait()
		}},
	}
	// Concurrent Gets, each with a context of its own, cancelled one by one
	// in the given order of the calls' starts.
	for _, order := range []struct {
		name string
		perm []int
	}{
		{"first-first", []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{"last-first", []int{7, 6, 5, 4, 3, 2, 1, 0}},
		{"shuffled", []int{3, 0, 6, 1, 7, 4, 2, 5}},
	} {
		callers = append(callers, struct {
			name string
			run  func(f *Fetcher, cancel func())
		}{"Get cancelled " + order.name, func(f *Fetcher, cancel func()) {
			var wg sync.WaitGroup
			stops := make([]context.CancelFunc, len(order.perm))
			for i := range stops {
				ctx, stop := context.WithCancel(context.Background())
				stops[i] = stop
				wg.Go(func() { f.Get(ctx, urls[i]) })
				synctest.Wait() // calls queue in order
			}
			time.Sleep(500 * time.Millisecond)
			for _, i := range order.perm {
				stops[i]()
				synctest.Wait()
			}
			cancel()
			wg.Wait()
		}})
	}
	for _, lim := range limits {
		for _, caller := range callers {
			t.Run(lim.name+"/"+caller.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					c := count(ok)
					f := newMem(t, c, lim.opt, WithConcurrency(8))
					start := time.Now()
					var cancelled time.Time
					caller.run(f, func() { cancelled = time.Now() })
					if got := c.n.Load(); got != 1 {
						t.Errorf("%d requests sent before the cancel at %v; want 1", got, cancelled.Sub(start))
					}
					if _, err := f.Get(context.Background(), "http://a.test/next"); err != nil {
						t.Fatal(err)
					}
					times := c.times()
					if got := times[len(times)-1].Sub(start); got != time.Second {
						t.Errorf("the next request went out at %v; want 1s", got)
					}
				})
			})
		}
	}
}

// While calls wait in a bucket's line, gates.try takes no token ahead of
// them: the scheduler's seat waits in the line behind them, and is given
// the token after theirs, at the time it would have been had it waited as
// a call does.
func TestTryWaitsInLineWithCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, WithRate(PerSecond(1), 1))
		start := time.Now()
		var wg sync.WaitGroup
		for range 3 { // the first takes the token there; two wait in line
			wg.Go(func() { f.Get(context.Background(), "http://a.test/") })
			synctest.Wait()
		}
		h := f.gates.hosts.get("a.test")
		defer f.gates.hosts.put(h)
		var hs hostSeats
		var gs globalSeats
		var mu sync.Mutex // give runs on the timer's goroutine
		var givenAt []time.Duration
		give := func() {
			mu.Lock()
			defer mu.Unlock()
			givenAt = append(givenAt, time.Since(start))
		}
		hs.setGive(func() bool { give(); return true }, give, func(bool) {})
		gs.setGive(func() bool { give(); return true }, give, func(bool) {})
		time.Sleep(500 * time.Millisecond)
		for range 2 { // asking again keeps the seat's place
			if why, _ := f.gates.try(h, &hs, &gs, new(clock)); why != globalInLine {
				t.Fatalf("try at 0.5s, two calls in line: %v; want globalInLine", why)
			}
		}
		wg.Wait()
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(givenAt) != 0 {
			t.Errorf("the seat was given its token at %v, while calls were ahead of it", givenAt)
		}
		mu.Unlock()
		time.Sleep(time.Until(start.Add(3 * time.Second)))
		synctest.Wait()
		mu.Lock()
		if want := []time.Duration{3 * time.Second}; !slices.Equal(givenAt, want) {
			t.Errorf("the seat was given its token at %v; want %v, after the calls ahead of it", givenAt, want)
		}
		if why, _ := f.gates.try(h, &hs, &gs, new(clock)); why != granted {
			t.Errorf("try at 3s, the token given: %v; want granted", why)
		} else {
			f.gates.release(h)
		}
		var got []time.Duration
		for _, at := range c.times() {
			got = append(got, at.Sub(start))
		}
		if want := []time.Duration{0, time.Second, 2 * time.Second}; !slices.Equal(got, want) {
			t.Errorf("calls sent at %v; want %v", got, want)
		}
	})
}

// A seat that leaves the line while it waits at its front, its token
// reserved and not due, gives the token back: the call behind it goes when
// it would have had the seat never waited, and the bucket is in no debt.
func TestSeatLeavingGivesTokenBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, WithRate(PerSecond(1), 1))
		start := time.Now()
		if _, err := f.Get(context.Background(), "http://a.test/"); err != nil { // takes the token
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() { f.Get(context.Background(), "http://a.test/") }) // waits at the front, for 1s
		synctest.Wait()
		h := f.gates.hosts.get("a.test")
		defer f.gates.hosts.put(h)
		var hs hostSeats
		var gs globalSeats
		hs.setGive(func() bool { return true }, func() {}, func(bool) {})
		gs.setGive(func() bool { return true }, func() {}, func(bool) {})
		if why, _ := f.gates.try(h, &hs, &gs, new(clock)); why != globalInLine {
			t.Fatalf("try, a call waiting: %v; want globalInLine", why)
		}
		wg.Go(func() { f.Get(context.Background(), "http://a.test/") }) // behind the seat
		synctest.Wait()
		time.Sleep(1500 * time.Millisecond) // the seat has its turn from 1s, for its token at 2s
		gs.leave(&f.gates)
		hs.leave(&f.gates, h)
		wg.Wait()
		var got []time.Duration
		for _, at := range c.times() {
			got = append(got, at.Sub(start))
		}
		if want := []time.Duration{0, time.Second, 2 * time.Second}; !slices.Equal(got, want) {
			t.Errorf("calls sent at %v; want %v: the seat's token was not given back", got, want)
		}
	})
}

// A wait whose context has already ended fails with the context's error,
// not with "the token is due in 0s, after the context's deadline".
func TestWaitAfterTheDeadlineSaysSo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := rate.NewLimiter(1, 1)
		lim.Allow() // the next token is a second away
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		time.Sleep(time.Second) // past the deadline; the token is due now
		var w tokenWaits
		err := w.wait(ctx, nil, lim)
		if err != ctx.Err() {
			t.Errorf("wait after the deadline = %v; want the context's own error, %v", err, ctx.Err())
		}
	})
}
