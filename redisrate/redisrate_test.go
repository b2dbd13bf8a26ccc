package redisrate

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch"
	"github.com/go-redis/redis_rate/v10"
	"golang.org/x/time/rate"
)

// fakeRedis is an in-memory copy of redis_rate's GCRA script, answering as
// it does, for tests in a synctest bubble. err, when set, is returned
// instead; block makes a call hang until its context ends.
type fakeRedis struct {
	mu    sync.Mutex
	tat   time.Time // theoretical arrival time
	asks  atomic.Int64
	err   error
	block bool
}

func (r *fakeRedis) Allow(ctx context.Context, key string, limit redis_rate.Limit) (*redis_rate.Result, error) {
	r.asks.Add(1)
	r.mu.Lock()
	err, block := r.err, r.block
	r.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	interval := limit.Period / time.Duration(limit.Rate)
	tat := r.tat
	if tat.Before(now) {
		tat = now
	}
	newTat := tat.Add(interval)
	diff := now.Sub(newTat.Add(-time.Duration(limit.Burst) * interval))
	if diff < 0 {
		return &redis_rate.Result{Limit: limit, RetryAfter: -diff, ResetAfter: tat.Sub(now)}, nil
	}
	r.tat = newTat
	return &redis_rate.Result{Limit: limit, Allowed: 1, Remaining: int(diff / interval),
		RetryAfter: -1, ResetAfter: newTat.Sub(now)}, nil
}

func (r *fakeRedis) set(err error, block bool) {
	r.mu.Lock()
	r.err, r.block = err, block
	r.mu.Unlock()
}

var tenPerSecond = redis_rate.Limit{Rate: 10, Burst: 1, Period: time.Second}

func mustLimiter(t *testing.T, a allower, opts ...Option) *Limiter {
	t.Helper()
	l, err := newLimiter(a, "test", tenPerSecond, opts...)
	if err != nil {
		t.Fatalf("newLimiter: %v", err)
	}
	return l
}

// Twenty callers at 10/s finish at 0, 100 ms, ... 1.9 s, and Redis is asked
// once per token: the caller at the front sleeps until the next token is due
// instead of everyone polling.
func TestWaitPacesAndAsksOncePerToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRedis{}
		l := mustLimiter(t, r)
		start := time.Now()
		var mu sync.Mutex
		var done []time.Duration
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if err := l.Wait(t.Context()); err != nil {
					t.Errorf("Wait: %v", err)
				}
				mu.Lock()
				done = append(done, time.Since(start))
				mu.Unlock()
			})
		}
		wg.Wait()
		for i, d := range done {
			if want := time.Duration(i) * 100 * time.Millisecond; d != want {
				t.Errorf("wait %d finished at %v; want %v", i, d, want)
			}
		}
		if got := r.asks.Load(); got != 20 {
			t.Errorf("Redis asked %d times for 20 tokens; want 20", got)
		}
	})
}

func TestWaitCancelledReturnsContextError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustLimiter(t, &fakeRedis{})
		if err := l.Wait(t.Context()); err != nil { // takes the only token
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if err := l.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait past the deadline = %v; want DeadlineExceeded", err)
		}
		// The cancelled caller gave up its place at the front.
		if err := l.Wait(t.Context()); err != nil {
			t.Fatalf("next Wait = %v", err)
		}
	})
}

func TestFailClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRedis{}
		l := mustLimiter(t, r, Recheck(time.Second))
		down := errors.New("connection refused")
		r.set(down, false)

		err := l.Wait(t.Context())
		if !errors.Is(err, fetch.ErrLimiterUnavailable) || !errors.Is(err, down) {
			t.Fatalf("Wait with Redis down = %v; want ErrLimiterUnavailable wrapping the cause", err)
		}
		// Within Recheck, Redis is not asked again: callers fail at once.
		asks := r.asks.Load()
		if err := l.Wait(t.Context()); !errors.Is(err, fetch.ErrLimiterUnavailable) {
			t.Fatalf("second Wait = %v; want ErrLimiterUnavailable", err)
		}
		if got := r.asks.Load(); got != asks {
			t.Errorf("Redis asked %d more times within Recheck; want 0", got-asks)
		}
		// Redis is back: after Recheck the limiter recovers by itself.
		r.set(nil, false)
		time.Sleep(time.Second)
		if err := l.Wait(t.Context()); err != nil {
			t.Fatalf("Wait after Redis came back = %v", err)
		}
	})
}

func TestSlowRedisCountsAsUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRedis{}
		l := mustLimiter(t, r, Timeout(20*time.Millisecond))
		r.set(nil, true)
		start := time.Now()
		err := l.Wait(t.Context())
		if !errors.Is(err, fetch.ErrLimiterUnavailable) {
			t.Fatalf("Wait on a hung Redis = %v; want ErrLimiterUnavailable", err)
		}
		if got := time.Since(start); got != 20*time.Millisecond {
			t.Errorf("gave up after %v; want the 20ms timeout", got)
		}
	})
}

func TestFailOpenUsesFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRedis{}
		fallback := rate.NewLimiter(2, 1)
		l := mustLimiter(t, r, FailOpen(fallback))
		r.set(errors.New("connection refused"), false)

		start := time.Now()
		for range 3 {
			if err := l.Wait(t.Context()); err != nil {
				t.Fatalf("Wait failing open = %v", err)
			}
		}
		// Three tokens from a 2/s bucket of burst 1 take one second.
		if got := time.Since(start); got != time.Second {
			t.Errorf("3 fallback waits took %v; want 1s (the fallback's rate)", got)
		}
		// A wait the fallback cannot grant before the deadline is a
		// deadline error, as the Limiter contract asks.
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		if err := l.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("fallback wait past the deadline = %v; want DeadlineExceeded", err)
		}
	})
}

func TestNewRejectsBadInput(t *testing.T) {
	ok := redis_rate.Limit{Rate: 1, Burst: 1, Period: time.Second}
	for _, tc := range []struct {
		name  string
		key   string
		limit redis_rate.Limit
		opts  []Option
	}{
		{"empty key", "", ok, nil},
		{"zero rate", "k", redis_rate.Limit{Burst: 1, Period: time.Second}, nil},
		{"zero period", "k", redis_rate.Limit{Rate: 1, Burst: 1}, nil},
		{"zero burst", "k", redis_rate.Limit{Rate: 1, Period: time.Second}, nil},
		{"nil fallback", "k", ok, []Option{FailOpen(nil)}},
		{"zero timeout", "k", ok, []Option{Timeout(0)}},
		{"negative recheck", "k", ok, []Option{Recheck(-time.Second)}},
	} {
		if _, err := newLimiter(&fakeRedis{}, tc.key, tc.limit, tc.opts...); err == nil {
			t.Errorf("%s: newLimiter succeeded; want an error", tc.name)
		}
	}
	if _, err := New(nil, "k", ok); err == nil {
		t.Error("New(nil client) succeeded; want an error")
	}
}
