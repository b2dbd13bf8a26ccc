package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"
)

// The dial settings of http.DefaultTransport, kept when the guard replaces
// its dialer.
const (
	defaultDialTimeout = 30 * time.Second
	defaultKeepAlive   = 30 * time.Second
)

// readBufferSize is the read buffer of each connection the Fetcher's own
// client opens.
const readBufferSize = 32 << 10

// newClient builds the client a Fetcher uses when it is not given one: a
// clone of http.DefaultTransport (keeping its proxy, dial and TLS settings)
// that keeps enough idle connections to reuse one per request in flight.
//
// Its read buffer is 32 KiB rather than net/http's 4 KiB. A Fetcher reads
// whole bodies, and a response that fits the buffer, headers and body, is
// read with one system call instead of two or more. It costs 28 KiB more
// per open HTTP/1 connection; HTTP/2 keeps its own buffers.
//
// It also caps connections per host at the requests the Fetcher lets in
// flight to one host. The Fetcher frees a slot when a body reaches EOF, a
// moment before net/http's read loop returns the connection to the idle
// pool; without the cap the next request would dial a new connection in
// that moment instead of waiting for the one coming back. A redirect closes
// the response that sent it before it gives back its slot (see hop), so that
// the cap never keeps a request that holds a slot waiting for a connection
// held by a request waiting for a slot.
//
// It caps response headers at c.maxHeader bytes and reports a head over the
// cap as ErrHeaderTooLarge (see headerCap). With the guard on, it
// checks every address it dials and refuses to send through a proxy (see
// guardProxy). It sends through c.proxy if set (see WithProxy), in place of
// the environment's proxies, with the default Proxy-Authorization, if any,
// in the CONNECT of https requests, and keeps cookies in c.jar if set.
func newClient(c config) (*http.Client, *http.Transport) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	perHost := c.concurrency
	if c.hostConcurrency > 0 && !pooledByProxy(c) {
		perHost = min(c.hostConcurrency, c.concurrency)
	}
	if c.proxy != nil {
		t.Proxy = c.proxy // New refuses it with the guard, which would refuse every proxied request
	}
	if c.guard {
		// A TLS dialer set on http.DefaultTransport by the program would
		// dial https connections out of the guard's sight.
		//lint:ignore SA1019 DialTLS is deprecated, and still used if set
		t.DialTLSContext, t.DialTLS = nil, nil
		t.DialContext = guardedDialer(c.allow).DialContext
		t.Proxy = guardProxy(t.Proxy)
	}
	t.OnProxyConnectResponse = proxyConnectRefused(t.OnProxyConnectResponse)
	var auth []string
	if c.proxyAuth != "" {
		// The proxy's credential goes to the proxy only: in the CONNECT
		// of an https request, not inside the tunnel, to the origin; with
		// an http request only if it goes through a proxy (see
		// WithHeader). A proxy URL's user and password take its place.
		auth = []string{c.proxyAuth}
		if t.ProxyConnectHeader == nil { // else the clone's own
			t.ProxyConnectHeader = make(http.Header)
		}
		t.ProxyConnectHeader["Proxy-Authorization"] = auth
	}
	var rt http.RoundTripper = t
	if t.Proxy != nil && pooledByProxy(c) {
		rt = newProxyRoute(t, auth)
	}
	if c.wrapDial != nil {
		t.DialContext = c.wrapDial(t.DialContext)
	}
	if c.tls != nil {
		t.TLSClientConfig = c.tls
	}
	t.ReadBufferSize = readBufferSize
	t.MaxIdleConnsPerHost = perHost
	t.MaxConnsPerHost = perHost
	t.MaxIdleConns = max(t.MaxIdleConns, c.concurrency)
	t.MaxResponseHeaderBytes = c.maxHeader
	for _, wrap := range c.wrapTransport {
		if rt = wrap(rt); rt == nil {
			break // New refuses it
		}
	}
	return &http.Client{Transport: rt, CheckRedirect: checkRedirect(c.maxRedirects), Jar: c.jar}, t
}

// A proxyRoute sends the http requests that go through an HTTP proxy (not
// a SOCKS one, which reads no HTTP) as the proxy needs them, where
// net/http would not:
//   - with auth, the default Proxy-Authorization, which only a proxy reads
//     (one that goes straight to its server does not carry it there; a
//     request that sets its own is sent as it is);
//   - naming its URL's host in its request line, not its Host header's,
//     as curl does: net/http writes the absolute URL a proxy is sent from
//     the Host, so that a request for http://a.test/ with Host: b.test
//     would have the proxy fetch it from b.test.
//
// It asks the transport's proxy function about a request only where one
// of these may apply, once, as the transport alone would, and hands the
// answer down to the transport in the request's context, so that a
// rotating proxy function sends the request where it was asked about.
type proxyRoute struct {
	t     *http.Transport
	proxy func(*http.Request) (*url.URL, error) // t's own
	auth  []string
}

// proxyChoiceKey is the context key under which proxyRoute hands down the
// proxy chosen for a request (a *proxyChoice).
type proxyChoiceKey struct{}

type proxyChoice struct {
	u   *url.URL
	err error
}

// newProxyRoute returns a proxyRoute over t, which has a proxy function,
// and makes that function take the answer the proxyRoute hands down.
func newProxyRoute(t *http.Transport, auth []string) *proxyRoute {
	p := &proxyRoute{t: t, proxy: t.Proxy, auth: auth}
	t.Proxy = func(req *http.Request) (*url.URL, error) {
		if ch, ok := req.Context().Value(proxyChoiceKey{}).(*proxyChoice); ok {
			return ch.u, ch.err
		}
		return p.proxy(req)
	}
	return p
}

func (p *proxyRoute) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "http" {
		return p.t.RoundTrip(req)
	}
	otherHost := req.Host != "" && req.Host != req.URL.Host && req.URL.Opaque == ""
	auth := p.auth != nil && !hasKey(req.Header, "Proxy-Authorization")
	if !otherHost && !auth {
		return p.t.RoundTrip(req)
	}
	u, err := p.proxy(req)
	r := req.WithContext(context.WithValue(req.Context(), proxyChoiceKey{}, &proxyChoice{u, err}))
	if u == nil || err != nil || u.Scheme != "http" && u.Scheme != "https" {
		// Direct, or through a SOCKS proxy, which reads no HTTP: the
		// request goes to its server as it is.
		return p.t.RoundTrip(r)
	}
	if auth {
		r.Header = req.Header.Clone()
		if r.Header == nil {
			r.Header = make(http.Header, 1)
		}
		r.Header["Proxy-Authorization"] = p.auth
	}
	if otherHost {
		// An opaque "//host/path" is written as scheme:opaque?query.
		to, path := *req.URL, req.URL.EscapedPath()
		if path == "" {
			path = "/"
		}
		to.Opaque = "//" + req.URL.Host + path
		r.URL = &to
	}
	resp, err := p.t.RoundTrip(r)
	if resp != nil {
		// The caller's request, as the transport alone returns it: not
		// the copy sent, whose opaque URL resolves a link such as
		// "?page=2" to no host, and whose header holds the proxy's
		// credential.
		resp.Request = req
	}
	return resp, err
}

// pooledByProxy reports whether http:// requests may go through a proxy
// (WithProxy's, or HTTP_PROXY's as http.ProxyFromEnvironment reads it, the
// guard aside, which refuses them): net/http then pools the connections of
// every http:// target as one, the proxy's, so that a cap per target host
// would cap them all together.
func pooledByProxy(c config) bool {
	if c.proxy != nil {
		return true
	}
	return !c.guard && (os.Getenv("HTTP_PROXY") != "" || os.Getenv("http_proxy") != "")
}

// A headerCap recognises net/http's refusal of a response head longer
// than the MaxResponseHeaderBytes of the transport New builds, so that the
// Fetcher reports it as ErrHeaderTooLarge (see Fetcher.record). It is
// matched where the error is classified rather than in a wrapping
// RoundTripper, so that a request waiting on the network has no extra frame
// on its stack.
type headerCap struct {
	max     int64
	refusal string // net/http's text for a head over the cap; "" for a client New did not build
}

func newHeaderCap(max int64) headerCap {
	// net/http's transport.go builds this error with fmt.Errorf, exposing no
	// type or sentinel, so its exact text is the only thing to match. The
	// cap in it is ours, so the whole text is known in advance; an error
	// only containing it does not match. TestHeaderTooLarge fails if
	// net/http changes the text.
	return headerCap{max: max, refusal: fmt.Sprintf("net/http: server response headers exceeded %d bytes; aborted", max)}
}

// check returns err as ErrHeaderTooLarge if it is, or wraps, net/http's
// refusal of an oversized head (net/http may wrap it: "connection broken:
// %w"), and err otherwise.
func (hc headerCap) check(err error) error {
	if hc.refusal == "" {
		return err
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == hc.refusal {
			return fmt.Errorf("%w: more than %d bytes", ErrHeaderTooLarge, hc.max)
		}
	}
	return err
}

// checkRedirect allows at most limit redirects, to http or https only.
func checkRedirect(limit int) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if s := req.URL.Scheme; s != "http" && s != "https" {
			return fmt.Errorf("%w: redirect to %q: scheme must be http or https", ErrTooManyRedirects, req.URL.Redacted())
		}
		if len(via) > limit {
			return fmt.Errorf("%w: stopped after %d", ErrTooManyRedirects, limit)
		}
		return nil
	}
}

// proxyConnectRefused returns a Transport.OnProxyConnectResponse that
// reports a proxy's refusal to open a tunnel as a [*ProxyConnectError],
// after next (a program's own, set on http.DefaultTransport; may be nil).
func proxyConnectRefused(next func(context.Context, *url.URL, *http.Request, *http.Response) error) func(context.Context, *url.URL, *http.Request, *http.Response) error {
	return func(ctx context.Context, proxy *url.URL, req *http.Request, resp *http.Response) error {
		if next != nil {
			if err := next(ctx, proxy, req, resp); err != nil {
				return err
			}
		}
		if resp.StatusCode == http.StatusOK { // net/http opens the tunnel at no other status
			return nil
		}
		return &ProxyConnectError{Proxy: proxy.Redacted(), StatusCode: resp.StatusCode, Status: resp.Status}
	}
}
