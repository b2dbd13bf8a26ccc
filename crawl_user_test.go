package fetch_test

// A crawler / link-checker author's review of the crawl API, kept as a
// user's regression suite: realistic crawls against loopback httptest
// servers (one per host, distinct ports) and, where timing matters,
// in-memory transports under testing/synctest. The defects it found have
// focused tests in crawl_fixes_test.go.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch"
	"go.uber.org/goleak"
)

// site is a tiny web site: path -> handler; it counts requests per path.
type cuSiteT struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
	log  []string
}

func cuSite(t *testing.T, routes map[string]http.HandlerFunc) *cuSiteT {
	t.Helper()
	s := &cuSiteT{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.RequestURI()]++
		s.log = append(s.log, r.URL.RequestURI())
		s.mu.Unlock()
		if h, ok := routes[r.URL.Path]; ok {
			h(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *cuSiteT) hit(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[p]
}

func cuHTML(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><html><body>"+body+"</body></html>")
	}
}

func cuText(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}
}

func cuRedirect(loc string, code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, loc, code) }
}

func cuFetcher(t *testing.T, opts ...fetch.Option) *fetch.Fetcher {
	t.Helper()
	f, err := fetch.New(append([]fetch.Option{fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 1})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

// cuCrawlAll runs a crawl that follows every link and returns the pages by URL.
func cuCrawlAll(t *testing.T, c *fetch.Crawler, seeds ...string) []*fetch.Page {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var pages []*fetch.Page
	for p := range c.Run(ctx, seeds...) {
		pages = append(pages, p)
		if len(pages) > 1000 {
			t.Fatal("runaway crawl")
		}
		if p.Err == nil {
			if err := p.Follow(p.Links()...); err != nil {
				t.Errorf("Follow: %v", err)
			}
		}
	}
	return pages
}

func cuByURL(pages []*fetch.Page) map[string]*fetch.Page {
	m := map[string]*fetch.Page{}
	for _, p := range pages {
		m[p.URL] = p
	}
	return m
}

func cuDump(pages []*fetch.Page) string {
	var b strings.Builder
	for _, p := range pages {
		fmt.Fprintf(&b, "  %s depth=%d status=%d final=%s err=%v\n", p.URL, p.Depth, p.Status, p.FinalURL, p.Err)
	}
	return b.String()
}

func TestCrawlUserDedupAndRelativeLinks(t *testing.T) {
	s := cuSite(t, map[string]http.HandlerFunc{
		"/robots.txt": cuText("User-agent: *\nDisallow: /private\n"),
		"/": cuHTML(`<a href="/a">a</a> <a href="a#frag">a again</a> <a href="./b/../a">a thrice</a>
			<a href="/%7Euser">u</a> <a href="/~user">u2</a>
			<a href="mailto:x@y">mail</a> <a href="javascript:void(0)">js</a>
			<a href="/private/x">p</a> <a href="dir/">d</a>`),
		"/a":       cuHTML(`<a href="/">home</a>`),
		"/~user":   cuHTML(``),
		"/dir/":    cuHTML(`<base href="/other/"><a href="x">x</a><a href="../a">a</a>`),
		"/other/x": cuHTML(``),
	})
	c, _ := fetch.NewCrawler(cuFetcher(t))
	pages := cuCrawlAll(t, c, s.URL+"/")
	m := cuByURL(pages)
	for _, p := range []string{"/", "/a", "/~user", "/dir/", "/other/x"} {
		if s.hit(p) > 1 {
			t.Errorf("%s fetched %d times", p, s.hit(p))
		}
	}
	if s.hit("/other/x") != 1 {
		t.Errorf("<base href> not honoured: /other/x hits %d\n%s", s.hit("/other/x"), cuDump(pages))
	}
	if p := m[s.URL+"/private/x"]; p == nil || !errors.Is(p.Err, fetch.ErrDisallowed) {
		t.Errorf("disallowed URL not reported as ErrDisallowed page:\n%s", cuDump(pages))
	}
	if s.hit("/private/x") != 0 {
		t.Errorf("disallowed URL was sent")
	}
	if s.hit("/robots.txt") != 1 {
		t.Errorf("robots.txt fetched %d times", s.hit("/robots.txt"))
	}
}

func TestCrawlUserRedirectToSeenAndCrossHost(t *testing.T) {
	out := cuSite(t, map[string]http.HandlerFunc{"/robots.txt": cuText(""), "/x": cuHTML("")})
	s := cuSite(t, map[string]http.HandlerFunc{
		"/robots.txt": cuText(""),
		"/":           cuHTML(`<a href="/b">b</a> <a href="/c">c</a> <a href="/loop1">l</a> <a href="/out">o</a>`),
		"/b":          cuHTML(``),
		"/c":          cuRedirect("/b", 302),
		"/loop1":      cuRedirect("/loop2", 302),
		"/loop2":      cuRedirect("/loop1", 302),
		"/out":        func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, out.URL+"/x", http.StatusFound) },
	})
	u, _ := url.Parse(s.URL)
	c, _ := fetch.NewCrawler(cuFetcher(t), fetch.CrawlScope(func(v *url.URL) bool { return v.Host == u.Host }))
	pages := cuCrawlAll(t, c, s.URL+"/")
	m := cuByURL(pages)
	if s.hit("/b") != 1 {
		t.Errorf("/b fetched %d times\n%s", s.hit("/b"), cuDump(pages))
	}
	if p := m[s.URL+"/c"]; p == nil || !errors.Is(p.Err, fetch.ErrAlreadySeen) {
		// /c may be fetched before /b; then /b is the one refused... only if
		// /b is not queued. /b is queued from "/" first, so /c must be refused.
		t.Errorf("/c redirecting to the seen /b: want ErrAlreadySeen\n%s", cuDump(pages))
	}
	if p := m[s.URL+"/loop1"]; p == nil || p.Err == nil {
		t.Errorf("redirect loop not reported\n%s", cuDump(pages))
	}
	if p := m[s.URL+"/out"]; p == nil || !errors.Is(p.Err, fetch.ErrOutOfScope) {
		t.Errorf("redirect out of scope not reported\n%s", cuDump(pages))
	}
	if out.hit("/x") != 0 || out.hit("/robots.txt") != 0 {
		t.Errorf("something was sent to the out-of-scope host: %v", out.log)
	}
}

func TestCrawlUserRobotsStatusCases(t *testing.T) {
	cases := []struct {
		name    string
		robots  http.HandlerFunc
		allowed bool
	}{
		{"404", http.NotFound, true},
		{"403", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(403) }, true},
		{"401", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }, true},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, false},
		{"503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, false},
		{"html-200-catch-all", cuHTML("<h1>welcome</h1>"), true},
		{"disallow-all", cuText("User-agent: *\nDisallow: /\n"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := cuSite(t, map[string]http.HandlerFunc{"/robots.txt": tc.robots, "/page": cuHTML("")})
			c, _ := fetch.NewCrawler(cuFetcher(t))
			pages := cuCrawlAll(t, c, s.URL+"/page")
			if len(pages) != 1 {
				t.Fatalf("want 1 page, got\n%s", cuDump(pages))
			}
			if tc.allowed && pages[0].Err != nil || !tc.allowed && !errors.Is(pages[0].Err, fetch.ErrDisallowed) {
				t.Fatalf("allowed=%v: got %v", tc.allowed, pages[0].Err)
			}
			if !tc.allowed && s.hit("/page") != 0 {
				t.Fatalf("disallowed page sent")
			}
			if !tc.allowed && strings.HasPrefix(tc.name, "5") && !strings.Contains(pages[0].Err.Error(), tc.name) {
				t.Errorf("error does not name the robots.txt status: %v", pages[0].Err)
			}
		})
	}
}

// robots.txt redirected to another host: RFC 9309 §2.3.1.2 says follow it
// (at least five hops) and apply what it says to the original host.
func TestCrawlUserRobotsRedirectCrossHost(t *testing.T) {
	rules := cuSite(t, map[string]http.HandlerFunc{
		"/robots.txt":    cuText(""),
		"/shared-robots": cuText("User-agent: *\nDisallow: /private\n"),
	})
	s := cuSite(t, map[string]http.HandlerFunc{
		"/robots.txt": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, rules.URL+"/shared-robots", http.StatusMovedPermanently)
		},
		"/":          cuHTML(`<a href="/private/a">p</a><a href="/public">q</a>`),
		"/public":    cuHTML(""),
		"/private/a": cuHTML(""),
	})
	c, _ := fetch.NewCrawler(cuFetcher(t))
	pages := cuCrawlAll(t, c, s.URL+"/")
	if s.hit("/private/a") != 0 {
		t.Errorf("robots.txt behind a cross-host redirect was not honoured\n%s", cuDump(pages))
	}
	if p := cuByURL(pages)[s.URL+"/private/a"]; p == nil || !errors.Is(p.Err, fetch.ErrDisallowed) {
		t.Errorf("want ErrDisallowed page for /private/a\n%s", cuDump(pages))
	}
}

func TestCrawlUserUserAgentGroups(t *testing.T) {
	var mu sync.Mutex
	var agents []string
	s := cuSite(t, map[string]http.HandlerFunc{
		"/robots.txt": cuText("User-agent: *\nDisallow: /\n\nUser-agent: OtherBot\nAllow: /\n\nUser-agent: mybot\nDisallow: /no\n"),
		"/": func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			agents = append(agents, r.UserAgent())
			mu.Unlock()
			cuHTML(`<a href="/yes">y</a><a href="/no">n</a>`)(w, r)
		},
		"/yes": cuHTML(""),
		"/no":  cuHTML(""),
	})
	c, _ := fetch.NewCrawler(cuFetcher(t), fetch.CrawlUserAgent("MyBot/2.1 (+https://example.com/bot)"))
	pages := cuCrawlAll(t, c, s.URL+"/")
	m := cuByURL(pages)
	if p := m[s.URL+"/"]; p == nil || p.Err != nil {
		t.Fatalf("seed should be allowed by the mybot group\n%s", cuDump(pages))
	}
	if p := m[s.URL+"/no"]; p == nil || !errors.Is(p.Err, fetch.ErrDisallowed) {
		t.Errorf("/no should be disallowed\n%s", cuDump(pages))
	}
	if s.hit("/yes") != 1 {
		t.Errorf("/yes not fetched")
	}
	if len(agents) == 0 || agents[0] != "MyBot/2.1 (+https://example.com/bot)" {
		t.Errorf("User-Agent sent: %q", agents)
	}
}

func TestCrawlUserMaxPagesAndDepth(t *testing.T) {
	routes := map[string]http.HandlerFunc{"/robots.txt": cuText("")}
	for i := range 20 {
		routes[fmt.Sprintf("/p%d", i)] = cuHTML(fmt.Sprintf(`<a href="/p%d">n</a><a href="/q%d">q</a>`, i+1, i))
		routes[fmt.Sprintf("/q%d", i)] = cuHTML("")
	}
	s := cuSite(t, routes)
	t.Run("pages", func(t *testing.T) {
		c, _ := fetch.NewCrawler(cuFetcher(t), fetch.CrawlMaxPages(5))
		pages := cuCrawlAll(t, c, s.URL+"/p0")
		if len(pages) != 5 {
			t.Errorf("CrawlMaxPages(5): %d pages\n%s", len(pages), cuDump(pages))
		}
	})
	t.Run("depth", func(t *testing.T) {
		c, _ := fetch.NewCrawler(cuFetcher(t), fetch.CrawlMaxDepth(2))
		pages := cuCrawlAll(t, c, s.URL+"/p0")
		for _, p := range pages {
			if p.Depth > 2 {
				t.Errorf("page past depth: %s %d", p.URL, p.Depth)
			}
		}
		// p0 (0), p1 q0 (1), p2 q1 (2)
		if len(pages) != 5 {
			t.Errorf("CrawlMaxDepth(2): %d pages\n%s", len(pages), cuDump(pages))
		}
	})
}

func TestCrawlUserMaxURLsFailsLoudly(t *testing.T) {
	s := cuSite(t, map[string]http.HandlerFunc{
		"/robots.txt": cuText(""),
		"/":           cuHTML(`<a href="/1">1</a><a href="/2">2</a><a href="/3">3</a><a href="/1">dup</a>`),
		"/1":          cuHTML(""), "/2": cuHTML(""), "/3": cuHTML(""),
	})
	c, _ := fetch.NewCrawler(cuFetcher(t), fetch.CrawlMaxURLs(2))
	pages := cuCrawlAll(t, c, s.URL+"/")
	full := 0
	for _, p := range pages {
		if errors.Is(p.Err, fetch.ErrCrawlFull) {
			full++
			if !strings.Contains(p.Err.Error(), "CrawlMaxURLs") {
				t.Errorf("ErrCrawlFull does not name the option: %v", p.Err)
			}
		}
	}
	if len(pages) != 4 || full != 2 {
		t.Errorf("want 2 fetched + 2 ErrCrawlFull (the duplicate /1 is not new), got\n%s", cuDump(pages))
	}
}

// Break out of the loop while requests to several hosts hang: Run returns,
// the server sees the cancellations, and no goroutine is left behind.
func TestCrawlUserBreakNoLeak(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	block := make(chan struct{})
	var sites []*cuSiteT
	for range 3 {
		sites = append(sites, cuSite(t, map[string]http.HandlerFunc{
			"/robots.txt": cuText(""),
			"/":           cuHTML(`<a href="/slow1">1</a><a href="/slow2">2</a>`),
			"/slow1": func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-block:
				case <-r.Context().Done():
				}
			},
			"/slow2": func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-block:
				case <-r.Context().Done():
				}
			},
		}))
	}
	f, _ := fetch.New()
	c, _ := fetch.NewCrawler(f)
	var seeds []string
	for _, s := range sites {
		seeds = append(seeds, s.URL+"/")
	}
	n := 0
	for p := range c.Run(t.Context(), seeds...) {
		n++
		p.Follow(p.Links()...)
		if n == 3 {
			break
		}
	}
	if err := f.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(block)
	for _, s := range sites {
		s.Close()
	}
	goleak.VerifyNone(t, ignore)
}

// Follow from goroutines the loop body does not wait for: each Follow that
// returns nil must lead to a page; a Follow after the end returns
// ErrCrawlDone.
func TestCrawlUserFollowFromGoroutines(t *testing.T) {
	s := cuSite(t, map[string]http.HandlerFunc{"/robots.txt": cuText("")})
	s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cuHTML("")(w, r) })
	for round := range 30 {
		c, _ := fetch.NewCrawler(cuFetcher(t), fetch.CrawlIgnoreRobots())
		var wg sync.WaitGroup
		var accepted sync.Map
		seen := map[string]bool{}
		for p := range c.Run(t.Context(), s.URL+"/seed") {
			seen[p.URL] = true
			if p.Depth == 0 {
				for i := range 5 {
					link := fmt.Sprintf("/r%d/l%d", round, i)
					wg.Go(func() {
						if err := p.Follow(link); err == nil {
							accepted.Store(s.URL+link, true)
						} else if !errors.Is(err, fetch.ErrCrawlDone) {
							t.Errorf("Follow: %v", err)
						}
					})
				}
			}
		}
		wg.Wait()
		accepted.Range(func(k, _ any) bool {
			if !seen[k.(string)] {
				t.Errorf("round %d: Follow(%s) returned nil but no page came back", round, k)
			}
			return true
		})
	}
}

// Per-host cap counted on the server, robots.txt included.
func TestCrawlUserHostConcurrencyOnServer(t *testing.T) {
	var inflight, peak atomic.Int32
	var gate sync.Mutex
	arrived := make(chan struct{}) // pairs up two concurrent requests
	routes := map[string]http.HandlerFunc{"/robots.txt": cuText("")}
	links := ""
	for i := range 12 {
		links += fmt.Sprintf(`<a href="/x%d">x</a>`, i)
	}
	routes["/"] = cuHTML(links)
	s := cuSite(t, routes)
	s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		gate.Lock()
		if n > peak.Load() {
			peak.Store(n)
		}
		gate.Unlock()
		if r.URL.Path == "/robots.txt" {
			cuText("")(w, r)
			return
		}
		// Hold the slot until a sibling request ends or shows up: with the
		// cap respected the second one is the last that can arrive, so wait
		// for at most one arrival (bounded: the other request releases us).
		if r.URL.Path != "/" {
			select {
			case arrived <- struct{}{}:
			case <-arrived:
			case <-r.Context().Done():
			}
		}
		cuHTML(links)(w, r)
	})
	c, _ := fetch.NewCrawler(cuFetcher(t, fetch.WithHostConcurrency(2)))
	cuCrawlAll(t, c, s.URL+"/")
	if peak.Load() > 2 {
		t.Errorf("server saw %d requests at once with WithHostConcurrency(2)", peak.Load())
	}
}

// Crawl-delay measured at the (in-memory) server with a fake clock: the gap
// between two page requests is the delay, not twice it, and the robots.txt
// request counts as the first.
func TestCrawlUserDelaySpacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var times []time.Duration
		start := time.Now()
		rt := cuRT(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			times = append(times, time.Since(start))
			mu.Unlock()
			body, ct := "", "text/html"
			switch r.URL.Path {
			case "/robots.txt":
				body, ct = "User-agent: *\nCrawl-delay: 2\n", "text/plain"
			case "/":
				body = `<a href="/a">a</a><a href="/b">b</a><a href="/c">c</a>`
			}
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {ct}},
				Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
		})
		f, err := fetch.New(fetch.WithClient(&http.Client{Transport: rt}))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		c, _ := fetch.NewCrawler(f)
		n := 0
		for p := range c.Run(t.Context(), "http://site.test/") {
			n++
			if p.Err != nil {
				t.Errorf("%s: %v", p.URL, p.Err)
			}
			p.Follow(p.Links()...)
		}
		if n != 4 || len(times) != 5 {
			t.Fatalf("pages %d, requests %v", n, times)
		}
		for i := 1; i < len(times); i++ {
			if gap := times[i] - times[i-1]; gap < 2*time.Second || gap > 2*time.Second+time.Millisecond*100 {
				t.Errorf("gap %d: %v (times %v)", i, gap, times)
			}
		}
	})
}

type cuRT func(*http.Request) (*http.Response, error)

func (f cuRT) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Every seed yields a page, a bad one too.
func TestCrawlUserBadSeedsReported(t *testing.T) {
	s := cuSite(t, map[string]http.HandlerFunc{"/robots.txt": cuText(""), "/": cuHTML("")})
	c, _ := fetch.NewCrawler(cuFetcher(t))
	pages := cuCrawlAll(t, c, s.URL+"/", "not a url", "ftp://x/y", "/relative")
	if len(pages) != 4 {
		t.Fatalf("want a page per seed\n%s", cuDump(pages))
	}
	for _, p := range pages[1:] {
		if p.URL != s.URL+"/" && !errors.Is(p.Err, fetch.ErrInvalidURL) {
			t.Errorf("%s: %v", p.URL, p.Err)
		}
	}
}

// Cancelling the crawl's context: Run returns promptly, every page being
// fetched comes back with the context's error, and nothing hangs.
func TestCrawlUserCancel(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	var started atomic.Int32
	startedCh := make(chan struct{}, 3)
	s := cuSite(t, map[string]http.HandlerFunc{
		"/robots.txt": cuText(""),
		"/":           cuHTML(`<a href="/s1">1</a><a href="/s2">2</a><a href="/s3">3</a>`),
	})
	s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			return
		case "/":
			cuHTML(`<a href="/s1">1</a><a href="/s2">2</a><a href="/s3">3</a>`)(w, r)
			return
		}
		started.Add(1)
		startedCh <- struct{}{}
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c, _ := fetch.NewCrawler(cuFetcher(t))
	var pages []*fetch.Page
	for p := range c.Run(ctx, s.URL+"/") {
		pages = append(pages, p)
		p.Follow(p.Links()...)
		if p.Depth == 0 {
			go func() {
				for range 3 {
					<-startedCh
				}
				cancel()
			}()
		}
	}
	if len(pages) != 4 {
		t.Fatalf("want 4 pages\n%s", cuDump(pages))
	}
	for _, p := range pages[1:] {
		if !errors.Is(p.Err, context.Canceled) {
			t.Errorf("%s: %v", p.URL, p.Err)
		}
	}
}
