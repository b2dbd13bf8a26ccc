// Workerqueue feeds the Fetcher from a bounded queue: a producer that is
// faster than the workers is held back (backpressure), and no item is lost.
package main

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/testserver"
)

func main() {
	const items, queueSize = 200, 10
	srv := testserver.Start(testserver.Config{Latency: 10 * time.Millisecond, FailureRate: 0.1})
	defer srv.Close()
	f, err := fetch.New(fetch.WithConcurrency(8))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	// The producer: blocks whenever the queue is full.
	queue := make(chan string, queueSize)
	var produced, mostQueued atomic.Int64
	go func() {
		defer close(queue)
		for i := range items {
			queue <- fmt.Sprintf("%s/items/%d", srv.URL, i%100+1)
			produced.Add(1)
			if n := int64(len(queue)); n > mostQueued.Load() {
				mostQueued.Store(n)
			}
		}
	}()

	// The consumers: the Fetcher's workers pull from the queue as they free up.
	fromQueue := func(yield func(string) bool) {
		for u := range queue {
			if !yield(u) {
				return
			}
		}
	}
	seen := make(map[int]bool)
	var failed int
	for r := range f.Stream(context.Background(), fromQueue) {
		seen[r.Index] = true
		if r.Err != nil {
			failed++
		}
	}
	fmt.Printf("produced %d, consumed %d (%d failed after retries), lost %d\n",
		produced.Load(), len(seen), failed, produced.Load()-int64(len(seen)))
	fmt.Printf("queue never held more than %d (capacity %d): the producer waited for the workers\n",
		mostQueued.Load(), queueSize)
}
