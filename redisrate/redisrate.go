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
	"reflect"
	"sync/atomic"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/ctxsleep"
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
// so Redis sees one call per token granted, and one more per refusal (when
// another process took the token first), however many goroutines wait.
//
// So each process takes at most one token per round trip to Redis, and
// each token it takes costs it the wake-up from a sleep as well (about a
// millisecond on Linux): with a burst of 1, which forgets any lateness,
// tokens due only a few milliseconds apart are partly lost (at 100/s about
// 10% of them, at 1,000/s about 40%). A burst of a tenth of the rate a
// second or more (10 at 100/s) lets the rate be used in full.
type Limiter struct {
	allow    allower
	key      string
	limit    redis_rate.Limit
	timeout  time.Duration
	recheck  time.Duration
	fallback *rate.Limiter // nil: fail closed

	front  chan struct{} // held by the caller that asks Redis next
	queued atomic.Int64  // callers waiting for or holding front
	// tat and downUntil are kept as nanoseconds since epoch on the
	// monotonic clock, so that a step of this machine's wall clock does
	// not move them.
	epoch     time.Time
	tat       atomic.Int64 // the bucket's theoretical arrival time as last seen
	downUntil atomic.Int64 // until when Redis is not asked
	// downCause is the failure that set downUntil, so that the calls
	// failed closed until then say what it was.
	downCause atomic.Pointer[error]
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
// replicas is the safe choice). Its rate must be positive (or [rate.Inf])
// and its burst at least 1: a bucket of rate 0 or burst 0 would refuse
// every wait.
func FailOpen(fallback *rate.Limiter) Option {
	return func(l *Limiter) error {
		switch {
		case fallback == nil:
			return errors.New("redisrate: FailOpen(nil)")
		case fallback.Limit() == rate.Inf:
		case fallback.Limit() <= 0:
			// x/time/rate gives its burst and then refuses every wait as
			// if it passed a deadline.
			return fmt.Errorf("redisrate: FailOpen: fallback rate %v: must be positive (or rate.Inf)", fallback.Limit())
		case fallback.Burst() < 1:
			// x/time/rate refuses every wait.
			return fmt.Errorf("redisrate: FailOpen: fallback burst %d: must be at least 1", fallback.Burst())
		}
		l.fallback = fallback
		return nil
	}
}

// Timeout bounds each call to Redis at d (default [DefaultTimeout]); a
// call that takes longer counts as Redis being unavailable. The caller
// is let go when d has passed even if the Redis client does not heed its
// context (go-redis does not unless ContextTimeoutEnabled is set); the
// call itself is left to end in the background when the client gives up.
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
	if rdb == nil || isNilPointer(rdb) {
		return nil, errors.New("redisrate: New: nil Redis client")
	}
	return newLimiter(redis_rate.NewLimiter(rdb), key, limit, opts...)
}

// isNilPointer reports whether rdb is a nil pointer, such as a nil
// *redis.Client, which is not a nil interface but would panic when used.
func isNilPointer(rdb redis.UniversalClient) bool {
	v := reflect.ValueOf(rdb)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

func newLimiter(a allower, key string, limit redis_rate.Limit, opts ...Option) (*Limiter, error) {
	switch {
	case key == "":
		return nil, errors.New("redisrate: New: empty key")
	case limit.Rate < 1:
		return nil, fmt.Errorf("redisrate: New: limit %v: rate %d must be at least 1", limit, limit.Rate)
	case limit.Period <= 0:
		return nil, fmt.Errorf("redisrate: New: limit %v: period %v must be positive", limit, limit.Period)
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
		epoch:   time.Now(),
	}
	for _, opt := range opts {
		if err := opt(l); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Wait blocks until the shared limit allows one event, or ctx is done, in
// which case it returns ctx.Err(). A wait that would end after ctx's
// deadline, as far as this process knows (the next token is later, or the
// callers queued ahead of it will take the tokens due before then), is
// refused at once with an error matching [context.DeadlineExceeded], as
// [rate.Limiter.Wait] refuses it. While Redis is unavailable it returns an
// error wrapping [fetch.ErrLimiterUnavailable] at once, or waits on the
// fallback bucket given by [FailOpen].
func (l *Limiter) Wait(ctx context.Context) error {
	ahead := l.queued.Add(1) - 1
	if l.now() >= l.downUntil.Load() {
		if err := l.refuseLate(ctx, l.due(int(ahead))); err != nil {
			l.queued.Add(-1)
			return err
		}
	}
	select {
	case l.front <- struct{}{}:
	case <-ctx.Done():
		l.queued.Add(-1)
		return ctx.Err()
	}
	useFallback, err := l.atFront(ctx)
	<-l.front
	l.queued.Add(-1)
	if useFallback {
		// Off the front, so that callers wait on the fallback side by side
		// and it refuses at once those it cannot serve before their deadline.
		return l.waitFallback(ctx)
	}
	return err
}

// atFront is Wait for the caller at the front, which asks Redis for the
// others. It reports whether to wait on the fallback instead.
func (l *Limiter) atFront(ctx context.Context) (useFallback bool, err error) {
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if l.now() < l.downUntil.Load() {
			return l.unavailable(nil)
		}
		due := l.due(0)
		if err := l.refuseLate(ctx, due); err != nil {
			return false, err
		}
		if err := ctxsleep.Sleep(ctx, time.Until(due)); err != nil {
			return false, err
		}
		res, err := l.ask(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			l.downCause.Store(&err)
			l.downUntil.Store(l.now() + int64(l.recheck))
			return l.unavailable(err)
		}
		// ResetAfter is how far the bucket's theoretical arrival time is
		// from now, whether or not the token was given.
		l.tat.Store(l.now() + int64(res.ResetAfter))
		if res.Allowed > 0 {
			return false, nil
		}
		retry := time.Now().Add(res.RetryAfter)
		if err := l.refuseLate(ctx, retry); err != nil {
			return false, err
		}
		if err := ctxsleep.Sleep(ctx, time.Until(retry)); err != nil {
			return false, err
		}
	}
}

// due returns the earliest time, as far as this process knows, at which
// the token after the next ahead ones is given: GCRA gives token k (from
// 0) when the theoretical arrival time, moved on k intervals, is within
// burst-1 intervals of now.
//
// No bucket's theoretical arrival time is more than burst intervals ahead
// of now, so a later one (an answer of a Redis whose clock jumped, say) is
// taken for that: an estimate gone wrong delays a wait by at most one
// bucket's worth, and Redis has the last word.
func (l *Limiter) due(ahead int) time.Time {
	now := time.Now()
	tat := l.epoch.Add(time.Duration(l.tat.Load()))
	if tat.Before(now) {
		tat = now
	}
	if full := now.Add(l.interval(l.limit.Burst)); tat.After(full) {
		tat = full
	}
	return tat.Add(l.interval(ahead + 1 - l.limit.Burst))
}

// now returns the time since l.epoch, in nanoseconds, on the monotonic
// clock.
func (l *Limiter) now() int64 { return int64(time.Since(l.epoch)) }

// interval returns the time n tokens take to come in (n may be negative),
// within ±2^62 ns (146 years) so that no product overflows.
func (l *Limiter) interval(n int) time.Duration {
	const most = float64(1 << 62)
	d := float64(n) * float64(l.limit.Period) / float64(l.limit.Rate)
	return time.Duration(min(max(d, -most), most))
}

// refuseLate refuses a wait that would end at due, after ctx's deadline.
func (l *Limiter) refuseLate(ctx context.Context, due time.Time) error {
	if deadline, ok := ctx.Deadline(); ok && due.After(deadline) {
		return fmt.Errorf("redisrate %q: next token due in %v, after the context deadline: %w",
			l.key, time.Until(due).Round(time.Millisecond), context.DeadlineExceeded)
	}
	return nil
}

// ask makes one call to Redis, under the limiter's timeout. go-redis may
// not heed the context while it reads the answer (it does not unless the
// client has ContextTimeoutEnabled; it waits for its ReadTimeout, or for
// ever), so the call runs on a goroutine of its own, which ends when
// go-redis gives up, and ask returns when the time is up or ctx is done.
func (l *Limiter) ask(ctx context.Context) (*redis_rate.Result, error) {
	call, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	type answer struct {
		res *redis_rate.Result
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		res, err := l.allow.Allow(call, l.key, l.limit)
		ch <- answer{res, err}
	}()
	var a answer
	select {
	case a = <-ch:
	case <-call.Done():
	}
	if a.err == nil && a.res != nil {
		return a.res, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if call.Err() != nil {
		// The limiter's own timeout: not to be taken for the caller's.
		return nil, fmt.Errorf("no answer from Redis within %v", l.timeout)
	}
	if a.err == nil {
		a.err = errors.New("no result from Redis")
	}
	return nil, a.err
}

// unavailable fails closed, or tells the caller to wait on the fallback.
func (l *Limiter) unavailable(cause error) (useFallback bool, err error) {
	if l.fallback != nil {
		return true, nil
	}
	if cause == nil {
		last := errors.New("unknown failure")
		if p := l.downCause.Load(); p != nil {
			last = *p
		}
		return false, fmt.Errorf("redisrate %q: %w (a call failed less than %v ago: %v)", l.key, fetch.ErrLimiterUnavailable, l.recheck, last)
	}
	return false, fmt.Errorf("redisrate %q: %w: %w", l.key, fetch.ErrLimiterUnavailable, cause)
}

// waitFallback waits on the fallback bucket.
func (l *Limiter) waitFallback(ctx context.Context) error {
	err := l.fallback.Wait(ctx)
	if err != nil && ctx.Err() == nil {
		// rate.Limiter refuses a wait that would pass ctx's deadline (its
		// rate and burst are checked by FailOpen, so nothing else).
		return fmt.Errorf("redisrate %q: fallback: %w (%v)", l.key, context.DeadlineExceeded, err)
	}
	return err
}
