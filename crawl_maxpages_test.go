package fetch

import (
	"context"
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
