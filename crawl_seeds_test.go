package fetch

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// linkSite serves an HTML page at every path, linking to the paths links
// gives for it.
func linkSite(links map[string][]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for _, l := range links[r.URL.Path] {
			fmt.Fprintf(w, `<a href="%s">%s</a>`, l, l)
		}
	})
}

// gatedSeeds yields first, then waits until gate is closed, then yields
// rest. yields counts the seeds yielded; stopped is set when a yield
// returns false.
type gatedSeeds struct {
	first, rest []string
	gate        chan struct{}
	yields      atomic.Int64
	stopped     atomic.Bool
}

func newGatedSeeds(first, rest []string) *gatedSeeds {
	return &gatedSeeds{first: first, rest: rest, gate: make(chan struct{})}
}

func (g *gatedSeeds) seq(yield func(string) bool) {
	for _, s := range g.first {
		g.yields.Add(1)
		if !yield(s) {
			g.stopped.Store(true)
			return
		}
	}
	<-g.gate
	for _, s := range g.rest {
		g.yields.Add(1)
		if !yield(s) {
			g.stopped.Store(true)
			return
		}
	}
}

func newTestCrawler(t *testing.T, f *Fetcher, opts ...CrawlOption) *Crawler {
	t.Helper()
	c, err := NewCrawler(f, append([]CrawlOption{CrawlIgnoreRobots()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The crawl starts with the first seed: its page comes back while the
// iterator is still waiting to yield the second, and the crawl does not
// end while it waits, though nothing is queued or being fetched.
func TestCrawlRunSeqStartsBeforeSeedsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTestCrawler(t, newMem(t, linkSite(nil)))
		seeds := newGatedSeeds([]string{"http://a.test/1"}, []string{"http://a.test/2"})
		pages := make(chan *Page)
		go func() {
			defer close(pages)
			for p := range c.RunSeq(t.Context(), seeds.seq) {
				pages <- p
			}
		}()
		p := <-pages
		if p.Err != nil || p.URL != "http://a.test/1" || p.Depth != 0 {
			t.Fatalf("first page: %s depth %d, %v; want http://a.test/1 at depth 0", p.URL, p.Depth, p.Err)
		}
		synctest.Wait()
		if n := seeds.yields.Load(); n != 1 {
			t.Errorf("%d seeds yielded before the first page was handled; want 1", n)
		}
		select {
		case p, open := <-pages:
			t.Fatalf("crawl went on while the seeds' iterator waited: page %v, open %v", p, open)
		default:
		}
		close(seeds.gate)
		p, open := <-pages
		if !open || p.URL != "http://a.test/2" {
			t.Fatalf("second page: %v (open %v); want http://a.test/2", p, open)
		}
		if p, open := <-pages; open {
			t.Errorf("extra page %s", p.URL)
		}
		if seeds.stopped.Load() {
			t.Error("the seeds' iterator was stopped; want it read to its end")
		}
	})
}

// Breaking out of the loop returns while the seeds' iterator is blocked;
// its next yield returns false.
func TestCrawlRunSeqBreakWhileSeedsBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTestCrawler(t, newMem(t, linkSite(nil)))
		seeds := newGatedSeeds([]string{"http://a.test/1"}, []string{"http://a.test/2", "http://a.test/3"})
		n := 0
		for range c.RunSeq(t.Context(), seeds.seq) {
			n++
			synctest.Wait() // the iterator waits at its gate
			break
		}
		if n != 1 {
			t.Fatalf("%d pages; want 1", n)
		}
		close(seeds.gate)
		synctest.Wait()
		if !seeds.stopped.Load() || seeds.yields.Load() != 2 {
			t.Errorf("after the break: %d seeds yielded, stopped %v; want 2, the last refused", seeds.yields.Load(), seeds.stopped.Load())
		}
	})
}

// Ending the crawl's context ends it while the seeds' iterator is
// blocked, and stops the reading of seeds.
func TestCrawlRunSeqContextStopsSeeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTestCrawler(t, newMem(t, linkSite(nil)))
		seeds := newGatedSeeds([]string{"http://a.test/1"}, []string{"http://a.test/2"})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var got []string
		for p := range c.RunSeq(ctx, seeds.seq) {
			got = append(got, p.URL)
			cancel()
		}
		if !slices.Equal(got, []string{"http://a.test/1"}) {
			t.Errorf("pages %q; want the first seed's alone", got)
		}
		close(seeds.gate)
		synctest.Wait()
		if !seeds.stopped.Load() {
			t.Error("the seeds' iterator was not stopped after ctx ended")
		}
	})
}

// Seeds and the links found meanwhile are deduplicated against each other,
// whichever comes first; a seed keeps depth 0.
func TestCrawlRunSeqDedupesSeedsAndLinks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		site := linkSite(map[string][]string{
			"/":  {"/b"},
			"/c": {"/"},
		})
		c := newTestCrawler(t, newMem(t, site))
		seeds := newGatedSeeds([]string{"http://a.test/"}, []string{"http://a.test/b#x", "http://a.test/c"})
		got := map[string]string{}
		for p := range c.RunSeq(t.Context(), seeds.seq) {
			if p.Err != nil {
				t.Errorf("%s: %v", p.URL, p.Err)
			}
			if _, dup := got[p.URL]; dup {
				t.Errorf("%s yielded twice", p.URL)
			}
			got[p.URL] = fmt.Sprintf("depth %d from %q", p.Depth, p.Referrer)
			p.Follow(p.Links()...)
			if p.URL == "http://a.test/" {
				close(seeds.gate) // /b is taken in as a link first
			}
		}
		want := map[string]string{
			"http://a.test/":  `depth 0 from ""`,
			"http://a.test/b": `depth 1 from "http://a.test/"`,
			"http://a.test/c": `depth 0 from ""`,
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("pages:\n%v\nwant\n%v", got, want)
		}
	})
}

// Seeds are read ahead of the crawl by at most the read-ahead: while no
// page comes back, no more are read.
func TestCrawlRunSeqReadAheadBoundsSeeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release })
		c := newTestCrawler(t, newMem(t, h, WithReadAhead(3)))
		var yields atomic.Int64
		seeds := func(yield func(string) bool) {
			for i := range 100 {
				yields.Add(1)
				if !yield(fmt.Sprintf("http://h%d.test/", i)) {
					return
				}
			}
		}
		pages := make(chan int)
		go func() {
			n := 0
			for range c.RunSeq(t.Context(), seeds) {
				n++
			}
			pages <- n
		}()
		synctest.Wait() // every request waits in the handler
		if got := yields.Load(); got != 3 {
			t.Errorf("%d seeds read while no page came back; want 3 (WithReadAhead(3))", got)
		}
		close(release)
		if n := <-pages; n != 100 {
			t.Errorf("%d pages; want 100", n)
		}
	})
}

// CrawlMaxPages stops the reading of seeds: a seed past it is not read,
// and the crawl ends while the seeds' iterator waits, once links have
// reached it.
func TestCrawlRunSeqMaxPagesStopsSeeds(t *testing.T) {
	t.Run("seeds", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := newTestCrawler(t, newMem(t, linkSite(nil)), CrawlMaxPages(2))
			var yields atomic.Int64
			infinite := func(yield func(string) bool) {
				for i := 0; ; i++ {
					yields.Add(1)
					if !yield(fmt.Sprintf("http://a.test/%d", i)) {
						return
					}
				}
			}
			n := 0
			for range c.RunSeq(t.Context(), infinite) {
				n++
			}
			if n != 2 || yields.Load() != 2 {
				t.Errorf("%d pages, %d seeds read; want 2 and 2", n, yields.Load())
			}
		})
	})
	t.Run("links", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			site := linkSite(map[string][]string{"/": {"/a", "/b"}})
			c := newTestCrawler(t, newMem(t, site), CrawlMaxPages(2))
			seeds := newGatedSeeds([]string{"http://a.test/"}, []string{"http://a.test/c"})
			var got []string
			for p := range c.RunSeq(t.Context(), seeds.seq) {
				got = append(got, p.URL)
				p.Follow(p.Links()...)
			}
			slices.Sort(got)
			if !slices.Equal(got, []string{"http://a.test/", "http://a.test/a"}) {
				t.Errorf("pages %q; want / and /a", got)
			}
			close(seeds.gate)
			synctest.Wait()
			if !seeds.stopped.Load() || seeds.yields.Load() != 2 {
				t.Errorf("%d seeds yielded, stopped %v; want 2, the last refused", seeds.yields.Load(), seeds.stopped.Load())
			}
		})
	})
}

// voidFrontier takes in the URLs whose path starts with /gone without
// queuing them, as a shared frontier whose entries another process took
// does.
type voidFrontier struct{ Frontier }

func (v voidFrontier) Add(e CrawlEntry) (bool, error) {
	if strings.Contains(e.URL, "/gone") {
		return true, nil
	}
	return v.Frontier.Add(e)
}

// Seeds whose pages never come back (another process fetched them) do
// not stop the reading of seeds for good: when the crawl has nothing else
// to fetch, the next seed is read.
func TestCrawlRunSeqReadsOnWhenIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTestCrawler(t, newMem(t, linkSite(nil), WithReadAhead(1)), CrawlFrontier(voidFrontier{NewMemoryFrontier(0)}))
		seeds := slices.Values([]string{"http://a.test/gone1", "http://a.test/gone2", "http://a.test/real"})
		var got []string
		for p := range c.RunSeq(t.Context(), seeds) {
			got = append(got, p.URL)
		}
		if !slices.Equal(got, []string{"http://a.test/real"}) {
			t.Errorf("pages %q; want /real", got)
		}
	})
}

// A seed that is not a valid URL comes back as a page with its error, as
// with Run; a nil context yields one page with its error, reading nothing.
func TestCrawlRunSeqInvalidSeedAndNilContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTestCrawler(t, newMem(t, linkSite(nil)))
		var got []string
		for p := range c.RunSeq(t.Context(), slices.Values([]string{"::bad", "http://a.test/"})) {
			if p.Depth != 0 {
				t.Errorf("%s: depth %d", p.URL, p.Depth)
			}
			if (p.URL == "::bad") != errors.Is(p.Err, ErrInvalidURL) {
				t.Errorf("%s: %v", p.URL, p.Err)
			}
			got = append(got, p.URL)
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"::bad", "http://a.test/"}) {
			t.Errorf("pages %q", got)
		}
		read := false
		var nilCtx context.Context
		for p := range c.RunSeq(nilCtx, func(func(string) bool) { read = true }) {
			if p.Err == nil {
				t.Error("nil context: page without error")
			}
		}
		if read {
			t.Error("nil context: seeds read")
		}
	})
}

// A panic in the seeds' iterator ends the crawl and is raised on the
// caller's goroutine as a *PanicError, as Stream raises its input's; a nil
// iterator panics at once.
func TestCrawlRunSeqSeedPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newTestCrawler(t, newMem(t, linkSite(nil)))
		var seeds iter.Seq[string] = func(yield func(string) bool) {
			if yield("http://a.test/") {
				panic("seed source broke")
			}
		}
		defer func() {
			pe, ok := recover().(*PanicError)
			if !ok || pe.Value != "seed source broke" {
				t.Errorf("recovered %v; want the iterator's panic as a *PanicError", pe)
			}
		}()
		for range c.RunSeq(t.Context(), seeds) {
		}
		t.Error("no panic")
	})
	defer func() {
		if recover() == nil {
			t.Error("RunSeq(nil): no panic")
		}
	}()
	c, _ := NewCrawler(newMem(t, linkSite(nil)))
	c.RunSeq(t.Context(), nil)
}
