package fetch

// Redirect tests of Python's httpx, ported onto fetch's API:
//
//   - encode/httpx tests/client/test_redirects.py
//     (commit ae1b9f66238f75ced3ced5e4485408435de10768), every test, run
//     against hxMock, a handler that plays the file's mock transport
//     (redirects and cookie_sessions);
//   - from tests/client/test_headers.py of the same commit, the tests of
//     BaseClient._redirect_headers (test_same_origin,
//     test_not_same_origin, test_is_https_redirect,
//     test_is_not_https_redirect,
//     test_is_not_https_redirect_if_not_default_ports), run end to end;
//   - from tests/client/test_event_hooks.py of the same commit,
//     test_event_hooks_with_redirect.
//
// tests/client/test_auth.py and tests/client/test_cookies.py hold no
// redirect case at that commit.
//
// Tests are named TestPortHX<httpx's name>. httpx maps onto fetch like
// this:
//
//   - follow_redirects=True is fetch's default; follow_redirects=False is a
//     client given with WithClient whose CheckRedirect returns
//     http.ErrUseLastResponse, and response.next_request, which fetch has
//     no counterpart for, is the request the caller builds from Location;
//   - max_redirects is WithMaxRedirects (httpx's default is 20, fetch's
//     DefaultMaxRedirects is 10); TooManyRedirects, and httpx's
//     UnsupportedProtocol for a redirect to another scheme, are
//     ErrTooManyRedirects;
//   - response.url is Result.FinalURL; response.history has no
//     counterpart, so the tests of history read hxMock's log of the
//     requests each hop sent, and response.json() of the target's echo is
//     read from that log too;
//   - headers= on a call is the Header request option (or the header of a
//     request given to Do); auth=(u, p) is WithBasicAuth; the client's
//     cookie store is WithCookieJar; event hooks that see every hop are a
//     WithTransportWrapper transport;
//   - test_async_* are the sync tests' calls in Go: not repeated.
//
// httpx's mock transport answers any host name; so does the in-memory
// transport (internal/memhttp) given with WithClient, which runs the tests
// that need example.com, example.org and https. The tests that need the
// client New builds (WithMaxRedirects, WithCookieJar, WithTransportWrapper)
// or a real Content-Length on the wire run against a loopback server.
//
// Where fetch differs on purpose, the test asserts what fetch documents and
// says in a comment what httpx does. The main differences: fetch follows
// net/http's rule for credentials (kept on a redirect to the same host
// name, in any case, or a subdomain of it, whatever the port; dropped from
// https to http), where httpx keeps Authorization only within one origin
// or on an http-to-https upgrade of default ports; a Location without a
// host is refused, where httpx sends it to the redirecting host; a host
// name IDNA's lookup profile encodes (an emoji) is followed, where httpx
// refuses it; a 307/308 whose body cannot be sent again hands back the
// redirect response, where httpx fails with StreamConsumed.
//
// Beyond httpx's cases, the credential tests run with every way fetch
// takes a credential and every spelling of its name, and with host names
// that differ only in case (the same name, as DNS compares names) or that
// IDNA cannot encode.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/c989c033/fetch/internal/memhttp"
)

// hxReq is a request hxMock saw.
type hxReq struct {
	method, url, host, body string
	header                  http.Header
	contentLength           int64
}

// hxMock serves httpx's mock transports (the redirects handler of
// test_redirects.py, its cookie_sessions handler under /cookies, and
// test_event_hooks.py's app under /hooks) and logs every request it sees.
type hxMock struct {
	mu   sync.Mutex
	reqs []hxReq
}

func (m *hxMock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u := *r.URL
	if u.Host == "" { // a loopback server's request: its URL is the path
		u.Scheme, u.Host = "http", r.Host
	}
	u.Fragment, u.RawFragment = "", ""
	m.mu.Lock()
	m.reqs = append(m.reqs, hxReq{
		method: r.Method, url: u.String(), host: hxHost(r), body: string(body),
		header: r.Header.Clone(), contentLength: r.ContentLength,
	})
	m.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/cookies/"):
		hxCookieSessions(w, r)
	case strings.HasPrefix(r.URL.Path, "/hooks/"):
		hxHooksApp(w, r)
	default:
		hxRedirects(w, r)
	}
}

// take returns the requests seen since the last take.
func (m *hxMock) take() []hxReq {
	m.mu.Lock()
	defer m.mu.Unlock()
	reqs := m.reqs
	m.reqs = nil
	return reqs
}

// hxHost is the Host a request was sent with: through memhttp, a request
// whose Host is its URL's leaves Host empty.
func hxHost(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	return r.URL.Host
}

// hxRedirects is test_redirects.py's redirects handler, plus /to?to=U,
// a redirect to U, for the tests of test_headers.py.
func hxRedirects(w http.ResponseWriter, r *http.Request) {
	redirect := func(code int, location string) {
		w.Header()["Location"] = []string{location}
		w.WriteHeader(code)
	}
	switch r.URL.Path {
	case "/to":
		redirect(http.StatusFound, r.URL.Query().Get("to"))
	case "/redirect_301":
		w.Header().Set("Location", "https://example.org/")
		w.WriteHeader(http.StatusMovedPermanently)
		io.WriteString(w, "<a href='https://example.org/'>here</a>")
	case "/redirect_302":
		redirect(http.StatusFound, "https://example.org/")
	case "/redirect_303":
		redirect(http.StatusSeeOther, "https://example.org/")
	case "/relative_redirect":
		redirect(http.StatusSeeOther, "/")
	case "/malformed_redirect":
		redirect(http.StatusSeeOther, "https://:443/")
	case "/invalid_redirect":
		redirect(http.StatusSeeOther, "https://😇/")
	case "/no_scheme_redirect":
		redirect(http.StatusSeeOther, "//example.org/")
	case "/multiple_redirects":
		count, _ := strconv.Atoi(r.URL.Query().Get("count"))
		if count == 0 {
			return
		}
		location := "/multiple_redirects"
		if count > 1 {
			location += fmt.Sprintf("?count=%d", count-1)
		}
		redirect(http.StatusSeeOther, location)
	case "/redirect_loop":
		redirect(http.StatusSeeOther, "/redirect_loop")
	case "/cross_domain":
		redirect(http.StatusSeeOther, "https://example.org/cross_domain_target")
	case "/cross_domain_target", "/redirect_body_target":
		// httpx echoes the body and headers as JSON; the tests read them
		// from hxMock's log.
	case "/redirect_body":
		redirect(http.StatusPermanentRedirect, "/redirect_body_target")
	case "/redirect_no_body":
		redirect(http.StatusSeeOther, "/redirect_body_target")
	case "/cross_subdomain":
		if hxHost(r) != "www.example.org" {
			redirect(http.StatusPermanentRedirect, "https://www.example.org/cross_subdomain")
			return
		}
		io.WriteString(w, "Hello, world!")
	case "/redirect_custom_scheme":
		redirect(http.StatusMovedPermanently, "market://details?id=42")
	default:
		if r.Method != http.MethodHead {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<html><body>Hello, world!</body></html>")
		}
	}
}

// hxCookieSessions is test_redirects.py's cookie_sessions handler, under
// /cookies.
func hxCookieSessions(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/cookies") {
	case "/":
		if r.Header.Get("Cookie") != "" {
			io.WriteString(w, "Logged in")
		} else {
			io.WriteString(w, "Not logged in")
		}
	case "/login":
		w.Header().Set("Location", "/cookies/")
		w.Header().Set("Set-Cookie", "session=eyJ1c2VybmFtZSI6ICJ0b21; path=/; Max-Age=1209600; httponly; samesite=lax")
		w.WriteHeader(http.StatusSeeOther)
	case "/logout":
		w.Header().Set("Location", "/cookies/")
		w.Header().Set("Set-Cookie", "session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly; samesite=lax")
		w.WriteHeader(http.StatusSeeOther)
	default:
		http.NotFound(w, r)
	}
}

// hxHooksApp is test_event_hooks.py's app, under /hooks.
func hxHooksApp(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "testserver")
	if r.URL.Path == "/hooks/redirect" {
		w.Header().Set("Location", "/hooks/")
		w.WriteHeader(http.StatusSeeOther)
	}
}

// hxNew returns a Fetcher built with opts, shut down when t ends.
func hxNew(t *testing.T, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

// hxMem returns a mock and a Fetcher that sends to it, whatever the host,
// over the in-memory transport.
func hxMem(t *testing.T, opts ...Option) (*hxMock, *Fetcher) {
	t.Helper()
	m := new(hxMock)
	return m, hxNew(t, append([]Option{WithClient(memhttp.Client(m))}, opts...)...)
}

// hxMemNoFollow is hxMem with httpx's follow_redirects=False: the client
// hands back every redirect response.
func hxMemNoFollow(t *testing.T) (*hxMock, *Fetcher) {
	t.Helper()
	m := new(hxMock)
	client := &http.Client{
		Transport:     memhttp.Transport{Handler: m},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return m, hxNew(t, WithClient(client))
}

// hxLoop returns a mock served on loopback, its URL, and a Fetcher built
// with opts.
func hxLoop(t *testing.T, opts ...Option) (*hxMock, string, *Fetcher) {
	t.Helper()
	m := new(hxMock)
	ts := httptest.NewServer(m)
	t.Cleanup(ts.Close)
	return m, ts.URL, hxNew(t, opts...)
}

// hxURLs returns the URLs of reqs.
func hxURLs(reqs []hxReq) []string {
	var urls []string
	for _, r := range reqs {
		urls = append(urls, r.url)
	}
	return urls
}

// hxMethods returns the methods of reqs.
func hxMethods(reqs []hxReq) []string {
	var methods []string
	for _, r := range reqs {
		methods = append(methods, r.method)
	}
	return methods
}

// hxOneHop fetches start with method, and checks that the call ended with
// a 200 from want after one redirect, sent with the methods given
// (len(response.history) == 1 in httpx: two requests).
func hxOneHop(t *testing.T, start, method, want string, methods ...string) Result {
	t.Helper()
	m, f := hxMem(t)
	r := f.Fetch(t.Context(), start, Method(method))
	if r.Err != nil || r.Status != http.StatusOK {
		t.Fatalf("Fetch %s: status %d, err %v; want 200", start, r.Status, r.Err)
	}
	if r.FinalURL != want {
		t.Errorf("FinalURL = %q; want %q", r.FinalURL, want)
	}
	reqs := m.take()
	if got := hxMethods(reqs); !slices.Equal(got, methods) {
		t.Errorf("requests sent %v (%v); want one redirect, methods %v", got, hxURLs(reqs), methods)
	}
	return r
}

// ---------------------------------------------------------------------------
// Following redirects
// ---------------------------------------------------------------------------

// test_redirect_301: a POST answered 301 is followed with a GET to the
// absolute Location, on another scheme-and-host string than the request's
// path.
func TestPortHXRedirect301(t *testing.T) {
	hxOneHop(t, "https://example.org/redirect_301", "POST", "https://example.org/", "POST", "GET")
}

// test_redirect_302: likewise for a 302.
func TestPortHXRedirect302(t *testing.T) {
	hxOneHop(t, "https://example.org/redirect_302", "POST", "https://example.org/", "POST", "GET")
}

// test_redirect_303: a GET answered 303.
func TestPortHXRedirect303(t *testing.T) {
	hxOneHop(t, "https://example.org/redirect_303", "GET", "https://example.org/", "GET", "GET")
}

// test_next_request: with follow_redirects=False the 303 itself comes
// back, its URL the request's; httpx's response.next_request (a GET for a
// 303) is built by the caller from Location, and sending it ends at the
// target with nothing further to follow. The redirect response holds its
// host's slot until its body is closed (WithClient's doc).
func TestPortHXNextRequest(t *testing.T) {
	m, f := hxMemNoFollow(t)
	req, err := http.NewRequestWithContext(t.Context(), "POST", "https://example.org/redirect_303", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("status = %d; want 303", resp.StatusCode)
	}
	if got := resp.Request.URL.String(); got != "https://example.org/redirect_303" {
		t.Errorf("response URL = %q; want the request's", got)
	}
	if n := f.Stats().InFlight; n != 1 {
		t.Errorf("InFlight = %d with the redirect's body open; want 1", n)
	}
	loc, err := resp.Location()
	resp.Body.Close()
	if err != nil {
		t.Fatalf("Location: %v", err)
	}
	checkIdle(t, f)

	next, err := http.NewRequestWithContext(t.Context(), "GET", loc.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = f.Do(next)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != "https://example.org/" {
		t.Errorf("next request: %d from %q; want 200 from https://example.org/", resp.StatusCode, resp.Request.URL)
	}
	if _, err := resp.Location(); !errors.Is(err, http.ErrNoLocation) {
		t.Errorf("final response's Location: %v; want none (no next request)", err)
	}
	if got := hxMethods(m.take()); !slices.Equal(got, []string{"POST", "GET"}) {
		t.Errorf("requests sent %v; want [POST GET]", got)
	}
	checkIdle(t, f)
}

// test_head_redirect: a HEAD is followed as a HEAD, and the final response
// has no body.
func TestPortHXHeadRedirect(t *testing.T) {
	r := hxOneHop(t, "https://example.org/redirect_302", "HEAD", "https://example.org/", "HEAD", "HEAD")
	if len(r.Body) != 0 {
		t.Errorf("body = %q; want none", r.Body)
	}
}

// test_relative_redirect: a Location of "/" resolves against the request's
// URL.
func TestPortHXRelativeRedirect(t *testing.T) {
	hxOneHop(t, "https://example.org/relative_redirect", "GET", "https://example.org/", "GET", "GET")
}

// test_malformed_redirect: a Location of "https://:443/" has no host.
// httpx fills in the redirecting request's host and follows it to
// https://example.org:443/; fetch refuses a redirect to a URL without a
// host with ErrTooManyRedirects (WithMaxRedirects' doc), sending nothing
// more, and does not retry.
func TestPortHXMalformedRedirect(t *testing.T) {
	m, f := hxMem(t)
	r := f.Fetch(t.Context(), "http://example.org/malformed_redirect")
	if !errors.Is(r.Err, ErrTooManyRedirects) || errors.Is(r.Err, ErrInvalidURL) {
		t.Errorf("err = %v; want a refused redirect (ErrTooManyRedirects)", r.Err)
	}
	if got := hxURLs(m.take()); !slices.Equal(got, []string{"http://example.org/malformed_redirect"}) || r.Attempts != 1 {
		t.Errorf("requests sent %v in %d attempts; want the first only, once", got, r.Attempts)
	}
}

// test_invalid_redirect: a Location of "https://😇/". httpx fails with
// RemoteProtocolError: its IDNA encoder refuses the name. fetch follows
// it as net/http does: its transport encodes the name with IDNA's lookup
// profile, which accepts it, and dials xn--l28h:443. The test's dialer
// answers for every name but the server's as a resolver does for a name
// that does not exist (so nothing leaves the machine), and the call fails
// with that *net.DNSError, not retried (README "Failure behaviour").
func TestPortHXInvalidRedirect(t *testing.T) {
	var mu sync.Mutex
	var dials []string
	logDials := func(c *config) error {
		c.wrapDial = func(dial func(context.Context, string, string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
			return func(ctx context.Context, network, addr string) (net.Conn, error) {
				mu.Lock()
				dials = append(dials, addr)
				mu.Unlock()
				if h, _, _ := net.SplitHostPort(addr); h != "127.0.0.1" {
					return nil, &net.DNSError{Err: "no such host", Name: h, IsNotFound: true}
				}
				return dial(ctx, network, addr)
			}
		}
		return nil
	}
	m, base, f := hxLoop(t, logDials)
	r := f.Fetch(t.Context(), base+"/invalid_redirect")
	if dnsErr, ok := errors.AsType[*net.DNSError](r.Err); !ok || !dnsErr.IsNotFound {
		t.Errorf("err = %v; want the resolver's not-found *net.DNSError", r.Err)
	}
	mu.Lock()
	if n := len(dials); n != 2 || dials[1] != "xn--l28h:443" {
		t.Errorf("dialled %q; want the server, then xn--l28h:443", dials)
	}
	mu.Unlock()
	if n := len(m.take()); n != 1 || r.Attempts != 1 {
		t.Errorf("server saw %d requests in %d attempts; want 1 (not retried)", n, r.Attempts)
	}
	checkIdle(t, f)
}

// test_no_scheme_redirect: a scheme-relative Location ("//example.org/")
// takes the request's scheme.
func TestPortHXNoSchemeRedirect(t *testing.T) {
	hxOneHop(t, "https://example.org/no_scheme_redirect", "GET", "https://example.org/", "GET", "GET")
}

// test_fragment_redirect: a Location without a fragment inherits the
// request's, so the final URL has it.
func TestPortHXFragmentRedirect(t *testing.T) {
	hxOneHop(t, "https://example.org/relative_redirect#fragment", "GET", "https://example.org/#fragment", "GET", "GET")
}

// test_multiple_redirects: 20 redirects, httpx's max_redirects, are
// followed with WithMaxRedirects(20); the requests each hop sent are
// httpx's history, in order.
func TestPortHXMultipleRedirects(t *testing.T) {
	m, base, f := hxLoop(t, WithMaxRedirects(20))
	r := f.Fetch(t.Context(), base+"/multiple_redirects?count=20")
	if r.Err != nil || r.Status != http.StatusOK {
		t.Fatalf("status %d, err %v; want 200", r.Status, r.Err)
	}
	if want := base + "/multiple_redirects"; r.FinalURL != want {
		t.Errorf("FinalURL = %q; want %q", r.FinalURL, want)
	}
	urls := hxURLs(m.take())
	if len(urls) != 21 {
		t.Fatalf("server saw %d requests; want 21 (20 redirects)", len(urls))
	}
	for i, want := range []string{"/multiple_redirects?count=20", "/multiple_redirects?count=19"} {
		if urls[i] != base+want {
			t.Errorf("request %d: %q; want %q", i, urls[i], base+want)
		}
	}
}

// test_sync_too_many_redirects (and test_async_too_many_redirects): one
// redirect more than the limit fails with ErrTooManyRedirects, after the
// limit's redirects were followed, and is not retried.
func TestPortHXSyncTooManyRedirects(t *testing.T) {
	m, base, f := hxLoop(t, WithMaxRedirects(20))
	r := f.Fetch(t.Context(), base+"/multiple_redirects?count=21")
	if !errors.Is(r.Err, ErrTooManyRedirects) {
		t.Errorf("err = %v; want ErrTooManyRedirects", r.Err)
	}
	if n := len(m.take()); n != 21 || r.Attempts != 1 {
		t.Errorf("server saw %d requests in %d attempts; want 21 in 1", n, r.Attempts)
	}
	checkIdle(t, f)
}

// test_redirect_loop: a redirect to itself fails with ErrTooManyRedirects
// once the default limit is reached.
func TestPortHXRedirectLoop(t *testing.T) {
	m, base, f := hxLoop(t)
	r := f.Fetch(t.Context(), base+"/redirect_loop")
	if !errors.Is(r.Err, ErrTooManyRedirects) {
		t.Errorf("err = %v; want ErrTooManyRedirects", r.Err)
	}
	if n := len(m.take()); n != DefaultMaxRedirects+1 || r.Attempts != 1 {
		t.Errorf("server saw %d requests in %d attempts; want %d in 1", n, r.Attempts, DefaultMaxRedirects+1)
	}
	checkIdle(t, f)
}

// ---------------------------------------------------------------------------
// Credentials across redirects
// ---------------------------------------------------------------------------

// hxAuthSource is one way of giving a request an Authorization header.
type hxAuthSource struct {
	name string
	opts []Option        // Fetcher options
	req  []RequestOption // request options of Fetch
	do   http.Header     // else: the header of a request given to Do
	want string          // the header's value
}

// hxAuthSources are httpx's headers={"Authorization": "abc"} given each way
// fetch takes it, under more than one spelling of the name, and its
// auth=("user", "pass") (WithBasicAuth).
var hxAuthSources = []hxAuthSource{
	{name: "Header option", req: []RequestOption{Header("Authorization", "abc")}, want: "abc"},
	{name: "WithHeader", opts: []Option{WithHeader("Authorization", "abc")}, want: "abc"},
	{name: "Do header", do: http.Header{"Authorization": {"abc"}}, want: "abc"},
	{name: "Do header, lower case", do: http.Header{"authorization": {"abc"}}, want: "abc"},
	{name: "Do header, upper case", do: http.Header{"AUTHORIZATION": {"abc"}}, want: "abc"},
	{name: "WithBasicAuth", opts: []Option{WithBasicAuth("user", "pass")}, want: "Basic dXNlcjpwYXNz"},
}

// hxAuthAfter sends a GET to start with each of hxAuthSources, checks that
// it ends at final after one redirect or more, and hands check the
// Authorization the last request carried.
func hxAuthAfter(t *testing.T, start, final string, check func(t *testing.T, src hxAuthSource, got []string)) {
	t.Helper()
	for _, src := range hxAuthSources {
		t.Run(src.name, func(t *testing.T) {
			m, f := hxMem(t, src.opts...)
			var got string
			if src.do != nil {
				req, err := http.NewRequestWithContext(t.Context(), "GET", start, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header = src.do.Clone()
				resp, err := f.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				got = resp.Request.URL.String()
			} else {
				r := f.Fetch(t.Context(), start, src.req...)
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				got = r.FinalURL
			}
			if got != final {
				t.Errorf("final URL %q; want %q", got, final)
			}
			reqs := m.take()
			if len(reqs) < 2 {
				t.Fatalf("requests sent %v; want a redirect", hxURLs(reqs))
			}
			// Every spelling of the name counts: a server reads them as
			// one header.
			var values []string
			for k, v := range reqs[len(reqs)-1].header {
				if strings.EqualFold(k, "Authorization") {
					values = append(values, v...)
				}
			}
			check(t, src, values)
		})
	}
}

// hxDropped checks that the target got no Authorization.
func hxDropped(t *testing.T, _ hxAuthSource, got []string) {
	t.Helper()
	if len(got) != 0 {
		t.Errorf("target got Authorization %q; want none", got)
	}
}

// hxKept checks that the target got the Authorization the request had.
func hxKept(t *testing.T, src hxAuthSource, got []string) {
	t.Helper()
	if !slices.Equal(got, []string{src.want}) {
		t.Errorf("target got Authorization %q; want [%q]", got, src.want)
	}
}

// test_cross_domain_redirect_with_auth_header: a redirect from
// example.com to example.org drops Authorization.
//
// The same holds when the first host's name is in upper case, from which
// a later hop comes back to it in lower case (the way back was another
// domain's to name), and between two names that IDNA refuses, which are
// not one domain for being both unencodable.
func TestPortHXCrossDomainRedirectWithAuthHeader(t *testing.T) {
	hxAuthAfter(t, "https://example.com/cross_domain", "https://example.org/cross_domain_target", hxDropped)
	t.Run("back in another case", func(t *testing.T) {
		back := hxTo("https://example.org", "https://example.com/")
		hxAuthAfter(t, hxTo("https://EXAMPLE.COM", back), "https://example.com/", hxDropped)
	})
	t.Run("names IDNA refuses", func(t *testing.T) {
		start := hxTo("https://a\u200db.test", "https://c\u200dd.test/")
		hxAuthAfter(t, start, "https://c%E2%80%8Dd.test/", hxDropped)
		// A default header that is not Authorization, which fetch
		// rather than net/http holds back (WithHeader's doc).
		m, f := hxMem(t, WithHeader("X-Api-Key", "k"))
		if r := f.Fetch(t.Context(), start); r.Err != nil {
			t.Fatal(r.Err)
		}
		if reqs := m.take(); len(reqs) != 2 || reqs[1].header.Get("X-Api-Key") != "" {
			t.Errorf("requests sent %v, the last with X-Api-Key %q; want one redirect, without it", hxURLs(reqs), reqs[len(reqs)-1].header.Get("X-Api-Key"))
		}
	})
}

// test_cross_domain_https_redirect_with_auth_header: so does one from
// http://example.com to https://example.org.
func TestPortHXCrossDomainHTTPSRedirectWithAuthHeader(t *testing.T) {
	hxAuthAfter(t, "http://example.com/cross_domain", "https://example.org/cross_domain_target", hxDropped)
}

// test_cross_domain_redirect_with_auth: auth=("user", "pass") is dropped
// too (it is the WithBasicAuth row of hxAuthSources, run here alone as
// httpx's test is).
func TestPortHXCrossDomainRedirectWithAuth(t *testing.T) {
	m, f := hxMem(t, WithBasicAuth("user", "pass"))
	r := f.Fetch(t.Context(), "https://example.com/cross_domain")
	if r.Err != nil || r.FinalURL != "https://example.org/cross_domain_target" {
		t.Fatalf("FinalURL %q, err %v; want https://example.org/cross_domain_target", r.FinalURL, r.Err)
	}
	reqs := m.take()
	if v := reqs[len(reqs)-1].header.Get("Authorization"); v != "" {
		t.Errorf("target got Authorization %q; want none", v)
	}
}

// test_same_domain_redirect: a redirect within example.org keeps
// Authorization.
// So does one to the same host named in upper case, as a name is the same
// in any case (RFC 4343).
func TestPortHXSameDomainRedirect(t *testing.T) {
	hxAuthAfter(t, "https://example.org/cross_domain", "https://example.org/cross_domain_target", hxKept)
	t.Run("Location in upper case", func(t *testing.T) {
		hxAuthAfter(t, hxTo("https://example.org", "https://EXAMPLE.ORG/x"), "https://EXAMPLE.ORG/x", hxKept)
	})
}

// test_same_domain_https_redirect_with_auth_header: an upgrade from
// http://example.org to https://example.org keeps it.
func TestPortHXSameDomainHTTPSRedirectWithAuthHeader(t *testing.T) {
	hxAuthAfter(t, "http://example.org/cross_domain", "https://example.org/cross_domain_target", hxKept)
}

// hxTo is the URL of a request to start that the mock redirects to to.
func hxTo(start, to string) string { return start + "/to?to=" + url.QueryEscape(to) }

// test_is_https_redirect (test_headers.py): http://example.com to
// https://example.com, an upgrade, keeps Authorization.
func TestPortHXIsHTTPSRedirect(t *testing.T) {
	hxAuthAfter(t, hxTo("http://example.com", "https://example.com/"), "https://example.com/", hxKept)
}

// test_is_not_https_redirect (test_headers.py): http://example.com to
// https://www.example.com. httpx drops Authorization (another origin that
// is not an upgrade of the same host); fetch keeps it, as net/http does
// for a subdomain of the first request's host (WithHeader's doc: not sent
// to another domain).
func TestPortHXIsNotHTTPSRedirect(t *testing.T) {
	hxAuthAfter(t, hxTo("http://example.com", "https://www.example.com/"), "https://www.example.com/", hxKept)
}

// test_is_not_https_redirect_if_not_default_ports (test_headers.py):
// http://example.com:9999 to https://example.com:1337. httpx drops
// Authorization (an upgrade only on the default ports); fetch keeps it:
// the same host name, ports aside, as net/http treats Authorization
// (WithHeader's doc), and not from https to http.
func TestPortHXIsNotHTTPSRedirectIfNotDefaultPorts(t *testing.T) {
	hxAuthAfter(t, hxTo("http://example.com:9999", "https://example.com:1337/"), "https://example.com:1337/", hxKept)
}

// hxHostAfter follows start, which redirects once, and returns the Host
// the redirect was sent with.
func hxHostAfter(t *testing.T, start string) string {
	t.Helper()
	m, f := hxMem(t)
	if r := f.Fetch(t.Context(), start); r.Err != nil {
		t.Fatal(r.Err)
	}
	reqs := m.take()
	if len(reqs) != 2 {
		t.Fatalf("requests sent %v; want one redirect", hxURLs(reqs))
	}
	return reqs[1].host
}

// test_same_origin (test_headers.py): a redirect from HTTPS://EXAMPLE.COM:443
// to https://example.com, the same origin, is sent with the Host of the
// URL it goes to, and keeps Authorization (httpx keeps it within an
// origin; fetch on the same host name, in any case).
func TestPortHXSameOrigin(t *testing.T) {
	start := hxTo("HTTPS://EXAMPLE.COM:443", "https://example.com/")
	if got := hxHostAfter(t, start); got != "example.com" {
		t.Errorf("Host = %q; want example.com", got)
	}
	hxAuthAfter(t, start, "https://example.com/", hxKept)
}

// test_not_same_origin (test_headers.py): a redirect from
// HTTP://EXAMPLE.COM:80 to https://example.com, another origin, is sent
// with the Host of the URL it goes to. It is an upgrade to https on the
// default ports, which keeps Authorization in httpx
// (test_is_https_redirect) and in fetch (the same host name).
func TestPortHXNotSameOrigin(t *testing.T) {
	start := hxTo("HTTP://EXAMPLE.COM:80", "https://example.com/")
	if got := hxHostAfter(t, start); got != "example.com" {
		t.Errorf("Host = %q; want example.com", got)
	}
	hxAuthAfter(t, start, "https://example.com/", hxKept)
}

// test_cross_subdomain_redirect: a 308 from example.com to
// www.example.org is followed, and sent with www.example.org's Host.
func TestPortHXCrossSubdomainRedirect(t *testing.T) {
	m, f := hxMem(t)
	r := f.Fetch(t.Context(), "https://example.com/cross_subdomain")
	if r.Err != nil || r.FinalURL != "https://www.example.org/cross_subdomain" {
		t.Fatalf("FinalURL %q, err %v; want https://www.example.org/cross_subdomain", r.FinalURL, r.Err)
	}
	if string(r.Body) != "Hello, world!" {
		t.Errorf("body = %q; want Hello, world!", r.Body)
	}
	if reqs := m.take(); len(reqs) != 2 || reqs[1].host != "www.example.org" {
		t.Errorf("requests sent %v; want one redirect, to Host www.example.org", hxURLs(reqs))
	}
}

// ---------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------

// test_body_redirect: a 308 sends the POST again with its body and
// Content-Length, whether the body comes from the Body option or from a
// request given to Do (whose GetBody http.NewRequest sets).
func TestPortHXBodyRedirect(t *testing.T) {
	const content = "Example request body"
	send := map[string]func(ctx context.Context, f *Fetcher, u string) error{
		"Body option": func(ctx context.Context, f *Fetcher, u string) error {
			return f.Fetch(ctx, u, Method("POST"), Body("", []byte(content))).Err
		},
		"Do": func(ctx context.Context, f *Fetcher, u string) error {
			req, err := http.NewRequestWithContext(ctx, "POST", u, strings.NewReader(content))
			if err != nil {
				return err
			}
			resp, err := f.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			return err
		},
	}
	for name, do := range send {
		t.Run(name, func(t *testing.T) {
			m, base, f := hxLoop(t)
			if err := do(t.Context(), f, base+"/redirect_body"); err != nil {
				t.Fatal(err)
			}
			reqs := m.take()
			if len(reqs) != 2 || reqs[1].url != base+"/redirect_body_target" {
				t.Fatalf("requests sent %v; want one redirect, to /redirect_body_target", hxURLs(reqs))
			}
			if got := reqs[1]; got.method != "POST" || got.body != content || got.header.Get("Content-Length") != strconv.Itoa(len(content)) {
				t.Errorf("target got %s with body %q, Content-Length %q; want POST with %q, %d", got.method, got.body, got.header.Get("Content-Length"), content, len(content))
			}
		})
	}
}

// test_no_body_redirect: a 303 turns the POST into a GET with no body and
// no Content-Length.
func TestPortHXNoBodyRedirect(t *testing.T) {
	m, base, f := hxLoop(t)
	r := f.Fetch(t.Context(), base+"/redirect_no_body", Method("POST"), Body("", []byte("Example request body")))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	reqs := m.take()
	if len(reqs) != 2 || reqs[1].url != base+"/redirect_body_target" {
		t.Fatalf("requests sent %v; want one redirect, to /redirect_body_target", hxURLs(reqs))
	}
	if got := reqs[1]; got.method != "GET" || got.body != "" || got.header.Get("Content-Length") != "" || got.contentLength != 0 {
		t.Errorf("target got %s with body %q, Content-Length %q; want GET with none", got.method, got.body, got.header.Get("Content-Length"))
	}
}

// test_can_stream_if_no_redirect: with follow_redirects=False, the 301 is
// handed back with its Location, its body unread until the caller reads
// or closes it.
func TestPortHXCanStreamIfNoRedirect(t *testing.T) {
	_, f := hxMemNoFollow(t)
	req, err := http.NewRequestWithContext(t.Context(), "GET", "https://example.org/redirect_301", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "https://example.org/" {
		t.Errorf("got %d, Location %q; want 301, https://example.org/", resp.StatusCode, resp.Header.Get("Location"))
	}
	checkIdle(t, f)
}

// test_cannot_redirect_streaming_body: a 308 to a POST whose body is a
// stream that cannot be sent again (no GetBody, length unknown: sent
// chunked). httpx fails with StreamConsumed; fetch, following net/http
// (Fetcher.Do: "Redirects are followed as net/http follows them";
// http.Client.Do keeps the body on a 307/308 only if GetBody is set),
// hands back the 308 without following it, and does not retry the POST.
func TestPortHXCannotRedirectStreamingBody(t *testing.T) {
	m, base, f := hxLoop(t)
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, "Example request body")
		pw.Close()
	}()
	req, err := http.NewRequestWithContext(t.Context(), "POST", base+"/redirect_body", pr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect {
		t.Errorf("status = %d; want the 308", resp.StatusCode)
	}
	reqs := m.take()
	if len(reqs) != 1 || reqs[0].body != "Example request body" {
		t.Errorf("requests sent %v; want the POST once, with its body", hxURLs(reqs))
	}
	checkIdle(t, f)
}

// ---------------------------------------------------------------------------
// Cookies, schemes and hooks
// ---------------------------------------------------------------------------

// test_redirect_cookie_behavior: a session cookie set by a 303 is sent
// with the redirect it answers and with later calls; a 303 that expires it
// sends the redirect, and later calls, without it. (httpx runs it on
// https://example.com; the cookie is not Secure, so loopback http
// behaves alike.)
func TestPortHXRedirectCookieBehavior(t *testing.T) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, base, f := hxLoop(t, WithCookieJar(jar))
	home := base + "/cookies/"
	steps := []struct {
		what, method, path, want string
	}{
		{"not logged in", "GET", "/cookies/", "Not logged in"},
		{"login redirects home, setting the session", "POST", "/cookies/login", "Logged in"},
		{"logged in", "GET", "/cookies/", "Logged in"},
		{"logout redirects home, expiring the session", "POST", "/cookies/logout", "Not logged in"},
		{"not logged in again", "GET", "/cookies/", "Not logged in"},
	}
	for _, s := range steps {
		r := f.Fetch(t.Context(), base+s.path, Method(s.method))
		if r.Err != nil {
			t.Fatalf("%s: %v", s.what, r.Err)
		}
		if r.FinalURL != home || string(r.Body) != s.want {
			t.Errorf("%s: %q from %q; want %q from %q", s.what, r.Body, r.FinalURL, s.want, home)
		}
	}
}

// test_redirect_custom_scheme: a redirect to market://details?id=42.
// httpx fails with UnsupportedProtocol; fetch refuses a redirect to a
// scheme other than http(s) with ErrTooManyRedirects (WithMaxRedirects'
// doc), sends nothing more, and does not retry. The Result keeps the
// refused redirect's status and Location (Fetch's doc: Status is still
// set with Err), where the caller can read where it pointed.
func TestPortHXRedirectCustomScheme(t *testing.T) {
	m, f := hxMem(t)
	r := f.Fetch(t.Context(), "https://example.org/redirect_custom_scheme", Method("POST"))
	if !errors.Is(r.Err, ErrTooManyRedirects) {
		t.Errorf("err = %v; want ErrTooManyRedirects", r.Err)
	}
	if r.Status != http.StatusMovedPermanently || r.Header.Get("Location") != "market://details?id=42" {
		t.Errorf("Result: %d, Location %q; want 301, market://details?id=42", r.Status, r.Header.Get("Location"))
	}
	if n := len(m.take()); n != 1 || r.Attempts != 1 {
		t.Errorf("requests sent: %d in %d attempts; want 1 in 1", n, r.Attempts)
	}
	checkIdle(t, f)
}

// test_event_hooks_with_redirect (test_event_hooks.py): httpx's request
// and response hooks run for every hop, each request with the
// credentials. fetch's hooks run per attempt, which includes its
// redirects (OnAttempt runs once); what sees every hop is a transport
// given with WithTransportWrapper: both requests carry Authorization (the
// redirect stays on the host), and it sees the 303 with its Location,
// then the 200.
func TestPortHXEventHooksWithRedirect(t *testing.T) {
	type event struct {
		what, auth, location, server string
	}
	var mu sync.Mutex
	var events []event
	wrap := func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			mu.Lock()
			events = append(events, event{what: "request", auth: req.Header.Get("Authorization")})
			mu.Unlock()
			resp, err := next.RoundTrip(req)
			if err == nil {
				mu.Lock()
				events = append(events, event{what: "response", location: resp.Header.Get("Location"), server: resp.Header.Get("Server")})
				mu.Unlock()
			}
			return resp, err
		})
	}
	var attempts int
	hooks := Hooks{OnAttempt: func(AttemptInfo) { attempts++ }}
	_, base, f := hxLoop(t, WithBasicAuth("username", "password"), WithTransportWrapper(wrap), WithHooks(hooks))
	if r := f.Fetch(t.Context(), base+"/hooks/redirect"); r.Err != nil {
		t.Fatal(r.Err)
	}
	const auth = "Basic dXNlcm5hbWU6cGFzc3dvcmQ="
	want := []event{
		{what: "request", auth: auth},
		{what: "response", location: "/hooks/", server: "testserver"},
		{what: "request", auth: auth},
		{what: "response", server: "testserver"},
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(events, want) {
		t.Errorf("events = %+v; want %+v", events, want)
	}
	if attempts != 1 {
		t.Errorf("OnAttempt ran %d times; want 1 (the redirect is part of the attempt)", attempts)
	}
}
