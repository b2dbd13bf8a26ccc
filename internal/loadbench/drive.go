package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

var concurrencies = []int{1, 8, 64, 256}

type config struct {
	n, rounds  int
	turns      int     // turns the variants take in each round, n/turns requests each
	limiterFor int     // seconds of the limiter accuracy check
	rateFor    float64 // seconds a side of each cell of the rate section
	micro      bool
	quick      bool

	goodN, goodRounds int    // the goodput measurements (goodRounds also for the pacing section)
	pacingN429        int    // URLs of the pacing section's strict server
	pacingFailN       int    // and of its failing server
	ablationRounds    int    // rounds of the ablation (see ablationSteps)
	only              string // a key of sections: measure only that, and update its section of out

	hosts       hostsConfig // the many-hosts scenario
	hostsRounds int         // and its rounds
}

// key names one cell of the tables.
type key struct {
	variant string
	size    int
	conc    int
}

// baseline names the variant each is compared with, in the same round:
// raw for naive and the other raw pools, raw-stream for stream, raw-gather
// for batch (like for like).
var baseline = map[string]string{
	"raw": "raw", "raw-again": "raw", "raw-stream": "raw", "raw-gather": "raw", "naive": "raw",
	"fetch-stream": "raw-stream", "fetch-batch": "raw-gather",
}

// drive runs every measurement and writes the report to out (or stdout).
func drive(cfg config, out string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	srv, addr, err := startServer(self)
	if err != nil {
		return err
	}
	defer srv.Process.Kill()
	if cfg.only != "" {
		return onlySection(self, addr, cfg, out)
	}

	samples, ratios, err := runLoopback(self, addr, cfg)
	if err != nil {
		return err
	}
	var bodies strings.Builder
	if err := writeSection(&bodies, "bodies", self, addr, cfg); err != nil {
		return err
	}
	toBase, toFrom, err := runAblation(self, addr, cfg)
	if err != nil {
		return err
	}
	lim, err := runLimiter(self, addr, cfg.limiterFor)
	if err != nil {
		return err
	}
	var rates strings.Builder
	if err := writeSection(&rates, "rate", self, addr, cfg); err != nil {
		return err
	}
	good, err := runGoodput(self, addr, cfg)
	if err != nil {
		return err
	}
	var pacing strings.Builder
	if err := writeSection(&pacing, "goodput2", self, addr, cfg); err != nil {
		return err
	}
	hosts, err := runHosts(cfg.hosts, cfg.hostsRounds)
	if err != nil {
		return err
	}
	var micro string
	if cfg.micro {
		if micro, err = runMicro(); err != nil {
			return err
		}
	}
	// The head-to-head section needs a base: without one, the section the
	// file has is kept as it was.
	var versus string
	if baseBinary != "" {
		_, versus, err = sections["versus"](self, addr, cfg)
		if err != nil {
			return err
		}
	} else if out != "" {
		if old, err := os.ReadFile(out); err == nil {
			versus = section(string(old), versusHeading)
		}
	}
	var doc strings.Builder
	report(&doc, cfg, samples, ratios, bodies.String(), toBase, toFrom, lim, rates.String(), good, pacing.String(), hosts, micro)
	text := doc.String()
	if versus != "" {
		text = replaceSection(text, versusHeading, versus)
	}
	if out == "" {
		_, err = io.WriteString(os.Stdout, text)
		return err
	}
	return os.WriteFile(out, []byte(text), 0o644)
}

// section returns the section of doc under heading, up to the next "## "
// heading, or "" if doc has none.
func section(doc, heading string) string {
	start := strings.Index(doc, heading)
	if start < 0 {
		return ""
	}
	end := strings.Index(doc[start+len(heading):], "\n## ")
	if end < 0 {
		return doc[start:]
	}
	return doc[start : start+len(heading)+end+1]
}

// runLoopback measures every variant at every body size and concurrency,
// interleaved over cfg.rounds rounds, and returns the samples and each
// one's ratios to its baseline in the same round.
//
// In each round, each cell (body size and concurrency) starts one warmed-up
// client process per variant, and the variants take turns: cfg.turns turns
// of cfg.n/cfg.turns requests each, every turn in its own shuffled order.
// A variant's sample for the round is the sum of its turns. Taking turns
// finely puts every variant's requests within a second or so of the
// others', so that a slow spell on this shared machine falls on all of
// them rather than on whichever ran through it.
func runLoopback(self, addr string, cfg config) (map[key][]sample, map[key][][3]float64, error) {
	samples := map[key][]sample{}
	ratios := map[key][][3]float64{} // per round: throughput, CPU, allocs against the baseline
	for round := 1; round <= cfg.rounds; round++ {
		for _, size := range bodySizes {
			for _, conc := range concurrencies {
				got, err := runCell(self, fmt.Sprintf("http://%s/%d", addr, size), conc, variants, cfg,
					rand.New(rand.NewPCG(uint64(round), uint64(size*conc))))
				if err != nil {
					return nil, nil, err
				}
				for _, v := range variants {
					s, k := got[v], key{v, size, conc}
					samples[k] = append(samples[k], s)
					base := got[baseline[v]]
					ratios[k] = append(ratios[k], [3]float64{
						s.reqPerSec() / base.reqPerSec(),
						s.cpuPer10k() / base.cpuPer10k(),
						s.allocsPerReq() / base.allocsPerReq(),
					})
				}
			}
		}
		fmt.Fprintf(os.Stderr, "round %d of %d done\n", round, cfg.rounds)
	}
	return samples, ratios, nil
}

// runCell measures each of variants once at one URL and concurrency, the
// variants taking turns in orders drawn from rng (seeded by the round and
// cell, so that runs are repeatable and no variant always follows the same
// one: a client that leaves the server or the kernel busy must not tax the
// same successor every time).
func runCell(self, url string, conc int, variants []string, cfg config, rng *rand.Rand) (map[string]sample, error) {
	clients := map[string]*clientProcess{}
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	for _, v := range variants {
		c, err := startClient(self, v, url, conc)
		if err != nil {
			return nil, err
		}
		clients[v] = c
	}
	// Every client has warmed up and waits: from here on, only the client
	// taking its turn runs.
	for _, c := range clients {
		if err := c.ready(); err != nil {
			return nil, err
		}
	}
	got := map[string]sample{}
	for range cfg.turns {
		for _, i := range rng.Perm(len(variants)) {
			v := variants[i]
			s, err := clients[v].measure(cfg.n / cfg.turns)
			if err != nil {
				return nil, err
			}
			got[v] = got[v].plus(s)
		}
	}
	for _, c := range clients {
		if err := c.close(); err != nil {
			return nil, err
		}
	}
	return got, nil
}

// sections are the report's sections that can be measured alone (-only):
// each returns its heading and its text.
var sections = map[string]func(self, addr string, cfg config) (heading, text string, err error){
	"loopback": func(self, addr string, cfg config) (string, string, error) {
		samples, ratios, err := runLoopback(self, addr, cfg)
		var b strings.Builder
		if err == nil {
			loadTables(&b, cfg, samples, ratios)
		}
		return loopbackHeading, b.String(), err
	},
	"bodies": func(self, addr string, cfg config) (string, string, error) {
		res, err := runBodies(self, addr, cfg)
		var b strings.Builder
		if err == nil {
			bodiesSection(&b, cfg, res)
		}
		return bodiesHeading, b.String(), err
	},
	"ablation": func(self, addr string, cfg config) (string, string, error) {
		toBase, toFrom, err := runAblation(self, addr, cfg)
		var b strings.Builder
		if err == nil {
			ablationSection(&b, cfg, toBase, toFrom)
		}
		return ablationHeading, b.String(), err
	},
	"goodput": func(self, addr string, cfg config) (string, string, error) {
		good, err := runGoodput(self, addr, cfg)
		var b strings.Builder
		goodputSection(&b, good, cfg.goodN)
		return goodputHeading, b.String(), err
	},
	"goodput2": func(self, addr string, cfg config) (string, string, error) {
		res, err := runPacing(self, addr, cfg)
		var b strings.Builder
		pacingSection(&b, cfg, res)
		return pacingHeading, b.String(), err
	},
	"hosts": func(_, _ string, cfg config) (string, string, error) {
		res, err := runHosts(cfg.hosts, cfg.hostsRounds)
		var b strings.Builder
		hostsSection(&b, cfg.hosts, res)
		return hostsHeading, b.String(), err
	},
	"rate": func(_, addr string, cfg config) (string, string, error) {
		rows, err := runRate(addr, cfg.rateFor)
		var b strings.Builder
		rateSection(&b, rows, cfg.rateFor)
		return rateHeading, b.String(), err
	},
	"limiter": func(self, addr string, cfg config) (string, string, error) {
		lim, err := runLimiter(self, addr, cfg.limiterFor)
		var b strings.Builder
		limiterSection(&b, lim)
		return limiterHeading, b.String(), err
	},
	"versus": func(self, addr string, cfg config) (string, string, error) {
		res, err := runVersus(self, addr, cfg)
		var b strings.Builder
		if err == nil {
			versusSection(&b, cfg, res)
		}
		return versusHeading, b.String(), err
	},
	"micro": func(_, _ string, _ config) (string, string, error) {
		micro, err := runMicro()
		var b strings.Builder
		microSection(&b, micro)
		return microHeading, b.String(), err
	},
}

// writeSection measures the named section of sections and writes its text
// to w.
func writeSection(w io.Writer, name, self, addr string, cfg config) error {
	_, text, err := sections[name](self, addr, cfg)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, text)
	return err
}

// onlySection measures one section of the report and replaces it in out,
// leaving the rest as it was but for the list of commands, which it
// rewrites too.
func onlySection(self, addr string, cfg config, out string) error {
	measure, ok := sections[cfg.only]
	if !ok {
		return fmt.Errorf("-only %q: no such section", cfg.only)
	}
	heading, text, err := measure(self, addr, cfg)
	if err != nil {
		return err
	}
	if out == "" {
		fmt.Print(text)
		return nil
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	var commands strings.Builder
	howToRun(&commands)
	doc := replaceSection(string(data), heading, text)
	doc = replaceSection(doc, howToRunHeading, commands.String())
	return os.WriteFile(out, []byte(doc), 0o644)
}

// replaceSection returns doc with the section under heading (up to the next
// "## " heading) replaced by text, or text inserted before the
// micro-benchmarks if doc has no such section.
func replaceSection(doc, heading, text string) string {
	start := strings.Index(doc, heading)
	if start < 0 {
		if start = strings.Index(doc, microHeading); start < 0 {
			start = len(doc)
		}
		return doc[:start] + text + doc[start:]
	}
	end := strings.Index(doc[start+len(heading):], "\n## ")
	if end < 0 {
		end = len(doc)
	} else {
		end += start + len(heading) + 1
	}
	return doc[:start] + text + doc[end:]
}

// pinned returns a command running on the given CPU when taskset exists.
func pinned(cpu int, name string, args ...string) *exec.Cmd {
	if _, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() > 1 {
		return exec.Command("taskset", append([]string{"-c", strconv.Itoa(cpu), name}, args...)...)
	}
	return exec.Command(name, args...)
}

func startServer(self string) (*exec.Cmd, string, error) {
	cmd := pinned(0, self, "-serve")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		return nil, "", fmt.Errorf("server did not start: %w", err)
	}
	return cmd, strings.TrimSpace(addr), nil
}

// A clientProcess is one load variant's client process, pinned to CPU 1, which
// measures on request (see serveMeasurements).
type clientProcess struct {
	name string // variant, concurrency and URL, for errors
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	done bool
}

func startClient(self, variant, url string, conc int) (*clientProcess, error) {
	bin, name := clientBinary(self, variant)
	cmd := pinned(1, bin, "-client", name, "-url", url, "-c", strconv.Itoa(conc), "-turns")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &clientProcess{name: fmt.Sprintf("%s c=%d %s", variant, conc, url), cmd: cmd, in: in, out: bufio.NewScanner(out)}, nil
}

// ready waits until the client has warmed up.
func (c *clientProcess) ready() error {
	if !c.out.Scan() {
		return c.fail(errors.New("exited while warming up"))
	}
	return nil
}

// measure has the client make n requests and returns what it measured.
func (c *clientProcess) measure(n int) (sample, error) {
	var s sample
	if _, err := fmt.Fprintln(c.in, n); err != nil {
		return s, c.fail(err)
	}
	if !c.out.Scan() {
		return s, c.fail(errors.New("exited without a sample"))
	}
	if err := json.Unmarshal(c.out.Bytes(), &s); err != nil {
		return s, c.fail(err)
	}
	if s.Errors > 0 {
		return s, fmt.Errorf("%s: %d of %d requests failed", c.name, s.Errors, n)
	}
	return s, nil
}

// fail ends the client and says why it failed, with its exit status.
func (c *clientProcess) fail(err error) error {
	if werr := c.close(); werr != nil {
		err = fmt.Errorf("%w (%w)", err, werr)
	}
	return fmt.Errorf("%s: %w", c.name, err)
}

// close ends the client's input and waits for it to exit; it may be called
// more than once.
func (c *clientProcess) close() error {
	if c.done {
		return nil
	}
	c.done = true
	c.in.Close()
	return c.cmd.Wait()
}

// runMicro runs the package's micro-benchmarks, 5 times each.
func runMicro() (string, error) {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "5", ".")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	return string(out), err
}

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if len(xs) == 0 {
		return 0
	}
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// machine describes where the numbers came from.
func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimLeft(name, " \t:"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs, %s/%s, %s, %s", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH,
		runtime.Version(), time.Now().UTC().Format("2006-01-02"))
}
