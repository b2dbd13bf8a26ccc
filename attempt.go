package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"time"

	"github.com/c989c033/fetch/internal/urlredact"
)

// An outcome is what became of one attempt. It is made once, by attempt,
// and everything after reads it: nothing re-derives it from the response.
type outcome struct {
	req    *http.Request      // the request as sent, under the attempt's context
	resp   *http.Response     // nil if err is set
	err    error              // why the attempt failed, if it did
	cancel context.CancelFunc // ends the attempt's timeout, once its body is done with
	h      *host              // the host that answered: the call's own, or a redirect's

	start      mono          // when it was sent; zero unless somebody observes it (see Fetcher.timed)
	sentAt     mono          // when it went to h: start, or when its last redirect passed h's gates; zero if neither was timed
	took       time.Duration // from start to the end of the attempt, the body included if read
	errBody    *[]byte       // the start of a non-2xx body that discardForRetry closed unread
	retryAfter time.Duration // what a 429, 503 or rate-limited 403 asked for (up to farWait)

	sent          int16 // requests written to the call's own host (see call.sent)
	hasRetryAfter bool
	read          bool // consume read the body (and closed it)
	judged        bool // err is the call's final verdict on the response (its status, a handler's own error, a panic reading it), not a failure to get it
	hopped        bool // it failed on a redirect it could not follow, which says nothing of h
	unsent        bool // the request could not be made (its body could not be rewound, or WithBearerTokenFunc's token could not be had): nothing was sent
	overload      bool // the host said it is overloaded (see overloaded)
}

// failure describes in a few words why the attempt is retried: its
// response's status, or its error.
func (o *outcome) failure() string {
	if o.err != nil {
		return o.err.Error()
	}
	if o.resp != nil {
		return "status " + o.resp.Status
	}
	return "a failure"
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
// the attempt's timeout. A panic in the body (a transport's bug) is
// returned as a *PanicError.
func (o *outcome) discard() (err error) {
	defer o.cancel()
	defer recoverBody(o, &err)
	if !o.read {
		drainBody(o.resp)
	}
	return nil
}

// discardForRetry is discard for an outcome the call retries. It keeps the
// start of a non-2xx body, in case a StatusError is made of the response
// after it is closed: when the retry is refused before it is sent (see
// breaker.refusal). A panic in the body is returned as a *PanicError: the
// call fails with it rather than retry.
func (o *outcome) discardForRetry() (err error) {
	if !o.read && o.resp != nil {
		if c := o.resp.StatusCode; c < 200 || c > 299 {
			defer recoverBody(o, &err) // before discard: a panic here leaves the body open
			o.keepErrBody()
		}
	}
	return o.discard()
}

// keepErrBody reads the start of o's response body, unless the call read
// it or it was kept already, for a StatusError made of the response once
// it is closed. It waits for the body's bytes no longer than a discarded
// body's drain does: a body that stalls is closed, and what came is kept.
func (o *outcome) keepErrBody() {
	if o.read || o.resp == nil || o.errBody != nil {
		return
	}
	var b bytes.Buffer
	readPromptly(&b, o.resp.Body, MaxErrorBody, discardWait)
	o.errBody = new(b.Bytes())
}

// recoverBody, deferred, turns a panic in o's response body into *err, a
// *PanicError, and closes the body, which may panic again, unless it is
// closed already.
func recoverBody(o *outcome, err *error) {
	v := recover()
	if v == nil {
		return
	}
	*err = fmt.Errorf("discarding the response body: %w", &PanicError{Value: v, Stack: debug.Stack()})
	if o.resp != nil {
		closeQuietly(o.resp.Body)
	}
	o.cancel()
}

// closeQuietly closes body, whose Close may panic (a transport's bug): the
// panic is dropped, the body's first panic being the one reported.
func closeQuietly(body io.Closer) {
	defer func() { recover() }()
	body.Close()
}

// attempt makes attempt number n of call c, which holds its gates, and
// returns its outcome, kept in the call (which is allocated anyway): it
// sends the request under the attempt's own timeout. The attempt's timeout
// keeps running (o.cancel ends it), so that read can read the body under it.
// A panic in the transport is the attempt's final error (see recoverSend).
func (f *Fetcher) attempt(c *call, n int) (o *outcome) {
	c.n = int32(n)
	c.traceAttempt(n)
	o = &c.last // named, so that it is what attempt returns after recoverSend
	var before outcome
	if n > 1 {
		before = *o // what is retried, for an error of prepare's to name
	}
	*o = outcome{cancel: noop}
	r, actx, err := f.prepare(c, n, o)
	if err != nil {
		// Not an attempt: nothing is counted or learnt of the host, and
		// the call fails with err (judged: final).
		if n > 1 {
			err = &unsentRetryError{err: err, before: f.outcomeError(&before)}
		}
		o.err, o.h, o.unsent, o.judged = err, c.h, true, true
		return o
	}
	// A ramp cuts only for attempts sent since it began; a client's
	// Timeout bounds a redirect's wait at its gates from the attempt's start.
	timed := f.timed || c.h.ramp.Load() != nil || f.client.Timeout > 0
	if timed {
		o.start = monoNow()
	}
	defer f.recoverSend(c, n, o, r)
	client := f.client
	if f.jarless != nil && c.flags.Load()&jarless != 0 {
		client = f.jarless
	}
	o.resp, o.err = client.Do(r)
	if o.resp != nil && o.resp.StatusCode/100 == 3 {
		showLocation(o.resp)
	}
	o.req, o.h, o.sent = r, c.h, c.sent()
	if o.resp != nil && o.resp.Request == nil {
		// A RoundTripper of the caller's need not say what it answered
		// (net/http never assumes it does): take it for the request sent
		// (after a redirect, the first), for all that reads it.
		o.resp.Request = r
	}
	f.count(c, n, o)
	if o.sentAt == 0 {
		o.sentAt = o.start // no redirect passed other gates
	}
	if o.err != nil {
		if ue, ok := o.err.(*url.Error); ok {
			// net/http names a redirect it refused by its raw Location,
			// password and all: every log line, hook and error says it
			// redacted.
			ue.URL = urlredact.String(ue.URL)
		}
		o.err = f.attemptError(c, actx, f.headerCap.check(o.err))
		o.hopped, _ = hopFailed(o.err)
	} else {
		o.retryAfter, o.hasRetryAfter = retryAfter(o.resp, farWait)
	}
	o.overload = overloaded(o)
	if timed {
		o.took = o.start.since()
	}
	return o
}

// recoverSend, deferred by attempt, makes a panic while attempt n of call c
// sent r (in a RoundTripper of the caller's, say) the attempt's outcome: a
// *PanicError, final, so that the call fails with it, gives back its slot,
// and tells its host's policies (a half-open circuit breaker waits for its
// probe's outcome), as for any other attempt. Like a handler's panic, it
// says nothing of the host.
func (f *Fetcher) recoverSend(c *call, n int, o *outcome, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if o.resp != nil {
		closeBody(o.resp)
	}
	o.resp, o.req, o.h, o.sent = nil, r, c.h, c.sent()
	f.count(c, n, o)
	o.err, o.judged = fmt.Errorf("sending the request: %w", &PanicError{Value: v, Stack: debug.Stack()}), true
	o.overload = false
	if o.start != 0 {
		o.took = o.start.since()
	}
}

// count counts attempt n of call c, whose outcome o says how many times
// it was sent, as it ends: for the call (Error.Attempts) and in the stats.
func (f *Fetcher) count(c *call, n int, o *outcome) {
	c.attempts += int32(o.sent)
	f.stats.attempts.Add(int64(o.sent))
	if n > 1 {
		f.stats.retries.Add(1)
	}
}

// read reads the body of o, a response the call keeps, with consume, still
// inside the attempt and under its timeout, so that a body cut short or too
// slow fails the attempt as a failed send would. consume must close the
// body. A *StatusError from consume (the calls that read bodies fail on a
// non-2xx status), and a handler's own error about a body that came whole
// (a *handlerError), are the call's error and are not retried; a panic in
// consume (a handler's) is a *PanicError. read reports whether reading
// failed.
func (f *Fetcher) read(c *call, o *outcome, consume func(*http.Response) error) (failed bool) {
	o.read = true
	defer func() {
		if v := recover(); v != nil {
			closeQuietly(o.resp.Body)
			o.err = fmt.Errorf("reading the body: %w", &PanicError{Value: v, Stack: debug.Stack()})
			o.judged = true // final: not retried
			failed = true
		}
		o.overload = overloaded(o)
		if o.start != 0 {
			o.took = o.start.since()
		}
	}()
	err := consume(o.resp)
	if err == nil {
		return false
	}
	if _, ok := err.(*StatusError); ok {
		o.err, o.judged = err, true
	} else if h, ok := err.(*handlerError); ok && !errors.Is(h.err, o.req.Context().Err()) {
		// The handler's own verdict, though the attempt's time may have
		// run out meanwhile: only an error that is the context's is the
		// attempt's end.
		o.err, o.judged = h.err, true
	} else {
		if ok {
			err = h.err // the attempt ended under the handler: its timeout, or the caller's end
		}
		o.err = f.attemptError(c, o.req.Context(), err)
		if te, ok := o.err.(*attemptTimeoutError); ok {
			te.body = true
		}
	}
	return true
}

// outcomeError returns the failure of outcome o, an attempt that was to be
// retried: its error, or the *StatusError of its response.
func (f *Fetcher) outcomeError(o *outcome) error {
	if o.err != nil || o.resp == nil {
		return o.err
	}
	return f.statusError(o)
}

// unsentRetryError is the error of a retry that could not be made (its
// body could not be rewound, its bearer token could not be had): it says
// what the attempt before it got, as a retry that a circuit breaker or a
// retry budget refuses does, and unwraps to both.
type unsentRetryError struct{ err, before error }

func (e *unsentRetryError) Error() string {
	if e.before == nil {
		return e.err.Error()
	}
	return e.err.Error() + " (retrying after " + e.before.Error() + ")"
}

func (e *unsentRetryError) Unwrap() []error {
	if e.before == nil {
		return []error{e.err}
	}
	return []error{e.err, e.before}
}

// answer returns what the attempt's outcome says of its host, as the
// classifiers take it, exactly one of them non-nil: the response, if it
// came (a non-2xx status a call made into an error included), or else the
// error (a body cut short, a panic reading it).
func (o *outcome) answer() (*http.Response, error) {
	if o.err == nil {
		return o.resp, nil
	}
	if _, status := o.err.(*StatusError); status && o.judged && o.resp != nil {
		return o.resp, nil
	}
	return nil, o.err
}

// prepare readies attempt n of call c: it returns the request to send under the
// attempt's own context (the call's, with the attempt's timeout if one is
// set), on a retry with a fresh copy of its body, and with a header of its
// own if the client has a cookie jar. o.cancel ends the attempt's timeout.
func (f *Fetcher) prepare(c *call, n int, o *outcome) (*http.Request, context.Context, error) {
	var ctx context.Context = c
	actx := ctx
	if f.attemptTimeout > 0 {
		actx, o.cancel = context.WithTimeout(ctx, f.attemptTimeout)
	}
	r := c.req
	if n > 1 && r.Body != nil && r.Body != http.NoBody {
		body, err := getBody(r)
		if err != nil {
			return nil, actx, fmt.Errorf("rewinding request body: %w", err)
		}
		r = r.WithContext(actx)
		r.Body = body
	} else if actx != ctx || f.client.Jar != nil {
		r = r.WithContext(actx)
	}
	if f.client.Jar != nil {
		// net/http adds the jar's cookies to the header of the request it
		// is given: each attempt sends a header of its own, so that they
		// neither pile up over retries nor reach the caller's request. A
		// request without one gets one: net/http's Client adds the jar's
		// cookies before it would make it, and panics on a nil map.
		r.Header = r.Header.Clone()
		if r.Header == nil {
			r.Header = make(http.Header)
		}
	}
	if f.token != nil && c.defaulted&f.authBit != 0 &&
		(f.authBit != 1<<63 || slices.Equal(c.req.Header["Authorization"], []string{tokenPlaceholder})) {
		// WithBearerTokenFunc's token, asked for afresh for each attempt,
		// with the call's slots given back meanwhile.
		v, err := f.bearerFree(c)
		if err != nil {
			// r is never sent: its body (the caller's on the first
			// attempt, GetBody's on a retry) is closed here, as the
			// transport would have closed it.
			if perr := closeUnsent(r); perr != nil {
				err = errors.Join(err, perr)
			}
			return nil, actx, err
		}
		if r == c.req {
			r = r.WithContext(actx)
		}
		if f.client.Jar == nil {
			r.Header = r.Header.Clone()
		}
		r.Header.Set("Authorization", v)
	}
	return r, actx, nil
}

// getBody is r.GetBody(), the caller's code: a panic in it is returned as
// a *PanicError, which fails the call before the attempt is sent, and the
// call gives back what it holds.
func getBody(r *http.Request) (body io.ReadCloser, err error) {
	if perr := recovering("GetBody", func() { body, err = r.GetBody() }); perr != nil {
		return nil, perr
	}
	return body, err
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
// its limit: a 429, a 503 that asks for a Retry-After, a 403 that asks for
// a wait as a rate limit (see retryAfter), or an attempt that ran out of
// its time (the body's included). Other 5xx say the host failed,
// not that it is busy.
func overloaded(o *outcome) bool {
	if errors.Is(o.err, ErrAttemptTimeout) {
		return true
	}
	resp, _ := o.answer()
	if resp == nil {
		return false
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusServiceUnavailable, http.StatusForbidden:
		return o.hasRetryAfter // a 403 has one only if it is a rate limit (see retryAfter)
	}
	return false
}
