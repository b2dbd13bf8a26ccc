package redisqueue

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/c989c033/fetch/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// On Redis Cluster, a queue's keys must share a slot: New refuses a
// cluster client and a stream name without a hash tag, naming the fix; a
// name with one works end to end; and a plain client pointed at a cluster
// gets a clear, final error instead of waiting for Redis forever.
func TestCluster(t *testing.T) {
	s := redistest.StartCluster(t)
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{s.Addr}, DisableIdentity: true})
	t.Cleanup(func() { cluster.Close() })
	srv := newCountingServer(t)

	t.Run("no hash tag", func(t *testing.T) {
		_, err := New(cluster, "crawl", "workers")
		if err == nil || !strings.Contains(err.Error(), "{crawl}") {
			t.Fatalf("New(cluster client, %q) = %v; want an error suggesting {crawl}", "crawl", err)
		}
	})

	t.Run("hash tag", func(t *testing.T) {
		q, err := New(cluster, "{crawl}", "workers")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Delete(context.Background()) })
		list := urls(srv.URL, 50)
		if n, err := q.Add(t.Context(), slices.Values(list)); err != nil || n != len(list) {
			t.Fatalf("Add = %d, %v; want %d, nil", n, err, len(list))
		}
		got := 0
		for r := range q.Run(t.Context(), newFetcher(t)) {
			if r.Err != nil {
				t.Errorf("%s: %v", r.URL, r.Err)
			}
			got++
		}
		st, err := q.Stats(t.Context())
		if got != len(list) || err != nil || !st.Drained || st.Seen != int64(len(list)) {
			t.Errorf("%d results, Stats %+v, %v; want %d, drained", got, st, err, len(list))
		}
		if err := q.Delete(t.Context()); err != nil {
			t.Errorf("Delete: %v", err)
		}
	})

	t.Run("plain client", func(t *testing.T) {
		q, err := New(newClient(t, s.Addr), "crawl", "workers")
		if err != nil {
			t.Fatal(err)
		}
		_, err = q.Add(t.Context(), slices.Values(urls(srv.URL, 1)))
		if err == nil || !strings.Contains(err.Error(), "hash tag") {
			t.Errorf("Add on a cluster without a hash tag = %v; want CROSSSLOT with a hint", err)
		}
		// Entries a producer wrote by hand: each is fetched, but its
		// acknowledgement, which touches both keys, is refused for good.
		for _, u := range urls(srv.URL, 3) {
			if err := q.rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: q.stream, Values: map[string]any{"url": u}}).Err(); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		var last error
		for r := range q.Run(ctx, newFetcher(t)) {
			last = r.Err
		}
		if ctx.Err() != nil {
			t.Fatal("Run on a cluster without a hash tag still going after 30s")
		}
		if last == nil || !strings.Contains(last.Error(), "CROSSSLOT") || !strings.Contains(last.Error(), "hash tag") {
			t.Errorf("Run on a cluster without a hash tag ended with %v; want its CROSSSLOT error with a hint", last)
		}
	})
}
