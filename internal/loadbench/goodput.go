package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/c989c033/fetch"
	"golang.org/x/time/rate"
)

// Goodput: a server that enforces its own limit of goodRate requests per
// second (a token bucket) and answers 429 with Retry-After beyond it; the
// client has concurrency goodConc and is not told the rate.
const (
	goodRate = 200
	goodN    = 4000
	goodConc = 64
	// goodCap bounds one measurement: a client that has not finished by
	// then is stopped, and what it got so far is reported.
	goodCap = 90 * time.Second
)

// goodServer is the -serve side: /limited?id=I&rate=R&burst=B keeps one
// token bucket per id, so that every measurement starts with a full one.
// With &fail=F, it answers a share F of the requests the bucket admits,
// drawn at random, with a 503 without Retry-After: failures that are not
// overload.
type goodServer struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func (s *goodServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rt, _ := strconv.Atoi(q.Get("rate"))
	burst, _ := strconv.Atoi(q.Get("burst"))
	s.mu.Lock()
	lim := s.buckets[q.Get("id")]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(rt), burst)
		s.buckets[q.Get("id")] = lim
	}
	s.mu.Unlock()
	if !lim.Allow() {
		w.Header().Set("Retry-After", "1") // whole seconds, rounded up, as servers send it
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	if fail, _ := strconv.ParseFloat(q.Get("fail"), 64); rand.Float64() < fail {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok"))
}

// goodSample is what one goodput client measured.
type goodSample struct {
	Seconds float64 `json:"seconds"` // until the last request finished, or the cap
	Done    int     `json:"done"`    // requests that ended with a 200
	Failed  int     `json:"failed"`  // requests that ended otherwise
	Refused int     `json:"refused"` // 429 answers, over all attempts
	Capped  bool    `json:"capped"`  // stopped at goodCap
}

// goodput is the client side: it fetches url n times at concurrency conc,
// adaptively or not, and writes a goodSample.
func goodput(adaptive bool, url string, n, conc int, w io.Writer) error {
	var refused atomic.Int64
	opts := []fetch.Option{
		fetch.WithConcurrency(conc),
		fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 20}), // default backoff, enough attempts to finish
		fetch.WithHooks(fetch.Hooks{OnAttempt: func(a fetch.AttemptInfo) {
			if a.Response != nil && a.Response.StatusCode == http.StatusTooManyRequests {
				refused.Add(1)
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
	ctx, cancel := context.WithTimeout(context.Background(), goodCap)
	defer cancel()
	urls := func(yield func(string) bool) {
		for range n {
			if !yield(url) {
				return
			}
		}
	}
	var s goodSample
	start := time.Now()
	for r := range f.Stream(ctx, urls) {
		if r.Err == nil && r.Status == http.StatusOK {
			s.Done++
		} else {
			s.Failed++
		}
	}
	s.Seconds, s.Refused, s.Capped = time.Since(start).Seconds(), int(refused.Load()), ctx.Err() != nil
	return json.NewEncoder(w).Encode(s)
}

// goodRun names one goodput measurement.
type goodRun struct {
	adaptive bool
	burst    int
}

func (g goodRun) variant() string {
	if g.adaptive {
		return "goodput-adaptive"
	}
	return "goodput-plain"
}

// runGoodput measures every goodRun, interleaved over rounds.
func runGoodput(self, addr string, cfg config) (map[goodRun][]goodSample, error) {
	res := map[goodRun][]goodSample{}
	bursts := []int{goodRate, goodRate / 10}
	if cfg.quick {
		bursts = bursts[:1] // the strict server takes plain retries minutes
	}
	id, rounds, n := 0, cfg.goodRounds, cfg.goodN
	for round := 1; round <= rounds; round++ {
		for _, burst := range bursts {
			for _, adaptive := range []bool{false, true} {
				g := goodRun{adaptive, burst}
				if !adaptive && burst < goodRate && round > 1 {
					continue // capped every time: once is enough
				}
				id++
				url := fmt.Sprintf("http://%s/limited?id=%d&rate=%d&burst=%d", addr, id, goodRate, burst)
				cmd := pinned(1, self, "-client", g.variant(), "-url", url, "-n", strconv.Itoa(n), "-c", strconv.Itoa(goodConc))
				cmd.Stderr = os.Stderr
				out, err := cmd.Output()
				if err != nil {
					return nil, fmt.Errorf("%s burst %d: %w", g.variant(), burst, err)
				}
				var s goodSample
				if err := json.Unmarshal(out, &s); err != nil {
					return nil, err
				}
				res[g] = append(res[g], s)
			}
		}
		fmt.Fprintf(os.Stderr, "goodput round %d of %d done\n", round, rounds)
	}
	return res, nil
}

func goodputSection(w io.Writer, res map[goodRun][]goodSample, n int) {
	ideal := float64(n) / goodRate
	fmt.Fprintf(w, goodputHeading+`

The server (`+"`-serve`"+`, CPU 0) allows %d req/s per client with a token bucket and answers 429 with
`+"`Retry-After: 1`"+` beyond it; the client (CPU 1) streams %d requests at concurrency %d and is not told the
rate. **plain** is the default Fetcher with a 20-attempt retry policy (exponential backoff, full jitter) and
the host pause every Retry-After causes; **adaptive** adds
`+"`WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 100000, Initial: 10})`"+`. Ideal completion is N / R = %.0f s. A figure is the median over rounds, with the range over rounds in brackets for completion (this shared machine's noise); a run still
going after %v is stopped and reported as far as it got. The issue's target applies to the first server:
adaptive completion ≤ 1.15 × ideal with 429s ≤ 10%% of N. The second, with a tenth of the burst, shows how
the figures move when the server punishes overshoot sooner.

| server burst | client | rounds | completion | × ideal | 429s | 429s / N | failed |
|---|---|---|---|---|---|---|---|
`, goodRate, n, goodConc, ideal, goodCap)
	for _, burst := range []int{goodRate, goodRate / 10} {
		for _, adaptive := range []bool{false, true} {
			ss := res[goodRun{adaptive, burst}]
			if len(ss) == 0 {
				continue
			}
			var secs, refused, failed []float64
			capped := 0
			for _, s := range ss {
				secs, refused, failed = append(secs, s.Seconds), append(refused, float64(s.Refused)), append(failed, float64(s.Failed))
				if s.Capped {
					capped++
				}
			}
			name := strings.TrimPrefix(goodRun{adaptive, burst}.variant(), "goodput-")
			completion, times, failures := fmt.Sprintf("%.1f s%s", median(secs), spanOf(secs)), fmt.Sprintf("%.2f", median(secs)/ideal), fmt.Sprintf("%.0f", median(failed))
			if capped > 0 {
				completion = fmt.Sprintf("stopped at %.0f s with %d of %d done", median(secs), ss[0].Done, n)
				times, failures = "≥ "+times, fmt.Sprintf("%.0f (unfinished)", median(failed))
			}
			fmt.Fprintf(w, "| %d (%s) | %s | %d | %s | %s | %.0f | %.1f%% | %s |\n", burst,
				map[bool]string{true: "1 s of tokens", false: "0.1 s of tokens"}[burst == goodRate],
				name, len(ss), completion, times, median(refused), median(refused)/float64(n)*100, failures)
		}
	}
	fmt.Fprintln(w)
}

// spanOf returns " (lo–hi)", the range of xs in seconds, or "" for fewer
// than two.
func spanOf(xs []float64) string {
	if len(xs) < 2 {
		return ""
	}
	return fmt.Sprintf(" (%.1f–%.1f)", slices.Min(xs), slices.Max(xs))
}
