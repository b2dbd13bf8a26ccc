package fetch

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// A host holds one host's gates. It is shared by every request to that host
// and referenced from the table while any of them is running.
type host struct {
	name     string
	rate     rateGate                 // the host's rate; zero: none
	slots    *slots                   // nil: no per-host cap
	throttle *throttle                // the adaptive rate, whose bucket is one of the gates; nil if none
	ramp     atomic.Pointer[throttle] // paces the host after a pause when it has no adaptive rate (see pacing.go)
	policies []policy                 // the host's chain: adaptive rate, retry budget, circuit breaker
	refs     atomic.Int32             // requests holding h; raised from 0 only under its shard's lock

	// turn lets one single call at a time wait for the host's tokens out
	// of the global slots' line (see gates.take), so that callers waiting
	// for a global slot do not each hold a token of the host's, to go
	// together once slots come free.
	turn    slots
	turnHas atomic.Bool // the turn's holder has taken h's tokens (see turnTooLate)

	// pausedUntil (Unix nanoseconds) is when the host said, with
	// Retry-After, that it will take requests again; until then no request
	// to it is sent. One pause serves every request to the host, instead of
	// each learning of it from a 429 of its own.
	pausedUntil atomic.Int64

	// answers counts the host's answers that were not overload since
	// answersFrom (Unix nanoseconds; 0 until the first): the rate it
	// carried, for the ramp after its next pause to start from. Counted
	// only for a host without an adaptive rate, which has no ramp.
	answers, answersFrom atomic.Int64
}

// releaseTurn gives up the turn at h's tokens (see gates.take).
func (h *host) releaseTurn() {
	h.turnHas.Store(false)
	h.turn.releaseTicket()
}

// answered counts an answer of h's that was not overload.
func (h *host) answered() {
	if h.answers.Add(1) == 1 && h.answersFrom.Load() == 0 {
		h.answersFrom.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// pause holds requests to h until t, or later if already paused longer.
func (h *host) pause(t time.Time) {
	until := t.UnixNano()
	for old := h.pausedUntil.Load(); until > old && !h.pausedUntil.CompareAndSwap(old, until); old = h.pausedUntil.Load() {
	}
}

// paused reports whether h is paused now.
func (h *host) paused() bool {
	until := h.pausedUntil.Load()
	return until != 0 && time.Now().UnixNano() < until
}

// waitPause waits out h's pause, if any, or until ctx is done or closing
// is closed.
func (h *host) waitPause(ctx context.Context, closing <-chan struct{}) error {
	until := h.pausedUntil.Load()
	if until == 0 {
		return nil
	}
	if d := time.Until(time.Unix(0, until)); d > 0 {
		if deadline, ok := ctx.Deadline(); ok && deadline.Before(time.Unix(0, until)) {
			// Fail now, not at the deadline, as a Retry-After past it does.
			return fmt.Errorf("the host's Retry-After pause ends in %v, after the context deadline: %w",
				d.Round(time.Millisecond), context.DeadlineExceeded)
		}
		if err := sleepOrClose(ctx, closing, d); err != nil {
			return fmt.Errorf("waiting %v for the host's Retry-After: %w", d.Round(time.Millisecond), err)
		}
	}
	return nil
}

// refusing reports whether one of h's policies would refuse a call to it
// at once, before it waits at any gate: an open circuit breaker.
func (h *host) refusing() bool {
	for _, p := range h.policies {
		if p.refusing() {
			return true
		}
	}
	return false
}

// idle reports whether h may be dropped: a fresh host in its place would
// behave the same, or more cautiously. A pause, a token bucket that is not
// full, and a policy that is not forgettable (a learned adaptive rate, a
// retry budget's recent retries, a breaker that is not closed) are kept.
func (h *host) idle() bool {
	if time.Now().UnixNano() < h.pausedUntil.Load() {
		return false
	}
	for _, p := range h.policies {
		if !p.forgettable() {
			return false
		}
	}
	if r := h.ramp.Load(); r != nil && time.Since(r.epoch) < throttleMemory {
		return false // a fresh host would not be paced
	}
	if l := h.rate.bucket; l != nil {
		return l.Tokens() >= float64(l.Burst())
	}
	return true
}

// hostTable maps host names to their gates. It is sharded so that requests
// to different hosts rarely share a lock, and it forgets idle hosts so that
// it stays small however many hosts pass through: a shard that has doubled
// since its last sweep is swept before it grows again, so each holds at most
// max(minSweep, twice its hosts in use) entries, at amortised O(1) a request.
type hostTable struct {
	seed         maphash.Seed
	newLimiter   func(host string) Limiter // nil: no per-host rate
	slotsPerHost int                       // 0: no per-host cap
	policies     []func() policy           // makes each new host's chain, after its adaptive rate
	adaptive     *AdaptiveRate             // nil: no adaptive throttling
	jitter       float64                   // WithHostRateJitter's; 0: none
	jitterRate   rate.Limit                // the rate of WithHostRate's buckets, which jitter varies; 0: the host buckets are not varied (none, or WithHostLimiter's)
	shards       [hostShards]hostShard
}

const (
	hostShards = 64
	// minSweep is the size a shard may reach before it is swept for idle
	// hosts; after a sweep the next one comes when the shard has doubled.
	minSweep = 64
)

type hostShard struct {
	mu      sync.Mutex
	m       map[string]*host
	sweepAt int
	_       [40]byte // keep shards on separate cache lines
}

func newHostTable(newLimiter func(string) Limiter, slotsPerHost int, adaptive *AdaptiveRate, policies []func() policy) *hostTable {
	t := &hostTable{seed: maphash.MakeSeed(), newLimiter: newLimiter, slotsPerHost: slotsPerHost, adaptive: adaptive, policies: policies}
	for i := range t.shards {
		t.shards[i].m = make(map[string]*host)
		t.shards[i].sweepAt = minSweep
	}
	return t
}

// get returns the gates for name, holding a reference until put.
func (t *hostTable) get(name string) *host {
	sh := &t.shards[maphash.String(t.seed, name)%hostShards]
	sh.mu.Lock()
	h := sh.m[name]
	if h == nil {
		if len(sh.m) >= sh.sweepAt {
			sh.sweep()
		}
		h = &host{name: name, turn: slots{size: 1}}
		if t.newLimiter != nil {
			l, err := newHostLimiter(t.newLimiter, name)
			if err != nil {
				// The caller's factory panicked: the host is not kept (the
				// next request asks again), and every attempt this one's
				// callers make to it fails with the panic at its rate gate,
				// giving back what it holds, as a Limiter's panic does.
				h.rate = gateOf(failedLimiter{err})
				h.refs.Add(1)
				sh.mu.Unlock()
				return h
			}
			h.rate = gateOf(l)
		}
		if t.slotsPerHost > 0 {
			h.slots = newSlots(t.slotsPerHost)
		}
		if t.adaptive != nil || len(t.policies) > 0 {
			h.policies = make([]policy, 0, len(t.policies)+1)
		}
		if t.adaptive != nil {
			h.throttle = newThrottle(*t.adaptive)
			h.policies = append(h.policies, h.throttle)
		}
		for _, p := range t.policies {
			h.policies = append(h.policies, p())
		}
		sh.m[name] = h
	}
	h.refs.Add(1)
	sh.mu.Unlock()
	return h
}

// rejitter varies the interval before h's next rate token, as of c's
// time, once a request has taken one (see [WithHostRateJitter]). Its
// callers call it only if the table's host buckets are varied
// (jitterRate is set).
func (t *hostTable) rejitter(h *host, c *clock) {
	if l := h.rate.bucket; l != nil {
		rejitter(l, t.jitterRate, t.jitter, c.now())
	}
}

// newHostLimiter calls newLimiter, WithHostLimiter's factory, for host
// name, returning a panic in it as a *PanicError.
func newHostLimiter(newLimiter func(string) Limiter, name string) (l Limiter, err error) {
	err = recovering("fetch: WithHostLimiter", func() { l = newLimiter(name) })
	return l, err
}

// A failedLimiter refuses every wait with err.
type failedLimiter struct{ err error }

func (l failedLimiter) Wait(context.Context) error { return l.err }

// put drops the reference get took. An idle host stays in the table, so
// that the next request to it finds it, until a sweep forgets it. It needs
// no lock: only get, under the shard's lock, raises a host's count from
// zero (begin raises one that a scheduler's queue holds above zero), so a
// sweep holding that lock and seeing no references sees it stay so.
func (t *hostTable) put(h *host) {
	h.refs.Add(-1)
}

// sweep forgets every idle host with no request running. sh.mu is held.
func (sh *hostShard) sweep() {
	for name, h := range sh.m {
		if h.refs.Load() == 0 && h.idle() {
			delete(sh.m, name)
		}
	}
	sh.sweepAt = max(minSweep, 2*len(sh.m))
}

// stats returns the state of the hosts that are paused or throttled,
// sorted by name.
func (t *hostTable) stats() []HostStats {
	var hs []HostStats
	now := time.Now().UnixNano()
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for name, h := range sh.m {
			s := HostStats{Host: name}
			if until := h.pausedUntil.Load(); until > now {
				s.PausedUntil = time.Unix(0, until)
			}
			for _, p := range h.policies {
				p.stats(&s)
			}
			if r := h.ramp.Load(); r != nil {
				r.stats(&s)
			}
			if s != (HostStats{Host: name}) {
				hs = append(hs, s)
			}
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(hs, func(a, b HostStats) int { return strings.Compare(a.Host, b.Host) })
	return hs
}

// len reports how many hosts the table holds.
func (t *hostTable) len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
