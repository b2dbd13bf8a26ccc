package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/c989c033/fetch"
)

// Limiter accuracy: 64 workers against a limit of 1,000 req/s, burst 10.
const (
	limRate    = 1000
	limBurst   = 10
	limWorkers = 64
)

type limiterResult struct {
	Seconds    int     `json:"seconds"`
	Requests   int     `json:"requests"`
	Rate       float64 `json:"rate"`        // requests after the first burst, per second
	MaxPer1s   int     `json:"max_per_1s"`  // most requests in any 1-second window
	WindowCap  int     `json:"window_cap"`  // rate + burst
	RateTarget float64 `json:"rate_target"` // the configured rate
}

// stampingTransport records when each request goes on the wire.
type stampingTransport struct {
	http.RoundTripper
	mu    sync.Mutex
	times []time.Time
}

func (t *stampingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	now := time.Now()
	t.mu.Lock()
	t.times = append(t.times, now)
	t.mu.Unlock()
	return t.RoundTripper.RoundTrip(req)
}

func runLimiter(self, addr string, seconds int) (limiterResult, error) {
	var r limiterResult
	cmd := pinned(1, self, "-client", "limiter", "-url", "http://"+addr+"/100", "-n", strconv.Itoa(seconds))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(out, &r)
}

// limiterAccuracy is the client side of runLimiter.
func limiterAccuracy(url string, seconds int) (limiterResult, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = limWorkers
	st := &stampingTransport{RoundTripper: t}
	f, err := fetch.New(fetch.WithClient(&http.Client{Transport: st}),
		fetch.WithRate(fetch.PerSecond(limRate), limBurst), fetch.WithConcurrency(limWorkers))
	if err != nil {
		return limiterResult{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range limWorkers {
		wg.Go(func() {
			for ctx.Err() == nil {
				f.Get(ctx, url)
			}
		})
	}
	wg.Wait()
	times := st.times
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	most, lo := 0, 0
	for hi := range times { // sliding window [times[lo], times[lo]+1s)
		for times[hi].Sub(times[lo]) >= time.Second {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	r := limiterResult{Seconds: seconds, Requests: len(times), MaxPer1s: most, WindowCap: limRate + limBurst, RateTarget: limRate}
	if len(times) > limBurst+1 {
		r.Rate = float64(len(times)-limBurst) / times[len(times)-1].Sub(times[0]).Seconds()
	}
	return r, nil
}
