package redisqueue

import (
	"context"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/c989c033/fetch"
)

// noop answers every request at once with an empty 200, so that a
// benchmark measures the queue, not the network.
type noop struct{}

func (noop) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"text/plain"}},
		Body: io.NopCloser(strings.NewReader("")), Request: req, ProtoMajor: 1, ProtoMinor: 1}, nil
}

// benchURLs yields n URLs over 64 hosts.
func benchURLs(n int) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range n {
			if !yield(fmt.Sprintf("http://h%d.test/p/%d", i%64, i)) {
				return
			}
		}
	}
}

func benchFetcher(b *testing.B) *fetch.Fetcher {
	return newFetcher(b, fetch.WithClient(&http.Client{Transport: noop{}}), fetch.WithConcurrency(64))
}

func reportRate(b *testing.B, n int, d time.Duration) {
	b.ReportMetric(float64(n)/d.Seconds(), "urls/s")
}

// BenchmarkQueueAdd: URLs per second into the stream, deduplicated.
func BenchmarkQueueAdd(b *testing.B) {
	rdb := newClient(b, redisAddr(b))
	q := newQueue(b, rdb)
	b.ReportAllocs()
	start := time.Now()
	n, err := q.Add(context.Background(), benchURLs(b.N))
	if err != nil || n != b.N {
		b.Fatalf("Add = %d, %v", n, err)
	}
	reportRate(b, b.N, time.Since(start))
}

// BenchmarkQueueThroughput: URLs per second through one worker's Run,
// read, fetched with a no-op transport, yielded and acknowledged.
func BenchmarkQueueThroughput(b *testing.B) {
	rdb := newClient(b, redisAddr(b))
	q := newQueue(b, rdb)
	if _, err := q.Add(context.Background(), benchURLs(b.N)); err != nil {
		b.Fatal(err)
	}
	f := benchFetcher(b)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for r := range q.Run(context.Background(), f) {
		if r.Err != nil {
			b.Fatal(r.Err)
		}
		n++
	}
	if n != b.N {
		b.Fatalf("%d results; want %d", n, b.N)
	}
	reportRate(b, n, time.Since(start))
}

// BenchmarkCrawl: pages per second through a crawl of b.N seeds without
// links, on the in-memory frontier and on the Redis one.
func BenchmarkCrawl(b *testing.B) {
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			opts := []fetch.CrawlOption{fetch.CrawlIgnoreRobots()}
			if name == "redis" {
				q := newQueue(b, newClient(b, redisAddr(b)))
				opts = append(opts, fetch.CrawlFrontier(q.Frontier()))
			}
			c, err := fetch.NewCrawler(benchFetcher(b), opts...)
			if err != nil {
				b.Fatal(err)
			}
			var seeds []string
			for u := range benchURLs(b.N) {
				seeds = append(seeds, u)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			n := 0
			for p := range c.Run(context.Background(), seeds...) {
				if p.Err != nil {
					b.Fatal(p.Err)
				}
				n++
			}
			if n != b.N {
				b.Fatalf("%d pages; want %d", n, b.N)
			}
			reportRate(b, n, time.Since(start))
		})
	}
}
