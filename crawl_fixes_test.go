package fetch_test

// Regression tests for crawl defects a link-checker author's review found
// (see crawl_user_test.go for the rest of that review): redirects to a
// URL with the page's own dedup key, robots.txt per scheme, a Crawl-delay
// past the deadline, and duplicate seeds.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/memhttp"
)

// memSite is an in-memory site for a crawl: it serves every request with
// serve and counts them by scheme, host and request URI.
type memSite struct {
	mu    sync.Mutex
	sent  []string
	serve func(w http.ResponseWriter, r *http.Request)
}

func (s *memSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.sent = append(s.sent, r.URL.Scheme+"://"+r.URL.Host+r.RequestURI)
	s.mu.Unlock()
	s.serve(w, r)
}

// count returns how many requests were sent for u (scheme://host/uri).
func (s *memSite) count(u string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.sent {
		if v == u {
			n++
		}
	}
	return n
}

func (s *memSite) fetcher(t *testing.T) *fetch.Fetcher {
	t.Helper()
	f, err := fetch.New(fetch.WithClient(memhttp.Client(s)), fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

// crawlPages runs c from seeds without following links and returns its
// pages by URL, failing the test if a URL yields twice.
func crawlPages(t *testing.T, ctx context.Context, c *fetch.Crawler, seeds ...string) map[string]*fetch.Page {
	t.Helper()
	pages := map[string]*fetch.Page{}
	for p := range c.Run(ctx, seeds...) {
		if pages[p.URL] != nil {
			t.Errorf("%s yielded twice", p.URL)
		}
		pages[p.URL] = p
	}
	return pages
}

// A redirect to a URL with the page's own dedup key is the same page, not a
// loop: a server canonicalising "/%7Euser" to "/~user", a CrawlKey that
// strips tracking parameters or the scheme. It is followed, and the page
// fetched once; a redirect back to a URL of its own chain is still a loop,
// and one to a URL another page claimed is still ErrAlreadySeen.
func TestCrawlRedirectToOwnKey(t *testing.T) {
	stripQuery := func(u *url.URL) string {
		v := *u
		v.RawQuery = ""
		return fetch.NormalizeURL(&v)
	}
	schemeBlind := func(u *url.URL) string {
		v := *u
		v.Scheme = "http"
		return fetch.NormalizeURL(&v)
	}
	redirects := map[string]string{ // request URI (or URL, for another scheme) -> Location
		"/%7Euser":           "/~user",
		"/a?utm_source=news": "/a",
		"http://a.test/p":    "https://a.test/p",
		"/self":              "/self",
		"/%7Eloop":           "/~loop",
		"/~loop":             "/%7Eloop",
		"/other":             "/taken",
	}
	for _, tc := range []struct {
		name   string
		key    func(*url.URL) string
		seeds  []string
		seed   string // the page checked
		final  string // its FinalURL; "" if it must fail with ErrAlreadySeen
		sent   []string
		loop   bool // its error must say it is a loop
		claims string
	}{
		{name: "canonical spelling", seeds: []string{"http://a.test/%7Euser"}, seed: "http://a.test/%7Euser",
			final: "http://a.test/~user", sent: []string{"http://a.test/%7Euser", "http://a.test/~user"}},
		{name: "CrawlKey without the query", key: stripQuery, seeds: []string{"http://a.test/a?utm_source=news"},
			seed: "http://a.test/a?utm_source=news", final: "http://a.test/a",
			sent: []string{"http://a.test/a?utm_source=news", "http://a.test/a"}},
		{name: "CrawlKey without the scheme", key: schemeBlind, seeds: []string{"http://a.test/p"},
			seed: "http://a.test/p", final: "https://a.test/p", sent: []string{"http://a.test/p", "https://a.test/p"}},
		{name: "loop to itself", seeds: []string{"http://a.test/self"}, seed: "http://a.test/self",
			sent: []string{"http://a.test/self"}, loop: true},
		{name: "loop between spellings", seeds: []string{"http://a.test/%7Eloop"}, seed: "http://a.test/%7Eloop",
			sent: []string{"http://a.test/%7Eloop", "http://a.test/~loop"}, loop: true},
		{name: "key of another page", seeds: []string{"http://a.test/taken", "http://a.test/other"}, seed: "http://a.test/other",
			sent: []string{"http://a.test/taken", "http://a.test/other"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := &memSite{serve: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/robots.txt" {
					return
				}
				loc, ok := redirects[r.RequestURI]
				if !ok && r.URL.Scheme == "http" {
					loc, ok = redirects[r.URL.String()]
				}
				if ok {
					w.Header().Set("Location", loc)
					w.WriteHeader(http.StatusMovedPermanently)
					return
				}
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, "<p>page</p>")
			}}
			var opts []fetch.CrawlOption
			if tc.key != nil {
				opts = append(opts, fetch.CrawlKey(tc.key))
			}
			pages := crawlPages(t, t.Context(), newCrawler(t, site.fetcher(t), opts...), tc.seeds...)
			p := pages[tc.seed]
			if p == nil {
				t.Fatalf("no page for %s: %v", tc.seed, pages)
			}
			if tc.final != "" {
				if p.Err != nil || p.Status != 200 || p.FinalURL != tc.final {
					t.Errorf("Err %v, status %d, FinalURL %s; want it fetched through the redirect, FinalURL %s", p.Err, p.Status, p.FinalURL, tc.final)
				}
			} else if !errors.Is(p.Err, fetch.ErrAlreadySeen) || tc.loop != strings.Contains(p.Err.Error(), "loop") {
				t.Errorf("Err %v; want ErrAlreadySeen (a loop: %v)", p.Err, tc.loop)
			}
			for _, u := range tc.sent {
				if n := site.count(u); n != 1 {
					t.Errorf("%s requested %d times; want once (sent %v)", u, n, site.sent)
				}
			}
			if len(pages) != len(tc.seeds) {
				t.Errorf("%d pages for %d seeds", len(pages), len(tc.seeds))
			}
		})
	}
}

// robots.txt applies to the scheme, host and port it is fetched from (RFC
// 9309 §2.3): http://a.test/ and https://a.test/ each have their own,
// whichever is seen first.
func TestCrawlRobotsPerScheme(t *testing.T) {
	for _, seeds := range [][]string{
		{"https://a.test/s", "http://a.test/p"},
		{"http://a.test/p", "https://a.test/s"},
	} {
		t.Run(strings.Split(seeds[0], ":")[0]+" first", func(t *testing.T) {
			site := &memSite{serve: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/robots.txt" && r.URL.Scheme == "http" {
					fmt.Fprint(w, "User-agent: *\nDisallow: /\n") // the legacy mirror is not to be crawled
				}
			}}
			pages := crawlPages(t, t.Context(), newCrawler(t, site.fetcher(t)), seeds...)
			if p := pages["https://a.test/s"]; p == nil || p.Err != nil {
				t.Errorf("https page: %v; want it fetched under https's robots.txt", p.Err)
			}
			if p := pages["http://a.test/p"]; p == nil || !errors.Is(p.Err, fetch.ErrDisallowed) {
				t.Errorf("http page: %v; want ErrDisallowed by http's robots.txt", p.Err)
			}
			for u, want := range map[string]int{
				"http://a.test/robots.txt": 1, "https://a.test/robots.txt": 1,
				"https://a.test/s": 1, "http://a.test/p": 0,
			} {
				if n := site.count(u); n != want {
					t.Errorf("%s requested %d times; want %d (sent %v)", u, n, want, site.sent)
				}
			}
		})
	}
}

// A host's jobs wait for every one of its robots.txt files being loaded:
// https's, slow to come, is not skipped because http's came first.
func TestCrawlRobotsPerSchemeWaitsForEach(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		site := &memSite{serve: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" && r.URL.Scheme == "https" {
				time.Sleep(time.Second) // the fake clock's
				fmt.Fprint(w, "User-agent: *\nDisallow: /\n")
			}
		}}
		pages := crawlPages(t, t.Context(), newCrawler(t, site.fetcher(t)), "http://a.test/p", "https://a.test/s")
		if p := pages["http://a.test/p"]; p == nil || p.Err != nil {
			t.Errorf("http page: %v; want it fetched", p.Err)
		}
		if p := pages["https://a.test/s"]; p == nil || !errors.Is(p.Err, fetch.ErrDisallowed) {
			t.Errorf("https page: %v; want ErrDisallowed", p.Err)
		}
		if n := site.count("https://a.test/s"); n != 0 {
			t.Errorf("https page sent before its robots.txt was loaded")
		}
	})
}

// The Crawl-delay pace is per host, whatever the scheme: the longest of
// its robots.txt files' delays spaces all its requests, even when a
// shorter one comes last.
func TestCrawlDelayPerHostLongest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Time
		site := &memSite{serve: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				delay := 5
				if r.URL.Scheme == "https" {
					time.Sleep(time.Second) // the fake clock's: https's comes last
					delay = 2
				}
				fmt.Fprintf(w, "User-agent: *\nCrawl-delay: %d\n", delay)
				return
			}
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
		}}
		seeds := []string{"http://a.test/1", "https://a.test/2", "http://a.test/3", "https://a.test/4"}
		pages := crawlPages(t, t.Context(), newCrawler(t, site.fetcher(t)), seeds...)
		for _, u := range seeds {
			if p := pages[u]; p == nil || p.Err != nil {
				t.Errorf("%s: %v", u, p.Err)
			}
		}
		if len(at) != len(seeds) {
			t.Errorf("%d pages requested; want %d", len(at), len(seeds))
		}
		for i := 1; i < len(at); i++ {
			if d := at[i].Sub(at[i-1]); d < 5*time.Second {
				t.Errorf("requests %d and %d %v apart; want at least 5s, the longer Crawl-delay", i-1, i, d)
			}
		}
	})
}

// A page whose host's next Crawl-delay turn comes after the context's
// deadline fails at once, as a Retry-After past the deadline does, with an
// error that names the Crawl-delay and matches context.DeadlineExceeded;
// nothing is sent for it.
func TestCrawlDelayPastDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		site := &memSite{serve: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				fmt.Fprint(w, "User-agent: *\nCrawl-delay: 86400\n") // capped at MaxRetryAfter, 5 minutes
			}
		}}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		pages := map[string]*fetch.Page{}
		for p := range newCrawler(t, site.fetcher(t)).Run(ctx, "http://a.test/a", "http://a.test/b") {
			if d := time.Since(start); d != 0 {
				t.Errorf("%s yielded after %v; want it failed at once", p.URL, d)
			}
			pages[p.URL] = p
		}
		// The crawl ends with its last page: its frontier, in memory, is
		// told the refused pages are done, as no other process could
		// take them (a shared one is not: see crawl.unfinished).
		if d := time.Since(start); d != 0 {
			t.Errorf("the crawl ended after %v; want at once", d)
		}
		for _, u := range []string{"http://a.test/a", "http://a.test/b"} {
			p := pages[u]
			if p == nil || !errors.Is(p.Err, context.DeadlineExceeded) || !strings.Contains(p.Err.Error(), "Crawl-delay") {
				t.Errorf("%s: %v; want an error naming the Crawl-delay, matching context.DeadlineExceeded", u, p.Err)
			}
			if n := site.count(u); n != 0 {
				t.Errorf("%s sent", u)
			}
		}
	})
}

// A page waiting for its host's Crawl-delay when the crawl is cancelled
// fails with an error that names the Crawl-delay and matches
// context.Canceled.
func TestCrawlDelayWaitCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		site := &memSite{serve: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				fmt.Fprint(w, "User-agent: *\nCrawl-delay: 10\n")
			}
		}}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var errs []error
		for p := range newCrawler(t, site.fetcher(t)).Run(ctx, "http://a.test/a", "http://a.test/b") {
			errs = append(errs, p.Err)
			cancel() // /b waits for the Crawl-delay after /a
		}
		if len(errs) != 2 || errs[0] != nil {
			t.Fatalf("pages' errors %v; want /a fetched, then /b", errs)
		}
		if !errors.Is(errs[1], context.Canceled) || !strings.Contains(errs[1].Error(), "Crawl-delay") {
			t.Errorf("/b: %v; want an error naming the Crawl-delay, matching context.Canceled", errs[1])
		}
		if n := site.count("http://a.test/b"); n != 0 {
			t.Errorf("/b sent")
		}
	})
}

// Seeds are deduplicated by the crawl's key, as links are: seeds that
// differ only by a fragment or an empty path are taken in once and yield
// one page, as Follow of a link already found adds nothing.
func TestCrawlDuplicateSeeds(t *testing.T) {
	site := &memSite{serve: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<a href="/">home</a><a href="/#top">top</a>`)
	}}
	var pages []*fetch.Page
	for p := range newCrawler(t, site.fetcher(t)).Run(t.Context(), "http://a.test/", "http://a.test/#top", "http://a.test") {
		pages = append(pages, p)
		if err := p.Follow(p.Links()...); err != nil {
			t.Errorf("Follow: %v", err)
		}
	}
	if len(pages) != 1 || pages[0].Err != nil || pages[0].URL != "http://a.test/" {
		t.Errorf("%d pages (%v); want one, for the first seed", len(pages), pages)
	}
	if n := site.count("http://a.test/"); n != 1 {
		t.Errorf("/ requested %d times; want once", n)
	}
}

// A redirect into a host whose Crawl-delay turn comes after the crawl's
// deadline fails at once as a scheduled page does: an error naming the
// Crawl-delay and matching context.DeadlineExceeded (the rate limiter's
// own "would exceed context deadline" matched nothing), nothing sent.
func TestCrawlDelayPastDeadlineOnARedirect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		site := &memSite{serve: func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/robots.txt" && r.Host == "b.test":
				fmt.Fprint(w, "User-agent: *\nCrawl-delay: 60\n")
			case r.Host == "a.test" && r.URL.Path == "/go":
				http.Redirect(w, r, "http://b.test/there", http.StatusFound)
			}
		}}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		start := time.Now()
		var page *fetch.Page
		for p := range newCrawler(t, site.fetcher(t)).Run(ctx, "http://a.test/go") {
			page = p
			if d := time.Since(start); d != 0 {
				t.Errorf("%s yielded after %v; want it failed at once", p.URL, d)
			}
		}
		if page == nil || !errors.Is(page.Err, context.DeadlineExceeded) || !strings.Contains(page.Err.Error(), "Crawl-delay") {
			t.Errorf("page %v; want an error naming the Crawl-delay, matching context.DeadlineExceeded", page)
		}
		if n := site.count("http://b.test/there"); n != 0 {
			t.Errorf("http://b.test/there sent %d times; want none", n)
		}
	})
}

// A page refused because its host's robots.txt could not be read (a 503)
// matches ErrRobotsUnavailable as well as ErrDisallowed, so that a crawler
// can queue it again later; one that robots.txt disallows matches only
// ErrDisallowed.
func TestCrawlRobotsUnavailableIsTyped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := fetch.New(fetch.WithClient(memhttp.Client(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path != "/robots.txt":
				w.Write([]byte("<html></html>"))
			case r.Host == "down.test":
				w.WriteHeader(http.StatusServiceUnavailable)
			default:
				w.Write([]byte("User-agent: *\nDisallow: /private\n"))
			}
		}))), fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		c, err := fetch.NewCrawler(f)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]error{}
		for p := range c.Run(t.Context(), "http://down.test/a", "http://up.test/private", "http://up.test/public") {
			got[p.URL] = p.Err
		}
		for _, tc := range []struct {
			url                     string
			disallowed, unavailable bool
		}{
			{"http://down.test/a", true, true},
			{"http://up.test/private", true, false},
			{"http://up.test/public", false, false},
		} {
			err := got[tc.url]
			if errors.Is(err, fetch.ErrDisallowed) != tc.disallowed || errors.Is(err, fetch.ErrRobotsUnavailable) != tc.unavailable {
				t.Errorf("%s: %v; want ErrDisallowed %v, ErrRobotsUnavailable %v", tc.url, err, tc.disallowed, tc.unavailable)
			}
		}
		if err := got["http://down.test/a"]; err != nil && !strings.Contains(err.Error(), "disallowed by robots.txt: robots.txt answered 503") {
			t.Errorf("the refusal reads %q; want it to say robots.txt answered 503", err)
		}
	})
}
