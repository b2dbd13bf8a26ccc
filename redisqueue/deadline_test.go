package redisqueue

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/redisrate"
	"github.com/go-redis/redis_rate/v10"
)

// A worker whose Run context has a deadline (a time-boxed job) and whose
// Fetcher has a rate limit: the limiter refuses at once every wait that
// would end after the deadline, Run yields those refusals as results and
// acknowledges them, and the worker then reads more entries, which are
// refused at once too. The whole shared queue is consumed as errors in
// the last moments before the deadline: entries no worker ever fetched
// are acknowledged, deleted from the stream, and cannot be re-added (their
// keys are seen). The docs promise that when ctx ends Run releases what it
// holds to the other workers; an entry refused only because this worker's
// own ctx is about to end should be released, not acknowledged.
func TestDeadlineRefusalLeavesEntriesToOthers(t *testing.T) {
	addr := startRedis(t).Addr
	rdb := newClient(t, addr)
	srv := newCountingServer(t)
	q := newQueue(t, rdb)
	const total = 300
	if _, err := q.Add(context.Background(), slices.Values(urls(srv.URL, total))); err != nil {
		t.Fatal(err)
	}
	lim, err := redisrate.New(rdb, uniqueName(t), redis_rate.Limit{Rate: 5, Burst: 1, Period: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f := newFetcher(t, fetch.WithLimiter(lim))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	refused := 0
	var first error
	for r := range q.Run(ctx, f) {
		if r.Err != nil {
			refused++
			if first == nil {
				first = r.Err
			}
		}
	}
	fetched := len(srv.counts())
	st, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	left := st.Entries
	t.Logf("fetched %d, yielded %d refusals (first: %v); left in the queue: %d; stats %+v", fetched, refused, first, left, st)
	if fetched+int(left) < total {
		t.Errorf("%d of %d URLs were neither fetched nor left in the queue for another worker: acknowledged as refused by the rate limiter because this worker's ctx deadline was near", total-fetched-int(left), total)
	}
}

// The crawl variant of TestDeadlineRefusalLeavesEntriesToOthers: a process
// whose crawl context has a deadline marks Done (acknowledges) the pages
// its rate limiter refused because of that deadline, so those pages are
// never fetched by any process of the shared crawl.
func TestCrawlDeadlineRefusalLeavesEntriesToOthers(t *testing.T) {
	addr := startRedis(t).Addr
	rdb := newClient(t, addr)
	srv := newCountingServer(t)
	q := newQueue(t, rdb)
	const total = 200
	if _, err := q.Add(context.Background(), slices.Values(urls(srv.URL, total))); err != nil {
		t.Fatal(err)
	}
	lim, err := redisrate.New(rdb, uniqueName(t), redis_rate.Limit{Rate: 5, Burst: 1, Period: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, err := fetch.NewCrawler(newFetcher(t, fetch.WithLimiter(lim)), fetch.CrawlFrontier(q.Frontier()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pages := 0
	for range c.Run(ctx) {
		pages++
	}
	fetched := len(srv.counts())
	st, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pages %d, fetched %d, stats %+v", pages, fetched, st)
	if fetched+int(st.Entries) < total {
		t.Errorf("%d of %d URLs were neither fetched nor left in the shared crawl", total-fetched-int(st.Entries), total)
	}
}
