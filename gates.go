package fetch

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// gates are the checks every attempt passes before it is sent.
//
// Each gate is taken per host first, then globally: a request queued behind
// its own host's limit must not hold a global token or slot that a request
// to another host could use.
type gates struct {
	rate  rateGate   // global rate; zero: unlimited
	slots *slots     // global in-flight cap
	hosts *hostTable // per-host gates and pauses
	waits tokenWaits // the calls waiting for a token, per bucket
	// closing is closed by Shutdown: a call waiting at a gate then fails
	// with ErrClosed, having sent nothing more. shut is a context ended
	// at the same moment, for the waits that only a context can end (a
	// Limiter's).
	closing <-chan struct{}
	shut    context.Context
}

// take waits out h's pause, then takes h's slot (if capped), then h's
// tokens (its rate's and its adaptive rate's) and a global slot, then a
// global token. Each slot is taken before the tokens it guards, as try
// takes them, so that a token is spent only by an attempt that is sent at
// once: callers queued behind held slots do not bank tokens and then go
// together when the slots come free. Holding h's slot while waiting for
// h's token keeps out only h's other requests, which need that token too.
// A slot held while its token is awaited is not counted in flight (see
// [slots.acquire]); once every gate is passed, the attempt holds both.
//
// A global slot is not held while h's tokens are awaited, so as not to
// keep it from a request to another host. A call to a host whose rates
// are token buckets waits in the global slots' line and, at its front,
// takes h's tokens and the global one with the slot if they are all there.
// If h's are there and the global one is not, it takes h's and waits for
// the global one in its line, as every call does (with the global rate
// contended too, a request may so reach h later than its token, closer to
// the next than h's rate, as a scheduler's may). If h's are not there, it
// gives the slot back, takes its turn at h's tokens (h's calls take them
// one at a time: see host.turn), waits for them, and then waits for a
// global slot again at the front of the line, where it was (behind those
// who came back to it before): so it waits for its tokens out of the line
// without losing its place, and while global slots are busy at most one
// of h's tokens is held, for as long as the next slot takes to come free.
// If h's bucket has filled meanwhile, it no longer counts that token, and
// the call takes another: h sees at most one request over its rate and
// burst. Having taken h's rate token, the call varies the interval before
// the next one, if h's rate is jittered (see [WithHostRateJitter]), while
// it still has the turn, before the next call may reserve it. A host rate
// that is a [Limiter] of the caller's cannot be tried,
// and is waited for before the global slot, as before: a stall of the
// global slots can then bunch up its calls.
func (g *gates) take(ctx context.Context, h *host) error {
	e := entrant{g: g, h: h}
	defer e.end() // what is held is given back on every way out but success
	for {
		through, err := e.round(ctx)
		if err != nil {
			return err
		}
		if through {
			break
		}
	}
	return e.pass(ctx)
}

// An entrant is a call on its way through the gates for h (see take): what
// it holds so far, and what it has taken.
type entrant struct {
	g        *gates
	h        *host
	adaptive *rate.Limiter // h's adaptive rate, if it has one

	hostHeld, turnHeld, globalHeld, passed bool

	globalToken bool // the global token was taken with h's (see tokensNow)
	banked      bool // h's tokens were taken before the global slot
}

// round is one way through take's loop: it waits out h's pause, takes a
// slot of h's, then h's tokens and a global slot, at the front of the
// global line if they are all there or else in h's turn. It reports
// whether the call has them; false if h was paused meanwhile (by a
// Retry-After), having then given back all it held, to go round again.
func (e *entrant) round(ctx context.Context) (through bool, err error) {
	g, h := e.g, e.h
	if err := h.waitPause(ctx, g.closing); err != nil {
		return false, err
	}
	if err := g.tooLate(ctx, h); err != nil {
		return false, err
	}
	if h.slots != nil && !e.hostHeld {
		if err := h.slots.acquire(ctx, g.closing, "host in-flight slot"); err != nil {
			return false, err
		}
		e.hostHeld = true
	}
	e.adaptive = nil
	if p := h.pace(); p != nil {
		e.adaptive = p.lim
	}
	buckets := h.rate.other == nil && (h.rate.bucket != nil || e.adaptive != nil)
	wasFront := false // the call gave back a slot it had at the front of the global line
	if buckets && g.rate.other == nil {
		if through, err := e.atFront(ctx); through || err != nil {
			return through, err
		}
		wasFront = true
	}
	if buckets {
		adaptive := e.adaptive
		tooLate := func(ahead int) error { return turnTooLate(ctx, h, adaptive, ahead) }
		if err := h.turn.acquireChecked(ctx, g.closing, "host rate token", tooLate); err != nil {
			return false, err
		}
		e.turnHeld = true
	}
	if h.paused() {
		// Paused by a Retry-After while it waited: wait the pause out
		// without holding a slot or the turn, or taking tokens.
		e.giveBackHost()
		return false, nil
	}
	return true, e.inTurn(ctx, buckets, wasFront)
}

// atFront takes a global slot, at the front of the global line, and
// with it h's tokens and the global one if they are all there, or h's
// alone if only the global one is missing, and reports whether it did;
// if not, it gives the slot back.
func (e *entrant) atFront(ctx context.Context) (through bool, err error) {
	g, h := e.g, e.h
	if err := g.slots.acquire(ctx, g.closing, "global in-flight slot"); err != nil {
		return false, err
	}
	e.globalHeld = true
	if !h.paused() {
		if tokensNow(h.rate.bucket, e.adaptive, g.rate.bucket) {
			g.jitter(h)
			e.globalToken = true
			return true, nil
		}
		if g.rate.bucket != nil && tokensNow(h.rate.bucket, e.adaptive, nil) {
			// Only the global token is missing: h's are taken, and the
			// global one waited for in its line, as any call waits for
			// it (see take's note on the global rate contended too).
			g.jitter(h)
			e.banked = true
			return true, nil
		}
	}
	g.slots.releaseTicket()
	e.globalHeld = false
	return false, nil
}

// inTurn waits for h's tokens, holding h's turn if buckets says h's rates
// are token buckets, then for a global slot, at the front of the global
// line if wasFront.
func (e *entrant) inTurn(ctx context.Context, buckets, wasFront bool) error {
	g, h := e.g, e.h
	if err := g.hostTokens(ctx, h, e.adaptive); err != nil {
		return err
	}
	g.jitter(h) // while the call has the turn: no other call of this Fetcher's has reserved h's next token
	if e.turnHeld {
		h.turnHas.Store(true)
	}
	acquire := g.slots.acquire
	if wasFront {
		acquire = g.slots.acquireFront
	}
	if err := acquire(ctx, g.closing, "global in-flight slot"); err != nil {
		return err
	}
	e.globalHeld, e.banked = true, buckets
	if e.turnHeld {
		// The global token is waited for in its own line, as every
		// call waits for it: h's next caller may go on.
		h.releaseTurn()
		e.turnHeld = false
	}
	return nil
}

// pass takes the global token, unless taken already, and lets the call
// through with its slots.
func (e *entrant) pass(ctx context.Context) error {
	g, h := e.g, e.h
	if !e.globalToken {
		if err := g.rate.wait(ctx, g, "global"); err != nil {
			return err
		}
	}
	if e.banked {
		retake(h.rate.bucket)
		retake(e.adaptive)
	}
	e.passed = true
	g.slots.send()
	if h.slots != nil {
		h.slots.send()
	}
	return nil
}

// giveBackHost gives back h's turn and h's slot, if held.
func (e *entrant) giveBackHost() {
	if e.turnHeld {
		e.h.releaseTurn()
		e.turnHeld = false
	}
	if e.hostHeld {
		e.h.slots.releaseTicket()
		e.hostHeld = false
	}
}

// end gives back h's turn, if held, and, unless the call passed, the
// slots it holds.
func (e *entrant) end() {
	if e.turnHeld {
		e.h.releaseTurn()
	}
	if e.passed {
		return
	}
	if e.globalHeld {
		e.g.slots.releaseTicket()
	}
	if e.hostHeld {
		e.h.slots.releaseTicket()
	}
}

// turnTooLate refuses at once, as tooLate does, a call with a deadline
// that must wait for its turn at h's tokens (see host.turn) behind ahead
// others, if its token would come after the deadline: those ahead take one
// token each of every bucket first. It is called under the turn's lock, as
// the call joins the line, so that ahead is its place in it.
func turnTooLate(ctx context.Context, h *host, adaptive *rate.Limiter, ahead int) error {
	if _, ok := ctx.Deadline(); !ok {
		return nil
	}
	now := time.Now()
	for i, l := range [2]*rate.Limiter{h.rate.bucket, adaptive} {
		if l == nil {
			continue
		}
		due, ok := tokenDue(l, now)
		if !ok {
			continue
		}
		n := ahead
		if !due.After(now) && !h.turnHas.Load() {
			n++ // the turn's holder has yet to take the token that is there
		}
		due = due.Add(time.Duration(min(float64(n)/float64(l.Limit())*float64(time.Second), 1<<62)))
		if pastDeadline(ctx, due) {
			what := [2]string{"host", "host's adaptive"}[i]
			return fmt.Errorf("waiting for %s rate token: %w", what, waitTooLong(due.Sub(now)))
		}
	}
	return nil
}

// jitter varies the interval before h's next rate token, once the call
// has taken one, if h's bucket is varied (see [WithHostRateJitter]).
func (g *gates) jitter(h *host) {
	if g.hosts.jitterRate > 0 {
		g.hosts.rejitter(h, &clock{})
	}
}

// hostTokens waits for h's tokens: its rate's, then its adaptive rate's
// or ramp's (adaptive).
func (g *gates) hostTokens(ctx context.Context, h *host, adaptive *rate.Limiter) error {
	if err := h.rate.wait(ctx, g, "host"); err != nil {
		return err
	}
	if adaptive != nil {
		return rateGate{bucket: adaptive}.wait(ctx, g, "host's adaptive")
	}
	return nil
}

// tokensNow takes a token from each of a, b and c that is not nil, and
// reports true, if each holds one now; otherwise it takes none. A bucket
// others wait in line for holds none (see tokenWaits).
func tokensNow(a, b, c *rate.Limiter) bool {
	now := time.Now()
	buckets := [3]*rate.Limiter{a, b, c}
	last := lastBucket(buckets)
	var taken [3]rate.Reservation
	var took [3]bool
	for i, l := range buckets {
		if l == nil {
			continue
		}
		if i == last {
			// The last token needs no reservation to give back: it is
			// taken only if it is there, and then nothing is given back.
			took[i] = l.AllowN(now, 1)
		} else {
			took[i], _ = takeToken(l, now, &taken[i])
		}
		if !took[i] {
			for j := i - 1; j >= 0; j-- {
				if took[j] {
					taken[j].CancelAt(now)
				}
			}
			return false
		}
	}
	return true
}

// retake takes another token from l, if l is not nil and is full: it has
// filled since its token was taken, so it no longer counts that token.
func retake(l *rate.Limiter) {
	if l != nil && l.Burst() > 0 && l.Tokens() >= float64(l.Burst()) {
		l.Allow()
	}
}

// tooLate refuses at once, as the token's own wait would, a call with a
// deadline whose host, adaptive or global token is due after it, before
// the call waits for a slot only to be refused then (a Get's fail-fast,
// which took the tokens before the slots).
func (g *gates) tooLate(ctx context.Context, h *host) error {
	if _, ok := ctx.Deadline(); !ok {
		return nil
	}
	var adaptive *rate.Limiter
	if p := h.pace(); p != nil {
		adaptive = p.lim
	}
	now := time.Now()
	for i, l := range [3]*rate.Limiter{h.rate.bucket, adaptive, g.rate.bucket} {
		if l == nil {
			continue
		}
		if due, ok := tokenDue(l, now); ok && pastDeadline(ctx, due) {
			what := [3]string{"host", "host's adaptive", "global"}[i]
			return fmt.Errorf("waiting for %s rate token: %w", what, waitTooLong(due.Sub(now)))
		}
	}
	return nil
}

// release frees the slots take or try took. Each goes to the first in
// its line, if anybody waits.
func (g *gates) release(h *host) {
	g.slots.release()
	if h.slots != nil {
		h.slots.release()
	}
}

// slotsBack takes again, for a call that gave them back for a moment,
// its slot of h and a global one, in that order as take takes them, each
// at the front of its line (see [slots.acquireFront]); the call keeps the
// rate tokens it took before.
func (g *gates) slotsBack(ctx context.Context, h *host) error {
	if h.slots != nil {
		if err := h.slots.acquireFront(ctx, g.closing, "host in-flight slot"); err != nil {
			return err
		}
	}
	if err := g.slots.acquireFront(ctx, g.closing, "global in-flight slot"); err != nil {
		if h.slots != nil {
			h.slots.releaseTicket()
		}
		return err
	}
	g.slots.send()
	if h.slots != nil {
		h.slots.send()
	}
	return nil
}

// A refusal says which gate refused an attempt that try could not let
// through at once, and so when it is worth asking again.
type refusal int

const (
	granted      refusal = iota // every gate let the attempt through
	hostInLine                  // a seat waits in line at a gate of the host's
	hostLater                   // the host is paused, or out of tokens, until a known time
	globalInLine                // a seat waits in line at a global gate
	globalLater                 // the global bucket is out of tokens until a known time
	mustWait                    // a Limiter that can only be waited for (or a bucket no try can take from: see waitOnly) gates the host or all hosts
)

// try takes, without waiting, everything one attempt to h needs: h's slot
// and a global one, then h's tokens (its rate's and its adaptive rate's)
// and a global one. The seats are the scheduler's: hs for h's gates, gs
// for the global ones (see [hostSeats]).
//
// A slot that is not free, or that others wait for, the seat waits for in
// the slots' line, and is given at its turn; a token likewise, when calls
// wait in the bucket's line (see [tokenWaits]). try then refuses with
// hostInLine or globalInLine, and the scheduler tries again once the seat
// is given what it waited for, which wakes it. A bucket without a token
// and without a line refuses with hostLater or globalLater and the time
// its next token is due. What a seat was given in line it keeps until the
// attempt it is for passes every gate; what try took itself it gives back
// when a later gate refuses: a slot, and a token, by cancelling its
// reservation, so that such a refused try leaves every bucket as it found
// it, and a token taken is sent at once. Once every gate lets the attempt
// through, it holds the slots, and the seats are empty, and the interval
// before h's next rate token is varied, if h's rate is jittered (see
// [WithHostRateJitter]).
//
// Only [*rate.Limiter] buckets can be tried, and only while they have a
// positive limit and burst (see waitOnly); a host or global gate that is
// some other [Limiter], or a bucket without a token that is not such,
// makes try refuse with mustWait, and the attempt must wait for its gates
// with take.
func (g *gates) try(h *host, hs *hostSeats, gs *globalSeats, c *clock) (refusal, time.Time) {
	if until := h.pausedUntil.Load(); until != 0 && until > c.now().UnixNano() {
		return hostLater, time.Unix(0, until)
	}
	if h.rate.other != nil || g.rate.other != nil {
		return mustWait, time.Time{}
	}
	var tookHost bool
	if h.slots != nil {
		took, ok := hs.slot.claim(h.slots)
		if !ok {
			return hostInLine, time.Time{}
		}
		tookHost = took
	}
	tookGlobal, ok := gs.slot.claim(g.slots)
	if !ok {
		if tookHost {
			hs.slot.leave(h.slots)
		}
		return globalInLine, time.Time{}
	}
	if why, due := g.tryTokens(h, hs, gs, c); why != granted {
		if tookHost {
			hs.slot.leave(h.slots)
		}
		if tookGlobal {
			gs.slot.leave(g.slots)
		}
		return why, due
	}
	if g.hosts.jitterRate > 0 {
		g.hosts.rejitter(h, c)
	}
	hs.passed(h)
	gs.passed(g)
	return granted, time.Time{}
}

// tryTokens takes the tokens of try's attempt: h's, then the adaptive
// rate's or ramp's, then a global one. A seat that was given its bucket's
// token in line takes none.
func (g *gates) tryTokens(h *host, hs *hostSeats, gs *globalSeats, c *clock) (why refusal, due time.Time) {
	var adaptive *rate.Limiter
	if p := h.pace(); p != nil {
		adaptive = p.lim
	}
	buckets := [3]*rate.Limiter{h.rate.bucket, adaptive, g.rate.bucket}
	seats := [3]*tokenSeat{&hs.rate, &hs.adaptive, &gs.rate}
	var taken [3]rate.Reservation
	var took [3]bool
	last := lastBucket(buckets)
	for i, l := range buckets {
		if l == nil {
			continue
		}
		st := seats[i]
		if st.sit(); st.state == seated && !waitOnly(l) {
			// Given its token at its turn; a bucket the caller has made
			// waitOnly since (a burst set to 0, which gives the turn no
			// token: see tokenWaits.turn) sends the request to the gates'
			// own refusal below.
			continue
		}
		if st.state == inLine {
			why = hostInLine
			if i == 2 {
				why = globalInLine
			}
			break
		}
		at := c.takeAt(l, i == 2)
		if i == last {
			// The last bucket: take its token with AllowN, which needs no
			// reservation to give back, as no later bucket can refuse.
			if allowAt(l, at, c.now()) {
				continue
			}
			var ok bool
			if due, ok = tokenDue(l, c.now()); ok && !due.After(c.now()) {
				due = c.now().Add(time.Millisecond) // lost a race for the token: look again soon
			}
		} else if took[i], due = takeTokenAt(l, at, c.now(), &taken[i]); took[i] {
			continue
		}
		switch {
		case waitOnly(l):
			why, due = mustWait, time.Time{}
		case g.waits.queue(l, &st.ticket):
			st.state = inLine
			why, due = hostInLine, time.Time{}
			if i == 2 {
				why = globalInLine
			}
		case i == 2:
			why = globalLater
		default:
			why = hostLater
		}
		break
	}
	if why != granted {
		for i := len(taken) - 1; i >= 0; i-- {
			if took[i] {
				taken[i].CancelAt(c.now())
			}
		}
	}
	return why, due
}

// lastBucket returns the index of the last bucket of buckets that is not
// nil, or -1 if all are.
func lastBucket(buckets [3]*rate.Limiter) int {
	for i := len(buckets) - 1; i >= 0; i-- {
		if buckets[i] != nil {
			return i
		}
	}
	return -1
}

// waitOnly reports whether l, a bucket of the caller's, has a limit or
// burst that no try can take a token from, nor say when one is due: a
// limit of 0, or a burst of 0 under a finite limit. Waiting for it fails
// at once (as [rate.Limiter.Wait] does), or, if the caller changes it
// meanwhile, passes as the caller meant. As with a [Limiter] of the
// caller's, the requests of a batch or stream may reach it out of input
// order.
func waitOnly(l *rate.Limiter) bool {
	if l == nil || l.Limit() == rate.Inf {
		return false
	}
	return !(l.Limit() > 0) || l.Burst() < 1
}

// A clock reads the time once, when first asked, so that a scheduler's
// tries read it only if a gate needs it.
//
// It also tells when a token may be taken as of (see takeAt): hostDue and
// globalDue, if not zero, are the times the host's tokens and the global
// one were due at, which the scheduler's try comes to late only by the
// time its alarm took to wake a parked worker (see scheduler.rang).
type clock struct {
	t                  time.Time
	hostDue, globalDue time.Time
}

func (c *clock) now() time.Time {
	if c.t.IsZero() {
		c.t = time.Now()
	}
	return c.t
}

// maxLate bounds how far back takeAt dates a token: the latency of a
// parked worker's wake-up, with room for a loaded machine.
const maxLate = 2 * time.Millisecond

// takeAt returns the time to take a token from l, the global bucket or
// one of the host's, as of: now, or, if l has a burst of 1 and the
// scheduler comes late to the time its token was due at, that time, at
// most maxLate back.
//
// A bucket of burst 1 keeps no more than one token, so a token taken late
// by the wake-up's latency loses that much of the rate, every time: at
// 1,000 a second, a wake-up 300 µs late each time gives 770 a second.
// Taken as of its due time, as [rate.Limiter.Wait]'s reservations are,
// it loses nothing. That is sound while no token was taken from l since
// due: the bucket then held its token from due on, untouched or touched
// without a token leaving it. A token taken since leaves l empty as of
// due, which then refuses, and try asks again as of now (see allowAt).
// Buckets of larger bursts lose nothing to a late take, and are taken
// from as of now.
func (c *clock) takeAt(l *rate.Limiter, global bool) time.Time {
	due := c.hostDue
	if global {
		due = c.globalDue
	}
	now := c.now()
	if due.IsZero() || now.Sub(due) > maxLate || l.Burst() != 1 {
		return now
	}
	return due
}

// takeTokenAt is takeToken as of at, a time no later than now, before
// which no token may have been taken from l (see clock.takeAt): if l has
// none as of at, it asks again as of now.
func takeTokenAt(l *rate.Limiter, at, now time.Time, r *rate.Reservation) (bool, time.Time) {
	if at.Before(now) {
		if took, _ := takeToken(l, at, r); took {
			return true, time.Time{}
		}
	}
	return takeToken(l, now, r)
}

// allowAt takes a token from l, as of at if it has one then, else as of
// now (see takeTokenAt), and reports whether it did.
func allowAt(l *rate.Limiter, at, now time.Time) bool {
	return at.Before(now) && l.AllowN(at, 1) || l.AllowN(now, 1)
}

// takeToken takes a token from l if one is there at now, putting its
// reservation in *r, and reports true; otherwise it takes nothing and
// returns when the next token is due.
func takeToken(l *rate.Limiter, now time.Time, r *rate.Reservation) (bool, time.Time) {
	if l.TokensAt(now) < 1 {
		if due, ok := tokenDue(l, now); ok && due.After(now) {
			return false, due
		}
	}
	*r = *l.ReserveN(now, 1)
	if d := r.DelayFrom(now); !r.OK() || d > 0 {
		r.CancelAt(now)
		return false, now.Add(d)
	}
	return true, time.Time{}
}

// admit passes call c through its host's gates for an attempt, unless it
// holds them already (a scheduler passed them for its first attempt): a
// retry's send check first (see withSendCheck: a crawl's Crawl-delay), its
// policies' prechecks next (an open circuit breaker refuses at once), then
// its pause, slot and rate, and the global ones (see [gates.take]); then
// the host's policies admit it, so that a circuit breaker decides just
// before it is sent.
func (f *Fetcher) admit(c *call) error {
	if c.panicked != nil {
		return c.panicked
	}
	if c.n > 0 { // a retry: the call's own check vets it, as it vets a redirect
		if check := c.sendCheck(); check != nil {
			if err := check(c.req); err != nil {
				return err
			}
		}
	}
	for _, p := range c.origin.policies {
		if err := p.precheck(c); err != nil {
			return err
		}
	}
	if c.held {
		// The scheduler took the gates for the call; its context may have
		// ended since, as pass checks once it holds them.
		if err := c.Err(); err != nil {
			return err
		}
		c.waited = 0
	} else {
		var t time.Time
		if f.timed {
			t = time.Now()
		}
		if c.watch != nil {
			c.watch.atGates(true)
		}
		err := f.pass(c, c.h)
		if c.watch != nil {
			c.watch.atGates(false)
		}
		if err != nil {
			return err
		}
		if f.timed {
			c.waited = time.Since(t)
		}
		c.held = true
	}
	for _, p := range c.origin.policies {
		if err := p.admit(c); err != nil {
			return err
		}
	}
	return nil
}

// pass waits at h's gates and the global ones, under ctx (see
// [gates.take]).
func (f *Fetcher) pass(ctx context.Context, h *host) error {
	if ctx.Err() != nil {
		// Ended before it came to the gates (a batch's request that
		// waited in its host's queue): no gate is to blame.
		return contextError(ctx)
	}
	f.stats.waiting.Add(1)
	defer f.stats.waiting.Add(-1)
	for {
		if err := f.gates.take(ctx, h); err != nil {
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
