// Retry fetches from a flaky server: failures are retried with exponential
// backoff and jitter, and a Retry-After header is honoured.
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
	srv := testserver.Start(testserver.Config{FailureRate: 0.3}) // fails 30% at random
	defer srv.Close()
	steady := testserver.Start(testserver.Config{}) // fails only when asked to
	defer steady.Close()

	policy := fetch.DefaultRetryPolicy()
	policy.MaxAttempts = 6
	policy.BaseDelay = 20 * time.Millisecond
	policy.MaxDelay = 2 * time.Second
	f, err := fetch.New(fetch.WithRetry(policy), fetch.WithHooks(fetch.Hooks{
		OnRetry: func(r fetch.RetryInfo) {
			fmt.Printf("  retry %s after %d (status %d), waiting %v\n",
				r.Request.URL.Path, r.Attempt, r.Status, r.Delay.Round(time.Millisecond))
		},
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	urls := []string{steady.URL + "/items/1?fail=2&retry_after=1"} // 503 with Retry-After: 1s, twice
	for i := 2; i <= 10; i++ {
		urls = append(urls, fmt.Sprintf("%s/items/%d", srv.URL, i)) // 30% fail at random
	}
	start := time.Now()
	results := f.GetAll(context.Background(), urls)
	for _, r := range results {
		fmt.Printf("%-45s attempts %d  err %v\n", r.URL[len(srv.URL):], r.Attempts, r.Err) // same-length hosts
	}
	first := results[0]
	fmt.Printf("Retry-After honoured: %v (2 waits of 1s, done in %v)\n",
		first.Err == nil && first.Attempts == 3 && first.Duration >= 2*time.Second, time.Since(start).Round(100*time.Millisecond))
	fmt.Printf("retries in all: %d\n", f.Stats().Retries)
}
