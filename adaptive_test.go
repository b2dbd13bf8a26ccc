package fetch

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

// limitedServer answers 429 with Retry-After: 1 beyond r requests per second
// (a token bucket of burst b), after a millisecond's work, counting both.
type limitedServer struct {
	lim            *rate.Limiter
	served, denied atomic.Int64
}

func newLimitedServer(r rate.Limit, b int) *limitedServer {
	return &limitedServer{lim: rate.NewLimiter(r, b)}
}

func (s *limitedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(time.Millisecond)
	if !s.lim.Allow() {
		s.denied.Add(1)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	s.served.Add(1)
}

func urlsFor(host string, n int) []string {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = "http://" + host + "/" + strconv.Itoa(i)
	}
	return urls
}

// Against a server whose limit it is not told, the adaptive rate finds it:
// 2,000 requests at a 100/s limit finish within 1.15 x the ideal 20 s with
// under 5% of them refused. So does the default Fetcher, paced after the
// first Retry-After by the ramp, where it used to send every waiting
// request at once when each pause ended (1,192 refused).
func TestAdaptiveRateFindsTheServersLimit(t *testing.T) {
	const n, limit = 2000, 100
	ideal := time.Duration(n/limit) * time.Second
	for _, adaptive := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			srv := newLimitedServer(limit, limit)
			opts := []Option{WithConcurrency(64), WithRetry(RetryPolicy{MaxAttempts: 20})}
			if adaptive {
				opts = append(opts, WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 10000, Initial: 10}))
			}
			f := newMem(t, srv, opts...)
			start := time.Now()
			for _, r := range f.GetAll(t.Context(), urlsFor("api.test", n)) {
				if r.Err != nil || r.Status != http.StatusOK {
					t.Fatalf("%s: %d, %v", r.URL, r.Status, r.Err)
				}
			}
			took, denied := time.Since(start), srv.denied.Load()
			t.Logf("adaptive %v: %v (ideal %v), %d refused", adaptive, took, ideal, denied)
			// Without an adaptive rate, the ramp after the first pause paces
			// the host as well (without it: 1,192 refused).
			if took > ideal*115/100 {
				t.Errorf("took %v; want at most %v (1.15 x ideal)", took, ideal*115/100)
			}
			if denied > n/20 {
				t.Errorf("%d refused; want at most %d (5%%)", denied, n/20)
			}
			hs := f.Stats().Hosts
			if len(hs) != 1 || hs[0].Host != "api.test" || hs[0].Cuts == 0 ||
				hs[0].Rate < limit*0.7 || hs[0].Rate > limit*1.3 {
				t.Errorf("Stats().Hosts = %+v; want api.test, cut at least once, rate near %d", hs, limit)
			}
		})
	}
}

// Every 429 of one round (requests sent before the cut) cuts the rate once,
// not once per 429; a 429 to a request sent after the cut cuts again.
func TestAdaptiveCutsOncePerRound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThrottle(AdaptiveRate{Floor: 1, Ceiling: 1000, Initial: 100})
		tooMany := &http.Response{StatusCode: http.StatusTooManyRequests}
		sent := time.Now()
		time.Sleep(time.Second)
		for range 10 {
			th.observe(nil, testOutcome(sent, tooMany, nil))
		}
		r1, cuts := th.snapshot()
		if cuts != 1 || r1 >= 100 {
			t.Fatalf("after one round of 429s: rate %v, %d cuts; want below 100, 1 cut", r1, cuts)
		}
		time.Sleep(time.Millisecond)
		th.observe(nil, testOutcome(time.Now(), tooMany, nil))
		if r2, cuts := th.snapshot(); cuts != 2 || r2 >= r1 {
			t.Errorf("after a 429 sent after the cut: rate %v, %d cuts; want below %v, 2 cuts", r2, cuts, r1)
		}
	})
}

// The rate stays within Floor and Ceiling however the host answers, and
// attempt timeouts count as overload.
func TestAdaptiveRateBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThrottle(AdaptiveRate{Floor: 5, Ceiling: 50})
		if r, _ := th.snapshot(); r != 5 {
			t.Fatalf("initial rate %v; want the floor, 5", r)
		}
		ok := &http.Response{StatusCode: http.StatusOK}
		for range 1000 { // 100 a second: the doubling rate stays within twice that
			time.Sleep(10 * time.Millisecond)
			th.observe(nil, testOutcome(time.Now(), ok, nil))
		}
		if r, _ := th.snapshot(); r != 50 {
			t.Errorf("after 10 s of successes: rate %v; want the ceiling, 50", r)
		}
		timeout := &attemptTimeoutError{after: time.Second, err: context.DeadlineExceeded}
		for range 20 {
			time.Sleep(time.Millisecond)
			th.observe(nil, testOutcome(time.Now(), nil, timeout))
		}
		if r, cuts := th.snapshot(); r != 5 || cuts != 20 {
			t.Errorf("after 20 timeouts: rate %v, %d cuts; want the floor, 5, and 20 cuts", r, cuts)
		}
	})
}

// The host's current rate is in every AttemptInfo.
func TestAdaptiveRateInHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen atomic.Value
		f := newMem(t, count(ok), WithAdaptiveRate(AdaptiveRate{Floor: 2, Ceiling: 8, Initial: 4}),
			WithHooks(Hooks{OnAttempt: func(a AttemptInfo) { seen.Store(a.HostRate) }}))
		if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		if r, _ := seen.Load().(rate.Limit); r < 4 || r > 8 {
			t.Errorf("AttemptInfo.HostRate = %v; want the host's rate, from 4 to 8", seen.Load())
		}
	})
}

func TestAdaptiveRateOptionErrors(t *testing.T) {
	for _, a := range []AdaptiveRate{
		{},
		{Floor: -1, Ceiling: 10},
		{Floor: 10, Ceiling: 5},
		{Floor: 1, Ceiling: rate.Inf},
		{Floor: 1, Ceiling: 10, Initial: 20},
	} {
		if _, err := New(WithAdaptiveRate(a)); err == nil {
			t.Errorf("WithAdaptiveRate(%+v): no error", a)
		}
	}
}

// A host that fails every request gets at most Ratio x calls + Min retries
// over the window, and the calls that find the budget spent fail with a
// *RetryBudgetError that unwraps to the 503. Another host has its own
// budget, and the budget refills as the window slides.
func TestRetryBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		down := count(failing(1<<30, http.StatusServiceUnavailable, nil))
		f := newMem(t, down, WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}),
			WithRetryBudget(RetryBudget{Ratio: 0.2, Min: 2, Window: 10 * time.Second}))
		const calls = 20
		refused := 0
		for range calls {
			_, err := f.Get(t.Context(), "http://down.test/")
			var be *RetryBudgetError
			var se *StatusError
			switch {
			case errors.As(err, &be):
				refused++
				if be.Host != "down.test" || !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("budget error %v; want for down.test, unwrapping to the 503", err)
				}
			case errors.As(err, &se) && se.StatusCode == http.StatusServiceUnavailable:
				// every attempt made, none refused
			default:
				t.Fatalf("Get = %v; want a 503 or a budget error", err)
			}
		}
		retries := int(down.n.Load()) - calls
		if most := calls/5 + 2; retries > most || retries < most-1 {
			t.Errorf("%d retries for %d calls; want about %d (20%% + 2), not the %d the policy alone allows",
				retries, calls, most, 2*calls)
		}
		if refused < calls/2 {
			t.Errorf("%d calls refused a retry; want most of %d", refused, calls)
		}

		other := count(failing(1, http.StatusServiceUnavailable, nil))
		g := newMem(t, other, WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}),
			WithRetryBudget(RetryBudget{Ratio: 0.2, Min: 2, Window: 10 * time.Second}))
		if _, err := g.Get(t.Context(), "http://up.test/"); err != nil || other.n.Load() != 2 {
			t.Errorf("a fresh host: %v after %d attempts; want its retry to succeed", err, other.n.Load())
		}

		time.Sleep(10 * time.Second) // the window slides past every call
		before := down.n.Load()
		f.Get(t.Context(), "http://down.test/")
		if got := down.n.Load() - before; got != 3 {
			t.Errorf("after the window: %d attempts; want 3 (the budget refilled)", got)
		}
	})
}

func TestRetryBudgetOptionErrors(t *testing.T) {
	for _, b := range []RetryBudget{{Ratio: -1}, {Min: -1}, {Window: -time.Second}, {Window: time.Millisecond}} {
		if _, err := New(WithRetryBudget(b)); err == nil {
			t.Errorf("WithRetryBudget(%+v): no error", b)
		}
	}
}

// The rate grows only while it is used: after a minute with no requests it
// is where it was, not at the ceiling.
func TestAdaptiveRateDoesNotGrowWhileIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThrottle(AdaptiveRate{Floor: 1, Ceiling: 1000, Initial: 10})
		ok := &http.Response{StatusCode: http.StatusOK}
		for range 10 { // 10 successes in a second, at the rate
			time.Sleep(100 * time.Millisecond)
			th.observe(nil, testOutcome(time.Now(), ok, nil))
		}
		before, _ := th.snapshot()
		time.Sleep(time.Minute)
		th.observe(nil, testOutcome(time.Now(), ok, nil))
		if after, _ := th.snapshot(); after > 2*before {
			t.Errorf("rate %v after a minute idle; want at most twice the %v it had", after, before)
		}
	})
}

// testOutcome is the outcome of an attempt sent at start that got resp or
// err.
func testOutcome(start time.Time, resp *http.Response, err error) *outcome {
	o := &outcome{start: mono(start.Sub(epoch)), sentAt: mono(start.Sub(epoch)), resp: resp, err: err}
	if resp != nil {
		o.retryAfter, o.hasRetryAfter = retryAfter(resp, time.Minute)
	}
	o.overload = overloaded(o)
	return o
}

// An attempt sent at the very instant of a cut went out at the rate before
// it, as one sent earlier did: its 429 does not cut again. (Under synctest
// a round of requests and the cut its first 429 makes can share an
// instant; the ramp after a pause was cut five times over by one round.)
func TestAdaptiveDoesNotCutForAnAttemptSentAtTheCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThrottle(AdaptiveRate{Floor: 1, Ceiling: 1000, Initial: 100})
		tooMany := &http.Response{StatusCode: http.StatusTooManyRequests}
		time.Sleep(time.Second)
		now := time.Now()
		for range 5 {
			th.observe(nil, testOutcome(now, tooMany, nil))
		}
		if r, cuts := th.snapshot(); cuts != 1 {
			t.Errorf("five 429s sent at the instant of the cut: %d cuts (rate %v); want 1", cuts, r)
		}
	})
}

// After the first cut, which ends the doubling on an estimate taken while
// the rate was still climbing, the rate creeps past the knee at 3% a
// second; after later cuts, at 1%.
func TestAdaptiveCreepsFasterAfterTheFirstCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThrottle(AdaptiveRate{Floor: 1, Ceiling: 1000, Initial: 100})
		ok := &http.Response{StatusCode: http.StatusOK}
		tooMany := &http.Response{StatusCode: http.StatusTooManyRequests}
		// succeed at 100/s for d, then take one 429, and return the rate
		// the cut left.
		round := func(d time.Duration) float64 {
			for range int(d / (10 * time.Millisecond)) {
				time.Sleep(10 * time.Millisecond)
				th.observe(nil, testOutcome(time.Now(), ok, nil))
			}
			time.Sleep(time.Millisecond)
			th.observe(nil, testOutcome(time.Now(), tooMany, nil))
			r, _ := th.snapshot()
			return float64(r)
		}
		// growth is how far the rate rose, as a share of the knee (97% of
		// the about 100/s the cut saw accepted), in 10 s of successes after
		// a cut.
		growth := func() float64 {
			th.mu.Lock()
			accepted := th.accepted
			th.mu.Unlock()
			if accepted < 95 || accepted > 105 {
				t.Errorf("the cut estimated %.1f/s accepted; the host took 100/s", accepted)
			}
			for range 1000 {
				time.Sleep(10 * time.Millisecond)
				th.observe(nil, testOutcome(time.Now(), ok, nil))
			}
			r, _ := th.snapshot()
			return float64(r)/(kneeAt*accepted) - 1
		}
		round(2 * time.Second)
		first := growth()
		round(2 * time.Second)
		later := growth()
		if first < 0.2 || first > 0.3 {
			t.Errorf("10 s after the first cut, the rate is %.0f%% past the knee; want 20-30%% (3%% a second)", 100*first)
		}
		if later < 0.05 || later > 0.1 {
			t.Errorf("10 s after the second cut, the rate is %.0f%% past the knee; want 5-10%% (1%% a second)", 100*later)
		}
	})
}

// The adaptive rate grows only while requests use it, as TCP's window
// does (RFC 7661): a caller sending one request at a time to a host that
// answers in 20 ms (50 a second) does not raise the host's rate far past
// that, so that a burst later meets a rate near what the host was seen to
// take, not one grown by every success (10 + 300 steps of 1.39: 426/s).
// Under demand it still doubles.
func TestAdaptiveRateGrowsOnlyWhileUsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(20 * time.Millisecond)
		}), WithConcurrency(32), WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 100000, Initial: 10}))
		ctx := context.Background()
		for i := range 300 {
			if _, err := f.Get(ctx, "http://a.test/"+strconv.Itoa(i)); err != nil {
				t.Fatal(err)
			}
		}
		if r := hostRate(f, "a.test"); r > 3.5*50 {
			t.Errorf("after 300 Gets one at a time (50/s), the rate is %.0f/s; want at most 3.5 × 50/s", r)
		}
		for i, r := range f.GetAll(ctx, urlsFor("a.test", 2000)) {
			if r.Err != nil {
				t.Fatalf("GetAll result %d: %v", i, r.Err)
			}
		}
		if r := hostRate(f, "a.test"); r < 400 {
			t.Errorf("after 2000 URLs at concurrency 32 (up to 1600/s), the rate is %.0f/s; want it to have grown past 400/s", r)
		}
	})
}

// hostRate returns host's adaptive rate in f's Stats.
func hostRate(f *Fetcher, host string) float64 {
	for _, h := range f.Stats().Hosts {
		if h.Host == host {
			return float64(h.Rate)
		}
	}
	return 0
}

// A host that answers with redirects (a URL shortener, an old domain)
// answers: its adaptive rate grows on them as on successes, rather than
// staying at Initial (10/s: 500 URLs took 50 s behind it).
func TestAdaptiveRateGrowsOnRedirects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(5 * time.Millisecond)
			if r.Host == "short.test" {
				http.Redirect(w, r, "http://long.test"+r.URL.Path, http.StatusFound)
			}
		}), WithConcurrency(32), WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 100000, Initial: 10}))
		start := time.Now()
		for i, r := range f.GetAll(context.Background(), urlsFor("short.test", 500)) {
			if r.Err != nil {
				t.Fatalf("GetAll result %d: %v", i, r.Err)
			}
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("500 URLs through a redirecting host took %v; want its rate to grow (at Initial, 50 s)", d)
		}
	})
}

// A host paced slower than one request every half second (an API that
// allows 30 a minute) still grows after a cut while it is used: its
// successes come more than idleGap apart, and they counted as idle, so a
// rate cut to 0.35/s stayed there for good.
func TestAdaptiveRateGrowsBelowOneASecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThrottle(AdaptiveRate{Floor: 0.01, Ceiling: 100, Initial: 0.5})
		ok := &http.Response{StatusCode: http.StatusOK}
		tooMany := &http.Response{StatusCode: http.StatusTooManyRequests}
		th.observe(nil, testOutcome(time.Now(), tooMany, nil))
		cut, cuts := th.snapshot()
		if cuts != 1 || cut >= 0.5 {
			t.Fatalf("after a 429: rate %v, %d cuts; want a cut below 0.5/s", cut, cuts)
		}
		// Ten minutes of successes, each at the rate's interval: every
		// request the rate allows is sent and answered.
		for end := time.Now().Add(10 * time.Minute); time.Now().Before(end); {
			r, _ := th.snapshot()
			time.Sleep(time.Duration(float64(time.Second) / float64(r)))
			th.observe(nil, testOutcome(time.Now(), ok, nil))
		}
		r, _ := th.snapshot()
		t.Logf("%.3g/s after 10 minutes; the cut left %.3g/s", r, cut)
		if r < 2*cut {
			t.Errorf("after 10 minutes answered at its rate, the rate is %.3g/s; the cut left %.3g/s; want it at least doubled", r, cut)
		}
	})
}
