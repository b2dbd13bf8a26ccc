package fetch

import "time"

// windowBuckets is how many buckets a window's span is counted in.
const windowBuckets = 20

// A window counts events of two kinds over a sliding span of time, in
// windowBuckets buckets, so that counting and summing cost O(1) memory and
// no timers. The caller guards it.
type window struct {
	width  time.Duration         // of one bucket: span / windowBuckets
	slot   [windowBuckets]int64  // which bucket of time each count is for
	counts [windowBuckets][2]int // per bucket, per kind
}

func newWindow(span time.Duration) window { return window{width: span / windowBuckets} }

// add counts one event of the given kind (0 or 1) at now.
func (w *window) add(now time.Time, kind int) {
	b := now.UnixNano() / int64(w.width)
	i := b % windowBuckets
	if w.slot[i] != b {
		w.slot[i], w.counts[i] = b, [2]int{}
	}
	w.counts[i][kind]++
}

// since returns the events of each kind counted from the bucket holding
// from onwards; from must lie within the span before now.
func (w *window) since(from time.Time) (a, b int) {
	first := from.UnixNano() / int64(w.width)
	for i := range w.slot {
		if w.slot[i] >= first {
			a += w.counts[i][0]
			b += w.counts[i][1]
		}
	}
	return a, b
}

// total returns the events of each kind within the span before now.
func (w *window) total(now time.Time) (a, b int) {
	return w.since(now.Add(-w.width * (windowBuckets - 1)))
}
