package fetch

// Scale review: what grows with the number of hosts, queued inputs,
// visited URLs or run time, when it should not.
//
// TestScaleReviewHoldingListBounded and TestScaleReviewCrawlBadPortQueues
// failed before the fixes they guard (holding list 300 of 300 hosts; 200
// queues and 200 pinned hosts of 200); the others record what was found
// sound.

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

// TestScaleReviewHoldingListBounded: a scheduler's holding list (the
// queues whose seats may hold a host slot given at their turn, see
// scheduler.dropHeld) must not grow with every host whose seat was ever
// given a slot. Each host here has its one slot held by a Get when the
// scheduler first tries it, so that the scheduler's seat waits in line and
// is given the slot when the Get ends; the job then runs, and the host's
// queue is dropped. Before the fix every such queue stayed on the list, and
// with it the queue, its buffer and the host's gates, until the rare moment
// every worker waits at the gates: one entry per host, for ever.
func TestScaleReviewHoldingListBounded(t *testing.T) {
	const n = 300
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				time.Sleep(time.Second)
			}
		})
		f := newMem(t, h, WithHostConcurrency(1), WithConcurrency(4))
		s := newScheduler[struct{}](t.Context(), f, 1)
		results := make(chan Result, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.work(func(j *job[struct{}], from handOff) {
				var r Result
				fetchJob(f, j, &r, from)
				results <- r
			})
		}()
		for i := range n {
			host := "http://h" + strconv.Itoa(i) + ".test"
			held := make(chan error, 1)
			go func() {
				_, err := f.Get(context.Background(), host+"/hold")
				held <- err
			}()
			synctest.Wait() // the Get holds the host's slot
			s.push(job[struct{}]{index: i, req: mustGet(t, host+"/p")})
			synctest.Wait() // the scheduler's seat waits in the slot's line
			time.Sleep(time.Second)
			if err := <-held; err != nil {
				t.Fatal(err)
			}
			if r := <-results; r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		synctest.Wait() // the last job's finish has run
		s.mu.Lock()
		holding, queues := len(s.holding), len(s.queues)
		s.mu.Unlock()
		s.release()
		<-done
		t.Logf("%d hosts, each seat given its slot once: holding list %d, queues %d, host table %d", n, holding, queues, f.gates.hosts.len())
		if holding > 64 {
			t.Errorf("holding list has %d entries after %d hosts, none of which holds a slot; want it bounded", holding, n)
		}
	})
}

// TestScaleReviewCrawlBadPortQueues: a crawl blocks a host's queue while it
// loads the host's robots.txt. A URL whose port is out of range passes the
// crawl's own checks but not the scheduler's, so its job goes without the
// queue: the queue, made only to be blocked, must not stay behind, pinning
// the host's gates in the Fetcher's table for the rest of the crawl.
func TestScaleReviewCrawlBadPortQueues(t *testing.T) {
	const n = 200
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		c, err := NewCrawler(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds := make([]string, n)
		for i := range seeds {
			seeds[i] = "http://h" + strconv.Itoa(i) + ".test:99999/"
		}
		pages := 0
		var queues, referenced int
		for p := range c.Run(t.Context(), seeds...) {
			if p.Err == nil {
				t.Fatalf("%s: no error; want ErrInvalidURL", p.URL)
			}
			if pages++; pages < n {
				continue
			}
			synctest.Wait() // the robots.txt jobs have run too
			s := p.crawl.sched
			s.mu.Lock()
			queues = len(s.queues)
			s.mu.Unlock()
			for i := range f.gates.hosts.shards {
				sh := &f.gates.hosts.shards[i]
				sh.mu.Lock()
				for _, h := range sh.m {
					if h.refs.Load() != 0 {
						referenced++
					}
				}
				sh.mu.Unlock()
			}
		}
		t.Logf("%d hosts with a port out of range: %d scheduler queues left, %d host-table entries referenced", n, queues, referenced)
		if queues > 0 || referenced > 0 {
			t.Errorf("every page done: %d scheduler queues and %d referenced hosts remain; want 0", queues, referenced)
		}
	})
}

// streamHosts streams one URL to each of n hosts named from prefix, and
// fails on any error.
func streamHosts(t *testing.T, f *Fetcher, prefix string, n int) {
	t.Helper()
	urls := func(yield func(string) bool) {
		for i := range n {
			if !yield("http://" + prefix + strconv.Itoa(i) + ".test/") {
				return
			}
		}
	}
	got := 0
	for r := range f.Stream(t.Context(), urls) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		got++
	}
	if got != n {
		t.Fatalf("%d results for %d inputs", got, n)
	}
}

// TestScaleReviewHostTableEveryPolicy: with every per-host policy on, a
// run over ever-new hosts keeps the host table near the hosts used lately.
func TestScaleReviewHostTableEveryPolicy(t *testing.T) {
	const n = 3000
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithConcurrency(64), WithHostConcurrency(2),
			WithHostRate(PerSecond(10), 1), WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 100}),
			WithCircuitBreaker(CircuitBreaker{}), WithRetryBudget(RetryBudget{}))
		var sizes []int
		for round := range 4 {
			streamHosts(t, f, "r"+strconv.Itoa(round)+"h", n)
			sizes = append(sizes, f.gates.hosts.len())
			time.Sleep(2 * time.Minute)
		}
		t.Logf("table after each round of %d new hosts, 2 min apart: %v", n, sizes)
		if last := sizes[len(sizes)-1]; last > 3*n {
			t.Errorf("host table holds %d hosts after 4 rounds of %d, 2 min apart; want about one round's", last, n)
		}
	})
}

// pausedRun streams one URL to each of n hosts, all paused for a minute
// by a Retry-After before the stream starts, with a read-ahead that takes
// them all in. It returns the goroutines running while every host waits
// out its pause, and the allocations per request of the whole run.
func pausedRun(t *testing.T, n int) (goroutines int, allocs, cpuNs float64) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithConcurrency(8), WithReadAhead(2*n))
		until := time.Now().Add(time.Minute)
		for i := range n {
			h := f.gates.hosts.get("h" + strconv.Itoa(i) + ".test")
			h.pause(until.Add(time.Duration(i) * time.Millisecond))
			f.gates.hosts.put(h)
		}
		base := runtime.NumGoroutine()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mallocs := ms.Mallocs
		c0 := scaleCPU()
		measured := make(chan struct{})
		go func() {
			defer close(measured)
			synctest.Wait() // every host is set aside until its pause ends
			goroutines = runtime.NumGoroutine() - base - 1
		}()
		streamHosts(t, f, "h", n)
		<-measured
		cpuNs = float64((scaleCPU() - c0).Nanoseconds()) / float64(n)
		runtime.ReadMemStats(&ms)
		allocs = float64(ms.Mallocs-mallocs) / float64(n)
	})
	return goroutines, allocs, cpuNs
}

// TestScaleReviewPausedHosts: hosts set aside by a pause cost neither a
// goroutine nor a timer each, and a request costs the same with 1,000 or
// 10,000 of them waiting.
func TestScaleReviewPausedHosts(t *testing.T) {
	g1, a1, c1 := pausedRun(t, 1000)
	g2, a2, c2 := pausedRun(t, 10000)
	t.Logf("paused hosts 1000: %d goroutines, %.1f allocs/req, %.0f cpu-ns/req; 10000: %d goroutines, %.1f allocs/req, %.0f cpu-ns/req",
		g1, a1, c1, g2, a2, c2)
	// NumGoroutine counts the process's: one started or ended by an
	// earlier test's cleanup may move a count by one or two.
	if g2 > g1+2 || g2 > 8+4 {
		t.Errorf("goroutines while hosts are paused: %d with 1000 hosts, %d with 10000; want concurrency plus a constant", g1, g2)
	}
	if a2 > 1.5*a1 {
		t.Errorf("allocations per request grow with paused hosts: %.1f with 1000, %.1f with 10000", a1, a2)
	}
}

// TestScaleReviewNoHostPinned: once every call has ended (redirects to
// other hosts, retries, pauses, timeouts, refusals and cancelled calls
// among them), no host of the table is referenced, so a sweep may forget
// them all.
func TestScaleReviewNoHostPinned(t *testing.T) {
	const n = 2000
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/redirect":
				http.Redirect(w, r, "http://to"+r.Host+"/ok", http.StatusFound)
			case "/busy":
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusServiceUnavailable)
			case "/fail":
				w.WriteHeader(http.StatusInternalServerError)
			case "/slow":
				time.Sleep(time.Hour)
			}
		})
		f := newMem(t, h, WithConcurrency(16), WithHostConcurrency(1), WithHostRate(PerSecond(100), 1),
			WithAttemptTimeout(time.Second), WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 2}),
			WithRetryBudget(RetryBudget{}), WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
		paths := []string{"/ok", "/redirect", "/busy", "/fail", "/slow"}
		urls := func(yield func(string) bool) {
			for i := range n {
				if !yield("http://h" + strconv.Itoa(i%(n/4)) + ".test" + paths[i%len(paths)]) {
					return
				}
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		got := 0
		for range f.Stream(ctx, urls) {
			if got++; got == n/2 {
				// a Get from another goroutine, cancelled while it waits
				gctx, gcancel := context.WithCancel(t.Context())
				go func() { f.Get(gctx, "http://h1.test/slow") }()
				synctest.Wait()
				gcancel()
			}
			if got == 3*n/4 {
				cancel()
			}
		}
		cancel()
		synctest.Wait()
		pinned, total := 0, 0
		for i := range f.gates.hosts.shards {
			sh := &f.gates.hosts.shards[i]
			sh.mu.Lock()
			for _, h := range sh.m {
				total++
				if h.refs.Load() != 0 {
					pinned++
				}
			}
			sh.mu.Unlock()
		}
		t.Logf("%d hosts in the table, %d referenced after every call ended", total, pinned)
		if pinned != 0 {
			t.Errorf("%d of %d hosts still referenced after every call ended", pinned, total)
		}
	})
}
