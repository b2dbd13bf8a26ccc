package fetch

// Testability review: can a service that calls fetch test its own code with
// testing/synctest (fake time), httptest, a fake RoundTripper and goleak?
//
// The fake transport below is deliberately written as a user outside this
// module would have to write it (internal/memhttp is not importable): a
// rvScripted RoundTripper that answers on the calling goroutine.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/time/rate"
)

// rvScripted is a user-written fake RoundTripper: it answers the n-th request
// with the n-th step (the last step repeats) and records what was sent.
type rvScripted struct {
	mu    sync.Mutex
	steps []func(*http.Request) (*http.Response, error)
	sent  []rvSent
}

type rvSent struct {
	at     time.Time
	method string
	url    string
	header http.Header
	body   string
}

func (s *rvScripted) RoundTrip(req *http.Request) (*http.Response, error) {
	var body string
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body.Close()
		body = string(b)
	}
	s.mu.Lock()
	i := min(len(s.sent), len(s.steps)-1)
	s.sent = append(s.sent, rvSent{time.Now(), req.Method, req.URL.String(), req.Header.Clone(), body})
	step := s.steps[i]
	s.mu.Unlock()
	return step(req)
}

func (s *rvScripted) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ts []time.Time
	for _, r := range s.sent {
		ts = append(ts, r.at)
	}
	return ts
}

func (s *rvScripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// reply builds a step answering status with header h (pairs) and body.
func rvReply(status int, body string, h ...string) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		hdr := http.Header{}
		for i := 0; i+1 < len(h); i += 2 {
			hdr.Set(h[i], h[i+1])
		}
		return &http.Response{
			StatusCode:    status,
			Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
			Proto:         "HTTP/1.1",
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        hdr,
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)),
			Request:       req,
		}, nil
	}
}

// rvHang blocks until the request's context ends, as a server that never
// answers does.
func rvHang(req *http.Request) (*http.Response, error) {
	<-req.Context().Done()
	return nil, req.Context().Err()
}

func rvNew(t *testing.T, s *rvScripted, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(append([]Option{WithClient(&http.Client{Transport: s})}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

func rvShutdown(t *testing.T, f *Fetcher) {
	t.Helper()
	if err := f.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// "retries 3 times with backoff then succeeds", with NoJitter: the exact
// fake-time schedule can be asserted, and no real time passes.
func TestTestabilityReviewRetryBackoffOnFakeTime(t *testing.T) {
	realStart := time.Now()
	synctest.Test(t, func(t *testing.T) {
		s := &rvScripted{steps: []func(*http.Request) (*http.Response, error){
			rvReply(503, "busy"), rvReply(502, "bad"), rvReply(500, "oops"), rvReply(200, "ok"),
		}}
		f := rvNew(t, s, WithRetry(RetryPolicy{MaxAttempts: 4, BaseDelay: time.Second, MaxDelay: time.Minute, Jitter: NoJitter}))
		defer rvShutdown(t, f)
		var retries []RetryInfo
		start := time.Now()
		r := f.Fetch(t.Context(), "http://api.test/x")
		if r.Err != nil || r.Status != 200 || string(r.Body) != "ok" || r.Attempts != 4 {
			t.Fatalf("Fetch: %+v", r)
		}
		if got := time.Since(start); got != 7*time.Second {
			t.Errorf("fake time elapsed %v, want 7s (1s+2s+4s)", got)
		}
		ts := s.times()
		for i, want := range []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second} {
			if got := ts[i].Sub(start); got != want {
				t.Errorf("attempt %d sent at +%v, want +%v", i+1, got, want)
			}
		}
		st := f.Stats()
		if st.Attempts != 4 || st.Retries != 3 || st.Succeeded != 1 || st.Calls != 1 {
			t.Errorf("Stats: %+v", st)
		}
		_ = retries
	})
	if d := time.Since(realStart); d > 2*time.Second {
		t.Errorf("real time %v: backoff did not run on fake time", d)
	}
}

// With the default FullJitter the delays are random but bounded, and a
// test can assert bounds via OnRetry's Delay and the fake clock.
func TestTestabilityReviewJitterBoundsAndOnRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &rvScripted{steps: []func(*http.Request) (*http.Response, error){
			rvReply(503, ""), rvReply(503, ""), rvReply(200, "ok"),
		}}
		var mu sync.Mutex
		var delays []time.Duration
		f := rvNew(t, s,
			WithRetry(RetryPolicy{BaseDelay: time.Second, MaxDelay: 10 * time.Second}),
			WithHooks(Hooks{OnRetry: func(ri RetryInfo) {
				mu.Lock()
				delays = append(delays, ri.Delay)
				mu.Unlock()
			}}))
		defer rvShutdown(t, f)
		start := time.Now()
		if _, err := f.Get(t.Context(), "http://api.test/x"); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(delays) != 2 || delays[0] >= time.Second || delays[1] >= 2*time.Second {
			t.Fatalf("delays %v", delays)
		}
		if got, want := time.Since(start), delays[0]+delays[1]; got != want {
			t.Errorf("elapsed %v, want exactly the sum of OnRetry delays %v", got, want)
		}
	})
}

// Retry-After (delta-seconds and HTTP-date) is waited out on fake time.
func TestTestabilityReviewRetryAfterOnFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
		s := &rvScripted{steps: []func(*http.Request) (*http.Response, error){
			rvReply(429, "", "Retry-After", "30"), rvReply(503, "", "Retry-After", date), rvReply(200, "ok"),
		}}
		f := rvNew(t, s, WithRetry(RetryPolicy{Jitter: NoJitter}))
		defer rvShutdown(t, f)
		start := time.Now()
		if _, err := f.Get(t.Context(), "http://api.test/x"); err != nil {
			t.Fatal(err)
		}
		ts := s.times()
		if len(ts) != 3 {
			t.Fatalf("%d attempts", len(ts))
		}
		if d := ts[1].Sub(start); d != 30*time.Second {
			t.Errorf("second attempt after %v, want 30s", d)
		}
		if d := ts[2].Sub(start); d != 90*time.Second {
			t.Errorf("third attempt at +%v, want +90s (the HTTP-date)", d)
		}
	})
}

// A Retry-After longer than MaxRetryAfter fails at once with a
// *RetryAfterError that errors.As finds, and no time passes.
func TestTestabilityReviewErrorsAreAssertable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &rvScripted{steps: []func(*http.Request) (*http.Response, error){
			rvReply(429, `{"error":"slow down"}`, "Retry-After", "3600"),
		}}
		f := rvNew(t, s)
		start := time.Now()
		_, err := f.Get(t.Context(), "http://api.test/x")
		var fe *Error
		var se *StatusError
		var rae *RetryAfterError
		if !errors.As(err, &fe) || !errors.As(err, &se) || !errors.As(err, &rae) {
			t.Fatalf("err %v (%T): want *Error, *StatusError, *RetryAfterError", err, err)
		}
		if se.StatusCode != 429 || string(se.Body) != `{"error":"slow down"}` || fe.Attempts != 1 {
			t.Errorf("StatusError %+v, Error %+v", se, fe)
		}
		if time.Since(start) != 0 {
			t.Errorf("waited %v", time.Since(start))
		}
		rvShutdown(t, f)
		_, err = f.Get(t.Context(), "http://api.test/x")
		if !errors.Is(err, ErrClosed) {
			t.Errorf("after Shutdown: %v, want ErrClosed", err)
		}
	})
}

// WithRate and WithHostRate pace on fake time, for Get and for GetAll.
func TestTestabilityReviewRatesOnFakeTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
	}{
		{"WithRate", WithRate(PerSecond(2), 1)},
		{"WithHostRate", WithHostRate(PerSecond(2), 1)},
		{"WithLimiter", WithLimiter(rate.NewLimiter(2, 1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &rvScripted{steps: []func(*http.Request) (*http.Response, error){rvReply(200, "ok")}}
				f := rvNew(t, s, tc.opt)
				defer rvShutdown(t, f)
				start := time.Now()
				for range 3 {
					if _, err := f.Get(t.Context(), "http://api.test/x"); err != nil {
						t.Fatal(err)
					}
				}
				if d := time.Since(start); d != time.Second {
					t.Errorf("3 sequential Gets took %v, want 1s", d)
				}
				start = time.Now()
				urls := []string{"http://api.test/1", "http://api.test/2", "http://api.test/3", "http://api.test/4"}
				for _, r := range f.GetAll(t.Context(), urls) {
					if r.Err != nil {
						t.Fatal(r.Err)
					}
				}
				if d := time.Since(start); d != 2*time.Second {
					t.Errorf("GetAll of 4 took %v, want 2s", d)
				}
			})
		})
	}
}

// WithAttemptTimeout: a server that never answers times out on fake time,
// is retried, and the error matches ErrAttemptTimeout.
func TestTestabilityReviewAttemptTimeoutOnFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &rvScripted{steps: []func(*http.Request) (*http.Response, error){rvHang}}
		f := rvNew(t, s, WithAttemptTimeout(5*time.Second),
			WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Second, Jitter: NoJitter}))
		defer rvShutdown(t, f)
		start := time.Now()
		_, err := f.Get(t.Context(), "http://api.test/x")
		if !errors.Is(err, ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
		if d := time.Since(start); d != 18*time.Second {
			t.Errorf("took %v, want 18s", d)
		}
		if s.count() != 3 {
			t.Errorf("%d attempts", s.count())
		}
	})
}

// rvStallBody sends part, then blocks until closed or until its request's
// context ends, as net/http's transport does. (A fake body that ignores
// the request's context is never interrupted by WithStallTimeout or
// WithAttemptTimeout: both work by cancelling that context.)
type rvStallBody struct {
	ctx    context.Context
	part   string
	closed chan struct{}
	once   sync.Once
}

func (b *rvStallBody) Read(p []byte) (int, error) {
	if b.part != "" {
		n := copy(p, b.part)
		b.part = b.part[n:]
		return n, nil
	}
	select {
	case <-b.closed:
		return 0, errors.New("closed")
	case <-b.ctx.Done():
		return 0, b.ctx.Err()
	}
}

func (b *rvStallBody) Close() error { b.once.Do(func() { close(b.closed) }); return nil }

// WithStallTimeout: a body that stops coming fails after d of fake time.
func TestTestabilityReviewStallTimeoutOnFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stall := func(req *http.Request) (*http.Response, error) {
			r, _ := rvReply(200, "")(req)
			r.ContentLength = -1
			r.Body = &rvStallBody{ctx: req.Context(), part: "hello", closed: make(chan struct{})}
			return r, nil
		}
		s := &rvScripted{steps: []func(*http.Request) (*http.Response, error){stall, rvReply(200, "whole")}}
		f := rvNew(t, s, WithStallTimeout(10*time.Second), WithRetry(RetryPolicy{BaseDelay: time.Second, Jitter: NoJitter}))
		defer rvShutdown(t, f)
		start := time.Now()
		b, err := f.Get(t.Context(), "http://api.test/x")
		if err != nil || string(b) != "whole" {
			t.Fatalf("Get: %q %v", b, err)
		}
		if d := time.Since(start); d != 11*time.Second {
			t.Errorf("took %v, want 11s", d)
		}
	})
}

// A stalled response head, from a fake transport that reports its
// context's end with ctx.Err() (as internal/memhttp and most hand-written
// fakes do), is still a stall: retried and matching ErrAttemptTimeout.
// Before the fix it was a bare context.Canceled, not retried.
func TestTestabilityReviewStallTimeoutFakeTransportHead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &rvScripted{steps: []func(*http.Request) (*http.Response, error){rvHang, rvReply(200, "ok")}}
		f := rvNew(t, s, WithStallTimeout(10*time.Second), WithRetry(RetryPolicy{BaseDelay: time.Second, Jitter: NoJitter}))
		defer rvShutdown(t, f)
		start := time.Now()
		if b, err := f.Get(t.Context(), "http://api.test/x"); err != nil || string(b) != "ok" {
			t.Fatalf("Get: %q %v", b, err)
		}
		if d := time.Since(start); d != 11*time.Second {
			t.Errorf("took %v, want 11s", d)
		}

		g := rvNew(t, &rvScripted{steps: []func(*http.Request) (*http.Response, error){rvHang}},
			WithStallTimeout(10*time.Second), WithRetry(RetryPolicy{MaxAttempts: 1}))
		defer rvShutdown(t, g)
		_, err := g.Get(t.Context(), "http://api.test/x")
		if !errors.Is(err, ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			t.Errorf("stalled head: %v; want ErrAttemptTimeout and DeadlineExceeded, not Canceled", err)
		}
	})
}

// A Fetcher made OUTSIDE a bubble (a package-level test fixture, or one
// made in TestMain) and used inside one: its Shutdown channel is not the
// bubble's, so a call waiting to retry is not "durably blocked", fake time
// never advances, and the test hangs. A watchdog outside the bubble (real
// time) shuts the Fetcher down to end the hang, so this test stays bounded.
// This is synctest's rule, not a bug fetch can fix; it must be documented.
func TestTestabilityReviewFetcherMadeOutsideBubble(t *testing.T) {
	s := &rvScripted{steps: []func(*http.Request) (*http.Response, error){rvReply(503, ""), rvReply(200, "ok")}}
	f := rvNew(t, s, WithRetry(RetryPolicy{BaseDelay: time.Second, Jitter: NoJitter}))
	watchdog := time.AfterFunc(300*time.Millisecond, func() { f.Shutdown(context.Background()) })
	defer watchdog.Stop()
	var err error
	synctest.Test(t, func(t *testing.T) {
		_, err = f.Get(t.Context(), "http://api.test/x")
	})
	if !errors.Is(err, ErrClosed) {
		t.Errorf("outside-made Fetcher, retry inside bubble: err %v; the doc says it hangs", err)
	}
}

// A Fetcher made in one bubble belongs to it: Shutdown from outside it (a
// t.Cleanup registered outside synctest.Test, or a later bubble) is a fatal
// error, "close of synctest channel from outside bubble", which no recover
// catches and which kills the test binary. So it is not exercised here:
// the rule to document is "make the Fetcher inside the bubble, and shut it
// down there (defer inside the bubble's function)".

// The common test mistake: a Fetcher dropped without Shutdown, with a
// retry pending, a host paused, a rate limit in debt. The bubble must end
// cleanly (synctest.Test panics if goroutines are left blocked in it).
func TestTestabilityReviewDroppedFetcherInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &rvScripted{steps: []func(*http.Request) (*http.Response, error){
			rvReply(429, "", "Retry-After", "60"), rvReply(200, "ok"),
		}}
		f := rvNew(t, s, WithRate(PerSecond(1), 1), WithHostRate(PerSecond(1), 1), WithStallTimeout(time.Minute),
			WithAttemptTimeout(time.Minute), WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 100}),
			WithCircuitBreaker(CircuitBreaker{}), WithRetryBudget(RetryBudget{}))
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err := f.Get(ctx, "http://api.test/x") // the pause outlasts ctx: fails at once
		if err == nil {
			t.Fatal("want an error")
		}
		for r := range f.Stream(ctx, func(yield func(string) bool) {
			for i := range 5 {
				if !yield(fmt.Sprintf("http://h%d.test/", i)) {
					return
				}
			}
		}) {
			_ = r
			break
		}
		// f dropped here, no Shutdown.
	})
}

// rvSite is a user-written in-memory "server": an http.Handler served by a
// fake RoundTripper via httptest.ResponseRecorder, the usual way to test
// without sockets (what internal/memhttp does, which users cannot import).
type rvSite struct{ h http.Handler }

func (s rvSite) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	sreq := req.Clone(req.Context())
	sreq.RequestURI = req.URL.RequestURI()
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	s.h.ServeHTTP(rec, sreq)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// Crawl (robots.txt with Crawl-delay), Handle, GetJSON and a TaskGroup, all
// on fake time in one bubble, and a clean end.
func TestTestabilityReviewHigherLevelCallsInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "User-agent: *\nCrawl-delay: 5\nDisallow: /private\n")
		})
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<a href="/a">a</a><a href="/b">b</a><a href="/private">p</a>`)
		})
		mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Type", "text/html") })
		mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Type", "text/html") })
		mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"n":42}`) })
		f, err := New(WithClient(&http.Client{Transport: rvSite{mux}}))
		if err != nil {
			t.Fatal(err)
		}
		defer rvShutdown(t, f)

		c, err := NewCrawler(f)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var got []string
		for p := range c.Run(t.Context(), "http://site.test/") {
			if p.Err == nil {
				got = append(got, p.URL)
				p.Follow(p.Links()...)
			}
		}
		slices.Sort(got)
		if want := []string{"http://site.test/", "http://site.test/a", "http://site.test/b"}; !slices.Equal(got, want) {
			t.Errorf("crawled %v, want %v", got, want)
		}
		// Crawl-delay spaces every request to the host, robots.txt's
		// included: the pages come at 5s, 10s and 15s.
		if d := time.Since(start); d != 15*time.Second {
			t.Errorf("crawl of 3 pages with Crawl-delay 5 took %v, want 15s", d)
		}

		type answer struct{ N int }
		v, err := GetJSON[answer](t.Context(), f, "http://site.test/api")
		if err != nil || v.N != 42 {
			t.Errorf("GetJSON: %+v %v", v, err)
		}
		for h := range HandleURLs(t.Context(), f, slices.Values([]string{"http://site.test/api"}), func(u string, resp *http.Response) (int, error) {
			b, err := io.ReadAll(resp.Body)
			return len(b), err
		}) {
			if h.Err != nil || h.Value != 8 {
				t.Errorf("HandleURLs: %+v", h)
			}
		}

		g, ctx := NewTaskGroup(t.Context())
		g.Go(func() error { _, err := f.Get(ctx, "http://site.test/api"); return err })
		g.Go(func() error { return errors.New("boom") })
		if err := g.Wait(); err == nil || err.Error() != "boom" {
			t.Errorf("TaskGroup.Wait: %v", err)
		}
	})
}

// The same scenario run repeatedly, with NoJitter, gives the same fake-time
// schedule, so tests can assert exact times: here three hosts at once, each
// with one call that is refused with Retry-After, then 503, then served,
// under a per-host rate. (Requests that wake at the same fake instant and
// compete for one host's slot go in no fixed order: goroutines woken
// together by synctest run in any order, so a test of several calls to one
// host can assert counts and bounds, not the order. With the default
// FullJitter only bounds can be asserted: the jitter cannot be seeded.)
func TestTestabilityReviewDeterministicSchedule(t *testing.T) {
	run := func() []string {
		var log []string
		synctest.Test(t, func(t *testing.T) {
			var mu sync.Mutex
			n := map[string]int{}
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n[r.Host]++
				k := n[r.Host]
				mu.Unlock()
				switch k {
				case 1:
					w.Header().Set("Retry-After", "2")
					w.WriteHeader(429)
				case 2:
					w.WriteHeader(503)
				}
			})
			start := time.Now()
			f, err := New(WithClient(&http.Client{Transport: rvSite{h}}), WithConcurrency(4),
				WithHostRate(PerSecond(4), 1), WithRetry(RetryPolicy{BaseDelay: 300 * time.Millisecond, Jitter: NoJitter}),
				WithHooks(Hooks{OnAttempt: func(ai AttemptInfo) {
					mu.Lock()
					log = append(log, fmt.Sprintf("%v %s %d", ai.Start.Sub(start), ai.Request.URL, ai.Status))
					mu.Unlock()
				}}))
			if err != nil {
				t.Fatal(err)
			}
			defer rvShutdown(t, f)
			urls := []string{"http://h0.test/", "http://h1.test/", "http://h2.test/"}
			for _, r := range f.GetAll(t.Context(), urls) {
				if r.Err != nil || r.Attempts != 3 {
					t.Errorf("%s: %v after %d attempts", r.URL, r.Err, r.Attempts)
				}
			}
		})
		slices.Sort(log)
		return log
	}
	first := run()
	for i := range 4 {
		if again := run(); !slices.Equal(first, again) {
			t.Fatalf("run %d differs:\n%v\nvs\n%v", i+2, first, again)
		}
	}
	t.Logf("schedule: %q", first)
}

// httptest over loopback with the Fetcher's own transport, outside a
// bubble: after Shutdown and srv.Close, goleak finds nothing.
func TestTestabilityReviewShutdownLeavesNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	f, err := New(WithConcurrency(8))
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for i := range 20 {
		urls = append(urls, fmt.Sprintf("%s/%d", srv.URL, i))
	}
	for range f.Stream(t.Context(), slices.Values(urls)) {
		break
	}
	f.GetAll(t.Context(), urls)
	if err := f.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// The common mistake: no Shutdown. The Fetcher's own transport keeps idle
// keep-alive connections, whose goroutines goleak reports (as it would for
// any http.Client not told CloseIdleConnections). Documented ("keeps its
// idle connections until they time out"); logged, not failed.
func TestTestabilityReviewDroppedFetcherLeaksIdleConns(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	before := goleak.IgnoreCurrent()
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(t.Context(), srv.URL); err != nil {
		t.Fatal(err)
	}
	leak := goleak.Find(before)
	t.Logf("dropped Fetcher without Shutdown: goleak says: %v", leak != nil)
	f.Shutdown(context.Background())
}

// httptest over loopback INSIDE a bubble is not exercised: it hangs. A
// goroutine waiting on a socket is not "durably blocked", and the Fetcher's
// transport keeps an idle keep-alive connection whose read loop waits on
// its socket (as does the server's accept loop), so fake time never
// advances and the first backoff sleeps forever (checked by hand: the test
// ran into -timeout). Inside a bubble, serve from memory with a fake
// RoundTripper (rvSite above), as the synctest documentation advises.

// Asserting what was sent: AttemptInfo.Request is the request as sent,
// default headers (auth) included; a helper that registers Shutdown with
// t.Cleanup inside the bubble runs it inside the bubble. Adaptive
// throttling runs on fake time and its state is visible in Stats.
func TestTestabilityReviewHooksCleanupAdaptive(t *testing.T) {
	newTestFetcher := func(t *testing.T, rt http.RoundTripper, opts ...Option) *Fetcher {
		f, err := New(append([]Option{WithClient(&http.Client{Transport: rt})}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := f.Shutdown(context.Background()); err != nil {
				t.Error(err)
			}
		})
		return f
	}
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var auths []string
		s := &rvScripted{steps: []func(*http.Request) (*http.Response, error){
			rvReply(429, "", "Retry-After", "1"), rvReply(200, "ok"),
		}}
		f := newTestFetcher(t, s, WithBearerToken("secret"), WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 50, Initial: 10}),
			WithHooks(Hooks{OnAttempt: func(ai AttemptInfo) {
				mu.Lock()
				auths = append(auths, ai.Request.Header.Get("Authorization"))
				mu.Unlock()
			}}))
		start := time.Now()
		if _, err := f.Get(t.Context(), "http://api.test/x", Header("X-Trace", "t1")); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("took %v, want 1s", d)
		}
		mu.Lock()
		if !slices.Equal(auths, []string{"Bearer secret", "Bearer secret"}) {
			t.Errorf("OnAttempt saw Authorization %q", auths)
		}
		mu.Unlock()
		if got := s.sent[1].header.Get("X-Trace"); got != "t1" {
			t.Errorf("retry sent X-Trace %q", got)
		}
		st := f.Stats()
		if len(st.Hosts) != 1 || st.Hosts[0].Cuts != 1 || st.Hosts[0].Rate >= 10 {
			t.Errorf("adaptive state after a 429: %+v", st.Hosts)
		}
		t.Logf("hosts: %+v", st.Hosts)
	})
}

// Times the Fetcher reports, read in a bubble: AttemptInfo.Start should be
// the bubble's time.Now() when the attempt was sent, as a wall-clock time
// too (a test or an exporter formats it, or compares it with Round(0)).
func TestTestabilityReviewReportedTimesInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var start time.Time
		var mu sync.Mutex
		s := &rvScripted{steps: []func(*http.Request) (*http.Response, error){rvReply(429, "", "Retry-After", "60"), rvReply(200, "ok")}}
		f := rvNew(t, s, WithHooks(Hooks{OnAttempt: func(ai AttemptInfo) {
			mu.Lock()
			if start.IsZero() {
				start = ai.Start
			}
			mu.Unlock()
		}}))
		defer rvShutdown(t, f)
		now := time.Now()
		go f.Get(t.Context(), "http://api.test/x")
		synctest.Wait()
		mu.Lock() // (not held across a wait: a goroutine blocked on a mutex is not durably blocked)
		first := start
		mu.Unlock()
		if !first.Equal(now) || !first.Round(0).Equal(now.Round(0)) || first.Unix() != now.Unix() {
			t.Errorf("AttemptInfo.Start %v, want %v (the bubble's clock)", first, now)
		}
		hs := f.Stats().Hosts
		if len(hs) != 1 || !hs[0].PausedUntil.Round(0).Equal(now.Add(time.Minute).Round(0)) {
			t.Errorf("PausedUntil %+v, want %v", hs, now.Add(time.Minute))
		}
		r := f.Fetch(t.Context(), "http://api.test/y")
		if r.Duration != 0 {
			t.Logf("Result.Duration %v", r.Duration)
		}
	})
}
