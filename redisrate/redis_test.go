package redisrate

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/c989c033/fetch/internal/redistest"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// startRedis starts a redis-server of t's own (see internal/redistest).
var startRedis = redistest.Start

func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("ping Redis at %s: %v", addr, err)
	}
	return rdb
}

// uniqueKey returns a key no earlier run has used, so that a shared Redis
// (REDIS_ADDR) starts every test with a full bucket.
func uniqueKey(t *testing.T) string {
	return fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
}

func envInt(t *testing.T, name string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(os.Getenv(name), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
