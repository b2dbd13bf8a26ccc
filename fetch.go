package fetch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A Fetcher sends HTTP requests through a rate limiter, an in-flight cap and
// a retry policy, globally and per host, over one shared [http.Client].
//
// A Fetcher is configured once, by [New]: the zero Fetcher, unlike the zero
// [http.Client], is not usable, and its methods panic. A Fetcher is safe
// for concurrent use by any number of goroutines; share one per process (or
// per upstream) rather than making one per request, so that its limits and
// connection pool are shared too.
type Fetcher struct {
	client          *http.Client
	ownTransport    *http.Transport // the transport of the client New built (nil with WithClient): Shutdown closes its idle connections
	jarless         *http.Client    // client without its Jar, for the calls sent without the Fetcher's credentials (a crawl's robots.txt: see handOff); nil if client has none
	hostConcurrency int             // 0: no per-host cap
	headerCap       headerCap
	readAhead       int // inputs the many-request calls queue ahead
	gates           gates
	retry           RetryPolicy
	attemptTimeout  time.Duration
	maxBody         int64
	logger          *slog.Logger                                      // nil: silent
	hooks           Hooks                                             // OnCall aside: see onCall
	onCall          []func(context.Context, CallInfo) context.Context // every WithHooks's OnCall, in order
	header          http.Header                                       // added to every request that does not set the key itself
	private         []string                                          // header's keys that may be credentials (see privateDefaults)
	hostHeader      string                                            // sent as the Host of every request whose Host is its URL's; "": none
	token           func(context.Context) (string, error)             // WithBearerTokenFunc's: the Authorization default's value, per attempt
	authBit         uint64                                            // Authorization's bit among the private defaults (see applyDefaults)
	timed           bool                                              // somebody reads attempts' times: a hook, or the adaptive rate
	stayPut         bool                                              // WithFollowRedirects(false): a redirect response is final unless the request's FollowRedirects says otherwise
	noHostPause     bool                                              // WithHostPause(false): a Retry-After is the call's alone
	stats           counters

	// Shutdown: calls register in active; once closed is set, the call that
	// brings active to zero closes drained.
	active    atomic.Int64
	closed    atomic.Bool
	closing   chan struct{}      // closed when closed is set, to wake schedulers
	shut      context.CancelFunc // ends gates.shut, with closing
	closeOnce sync.Once
	drained   chan struct{}
	drainOnce sync.Once
}

// clientAdvice says, for each option that configures the client New
// builds, how to get its effect on a client given with WithClient.
var clientAdvice = map[string]string{
	"WithMaxHeaderSize":    "set its transport's MaxResponseHeaderBytes",
	"WithMaxRedirects":     "set the client's CheckRedirect",
	"WithTransportWrapper": "wrap the client's Transport yourself",
	"WithCookieJar":        "set the client's Jar",
	"WithProxy":            "set its transport's Proxy",
	proxyAuthOption:        "set its transport's ProxyConnectHeader, or give the user and password in the proxy's URL",
}

// New returns a Fetcher configured by opts, or an error naming the first
// option whose value is out of range (or that is nil).
//
// Unless [WithClient] supplies one, the Fetcher builds its own client on a
// clone of [http.DefaultTransport], keeping as many idle connections per
// host as requests it lets in flight to one host, so that connections are
// reused rather than churned, and reading each connection through a 32 KiB
// buffer, so that a response of a few KiB takes one read.
func New(opts ...Option) (*Fetcher, error) {
	c := defaultConfig()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("fetch: New: option %d of %d is nil", i+1, len(opts))
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	f := &Fetcher{
		client:          c.client,
		retry:           c.retry,
		attemptTimeout:  c.attemptTimeout,
		maxBody:         c.maxBody,
		logger:          c.logger,
		hooks:           joinHooks(c.hooks),
		onCall:          callHooks(c.hooks),
		header:          c.header,
		hostHeader:      c.host,
		stayPut:         c.stayPut,
		noHostPause:     c.noHostPause,
		token:           c.token,
		drained:         make(chan struct{}),
		closing:         make(chan struct{}),
		hostConcurrency: c.hostConcurrency,
		readAhead:       cmp.Or(c.readAhead, max(DefaultReadAhead, 16*c.concurrency)),
		gates:           gates{rate: gateOf(c.limiter), slots: newSlots(c.concurrency)},
	}
	f.private = privateDefaults(c.header)
	if i, ok := slices.BinarySearch(f.private, "Authorization"); ok {
		f.authBit = 1 << min(i, 63)
	}
	f.gates.closing = f.closing
	f.gates.shut, f.shut = context.WithCancel(context.Background())
	if f.client == nil {
		if c.guard && c.proxy != nil {
			return nil, errors.New("fetch: WithProxy cannot be combined with WithBlockPrivateAddresses: the guard cannot check the address a proxy connects to, so it would refuse every request sent through the proxy")
		}
		f.client, f.ownTransport = newClient(c)
		if f.client.Transport == nil {
			// net/http would send through http.DefaultTransport, out of
			// the SSRF guard's sight and without the header cap.
			return nil, errors.New("fetch: WithTransportWrapper: wrap returned a nil RoundTripper")
		}
		f.headerCap = newHeaderCap(int64(c.maxHeader))
	} else if c.guard {
		return nil, errors.New("fetch: WithBlockPrivateAddresses needs the client New builds; it cannot be combined with WithClient")
	} else if c.tls != nil {
		return nil, errors.New("fetch: WithTLSConfig configures the client New builds; it cannot be combined with WithClient (set TLSClientConfig on its transport)")
	} else if len(c.clientOptions) > 0 {
		return nil, fmt.Errorf("fetch: %s configures the client New builds; it cannot be combined with WithClient (%s)", c.clientOptions[0], clientAdvice[c.clientOptions[0]])
	} else {
		client := *c.client // the caller's stays as it is
		f.client = &client
	}
	if c.stallTimeout > 0 {
		f.client.Transport = stallTimeout(f.client.Transport, c.stallTimeout)
	}
	if c.bandwidth > 0 {
		// Outside the stall watch: a wait for bandwidth is no stall.
		f.client.Transport = capBandwidth(f.client.Transport, c.bandwidth)
	}
	f.client.Transport = stayTransport{next: f.client.Transport, f: f}
	f.client.CheckRedirect = f.redirectPolicy(f.client.CheckRedirect)
	if f.client.Jar != nil {
		jarless := *f.client
		jarless.Jar = nil
		f.jarless = &jarless
	}
	f.gates.hosts = newHostTable(c.hostLimiter, c.hostConcurrency, c.adaptive, c.policies())
	f.gates.hosts.jitter = c.hostJitter
	if c.hostJitter > 0 {
		f.gates.hosts.jitterRate = c.hostRate
	}
	f.timed = c.adaptive != nil || f.hooks.OnAttempt != nil || f.hooks.OnDone != nil
	return f, nil
}

// Do sends req through the Fetcher's gates and retry policy and returns the
// final response, as [http.Client.Do] does: a non-2xx status is not an
// error, and on error any response is closed.
//
// req's context governs the whole call: waiting for a rate token or a slot,
// every attempt, and every wait between attempts. A request whose context
// ends while it waits never reaches the network.
//
// Redirects are followed as net/http follows them, unless
// [WithFollowRedirects] or [FollowRedirects] says not to (Do then returns
// the 3xx), and each one passes the gates of the host it goes to, as an
// attempt does: the call gives back the slot it holds, then waits for that
// host's Retry-After pause, rate tokens and slot, and the global ones. A
// redirect that cannot pass them before req's context or the attempt's
// timeout ends fails the call with an error that names it and matches
// [context.DeadlineExceeded] (and [ErrAttemptTimeout] if the attempt's
// timeout ran out; the call may then be retried). A Retry-After or an adaptive rate's signal applies to the
// host that answered; a retry starts again at req's URL.
//
// The caller must close the response body. Until it is closed or read to
// EOF, the request keeps its in-flight slot, global and per host (of the
// host that answered), and Shutdown waits for it; but no longer than req's
// context lasts. When that ends first the attempt is over (net/http then
// ends the body's connection, and a read of it fails): the slot is given
// back as if the body were closed, and closing it later gives back
// nothing more. So a body left open holds its slot until req's context
// ends, and for ever if that context never ends (an attempt timeout
// running out ends the body's reads, not its hold): close it. The body of
// a 101 Switching Protocols response is the connection, an
// [io.ReadWriteCloser] as net/http documents, which outlives the
// request's context as in net/http, and keeps its slot, and any attempt
// timeout, until closed. As with [http.Client.Do], req's body, if any, is
// closed whatever happens, even when the request is never sent; so is the
// body of every request given to [Fetcher.DoAll] or
// [Fetcher.StreamRequests], including those a cancellation or an early
// break leaves unsent.
//
// A returned error is an [*Error], which wraps the last cause and says how
// many requests req's host was sent, counted as [Result.Attempts] counts
// them: net/http's own resends on a new connection included, the requests
// that follow a redirect not.
func (f *Fetcher) Do(req *http.Request) (*http.Response, error) {
	resp, _, err := f.do(req, nil, handOff{})
	return resp, err
}

// do is the one path every request takes. It reads top to bottom:
//
//  1. begin: validate req and register the call (refused after Shutdown);
//  2. admit: the host's policies (circuit breaker, Retry-After pause), then
//     its rate and in-flight gates, then the global ones; a call handed
//     over by a scheduler holds them already for its first attempt;
//  3. attempt: one attempt, under its own timeout if one is set; each
//     redirect moves the call to its host's gates (see hop);
//  4. decide: done, retry after a delay, or fail; when the response is
//     final and the call reads bodies (consume), read it still inside the
//     attempt, under its timeout, and decide again if that fails;
//  5. observe: the one place that tells stats, the logger, the hooks and
//     the host's policies what became of the attempt; a retry a policy
//     would now refuse when due (the breaker this attempt opened) fails
//     here;
//  6. on retry: drain and close the body, give back the slot, wait out the
//     delay, and go round again.
//
// consume, if not nil, reads the final response's body inside the attempt
// (so its timeout and retry cover the body too) and must close it; without
// it the returned body keeps the slot until the caller closes it. do returns
// the number of requests sent to req's host, counted as [Error.Attempts]
// documents (see call.sent).
func (f *Fetcher) do(req *http.Request, consume func(*http.Response) error, from handOff) (*http.Response, int, error) {
	c, err := f.begin(req, from)
	if err != nil {
		return nil, 0, err
	}
	c.reads = consume != nil
	for n := 1; ; n++ {
		if err := f.admit(c); err != nil {
			return f.finish(c, nil, fail(err))
		}
		o := f.attempt(c, n)
		d := f.decide(c, o, n)
		if consume != nil && !d.retry && d.err == nil && o.err == nil && f.read(c, o, consume) {
			d = f.decide(c, o, n) // the body failed: retry, or fail
		}
		d = f.observe(c, o, d)
		if !d.retry {
			return f.finish(c, o, d)
		}
		if err := o.discardForRetry(); err != nil {
			return f.finish(c, nil, fail(err))
		}
		c.restart()
		f.stats.waiting.Add(1)
		err := sleepOrClose(c, f.closing, d.delay)
		f.stats.waiting.Add(-1)
		if err != nil {
			// Say what was being retried: the caller's log of a call
			// cancelled (or shut down) mid-backoff names the host's failure.
			return f.finish(c, nil, fail(fmt.Errorf("waiting %v to retry after %s: %w", rounded(d.delay), o.failure(), err)))
		}
	}
}

// begin validates req and starts its call on req's host (or on held: the
// host whose gates a scheduler passed for req, which the call then holds,
// having been registered by the scheduler with enter).
func (f *Fetcher) begin(req *http.Request, from handOff) (*call, error) {
	held := from.held
	err := validate(req)
	switch {
	case held != nil && err != nil:
		f.gates.release(held) // the slots the scheduler took for req
		f.exit(nil)
	case held == nil && err == nil && !f.enter():
		err = ErrClosed
	}
	if err != nil {
		if perr := closeUnsent(req); perr != nil {
			err = errors.Join(err, perr)
		}
		return nil, f.refuse(req, err)
	}
	h := held
	if held != nil {
		// The scheduler's queue holds a reference to held, so the table
		// cannot forget it: raising the count needs no lock.
		held.refs.Add(1)
	} else {
		h = f.host(req)
	}
	c := f.newCall(req, h, held != nil)
	c.watch = from.watch
	if from.jarless {
		c.flags.Or(jarless)
	}
	return c, nil
}

// finish ends call c with decision d about its last attempt's outcome o
// (nil if the call ends before or between attempts), and gives up what the
// call holds: everything, unless the response body is handed back unread,
// in which case the body keeps the slot, the hosts and the attempt's
// timeout until it is closed. A call that reads bodies and fails after a
// response came (a non-2xx status, a body cut short, a retry refused)
// returns the response, its body closed, with the error, so that its
// status, header and URL say what failed. A call that gives up everything
// here leaves the Fetcher (Shutdown waits for it) only once OnDone has run.
func (f *Fetcher) finish(c *call, o *outcome, d decision) (*http.Response, int, error) {
	var resp *http.Response
	if o != nil {
		resp = o.resp
	}
	err := d.err
	counted := f.stats.count(resp, err, int(c.attempts))
	ended := true // the call gives up everything now, not when its body is closed
	switch {
	case err != nil:
		if o != nil {
			if perr := o.discard(); perr != nil {
				err = errors.Join(err, perr)
			}
		}
		if c.n == 0 { // no attempt: the transport, which closes it, never had it
			if perr := closeUnsent(c.req); perr != nil {
				err = errors.Join(err, perr)
			}
		}
		c.restart()
		err = f.fail(c.caller, int(c.attempts), err)
		if !c.reads {
			resp = nil // Do: no response with an error (net/http's CheckRedirect case aside, as http.Client.Do documents)
		}
	case o.read:
		o.cancel()
		c.restart()
	default:
		ended = false
		c.body.rc, c.body.c, c.body.cancel = resp.Body, c, o.cancel
		if w, ok := c.body.rc.(io.Writer); ok && resp.StatusCode == http.StatusSwitchingProtocols {
			resp.Body = writableBody{&c.body, w} // the upgraded connection: writable, as net/http gives it
		} else {
			resp.Body = &c.body
		}
	}
	if herr := f.done(c, resp, err); herr != nil {
		// A panic in OnDone fails the call; it never vanishes.
		if err == nil {
			counted.Add(-1) // counted as it ended, before OnDone: now a failure
			f.stats.other.Add(1)
			if !c.reads {
				closeBody(resp)
				resp = nil
			}
			err = f.fail(c.caller, int(c.attempts), herr)
		} else if e, ok := err.(*Error); ok {
			e.Err = errors.Join(e.Err, herr)
		}
	}
	if ended {
		f.exit(c.origin)
	} else if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		// Once OnDone is done with the call: the watch may end it at once.
		// An upgraded connection outlives the request's context, as in
		// net/http, and keeps its slot until closed.
		c.body.watch(c.Context)
	}
	return resp, int(c.attempts), err
}
