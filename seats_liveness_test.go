package fetch

// Liveness and fairness tests of the scheduler's seats (seat.go, slots.go,
// tokenwait.go, gates.try, sched.go), written by a reviewing helper.
// Everything runs in testing/synctest bubbles over the in-memory transport;
// time.Sleep inside a bubble is fake time (a server's latency, a caller's
// pace), never synchronisation.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

// A slot ticket used to decline its turn whenever no worker of its
// scheduler was parked (4cfa4ce): while the call had work for other hosts
// its workers were never parked, every turn was declined, and as long as
// other callers kept the host's line alive (two Get loopers here) the input
// for that host waited until the call ran out of other work. It now
// declines only while every worker is out waiting at the gates (see
// scheduler.atGates): a worker busy elsewhere comes back to use the slot.
//
// a.test has a cap of one; two Get loopers keep its line alive (7ms each).
// The batch's first input is for a.test, then 150 inputs each for b.test
// and c.test (10ms each), which keep both workers busy for 1.5s. A fair
// turn lets a.test/batch go within a few loopers' turns and a worker's
// return: well under 200ms.
func TestSeatDeclinedTurnStarvesHostWhileWorkersBusy(t *testing.T) {
	for _, call := range []string{"GetAll", "Stream"} {
		t.Run(call, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const (
					others   = 150
					maxLoops = 10_000
					allowed  = 200 * time.Millisecond
				)
				start := time.Now()
				var batchAt atomic.Int64 // fake ns since start when a.test/batch arrived
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					switch r.Host {
					case "a.test":
						if r.URL.Path == "/batch" {
							batchAt.Store(int64(time.Since(start)))
						}
						time.Sleep(7 * time.Millisecond)
					default:
						time.Sleep(10 * time.Millisecond)
					}
					w.Write([]byte("ok"))
				})
				f := newMem(t, h, WithConcurrency(2), WithHostConcurrency(1))
				defer f.Shutdown(context.Background())

				stop := make(chan struct{})
				var loops sync.WaitGroup
				var served atomic.Int64
				for i := range 2 {
					loops.Go(func() {
						for j := range maxLoops {
							select {
							case <-stop:
								return
							default:
							}
							if _, err := f.Get(context.Background(), fmt.Sprintf("http://a.test/loop%d-%d", i, j)); err != nil {
								t.Errorf("looper %d: %v", i, err)
								return
							}
							served.Add(1)
						}
					})
				}
				time.Sleep(20 * time.Millisecond) // the loopers form a line
				urls := []string{"http://a.test/batch"}
				for i := range others {
					urls = append(urls, fmt.Sprintf("http://b.test/%d", i), fmt.Sprintf("http://c.test/%d", i))
				}
				start = time.Now()
				before := served.Load()
				var errs []error
				switch call {
				case "GetAll":
					for _, r := range f.GetAll(context.Background(), urls) {
						errs = append(errs, r.Err)
					}
				case "Stream":
					for r := range f.Stream(context.Background(), slices.Values(urls)) {
						errs = append(errs, r.Err)
					}
				}
				close(stop)
				loops.Wait()
				if err := errors.Join(errs...); err != nil {
					t.Fatal(err)
				}
				at := time.Duration(batchAt.Load())
				total := time.Since(start)
				t.Logf("a.test/batch went at %v; the call took %v; the loopers were served %d times meanwhile",
					at, total, served.Load()-before)
				if at > allowed {
					t.Errorf("STARVATION: a.test/batch, the call's first input, went at %v of the call's %v, "+
						"after %d Get-looper calls on a.test were served: its seat declined every turn in "+
						"a.test's slot line while both workers were busy with b.test and c.test, and went "+
						"to the back of the line each time (sched.go takeSlot, slots.go free); want within %v",
						at, total, served.Load()-before, allowed)
				}
				assertGatesIdle(t, f)
			})
		})
	}
}

// ---------------------------------------------------------------------------
// Many short randomized bubbles: several schedulers (two GetAlls, a Stream,
// a crawl) and Get loopers share one Fetcher's slots and buckets, under
// random combinations of WithConcurrency, WithHostConcurrency, WithRate,
// WithHostRate, WithAdaptiveRate and WithRetry, against a server that
// answers late, redirects across hosts (the hop waits in the gates' lines
// behind the schedulers' own seats), fails with 500 (retries wait there
// too), or pauses a host with a 503 Retry-After; a crawl fetches robots.txt
// (with a Crawl-delay, some runs) on a worker. Calls are cancelled, Streams
// broken out of, and the Fetcher shut down, at random times.
//
// Every call has a deadline of livenessDeadline of fake time: a call still
// running at livenessHang has hung (legitimately each ends within seconds).
// Once all have ended, no slot may be held, by an attempt or a ticket, and
// no token line left.
//
//	LIVENESS_SEEDS=2000 go test -run TestSeatsLivenessRandom .
//	LIVENESS_SEED=17 go test -run TestSeatsLivenessRandom -v .

const (
	livenessDeadline = 10 * time.Minute
	livenessHang     = 5 * time.Minute
)

type livenessScenario struct {
	seed                  uint64
	conc, hostConc        int
	rate, hostRate        *rsRate
	adaptive              bool
	retry                 int // MaxAttempts; 0: the default policy
	pRedirect, p500, p503 float64
	maxLat                time.Duration
	robotsDelay           bool
	getAlls               [][]string
	stream                []string
	streamBreak           int // break after this many results; -1: never
	crawlSeeds            []string
	crawlPages            int
	loopers, loops        int
	holdBody              time.Duration // loopers use Do and hold the body this long
	consumerGets          bool          // the Stream's loop body makes a Get of its own
	attemptTimeout        time.Duration
	cancelAt              []time.Duration // per call (getAll0, getAll1, stream, crawl); 0: never
	shutdownAt            time.Duration   // 0: never
}

func (sc livenessScenario) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed=%d conc=%d hostConc=%d", sc.seed, sc.conc, sc.hostConc)
	if sc.rate != nil {
		fmt.Fprintf(&b, " rate=%v/%d", sc.rate.r, sc.rate.burst)
	}
	if sc.hostRate != nil {
		fmt.Fprintf(&b, " hostRate=%v/%d", sc.hostRate.r, sc.hostRate.burst)
	}
	fmt.Fprintf(&b, " adaptive=%v retry=%d pRedirect=%.2f p500=%.2f p503=%.2f maxLat=%v robotsDelay=%v",
		sc.adaptive, sc.retry, sc.pRedirect, sc.p500, sc.p503, sc.maxLat, sc.robotsDelay)
	fmt.Fprintf(&b, " holdBody=%v consumerGets=%v attemptTimeout=%v", sc.holdBody, sc.consumerGets, sc.attemptTimeout)
	fmt.Fprintf(&b, " getAlls=%v stream=%v break=%d crawl=%v/%d loopers=%dx%d cancelAt=%v shutdownAt=%v",
		sc.getAlls, sc.stream, sc.streamBreak, sc.crawlSeeds, sc.crawlPages, sc.loopers, sc.loops, sc.cancelAt, sc.shutdownAt)
	return b.String()
}

func livenessGenerate(seed uint64) livenessScenario {
	r := rand.New(rand.NewPCG(seed, 0x5ea75))
	sc := livenessScenario{seed: seed, conc: 1 + r.IntN(4), streamBreak: -1}
	if r.IntN(3) > 0 {
		sc.hostConc = 1 + r.IntN(3)
	}
	if r.IntN(3) == 0 {
		sc.rate = &rsRate{rate.Limit(20 + r.IntN(200)), 1 + r.IntN(3)}
	}
	if r.IntN(2) == 0 {
		sc.hostRate = &rsRate{rate.Limit(10 + r.IntN(100)), 1 + r.IntN(2)}
	}
	sc.adaptive = r.IntN(4) == 0
	if r.IntN(2) == 0 {
		sc.retry = 1 + r.IntN(3)
	}
	sc.pRedirect = []float64{0, 0.2, 0.5}[r.IntN(3)]
	sc.p500 = []float64{0, 0.1, 0.3}[r.IntN(3)]
	sc.p503 = []float64{0, 0, 0.05, 0.15}[r.IntN(4)]
	sc.maxLat = time.Duration(r.IntN(30)) * time.Millisecond
	sc.robotsDelay = r.IntN(2) == 0
	hosts := 1 + r.IntN(4)
	urls := func(n int) []string {
		var us []string
		for i := range n {
			us = append(us, fmt.Sprintf("http://h%d.test/p%d-%d", r.IntN(hosts), r.IntN(1000), i))
		}
		return us
	}
	for range r.IntN(3) {
		sc.getAlls = append(sc.getAlls, urls(1+r.IntN(40)))
	}
	if r.IntN(2) == 0 {
		sc.stream = urls(1 + r.IntN(40))
		if r.IntN(4) == 0 {
			sc.streamBreak = r.IntN(len(sc.stream))
		}
	}
	if r.IntN(2) == 0 {
		for i := range 1 + r.IntN(3) {
			sc.crawlSeeds = append(sc.crawlSeeds, fmt.Sprintf("http://h%d.test/k%d", r.IntN(hosts), i))
		}
		sc.crawlPages = 2 + r.IntN(20)
	}
	sc.loopers, sc.loops = r.IntN(4), 1+r.IntN(8)
	if r.IntN(3) == 0 {
		sc.holdBody = time.Duration(1+r.IntN(30)) * time.Millisecond
	}
	sc.consumerGets = r.IntN(3) == 0
	if r.IntN(4) == 0 {
		sc.attemptTimeout = time.Duration(5+r.IntN(50)) * time.Millisecond
	}
	sc.cancelAt = make([]time.Duration, 4)
	for i := range sc.cancelAt {
		if r.IntN(6) == 0 {
			sc.cancelAt[i] = time.Duration(1+r.IntN(300)) * time.Millisecond
		}
	}
	if r.IntN(8) == 0 {
		sc.shutdownAt = time.Duration(1+r.IntN(300)) * time.Millisecond
	}
	return sc
}

// livenessSrv answers as the scenario says, drawing from its own source.
type livenessSrv struct {
	sc     livenessScenario
	mu     sync.Mutex
	r      *rand.Rand
	raLeft int // Retry-After answers left: each pauses the host for 1s
	served atomic.Int64
}

func (s *livenessSrv) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.served.Add(1)
	s.mu.Lock()
	lat := time.Duration(s.r.Int64N(int64(s.sc.maxLat) + 1))
	x := s.r.Float64()
	to, page := s.r.IntN(3), s.r.IntN(1000)
	ra := x < s.sc.p503 && s.raLeft > 0
	if ra {
		s.raLeft--
	}
	s.mu.Unlock()
	time.Sleep(lat)
	switch {
	case r.URL.Path == "/robots.txt":
		if s.sc.robotsDelay {
			io.WriteString(w, "User-agent: *\nCrawl-delay: 0.02\nDisallow: /no\n")
		} else {
			http.NotFound(w, r)
		}
	case ra:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	case x < s.sc.p503+s.sc.p500:
		w.WriteHeader(http.StatusInternalServerError)
	case !strings.HasPrefix(r.URL.Path, "/rd") && x > 1-s.sc.pRedirect:
		if strings.HasPrefix(r.URL.Path, "/k") {
			// A crawl's page redirects within its host only, whose
			// robots.txt is loaded: a redirect to a host whose
			// robots.txt another goroutine is loading waits for it in a
			// sync.Once, which synctest does not count as durably
			// blocked, so that fake time would stand still and the
			// bubble hang for real (crawlrobots.go:68, e.once.Do).
			to = hostIndex(r.Host)
		}
		http.Redirect(w, r, fmt.Sprintf("http://h%d.test/rd%s", to, r.URL.Path), http.StatusFound)
	default:
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<a href="http://h%d.test/k%d">x</a>`, to, page)
	}
}

// livenessGates describes the Fetcher's gates, for a dump.
func livenessGates(f *Fetcher) string {
	var b strings.Builder
	f.gates.slots.mu.Lock()
	fmt.Fprintf(&b, "global slots: taken %d, line %d, tickets %d\n", f.gates.slots.taken, f.gates.slots.line.Len(), f.gates.slots.ticket.Load())
	f.gates.slots.mu.Unlock()
	for i := range f.gates.hosts.shards {
		sh := &f.gates.hosts.shards[i]
		sh.mu.Lock()
		for name, h := range sh.m {
			fmt.Fprintf(&b, "host %s: refs %d pausedUntil %d", name, h.refs.Load(), h.pausedUntil.Load())
			if h.slots != nil {
				h.slots.mu.Lock()
				fmt.Fprintf(&b, " slots taken %d line %d tickets %d", h.slots.taken, h.slots.line.Len(), h.slots.ticket.Load())
				h.slots.mu.Unlock()
			}
			b.WriteString("\n")
		}
		sh.mu.Unlock()
	}
	f.gates.waits.mu.Lock()
	fmt.Fprintf(&b, "token lines: %d\n", len(f.gates.waits.lines))
	f.gates.waits.mu.Unlock()
	return b.String()
}

// hostIndex returns N of hN.test.
func hostIndex(host string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(host, "h"), ".test"))
	return n
}

// assertAllSlotsIdle checks the global gates (assertGatesIdle) and every
// host's slots: none taken, nobody in line, none held by a ticket.
func assertAllSlotsIdle(t *testing.T, f *Fetcher) {
	t.Helper()
	assertGatesIdle(t, f)
	for i := range f.gates.hosts.shards {
		sh := &f.gates.hosts.shards[i]
		sh.mu.Lock()
		for name, h := range sh.m {
			if h.slots == nil {
				continue
			}
			h.slots.mu.Lock()
			if h.slots.taken != 0 || h.slots.line.Len() != 0 || h.slots.ticket.Load() != 0 {
				t.Errorf("host %s slots: %d taken, %d in line, %d held by tickets after every call ended; want 0, 0, 0",
					name, h.slots.taken, h.slots.line.Len(), h.slots.ticket.Load())
			}
			h.slots.mu.Unlock()
		}
		sh.mu.Unlock()
	}
}

func livenessRun(t *testing.T, sc livenessScenario) {
	synctest.Test(t, func(t *testing.T) {
		opts := []Option{WithConcurrency(sc.conc)}
		if sc.hostConc > 0 {
			opts = append(opts, WithHostConcurrency(sc.hostConc))
		}
		if sc.rate != nil {
			opts = append(opts, WithRate(sc.rate.r, sc.rate.burst))
		}
		if sc.hostRate != nil {
			opts = append(opts, WithHostRate(sc.hostRate.r, sc.hostRate.burst))
		}
		if sc.adaptive {
			opts = append(opts, WithAdaptiveRate(AdaptiveRate{Floor: 10, Ceiling: 60}))
		}
		if sc.retry > 0 {
			opts = append(opts, WithRetry(RetryPolicy{MaxAttempts: sc.retry, BaseDelay: 10 * time.Millisecond,
				MaxDelay: 100 * time.Millisecond, MaxRetryAfter: 2 * time.Second}))
		}
		if sc.attemptTimeout > 0 {
			opts = append(opts, WithAttemptTimeout(sc.attemptTimeout))
		}
		srv := &livenessSrv{sc: sc, r: rand.New(rand.NewPCG(sc.seed, 0x5e1f)), raLeft: 3}
		f := newMem(t, srv, opts...)
		start := time.Now()
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			hangs []string
		)
		// ends records how long call what ran; one that ran into
		// livenessHang hung.
		ends := func(what string, began time.Time) {
			if took := time.Since(began); took >= livenessHang {
				mu.Lock()
				hangs = append(hangs, fmt.Sprintf("%s returned after %v (began at %v)", what, took, began.Sub(start)))
				mu.Unlock()
			}
		}
		callCtx := func(i int) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithTimeout(context.Background(), livenessDeadline)
			if d := sc.cancelAt[i]; d > 0 {
				stop := time.AfterFunc(d, cancel)
				return ctx, func() { stop.Stop(); cancel() }
			}
			return ctx, cancel
		}
		for i, urls := range sc.getAlls {
			wg.Go(func() {
				ctx, cancel := callCtx(i)
				defer cancel()
				began := time.Now()
				f.GetAll(ctx, urls)
				ends(fmt.Sprintf("GetAll %d", i), began)
			})
		}
		if sc.stream != nil {
			wg.Go(func() {
				ctx, cancel := callCtx(2)
				defer cancel()
				began := time.Now()
				inDone := make(chan struct{})
				// The reader is not waited for after a break (run's doc):
				// wait for it here, so that the bubble ends with it.
				defer func() { <-inDone }()
				in := func(yield func(string) bool) {
					defer close(inDone)
					for i, u := range sc.stream {
						if i%3 == 2 {
							time.Sleep(time.Millisecond)
						}
						if !yield(u) {
							return
						}
					}
				}
				n := 0
				for range f.Stream(ctx, in) {
					if n++; n == sc.streamBreak {
						break
					}
					if sc.consumerGets && n%4 == 1 {
						gctx, gcancel := context.WithTimeout(context.Background(), livenessDeadline)
						began := time.Now()
						f.Get(gctx, fmt.Sprintf("http://h%d.test/consumer%d", n%3, n))
						gcancel()
						ends(fmt.Sprintf("the Stream consumer's Get %d", n), began)
					}
				}
				ends("Stream", began)
			})
		}
		if sc.crawlSeeds != nil {
			wg.Go(func() {
				ctx, cancel := callCtx(3)
				defer cancel()
				c, err := NewCrawler(f, CrawlMaxPages(sc.crawlPages))
				if err != nil {
					t.Error(err)
					return
				}
				began := time.Now()
				for p := range c.Run(ctx, sc.crawlSeeds...) {
					p.Follow(p.Links()...)
				}
				ends("crawl", began)
			})
		}
		for i := range sc.loopers {
			wg.Go(func() {
				for j := range sc.loops {
					ctx, cancel := context.WithTimeout(context.Background(), livenessDeadline)
					began := time.Now()
					u := fmt.Sprintf("http://h%d.test/loop%d-%d", (i+j)%3, i, j)
					if sc.holdBody > 0 {
						req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
						if resp, err := f.Do(req); err == nil {
							time.Sleep(sc.holdBody) // holds its slots
							resp.Body.Close()
						}
					} else {
						f.Get(ctx, u)
					}
					cancel()
					ends(fmt.Sprintf("looper %d's Get %d", i, j), began)
				}
			})
		}
		if sc.shutdownAt > 0 {
			wg.Go(func() {
				time.Sleep(sc.shutdownAt)
				ctx, cancel := context.WithTimeout(context.Background(), livenessDeadline)
				defer cancel()
				if err := f.Shutdown(ctx); err != nil {
					mu.Lock()
					hangs = append(hangs, fmt.Sprintf("Shutdown at %v: %v", sc.shutdownAt, err))
					mu.Unlock()
				}
			})
		}
		allDone := make(chan struct{})
		watchdog := make(chan struct{})
		go func() {
			defer close(watchdog)
			select {
			case <-allDone:
			case <-time.After(livenessHang / 2):
				if dir := os.Getenv("LIVENESS_DUMP"); dir != "" {
					buf := make([]byte, 1<<22)
					buf = buf[:runtime.Stack(buf, true)]
					os.WriteFile(fmt.Sprintf("%s/dump_%d.txt", dir, sc.seed), append([]byte(sc.String()+"\n"+livenessGates(f)+"\n"), buf...), 0o644)
				}
			}
		}()
		wg.Wait()
		close(allDone)
		<-watchdog
		if len(hangs) > 0 {
			t.Errorf("HANG (%s):\n%s", sc, strings.Join(hangs, "\n"))
		}
		if err := f.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		synctest.Wait()
		if t.Failed() {
			return
		}
		if st := f.Stats(); st.Waiting != 0 {
			t.Errorf("(%s) Stats().Waiting = %d after every call ended", sc, st.Waiting)
		}
		assertAllSlotsIdle(t, f)
		if t.Failed() {
			t.Logf("scenario: %s", sc)
		}
		if testing.Verbose() {
			t.Logf("%d requests served; the calls took %v", srv.served.Load(), time.Since(start))
		}
	})
}

func TestSeatsLivenessRandom(t *testing.T) {
	first, n := uint64(1), uint64(150)
	if s := os.Getenv("LIVENESS_SEEDS"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		n = v
	}
	if s := os.Getenv("LIVENESS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		first = v
		if os.Getenv("LIVENESS_SEEDS") == "" {
			n = 1
		}
	}
	for seed := first; seed < first+n; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			sc := livenessGenerate(seed)
			if n == 1 {
				t.Logf("scenario: %s", sc)
			}
			livenessRun(t, sc)
		})
	}
}

// A direct job leaves the global seat holding the slot it was given.
//
// next hands out a direct job (a crawl's robots.txt fetch, an input that is
// not a valid request) before anything else (sched.go:500-501), without
// looking at the seats: neither seated() nor the deferred release of a
// global slot the global seat holds (sched.go:538-542) runs. So when the
// global seat, waiting in the global slots' line, is given a slot at its
// turn while the worker is parked (takeSlot: a worker is parked, so the
// slot is taken), and the worker then wakes to a robots.txt job queued at
// the same moment, it leaves with that job and the slot stays with the
// seat; dropHeld gives back only host slots of queues in the holding list.
// The robots.txt fetch then waits in pass for a global slot, behind the
// slot its own call's seat keeps; with WithConcurrency(1) the crawl has no
// other worker to come back to take, and every other caller of the Fetcher
// (here D2, a plain Get) hangs with it until the crawl's context ends.
//
// The window is the moment between the slot's turn and the worker's next,
// so each run lines the two events up at the same fake instant, and up to
// 1000 runs are made; the first hang fails the test (most runs of the test
// hang within the first 300).
func TestCrawlDirectJobLeavesGlobalSeatHoldingSlot(t *testing.T) {
	const runs = 1000
	hangs := 0
	for run := range runs {
		synctest.Test(t, func(t *testing.T) {
			const at = 100 * time.Millisecond // when D ends and b.test is followed
			start := time.Now()
			first := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.Host + r.URL.Path {
				case "a.test/1":
					<-first
				case "x.test/slow":
					time.Sleep(at - time.Since(start))
				}
				if r.URL.Path == "/robots.txt" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "text/html")
				w.Write([]byte("<html></html>"))
			})
			f := newMem(t, h, WithConcurrency(1))
			defer f.Shutdown(context.Background())
			c, err := NewCrawler(f)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dDone, staged := make(chan struct{}), make(chan struct{})
			go func() { // stages D while a.test/1 is on the wire
				defer close(staged)
				synctest.Wait() // a.test/1 is in the handler; a.test/2 is queued
				go func() {
					defer close(dDone)
					f.Get(context.Background(), "http://x.test/slow") // waits for the global slot
				}()
				synctest.Wait()
				close(first) // a.test/1 ends: the slot goes to D, first in line
			}()
			crawled := make(chan struct{})
			watch := make(chan string, 1) // the gates 10s after the crawl should have ended
			go func() {
				select {
				case <-crawled:
					watch <- ""
				case <-time.After(at + 10*time.Second):
					watch <- strings.ReplaceAll(strings.TrimSpace(livenessGates(f)), "\n", "; ")
				}
			}()
			var pages []*Page
			for p := range c.Run(ctx, "http://a.test/1", "http://a.test/2") {
				pages = append(pages, p)
				if p.URL != "http://a.test/1" {
					continue
				}
				<-staged
				// The worker has tried a.test/2: the global seat waits in
				// line behind D, and the worker is parked.
				synctest.Wait()
				// At the same instant D ends (its slot goes to the seat,
				// which a parked worker lets it take) and b.test is
				// followed (its robots.txt job is queued, and the worker
				// kicked).
				time.Sleep(at - time.Since(start))
				p.Follow("http://b.test/1")
			}
			took := time.Since(start)
			close(crawled)
			during := <-watch
			<-dDone
			if took >= time.Minute {
				hangs++
				t.Errorf("run %d: HANG: the crawl ran until its context's deadline (%v of fake time), with %d "+
					"pages; 10s in, the gates were: %s. The robots.txt fetch of b.test waited for a global slot that "+
					"the crawl's own global seat was given at its turn, while the worker, woken, left with "+
					"the robots.txt job (a direct job) without sitting or giving back the seat's slot",
					run, took, len(pages), during)
				for _, p := range pages {
					t.Logf("page %s: %v", p.URL, p.Err)
				}
				return
			}
			for _, p := range pages {
				if p.Err != nil {
					t.Errorf("run %d: %s: %v", run, p.URL, p.Err)
				}
			}
			if len(pages) != 3 {
				t.Errorf("run %d: %d pages, want 3", run, len(pages))
			}
			assertGatesIdle(t, f)
		})
		if t.Failed() {
			t.Logf("failed at run %d of %d (%d hangs)", run, runs, hangs)
			return
		}
	}
}
