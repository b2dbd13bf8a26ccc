package fetch

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
)

// A RequestOption that gives a request settings of its own
// (FollowRedirects, MaxBodySize) leaves the caller's ClientTrace in
// place: the call of a Get made with one still runs the caller's hooks.
func TestRequestSettingsKeepCallersTrace(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(ok))
	t.Cleanup(srv.Close)
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Shutdown(t.Context()) })
	for _, tc := range []struct {
		name string
		opt  RequestOption
	}{
		{"FollowRedirects", FollowRedirects(false)},
		{"MaxBodySize", MaxBodySize(100)},
		{"Header Host", Header("Host", strings.TrimPrefix(srv.URL, "http://"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wrote atomic.Int64
			ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
				WroteHeaders: func() { wrote.Add(1) },
			})
			if res := f.Fetch(ctx, srv.URL, tc.opt); res.Err != nil {
				t.Fatal(res.Err)
			}
			if got := wrote.Load(); got != 1 {
				t.Errorf("the caller's trace saw %d header writes; want 1", got)
			}
		})
	}
}

// Sitemap follows a sitemap's redirects (http to https, a moved file)
// whatever WithFollowRedirects says, as a crawl's robots.txt does: a
// crawler's Fetcher that hands back redirects can still read them.
func TestSitemapFollowsRedirectsOnAFetcherThatDoesNot(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			io.WriteString(w, "Sitemap: http://"+r.Host+"/old.xml\n")
		case "/old.xml":
			http.Redirect(w, r, "/sitemap.xml", http.StatusMovedPermanently)
		case "/sitemap.xml":
			io.WriteString(w, `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://`+r.Host+`/a</loc></url></urlset>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	f, err := New(WithFollowRedirects(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Shutdown(t.Context()) })
	var got []string
	for u := range Sitemap(t.Context(), f, srv.URL+"/robots.txt") {
		if u.Err != nil {
			t.Fatalf("Sitemap: %v", u.Err)
		}
		got = append(got, u.URL)
	}
	if want := srv.URL + "/a"; len(got) != 1 || got[0] != want {
		t.Errorf("Sitemap yielded %q; want [%q]", got, want)
	}
	// A call's own choice still holds for the Fetcher's other calls.
	res := f.Fetch(t.Context(), srv.URL+"/old.xml")
	if res.Status != http.StatusMovedPermanently {
		t.Errorf("Fetch after Sitemap: status %d; want 301, not followed", res.Status)
	}
}
