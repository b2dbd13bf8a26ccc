// Semaphore caps the requests in flight overall (WithConcurrency), and shows
// the server never saw more at once than the cap.
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
	const limit = 5
	srv := testserver.Start(testserver.Config{Latency: 50 * time.Millisecond})
	defer srv.Close()
	f, err := fetch.New(fetch.WithConcurrency(limit))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	urls := make([]string, 100)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/items/%d", srv.URL, i%50+1)
	}
	start := time.Now()
	for _, r := range f.GetAll(context.Background(), urls) {
		if r.Err != nil {
			log.Fatal(r.Err)
		}
	}
	st := srv.Stats()
	fmt.Printf("%d requests in %v\n", st.Requests, time.Since(start).Round(10*time.Millisecond))
	fmt.Printf("server saw at most %d in flight (limit %d)\n", st.MaxInFlight, limit)
}
