package fetch

// A scheduler's seats are where its requests wait at the gates: one set
// for each host it has requests queued for, and one for the global gates.
//
// A seat is to a scheduler what a goroutine blocked at a gate is to a call
// of Do: it takes a slot or a token that is there now if nobody waits
// ahead, and otherwise waits in the gate's line, first come, first served
// with the calls blocked there, until it is given one at its turn. (A
// bucket without a token and without a line is not waited on: the
// scheduler tries again when the token is due.) It waits without a
// goroutine: the gate calls its ticket's give, which wakes the scheduler.
// What a seat is given at its turn it keeps until the attempt it is for
// passes every gate (see [gates.try]); a slot goes back to its gate when
// the seat is left, and a token given is spent. The global seat's slot and
// token are for the scheduler's pass that finds them given: one no host
// can use then is given up (see scheduler.next).
//
// Seats are the scheduler's, and read and changed under its lock; only a
// ticket's given, declined or held flag, and its place in the gate's line
// (under the gate's lock), are set by the gate.
type hostSeats struct {
	rate, adaptive tokenSeat // the host's rate, and its adaptive rate or ramp
	slot           seat      // a slot of the host's
}

type globalSeats struct {
	rate tokenSeat // the global rate
	slot seat      // a global slot
}

type seatState uint8

const (
	unseated seatState = iota // nothing taken, nothing waited for
	inLine                    // the ticket waits in the gate's line
	seated                    // the slot or token is held
)

// A seat is a claim on one slot of a [slots].
type seat struct {
	ticket slotWaiter
	state  seatState
}

// sit moves a seat whose ticket was given its slot from inLine to seated,
// and one whose ticket declined its turn back to unseated.
func (st *seat) sit() {
	switch {
	case st.state != inLine:
	case st.ticket.given.Load():
		st.ticket.given.Store(false)
		st.state = seated
	case st.ticket.declined.Load():
		st.ticket.declined.Store(false)
		st.state = unseated
	}
}

// claim reports whether the seat holds a slot of s, taking one if one is
// free and nobody waits, when took is true; else the seat waits in s's
// line.
func (st *seat) claim(s *slots) (took, ok bool) {
	st.sit()
	switch st.state {
	case unseated:
		if !s.join(&st.ticket) {
			st.state = inLine
			return false, false
		}
		st.state = seated
		return true, true
	case inLine:
		return false, false
	}
	return false, true
}

// leave gives up the seat's claim on s: its place in line, or its slot.
func (st *seat) leave(s *slots) {
	switch st.state {
	case inLine:
		if s.leave(&st.ticket) {
			s.releaseTicket()
		}
	case seated:
		s.releaseTicket()
	}
	st.state = unseated
}

// pass hands the slot the seat holds, if any, to the attempt it was for.
func (st *seat) pass(s *slots) {
	if st.state == seated {
		s.ticket.Add(-1)
	}
	st.state = unseated
}

// A tokenSeat is a claim on one token of a bucket.
type tokenSeat struct {
	ticket tokenTicket
	state  seatState
}

// sit moves a seat whose ticket was given its token from inLine to seated.
func (st *tokenSeat) sit() {
	if st.state == inLine && st.ticket.held.Load() {
		st.ticket.held.Store(false)
		st.state = seated
	}
}

// leave gives up the seat's place in line; a token it holds is spent.
func (st *tokenSeat) leave(w *tokenWaits) {
	if st.state == inLine {
		w.cancel(&st.ticket)
		st.ticket.held.Store(false)
	}
	st.state = unseated
}

// waiting reports whether one of the seats waits in line, having first
// seated those whose tickets were given what they waited for.
func (hs *hostSeats) waiting() bool {
	hs.rate.sit()
	hs.adaptive.sit()
	hs.slot.sit()
	return hs.rate.state == inLine || hs.adaptive.state == inLine || hs.slot.state == inLine
}

func (gs *globalSeats) waiting() bool {
	gs.rate.sit()
	gs.slot.sit()
	return gs.rate.state == inLine || gs.slot.state == inLine
}

// passed empties the seats of an attempt to h that passed every gate: it
// holds the slots now, and the tokens are spent.
func (hs *hostSeats) passed(h *host) {
	hs.rate.state, hs.adaptive.state = unseated, unseated
	if h.slots != nil {
		hs.slot.pass(h.slots)
	}
}

func (gs *globalSeats) passed(g *gates) {
	gs.rate.state = unseated
	gs.slot.pass(g.slots)
}

// leave gives up every claim of the seats for h.
func (hs *hostSeats) leave(g *gates, h *host) {
	hs.rate.leave(&g.waits)
	hs.adaptive.leave(&g.waits)
	if h.slots != nil {
		hs.slot.leave(h.slots)
	}
}

func (gs *globalSeats) leave(g *gates) {
	gs.rate.leave(&g.waits)
	gs.slot.leave(g.slots)
}

// setGive sets the functions the tickets of the seats call at their turn:
// takeSlot, at a slot's, which reports whether the seat takes it; wake,
// which wakes the scheduler once a token seat has what it waited for; and
// slotWake, once a slot seat has its slot or has been passed over.
func (hs *hostSeats) setGive(takeSlot func() bool, wake func(), slotWake func(took bool)) {
	hs.rate.ticket.give, hs.adaptive.ticket.give = wake, wake
	hs.slot.ticket.take, hs.slot.ticket.wake = takeSlot, slotWake
}

func (gs *globalSeats) setGive(takeSlot func() bool, wake func(), slotWake func(took bool)) {
	gs.rate.ticket.give = wake
	gs.slot.ticket.take, gs.slot.ticket.wake = takeSlot, slotWake
}
