package fetch

// A batch or stream input waits for a rate token in the same line as the
// calls of Do and Get on the same bucket, and gets its turn among them.
//
// The scheduler takes tokens without waiting (gates.try). While calls wait
// in a bucket's line, the front's reservation keeps the bucket below one
// token, so Do and Get callers that call again as soon as they are served
// keep the line alive for ever; a scheduler that only looked for a whole
// token (as before its seats) never saw one, and the input waited as long
// as the callers went on. Now its seat joins the line, and is given the
// token at its turn: with N callers looping, the input goes within about
// N+1 token intervals. It is given 10 here.
//
// Everything runs in a testing/synctest bubble, against the in-memory
// transport (aioWire over internal/memhttp, from aiohttp_port_test.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestBatchTakesItsTurnInTokenLines(t *testing.T) {
	const (
		perSec   = 10 // tokens a second: one every 100ms
		interval = time.Second / perSec
		allowed  = 10 * interval // the batch input must go within this
		giveUp   = 100 * interval
		maxLoops = 100_000 // bound on each looper's calls
	)
	gatesCases := []struct {
		name     string
		opts     []Option
		batchURL string
	}{
		{"host rate", []Option{WithHostRate(perSec, 1)}, "http://a/batch"},
		{"global rate/same host", []Option{WithRate(perSec, 1)}, "http://a/batch"},
		{"global rate/other host", []Option{WithRate(perSec, 1)}, "http://b/batch"},
		{"adaptive rate", []Option{WithAdaptiveRate(AdaptiveRate{Floor: perSec, Ceiling: perSec})}, "http://a/batch"},
		{"host and global rate", []Option{WithHostRate(perSec, 1), WithRate(perSec, 1)}, "http://a/batch"},
	}
	for _, gc := range gatesCases {
		for _, call := range []string{"GetAll", "Stream"} {
			// pause is each looper's think time between calls; with
			// none, the loopers alone ask for more than the rate. The
			// last case is a control: the loopers ask for less than the
			// rate, so the bucket refills between their calls.
			for _, lc := range []struct {
				loopers int
				pause   time.Duration
			}{{0, 0}, {1, 0}, {3, 0}, {1, 2 * interval}} {
				loopers, pause := lc.loopers, lc.pause
				name := fmt.Sprintf("%s/%s/%d loopers pausing %v", gc.name, call, loopers, pause)
				t.Run(name, func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						w := newAIOWire(nil)
						f := aioNew(t, w, append([]Option{WithConcurrency(64)}, gc.opts...)...)
						stop := make(chan struct{})
						var wg sync.WaitGroup
						var served atomic.Int64
						for i := range loopers {
							wg.Go(func() {
								for j := range maxLoops {
									select {
									case <-stop:
										return
									default:
									}
									u := fmt.Sprintf("http://a/loop%d-%d", i, j)
									if i%2 == 0 {
										resp, err := f.Do(mustGet(t, u))
										if err != nil {
											t.Errorf("looper %d: %v", i, err)
											return
										}
										io.Copy(io.Discard, resp.Body)
										resp.Body.Close()
									} else if _, err := f.Get(context.Background(), u); err != nil {
										t.Errorf("looper %d: %v", i, err)
										return
									}
									served.Add(1)
									if pause > 0 {
										time.Sleep(pause)
									}
								}
							})
						}
						// Let the loopers drain the bucket and form a line.
						time.Sleep(3 * interval)
						synctest.Wait()
						before := served.Load()
						start := time.Now()
						done := make(chan error, 1)
						go func() {
							var errs []error
							switch call {
							case "GetAll":
								for _, r := range f.GetAll(context.Background(), []string{gc.batchURL}) {
									errs = append(errs, r.Err)
								}
							case "Stream":
								for r := range f.Stream(context.Background(), slices.Values([]string{gc.batchURL})) {
									errs = append(errs, r.Err)
								}
							}
							done <- errors.Join(errs...)
						}()
						finish := func() {
							close(stop)
							wg.Wait()
						}
						select {
						case err := <-done:
							took := time.Since(start)
							n := served.Load() - before
							if err != nil {
								t.Error(err)
							}
							t.Logf("the %s input went after %v (%d token intervals), the %d Do/Get loopers being served %d times meanwhile",
								call, took, took/interval, loopers, n)
							if took > allowed {
								t.Errorf("STARVATION: the %s input waited %v for a rate token (%s), more than %v, while %d Do/Get loopers were served %d times",
									call, took, gc.name, allowed, loopers, n)
							}
							finish()
						case <-time.After(giveUp):
							t.Errorf("STARVATION: the %s input still waits for a rate token (%s) after %v of fake time (%d token intervals), while %d Do/Get loopers on the same bucket were served %d times; a fair share would have let it go within %d tokens",
								call, gc.name, giveUp, giveUp/interval, loopers, served.Load()-before, loopers+1)
							finish()
							// With the loopers gone the line ends, and the
							// input must go at last.
							select {
							case err := <-done:
								if err != nil {
									t.Error(err)
								}
								t.Logf("once the loopers stopped, the input went %v after it was queued", time.Since(start))
							case <-time.After(giveUp):
								t.Errorf("the %s input still waits %v after the loopers stopped", call, giveUp)
							}
						}
						if got := w.arrivedAt(aioHostOf(gc.batchURL)); !slices.Contains(got, "/batch") {
							t.Errorf("the batch input never reached the wire")
						}
					})
				})
			}
		}
	}
}

// aioHostOf returns the host of the test's URLs ("http://a/batch" -> "a").
func aioHostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	return aioHost(p)
}
