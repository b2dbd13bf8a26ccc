package fetch

// Many distinct hosts, each with a per-host cap and rate: what a request
// costs as the hosts grow, and what a run leaves behind (from a scale
// review).
//
//	go test -run 'TestScale' -v .
//	go test -run '^$' -bench 'BenchmarkScale' -benchtime 1x .
//
// TestScaleParkedWorkersHerd and TestScaleCrawlDelayPinsHosts failed
// before the fixes they guard: every parked worker armed a timer of its own
// for the same due host, and woke with it (one alarm now); a crawl kept a
// scheduler queue, and so a reference to the host's gates, for every host
// with a Crawl-delay (the pace now outlives the queue in the robots cache).

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
)

func scaleCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func scaleOK() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
}

// scaleURL is the i'th of URLs spread round-robin over n hosts h0.test ….
func scaleURL(i, n int) string {
	return "http://h" + strconv.Itoa(i%n) + ".test/p" + strconv.Itoa(i)
}

type scaleSample struct {
	allocsPerReq, bytesPerReq, cpuNsPerReq float64
	tableAfter                             int
	retainedPerHost                        float64 // heap the Fetcher keeps after the run, per host
}

// scaleRun runs m requests over n hosts through f, by Stream or GetAll.
func scaleRun(tb testing.TB, f *Fetcher, n, m int, getAll bool) scaleSample {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, mallocs, total := ms.HeapAlloc, ms.Mallocs, ms.TotalAlloc
	c0 := scaleCPU()
	got := 0
	if getAll {
		urls := make([]string, m)
		for i := range urls {
			urls[i] = scaleURL(i, n)
		}
		for _, r := range f.GetAll(context.Background(), urls) {
			if r.Err != nil {
				tb.Fatal(r.Err)
			}
			got++
		}
	} else {
		urls := func(yield func(string) bool) {
			for i := range m {
				if !yield(scaleURL(i, n)) {
					return
				}
			}
		}
		for r := range f.Stream(context.Background(), urls) {
			if r.Err != nil {
				tb.Fatal(r.Err)
			}
			got++
		}
	}
	cpu := scaleCPU() - c0
	if got != m {
		tb.Fatalf("%d results for %d inputs", got, m)
	}
	runtime.ReadMemStats(&ms)
	s := scaleSample{
		allocsPerReq: float64(ms.Mallocs-mallocs) / float64(m),
		bytesPerReq:  float64(ms.TotalAlloc-total) / float64(m),
		cpuNsPerReq:  float64(cpu.Nanoseconds()) / float64(m),
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	s.retainedPerHost = float64(ms.HeapAlloc-min(base, ms.HeapAlloc)) / float64(n)
	s.tableAfter = f.gates.hosts.len()
	return s
}

// BenchmarkScaleManyHosts: cost per request as the number of hosts grows,
// with WithHostConcurrency(2), WithHostRate and WithConcurrency(64). The
// fast rate never binds for long (buckets refill in 50 µs); the slow one
// (2/s) keeps every bucket it used non-full for the rest of the run, so the
// host table cannot forget any host during it.
func BenchmarkScaleManyHosts(b *testing.B) {
	for _, mode := range []string{"stream", "getall"} {
		for _, hostRate := range []float64{20000, 2} {
			for _, n := range []int{10, 100, 1000, 10000, 50000} {
				if hostRate == 2 && n < 10000 {
					continue // rate-bound: measures the clock, not the scheduler
				}
				name := mode + "/rate=" + strconv.FormatFloat(hostRate, 'f', -1, 64) + "/hosts=" + strconv.Itoa(n)
				b.Run(name, func(b *testing.B) {
					m := max(20_000, 2*n)
					var s scaleSample
					for b.Loop() {
						f, err := New(WithClient(memhttp.Client(scaleOK())), WithHostConcurrency(2),
							WithHostRate(PerSecond(hostRate), 1), WithConcurrency(64))
						if err != nil {
							b.Fatal(err)
						}
						s = scaleRun(b, f, n, m, mode == "getall")
						runtime.KeepAlive(f)
					}
					b.ReportMetric(s.allocsPerReq, "allocs/req")
					b.ReportMetric(s.bytesPerReq, "B/req")
					b.ReportMetric(s.cpuNsPerReq, "cpu-ns/req")
					b.ReportMetric(float64(s.tableAfter), "hosts-kept-after")
					b.ReportMetric(s.retainedPerHost, "retained-B/host")
				})
			}
		}
	}
}

// herdAllocs streams m URLs to one host whose rate binds (100/s, burst 1),
// with conc workers, in a synctest bubble, and returns the allocations per
// request.
func herdAllocs(t *testing.T, conc, m int) (perReq float64) {
	synctest.Test(t, func(t *testing.T) {
		f, err := New(WithClient(memhttp.Client(scaleOK())), WithHostConcurrency(2),
			WithHostRate(PerSecond(100), 1), WithConcurrency(conc))
		if err != nil {
			t.Fatal(err)
		}
		perReq = scaleRun(t, f, 1, m, false).allocsPerReq
	})
	return perReq
}

// TestScaleParkedWorkersHerd: when the only queued host is rate-limited, a
// request should cost the same whatever the number of idle workers. It does
// not: every parked worker arms its own timer for the same s.timed.top().due
// (sched.go park, time.NewTimer per park), so at each token all of them
// wake, take s.mu, find nothing in next, and park again with a new timer:
// O(parked workers) wake-ups and 3 allocations each, per request. This is
// the tail of every crawl or stream (a few big, paced hosts left, the
// other workers idle).
func TestScaleParkedWorkersHerd(t *testing.T) {
	const m = 1000
	few, many := herdAllocs(t, 4, m), herdAllocs(t, 256, m)
	t.Logf("one paced host, %d requests: %.1f allocs/req with 4 workers, %.1f with 256 (x%.1f)", m, few, many, many/few)
	if many > 2*few {
		t.Errorf("allocations per request grow with idle workers: %.1f with 4 workers, %.1f with 256 (want at most 2x)", few, many)
	}
}

type crawlCensus struct {
	queues, robots, paces, table, referenced int
	heapPerHost                              float64
}

// crawlManyHosts crawls one page on each of n hosts, each with a
// robots.txt (with a Crawl-delay if delay), and takes a census from the
// loop body at the last page, when every host's page has been fetched.
func crawlManyHosts(t *testing.T, n int, delay bool) (c crawlCensus) {
	robotsTxt := "User-agent: *\nDisallow: /private\n"
	if delay {
		robotsTxt += "Crawl-delay: 1\n"
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			w.Write([]byte(robotsTxt))
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><title>x</title></html>"))
	})
	f, err := New(WithClient(memhttp.Client(h)), WithHostConcurrency(2), WithHostRate(PerSecond(1000), 1), WithConcurrency(64))
	if err != nil {
		t.Fatal(err)
	}
	cr, err := NewCrawler(f)
	if err != nil {
		t.Fatal(err)
	}
	seeds := make([]string, n)
	for i := range seeds {
		seeds[i] = "http://h" + strconv.Itoa(i) + ".test/"
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	pages := 0
	for p := range cr.Run(context.Background(), seeds...) {
		if p.Err != nil {
			t.Fatal(p.Err)
		}
		if pages++; pages < n {
			continue
		}
		synctest.Wait() // the other workers have recorded their pages done
		r := p.crawl
		r.sched.mu.Lock()
		c.queues = len(r.sched.queues)
		r.sched.mu.Unlock()
		r.robots.mu.Lock()
		c.robots, c.paces = len(r.robots.entries), len(r.robots.paces)
		r.robots.mu.Unlock()
		for i := range f.gates.hosts.shards {
			sh := &f.gates.hosts.shards[i]
			sh.mu.Lock()
			c.table += len(sh.m)
			for _, h := range sh.m {
				if h.refs.Load() != 0 {
					c.referenced++
				}
			}
			sh.mu.Unlock()
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		c.heapPerHost = float64(ms.HeapAlloc-min(base, ms.HeapAlloc)) / float64(n)
	}
	if pages != n {
		t.Fatalf("%d pages for %d seeds", pages, n)
	}
	return c
}

// TestScaleCrawlDelayPinsHosts: once every page of a host has been fetched,
// its scheduler queue should go, and with it its reference to the host's
// gates, as it does for a host without a Crawl-delay. For a host with a
// Crawl-delay it never goes (sched.go finish: "A paced queue is kept"), so a
// crawl over many such hosts keeps a hostQueue and pins a host-table entry
// (slots, bucket, policies) for every host it ever saw, for as long as it
// runs: the table's sweep can forget none of them. The pace itself already
// lives in the robots cache (robotsCache.paces), so the queue need not
// carry it across a lull.
func TestScaleCrawlDelayPinsHosts(t *testing.T) {
	const n = 5000
	for _, delay := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			c := crawlManyHosts(t, n, delay)
			t.Logf("Crawl-delay=%v, %d hosts, all pages done: scheduler queues %d, host table %d (referenced %d), robots entries %d, paces %d, heap %.0f B/host",
				delay, n, c.queues, c.table, c.referenced, c.robots, c.paces, c.heapPerHost)
			if c.queues > n/4 || c.referenced > n/4 {
				t.Errorf("Crawl-delay=%v: with every host's pages done, %d scheduler queues and %d referenced host-table entries remain for %d hosts",
					delay, c.queues, c.referenced, n)
			}
		})
	}
}

// TestScaleReadAheadFairness checks the README's "Many hosts" limit: a run
// of one slow host's URLs longer than the read-ahead, at the front of the
// input, holds back the 1,000 hosts after it until that host has been sent
// run-readAhead of them, and no more than that.
func TestScaleReadAheadFairness(t *testing.T) {
	for _, c := range []struct{ run, ra int }{{200, 256}, {255, 256}, {300, 256}, {600, 256}} {
		synctest.Test(t, func(t *testing.T) {
			var served atomic.Int64
			before := int64(-1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Host == "a.test" {
					time.Sleep(10 * time.Millisecond)
					served.Add(1)
					return
				}
				atomic.CompareAndSwapInt64(&before, -1, served.Load())
			})
			f, _ := New(WithClient(memhttp.Client(h)), WithHostConcurrency(2), WithConcurrency(64), WithReadAhead(c.ra))
			urls := func(yield func(string) bool) {
				for i := range c.run {
					if !yield("http://a.test/" + strconv.Itoa(i)) {
						return
					}
				}
				for i := range 1000 {
					if !yield("http://h" + strconv.Itoa(i) + ".test/") {
						return
					}
				}
			}
			for r := range f.Stream(context.Background(), urls) {
				if r.Err != nil {
					t.Fatal(r.Err)
				}
			}
			got, want := int(atomic.LoadInt64(&before)), max(0, c.run-c.ra)
			t.Logf("run of %d a.test URLs, read-ahead %d: %d a.test requests done before the first other host's", c.run, c.ra, got)
			if got < want-2 || got > want+2 {
				t.Errorf("run %d, read-ahead %d: %d a.test requests before the first other host, want about %d", c.run, c.ra, got, want)
			}
		})
	}
}
