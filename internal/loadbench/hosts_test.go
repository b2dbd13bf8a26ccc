package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// hostsSmall is the many-hosts scenario scaled down: the same shape, in a
// fraction of a second.
var hostsSmall = hostsConfig{slowN: 10, fastN: 30, fastHosts: 3, slow: 20 * time.Millisecond, fast: time.Millisecond, conc: 32, hostConc: 2}

func TestHostOrder(t *testing.T) {
	c := hostsConfig{slowN: 2, fastN: 7, fastHosts: 3, hostConc: 2}
	for _, tc := range []struct {
		order string
		want  []int
	}{
		{"A first", []int{0, 0, 1, 2, 3, 1, 2, 3, 1}},
		{"interleaved", []int{0, 1, 2, 3, 0, 1, 2, 3, 1}},
	} {
		if got := c.hostOrder(tc.order); !slices.Equal(got, tc.want) {
			t.Errorf("hostOrder(%q) = %v; want %v", tc.order, got, tc.want)
		}
	}
	if got, want := hostsFull.slowTime(), 10*time.Second; got != want {
		t.Errorf("slow host's own time = %v; want %v", got, want)
	}
	if got, want := hostsFull.fastIdeal(), 250*time.Millisecond; got != want {
		t.Errorf("fast hosts' ideal = %v; want %v", got, want)
	}
}

// Every cell of the scaled-down scenario yields one result per URL, the
// servers' counts agree with the results, and the times are consistent with
// each other and with the servers' latencies. The timing targets are not
// checked: the section reports them.
func TestHostsCellsAddUp(t *testing.T) {
	c := hostsSmall
	for _, call := range hostsCalls {
		for _, order := range hostsOrders {
			t.Run(call+"/"+order, func(t *testing.T) {
				s, err := runHostsCell(c, call, order)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(s.results, c.counts()) || !slices.Equal(s.served, c.counts()) {
					t.Errorf("results per host %v, served %v; want %v each", s.results, s.served, c.counts())
				}
				if s.failed != 0 {
					t.Errorf("%d failed; want 0", s.failed)
				}
				for h, m := range s.maxInFlight {
					if m < 1 || m > c.hostConc {
						t.Errorf("host %d: most in flight = %d; want 1 to %d", h, m, c.hostConc)
					}
				}
				if s.makespan < c.slowTime() {
					t.Errorf("makespan %v, shorter than the slow host's own time %v", s.makespan, c.slowTime())
				}
				if s.lastFastServer < c.fastIdeal() || s.lastFastServer > s.makespan {
					t.Errorf("last fast response on the server at %v; want between the ideal %v and the makespan %v",
						s.lastFastServer, c.fastIdeal(), s.makespan)
				}
				if call == "Stream" && (s.lastFastClient < s.lastFastServer || s.lastFastClient > s.makespan) {
					t.Errorf("last fast result at %v; want between its server's %v and the makespan %v",
						s.lastFastClient, s.lastFastServer, s.makespan)
				}
				if call == "GetAll" && s.lastFastClient != 0 {
					t.Errorf("GetAll: last fast result at %v; want none of its own (0)", s.lastFastClient)
				}
			})
		}
	}
}

// The section takes medians of the times and the most in flight over every
// round, and judges Stream by its own arrival time and GetAll by the server's.
func TestHostsSectionJudgesEachCell(t *testing.T) {
	c := hostsFull
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	res := map[hostsCell][]hostsSample{
		{"Stream", "A first"}: {
			{lastFastServer: ms(300), lastFastClient: ms(7000), makespan: ms(10100), maxInFlight: []int{2, 2, 2, 2}},
			{lastFastServer: ms(310), lastFastClient: ms(7100), makespan: ms(10300), maxInFlight: []int{2, 3, 2, 1}},
			{lastFastServer: ms(290), lastFastClient: ms(6900), makespan: ms(10000), maxInFlight: []int{1, 2, 2, 2}, failed: 1},
		},
		{"GetAll", "interleaved"}: {
			{lastFastServer: ms(400), makespan: ms(10050), maxInFlight: []int{2, 2, 2, 2}},
		},
	}
	g := hostsSummary(res[hostsCell{"Stream", "A first"}])
	if g.lastFastServer != ms(300) || g.lastFastClient != ms(7000) || g.makespan != ms(10100) || g.failed != 1 {
		t.Errorf("summary = %+v; want medians 300 ms, 7 s, 10.1 s and 1 failure", g)
	}
	if want := []int{2, 3, 2, 2}; !slices.Equal(g.maxInFlight, want) {
		t.Errorf("most in flight = %v; want %v", g.maxInFlight, want)
	}
	var b strings.Builder
	hostsSection(&b, c, res)
	for _, want := range []string{
		"| Stream | A first | 3 | 0.300 s | 7.000 s | 10.10 s | 1.010 | 2, 3, 2, 2 | 1 | **not met** | met | **not met** |",
		"| GetAll | interleaved | 1 | 0.400 s | — | 10.05 s | 1.005 | 2, 2, 2, 2 | 0 | met | met | met |",
		"Targets met, of 2 cells: last B/C/D by 0.50 s in **1**; makespan ≤ 1.02 × in **2**; at most 2 in flight per host in **1**.",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("section lacks %q:\n%s", want, b.String())
		}
	}
}
