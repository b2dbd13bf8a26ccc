package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
)

// Versus: this tree's Stream and GetAll head to head with another
// revision's, built as a loadbench binary of its own (-base), in the same
// rounds on the same server, so that a change's cost is measured against a
// baseline in the same run rather than against figures from another day.
// The base's stream measured a second time gives the noise.
const baseSuffix = "@base"

var (
	versusSizes    = []int{100, 16 << 10}
	versusConcs    = []int{8, 64, 256}
	versusVariants = []string{"fetch-stream" + baseSuffix, "fetch-stream" + baseSuffix + "-again", "fetch-stream", "fetch-batch" + baseSuffix, "fetch-batch"}
	versusPairs    = [][2]string{
		{"fetch-stream" + baseSuffix + "-again", "fetch-stream" + baseSuffix}, // the noise
		{"fetch-stream", "fetch-stream" + baseSuffix},
		{"fetch-batch", "fetch-batch" + baseSuffix},
	}
)

// baseBinary is -base: the loadbench binary of the revision compared with,
// which runs the variants named with baseSuffix; baseLabel names it.
var baseBinary, baseLabel string

// clientBinary returns the binary and the variant name that run variant:
// the base's for a name with baseSuffix (and anything after it), self's
// otherwise.
func clientBinary(self, variant string) (bin, name string) {
	if i := strings.Index(variant, baseSuffix); i >= 0 {
		return baseBinary, variant[:i]
	}
	return self, variant
}

// runVersus measures every versus variant in every cell, taking turns over
// cfg.rounds rounds as runLoopback does.
func runVersus(self, addr string, cfg config) (map[[2]int]roundSamples, error) {
	if baseBinary == "" {
		return nil, fmt.Errorf("the versus section needs -base, a loadbench binary built from the revision to compare with")
	}
	res := map[[2]int]roundSamples{}
	for round := 1; round <= cfg.rounds; round++ {
		for _, size := range versusSizes {
			for _, conc := range versusConcs {
				url := fmt.Sprintf("http://%s/%d", addr, size)
				got, err := runCell(self, url, conc, versusVariants, cfg, rand.New(rand.NewPCG(uint64(round), uint64(size*conc+2))))
				if err != nil {
					return nil, err
				}
				res[[2]int{size, conc}] = append(res[[2]int{size, conc}], got)
			}
		}
		fmt.Fprintf(os.Stderr, "versus round %d of %d done\n", round, cfg.rounds)
	}
	return res, nil
}

func versusSection(w io.Writer, cfg config, res map[[2]int]roundSamples) {
	fmt.Fprintf(w, versusHeading+`

This tree's `+"`Stream`"+` and `+"`GetAll`"+` against the same calls built from **%s** (the base), %d requests a
variant in each of %d round(s), taking turns as in the loopback load (server on CPU 0, each variant's client in a
process of its own on CPU 1). The base's stream is measured twice, and its ratio to itself is the noise. A figure is
the median over rounds of the per-round ratio to the base (×: throughput, higher is better; CPU: client CPU per
request, lower is better).

| body bytes | c | base stream req/s | base stream again ×, CPU | stream ×, CPU | batch ×, CPU |
|---|---|---|---|---|---|
`, baseLabel, cfg.n, cfg.rounds)
	noiseLo, noiseHi := 10.0, 0.0
	pooled := map[[2]string][2][]float64{}
	for _, size := range versusSizes {
		for _, c := range versusConcs {
			rs := res[[2]int{size, c}]
			if len(rs) == 0 {
				continue
			}
			med := map[[2]string][2]float64{}
			for _, p := range versusPairs {
				tput, cpu := rs.ratios(p[0], p[1])
				med[p] = [2]float64{median(tput), median(cpu)}
				q := pooled[p]
				q[0], q[1] = append(q[0], tput...), append(q[1], cpu...)
				pooled[p] = q
			}
			noise, stream, batch := med[versusPairs[0]], med[versusPairs[1]], med[versusPairs[2]]
			noiseLo, noiseHi = min(noiseLo, noise[0], noise[1]), max(noiseHi, noise[0], noise[1])
			fmt.Fprintf(w, "| %d | %d | %.0f | %.3f, %.3f | %.3f, %.3f | %.3f, %.3f |\n", size, c,
				rs.median(versusVariants[0], sample.reqPerSec), noise[0], noise[1], stream[0], stream[1], batch[0], batch[1])
		}
	}
	fmt.Fprintf(w, "\nNoise floor: the base's stream measured again against itself gives medians from **%.3f** to **%.3f** (throughput and CPU). "+
		"Pooled over every round of every cell, the median ratio to the base, throughput and CPU: stream **%.3f**, %.3f; batch **%.3f**, %.3f; base stream again **%.3f**, %.3f.\n\n",
		noiseLo, noiseHi,
		median(pooled[versusPairs[1]][0]), median(pooled[versusPairs[1]][1]),
		median(pooled[versusPairs[2]][0]), median(pooled[versusPairs[2]][1]),
		median(pooled[versusPairs[0]][0]), median(pooled[versusPairs[0]][1]))
}
