package fetch

import (
	"container/heap"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// DefaultReadAhead is how many inputs the batch, streaming and crawl calls
// read ahead of the requests in flight, at least; see [WithReadAhead].
const DefaultReadAhead = 4096

// A scheduler runs the requests of one call that makes many of them (a
// batch, a stream, a crawl) on a fixed set of workers, fairly across hosts.
//
// Inputs are read ahead into one FIFO queue per host. A worker asking for
// work gets the first request of the first host, in round-robin order, whose
// gates let it through now: the scheduler takes the host's slot and tokens
// and the global ones without waiting (see [gates.try]), so a request
// waiting for its host holds no worker, no goroutine and no global slot or
// token that a request to another host could use. A host that refuses is
// set aside until it may accept: until the time its next token is due or
// its pause ends, until one of this call's requests to it finishes, or,
// when a slot held elsewhere refused it, until its seat in that slot's
// line is given a slot (see [seat]): so the scheduler waits its turn with
// the calls of other goroutines, and is neither starved by them nor
// starves them. A worker that finds no host ready sleeps until the
// earliest of those, or a new input.
//
// Requests within one host go in input order. Memory is bounded by the
// read-ahead. Inputs are read ahead only as far as needed: a buffer of
// twice the workers while they are all busy, and more, up to the
// read-ahead, while a worker is idle because no queued request's host can
// take it. So inputs not yet needed are not read, and a caller that stops
// its input stops new work soon.
type scheduler[P any] struct {
	f         *Fetcher
	ctx       context.Context // the call's: once it ends, queued jobs go at once, to fail
	hostCap   int             // requests of this call running per host; 0: no cap
	readAhead int             // the most jobs queued
	buffer    int             // the jobs queued while every worker is busy
	// check, if not nil, vets a host's next job just before it would be
	// dispatched; a job it fails goes to a worker at once, carrying the
	// error, without passing the gates.
	check func(*job[P]) error

	mu      sync.Mutex
	queues  map[string]*hostQueue[P] // hosts with jobs queued or running
	ready   deque[*hostQueue[P]]     // hosts to try, in round-robin order
	timed   timedQueues[P]           // hosts refused until a known time
	starved []*hostQueue[P]          // hosts with a seat waiting in line (see [hostSeats])
	direct  deque[job[P]]            // jobs that pass no gates: bad inputs and vetoed ones
	// globalDue and globalBusy record that a global gate refused: no host
	// can go until globalDue, or until the global seat, which waits in
	// line, is given what it waits for.
	globalDue  time.Time
	globalBusy bool
	global     globalSeats
	given      atomic.Bool  // a seat's ticket had its turn since next looked
	give       func()       // every ticket's wake-up: sets given and kicks
	takeSlot   func() bool  // a slot ticket's take: takes the slot if a worker is parked
	slotWake   func(bool)   // a slot ticket's wake
	idle       atomic.Int32 // parked, for the slots' tickets to read
	workers    atomic.Int32 // in work
	waiting    atomic.Int32 // workers whose call waits at the gates (see atGates)
	mayHold    atomic.Bool  // a seat may hold a slot: set as one is taken at its turn, cleared by dropHeld
	// holding lists the queues whose seats may hold a host slot given at
	// their turn, kept while a later gate refused: see dropHeld.
	holding   []*hostQueue[P]
	sweepHeld int         // the length at which hold sweeps holding
	seatsLeft bool        // the seats were left for good: the call's jobs go without the gates
	queued    int         // jobs queued, in host queues and direct
	holds     int         // sources that may still add jobs; the call ends when none is left and nothing is queued
	parked    int         // workers asleep in take
	stopped   bool        // stop was called: every worker leaves and queued jobs are dropped
	halted    atomic.Bool // stopped, for reading without the lock
	// cancelled is set once the call's context has ended: from then on,
	// queued jobs go at once, without the gates, to fail.
	cancelled atomic.Bool
	// sawClosed is set once next has seen the Fetcher shut down, and so let
	// every queued job go: from then on a park need not wake for it.
	sawClosed bool
	unwatch   func() bool // stops the watch that sets cancelled
	wantSpace bool        // push is waiting for the queue to drain
	// setAside is set when a host is set aside (timed or starved) and
	// cleared when a worker parks: while it is set, the parked workers'
	// timers and wake-ups may not cover every host set aside.
	setAside bool

	// paceOf, if set, returns the pace of host name's queue when it is
	// made, or when next finds it without one (see hostQueue.pace): a
	// queue left empty is dropped, and its host's pace outlives it there.
	paceOf func(name string) *rate.Limiter
	// repace, if set, is told when a job to host name has taken a token
	// from its queue's pace, at now, for the next token's time to be
	// varied (see robotsCache.jitterPace).
	repace func(name string, now time.Time)

	wake  chan struct{} // cap 1: a parked worker should look again
	space chan struct{} // cap 1: push may go on
	done  chan struct{} // closed by stop
	over  chan struct{} // closed when the call has no job left to give out, or stop is called (see standby)
	ended bool          // over is closed

	// alarm kicks one parked worker at alarmAt, the earliest time a host
	// or the global gate is due (see park): one timer for all of them, so
	// that a due time wakes one worker, not every parked one. alarmAt is
	// zero while it is not set.
	alarm   *time.Timer
	alarmAt time.Time
	// rang is the time the alarm last rang for while a worker was parked
	// to answer it, until next has looked: a host, or the global gate,
	// due by then is tried late only by the wake-up's latency, and takes
	// its token as of its due time (see clock.takeAt).
	rang time.Time
}

// A handOff is what a scheduler's worker gives the call it runs a job as:
// the host whose gates the scheduler passed for the job's first attempt
// (nil if none), and the scheduler, to tell when the call waits at the
// gates on the worker. jarless, set by a crawl for its robots.txt
// requests, has the call sent without the client's cookie jar (see
// Fetcher.jarless).
type handOff struct {
	held    *host
	watch   gateWatcher
	jarless bool
}

// A gateWatcher is told when a call run by one of its workers starts and
// stops waiting at the gates (a retry, a redirect's hop, a first attempt
// that must wait, a crawl's robots.txt fetch).
type gateWatcher interface {
	atGates(waiting bool)
}

// A job is one input, made into a request and queued for its host.
type job[P any] struct {
	index int           // the input's position
	req   *http.Request // nil if err is set
	text  string        // the URL to report; "" for req's own, redacted (see requester)
	err   error         // the input could not be made into a request, or check refused it
	q     *hostQueue[P] // nil for a direct job
	data  P             // what the caller keeps with the job
	// rc, if not nil, is req's context, made of the call's and the
	// request's own: released when the job's result is delivered, or
	// when the job is dropped (see withRequest).
	rc *requestContext
}

// A hostQueue holds one host's queued jobs and what the scheduler knows of
// the host's readiness.
type hostQueue[P any] struct {
	name    string
	h       *host // the Fetcher's gates for the host, referenced while the queue exists
	jobs    deque[job[P]]
	running int
	state   queueState
	due     time.Time // in timed: when to try again
	index   int       // in timed: its place in the heap
	late    time.Time // its due time, if the alarm rang for it (see scheduler.rang), until try looks
	// pace, set by unblock or, for a queue made again or one still without
	// it, by the scheduler's paceOf, is a token bucket of this call's own
	// that every job to the host takes from (a crawl's Crawl-delay).
	pace    *rate.Limiter
	blocks  int // block calls not yet matched by unblock: no job is dispatched while any is
	seats   hostSeats
	holding bool // in the scheduler's holding list
}

type queueState uint8

const (
	idle    queueState = iota // no job queued
	ready                     // in ready
	timed                     // in timed
	starved                   // in starved
	capped                    // waiting for one of this call's requests to it to finish
	held                      // blocked by the caller
)

func newScheduler[P any](ctx context.Context, f *Fetcher, holds int) *scheduler[P] {
	s := &scheduler[P]{
		f:         f,
		ctx:       ctx,
		hostCap:   f.hostConcurrency,
		readAhead: f.readAhead,
		buffer:    min(f.readAhead, 2*f.gates.slots.size),
		queues:    make(map[string]*hostQueue[P]),
		holds:     holds,
		wake:      make(chan struct{}, 1),
		space:     make(chan struct{}, 1),
		done:      make(chan struct{}),
		over:      make(chan struct{}),
	}
	s.give = func() {
		s.given.Store(true)
		s.kick()
		if s.mayHold.Load() && s.stuck() {
			go s.unstick() // rare: a seat given a slot as the last worker came to wait at the gates
		}
	}
	// A slot is taken at its turn only while a worker is parked, to be
	// woken to use it, or one will be back to take: a worker not waiting
	// at the gates (see atGates). A worker waiting there may be waiting
	// for the very slot, and the seat would keep it from it: while every
	// worker is out waiting so, the slot goes to the next in line, and the
	// seat lines up again when a worker is back. (unstick gives back the
	// slots seats already hold then.)
	s.takeSlot = func() bool {
		if s.idle.Load() > 0 || s.waiting.Load() < s.workers.Load() {
			s.mayHold.Store(true)
			return true
		}
		return false
	}
	// mayHold is set again once the ticket's given flag is: a dropHeld
	// between takeSlot and then, which cleared it, did not see the slot.
	s.slotWake = func(took bool) {
		if took {
			s.mayHold.Store(true)
		}
		s.give()
	}
	s.global.setGive(s.takeSlot, s.give, s.slotWake)
	s.unwatch = context.AfterFunc(ctx, func() {
		s.cancelled.Store(true)
		s.kick()
	})
	return s
}

// push queues j for its host, waiting while the read-ahead is full (see
// full). It reports false, queuing nothing, once stop has been called.
func (s *scheduler[P]) push(j job[P]) bool { return s.add(j, true) }

// pushNow is push without the wait, for a job that must not wait for the
// queue to drain: one added by the goroutine that consumes the results.
func (s *scheduler[P]) pushNow(j job[P]) bool { return s.add(j, false) }

func (s *scheduler[P]) add(j job[P], wait bool) bool {
	s.mu.Lock()
	for wait && s.full() && !s.stopped {
		s.wantSpace = true
		s.mu.Unlock()
		select {
		case <-s.space:
		case <-s.done:
		}
		s.mu.Lock()
	}
	if s.stopped {
		s.mu.Unlock()
		return false
	}
	s.enqueue(j)
	wake := s.parked > 0
	s.mu.Unlock()
	if wake {
		s.kick()
	}
	return true
}

// enqueue queues j. s.mu is held.
func (s *scheduler[P]) enqueue(j job[P]) {
	s.queued++
	s.f.stats.waiting.Add(1)
	if j.err != nil || validate(j.req) != nil {
		s.direct.push(j) // do reports what is wrong with it
		return
	}
	q := s.queue(hostKey(j.req.URL))
	j.q = q
	q.jobs.push(j)
	if q.state == idle {
		s.setReady(q)
	}
}

// queue returns the queue for host name, making it if there is none.
// s.mu is held.
func (s *scheduler[P]) queue(name string) *hostQueue[P] {
	q := s.queues[name]
	if q == nil {
		q = &hostQueue[P]{name: name, h: s.f.gates.hosts.get(name), index: -1}
		if s.paceOf != nil {
			q.pace = s.paceOf(name)
		}
		q.seats.setGive(s.takeSlot, s.give, s.slotWake)
		s.queues[name] = q
	}
	return q
}

// release drops one of the holds newScheduler took; once none is
// left and nothing is queued, the workers leave.
func (s *scheduler[P]) release() {
	s.mu.Lock()
	s.holds--
	if s.holds == 0 && s.queued == 0 {
		s.end() // nothing was queued, or all was given out: no take may come to see it
	}
	s.mu.Unlock()
	s.kick()
}

// stop makes every worker leave after the job it is running, and push
// refuse from then on. Jobs still queued are dropped.
func (s *scheduler[P]) stop() {
	var unsent []*http.Request // closed once s.mu is released: a body's Close may block
	var merged []*requestContext
	defer func() {
		for _, req := range unsent {
			closeUnsent(req)
		}
		for _, rc := range merged {
			rc.release()
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	s.halted.Store(true)
	s.unwatch()
	s.f.stats.waiting.Add(-int64(s.queued))
	s.queued = 0
	s.unseat()
	for _, q := range s.queues {
		if q.running == 0 { // else the last finish puts it
			s.f.gates.hosts.put(q.h)
		}
		for q.jobs.len() > 0 {
			unsent, merged = dropJob(q.jobs.pop(), unsent, merged) // never sent
		}
	}
	for s.direct.len() > 0 {
		unsent, merged = dropJob(s.direct.pop(), unsent, merged)
	}
	s.queues = nil
	close(s.done)
	s.end()
}

// dropJob adds what a job dropped unsent leaves to close and release: its
// request, if it has a body, and its context, if it was made for it.
func dropJob[P any](j job[P], unsent []*http.Request, merged []*requestContext) ([]*http.Request, []*requestContext) {
	if j.req != nil && j.req.Body != nil {
		unsent = append(unsent, j.req)
	}
	if j.rc != nil {
		merged = append(merged, j.rc)
	}
	return unsent, merged
}

// isStopped reports whether stop has been called.
func (s *scheduler[P]) isStopped() bool { return s.halted.Load() }

// take records that done, the job take last returned to this worker (nil
// for none), has run, and returns the next job to run and, if the gates
// for its first attempt are already passed, its host (if nil, the call must
// pass them itself); or ok false when the call is over: stopped, or no job
// queued and no hold left. It sleeps while no host can take a request.
func (s *scheduler[P]) take(done *job[P]) (j job[P], held *host, ok bool) {
	s.mu.Lock()
	if done != nil {
		s.finish(done)
	}
	for {
		if s.stopped {
			s.mu.Unlock()
			s.kick()
			return j, nil, false
		}
		var admitted bool
		if j, admitted, ok = s.next(new(clock)); ok {
			s.queued--
			s.f.stats.waiting.Add(-1)
			if s.queued <= s.buffer/2 || s.starving() && s.queued < s.readAhead {
				s.room()
			}
			// Wake another worker if it may find work, or if hosts were
			// set aside that no parked worker knows when to try again.
			more := s.parked > 0 && (s.ready.len() > 0 || s.direct.len() > 0 || s.setAside)
			if s.parked > 0 {
				// The alarm may have woken this worker: it rings again for
				// the workers left parked at the next due time.
				s.setAlarm(s.due())
			}
			s.mu.Unlock()
			if more {
				s.kick() // another worker may find work too
			}
			if admitted {
				held = j.q.h
			}
			return j, held, true
		}
		if s.holds == 0 && s.queued == 0 {
			s.end()
			s.mu.Unlock()
			s.kick() // the next parked worker sees the end too
			return j, nil, false
		}
		s.park()
	}
}

// end closes over, once. s.mu is held.
func (s *scheduler[P]) end() {
	if !s.ended {
		s.ended = true
		close(s.over)
		if s.alarm != nil {
			s.alarm.Stop()
		}
	}
}

// standby is one worker more than the call's, for when Shutdown begins
// while every worker is on the wire: it sleeps until then, and then works
// as the others do, so that the call's queued jobs fail at once with
// ErrClosed rather than when a request on the wire ends. It returns once
// the call has no job left to give out.
func (s *scheduler[P]) standby(run func(j *job[P], from handOff)) {
	select {
	case <-s.f.closing:
		s.work(run)
	case <-s.over:
	}
}

// work runs the call's jobs on the calling goroutine, one of the call's
// workers, until the call is over: run gets each job and, if the gates for
// its first attempt are already passed, its host (see take).
func (s *scheduler[P]) work(run func(j *job[P], from handOff)) {
	s.workers.Add(1)
	defer s.workers.Add(-1)
	var j job[P] // outside the loop: done points at it
	var done *job[P]
	for {
		var held *host
		var ok bool
		if j, held, ok = s.take(done); !ok {
			return
		}
		done = &j
		run(&j, handOff{held: held, watch: s})
	}
}

// full reports whether push must wait: the read-ahead is full, or the
// buffer is and there is a job to try or no worker idle. So inputs are
// read far ahead only while workers are idle for want of a host that can
// take a request. s.mu is held.
func (s *scheduler[P]) full() bool {
	return s.queued >= s.readAhead || s.queued >= s.buffer && !s.starving()
}

// starving reports whether a worker is idle with no job to try. s.mu is
// held.
func (s *scheduler[P]) starving() bool {
	return s.parked > 0 && s.ready.len() == 0 && s.direct.len() == 0
}

// room lets a push that waits go on. s.mu is held.
func (s *scheduler[P]) room() {
	if s.wantSpace {
		s.wantSpace = false
		select {
		case s.space <- struct{}{}:
		default:
		}
	}
}

// park sleeps, with s.mu held on entry and exit, until something may have
// made a host ready: a kick (a new job, a seat given a slot), the earliest
// due time, or the end of the call's context. While it sleeps, push may
// read ahead up to the read-ahead.
func (s *scheduler[P]) park() {
	s.setAlarm(s.due())
	var ctxDone, closing <-chan struct{}
	if s.ctx.Err() == nil {
		ctxDone = s.ctx.Done()
	}
	if !s.sawClosed {
		// Shutdown: queued jobs are to fail at once. Even if it began
		// since next last looked, a park must wake for it.
		closing = s.f.closing
	}
	s.parked++
	s.idle.Add(1)
	s.setAside = false // this worker's timer and wake-ups cover them all
	if s.queued < s.readAhead {
		s.room()
	}
	s.mu.Unlock()
	select {
	case <-s.wake:
	case <-ctxDone:
	case <-closing:
	case <-s.done:
	}
	s.mu.Lock()
	s.parked--
	s.idle.Add(-1)
}

// due returns the earliest time a host set aside, or the global gate, is
// due; zero if none is. s.mu is held.
func (s *scheduler[P]) due() time.Time {
	due := s.globalDue
	if s.timed.Len() > 0 && (due.IsZero() || s.timed.top().due.Before(due)) {
		due = s.timed.top().due
	}
	return due
}

// setAlarm has a parked worker woken at due, unless it is zero or the
// alarm is set for earlier. The worker woken finds the hosts due then
// ready, and kicks another if there is more to do (see take); if none is
// ready, it parks again and sets the alarm for the next due time. s.mu is
// held.
func (s *scheduler[P]) setAlarm(due time.Time) {
	if due.IsZero() || !s.alarmAt.IsZero() && !due.Before(s.alarmAt) {
		return
	}
	s.alarmAt = due
	if s.alarm == nil {
		s.alarm = time.AfterFunc(time.Until(due), s.ring)
		return
	}
	s.alarm.Reset(time.Until(due))
}

// ring is the alarm going off: it is no longer set, and one parked worker
// is kicked.
func (s *scheduler[P]) ring() {
	s.mu.Lock()
	if s.parked > 0 {
		s.rang = s.alarmAt
	}
	s.alarmAt = time.Time{}
	s.mu.Unlock()
	s.kick()
}

// seated puts the hosts whose seats were given a slot back in line, and
// lets the hosts try again if the global seat was. s.mu is held.
func (s *scheduler[P]) seated() {
	if !s.given.Swap(false) {
		return
	}
	s.globalBusy = s.global.waiting()
	kept := s.starved[:0]
	for _, q := range s.starved {
		if q.seats.waiting() {
			kept = append(kept, q)
		} else {
			s.setReady(q)
		}
		s.hold(q)
	}
	clear(s.starved[len(kept):])
	s.starved = kept
}

// hold notes that q's seats may hold a slot. s.mu is held.
//
// A queue stays on the list after its seat has passed its slot on or left
// it, until dropHeld; so that the list does not grow with every host whose
// seat was ever given a slot, it is swept of those once it has doubled
// since its last sweep, at amortised O(1) a call.
func (s *scheduler[P]) hold(q *hostQueue[P]) {
	if q.seats.slot.state != seated || q.holding {
		return
	}
	if len(s.holding) >= s.sweepHeld {
		kept := s.holding[:0]
		for _, r := range s.holding {
			if r.seats.slot.state == unseated {
				r.holding = false // holds nothing, and is in no line
			} else {
				kept = append(kept, r)
			}
		}
		clear(s.holding[len(kept):])
		s.holding = kept
		s.sweepHeld = max(minSweep, 2*len(kept))
	}
	q.holding = true
	s.holding = append(s.holding, q)
}

// atGates counts the workers that wait where the scheduler's seats may be
// in their way: their call at the gates (a retry, a redirect's hop, a first
// attempt that must wait, a robots.txt fetch), or for a loop body, which
// may itself be waiting at the gates, to take their result. When the last
// worker comes to wait so, with none parked, no worker is left to use a
// slot the seats hold, and the waiters may be waiting for it: the seats
// give their slots back (see unstick).
func (s *scheduler[P]) atGates(waiting bool) {
	if !waiting {
		s.waiting.Add(-1)
		return
	}
	s.waiting.Add(1)
	if s.mayHold.Load() && s.stuck() {
		s.unstick()
	}
}

// stuck reports whether every worker is out, its call waiting at the gates.
func (s *scheduler[P]) stuck() bool {
	return s.idle.Load() == 0 && s.waiting.Load() >= s.workers.Load()
}

// unstick gives back the slots the seats hold, if every worker is still
// out waiting at the gates.
func (s *scheduler[P]) unstick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped && s.parked == 0 && s.stuck() {
		s.dropHeld()
	}
}

// dropHeld gives back the slots that seats hold for a later try, given at
// their turn, the global one included. s.mu is held.
func (s *scheduler[P]) dropHeld() {
	s.mayHold.Store(false) // before looking: a slot taken from now on sets it again
	// A ticket given its slot since next last looked (next hands out a
	// direct job before it looks at the seats) holds it too.
	s.seated()
	if s.global.slot.sit(); s.global.slot.state == seated {
		s.global.slot.leave(s.f.gates.slots)
	}
	for _, q := range s.holding {
		if q.seats.slot.state == seated {
			q.seats.slot.leave(q.h.slots)
		}
		q.holding = false
	}
	clear(s.holding)
	s.holding = s.holding[:0]
}

// unseat gives up every seat's claim: places in line and the slots given
// to them. It is for when no job will pass the gates here again: the call
// is stopped, or its jobs go to fail without them. s.mu is held.
func (s *scheduler[P]) unseat() {
	s.global.leave(&s.f.gates)
	s.globalBusy = false
	for _, q := range s.queues {
		q.seats.leave(&s.f.gates, q.h)
	}
	for _, q := range s.starved {
		s.setReady(q)
	}
	clear(s.starved)
	s.starved = s.starved[:0]
}

// next picks the job to run now, if any: ok false when none can go. A
// job admitted holds its slots and tokens; one that is not goes to wait in
// the gates' own lines, or to fail. s.mu is held.
func (s *scheduler[P]) next(c *clock) (j job[P], admitted, ok bool) {
	if s.direct.len() > 0 {
		return s.direct.pop(), false, true
	}
	cancelled := s.isCancelled()
	rang := s.rang
	s.rang = time.Time{}
	for s.timed.Len() > 0 && (cancelled || !s.timed.top().due.After(c.now())) {
		q := heap.Pop(&s.timed).(*hostQueue[P])
		if !q.due.After(rang) {
			q.late = q.due
		}
		s.setReady(q)
	}
	if cancelled {
		j, ok = s.nextCancelled(c)
		return j, false, ok
	}
	s.seated()
	if s.globalBusy || !s.globalDue.IsZero() && s.globalDue.After(c.now()) {
		return j, false, false
	}
	if !s.globalDue.IsZero() && !s.globalDue.After(rang) {
		c.globalDue = s.globalDue
	}
	s.globalDue = time.Time{}
	defer s.endPass()
	for n := s.ready.len(); n > 0; n-- {
		switch j, admitted, v := s.try(s.ready.pop(), c); v {
		case dispatched:
			return j, admitted, true
		case passOver:
			return j, false, false
		}
	}
	return j, false, false
}

// isCancelled reports whether every job left is to fail at once, and so
// go without the gates: the call's context has ended or the Fetcher is
// shut down. s.mu is held.
func (s *scheduler[P]) isCancelled() bool {
	closed := s.f.closed.Load()
	s.sawClosed = s.sawClosed || closed
	if s.cancelled.Load() || closed {
		return true
	}
	if s.ctx.Err() != nil {
		// Ended before the watch has run (it runs on a goroutine of its
		// own): no job may take a token or a slot now.
		s.cancelled.Store(true)
		return true
	}
	return false
}

// nextCancelled is next once the call is cancelled: the next ready job
// goes, without the gates, to fail. s.mu is held.
func (s *scheduler[P]) nextCancelled(c *clock) (j job[P], ok bool) {
	// The gates no longer count, nor does when the global bucket
	// refills: a park must not wake for that time, which passes.
	s.globalDue = time.Time{}
	if !s.seatsLeft {
		s.unseat()
		s.seatsLeft = true
	}
	if s.ready.len() == 0 {
		return j, false
	}
	q := s.ready.pop()
	j = s.dispatch(q, false)
	if q.pace == nil || j.req == nil {
		return j, true
	}
	if err := j.req.Context().Err(); err != nil {
		if due, ok := tokenDue(q.pace, c.now()); ok && due.After(c.now()) {
			// Its context ended while it waited for the pace.
			j.err = fmt.Errorf("waiting for the host's Crawl-delay: %w", err)
		}
	}
	return j, true
}

// endPass ends a pass of next. A global slot held by the global seat is
// for this pass: if no host could use it, it goes to whoever is next in
// line. So is a global token given at its turn: sent at a later pass,
// after the tokens taken meanwhile, it would put the global rate over its
// limit on the wire; if no host could use it, it is spent unused. s.mu is
// held.
func (s *scheduler[P]) endPass() {
	if s.global.slot.state == seated {
		s.global.slot.leave(s.f.gates.slots)
	}
	if s.global.rate.state == seated {
		s.global.rate.state = unseated
	}
}

// A verdict is what try made of a host's queue.
type verdict uint8

const (
	passOn     verdict = iota // the queue waits (see queueState): try the next host
	dispatched                // its front job goes
	passOver                  // the global gates are busy: no host can go now
)

// try tries to dispatch the front job of q, just taken from the ready
// line, and puts q where it waits if it cannot go. s.mu is held.
func (s *scheduler[P]) try(q *hostQueue[P], c *clock) (j job[P], admitted bool, v verdict) {
	c.hostDue, q.late = q.late, time.Time{}
	if rc := q.jobs.front().rc; rc != nil && rc.Err() != nil {
		// The request's own context ended while it was queued: it goes
		// at once, to fail without passing the gates (see Fetcher.pass),
		// holding nothing another request could use.
		return s.dispatch(q, false), false, dispatched
	}
	if s.hostCap > 0 && q.running >= s.hostCap {
		q.state = capped
		return j, false, passOn
	}
	if s.check != nil { // before the pace: a job refused is not sent, and spends none of it
		if err := s.check(q.jobs.front()); err != nil {
			j = s.dispatch(q, false)
			j.err = err
			return j, false, dispatched
		}
	}
	if q.h.refusing() {
		// An open circuit breaker: the job is refused at once (the
		// breaker's precheck), and takes no slot, token or turn it
		// would not use. Should the breaker let it through after all
		// (half-open meanwhile), it waits in the gates' own lines.
		q.seats.leave(&s.f.gates, q.h)
		return s.dispatch(q, false), false, dispatched
	}
	var paced rate.Reservation
	tookPace, due := s.takePace(q, c, &paced)
	if q.pace != nil && !tookPace {
		if front := q.jobs.front(); front.req != nil && pastDeadline(front.req.Context(), due) {
			// Fail now, not at the deadline, as a Retry-After past it
			// does.
			j = s.dispatch(q, false)
			j.err = paceTooLate(due.Sub(c.now()))
			return j, false, dispatched
		}
		s.setTimed(q, due)
		return j, false, passOn
	}
	// The job's call is registered before it may take its slots, so
	// that Shutdown, which waits for the calls registered, cannot
	// return while it holds them (see begin). If Shutdown has begun,
	// it goes without them, to fail.
	if !s.f.enter() {
		if tookPace {
			paced.CancelAt(c.now())
		}
		return s.dispatch(q, false), false, dispatched
	}
	why, due := s.f.gates.try(q.h, &q.seats, &s.global, c)
	if why != granted {
		s.f.exit(nil)
		s.hold(q)
	}
	if tookPace && why != granted && why != mustWait {
		paced.CancelAt(c.now())
	} else if tookPace && s.repace != nil {
		s.repace(q.name, c.now()) // the job goes with its pace's token
	}
	if (why == hostLater || why == globalLater) && q.jobs.front().req != nil && pastDeadline(q.jobs.front().req.Context(), due) {
		// Its turn (the host's pause ending, or a token) comes after
		// its deadline: it goes to the gates to fail at once, as a
		// Get does, not at the deadline.
		why = mustWait
	}
	return s.place(q, why, due)
}

// takePace takes a token of q's pace into paced, if q has a pace, and
// reports whether it did, or else when the next one is due.
func (s *scheduler[P]) takePace(q *hostQueue[P], c *clock, paced *rate.Reservation) (took bool, due time.Time) {
	if q.pace == nil && s.paceOf != nil {
		q.pace = s.paceOf(q.name) // a Crawl-delay learnt since the queue was made (a redirect's robots.txt)
	}
	if q.pace == nil {
		return false, time.Time{}
	}
	return takeTokenAt(q.pace, c.takeAt(q.pace, false), c.now(), paced)
}

// place acts on why, the gates' answer for q's front job, whose turn is
// due then if it must come back: the job goes, admitted or to wait in the
// gates' own lines, or q waits where why says. s.mu is held.
func (s *scheduler[P]) place(q *hostQueue[P], why refusal, due time.Time) (j job[P], admitted bool, v verdict) {
	switch why {
	case granted:
		return s.dispatch(q, true), true, dispatched
	case mustWait:
		q.seats.leave(&s.f.gates, q.h) // the job waits in the gates' own lines
		return s.dispatch(q, false), false, dispatched
	case hostInLine:
		q.state = starved
		s.starved = append(s.starved, q)
		s.setAside = true
	case hostLater:
		s.setTimed(q, due)
	case globalInLine, globalLater:
		s.ready.pushFront(q)
		q.state = ready
		s.globalBusy, s.globalDue = why == globalInLine, due
		return j, false, passOver
	}
	return j, false, passOn
}

// paceTooLate is the refusal of a job whose host's pace (a crawl's
// Crawl-delay) has its next token due in d, after the job's context's
// deadline. It matches [context.DeadlineExceeded].
func paceTooLate(d time.Duration) error {
	return deadlineError{fmt.Errorf("waiting for the host's Crawl-delay: the next request to it is due in %v, after the context's deadline", d.Round(time.Millisecond))}
}

// dispatch takes q's first job, which is to run now. s.mu is held.
func (s *scheduler[P]) dispatch(q *hostQueue[P], admitted bool) job[P] {
	j := q.jobs.pop()
	q.running++
	q.state = idle
	if q.jobs.len() > 0 {
		s.setReady(q)
	} else {
		q.seats.leave(&s.f.gates, q.h) // nothing left to use what they hold
	}
	return j
}

// finish records that j, which take returned, has run.
// s.mu is held.
func (s *scheduler[P]) finish(j *job[P]) {
	q := j.q
	if q == nil {
		return
	}
	q.running--
	switch {
	case s.stopped:
		if q.running == 0 {
			s.f.gates.hosts.put(q.h)
		}
	case q.state == capped:
		s.setReady(q)
	case q.state == idle && q.running == 0:
		// Dropped, with its reference to the host's gates, so that the
		// Fetcher may forget an idle host; a pace outlives it in paceOf.
		delete(s.queues, q.name)
		s.f.gates.hosts.put(q.h)
	}
}

// block stops jobs to host name from being dispatched until unblock has
// been called as many times as block (a crawl blocks a host once per
// robots.txt of it being loaded: http's and https's).
func (s *scheduler[P]) block(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	q := s.queue(name)
	q.blocks++
	if q.state == ready {
		s.ready.remove(func(r *hostQueue[P]) bool { return r == q })
	}
	if q.state == timed {
		heap.Remove(&s.timed, q.index)
	}
	if q.state == starved {
		s.starved = slices.DeleteFunc(s.starved, func(r *hostQueue[P]) bool { return r == q })
	}
	q.seats.leave(&s.f.gates, q.h)
	q.state = held
}

// unblock undoes one block of host name: once none is left, its jobs are
// dispatched again. From now on each takes a token from pace, if it is not
// nil.
func (s *scheduler[P]) unblock(name string, pace *rate.Limiter) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	q := s.queue(name)
	q.blocks, q.pace = max(q.blocks-1, 0), pace
	if q.blocks == 0 && q.state == held {
		q.state = idle
		if q.jobs.len() > 0 {
			s.setReady(q)
		} else if q.running == 0 {
			// Made only to be blocked (its host's job went without it: see
			// enqueue), or not queued yet: dropped, as finish drops a
			// queue left empty, so that it pins no host's gates.
			delete(s.queues, q.name)
			s.f.gates.hosts.put(q.h)
		}
	}
	s.mu.Unlock()
	s.kick()
}

// setReady puts q, which has jobs, in line to be tried. s.mu is held.
func (s *scheduler[P]) setReady(q *hostQueue[P]) {
	if q.blocks > 0 {
		q.state = held
		return
	}
	q.state = ready
	s.ready.push(q)
}

// setTimed sets q aside until due. s.mu is held.
func (s *scheduler[P]) setTimed(q *hostQueue[P], due time.Time) {
	q.state, q.due = timed, due
	heap.Push(&s.timed, q)
	s.setAside = true
}

// kick wakes one parked worker, if any.
func (s *scheduler[P]) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// timedQueues is a min-heap of host queues by due time.
type timedQueues[P any] []*hostQueue[P]

func (t timedQueues[P]) Len() int           { return len(t) }
func (t timedQueues[P]) Less(i, j int) bool { return t[i].due.Before(t[j].due) }
func (t timedQueues[P]) Swap(i, j int)      { t[i], t[j] = t[j], t[i]; t[i].index = i; t[j].index = j }
func (t timedQueues[P]) top() *hostQueue[P] { return t[0] }
func (t *timedQueues[P]) Push(x any)        { q := x.(*hostQueue[P]); q.index = len(*t); *t = append(*t, q) }
func (t *timedQueues[P]) Pop() any {
	old := *t
	q := old[len(old)-1]
	old[len(old)-1] = nil
	*t = old[:len(old)-1]
	q.index = -1
	return q
}
