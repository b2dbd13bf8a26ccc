package fetch

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// slots caps the attempts in flight, to one host or in all.
//
// Whoever waits for a slot is served first come, first served: a call
// blocked in acquire, or a scheduler's ticket, which holds a place in line
// without a goroutine (see [slots.join]). A slot freed while anybody waits
// goes straight to the first of them, and nobody takes one ahead of the
// line, so neither kind of waiter can starve the other.
type slots struct {
	size   int
	bodies bool // an attempt holds its slot until its response body is done with: a wait that gives up says so (see waitError)
	mu     sync.Mutex
	taken  int          // slots held, by attempts in flight or by tickets given one
	line   list.List    // of *slotWaiter
	ticket atomic.Int64 // slots held by tickets, for no attempt yet (see seat)
}

// newSlots returns n in-flight slots, each held by an attempt until its
// response body is done with.
func newSlots(n int) *slots { return &slots{size: n, bodies: true} }

// A slotWaiter is a place in a slots' line. A call blocked in acquire waits
// for its turn channel; a scheduler's ticket has take and wake instead.
type slotWaiter struct {
	turn chan struct{} // closed when the slot is given, if a ticket's funcs are nil
	// A ticket's take reports, at its turn, whether its owner takes the
	// slot: one that could not use it now declines it, and the slot goes
	// to the next in line. Then, given or declined set, wake tells the
	// owner which (took is take's answer). Both are called with the slots'
	// lock held, and must not block.
	take     func() bool
	wake     func(took bool)
	given    atomic.Bool   // the slot is the waiter's
	declined atomic.Bool   // a ticket's owner declined its turn: it is out of line, with nothing
	at       *list.Element // its place in the line; nil while not in one
	front    bool          // waits at the front, having stepped out of it (see acquireFront)
}

// acquire takes a slot, waiting its turn in line, or returns an error
// saying it waited for what if ctx ends or closing is closed first. The
// slot is held as a ticket's, for no attempt yet, so that inFlight does
// not count it while its holder waits for a token: [slots.send] makes it
// the attempt's, [slots.releaseTicket] gives it back.
func (s *slots) acquire(ctx context.Context, closing <-chan struct{}, what string) error {
	return s.acquireAt(ctx, closing, what, false, nil)
}

// acquireChecked is acquire that, if the call must wait, first asks check,
// with the number of those waiting ahead of it, whether it may: an error
// from check is returned at once, and the call does not wait.
func (s *slots) acquireChecked(ctx context.Context, closing <-chan struct{}, what string, check func(ahead int) error) error {
	return s.acquireAt(ctx, closing, what, false, check)
}

// acquireFront is acquire for a call that was at the front of the line
// already, and stepped out of it (see gates.take): it waits at the front,
// behind those that came back to it before, first come, first served, so
// that one that stepped out is not kept waiting by every later one.
func (s *slots) acquireFront(ctx context.Context, closing <-chan struct{}, what string) error {
	return s.acquireAt(ctx, closing, what, true, nil)
}

func (s *slots) acquireAt(ctx context.Context, closing <-chan struct{}, what string, front bool, check func(int) error) error {
	s.mu.Lock()
	if s.taken < s.size && s.line.Len() == 0 {
		s.taken++
		s.ticket.Add(1)
		s.mu.Unlock()
		return nil
	}
	if check != nil {
		if err := check(s.line.Len()); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	w := &slotWaiter{turn: make(chan struct{}), front: front}
	if front {
		e := s.line.Front()
		for e != nil && e.Value.(*slotWaiter).front {
			e = e.Next()
		}
		if e != nil {
			w.at = s.line.InsertBefore(w, e)
		} else {
			w.at = s.line.PushBack(w)
		}
	} else {
		w.at = s.line.PushBack(w)
	}
	s.mu.Unlock()
	var err error
	select {
	case <-w.turn:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-closing:
		err = ErrClosed
	}
	if s.leave(w) {
		s.releaseTicket() // given as ctx ended: pass it on
	}
	return s.waitError(what, err)
}

// waitError is the error of a wait for one of s's slots, for what, that
// err ended. A wait for an in-flight slot that its context ended says how
// many were taken, and that a response body left open keeps its slot: a
// caller who forgot to close bodies sees why its host is full.
func (s *slots) waitError(what string, err error) error {
	if !s.bodies || err == ErrClosed {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	s.mu.Lock()
	taken := s.taken
	s.mu.Unlock()
	return fmt.Errorf("waiting for %s (%d of %d taken; a response body keeps its slot until it is closed): %w", what, taken, s.size, err)
}

// send makes a slot acquire took the attempt's, in flight.
func (s *slots) send() { s.ticket.Add(-1) }

// join takes a slot for w's owner if one is free and nobody waits, and
// reports true; otherwise it puts w at the back of the line, where it is
// given the first slot freed after those ahead of it, and reports false.
// A ticket in line, given or not, is ended with leave.
func (s *slots) join(w *slotWaiter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.taken < s.size && s.line.Len() == 0 {
		s.taken++
		s.ticket.Add(1)
		return true
	}
	w.given.Store(false)
	w.declined.Store(false)
	w.at = s.line.PushBack(w)
	return false
}

// leave takes w out of the line, and reports whether it was given a slot
// before it left, which its owner then holds (and must release).
func (s *slots) leave(w *slotWaiter) (given bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.at != nil {
		s.line.Remove(w.at)
		w.at = nil
		return false
	}
	return w.given.Load()
}

// release frees a slot: the first in line is given it, if anybody waits.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free()
}

// releaseTicket frees a slot a ticket held for no attempt.
func (s *slots) releaseTicket() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ticket.Add(-1) // under the lock, so that inFlight never counts it
	s.free()
}

// free frees a slot, as release does. s.mu is held.
func (s *slots) free() {
	for e := s.line.Front(); e != nil; e = s.line.Front() {
		w := s.line.Remove(e).(*slotWaiter)
		w.at = nil
		if w.take == nil {
			s.ticket.Add(1) // held for no attempt yet, as acquire says
			w.given.Store(true)
			close(w.turn)
			return
		}
		took := w.take()
		if took {
			s.ticket.Add(1)
			w.given.Store(true)
		} else {
			w.declined.Store(true)
		}
		w.wake(took) // once the flag is set: the owner looks at it when woken
		if took {
			return
		}
	}
	s.taken--
}

// inFlight returns how many slots are held by attempts.
func (s *slots) inFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.taken - int(s.ticket.Load())
}
