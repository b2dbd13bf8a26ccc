package fetch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/memhttp"
	"github.com/c989c033/fetch/internal/testsite"
)

func startSite(t *testing.T, cfg testsite.Config) *testsite.Site {
	t.Helper()
	site, err := testsite.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Close)
	return site
}

func newCrawler(t *testing.T, f *fetch.Fetcher, opts ...fetch.CrawlOption) *fetch.Crawler {
	t.Helper()
	c, err := fetch.NewCrawler(f, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newFetcher(t *testing.T, opts ...fetch.Option) *fetch.Fetcher {
	t.Helper()
	f, err := fetch.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

// crawlAll crawls from seed, following every link, and returns the pages
// by final URL (canonical form), failing the test on a duplicate.
func crawlAll(t *testing.T, c *fetch.Crawler, seed string) (ok map[string]*fetch.Page, failed []*fetch.Page) {
	t.Helper()
	ok = map[string]*fetch.Page{}
	for p := range c.Run(t.Context(), seed) {
		if p.Err != nil {
			failed = append(failed, p)
			continue
		}
		u, _ := url.Parse(p.FinalURL)
		key := fetch.NormalizeURL(u)
		if _, dup := ok[key]; dup {
			t.Errorf("%s yielded twice", key)
		}
		ok[key] = p
		if err := p.Follow(p.Links()...); err != nil {
			t.Errorf("Follow: %v", err)
		}
	}
	return ok, failed
}

// TestCrawlSite crawls a generated site of 1,200 pages over 3 hosts, with
// links between hosts, cycles, fragments, relative links and redirects:
// every page is fetched exactly once, the per-host cap and rate hold on the
// server, the end is detected and depths are consistent.
func TestCrawlSite(t *testing.T) {
	site := startSite(t, testsite.Config{Hosts: 3, Pages: 400})
	const perHost, rate, burst = 2, 400, 4
	f := newFetcher(t, fetch.WithConcurrency(16), fetch.WithHostConcurrency(perHost),
		fetch.WithHostRate(fetch.PerSecond(rate), burst))
	pages, failed := crawlAll(t, newCrawler(t, f), site.Seed())
	for _, p := range failed {
		t.Errorf("%s: %v", p.URL, p.Err)
	}
	want := site.Expected()
	if len(pages) != len(want) {
		t.Errorf("crawled %d pages; want %d", len(pages), len(want))
	}
	for u, depth := range want {
		p := pages[u]
		if p == nil {
			t.Errorf("%s (depth %d) not crawled", u, depth)
			continue
		}
		if p.Depth < depth {
			t.Errorf("%s at depth %d; its shortest path is %d", u, p.Depth, depth)
		}
		if got := string(p.Body); !strings.Contains(got, "<title>"+site.Title(u)+"</title>") {
			t.Errorf("%s: body does not have its title %q", u, site.Title(u))
		}
	}
	// Depths: a seed is 0, every other page one more than its referrer.
	byURL := map[string]*fetch.Page{}
	for _, p := range pages {
		byURL[p.URL] = p
		byURL[p.FinalURL] = p // a link's Referrer is the page's URL after redirects
	}
	for _, p := range pages {
		if p.Referrer == "" {
			if p.Depth != 0 {
				t.Errorf("seed %s at depth %d", p.URL, p.Depth)
			}
			continue
		}
		if ref := byURL[p.Referrer]; ref == nil || p.Depth != ref.Depth+1 {
			t.Errorf("%s at depth %d, found on %s", p.URL, p.Depth, p.Referrer)
		}
	}
	for _, h := range site.Stats() {
		for path, n := range h.Fetches {
			if n != 1 {
				t.Errorf("%s%s fetched %d times; want once", h.Host, path, n)
			}
		}
		if h.MaxInFlight > perHost {
			t.Errorf("%s saw %d in flight; want at most %d", h.Host, h.MaxInFlight, perHost)
		}
		// A redirect takes its token at the host it leads to, then waits
		// for a slot there (gates.wait, then acquire): it may reach the
		// server a moment after a token taken before a window began, so
		// the server's windows allow one more a slot.
		if h.MaxPerSecond > rate+burst+perHost {
			t.Errorf("%s saw %d in a second; want at most %d", h.Host, h.MaxPerSecond, rate+burst+perHost)
		}
		if h.RobotsFetches != 1 {
			t.Errorf("%s: robots.txt fetched %d times; want once", h.Host, h.RobotsFetches)
		}
	}
}

// TestCrawlScope: CrawlHosts keeps the crawl on one host of three. No
// request reaches the others (robots.txt included); a link out is not
// followed, a redirect out comes back as a page with ErrOutOfScope, and so
// does a seed out; every page the site has on the host, reachable without
// leaving it, is crawled.
func TestCrawlScope(t *testing.T) {
	site := startSite(t, testsite.Config{Hosts: 3, Pages: 200})
	home := site.Hosts()[0]
	u, _ := url.Parse(home)
	c := newCrawler(t, newFetcher(t, fetch.WithConcurrency(8)), fetch.CrawlHosts(strings.ToUpper(u.Hostname())))
	pages, failed := crawlAll(t, c, site.Seed())
	want := site.Reachable(func(u string) bool { return !strings.HasPrefix(u, home+"/") })
	if len(pages) != len(want) {
		t.Errorf("crawled %d pages; want the %d on %s", len(pages), len(want), home)
	}
	for u := range want {
		if pages[u] == nil {
			t.Errorf("%s not crawled", u)
		}
	}
	if len(failed) == 0 {
		t.Error("no page came back with ErrOutOfScope; the site redirects to other hosts")
	}
	for _, p := range failed {
		if !errors.Is(p.Err, fetch.ErrOutOfScope) || !strings.HasPrefix(p.URL, home+"/") {
			t.Errorf("%s: %v; want a redirect out of %s, refused with ErrOutOfScope", p.URL, p.Err, home)
		}
	}
	var seeds []error
	for p := range c.Run(t.Context(), site.Hosts()[1]+"/") {
		seeds = append(seeds, p.Err)
	}
	if len(seeds) != 1 || !errors.Is(seeds[0], fetch.ErrOutOfScope) {
		t.Errorf("a seed out of scope gave %v; want one page with ErrOutOfScope", seeds)
	}
	for _, h := range site.Stats()[1:] {
		if len(h.Fetches) > 0 || h.RobotsFetches > 0 {
			t.Errorf("%s, out of scope, was sent %d paths and robots.txt %d times; want nothing", h.Host, len(h.Fetches), h.RobotsFetches)
		}
	}

	for _, bad := range []string{"", "http://example.com", "example.com:80", "example.com/a"} {
		if _, err := fetch.NewCrawler(newFetcher(t), fetch.CrawlHosts(bad)); err == nil {
			t.Errorf("CrawlHosts(%q): no error", bad)
		}
	}
	if _, err := fetch.NewCrawler(newFetcher(t), fetch.CrawlScope(nil)); err == nil {
		t.Error("CrawlScope(nil): no error")
	}
}

// TestCrawlMaxURLs: past the cap, a found URL comes back as an error page.
func TestCrawlMaxURLs(t *testing.T) {
	site := startSite(t, testsite.Config{Hosts: 2, Pages: 100})
	f := newFetcher(t, fetch.WithConcurrency(8))
	pages, failed := crawlAll(t, newCrawler(t, f, fetch.CrawlMaxURLs(50)), site.Seed())
	if len(failed) == 0 {
		t.Fatal("no page failed with ErrCrawlFull")
	}
	for _, p := range failed {
		if !errors.Is(p.Err, fetch.ErrCrawlFull) {
			t.Errorf("%s: %v; want ErrCrawlFull", p.URL, p.Err)
		}
		if p.Referrer == "" || p.Depth == 0 {
			t.Errorf("%s: a rejected link says where it was found: referrer %q, depth %d", p.URL, p.Referrer, p.Depth)
		}
	}
	if len(pages) > 50 {
		t.Errorf("fetched %d pages; want at most 50", len(pages))
	}
}

// TestCrawlLimits: CrawlMaxDepth and CrawlMaxPages end the crawl.
func TestCrawlLimits(t *testing.T) {
	site := startSite(t, testsite.Config{Hosts: 2, Pages: 100})
	f := newFetcher(t, fetch.WithConcurrency(8))
	pages, failed := crawlAll(t, newCrawler(t, f, fetch.CrawlMaxDepth(1)), site.Seed())
	if len(failed) > 0 {
		t.Errorf("%d failed: %v", len(failed), failed[0].Err)
	}
	wantDepth := 0
	for u, d := range site.Expected() {
		if d <= 1 && pages[u] == nil && !strings.Contains(u, "/r/") {
			wantDepth++ // a page at depth ≤ 1 that was not crawled
		}
	}
	for _, p := range pages {
		if p.Depth > 1 {
			t.Errorf("%s at depth %d past CrawlMaxDepth(1)", p.URL, p.Depth)
		}
	}
	if wantDepth > 0 {
		t.Errorf("%d pages within depth 1 not crawled", wantDepth)
	}
	pages, _ = crawlAll(t, newCrawler(t, f, fetch.CrawlMaxPages(30)), site.Seed())
	if len(pages) != 30 {
		t.Errorf("CrawlMaxPages(30) crawled %d pages", len(pages))
	}
}

// TestCrawlRobots checks RFC 9309's cases on one host each.
func TestCrawlRobots(t *testing.T) {
	for _, tc := range []struct {
		name     string
		robots   testsite.Robots
		allowed  func(path string) bool
		reason   string // in the error of disallowed pages
		fetched1 bool   // the robots host's seed page is fetched
	}{
		{"404 allows all", testsite.Robots{Status: 404}, func(string) bool { return true }, "", true},
		{"rules", testsite.Robots{Body: "User-agent: *\nDisallow: /p/1\n\nUser-agent: other\nDisallow: /\n"},
			func(p string) bool { return !strings.HasPrefix(p, "/p/1") }, "", true},
		{"500 disallows all", testsite.Robots{Status: 500}, func(string) bool { return false }, "500", false},
		{"unreachable disallows all", testsite.Robots{Unreachable: true}, func(string) bool { return false }, "unreachable", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := startSite(t, testsite.Config{Hosts: 2, Pages: 60, Robots: map[int]testsite.Robots{1: tc.robots}})
			f := newFetcher(t, fetch.WithConcurrency(8), fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 1}))
			host1 := strings.TrimPrefix(site.Hosts()[1], "http://")
			_, failed := crawlAll(t, newCrawler(t, f), site.Seed())
			for _, p := range failed {
				// Disallowed: a URL on host 1, or a redirect into it.
				u, _ := url.Parse(p.URL)
				onHost1 := u.Host == host1 || strings.Contains(p.Err.Error(), "redirect to http://"+host1+"/")
				if !onHost1 || !errors.Is(p.Err, fetch.ErrDisallowed) || !strings.Contains(p.Err.Error(), tc.reason) {
					t.Errorf("%s: %v", p.URL, p.Err)
				}
			}
			for _, h := range site.Stats() {
				if h.Host != host1 {
					continue
				}
				if h.RobotsFetches != 1 {
					t.Errorf("robots.txt fetched %d times; want once", h.RobotsFetches)
				}
				for path := range h.Fetches {
					if path != "/robots.txt" && !tc.allowed(path) {
						t.Errorf("%s fetched, though disallowed", path)
					}
				}
			}
			if !tc.allowed("/") && len(failed) == 0 {
				t.Error("no page disallowed")
			}
		})
	}
}

// TestCrawlDelay: a host's Crawl-delay spaces its requests in the crawl,
// while other hosts go at their own pace.
func TestCrawlDelay(t *testing.T) {
	site := startSite(t, testsite.Config{Hosts: 2, Pages: 10, Robots: map[int]testsite.Robots{
		1: {Body: "User-agent: *\nCrawl-delay: 2\n"},
	}})
	synctest.Test(t, func(t *testing.T) {
		f, err := fetch.New(fetch.WithClient(memhttp.Client(site.Handler())), fetch.WithConcurrency(8))
		if err != nil {
			t.Fatal(err)
		}
		host1 := strings.TrimPrefix(site.Hosts()[1], "http://")
		var times []time.Time
		pages, failed := 0, 0
		for p := range newCrawler(t, f).Run(t.Context(), site.Seed()) {
			if p.Err != nil {
				failed++
				continue
			}
			pages++
			if u, _ := url.Parse(p.FinalURL); u.Host == host1 {
				times = append(times, time.Now())
			}
			p.Follow(p.Links()...)
		}
		if failed > 0 || pages != 20 {
			t.Errorf("%d pages, %d failed; want 20, 0", pages, failed)
		}
		for i := 1; i < len(times); i++ {
			if d := times[i].Sub(times[i-1]); d < 2*time.Second {
				t.Errorf("host 1's requests %d and %d %v apart; want at least its Crawl-delay, 2s", i-1, i, d)
			}
		}
		if len(times) != 10 {
			t.Errorf("host 1 served %d pages; want 10", len(times))
		}
	})
}

// TestCrawlBreak: breaking out of a crawl returns, leaving nothing running.
func TestCrawlBreak(t *testing.T) {
	site := startSite(t, testsite.Config{Hosts: 2, Pages: 100, Latency: 10 * time.Millisecond})
	f := newFetcher(t, fetch.WithConcurrency(8))
	n := 0
	for p := range newCrawler(t, f).Run(t.Context(), site.Seed()) {
		p.Follow(p.Links()...)
		if n++; n == 5 {
			break
		}
	}
	if st := f.Stats(); st.InFlight != 0 {
		t.Errorf("%d requests in flight after break", st.InFlight)
	}
	if err := (&fetch.Page{}).Follow("http://x/"); !errors.Is(err, fetch.ErrCrawlDone) {
		t.Errorf("Follow on a page of no crawl: %v; want ErrCrawlDone", err)
	}
}

// TestCrawlBadSeeds: seeds that are not http(s) URLs come back as pages
// with ErrInvalidURL.
func TestCrawlBadSeeds(t *testing.T) {
	f := newFetcher(t)
	var errs []error
	for p := range newCrawler(t, f).Run(t.Context(), "ftp://x/", "::", "/relative") {
		errs = append(errs, p.Err)
	}
	if len(errs) != 3 {
		t.Fatalf("got %d pages; want 3", len(errs))
	}
	for _, err := range errs {
		if !errors.Is(err, fetch.ErrInvalidURL) {
			t.Errorf("got %v; want ErrInvalidURL", err)
		}
	}
}

func TestNormalizeURL(t *testing.T) {
	for in, want := range map[string]string{
		"HTTP://Example.COM:80/a#frag": "http://example.com/a",
		"https://x.test:443":           "https://x.test/",
		"http://x.test:8080/a?b=1#c":   "http://x.test:8080/a?b=1",
		"http://user:pw@x.test/":       "http://x.test/",
		"https://x.test:80/":           "https://x.test:80/",
		// RFC 3986 §6.2.2: escapes of unreserved characters decoded, the
		// others' hex upper-cased, dot segments removed.
		"http://x.test/%7Euser":            "http://x.test/~user",
		"http://x.test/%7euser":            "http://x.test/~user",
		"http://x.test/%41%2d%5F":          "http://x.test/A-_",
		"http://x.test/a%2fb":              "http://x.test/a%2Fb",
		"http://x.test/a%2Fb":              "http://x.test/a%2Fb",
		"http://x.test/a b":                "http://x.test/a%20b",
		"http://x.test/a%20b":              "http://x.test/a%20b",
		"http://x.test/caf%c3%a9":          "http://x.test/caf%C3%A9",
		"http://x.test/a/./b/../c":         "http://x.test/a/c",
		"http://x.test/a/b/..":             "http://x.test/a/",
		"http://x.test/a/.":                "http://x.test/a/",
		"http://x.test/..":                 "http://x.test/",
		"http://x.test/../../a":            "http://x.test/a",
		"http://x.test/a/%2E%2E/b":         "http://x.test/b",
		"http://x.test/a//b/./c":           "http://x.test/a//b/c",
		"http://x.test/.a/..b/...":         "http://x.test/.a/..b/...",
		"http://x.test/?q=%7e&r=%2f&s=a+b": "http://x.test/?q=~&r=%2F&s=a+b",
		"http://x.test/?b=2&a=1":           "http://x.test/?b=2&a=1",
		"http://x.test/a?%zz":              "http://x.test/a?%zz",
		"http://x.test/c?":                 "http://x.test/c", // an empty query, as w3lib drops it
		"http://x.test/?":                  "http://x.test/",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := fetch.NormalizeURL(u); got != want {
			t.Errorf("NormalizeURL(%q) = %q; want %q", in, got, want)
		}
	}
}

var _ = fmt.Sprint
var _ http.Handler

// TestCrawlBreakReturnsAtOnce: breaking out of a crawl while other pages
// are on a host that takes an hour cancels them and returns at once.
func TestCrawlBreakReturnsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/" {
				fmt.Fprint(w, `<a href="/slow/1">1</a><a href="/slow/2">2</a><a href="http://other.test/">o</a>`)
				return
			}
			select {
			case <-time.After(time.Hour):
			case <-r.Context().Done():
			}
		})
		f, err := fetch.New(fetch.WithClient(memhttp.Client(h)))
		if err != nil {
			t.Fatal(err)
		}
		c := newCrawler(t, f, fetch.CrawlIgnoreRobots())
		var start time.Time
		for p := range c.Run(t.Context(), "http://a.test/") {
			if p.Err != nil {
				t.Fatal(p.Err)
			}
			p.Follow(p.Links()...)
			synctest.Wait() // the links' requests are on their way
			start = time.Now()
			break
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("break returned after %v; want at once", d)
		}
	})
}

// A frontier given by CrawlFrontier serves one Run: a second Run's seeds
// come back with ErrCrawlDone, not silently dropped; and CrawlMaxURLs,
// which caps the crawl's own frontier, cannot be combined with it.
func TestCrawlFrontierServesOneRun(t *testing.T) {
	site := startSite(t, testsite.Config{Hosts: 1, Pages: 10})
	c := newCrawler(t, newFetcher(t), fetch.CrawlFrontier(fetch.NewMemoryFrontier(0)))
	if pages, failed := crawlAll(t, c, site.Seed()); len(pages) == 0 || len(failed) != 0 {
		t.Fatalf("first Run: %d pages, %d failed", len(pages), len(failed))
	}
	var errs []error
	for p := range c.Run(t.Context(), site.Seed()) {
		errs = append(errs, p.Err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], fetch.ErrCrawlDone) {
		t.Errorf("second Run of a Crawler with its own frontier: %v; want its seed back with ErrCrawlDone", errs)
	}
	if _, err := fetch.NewCrawler(newFetcher(t), fetch.CrawlFrontier(fetch.NewMemoryFrontier(0)), fetch.CrawlMaxURLs(5)); err == nil {
		t.Error("CrawlFrontier with CrawlMaxURLs: no error; the cap would be ignored")
	}
}

// errFrontier is a memory Frontier that hands out one URL with an error,
// as a shared store hands out an entry it will not have fetched, and
// counts the Done calls for it.
type errFrontier struct {
	fetch.Frontier
	bad  string
	err  error
	done int
}

func (f *errFrontier) Next(ctx context.Context) (fetch.CrawlEntry, bool, error) {
	e, ok, err := f.Frontier.Next(ctx)
	if ok && e.URL == f.bad {
		e.Err = f.err
	}
	return e, ok, err
}

func (f *errFrontier) Done(e fetch.CrawlEntry) {
	if e.URL == f.bad {
		f.done++
	}
	f.Frontier.Done(e)
}

// A Frontier's entry with Err set is yielded as a page with that error,
// unfetched, and is then done; the crawl goes on.
func TestCrawlEntryErr(t *testing.T) {
	var mu sync.Mutex
	var requested []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requested = append(requested, r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/" {
			fmt.Fprint(w, `<a href="/bad">bad</a> <a href="/good">good</a>`)
		}
	}))
	t.Cleanup(srv.Close)
	errSetAside := errors.New("set aside")
	fr := &errFrontier{Frontier: fetch.NewMemoryFrontier(0), bad: srv.URL + "/bad", err: errSetAside}
	c := newCrawler(t, newFetcher(t, fetch.WithConcurrency(1)), fetch.CrawlFrontier(fr), fetch.CrawlIgnoreRobots())
	got := map[string]error{}
	for p := range c.Run(t.Context(), srv.URL+"/") {
		got[p.URL] = p.Err
		if p.Err == nil {
			p.Follow(p.Links()...)
		}
	}
	if err := got[srv.URL+"/bad"]; !errors.Is(err, errSetAside) {
		t.Errorf("/bad: Err %v; want one matching the entry's", err)
	}
	if len(got) != 3 || got[srv.URL+"/good"] != nil {
		t.Errorf("pages %v; want /, /bad and /good, only /bad failing", got)
	}
	if fr.done != 1 {
		t.Errorf("Done called %d times for /bad; want 1", fr.done)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range requested {
		if p == "/bad" {
			t.Errorf("/bad was requested; want it unfetched")
		}
	}
}

// A crawl's requests carry a Referer for the page their link was found on,
// as a browser's default policy sends it: the page's URL within its
// origin, its origin alone to another, none for a seed.
func TestCrawlReferer(t *testing.T) {
	var mu sync.Mutex
	refs := map[string]string{}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		refs["other"+r.URL.Path] = r.Header.Get("Referer")
		mu.Unlock()
	}))
	t.Cleanup(other.Close)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		refs[r.URL.Path] = r.Header.Get("Referer")
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/start" {
			fmt.Fprintf(w, `<a href="/same#frag">same</a> <a href="%s/away">away</a>`, other.URL)
		}
	}))
	t.Cleanup(site.Close)
	c := newCrawler(t, newFetcher(t), fetch.CrawlIgnoreRobots())
	for p := range c.Run(t.Context(), site.URL+"/start#top") {
		if p.Err != nil {
			t.Errorf("%s: %v", p.URL, p.Err)
		}
		p.Follow(p.Links()...)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]string{
		"/start":     "",
		"/same":      site.URL + "/start",
		"other/away": site.URL + "/",
	}
	for k, v := range want {
		if got, ok := refs[k]; !ok || got != v {
			t.Errorf("%s: Referer %q (requested %v); want %q", k, got, ok, v)
		}
	}
}

// Page.Title is the first <title> of an HTML page, white space collapsed,
// not one inside an <svg>; "" for a page without one or that is not HTML.
func TestPageTitle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := fetch.New(fetch.WithClient(memhttp.Client(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/":
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html><head><svg><title>icon</title></svg><title>\n  Home\tpage </title></head><body><a href=/json>j</a><a href=/none>n</a></body></html>")
			case "/json":
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"title":"<title>no</title>"}`)
			case "/none":
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html><body><title>late</title></body></html>")
			}
		}))))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		cr, _ := fetch.NewCrawler(f, fetch.CrawlIgnoreRobots())
		want := map[string]string{"http://a.test/": "Home page", "http://a.test/json": "", "http://a.test/none": ""}
		got := map[string]string{}
		for p := range cr.Run(t.Context(), "http://a.test/") {
			got[p.URL] = p.Title()
			p.Follow(p.Links()...)
		}
		if !maps.Equal(got, want) {
			t.Errorf("titles %q; want %q", got, want)
		}
	})
}
