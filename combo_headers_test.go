package fetch

// A review of how the Fetcher's header and credential options, and a
// call's own headers, combine: each is tested alone elsewhere; these tests
// put them together. Each states what the docs (or net/http, resty and
// requests, where the docs are silent) lead a user to expect:
//
//   - LowercaseCredentialNotSentInClearAfterHTTPS, LowercaseCredentialNot-
//     SentToBrowserResolvedHost: a caller's "authorization"/"cookie" (a
//     name net/http does not canonicalise) must not survive the Fetcher's
//     own redirect rules: sent in clear after https, or to another host
//     after a "///host" Location;
//   - ProxyAuthorizationNotSentToOrigin: WithHeader("Proxy-Authorization")
//     must not reach https origins through a CONNECT tunnel;
//   - UserAgentTwice, TwoDefaultCookiesWithJar: options given twice must
//     not drop a value silently;
//   - HeaderHostOwnHostKept: Header("Host", the URL's host) must win over
//     WithHeader("Host"), as Header's doc says.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// comboSeen records, per request a server got, the host, path and the
// headers named.
type comboSeen struct {
	mu   sync.Mutex
	reqs []string
}

func (s *comboSeen) add(r *http.Request, names ...string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s", r.Host, r.URL.Path)
	for _, n := range names {
		var vs []string
		for k, v := range r.Header {
			if strings.EqualFold(k, n) {
				vs = append(vs, v...)
			}
		}
		fmt.Fprintf(&b, " %s=%q", n, vs)
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, b.String())
	s.mu.Unlock()
}

func (s *comboSeen) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// comboVhosts returns an option that sends every request of the client New
// builds through an HTTP proxy served by h, so that h sees any host name a
// URL names (a.test, b.test), as r.Host, over plain http.
func comboVhosts(t *testing.T, h http.HandlerFunc) Option {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return WithProxy(http.ProxyURL(u))
}

func comboNew(t *testing.T, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

// A caller's own Authorization (and Cookie) under a name net/http does not
// canonicalise ("authorization", as a map built by hand or copied from
// HTTP/2 holds it) must not follow an https → http redirect: the package
// says that after any hop over https, a request over http carries none of
// the sensitive headers.
func TestComboReviewLowercaseCredentialNotSentInClearAfterHTTPS(t *testing.T) {
	var seen comboSeen
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.add(r, "Authorization", "Cookie")
	}))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.add(r, "Authorization", "Cookie")
		http.Redirect(w, r, plain.URL+"/clear", http.StatusFound) // same host name, 127.0.0.1
	}))
	defer secure.Close()
	tlsCfg := secure.Client().Transport.(*http.Transport).TLSClientConfig
	f := comboNew(t, WithTLSConfig(tlsCfg))
	for _, spelling := range [][2]string{{"Authorization", "Cookie"}, {"authorization", "cookie"}} {
		seen = comboSeen{}
		req, _ := http.NewRequestWithContext(t.Context(), "GET", secure.URL+"/start", nil)
		req.Header[spelling[0]] = []string{"Bearer secret"}
		req.Header[spelling[1]] = []string{"session=s"}
		resp, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := seen.all()
		if len(got) != 2 || !strings.HasSuffix(got[1], `/clear Authorization=[] Cookie=[]`) {
			t.Errorf("header %q: the http server, after a hop over https, saw %q; want no credential", spelling, got)
		}
	}
}

// A Location a browser reads as another host ("///b.test/x", "\\b.test\x")
// where net/http reads a path on the same host: the Fetcher follows the
// browser, and must then hold back the caller's credentials, as it does for
// the canonical spelling, whatever the spelling of their names.
func TestComboReviewLowercaseCredentialNotSentToBrowserResolvedHost(t *testing.T) {
	for _, loc := range []string{"///b.test/x", `\\b.test\x`, `/\b.test/x`} {
		for _, spelling := range [][2]string{{"Authorization", "Cookie"}, {"authorization", "cookie"}} {
			var seen comboSeen
			vh := comboVhosts(t, func(w http.ResponseWriter, r *http.Request) {
				seen.add(r, "Authorization", "Cookie", "X-Api-Key")
				if r.Host == "a.test" {
					w.Header().Set("Location", loc)
					w.WriteHeader(http.StatusFound)
				}
			})
			f := comboNew(t, vh, WithHeader("X-Api-Key", "key"))
			req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://a.test/start", nil)
			req.Header[spelling[0]] = []string{"Bearer secret"}
			req.Header[spelling[1]] = []string{"session=s"}
			resp, err := f.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			for _, s := range seen.all() {
				if strings.HasPrefix(s, "b.test") && (strings.Contains(s, "secret") || strings.Contains(s, "session") || strings.Contains(s, "key")) {
					t.Errorf("Location %q, header %q: b.test saw %s; want no credential", loc, spelling, s)
				}
			}
			t.Logf("Location %q %q: %q", loc, spelling, seen.all())
		}
	}
}

// Header's doc: "a request that sets a key gets none of the defaults for
// it". A call that sets Host to its URL's own host (to undo WithHeader's
// default Host for one call) gets the default all the same.
func TestComboReviewHeaderHostOwnHostKept(t *testing.T) {
	var host atomic.Value
	f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { host.Store(r.Host) }),
		WithHeader("Host", "default.test"))
	defer f.Shutdown(context.Background())
	f.Get(t.Context(), "http://a.test/", Header("Host", "a.test"))
	if h := host.Load(); h != "a.test" {
		t.Errorf("Header(\"Host\", the URL's host) over WithHeader(\"Host\", ...): server saw Host %v; want a.test", h)
	}
}

// WithHeader("Proxy-Authorization", ...) with WithProxy, to an https
// target: WithHeader treats Proxy-Authorization as a credential of its own
// ("one credential each"), so it is for the proxy. Through a CONNECT
// tunnel it must not reach the origin server, which is not the proxy.
func TestComboReviewProxyAuthorizationNotSentToOrigin(t *testing.T) {
	var originSaw, proxySaw atomic.Value
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originSaw.Store(r.Header.Get("Proxy-Authorization"))
	}))
	defer origin.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxySaw.Store(r.Header.Get("Proxy-Authorization"))
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, buf, _ := w.(http.Hijacker).Hijack()
		conn.Write([]byte("HTTP/1.1 200 OK\r\n\r\n"))
		wg.Go(func() { io.Copy(up, buf); up.Close() })
		wg.Go(func() { io.Copy(conn, up); conn.Close() })
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	f := comboNew(t, WithProxy(http.ProxyURL(pu)),
		WithTLSConfig(origin.Client().Transport.(*http.Transport).TLSClientConfig),
		WithHeader("Proxy-Authorization", "Basic cHJveHk6cHc="))
	if _, err := f.Get(t.Context(), origin.URL+"/"); err != nil {
		t.Fatal(err)
	}
	f.Shutdown(context.Background())
	t.Logf("proxy saw %q; origin saw %q", proxySaw.Load(), originSaw.Load())
	if v := originSaw.Load(); v != "" {
		t.Errorf("the https origin server was sent the proxy's credentials: Proxy-Authorization %q", v)
	}
}

// WithHeader("User-Agent", ...) given twice (a wrapper library's default,
// then the service's): WithHeader says values accumulate, and for the
// single-valued Host and Authorization the last wins; net/http sends one
// User-Agent, the first. The service's own, given last, is silently lost.
func TestComboReviewUserAgentTwice(t *testing.T) {
	var ua atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua.Store(fmt.Sprint(r.Header.Values("User-Agent")))
	}))
	defer srv.Close()
	f := comboNew(t, WithHeader("User-Agent", "lib/1.0"), WithHeader("User-Agent", "service/2.0"))
	if _, err := f.Get(t.Context(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if got := ua.Load(); got != "[service/2.0]" && got != "[lib/1.0 service/2.0]" {
		t.Errorf("WithHeader(User-Agent) twice: server saw User-Agent %v; want the last (or both, as documented)", got)
	}
}

// WithHeader("Cookie", ...) given twice, as WithHeader allows (values
// accumulate), with WithCookieJar: every default cookie is sent, with the
// jar's (net/http's AddCookie folds the jar's into the first Cookie value
// and drops the rest).
func TestComboReviewTwoDefaultCookiesWithJar(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var names []string
		for _, c := range r.Cookies() {
			names = append(names, c.Name)
		}
		got.Store(strings.Join(names, ","))
	}))
	defer srv.Close()
	jar := newJar(t)
	u, _ := url.Parse(srv.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "j", Value: "1"}})
	for name, opts := range map[string][]Option{
		"no jar":   {WithHeader("Cookie", "a=1"), WithHeader("Cookie", "b=2")},
		"with jar": {WithHeader("Cookie", "a=1"), WithHeader("Cookie", "b=2"), WithCookieJar(jar)},
	} {
		f := comboNew(t, opts...)
		if _, err := f.Get(t.Context(), srv.URL); err != nil {
			t.Fatal(err)
		}
		want := "a,b"
		if name == "with jar" {
			want = "a,b,j"
		}
		if c := got.Load(); c != want {
			t.Errorf("%s: server got cookies %v; want %s", name, c, want)
		}
	}
}

// The default Proxy-Authorization (WithHeader) goes with a request to an
// http URL, which goes to the proxy (a proxy's answer here), but not with
// a redirect from there to an https URL, which the server itself reads;
// with WithClient New refuses it, since it cannot put it in the CONNECT.
func TestProxyAuthorizationDefaultRoutes(t *testing.T) {
	const cred = "Basic cHJveHk6cHc="
	p := newAbsoluteProxy(t, func(w http.ResponseWriter, r *http.Request) {})
	pu, _ := url.Parse(p.URL)
	f := comboNew(t, WithProxy(http.ProxyURL(pu)), WithHeader("Proxy-Authorization", cred))
	if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	if !slices.Equal(p.auths, []string{cred}) {
		t.Errorf("proxy saw Proxy-Authorization %q; want [%q]", p.auths, cred)
	}
	p.mu.Unlock()

	var secureSaw atomic.Value
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secureSaw.Store(fmt.Sprint(r.Header.Values("Proxy-Authorization")))
	}))
	defer secure.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, secure.URL+"/tls", http.StatusFound) // the same host, 127.0.0.1
	}))
	defer plain.Close()
	f = comboNew(t, WithTLSConfig(secure.Client().Transport.(*http.Transport).TLSClientConfig),
		WithHeader("Proxy-Authorization", cred))
	if _, err := f.Get(t.Context(), plain.URL+"/"); err != nil {
		t.Fatal(err)
	}
	if got := secureSaw.Load(); got != "[]" {
		t.Errorf("https server, after a redirect from http: Proxy-Authorization %v; want none", got)
	}

	_, err := New(WithClient(&http.Client{}), WithHeader("proxy-authorization", cred))
	if err == nil || !strings.Contains(err.Error(), "ProxyConnectHeader") {
		t.Errorf("New(WithClient, WithHeader(Proxy-Authorization)): %v; want an error pointing to ProxyConnectHeader", err)
	}
}

// Header("Host", the URL's host) keeps its Host over WithHeader's with
// another option after it (MaxBodySize gives the request a context of its
// own), and a request given to Do, whose Host is its URL's, gets the
// default.
func TestHeaderOwnHostWithOtherOptions(t *testing.T) {
	var host atomic.Value
	f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { host.Store(r.Host) }),
		WithHeader("Host", "default.test"))
	defer f.Shutdown(context.Background())
	f.Get(t.Context(), "http://a.test/", Header("Host", "a.test"), MaxBodySize(1<<20))
	if h := host.Load(); h != "a.test" {
		t.Errorf("Header(Host, own), MaxBodySize: server saw Host %v; want a.test", h)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://a.test/", nil)
	resp, err := f.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := host.Load(); h != "default.test" {
		t.Errorf("Do: server saw Host %v; want default.test", h)
	}
}
