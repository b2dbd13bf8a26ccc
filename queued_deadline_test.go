package fetch

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
)

// A batch's request that waited in its host's queue (its host's slots held
// by requests that hang) until the deadline fails with the context's error
// alone: it names no gate it was not waiting at, such as the host's
// adaptive rate token (which it was reported under, misleading whoever
// read it on call).
func TestQueuedPastDeadlineNamesNoGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		f, err := New(WithClient(memhttp.Client(hang)), WithHostConcurrency(2),
			WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 100, Initial: 10}),
			WithRetry(RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		urls := []string{"http://a.test/1", "http://a.test/2", "http://a.test/3", "http://a.test/4", "http://a.test/5"}
		for _, r := range f.GetAll(ctx, urls) {
			if msg := r.Err.Error(); !errors.Is(r.Err, context.DeadlineExceeded) || strings.Contains(msg, "token") || strings.Contains(msg, "slot") {
				t.Errorf("%s: %v; want the deadline, naming no gate", r.URL, r.Err)
			}
		}
	})
}
