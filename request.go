package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
)

// A RequestOption shapes the requests of one call that takes URLs ([Fetcher.Get],
// [Fetcher.Fetch], [GetJSON], [Fetcher.GetAll], [Fetcher.Stream] and their
// variants): its method, headers and body. The simple call needs none:
//
//	f.GetAll(ctx, urls)
//	f.GetAll(ctx, urls, fetch.Method("POST"), fetch.Body("application/json", payload))
//
// An option that is out of range (an invalid header name, say) fails every
// request of the call with an error that names it, before anything is sent.
type RequestOption func(*http.Request) error

// Header sets header key to value on each request of the call. Where a
// Fetcher's default ([WithHeader]) has the same key, Header replaces it: a
// request that sets a key gets none of the defaults for it. A Host header sets the
// request's Host, which net/http sends in place of the URL's host (it
// ignores a Host field in a request's Header), as curl -H "Host: ..." does;
// Header("Host", the URL's host) sends the URL's host in place of a
// default Host.
func Header(key, value string) RequestOption {
	return func(r *http.Request) error {
		if err := checkHeader(key, value); err != nil {
			return err
		}
		if isHost(key) {
			r.Host = value
			if value == "" || r.URL != nil && value == r.URL.Host {
				// Marked as set, since it is the Host that
				// applyDefaults replaces with the default.
				setOwn(r, func(o *own) { o.host = true })
			}
			return nil
		}
		r.Header.Set(key, value)
		return nil
	}
}

// isHost reports whether header key is Host, in any case.
func isHost(key string) bool { return strings.EqualFold(key, "Host") }

// Method sets the method of each request of the call, GET by default. A
// request whose method is other than GET, HEAD, OPTIONS, PUT, DELETE or
// TRACE is retried only when its attempt failed to connect, so that
// nothing was sent, unless it carries an Idempotency-Key (see
// [RetryPolicy]).
func Method(method string) RequestOption {
	return func(r *http.Request) error {
		if !token(method) { // a method is a token
			return fmt.Errorf("fetch: Method(%q): not a valid method", method)
		}
		r.Method = method
		return nil
	}
}

// Body sends body, of the given Content-Type (none if ""), with each
// request of the call. Every request and every retry sends the same bytes,
// which the call must not change while it runs.
func Body(contentType string, body []byte) RequestOption {
	return func(r *http.Request) error {
		if contentType != "" {
			if err := checkHeader("Content-Type", contentType); err != nil {
				return err
			}
			r.Header.Set("Content-Type", contentType)
		}
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.Body, _ = r.GetBody()
		if len(body) == 0 {
			r.Body, r.GetBody = http.NoBody, nil
		}
		return nil
	}
}

// MaxBodySize caps the bodies of the call's responses at n bytes, in place
// of the Fetcher's [WithMaxBodySize], where the Fetcher reads them for you
// and where [Handle] hands them to its handler; -1 lifts the cap. It lets
// one call take large bodies (a download handed to a handler that streams
// it to storage) without lifting the cap of every call, or building a
// second Fetcher, which would not share the first one's per-host slots and
// rates. Applied to a request, it caps the body of that request's
// response where [Fetcher.DoAll], [Fetcher.StreamRequests] and [Handle]
// read it; so [Handle]'s newRequest may apply it to the requests it builds:
//
//	fetch.MaxBodySize(-1)(req)
func MaxBodySize(n int64) RequestOption {
	return func(r *http.Request) error {
		if n < 1 && n != -1 {
			return fmt.Errorf("fetch: MaxBodySize(%d): must be at least 1, or -1 for no cap", n)
		}
		if n < 0 || n > math.MaxInt64-1 {
			n = math.MaxInt64 - 1 // the readers look one byte past the cap
		}
		setOwn(r, func(o *own) { o.bodyCap = n })
		return nil
	}
}

// FollowRedirects says whether the call's requests follow redirects, in
// place of the Fetcher's [WithFollowRedirects]: FollowRedirects(false)
// makes each redirect response the final one, as net/http's
// [http.ErrUseLastResponse] does (see [WithFollowRedirects]), and
// FollowRedirects(true) follows them on a Fetcher that does not, up to
// its [WithMaxRedirects] (with [WithClient], as far as that client's
// CheckRedirect lets it). Applied to a request, it holds wherever the
// request is sent: [Fetcher.Do], [Fetcher.DoAll],
// [Fetcher.StreamRequests], and [Handle]'s newRequest.
func FollowRedirects(follow bool) RequestOption {
	return func(r *http.Request) error {
		setOwn(r, func(o *own) {
			o.follow = -1
			if follow {
				o.follow = 1
			}
		})
		return nil
	}
}

// own is what a call's [RequestOption]s set for its requests beyond their
// method, header and body. It rides in the request's context, under ownKey,
// so that it holds wherever the request is sent.
type own struct {
	bodyCap int64 // MaxBodySize's cap, past any byte a body may have; 0 for the Fetcher's
	host    bool  // Header set Host to the URL's host: the request gets no default Host
	follow  int8  // FollowRedirects: 1 follow, -1 do not, 0 as the Fetcher does
}

// ownKey is the context key of a request's [own] settings.
type ownKey struct{}

// ownUsed is set once any request has had settings of its own, so that
// until then no request looks for them.
var ownUsed atomic.Bool

// setOwn changes the settings of r's own with set. A call made for r
// (see preparedCall) stays r's context, with the settings under it: a
// context wrapped around it would answer the caller's trace key with the
// call's empty trace, and cost the call a copy of r.
func setOwn(r *http.Request, set func(*own)) {
	o := ownOf(r)
	set(&o)
	if !ownUsed.Load() {
		ownUsed.Store(true)
	}
	if c, ok := r.Context().(*call); ok && c.f == nil {
		c.Context = context.WithValue(c.Context, ownKey{}, o)
		return
	}
	*r = *r.WithContext(context.WithValue(r.Context(), ownKey{}, o))
}

// ownOf returns the settings RequestOptions gave r. A call's context
// answers ownKey with nothing (see call.Value), so that a request made
// under a call, in a handler say, does not take on its settings; the
// settings of a request whose context is its own call are under the call.
func ownOf(r *http.Request) own {
	if !ownUsed.Load() {
		return own{}
	}
	ctx := r.Context()
	if c, ok := ctx.(*call); ok && (c.f == nil || c.req == r || c.caller == r) {
		ctx = c.Context // a call made for r (see preparedCall), or sending it
	}
	o, _ := ctx.Value(ownKey{}).(own)
	return o
}

// bodyCap returns the cap on the body of the response to req: its
// [MaxBodySize] if it has one, else the Fetcher's.
func (f *Fetcher) bodyCap(req *http.Request) int64 {
	if n := ownOf(req).bodyCap; n != 0 {
		return n
	}
	return f.maxBody
}

// checkHeader returns an error naming key and value unless they may be
// sent as a header field.
func checkHeader(key, value string) error {
	if !token(key) {
		return fmt.Errorf("header name %q: not a valid field name", key)
	}
	if problem := valueProblem(value); problem != "" {
		shown := fmt.Sprintf("%q", value)
		if slices.ContainsFunc(sensitiveHeaders, func(k string) bool { return strings.EqualFold(k, key) }) {
			shown = "(a credential, not shown)" // errors get logged
		}
		return fmt.Errorf("header %s: value %s %s", key, shown, problem)
	}
	return nil
}

// valueProblem says what makes value one a header may not have, or "".
func valueProblem(value string) string {
	if i := strings.IndexFunc(value, isCTL); i >= 0 {
		return fmt.Sprintf("holds a control character, %q at byte %d, which a header may not", value[i], i)
	}
	if strings.Trim(value, " \t") != value {
		// RFC 9110 §5.5: net/http would trim it, and send another value.
		return "begins or ends with white space"
	}
	return ""
}

// WithHeader adds a header that every request the Fetcher sends carries,
// unless the request sets key itself: a User-Agent, an API key. It may be
// given more than once; values for one key accumulate, but for
// Authorization and Proxy-Authorization, one credential each, and
// User-Agent, of which net/http sends only the first, the last option
// wins, and Cookie values are joined into one Cookie header with "; ", as
// RFC 6265 asks (net/http's cookie jar would keep only the first).
//
// Proxy-Authorization is for the proxy ([WithProxy], or the environment's):
// it goes with requests to http URLs that go through an http or https
// proxy, which reads them, and, for https URLs, in the CONNECT that opens
// the tunnel (a SOCKS proxy reads neither: give its user and password in
// its URL); never
// to a server: not inside the tunnel, nor with a request that goes to its
// server direct (a proxy URL's user and password take its place). [New]
// refuses it together with [WithClient]: set that client's transport's
// ProxyConnectHeader instead.
//
// A default header that may be a credential, which is any but the
// content-negotiation ones (User-Agent, Accept, Accept-Language,
// Accept-Charset, Accept-Encoding, Cache-Control, Pragma, DNT,
// Upgrade-Insecure-Requests, Referer), is sent on a redirect only where
// net/http sends Authorization: not to another domain (the host name or a
// subdomain of it, ports aside) nor back after one, and, unlike net/http,
// not from https to http. A header the request sets itself follows
// net/http's rules: only Authorization, Cookie and the like, in any
// spelling of their names, are held back. A Host header sets the Host of
// every request whose own Host is its URL's (see [Header]); given more
// than once, the last one counts.
func WithHeader(key, value string) Option {
	return func(c *config) error {
		if err := checkHeader(key, value); err != nil {
			return fmt.Errorf("fetch: WithHeader: %w", err)
		}
		if isHost(key) {
			c.host = value
			return nil
		}
		switch k := http.CanonicalHeaderKey(key); k {
		case "Proxy-Authorization":
			// The proxy's, which only the client New builds sends, to
			// proxies alone (see newClient): no default of any request.
			c.clientOptions = append(c.clientOptions, proxyAuthOption)
			c.proxyAuth = value
			return nil
		case "Authorization", "User-Agent":
			// One value: the last option wins (net/http sends only the
			// first User-Agent).
			return setHeader(c, k, value)
		case "Cookie":
			// One Cookie header (RFC 6265 §5.4): net/http's cookie jar
			// adds its cookies to the first value and drops the others.
			if old := c.header.Get(k); value == "" {
				value = old
			} else if old != "" {
				value = old + "; " + value
			}
			return setHeader(c, k, value)
		}
		if c.header == nil {
			c.header = make(http.Header)
		}
		c.header.Add(key, value)
		return nil
	}
}

// proxyAuthOption names WithHeader("Proxy-Authorization", ...) among the
// options that configure the client New builds.
const proxyAuthOption = `WithHeader("Proxy-Authorization", ...)`

// WithBearerToken sends "Authorization: Bearer token" with every request,
// as [WithHeader] does: to every host the Fetcher sends to (only a
// redirect's other host is spared, and a crawl's robots.txt requests). A Fetcher that also fetches URLs from
// elsewhere (a crawler, links from a page) would hand them the token: give
// it per call instead, with [Header], on the requests to the API. Of
// several auth options ([WithBasicAuth], or WithHeader("Authorization",
// ...)) the last wins: a request carries one credential. A request that
// sets Authorization itself, in any spelling of the name, keeps its own.
func WithBearerToken(token string) Option {
	return func(c *config) error {
		v, err := bearerValue("WithBearerToken", token)
		if err != nil {
			return err
		}
		return setHeader(c, "Authorization", v)
	}
}

// setHeader makes value the only value of default header key, replacing
// one an earlier option set: for Authorization, which carries one
// credential (RFC 9110 §11.6.2), so that of several auth options the last
// wins.
func setHeader(c *config, key, value string) error {
	if c.header == nil {
		c.header = make(http.Header)
	}
	c.header.Set(key, value)
	if key == "Authorization" {
		c.token = nil
	}
	return nil
}

// WithBearerTokenFunc sends "Authorization: Bearer " and what token returns
// with every request, as [WithBearerToken] does, asking token for it afresh
// for each attempt, just before it is sent: for tokens that expire, such as
// OAuth2 access tokens from a golang.org/x/oauth2 TokenSource (whose
// ReuseTokenSource refreshes one only when it expires):
//
//	fetch.WithBearerTokenFunc(func(ctx context.Context) (string, error) {
//		t, err := ts.Token()
//		if err != nil {
//			return "", err
//		}
//		return t.AccessToken, nil
//	})
//
// Unlike a transport wrapper that sets the header (oauth2.Transport through
// [WithTransportWrapper]), the token is held back from a redirect to
// another domain, as [WithHeader]'s credentials are. token is given the
// call's context, runs once the attempt has passed its gates, with its
// in-flight slots given back meanwhile (so it may fetch the token through
// the same Fetcher, from the API's own host too, without waiting for slots
// its callers hold; the attempt then takes them again, at the front of
// their lines, keeping the rate tokens it took; a request it sends
// through the Fetcher is a call of its own, not counted among the
// attempts of the call that asked), and may run on many goroutines at
// once: cache the token. An error
// it returns (a panic in it, as a [*PanicError]), or a token that may not
// be sent in a header, fails the call without sending the attempt, and is
// not retried; at a retry, the error also names what the attempt before
// got, and [Stats] counts the call as refused. A request that sets its
// own Authorization is sent as it is, without asking token. Of several auth
// options, the last wins.
func WithBearerTokenFunc(token func(ctx context.Context) (string, error)) Option {
	return func(c *config) error {
		if token == nil {
			return errors.New("fetch: WithBearerTokenFunc(nil)")
		}
		setHeader(c, "Authorization", tokenPlaceholder)
		c.token = token
		return nil
	}
}

// bearer returns the Authorization value of an attempt of call c, from
// the Fetcher's token function.
func (f *Fetcher) bearer(c *call) (tok string, err error) {
	defer func() {
		if v := recover(); v != nil {
			// The caller's code, as a RoundTripper's: a panic in it fails
			// the call, and gives back its slots.
			err = fmt.Errorf("fetch: WithBearerTokenFunc: %w", &PanicError{Value: v, Stack: debug.Stack()})
		}
	}()
	tok, err = f.token(tokenContext{c})
	if err != nil {
		return "", fmt.Errorf("fetch: WithBearerTokenFunc: %w", err)
	}
	return bearerValue("WithBearerTokenFunc", tok)
}

// tokenContext is the context WithBearerTokenFunc's function is given:
// the call's, but for the trace that counts the call's own requests as
// net/http writes them, which it holds as the caller's trace (only the
// caller's own, if any, is left), and for the call itself and the
// settings [RequestOption]s gave its request ([MaxBodySize],
// [FollowRedirects], a [Header] Host). A token fetched under it, through
// the same Fetcher or another client, is then not counted among the
// attempts of the call that asked for it, nor capped, addressed or
// redirected as that call's request is.
type tokenContext struct{ *call }

func (t tokenContext) Value(key any) any {
	switch key {
	case traceKey:
		if t.alt != nil && t.alt.caller != nil {
			return t.alt.caller
		}
		return nil
	case callKey{}, ownKey{}:
		return nil // the asking request's own, not the token's
	}
	return t.call.Context.Value(key)
}

// bearerFree is bearer with call c's in-flight slots given back while
// the token function runs, and taken again after it, at the front of
// their lines (the rate tokens the attempt took are kept): the function
// may fetch the token through the same Fetcher, from the API's host or
// from another once every slot is held by calls that need a token,
// without waiting for slots that its own callers hold.
func (f *Fetcher) bearerFree(c *call) (string, error) {
	if !c.held {
		return f.bearer(c)
	}
	f.gates.release(c.h)
	c.held = false
	tok, err := f.bearer(c)
	if err != nil {
		return "", err
	}
	if c.watch != nil {
		c.watch.atGates(true)
		defer c.watch.atGates(false)
	}
	if err := f.gates.slotsBack(c, c.h); err != nil {
		return "", err
	}
	c.held = true
	return tok, nil
}

// tokenPlaceholder is the value of WithBearerTokenFunc's default
// Authorization header: it holds the key's place among the defaults, so
// that the redirect rules apply to it, and prepare sets each attempt's.
const tokenPlaceholder = "Bearer"

// bearerValue returns the Authorization value for token, or an error
// naming option that does not show the token.
func bearerValue(option, token string) (string, error) {
	if token == "" {
		return "", fmt.Errorf("fetch: %s: empty token", option)
	}
	if problem := valueProblem(token); problem != "" {
		// A token read from a file often ends with a newline.
		return "", fmt.Errorf("fetch: %s: the token (not shown) %s", option, problem)
	}
	return "Bearer " + token, nil
}

// WithBasicAuth sends HTTP Basic credentials with every request, as
// [WithHeader] does, to every host (see [WithBearerToken]); of several auth
// options the last wins.
func WithBasicAuth(username, password string) Option {
	return func(c *config) error {
		if strings.Contains(username, ":") {
			return fmt.Errorf("fetch: WithBasicAuth: username %q holds a colon", username)
		}
		cred := base64.StdEncoding.EncodeToString([]byte(username + ":" + password))
		return setHeader(c, "Authorization", "Basic "+cred) // base64 is always a valid value
	}
}

// WithTLSConfig sets the TLS configuration of the client New builds: root
// CAs for a private PKI, a client certificate for mutual TLS, a minimum
// version. The Fetcher uses a clone of cfg. It works with the SSRF guard
// ([WithBlockPrivateAddresses]), which checks addresses before TLS begins.
// New refuses it together with [WithClient], whose transport is the
// caller's to configure.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) error {
		if cfg == nil {
			return errors.New("fetch: WithTLSConfig(nil)")
		}
		c.tls = cfg.Clone()
		return nil
	}
}

// WithTransportWrapper wraps the transport of the client New builds (its
// tuned pooling, TLS settings and SSRF guard kept underneath) with wrap,
// called once: a RoundTripper that records or changes each request as it
// is sent, such as otelhttp.NewTransport, which injects trace context. Each
// request passes through it once per attempt and once per redirect,
// already past the Fetcher's gates. wrap must not return nil: New fails if
// it does. Given more than once, the wrappers stack, each wrapping the
// transport the one before it returned: the last given sees each request
// first. New refuses it together with [WithClient]: wrap that client's
// transport yourself.
func WithTransportWrapper(wrap func(http.RoundTripper) http.RoundTripper) Option {
	return func(c *config) error {
		if wrap == nil {
			return errors.New("fetch: WithTransportWrapper(nil)")
		}
		if len(c.wrapTransport) == 0 {
			c.clientOptions = append(c.clientOptions, "WithTransportWrapper")
		}
		c.wrapTransport = append(c.wrapTransport, wrap)
		return nil
	}
}

// applyDefaults adds the Fetcher's default headers to r, which the call
// owns, for each key r does not set itself, and its default Host unless r's
// Host is set to other than its URL's host, or set by [Header]. It
// returns which of the private defaults it added: bit i for f.private[i],
// bit 63 for any of f.private[63:] (see keepDefaults).
func (f *Fetcher) applyDefaults(r *http.Request, shared bool) (added uint64) {
	if f.hostHeader != "" && (r.Host == "" || r.URL != nil && r.Host == r.URL.Host) && !ownOf(r).host {
		r.Host = f.hostHeader
	}
	if len(f.header) == 0 {
		return 0
	}
	if shared { // the caller's map: copy before adding to it
		r.Header = r.Header.Clone()
	}
	if r.Header == nil {
		r.Header = make(http.Header, len(f.header))
	}
	for k, vs := range f.header {
		if !hasKey(r.Header, k) {
			r.Header[k] = slices.Clone(vs)
			if i, private := slices.BinarySearch(f.private, k); private {
				added |= 1 << min(i, 63)
			}
		}
	}
	return added
}

// sameDomain reports whether dest's host is initial's, or a subdomain of
// it, as net/http decides whether to send Authorization on a redirect, but
// comparing names as DNS does, without regard to case. A name IDNA refuses
// is the same domain as itself only.
func sameDomain(initial, dest *url.URL) bool {
	parent, ok := asciiHostname(initial.Hostname())
	sub, subOK := asciiHostname(dest.Hostname())
	if !ok || !subOK {
		return strings.EqualFold(initial.Hostname(), dest.Hostname())
	}
	if sub == parent {
		return true
	}
	if strings.ContainsAny(sub, ":%") { // an IPv6 address, not a name
		return false
	}
	return strings.HasSuffix(sub, "."+parent)
}

// publicHeaders are the default headers that say nothing secret (content
// negotiation, caching, the client's name), which follow a call's
// redirects wherever they go; every other default header may be a
// credential (an API key, a tenant's token) and goes only to the host the
// call was made to (see keepDefaults).
var publicHeaders = map[string]bool{
	"User-Agent": true, "Accept": true, "Accept-Language": true, "Accept-Charset": true, "Accept-Encoding": true,
	"Cache-Control": true, "Pragma": true, "Dnt": true, "Upgrade-Insecure-Requests": true, "Referer": true,
}

// PublicHeader reports whether a default header named key ([WithHeader])
// says nothing secret (content negotiation, caching, the client's name:
// User-Agent, Accept, Referer and the like), and so follows a call's
// redirects wherever they go. The Fetcher takes every other default header
// for one that may be a credential, held back on a redirect to another
// domain; a tool that hands the Fetcher headers of its users' can ask
// this before sending them to many hosts.
func PublicHeader(key string) bool { return publicHeaders[http.CanonicalHeaderKey(key)] }

// privateDefaults returns the keys of header that are not publicHeaders,
// sorted.
func privateDefaults(header http.Header) []string {
	var keys []string
	for k := range header {
		if !publicHeaders[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// keepDefaults removes from req, a redirect of call c, the private default
// headers the Fetcher added to c's request (see applyDefaults) where
// net/http removes Authorization: when req goes to another domain than the
// call's first request (neither its host name nor a subdomain of it; ports
// aside), or comes back after a hop to one (the way back was another
// host's to name); and, as the Fetcher does for Authorization, over http
// after a hop over https. A default header may be a credential, which the
// caller gave for the hosts it sends to, not for those a redirect names.
// A header the caller's request set itself is left to net/http's rule.
//
// A header the caller's CheckRedirect (see [WithClient]) put back, where
// net/http had held it back, is the caller's to send: had says which
// private defaults req held before that policy ran (see heldDefaults).
func (f *Fetcher) keepDefaults(req *http.Request, via []*http.Request, had uint64) {
	c, ok := req.Context().Value(callKey{}).(*call)
	if !ok || c.defaulted&had == 0 || len(via) == 0 {
		return
	}
	first := via[0].URL
	away := func(r *http.Request) bool { return !sameDomain(first, r.URL) }
	downgrade := req.URL.Scheme == "http" && slices.ContainsFunc(via, func(r *http.Request) bool { return r.URL.Scheme == "https" })
	if !downgrade && !away(req) && !slices.ContainsFunc(via, away) {
		return
	}
	for i, k := range f.private {
		if bit := uint64(1) << min(i, 63); c.defaulted&had&bit != 0 && (i < 63 || slices.Equal(req.Header[k], f.header[k])) {
			req.Header.Del(k)
		}
	}
}

// heldDefaults returns which of the private defaults req holds, a bit
// each as applyDefaults counts them.
func (f *Fetcher) heldDefaults(req *http.Request) (had uint64) {
	for i, k := range f.private {
		if len(req.Header[k]) > 0 {
			had |= 1 << min(i, 63)
		}
	}
	return had
}

// hasKey reports whether h holds canonical key k under any spelling: a
// header map built by hand, or copied from HTTP/2, may hold "authorization",
// which net/http sends as it is.
func hasKey(h http.Header, k string) bool {
	if _, ok := h[k]; ok {
		return true
	}
	for hk := range h {
		if strings.EqualFold(hk, k) {
			return true
		}
	}
	return false
}
