package fetch_test

// Ports, onto fetch's Crawler, of the Scrapy tests that crawl_port_test.go
// does not port. scrapy/scrapy at commit 11079cb1c85b9e75a39a7269943c69d1a975d485:
//
//   - tests/test_downloadermiddleware_redirect.py, with the cases it inherits
//     from tests/utils/bases/redirect.py and tests/utils/redirect.py
//     (REDIRECT_SCHEME_CASES), and tests/test_downloadermiddleware_redirect_metarefresh.py
//     for what fetch does with a meta refresh by default (nothing: it is not
//     followed; see crawl_nofollow_test.go for CrawlMetaRefresh);
//   - tests/test_downloadermiddleware_retry.py;
//   - tests/test_downloadermiddleware_offsite.py, and
//     tests/test_spidermiddleware_offsite.py as it was before commit
//     2c1c10e92 removed it (its parent, 2c1c10e92^);
//   - tests/test_spidermiddleware_urllength.py;
//   - tests/test_crawl.py's end-to-end crawls (the spiders of tests/spiders.py
//     against the resources of tests/mockserver/http_resources.py), and
//     tests/test_engine_loop.py test_lazy for start requests taken lazily.
//
// Scrapy's middlewares are per request (meta keys such as dont_redirect,
// dont_retry, max_retry_times, allow_offsite); fetch's Crawler is
// configured per crawl (CrawlOption) and per Fetcher (Option). Each test
// says how a case maps, and where fetch differs on purpose it asserts what
// fetch documents and says what Scrapy does. The three defects the port
// found (a redirect looping back into its own chain followed again; a
// Location or link "///host/p" read as a path) were fixed with it.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/memhttp"
)

// sc2Req is one request a handler saw.
type sc2Req struct {
	Host, URI, Method, Body string
	Header                  http.Header
	At                      time.Time
}

// sc2Log records the requests a handler sees, in order.
type sc2Log struct {
	mu   sync.Mutex
	reqs []sc2Req
}

func (l *sc2Log) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		l.mu.Lock()
		l.reqs = append(l.reqs, sc2Req{Host: reqHost(r), URI: r.RequestURI, Method: r.Method, Body: string(b), Header: r.Header.Clone(), At: time.Now()})
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// all returns the requests seen so far.
func (l *sc2Log) all() []sc2Req {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

// uris returns host+URI of every request but those for robots.txt, in order.
func (l *sc2Log) uris() []string {
	var out []string
	for _, r := range l.all() {
		if r.URI != "/robots.txt" {
			out = append(out, r.Host+r.URI)
		}
	}
	return out
}

// count returns how many requests were for host+URI.
func (l *sc2Log) count(hostURI string) int {
	n := 0
	for _, r := range l.all() {
		if r.Host+r.URI == hostURI {
			n++
		}
	}
	return n
}

// last returns the last request for host+URI.
func (l *sc2Log) last(hostURI string) (sc2Req, bool) {
	reqs := l.all()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Host+reqs[i].URI == hostURI {
			return reqs[i], true
		}
	}
	return sc2Req{}, false
}

// hosts returns the hosts that were sent anything, robots.txt included.
func (l *sc2Log) hosts() map[string]bool {
	m := map[string]bool{}
	for _, r := range l.all() {
		m[r.Host] = true
	}
	return m
}

// sc2Mem returns a Fetcher that serves every request in memory with h, so
// that it runs inside a synctest bubble and can use any host name.
func sc2Mem(t *testing.T, h http.Handler, opts ...fetch.Option) *fetch.Fetcher {
	t.Helper()
	f, err := fetch.New(append([]fetch.Option{fetch.WithClient(memhttp.Client(h))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

// sc2Retry retries up to n attempts in all, with backoffs of a millisecond
// or so, as Scrapy's RETRY_TIMES = n-1 with no delay between retries.
func sc2Retry(n int) fetch.Option {
	return fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: n, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond})
}

// sc2NoRobots answers 404 for robots.txt and passes the rest to h.
func sc2NoRobots(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	})
}

// sc2Redirector answers /…?loc=L with a redirect of the status given by
// ?status= (302 by default) to L, and anything else with a small HTML page.
func sc2Redirector(w http.ResponseWriter, r *http.Request) {
	if loc, ok := r.URL.Query()["loc"]; ok {
		status := 302
		if s := r.URL.Query().Get("status"); s != "" {
			status, _ = strconv.Atoi(s)
		}
		w.Header().Set("Location", loc[0])
		w.WriteHeader(status)
		return
	}
	html(w, "<p>landed</p>")
}

func sc2Loc(base, path, loc string) string {
	return base + path + "?loc=" + url.QueryEscape(loc)
}

// ------------------------------------------------ test_downloadermiddleware_redirect.py

// scrapy: TestRedirectBase.test_max_redirect_times (REDIRECT_MAX_TIMES) —
// the redirects allowed are followed, one more fails the request. fetch:
// WithMaxRedirects; the page comes back with ErrTooManyRedirects (Scrapy
// raises IgnoreRequest), not retried, and nothing past the limit is sent.
// test_ttl (a per-request redirect_ttl) has no per-request counterpart.
func TestPortScrapy2MaxRedirectTimes(t *testing.T) {
	log := &sc2Log{}
	ts := httptest.NewServer(log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/chain/"); ok {
			if n, _ := strconv.Atoi(rest); n > 0 {
				http.Redirect(w, r, fmt.Sprintf("/chain/%d", n-1), http.StatusFound)
				return
			}
		}
		fmt.Fprint(w, "end")
	})))
	t.Cleanup(ts.Close)

	for _, tc := range []struct {
		max  int // 0: the default
		hops int
		ok   bool
	}{
		{max: 1, hops: 1, ok: true},
		{max: 1, hops: 2, ok: false},
		{max: 0, hops: fetch.DefaultMaxRedirects, ok: true},
		{max: 0, hops: fetch.DefaultMaxRedirects + 1, ok: false},
	} {
		t.Run(fmt.Sprintf("max %d hops %d", tc.max, tc.hops), func(t *testing.T) {
			opts := []fetch.Option{}
			if tc.max > 0 {
				opts = append(opts, fetch.WithMaxRedirects(tc.max))
			}
			limit := cmp.Or(tc.max, fetch.DefaultMaxRedirects)
			before := len(log.all())
			seed := fmt.Sprintf("%s/chain/%d", ts.URL, tc.hops)
			pages := portCrawl(t.Context(), newCrawler(t, newFetcher(t, opts...)), false, seed)
			if len(pages) != 1 {
				t.Fatalf("%d pages; want 1", len(pages))
			}
			p := pages[0]
			sent := len(log.all()) - before - 1 // robots.txt
			if tc.ok {
				if p.Err != nil || p.FinalURL != ts.URL+"/chain/0" || sent != tc.hops+1 {
					t.Errorf("Err %v, FinalURL %q, %d requests; want the chain followed to /chain/0 in %d", p.Err, p.FinalURL, sent, tc.hops+1)
				}
				return
			}
			if !errors.Is(p.Err, fetch.ErrTooManyRedirects) || p.Attempts != 1 {
				t.Errorf("Err %v, Attempts %d; want ErrTooManyRedirects, not retried", p.Err, p.Attempts)
			}
			if sent != limit+1 {
				t.Errorf("%d requests sent; want %d: the first and the %d redirects allowed", sent, limit+1, limit)
			}
		})
	}
}

// scrapy: test_redirect_urls — a chain of redirects ends at the last URL.
// Scrapy keeps the chain in meta["redirect_urls"]; fetch keeps the final
// URL (Page.FinalURL) and marks every URL of the chain seen, so a link to
// any of them found later is not fetched again.
func TestPortScrapy2RedirectURLs(t *testing.T) {
	log := &sc2Log{}
	h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/first":
			http.Redirect(w, r, "/redirected", http.StatusFound)
		case "/redirected":
			http.Redirect(w, r, "/redirected2", http.StatusFound)
		case "/redirected2":
			html(w, `<a href="/first">1</a><a href="/redirected">2</a><a href="/redirected2">3</a><a href="/leaf">4</a>`)
		default:
			fmt.Fprint(w, "leaf")
		}
	}))
	pages := portCrawl(t.Context(), newCrawler(t, sc2Mem(t, h)), true, "http://a.example/first")
	byURL := portByURL(pages)
	p := byURL["http://a.example/first"]
	if p == nil || p.Err != nil || p.FinalURL != "http://a.example/redirected2" {
		t.Fatalf("first: %+v; want fetched, FinalURL http://a.example/redirected2", p)
	}
	if len(pages) != 2 || byURL["http://a.example/leaf"] == nil {
		t.Errorf("%d pages; want 2, /first and /leaf: the chain's URLs are seen", len(pages))
	}
	for _, u := range []string{"/first", "/redirected", "/redirected2", "/leaf"} {
		if n := log.count("a.example" + u); n != 1 {
			t.Errorf("%s requested %d times; want 1", u, n)
		}
	}
}

// scrapy: a redirect request goes through the scheduler's dupefilter, so a
// redirect to a URL already seen is dropped. fetch: the page comes back
// with ErrAlreadySeen and the URL is not fetched twice (README: "A redirect
// marks the URL it leads to seen before following it, and is not followed to
// a URL seen before (fetched, or queued to be)").
func TestPortScrapy2RedirectToSeenURL(t *testing.T) {
	log := &sc2Log{}
	h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/r1", "/r2":
			http.Redirect(w, r, "/t", http.StatusFound)
		case "/rq":
			http.Redirect(w, r, "/queued", http.StatusMovedPermanently)
		default:
			fmt.Fprint(w, "ok")
		}
	}))
	pages := portByURL(portCrawl(t.Context(), newCrawler(t, sc2Mem(t, h)), false,
		"http://a.example/r1", "http://a.example/r2", "http://a.example/rq", "http://a.example/queued"))
	if n := log.count("a.example/t"); n != 1 {
		t.Errorf("/t requested %d times; want 1", n)
	}
	r1, r2 := pages["http://a.example/r1"], pages["http://a.example/r2"]
	if r1 == nil || r2 == nil {
		t.Fatalf("pages %v; want /r1 and /r2", slices.Collect(maps.Keys(pages)))
	}
	if (r1.Err == nil) == (r2.Err == nil) {
		t.Errorf("/r1 %v, /r2 %v; want one fetched and the other ErrAlreadySeen", r1.Err, r2.Err)
	}
	for _, p := range []*fetch.Page{r1, r2} {
		if p.Err != nil && !errors.Is(p.Err, fetch.ErrAlreadySeen) {
			t.Errorf("%s: %v; want ErrAlreadySeen", p.URL, p.Err)
		}
		if p.Err == nil && p.FinalURL != "http://a.example/t" {
			t.Errorf("%s: FinalURL %q", p.URL, p.FinalURL)
		}
	}
	// A URL queued to be fetched (a seed) is seen already.
	if p := pages["http://a.example/rq"]; p == nil || !errors.Is(p.Err, fetch.ErrAlreadySeen) {
		t.Errorf("/rq: %+v; want ErrAlreadySeen (its target is a queued seed)", p)
	}
	if n := log.count("a.example/queued"); n != 1 {
		t.Errorf("/queued requested %d times; want 1", n)
	}
}

// scrapy: a redirect loop (a → b → a) is broken by the dupefilter as soon
// as it comes back to a URL requested before: each URL is requested once.
// fetch's README: a redirect "is not followed to a URL seen before
// (fetched, or queued to be): its page comes back with ErrAlreadySeen, so
// no page is fetched twice".
func TestPortScrapy2RedirectLoopToSeenURL(t *testing.T) {
	log := &sc2Log{}
	h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/self":
			http.Redirect(w, r, "/self", http.StatusFound)
		case "/a":
			http.Redirect(w, r, "/b", http.StatusFound)
		case "/b":
			http.Redirect(w, r, "/a", http.StatusFound)
		}
	}))
	pages := portByURL(portCrawl(t.Context(), newCrawler(t, sc2Mem(t, h)), false, "http://a.example/self", "http://a.example/a"))
	for _, u := range []string{"/self", "/a", "/b"} {
		if n := log.count("a.example" + u); n != 1 {
			t.Errorf("%s requested %d times; want 1", u, n)
		}
	}
	for _, u := range []string{"http://a.example/self", "http://a.example/a"} {
		if p := pages[u]; p == nil || !errors.Is(p.Err, fetch.ErrAlreadySeen) {
			t.Errorf("%s: %v; want ErrAlreadySeen", u, p.Err)
		}
	}
}

// scrapy: test_redirect_schemes (REDIRECT_SCHEME_CASES) — http and https
// redirect to each other, and a Location may be root-relative or
// protocol-relative; a redirect to another scheme (data, file, ftp, s3, foo)
// is not followed. Scrapy hands back the 301 response itself; fetch fails
// the page with ErrTooManyRedirects (README: "too many redirects, or a
// redirect to another scheme") and sends nothing more.
func TestPortScrapy2RedirectSchemes(t *testing.T) {
	for _, tc := range []struct{ from, loc, want string }{
		{"http://example.com/a", "http://example.com/b", "http://example.com/b"},
		{"http://example.com/a", "https://example.com/b", "https://example.com/b"},
		{"https://example.com/a", "http://example.com/b", "http://example.com/b"},
		{"https://example.com/a", "https://example.com/b", "https://example.com/b"},
		{"http://example.com/a", "//example.com/b", "http://example.com/b"},
		{"https://example.com/a", "//example.com/b", "https://example.com/b"},
		{"http://example.com/a", "/b", "http://example.com/b"},
		{"https://example.com/a", "/b", "https://example.com/b"},
		// A protocol-relative Location to another host.
		{"http://example.com/a", "//other.example/b", "http://other.example/b"},
	} {
		t.Run(tc.from+" to "+tc.loc, func(t *testing.T) {
			log := &sc2Log{}
			f := sc2Mem(t, log.wrap(sc2NoRobots(sc2Redirector)))
			pages := portCrawl(t.Context(), newCrawler(t, f), false, tc.from+"?loc="+url.QueryEscape(tc.loc)+"&status=301")
			if len(pages) != 1 || pages[0].Err != nil || pages[0].FinalURL != tc.want {
				t.Fatalf("pages %+v; want one, FinalURL %s", pages, tc.want)
			}
			u, _ := url.Parse(tc.want)
			if n := log.count(u.Host + u.Path); n != 1 {
				t.Errorf("%s requested %d times; want 1", tc.want, n)
			}
		})
	}

	t.Run("other schemes", func(t *testing.T) {
		// The client New builds, whose redirect policy the README describes.
		log := &sc2Log{}
		ts := httptest.NewServer(log.wrap(sc2NoRobots(sc2Redirector)))
		t.Cleanup(ts.Close)
		var seeds []string
		for _, scheme := range []string{"data", "file", "ftp", "s3", "foo"} {
			seeds = append(seeds, sc2Loc(ts.URL, "/a", scheme+"://example.com/b")+"&status=301")
		}
		pages := portCrawl(t.Context(), newCrawler(t, newFetcher(t)), false, seeds...)
		if len(pages) != len(seeds) {
			t.Fatalf("%d pages; want %d", len(pages), len(seeds))
		}
		for _, p := range pages {
			if !errors.Is(p.Err, fetch.ErrTooManyRedirects) || p.Attempts != 1 {
				t.Errorf("%s: Err %v, Attempts %d; want ErrTooManyRedirects, not retried", p.URL, p.Err, p.Attempts)
			}
		}
		if got := len(log.uris()); got != len(seeds) {
			t.Errorf("%d requests (robots.txt aside); want %d, the redirects only: %q", got, len(seeds), log.uris())
		}
	})
}

// scrapy: test_redirect_302_relative — a Location of "///host/path" is
// protocol-relative, as browsers read it (the WHATWG URL Standard skips any
// number of slashes after a special scheme): Scrapy follows it to
// http://i8n.example2.com/302. RFC 3986 reads it as an empty host, which
// RFC 9110 §4.2.1 says to reject as invalid, as fetch's CHANGELOG says it
// rejects a redirect to a URL without a host (ErrTooManyRedirects). Either way,
// nothing may be requested from the redirecting host's "///i8n.example2.com/302".
func TestPortScrapy2Redirect302Relative(t *testing.T) {
	t.Run("Location", func(t *testing.T) {
		log := &sc2Log{}
		f := sc2Mem(t, log.wrap(sc2NoRobots(sc2Redirector)))
		pages := portCrawl(t.Context(), newCrawler(t, f), false, sc2Loc("http://www.example.com", "/302", "///i8n.example2.com/302"))
		if len(pages) != 1 {
			t.Fatalf("%d pages; want 1", len(pages))
		}
		p := pages[0]
		followed := p.Err == nil && p.FinalURL == "http://i8n.example2.com/302" && log.count("i8n.example2.com/302") == 1
		refused := errors.Is(p.Err, fetch.ErrInvalidURL)
		if !followed && !refused {
			t.Errorf("Err %v, FinalURL %q, requests %q; want http://i8n.example2.com/302 fetched (as Scrapy and browsers), or the redirect refused as hostless", p.Err, p.FinalURL, log.uris())
		}
		for _, r := range log.uris() {
			if strings.HasPrefix(r, "www.example.com//") {
				t.Errorf("requested %s, a path of the redirecting host", r)
			}
		}
	})
	// The same reference as a link: Page.Links resolves links "as a browser
	// resolves them", and a browser (the URL Standard: special authority
	// ignore slashes state) reads it as http://i8n.example2.com/302.
	t.Run("link", func(t *testing.T) {
		h := sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
			html(w, `<a href="///i8n.example2.com/302">1</a><a href="http:///b.example2.com/2">2</a><a href="////c.example2.com/3">3</a><a href="\\\d.example2.com/4">4</a>`)
		})
		pages := portCrawl(t.Context(), newCrawler(t, sc2Mem(t, h)), false, "http://www.example.com/302")
		if len(pages) != 1 {
			t.Fatalf("%d pages; want 1", len(pages))
		}
		want := []string{"http://i8n.example2.com/302", "http://b.example2.com/2", "http://c.example2.com/3", "http://d.example2.com/4"}
		if got := pages[0].Links(); !slices.Equal(got, want) {
			t.Errorf("Links %q; want %q", got, want)
		}
	})
}

// scrapy: test_no_location, and test_redirect_307_308_preserve_method's
// "response without Location header but with status code is 3XX should be
// ignored" — the 3xx response is the response. fetch: a Page whose Err is a
// *StatusError with the 3xx status (a Page's Err is nil only for a 2xx),
// fetched once, nothing followed.
func TestPortScrapy2NoLocation(t *testing.T) {
	log := &sc2Log{}
	h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
		status, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprint(w, `<a href="/elsewhere">x</a>`)
	}))
	pages := portCrawl(t.Context(), newCrawler(t, sc2Mem(t, h)), false,
		"http://a.example/301", "http://a.example/302", "http://a.example/303", "http://a.example/307", "http://a.example/308")
	if len(pages) != 5 {
		t.Fatalf("%d pages; want 5", len(pages))
	}
	for _, p := range pages {
		var se *fetch.StatusError
		if !errors.As(p.Err, &se) || se.StatusCode != p.Status || "http://a.example/"+strconv.Itoa(p.Status) != p.URL || p.Attempts != 1 {
			t.Errorf("%s: Err %v, Status %d, Attempts %d; want a *StatusError with its 3xx status, one attempt", p.URL, p.Err, p.Status, p.Attempts)
		}
	}
	if n := log.count("a.example/elsewhere"); n != 0 || len(log.uris()) != 5 {
		t.Errorf("requests %q; want the five 3xx URLs only", log.uris())
	}
}

// scrapy: test_redirect_307_308_preserve_method (GET),
// test_get_method_body_preserved_on_303 — a crawl's GET stays a GET
// whatever the redirect's status.
func TestPortScrapy2Redirect307308PreserveMethod(t *testing.T) {
	log := &sc2Log{}
	f := sc2Mem(t, log.wrap(sc2NoRobots(sc2Redirector)))
	var seeds []string
	for _, status := range []int{301, 302, 303, 307, 308} {
		seeds = append(seeds, fmt.Sprintf("%s&status=%d", sc2Loc("http://a.example", "/"+strconv.Itoa(status), fmt.Sprintf("/redirected%d", status)), status))
	}
	for _, p := range portCrawl(t.Context(), newCrawler(t, f), false, seeds...) {
		if p.Err != nil {
			t.Errorf("%s: %v", p.URL, p.Err)
		}
	}
	for _, r := range log.all() {
		if r.Method != http.MethodGet {
			t.Errorf("%s%s sent with %s; want GET", r.Host, r.URI, r.Method)
		}
	}
	if n := len(log.uris()); n != 10 {
		t.Errorf("%d requests; want 10: %q", n, log.uris())
	}
}

// scrapy: TestRedirectBase.test_post, test_method_becomes_get,
// test_method_converted_on_303, test_redirect_strips_content_headers,
// test_cross_origin_maintain_body, test_method_not_converted_on_301_302 —
// the request methods a Crawler never sends (it sends GET only), so
// through Fetcher.Fetch: a POST redirected by 301, 302 or 303 becomes a GET
// without its body or content headers; by 307 or 308 it keeps method and
// body, to another origin too. fetch follows net/http here, and differs
// from Scrapy on PUT and DELETE redirected by 301 or 302: net/http makes
// them GETs too (Go issue 18570), which redirect_port_test.go's
// TestPortNetHTTPDeleteRedirects asserts for fetch; Scrapy keeps them.
func TestPortScrapy2MethodBecomesGet(t *testing.T) {
	log := &sc2Log{}
	f := sc2Mem(t, log.wrap(sc2NoRobots(sc2Redirector)))
	for _, tc := range []struct {
		method     string
		status     int
		wantMethod string
		keepBody   bool
	}{
		{"POST", 301, "GET", false},
		{"POST", 302, "GET", false},
		{"POST", 303, "GET", false},
		{"PUT", 303, "GET", false},
		{"DELETE", 303, "GET", false},
		{"POST", 307, "POST", true},
		{"POST", 308, "POST", true},
		{"PUT", 301, "GET", false},    // Scrapy: PUT, with its body
		{"DELETE", 302, "GET", false}, // Scrapy: DELETE, with its body
	} {
		name := fmt.Sprintf("%s %d", tc.method, tc.status)
		t.Run(name, func(t *testing.T) {
			target := fmt.Sprintf("https://attacker.example/%s/%d", tc.method, tc.status)
			src := fmt.Sprintf("%s&status=%d", sc2Loc("https://example.com", "/"+tc.method+"/"+strconv.Itoa(tc.status), target), tc.status)
			r := f.Fetch(t.Context(), src, fetch.Method(tc.method), fetch.Body("text/plain", []byte("test")),
				fetch.Header("Idempotency-Key", name), fetch.Header("X-Custom", "foo"))
			if r.Err != nil || r.FinalURL != target {
				t.Fatalf("Err %v, FinalURL %q", r.Err, r.FinalURL)
			}
			got, ok := log.last(strings.TrimPrefix(target, "https://"))
			if !ok {
				t.Fatalf("%s not requested", target)
			}
			if got.Method != tc.wantMethod {
				t.Errorf("redirected with %s; want %s", got.Method, tc.wantMethod)
			}
			if tc.keepBody && (got.Body != "test" || got.Header.Get("Content-Type") != "text/plain") {
				t.Errorf("body %q, Content-Type %q; want the body kept", got.Body, got.Header.Get("Content-Type"))
			}
			if !tc.keepBody && (got.Body != "" || got.Header.Get("Content-Type") != "" || got.Header.Get("Content-Length") != "") {
				t.Errorf("body %q, Content-Type %q, Content-Length %q; want none", got.Body, got.Header.Get("Content-Type"), got.Header.Get("Content-Length"))
			}
			if got.Header.Get("X-Custom") != "foo" {
				t.Errorf("X-Custom %q; want it kept", got.Header.Get("X-Custom"))
			}
		})
	}
}

// scrapy: test_redirect_keeps_fragment, test_redirect_target_has_fragment
// — the fragment of the URL redirected, or of the Location, is kept in the
// URL the redirect leads to. fetch: a crawl drops a URL's fragment when it
// takes the URL in (its key has none, and it is never sent), so a seed's
// fragment is gone from its Page; a Location's fragment is kept in
// FinalURL (RFC 9110 §10.2.2, fetch's CHANGELOG), and the target is marked
// seen without it.
func TestPortScrapy2RedirectKeepsFragment(t *testing.T) {
	log := &sc2Log{}
	h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/301":
			http.Redirect(w, r, "/redirected", http.StatusMovedPermanently)
		case "/302":
			w.Header().Set("Location", "/redirected2#target")
			w.WriteHeader(http.StatusFound)
		default: // a link back to itself, another spelling for the second
			html(w, `<a href="`+strings.Replace(r.URL.Path, "2", "2#other", 1)+`">again</a>`)
		}
	}))
	pages := portByURL(portCrawl(t.Context(), newCrawler(t, sc2Mem(t, h)), true,
		"http://www.example.com/301#frag", "http://www.example.com/302#original"))
	if len(pages) != 2 {
		t.Fatalf("pages %q; want 2", slices.Collect(maps.Keys(pages)))
	}
	if p := pages["http://www.example.com/301"]; p == nil || p.Err != nil || p.FinalURL != "http://www.example.com/redirected" {
		t.Errorf("301: %+v; want FinalURL http://www.example.com/redirected (Scrapy: …#frag; the crawl took the seed in without it)", p)
	}
	if p := pages["http://www.example.com/302"]; p == nil || p.Err != nil || p.FinalURL != "http://www.example.com/redirected2#target" {
		t.Errorf("302: %+v; want FinalURL http://www.example.com/redirected2#target", p)
	}
	for _, u := range []string{"/redirected", "/redirected2"} {
		if n := log.count("www.example.com" + u); n != 1 {
			t.Errorf("%s requested %d times; want 1", u, n)
		}
	}
	for _, r := range log.all() {
		if strings.Contains(r.URI, "#") {
			t.Errorf("a fragment was sent: %s", r.URI)
		}
	}
}

// scrapy: test_latin1_location, test_utf8_location — a Location with
// bytes outside ASCII is percent-encoded byte for byte.
func TestPortScrapy2Latin1Location(t *testing.T) {
	for name, tc := range map[string]struct{ loc, want string }{
		"latin1": {"/a\xe7\xe3o", "/a%E7%E3o"},
		"utf8":   {"/ação", "/a%C3%A7%C3%A3o"},
	} {
		t.Run(name, func(t *testing.T) {
			log := &sc2Log{}
			h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/first" {
					w.Header()["Location"] = []string{tc.loc}
					w.WriteHeader(http.StatusFound)
					return
				}
				html(w, `<a href="`+tc.want+`">again</a>`)
			}))
			pages := portCrawl(t.Context(), newCrawler(t, sc2Mem(t, h)), true, "http://scrapytest.org/first")
			if len(pages) != 1 || pages[0].Err != nil || pages[0].FinalURL != "http://scrapytest.org"+tc.want {
				t.Fatalf("pages %+v; want one, FinalURL http://scrapytest.org%s", pages, tc.want)
			}
			if n := log.count("scrapytest.org" + tc.want); n != 1 {
				t.Errorf("%s requested %d times; want 1 (%q)", tc.want, n, log.uris())
			}
		})
	}
}

// scrapy: TestRedirectBase.test_dont_redirect, test_spider_handling and
// test_request_meta_handling (handle_httpstatus_list) — the redirect
// response is handed to the spider instead of followed. fetch has no
// per-request switch: a Fetcher given a client whose CheckRedirect returns
// http.ErrUseLastResponse hands back the 3xx (WithClient's doc), which the
// crawl yields as a Page with a *StatusError, its Location in Header; the
// loop body may Follow it, one level deeper.
func TestPortScrapy2DontRedirect(t *testing.T) {
	log := &sc2Log{}
	h := log.wrap(sc2NoRobots(sc2Redirector))
	client := &http.Client{
		Transport:     memhttp.Transport{Handler: h},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	f, err := fetch.New(fetch.WithClient(client))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	seed := sc2Loc("http://www.example.com", "/301", "http://www.example.com/redirected") + "&status=301"
	var pages []*fetch.Page
	for p := range newCrawler(t, f).Run(t.Context(), seed) {
		pages = append(pages, p)
		if loc := p.Header.Get("Location"); p.Status/100 == 3 && loc != "" {
			p.Follow(loc)
		}
	}
	if len(pages) != 2 {
		t.Fatalf("%d pages; want 2", len(pages))
	}
	var se *fetch.StatusError
	if p := pages[0]; !errors.As(p.Err, &se) || p.Status != 301 || p.URL != seed {
		t.Errorf("first page: URL %s, Status %d, Err %v; want the 301", p.URL, p.Status, p.Err)
	}
	if p := pages[1]; p.Err != nil || p.URL != "http://www.example.com/redirected" || p.Depth != 1 || p.Referrer != seed {
		t.Errorf("followed: URL %s, Err %v, Depth %d, Referrer %q; want the Location at depth 1, found on the 301", p.URL, p.Err, p.Depth, p.Referrer)
	}
	if n := log.count("www.example.com/redirected"); n != 1 {
		t.Errorf("/redirected requested %d times; want 1", n)
	}
}

// scrapy: TestRedirectBase.test_priority_adjust — a redirect goes before
// the requests queued behind it (REDIRECT_PRIORITY_ADJUST = +2). fetch
// follows a redirect within the call, on its worker (README: "a redirect
// waiting for the gates of the host it leads to" keeps its worker): with one
// worker, the target is fetched before the next URL queued.
func TestPortScrapy2RedirectPriorityAdjust(t *testing.T) {
	log := &sc2Log{}
	f := sc2Mem(t, log.wrap(sc2NoRobots(sc2Redirector)), fetch.WithConcurrency(1))
	portCrawl(t.Context(), newCrawler(t, f, fetch.CrawlIgnoreRobots()), false,
		sc2Loc("http://a.example", "/r", "/t"), "http://a.example/x", "http://a.example/y")
	want := []string{"a.example/r?loc=%2Ft", "a.example/t", "a.example/x", "a.example/y"}
	if got := log.uris(); !slices.Equal(got, want) {
		t.Errorf("requests %q; want %q", got, want)
	}
}

// scrapy: test_redirect_referer, test_redirect_strips_referer_no_middleware
// and tests/test_crawl.py test_referer_header — a redirect carries the URL
// it comes from as Referer, but not from https to http; a request for a
// link carries the page it was found on. fetch: the redirect's Referer is
// net/http's (no fragment: fetch's CHANGELOG); a link's page records where
// it was found in Page.Referrer and Page.Depth. Referrer-Policy
// (test_response_referrer_policy, the origin policy case) is Scrapy's
// RefererMiddleware and has no counterpart.
func TestPortScrapy2RedirectReferer(t *testing.T) {
	log := &sc2Log{}
	f := sc2Mem(t, log.wrap(sc2NoRobots(sc2Redirector)))
	pages := portByURL(portCrawl(t.Context(), newCrawler(t, f), false,
		sc2Loc("http://www.example.com", "/302", "http://www.example.com/redirected"),
		sc2Loc("https://www.example.com", "/302s", "http://www.example.com/redirected2")))
	for _, p := range pages {
		if p.Err != nil {
			t.Errorf("%s: %v", p.URL, p.Err)
		}
	}
	if r, _ := log.last("www.example.com/redirected"); r.Header.Get("Referer") != sc2Loc("http://www.example.com", "/302", "http://www.example.com/redirected") {
		t.Errorf("Referer %q; want the URL redirected", r.Header.Get("Referer"))
	}
	if r, _ := log.last("www.example.com/redirected2"); r.Header.Get("Referer") != "" {
		t.Errorf("Referer %q after https → http; want none", r.Header.Get("Referer"))
	}
}

// tests/test_crawl.py test_referer_header — the seed has no referrer; a
// link followed has the page it was found on (fetch: Page.Referrer, not a
// Referer header, which fetch does not document sending for links).
func TestPortScrapy2RefererHeader(t *testing.T) {
	log := &sc2Log{}
	h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
		html(w, `<a href="/echo?n=`+strconv.Itoa(len(r.URL.Query().Get("n"))+1)+`">next</a>`)
	}))
	pages := portCrawl(t.Context(), newCrawler(t, sc2Mem(t, h), fetch.CrawlMaxDepth(2)), true, "http://mock.test/echo")
	if len(pages) != 3 {
		t.Fatalf("%d pages; want 3", len(pages))
	}
	for i, p := range pages {
		wantRef := ""
		if i > 0 {
			wantRef = pages[i-1].URL
		}
		if p.Err != nil || p.Referrer != wantRef || p.Depth != i {
			t.Errorf("page %d %s: Err %v, Referrer %q, Depth %d; want Referrer %q, Depth %d", i, p.URL, p.Err, p.Referrer, p.Depth, wantRef, i)
		}
	}
	for _, r := range log.all() {
		if r.URI != "/robots.txt" {
			t.Logf("%s sent with Referer %q (Scrapy sends the page the link was found on)", r.URI, r.Header.Get("Referer"))
		}
	}
}

// scrapy: tests/test_downloadermiddleware_redirect_metarefresh.py
// test_meta_refresh — Scrapy's MetaRefreshMiddleware follows <meta
// http-equiv="refresh">. fetch does so only with CrawlMetaRefresh: by
// default a page with one is a page, its refresh URL is neither fetched
// nor among Page.Links (the href of <a> and <area> elements); the loop
// body may Follow it (Page.Refresh reports it).
func TestPortScrapy2MetaRefresh(t *testing.T) {
	log := &sc2Log{}
	h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			html(w, `<html><head><meta http-equiv="refresh" content="5;url=http://example.org/newpage" /></head></html>`)
			return
		}
		fmt.Fprint(w, "new")
	}))
	f := sc2Mem(t, h)
	pages := portCrawl(t.Context(), newCrawler(t, f), true, "http://example.org/")
	if len(pages) != 1 || pages[0].Err != nil || pages[0].FinalURL != "http://example.org/" {
		t.Fatalf("pages %+v; want the page itself", pages)
	}
	if links := pages[0].Links(); len(links) != 0 {
		t.Errorf("Links %q; want none", links)
	}
	if n := log.count("example.org/newpage"); n != 0 {
		t.Errorf("the refresh URL was fetched %d times; want 0", n)
	}
	// Followed by the caller, it is one level deeper.
	var got []*fetch.Page
	for p := range newCrawler(t, f).Run(t.Context(), "http://example.org/") {
		got = append(got, p)
		if p.Depth == 0 {
			p.Follow("http://example.org/newpage")
		}
	}
	if len(got) != 2 || got[1].URL != "http://example.org/newpage" || got[1].Depth != 1 || got[1].Err != nil {
		t.Errorf("pages %+v; want the refresh URL at depth 1", got)
	}
}

// ------------------------------------------------ test_downloadermiddleware_retry.py

// scrapy: TestRetry.test_503 (max_retry_times = 2: the request is sent
// three times, then given up) and tests/test_crawl.py test_retry_503. fetch:
// RetryPolicy.MaxAttempts counts the first attempt, so RETRY_TIMES = 2 is
// MaxAttempts 3. Retries are within the page's call: the page is yielded
// once, with Attempts, and a page that succeeds on a retry has its links
// followed once.
func TestPortScrapy2Retry503(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &sc2Log{}
		var mu sync.Mutex
		seen := map[string]int{}
		h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[r.URL.Path]++
			n := seen[r.URL.Path]
			mu.Unlock()
			if r.URL.Path == "/r" {
				http.Redirect(w, r, "/flaky-target", http.StatusFound)
				return
			}
			if r.URL.Path == "/503" || r.URL.Path == "/flaky" && n <= 2 || r.URL.Path == "/flaky-target" && n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			html(w, `<a href="/leaf">leaf</a>`)
		}))
		f := sc2Mem(t, h, fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 3}))
		pages := portByURL(portCrawl(t.Context(), newCrawler(t, f), true, "http://scrapytest.org/503", "http://scrapytest.org/flaky", "http://scrapytest.org/r"))
		if len(pages) != 4 {
			t.Errorf("pages %q; want /503, /flaky, /r and /leaf", slices.Collect(maps.Keys(pages)))
		}
		var se *fetch.StatusError
		if p := pages["http://scrapytest.org/503"]; p == nil || !errors.As(p.Err, &se) || se.StatusCode != 503 || p.Attempts != 3 {
			t.Errorf("/503: %+v; want a 503 *StatusError after 3 attempts", p)
		}
		if p := pages["http://scrapytest.org/flaky"]; p == nil || p.Err != nil || p.Attempts != 3 {
			t.Errorf("/flaky: %+v; want fetched at the third attempt", p)
		}
		// A redirected request that fails is retried from the URL
		// redirected (Fetcher.Do: "a retry starts again at req's URL");
		// Scrapy retries the redirected request itself, so sends /r once.
		if p := pages["http://scrapytest.org/r"]; p == nil || p.Err != nil || p.Attempts != 2 || p.FinalURL != "http://scrapytest.org/flaky-target" {
			t.Errorf("/r: %+v; want fetched at the second attempt, from /flaky-target", p)
		}
		for u, want := range map[string]int{"/503": 3, "/flaky": 3, "/leaf": 1, "/r": 2, "/flaky-target": 2} {
			if n := log.count("scrapytest.org" + u); n != want {
				t.Errorf("%s requested %d times; want %d", u, n, want)
			}
		}
	})
}

// scrapy: test_404 and RETRY_HTTP_CODES (500, 502, 503, 504, 522, 524, 408,
// 429) — which statuses are retried. fetch's DefaultRetryable retries 408,
// 429, 500, 502, 503 and 504 (README, "What is retried"): not Cloudflare's
// 522 and 524, which Scrapy retries; a RetryPolicy.Retryable of the
// caller's adds them, as RETRY_HTTP_CODES would.
func TestPortScrapy2RetryHTTPCodes(t *testing.T) {
	codes := map[int]bool{ // retried by fetch's default
		500: true, 502: true, 503: true, 504: true, 408: true, 429: true,
		522: false, 524: false, 400: false, 403: false, 404: false, 501: false,
	}
	crawl := func(t *testing.T, status int, policy fetch.RetryPolicy) *fetch.Page {
		h := sc2NoRobots(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
		pages := portCrawl(t.Context(), newCrawler(t, sc2Mem(t, h, fetch.WithRetry(policy))), false, "http://www.scrapytest.org/"+strconv.Itoa(status))
		if len(pages) != 1 {
			t.Fatalf("%d pages; want 1", len(pages))
		}
		return pages[0]
	}
	for status, retried := range codes {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				want := 1
				if retried {
					want = 3
				}
				var se *fetch.StatusError
				if p := crawl(t, status, fetch.RetryPolicy{MaxAttempts: 3}); !errors.As(p.Err, &se) || se.StatusCode != status || p.Attempts != want {
					t.Errorf("Err %v, Attempts %d; want a *StatusError after %d attempts", p.Err, p.Attempts, want)
				}
			})
		})
	}
	t.Run("RETRY_HTTP_CODES", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			scrapyCodes := func(resp *http.Response, err error) bool {
				return fetch.DefaultRetryable(resp, err) || resp != nil && (resp.StatusCode == 522 || resp.StatusCode == 524)
			}
			for _, status := range []int{522, 524} {
				if p := crawl(t, status, fetch.RetryPolicy{MaxAttempts: 3, Retryable: scrapyCodes}); p.Attempts != 3 {
					t.Errorf("%d: Attempts %d; want 3", status, p.Attempts)
				}
			}
		})
	})
}

// scrapy: TestMaxRetryTimes test_with_settings_zero, test_without_metakey
// (RETRY_TIMES = 5), TestRetry.test_dont_retry and
// TestGetRetryRequest.test_max_retry_times_setting — how many times a
// request is sent. fetch sets it per Fetcher (MaxAttempts = RETRY_TIMES +
// 1); Scrapy's per-request max_retry_times and dont_retry have no
// counterpart (a crawl that must not retry uses a Fetcher with
// MaxAttempts 1).
func TestPortScrapy2MaxRetryTimes(t *testing.T) {
	for _, retryTimes := range []int{0, 2, 5} {
		t.Run(fmt.Sprintf("RETRY_TIMES %d", retryTimes), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				log := &sc2Log{}
				h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
				f := sc2Mem(t, h, fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: retryTimes + 1}))
				pages := portCrawl(t.Context(), newCrawler(t, f), false, "http://www.scrapytest.org/invalid_url")
				if len(pages) != 1 || pages[0].Attempts != retryTimes+1 || pages[0].Err == nil {
					t.Fatalf("pages %+v; want one failed page after %d attempts", pages, retryTimes+1)
				}
				if n := log.count("www.scrapytest.org/invalid_url"); n != retryTimes+1 {
					t.Errorf("sent %d times; want %d", n, retryTimes+1)
				}
			})
		})
	}
}

// scrapy: TestRetry.test_priority_adjust (RETRY_PRIORITY_ADJUST = -1: a
// retry goes after the requests already queued). fetch deliberately
// differs: "A request waiting between retries keeps its worker" (README,
// Many hosts), so with one worker the retry goes before the next URL.
func TestPortScrapy2RetryPriorityAdjust(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &sc2Log{}
		var once sync.Once
		h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
			failed := false
			if r.URL.Path == "/503" {
				once.Do(func() { failed = true })
			}
			if failed {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, "ok")
		}))
		f := sc2Mem(t, h, fetch.WithConcurrency(1))
		portCrawl(t.Context(), newCrawler(t, f, fetch.CrawlIgnoreRobots()), false, "http://a.example/503", "http://a.example/x")
		want := []string{"a.example/503", "a.example/503", "a.example/x"} // Scrapy: /503, /x, /503
		if got := log.uris(); !slices.Equal(got, want) {
			t.Errorf("requests %q; want %q", got, want)
		}
	})
}

// sc2Transport is an http.RoundTripper of a test's own.
type sc2Transport func(*http.Request) (*http.Response, error)

func (f sc2Transport) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// errSc2Custom is an error that no classifier knows.
var errSc2Custom = errors.New("ValueError: foo")

// scrapy: TestRetry.test_twistederrors, test_exception_to_retry_added, and
// tests/test_crawl.py test_retry_conn_failed, test_retry_conn_lost,
// test_retry_conn_aborted, test_retry_dns_error — the network errors that
// are retried (three attempts, then given up). fetch retries connection
// refused, a connection lost before or during the response, and a timeout;
// it deliberately does not retry a name that does not resolve (README:
// "It never retries ... names that don't resolve"), which Scrapy retries
// (CannotResolveHostError); a temporary DNS failure it retries. An error
// type of the caller's is retried through RetryPolicy.Retryable, as
// RETRY_EXCEPTIONS adds one.
func TestPortScrapy2TwistedErrors(t *testing.T) {
	run := func(t *testing.T, f *fetch.Fetcher, seed string) *fetch.Page {
		t.Helper()
		pages := portCrawl(t.Context(), newCrawler(t, f, fetch.CrawlIgnoreRobots()), false, seed)
		if len(pages) != 1 {
			t.Fatalf("%d pages; want 1", len(pages))
		}
		return pages[0]
	}
	dropper := func(abort bool) (*httptest.Server, *sc2Log) {
		log := &sc2Log{}
		ts := httptest.NewServer(log.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			if abort { // connection reset, nothing written
				conn.(*net.TCPConn).SetLinger(0)
				return
			}
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\nthis connection will be dropped\n")
			buf.Flush()
		})))
		t.Cleanup(ts.Close)
		return ts, log
	}

	t.Run("ConnectionRefusedError", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		p := run(t, newFetcher(t, sc2Retry(3)), "http://"+addr+"/status?n=503")
		if !errors.Is(p.Err, syscall.ECONNREFUSED) || p.Attempts != 3 {
			t.Errorf("Err %v, Attempts %d; want ECONNREFUSED after 3 attempts", p.Err, p.Attempts)
		}
	})
	for name, abort := range map[string]bool{"ConnectionLost": false, "ConnectionAborted": true} {
		t.Run(name, func(t *testing.T) {
			ts, log := dropper(abort)
			p := run(t, newFetcher(t, sc2Retry(3)), ts.URL+"/drop?abort="+strconv.FormatBool(abort))
			if p.Err == nil || p.Attempts != 3 || len(log.all()) != 3 {
				t.Errorf("Err %v, Attempts %d, server saw %d; want a failure after 3 attempts", p.Err, p.Attempts, len(log.all()))
			}
		})
	}
	t.Run("DownloadTimeoutError", func(t *testing.T) {
		log := &sc2Log{}
		ts := httptest.NewServer(log.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		})))
		t.Cleanup(ts.Close)
		p := run(t, newFetcher(t, sc2Retry(3), fetch.WithAttemptTimeout(50*time.Millisecond)), ts.URL+"/delay")
		if !errors.Is(p.Err, fetch.ErrAttemptTimeout) || p.Attempts != 3 || len(log.all()) != 3 {
			t.Errorf("Err %v, Attempts %d, server saw %d; want ErrAttemptTimeout after 3 attempts", p.Err, p.Attempts, len(log.all()))
		}
	})
	for name, tc := range map[string]struct {
		err      error
		attempts int
		retry    func(*http.Response, error) bool
	}{
		"CannotResolveHostError": {&net.DNSError{Err: "no such host", Name: "dns.resolution.invalid", IsNotFound: true}, 1, nil},
		"temporary DNS failure":  {&net.DNSError{Err: "server misbehaving", Name: "dns.resolution.invalid", IsTemporary: true}, 3, nil},
		"unknown error":          {errSc2Custom, 1, nil},
		"test_exception_to_retry_added": {errSc2Custom, 3, func(resp *http.Response, err error) bool {
			return fetch.DefaultRetryable(resp, err) || errors.Is(err, errSc2Custom)
		}},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				sent := 0
				client := &http.Client{Transport: sc2Transport(func(r *http.Request) (*http.Response, error) {
					mu.Lock()
					sent++
					mu.Unlock()
					return nil, tc.err
				})}
				f, err := fetch.New(fetch.WithClient(client), fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 3, Retryable: tc.retry}))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Shutdown(context.Background())
				p := run(t, f, "http://dns.resolution.invalid./")
				if !errors.Is(p.Err, tc.err) || p.Attempts != tc.attempts || sent != tc.attempts {
					t.Errorf("Err %v, Attempts %d, sent %d; want %v after %d attempts", p.Err, p.Attempts, sent, tc.err, tc.attempts)
				}
			})
		})
	}
}

// ------------------------------------------------ offsite

// sc2Offsite serves every host: /links?to=U links to U, /r?loc=L
// redirects to L, robots.txt is 404, the rest answers "ok".
func sc2Offsite(log *sc2Log) http.Handler {
	return log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/links":
			var b strings.Builder
			for _, to := range r.URL.Query()["to"] {
				fmt.Fprintf(&b, `<a href="%s">x</a>`, to)
			}
			html(w, b.String())
		case "/r":
			sc2Redirector(w, r)
		default:
			fmt.Fprint(w, "ok")
		}
	}))
}

func sc2LinksTo(base string, to ...string) string {
	q := url.Values{"to": to}
	return base + "/links?" + q.Encode()
}

// scrapy: tests/test_downloadermiddleware_offsite.py
// test_process_request_domain_filtering and
// test_request_scheduled_domain_filtering — allowed_domains keeps a crawl
// on those domains and their subdomains, whatever the port. fetch:
// CrawlHosts. A seed outside comes back as a Page with ErrOutOfScope,
// nothing sent to its host, not even for robots.txt (Scrapy's
// IgnoreRequest); a link outside is not followed.
func TestPortScrapy2ProcessRequestDomainFiltering(t *testing.T) {
	for _, tc := range []struct {
		allowed, url string
		ok           bool
	}{
		{"example.com", "http://example.com/1", true},
		{"example.com", "http://example.org/1", false},
		{"example.com", "http://sub.example.com/1", true},
		{"sub.example.com", "http://sub.example.com/1", true},
		{"sub.example.com", "http://example.com/1", false},
		{"example.com", "http://example.com:8000/1", true},
		{"example.com", "http://example.org/example.com", false},
		{"example.com", "http://example.org/foo.example.com", false},
		{"example.com", "http://example.com.example", false},
		{"a.example", "http://nota.example", false},
		{"b.a.example", "http://notb.a.example", false},
	} {
		t.Run(tc.allowed+" "+tc.url, func(t *testing.T) {
			u, _ := url.Parse(tc.url)
			t.Run("seed", func(t *testing.T) {
				log := &sc2Log{}
				pages := portCrawl(t.Context(), newCrawler(t, sc2Mem(t, sc2Offsite(log)), fetch.CrawlHosts(tc.allowed)), false, tc.url)
				if len(pages) != 1 {
					t.Fatalf("%d pages; want 1", len(pages))
				}
				p := pages[0]
				if tc.ok && (p.Err != nil || log.count(u.Host+u.RequestURI()) != 1) {
					t.Errorf("Err %v, requests %q; want fetched", p.Err, log.uris())
				}
				if !tc.ok && (!errors.Is(p.Err, fetch.ErrOutOfScope) || len(log.all()) != 0) {
					t.Errorf("Err %v, requests %q; want ErrOutOfScope and nothing sent", p.Err, log.uris())
				}
			})
			t.Run("link", func(t *testing.T) {
				log := &sc2Log{}
				pages := portCrawl(t.Context(), newCrawler(t, sc2Mem(t, sc2Offsite(log)), fetch.CrawlHosts(tc.allowed)), true,
					sc2LinksTo("http://"+tc.allowed, tc.url))
				want := 1
				if tc.ok {
					want = 2
				}
				if len(pages) != want || log.hosts()[u.Host] != tc.ok {
					t.Errorf("%d pages, hosts sent to %v; want %d pages, %s sent to: %v", len(pages), log.hosts(), want, u.Host, tc.ok)
				}
				for _, p := range pages {
					if p.Err != nil {
						t.Errorf("%s: %v", p.URL, p.Err)
					}
				}
			})
		})
	}
}

// scrapy: tests/test_spidermiddleware_offsite.py (2c1c10e92^)
// TestOffsiteMiddleware.test_process_spider_output — of the links a page
// gives, those to allowed domains (subdomains and other ports included) are
// followed, the rest dropped; dont_filter=True and meta allow_offsite let a
// link through. fetch has no per-link override: a CrawlScope of the
// caller's, which may consult a set of URLs let through, does it. (The
// downloader middleware's test_process_request_dont_filter and
// test_process_request_allow_offsite are the same rule.)
func TestPortScrapy2ProcessSpiderOutput(t *testing.T) {
	domains := []string{"scrapytest.org", "scrapy.org", "scrapy.test.org"}
	onsite := []string{
		"http://scrapytest.org/1",
		"http://scrapy.org/1",
		"http://sub.scrapy.org/1",
		"http://scrapy.test.org/",
		"http://scrapy.test.org:8000/",
	}
	letThrough := []string{
		"http://offsite.tld/letmepass", // dont_filter=True
		"http://offsite-2.tld/allow",   // meta allow_offsite
	}
	offsite := []string{
		"http://scrapy2.org/",
		"http://offsite.tld/",
		"http://offsite.tld/scrapytest.org",
		"http://offsite.tld/rogue.scrapytest.org",
		"http://rogue.scrapytest.org.haha.com/",
		"http://roguescrapytest.org/",
		"http://test.org/",
		"http://notscrapy.test.org/",
	}
	all := slices.Concat(onsite, letThrough, offsite)
	followed := func(t *testing.T, opt fetch.CrawlOption) []string {
		log := &sc2Log{}
		seed := sc2LinksTo("http://scrapytest.org", all...)
		var got []string
		for _, p := range portCrawl(t.Context(), newCrawler(t, sc2Mem(t, sc2Offsite(log)), opt), true, seed) {
			if p.Err != nil {
				t.Errorf("%s: %v", p.URL, p.Err)
			}
			if p.URL != seed {
				got = append(got, p.URL)
			}
		}
		slices.Sort(got)
		return got
	}
	t.Run("allowed domains", func(t *testing.T) {
		want := slices.Sorted(slices.Values(onsite))
		if got := followed(t, fetch.CrawlHosts(domains...)); !slices.Equal(got, want) {
			t.Errorf("followed %q; want %q", got, want)
		}
	})
	t.Run("dont_filter and allow_offsite", func(t *testing.T) {
		scope := fetch.CrawlScope(func(u *url.URL) bool {
			if slices.Contains(letThrough, u.String()) {
				return true
			}
			host := strings.ToLower(u.Hostname())
			return slices.ContainsFunc(domains, func(d string) bool { return host == d || strings.HasSuffix(host, "."+d) })
		})
		want := slices.Sorted(slices.Values(slices.Concat(onsite, letThrough)))
		if got := followed(t, scope); !slices.Equal(got, want) {
			t.Errorf("followed %q; want %q", got, want)
		}
	})
}

// scrapy: test_process_request_no_allowed_domains,
// test_request_scheduled_no_allowed_domains, and TestOffsiteMiddleware2/3
// of the spider middleware — without allowed_domains nothing is filtered.
// fetch: a crawl without CrawlHosts or CrawlScope follows links to any host.
func TestPortScrapy2NoAllowedDomains(t *testing.T) {
	log := &sc2Log{}
	pages := portCrawl(t.Context(), newCrawler(t, sc2Mem(t, sc2Offsite(log))), true,
		sc2LinksTo("http://scrapytest.org", "http://a.com/b.html", "http://b.com/1"))
	if len(pages) != 3 || log.count("a.com/b.html") != 1 || log.count("b.com/1") != 1 {
		t.Errorf("%d pages, requests %q; want both links followed", len(pages), log.uris())
	}
}

// scrapy: test_process_request_invalid_domains (and the spider
// middleware's TestOffsiteMiddleware4/5/6) — an allowed_domains entry that
// is not a bare domain (None, a URL, a domain with a port) is ignored with
// a URLWarning or PortWarning, and the other entries apply. fetch
// deliberately refuses it: NewCrawler fails naming the entry (CrawlHosts'
// doc: "A host is a bare name or IP address"). A bare name is all it takes.
func TestPortScrapy2InvalidDomains(t *testing.T) {
	f := sc2Mem(t, sc2Offsite(&sc2Log{}))
	for _, bad := range []string{"http:////b.example", "//c.example", "http://scrapytest.org", "scrapytest.org:8000", ""} {
		if _, err := fetch.NewCrawler(f, fetch.CrawlHosts("a.example", bad)); err == nil {
			t.Errorf("CrawlHosts(%q): NewCrawler succeeded; want it refused", bad)
		}
	}
	log := &sc2Log{}
	pages := portByURL(portCrawl(t.Context(), newCrawler(t, sc2Mem(t, sc2Offsite(log)), fetch.CrawlHosts("a.example")), false,
		"https://a.example/", "https://b.example/", "https://c.example/"))
	if p := pages["https://a.example/"]; p == nil || p.Err != nil {
		t.Errorf("a.example: %+v; want fetched", p)
	}
	for _, u := range []string{"https://b.example/", "https://c.example/"} {
		if p := pages[u]; p == nil || !errors.Is(p.Err, fetch.ErrOutOfScope) {
			t.Errorf("%s: %+v; want ErrOutOfScope", u, p)
		}
	}
}

// scrapy: test_should_follow_override — a subclass allows only the exact
// hosts listed, not their subdomains. fetch: a CrawlScope of the caller's.
func TestPortScrapy2ShouldFollowOverride(t *testing.T) {
	log := &sc2Log{}
	exact := fetch.CrawlScope(func(u *url.URL) bool { return u.Hostname() == "example.com" })
	pages := portByURL(portCrawl(t.Context(), newCrawler(t, sc2Mem(t, sc2Offsite(log)), exact), false,
		"https://example.com/1", "https://www.example.com/1"))
	if p := pages["https://example.com/1"]; p == nil || p.Err != nil {
		t.Errorf("example.com: %+v; want fetched", p)
	}
	if p := pages["https://www.example.com/1"]; p == nil || !errors.Is(p.Err, fetch.ErrOutOfScope) || log.hosts()["www.example.com"] {
		t.Errorf("www.example.com: %+v; want ErrOutOfScope, nothing sent", p)
	}
}

// scrapy: test_ignore_request_reason and test_repeated_offsite_domain —
// the refusal names the host ("Filtered offsite request to 'other.org'"),
// each time a URL there is given. fetch: each seed outside the scope is a
// Page whose Err matches ErrOutOfScope and names the URL.
func TestPortScrapy2IgnoreRequestReason(t *testing.T) {
	log := &sc2Log{}
	pages := portCrawl(t.Context(), newCrawler(t, sc2Mem(t, sc2Offsite(log)), fetch.CrawlHosts("example.com")), false,
		"http://other.org/1", "http://other.org/2")
	if len(pages) != 2 {
		t.Fatalf("%d pages; want 2", len(pages))
	}
	for _, p := range pages {
		if !errors.Is(p.Err, fetch.ErrOutOfScope) || !strings.Contains(p.Err.Error(), "other.org") {
			t.Errorf("%s: %v; want ErrOutOfScope naming other.org", p.URL, p.Err)
		}
	}
	if len(log.all()) != 0 {
		t.Errorf("requests %q; want none", log.uris())
	}
}

// scrapy: test_dynamic_allowed_domains — allowed_domains changed while the
// spider runs applies to the requests made after. fetch: CrawlScope's
// function is asked at each link followed, so a scope the loop body
// changes (under a lock: it runs on the crawl's goroutines) applies to the
// links it follows next.
func TestPortScrapy2DynamicAllowedDomains(t *testing.T) {
	var mu sync.Mutex
	allowed := map[string]bool{"a.example": true}
	scope := fetch.CrawlScope(func(u *url.URL) bool {
		mu.Lock()
		defer mu.Unlock()
		return allowed[u.Hostname()]
	})
	log := &sc2Log{}
	seed := sc2LinksTo("https://a.example", "https://b.example/1", "https://a.example/2")
	var pages []*fetch.Page
	for p := range newCrawler(t, sc2Mem(t, sc2Offsite(log)), scope).Run(t.Context(), seed, "https://b.example/0") {
		pages = append(pages, p)
		if p.URL == seed {
			mu.Lock()
			allowed["b.example"] = true
			delete(allowed, "a.example")
			mu.Unlock()
			p.Follow(p.Links()...)
		}
	}
	byURL := portByURL(pages)
	if p := byURL["https://b.example/0"]; p == nil || !errors.Is(p.Err, fetch.ErrOutOfScope) {
		t.Errorf("b.example seed, before b.example was allowed: %+v; want ErrOutOfScope", p)
	}
	if p := byURL["https://b.example/1"]; p == nil || p.Err != nil {
		t.Errorf("b.example link, after: %+v; want fetched", p)
	}
	if p := byURL["https://a.example/2"]; p != nil || log.count("a.example/2") != 0 {
		t.Errorf("a.example link, after a.example was removed: %+v; want not followed", p)
	}
}

// scrapy: the downloader OffsiteMiddleware sees every request, redirects
// included (test_process_request_domain_filtering is its process_request):
// a redirect off the allowed domains is dropped. fetch: the page comes
// back with ErrOutOfScope (README: "a redirect leading out ... nothing is
// sent there").
func TestPortScrapy2OffsiteRedirect(t *testing.T) {
	log := &sc2Log{}
	pages := portCrawl(t.Context(), newCrawler(t, sc2Mem(t, sc2Offsite(log)), fetch.CrawlHosts("example.com")), false,
		sc2Loc("http://example.com", "/r", "http://other.org/1"), sc2Loc("http://example.com", "/r", "http://sub.example.com/1"))
	byURL := portByURL(pages)
	if p := byURL[sc2Loc("http://example.com", "/r", "http://other.org/1")]; p == nil || !errors.Is(p.Err, fetch.ErrOutOfScope) {
		t.Errorf("redirect off: %+v; want ErrOutOfScope", p)
	}
	if p := byURL[sc2Loc("http://example.com", "/r", "http://sub.example.com/1")]; p == nil || p.Err != nil || p.FinalURL != "http://sub.example.com/1" {
		t.Errorf("redirect to a subdomain: %+v; want followed", p)
	}
	if log.hosts()["other.org"] {
		t.Errorf("requests %q; want nothing sent to other.org", log.uris())
	}
}

// ------------------------------------------------ test_spidermiddleware_urllength.py

// scrapy: test_middleware_works (URLLENGTH_LIMIT = 25) — a link whose URL
// is longer than the limit is dropped. fetch has no URL-length option: a
// CrawlScope of the caller's does it. Two deliberate differences: the scope
// also refuses a seed, as a Page with ErrOutOfScope (Scrapy drops start
// requests silently), and it is given each URL without its fragment
// (CrawlScope's doc), which Scrapy's request.url counts.
func TestPortScrapy2UrlLengthMiddlewareWorks(t *testing.T) {
	const maxlength = 25
	short := fetch.CrawlScope(func(u *url.URL) bool { return len(u.String()) <= maxlength })
	log := &sc2Log{}
	long := "http://scrapytest.org/this_is_a_long_url"
	withFragment := "http://scrapytest.org/f#a-fragment-past-the-limit"
	seed := "http://scrapytest.org/s" // the page the links are on
	h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
		html(w, `<a href="http://scrapytest.org/">short</a><a href="`+long+`">long</a><a href="`+withFragment+`">fragment</a>`)
	}))
	f := sc2Mem(t, h)
	pages := portByURL(portCrawl(t.Context(), newCrawler(t, f, short, fetch.CrawlMaxDepth(1)), true, seed, long))
	if p := pages["http://scrapytest.org/"]; p == nil || p.Err != nil {
		t.Errorf("short link: %+v; want fetched", p)
	}
	if p := pages["http://scrapytest.org/f"]; p == nil || p.Err != nil {
		t.Errorf("short link with a long fragment: %+v; want fetched (Scrapy: dropped)", p)
	}
	if n := log.count("scrapytest.org/this_is_a_long_url"); n != 0 {
		t.Errorf("the long URL was requested %d times; want 0", n)
	}
	if p := pages[long]; p == nil || !errors.Is(p.Err, fetch.ErrOutOfScope) || p.Depth != 0 {
		t.Errorf("long seed: %+v; want ErrOutOfScope", p)
	}
	if len(pages) != 4 {
		t.Errorf("pages %q; want the seed, the two short links, and the long seed refused", slices.Collect(maps.Keys(pages)))
	}
}

// scrapy: test_not_configured_without_limit — with URLLENGTH_LIMIT = 0
// nothing is dropped. fetch: without a scope a URL of any length is
// followed.
func TestPortScrapy2NotConfiguredWithoutLimit(t *testing.T) {
	log := &sc2Log{}
	long := "http://scrapytest.org/" + strings.Repeat("a", 3000)
	h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) { html(w, `<a href="`+long+`">long</a>`) }))
	pages := portCrawl(t.Context(), newCrawler(t, sc2Mem(t, h), fetch.CrawlMaxDepth(1)), true, "http://scrapytest.org/")
	if len(pages) != 2 || log.count(strings.TrimPrefix(long, "http://")) != 1 {
		t.Errorf("%d pages; want the long URL followed too", len(pages))
	}
}

// ------------------------------------------------ test_crawl.py

// sc2Follow is tests/mockserver's /follow resource: a page linking to show
// pages of /follow picked at random among total (n=1…total), keeping the
// query's other arguments; the start page has no n. Its picks are seeded by
// n, so the site is the same each run; lag says how long each page takes.
func sc2Follow(lag func(n int) time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		total, _ := strconv.Atoi(cmp.Or(q.Get("total"), "100"))
		show, _ := strconv.Atoi(cmp.Or(q.Get("show"), "1"))
		n, _ := strconv.Atoi(cmp.Or(q.Get("n"), strconv.Itoa(total)))
		if q.Get("n") == "" {
			n = 0
		}
		if lag != nil {
			time.Sleep(lag(n))
		}
		rng := rand.New(rand.NewPCG(uint64(n), 2026))
		var b strings.Builder
		b.WriteString("<html> <head></head> <body>")
		for range show {
			q.Set("n", strconv.Itoa(1+rng.IntN(total)))
			fmt.Fprintf(&b, "<a href='/follow?%s'>follow</a><br>", q.Encode())
		}
		b.WriteString("</body>")
		html(w, b.String())
	}
}

const sc2FollowStart = "http://mock.test/follow?maxlatency=0&order=rand&show=20&total=10"

// scrapy: TestCrawl.test_follow_all — FollowAllSpider follows every link of
// /follow?total=10&show=20: 11 URLs visited, the start one and the 10
// others, each once. fetch also gives each page its depth and the page it
// was found on.
func TestPortScrapy2FollowAll(t *testing.T) {
	log := &sc2Log{}
	f := sc2Mem(t, log.wrap(sc2NoRobots(sc2Follow(nil))))
	pages := portCrawl(t.Context(), newCrawler(t, f), true, sc2FollowStart)
	if len(pages) != 11 {
		t.Errorf("%d pages; want 11", len(pages))
	}
	depth := map[string]int{}
	for _, p := range pages {
		if p.Err != nil {
			t.Errorf("%s: %v", p.URL, p.Err)
		}
		if p.URL == sc2FollowStart {
			if p.Depth != 0 || p.Referrer != "" {
				t.Errorf("start page: Depth %d, Referrer %q", p.Depth, p.Referrer)
			}
		} else if d, ok := depth[p.Referrer]; !ok || p.Depth != d+1 {
			t.Errorf("%s: Depth %d, Referrer %q (depth %d, yielded before: %v); want found on a page yielded before, one level deeper", p.URL, p.Depth, p.Referrer, d, ok)
		}
		depth[p.URL] = p.Depth
	}
	for _, u := range log.uris() {
		if n := log.count(u); n != 1 {
			t.Errorf("%s requested %d times; want 1", u, n)
		}
	}
}

// scrapy: TestCrawl.test_fixed_delay (DOWNLOAD_DELAY = 0.2 over a
// FollowAllSpider crawl whose pages take up to twice that) — the pages come
// at least about the delay apart on average, and the same crawl without a
// delay goes faster, or the test would prove nothing. fetch: a host's rate,
// WithHostRate(1/delay, burst 1) (or robots.txt's Crawl-delay), spaces its
// requests. test_randomized_delay (RANDOMIZE_DOWNLOAD_DELAY) has no
// counterpart: fetch's pacing is not randomised.
func TestPortScrapy2FixedDelay(t *testing.T) {
	const delay = 200 * time.Millisecond
	const tolerance = 0.8
	average := func(t *testing.T, opts ...fetch.Option) (time.Duration, []time.Time) {
		var times []time.Time
		lag := func(n int) time.Duration {
			return time.Duration(rand.New(rand.NewPCG(uint64(n), 7)).Int64N(int64(2 * delay)))
		}
		log := &sc2Log{}
		f := sc2Mem(t, log.wrap(sc2NoRobots(sc2Follow(lag))), opts...)
		for p := range newCrawler(t, f, fetch.CrawlIgnoreRobots()).Run(t.Context(), sc2FollowStart) {
			times = append(times, time.Now())
			if p.Err != nil {
				t.Errorf("%s: %v", p.URL, p.Err)
			}
			p.Follow(p.Links()...)
		}
		if len(times) != 11 {
			t.Fatalf("%d pages; want 11", len(times))
		}
		var sent []time.Time
		for _, r := range log.all() {
			sent = append(sent, r.At)
		}
		return times[len(times)-1].Sub(times[0]) / time.Duration(len(times)-1), sent
	}
	synctest.Test(t, func(t *testing.T) {
		avg, sent := average(t, fetch.WithHostRate(fetch.PerSecond(float64(time.Second)/float64(delay)), 1))
		if float64(avg) <= float64(delay)*tolerance {
			t.Errorf("average %v between pages; want more than %v", avg, time.Duration(float64(delay)*tolerance))
		}
		for i := 1; i < len(sent); i++ {
			if d := sent[i].Sub(sent[i-1]); d < delay-time.Microsecond { // x/time/rate computes in float64
				t.Errorf("requests %d and %d %v apart; want at least %v", i-1, i, d, delay)
			}
		}
		avg, _ = average(t)
		if float64(avg) > float64(delay)/tolerance {
			t.Errorf("without a delay, average %v; the test's values are too small to show the delay", avg)
		}
	})
	// Scrapy's delay spaces every download of the slot, retries included;
	// fetch's host rate takes a token for every attempt (README, WithRate).
	synctest.Test(t, func(t *testing.T) {
		log := &sc2Log{}
		var mu sync.Mutex
		n := 0
		h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			n++
			fail := n <= 2
			mu.Unlock()
			if fail {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, "ok")
		}))
		f := sc2Mem(t, h, fetch.WithHostRate(fetch.PerSecond(float64(time.Second)/float64(delay)), 1), sc2Retry(3))
		pages := portCrawl(t.Context(), newCrawler(t, f, fetch.CrawlIgnoreRobots()), false, "http://mock.test/503")
		if len(pages) != 1 || pages[0].Err != nil || pages[0].Attempts != 3 {
			t.Fatalf("pages %+v; want fetched at the third attempt", pages)
		}
		reqs := log.all()
		for i := 1; i < len(reqs); i++ {
			if d := reqs[i].At.Sub(reqs[i-1].At); d < delay-time.Microsecond { // x/time/rate computes in float64
				t.Errorf("attempts %d and %d %v apart; want at least %v", i, i+1, d, delay)
			}
		}
	})
}

// sc2Delay is tests/mockserver's /delay?n=…&b=…: the response comes after
// n seconds; with b=1 its header is sent at once and only its body waits.
func sc2Delay(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.ParseFloat(r.URL.Query().Get("n"), 64)
	if r.URL.Query().Get("b") == "1" {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
	}
	select {
	case <-time.After(time.Duration(n * float64(time.Second))):
	case <-r.Context().Done():
		return
	}
	fmt.Fprintf(w, "Response delayed for %.3f seconds\n", n)
}

// scrapy: TestCrawl.test_timeout_success — a slow response within the
// download timeout is a response.
func TestPortScrapy2TimeoutSuccess(t *testing.T) {
	ts := httptest.NewServer(sc2NoRobots(sc2Delay))
	t.Cleanup(ts.Close)
	start := time.Now()
	pages := portCrawl(t.Context(), newCrawler(t, newFetcher(t, fetch.WithAttemptTimeout(5*time.Second))), false, ts.URL+"/delay?n=0.2&b=0")
	if len(pages) != 1 || pages[0].Err != nil || string(pages[0].Body) != "Response delayed for 0.200 seconds\n" {
		t.Fatalf("pages %+v; want the delayed response", pages)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("crawl took %v; want at least the delay", d)
	}
}

// scrapy: TestCrawl.test_timeout_failure (DOWNLOAD_TIMEOUT = 0.35 for a
// response of 0.5 s; then the same with the header sent at once and the
// body late) — the request fails (errback) after its retries. fetch:
// WithAttemptTimeout bounds each attempt, body included; the page comes
// back with ErrAttemptTimeout after its attempts (three here, as Scrapy's
// two retries).
func TestPortScrapy2TimeoutFailure(t *testing.T) {
	ts := httptest.NewServer(sc2NoRobots(sc2Delay))
	t.Cleanup(ts.Close)
	for _, b := range []string{"0", "1"} {
		t.Run("b="+b, func(t *testing.T) {
			f := newFetcher(t, fetch.WithAttemptTimeout(100*time.Millisecond), sc2Retry(3))
			start := time.Now()
			pages := portCrawl(t.Context(), newCrawler(t, f), false, ts.URL+"/delay?n=0.5&b="+b)
			if len(pages) != 1 || !errors.Is(pages[0].Err, fetch.ErrAttemptTimeout) || pages[0].Attempts != 3 {
				t.Fatalf("pages %+v; want ErrAttemptTimeout after 3 attempts", pages)
			}
			if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
				t.Errorf("crawl took %v; want about 3 × 100ms", d)
			}
		})
	}
}

// scrapy: TestCrawl.test_start_dupes (CONCURRENT_REQUESTS = 1) — start
// requests repeated: with dont_filter each is fetched (2 URLs × 3 = 6),
// without it each URL once (3 URLs × 4 = 3). fetch: CrawlKey(nil) turns
// deduplication off.
func TestPortScrapy2StartDupes(t *testing.T) {
	for _, tc := range []struct {
		dedupe        bool
		distinct, dup int
		want          int
	}{
		{false, 2, 3, 6},
		{true, 3, 4, 3},
	} {
		log := &sc2Log{}
		h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.URL.Query().Get("body")) }))
		var opts []fetch.CrawlOption
		if !tc.dedupe {
			opts = append(opts, fetch.CrawlKey(nil))
		}
		var seeds []string
		for i := range tc.distinct {
			for range tc.dup {
				seeds = append(seeds, fmt.Sprintf("http://mock.test/echo?headers=1&body=test%d", i))
			}
		}
		pages := portCrawl(t.Context(), newCrawler(t, sc2Mem(t, h, fetch.WithConcurrency(1)), opts...), false, seeds...)
		if len(pages) != tc.want || len(log.uris()) != tc.want {
			t.Errorf("dedupe %v: %d pages, %d requests; want %d", tc.dedupe, len(pages), len(log.uris()), tc.want)
		}
	}
}

// scrapy: TestCrawl.test_unknown_url_scheme — a start URL of a scheme
// with no download handler ("foo://bar") is an error, not a crash. fetch:
// a Page with ErrInvalidURL, nothing sent.
func TestPortScrapy2UnknownURLScheme(t *testing.T) {
	log := &sc2Log{}
	pages := portCrawl(t.Context(), newCrawler(t, sc2Mem(t, log.wrap(sc2NoRobots(sc2Redirector)))), false, "foo://bar")
	if len(pages) != 1 || !errors.Is(pages[0].Err, fetch.ErrInvalidURL) || len(log.all()) != 0 {
		t.Errorf("pages %+v, requests %q; want one ErrInvalidURL, nothing sent", pages, log.uris())
	}
}

// scrapy: TestCrawl.test_unbounded_response — a response with neither
// Content-Length nor Transfer-Encoding, ended by closing the connection,
// is a response (Scrapy flags it "partial"). fetch: a page, body whole.
func TestPortScrapy2UnboundedResponse(t *testing.T) {
	const body = "foo body\nwith multiples lines\n"
	ts := httptest.NewServer(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nServer: Apache-Coyote/1.1\r\nContent-Type: text/html;charset=UTF-8\r\nConnection: close\r\n\r\n" + body)
		buf.Flush()
	}))
	t.Cleanup(ts.Close)
	pages := portCrawl(t.Context(), newCrawler(t, newFetcher(t, noRetry)), false, ts.URL+"/raw")
	if len(pages) != 1 || pages[0].Err != nil || string(pages[0].Body) != body || pages[0].Attempts != 1 {
		t.Errorf("pages %+v; want one page with the whole body", pages)
	}
}

// scrapy: TestCrawlSpider.test_raise_closespider — a callback that raises
// CloseSpider closes the spider ("cancelled"). fetch: breaking out of the
// loop ends the crawl at once, cancelling the requests in flight, and
// Run returns once they have ended; nothing more is yielded.
func TestPortScrapy2RaiseCloseSpider(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		running := 0
		h := sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/" {
				html(w, "ok")
				return
			}
			mu.Lock()
			running++
			mu.Unlock()
			<-r.Context().Done() // hangs until cancelled
			mu.Lock()
			running--
			mu.Unlock()
		})
		f := sc2Mem(t, h)
		start := time.Now()
		n := 0
		for p := range newCrawler(t, f).Run(t.Context(), "http://mock.test/", "http://mock.test/hang1", "http://mock.test/hang2", "http://mock.test/hang3") {
			n++
			if p.URL != "http://mock.test/" || p.Err != nil {
				t.Errorf("first page %s: %v; want /", p.URL, p.Err)
			}
			break
		}
		if n != 1 {
			t.Errorf("%d pages; want 1", n)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Run returned after %v; want at once", d)
		}
		mu.Lock()
		defer mu.Unlock()
		if running != 0 {
			t.Errorf("%d requests still in flight after Run returned", running)
		}
	})
}

// scrapy: TestCrawlSpider.test_spider_errback_downloader_error,
// test_spider_errback_downloader_error_request and test_spider_errback_request
// — a download error (/drop?abort=1, after its retries) or a 4xx reaches
// the errback once, and a request the errback returns is crawled. fetch:
// the failure is one Page with Err; the loop body may Follow from it.
func TestPortScrapy2SpiderErrbackDownloaderErrorRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &sc2Log{}
		mem := memhttp.Transport{Handler: log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/status" {
				n, _ := strconv.Atoi(r.URL.Query().Get("n"))
				w.WriteHeader(n)
				return
			}
			fmt.Fprint(w, "ok")
		}))}
		client := &http.Client{Transport: sc2Transport(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/drop" {
				return nil, syscall.ECONNRESET
			}
			return mem.RoundTrip(r)
		})}
		f, err := fetch.New(fetch.WithClient(client), fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 3}))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		var failures, fine []*fetch.Page
		for p := range newCrawler(t, f).Run(t.Context(), "http://mock.test/drop?abort=1", "http://mock.test/status?n=400") {
			if p.Err == nil {
				fine = append(fine, p)
				continue
			}
			failures = append(failures, p)
			// The errback returns a request.
			if err := p.Follow("/after-" + strings.TrimPrefix(p.URL, "http://mock.test/")[:4]); err != nil {
				t.Errorf("Follow from a failed page: %v", err)
			}
		}
		if len(failures) != 2 {
			t.Fatalf("%d failed pages; want 2", len(failures))
		}
		for _, p := range failures {
			if strings.Contains(p.URL, "drop") && (!errors.Is(p.Err, syscall.ECONNRESET) || p.Attempts != 3) {
				t.Errorf("%s: Err %v, Attempts %d; want ECONNRESET after 3 attempts", p.URL, p.Err, p.Attempts)
			}
			var se *fetch.StatusError
			if strings.Contains(p.URL, "status") && (!errors.As(p.Err, &se) || se.StatusCode != 400) {
				t.Errorf("%s: %v; want a 400 *StatusError", p.URL, p.Err)
			}
		}
		if len(fine) != 2 {
			t.Fatalf("%d pages followed from the failures; want 2", len(fine))
		}
		for _, p := range fine {
			if p.Depth != 1 || p.Referrer == "" {
				t.Errorf("%s: Depth %d, Referrer %q; want found on a failed page", p.URL, p.Depth, p.Referrer)
			}
		}
	})
}

// The engine closes the spider when idle: nothing scheduled, nothing
// downloading, no callback running (tests/test_engine.py's crawls end so).
// fetch: Run ends when no URL is queued or being fetched and the loop body
// has returned for every page — so a loop body that takes its time, or
// follows from a goroutine it waits for, loses no link — and not later;
// Follow after the end returns ErrCrawlDone.
func TestPortScrapy2EngineCloseWhenIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &sc2Log{}
		h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/":
				html(w, `<a href="/a">a</a>`)
			case "/a":
				html(w, `<a href="/b">b</a>`)
			default:
				html(w, "leaf")
			}
		}))
		start := time.Now()
		var last *fetch.Page
		n := 0
		for p := range newCrawler(t, sc2Mem(t, h)).Run(t.Context(), "http://mock.test/") {
			n++
			last = p
			switch p.URL {
			case "http://mock.test/":
				done := make(chan struct{})
				go func() {
					defer close(done)
					time.Sleep(2 * time.Second)
					p.Follow(p.Links()...)
				}()
				<-done
			case "http://mock.test/a":
				time.Sleep(time.Second)
				p.Follow(p.Links()...)
			}
		}
		if n != 3 || log.count("mock.test/b") != 1 {
			t.Errorf("%d pages, requests %q; want /, /a and /b", n, log.uris())
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("Run returned after %v; want 3s, when the last loop body returned", d)
		}
		if err := last.Follow("/late"); !errors.Is(err, fetch.ErrCrawlDone) {
			t.Errorf("Follow after the end: %v; want ErrCrawlDone", err)
		}
		time.Sleep(time.Second)
		if n := log.count("mock.test/late"); n != 0 {
			t.Errorf("/late requested %d times after the crawl ended", n)
		}
	})
}

// sc2LazyFrontier takes seeds in lazily, as a Scrapy spider's start()
// that waits while the engine "needs backout": the next seed is handed out
// only while nothing found on a page is queued and at most one entry is
// out being fetched or handled. It keeps a set of keys, as a Frontier must.
type sc2LazyFrontier struct {
	mu     sync.Mutex
	seeds  []fetch.CrawlEntry
	queue  []fetch.CrawlEntry
	seen   map[string]bool
	out    int
	closed bool
	wake   chan struct{}
	handed int           // seeds handed out
	second chan struct{} // closed once the second seed is handed out
}

func newSc2LazyFrontier(seeds ...string) *sc2LazyFrontier {
	fr := &sc2LazyFrontier{seen: map[string]bool{}, wake: make(chan struct{}, 1), second: make(chan struct{})}
	for _, s := range seeds {
		u, _ := url.Parse(s)
		fr.seeds = append(fr.seeds, fetch.CrawlEntry{URL: s, Key: fetch.NormalizeURL(u)})
	}
	return fr
}

func (fr *sc2LazyFrontier) kick() {
	select {
	case fr.wake <- struct{}{}:
	default:
	}
}

func (fr *sc2LazyFrontier) Add(e fetch.CrawlEntry) (bool, error) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if fr.closed {
		return false, fetch.ErrCrawlDone
	}
	if e.Key != "" && fr.seen[e.Key] {
		return false, nil
	}
	fr.seen[e.Key] = true
	fr.queue = append(fr.queue, e)
	fr.kick()
	return true, nil
}

func (fr *sc2LazyFrontier) Seen(key string) bool {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if key == "" {
		return true
	}
	if fr.seen[key] {
		return false
	}
	fr.seen[key] = true
	return true
}

func (fr *sc2LazyFrontier) Next(ctx context.Context) (fetch.CrawlEntry, bool, error) {
	for {
		fr.mu.Lock()
		switch {
		case fr.closed || ctx.Err() != nil:
			fr.mu.Unlock()
			return fetch.CrawlEntry{}, false, nil
		case len(fr.queue) > 0:
			e := fr.queue[0]
			fr.queue = fr.queue[1:]
			fr.out++
			fr.mu.Unlock()
			return e, true, nil
		case len(fr.seeds) > 0 && fr.out <= 1:
			e := fr.seeds[0]
			fr.seeds = fr.seeds[1:]
			if fr.seen[e.Key] {
				fr.mu.Unlock()
				continue
			}
			fr.seen[e.Key] = true
			fr.out++
			if fr.handed++; fr.handed == 2 {
				close(fr.second)
			}
			fr.mu.Unlock()
			return e, true, nil
		case fr.out == 0 && len(fr.seeds) == 0:
			fr.mu.Unlock()
			return fetch.CrawlEntry{}, false, nil
		}
		fr.mu.Unlock()
		select {
		case <-fr.wake:
		case <-ctx.Done():
		}
	}
}

func (fr *sc2LazyFrontier) Done(fetch.CrawlEntry) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	fr.out--
	fr.kick()
}

func (fr *sc2LazyFrontier) Close() {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	fr.closed = true
	fr.kick()
}

// scrapy: tests/test_engine_loop.py test_lazy (CONCURRENT_REQUESTS = 1) —
// a start() that yields its requests only when the scheduler is empty lets
// the requests found on the first page (3) go before the last start
// request (4): the order is 1, 2, 3, 4. fetch's Run takes its seeds at
// once; a Frontier of the caller's (CrawlFrontier) hands them out lazily.
//
// Scrapy's engine asks for the next start request while the first is
// downloading; the crawl's reader of the Frontier does too, but on a
// goroutine of its own, which a loaded machine may run only after page 1
// is done (so 3 went before 2, a few times in 300 under -race and load).
// Page 1 is answered once the second seed has been handed out, as in
// Scrapy's loop.
func TestPortScrapy2Lazy(t *testing.T) {
	log := &sc2Log{}
	fr := newSc2LazyFrontier("http://mock.test/1", "http://mock.test/2", "http://mock.test/4")
	h := log.wrap(sc2NoRobots(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/1" {
			select {
			case <-fr.second:
			case <-r.Context().Done():
			}
			html(w, `<a href="/3">3</a>`)
			return
		}
		html(w, "leaf")
	}))
	c := newCrawler(t, sc2Mem(t, h, fetch.WithConcurrency(1)), fetch.CrawlFrontier(fr), fetch.CrawlIgnoreRobots())
	n := 0
	for p := range c.Run(t.Context()) {
		n++
		if p.Err != nil {
			t.Errorf("%s: %v", p.URL, p.Err)
		}
		p.Follow(p.Links()...)
	}
	want := []string{"mock.test/1", "mock.test/2", "mock.test/3", "mock.test/4"}
	if got := log.uris(); n != 4 || !slices.Equal(got, want) {
		t.Errorf("%d pages, requests %q; want %q", n, got, want)
	}
}
