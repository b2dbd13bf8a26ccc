package redisqueue

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func usedMemory(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatal("no used_memory in INFO")
	return 0
}

// TestMemoryPerURL measures, on a Redis of its own, what a URL costs in
// the set of keys seen and as a stream entry, for URLs of about 40 bytes
// (the figures in the package documentation).
func TestMemoryPerURL(t *testing.T) {
	const n = 50_000
	rdb := newClient(t, startRedis(t).Addr)
	ctx := t.Context()
	list := make([]string, n)
	for i := range list {
		list[i] = fmt.Sprintf("http://host%d.example.com/page/%d", i%100, i)
	}
	before := usedMemory(t, rdb)
	q, _ := New(rdb, "mem", "g")
	if _, err := q.Add(ctx, func(yield func(string) bool) {
		for _, u := range list {
			if !yield(u) {
				return
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	both := usedMemory(t, rdb) - before
	if err := rdb.Del(ctx, q.stream).Err(); err != nil {
		t.Fatal(err)
	}
	set := usedMemory(t, rdb) - before
	u, _ := url.Parse(list[0])
	t.Logf("%d URLs of %d bytes: %.0f bytes each in the seen set, %.0f as a stream entry, %.0f in all",
		n, len(q.keyOf(u.String())), float64(set)/n, float64(both-set)/n, float64(both)/n)
	if per := float64(set) / n; per > 200 {
		t.Errorf("%.0f bytes per key in the seen set; the documentation says about 100", per)
	}
}
