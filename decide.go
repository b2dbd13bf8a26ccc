package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// A decision is what a call does after an attempt: retry after delay, or
// end, failing with err if it is set and otherwise handing back the
// attempt's response.
type decision struct {
	retry bool
	delay time.Duration
	err   error
}

// fail is the decision to end a call with err.
func fail(err error) decision { return decision{err: err} }

// decide maps the outcome o of attempt n of call c to what the call does
// next:
//
//   - done: the response is handed back, whatever its status, when it is
//     not retryable or no attempts are left;
//   - fail: the error is returned, when it is not retryable or no attempts
//     are left; when the server's Retry-After would outlast the caller's
//     deadline, or the policy's MaxRetryAfter ([*RetryAfterError]); when
//     the backoff would outlast the caller's deadline (an error matching
//     context.DeadlineExceeded and the last attempt's error); when a policy of the host the call was
//     made to refuses the retry (the retry budget, with a [*RetryBudgetError]);
//   - retry after the Retry-After the server asked for, or else after the
//     policy's backoff, unless that wait would take the call past
//     MaxElapsed (the outcome is then final).
//
// A policy that allows a retry may count it (the retry budget spends one).
func (f *Fetcher) decide(c *call, o *outcome, n int) decision {
	if !f.retryable(c, o, n) {
		return decision{err: o.err}
	}
	d := f.retry.Backoff(n, c.delay)
	if o.hasRetryAfter {
		d = o.retryAfter
		if limit := f.retry.MaxRetryAfter; d > limit {
			return fail(&RetryAfterError{RetryAfter: d, Max: limit, Err: f.statusError(o)})
		}
		if deadline, ok := c.Deadline(); ok && time.Until(deadline) < d {
			return fail(&RetryAfterError{RetryAfter: d, Remaining: time.Until(deadline), Err: f.statusError(o)})
		}
	}
	if f.retry.MaxElapsed > 0 && c.start.since()+d > f.retry.MaxElapsed {
		return decision{err: o.err}
	}
	if deadline, ok := c.Deadline(); ok && !o.hasRetryAfter && time.Until(deadline) < d {
		// Waiting would end at the deadline with nothing more learnt: fail
		// now, with what the last attempt found.
		err := o.err
		if err == nil {
			err = f.statusError(o)
		}
		return fail(&backoffPastDeadline{delay: d, remaining: time.Until(deadline), err: err})
	}
	for _, p := range c.origin.policies { // the host the call was made to
		if err := p.allowRetry(c, o); err != nil {
			return fail(err)
		}
	}
	c.delay = d
	return decision{retry: true, delay: d}
}

// retryable reports whether the outcome of attempt n of call c may be
// retried, by the rules [RetryPolicy] states. A redirect that failed for a
// reason a retry cannot cure (see hopRefused) is not.
func (f *Fetcher) retryable(c *call, o *outcome, n int) bool {
	p := &f.retry
	if o.judged {
		return false // the outcome is the call's final verdict (see outcome.judged)
	}
	if o.err != nil {
		if _, final := hopFailed(o.err); final {
			return false
		}
	}
	req := c.req
	resp, err := o.answer()
	if n >= p.MaxAttempts || c.Err() != nil || !p.RetryNonIdempotent && !idempotent(req) && !neverSent(c, o) ||
		!(markedRetryable(err) || f.classify(o, resp, err)) {
		return false
	}
	if !replayable(req) {
		if o.err != nil && !o.judged {
			// Say why a failure that would have been retried was not: a
			// body net/http cannot rewind (a reader other than a
			// bytes.Reader, bytes.Buffer or strings.Reader, without GetBody).
			o.err = &unrewindableError{err: o.err}
		}
		return false
	}
	return true
}

// neverSent reports whether attempt o, the current attempt of c, failed
// before its request could reach a server: on connecting to its host, or
// to the proxy in between, or at the proxy's refusal to open a tunnel,
// before any redirect. Such a request may be sent again whatever its
// method, as urllib3 retries a connection error.
func neverSent(c *call, o *outcome) bool {
	if o.err == nil || c.hopped {
		return false
	}
	if _, ok := errors.AsType[*ProxyConnectError](o.err); ok {
		return true
	}
	oe, ok := errors.AsType[*net.OpError](o.err)
	return ok && (oe.Op == "dial" || oe.Op == "proxyconnect")
}

// unrewindableError is the error of an attempt that would have been
// retried but for its request's body, which has no GetBody to send it
// again. It unwraps to the attempt's error.
type unrewindableError struct{ err error }

func (e *unrewindableError) Error() string {
	return "not retried, as the request body cannot be rewound (no GetBody): " + e.err.Error()
}

func (e *unrewindableError) Unwrap() error { return e.err }

// classify asks the policy's Retryable about outcome o, the caller's code:
// a panic in it fails the call with a *PanicError (o's final error, which
// says nothing of the host), as a hook's does, so that the call still
// gives back its slot.
func (f *Fetcher) classify(o *outcome, resp *http.Response, err error) (retry bool) {
	if perr := recovering("RetryPolicy.Retryable", func() { retry = f.retry.Retryable(resp, err) }); perr != nil {
		o.err, o.judged, o.overload = perr, true, false
		return false
	}
	return retry
}

// backoffPastDeadline is the error of a call that is not retried because
// its backoff would outlast the caller's deadline: it matches
// [context.DeadlineExceeded] and unwraps to the last attempt's error (for a
// status, its [*StatusError]).
type backoffPastDeadline struct {
	delay, remaining time.Duration
	err              error
}

func (e *backoffPastDeadline) Error() string {
	return fmt.Sprintf("not retried: the backoff of %v would pass the deadline in %v: %v", rounded(e.delay), rounded(e.remaining), e.err)
}

func (e *backoffPastDeadline) Unwrap() []error { return []error{context.DeadlineExceeded, e.err} }
