package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fastRetry retries at once, so that the tests need no wall-clock waits.
var fastRetry = WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Microsecond, MaxDelay: time.Microsecond})

func newJar(t *testing.T) http.CookieJar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jar
}

func newFetcher(t *testing.T, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

// cookieLog records the Cookie header of each request, by path.
type cookieLog struct {
	mu   sync.Mutex
	seen map[string][][]string
}

func (l *cookieLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = make(map[string][][]string)
	}
	l.seen[r.URL.Path] = append(l.seen[r.URL.Path], slices.Clone(r.Header["Cookie"]))
}

func (l *cookieLog) of(path string) [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[path]
}

// A session cookie set by a login response is sent with the requests
// that need it.
func TestCookieJarLogin(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "s3", Path: "/", HttpOnly: true})
		case "/private":
			if c, err := r.Cookie("session"); err != nil || c.Value != "s3" {
				http.Error(w, "log in first", http.StatusUnauthorized)
				return
			}
			io.WriteString(w, "secret page")
		}
	}))
	defer srv.Close()
	f := newFetcher(t, WithCookieJar(newJar(t)))
	if _, err := f.Get(t.Context(), srv.URL+"/login"); err != nil {
		t.Fatalf("login: %v", err)
	}
	body, err := f.Get(t.Context(), srv.URL+"/private")
	if err != nil || string(body) != "secret page" {
		t.Errorf("after login: got = %q, %v; want %q", body, err, "secret page")
	}
}

// A cookie set by a redirect response is sent to the redirect's target;
// the jar's domain rules hold for its cookies on a redirect to another
// host, while a Cookie default header keeps WithHeader's rule (not sent
// to another domain).
func TestCookieJarRedirect(t *testing.T) {
	var log cookieLog
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		if r.URL.Path == "/login" {
			http.SetCookie(w, &http.Cookie{Name: "other", Value: "o1"})
		}
	}))
	defer other.Close()
	// The same server as another host: localhost rather than 127.0.0.1.
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		switch r.URL.Path {
		case "/start":
			http.SetCookie(w, &http.Cookie{Name: "hop", Value: "h1"})
			http.Redirect(w, r, "/target", http.StatusFound)
		case "/away":
			http.SetCookie(w, &http.Cookie{Name: "mine", Value: "m1"})
			http.Redirect(w, r, otherURL+"/end", http.StatusFound)
		}
	}))
	defer srv.Close()

	f := newFetcher(t, WithCookieJar(newJar(t)), WithHeader("Cookie", "static=1"))
	if _, err := f.Get(t.Context(), srv.URL+"/start"); err != nil {
		t.Fatal(err)
	}
	if got, want := log.of("/target"), [][]string{{"static=1; hop=h1"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("redirect's target got Cookie %q; want %q", got, want)
	}
	if _, err := f.Get(t.Context(), otherURL+"/login"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(t.Context(), srv.URL+"/away"); err != nil {
		t.Fatal(err)
	}
	// At the other host: the jar's cookie for it, neither the default
	// header nor the first host's cookies.
	if got, want := log.of("/end"), [][]string{{"other=o1"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("redirect to another host got Cookie %q; want %q", got, want)
	}
}

// A cookie set on a 503 that is retried is sent once with the retry.
func TestCookieJarRetry(t *testing.T) {
	var (
		log cookieLog
		mu  sync.Mutex
		n   int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			http.SetCookie(w, &http.Cookie{Name: "ticket", Value: "t1"})
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	f := newFetcher(t, WithCookieJar(newJar(t)), fastRetry)
	if _, err := f.Get(t.Context(), srv.URL+"/flaky"); err != nil {
		t.Fatal(err)
	}
	if got, want := log.of("/flaky"), [][]string{nil, {"ticket=t1"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("Cookie of each attempt: got = %q; want %q", got, want)
	}
}

// A crawl's pages are fetched with the jar; its robots.txt request sends
// none of the jar's cookies and stores none of its response's, whether
// the jar is WithCookieJar's or WithClient's client's.
func TestCookieJarCrawlRobots(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  func(http.CookieJar) Option
	}{
		{"WithCookieJar", WithCookieJar},
		{"WithClient", func(jar http.CookieJar) Option { return WithClient(&http.Client{Jar: jar}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log cookieLog
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				log.add(r)
				switch r.URL.Path {
				case "/login":
					http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1", Path: "/"})
				case "/robots.txt":
					http.SetCookie(w, &http.Cookie{Name: "robots", Value: "r1", Path: "/"})
					io.WriteString(w, "User-agent: *\nAllow: /\n")
				default:
					w.Header().Set("Content-Type", "text/html")
					io.WriteString(w, `<a href="/next">next</a>`)
				}
			}))
			defer srv.Close()
			f := newFetcher(t, tc.opt(newJar(t)))
			if _, err := f.Get(t.Context(), srv.URL+"/login"); err != nil {
				t.Fatal(err)
			}
			c, err := NewCrawler(f)
			if err != nil {
				t.Fatal(err)
			}
			for p := range c.Run(t.Context(), srv.URL+"/page") {
				if p.Err != nil {
					t.Errorf("%s: %v", p.URL, p.Err)
					continue
				}
				p.Follow(p.Links()...)
			}
			if got, want := log.of("/robots.txt"), [][]string{nil}; !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("robots.txt sent Cookie %q; want none", got)
			}
			for _, path := range []string{"/page", "/next"} {
				if got, want := log.of(path), [][]string{{"session=s1"}}; !slices.EqualFunc(got, want, slices.Equal) {
					t.Errorf("%s sent Cookie %q; want %q", path, got, want)
				}
			}
		})
	}
}

// GetAll of 50 URLs through one jar, the responses setting cookies as the
// requests send them (run with -race).
func TestCookieJarConcurrent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1", Path: "/"})
			return
		}
		if c, err := r.Cookie("session"); err != nil || c.Value != "s1" {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "seen" + strings.TrimPrefix(r.URL.Path, "/item/"), Value: "1", Path: "/"})
		io.WriteString(w, r.URL.Path)
	}))
	defer srv.Close()
	f := newFetcher(t, WithCookieJar(newJar(t)), WithConcurrency(16))
	if _, err := f.Get(t.Context(), srv.URL+"/login"); err != nil {
		t.Fatal(err)
	}
	urls := make([]string, 50)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/item/%d", srv.URL, i)
	}
	for i, r := range f.GetAll(t.Context(), urls) {
		if want := fmt.Sprintf("/item/%d", i); r.Err != nil || string(r.Body) != want {
			t.Errorf("%s: got = %q, %v; want %q", urls[i], r.Body, r.Err, want)
		}
	}
}

func TestCookieJarAndProxyRefused(t *testing.T) {
	direct := func(*http.Request) (*url.URL, error) { return nil, nil }
	const guardErr = "fetch: WithProxy cannot be combined with WithBlockPrivateAddresses: the guard cannot check the address a proxy connects to, so it would refuse every request sent through the proxy"
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"jar nil", []Option{WithCookieJar(nil)}, "fetch: WithCookieJar(nil)"},
		{"proxy nil", []Option{WithProxy(nil)}, "fetch: WithProxy(nil)"},
		{"jar with client", []Option{WithClient(http.DefaultClient), WithCookieJar(newJar(t))},
			"fetch: WithCookieJar configures the client New builds; it cannot be combined with WithClient (set the client's Jar)"},
		{"proxy with client", []Option{WithProxy(direct), WithClient(http.DefaultClient)},
			"fetch: WithProxy configures the client New builds; it cannot be combined with WithClient (set its transport's Proxy)"},
		{"proxy with guard", []Option{WithProxy(direct), WithBlockPrivateAddresses()}, guardErr},
		{"guard with proxy", []Option{WithBlockPrivateAddresses(), WithProxy(direct)}, guardErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(tc.opts...)
			if f != nil || err == nil || err.Error() != tc.want {
				t.Errorf("New: got = %v, %v; want nil, %q", f, err, tc.want)
			}
		})
	}
}

// absoluteProxy is an HTTP proxy that answers the requests sent through it
// itself, with answer, and records each request's absolute URL and its
// Proxy-Authorization.
type absoluteProxy struct {
	*httptest.Server
	mu    sync.Mutex
	seen  []string
	auths []string
}

func newAbsoluteProxy(t *testing.T, answer http.HandlerFunc) *absoluteProxy {
	p := &absoluteProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.URL.String()) // absolute form: the target
		p.auths = append(p.auths, r.Header.Get("Proxy-Authorization"))
		p.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *absoluteProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

// Every request goes through the proxy, retries and redirects included;
// the gates know the target's host.
func TestProxyEveryRequest(t *testing.T) {
	var (
		mu sync.Mutex
		n  int
	)
	proxy := newAbsoluteProxy(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		switch {
		case r.URL.Host == "target.invalid" && first:
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.URL.Host == "target.invalid":
			http.Redirect(w, r, "http://other.invalid/y", http.StatusFound)
		case r.URL.Host == "other.invalid":
			io.WriteString(w, "proxied")
		default:
			http.Error(w, "unexpected", http.StatusBadGateway)
		}
	})
	u, _ := url.Parse(proxy.URL)
	u.User = url.UserPassword("user", "pw")
	var (
		hostsMu sync.Mutex
		hosts   []string
	)
	f := newFetcher(t, WithProxy(http.ProxyURL(u)), fastRetry, WithHooks(Hooks{
		OnCall: func(ctx context.Context, info CallInfo) context.Context {
			hostsMu.Lock()
			defer hostsMu.Unlock()
			hosts = append(hosts, info.Host)
			return nil
		},
	}))
	body, err := f.Get(t.Context(), "http://target.invalid/x")
	if err != nil || string(body) != "proxied" {
		t.Fatalf("Get: got = %q, %v; want %q", body, err, "proxied")
	}
	want := []string{"GET http://target.invalid/x", "GET http://target.invalid/x", "GET http://other.invalid/y"}
	if got := proxy.requests(); !slices.Equal(got, want) {
		t.Errorf("the proxy got %q; want %q", got, want)
	}
	basic := "Basic dXNlcjpwdw==" // user:pw
	for i, a := range proxy.auths {
		if a != basic {
			t.Errorf("request %d: Proxy-Authorization %q; want %q", i, a, basic)
		}
	}
	if want := []string{"target.invalid"}; !slices.Equal(hosts, want) {
		t.Errorf("OnCall hosts: got = %q; want %q", hosts, want)
	}
}

// Through a proxy, net/http pools the connections of every http:// target
// as one: a per-host cap on connections would let a body held open to one
// host stop requests to every other.
func TestProxyConnectionsNotCappedPerTarget(t *testing.T) {
	proxy := newAbsoluteProxy(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 64<<10)) // more than the buffers: the connection stays busy until read
	})
	u, _ := url.Parse(proxy.URL)
	f := newFetcher(t, WithProxy(http.ProxyURL(u)), WithHostConcurrency(1), WithConcurrency(4))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // a bound, not a synchronisation
	defer cancel()
	held, err := f.Do(mustReq(t, ctx, "http://a.invalid/"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Body.Close()
	resp, err := f.Do(mustReq(t, ctx, "http://b.invalid/"))
	if err != nil {
		t.Fatalf("second host, first one's body open: %v", err)
	}
	resp.Body.Close()
}

func mustReq(t *testing.T, ctx context.Context, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// A proxy that refuses the connection fails the attempt (retried, as a
// refused connection is); its password is in no error or log line.
func TestProxyPasswordNotShown(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	addr := closed.Listener.Addr().String()
	closed.Close()
	u := &url.URL{Scheme: "http", User: url.UserPassword("user", "hunter2"), Host: addr}
	var logs bytes.Buffer
	var mu sync.Mutex
	var hookErrs []string
	f := newFetcher(t, WithProxy(http.ProxyURL(u)), fastRetry,
		WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithHooks(Hooks{OnAttempt: func(info AttemptInfo) {
			mu.Lock()
			defer mu.Unlock()
			if info.Err != nil {
				hookErrs = append(hookErrs, info.Err.Error())
			}
		}}))
	for _, target := range []string{"http://target.invalid/x", "https://target.invalid/x"} {
		_, err := f.Get(t.Context(), target)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: got = %v; want the proxy's connection refused", target, err)
		}
		var e *Error
		if !errors.As(err, &e) || e.Attempts != 3 {
			t.Errorf("%s: got = %v; want an *Error after 3 attempts", target, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the proxy's password: %v", target, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hookErrs) != 6 {
		t.Errorf("OnAttempt saw %d errors; want 6", len(hookErrs))
	}
	for _, s := range append(hookErrs, logs.String()) {
		if strings.Contains(s, "hunter2") {
			t.Errorf("the proxy's password is shown: %s", s)
		}
	}
	if !strings.Contains(logs.String(), "proxyconnect") {
		t.Errorf("logs do not name the proxy's failure:\n%s", logs.String())
	}
}

// HTTP_PROXY, as http.ProxyFromEnvironment reads it, pools every http://
// target's connections as the proxy's, as WithProxy does: the client New
// builds then caps connections at the concurrency, not at the host cap,
// which would cap all the proxied hosts together; with the guard, which
// refuses proxied requests, the host cap stays.
func TestEnvProxyConnectionsNotCappedPerTarget(t *testing.T) {
	for _, tc := range []struct {
		env   string
		guard bool
		want  int
	}{
		{"", false, 1},
		{"http://127.0.0.1:9", false, 4},
		{"http://127.0.0.1:9", true, 1},
	} {
		t.Setenv("HTTP_PROXY", tc.env)
		t.Setenv("http_proxy", "")
		c := defaultConfig()
		c.concurrency, c.hostConcurrency, c.guard = 4, 1, tc.guard
		_, tr := newClient(c)
		if tr.MaxConnsPerHost != tc.want || tr.MaxIdleConnsPerHost != tc.want {
			t.Errorf("HTTP_PROXY=%q, guard %v: MaxConnsPerHost %d, MaxIdleConnsPerHost %d; want %d",
				tc.env, tc.guard, tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost, tc.want)
		}
	}
}
