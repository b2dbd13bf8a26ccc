package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"

	"github.com/c989c033/fetch"
)

// An ablationStep is one client of the ablation, in the cell where stream
// trails raw-stream most. Every step is built on the library's exported
// API, so that it measures the library and not a copy of it: each differs
// from the client it is compared with (from) by one thing the Fetcher does,
// so that the report can say what that thing costs there.
type ablationStep struct {
	variant, from, by string
}

var ablationSteps = []ablationStep{
	{"raw-stream-again", "raw-stream", "nothing: raw-stream measured a second time, this machine's noise"},
	{"fetch-do-stream", "raw-stream", "each request sent with `Fetcher.Do` instead of the bare client: raw-stream's workers and channel, " +
		"with the Fetcher's per-request path (validation, the host table, the pause, rate and slot gates, the retry decision, the counters, " +
		"the slot held until the body is closed)"},
	{"fetch-handle", "fetch-do-stream", "the Fetcher's streaming engine in place of the hand-written pool: `fetch.Handle` with a handler that " +
		"reads the body into a slice sized from Content-Length, as raw-stream does (input read on a goroutine of its own into per-host queues, " +
		"workers taking from them, a `Handled` yielded through an `iter.Seq`)"},
	{"fetch-streamfunc", "fetch-handle", "the Fetcher reading the body itself into a `Result` (header, final URL, size cap, Duration): " +
		"`fetch.StreamFunc` with a `newRequest` that builds the same GET"},
	{"fetch-stream", "fetch-streamfunc", "`Stream` itself: the Fetcher parses each URL string and builds its request"},
	{"fetch-stream-noretry", "fetch-stream", "`Stream` on a Fetcher built with `WithRetry(RetryPolicy{MaxAttempts: 1})`: " +
		"without the retry bookkeeping, when nothing fails (a throughput ratio above 1, or a CPU ratio below 1, is what that bookkeeping costs)"},
	{"fetch-batch", "fetch-stream", "`GetAll` in place of `Stream`: results kept by input position and returned together"},
}

const (
	ablationConc = 256
	ablationSize = 100
)

// runAblation measures raw-stream and every ablation step, taking turns as
// runLoopback's cells do, and returns each step's per-round ratios to
// raw-stream and to the client it differs from.
func runAblation(self, addr string, cfg config) (toBase, toFrom map[string][][2]float64, err error) {
	vs := []string{"raw-stream"}
	for _, s := range ablationSteps {
		vs = append(vs, s.variant)
	}
	toBase, toFrom = map[string][][2]float64{}, map[string][][2]float64{}
	url := fmt.Sprintf("http://%s/%d", addr, ablationSize)
	for round := 1; round <= cfg.ablationRounds; round++ {
		got, err := runCell(self, url, ablationConc, vs, cfg, rand.New(rand.NewPCG(uint64(round), 1)))
		if err != nil {
			return nil, nil, err
		}
		ratio := func(a, b sample) [2]float64 {
			return [2]float64{a.reqPerSec() / b.reqPerSec(), a.cpuPer10k() / b.cpuPer10k()}
		}
		for _, s := range ablationSteps {
			toBase[s.variant] = append(toBase[s.variant], ratio(got[s.variant], got["raw-stream"]))
			toFrom[s.variant] = append(toFrom[s.variant], ratio(got[s.variant], got[s.from]))
		}
	}
	return toBase, toFrom, nil
}

// ablationSection writes the ablation's table: each step against raw-stream
// and against the client it differs from.
func ablationSection(w io.Writer, cfg config, toBase, toFrom map[string][][2]float64) {
	fmt.Fprintf(w, ablationHeading+`

Stream against raw-stream at c = %d with %d-byte bodies, taken apart through the library's exported API: each
row is a client that differs from the one it is compared with by one thing the Fetcher does, named in the
row (raw-stream again only measures the noise). %d round(s) of %d requests a variant, taking turns as in the
loopback load; a figure is the median of the per-round ratios (×: throughput, higher is better; CPU: client
CPU per request, lower is better).

| variant | compared with | differs by | × raw-stream | CPU × raw-stream | × compared | CPU × compared |
|---|---|---|---|---|---|---|
`, ablationConc, ablationSize, cfg.ablationRounds, cfg.n)
	med := func(rs [][2]float64, i int) float64 {
		var xs []float64
		for _, r := range rs {
			xs = append(xs, r[i])
		}
		return median(xs)
	}
	for _, s := range ablationSteps {
		fmt.Fprintf(w, "| %s | %s | %s | %.3f | %.3f | %.3f | %.3f |\n", s.variant, s.from, s.by,
			med(toBase[s.variant], 0), med(toBase[s.variant], 1), med(toFrom[s.variant], 0), med(toFrom[s.variant], 1))
	}
	fmt.Fprintln(w)
}

// fetchDoStream is rawStream sending each request with Fetcher.Do.
func fetchDoStream(url string, n, conc int) int {
	f := fetcherFor("fetch-do-stream", conc)
	return streamBodies(n, conc, func(ctx context.Context) ([]byte, error) { return getBody(ctx, f.Do, url) })
}

// fetchHandle streams through fetch.Handle, whose handler reads each body
// into a slice as raw-stream does.
func fetchHandle(url string, n, conc int) int {
	f := fetcherFor("fetch-handle", conc)
	errs := 0
	read := func(_ string, resp *http.Response) ([]byte, error) { return readBody(resp) }
	for h := range fetch.Handle(context.Background(), f, repeatURL(url, n), newGet, read) {
		if h.Err != nil {
			errs++
		}
	}
	return errs
}

// fetchStreamFunc streams through fetch.StreamFunc, building each GET
// itself.
func fetchStreamFunc(url string, n, conc int) int {
	f := fetcherFor("fetch-streamfunc", conc)
	return countFailed(fetch.StreamFunc(context.Background(), f, repeatURL(url, n), newGet))
}

// fetchStreamNoRetry is fetchStream on a Fetcher that never retries.
func fetchStreamNoRetry(url string, n, conc int) int {
	f := fetcherFor("fetch-stream-noretry", conc, fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 1}))
	return countFailed(f.Stream(context.Background(), repeatURL(url, n)))
}

// newGet builds a GET of url under ctx, for StreamFunc and Handle.
func newGet(ctx context.Context, url string) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
}
