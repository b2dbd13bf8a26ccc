package fetch

import (
	"container/list"
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
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
// A scheduler waits in the same lines, with a [tokenTicket] for each of its
// hosts' buckets and one for the global bucket, so that its requests and
// the calls of other goroutines are served in turn.
//
// A line exists only while calls wait on its bucket. The zero tokenWaits
// is ready to use; it is safe for concurrent use.
type tokenWaits struct {
	mu sync.Mutex
	// lines holds, for each bucket waited on, who waits behind the front:
	// a call's chan struct{}, closed at its turn, or a *tokenTicket.
	lines map[*rate.Limiter]*list.List
}

// A tokenTicket is a place in a bucket's line that waits without a
// goroutine: a scheduler's. At its turn it reserves its token, as a call
// at the front does; once the token is due, the ticket holds it, give is
// called, and the turn passes on.
type tokenTicket struct {
	give func()      // called when the ticket holds its token; must not block
	held atomic.Bool // the token is the ticket's; its owner clears it

	// Guarded by the tokenWaits' mu.
	lim   *rate.Limiter
	at    *list.Element     // its place in line, while behind the front
	r     *rate.Reservation // its token, while it waits at the front
	timer *time.Timer       // fires when r is due
	turns uint64            // counts its turns, so that a timer of an earlier one does nothing
}

// queue puts t at the back of lim's line, if calls wait in it, and reports
// whether it did. At t's turn its owner is given the token, with t.give,
// once it is due, unless t leaves the line first (see cancel).
func (w *tokenWaits) queue(lim *rate.Limiter, t *tokenTicket) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	line := w.lines[lim]
	if line == nil {
		return false
	}
	t.lim = lim
	t.held.Store(false)
	t.at = line.PushBack(t)
	return true
}

// turn starts t's turn at the front of its bucket's line: it reserves t's
// token and reports true if the token is there now. Otherwise t keeps the
// turn until the token is due, when due gives it the token and passes the
// turn on. w.mu is held.
func (w *tokenWaits) turn(t *tokenTicket) bool {
	now := time.Now()
	r := t.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if !r.OK() || d <= 0 {
		// Not OK: the bucket's burst was set to 0 since the scheduler
		// looked; the request goes to the gates' own refusal.
		return true
	}
	t.r = r
	t.turns++
	turn := t.turns
	t.timer = time.AfterFunc(d, func() { w.due(t, turn) })
	return false
}

// due gives t the token it reserved at its turn'th turn, and passes the
// turn on.
func (w *tokenWaits) due(t *tokenTicket, turn uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t.r == nil || t.turns != turn {
		return // cancelled as the timer fired
	}
	t.r, t.timer = nil, nil
	t.held.Store(true)
	t.give()
	w.passOn(t.lim)
}

// cancel takes t out of its line. A token t reserved and is not due yet
// goes back to the bucket; one that is due is spent. It does nothing to a
// ticket that is in no line.
func (w *tokenWaits) cancel(t *tokenTicket) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case t.at != nil:
		w.lines[t.lim].Remove(t.at)
		t.at = nil
	case t.r != nil:
		if t.timer.Stop() {
			t.r.CancelAt(time.Now()) // the last reservation on the bucket: its token comes back
		}
		t.r, t.timer = nil, nil
		w.passOn(t.lim)
	}
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
	w.passOn(lim)
}

// passOn hands the front of lim's line to the next in it, or ends the line
// if nobody is behind. A ticket whose token is there at its turn takes it
// and passes the turn on at once. w.mu is held.
func (w *tokenWaits) passOn(lim *rate.Limiter) {
	line := w.lines[lim]
	for e := line.Front(); e != nil; e = line.Front() {
		switch next := line.Remove(e).(type) {
		case chan struct{}:
			close(next)
			return
		case *tokenTicket:
			next.at = nil
			if !w.turn(next) {
				return
			}
			next.held.Store(true)
			next.give()
		}
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
	return deadlineError{fmt.Errorf("the token is due in %v, after the context's deadline", rounded(d))}
}
