// Gather fetches 100 URLs concurrently and gets the results back in input
// order, each with its own error: asyncio.gather(..., return_exceptions=True).
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/testserver"
)

func main() {
	srv := testserver.Start(testserver.Config{Latency: 20 * time.Millisecond, Jitter: 30 * time.Millisecond})
	defer srv.Close()

	f, err := fetch.New(fetch.WithConcurrency(20))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	// Every tenth URL points at an item that does not exist.
	urls := make([]string, 100)
	for i := range urls {
		id := i + 1
		if id%10 == 0 {
			id += 1000
		}
		urls[i] = fmt.Sprintf("%s/items/%d", srv.URL, id)
	}

	start := time.Now()
	results := f.GetAll(context.Background(), urls)
	elapsed := time.Since(start)

	ok, failed, inOrder := 0, 0, true
	for i, r := range results {
		inOrder = inOrder && r.Index == i && r.URL == urls[i]
		if r.Err != nil {
			failed++
			if failed <= 2 {
				fmt.Printf("  #%d failed: %v\n", i, r.Err)
			}
			continue
		}
		ok++
	}
	fmt.Printf("%d results, in input order: %v\n", len(results), inOrder)
	fmt.Printf("%d ok, %d failed (the failures did not stop the rest)\n", ok, failed)
	fmt.Printf("took %v at concurrency 20 (one at a time would take about %v)\n",
		elapsed.Round(time.Millisecond), 100*35*time.Millisecond)
}
