package fetch

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"
)

// Hooks are callbacks the Fetcher runs as it works, for metrics and tracing.
// Any of them may be nil. They run on the goroutine making the call, so they
// must be quick and safe for concurrent use; they must not modify the
// request or read the response body. A hook that panics fails that call with
// a [*PanicError], and the call gives up everything it holds; the hooks
// that other [WithHooks] options gave still run, so that each set sees
// both ends of every call it saw start.
//
// For every call, OnCall runs first, then OnAttempt after each attempt and
// OnRetry before each wait to retry, and OnDone last. A call that fails
// before it starts (an invalid request, or one made after Shutdown) runs
// none of them.
type Hooks struct {
	// OnCall runs when a call starts, before it waits at any gate. The
	// context it returns, which must be derived from ctx, becomes the
	// call's: every attempt's request carries it, and so does DoneInfo. A
	// tracer starts the call's span here. A nil result means ctx.
	OnCall func(ctx context.Context, info CallInfo) context.Context
	// OnAttempt runs after every attempt, with its outcome, its body
	// included when the call reads it.
	OnAttempt func(AttemptInfo)
	// OnRetry runs when an attempt is to be retried, before the wait.
	OnRetry func(RetryInfo)
	// OnDone runs when the call ends, as it returns. For [Fetcher.Do],
	// that is before the caller reads the body.
	OnDone func(DoneInfo)
}

// joinHooks returns hooks that run those of every set in sets in turn, as
// [WithHooks] given more than once does: each set's hook runs even if one
// before it panics (the call then fails with the last panic), so that a
// set's OnDone runs for every call its OnCall saw. A single set is
// returned as it is. OnCall is left out: the call runs each set's itself
// (see callHooks).
func joinHooks(sets []Hooks) Hooks {
	switch len(sets) {
	case 0:
		return Hooks{}
	case 1:
		return Hooks{OnAttempt: sets[0].OnAttempt, OnRetry: sets[0].OnRetry, OnDone: sets[0].OnDone}
	}
	var attempts []func(AttemptInfo)
	var retries []func(RetryInfo)
	var dones []func(DoneInfo)
	for _, h := range sets {
		attempts = appendHook(attempts, h.OnAttempt)
		retries = appendHook(retries, h.OnRetry)
		dones = appendHook(dones, h.OnDone)
	}
	return Hooks{OnAttempt: joinHook(attempts), OnRetry: joinHook(retries), OnDone: joinHook(dones)}
}

// callHooks returns the OnCall hooks of sets, in order. The call runs
// each under its own recover, giving it the context the one before
// returned (see Fetcher.newCall).
func callHooks(sets []Hooks) []func(context.Context, CallInfo) context.Context {
	var calls []func(context.Context, CallInfo) context.Context
	for _, h := range sets {
		if h.OnCall != nil {
			calls = append(calls, h.OnCall)
		}
	}
	return calls
}

func appendHook[T any](hooks []func(T), hook func(T)) []func(T) {
	if hook == nil {
		return hooks
	}
	return append(hooks, hook)
}

// joinHook returns a hook that runs each of hooks in turn, the ones after
// a hook that panics included (the panic goes on once they have run, its
// stack kept); nil if there are none.
func joinHook[T any](hooks []func(T)) func(T) {
	switch len(hooks) {
	case 0:
		return nil
	case 1:
		return hooks[0]
	}
	return func(info T) { runHooks(hooks, info) }
}

// runHooks runs hooks[0], then, deferred so that a panic in it does not
// skip them, the others.
func runHooks[T any](hooks []func(T), info T) {
	if len(hooks) > 1 {
		defer runHooks(hooks[1:], info)
	}
	hooks[0](info)
}

// CallInfo describes a call as it starts.
type CallInfo struct {
	Request *http.Request // the caller's request
	Host    string        // its host, as the per-host gates name it: host[:port], lower case
}

// AttemptInfo describes one attempt: exactly one of Response and Err is
// set. A body the call read in full is closed by then; Response.Body must
// not be read.
type AttemptInfo struct {
	// Request is the request as sent. Its context is the call's (carrying
	// what OnCall returned), bounded by the attempt's timeout.
	Request *http.Request
	Host    string // the host that answered it: the request's, or a redirect's
	Attempt int    // 1 for the first attempt; net/http's own resends are part of it (see [Result.Attempts])
	// Response is the attempt's response, nil if the attempt failed (Err
	// is set: a status the call treats as failed, a body cut short).
	// Status is the status the attempt was answered with, even then; 0 if
	// it got no answer.
	Response *http.Response
	Status   int
	Err      error
	// Start is when the attempt was sent. Duration runs from Start to the
	// end of the attempt, its body included when the call reads it.
	Start    time.Time
	Duration time.Duration
	// Waited is how long the attempt waited at the gates before it was
	// sent: the host's pause, rate tokens and in-flight slots. For a batch,
	// stream or crawl, a first attempt's wait in its host's queue is not
	// included.
	Waited time.Duration
	// HostRate is the rate that paces the host once this attempt's
	// outcome is taken into account: its adaptive rate if
	// [WithAdaptiveRate] is set, or else, after a Retry-After pause, the
	// ramp that paces it back up (see "Retry-After" in the package
	// documentation); zero if neither.
	HostRate rate.Limit
}

// RetryInfo describes a retry about to happen.
type RetryInfo struct {
	Request *http.Request // the failed attempt's request, as in [AttemptInfo]
	Attempt int           // the attempt that failed
	Delay   time.Duration // the wait before the next attempt
	Status  int           // the status the failed attempt was answered with (a body cut short keeps it), or 0 if none
	Err     error         // the failed attempt's error, if any
}

// DoneInfo describes a call as it ends.
type DoneInfo struct {
	Context  context.Context // the call's context: what OnCall returned
	Request  *http.Request   // the caller's request
	Host     string          // as in [CallInfo]
	Attempts int             // as [Error.Attempts] counts them
	Status   int             // the final response's status; 0 if none
	Err      error           // the call's error: nil, or an [*Error]
	Duration time.Duration   // from the start of the call to its end
}

// Stats is a snapshot of a Fetcher's counters. A call is one request as
// the caller made it (one Do, one Get, one input of a batch or stream),
// however many attempts it took; an attempt is one send of it.
type Stats struct {
	// Calls is the number of calls that have ended, however they ended:
	// Succeeded plus Failed.Total().
	Calls     int64
	Succeeded int64    // calls that ended with a 2xx response
	Failed    Failures // calls that did not, by why
	Waiting   int64    // calls waiting now: to retry (its backoff or Retry-After), for a host's Retry-After pause, a rate token or a slot, or queued for their host by a batch, stream or crawl

	Attempts int64 // attempts made, each counted as it ends, retries included, as [Error.Attempts] counts them
	Retries  int64 // attempts that were retries: made after a call's first; a retry decided but never sent is not one
	InFlight int64 // attempts on the wire now: each holds a slot until its body is closed or read to its end, or its context ends

	// Hosts lists, by name, the hosts that are paused by a Retry-After or
	// paced by the ramp after one, throttled by [WithAdaptiveRate], or
	// whose circuit breaker is not closed; nil if none. Per-host call counts are what an observer of
	// [Hooks] keeps (the otelfetch module does), as the Fetcher forgets
	// idle hosts to stay small.
	Hosts []HostStats
}

// Failures counts the calls that failed, by why.
type Failures struct {
	Status   int64 // the final response was not 2xx ([Fetcher.Do] returns it, and it is counted here too)
	Timeout  int64 // an attempt's timeout, or the caller's deadline, ran out, or would have before the request could be sent (a host's pause, or a token, due after it)
	Canceled int64 // the caller cancelled
	Network  int64 // the connection failed: refused, reset, cut short, DNS, TLS
	Refused  int64 // refused before it was sent, or before a retry was: invalid input, Shutdown, the SSRF guard, an open circuit breaker, a spent retry budget, a limiter that failed closed
	Other    int64 // anything else: a body or header over the cap, too many redirects, a redirect a crawl refuses, a panic (a hook's, a handler's, the transport's), ...
}

// Total is the number of failed calls.
func (f Failures) Total() int64 {
	return f.Status + f.Timeout + f.Canceled + f.Network + f.Refused + f.Other
}

// HostStats is the state of one host's gates.
type HostStats struct {
	Host        string     // the URL's host[:port], lower-cased, without the scheme's default port
	Rate        rate.Limit // the rate pacing the host, as in [AttemptInfo.HostRate]; zero if none
	Cuts        int        // times the rate pacing the host was cut for overload
	PausedUntil time.Time  // when the host's Retry-After pause ends; zero if none
	Breaker     string     // the circuit breaker's state if not closed: "open" or "half-open"; "" otherwise
}

type counters struct {
	waiting, succeeded, attempts, retries              atomic.Int64
	status, timeout, canceled, network, refused, other atomic.Int64
}

// Stats returns a snapshot of the Fetcher's counters and of the hosts that
// are paused, adaptively throttled or cut off by their circuit breaker. It
// is safe for concurrent use; the fields are read one by one, not
// atomically together. Its cost grows with the number of hosts the Fetcher
// remembers.
func (f *Fetcher) Stats() Stats {
	c := &f.stats
	s := Stats{
		Succeeded: c.succeeded.Load(),
		Failed: Failures{Status: c.status.Load(), Timeout: c.timeout.Load(), Canceled: c.canceled.Load(),
			Network: c.network.Load(), Refused: c.refused.Load(), Other: c.other.Load()},
		Waiting:  c.waiting.Load(),
		Attempts: c.attempts.Load(),
		Retries:  c.retries.Load(),
		InFlight: int64(f.gates.slots.inFlight()), // each attempt in flight holds one global slot
		Hosts:    f.gates.hosts.stats(),
	}
	s.Calls = s.Succeeded + s.Failed.Total()
	return s
}

// count counts a call that ended with resp or err, having made attempts,
// and returns the counter it went to.
func (c *counters) count(resp *http.Response, err error, attempts int) *atomic.Int64 {
	n := c.bucket(resp, err, attempts)
	n.Add(1)
	return n
}

// bucket returns the counter of a call that ended with resp or err, having
// made attempts: its outcome, and, if it sent nothing, whether that was
// because it was refused.
func (c *counters) bucket(resp *http.Response, err error, attempts int) *atomic.Int64 {
	switch {
	case err == nil && resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return &c.succeeded
	case errors.Is(err, ErrCircuitOpen) || errors.As(err, new(*RetryBudgetError)) || errors.As(err, new(*unsentRetryError)):
		return &c.refused // a policy refused the call, or its retry, or the retry could not be made: whatever failed before
	case err == nil || errors.As(err, new(*StatusError)):
		return &c.status
	case errors.As(err, new(*PanicError)):
		return &c.other // a hook, a handler or the transport panicked
	case errors.Is(err, context.Canceled):
		return &c.canceled
	case errors.Is(err, context.DeadlineExceeded):
		return &c.timeout
	case attempts == 0 || errors.Is(err, ErrBlockedAddress) || errors.Is(err, ErrLimiterUnavailable):
		return &c.refused
	case ownLimit(err):
		return &c.other
	case networkFailure(err):
		return &c.network
	}
	return &c.other
}

// ownLimit reports whether err is one of the Fetcher's own limits on what
// it takes in or follows, which net/http may report wrapped in a
// *url.Error like a network failure: a redirect refused (too many, out of
// the crawl's scope, seen already, disallowed by robots.txt), a body or
// header over its cap.
func ownLimit(err error) bool {
	for _, e := range ownLimits {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// ownLimits are the errors ownLimit matches.
var ownLimits = []error{ErrTooManyRedirects, ErrOutOfScope, ErrAlreadySeen, ErrDisallowed, ErrBodyTooLarge, ErrHeaderTooLarge}

// networkFailure reports whether err is the network's: a connection
// refused, reset or cut short (an HTTP/2 stream too, see h2Cut), a DNS or
// TLS failure, or anything else net/http's transport reported (a
// *url.Error is a net.Error).
func networkFailure(err error) bool {
	return errors.As(err, new(net.Error)) || errors.As(err, new(*net.OpError)) || cutShort(err) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || h2Cut(err) ||
		errors.As(err, new(*tls.CertificateVerificationError)) || errors.As(err, new(tls.RecordHeaderError))
}

// absorbable reports whether overload o may be answered by a cut of its
// host's pace alone, without a pause (see throttle.absorbs): not when the
// host said its quota is spent, or asked for a wait past MaxRetryAfter,
// which pause it however it has been answering.
func (f *Fetcher) absorbable(o *outcome) bool {
	if o.hasRetryAfter && o.retryAfter > f.retry.MaxRetryAfter {
		return false
	}
	return o.resp == nil || !quotaSpent(o.resp.Header)
}

// observe is the one place that learns from attempt o of call c, which
// decide has judged d: the host that answered and its policies (a
// Retry-After pauses it, whether or not this call retries, unless
// [WithHostPause] says otherwise; the adaptive
// rate and the circuit breaker take in the outcome), the hooks, the stats
// and the logger. It returns d, or a failure if a hook panicked.
func (f *Fetcher) observe(c *call, o *outcome, d decision) decision {
	absorbed := false // an overload the host's pace answers by a cut, without a pause
	if !o.hopped && !o.unsent {
		// The ramp is read once: the one that absorbs an overload is the
		// one that cuts for it, though another call may end it meanwhile.
		ramp := o.h.ramp.Load()
		if p := cmp.Or(o.h.throttle, ramp); p != nil && o.overload && f.absorbable(o) {
			absorbed = p.absorbs(o.sentAt.time())
		}
		for _, p := range o.h.policies {
			p.observe(c, o)
		}
		o.h.observeRamp(c, o, ramp)
		if o.h.throttle == nil && o.err == nil && !o.overload {
			o.h.answered() // for a ramp after a pause to start from (see startRamp)
		}
	}
	if o.hasRetryAfter && o.retryAfter > 0 && !absorbed && !f.noHostPause {
		end := time.Now().Add(min(o.retryAfter, f.retry.MaxRetryAfter))
		o.h.pause(end)
		o.h.startRamp(end)
	}
	for i, report := range c.reports { // policies that let this attempt or its hops through
		if err := report(o); err != nil {
			d = fail(err) // a classifier of the caller's panicked: the call fails with it, as for a hook
		}
		c.reports[i] = nil
	}
	c.reports = c.reports[:0]
	if d.retry {
		at := time.Now().Add(d.delay)
		for _, p := range c.origin.policies { // the host the retry goes to
			if err := p.refusesRetry(c, at); err != nil {
				d = fail(err)
				break
			}
		}
	}
	if f.hooks.OnAttempt != nil && !o.unsent {
		info := AttemptInfo{Request: o.req, Host: o.h.name, Attempt: int(c.n), Response: o.resp, Status: o.status(),
			Err: o.err, Start: o.start.time(), Duration: o.took, Waited: c.waited}
		if o.req == nil {
			info.Request = c.req
		}
		if o.err != nil {
			info.Response = nil
		}
		if p := o.h.pace(); p != nil {
			info.HostRate = p.rate()
		}
		if err := runHook(func() { f.hooks.OnAttempt(info) }); err != nil {
			return fail(err)
		}
	}
	if !d.retry {
		return d
	}
	req := c.req
	if f.logger != nil {
		if err := f.log(req.Context(), "fetch: retrying",
			slog.String("method", method(req)), slog.String("url", req.URL.Redacted()),
			slog.Int("attempt", int(c.n)), slog.Duration("delay", d.delay),
			slog.Int("status", o.status()), slog.Any("error", o.err)); err != nil {
			return fail(err)
		}
	}
	if f.hooks.OnRetry != nil {
		info := RetryInfo{Request: cmp.Or(o.req, req), Attempt: int(c.n), Delay: d.delay, Status: o.status(), Err: o.err}
		if err := runHook(func() { f.hooks.OnRetry(info) }); err != nil {
			return fail(err)
		}
	}
	return d
}

// done runs the OnDone hook for call c, which ends with resp or err, and
// returns the hook's panic, if it panicked.
func (f *Fetcher) done(c *call, resp *http.Response, err error) error {
	if f.hooks.OnDone == nil {
		return nil
	}
	info := DoneInfo{Context: c.Context, Request: c.caller, Host: c.origin.name, Attempts: int(c.attempts), Err: err}
	if resp != nil {
		info.Status = resp.StatusCode
	}
	if c.start != 0 {
		info.Duration = c.start.since()
	}
	return runHook(func() { f.hooks.OnDone(info) })
}

// runHook calls hook, returning a panic in it as a *PanicError.
func runHook(hook func()) error { return recovering("hook", hook) }

// recovering calls f, which runs the caller's code (a hook, a Limiter, a
// classifier, a Frontier, ...), returning a panic in it as a *PanicError
// wrapped with what, the name of that code: the call it belongs to fails
// with it and gives back what it holds, and no goroutine of the library's
// ends the process.
func recovering(what string, f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%s: %w", what, &PanicError{Value: v, Stack: debug.Stack()})
		}
	}()
	f()
	return nil
}

// refuse counts a call refused before it began (an invalid input, a
// Fetcher shut down) and wraps err in an *Error.
func (f *Fetcher) refuse(req *http.Request, err error) error {
	f.stats.refused.Add(1)
	return f.fail(req, 0, err)
}

// refuseJob is refuse for an input of a batch, stream or crawl that is not
// sent: its error names the input's request, if it was made, or else the
// URL as given (text, redacted).
func (f *Fetcher) refuseJob(req *http.Request, text string, err error) error {
	e := f.refuse(req, err).(*Error)
	if text != "" {
		e.URL = text
	}
	return e
}

// fail wraps a failed call's cause in an *Error.
func (f *Fetcher) fail(req *http.Request, attempts int, err error) error {
	e := &Error{Attempts: attempts, Err: err}
	if req != nil {
		e.Method = method(req)
		if req.URL != nil {
			e.URL = req.URL.Redacted()
		}
	}
	if f.logger != nil && req != nil {
		if perr := f.log(req.Context(), "fetch: failed",
			slog.String("method", e.Method), slog.String("url", e.URL),
			slog.Int("attempts", attempts), slog.Any("error", err)); perr != nil {
			e.Err = errors.Join(e.Err, perr)
		}
	}
	return e
}

// log logs msg at debug level to the Fetcher's logger, returning a panic
// in its handler (the caller's code) as a *PanicError, for the call to
// fail with.
func (f *Fetcher) log(ctx context.Context, msg string, attrs ...slog.Attr) error {
	return recovering("fetch: logger", func() { f.logger.LogAttrs(ctx, slog.LevelDebug, msg, attrs...) })
}

func method(req *http.Request) string {
	if req.Method == "" {
		return http.MethodGet
	}
	return req.Method
}
