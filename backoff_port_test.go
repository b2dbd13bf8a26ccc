package fetch

// Ports of peers' backoff tests onto fetch's RetryPolicy, tests named
// TestPortBO...:
//
//   - cenkalti/backoff v4.3.0 (commit 720b78985a65c0452fd37bb155c7cac4157a7c45):
//     exponential_test.go, backoff_test.go, retry_test.go, ticker_test.go,
//     tries_test.go, context_test.go;
//   - cenkalti/backoff/v5 v5.0.3 (the module as proxy.golang.org serves it,
//     2025-07-23; its zip records no commit): exponential_test.go,
//     backoff_test.go, retry_test.go, ticker_test.go, and retry.go's Retry
//     (its MaxElapsedTime check and its wait on ctx.Done());
//   - hashicorp/go-retryablehttp client_test.go and client.go (commit
//     fd004584a46724fae09e2f21d7c382e15c893f42): TestClient_BackoffCustom,
//     DefaultBackoff's cap and overflow rule, and LinearJitterBackoff (which
//     the peer documents but does not test); TestBackoff,
//     TestClient_DefaultBackoff and TestBackoff_RateLimitLinearJitterBackoff
//     are in retry_port_test.go already;
//   - the AWS Architecture Blog's "Exponential Backoff And Jitter" (Marc
//     Brooker, 2015) and its simulator, aws-samples/aws-arch-backoff-simulator
//     src/backoff_simulator.py (commit 095a07603079779edc86102ff1d91731a004cd2a):
//     ExpoBackoff, ExpoBackoffFullJitter, ExpoBackoffEqualJitter and
//     ExpoBackoffDecorr, whose properties are full jitter in
//     [0, min(cap, base·2^n)], equal jitter in [d/2, d], and decorrelated
//     jitter in [base, min(cap, 3·prev)].
//
// Mapping. fetch's retry number r (1 for the first retry) waits
// min(MaxDelay, BaseDelay·2^(r-1)) before jitter: AWS's n and
// go-retryablehttp's attemptNum are r-1, cenkalti's k-th NextBackOff is r = k.
// Anything about time runs in a testing/synctest bubble against the
// in-memory transport (newMem), where the gaps between attempts are exactly
// the delays waited. Where fetch deliberately differs from a peer (as its
// documentation says), the case asserts what fetch documents and says what
// the peer does. The one defect the port found (a zero BaseDelay jumping
// to MaxDelay from retry 64 on) was fixed with it.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const boURL = "http://bo.test/"

// boExpo is the oracle for the un-jittered delay before retry number retry:
// min(ceil, base·2^(retry-1)), computed exactly (math/big), with a retry
// number below 1 read as the first retry and a negative base or ceil as 0.
func boExpo(base, ceil time.Duration, retry int) time.Duration {
	base, ceil = max(base, 0), max(ceil, 0)
	if base > ceil {
		base = ceil
	}
	if base == 0 {
		return 0 // 0·2^k is 0, for every k
	}
	shift := uint(min(max(retry, 1)-1, 80)) // 2^80·1ns is far past any Duration
	d := new(big.Int).Lsh(big.NewInt(int64(base)), shift)
	if d.Cmp(big.NewInt(int64(ceil))) > 0 {
		return ceil
	}
	return time.Duration(d.Int64())
}

// boDecorrHi is the top of decorrelated jitter's range: min(cap,
// 3·max(prev, base)), with base already at most cap, without overflow.
func boDecorrHi(base, ceil, prev time.Duration) time.Duration {
	base, ceil = max(base, 0), max(ceil, 0)
	base = min(base, ceil)
	prev = max(prev, base)
	if prev > ceil/3 {
		return ceil
	}
	return 3 * prev
}

// boGaps returns the time between consecutive arrivals.
func boGaps(at []time.Time) []time.Duration {
	var g []time.Duration
	for i := 1; i < len(at); i++ {
		g = append(g, at[i].Sub(at[i-1]))
	}
	return g
}

// boDelays records the delay of every OnRetry.
type boDelays struct {
	mu sync.Mutex
	d  []time.Duration
}

func (r *boDelays) hooks() Hooks {
	return Hooks{OnRetry: func(i RetryInfo) {
		r.mu.Lock()
		r.d = append(r.d, i.Delay)
		r.mu.Unlock()
	}}
}

func (r *boDelays) get() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.d)
}

// boTransport is a RoundTripper made of a function.
type boTransport func(*http.Request) (*http.Response, error)

func (f boTransport) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// boStatus returns the status code of the *StatusError err wraps, or 0.
func boStatus(err error) int {
	if se, ok := errors.AsType[*StatusError](err); ok {
		return se.StatusCode
	}
	return 0
}

// boSample draws n delays and returns their mean and the fraction of them
// below each of cuts.
func boSample(n int, draw func() time.Duration, cuts ...time.Duration) (mean float64, below []float64, distinct int) {
	below = make([]float64, len(cuts))
	seen := make(map[time.Duration]struct{}, n)
	var sum float64
	for range n {
		d := draw()
		sum += float64(d)
		seen[d] = struct{}{}
		for i, c := range cuts {
			if d < c {
				below[i]++
			}
		}
	}
	for i := range below {
		below[i] /= float64(n)
	}
	return sum / float64(n), below, len(seen)
}

// The sample size and tolerances of the distribution checks. A mean of n
// uniform draws over a width w has a standard deviation of w/sqrt(12n), 0.09%
// of w for n = 100000: a tolerance of 3% of w is over 30 standard
// deviations. A fraction near 1/4 has one of 0.14%: 2% is over 14. Neither
// can flake.
const (
	boN       = 100_000
	boMeanTol = 0.03
	boFracTol = 0.02
)

var boJitters = []struct {
	name string
	j    Jitter
}{{"full", FullJitter}, {"equal", EqualJitter}, {"decorrelated", DecorrelatedJitter}, {"none", NoJitter}}

// ---------------------------------------------------------------------------
// cenkalti/backoff exponential_test.go (v4 and v5)
// ---------------------------------------------------------------------------

// From TestBackOff (v4 and v5): initial interval 500ms, multiplier 2, max
// interval 5s give 500, 1000, 2000, 4000, then 5000 ms for ever, and each
// NextBackOff lies within ±RandomizationFactor (0.1) of its interval.
// fetch's multiplier is always 2 and its jitter is not a ± factor:
// NoJitter gives the peer's intervals exactly; EqualJitter draws from
// [d/2, d) and FullJitter from [0, d), never above MaxDelay (the peer's
// randomised interval may go 10% above MaxInterval: 5.5s here). End to end,
// the attempts are that far apart.
func TestPortBOBackOff(t *testing.T) {
	ms := time.Millisecond
	want := []time.Duration{500 * ms, 1000 * ms, 2000 * ms, 4000 * ms, 5000 * ms, 5000 * ms, 5000 * ms, 5000 * ms, 5000 * ms, 5000 * ms}
	p := RetryPolicy{BaseDelay: 500 * ms, MaxDelay: 5 * time.Second, Jitter: NoJitter}
	for i, w := range want {
		if d := p.Backoff(i+1, 0); d != w {
			t.Errorf("NoJitter Backoff(%d) = %v; want %v", i+1, d, w)
		}
	}
	for _, tc := range []struct {
		j      Jitter
		lo, hi func(d time.Duration) time.Duration // [lo, hi)
	}{
		{EqualJitter, func(d time.Duration) time.Duration { return d / 2 }, func(d time.Duration) time.Duration { return d }},
		{FullJitter, func(time.Duration) time.Duration { return 0 }, func(d time.Duration) time.Duration { return d }},
	} {
		p.Jitter = tc.j
		for i, w := range want {
			for range 1000 {
				if d := p.Backoff(i+1, 0); d < tc.lo(w) || d >= tc.hi(w) || d > p.MaxDelay {
					t.Fatalf("jitter %d Backoff(%d) = %v; want within [%v, %v)", tc.j, i+1, d, tc.lo(w), tc.hi(w))
				}
			}
		}
	}
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, 503, nil))
		var rec boDelays
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: len(want) + 1, BaseDelay: 500 * ms, MaxDelay: 5 * time.Second, Jitter: NoJitter}),
			WithHooks(rec.hooks()))
		r := f.Fetch(context.Background(), boURL)
		if boStatus(r.Err) != 503 || r.Attempts != len(want)+1 {
			t.Fatalf("err %v after %d attempts; want the 503 after %d", r.Err, r.Attempts, len(want)+1)
		}
		if g := boGaps(c.times()); !slices.Equal(g, want) {
			t.Errorf("gaps between attempts %v; want %v", g, want)
		}
		if d := rec.get(); !slices.Equal(d, want) {
			t.Errorf("OnRetry delays %v; want %v", d, want)
		}
	})
}

// From TestGetRandomizedInterval (v4 and v5): getRandomValueFromInterval(0.5,
// random, 2) maps random in [0, 0.33] to 1, [0.34, 0.66] to 2 and
// [0.67, 0.99] to 3: three equally likely values. fetch's FullJitter over
// d = 3ns has three equally likely values, 0, 1 and 2ns: driven by a fixed
// random fraction, the same cut points; driven by Backoff's own
// randomness, each a third of the time. EqualJitter over d = 4ns: 2 or 3ns,
// half the time each.
func TestPortBOGetRandomizedInterval(t *testing.T) {
	frac := func(f float64) func(int64) int64 { return func(n int64) int64 { return int64(f * float64(n)) } }
	full := RetryPolicy{BaseDelay: 3, MaxDelay: 3, Jitter: FullJitter}
	for _, tc := range []struct {
		random float64
		want   time.Duration
	}{{0, 0}, {0.33, 0}, {0.34, 1}, {0.66, 1}, {0.67, 2}, {0.99, 2}} {
		if d := full.backoff(1, 0, frac(tc.random)); d != tc.want {
			t.Errorf("FullJitter over 3ns with random %v = %v; want %v", tc.random, d, tc.want)
		}
	}
	equal := RetryPolicy{BaseDelay: 4, MaxDelay: 4, Jitter: EqualJitter}
	for _, tc := range []struct {
		random float64
		want   time.Duration
	}{{0, 2}, {0.49, 2}, {0.5, 3}, {0.99, 3}} {
		if d := equal.backoff(1, 0, frac(tc.random)); d != tc.want {
			t.Errorf("EqualJitter over 4ns with random %v = %v; want %v", tc.random, d, tc.want)
		}
	}
	counts := map[time.Duration]int{}
	for range boN {
		counts[full.Backoff(1, 0)]++
	}
	if len(counts) != 3 {
		t.Fatalf("FullJitter over 3ns gave %v; want only 0, 1 and 2ns", counts)
	}
	for v, n := range counts {
		if f := float64(n) / boN; math.Abs(f-1.0/3) > boFracTol {
			t.Errorf("FullJitter over 3ns gave %v %.2f%% of the time; want a third", v, 100*f)
		}
	}
	counts = map[time.Duration]int{}
	for range boN {
		counts[equal.Backoff(1, 0)]++
	}
	if len(counts) != 2 || math.Abs(float64(counts[2])/boN-0.5) > boFracTol {
		t.Errorf("EqualJitter over 4ns gave %v; want 2ns and 3ns, half the time each", counts)
	}
}

// From TestBackOffOverflow (v4 and v5): an initial interval of MaxInt64/2
// with multiplier 2.1 and max interval MaxInt64 does not overflow: the
// interval becomes MaxInt64. fetch doubles exactly: 2·(MaxInt64/2) is
// MaxInt64-1, the next is capped at MaxInt64, and one nanosecond more of
// base goes straight to the cap. For every jitter, every retry number up to
// math.MaxInt and every previous delay, including nonsense ones, the delay
// is never negative, never above MaxDelay, and within its jitter's range.
func TestPortBOBackOffOverflow(t *testing.T) {
	const top = time.Duration(math.MaxInt64)
	p := RetryPolicy{BaseDelay: top / 2, MaxDelay: top, Jitter: NoJitter}
	for retry, want := range map[int]time.Duration{1: top / 2, 2: top - 1, 3: top, 64: top, math.MaxInt: top} {
		if d := p.Backoff(retry, 0); d != want {
			t.Errorf("base MaxInt64/2: Backoff(%d) = %v; want %v", retry, d, want)
		}
	}
	p.BaseDelay = top/2 + 1
	if d := p.Backoff(2, 0); d != top {
		t.Errorf("base MaxInt64/2+1: Backoff(2) = %v; want MaxInt64", d)
	}

	retries := []int{math.MinInt, -1, 0, 1, 2, 3, 31, 32, 33, 61, 62, 63, 64, 65, 100, 1000, math.MaxInt32, math.MaxInt - 1, math.MaxInt}
	for _, pair := range [][2]time.Duration{
		{top / 2, top}, {top/2 + 1, top}, {top / 3, top}, {1, top}, {top, top}, {1, 1}, {3, 10},
		{100 * time.Millisecond, 10 * time.Second}, {5 * time.Millisecond, 2 * time.Second},
	} {
		base, ceil := pair[0], pair[1]
		prevs := []time.Duration{math.MinInt64, -1, 0, 1, base, 2 * base, ceil / 3, ceil/3 + 1, ceil, top}
		for _, j := range boJitters {
			p := RetryPolicy{BaseDelay: base, MaxDelay: ceil, Jitter: j.j}
			for _, retry := range retries {
				for _, prev := range prevs {
					d := boExpo(base, ceil, retry)
					var lo, hi time.Duration // inclusive
					switch j.j {
					case FullJitter:
						lo, hi = 0, max(d-1, 0)
					case EqualJitter:
						lo, hi = d/2, max(d-1, d/2)
					case DecorrelatedJitter:
						lo, hi = base, boDecorrHi(base, ceil, prev)
					case NoJitter:
						lo, hi = d, d
					}
					for range 20 {
						got := p.Backoff(retry, prev)
						if got < 0 || got > ceil || got < lo || got > hi {
							t.Fatalf("%s, base %v, cap %v: Backoff(%d, %v) = %v; want within [%v, %v], never negative, never above the cap",
								j.name, base, ceil, retry, prev, got, lo, hi)
						}
					}
				}
			}
		}
	}
}

// From TestMaxElapsedTime (v4), and v5's Retry, which stops once
// time.Since(start)+next > MaxElapsedTime: fetch's MaxElapsed "stops retrying
// once another wait would take the call past this much time since it
// started", and the call ends with its last outcome (the final response;
// for the calls that return errors, its *StatusError), at once. Waits of
// 1s and 2s end exactly at MaxElapsed 3s, which is not past it; the next,
// 4s, would be. A nanosecond less and the 2s wait is refused too. A
// MaxElapsed below the first wait allows no retry. A Retry-After that
// would take the call past MaxElapsed is not waited out either.
func TestPortBOMaxElapsedTime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		elapsed  time.Duration
		attempts int
		gaps     []time.Duration
	}{
		{"reaches it exactly", 3 * time.Second, 3, []time.Duration{time.Second, 2 * time.Second}},
		{"a nanosecond short", 3*time.Second - 1, 2, []time.Duration{time.Second}},
		{"below the first wait", 500 * time.Millisecond, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(failing(100, 503, nil))
				f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 100, BaseDelay: time.Second, Jitter: NoJitter, MaxElapsed: tc.elapsed}))
				start := time.Now()
				r := f.Fetch(context.Background(), boURL)
				if boStatus(r.Err) != 503 || r.Attempts != tc.attempts {
					t.Fatalf("err %v after %d attempts; want the 503 after %d", r.Err, r.Attempts, tc.attempts)
				}
				var sum time.Duration
				for _, g := range tc.gaps {
					sum += g
				}
				if took := time.Since(start); took != sum {
					t.Errorf("returned after %v; want at once after the last attempt, at %v", took, sum)
				}
				if g := boGaps(c.times()); !slices.Equal(g, tc.gaps) {
					t.Errorf("gaps %v; want %v", g, tc.gaps)
				}
				// Do hands back the final response instead.
				c2 := count(failing(100, 503, nil))
				f2 := newMem(t, c2, WithRetry(RetryPolicy{MaxAttempts: 100, BaseDelay: time.Second, Jitter: NoJitter, MaxElapsed: tc.elapsed}))
				resp, err := f2.Do(mustGet(t, boURL))
				if err != nil {
					t.Fatalf("Do: %v; want the final 503", err)
				}
				resp.Body.Close()
				if resp.StatusCode != 503 || c2.n.Load() != int64(tc.attempts) {
					t.Errorf("Do: %d after %d requests; want the 503 after %d", resp.StatusCode, c2.n.Load(), tc.attempts)
				}
			})
		})
	}
	t.Run("Retry-After past it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := count(failing(100, 503, http.Header{"Retry-After": {"10"}}))
			f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 100, BaseDelay: time.Millisecond, MaxElapsed: 5 * time.Second}))
			start := time.Now()
			r := f.Fetch(context.Background(), boURL)
			if boStatus(r.Err) != 503 || r.Attempts != 1 || time.Since(start) != 0 {
				t.Errorf("err %v after %d attempts and %v; want the 503 after 1, at once", r.Err, r.Attempts, time.Since(start))
			}
		})
	})
	// With jitter, whatever the draws: no call outlasts MaxElapsed (the
	// attempts take no time here), and each stops well before its attempts
	// run out.
	t.Run("jittered", func(t *testing.T) {
		for _, j := range boJitters {
			synctest.Test(t, func(t *testing.T) {
				c := count(failing(1<<40, 503, nil))
				const limit = 2 * time.Second
				f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 1000, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second,
					Jitter: j.j, MaxElapsed: limit}))
				for range 50 {
					start := time.Now()
					r := f.Fetch(context.Background(), boURL)
					if took := time.Since(start); took > limit || r.Attempts >= 1000 || boStatus(r.Err) != 503 {
						t.Fatalf("%s: %v after %d attempts and %v; want the 503 within %v", j.name, r.Err, r.Attempts, took, limit)
					}
				}
			})
		}
	})
}

// From TestGetElapsedTime (v4): the elapsed time counts from the start of
// the call, the attempts' own time included (as v5's Retry measures it:
// time.Since(startedAt) spans the operation's calls too). Each attempt takes 400ms: the first ends at
// 0.4s, the second, after a 1s wait, at 1.8s; a 2s wait would end at 3.8s,
// past MaxElapsed 3s. Result.Duration is the call's elapsed time.
func TestPortBOGetElapsedTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(400 * time.Millisecond)
			w.WriteHeader(503)
		})
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 100, BaseDelay: time.Second, Jitter: NoJitter, MaxElapsed: 3 * time.Second}))
		start := time.Now()
		r := f.Fetch(context.Background(), boURL)
		took := time.Since(start)
		if boStatus(r.Err) != 503 || r.Attempts != 2 {
			t.Fatalf("err %v after %d attempts; want the 503 after 2", r.Err, r.Attempts)
		}
		if took != 1800*time.Millisecond || r.Duration != took {
			t.Errorf("returned after %v, Duration %v; want both 1.8s", took, r.Duration)
		}
	})
}

// From TestCustomStop (v4): when MaxElapsedTime is reached NextBackOff
// returns the Stop value the caller chose. fetch has no Stop value: the
// retry policy is a plain value, and a call that MaxElapsed stops ends with
// its last outcome, as one that runs out of attempts does; both say how
// many attempts were made.
func TestPortBOCustomStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, count(failing(100, 500, nil)), WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Second, Jitter: NoJitter, MaxElapsed: time.Minute}))
		byAttempts := f.Fetch(context.Background(), boURL)
		g := newMem(t, count(failing(100, 500, nil)), WithRetry(RetryPolicy{MaxAttempts: 100, BaseDelay: time.Second, Jitter: NoJitter, MaxElapsed: 3 * time.Second}))
		byElapsed := g.Fetch(context.Background(), boURL)
		for name, r := range map[string]Result{"attempts": byAttempts, "elapsed": byElapsed} {
			fe, ok := errors.AsType[*Error](r.Err)
			if !ok || fe.Attempts != 3 || boStatus(r.Err) != 500 || r.Status != 500 {
				t.Errorf("stopped by %s: err %v, status %d; want a *Error with the 500 after 3 attempts", name, r.Err, r.Status)
			}
		}
	})
}

// From TestNewExponentialBackOff (v4), whose options set each field: the
// fields given to WithRetry are kept as given, and the zero ones take the
// documented defaults (MaxAttempts 4, BaseDelay 100ms, or MaxDelay if a
// smaller one alone is given, MaxDelay 10s, or BaseDelay if that is more,
// MaxRetryAfter 5 minutes, FullJitter, no MaxElapsed, DefaultRetryable). A
// MaxDelay below BaseDelay, a negative field and an unknown Jitter make New
// fail with an error that names the field and its value. (cenkalti's
// options take any value; a MaxInterval below InitialInterval caps every
// interval at MaxInterval, and go-retryablehttp's LinearJitterBackoff
// ignores a max below min: see TestPortBOLinearJitterBackoff.)
func TestPortBONewExponentialBackOff(t *testing.T) {
	ms, s := time.Millisecond, time.Second
	for _, tc := range []struct {
		name string
		in   RetryPolicy
		want RetryPolicy // Retryable aside
	}{
		{"all given", RetryPolicy{MaxAttempts: 7, BaseDelay: s, MaxDelay: 10 * s, MaxRetryAfter: time.Minute, Jitter: EqualJitter, MaxElapsed: 30 * s, RetryNonIdempotent: true},
			RetryPolicy{MaxAttempts: 7, BaseDelay: s, MaxDelay: 10 * s, MaxRetryAfter: time.Minute, Jitter: EqualJitter, MaxElapsed: 30 * s, RetryNonIdempotent: true}},
		{"zero", RetryPolicy{}, RetryPolicy{MaxAttempts: 4, BaseDelay: 100 * ms, MaxDelay: 10 * s, MaxRetryAfter: 5 * time.Minute}},
		{"base only, small", RetryPolicy{BaseDelay: 200 * ms}, RetryPolicy{MaxAttempts: 4, BaseDelay: 200 * ms, MaxDelay: 10 * s, MaxRetryAfter: 5 * time.Minute}},
		{"base only, above the default cap", RetryPolicy{BaseDelay: 20 * s}, RetryPolicy{MaxAttempts: 4, BaseDelay: 20 * s, MaxDelay: 20 * s, MaxRetryAfter: 5 * time.Minute}},
		{"cap only, below the default base", RetryPolicy{MaxDelay: 50 * ms}, RetryPolicy{MaxAttempts: 4, BaseDelay: 50 * ms, MaxDelay: 50 * ms, MaxRetryAfter: 5 * time.Minute}},
		{"cap only", RetryPolicy{MaxDelay: 5 * s}, RetryPolicy{MaxAttempts: 4, BaseDelay: 100 * ms, MaxDelay: 5 * s, MaxRetryAfter: 5 * time.Minute}},
		{"cap equal to base", RetryPolicy{BaseDelay: s, MaxDelay: s, Jitter: DecorrelatedJitter}, RetryPolicy{MaxAttempts: 4, BaseDelay: s, MaxDelay: s, MaxRetryAfter: 5 * time.Minute, Jitter: DecorrelatedJitter}},
		{"one attempt", RetryPolicy{MaxAttempts: 1, Jitter: NoJitter}, RetryPolicy{MaxAttempts: 1, BaseDelay: 100 * ms, MaxDelay: 10 * s, MaxRetryAfter: 5 * time.Minute, Jitter: NoJitter}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(WithRetry(tc.in))
			if err != nil {
				t.Fatalf("New(WithRetry(%+v)): %v", tc.in, err)
			}
			got := f.retry
			if got.Retryable == nil {
				t.Error("Retryable nil; want DefaultRetryable")
			}
			got.Retryable = nil // a func: compare the rest
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
				t.Errorf("policy %+v\nwant %+v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		in    RetryPolicy
		words []string // the error names these
	}{
		{"cap below base", RetryPolicy{BaseDelay: s, MaxDelay: 500 * ms}, []string{"MaxDelay", "500ms", "BaseDelay", "1s"}},
		{"cap a nanosecond below base", RetryPolicy{BaseDelay: s, MaxDelay: s - 1}, []string{"MaxDelay", "999.999999ms", "BaseDelay", "1s"}},
		{"cap 100ms below base 200ms", RetryPolicy{BaseDelay: 200 * ms, MaxDelay: 100 * ms}, []string{"MaxDelay", "100ms", "BaseDelay", "200ms"}},
		{"negative attempts", RetryPolicy{MaxAttempts: -1}, []string{"MaxAttempts", "-1"}},
		{"negative base", RetryPolicy{BaseDelay: -s}, []string{"BaseDelay", "-1s"}},
		{"negative cap", RetryPolicy{MaxDelay: -s}, []string{"MaxDelay", "-1s"}},
		{"negative elapsed", RetryPolicy{MaxElapsed: -s}, []string{"MaxElapsed", "-1s"}},
		{"negative Retry-After cap", RetryPolicy{MaxRetryAfter: -s}, []string{"MaxRetryAfter", "-1s"}},
		{"jitter below range", RetryPolicy{Jitter: -1}, []string{"Jitter", "-1"}},
		{"jitter above range", RetryPolicy{Jitter: NoJitter + 1}, []string{"Jitter", "4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(WithRetry(tc.in))
			if err == nil {
				t.Fatalf("New(WithRetry(%+v)) accepted it", tc.in)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// cenkalti/backoff backoff_test.go (v4 and v5)
// ---------------------------------------------------------------------------

// From TestNextBackOffMillis (v4 and v5): ZeroBackOff always returns 0,
// StopBackOff always Stop. Backoff "reads the policy's fields as they are
// ... on a zero RetryPolicy it returns 0", for every jitter and retry
// number: the zero policy is ZeroBackOff. (Through WithRetry a zero policy
// means the defaults instead; the nearest to ZeroBackOff there is a
// nanosecond.) StopBackOff is MaxAttempts 1: one attempt, no wait, the
// first outcome final.
func TestPortBONextBackOffMillis(t *testing.T) {
	// With no MaxDelay, or a negative one, "never negative and never above
	// MaxDelay" leaves 0 too, whatever the BaseDelay.
	for _, p := range []RetryPolicy{{}, {BaseDelay: time.Second}, {BaseDelay: time.Second, MaxDelay: -time.Second}, {MaxDelay: -1}} {
		for _, j := range boJitters {
			p.Jitter = j.j
			for _, retry := range []int{math.MinInt, 0, 1, 2, 10, 63, 64, 1000, math.MaxInt} {
				for _, prev := range []time.Duration{math.MinInt64, 0, time.Second, math.MaxInt64} {
					if d := p.Backoff(retry, prev); d != 0 {
						t.Errorf("%+v: Backoff(%d, %v) = %v; want 0", p, retry, prev, d)
					}
				}
			}
		}
	}
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, 503, nil))
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 1}))
		start := time.Now()
		r := f.Fetch(context.Background(), boURL)
		if boStatus(r.Err) != 503 || r.Attempts != 1 || c.n.Load() != 1 || time.Since(start) != 0 {
			t.Errorf("MaxAttempts 1: err %v after %d attempts (%d requests) and %v; want the 503 after 1, at once",
				r.Err, r.Attempts, c.n.Load(), time.Since(start))
		}
	})
}

// From TestConstantBackOff (v4 and v5): NewConstantBackOff(1s) returns 1s.
// fetch's constant backoff is BaseDelay = MaxDelay: NoJitter and
// DecorrelatedJitter (whose range [base, min(cap, 3·prev)] is then one
// point) give exactly 1s every time; FullJitter and EqualJitter jitter
// under it. End to end, attempts 1s apart.
func TestPortBOConstantBackOff(t *testing.T) {
	for _, j := range boJitters {
		p := RetryPolicy{BaseDelay: time.Second, MaxDelay: time.Second, Jitter: j.j}
		for _, retry := range []int{1, 2, 5, 64, math.MaxInt} {
			for _, prev := range []time.Duration{0, time.Second, time.Hour} {
				for range 100 {
					d := p.Backoff(retry, prev)
					var ok bool
					switch j.j {
					case NoJitter, DecorrelatedJitter:
						ok = d == time.Second
					case FullJitter:
						ok = d >= 0 && d < time.Second
					case EqualJitter:
						ok = d >= time.Second/2 && d < time.Second
					}
					if !ok {
						t.Fatalf("%s: Backoff(%d, %v) = %v; want 1s, or jittered under it", j.name, retry, prev, d)
					}
				}
			}
		}
	}
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(4, 503, nil))
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: time.Second, Jitter: NoJitter}))
		if _, err := f.Get(context.Background(), boURL); err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{time.Second, time.Second, time.Second, time.Second}
		if g := boGaps(c.times()); !slices.Equal(g, want) {
			t.Errorf("gaps %v; want %v", g, want)
		}
	})
}

// ---------------------------------------------------------------------------
// cenkalti/backoff retry_test.go, ticker_test.go (v4 and v5)
// ---------------------------------------------------------------------------

// From TestRetry and TestTicker (v4 and v5): an operation that succeeds on
// its third call is called three times and Retry succeeds; the ticker
// ticks at once, then after each backoff. fetch's attempts start at 0,
// then 1s and 3s later (BaseDelay 1s, NoJitter); with the default full
// jitter, within [0, 100ms) and [0, 200ms) of each other.
func TestPortBORetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(2, 503, nil))
		f := newMem(t, c, WithRetry(RetryPolicy{BaseDelay: time.Second, Jitter: NoJitter}))
		start := time.Now()
		r := f.Fetch(context.Background(), boURL)
		if r.Err != nil || r.Attempts != 3 || c.n.Load() != 3 {
			t.Fatalf("err %v after %d attempts (%d requests); want success on the third", r.Err, r.Attempts, c.n.Load())
		}
		var at []time.Duration
		for _, a := range c.times() {
			at = append(at, a.Sub(start))
		}
		if want := []time.Duration{0, time.Second, 3 * time.Second}; !slices.Equal(at, want) {
			t.Errorf("attempts at %v; want %v", at, want)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(2, 503, nil))
		f := newMem(t, c)
		if r := f.Fetch(context.Background(), boURL); r.Err != nil || r.Attempts != 3 {
			t.Fatalf("default policy: err %v after %d attempts; want success on the third", r.Err, r.Attempts)
		}
		g := boGaps(c.times())
		if len(g) != 2 || g[0] < 0 || g[0] >= 100*time.Millisecond || g[1] < 0 || g[1] >= 200*time.Millisecond {
			t.Errorf("default policy: gaps %v; want within [0, 100ms) and [0, 200ms)", g)
		}
	})
}

// From TestRetryWithData (v4 and v5): the data of the successful call is
// returned (42, not the 1 of the failures): Get returns the body of the
// third response, not a failure's.
func TestPortBORetryWithData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) < 3 {
				w.WriteHeader(503)
				w.Write([]byte("1"))
				return
			}
			w.Write([]byte("42"))
		}), WithRetry(RetryPolicy{BaseDelay: time.Millisecond}))
		body, err := f.Get(context.Background(), boURL)
		if err != nil || string(body) != "42" || n.Load() != 3 {
			t.Errorf("Get = %q, %v after %d requests; want \"42\" from the third", body, err, n.Load())
		}
	})
}

// From TestRetryContext (v4 and v5): the context cancelled during the third
// call stops the retries, and Retry's error matches context.Canceled (v4)
// or is the cancellation's cause (v5, which returns context.Cause). fetch
// reports a caller's cancellation as context.Canceled ("context.Canceled
// only", README's failure table) and does not wrap the cause, which belongs
// to the canceller (it only names it in the text of an attempt's error).
func TestPortBORetryContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		cause := errors.New("custom error")
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 3 {
				cancel(cause)
			}
			w.WriteHeader(503)
		}), WithRetry(RetryPolicy{MaxAttempts: 10, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
		r := f.Fetch(ctx, boURL)
		if !errors.Is(r.Err, context.Canceled) || errors.Is(r.Err, cause) || r.Attempts != 3 || n.Load() != 3 {
			t.Errorf("err %v after %d attempts (%d requests); want context.Canceled, not the cause, after 3", r.Err, r.Attempts, n.Load())
		}
	})
}

// From TestRetryPermanent (v4 and v5): an operation's error wrapped in
// Permanent (even wrapped again) is not retried and its own result comes
// back; an ordinary error such as io.EOF is retried. fetch has no Permanent
// wrapper: the RetryPolicy's Retryable classifies each outcome. Here it
// refuses errors that match boPermanent and leaves the rest to
// DefaultRetryable, which retries io.EOF. As in the peer, the operation's
// second call fails permanently ("forced").
func TestPortBORetryPermanent(t *testing.T) {
	permanent := errors.New("permanent")
	forced := fmt.Errorf("forced: %w", permanent)
	for _, tc := range []struct {
		name     string
		first    error // the first attempt's error; nil: success
		attempts int
		want     error // what the call's error matches; nil: success
	}{
		{"nil test", nil, 1, nil},
		{"io.EOF", io.EOF, 2, forced},
		{"Permanent(io.EOF)", errors.Join(permanent, io.EOF), 1, io.EOF},
		{"Wrapped: Permanent(io.EOF)", fmt.Errorf("Wrapped error: %w", errors.Join(permanent, io.EOF)), 1, io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n atomic.Int64
				tr := boTransport(func(r *http.Request) (*http.Response, error) {
					if n.Add(1) > 1 {
						return nil, forced
					}
					if tc.first != nil {
						return nil, tc.first
					}
					return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), Request: r}, nil
				})
				f, err := New(WithClient(&http.Client{Transport: tr}), WithRetry(RetryPolicy{MaxAttempts: 10, BaseDelay: time.Millisecond,
					Retryable: func(resp *http.Response, err error) bool {
						return !errors.Is(err, permanent) && DefaultRetryable(resp, err)
					}}))
				if err != nil {
					t.Fatal(err)
				}
				r := f.Fetch(context.Background(), boURL)
				if tc.want == nil && r.Err != nil || tc.want != nil && !errors.Is(r.Err, tc.want) || r.Attempts != tc.attempts || n.Load() != int64(tc.attempts) {
					t.Errorf("err %v after %d attempts (%d calls); want %v after %d", r.Err, r.Attempts, n.Load(), tc.want, tc.attempts)
				}
			})
		})
	}
}

// From TestPermanent (v4 and v5): Permanent(err) unwraps to err, matches it
// and nothing else, stays recognisable when wrapped, and Permanent(nil) is
// nil. fetch's marker goes the other way, RetryableError (a Handle
// handler's errors are final unless marked), and behaves alike.
func TestPortBOPermanent(t *testing.T) {
	want, other := errors.New("foo"), errors.New("bar")
	err := RetryableError(want)
	if got := errors.Unwrap(err); got != want {
		t.Errorf("Unwrap = %v; want %v", got, want)
	}
	if !errors.Is(err, want) || errors.Is(err, other) {
		t.Errorf("errors.Is: %v, %v; want true, false", errors.Is(err, want), errors.Is(err, other))
	}
	if err.Error() != want.Error() {
		t.Errorf("text %q; want %q", err, want)
	}
	if !markedRetryable(fmt.Errorf("wrapped: %w", err)) || markedRetryable(want) {
		t.Error("the mark is lost when wrapped, or found where there is none")
	}
	if RetryableError(nil) != nil {
		t.Error("RetryableError(nil) is not nil")
	}
}

// From TestTickerContext (v4): with its context cancelled before it starts,
// the ticker still ticks once ("Ticker is guaranteed to tick at least
// once"), so the operation runs once. fetch deliberately differs: "A
// request whose context ends while it waits never reaches the network" (Do):
// no attempt, context.Canceled.
func TestPortBOTickerContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c := count(failing(100, 503, nil))
		f := newMem(t, c, WithRetry(RetryPolicy{BaseDelay: time.Millisecond}))
		r := f.Fetch(ctx, boURL)
		if !errors.Is(r.Err, context.Canceled) || r.Attempts != 0 || c.n.Load() != 0 {
			t.Errorf("err %v after %d attempts (%d requests); want context.Canceled and none", r.Err, r.Attempts, c.n.Load())
		}
	})
}

// ---------------------------------------------------------------------------
// cenkalti/backoff tries_test.go, context_test.go (v4)
// ---------------------------------------------------------------------------

// From TestMaxTriesHappy (v4): WithMaxRetries(b, max) allows max backoffs,
// then Stop, and Reset starts the count again. fetch counts attempts
// (MaxAttempts = the peer's max + 1) and each call starts afresh, its
// backoff from BaseDelay again: no Reset needed.
func TestPortBOMaxTriesHappy(t *testing.T) {
	for _, retries := range []int{17, 23, 29} {
		synctest.Test(t, func(t *testing.T) {
			c := count(failing(1<<40, 503, nil))
			var rec boDelays
			f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: retries + 1, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond, Jitter: NoJitter}),
				WithHooks(rec.hooks()))
			for call := range 2 {
				c.n.Store(0)
				r := f.Fetch(context.Background(), boURL)
				if boStatus(r.Err) != 503 || r.Attempts != retries+1 || c.n.Load() != int64(retries+1) {
					t.Fatalf("call %d: err %v after %d attempts; want the 503 after %d", call+1, r.Err, r.Attempts, retries+1)
				}
			}
			d := rec.get()
			if len(d) != 2*retries || d[0] != time.Millisecond || d[retries] != time.Millisecond || d[retries-1] != 4*time.Millisecond {
				t.Errorf("delays %v; want %d per call, each call's from 1ms to the 4ms cap", d, retries)
			}
		})
	}
}

// From TestMaxTriesZero (v4, issue #80): WithMaxRetries(b, 0) calls the
// operation once. fetch's MaxAttempts 1 is that; MaxAttempts 0 is not
// (deliberately: "Zero means the default, 4"; v5's WithMaxTries(0) means
// no limit).
func TestPortBOMaxTriesZero(t *testing.T) {
	for _, tc := range []struct {
		max, want int
	}{{1, 1}, {0, 4}} {
		synctest.Test(t, func(t *testing.T) {
			c := count(failing(100, 503, nil))
			f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: tc.max, BaseDelay: time.Millisecond}))
			if r := f.Fetch(context.Background(), boURL); r.Err == nil || r.Attempts != tc.want || c.n.Load() != int64(tc.want) {
				t.Errorf("MaxAttempts %d: err %v after %d attempts; want an error after %d", tc.max, r.Err, r.Attempts, tc.want)
			}
		})
	}
}

// From TestContext (v4: a backoff bound to a cancelled context returns
// Stop) and v5's Retry, which waits for the next backoff or ctx.Done(),
// whichever comes first, and then returns the context's error. fetch
// does not sleep into a deadline it knows the wait would pass: a deadline
// shorter than the next delay fails the call at once, as a Retry-After
// past the deadline does, with an error matching context.DeadlineExceeded
// (the caller's, so not ErrAttemptTimeout) and carrying the last attempt's
// *StatusError, and no further attempt. Both peers sleep until the
// deadline and return the bare context error. A cancellation during an
// hour's wait ends it when it comes.
func TestPortBOContext(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline time.Duration
		attempts int
	}{
		{"before the first retry", 500 * time.Millisecond, 1},
		{"before the second retry", 1500 * time.Millisecond, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(failing(100, 503, nil))
				f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 10, BaseDelay: time.Second, Jitter: NoJitter}))
				ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
				defer cancel()
				start := time.Now()
				r := f.Fetch(ctx, boURL)
				var se *StatusError
				if !errors.Is(r.Err, context.DeadlineExceeded) || errors.Is(r.Err, ErrAttemptTimeout) || !errors.As(r.Err, &se) || se.StatusCode != 503 {
					t.Errorf("err %v; want the caller's context.DeadlineExceeded, with the last attempt's 503", r.Err)
				}
				// The last attempt went at (attempts-1) seconds: the call
				// fails then, not at the deadline.
				want := time.Duration(tc.attempts-1) * time.Second
				if took := time.Since(start); took != want || r.Attempts != tc.attempts || c.n.Load() != int64(tc.attempts) {
					t.Errorf("returned after %v and %d attempts (%d requests); want at once after the last attempt, %v, after %d",
						took, r.Attempts, c.n.Load(), want, tc.attempts)
				}
			})
		})
	}
	t.Run("cancelled during a long wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := count(failing(100, 503, nil))
			f := newMem(t, c, WithRetry(RetryPolicy{BaseDelay: time.Hour, MaxDelay: time.Hour, Jitter: NoJitter}))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			time.AfterFunc(time.Minute, cancel)
			start := time.Now()
			r := f.Fetch(ctx, boURL)
			if !errors.Is(r.Err, context.Canceled) || time.Since(start) != time.Minute || r.Attempts != 1 {
				t.Errorf("err %v after %v and %d attempts; want context.Canceled at the cancellation, 1m, after 1", r.Err, time.Since(start), r.Attempts)
			}
		})
	})
}

// ---------------------------------------------------------------------------
// hashicorp/go-retryablehttp client_test.go, client.go
// ---------------------------------------------------------------------------

// From TestClient_BackoffCustom: a Backoff function of the caller's
// returning 1ms is called once per retry, RetryMax (4) times, and the 5th
// attempt succeeds. fetch takes no backoff function (deliberately: the
// RetryPolicy is a plain value); a constant 1ms is BaseDelay = MaxDelay =
// 1ms, and OnRetry sees each delay.
func TestPortBOClientBackoffCustom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(4, 500, nil))
		var rec boDelays
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, Jitter: NoJitter}),
			WithHooks(rec.hooks()))
		resp, err := f.Do(mustGet(t, boURL+"foo/bar"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond}
		if resp.StatusCode != 200 || !slices.Equal(rec.get(), want) || !slices.Equal(boGaps(c.times()), want) {
			t.Errorf("status %d, delays %v, gaps %v; want 200 after 4 retries of 1ms", resp.StatusCode, rec.get(), boGaps(c.times()))
		}
	})
}

// From DefaultBackoff (client.go), which TestBackoff samples: min·2^i,
// capped at max, and max when the product overflows (float64(sleep) !=
// mult) or min is above max. fetch's NoJitter Backoff(i+1) equals the exact
// product, capped, for every i and any pair: no overflow, no float rounding
// (the peer's float arithmetic rounds a min above 2^53ns, about 104 days).
// Below the cap the delay doubles exactly; from the cap on it stays there.
// With a BaseDelay above MaxDelay (which WithRetry refuses, see
// TestPortBONewExponentialBackOff), Backoff gives MaxDelay, as the peer
// does.
func TestPortBODefaultBackoff(t *testing.T) {
	const top = time.Duration(math.MaxInt64)
	pairs := [][2]time.Duration{
		{time.Second, 5 * time.Minute}, {1, top}, {3, top}, {7 * time.Millisecond, time.Hour}, {top / 5, top},
		{time.Second, time.Second}, {100 * time.Millisecond, 10 * time.Second}, {1<<53 + 1, top},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 { // spread over every order of magnitude
		ceil := max(time.Duration(rng.Int64N(math.MaxInt64))>>rng.IntN(63), 1)
		base := max(time.Duration(rng.Int64N(int64(ceil))+1)>>rng.IntN(63), 1)
		pairs = append(pairs, [2]time.Duration{base, ceil})
	}
	for _, pair := range pairs {
		base, ceil := pair[0], pair[1]
		p := RetryPolicy{BaseDelay: base, MaxDelay: ceil, Jitter: NoJitter}
		prev := time.Duration(0)
		for i := 0; i <= 130; i++ {
			d := p.Backoff(i+1, 0)
			if want := boExpo(base, ceil, i+1); d != want {
				t.Fatalf("base %v, cap %v: Backoff(%d) = %v; want %v", base, ceil, i+1, d, want)
			}
			if i > 0 && d != min(2*prev, ceil) && !(prev > ceil/2 && d == ceil) {
				t.Fatalf("base %v, cap %v: Backoff(%d) = %v after %v; want double, capped", base, ceil, i+1, d, prev)
			}
			prev = d
		}
		for _, i := range []int{1000, math.MaxInt32, math.MaxInt - 1} {
			if d := p.Backoff(i+1, 0); d != ceil {
				t.Fatalf("base %v, cap %v: Backoff(%d) = %v; want the cap", base, ceil, i+1, d)
			}
		}
	}
	p := RetryPolicy{BaseDelay: 2 * time.Second, MaxDelay: time.Second, Jitter: NoJitter}
	for _, i := range []int{0, 1, 5, 200} {
		if d := p.Backoff(i+1, 0); d != time.Second {
			t.Errorf("base 2s above cap 1s: Backoff(%d) = %v; want the cap, 1s", i+1, d)
		}
	}
}

// From LinearJitterBackoff (client.go; documented, not tested by the peer):
// min·n when max <= min ("strictly linear"), otherwise a random factor in
// [min, max) times the attempt number, reseeded from the clock on every
// call. fetch deliberately backs off exponentially only; what carries over:
// without jitter the delays are the same on every call (NoJitter); with it
// they vary from call to call, with a spread that grows with the delay as
// the peer's grows with n; and a max below min, which the peer silently
// ignores, WithRetry refuses with an error that names both
// (TestPortBONewExponentialBackOff).
func TestPortBOLinearJitterBackoff(t *testing.T) {
	base, ceil := 100*time.Millisecond, time.Hour
	none := RetryPolicy{BaseDelay: base, MaxDelay: ceil, Jitter: NoJitter}
	for retry := 1; retry <= 20; retry++ {
		first := none.Backoff(retry, 0)
		for range 50 {
			if d := none.Backoff(retry, 0); d != first {
				t.Fatalf("NoJitter Backoff(%d) = %v, then %v; want the same every time", retry, first, d)
			}
		}
	}
	for _, j := range []Jitter{FullJitter, EqualJitter} {
		p := RetryPolicy{BaseDelay: base, MaxDelay: ceil, Jitter: j}
		prevSpread := time.Duration(0)
		for retry := 1; retry <= 10; retry++ {
			lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
			for range 2000 {
				d := p.Backoff(retry, 0)
				lo, hi = min(lo, d), max(hi, d)
			}
			// The range doubles with each retry: over 2000 draws the
			// extremes come within 1% of its ends (a miss has probability
			// 0.99^2000 < 1e-8), so the spread seen doubles too.
			spread := hi - lo
			if retry > 1 && spread <= prevSpread {
				t.Errorf("jitter %d, retry %d: spread %v, not above retry %d's %v", j, retry, spread, retry-1, prevSpread)
			}
			prevSpread = spread
		}
	}
}

// ---------------------------------------------------------------------------
// AWS "Exponential Backoff And Jitter" and its simulator
// ---------------------------------------------------------------------------

// From ExpoBackoff (expo(n) = min(cap, 2^n·base)): the un-jittered delay
// grows monotonically, doubling, until the cap, and stays there for every
// retry number up to math.MaxInt; it does not allocate, and is safe for
// concurrent use. AWS's first backoff is 2·base (n starts at 1); fetch's is
// BaseDelay ("the delay before the first retry").
func TestPortBOAWSExpoBackoff(t *testing.T) {
	check := func(t *testing.T, base, ceil time.Duration) {
		t.Helper()
		p := RetryPolicy{BaseDelay: base, MaxDelay: ceil, Jitter: NoJitter}
		retries := []int{1000, 1 << 20, math.MaxInt32, math.MaxInt - 1, math.MaxInt}
		for r := 200; r >= 1; r-- {
			retries = slices.Insert(retries, 0, r)
		}
		prev := time.Duration(-1)
		for _, retry := range retries {
			d := p.Backoff(retry, 0)
			if want := boExpo(base, ceil, retry); d != want || d < prev {
				t.Fatalf("base %v, cap %v: Backoff(%d) = %v after %v; want %v, never less than before", base, ceil, retry, d, prev, want)
			}
			prev = d
		}
	}
	for _, pair := range [][2]time.Duration{
		{5 * time.Millisecond, 2 * time.Second}, // the simulator's base and cap
		{100 * time.Millisecond, 10 * time.Second},
		{1, math.MaxInt64}, {math.MaxInt64 / 3, math.MaxInt64}, {1, 1}, {math.MaxInt64, math.MaxInt64},
	} {
		check(t, pair[0], pair[1])
	}
	// A zero BaseDelay, read as it is (Backoff does not fill in defaults),
	// doubles to zero for ever; a negative one is read as zero.
	t.Run("zero base", func(t *testing.T) {
		check(t, 0, 10*time.Second)
		check(t, -time.Second, 10*time.Second)
	})
	p := DefaultRetryPolicy()
	var d time.Duration
	if n := testing.AllocsPerRun(1000, func() { d = p.Backoff(int(d%20)+1, d) }); n != 0 {
		t.Errorf("Backoff allocates %v times a call; want none", n)
	}
	var wg sync.WaitGroup
	for _, j := range boJitters {
		wg.Go(func() {
			q := RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: time.Second, Jitter: j.j}
			prev := time.Duration(0)
			for r := range 5000 {
				if prev = q.Backoff(r%40+1, prev); prev < 0 || prev > time.Second {
					t.Errorf("%s, concurrently: Backoff = %v", j.name, prev)
					return
				}
			}
		})
	}
	wg.Wait()
}

// From ExpoBackoffFullJitter (random.uniform(0, expo(n))): every delay is
// in [0, min(cap, base·2^n)] (fetch: [0, d), "a uniform random time in
// [0, d)"), for every retry number; the lowest and highest draws of the
// randomness reach both ends; and the delays are spread: their mean is half
// the bound, a quarter of them fall in each quarter of the range, and they
// are nearly all distinct, at the first retry, in the middle, and at the
// cap, however large the retry number.
func TestPortBOAWSExpoBackoffFullJitter(t *testing.T) {
	base, ceil := 100*time.Millisecond, 10*time.Second
	p := RetryPolicy{BaseDelay: base, MaxDelay: ceil, Jitter: FullJitter}
	for _, retry := range []int{1, 2, 5, 7, 8, 63, 64, 1000, math.MaxInt} {
		d := boExpo(base, ceil, retry)
		if lo, hi := p.backoff(retry, 0, func(int64) int64 { return 0 }), p.backoff(retry, 0, func(n int64) int64 { return n - 1 }); lo != 0 || hi != d-1 {
			t.Errorf("retry %d: extremes %v, %v; want 0 and %v", retry, lo, hi, d-1)
		}
		mean, below, distinct := boSample(boN, func() time.Duration {
			v := p.Backoff(retry, 0)
			if v < 0 || v >= d {
				t.Fatalf("retry %d: Backoff = %v; want within [0, %v)", retry, v, d)
			}
			return v
		}, d/4, d/2, 3*d/4)
		if math.Abs(mean/float64(d)-0.5) > boMeanTol {
			t.Errorf("retry %d: mean %v; want about %v, half of %v", retry, time.Duration(mean), d/2, d)
		}
		for i, f := range below {
			if want := float64(i+1) / 4; math.Abs(f-want) > boFracTol {
				t.Errorf("retry %d: %.1f%% below %d/4 of %v; want %.0f%%", retry, 100*f, i+1, d, 100*want)
			}
		}
		if distinct < boN*9/10 {
			t.Errorf("retry %d: %d distinct delays in %d; want nearly all", retry, distinct, boN)
		}
	}
}

// From ExpoBackoffEqualJitter (v/2 + random.uniform(0, v/2)): every delay is
// in [d/2, d] (fetch: [d/2, d)), for every retry number; the lowest and
// highest draws of the randomness reach both ends; its mean is 3d/4, and a
// quarter of the delays fall in each eighth of d from d/2 up.
func TestPortBOAWSExpoBackoffEqualJitter(t *testing.T) {
	base, ceil := 100*time.Millisecond, 10*time.Second
	p := RetryPolicy{BaseDelay: base, MaxDelay: ceil, Jitter: EqualJitter}
	for _, retry := range []int{1, 3, 7, 8, 64, 1000, math.MaxInt} {
		d := boExpo(base, ceil, retry)
		if lo, hi := p.backoff(retry, 0, func(int64) int64 { return 0 }), p.backoff(retry, 0, func(n int64) int64 { return n - 1 }); lo != d/2 || hi != d-1 {
			t.Errorf("retry %d: extremes %v, %v; want %v and %v", retry, lo, hi, d/2, d-1)
		}
		mean, below, distinct := boSample(boN, func() time.Duration {
			v := p.Backoff(retry, 0)
			if v < d/2 || v >= d {
				t.Fatalf("retry %d: Backoff = %v; want within [%v, %v)", retry, v, d/2, d)
			}
			return v
		}, 5*d/8, 3*d/4, 7*d/8)
		if math.Abs((mean-float64(d)/2)/(float64(d)/2)-0.5) > boMeanTol {
			t.Errorf("retry %d: mean %v; want about %v, 3/4 of %v", retry, time.Duration(mean), 3*d/4, d)
		}
		for i, f := range below {
			if want := float64(i+1) / 4; math.Abs(f-want) > boFracTol {
				t.Errorf("retry %d: %.1f%% below %d/8 of %v; want %.0f%%", retry, 100*f, i+5, d, 100*want)
			}
		}
		if distinct < boN*9/10 {
			t.Errorf("retry %d: %d distinct delays in %d; want nearly all", retry, distinct, boN)
		}
	}
}

// From ExpoBackoffDecorr (sleep = min(cap, random.uniform(base, sleep·3)),
// starting from sleep = base): every delay is in [base, min(cap, 3·prev)],
// whatever prev (fetch reads a prev below base, 0 before the first retry,
// as base); its mean is the middle of that range; a chain of delays, each
// drawn from the last, stays within [base, cap], reaches near the cap and
// comes back near base, never stuck. In fetch's loop the previous delay is
// the one waited: the attempts' gaps form such a chain, with the
// simulator's base 5ms and cap 2s. (AWS caps a draw above the cap to the
// cap, a point mass there; fetch draws from [base, cap) instead, within the
// same bounds.)
func TestPortBOAWSExpoBackoffDecorr(t *testing.T) {
	base, ceil := 100*time.Millisecond, 10*time.Second
	p := RetryPolicy{BaseDelay: base, MaxDelay: ceil, Jitter: DecorrelatedJitter}
	for _, prev := range []time.Duration{math.MinInt64, -1, 0, base / 2, base, time.Second, ceil / 3, ceil/3 + 1, ceil, math.MaxInt64} {
		for _, retry := range []int{1, 5, math.MaxInt} {
			hi := boDecorrHi(base, ceil, prev)
			mean, _, _ := boSample(boN/10, func() time.Duration {
				v := p.Backoff(retry, prev)
				if v < base || v > hi {
					t.Fatalf("Backoff(%d, %v) = %v; want within [%v, %v]", retry, prev, v, base, hi)
				}
				return v
			})
			// boN/10 draws: the tolerance is still over 10 standard deviations.
			if want := float64(base+hi) / 2; math.Abs(mean-want) > boMeanTol*float64(hi-base) {
				t.Errorf("Backoff(%d, %v): mean %v; want about %v", retry, prev, time.Duration(mean), time.Duration(want))
			}
		}
	}
	// A chain, with a fixed seed.
	rng := rand.New(rand.NewPCG(3, 4))
	sleep, lo, hi := time.Duration(0), time.Duration(math.MaxInt64), time.Duration(0)
	for range boN {
		next := p.backoff(1, sleep, rng.Int64N)
		if next < base || next > boDecorrHi(base, ceil, sleep) {
			t.Fatalf("after %v: %v; want within [%v, %v]", sleep, next, base, boDecorrHi(base, ceil, sleep))
		}
		sleep, lo, hi = next, min(lo, next), max(hi, next)
	}
	if lo > 2*base || hi < ceil*9/10 {
		t.Errorf("a chain of %d delays spans [%v, %v]; want from near %v to near %v", boN, lo, hi, base, ceil)
	}
	synctest.Test(t, func(t *testing.T) {
		base, ceil := 5*time.Millisecond, 2*time.Second
		for range 5 {
			c := count(failing(1<<40, 503, nil))
			var rec boDelays
			f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 30, BaseDelay: base, MaxDelay: ceil, Jitter: DecorrelatedJitter}), WithHooks(rec.hooks()))
			if r := f.Fetch(context.Background(), boURL); boStatus(r.Err) != 503 || r.Attempts != 30 {
				t.Fatalf("err %v after %d attempts; want the 503 after 30", r.Err, r.Attempts)
			}
			g := boGaps(c.times())
			if !slices.Equal(g, rec.get()) || len(g) != 29 {
				t.Fatalf("gaps %v, OnRetry delays %v; want the same 29", g, rec.get())
			}
			prev := time.Duration(0) // each call starts afresh
			for i, d := range g {
				if d < base || d > boDecorrHi(base, ceil, prev) {
					t.Fatalf("gap %d: %v after %v; want within [%v, %v]", i+1, d, prev, base, boDecorrHi(base, ceil, prev))
				}
				prev = d
			}
		}
	})
}
