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
