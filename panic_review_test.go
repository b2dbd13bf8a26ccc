package fetch

// A review of the panic audit's fixes (2347f36): each check runs in the
// test's own process, every panic it provokes being raised on the test's
// goroutine or recovered by the library.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/c989c033/fetch/internal/memhttp"
)

// reviewFrontier is a memory frontier whose Failed panics, counting its
// Close calls.
type reviewFrontier struct {
	Frontier
	closed atomic.Int32
}

func (r *reviewFrontier) Failed(CrawlEntry) { panic("failed boom") }
func (r *reviewFrontier) Close()            { r.closed.Add(1); r.Frontier.Close() }

// A crawl whose loop body panics, and whose frontier's Failed then panics
// too, must still close the frontier: Close is what flushes a shared
// frontier's writes and releases the entries it holds to other processes
// (redisqueue), and what ends a Next that waits.
func TestPanicReviewCrawlFailedPanicStillClosesFrontier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, site(), WithConcurrency(2))
		fr := &reviewFrontier{Frontier: NewMemoryFrontier(0)}
		c, err := NewCrawler(f, CrawlIgnoreRobots(), CrawlFrontier(fr))
		if err != nil {
			t.Fatal(err)
		}
		v := safely(func() {
			for range c.Run(t.Context(), auditURLs...) {
				panic("body boom")
			}
		})
		if v == nil {
			t.Fatal("Run did not panic")
		}
		synctest.Wait()
		if n := fr.closed.Load(); n != 1 {
			t.Errorf("frontier closed %d times; want 1 (its Failed panicked)", n)
		}
		auditClean(t, f)
	})
}

// reviewBody records whether a response body was closed.
type reviewBody struct {
	io.Reader
	closed *atomic.Int32
}

func (b reviewBody) Close() error { b.closed.Add(1); return nil }

// closeTracking is a client whose responses' bodies count their Close.
func closeTracking(h http.Handler, closed *atomic.Int32) Option {
	c := memhttp.Client(h)
	next := c.Transport
	c.Transport = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(r)
		if resp != nil {
			resp.Body = reviewBody{Reader: resp.Body, closed: closed}
		}
		return resp, err
	})
	return WithClient(c)
}

// A breaker's IsFailure that panics on a 2xx Do turns "done, with a
// response" into a failure: Do returns no response, and the response's
// body, which nobody else will close, is closed; the slot is given back.
func TestPanicReviewBreakerPanicOnSuccessClosesBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var closed atomic.Int32
		f, err := New(closeTracking(http.HandlerFunc(ok), &closed), WithConcurrency(1),
			WithCircuitBreaker(CircuitBreaker{IsFailure: func(*http.Response, error) bool { panic("boom") }}))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if resp != nil {
			t.Errorf("Do returned a response (status %d) with its error", resp.StatusCode)
			resp.Body.Close()
		}
		wantPanicErr(t, "Do", err, "IsFailure")
		if n := closed.Load(); n != 1 {
			t.Errorf("response body closed %d times; want 1", n)
		}
		if s := f.Stats(); s.Failed.Other != 1 || s.Succeeded != 0 {
			t.Errorf("stats: %+v; want one failure counted as Other", s)
		}
		auditClean(t, f)
	})
}

// A logger that panics as a 503 is retried fails the call: the 503's body
// is closed, Do returns no response, and nothing is retried.
func TestPanicReviewLoggerPanicOnRetryClosesBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var closed atomic.Int32
		var sent atomic.Int32
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		f, err := New(closeTracking(h, &closed), quickRetry, WithConcurrency(1), WithLogger(slog.New(panicHandler{})))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if resp != nil {
			t.Errorf("Do returned a response (status %d) with its error", resp.StatusCode)
			resp.Body.Close()
		}
		wantPanicErr(t, "Do", err, "logger")
		if n := sent.Load(); n != 1 {
			t.Errorf("%d requests sent; want 1 (the retry fails at the log)", n)
		}
		if n := closed.Load(); n != 1 {
			t.Errorf("response body closed %d times; want 1", n)
		}
		auditClean(t, f)
	})
}

// A refusal joined with the panic of the unsent body's Close still matches
// its sentinel, and is counted as refused.
func TestPanicReviewRefusalJoinedWithClosePanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		req := bodyRequest(t, http.MethodPut, "http://a.test/", 0, true)
		req.URL.Host = "" // invalid
		_, err := f.Do(req)
		if !errors.Is(err, ErrInvalidURL) {
			t.Errorf("invalid URL: %v; want ErrInvalidURL", err)
		}
		wantPanicErr(t, "invalid URL", err, "closing the request body")

		if err := f.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, err = f.Do(bodyRequest(t, http.MethodPut, "http://a.test/", 0, true))
		if !errors.Is(err, ErrClosed) {
			t.Errorf("after Shutdown: %v; want ErrClosed", err)
		}
		wantPanicErr(t, "after Shutdown", err, "closing the request body")
		if s := f.Stats(); s.Failed.Refused != 2 || s.Calls != 2 {
			t.Errorf("stats: %+v; want 2 calls refused", s)
		}
	})
}

// WithHostLimiter's factory panicking once for a host: the callers given
// the host that is not kept send nothing to it (whatever its per-host
// cap, which that host lacks), a Do, a batch and a redirect alike; the
// table holds one host for the name afterwards, and the cap holds.
func TestPanicReviewDetachedHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var panics atomic.Int32 // the factory panics for bad.test while positive
		factory := WithHostLimiter(func(host string) Limiter {
			if host == "bad.test" && panics.Add(-1) >= 0 {
				panic("boom")
			}
			return limiterFunc(func(context.Context) error { return nil })
		})
		var toBad, running, most atomic.Int32
		release := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Host == "good.test" && r.URL.Path == "/redirect" {
				http.Redirect(w, r, "http://bad.test/x", http.StatusFound)
				return
			}
			if r.Host == "bad.test" {
				toBad.Add(1)
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				if r.URL.Path == "/slow" {
					<-release
				}
				running.Add(-1)
			}
			w.Write([]byte("ok"))
		})
		f := newMem(t, h, factory, WithHostConcurrency(1), WithConcurrency(4))

		// Do.
		panics.Store(1)
		_, err := f.Do(mustGet(t, "http://bad.test/"))
		wantPanicErr(t, "Do", err, "WithHostLimiter")
		// A redirect to it.
		panics.Store(1)
		_, err = f.Do(mustGet(t, "http://good.test/redirect"))
		var pe *PanicError
		if !errors.As(err, &pe) {
			t.Errorf("redirect: %v; want the factory's panic", err)
		}
		if n := toBad.Load(); n != 0 {
			t.Errorf("%d requests sent to bad.test through a host not kept", n)
		}
		if n := f.gates.hosts.len(); n != 1 { // good.test
			t.Errorf("table holds %d hosts; want 1", n)
		}

		// A batch whose host queue was made with the host not kept, then
		// a call that finds the factory well: the cap of 1 holds.
		panics.Store(1)
		done := make(chan []Result)
		go func() {
			done <- f.GetAll(t.Context(), []string{"http://bad.test/slow", "http://bad.test/slow", "http://bad.test/slow"})
		}()
		synctest.Wait()
		close(release)
		res := <-done
		failed := 0
		for _, r := range res {
			if r.Err != nil {
				if !errors.As(r.Err, &pe) {
					t.Errorf("%s: %v", r.URL, r.Err)
				}
				failed++
			}
		}
		if m := most.Load(); m > 1 {
			t.Errorf("%d requests to bad.test at once; WithHostConcurrency(1)", m)
		}
		if int(toBad.Load())+failed != len(res) {
			t.Errorf("%d sent + %d failed; want %d", toBad.Load(), failed, len(res))
		}
		if s := f.Stats(); slices.ContainsFunc(s.Hosts, func(h HostStats) bool { return strings.Contains(h.Host, "bad") && h.Host != "bad.test" }) {
			t.Errorf("stats hosts: %+v", s.Hosts)
		}
		auditClean(t, f)
	})
}
