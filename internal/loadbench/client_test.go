package main

import (
	"math"
	"testing"
)

// A round's figures are its turns' totals, not an average of their rates:
// a slow turn weighs by the time it took.
func TestSamplePlusAddsTotals(t *testing.T) {
	fast := sample{Requests: 4000, Seconds: 0.1, CPUSeconds: 0.08, Mallocs: 200_000, PeakRSSMiB: 20}
	slow := sample{Requests: 4000, Seconds: 0.3, CPUSeconds: 0.12, Mallocs: 184_000, PeakRSSMiB: 30, Errors: 1}
	var round sample
	round = round.plus(fast).plus(slow)

	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	if got, want := round.reqPerSec(), 8000/0.4; !near(got, want) {
		t.Errorf("req/s = %v, want %v (total requests over total time)", got, want)
	}
	if got, want := round.cpuPer10k(), 0.2/8000*10_000; !near(got, want) {
		t.Errorf("CPU s/10k = %v, want %v", got, want)
	}
	if got, want := round.allocsPerReq(), 48.0; !near(got, want) {
		t.Errorf("allocs/req = %v, want %v", got, want)
	}
	if round.PeakRSSMiB != 30 || round.Errors != 1 {
		t.Errorf("peak RSS %v MiB, %d errors; want the larger peak, 30, and 1 error", round.PeakRSSMiB, round.Errors)
	}
}
