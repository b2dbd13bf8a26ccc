package fetch

import (
	"context"
	"fmt"

	"golang.org/x/time/rate"
)

// A Limiter gates the rate of attempts: Wait is called once per attempt,
// retries included. Wait blocks until one attempt may proceed or ctx is
// done, and must return an error matching ctx.Err() when it gives up
// because of ctx. Any other error fails the call without sending it; a
// limiter that cannot decide should wrap [ErrLimiterUnavailable]; a panic
// in Wait fails the call with a [*PanicError].
// Implementations must be safe for concurrent use. [*rate.Limiter]
// satisfies Limiter: the Fetcher takes a token that is already there with
// its Allow, and otherwise lines up the calls that must wait so that only
// the first holds a reservation, and a cancelled wait gives its token back
// whatever the order of cancellations. So does the Redis-backed limiter in
// the github.com/c989c033/fetch/redisrate module, shared between processes.
// A token once given is spent: a call that then ends while it waits at a
// later gate (the global rate after its host's, or an in-flight slot)
// sends nothing but does not give it back, as x/time/rate cannot take back
// a token whose time has come.
type Limiter interface {
	Wait(ctx context.Context) error
}

// A rateGate is a rate limit as the gates hold it. Which kind of Limiter
// it is is told once, when it is set (see gateOf), not on every request: a
// token bucket ([*rate.Limiter]), which the gates can take a token from
// without waiting (see gates.try) and line waiters up for (see
// tokenWaits), or any other Limiter, which can only be waited for. The zero
// rateGate is no limit.
type rateGate struct {
	bucket *rate.Limiter // set for a token bucket
	other  Limiter       // set for any other Limiter
}

// gateOf returns l as a rateGate; a nil l is no limit.
func gateOf(l Limiter) rateGate {
	switch l := l.(type) {
	case nil:
		return rateGate{}
	case *rate.Limiter:
		return rateGate{bucket: l}
	default:
		return rateGate{other: l}
	}
}

// wait waits for one token from g, wrapping its refusal so that a
// cancelled or deadline-bound wait still matches context.Canceled or
// context.DeadlineExceeded. A token bucket gives a token that is already
// there with its Allow; otherwise the call waits in the bucket's line in
// waits, so that a cancelled wait gives its token back.
func (g rateGate) wait(ctx context.Context, gs *gates, what string) error {
	var err error
	switch {
	case g.bucket != nil:
		if ctx.Err() == nil && g.bucket.Allow() {
			return nil
		}
		err = gs.waits.wait(ctx, gs.closing, g.bucket)
	case g.other != nil:
		err = waitLimiter(ctx, gs.shut, g.other)
	default:
		return nil
	}
	if err == nil {
		return nil
	}
	return fmt.Errorf("waiting for %s rate token: %w", what, err)
}

// waitLimiter waits for a token from l under ctx, ended early by shut (see
// gates): a Limiter sees only a context, so Shutdown cancels the one it is
// given, and the wait fails with ErrClosed.
func waitLimiter(ctx, shut context.Context, l Limiter) error {
	if shut.Err() != nil {
		return ErrClosed
	}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(shut, func() { cancel(ErrClosed) })
	defer stop()
	err := limiterWait(wctx, l)
	if err != nil && ctx.Err() == nil && context.Cause(wctx) == ErrClosed {
		return ErrClosed
	}
	return err
}

// limiterWait is l.Wait(ctx), a panic in it made a [*PanicError]: the
// caller's code, as a RoundTripper's or a hook's, whose panic fails the
// call and gives back what the call holds.
func limiterWait(ctx context.Context, l Limiter) (err error) {
	if perr := recovering("fetch: Limiter.Wait", func() { err = l.Wait(ctx) }); perr != nil {
		return perr
	}
	return err
}
