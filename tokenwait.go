package fetch

import (
	"container/list"
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// tokenWaits lines up the calls that wait for a token of the same
// [rate.Limiter], so that only the call at the front of a line holds a
// reservation; the calls behind it hold nothing until their turn.
//
// x/time/rate gives a cancelled reservation's token back only as far as no
// reservation was made after it, so waits on one bucket cancelled in any
// order but last-first would leave it in debt: the next call would wait for
// tokens nobody used. With one reservation per bucket at a time, the one
// cancelled is always the last, and its token comes back in full, in
// whatever order the waits are cancelled. (A bucket that is also waited on
// outside this Fetcher, or by another Fetcher, gets one reservation from
// each; only this Fetcher's are kept from piling up.)
//
// The front's reservation also keeps the bucket below one token while a
// line waits, so neither [rate.Limiter.Allow] nor [gates.try] takes a token
// ahead of the line, except one that comes due in the moment between the
// front's token and its successor's reservation (at rates of over some
// 100,000 a second), which delays the line by that one token.
//
// A line exists only while calls wait on its bucket. The zero tokenWaits
// is ready to use; it is safe for concurrent use.
type tokenWaits struct {
	mu    sync.Mutex
	lines map[*rate.Limiter]*list.List // of chan struct{}: the calls behind the front, each closed at that call's turn
}

// wait takes one token from lim, waiting its turn in lim's line, or returns
// ctx's error if ctx ends first, leaving lim as it would be had the call
// never waited. A wait that would end after ctx's deadline is refused at
// once with an error matching [context.DeadlineExceeded], as
// [rate.Limiter.Wait] refuses it.
func (w *tokenWaits) wait(ctx context.Context, closing <-chan struct{}, lim *rate.Limiter) error {
	if err := ctx.Err(); err != nil {
		return err // ended already: say so, not that a token is due too late
	}
	now := time.Now()
	if due, ok := tokenDue(lim, now); ok && pastDeadline(ctx, due) {
		return waitTooLong(due.Sub(now))
	}
	if err := w.enter(ctx, closing, lim); err != nil {
		return err
	}
	defer w.leave(lim)
	if err := ctx.Err(); err != nil {
		return err
	}
	now = time.Now()
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return fmt.Errorf("a bucket of burst %d cannot give one token", lim.Burst())
	}
	d := r.DelayFrom(now)
	if pastDeadline(ctx, now.Add(d)) {
		r.CancelAt(now)
		return waitTooLong(d)
	}
	if err := sleepOrClose(ctx, closing, d); err != nil {
		r.Cancel() // the last reservation on lim: its token comes back
		return err
	}
	return nil
}

// enter returns when the call is at the front of lim's line, or with ctx's
// error when ctx ends first, or ErrClosed when closing is closed first.
func (w *tokenWaits) enter(ctx context.Context, closing <-chan struct{}, lim *rate.Limiter) error {
	w.mu.Lock()
	line := w.lines[lim]
	if line == nil {
		if w.lines == nil {
			w.lines = make(map[*rate.Limiter]*list.List)
		}
		w.lines[lim] = list.New()
		w.mu.Unlock()
		return nil
	}
	turn := make(chan struct{})
	e := line.PushBack(turn)
	w.mu.Unlock()
	err := ErrClosed
	select {
	case <-turn:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-closing:
	}
	w.mu.Lock()
	select {
	case <-turn: // the turn came as ctx ended: pass it on
		w.mu.Unlock()
		w.leave(lim)
	default:
		line.Remove(e)
		w.mu.Unlock()
	}
	return err
}

// leave hands the front of lim's line to the next call in it, or ends the
// line if nobody is behind.
func (w *tokenWaits) leave(lim *rate.Limiter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	line := w.lines[lim]
	if e := line.Front(); e != nil {
		close(line.Remove(e).(chan struct{}))
		return
	}
	delete(w.lines, lim)
}

// tokenDue returns when l will next hold a whole token, as seen at now (now
// if it holds one); ok is false if l's limit is not positive and finite.
func tokenDue(l *rate.Limiter, now time.Time) (due time.Time, ok bool) {
	limit := l.Limit()
	if !(limit > 0) || limit == rate.Inf {
		return time.Time{}, false
	}
	tokens := l.TokensAt(now)
	if tokens >= 1 {
		return now, true
	}
	wait := math.Ceil((1 - tokens) / float64(limit) * float64(time.Second))
	return now.Add(time.Duration(min(wait, 1<<62))), true
}

// pastDeadline reports whether t is after ctx's deadline, if it has one.
func pastDeadline(ctx context.Context, t time.Time) bool {
	deadline, ok := ctx.Deadline()
	return ok && t.After(deadline)
}

// waitTooLong is the refusal of a wait of d that would end after the
// context's deadline.
func waitTooLong(d time.Duration) error {
	return deadlineError{fmt.Errorf("the token is due in %v, after the context's deadline", d)}
}
