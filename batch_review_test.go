package fetch

// Review of the batch calls (GetAll, DoAll, GetAllFailFast, DoAllFailFast)
// from the point of view of a user replacing a hand-written errgroup
// fan-out with them. The asyncio.gather ports (rate_gather_port_test.go)
// and the Shutdown review (lifecycle_review_test.go) are not repeated
// here. Anything about time runs in a testing/synctest bubble on the
// in-memory transport, where time is exact; the loopback tests bound every
// wait, and leave no goroutine behind (goleak).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/time/rate"
)

// brBound bounds a wait on loopback: past it, the test counts a deadlock.
const brBound = 10 * time.Second

// brCall is one of the four batch calls, given requests for DoAll and
// URLs for GetAll, made to look alike.
type brCall struct {
	name     string
	failFast bool
	do       bool // takes requests
	run      func(ctx context.Context, f *Fetcher, urls []string, reqs []*http.Request) ([]Result, error)
}

func brCalls() []brCall {
	return []brCall{
		{"GetAll", false, false, func(ctx context.Context, f *Fetcher, urls []string, _ []*http.Request) ([]Result, error) {
			return f.GetAll(ctx, urls), nil
		}},
		{"GetAllFailFast", true, false, func(ctx context.Context, f *Fetcher, urls []string, _ []*http.Request) ([]Result, error) {
			return f.GetAllFailFast(ctx, urls)
		}},
		{"DoAll", false, true, func(ctx context.Context, f *Fetcher, _ []string, reqs []*http.Request) ([]Result, error) {
			return f.DoAll(ctx, reqs), nil
		}},
		{"DoAllFailFast", true, true, func(ctx context.Context, f *Fetcher, _ []string, reqs []*http.Request) ([]Result, error) {
			return f.DoAllFailFast(ctx, reqs)
		}},
	}
}

// brRun runs c on urls, made into GET requests for the DoAll calls.
func brRun(t testing.TB, ctx context.Context, c brCall, f *Fetcher, urls []string) ([]Result, error) {
	t.Helper()
	var reqs []*http.Request
	if c.do {
		reqs = make([]*http.Request, len(urls))
		for i, u := range urls {
			reqs[i] = mustGet(t, u)
		}
	}
	return c.run(ctx, f, urls, reqs)
}

// brCheckShape checks that rs holds exactly one Result per input, in input
// order.
func brCheckShape(t *testing.T, rs []Result, n int) {
	t.Helper()
	if len(rs) != n {
		t.Fatalf("%d results for %d inputs", len(rs), n)
	}
	for i, r := range rs {
		if r.Index != i {
			t.Errorf("results[%d].Index = %d", i, r.Index)
		}
	}
}

// brIdle checks that nothing is left in flight or waiting.
func brIdle(t *testing.T, f *Fetcher) {
	t.Helper()
	if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
		t.Errorf("after the call: InFlight %d, Waiting %d; want 0, 0", s.InFlight, s.Waiting)
	}
}

// brRouter serves the paths the mixed-outcome tests use.
func brRouter() http.HandlerFunc {
	var flaky atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/missing":
			w.Header().Set("X-Why", "gone")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "no such thing")
		case p == "/broken":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "broken")
		case p == "/flaky": // 503 once, then fine
			if flaky.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "flaky ok")
		case p == "/big":
			w.Write(bytes.Repeat([]byte("x"), 100))
		case p == "/moved":
			http.Redirect(w, r, "/dest", http.StatusFound)
		case p == "/moved-missing":
			http.Redirect(w, r, "/missing", http.StatusFound)
		case p == "/echo":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %s", r.Method, p, b)
		default:
			w.Header().Set("X-Path", p)
			io.WriteString(w, "body of "+p)
		}
	}
}

// --- one Result per input, in input order, for every mix of outcomes ---

// Every kind of input and outcome in one batch: successes, duplicates, a
// 404, a 500 retried to the end, a 503 that recovers, a body over the cap,
// redirects (to a success and to a 404), and every way a URL can be
// invalid. Each yields its own Result, at its index, with the fields the
// Result doc promises.
func TestBRMixedOutcomesInInputOrder(t *testing.T) {
	for _, c := range brCalls() {
		if c.failFast {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newMem(t, brRouter(), WithMaxBodySize(50), WithConcurrency(3),
					WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Second, Jitter: NoJitter}))
				urls := []string{
					"http://a.test/one",           // 0
					"http://a.test/missing",       // 1
					"http://b.test/one",           // 2
					"http://a.test/broken",        // 3
					"http://a.test/one",           // 4 duplicate of 0
					"http://c.test/flaky",         // 5
					"http://c.test/big",           // 6
					"http://a.test/moved",         // 7
					"http://b.test/moved-missing", // 8
					"http://a.test/one",           // 9 duplicate of 0
				}
				invalid := []string{"", "::not a url", "/relative", "ftp://a.test/x", "http://", "http://a.test:99999/", "http://a b.test/"}
				var reqs []*http.Request
				if c.do {
					for _, u := range urls {
						reqs = append(reqs, mustGet(t, u))
					}
					// DoAll's invalid inputs: nil, no URL, bad schemes, no host, bad port.
					reqs = append(reqs, nil, &http.Request{Method: "GET"})
					for _, u := range []string{"ftp://a.test/x", "http:///nohost", "http://a.test:99999/"} {
						pu, err := url.Parse(u)
						if err != nil {
							t.Fatal(err)
						}
						reqs = append(reqs, &http.Request{Method: "GET", URL: pu, Header: http.Header{}})
					}
					reqs = append(reqs, mustGet(t, "http://a.test/one")) // valid after the invalid ones
				} else {
					urls = append(urls, invalid...)
					urls = append(urls, "http://a.test/one")
				}
				n := len(urls)
				if c.do {
					n = len(reqs)
				}
				start := time.Now()
				rs, _ := c.run(context.Background(), f, urls, reqs)
				brCheckShape(t, rs, n)
				if t.Failed() {
					return
				}
				okAt := func(i int, path, host string) {
					t.Helper()
					r := rs[i]
					want := "http://" + host + path
					if r.Err != nil || r.Status != 200 || string(r.Body) != "body of "+path || r.Attempts != 1 ||
						r.URL != want || r.FinalURL != want || r.Header.Get("X-Path") != path {
						t.Errorf("results[%d] = status %d, body %q, err %v, %d attempts, URL %q, FinalURL %q, X-Path %q; want 200 %q, 1 attempt, URL and FinalURL %q",
							i, r.Status, r.Body, r.Err, r.Attempts, r.URL, r.FinalURL, r.Header.Get("X-Path"), "body of "+path, want)
					}
				}
				okAt(0, "/one", "a.test")
				okAt(2, "/one", "b.test")
				okAt(4, "/one", "a.test")
				okAt(9, "/one", "a.test")
				okAt(n-1, "/one", "a.test")

				var se *StatusError
				if r := rs[1]; !errors.As(r.Err, &se) || se.StatusCode != 404 || r.Status != 404 ||
					string(r.Body) != "no such thing" || r.Header.Get("X-Why") != "gone" || r.Attempts != 1 || r.FinalURL != urls[1] {
					t.Errorf("404: status %d, body %q, X-Why %q, %d attempts, FinalURL %q, err %v; want the 404 with its body and header, 1 attempt",
						r.Status, r.Body, r.Header.Get("X-Why"), r.Attempts, r.FinalURL, r.Err)
				}
				if r := rs[3]; !errors.As(r.Err, &se) || se.StatusCode != 500 || r.Status != 500 || string(r.Body) != "broken" || r.Attempts != 3 {
					t.Errorf("500: status %d, body %q, %d attempts, err %v; want 500, its body, 3 attempts", r.Status, r.Body, r.Attempts, r.Err)
				}
				if r := rs[5]; r.Err != nil || string(r.Body) != "flaky ok" || r.Attempts != 2 || r.Duration != time.Second {
					t.Errorf("flaky: body %q, %d attempts, took %v, err %v; want flaky ok after 2 attempts, 1s", r.Body, r.Attempts, r.Duration, r.Err)
				}
				if r := rs[6]; !errors.Is(r.Err, ErrBodyTooLarge) || r.Status != 200 || r.Attempts != 1 || r.Header == nil {
					t.Errorf("over the cap: status %d, %d attempts, header %v, err %v; want ErrBodyTooLarge, status 200, 1 attempt, the header", r.Status, r.Attempts, r.Header, r.Err)
				}
				if r := rs[7]; r.Err != nil || r.Status != 200 || string(r.Body) != "body of /dest" || r.URL != urls[7] || r.FinalURL != "http://a.test/dest" || r.Attempts != 1 {
					t.Errorf("redirect: status %d, body %q, URL %q, FinalURL %q, %d attempts, err %v; want /dest's body, FinalURL http://a.test/dest",
						r.Status, r.Body, r.URL, r.FinalURL, r.Attempts, r.Err)
				}
				if r := rs[8]; !errors.As(r.Err, &se) || r.Status != 404 || r.FinalURL != "http://b.test/missing" || string(r.Body) != "no such thing" {
					t.Errorf("redirect to a 404: status %d, FinalURL %q, body %q, err %v; want 404 at http://b.test/missing", r.Status, r.FinalURL, r.Body, r.Err)
				}
				for i := 10; i < n-1; i++ {
					r := rs[i]
					if c.do && i == 10 {
						if !errors.Is(r.Err, errNilRequest) || r.Attempts != 0 || r.Status != 0 {
							t.Errorf("nil request: %v, %d attempts; want errNilRequest, 0", r.Err, r.Attempts)
						}
						continue
					}
					if !errors.Is(r.Err, ErrInvalidURL) || r.Attempts != 0 || r.Status != 0 || r.Body != nil || r.FinalURL != "" {
						t.Errorf("invalid input %d (%q): err %v, %d attempts, status %d, FinalURL %q; want ErrInvalidURL, nothing sent", i, r.URL, r.Err, r.Attempts, r.Status, r.FinalURL)
					}
					var e *Error
					if !errors.As(r.Err, &e) {
						t.Errorf("invalid input %d: err %T; want an *Error", i, r.Err)
					}
				}
				// 500: two backoffs of 1s and 2s, concurrent with the rest.
				if d := time.Since(start); d != 3*time.Second {
					t.Errorf("took %v; want 3s, the 500's retries", d)
				}
				brIdle(t, f)
				if s := f.Stats(); s.Calls != int64(n) {
					t.Errorf("Stats.Calls = %d; want one per input, %d", s.Calls, n)
				}
			})
		})
	}
}

// --- FailFast: which failures count, what is kept, what is cancelled ---

// A failure that a retry recovers from is no failure: a 503 then a 200
// does not stop the batch.
func TestBRFailFastIgnoresRecoveredFailures(t *testing.T) {
	for _, c := range brCalls() {
		if !c.failFast {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newMem(t, brRouter(), WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Second, Jitter: NoJitter}))
				urls := []string{"http://a.test/one", "http://a.test/flaky", "http://b.test/one"}
				rs, err := brRun(t, context.Background(), c, f, urls)
				brCheckShape(t, rs, 3)
				if err != nil {
					t.Errorf("err = %v; want nil: the 503 was retried and recovered", err)
				}
				for i, r := range rs {
					if r.Err != nil {
						t.Errorf("results[%d].Err = %v", i, r.Err)
					}
				}
				if rs[1].Attempts != 2 || string(rs[1].Body) != "flaky ok" {
					t.Errorf("flaky: %d attempts, body %q; want 2, flaky ok", rs[1].Attempts, rs[1].Body)
				}
			})
		})
	}
}

// Each kind of failure counts: a 404, a body over the cap, an invalid
// input, a nil request (DoAll), a 500 once its retries are spent. The
// failure returned is the failing input's own error (not a cancelled
// sibling's), results that had succeeded before it are kept whole, and
// everything still running or waiting comes back cancelled at once.
func TestBRFailFastEachKindOfFailure(t *testing.T) {
	type kind struct {
		name  string
		url   string // the failing input, for GetAll; for DoAll too unless nilReq
		match func(error) bool
	}
	var se *StatusError
	kinds := []kind{
		{"404", "http://b.test/missing", func(err error) bool { return errors.As(err, &se) && se.StatusCode == 404 }},
		{"body over cap", "http://b.test/big", func(err error) bool { return errors.Is(err, ErrBodyTooLarge) }},
		{"500 after retries", "http://b.test/broken", func(err error) bool { return errors.As(err, &se) && se.StatusCode == 500 }},
		{"invalid URL", "ftp://b.test/x", func(err error) bool { return errors.Is(err, ErrInvalidURL) }},
		{"nil request", "", func(err error) bool { return errors.Is(err, errNilRequest) }},
	}
	for _, c := range brCalls() {
		if !c.failFast {
			continue
		}
		for _, k := range kinds {
			if k.url == "" && !c.do {
				continue
			}
			t.Run(c.name+"/"+k.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					router := brRouter()
					var sent atomic.Int64
					cancelled := make(chan string, 100)
					h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						sent.Add(1)
						if r.URL.Host == "slow.test" { // in flight when the failure comes
							select {
							case <-time.After(time.Hour):
								io.WriteString(w, "slow")
							case <-r.Context().Done():
								cancelled <- r.URL.Path
							}
							return
						}
						switch r.URL.Host {
						case "b.test": // fails after the fast ones are done
							time.Sleep(time.Second)
						case "c.test": // still running at the failure
							select {
							case <-time.After(10 * time.Second):
							case <-r.Context().Done():
								cancelled <- r.URL.Path
								return
							}
						}
						router(w, r)
					})
					// Every host's first input in flight at once; its others
					// queued behind it (one per host).
					f := newMem(t, h, WithConcurrency(8), WithHostConcurrency(1), WithMaxBodySize(50),
						WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Second, Jitter: NoJitter}))
					urls := []string{
						"http://a.test/one", "http://slow.test/1", "http://a.test/two",
						"failing", "http://slow.test/2",
						"http://c.test/late/1", "http://c.test/late/2", "http://c.test/late/3",
					}
					urls[3] = k.url
					var reqs []*http.Request
					if c.do {
						for _, u := range urls {
							if u == "" {
								reqs = append(reqs, nil)
								continue
							}
							req, err := http.NewRequest("GET", u, nil)
							if err != nil {
								t.Fatal(err)
							}
							reqs = append(reqs, req)
						}
					}
					start := time.Now()
					rs, err := c.run(context.Background(), f, urls, reqs)
					took := time.Since(start)
					brCheckShape(t, rs, len(urls))
					if t.Failed() {
						return
					}
					if !k.match(err) || err != rs[3].Err {
						t.Errorf("err = %v; want the failing input's own error (%s), results[3].Err = %v", err, k.name, rs[3].Err)
					}
					if errors.Is(err, context.Canceled) {
						t.Errorf("err = %v matches context.Canceled: a cancelled sibling's error reported as the failure", err)
					}
					refused := k.name == "invalid URL" || k.name == "nil request" // at once, before a.test's answer
					for _, i := range []int{0, 2} {
						if r := rs[i]; refused && errors.Is(r.Err, context.Canceled) {
							continue
						}
						if r := rs[i]; r.Err != nil || r.Status != 200 || !strings.HasPrefix(string(r.Body), "body of /") {
							t.Errorf("results[%d] (done before the failure) = %d %q, %v; want kept whole", i, r.Status, r.Body, r.Err)
						}
					}
					for _, i := range []int{1, 4, 5, 6, 7} {
						r := rs[i]
						if !errors.Is(r.Err, context.Canceled) || r.Status != 0 || r.Body != nil {
							t.Errorf("results[%d] (%s): status %d, err %v; want context.Canceled", i, urls[i], r.Status, r.Err)
						}
						if errors.As(r.Err, new(*StatusError)) || errors.Is(r.Err, ErrBodyTooLarge) || errors.Is(r.Err, ErrInvalidURL) {
							t.Errorf("results[%d]: err %v matches the failure's own kind; a cancelled input must not look like the failure", i, r.Err)
						}
					}
					// The in-flight slow requests saw the cancel.
					close(cancelled)
					var saw []string
					for p := range cancelled {
						saw = append(saw, p)
					}
					slices.Sort(saw)
					if want := []string{"/1", "/late/1"}; !refused && !slices.Equal(saw, want) {
						t.Errorf("cancelled in flight: %v; want %v (the others were queued behind them)", saw, want)
					}
					wantSent := int64(5) // a.test twice, one each to slow, b and c
					if k.name == "500 after retries" {
						wantSent++ // b's retry
					}
					if s := sent.Load(); !refused && s != wantSent || refused && s > 4 {
						t.Errorf("server saw %d requests; want %d, none after the failure", s, wantSent)
					}
					want := time.Duration(0) // invalid input, nil request: refused before sending
					switch k.name {
					case "404", "body over cap":
						want = time.Second
					case "500 after retries":
						want = 3 * time.Second // 1s, a 1s backoff, 1s
					}
					if took != want {
						t.Errorf("returned after %v; want %v, at the failure", took, want)
					}
					brIdle(t, f)
				})
			})
		}
	}
}

// --- ctx cancelled mid-batch ---

// The caller cancels while inputs are in every state: on the wire, waiting
// to retry after a Retry-After, queued behind their host's rate limit,
// following a redirect that waits at its target host's gates, not yet read
// (a small read-ahead). The call returns at the cancel, every input has
// its Result at its index, and each (but an invalid URL's, whose error is
// its own) matches context.Canceled. Nothing is sent after the cancel.
func TestBRCancelMidBatchEveryState(t *testing.T) {
	for _, c := range brCalls() {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var sent, afterCancel atomic.Int64
				var cancelledAt atomic.Bool
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					sent.Add(1)
					if cancelledAt.Load() {
						afterCancel.Add(1)
					}
					switch r.URL.Host {
					case "retry.test":
						w.Header().Set("Retry-After", "30")
						w.WriteHeader(http.StatusServiceUnavailable)
					case "hop.test":
						http.Redirect(w, r, "http://busy.test/target", http.StatusFound)
					default: // on the wire until cancelled
						<-r.Context().Done()
					}
				})
				// One token per host per hour: a host's first request goes,
				// the rest wait in its queue.
				f := newMem(t, h, WithConcurrency(8), WithReadAhead(4), WithHostRate(rate.Every(time.Hour), 1))
				urls := []string{"http://busy.test/0", "http://retry.test/0", "http://busy.test/1", "http://hop.test/moved"}
				for i := range 200 {
					urls = append(urls, fmt.Sprintf("http://h%d.test/%d", i%5, i))
				}
				invalid := -1 // FailFast would stop at it, at once
				if !c.failFast {
					urls = append(urls, "http://[::1")
					invalid = len(urls) - 1
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				time.AfterFunc(time.Second, func() { cancelledAt.Store(true); cancel() })
				start := time.Now()
				var rs []Result
				var err error
				if c.do {
					reqs := make([]*http.Request, len(urls))
					for i, u := range urls {
						if i == invalid {
							reqs[i] = &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Path: "/nohost"}}
							continue
						}
						reqs[i] = mustGet(t, u)
					}
					rs, err = c.run(ctx, f, nil, reqs)
				} else {
					rs, err = c.run(ctx, f, urls, nil)
				}
				if d := time.Since(start); d != time.Second {
					t.Errorf("returned after %v; want at the cancel, 1s", d)
				}
				brCheckShape(t, rs, len(urls))
				for i, r := range rs {
					if i == invalid {
						if !errors.Is(r.Err, ErrInvalidURL) {
							t.Errorf("invalid input: %v; want ErrInvalidURL", r.Err)
						}
						continue
					}
					if !errors.Is(r.Err, context.Canceled) {
						t.Errorf("results[%d] (%s): %v; want context.Canceled", i, urls[i], r.Err)
					}
					if r.URL != urls[i] {
						t.Errorf("results[%d].URL = %q; want %q", i, r.URL, urls[i])
					}
				}
				if r := rs[0]; r.Attempts != 1 || r.Status != 0 || r.Body != nil {
					t.Errorf("on the wire: %d attempts, status %d, body %q; want 1 attempt, no response", r.Attempts, r.Status, r.Body)
				}
				if r := rs[1]; r.Attempts != 1 || r.Status != 503 && r.Status != 0 {
					t.Errorf("waiting to retry: %d attempts, status %d; want 1 attempt", r.Attempts, r.Status)
				}
				if r := rs[2]; r.Attempts != 0 || r.Status != 0 {
					t.Errorf("queued behind its host: %d attempts, status %d; want none", r.Attempts, r.Status)
				}
				if r := rs[3]; r.Attempts != 1 || !strings.Contains(fmt.Sprint(r.Err), "redirect") {
					t.Errorf("waiting at a redirect's gates: %d attempts, err %v; want 1 attempt, an error naming the redirect", r.Attempts, r.Err)
				}
				if c.failFast && !errors.Is(err, context.Canceled) {
					t.Errorf("err = %v; want context.Canceled", err)
				}
				if n := sent.Load(); n != 8 { // busy, retry, hop and the 5 other hosts' first
					t.Errorf("server saw %d requests; want 8, one per host", n)
				}
				if n := afterCancel.Load(); n != 0 {
					t.Errorf("%d requests sent after the cancel", n)
				}
				brIdle(t, f)
			})
		})
	}
}

// --- DoAll: the requests' own contexts, bodies, GetBody, reuse ---

// brBody is a request body that records how often it was closed.
type brBody struct {
	io.Reader
	closes atomic.Int64
}

func (b *brBody) Close() error { b.closes.Add(1); return nil }

type brKey struct{}

// DoAll sends each request under a context made of the call's ctx and
// its own, as documented: the request's own values win over the call's,
// its own deadline counts (request_context_test.go covers the ending);
// and the caller's request is left as it was.
func TestBRDoAllContextMerged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen sync.Map
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.Store(r.URL.Path, fmt.Sprint(r.Context().Value(brKey{})))
			_, hasDeadline := r.Context().Deadline()
			if hasDeadline {
				w.Header().Set("X-Deadline", "yes")
			}
		}))
		own, cancelOwn := context.WithTimeout(context.WithValue(context.Background(), brKey{}, "request's"), time.Minute)
		defer cancelOwn()
		req := mustGet(t, "http://a.test/own").WithContext(own)
		ctx := context.WithValue(context.Background(), brKey{}, "call's")
		rs := f.DoAll(ctx, []*http.Request{req})
		if rs[0].Err != nil {
			t.Fatal(rs[0].Err)
		}
		if v, _ := seen.Load("/own"); v != "request's" {
			t.Errorf("the request carried the value %q; want its own context's", v)
		}
		if rs[0].Header.Get("X-Deadline") == "" {
			t.Error("the request did not carry its own context's deadline")
		}
		if req.Context() != own {
			t.Error("DoAll changed the caller's request's context")
		}
	})
}

// A request with a replayable body (GetBody, as http.NewRequest sets for a
// bytes.Reader) is retried with its whole body each time; one without
// GetBody is not retried, and fails with the status that would have been
// retried. Either way its body is closed, once.
func TestBRDoAllBodiesAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		got := map[string][]string{}
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got[r.URL.Path] = append(got[r.URL.Path], string(b))
			n := len(got[r.URL.Path])
			mu.Unlock()
			if n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintf(w, "%s", b)
		}), WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Second, Jitter: NoJitter}))
		replayable, err := http.NewRequest(http.MethodPut, "http://a.test/replayable", bytes.NewReader([]byte("put body")))
		if err != nil {
			t.Fatal(err)
		}
		tracked := &brBody{Reader: strings.NewReader("once only")}
		oneShot, err := http.NewRequest(http.MethodPut, "http://a.test/oneshot", tracked)
		if err != nil {
			t.Fatal(err)
		}
		rs := f.DoAll(context.Background(), []*http.Request{replayable, oneShot})
		if r := rs[0]; r.Err != nil || string(r.Body) != "put body" || r.Attempts != 2 {
			t.Errorf("replayable: body %q, %d attempts, err %v; want put body after 2", r.Body, r.Attempts, r.Err)
		}
		if g := got["/replayable"]; !slices.Equal(g, []string{"put body", "put body"}) {
			t.Errorf("server got bodies %q; want the whole body on each attempt", g)
		}
		if r := rs[1]; r.Status != 503 || r.Attempts != 1 || prgStatus(r.Err) != 503 {
			t.Errorf("not replayable: status %d, %d attempts, err %v; want the 503, not retried", r.Status, r.Attempts, r.Err)
		}
		if g := got["/oneshot"]; !slices.Equal(g, []string{"once only"}) {
			t.Errorf("server got bodies %q; want one attempt with the body", g)
		}
		if n := tracked.closes.Load(); n < 1 {
			t.Errorf("one-shot body closed %d times; want closed", n)
		}
	})
}

// The same request given as several inputs, as the gather port does with a
// GET, but with a body (GetBody set, as http.NewRequest sets it for a
// bytes.Reader): each input should be sent once, with the whole body, as
// if each were its own request. One at a time, so that the shared body is
// not read by two workers at once.
//
// On the in-memory transport, which does not check Content-Length, the
// second and third inputs send an empty body and report success. Over
// net/http the empty body fails the attempt ("ContentLength=7 with Body
// length 0"), which is then retried with GetBody: every reused input costs
// 2 attempts where 1 would do, the server seeing a request cut short (a
// POST included), and a retry budget or rate is spent on it.
func TestBRDoAllSameRequestWithBodyReused(t *testing.T) {
	t.Run("memhttp", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var mu sync.Mutex
			var bodies []string
			f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				bodies = append(bodies, string(b))
				mu.Unlock()
			}), WithConcurrency(1))
			req, err := http.NewRequest(http.MethodPut, "http://a.test/", bytes.NewReader([]byte("payload")))
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range f.DoAll(context.Background(), []*http.Request{req, req, req}) {
				if r.Err != nil {
					t.Errorf("input %d: %v", i, r.Err)
				}
			}
			if !slices.Equal(bodies, []string{"payload", "payload", "payload"}) {
				t.Errorf("server got %q; want the whole body for each input", bodies)
			}
		})
	})
	t.Run("loopback", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
		}))
		defer srv.Close()
		f, err := New(WithConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		for _, method := range []string{http.MethodPut, http.MethodPost} {
			req, err := http.NewRequest(method, srv.URL, bytes.NewReader([]byte("payload")))
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range f.DoAll(t.Context(), []*http.Request{req, req, req}) {
				if r.Err != nil || string(r.Body) != "payload" || r.Attempts != 1 {
					t.Errorf("%s input %d: body %q, %d attempts, err %v; want payload echoed, 1 attempt", method, i, r.Body, r.Attempts, r.Err)
				}
			}
		}
	})
}

// A nil context is refused for every input, and the request bodies handed
// over are still closed, as Do's doc promises for every request given to
// DoAll; each Result still names its request (Result.URL: "the request
// URL, redacted").
func TestBRDoAllNilContextClosesBodies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		b1 := &brBody{Reader: strings.NewReader("x")}
		b2 := &brBody{Reader: strings.NewReader("y")}
		r1, _ := http.NewRequest(http.MethodPut, "http://a.test/1", b1)
		r2, _ := http.NewRequest(http.MethodPut, "http://a.test/2", b2)
		//lint:ignore SA1012 a nil context is what is tested
		rs := f.DoAll(nil, []*http.Request{r1, r2}) //nolint:staticcheck
		brCheckShape(t, rs, 2)
		for i, r := range rs {
			if r.Err == nil {
				t.Errorf("results[%d]: no error with a nil context", i)
			}
			if want := fmt.Sprintf("http://a.test/%d", i+1); r.URL != want {
				t.Errorf("results[%d].URL = %q; want %q (\"the request URL\")", i, r.URL, want)
			}
		}
		if b1.closes.Load() == 0 || b2.closes.Load() == 0 {
			t.Errorf("bodies closed %d, %d times; want each closed", b1.closes.Load(), b2.closes.Load())
		}
	})
}

// On loopback: the first failure cancels the requests on the wire (the
// server sees them go), their slots come back at once (a second batch gets
// every slot), and once the Fetcher is shut down no goroutine is left.
func TestBRFailFastLoopbackCancelsAndLeavesNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const conc = 9
	var (
		started     = make(chan struct{}, 100)
		serverSaw   = make(chan struct{}, 100) // a slow handler saw its request go
		barrier     sync.WaitGroup
		barrierDone = make(chan struct{})
	)
	barrier.Add(conc)
	go func() { barrier.Wait(); close(barrierDone) }()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/fail":
			for range conc - 1 { // every slow one is on the wire
				select {
				case <-started:
				case <-time.After(brBound):
					t.Error("slow requests did not all start")
				}
			}
			http.NotFound(w, r)
		case strings.HasPrefix(r.URL.Path, "/slow"):
			started <- struct{}{}
			select {
			case <-r.Context().Done():
				serverSaw <- struct{}{}
			case <-time.After(brBound):
				t.Error("a slow request was not cancelled")
			}
		case strings.HasPrefix(r.URL.Path, "/barrier"): // answers once conc are here at once
			barrier.Done()
			select {
			case <-barrierDone:
				io.WriteString(w, "ok")
			case <-time.After(brBound):
				w.WriteHeader(http.StatusGatewayTimeout)
			}
		}
	}))
	defer srv.Close()
	f, err := New(WithConcurrency(conc), WithRetry(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	var urls []string
	for i := range conc - 1 {
		urls = append(urls, fmt.Sprintf("%s/slow/%d", srv.URL, i))
	}
	urls = append(urls, srv.URL+"/fail")
	for i := range 1000 { // queued behind the concurrency
		urls = append(urls, fmt.Sprintf("%s/slow/q%d", srv.URL, i))
	}
	done := make(chan struct{})
	var rs []Result
	go func() {
		defer close(done)
		rs, err = f.GetAllFailFast(t.Context(), urls)
	}()
	select {
	case <-done:
	case <-time.After(brBound):
		t.Fatal("GetAllFailFast did not return after the failure")
	}
	if prgStatus(err) != 404 {
		t.Errorf("err = %v; want the 404", err)
	}
	brCheckShape(t, rs, len(urls))
	for i, r := range rs {
		if i != conc-1 && !errors.Is(r.Err, context.Canceled) {
			t.Errorf("results[%d]: %v; want context.Canceled", i, r.Err)
		}
	}
	for range conc - 1 {
		select {
		case <-serverSaw:
		case <-time.After(brBound):
			t.Fatal("the server did not see every request on the wire go")
		}
	}
	brIdle(t, f)

	// Every slot is free: conc requests are on the wire at once.
	var again []string
	for i := range conc {
		again = append(again, fmt.Sprintf("%s/barrier/%d", srv.URL, i))
	}
	for i, r := range f.GetAll(t.Context(), again) {
		if r.Err != nil {
			t.Errorf("second batch, input %d: %v; want %d requests on the wire at once", i, r.Err, conc)
		}
	}
	if err := f.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	srv.Close()
}

// --- many inputs ---

// 30,000 inputs with small bodies over a few hosts, with invalid URLs and
// 404s among them: one Result each, in order, with its own body or error;
// the inputs queued never exceed the read-ahead; the goroutines stay at
// the concurrency plus a few; and what the results keep is a small multiple
// of what they hold (a Result with its header and a 2-byte body).
func TestBRManyInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("30,000 requests")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const n, conc, readAhead = 30_000, 16, 64
	var seen atomic.Int64
	var maxWaiting, maxGoroutines atomic.Int64
	var f *Fetcher
	base := runtime.NumGoroutine()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k := seen.Add(1); k%500 == 0 {
			brMax(&maxWaiting, f.Stats().Waiting)
			brMax(&maxGoroutines, int64(runtime.NumGoroutine()-base))
		}
		p := strings.TrimPrefix(r.URL.Path, "/")
		if i, _ := strconv.Atoi(p); i%100 == 7 {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, p[len(p)-2:]) // 2 bytes
	})
	f = newMem(t, h, WithConcurrency(conc), WithReadAhead(readAhead), WithRetry(RetryPolicy{MaxAttempts: 1}))
	urls := make([]string, n)
	for i := range urls {
		if i%1000 == 999 {
			urls[i] = fmt.Sprintf("http://h%d.test:0/%05d", i%4, i) // port 0: invalid
			continue
		}
		urls[i] = fmt.Sprintf("http://h%d.test/%05d", i%4, i)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	rs := f.GetAll(t.Context(), urls)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	kept := int64(ms.HeapAlloc) - int64(before)

	brCheckShape(t, rs, n)
	bad := 0
	for i, r := range rs {
		var ok bool
		switch {
		case i%1000 == 999:
			ok = errors.Is(r.Err, ErrInvalidURL) && r.Attempts == 0
		case i%100 == 7:
			ok = prgStatus(r.Err) == 404 && r.Status == 404
		default:
			want := fmt.Sprintf("%05d", i)
			ok = r.Err == nil && string(r.Body) == want[3:] && r.URL == urls[i]
		}
		if !ok && bad < 10 {
			bad++
			t.Errorf("results[%d] (%s): status %d, body %q, err %v", i, urls[i], r.Status, r.Body, r.Err)
		}
	}
	if s := seen.Load(); s != n-n/1000 {
		t.Errorf("server saw %d requests; want one per valid input, %d", s, n-n/1000)
	}
	if w := maxWaiting.Load(); w > readAhead {
		t.Errorf("up to %d inputs queued; want at most the read-ahead, %d", w, readAhead)
	}
	if g := maxGoroutines.Load(); g > conc+8 {
		t.Errorf("up to %d extra goroutines; want at most the concurrency + 8 = %d", g, conc+8)
	}
	// A Result is ~100 bytes, its header map a few hundred, its body 2.
	if per := kept / n; per > 4<<10 {
		t.Errorf("the results keep %d bytes each; want a few hundred", per)
	}
	t.Logf("results keep %d bytes each; up to %d queued, %d extra goroutines", kept/n, maxWaiting.Load(), maxGoroutines.Load())
	runtime.KeepAlive(rs)
	brIdle(t, f)
}

// brMax raises m to v if v is more.
func brMax(m *atomic.Int64, v int64) {
	for {
		old := m.Load()
		if v <= old || m.CompareAndSwap(old, v) {
			return
		}
	}
}

// A failure at the start of 100,000 inputs: the call returns at the
// failure, the server sees no request after it, and every other input,
// read or not yet, comes back cancelled.
func TestBRFailFastEarlyInAHugeBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 inputs")
	}
	synctest.Test(t, func(t *testing.T) {
		const n, conc = 100_000, 8
		var sent atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent.Add(1)
			if r.URL.Path == "/0" {
				time.Sleep(time.Second)
				w.WriteHeader(http.StatusForbidden)
				return
			}
			<-r.Context().Done()
		}), WithConcurrency(conc))
		urls := make([]string, n)
		for i := range urls {
			urls[i] = fmt.Sprintf("http://h%d.test/%d", i%3, i)
		}
		start := time.Now()
		rs, err := f.GetAllFailFast(context.Background(), urls)
		if d := time.Since(start); d != time.Second {
			t.Errorf("returned after %v; want at the failure, 1s", d)
		}
		if prgStatus(err) != 403 || err != rs[0].Err {
			t.Errorf("err = %v; want input 0's 403", err)
		}
		brCheckShape(t, rs, n)
		bad := 0
		for i, r := range rs[1:] {
			if (!errors.Is(r.Err, context.Canceled) || r.URL != urls[i+1]) && bad < 10 {
				bad++
				t.Errorf("results[%d]: URL %q, %v; want %q, context.Canceled", i+1, r.URL, r.Err, urls[i+1])
			}
		}
		if s := sent.Load(); s > conc {
			t.Errorf("server saw %d requests; want at most the %d in flight at the failure", s, conc)
		}
		brIdle(t, f)
	})
}

// --- Shutdown mid-batch (the lifecycle review covers GetAll's outcome) ---

// Shutdown while a batch has every worker on the wire and inputs queued
// behind them. The README says Shutdown "fails at once with ErrClosed the
// calls still waiting (... queued by a batch ...)". So at once: the queued
// inputs are no longer Waiting, and, for a FailFast batch, that ErrClosed
// is the first failure, which cancels the requests on the wire (FailFast's
// rule), so the call returns ErrClosed and Shutdown finishes, at once.
//
// What happens: a queued input is failed only by a worker that takes it,
// and every worker is on the wire, so nothing fails until a request on the
// wire ends (here after an hour): the queued inputs stay Waiting (and the
// input not yet read stays unread: the reader waits for room in the
// queue), the FailFast call does not return, and Shutdown runs out its
// deadline.
func TestBRShutdownFailsQueuedInputsAtOnce(t *testing.T) {
	for _, c := range brCalls() {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var sent atomic.Int64
				f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					sent.Add(1)
					select {
					case <-r.Context().Done():
					case <-time.After(time.Hour):
					}
				}), WithConcurrency(4))
				urls := lrURLs(40)
				done := make(chan prgOut, 1)
				go func() {
					rs, err := brRun(t, context.Background(), c, f, urls)
					done <- prgOut{rs, err}
				}()
				synctest.Wait()
				start := time.Now()
				shutCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				shut := make(chan error, 1)
				var shutTook time.Duration
				go func() {
					err := f.Shutdown(shutCtx)
					shutTook = time.Since(start)
					shut <- err
				}()
				synctest.Wait()
				if w := f.Stats().Waiting; w != 0 {
					t.Errorf("after Shutdown began: %d inputs still Waiting; want those queued failed at once", w)
				}
				out := <-done
				if !c.failFast {
					<-shut // the call waits for the 4 on the wire, as documented, and so does Shutdown
					return
				}
				if d := time.Since(start); d != 0 {
					t.Errorf("%s returned %v after Shutdown began; want at once", c.name, d)
				}
				if err := <-shut; err != nil || shutTook != 0 {
					t.Errorf("Shutdown = %v after %v; want nil, at once", err, shutTook)
				}
				if !errors.Is(out.err, ErrClosed) || errors.Is(out.err, context.Canceled) {
					t.Errorf("err = %v; want ErrClosed, not a cancellation", out.err)
				}
				brCheckShape(t, out.results, len(urls))
				closed, cancelled := 0, 0
				for i, r := range out.results {
					switch {
					case errors.Is(r.Err, ErrClosed):
						closed++
					case errors.Is(r.Err, context.Canceled):
						cancelled++
					default:
						t.Errorf("results[%d]: %v after %v; want ErrClosed or context.Canceled", i, r.Err, r.Duration)
					}
				}
				if closed != 36 || cancelled != 4 {
					t.Errorf("%d ErrClosed, %d cancelled; want the 36 queued ErrClosed, the 4 on the wire cancelled", closed, cancelled)
				}
				if s := sent.Load(); s != 4 {
					t.Errorf("server saw %d requests; want the 4 on the wire", s)
				}
				brIdle(t, f)
			})
		})
	}
}

// --- per-host fairness (smoke; BENCHMARKS.md measures it) ---

// The README's many-hosts scenario as a batch: one host answering in
// 200ms, three in 5ms, 2 in flight per host, 32 overall, the slow host's
// 100 URLs first. The fast hosts' inputs are all answered long before the
// slow host's (the README says by 0.28s, against 7.5s in input order).
func TestBRManyHostsFastHostsFinishEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		last := map[string]time.Duration{}
		start := time.Now()
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Host == "slow.test" {
				time.Sleep(200 * time.Millisecond)
			} else {
				time.Sleep(5 * time.Millisecond)
			}
			mu.Lock()
			last[r.URL.Host] = max(last[r.URL.Host], time.Since(start))
			mu.Unlock()
		}), WithConcurrency(32), WithHostConcurrency(2))
		var urls []string
		for i := range 100 {
			urls = append(urls, fmt.Sprintf("http://slow.test/%d", i))
		}
		for i := range 100 {
			for _, h := range []string{"f1", "f2", "f3"} {
				urls = append(urls, fmt.Sprintf("http://%s.test/%d", h, i))
			}
		}
		for i, r := range f.GetAll(context.Background(), urls) {
			if r.Err != nil || r.Index != i {
				t.Fatalf("results[%d]: index %d, %v", i, r.Index, r.Err)
			}
		}
		for _, h := range []string{"f1.test", "f2.test", "f3.test"} {
			if last[h] > time.Second {
				t.Errorf("fast host %s finished at %v; want well under 1s (the slow host takes %v)", h, last[h], last["slow.test"])
			}
		}
		if last["slow.test"] != 10*time.Second {
			t.Errorf("slow host finished at %v; want 10s (100 × 200ms, 2 at a time)", last["slow.test"])
		}
		t.Logf("fast hosts done by %v, %v, %v; slow by %v", last["f1.test"], last["f2.test"], last["f3.test"], last["slow.test"])
	})
}

// A request built by hand as a struct literal, with no Header map: sent
// with the Fetcher's default headers, and the caller's request left
// without a header map.
func TestBRDoAllHandBuiltRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", r.Method, r.Header.Get("X-Default"))
		}), WithHeader("X-Default", "yes"))
		u, _ := url.Parse("http://a.test/")
		req := &http.Request{Method: http.MethodGet, URL: u}
		rs := f.DoAll(context.Background(), []*http.Request{req, req})
		for i, r := range rs {
			if r.Err != nil || string(r.Body) != "GET yes" || r.URL != "http://a.test/" {
				t.Errorf("results[%d] = %q, URL %q, %v; want GET with the default header", i, r.Body, r.URL, r.Err)
			}
		}
		if req.Header != nil {
			t.Errorf("the caller's request was changed: Header %v", req.Header)
		}
	})
}

// DoAll reports a URL holding a password redacted, in URL and FinalURL
// (GetAll's case is in batch_test.go).
func TestBRDoAllRedactsURLs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, brRouter())
		rs := f.DoAll(context.Background(), []*http.Request{
			mustGet(t, "http://user:hunter2@a.test/one"),
			mustGet(t, "http://user:hunter2@a.test/moved"),
			mustGet(t, "http://user:hunter2@a.test/missing"),
		})
		for i, r := range rs {
			for _, s := range []string{r.URL, r.FinalURL, fmt.Sprint(r.Err)} {
				if strings.Contains(s, "hunter2") {
					t.Errorf("results[%d] shows the password: %q", i, s)
				}
			}
			if !strings.Contains(r.URL, "user:xxxxx@a.test") || r.FinalURL == "" {
				t.Errorf("results[%d]: URL %q, FinalURL %q; want them redacted, not dropped", i, r.URL, r.FinalURL)
			}
		}
	})
}
