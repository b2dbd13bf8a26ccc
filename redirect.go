package fetch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// A call is the state of one call through do, carried in the context of the
// request it sends, so that a redirect, which net/http follows inside the
// attempt, can move the call from one host's gates to the next (see hop),
// and so that net/http tells the call each time it writes the request (see
// sent). The call and the request it sends are one allocation; the
// response body handed back to the caller is part of it too.
//
// Only the goroutine running the call touches it (net/http calls
// CheckRedirect on the goroutine that called Client.Do), until the call
// hands its body back; from then on only the body does. The exceptions are
// the write counts (wrote, alt), which net/http's connection goroutines add
// to, and flags, which they read and the body sets.
type call struct {
	context.Context // the caller's (with trace added, if the caller's has a trace of its own)

	f      *Fetcher
	origin *host // the request's own host, referenced for the whole call
	h      *host // the host of the call's latest attempt or hop; referenced while it is not origin

	req  *http.Request // the request sent: made with the call as its context (see newCall)
	body slotBody      // the response body, when the caller reads it

	caller   *http.Request          // the request the caller gave
	watch    gateWatcher            // the scheduler whose worker runs the call, if any: told when it waits at the gates
	delay    time.Duration          // the last retry's delay, for the backoff's next
	start    mono                   // when the call began; zero unless MaxElapsed or a hook needs it
	waited   time.Duration          // how long the current attempt waited at the gates; zero unless timed
	panicked error                  // the OnCall hook's panic, which fails the call
	last     outcome                // the outcome of the current attempt (see Fetcher.attempt)
	reports  []func(*outcome) error // tell the policies that let the attempt, or a hop of it, through what became of it
	trace    httptrace.ClientTrace  // the trace of odd attempts' requests: counts their writes in wrote
	alt      *altTrace              // the trace of even attempts' requests, made at the first retry (or with the call, to hold the caller's trace)

	defaulted    uint64        // bit i: the Fetcher added its default header private[i] to req; bit 63: one of private[63:] (see applyDefaults)
	wrote        atomic.Int32  // times net/http wrote a request of an odd attempt on a connection
	flags        atomic.Uint32 // evenAttempt, bodyDone, jarless: one word, so that the call fits its size class (see TestCallFitsItsSizeClass)
	first        int32         // wrote when the current attempt followed its first redirect
	n            int32         // the current attempt, from 1
	attempts     int32         // requests sent to origin so far, as Error.Attempts counts them (see TestCallFitsItsSizeClass)
	held         bool          // the call holds h's slot and a global slot
	hopped       bool          // the current attempt has followed a redirect: its request reached a server, which answered (see neverSent)
	reads        bool          // the call reads the final response's body itself (consume)
	sharedHeader bool          // req's header map is the caller's: copy it before adding defaults
}

// The call's flags.
const (
	evenAttempt uint32 = 1 << iota // the current attempt is an even one: its requests carry alt
	bodyDone                       // the body has given up what the call held (see slotBody.finish)
	jarless                        // the call neither sends nor stores the cookies of the client's jar (see Fetcher.jarless); set by begin
)

type callKey struct{}

// preparedCall returns a call to be filled in by newCall, for a request
// that the Fetcher makes itself with it as its context (see newGet): the
// request then needs no copy to carry its call.
func preparedCall(ctx context.Context) *call { return &call{Context: ctx} }

// newCall starts the call that sends req to host h (whose gates it holds
// already if held). If req was made with a prepared call as its context,
// that call is used; otherwise the call sends a copy of req with the call
// as its context.
func (f *Fetcher) newCall(req *http.Request, h *host, held bool) *call {
	c, ok := req.Context().(*call)
	if ok && c.f == nil {
		c.req = req
		c.defaulted = f.applyDefaults(req, c.sharedHeader)
	} else {
		// The call and the copy of req it sends, in one allocation.
		cr := &struct {
			call
			req http.Request
		}{call: call{Context: req.Context()}}
		c = &cr.call
		cr.req = *req.WithContext(c)
		c.req = &cr.req
		c.defaulted = f.applyDefaults(c.req, true)
	}
	c.f, c.origin, c.h, c.held, c.caller = f, h, h, held, req
	if f.retry.MaxElapsed > 0 || f.timed {
		c.start = monoNow()
	}
	for _, on := range f.onCall {
		// Each set's, with the context the one before returned, even
		// after one panics (its OnDone will run): a panic ends the call
		// with it, the last one as with the other hooks (see joinHook),
		// before any gate (see Fetcher.admit).
		if err := runHook(func() {
			if ctx := on(c.Context, CallInfo{Request: req, Host: h.name}); ctx != nil {
				c.Context = ctx
			}
		}); err != nil {
			c.panicked = err
		}
	}
	c.trace.WroteHeaders = c.wroteHeaders
	if t := httptrace.ContextClientTrace(c.Context); t != nil {
		// The caller's hooks run too, after the call's; alt keeps them
		// for the even attempts' trace.
		c.alt = &altTrace{caller: t}
		c.Context = httptrace.WithClientTrace(c.Context, &c.trace)
	}
	return c
}

// An altTrace is the trace of a call's even attempts, counting their writes.
type altTrace struct {
	httptrace.ClientTrace
	wrote  atomic.Int32
	caller *httptrace.ClientTrace // the caller's own trace, if any, which it runs too
}

func (t *altTrace) wroteHeaders() { t.wrote.Add(1) }

// traceAttempt readies the call's count of the writes of attempt n, and
// clears its note that the attempt followed a redirect (hopped). Odd
// and even attempts carry traces of their own, each with its count: over
// HTTP/2 net/http reports a write after it has sent it, on another
// goroutine, so the report may come after the attempt has ended, and it
// then adds to the count of the attempt it belongs to, not to the next
// one's. The count is zeroed here, an attempt later (and a backoff after),
// rather than when it is read.
func (c *call) traceAttempt(n int) {
	even := n%2 == 0
	if even && (c.alt == nil || c.alt.WroteHeaders == nil) {
		if c.alt == nil {
			c.alt = new(altTrace)
		}
		c.alt.WroteHeaders = c.alt.wroteHeaders
		if c.alt.caller != nil {
			// Composes it with the caller's trace, as newCall composes c.trace.
			httptrace.WithClientTrace(httptrace.WithClientTrace(context.Background(), c.alt.caller), &c.alt.ClientTrace)
		}
	}
	if even {
		c.flags.Or(evenAttempt)
	} else {
		c.flags.And(^evenAttempt)
	}
	c.writes().Store(0)
	c.hopped = false
}

// writes returns the count of the writes of the current attempt.
func (c *call) writes() *atomic.Int32 {
	if c.flags.Load()&evenAttempt != 0 {
		return &c.alt.wrote
	}
	return &c.wrote
}

// Value returns the call itself for callKey, the current attempt's trace
// for net/http/httptrace's key, nothing for ownKey, and otherwise what the
// caller's context holds.
func (c *call) Value(key any) any {
	switch key {
	case traceKey:
		if c.flags.Load()&evenAttempt != 0 {
			return &c.alt.ClientTrace
		}
		return &c.trace
	case callKey{}:
		return c
	case ownKey{}:
		return nil // the settings of the request c sends are ownOf(c.req)
	}
	return c.Context.Value(key)
}

// traceKey is the context key under which net/http looks for a request's
// [httptrace.ClientTrace]. httptrace does not export it, so it is learnt by
// asking for a trace once: a call's context then holds the call's trace
// without a context of its own for it.
var traceKey = func() any {
	k := keyProbe{Context: context.Background()}
	httptrace.ContextClientTrace(&k)
	return k.key
}()

// keyProbe is a context that remembers the key it was last asked a value
// for.
type keyProbe struct {
	context.Context
	key any
}

func (k *keyProbe) Value(key any) any {
	k.key = key
	return nil
}

// wroteHeaders counts a request of an odd attempt written on a connection.
// net/http calls it on another goroutine than the call's once it has
// written the request's headers (over HTTP/1 before it sends them, so
// before the server can answer; over HTTP/2 after, so perhaps after the
// answer has come: see traceAttempt), and again each time it resends the
// request by itself: on a new connection after a kept-alive one died
// under it, or after an HTTP/2 server refused the stream.
func (c *call) wroteHeaders() { c.wrote.Add(1) }

// sent returns how many times the attempt that has just ended sent the
// request to the call's own host: the times net/http wrote it before the
// attempt's first redirect (the requests that follow a redirect are not
// counted), or 1 if it wrote none (the attempt failed before it had a
// connection, or the client's transport does not report writes to
// net/http/httptrace).
func (c *call) sent() int16 {
	n := c.writes().Load()
	if c.hopped {
		n = c.first
	}
	return int16(min(max(1, n), math.MaxInt16))
}

// release gives back the slots the call holds, if it holds any.
func (c *call) release() {
	if c.held {
		c.held = false
		c.f.gates.release(c.h)
	}
}

// moveTo makes host name the call's current host, referencing it, and drops
// the reference to the previous one unless that is the call's own host.
func (c *call) moveTo(name string) {
	if name == c.h.name {
		return
	}
	old := c.h
	if name == c.origin.name {
		c.h = c.origin
	} else {
		c.h = c.f.gates.hosts.get(name)
	}
	if old != c.origin {
		c.f.gates.hosts.put(old)
	}
}

// restart readies the call for a retry, which starts again at its own host:
// it gives back what it holds.
func (c *call) restart() {
	c.release()
	c.moveTo(c.origin.name)
}

// end gives back everything the call holds and ends it.
func (c *call) end() {
	c.restart()
	c.f.exit(c.origin)
}

// sendCheckKey is the context key of a send check: a
// func(*http.Request) error that vets every request of a call made under
// the context that the call sends of its own accord, every redirect and
// every retry, before it waits at that request's gates (see withSendCheck).
type sendCheckKey struct{}

// withSendCheck returns ctx carrying check. A redirect or a retry of a call
// made under the returned context is sent only if check(req), given the
// request, returns nil; otherwise the call fails with an error that wraps
// check's and is not retried. (A first attempt is the caller's to vet: a
// crawl's scheduler does.) check runs on the call's goroutine while the
// call holds no slot (for a redirect, after it has given back its previous
// host's), so it may block, and may make calls of its own through the
// Fetcher; those inherit the check if made under req's context.
func withSendCheck(ctx context.Context, check func(*http.Request) error) context.Context {
	return context.WithValue(ctx, sendCheckKey{}, check)
}

// sendCheck returns the send check of call c's context, if it has one.
func (c *call) sendCheck() func(*http.Request) error {
	check, _ := c.Value(sendCheckKey{}).(func(*http.Request) error)
	return check
}

// redirectPolicy returns the CheckRedirect of the Fetcher's client: policy
// (net/http's default if nil) says whether req may be followed, and hop
// then moves the call to req's host. Before policy, req gets back the
// credentials net/http held back for a host named in another case (see
// restoreSensitive). Before hop, req, made by net/http from a Location,
// is checked as a first request is (see validateURL) and
// requoted (see requote), and its URL and headers are made what RFC 9110
// and a careful client ask (see redirectFixes). When policy returns
// [http.ErrUseLastResponse], the body net/http made for req (from
// GetBody) is closed, as the request is never sent.
func (f *Fetcher) redirectPolicy(policy func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	if policy == nil {
		policy = defaultCheckRedirect
	}
	return func(req *http.Request, via []*http.Request) error {
		restoreSensitive(req, via, f.client.Jar != nil)
		had := f.heldDefaults(req)
		if err := policy(req, via); err != nil {
			if err == http.ErrUseLastResponse && req.Body != nil {
				// Never sent: net/http asked GetBody for it, and hands
				// the response back without closing it.
				req.Body.Close()
			}
			return err
		}
		keepEscapes(req, via)
		if err := validateURL(req.URL); err != nil {
			// Not the caller's URL, which was sent: a refused redirect,
			// as one to another scheme is (see checkRedirect).
			return fmt.Errorf("%w: redirect to %s", ErrTooManyRedirects, strings.TrimPrefix(err.Error(), ErrInvalidURL.Error()+": "))
		}
		requote(req.URL)
		redirectFixes(req, via)
		f.keepDefaults(req, via, had)
		return f.hop(req)
	}
}

// keepEscapes resolves req's Location again, as net/http did, where
// net/http reads it unlike a browser: written as browserRef reads it
// ("///host/p" goes to host, not to a path on the redirecting host; "\"
// is "/"); or with a byte a request-target may not hold (a space, say)
// beside an escape net/http would lose, since it resolves a path it cannot
// keep as written from its decoded form ("/a%2Fb c" became "/a/b%20c",
// another resource).
func keepEscapes(req *http.Request, via []*http.Request) {
	if req.Response == nil || len(via) == 0 {
		return
	}
	prev := via[len(via)-1].URL
	loc := strings.TrimSpace(req.Response.Header.Get("Location"))
	fixed, _ := browserRef(loc, prev.Scheme)
	ref, err := url.Parse(fixed)
	if err != nil || fixed == loc && (ref.RawPath == "" || ref.RawPath == quoteInvalid(ref.RawPath)) {
		return
	}
	requote(ref)
	resolved := req.URL
	req.URL = prev.ResolveReference(ref)
	if !strings.EqualFold(req.URL.Host, resolved.Host) {
		// net/http chose the headers and Host to send for the host it
		// resolved: to another one, send no credentials, and its own Host.
		req.Host = ""
		dropSensitive(req.Header)
	}
}

// sensitiveHeaders are the headers net/http forwards on a redirect only to
// the first request's host or its subdomains, and Proxy-Authorization.
var sensitiveHeaders = []string{"Authorization", "Www-Authenticate", "Cookie", "Cookie2", "Proxy-Authorization"}

// dropSensitive removes the sensitiveHeaders from h under any spelling of
// their names: Header.Del removes the canonical one only, and net/http
// sends "authorization", which a map built by hand or copied from HTTP/2
// may hold, as it is.
func dropSensitive(h http.Header) {
	for k := range h {
		if slices.Contains(sensitiveHeaders, http.CanonicalHeaderKey(k)) {
			delete(h, k)
		}
	}
}

// restoreSensitive puts back on req, a redirect, the sensitive headers of
// the first request in via that net/http held back only because it
// compares host names case by case: when every hop so far, req's
// included, went to the first request's host name or a subdomain of it,
// compared as DNS compares names (EXAMPLE.COM is example.com), req gets
// each of them it lacks. With a cookie jar Cookie is left as net/http made
// it, since the first request then holds the jar's cookies for its own
// URL, and net/http rewrites the caller's ones as redirects set cookies.
func restoreSensitive(req *http.Request, via []*http.Request, jar bool) {
	if len(via) == 0 {
		return
	}
	first := via[0]
	for _, r := range via[1:] {
		if !sameDomain(first.URL, r.URL) {
			return
		}
	}
	if !sameDomain(first.URL, req.URL) {
		return
	}
	for k, vs := range first.Header {
		ck := http.CanonicalHeaderKey(k)
		if !slices.Contains(sensitiveHeaders, ck) || jar && (ck == "Cookie" || ck == "Cookie2") || hasKey(req.Header, ck) {
			continue
		}
		req.Header[k] = slices.Clone(vs)
	}
}

// redirectFixes makes req, a redirect, what RFC 9110 asks where net/http
// does otherwise:
//   - a Location without a fragment inherits the one of the URL it came
//     from (§10.2.2), so that the final URL has it (no fragment is sent);
//   - the Referer net/http sets holds no fragment (§10.1.3), and where
//     it is net/http's own (the first request had none) it is what
//     browsers send by default (see referer): the URL redirected from
//     within its origin, that origin alone to another, so that a token in
//     a query does not go to the host redirected to;
//   - after any hop over https, a request over http carries none of the
//     sensitive headers, in any spelling of their names: net/http
//     forwards them to the same host whatever the scheme, which would send
//     a bearer token or a session cookie in clear text (curl and Python's
//     requests drop them too).
func redirectFixes(req *http.Request, via []*http.Request) {
	if len(via) == 0 {
		return
	}
	if prev := via[len(via)-1].URL; req.URL.Fragment == "" && prev.Fragment != "" {
		req.URL.Fragment, req.URL.RawFragment = prev.Fragment, prev.RawFragment
	}
	if ref := req.Header.Get("Referer"); ref != "" && via[0].Header.Get("Referer") == "" {
		req.Header.Set("Referer", referer(ref, req.URL))
	} else if ref, _, cut := strings.Cut(ref, "#"); cut {
		req.Header.Set("Referer", ref)
	}
	if req.URL.Scheme != "http" || !slices.ContainsFunc(via, func(r *http.Request) bool { return r.URL.Scheme == "https" }) {
		return
	}
	dropSensitive(req.Header)
}

// defaultCheckRedirect is net/http's default redirect policy, whose error
// matches ErrTooManyRedirects.
func defaultCheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return fmt.Errorf("%w: stopped after 10 redirects", ErrTooManyRedirects)
	}
	return nil
}

// hop moves the call that req, a redirect, belongs to from the host that
// redirected it to req's host, as an attempt passes its gates:
//
//  1. it closes the redirect response (net/http would once hop returns),
//     so that its connection is free for the next request to that host;
//  2. it gives back the slots the call holds, before it waits for any, so
//     that hosts redirecting to each other cannot deadlock;
//  3. it runs the context's send check, if any (see withSendCheck);
//  4. it runs the prechecks of req's host's policies (an open circuit
//     breaker refuses at once, sending nothing);
//  5. it waits for req's host's gates (pause, tokens, slot), under req's
//     context: the caller's, bounded by the attempt's timeout, and by the
//     client's Timeout from the attempt's start.
//
// A refusal at step 3, 4 or 5 fails the hop with a *hopError, and the call
// then holds no slot.
func (f *Fetcher) hop(req *http.Request) error {
	ctx := req.Context()
	c, ok := ctx.Value(callKey{}).(*call)
	if !ok {
		return nil
	}
	if prev := req.Response; prev != nil {
		drainBody(prev)
		prev.Body = http.NoBody // net/http closes it again
	}
	if !c.hopped {
		c.hopped, c.first = true, c.writes().Load()
	}
	if sent := cmp.Or(c.last.sentAt, c.last.start); req.Response != nil {
		var took time.Duration
		if sent != 0 {
			took = sent.since()
		}
		c.h.redirected(took)
	}
	c.release()
	if check := c.sendCheck(); check != nil {
		if err := check(req); err != nil {
			return &hopError{url: req.URL.Redacted(), err: err, final: true}
		}
	}
	c.moveTo(hostKey(req.URL))
	for _, p := range c.h.policies { // an open circuit breaker refuses at once
		if err := p.precheck(c); err != nil {
			return &hopError{url: req.URL.Redacted(), err: err, final: true}
		}
	}
	if t := f.client.Timeout; t > 0 && c.last.start != 0 {
		// The client's Timeout bounds the attempt, redirects included, but
		// net/http keeps its deadline in no context the gates see.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, c.last.start.time().Add(t))
		defer cancel()
	}
	if c.watch != nil {
		c.watch.atGates(true)
		defer c.watch.atGates(false)
	}
	if err := f.pass(ctx, c.h); err != nil {
		return f.hopRefused(c, ctx, req, err)
	}
	c.held = true
	c.last.sentAt = monoNow() // what h answers is about its pace from now
	if c.h != c.origin {
		// The host's policies admit the hop as they admit an attempt:
		// its circuit breaker counts what the host answers, and a
		// half-open breaker's probes include hops.
		for _, p := range c.h.policies {
			if err := p.admit(c); err != nil {
				return &hopError{url: req.URL.Redacted(), err: err, final: true}
			}
		}
	}
	return nil
}

// hopRefused returns the error for a hop to req whose gates refused it with
// err while it waited under ctx. The wait ran out of the attempt's time, not
// the caller's, if ctx's deadline is the attempt's; the hop may then be
// retried, as an attempt that timed out is. Every other refusal ends the
// call, as a first attempt's refusal does.
func (f *Fetcher) hopRefused(c *call, ctx context.Context, req *http.Request, err error) error {
	e := &hopError{url: req.URL.Redacted(), err: err, final: true}
	if c.Context.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		return e
	}
	attempt, ok := ctx.Deadline()
	if caller, bounded := c.Context.Deadline(); !ok || (bounded && !attempt.Before(caller)) {
		return e // the caller's deadline: waiting again cannot help
	}
	e.final = false
	if ctx.Err() == nil {
		// A rate limiter refused at once a wait past the attempt's
		// deadline; attemptError sees only deadlines that have passed.
		return &attemptTimeoutError{after: f.attemptTimeout, err: e}
	}
	return e
}

// hopError is a redirect that a call could not follow: the redirect check
// refused it, or its host's gates did not let it through in time.
type hopError struct {
	url   string // the redirect's URL, redacted
	err   error
	final bool // not worth retrying
}

func (e *hopError) Error() string { return "redirect to " + e.url + ": " + e.err.Error() }
func (e *hopError) Unwrap() error { return e.err }

// hopFailed reports whether err is, or wraps, a hop that failed; final
// reports whether it must end the call.
func hopFailed(err error) (failed, final bool) {
	e, ok := errors.AsType[*hopError](err)
	return ok, ok && e.final
}
