package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// An outcome is what became of one attempt. It is made once, by attempt,
// and everything after reads it: nothing re-derives it from the response.
type outcome struct {
	req    *http.Request      // the request as sent, under the attempt's context
	resp   *http.Response     // nil if err is set
	err    error              // why the attempt failed, if it did
	cancel context.CancelFunc // ends the attempt's timeout, once its body is done with
	h      *host              // the host that answered: the call's own, or a redirect's

	start    time.Time     // when it was sent; zero unless somebody observes it (see Fetcher.timed)
	took     time.Duration // from start to the end of the attempt, the body included if read
	waited   time.Duration // how long it waited at the gates; zero unless observed
	sent     int           // requests written to the call's own host (see call.sent)
	read     bool          // consume read the body (and closed it)
	hopped   bool          // it failed on a redirect it could not follow, which says nothing of h
	overload bool          // the host said it is overloaded (see overloaded)

	retryAfter    time.Duration // what a 429 or 503 asked for, clamped to MaxDelay
	hasRetryAfter bool
}

// status returns the response's status code, or 0 if there is none.
func (o *outcome) status() int {
	if o.resp == nil {
		return 0
	}
	return o.resp.StatusCode
}

// discard closes what the attempt left open: it drains a little of the
// response body, so that its connection can be reused, closes it, and ends
// the attempt's timeout.
func (o *outcome) discard() {
	if !o.read {
		drainBody(o.resp)
	}
	o.cancel()
}

// attempt makes attempt number n of call c, which holds its gates, and
// returns its outcome, kept in the call (which is allocated anyway): it sends
// the request under the attempt's own timeout and, when consume is set and
// the response will not be retried, reads its body with consume inside the
// same timeout, so that a body cut short or too slow fails the attempt.
func (f *Fetcher) attempt(c *call, n int, consume func(*http.Response) error) *outcome {
	c.n = n
	o := &c.last
	*o = outcome{waited: c.waited, cancel: noop}
	r, actx, err := f.prepare(c, n, o)
	if err != nil {
		o.err, o.h, o.sent = err, c.h, 1
		c.attempts++
		return o
	}
	if f.timed {
		o.start = time.Now()
	}
	o.resp, o.err = f.client.Do(r)
	o.req, o.h, o.sent = r, c.h, c.sent()
	c.attempts += o.sent
	if o.err != nil {
		o.err = f.attemptError(c, actx, f.headerCap.check(o.err))
		o.hopped, _ = hopFailed(o.err)
	} else {
		o.retryAfter, o.hasRetryAfter = retryAfter(o.resp, f.retry.MaxDelay)
		if consume != nil && !f.retryable(c, o, n) {
			o.read = true
			if err := consume(o.resp); err != nil {
				o.err = f.attemptError(c, actx, err)
			}
		}
	}
	o.overload = overloaded(o)
	if f.timed {
		o.took = time.Since(o.start)
	}
	return o
}

// prepare readies attempt n of call c: it returns the request to send under the
// attempt's own context (the call's, with the attempt's timeout if one is
// set) and, on a retry, with a fresh copy of its body. o.cancel ends the
// attempt's timeout.
func (f *Fetcher) prepare(c *call, n int, o *outcome) (*http.Request, context.Context, error) {
	var ctx context.Context = c
	actx := ctx
	if f.attemptTimeout > 0 {
		actx, o.cancel = context.WithTimeout(ctx, f.attemptTimeout)
	}
	r := c.req
	if n > 1 && r.Body != nil && r.Body != http.NoBody {
		body, err := r.GetBody()
		if err != nil {
			return nil, actx, fmt.Errorf("rewinding request body: %w", err)
		}
		r = r.WithContext(actx)
		r.Body = body
	} else if actx != ctx {
		r = r.WithContext(actx)
	}
	return r, actx, nil
}

// attemptError says why an attempt under actx, derived from the caller's
// ctx, failed with err. When ctx has ended, that is the reason, whatever err
// says (though a redirect that was waiting is still named): net/http reports
// a context's cause, which for a context cancelled by a failure elsewhere (a
// TaskGroup sibling, a fail-fast batch) is somebody else's error. When only
// actx has ended, the attempt timed out.
func (f *Fetcher) attemptError(ctx, actx context.Context, err error) error {
	if ctx.Err() != nil {
		if hop, ok := errors.AsType[*hopError](err); ok {
			return &hopError{url: hop.url, err: contextError(ctx), final: true}
		}
		return contextError(ctx)
	}
	if actx.Err() != nil {
		return &attemptTimeoutError{after: f.attemptTimeout, err: err}
	}
	return err
}

// overloaded reports whether an attempt's outcome says its host is over
// its limit: a 429, a 503 that asks for a Retry-After, or an attempt that
// ran out of its time. Other 5xx say the host failed, not that it is busy.
func overloaded(o *outcome) bool {
	if o.resp == nil || o.read && o.err != nil {
		return errors.Is(o.err, ErrAttemptTimeout)
	}
	switch o.resp.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusServiceUnavailable:
		return o.hasRetryAfter
	}
	return false
}
