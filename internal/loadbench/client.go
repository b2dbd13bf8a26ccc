package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
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
	if adaptive, ok := map[string]bool{"pacing-default": false, "pacing-adaptive": true}[variant]; ok {
		return pacing(adaptive, url, n, conc, w)
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
// concurrency conc and returns the failures. The ablation's steps
// (ablation.go) and the bodies section's variants (bodies.go) are here too.
var loadRuns = map[string]func(url string, n, conc int) int{
	"raw": rawPool, "raw-again": rawPool, "raw-stream": rawStream, "raw-gather": rawGather, "naive": naivePool, "fetch-stream": fetchStream, "fetch-batch": fetchBatch,
	"raw-stream-again": rawStream, "fetch-do-stream": fetchDoStream, "fetch-handle": fetchHandle, "fetch-streamfunc": fetchStreamFunc, "fetch-stream-noretry": fetchStreamNoRetry,
	"raw-discard": rawDiscard, "raw-discard-again": rawDiscard, "fetch-handle-discard": fetchHandleDiscard,
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
// hand-written client would, and closes it: every variant but the
// discarding ones reads each body into memory, as the Fetcher's results do.
func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	return readBody(resp)
}

// readBody is readAll leaving the body open.
func readBody(resp *http.Response) ([]byte, error) {
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
	rawPool(url, 0, conc) // build the client
	return streamBodies(n, conc, func(ctx context.Context) ([]byte, error) { return getBody(ctx, rawClient.Do, url) })
}

// streamBodies runs get n times on conc goroutines under a context it
// cancels on return, hands each body to the calling goroutine over a
// channel, and returns the failures.
func streamBodies(n, conc int, get func(context.Context) ([]byte, error)) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		body []byte
		err  error
	}
	results := make(chan result, conc)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				body, err := get(ctx)
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

// getBody sends a GET of url under ctx with do (an http.Client's Do or a
// Fetcher's) and reads the body.
func getBody(ctx context.Context, do func(*http.Request) (*http.Response, error), url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := do(req)
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

// fetchers holds each variant's Fetcher, built on first use with the
// variant's options: a client process runs one variant, and a test runs
// them one after another, each with its own.
var fetchers = map[string]*fetch.Fetcher{}

func fetcherFor(variant string, conc int, opts ...fetch.Option) *fetch.Fetcher {
	if fetchers[variant] == nil {
		f, err := fetch.New(append([]fetch.Option{fetch.WithConcurrency(conc)}, opts...)...)
		if err != nil {
			panic(err) // the variants' options are fixed in this program
		}
		fetchers[variant] = f
	}
	return fetchers[variant]
}

// repeatURL yields url n times.
func repeatURL(url string, n int) iter.Seq[string] {
	return func(yield func(string) bool) {
		for range n {
			if !yield(url) {
				return
			}
		}
	}
}

func fetchStream(url string, n, conc int) int {
	return countFailed(fetcherFor("fetch-stream", conc).Stream(context.Background(), repeatURL(url, n)))
}

func fetchBatch(url string, n, conc int) int {
	f := fetcherFor("fetch-batch", conc)
	return countFailed(slices.Values(f.GetAll(context.Background(), slices.Repeat([]string{url}, n))))
}

// countFailed returns how many results carry an error.
func countFailed(results iter.Seq[fetch.Result]) int {
	errs := 0
	for r := range results {
		if r.Err != nil {
			errs++
		}
	}
	return errs
}
