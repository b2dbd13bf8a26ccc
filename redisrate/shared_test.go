package redisrate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/go-redis/redis_rate/v10"
	"golang.org/x/time/rate"
)

// The shared limit of the three-process test.
var shared = redis_rate.Limit{Rate: 100, Burst: 10, Period: time.Second}

const (
	processes   = 3
	sharedFor   = 5 * time.Second
	childMarker = "REDISRATE_CHILD"
)

// countingServer counts the requests it serves.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// Three separate processes, each with its own Fetcher of 16 workers, share
// one 100 req/s limit through Redis for 5 s. The server must see at most
// what the limit allows in 5 s (rate x 5 s + burst) and at least 90% of it.
func TestSharedLimitAcrossProcesses(t *testing.T) {
	addr := os.Getenv("REDIS_ADDR") // started by .ci/run
	if addr == "" {
		addr = startRedis(t).Addr
	}
	newClient(t, addr) // fail early if it is not there
	srv, hits := countingServer(t)

	start := time.Now().Add(time.Second) // all children begin together
	key := uniqueKey(t)
	var wg sync.WaitGroup
	for i := range processes {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSharedLimitChild$")
		cmd.Env = append(os.Environ(),
			childMarker+"=1",
			"CHILD_REDIS="+addr,
			"CHILD_KEY="+key,
			"CHILD_URL="+srv.URL,
			"CHILD_START="+strconv.FormatInt(start.UnixNano(), 10),
		)
		wg.Go(func() {
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("child %d: %v\n%s", i, err, out)
			}
		})
	}
	wg.Wait()

	most := int64(shared.Rate)*int64(sharedFor/time.Second) + int64(shared.Burst)
	got := hits.Load()
	t.Logf("%d processes sent %d requests in %v (limit allows %d)", processes, got, sharedFor, most)
	if got > most {
		t.Errorf("server saw %d requests; the shared limit allows at most %d", got, most)
	}
	if least := most * 9 / 10; got < least {
		t.Errorf("server saw %d requests; want at least %d (90%% of the limit)", got, least)
	}
}

// TestSharedLimitChild is one process of TestSharedLimitAcrossProcesses;
// run on its own, it does nothing.
func TestSharedLimitChild(t *testing.T) {
	if os.Getenv(childMarker) != "1" {
		t.Skip("a child process of TestSharedLimitAcrossProcesses")
	}
	lim, err := New(newClient(t, os.Getenv("CHILD_REDIS")), os.Getenv("CHILD_KEY"), shared)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fetch.New(fetch.WithLimiter(lim), fetch.WithConcurrency(16))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(0, envInt(t, "CHILD_START"))
	time.Sleep(time.Until(start))
	ctx, cancel := context.WithDeadline(t.Context(), start.Add(sharedFor))
	defer cancel()

	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, err := f.Get(ctx, os.Getenv("CHILD_URL"))
				// Near the end, a wait that would pass the deadline is
				// refused at once.
				if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Get: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := f.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// Fail closed: with Redis stopped mid-run, calls fail with
// ErrLimiterUnavailable and nothing reaches the server; once Redis is back,
// the same Fetcher sends again.
func TestFailClosedWhileRedisIsDown(t *testing.T) {
	rs := startRedis(t)
	srv, hits := countingServer(t)
	lim, err := New(newClient(t, rs.Addr), uniqueKey(t), redis_rate.PerSecond(1000), Recheck(0))
	if err != nil {
		t.Fatal(err)
	}
	f := newFetcher(t, lim)

	get := func() error { _, err := f.Get(t.Context(), srv.URL); return err }
	for range 3 {
		if err := get(); err != nil {
			t.Fatalf("Get with Redis up: %v", err)
		}
	}
	rs.Stop()
	for range 3 {
		if err := get(); !errors.Is(err, fetch.ErrLimiterUnavailable) {
			t.Fatalf("Get with Redis down = %v; want ErrLimiterUnavailable", err)
		}
	}
	if got := hits.Load(); got != 3 {
		t.Fatalf("server saw %d requests; want 3 (none while Redis was down)", got)
	}
	if err := rs.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := get(); err != nil {
		t.Fatalf("Get after Redis restarted: %v", err)
	}
	if got := hits.Load(); got != 4 {
		t.Errorf("server saw %d requests; want 4", got)
	}
}

// Fail open: with Redis stopped mid-run, calls go on at the fallback's rate,
// and go back to Redis once it is back.
func TestFailOpenWhileRedisIsDown(t *testing.T) {
	rs := startRedis(t)
	srv, hits := countingServer(t)
	rdb := newClient(t, rs.Addr)
	key := uniqueKey(t)
	fallback := rate.NewLimiter(rate.Every(time.Hour), 5) // five tokens, no refill to speak of
	lim, err := New(rdb, key, redis_rate.PerSecond(1000), FailOpen(fallback), Recheck(0))
	if err != nil {
		t.Fatal(err)
	}
	f := newFetcher(t, lim)
	get := func() error { _, err := f.Get(t.Context(), srv.URL); return err }

	if err := get(); err != nil {
		t.Fatalf("Get with Redis up: %v", err)
	}
	rs.Stop()
	for range 3 {
		if err := get(); err != nil {
			t.Fatalf("Get failing open: %v", err)
		}
	}
	if got := fallback.Tokens(); got >= 3 {
		t.Errorf("fallback has %.1f of 5 tokens left after 3 calls with Redis down; want under 3", got)
	}
	if err := rs.Restart(); err != nil { // a fresh Redis: the key is gone until the limiter uses it again
		t.Fatal(err)
	}
	if err := get(); err != nil {
		t.Fatalf("Get after Redis restarted: %v", err)
	}
	if n, err := rdb.Exists(t.Context(), "rate:"+key).Result(); err != nil || n != 1 {
		t.Errorf("after the restart the limiter did not use Redis again (key exists = %d, %v)", n, err)
	}
	if got := hits.Load(); got != 5 {
		t.Errorf("server saw %d requests; want 5", got)
	}
}

func newFetcher(t *testing.T, lim fetch.Limiter) *fetch.Fetcher {
	t.Helper()
	f, err := fetch.New(fetch.WithLimiter(lim), fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Shutdown(context.Background()); err != nil {
			t.Error(fmt.Errorf("Shutdown: %w", err))
		}
	})
	return f
}
