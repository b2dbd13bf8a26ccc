package fetch

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A failure that opens its host's breaker ends the call at once with a
// *CircuitOpenError, as a retry the breaker would refuse when it came: the
// call does not wait out a backoff for nothing, and OnRetry does not
// report a retry that never happens. A retry due after the breaker's open
// spell is still made, as its probe.
func TestBreakerOpenedByAnAttemptRefusesItsRetryAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter string        // the 503's Retry-After
		openFor    time.Duration // the breaker's
		wantSent   int64
		wantErr    bool
	}{
		{"retry due while open", "", time.Minute, 1, true},
		{"retry-after within the open spell", "5", time.Minute, 1, true},
		{"retry-after past the open spell", "5", time.Second, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var sent atomic.Int64
				var retries atomic.Int64
				f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if sent.Add(1) == 1 {
						if tc.retryAfter != "" {
							w.Header().Set("Retry-After", tc.retryAfter)
						}
						w.WriteHeader(http.StatusServiceUnavailable)
					}
				}), WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1, OpenFor: tc.openFor,
					IsFailure: func(resp *http.Response, err error) bool { return err != nil || resp.StatusCode >= 500 }}),
					WithHooks(Hooks{OnRetry: func(RetryInfo) { retries.Add(1) }}))
				start := time.Now()
				_, err := f.Get(context.Background(), "http://a.test/")
				took := time.Since(start)
				if got := sent.Load(); got != tc.wantSent {
					t.Errorf("sent %d requests; want %d", got, tc.wantSent)
				}
				if !tc.wantErr {
					if err != nil {
						t.Fatalf("the probe after the open spell: %v", err)
					}
					if retries.Load() != 1 {
						t.Errorf("OnRetry ran %d times; want 1", retries.Load())
					}
					return
				}
				if !errors.Is(err, ErrCircuitOpen) {
					t.Fatalf("err = %v; want ErrCircuitOpen", err)
				}
				if se, ok := errors.AsType[*StatusError](err); !ok || se.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("err = %v; want it to carry the 503 that opened the breaker", err)
				}
				if took != 0 {
					t.Errorf("the call took %v; want it to end at once, not after a backoff", took)
				}
				if n := retries.Load(); n != 0 {
					t.Errorf("OnRetry ran %d times for a retry the breaker refused", n)
				}
			})
		})
	}
}
