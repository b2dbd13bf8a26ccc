// Timeout shows the two kinds of time limit, a per-attempt timeout (which
// is retried) and the caller's overall deadline (which ends the call), and
// how to tell their errors apart.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/testserver"
)

func main() {
	srv := testserver.Start(testserver.Config{})
	defer srv.Close()
	f, err := fetch.New(
		fetch.WithAttemptTimeout(100*time.Millisecond),
		fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	slow := srv.URL + "/items/1?delay=1s" // every attempt outlasts its 100ms

	// 1. Each attempt times out and is retried; the call gives up after 3.
	start := time.Now()
	_, err = f.Get(context.Background(), slow)
	fmt.Printf("attempt timeout after %v:\n  %v\n", time.Since(start).Round(100*time.Millisecond), err)
	explain(err)

	// 2. The caller's deadline ends the call, whatever attempt it is in.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = f.Get(ctx, slow)
	fmt.Printf("overall deadline after %v:\n  %v\n", time.Since(start).Round(50*time.Millisecond), err)
	explain(err)
}

// explain tells the two apart with errors.Is, never by the message.
func explain(err error) {
	var fe *fetch.Error
	errors.As(err, &fe)
	switch {
	case errors.Is(err, fetch.ErrAttemptTimeout):
		fmt.Printf("  -> kind: attempt timeout (ErrAttemptTimeout), %d attempts\n", fe.Attempts)
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Printf("  -> kind: overall deadline (context.DeadlineExceeded only), %d attempts\n", fe.Attempts)
	default:
		fmt.Println("  -> kind: other")
	}
}
