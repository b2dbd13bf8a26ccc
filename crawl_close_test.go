package fetch

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// closeWatchFrontier is a memory frontier that records an Add still
// running when Close is called. Its Add of a URL ending in "/late" waits
// until the crawl's context (the one Next is given) ends.
type closeWatchFrontier struct {
	Frontier
	crawlCtx  atomic.Pointer[context.Context]
	adding    atomic.Int32
	lateBegun chan struct{}
	overlap   atomic.Bool // Close was called while an Add ran
}

func (w *closeWatchFrontier) Next(ctx context.Context) (CrawlEntry, bool, error) {
	w.crawlCtx.CompareAndSwap(nil, &ctx)
	return w.Frontier.Next(ctx)
}

func (w *closeWatchFrontier) Add(e CrawlEntry) (bool, error) {
	w.adding.Add(1)
	defer w.adding.Add(-1)
	if strings.HasSuffix(e.URL, "/late") {
		close(w.lateBegun)
		<-(*w.crawlCtx.Load()).Done()
	}
	return w.Frontier.Add(e)
}

func (w *closeWatchFrontier) Close() {
	if w.adding.Load() != 0 {
		w.overlap.Store(true)
	}
	w.Frontier.Close()
}

// A Follow from another goroutine that is adding its links when the loop
// breaks finishes before the crawl closes its frontier: a shared frontier
// is never written to after Close (a Redis one has closed its client).
func TestCrawlBreakClosesFrontierAfterFollowsInFlight(t *testing.T) {
	for range 20 {
		fr := &closeWatchFrontier{Frontier: NewMemoryFrontier(0), lateBegun: make(chan struct{})}
		c := newTestCrawler(t, newMem(t, linkSite(nil)), CrawlFrontier(fr))
		var follows sync.WaitGroup
		var followErr error
		for p := range c.Run(t.Context(), "http://a.test/") {
			follows.Go(func() { followErr = p.Follow("/late") })
			<-fr.lateBegun
			break
		}
		follows.Wait()
		if fr.overlap.Load() {
			t.Fatal("the frontier was closed while a Follow was adding to it")
		}
		if followErr != nil {
			t.Fatalf("Follow begun before the break: %v; want nil", followErr)
		}
	}
}
