package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Default headers and auth reach every request unless the request sets the
// key itself, and the caller's request is left as it was.
func TestDefaultHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var got []string
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got = append(got, r.Header.Get("Authorization")+"|"+r.Header.Get("User-Agent"))
			mu.Unlock()
		}), WithBearerToken("t0k"), WithHeader("User-Agent", "fetch-test/1"))
		if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", "http://a.test/own", nil)
		req.Header.Set("Authorization", "Basic mine")
		resp, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if _, ok := req.Header["User-Agent"]; ok {
			t.Errorf("the caller's request was changed: %v", req.Header)
		}
		f.GetAll(context.Background(), []string{"http://a.test/1"}, Header("User-Agent", "per-call"))
		want := []string{"Bearer t0k|fetch-test/1", "Basic mine|fetch-test/1", "Bearer t0k|per-call"}
		if !slices.Equal(got, want) {
			t.Errorf("server saw %q; want %q", got, want)
		}
	})
}

// Authorization set by default is not sent on to a redirect to another
// host, as net/http treats a request's own.
func TestDefaultAuthNotForwardedAcrossHosts(t *testing.T) {
	var leaked string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("Authorization")
	}))
	defer other.Close()
	// 127.0.0.1 and localhost are different hosts to net/http's redirect rule.
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	first := httptest.NewServer(http.RedirectHandler(otherURL, http.StatusFound))
	defer first.Close()
	f, err := New(WithBearerToken("secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	if _, err := f.Get(context.Background(), first.URL); err != nil {
		t.Fatal(err)
	}
	if leaked != "" {
		t.Errorf("the redirect's host got Authorization %q", leaked)
	}
}

// Per-call options set method, headers and body on the URL calls; the body
// is sent again on a retry.
func TestRequestOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var seen []string
		n := 0
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, r.Method+" "+r.Header.Get("Content-Type")+" "+string(b))
			if n++; n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}), WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
		opts := []RequestOption{Method("PUT"), Body("application/json", []byte(`{"a":1}`))}
		for r := range f.Stream(context.Background(), slices.Values([]string{"http://a.test/x"}), opts...) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		want := []string{`PUT application/json {"a":1}`, `PUT application/json {"a":1}`}
		if !slices.Equal(seen, want) {
			t.Errorf("server saw %q; want %q", seen, want)
		}
		if _, err := f.Get(context.Background(), "http://a.test/x", Header("Bad Name", "v")); err == nil || !strings.Contains(err.Error(), `"Bad Name"`) {
			t.Errorf("invalid header name: %v; want an error naming it", err)
		}
		if _, err := f.Get(context.Background(), "http://a.test/x", Method("GE T")); err == nil || !strings.Contains(err.Error(), "Method") {
			t.Errorf("invalid method: %v; want an error naming it", err)
		}
	})
	for _, opt := range []Option{WithHeader("", "x"), WithHeader("X", "a\nb"), WithBearerToken(""), WithBasicAuth("a:b", "c"), WithTLSConfig(nil)} {
		if _, err := New(opt); err == nil {
			t.Errorf("New with a bad request default: no error")
		}
	}
}

// WithTLSConfig's roots let the Fetcher trust a private CA, with the guard
// on too; without them the certificate is refused. It cannot be combined
// with WithClient.
func TestWithTLSConfig(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}

	f, err := New(WithTLSConfig(cfg), WithBlockPrivateAddresses(netip.MustParsePrefix("127.0.0.0/8")),
		WithRetry(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	if body, err := f.Get(context.Background(), srv.URL); err != nil || string(body) != "ok" {
		t.Errorf("Get with the CA's roots: %q, %v", body, err)
	}

	plain, err := New(WithRetry(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Shutdown(context.Background())
	var ue x509.UnknownAuthorityError
	if _, err := plain.Get(context.Background(), srv.URL); !errors.As(err, &ue) {
		t.Errorf("Get without the roots: %v; want an unknown authority error", err)
	}
	if _, err := New(WithTLSConfig(cfg), WithClient(http.DefaultClient)); err == nil {
		t.Errorf("WithTLSConfig with WithClient: no error")
	}
}

// Options that configure the client New builds are refused with
// WithClient, whose client they would silently leave as it is.
func TestClientOptionsRefusedWithWithClient(t *testing.T) {
	for name, opt := range map[string]Option{
		"WithMaxRedirects":  WithMaxRedirects(0),
		"WithMaxHeaderSize": WithMaxHeaderSize(1 << 10),
	} {
		if _, err := New(opt, WithClient(http.DefaultClient)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s with WithClient: %v; want an error naming it", name, err)
		}
		if _, err := New(opt); err != nil {
			t.Errorf("%s alone: %v", name, err)
		}
	}
}

// A URL given as a string with characters a request line may not hold is
// sent with them percent-encoded, its escapes kept: a space in the query
// made a request line the server refused.
func TestURLStringRequoted(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.RequestURI }))
	t.Cleanup(srv.Close)
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"/t?a b":         "/t?a%20b",
		"/t?name=é":      "/t?name=%C3%A9",
		"/a%2Fb c?q=%26": "/a%2Fb%20c?q=%26",
		"/plain?x=1&y=2": "/plain?x=1&y=2",
	} {
		r := f.Fetch(t.Context(), srv.URL+in)
		if r.Err != nil {
			t.Errorf("%s: %v", in, r.Err)
			continue
		}
		if uri := <-got; uri != want {
			t.Errorf("%s: server saw %q; want %q", in, uri, want)
		}
	}
}

// WithTransportWrapper puts a RoundTripper around the transport New builds:
// it sees every attempt and redirect, already past the gates, with the
// Fetcher's own settings (here the SSRF guard) still underneath; and
// Shutdown still closes the idle connections underneath it. New refuses it
// with WithClient, and refuses nil.
func TestWithTransportWrapper(t *testing.T) {
	var seen []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/from" {
			http.Redirect(w, r, "/to", http.StatusFound)
			return
		}
		w.Write([]byte(r.Header.Get("X-Wrapped")))
	}))
	t.Cleanup(srv.Close)
	wrap := func(next http.RoundTripper) http.RoundTripper {
		return hrRT(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			seen = append(seen, r.URL.Path)
			mu.Unlock()
			r = r.Clone(r.Context())
			r.Header.Set("X-Wrapped", "yes")
			return next.RoundTrip(r)
		})
	}
	f, err := New(WithTransportWrapper(wrap))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Fetch(t.Context(), srv.URL+"/from")
	if r.Err != nil || string(r.Body) != "yes" {
		t.Fatalf("Fetch = %q, %v; want the wrapper's header to reach the server", r.Body, r.Err)
	}
	if want := []string{"/from", "/to"}; !slices.Equal(seen, want) {
		t.Errorf("the wrapper saw %q; want %q", seen, want)
	}
	if f.ownTransport == nil || f.client.Transport == http.RoundTripper(f.ownTransport) {
		t.Errorf("the client's transport is not the wrapper around the one New built")
	}

	guarded, err := New(WithTransportWrapper(wrap), WithBlockPrivateAddresses())
	if err != nil {
		t.Fatal(err)
	}
	if r := guarded.Fetch(t.Context(), srv.URL+"/to"); !errors.Is(r.Err, ErrBlockedAddress) {
		t.Errorf("with the guard, a loopback server: %v; want ErrBlockedAddress (the guard under the wrapper)", r.Err)
	}

	if _, err := New(WithTransportWrapper(wrap), WithClient(&http.Client{})); err == nil || !strings.Contains(err.Error(), "WithTransportWrapper") {
		t.Errorf("with WithClient: %v; want an error naming WithTransportWrapper", err)
	}
	if _, err := New(WithTransportWrapper(nil)); err == nil {
		t.Error("WithTransportWrapper(nil): no error")
	}
}
