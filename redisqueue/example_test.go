package redisqueue_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"slices"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/redisqueue"
	"github.com/redis/go-redis/v9"
)

// A command-line tool that splits one list between machines: one adds the
// file's URLs, and each machine runs a worker on the same stream.
func Example() {
	opts, stream, err := redisqueue.ParseURL("redis://127.0.0.1:6379/urls")
	if err != nil {
		log.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	q, err := redisqueue.New(rdb, stream, "fetchers")
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if os.Getenv("ADD") != "" { // fetch -queue redis://... -add urls.txt
		n, err := q.Add(ctx, slices.Values([]string{"https://example.com/a", "https://example.com/b"}))
		fmt.Println(n, "queued", err)
		return
	}
	f, err := fetch.New(fetch.WithHostConcurrency(4))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(ctx)
	// fetch -queue redis://HOST:PORT/STREAM -group NAME
	if _, err := redisqueue.WriteJSONL(os.Stdout, q.Run(ctx, f)); err != nil {
		log.Fatal(err)
	}
}
