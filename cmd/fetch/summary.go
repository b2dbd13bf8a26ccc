package main

import (
	"fmt"
	"io"
	"math"
	"time"
)

// latencies is a histogram of durations in buckets 2% wide, so that
// quantiles take constant memory however many requests there are.
type latencies struct {
	counts [1200]int64 // bucket i holds [1.02^i, 1.02^(i+1)) µs
	n      int64
}

var logStep = math.Log(1.02)

func (l *latencies) add(d time.Duration) {
	us := max(float64(d.Microseconds()), 1)
	i := min(int(math.Log(us)/logStep), len(l.counts)-1)
	l.counts[i]++
	l.n++
}

// quantile returns the upper bound of the bucket holding quantile q.
func (l *latencies) quantile(q float64) time.Duration {
	if l.n == 0 {
		return 0
	}
	target, seen := int64(math.Ceil(q*float64(l.n))), int64(0)
	for i, c := range l.counts {
		if seen += c; seen >= target {
			return time.Duration(math.Pow(1.02, float64(i+1))) * time.Microsecond
		}
	}
	return 0
}

// tally counts outcomes for the summary.
type tally struct {
	ok, failed, retried int64
	lat                 latencies
}

func (t *tally) add(r record) {
	if r.Error == "" {
		t.ok++
	} else {
		t.failed++
	}
	if r.Attempts > 1 {
		t.retried++
	}
	if r.Attempts > 0 { // an input never sent has no latency
		t.lat.add(r.dur)
	}
}

func (t *tally) print(w io.Writer, elapsed time.Duration) {
	total := t.ok + t.failed
	perSecond := 0.0
	if elapsed > 0 {
		perSecond = float64(total) / elapsed.Seconds()
	}
	fmt.Fprintf(w, "fetched %d in %v: %d succeeded, %d failed, %d retried; %.0f req/s\n",
		total, human(elapsed), t.ok, t.failed, t.retried, perSecond)
	fmt.Fprintf(w, "latency p50 %v, p95 %v, p99 %v\n",
		human(t.lat.quantile(0.5)), human(t.lat.quantile(0.95)), human(t.lat.quantile(0.99)))
}

// human rounds d to three significant digits, so that it reads 12.3ms,
// 1.23s or 2m3s, never 0s for a duration that is not zero.
func human(d time.Duration) time.Duration {
	unit := time.Duration(1)
	for d/unit >= 1000 {
		unit *= 10
	}
	return d.Round(unit)
}
