package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// hostsFigures are one cell's figures over its rounds: medians of the times,
// the most in flight over every round, the failures of every round.
type hostsFigures struct {
	rounds                                   int
	lastFastServer, lastFastClient, makespan time.Duration
	maxInFlight                              []int
	failed                                   int
}

func hostsSummary(ss []hostsSample) hostsFigures {
	g := hostsFigures{rounds: len(ss)}
	med := func(f func(hostsSample) time.Duration) time.Duration {
		var xs []float64
		for _, s := range ss {
			xs = append(xs, float64(f(s)))
		}
		return time.Duration(median(xs))
	}
	g.lastFastServer = med(func(s hostsSample) time.Duration { return s.lastFastServer })
	g.lastFastClient = med(func(s hostsSample) time.Duration { return s.lastFastClient })
	g.makespan = med(func(s hostsSample) time.Duration { return s.makespan })
	for _, s := range ss {
		g.maxInFlight = maxEach(g.maxInFlight, s.maxInFlight)
		g.failed += s.failed
	}
	return g
}

// maxEach returns the larger of a[i] and b[i] for every i of the longer.
func maxEach(a, b []int) []int {
	out := make([]int, max(len(a), len(b)))
	for i := range out {
		if i < len(a) {
			out[i] = a[i]
		}
		if i < len(b) {
			out[i] = max(out[i], b[i])
		}
	}
	return out
}

// lastFast is the time the fast-host target judges: when Stream yielded the
// last fast-host result, or, for GetAll, which yields nothing before it
// returns, when the last fast-host response was completed on its server.
func (g hostsFigures) lastFast(call string) time.Duration {
	if call == "Stream" {
		return g.lastFastClient
	}
	return g.lastFastServer
}

// targets reports whether the cell meets each target: the last fast-host
// result by c.fastBy, the makespan within 2% of the slow host's own time, and
// at most c.hostConc in flight to any host.
func (g hostsFigures) targets(c hostsConfig, call string) (fast, makespan, inFlight bool) {
	fast = g.lastFast(call) <= c.fastBy()
	makespan = float64(g.makespan) <= 1.02*float64(c.slowTime())
	inFlight = len(g.maxInFlight) > 0 && slices.Max(g.maxInFlight) <= c.hostConc
	return fast, makespan, inFlight
}

func hostsSection(w io.Writer, c hostsConfig, res map[hostsCell][]hostsSample) {
	n := c.counts()
	fmt.Fprintf(w, hostsHeading+`

One slow host among fast ones, in this process: %d servers on 127.0.0.1, each on a port of its own (the
Fetcher's per-host key is host:port). Host A answers every request after %s, hosts B, C and D after %s,
each on a timer that gives up when the request's context ends. The client is
`+"`fetch.New(fetch.WithConcurrency(%d), fetch.WithHostConcurrency(%d))`"+`; the input is %d URLs, %d for A
and %d for the fast hosts, in two orders: **A first** (every A URL, then B, C, D, B, C, D, ...) and
**interleaved** (A, B, C, D, A, B, C, D, ..., each host in turn while it has URLs left). `+"`Stream`"+` (over
`+"`slices.Values`"+`) and `+"`GetAll`"+` each run on each order, with a new Fetcher and new servers every time.
Times count from the call's start; a figure is the median over rounds, but for the most in flight, which is
the most over every round, as each host's server counted it (handler entry to exit). **server**: when the
last B/C/D response was completed on its server; **client**: when Stream yielded the last B/C/D result
(GetAll returns every result at its end, so it has no such time of its own).

The slow host's own time is %d URLs / %d in flight × %s = **%.2f s**; the fast hosts' ideal is %d URLs /
(%d hosts × %d in flight) × %s = **%.3f s**. Targets: the last B/C/D result by **%.2f s** (twice their
ideal; Stream judged by its client time, GetAll by the server's); makespan ≤ 1.02 × the slow host's own
time; at most %d in flight to any host.

| call | order | rounds | last B/C/D, server | last B/C/D, client | makespan | × slow host | most in flight A, B, C, D | failed | B/C/D by %.2f s | makespan ≤ 1.02 × | ≤ %d per host |
|---|---|---|---|---|---|---|---|---|---|---|---|
`, len(n), msText(c.slow), msText(c.fast), c.conc, c.hostConc, c.slowN+c.fastN, c.slowN, c.fastN,
		c.slowN, c.hostConc, msText(c.slow), c.slowTime().Seconds(), c.fastN, c.fastHosts, c.hostConc, msText(c.fast),
		c.fastIdeal().Seconds(), c.fastBy().Seconds(), c.hostConc, c.fastBy().Seconds(), c.hostConc)
	cells, met := 0, [3]int{}
	for _, call := range hostsCalls {
		for _, order := range hostsOrders {
			ss := res[hostsCell{call, order}]
			if len(ss) == 0 {
				continue
			}
			g := hostsSummary(ss)
			fast, makespan, inFlight := g.targets(c, call)
			cells++
			for i, ok := range []bool{fast, makespan, inFlight} {
				met[i] += btoi(ok)
			}
			client := "—"
			if call == "Stream" {
				client = fmt.Sprintf("%.3f s", g.lastFastClient.Seconds())
			}
			var inflight []string
			for _, m := range g.maxInFlight {
				inflight = append(inflight, strconv.Itoa(m))
			}
			fmt.Fprintf(w, "| %s | %s | %d | %.3f s | %s | %.2f s | %.3f | %s | %d | %s | %s | %s |\n",
				call, order, g.rounds, g.lastFastServer.Seconds(), client, g.makespan.Seconds(),
				float64(g.makespan)/float64(c.slowTime()), strings.Join(inflight, ", "), g.failed, metText(fast), metText(makespan), metText(inFlight))
		}
	}
	fmt.Fprintf(w, "\nTargets met, of %d cells: last B/C/D by %.2f s in **%d**; makespan ≤ 1.02 × in **%d**; at most %d in flight per host in **%d**.\n\n",
		cells, c.fastBy().Seconds(), met[0], met[1], c.hostConc, met[2])
}

// msText writes d in milliseconds, as "200 ms".
func msText(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + " ms"
}

func metText(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}
