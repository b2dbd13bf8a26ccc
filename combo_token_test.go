package fetch

// From a review of how the Fetcher's options combine (see
// combo_headers_test.go): WithBearerTokenFunc's function beside the gates
// and the retries.

import (
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

// A token function that fails (or panics) at a retry: the call fails with
// its error, unsent, and says it made the one attempt the server got; it
// is counted as refused before a retry (Failures.Refused: "refused before
// it was sent, or before a retry was"), as it is at a first attempt.
func TestComboReviewTokenFuncFailsAtRetry(t *testing.T) {
	for _, panics := range []bool{false, true} {
		t.Run(fmt.Sprint("panics=", panics), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var got, asked atomic.Int32
				revoked := errors.New("refresh token revoked")
				f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1); w.WriteHeader(503) }),
					WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}),
					WithBearerTokenFunc(func(context.Context) (string, error) {
						if asked.Add(1) > 1 {
							if panics {
								panic(revoked)
							}
							return "", revoked
						}
						return "t", nil
					}))
				defer f.Shutdown(context.Background())
				r := f.Fetch(t.Context(), "http://a.test/")
				var e *Error
				errors.As(r.Err, &e)
				s := f.Stats()
				t.Logf("panics %v: %v; server got %d; stats %+v", panics, r.Err, got.Load(), s.Failed)
				if !errors.Is(r.Err, revoked) || e == nil || e.Attempts != 1 || r.Attempts != 1 || got.Load() != 1 {
					t.Errorf("panics %v: %v, Attempts %d; server got %d; want the token's error after 1 attempt", panics, r.Err, r.Attempts, got.Load())
				}
				if !strings.Contains(r.Err.Error(), "503") {
					t.Errorf("panics %v: %v (status %d); want the error to say what the retried attempt got (503), as a breaker's or a budget's refusal of a retry does", panics, r.Err, r.Status)
				}
				if !panics && s.Failed.Refused != 1 {
					t.Errorf("panics %v: failures %+v; want it counted as Refused", panics, s.Failed)
				}
			})
		})
	}
}

// WithHooks given twice (an instrumentation package's hooks, then the
// service's own): nothing says the first set is dropped, and options that
// replace one another say so (WithRate/WithLimiter, the auth options).
// Either both run, or New says they cannot be combined.
// WithCookieJar with a default Cookie (WithHeader), over a.test → b.test →
// a.test: each host gets the jar's cookies for it, and the default Cookie
// goes only to a.test before the hop away, as WithCookieJar's doc says.
// WithHeader("Proxy-Authorization", ...) with WithProxy, to an https
// target: WithHeader treats Proxy-Authorization as a credential of its own
// ("one credential each"), so it is for the proxy. Through a CONNECT
// tunnel it must not reach the origin server, which is not the proxy.
// WithTLSConfig (a private root, as its doc's use) keeps HTTP/2, as the
// client New builds otherwise has it (a clone of http.DefaultTransport);
// with WithBlockPrivateAddresses (allowing loopback) and a transport
// wrapper too.
// A token function that gets its token through the same Fetcher, from the
// API's own host (an OAuth2 token endpoint beside the API), under
// WithHostConcurrency(1): the token function runs holding the host's only
// slot, so its own request waits for that slot until the caller's
// deadline; likewise under WithConcurrency(n) once n calls need the token
// at once (the first refresh of a busy service), wherever the token comes
// from. (Documented only as "runs while the attempt holds its slots".)
func TestComboReviewTokenFuncThroughSameFetcherDeadlocks(t *testing.T) {
	for name, tc := range map[string]struct {
		opt       Option
		calls     int
		tokenHost string
	}{
		"WithHostConcurrency(1), token from the API's host":              {WithHostConcurrency(1), 1, "a.test"},
		"WithConcurrency(2), two calls at once, token from another host": {WithConcurrency(2), 2, "auth.test"},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var f *Fetcher
				mu := make(chan struct{}, 1) // a lock synctest sees blocking on
				var cached string
				var inside sync.WaitGroup // every call is in its token function, holding its slots
				inside.Add(tc.calls)
				f = newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/token" {
						io.WriteString(w, "tok")
						return
					}
					time.Sleep(10 * time.Millisecond)
				}), tc.opt, WithBearerTokenFunc(func(ctx context.Context) (string, error) {
					if ctx.Value(nestedKey{}) == nil {
						inside.Done()
						inside.Wait()
					}
					mu <- struct{}{} // one refresh at a time, as oauth2.ReuseTokenSource does
					defer func() { <-mu }()
					if cached != "" {
						return cached, nil
					}
					b, err := f.Get(context.WithValue(ctx, nestedKey{}, true), "http://"+tc.tokenHost+"/token", Header("Authorization", "Basic Y2xpZW50OnNlY3JldA=="))
					cached = string(b)
					return cached, err
				}))
				defer f.Shutdown(context.Background())
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				var wg sync.WaitGroup
				for range tc.calls {
					wg.Go(func() {
						start := time.Now()
						if _, err := f.Get(ctx, "http://a.test/api"); err != nil {
							t.Errorf("%v after %v; want the token fetched and the call done", err, time.Since(start))
						}
					})
				}
				wg.Wait()
			})
		})
	}
}

type nestedKey struct{}

// WithHeader("User-Agent", ...) given twice (a wrapper library's default,
// then the service's): WithHeader says values accumulate, and for the
// single-valued Host and Authorization the last wins; net/http sends one
// User-Agent, the first. The service's own, given last, is silently lost.
// nil where a Limiter is expected: New refuses WithLimiter(nil), and must
// refuse (or treat as no limit) a nil *rate.Limiter, which is a non-nil
// Limiter; a host limiter function that returns nil for a host (no limit
// for it, the natural reading) must not crash the call either.
// The usual refresh-on-401: a Retryable that retries a 401 and a token
// function asked afresh per attempt make the retry carry the new token.
// WithHeader("Cookie", ...) given twice, as WithHeader allows (values
// accumulate), with WithCookieJar: every default cookie is sent, with the
// jar's (net/http's AddCookie folds the jar's into the first Cookie value
// and drops the rest).
// The options that configure the client New builds, all at once: a private
// root (WithTLSConfig), the SSRF guard letting loopback through, a
// transport wrapper, a cookie jar and a redirect limit. Each does its part:
// the redirect limit counts, the jar keeps a redirect's cookie, the
// wrapper sees each request once, and the guard without the exception
// refuses at once, unretried.
// MaxBodySize wraps the request's context, which then no longer is the
// call the Fetcher prepared for it: the attempts are counted all the same,
// over a real connection (net/http/httptrace reports the writes).
