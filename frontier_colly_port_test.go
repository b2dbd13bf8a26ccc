package fetch_test

// Ports of gocolly/colly's queue and storage tests onto fetch's Frontier,
// directly (NewMemoryFrontier, a Frontier of the test's own) and end to end
// through Crawler.Run with CrawlFrontier. Peer files, at commit
// 20d31482af5f754832a753f88517f3dfa61d921f of github.com/gocolly/colly:
//
//   - queue/queue_test.go (last changed in d077fb676c87): TestQueue,
//     TestCollectorDepth, TestAsyncPanic; and queue/queue.go's
//     InMemoryQueueStorage (MaxSize, QueueSize) and Queue.Run's end.
//   - storage/storage.go: InMemoryStorage's Visited/IsVisited (cookies
//     aside).
//   - colly_test.go: the Visit/Wait/Async/MaxRequests/AllowURLRevisit cases
//     crawl_port_test.go has not ported: TestCollectorVisit (the callbacks'
//     order), TestCollectorURLRevisitCheck (HasVisited),
//     TestCollectorURLRevisitDomainDisallowed, TestCollectorDepth's second
//     run, TestCollectorRequests through a given frontier, and
//     TestSharedLimitRule_AInitThenBInit_ANotStuck (Async + Wait).
//
// Each test names the peer test or behaviour it ports. Where fetch differs
// on purpose the test asserts fetch's documented behaviour and says what
// colly does. Goroutines: the tests that run in a synctest bubble fail if a
// goroutine of the bubble is left behind, and the package's TestMain runs
// goleak over the rest.

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/memhttp"
)

// cqMem returns a Fetcher that serves every request in memory with h, so
// that it runs inside a synctest bubble and can use any host name.
func cqMem(t *testing.T, h http.Handler, opts ...fetch.Option) *fetch.Fetcher {
	t.Helper()
	f, err := fetch.New(append([]fetch.Option{fetch.WithClient(memhttp.Client(h))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

// cqEntry is an entry keyed as the crawl keys it by default.
func cqEntry(raw string) fetch.CrawlEntry {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return fetch.CrawlEntry{URL: raw, Key: fetch.NormalizeURL(u)}
}

// cqCounter counts the requests a handler saw, by path and query.
type cqCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *cqCounter) wrap(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		if c.n == nil {
			c.n = map[string]int{}
		}
		c.n[r.URL.RequestURI()]++
		c.mu.Unlock()
		h(w, r)
	})
}

func (c *cqCounter) get(uri string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[uri]
}

func (c *cqCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

// cqRecorder is a Frontier of the user's own: it wraps a memory frontier
// and checks the order of the crawl's calls as frontier.go documents it:
// Done once for each entry Next handed out, after its page's loop body has
// returned (so after the links it followed were added); Failed, for a loop
// body that panicked, before Close; Close once, last.
type cqRecorder struct {
	inner fetch.Frontier

	mu       sync.Mutex
	errs     []string
	adds     []fetch.CrawlEntry
	out      map[fetch.CrawlEntry]int // handed out by Next, not yet done
	nexts    map[string]int           // by URL
	dones    map[string]int           // by URL
	failed   []string
	bodyDone map[string]bool // set by the test when a loop body returns
	closes   int
}

func newCQRecorder(inner fetch.Frontier) *cqRecorder {
	return &cqRecorder{inner: inner, out: map[fetch.CrawlEntry]int{}, nexts: map[string]int{}, dones: map[string]int{}, bodyDone: map[string]bool{}}
}

func (r *cqRecorder) errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *cqRecorder) Add(e fetch.CrawlEntry) (bool, error) {
	r.mu.Lock()
	if r.closes > 0 {
		r.errorf("Add(%s) after Close", e.URL)
	}
	r.mu.Unlock()
	added, err := r.inner.Add(e)
	if added {
		r.mu.Lock()
		r.adds = append(r.adds, e)
		r.mu.Unlock()
	}
	return added, err
}

func (r *cqRecorder) Seen(key string) bool { return r.inner.Seen(key) }

func (r *cqRecorder) Next(ctx context.Context) (fetch.CrawlEntry, bool, error) {
	// A Next already under way when Close is called may still hand out
	// the entry it took (Close only ends a Next that waits): only a Next
	// called after Close must not.
	r.mu.Lock()
	closed := r.closes > 0
	r.mu.Unlock()
	e, ok, err := r.inner.Next(ctx)
	if ok {
		r.mu.Lock()
		if closed {
			r.errorf("Next called after Close handed out %s", e.URL)
		}
		r.out[e]++
		r.nexts[e.URL]++
		r.mu.Unlock()
	}
	return e, ok, err
}

func (r *cqRecorder) Done(e fetch.CrawlEntry) {
	r.mu.Lock()
	switch {
	case r.closes > 0:
		r.errorf("Done(%s) after Close", e.URL)
	case r.out[e] == 0:
		r.errorf("Done(%s) for an entry not handed out, or done twice", e.URL)
	case !r.bodyDone[e.URL]:
		r.errorf("Done(%s) before its loop body returned", e.URL)
	}
	r.out[e]--
	r.dones[e.URL]++
	r.mu.Unlock()
	r.inner.Done(e)
}

func (r *cqRecorder) Failed(e fetch.CrawlEntry) {
	r.mu.Lock()
	if r.closes > 0 {
		r.errorf("Failed(%s) after Close", e.URL)
	}
	r.failed = append(r.failed, e.URL)
	r.mu.Unlock()
}

func (r *cqRecorder) Close() {
	r.mu.Lock()
	r.closes++
	r.mu.Unlock()
	r.inner.Close()
}

func (r *cqRecorder) bodyReturned(u string) {
	r.mu.Lock()
	r.bodyDone[u] = true
	r.mu.Unlock()
}

// check reports the order errors seen, and that Close was called once.
func (r *cqRecorder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		t.Error(e)
	}
	if r.closes != 1 {
		t.Errorf("Close called %d times; want once, when Run ends", r.closes)
	}
}

// ---------------------------------------------------------------- queue

// colly: queue/queue_test.go TestQueue — 3000 URLs queued, with 3000
// malformed entries among them (colly adds the bytes "error request"), 10
// consumers, and each response adding a URL with probability ½: every URL queued is requested exactly once and
// succeeds, and the run ends. colly skips its malformed entries silently;
// fetch yields a Frontier's entry with Err as a page with that error,
// unfetched, and calls Done for it (frontier.go, CrawlEntry.Err).
func TestPortCQQueue(t *testing.T) {
	t.Run("crawl", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			const n = 3000
			hits := &cqCounter{}
			h := hits.wrap(func(w http.ResponseWriter, r *http.Request) {
				d, err := time.ParseDuration(r.URL.Query().Get("t"))
				if err != nil {
					http.Error(w, err.Error(), 400)
					return
				}
				time.Sleep(d) // the bubble's clock
			})
			rng := rand.New(rand.NewSource(12387123712321232))
			var seq int
			put := func() string { // a URL as colly's put makes, made unique by seq
				seq++
				return fmt.Sprintf("http://queue.test/delay?t=%s&i=%d", time.Duration(rng.Intn(50))*time.Microsecond, seq)
			}
			errMalformed := errors.New("malformed entry")
			rec := newCQRecorder(fetch.NewMemoryFrontier(0))
			items := map[string]int{}
			for range n {
				u := put()
				items[u]++
				if added, err := rec.Add(fetch.CrawlEntry{URL: u}); !added || err != nil {
					t.Fatalf("Add(%s): %v, %v", u, added, err)
				}
				if added, err := rec.Add(fetch.CrawlEntry{URL: "error-request", Err: errMalformed}); !added || err != nil {
					t.Fatalf("Add(malformed): %v, %v", added, err)
				}
			}
			// AllowURLRevisit: CrawlKey(nil), as colly's test turns
			// deduplication off.
			c := newCrawler(t, cqMem(t, h, fetch.WithConcurrency(10), noRetry), fetch.CrawlFrontier(rec), fetch.CrawlIgnoreRobots(), fetch.CrawlKey(nil))
			success, failure, malformed := 0, 0, 0
			for p := range c.Run(t.Context()) {
				switch {
				case errors.Is(p.Err, errMalformed):
					malformed++
				case p.Err != nil:
					failure++
					t.Errorf("%s: %v", p.URL, p.Err)
				default:
					success++
					if rng.Intn(2) == 0 {
						u := put()
						items[u]++
						if err := p.Follow(u); err != nil {
							t.Errorf("Follow: %v", err)
						}
					}
				}
				rec.bodyReturned(p.URL)
			}
			requests := hits.total()
			if requests != len(items) || success != requests || failure > 0 || malformed != n {
				t.Errorf("items %d, requests %d, success %d, failure %d, malformed %d; want items = requests = success, no failure, %d malformed",
					len(items), requests, success, failure, malformed, n)
			}
			for u := range items {
				uri := strings.TrimPrefix(u, "http://queue.test")
				if got := hits.get(uri); got != 1 {
					t.Errorf("%s requested %d times; want once", uri, got)
				}
			}
			rec.check(t)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if d := rec.dones["error-request"]; d != n {
				t.Errorf("Done called %d times for the malformed entries; want %d", d, n)
			}
			for e, k := range rec.out {
				if k != 0 {
					t.Errorf("%s: handed out and not done (%d)", e.URL, k)
				}
			}
		})
	})

	// The frontier itself, as colly's Queue uses its storage: 8 goroutines
	// fill it while 10 consumers take entries (Next), each adding one more
	// with probability ½ before it says Done. Every entry added is handed
	// out exactly once, and every consumer's Next returns ok false once
	// nothing is queued or being handled (a hold entry, taken out first,
	// keeps the frontier from ending while the producers run).
	cqConcurrent := func(t *testing.T, readers int) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			fr := fetch.NewMemoryFrontier(0)
			if _, err := fr.Add(fetch.CrawlEntry{URL: "hold"}); err != nil {
				t.Fatal(err)
			}
			hold, ok, err := fr.Next(ctx)
			if !ok || err != nil {
				t.Fatalf("Next: %v, %v", ok, err)
			}
			var mu sync.Mutex
			added := map[string]int{}
			handed := map[string]int{}
			add := func(u string) {
				ok, err := fr.Add(fetch.CrawlEntry{URL: u})
				if !ok || err != nil {
					t.Errorf("Add(%s): %v, %v", u, ok, err)
					return
				}
				mu.Lock()
				added[u]++
				mu.Unlock()
			}
			var producers sync.WaitGroup
			for p := range 8 {
				producers.Go(func() {
					for i := range 375 {
						add(fmt.Sprintf("p%d-%d", p, i))
					}
				})
			}
			// readers goroutines call Next; 10 handle what they take.
			work := make(chan fetch.CrawlEntry)
			var handlers sync.WaitGroup
			for w := range 10 {
				handlers.Go(func() {
					rng := rand.New(rand.NewSource(int64(w)))
					for e := range work {
						if rng.Intn(2) == 0 && !strings.Contains(e.URL, "/child") {
							add(e.URL + "/child")
						}
						fr.Done(e)
					}
				})
			}
			var ended atomic.Int64
			var readerWG sync.WaitGroup
			for range readers {
				readerWG.Go(func() {
					defer ended.Add(1)
					for {
						e, ok, err := fr.Next(ctx)
						if err != nil {
							t.Errorf("Next: %v", err)
						}
						if !ok {
							return
						}
						mu.Lock()
						handed[e.URL]++
						mu.Unlock()
						work <- e
					}
				})
			}
			producers.Wait()
			fr.Done(hold)
			synctest.Wait()
			if got := ended.Load(); got != int64(readers) {
				t.Errorf("%d of %d consumers' Next still waiting with nothing queued or being handled; want all returned", int64(readers)-got, readers)
				cancel() // release them
			}
			readerWG.Wait()
			close(work)
			handlers.Wait()
			mu.Lock()
			defer mu.Unlock()
			for u, k := range added {
				if handed[u] != k {
					t.Errorf("%s added %d times, handed out %d", u, k, handed[u])
				}
			}
			if len(handed) != len(added) {
				t.Errorf("%d URLs handed out, %d added", len(handed), len(added))
			}
		})
	}
	// The crawl's way: one goroutine calls Next and hands entries to the
	// workers.
	t.Run("frontier one reader", func(t *testing.T) { cqConcurrent(t, 1) })
	// colly's way: each of the 10 consumers calls Next itself. Frontier's
	// doc: implementations must be safe for concurrent use, and Next
	// returns ok false when nothing is queued or being handled.
	t.Run("frontier many readers", func(t *testing.T) {
		cqConcurrent(t, 10)
	})

	// The smallest form of the above: two Nexts waiting at once.
	t.Run("wakeups", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			act  func(fr fetch.Frontier, held fetch.CrawlEntry)
			want []string // what the two waiters get, sorted; "" for ok false
		}{
			{"two adds", func(fr fetch.Frontier, _ fetch.CrawlEntry) {
				fr.Add(cqEntry("http://a.test/b"))
				fr.Add(cqEntry("http://a.test/c"))
			}, []string{"http://a.test/b", "http://a.test/c"}},
			{"last done", func(fr fetch.Frontier, held fetch.CrawlEntry) {
				fr.Done(held)
			}, []string{"", ""}},
			{"close", func(fr fetch.Frontier, _ fetch.CrawlEntry) {
				fr.Close()
			}, []string{"", ""}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ctx, cancel := context.WithCancel(t.Context())
					defer cancel()
					fr := fetch.NewMemoryFrontier(0)
					fr.Add(cqEntry("http://a.test/a"))
					held, _, _ := fr.Next(ctx)
					got := make(chan string, 2)
					for range 2 {
						go func() {
							e, _, _ := fr.Next(ctx)
							got <- e.URL
						}()
					}
					synctest.Wait()
					if len(got) != 0 {
						t.Fatalf("a Next returned while %s was being handled and nothing queued", held.URL)
					}
					tc.act(fr, held)
					synctest.Wait()
					returned := len(got)
					if returned != 2 {
						t.Errorf("%d of 2 waiting Nexts returned; want both (%q)", returned, tc.want)
						cancel() // release the other
					}
					var urls []string
					for range 2 {
						urls = append(urls, <-got)
					}
					slices.Sort(urls)
					if returned == 2 && !slices.Equal(urls, tc.want) {
						t.Errorf("waiters got %q; want %q", urls, tc.want)
					}
				})
			})
		}
	})
}

// colly: queue/queue_test.go TestCollectorDepth — MaxDepth(4) with
// revisits allowed, each request visiting the seed again: no request past
// the limit, and the queue's run ends. colly's seeds are at depth 1, so its
// MaxDepth(4) is CrawlMaxDepth(3). The frontier keeps the depth and the
// referrer of each entry it is given.
func TestPortCQCollectorDepth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hits := &cqCounter{}
		h := hits.wrap(func(w http.ResponseWriter, r *http.Request) { html(w, "x") })
		rec := newCQRecorder(fetch.NewMemoryFrontier(0))
		const seed = "http://depth.test/"
		c := newCrawler(t, cqMem(t, h), fetch.CrawlFrontier(rec), fetch.CrawlIgnoreRobots(), fetch.CrawlKey(nil), fetch.CrawlMaxDepth(3))
		var depths []int
		for p := range c.Run(t.Context(), seed) {
			if p.Err != nil {
				t.Errorf("%s: %v", p.URL, p.Err)
			}
			if p.Depth > 3 {
				t.Errorf("page at depth %d; CrawlMaxDepth(3)", p.Depth)
			}
			if want := cmpOrStr(p.Depth > 0, seed); p.Referrer != want {
				t.Errorf("depth %d: Referrer %q; want %q", p.Depth, p.Referrer, want)
			}
			depths = append(depths, p.Depth)
			p.Follow(seed)
			rec.bodyReturned(p.URL)
		}
		if !slices.Equal(depths, []int{0, 1, 2, 3}) || hits.get("/") != 4 {
			t.Errorf("depths %v, %d requests; want 0 to 3, 4 requests", depths, hits.get("/"))
		}
		rec.check(t)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for i, e := range rec.adds {
			if e.Depth != i || e.Referrer != cmpOrStr(i > 0, seed) || e.URL != seed {
				t.Errorf("Add #%d: %+v; want depth %d, referrer the seed's", i, e, i)
			}
		}
	})

	// Directly: an entry comes out of the frontier as it went in.
	fr := fetch.NewMemoryFrontier(0)
	in := fetch.CrawlEntry{URL: "http://a.test/x", Key: "k", Depth: 7, Referrer: "http://a.test/"}
	if ok, err := fr.Add(in); !ok || err != nil {
		t.Fatalf("Add: %v, %v", ok, err)
	}
	out, ok, err := fr.Next(t.Context())
	if !ok || err != nil || out != in {
		t.Errorf("Next: %+v, %v, %v; want %+v", out, ok, err, in)
	}
	fr.Done(out)
	fr.Close()
}

func cmpOrStr(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}

// colly: queue/queue_test.go TestAsyncPanic — Queue.Run with an Async
// collector and nothing queued panics. fetch has no sync/async switch (Run
// is always concurrent and yields on the caller's goroutine): a crawl with
// an empty frontier and no seeds ends at once, with no page and no panic,
// and closes the frontier.
func TestPortCQAsyncPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newCQRecorder(fetch.NewMemoryFrontier(0))
		c := newCrawler(t, cqMem(t, http.NotFoundHandler()), fetch.CrawlFrontier(rec), fetch.CrawlMaxDepth(5), fetch.CrawlKey(nil))
		start := time.Now()
		n := 0
		for range c.Run(t.Context()) {
			n++
		}
		if n != 0 || time.Since(start) != 0 {
			t.Errorf("%d pages after %v; want none, at once", n, time.Since(start))
		}
		rec.check(t)
		if _, ok, _ := rec.inner.Next(t.Context()); ok {
			t.Error("the frontier hands out an entry after the crawl closed it")
		}
	})
}

// colly: queue/queue.go InMemoryQueueStorage.MaxSize — "New requests are
// discarded if the queue size reaches MaxSize", silently (AddRequest
// returns nil). fetch differs on purpose: an Add past NewMemoryFrontier's
// cap fails with ErrCrawlFull, and a crawl yields such a URL as a page with
// that error each time it is found. Its cap is on the entries taken in,
// seen or queued (so entries handed out and done still count), where
// colly's MaxSize is on the queue's current length.
func TestPortCQInMemoryQueueStorageMaxSize(t *testing.T) {
	t.Run("direct", func(t *testing.T) {
		fr := fetch.NewMemoryFrontier(3)
		defer fr.Close()
		for _, u := range []string{"http://a.test/1", "http://a.test/2", "http://a.test/3"} {
			if ok, err := fr.Add(cqEntry(u)); !ok || err != nil {
				t.Fatalf("Add(%s) under the cap: %v, %v", u, ok, err)
			}
		}
		ok, err := fr.Add(cqEntry("http://a.test/4"))
		if ok || !errors.Is(err, fetch.ErrCrawlFull) {
			t.Errorf("Add past the cap: %v, %v; want false, ErrCrawlFull", ok, err)
		}
		// A URL seen before is no news, full or not.
		if ok, err := fr.Add(cqEntry("http://a.test/1")); ok || err != nil {
			t.Errorf("Add of a URL seen, when full: %v, %v; want false, nil", ok, err)
		}
		// Handing entries out and marking them done frees no room (colly's
		// MaxSize would): the seen set still holds them.
		for range 3 {
			e, ok, _ := fr.Next(t.Context())
			if !ok {
				t.Fatal("Next: nothing")
			}
			fr.Done(e)
		}
		if ok, err := fr.Add(cqEntry("http://a.test/5")); ok || !errors.Is(err, fetch.ErrCrawlFull) {
			t.Errorf("Add past the cap after the queue emptied: %v, %v; want false, ErrCrawlFull", ok, err)
		}
		if _, ok, _ := fr.Next(t.Context()); ok {
			t.Error("Next handed out an entry an Add refused")
		}
	})

	// Many goroutines against the cap: exactly the cap is taken in, and
	// every other Add fails loudly.
	t.Run("concurrent", func(t *testing.T) {
		fr := fetch.NewMemoryFrontier(100)
		defer fr.Close()
		var taken, full, other atomic.Int64
		var wg sync.WaitGroup
		for g := range 20 {
			wg.Go(func() {
				for i := range 50 {
					ok, err := fr.Add(cqEntry(fmt.Sprintf("http://a.test/%d/%d", g, i)))
					switch {
					case ok && err == nil:
						taken.Add(1)
					case !ok && errors.Is(err, fetch.ErrCrawlFull):
						full.Add(1)
					default:
						other.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if taken.Load() != 100 || full.Load() != 900 || other.Load() != 0 {
			t.Errorf("taken %d, full %d, other %d; want 100, 900, 0", taken.Load(), full.Load(), other.Load())
		}
	})

	// End to end: a page linking to 10 pages, through a frontier capped at
	// 3: the seed and 2 links are fetched, the 8 others come back with
	// ErrCrawlFull, saying where they were found; none is dropped.
	t.Run("crawl", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var links []string
			for i := range 10 {
				links = append(links, fmt.Sprintf(`<a href="/p%d">%d</a>`, i, i))
			}
			hits := &cqCounter{}
			h := hits.wrap(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/" {
					html(w, strings.Join(links, " "))
					return
				}
				html(w, "leaf")
			})
			c := newCrawler(t, cqMem(t, h), fetch.CrawlFrontier(fetch.NewMemoryFrontier(3)), fetch.CrawlIgnoreRobots())
			ok, full := map[string]bool{}, map[string]bool{}
			for p := range c.Run(t.Context(), "http://full.test/") {
				switch {
				case p.Err == nil:
					ok[p.URL] = true
					p.Follow(p.Links()...)
				case errors.Is(p.Err, fetch.ErrCrawlFull):
					full[p.URL] = true
					if p.Depth != 1 || p.Referrer != "http://full.test/" {
						t.Errorf("%s: depth %d, referrer %q; want 1, the seed", p.URL, p.Depth, p.Referrer)
					}
				default:
					t.Errorf("%s: %v", p.URL, p.Err)
				}
			}
			if len(ok) != 3 || len(full) != 8 || hits.total() != 3 {
				t.Errorf("%d fetched, %d full, %d requests; want 3, 8, 3", len(ok), len(full), hits.total())
			}
			for i := range 10 {
				u := fmt.Sprintf("http://full.test/p%d", i)
				if ok[u] == full[u] {
					t.Errorf("%s: fetched %v, full %v; want exactly one", u, ok[u], full[u])
				}
			}
		})
	})
}

// ---------------------------------------------------------------- storage

// colly: storage/storage.go InMemoryStorage — IsVisited is false until
// Visited is called, true after, under concurrent use. fetch's Frontier
// has Seen, which marks and reports in one step (a check-and-set, so two
// goroutines cannot both find a URL new), and Add, which does the same
// when it queues; a key of "" is never deduplicated.
func TestPortCQInMemoryStorageVisited(t *testing.T) {
	fr := fetch.NewMemoryFrontier(0)
	defer fr.Close()
	if !fr.Seen("k1") {
		t.Error("Seen(k1) the first time: false; want true (new)")
	}
	if fr.Seen("k1") {
		t.Error("Seen(k1) again: true; want false (visited)")
	}
	// Seen and Add share one set.
	if ok, err := fr.Add(fetch.CrawlEntry{URL: "http://a.test/1", Key: "k1"}); ok || err != nil {
		t.Errorf("Add of a key Seen before: %v, %v; want false, nil", ok, err)
	}
	if ok, err := fr.Add(fetch.CrawlEntry{URL: "http://a.test/2", Key: "k2"}); !ok || err != nil {
		t.Errorf("Add(k2): %v, %v; want true, nil", ok, err)
	}
	if fr.Seen("k2") {
		t.Error("Seen of a key added before: true; want false")
	}
	// "" is never deduplicated (CrawlKey(nil), colly's AllowURLRevisit).
	for i := range 3 {
		if !fr.Seen("") {
			t.Errorf("Seen(\"\") #%d: false; want true", i)
		}
		if ok, err := fr.Add(fetch.CrawlEntry{URL: "http://a.test/r"}); !ok || err != nil {
			t.Errorf("Add of a keyless entry #%d: %v, %v; want true, nil", i, ok, err)
		}
	}

	// Concurrent: of 50 goroutines marking one key, exactly one finds it
	// new; of 50 adding one key, exactly one queues it.
	var seenNew, addNew atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if fr.Seen("race") {
				seenNew.Add(1)
			}
			if ok, _ := fr.Add(fetch.CrawlEntry{URL: "http://a.test/race2", Key: "race2"}); ok {
				addNew.Add(1)
			}
		})
	}
	wg.Wait()
	if seenNew.Load() != 1 || addNew.Load() != 1 {
		t.Errorf("Seen new %d times, Add queued %d times; want 1, 1", seenNew.Load(), addNew.Load())
	}

	// NewMemoryFrontier's doc: the cap counts what Add takes in; the URLs
	// redirects lead to (Seen) are recorded beyond it, since Seen cannot
	// fail and refusing would read as ErrAlreadySeen. Past the cap, Add
	// still fails loudly.
	t.Run("cap", func(t *testing.T) {
		fr := fetch.NewMemoryFrontier(2)
		defer fr.Close()
		fr.Add(cqEntry("http://a.test/1"))
		fr.Add(cqEntry("http://a.test/2"))
		first := fr.Seen("http://a.test/3")
		second := fr.Seen("http://a.test/3")
		if !first || second {
			t.Errorf("Seen past the cap: new %v, then %v; want true, then false (recorded beyond the cap)", first, second)
		}
		if _, err := fr.Add(cqEntry("http://a.test/4")); !errors.Is(err, fetch.ErrCrawlFull) {
			t.Errorf("Add past the cap: %v; want ErrCrawlFull", err)
		}
	})
}

// colly: colly_test.go TestCollectorURLRevisitCheck (HasVisited) — a URL
// is not visited before the crawl and is after it. fetch's Frontier has no
// query that does not mark: a frontier given with CrawlFrontier answers
// Seen false for the URLs the crawl took in, and true for one it did not.
// And TestCollectorURLRevisit through a given frontier: revisits are off by
// default, whether the URL is a seed given twice or a link found again.
func TestPortCQCollectorURLRevisitCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hits := &cqCounter{}
		h := hits.wrap(func(w http.ResponseWriter, r *http.Request) {
			html(w, `<a href="/">self</a> <a href="/a">a</a> <a href="/A/../a#x">a again</a>`)
		})
		fr := fetch.NewMemoryFrontier(0)
		c := newCrawler(t, cqMem(t, h), fetch.CrawlFrontier(fr), fetch.CrawlIgnoreRobots())
		n := 0
		for p := range c.Run(t.Context(), "http://visit.test/", "http://VISIT.test:80/") {
			n++
			if p.Err != nil {
				t.Errorf("%s: %v", p.URL, p.Err)
			}
			p.Follow(p.Links()...)
		}
		if n != 2 || hits.get("/") != 1 || hits.get("/a") != 1 {
			t.Errorf("%d pages, / requested %d times, /a %d; want 2, 1, 1", n, hits.get("/"), hits.get("/a"))
		}
		for u, want := range map[string]bool{"http://visit.test/": false, "http://visit.test/a": false, "http://visit.test/b": true} {
			if got := fr.Seen(cqEntry(u).Key); got != want {
				t.Errorf("after the crawl, Seen(%s) = %v; want %v", u, got, want)
			}
		}
	})
}

// colly: colly_test.go TestCollectorURLRevisitDomainDisallowed — a URL of
// a disallowed domain fails with ErrForbiddenDomain each time it is
// visited, not "already visited" the second time. fetch: a seed outside
// CrawlScope comes back with ErrOutOfScope each time, and takes no place
// in the frontier.
func TestPortCQCollectorURLRevisitDomainDisallowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hits := &cqCounter{}
		rec := newCQRecorder(fetch.NewMemoryFrontier(0))
		c := newCrawler(t, cqMem(t, hits.wrap(func(http.ResponseWriter, *http.Request) {})),
			fetch.CrawlFrontier(rec), fetch.CrawlHosts("allowed.test"), fetch.CrawlIgnoreRobots())
		var errs []error
		for p := range c.Run(t.Context(), "http://denied.test/", "http://denied.test/") {
			errs = append(errs, p.Err)
			rec.bodyReturned(p.URL)
		}
		if len(errs) != 2 || !errors.Is(errs[0], fetch.ErrOutOfScope) || !errors.Is(errs[1], fetch.ErrOutOfScope) {
			t.Errorf("errors %v; want ErrOutOfScope twice", errs)
		}
		if hits.total() != 0 || len(rec.adds) != 0 {
			t.Errorf("%d requests, %d entries added; want none", hits.total(), len(rec.adds))
		}
		rec.check(t)
	})
}

// colly: colly_test.go TestCollectorDepth, second half — the same collector
// visiting again starts its count afresh. fetch: each Run of a Crawler
// without CrawlFrontier has a frontier of its own, so a second Run fetches
// the seed again; a Crawler given a frontier serves one Run (crawl_test.go
// TestCrawlFrontierServesOneRun covers that).
func TestPortCQCollectorDepthAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hits := &cqCounter{}
		h := hits.wrap(func(w http.ResponseWriter, r *http.Request) { html(w, `<a href="/">self</a>`) })
		c := newCrawler(t, cqMem(t, h), fetch.CrawlIgnoreRobots(), fetch.CrawlKey(nil), fetch.CrawlMaxDepth(1))
		for run := range 2 {
			before := hits.get("/")
			n := len(portCrawl(t.Context(), c, true, "http://again.test/"))
			if got := hits.get("/") - before; n != 2 || got != 2 {
				t.Errorf("run %d: %d pages, %d requests; want 2, 2", run, n, got)
			}
		}
	})
}

// colly: colly_test.go TestCollectorRequests — MaxRequests(5) with
// revisits allowed: exactly 5 requests; here through a frontier given with
// CrawlFrontier, whose entries CrawlMaxPages counts as the default one's.
func TestPortCQCollectorRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hits := &cqCounter{}
		h := hits.wrap(func(w http.ResponseWriter, r *http.Request) { html(w, `<a href="/">self</a>`) })
		rec := newCQRecorder(fetch.NewMemoryFrontier(0))
		c := newCrawler(t, cqMem(t, h), fetch.CrawlFrontier(rec), fetch.CrawlIgnoreRobots(), fetch.CrawlKey(nil), fetch.CrawlMaxPages(5))
		n := 0
		for p := range c.Run(t.Context(), "http://req.test/") {
			n++
			p.Follow(p.Links()...)
			rec.bodyReturned(p.URL)
		}
		if n != 5 || hits.total() != 5 {
			t.Errorf("%d pages, %d requests; want 5, 5", n, hits.total())
		}
		rec.check(t)
	})
}

// colly: colly_test.go TestCollectorVisit — OnRequest, OnResponse and
// OnScraped are called in that order for a visit. fetch: for each entry,
// Next hands it out, its page is yielded, and Done is called once the loop
// body has returned, after the links it followed were added; Close is
// called once, last. A user's own Frontier sees exactly that.
func TestPortCQCollectorVisit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/":
				html(w, `<a href="/a">a</a> <a href="/b">b</a>`)
			case "/a":
				html(w, `<a href="/c">c</a> <a href="/">home</a>`)
			default:
				html(w, "leaf")
			}
		})
		rec := newCQRecorder(fetch.NewMemoryFrontier(0))
		c := newCrawler(t, cqMem(t, h, fetch.WithConcurrency(2)), fetch.CrawlFrontier(rec), fetch.CrawlIgnoreRobots())
		var got []string
		for p := range c.Run(t.Context(), "http://visit.test/") {
			got = append(got, p.URL)
			rec.mu.Lock()
			if rec.nexts[p.URL] != 1 || rec.dones[p.URL] != 0 {
				t.Errorf("%s yielded with Next %d, Done %d; want 1, 0", p.URL, rec.nexts[p.URL], rec.dones[p.URL])
			}
			rec.mu.Unlock()
			time.Sleep(time.Second) // a loop body that takes its time
			p.Follow(p.Links()...)
			rec.bodyReturned(p.URL)
		}
		slices.Sort(got)
		want := []string{"http://visit.test/", "http://visit.test/a", "http://visit.test/b", "http://visit.test/c"}
		if !slices.Equal(got, want) {
			t.Errorf("pages %q; want %q", got, want)
		}
		rec.check(t)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, u := range want {
			if rec.nexts[u] != 1 || rec.dones[u] != 1 {
				t.Errorf("%s: Next %d, Done %d; want 1, 1", u, rec.nexts[u], rec.dones[u])
			}
		}
	})

	// Breaking out of the loop: Done for the page broken on (its loop body
	// returned), Close, and Run returns with no goroutine of the crawl
	// left; the entries still queued stay in the frontier.
	t.Run("break", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				html(w, `<a href="/1">1</a> <a href="/2">2</a> <a href="/3">3</a>`)
			})
			rec := newCQRecorder(fetch.NewMemoryFrontier(0))
			c := newCrawler(t, cqMem(t, h, fetch.WithConcurrency(1)), fetch.CrawlFrontier(rec), fetch.CrawlIgnoreRobots())
			for p := range c.Run(t.Context(), "http://brk.test/") {
				p.Follow(p.Links()...)
				rec.bodyReturned(p.URL)
				break
			}
			rec.check(t)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.dones["http://brk.test/"] != 1 || len(rec.failed) != 0 {
				t.Errorf("Done for the seed %d, Failed %q; want 1, none", rec.dones["http://brk.test/"], rec.failed)
			}
			if len(rec.adds) != 4 {
				t.Errorf("%d entries added; want the seed and its 3 links", len(rec.adds))
			}
		})
	})

	// A loop body that panics: Failed for its entry, before Close, and no
	// Done for it; the panic reaches the caller.
	t.Run("panic", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { html(w, "x") })
			rec := newCQRecorder(fetch.NewMemoryFrontier(0))
			c := newCrawler(t, cqMem(t, h), fetch.CrawlFrontier(rec), fetch.CrawlIgnoreRobots())
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				for range c.Run(t.Context(), "http://panic.test/") {
					panic("boom")
				}
			}()
			if recovered != "boom" {
				t.Errorf("recovered %v; want the loop body's panic", recovered)
			}
			rec.check(t)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if !slices.Equal(rec.failed, []string{"http://panic.test/"}) || rec.dones["http://panic.test/"] != 0 {
				t.Errorf("Failed %q, Done %d; want Failed for the seed, no Done", rec.failed, rec.dones["http://panic.test/"])
			}
		})
	})
}

// colly: colly_test.go TestSharedLimitRule_AInitThenBInit_ANotStuck — two
// Async collectors sharing one LimitRule (Parallelism 2): A's requests hold
// both slots, B starts, A's handlers are released, and A.Wait() returns.
// fetch: two crawls on one Fetcher with WithHostConcurrency(2); A's 4 URLs
// fill the host's slots, B's Run starts on the same host; once released,
// both Runs end with every page fetched.
func TestPortCQSharedLimitRule_AInitThenBInit_ANotStuck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var inHandler atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/a/") {
				inHandler.Add(1)
				<-release
			}
		})
		f := cqMem(t, h, fetch.WithHostConcurrency(2))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		run := func(c *fetch.Crawler, seeds []string, out *[]*fetch.Page, done chan struct{}) {
			defer close(done)
			for p := range c.Run(ctx, seeds...) {
				*out = append(*out, p)
			}
		}
		var aPages, bPages []*fetch.Page
		aDone, bDone := make(chan struct{}), make(chan struct{})
		var aSeeds []string
		for i := range 4 {
			aSeeds = append(aSeeds, fmt.Sprintf("http://shared.test/a/%d", i))
		}
		go run(newCrawler(t, f, fetch.CrawlIgnoreRobots(), fetch.CrawlKey(nil)), aSeeds, &aPages, aDone)
		synctest.Wait()
		if n := inHandler.Load(); n != 2 {
			t.Fatalf("%d of A's requests in the handler; want 2 (the host's cap)", n)
		}
		go run(newCrawler(t, f, fetch.CrawlIgnoreRobots(), fetch.CrawlKey(nil)), []string{"http://shared.test/b/0"}, &bPages, bDone)
		synctest.Wait()
		close(release)
		synctest.Wait()
		for name, done := range map[string]chan struct{}{"A": aDone, "B": bDone} {
			select {
			case <-done:
			default:
				t.Errorf("crawl %s did not end once its requests were released", name)
				cancel()
				<-done
			}
		}
		for _, p := range append(aPages, bPages...) {
			if p.Err != nil {
				t.Errorf("%s: %v", p.URL, p.Err)
			}
		}
		if len(aPages) != 4 || len(bPages) != 1 {
			t.Errorf("A %d pages, B %d; want 4, 1", len(aPages), len(bPages))
		}
	})
}
