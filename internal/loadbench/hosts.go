package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/c989c033/fetch"
)

// Many hosts: one slow host (A) among fast ones (B, C, D), each a server of
// its own on 127.0.0.1 with a port of its own (the Fetcher's per-host key is
// host:port). The section asks whether the slow host's queue holds up the
// others: the fast hosts' URLs should be done in about their own time, and
// the whole call in about the slow host's.
type hostsConfig struct {
	slowN, fastN   int           // URLs for A, and for the fast hosts together
	fastHosts      int           // how many fast hosts share fastN
	slow, fast     time.Duration // how long each host takes to answer
	conc, hostConc int           // WithConcurrency, WithHostConcurrency
}

// hostsFull is the scenario; quick runs keep only a few URLs for A.
var (
	hostsFull  = hostsConfig{slowN: 100, fastN: 300, fastHosts: 3, slow: 200 * time.Millisecond, fast: 5 * time.Millisecond, conc: 32, hostConc: 2}
	hostsQuick = hostsConfig{slowN: 4, fastN: 300, fastHosts: 3, slow: 200 * time.Millisecond, fast: 5 * time.Millisecond, conc: 32, hostConc: 2}
)

var (
	hostsCalls  = []string{"Stream", "GetAll"}
	hostsOrders = []string{"A first", "interleaved"}
)

// counts returns how many URLs each host gets, A first.
func (c hostsConfig) counts() []int {
	n := []int{c.slowN}
	for i := range c.fastHosts {
		n = append(n, c.fastN/c.fastHosts+btoi(i < c.fastN%c.fastHosts))
	}
	return n
}

// slowTime is the slow host's own time: its URLs, a hostConc at a time.
func (c hostsConfig) slowTime() time.Duration {
	return time.Duration((c.slowN+c.hostConc-1)/c.hostConc) * c.slow
}

// fastIdeal is the fast hosts' own time: each one's URLs, a hostConc at a time.
func (c hostsConfig) fastIdeal() time.Duration {
	per := (c.fastN + c.fastHosts - 1) / c.fastHosts
	return time.Duration((per+c.hostConc-1)/c.hostConc) * c.fast
}

// fastBy is the target for the last fast-host result: twice their ideal.
func (c hostsConfig) fastBy() time.Duration { return 2 * c.fastIdeal() }

// hostOrder returns the host of each input position: "A first" puts every
// A URL first and then the fast hosts' in turn (B, C, D, B, ...);
// "interleaved" takes every host in turn (A, B, C, D, A, ...), skipping those
// whose URLs have run out.
func (c hostsConfig) hostOrder(order string) []int {
	left := c.counts()
	var out []int
	if order == "A first" {
		out = slices.Repeat([]int{0}, left[0])
		left[0] = 0
	}
	for len(out) < c.slowN+c.fastN {
		for h := range left {
			if left[h] > 0 {
				out, left[h] = append(out, h), left[h]-1
			}
		}
	}
	return out
}

// hostServer answers every request with "ok" after its latency and counts,
// as requests enter and leave its handler, the most it had in flight. The
// handler leaves before any byte of its response goes out, so a client that
// keeps n in flight is never seen with more.
type hostServer struct {
	*httptest.Server
	latency time.Duration
	base    time.Time // lastDone counts from here
	inFlight, maxInFlight,
	served, lastDone atomic.Int64
}

func newHostServer(latency time.Duration, base time.Time) *hostServer {
	h := &hostServer{latency: latency, base: base}
	h.Server = httptest.NewServer(h)
	return h
}

func (h *hostServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	storeMax(&h.maxInFlight, h.inFlight.Add(1))
	defer h.inFlight.Add(-1)
	t := time.NewTimer(h.latency)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	io.WriteString(w, "ok")
	h.served.Add(1)
	storeMax(&h.lastDone, int64(time.Since(h.base)))
}

func storeMax(a *atomic.Int64, v int64) {
	for m := a.Load(); v > m && !a.CompareAndSwap(m, v); m = a.Load() {
	}
}

// hostsSample is one run of one cell. Times are from the call's start.
type hostsSample struct {
	lastFastServer time.Duration // the last fast-host response completed on its server
	lastFastClient time.Duration // Stream only: the last fast-host result yielded
	makespan       time.Duration // the last result
	maxInFlight    []int         // per host, as its server counted
	served         []int         // responses per host, as its server counted
	results        []int         // results per host
	failed         int           // results with an error
}

// runHostsCell runs one call on one order against new servers with a new
// Fetcher. Every input must yield exactly one result.
func runHostsCell(c hostsConfig, call, order string) (hostsSample, error) {
	base := time.Now()
	hosts := make([]*hostServer, 1+c.fastHosts)
	for i := range hosts {
		latency := c.fast
		if i == 0 {
			latency = c.slow
		}
		hosts[i] = newHostServer(latency, base)
		defer hosts[i].Close()
	}
	t := hostsTally{hostOf: c.hostOrder(order), s: hostsSample{results: make([]int, len(hosts))}}
	urls := make([]string, len(t.hostOf))
	for i, h := range t.hostOf {
		urls[i] = hosts[h].URL + "/" + strconv.Itoa(i)
	}
	t.seen = make([]int, len(urls))
	f, err := fetch.New(fetch.WithConcurrency(c.conc), fetch.WithHostConcurrency(c.hostConc))
	if err != nil {
		return hostsSample{}, err
	}
	defer f.Shutdown(context.Background())
	// A bound, so that a scheduler that stalls shows as failures, not a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 3*c.slowTime()+10*time.Second)
	defer cancel()

	start := time.Now()
	switch call {
	case "Stream":
		for r := range f.Stream(ctx, slices.Values(urls)) {
			t.record(r, time.Since(start))
		}
	case "GetAll":
		rs := f.GetAll(ctx, urls)
		end := time.Since(start)
		for _, r := range rs {
			t.record(r, end)
		}
		t.s.lastFastClient = 0 // every result arrives at the end: none of its own
	default:
		return hostsSample{}, fmt.Errorf("no call %q", call)
	}
	if err := t.err(); err != nil {
		return hostsSample{}, fmt.Errorf("%s, %s: %w", call, order, err)
	}
	s, from := t.s, start.Sub(base)
	for i, h := range hosts {
		s.maxInFlight = append(s.maxInFlight, int(h.maxInFlight.Load()))
		s.served = append(s.served, int(h.served.Load()))
		if done := time.Duration(h.lastDone.Load()); i > 0 && done > 0 {
			s.lastFastServer = max(s.lastFastServer, done-from)
		}
	}
	return s, nil
}

// hostsTally counts a call's results by host as they arrive.
type hostsTally struct {
	hostOf []int // each input's host
	seen   []int // results per input
	out    int   // results for no input
	s      hostsSample
}

// record counts r, which arrived at after the call's start.
func (t *hostsTally) record(r fetch.Result, at time.Duration) {
	if r.Index < 0 || r.Index >= len(t.seen) {
		t.out++
		return
	}
	t.seen[r.Index]++
	h := t.hostOf[r.Index]
	t.s.results[h]++
	t.s.failed += btoi(r.Err != nil)
	if h != 0 {
		t.s.lastFastClient = max(t.s.lastFastClient, at)
	}
	t.s.makespan = max(t.s.makespan, at)
}

// err says how the results broke the promise of one per input, if they did.
func (t *hostsTally) err() error {
	if t.out > 0 {
		return fmt.Errorf("%d results for positions outside the %d inputs", t.out, len(t.seen))
	}
	if i := slices.IndexFunc(t.seen, func(n int) bool { return n != 1 }); i >= 0 {
		return fmt.Errorf("position %d yielded %d results, want 1", i, t.seen[i])
	}
	return nil
}

// hostsCell names one cell of the section's table.
type hostsCell struct{ call, order string }

// runHosts runs every cell, rounds times, the cells in turn within a round.
func runHosts(c hostsConfig, rounds int) (map[hostsCell][]hostsSample, error) {
	res := map[hostsCell][]hostsSample{}
	for round := 1; round <= rounds; round++ {
		for _, call := range hostsCalls {
			for _, order := range hostsOrders {
				s, err := runHostsCell(c, call, order)
				if err != nil {
					return nil, err
				}
				res[hostsCell{call, order}] = append(res[hostsCell{call, order}], s)
			}
		}
		fmt.Fprintf(os.Stderr, "hosts round %d of %d done\n", round, rounds)
	}
	return res, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
