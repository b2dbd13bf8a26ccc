// Package ctxsleep waits for a duration or until a context ends: the one
// timed wait of the repository, shared by the Fetcher's backoff and pauses,
// the test servers' added latency, and redisrate's and redisqueue's waits.
package ctxsleep

import (
	"context"
	"time"
)

// Sleep waits for d, or until ctx is done, and returns ctx's error if ctx
// ended first. A d of zero or less returns at once, with ctx's error if it
// has ended already.
func Sleep(ctx context.Context, d time.Duration) error { return SleepOr(ctx, nil, nil, d) }

// SleepOr is Sleep that also ends, returning stopErr, once stop is closed
// (a nil stop never is). A d of zero or less returns at once, with ctx's
// error if it has ended already, or else stopErr if stop is closed.
func SleepOr(ctx context.Context, stop <-chan struct{}, stopErr error, d time.Duration) error {
	if d <= 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-stop:
			return stopErr
		default:
			return nil
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return stopErr
	}
}
