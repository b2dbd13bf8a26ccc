package fetch

// Ports of two peers' test suites onto the Fetcher:
//
//   - golang.org/x/time/rate: rate_test.go, for what the Fetcher promises of
//     its buckets (WithRate, WithHostRate, WithLimiter with a *rate.Limiter),
//     as the server sees it: when each request arrives. "n tokens" of a
//     peer case becomes n requests, each of which takes one token; a
//     Limiter.Wait whose context ends becomes a call whose context ends
//     while it waits for a token; a Reservation's Cancel becomes that call
//     ending, and the next request's arrival time shows whether its token
//     came back. Everything runs in a testing/synctest bubble over the
//     in-memory transport, so times are exact.
//   - CPython: Lib/test/test_asyncio/test_tasks.py, GatherTests and the
//     test_cancel_gather_* cases, onto GetAll/DoAll (gather with
//     return_exceptions=True, as their doc comments say) and their
//     FailFast variants (gather with return_exceptions=False, except that,
//     as their doc says, the first failure also cancels the rest). A child
//     future is one input whose handler blocks until the test finishes it.
//
// Each test names the peer test it comes from. Where the Fetcher differs
// from the peer on purpose (its doc says so), the test asserts the Fetcher's
// documented behaviour and says so. The cases where it differed by a
// defect (tokens taken for a context already ended, a bucket of burst or
// limit 0 of the caller's in the batch and streaming calls) failed before
// their fixes.

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// prgURLs returns n URLs on host, /0 to /n-1.
func prgURLs(host string, n int) []string {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://%s/%d", host, i)
	}
	return urls
}

// prgOffsets returns when c saw each request, as offsets from start, sorted.
func prgOffsets(c *counter, start time.Time) []time.Duration {
	var out []time.Duration
	for _, t := range c.times() {
		out = append(out, t.Sub(start))
	}
	slices.Sort(out)
	return out
}

// prgEvery returns burst zeros followed by n-burst multiples of step.
func prgEvery(n, burst int, step time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := burst; i < n; i++ {
		out[i] = time.Duration(i-burst+1) * step
	}
	return out
}

// prgNear reports whether got and want differ by at most tol each.
func prgNear(got, want []time.Duration, tol time.Duration) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if d := got[i] - want[i]; d > tol || d < -tol {
			return false
		}
	}
	return true
}

// A prgCaller makes n requests with a Fetcher in one of the ways a user can,
// and returns once they have all ended.
type prgCaller struct {
	name string
	run  func(ctx context.Context, f *Fetcher, urls []string) []error
}

var prgCallers = []prgCaller{
	{"GetAll", func(ctx context.Context, f *Fetcher, urls []string) []error {
		var errs []error
		for _, r := range f.GetAll(ctx, urls) {
			errs = append(errs, r.Err)
		}
		return errs
	}},
	{"Stream", func(ctx context.Context, f *Fetcher, urls []string) []error {
		errs := make([]error, len(urls))
		for r := range f.Stream(ctx, slices.Values(urls)) {
			errs[r.Index] = r.Err
		}
		return errs
	}},
	{"Gets", func(ctx context.Context, f *Fetcher, urls []string) []error {
		errs := make([]error, len(urls))
		var wg sync.WaitGroup
		for i, u := range urls {
			wg.Go(func() { _, errs[i] = f.Get(ctx, u) })
			synctest.Wait() // the calls queue in input order (run on the bubble's root only)
		}
		wg.Wait()
		return errs
	}},
}

// ---------------------------------------------------------------------------
// golang.org/x/time/rate
// ---------------------------------------------------------------------------

// Peer: TestSimultaneousRequests (limit 1, burst 5, 15 simultaneous requests:
// exactly 5 get through at once); the rest then go one a second.
func TestPortRateSimultaneousRequests(t *testing.T) {
	prgForEachCaller(t, func(t *testing.T, caller prgCaller) {
		c := count(ok)
		f := newMem(t, c, WithRate(PerSecond(1), 5))
		start := time.Now()
		for _, err := range caller.run(context.Background(), f, prgURLs("a.test", 15)) {
			if err != nil {
				t.Error(err)
			}
		}
		if got := slices.Index(prgOffsets(c, start), time.Second); got != 5 {
			t.Errorf("%d requests went out at once; want the burst, 5", got)
		}
		if got, want := prgOffsets(c, start), prgEvery(15, 5, time.Second); !slices.Equal(got, want) {
			t.Errorf("arrivals %v; want %v", got, want)
		}
	})
}

// Peer: TestLongRunningQPS (limit 100, burst 100, 5 s: never more than
// burst + limit*elapsed + 1, and at least 0.999 of it); here exactly, with
// every request after the burst 10 ms after the one before.
func TestPortRateLongRunningQPS(t *testing.T) {
	for _, caller := range prgCallers[:2] { // 700 goroutines for Gets add nothing
		t.Run(caller.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(ok)
				f := newMem(t, c, WithRate(PerSecond(100), 100), WithConcurrency(8))
				start := time.Now()
				caller.run(context.Background(), f, prgURLs("a.test", 700))
				got := prgOffsets(c, start)
				n := 0
				for _, d := range got {
					if d <= 5*time.Second {
						n++
					}
				}
				ideal := 100 + 100*5.0
				if float64(n) > ideal+1 || float64(n) < 0.999*ideal {
					t.Errorf("%d requests in 5s; want %v", n, ideal)
				}
				if want := prgEvery(700, 100, 10*time.Millisecond); !slices.Equal(got, want) {
					t.Errorf("arrivals not every 10ms after the burst: %v", got)
				}
			})
		})
	}
}

// Peer: TestLimiterBurst3 and TestSimpleReserve (limit 10, burst 3: three at
// t0, then one per d = 100ms; after an idle spell of 5d the bucket is full
// again, and three more go at once).
func TestPortRateBurst3(t *testing.T) {
	prgForEachCaller(t, func(t *testing.T, caller prgCaller) {
		c := count(ok)
		f := newMem(t, c, WithRate(PerSecond(10), 3))
		start := time.Now()
		caller.run(context.Background(), f, prgURLs("a.test", 5)) // t0 ×3, t1, t2
		time.Sleep(time.Until(start.Add(900 * time.Millisecond))) // t9: full again
		caller.run(context.Background(), f, prgURLs("a.test", 4)) // t9 ×3, t10
		d := 100 * time.Millisecond
		want := []time.Duration{0, 0, 0, d, 2 * d, 9 * d, 9 * d, 9 * d, 10 * d}
		if got := prgOffsets(c, start); !slices.Equal(got, want) {
			t.Errorf("arrivals %v; want %v", got, want)
		}
	})
}

// Peer: TestLimiter_noTruncationErrors (limit 0.7692307692307693 = 1/1.3 s,
// burst 1: the first event is allowed), and the spacing of a rate whose
// interval is no whole number of nanoseconds (3/s): each request within a
// microsecond of k/r.
func TestPortRateNoTruncationErrors(t *testing.T) {
	for _, tc := range []struct {
		r    rate.Limit
		step time.Duration
	}{
		{0.7692307692307693, 1300 * time.Millisecond},
		{PerSecond(3), time.Second / 3},
		{PerMinute(7), time.Minute / 7},
	} {
		for _, caller := range prgCallers {
			t.Run(fmt.Sprint(tc.r, "/", caller.name), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					c := count(ok)
					f := newMem(t, c, WithRate(tc.r, 1))
					start := time.Now()
					caller.run(context.Background(), f, prgURLs("a.test", 4))
					got, want := prgOffsets(c, start), prgEvery(4, 1, tc.step)
					if !prgNear(got, want, time.Microsecond) || got[1] == 0 {
						t.Errorf("arrivals %v; want %v", got, want)
					}
				})
			})
		}
	}
}

// Peer: none directly; the README's example quota, PerMinute: very small
// rates go out exactly a minute (or 2s) apart, globally and per host.
func TestPortRatePerMinute(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  func() Option
		want []time.Duration
	}{
		{"WithRate(PerMinute(1),1)", func() Option { return WithRate(PerMinute(1), 1) }, prgEvery(3, 1, time.Minute)},
		{"WithHostRate(PerMinute(30),2)", func() Option { return WithHostRate(PerMinute(30), 2) }, prgEvery(4, 2, 2*time.Second)},
		{"WithLimiter(rate.NewLimiter(PerMinute(6),1))", func() Option { return WithLimiter(rate.NewLimiter(PerMinute(6), 1)) }, prgEvery(3, 1, 10*time.Second)},
	} {
		for _, caller := range prgCallers {
			t.Run(tc.name+"/"+caller.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					c := count(ok)
					f := newMem(t, c, tc.opt())
					start := time.Now()
					caller.run(context.Background(), f, prgURLs("a.test", len(tc.want)))
					if got := prgOffsets(c, start); !slices.Equal(got, tc.want) {
						t.Errorf("arrivals %v; want %v", got, tc.want)
					}
				})
			})
		}
	}
}

// Peer: TestLimiterBurst1 applied per host: each host's bucket (limit 1,
// burst 2) is its own; a global bucket on top (limit 2, burst 4) caps the
// sum. A request waiting for its host takes no global token.
func TestPortRateHostBuckets(t *testing.T) {
	prgForEachCaller(t, func(t *testing.T, caller prgCaller) {
		hosts := map[string]*counter{"a.test": count(ok), "b.test": count(ok)}
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hosts[r.Host].ServeHTTP(w, r)
		}), WithHostRate(PerSecond(1), 2), WithRate(PerSecond(2), 4))
		start := time.Now()
		var urls []string
		for i := range 3 {
			urls = append(urls, fmt.Sprintf("http://a.test/%d", i), fmt.Sprintf("http://b.test/%d", i))
		}
		caller.run(context.Background(), f, urls)
		for name, c := range hosts {
			if got, want := prgOffsets(c, start), prgEvery(3, 2, time.Second); !slices.Equal(got, want) {
				t.Errorf("%s: arrivals %v; want %v", name, got, want)
			}
		}
	})
}

// Peer: TestWaitSimple "already-cancelled" (a wait whose context has ended
// already fails at once and takes no token): the calls fail at once with
// context.Canceled, send nothing, and leave the bucket full, so that three
// calls made next (burst 3) all go at once.
func TestPortRateWaitAlreadyCancelled(t *testing.T) {
	prgForEachCaller(t, func(t *testing.T, caller prgCaller) {
		c := count(ok)
		f := newMem(t, c, WithRate(PerSecond(10), 3))
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for i, err := range caller.run(ctx, f, prgURLs("a.test", 3)) {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("already-cancelled: call %d: err = %v; want context.Canceled", i, err)
			}
		}
		if time.Since(start) != 0 || c.n.Load() != 0 {
			t.Fatalf("already-cancelled: returned after %v with %d sent; want at once, none", time.Since(start), c.n.Load())
		}
		caller.run(context.Background(), f, prgURLs("a.test", 3))
		if got := prgOffsets(c, start); !slices.Equal(got, make([]time.Duration, 3)) {
			t.Errorf("arrivals after the cancelled calls %v; want [0 0 0]: they took tokens", got)
		}
	})
}

// Peer: TestWaitSimple "act-now" (burst 3: three at once) and "act-later"
// (the fourth waits one d).
func TestPortRateWaitSimple(t *testing.T) {
	prgForEachCaller(t, func(t *testing.T, caller prgCaller) {
		c := count(ok)
		f := newMem(t, c, WithRate(PerSecond(10), 3))
		start := time.Now()
		caller.run(context.Background(), f, prgURLs("a.test", 4))
		want := []time.Duration{0, 0, 0, 100 * time.Millisecond}
		if got := prgOffsets(c, start); !slices.Equal(got, want) {
			t.Errorf("act-now/act-later: arrivals %v; want %v", got, want)
		}
	})
}

// Peer: TestWaitCancel and TestCancelLast (a wait cancelled before its time
// gives its tokens back: the next waiter is served as if it never waited):
// burst 3 spent at t0; a call waiting for t1 is cancelled at t0.5; the next
// call, made then, goes at t1, not t2.
func TestPortRateWaitCancel(t *testing.T) {
	prgForEachCaller(t, func(t *testing.T, caller prgCaller) {
		c := count(ok)
		f := newMem(t, c, WithRate(PerSecond(10), 3))
		start := time.Now()
		caller.run(context.Background(), f, prgURLs("a.test", 3))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		for i, err := range caller.run(ctx, f, prgURLs("a.test", 2)) {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("will-cancel: call %d: err = %v; want context.Canceled", i, err)
			}
		}
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Errorf("will-cancel returned after %v; want 50ms", d)
		}
		caller.run(context.Background(), f, prgURLs("a.test", 1))
		want := []time.Duration{0, 0, 0, 100 * time.Millisecond}
		if got := prgOffsets(c, start); !slices.Equal(got, want) {
			t.Errorf("arrivals %v; want %v (the cancelled waits left debt)", got, want)
		}
	})
}

// Peer: TestCancelMulti and TestCancel0Tokens (reservations cancelled out of
// order give back what nobody reserved after them; x/time/rate itself only
// gives back a cancelled reservation's tokens in full if it was the last):
// the Fetcher promises more (Limiter's doc: "a cancelled wait gives its
// token back whatever the order of cancellations"). Limit 10, burst 1: A at
// t0; W1, W2, W3 wait for t1, t2, t3; W3 then W1 are cancelled at t0.5; W2
// goes at t1, and Y, made at t0.5, at t2.
func TestPortRateCancelMulti(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, WithRate(PerSecond(10), 1))
		start := time.Now()
		if _, err := f.Get(context.Background(), "http://a.test/A"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 3)
		stops := make([]context.CancelFunc, 3)
		for i := range 3 {
			ctx, stop := context.WithCancel(context.Background())
			stops[i] = stop
			wg.Go(func() { _, errs[i] = f.Get(ctx, fmt.Sprintf("http://a.test/W%d", i+1)) })
			synctest.Wait()
		}
		time.Sleep(50 * time.Millisecond)
		stops[2]()
		synctest.Wait()
		stops[0]()
		synctest.Wait()
		if _, err := f.Get(context.Background(), "http://a.test/Y"); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		stops[1]()
		if !errors.Is(errs[0], context.Canceled) || errs[1] != nil || !errors.Is(errs[2], context.Canceled) {
			t.Errorf("W1, W2, W3: %v; want Canceled, nil, Canceled", errs)
		}
		want := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond}
		if got := prgOffsets(c, start); !slices.Equal(got, want) {
			t.Errorf("arrivals %v; want %v", got, want)
		}
	})
}

// Peer: TestCancelTooLate (cancelling a reservation after its time gives
// nothing back): a request that got its token and is then cancelled in
// flight spent its token; the next one waits for the next token.
func TestPortRateCancelTooLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				<-r.Context().Done()
			}
		})
		f := newMem(t, c, WithRate(PerSecond(10), 1))
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := f.Get(ctx, "http://a.test/slow"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v; want DeadlineExceeded", err)
		}
		if _, err := f.Get(context.Background(), "http://a.test/next"); err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{0, 100 * time.Millisecond}
		if got := prgOffsets(c, start); !slices.Equal(got, want) {
			t.Errorf("arrivals %v; want %v", got, want)
		}
	})
}

// Peer: TestWaitTimeout ("w-timeout-err": a wait that would end after the
// context's deadline fails at once) and TestReserveMax (a token due within
// the limit is waited for; one due after it is refused). Limit 10, burst 1:
// after A at t0, a call whose deadline is 1ns before t1 fails at once with
// an error matching DeadlineExceeded and leaves no debt; one whose deadline
// is after t1 goes at t1.
//
// The batch and streaming calls are not promised the "at once": their doc
// says only that inputs not yet fetched when ctx ends come back with ctx's
// error. They fail those inputs at the deadline, which the test allows.
func TestPortRateWaitTimeout(t *testing.T) {
	prgForEachCaller(t, func(t *testing.T, caller prgCaller) {
		c := count(ok)
		f := newMem(t, c, WithRate(PerSecond(10), 1))
		start := time.Now()
		caller.run(context.Background(), f, prgURLs("a.test", 1))
		deadline := start.Add(100*time.Millisecond - 1)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		for i, err := range caller.run(ctx, f, prgURLs("a.test", 2)) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("w-timeout-err: call %d: err = %v; want DeadlineExceeded", i, err)
			}
		}
		if caller.name == "Gets" && time.Since(start) != 0 {
			t.Errorf("w-timeout-err: Get failed after %v; want at once", time.Since(start))
		}
		if time.Now().After(deadline) {
			t.Errorf("w-timeout-err: returned after the deadline, at %v", time.Since(start))
		}
		ctx, cancel = context.WithDeadline(context.Background(), start.Add(100*time.Millisecond+1))
		defer cancel()
		for i, err := range caller.run(ctx, f, prgURLs("a.test", 1)) {
			if err != nil {
				t.Errorf("reserve within max: call %d: %v", i, err)
			}
		}
		want := []time.Duration{0, 100 * time.Millisecond}
		if got := prgOffsets(c, start); !slices.Equal(got, want) {
			t.Errorf("arrivals %v; want %v", got, want)
		}
	})
}

// Peer: TestWaitInf ("exceed-burst-no-error": an infinite limit ignores the
// burst, even 0): rate.Inf with burst 0 lets everything through at once.
func TestPortRateWaitInf(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
	}{
		{"WithRate", WithRate(rate.Inf, 0)},
		{"WithHostRate", WithHostRate(rate.Inf, 0)},
		{"WithLimiter", WithLimiter(rate.NewLimiter(rate.Inf, 0))},
		{"WithHostLimiter", WithHostLimiter(func(string) Limiter { return rate.NewLimiter(rate.Inf, 0) })},
	} {
		for _, caller := range prgCallers {
			t.Run(tc.name+"/"+caller.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					c := count(ok)
					f := newMem(t, c, tc.opt)
					start := time.Now()
					for i, err := range caller.run(context.Background(), f, prgURLs("a.test", 20)) {
						if err != nil {
							t.Errorf("call %d: %v", i, err)
						}
					}
					if got := prgOffsets(c, start); !slices.Equal(got, make([]time.Duration, 20)) {
						t.Errorf("arrivals %v; want all at once", got)
					}
				})
			})
		}
	}
}

// Peer: TestWaitSimple "exceed-burst-error" (a wait for more than the burst
// fails at once with an error saying so). Each attempt takes one token, so
// only a burst of 0 exceeds it: WithRate and WithHostRate refuse it in New
// with an error naming the option and the burst.
func TestPortRateZeroBurstRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
	}{
		{"WithRate", WithRate(PerSecond(10), 0)},
		{"WithHostRate", WithHostRate(PerSecond(10), 0)},
		{"WithRate negative burst", WithRate(PerSecond(10), -1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opt)
			if err == nil || !strings.Contains(err.Error(), strings.Fields(tc.name)[0]) || !strings.Contains(err.Error(), "burst") {
				t.Errorf("New: %v; want an error naming %s and the burst", err, tc.name)
			}
		})
	}
}

// Peer: TestWaitSimple "exceed-burst-error" again, with the bucket given as a
// Limiter (which New cannot check): a *rate.Limiter of burst 0. Get fails
// at once, saying the bucket cannot give a token; the batch and streaming
// calls should fail the same way, not wait for a token that never comes.
func TestPortRateZeroBurstLimiter(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  func() Option
	}{
		{"WithLimiter", func() Option { return WithLimiter(rate.NewLimiter(PerSecond(10), 0)) }},
		{"WithHostLimiter", func() Option {
			return WithHostLimiter(func(string) Limiter { return rate.NewLimiter(PerSecond(10), 0) })
		}},
	} {
		for _, caller := range prgCallers {
			t.Run(tc.name+"/"+caller.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					c := count(ok)
					f := newMem(t, c, tc.opt())
					start := time.Now()
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					for i, err := range caller.run(ctx, f, prgURLs("a.test", 2)) {
						if err == nil || !strings.Contains(err.Error(), "burst") || errors.Is(err, context.DeadlineExceeded) {
							t.Errorf("call %d: err = %v; want the burst refusal", i, err)
						}
					}
					if d := time.Since(start); d != 0 || c.n.Load() != 0 {
						t.Errorf("returned after %v with %d sent; want at once, none", d, c.n.Load())
					}
				})
			})
		}
	}
}

// Peer: TestZeroLimit (limit 0, burst 1: the first event is allowed, the
// second never). WithRate refuses a rate of 0 in New, on purpose (its error
// says "use rate.Inf for no limit"); a *rate.Limiter of limit 0 given with
// WithLimiter behaves as the peer's: the first request goes, the second
// never does, and with a deadline Get refuses it at once.
func TestPortRateZeroLimit(t *testing.T) {
	if _, err := New(WithRate(0, 1)); err == nil || !strings.Contains(err.Error(), "positive") {
		t.Errorf("New(WithRate(0, 1)): %v; want an error saying the rate must be positive", err)
	}
	prgForEachCaller(t, func(t *testing.T, caller prgCaller) {
		c := count(ok)
		f := newMem(t, c, WithLimiter(rate.NewLimiter(0, 1)))
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		errs := caller.run(ctx, f, prgURLs("a.test", 2))
		// A bucket that cannot be tried is waited for, as a Limiter
		// of the caller's is: in the batch and streaming calls the
		// two may reach it in either order.
		prgOneSentOneRefused(t, caller, errs, c, start, caller.name == "Gets")
	})
}

// prgForEachCaller runs test once per caller, each in a subtest of its
// own in a synctest bubble.
func prgForEachCaller(t *testing.T, test func(t *testing.T, caller prgCaller)) {
	for _, caller := range prgCallers {
		t.Run(caller.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { test(t, caller) })
		})
	}
}

// prgOneSentOneRefused checks the outcome of two inputs for one token: one
// sent, the first if inOrder, and the other refused by the deadline, at
// once for Gets.
func prgOneSentOneRefused(t *testing.T, caller prgCaller, errs []error, c *counter, start time.Time, inOrder bool) {
	t.Helper()
	sent, refused := errs[0], errs[1]
	if !inOrder && errs[0] != nil {
		sent, refused = errs[1], errs[0]
	}
	if sent != nil || !errors.Is(refused, context.DeadlineExceeded) || c.n.Load() != 1 {
		t.Errorf("errs %v, %d sent; want one sent (the first, in input order: %v), the other DeadlineExceeded", errs, c.n.Load(), inOrder)
	}
	if caller.name == "Gets" && time.Since(start) != 0 {
		t.Errorf("Get refused after %v; want at once", time.Since(start))
	}
}

// Peer: TestSetAfterZeroLimit (limit 0 then SetLimit(10): the next token
// comes 100ms later). SetLimit is reachable only on a *rate.Limiter the
// caller gives with WithLimiter.
func TestPortRateSetAfterZeroLimit(t *testing.T) {
	prgForEachCaller(t, func(t *testing.T, caller prgCaller) {
		c := count(ok)
		lim := rate.NewLimiter(0, 1)
		f := newMem(t, c, WithLimiter(lim))
		start := time.Now()
		caller.run(context.Background(), f, prgURLs("a.test", 1))
		lim.SetLimit(10)
		caller.run(context.Background(), f, prgURLs("a.test", 1))
		want := []time.Duration{0, 100 * time.Millisecond}
		if got := prgOffsets(c, start); !slices.Equal(got, want) {
			t.Errorf("arrivals %v; want %v", got, want)
		}
	})
}

// Peer: TestTinyLimit (limit 1e-10, burst 1: the first event is allowed, the
// second not; no overflow): the first request goes at once; the second,
// whose token is centuries away, is refused by its deadline.
func TestPortRateTinyLimit(t *testing.T) {
	prgForEachCaller(t, func(t *testing.T, caller prgCaller) {
		c := count(ok)
		f := newMem(t, c, WithRate(1e-10, 1))
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		errs := caller.run(ctx, f, prgURLs("a.test", 2))
		prgOneSentOneRefused(t, caller, errs, c, start, true)
	})
}

// Peer: TestCancelLast, where the token waited for is a later gate's. The
// Limiter doc says, on purpose: "A token once given is spent: a call that
// then ends while it waits at a later gate (the global rate after its
// host's, or an in-flight slot) sends nothing but does not give it back".
// Host bucket 1 per 2s, global 1/s: B to host b takes b's token at t0 and
// waits for the global one (t1); cancelled at t0.5, it keeps b's token, so
// C to b goes at t2 (x/time/rate's Cancel would have let it go at t1). The
// batch calls take both tokens or neither, so there C goes at t1.
func TestPortRateLaterGateKeepsToken(t *testing.T) {
	prgForEachCaller(t, func(t *testing.T, caller prgCaller) {
		hosts := map[string]*counter{"a.test": count(ok), "b.test": count(ok)}
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hosts[r.Host].ServeHTTP(w, r)
		}), WithHostRate(PerSecond(0.5), 1), WithRate(PerSecond(1), 1))
		start := time.Now()
		caller.run(context.Background(), f, []string{"http://a.test/A"})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(500*time.Millisecond, cancel)
		caller.run(ctx, f, []string{"http://b.test/B"})
		caller.run(context.Background(), f, []string{"http://b.test/C"})
		want := time.Second
		if caller.name == "Gets" {
			want = 2 * time.Second // documented: the host token is spent
		}
		if got := prgOffsets(hosts["b.test"], start); !slices.Equal(got, []time.Duration{want}) {
			t.Errorf("b.test arrivals %v; want [%v]", got, want)
		}
	})
}

// ---------------------------------------------------------------------------
// CPython asyncio.gather
// ---------------------------------------------------------------------------

// prgChildren serves each path as a child future: the handler blocks until
// the test finishes it (status and body) or the request's context ends.
type prgChildren struct {
	mu        sync.Mutex
	finish    map[string]chan prgOutcome
	started   map[string]int
	cancelled map[string]bool
	proof     atomic.Int64 // children that completed
}

type prgOutcome struct {
	status int
	body   string
}

func newPrgChildren() *prgChildren {
	return &prgChildren{finish: map[string]chan prgOutcome{}, started: map[string]int{}, cancelled: map[string]bool{}}
}

func (s *prgChildren) ch(path string) chan prgOutcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.finish[path]
	if ch == nil {
		ch = make(chan prgOutcome, 8)
		s.finish[path] = ch
	}
	return ch
}

func (s *prgChildren) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ch := s.ch(r.URL.Path)
	s.mu.Lock()
	s.started[r.URL.Path]++
	s.mu.Unlock()
	select {
	case o := <-ch:
		s.proof.Add(1)
		w.WriteHeader(o.status)
		io.WriteString(w, o.body)
	case <-r.Context().Done():
		s.mu.Lock()
		s.cancelled[r.URL.Path] = true
		s.mu.Unlock()
	}
}

// set finishes child path with status and body, and lets the bubble settle.
func (s *prgChildren) set(path string, status int, body string) {
	s.ch(path) <- prgOutcome{status, body}
	synctest.Wait()
}

func (s *prgChildren) wasCancelled(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancelled[path]
}

func (s *prgChildren) startedCount(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started[path]
}

// A prgGather is one of the four batch calls, made to look alike: failFast
// says whether it is a FailFast variant (gather with
// return_exceptions=False); the others return a nil error.
type prgGather struct {
	name     string
	failFast bool
	run      func(ctx context.Context, f *Fetcher, urls []string) ([]Result, error)
}

func prgRequests(t testing.TB, urls []string) []*http.Request {
	reqs := make([]*http.Request, len(urls))
	for i, u := range urls {
		reqs[i] = mustGet(t, u)
	}
	return reqs
}

func prgGathers(t testing.TB) []prgGather {
	return []prgGather{
		{"GetAll", false, func(ctx context.Context, f *Fetcher, urls []string) ([]Result, error) {
			return f.GetAll(ctx, urls), nil
		}},
		{"GetAllFailFast", true, func(ctx context.Context, f *Fetcher, urls []string) ([]Result, error) {
			return f.GetAllFailFast(ctx, urls)
		}},
		{"DoAll", false, func(ctx context.Context, f *Fetcher, urls []string) ([]Result, error) {
			return f.DoAll(ctx, prgRequests(t, urls)), nil
		}},
		{"DoAllFailFast", true, func(ctx context.Context, f *Fetcher, urls []string) ([]Result, error) {
			return f.DoAllFailFast(ctx, prgRequests(t, urls))
		}},
	}
}

// prgOut is what a prgGather returned.
type prgOut struct {
	results []Result
	err     error
}

// prgStart runs g in the background and lets the bubble settle; the
// returned channel yields what g returned, once it has.
func prgStart(ctx context.Context, g prgGather, f *Fetcher, urls []string) <-chan prgOut {
	done := make(chan prgOut, 1)
	go func() {
		rs, err := g.run(ctx, f, urls)
		done <- prgOut{rs, err}
	}()
	synctest.Wait()
	return done
}

// prgNoRetry is the retry policy of the gather tests: a failure is final.
var prgNoRetry = WithRetry(RetryPolicy{MaxAttempts: 1})

// prgStatus returns the status of the *StatusError in err, or 0.
func prgStatus(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}

// Peer: GatherTestsBase.test_success and test_result_exception_success
// (children finishing b, a, then c: the gather is not done before c, and
// its result is [a, b, c] in input order, whatever the completion order).
func TestPortGatherSuccess(t *testing.T) {
	for _, g := range prgGathers(t) {
		t.Run(g.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				kids := newPrgChildren()
				f := newMem(t, kids, prgNoRetry)
				urls := []string{"http://a.test/a", "http://a.test/b", "http://a.test/c"}
				done := prgStart(context.Background(), g, f, urls)
				kids.set("/b", 200, "1")
				kids.set("/a", 200, "2")
				select {
				case <-done:
					t.Fatal("returned before every child was done")
				default:
				}
				kids.set("/c", 200, "3")
				out := <-done
				if out.err != nil {
					t.Errorf("err = %v", out.err)
				}
				var bodies []string
				for i, r := range out.results {
					if r.Index != i || r.Err != nil || r.URL != urls[i] {
						t.Errorf("result %d: index %d, URL %q, err %v", i, r.Index, r.URL, r.Err)
					}
					bodies = append(bodies, string(r.Body))
				}
				if !slices.Equal(bodies, []string{"2", "1", "3"}) {
					t.Errorf("bodies %q; want [2 1 3]", bodies)
				}
			})
		})
	}
}

// Peer: GatherTestsBase.test_one_exception (return_exceptions=False: the
// first exception completes the gather at once, with that very exception;
// later outcomes of the other children do nothing). FailFast, by its doc,
// also "cancels the requests still running or waiting", which asyncio.gather
// does not: the children still running see their request cancelled and
// carry an error matching context.Canceled.
func TestPortGatherOneException(t *testing.T) {
	for _, g := range prgGathers(t) {
		if !g.failFast {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				kids := newPrgChildren()
				f := newMem(t, kids, prgNoRetry)
				urls := []string{"http://a.test/a", "http://a.test/b", "http://a.test/c", "http://a.test/d", "http://a.test/e"}
				start := time.Now()
				done := prgStart(context.Background(), g, f, urls)
				time.Sleep(time.Second)
				kids.set("/a", 200, "1")
				kids.set("/b", 404, "ZeroDivisionError")
				var out prgOut
				select {
				case out = <-done:
				default:
					t.Fatal("not done after the first failure")
				}
				if d := time.Since(start); d != time.Second {
					t.Errorf("returned after %v; want at the failure, 1s", d)
				}
				if out.err == nil || out.err != out.results[1].Err || prgStatus(out.err) != 404 {
					t.Errorf("err = %v; want b's own error (404), results[1].Err = %v", out.err, out.results[1].Err)
				}
				if out.results[0].Err != nil || string(out.results[0].Body) != "1" {
					t.Errorf("a: %q, %v; want 1, nil", out.results[0].Body, out.results[0].Err)
				}
				for i, p := range []string{"/c", "/d", "/e"} {
					r := out.results[i+2]
					if !errors.Is(r.Err, context.Canceled) || !kids.wasCancelled(p) {
						t.Errorf("%s: err %v, request cancelled %v; want context.Canceled, true", p, r.Err, kids.wasCancelled(p))
					}
				}
				// "Does nothing": a child that would fail now has been cancelled.
				kids.set("/e", 500, "RuntimeError")
				if kids.proof.Load() != 2 {
					t.Errorf("%d children completed; want 2", kids.proof.Load())
				}
			})
		})
	}
}

// Peer: GatherTestsBase.test_return_exceptions (return_exceptions=True:
// b ok, c fails, a ok: not done; d fails: done, with [3, 1, exc, exc2],
// each exception the child's own).
func TestPortGatherReturnExceptions(t *testing.T) {
	for _, g := range prgGathers(t) {
		if g.failFast {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				kids := newPrgChildren()
				f := newMem(t, kids, prgNoRetry)
				urls := []string{"http://a.test/a", "http://a.test/b", "http://a.test/c", "http://a.test/d"}
				done := prgStart(context.Background(), g, f, urls)
				kids.set("/b", 200, "1")
				kids.set("/c", 418, "ZeroDivisionError")
				kids.set("/a", 200, "3")
				select {
				case <-done:
					t.Fatal("returned before every child was done")
				default:
				}
				kids.set("/d", 410, "RuntimeError")
				out := <-done
				rs := out.results
				if string(rs[0].Body) != "3" || rs[0].Err != nil || string(rs[1].Body) != "1" || rs[1].Err != nil {
					t.Errorf("a, b: %q %v, %q %v; want 3, 1 without errors", rs[0].Body, rs[0].Err, rs[1].Body, rs[1].Err)
				}
				if prgStatus(rs[2].Err) != 418 || prgStatus(rs[3].Err) != 410 {
					t.Errorf("c, d: %v, %v; want their own errors, 418 and 410", rs[2].Err, rs[3].Err)
				}
				if string(rs[2].Body) != "ZeroDivisionError" || string(rs[3].Body) != "RuntimeError" {
					t.Errorf("c, d bodies %q, %q", rs[2].Body, rs[3].Body)
				}
			})
		})
	}
}

// Peer: FutureGatherTests.test_constructor_empty_sequence_use_running_loop
// (gather() of nothing is done at once with []), also when the context has
// ended already (nothing to cancel, so nothing fails).
func TestPortGatherEmpty(t *testing.T) {
	for _, g := range prgGathers(t) {
		t.Run(g.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newMem(t, http.HandlerFunc(ok))
				cancelled, cancel := context.WithCancel(context.Background())
				cancel()
				for _, ctx := range []context.Context{context.Background(), cancelled} {
					rs, err := g.run(ctx, f, nil)
					if rs == nil || len(rs) != 0 || err != nil {
						t.Errorf("ctx err %v: %#v, %v; want [], nil", ctx.Err(), rs, err)
					}
				}
			})
		})
	}
}

// Peer: CoroutineGatherTests.test_duplicate_coroutines (gather(c, c,
// coro('def'), c) gives ['abc', 'abc', 'def', 'abc']). asyncio runs the one
// coroutine object once; a URL is a value, not an object, and GetAll's doc
// promises "one Result per URL", so each duplicate is fetched. DoAll given
// the same *http.Request three times sends it three times too.
func TestPortGatherDuplicates(t *testing.T) {
	for _, g := range prgGathers(t) {
		t.Run(g.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, strings.TrimPrefix(r.URL.Path, "/"))
				})
				f := newMem(t, c)
				urls := []string{"http://a.test/abc", "http://a.test/abc", "http://a.test/def", "http://a.test/abc"}
				var rs []Result
				var err error
				if strings.HasPrefix(g.name, "DoAll") {
					abc, def := mustGet(t, urls[0]), mustGet(t, urls[2])
					reqs := []*http.Request{abc, abc, def, abc}
					if g.failFast {
						rs, err = f.DoAllFailFast(context.Background(), reqs)
					} else {
						rs = f.DoAll(context.Background(), reqs)
					}
				} else {
					rs, err = g.run(context.Background(), f, urls)
				}
				var bodies []string
				for i, r := range rs {
					if r.Err != nil || r.Index != i {
						t.Errorf("result %d: index %d, err %v", i, r.Index, r.Err)
					}
					bodies = append(bodies, string(r.Body))
				}
				if err != nil || !slices.Equal(bodies, []string{"abc", "abc", "def", "abc"}) {
					t.Errorf("bodies %q, err %v; want [abc abc def abc], nil", bodies, err)
				}
				if c.n.Load() != 4 {
					t.Errorf("%d requests sent; want one per input, 4", c.n.Load())
				}
			})
		})
	}
}

// Peer: CoroutineGatherTests.test_cancellation_broadcast (cancelling the
// outer task cancels every child: none completes, proof stays 0). Here with
// two children in flight and two queued behind the concurrency: the call
// returns at the cancel, every result matches context.Canceled, the
// in-flight requests see their context end, and the queued ones are never
// sent.
func TestPortGatherCancellationBroadcast(t *testing.T) {
	for _, g := range prgGathers(t) {
		t.Run(g.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				kids := newPrgChildren()
				f := newMem(t, kids, prgNoRetry, WithConcurrency(2))
				urls := []string{"http://a.test/a", "http://a.test/b", "http://a.test/c", "http://a.test/d"}
				ctx, cancel := context.WithCancel(context.Background())
				start := time.Now()
				done := prgStart(ctx, g, f, urls)
				time.Sleep(time.Second)
				cancel()
				out := <-done
				if d := time.Since(start); d != time.Second {
					t.Errorf("returned after %v; want at the cancel, 1s", d)
				}
				for i, r := range out.results {
					if !errors.Is(r.Err, context.Canceled) {
						t.Errorf("result %d: err %v; want context.Canceled", i, r.Err)
					}
				}
				if g.failFast && !errors.Is(out.err, context.Canceled) {
					t.Errorf("err = %v; want context.Canceled", out.err)
				}
				if !kids.wasCancelled("/a") || !kids.wasCancelled("/b") {
					t.Error("the children in flight did not see the cancel")
				}
				if kids.startedCount("/c")+kids.startedCount("/d") != 0 {
					t.Error("a child queued at the cancel was sent")
				}
				if kids.proof.Load() != 0 {
					t.Errorf("proof = %d; want 0", kids.proof.Load())
				}
			})
		})
	}
}

// Peer: BaseTaskTests.test_cancel_gather_1 (Python issue #26923: a cancel
// that comes once every child is done is dropped; the gather returns [42]).
// The outer context is cancelled by OnDone, as the last child's call ends.
func TestPortGatherCancelAfterChildrenDone(t *testing.T) {
	for _, g := range prgGathers(t) {
		t.Run(g.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, "42")
				}), WithHooks(Hooks{OnDone: func(DoneInfo) { cancel() }}))
				rs, err := g.run(ctx, f, []string{"http://a.test/"})
				if err != nil || len(rs) != 1 || rs[0].Err != nil || string(rs[0].Body) != "42" {
					t.Errorf("got %+v, %v; want [42], nil", rs, err)
				}
			})
		})
	}
}

// Peer: BaseTaskTests.test_cancel_gather_2 (a task looping over
// gather(sleep(0.05), return_exceptions=True) and cancelled with a message:
// the cancellation is not swallowed as a returned exception but reaches the
// caller, message included). GetAll in a loop stops at the cancel: the
// result it returns carries an error matching context.Canceled. (The
// cause's message is named in the error's text when the cancel finds the
// request in flight, as here, but not when it finds it queued; no doc
// promises it, so only the in-flight case is checked.)
func TestPortGatherCancelPropagates(t *testing.T) {
	for _, g := range prgGathers(t) {
		t.Run(g.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-time.After(50 * time.Millisecond):
					case <-r.Context().Done():
					}
				}))
				ctx, cancel := context.WithCancelCause(context.Background())
				start := time.Now()
				time.AfterFunc(225*time.Millisecond, func() { cancel(errors.New("my message")) })
				var last error
				rounds := 0
				for time.Since(start) < time.Second {
					rs, err := g.run(ctx, f, []string{"http://a.test/"})
					rounds++
					if last = rs[0].Err; last != nil {
						if g.failFast && err != last {
							t.Errorf("err %v; want the result's, %v", err, last)
						}
						break
					}
				}
				if !errors.Is(last, context.Canceled) || !strings.Contains(fmt.Sprint(last), "my message") {
					t.Errorf("loop ended with %v after %d rounds; want context.Canceled naming \"my message\"", last, rounds)
				}
				if d := time.Since(start); d != 225*time.Millisecond || rounds != 5 {
					t.Errorf("loop ended after %v, %d rounds; want at the cancel, 225ms, in round 5", d, rounds)
				}
			})
		})
	}
}

// Peer: CoroutineGatherTests.test_exception_marking (two children fail one
// after the other; the outer gets a RuntimeError), made sharper: the
// failure FailFast returns is the first to happen, not the first in input
// order, and the one that would have failed later is cancelled instead.
func TestPortGatherFirstFailureByTime(t *testing.T) {
	for _, g := range prgGathers(t) {
		if !g.failFast {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				kids := newPrgChildren()
				f := newMem(t, kids, prgNoRetry)
				done := prgStart(context.Background(), g, f, []string{"http://a.test/a", "http://a.test/b"})
				kids.set("/b", 410, "first")
				out := <-done
				if prgStatus(out.err) != 410 || out.err != out.results[1].Err {
					t.Errorf("err = %v; want b's, 410", out.err)
				}
				if !errors.Is(out.results[0].Err, context.Canceled) {
					t.Errorf("a: %v; want context.Canceled", out.results[0].Err)
				}
				// The cancellation's cause is the failure (named in the text).
				if !strings.Contains(fmt.Sprint(out.results[0].Err), "410") {
					t.Errorf("a's error %q does not name the failure that cancelled it", out.results[0].Err)
				}
			})
		})
	}
}

// Peer: FutureGatherTests.test_result_exception_one_cancellation and
// test_one_exception's "Does nothing" tail: a child that fails after the
// outer was cancelled. With GetAll (return_exceptions=True), every result
// after the cancel carries ctx's error, even from a server that answers
// 500 once it sees the cancel; with FailFast the failure returned stays
// the first, not a later one.
func TestPortGatherChildFailsAfterOuterCancelled(t *testing.T) {
	for _, g := range prgGathers(t) {
		t.Run(g.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(func(w http.ResponseWriter, r *http.Request) {
					switch r.URL.Path {
					case "/first":
						time.Sleep(time.Second)
						w.WriteHeader(http.StatusGone)
					default:
						<-r.Context().Done()
						w.WriteHeader(http.StatusInternalServerError) // fails after the cancel
					}
				})
				f := newMem(t, c, prgNoRetry)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if !g.failFast {
					time.AfterFunc(time.Second, cancel)
				}
				out := <-prgStart(ctx, g, f, []string{"http://a.test/first", "http://a.test/late"})
				late := out.results[1].Err
				if !errors.Is(late, context.Canceled) || prgStatus(late) != 0 {
					t.Errorf("late child: %v; want context.Canceled, not its 500", late)
				}
				if g.failFast && (prgStatus(out.err) != http.StatusGone || out.err != out.results[0].Err) {
					t.Errorf("err = %v; want the first failure, 410", out.err)
				}
			})
		})
	}
}

// Peer: FutureGatherTests.test_one_cancellation (one child is cancelled on
// its own: the gather ends with CancelledError for it). A request given to
// DoAll is sent under its own context too, so one whose own context has
// ended fails with context.Canceled, unsent; the other is sent (DoAll), or
// may be cancelled by that first failure (DoAllFailFast).
func TestPortGatherOneCancellation(t *testing.T) {
	for _, g := range prgGathers(t) {
		if !strings.HasPrefix(g.name, "DoAll") {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(ok)
				f := newMem(t, c)
				own, cancel := context.WithCancel(context.Background())
				cancel()
				reqs := []*http.Request{mustGet(t, "http://a.test/a"), mustGet(t, "http://a.test/b").WithContext(own)}
				var rs []Result
				var err error
				if g.failFast {
					rs, err = f.DoAllFailFast(context.Background(), reqs)
				} else {
					rs = f.DoAll(context.Background(), reqs)
				}
				if !errors.Is(rs[1].Err, context.Canceled) || rs[1].Attempts != 0 {
					t.Errorf("cancelled child: err %v after %d attempts; want context.Canceled, unsent", rs[1].Err, rs[1].Attempts)
				}
				if g.failFast && (err != rs[1].Err || c.n.Load() > 1) {
					t.Errorf("fail-fast: err %v, %d sent; want the cancelled child's error, at most 1 sent", err, c.n.Load())
				}
				if !g.failFast && (rs[0].Err != nil || c.n.Load() != 1) {
					t.Errorf("other child: err %v, %d sent; want success, 1 sent", rs[0].Err, c.n.Load())
				}
			})
		})
	}
}

// Peer: TestZeroLimit again, for the batch and streaming calls: a bucket
// of the caller's with limit 0 gives its burst, then never another token,
// as rate.Limiter.Wait says at once. The scheduler cannot try such a
// bucket (it would poll it every millisecond for as long as the call's
// context lasts): the second input fails at once, as a Get does, and
// sends nothing.
func TestPortRateZeroLimitFailsAtOnce(t *testing.T) {
	prgForEachCaller(t, func(t *testing.T, caller prgCaller) {
		c := count(ok)
		f := newMem(t, c, WithLimiter(rate.NewLimiter(0, 1)))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		errs := caller.run(ctx, f, prgURLs("a.test", 2))
		if n := c.n.Load(); n != 1 || time.Since(start) != 0 {
			t.Errorf("%d sent, returned after %v; want 1, at once", n, time.Since(start))
		}
		failed := 0
		for _, err := range errs {
			if err != nil {
				failed++
				if errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "rate") {
					t.Errorf("err %v; want the bucket's refusal, not the context's end", err)
				}
			}
		}
		if failed != 1 {
			t.Errorf("errors %v; want one input refused", errs)
		}
	})
}
