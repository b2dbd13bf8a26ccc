package fetch

import (
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// AdaptiveRate configures per-host adaptive throttling, for servers whose
// rate limit is unknown: each host's rate starts at Initial and follows what
// the host answers. See [WithAdaptiveRate].
//
// A host's rate doubles every half second while the host answers at about
// that rate (each success raises it by a step, as TCP's slow start grows,
// so a slow host's doubles once a round trip), until the first sign of
// overload: a 429, a 503 with Retry-After, a 403 that is a rate limit (see
// [DefaultRetryable]), or an attempt timeout. Other 5xx, and a 503 without Retry-After, are
// failures, not overload, and do not cut it. It is then cut to 90% of the
// rate the host was seen to accept over the last second (the first cut,
// which ends the doubling, takes the rate accepted over the last half
// second instead if that is higher, as the rate was then closest to the
// host's limit), or by 30% when there is too little to go on. It grows
// again in a straight line: quickly when the host accepted far less than
// was sent (the estimate is poor), slowly when it accepted nearly all (the
// rate is close to the host's limit), and past 97% of what the host
// accepted (without an estimate, of 90% of the rate it refused) by 1% a
// second (3% after the first cut, whose estimate was taken while the rate
// was still doubling). A cut is made once per round: the answers to
// requests sent before the last cut, or at its instant, do not cut again.
// The rate grows only while it is used, as TCP's congestion window does
// (RFC 7661): before the first cut, only while the host answered at least
// a third of the rate over the last two doublings (or round trips, if
// longer); after it, time counts only while the host answered at least
// half the rate over the last second, and gaps between successes of over a
// second (or of over two intervals at the rate, if longer) never count. So
// a caller that sends less than the rate allows (one request at a time,
// say) leaves it near what it uses, and a burst later meets a rate near
// what the host was seen to take. A 429 or 503
// with Retry-After pauses the host only when the host was answering
// nothing at this rate, or the rate is at its Floor; while it answers, the
// cut is the answer, and the refused request alone waits out its
// Retry-After (see the package documentation's Retry-After section).
type AdaptiveRate struct {
	// Floor and Ceiling bound every host's rate, in requests per second.
	// Floor must be positive; Ceiling must be finite and at least Floor.
	// A NaN in any field is refused.
	Floor, Ceiling rate.Limit
	// Initial is the rate a host starts at; zero means Floor.
	Initial rate.Limit
}

// Shape of the adaptive rate's curve.
const (
	// slowStartDoubling is how often the rate doubles before the first cut.
	slowStartDoubling = 500 * time.Millisecond
	// holdAt is the share of the rate the host was seen to accept, over the
	// last estimateOver, that a cut goes down to.
	holdAt = 0.9
	// cutTo is what a cut leaves of the rate when there is no estimate:
	// less than estimateOver/2 (or two doublings, if shorter: a ramp's)
	// since the last cut, or fewer than minEstimate successes.
	cutTo       = 0.7
	minEstimate = 4
	// After a cut the rate grows by this share of the rate the cut left,
	// every second: half the gap between what was sent and what the host
	// accepted, within these bounds; past kneeAt of what the host was seen
	// to accept before the cut, by minGrowth only.
	minGrowth = 0.01
	maxGrowth = 0.25
	kneeAt    = 0.97
	// firstCreep is minGrowth after the first cut, which ends the doubling:
	// what the host accepted over the last second was measured while the
	// rate was still climbing toward its limit, so it is low, and the rate
	// creeps past it faster.
	firstCreep = 0.03
	// idleGap is the longest gap between successes that still counts as
	// time the rate was in use, at rates of two a second or more (see
	// idleAfter).
	idleGap = time.Second
	// usedToDouble and usedAfterCut are the shares of the rate the host
	// must have answered lately for the rate to be in use (see used), and
	// grow: before the first cut, over the last two doublings (when the
	// rate doubles under full demand, the answers over that span come to
	// 54% of the rate at its end), and after it over the last second.
	usedToDouble = 1.0 / 3
	usedAfterCut = 0.5
	// estimateOver is how far back a cut looks to see what the host accepted.
	estimateOver = time.Second
	// throttleMemory is how long an idle host's learned rate is kept.
	throttleMemory = 10 * time.Minute
)

func (a AdaptiveRate) check() error {
	switch {
	case !(a.Floor > 0):
		return fmt.Errorf("fetch: AdaptiveRate.Floor %v: must be positive", a.Floor)
	case !(a.Ceiling < rate.Inf && a.Ceiling >= a.Floor):
		return fmt.Errorf("fetch: AdaptiveRate.Ceiling %v: must be finite and at least Floor (%v)", a.Ceiling, a.Floor)
	case a.Initial != 0 && !(a.Initial >= a.Floor && a.Initial <= a.Ceiling):
		return fmt.Errorf("fetch: AdaptiveRate.Initial %v: must lie between Floor (%v) and Ceiling (%v)", a.Initial, a.Floor, a.Ceiling)
	}
	return nil
}

// throttle is one host's adaptive rate: a token bucket whose rate follows
// the host's answers.
type throttle struct {
	basePolicy
	lim *rate.Limiter

	mu             sync.Mutex
	floor, ceiling float64
	start          float64   // the rate at the start of the epoch
	growth         float64   // after a cut: growth per second, as a share of start
	epoch          time.Time // when the current growth began: the last cut
	prevEpoch      time.Time // the epoch before it; zero before the first cut
	cuts           int
	resumed        time.Time     // the first success after the last cut
	last           time.Time     // the last success
	idle           time.Duration // since the epoch, gaps of over idleGap between successes
	done           window        // recent answers that were not overload (kind 0), to estimate what the host accepts
	cutsFrom       time.Time     // attempts sent before it do not cut (see startRamp)
	accepted       float64       // what the host was seen to accept before the last cut; 0 if unknown
	doubling       time.Duration // how often the rate doubles before the first cut
	ramp           bool          // a ramp after a pause (see startRamp): it grows whether used or not
}

func newThrottle(a AdaptiveRate) *throttle {
	initial := a.Initial
	if initial == 0 {
		initial = a.Floor
	}
	now := time.Now()
	return &throttle{
		lim:      rate.NewLimiter(initial, 1),
		done:     newWindow(estimateOver),
		floor:    float64(a.Floor),
		ceiling:  float64(a.Ceiling),
		start:    float64(initial),
		doubling: slowStartDoubling,
		epoch:    now,
		resumed:  now,
	}
}

// forgettable reports whether the host's state may be dropped: it has
// learned nothing (never cut) or nothing recent.
func (t *throttle) forgettable() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cuts == 0 || time.Since(t.epoch) > throttleMemory
}

// rate returns the host's current rate.
func (t *throttle) rate() rate.Limit { return t.lim.Limit() }

// observe adjusts the rate from the outcome of an attempt: an overload
// signal cuts it, an answer below 500 grows it.
func (t *throttle) observe(_ *call, o *outcome) {
	resp, _ := o.answer()
	switch {
	case o.overload:
		t.cut(o.sentAt.time())
	case resp != nil && resp.StatusCode < 500:
		t.grow(o.took)
	case resp != nil:
		t.answered() // a failure, but one the host took in: it counts toward what it accepts
	}
}

func (t *throttle) stats(s *HostStats) { s.Rate, s.Cuts = t.snapshot() }

// answered counts an answer that is neither a success nor overload (a 500,
// a 503 without Retry-After) toward what the host accepts, without raising
// the rate: the host spent its capacity on it.
func (t *throttle) answered() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done.add(time.Now(), 0)
}

// grow counts a success, whose attempt took took (zero if untimed), and
// raises the rate: before the first cut, by a step a success, so that it
// doubles every t.doubling (or round trip, if longer) while the host
// answers at about the rate; after it, linearly in the time since the cut.
func (t *throttle) grow(took time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.resumed.IsZero() {
		t.resumed = now
	}
	t.done.add(now, 0)
	if now.Before(t.epoch) {
		// A ramp's growth starts when its pause ends: an answer before
		// then (to a request sent before the pause) leaves the rate as it is.
		return
	}
	// The rate grows only while it is used: time without successes does
	// not count, so that an idle spell does not end in a burst. Time
	// before the epoch (a pause a ramp waited out) is not such a spell.
	gap := now.Sub(later(t.last, t.epoch))
	if !t.last.IsZero() && (gap > t.idleAfter() || t.cuts > 0 && !t.used(now, estimateOver, usedAfterCut)) {
		t.idle += gap
	}
	t.last = now
	if t.cuts == 0 {
		if !t.used(now, 2*max(t.doubling, took), usedToDouble) {
			return // the caller sends less than the rate allows: it holds nobody back
		}
		// Each success raises the rate by ln 2 / t.doubling, or by ln 2 /
		// the attempt's time if longer, as TCP's slow start grows by one
		// segment an acknowledgement: the rate doubles every t.doubling
		// while the host answers at about that rate, and no faster than
		// once a round trip for a slow host. Time without answers (before
		// the first, or idle) neither raises the rate nor lowers it.
		t.set(float64(t.lim.Limit()) + math.Ln2/max(t.doubling, took).Seconds())
		return
	}
	s := (now.Sub(t.epoch) - t.idle).Seconds()
	r := t.start * (1 + t.growth*s)
	if knee := kneeAt * t.accepted; t.accepted > 0 && r > knee && t.start < knee {
		// Close to where the host refused last time: creep up on it, so
		// that the next overshoot, and the refusals it brings, come late.
		past := s - (knee/t.start-1)/t.growth
		creep := minGrowth
		if t.cuts == 1 {
			creep = firstCreep
		}
		r = knee * (1 + creep*past)
	}
	t.set(r)
}

// used reports whether the rate is in use, as TCP's congestion window is
// (RFC 7661): whether the host answered at least share of the rate over the
// last w (at most estimateOver), or, before the first cut, since the rate
// began if that is later. A ramp is always in use: it paces requests that
// waited out a pause. t.mu is held.
func (t *throttle) used(now time.Time, w time.Duration, share float64) bool {
	if t.ramp {
		return true
	}
	from := now.Add(-min(w, estimateOver))
	if t.cuts == 0 && t.resumed.After(from) {
		from = t.resumed
	}
	from = t.done.bucketStart(from)
	n, _ := t.done.since(from)
	return float64(n) >= share*float64(t.lim.Limit())*now.Sub(from).Seconds()
}

// absorbs reports whether an overload signal for an attempt sent at sent
// is one this rate answers by itself, by the cut it makes (see cut),
// without the host being paused: the host was still taking requests at
// this rate (it answered one with a success within idleGap, and since the
// cut before the last: right after a cut, the host's own allowance is still
// spent, so a round refused then is the overshoot's too), or the attempt
// went out before the last cut or the ramp's start, in a round that has
// been answered already. An overload signal that finds the host taking
// nothing at the rate it is paced to (a probe refused), or the rate at its
// floor, where a cut cannot lower it, is not absorbed: the host is paused
// for its Retry-After (as it is for a spent quota: see
// Fetcher.absorbable).
func (t *throttle) absorbs(sent time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if float64(t.lim.Limit()) <= t.floor {
		return false // no cut can answer it: the host is slower than the floor
	}
	if t.cuts > 0 && !sent.After(t.epoch) || !t.cutsFrom.IsZero() && !sent.After(t.cutsFrom) {
		return true
	}
	return !t.last.IsZero() && t.last.After(t.prevEpoch) && time.Since(t.last) <= idleGap
}

// idleAfter returns the longest gap between successes that still counts as
// time the rate was in use: idleGap, or two intervals at the rate if that
// is longer, so that a host paced slower than one request every half
// second (an API allowing 30 a minute) still grows while it is used. t.mu
// is held.
func (t *throttle) idleAfter() time.Duration {
	return max(idleGap, time.Duration(min(2/float64(t.lim.Limit()), 1e9)*float64(time.Second)))
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// cut lowers the rate after an overload signal for an attempt sent at
// sent, unless the rate was cut after that attempt was sent.
func (t *throttle) cut(sent time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// An attempt sent before the last cut, or at the same instant, went out
	// at the rate before it: its answer is about that rate, not this one.
	if t.cuts > 0 && !sent.After(t.epoch) || !t.cutsFrom.IsZero() && !sent.After(t.cutsFrom) {
		return
	}
	now := time.Now()
	cur := float64(t.lim.Limit())
	r, growth := cur*cutTo, maxGrowth
	from := now.Add(-estimateOver)
	if t.resumed.After(from) {
		from = t.resumed
	}
	// Without an estimate, the host refused at cur: it accepts less, and
	// the rate creeps up on that, as on an estimate, once it is near.
	t.accepted = holdAt * cur
	if n, _ := t.done.since(from); !t.resumed.IsZero() && now.Sub(from) >= min(2*t.doubling, estimateOver/2) && n >= minEstimate {
		accepted := float64(n) / now.Sub(from).Seconds()
		if t.cuts == 0 {
			// The rate was still doubling: over most of the last second it
			// was far below where the host refused, so the last doubling's
			// worth of answers, when it was closest, is the better
			// estimate if it is higher.
			last := t.done.bucketStart(now.Add(-t.doubling))
			if m, _ := t.done.since(last); last.After(from) && m >= minEstimate {
				accepted = max(accepted, float64(m)/now.Sub(last).Seconds())
			}
		}
		r = min(cur, holdAt*accepted)
		growth = min(max((cur/accepted-1)/2, minGrowth), maxGrowth)
		t.accepted = accepted
	}
	t.growth = growth
	t.cuts++
	t.start = t.set(r)
	t.prevEpoch, t.epoch = t.epoch, now
	t.resumed = time.Time{}
	t.idle = 0
}

// set applies r, bounded by the floor and ceiling, and returns the rate
// applied. t.mu is held.
func (t *throttle) set(r float64) float64 {
	r = min(max(r, t.floor), t.ceiling)
	if r != float64(t.lim.Limit()) {
		t.lim.SetLimit(rate.Limit(r))
	}
	return r
}

// snapshot returns the throttle's rate and how many times it was cut.
func (t *throttle) snapshot() (rate.Limit, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lim.Limit(), t.cuts
}
