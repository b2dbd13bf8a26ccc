package fetch

// A review from the seat of an SRE running a long-lived poller: one
// Fetcher lives for days, and every tick (10 s) polls a few hundred
// endpoints on some 50 hosts with GetAll or Handle, under a context whose
// deadline is shorter than the tick. Hosts come and go; some are down for
// hours. These tests run many ticks in a synctest bubble, on an in-memory
// transport, and check what must not drift from one tick to the next.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
	"go.uber.org/goleak"
)

// pollWorld is a set of in-memory hosts whose behaviour a test changes
// between ticks: up (200), refusing connections, hanging until the
// request's context ends, or answering a status with headers.
type pollWorld struct {
	mu    sync.Mutex
	modes map[string]pollMode
	sent  map[string]int
}

type pollMode struct {
	refuse bool
	hang   bool
	status int
	header http.Header
}

func newPollWorld() *pollWorld {
	return &pollWorld{modes: map[string]pollMode{}, sent: map[string]int{}}
}

func (w *pollWorld) set(host string, m pollMode) {
	w.mu.Lock()
	w.modes[host] = m
	w.mu.Unlock()
}

func (w *pollWorld) sentTo(host string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sent[host]
}

// RoundTrip implements http.RoundTripper.
func (w *pollWorld) RoundTrip(req *http.Request) (*http.Response, error) {
	w.mu.Lock()
	m := w.modes[req.URL.Host]
	w.sent[req.URL.Host]++
	w.mu.Unlock()
	if m.refuse {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.OpError{Op: "connect", Err: syscall.ECONNREFUSED}}
	}
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if m.hang {
			<-r.Context().Done()
			return
		}
		for k, v := range m.header {
			rw.Header()[k] = v
		}
		if m.status != 0 {
			rw.WriteHeader(m.status)
		}
		rw.Write([]byte("ok"))
	})
	return memhttp.Transport{Handler: h}.RoundTrip(req)
}

// pollURLs lists per URLs on each of hosts.
func pollURLs(hosts []string, per int) []string {
	var urls []string
	for i := range per {
		for _, h := range hosts {
			urls = append(urls, fmt.Sprintf("http://%s/probe/%d", h, i))
		}
	}
	return urls
}

// bubbleGoroutines counts the goroutines of the calling synctest bubble
// (runtime.NumGoroutine also counts the runtime's and the test runner's,
// which come and go).
func bubbleGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return bytes.Count(buf, []byte(", synctest bubble "))
}

// checkStatsMove checks that counters never go back from one snapshot to
// the next, and that nothing is left waiting or in flight between ticks.
func checkStatsMove(t *testing.T, tick int, prev, s Stats) {
	t.Helper()
	if s.Calls < prev.Calls || s.Succeeded < prev.Succeeded || s.Attempts < prev.Attempts ||
		s.Retries < prev.Retries || s.Failed.Timeout < prev.Failed.Timeout ||
		s.Failed.Network < prev.Failed.Network || s.Failed.Refused < prev.Failed.Refused ||
		s.Failed.Status < prev.Failed.Status || s.Failed.Canceled < prev.Failed.Canceled ||
		s.Failed.Other < prev.Failed.Other {
		t.Fatalf("tick %d: a counter went back:\n prev %+v\n now  %+v", tick, prev, s)
	}
	if s.InFlight != 0 || s.Waiting != 0 {
		t.Fatalf("tick %d: between ticks InFlight = %d, Waiting = %d; want 0, 0", tick, s.InFlight, s.Waiting)
	}
}

// TestPollerReviewChurnStaysBounded runs 120 ticks of 100 URLs on 50
// hosts, replacing 10 hosts every tick (1,250 hosts seen in all), a fifth
// of them refusing connections so that their breakers open. Every tick
// ends by its deadline; between ticks nothing may be in flight or
// waiting, counters only grow, and goroutines come back to where they
// were.
func TestPollerReviewChurnStaysBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newPollWorld()
		f, err := New(WithClient(&http.Client{Transport: w}),
			WithConcurrency(32), WithHostConcurrency(2),
			WithAttemptTimeout(2*time.Second),
			WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond}),
			WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 3, OpenFor: 30 * time.Second}),
			WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 100, Initial: 20}))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())

		next := 0
		newHost := func() string {
			h := fmt.Sprintf("h%04d.test", next)
			if next%5 == 0 {
				w.set(h, pollMode{refuse: true})
			}
			next++
			return h
		}
		hosts := make([]string, 50)
		for i := range hosts {
			hosts[i] = newHost()
		}
		var prev Stats
		goroutines := bubbleGoroutines()
		maxTable := 0
		const churn = 10
		for tick := range 120 {
			ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
			start := time.Now()
			rs := f.GetAll(ctx, pollURLs(hosts, 2))
			cancel()
			if d := time.Since(start); d > 8*time.Second {
				t.Fatalf("tick %d took %v, past its deadline", tick, d)
			}
			for _, r := range rs {
				if r.Err == nil && r.Status != 200 {
					t.Fatalf("tick %d: %s: no error, status %d", tick, r.URL, r.Status)
				}
			}
			synctest.Wait()
			s := f.Stats()
			checkStatsMove(t, tick, prev, s)
			prev = s
			if n := bubbleGoroutines(); tick%10 == 0 && n > goroutines {
				t.Fatalf("tick %d: %d goroutines in the bubble between ticks, %d before the first", tick, n, goroutines)
			}
			maxTable = max(maxTable, f.gates.hosts.len())
			// The next tick: 10 hosts leave, 10 come.
			hosts = hosts[churn:]
			for range churn {
				hosts = append(hosts, newHost())
			}
			time.Sleep(10*time.Second - time.Since(start))
		}
		t.Logf("hosts seen %d, table at most %d, now %d; Stats().Hosts %d; %+v",
			next, maxTable, f.gates.hosts.len(), len(prev.Hosts), prev.Failed)
	})
}

// TestPollerReviewDownHostsForgotten: a poller whose endpoints come and go
// meets hosts that are down when they leave its list. Their breakers open,
// and, with no call left to probe them, stay half-open for ever. Such a
// host must still be forgotten once it has been idle long enough, as an
// idle host's learned adaptive rate is (throttleMemory), or the host
// table (and Stats().Hosts, which lists every breaker not closed) grows
// with every host that was ever down when it left: here 8,000 hosts,
// polled once a minute for 80 minutes, 100 of them new each time.
func TestPollerReviewDownHostsForgotten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newPollWorld()
		f, err := New(WithClient(&http.Client{Transport: w}),
			WithConcurrency(32), WithHostConcurrency(2),
			WithRetry(RetryPolicy{MaxAttempts: 1}),
			WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1, OpenFor: 30 * time.Second}))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		next := 0
		for tick := range 80 {
			hosts := make([]string, 100)
			for i := range hosts {
				hosts[i] = fmt.Sprintf("down%05d.test", next)
				w.set(hosts[i], pollMode{refuse: true})
				next++
			}
			ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
			for _, r := range f.GetAll(ctx, pollURLs(hosts, 1)) {
				if !errors.Is(r.Err, syscall.ECONNREFUSED) {
					t.Fatalf("tick %d: %s: %v, want ECONNREFUSED", tick, r.URL, r.Err)
				}
			}
			cancel()
			time.Sleep(time.Minute)
		}
		open := 0
		for _, h := range f.Stats().Hosts {
			if h.Breaker != "" {
				open++
			}
		}
		t.Logf("table %d, breakers not closed %d", f.gates.hosts.len(), open)
		// Each shard is swept once it holds minSweep hosts; the hosts
		// idle for over ten minutes must have gone by then.
		if n := f.gates.hosts.len(); n > hostShards*minSweep {
			t.Errorf("the host table holds %d hosts (%d with a breaker not closed) of the %d down hosts seen, "+
				"most idle for over an hour", n, open, next)
		}
	})
}

// TestPollerReviewOpenBreakerFailsAtOnce: a host's breaker, opened in one
// tick, refuses the next tick's calls to it "at once, sending nothing"
// (README, WithCircuitBreaker). In a batch, the refused calls must not
// first wait, one by one, for the host's rate tokens, which they never
// use: 20 URLs of a dead host paced at 1 a second would otherwise take 20
// seconds to be refused, overrunning an 8-second tick with deadline errors
// in place of the breaker's, and the Handle and GetAll calls of the tick
// would wait for them.
func TestPollerReviewOpenBreakerFailsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
	}{
		{"host rate", WithHostRate(PerSecond(1), 1)},
		{"adaptive rate", WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 100, Initial: 1})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newPollWorld()
				w.set("down.test", pollMode{refuse: true})
				f, err := New(WithClient(&http.Client{Transport: w}), tc.opt,
					WithConcurrency(8), WithHostConcurrency(2),
					WithRetry(RetryPolicy{MaxAttempts: 1}),
					WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1, OpenFor: time.Minute}))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Shutdown(context.Background())
				// Tick 1 opens the breaker.
				if _, err := f.Get(t.Context(), "http://down.test/"); !errors.Is(err, syscall.ECONNREFUSED) {
					t.Fatalf("first call: %v, want ECONNREFUSED", err)
				}
				time.Sleep(10 * time.Second)
				urls := append(pollURLs([]string{"down.test"}, 20), "http://up.test/")
				ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
				defer cancel()
				start := time.Now()
				rs := f.GetAll(ctx, urls)
				if d := time.Since(start); d > time.Second {
					t.Errorf("GetAll took %v with the host's breaker open; want the refusals at once", d)
				}
				for _, r := range rs[:20] {
					if !errors.Is(r.Err, ErrCircuitOpen) || r.Attempts != 0 {
						t.Errorf("%s: attempts %d, %v; want ErrCircuitOpen, 0 attempts", r.URL, r.Attempts, r.Err)
					}
				}
				if rs[20].Err != nil {
					t.Errorf("%s: %v", rs[20].URL, rs[20].Err)
				}
				ctx2, cancel2 := context.WithTimeout(t.Context(), 8*time.Second)
				defer cancel2()
				start = time.Now()
				n := 0
				for h := range HandleURLs(ctx2, f, slices.Values(pollURLs([]string{"down.test"}, 20)),
					func(string, *http.Response) (struct{}, error) { return struct{}{}, nil }) {
					if !errors.Is(h.Err, ErrCircuitOpen) {
						t.Errorf("Handle: %s: %v; want ErrCircuitOpen", h.URL, h.Err)
					}
					n++
				}
				if d := time.Since(start); n != 20 || d > time.Second {
					t.Errorf("Handle: %d results in %v with the host's breaker open; want 20 at once", n, d)
				}
				if got := w.sentTo("down.test"); got != 1 {
					t.Errorf("down.test was sent %d requests; want 1, the one that opened its breaker", got)
				}
			})
		})
	}
}

// TestPollerReviewRetryAfterHour: a host answering 503 with Retry-After:
// 3600 fails that call at once with a *RetryAfterError (Max set) and is
// paused for MaxRetryAfter (5 minutes); every later call to it in that
// tick and the next 29 fails at once, sending nothing, with an error that
// names the pause and matches context.DeadlineExceeded, while the other
// hosts are polled as usual and its breaker stays closed. When the pause
// ends, one request goes, and the host is paused again.
func TestPollerReviewRetryAfterHour(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newPollWorld()
		w.set("paused.test", pollMode{status: 503, header: http.Header{"Retry-After": {"3600"}}})
		f, err := New(WithClient(&http.Client{Transport: w}),
			WithConcurrency(32), WithHostConcurrency(2), WithAttemptTimeout(2*time.Second),
			WithCircuitBreaker(CircuitBreaker{}), WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 100, Initial: 20}))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		epoch := time.Now()
		for tick := range 31 {
			ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
			start := time.Now()
			rs := f.GetAll(ctx, pollURLs([]string{"paused.test", "up.test"}, 3))
			cancel()
			if d := time.Since(start); d > time.Second {
				t.Fatalf("tick %d took %v", tick, d)
			}
			for _, r := range rs {
				switch {
				case r.URL[7:11] == "up.t":
					if r.Err != nil {
						t.Fatalf("tick %d: %s: %v", tick, r.URL, r.Err)
					}
				case r.Attempts == 1:
					var rae *RetryAfterError
					if (tick != 0 && tick != 30) || !errors.As(r.Err, &rae) || rae.Max == 0 || r.Status != 503 {
						t.Fatalf("tick %d: %s sent, got %v; want a *RetryAfterError with Max on ticks 0 and 30 only", tick, r.URL, r.Err)
					}
				default:
					if !errors.Is(r.Err, context.DeadlineExceeded) || !strings.Contains(r.Err.Error(), "Retry-After pause") {
						t.Fatalf("tick %d: %s: %v; want the host's pause, matching DeadlineExceeded", tick, r.URL, r.Err)
					}
				}
			}
			var hs HostStats
			for _, h := range f.Stats().Hosts {
				if h.Host == "paused.test" {
					hs = h
				}
			}
			if want := epoch.Add(time.Duration(1+tick/30) * 5 * time.Minute); !hs.PausedUntil.Equal(want) || hs.Breaker != "" {
				t.Fatalf("tick %d: paused.test: %+v; want paused until %v, breaker closed", tick, hs, want)
			}
			if got, want := w.sentTo("paused.test"), 1+tick/30; got != want {
				t.Fatalf("tick %d: %d requests sent to the paused host; want %d", tick, got, want)
			}
			time.Sleep(10*time.Second - time.Since(start))
		}
	})
}

// TestPollerReviewDeadlineMidTick: hosts that hang (each attempt cut by
// WithAttemptTimeout, 3 s) or refuse, polled with Handle and GetAll
// under an 8-second deadline, tick after tick. Every result comes back by
// the deadline, and between ticks nothing is in flight, waiting or left
// running, and the counters only grow.
func TestPollerReviewDeadlineMidTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newPollWorld()
		w.set("hang.test", pollMode{hang: true})
		w.set("down.test", pollMode{refuse: true})
		f, err := New(WithClient(&http.Client{Transport: w}),
			WithConcurrency(8), WithHostConcurrency(2), WithAttemptTimeout(3*time.Second),
			WithCircuitBreaker(CircuitBreaker{OpenFor: 20 * time.Second}),
			WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 100, Initial: 20}))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		base := bubbleGoroutines()
		var prev Stats
		urls := pollURLs([]string{"hang.test", "down.test", "up.test"}, 4)
		for tick := range 20 {
			ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
			start := time.Now()
			n := 0
			check := func(url string, err error) {
				n++
				if time.Since(start) > 8*time.Second {
					t.Errorf("tick %d: %s came back after the deadline", tick, url)
				}
				switch url[7:11] {
				case "up.t":
					if err != nil {
						t.Errorf("tick %d: %s: %v", tick, url, err)
					}
				case "hang":
					if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrCircuitOpen) {
						t.Errorf("tick %d: %s: %v", tick, url, err)
					}
				case "down":
					if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, ErrCircuitOpen) {
						t.Errorf("tick %d: %s: %v", tick, url, err)
					}
				}
			}
			if tick%2 == 0 {
				for h := range HandleURLs(ctx, f, slices.Values(urls),
					func(_ string, resp *http.Response) (int, error) { return resp.StatusCode, nil }) {
					check(h.URL, h.Err)
				}
			} else {
				for _, r := range f.GetAll(ctx, urls) {
					check(r.URL, r.Err)
				}
			}
			cancel()
			if n != len(urls) {
				t.Fatalf("tick %d: %d results for %d URLs", tick, n, len(urls))
			}
			synctest.Wait()
			s := f.Stats()
			checkStatsMove(t, tick, prev, s)
			prev = s
			if g := bubbleGoroutines(); g != base {
				t.Fatalf("tick %d: %d goroutines in the bubble between ticks, %d before", tick, g, base)
			}
			time.Sleep(10*time.Second - time.Since(start))
		}
	})
}

// TestPollerReviewShutdownMidTick: the process stops while a tick runs,
// with requests hanging on the wire and more queued. Shutdown fails the
// queued calls at once with ErrClosed, and waits for those on the wire
// until its own context ends; the tick's GetAll then returns once the
// attempts on the wire end (their attempt timeout), none retried (ErrClosed,
// naming the timeout that would have been retried), and a
// later tick fails at once with ErrClosed, sending nothing.
func TestPollerReviewShutdownMidTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newPollWorld()
		w.set("hang.test", pollMode{hang: true})
		f, err := New(WithClient(&http.Client{Transport: w}),
			WithConcurrency(8), WithHostConcurrency(2), WithAttemptTimeout(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
		defer cancel()
		start := time.Now()
		done := make(chan []Result)
		go func() { done <- f.GetAll(ctx, pollURLs([]string{"hang.test", "up.test"}, 5)) }()
		time.Sleep(time.Second)
		sctx, scancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer scancel()
		if err := f.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown with 2 requests hanging on the wire: %v; want its context's DeadlineExceeded", err)
		}
		rs := <-done
		if d := time.Since(start); d > 3*time.Second+100*time.Millisecond {
			t.Errorf("GetAll returned %v after it began, past the attempt timeout of the requests on the wire", d)
		}
		wire := 0
		for _, r := range rs {
			switch {
			case r.URL[7:11] == "up.t":
				if r.Err != nil {
					t.Errorf("%s: %v", r.URL, r.Err)
				}
			case r.Attempts == 1:
				wire++
				if !errors.Is(r.Err, ErrClosed) || !strings.Contains(r.Err.Error(), "attempt timed out") {
					t.Errorf("%s, on the wire at Shutdown: %v; want ErrClosed naming the attempt timeout, not retried", r.URL, r.Err)
				}
			default:
				if !errors.Is(r.Err, ErrClosed) || r.Attempts != 0 {
					t.Errorf("%s, queued at Shutdown: attempts %d, %v; want ErrClosed", r.URL, r.Attempts, r.Err)
				}
			}
		}
		if wire != 2 {
			t.Errorf("%d requests were on the wire to hang.test; want 2 (its host concurrency)", wire)
		}
		if err := f.Shutdown(context.Background()); err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
		for _, r := range f.GetAll(context.Background(), []string{"http://up.test/"}) {
			if !errors.Is(r.Err, ErrClosed) {
				t.Errorf("after Shutdown: %v; want ErrClosed", r.Err)
			}
		}
		if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
			t.Errorf("after Shutdown: %+v", s)
		}
	})
}

// TestPollerReviewLoopback polls real loopback servers: two up, one that
// hangs, and one address that refuses; half way one server goes away and
// another comes. Each tick ends by its deadline with an error of the kind
// the fault calls for, nothing is in flight between ticks, and after
// Shutdown no goroutine or connection is left behind.
func TestPollerReviewLoopback(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	okH := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	stop := make(chan struct{})
	a, b := httptest.NewServer(okH), httptest.NewServer(okH)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer hang.Close()
	defer close(stop)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/"
	l.Close()

	f, err := New(WithConcurrency(16), WithHostConcurrency(2), WithAttemptTimeout(100*time.Millisecond),
		WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: 10 * time.Millisecond}),
		WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 4, OpenFor: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	var prev Stats
	var c *httptest.Server
	for tick := range 8 {
		if tick == 4 { // a leaves, c comes
			a.Close()
			c = httptest.NewServer(okH)
		}
		urls := []string{b.URL + "/1", b.URL + "/2", hang.URL + "/1", refused}
		if tick < 4 {
			urls = append(urls, a.URL+"/1", a.URL+"/2")
		} else {
			urls = append(urls, c.URL+"/1", c.URL+"/2")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		start := time.Now()
		rs := f.GetAll(ctx, urls)
		cancel()
		if d := time.Since(start); d > 400*time.Millisecond {
			t.Errorf("tick %d took %v, past its 300ms deadline", tick, d)
		}
		for _, r := range rs {
			switch {
			case strings.HasPrefix(r.URL, hang.URL):
				if !errors.Is(r.Err, context.DeadlineExceeded) && !errors.Is(r.Err, ErrCircuitOpen) {
					t.Errorf("tick %d: %s: %v", tick, r.URL, r.Err)
				}
			case r.URL == refused:
				if !errors.Is(r.Err, syscall.ECONNREFUSED) && !errors.Is(r.Err, ErrCircuitOpen) {
					t.Errorf("tick %d: %s: %v", tick, r.URL, r.Err)
				}
			default:
				if r.Err != nil {
					t.Errorf("tick %d: %s: %v", tick, r.URL, r.Err)
				}
			}
		}
		s := f.Stats()
		checkStatsMove(t, tick, prev, s)
		prev = s
	}
	if err := f.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	b.Close()
	c.Close()
}
