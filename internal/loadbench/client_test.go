package main

import (
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
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

// Every load variant, the ablation's included, makes exactly the requests
// it is asked for and reads every body without error.
func TestLoadVariantsMakeEveryRequest(t *testing.T) {
	var hits atomic.Int64
	body := strings.Repeat("x", 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	for _, v := range slices.Sorted(maps.Keys(loadRuns)) {
		hits.Store(0)
		if errs := loadRuns[v](srv.URL, 50, 4); errs != 0 {
			t.Errorf("%s: %d of 50 requests failed", v, errs)
		}
		if got := hits.Load(); got != 50 {
			t.Errorf("%s: server saw %d requests, want 50", v, got)
		}
	}
}

// The ablation's Stream-shaped pool yields one Result per input, each
// position once, with the body read.
func TestShapedStreamYieldsEveryPosition(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	defer srv.Close()
	seen := make([]int, 40)
	for r := range shapedStream(srv.URL, len(seen), 3) {
		if r.Err != nil || r.Status != http.StatusOK || len(r.Body) != 100 || r.Duration <= 0 {
			t.Fatalf("result %d: err %v, status %d, %d bytes, duration %v", r.Index, r.Err, r.Status, len(r.Body), r.Duration)
		}
		seen[r.Index]++
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("position %d yielded %d times, want once", i, n)
		}
	}
}

// The micro section reports the GC walk from the fastest run of each case,
// and still reports the rest when those benchmarks did not run.
func TestMicroSectionGCWalkFromFastestRuns(t *testing.T) {
	const runs = `BenchmarkGCWaiting/bare-pool-2   10   400000 ns/op   0 B/op   0 allocs/op
BenchmarkGCWaiting/bare-pool-2   10   900000 ns/op   0 B/op   0 allocs/op
BenchmarkGCWaiting/stream-2   10   451200 ns/op   0 B/op   0 allocs/op
BenchmarkGCWaiting/stream-2   10   460000 ns/op   0 B/op   0 allocs/op
BenchmarkGCWaiting/batch-2   10   425600 ns/op   0 B/op   0 allocs/op
BenchmarkGCWaiting/batch-2   10   430000 ns/op   0 B/op   0 allocs/op
`
	var b strings.Builder
	microSection(&b, runs)
	if want := "add **200 ns** and **100 ns** per waiting request"; !strings.Contains(b.String(), want) {
		t.Errorf("micro section does not say %q:\n%s", want, b.String())
	}
	b.Reset()
	microSection(&b, "BenchmarkBackoff-2   100   12.0 ns/op   0 B/op   0 allocs/op\n") // must not panic
	if !strings.Contains(b.String(), "BenchmarkBackoff") {
		t.Errorf("micro section lost BenchmarkBackoff:\n%s", b.String())
	}
}
