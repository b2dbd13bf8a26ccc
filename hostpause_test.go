package fetch

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// One tenant's 429 with Retry-After pauses the host for every caller by
// default; with WithHostPause(false) it is the call's alone: the other
// tenant's request goes at once, while the call that got the 429 still
// waits as asked before its retry.
func TestHostPauseOffKeepsRetryAfterToTheCall(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []Option
		other time.Duration // tenant B's request is answered no sooner (0: at once)
	}{
		{"default", nil, 30 * time.Second},
		{"off", []Option{WithHostPause(false)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				refused := false
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("Authorization") == "Bearer A" && !refused {
						refused = true
						w.Header().Set("Retry-After", "30")
						w.WriteHeader(http.StatusTooManyRequests)
						return
					}
				})
				f := newMem(t, h, tc.opts...)
				start := time.Now()
				doneA := make(chan time.Duration)
				go func() {
					_, err := f.Get(t.Context(), "http://api.test/a", Header("Authorization", "Bearer A"))
					if err != nil {
						t.Errorf("tenant A: %v", err)
					}
					doneA <- time.Since(start)
				}()
				synctest.Wait() // A has its 429, and waits to retry
				if _, err := f.Get(t.Context(), "http://api.test/b", Header("Authorization", "Bearer B")); err != nil {
					t.Fatalf("tenant B: %v", err)
				}
				if got := time.Since(start); got < tc.other || tc.other == 0 && got != 0 {
					t.Errorf("tenant B answered after %v; want %v or more (0: at once)", got, tc.other)
				}
				// By default A's retry and B's request wait out the pause
				// together, and the ramp after it may send B first.
				if got := <-doneA; got < 30*time.Second || got > 31*time.Second || tc.other == 0 && got != 30*time.Second {
					t.Errorf("tenant A answered after %v; want 30s, as its Retry-After asked (by default, up to 1s more)", got)
				}
			})
		})
	}
}
