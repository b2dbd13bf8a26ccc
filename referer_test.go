package fetch

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// A redirect's Referer, where the Fetcher's client makes it, is what
// browsers send by default: the URL redirected from within its origin,
// and to another origin that origin alone, so that a token in the query
// of the URL redirected from does not reach the host redirected to.
func TestRedirectRefererOriginOnlyAcrossOrigins(t *testing.T) {
	var mu sync.Mutex
	refs := map[string]string{}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		refs["other"+r.URL.Path] = r.Header.Get("Referer")
		mu.Unlock()
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		refs[r.URL.Path] = r.Header.Get("Referer")
		mu.Unlock()
		switch r.URL.Path {
		case "/start":
			http.Redirect(w, r, "/next?token=s3cret#top", http.StatusFound)
		case "/next":
			http.Redirect(w, r, other.URL+"/end", http.StatusFound)
		}
	}))
	defer srv.Close()
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(t.Context(), srv.URL+"/start?q=1"); err != nil {
		t.Fatal(err)
	}
	if got, want := refs["/next"], srv.URL+"/start?q=1"; got != want {
		t.Errorf("Referer within the origin: %q; want %q", got, want)
	}
	if got, want := refs["other/end"], srv.URL+"/"; got != want {
		t.Errorf("Referer to another origin: %q; want %q, the origin alone", got, want)
	}

	// One given by the caller is the caller's: it goes as given.
	if _, err := f.Get(t.Context(), srv.URL+"/start", Header("Referer", "https://app.example/page?x=1")); err != nil {
		t.Fatal(err)
	}
	if got, want := refs["other/end"], "https://app.example/page?x=1"; got != want {
		t.Errorf("the caller's Referer to another origin: %q; want %q", got, want)
	}
}

// A crawl's link that redirects to another origin carries, there, the
// Referer of the page it was found on as browsers send it to that origin:
// the page's origin alone, not the whole URL it sent to the page's own
// origin.
func TestCrawlRedirectRefererForWhereItGoes(t *testing.T) {
	var mu sync.Mutex
	refs := map[string]string{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		refs[namesHost(r)+r.URL.Path] = r.Header.Get("Referer")
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		switch namesHost(r) + r.URL.Path {
		case "a.test/page":
			w.Write([]byte(`<a href="/go">go</a> <a href="/stay">stay</a>`))
		case "a.test/go":
			http.Redirect(w, r, "http://b.test/land", http.StatusFound)
		case "a.test/stay":
			http.Redirect(w, r, "/still", http.StatusFound)
		}
	})
	c, err := NewCrawler(newMem(t, h), CrawlIgnoreRobots())
	if err != nil {
		t.Fatal(err)
	}
	for p := range c.Run(t.Context(), "http://a.test/page?sid=1") {
		if p.Err != nil {
			t.Errorf("%s: %v", p.URL, p.Err)
		}
		p.Follow(p.Links()...)
	}
	mu.Lock()
	defer mu.Unlock()
	for path, want := range map[string]string{
		"a.test/go":    "http://a.test/page?sid=1",
		"b.test/land":  "http://a.test/",
		"a.test/still": "http://a.test/page?sid=1",
	} {
		if got := refs[path]; got != want {
			t.Errorf("Referer of %s: %q; want %q", path, got, want)
		}
	}
}
