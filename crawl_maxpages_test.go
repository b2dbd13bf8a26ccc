package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// gatedFrontier is a memory frontier whose Add of a URL with the suffix
// "/dup" waits, once armed, until it is let go.
type gatedFrontier struct {
	Frontier
	armed  atomic.Bool
	adding chan struct{} // a /dup Add has begun
	letGo  chan struct{}
}

func (g *gatedFrontier) Add(e CrawlEntry) (bool, error) {
	if g.armed.Load() && strings.HasSuffix(e.URL, "/dup") {
		g.adding <- struct{}{}
		<-g.letGo
	}
	return g.Frontier.Add(e)
}

// A URL seen before takes no place under CrawlMaxPages, even while the
// frontier is still saying so: a new URL followed at that moment from
// another goroutine is taken in, not dropped as over the limit.
func TestCrawlMaxPagesDuplicateDoesNotKeepNewURLOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html></html>")
		})
		fr := &gatedFrontier{Frontier: NewMemoryFrontier(0), adding: make(chan struct{}), letGo: make(chan struct{})}
		c, err := NewCrawler(newMem(t, h), CrawlIgnoreRobots(), CrawlMaxPages(3), CrawlFrontier(fr))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for p := range c.Run(context.Background(), "http://a.test/", "http://a.test/dup") {
			got = append(got, p.URL)
			if p.URL != "http://a.test/" {
				continue
			}
			// Two pages of 3 are taken; /dup again from one goroutine,
			// while /new, the third, is followed from another.
			fr.armed.Store(true)
			var wg sync.WaitGroup
			wg.Go(func() { p.Follow("/dup") })
			<-fr.adding
			wg.Go(func() { p.Follow("/new") })
			synctest.Wait() // /new is dropped, or waits its turn
			close(fr.letGo)
			wg.Wait()
		}
		if !slices.Contains(got, "http://a.test/new") {
			t.Errorf("pages %v; want http://a.test/new among them: a duplicate kept it out", got)
		}
	})
}

// gapFrontier is a memory frontier whose Next, the first time it finds
// nothing left once armed, lets a Follow happen before it says so.
type gapFrontier struct {
	Frontier
	armed    atomic.Bool
	empty    chan struct{} // Next has found nothing left
	followed chan struct{}
}

func (g *gapFrontier) Next(ctx context.Context) (CrawlEntry, bool, error) {
	e, ok, err := g.Frontier.Next(ctx)
	if !ok && err == nil && g.armed.CompareAndSwap(true, false) {
		close(g.empty)
		<-g.followed
	}
	return e, ok, err
}

// A Follow from a goroutine the loop body does not wait for, made just as
// the crawl finds nothing left, either adds its link, which is then
// fetched, or returns ErrCrawlDone: never nil for a link never fetched.
func TestCrawlLateFollowIsFetchedOrRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html></html>")
		})
		fr := &gapFrontier{Frontier: NewMemoryFrontier(0), empty: make(chan struct{}), followed: make(chan struct{})}
		c, err := NewCrawler(newMem(t, h), CrawlIgnoreRobots(), CrawlFrontier(fr))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var followErr error
		late := make(chan struct{})
		for p := range c.Run(context.Background(), "http://a.test/") {
			got = append(got, p.URL)
			if p.URL != "http://a.test/" {
				continue
			}
			fr.armed.Store(true)
			go func() { // not waited for by the loop body
				defer close(late)
				<-fr.empty
				followErr = p.Follow("/late")
				close(fr.followed)
			}()
		}
		<-late
		fetched := slices.Contains(got, "http://a.test/late")
		switch {
		case followErr == nil && !fetched:
			t.Errorf("Follow returned nil, but /late was never fetched (pages %v)", got)
		case followErr != nil && fetched:
			t.Errorf("Follow = %v, but /late was fetched", followErr)
		case followErr != nil && !errors.Is(followErr, ErrCrawlDone):
			t.Errorf("Follow = %v; want nil or ErrCrawlDone", followErr)
		}
	})
}
