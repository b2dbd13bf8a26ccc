package fetch

import "time"

// After a Retry-After pause, the requests that waited for it are not all
// released at once: a host without an adaptive rate ([WithAdaptiveRate]) is
// paced from the pause's end by a ramp, an adaptive rate of its own that
// starts at rampStart requests a second (the first request, a probe, goes
// at once) and doubles every half second while the host answers. An
// overload signal during the ramp (another 429, say) pauses the host again
// and cuts the ramp, as it cuts an adaptive rate, so that the requests
// after the next pause go at about what the host was seen to accept. The
// ramp ends, and the host is unpaced again, once it reaches rampEnd.
const (
	rampStart = 10
	rampEnd   = 10_000
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
// has an adaptive rate or is ramping already.
func (h *host) startRamp(end time.Time) {
	if h.throttle != nil || h.ramp.Load() != nil {
		return
	}
	r := newThrottle(AdaptiveRate{Floor: 1, Ceiling: rampEnd, Initial: rampStart})
	// Doubling starts when the pause ends; the answers to requests sent
	// before the ramp began (the rest of the round that caused the pause)
	// do not cut it.
	r.cutsFrom = time.Now()
	r.epoch, r.resumed = end, end
	h.ramp.CompareAndSwap(nil, r)
}

// observeRamp feeds the outcome o of an attempt h answered to its ramp, if
// it is ramping, and ends the ramp once it has reached rampEnd.
func (h *host) observeRamp(c *call, o *outcome) {
	r := h.ramp.Load()
	if r == nil {
		return
	}
	r.observe(c, o)
	if r.rate() >= rampEnd {
		h.ramp.CompareAndSwap(r, nil)
	}
}
