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

	"github.com/c989c033/fetch/internal/memhttp"
	"golang.org/x/time/rate"
)

// arrivals records when a handler is entered, on the bubble's clock.
type arrivals struct {
	mu sync.Mutex
	at []time.Time
}

func (a *arrivals) add() {
	a.mu.Lock()
	a.at = append(a.at, time.Now())
	a.mu.Unlock()
}

// maxIn returns the most arrivals within any window of length w, and the
// total.
func (a *arrivals) maxIn(w time.Duration) (most, total int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return mostWithin(a.at, w), len(a.at)
}

// opaque hides a *rate.Limiter behind the Limiter interface, as a
// Redis-backed limiter is: the gates can only wait for it.
type opaque struct{ l *rate.Limiter }

func (o opaque) Wait(ctx context.Context) error { return o.l.Wait(ctx) }

// WithRate(10, 5) over 10 s with 50 callers: exactly burst + rate x 10 s
// requests, never more than rate + burst in a 1 s window.
func TestSharedReviewWithRateExactOver10s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var a arrivals
		f, err := New(WithClient(memhttp.Client(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { a.add() }))),
			WithRate(10, 5), WithRetry(RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				for ctx.Err() == nil {
					if _, err := f.Get(ctx, "http://a.test/"); errors.Is(err, context.DeadlineExceeded) {
						return // the next token is past the deadline: refused at once
					}
				}
			})
		}
		wg.Wait()
		most, total := a.maxIn(time.Second)
		// Tokens at 0 (5 of them), then every 100 ms up to 10 s, the
		// deadline, included.
		if want := 5 + 100; total != want && total != want-1 { // the token at 10 s races the deadline
			t.Errorf("10 s at 10/s burst 5: %d requests; want %d", total, want)
		}
		if most > 15 {
			t.Errorf("%d requests in a 1 s window; want at most 15", most)
		}
		// After 5 s idle the bucket is full again: 5 at once, then 10/s.
		time.Sleep(5 * time.Second)
		a.mu.Lock()
		a.at = nil
		a.mu.Unlock()
		start := time.Now()
		for range 7 {
			if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
				t.Fatal(err)
			}
		}
		if d := time.Since(start); d != 200*time.Millisecond {
			t.Errorf("7 requests after idle took %v; want 200 ms (5 at once, 2 at 10/s)", d)
		}
	})
}

// A server that holds every request for a second: callers that took
// their tokens while every slot was held must not then be sent together
// when the slots come free. With the rate 10/s burst 2, the server must
// see at most 12 requests in any 1 s window, for a global token bucket,
// for a Limiter the gates can only wait for (a shared one), and for a
// host's rate under a host's cap. (Before the gates took each slot ahead
// of the tokens it guards, it saw 17.)
func TestSharedReviewStallDoesNotBunchGlobalTokens(t *testing.T) {
	for _, kind := range []string{"WithRate", "WithLimiter", "WithHostRate"} {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lim := []Option{WithRate(10, 2), WithConcurrency(4)}
				switch kind {
				case "WithLimiter":
					lim = []Option{WithLimiter(opaque{rate.NewLimiter(10, 2)}), WithConcurrency(4)}
				case "WithHostRate":
					lim = []Option{WithHostRate(10, 2), WithHostConcurrency(4)}
				}
				most, total := stallWindow(t, lim...)
				t.Logf("%s: %d requests, at most %d in a 1 s window", kind, total, most)
				if most > 12 {
					t.Errorf("server saw %d requests in 1 s; 10/s burst 2 allows 12", most)
				}
			})
		})
	}
}

// stallWindow runs 40 callers of Get to a.test for 3 s, on a Fetcher made
// with opts, behind a server that holds every request until 1 s has
// passed, then answers at once; it returns the most requests the server
// saw in any 1 s window, and in all. It runs in a synctest bubble.
func stallWindow(t *testing.T, opts ...Option) (most, total int) {
	return stallWindowBeside(t, nil, opts...)
}

// stallWindowBeside is stallWindow with beside, if not nil, run on a
// goroutine of its own with the Fetcher while the callers loop.
func stallWindowBeside(t *testing.T, beside func(context.Context, *Fetcher), opts ...Option) (most, total int) {
	var a arrivals
	release := time.Now().Add(time.Second)
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		a.add()
		time.Sleep(time.Until(release))
	})
	f, err := New(append(opts, WithClient(memhttp.Client(h)), WithRetry(RetryPolicy{MaxAttempts: 1}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := f.Get(ctx, "http://a.test/"); err != nil && ctx.Err() == nil {
					// The next token is past the deadline, refused at
					// once (x/time/rate's refusal does not match
					// context.DeadlineExceeded).
					return
				}
			}
		})
	}
	if beside != nil {
		wg.Go(func() { beside(ctx, f) })
	}
	wg.Wait()
	return a.maxIn(time.Second)
}

// Rates of 0, negative and NaN are refused; Inf is no limit. A tiny rate
// (1 a minute): a wait past the deadline is refused at once, and a
// cancelled wait returns at once and gives its token back.
func TestSharedReviewRateEdges(t *testing.T) {
	for _, r := range []rate.Limit{0, -1} {
		if _, err := New(WithRate(r, 1)); err == nil {
			t.Errorf("WithRate(%v, 1) accepted", r)
		}
		if _, err := New(WithHostRate(r, 1)); err == nil {
			t.Errorf("WithHostRate(%v, 1) accepted", r)
		}
	}
	if _, err := New(WithRate(rate.Inf, 0)); err != nil {
		t.Errorf("WithRate(Inf, 0): %v", err)
	}
	synctest.Test(t, func(t *testing.T) {
		var a arrivals
		f, err := New(WithClient(memhttp.Client(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { a.add() }))),
			WithRate(PerMinute(1), 1), WithRetry(RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		start := time.Now()
		_, err = f.Get(ctx, "http://a.test/")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 0 {
			t.Errorf("1/min, 30 s deadline: %v after %v; want DeadlineExceeded at once", err, time.Since(start))
		}
		ctx, cancel = context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { _, err := f.Get(ctx, "http://a.test/"); done <- err }()
		time.Sleep(10 * time.Second)
		cancel()
		synctest.Wait()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled: %v", err)
			}
		default:
			t.Fatal("cancelled wait did not return at once")
		}
		// The cancelled wait gave its token back: the next is due at 60 s.
		start = time.Now()
		if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 50*time.Second {
			t.Errorf("next after a cancelled wait waited %v; want 50 s", d)
		}
	})
}

// WithHostRate for 1,000 hosts, then 1,000 others after the first went
// idle: the host table stays near the hosts in use.
func TestSharedReviewHostRateThousandHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := New(WithClient(memhttp.Client(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))),
			WithHostRate(10, 1), WithRetry(RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		for round := range 10 {
			for i := range 1000 {
				if _, err := f.Get(t.Context(), fmt.Sprintf("http://h%d-%d.test/", round, i)); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(time.Second)
		}
		// Each of the 64 shards is swept when it has doubled since its last
		// sweep, or reaches 64 hosts: at most some 2 x 4,096 hosts.
		if n := f.gates.hosts.len(); n > 2*hostShards*minSweep {
			t.Errorf("after 10 rounds of 1,000 hosts, %d kept", n)
		} else {
			t.Logf("after 10 rounds of 1,000 hosts, %d kept", n)
		}
	})
}
