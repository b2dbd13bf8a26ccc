package fetch

// Ports of go-resty/resty's retry- and request-related tests onto fetch's
// API, tests named TestPortRS<OriginalName>:
//
//   - v2 branch (commit c34e4605f4d5a775371be242ba0debb2705eb6d2, v2.16.2):
//     retry_test.go, context_test.go, and the retry, timeout, auth, header
//     and query cases of client_test.go and request_test.go, with the
//     servers of resty_test.go (createGetServer, createPostServer,
//     createFilePostServer, createAuthServer);
//   - v3 branch (commit e7bb2cd59984dd5bfbf9957ddd1912c63093bd5a)
//     retry_test.go, for the Retry-After and timeout cases v2 lacks
//     (marked "v3").
//
// The mapping: SetRetryCount(n) is MaxAttempts n+1; AddRetryCondition is a
// custom RetryPolicy.Retryable (resty's conditions are asked about every
// attempt, 2xx included, as fetch's Retryable is); SetRetryWaitTime and
// SetRetryMaxWaitTime are BaseDelay and MaxDelay, and resty's jitter (half
// the capped exponential delay plus up to as much again, floored at the
// wait time) is EqualJitter, or DecorrelatedJitter where a case needs every
// wait within [wait time, max wait time]; AddRetryHook is Hooks.OnRetry;
// SetTimeout, which resty v2 sets as http.Client.Timeout and so bounds each
// attempt, is WithAttemptTimeout; SetContext with a deadline is the
// request's context; SetHeader and SetAuthToken are WithHeader (or the
// per-call Header) and WithBearerToken; request bodies re-sent on retry are
// Body or a request whose GetBody is set. resty's SetRetryAfter callback
// has no counterpart: the server's Retry-After is what fetch waits for, so
// those cases send one.
//
// Everything about time runs in a testing/synctest bubble over the
// in-memory transport; cases about the wire (flushed heads, query
// encoding, Host) use a loopback httptest server. Where fetch deliberately
// differs from resty (as its documentation says), the case asserts what
// fetch documents and says what resty expects instead.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
)

// restySlow is resty's /set-retrycount-test and /set-timeout-test: its first
// slow requests take d (or until the client gives up), the rest answer body
// at once.
func restySlow(slow int64, d time.Duration, body string) *counter {
	var n atomic.Int64
	return count(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= slow {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		w.Write([]byte(body))
	})
}

// restyAlways is resty's AddRetryCondition(func(*Response, error) bool { return true }).
func restyAlways(*http.Response, error) bool { return true }

// restyRecover is resty's /set-retry-error-recover: a JSON 429 "too many"
// first (with Retry-After if retryAfter is set, as v3's /retry-after-delay
// sends), then a JSON 200 "hello".
func restyRecover(retryAfter string) *counter {
	var n atomic.Int64
	return count(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if n.Add(1) == 1 {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{ "message": "too many" }`))
			return
		}
		w.Write([]byte(`{ "message": "hello" }`))
	})
}

type restyMessage struct {
	Message string `json:"message"`
}

// restyWithin fails t unless every gap lies in [lo, hi].
func restyWithin(t *testing.T, gaps []time.Duration, lo, hi time.Duration) {
	t.Helper()
	for i, g := range gaps {
		if g < lo || g > hi {
			t.Errorf("slept %v before retry %d; want within [%v, %v] (all: %v)", g, i+1, lo, hi, gaps)
		}
	}
}

// ---------------------------------------------------------------------------
// retry_test.go: Backoff
// ---------------------------------------------------------------------------

// From TestBackoffSuccess: an operation that fails twice then succeeds is
// tried 3 times, within resty's default 3 retries (MaxAttempts 4).
func TestPortRSBackoffSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &portRefusing{next: memhttp.Transport{Handler: http.HandlerFunc(ok)}}
		tr.refusals.Store(2)
		f := newMem(t, nil, WithClient(&http.Client{Transport: tr}), WithRetry(RetryPolicy{MaxAttempts: 3 + 1}))
		body, err := f.Get(context.Background(), "http://a.test/")
		if err != nil || string(body) != "ok" {
			t.Fatalf("Get: %q, %v; want ok", body, err)
		}
		if tr.tries.Load() != 3 {
			t.Errorf("%d tries; want 3", tr.tries.Load())
		}
	})
}

// From TestBackoffNoWaitForLastRetry: no wait follows the last attempt, so
// a context cancelled once the last attempt is in does not turn its
// outcome into context.Canceled. (resty also runs its retry hooks after the
// last attempt "to keep compatibility"; fetch's OnRetry runs only before a
// wait, as Hooks documents.)
func TestPortRSBackoffNoWaitForLastRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := count(ok)
		var retries atomic.Int64
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 1 + 1, BaseDelay: time.Second, Jitter: NoJitter, Retryable: restyAlways}),
			WithHooks(Hooks{
				OnAttempt: func(a AttemptInfo) {
					if a.Attempt == 2 {
						cancel() // Backoff returns context canceled if it sleeps after the last retry
					}
				},
				OnRetry: func(RetryInfo) { retries.Add(1) },
			}))
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://a.test/", nil)
		start := time.Now()
		resp, err := f.Do(req)
		if err != nil {
			t.Fatalf("Do: %v; want the last response", err)
		}
		resp.Body.Close()
		if took := time.Since(start); took != time.Second || c.n.Load() != 2 || retries.Load() != 1 {
			t.Errorf("took %v, %d requests, %d OnRetry; want 1s (one wait), 2, 1", took, c.n.Load(), retries.Load())
		}
	})
}

// From TestBackoffTenAttemptsSuccess: Retries(10), WaitTime(5) and
// MaxWaitTime(500), which resty reads as nanoseconds; 9 failures, then a
// success on the 10th attempt.
func TestPortRSBackoffTenAttemptsSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &portRefusing{next: memhttp.Transport{Handler: http.HandlerFunc(ok)}}
		tr.refusals.Store(9)
		f := newMem(t, nil, WithClient(&http.Client{Transport: tr}),
			WithRetry(RetryPolicy{MaxAttempts: 10 + 1, BaseDelay: 5, MaxDelay: 500}))
		if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		if tr.tries.Load() != 10 {
			t.Errorf("%d tries; want 10", tr.tries.Load())
		}
	})
}

// From TestConditionalBackoffCondition: a condition that asks for retries
// until the third attempt is used, even for 2xx responses.
func TestPortRSConditionalBackoffCondition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, WithRetry(RetryPolicy{Retryable: func(*http.Response, error) bool { return c.n.Load() != 3 }}))
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if c.n.Load() != 3 || resp.StatusCode != 200 {
			t.Errorf("%d requests, status %d; want 3, 200", c.n.Load(), resp.StatusCode)
		}
	})
}

// From TestConditionalBackoffConditionNonExecution: a condition that says
// no is obeyed, even for an error the default would retry.
func TestPortRSConditionalBackoffConditionNonExecution(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &portRefusing{next: memhttp.Transport{Handler: http.HandlerFunc(ok)}}
		tr.refusals.Store(100)
		filler := func(*http.Response, error) bool { return false }
		f := newMem(t, nil, WithClient(&http.Client{Transport: tr}), WithRetry(RetryPolicy{Retryable: filler}))
		_, err := f.Get(context.Background(), "http://a.test/")
		if !errors.Is(err, syscall.ECONNREFUSED) || tr.tries.Load() != 1 {
			t.Fatalf("err %v after %d tries; want the refusal after 1", err, tr.tries.Load())
		}
	})
}

// From TestOnRetryBackoff: no retry, no retry hook.
func TestPortRSOnRetryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hooks atomic.Int64
		c := count(ok)
		f := newMem(t, c, WithHooks(Hooks{OnRetry: func(RetryInfo) { hooks.Add(1) }}))
		if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		if hooks.Load() != 0 || c.n.Load() != 1 {
			t.Errorf("%d OnRetry, %d requests; want 0, 1", hooks.Load(), c.n.Load())
		}
	})
}

// From TestConditionalGet (and TestConditionalGetDefaultClient, the same
// case on resty's default client): a condition asked once, about the 200,
// lets it through; the query parameter resty adds with SetQueryParam is
// part of the URL.
func TestPortRSConditionalGet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var query atomic.Value
		c := count(func(w http.ResponseWriter, r *http.Request) {
			query.Store(r.URL.RawQuery)
			w.Write([]byte("TestGet: text response"))
		})
		var calls atomic.Int64
		check := func(*http.Response, error) bool { return calls.Add(1) != 1 }
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 1 + 1, Retryable: check}))
		no := strconv.FormatInt(time.Now().Unix(), 10)
		res := f.Fetch(context.Background(), "http://a.test/?request_no="+no)
		if res.Err != nil || res.Status != 200 || string(res.Body) != "TestGet: text response" {
			t.Fatalf("Fetch: %d %q %v; want 200 TestGet: text response", res.Status, res.Body, res.Err)
		}
		if calls.Load() != 1 || c.n.Load() != 1 || res.Attempts != 1 {
			t.Errorf("condition asked %d times, %d requests, Attempts %d; want 1, 1, 1", calls.Load(), c.n.Load(), res.Attempts)
		}
		if q, _ := query.Load().(string); q != "request_no="+no {
			t.Errorf("query %q; want request_no=%s", q, no)
		}
	})
}

// ---------------------------------------------------------------------------
// retry_test.go: the client
// ---------------------------------------------------------------------------

// From TestClientRetryGet: SetTimeout(3s), SetRetryCount(3), a server that
// takes 6s: four attempts time out, and the error names the request with
// no response. resty's message starts `Get "<url>"`; fetch's, as *Error
// documents, `fetch: GET <url>`.
func TestPortRSClientRetryGet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := restySlow(4, 6*time.Second, "TestClientRetry page")
		f := newMem(t, c, WithAttemptTimeout(3*time.Second), WithRetry(RetryPolicy{MaxAttempts: 3 + 1}))
		const u = "http://a.test/set-retrycount-test"
		res := f.Fetch(context.Background(), u)
		if res.Status != 0 || len(res.Header) != 0 || len(res.Body) != 0 {
			t.Errorf("result %d %v %q; want no response", res.Status, res.Header, res.Body)
		}
		if !errors.Is(res.Err, ErrAttemptTimeout) || !errors.Is(res.Err, context.DeadlineExceeded) {
			t.Fatalf("err %v; want ErrAttemptTimeout", res.Err)
		}
		if res.Attempts != 4 || c.n.Load() != 4 {
			t.Errorf("Attempts %d, %d requests; want 4, 4", res.Attempts, c.n.Load())
		}
		if !strings.HasPrefix(res.Err.Error(), "fetch: GET "+u) {
			t.Errorf("err %q; want it to start with the method and URL", res.Err)
		}
	})
}

// From TestClientRetryWait: 5 retries with waits of 50ms to 150ms; each
// wait lies in that range. resty's jitter never goes below the wait time;
// fetch's DecorrelatedJitter never goes below BaseDelay nor above MaxDelay,
// and NoJitter doubles up to the cap. (EqualJitter, resty's shape, may
// wait half of BaseDelay, as fetch documents it.)
func TestPortRSClientRetryWait(t *testing.T) {
	for _, tc := range []struct {
		name   string
		jitter Jitter
		exact  []time.Duration
	}{
		{"decorrelated", DecorrelatedJitter, nil},
		{"none", NoJitter, []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond, 150 * time.Millisecond, 150 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(ok)
				var asked atomic.Int64
				f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 5 + 1, BaseDelay: 50 * time.Millisecond,
					MaxDelay: 150 * time.Millisecond, Jitter: tc.jitter,
					Retryable: func(*http.Response, error) bool { asked.Add(1); return true }}))
				res := f.Fetch(context.Background(), "http://a.test/set-retrywaittime-test")
				if res.Err != nil || res.Attempts != 6 || c.n.Load() != 6 {
					t.Fatalf("err %v, Attempts %d, %d requests; want success after 6", res.Err, res.Attempts, c.n.Load())
				}
				gaps := portGaps(c.times())
				restyWithin(t, gaps, 50*time.Millisecond, 150*time.Millisecond)
				if tc.exact != nil && fmt.Sprint(gaps) != fmt.Sprint(tc.exact) {
					t.Errorf("gaps %v; want %v", gaps, tc.exact)
				}
			})
		})
	}
}

// From TestClientRetryWaitMaxInfinite: resty reads a negative max wait as
// no cap. fetch refuses a negative MaxDelay (RetryPolicy: "negative
// duration"); its widest cap is a large MaxDelay, under which every wait is
// still at least BaseDelay with DecorrelatedJitter.
func TestPortRSClientRetryWaitMaxInfinite(t *testing.T) {
	if _, err := New(WithRetry(RetryPolicy{MaxDelay: -1})); err == nil {
		t.Error("New accepted MaxDelay -1; RetryPolicy documents it as out of range")
	}
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 5 + 1, BaseDelay: 100 * time.Millisecond,
			MaxDelay: 1 << 40, Jitter: DecorrelatedJitter, Retryable: restyAlways}))
		if _, err := f.Get(context.Background(), "http://a.test/set-retrywaittime-test"); err != nil {
			t.Fatal(err)
		}
		gaps := portGaps(c.times())
		if len(gaps) != 5 {
			t.Fatalf("%d retries; want 5", len(gaps))
		}
		restyWithin(t, gaps, 100*time.Millisecond, 1<<40)
	})
}

// From TestClientRetryWaitMaxMinimum: a max wait of 1ns, one retry, a
// condition that always retries: the call ends with the second 200, no
// error.
func TestPortRSClientRetryWaitMaxMinimum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 1 + 1, MaxDelay: time.Nanosecond, Retryable: restyAlways}))
		if _, err := f.Get(context.Background(), "http://a.test/set-retrywaittime-test"); err != nil {
			t.Fatal(err)
		}
		if g := portGaps(c.times()); len(g) != 1 || g[0] > time.Nanosecond {
			t.Errorf("gaps %v; want one of at most 1ns", g)
		}
	})
}

// From TestClientRetryWaitCallbackError: resty's RetryAfter callback
// returns an error ("quota exceeded"), which ends the call after one
// attempt with an error. fetch's counterpart is a server asking for a wait
// beyond MaxRetryAfter: the call fails at once with a *RetryAfterError.
func TestPortRSClientRetryWaitCallbackError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, http.StatusTooManyRequests, http.Header{"Retry-After": {"3600"}}))
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 5 + 1, BaseDelay: 50 * time.Millisecond,
			MaxDelay: 150 * time.Millisecond, MaxRetryAfter: time.Minute, Retryable: restyAlways}))
		start := time.Now()
		_, err := f.Get(context.Background(), "http://a.test/set-retrywaittime-test")
		var rae *RetryAfterError
		if !errors.As(err, &rae) || rae.Max != time.Minute || c.n.Load() != 1 {
			t.Fatalf("err %v after %d requests; want a *RetryAfterError with Max 1m after 1", err, c.n.Load())
		}
		if took := time.Since(start); took != 0 {
			t.Errorf("returned after %v; want at once", took)
		}
	})
}

// From TestClientRetryWaitCallback, TestClientRetryWaitCallbackTooShort and
// TestClientRetryWaitCallbackTooLong: the wait the server asks for (resty:
// its RetryAfter callback) is the wait. resty clamps it into [wait time,
// max wait time]; fetch waits out a Retry-After in full, below BaseDelay
// or beyond MaxDelay, which caps only the backoff (RetryPolicy:
// MaxRetryAfter bounds what a server may ask for). resty's own cases only
// log the waits.
func TestPortRSClientRetryWaitCallback(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter string
		base, max  time.Duration
		want       time.Duration
	}{
		{"in range", "1", time.Second, 3 * time.Second, time.Second},
		{"too short", "1", 2 * time.Second, 3 * time.Second, time.Second},       // resty: 2s
		{"too long", "3", 100 * time.Millisecond, time.Second, 3 * time.Second}, // resty: 1s
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(failing(100, http.StatusServiceUnavailable, http.Header{"Retry-After": {tc.retryAfter}}))
				f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 5 + 1, BaseDelay: tc.base, MaxDelay: tc.max, Retryable: restyAlways}))
				res := f.Fetch(context.Background(), "http://a.test/set-retrywaittime-test")
				if res.Status != 503 || res.Attempts != 6 {
					t.Fatalf("status %d after %d attempts (%v); want 503 after 6", res.Status, res.Attempts, res.Err)
				}
				restyWithin(t, portGaps(c.times()), tc.want, tc.want)
			})
		})
	}
}

// From TestClientRetryWaitCallbackSwitchToDefault: with no wait asked for,
// the backoff decides: EqualJitter (resty's shape) waits between half and
// all of 1s·2^(i-1), capped at 3s; 6 attempts are made and counted.
func TestPortRSClientRetryWaitCallbackSwitchToDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		var last atomic.Int64
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 5 + 1, BaseDelay: time.Second, MaxDelay: 3 * time.Second,
			Jitter: EqualJitter, Retryable: restyAlways}), WithHooks(Hooks{OnAttempt: func(a AttemptInfo) { last.Store(int64(a.Attempt)) }}))
		res := f.Fetch(context.Background(), "http://a.test/set-retrywaittime-test")
		if res.Err != nil || res.Attempts != 6 || last.Load() != 6 {
			t.Fatalf("err %v, Attempts %d, last AttemptInfo.Attempt %d; want success, 6, 6", res.Err, res.Attempts, last.Load())
		}
		for i, g := range portGaps(c.times()) {
			expected := min(time.Second<<i, 3*time.Second)
			if g < expected/2 || g > expected {
				t.Errorf("slept %v before retry %d; want within [%v, %v]", g, i+1, expected/2, expected)
			}
		}
	})
}

// From TestClientRetryCancel: waits of 10s to 20s and a context deadline of
// 2s: one attempt, and the call does not sleep through the deadline. resty
// sleeps until the deadline and returns context.DeadlineExceeded; fetch
// fails at once, as its Failure behaviour table says ("the next backoff
// past the caller's deadline"), with an error matching it.
func TestPortRSClientRetryCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 5 + 1, BaseDelay: 10 * time.Second,
			MaxDelay: 20 * time.Second, Jitter: DecorrelatedJitter, Retryable: restyAlways}))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://a.test/set-retrywaittime-test", nil)
		start := time.Now()
		resp, err := f.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, context.DeadlineExceeded) || c.n.Load() != 1 {
			t.Fatalf("err %v after %d requests; want context.DeadlineExceeded after 1", err, c.n.Load())
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("returned after %v; want no later than the 2s deadline", took)
		}
	})
}

// From TestClientRetryPost: a POST of JSON to a server that echoes it with
// a 500, retried 3 times on status >= 500: the final response echoes the
// body. resty v2 retries every method; fetch retries a POST only with
// RetryNonIdempotent (or an Idempotency-Key), as RetryPolicy documents,
// and then re-sends the same bytes every time.
func TestPortRSClientRetryPost(t *testing.T) {
	users := []map[string]any{{"user1": map[string]any{"FirstName": "firstname1", "LastName": "lastname1", "ZipCode": "10001"}}}
	payload, _ := json.Marshal(users)
	for _, tc := range []struct {
		name   string
		policy RetryPolicy
		want   int64
	}{
		{"default", RetryPolicy{}, 1},
		{"RetryNonIdempotent", RetryPolicy{RetryNonIdempotent: true}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					if r.Method != http.MethodPost || r.URL.Query().Get("status") != "500" || !bytes.Equal(body, payload) ||
						r.Header.Get("Content-Type") != "application/json" {
						t.Errorf("request %s %s %q %q", r.Method, r.URL, r.Header.Get("Content-Type"), body)
					}
					w.Header().Set("Content-Type", "application/json; charset=utf-8")
					w.WriteHeader(http.StatusInternalServerError)
					w.Write(body)
				})
				p := tc.policy
				p.MaxAttempts = 3 + 1
				p.Retryable = func(resp *http.Response, err error) bool { return resp != nil && resp.StatusCode >= 500 }
				f := newMem(t, c, WithRetry(p))
				res := f.Fetch(context.Background(), "http://a.test/usersmap?status=500", Method("POST"), Body("application/json", payload))
				var se *StatusError
				if !errors.As(res.Err, &se) || res.Status != 500 || c.n.Load() != tc.want {
					t.Fatalf("status %d, err %v, %d requests; want 500 after %d", res.Status, res.Err, c.n.Load(), tc.want)
				}
				var echoed []map[string]any
				if err := json.Unmarshal(res.Body, &echoed); err != nil || fmt.Sprint(echoed) != fmt.Sprint(users) {
					t.Errorf("echoed body %s (%v); want the request body", res.Body, err)
				}
			})
		})
	}
}

// From TestClientRetryErrorRecover: a condition that reads the error body
// (resty parses it into SetError's type) retries a 429 saying "too many";
// the call then succeeds with "hello".
func TestPortRSClientRetryErrorRecover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := restyRecover("")
		cond := func(resp *http.Response, err error) bool {
			if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
				return false
			}
			var m restyMessage
			return json.NewDecoder(resp.Body).Decode(&m) == nil && m.Message == "too many"
		}
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 2 + 1, Retryable: cond}))
		got, err := GetJSON[restyMessage](context.Background(), f, "http://a.test/set-retry-error-recover",
			Header("Content-Type", "application/json; charset=utf-8"))
		if err != nil || got.Message != "hello" || c.n.Load() != 2 {
			t.Fatalf("GetJSON: %+v, %v after %d requests; want hello after 2", got, err, c.n.Load())
		}
	})
}

// From TestClientRetryCount (v2) and TestClientRetryCountWithTimeout (v3):
// SetTimeout, one retry, a condition that always retries, a server slower
// than the timeout: 2 attempts, an error matching
// context.DeadlineExceeded, no response. resty asks its condition after
// the last attempt too (2 calls); fetch asks Retryable only while an
// attempt remains, so once.
func TestPortRSClientRetryCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := restySlow(4, 6*time.Second, "TestClientRetry page")
		var asked atomic.Int64
		f := newMem(t, c, WithAttemptTimeout(3*time.Second), WithRetry(RetryPolicy{MaxAttempts: 1 + 1,
			Retryable: func(*http.Response, error) bool { asked.Add(1); return true }}))
		res := f.Fetch(context.Background(), "http://a.test/set-retrycount-test")
		if !errors.Is(res.Err, context.DeadlineExceeded) || !errors.Is(res.Err, ErrAttemptTimeout) || res.Status != 0 {
			t.Fatalf("status %d, err %v; want no response and an attempt timeout", res.Status, res.Err)
		}
		if res.Attempts != 2 || c.n.Load() != 2 || asked.Load() != 1 {
			t.Errorf("Attempts %d, %d requests, condition asked %d times; want 2, 2, 1", res.Attempts, c.n.Load(), asked.Load())
		}
	})
}

// From TestClientErrorRetry (v2), TestClientRetryTooManyRequestsAndRecover
// and TestRetryTooManyRequestsHeaderRetryAfter (v3): a 429 (with or
// without Retry-After: 1) then a 200 "hello": one retry recovers, with
// resty's AddRetryAfterErrorCondition (retry any status > 399) or with
// fetch's default classifier; Retry-After: 1 is waited out.
func TestPortRSClientErrorRetry(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter string
		retryable  func(*http.Response, error) bool
		gap        time.Duration
	}{
		{"error condition", "", func(resp *http.Response, err error) bool { return err != nil || resp.StatusCode > 399 }, 0},
		{"default", "", nil, 0},
		{"Retry-After", "1", nil, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := restyRecover(tc.retryAfter)
				f := newMem(t, c, WithAttemptTimeout(time.Second),
					WithRetry(RetryPolicy{MaxAttempts: 2 + 1, Jitter: NoJitter, Retryable: tc.retryable}))
				got, err := GetJSON[restyMessage](context.Background(), f, "http://a.test/set-retry-error-recover")
				if err != nil || got.Message != "hello" || c.n.Load() != 2 {
					t.Fatalf("GetJSON: %+v, %v after %d requests; want hello after 2", got, err, c.n.Load())
				}
				if tc.gap > 0 {
					if g := portGaps(c.times()); len(g) != 1 || g[0] != tc.gap {
						t.Errorf("gaps %v; want [%v]", g, tc.gap)
					}
				}
			})
		})
	}
}

// From TestClientRetryHook (v2) and TestClientRetryHookWithTimeout (v3):
// two retries of a request that times out. resty runs its hook after every
// attempt that its conditions would retry, the last included (3 times);
// fetch's OnRetry runs before each wait (Hooks: "when an attempt is to be
// retried, before the wait"), so twice, each with the attempt's timeout.
func TestPortRSClientRetryHook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := restySlow(4, 6*time.Second, "TestClientRetry page")
		var mu sync.Mutex
		var infos []RetryInfo
		f := newMem(t, c, WithAttemptTimeout(3*time.Second), WithRetry(RetryPolicy{MaxAttempts: 2 + 1}),
			WithHooks(Hooks{OnRetry: func(ri RetryInfo) { mu.Lock(); infos = append(infos, ri); mu.Unlock() }}))
		res := f.Fetch(context.Background(), "http://a.test/set-retrycount-test")
		if !errors.Is(res.Err, context.DeadlineExceeded) || res.Status != 0 || res.Attempts != 3 {
			t.Fatalf("status %d, err %v, Attempts %d; want an attempt timeout after 3", res.Status, res.Err, res.Attempts)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(infos) != 2 {
			t.Fatalf("OnRetry ran %d times; want 2", len(infos))
		}
		for i, ri := range infos {
			if ri.Attempt != i+1 || ri.Status != 0 || !errors.Is(ri.Err, ErrAttemptTimeout) {
				t.Errorf("OnRetry %d: attempt %d, status %d, err %v; want attempt %d, 0, ErrAttemptTimeout", i, ri.Attempt, ri.Status, ri.Err, i+1)
			}
		}
	})
}

// restyFailingSeeker is resty's failingSeeker: reads work, seeking back to
// the start fails.
type restyFailingSeeker struct{ r *bytes.Reader }

var errRestySeekFailure = errors.New("failing seek test")

func (f restyFailingSeeker) Read(b []byte) (int, error) { return f.r.Read(b) }

func (f restyFailingSeeker) Seek(offset int64, whence int) (int64, error) {
	if offset == 0 && whence == io.SeekStart {
		return 0, errRestySeekFailure
	}
	return f.r.Seek(offset, whence)
}

// From TestResetMultipartReaderSeekStartError: a body that cannot be
// rewound for the retry ends the call with the rewind's error. resty also
// returns the 500 response; fetch's Do, as http.Client.Do, returns no
// response with an error. (resty resets multipart file readers; fetch
// rewinds any body through GetBody.)
func TestPortRSResetMultipartReaderSeekStartError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{ "message": "error" }`))
		})
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 2 + 1,
			Retryable: func(resp *http.Response, err error) bool { return err != nil || resp.StatusCode > 399 }}))
		s := restyFailingSeeker{bytes.NewReader([]byte("test"))}
		req, _ := http.NewRequest(http.MethodPut, "http://a.test/set-reset-multipart-readers-test", s)
		req.GetBody = func() (io.ReadCloser, error) {
			if _, err := s.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
			return io.NopCloser(s), nil
		}
		resp, err := f.Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		if !errors.Is(err, errRestySeekFailure) || resp != nil || c.n.Load() != 1 {
			t.Fatalf("resp %v, err %v after %d requests; want the seek failure after 1", resp, err, c.n.Load())
		}
	})
}

// From TestResetMultipartReaders: every retry sends the whole body again.
// (resty's hook then reads the reset reader itself; fetch's hooks must not
// touch the request, so the server checks instead.)
func TestPortRSResetMultipartReaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var bodies []string
		var mu sync.Mutex
		c := count(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
			w.WriteHeader(http.StatusInternalServerError)
		})
		var hooks atomic.Int64
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 2 + 1,
			Retryable: func(resp *http.Response, err error) bool { return err != nil || resp.StatusCode > 399 }}),
			WithHooks(Hooks{OnRetry: func(RetryInfo) { hooks.Add(1) }}))
		req, _ := http.NewRequest(http.MethodPut, "http://a.test/set-reset-multipart-readers-test", bytes.NewReader([]byte("test")))
		resp, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		if resp.StatusCode != 500 || fmt.Sprint(bodies) != "[test test test]" || hooks.Load() != 2 {
			t.Errorf("status %d, bodies %q, %d OnRetry; want 500, three times test, 2", resp.StatusCode, bodies, hooks.Load())
		}
	})
}

// From TestRequestGH917 (request_test.go): 100 goroutines each POST a
// *bytes.Buffer body 10 times to a server that always answers 500, with 3
// retries: every attempt carries the whole body (resty's bug was a buffer
// reused between requests), and each call ends with the 500 and its empty
// body. fetch retries a POST only with RetryNonIdempotent.
func TestPortRSRequestGH917(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var bad atomic.Int64
		c := count(func(w http.ResponseWriter, r *http.Request) {
			if b, err := io.ReadAll(r.Body); err != nil || string(b) != "test" {
				bad.Add(1)
			}
			w.WriteHeader(http.StatusInternalServerError)
		})
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 3 + 1, RetryNonIdempotent: true,
			Retryable: func(resp *http.Response, err error) bool { return err != nil || resp.StatusCode > 499 }}))
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range 100 {
			wg.Go(func() {
				for range 10 {
					req, _ := http.NewRequest(http.MethodPost, "http://a.test/", bytes.NewBufferString("test"))
					resp, err := f.Do(req)
					if err != nil {
						failed.Add(1)
						continue
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 500 || len(b) != 0 {
						failed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if bad.Load() != 0 || failed.Load() != 0 || c.n.Load() != 100*10*4 {
			t.Errorf("%d bodies wrong, %d calls not ending in an empty 500, %d requests; want 0, 0, 4000",
				bad.Load(), failed.Load(), c.n.Load())
		}
	})
}

// ---------------------------------------------------------------------------
// context_test.go
// ---------------------------------------------------------------------------

// From TestSetContext and TestSetContextWithError: a live context; a 400
// is not retried, and Do hands it back without an error (resty too), while
// Get makes it a *StatusError.
func TestPortRSSetContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/mypage" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.Write([]byte("TestGet: text response"))
		})
		f := newMem(t, c)
		if b, err := f.Get(context.Background(), "http://a.test/"); err != nil || string(b) != "TestGet: text response" {
			t.Fatalf("Get /: %q, %v", b, err)
		}
		resp, err := f.Do(mustGet(t, "http://a.test/mypage"))
		if err != nil {
			t.Fatalf("Do /mypage: %v; want the 400", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || len(b) != 0 {
			t.Errorf("Do /mypage: %d %q; want 400 and no body", resp.StatusCode, b)
		}
		_, err = f.Get(context.Background(), "http://a.test/mypage")
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 400 || c.n.Load() != 3 {
			t.Errorf("Get /mypage: %v, %d requests in all; want a 400 *StatusError, 3", err, c.n.Load())
		}
	})
}

// From TestSetContextCancel and TestSetContextCancelRetry: the context is
// cancelled while the server handles the request: context.Canceled, and
// the request is not retried, though retries and an attempt timeout are
// set.
func TestPortRSSetContextCancelRetry(t *testing.T) {
	for _, retry := range []int{0, 3} {
		t.Run(fmt.Sprint("retries=", retry), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				started := make(chan struct{}, 10)
				c := count(func(w http.ResponseWriter, r *http.Request) {
					started <- struct{}{}
					<-r.Context().Done()
				})
				f := newMem(t, c, WithAttemptTimeout(3*time.Second), WithRetry(RetryPolicy{MaxAttempts: retry + 1}))
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go func() { <-started; cancel() }()
				_, err := f.Get(ctx, "http://a.test/")
				if !errors.Is(err, context.Canceled) || errors.Is(err, ErrAttemptTimeout) || c.n.Load() != 1 {
					t.Fatalf("err %v after %d requests; want context.Canceled after 1", err, c.n.Load())
				}
			})
		})
	}
}

// From TestSetContextCancelWithError: the server sends a 400's head, then
// holds the body; the context is cancelled meanwhile. The call, which reads
// the body, fails with context.Canceled (README: "caller's deadline or
// cancellation: context.DeadlineExceeded / context.Canceled only"), not
// with the 400.
func TestPortRSSetContextCancelWithError(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	var n atomic.Int64
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		w.(http.Flusher).Flush()
		started <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.Write([]byte("TestSetContextCancelWithError: response"))
	})
	defer close(release)
	f := portFetcher(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-started; cancel() }()
	_, err := f.Get(ctx, ts.URL+"/")
	if !errors.Is(err, context.Canceled) || n.Load() != 1 {
		t.Fatalf("err %v after %d requests; want context.Canceled after 1", err, n.Load())
	}
}

// From TestClientRetryWithSetContext: SetTimeout(1s), 3 retries, a server
// that takes 2s: the error names the request.
func TestPortRSClientRetryWithSetContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := restySlow(4, 2*time.Second, "TestClientRetry page")
		f := newMem(t, c, WithAttemptTimeout(time.Second), WithRetry(RetryPolicy{MaxAttempts: 3 + 1}))
		_, err := f.Get(context.Background(), "http://a.test/")
		if !errors.Is(err, ErrAttemptTimeout) || c.n.Load() != 4 || !strings.HasPrefix(err.Error(), "fetch: GET http://a.test/") {
			t.Fatalf("err %v after %d requests; want an attempt timeout naming GET http://a.test/ after 4", err, c.n.Load())
		}
	})
}

// ---------------------------------------------------------------------------
// client_test.go and request_test.go: timeouts, auth, headers, query
// ---------------------------------------------------------------------------

// From TestClientTimeout: SetTimeout(3s) against a 6s server: the error
// says it timed out. (resty has no retries by default: MaxAttempts 1.)
func TestPortRSClientTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := restySlow(100, 6*time.Second, "TestClientTimeout page")
		f := newMem(t, c, WithAttemptTimeout(3*time.Second), WithRetry(RetryPolicy{MaxAttempts: 1}))
		start := time.Now()
		_, err := f.Get(context.Background(), "http://a.test/set-timeout-test")
		msg := strings.ToLower(fmt.Sprint(err))
		if !errors.Is(err, ErrAttemptTimeout) || !(strings.Contains(msg, "timeout") || strings.Contains(msg, "timed out")) {
			t.Fatalf("err %v; want an attempt timeout that says so", err)
		}
		if took := time.Since(start); took != 3*time.Second || c.n.Load() != 1 {
			t.Errorf("took %v, %d requests; want 3s, 1", took, c.n.Load())
		}
	})
}

// From TestClientTimeoutWithinThreshold: a 2s server under a 3s timeout:
// two calls succeed, and each sends one request (the sequence goes up by
// one).
func TestPortRSClientTimeoutWithinThreshold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seq atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := seq.Add(1)
			time.Sleep(2 * time.Second)
			fmt.Fprintf(w, "%d", s)
		}), WithAttemptTimeout(3*time.Second))
		b1, err := f.Get(context.Background(), "http://a.test/set-timeout-test-with-sequence")
		if err != nil {
			t.Fatal(err)
		}
		b2, err := f.Get(context.Background(), "http://a.test/set-timeout-test-with-sequence")
		if err != nil {
			t.Fatal(err)
		}
		s1, _ := strconv.Atoi(string(b1))
		s2, _ := strconv.Atoi(string(b2))
		if s1+1 != s2 {
			t.Errorf("sequence %d then %d; want consecutive", s1, s2)
		}
	})
}

// restyAuthServer is resty's createAuthServer /profile (plain HTTP): a 200 for
// the bearer tokens it knows, else a 401. Its first answer is a 503, so
// that the header is checked on a retry too.
func restyAuthServer(t *testing.T, seen *[]string, mu *sync.Mutex) *counter {
	var n atomic.Int64
	return count(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*seen = append(*seen, strings.Join(r.Header.Values("Authorization"), "|"))
		mu.Unlock()
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		switch r.Header.Get("Authorization") {
		case "Bearer 004DDB79-6801-4587-B976-F093E6AC44FF", "Bearer 004DDB79-6801-4587-B976-F093E6AC44FF-Request":
			w.Write([]byte(`{ "id": "success", "message": "login successful" }`))
		default:
			w.Header().Set("Www-Authenticate", "Protected Realm")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{ "id": "unauthorized", "message": "Invalid credentials" }`))
		}
	})
}

// From TestClientAuthToken, TestRequestAuthToken and
// TestRequestOverridesClientAuthorizationHeader: the Fetcher's token
// (WithBearerToken, or an Authorization header given with WithHeader) goes
// with every attempt, retries included; a call's own Authorization
// replaces it, on every attempt, with exactly one value.
func TestPortRSClientAuthToken(t *testing.T) {
	const token = "004DDB79-6801-4587-B976-F093E6AC44FF"
	for _, tc := range []struct {
		name   string
		client Option
		call   []RequestOption
		want   string
	}{
		{"ClientAuthToken", WithBearerToken(token), nil, "Bearer " + token},
		{"RequestAuthToken", WithBearerToken(token), []RequestOption{Header("Authorization", "Bearer "+token+"-Request")}, "Bearer " + token + "-Request"},
		{"RequestOverridesClientAuthorizationHeader", WithHeader("Authorization", "some token"),
			[]RequestOption{Header("Authorization", "Bearer "+token)}, "Bearer " + token},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var seen []string
				var mu sync.Mutex
				c := restyAuthServer(t, &seen, &mu)
				f := newMem(t, c, tc.client)
				if _, err := f.Get(context.Background(), "http://a.test/profile", tc.call...); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				defer mu.Unlock()
				if fmt.Sprint(seen) != fmt.Sprint([]string{tc.want, tc.want}) {
					t.Errorf("Authorization on each attempt %q; want %q twice", seen, tc.want)
				}
			})
		})
	}
}

// From TestClientBasicAuth: WithBasicAuth sends the credentials, on the
// POST and on its retry (with an Idempotency-Key, which fetch needs to
// retry a POST).
func TestPortRSClientBasicAuth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		c := count(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "myuser" || p != "basicauth" {
				t.Errorf("attempt %d: basic auth %q %q %t", n.Load()+1, u, p, ok)
			}
			if n.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte(`{ "id": "success", "message": "login successful" }`))
		})
		f := newMem(t, c, WithBasicAuth("myuser", "basicauth"))
		res := f.Fetch(context.Background(), "http://a.test/login", Method("POST"), Header("Idempotency-Key", "k1"),
			Body("application/json", []byte(`{"username":"testuser", "password":"testpass"}`)))
		if res.Err != nil || res.Status != 200 || c.n.Load() != 2 {
			t.Fatalf("status %d, err %v, %d requests; want 200 after 2", res.Status, res.Err, c.n.Load())
		}
	})
}

// From TestGetCustomUserAgent: a call's User-Agent is sent as given, on
// its retry too, in place of the Fetcher's default one.
func TestPortRSGetCustomUserAgent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var agents []string
		c := count(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			agents = append(agents, strings.Join(r.Header.Values("User-Agent"), "|"))
			first := len(agents) == 1
			mu.Unlock()
			if first {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			w.Write([]byte("TestGet: text response"))
		})
		f := newMem(t, c, WithHeader("User-Agent", "fetch-default"))
		b, err := f.Get(context.Background(), "http://a.test/?request_no=1", Header("User-Agent", "Test Custom User agent"))
		if err != nil || string(b) != "TestGet: text response" {
			t.Fatalf("Get: %q, %v", b, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(agents) != "[Test Custom User agent Test Custom User agent]" {
			t.Errorf("User-Agent on each attempt %q; want the call's, twice", agents)
		}
	})
}

// From TestSetHeaderMultipleValue: values given more than once for one
// key all go out (WithHeader accumulates them).
func TestPortRSSetHeaderMultipleValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got http.Header
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }),
			WithHeader("Content", "text/*"), WithHeader("Content", "text/html"), WithHeader("Content", "*"),
			WithHeader("Authorization", "Bearer xyz"))
		if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		if v := strings.Join(got.Values("content"), ", "); v != "text/*, text/html, *" {
			t.Errorf("Content %q; want text/*, text/html, *", v)
		}
		if v := got.Get("authorization"); v != "Bearer xyz" {
			t.Errorf("Authorization %q; want Bearer xyz", v)
		}
	})
}

// From TestHostHeaderOverride: a call's Host header sets the Host sent.
func TestPortRSHostHeaderOverride(t *testing.T) {
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(r.Host)) })
	f := portFetcher(t)
	b, err := f.Get(context.Background(), ts.URL+"/host-header", Header("Host", "myhostname"))
	if err != nil || string(b) != "myhostname" {
		t.Fatalf("Get: %q, %v; want myhostname", b, err)
	}
}

// From TestRequestQueryStringOrder and TestSetQueryStringTypical: the query
// goes out as given, in its order, on the first attempt and on the retry;
// a space is sent percent-encoded (resty encodes it too), and "&%%amp;"
// as it is.
func TestPortRSRequestQueryStringOrder(t *testing.T) {
	var mu sync.Mutex
	var uris []string
	var n atomic.Int64
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uris = append(uris, r.RequestURI)
		mu.Unlock()
		if n.Add(1)%2 == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("TestGet: text response"))
	})
	f := portFetcher(t, WithRetry(RetryPolicy{BaseDelay: time.Millisecond}))
	for _, tc := range []struct{ query, want string }{
		{"UniqueId=ead1d0ed-XXX-XXX-XXX-abb7612b3146&Translate=false&tempauth=eyJ0eXAiOiJKV1QiLC...HZEhwVnJ1d0NSUGVLaUpSaVNLRG5scz0&ApiVersion=2.0",
			"/?UniqueId=ead1d0ed-XXX-XXX-XXX-abb7612b3146&Translate=false&tempauth=eyJ0eXAiOiJKV1QiLC...HZEhwVnJ1d0NSUGVLaUpSaVNLRG5scz0&ApiVersion=2.0"},
		{"productId=232&template=fresh-sample&cat=resty&source=google&kw=buy a lot more",
			"/?productId=232&template=fresh-sample&cat=resty&source=google&kw=buy%20a%20lot%20more"},
		{"&%%amp;", "/?&%%amp;"},
	} {
		mu.Lock()
		uris = nil
		mu.Unlock()
		b, err := f.Get(context.Background(), ts.URL+"/?"+tc.query)
		if err != nil || string(b) != "TestGet: text response" {
			t.Fatalf("Get ?%s: %q, %v", tc.query, b, err)
		}
		mu.Lock()
		if fmt.Sprint(uris) != fmt.Sprint([]string{tc.want, tc.want}) {
			t.Errorf("request URIs %q; want %q twice", uris, tc.want)
		}
		mu.Unlock()
	}
}

// From TestIllegalRetryCount: resty's SetRetryCount(-1) makes Get return
// nil, nil without sending anything. fetch refuses a negative MaxAttempts
// at New (RetryPolicy: "must not be negative"), and MaxAttempts 0 (no
// retries asked for) is the default, 4.
func TestPortRSIllegalRetryCount(t *testing.T) {
	if _, err := New(WithRetry(RetryPolicy{MaxAttempts: -1})); err == nil {
		t.Error("New accepted MaxAttempts -1")
	}
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, 503, nil))
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: -1 + 1}))
		if _, err := f.Get(context.Background(), "http://a.test/"); err == nil || c.n.Load() != 4 {
			t.Errorf("err %v after %d requests; want the 503 after the default 4", err, c.n.Load())
		}
	})
}

// From TestPostRedirectWithBody (client_test.go): 100 POSTs at once, each
// with its own body, are redirected with a 307, which re-sends the body:
// each target sees its own request's body, never another's.
func TestPortRSPostRedirectWithBody(t *testing.T) {
	var wrong atomic.Int64
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/redirect-with-body":
			w.Header().Set("Location", "/redirected-with-body?"+url.Values{"body": {string(body)}}.Encode())
			w.WriteHeader(http.StatusTemporaryRedirect)
		case "/redirected-with-body":
			if r.URL.Query().Get("body") != string(body) || r.Method != http.MethodPost {
				wrong.Add(1)
			}
		}
	})
	f := portFetcher(t)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 100 {
		wg.Go(func() {
			res := f.Fetch(context.Background(), ts.URL+"/redirect-with-body", Method("POST"),
				Body("", []byte(strconv.Itoa(i*7919))))
			if res.Err != nil || res.Status != 200 {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if wrong.Load() != 0 || failed.Load() != 0 {
		t.Errorf("%d redirected requests with another body, %d calls failed; want 0, 0", wrong.Load(), failed.Load())
	}
}

// restyBrokenBody is resty's brokenReadCloser.
type restyBrokenBody struct{}

var errRestyRead = errors.New("read error")

func (restyBrokenBody) Read([]byte) (int, error) { return 0, errRestyRead }
func (restyBrokenBody) Close() error             { return nil }

// From TestPostBodyError: a body whose Read fails: the call fails with
// that error and no response, and is not retried (the body cannot be
// replayed). resty's error is the bare "read error"; fetch's wraps it.
func TestPortRSPostBodyError(t *testing.T) {
	var n atomic.Int64
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1); io.Copy(io.Discard, r.Body) })
	var retries atomic.Int64
	f := portFetcher(t, WithRetry(RetryPolicy{RetryNonIdempotent: true}), WithHooks(Hooks{OnRetry: func(RetryInfo) { retries.Add(1) }}))
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/redirect", restyBrokenBody{})
	resp, err := f.Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	if !errors.Is(err, errRestyRead) || resp != nil || retries.Load() != 0 {
		t.Fatalf("resp %v, err %v, %d retries; want the read error, no response, no retry", resp, err, retries.Load())
	}
}
