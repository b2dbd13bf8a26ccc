package fetch

// Redirect- and header-related tests of Go's net/http client
// (src/net/http/client_test.go, Go 1.26), ported onto the Fetcher's API.
// Each test names the net/http test it ports. Two host names for one
// loopback server are 127.0.0.1 and localhost: net/http strips
// Authorization, Cookie and the like on a redirect from one to the other
// (shouldCopyHeaderOnRedirect compares host names, not ports).

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
)

// pnhServer starts a loopback server running h, closed when t ends.
func pnhServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// pnhNew returns a Fetcher built with opts, shut down when t ends.
func pnhNew(t *testing.T, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

// pnhLocalhost returns u with its host 127.0.0.1 named localhost: the same
// server under another host name.
func pnhLocalhost(u string) string { return strings.Replace(u, "127.0.0.1", "localhost", 1) }

// pnhHostOf returns the host:port of URL u.
func pnhHostOf(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Host
}

// pnhSeen records the requests a server saw.
type pnhSeen struct {
	mu   sync.Mutex
	reqs []pnhReq
}

type pnhReq struct {
	host, path, method, body string
	header                   http.Header
}

func (s *pnhSeen) add(r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, pnhReq{host: host, path: r.URL.Path, method: r.Method, body: string(body), header: r.Header.Clone()})
}

func (s *pnhSeen) all() []pnhReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

func (s *pnhSeen) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = nil
}

// pnhSensitive are the headers net/http's makeHeadersCopier does not copy to
// a redirect to another domain.
var pnhSensitive = []string{"Authorization", "Www-Authenticate", "Cookie", "Cookie2", "Proxy-Authorization", "Proxy-Authenticate"}

// ---------------------------------------------------------------------------
// Credentials across hosts (TestShouldCopyHeaderOnRedirect,
// TestClientStripHeadersOnRepeatedRedirect, TestClientCopyHeadersOnRedirect)
// ---------------------------------------------------------------------------

// pnhChain is one loopback server answering as two hosts, A (127.0.0.1:p)
// and B (localhost:p), with net/http's chain from
// TestClientStripHeadersOnRepeatedRedirect: A/ -> B/ -> B/redirect ->
// A/redirect, which answers {"done":true}.
type pnhChain struct {
	seen pnhSeen
	ts   *httptest.Server
	a, b string // host:port
}

func newPNHChain(t *testing.T) *pnhChain {
	c := &pnhChain{}
	c.ts = pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.seen.add(r)
		switch r.Host + r.URL.Path {
		case c.a + "/":
			http.Redirect(w, r, "http://"+c.b+"/", http.StatusFound)
		case c.b + "/":
			http.Redirect(w, r, "http://"+c.b+"/redirect", http.StatusFound)
		case c.b + "/redirect":
			http.Redirect(w, r, "http://"+c.a+"/redirect", http.StatusFound)
		case c.a + "/redirect":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"done":true}`)
		default:
			http.Error(w, "unexpected", http.StatusTeapot)
		}
	}))
	c.a = pnhHostOf(t, c.ts.URL)
	c.b = pnhLocalhost(c.a)
	return c
}

// check fails t unless the chain ran whole, the first request (to A/)
// carried want (header key to value), every later one carried none of the
// sensitive headers nor of firstOnly, and every request carried every
// header in always.
func (c *pnhChain) check(t *testing.T, want, always map[string]string, firstOnly ...string) {
	t.Helper()
	reqs := c.seen.all()
	c.seen.reset()
	var path []string
	for _, r := range reqs {
		path = append(path, r.host+r.path)
	}
	wantPath := []string{c.a + "/", c.b + "/", c.b + "/redirect", c.a + "/redirect"}
	if !slices.Equal(path, wantPath) {
		t.Fatalf("requests went to %q; want %q", path, wantPath)
	}
	for k, v := range want {
		if got := reqs[0].header.Get(k); got != v {
			t.Errorf("first request to %s: %s = %q; want %q", reqs[0].host, k, got, v)
		}
	}
	for i, r := range reqs {
		for k, v := range always {
			if got := r.header.Get(k); got != v {
				t.Errorf("request %d to %s%s: %s = %q; want %q (net/http copies it)", i, r.host, r.path, k, got, v)
			}
		}
		if i == 0 {
			continue
		}
		for _, k := range pnhSensitive {
			if got, ok := r.header[k]; ok {
				t.Errorf("request %d to %s%s after a redirect from %s carried %s %q; net/http strips it", i, r.host, r.path, c.a, k, got)
			}
		}
		for _, k := range firstOnly {
			if got, ok := r.header[k]; ok {
				t.Errorf("request %d to %s%s after a redirect from %s carried the Fetcher's default %s %q; want it only on the call's own host", i, r.host, r.path, c.a, k, got)
			}
		}
	}
}

// Credentials of every kind the Fetcher takes are stripped when a redirect
// leads to another host, and stay stripped when the chain comes back.
// Ports net/http's TestClientStripHeadersOnRepeatedRedirect and
// TestShouldCopyHeaderOnRedirect ("http://foo.com/" -> "http://bar.com/").
func TestPortNetHTTPCredentialsStrippedAcrossHosts(t *testing.T) {
	chain := newPNHChain(t)
	basic := "Basic " + "dXNlcjpwYXNz" // user:pass
	// The Fetcher's default User-Agent follows every hop; its other
	// defaults (X-Trace) only to the call's own host, and not back to it
	// after another (see keepDefaults): net/http copies them everywhere.
	always := map[string]string{"User-Agent": "pnh/1"}
	defaults := []Option{WithHeader("User-Agent", "pnh/1"), WithHeader("X-Trace", "t1")}
	start := "http://" + chain.a + "/"

	tests := []struct {
		name string
		opts []Option
		call func(ctx context.Context, f *Fetcher) error
		want map[string]string
	}{
		{
			name: "WithBearerToken/Get",
			opts: []Option{WithBearerToken("s3cret")},
			call: func(ctx context.Context, f *Fetcher) error { _, err := f.Get(ctx, start); return err },
			want: map[string]string{"Authorization": "Bearer s3cret"},
		},
		{
			name: "WithBasicAuth/Get",
			opts: []Option{WithBasicAuth("user", "pass")},
			call: func(ctx context.Context, f *Fetcher) error { _, err := f.Get(ctx, start); return err },
			want: map[string]string{"Authorization": basic},
		},
		{
			name: "WithHeader Authorization, Cookie, Proxy-Authorization/Get",
			opts: []Option{WithHeader("Authorization", "tok"), WithHeader("Cookie", "sid=1"), WithHeader("Proxy-Authorization", "ptok"), WithHeader("Cookie2", "c2")},
			call: func(ctx context.Context, f *Fetcher) error { _, err := f.Get(ctx, start); return err },
			// The default Proxy-Authorization is the proxy's: with none in
			// between, no server gets it, the first included.
			want: map[string]string{"Authorization": "tok", "Cookie": "sid=1", "Proxy-Authorization": "", "Cookie2": "c2"},
		},
		{
			name: "WithHeader lower-case authorization/Get",
			opts: []Option{WithHeader("authorization", "tok"), WithHeader("cookie", "sid=1")},
			call: func(ctx context.Context, f *Fetcher) error { _, err := f.Get(ctx, start); return err },
			want: map[string]string{"Authorization": "tok", "Cookie": "sid=1"},
		},
		{
			name: "per-call Header/Get",
			call: func(ctx context.Context, f *Fetcher) error {
				_, err := f.Get(ctx, start, Header("Authorization", "call-tok"), Header("Cookie", "sid=2"), Header("Proxy-Authorization", "p"))
				return err
			},
			want: map[string]string{"Authorization": "call-tok", "Cookie": "sid=2", "Proxy-Authorization": "p"},
		},
		{
			name: "per-call Header over WithBearerToken/Fetch",
			opts: []Option{WithBearerToken("default")},
			call: func(ctx context.Context, f *Fetcher) error {
				return f.Fetch(ctx, start, Header("Authorization", "Bearer call")).Err
			},
			want: map[string]string{"Authorization": "Bearer call"},
		},
		{
			name: "request header/Do",
			opts: []Option{WithBearerToken("default")},
			call: func(ctx context.Context, f *Fetcher) error {
				req, _ := http.NewRequestWithContext(ctx, "GET", start, nil)
				req.Header.Set("Authorization", "secretpassword")
				req.Header.Set("Cookie", "foo=bar")
				req.Header.Set("Proxy-Authorization", "secretpassword")
				resp, err := f.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				return err
			},
			want: map[string]string{"Authorization": "secretpassword", "Cookie": "foo=bar", "Proxy-Authorization": "secretpassword"},
		},
		{
			name: "URL user info/Get",
			call: func(ctx context.Context, f *Fetcher) error {
				_, err := f.Get(ctx, "http://user:pass@"+chain.a+"/")
				return err
			},
			want: map[string]string{"Authorization": basic},
		},
		{
			name: "WithBearerToken/GetAll",
			opts: []Option{WithBearerToken("s3cret")},
			call: func(ctx context.Context, f *Fetcher) error { return f.GetAll(ctx, []string{start})[0].Err },
			want: map[string]string{"Authorization": "Bearer s3cret"},
		},
		{
			name: "WithBearerToken/DoAll",
			opts: []Option{WithBearerToken("s3cret")},
			call: func(ctx context.Context, f *Fetcher) error {
				req, _ := http.NewRequest("GET", start, nil)
				return f.DoAll(ctx, []*http.Request{req})[0].Err
			},
			want: map[string]string{"Authorization": "Bearer s3cret"},
		},
		{
			name: "WithBearerToken/Stream",
			opts: []Option{WithBearerToken("s3cret")},
			call: func(ctx context.Context, f *Fetcher) error {
				var err error
				for r := range f.Stream(ctx, slices.Values([]string{start})) {
					err = r.Err
				}
				return err
			},
			want: map[string]string{"Authorization": "Bearer s3cret"},
		},
		{
			name: "WithBearerToken/StreamRequests",
			opts: []Option{WithBearerToken("s3cret")},
			call: func(ctx context.Context, f *Fetcher) error {
				req, _ := http.NewRequest("GET", start, nil)
				var err error
				for r := range f.StreamRequests(ctx, slices.Values([]*http.Request{req})) {
					err = r.Err
				}
				return err
			},
			want: map[string]string{"Authorization": "Bearer s3cret"},
		},
		{
			name: "WithBearerToken/StreamFunc",
			opts: []Option{WithBearerToken("s3cret")},
			call: func(ctx context.Context, f *Fetcher) error {
				var err error
				for r := range StreamFunc(ctx, f, slices.Values([]string{start}), func(ctx context.Context, u string) (*http.Request, error) {
					return http.NewRequestWithContext(ctx, "GET", u, nil)
				}) {
					err = r.Err
				}
				return err
			},
			want: map[string]string{"Authorization": "Bearer s3cret"},
		},
		{
			name: "WithBearerToken/HandleURLs",
			opts: []Option{WithBearerToken("s3cret")},
			call: func(ctx context.Context, f *Fetcher) error {
				var err error
				for h := range HandleURLs(ctx, f, slices.Values([]string{start}), func(_ string, resp *http.Response) (int, error) {
					return resp.StatusCode, nil
				}) {
					err = h.Err
				}
				return err
			},
			want: map[string]string{"Authorization": "Bearer s3cret"},
		},
		{
			name: "WithBearerToken/GetJSON",
			opts: []Option{WithBearerToken("s3cret")},
			call: func(ctx context.Context, f *Fetcher) error {
				v, err := GetJSON[map[string]bool](ctx, f, start)
				if err == nil && !v["done"] {
					return fmt.Errorf("GetJSON = %v", v)
				}
				return err
			},
			want: map[string]string{"Authorization": "Bearer s3cret"},
		},
		{
			name: "WithBearerToken/POST 307 with Body",
			opts: []Option{WithBearerToken("s3cret")},
			call: func(ctx context.Context, f *Fetcher) error {
				_, err := f.Get(ctx, start, Method("PUT"), Body("text/plain", []byte("x")))
				return err
			},
			want: map[string]string{"Authorization": "Bearer s3cret"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := pnhNew(t, append(slices.Clone(defaults), tt.opts...)...)
			if err := tt.call(t.Context(), f); err != nil {
				t.Fatalf("call: %v", err)
			}
			want := map[string]string{"X-Trace": "t1"}
			maps.Copy(want, tt.want)
			chain.check(t, want, always, "X-Trace")
		})
	}
}

// Same host name, different ports: net/http keeps Authorization and Cookie
// (Issue 35104), and copies every header of the first request, the
// Fetcher's defaults included. Ports net/http's
// TestClientCopyHeadersOnRedirect.
func TestPortNetHTTPClientCopyHeadersOnRedirect(t *testing.T) {
	const (
		ua   = "some-agent/1.2"
		xfoo = "foo-val"
	)
	var ts2URL string
	var bad atomic.Value
	ts1 := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := http.Header{
			"User-Agent":      []string{ua},
			"X-Foo":           []string{xfoo},
			"Referer":         []string{ts2URL + "/"}, // another port, another origin: fetch sends the origin alone
			"Accept-Encoding": []string{"gzip"},
			"Cookie":          []string{"foo=bar"},
			"Authorization":   []string{"secretpassword"},
		}
		if !reflect.DeepEqual(r.Header, want) {
			bad.Store(fmt.Sprintf("Request.Header = %#v; want %#v", r.Header, want))
		}
	}))
	ts2 := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, ts1.URL, http.StatusFound)
	}))
	ts2URL = ts2.URL

	check := func(t *testing.T) {
		t.Helper()
		if v := bad.Swap(""); v != nil && v != "" {
			t.Error(v)
		}
	}

	t.Run("request header, Do, WithClient CheckRedirect", func(t *testing.T) {
		c := ts1.Client()
		var inCheck atomic.Value
		c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
			want := http.Header{
				"User-Agent":    []string{ua},
				"X-Foo":         []string{xfoo},
				"Referer":       []string{ts2URL},
				"Cookie":        []string{"foo=bar"},
				"Authorization": []string{"secretpassword"},
			}
			if !reflect.DeepEqual(r.Header, want) {
				inCheck.Store(fmt.Sprintf("CheckRedirect Request.Header = %#v; want %#v", r.Header, want))
			}
			return nil
		}
		f := pnhNew(t, WithClient(c))
		req, _ := http.NewRequest("GET", ts2.URL, nil)
		req.Header.Add("User-Agent", ua)
		req.Header.Add("X-Foo", xfoo)
		req.Header.Add("Cookie", "foo=bar")
		req.Header.Add("Authorization", "secretpassword")
		res, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatal(res.Status)
		}
		if v := inCheck.Load(); v != nil {
			t.Error(v)
		}
		check(t)
	})
	t.Run("Fetcher defaults, Get", func(t *testing.T) {
		f := pnhNew(t, WithHeader("User-Agent", ua), WithHeader("X-Foo", xfoo), WithHeader("Cookie", "foo=bar"), WithHeader("Authorization", "secretpassword"))
		if _, err := f.Get(t.Context(), ts2.URL); err != nil {
			t.Fatal(err)
		}
		check(t)
	})
	t.Run("per-call headers, GetAll", func(t *testing.T) {
		f := pnhNew(t, WithHeader("User-Agent", ua))
		r := f.GetAll(t.Context(), []string{ts2.URL}, Header("X-Foo", xfoo), Header("Cookie", "foo=bar"), Header("Authorization", "secretpassword"))
		if r[0].Err != nil {
			t.Fatal(r[0].Err)
		}
		check(t)
	})
}

// net/http's TestShouldCopyHeaderOnRedirect table, run end to end through a
// Fetcher whose client (WithClient) serves every host in memory: a
// credential from each source reaches the redirect's destination exactly
// when it does through a bare http.Client given the same header (which,
// for the rows of net/http's table, is the table's answer), but where a
// row says fetch sends it though net/http does not: to the same host name
// in another case, which net/http compares case by case.
func TestPortNetHTTPShouldCopyHeaderOnRedirect(t *testing.T) {
	const netHTTPRows = 11 // the rows below taken from net/http's table; want is its answer
	tests := []struct {
		initialURL, destURL string
		want                bool
	}{
		{"http://foo.com/", "http://bar.com/", false},
		{"http://foo.com/", "https://foo.com/", true},
		{"http://foo.com:1234/", "http://foo.com:4321/", true},
		{"http://foo.com/", "http://foo.com/", true},
		{"http://foo.com/", "http://sub.foo.com/", true},
		{"http://foo.com/", "http://notfoo.com/", false},
		{"http://foo.com:80/", "http://foo.com/", true},
		{"http://foo.com:80/", "http://sub.foo.com/", true},
		{"http://foo.com:443/", "https://foo.com/", true},
		{"http://foo.com:443/", "https://sub.foo.com/", true},
		{"http://foo.com:1234/", "http://foo.com/", true},
		// Beyond net/http's table: the bare client decides.
		{"https://sub.foo.com/", "https://foo.com/", false},
		{"http://FOO.com/", "http://foo.com/", false},
		{"http://foo.com/", "http://sub.FOO.com/", false},
		{"http://foo.com/", "http://foo.com.evil.test/", false},
		{"http://foo.com/", "http://evilfoo.com/", false},
		{"http://foo.com/", "http://127.0.0.1/", false},
	}
	// folded are the rows where fetch sends the credential and net/http,
	// which compares host names case by case, does not.
	folded := map[string]bool{"http://FOO.com/": true, "http://sub.FOO.com/": true}
	sources := []struct {
		name string
		opts []Option
		req  []RequestOption
		key  string
		val  string
	}{
		{"WithBearerToken", []Option{WithBearerToken("t")}, nil, "Authorization", "Bearer t"},
		{"WithBasicAuth", []Option{WithBasicAuth("u", "p")}, nil, "Authorization", "Basic dTpw"},
		{"WithHeader Cookie", []Option{WithHeader("Cookie", "a=b")}, nil, "Cookie", "a=b"},
		{"Header Authorization", nil, []RequestOption{Header("Authorization", "x")}, "Authorization", "x"},
		{"Header Proxy-Authorization", nil, []RequestOption{Header("Proxy-Authorization", "x")}, "Proxy-Authorization", "x"},
	}
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var seen pnhSeen
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if to := r.URL.Query().Get("to"); to != "" {
						w.Header().Set("Location", to)
						w.WriteHeader(http.StatusFound)
						return
					}
					seen.add(r)
				})
				client := memhttp.Client(h)
				f := pnhNew(t, append([]Option{WithClient(client)}, src.opts...)...)
				// dest returns the src.key header the destination saw.
				dest := func() (string, bool) {
					reqs := seen.all()
					seen.reset()
					if len(reqs) != 1 {
						return "", false
					}
					return reqs[0].header.Get(src.key), true
				}
				for i, tt := range tests {
					start := tt.initialURL + "?to=" + url.QueryEscape(tt.destURL)

					// net/http, given the header the Fetcher sends first.
					req := mustGet(t, start)
					req.Header.Set(src.key, src.val)
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					bare, ok := dest()
					if !ok {
						t.Fatalf("%d. bare client: the destination was not reached", i)
					}
					if i < netHTTPRows && (bare != "") != tt.want {
						t.Fatalf("%d. bare client: %s = %q; net/http's table says copied=%v", i, src.key, bare, tt.want)
					}

					if _, err := f.Get(t.Context(), start, src.req...); err != nil {
						t.Errorf("%d. %s -> %s: %v", i, tt.initialURL, tt.destURL, err)
						continue
					}
					got, ok := dest()
					if !ok {
						t.Errorf("%d. the destination was not reached", i)
						continue
					}
					if fold := folded[tt.initialURL] || folded[tt.destURL]; fold && got != src.val || !fold && got != bare {
						t.Errorf("%d. %s -> %s: %s = %q; net/http sends %q (fetch sends it: %v)", i, tt.initialURL, tt.destURL, src.key, got, bare, fold)
					}
				}
			})
		})
	}
}

// A redirect back to the first host after a detour through another keeps
// the credentials stripped, for a redirect from a server that the Fetcher
// reaches through a cookie jar too (prepare clones headers then). Ports
// TestClientStripHeadersOnRepeatedRedirect with a Jar on the client.
func TestPortNetHTTPClientStripHeadersOnRepeatedRedirectWithJar(t *testing.T) {
	chain := newPNHChain(t)
	jar, _ := cookiejar.New(nil)
	c := chain.ts.Client()
	c.Jar = jar
	f := pnhNew(t, WithClient(c), WithBearerToken("s3cret"), WithHeader("Cookie", "sid=1"), WithHeader("X-Trace", "t1"))
	if _, err := f.Get(t.Context(), "http://"+chain.a+"/"); err != nil {
		t.Fatal(err)
	}
	chain.check(t, map[string]string{"Authorization": "Bearer s3cret", "Cookie": "sid=1", "X-Trace": "t1"}, nil, "X-Trace")
}

// A retry after a redirect to another host starts again at the first host,
// with its credentials, and the other host still gets none. (No net/http
// counterpart: net/http does not retry; this extends
// TestClientStripHeadersOnRepeatedRedirect to the Fetcher's retries.)
func TestPortNetHTTPRetryAfterCrossHostRedirectStripsCredentials(t *testing.T) {
	var seen pnhSeen
	var n atomic.Int32
	var a, b string
	ts := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.add(r)
		if r.Host == a {
			http.Redirect(w, r, "http://"+b+"/target", http.StatusTemporaryRedirect)
			return
		}
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	a = pnhHostOf(t, ts.URL)
	b = pnhLocalhost(a)
	f := pnhNew(t, WithBearerToken("s3cret"), WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if _, err := f.Get(t.Context(), "http://"+a+"/", Method("POST"), Header("Idempotency-Key", "k"), Body("text/plain", []byte("hi"))); err != nil {
		t.Fatal(err)
	}
	reqs := seen.all()
	if len(reqs) != 4 {
		t.Fatalf("%d requests; want 4 (a, b 503, a, b)", len(reqs))
	}
	for i, r := range reqs {
		got := r.header.Get("Authorization")
		switch {
		case r.host == a && got != "Bearer s3cret":
			t.Errorf("request %d to the first host: Authorization %q", i, got)
		case r.host == b && got != "":
			t.Errorf("request %d to the redirect's host carried Authorization %q", i, got)
		}
		if r.method != "POST" || r.body != "hi" {
			t.Errorf("request %d: %s %q; want POST \"hi\" (307)", i, r.method, r.body)
		}
	}
}

// ---------------------------------------------------------------------------
// Redirect following (TestClientRedirects and friends)
// ---------------------------------------------------------------------------

// Ports net/http's TestClientRedirects.
func TestPortNetHTTPClientRedirects(t *testing.T) {
	var ts *httptest.Server
	var requests atomic.Int32
	var badReferer atomic.Value
	ts = pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		n, _ := strconv.Atoi(r.FormValue("n"))
		// Test Referer header. (7 is arbitrary position to test at)
		if n == 7 {
			if g, e := r.Referer(), ts.URL+"/?n=6"; e != g {
				badReferer.Store(fmt.Sprintf("on request ?n=7, expected referer of %q; got %q", e, g))
			}
		}
		if n < 15 {
			http.Redirect(w, r, fmt.Sprintf("/?n=%d", n+1), http.StatusTemporaryRedirect)
			return
		}
		fmt.Fprintf(w, "n=%d", n)
	}))
	checkReferer := func(t *testing.T) {
		t.Helper()
		if v := badReferer.Swap(""); v != nil && v != "" {
			t.Error(v)
		}
	}
	// expect checks err is a too-many-redirects error after sent requests,
	// and that the call was not retried.
	expect := func(t *testing.T, what string, err error, sent int32) {
		t.Helper()
		if !errors.Is(err, ErrTooManyRedirects) {
			t.Errorf("%s: err = %v; want ErrTooManyRedirects", what, err)
		}
		var fe *Error
		if errors.As(err, &fe) && fe.Attempts != 1 {
			t.Errorf("%s: Attempts = %d; want 1 (not retried)", what, fe.Attempts)
		}
		if got := requests.Swap(0); got != sent {
			t.Errorf("%s: server saw %d requests; want %d", what, got, sent)
		}
		checkReferer(t)
	}

	// The client New builds follows DefaultMaxRedirects (10) redirects,
	// so 11 requests: deliberate, per WithMaxRedirects' doc ("how many
	// redirects a request may follow (default DefaultMaxRedirects)").
	// net/http's default stops after 10 requests (9 redirects).
	f := pnhNew(t)
	_, err := f.Get(t.Context(), ts.URL)
	expect(t, "Get", err, DefaultMaxRedirects+1)
	if err != nil && !strings.Contains(err.Error(), "stopped after 10") {
		t.Errorf("Get: err = %q; want it to say it stopped after 10", err)
	}

	// HEAD request should also have the ability to follow redirects.
	_, err = f.Get(t.Context(), ts.URL, Method("HEAD"))
	expect(t, "Head", err, DefaultMaxRedirects+1)

	// Do should also follow redirects.
	greq, _ := http.NewRequest("GET", ts.URL, nil)
	_, err = f.Do(greq)
	expect(t, "Do", err, DefaultMaxRedirects+1)

	// Requests with an empty Method should also redirect (Issue 12705)
	greq.Method = ""
	_, err = f.Do(greq)
	expect(t, "Do with empty Method", err, DefaultMaxRedirects+1)

	// WithMaxRedirects(9) is net/http's default limit.
	f9 := pnhNew(t, WithMaxRedirects(9))
	_, err = f9.Get(t.Context(), ts.URL)
	expect(t, "WithMaxRedirects(9)", err, 10)

	// WithMaxRedirects(0) follows none.
	f0 := pnhNew(t, WithMaxRedirects(0))
	_, err = f0.Get(t.Context(), ts.URL)
	expect(t, "WithMaxRedirects(0)", err, 1)

	// A client without CheckRedirect (WithClient) keeps net/http's policy.
	fc := pnhNew(t, WithClient(ts.Client()))
	_, err = fc.Get(t.Context(), ts.URL)
	expect(t, "WithClient default policy", err, 10)

	var checkErr error
	var lastVia []*http.Request
	var lastReq *http.Request
	c := ts.Client()
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		lastReq = req
		lastVia = via
		return checkErr
	}
	fc = pnhNew(t, WithClient(c))
	r := fc.Fetch(t.Context(), ts.URL)
	if r.Err != nil {
		t.Fatalf("Get error: %v", r.Err)
	}
	if !strings.HasSuffix(r.FinalURL, "/?n=15") {
		t.Errorf("expected final url to end in /?n=15; got url %q", r.FinalURL)
	}
	if e, g := 15, len(lastVia); e != g {
		t.Errorf("expected lastVia to have contained %d elements; got %d", e, g)
	}
	requests.Store(0)
	checkReferer(t)

	// Test that Request.Cancel is propagated between requests (Issue 14053)
	creq, _ := http.NewRequest("HEAD", ts.URL, nil)
	cancel := make(chan struct{})
	creq.Cancel = cancel //lint:ignore SA1019 ported from net/http
	resp, err := fc.Do(creq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if lastReq == nil {
		t.Fatal("didn't see redirect")
	}
	//lint:ignore SA1019 ported from net/http
	if lastReq.Cancel != cancel {
		t.Errorf("expected lastReq to have the cancel channel set on the initial req")
	}
	requests.Store(0)

	checkErr = errors.New("no redirects allowed")
	res, err := fc.Do(mustGet(t, ts.URL))
	if !errors.Is(err, checkErr) {
		t.Errorf("with redirects forbidden, expected an error wrapping our 'no redirects allowed' error; got %#v (%q)", err, err)
	}
	// net/http returns a non-nil Response with a CheckRedirect error
	// (Issue 3795). Fetcher.Do returns none: deliberate, per Do's doc
	// ("on error any response is closed") and finish ("Do: as
	// http.Client.Do, no response with an error").
	if res != nil {
		t.Errorf("Do returned a response with an error; its doc says it returns none")
		res.Body.Close()
	}
	if got := requests.Swap(0); got != 1 {
		t.Errorf("a CheckRedirect error was retried: server saw %d requests; want 1", got)
	}
	// Fetch does keep the redirect response: status and Location.
	r = fc.Fetch(t.Context(), ts.URL)
	if !errors.Is(r.Err, checkErr) || r.Status != http.StatusTemporaryRedirect || r.Header.Get("Location") == "" {
		t.Errorf("Fetch with redirects forbidden = status %d, Location %q, err %v; want the 307 and its Location with the check's error",
			r.Status, r.Header.Get("Location"), r.Err)
	}
	if got := requests.Swap(0); got != 1 {
		t.Errorf("a CheckRedirect error was retried: server saw %d requests; want 1", got)
	}
}

// Ports net/http's TestClientRedirectsContext: redirected requests carry
// the original request's context, and a cancellation during a redirect
// fails the call with context.Canceled.
func TestPortNetHTTPClientRedirectsContext(t *testing.T) {
	var requests atomic.Int32
	ts := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Redirect(w, r, "/", http.StatusTemporaryRedirect)
	}))
	t.Run("WithClient CheckRedirect cancels", func(t *testing.T) {
		requests.Store(0)
		ctx, cancel := context.WithCancel(context.Background())
		c := ts.Client()
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			cancel()
			// A context derived from the caller's is cancelled with it.
			if req.Context().Err() == nil {
				return errors.New("redirected request's context never expired after root request canceled")
			}
			return nil
		}
		f := pnhNew(t, WithClient(c))
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL, nil)
		_, err := f.Do(req)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v; want context.Canceled", err)
		}
		if _, ok := errors.AsType[*Error](err); !ok {
			t.Errorf("err is %T; want *fetch.Error", err)
		}
		if n := requests.Load(); n != 1 {
			t.Errorf("server saw %d requests; want 1", n)
		}
	})
	t.Run("cancelled while the redirect is answered", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var target atomic.Int32
		ts := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/target" {
				target.Add(1)
				return
			}
			cancel()
			http.Redirect(w, r, "/target", http.StatusFound)
		}))
		f := pnhNew(t)
		_, err := f.Get(ctx, ts.URL)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v; want context.Canceled", err)
		}
		if n := target.Load(); n != 0 {
			t.Errorf("the redirect was followed after the context was cancelled (%d requests)", n)
		}
	})
}

// pnhRedirectTest is net/http's redirectTest.
type pnhRedirectTest struct {
	suffix       string
	want         int // response code
	redirectBody string
}

// pnhRedirectsByMethod ports net/http's testRedirectsByMethod: it sends
// method with each table entry's body through send and compares the log of
// what the server saw with want.
func pnhRedirectsByMethod(t *testing.T, method string, table []pnhRedirectTest, want string,
	send func(t *testing.T, ts *httptest.Server, method, suffix, content string) int) {
	var log struct {
		sync.Mutex
		bytes.Buffer
	}
	var ts *httptest.Server
	ts = pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Lock()
		slurp, _ := io.ReadAll(r.Body)
		fmt.Fprintf(&log.Buffer, "%s %s %q", r.Method, r.RequestURI, slurp)
		if cl := r.Header.Get("Content-Length"); r.Method == "GET" && len(slurp) == 0 && (r.ContentLength != 0 || cl != "") {
			fmt.Fprintf(&log.Buffer, " (but with body=%T, content-length = %v, %q)", r.Body, r.ContentLength, cl)
		}
		if r.Method == "GET" && r.Header.Get("Content-Type") != "" {
			fmt.Fprintf(&log.Buffer, " (but with Content-Type %q)", r.Header.Get("Content-Type"))
		}
		log.WriteByte('\n')
		log.Unlock()
		urlQuery := r.URL.Query()
		if v := urlQuery.Get("code"); v != "" {
			location := ts.URL
			if final := urlQuery.Get("next"); final != "" {
				first, rest, _ := strings.Cut(final, ",")
				location = fmt.Sprintf("%s?code=%s", location, first)
				if rest != "" {
					location = fmt.Sprintf("%s&next=%s", location, rest)
				}
			}
			code, _ := strconv.Atoi(v)
			if code/100 == 3 {
				w.Header().Set("Location", location)
			}
			w.WriteHeader(code)
		}
	}))
	for _, tt := range table {
		if got := send(t, ts, method, tt.suffix, tt.redirectBody); got != tt.want {
			t.Errorf("%s %s: status code = %d; want %d", method, tt.suffix, got, tt.want)
		}
	}
	log.Lock()
	got := strings.TrimSpace(log.String())
	log.Unlock()
	want = strings.TrimSpace(want)
	if got != want {
		t.Errorf("Log differs.\n\nGot:\n%s\n\nWant:\n%s\n", got, want)
	}
}

// pnhSendDo sends with Fetcher.Do, as net/http's test does with Client.Do.
func pnhSendDo(f *Fetcher) func(t *testing.T, ts *httptest.Server, method, suffix, content string) int {
	return func(t *testing.T, ts *httptest.Server, method, suffix, content string) int {
		req, _ := http.NewRequest(method, ts.URL+suffix, strings.NewReader(content))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }
		res, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
}

// pnhSendOptions sends with Fetcher.Fetch shaped by Method and Body (with
// a Content-Type, which net/http drops with the body on a 301-303).
func pnhSendOptions(f *Fetcher) func(t *testing.T, ts *httptest.Server, method, suffix, content string) int {
	return func(t *testing.T, ts *httptest.Server, method, suffix, content string) int {
		r := f.Fetch(t.Context(), ts.URL+suffix, Method(method), Body("text/plain", []byte(content)))
		if r.Err != nil {
			if _, ok := errors.AsType[*StatusError](r.Err); !ok {
				t.Fatal(r.Err)
			}
		}
		return r.Status
	}
}

var pnhPostRedirectTests = []pnhRedirectTest{
	{"/", 200, "first"},
	{"/?code=301&next=302", 200, "c301"},
	{"/?code=302&next=302", 200, "c302"},
	{"/?code=303&next=301", 200, "c303wc301"}, // Issue 9348
	{"/?code=304", 304, "c304"},
	{"/?code=305", 305, "c305"},
	{"/?code=307&next=303,308,302", 200, "c307"},
	{"/?code=308&next=302,301", 200, "c308"},
	{"/?code=404", 404, "c404"},
}

var pnhPostWant = strings.Join([]string{
	`POST / "first"`,
	`POST /?code=301&next=302 "c301"`,
	`GET /?code=302 ""`,
	`GET / ""`,
	`POST /?code=302&next=302 "c302"`,
	`GET /?code=302 ""`,
	`GET / ""`,
	`POST /?code=303&next=301 "c303wc301"`,
	`GET /?code=301 ""`,
	`GET / ""`,
	`POST /?code=304 "c304"`,
	`POST /?code=305 "c305"`,
	`POST /?code=307&next=303,308,302 "c307"`,
	`POST /?code=303&next=308,302 "c307"`,
	`GET /?code=308&next=302 ""`,
	`GET /?code=302 ""`,
	`GET / ""`,
	`POST /?code=308&next=302,301 "c308"`,
	`POST /?code=302&next=301 "c308"`,
	`GET /?code=301 ""`,
	`GET / ""`,
	`POST /?code=404 "c404"`,
}, "\n")

var pnhDeleteRedirectTests = []pnhRedirectTest{
	{"/", 200, "first"},
	{"/?code=301&next=302,308", 200, "c301"},
	{"/?code=302&next=302", 200, "c302"},
	{"/?code=303", 200, "c303"},
	{"/?code=307&next=301,308,303,302,304", 304, "c307"},
	{"/?code=308&next=307", 200, "c308"},
	{"/?code=404", 404, "c404"},
}

var pnhDeleteWant = strings.Join([]string{
	`DELETE / "first"`,
	`DELETE /?code=301&next=302,308 "c301"`,
	`GET /?code=302&next=308 ""`,
	`GET /?code=308 ""`,
	`GET / ""`,
	`DELETE /?code=302&next=302 "c302"`,
	`GET /?code=302 ""`,
	`GET / ""`,
	`DELETE /?code=303 "c303"`,
	`GET / ""`,
	`DELETE /?code=307&next=301,308,303,302,304 "c307"`,
	`DELETE /?code=301&next=308,303,302,304 "c307"`,
	`GET /?code=308&next=303,302,304 ""`,
	`GET /?code=303&next=302,304 ""`,
	`GET /?code=302&next=304 ""`,
	`GET /?code=304 ""`,
	`DELETE /?code=308&next=307 "c308"`,
	`DELETE /?code=307 "c308"`,
	`DELETE / "c308"`,
	`DELETE /?code=404 "c404"`,
}, "\n")

// Ports net/http's TestPostRedirects.
func TestPortNetHTTPPostRedirects(t *testing.T) {
	t.Run("Do", func(t *testing.T) {
		pnhRedirectsByMethod(t, "POST", pnhPostRedirectTests, pnhPostWant, pnhSendDo(pnhNew(t)))
	})
	t.Run("Fetch with Method and Body", func(t *testing.T) {
		pnhRedirectsByMethod(t, "POST", pnhPostRedirectTests, pnhPostWant, pnhSendOptions(pnhNew(t)))
	})
}

// Ports net/http's TestDeleteRedirects.
func TestPortNetHTTPDeleteRedirects(t *testing.T) {
	t.Run("Do", func(t *testing.T) {
		pnhRedirectsByMethod(t, "DELETE", pnhDeleteRedirectTests, pnhDeleteWant, pnhSendDo(pnhNew(t)))
	})
	t.Run("Fetch with Method and Body", func(t *testing.T) {
		pnhRedirectsByMethod(t, "DELETE", pnhDeleteRedirectTests, pnhDeleteWant, pnhSendOptions(pnhNew(t)))
	})
}

// Ports net/http's TestClientStripHeadersOnPostToGetRedirect, with the
// body headers set by Body and by default (WithHeader) as well.
func TestPortNetHTTPClientStripHeadersOnPostToGetRedirect(t *testing.T) {
	var bad atomic.Value
	ts := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			http.Redirect(w, r, "/redirected", http.StatusFound)
			return
		} else if r.Method != "GET" {
			bad.Store(fmt.Sprintf("unexpected request method: %v", r.Method))
			return
		}
		for key, val := range r.Header {
			if strings.HasPrefix(key, "Content-") {
				bad.Store(fmt.Sprintf("unexpected request body header after redirect: %v: %v", key, val))
			}
		}
	}))
	check := func(t *testing.T) {
		t.Helper()
		if v := bad.Swap(""); v != nil && v != "" {
			t.Error(v)
		}
	}
	t.Run("Do", func(t *testing.T) {
		f := pnhNew(t)
		req, _ := http.NewRequest("POST", ts.URL, strings.NewReader("hello world"))
		req.Header.Set("Content-Encoding", "a")
		req.Header.Set("Content-Language", "b")
		req.Header.Set("Content-Length", "c")
		req.Header.Set("Content-Type", "d")
		res, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		check(t)
	})
	t.Run("Body and WithHeader", func(t *testing.T) {
		f := pnhNew(t, WithHeader("Content-Language", "b"), WithHeader("Content-Encoding", "a"))
		if _, err := f.Get(t.Context(), ts.URL, Method("POST"), Body("d", []byte("hello world"))); err != nil {
			t.Fatal(err)
		}
		check(t)
	})
}

// Ports net/http's TestClientRedirectUseResponse: a CheckRedirect (of a
// WithClient client) returning ErrUseLastResponse hands back the redirect
// with its body, which holds the slot until closed.
func TestPortNetHTTPClientRedirectUseResponse(t *testing.T) {
	const body = "Hello, world."
	var ts *httptest.Server
	ts = pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/other") {
			io.WriteString(w, "wrong body")
		} else {
			w.Header().Set("Location", ts.URL+"/other")
			w.WriteHeader(http.StatusFound)
			io.WriteString(w, body)
		}
	}))
	c := ts.Client()
	var noResponse atomic.Bool
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.Response == nil {
			noResponse.Store(true)
		}
		return http.ErrUseLastResponse
	}
	f := pnhNew(t, WithClient(c))
	res, err := f.Do(mustGet(t, ts.URL))
	if err != nil {
		t.Fatal(err)
	}
	if noResponse.Load() {
		t.Error("expected non-nil Request.Response")
	}
	if res.StatusCode != http.StatusFound {
		t.Errorf("status = %d; want %d", res.StatusCode, http.StatusFound)
	}
	if s := f.Stats(); s.InFlight != 1 {
		t.Errorf("InFlight = %d with the redirect's body open; want 1", s.InFlight)
	}
	slurp, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if string(slurp) != body {
		t.Errorf("body = %q; want %q", slurp, body)
	}
	checkIdle(t, f)

	// Get: a 302 is not 2xx, so it is a StatusError carrying the body.
	_, err = f.Get(t.Context(), ts.URL)
	se, ok := errors.AsType[*StatusError](err)
	if !ok || se.StatusCode != http.StatusFound || string(se.Body) != body {
		t.Errorf("Get = %v; want a StatusError 302 with body %q", err, body)
	}
	checkIdle(t, f)
}

// Ports net/http's TestClientRedirectNoLocation: a 3xx without Location is
// the final response.
func TestPortNetHTTPClientRedirectNoLocation(t *testing.T) {
	for _, code := range []int{301, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			ts := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Foo", "Bar")
				w.WriteHeader(code)
			}))
			f := pnhNew(t)
			res, err := f.Do(mustGet(t, ts.URL))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != code {
				t.Errorf("status = %d; want %d", res.StatusCode, code)
			}
			if got := res.Header.Get("Foo"); got != "Bar" {
				t.Errorf("Foo header = %q; want Bar", got)
			}
			r := f.Fetch(t.Context(), ts.URL)
			se, ok := errors.AsType[*StatusError](r.Err)
			if !ok || se.StatusCode != code || se.Header.Get("Foo") != "Bar" || r.Attempts != 1 {
				t.Errorf("Fetch = %v after %d attempts; want one StatusError %d with header Foo", r.Err, r.Attempts, code)
			}
		})
	}
}

// Ports net/http's TestClientRedirect308NoGetBody: a 307/308 is not
// followed when the body cannot be sent again.
func TestPortNetHTTPClientRedirect308NoGetBody(t *testing.T) {
	const fakeURL = "https://localhost:1234/" // won't be hit
	var requests atomic.Int32
	ts := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Location", fakeURL)
		w.WriteHeader(308)
	}))
	req, err := http.NewRequest("POST", ts.URL, strings.NewReader("some body"))
	if err != nil {
		t.Fatal(err)
	}
	req.GetBody = nil // so it can't rewind.
	f := pnhNew(t)
	res, err := f.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 308 {
		t.Errorf("status = %d; want %d", res.StatusCode, 308)
	}
	if got := res.Header.Get("Location"); got != fakeURL {
		t.Errorf("Location header = %q; want %q", got, fakeURL)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("server saw %d requests; want 1", n)
	}
	checkIdle(t, f)
}

// Ports net/http's TestClientRedirectTypes: the method of the request that
// follows each redirect status.
func TestPortNetHTTPClientRedirectTypes(t *testing.T) {
	tests := [...]struct {
		method       string
		serverStatus int
		wantMethod   string // desired subsequent client method
	}{
		0: {method: "POST", serverStatus: 301, wantMethod: "GET"},
		1: {method: "POST", serverStatus: 302, wantMethod: "GET"},
		2: {method: "POST", serverStatus: 303, wantMethod: "GET"},
		3: {method: "POST", serverStatus: 307, wantMethod: "POST"},
		4: {method: "POST", serverStatus: 308, wantMethod: "POST"},

		5: {method: "HEAD", serverStatus: 301, wantMethod: "HEAD"},
		6: {method: "HEAD", serverStatus: 302, wantMethod: "HEAD"},
		7: {method: "HEAD", serverStatus: 303, wantMethod: "HEAD"},
		8: {method: "HEAD", serverStatus: 307, wantMethod: "HEAD"},
		9: {method: "HEAD", serverStatus: 308, wantMethod: "HEAD"},

		10: {method: "GET", serverStatus: 301, wantMethod: "GET"},
		11: {method: "GET", serverStatus: 302, wantMethod: "GET"},
		12: {method: "GET", serverStatus: 303, wantMethod: "GET"},
		13: {method: "GET", serverStatus: 307, wantMethod: "GET"},
		14: {method: "GET", serverStatus: 308, wantMethod: "GET"},

		15: {method: "DELETE", serverStatus: 301, wantMethod: "GET"},
		16: {method: "DELETE", serverStatus: 302, wantMethod: "GET"},
		17: {method: "DELETE", serverStatus: 303, wantMethod: "GET"},
		18: {method: "DELETE", serverStatus: 307, wantMethod: "DELETE"},
		19: {method: "DELETE", serverStatus: 308, wantMethod: "DELETE"},

		20: {method: "PUT", serverStatus: 301, wantMethod: "GET"},
		21: {method: "PUT", serverStatus: 302, wantMethod: "GET"},
		22: {method: "PUT", serverStatus: 303, wantMethod: "GET"},
		23: {method: "PUT", serverStatus: 307, wantMethod: "PUT"},
		24: {method: "PUT", serverStatus: 308, wantMethod: "PUT"},

		25: {method: "MADEUPMETHOD", serverStatus: 301, wantMethod: "GET"},
		26: {method: "MADEUPMETHOD", serverStatus: 302, wantMethod: "GET"},
		27: {method: "MADEUPMETHOD", serverStatus: 303, wantMethod: "GET"},
		28: {method: "MADEUPMETHOD", serverStatus: 307, wantMethod: "MADEUPMETHOD"},
		29: {method: "MADEUPMETHOD", serverStatus: 308, wantMethod: "MADEUPMETHOD"},
	}
	var followed atomic.Value
	ts := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := r.URL.Query().Get("code"); code != "" {
			n, _ := strconv.Atoi(code)
			w.Header().Set("Location", "/done")
			w.WriteHeader(n)
			return
		}
		followed.Store(r.Method)
	}))
	t.Run("WithClient CheckRedirect", func(t *testing.T) {
		c := ts.Client()
		var want string
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if got := req.Method; got != want {
				return fmt.Errorf("got next method %q; want %q", got, want)
			}
			return nil
		}
		f := pnhNew(t, WithClient(c))
		for i, tt := range tests {
			want = tt.wantMethod
			req, err := http.NewRequest(tt.method, ts.URL+"/?code="+strconv.Itoa(tt.serverStatus), nil)
			if err != nil {
				t.Fatalf("#%d: NewRequest: %v", i, err)
			}
			res, err := f.Do(req)
			if err != nil {
				t.Errorf("#%d: Response: %v", i, err)
				continue
			}
			res.Body.Close()
		}
	})
	t.Run("Method option, server sees", func(t *testing.T) {
		f := pnhNew(t)
		for i, tt := range tests {
			followed.Store("")
			_, err := f.Get(t.Context(), ts.URL+"/?code="+strconv.Itoa(tt.serverStatus), Method(tt.method))
			if err != nil {
				t.Errorf("#%d: %v", i, err)
				continue
			}
			if got := followed.Load(); got != tt.wantMethod {
				t.Errorf("#%d: %s after %d: server saw %q; want %q", i, tt.method, tt.serverStatus, got, tt.wantMethod)
			}
		}
	})
}

// Ports net/http's TestClientCopyHostOnRedirect: a Host set on the request
// (Do), per call (Header("Host")) or by default (WithHeader("Host")) is kept
// on a relative redirect and dropped on an absolute one.
func TestPortNetHTTPClientCopyHostOnRedirect(t *testing.T) {
	var bad atomic.Value
	virtual := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad.Store(fmt.Sprintf("Virtual host received request %v", r.URL))
		w.WriteHeader(403)
	}))
	virtualHost := strings.TrimPrefix(virtual.URL, "http://")

	const wantBody = "response body"
	var tsURL, tsHost string
	ts := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			// Relative redirect.
			if r.Host != virtualHost {
				bad.Store(fmt.Sprintf("Serving /: Request.Host = %#v; want %#v", r.Host, virtualHost))
				w.WriteHeader(404)
				return
			}
			w.Header().Set("Location", "/hop")
			w.WriteHeader(302)
		case "/hop":
			// Absolute redirect.
			if r.Host != virtualHost {
				bad.Store(fmt.Sprintf("Serving /hop: Request.Host = %#v; want %#v", r.Host, virtualHost))
				w.WriteHeader(404)
				return
			}
			w.Header().Set("Location", tsURL+"/final")
			w.WriteHeader(302)
		case "/final":
			if r.Host != tsHost {
				bad.Store(fmt.Sprintf("Serving /final: Request.Host = %#v; want %#v", r.Host, tsHost))
				w.WriteHeader(404)
				return
			}
			w.WriteHeader(200)
			io.WriteString(w, wantBody)
		default:
			bad.Store(fmt.Sprintf("Serving unexpected path %q", r.URL.Path))
			w.WriteHeader(404)
		}
	}))
	tsURL = ts.URL
	tsHost = strings.TrimPrefix(ts.URL, "http://")
	check := func(t *testing.T, body []byte, err error) {
		t.Helper()
		if v := bad.Swap(""); v != nil && v != "" {
			t.Error(v)
		}
		if err != nil || string(body) != wantBody {
			t.Errorf("body = %q, %v; want %q", body, err, wantBody)
		}
	}
	t.Run("Do", func(t *testing.T) {
		f := pnhNew(t)
		req := mustGet(t, ts.URL)
		req.Host = virtualHost
		resp, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		check(t, body, err)
	})
	t.Run("Header(Host)", func(t *testing.T) {
		f := pnhNew(t)
		body, err := f.Get(t.Context(), ts.URL, Header("Host", virtualHost))
		check(t, body, err)
	})
	t.Run("WithHeader(Host)", func(t *testing.T) {
		f := pnhNew(t, WithHeader("Host", virtualHost))
		body, err := f.Get(t.Context(), ts.URL)
		check(t, body, err)
	})
}

// Ports net/http's TestClientAltersCookiesOnRedirect: with a cookie jar,
// cookies set in the first request's header are overridden by Set-Cookie
// along the redirects; also with the cookies given by WithHeader.
func TestPortNetHTTPClientAltersCookiesOnRedirect(t *testing.T) {
	cookieMap := func(cs []*http.Cookie) map[string][]string {
		m := make(map[string][]string)
		for _, c := range cs {
			m[c.Name] = append(m[c.Name], c.Value)
		}
		return m
	}
	var bad atomic.Value
	ts := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var want map[string][]string
		got := cookieMap(r.Cookies())

		c, _ := r.Cookie("Cycle")
		if c == nil {
			bad.Store("no Cycle cookie")
			return
		}
		switch c.Value {
		case "0":
			want = map[string][]string{
				"Cookie1": {"OldValue1a", "OldValue1b"},
				"Cookie2": {"OldValue2"},
				"Cookie3": {"OldValue3a", "OldValue3b"},
				"Cookie4": {"OldValue4"},
				"Cycle":   {"0"},
			}
			http.SetCookie(w, &http.Cookie{Name: "Cycle", Value: "1", Path: "/"})
			http.SetCookie(w, &http.Cookie{Name: "Cookie2", Path: "/", MaxAge: -1}) // Delete cookie from Header
			http.Redirect(w, r, "/", http.StatusFound)
		case "1":
			want = map[string][]string{
				"Cookie1": {"OldValue1a", "OldValue1b"},
				"Cookie3": {"OldValue3a", "OldValue3b"},
				"Cookie4": {"OldValue4"},
				"Cycle":   {"1"},
			}
			http.SetCookie(w, &http.Cookie{Name: "Cycle", Value: "2", Path: "/"})
			http.SetCookie(w, &http.Cookie{Name: "Cookie3", Value: "NewValue3", Path: "/"}) // Modify cookie in Header
			http.SetCookie(w, &http.Cookie{Name: "Cookie4", Value: "NewValue4", Path: "/"}) // Modify cookie in Jar
			http.Redirect(w, r, "/", http.StatusFound)
		case "2":
			want = map[string][]string{
				"Cookie1": {"OldValue1a", "OldValue1b"},
				"Cookie3": {"NewValue3"},
				"Cookie4": {"NewValue4"},
				"Cycle":   {"2"},
			}
			http.SetCookie(w, &http.Cookie{Name: "Cycle", Value: "3", Path: "/"})
			http.SetCookie(w, &http.Cookie{Name: "Cookie5", Value: "NewValue5", Path: "/"}) // Insert cookie into Jar
			http.Redirect(w, r, "/", http.StatusFound)
		case "3":
			want = map[string][]string{
				"Cookie1": {"OldValue1a", "OldValue1b"},
				"Cookie3": {"NewValue3"},
				"Cookie4": {"NewValue4"},
				"Cookie5": {"NewValue5"},
				"Cycle":   {"3"},
			}
			// Don't redirect to ensure the loop ends.
		default:
			bad.Store("unexpected redirect cycle")
			return
		}
		if !reflect.DeepEqual(got, want) {
			bad.Store(fmt.Sprintf("redirect %s, Cookie = %v, want %v", c.Value, got, want))
		}
	}))
	newJarFetcher := func(t *testing.T, opts ...Option) *Fetcher {
		jar, _ := cookiejar.New(nil)
		u, _ := url.Parse(ts.URL)
		jar.SetCookies(u, []*http.Cookie{{Name: "Cookie4", Value: "OldValue4", Path: "/"}})
		jar.SetCookies(u, []*http.Cookie{{Name: "Cycle", Value: "0", Path: "/"}})
		c := ts.Client()
		c.Jar = jar
		return pnhNew(t, append([]Option{WithClient(c)}, opts...)...)
	}
	check := func(t *testing.T) {
		t.Helper()
		if v := bad.Swap(""); v != nil && v != "" {
			t.Error(v)
		}
	}
	t.Run("Do", func(t *testing.T) {
		f := newJarFetcher(t)
		req := mustGet(t, ts.URL)
		req.AddCookie(&http.Cookie{Name: "Cookie1", Value: "OldValue1a"})
		req.AddCookie(&http.Cookie{Name: "Cookie1", Value: "OldValue1b"})
		req.AddCookie(&http.Cookie{Name: "Cookie2", Value: "OldValue2"})
		req.AddCookie(&http.Cookie{Name: "Cookie3", Value: "OldValue3a"})
		req.AddCookie(&http.Cookie{Name: "Cookie3", Value: "OldValue3b"})
		res, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatal(res.Status)
		}
		if got := req.Header.Get("Cookie"); got != "Cookie1=OldValue1a; Cookie1=OldValue1b; Cookie2=OldValue2; Cookie3=OldValue3a; Cookie3=OldValue3b" {
			t.Errorf("the caller's request's Cookie header became %q", got)
		}
		check(t)
	})
	t.Run("WithHeader(Cookie)", func(t *testing.T) {
		f := newJarFetcher(t, WithHeader("Cookie", "Cookie1=OldValue1a; Cookie1=OldValue1b; Cookie2=OldValue2; Cookie3=OldValue3a; Cookie3=OldValue3b"))
		if _, err := f.Get(t.Context(), ts.URL); err != nil {
			t.Fatal(err)
		}
		check(t)
	})
}

// Ports net/http's TestClientRedirectEatsBody_h1: the redirect's body is
// read so that the next request reuses its connection (hop closes it
// before it gives back the slot).
func TestPortNetHTTPClientRedirectEatsBody(t *testing.T) {
	saw := make(chan string, 2)
	ts := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		saw <- r.RemoteAddr
		if r.URL.Path == "/" {
			http.Redirect(w, r, "/foo", http.StatusFound) // which includes a body
		}
	}))
	f := pnhNew(t, WithHostConcurrency(1))
	if _, err := f.Get(t.Context(), ts.URL); err != nil {
		t.Fatal(err)
	}
	var first, second string
	select {
	case first = <-saw:
	default:
		t.Fatal("server didn't see a request")
	}
	select {
	case second = <-saw:
	default:
		t.Fatal("server didn't see a second request")
	}
	if first != second {
		t.Fatal("server saw different client ports before & after the redirect")
	}
}

// Ports net/http's TestReferer (refererForURL) end to end: the Referer of
// a redirect names the previous URL without its user info, is not sent
// from https to http, and an explicit one (WithHeader, Header) is kept
// except from https to http. fetch differs where the redirect goes to
// another origin, as every case here does: it sends the previous URL's
// origin alone, as browsers do by default (bare is what net/http sends).
func TestPortNetHTTPReferer(t *testing.T) {
	var seen pnhSeen
	dest := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen.add(r) }))
	destURL := pnhLocalhost(dest.URL) + "/dest"
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, destURL, http.StatusFound)
	})
	plain := pnhServer(t, redirect)
	secure := httptest.NewTLSServer(redirect)
	t.Cleanup(secure.Close)
	pool := x509.NewCertPool()
	pool.AddCert(secure.Certificate())
	f := pnhNew(t, WithTLSConfig(&tls.Config{RootCAs: pool}))
	fRef := pnhNew(t, WithTLSConfig(&tls.Config{RootCAs: pool}), WithHeader("Referer", "https://foo.com"))

	tests := []struct {
		name  string
		f     *Fetcher
		start string
		opts  []RequestOption
		want  string
		bare  string // what net/http sends, if not want
	}{
		{"don't send user", f, strings.Replace(plain.URL, "://", "://gopher@", 1) + "/from?q=1", nil, plain.URL + "/", plain.URL + "/from?q=1"},
		{"don't send user and password", f, strings.Replace(plain.URL, "://", "://gopher:go@", 1) + "/from", nil, plain.URL + "/", plain.URL + "/from"},
		{"https don't send user and password", f, strings.Replace(secure.URL, "://", "://gopher:go@", 1) + "/from", nil, "", ""},
		{"nothing to do", f, plain.URL + "/from", nil, plain.URL + "/", plain.URL + "/from"},
		{"https to http doesn't send a referer", f, secure.URL + "/from", nil, "", ""},
		// refererForURL answers "" here, but Client.do then sets no
		// Referer and so leaves the one copied from the first request: a
		// bare http.Client sends it too (checked below).
		{"https to http keeps WithHeader referer", fRef, secure.URL + "/from", nil, "https://foo.com", ""},
		{"https to http keeps Header referer", f, secure.URL + "/from", []RequestOption{Header("Referer", "https://foo.com")}, "https://foo.com", ""},
		{"don't override WithHeader referer", fRef, plain.URL + "/from", nil, "https://foo.com", ""},
		{"don't override Header referer", f, plain.URL + "/from", []RequestOption{Header("Referer", "https://foo.com")}, "https://foo.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen.reset()
			if _, err := tt.f.Get(t.Context(), tt.start, tt.opts...); err != nil {
				t.Fatal(err)
			}
			reqs := seen.all()
			if len(reqs) != 1 {
				t.Fatalf("destination saw %d requests; want 1", len(reqs))
			}
			if got := reqs[0].header.Get("Referer"); got != tt.want {
				t.Errorf("Referer = %q; want %q", got, tt.want)
			}
			if got := reqs[0].header.Get("Authorization"); got != "" {
				t.Errorf("the redirect to another host carried the URL's credentials: Authorization %q", got)
			}

			// A bare http.Client given the same request sends the same Referer.
			seen.reset()
			req := mustGet(t, tt.start)
			if tt.f == fRef || len(tt.opts) > 0 {
				req.Header.Set("Referer", "https://foo.com")
			}
			bare := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			defer bare.CloseIdleConnections()
			resp, err := bare.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			bareWant := cmp.Or(tt.bare, tt.want)
			if reqs := seen.all(); len(reqs) != 1 || reqs[0].header.Get("Referer") != bareWant {
				t.Errorf("a bare http.Client sent %v; want Referer %q", reqs, bareWant)
			}
		})
	}
}

// pnhIssue15577Tripper returns a Response with a redirect response
// header and doesn't populate its Response.Request field.
type pnhIssue15577Tripper struct{ status int }

func (tr pnhIssue15577Tripper) RoundTrip(*http.Request) (*http.Response, error) {
	resp := &http.Response{
		StatusCode: tr.status,
		Status:     fmt.Sprintf("%d %s", tr.status, http.StatusText(tr.status)),
		Header:     map[string][]string{"Location": {"http://www.example.com/"}},
		Body:       io.NopCloser(strings.NewReader("")),
	}
	return resp, nil
}

// pnhNoPanic runs fn and fails t if it panics.
func pnhNoPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Errorf("%s panicked: %v\n%s", what, v, debug.Stack())
		}
	}()
	fn()
}

// Ports net/http's TestClientRedirectResponseWithoutRequest (Issue 15577):
// a RoundTripper's response need not carry its Request.
func TestPortNetHTTPClientRedirectResponseWithoutRequest(t *testing.T) {
	newF := func(t *testing.T, status int) *Fetcher {
		return pnhNew(t, WithClient(&http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return fmt.Errorf("no redirects!") },
			Transport:     pnhIssue15577Tripper{status: status},
		}))
	}
	t.Run("Do", func(t *testing.T) {
		f := newF(t, 303)
		pnhNoPanic(t, "Do", func() {
			resp, err := f.Do(mustGet(t, "http://dummy.tld"))
			if err == nil {
				resp.Body.Close()
				t.Error("Do: no error; want the CheckRedirect's")
			}
		})
		pnhNoPanic(t, "Do 200", func() {
			resp, err := newF(t, 200).Do(mustGet(t, "http://dummy.tld"))
			if err != nil {
				t.Errorf("Do 200: %v", err)
				return
			}
			resp.Body.Close()
		})
	})
	t.Run("Get 303", func(t *testing.T) {
		f := newF(t, 303)
		pnhNoPanic(t, "Get", func() { f.Get(t.Context(), "http://dummy.tld") })
	})
	t.Run("Get 200", func(t *testing.T) {
		f := newF(t, 200)
		pnhNoPanic(t, "Get", func() {
			if _, err := f.Get(t.Context(), "http://dummy.tld"); err != nil {
				t.Errorf("Get: %v", err)
			}
		})
	})
	t.Run("Get 404", func(t *testing.T) {
		f := newF(t, 404)
		pnhNoPanic(t, "Get", func() { f.Get(t.Context(), "http://dummy.tld") })
	})
	t.Run("GetJSON 303", func(t *testing.T) {
		f := newF(t, 303)
		pnhNoPanic(t, "GetJSON", func() { GetJSON[any](t.Context(), f, "http://dummy.tld") })
	})
	t.Run("GetJSON 404", func(t *testing.T) {
		f := newF(t, 404)
		pnhNoPanic(t, "GetJSON", func() {
			_, err := GetJSON[any](t.Context(), f, "http://dummy.tld")
			if se, ok := errors.AsType[*StatusError](err); !ok || se.StatusCode != 404 {
				t.Errorf("GetJSON = %v; want a StatusError 404", err)
			}
		})
	})
	t.Run("GetAll 200", func(t *testing.T) {
		f := newF(t, 200)
		r := f.GetAll(t.Context(), []string{"http://dummy.tld"})
		if r[0].Err != nil || r[0].Status != 200 {
			t.Errorf("GetAll = %d, %v; want 200", r[0].Status, r[0].Err)
		}
	})
}

// ---------------------------------------------------------------------------
// Client.Timeout across a redirect (TestClientTimeout, TestClientTimeout_Headers)
// ---------------------------------------------------------------------------

// pnhStreamTransport serves each request with Handler in a goroutine of its
// own and streams the response: RoundTrip returns at the handler's first
// Flush or when it returns, and the body is read as the handler writes it.
// The handler's request carries the request's context; when that ends the
// body fails with its error. It runs inside a synctest bubble.
type pnhStreamTransport struct{ Handler http.Handler }

type pnhStreamWriter struct {
	header  http.Header
	status  int
	pw      *io.PipeWriter
	started chan struct{}
	once    sync.Once
}

func (w *pnhStreamWriter) Header() http.Header { return w.header }
func (w *pnhStreamWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *pnhStreamWriter) Write(p []byte) (int, error) {
	w.WriteHeader(200)
	w.start()
	return w.pw.Write(p)
}
func (w *pnhStreamWriter) Flush() { w.WriteHeader(200); w.start() }
func (w *pnhStreamWriter) start() { w.once.Do(func() { close(w.started) }) }

func (tr pnhStreamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	// The request ends when its Cancel channel closes, if it has one (net/http
	// closes it for Client.Timeout after noting the timeout, so that the
	// error it returns names it), or else when its context ends.
	abort, abortErr := req.Context().Done(), req.Context().Err
	//lint:ignore SA1019 net/http's Client.Timeout uses it for RoundTrippers of its own
	if cancel := req.Cancel; cancel != nil {
		abort, abortErr = cancel, func() error { return context.DeadlineExceeded }
	}
	pr, pw := io.Pipe()
	w := &pnhStreamWriter{header: make(http.Header), pw: pw, started: make(chan struct{})}
	hctx, hcancel := context.WithCancel(context.Background())
	sreq := req.Clone(hctx)
	sreq.Body = http.NoBody
	sreq.RequestURI = req.URL.RequestURI()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr.Handler.ServeHTTP(w, sreq)
		w.WriteHeader(200)
		w.start()
		pw.Close()
	}()
	go func() {
		defer hcancel()
		select {
		case <-abort:
			pw.CloseWithError(abortErr()) // before the handler sees its end
		case <-done:
		}
	}()
	select {
	case <-w.started:
	case <-abort:
		return nil, abortErr()
	}
	return &http.Response{StatusCode: w.status, Status: http.StatusText(w.status), Header: w.header,
		Body: pr, Request: req, ContentLength: -1, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
}

// pnhSlowHandler is net/http's TestClientTimeout handler: / redirects to
// /slow, which writes "Hello", flushes, and waits for the request to end
// (or, if headers, waits before it writes anything).
func pnhSlowHandler(slowNonces *pnhSeen, beforeHeaders bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.URL.Path == "/" {
			http.Redirect(w, r, "/slow?nonce="+r.Form.Get("nonce"), http.StatusFound)
			return
		}
		if r.URL.Path == "/slow" {
			slowNonces.add(r)
			if !beforeHeaders {
				w.Write([]byte("Hello"))
				w.(http.Flusher).Flush()
			}
			<-r.Context().Done()
		}
	}
}

// Ports net/http's TestClientTimeout: a Client.Timeout (WithClient) or an
// attempt timeout (WithAttemptTimeout) covers the redirect and the body
// read after it.
func TestPortNetHTTPClientTimeout(t *testing.T) {
	t.Run("Client.Timeout, Do, body", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var slow pnhSeen
			c := &http.Client{Transport: pnhStreamTransport{Handler: pnhSlowHandler(&slow, false)}, Timeout: 5 * time.Second}
			f := pnhNew(t, WithClient(c))
			res, err := f.Do(mustGet(t, "http://a.test/?nonce=7"))
			if err != nil {
				t.Fatal(err)
			}
			if reqs := slow.all(); len(reqs) != 1 || !strings.Contains(reqs[0].header.Get("Referer"), "nonce=7") {
				t.Fatalf("handler saw %d /slow requests; want 1, redirected from ?nonce=7", len(reqs))
			}
			start := time.Now()
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
			if err == nil {
				t.Fatal("expected error from ReadAll")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("ReadAll failed after %v; want within the Timeout", d)
			}
			ne, ok := errors.AsType[net.Error](err)
			if !ok {
				t.Errorf("error value from ReadAll was %T; expected some net.Error", err)
			} else if !ne.Timeout() {
				t.Errorf("net.Error.Timeout = false; want true")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("ReadAll error = %q; expected some context.DeadlineExceeded", err)
			}
			if got := err.Error(); !strings.Contains(got, "(Client.Timeout") {
				t.Errorf("error string = %q; missing timeout substring", got)
			}
			checkIdle(t, f)
		})
	})
	t.Run("WithAttemptTimeout, Get, body", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var slow pnhSeen
			f := pnhNew(t, WithClient(&http.Client{Transport: pnhStreamTransport{Handler: pnhSlowHandler(&slow, false)}}),
				WithAttemptTimeout(5*time.Second), WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
			start := time.Now()
			r := f.Fetch(t.Context(), "http://a.test/?nonce=1")
			if !errors.Is(r.Err, ErrAttemptTimeout) || !errors.Is(r.Err, context.DeadlineExceeded) {
				t.Errorf("err = %v; want ErrAttemptTimeout, matching DeadlineExceeded", r.Err)
			}
			if r.Attempts != 2 || len(slow.all()) != 2 {
				t.Errorf("Attempts = %d, /slow saw %d; want 2, 2 (each attempt follows the redirect)", r.Attempts, len(slow.all()))
			}
			if d := time.Since(start); d > 11*time.Second {
				t.Errorf("took %v; want two attempt timeouts", d)
			}
			checkIdle(t, f)
		})
	})
	// Ports TestClientTimeout_Headers, with the wait on the redirect's target.
	t.Run("Client.Timeout, Do, headers after redirect", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var slow pnhSeen
			c := &http.Client{Transport: pnhStreamTransport{Handler: pnhSlowHandler(&slow, true)}, Timeout: 5 * time.Second}
			f := pnhNew(t, WithClient(c), WithRetry(RetryPolicy{MaxAttempts: 1}))
			_, err := f.Do(mustGet(t, "http://a.test/?nonce=2"))
			if err == nil {
				t.Fatal("got response from Get; expected error")
			}
			ne, ok := errors.AsType[net.Error](err)
			if !ok || !ne.Timeout() {
				t.Errorf("err = %v (%T); want a net.Error that is a Timeout", err, err)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v; want it to match context.DeadlineExceeded", err)
			}
			if !strings.Contains(err.Error(), "Client.Timeout exceeded") {
				t.Errorf("err = %q; want it to say Client.Timeout exceeded", err)
			}
			if n := len(slow.all()); n != 1 {
				t.Errorf("/slow saw %d requests; want 1", n)
			}
			checkIdle(t, f)
		})
	})
}

// ---------------------------------------------------------------------------
// Crawler (no net/http counterpart; extends TestShouldCopyHeaderOnRedirect)
// ---------------------------------------------------------------------------

// A crawl follows a redirect to another host as net/http does, without the
// Fetcher's credentials (WithBearerToken's doc: "only a redirect's other
// host is spared"); the robots.txt that the crawl fetches from that host
// before following the redirect must not carry them either, since the
// crawl only reaches that host through the redirect.
func TestPortNetHTTPCrawlRedirectCredentials(t *testing.T) {
	var seen pnhSeen
	var a, b string
	ts := pnhServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.add(r)
		switch r.Host + r.URL.Path {
		case a + "/start":
			http.Redirect(w, r, "http://"+b+"/page", http.StatusFound)
		case b + "/page":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>ok</html>")
		default:
			http.NotFound(w, r)
		}
	}))
	a = pnhHostOf(t, ts.URL)
	b = pnhLocalhost(a)
	for _, ignoreRobots := range []bool{true, false} {
		t.Run(fmt.Sprintf("ignore robots %v", ignoreRobots), func(t *testing.T) {
			seen.reset()
			f := pnhNew(t, WithBearerToken("s3cret"))
			var opts []CrawlOption
			if ignoreRobots {
				opts = append(opts, CrawlIgnoreRobots())
			}
			c, err := NewCrawler(f, opts...)
			if err != nil {
				t.Fatal(err)
			}
			for p := range c.Run(t.Context(), "http://"+a+"/start") {
				if p.Err != nil {
					t.Errorf("%s: %v", p.URL, p.Err)
				}
			}
			reached := false
			for _, r := range seen.all() {
				got := r.header.Get("Authorization")
				if r.host == b && got != "" {
					t.Errorf("%s%s, reached only by a redirect from %s, got Authorization %q", r.host, r.path, a, got)
				}
				if r.path == "/robots.txt" && got != "" {
					t.Errorf("%s%s: Authorization %q; robots.txt is fetched without credentials", r.host, r.path, got)
				}
				if r.host == a && r.path != "/robots.txt" && got != "Bearer s3cret" {
					t.Errorf("%s%s: Authorization %q; want the token", r.host, r.path, got)
				}
				reached = reached || r.host+r.path == b+"/page"
			}
			if !reached {
				t.Errorf("the redirect was not followed: %v", seen.all())
			}
		})
	}
}
