package fetch

import (
	"time"

	"golang.org/x/time/rate"
)

// After a Retry-After pause, the requests that waited for it are not all
// released at once: a host without an adaptive rate ([WithAdaptiveRate]) is
// paced from the pause's end by a ramp, an adaptive rate of its own. The
// first request, a probe, goes at once; then the ramp starts at rampStart
// requests a second, or at half what the host carried before the pause if
// that is more (see startRamp), and doubles every rampDoubling while the
// host answers at about that rate (see throttle.grow). An overload signal during the ramp (another 429, say) cuts
// it, as it cuts an adaptive rate, to about what the host was seen to
// accept; it pauses the host again only if the host was answering nothing
// at the ramp's rate (see throttle.absorbs). The ramp ends, and the host
// is unpaced again, once it reaches rampEnd.
const (
	rampStart    = 10
	rampDoubling = 100 * time.Millisecond
	rampEnd      = 10_000
)

// pace returns the adaptive bucket that gates h's requests: its adaptive
// rate if it has one, or its ramp after a pause; nil if neither.
func (h *host) pace() *throttle {
	if h.throttle != nil {
		return h.throttle
	}
	return h.ramp.Load()
}

// startRamp paces h's requests from end, when its pause ends, unless it
// has an adaptive rate or is ramping already. The ramp starts at half the
// rate the host was seen to carry since its last ramp (or since its first
// answer), as a cut halves a rate, if that was over a second or more and
// is above rampStart; a host that carried twice rampEnd or more is not
// ramped at all.
func (h *host) startRamp(end time.Time) {
	if h.throttle != nil || h.ramp.Load() != nil {
		return
	}
	now := time.Now()
	from, n := h.answersFrom.Swap(now.UnixNano()), h.answers.Swap(0)
	start := float64(rampStart)
	if d := now.Sub(time.Unix(0, from)); from != 0 && d >= time.Second {
		start = max(start, float64(n)/d.Seconds()/2)
	}
	if start >= rampEnd {
		return
	}
	r := newThrottle(AdaptiveRate{Floor: 1, Ceiling: rampEnd, Initial: rate.Limit(start)})
	// Doubling starts when the pause ends; the answers to requests sent
	// before the ramp began (the rest of the round that caused the pause)
	// do not cut it.
	r.cutsFrom = time.Now()
	r.doubling, r.ramp = rampDoubling, true
	r.epoch, r.resumed = end, end
	h.ramp.CompareAndSwap(nil, r)
}

// observeRamp feeds the outcome o of an attempt h answered to its ramp, if
// it is ramping, and ends the ramp once it has reached rampEnd.
func (h *host) observeRamp(c *call, o *outcome, r *throttle) {
	if r == nil {
		return
	}
	r.observe(c, o)
	if r.rate() >= rampEnd {
		h.ramp.CompareAndSwap(r, nil)
	}
}

// redirected tells h that it answered an attempt, taking took (zero if
// untimed), with a redirect: an answer it took in, which grows its pace
// (its adaptive rate, or its ramp) as a success does. A host that only
// redirects (a URL shortener) would otherwise stay at its first rate.
func (h *host) redirected(took time.Duration) {
	if h.throttle != nil {
		h.throttle.grow(took)
		return
	}
	if r := h.ramp.Load(); r != nil {
		r.grow(took)
		if r.rate() >= rampEnd {
			h.ramp.CompareAndSwap(r, nil)
		}
		return
	}
	h.answered()
}
