package fetch

// From a review of how the Fetcher's options, and a call's RequestOptions,
// combine: each is tested alone elsewhere; these tests put them together.
//
//   - MaxBodySizePerCallEverywhere: MaxBodySize applied to a request given
//     to DoAll or StreamRequests must not be dropped with its context;
//   - OutOfRangeValues, NaNAdaptive, NaNBudget: New must refuse NaN, which
//     would turn the adaptive rate's ceiling or the retry budget off;
//   - HooksTwice: WithHooks given twice must not drop the first set.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
	"golang.org/x/time/rate"
)

// MaxBodySize sets one call's cap in place of WithMaxBodySize, for every
// call that reads bodies: the URL calls given it as an option, and the
// request calls given a request it was applied to (as its doc shows for
// Handle's newRequest). A request given to DoAll or StreamRequests is sent
// under a context made of the call's and its own: its cap must not be
// dropped on the way, silently.
func TestComboReviewMaxBodySizePerCallEverywhere(t *testing.T) {
	big := `"` + strings.Repeat("x", 98) + `"` // 100 bytes of JSON
	f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, big)
	}), WithMaxBodySize(10))
	defer f.Shutdown(context.Background())
	ctx := t.Context()
	const u = "http://a.test/big"
	lift := MaxBodySize(1000)
	withCap := func(ctx context.Context, u string) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		if err != nil {
			return nil, err
		}
		return req, lift(req)
	}
	one := func() iter.Seq[string] { return func(yield func(string) bool) { yield(u) } }
	handler := func(_ string, resp *http.Response) (int, error) {
		b, err := io.ReadAll(resp.Body)
		return len(b), err
	}
	check := func(name string, n int, err error) {
		t.Helper()
		if err != nil || n != 100 {
			t.Errorf("%s with a per-call cap of 1000 over WithMaxBodySize(10): %d bytes, %v; want 100, nil", name, n, err)
		}
	}
	b, err := f.Get(ctx, u, lift)
	check("Get", len(b), err)
	r := f.Fetch(ctx, u, lift)
	check("Fetch", len(r.Body), r.Err)
	s, err := GetJSON[string](ctx, f, u, lift)
	check("GetJSON", len(s)+2, err)
	rs := f.GetAll(ctx, []string{u}, lift)
	check("GetAll", len(rs[0].Body), rs[0].Err)
	for r := range f.Stream(ctx, one(), lift) {
		check("Stream", len(r.Body), r.Err)
	}
	for h := range HandleURLs(ctx, f, one(), handler, lift) {
		check("HandleURLs", h.Value, h.Err)
	}
	for h := range Handle(ctx, f, one(), withCap, handler) {
		check("Handle (newRequest applies it)", h.Value, h.Err)
	}
	for r := range StreamFunc(ctx, f, one(), withCap) {
		check("StreamFunc (newRequest applies it)", len(r.Body), r.Err)
	}
	req, _ := withCap(ctx, u)
	rs = f.DoAll(ctx, []*http.Request{req})
	check("DoAll (request it was applied to)", len(rs[0].Body), rs[0].Err)
	req, _ = withCap(ctx, u)
	for r := range f.StreamRequests(ctx, func(yield func(*http.Request) bool) { yield(req) }) {
		check("StreamRequests (request it was applied to)", len(r.Body), r.Err)
	}
}

// Values no option can mean are refused at New, with an error naming the
// option or its field: NaN and infinities included.
func TestComboReviewOutOfRangeValues(t *testing.T) {
	nan := math.NaN()
	for name, opt := range map[string]Option{
		"RetryBudget.Ratio NaN":           WithRetryBudget(RetryBudget{Ratio: nan}),
		"CircuitBreaker.FailureRatio NaN": WithCircuitBreaker(CircuitBreaker{FailureRatio: nan}),
		"AdaptiveRate.Initial NaN":        WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 10, Initial: rate.Limit(nan)}),
		"WithRate NaN":                    WithRate(rate.Limit(nan), 1),
		"WithHostRate NaN":                WithHostRate(rate.Limit(nan), 1),
		"WithRate PerMinute(NaN)":         WithRate(PerMinute(nan), 1),
		"WithHostRate -Inf":               WithHostRate(rate.Limit(math.Inf(-1)), 1),
		"RetryBudget.Ratio +Inf":          WithRetryBudget(RetryBudget{Ratio: math.Inf(1)}),
		"CircuitBreaker.FailureRatio Inf": WithCircuitBreaker(CircuitBreaker{FailureRatio: math.Inf(1)}),
		"AdaptiveRate.Floor NaN":          WithAdaptiveRate(AdaptiveRate{Floor: rate.Limit(nan), Ceiling: 10}),
		"AdaptiveRate.Ceiling NaN":        WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: rate.Limit(nan)}),
		"AdaptiveRate.Ceiling +Inf":       WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: rate.Limit(math.Inf(1))}),
		"WithStallTimeout 0":              WithStallTimeout(0),
		"WithAttemptTimeout -1":           WithAttemptTimeout(-1),
		"WithMaxBodySize 0":               WithMaxBodySize(0),
		"WithMaxRedirects -1":             WithMaxRedirects(-1),
		"WithReadAhead 0":                 WithReadAhead(0),
		"WithHostConcurrency 0":           WithHostConcurrency(0),
		"WithConcurrency 0":               WithConcurrency(0),
		"WithBasicAuth colon":             WithBasicAuth("a:b", "c"),
		"WithBearerToken newline":         WithBearerToken("tok\n"),
		"WithHeader bad name":             WithHeader("Bad Name", "v"),
		"WithRetry negative":              WithRetry(RetryPolicy{MaxAttempts: -1}),
		"WithBlockPrivateAddresses bad":   WithBlockPrivateAddresses(netip.Prefix{}),
	} {
		if _, err := New(opt); err == nil {
			t.Errorf("%s: New accepted it", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// What the NaNs do if New accepts them: an adaptive rate whose Initial is
// NaN must still keep a host within Ceiling; a budget whose Ratio is NaN
// must still cap retries at Min. New refusing them is fine.
func TestComboReviewNaNAdaptive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := New(WithClient(memhttp.Client(http.HandlerFunc(ok))),
			WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 2, Initial: rate.Limit(math.NaN())}))
		if err != nil {
			return // refused: fine
		}
		defer f.Shutdown(context.Background())
		start := time.Now()
		for range 10 {
			if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
				t.Fatal(err)
			}
		}
		if took := time.Since(start); took < 4*time.Second {
			t.Errorf("AdaptiveRate{Ceiling: 2, Initial: NaN}: 10 calls in %v; want at least 4.5s at 2 a second", took)
		}
	})
}

func TestComboReviewNaNBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := New(WithClient(memhttp.Client(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))),
			WithRetry(RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}),
			WithRetryBudget(RetryBudget{Ratio: math.NaN(), Min: 1}))
		if err != nil {
			return // refused: fine
		}
		defer f.Shutdown(context.Background())
		r := f.Fetch(t.Context(), "http://a.test/")
		t.Logf("attempts %d err %v", r.Attempts, r.Err)
		if r.Attempts > 2 {
			t.Errorf("RetryBudget{Ratio: NaN, Min: 1}: %d attempts of one call; want at most 2 (Min 1 retry)", r.Attempts)
		}
	})
}

// WithHooks given twice (an instrumentation package's hooks, then the
// service's own): nothing says the first set is dropped, and options that
// replace one another say so (WithRate/WithLimiter, the auth options).
// Either both run, or New says they cannot be combined.
func TestComboReviewHooksTwice(t *testing.T) {
	var first, second atomic.Int32
	f, err := New(WithClient(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})}),
		WithHooks(Hooks{OnDone: func(DoneInfo) { first.Add(1) }}),
		WithHooks(Hooks{OnDone: func(DoneInfo) { second.Add(1) }}))
	if err != nil {
		return // refused: fine
	}
	defer f.Shutdown(context.Background())
	f.Get(t.Context(), "http://a.test/")
	if first.Load() != 1 || second.Load() != 1 {
		t.Errorf("WithHooks twice: first set ran %d times, second %d; want both once (or New to refuse)", first.Load(), second.Load())
	}
}

// A rate of +Inf (PerSecond(math.Inf(1))) is no limit, as rate.Inf is.
func TestRateInfinityIsNoLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inf := PerSecond(math.Inf(1))
		f := newMem(t, http.HandlerFunc(ok), WithRate(inf, 0), WithHostRate(inf, 0))
		defer f.Shutdown(context.Background())
		start := time.Now()
		for range 10 {
			if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
				t.Fatal(err)
			}
		}
		if took := time.Since(start); took != 0 {
			t.Errorf("WithRate(+Inf, 0), WithHostRate(+Inf, 0): 10 calls in %v; want 0", took)
		}
	})
}

// WithHooks given twice runs both sets at every event, in the order given;
// the second OnCall gets the context the first returned, and the call's
// context is the last one's. A panic in one fails the call, and the hooks
// of that event after it run still (a tracer's OnDone ends its span).
func TestWithHooksTwiceInOrder(t *testing.T) {
	type key string
	var mu sync.Mutex
	var got []string
	note := func(s string) {
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
	}
	set := func(name string, panicOnDone bool) Hooks {
		return Hooks{
			OnCall: func(ctx context.Context, _ CallInfo) context.Context {
				note(fmt.Sprintf("%s.OnCall a=%v", name, ctx.Value(key("a"))))
				return context.WithValue(ctx, key(name), true)
			},
			OnAttempt: func(AttemptInfo) { note(name + ".OnAttempt") },
			OnRetry:   func(RetryInfo) { note(name + ".OnRetry") },
			OnDone: func(d DoneInfo) {
				note(fmt.Sprintf("%s.OnDone a=%v b=%v", name, d.Context.Value(key("a")), d.Context.Value(key("b"))))
				if panicOnDone {
					panic("boom")
				}
			},
		}
	}
	var n atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(503)
		}
	})
	retry := WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, h, retry, WithHooks(set("a", false)), WithHooks(Hooks{}), WithHooks(set("b", false)))
		defer f.Shutdown(context.Background())
		if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
	})
	want := []string{"a.OnCall a=<nil>", "b.OnCall a=true", "a.OnAttempt", "b.OnAttempt", "a.OnRetry", "b.OnRetry",
		"a.OnAttempt", "b.OnAttempt", "a.OnDone a=true b=true", "b.OnDone a=true b=true"}
	if !slices.Equal(got, want) {
		t.Errorf("hooks ran\n%q\nwant\n%q", got, want)
	}

	got = nil
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithHooks(set("a", true)), WithHooks(set("b", false)))
		defer f.Shutdown(context.Background())
		_, err := f.Get(t.Context(), "http://a.test/")
		if _, ok := errors.AsType[*PanicError](err); !ok {
			t.Errorf("err = %v; want a *PanicError", err)
		}
	})
	want = []string{"a.OnCall a=<nil>", "b.OnCall a=true", "a.OnAttempt", "b.OnAttempt", "a.OnDone a=true b=true", "b.OnDone a=true b=true"}
	if !slices.Equal(got, want) {
		t.Errorf("with a.OnDone panicking, hooks ran\n%q\nwant\n%q", got, want)
	}
}

// Of several sets' hooks of one event that panic, the call fails with the
// last one's panic, for OnCall as for the others.
func TestWithHooksPanicsLastWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
		for _, event := range []string{"OnCall", "OnDone"} {
			set := func(v string) Hooks {
				if event == "OnCall" {
					return Hooks{OnCall: func(ctx context.Context, _ CallInfo) context.Context { panic(v) }}
				}
				return Hooks{OnDone: func(DoneInfo) { panic(v) }}
			}
			f, err := New(WithClient(memhttp.Client(ok)), WithHooks(set("first")), WithHooks(set("last")))
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Get(t.Context(), "http://a.test/")
			pe, isPanic := errors.AsType[*PanicError](err)
			if !isPanic || pe.Value != "last" {
				t.Errorf("%s: err %v; want the last set's panic", event, err)
			}
			f.Shutdown(context.Background())
		}
	})
}
