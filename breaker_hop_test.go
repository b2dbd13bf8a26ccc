package fetch

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// A host reached through a redirect is judged by its own circuit breaker:
// its failures open it, and the host that redirected is not blamed.
func TestBreakerCountsTheHostARedirectLeadsTo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var bHits atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Host == "a.test" {
				http.Redirect(w, r, "http://b.test/", http.StatusFound)
				return
			}
			bHits.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		})
		f := newMem(t, h, WithRetry(RetryPolicy{MaxAttempts: 1}),
			WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 2}))
		for range 5 {
			f.Get(context.Background(), "http://a.test/")
		}
		if n := bHits.Load(); n != 2 {
			t.Errorf("b.test got %d requests; want 2, its breaker open after them", n)
		}
		if _, err := f.Get(context.Background(), "http://b.test/"); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("a call to b.test after its breaker opened: %v; want ErrCircuitOpen", err)
		}
		// a.test only redirected: its breaker stays closed, and a call to
		// it is refused at b.test's hop.
		var coe *CircuitOpenError
		if _, err := f.Get(context.Background(), "http://a.test/"); !errors.As(err, &coe) || coe.Host != "b.test" {
			t.Errorf("a call to a.test: %v; want b.test's CircuitOpenError at the redirect", err)
		}
	})
}
