package redisqueue

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/redisrate"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// workerEnv, set in a child's environment, makes the test binary a worker
// process of a multi-process test instead of running tests: "list" runs
// Queue.Run, "crawl" a Crawler on a Frontier. The other settings come
// from the environment too (see workerEnvOf).
const workerEnv = "REDISQUEUE_WORKER"

// workerSettings is what a worker process is told.
type workerSettings struct {
	Redis, Stream, Group, Consumer, Out, RateKey, Seed string
	Rate, Burst                                        int
	Visibility                                         time.Duration
}

func (s workerSettings) env(mode string) []string {
	return append(os.Environ(),
		workerEnv+"="+mode,
		"RQ_REDIS="+s.Redis, "RQ_STREAM="+s.Stream, "RQ_GROUP="+s.Group,
		"RQ_CONSUMER="+s.Consumer, "RQ_OUT="+s.Out, "RQ_RATE_KEY="+s.RateKey,
		"RQ_SEED="+s.Seed, "RQ_RATE="+strconv.Itoa(s.Rate), "RQ_BURST="+strconv.Itoa(s.Burst),
		"RQ_VISIBILITY="+s.Visibility.String())
}

func workerSettingsFromEnv() workerSettings {
	rate, _ := strconv.Atoi(os.Getenv("RQ_RATE"))
	burst, _ := strconv.Atoi(os.Getenv("RQ_BURST"))
	vis, _ := time.ParseDuration(os.Getenv("RQ_VISIBILITY"))
	return workerSettings{
		Redis: os.Getenv("RQ_REDIS"), Stream: os.Getenv("RQ_STREAM"), Group: os.Getenv("RQ_GROUP"),
		Consumer: os.Getenv("RQ_CONSUMER"), Out: os.Getenv("RQ_OUT"), RateKey: os.Getenv("RQ_RATE_KEY"),
		Seed: os.Getenv("RQ_SEED"), Rate: rate, Burst: burst, Visibility: vis,
	}
}

// workerMain is a worker process: it fetches through a limit shared in
// Redis and writes every result to its own JSON Lines file, until the
// queue (or the crawl) is done.
func workerMain(mode string) int {
	if err := runWorker(mode, workerSettingsFromEnv()); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}

func runWorker(mode string, s workerSettings) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: s.Redis, DisableIdentity: true})
	defer rdb.Close()
	lim, err := redisrate.New(rdb, s.RateKey, redis_rate.Limit{Rate: s.Rate, Burst: s.Burst, Period: time.Second})
	if err != nil {
		return err
	}
	f, err := fetch.New(fetch.WithLimiter(lim), fetch.WithConcurrency(16), fetch.WithHostConcurrency(8))
	if err != nil {
		return err
	}
	defer f.Shutdown(context.Background())
	q, err := New(rdb, s.Stream, s.Group, Consumer(s.Consumer), Visibility(s.Visibility), MaxHeld(64))
	if err != nil {
		return err
	}
	out, err := os.OpenFile(s.Out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	sink := NewSink(out)
	if mode == "list" {
		_, err := WriteJSONL(out, q.Run(ctx, f))
		return err
	}
	c, err := fetch.NewCrawler(f, fetch.CrawlFrontier(q.Frontier()))
	if err != nil {
		return err
	}
	for p := range c.Run(ctx, s.Seed) {
		if err := sink.WritePage(p); err != nil {
			return err
		}
		p.Follow(p.Links()...)
	}
	return nil
}
