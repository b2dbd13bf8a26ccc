package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// deadlineContext is t's context, ending a little before the test's
// deadline, if it has one, so that a wait that would hang fails the test
// instead.
func deadlineContext(t *testing.T) context.Context {
	ctx := t.Context()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-10*time.Second))
		t.Cleanup(cancel)
	}
	return ctx
}

// -r crawls from the URLs on standard input as they come: the first URL's
// record is written while the input is still open.
func TestRecursiveSeedsReadAsTheCrawlGoes(t *testing.T) {
	ctx := deadlineContext(t)
	site := newCrawlSite(t)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	defer inW.Close()
	recs := make(chan record)
	go func() {
		defer close(recs)
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			var r record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Errorf("record %q: %v", sc.Text(), err)
			}
			recs <- r
		}
	}()
	code := make(chan int, 1)
	go func() {
		defer outW.Close()
		code <- run([]string{"-q", "-r", "-"}, stdio{in: inR, err: io.Discard, out: outW})
	}()

	first := site.base + "/docs/d.html"
	fmt.Fprintln(inW, first)
	select {
	case r := <-recs:
		if r.URL != first || r.Status != http.StatusOK || r.Depth != 0 {
			t.Errorf("first record %+v; want %s's, 200 at depth 0", r, first)
		}
	case <-ctx.Done():
		t.Fatal("no record while standard input is open")
	}
	second := site.base + "/docs/deep.html"
	fmt.Fprintln(inW, "not a url")
	fmt.Fprintln(inW, second)
	inW.Close()
	got := map[string]record{}
	for r := range recs {
		got[r.URL] = r
	}
	if r := got[second]; r.Status != http.StatusOK || r.Depth != 0 {
		t.Errorf("second record %+v; want %s's, 200 at depth 0", r, second)
	}
	if r := got["not a url"]; r.ErrorKind == "" {
		t.Errorf("bad input's record %+v; want its error", r)
	}
	if len(got) != 2 {
		t.Errorf("records after the first: %v; want 2", got)
	}
	if c := <-code; c != exitSomeFailed {
		t.Errorf("exit status %d; want %d (one input is not a URL)", c, exitSomeFailed)
	}
}

// -r --sitemap crawls the URLs of a sitemap index's first sitemap while
// its second is still being read.
func TestRecursiveSitemapSeedsReadAsTheCrawlGoes(t *testing.T) {
	ctx := deadlineContext(t)
	crawled := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := "http://" + r.Host
		switch r.URL.Path {
		case "/index.xml":
			fmt.Fprintf(w, `<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>%[1]s/one.xml</loc></sitemap><sitemap><loc>%[1]s/two.xml</loc></sitemap></sitemapindex>`, base)
		case "/one.xml", "/two.xml":
			if r.URL.Path == "/two.xml" {
				select { // answered once /a's page was asked for
				case <-crawled:
				case <-ctx.Done():
					http.Error(w, "/a never crawled", http.StatusServiceUnavailable)
					return
				}
			}
			page := "/a"
			if r.URL.Path == "/two.xml" {
				page = "/b"
			}
			fmt.Fprintf(w, `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>%s%s</loc></url></urlset>`, base, page)
		case "/a":
			close(crawled)
			fmt.Fprint(w, "a")
		case "/b":
			fmt.Fprint(w, "b")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	code, out, stderr := runCmd(t, "", "-q", "-r", "--sitemap", srv.URL+"/index.xml")
	recs := records(t, out)
	if code != exitOK || recs[srv.URL+"/a"].Status != http.StatusOK || recs[srv.URL+"/b"].Status != http.StatusOK {
		t.Errorf("exit %d, records %v, %s; want /a and /b fetched", code, recs, stderr)
	}
}
