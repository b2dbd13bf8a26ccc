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
	"time"

	"golang.org/x/time/rate"
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

// Every ablation step is a load variant compared with a variant the
// ablation measures, and every bodies variant is a load variant.
func TestAblationAndBodiesVariantsExist(t *testing.T) {
	measured := map[string]bool{"raw-stream": true}
	for _, s := range ablationSteps {
		measured[s.variant] = true
	}
	for _, s := range ablationSteps {
		if loadRuns[s.variant] == nil {
			t.Errorf("ablation step %q: no such load variant", s.variant)
		}
		if !measured[s.from] || s.from == s.variant {
			t.Errorf("ablation step %q compared with %q, which the ablation does not measure", s.variant, s.from)
		}
	}
	for _, v := range bodiesVariants {
		if loadRuns[v] == nil {
			t.Errorf("bodies variant %q: no such load variant", v)
		}
	}
	for _, p := range bodiesPairs {
		if !slices.Contains(bodiesVariants, p[0]) || !slices.Contains(bodiesVariants, p[1]) {
			t.Errorf("bodies pair %v: not both measured", p)
		}
	}
}

// The goodput server answers 429 with Retry-After beyond its bucket, and
// with fail=1 a 503 without Retry-After to every request the bucket admits.
func TestGoodServerFailsAdmittedRequests(t *testing.T) {
	srv := httptest.NewServer(&goodServer{buckets: map[string]*rate.Limiter{}})
	defer srv.Close()
	for _, tc := range []struct {
		query        string
		want         []int
		retryAfterAt int // the answer that carries Retry-After, or -1
	}{
		{"id=a&rate=1&burst=2", []int{200, 200, 429}, 2},
		{"id=b&rate=1&burst=2&fail=1", []int{503, 503, 429}, 2},
	} {
		for i, want := range tc.want {
			resp, err := http.Get(srv.URL + "/limited?" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s: answer %d: status = %d; want %d", tc.query, i, resp.StatusCode, want)
			}
			if got := resp.Header.Get("Retry-After") != ""; got != (i == tc.retryAfterAt) {
				t.Errorf("%s: answer %d: Retry-After set = %v; want %v", tc.query, i, got, i == tc.retryAfterAt)
			}
		}
	}
}

func TestRounds(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	for _, tc := range []struct {
		times []time.Duration
		want  int
	}{
		{nil, 0},
		{ms(5), 1},
		{ms(0, 10, 20, 1100, 1110, 2300), 3},
		{ms(1100, 0, 20, 10), 2}, // out of order, as concurrent hooks record them
	} {
		if got := rounds(tc.times, pacingGap); got != tc.want {
			t.Errorf("rounds(%v) = %d; want %d", tc.times, got, tc.want)
		}
	}
}

// The pacing section judges the rows by their targets and leaves
// the comparison rows unjudged.
func TestPacingSectionJudgesRequiredRows(t *testing.T) {
	cfg := config{pacingN429: 300, pacingFailN: 1800}
	res := map[pacingRun][]pacingSample{
		pacingRuns[0]: {{Seconds: 4, Done: 300, Refused: 40, Rounds: 2, Attempts: 340}}, // ideal 2.9 s: 1.38 ×
		pacingRuns[1]: {{Seconds: 9, Done: 300, Attempts: 300}},
		pacingRuns[2]: {{Seconds: 30, Done: 1800, Failed: 0, Attempts: 2000}}, // 60/s: below 75
		// 80/s, with one URL failed on four 503s: the server's draw, met
		pacingRuns[3]: {{Seconds: 22.5, Done: 1799, Failed: 1, OutOfAttempts: 1, On503: 1, Attempts: 2000}},
	}
	var b strings.Builder
	pacingSection(&b, cfg, res)
	for _, want := range []string{
		"| 429 beyond the rate | default ✱ | 1 | 300 | 4.0 s | 1.38 | 75.0 | 40 | 2 | 0 | 1.13 | 0 (0) | met |",
		"| 429 beyond the rate | adaptive | 1 | 300 | 9.0 s | 3.10 | 33.3 | 0 | 0 | 0 | 1.00 | 0 (0) |  |",
		"| 429 beyond the rate, 10% 503 | adaptive ✱ | 1 | 1800 | 30.0 s | 1.51 | 60.0 | 0 | 0 | 0 | 1.11 | 0 (0, 0 on a 503) | **not met** |",
		"| 429 beyond the rate, 10% 503 | default | 1 | 1800 | 22.5 s | 1.13 | 80.0 | 0 | 0 | 0 | 1.11 | 1 (1, 1 on a 503) |  |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("section lacks %q:\n%s", want, b.String())
		}
	}
	// The adaptive row's target is its rate: a URL that drew four 503s is
	// the server's doing.
	b.Reset()
	pacingSection(&b, cfg, map[pacingRun][]pacingSample{pacingRuns[2]: res[pacingRuns[3]]})
	if want := "| 429 beyond the rate, 10% 503 | adaptive ✱ | 1 | 1800 | 22.5 s | 1.13 | 80.0 | 0 | 0 | 0 | 1.11 | 1 (1, 1 on a 503) | met |"; !strings.Contains(b.String(), want) {
		t.Errorf("section lacks %q:\n%s", want, b.String())
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
