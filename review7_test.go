package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// A request built by hand, without a Header map, as http.Client.Do
// accepts it, is sent with the jar's cookies, not failed with a panic in
// net/http's AddCookie.
func TestReview7JarNilHeader(t *testing.T) {
	var log cookieLog
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1", Path: "/"})
	}))
	defer srv.Close()
	f := newFetcher(t, WithCookieJar(newJar(t)))
	u, _ := url.Parse(srv.URL + "/p")
	for i := range 2 {
		resp, err := f.Do((&http.Request{Method: http.MethodGet, URL: u}).WithContext(t.Context()))
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		resp.Body.Close()
	}
	if got, want := log.of("/p"), [][]string{nil, {"session=s1"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("Cookie of each request: got = %q; want %q", got, want)
	}
}

// A crawl through a proxy: every request, robots.txt included, goes
// through it; robots.txt carries none of the jar's cookies, the pages the
// session's, a redirect to another host included.
func TestReview7CrawlThroughProxyWithJar(t *testing.T) {
	var log cookieLog
	var mu sync.Mutex
	var seen []string
	proxy := newAbsoluteProxy(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Host+r.URL.Path+" "+r.Header.Get("Cookie"))
		mu.Unlock()
		log.add(r)
		switch r.URL.Path {
		case "/login":
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1", Path: "/"})
		case "/robots.txt":
			http.SetCookie(w, &http.Cookie{Name: "robots", Value: "r1", Path: "/"})
			io.WriteString(w, "User-agent: *\nDisallow: /private\n")
		case "/page":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, `<a href="/next">n</a><a href="/private">p</a><a href="/away">a</a>`)
		case "/away":
			http.Redirect(w, r, "http://other.invalid/there", http.StatusFound)
		default:
			io.WriteString(w, "ok")
		}
	})
	u, _ := url.Parse(proxy.URL)
	f := newFetcher(t, WithProxy(http.ProxyURL(u)), WithCookieJar(newJar(t)), WithHostConcurrency(1))
	if _, err := f.Get(t.Context(), "http://site.invalid/login"); err != nil {
		t.Fatal(err)
	}
	c, err := NewCrawler(f, CrawlHosts("site.invalid", "other.invalid"))
	if err != nil {
		t.Fatal(err)
	}
	var pages []string
	for p := range c.Run(t.Context(), "http://site.invalid/page") {
		pages = append(pages, p.URL)
		if p.Err == nil {
			p.Follow(p.Links()...)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if strings.Contains(s, "robots.txt") && strings.TrimSpace(s) != strings.Fields(s)[0] {
			t.Errorf("robots.txt sent a cookie: %q", s)
		}
		if strings.HasPrefix(s, "site.invalid/private") {
			t.Errorf("a disallowed page was fetched: %q", s)
		}
	}
	for _, want := range []string{"site.invalid/next session=s1", "site.invalid/page session=s1", "other.invalid/there "} {
		if !slices.Contains(seen, want) {
			t.Errorf("the proxy saw %q; want %q among them", seen, want)
		}
	}
}

// An error the proxy function returns fails the attempt with it, as it
// is; the default policy, not knowing it, does not retry it.
func TestReview7ProxyFuncError(t *testing.T) {
	boom := errors.New("no proxy left")
	f := newFetcher(t, WithProxy(func(*http.Request) (*url.URL, error) { return nil, boom }), fastRetry)
	_, err := f.Get(context.Background(), "http://target.invalid/")
	var e *Error
	if !errors.Is(err, boom) || !errors.As(err, &e) || e.Attempts != 1 {
		t.Fatalf("got = %v; want an *Error wrapping the proxy function's, after 1 attempt", err)
	}
}
