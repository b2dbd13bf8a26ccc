// Pagination walks a paginated JSON API with a Go iterator, the async
// generator pattern: items are yielded as each page arrives, and the caller
// can stop at any point without fetching the pages it does not need.
package main

import (
	"context"
	"fmt"
	"iter"
	"log"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/testserver"
)

// items yields every item of the listing starting at url, following each
// page's "next" link. A failed page is yielded as an error and ends it.
func items(ctx context.Context, f *fetch.Fetcher, url string) iter.Seq2[testserver.Item, error] {
	return func(yield func(testserver.Item, error) bool) {
		for url != "" {
			page, err := fetch.GetJSON[testserver.Page](ctx, f, url)
			if err != nil {
				yield(testserver.Item{}, err)
				return
			}
			for _, it := range page.Items {
				if !yield(it, nil) {
					return // the caller stopped: fetch no more pages
				}
			}
			url = page.Next
		}
	}
}

func main() {
	srv := testserver.Start(testserver.Config{Items: 95, PageSize: 10, Latency: 10 * time.Millisecond, FailureRate: 0.2})
	defer srv.Close()
	// A failed page is retried (up to 8 attempts) before it is an error.
	f, err := fetch.New(fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 8, BaseDelay: 10 * time.Millisecond}))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	n := 0
	for it, err := range items(context.Background(), f, srv.URL+"/items") {
		if err != nil {
			log.Fatal(err)
		}
		n++
		if n <= 3 || n == 95 {
			fmt.Printf("  item %d: %s\n", it.ID, it.Name)
		}
	}
	fmt.Printf("walked %d items from %d page requests (retries included)\n", n, srv.Stats().Requests)

	// Stopping early fetches only the pages needed.
	before := srv.Stats().Requests
	for it := range items(context.Background(), f, srv.URL+"/items") {
		if it.ID == 15 {
			break
		}
	}
	fmt.Printf("stopped at item 15 after %d page requests\n", srv.Stats().Requests-before)
}
