package fetch

// Scenarios written as a user of the library would write them, for a
// service that fans out to many rate-limited, flaky upstream APIs. Time is
// always synctest's fake clock (memhttp transport) or a loopback server
// with channel synchronisation: no wall-clock sleeps.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// svcQuota is an upstream with a fixed limit: a token bucket of burst
// tokens refilled at perSec a second; a request without a token gets 429
// with Retry-After: retryAfter (seconds).
type svcQuota struct {
	mu         sync.Mutex
	perSec     float64
	burst      float64
	tokens     float64
	last       time.Time
	retryAfter string

	latency time.Duration // how long each answer takes, decided on arrival

	ok, refused atomic.Int64
}

func newSvcQuota(perSec, burst float64, retryAfter string) *svcQuota {
	return &svcQuota{perSec: perSec, burst: burst, tokens: burst, last: time.Now(), retryAfter: retryAfter}
}

func (q *svcQuota) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q.mu.Lock()
	now := time.Now()
	q.tokens = min(q.burst, q.tokens+now.Sub(q.last).Seconds()*q.perSec)
	q.last = now
	allowed := q.tokens >= 1
	if allowed {
		q.tokens--
	}
	q.mu.Unlock()
	if q.latency > 0 {
		time.Sleep(q.latency)
	}
	if !allowed {
		q.refused.Add(1)
		if q.retryAfter != "" {
			w.Header().Set("Retry-After", q.retryAfter)
		}
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":"slow down"}`)
		return
	}
	q.ok.Add(1)
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok":true}`)
}

// ---------------------------------------------------------------------------
// Circuit breaker and rate-limited upstreams
// ---------------------------------------------------------------------------

// A rate-limited upstream that answers one call's attempts with 429 and
// "Retry-After: 1" five times, then 200. The retry policy allows 8
// attempts and the library waits out every Retry-After, exactly as the
// server asked. The upstream never failed: it asked the client to slow
// down, and the client did.
//
// Expected: the call succeeds on its 6th attempt. A 429 with Retry-After
// is flow control, not a health signal (Envoy's outlier detection counts
// 5xx, not 429; failsafe-go, when it lets a breaker see a 429 at all, opens
// it only for the Retry-After the server gave, via failsafehttp.DelayFunc).
// The library itself treats a 429 as "overload, slow down" everywhere else
// (overloaded(), the host pause, the adaptive rate), so its own breaker
// should not treat the same answer as "host down".
//
// Actual: DefaultIsFailure counts every 429, so the call's own, correctly
// paced retries open the breaker after the 5th and the 6th attempt is
// refused with *CircuitOpenError; the host then stays cut off for OpenFor
// (30 s) although the server asked for 1 s.
func TestSvcBreakerOpenedByOneCallsPacedRetriesOf429(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) <= 5 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			io.WriteString(w, "ok")
		}), WithRetry(RetryPolicy{MaxAttempts: 8}), WithCircuitBreaker(CircuitBreaker{}))
		defer f.Shutdown(context.Background())

		body, err := f.Get(context.Background(), "http://api.test/v1/items")
		if err != nil {
			t.Fatalf("Get: %v (server saw %d requests); want success on the 6th attempt: "+
				"five 429s with Retry-After, each waited out, are the server pacing the client, not failing", err, n.Load())
		}
		if string(body) != "ok" {
			t.Fatalf("body %q", body)
		}
	})
}

// A burst of concurrent calls meets an upstream with a quota of 5 a
// second (burst 5) that answers the rest with 429 and "Retry-After: 1".
// After the burst, the service waits 2 s (longer than the server asked)
// and calls again.
//
// Expected: the later call is sent and succeeds: the server's quota has
// refilled, and the server said when it would. At worst a breaker that
// counts 429s should stay open for the Retry-After, not for OpenFor.
//
// Actual: the 429s of the burst open the breaker (5 in a row), so calls
// fail fast with *CircuitOpenError for 30 s (OpenFor), though the
// upstream only asked the client to slow down for one second.
func TestSvcBreakerOpenedByBurstOf429WithRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newSvcQuota(5, 5, "1")
		q.latency = 50 * time.Millisecond // the whole burst is in flight before the first 429 comes back
		f := newMem(t, q, WithRetry(RetryPolicy{MaxAttempts: 1}), WithCircuitBreaker(CircuitBreaker{}))
		defer f.Shutdown(context.Background())

		var wg sync.WaitGroup
		var refusedByBreaker atomic.Int64
		for range 20 {
			wg.Go(func() {
				_, err := f.Get(context.Background(), "http://api.test/v1/items")
				if errors.Is(err, ErrCircuitOpen) {
					refusedByBreaker.Add(1)
				}
			})
		}
		wg.Wait()
		time.Sleep(2 * time.Second) // the server asked for 1 s
		_, err := f.Get(context.Background(), "http://api.test/v1/items")
		if err != nil {
			t.Errorf("call 2 s after a burst of 429s with Retry-After: 1: %v; want success "+
				"(breaker: %+v; %d calls of the burst refused by the breaker, server: %d ok, %d refused)",
				err, f.Stats().Hosts, refusedByBreaker.Load(), q.ok.Load(), q.refused.Load())
		}
	})
}

// Control: the same burst without a breaker. The library pauses the host
// for the Retry-After and the later call goes through. This shows the
// failure above is the breaker's alone.
func TestSvcNoBreakerBurstOf429Recovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newSvcQuota(5, 5, "1")
		q.latency = 50 * time.Millisecond
		f := newMem(t, q, WithRetry(RetryPolicy{MaxAttempts: 1}))
		defer f.Shutdown(context.Background())
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() { f.Get(context.Background(), "http://api.test/v1/items") })
		}
		wg.Wait()
		time.Sleep(2 * time.Second)
		if _, err := f.Get(context.Background(), "http://api.test/v1/items"); err != nil {
			t.Fatalf("later call: %v", err)
		}
	})
}

// ---------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------

// A POST with an Idempotency-Key and a body given with Body is retried on
// a 503, and every attempt sends the same bytes and the same key.
func TestSvcPostWithIdempotencyKeyRetriedWithSameBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var seen []string
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			seen = append(seen, r.Header.Get("Idempotency-Key")+"|"+r.Header.Get("Authorization")+"|"+string(b))
			n := len(seen)
			mu.Unlock()
			if n < 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"id":7}`)
		}), WithBearerToken("tok"))
		defer f.Shutdown(context.Background())
		type created struct{ ID int }
		v, err := GetJSON[created](context.Background(), f, "http://api.test/v1/orders",
			Method("POST"), Header("Idempotency-Key", "k-1"), Body("application/json", []byte(`{"qty":2}`)))
		if err != nil || v.ID != 7 {
			t.Fatalf("GetJSON POST: %+v, %v", v, err)
		}
		for i, s := range seen {
			if s != `k-1|Bearer tok|{"qty":2}` {
				t.Errorf("attempt %d sent %q", i+1, s)
			}
		}
		if len(seen) != 3 {
			t.Errorf("server saw %d attempts; want 3", len(seen))
		}
	})
}

// A POST without an Idempotency-Key is not retried, and neither is a
// PATCH; both fail with the first 503.
func TestSvcNonIdempotentNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		defer f.Shutdown(context.Background())
		for _, m := range []string{"POST", "PATCH"} {
			n.Store(0)
			_, err := f.Get(context.Background(), "http://api.test/x", Method(m), Body("text/plain", []byte("x")))
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != 503 || n.Load() != 1 {
				t.Errorf("%s: %v after %d requests; want the 503 after 1", m, err, n.Load())
			}
		}
	})
}

// Retry-After as an HTTP-date is waited out in full, to the second.
func TestSvcRetryAfterHTTPDate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var times []time.Time
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			times = append(times, time.Now())
			if len(times) == 1 {
				w.Header().Set("Retry-After", time.Now().Add(3*time.Second).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ok")
		}))
		defer f.Shutdown(context.Background())
		if _, err := f.Get(context.Background(), "http://api.test/"); err != nil {
			t.Fatal(err)
		}
		if len(times) != 2 || times[1].Sub(times[0]) < 2*time.Second {
			t.Fatalf("retry after %v; want the 3 s (to the second) the date asked for", times[len(times)-1].Sub(times[0]))
		}
	})
}

// A Retry-After beyond MaxRetryAfter fails at once with a RetryAfterError
// naming both, and the host is paused for MaxRetryAfter; a Retry-After past
// the caller's deadline fails at once and matches DeadlineExceeded.
func TestSvcRetryAfterTooLong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.Header().Set("Retry-After", map[string]string{"a.test": "120", "b.test": "30"}[r.Host])
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, "quota exhausted")
		}), WithRetry(RetryPolicy{MaxRetryAfter: time.Minute}))
		defer f.Shutdown(context.Background())
		start := time.Now()
		_, err := f.Get(context.Background(), "http://a.test/")
		var rae *RetryAfterError
		if !errors.As(err, &rae) || rae.Max != time.Minute || rae.RetryAfter != 2*time.Minute || time.Since(start) != 0 {
			t.Fatalf("err %v (%#v) after %v", err, rae, time.Since(start))
		}
		if !strings.Contains(err.Error(), "MaxRetryAfter") || !strings.Contains(err.Error(), "quota exhausted") {
			t.Errorf("message %q should name MaxRetryAfter and the server's body", err)
		}
		if hs := f.Stats().Hosts; len(hs) != 1 || hs[0].PausedUntil.Sub(start) != time.Minute {
			t.Errorf("Hosts %+v; want a.test paused for MaxRetryAfter", hs)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = f.Get(ctx, "http://b.test/")
		if !errors.As(err, &rae) || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 0 {
			t.Fatalf("deadline case: %v after %v", err, time.Since(start))
		}
	})
}

// MaxElapsed: with a 1 s constant backoff and MaxElapsed 2.5 s, a host
// that always answers 503 gets the first attempt, the retry at 1 s and one
// at 2 s; the next wait would pass 2.5 s.
func TestSvcMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.WriteHeader(http.StatusBadGateway)
		}), WithRetry(RetryPolicy{MaxAttempts: 10, BaseDelay: time.Second, MaxDelay: time.Second, Jitter: NoJitter, MaxElapsed: 2500 * time.Millisecond}))
		defer f.Shutdown(context.Background())
		start := time.Now()
		_, err := f.Get(context.Background(), "http://a.test/")
		var se *StatusError
		if !errors.As(err, &se) || n.Load() != 3 || time.Since(start) != 2*time.Second {
			t.Fatalf("err %v after %d requests and %v; want the 502 after 3 and 2 s", err, n.Load(), time.Since(start))
		}
	})
}

// ---------------------------------------------------------------------------
// GetJSON, Handle, HandleURLs
// ---------------------------------------------------------------------------

type svcRT func(*http.Request) (*http.Response, error)

func (f svcRT) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func svcResp(r *http.Request, status int, body io.ReadCloser) *http.Response {
	return &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header: http.Header{"Content-Type": {"application/json"}}, Body: body, Request: r, ContentLength: -1,
		ProtoMajor: 1, ProtoMinor: 1}
}

// svcCutBody yields data, then fails with io.ErrUnexpectedEOF.
type svcCutBody struct{ r io.Reader }

func (b *svcCutBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}
func (b *svcCutBody) Close() error { return nil }

// svcStallBody yields data, then blocks until ctx ends.
type svcStallBody struct {
	r   io.Reader
	ctx context.Context
}

func (b *svcStallBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		<-b.ctx.Done()
		return n, b.ctx.Err()
	}
	return n, err
}
func (b *svcStallBody) Close() error { return nil }

func newSvcRT(t *testing.T, rt svcRT, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(append([]Option{WithClient(&http.Client{Transport: rt})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type svcItem struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// The API's error body is in the StatusError, for a final 4xx and for a
// 503 whose retries ran out; the message shows it.
func TestSvcGetJSONErrorBodies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			switch r.URL.Path {
			case "/bad":
				w.WriteHeader(http.StatusUnprocessableEntity)
				io.WriteString(w, `{"error":"name is required"}`)
			case "/down":
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `{"error":"maintenance"}`)
			}
		}))
		defer f.Shutdown(context.Background())
		_, err := GetJSON[svcItem](context.Background(), f, "http://api.test/bad")
		var se *StatusError
		if !errors.As(err, &se) || string(se.Body) != `{"error":"name is required"}` || !strings.Contains(err.Error(), "name is required") || n.Load() != 1 {
			t.Errorf("422: %v (%+v), %d requests", err, se, n.Load())
		}
		n.Store(0)
		_, err = GetJSON[svcItem](context.Background(), f, "http://api.test/down")
		var fe *Error
		if !errors.As(err, &se) || string(se.Body) != `{"error":"maintenance"}` || !errors.As(err, &fe) || fe.Attempts != 4 || n.Load() != 4 {
			t.Errorf("503: %v (%+v), %d requests", err, se, n.Load())
		}
	})
}

// A JSON body cut short on the wire is retried; bad JSON that came whole
// is not, and wraps the decoder's error.
func TestSvcGetJSONCutAndBad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newSvcRT(t, func(r *http.Request) (*http.Response, error) {
			k := n.Add(1)
			switch {
			case r.URL.Path == "/bad":
				return svcResp(r, 200, io.NopCloser(strings.NewReader(`{"id": "seven"}`))), nil
			case k == 1:
				return svcResp(r, 200, &svcCutBody{strings.NewReader(`{"id":7,"na`)}), nil
			}
			return svcResp(r, 200, io.NopCloser(strings.NewReader(`{"id":7,"name":"x"}`))), nil
		})
		defer f.Shutdown(context.Background())
		v, err := GetJSON[svcItem](context.Background(), f, "http://api.test/cut")
		if err != nil || v.ID != 7 || n.Load() != 2 {
			t.Errorf("cut body: %+v, %v after %d requests; want success on the 2nd", v, err, n.Load())
		}
		n.Store(10)
		_, err = GetJSON[svcItem](context.Background(), f, "http://api.test/bad")
		if err == nil || !strings.Contains(err.Error(), "decoding JSON") || n.Load() != 11 {
			t.Errorf("bad JSON: %v after %d requests", err, n.Load()-10)
		}
	})
}

// The attempt timeout covers the body: a body that stalls half way is an
// attempt timeout, retried; the second attempt's body comes whole.
func TestSvcAttemptTimeoutCoversBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newSvcRT(t, func(r *http.Request) (*http.Response, error) {
			if n.Add(1) == 1 {
				return svcResp(r, 200, &svcStallBody{strings.NewReader(`{"id":7,`), r.Context()}), nil
			}
			return svcResp(r, 200, io.NopCloser(strings.NewReader(`{"id":7,"name":"x"}`))), nil
		}, WithAttemptTimeout(2*time.Second))
		defer f.Shutdown(context.Background())
		start := time.Now()
		v, err := GetJSON[svcItem](context.Background(), f, "http://api.test/slow")
		if err != nil || v.ID != 7 || n.Load() != 2 || time.Since(start) < 2*time.Second {
			t.Errorf("%+v, %v after %d requests, %v", v, err, n.Load(), time.Since(start))
		}
		// With one attempt only, the error is the attempt timeout.
		n.Store(0)
		f2 := newSvcRT(t, func(r *http.Request) (*http.Response, error) {
			return svcResp(r, 200, &svcStallBody{strings.NewReader(`{"id":7,`), r.Context()}), nil
		}, WithAttemptTimeout(2*time.Second), WithRetry(RetryPolicy{MaxAttempts: 1}))
		defer f2.Shutdown(context.Background())
		_, err = GetJSON[svcItem](context.Background(), f2, "http://api.test/slow")
		if !errors.Is(err, ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("stalled body, one attempt: %v; want ErrAttemptTimeout", err)
		}
	})
}

// A handler's own error fails the input at once; one wrapped with
// RetryableError is retried; a non-2xx never reaches the handler and
// carries the error body.
func TestSvcHandleErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls sync.Map // path -> *atomic.Int64
		hit := func(p string) int64 {
			v, _ := calls.LoadOrStore(p, new(atomic.Int64))
			return v.(*atomic.Int64).Add(1)
		}
		get := func(p string) int64 {
			v, _ := calls.LoadOrStore(p, new(atomic.Int64))
			return v.(*atomic.Int64).Load()
		}
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hit(r.URL.Path)
			if r.URL.Path == "/gone" {
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"error":"no such item"}`)
				return
			}
			io.WriteString(w, `{"id":1}`)
		}))
		defer f.Shutdown(context.Background())
		errFinal := errors.New("schema mismatch")
		errFlaky := errors.New("incomplete page")
		var flaky atomic.Int64
		urls := []string{"http://api.test/final", "http://api.test/flaky", "http://api.test/gone"}
		got := map[string]Handled[string, int]{}
		for h := range HandleURLs(context.Background(), f, func(yield func(string) bool) {
			for _, u := range urls {
				if !yield(u) {
					return
				}
			}
		}, func(u string, resp *http.Response) (int, error) {
			switch {
			case strings.HasSuffix(u, "/final"):
				return 0, errFinal
			case strings.HasSuffix(u, "/flaky") && flaky.Add(1) == 1:
				return 0, RetryableError(errFlaky)
			}
			var it svcItem
			return it.ID, svcJSONDecode(resp.Body, &it)
		}) {
			got[h.URL] = h
		}
		if h := got[urls[0]]; !errors.Is(h.Err, errFinal) || h.Attempts != 1 || get("/final") != 1 {
			t.Errorf("final handler error: %+v, server saw %d", h, get("/final"))
		}
		if h := got[urls[1]]; h.Err != nil || h.Attempts != 2 || get("/flaky") != 2 {
			t.Errorf("retryable handler error: %+v, server saw %d", h, get("/flaky"))
		}
		var se *StatusError
		if h := got[urls[2]]; !errors.As(h.Err, &se) || se.StatusCode != 404 || !bytes.Contains(se.Body, []byte("no such item")) || h.Status != 404 {
			t.Errorf("404: %+v", h)
		}
	})
}

func svcJSONDecode(r io.Reader, v any) error {
	_, err := decodeJSON[svcItem](struct{}{}, &http.Response{Body: io.NopCloser(r), Status: "200 OK"})
	return err
}

// ---------------------------------------------------------------------------
// Adaptive rate
// ---------------------------------------------------------------------------

// An upstream allows 20 requests a second (burst 20). The service calls it
// once every 200 ms (5/s, a quarter of the limit, one at a time) for a
// minute, then traffic picks up: 100 concurrent callers, and the upstream
// slows to 300 ms an answer.
//
// Expected (README: "doubles its rate every 500 ms while the host answers
// at about that rate"; "The rate grows only while it is used, so an idle
// spell does not end in a burst"): while the host answers 5/s the rate
// stays near what is used, so when traffic picks up the client probes
// upward from there, as a fresh host does (a fresh Fetcher sees 0 429s in
// the first second of the same surge). This is congestion-window
// validation (RFC 7661): a window that is not used is not grown.
//
// Actual: every success adds ln2/0.5 s ≈ 1.39 req/s to the rate, whether
// or not the rate was the limit, so the minute at 5/s grows it from 10 to
// ≈ 426 req/s (Stats().Hosts). The surge is then let through at ≈ 426/s
// against a 20/s upstream: ≈ 94 429s in its first second, where a fresh
// host gets none.
func TestSvcAdaptiveRateGrowsWhileClientIsSlower(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newSvcQuota(20, 20, "1")
		q.latency = 20 * time.Millisecond
		f := newMem(t, q, WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 1000, Initial: 10}))
		defer f.Shutdown(context.Background())
		for range 300 { // 60 s at 5 requests a second
			if _, err := f.Get(context.Background(), "http://api.test/"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		hs := f.Stats().Hosts
		if len(hs) != 1 {
			t.Fatalf("Hosts %+v", hs)
		}
		learned := hs[0].Rate

		q.latency = 300 * time.Millisecond
		ref0 := q.refused.Load()
		start := time.Now()
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				for i := 0; i < 20 && time.Since(start) < 3*time.Second; i++ {
					f.Get(context.Background(), "http://api.test/")
				}
			})
		}
		time.Sleep(time.Second)
		firstSecond := q.refused.Load() - ref0
		wg.Wait()
		if learned > 40 || firstSecond > 20 {
			t.Errorf("after a minute at 5 req/s the host's rate was %.0f req/s (want ≲ 40: it was never used beyond 5/s), "+
				"and the surge that followed drew %d 429s in its first second from a 20/s upstream (a fresh host draws 0)",
				float64(learned), firstSecond)
		}
	})
}

// An upstream that refuses every other request, whatever the rate: the
// rate goes down to Floor and stays there, and every call still succeeds
// through retries that wait out Retry-After (checked: no call fails when
// MaxAttempts covers the alternation).
func TestSvcAdaptiveAlternating429(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(20 * time.Millisecond)
			if n.Add(1)%2 == 0 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			io.WriteString(w, "ok")
		}), WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 1000, Initial: 10}), WithRetry(RetryPolicy{MaxAttempts: 10}))
		defer f.Shutdown(context.Background())
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range 5 {
			wg.Go(func() {
				for range 4 {
					if _, err := f.Get(context.Background(), "http://api.test/"); err != nil {
						failed.Add(1)
						t.Log(err)
					}
				}
			})
		}
		wg.Wait()
		if hs := f.Stats().Hosts; failed.Load() != 0 || len(hs) != 1 || hs[0].Rate > 2 {
			t.Errorf("%d calls failed; hosts %+v", failed.Load(), hs)
		}
	})
}

// ---------------------------------------------------------------------------
// Stats
// ---------------------------------------------------------------------------

// Stats counts calls by outcome, attempts and retries as documented.
func TestSvcStatsCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var flaky atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/flaky": // 503, then 200
				if flaky.Add(1) == 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
			case "/missing":
				w.WriteHeader(http.StatusNotFound)
				return
			case "/down":
				w.WriteHeader(http.StatusInternalServerError)
				return
			case "/hang":
				<-r.Context().Done()
				return
			}
			io.WriteString(w, "ok")
		}), WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
		defer f.Shutdown(context.Background())
		ctx := context.Background()
		f.Get(ctx, "http://a.test/ok")      // 1 call ok, 1 attempt
		f.Get(ctx, "http://a.test/flaky")   // 1 call ok, 2 attempts, 1 retry
		f.Get(ctx, "http://a.test/missing") // 1 call status, 1 attempt
		f.Get(ctx, "http://a.test/down")    // 1 call status, 2 attempts, 1 retry
		f.Get(ctx, "::bad")                 // 1 call refused, 0 attempts
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		f.Get(tctx, "http://a.test/hang") // 1 call timeout, 1 attempt
		cancel()
		cctx, cancel := context.WithCancel(ctx)
		go func() { synctest.Wait(); cancel() }()
		f.Get(cctx, "http://a.test/hang") // 1 call canceled, 1 attempt
		s := f.Stats()
		want := Stats{Calls: 7, Succeeded: 2, Failed: Failures{Status: 2, Timeout: 1, Canceled: 1, Refused: 1},
			Attempts: 8, Retries: 2}
		if s.Calls != want.Calls || s.Succeeded != want.Succeeded || s.Failed != want.Failed ||
			s.Attempts != want.Attempts || s.Retries != want.Retries || s.Waiting != 0 || s.InFlight != 0 {
			t.Errorf("Stats = %+v\nwant   %+v", s, want)
		}
	})
}

// ---------------------------------------------------------------------------
// Cancellation and Shutdown while waiting
// ---------------------------------------------------------------------------

// A call waiting for a rate token, for a slot, for a backoff and for a
// host's Retry-After pause is counted in Waiting, ends at once with
// context.Canceled when its context is cancelled and with ErrClosed when
// the Fetcher shuts down, having sent nothing more.
func TestSvcCancelAndShutdownWhileWaiting(t *testing.T) {
	type setup struct {
		name string
		opts []Option
		// prime occupies the gate the test call then waits at; it returns
		// a func that frees what it holds (nil: nothing).
		prime func(f *Fetcher) func()
		path  string
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/busy":
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		case "/503":
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})
	setups := []setup{
		{"token", []Option{WithRate(PerMinute(1), 1)}, func(f *Fetcher) func() {
			f.Get(context.Background(), "http://a.test/")
			return nil
		}, "/"},
		{"slot", []Option{WithConcurrency(1)}, func(f *Fetcher) func() {
			resp, err := f.Do(mustGet(t, "http://a.test/"))
			if err != nil {
				t.Fatal(err)
			}
			return func() { resp.Body.Close() }
		}, "/"},
		{"backoff", []Option{WithRetry(RetryPolicy{BaseDelay: time.Minute, Jitter: NoJitter})}, nil, "/503"},
		{"pause", nil, func(f *Fetcher) func() {
			f.Get(context.Background(), "http://a.test/busy", func(r *http.Request) error { r.Header.Set("X", "1"); return nil })
			return nil
		}, "/"},
	}
	for _, s := range setups {
		for _, how := range []string{"cancel", "shutdown"} {
			t.Run(s.name+"/"+how, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var sent atomic.Int64
					f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						sent.Add(1)
						handler(w, r)
					}), append([]Option{WithRetry(RetryPolicy{MaxRetryAfter: 10 * time.Minute, BaseDelay: time.Minute, Jitter: NoJitter})}, s.opts...)...)
					var release func()
					if s.prime != nil {
						release = s.prime(f)
					}
					before := sent.Load()
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					errc := make(chan error, 1)
					go func() {
						_, err := f.Get(ctx, "http://a.test"+s.path)
						errc <- err
					}()
					synctest.Wait()
					if w := f.Stats().Waiting; w != 1 {
						t.Errorf("Waiting = %d while a call waits; want 1", w)
					}
					start := time.Now()
					shut := make(chan error, 1)
					if how == "cancel" {
						cancel()
					} else {
						go func() { shut <- f.Shutdown(context.Background()) }()
					}
					err := <-errc
					if time.Since(start) != 0 {
						t.Errorf("call ended %v after the %s; want at once", time.Since(start), how)
					}
					want := context.Canceled
					if how == "shutdown" {
						want = ErrClosed
					}
					if !errors.Is(err, want) {
						t.Errorf("err = %v; want %v", err, want)
					}
					if s.path != "/503" && sent.Load() != before {
						t.Errorf("the waiting call was sent")
					}
					if release != nil {
						release()
					}
					if how == "shutdown" {
						if err := <-shut; err != nil {
							t.Errorf("Shutdown: %v", err)
						}
					} else {
						f.Shutdown(context.Background())
					}
				})
			})
		}
	}
}
