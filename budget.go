package fetch

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
)

// RetryBudget caps the retries to each host, so that a failing host gets a
// trickle of retries rather than a retry storm (as Envoy's and Finagle's
// retry budgets do): over the last Window, retries to a host may be at most
// Ratio of the calls made to it, plus Min. A retry the budget refuses ends
// the call with a [*RetryBudgetError]. See [WithRetryBudget].
//
// A host with nothing in flight and no retries within the Window may be
// forgotten, to keep per-host state small however many hosts pass through;
// its allowance then starts again at Min, as a new host's does.
type RetryBudget struct {
	Ratio  float64       // default 0.2: one retry for every five calls; must be finite (not NaN or +Inf)
	Min    int           // retries always allowed per Window; default 10 (zero means the default, so the least is 1)
	Window time.Duration // default 10s
}

// DefaultRetryBudget returns the budget [WithRetryBudget] fills zero fields
// from: 20% of calls, at least 10 retries, over 10 seconds.
func DefaultRetryBudget() RetryBudget {
	return RetryBudget{Ratio: 0.2, Min: 10, Window: 10 * time.Second}
}

func (b RetryBudget) withDefaults() (RetryBudget, error) {
	d := DefaultRetryBudget()
	switch {
	case !(b.Ratio >= 0 && b.Ratio <= math.MaxFloat64):
		return b, fmt.Errorf("fetch: RetryBudget.Ratio %v: must be finite and not negative", b.Ratio)
	case b.Min < 0 || b.Window < 0:
		return b, fmt.Errorf("fetch: RetryBudget{Ratio: %v, Min: %d, Window: %v}: must not be negative", b.Ratio, b.Min, b.Window)
	case b.Window != 0 && b.Window < windowBuckets*time.Millisecond:
		return b, fmt.Errorf("fetch: RetryBudget.Window %v: must be at least %v", b.Window, windowBuckets*time.Millisecond)
	}
	if b.Ratio == 0 {
		b.Ratio = d.Ratio
	}
	if b.Min == 0 {
		b.Min = d.Min
	}
	if b.Window == 0 {
		b.Window = d.Window
	}
	return b, nil
}

// RetryBudgetError ends a call whose retry the host's [RetryBudget] refused.
// It unwraps to the last attempt's failure: its error, or a [*StatusError]
// for its response.
type RetryBudgetError struct {
	Host     string
	Calls    int // calls to the host within the budget's window
	Retries  int // retries to the host within the window
	Attempts int // requests this call sent, as [Result.Attempts] counts them
	Err      error
}

// Error says which host's budget ran out and what the last attempt got.
func (e *RetryBudgetError) Error() string {
	return fmt.Sprintf("retry budget for %s spent (%s for %s): %v", e.Host, plural(e.Retries, "retry", "retries"), plural(e.Calls, "call", "calls"), e.Err)
}

// Unwrap returns the last attempt's failure.
func (e *RetryBudgetError) Unwrap() error { return e.Err }

// retryBudget is the policy that counts one host's calls (kind 0) and retries (kind 1) over
// a sliding window.
type retryBudget struct {
	basePolicy
	limits *RetryBudget // shared by every host's budget
	mu     sync.Mutex
	counts window
}

func newRetryBudget(b *RetryBudget) *retryBudget {
	return &retryBudget{limits: b, counts: newWindow(b.Window)}
}

// forgettable reports whether dropping the budget, for a fresh one, can only
// lower the host's allowance: its window holds no retries. A fresh budget
// allows Min retries; one whose window holds calls and no retries allows
// that many and more.
func (b *retryBudget) forgettable() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, retries := b.counts.total(time.Now())
	return retries == 0
}

// admit counts a call to the host, at its first attempt (not at a
// redirect's hop to the host: the budget is spent by the call's own host).
func (b *retryBudget) admit(c *call) error {
	if c.n == 0 && c.h == c.origin {
		b.call()
	}
	return nil
}

// allowRetry spends a retry of call c's outcome o, or refuses it with a
// *RetryBudgetError.
func (b *retryBudget) allowRetry(c *call, o *outcome) error {
	ok, calls, retries := b.retry()
	if ok {
		return nil
	}
	err := o.err
	if err == nil {
		err = c.f.statusError(o)
	}
	return &RetryBudgetError{Host: c.origin.name, Calls: calls, Retries: retries, Attempts: int(c.attempts), Err: err}
}

// call counts a call to the host.
func (b *retryBudget) call() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.counts.add(time.Now(), 0)
}

// retry spends one retry if the budget allows it. If not, it returns the
// totals that refused it.
func (b *retryBudget) retry() (ok bool, calls, retries int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	calls, retries = b.counts.total(now)
	if float64(retries+1) > b.limits.Ratio*float64(calls)+float64(b.limits.Min) { // "at most": this retry included
		return false, calls, retries
	}
	b.counts.add(now, 1)
	return true, calls, retries + 1
}

// plural returns n with the word for one or for several.
func plural(n int, one, several string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + several
}
