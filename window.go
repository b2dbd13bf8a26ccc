package fetch

import "time"

// windowBuckets is how many buckets a window's span is counted in.
const windowBuckets = 20

// A window counts events of two kinds over a sliding span of time, in
// windowBuckets buckets, so that counting and summing cost no timers and
// O(1) memory. Only buckets that hold events are kept, so a window that saw
// few of them is small: one event costs one bucket, 16 bytes. The zero
// window of a given width is empty; the caller guards it.
type window struct {
	width   time.Duration  // of one bucket: span / windowBuckets
	buckets []windowBucket // at most windowBuckets, in no order
}

// A windowBucket counts the events of each kind in one bucket of time.
type windowBucket struct {
	slot   int64    // which bucket of time: Unix nanoseconds / width
	counts [2]int32 // per kind
}

func newWindow(span time.Duration) window { return window{width: span / windowBuckets} }

// add counts one event of the given kind (0 or 1) at now.
func (w *window) add(now time.Time, kind int) {
	b := now.UnixNano() / int64(w.width)
	oldest := -1
	for i := range w.buckets {
		bk := &w.buckets[i]
		if bk.slot == b {
			bk.counts[kind]++
			return
		}
		if oldest < 0 || bk.slot < w.buckets[oldest].slot {
			oldest = i
		}
	}
	fresh := windowBucket{slot: b}
	fresh.counts[kind] = 1
	// A bucket that has left the span, or the oldest once all are in use,
	// makes way for the new one.
	if oldest >= 0 && (w.buckets[oldest].slot <= b-windowBuckets || len(w.buckets) >= windowBuckets) {
		w.buckets[oldest] = fresh
		return
	}
	if n := len(w.buckets); n == cap(w.buckets) {
		grown := make([]windowBucket, n, min(max(2*n, 1), windowBuckets))
		copy(grown, w.buckets)
		w.buckets = grown
	}
	w.buckets = append(w.buckets, fresh)
}

// since returns the events of each kind counted from the bucket holding
// from onwards; from must lie within the span before now.
func (w *window) since(from time.Time) (a, b int) {
	first := from.UnixNano() / int64(w.width)
	for _, bk := range w.buckets {
		if bk.slot >= first {
			a += int(bk.counts[0])
			b += int(bk.counts[1])
		}
	}
	return a, b
}

// bucketStart returns the start of the bucket that holds t: since(t)
// counts the events from then.
func (w *window) bucketStart(t time.Time) time.Time {
	return time.Unix(0, t.UnixNano()/int64(w.width)*int64(w.width))
}

// total returns the events of each kind within the span before now.
func (w *window) total(now time.Time) (a, b int) {
	return w.since(now.Add(-w.width * (windowBuckets - 1)))
}
