package redisqueue

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/testsite"
	"github.com/c989c033/fetch/redisrate"
	"github.com/go-redis/redis_rate/v10"
)

// warnings is a slog.Handler that passes on the messages of warnings.
type warnings chan string

func (w warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w warnings) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w warnings) WithGroup(string) slog.Handler                { return w }
func (w warnings) Handle(_ context.Context, r slog.Record) error {
	select {
	case w <- r.Message:
	default:
	}
	return nil
}

// Redis is killed mid-run and started again on the same port, with an
// append-only file written before every answer, so that it loses nothing.
// The worker, and its Redis-backed rate limiter, wait for it; every URL's
// result arrives, and every entry ends acknowledged.
func TestRedisRestart(t *testing.T) {
	const total = 2000
	rs := startDurableRedis(t)
	rdb := newClient(t, rs.Addr)
	srv := newCountingServer(t)
	warned := make(warnings, 16)
	q := newQueue(t, rdb, Visibility(time.Second), Logger(slog.New(warned)))
	list := urls(srv.URL, total)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	lim, err := redisrate.New(rdb, q.stream, redis_rate.PerSecond(4000), redisrate.Recheck(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	f := newFetcher(t, fetch.WithLimiter(lim), fetch.WithConcurrency(16))

	restarted := make(chan error, 1)
	got := map[string]int{}
	n := 0
	for r := range q.Run(t.Context(), f) {
		if r.Err != nil {
			t.Errorf("%s: %v", r.URL, r.Err)
		}
		got[r.URL]++
		if n++; n == total/4 {
			rs.Stop()
			go func() { // once the worker has seen Redis gone, bring it back
				for msg := range warned {
					if strings.Contains(msg, "Redis unavailable") {
						break
					}
				}
				restarted <- rs.Restart()
			}()
		}
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	dups := 0
	for _, u := range list {
		switch c := got[u]; {
		case c == 0:
			t.Errorf("%s: no result", u)
		case c > 1:
			dups += c - 1
		}
	}
	t.Logf("%d results for %d URLs, %d duplicates, across a Redis restart", n, total, dups)
	st, err := q.Stats(t.Context())
	if err != nil || st.Pending != 0 || !st.Drained || st.Entries != 0 || st.Seen != total {
		t.Errorf("Stats = %+v, %v; want %d keys seen, no entry left (all acknowledged and deleted), drained", st, err, total)
	}
}

// A crawl on a Frontier goes on across a Redis restart: the links found
// while Redis is down are written once it is back, and every page is
// fetched.
func TestCrawlRedisRestart(t *testing.T) {
	site, err := testsite.Start(testsite.Config{Hosts: 2, Pages: 300})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Close)
	rs := startDurableRedis(t)
	rdb := newClient(t, rs.Addr)
	warned := make(warnings, 16)
	q := newQueue(t, rdb, Visibility(time.Second), Logger(slog.New(warned)))
	c, err := fetch.NewCrawler(newFetcher(t, fetch.WithConcurrency(8)), fetch.CrawlFrontier(q.Frontier()))
	if err != nil {
		t.Fatal(err)
	}
	restarted := make(chan error, 1)
	got := map[string]int{}
	n := 0
	for p := range c.Run(t.Context(), site.Seed()) {
		if p.Err != nil {
			t.Errorf("%s: %v", p.URL, p.Err)
			continue
		}
		got[normalize(t, p.FinalURL)]++
		p.Follow(p.Links()...)
		if n++; n == 100 {
			rs.Stop()
			go func() {
				for msg := range warned {
					if strings.Contains(msg, "Redis unavailable") {
						break
					}
				}
				restarted <- rs.Restart()
			}()
		}
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	for u := range site.Expected() {
		if got[u] == 0 {
			t.Errorf("%s not crawled", u)
		}
	}
	if p := pendingCount(t, rdb, q); p != 0 {
		t.Errorf("%d entries pending at the end; want 0", p)
	}
	t.Logf("%d pages of %d across a Redis restart", len(got), len(site.Expected()))
}
