package fetch

// A review as a user writing a link checker: crawl one site (its own host
// only) and check every external link found with HEAD, falling back to
// GET on 405/501, against loopback servers that fail in every way a link
// can.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// ---- the user's code: what a link checker built on fetch looks like ----

// lcReport is what the link checker says of one link.
type lcReport struct {
	Link   string   // as found, absolute
	Pages  []string // the pages it was found on
	Method string   // the method whose answer is reported
	Status int      // the final status; 0 if none
	Final  string   // where the redirects ended; "" if unknown
	Class  string   // "ok" or the failure class
	Err    error
}

// lcClass is the failure class a user can act on, told apart with
// errors.Is and errors.As only.
func lcClass(status int, err error) string {
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var se *StatusError
	switch {
	case err == nil, status/100 == 2 && errors.Is(err, ErrBodyTooLarge): // a crawl GETs a large file whole
		return "ok"
	case errors.Is(err, ErrDisallowed):
		return "robots-disallowed"
	case errors.As(err, &dns) && !dns.IsTimeout:
		return "dns"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.As(err, &cert):
		return "tls"
	case errors.Is(err, ErrTooManyRedirects):
		return "too-many-redirects"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &se) && se.StatusCode < 500:
		return "4xx"
	case errors.As(err, &se):
		return "5xx"
	}
	return "other"
}

// lcCheck crawls the site at seed, on its own host only, and checks every
// external link its pages hold: HEAD, then GET where HEAD gets 405 or 501.
// It returns the site's pages and the external links, each by URL.
func lcCheck(ctx context.Context, f *Fetcher, seed string, opts ...CrawlOption) (pages, links map[string]*lcReport) {
	site, _ := url.Parse(seed)
	c, err := NewCrawler(f, append([]CrawlOption{CrawlHosts(site.Hostname())}, opts...)...)
	if err != nil {
		panic(err)
	}
	pages, links = map[string]*lcReport{}, map[string]*lcReport{}
	for p := range c.Run(ctx, seed) {
		pages[p.URL] = &lcReport{Link: p.URL, Pages: []string{p.Referrer}, Method: "GET",
			Status: p.Status, Final: p.FinalURL, Class: lcClass(p.Status, p.Err), Err: p.Err}
		for _, l := range p.Links() {
			u, _ := url.Parse(l)
			if u.Hostname() == site.Hostname() {
				continue
			}
			u.Fragment = ""
			r := links[u.String()]
			if r == nil {
				r = &lcReport{Link: u.String()}
				links[u.String()] = r
			}
			r.Pages = append(r.Pages, p.FinalURL)
		}
		p.Follow(p.Links()...)
	}
	final := func(_ string, resp *http.Response) (string, error) { return resp.Request.URL.String(), nil }
	check := func(method string, urls []string) {
		for h := range HandleURLs(ctx, f, slices.Values(urls), final, Method(method)) {
			r := links[h.Input]
			r.Method, r.Status, r.Final, r.Err, r.Class = method, h.Status, h.Value, h.Err, lcClass(h.Status, h.Err)
			if se, ok := errors.AsType[*StatusError](h.Err); ok {
				r.Final = se.URL
			}
		}
	}
	check(http.MethodHead, slices.Sorted(maps.Keys(links)))
	var again []string
	for u, r := range links {
		if r.Status == http.StatusMethodNotAllowed || r.Status == http.StatusNotImplemented {
			again = append(again, u)
		}
	}
	check(http.MethodGet, again)
	return pages, links
}

// ---- the loopback world it checks ----

// lcServe starts an HTTP server with h on addr (127.0.0.x:0).
func lcServe(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// lcBlackHole accepts connections on addr and never answers.
func lcBlackHole(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// lcResolver returns a resolver that asks a DNS server on loopback which
// knows no name, as a resolver answers nohost.invalid (see startFakeDNS):
// the checker's lookups never leave the machine.
func lcResolver(t *testing.T) *net.Resolver {
	t.Helper()
	addr := startFakeDNS(t, func(string, dnsmessage.Type) []netip.Addr { return nil })
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// lcClient is the client a checker would build to use its own resolver
// (the Fetcher has no option for one): net/http's default transport,
// dialling through r.
func lcClient(r *net.Resolver) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, Resolver: r}).DialContext
	return &http.Client{Transport: tr}
}

// lcClosedPort returns an address on 127.0.0.x where nothing listens.
func lcClosedPort(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// lcExternal serves the external links that answer over HTTP: every
// HEAD answered with a Content-Length and no body.
type lcExternal struct {
	flaky, busy atomic.Int64
	mu          sync.Mutex
	methods     map[string][]string // by path, the methods of the requests it got
}

func (e *lcExternal) got(path string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.methods[path])
}

func (e *lcExternal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	if e.methods == nil {
		e.methods = map[string][]string{}
	}
	e.methods[r.URL.Path] = append(e.methods[r.URL.Path], r.Method)
	e.mu.Unlock()
	time.Sleep(5 * time.Millisecond) // so that requests to the host overlap
	head := r.Method == http.MethodHead
	switch r.URL.Path {
	case "/nohead", "/nohead501", "/download":
		if head {
			code := http.StatusMethodNotAllowed
			if r.URL.Path == "/nohead501" {
				code = http.StatusNotImplemented
			}
			w.Header().Set("Content-Length", "5000")
			w.WriteHeader(code)
			return
		}
		if r.URL.Path == "/download" { // more than the Fetcher's body cap
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(make([]byte, 1<<20))
			return
		}
	case "/gone":
		w.Header().Set("Content-Length", "5000")
		w.WriteHeader(http.StatusNotFound)
		if !head {
			w.Write(make([]byte, 5000))
		}
		return
	case "/broken":
		w.WriteHeader(http.StatusInternalServerError)
		return
	case "/flaky":
		if e.flaky.Add(1) == 1 {
			w.Header().Set("Content-Length", "5000")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	case "/redir":
		http.Redirect(w, r, "/redir2", http.StatusMovedPermanently)
		return
	case "/redir2":
		http.Redirect(w, r, "/ok", http.StatusFound)
		return
	case "/loop":
		http.Redirect(w, r, "/loop", http.StatusFound)
		return
	case "/busy":
		if e.busy.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	if head {
		w.Header().Set("Content-Length", "123456789") // a large file, which HEAD does not fetch
		return
	}
	io.WriteString(w, "ok")
}

// lcWorld is the site, on 127.0.0.7, and the hosts its pages link to.
type lcWorld struct {
	site, siteRobots *counter
	siteURL          string
	ext              *lcExternal
	extCount         *counter // ext's HEAD requests, and the most at once
	extURL           string   // http://127.0.0.2:port
	client           *http.Client
	wantExt          map[string]string // external link → class
	wantPage         map[string]string // site page → class
}

func newLCWorld(t *testing.T) *lcWorld {
	w := &lcWorld{ext: &lcExternal{}}
	// HEADs counted: a handler that returns has answered one (a GET's
	// handler may still be writing a body the client has closed).
	w.extCount = count(w.ext.ServeHTTP)
	w.extURL = lcServe(t, "127.0.0.2:0", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.extCount.ServeHTTP(rw, r)
		} else {
			w.ext.ServeHTTP(rw, r)
		}
	})).URL
	// httptest's certificate is for 127.0.0.1, by a CA nobody trusts.
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(ok))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the client's "bad certificate" alert
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	hole := "http://" + lcBlackHole(t, "127.0.0.4:0")
	closed := "http://" + lcClosedPort(t, "127.0.0.5")
	limited := lcServe(t, "127.0.0.6:0", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Retry-After", "3600")
		rw.WriteHeader(http.StatusTooManyRequests)
	})).URL
	w.client = lcClient(lcResolver(t))
	t.Cleanup(w.client.CloseIdleConnections)

	e := w.extURL
	w.wantExt = map[string]string{
		e + "/ok":                "ok",
		e + "/nohead":            "ok",
		e + "/nohead501":         "ok",
		e + "/download":          "ok",
		e + "/gone":              "4xx",
		e + "/broken":            "5xx",
		e + "/flaky":             "ok",
		e + "/redir":             "ok",
		e + "/loop":              "too-many-redirects",
		e + "/busy":              "ok",
		tlsSrv.URL + "/":         "tls",
		hole + "/":               "timeout",
		closed + "/":             "refused",
		"http://nohost.invalid/": "dns",
		limited + "/":            "4xx",
	}
	ext := slices.Sorted(maps.Keys(w.wantExt))
	links := func(hrefs ...string) string {
		var b strings.Builder
		b.WriteString("<!doctype html><title>page</title>")
		for _, h := range hrefs {
			fmt.Fprintf(&b, "<a href=%q>link</a>\n", h)
		}
		return b.String()
	}
	w.siteRobots = count(func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "User-agent: *\nDisallow: /private\n")
	})
	w.site = count(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			w.siteRobots.ServeHTTP(rw, r)
		case "/":
			io.WriteString(rw, links(append([]string{"/a", "/private/x", "/missing", "/file.bin", "mailto:x@y.test"}, ext[:len(ext)/2]...)...))
		case "/file.bin": // past the body cap, which a crawl's GET meets
			rw.Header().Set("Content-Type", "application/octet-stream")
			rw.Write(make([]byte, 1<<20))
		case "/a":
			io.WriteString(rw, links(append([]string{"/", "/b#top", e + "/ok#frag"}, ext[len(ext)/2:]...)...))
		case "/b":
			io.WriteString(rw, links("/a", e+"/ok", e+"/gone"))
		default:
			http.NotFound(rw, r)
		}
	})
	w.siteURL = lcServe(t, "127.0.0.7:0", w.site).URL
	s := w.siteURL
	w.wantPage = map[string]string{s + "/": "ok", s + "/a": "ok", s + "/b": "ok",
		s + "/private/x": "robots-disallowed", s + "/missing": "4xx", s + "/file.bin": "ok"}
	return w
}

// lcFetcher is the checker's Fetcher: 2 requests at once to a host,
// quick retries, a host that does not answer given up after 300ms an
// attempt, and a Retry-After of more than 2s not waited for.
func lcFetcher(t *testing.T, client *http.Client, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(append([]Option{
		WithClient(client),
		WithHostConcurrency(2),
		WithMaxBodySize(64 << 10),
		WithAttemptTimeout(300 * time.Millisecond),
		WithRetry(RetryPolicy{BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond, MaxRetryAfter: 2 * time.Second}),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

// TestLinkCheckerEndToEnd runs the user's link checker over the loopback
// world: every link lands in its class, is reported once, and is checked
// without its host's robots.txt; no host gets more than 2 requests at once.
func TestLinkCheckerEndToEnd(t *testing.T) {
	w := newLCWorld(t)
	f := lcFetcher(t, w.client)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	pages, links := lcCheck(ctx, f, w.siteURL+"/")
	for u, want := range w.wantExt {
		if r := links[u]; r == nil {
			t.Errorf("link %s: not reported", u)
		} else if r.Class != want {
			t.Errorf("link %s: class = %s; want %s (%v)", u, r.Class, want, r.Err)
		}
	}
	if len(links) != len(w.wantExt) {
		t.Errorf("%d links reported; want %d", len(links), len(w.wantExt))
	}
	for u, want := range w.wantPage {
		if r := pages[u]; r == nil {
			t.Errorf("page %s: not reported", u)
		} else if r.Class != want {
			t.Errorf("page %s: class = %s; want %s (%v)", u, r.Class, want, r.Err)
		}
	}
	if len(pages) != len(w.wantPage) {
		t.Errorf("%d pages reported; want %d", len(pages), len(w.wantPage))
	}
	if r := links[w.extURL+"/redir"]; r != nil && r.Final != w.extURL+"/ok" {
		t.Errorf("/redir: final = %q; want the end of its redirects, %s/ok", r.Final, w.extURL)
	}
	if r := links[w.extURL+"/ok"]; r != nil && len(r.Pages) != 3 {
		t.Errorf("/ok: found on %v; want /a (twice: with and without its fragment) and /b", r.Pages)
	}
	for path, want := range map[string][]string{
		"/robots.txt": nil,              // external links are checked, not crawled
		"/ok":         {"HEAD", "HEAD"}, // once for itself, once at the end of /redir's chain
		"/nohead":     {"HEAD", "GET"},
		"/nohead501":  {"HEAD", "GET"},
		"/download":   {"HEAD", "GET"},
		"/gone":       {"HEAD"},                         // a 404 is final
		"/broken":     {"HEAD", "HEAD", "HEAD", "HEAD"}, // HEAD is safe to retry
		"/flaky":      {"HEAD", "HEAD"},
		"/busy":       {"HEAD", "HEAD"}, // after its Retry-After
	} {
		if got := w.ext.got(path); !slices.Equal(got, want) {
			t.Errorf("%s got %v; want %v", path, got, want)
		}
	}
	if n := w.siteRobots.n.Load(); n != 1 {
		t.Errorf("the site's robots.txt fetched %d times; want 1", n)
	}
	if n := w.extCount.maxSeen.Load(); n > 2 {
		t.Errorf("%d HEAD requests at once to one host; want at most 2", n)
	}
	// Every call counted once: the pages (the one robots.txt refuses
	// included), the site's robots.txt, each link's HEAD and the GETs
	// after a 405 or 501.
	st := f.Stats()
	calls := int64(len(pages) + 1 + len(links) + 3)
	if st.Calls != calls || st.Waiting != 0 || st.InFlight != 0 {
		t.Errorf("Stats: %d calls, %d waiting, %d in flight; want %d, 0, 0", st.Calls, st.Waiting, st.InFlight, calls)
	}
	if t.Failed() {
		for _, u := range slices.Sorted(maps.Keys(links)) {
			r := links[u]
			t.Logf("%s: %s %s %d final=%s on %v: %v", u, r.Method, r.Class, r.Status, r.Final, r.Pages, r.Err)
		}
	}
}

// A HEAD response carries its GET's Content-Length, and no body. Every
// call that can send HEAD takes it as the empty body it is, however large
// the length it gives (past the body cap here), for a 2xx, a 4xx and a
// 503 retried, over HTTP/1.1 and HTTP/2. (A Crawler sends only GET.)
func TestLinkCheckHeadWithoutBodyOnEveryCall(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	var overH2 atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			overH2.Add(1)
		}
		if r.Method != http.MethodHead {
			t.Errorf("%s %s; want HEAD", r.Method, r.URL)
		}
		mu.Lock()
		seen[r.Host+r.URL.String()]++
		n := seen[r.Host+r.URL.String()]
		mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/gone"):
			w.Header().Set("Content-Length", "5000")
			w.WriteHeader(http.StatusNotFound)
		case strings.HasPrefix(r.URL.Path, "/flaky") && n == 1:
			w.Header().Set("Content-Length", "5000")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Header().Set("Content-Length", "1000000000")
		}
	})
	type outcome struct {
		status, attempts int
		body             int
		err              error
	}
	head := func(ctx context.Context, u string) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	}
	mustHead := func(u string) *http.Request {
		req, err := head(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	empty := func(_ string, resp *http.Response) (int, error) {
		b, err := io.ReadAll(resp.Body)
		return len(b), err
	}
	emptyReq := func(_ string, resp *http.Response) (int, error) { return empty("", resp) }
	one := func(rs []Result) outcome {
		return outcome{rs[0].Status, rs[0].Attempts, len(rs[0].Body), rs[0].Err}
	}
	first := func(seq func(func(Result) bool)) (o outcome) {
		for r := range seq {
			o = outcome{r.Status, r.Attempts, len(r.Body), r.Err}
		}
		return o
	}
	firstHandled := func(seq func(func(Handled[string, int]) bool)) (o outcome) {
		for h := range seq {
			o = outcome{h.Status, h.Attempts, h.Value, h.Err}
		}
		return o
	}
	calls := map[string]func(context.Context, *Fetcher, string) outcome{
		"Get": func(ctx context.Context, f *Fetcher, u string) outcome {
			b, err := f.Get(ctx, u, Method(http.MethodHead))
			var o outcome
			if fe, ok := errors.AsType[*Error](err); ok {
				o.attempts = fe.Attempts
			}
			if se, ok := errors.AsType[*StatusError](err); ok {
				o.status = se.StatusCode
			} else if err == nil {
				o.status, o.attempts = http.StatusOK, -1 // Get does not say
			}
			o.body, o.err = len(b), err
			return o
		},
		"Fetch": func(ctx context.Context, f *Fetcher, u string) outcome {
			r := f.Fetch(ctx, u, Method(http.MethodHead))
			return outcome{r.Status, r.Attempts, len(r.Body), r.Err}
		},
		"GetAll": func(ctx context.Context, f *Fetcher, u string) outcome {
			return one(f.GetAll(ctx, []string{u}, Method(http.MethodHead)))
		},
		"GetAllFailFast": func(ctx context.Context, f *Fetcher, u string) outcome {
			rs, _ := f.GetAllFailFast(ctx, []string{u}, Method(http.MethodHead))
			return one(rs)
		},
		"DoAll": func(ctx context.Context, f *Fetcher, u string) outcome {
			return one(f.DoAll(ctx, []*http.Request{mustHead(u)}))
		},
		"DoAllFailFast": func(ctx context.Context, f *Fetcher, u string) outcome {
			rs, _ := f.DoAllFailFast(ctx, []*http.Request{mustHead(u)})
			return one(rs)
		},
		"Stream": func(ctx context.Context, f *Fetcher, u string) outcome {
			return first(f.Stream(ctx, slices.Values([]string{u}), Method(http.MethodHead)))
		},
		"StreamRequests": func(ctx context.Context, f *Fetcher, u string) outcome {
			return first(f.StreamRequests(ctx, slices.Values([]*http.Request{mustHead(u)})))
		},
		"StreamFunc": func(ctx context.Context, f *Fetcher, u string) outcome {
			return first(StreamFunc(ctx, f, slices.Values([]string{u}), head))
		},
		"HandleURLs": func(ctx context.Context, f *Fetcher, u string) outcome {
			return firstHandled(HandleURLs(ctx, f, slices.Values([]string{u}), empty, Method(http.MethodHead)))
		},
		"Handle": func(ctx context.Context, f *Fetcher, u string) outcome {
			return firstHandled(Handle(ctx, f, slices.Values([]string{u}), head, emptyReq))
		},
		"Do": func(ctx context.Context, f *Fetcher, u string) outcome {
			resp, err := f.Do(mustHead(u).WithContext(ctx))
			if err != nil {
				return outcome{err: err}
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK && err == nil {
				err = &StatusError{StatusCode: resp.StatusCode}
			}
			return outcome{resp.StatusCode, -1, len(b), err}
		},
	}
	h1 := httptest.NewServer(h)
	defer h1.Close()
	h2 := httptest.NewUnstartedServer(h)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	defer h2.Close()
	roots := x509.NewCertPool()
	roots.AddCert(h2.Certificate())
	for _, srv := range []*httptest.Server{h1, h2} {
		f, err := New(WithMaxBodySize(1024), WithTLSConfig(&tls.Config{RootCAs: roots}),
			WithRetry(RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range slices.Sorted(maps.Keys(calls)) {
			call := calls[name]
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			for _, c := range []struct {
				path             string
				status, attempts int
			}{{"/ok", 200, 1}, {"/gone", 404, 1}, {"/flaky", 200, 2}} {
				u := fmt.Sprintf("%s%s?call=%s", srv.URL, c.path, name)
				o := call(ctx, f, u)
				_, isStatus := errors.AsType[*StatusError](o.err)
				if o.status != c.status || o.body != 0 || (o.err == nil) != (c.status == 200) || o.err != nil && !isStatus ||
					o.attempts != c.attempts && o.attempts != -1 {
					t.Errorf("%s %s: status %d, attempts %d, %d bytes, err %v; want %d, %d, 0 bytes, and a *StatusError only for a non-2xx",
						name, u, o.status, o.attempts, o.body, o.err, c.status, c.attempts)
				}
			}
			cancel()
		}
		f.Shutdown(context.Background())
	}
	if overH2.Load() == 0 {
		t.Error("no request came over HTTP/2")
	}
}

// A link checker with a deadline meets a host that answered one link with
// 429 and a long Retry-After: the host is paused past the deadline, so its
// other links cannot be sent in time. Get knows that and fails at once;
// the batch, streaming and crawl calls held those links in their host's
// queue until the deadline, so the whole check took its full deadline
// (and the same for a host's or the global rate token due past it). They
// now fail at once too, with the error Get gives, sending nothing.
func TestLinkCheckTurnPastDeadlineFailsAtOnce(t *testing.T) {
	type run func(ctx context.Context, f *Fetcher, urls []string) []error
	runs := map[string]run{
		"Stream": func(ctx context.Context, f *Fetcher, urls []string) (errs []error) {
			for r := range f.Stream(ctx, slices.Values(urls), Method(http.MethodHead)) {
				errs = append(errs, r.Err)
			}
			return errs
		},
		"GetAll": func(ctx context.Context, f *Fetcher, urls []string) (errs []error) {
			for _, r := range f.GetAll(ctx, urls) {
				errs = append(errs, r.Err)
			}
			return errs
		},
		"HandleURLs": func(ctx context.Context, f *Fetcher, urls []string) (errs []error) {
			final := func(_ string, resp *http.Response) (string, error) { return resp.Request.URL.String(), nil }
			for h := range HandleURLs(ctx, f, slices.Values(urls), final, Method(http.MethodHead)) {
				errs = append(errs, h.Err)
			}
			return errs
		},
		"Crawl": func(ctx context.Context, f *Fetcher, urls []string) (errs []error) {
			c, err := NewCrawler(f, CrawlIgnoreRobots())
			if err != nil {
				t.Fatal(err)
			}
			for p := range c.Run(ctx, urls...) {
				errs = append(errs, p.Err)
			}
			return errs
		},
	}
	gates := map[string][]Option{
		"pause":       nil,
		"host rate":   {WithHostRate(PerMinute(1), 1)},
		"global rate": {WithRate(PerMinute(1), 1)},
	}
	for _, gate := range slices.Sorted(maps.Keys(gates)) {
		for _, name := range slices.Sorted(maps.Keys(runs)) {
			t.Run(gate+"/"+name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					h := http.Handler(http.HandlerFunc(ok))
					if gate == "pause" {
						h = failing(1, http.StatusTooManyRequests, http.Header{"Retry-After": {"60"}})
					}
					c := count(h.ServeHTTP)
					f := newMem(t, c, append(gates[gate], WithRetry(RetryPolicy{MaxAttempts: 1}))...)
					defer f.Shutdown(context.Background())
					f.Get(t.Context(), "http://a.test/") // the 429, or the host's or global token
					ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
					defer cancel()
					start := time.Now()
					errs := runs[name](ctx, f, []string{"http://a.test/1", "http://a.test/2"})
					if took := time.Since(start); took != 0 {
						t.Errorf("took %v; want to fail at once", took)
					}
					for _, err := range errs {
						if !errors.Is(err, context.DeadlineExceeded) {
							t.Errorf("err = %v; want one matching context.DeadlineExceeded", err)
						}
					}
					if len(errs) != 2 {
						t.Errorf("%d outcomes; want 2", len(errs))
					}
					if n := c.n.Load(); n != 1 {
						t.Errorf("the host got %d requests; want only the first", n)
					}
				})
			})
		}
	}
}

// The other way to check external links: one crawl without a scope, whose
// loop follows links from the site's own pages only, so that an external
// page is fetched (with GET: a crawl sends nothing else) but not crawled.
// Its host's robots.txt is then fetched and obeyed, unless
// CrawlIgnoreRobots, which is all or nothing: the site's robots.txt goes
// unread too.
func TestLinkCheckCrawlChecksExternalLinksWithoutCrawlingThem(t *testing.T) {
	ext := count(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			io.WriteString(w, "User-agent: *\nDisallow: /private\n")
		default:
			io.WriteString(w, `<a href="/deeper">not to be crawled</a>`)
		}
	})
	extURL := lcServe(t, "127.0.0.2:0", ext).URL
	site := count(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			fmt.Fprintf(w, `<a href="/a">a</a><a href="%s/page">ext</a><a href="%s/private">ext</a>`, extURL, extURL)
		}
	})
	siteURL := lcServe(t, "127.0.0.7:0", site).URL
	for _, ignore := range []bool{false, true} {
		ext.n.Store(0)
		f := lcFetcher(t, http.DefaultClient)
		var opts []CrawlOption
		if ignore {
			opts = append(opts, CrawlIgnoreRobots())
		}
		c, err := NewCrawler(f, opts...)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]error{}
		for p := range c.Run(t.Context(), siteURL+"/") {
			got[p.URL] = p.Err
			if u, err := url.Parse(p.FinalURL); err == nil && u.Host == strings.TrimPrefix(siteURL, "http://") {
				p.Follow(p.Links()...)
			}
		}
		want := map[string]error{siteURL + "/": nil, siteURL + "/a": nil, extURL + "/page": nil, extURL + "/private": ErrDisallowed}
		if ignore {
			want[extURL+"/private"] = nil
		}
		if len(got) != len(want) {
			t.Errorf("ignore robots %v: pages %v; want %v", ignore, got, want)
		}
		for u, err := range want {
			if e, ok := got[u]; !ok || !errors.Is(e, err) || err == nil && e != nil {
				t.Errorf("ignore robots %v: %s: %v; want %v", ignore, u, e, err)
			}
		}
		// robots.txt and /page (/private refused unsent), or /page and
		// /private: never /deeper.
		if n := ext.n.Load(); n != 2 {
			t.Errorf("ignore robots %v: the external host got %d requests; want 2", ignore, n)
		}
	}
}
