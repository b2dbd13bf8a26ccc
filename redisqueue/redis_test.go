package redisqueue

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/c989c033/fetch/internal/redistest"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// The Redis the tests use: a redis-server of a test's own (see
// internal/redistest), or CI's.
var (
	startRedis        = redistest.Start
	startDurableRedis = redistest.StartDurable
	redisAddr         = redistest.Addr
)

func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ping Redis at %s: %v", addr, err)
	}
	return rdb
}

// uniqueName returns a stream name no earlier run has used, so that a
// shared Redis (REDIS_ADDR) starts every test empty.
func uniqueName(t testing.TB) string {
	return fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
}

func newQueue(t testing.TB, rdb redis.UniversalClient, opts ...Option) *Queue {
	t.Helper()
	q, err := New(rdb, uniqueName(t), "workers", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Delete(context.Background()) })
	return q
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(workerEnv); mode != "" {
		os.Exit(workerMain(mode)) // a worker process of a multi-process test
	}
	goleak.VerifyTestMain(m)
}
