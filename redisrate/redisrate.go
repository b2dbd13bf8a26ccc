// Package redisrate is a [fetch.Limiter] kept in Redis, so that any number
// of processes share one rate limit: N replicas of a service calling one
// upstream API send at the API's quota in total, not N times it.
//
// The limit is a GCRA token bucket ([github.com/go-redis/redis_rate/v10]),
// evaluated by a script on the Redis server with the server's clock, so the
// processes' clocks do not matter.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	lim, err := redisrate.New(rdb, "api.example.com", redis_rate.Limit{Rate: 100, Burst: 10, Period: time.Second})
//	...
//	f, err := fetch.New(fetch.WithLimiter(lim))
//
// When Redis cannot be reached (or answers too slowly) the limiter fails
// closed by default: Wait returns an error wrapping
// [fetch.ErrLimiterUnavailable] and nothing is sent. With [FailOpen] it
// falls back to a local token bucket instead. Either way it tries Redis
// again after a short pause, so a Redis restart is recovered from without
// restarting anything.
package redisrate

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/c989c033/fetch"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Defaults for what no option sets.
const (
	// DefaultTimeout bounds one call to Redis.
	DefaultTimeout = 250 * time.Millisecond
	// DefaultRecheck is how long the limiter stops asking Redis after a
	// failed call, failing closed or open at once, before trying again.
	DefaultRecheck = time.Second
)

// A Limiter is a rate limit shared through Redis. It implements
// [fetch.Limiter] and is safe for concurrent use.
//
// Within one process the waiting callers queue locally and only the one at
// the front asks Redis, sleeping until the next token is due before it asks,
// so Redis sees about one call per token (more when other processes take the
// token first) however many goroutines wait.
type Limiter struct {
	allow    allower
	key      string
	limit    redis_rate.Limit
	timeout  time.Duration
	recheck  time.Duration
	fallback *rate.Limiter // nil: fail closed

	front     chan struct{} // held by the caller that asks Redis next
	nextDue   time.Time     // when the next token should be due; guarded by front
	downUntil atomic.Int64  // Unix nanoseconds until which Redis is not asked
}

// allower is the part of redis_rate.Limiter used here; tests replace it.
type allower interface {
	Allow(ctx context.Context, key string, limit redis_rate.Limit) (*redis_rate.Result, error)
}

// An Option configures a [Limiter] at construction.
type Option func(*Limiter) error

// FailOpen makes the limiter wait on fallback, a local token bucket, while
// Redis is unavailable, instead of failing. Give it the share of the rate
// this process may use alone (the shared rate divided by the number of
// replicas is the safe choice).
func FailOpen(fallback *rate.Limiter) Option {
	return func(l *Limiter) error {
		if fallback == nil {
			return errors.New("redisrate: FailOpen(nil)")
		}
		l.fallback = fallback
		return nil
	}
}

// Timeout bounds each call to Redis at d (default [DefaultTimeout]); a
// call that takes longer counts as Redis being unavailable.
func Timeout(d time.Duration) Option {
	return func(l *Limiter) error {
		if d <= 0 {
			return fmt.Errorf("redisrate: Timeout(%v): must be positive", d)
		}
		l.timeout = d
		return nil
	}
}

// Recheck sets how long the limiter stops asking Redis after a failed call
// (default [DefaultRecheck]); 0 asks it on every wait.
func Recheck(d time.Duration) Option {
	return func(l *Limiter) error {
		if d < 0 {
			return fmt.Errorf("redisrate: Recheck(%v): must not be negative", d)
		}
		l.recheck = d
		return nil
	}
}

// New returns a Limiter allowing limit on key, shared by every process that
// uses the same Redis and key. The key is stored in Redis as "rate:"+key.
func New(rdb redis.UniversalClient, key string, limit redis_rate.Limit, opts ...Option) (*Limiter, error) {
	if rdb == nil {
		return nil, errors.New("redisrate: New: nil Redis client")
	}
	return newLimiter(redis_rate.NewLimiter(rdb), key, limit, opts...)
}

func newLimiter(a allower, key string, limit redis_rate.Limit, opts ...Option) (*Limiter, error) {
	switch {
	case key == "":
		return nil, errors.New("redisrate: New: empty key")
	case limit.Rate < 1 || limit.Period <= 0:
		return nil, fmt.Errorf("redisrate: New: limit %v: rate and period must be positive", limit)
	case limit.Burst < 1:
		return nil, fmt.Errorf("redisrate: New: limit %v: burst must be at least 1", limit)
	}
	l := &Limiter{
		allow:   a,
		key:     key,
		limit:   limit,
		timeout: DefaultTimeout,
		recheck: DefaultRecheck,
		front:   make(chan struct{}, 1),
	}
	for _, opt := range opts {
		if err := opt(l); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Wait blocks until the shared limit allows one event, or ctx is done, in
// which case it returns ctx.Err(). While Redis is unavailable it returns an
// error wrapping [fetch.ErrLimiterUnavailable] at once, or waits on the
// fallback bucket given by [FailOpen].
func (l *Limiter) Wait(ctx context.Context) error {
	select {
	case l.front <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.front }()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().UnixNano() < l.downUntil.Load() {
			return l.unavailable(ctx, nil)
		}
		if err := sleep(ctx, time.Until(l.nextDue)); err != nil {
			return err
		}
		res, err := l.ask(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			l.downUntil.Store(time.Now().Add(l.recheck).UnixNano())
			return l.unavailable(ctx, err)
		}
		if res.Allowed > 0 {
			if res.Remaining == 0 {
				// The bucket is empty: the next token is due when this one's
				// interval has passed, as far as this process knows.
				interval := l.limit.Period / time.Duration(l.limit.Rate)
				l.nextDue = time.Now().Add(res.ResetAfter - time.Duration(l.limit.Burst-1)*interval)
			}
			return nil
		}
		if err := sleep(ctx, res.RetryAfter); err != nil {
			return err
		}
	}
}

// ask makes one call to Redis, under the limiter's timeout.
func (l *Limiter) ask(ctx context.Context) (*redis_rate.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	return l.allow.Allow(ctx, l.key, l.limit)
}

// unavailable fails closed, or waits on the fallback bucket.
func (l *Limiter) unavailable(ctx context.Context, cause error) error {
	if l.fallback != nil {
		err := l.fallback.Wait(ctx)
		if err != nil && ctx.Err() == nil {
			// rate.Limiter refuses a wait that would pass ctx's deadline.
			return fmt.Errorf("redisrate %q: fallback: %w (%v)", l.key, context.DeadlineExceeded, err)
		}
		return err
	}
	if cause == nil {
		return fmt.Errorf("redisrate %q: %w (a call failed less than %v ago)", l.key, fetch.ErrLimiterUnavailable, l.recheck)
	}
	return fmt.Errorf("redisrate %q: %w: %w", l.key, fetch.ErrLimiterUnavailable, cause)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
