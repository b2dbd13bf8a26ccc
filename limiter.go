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
// limiter that cannot decide should wrap [ErrLimiterUnavailable].
// Implementations must be safe for concurrent use. [*rate.Limiter]
// satisfies Limiter: the Fetcher takes a token that is already there with
// its Allow, and otherwise lines up the calls that must wait so that only
// the first holds a reservation, and a cancelled wait gives its token back
// whatever the order of cancellations. So does the Redis-backed limiter in
// the github.com/c989c033/fetch/redisrate module, shared between processes.
type Limiter interface {
	Wait(ctx context.Context) error
}

// waitToken waits for one token from l, wrapping its refusal so that a
// cancelled or deadline-bound wait still matches context.Canceled or
// context.DeadlineExceeded. A [*rate.Limiter] gives a token that is already
// there with its Allow; otherwise the call waits in l's line in waits, so
// that a cancelled wait gives its token back.
func waitToken(ctx context.Context, l Limiter, waits *tokenWaits, what string) error {
	var err error
	if rl, ok := l.(*rate.Limiter); ok {
		if ctx.Err() == nil && rl.Allow() {
			return nil
		}
		err = waits.wait(ctx, rl)
	} else {
		err = l.Wait(ctx)
	}
	if err == nil {
		return nil
	}
	return fmt.Errorf("waiting for %s rate token: %w", what, err)
}

// slots is a counting semaphore: a send takes a slot, a receive frees one.
type slots chan struct{}

func (s slots) acquire(ctx context.Context, what string) error {
	select {
	case s <- struct{}{}:
		return nil
	default:
	}
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s in-flight slot: %w", what, ctx.Err())
	}
}

func (s slots) release() { <-s }

// try takes a slot if one is free now.
func (s slots) try() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}
