package fetch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// CircuitBreaker configures a circuit breaker per host: after enough
// failures the host's breaker opens, and every call to the host fails at
// once with a [*CircuitOpenError], sending nothing, for OpenFor. Then it is
// half-open: Probes attempts go through, and if they all succeed it closes,
// while one failure opens it again. See [WithCircuitBreaker].
//
// An attempt that fails because the caller's context ended, because a
// [Handle] handler returned an error or panicked, or because the transport
// panicked, counts neither way. The breaker is
// [github.com/sony/gobreaker/v2]'s two-step breaker.
type CircuitBreaker struct {
	// ConsecutiveFailures opens the breaker after this many failed attempts
	// in a row. Zero means the default, 5.
	ConsecutiveFailures int
	// FailureRatio, if positive, opens it too when, within one Interval,
	// at least MinRequests attempts were made and this share of them failed.
	// It must lie between 0 and 1 (NaN is refused).
	FailureRatio float64
	// MinRequests is the least number of attempts FailureRatio judges.
	// Zero means the default, 20.
	MinRequests int
	// Interval is how often a closed breaker forgets its counts. Zero means
	// the default, one minute.
	Interval time.Duration
	// OpenFor is how long the breaker stays open before it lets probes
	// through. Zero means the default, 30 seconds.
	OpenFor time.Duration
	// Probes is how many attempts a half-open breaker lets through; all
	// must succeed for it to close. Zero means the default, 1.
	Probes int
	// IsFailure classifies an attempt's outcome; exactly one of resp and
	// err is non-nil. Nil means [DefaultIsFailure]. An answer that asks
	// the caller to slow down (a 429, a 503 with Retry-After, a 403 that is
	// a rate limit: see [DefaultRetryable]) that it does not call a failure
	// counts neither way: it neither ends a run of failures nor adds to the
	// successes of FailureRatio.
	IsFailure func(resp *http.Response, err error) bool
}

func (b CircuitBreaker) withDefaults() (CircuitBreaker, error) {
	switch {
	case b.ConsecutiveFailures < 0 || b.MinRequests < 0 || b.Probes < 0 || b.Interval < 0 || b.OpenFor < 0:
		return b, fmt.Errorf("fetch: CircuitBreaker %+v: no field may be negative", b)
	case !(b.FailureRatio >= 0 && b.FailureRatio <= 1):
		return b, fmt.Errorf("fetch: CircuitBreaker.FailureRatio %v: must lie between 0 and 1", b.FailureRatio)
	case b.Probes > 1<<16 || b.ConsecutiveFailures > 1<<30 || b.MinRequests > 1<<30:
		return b, fmt.Errorf("fetch: CircuitBreaker %+v: counts too large", b)
	}
	b.ConsecutiveFailures = cmp.Or(b.ConsecutiveFailures, 5)
	b.MinRequests = cmp.Or(b.MinRequests, 20)
	b.Interval = cmp.Or(b.Interval, time.Minute)
	b.OpenFor = cmp.Or(b.OpenFor, 30*time.Second)
	b.Probes = cmp.Or(b.Probes, 1)
	if b.IsFailure == nil {
		b.IsFailure = DefaultIsFailure
	}
	return b, nil
}

// DefaultIsFailure is the classification a [CircuitBreaker] uses unless
// told otherwise: a 5xx fails, and so does an error, but for the Fetcher's
// own limits, which say nothing of the host's health: a body or header over
// the cap, too many redirects, an address the SSRF guard refuses, an
// invalid URL. A 429, or a 503 with Retry-After, does not: the host asks
// its callers to slow down or come back later, which the host's pause
// after Retry-After (and an adaptive rate) does, for as long as it asked.
// Exactly one of resp and err is non-nil.
func DefaultIsFailure(resp *http.Response, err error) bool {
	if err != nil {
		return !errors.Is(err, ErrBodyTooLarge) && !errors.Is(err, ErrHeaderTooLarge) &&
			!errors.Is(err, ErrTooManyRedirects) && !errors.Is(err, ErrBlockedAddress) &&
			!errors.Is(err, ErrInvalidURL)
	}
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" {
		return false
	}
	return resp.StatusCode >= 500
}

// ErrCircuitOpen is matched by the [*CircuitOpenError] of a call refused by
// an open circuit breaker.
var ErrCircuitOpen = errors.New("fetch: circuit breaker open")

// CircuitOpenError is a call that its host's circuit breaker refused: it
// was open, or half-open with its probes already out. The attempt it
// refused was not sent, and it is not retried. A retry due while the
// breaker is open is refused at once, not when due: a failure that opens
// the breaker ends its call at once, unless its retry comes after
// OpenFor, as the breaker's probe. If the call had made
// attempts before, whose failure may have opened the breaker, Err is the
// last one's failure: its error, or a [*StatusError].
type CircuitOpenError struct {
	Host string
	Err  error // the call's previous attempt's failure; nil if it made none
}

// Error names the host whose breaker refused the call, and the failure before it if any.
func (e *CircuitOpenError) Error() string {
	s := "circuit breaker for " + e.Host + " is open"
	if e.Err != nil {
		s += " after: " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrCircuitOpen and the previous attempt's failure, if any.
func (e *CircuitOpenError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrCircuitOpen}
	}
	return []error{ErrCircuitOpen, e.Err}
}

// breaker is one host's circuit breaker, a policy on its chain.
type breaker struct {
	basePolicy
	cb        *gobreaker.TwoStepCircuitBreaker[struct{}]
	isFailure func(*http.Response, error) bool
	probes    uint32
	asked     atomic.Int64 // when a call last came to the breaker (Unix nanoseconds)
	openUntil atomic.Int64 // when its last open spell ends (Unix nanoseconds)
}

// breakerMemory is how long a breaker past its open spell, with no call
// since, keeps the host from being forgotten: a host that was down when its
// callers left it would otherwise stay half-open, waiting for a probe that
// never comes, and be kept for ever.
const breakerMemory = throttleMemory

// errFailed and errExcluded are what the breaker is told of a failed
// attempt, and of one that says nothing of the host.
var (
	errFailed   = errors.New("failed")
	errExcluded = errors.New("excluded")
)

func newBreaker(b *CircuitBreaker) *breaker {
	br := &breaker{isFailure: b.IsFailure, probes: uint32(b.Probes)}
	br.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		MaxRequests: uint32(b.Probes),
		Interval:    b.Interval,
		Timeout:     b.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			counted := c.Requests - c.TotalExclusions // an excluded attempt counts neither way
			return c.ConsecutiveFailures >= uint32(b.ConsecutiveFailures) ||
				b.FailureRatio > 0 && counted >= uint32(b.MinRequests) &&
					float64(c.TotalFailures) >= b.FailureRatio*float64(counted)
		},
		IsExcluded: func(err error) bool { return err == errExcluded },
		OnStateChange: func(_ string, _, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				br.openUntil.Store(time.Now().Add(b.OpenFor).UnixNano())
			}
		},
	})
	return br
}

// precheck refuses at once, before the call waits at any gate, while the
// breaker is open, or half-open with its probes out (admit, after the
// gates, has the last word: probes let through while the call waited).
func (b *breaker) precheck(c *call) error {
	b.asked.Store(time.Now().UnixNano())
	if b.refusing() {
		return b.refusal(c, c.h)
	}
	return nil
}

// refusing reports whether precheck would refuse a call now.
func (b *breaker) refusing() bool {
	switch b.cb.State() {
	case gobreaker.StateOpen:
		return true
	case gobreaker.StateHalfOpen:
		n := b.cb.Counts()
		return n.Requests >= n.TotalExclusions+b.probes
	}
	return false
}

// admit lets the attempt through unless the breaker is open, or half-open
// with its probes out, and has the call report what became of it.
func (b *breaker) admit(c *call) error {
	done, err := b.cb.Allow()
	if err != nil {
		return b.refusal(c, c.h)
	}
	at := c.h.name // the call's own host, or a redirect's (see Fetcher.hop)
	c.reports = append(c.reports, func(o *outcome) (perr error) {
		resp, err := o.answer()
		switch {
		case err != nil && (c.Err() != nil || errors.Is(err, context.Canceled)):
			done(errExcluded) // the caller gave up: nothing learnt of the host
		case o.judged && err != nil:
			done(errExcluded) // the caller's handler failed or panicked: not the host's doing
		case o.h.name != at:
			done(nil) // the host answered with a redirect; the other host's answer is not its doing
		default:
			failed, perr := b.classify(resp, err)
			switch {
			case perr != nil:
				done(errExcluded) // the caller's classifier panicked: not the host's doing
				return perr
			case failed:
				done(errFailed)
			case resp != nil && o.overload:
				done(errExcluded) // a 429 or the like: not a failure, nor a sign the host is well
			default:
				done(nil)
			}
		}
		return nil
	})
	return nil
}

// refusesRetry refuses a retry of call c due at at, while the breaker is
// open and will still be open then: precheck would refuse it. A retry due
// after the open spell is let through to be the breaker's probe, or
// refused then.
func (b *breaker) refusesRetry(c *call, at time.Time) error {
	if b.cb.State() != gobreaker.StateOpen || !at.Before(time.Unix(0, b.openUntil.Load())) {
		return nil
	}
	return b.refusal(c, c.origin)
}

// classify asks IsFailure about an outcome, the caller's code: a panic in
// it is returned as a *PanicError, which fails the call (as a panic in
// RetryPolicy.Retryable does), the breaker having been told, so that a
// half-open breaker does not wait for ever for its probe's outcome.
func (b *breaker) classify(resp *http.Response, err error) (failed bool, perr error) {
	perr = recovering("CircuitBreaker.IsFailure", func() { failed = b.isFailure(resp, err) })
	return failed, perr
}

// refusal is the error for call c, refused on its way to host h (its own,
// or a redirect's): on a retry, it carries the failure of the call's
// previous attempt, which may be what opened it.
func (b *breaker) refusal(c *call, h *host) error {
	e := &CircuitOpenError{Host: h.name}
	if c.n > 0 && h == c.origin {
		o := &c.last
		if e.Err = o.err; o.err == nil && o.resp != nil {
			// Refused at once, the body is still open: its start is read
			// as a retry's discard reads it, without waiting on a stall.
			if perr := recovering("reading the response body", o.keepErrBody); perr != nil {
				e.Err = perr
			} else {
				e.Err = c.f.statusError(o)
			}
		}
	}
	return e
}

// forgettable reports whether the breaker is closed with nothing counted,
// or half-open (its open spell over) with no call for breakerMemory: a
// host no longer called, whose breaker waits for a probe that will not
// come. (A probe under way holds a reference to the host, so a sweep does
// not ask.)
func (b *breaker) forgettable() bool {
	switch b.cb.State() {
	case gobreaker.StateClosed:
		return b.cb.Counts() == (gobreaker.Counts{})
	case gobreaker.StateHalfOpen:
		return time.Since(time.Unix(0, b.asked.Load())) > breakerMemory
	}
	return false
}

// stats names the breaker's state unless it is closed.
func (b *breaker) stats(s *HostStats) {
	if st := b.cb.State(); st != gobreaker.StateClosed {
		s.Breaker = st.String()
	}
}

// WithCircuitBreaker gives every host a circuit breaker configured by b
// (zero fields take their defaults): a host that keeps failing is left
// alone for a while, its calls failing at once with a [*CircuitOpenError]
// instead of adding to its trouble. It returns an error naming any field
// out of range.
func WithCircuitBreaker(b CircuitBreaker) Option {
	return func(c *config) error {
		b, err := b.withDefaults()
		if err != nil {
			return err
		}
		c.breaker = &b
		return nil
	}
}
