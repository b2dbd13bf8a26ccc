package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
)

// -r with --max-pages: an input that is not a URL has its record, and
// fails the run, wherever it comes among the inputs, those the crawl
// takes no more once it is full included.
func TestReviewRecursiveMaxPagesKeepsBadInputs(t *testing.T) {
	site := newCrawlSite(t)
	stdin := site.base + "/docs/d.html\nnot a url\n" + site.base + "/docs/deep.html\nhttp://[::1\n"
	code, out, stderr := runCmd(t, stdin, "-q", "-r", "--max-pages", "1", "-i", "-")
	var urls []string
	for _, r := range lineRecords(t, out) {
		urls = append(urls, r.URL)
		if r.URL == "not a url" || r.URL == "http://[::1" {
			if r.ErrorKind != "invalid_input" {
				t.Errorf("record %+v; want error_kind invalid_input", r)
			}
		}
	}
	for _, want := range []string{site.base + "/docs/d.html", "not a url", "http://[::1"} {
		if !slices.Contains(urls, want) {
			t.Errorf("records %q; want one for %q", urls, want)
		}
	}
	if len(urls) != 3 {
		t.Errorf("records %q; want 3 (the page, and the two inputs that are not URLs)", urls)
	}
	if code != 1 {
		t.Errorf("exit %d; want 1 (inputs that are not URLs): %s", code, stderr)
	}
}

// -r --sitemap with --max-pages: once the crawl is full, the sitemaps not
// read yet are not fetched, for their URLs or their failures.
func TestReviewRecursiveSitemapMaxPagesReadsNoMore(t *testing.T) {
	var second atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/index.xml":
			fmt.Fprintf(w, `<sitemapindex><sitemap><loc>%[1]s/s1.xml</loc></sitemap><sitemap><loc>%[1]s/s2.xml</loc></sitemap></sitemapindex>`, srv.URL)
		case "/s1.xml":
			fmt.Fprintf(w, `<urlset><url><loc>%[1]s/a</loc></url><url><loc>%[1]s/b</loc></url></urlset>`, srv.URL)
		case "/s2.xml":
			second.Add(1)
			http.NotFound(w, r)
		default:
			io.WriteString(w, "page")
		}
	}))
	defer srv.Close()
	code, out, stderr := runCmd(t, "", "-q", "-r", "--ignore-robots", "--max-pages", "1", "--sitemap", srv.URL+"/index.xml")
	if recs := lineRecords(t, out); len(recs) != 1 || code != 0 {
		t.Errorf("exit %d, records %+v; want 0 and one page: %s", code, recs, stderr)
	}
	if n := second.Load(); n != 0 {
		t.Errorf("the second sitemap was fetched %d times; want 0", n)
	}
}
