package redisrate

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// arrivalServer records when each request arrives; gate, while open,
// holds every request until it is closed.
type arrivalServer struct {
	*httptest.Server
	mu       sync.Mutex
	arrivals []time.Time
}

func newArrivalServer(t *testing.T, hold <-chan struct{}) *arrivalServer {
	s := &arrivalServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.arrivals = append(s.arrivals, time.Now())
		s.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// maxInWindow returns the most arrivals within any window of length w.
func (s *arrivalServer) maxInWindow(w time.Duration) (most, total int) {
	s.mu.Lock()
	a := slices.Clone(s.arrivals)
	s.mu.Unlock()
	slices.SortFunc(a, func(x, y time.Time) int { return x.Compare(y) })
	j := 0
	for i := range a {
		for a[i].Sub(a[j]) >= w {
			j++
		}
		most = max(most, i-j+1)
	}
	return most, len(a)
}

func reviewFetcher(t *testing.T, opts ...fetch.Option) *fetch.Fetcher {
	t.Helper()
	f, err := fetch.New(append([]fetch.Option{fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 1})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.Shutdown(ctx)
	})
	return f
}

// Four Fetchers, each with its own Redis client (as four pods would be),
// with many waiters each, share 100/s burst 10: the server never sees more
// than rate x 1 s + burst in any sliding 1 s window.
func TestSharedReviewSlidingWindowFourPods(t *testing.T) {
	rs := startRedis(t)
	srv := newArrivalServer(t, nil)
	limit := redis_rate.Limit{Rate: 100, Burst: 10, Period: time.Second}
	key := uniqueKey(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		lim, err := New(newClient(t, rs.Addr), key, limit)
		if err != nil {
			t.Fatal(err)
		}
		f := reviewFetcher(t, fetch.WithLimiter(lim), fetch.WithConcurrency(16))
		for range 40 {
			wg.Go(func() {
				for ctx.Err() == nil {
					f.Get(ctx, srv.URL)
				}
			})
		}
	}
	wg.Wait()
	most, total := srv.maxInWindow(time.Second)
	t.Logf("4 pods: %d requests, at most %d in a 1 s window", total, most)
	if most > 110+2 { // 2 for loopback jitter between grant and arrival
		t.Errorf("server saw %d requests within 1 s; 100/s burst 10 allows 110", most)
	}
	if total < 200 {
		t.Errorf("only %d requests in 2.5 s at 100/s", total)
	}
}

// A partner that stalls for a second and then answers at once: the callers
// that took their shared tokens while every slot was held must not all be
// sent together when the slots come free. The server must still see at
// most rate x 1 s + burst in any 1 s window. (Before the gates took the
// slot ahead of the token, it saw some 169.)
func TestSharedReviewStallDoesNotBunchTokens(t *testing.T) {
	rs := startRedis(t)
	hold := make(chan struct{})
	srv := newArrivalServer(t, hold)
	limit := redis_rate.Limit{Rate: 100, Burst: 10, Period: time.Second}
	lim, err := New(newClient(t, rs.Addr), uniqueKey(t), limit)
	if err != nil {
		t.Fatal(err)
	}
	f := reviewFetcher(t, fetch.WithLimiter(lim), fetch.WithConcurrency(8))
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			for ctx.Err() == nil {
				f.Get(ctx, srv.URL)
			}
		})
	}
	time.AfterFunc(time.Second, func() { close(hold) })
	wg.Wait()
	most, total := srv.maxInWindow(time.Second)
	t.Logf("stall then release: %d requests, at most %d in a 1 s window", total, most)
	if most > 110+2 {
		t.Errorf("server saw %d requests within 1 s; 100/s burst 10 allows 110", most)
	}
}

// With Redis down, a fail-closed limiter fails fast with
// ErrLimiterUnavailable, and recovers within Recheck of Redis's return.
func TestSharedReviewRedisDownAndBack(t *testing.T) {
	rs := startRedis(t)
	rdb := newClient(t, rs.Addr)
	lim, err := New(rdb, uniqueKey(t), redis_rate.PerSecond(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := lim.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	rs.Stop()
	for i := range 20 {
		start := time.Now()
		err := lim.Wait(t.Context())
		if !errors.Is(err, fetch.ErrLimiterUnavailable) {
			t.Fatalf("wait %d with Redis down: %v; want ErrLimiterUnavailable", i, err)
		}
		if d := time.Since(start); d > 300*time.Millisecond {
			t.Errorf("wait %d with Redis down took %v", i, d)
		}
	}
	if err := rs.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := lim.Wait(t.Context())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing 3 s after Redis came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A wrong password: New cannot know, but the first Wait must say so
// clearly, not only "unavailable".
func TestSharedReviewWrongPassword(t *testing.T) {
	rs := startRedis(t, "--requirepass", "right")
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, Password: "wrong", DisableIdentity: true})
	t.Cleanup(func() { rdb.Close() })
	lim, err := New(rdb, uniqueKey(t), redis_rate.PerSecond(100))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = lim.Wait(t.Context())
	t.Logf("wrong password: %v after %v", err, time.Since(start))
	if !errors.Is(err, fetch.ErrLimiterUnavailable) {
		t.Errorf("err = %v; want ErrLimiterUnavailable", err)
	}
	if err == nil || !(contains(err.Error(), "WRONGPASS") || contains(err.Error(), "invalid password")) {
		t.Errorf("err = %v; want it to name the password", err)
	}
	// And the second, within Recheck, still says why: not only that "a
	// call failed", which sends the operator looking for an outage.
	err = lim.Wait(t.Context())
	t.Logf("second wait: %v", err)
	if !errors.Is(err, fetch.ErrLimiterUnavailable) || !contains(err.Error(), "WRONGPASS") {
		t.Errorf("second wait: %v; want ErrLimiterUnavailable naming the last failure (WRONGPASS)", err)
	}
}

func contains(s, sub string) bool {
	return len(sub) <= len(s) && (s[:len(sub)] == sub || contains(s[1:], sub))
}

// Per-host shared limits leave keys in Redis that expire.
func TestSharedReviewPerHostKeysExpire(t *testing.T) {
	rs := startRedis(t)
	rdb := newClient(t, rs.Addr)
	srv := newArrivalServer(t, nil)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	prefix := uniqueKey(t)
	f := reviewFetcher(t, fetch.WithHostLimiter(func(host string) fetch.Limiter {
		l, err := New(rdb, prefix+":host:"+host, redis_rate.PerSecond(10))
		if err != nil {
			panic(err)
		}
		return l
	}))
	for _, h := range []string{"127.0.0.1", "localhost"} {
		if _, err := f.Get(t.Context(), "http://"+h+":"+port+"/"); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := rdb.Keys(t.Context(), "rate:"+prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys = %v; want 2", keys)
	}
	for _, k := range keys {
		ttl, err := rdb.PTTL(t.Context(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > time.Second {
			t.Errorf("key %s has TTL %v; want it to expire within the bucket's refill (100 ms)", k, ttl)
		}
	}
}

// A 1-per-minute shared limit: the second wait without a deadline is
// cancelled promptly, and gives back nothing it did not take: a third
// wait made after it waits no longer than the second would have.
func TestSharedReviewTinyRateCancelPromptly(t *testing.T) {
	rs := startRedis(t)
	lim, err := New(newClient(t, rs.Addr), uniqueKey(t), redis_rate.PerMinute(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := lim.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- lim.Wait(ctx) }()
	time.Sleep(50 * time.Millisecond) // let it queue (not synchronisation of the result)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled wait = %v; want context.Canceled", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("cancelled wait returned after %v", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("cancelled wait did not return")
	}
	// A deadline shorter than the next token is refused at once.
	dctx, dcancel := context.WithTimeout(t.Context(), time.Second)
	defer dcancel()
	start = time.Now()
	err = lim.Wait(dctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 100*time.Millisecond {
		t.Errorf("wait with 1 s deadline on a 1/min limit = %v after %v; want DeadlineExceeded at once", err, time.Since(start))
	}
}

// FailOpen with a wrong password: the misconfiguration is never a
// transient outage, yet the limiter falls back for ever without a word.
func TestSharedReviewFailOpenWrongPasswordSilent(t *testing.T) {
	rs := startRedis(t, "--requirepass", "right")
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, Password: "wrong", DisableIdentity: true})
	t.Cleanup(func() { rdb.Close() })
	lim, err := New(rdb, uniqueKey(t), redis_rate.PerSecond(100), FailOpen(rate.NewLimiter(50, 5)))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := lim.Wait(t.Context()); err != nil {
			t.Fatalf("fail open: %v", err)
		}
	}
	t.Logf("FailOpen with a wrong password: 5 waits served by the fallback, no error surfaced")
}
