package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"

	"github.com/c989c033/fetch"
)

// Bodies: at 16 KiB, the handler path against a pool that drops each body
// as it reads it, and buffered Stream against a pool that keeps each body
// until the consumer has it. Each pair does the same work with the body, so
// that a ratio is what the Fetcher adds.
var (
	bodiesSize  = 16 << 10
	bodiesConcs = []int{8, 64, 256}
	// bodiesVariants are measured in every cell; the pairs compare them.
	bodiesVariants = []string{"raw-discard", "raw-discard-again", "fetch-handle-discard", "raw-stream", "fetch-stream"}
	bodiesPairs    = [][2]string{
		{"raw-discard-again", "raw-discard"}, // the noise
		{"fetch-handle-discard", "raw-discard"},
		{"fetch-stream", "raw-stream"},
		{"raw-stream", "raw-discard"}, // what keeping each body costs a hand-written pool
	}
)

// roundSamples are one cell's rounds: what each variant measured in each.
type roundSamples []map[string]sample

// ratios returns the per-round ratios of a to b: throughput, CPU per
// request.
func (rs roundSamples) ratios(a, b string) (tput, cpu []float64) {
	for _, r := range rs {
		tput = append(tput, r[a].reqPerSec()/r[b].reqPerSec())
		cpu = append(cpu, r[a].cpuPer10k()/r[b].cpuPer10k())
	}
	return tput, cpu
}

// median returns the median over rounds of f of variant v's sample.
func (rs roundSamples) median(v string, f func(sample) float64) float64 {
	var xs []float64
	for _, r := range rs {
		xs = append(xs, f(r[v]))
	}
	return median(xs)
}

// runBodies measures every bodies variant at every concurrency, taking
// turns over cfg.rounds rounds as runLoopback does.
func runBodies(self, addr string, cfg config) (map[int]roundSamples, error) {
	res := map[int]roundSamples{}
	url := fmt.Sprintf("http://%s/%d", addr, bodiesSize)
	for round := 1; round <= cfg.rounds; round++ {
		for _, conc := range bodiesConcs {
			got, err := runCell(self, url, conc, bodiesVariants, cfg, rand.New(rand.NewPCG(uint64(round), uint64(bodiesSize*conc+1))))
			if err != nil {
				return nil, err
			}
			res[conc] = append(res[conc], got)
		}
		fmt.Fprintf(os.Stderr, "bodies round %d of %d done\n", round, cfg.rounds)
	}
	return res, nil
}

func bodiesSection(w io.Writer, cfg config, res map[int]roundSamples) {
	fmt.Fprintf(w, bodiesHeading+`

%d-byte bodies, %d requests a variant in each of %d round(s), taking turns as in the loopback load (server on CPU 0,
each variant's client in a process of its own on CPU 1). Variants: **raw-discard**, the hand-tuned net/http pool
copying each body to `+"`io.Discard`"+`; **raw-discard again**, the same measured a second time, the noise;
**handle**, `+"`fetch.Handle`"+` with a handler that copies the body to `+"`io.Discard`"+` (the Fetcher never
buffers it); **raw-stream**, the pool reading each body into a slice it hands over a channel to the consumer, which
holds it until it takes the next, as `+"`Stream`"+` does; **stream**, `+"`Stream`"+`. Handle is compared with
raw-discard and stream with raw-stream, each in the same round; raw-stream × raw-discard is what keeping each
body costs a hand-written pool. A figure is the median over rounds (×: throughput, higher is better; CPU: client
CPU per request, lower is better). Peak RSS is the most a client process held in the round.

| c | raw-discard req/s | raw-discard again ×, CPU | handle × (vs raw-discard) | handle CPU | stream × (vs raw-stream) | stream CPU | raw-stream × raw-discard | allocs/req raw-discard, handle, raw-stream, stream | peak RSS MiB raw-discard, handle, raw-stream, stream |
|---|---|---|---|---|---|---|---|---|---|
`, bodiesSize, cfg.n, cfg.rounds)
	noiseLo, noiseHi := 10.0, 0.0
	pooled := map[[2]string][2][]float64{}
	for _, c := range bodiesConcs {
		rs := res[c]
		if len(rs) == 0 {
			continue
		}
		med := map[[2]string][2]float64{}
		for _, p := range bodiesPairs {
			tput, cpu := rs.ratios(p[0], p[1])
			med[p] = [2]float64{median(tput), median(cpu)}
			q := pooled[p]
			q[0], q[1] = append(q[0], tput...), append(q[1], cpu...)
			pooled[p] = q
		}
		noise := med[bodiesPairs[0]]
		noiseLo, noiseHi = min(noiseLo, noise[0], noise[1]), max(noiseHi, noise[0], noise[1])
		handle, stream, keep := med[bodiesPairs[1]], med[bodiesPairs[2]], med[bodiesPairs[3]]
		fmt.Fprintf(w, "| %d | %.0f | %.3f, %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f, %.1f, %.1f, %.1f | %.0f, %.0f, %.0f, %.0f |\n", c,
			rs.median("raw-discard", sample.reqPerSec), noise[0], noise[1], handle[0], handle[1], stream[0], stream[1], keep[0],
			rs.median("raw-discard", allocs), rs.median("fetch-handle-discard", allocs), rs.median("raw-stream", allocs), rs.median("fetch-stream", allocs),
			rs.median("raw-discard", rss), rs.median("fetch-handle-discard", rss), rs.median("raw-stream", rss), rs.median("fetch-stream", rss))
	}
	fmt.Fprintf(w, "\nNoise floor: raw-discard measured again against itself gives medians from **%.3f** to **%.3f** (throughput and CPU). "+
		"Pooled over every round of every cell, the median ratio, throughput and CPU: handle **%.3f**, %.3f; stream **%.3f**, %.3f; raw-discard again **%.3f**, %.3f.\n\n",
		noiseLo, noiseHi,
		median(pooled[bodiesPairs[1]][0]), median(pooled[bodiesPairs[1]][1]),
		median(pooled[bodiesPairs[2]][0]), median(pooled[bodiesPairs[2]][1]),
		median(pooled[bodiesPairs[0]][0]), median(pooled[bodiesPairs[0]][1]))
}

// rawDiscard is rawPool copying each body to io.Discard instead of reading
// it into a slice.
func rawDiscard(url string, n, conc int) int {
	rawPool(url, 0, conc) // build the client
	return pool(n, conc, func() error {
		resp, err := rawClient.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	})
}

// fetchHandleDiscard streams through fetch.Handle with a handler that
// copies each body to io.Discard.
func fetchHandleDiscard(url string, n, conc int) int {
	f := fetcherFor("fetch-handle-discard", conc)
	discard := func(_ string, resp *http.Response) (int64, error) { return io.Copy(io.Discard, resp.Body) }
	errs := 0
	for h := range fetch.Handle(context.Background(), f, repeatURL(url, n), newGet, discard) {
		if h.Err != nil {
			errs++
		}
	}
	return errs
}
