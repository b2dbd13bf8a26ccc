package fetch_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"

	"github.com/c989c033/fetch"
)

// A login sets a session cookie; the jar sends it with every later request
// through the Fetcher, retries and redirects included.
func ExampleWithCookieJar() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s3cr3t", Path: "/"})
	})
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("session"); err != nil || c.Value != "s3cr3t" {
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "hello, member")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	jar, _ := cookiejar.New(nil) // with a public suffix list for hosts you do not know
	f, err := fetch.New(fetch.WithCookieJar(jar))
	if err != nil {
		panic(err)
	}
	defer f.Shutdown(context.Background())

	ctx := context.Background()
	if _, err := f.Get(ctx, srv.URL+"/login", fetch.Method(http.MethodPost)); err != nil {
		panic(err)
	}
	body, err := f.Get(ctx, srv.URL+"/me")
	fmt.Printf("%s %v\n", body, err)
	// Output: hello, member <nil>
}

// Every request goes through the proxy; the per-host limits still count
// the hosts the requests are for, not the proxy.
func ExampleWithProxy() {
	// A stand-in for a forward proxy: it answers for every host itself.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "the proxy, for %s", r.URL) // an absolute URL: a proxy's request
	}))
	defer proxy.Close()
	u, _ := url.Parse(proxy.URL)

	f, err := fetch.New(fetch.WithProxy(http.ProxyURL(u)), fetch.WithHostConcurrency(2))
	if err != nil {
		panic(err)
	}
	defer f.Shutdown(context.Background())

	body, err := f.Get(context.Background(), "http://example.invalid/page")
	fmt.Printf("%s %v\n", body, err)
	// Output: the proxy, for http://example.invalid/page <nil>
}
