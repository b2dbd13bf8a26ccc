package fetch

// Ports of peers' test suites onto fetch's API:
//
//   - hashicorp/go-retryablehttp client_test.go and roundtripper_test.go
//     (commit fd004584a46724fae09e2f21d7c382e15c893f42), tests named
//     TestPortRH...;
//   - failsafe-go/failsafe-go circuitbreaker/*_test.go, retrypolicy/*_test.go
//     and test/{circuitbreaker,retrypolicy,policy_composition,cancellation}_test.go
//     (commit 5759a5e6d557eace215f820f5b5e663d5c05c3ee), tests named
//     TestPortFS....
//
// Each case names the peer test it comes from. Where fetch deliberately
// differs from the peer (as its documentation says), the case asserts what
// fetch documents and says what the peer expects instead.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
)

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// portRefusing is a transport that fails its first refusals round trips as
// a refused connection would, then hands the rest to next.
type portRefusing struct {
	refusals atomic.Int64
	tries    atomic.Int64
	next     http.RoundTripper
}

func (t *portRefusing) RoundTrip(r *http.Request) (*http.Response, error) {
	t.tries.Add(1)
	if t.refusals.Add(-1) >= 0 {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	return t.next.RoundTrip(r)
}

// portFetcher returns a Fetcher over a client of its own, for loopback tests,
// shut down at the end of the test.
func portFetcher(t *testing.T, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

// portServer starts a loopback server, closed at the end of the test (after
// the Fetcher registered later is shut down).
func portServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// portBreaker is a Fetcher with a circuit breaker and no retries, over an
// in-memory server whose status the test sets before each call.
type portBreaker struct {
	f      *Fetcher
	status atomic.Int64
	sent   atomic.Int64
}

func newPortBreaker(t *testing.T, cb CircuitBreaker, opts ...Option) *portBreaker {
	t.Helper()
	b := &portBreaker{}
	b.status.Store(200)
	b.f = newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.sent.Add(1)
		w.WriteHeader(int(b.status.Load()))
	}), append([]Option{WithRetry(RetryPolicy{MaxAttempts: 1}), WithCircuitBreaker(cb)}, opts...)...)
	return b
}

// call makes one call that the server answers with status.
func (b *portBreaker) call(status int) error {
	b.status.Store(int64(status))
	_, err := b.f.Get(context.Background(), "http://a.test/")
	return err
}

// record makes one call per outcome: 'S' a success (200), 'F' a failure (500).
func (b *portBreaker) record(t *testing.T, outcomes string) {
	t.Helper()
	for i, o := range outcomes {
		code := 200
		if o == 'F' {
			code = 500
		}
		before := b.sent.Load()
		err := b.call(code)
		if errors.Is(err, ErrCircuitOpen) || b.sent.Load() != before+1 {
			t.Fatalf("outcome %d (%c) of %q: refused (%v); want it sent", i+1, o, outcomes, err)
		}
	}
}

// state is a.test's breaker state: "closed", "open" or "half-open".
func (b *portBreaker) state() string {
	for _, h := range b.f.Stats().Hosts {
		if h.Host == "a.test" && h.Breaker != "" {
			return h.Breaker
		}
	}
	return "closed"
}

// refuses reports whether a call is refused by the breaker without being sent.
func (b *portBreaker) refuses() bool {
	before := b.sent.Load()
	err := b.call(200)
	return errors.Is(err, ErrCircuitOpen) && b.sent.Load() == before
}

func (b *portBreaker) wantState(t *testing.T, when, want string) {
	t.Helper()
	if got := b.state(); got != want {
		t.Fatalf("%s: breaker %s; want %s", when, got, want)
	}
}

// gaps returns the times between consecutive arrivals.
func portGaps(at []time.Time) []time.Duration {
	var d []time.Duration
	for i := 1; i < len(at); i++ {
		d = append(d, at[i].Sub(at[i-1]))
	}
	return d
}

// ---------------------------------------------------------------------------
// hashicorp/go-retryablehttp
// ---------------------------------------------------------------------------

// custReader is go-retryablehttp's custom io.Reader: no Len, no Seek, so
// net/http gives a request made of it no GetBody.
type portCustReader struct {
	val string
	pos int
}

func (c *portCustReader) Read(p []byte) (n int, err error) {
	if c.val == "" {
		c.val = "hello"
	}
	if c.pos >= len(c.val) {
		return 0, io.EOF
	}
	n = copy(p, c.val[c.pos:])
	c.pos += n
	return n, nil
}

// From go-retryablehttp TestClient_Do / testClientDo: a PUT with a body of
// every kind is retried through refused connections and 500s until a 200,
// each attempt carrying the method, URI, header and the whole body.
func TestPortRHClientDoBodyTypes(t *testing.T) {
	testBytes := []byte("hello")
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		// replayable: fetch can replay the body (it has GetBody). A body
		// it cannot replay is sent once: see TestPortRHClientDoPlainReader.
	}{
		{"ReaderFunc as GetBody", func() *http.Request {
			get := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(testBytes)), nil }
			body, _ := get()
			req, _ := http.NewRequest("PUT", "http://a.test/v1/foo", body)
			req.GetBody, req.ContentLength = get, int64(len(testBytes))
			return req
		}},
		{"*bytes.Buffer", func() *http.Request {
			req, _ := http.NewRequest("PUT", "http://a.test/v1/foo", bytes.NewBuffer(testBytes))
			return req
		}},
		{"*bytes.Reader", func() *http.Request {
			req, _ := http.NewRequest("PUT", "http://a.test/v1/foo", bytes.NewReader(testBytes))
			return req
		}},
		{"io.ReadSeeker (*strings.Reader)", func() *http.Request {
			req, _ := http.NewRequest("PUT", "http://a.test/v1/foo", strings.NewReader(string(testBytes)))
			return req
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var code atomic.Int64
				code.Store(500)
				var served atomic.Int64
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					served.Add(1)
					if r.Method != "PUT" {
						t.Errorf("bad method: %s", r.Method)
					}
					if r.RequestURI != "/v1/foo" {
						t.Errorf("bad uri: %s", r.RequestURI)
					}
					if v := r.Header.Get("foo"); v != "bar" {
						t.Errorf("bad header: expect foo=bar, got foo=%v", v)
					}
					body, _ := io.ReadAll(r.Body)
					if !bytes.Equal(body, testBytes) {
						t.Errorf("bad body: %q", body)
					}
					if served.Load() == 3 { // two 500s, then 200s
						code.Store(200)
					}
					w.WriteHeader(int(code.Load()))
				})
				tr := &portRefusing{next: memhttp.Transport{Handler: h}}
				tr.refusals.Store(3)
				var hooked atomic.Int64
				f := newMem(t, nil, WithClient(&http.Client{Transport: tr}),
					WithRetry(RetryPolicy{MaxAttempts: 51, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}),
					WithHooks(Hooks{OnAttempt: func(a AttemptInfo) {
						hooked.Add(1)
						if a.Request.Method != "PUT" || a.Request.URL.Path != "/v1/foo" {
							t.Errorf("hook saw %s %s", a.Request.Method, a.Request.URL.Path)
						}
					}}))
				req := tc.req()
				req.Header.Set("foo", "bar")
				resp, err := f.Do(req)
				if err != nil {
					t.Fatalf("err: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("expected 200, got: %d", resp.StatusCode)
				}
				if tr.tries.Load() != 6 || served.Load() != 3 || hooked.Load() != 6 {
					t.Errorf("tries %d, served %d, hook calls %d; want 6 (3 refused), 3 (two 500s, a 200), 6",
						tr.tries.Load(), served.Load(), hooked.Load())
				}
			})
		})
	}
}

// From go-retryablehttp TestClient_Do ([]byte body): the same through the
// URL calls' Body request option.
func TestPortRHClientDoByteSliceBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var served atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := served.Add(1)
			body, _ := io.ReadAll(r.Body)
			if r.Method != "PUT" || r.RequestURI != "/v1/foo" || r.Header.Get("foo") != "bar" || string(body) != "hello" {
				t.Errorf("attempt %d: %s %s foo=%q body %q", n, r.Method, r.RequestURI, r.Header.Get("foo"), body)
			}
			if n < 3 {
				w.WriteHeader(500)
			}
		})
		tr := &portRefusing{next: memhttp.Transport{Handler: h}}
		tr.refusals.Store(2)
		f := newMem(t, nil, WithClient(&http.Client{Transport: tr}),
			WithRetry(RetryPolicy{MaxAttempts: 51, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}))
		r := f.Fetch(context.Background(), "http://a.test/v1/foo", Method("PUT"), Header("foo", "bar"), Body("", []byte("hello")))
		if r.Err != nil || r.Status != 200 {
			t.Fatalf("status %d, err %v; want 200", r.Status, r.Err)
		}
		if tr.tries.Load() != 5 || r.Attempts != 5 {
			t.Errorf("tries %d, Attempts %d; want 5: 2 refused, 2 500s, the 200", tr.tries.Load(), r.Attempts)
		}
	})
}

// From go-retryablehttp TestClient_Do (custReader, a plain io.Reader):
// go-retryablehttp buffers any io.Reader so it can replay it, and retries
// until the 200. fetch replays a body only through GetBody (RetryPolicy: "its
// body, if any, can be replayed through http.Request.GetBody"), which
// net/http does not set for a plain reader: the request is sent once.
func TestPortRHClientDoPlainReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &portRefusing{next: memhttp.Transport{Handler: http.HandlerFunc(ok)}}
		tr.refusals.Store(1)
		f := newMem(t, nil, WithClient(&http.Client{Transport: tr}),
			WithRetry(RetryPolicy{MaxAttempts: 51, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}))
		req, _ := http.NewRequest("PUT", "http://a.test/v1/foo", &portCustReader{})
		_, err := f.Do(req)
		if !errors.Is(err, syscall.ECONNREFUSED) || tr.tries.Load() != 1 {
			t.Fatalf("err %v after %d tries; want the refusal after 1 (body cannot be replayed)", err, tr.tries.Load())
		}
	})
}

// From go-retryablehttp TestClient_Do over real sockets: 500s, then 200,
// with a replayed body, on loopback.
func TestPortRHClientDoLoopback(t *testing.T) {
	var n atomic.Int64
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if string(body) != "hello" || r.Header.Get("foo") != "bar" || r.Method != "PUT" {
			t.Errorf("bad request: %s foo=%q %q", r.Method, r.Header.Get("foo"), body)
		}
		if n.Add(1) <= 2 {
			w.WriteHeader(500)
		}
	})
	f := portFetcher(t, WithRetry(RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}))
	req, _ := http.NewRequest("PUT", ts.URL+"/v1/foo", bytes.NewReader([]byte("hello")))
	req.Header.Set("foo", "bar")
	resp, err := f.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || n.Load() != 3 {
		t.Fatalf("status %d after %d requests; want 200 after 3", resp.StatusCode, n.Load())
	}
}

// From go-retryablehttp TestClient_Do (the phase with no server listening):
// refused connections are retried, and the error names the attempts.
func TestPortRHConnectionRefusedLoopback(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var attempts atomic.Int64
	f := portFetcher(t, WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}),
		WithHooks(Hooks{OnAttempt: func(AttemptInfo) { attempts.Add(1) }}))
	_, err = f.Get(context.Background(), "http://"+addr+"/v1/foo")
	var fe *Error
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &fe) || fe.Attempts != 3 || attempts.Load() != 3 {
		t.Fatalf("err %v (%d hook calls); want ECONNREFUSED after 3 attempts", err, attempts.Load())
	}
	if !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("error %q does not name the attempts", err)
	}
}

// From go-retryablehttp TestClient_Do_WithResponseHandler: a response
// handler's error is retried when marked retryable (fetch:
// RetryableError) and not otherwise.
func TestPortRHResponseHandler(t *testing.T) {
	var shouldSucceed atomic.Bool
	for _, tc := range []struct {
		name     string
		handler  func(string, *http.Response) (int, error)
		attempts int64
		err      string
	}{
		{"handler always succeeds", func(string, *http.Response) (int, error) { return 1, nil }, 1, ""},
		{"handler always fails in a retryable way", func(string, *http.Response) (int, error) {
			return 0, RetryableError(errors.New("retryable failure"))
		}, 3, "retryable failure"},
		{"handler always fails in a nonretryable way", func(string, *http.Response) (int, error) {
			return 0, errors.New("nonretryable failure")
		}, 1, "nonretryable failure"},
		{"handler succeeds on second attempt", func(string, *http.Response) (int, error) {
			if shouldSucceed.Swap(true) {
				return 1, nil
			}
			return 0, RetryableError(errors.New("retryable failure"))
		}, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				shouldSucceed.Store(false)
				c := count(ok)
				f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 10 * time.Millisecond}))
				var got []Handled[string, int]
				for h := range HandleURLs(context.Background(), f, slices.Values([]string{"http://a.test/"}), tc.handler) {
					got = append(got, h)
				}
				if len(got) != 1 {
					t.Fatalf("%d results; want 1", len(got))
				}
				h := got[0]
				if tc.err == "" && h.Err != nil || tc.err != "" && (h.Err == nil || !strings.Contains(h.Err.Error(), tc.err)) {
					t.Errorf("err %v; want %q", h.Err, tc.err)
				}
				if c.n.Load() != tc.attempts || int64(h.Attempts) != tc.attempts {
					t.Errorf("server saw %d, Attempts %d; want %d", c.n.Load(), h.Attempts, tc.attempts)
				}
			})
		})
	}
}

// From go-retryablehttp TestClient_Do_fails: a POST to a server that always
// answers 500. go-retryablehttp retries the POST (3 attempts) and fails
// with "POST <url> giving up after 3 attempt(s)", the URL's password
// redacted. fetch sends a POST once (RetryPolicy: only idempotent methods,
// an Idempotency-Key, or RetryNonIdempotent); with RetryNonIdempotent it
// matches the peer, and its error names the attempts and the redacted URL.
func TestPortRHDoFails(t *testing.T) {
	var n atomic.Int64
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(500)
	})
	withAuth, _ := url.Parse(ts.URL)
	withAuth.User = url.UserPassword("user", "pasten")

	t.Run("POST not retried by default", func(t *testing.T) {
		n.Store(0)
		f := portFetcher(t, WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}))
		_, err := f.Get(context.Background(), ts.URL, Method("POST"))
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 500 || n.Load() != 1 {
			t.Fatalf("err %v after %d requests; want the 500 after 1", err, n.Load())
		}
	})
	for _, tc := range []struct{ name, url string }{
		{"default_retry_policy", ts.URL},
		{"default_retry_policy_url_with_basic_auth", withAuth.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n.Store(0)
			f := portFetcher(t, WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, RetryNonIdempotent: true}))
			_, err := f.Get(context.Background(), tc.url, Method("POST"))
			if err == nil || n.Load() != 3 {
				t.Fatalf("err %v after %d requests; want an error after 3", err, n.Load())
			}
			msg := err.Error()
			redacted, _ := url.Parse(tc.url)
			if !strings.Contains(msg, "POST "+redacted.Redacted()) || !strings.Contains(msg, "after 3 attempts") ||
				!strings.HasSuffix(msg, "status 500 Internal Server Error") || strings.Contains(msg, "pasten") {
				t.Errorf("error %q; want it to name POST %s, 3 attempts and the status, without the password", msg, redacted.Redacted())
			}
		})
	}
}

// From go-retryablehttp TestClient_Get, TestClient_Head, TestClient_Post,
// TestClient_PostForm: the method, URI, content type and body reach the
// server.
func TestPortRHMethods(t *testing.T) {
	type seen struct{ method, uri, ctype, body string }
	var mu sync.Mutex
	var last seen
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = seen{r.Method, r.RequestURI, r.Header.Get("Content-Type"), string(b)}
		mu.Unlock()
	})
	f := portFetcher(t)
	for _, tc := range []struct {
		name string
		do   func() error
		want seen
	}{
		{"TestClient_Get", func() error { _, err := f.Get(context.Background(), ts.URL+"/foo/bar"); return err },
			seen{"GET", "/foo/bar", "", ""}},
		{"TestClient_Head", func() error {
			_, err := f.Get(context.Background(), ts.URL+"/foo/bar", Method("HEAD"))
			return err
		}, seen{"HEAD", "/foo/bar", "", ""}},
		{"TestClient_Post", func() error {
			resp, err := f.Do(func() *http.Request {
				req, _ := http.NewRequest("POST", ts.URL+"/foo/bar", strings.NewReader(`{"hello":"world"}`))
				req.Header.Set("Content-Type", "application/json")
				return req
			}())
			if err == nil {
				resp.Body.Close()
			}
			return err
		}, seen{"POST", "/foo/bar", "application/json", `{"hello":"world"}`}},
		{"TestClient_PostForm", func() error {
			form, _ := url.ParseQuery("hello=world")
			_, err := f.Get(context.Background(), ts.URL+"/foo/bar", Method("POST"),
				Body("application/x-www-form-urlencoded", []byte(form.Encode())))
			return err
		}, seen{"POST", "/foo/bar", "application/x-www-form-urlencoded", "hello=world"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); err != nil {
				t.Fatalf("err: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if last != tc.want {
				t.Errorf("server saw %+v; want %+v", last, tc.want)
			}
		})
	}
}

// From go-retryablehttp TestClient_RequestLogHook and
// TestClient_ResponseLogHook: a hook sees every attempt's request and
// response (500s, then the 200), and the final body is still readable by
// the caller. (The peer's hook reads each 500's body; fetch's hooks must
// not read bodies, so that part does not map.)
func TestPortRHLogHooks(t *testing.T) {
	var n atomic.Int64
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.WriteHeader(500)
			w.Write([]byte("test_500_body"))
			return
		}
		w.Write([]byte("test_200_body"))
	})
	var mu sync.Mutex
	var statuses []int
	f := portFetcher(t, WithRetry(RetryPolicy{MaxAttempts: 16, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}),
		WithHooks(Hooks{OnAttempt: func(a AttemptInfo) {
			if a.Request.Method != "GET" || a.Request.URL.Path != "/foo/bar" {
				t.Errorf("hook saw %s %s", a.Request.Method, a.Request.URL.Path)
			}
			mu.Lock()
			statuses = append(statuses, a.Status)
			mu.Unlock()
		}}))
	resp, err := f.Do(mustGet(t, ts.URL+"/foo/bar"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "test_200_body" {
		t.Fatalf("body %q, %v; want test_200_body", body, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(statuses, []int{500, 500, 200}) {
		t.Errorf("hook saw statuses %v; want [500 500 200]", statuses)
	}
}

// From go-retryablehttp TestClient_RequestWithContext: a request whose
// context is already cancelled. The peer makes one attempt and fails with
// "GET <url> giving up after 1 attempt(s): context canceled"; fetch sends
// nothing (Do: "A request whose context ends while it waits never reaches
// the network") and fails with an *Error matching context.Canceled.
func TestPortRHRequestWithContext(t *testing.T) {
	var n atomic.Int64
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1) })
	f := portFetcher(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
	_, err := f.Do(req)
	var fe *Error
	if !errors.Is(err, context.Canceled) || !errors.As(err, &fe) || n.Load() != 0 {
		t.Fatalf("err %v, server saw %d; want context.Canceled and nothing sent", err, n.Load())
	}
	if want := fmt.Sprintf("fetch: GET %s: context canceled", ts.URL); err.Error() != want {
		t.Errorf("err %q; want %q", err, want)
	}
}

// From go-retryablehttp TestClient_CheckRetry: a classifier that allows one
// retry, then stops. The peer's CheckRetry can also return an error of its
// own, which fetch's Retryable (a bool) cannot; the call ends with the
// last response's status instead.
func TestPortRHCheckRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "test_500_body", http.StatusInternalServerError)
		})
		var called atomic.Int64
		f := newMem(t, c, WithRetry(RetryPolicy{Retryable: func(resp *http.Response, err error) bool {
			return called.Add(1) == 1 && DefaultRetryable(resp, err)
		}}))
		_, err := f.Get(context.Background(), "http://a.test/")
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 500 || c.n.Load() != 2 || called.Load() != 2 {
			t.Fatalf("err %v, %d requests, %d classifications; want the 500 after 2 and 2", err, c.n.Load(), called.Load())
		}
		if !strings.Contains(err.Error(), "after 2 attempts") || !strings.Contains(err.Error(), "test_500_body") {
			t.Errorf("err %q; want it to name 2 attempts and the body", err)
		}
	})
}

// From go-retryablehttp TestClient_CheckRetryStop: a classifier that never
// retries: one attempt, and Do returns the response without an error.
func TestPortRHCheckRetryStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "test_500_body", http.StatusInternalServerError)
		})
		var called atomic.Int64
		f := newMem(t, c, WithRetry(RetryPolicy{Retryable: func(*http.Response, error) bool { called.Add(1); return false }}))
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil {
			t.Fatalf("Expected no error, got: %v", err)
		}
		resp.Body.Close()
		if called.Load() != 1 || c.n.Load() != 1 || resp.StatusCode != 500 {
			t.Errorf("classifier called %d, server saw %d, status %d; want 1, 1, 500", called.Load(), c.n.Load(), resp.StatusCode)
		}
	})
}

// From go-retryablehttp TestParseRetryAfterHeader, read at the peer's
// static time, Fri, 31 Dec 1999 23:59:57 GMT.
func TestPortRHParseRetryAfterHeader(t *testing.T) {
	now, _ := time.Parse(time.RFC1123, "Fri, 31 Dec 1999 23:59:57 GMT")
	for _, tc := range []struct {
		name   string
		header string
		sleep  time.Duration
		ok     bool
	}{
		{"seconds", "2", 2 * time.Second, true},
		{"date", "Fri, 31 Dec 1999 23:59:59 GMT", 2 * time.Second, true},
		{"past-date", "Fri, 31 Dec 1999 23:59:00 GMT", 0, true},
		{"nil", "", 0, false},
		{"empty", "", 0, false},
		{"negative", "-2", 0, false},
		{"bad-date", "Fri, 32 Dec 1999 23:59:59 GMT", 0, false},
		{"bad-date-format", "badbadbad", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sleep, ok := parseRetryAfter(tc.header, now, time.Hour)
			if ok != tc.ok || sleep != tc.sleep {
				t.Fatalf("parseRetryAfter(%q) = %v, %t; want %v, %t", tc.header, sleep, ok, tc.sleep, tc.ok)
			}
		})
	}
	// two-headers: the first value counts.
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"2", "3"}}}
	if d, ok := retryAfter(resp, time.Hour); d != 2*time.Second || !ok {
		t.Errorf("two headers: %v, %t; want 2s, true", d, ok)
	}
}

// From go-retryablehttp TestClient_DefaultBackoff: a 429 or 503 with
// Retry-After of 2 seconds, as delta-seconds or an HTTP-date, is retried 2
// seconds later.
func TestPortRHDefaultBackoff(t *testing.T) {
	for _, tc := range []struct {
		name string
		code int
		date bool
	}{
		{"http_429_seconds", http.StatusTooManyRequests, false},
		{"http_429_date", http.StatusTooManyRequests, true},
		{"http_503_seconds", http.StatusServiceUnavailable, false},
		{"http_503_date", http.StatusServiceUnavailable, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var first atomic.Bool
				c := count(func(w http.ResponseWriter, r *http.Request) {
					if !first.Swap(true) {
						ra := "2"
						if tc.date {
							ra = time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)
						}
						w.Header().Set("Retry-After", ra)
						http.Error(w, fmt.Sprintf("test_%d_body", tc.code), tc.code)
						return
					}
					w.Write([]byte("ok"))
				})
				// The peer's defaults: RetryWaitMin 1s, RetryWaitMax 30s.
				f := newMem(t, c, WithRetry(RetryPolicy{BaseDelay: time.Second, MaxDelay: 30 * time.Second}))
				if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
					t.Fatal(err)
				}
				if g := portGaps(c.times()); len(g) != 1 || g[0] != 2*time.Second {
					t.Errorf("gaps between attempts %v; want [2s]", g)
				}
			})
		})
	}
}

// From go-retryablehttp TestBackoff_RateLimitLinearJitterBackoff: Retry-After
// sets the wait for a 429 or 503 (even below the minimum), and is ignored
// for other statuses.
func TestPortRHRateLimitBackoff(t *testing.T) {
	for _, tc := range []struct {
		name     string
		min, max time.Duration
		header   string
		code     int
		expect   time.Duration
	}{
		{"429 no retry header", time.Second, time.Second, "", 429, time.Second},
		{"503 no retry header", time.Second, time.Second, "", 503, time.Second},
		{"502 ignore retry header", time.Second, time.Second, "2", 502, time.Second},
		{"502 no retry header", time.Second, time.Second, "", 502, time.Second},
		{"429 retry header with jitter", time.Second, 5 * time.Second, "2", 429, 2 * time.Second},
		{"429 retry header less than min", 5 * time.Second, 10 * time.Second, "2", 429, 2 * time.Second},
		{"429 retry header in range", time.Second, 10 * time.Second, "2", 429, 2 * time.Second},
		// min = max = 1s: the 2s asked for is waited out, beyond MaxDelay,
		// which caps only the backoff (MaxRetryAfter bounds what a server
		// may ask for).
		{"429 retry header", time.Second, time.Second, "2", 429, 2 * time.Second},
		{"503 retry header", time.Second, time.Second, "2", 503, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := http.Header{}
				if tc.header != "" {
					h.Set("Retry-After", tc.header)
				}
				c := count(failing(1, tc.code, h))
				f := newMem(t, c, WithRetry(RetryPolicy{BaseDelay: tc.min, MaxDelay: tc.max, Jitter: NoJitter}))
				if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
					t.Fatal(err)
				}
				if g := portGaps(c.times()); len(g) != 1 || g[0] != tc.expect {
					t.Errorf("gaps %v; want [%v]", g, tc.expect)
				}
			})
		})
	}
}

// From go-retryablehttp TestBackoff: DefaultBackoff(min 1s, max 5m, i) is
// min·2^i, capped; fetch's retry number is i+1.
func TestPortRHBackoff(t *testing.T) {
	p := RetryPolicy{BaseDelay: time.Second, MaxDelay: 5 * time.Minute, Jitter: NoJitter}
	for _, tc := range []struct {
		i      int
		expect time.Duration
	}{
		{0, time.Second}, {1, 2 * time.Second}, {2, 4 * time.Second}, {3, 8 * time.Second},
		{63, 5 * time.Minute}, {128, 5 * time.Minute},
	} {
		if v := p.Backoff(tc.i+1, 0); v != tc.expect {
			t.Errorf("Backoff(%d) = %v; want %v", tc.i+1, v, tc.expect)
		}
	}
}

// From go-retryablehttp TestClient_DefaultRetryPolicy_TLS: a certificate
// the client does not trust is not retried.
func TestPortRHDefaultRetryPolicyTLS(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(ok))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	var attempts atomic.Int64
	f := portFetcher(t, WithRetry(RetryPolicy{BaseDelay: time.Millisecond}),
		WithHooks(Hooks{OnAttempt: func(AttemptInfo) { attempts.Add(1) }}))
	_, err := f.Get(context.Background(), ts.URL)
	var cve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	if err == nil || !(errors.As(err, &cve) || errors.As(err, &ua)) {
		t.Fatalf("err %v; want an x509 error", err)
	}
	if attempts.Load() != 1 {
		t.Fatalf("expected 1 attempt, got %d", attempts.Load())
	}
}

// From go-retryablehttp TestClient_DefaultRetryPolicy_redirects: a redirect
// loop fails and is not retried.
func TestPortRHDefaultRetryPolicyRedirects(t *testing.T) {
	var n atomic.Int64
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Redirect(w, r, "/", http.StatusFound)
	})
	var attempts atomic.Int64
	f := portFetcher(t, WithRetry(RetryPolicy{BaseDelay: time.Millisecond}),
		WithHooks(Hooks{OnAttempt: func(AttemptInfo) { attempts.Add(1) }}))
	_, err := f.Get(context.Background(), ts.URL)
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("err %v; want ErrTooManyRedirects", err)
	}
	if attempts.Load() != 1 || n.Load() != 1+DefaultMaxRedirects {
		t.Fatalf("%d attempts, %d requests; want 1 attempt of %d requests", attempts.Load(), n.Load(), 1+DefaultMaxRedirects)
	}
}

// From go-retryablehttp TestClient_DefaultRetryPolicy_invalidscheme: an
// ftp URL fails, and nothing is sent.
func TestPortRHDefaultRetryPolicyInvalidScheme(t *testing.T) {
	var n atomic.Int64
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1) })
	var attempts atomic.Int64
	f := portFetcher(t, WithHooks(Hooks{OnAttempt: func(AttemptInfo) { attempts.Add(1) }}))
	_, err := f.Get(context.Background(), strings.Replace(ts.URL, "http", "ftp", 1))
	if !errors.Is(err, ErrInvalidURL) || attempts.Load() != 0 || n.Load() != 0 {
		t.Fatalf("err %v, %d attempts; want ErrInvalidURL and none (the peer counts 1)", err, attempts.Load())
	}
}

// From go-retryablehttp TestClient_DefaultRetryPolicy_invalidheadername and
// _invalidheadervalue: a header net/http refuses to send fails the call
// after one attempt, not retried.
func TestPortRHDefaultRetryPolicyInvalidHeader(t *testing.T) {
	var n atomic.Int64
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1) })
	for _, tc := range []struct{ name, key, value string }{
		{"invalidheadername", "Header-Name-\033", "header value"},
		{"invalidheadervalue", "Header-Name", "bad header value \033"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var attempts atomic.Int64
			f := portFetcher(t, WithRetry(RetryPolicy{BaseDelay: time.Millisecond}),
				WithHooks(Hooks{OnAttempt: func(AttemptInfo) { attempts.Add(1) }}))
			req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
			req.Header.Set(tc.key, tc.value)
			_, err := f.Do(req)
			if err == nil {
				t.Fatalf("expected header error, got nil")
			}
			if attempts.Load() != 1 || n.Load() != 0 {
				t.Fatalf("%d attempts, %d requests served; want 1, 0", attempts.Load(), n.Load())
			}
		})
	}
}

// From go-retryablehttp TestClient_RedirectWithBody: a POST with a body
// follows a 307 with its body; then one without a body.
func TestPortRHRedirectWithBody(t *testing.T) {
	var redirects atomic.Int64
	var bodies sync.Map
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.RequestURI {
		case "/redirect":
			w.Header().Set("Location", "/target")
			w.WriteHeader(http.StatusTemporaryRedirect)
		case "/target":
			b, _ := io.ReadAll(r.Body)
			bodies.Store(redirects.Add(1), string(b))
			w.WriteHeader(http.StatusCreated)
		default:
			t.Errorf("bad uri: %s", r.RequestURI)
		}
	})
	f := portFetcher(t)
	for i, body := range []io.Reader{strings.NewReader(`{"foo":"bar"}`), nil} {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/redirect", body)
		resp, err := f.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("request %d: expected status code 201, got: %d", i+1, resp.StatusCode)
		}
	}
	if redirects.Load() != 2 {
		t.Fatalf("Expected the client to be redirected 2 times, got: %d", redirects.Load())
	}
	if b, _ := bodies.Load(int64(1)); b != `{"foo":"bar"}` {
		t.Errorf("the redirected POST carried %q; want its body", b)
	}
}

// From go-retryablehttp TestRoundTripper_RoundTrip: a classifier that
// retries 404s, until a 200 with a body.
func TestPortRHRoundTripperCustomRetry(t *testing.T) {
	var n atomic.Int64
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			w.WriteHeader(404)
			return
		}
		w.Write([]byte("success!"))
	})
	f := portFetcher(t, WithRetry(RetryPolicy{BaseDelay: time.Millisecond, Retryable: func(resp *http.Response, _ error) bool {
		return resp != nil && resp.StatusCode == 404
	}}))
	resp, err := f.Do(mustGet(t, ts.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("expected 200, got %d", resp.StatusCode)
	}
	if v, err := io.ReadAll(resp.Body); err != nil || string(v) != "success!" {
		t.Fatalf("expected %q, got %q (%v)", "success!", v, err)
	}
}

// portDNSFail is a transport whose every round trip fails to resolve.
type portDNSFail struct{ tries atomic.Int64 }

func (t *portDNSFail) RoundTrip(r *http.Request) (*http.Response, error) {
	t.tries.Add(1)
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Name: "999.999.999.999", Err: "no such host", IsNotFound: true}}
}

// From go-retryablehttp TestRoundTripper_TransportFailureErrorHandling: a
// name that does not resolve is not retried, and the transport's
// *net.DNSError reaches the caller.
func TestPortRHTransportFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &portDNSFail{}
		f := newMem(t, nil, WithClient(&http.Client{Transport: tr}))
		_, err := f.Do(mustGet(t, "http://999.999.999.999:999/"))
		var dnsErr *net.DNSError
		var ue *url.Error
		if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound || !errors.As(err, &ue) || tr.tries.Load() != 1 {
			t.Fatalf("err %v after %d tries; want the *net.DNSError after 1", err, tr.tries.Load())
		}
	})
}

// From go-retryablehttp DefaultRetryPolicy (as its TestClient_Do and
// TestClient_Do_fails exercise it): the peer retries 429 and every 5xx but
// 501. fetch retries 408, 429, 500, 502, 503 and 504 only (DefaultRetryable:
// "It does not retry other statuses"): 505, 507, 508 and 511 are not.
func TestPortRHRetriedStatuses(t *testing.T) {
	for code, want := range map[int]int64{
		408: 4, 429: 4, 500: 4, 502: 4, 503: 4, 504: 4,
		501: 1, 505: 1, 507: 1, 508: 1, 511: 1, 404: 1, 400: 1,
	} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(failing(100, code, nil))
				f := newMem(t, c)
				resp, err := f.Do(mustGet(t, "http://a.test/"))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if c.n.Load() != want {
					t.Errorf("status %d: %d attempts; want %d", code, c.n.Load(), want)
				}
			})
		})
	}
}

// From go-retryablehttp Client.Do with PassthroughErrorHandler (and
// TestClient_Do_fails' exhausted retries): when retries run out, Do hands
// back the last response, its body readable, with no error; the calls that
// read bodies fail with an error naming the attempts.
func TestPortRHExhaustedRetriesReturnResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(503)
			fmt.Fprintf(w, "attempt %d", n.Add(1))
		}), WithRetry(RetryPolicy{MaxAttempts: 3}))
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || string(b) != "attempt 3" {
			t.Fatalf("got %d %q; want the last response, 503 \"attempt 3\"", resp.StatusCode, b)
		}
		n.Store(0)
		_, err = f.Get(context.Background(), "http://a.test/")
		var fe *Error
		var se *StatusError
		if !errors.As(err, &fe) || fe.Attempts != 3 || !errors.As(err, &se) || string(se.Body) != "attempt 3" {
			t.Fatalf("err %v; want an *Error of 3 attempts wrapping the last 503", err)
		}
		if want := "fetch: GET http://a.test/: after 3 attempts: status 503 Service Unavailable: attempt 3"; err.Error() != want {
			t.Errorf("err %q; want %q", err, want)
		}
	})
}

// From go-retryablehttp Client.Do's backoff select on ctx.Done() and
// failsafe-go TestRetryPolicy_Cancellation "with context during pending
// retry": a context cancelled during the wait ends the call at once with
// context.Canceled, after one attempt.
func TestPortCancelDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, 500, nil))
		f := newMem(t, c, WithRetry(RetryPolicy{BaseDelay: time.Second, Jitter: NoJitter}))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := f.Get(ctx, "http://a.test/")
		var fe *Error
		if !errors.Is(err, context.Canceled) || !errors.As(err, &fe) || fe.Attempts != 1 {
			t.Fatalf("err %v; want context.Canceled after 1 attempt", err)
		}
		if took := time.Since(start); took != 50*time.Millisecond || c.n.Load() != 1 {
			t.Errorf("returned after %v and %d requests; want at the cancellation, 50ms, after 1", took, c.n.Load())
		}
	})
}

// From go-retryablehttp Client.RetryMax and failsafe-go TestRetryPolicy
// "should return last failure" (WithMaxRetries(3): 4 attempts): the call
// makes exactly MaxAttempts attempts, and ends with the last failure.
func TestPortMaxAttempts(t *testing.T) {
	for _, max := range []int{1, 2, 4, 7} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := &portRefusing{next: memhttp.Transport{Handler: http.HandlerFunc(ok)}}
				tr.refusals.Store(100)
				var retries atomic.Int64
				f := newMem(t, nil, WithClient(&http.Client{Transport: tr}), WithRetry(RetryPolicy{MaxAttempts: max}),
					WithHooks(Hooks{OnRetry: func(RetryInfo) { retries.Add(1) }}))
				_, err := f.Get(context.Background(), "http://a.test/")
				var fe *Error
				if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &fe) || fe.Attempts != max {
					t.Fatalf("err %v; want the refusal after %d attempts", err, max)
				}
				if tr.tries.Load() != int64(max) || retries.Load() != int64(max-1) || f.Stats().Retries != int64(max-1) {
					t.Errorf("%d tries, %d OnRetry, Stats.Retries %d; want %d, %d, %d",
						tr.tries.Load(), retries.Load(), f.Stats().Retries, max, max-1, max-1)
				}
			})
		})
	}
}

// From go-retryablehttp's "retrying only what is safe" as fetch documents
// it (RetryPolicy): POST and PATCH are not retried unless they carry an
// Idempotency-Key or RetryNonIdempotent is set; a body without GetBody is
// never retried. (go-retryablehttp retries every method.)
func TestPortUnsafeNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		key    string
		policy RetryPolicy
		want   int64
	}{
		{"POST", "POST", "", RetryPolicy{}, 1},
		{"PATCH", "PATCH", "", RetryPolicy{}, 1},
		{"CONNECT-like custom method", "PURGE", "", RetryPolicy{}, 1},
		{"POST Idempotency-Key", "POST", "Idempotency-Key", RetryPolicy{}, 4},
		{"POST X-Idempotency-Key", "POST", "X-Idempotency-Key", RetryPolicy{}, 4},
		{"PATCH RetryNonIdempotent", "PATCH", "", RetryPolicy{RetryNonIdempotent: true}, 4},
		{"PUT", "PUT", "", RetryPolicy{}, 4},
		{"DELETE", "DELETE", "", RetryPolicy{}, 4},
		{"OPTIONS", "OPTIONS", "", RetryPolicy{}, 4},
		{"HEAD", "HEAD", "", RetryPolicy{}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n atomic.Int64
				f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n.Add(1)
					if b, _ := io.ReadAll(r.Body); tc.method != "HEAD" && string(b) != "payload" {
						t.Errorf("attempt %d body %q", n.Load(), b)
					}
					w.WriteHeader(503)
				}), WithRetry(tc.policy))
				var body io.Reader = strings.NewReader("payload")
				if tc.method == "HEAD" {
					body = nil
				}
				req, _ := http.NewRequest(tc.method, "http://a.test/", body)
				if tc.key != "" {
					req.Header.Set(tc.key, "k1")
				}
				resp, err := f.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if n.Load() != tc.want {
					t.Errorf("%d attempts; want %d", n.Load(), tc.want)
				}
			})
		})
	}
}

// ---------------------------------------------------------------------------
// failsafe-go: circuit breaker
// ---------------------------------------------------------------------------

// From failsafe-go TestShouldDefaultDelay and
// TestClosedStateFailureWithDefaultConfig: failsafe's default breaker opens
// after a single failure; fetch's opens after 5 in a row (CircuitBreaker:
// "ConsecutiveFailures ... Zero means the default, 5").
func TestPortFSClosedStateFailureWithDefaultConfig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newPortBreaker(t, CircuitBreaker{})
		b.record(t, "FFFF")
		b.wantState(t, "after 4 failures", "closed")
		b.record(t, "F")
		b.wantState(t, "after 5 failures", "open")
		if !b.refuses() {
			t.Fatal("an open breaker let a call through")
		}
	})
}

// From failsafe-go TestClosedStateFailureWithFailureThreshold: with a
// threshold of 3, F S F F leaves it closed; one more failure opens it.
func TestPortFSClosedStateFailureWithFailureThreshold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newPortBreaker(t, CircuitBreaker{ConsecutiveFailures: 3})
		b.record(t, "FSFF")
		b.wantState(t, "after F S F F", "closed")
		b.record(t, "F")
		b.wantState(t, "after F S F F F", "open")
	})
}

// From failsafe-go TestClosedStateFailureWithFailureRatio: 2 failures of 3
// opens it.
func TestPortFSClosedStateFailureWithFailureRatio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newPortBreaker(t, CircuitBreaker{FailureRatio: 2.0 / 3, MinRequests: 3})
		b.record(t, "FS")
		b.wantState(t, "after F S", "closed")
		b.record(t, "F")
		b.wantState(t, "after F S F", "open")
	})
}

// From failsafe-go TestClosedStateSuccessWithDefaultConfig: a success leaves
// it closed.
func TestPortFSClosedStateSuccessWithDefaultConfig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newPortBreaker(t, CircuitBreaker{})
		b.record(t, "S")
		b.wantState(t, "after S", "closed")
	})
}

// From failsafe-go TestClosedStateSuccessWithFailureRatio (3 of 4) and
// TestClosedStateSuccessWithFailureThreshold (2): alternating successes
// and failures never open it.
func TestPortFSClosedStateSuccessAlternating(t *testing.T) {
	for _, tc := range []struct {
		name string
		cb   CircuitBreaker
	}{
		{"TestClosedStateSuccessWithFailureRatio", CircuitBreaker{FailureRatio: 0.75, MinRequests: 4}},
		{"TestClosedStateSuccessWithFailureThreshold", CircuitBreaker{ConsecutiveFailures: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newPortBreaker(t, tc.cb)
				for i := range 20 {
					b.record(t, "SF")
					b.wantState(t, fmt.Sprintf("round %d", i+1), "closed")
				}
			})
		})
	}
}

// portHalfOpen opens b's breaker (ConsecutiveFailures 1) and waits out
// OpenFor, so that the next call is a probe.
func (b *portBreaker) halfOpen(t *testing.T, openFor time.Duration) {
	t.Helper()
	b.record(t, "F")
	b.wantState(t, "after the failure", "open")
	time.Sleep(openFor + time.Millisecond)
	b.wantState(t, "after OpenFor", "half-open")
}

// From failsafe-go halfopenstate_test.go, the cases fetch's breaker can
// express (its half-open state closes after Probes successes in a row and
// reopens on any failure: CircuitBreaker: "Probes attempts go through, and
// if they all succeed it closes, while one failure opens it again").
func TestPortFSHalfOpenState(t *testing.T) {
	for _, tc := range []struct {
		name     string
		probes   int
		outcomes string
		want     string
	}{
		{"TestHalfOpenStateFailureWithDefaultConfig", 0, "F", "open"},
		{"TestHalfOpenSuccessWithDefaultConfig", 0, "S", "closed"},
		{"TestHalfOpenFailureWithSuccessThreshold", 3, "SF", "open"},
		{"TestHalfOpenFailureWithSuccessAndFailureThresholds", 3, "SSF", "open"},
		{"TestHalfOpenSuccessWithSuccessThreshold", 3, "SSS", "closed"},
		{"TestHalfOpenSuccessWithSuccessAndFailureThresholds", 3, "SSS", "closed"},
		{"TestHalfOpenSuccessWithSuccessThresholdAndFailureRatio", 2, "SS", "closed"},
		{"TestHalfOpenFailureWithSuccessThresholdAndFailureRatio", 3, "F", "open"},
		// failsafe's TestHalfOpenFailureWithFailureThreshold (threshold 3)
		// stays half-open through F F and opens on the third F, and
		// TestHalfOpenSuccessWithFailureThreshold closes after F S: with
		// no success threshold failsafe judges half-open by the failure
		// threshold. fetch reopens on the first failure.
		{"TestHalfOpenFailureWithFailureThreshold (fetch: first F reopens)", 0, "F", "open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newPortBreaker(t, CircuitBreaker{ConsecutiveFailures: 1, OpenFor: time.Second, Probes: tc.probes})
				b.halfOpen(t, time.Second)
				for i, o := range tc.outcomes {
					b.record(t, string(o))
					want := "half-open"
					if i == len(tc.outcomes)-1 {
						want = tc.want
					}
					b.wantState(t, fmt.Sprintf("after %q", tc.outcomes[:i+1]), want)
				}
				if tc.want == "open" && !b.refuses() {
					t.Error("reopened breaker let a call through")
				}
			})
		})
	}
}

// From failsafe-go TestTryAcquirePermit (openstate_test.go): an open
// breaker refuses until its delay has passed, then permits a probe and is
// half-open while it is out.
func TestPortFSTryAcquirePermit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var probe = make(chan struct{})
		var blocking atomic.Bool
		var sent atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent.Add(1)
			if blocking.Load() {
				<-probe
				return
			}
			w.WriteHeader(500)
		}), WithRetry(RetryPolicy{MaxAttempts: 1}),
			WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1, OpenFor: 100 * time.Millisecond}))
		get := func() error { _, err := f.Get(context.Background(), "http://a.test/"); return err }
		get()
		if err := get(); !errors.Is(err, ErrCircuitOpen) || sent.Load() != 1 {
			t.Fatalf("while open: %v (sent %d); want ErrCircuitOpen, nothing sent", err, sent.Load())
		}
		time.Sleep(110 * time.Millisecond)
		blocking.Store(true)
		done := make(chan error)
		go func() { done <- get() }()
		synctest.Wait()
		if sent.Load() != 2 {
			t.Fatalf("sent %d; want the probe permitted", sent.Load())
		}
		if hs := f.Stats().Hosts; len(hs) != 1 || hs[0].Breaker != "half-open" {
			t.Errorf("Stats().Hosts = %+v with the probe out; want half-open", hs)
		}
		close(probe)
		if err := <-done; err != nil {
			t.Fatalf("probe: %v", err)
		}
		if hs := f.Stats().Hosts; len(hs) != 0 {
			t.Errorf("Stats().Hosts = %+v after a good probe; want the breaker closed", hs)
		}
	})
}

// From failsafe-go TestCircuitBreaker "should reject initial execution when
// circuit open" and "should return ErrOpen after failures exceeded"
// (threshold 2, delay 10s): after 2 failures a call is refused with
// ErrOpen without being executed.
func TestPortFSErrOpenAfterFailuresExceeded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newPortBreaker(t, CircuitBreaker{ConsecutiveFailures: 2, OpenFor: 10 * time.Second})
		b.record(t, "FF")
		before := b.sent.Load()
		err := b.call(200)
		var ce *CircuitOpenError
		var fe *Error
		if !errors.As(err, &ce) || !errors.Is(err, ErrCircuitOpen) || b.sent.Load() != before {
			t.Fatalf("err %v; want *CircuitOpenError, nothing sent", err)
		}
		if errors.As(err, &fe) && fe.Attempts != 0 {
			t.Errorf("Attempts %d; want 0", fe.Attempts)
		}
		b.wantState(t, "after the refusal", "open")
		time.Sleep(10*time.Second - time.Millisecond)
		if !b.refuses() {
			t.Error("breaker let a call through before its delay passed")
		}
	})
}

// From failsafe-go TestCircuitBreaker "should reject excessive attempts when
// breaker half-open": with 3 probes out, further calls are refused.
func TestPortFSRejectExcessiveHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var blocking atomic.Bool
		var sent atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent.Add(1)
			if blocking.Load() {
				<-release
				return
			}
			w.WriteHeader(500)
		}), WithRetry(RetryPolicy{MaxAttempts: 1}),
			WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1, OpenFor: time.Second, Probes: 3}))
		get := func() error { _, err := f.Get(context.Background(), "http://a.test/"); return err }
		get()
		time.Sleep(time.Second + time.Millisecond)
		blocking.Store(true)
		errs := make(chan error, 3)
		for range 3 {
			go func() { errs <- get() }()
		}
		synctest.Wait()
		if sent.Load() != 4 {
			t.Fatalf("sent %d; want the failure and 3 probes", sent.Load())
		}
		for i := range 5 {
			if err := get(); !errors.Is(err, ErrCircuitOpen) {
				t.Errorf("call %d with the probes out: %v; want ErrCircuitOpen", i+1, err)
			}
		}
		if sent.Load() != 4 {
			t.Errorf("sent %d; want nothing more while the probes are out", sent.Load())
		}
		close(release)
		for range 3 {
			if err := <-errs; err != nil {
				t.Errorf("probe: %v", err)
			}
		}
		if hs := f.Stats().Hosts; len(hs) != 0 {
			t.Errorf("Stats().Hosts = %+v after 3 good probes; want closed", hs)
		}
	})
}

// From failsafe-go TestCircuitBreaker "with rejected retries": a retry
// policy of 7 attempts over a breaker that opens after 3 failures.
// failsafe retries the breaker's rejections too (7 executions, 3 reaching
// the function, ending with ErrOpen). fetch does not retry a refusal
// (CircuitOpenError: "The attempt it refused was not sent, and it is not
// retried"): the call ends at the first refusal, after 3 attempts, with a
// *CircuitOpenError carrying the last failure.
func TestPortFSWithRejectedRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, 500, nil))
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 7}), WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 3}))
		_, err := f.Get(context.Background(), "http://a.test/")
		var ce *CircuitOpenError
		var se *StatusError
		var fe *Error
		if !errors.As(err, &ce) || !errors.As(err, &se) || se.StatusCode != 500 || !errors.As(err, &fe) {
			t.Fatalf("err %v; want a *CircuitOpenError wrapping the last 500", err)
		}
		if c.n.Load() != 3 || fe.Attempts != 3 {
			t.Errorf("server saw %d, Attempts %d; want 3", c.n.Load(), fe.Attempts)
		}
	})
}

// From failsafe-go TestRetryPolicy_Composition "with CircuitBreaker - open":
// a default retry policy over a breaker that opens after one failure: 1
// execution, then ErrOpen.
func TestPortFSCompositionBreakerOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, 500, nil))
		f := newMem(t, c, WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1}))
		_, err := f.Get(context.Background(), "http://a.test/")
		if !errors.Is(err, ErrCircuitOpen) || c.n.Load() != 1 {
			t.Fatalf("err %v after %d requests; want ErrCircuitOpen after 1", err, c.n.Load())
		}
	})
}

// From failsafe-go TestRetryPolicy_Composition "with CircuitBreaker - success
// after failures" and TestCircuitBreaker "without conditions": failures
// then a success within a call leave a threshold-3 breaker closed, and the
// success resets the run of failures.
func TestPortFSCompositionSuccessAfterFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		var failFirst atomic.Int64
		failFirst.Store(2)
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) <= failFirst.Load() {
				w.WriteHeader(500)
			}
		}), WithRetry(RetryPolicy{MaxAttempts: 100}), WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 3, OpenFor: 10 * time.Minute}))
		r := f.Fetch(context.Background(), "http://a.test/")
		if r.Err != nil || r.Attempts != 3 {
			t.Fatalf("err %v after %d attempts; want success after 3", r.Err, r.Attempts)
		}
		// Two more failures, then a success: still closed (the success
		// reset the run).
		n.Store(0)
		r = f.Fetch(context.Background(), "http://a.test/")
		if r.Err != nil || r.Attempts != 3 || len(f.Stats().Hosts) != 0 {
			t.Fatalf("second call: err %v after %d attempts, hosts %+v; want success after 3, breaker closed", r.Err, r.Attempts, f.Stats().Hosts)
		}
	})
}

// From failsafe-go TestCircuitBreaker "should support time based failure rate
// thresholding" (rate .5, at least 3 executions, within 200ms). fetch's
// FailureRatio counts within fixed Intervals rather than a rolling window,
// and its OpenFor cannot be 0 ("Zero means the default, 30 seconds"), so
// the open delay is 1ms here; and its half-open state reopens on the first
// failure where failsafe's judges 3 executions by the rate.
func TestPortFSTimeBasedFailureRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newPortBreaker(t, CircuitBreaker{FailureRatio: .5, MinRequests: 3, Interval: 200 * time.Millisecond, OpenFor: time.Millisecond})
		b.record(t, "FS")
		time.Sleep(210 * time.Millisecond) // force results to roll off
		b.record(t, "FS")
		time.Sleep(50 * time.Millisecond)
		b.record(t, "S")
		b.wantState(t, "after F S | F S S", "closed")
		b.record(t, "F")
		b.wantState(t, "after F S | F S S F", "open")
		time.Sleep(2 * time.Millisecond)
		b.record(t, "F") // failsafe: half-open, 1 of 3; fetch: reopened
		b.wantState(t, "after a failed probe", "open")
		time.Sleep(2 * time.Millisecond)
		b.record(t, "S")
		b.wantState(t, "after a good probe", "closed")
	})
}

// ---------------------------------------------------------------------------
// failsafe-go: retry policy
// ---------------------------------------------------------------------------

// From failsafe-go TestRetryPolicy "should retry on failure" (3 attempts,
// ErrConnecting) and "should not retry on success".
func TestPortFSRetryOnFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &portRefusing{next: memhttp.Transport{Handler: http.HandlerFunc(ok)}}
		tr.refusals.Store(100)
		f := newMem(t, nil, WithClient(&http.Client{Transport: tr}), WithRetry(RetryPolicy{MaxAttempts: 3}))
		_, err := f.Get(context.Background(), "http://a.test/")
		if !errors.Is(err, syscall.ECONNREFUSED) || tr.tries.Load() != 3 {
			t.Fatalf("err %v after %d tries; want the refusal after 3", err, tr.tries.Load())
		}

		tr.refusals.Store(0)
		tr.tries.Store(0)
		r := f.Fetch(context.Background(), "http://a.test/")
		if r.Err != nil || r.Attempts != 1 || tr.tries.Load() != 1 {
			t.Fatalf("success: err %v after %d attempts; want 1", r.Err, r.Attempts)
		}
	})
}

// From failsafe-go TestRetryPolicy "should return ExceededError" and "should
// return ExceededError with wrapped results": when retries run out the
// error says how many attempts were made and wraps the last error (or,
// for a response, the last result: a *StatusError).
func TestPortFSExceededError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &portRefusing{next: memhttp.Transport{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(503)
		})}}
		tr.refusals.Store(3)
		var retries atomic.Int64
		f := newMem(t, nil, WithClient(&http.Client{Transport: tr}), WithRetry(RetryPolicy{MaxAttempts: 3}),
			WithHooks(Hooks{OnRetry: func(RetryInfo) { retries.Add(1) }}))
		_, err := f.Get(context.Background(), "http://a.test/")
		var fe *Error
		var oe *net.OpError
		if !errors.As(err, &fe) || fe.Attempts != 3 || !errors.As(err, &oe) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("err %v; want an *Error of 3 attempts wrapping the last error", err)
		}
		if retries.Load() != 2 {
			t.Errorf("%d retries; want 2", retries.Load())
		}
		// The last result: a 503 after 3 attempts.
		_, err = f.Get(context.Background(), "http://a.test/")
		var se *StatusError
		if !errors.As(err, &fe) || fe.Attempts != 3 || !errors.As(err, &se) || se.StatusCode != 503 {
			t.Fatalf("err %v; want an *Error of 3 attempts wrapping the last 503", err)
		}
	})
}

// From failsafe-go TestRetryPolicy "should not retry on non-retriable
// failure": a policy that handles only 500 retries the 500s and stops at
// the first other result.
func TestPortFSNotRetryNonRetriable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) <= 2 {
				w.WriteHeader(500)
				return
			}
			w.WriteHeader(404)
		}), WithRetry(RetryPolicy{MaxAttempts: 1000, Retryable: func(resp *http.Response, err error) bool {
			return resp != nil && resp.StatusCode == 500
		}}))
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 || n.Load() != 3 {
			t.Fatalf("got %d after %d attempts; want 404 after 3", resp.StatusCode, n.Load())
		}
	})
}

// From failsafe-go TestRetryPolicy "should fail when max duration exceeded"
// (max duration 100ms, the second attempt takes 120ms): no third attempt.
func TestPortFSMaxDurationExceeded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 2 {
				time.Sleep(120 * time.Millisecond)
			}
			w.WriteHeader(500)
		}), WithRetry(RetryPolicy{MaxAttempts: 100, BaseDelay: time.Millisecond, Jitter: NoJitter, MaxElapsed: 100 * time.Millisecond}))
		_, err := f.Get(context.Background(), "http://a.test/")
		var fe *Error
		var se *StatusError
		if !errors.As(err, &fe) || fe.Attempts != 2 || !errors.As(err, &se) || se.StatusCode != 500 || n.Load() != 2 {
			t.Fatalf("err %v after %d requests; want the 500 after 2 attempts", err, n.Load())
		}
		// And via Do: the final response handed back.
		n.Store(0)
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 500 || n.Load() != 2 {
			t.Fatalf("Do: %d after %d requests; want the 500 after 2", resp.StatusCode, n.Load())
		}
	})
}

// From failsafe-go TestRetryPolicy "unlimited attempts" (WithMaxAttempts(-1)):
// fetch has no unlimited setting and refuses a negative MaxAttempts
// (RetryPolicy.MaxAttempts: "Zero means the default, 4"; New: "an option
// given a value out of range makes New fail"); a large one serves: 5
// failures then success, 6 attempts.
func TestPortFSUnlimitedAttempts(t *testing.T) {
	if _, err := New(WithRetry(RetryPolicy{MaxAttempts: -1})); err == nil {
		t.Error("New accepted MaxAttempts -1")
	}
	synctest.Test(t, func(t *testing.T) {
		tr := &portRefusing{next: memhttp.Transport{Handler: http.HandlerFunc(ok)}}
		tr.refusals.Store(5)
		f := newMem(t, nil, WithClient(&http.Client{Transport: tr}), WithRetry(RetryPolicy{MaxAttempts: 1 << 20}))
		r := f.Fetch(context.Background(), "http://a.test/")
		if r.Err != nil || r.Attempts != 6 {
			t.Fatalf("err %v after %d attempts; want success after 6", r.Err, r.Attempts)
		}
	})
}

// From failsafe-go TestRetryPolicy "with backoff delay" (1ms to 10ms, 6
// retries): the delays are 1, 2, 4, 8, 10, 10 ms, and the attempts are that
// far apart.
func TestPortFSBackoffDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var delays []time.Duration
		c := count(failing(100, 503, nil))
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 7, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond, Jitter: NoJitter}),
			WithHooks(Hooks{OnRetry: func(r RetryInfo) {
				mu.Lock()
				delays = append(delays, r.Delay)
				mu.Unlock()
			}}))
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ms := time.Millisecond
		expected := []time.Duration{ms, 2 * ms, 4 * ms, 8 * ms, 10 * ms, 10 * ms}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(delays, expected) {
			t.Errorf("OnRetry delays %v; want %v", delays, expected)
		}
		if g := portGaps(c.times()); !slices.Equal(g, expected) {
			t.Errorf("gaps between attempts %v; want %v", g, expected)
		}
	})
}

// From failsafe-go TestGetFixedOrRandomDelay (backoff 2s to 30s, factor 2).
func TestPortFSGetFixedOrRandomDelay(t *testing.T) {
	p := RetryPolicy{BaseDelay: 2 * time.Second, MaxDelay: 30 * time.Second, Jitter: NoJitter}
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := p.Backoff(i+1, 0); got != w {
			t.Errorf("Backoff(%d) = %v; want %v", i+1, got, w)
		}
	}
}

// From failsafe-go's jitter (retrypolicy WithJitter/WithJitterFactor, whose
// delays stay within delay ± jitter): each of fetch's jitters keeps every
// delay within its documented bounds, and actually varies it.
func TestPortFSJitterBounds(t *testing.T) {
	base, ceil := 100*time.Millisecond, 2*time.Second
	for _, j := range []Jitter{FullJitter, EqualJitter, DecorrelatedJitter} {
		p := RetryPolicy{BaseDelay: base, MaxDelay: ceil, Jitter: j}
		for retry := 1; retry <= 8; retry++ {
			d := min(base<<(retry-1), ceil)
			prev := min(base<<(retry-1), ceil) // a previous delay, for decorrelated
			seen := map[time.Duration]bool{}
			for range 500 {
				got := p.Backoff(retry, prev)
				seen[got] = true
				var lo, hi time.Duration // [lo, hi)
				switch j {
				case FullJitter:
					lo, hi = 0, d
				case EqualJitter:
					lo, hi = d/2, d
				case DecorrelatedJitter:
					lo, hi = base, min(3*prev, ceil)
				}
				if got < lo || got >= hi {
					t.Fatalf("jitter %d, retry %d: Backoff = %v; want within [%v, %v)", j, retry, got, lo, hi)
				}
			}
			if len(seen) < 2 {
				t.Errorf("jitter %d, retry %d: 500 delays all %v; want them varied", j, retry, seen)
			}
		}
	}
	// And in a real loop: the waits between attempts stay within [0, d).
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, 503, nil))
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 8, BaseDelay: base, MaxDelay: ceil}))
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for i, g := range portGaps(c.times()) {
			if d := min(base<<i, ceil); g < 0 || g >= d {
				t.Errorf("wait %d: %v; want within [0, %v)", i+1, g, d)
			}
		}
	})
}

// From failsafe-go TestExecution_Cancellation "with Context" and "with
// Deadline": the caller's context ending during an attempt ends the call
// after that one attempt, with context.Canceled or DeadlineExceeded, not
// retried.
func TestPortFSExecutionCancellation(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"with Context", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"with Deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n atomic.Int64
				f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n.Add(1)
					<-r.Context().Done()
				}))
				ctx, cancel := tc.ctx()
				defer cancel()
				start := time.Now()
				_, err := f.Get(ctx, "http://a.test/")
				var fe *Error
				if !errors.Is(err, tc.want) || !errors.As(err, &fe) || fe.Attempts != 1 || n.Load() != 1 {
					t.Fatalf("err %v after %d requests; want %v after 1", err, n.Load(), tc.want)
				}
				if took := time.Since(start); took != 100*time.Millisecond {
					t.Errorf("returned after %v; want 100ms", took)
				}
			})
		})
	}
}

// From failsafe-go's cancellation tests applied to a half-open breaker: a
// probe whose caller gives up says nothing of the host (CircuitBreaker: "An
// attempt that fails because the caller's context ended ... counts neither
// way"), so it must not use up the half-open state's probe: the next call
// is let through as the probe.
func TestPortFSHalfOpenCancelledProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hang atomic.Bool
		var sent atomic.Int64
		var healthy atomic.Bool
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent.Add(1)
			if hang.Load() {
				<-r.Context().Done()
				return
			}
			if !healthy.Load() {
				w.WriteHeader(500)
			}
		}), WithRetry(RetryPolicy{MaxAttempts: 1}),
			WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1, OpenFor: time.Second}))
		f.Get(context.Background(), "http://a.test/")
		time.Sleep(time.Second + time.Millisecond)
		hang.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		_, err := f.Get(ctx, "http://a.test/")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || sent.Load() != 2 {
			t.Fatalf("probe: %v (sent %d); want DeadlineExceeded after sending it", err, sent.Load())
		}
		hang.Store(false)
		healthy.Store(true)
		if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
			t.Fatalf("call after an abandoned probe: %v; want it let through as the probe", err)
		}
		if hs := f.Stats().Hosts; len(hs) != 0 {
			t.Errorf("Stats().Hosts = %+v; want the breaker closed", hs)
		}
	})
}

// From go-retryablehttp's body rewinding (Request.BodyReader, which fails
// the call when a body cannot be re-read): a GetBody that fails on a retry
// ends the call with that error, not retried. Nothing was sent for that
// retry, so it must not count as an attempt sent (Error.Attempts:
// "requests the server was sent"; Stats.Retries: "a retry decided but
// never sent is not one"), nor as a failure of the host in its circuit
// breaker (IsFailure's default: "a transport error, a 429 or a 5xx").
func TestPortRHRewindFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, 503, nil))
		f := newMem(t, c, WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 2}))
		boom := errors.New("boom")
		req, _ := http.NewRequest("PUT", "http://a.test/", strings.NewReader("payload"))
		req.GetBody = func() (io.ReadCloser, error) { return nil, boom }
		_, err := f.Do(req)
		var fe *Error
		if !errors.Is(err, boom) || !errors.As(err, &fe) || c.n.Load() != 1 {
			t.Fatalf("err %v after %d requests; want boom after 1", err, c.n.Load())
		}
		if fe.Attempts != 1 || strings.Contains(err.Error(), "after 2 attempts") {
			t.Errorf("Error.Attempts %d (%q); want 1: the server was sent one request", fe.Attempts, err)
		}
		if s := f.Stats(); s.Attempts != 1 || s.Retries != 0 {
			t.Errorf("Stats Attempts %d, Retries %d; want 1, 0", s.Attempts, s.Retries)
		}
		// The host failed once; the breaker (2 in a row) must still be
		// closed, so the next call is sent (its 503 then opens it).
		if _, err := f.Get(context.Background(), "http://a.test/"); c.n.Load() != 2 {
			t.Errorf("next call: %v after %d requests in all; want it sent: the host had failed only once", err, c.n.Load())
		}
	})
}

// From go-retryablehttp Client.Do, which closes the request body as
// http.Client.Do does: every body a call was given or made by GetBody is
// closed when the call ends, retried or not.
func TestPortRHRequestBodiesClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var opened, closed atomic.Int64
		mk := func() io.ReadCloser {
			opened.Add(1)
			return &portTrackedBody{Reader: strings.NewReader("payload"), closed: &closed}
		}
		c := count(failing(2, 503, nil))
		f := newMem(t, c)
		req, _ := http.NewRequest("PUT", "http://a.test/", mk())
		req.GetBody = func() (io.ReadCloser, error) { return mk(), nil }
		resp, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if c.n.Load() != 3 || opened.Load() != 3 || closed.Load() != 3 {
			t.Errorf("%d attempts, %d bodies opened, %d closed; want 3, 3, 3", c.n.Load(), opened.Load(), closed.Load())
		}
	})
}

type portTrackedBody struct {
	io.Reader
	closed *atomic.Int64
	once   sync.Once
}

func (b *portTrackedBody) Close() error { b.once.Do(func() { b.closed.Add(1) }); return nil }

// From failsafe-go TestCircuitBreaker "should reject excessive attempts when
// breaker half-open", with the host's gates in the way: while the
// half-open breaker's probe is out, a further call is refused at once
// (README: calls "fail at once with *CircuitOpenError, sending nothing"),
// without first waiting for the host's rate token or in-flight slot.
func TestPortFSRejectExcessiveHalfOpenBehindGates(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
	}{
		{"host rate", WithHostRate(PerMinute(6), 1)},
		{"host concurrency", WithHostConcurrency(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				var blocking atomic.Bool
				var sent atomic.Int64
				f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					sent.Add(1)
					if blocking.Load() {
						<-release
						return
					}
					w.WriteHeader(500)
				}), WithRetry(RetryPolicy{MaxAttempts: 1}), tc.opt,
					WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1, OpenFor: 30 * time.Second}))
				get := func(ctx context.Context) error { _, err := f.Get(ctx, "http://a.test/"); return err }
				get(context.Background())
				time.Sleep(30*time.Second + time.Millisecond)
				blocking.Store(true)
				probe := make(chan error, 1)
				go func() { probe <- get(context.Background()) }()
				synctest.Wait() // the probe is out
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				start := time.Now()
				err := get(ctx)
				took := time.Since(start)
				close(release)
				<-probe
				if !errors.Is(err, ErrCircuitOpen) || took != 0 {
					t.Fatalf("call with the probe out: %v after %v; want ErrCircuitOpen at once", err, took)
				}
			})
		})
	}
}

// From go-retryablehttp's drainBody before a retry (Client.Do drains up to
// respReadLimit so that the connection is reused): the retries of a 500
// with a small body go over the same connection.
func TestPortRHRetryReusesConnection(t *testing.T) {
	var n atomic.Int64
	var conns atomic.Int64
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 3 {
			w.WriteHeader(500)
			w.Write(bytes.Repeat([]byte("x"), 2000))
			return
		}
		w.Write([]byte("ok"))
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	f := portFetcher(t, WithRetry(RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if _, err := f.Get(context.Background(), ts.URL); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 4 || conns.Load() != 1 {
		t.Errorf("%d requests over %d connections; want 4 over 1", n.Load(), conns.Load())
	}
}
