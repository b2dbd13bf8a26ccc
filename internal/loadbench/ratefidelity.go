package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/c989c033/fetch"
	"golang.org/x/time/rate"
)

const rateHeading = "## Rate delivered"

// rateWorkers is the concurrency of both sides of the rate section.
const rateWorkers = 50

// A rateRow is one cell of the rate section: a rate, a burst, global or
// per host, and the rates delivered, in requests a second, by a pool of
// rateWorkers goroutines each calling rate.Limiter.Wait before its request
// (the baseline) and by Stream with WithRate or WithHostRate, measured one
// after the other against the same server.
type rateRow struct {
	r            float64
	burst        int
	host         bool
	base, stream float64
}

// runRate measures the rate section: each cell runs for about seconds
// seconds a side.
func runRate(addr string, seconds float64) ([]rateRow, error) {
	url := "http://" + addr + "/100"
	var rows []rateRow
	for _, r := range []float64{200, 1000, 4000} {
		for _, burst := range []int{1, max(2, int(r/200))} {
			for _, host := range []bool{false, true} {
				n := int(r * seconds)
				row := rateRow{r: r, burst: burst, host: host, base: waitPool(url, r, burst, n)}
				var err error
				if row.stream, err = streamAt(url, r, burst, host, n); err != nil {
					return nil, err
				}
				rows = append(rows, row)
			}
		}
	}
	return rows, nil
}

// waitPool sends n requests to url from rateWorkers goroutines, each
// waiting on one shared rate.Limiter before its request, and returns the
// rate it delivered.
func waitPool(url string, r float64, burst, n int) float64 {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = rateWorkers
	defer t.CloseIdleConnections()
	client := &http.Client{Transport: t}
	lim := rate.NewLimiter(rate.Limit(r), burst)
	work := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range rateWorkers {
		wg.Go(func() {
			for range work {
				lim.Wait(context.Background())
				if resp, err := client.Get(url); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	for range n {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// streamAt sends n requests to url with Stream under WithRate (or, with
// host, WithHostRate) and returns the rate it delivered.
func streamAt(url string, r float64, burst int, host bool, n int) (float64, error) {
	limit := fetch.WithRate(rate.Limit(r), burst)
	if host {
		limit = fetch.WithHostRate(rate.Limit(r), burst)
	}
	f, err := fetch.New(fetch.WithConcurrency(rateWorkers), limit)
	if err != nil {
		return 0, err
	}
	defer f.Shutdown(context.Background())
	urls := func(yield func(string) bool) {
		for range n {
			if !yield(url) {
				return
			}
		}
	}
	start := time.Now()
	for res := range f.Stream(context.Background(), urls) {
		if res.Err != nil {
			return 0, res.Err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func rateSection(w io.Writer, rows []rateRow, seconds float64) {
	fmt.Fprintf(w, rateHeading+`

The rate a limit delivers when requests queue for it: %d goroutines each calling `+"`rate.Limiter.Wait`"+` before
its request (the baseline), then `+"`Stream`"+` with `+"`WithConcurrency(%d)`"+` and `+"`WithRate`"+` (global) or
`+"`WithHostRate`"+` (per host; one host here), about %.0f s of requests a side, one after the other, in this
process, against the loopback server. × is Stream's rate over the baseline's. A burst of 1 holds one token at a
time, so every wake-up that comes late for a token costs the rate, unless the token is taken as of the time it
was due; at thousands a second Stream's round trip for each token outlasts the interval. A burst of r/200 (at least 2) absorbs it.

| rate/s | burst | bucket | baseline req/s | Stream req/s | × |
|---|---|---|---|---|---|
`, rateWorkers, rateWorkers, seconds)
	for _, r := range rows {
		bucket := "global"
		if r.host {
			bucket = "per host"
		}
		fmt.Fprintf(w, "| %.0f | %d | %s | %.0f | %.0f | %.3f |\n", r.r, r.burst, bucket, r.base, r.stream, r.stream/r.base)
	}
	fmt.Fprintln(w)
}
