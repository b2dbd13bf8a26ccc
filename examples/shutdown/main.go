// Shutdown stops cleanly on SIGINT or SIGTERM: it stops taking new work,
// lets the requests in flight finish within a grace period, and reports
// what was done and what was cancelled. Run it and press Ctrl-C; left
// alone, it signals itself after half a second.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/testserver"
)

func main() {
	srv := testserver.Start(testserver.Config{Latency: 200 * time.Millisecond})
	defer srv.Close()
	f, err := fetch.New(fetch.WithConcurrency(10))
	if err != nil {
		log.Fatal(err)
	}

	stop, unnotify := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer unnotify()
	go func() { // so the example ends by itself
		time.Sleep(500 * time.Millisecond)
		syscall.Kill(os.Getpid(), syscall.SIGINT)
	}()

	// Work gets its own context: a signal stops new work at once, but
	// cancels the requests in flight only when the grace period is over.
	work, cancelWork := context.WithCancel(context.Background())
	const total, grace = 1000, 2 * time.Second
	urls := func(yield func(string) bool) {
		for i := range total {
			if stop.Err() != nil || !yield(fmt.Sprintf("%s/items/%d", srv.URL, i%100+1)) {
				return // signalled: take no new work
			}
		}
	}
	go func() {
		<-stop.Done()
		fmt.Printf("signal received: no new work; %v grace for %d in flight\n", grace, f.Stats().InFlight)
		time.AfterFunc(grace, cancelWork)
	}()

	var done, cancelled int
	for r := range f.Stream(work, urls) {
		switch {
		case r.Err == nil:
			done++
		case errors.Is(r.Err, context.Canceled):
			cancelled++
		}
	}
	cancelWork()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := f.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("done %d, cancelled %d, never started %d (of %d)\n", done, cancelled, total-done-cancelled, total)
}
