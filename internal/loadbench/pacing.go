package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/c989c033/fetch"
)

// Goodput after Retry-After (issue 17): a strict server, a token bucket of
// pacingRate req/s with a burst of pacingBurst, answering 429 with
// Retry-After: 1 beyond it, against the default Fetcher, which is not told
// the rate; then the same server failing a share of the requests it admits
// with a 503 without Retry-After, against the adaptive rate.
const (
	pacingRate  = 100
	pacingBurst = 10
	pacingConc  = 32
	pacingFail  = 0.1
	// pacingCap bounds one measurement, as goodCap does.
	pacingCap = 60 * time.Second
	// pacingGap separates two rounds of 429s: a Retry-After: 1 pauses the
	// host for a second, so the 429s of one round come closer together.
	pacingGap = 250 * time.Millisecond
)

// A pacingRun is one row of the section: a server and a client.
type pacingRun struct {
	fail     float64 // the share of admitted requests answered 503
	adaptive bool
	required bool // the row, with its target; the others are for comparison
}

var pacingRuns = []pacingRun{
	{0, false, true},
	{0, true, false},
	{pacingFail, true, true},
	{pacingFail, false, false},
}

func (p pacingRun) variant() string {
	if p.adaptive {
		return "pacing-adaptive"
	}
	return "pacing-default"
}

// ideal is the least time n successes take from a fresh bucket: the burst at
// once, then the rest at the rate, of which a share fail is failed.
func (p pacingRun) ideal(n int) float64 {
	return (float64(n)/(1-p.fail) - pacingBurst) / pacingRate
}

// pacingSample is what one pacing client measured.
type pacingSample struct {
	Seconds       float64 `json:"seconds"`         // until the last result, or the cap
	Done          int     `json:"done"`            // URLs that ended with a 200
	Failed        int     `json:"failed"`          // URLs that ended otherwise
	OutOfAttempts int     `json:"out_of_attempts"` // failed with a retryable status on their last allowed attempt
	On503         int     `json:"on_503"`          // of those, failed with a 503: the failing server's random draws
	Refused       int     `json:"refused"`         // 429 answers, over all attempts
	Unavailable   int     `json:"unavailable"`     // 503 answers, over all attempts
	Rounds        int     `json:"rounds"`          // rounds of 429s (see pacingGap)
	Attempts      int     `json:"attempts"`        // over every URL, as Result.Attempts counts them
	Capped        bool    `json:"capped"`          // stopped at pacingCap
}

// pacing is the client side: the default Fetcher at concurrency conc,
// adaptive or not, streams n copies of url, and writes a pacingSample. The
// hook only counts; it changes nothing the Fetcher does.
func pacing(adaptive bool, url string, n, conc int, w io.Writer) error {
	var (
		mu      sync.Mutex
		refused []time.Duration // when each 429 came
		unavail int
	)
	start := time.Now()
	opts := []fetch.Option{
		fetch.WithConcurrency(conc),
		fetch.WithHooks(fetch.Hooks{OnAttempt: func(a fetch.AttemptInfo) {
			mu.Lock()
			defer mu.Unlock()
			switch a.Status {
			case http.StatusTooManyRequests:
				refused = append(refused, time.Since(start))
			case http.StatusServiceUnavailable:
				unavail++
			}
		}}),
	}
	if adaptive {
		opts = append(opts, fetch.WithAdaptiveRate(fetch.AdaptiveRate{Floor: 1, Ceiling: 100_000, Initial: 10}))
	}
	f, err := fetch.New(opts...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), pacingCap)
	defer cancel()
	var s pacingSample
	last := fetch.DefaultRetryPolicy().MaxAttempts
	for r := range f.Stream(ctx, repeatURL(url, n)) {
		s.Attempts += r.Attempts
		if r.Err == nil && r.Status == http.StatusOK {
			s.Done++
			continue
		}
		s.Failed++
		var se *fetch.StatusError
		if errors.As(r.Err, &se) && r.Attempts >= last && fetch.DefaultRetryable(&http.Response{StatusCode: se.StatusCode}, nil) {
			s.OutOfAttempts++
			if se.StatusCode == http.StatusServiceUnavailable {
				s.On503++
			}
		}
	}
	s.Seconds, s.Capped = time.Since(start).Seconds(), ctx.Err() != nil
	mu.Lock()
	s.Refused, s.Unavailable, s.Rounds = len(refused), unavail, rounds(refused, pacingGap)
	mu.Unlock()
	return json.NewEncoder(w).Encode(s)
}

// rounds counts the runs of times (in the order they came) in which each
// follows the one before by at most gap.
func rounds(times []time.Duration, gap time.Duration) int {
	times = slices.Clone(times)
	slices.Sort(times)
	n := 0
	for i, t := range times {
		if i == 0 || t-times[i-1] > gap {
			n++
		}
	}
	return n
}

// pacingN is how many URLs each run fetches: the strict server's, and the
// failing server's, which runs long enough to measure a rate.
func (c config) pacingN(p pacingRun) int {
	if p.fail > 0 {
		return c.pacingFailN
	}
	return c.pacingN429
}

// runPacing measures every pacingRun (only the rows under -quick),
// interleaved over rounds, each with a fresh bucket on the server.
func runPacing(self, addr string, cfg config) (map[pacingRun][]pacingSample, error) {
	res := map[pacingRun][]pacingSample{}
	for round := 1; round <= cfg.goodRounds; round++ {
		for i, p := range pacingRuns {
			if !p.required && (cfg.quick || p.fail > 0 && round > 1) {
				continue // the default client among 503s runs into the cap: once is enough
			}
			url := fmt.Sprintf("http://%s/limited?id=pacing-%d-%d&rate=%d&burst=%d&fail=%g", addr, round, i, pacingRate, pacingBurst, p.fail)
			cmd := pinned(1, self, "-client", p.variant(), "-url", url, "-n", strconv.Itoa(cfg.pacingN(p)), "-c", strconv.Itoa(pacingConc))
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				return nil, fmt.Errorf("%s fail %g: %w", p.variant(), p.fail, err)
			}
			var s pacingSample
			if err := json.Unmarshal(out, &s); err != nil {
				return nil, err
			}
			res[p] = append(res[p], s)
		}
		fmt.Fprintf(os.Stderr, "pacing round %d of %d done\n", round, cfg.goodRounds)
	}
	return res, nil
}

func pacingSection(w io.Writer, cfg config, res map[pacingRun][]pacingSample) {
	chance := math.Pow(pacingFail, float64(fetch.DefaultRetryPolicy().MaxAttempts)) // a URL's every attempt a 503
	fmt.Fprintf(w, pacingHeading+`

The server (`+"`-serve`"+`, CPU 0) allows %d req/s per client with a token bucket of burst %d and answers 429 with
`+"`Retry-After: 1`"+` beyond it; in the second shape it also answers %.0f%% of the requests the bucket admits,
drawn at random, with a 503 without Retry-After (failures, not overload). The client (CPU 1) streams N URLs at
concurrency %d and is not told the rate. **default** is `+"`fetch.New(fetch.WithConcurrency(%d))`"+`: the default
retry policy (%d attempts), and the host pause every Retry-After causes; **adaptive** adds
`+"`WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 100000, Initial: 10})`"+`. A hook counts the 429s and 503s
and changes nothing. Ideal completion is (N / (1 − share failed) − burst) / rate; the most successes a second is
rate × (1 − share failed). A **429 round** is a run of 429s less than %v apart: one overshoot and the pause it
causes. **out of attempts** counts the URLs that failed with a 429 or 503 on their last allowed attempt. A figure
is the median over rounds, with the range over rounds in brackets for completion and successes/s (this shared
machine's noise); a run still going after %v is stopped and reported as far as it got. Targets (the
rows marked ✱): the default client on the strict server ≤ 1.5 × ideal with no failures; the adaptive client on
the failing server ≥ 75 successes a second. There, a URL whose %d attempts all draw the server's random 503 fails
whatever the client does: one in %.0f URLs, so that a run of %d sees such a failure %.0f%% of the time ("on a 503").

| server | client | rounds | N | completion | × ideal | successes/s | 429s | 429 rounds | 503s | attempts / URL | failed (out of attempts) | target |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
`, pacingRate, pacingBurst, pacingFail*100, pacingConc, pacingConc, fetch.DefaultRetryPolicy().MaxAttempts, pacingGap, pacingCap,
		fetch.DefaultRetryPolicy().MaxAttempts, 1/chance, cfg.pacingFailN, 100*(1-math.Pow(1-chance, float64(cfg.pacingFailN))))
	for _, p := range pacingRuns {
		ss := res[p]
		if len(ss) == 0 {
			continue
		}
		n := cfg.pacingN(p)
		med := func(f func(pacingSample) float64) float64 {
			var xs []float64
			for _, s := range ss {
				xs = append(xs, f(s))
			}
			return median(xs)
		}
		// spread is the range of f over the rounds, the run-to-run noise.
		spread := func(f func(pacingSample) float64) string {
			if len(ss) < 2 {
				return ""
			}
			lo, hi := f(ss[0]), f(ss[0])
			for _, s := range ss[1:] {
				lo, hi = min(lo, f(s)), max(hi, f(s))
			}
			return fmt.Sprintf(" (%.1f–%.1f)", lo, hi)
		}
		perSecond := func(s pacingSample) float64 { return float64(s.Done) / s.Seconds }
		secs := med(func(s pacingSample) float64 { return s.Seconds })
		rate := med(perSecond)
		failed := med(func(s pacingSample) float64 { return float64(s.Failed) })
		capped := 0
		for _, s := range ss {
			capped += btoi(s.Capped)
		}
		outOfAttempts := med(func(s pacingSample) float64 { return float64(s.OutOfAttempts) })
		completion, times, failures := fmt.Sprintf("%.1f s%s", secs, spread(func(s pacingSample) float64 { return s.Seconds })), fmt.Sprintf("%.2f", secs/p.ideal(n)), fmt.Sprintf("%.0f (%.0f)", failed, outOfAttempts)
		if p.fail > 0 {
			failures = fmt.Sprintf("%.0f (%.0f, %.0f on a 503)", failed, outOfAttempts, med(func(s pacingSample) float64 { return float64(s.On503) }))
		}
		if capped > 0 {
			failures += ", the rest unfinished"
			completion = fmt.Sprintf("stopped at %.0f s in %d of %d rounds, %.0f done", secs, capped, len(ss), med(func(s pacingSample) float64 { return float64(s.Done) }))
			times = "≥ " + times
		}
		server, client, target := "429 beyond the rate", "default", ""
		if p.fail > 0 {
			server = fmt.Sprintf("429 beyond the rate, %.0f%% 503", p.fail*100)
		}
		if p.adaptive {
			client = "adaptive"
		}
		if p.required {
			client += " ✱"
			ok := capped == 0
			if p.fail > 0 {
				ok = ok && rate >= 75 // the target; the server's 503s fail a URL now and then (see pacingSection)
			} else {
				ok = ok && failed == 0 && secs <= 1.5*p.ideal(n)
			}
			target = metText(ok)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %s | %.1f%s | %.0f | %.0f | %.0f | %.2f | %s | %s |\n",
			server, client, len(ss), n, completion, times, rate, spread(perSecond),
			med(func(s pacingSample) float64 { return float64(s.Refused) }),
			med(func(s pacingSample) float64 { return float64(s.Rounds) }),
			med(func(s pacingSample) float64 { return float64(s.Unavailable) }),
			med(func(s pacingSample) float64 { return float64(s.Attempts) / float64(s.Done+s.Failed) }),
			failures, target)
	}
	fmt.Fprintln(w)
}
