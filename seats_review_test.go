package fetch

// Adversarial tests of the scheduler's seats (seat.go, slots.go,
// tokenwait.go, gates.try, sched.go). Everything runs in testing/synctest
// bubbles over the in-memory transport; no wall-clock sleeps.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// seatSrv is a handler that blocks the requests to the paths in block until
// open is closed, and answers ok otherwise; redirects maps a path to a
// Location it answers 302 with.
type seatSrv struct {
	open      chan struct{}
	block     map[string]bool
	redirects map[string]string
	arrived   atomic.Int64
	mu        sync.Mutex
	log       []string
	running   map[string]int
	most      map[string]int
	all, top  int
}

func newSeatSrv() *seatSrv {
	return &seatSrv{open: make(chan struct{}), block: map[string]bool{}, redirects: map[string]string{},
		running: map[string]int{}, most: map[string]int{}}
}

func (s *seatSrv) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.arrived.Add(1)
	s.mu.Lock()
	s.log = append(s.log, r.Host+r.URL.Path)
	s.running[r.Host]++
	s.all++
	s.most[r.Host] = max(s.most[r.Host], s.running[r.Host])
	s.top = max(s.top, s.all)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running[r.Host]--
		s.all--
		s.mu.Unlock()
	}()
	if s.block[r.URL.Path] {
		<-s.open
	}
	if to, ok := s.redirects[r.URL.Path]; ok {
		http.Redirect(w, r, to, http.StatusFound)
		return
	}
	w.Write([]byte("ok"))
}

// A redirect of a batch job waits for its new host's slot at the gates
// (hop → pass → acquire), behind the scheduler's own seat for that host.
// When the slot is freed it goes to the seat, first in line; the seat then
// only gets used when a worker of the batch calls take. If every worker of
// the batch is itself blocked in acquire behind that seat, nobody ever
// does: the slot is held by a ticket nobody will sit, and the batch hangs
// until its context ends. So a seat declines a slot at its turn while no
// worker of its scheduler is parked (sched.go, takeSlot), and the slot goes
// to the next in line.
func TestSeatHoldsSlotWhileEveryWorkerWaitsBehindIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newSeatSrv()
		srv.block["/slow"] = true
		srv.redirects["/r"] = "http://x.test/b"
		f := newMem(t, srv, WithConcurrency(2), WithHostConcurrency(1))
		defer f.Shutdown(context.Background())

		// D holds x.test's only slot (and one of the two global ones).
		dDone := make(chan error, 1)
		go func() {
			_, err := f.Get(context.Background(), "http://x.test/slow")
			dDone <- err
		}()
		synctest.Wait()

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		var results []Result
		batchDone := make(chan struct{})
		go func() {
			defer close(batchDone)
			// x.test/a puts the batch's seat in x.test's slot line; y and
			// z go at once and redirect to x.test, where their hops wait
			// in the same line, behind the seat.
			results = f.GetAll(ctx, []string{"http://x.test/a", "http://y.test/r", "http://z.test/r"})
		}()
		synctest.Wait()
		close(srv.open) // D ends: x.test's slot is freed
		<-dDone
		<-batchDone
		took := time.Since(start)
		for _, r := range results {
			if r.Err != nil {
				t.Errorf("%s: %v", r.URL, r.Err)
			}
		}
		if took > time.Second {
			t.Errorf("the batch took %v of fake time (its context's deadline): a slot freed went to the "+
				"scheduler's seat while every worker waited behind it in acquire", took)
		}
		if n := f.Stats().InFlight; n != 0 {
			t.Errorf("Stats().InFlight = %d after the batch, want 0", n)
		}
		if n := f.gates.slots.inFlight(); n != 0 {
			t.Errorf("global slots inFlight = %d after the batch, want 0", n)
		}
	})
}

// A seat given a host slot at its turn, while a worker was parked, keeps it
// when a later gate refuses (here the host's token, due at 1s). If the
// workers then all leave with other jobs whose redirects wait for that
// host's slot, nobody is left to use the slot the seat keeps: the last
// worker to leave gives it back (dropHeld), and the redirects go.
func TestSeatGivesBackHeldSlotWhenNoWorkerIsLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newSeatSrv()
		srv.redirects["/r"] = "http://x.test/b"
		f := newMem(t, srv, WithConcurrency(2), WithHostConcurrency(1), WithHostRate(PerSecond(1), 1))
		defer f.Shutdown(context.Background())

		// D holds x.test's only slot, having taken its token.
		resp, err := f.Do(mustGet(t, "http://x.test/hold"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		in := make(chan string)
		start := time.Now()
		var results []Result
		done := make(chan struct{})
		go func() {
			defer close(done)
			for r := range f.Stream(ctx, func(yield func(string) bool) {
				for u := range in {
					if !yield(u) {
						return
					}
				}
			}) {
				results = append(results, r)
			}
		}()
		in <- "http://x.test/a"
		synctest.Wait() // the seat waits in x.test's slot line
		resp.Body.Close()
		synctest.Wait() // the seat is given the slot; x.test's token is due at 1s
		in <- "http://y.test/r"
		in <- "http://z.test/r"
		close(in)
		<-done
		took := time.Since(start)
		for _, r := range results {
			if r.Err != nil {
				t.Errorf("%s: %v", r.URL, r.Err)
			}
		}
		if took > 10*time.Second {
			t.Errorf("the stream took %v of fake time (its context's deadline): the seat kept x.test's slot "+
				"while both workers waited for it in redirects", took)
		}
		assertGatesIdle(t, f)
	})
}

// The same hang through the global seat, in a crawl: a robots.txt job is a
// direct job, which next hands out even while the global seat waits in
// line (globalBusy). Its fetch (loadRobots → do → pass → acquire) then
// waits for a global slot behind the crawl's own global seat. With
// WithConcurrency(1) the crawl has one worker: when the slot is freed it is
// given to the seat, and no worker is parked to take it.
func TestCrawlRobotsFetchWaitsBehindOwnGlobalSeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		first, slow := make(chan struct{}), make(chan struct{})
		var sent atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent.Add(1)
			switch r.Host + r.URL.Path {
			case "a.test/1":
				<-first
			case "x.test/slow":
				<-slow
			}
			if r.URL.Path == "/robots.txt" {
				http.NotFound(w, r)
				return
			}
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
		start := time.Now()
		dDone, staged := make(chan struct{}), make(chan struct{})
		go func() { // stages D while a.test/1 is on the wire
			defer close(staged)
			synctest.Wait() // a.test/1 is in the handler
			go func() {
				defer close(dDone)
				f.Get(context.Background(), "http://x.test/slow") // waits for the global slot
			}()
			synctest.Wait()
			close(first) // a.test/1 ends: its slot goes to D, first in line
		}()
		var pages []*Page
		for p := range c.Run(ctx, "http://a.test/1", "http://a.test/2") {
			pages = append(pages, p)
			if p.URL != "http://a.test/1" {
				continue
			}
			<-staged
			// The worker now waits, with the global seat in line behind
			// D, to send a.test/2.
			synctest.Wait()
			p.Follow("http://b.test/1") // b.test's robots.txt: a direct job
			synctest.Wait()
			close(slow) // D ends: its global slot goes to the seat
			<-dDone
		}
		if sent.Load() == 0 {
			t.Fatal("nothing sent")
		}
		took := time.Since(start)
		for _, p := range pages {
			if p.Err != nil {
				t.Errorf("%s: %v", p.URL, p.Err)
			}
		}
		if took > time.Second {
			t.Errorf("the crawl took %v of fake time (its context's deadline): the robots.txt fetch waited "+
				"for a global slot behind the crawl's own global seat, which no worker was left to use", took)
		}
		if n := f.gates.slots.inFlight(); n != 0 {
			t.Errorf("global slots inFlight = %d after the crawl, want 0", n)
		}
	})
}

// bucketOK reports the first pair of arrivals that break a token bucket of
// rate perSec and burst: more than burst + perSec·T arrivals in an interval
// of length T. at must be sorted.
func bucketOK(at []time.Duration, perSec float64, burst int) (i, j int, okay bool) {
	for i := range at {
		for j := i + burst; j < len(at); j++ {
			// arrivals i..j (j-i+1 of them) within at[j]-at[i]
			allowed := float64(burst) + perSec*(at[j]-at[i]+time.Microsecond).Seconds() // µs: rate.Limiter's float rounding
			if float64(j-i+1) > allowed+1e-9 {
				return i, j, false
			}
		}
	}
	return 0, 0, true
}

// Two GetAlls, a Stream and Do loopers on the same hosts, with a host cap,
// a host rate (or an adaptive one) and a global rate: every call ends in
// time, neither cap is ever exceeded on the wire, and no slot, ticket or
// token line is left behind. Without the caps (so that a request is sent
// the moment it takes its last token, the global one), the global rate
// holds on the wire. (The host rate is not checked on the wire: a token of
// the host's taken before the global one is sent only with it, by Do as
// by a seat, so arrivals to a host bunch; see the report.)
func TestSeatsMixedCallersKeepCapsAndRates(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		caps bool
	}{
		{"caps/host+global rate", []Option{WithHostRate(20, 2), WithRate(40, 3)}, true},
		{"caps/adaptive+global rate", []Option{WithAdaptiveRate(AdaptiveRate{Floor: 20, Ceiling: 20}), WithRate(40, 3)}, true},
		{"nocaps/host+global rate", []Option{WithHostRate(20, 2), WithRate(40, 3)}, false},
		{"nocaps/adaptive+global rate", []Option{WithAdaptiveRate(AdaptiveRate{Floor: 20, Ceiling: 20}), WithRate(40, 3)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const (
					hostCap = 2
					loops   = 30
				)
				globalCap := 3
				opts := tc.opts
				if tc.caps {
					opts = append(opts, WithHostConcurrency(hostCap))
				} else {
					globalCap = 64
				}
				var mu sync.Mutex
				running, most := map[string]int{}, map[string]int{}
				all, top := 0, 0
				var every []time.Duration
				start := time.Now()
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					running[r.Host]++
					all++
					most[r.Host] = max(most[r.Host], running[r.Host])
					top = max(top, all)
					every = append(every, time.Since(start))
					mu.Unlock()
					time.Sleep(time.Duration(len(r.URL.Path)%4) * 7 * time.Millisecond)
					mu.Lock()
					running[r.Host]--
					all--
					mu.Unlock()
					w.Write([]byte("ok"))
				})
				f := newMem(t, h, append([]Option{WithConcurrency(globalCap)}, opts...)...)
				defer f.Shutdown(context.Background())
				hosts := []string{"a.test", "b.test", "c.test"}
				urls := func(tag string, n int) []string {
					var u []string
					for i := range n {
						u = append(u, fmt.Sprintf("http://%s/%s%d", hosts[i%len(hosts)], tag, i))
					}
					return u
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				var wg sync.WaitGroup
				for _, tag := range []string{"g1-", "g2-x"} {
					wg.Go(func() {
						for _, r := range f.GetAll(ctx, urls(tag, 24)) {
							if r.Err != nil {
								t.Errorf("GetAll %s: %v", r.URL, r.Err)
							}
						}
					})
				}
				wg.Go(func() {
					for r := range f.Stream(ctx, slices.Values(urls("s-xy", 24))) {
						if r.Err != nil {
							t.Errorf("Stream %s: %v", r.URL, r.Err)
						}
					}
				})
				for i := range 3 {
					wg.Go(func() {
						for j := range loops {
							u := fmt.Sprintf("http://%s/d%d-%d", hosts[(i+j)%len(hosts)], i, j)
							if _, err := f.Get(ctx, u); err != nil {
								t.Errorf("Get %s: %v", u, err)
							}
						}
					})
				}
				wg.Wait()
				took := time.Since(start)
				total := 24*3 + 3*loops
				// At 40/s globally, total requests need about total/40 s.
				if bound := time.Duration(float64(total)/40*float64(time.Second)) + 5*time.Second; took > bound {
					t.Errorf("took %v of fake time for %d requests; want within %v", took, total, bound)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(every) != total {
					t.Errorf("%d requests reached the server; want %d", len(every), total)
				}
				if top > globalCap {
					t.Errorf("%d requests in flight at once; global cap %d", top, globalCap)
				}
				for hname, n := range most {
					if tc.caps && n > hostCap {
						t.Errorf("%d requests in flight at once to %s; host cap %d", n, hname, hostCap)
					}
				}
				if !tc.caps {
					sorted := slices.Clone(every)
					slices.Sort(sorted)
					if i, j, good := bucketOK(sorted, 40, 3); !good {
						t.Errorf("global rate exceeded: %d arrivals in [%v, %v]", j-i+1, sorted[i], sorted[j])
					}
				}
				assertGatesIdle(t, f)
			})
		})
	}
}

// assertGatesIdle checks that no slot is held, by an attempt or a ticket,
// and that no token line is left.
func assertGatesIdle(t *testing.T, f *Fetcher) {
	t.Helper()
	if n := f.Stats().InFlight; n != 0 {
		t.Errorf("Stats().InFlight = %d after every call ended; want 0", n)
	}
	if n := f.gates.slots.inFlight(); n != 0 {
		t.Errorf("global slots inFlight = %d after every call ended; want 0", n)
	}
	f.gates.slots.mu.Lock()
	if n, l := f.gates.slots.taken, f.gates.slots.line.Len(); n != 0 || l != 0 {
		t.Errorf("global slots: %d taken, %d in line after every call ended; want 0, 0", n, l)
	}
	f.gates.slots.mu.Unlock()
	if n := f.gates.slots.ticket.Load(); n != 0 {
		t.Errorf("global slots held by tickets = %d after every call ended; want 0", n)
	}
	f.gates.waits.mu.Lock()
	if n := len(f.gates.waits.lines); n != 0 {
		t.Errorf("%d token lines left after every call ended; want 0", n)
	}
	f.gates.waits.mu.Unlock()
}

// A batch cancelled while its global seat holds the turn in the token line
// (its token reserved, due later) gives the token back: the next Get goes
// when the bucket would have given it a token had the batch never waited.
// And a batch cancelled just as a freed slot is given to its seat gives
// the slot back: the next Get goes at once, and nothing is left held.
func TestSeatCancelledAtTheFrontLeavesNoDebtNorSlot(t *testing.T) {
	t.Run("token", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := count(ok)
			f := newMem(t, c, WithRate(PerSecond(1), 1))
			defer f.Shutdown(context.Background())
			start := time.Now()
			f.Get(context.Background(), "http://a.test/0") // the token; the next is due at 1s
			var wg sync.WaitGroup
			wg.Go(func() { f.Get(context.Background(), "http://a.test/1") }) // at the front, for 1s
			synctest.Wait()
			ctx, cancel := context.WithCancel(context.Background())
			var results []Result
			wg.Go(func() { results = f.GetAll(ctx, []string{"http://b.test/batch"}) })
			synctest.Wait()                     // the batch's seat waits behind the call
			time.Sleep(1500 * time.Millisecond) // the seat holds the turn, its token due at 2s
			cancel()
			synctest.Wait()
			if len(results) != 1 || results[0].Err == nil {
				t.Errorf("the cancelled batch: %+v; want its context's error", results)
			}
			f.Get(context.Background(), "http://a.test/2")
			wg.Wait()
			var got []time.Duration
			for _, at := range c.times() {
				got = append(got, at.Sub(start))
			}
			if want := []time.Duration{0, time.Second, 2 * time.Second}; !slices.Equal(got, want) {
				t.Errorf("sent at %v; want %v: the cancelled seat left the bucket in debt", got, want)
			}
			assertGatesIdle(t, f)
		})
	})
	t.Run("slot", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			c := count(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					<-release
				}
				w.Write([]byte("ok"))
			})
			f := newMem(t, c, WithConcurrency(1))
			defer f.Shutdown(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { f.Get(context.Background(), "http://a.test/slow") })
			synctest.Wait()
			ctx, cancel := context.WithCancel(context.Background())
			var results []Result
			wg.Go(func() { results = f.GetAll(ctx, []string{"http://b.test/1", "http://b.test/2"}) })
			synctest.Wait() // the batch's global seat waits in the slot's line
			// The slot is freed, and given to the seat, as the batch is
			// cancelled, before a worker sits it.
			f.gates.slots.mu.Lock()
			close(release)
			cancel()
			f.gates.slots.mu.Unlock()
			wg.Wait()
			for _, r := range results {
				if r.Err == nil {
					t.Errorf("%s: sent after its batch was cancelled", r.URL)
				}
			}
			start := time.Now()
			if _, err := f.Get(context.Background(), "http://a.test/after"); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d != 0 {
				t.Errorf("the Get after took %v; want 0: a slot is still held", d)
			}
			if n := c.n.Load(); n != 2 {
				t.Errorf("%d requests reached the server; want 2", n)
			}
			assertGatesIdle(t, f)
		})
	})
}

// Shutdown while a batch's and a stream's seats wait in a slot's line and
// in a token line: Shutdown returns once the call on the wire ends, every
// queued input fails with ErrClosed, nothing reaches the server after the
// call on the wire, and no slot, ticket or line is left.
func TestSeatsShutdownWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c := count(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				<-release
			}
			w.Write([]byte("ok"))
		})
		f := newMem(t, c, WithConcurrency(1), WithHostConcurrency(1), WithHostRate(PerSecond(1), 1))
		var wg sync.WaitGroup
		wg.Go(func() { f.Get(context.Background(), "http://a.test/slow") }) // holds the slot
		synctest.Wait()
		wg.Go(func() { f.Get(context.Background(), "http://b.test/0") }) // waits for the slot
		synctest.Wait()
		var batch []Result
		var streamed []Result
		wg.Go(func() { batch = f.GetAll(context.Background(), []string{"http://a.test/1", "http://b.test/1"}) })
		wg.Go(func() {
			for r := range f.Stream(context.Background(), slices.Values([]string{"http://b.test/2", "http://a.test/2"})) {
				streamed = append(streamed, r)
			}
		})
		synctest.Wait()
		shut := make(chan error, 1)
		go func() { shut <- f.Shutdown(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned %v with a call on the wire", err)
		default:
		}
		close(release)
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		sentAtShutdown := c.n.Load()
		wg.Wait()
		for _, r := range append(batch, streamed...) {
			if !errors.Is(r.Err, ErrClosed) {
				t.Errorf("%s: %v; want ErrClosed", r.URL, r.Err)
			}
		}
		if n := c.n.Load(); n != sentAtShutdown || n != 1 {
			t.Errorf("%d requests reached the server (%d when Shutdown returned); want 1", n, sentAtShutdown)
		}
		assertGatesIdle(t, f)
	})
}

// Breaking out of a Stream whose seats wait in lines and hold what they
// were given leaves nothing held: a Get right after goes at once.
func TestSeatsStreamBreakLeavesNothingHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c := count(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				<-release
			}
			w.Write([]byte("ok"))
		})
		f := newMem(t, c, WithConcurrency(2), WithHostConcurrency(1), WithRate(10, 1))
		defer f.Shutdown(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { f.Get(context.Background(), "http://a.test/slow") }) // a.test's slot
		synctest.Wait()
		wg.Go(func() { f.Get(context.Background(), "http://c.test/0") }) // the global token line
		urls := []string{"http://a.test/1", "http://b.test/1", "http://a.test/2", "http://b.test/2", "http://c.test/1"}
		n := 0
		for r := range f.Stream(context.Background(), slices.Values(urls)) {
			n++
			if r.Err != nil {
				t.Errorf("%s: %v", r.URL, r.Err)
			}
			break
		}
		close(release)
		wg.Wait()
		time.Sleep(time.Second) // the bucket is full again
		start := time.Now()
		if _, err := f.Get(context.Background(), "http://a.test/after"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("a Get after the break took %v; want 0", d)
		}
		assertGatesIdle(t, f)
	})
}

// Many short runs of every kind of caller at once on the same slots, so
// that a seat's turn lands at every point of a worker's take and park. A
// wake-up lost between a ticket's turn and the scheduler looking at its
// seat leaves every worker parked with work queued: synctest reports the
// deadlock. (A ticket's flag set after the wake-up did so about once in
// 200 runs.)
func TestSeatsManyRunsNoLostWakeUp(t *testing.T) {
	for run := range 300 {
		synctest.Test(t, func(t *testing.T) {
			srv := newSeatSrv()
			f := newMem(t, srv, WithConcurrency(3), WithHostConcurrency(1))
			defer f.Shutdown(context.Background())
			urls := func(kind string, n int) []string {
				var us []string
				for i := range n {
					us = append(us, fmt.Sprintf("http://h%d.test/%s%d", (i*7+run+len(kind))%5, kind, i))
				}
				return us
			}
			var wg sync.WaitGroup
			wg.Go(func() {
				for _, r := range f.GetAll(context.Background(), urls("getall", 12)) {
					if r.Err != nil {
						t.Error(r.Err)
					}
				}
			})
			wg.Go(func() {
				for r := range f.Stream(context.Background(), slices.Values(urls("stream", 12))) {
					if r.Err != nil {
						t.Error(r.Err)
					}
				}
			})
			for _, u := range urls("get", 6) {
				wg.Go(func() {
					if _, err := f.Get(context.Background(), u); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if got := srv.arrived.Load(); got != 30 {
				t.Errorf("run %d: %d requests arrived; want 30", run, got)
			}
		})
	}
}
