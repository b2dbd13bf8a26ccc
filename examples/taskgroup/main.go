// Taskgroup shows structured concurrency: the first failure cancels the
// siblings, and Wait reports every real failure but not the cancellations.
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
	f, err := fetch.New()
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	// 1. Cancel on first failure: four slow fetches and one that fails fast.
	start := time.Now()
	g, ctx := fetch.NewTaskGroup(context.Background())
	var stopped int
	paths := []string{"/items/1?delay=3s", "/items/2?delay=3s", "/items/404404", "/items/3?delay=3s", "/items/4?delay=3s"}
	notStarted := errors.New("not started") // tasks are skipped once the group has failed
	results := []error{notStarted, notStarted, notStarted, notStarted, notStarted}
	for i, p := range paths {
		g.Go(func() error {
			_, err := f.Get(ctx, srv.URL+p)
			results[i] = err
			return err
		})
	}
	err = g.Wait()
	for _, e := range results {
		if errors.Is(e, context.Canceled) || e == notStarted {
			stopped++
		}
	}
	fmt.Printf("cancel on failure: Wait returned after %v: %v\n", time.Since(start).Round(100*time.Millisecond), err)
	fmt.Printf("  %d siblings cancelled or never started instead of running 3s; not reported as failures\n", stopped)

	// 2. Collect every error: the zero TaskGroup does not cancel.
	var all fetch.TaskGroup
	for _, p := range []string{"/items/1", "/items/404404", "/x?status=403", "/items/2"} {
		all.Go(func() error {
			_, err := f.Get(context.Background(), srv.URL+p)
			return err
		})
	}
	err = all.Wait()
	fmt.Printf("collect all: Wait returned every failure:\n%v\n", err)

	// 3. A panicking task is reported, not a crash.
	var p fetch.TaskGroup
	p.Go(func() error { panic("a task's bug") })
	var pe *fetch.PanicError
	fmt.Printf("panic recovered as *PanicError: %v\n", errors.As(p.Wait(), &pe))
}
