package fetch

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// namesHost is the host a memhttp request was sent to: a redirected
// request reaches the handler with r.Host empty.
func namesHost(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	return r.URL.Host
}

// A link found on a page that was reached through a cross-host redirect
// (a.test/x -> b.test/y) must be requested with the Referer of the page it
// was found on (b.test/y: same origin, so the full URL), and its Page's
// Referrer must name that page. The crawl uses the pre-redirect URL
// instead: Referer "http://a.test/" (the wrong origin) and Referrer
// "http://a.test/x".
func TestCrawlRefererIsThePageAfterRedirects(t *testing.T) {
	var mu sync.Mutex
	refs := map[string]string{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		refs[namesHost(r)+r.URL.Path] = r.Header.Get("Referer")
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		switch namesHost(r) + r.URL.Path {
		case "a.test/x":
			http.Redirect(w, r, "http://b.test/y", http.StatusFound)
		case "b.test/y":
			fmt.Fprint(w, `<a href="/z">z</a>`)
		}
	})
	c, err := NewCrawler(newMem(t, h), CrawlIgnoreRobots())
	if err != nil {
		t.Fatal(err)
	}
	var zRef string
	for p := range c.Run(t.Context(), "http://a.test/x") {
		if p.Err != nil {
			t.Fatalf("%s: %v", p.URL, p.Err)
		}
		if p.URL == "http://b.test/z" {
			zRef = p.Referrer
		}
		p.Follow(p.Links()...)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := refs["b.test/z"], "http://b.test/y"; got != want {
		t.Errorf("Referer header of b.test/z = %q; want %q (the page the link was on)", got, want)
	}
	if want := "http://b.test/y"; zRef != want {
		t.Errorf("Page.Referrer of b.test/z = %q; want %q", zRef, want)
	}
}

// CrawlHosts("bücher.test") with the seed http://bücher.test/ fetches the
// seed, but Links() returns its links IDNA-mapped (xn--bcher-kva.test),
// which the scope compares against the Unicode name and drops as out of
// scope: the crawl of an IDN site stops at the seed. (And
// CrawlHosts("xn--bcher-kva.test") refuses the seed http://bücher.test/.)
func TestCrawlHostsUnicodeAndASCIINames(t *testing.T) {
	for _, tc := range []struct{ scope, seed string }{
		{"bücher.test", "http://bücher.test/"},
		{"xn--bcher-kva.test", "http://bücher.test/"},
	} {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<a href="/next">next</a>`)
		})
		c, err := NewCrawler(newMem(t, h), CrawlIgnoreRobots(), CrawlHosts(tc.scope))
		if err != nil {
			t.Fatal(err)
		}
		fetched := 0
		for p := range c.Run(t.Context(), tc.seed) {
			if p.Err != nil {
				t.Logf("%s: %v", p.URL, p.Err)
				continue
			}
			fetched++
			p.Follow(p.Links()...)
		}
		if fetched != 2 {
			t.Errorf("CrawlHosts(%q), seed %s: %d pages fetched; want 2 (the seed and /next)", tc.scope, tc.seed, fetched)
		}
	}
}

// The same IDN host written in Unicode (a seed, or a link passed to Follow
// as found) and in its ASCII form (what Links returns) gets two dedup keys
// and two host keys: the page is fetched twice and the host's robots.txt
// twice (and so its per-host cap and Crawl-delay are split in two).
func TestCrawlUnicodeHostIsOneHost(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		if r.URL.Path == "/robots.txt" {
			fmt.Fprint(w, "User-agent: *\nAllow: /\n")
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<a href="/page">page</a>`)
	})
	c, err := NewCrawler(newMem(t, h))
	if err != nil {
		t.Fatal(err)
	}
	for p := range c.Run(t.Context(), "http://bücher.test/page", "http://xn--bcher-kva.test/") {
		if p.Err == nil {
			p.Follow(p.Links()...) // http://xn--bcher-kva.test/page
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if hits["/page"] != 1 {
		t.Errorf("/page fetched %d times; want once", hits["/page"])
	}
	if hits["/robots.txt"] != 1 {
		t.Errorf("robots.txt fetched %d times for one host; want once", hits["/robots.txt"])
	}
}
