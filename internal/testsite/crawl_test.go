package testsite

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/c989c033/fetch/internal/htmltitle"
)

// crawled is what a sequential breadth-first crawl found.
type crawled struct {
	depth     map[string]int    // canonical page URL: depth
	titles    map[string]string // canonical page URL: <title>
	hrefs     []string          // every href on every page, as written
	requests  int               // requests the crawl made, redirect hops included
	codes     map[int]int       // redirect statuses seen
	crossHops int               // redirect hops to another host
	chains    int               // redirects followed by another redirect
	redirects int               // pages reached through a redirect
}

// canonical is the URL a crawler dedupes by: no fragment, path never empty.
func canonical(u *url.URL) string {
	c := *u
	c.Fragment, c.RawFragment = "", ""
	if c.Path == "" {
		c.Path, c.RawPath = "/", ""
	}
	return c.String()
}

// crawl walks s from its seed, one request at a time, resolving links with
// Links and url.URL.ResolveReference and letting http.Client follow
// redirects. It requests no URL for which skip returns true.
func crawl(t *testing.T, s *Site, skip func(string) bool) crawled {
	t.Helper()
	c := crawled{depth: map[string]int{}, titles: map[string]string{}, codes: map[int]int{}}
	client := &http.Client{
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if skip(canonical(req.URL)) {
				return http.ErrUseLastResponse
			}
			c.requests++
			c.codes[req.Response.StatusCode]++
			c.chains += min(len(via)-1, 1)
			if req.URL.Host != via[len(via)-1].URL.Host {
				c.crossHops++
			}
			return nil
		},
	}
	defer client.CloseIdleConnections()

	type item struct {
		url   string
		depth int
	}
	seen := map[string]bool{s.Seed(): true}
	for queue := []item{{s.Seed(), 0}}; len(queue) > 0; queue = queue[1:] {
		it := queue[0]
		c.requests++
		resp, err := client.Get(it.url)
		if err != nil {
			t.Fatalf("GET %s: %v", it.url, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET %s: reading body: %v", it.url, err)
		}
		if resp.StatusCode/100 == 3 { // a hop skip refused
			continue
		}
		page := canonical(resp.Request.URL)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", it.url, resp.StatusCode)
			continue
		}
		if page != it.url {
			c.redirects++
		}
		if d, ok := c.depth[page]; ok {
			t.Errorf("%s reached again, through %s; first at depth %d", page, it.url, d)
		}
		c.depth[page] = it.depth
		seen[page] = true // its own "#top" must not fetch it again
		c.titles[page], _ = htmltitle.Find(bytes.NewReader(body))
		for _, href := range Links(body) {
			c.hrefs = append(c.hrefs, href)
			ref, err := url.Parse(href)
			if err != nil {
				t.Errorf("%s: href %q: %v", page, href, err)
				continue
			}
			next := resp.Request.URL.ResolveReference(ref)
			if u := canonical(next); next.Scheme == "http" && !seen[u] && !skip(u) {
				seen[u] = true
				queue = append(queue, item{u, it.depth + 1})
			}
		}
	}
	return c
}

func never(string) bool { return false }

func TestCrawlFindsExpected(t *testing.T) {
	s := start(t, Config{Seed: 1})
	c := crawl(t, s, never)
	want := s.Expected()
	if len(want) != 3*400 {
		t.Errorf("len(Expected()) = %d; want %d", len(want), 3*400)
	}
	compareDepths(t, c.depth, want)
	for u, title := range c.titles {
		if want := s.Title(u); title != want || want == "" {
			t.Errorf("%s: <title> %q; Title() = %q", u, title, want)
		}
	}
	requests := 0
	for _, st := range s.Stats() {
		requests += st.Requests
		for uri, n := range st.Fetches {
			if n != 1 {
				t.Errorf("%s%s fetched %d times; want 1", st.Host, uri, n)
			}
		}
	}
	if requests != c.requests {
		t.Errorf("hosts saw %d requests; the crawl made %d", requests, c.requests)
	}
	checkMix(t, c)
}

func compareDepths(t *testing.T, got, want map[string]int) {
	t.Helper()
	for u, d := range want {
		if g, ok := got[u]; !ok || g != d {
			t.Errorf("%s: crawled at depth %d (found: %v); Expected depth %d", u, g, ok, d)
		}
	}
	for u := range got {
		if _, ok := want[u]; !ok {
			t.Errorf("%s crawled; not expected", u)
		}
	}
}

// checkMix checks that the crawl met every kind of link and redirect the
// package documents.
func checkMix(t *testing.T, c crawled) {
	t.Helper()
	for _, kind := range []struct{ name, re string }{
		{"absolute", `^http://127\.0\.0\.\d+:\d+/`},
		{"upper-case scheme", `^HTTP://`},
		{"network-path", `^//127\.`},
		{"empty path", `^http://127\.0\.0\.\d+:\d+$`},
		{"absolute with dot segments", `^http://[^/]+/p/\.\./`},
		{"root-relative", `^/p/\d+$`},
		{"root-relative query page", `^/q\?page=\d+$`},
		{"root-relative with dot segments", `^/p/\.\./`},
		{"relative from /", `^p/\d+$`},
		{"relative from /p/", `^\d+$`},
		{"relative ./", `^\./p/\d+$`},
		{"relative ./ from /p/", `^\./\d+$`},
		{"relative ../", `^\.\./p/\d+$`},
		{"relative ../ to a query page", `^\.\./q\?page=\d+$`},
		{"relative to root", `^\.\.?/$`},
		{"query only", `^\?page=\d+$`},
		{"fragment", `#sec$`},
		{"own fragment", `^#top$`},
		{"redirect", `^/r/\d+$`},
		{"redirect on another host", `^(?i:http:)?//[^/]+/r/\d+`},
		{"mailto", `^mailto:`},
	} {
		re := regexp.MustCompile(kind.re)
		n := 0
		for _, h := range c.hrefs {
			if re.MatchString(h) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no %s link (%s) in %d hrefs", kind.name, kind.re, len(c.hrefs))
		}
	}
	if c.codes[301] == 0 || c.codes[302] == 0 || c.crossHops == 0 || c.chains == 0 || c.redirects == 0 {
		t.Errorf("redirects: statuses %v, %d to another host, %d chained, %d pages through them; want some of each",
			c.codes, c.crossHops, c.chains, c.redirects)
	}
}

func TestCrawlSkipping(t *testing.T) {
	s := start(t, Config{Pages: 100, Seed: 2})
	// Host 1 forbids /q and its redirects: as robots.txt with
	// "Disallow: /q" and "Disallow: /r/" would.
	h1 := s.Hosts()[1]
	skip := func(u string) bool {
		return strings.HasPrefix(u, h1+"/q") || strings.HasPrefix(u, h1+"/r/")
	}
	c := crawl(t, s, skip)
	want := s.Reachable(skip)
	compareDepths(t, c.depth, want)
	if len(want) >= 3*100-10 || len(want) == 0 {
		t.Errorf("len(Reachable(skip)) = %d; want fewer than %d", len(want), 3*100-10)
	}
	for uri := range s.Stats()[1].Fetches {
		if strings.HasPrefix(uri, "/q") || strings.HasPrefix(uri, "/r/") {
			t.Errorf("host 1: %s fetched; skip refuses it", uri)
		}
	}
	if got := s.Reachable(func(string) bool { return true }); len(got) != 0 {
		t.Errorf("Reachable(everything skipped) = %v; want none", got)
	}
}
