package fetch

// Defects a review of retries against go-retryablehttp and failsafe-go
// found; each test failed on the code as it was.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// Shutdown promises that a call "waiting to retry" fails at once with
// ErrClosed, "sending nothing more". A retry whose delay is zero (a
// Retry-After of 0, or an HTTP-date in the past) ignores Shutdown: the
// call goes on sending every remaining attempt after Shutdown began.
func TestShutdownStopsZeroDelayRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := make(chan struct{}, 10)
		proceed := make(chan struct{})
		c := count(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			<-proceed
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		f := newMem(t, c) // default policy: 4 attempts
		done := make(chan error)
		go func() {
			_, err := f.Get(context.Background(), "http://a.test/")
			done <- err
		}()
		<-started // the first attempt is on the wire
		shut := make(chan error)
		go func() { shut <- f.Shutdown(context.Background()) }()
		synctest.Wait() // Shutdown has begun and waits for the call
		close(proceed)
		err := <-done
		<-shut
		if n := c.n.Load(); n != 1 {
			t.Errorf("server got %d requests; want 1: nothing may be sent after Shutdown began", n)
		}
		if !errors.Is(err, ErrClosed) {
			t.Errorf("err = %v; want ErrClosed", err)
		}
	})
}

// A host paused by a Retry-After that outlasts the caller's deadline: the
// call knows at once that it cannot be sent in time (as decide knows for
// the call that got the Retry-After, and as the rate gate knows for a
// token), yet it sleeps until the deadline and fails with a plain
// deadline error, not a *RetryAfterError.
func TestPausedHostPastDeadlineFailsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(1, http.StatusServiceUnavailable, http.Header{"Retry-After": {"60"}}))
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 1}))
		f.Get(context.Background(), "http://a.test/") // pauses a.test for 60s
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err := f.Get(ctx, "http://a.test/")
		if took := time.Since(start); took > 0 {
			t.Errorf("took %v waiting for a pause that outlasts the deadline; want to fail at once", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "Retry-After") {
			t.Errorf("err = %v; want one naming the host's Retry-After pause, matching context.DeadlineExceeded", err)
		}
	})
}

// WithAttemptTimeout bounds a Do attempt "until its response body is
// closed", and "an attempt that runs out of time ... matches
// ErrAttemptTimeout"; ErrAttemptTimeout adds that an error matching only
// context.DeadlineExceeded "came from the caller's own deadline". A Do body
// read cut by the attempt's timeout fails with a bare DeadlineExceeded,
// which by that rule blames the caller's (absent) deadline.
func TestDoBodyReadPastAttemptTimeoutMatchesErrAttemptTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer srv.Close()
	f, err := New(WithAttemptTimeout(100 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := f.Do(req) // no caller deadline at all
	if err != nil {
		t.Fatal(err)
	}
	_, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(rerr, ErrAttemptTimeout) {
		t.Errorf("body read error = %v (DeadlineExceeded %v); want it to match ErrAttemptTimeout",
			rerr, errors.Is(rerr, context.DeadlineExceeded))
	}
}
