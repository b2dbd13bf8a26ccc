package main

import (
	"fmt"
	"time"

	"github.com/c989c033/fetch/internal/testserver"
)

const (
	// demoURLs is how many URLs -demo fetches.
	demoURLs = 3000
	// demoRetries is -demo's -retries unless given: with 6% of answers
	// failing on purpose, 3 retries would leave a few URLs in a hundred
	// runs failing every attempt.
	demoRetries = 6
)

// startDemo starts a local server with a realistic mix of trouble: latency,
// 5% failures, 1% connection resets, and a rate limit that answers 429 with
// Retry-After, and returns the URLs to fetch from it.
func startDemo() (*testserver.Server, []string) {
	srv := testserver.Start(testserver.Config{
		Latency:     10 * time.Millisecond,
		Jitter:      40 * time.Millisecond,
		FailureRate: 0.05,
		ResetRate:   0.01,
		RateLimit:   1000,
		Burst:       100,
		RetryAfter:  1,
		Items:       demoURLs,
	})
	urls := make([]string, demoURLs)
	for i := range urls {
		if i%3 == 0 {
			urls[i] = fmt.Sprintf("%s/pages/%d", srv.URL, i+1)
		} else {
			urls[i] = fmt.Sprintf("%s/items/%d", srv.URL, i+1)
		}
	}
	return srv, urls
}
