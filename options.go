package fetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"golang.org/x/time/rate"
)

// Defaults used by [New] for what no option sets.
const (
	DefaultConcurrency  = 64
	DefaultMaxBodySize  = 10 << 20 // 10 MiB
	DefaultMaxRedirects = 10

	// DefaultMaxHeaderSize is 1 MiB: a tenth of net/http's 10 MiB, so that
	// the heads of the responses in flight take at most that much each,
	// and four times the 256 KiB that Chrome accepts, so that no site that
	// works in a browser is refused.
	DefaultMaxHeaderSize = 1 << 20
)

// MaxConcurrency is the most requests [WithConcurrency] lets a Fetcher have
// in flight: the batch and streaming calls run a worker for each, so that
// a larger number costs memory before anything is sent.
const MaxConcurrency = 1 << 16

// An Option configures a [Fetcher] at construction. Options are applied in
// order; an option given a value out of range makes [New] fail with an error
// that names it.
type Option func(*config) error

type config struct {
	client          *http.Client // nil: build one tuned to the concurrency
	concurrency     int
	hostConcurrency int // 0: no per-host cap
	readAhead       int // 0: the default for the concurrency
	limiter         Limiter
	hostLimiter     func(host string) Limiter
	hostRate        rate.Limit                            // WithHostRate's finite rate, which hostLimiter's buckets pace at; 0: none, or WithHostLimiter's
	hostJitter      float64                               // WithHostRateJitter's; 0: none
	adaptive        *AdaptiveRate                         // nil: no adaptive throttling
	budget          *RetryBudget                          // nil: no retry budget
	breaker         *CircuitBreaker                       // nil: no circuit breaker
	header          http.Header                           // default headers; nil: none
	token           func(context.Context) (string, error) // WithBearerTokenFunc's; its header holds a placeholder
	host            string                                // the default Host (WithHeader("Host", ...)); "": the URL's
	tls             *tls.Config                           // nil: net/http's default
	jar             http.CookieJar                        // WithCookieJar's; nil: no cookies kept
	proxy           func(*http.Request) (*url.URL, error) // WithProxy's; nil: the environment's proxies
	retry           RetryPolicy
	attemptTimeout  time.Duration
	stallTimeout    time.Duration
	bandwidth       int64 // WithBandwidth's bytes per second; 0: no cap
	maxBody         int64
	maxHeader       int64
	maxRedirects    int
	stayPut         bool                                        // WithFollowRedirects(false)
	noHostPause     bool                                        // WithHostPause(false)
	clientOptions   []string                                    // options given that configure the client New builds, by name
	proxyAuth       string                                      // WithHeader's Proxy-Authorization, for proxies alone
	wrapTransport   []func(http.RoundTripper) http.RoundTripper // in the order given
	logger          *slog.Logger
	hooks           []Hooks        // WithHooks's, in the order given
	guard           bool           // refuse non-public addresses at dial time
	allow           []netip.Prefix // exceptions to the guard

	// wrapDial, set only by tests, wraps the dialer of the client New
	// builds, to count the connections it makes.
	wrapDial func(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error)
}

// policies returns the makers of each new host's chain of policies, after
// its adaptive rate (see hostTable): one for each option that asks for one.
func (c *config) policies() []func() policy {
	var ps []func() policy
	if b := c.budget; b != nil {
		ps = append(ps, func() policy { return newRetryBudget(b) })
	}
	if b := c.breaker; b != nil {
		ps = append(ps, func() policy { return newBreaker(b) })
	}
	return ps
}

func defaultConfig() config {
	return config{
		concurrency:  DefaultConcurrency,
		retry:        DefaultRetryPolicy(),
		maxBody:      DefaultMaxBodySize,
		maxHeader:    DefaultMaxHeaderSize,
		maxRedirects: DefaultMaxRedirects,
	}
}

// PerSecond returns a rate of n events per second, for [WithRate], which
// refuses a NaN, zero or negative rate and takes +Inf as no limit.
func PerSecond(n float64) rate.Limit { return rate.Limit(n) }

// PerMinute returns a rate of n events per minute, for [WithRate] (see
// [PerSecond]).
func PerMinute(n float64) rate.Limit { return rate.Limit(n / 60) }

// WithConcurrency caps the number of requests in flight at n (default
// [DefaultConcurrency]), at most [MaxConcurrency]. A request holds its
// slot from the moment it takes it, before its rate token (so that
// requests queued behind held slots do not bank tokens), until its
// response body is closed or read to EOF; it is in flight, as
// [Stats.InFlight] counts it, once it has its token too. The streaming and
// batch calls run n workers.
func WithConcurrency(n int) Option {
	return func(c *config) error {
		if n < 1 || n > MaxConcurrency {
			return fmt.Errorf("fetch: WithConcurrency(%d): must be between 1 and %d", n, MaxConcurrency)
		}
		c.concurrency = n
		return nil
	}
}

// WithReadAhead sets how many inputs the batch, streaming and crawl calls
// may read ahead of the requests in flight, into a queue per host, so that
// requests to a host that can take them overtake those waiting for a busy
// one (default: [DefaultReadAhead] or 16 times the concurrency, whichever
// is larger). They read that far only while workers are idle because no
// queued request's host can take it; otherwise they keep a buffer of up to
// twice the concurrency. A queued input costs its request's memory, not a
// goroutine. When the read-ahead is full of one host's requests, reading
// pauses: a long run of one host's URLs at the front of the input limits
// what can overtake it.
func WithReadAhead(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("fetch: WithReadAhead(%d): must be at least 1", n)
		}
		c.readAhead = n
		return nil
	}
}

// WithHostConcurrency caps the requests in flight to any one host (the URL's
// host[:port], lower-cased, without the scheme's default port) at n. By default there is no per-host cap beyond the global one.
func WithHostConcurrency(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("fetch: WithHostConcurrency(%d): must be at least 1", n)
		}
		c.hostConcurrency = n
		return nil
	}
}

// WithRate limits attempts to r per second overall, with bursts of up to
// burst, using a token bucket ([rate.Limiter]) that starts full. Every
// attempt, retries included, takes a token. Use [PerMinute] for a
// requests-per-minute quota; [rate.Inf] (or +Inf) removes the limit; a
// rate that is NaN, zero or negative is refused. WithRate and [WithLimiter]
// set the same gate: the last one given counts.
//
// A bucket with a burst of 1 holds one token at a time. The batch,
// streaming and crawl calls take each token as of the time it was due,
// even when the worker that takes it wakes late, so that r is delivered
// in full at hundreds a second; but at thousands a second, where coming
// back for the next token takes longer than the interval, the rate
// delivered falls short of r (on a busy 2-core machine, about 1,500 a
// second at r = 2,000 or 4,000). A burst of a few milliseconds' worth of
// tokens (r/200, say) absorbs that; the same holds for [WithHostRate].
func WithRate(r rate.Limit, burst int) Option {
	return func(c *config) error {
		if err := checkRate("WithRate", r, burst); err != nil {
			return err
		}
		c.limiter = nil
		if r < rate.Inf {
			c.limiter = rate.NewLimiter(r, burst)
		}
		return nil
	}
}

// WithHostRate limits attempts to each host to r per second with bursts of up
// to burst, with one token bucket per host. Buckets of hosts that have gone
// idle (bucket full, nothing in flight) may be dropped as new hosts come (a
// dropped bucket was full, as a new one is), so the per-host state stays
// bounded however many hosts pass through. It takes the rates [WithRate]
// takes. WithHostRate and [WithHostLimiter] set the same gate: the last
// one given counts. [WithHostRateJitter] varies each wait at random
// around the rate's interval.
func WithHostRate(r rate.Limit, burst int) Option {
	return func(c *config) error {
		if err := checkRate("WithHostRate", r, burst); err != nil {
			return err
		}
		c.hostLimiter, c.hostRate = nil, 0
		if r < rate.Inf {
			c.hostLimiter = func(string) Limiter { return rate.NewLimiter(r, burst) }
			c.hostRate = r
		}
		return nil
	}
}

// checkRate refuses a rate WithRate or WithHostRate cannot pace with: NaN,
// or not positive. A rate of rate.Inf or more (math.Inf(1)) is no limit.
func checkRate(name string, r rate.Limit, burst int) error {
	if r >= rate.Inf {
		return nil
	}
	if !(r > 0) {
		return fmt.Errorf("fetch: %s(%v, %d): rate must be positive (use rate.Inf for no limit)", name, r, burst)
	}
	if burst < 1 {
		return fmt.Errorf("fetch: %s(%v, %d): burst must be at least 1 for a finite rate", name, r, burst)
	}
	return nil
}

// WithLimiter sets the global rate gate to l, in place of the token bucket
// [WithRate] makes; use it to share a limit between processes. l.Wait is
// called once per attempt. The last of WithLimiter and WithRate given
// counts. A nil l, or a nil [*rate.Limiter], is an error: for no limit,
// use WithRate(rate.Inf, 0).
func WithLimiter(l Limiter) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("fetch: WithLimiter(nil)")
		}
		if l, ok := l.(*rate.Limiter); ok && l == nil {
			return errors.New("fetch: WithLimiter((*rate.Limiter)(nil)): use WithRate(rate.Inf, 0) for no limit")
		}
		c.limiter = l
		return nil
	}
}

// WithAdaptiveRate turns on adaptive throttling per host (off by default):
// each host gets its own rate, starting at a.Initial, raised while the host
// answers and cut when it signals overload (a 429, a 503 with Retry-After,
// a 403 that is a rate limit, an attempt that times out), within
// a.Floor and a.Ceiling (see [AdaptiveRate]). Use it against servers whose
// limit you do not know; it applies on top of any fixed rate, global or per
// host. The current rate of each host is in [Fetcher.Stats] and
// [AttemptInfo].
func WithAdaptiveRate(a AdaptiveRate) Option {
	return func(c *config) error {
		if err := a.check(); err != nil {
			return err
		}
		c.adaptive = &a
		return nil
	}
}

// WithRetryBudget caps the retries to each host at a share of the calls
// made to it (see [RetryBudget]; zero fields take [DefaultRetryBudget]'s
// values). Off by default: retries are then bounded only per call, by the
// [RetryPolicy].
func WithRetryBudget(b RetryBudget) Option {
	return func(c *config) error {
		b, err := b.withDefaults()
		if err != nil {
			return err
		}
		c.budget = &b
		return nil
	}
}

// WithHostLimiter sets the per-host rate gate: newLimiter is called with a
// host the first time it is seen (and again after its state was dropped for
// idleness), and the Limiter it returns gates every attempt to that host.
// newLimiter may return nil (or a nil *rate.Limiter) for a host that needs
// no rate gate. A Limiter other than a [*rate.Limiter] may be dropped once
// its host has nothing in flight, when new hosts come (the Fetcher forgets
// idle hosts to stay small), and newLimiter asked again at the host's next
// request; so it should keep its state elsewhere, as a shared Limiter
// does. The last of WithHostLimiter and [WithHostRate] given counts.
// [WithHostRateJitter] leaves its limiters as they are.
func WithHostLimiter(newLimiter func(host string) Limiter) Option {
	return func(c *config) error {
		if newLimiter == nil {
			return errors.New("fetch: WithHostLimiter(nil)")
		}
		c.hostLimiter, c.hostRate = newLimiter, 0
		return nil
	}
}

// WithHostPause(false) keeps a Retry-After to the call that got it: that
// call's retry still waits as the response asked (see [RetryPolicy]), but
// the host is not paused, and no ramp paces it afterwards, so the other
// calls to it go on. So does a rate limit told by headers (see
// [DefaultRetryable]). It is for an API whose limits are per credential
// or per endpoint, not per host: one tenant's 429 must not hold up the
// others, nor a spent search quota every other endpoint. The default, and
// WithHostPause(true), pauses every request to the host, as "Retry-After"
// in the package documentation says: what a polite crawler wants.
// [WithAdaptiveRate], if set, still takes in the overload.
func WithHostPause(pause bool) Option {
	return func(c *config) error {
		c.noHostPause = !pause
		return nil
	}
}

// WithRetry sets the retry policy (default [DefaultRetryPolicy]). Zero fields
// of p take their default values; MaxAttempts 1 turns retries off.
func WithRetry(p RetryPolicy) Option {
	return func(c *config) error {
		p, err := p.withDefaults()
		if err != nil {
			return err
		}
		c.retry = p
		return nil
	}
}

// WithAttemptTimeout bounds each attempt, from sending the request until its
// response body is closed, to d. The caller's context deadline bounds the
// whole call, retries included. An attempt that runs out of time is retried
// and its error matches [ErrAttemptTimeout]. By default there is no
// per-attempt timeout.
func WithAttemptTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("fetch: WithAttemptTimeout(%v): must be positive", d)
		}
		c.attemptTimeout = d
		return nil
	}
}

// WithMaxBodySize caps the bodies that the Fetcher reads for you (the batch,
// streaming and convenience calls), and those it hands a [Handle] handler,
// at n bytes (default [DefaultMaxBodySize]); a longer body is an
// [ErrBodyTooLarge] error; -1 lifts the cap, as it does for [MaxBodySize],
// which sets one call's cap. [Fetcher.Do] leaves the body to the caller and
// does not cap it. 0 and other negative values are refused.
func WithMaxBodySize(n int64) Option {
	return func(c *config) error {
		if n < 1 && n != -1 {
			return fmt.Errorf("fetch: WithMaxBodySize(%d): must be at least 1, or -1 for no cap", n)
		}
		if n < 0 || n > math.MaxInt64-1 {
			n = math.MaxInt64 - 1 // the readers look one byte past the cap
		}
		c.maxBody = n
		return nil
	}
}

// WithMaxHeaderSize caps the head of each response, its status line and
// header fields together (and those of any 1xx responses before it), at n
// bytes (default [DefaultMaxHeaderSize]). Over HTTP/1.x a longer head fails
// the attempt with [ErrHeaderTooLarge], which is not retried. Over HTTP/2
// net/http sends the cap to the server as SETTINGS_MAX_HEADER_LIST_SIZE and
// enforces it on the decoded fields, but reports a head over it as an
// HTTP/2 error that does not say why (usually a connection error,
// PROTOCOL_ERROR or COMPRESSION_ERROR), so that it does not match
// [ErrHeaderTooLarge]. It configures the client New builds: [New] refuses
// it together with [WithClient], whose transport's MaxResponseHeaderBytes
// is the caller's.
func WithMaxHeaderSize(n int64) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("fetch: WithMaxHeaderSize(%d): must be at least 1", n)
		}
		c.maxHeader = n
		c.clientOptions = append(c.clientOptions, "WithMaxHeaderSize")
		return nil
	}
}

// WithMaxRedirects sets how many redirects a request may follow (default
// [DefaultMaxRedirects]; 0 follows none) before failing with
// [ErrTooManyRedirects]; to get a redirect response itself, see
// [WithFollowRedirects]. It configures the client New builds: [New]
// refuses it together with [WithClient], whose CheckRedirect is the
// caller's. Either way, every redirect
// followed passes the gates of the host it goes to (see [Fetcher.Do]).
func WithMaxRedirects(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("fetch: WithMaxRedirects(%d): must not be negative", n)
		}
		c.maxRedirects = n
		c.clientOptions = append(c.clientOptions, "WithMaxRedirects")
		return nil
	}
}

// WithFollowRedirects(false) makes a redirect response the final
// response, as [http.ErrUseLastResponse] does in net/http, instead of
// following its Location: [Fetcher.Do] returns the 3xx, and the calls
// that read bodies for you fail the request with a [*StatusError] whose
// Header holds the Location (and Result.Header too), as for any status
// other than 2xx. Unlike net/http, it hands back a Location that is not a
// valid URL as it came, and does not ask a 307's or 308's request for its
// body again (GetBody). A link checker or a crawler that schedules each
// redirect's target as a URL of its own wants this. The default, and
// WithFollowRedirects(true), follows redirects, up to [WithMaxRedirects].
// A call may choose otherwise for its own requests with
// [FollowRedirects]. It works with [WithClient] too, whose CheckRedirect
// is then not asked.
func WithFollowRedirects(follow bool) Option {
	return func(c *config) error {
		c.stayPut = !follow
		return nil
	}
}

// WithCookieJar makes the client New builds keep cookies in jar, as an
// [http.Client] with that Jar does: the cookies a response sets, redirect
// responses and responses that are retried included, are stored in jar,
// and every later request through the Fetcher (every attempt, every
// redirect) is sent with the cookies jar returns for its URL. A login
// followed by the requests that need its session cookie is the usual use;
// jar is typically a [net/http/cookiejar.Jar], with a public suffix list
// if the Fetcher may be sent to hosts you do not know. jar must be safe
// for concurrent use, as cookiejar's is: the Fetcher sends many requests
// at once.
//
// The jar's own rules (each cookie's domain, path, Secure and expiry)
// decide which of its cookies a request carries, a redirect's included:
// to another domain, the cookies the jar holds for that domain go, and a
// Secure cookie never goes over http. Each attempt, a retry included,
// sends the jar's cookies once, as they are when it is sent. A Cookie
// header given with [WithHeader], or set by the request itself, is sent as
// well, with the jar's cookies added after it; the default one keeps
// WithHeader's rule for a credential (not sent on a redirect to another
// domain), which the jar's cookies do not follow. A crawl's robots.txt
// requests neither send the jar's cookies nor store those their responses
// set (see [NewCrawler]).
//
// nil is an error. It configures the client New builds: [New] refuses it
// together with [WithClient]; set that client's Jar instead.
func WithCookieJar(jar http.CookieJar) Option {
	return func(c *config) error {
		if jar == nil {
			return errors.New("fetch: WithCookieJar(nil)")
		}
		c.jar = jar
		c.clientOptions = append(c.clientOptions, "WithCookieJar")
		return nil
	}
}

// WithProxy sends every request of the client New builds, every attempt
// and every redirect, through the proxy that proxy returns for it, as
// [http.Transport.Proxy] does: a nil URL sends the request direct, and an
// error fails the attempt with that error. A proxy URL's scheme is http,
// https, socks5 or socks5h; its user and password, if any, are sent to the
// proxy as its credentials (Proxy-Authorization), as is a
// Proxy-Authorization given with [WithHeader] (see there). By default the client
// New builds uses the proxies the environment names (HTTP_PROXY,
// HTTPS_PROXY and NO_PROXY, read as [http.ProxyFromEnvironment] reads
// them), as [http.DefaultTransport] does. The usual forms:
//
//	fetch.WithProxy(http.ProxyURL(u)) // one proxy for every request
//	fetch.WithProxy(func(r *http.Request) (*url.URL, error) {
//		return proxies[rand.IntN(len(proxies))], nil // rotating proxies
//	})
//	fetch.WithProxy(func(*http.Request) (*url.URL, error) {
//		return nil, nil // direct, whatever HTTP_PROXY and HTTPS_PROXY say
//	})
//
// proxy is called by net/http for every request it sends, on many
// goroutines at once: it must be safe for concurrent use.
//
// The Fetcher's per-host gates (rates, in-flight caps, Retry-After pauses,
// adaptive rates, circuit breakers) stay keyed by each request's target
// host, not by the proxy: the requests to many hosts through one proxy
// are not limited as one host's, and a rotating proxy does not reset a
// host's limits. [WithConcurrency] and [WithRate] bound what reaches the
// proxy itself. Through an http or https proxy, net/http pools the
// connections of every http:// target as the proxy's: the client New
// builds then caps its connections per pool at the concurrency rather
// than at [WithHostConcurrency]'s cap, which would otherwise cap all those
// targets together.
//
// A proxy's password appears in no error or log line of the Fetcher's:
// net/http names a proxy it could not reach by its address only, and the
// guard's refusal (below) names it redacted. An error proxy itself returns
// is reported as it is.
//
// nil is an error. It configures the client New builds: [New] refuses it
// together with [WithClient] (set its transport's Proxy instead), and
// together with [WithBlockPrivateAddresses], whose guard checks the
// addresses the Fetcher dials: through a proxy that is only the proxy's,
// and the guard cannot check the address the proxy connects to, so it
// would refuse every request sent through it.
func WithProxy(proxy func(*http.Request) (*url.URL, error)) Option {
	return func(c *config) error {
		if proxy == nil {
			return errors.New("fetch: WithProxy(nil)")
		}
		c.proxy = proxy
		c.clientOptions = append(c.clientOptions, "WithProxy")
		return nil
	}
}

// WithClient makes the Fetcher send through client, so that its transport
// (tracing, auth, a test RoundTripper) is used as it is. The Fetcher never
// modifies it and never closes its idle connections; its Timeout, if set,
// bounds each attempt.
//
// The Fetcher sends through a copy of client made by New, so that later
// changes to client are not seen. The copy's CheckRedirect first asks
// client's own (if it is nil, net/http's default policy, which stops after
// 10 requests: 9 redirects, one fewer than the client New builds follows
// by default); if that lets the redirect through, the redirect then passes
// the gates of the host it goes to, as every attempt does (see
// [Fetcher.Do]).
// A CheckRedirect that returns [http.ErrUseLastResponse] hands back the
// redirect response, which holds the slot of the host that sent it.
func WithClient(client *http.Client) Option {
	return func(c *config) error {
		if client == nil {
			return errors.New("fetch: WithClient(nil): the client must not be nil (leave the option out for the client New builds)")
		}
		c.client = client
		return nil
	}
}

// WithBlockPrivateAddresses makes the Fetcher refuse to connect to any
// address that is not public: loopback, private (RFC 1918 and unique-local),
// link-local (including 169.254.169.254, where clouds serve instance
// credentials), CGNAT, unspecified, multicast and other special-purpose
// ranges. Use it when fetching URLs that users supply, against SSRF.
//
// The check is made on the address actually dialled, after DNS resolution,
// for every connection, redirects included, so a name that resolves to a
// private address, an IPv4-mapped IPv6 address, or an IPv6 address with a
// zone ([::%25lo]) are all caught. (Go does not read 127.1 or 0x7f.1 as
// addresses: it looks them up as names, refused if they resolve to one.) A refused connection fails with
// [ErrBlockedAddress] and is not retried. Addresses within allow are let
// through (for tests, or a known internal service). It needs the dialer of
// the client New builds, so it cannot be combined with [WithClient].
//
// With the guard on, a request that would go through a proxy (named by
// HTTP_PROXY or HTTPS_PROXY, as [http.ProxyFromEnvironment] reads them once
// per process) fails with [ErrBlockedAddress] before the proxy is dialled,
// whatever its target and whatever allow holds. Through a proxy the Fetcher
// dials only the proxy, which resolves the target's name and connects to it
// out of the guard's sight; checking the name's addresses first would not
// bind the proxy, whose own lookup may get another answer (DNS rebinding).
// Requests that NO_PROXY exempts, and those to localhost and loopback
// addresses, which net/http never proxies, go direct and are checked as
// usual. To keep the guard, unset the proxy variables or list the hosts in
// NO_PROXY; to go through a proxy, leave the guard off and have the proxy
// enforce the policy. [New] refuses the guard together with [WithProxy].
//
// The guard judges the address connected to, nothing else: it does not
// restrict ports, host names or what a public address does with the
// request, so a public address that forwards into a private network, or a
// public address of your own service, is reached like any other.
func WithBlockPrivateAddresses(allow ...netip.Prefix) Option {
	return func(c *config) error {
		c.guard, c.allow = true, make([]netip.Prefix, len(allow))
		for i, p := range allow {
			if !p.IsValid() {
				return fmt.Errorf("fetch: WithBlockPrivateAddresses: allowed prefix %d is not valid", i)
			}
			// The guard judges an IPv4-mapped address as the IPv4 address
			// it carries, so a prefix written mapped must be judged so too.
			if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
			c.allow[i] = p.Masked()
		}
		return nil
	}
}

// WithLogger logs retries and give-ups to l at debug level, with URLs
// redacted. By default the Fetcher logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithHooks installs callbacks run as each call starts, after every
// attempt, before every retry, and as each call ends; see [Hooks].
//
// Given more than once (say, otelfetch's hooks and your own logging hooks),
// every set runs, in the order given: at each event, the hook of the first
// set, then the second's, and so on. Each OnCall is given the context the
// one before it returned, and the last one's becomes the call's. A hook
// that panics fails the call as it would alone (of several of one event
// that panic, with the last one's panic); the other sets' hooks, of
// that event and of later ones, still run (an OnCall after one that
// panicked is given the context so far), so that a tracer's OnDone ends
// the span its OnCall began.
func WithHooks(h Hooks) Option {
	return func(c *config) error {
		c.hooks = append(c.hooks, h)
		return nil
	}
}
