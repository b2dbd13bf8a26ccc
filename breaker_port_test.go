package fetch

// A port of sony/gobreaker v2's own tests (v2/gobreaker_test.go and
// v2/twostep_gobreaker_test.go at v2.4.0, the version go.mod requires;
// unchanged at fed8e9eb35f9cd3e5c2a67842c924346c3e1fbdd) onto fetch's
// per-host circuit breaker, through the public API only. Tests are named
// TestPortGB<gobreaker test>. failsafe-go's breaker tests are ported in
// retry_port_test.go (TestPortFS...) and are not repeated here.
//
// Mapping:
//
//   - gobreaker's Execute / Allow+done is one call (Get) to a.test with
//     retries off; succeed is a 200, fail a 500 (a failure by
//     DefaultIsFailure), exclude an attempt whose caller cancels it while it
//     is in flight (CircuitBreaker: "An attempt that fails because the
//     caller's context ended ... counts neither way", done(errExcluded)).
//   - gobreaker's State is HostStats.Breaker: "open", "half-open", or "" for
//     closed. Counts are not public: each test observes them through what
//     they decide (whether and when the breaker trips).
//   - Settings.MaxRequests is Probes, Interval is Interval, Timeout is
//     OpenFor, ReadyToTrip is ConsecutiveFailures / FailureRatio +
//     MinRequests, IsSuccessful is IsFailure (negated). ErrOpenState and
//     ErrTooManyRequests are both a *CircuitOpenError (ErrCircuitOpen).
//   - pseudoSleep (which rewinds the breaker's clock) is time.Sleep inside a
//     synctest bubble, and succeedLater's goroutine sleeps on the same clock.
//
// Where fetch deliberately differs (as its documentation says), the test
// asserts what fetch documents and names gobreaker's expectation.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// gbCancelKey carries, in a call's context, the function that cancels it,
// for the server to cancel the call while it is in flight (exclude).
type gbCancelKey struct{}

// gbHost is a Fetcher with a circuit breaker and no retries over an
// in-memory a.test. Its server answers /s with 200, /f with 500, and /x by
// cancelling the caller's context and waiting for it to end, and /p by
// panicking (in memhttp, the transport panics); a query
// d=<duration> first sleeps that long (on the bubble's clock) and
// status=<code> sets the status.
type gbHost struct {
	f    *Fetcher
	sent atomic.Int64
}

func newGB(t *testing.T, cb CircuitBreaker, opts ...Option) *gbHost {
	t.Helper()
	g := &gbHost{}
	g.f = newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.sent.Add(1)
		if d, err := time.ParseDuration(r.URL.Query().Get("d")); err == nil {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		switch r.URL.Path {
		case "/f":
			w.WriteHeader(http.StatusInternalServerError)
		case "/p":
			panic("oops") // memhttp runs the handler in RoundTrip: the transport panics
		case "/x":
			r.Context().Value(gbCancelKey{}).(context.CancelFunc)()
			<-r.Context().Done()
		default:
			if s, err := strconv.Atoi(r.URL.Query().Get("status")); err == nil {
				w.WriteHeader(s)
			}
		}
	}), append([]Option{WithRetry(RetryPolicy{MaxAttempts: 1}), WithCircuitBreaker(cb)}, opts...)...)
	return g
}

func (g *gbHost) get(ctx context.Context, path string) error {
	_, err := g.f.Get(ctx, "http://a.test"+path)
	return err
}

// gobreaker's succeed: nil if the call went through and succeeded.
func (g *gbHost) succeed() error { return g.get(context.Background(), "/s") }

// gobreaker's fail: nil if the call went through and failed with the 500.
func (g *gbHost) fail() error { return g.wantStatus(g.get(context.Background(), "/f")) }

func (g *gbHost) wantStatus(err error) error {
	var se *StatusError
	switch {
	case err == nil:
		return errors.New("the failing call succeeded")
	case errors.As(err, &se) && !errors.Is(err, ErrCircuitOpen):
		return nil
	}
	return err
}

// gobreaker's exclude: nil if the call went through and was cancelled by
// its caller in flight.
func (g *gbHost) exclude() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	return g.wantCanceled(g.get(context.WithValue(ctx, gbCancelKey{}, cancel), "/x"))
}

func (g *gbHost) wantCanceled(err error) error {
	if errors.Is(err, context.Canceled) && !errors.Is(err, ErrCircuitOpen) {
		return nil
	}
	if err == nil {
		return errors.New("the cancelled call succeeded")
	}
	return err
}

// later starts a call to path in a goroutine; its error comes on the channel.
func (g *gbHost) later(ctx context.Context, path string) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- g.get(ctx, path) }()
	return ch
}

// state is a.test's breaker state, as gobreaker's State names it.
func (g *gbHost) state() string {
	for _, h := range g.f.Stats().Hosts {
		if h.Host == "a.test" && h.Breaker != "" {
			return h.Breaker
		}
	}
	return "closed"
}

func (g *gbHost) wantState(t *testing.T, when, want string) {
	t.Helper()
	if got := g.state(); got != want {
		t.Fatalf("%s: breaker %s; want %s", when, got, want)
	}
}

// wantOK is gobreaker's assert.Nil(t, succeed/fail/exclude(cb)).
func wantOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v; want it let through with that outcome", what, err)
	}
}

// wantRefused is gobreaker's assert.Error(t, op(cb)) for an open breaker, or
// assert.Equal(t, ErrTooManyRequests, op(cb)) for a half-open one with its
// probes out: refused with a *CircuitOpenError, nothing sent.
func (g *gbHost) wantRefused(t *testing.T, what string, op func() error) {
	t.Helper()
	before := g.sent.Load()
	err := op()
	var ce *CircuitOpenError
	if !errors.As(err, &ce) || ce.Host != "a.test" || g.sent.Load() != before {
		t.Fatalf("%s: %v (server saw %d more); want a *CircuitOpenError for a.test, nothing sent", what, err, g.sent.Load()-before)
	}
}

// repeat runs op n times, each wanted through.
func repeat(t *testing.T, what string, n int, op func() error) {
	t.Helper()
	for i := range n {
		wantOK(t, fmt.Sprintf("%s %d of %d", what, i+1, n), op())
	}
}

// gbCustom is gobreaker's newCustom: MaxRequests 3, Interval 30s, Timeout
// 90s, ReadyToTrip "at least 3 requests not excluded, and 60% of them
// failed". fetch's breaker has no ReadyToTrip of the caller's; FailureRatio
// with MinRequests is its ratio rule, and ConsecutiveFailures, which is
// always on, is set out of reach.
var gbCustom = CircuitBreaker{
	ConsecutiveFailures: 1 << 30,
	FailureRatio:        0.6,
	MinRequests:         3,
	Probes:              3,
	Interval:            30 * time.Second,
	OpenFor:             90 * time.Second,
}

// gobreaker: TestStateConstants. fetch has no State type; its names are
// HostStats.Breaker's, the same strings as gobreaker's State.String, with
// closed left out ("" : the host is not listed).
func TestPortGBStateConstants(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGB(t, CircuitBreaker{ConsecutiveFailures: 1, OpenFor: time.Second})
		wantOK(t, "succeed", g.succeed())
		if hs := g.f.Stats().Hosts; len(hs) != 0 {
			t.Errorf("closed: Stats().Hosts = %+v; want a.test not listed", hs)
		}
		wantOK(t, "fail", g.fail())
		if hs := g.f.Stats().Hosts; len(hs) != 1 || hs[0].Breaker != "open" {
			t.Errorf("open: Stats().Hosts = %+v; want Breaker \"open\"", hs)
		}
		time.Sleep(time.Second + time.Nanosecond)
		if hs := g.f.Stats().Hosts; len(hs) != 1 || hs[0].Breaker != "half-open" {
			t.Errorf("half-open: Stats().Hosts = %+v; want Breaker \"half-open\"", hs)
		}
	})
}

// gobreaker: TestNewCircuitBreaker, its defaults and its negative durations,
// as behaviour (the fields it reads are not public). DIVERGES, deliberate
// (CircuitBreaker's field docs): gobreaker's zero Settings trip after MORE
// than 5 consecutive failures, never clear their counts (Interval 0) and
// stay open 60s; fetch's zero CircuitBreaker trips after 5, clears its
// counts every minute and stays open 30s. Probes defaults to 1 as
// MaxRequests does. gobreaker turns negative durations into the defaults;
// fetch refuses them (WithCircuitBreaker: "It returns an error naming any
// field out of range").
func TestPortGBNewCircuitBreaker(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := newGB(t, CircuitBreaker{})
			// Interval: a minute, not never.
			repeat(t, "fail", 4, g.fail)
			time.Sleep(time.Minute + time.Nanosecond)
			repeat(t, "fail after the Interval", 4, g.fail)
			g.wantState(t, "4 failures, a minute, 4 failures", "closed") // gobreaker's default: 8 in a row, open after the 6th
			// ReadyToTrip: 5 in a row, not more than 5.
			wantOK(t, "fifth failure", g.fail())
			g.wantState(t, "after 5 failures in a row", "open") // gobreaker's default: closed until the 6th
			// Timeout: 30s, not 60s.
			time.Sleep(30*time.Second - time.Millisecond)
			g.wantState(t, "30s-1ms after opening", "open")
			time.Sleep(time.Millisecond + time.Nanosecond)
			g.wantState(t, "just over 30s after opening", "half-open")
			// MaxRequests: one probe.
			probe := g.later(context.Background(), "/s?d=1s")
			synctest.Wait()
			g.wantRefused(t, "a second call with the one probe out", g.succeed)
			wantOK(t, "probe", <-probe)
			g.wantState(t, "after the probe", "closed")
		})
	})
	t.Run("negative durations", func(t *testing.T) {
		for _, cb := range []CircuitBreaker{{Interval: -30 * time.Second}, {OpenFor: -90 * time.Second}} {
			if _, err := New(WithCircuitBreaker(cb)); err == nil {
				t.Errorf("WithCircuitBreaker(%+v): no error; want one (gobreaker takes the default instead)", cb)
			}
		}
	})
}

// gobreaker: TestDefaultCircuitBreaker, with gobreaker's default trip rule
// ("more than 5 consecutive failures") and Timeout (60s) set explicitly,
// since fetch's defaults differ (see TestPortGBNewCircuitBreaker).
func TestPortGBDefaultCircuitBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 60 * time.Second
		g := newGB(t, CircuitBreaker{ConsecutiveFailures: 6, OpenFor: timeout})

		repeat(t, "fail", 5, g.fail)
		g.wantState(t, "after 5 failures", "closed")
		wantOK(t, "succeed", g.succeed())
		g.wantState(t, "after a success", "closed")
		wantOK(t, "fail", g.fail())
		g.wantState(t, "after S F", "closed")

		// StateClosed to StateOpen: the success reset the run, so it takes
		// 5 more, 6 in a row.
		repeat(t, "fail", 4, g.fail)
		g.wantState(t, "after 5 failures in a row", "closed")
		wantOK(t, "sixth failure in a row", g.fail())
		g.wantState(t, "after 6 failures in a row", "open")

		g.wantRefused(t, "succeed while open", g.succeed)
		g.wantRefused(t, "fail while open", g.fail)

		time.Sleep(timeout - time.Millisecond)
		g.wantState(t, "Timeout-1ms after opening", "open")

		// StateOpen to StateHalfOpen
		time.Sleep(time.Second) // over Timeout
		g.wantState(t, "over Timeout", "half-open")

		// StateHalfOpen to StateOpen
		wantOK(t, "failing probe", g.fail())
		g.wantState(t, "after a failed probe", "open")

		// StateOpen to StateHalfOpen
		time.Sleep(timeout + time.Nanosecond)
		g.wantState(t, "Timeout+1ns after reopening", "half-open")

		// StateHalfOpen to StateClosed
		wantOK(t, "good probe", g.succeed())
		g.wantState(t, "after a good probe", "closed")
		// Counts{} after closing: a fresh run of 5 failures leaves it closed.
		repeat(t, "fail", 5, g.fail)
		g.wantState(t, "5 failures after closing (counts cleared)", "closed")
	})
}

// gobreaker: TestCustomCircuitBreaker (newCustom: see gbCustom).
func TestPortGBCustomCircuitBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGB(t, gbCustom)

		for i := range 5 {
			wantOK(t, fmt.Sprintf("round %d succeed", i+1), g.succeed())
			wantOK(t, fmt.Sprintf("round %d fail", i+1), g.fail())
			wantOK(t, fmt.Sprintf("round %d exclude", i+1), g.exclude())
		}
		g.wantState(t, "after 5 × S F X (5 of 10 failed)", "closed")

		time.Sleep(gbCustom.Interval - time.Millisecond)
		wantOK(t, "succeed", g.succeed())
		g.wantState(t, "Interval-1ms in", "closed")

		time.Sleep(time.Second) // over Interval
		wantOK(t, "fail", g.fail())
		g.wantState(t, "over Interval", "closed")

		// StateClosed to StateOpen: F S F is 2 of 3 in the new Interval. Had
		// the counts not been cleared, 7 of 13 (or, counting the
		// exclusions, 7 of 19) is under 60%, and it would stay closed.
		wantOK(t, "succeed", g.succeed())
		wantOK(t, "fail", g.fail()) // failure ratio: 2/3 >= 0.6
		g.wantState(t, "after F S F in a fresh Interval", "open")

		// StateOpen to StateHalfOpen
		time.Sleep(gbCustom.OpenFor + time.Nanosecond)
		g.wantState(t, "over Timeout", "half-open")

		// Excluded requests are neutral in the half-open state: more of them
		// than MaxRequests go through, one after the other, and it stays
		// half-open.
		repeat(t, "exclude while half-open", 4, g.exclude)
		g.wantState(t, "after 4 exclusions", "half-open")

		// Half-Open → Open: the first real failure reopens it.
		wantOK(t, "fail", g.fail())
		g.wantState(t, "after a failed probe", "open")

		// Open → Half-Open after Timeout.
		time.Sleep(gbCustom.OpenFor + time.Nanosecond)
		g.wantState(t, "over Timeout again", "half-open")

		// Successes do not close it until MaxRequests of them.
		repeat(t, "succeed", 2, g.succeed)
		g.wantState(t, "after 2 of 3 probes", "half-open")

		// StateHalfOpen to StateClosed
		ch := g.later(context.Background(), "/s?d=100ms") // the third probe
		time.Sleep(50 * time.Millisecond)
		g.wantRefused(t, "a call over MaxRequests", g.succeed)
		wantOK(t, "third probe", <-ch)
		g.wantState(t, "after 3 good probes", "closed")
	})
}

// gobreaker: TestCustomCircuitBreaker's ReadyToTrip judges the requests that
// were not excluded (counts.validRequests(): Requests - TotalExclusions), as
// fetch's own CircuitBreaker doc says of an attempt its caller cancelled:
// it "counts neither way", so it should neither dilute FailureRatio nor
// make up MinRequests.
func TestPortGBCustomRatioIgnoresExclusions(t *testing.T) {
	t.Run("exclusions dilute the ratio", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := newGB(t, gbCustom)
			repeat(t, "exclude", 2, g.exclude)
			wantOK(t, "succeed", g.succeed())
			repeat(t, "fail", 2, g.fail)
			if got := g.state(); got != "open" {
				t.Errorf("after X X S F F: breaker %s; want open: 2 of the 3 attempts that count failed (>= 60%% of >= 3)", got)
			}
		})
	})
	t.Run("exclusions make up MinRequests", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cb := gbCustom
			cb.FailureRatio = 0.5
			g := newGB(t, cb)
			repeat(t, "exclude", 2, g.exclude)
			repeat(t, "fail", 2, g.fail)
			if got := g.state(); got != "closed" {
				t.Errorf("after X X F F: breaker %s; want closed: only 2 attempts count, under MinRequests 3", got)
			}
		})
	})
}

// gobreaker: TestRollingWindowCircuitBreaker and
// TestRollingWindowCircuitBreakerInParallel are not ported: fetch's
// CircuitBreaker has no BucketPeriod (Interval is a fixed window: "how often
// a closed breaker forgets its counts").

// gobreaker: TestPanicInRequest. gobreaker counts a panic in the request as
// a failure and panics again. DIVERGES, deliberate: fetch recovers a panic
// in the caller's body handler into a *PanicError, and it "counts neither
// way" (CircuitBreaker doc), so with a threshold of 1 the breaker stays
// closed and the next call goes through.
func TestPortGBPanicInRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGB(t, CircuitBreaker{ConsecutiveFailures: 1})
		boom := func(string, *http.Response) (int, error) { panic("oops") }
		var errs []error
		for h := range HandleURLs(context.Background(), g.f, func(yield func(string) bool) { yield("http://a.test/s") }, boom) {
			errs = append(errs, h.Err)
		}
		var pe *PanicError
		if len(errs) != 1 || !errors.As(errs[0], &pe) || pe.Value != "oops" {
			t.Fatalf("Handle with a panicking handler: %v; want a *PanicError", errs)
		}
		g.wantState(t, "after the panic", "closed")
		wantOK(t, "fail", g.fail()) // gobreaker: refused, the panic having opened it
		g.wantState(t, "after a real failure", "open")
	})
}

// gobreaker: TestPanicInRequest, the panic in the request itself: here the
// transport (a RoundTripper, or memhttp's handler) panics and the panic
// reaches the caller. gobreaker counts it as a failure before panicking
// again, so the breaker is never left waiting for the outcome. fetch does
// not recover it, so the breaker's done is never called: a half-open
// breaker whose probe panicked keeps that probe out for ever and refuses
// every later call to the host, however long one waits.
func TestPortGBPanicInTransportWedgesHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGB(t, CircuitBreaker{ConsecutiveFailures: 1, OpenFor: time.Second})
		wantOK(t, "fail", g.fail())
		time.Sleep(time.Second + time.Nanosecond)
		g.wantState(t, "over OpenFor", "half-open")
		func() {
			defer func() { recover() }()
			g.get(context.Background(), "/p") // the probe: the transport panics
		}()
		if n := g.f.Stats().InFlight; n != 0 {
			t.Errorf("Stats().InFlight = %d after the panicking call; want 0 (its slot leaked)", n)
		}
		time.Sleep(time.Hour)
		if err := g.succeed(); err != nil {
			t.Fatalf("an hour after the probe panicked: %v; want the breaker to let a probe through again", err)
		}
	})
}

// gobreaker: TestGeneration. A request that began before the Interval ran
// out and ends after it belongs to the old generation: its outcome is
// dropped. Here it is a failure (gobreaker's is a success, whose effect is
// not visible through fetch), with a threshold of 2 in a row.
func TestPortGBGeneration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGB(t, CircuitBreaker{ConsecutiveFailures: 2, Interval: 30 * time.Second})
		time.Sleep(29 * time.Second)
		wantOK(t, "fail", g.fail()) // the host's breaker was made by this call: its Interval starts now
		time.Sleep(29 * time.Second)
		ch := g.later(context.Background(), "/f?d=1500ms")
		time.Sleep(500 * time.Millisecond)
		g.wantState(t, "with the slow failure in flight", "closed")

		time.Sleep(500 * time.Millisecond) // over Interval
		g.wantState(t, "over Interval", "closed")

		// The request from the previous generation has no effect.
		wantOK(t, "slow fail", g.wantStatus(<-ch))
		g.wantState(t, "after the slow failure of the last Interval", "closed")
		wantOK(t, "fail", g.fail())
		g.wantState(t, "after one failure in the new Interval", "closed") // the slow one did not count
		wantOK(t, "fail", g.fail())
		g.wantState(t, "after two failures in the new Interval", "open")
	})
}

// gobreaker: TestCustomIsSuccessful. IsSuccessful (an error is a success)
// is IsFailure (a response or error is a failure); one that calls nothing a
// failure never trips the breaker. Then, with the default classification
// and gobreaker's default trip rule (more than 5 in a row), 6 failures open
// it. gobreaker swaps isSuccessful on the same breaker; fetch's is fixed at
// New, so the second half uses a second Fetcher.
func TestPortGBCustomIsSuccessful(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGB(t, CircuitBreaker{ConsecutiveFailures: 6, IsFailure: func(*http.Response, error) bool { return false }})
		repeat(t, "fail", 5, g.fail)
		g.wantState(t, "after 5 failures classified as successes", "closed")
		repeat(t, "fail", 20, g.fail)
		g.wantState(t, "after 25", "closed")

		g = newGB(t, CircuitBreaker{ConsecutiveFailures: 6, IsFailure: DefaultIsFailure})
		repeat(t, "fail", 6, g.fail)
		g.wantState(t, "after 6 failures", "open")
	})
}

// gobreaker: TestCircuitBreakerInParallel. Ten goroutines, each alternating
// a success and an exclusion (gobreaker: 10 × 10000; here 10 × 100 on the
// in-memory transport): none is refused and the breaker stays closed.
// gobreaker then checks Counts; here, the calls' outcomes in Stats, and
// that the breaker still counts: a fresh run of failures then trips it,
// as the ratio says (gbCustom: 60% of at least 3).
func TestPortGBCircuitBreakerInParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGB(t, gbCustom)
		const routines, reqs = 10, 100
		var wg sync.WaitGroup
		var failures atomic.Int64
		for range routines {
			wg.Go(func() {
				for i := range reqs {
					op := g.succeed
					if i%2 == 1 {
						op = g.exclude
					}
					if err := op(); err != nil {
						failures.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if n := failures.Load(); n != 0 {
			t.Fatalf("%d calls were not let through as wanted", n)
		}
		g.wantState(t, "after the parallel calls", "closed")
		s := g.f.Stats()
		if s.Succeeded != routines*reqs/2 || s.Failed.Canceled != routines*reqs/2 || s.Failed.Refused != 0 {
			t.Errorf("Stats: %d succeeded, %d cancelled, %d refused; want %d, %d, 0",
				s.Succeeded, s.Failed.Canceled, s.Failed.Refused, routines*reqs/2, routines*reqs/2)
		}
	})
}

// gobreaker: TestIsExcludedAndIsSuccessfulCombination. Excluded outcomes
// count neither as successes nor as failures; nil errors are successes and
// the rest failures. Through fetch: exclusions alone never trip a breaker
// that trips on 3 failures in a row, and an exclusion does not break a run
// of failures the way a success does.
func TestPortGBIsExcludedAndIsSuccessfulCombination(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGB(t, CircuitBreaker{ConsecutiveFailures: 3})
		// Case 1: excluded: not counted (neither a failure...)
		repeat(t, "exclude", 5, g.exclude)
		g.wantState(t, "after 5 exclusions", "closed")
		// Case 2: success.
		repeat(t, "succeed", 3, g.succeed)
		// Case 3: failure; (...nor a success: it does not reset the run)
		repeat(t, "fail", 2, g.fail)
		wantOK(t, "exclude", g.exclude())
		g.wantState(t, "after S S S F F X", "closed")
		wantOK(t, "fail", g.fail())
		g.wantState(t, "after F F X F: 3 failures in a row", "open")
	})
}

// gobreaker: TestTwoStepCircuitBreaker (MaxRequests 2, the default trip rule
// and Timeout, given explicitly: see TestPortGBNewCircuitBreaker). fetch's
// breaker is gobreaker's two-step breaker, Allow at admission and done
// when the attempt's outcome is known, so the port is the same call-level
// mapping as for Execute.
func TestPortGBTwoStepCircuitBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 60 * time.Second
		g := newGB(t, CircuitBreaker{ConsecutiveFailures: 6, OpenFor: timeout, Probes: 2})

		repeat(t, "fail", 5, g.fail)
		g.wantState(t, "after 5 failures", "closed")
		wantOK(t, "succeed", g.succeed())
		wantOK(t, "fail", g.fail())
		g.wantState(t, "after 5 F, S, F", "closed")

		// StateClosed to StateOpen
		repeat(t, "fail", 5, g.fail) // 6 consecutive failures
		g.wantState(t, "after 6 in a row", "open")

		g.wantRefused(t, "succeed while open", g.succeed)
		g.wantRefused(t, "fail while open", g.fail)
		g.wantRefused(t, "exclude while open", g.exclude)

		time.Sleep(timeout - time.Millisecond)
		g.wantState(t, "Timeout-1ms after opening", "open")

		// StateOpen to StateHalfOpen
		time.Sleep(time.Second) // over timeout
		g.wantState(t, "over Timeout", "half-open")

		// In the half-open state, with MaxRequests in progress the others
		// are refused; once those end excluded, it takes requests again.
		ctx1, cancel1 := context.WithCancel(context.Background())
		ctx2, cancel2 := context.WithCancel(context.Background())
		ch1 := g.later(ctx1, "/s?d=1h")
		ch2 := g.later(ctx2, "/s?d=1h")
		synctest.Wait() // both are at the server
		g.wantRefused(t, "succeed with 2 probes out", g.succeed)
		g.wantRefused(t, "fail with 2 probes out", g.fail)
		time.Sleep(100 * time.Millisecond)
		cancel1()
		cancel2()
		wantOK(t, "first excluded probe", g.wantCanceled(<-ch1))
		wantOK(t, "second excluded probe", g.wantCanceled(<-ch2))
		g.wantState(t, "after 2 excluded probes", "half-open")
		wantOK(t, "succeed once the excluded probes ended", g.succeed())

		// StateHalfOpen to StateOpen
		wantOK(t, "fail", g.fail())
		g.wantState(t, "after a failed probe", "open")

		// StateOpen to StateHalfOpen
		time.Sleep(timeout + time.Nanosecond)
		g.wantState(t, "over Timeout again", "half-open")

		// StateHalfOpen to StateClosed
		repeat(t, "succeed", 2, g.succeed)
		g.wantState(t, "after 2 good probes", "closed")
	})
}
