package main

import (
	"context"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/c989c033/fetch"
)

// The ablation rebuilds Stream from raw-stream one piece at a time, in the
// cell where stream trails raw-stream most, so that the report can say what
// each piece costs there. Each step adds one piece to the step before it.
var ablationSteps = []struct{ variant, adds string }{
	{"raw-stream-again", "nothing: raw-stream measured a second time, this machine's noise"},
	{"raw-stream-pull", "takes its URLs from an `iter.Seq`, through `iter.Pull` under a mutex, as Stream does"},
	{"raw-stream-shaped", "fills a `fetch.Result` per request in place (with Duration's two clock readings), " +
		"sends it over the channel and yields it through an `iter.Seq`"},
	{"fetch-stream", "the Fetcher: `Stream` itself, whose requests also pass validation, the host table, " +
		"the in-flight slots, the retry checks and the counters"},
}

const (
	ablationConc = 256
	ablationSize = 100
)

// runAblation measures raw-stream and every ablation step, taking turns as
// runLoopback's cells do, and returns each step's per-round ratios to
// raw-stream and to the step before it.
func runAblation(self, addr string, cfg config) (toBase, toPrev map[string][][2]float64, err error) {
	vs := []string{"raw-stream"}
	for _, s := range ablationSteps {
		vs = append(vs, s.variant)
	}
	toBase, toPrev = map[string][][2]float64{}, map[string][][2]float64{}
	url := fmt.Sprintf("http://%s/%d", addr, ablationSize)
	for round := 1; round <= cfg.ablationRounds; round++ {
		got, err := runCell(self, url, ablationConc, vs, cfg, rand.New(rand.NewPCG(uint64(round), 1)))
		if err != nil {
			return nil, nil, err
		}
		ratio := func(a, b sample) [2]float64 {
			return [2]float64{a.reqPerSec() / b.reqPerSec(), a.cpuPer10k() / b.cpuPer10k()}
		}
		prev := "raw-stream"
		for _, s := range ablationSteps {
			toBase[s.variant] = append(toBase[s.variant], ratio(got[s.variant], got["raw-stream"]))
			toPrev[s.variant] = append(toPrev[s.variant], ratio(got[s.variant], got[prev]))
			if s.variant != "raw-stream-again" {
				prev = s.variant
			}
		}
	}
	return toBase, toPrev, nil
}

// ablationSection writes the ablation's table: each step against raw-stream
// and against the step before it.
func ablationSection(w io.Writer, cfg config, toBase, toPrev map[string][][2]float64) {
	fmt.Fprintf(w, ablationHeading+`

Stream against raw-stream at c = %d with %d-byte bodies, rebuilt one piece at a time: each row adds one
piece of Stream's work to the row above it (raw-stream again only measures the noise). %d round(s) of %d
requests a variant, taking turns as in the loopback load; a figure is the median of the per-round ratios
(×: throughput, higher is better; CPU: client CPU per request, lower is better).

| variant | adds | × raw-stream | CPU × raw-stream | × the row above | CPU × the row above |
|---|---|---|---|---|---|
`, ablationConc, ablationSize, cfg.ablationRounds, cfg.n)
	med := func(rs [][2]float64, i int) float64 {
		var xs []float64
		for _, r := range rs {
			xs = append(xs, r[i])
		}
		return median(xs)
	}
	for _, s := range ablationSteps {
		above := fmt.Sprintf("%.3f | %.3f", med(toPrev[s.variant], 0), med(toPrev[s.variant], 1))
		if s.variant == "raw-stream-again" {
			above = "| "
		}
		fmt.Fprintf(w, "| %s | %s | %.3f | %.3f | %s |\n", s.variant, s.adds,
			med(toBase[s.variant], 0), med(toBase[s.variant], 1), above)
	}
	fmt.Fprintln(w)
}

// rawStreamPull is rawStream taking its URLs from an iter.Seq through
// iter.Pull, as Stream does.
func rawStreamPull(url string, n, conc int) int {
	src := pullURLs(url, n)
	defer src.stop()
	return streamBodies(url, conc, func() (string, bool) {
		u, _, ok := src.pull()
		return u, ok
	})
}

// rawStreamShaped is rawStreamPull in Stream's shape: a fetch.Result per
// request, filled in place by the worker, copied over the channel and
// yielded to the caller through an iter.Seq.
func rawStreamShaped(url string, n, conc int) int {
	errs := 0
	for r := range shapedStream(url, n, conc) {
		if r.Err != nil {
			errs++
		}
	}
	return errs
}

func shapedStream(url string, n, conc int) iter.Seq[fetch.Result] {
	rawPool(url, 0, conc) // build the client
	return func(yield func(fetch.Result) bool) {
		ctx, cancel := context.WithCancel(context.Background())
		src := pullURLs(url, n)
		results := make(chan fetch.Result, conc)
		var wg sync.WaitGroup
		for range conc {
			wg.Go(func() {
				r := new(fetch.Result)
				for u, i, ok := src.pull(); ok; u, i, ok = src.pull() {
					fillResult(ctx, u, i, r)
					results <- *r
				}
			})
		}
		go func() { wg.Wait(); close(results) }()
		defer func() {
			src.stop()
			cancel()
			for range results {
			}
		}()
		for r := range results {
			if !yield(r) {
				return
			}
		}
	}
}

// epoch is what Duration is measured against, as in the Fetcher.
var epoch = time.Now()

// fillResult fetches u with rawClient and reports it in *r as Stream does,
// with the Result's Duration.
func fillResult(ctx context.Context, u string, i int, r *fetch.Result) {
	start := time.Since(epoch)
	*r = fetch.Result{Index: i, URL: u}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = rawClient.Do(req); err == nil {
			r.Status, r.Header, r.FinalURL = resp.StatusCode, resp.Header, u
			r.Body, err = readAll(resp)
		}
	}
	r.Attempts, r.Err = 1, err
	r.Duration = time.Since(epoch) - start
}

// urlPuller hands out n copies of a URL, with their positions, to any
// number of goroutines, pulling each from an iter.Seq as Stream pulls its
// input.
type urlPuller struct {
	mu       sync.Mutex // iter.Pull's next is not safe for concurrent use
	next     func() (string, bool)
	stopIter func()
	n        int
	done     bool
}

func pullURLs(url string, n int) *urlPuller {
	next, stop := iter.Pull(func(yield func(string) bool) {
		for range n {
			if !yield(url) {
				return
			}
		}
	})
	return &urlPuller{next: next, stopIter: stop}
}

func (p *urlPuller) pull() (url string, i int, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return "", 0, false
	}
	if url, ok = p.next(); !ok {
		p.done = true
		return "", 0, false
	}
	p.n++
	return url, p.n - 1, true
}

// stop ends the input: later pulls return ok false.
func (p *urlPuller) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = true
	p.stopIter()
}
