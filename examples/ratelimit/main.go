// Ratelimit applies token buckets: a global requests-per-minute quota and a
// tighter one per host, and prints the rates the servers saw.
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
	a := testserver.Start(testserver.Config{}) // two servers: two hosts
	defer a.Close()
	b := testserver.Start(testserver.Config{})
	defer b.Close()

	f, err := fetch.New(
		fetch.WithRate(fetch.PerMinute(1800), 1),   // 30 a second overall
		fetch.WithHostRate(fetch.PerSecond(10), 1), // 10 a second to each host
	)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	var urls []string
	for i := range 20 {
		urls = append(urls, fmt.Sprintf("%s/items/%d", a.URL, i+1), fmt.Sprintf("%s/items/%d", b.URL, i+1))
	}
	start := time.Now()
	for _, r := range f.GetAll(context.Background(), urls) {
		if r.Err != nil {
			log.Fatal(r.Err)
		}
	}
	elapsed := time.Since(start)
	fmt.Printf("%d requests in %v: %.1f req/s overall (global limit 30; two hosts at 10 allow 20)\n", len(urls), elapsed.Round(10*time.Millisecond),
		float64(len(urls)-2)/elapsed.Seconds())
	for name, s := range map[string]*testserver.Server{"host a": a, "host b": b} {
		fmt.Printf("%s saw %.1f req/s (limit 10)\n", name, s.Stats().Rate())
	}
}
