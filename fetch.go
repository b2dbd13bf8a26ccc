package fetch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// A Fetcher sends HTTP requests through a rate limiter, an in-flight cap and
// a retry policy, globally and per host, over one shared [http.Client].
//
// A Fetcher is configured once, by [New], and is safe for concurrent use by
// any number of goroutines; share one per process (or per upstream) rather
// than making one per request, so that its limits and connection pool are
// shared too.
type Fetcher struct {
	client          *http.Client
	ownsClient      bool // built by New: Shutdown may close its idle connections
	hostConcurrency int  // 0: no per-host cap
	headerCap       headerCap
	readAhead       int // inputs the many-request calls queue ahead
	gates           gates
	retry           RetryPolicy
	attemptTimeout  time.Duration
	maxBody         int64
	logger          *slog.Logger // nil: silent
	hooks           Hooks
	stats           counters

	// Shutdown: calls register in active; once closed is set, the call that
	// brings active to zero closes drained.
	active    atomic.Int64
	closed    atomic.Bool
	closing   chan struct{} // closed when closed is set, to wake schedulers
	closeOnce sync.Once
	drained   chan struct{}
	drainOnce sync.Once
}

// New returns a Fetcher configured by opts, or an error naming the first
// option whose value is out of range.
//
// Unless [WithClient] supplies one, the Fetcher builds its own client on a
// clone of [http.DefaultTransport], keeping as many idle connections per
// host as requests it lets in flight to one host, so that connections are
// reused rather than churned, and reading each connection through a 32 KiB
// buffer, so that a response of a few KiB takes one read.
func New(opts ...Option) (*Fetcher, error) {
	c := defaultConfig()
	for _, opt := range opts {
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
		hooks:           c.hooks,
		drained:         make(chan struct{}),
		closing:         make(chan struct{}),
		hostConcurrency: c.hostConcurrency,
		readAhead:       cmp.Or(c.readAhead, max(DefaultReadAhead, 16*c.concurrency)),
		gates:           gates{limiter: c.limiter, slots: make(slots, c.concurrency)},
	}
	if f.client == nil {
		f.client, f.ownsClient = newClient(c), true
		f.headerCap = newHeaderCap(int64(c.maxHeader))
	} else if c.guard {
		return nil, errors.New("fetch: WithBlockPrivateAddresses needs the client New builds; it cannot be combined with WithClient")
	} else {
		client := *c.client // the caller's stays as it is
		f.client = &client
	}
	f.client.CheckRedirect = f.redirectPolicy(f.client.CheckRedirect)
	f.gates.hosts = newHostTable(c.hostLimiter, c.hostConcurrency, c.adaptive, c.budget)
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
// Redirects are followed as net/http follows them, and each one passes the
// gates of the host it goes to, as an attempt does: the call gives back the
// slot it holds, then waits for that host's Retry-After pause, rate tokens
// and slot, and the global ones. A redirect that cannot pass them before
// req's context or the attempt's timeout ends fails the call with an error
// that names it and matches [context.DeadlineExceeded] (and
// [ErrAttemptTimeout] if the attempt's timeout ran out; the call may then
// be retried). A Retry-After or an adaptive rate's signal applies to the
// host that answered; a retry starts again at req's URL.
//
// The caller must close the response body. Until it is closed or read to
// EOF, the request keeps its in-flight slot, global and per host (of the
// host that answered).
//
// A returned error is an [*Error], which wraps the last cause and says how
// many requests req's host was sent, counted as [Result.Attempts] counts
// them: net/http's own resends on a new connection included, the requests
// that follow a redirect not.
func (f *Fetcher) Do(req *http.Request) (*http.Response, error) {
	resp, _, err := f.do(req, nil, nil)
	return resp, err
}

// do is the one path every request takes:
//
//  1. validate the request and register the call (refused after Shutdown);
//  2. wait out the host's Retry-After pause, if any, then wait for a rate
//     token and take an in-flight slot (each host first, then global);
//  3. make one attempt, under its own timeout if one is set; each redirect
//     moves the call to its host's gates (see hop);
//  4. classify the outcome (a Retry-After pauses the whole host, whether or
//     not this request is retried; an adaptive host rate learns from it): if
//     it is final, or the host's retry budget is spent, hand it back;
//     otherwise free the slot, drain and close the body, wait out the
//     backoff or Retry-After, and go round again.
//
// consume, if not nil, reads the final response's body inside the attempt
// (so its timeout and retry cover the body too) and must close it; without
// it the returned body keeps the slot until the caller closes it. do returns
// the number of requests sent to req's host, counted as [Error.Attempts]
// documents (see call.sent).
//
// do calls the client itself, not through a helper, and leaves what comes
// before that call to helpers (begin, admit, prepare). A request spends
// most of its life waiting in that call, and every garbage collection walks
// the stack of every waiting request, each frame on it adding to that walk
// (see BenchmarkGCWaiting).
func (f *Fetcher) do(req *http.Request, consume func(*http.Response) error, held *host) (*http.Response, int, error) {
	h, start, err := f.begin(req, held)
	if err != nil {
		if held != nil {
			f.gates.release(held)
		}
		return nil, 0, err
	}
	c := f.newCall(req, h, held != nil)
	ctx := req.Context()
	var delay time.Duration
	attempts := 0 // requests sent to req's host so far, as Error.Attempts counts them
	for attempt := 1; ; attempt++ {
		if !c.held {
			if err := f.admit(ctx, h); err != nil {
				return nil, attempts, f.abandon(req, c, attempts, err)
			}
			c.held = true
		}
		r, actx, cancel, err := f.prepare(c, attempt)
		var resp *http.Response
		if err == nil {
			var sent time.Time
			if h.throttle != nil { // every host has one, or none does
				sent = time.Now()
			}
			resp, err = f.client.Do(r)
			resp, err = f.record(ctx, actx, req, c.h, attempt, sent, resp, err)
		}
		attempts += c.sent()
		if ra, ok := retryAfter(resp, f.retry.MaxDelay); ok {
			// The host that answered, for every request to it, retried or not.
			c.h.pause(time.Now().Add(ra))
		}
		retry := f.shouldRetry(ctx, req, resp, err, attempt)
		if !retry && err == nil && consume != nil {
			if err = consume(resp); err != nil {
				err = f.attemptError(ctx, actx, err)
				retry = f.shouldRetry(ctx, req, nil, err, attempt)
			}
		}
		if retry {
			var stop error
			if delay, stop = f.nextDelay(ctx, resp, attempt, delay, start); delay < 0 {
				retry, err = false, cmp.Or(stop, err)
			}
		}
		if retry && h.budget != nil { // the budget of the host the call was made to
			retry, err = f.spendRetry(h, attempts, resp, err)
		}
		if !retry {
			return f.finish(req, c, attempts, resp, cancel, err, consume != nil)
		}
		drainBody(resp)
		cancel()
		c.restart()
		if herr := f.onRetry(req, attempt, delay, resp, err); herr != nil {
			return nil, attempts, f.abandon(req, c, attempts, herr)
		}
		if err := sleep(ctx, delay); err != nil {
			return nil, attempts, f.abandon(req, c, attempts, fmt.Errorf("waiting %v to retry: %w", delay, err))
		}
	}
}

// begin validates req and registers the call, returning the host's gates
// (held, if not nil: the host whose gates a scheduler passed for req) and,
// if MaxElapsed needs it, the time the call began.
func (f *Fetcher) begin(req *http.Request, held *host) (*host, time.Time, error) {
	if err := validate(req); err != nil {
		return nil, time.Time{}, f.fail(req, 0, err)
	}
	if !f.enter() {
		return nil, time.Time{}, f.fail(req, 0, ErrClosed)
	}
	var start time.Time
	if f.retry.MaxElapsed > 0 {
		start = time.Now()
	}
	if held != nil {
		// The scheduler's queue holds a reference to held, so the table
		// cannot forget it: raising the count needs no lock.
		held.refs.Add(1)
		return held, start, nil
	}
	return f.host(req), start, nil
}

// abandon ends call c of req, which holds no slot, failing it with err
// after attempts attempts.
func (f *Fetcher) abandon(req *http.Request, c *call, attempts int, err error) error {
	c.end()
	return f.fail(req, attempts, err)
}

// prepare readies attempt number attempt of call c, which has passed the
// gates: it counts a first attempt against the host's retry budget, and
// returns the request to send under the attempt's own context (the call's,
// with the attempt's timeout if one is set) and, on a retry, with a fresh
// copy of its body. The returned cancel ends the attempt's timeout and must
// be called once the response body is done with.
func (f *Fetcher) prepare(c *call, attempt int) (*http.Request, context.Context, context.CancelFunc, error) {
	if attempt == 1 && c.origin.budget != nil {
		c.origin.budget.call()
	}
	var ctx context.Context = c
	actx, cancel := ctx, context.CancelFunc(noop)
	if f.attemptTimeout > 0 {
		actx, cancel = context.WithTimeout(ctx, f.attemptTimeout)
	}
	r := c.req
	if attempt > 1 && r.Body != nil && r.Body != http.NoBody {
		body, err := r.GetBody()
		if err != nil {
			return nil, actx, cancel, fmt.Errorf("rewinding request body: %w", err)
		}
		r = r.WithContext(actx)
		r.Body = body
	} else if actx != ctx {
		r = r.WithContext(actx)
	}
	return r, actx, cancel, nil
}

// record takes in the outcome of an attempt sent at sent, answered by h:
// it says why the transport failed, if it did, feeds h's adaptive rate
// (unless the attempt failed on a redirect the Fetcher did not follow,
// which says nothing of h), and runs the OnAttempt hook, whose error
// replaces the outcome.
func (f *Fetcher) record(ctx, actx context.Context, req *http.Request, h *host, attempt int, sent time.Time,
	resp *http.Response, err error) (*http.Response, error) {
	hopped := false
	if err != nil {
		err = f.attemptError(ctx, actx, f.headerCap.check(err))
		hopped, _ = hopFailed(err)
	}
	if h.throttle != nil && !hopped {
		h.throttle.observe(sent, resp, err)
	}
	if herr := f.onAttempt(req, h, attempt, resp, err); herr != nil {
		closeBody(resp)
		return nil, herr
	}
	return resp, err
}

// finish hands back the final outcome of call c of req and gives up what
// the call holds: everything, unless the response body is still open, in
// which case the body keeps the slot, the hosts and the attempt's timeout
// until it is closed.
func (f *Fetcher) finish(req *http.Request, c *call, attempts int, resp *http.Response,
	cancel context.CancelFunc, err error, consumed bool) (*http.Response, int, error) {
	if err == nil && !consumed {
		c.body.rc, c.body.c, c.body.cancel = resp.Body, c, cancel
		resp.Body = &c.body
		f.stats.completed.Add(1)
		return resp, attempts, nil
	}
	cancel()
	c.end()
	if err != nil {
		closeBody(resp)
		return nil, attempts, f.fail(req, attempts, err)
	}
	f.stats.completed.Add(1)
	return resp, attempts, nil
}

// spendRetry asks h's retry budget for a retry of the failed attempt, whose
// outcome was resp or err, after attempts requests (counted as the call's
// Error counts them). If the budget refuses, the call ends with a
// *RetryBudgetError for that outcome.
func (f *Fetcher) spendRetry(h *host, attempts int, resp *http.Response, err error) (bool, error) {
	ok, calls, retries := h.budget.retry()
	if ok {
		return true, err
	}
	if err == nil {
		err = statusError(resp, 0)
	}
	return false, &RetryBudgetError{Host: h.name, Calls: calls, Retries: retries, Attempts: attempts, Err: err}
}

// admit passes the gates for one attempt: a rate token, then a slot.
func (f *Fetcher) admit(ctx context.Context, h *host) error {
	f.stats.waiting.Add(1)
	defer f.stats.waiting.Add(-1)
	for {
		if err := f.gates.wait(ctx, h); err != nil {
			return err
		}
		if err := f.gates.acquire(ctx, h); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil { // cancelled just as the slot came free
			f.gates.release(h)
			return err
		}
		if !h.paused() {
			break
		}
		// The host asked for a pause while this request queued: give the
		// slot back and start again once the pause is over, with a fresh
		// token, so that the requests that queued do not all go at once.
		f.gates.release(h)
	}
	return nil
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

// shouldRetry reports whether the outcome of attempt may be retried. A
// redirect that failed for a reason a retry cannot cure (see hopRefused)
// is not.
func (f *Fetcher) shouldRetry(ctx context.Context, req *http.Request, resp *http.Response, err error, attempt int) bool {
	p := &f.retry
	if err != nil {
		if _, final := hopFailed(err); final {
			return false
		}
	}
	return attempt < p.MaxAttempts && ctx.Err() == nil &&
		(p.RetryNonIdempotent || idempotent(req)) && replayable(req) &&
		p.Retryable(resp, err)
}

// nextDelay returns how long to wait before the next attempt, or -1 with the
// error to return (nil to hand back resp as final) when the wait is not worth
// making: past MaxElapsed, or a Retry-After past the context's deadline.
func (f *Fetcher) nextDelay(ctx context.Context, resp *http.Response, attempt int, prev time.Duration, start time.Time) (time.Duration, error) {
	d := f.retry.Backoff(attempt, prev)
	if ra, ok := retryAfter(resp, f.retry.MaxDelay); ok {
		d = ra
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
			return -1, &RetryAfterError{RetryAfter: d, Remaining: time.Until(deadline), Err: statusError(resp, d)}
		}
	}
	if f.retry.MaxElapsed > 0 && time.Since(start)+d > f.retry.MaxElapsed {
		return -1, nil
	}
	return d, nil
}
