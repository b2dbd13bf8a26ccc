package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/c989c033/fetch"
	"golang.org/x/time/rate"
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
	Grants     int     `json:"grants"`      // tokens the bucket granted
	Rate       float64 `json:"rate"`        // requests after the first burst, per second
	MaxPer1s   int     `json:"max_per_1s"`  // most requests in any 1-second window, on the wire
	MaxGranted int     `json:"max_granted"` // most tokens granted in any 1-second window
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

// stampingLimiter records when the bucket grants each token: the time its
// reservation may act, as the bucket scheduled it, rather than when the
// waiting goroutine next got to run, which on a busy machine can be later
// and bunch stamps together. It waits as rate.Limiter.Wait does.
type stampingLimiter struct {
	*rate.Limiter
	mu    sync.Mutex
	times []time.Time
}

func (l *stampingLimiter) Wait(ctx context.Context) error {
	now := time.Now()
	r := l.ReserveN(now, 1)
	if !r.OK() {
		return errors.New("limiter: burst below 1")
	}
	at := now.Add(r.DelayFrom(now))
	if d := at.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			r.Cancel()
			return ctx.Err()
		}
	}
	l.mu.Lock()
	l.times = append(l.times, at)
	l.mu.Unlock()
	return nil
}

// mostInASecond returns the most of times (sorted here) in any 1-second
// window.
func mostInASecond(times []time.Time) int {
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	most, lo := 0, 0
	for hi := range times { // sliding window [times[lo], times[lo]+1s)
		for times[hi].Sub(times[lo]) >= time.Second {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	return most
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
	sl := &stampingLimiter{Limiter: rate.NewLimiter(limRate, limBurst)}
	f, err := fetch.New(fetch.WithClient(&http.Client{Transport: st}),
		fetch.WithLimiter(sl), fetch.WithConcurrency(limWorkers))
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
	r := limiterResult{Seconds: seconds, Requests: len(times), Grants: len(sl.times), MaxPer1s: mostInASecond(times),
		MaxGranted: mostInASecond(sl.times), WindowCap: limRate + limBurst, RateTarget: limRate}
	if len(times) > limBurst+1 {
		r.Rate = float64(len(times)-limBurst) / times[len(times)-1].Sub(times[0]).Seconds()
	}
	return r, nil
}
