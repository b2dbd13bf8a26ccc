// Command sharedcrawl runs one crawl across several processes that share
// a frontier and a rate limit in Redis: it starts a generated site on
// loopback, then starts -workers copies of itself, each a crawler whose
// Frontier is the same Redis stream and whose Fetcher waits on the same
// redisrate limit. Together they fetch every page of the site once; the
// first prints how many pages they fetched in all, and how many were left
// pending.
//
//	go run ./examples/sharedcrawl -redis 127.0.0.1:6379 -workers 3
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/testsite"
	"github.com/c989c033/fetch/redisqueue"
	"github.com/c989c033/fetch/redisrate"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("redis", cmpOr(os.Getenv("REDIS_ADDR"), "127.0.0.1:6379"), "Redis `address`")
	workers := flag.Int("workers", 3, "worker processes")
	rate := flag.Int("rate", 500, "requests per second, shared by all workers")
	stream := flag.String("stream", "", "the crawl's stream (set for a worker)")
	seed := flag.String("seed", "", "the URL to crawl from (set for a worker)")
	flag.Parse()
	log.SetFlags(0)
	if *stream != "" {
		n, err := work(*addr, *stream, *seed, *rate)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(n)
		return
	}
	if err := lead(*addr, *workers, *rate); err != nil {
		log.Fatal(err)
	}
}

// lead serves the site, starts the workers and sums what they fetched.
func lead(addr string, workers, rate int) error {
	site, err := testsite.Start(testsite.Config{Hosts: 3, Pages: 200})
	if err != nil {
		return err
	}
	defer site.Close()
	stream := fmt.Sprintf("sharedcrawl-%d", time.Now().UnixNano())
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		errs  []error
	)
	for i := range workers {
		wg.Go(func() {
			out, err := exec.Command(self, "-redis", addr, "-stream", stream, "-seed", site.Seed(),
				"-rate", fmt.Sprint(rate)).Output()
			mu.Lock()
			defer mu.Unlock()
			var n int
			if err == nil {
				_, err = fmt.Sscan(strings.TrimSpace(string(out)), &n)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("worker %d: %w", i, err))
			}
			total += n
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer rdb.Close()
	q, err := redisqueue.New(rdb, stream, "crawlers")
	if err != nil {
		return err
	}
	st, err := q.Stats(context.Background())
	if err != nil {
		return err
	}
	fmt.Printf("%d workers fetched %d pages of %d; %d pending at the end\n",
		workers, total, len(site.Expected()), st.Pending)
	return q.Delete(context.Background())
}

// work is one worker process: it crawls the shared frontier until the
// crawl is over in every process, and returns the pages it fetched.
func work(addr, stream, seed string, rate int) (int, error) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer rdb.Close()
	lim, err := redisrate.New(rdb, stream, redis_rate.PerSecond(rate)) // one limit for all
	if err != nil {
		return 0, err
	}
	f, err := fetch.New(fetch.WithLimiter(lim), fetch.WithConcurrency(16), fetch.WithHostConcurrency(4))
	if err != nil {
		return 0, err
	}
	defer f.Shutdown(ctx)
	q, err := redisqueue.New(rdb, stream, "crawlers", redisqueue.Visibility(5*time.Second))
	if err != nil {
		return 0, err
	}
	c, err := fetch.NewCrawler(f, fetch.CrawlFrontier(q.Frontier()))
	if err != nil {
		return 0, err
	}
	n := 0
	for p := range c.Run(ctx, seed) { // every worker gives the seed; it is queued once
		if p.Err != nil {
			return n, p.Err
		}
		n++
		p.Follow(p.Links()...)
	}
	return n, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
