package fetch

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

// hostsServer answers each host after its own latency and counts, per
// host, the most requests it served at once and when the last finished.
type hostsServer struct {
	latency map[string]time.Duration
	start   time.Time

	mu      sync.Mutex
	running map[string]int
	most    map[string]int
	last    map[string]time.Duration // since start
}

func newHostsServer(latency map[string]time.Duration) *hostsServer {
	return &hostsServer{latency: latency, start: time.Now(), running: map[string]int{}, most: map[string]int{}, last: map[string]time.Duration{}}
}

func (s *hostsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	s.mu.Lock()
	s.running[host]++
	s.most[host] = max(s.most[host], s.running[host])
	s.mu.Unlock()
	time.Sleep(s.latency[host])
	s.mu.Lock()
	s.running[host]--
	s.last[host] = time.Since(s.start)
	s.mu.Unlock()
	w.Write([]byte(host))
}

// manyHostsInput is the scenario: 100 URLs for the slow host a,
// then 300 spread over b, c and d; or, interleaved, a b c d a b c d ...
func manyHostsInput(interleaved bool) []string {
	var urls []string
	if interleaved {
		for i := range 100 {
			for _, h := range []string{"a", "b", "c", "d"} {
				urls = append(urls, fmt.Sprintf("http://%s.test/%d", h, i))
			}
		}
		return urls
	}
	for i := range 100 {
		urls = append(urls, fmt.Sprintf("http://a.test/%d", i))
	}
	for i := range 300 {
		urls = append(urls, fmt.Sprintf("http://%s.test/%d", []string{"b", "c", "d"}[i%3], i))
	}
	return urls
}

// TestManyHostsFastHostsFinishFirst runs the scenario under fake time: a
// host that answers in 200 ms, three that answer in 5 ms, 2 in flight per
// host, 32 overall. The fast hosts must finish in about the time they need
// (300 requests / 6 slots × 5 ms = 0.25 s), not behind the slow host, and
// the whole run in the slow host's own time (100 / 2 × 200 ms = 10 s).
func TestManyHostsFastHostsFinishFirst(t *testing.T) {
	for _, interleaved := range []bool{false, true} {
		for _, call := range []string{"Stream", "GetAll"} {
			t.Run(fmt.Sprintf("%s/interleaved=%v", call, interleaved), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					srv := newHostsServer(map[string]time.Duration{
						"a.test": 200 * time.Millisecond, "b.test": 5 * time.Millisecond,
						"c.test": 5 * time.Millisecond, "d.test": 5 * time.Millisecond,
					})
					f := newMem(t, srv, WithConcurrency(32), WithHostConcurrency(2))
					urls := manyHostsInput(interleaved)
					start := time.Now()
					var fastDone time.Duration // when the last b, c or d result reached the caller
					n := 0
					check := func(r Result) {
						n++
						if r.Err != nil {
							t.Errorf("%s: %v", r.URL, r.Err)
						}
						if !strings.HasPrefix(r.URL, "http://a.") {
							fastDone = time.Since(start)
						}
					}
					if call == "Stream" {
						for r := range f.Stream(t.Context(), slices.Values(urls)) {
							check(r)
						}
					} else {
						for _, r := range f.GetAll(t.Context(), urls) {
							check(r)
						}
						fastDone = max(srv.last["b.test"], srv.last["c.test"], srv.last["d.test"])
					}
					makespan := time.Since(start)
					t.Logf("fast hosts done at %v, makespan %v", fastDone, makespan)
					if n != len(urls) {
						t.Errorf("got %d results; want %d", n, len(urls))
					}
					if fastDone > 300*time.Millisecond {
						t.Errorf("last fast-host result at %v; want by 0.3s (ideal 0.25s)", fastDone)
					}
					if makespan > 10200*time.Millisecond {
						t.Errorf("makespan %v; want at most 1.02 × 10s", makespan)
					}
					for host, most := range srv.most {
						if most > 2 {
							t.Errorf("%s saw %d in flight; want at most 2", host, most)
						}
					}
				})
			})
		}
	}
}

// TestManyHostsOrderWithinHost checks that requests to one host go in
// input order, whatever else is queued.
func TestManyHostsOrderWithinHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		seen := map[string][]string{}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[r.Host] = append(seen[r.Host], r.URL.Path)
			mu.Unlock()
			time.Sleep(time.Millisecond)
		})
		f := newMem(t, h, WithConcurrency(8), WithHostConcurrency(1))
		var urls []string
		want := map[string][]string{}
		for i := range 200 {
			host := fmt.Sprintf("h%d.test", i%7)
			urls = append(urls, fmt.Sprintf("http://%s/%d", host, i))
			want[host] = append(want[host], fmt.Sprintf("/%d", i))
		}
		for range f.Stream(t.Context(), slices.Values(urls)) {
		}
		for host, paths := range want {
			if !slices.Equal(seen[host], paths) {
				t.Errorf("%s served %v; want %v", host, seen[host], paths)
			}
		}
	})
}

// TestManyHostsRateDoesNotBlockOthers: a host whose token bucket is empty
// waits for its next token while requests to other hosts go at once.
func TestManyHostsRateDoesNotBlockOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := count(ok)
		f := newMem(t, srv, WithConcurrency(4), WithHostRate(rate.Every(time.Second), 1))
		var urls []string
		for i := range 5 {
			urls = append(urls, fmt.Sprintf("http://slow.test/%d", i))
		}
		for i := range 20 {
			urls = append(urls, fmt.Sprintf("http://fast%d.test/", i))
		}
		start := time.Now()
		var fastLast, slowLast time.Duration
		for r := range f.Stream(t.Context(), slices.Values(urls)) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if strings.Contains(r.URL, "slow") {
				slowLast = time.Since(start)
			} else {
				fastLast = time.Since(start)
			}
		}
		if fastLast != 0 {
			t.Errorf("other hosts finished at %v; want at once", fastLast)
		}
		if slowLast != 4*time.Second {
			t.Errorf("the rate-limited host finished at %v; want 4s (5 requests at 1/s, burst 1)", slowLast)
		}
	})
}

// TestStreamBreakWithBlockedInput: breaking out of Stream while its input
// is blocked returns at once; the reading goroutine ends at the input's
// next yield, and the context the requests were made with is cancelled.
func TestStreamBreakWithBlockedInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		more := make(chan string)
		var reqCtx atomic.Pointer[context.Context]
		in := func(yield func(string) bool) {
			if !yield("http://x.test/first") {
				return
			}
			for u := range more { // blocks until the test sends or closes
				if !yield(u) {
					return
				}
			}
		}
		build := func(ctx context.Context, u string) (*http.Request, error) {
			reqCtx.Store(&ctx)
			return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		}
		start := time.Now()
		for r := range StreamFunc(t.Context(), f, iter.Seq[string](in), build) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			break
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("break returned after %v of fake time; want at once", d)
		}
		if err := (*reqCtx.Load()).Err(); err == nil {
			t.Error("the requests' context is not cancelled after break")
		}
		more <- "http://x.test/second" // the input's next yield returns false
		close(more)
		synctest.Wait() // the reading goroutine has ended; synctest.Test fails if not
	})
}

// TestSchedulerWakesForHostSetAside: a worker that sets a host aside until
// its next token and then takes a request to another host must make sure a
// parked worker knows when to try the host again.
func TestSchedulerWakesForHostSetAside(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithHostRate(rate.Every(time.Second), 1))
		s := newScheduler[struct{}](t.Context(), f, 1)
		// A parked worker, which knows of no host to try.
		parked := make(chan job[struct{}], 1)
		go func() {
			j, held, _ := s.take(nil)
			if held != nil {
				f.gates.release(held)
			}
			parked <- j
		}()
		synctest.Wait()
		// b.test's token goes; then, without waking anybody, a second
		// request to b.test and one to c.test are queued.
		b := f.gates.hosts.get("b.test")
		defer f.gates.hosts.put(b)
		b.rate.bucket.Wait(t.Context())
		s.mu.Lock()
		s.enqueue(job[struct{}]{req: mustGet(t, "http://b.test/2")})
		s.enqueue(job[struct{}]{req: mustGet(t, "http://c.test/1")})
		s.mu.Unlock()
		// This worker sets b.test aside until its next token, and takes c.
		j, held, _ := s.take(nil)
		if j.req.URL.Host != "c.test" {
			t.Fatalf("took %s; want c.test's", j.req.URL)
		}
		f.gates.release(held)
		time.Sleep(time.Second) // b.test's next token is due
		synctest.Wait()
		select {
		case j := <-parked:
			if j.req.URL.Host != "b.test" {
				t.Errorf("the parked worker took %s; want b.test's", j.req.URL)
			}
		default:
			t.Error("b.test's token is due, but the parked worker still sleeps")
		}
		s.stop()
	})
}

// TestHostKeyIsCanonical: spellings of one host share its limits.
func TestHostKeyIsCanonical(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := count(func(w http.ResponseWriter, r *http.Request) { time.Sleep(time.Second) })
		f := newMem(t, srv, WithHostConcurrency(1))
		urls := []string{"http://a.test/1", "HTTP://A.TEST:80/2", "http://A.test/3"}
		for _, r := range f.GetAll(t.Context(), urls) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		if most := srv.maxSeen.Load(); most != 1 {
			t.Errorf("%d in flight to one host spelled three ways; want 1", most)
		}
	})
}

// TestShutdownFailsQueuedJobsAtOnce: once the Fetcher is shut down, jobs a
// batch has queued for a rate-limited host fail with ErrClosed at once
// instead of taking a token each.
func TestShutdownFailsQueuedJobsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		served := make(chan struct{}, 10)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served <- struct{}{} })
		f := newMem(t, h, WithHostRate(rate.Every(time.Second), 1))
		var urls []string
		for i := range 10 {
			urls = append(urls, fmt.Sprintf("http://a.test/%d", i))
		}
		done := make(chan []Result)
		go func() { done <- f.GetAll(context.Background(), urls) }()
		<-served
		start := time.Now()
		if err := f.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		results := <-done
		if d := time.Since(start); d != 0 {
			t.Errorf("GetAll returned %v after Shutdown; want at once", d)
		}
		closed := 0
		for _, r := range results {
			if errors.Is(r.Err, ErrClosed) {
				closed++
			}
		}
		if closed < 8 {
			t.Errorf("%d of 10 failed with ErrClosed; want the queued ones (at least 8)", closed)
		}
	})
}

// countingCtx is a context that is never done and counts the AfterFunc
// watches registered on it and stopped. (Its Done channel is its own, so
// that context.AfterFunc cannot find a cancelCtx under it and must ask it.)
type countingCtx struct {
	context.Context
	done               chan struct{}
	mu                 sync.Mutex
	watched, unwatched int
}

func (c *countingCtx) Done() <-chan struct{} { return c.done }

func (c *countingCtx) AfterFunc(func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watched++
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.unwatched++
		return true
	}
}

// TestCallsLeaveNoWatchOnTheContext: a batch or stream call watches its
// context only while it runs, so that calls under a long-lived context do
// not pile up registrations on it.
func TestCallsLeaveNoWatchOnTheContext(t *testing.T) {
	f := newMem(t, http.HandlerFunc(ok))
	ctx := &countingCtx{Context: context.Background(), done: make(chan struct{})}
	for range 3 {
		f.GetAll(ctx, []string{"http://a.test/1", "http://b.test/2"})
		for range f.Stream(ctx, slices.Values([]string{"http://a.test/1"})) {
		}
	}
	ctx.mu.Lock()
	defer ctx.mu.Unlock()
	if ctx.watched == 0 || ctx.watched != ctx.unwatched {
		t.Errorf("%d watches registered on the context, %d stopped; want all stopped", ctx.watched, ctx.unwatched)
	}
}

// Once a call's context has ended, a refusal of the global bucket no longer
// counts: a worker that parks while the input is slow must sleep, not wake
// for the bucket's due time, which has passed, and find nothing, again and
// again. Spinning so, under synctest, the bubble never blocks and its clock
// never reaches the input's release: the watchdog then fails the test.
// Found by the randomized scheduler test (a Shutdown while a global rate
// had refused and the input was slow).
func TestCancelledCallDoesNotSpinOnGlobalDue(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		synctest.Test(t, func(t *testing.T) {
			f := newMem(t, http.HandlerFunc(ok), WithConcurrency(4), WithRate(PerSecond(20), 1))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			release := make(chan struct{})
			in := func(yield func(string) bool) {
				// The second URL finds the global bucket empty: its due
				// time is 50ms ahead.
				if !yield("http://a.test/1") || !yield("http://b.test/2") {
					return
				}
				<-release // a slow input, which does not watch ctx
				yield("http://c.test/3")
			}
			time.AfterFunc(10*time.Millisecond, cancel)
			time.AfterFunc(500*time.Millisecond, func() { close(release) })
			n := 0
			for range f.Stream(ctx, in) {
				n++
			}
			if n != 3 {
				t.Errorf("%d results; want 3", n)
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the cancelled call's workers spin: fake time never reached the input's release")
	}
}
