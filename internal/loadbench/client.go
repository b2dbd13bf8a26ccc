package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/c989c033/fetch"
)

// variants are the clients compared. raw-again is raw measured a second
// time in the same round: its ratio to raw is this machine's noise floor.
var variants = []string{"raw", "raw-again", "raw-stream", "raw-gather", "naive", "fetch-stream", "fetch-batch"}

// sample is what one client process measured, over one or more runs.
type sample struct {
	Requests   int     `json:"requests"`
	Seconds    float64 `json:"seconds"`     // wall time
	CPUSeconds float64 `json:"cpu_seconds"` // the process's user and system time
	Mallocs    uint64  `json:"mallocs"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	Errors     int     `json:"errors"`
}

func (s sample) reqPerSec() float64    { return float64(s.Requests) / s.Seconds }
func (s sample) cpuPer10k() float64    { return s.CPUSeconds / float64(s.Requests) * 10_000 }
func (s sample) allocsPerReq() float64 { return float64(s.Mallocs) / float64(s.Requests) }

// plus returns the sample of s's runs and t's together.
func (s sample) plus(t sample) sample {
	return sample{
		Requests:   s.Requests + t.Requests,
		Seconds:    s.Seconds + t.Seconds,
		CPUSeconds: s.CPUSeconds + t.CPUSeconds,
		Mallocs:    s.Mallocs + t.Mallocs,
		PeakRSSMiB: max(s.PeakRSSMiB, t.PeakRSSMiB),
		Errors:     s.Errors + t.Errors,
	}
}

// measure fetches url n times at concurrency conc with the named variant,
// and writes a sample as JSON.
func measure(variant, url string, n, conc int, w io.Writer) error {
	if adaptive, ok := map[string]bool{"goodput-plain": false, "goodput-adaptive": true}[variant]; ok {
		return goodput(adaptive, url, n, conc, w)
	}
	if variant == "limiter" { // n is the number of seconds
		r, err := limiterAccuracy(url, n)
		if err != nil {
			return err
		}
		return json.NewEncoder(w).Encode(r)
	}
	return serveMeasurements(variant, url, conc, strings.NewReader(strconv.Itoa(n)+"\n"), io.Discard, w)
}

// loadRuns are the load variants' clients: each fetches url n times at
// concurrency conc and returns the failures.
var loadRuns = map[string]func(url string, n, conc int) int{
	"raw": rawPool, "raw-again": rawPool, "raw-stream": rawStream, "raw-gather": rawGather, "naive": naivePool, "fetch-stream": fetchStream, "fetch-batch": fetchBatch,
	"raw-stream-again": rawStream, "raw-stream-pull": rawStreamPull, "raw-stream-shaped": rawStreamShaped,
}

// serveMeasurements warms the named load variant up, says so by writing a
// line to ready, then makes one measurement for each request count read
// from in (one a line), writing each sample as a line of JSON to w, until
// in ends. The driver keeps one such process per variant and has them take
// turns, so that a process's clients, connections and heap outlive each
// measurement while every sample still counts only that process's work.
func serveMeasurements(variant, url string, conc int, in io.Reader, ready, w io.Writer) error {
	run, ok := loadRuns[variant]
	if !ok {
		return fmt.Errorf("unknown variant %q", variant)
	}
	// Two requests a worker, so that a pool that keeps its connections
	// dials none inside a measurement.
	run(url, max(200, 2*conc), conc)
	fmt.Fprintln(ready, "ready")
	enc := json.NewEncoder(w)
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		n, err := strconv.Atoi(lines.Text())
		if err != nil || n < 1 {
			return fmt.Errorf("request count %q: want a positive integer", lines.Text())
		}
		if err := enc.Encode(measureRun(run, url, n, conc)); err != nil {
			return err
		}
	}
	return lines.Err()
}

// measureRun runs n requests and measures them: time, client CPU (getrusage
// of this process), allocations and peak RSS.
func measureRun(run func(string, int, int) int, url string, n, conc int) sample {
	runtime.GC()
	var ms0, ms1 runtime.MemStats
	var ru0, ru1 syscall.Rusage
	runtime.ReadMemStats(&ms0)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	errs := run(url, n, conc)
	elapsed := time.Since(start)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	runtime.ReadMemStats(&ms1)
	return sample{
		Requests:   n,
		Seconds:    elapsed.Seconds(),
		CPUSeconds: tv(ru1.Utime) + tv(ru1.Stime) - tv(ru0.Utime) - tv(ru0.Stime),
		Mallocs:    ms1.Mallocs - ms0.Mallocs,
		PeakRSSMiB: float64(ru1.Maxrss) / 1024,
		Errors:     errs,
	}
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// readAll reads a body into a slice sized from Content-Length, as a careful
// hand-written client would: every variant reads each body into memory, as
// the Fetcher's results do.
func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	if resp.ContentLength >= 0 {
		b := make([]byte, resp.ContentLength)
		_, err := io.ReadFull(resp.Body, b)
		return b, err
	}
	return io.ReadAll(resp.Body)
}

// pool runs get n times on conc goroutines and returns the failures.
func pool(n, conc int, get func() error) int {
	var next, errs atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if get() != nil {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(errs.Load())
}

// rawPool is a hand-tuned worker pool: the Fetcher's own transport settings
// (a clone of DefaultTransport keeping conc idle connections per host, with
// a 32 KiB read buffer).
var rawClient *http.Client

func rawPool(url string, n, conc int) int {
	if rawClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost, t.MaxConnsPerHost, t.MaxIdleConns = conc, conc, max(100, conc)
		t.ReadBufferSize = 32 << 10
		rawClient = &http.Client{Transport: t}
	}
	return pool(n, conc, func() error { return get(rawClient, url) })
}

// rawGather is rawPool keeping, by input position, what a GetAll Result
// carries: status, header, body and error. It is the baseline for
// fetch-batch; a gather that kept bodies alone would do less than GetAll,
// whose results a caller can read headers from.
func rawGather(url string, n, conc int) int {
	rawPool(url, 0, conc) // build the client
	type result struct {
		status int
		header http.Header
		body   []byte
		err    error
	}
	results := make([]result, n)
	var next atomic.Int64
	return pool(n, conc, func() error {
		r := &results[next.Add(1)-1]
		resp, err := rawClient.Get(url)
		if err == nil {
			r.status, r.header = resp.StatusCode, resp.Header
			r.body, err = readAll(resp)
		}
		r.err = err
		return err
	})
}

// rawStream is rawPool handing each body to the calling goroutine over a
// channel, as a streaming call must: the like-for-like baseline for
// fetch-stream. Like a streaming call, it sends its requests under a context
// it can cancel, so that a consumer that stops early stops the requests in
// flight.
func rawStream(url string, n, conc int) int {
	var next atomic.Int64
	return streamBodies(url, conc, func() (string, bool) { return url, next.Add(1) <= int64(n) })
}

// streamBodies is rawStream taking each URL to fetch from next, until it
// returns false.
func streamBodies(url string, conc int, next func() (string, bool)) int {
	rawPool(url, 0, conc) // build the client
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		body []byte
		err  error
	}
	results := make(chan result, conc)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for u, ok := next(); ok; u, ok = next() {
				body, err := getBody(ctx, u)
				results <- result{body, err}
			}
		})
	}
	go func() { wg.Wait(); close(results) }()
	errs := 0
	for r := range results {
		if r.err != nil {
			errs++
		}
	}
	return errs
}

// getBody fetches url with rawClient under ctx and reads the body.
func getBody(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		return nil, err
	}
	return readAll(resp)
}

// naivePool is what a typical user writes: http.DefaultClient (2 idle
// connections per host) under a pool of goroutines.
func naivePool(url string, n, conc int) int {
	return pool(n, conc, func() error { return get(http.DefaultClient, url) })
}

func get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	_, err = readAll(resp)
	return err
}

var fetcher *fetch.Fetcher

func newFetcher(conc int) *fetch.Fetcher {
	if fetcher == nil {
		fetcher, _ = fetch.New(fetch.WithConcurrency(conc))
	}
	return fetcher
}

func fetchStream(url string, n, conc int) int {
	f := newFetcher(conc)
	urls := func(yield func(string) bool) {
		for range n {
			if !yield(url) {
				return
			}
		}
	}
	errs := 0
	for r := range f.Stream(context.Background(), urls) {
		if r.Err != nil {
			errs++
		}
	}
	return errs
}

func fetchBatch(url string, n, conc int) int {
	f := newFetcher(conc)
	errs := 0
	for _, r := range f.GetAll(context.Background(), slices.Repeat([]string{url}, n)) {
		if r.Err != nil {
			errs++
		}
	}
	return errs
}
