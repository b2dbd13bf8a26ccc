package redisrate

// A port of the test suite of the peer github.com/go-redis/redis_rate,
// whose GCRA script redisrate runs, onto redisrate's API:
//
//   - rate_test.go at v10.0.1, commit 8eadf45ee4d9d7a53189c2a968ead40521a76322
//     (the version in go.mod): TestAllow, TestAllowN_IncrementZero,
//     TestRetryAfter, TestAllowAtMost, TestAllowAtMost_IncrementZero,
//     BenchmarkAllow, BenchmarkAllowAtMost;
//   - rate_test.go at commit e1f625c9ecbdd4c3085dfeb31e09c8e3d5c7cb3f (2019,
//     v7, the last of the fixed-window suite): TestAllowRateMinute,
//     TestAllowRateSecond, TestRedisIsDown, TestAllowN.
//
// plus checks a replica operator needs: TestPortRRBurstThenRefused, Reset,
// ResetAfter, KeyExpiry, KeysPerLimiterName, RateZeroOrNegative,
// TwoInstancesShareLimit. (v10.0.1 has no TestReset, TestResetAfter or
// TestLimit; its TestAllow covers Reset and ResetAfter, and TestLimit is the
// 2015 name of TestAllow.)
//
// The mapping:
//
//   - Limit{Rate, Burst, Period}: redisrate takes the peer's Limit as is
//     (New(rdb, key, limit)), one limiter per key.
//   - Allow: redisrate has only the blocking Wait. A try is a Wait with a
//     short deadline: redisrate refuses at once, with an error matching
//     context.DeadlineExceeded that says when the next token is due, a wait
//     it knows would end after the deadline. That error text is the only
//     place redisrate shows a RetryAfter.
//   - AllowN(n), AllowAtMost(n): a Wait takes one token; n tokens are n
//     callers. "At most" is n concurrent callers with a deadline: those that
//     fit are granted, the others refused at once.
//   - Reset: redisrate has none; deleting the key "rate:"+key (the name its
//     docs give) is the equivalent.
//   - Result.Remaining/ResetAfter: redisrate does not expose them. The bucket
//     is the peer's, under the key redisrate documents, so the peer's own
//     peek (AllowN with n = 0, as in TestAllowN_IncrementZero) reads them.
//
// Deliberate differences, as redisrate's docs say (each noted at its test):
// rates of 0 or less are refused by New; without Redis it fails closed
// unless FailOpen; a limiter judges a wait against a deadline on its own
// estimate of the bucket, so after a Reset the limiter that drained the
// bucket may hold a wait for up to one interval; the fixed window of the
// 2019 peer is GCRA here (the retry is 1/rate, not the rest of the window).
//
// Time cannot be faked on a real Redis: where time must pass the tests poll
// for a condition under a deadline; bounds on measured durations are either
// exact consequences of the limit (never faster than it allows) or far from
// the expected value.

import (
	"context"
	"errors"
	"net"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/redistest"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// prrEnv is one Redis (REDIS_ADDR, or a redis-server of the test's own), an
// admin client, the peer limiter on it (for peeks) and a fresh key.
type prrEnv struct {
	addr  string
	admin *redis.Client
	peer  *redis_rate.Limiter
	key   string
}

func prrSetup(t *testing.T) *prrEnv {
	t.Helper()
	addr := redistest.Addr(t)
	admin := newClient(t, addr)
	return &prrEnv{addr: addr, admin: admin, peer: redis_rate.NewLimiter(admin), key: uniqueKey(t)}
}

// limiter returns a limiter on key with a Redis client of its own, as a
// separate replica would have.
func (e *prrEnv) limiter(t *testing.T, key string, limit redis_rate.Limit, opts ...Option) *Limiter {
	t.Helper()
	l, err := New(newClient(t, e.addr), key, limit, opts...)
	if err != nil {
		t.Fatalf("New(%q, %v): %v", key, limit, err)
	}
	return l
}

// peek is the peer's AllowN(key, limit, 0): the bucket's state, nothing
// taken.
func (e *prrEnv) peek(t *testing.T, key string, limit redis_rate.Limit) *redis_rate.Result {
	t.Helper()
	res, err := e.peer.AllowN(t.Context(), key, limit, 0)
	if err != nil {
		t.Fatalf("peek %q: %v", key, err)
	}
	return res
}

// rawTat returns the bucket as stored in Redis ("" when there is none).
func (e *prrEnv) rawTat(t *testing.T, key string) string {
	t.Helper()
	v, err := e.admin.Get(t.Context(), "rate:"+key).Result()
	if errors.Is(err, redis.Nil) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (e *prrEnv) exists(t *testing.T, key string) bool {
	t.Helper()
	n, err := e.admin.Exists(t.Context(), "rate:"+key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// reset is the peer's Reset: delete the bucket.
func (e *prrEnv) reset(t *testing.T, key string) {
	t.Helper()
	if err := e.admin.Del(t.Context(), "rate:"+key).Err(); err != nil {
		t.Fatal(err)
	}
}

// keysLike returns the Redis keys containing s, sorted.
func (e *prrEnv) keysLike(t *testing.T, s string) []string {
	t.Helper()
	var keys []string
	iter := e.admin.Scan(t.Context(), 0, "*"+s+"*", 1000).Iterator()
	for iter.Next(t.Context()) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	return keys
}

// prrCheckState checks a peek against the peer's expectations: remaining
// tokens, and ResetAfter equal to resetAfter less the time that has passed
// since `since` (taken before the first grant counted in resetAfter).
func prrCheckState(t *testing.T, what string, res *redis_rate.Result, remaining int, resetAfter time.Duration, since time.Time) {
	t.Helper()
	elapsed := time.Since(since)
	if res.Allowed != 0 || res.Remaining != remaining || res.RetryAfter != -1 {
		t.Errorf("%s: peek = allowed %d, remaining %d, retry after %v; want 0, %d, -1",
			what, res.Allowed, res.Remaining, res.RetryAfter, remaining)
	}
	if res.ResetAfter > resetAfter+time.Millisecond || res.ResetAfter < resetAfter-elapsed {
		t.Errorf("%s: ResetAfter = %v; want %v less the %v passed since (so within [%v, %v])",
			what, res.ResetAfter, resetAfter, elapsed, resetAfter-elapsed, resetAfter)
	}
}

// prrTake makes n tries of d on l, each of which must be granted: a try is
// a Wait with deadline d, which the limiter refuses at once if it knows the
// token is due later.
func prrTake(t *testing.T, what string, l *Limiter, n int, d time.Duration) {
	t.Helper()
	for i := range n {
		ctx, cancel := context.WithTimeout(t.Context(), d)
		err := l.Wait(ctx)
		cancel()
		if err != nil {
			t.Fatalf("%s: try %d of %d (deadline %v) = %v; want a token at once", what, i+1, n, d, err)
		}
	}
}

var prrDueRE = regexp.MustCompile(`next token due in (\S+), after the context deadline`)

// prrDue returns when the next token is due, from the error of a wait the
// limiter refused at once; ok is false if err is not such a refusal.
func prrDue(err error) (due time.Duration, ok bool) {
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		return 0, false
	}
	m := prrDueRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	due, perr := time.ParseDuration(m[1])
	return due, perr == nil
}

// prrRefused makes a try on l with the given deadline, which must be
// refused at once, and returns when the limiter says the next token is due.
// The deadline is set just before the next token can be due (in a
// limiter's own estimate it may even have passed: it still refuses at
// once, saying when the token is due), so that a slow machine cannot turn
// a refusal into a grant.
func prrRefused(t *testing.T, what string, l *Limiter, deadline time.Time) time.Duration {
	t.Helper()
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	defer cancel()
	err := l.Wait(ctx)
	due, ok := prrDue(err)
	if !ok {
		t.Fatalf("%s: try (deadline in %v) = %v; want refused at once, with when the next token is due", what, time.Until(deadline), err)
	}
	return due
}

// prrBefore is the deadline for a try meant to be refused, just before
// the token due d after since.
func prrBefore(since time.Time, d time.Duration) time.Time { return since.Add(d - 5*time.Millisecond) }

// prrPoll calls cond every 5ms until it holds or limit has passed.
func prrPoll(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond) // between polls
	}
	return true
}

// ---------------------------------------------------------------------
// rate_test.go at v10.0.1.

// TestAllow: at 10/s, one token, Reset, then 1, 2 and 7 tokens (the whole
// burst at once), each state checked; then AllowN(1000) is refused and
// takes nothing.
func TestPortRRAllow(t *testing.T) {
	e := prrSetup(t)
	limit := redis_rate.PerSecond(10)
	// redisrate takes the peer's Limit as is.
	if got := limit.String(); got != "10 req/s (burst 10)" {
		t.Errorf("limit.String() = %q", got)
	}
	if limit.IsZero() {
		t.Error("limit.IsZero()")
	}
	l := e.limiter(t, e.key, limit)
	const try = 90 * time.Millisecond // under one interval: a token granted within it was there

	since := time.Now()
	prrTake(t, "Allow", l, 1, try)
	prrCheckState(t, "after Allow", e.peek(t, e.key, limit), 9, 100*time.Millisecond, since)

	e.reset(t, e.key)
	since = time.Now()
	prrTake(t, "Allow after Reset", l, 1, try)
	prrCheckState(t, "after Reset and Allow", e.peek(t, e.key, limit), 9, 100*time.Millisecond, since)

	prrTake(t, "AllowN(2)", l, 2, try)
	prrCheckState(t, "after AllowN(2)", e.peek(t, e.key, limit), 7, 300*time.Millisecond, since)

	prrTake(t, "AllowN(7)", l, 7, try)
	// The peer: ResetAfter 999ms within 10ms.
	prrCheckState(t, "after AllowN(7)", e.peek(t, e.key, limit), 0, time.Second, since)

	// The peer: AllowN(1000) is refused with RetryAfter 99s, the time 1000
	// tokens take. A Wait asks for one token: it is refused, and the next
	// token is due within one interval (100ms), here and in another replica
	// (which learns it from Redis), and the refusals take nothing.
	before := e.rawTat(t, e.key)
	for _, tc := range []struct {
		name string
		l    *Limiter
	}{{"same limiter", l}, {"other replica", e.limiter(t, e.key, limit)}} {
		due := prrRefused(t, tc.name+": try on an empty bucket", tc.l, prrBefore(since, 100*time.Millisecond))
		if low := 100*time.Millisecond - time.Since(since) - time.Millisecond; due > 100*time.Millisecond || due < low {
			t.Errorf("%s: refused with the next token due in %v; want within [%v, 100ms] (1/rate from the first grant)", tc.name, due, low)
		}
	}
	if after := e.rawTat(t, e.key); after != before {
		t.Errorf("refused tries changed the bucket from %s to %s; a refusal must take nothing", before, after)
	}
	prrCheckState(t, "after the refused tries", e.peek(t, e.key, limit), 0, time.Second, since)
}

// TestAllowN_IncrementZero: peeking at a bucket that is not there finds it
// full; a request for nothing takes nothing.
func TestPortRRAllowN_IncrementZero(t *testing.T) {
	e := prrSetup(t)
	limit := redis_rate.PerSecond(10)
	l := e.limiter(t, e.key, limit)

	// New asks nothing of Redis: the bucket is not there, and full.
	res := e.peek(t, e.key, limit)
	if res.Allowed != 0 || res.Remaining != 10 || res.RetryAfter != -1 || res.ResetAfter != 0 {
		t.Errorf("peek of a new limiter's bucket = %+v; want allowed 0, remaining 10, retry after -1, reset after 0", res)
	}
	if e.exists(t, e.key) {
		t.Error("a limiter that has not waited created its key")
	}

	// AllowN(0) has no Wait of its own: a caller whose deadline has passed
	// asks for a token it cannot use, and must take nothing.
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	if err := l.Wait(expired); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait past its deadline = %v; want DeadlineExceeded", err)
	}
	if e.exists(t, e.key) {
		t.Error("a Wait past its deadline created the key")
	}

	since := time.Now()
	prrTake(t, "Allow", l, 1, 90*time.Millisecond)
	prrCheckState(t, "after Allow", e.peek(t, e.key, limit), 9, 100*time.Millisecond, since)

	before := e.rawTat(t, e.key)
	if err := l.Wait(expired); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait past its deadline = %v; want DeadlineExceeded", err)
	}
	if after := e.rawTat(t, e.key); after != before {
		t.Errorf("a Wait past its deadline changed the bucket from %s to %s", before, after)
	}
	prrCheckState(t, "peek again", e.peek(t, e.key, limit), 9, 100*time.Millisecond, since)
}

// TestRetryAfter: at 1 per millisecond, burst 1, every refusal's retry is
// at most 1ms.
func TestPortRRRetryAfter(t *testing.T) {
	e := prrSetup(t)
	limit := redis_rate.Limit{Rate: 1, Period: time.Millisecond, Burst: 1}
	l := e.limiter(t, e.key, limit)

	// A try of one interval is granted, or refused at once saying the next
	// token is due within 1ms; or its 1ms deadline passes during the call to
	// Redis, which says nothing.
	var granted, refused, lapsed int
	start := time.Now()
	for range 500 {
		ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
		err := l.Wait(ctx)
		cancel()
		if err == nil {
			granted++
			continue
		}
		if due, ok := prrDue(err); ok {
			refused++
			if due > time.Millisecond {
				t.Errorf("refused with the next token due in %v at 1/ms; want at most 1ms", due)
			}
			continue
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("try at 1/ms = %v", err)
		}
		lapsed++
	}
	elapsed := time.Since(start)
	t.Logf("500 tries of 1ms at 1/ms in %v: %d granted, %d refused at once, %d deadlines passed during a call",
		elapsed.Round(time.Millisecond), granted, refused, lapsed)
	if granted == 0 {
		t.Error("no try granted at 1/ms")
	}
	if most := 1 + int(elapsed/time.Millisecond); granted > most {
		t.Errorf("%d tries granted in %v at 1/ms; the limit allows %d", granted, elapsed, most)
	}

	// A caller that can wait 100ms is never refused (the next token is never
	// more than 1ms away), and gets its tokens no faster than the rate.
	start = time.Now()
	const n = 100
	prrTake(t, "Wait at 1/ms", l, n, 100*time.Millisecond)
	if elapsed := time.Since(start); elapsed < (n-1)*time.Millisecond {
		t.Errorf("%d tokens at 1/ms, burst 1, in %v; want at least %v", n, elapsed, (n-1)*time.Millisecond)
	}
}

// prrConcurrentTries runs n tries with deadline on l at once and returns
// how many were granted and how many refused at once; anything else fails
// t.
func prrConcurrentTries(t *testing.T, l *Limiter, n int, deadline time.Time) (granted, refused int) {
	t.Helper()
	var g, r atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			ctx, cancel := context.WithDeadline(t.Context(), deadline)
			defer cancel()
			err := l.Wait(ctx)
			if err == nil {
				g.Add(1)
				return
			}
			if _, ok := prrDue(err); ok {
				r.Add(1)
				return
			}
			t.Errorf("concurrent try = %v; want a token, or a refusal at once", err)
		})
	}
	wg.Wait()
	return int(g.Load()), int(r.Load())
}

// TestAllowAtMost: at 10/s, Allow leaves 9; AllowAtMost(2) takes 2;
// AllowAtMost(10) takes the 7 left; AllowAtMost(1000) then takes nothing
// and the next token is due within 1/rate.
func TestPortRRAllowAtMost(t *testing.T) {
	e := prrSetup(t)
	limit := redis_rate.PerSecond(10)
	l := e.limiter(t, e.key, limit)

	since := time.Now()
	prrTake(t, "Allow", l, 1, 90*time.Millisecond)
	prrCheckState(t, "after Allow", e.peek(t, e.key, limit), 9, 100*time.Millisecond, since)
	// Every try below ends just before the 10th token can come in (100ms
	// after the first grant), so exactly the 9 left can be granted.
	next := prrBefore(since, 100*time.Millisecond)

	if g, r := prrConcurrentTries(t, l, 2, next); g != 2 || r != 0 {
		t.Errorf("AllowAtMost(2) as 2 concurrent tries: %d granted, %d refused; want 2, 0", g, r)
	}
	prrCheckState(t, "after AllowAtMost(2)", e.peek(t, e.key, limit), 7, 300*time.Millisecond, since)

	// AllowAtMost(10) with 7 left: 10 concurrent tries, 7 granted, the
	// others refused at once.
	g, r := prrConcurrentTries(t, l, 10, next)
	t.Logf("AllowAtMost(10) with 7 left: %d granted, %d refused at once", g, r)
	if g != 7 || r != 3 {
		t.Errorf("AllowAtMost(10) as 10 concurrent tries with 7 tokens left: %d granted, %d refused at once; want 7, 3", g, r)
	}
	prrCheckState(t, "after AllowAtMost(10)", e.peek(t, e.key, limit), 0, time.Second, since)

	// AllowAtMost(1000): nothing granted; the peer's RetryAfter is 99ms.
	before := e.rawTat(t, e.key)
	g, r = prrConcurrentTries(t, l, 20, next)
	if g != 0 || r != 20 {
		t.Errorf("AllowAtMost(1000) as 20 concurrent tries on an empty bucket: %d granted, %d refused at once; want 0, 20", g, r)
	}
	if due := prrRefused(t, "try on an empty bucket", l, next); due > 100*time.Millisecond {
		t.Errorf("refused with the next token due in %v; want within 100ms (1/rate)", due)
	}
	if after := e.rawTat(t, e.key); after != before {
		t.Errorf("refused tries changed the bucket from %s to %s", before, after)
	}
}

// TestAllowAtMost_IncrementZero: AllowAtMost(0) on a missing bucket finds it
// full and takes nothing; after Allow, it sees 9. A cancelled caller is the
// request for nothing here.
func TestPortRRAllowAtMost_IncrementZero(t *testing.T) {
	e := prrSetup(t)
	limit := redis_rate.PerSecond(10)
	l := e.limiter(t, e.key, limit)

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := l.Wait(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled context = %v; want Canceled", err)
	}
	if e.exists(t, e.key) {
		t.Error("a cancelled Wait created the key")
	}
	res := e.peek(t, e.key, limit)
	if res.Remaining != 10 || res.ResetAfter != 0 {
		t.Errorf("peek after a cancelled Wait = %+v; want remaining 10, reset after 0", res)
	}

	since := time.Now()
	prrTake(t, "Allow", l, 1, 90*time.Millisecond)
	prrCheckState(t, "after Allow", e.peek(t, e.key, limit), 9, 100*time.Millisecond, since)

	before := e.rawTat(t, e.key)
	for range 5 {
		if err := l.Wait(cancelled); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait with a cancelled context = %v; want Canceled", err)
		}
	}
	if after := e.rawTat(t, e.key); after != before {
		t.Errorf("cancelled Waits changed the bucket from %s to %s", before, after)
	}
	prrCheckState(t, "peek again", e.peek(t, e.key, limit), 9, 100*time.Millisecond, since)
}

// prrHammer runs workers goroutines on each limiter for d and returns the
// grants per limiter.
func prrHammer(t *testing.T, lims []*Limiter, workers int, d time.Duration) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	counts := make([]atomic.Int64, len(lims))
	var wg sync.WaitGroup
	for i, l := range lims {
		for range workers {
			wg.Go(func() {
				for ctx.Err() == nil {
					if err := l.Wait(ctx); err != nil {
						if !errors.Is(err, context.DeadlineExceeded) {
							t.Errorf("Wait: %v", err)
						}
						return
					}
					counts[i].Add(1)
				}
			})
		}
	}
	wg.Wait()
	out := make([]int64, len(lims))
	for i := range counts {
		out[i] = counts[i].Load()
	}
	return out
}

// prrBenchmark is the peer's benchmarks as a test: at 1e6/s, workers
// callers on each of replicas limiters make calls waits each, and not one
// may fail (the peer panics "not reached" if one is refused).
func prrBenchmark(t *testing.T, replicas, workers, calls int) {
	e := prrSetup(t)
	limit := redis_rate.PerSecond(1e6)
	var lims []*Limiter
	for range replicas {
		lims = append(lims, e.limiter(t, e.key, limit))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var ok atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, l := range lims {
		for range workers {
			wg.Go(func() {
				for range calls {
					if err := l.Wait(ctx); err != nil {
						t.Errorf("Wait at 1e6/s = %v; want every call granted", err)
						return
					}
					ok.Add(1)
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d replica(s) x %d callers: %d waits at 1e6/s in %v (%.0f/s)", replicas, workers, ok.Load(), elapsed.Round(time.Millisecond), float64(ok.Load())/elapsed.Seconds())
	if want := int64(replicas * workers * calls); ok.Load() != want {
		t.Errorf("%d of %d waits granted at 1e6/s", ok.Load(), want)
	}
}

// BenchmarkAllow: many callers of one limiter at 1e6/s, all granted.
func TestPortRRBenchmarkAllow(t *testing.T) { prrBenchmark(t, 1, 16, 50) }

// BenchmarkAllowAtMost: the same through AllowAtMost(1); here, as four
// replicas sharing the key.
func TestPortRRBenchmarkAllowAtMost(t *testing.T) { prrBenchmark(t, 4, 4, 50) }

// ---------------------------------------------------------------------
// rate_test.go at e1f625c (fixed-window redis_rate v7).

// TestAllowRateMinute: 2 per minute; the second request is refused with a
// delay within (0, 30s). Here burst 1, so that the second is refused.
func TestPortRRAllowRateMinute(t *testing.T) {
	e := prrSetup(t)
	limit := redis_rate.Limit{Rate: 2, Burst: 1, Period: time.Minute}
	l := e.limiter(t, e.key, limit)
	start := time.Now()
	prrTake(t, "first", l, 1, time.Second)
	for _, tc := range []struct {
		name string
		l    *Limiter
	}{{"same limiter", l}, {"other replica", e.limiter(t, e.key, limit)}} {
		due := prrRefused(t, tc.name, tc.l, time.Now().Add(time.Second))
		if low := 30*time.Second - time.Since(start) - time.Millisecond; due <= 0 || due > 30*time.Second || due < low {
			t.Errorf("%s: second request refused with the next token due in %v; want within [%v, 30s]", tc.name, due, low)
		}
	}
}

// TestAllowRateSecond: 10 per second; 10 granted, the 11th refused with a
// delay within (0, 1s). The peer's fixed window made that up to a second;
// GCRA gives a token every 1/rate, so here it is within 100ms.
func TestPortRRAllowRateSecond(t *testing.T) {
	e := prrSetup(t)
	l := e.limiter(t, e.key, redis_rate.PerSecond(10))
	start := time.Now()
	prrTake(t, "burst", l, 10, 90*time.Millisecond)
	due := prrRefused(t, "11th", l, prrBefore(start, 100*time.Millisecond))
	if low := 100*time.Millisecond - time.Since(start) - time.Millisecond; due > 100*time.Millisecond || due < low {
		t.Errorf("11th refused with the next token due in %v; want within [%v, 100ms]", due, low)
	}
	// Without a deadline the 11th is granted when its token comes in: not
	// before 100ms from the first grant, and not at the end of a window.
	if err := l.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond || elapsed > 500*time.Millisecond {
		t.Errorf("11 tokens at 10/s took %v; want 100ms and some (well under the 1s of a fixed window)", elapsed)
	}
}

// TestRedisIsDown: with no Redis, the peer fell back to a local bucket of
// 1/s: the first request allowed, the second refused. redisrate fails
// closed by default (deliberate: its docs say so) and falls back only with
// FailOpen.
func TestPortRRRedisIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	limit := redis_rate.PerMinute(1)

	closed, err := New(rdb, uniqueKey(t), limit)
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Wait(t.Context()); !errors.Is(err, fetch.ErrLimiterUnavailable) {
		t.Errorf("Wait with no Redis (fail closed) = %v; want ErrLimiterUnavailable", err)
	}

	open, err := New(rdb, uniqueKey(t), limit, FailOpen(rate.NewLimiter(rate.Every(time.Second), 1)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if err := open.Wait(ctx); err != nil {
		t.Errorf("first Wait with no Redis (fail open, 1/s) = %v; want allowed", err)
	}
	ctx2, cancel2 := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel2()
	start := time.Now()
	if err := open.Wait(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Wait with no Redis (fail open, 1/s) = %v; want refused (DeadlineExceeded)", err)
	}
	if took := time.Since(start); took >= 100*time.Millisecond {
		t.Errorf("second Wait refused after %v; want at once", took)
	}
}

// TestAllowN: more tokens than the limit gives at once are refused, with
// the retry their coming in takes (the peer at v10: AllowN(1000) at 10/s,
// RetryAfter 99s). A Wait takes one token, so n tokens are n callers: at
// 2/s burst 2, with the burst taken and three callers queued, a fourth
// (the 6th token) is refused at once, due 2s after the first grant; and
// it takes nothing.
func TestPortRRAllowN(t *testing.T) {
	e := prrSetup(t)
	limit := redis_rate.Limit{Rate: 2, Burst: 2, Period: time.Second}
	l := e.limiter(t, e.key, limit)
	start := time.Now()
	prrTake(t, "burst", l, 2, 400*time.Millisecond)

	done := make(chan error, 3)
	for range 3 { // tokens due 0.5s, 1s and 1.5s after the first
		go func() { done <- l.Wait(t.Context()) }()
	}
	if !prrPoll(400*time.Millisecond, func() bool { return l.queued.Load() == 3 }) {
		t.Fatalf("%d callers queued; want 3", l.queued.Load())
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	err := l.Wait(ctx)
	refusedAt := time.Now()
	cancel()
	if due, ok := prrDue(err); !ok {
		t.Errorf("4th queued caller with a 1s deadline = %v; want refused at once", err)
	} else if at := refusedAt.Add(due).Sub(start); at < 2*time.Second-2*time.Millisecond || at > 2*time.Second+100*time.Millisecond {
		t.Errorf("4th queued caller told its token is due %v after the first grant; want 2s (4 intervals past the burst)", at)
	}
	for range 3 {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("queued Wait = %v", err)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("queued Waits not granted within 3s")
		}
	}
	// Five tokens taken (the last 1.5s after the first): the bucket is
	// full again 2.5s after the first grant. Had the refused caller taken
	// one, 3s.
	res := e.peek(t, e.key, limit)
	if res.Remaining != 0 || res.ResetAfter > time.Second+time.Millisecond {
		t.Errorf("after 5 grants and a refusal: remaining %d, reset after %v; want 0, at most 1s", res.Remaining, res.ResetAfter)
	}
}

// ---------------------------------------------------------------------
// Reset, ResetAfter, keys, inputs, replicas.

// The burst is granted at once and then refused, with the retry one
// interval (Period/Rate), for bursts above and below the rate, periods
// other than a second and intervals that are not whole milliseconds; then
// one token comes in per interval. (The peer's tests use only PerSecond
// and 1 per millisecond.)
func TestPortRRBurstThenRefused(t *testing.T) {
	e := prrSetup(t)
	for _, limit := range []redis_rate.Limit{
		{Rate: 2, Burst: 5, Period: time.Second},
		{Rate: 3, Burst: 2, Period: time.Second},
		{Rate: 1, Burst: 3, Period: 250 * time.Millisecond},
		{Rate: 30, Burst: 3, Period: time.Minute},
		{Rate: 5, Burst: 1, Period: 1500 * time.Millisecond},
	} {
		key := e.key + ":" + limit.String()
		interval := limit.Period / time.Duration(limit.Rate)
		l, other := e.limiter(t, key, limit), e.limiter(t, key, limit)
		since := time.Now()
		prrTake(t, limit.String()+": burst", l, limit.Burst, interval*9/10)
		for _, tc := range []struct {
			name string
			l    *Limiter
		}{{"same limiter", l}, {"other replica", other}} {
			due := prrRefused(t, limit.String()+": "+tc.name+" after the burst", tc.l, prrBefore(since, interval))
			if low := interval - time.Since(since) - time.Millisecond; due > interval || due < low {
				t.Errorf("%v: %s refused with the next token due in %v; want within [%v, %v]", limit, tc.name, due, low, interval)
			}
		}
		res := e.peek(t, key, limit)
		prrCheckState(t, limit.String()+" drained", res, 0, time.Duration(limit.Burst)*interval, since)
		if interval > time.Second {
			continue // the next token is too far off to wait for here
		}
		if err := l.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(since); elapsed < interval {
			t.Errorf("%v: token %d after %v; want no sooner than %v", limit, limit.Burst+1, elapsed, interval)
		}
		// The next is due two intervals after the first grant (a burst above
		// 1 remembers how late the last one was taken), at most one from now.
		due := prrRefused(t, limit.String()+": after the token that came in", other, prrBefore(since, 2*interval))
		if low := 2*interval - time.Since(since) - time.Millisecond; due > interval || due < low {
			t.Errorf("%v: after one token came in, refused with the next due in %v; want within [%v, %v]", limit, due, low, interval)
		}
	}
}

// Reset (the peer's Limiter.Reset, used in TestAllow): after the bucket is
// deleted, a full burst goes at once. The limiter that drained it keeps
// its own estimate and asks Redis when it believed the next token due
// (deliberate: redisrate's docs say waits are judged "as far as this
// process knows"); the peer forgets at once. So it gets the new burst
// within about one interval, not after the second a drained bucket takes.
func TestPortRRReset(t *testing.T) {
	e := prrSetup(t)
	limit := redis_rate.PerSecond(10)
	a := e.limiter(t, e.key, limit)
	since := time.Now()
	prrTake(t, "drain", a, 10, 90*time.Millisecond)
	prrRefused(t, "drained", a, prrBefore(since, 100*time.Millisecond))

	e.reset(t, e.key)
	b := e.limiter(t, e.key, limit)
	prrTake(t, "another replica after Reset", b, 10, 90*time.Millisecond)

	e.reset(t, e.key)
	start := time.Now()
	for i := range 10 {
		if err := a.Wait(t.Context()); err != nil {
			t.Fatalf("Wait %d after Reset: %v", i, err)
		}
	}
	if took := time.Since(start); took > 600*time.Millisecond {
		t.Errorf("the limiter that drained the bucket took %v for 10 tokens after Reset; want about one interval (100ms), not a drained bucket's 1s", took)
	}

	// At 1/min the same: after Reset another replica gets the token at once;
	// the one that took it may refuse a try on its own estimate, but says
	// the token is due within one interval (a minute), never later.
	slow := redis_rate.PerMinute(1)
	key := e.key + ":slow"
	c := e.limiter(t, key, slow)
	prrTake(t, "1/min", c, 1, time.Second)
	e.reset(t, key)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if err := c.Wait(ctx); err != nil {
		due, ok := prrDue(err)
		if !ok || due > time.Minute {
			t.Errorf("1/min after Reset, the replica that took the token: try = %v; want a token, or a refusal with the next due within 1m", err)
		}
		t.Logf("1/min after Reset, the replica that took the token refuses on its estimate: %v", err)
		prrTake(t, "1/min after Reset, another replica", e.limiter(t, key, slow), 1, time.Second)
	}
}

// ResetAfter is the time until the bucket is full again: then the peer
// sees Remaining = Burst, and the limiter gets a full burst at once.
func TestPortRRResetAfter(t *testing.T) {
	e := prrSetup(t)
	limit := redis_rate.Limit{Rate: 10, Burst: 3, Period: time.Second}
	l := e.limiter(t, e.key, limit)
	since := time.Now()
	prrTake(t, "drain", l, 3, 90*time.Millisecond)
	res := e.peek(t, e.key, limit)
	prrCheckState(t, "drained", res, 0, 300*time.Millisecond, since)
	fullAt := time.Now().Add(res.ResetAfter)
	if !prrPoll(2*time.Second, func() bool { return e.peek(t, e.key, limit).Remaining == 3 }) {
		t.Fatalf("bucket not full 2s after ResetAfter %v", res.ResetAfter)
	}
	if early := time.Until(fullAt); early > 5*time.Millisecond { // the peek's round trip
		t.Errorf("bucket full %v before ResetAfter said", early)
	}
	prrTake(t, "full burst after ResetAfter", l, 3, 90*time.Millisecond)
}

// No key is left for ever once the limiter goes idle: every key redisrate
// makes has a TTL, no shorter than the bucket's ResetAfter (else the bucket
// would forget traffic) and no longer than it rounded up to a second; it
// is gone once the bucket is full, and then the limiter has its burst.
func TestPortRRKeyExpiry(t *testing.T) {
	e := prrSetup(t)
	for _, tc := range []struct {
		limit redis_rate.Limit
		waits int
	}{
		{redis_rate.Limit{Rate: 10, Burst: 5, Period: time.Second}, 5},
		{redis_rate.PerMinute(1), 1},
		{redis_rate.Limit{Rate: 1, Burst: 3, Period: time.Hour}, 3},
	} {
		key := e.key + ":" + tc.limit.String()
		l := e.limiter(t, key, tc.limit)
		since := time.Now()
		prrTake(t, tc.limit.String(), l, tc.waits, 90*time.Millisecond)
		ttl, err := e.admin.PTTL(t.Context(), "rate:"+key).Result()
		if err != nil {
			t.Fatal(err)
		}
		// A refusal leaves the TTL alone.
		prrRefused(t, tc.limit.String()+" drained", l, prrBefore(since, tc.limit.Period/time.Duration(tc.limit.Rate)))
		if ttl2, _ := e.admin.PTTL(t.Context(), "rate:"+key).Result(); ttl2 <= 0 || ttl2 > ttl {
			t.Errorf("%v: TTL %v after a refusal; was %v", tc.limit, ttl2, ttl)
		}
		// The peek (which sets the TTL again, the same way) comes last.
		res := e.peek(t, key, tc.limit)
		most := (res.ResetAfter + time.Millisecond).Truncate(time.Second) + time.Second
		// PTTL is in whole milliseconds, and a whole-second ResetAfter (1/min)
		// leaves ceil nothing to round up: so within 1ms of ResetAfter.
		if ttl <= 0 || ttl < res.ResetAfter-time.Millisecond || ttl > most {
			t.Errorf("%v after %d waits: TTL %v, ResetAfter %v; want a TTL within [ResetAfter-1ms, %v]", tc.limit, tc.waits, ttl, res.ResetAfter, most)
		}
	}
	// The short one expires once idle; the limiter then has its burst.
	limit := redis_rate.Limit{Rate: 10, Burst: 5, Period: time.Second}
	key := e.key + ":" + limit.String()
	if !prrPoll(3*time.Second, func() bool { return !e.exists(t, key) }) {
		t.Fatalf("rate:%s still there 3s after the limiter went idle (full after 500ms)", key)
	}
	l := e.limiter(t, key, limit)
	prrTake(t, "burst after expiry", l, 5, 90*time.Millisecond)
	if got := e.keysLike(t, e.key); len(got) != 3 {
		t.Errorf("keys in Redis: %q; want the three limiters' rate: keys only", got)
	}
}

// Keys are kept per limiter name: "rate:"+key, as the docs say; other names
// do not share the bucket, the same name does (in any replica, and with
// the peer itself).
func TestPortRRKeysPerLimiterName(t *testing.T) {
	e := prrSetup(t)
	limit := redis_rate.Limit{Rate: 1, Burst: 2, Period: time.Second}
	ka, kb := e.key+":a", e.key+":b"
	a, b := e.limiter(t, ka, limit), e.limiter(t, kb, limit)
	prrTake(t, "a", a, 2, 500*time.Millisecond)
	prrRefused(t, "a drained", a, time.Now().Add(500*time.Millisecond))
	prrTake(t, "b, another name", b, 2, 500*time.Millisecond)
	prrRefused(t, "a in another replica", e.limiter(t, ka, limit), time.Now().Add(500*time.Millisecond))
	if res, err := e.peer.Allow(t.Context(), ka, limit); err != nil || res.Allowed != 0 {
		t.Errorf("the peer on the same name: %+v, %v; want refused (the bucket is shared)", res, err)
	}
	want := []string{"rate:" + ka, "rate:" + kb}
	if got := e.keysLike(t, e.key); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("keys in Redis = %q; want %q", got, want)
	}
}

// A rate of 0 or less is refused by New, and nothing reaches Redis. The
// peer (v10.0.1, on Redis 7.0) takes such limits: rate 0 fails every call
// with the script error "ERR value is not an integer or out of range" (the
// key's TTL comes out infinite), and a negative rate allows every request
// and stores nothing.
func TestPortRRRateZeroOrNegative(t *testing.T) {
	e := prrSetup(t)
	for i, limit := range []redis_rate.Limit{
		{},                      // the peer's IsZero
		redis_rate.PerSecond(0), // burst 0 too
		{Rate: 0, Burst: 10, Period: time.Second},
		{Rate: -5, Burst: 1, Period: time.Second},
		redis_rate.PerMinute(-1),
	} {
		l, err := New(e.admin, e.key+":"+string(rune('a'+i)), limit)
		if err == nil {
			t.Errorf("New with %v succeeded; want an error", limit)
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			t.Logf("then Wait = %v", l.Wait(ctx))
			cancel()
			continue
		}
		if !strings.Contains(err.Error(), "rate") {
			t.Errorf("New with %v = %v; want an error naming the rate", limit, err)
		}
	}
	if got := e.keysLike(t, e.key); len(got) != 0 {
		t.Errorf("keys in Redis after refused limits: %q", got)
	}
}

// Two instances sharing one Redis, as two replicas: what one takes the
// other cannot; together they stay within the limit and use most of it.
func TestPortRRTwoInstancesShareLimit(t *testing.T) {
	e := prrSetup(t)
	limit := redis_rate.Limit{Rate: 10, Burst: 4, Period: time.Second}
	a, b := e.limiter(t, e.key, limit), e.limiter(t, e.key, limit)
	start := time.Now()
	prrTake(t, "a takes the burst", a, 4, 90*time.Millisecond)
	for _, tc := range []struct {
		name string
		l    *Limiter
	}{{"b", b}, {"a", a}} {
		due := prrRefused(t, tc.name+" after a took the burst", tc.l, prrBefore(start, 100*time.Millisecond))
		if low := 100*time.Millisecond - time.Since(start) - time.Millisecond; due > 100*time.Millisecond || due < low {
			t.Errorf("%s refused with the next token due in %v; want within [%v, 100ms]", tc.name, due, low)
		}
	}

	key := e.key + ":hammer"
	lims := []*Limiter{e.limiter(t, key, limit), e.limiter(t, key, limit)}
	from := time.Now()
	counts := prrHammer(t, lims, 4, 1500*time.Millisecond)
	elapsed := time.Since(from)
	total := int(counts[0] + counts[1])
	most := limit.Burst + int(float64(limit.Rate)*elapsed.Seconds()/limit.Period.Seconds())
	t.Logf("two replicas, 4 callers each, %v: %d + %d grants (the limit allows %d)", elapsed.Round(time.Millisecond), counts[0], counts[1], most)
	if total > most {
		t.Errorf("%d grants in %v; the shared limit allows %d", total, elapsed, most)
	}
	if total < most*8/10 {
		t.Errorf("%d grants in %v; want at least 80%% of %d", total, elapsed, most)
	}
	if counts[0] == 0 || counts[1] == 0 {
		t.Errorf("grants per replica %d, %d; a busy replica got none", counts[0], counts[1])
	}
}
