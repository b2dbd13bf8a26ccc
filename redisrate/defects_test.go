package redisrate

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Several limiters, each with its own Redis client as separate replicas
// would have, hammer one key for a bounded time: the grants they hand out
// together stay within burst + rate x elapsed.
func TestSharedLimitHoldsAcrossConcurrentLimiters(t *testing.T) {
	rs := startRedis(t)
	limit := redis_rate.Limit{Rate: 50, Burst: 5, Period: time.Second}
	key := uniqueKey(t)
	const replicas, workers = 4, 4
	lims := make([]*Limiter, replicas)
	for i := range lims {
		l, err := New(newClient(t, rs.Addr), key, limit)
		if err != nil {
			t.Fatal(err)
		}
		lims[i] = l
	}
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	var mu sync.Mutex
	var grants []time.Time
	var wg sync.WaitGroup
	start := time.Now()
	for _, l := range lims {
		for range workers {
			wg.Go(func() {
				for i := 0; i < 1000 && ctx.Err() == nil; i++ {
					if err := l.Wait(ctx); err != nil {
						// Near the end a wait is refused at once.
						if !errors.Is(err, context.DeadlineExceeded) {
							t.Errorf("Wait: %v", err)
						}
						return
					}
					mu.Lock()
					grants = append(grants, time.Now())
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	most := limit.Burst + int(float64(limit.Rate)*elapsed.Seconds()) + 1
	t.Logf("%d limiters granted %d in %v (limit allows %d)", replicas, len(grants), elapsed, most)
	if len(grants) > most {
		t.Errorf("%d grants in %v; the shared limit allows at most %d", len(grants), elapsed, most)
	}
	if least := most * 8 / 10; len(grants) < least {
		t.Errorf("%d grants in %v; want at least %d", len(grants), elapsed, least)
	}
	// Any one-second window holds at most rate + burst grants.
	for i, g := range grants {
		n := 0
		for _, h := range grants[i:] {
			if h.Sub(g) < time.Second {
				n++
			}
		}
		if n > limit.Rate+limit.Burst+1 {
			t.Fatalf("%d grants within 1s of %v; want at most %d", n, g.Sub(start), limit.Rate+limit.Burst+1)
		}
	}
}

// A Redis that does not answer (CLIENT PAUSE stands in for a stalled
// server) holds a caller for Timeout, not for the client's read timeout,
// which may be none at all; a cancelled caller goes at once; the error
// does not pass for the caller's own deadline; and the limiter recovers
// once Redis answers again.
func TestStalledRedisBoundedByTimeout(t *testing.T) {
	rs := startRedis(t)
	admin := newClient(t, rs.Addr)
	// No read timeout: go-redis waits as long as the server takes.
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, DisableIdentity: true, ReadTimeout: -1})
	t.Cleanup(func() { rdb.Close() })
	lim, err := New(rdb, uniqueKey(t), redis_rate.PerSecond(1000), Timeout(100*time.Millisecond), Recheck(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := lim.Wait(t.Context()); err != nil { // connect while Redis answers
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	if err := admin.Do(t.Context(), "CLIENT", "PAUSE", 3000, "ALL").Err(); err != nil {
		t.Fatal(err)
	}

	waitFor := func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- lim.Wait(ctx) }()
		select {
		case err := <-done:
			return time.Since(start), err
		case <-time.After(1500 * time.Millisecond):
			t.Fatal("Wait on a stalled Redis still blocked after 1.5s; Timeout is 100ms")
			return 0, nil
		}
	}
	took, err := waitFor(context.Background())
	if !errors.Is(err, fetch.ErrLimiterUnavailable) {
		t.Errorf("Wait on a stalled Redis = %v; want ErrLimiterUnavailable", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait on a stalled Redis = %v; matches DeadlineExceeded though the caller has no deadline", err)
	}
	t.Logf("stalled Redis: %v after %v", err, took)

	ctx, cancel := context.WithCancel(context.Background())
	lim2, err := New(rdb, uniqueKey(t), redis_rate.PerSecond(1000), Timeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- lim2.Wait(ctx) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Wait on a stalled Redis = %v; want Canceled", err)
		}
	case <-time.After(1500 * time.Millisecond):
		t.Fatal("cancelled Wait on a stalled Redis still blocked after 1.5s")
	}

	// Redis answers again: the limiter recovers, and the calls left
	// waiting on the stalled server end.
	deadline := time.Now().Add(10 * time.Second)
	for lim.Wait(t.Context()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("limiter did not recover within 10s of Redis answering again")
		}
		time.Sleep(10 * time.Millisecond) // between polls
	}
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after recovery; %d before the stall", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond) // between polls
	}
}

// A wait that would end past ctx's deadline is refused at once, as
// x/time/rate refuses it, with an error matching DeadlineExceeded: whether
// the limiter knows the next token is late (it took the last one), learns
// it from Redis (another replica took it), or is queued behind callers
// that will take the tokens before it.
func TestWaitPastDeadlineRefusedAtOnce(t *testing.T) {
	check := func(t *testing.T, what string, l *Limiter) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := l.Wait(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: Wait = %v; want DeadlineExceeded", what, err)
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("%s: refused after %v; want at once", what, got)
		}
	}
	t.Run("own token", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := mustLimiter(t, &fakeRedis{})
			if err := l.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
			check(t, "next token due in 100ms", l)
		})
	})
	t.Run("other replica", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := &fakeRedis{}
			other, l := mustLimiter(t, r), mustLimiter(t, r)
			if err := other.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
			check(t, "token taken by another replica", l)
		})
	})
	t.Run("queued", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := mustLimiter(t, &fakeRedis{}, Recheck(0))
			var wg sync.WaitGroup
			for range 3 { // the bucket holds one token: they end at 0, 100, 200ms
				wg.Go(func() {
					if err := l.Wait(t.Context()); err != nil {
						t.Error(err)
					}
				})
			}
			synctest.Wait()
			ctx, cancel := context.WithTimeout(t.Context(), 250*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := l.Wait(ctx) // would end at 300ms
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("queued Wait = %v; want DeadlineExceeded", err)
			}
			if got := time.Since(start); got != 0 {
				t.Errorf("queued Wait refused after %v; want at once", got)
			}
			wg.Wait()
		})
	})
	t.Run("fail open queued", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := &fakeRedis{}
			r.set(errors.New("connection refused"), false)
			l := mustLimiter(t, r, FailOpen(rate.NewLimiter(2, 1)))
			if err := l.Wait(t.Context()); err != nil { // the fallback's token
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			wg.Go(func() { // waits 500ms on the fallback
				if err := l.Wait(t.Context()); err != nil {
					t.Error(err)
				}
			})
			synctest.Wait()
			check(t, "fallback busy until 500ms, then 1s", l)
			wg.Wait()
		})
	})
}

// Bad input is refused by New with an error naming the problem, not met
// later as a panic or as a misleading error from every Wait.
func TestNewRejectsBadInputClearly(t *testing.T) {
	ok := redis_rate.Limit{Rate: 1, Burst: 1, Period: time.Second}
	for _, tc := range []struct {
		name  string
		key   string
		limit redis_rate.Limit
		opts  []Option
		want  string
	}{
		{"negative rate", "k", redis_rate.Limit{Rate: -5, Burst: 1, Period: time.Second}, nil, "rate"},
		{"zero period", "k", redis_rate.Limit{Rate: 1, Burst: 1}, nil, "period"},
		{"negative burst", "k", redis_rate.Limit{Rate: 1, Burst: -1, Period: time.Second}, nil, "burst"},
		{"empty key", "", ok, nil, "key"},
		// A fallback of burst 0 or rate 0 (the share computed with integer
		// division, 2/3 = 0) refuses every wait with "would exceed context
		// deadline", though there is no deadline.
		{"fallback burst 0", "k", ok, []Option{FailOpen(rate.NewLimiter(10, 0))}, "burst"},
		{"fallback rate 0", "k", ok, []Option{FailOpen(rate.NewLimiter(0, 3))}, "rate"},
	} {
		_, err := newLimiter(&fakeRedis{}, tc.key, tc.limit, tc.opts...)
		if err == nil {
			t.Errorf("%s: newLimiter succeeded; want an error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not name the %s", tc.name, err, tc.want)
		}
	}
	// rate.Inf needs no burst.
	if _, err := newLimiter(&fakeRedis{}, "k", ok, FailOpen(rate.NewLimiter(rate.Inf, 0))); err != nil {
		t.Errorf("FailOpen(rate.Inf, 0): %v", err)
	}
	// A nil *redis.Client is a nil client too, not a panic at the first Wait.
	var rdb *redis.Client
	if l, err := New(rdb, "k", ok); err == nil {
		var panicked atomic.Bool
		func() {
			defer func() { panicked.Store(recover() != nil) }()
			l.Wait(t.Context())
		}()
		t.Errorf("New(nil *redis.Client) succeeded (then Wait panicked: %v); want an error", panicked.Load())
	}
}

// A Redis call that runs out of Timeout is Redis being unavailable, not the
// caller's deadline: the Fetcher counts an error matching DeadlineExceeded
// as a timeout of the call, and the caller would blame its own deadline.
func TestSlowRedisIsNotTheCallersDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRedis{} // answers with ctx.Err(), as go-redis does with ContextTimeoutEnabled
		r.set(nil, true)
		l := mustLimiter(t, r, Timeout(20*time.Millisecond))
		err := l.Wait(t.Context())
		if !errors.Is(err, fetch.ErrLimiterUnavailable) {
			t.Fatalf("Wait on a hung Redis = %v; want ErrLimiterUnavailable", err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait on a hung Redis = %v; matches DeadlineExceeded, though the caller has no deadline", err)
		}
	})
}
