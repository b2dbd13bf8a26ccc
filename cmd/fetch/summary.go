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
	skipped             int64 // no body saved (--no-clobber, --continue), in neither ok nor failed
	refused             int64 // -r: not fetched, by the crawl's own rules (robots.txt, scope, seen before), in neither ok nor failed
	bytes               int64 // of the bodies of the URLs that succeeded
	lat                 latencies
	noClobber, resume   bool // whether the summary says how many were skipped, 0 included
	crawl               bool // -r: whether it says how many were refused, 0 included
}

func (t *tally) add(r record) {
	if r.Skipped != "" { // not fetched, or complete already: no byte or latency
		t.skipped++
		return
	}
	if refused(r) {
		t.refused++
		return
	}
	if r.Error == "" {
		t.ok++
		t.bytes += r.Bytes
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

// refused reports whether r is the record of a URL a crawl did not fetch
// by its own rules, as asked: robots.txt disallows it, it redirects out of
// the crawl's scope, or to a URL the crawl has seen. Such a URL has not
// failed; one whose host's robots.txt could not be read has.
func refused(r record) bool {
	switch r.ErrorKind {
	case "disallowed", "out_of_scope", "already_seen":
		return true
	}
	return false
}

// print writes the summary. Its count and rate are of the inputs fetched:
// those skipped are counted apart, with --no-clobber, and with --continue
// those whose file was complete already.
func (t *tally) print(w io.Writer, elapsed time.Duration) {
	total := t.ok + t.failed
	perSecond := 0.0
	if elapsed > 0 {
		perSecond = float64(total) / elapsed.Seconds()
	}
	fmt.Fprintf(w, "fetched %d in %v: %d succeeded, %d failed, %d retried",
		total, human(elapsed), t.ok, t.failed, t.retried)
	switch {
	case t.noClobber:
		fmt.Fprintf(w, ", %d skipped (--no-clobber)", t.skipped)
	case t.resume:
		fmt.Fprintf(w, ", %d complete already (--continue)", t.skipped)
	}
	if t.crawl {
		fmt.Fprintf(w, ", %d not fetched (robots.txt, out of scope, seen before)", t.refused)
	}
	fmt.Fprintf(w, "; %.0f req/s, %s", perSecond, size(t.bytes))
	if elapsed > 0 && t.bytes > 0 {
		fmt.Fprintf(w, " (%s/s)", size(int64(float64(t.bytes)/elapsed.Seconds())))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "latency p50 %v, p95 %v, p99 %v\n",
		human(t.lat.quantile(0.5)), human(t.lat.quantile(0.95)), human(t.lat.quantile(0.99)))
}

// size gives a byte count as people read it: 512 B, 3.4 kB, 12 MB, 1.2 GB
// (SI units, powers of 1000; wget and curl count in 1024s).
func size(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, unit := range []string{"kB", "MB", "GB", "TB"} {
		v /= 1000
		if v < 999.5 || unit == "TB" {
			if v < 9.95 {
				return fmt.Sprintf("%.1f %s", v, unit)
			}
			return fmt.Sprintf("%.0f %s", v, unit)
		}
	}
	panic("unreachable")
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
