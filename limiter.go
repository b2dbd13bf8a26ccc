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

// gates are the checks every attempt passes before it is sent.
//
// Each gate is taken per host first, then globally: a request queued behind
// its own host's limit must not hold a global token or slot that a request
// to another host could use.
type gates struct {
	limiter Limiter    // global rate; nil: unlimited
	slots   slots      // global in-flight cap
	hosts   *hostTable // per-host gates and pauses
	freed   notifier   // notified whenever a slot, global or per host, is freed
	waits   tokenWaits // the calls waiting for a token, per bucket
}

// wait waits out h's pause, takes a rate token for h (if any), then a
// global one.
func (g *gates) wait(ctx context.Context, h *host) error {
	if err := h.waitPause(ctx); err != nil {
		return err
	}
	if h.limiter != nil {
		if err := waitToken(ctx, h.limiter, &g.waits, "host"); err != nil {
			return err
		}
	}
	if h.throttle != nil {
		if err := waitToken(ctx, h.throttle.lim, &g.waits, "host's adaptive"); err != nil {
			return err
		}
	}
	if g.limiter != nil {
		return waitToken(ctx, g.limiter, &g.waits, "global")
	}
	return nil
}

// acquire takes an in-flight slot for h (if capped), then a global one.
func (g *gates) acquire(ctx context.Context, h *host) error {
	if h.slots != nil {
		if err := h.slots.acquire(ctx, "host"); err != nil {
			return err
		}
	}
	if err := g.slots.acquire(ctx, "global"); err != nil {
		if h.slots != nil {
			h.slots.release()
		}
		return err
	}
	return nil
}

// release frees the slots acquire took.
func (g *gates) release(h *host) {
	g.giveBack(h)
	g.freed.notify()
}

// giveBack frees the slots try took a moment ago, without waking anybody,
// so that schedulers whose tries fail cannot wake each other in turn for
// ever. A scheduler whose try failed on a slot that was given back so is
// woken by the next slot freed.
func (g *gates) giveBack(h *host) {
	g.slots.release()
	if h.slots != nil {
		h.slots.release()
	}
}

// A refusal says which gate refused an attempt that try could not let
// through at once, and so when it is worth asking again.
type refusal int

const (
	granted     refusal = iota // every gate let the attempt through
	hostBusy                   // the host's slots are all taken
	hostLater                  // the host is paused, or out of tokens, until a known time
	globalBusy                 // the global slots are all taken
	globalLater                // the global bucket is out of tokens until a known time
	mustWait                   // a Limiter that can only be waited for gates the host
)

// try takes, without waiting, everything one attempt to h needs: h's slot
// and a global one, then h's tokens and a global one. If a gate refuses,
// try gives back what it took and says which refused and, for a gate that
// opens at a known time, when. Tokens are looked at before they are taken,
// and a token taken before a later gate refuses is handed back by
// cancelling its reservation, so that a refused try leaves every bucket as
// it found it. Nor does try take a token ahead of the calls waiting in a
// bucket's line (see [tokenWaits]): the reservation the first of them holds
// keeps the bucket below one token until the line is gone.
//
// Only [*rate.Limiter] buckets can be tried; a host or global gate that is
// some other [Limiter] makes try refuse with mustWait, and the attempt must
// wait for its gates with wait and acquire.
func (g *gates) try(h *host, c *clock) (refusal, time.Time) {
	if until := h.pausedUntil.Load(); until != 0 && until > c.now().UnixNano() {
		return hostLater, time.Unix(0, until)
	}
	hostRate, ok1 := bucket(h.limiter)
	globalRate, ok2 := bucket(g.limiter)
	if !ok1 || !ok2 {
		return mustWait, time.Time{}
	}
	if h.slots != nil && !h.slots.try() {
		return hostBusy, time.Time{}
	}
	if !g.slots.try() {
		if h.slots != nil {
			h.slots.release()
		}
		return globalBusy, time.Time{}
	}
	var adaptive *rate.Limiter
	if h.throttle != nil {
		adaptive = h.throttle.lim
	}
	buckets := [3]*rate.Limiter{hostRate, adaptive, globalRate}
	if one, i := onlyBucket(buckets); one != nil {
		// One bucket: take its token with AllowN, which needs no
		// reservation to give back.
		if due, ok := tokenDue(one, c.now()); (ok && due.After(c.now())) || !one.AllowN(c.now(), 1) {
			g.giveBack(h)
			if !ok || !due.After(c.now()) {
				due = c.now().Add(time.Millisecond) // lost a race for the token: look again soon
			}
			if i == 2 {
				return globalLater, due
			}
			return hostLater, due
		}
		return granted, time.Time{}
	}
	var taken [3]*rate.Reservation
	why, due := granted, time.Time{}
	for i, l := range buckets {
		if l == nil {
			continue
		}
		if taken[i], due = takeToken(l, c.now()); taken[i] == nil {
			why = hostLater
			if i == 2 {
				why = globalLater
			}
			break
		}
	}
	if why != granted {
		for i := len(taken) - 1; i >= 0; i-- {
			if taken[i] != nil {
				taken[i].CancelAt(c.now())
			}
		}
		g.giveBack(h)
	}
	return why, due
}

// A clock reads the time once, when first asked, so that a scheduler's
// tries read it only if a gate needs it.
type clock struct{ t time.Time }

func (c *clock) now() time.Time {
	if c.t.IsZero() {
		c.t = time.Now()
	}
	return c.t
}

// bucket returns l as a token bucket that try can take from without
// waiting; ok is false for a Limiter that can only be waited for. A nil l
// (no limit) is a nil bucket.
func bucket(l Limiter) (b *rate.Limiter, ok bool) {
	if l == nil {
		return nil, true
	}
	b, ok = l.(*rate.Limiter)
	return b, ok
}

// onlyBucket returns the one bucket of buckets that is not nil, with its
// index, or nil if none or several are.
func onlyBucket(buckets [3]*rate.Limiter) (*rate.Limiter, int) {
	var one *rate.Limiter
	at := -1
	for i, l := range buckets {
		if l != nil {
			if one != nil {
				return nil, -1
			}
			one, at = l, i
		}
	}
	return one, at
}

// takeToken takes a token from l if one is there at now, returning its
// reservation; otherwise it takes nothing and returns when the next token
// is due.
func takeToken(l *rate.Limiter, now time.Time) (*rate.Reservation, time.Time) {
	if due, ok := tokenDue(l, now); ok && due.After(now) {
		return nil, due
	}
	r := l.ReserveN(now, 1)
	if d := r.DelayFrom(now); !r.OK() || d > 0 {
		r.CancelAt(now)
		return nil, now.Add(d)
	}
	return r, time.Time{}
}

// A host holds one host's gates. It is shared by every request to that host
// and referenced from the table while any of them is running.
type host struct {
	name     string
	limiter  Limiter      // nil: no per-host rate
	slots    slots        // nil: no per-host cap
	throttle *throttle    // nil: no adaptive rate
	budget   *retryBudget // nil: no retry budget
	refs     atomic.Int32 // requests holding h; raised from 0 only under its shard's lock

	// pausedUntil (Unix nanoseconds) is when the host said, with
	// Retry-After, that it will take requests again; until then no request
	// to it is sent. One pause serves every request to the host, instead of
	// each learning of it from a 429 of its own.
	pausedUntil atomic.Int64
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

// waitPause waits out h's pause, if any, or until ctx is done.
func (h *host) waitPause(ctx context.Context) error {
	until := h.pausedUntil.Load()
	if until == 0 {
		return nil
	}
	if d := time.Until(time.Unix(0, until)); d > 0 {
		if err := sleep(ctx, d); err != nil {
			return fmt.Errorf("waiting %v for the host's Retry-After: %w", d.Round(time.Millisecond), err)
		}
	}
	return nil
}

// idle reports whether h may be dropped: a fresh host in its place would
// behave the same, or more cautiously. A pause, a token bucket that is not
// full, a learned adaptive rate and a retry budget's recent retries are
// kept; a budget's count of calls alone is not, as forgetting it can only
// lower the host's allowance of retries toward a fresh host's.
func (h *host) idle() bool {
	if time.Now().UnixNano() < h.pausedUntil.Load() {
		return false
	}
	if h.throttle != nil && !h.throttle.forgettable() {
		return false
	}
	if h.budget != nil && !h.budget.forgettable() {
		return false
	}
	if l, ok := h.limiter.(*rate.Limiter); ok {
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
	adaptive     *AdaptiveRate             // nil: no adaptive throttling
	budget       *RetryBudget              // nil: no retry budget
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

func newHostTable(newLimiter func(string) Limiter, slotsPerHost int, adaptive *AdaptiveRate, budget *RetryBudget) *hostTable {
	t := &hostTable{seed: maphash.MakeSeed(), newLimiter: newLimiter, slotsPerHost: slotsPerHost, adaptive: adaptive, budget: budget}
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
		h = &host{name: name}
		if t.newLimiter != nil {
			h.limiter = t.newLimiter(name)
		}
		if t.slotsPerHost > 0 {
			h.slots = make(slots, t.slotsPerHost)
		}
		if t.adaptive != nil {
			h.throttle = newThrottle(*t.adaptive)
		}
		if t.budget != nil {
			h.budget = newRetryBudget(t.budget)
		}
		sh.m[name] = h
	}
	h.refs.Add(1)
	sh.mu.Unlock()
	return h
}

// put drops the reference get took. An idle host stays in the table, so
// that the next request to it finds it, until a sweep forgets it. It needs
// no lock: only get, under the shard's lock, raises a host's count, so a
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
			if h.throttle != nil {
				s.Rate, s.Cuts = h.throttle.snapshot()
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
