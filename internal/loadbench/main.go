// Command loadbench measures the Fetcher against hand-written net/http
// clients over loopback, and writes BENCHMARKS.md.
//
//	go run ./internal/loadbench -o BENCHMARKS.md      full run (about 35 minutes)
//	go run ./internal/loadbench -quick                one short round, to stdout
//	go run ./internal/loadbench -only loopback -o BENCHMARKS.md
//	                                                  the loopback load section alone (about 20 minutes)
//	go run ./internal/loadbench -only bodies -o BENCHMARKS.md
//	                                                  16 KiB bodies: Handle against a discarding pool, Stream against a keeping one (about 4 minutes)
//	go run ./internal/loadbench -only ablation -o BENCHMARKS.md
//	                                                  where Stream's cost goes, piece by piece (about 7 minutes)
//	go run ./internal/loadbench -only goodput -o BENCHMARKS.md
//	                                                  the goodput section alone (about 6 minutes)
//	go run ./internal/loadbench -only goodput2 -o BENCHMARKS.md
//	                                                  the default Fetcher after Retry-After, and the adaptive rate among 503s (about 4 minutes)
//	go run ./internal/loadbench -only hosts -o BENCHMARKS.md
//	                                                  the many-hosts section alone: one slow host among fast ones (about 2 minutes)
//	go run ./internal/loadbench -only limiter -o BENCHMARKS.md
//	                                                  the limiter section alone (10 seconds)
//	go run ./internal/loadbench -only rate -o BENCHMARKS.md
//	                                                  the rate a burst-1 and a burst-r/200 limit deliver, against rate.Limiter.Wait (about 1 minute)
//	go run ./internal/loadbench -only micro -o BENCHMARKS.md
//	                                                  the micro-benchmarks section alone (about 3 minutes)
//
// A keep-alive server runs in a process of its own, pinned to CPU 0 with
// taskset where there is one. In each round, each variant runs in a client
// process of its own, pinned to CPU 1, so that its CPU time, allocations and
// peak RSS are its own; the variants take turns (A B C D, C A D B, ...),
// several turns a round, and every ratio compares a variant with its
// baseline in the same round, so that a noisy machine moves both sides
// alike.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"log"
	"maps"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
)

func main() {
	var (
		serve   = flag.Bool("serve", false, "run the server (internal)")
		client  = flag.String("client", "", "run one measurement with this variant (internal)")
		url     = flag.String("url", "", "with -client: the URL to fetch")
		n       = flag.Int("n", 20000, "requests per measurement")
		conc    = flag.Int("c", 8, "with -client: concurrency")
		rounds  = flag.Int("rounds", 15, "interleaved rounds")
		quick   = flag.Bool("quick", false, "a short run: few requests, one round, a 1s limiter check")
		out     = flag.String("o", "", "write BENCHMARKS.md here (default: the tables to stdout)")
		benches = flag.Bool("micro", true, "also run the go test micro-benchmarks")
		cpuprof = flag.String("cpuprofile", "", "with -client: write a CPU profile of the measurement here")
		memprof = flag.String("memprofile", "", "with -client: write an allocation profile of the measurement here")
		turns   = flag.Bool("turns", false, "with -client: warm up, print a line, then measure once for each request count read from stdin, one JSON line each (how the driver runs a load variant)")
		only    = flag.String("only", "", `"loopback", "bodies", "ablation", "goodput", "goodput2", "hosts", "limiter", "rate", "versus" (with -base) or "micro": run only that section's measurements, and replace the section in -o`)
		hostRds = flag.Int("hostrounds", 0, "rounds of the many-hosts section (default 3, or 1 under -quick)")
		ablRds  = flag.Int("ablationrounds", 0, "rounds of the ablation (default 60, or 1 under -quick)")
	)
	flag.StringVar(&baseBinary, "base", "", `with -only versus: a loadbench binary built from the revision to compare with`)
	flag.StringVar(&baseLabel, "baselabel", "the base", `with -base: the base revision's name, for the report`)
	flag.Parse()
	log.SetFlags(0)
	switch {
	case *serve:
		runServer()
	case *client != "":
		if *cpuprof != "" {
			f, err := os.Create(*cpuprof)
			if err != nil {
				log.Fatal(err)
			}
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
		if *memprof != "" {
			runtime.MemProfileRate = 4096
			defer writeHeapProfile(*memprof)
		}
		var err error
		if *turns {
			err = serveMeasurements(*client, *url, *conc, os.Stdin, os.Stdout, os.Stdout)
		} else {
			err = measure(*client, *url, *n, *conc, os.Stdout)
		}
		if err != nil {
			log.Fatal(err)
		}
	default:
		cfg := config{n: *n, rounds: *rounds, turns: 5, limiterFor: 10, rateFor: 2, micro: *benches, goodN: goodN, goodRounds: 3, pacingN429: 300, pacingFailN: 1800, ablationRounds: cmp.Or(*ablRds, 60), hosts: hostsFull, hostsRounds: cmp.Or(*hostRds, 3), only: *only}
		if *quick {
			cfg = config{n: 500, rounds: 1, turns: 5, limiterFor: 1, rateFor: 0.25, micro: false, quick: true, goodN: 400, goodRounds: 1, pacingN429: 80, pacingFailN: 200, ablationRounds: cmp.Or(*ablRds, 1), hosts: hostsQuick, hostsRounds: cmp.Or(*hostRds, 1), only: *only}
		}
		if turns := cfg.only == "" || cfg.only == "loopback" || cfg.only == "bodies" || cfg.only == "ablation" || cfg.only == "versus"; turns && (cfg.n < cfg.turns || cfg.n%cfg.turns != 0) {
			fmt.Fprintf(os.Stderr, "loadbench: -n %d: must be a positive multiple of the %d turns a round\n", cfg.n, cfg.turns)
			os.Exit(2)
		}
		if _, ok := sections[*only]; *only != "" && !ok {
			fmt.Fprintf(os.Stderr, "loadbench: -only %q: the sections that run alone are %s\n", *only, strings.Join(slices.Sorted(maps.Keys(sections)), ", "))
			os.Exit(2)
		}
		if err := drive(cfg, *out); err != nil {
			fmt.Fprintln(os.Stderr, "loadbench:", err)
			os.Exit(1)
		}
	}
}

// writeHeapProfile writes the allocation profile to path.
func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		log.Fatal(err)
	}
}
