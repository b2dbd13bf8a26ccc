package fetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// README (Options): WithConcurrency default 64.
func TestReadmeAuditDefaultConcurrency64(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c := count(func(w http.ResponseWriter, r *http.Request) { <-release })
		f := newMem(t, c)
		defer f.Shutdown(context.Background())
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() { f.Get(t.Context(), fmt.Sprintf("http://h%d.test/", i)) })
		}
		synctest.Wait()
		if got := c.running.Load(); got != 64 {
			t.Errorf("in flight at once = %d; README says 64", got)
		}
		close(release)
		wg.Wait()
	})
}

// README (Options): WithRetry default 4 attempts; DefaultRetryable statuses.
func TestReadmeAuditRetriedStatuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			status int
			hdr    http.Header
			want   int
		}{
			{408, nil, 4}, {429, nil, 4}, {500, nil, 4}, {502, nil, 4}, {503, nil, 4}, {504, nil, 4},
			{501, nil, 1}, {404, nil, 1}, {403, nil, 1},
			{403, http.Header{"X-Ratelimit-Remaining": {"0"}}, 4},
			{403, http.Header{"Retry-After": {"1"}}, 4},
			{503, http.Header{"Retry-After": {"-1"}}, 4},
			{503, http.Header{"Retry-After": {"1.5"}}, 4},
			{503, http.Header{"Retry-After": {"soon"}}, 4},
		} {
			var n atomic.Int64
			f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				for k, v := range tc.hdr {
					w.Header()[k] = v
				}
				w.WriteHeader(tc.status)
			}))
			_, err := f.Get(t.Context(), "http://a.test/")
			var fe *Error
			var se *StatusError
			if !errors.As(err, &fe) || !errors.As(err, &se) || se.StatusCode != tc.status {
				t.Errorf("%d %v: err = %v", tc.status, tc.hdr, err)
			}
			if n.Load() != int64(tc.want) || fe.Attempts != tc.want {
				t.Errorf("%d %v: server saw %d, Attempts %d; want %d", tc.status, tc.hdr, n.Load(), fe.Attempts, tc.want)
			}
			f.Shutdown(context.Background())
		}
	})
}

// README (Calls): a non-2xx is a *StatusError with Header and first 4 KiB of Body.
func TestReadmeAuditStatusErrorBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Why", "because")
			w.WriteHeader(404)
			w.Write([]byte(strings.Repeat("e", 10000)))
		}))
		defer f.Shutdown(context.Background())
		_, err := f.Get(t.Context(), "http://a.test/")
		var se *StatusError
		if !errors.As(err, &se) {
			t.Fatalf("err = %v", err)
		}
		if len(se.Body) != 4096 || se.Header.Get("X-Why") != "because" {
			t.Errorf("Body %d bytes, Header %v; want 4096 bytes and X-Why", len(se.Body), se.Header)
		}
	})
}

// README: Retry-After beyond MaxRetryAfter (5 min) fails at once with
// *RetryAfterError, Max set; past the caller's deadline, matching DeadlineExceeded.
func TestReadmeAuditRetryAfterTooLong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", r.URL.Query().Get("ra"))
			w.WriteHeader(429)
		}))
		defer f.Shutdown(context.Background())
		start := time.Now()
		_, err := f.Get(t.Context(), "http://a.test/?ra=301")
		var rae *RetryAfterError
		if !errors.As(err, &rae) || rae.Max != 5*time.Minute || time.Since(start) != 0 {
			t.Errorf("err = %v after %v; want *RetryAfterError with Max 5m at once", err, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start = time.Now()
		_, err = f.Get(ctx, "http://b.test/?ra=20")
		if !errors.As(err, &rae) || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 0 {
			t.Errorf("err = %v after %v; want *RetryAfterError matching DeadlineExceeded at once", err, time.Since(start))
		}
	})
}

// README: "Retry-After ... is waited out in full" and pauses every request to that host.
func TestReadmeAuditRetryAfterWaitedInFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Duration
		start := time.Now()
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			at = append(at, time.Since(start))
			n := len(at)
			mu.Unlock()
			if n == 1 {
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(503)
			}
		}))
		defer f.Shutdown(context.Background())
		if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		if len(at) != 2 || at[1] < 7*time.Second {
			t.Errorf("arrivals %v; want the retry 7s or more after", at)
		}
	})
}

// README: circuit breaker: 5 failures in a row, then fail at once for 30 s, one probe.
func TestReadmeAuditCircuitBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		var healthy atomic.Bool
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			if !healthy.Load() {
				w.WriteHeader(500)
			}
		}), WithCircuitBreaker(CircuitBreaker{}), WithRetry(RetryPolicy{MaxAttempts: 1}))
		defer f.Shutdown(context.Background())
		for range 5 {
			f.Get(t.Context(), "http://a.test/")
		}
		_, err := f.Get(t.Context(), "http://a.test/")
		var coe *CircuitOpenError
		if !errors.As(err, &coe) || n.Load() != 5 {
			t.Fatalf("6th call: err %v, sent %d; want *CircuitOpenError with 5 sent", err, n.Load())
		}
		time.Sleep(29 * time.Second)
		if _, err := f.Get(t.Context(), "http://a.test/"); !errors.As(err, &coe) {
			t.Errorf("at 29 s: %v; want still open", err)
		}
		time.Sleep(time.Second + time.Millisecond)
		healthy.Store(true)
		if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
			t.Errorf("probe after 30 s: %v", err)
		}
	})
}

// README: WithRetryBudget: 20% of calls + 10 over 10 s.
func TestReadmeAuditRetryBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var retries atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }),
			WithRetryBudget(RetryBudget{}), WithRetry(RetryPolicy{MaxAttempts: 2, Jitter: NoJitter, BaseDelay: time.Millisecond}),
			WithHooks(Hooks{OnRetry: func(RetryInfo) { retries.Add(1) }}))
		defer f.Shutdown(context.Background())
		var budgetErrs int
		for range 50 {
			_, err := f.Get(t.Context(), "http://a.test/")
			var be *RetryBudgetError
			if errors.As(err, &be) {
				budgetErrs++
			}
		}
		// 50 calls: 20% = 10, + 10 = 20 retries.
		if r := retries.Load(); r < 19 || r > 21 {
			t.Errorf("retries = %d, budget refusals %d; README: 20%% of 50 calls + 10 = 20", r, budgetErrs)
		}
	})
}

// README: invalid URLs are ErrInvalidURL, 0 attempts, no network call.
func TestReadmeAuditInvalidURL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
		defer f.Shutdown(context.Background())
		for _, u := range []string{"file:///etc/passwd", "a.test/x", "http:///x", "http://a.test:99999/", "http://a.test/\x01"} {
			_, err := f.Get(t.Context(), u)
			var fe *Error
			if !errors.Is(err, ErrInvalidURL) || !errors.As(err, &fe) || fe.Attempts != 0 {
				t.Errorf("%q: %v", u, err)
			}
		}
		if n.Load() != 0 {
			t.Errorf("server saw %d", n.Load())
		}
	})
}

// README: GetAll in input order; POST retried only with Idempotency-Key.
func TestReadmeAuditGetAllOrderAndIdempotency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "POST" {
				n.Add(1)
				w.WriteHeader(503)
				return
			}
			d, _ := time.ParseDuration(r.URL.Query().Get("d"))
			time.Sleep(d)
			io.WriteString(w, r.URL.Path)
		}))
		defer f.Shutdown(context.Background())
		urls := []string{"http://a.test/1?d=3s", "http://b.test/2?d=1s", "http://c.test/3?d=2s"}
		rs := f.GetAll(t.Context(), urls)
		for i, r := range rs {
			if r.Index != i || string(r.Body) != fmt.Sprint("/", i+1) {
				t.Errorf("result %d: %+v", i, r)
			}
		}
		f.Get(t.Context(), "http://a.test/", Method("POST"), Body("text/plain", []byte("x")))
		if n.Load() != 1 {
			t.Errorf("POST sent %d times; want 1", n.Load())
		}
		n.Store(0)
		f.Get(t.Context(), "http://a.test/", Method("POST"), Body("text/plain", []byte("x")), Header("Idempotency-Key", "k"))
		if n.Load() != 4 {
			t.Errorf("POST with Idempotency-Key sent %d times; want 4", n.Load())
		}
	})
}

// README: hosts named by host:port lower-cased without default port share limits.
func TestReadmeAuditHostNaming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c := count(func(w http.ResponseWriter, r *http.Request) { <-release })
		f := newMem(t, c, WithHostConcurrency(1))
		defer f.Shutdown(context.Background())
		var wg sync.WaitGroup
		for _, u := range []string{"HTTP://A.test:80/", "http://a.test/"} {
			wg.Go(func() { f.Get(t.Context(), u) })
		}
		synctest.Wait()
		if c.running.Load() != 1 {
			t.Errorf("in flight %d; want 1 (one host)", c.running.Load())
		}
		close(release)
		wg.Wait()
	})
}

// README: Shutdown: new calls fail with ErrClosed.
func TestReadmeAuditShutdownErrClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		f.Shutdown(context.Background())
		if _, err := f.Get(t.Context(), "http://a.test/"); !errors.Is(err, ErrClosed) {
			t.Errorf("after Shutdown: %v", err)
		}
	})
}

// README: GetJSON: a body that is not T's shape fails with *Error, not retried.
func TestReadmeAuditGetJSONNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			io.WriteString(w, `{"a": "not a number"}`)
		}))
		defer f.Shutdown(context.Background())
		_, err := GetJSON[struct{ A int }](t.Context(), f, "http://a.test/")
		var fe *Error
		if !errors.As(err, &fe) || n.Load() != 1 {
			t.Errorf("err %v, sent %d", err, n.Load())
		}
	})
}

// README: a hook that panics fails its call with *PanicError.
func TestReadmeAuditHookPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithHooks(Hooks{OnDone: func(DoneInfo) { panic("boom") }}))
		defer f.Shutdown(context.Background())
		_, err := f.Get(t.Context(), "http://a.test/")
		var pe *PanicError
		if !errors.As(err, &pe) {
			t.Errorf("err = %v", err)
		}
	})
}

// README: TaskGroup: first failure cancels siblings; Wait joins real failures; panic -> *PanicError.
func TestReadmeAuditTaskGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := NewTaskGroup(t.Context())
		e1, e2 := errors.New("one"), errors.New("two")
		var started sync.WaitGroup
		started.Add(3)
		g.Go(func() error { started.Done(); started.Wait(); return e1 })
		g.Go(func() error { started.Done(); started.Wait(); return e2 })
		g.Go(func() error { started.Done(); <-ctx.Done(); return ctx.Err() })
		err := g.Wait()
		if !errors.Is(err, e1) || !errors.Is(err, e2) || errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v", err)
		}
		g, _ = NewTaskGroup(t.Context())
		g.Go(func() error { panic("x") })
		var pe *PanicError
		if err := g.Wait(); !errors.As(err, &pe) {
			t.Errorf("Wait = %v", err)
		}
	})
}

// README: Stream: every input yields exactly one result, in completion order.
func TestReadmeAuditStreamOnePerInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d, _ := time.ParseDuration(r.URL.Query().Get("d"))
			time.Sleep(d)
		}))
		defer f.Shutdown(context.Background())
		var got []int
		for r := range f.Stream(t.Context(), slices.Values([]string{"http://a.test/?d=3s", "http://b.test/?d=1s", "::bad", "http://c.test/?d=2s"})) {
			got = append(got, r.Index)
		}
		if !slices.Equal(got, []int{2, 1, 3, 0}) {
			t.Errorf("order %v; want [2 1 3 0]", got)
		}
	})
}

// README (Options): WithMaxRedirects default 10; other schemes and hostless
// URLs refused with ErrTooManyRedirects.
func TestReadmeAuditRedirectsLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chain":
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			if n > 0 {
				http.Redirect(w, r, fmt.Sprintf("/chain?n=%d", n-1), http.StatusFound)
				return
			}
			io.WriteString(w, "end")
		case "/ftp":
			w.Header().Set("Location", "ftp://example.com/x")
			w.WriteHeader(302)
		case "/badport":
			w.Header().Set("Location", "http://a.test:99999/x")
			w.WriteHeader(302)
		}
	}))
	defer srv.Close()
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	if _, err := f.Get(t.Context(), srv.URL+"/chain?n=10"); err != nil {
		t.Errorf("10 redirects: %v", err)
	}
	if _, err := f.Get(t.Context(), srv.URL+"/chain?n=11"); !errors.Is(err, ErrTooManyRedirects) {
		t.Errorf("11 redirects: %v", err)
	}
	for _, p := range []string{"/ftp", "/badport"} {
		if _, err := f.Get(t.Context(), srv.URL+p); !errors.Is(err, ErrTooManyRedirects) {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// README: body cap 10 MiB by default, ErrBodyTooLarge, not retried; MaxBodySize(-1): none;
// Do is not capped; header cap 1 MiB -> ErrHeaderTooLarge; connection refused retried.
func TestReadmeAuditCapsLoopback(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/big":
			w.Write(make([]byte, 10<<20+1))
		case "/exact":
			w.Write(make([]byte, 10<<20))
		case "/head":
			w.Header().Set("X-Big", strings.Repeat("h", 1<<20))
		}
	}))
	defer srv.Close()
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	if b, err := f.Get(t.Context(), srv.URL+"/exact"); err != nil || len(b) != 10<<20 {
		t.Errorf("10 MiB: %d, %v", len(b), err)
	}
	hits.Store(0)
	if _, err := f.Get(t.Context(), srv.URL+"/big"); !errors.Is(err, ErrBodyTooLarge) || hits.Load() != 1 {
		t.Errorf("10 MiB + 1: %v, %d sent", err, hits.Load())
	}
	if b, err := f.Get(t.Context(), srv.URL+"/big", MaxBodySize(-1)); err != nil || len(b) != 10<<20+1 {
		t.Errorf("MaxBodySize(-1): %d, %v", len(b), err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/big", nil)
	resp, err := f.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n != 10<<20+1 || err != nil {
		t.Errorf("Do: read %d, %v", n, err)
	}
	hits.Store(0)
	if _, err := f.Get(t.Context(), srv.URL+"/head"); !errors.Is(err, ErrHeaderTooLarge) || hits.Load() != 1 {
		t.Errorf("header over 1 MiB: %v, %d sent", err, hits.Load())
	}
}

func TestReadmeAuditConnRefusedRetried(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(ok))
	addr := srv.URL
	srv.Close()
	f, err := New(WithRetry(RetryPolicy{BaseDelay: time.Millisecond, Jitter: NoJitter}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	_, err = f.Get(t.Context(), addr)
	var fe *Error
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &fe) || fe.Attempts != 4 {
		t.Errorf("err = %v", err)
	}
}

// README (WithClient): New refuses WithTLSConfig, WithBlockPrivateAddresses,
// WithMaxHeaderSize, WithMaxRedirects, WithTransportWrapper with WithClient;
// WithStallTimeout works with it.
func TestReadmeAuditWithClientRefusals(t *testing.T) {
	c := &http.Client{}
	for name, o := range map[string]Option{
		"WithTLSConfig":             WithTLSConfig(&tls.Config{}),
		"WithBlockPrivateAddresses": WithBlockPrivateAddresses(),
		"WithMaxHeaderSize":         WithMaxHeaderSize(1 << 10),
		"WithMaxRedirects":          WithMaxRedirects(3),
		"WithTransportWrapper":      WithTransportWrapper(func(rt http.RoundTripper) http.RoundTripper { return rt }),
	} {
		for _, opts := range [][]Option{{WithClient(c), o}, {o, WithClient(c)}} {
			if f, err := New(opts...); err == nil {
				f.Shutdown(context.Background())
				t.Errorf("%s with WithClient: accepted", name)
			}
		}
	}
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(time.Hour):
			}
		}), WithStallTimeout(5*time.Second), WithRetry(RetryPolicy{MaxAttempts: 1}))
		defer f.Shutdown(context.Background())
		start := time.Now()
		_, err := f.Get(t.Context(), "http://a.test/")
		if !errors.Is(err, ErrAttemptTimeout) || time.Since(start) != 5*time.Second {
			t.Errorf("stall with WithClient: %v after %v", err, time.Since(start))
		}
	})
}

// README: default headers that may be credentials are not sent on a redirect
// to another domain (ports aside), User-Agent/Accept are.
func TestReadmeAuditDefaultHeadersOnRedirect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		seen := map[string]http.Header{}
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[r.URL.Host] = r.Header.Clone()
			mu.Unlock()
			switch r.URL.Host {
			case "a.test":
				http.Redirect(w, r, "http://a.test:8080/", http.StatusFound)
			case "a.test:8080":
				http.Redirect(w, r, "http://b.test/", http.StatusFound)
			}
		}), WithHeader("X-Api-Key", "secret"), WithHeader("User-Agent", "ua"), WithBearerToken("tok"))
		defer f.Shutdown(context.Background())
		if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		if h := seen["a.test:8080"]; h.Get("X-Api-Key") != "secret" || h.Get("Authorization") != "Bearer tok" {
			t.Errorf("same domain other port: %v", h)
		}
		if h := seen["b.test"]; h.Get("X-Api-Key") != "" || h.Get("Authorization") != "" || h.Get("User-Agent") != "ua" {
			t.Errorf("other domain: %v", h)
		}
	})
}

// README (Failure behaviour): deadline-related "at once" rows.
func TestReadmeAuditDeadlineRows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			switch r.URL.Path {
			case "/pause":
				w.Header().Set("Retry-After", "60")
				w.WriteHeader(503)
			case "/fail":
				w.WriteHeader(500)
			}
		}), WithRetry(RetryPolicy{BaseDelay: 30 * time.Second, Jitter: NoJitter}))
		defer f.Shutdown(context.Background())
		// The host is paused for 60 s by another request's Retry-After.
		f.Get(t.Context(), "http://p.test/pause")
		n.Store(0)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := f.Get(ctx, "http://p.test/other")
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 0 || n.Load() != 0 {
			t.Errorf("paused host: %v after %v, %d sent", err, time.Since(start), n.Load())
		}
		// The next backoff (30 s) past the deadline: at once, carrying the *StatusError.
		start = time.Now()
		_, err = f.Get(ctx, "http://q.test/fail")
		var se *StatusError
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &se) || time.Since(start) != 0 {
			t.Errorf("backoff past deadline: %v after %v", err, time.Since(start))
		}
		// Caller's cancellation: context.Canceled.
		cctx, ccancel := context.WithCancel(t.Context())
		ccancel()
		if _, err := f.Get(cctx, "http://r.test/"); !errors.Is(err, context.Canceled) {
			t.Errorf("canceled: %v", err)
		}
	})
}

// README: a token due after the caller's deadline fails at once, nothing sent.
func TestReadmeAuditTokenPastDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }), WithRate(PerMinute(1), 1))
		defer f.Shutdown(context.Background())
		f.Get(t.Context(), "http://a.test/")
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := f.Get(ctx, "http://a.test/")
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 0 || n.Load() != 1 {
			t.Errorf("token past deadline: %v after %v, %d sent", err, time.Since(start), n.Load())
		}
	})
}

// README: Shutdown fails waiting calls at once with ErrClosed, waits for those on the wire.
func TestReadmeAuditShutdownWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				<-release
			}
		}), WithConcurrency(1))
		var wg sync.WaitGroup
		var slowErr, waitErr error
		wg.Go(func() { _, slowErr = f.Get(t.Context(), "http://a.test/slow") })
		synctest.Wait()
		wg.Go(func() { _, waitErr = f.Get(t.Context(), "http://b.test/") })
		synctest.Wait()
		done := make(chan error)
		go func() { done <- f.Shutdown(context.Background()) }()
		synctest.Wait()
		if !errors.Is(waitErr, ErrClosed) {
			t.Errorf("waiting call: %v; want ErrClosed at once", waitErr)
		}
		select {
		case <-done:
			t.Errorf("Shutdown returned with a call on the wire")
		default:
		}
		close(release)
		<-done
		wg.Wait()
		if slowErr != nil {
			t.Errorf("call on the wire: %v", slowErr)
		}
	})
}

// README: breaking out of a streaming loop returns at once, even when the input is blocked.
func TestReadmeAuditStreamBreakBlockedInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		defer f.Shutdown(context.Background())
		ch := make(chan string, 1)
		ch <- "http://a.test/"
		in := func(yield func(string) bool) {
			for u := range ch {
				if !yield(u) {
					return
				}
			}
		}
		start := time.Now()
		for range f.Stream(t.Context(), in) {
			break
		}
		if time.Since(start) != 0 {
			t.Errorf("break took %v", time.Since(start))
		}
		close(ch)
	})
}

// README: GetAllFailFast: first failure cancels the rest and is returned.
func TestReadmeAuditFailFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Host == "bad.test" {
				w.WriteHeader(404)
				return
			}
			select {
			case <-r.Context().Done():
			case <-time.After(time.Hour):
			}
		}))
		defer f.Shutdown(context.Background())
		start := time.Now()
		rs, err := f.GetAllFailFast(t.Context(), []string{"http://a.test/", "http://bad.test/", "http://c.test/"})
		var se *StatusError
		if !errors.As(err, &se) || time.Since(start) != 0 || len(rs) != 3 {
			t.Errorf("err %v after %v, %d results", err, time.Since(start), len(rs))
		}
	})
}

// README: WithBearerTokenFunc asks afresh for each attempt.
func TestReadmeAuditBearerTokenFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		var seen []string
		var mu sync.Mutex
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Header.Get("Authorization"))
			mu.Unlock()
			w.WriteHeader(503)
		}), WithBearerTokenFunc(func(context.Context) (string, error) { return fmt.Sprint("t", calls.Add(1)), nil }),
			WithRetry(RetryPolicy{MaxAttempts: 3}))
		defer f.Shutdown(context.Background())
		f.Get(t.Context(), "http://a.test/")
		if !slices.Equal(seen, []string{"Bearer t1", "Bearer t2", "Bearer t3"}) {
			t.Errorf("tokens sent %q", seen)
		}
	})
}

// README (Stats): failed by kind, succeeded, attempts, retries.
func TestReadmeAuditStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, failing(1, 503, nil))
		defer f.Shutdown(context.Background())
		f.Get(t.Context(), "http://a.test/")
		f.Get(t.Context(), "::bad")
		s := f.Stats()
		if s.Succeeded != 1 || s.Failed.Refused != 1 || s.Attempts != 2 || s.Retries != 1 || s.Waiting != 0 || s.InFlight != 0 {
			t.Errorf("stats %+v", s)
		}
	})
}

// README (Handle): non-2xx is not handed to handle; *StatusError; RetryableError retried.
func TestReadmeAuditHandle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			if r.URL.Path == "/404" {
				w.WriteHeader(404)
			}
			io.WriteString(w, "x")
		}))
		defer f.Shutdown(context.Background())
		var handled int
		for h := range HandleURLs(t.Context(), f, slices.Values([]string{"http://a.test/404", "http://a.test/ok"}), func(u string, resp *http.Response) (int, error) {
			handled++
			if strings.HasSuffix(u, "/ok") {
				return 0, RetryableError(errors.New("again"))
			}
			return 1, nil
		}) {
			var se *StatusError
			if strings.HasSuffix(h.URL, "/404") && !errors.As(h.Err, &se) {
				t.Errorf("404: %v", h.Err)
			}
			if strings.HasSuffix(h.URL, "/ok") && h.Attempts != 4 {
				t.Errorf("retryable: %d attempts, %v", h.Attempts, h.Err)
			}
		}
		if handled != 4 {
			t.Errorf("handled %d; want 4 (404 never)", handled)
		}
	})
}

// README (Crawling): seeds dedupe (u and u#top: one page); robots.txt 4xx
// allows, 5xx disallows with ErrDisallowed and ErrRobotsUnavailable; robots.txt
// without credentials; redirect to a seen URL: ErrAlreadySeen; out of scope seed.
func TestReadmeAuditCrawl(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		robotsAuth := map[string]string{}
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				mu.Lock()
				robotsAuth[r.URL.Host] = r.Header.Get("Authorization")
				mu.Unlock()
				if r.URL.Host == "down.test" {
					w.WriteHeader(503)
					return
				}
				w.WriteHeader(404)
				return
			}
			switch r.URL.Path {
			case "/":
				io.WriteString(w, `<a href="/b">b</a><a href="/r">r</a>`)
			case "/r":
				http.Redirect(w, r, "/", http.StatusFound)
			}
		}), WithBearerToken("tok"), WithRetry(RetryPolicy{MaxAttempts: 1}))
		defer f.Shutdown(context.Background())
		c, err := NewCrawler(f, CrawlHosts("a.test", "down.test"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]error{}
		for p := range c.Run(t.Context(), "http://a.test/", "http://a.test/#top", "http://down.test/x", "http://out.test/") {
			got[p.URL] = p.Err
			p.Follow(p.Links()...)
		}
		if len(got) != 5 {
			t.Errorf("pages %v; want 5: /, /b, /r, down.test/x, out.test/", got)
		}
		if err := got["http://a.test/"]; err != nil {
			t.Errorf("/: %v", err)
		}
		if err := got["http://a.test/r"]; !errors.Is(err, ErrAlreadySeen) {
			t.Errorf("/r: %v", err)
		}
		if err := got["http://down.test/x"]; !errors.Is(err, ErrDisallowed) || !errors.Is(err, ErrRobotsUnavailable) {
			t.Errorf("down.test: %v", err)
		}
		if err := got["http://out.test/"]; !errors.Is(err, ErrOutOfScope) {
			t.Errorf("out.test: %v", err)
		}
		for h, a := range robotsAuth {
			if a != "" {
				t.Errorf("robots.txt of %s sent Authorization %q", h, a)
			}
		}
	})
}

// README (Crawling): without WithHostConcurrency a crawl sends a host as many
// requests at once as the Fetcher's concurrency (64 by default).
func TestReadmeAuditCrawlConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c := count(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				w.WriteHeader(404)
				return
			}
			<-release
		})
		f := newMem(t, c)
		defer f.Shutdown(context.Background())
		cr, _ := NewCrawler(f)
		var seeds []string
		for i := range 100 {
			seeds = append(seeds, fmt.Sprintf("http://a.test/%d", i))
		}
		done := make(chan int)
		go func() {
			n := 0
			for range cr.Run(t.Context(), seeds...) {
				n++
			}
			done <- n
		}()
		synctest.Wait()
		if got := c.running.Load(); got != 64 {
			t.Errorf("in flight to one host: %d; README says 64", got)
		}
		close(release)
		if n := <-done; n != 100 {
			t.Errorf("%d pages", n)
		}
	})
}

// README (Crawling): Crawl-delay turn past ctx's deadline: a page at once,
// naming the Crawl-delay, matching DeadlineExceeded; nothing sent.
func TestReadmeAuditCrawlDelayDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				io.WriteString(w, "User-agent: *\nCrawl-delay: 60\n")
				return
			}
			n.Add(1)
		}))
		defer f.Shutdown(context.Background())
		cr, _ := NewCrawler(f)
		// robots.txt's own request takes a turn: /1 goes at 60 s, /2's turn
		// (120 s) is past the deadline.
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		start := time.Now()
		// Pages come as they end, so /2's refusal may come before /1.
		errs := map[string]error{}
		for p := range cr.Run(ctx, "http://a.test/1", "http://a.test/2") {
			errs[p.URL] = p.Err
		}
		if len(errs) != 2 || n.Load() != 1 || errs["http://a.test/1"] != nil || time.Since(start) > 60*time.Second {
			t.Fatalf("errs %v, %d sent, after %v", errs, n.Load(), time.Since(start))
		}
		e := errs["http://a.test/2"]
		if !errors.Is(e, context.DeadlineExceeded) || !strings.Contains(strings.ToLower(e.Error()), "crawl-delay") {
			t.Errorf("second page: %v", e)
		}
	})
}

// README (Many hosts): while the workers are busy, a buffer of up to twice the
// concurrency is read ahead; goroutines are the workers, plus one reading the
// input and one standby worker.
func TestReadmeAuditReadAheadAndGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }), WithConcurrency(4))
		defer f.Shutdown(context.Background())
		var read atomic.Int64
		in := func(yield func(string) bool) {
			for i := range 1000 {
				read.Add(1)
				if !yield(fmt.Sprintf("http://h%d.test/", i)) {
					return
				}
			}
		}
		synctest.Wait()
		base := runtime.NumGoroutine()
		done := make(chan int)
		go func() {
			n := 0
			for range f.Stream(t.Context(), in) {
				n++
			}
			done <- n
		}()
		synctest.Wait()
		if r := read.Load(); r > 4+2*4+1 {
			t.Errorf("read %d inputs with 4 workers busy; README: in flight + a buffer of up to 8", r)
		}
		if g := runtime.NumGoroutine() - base - 1; g != 4+1+1 {
			t.Errorf("%d goroutines for the stream; README: 4 workers + reader + standby = 6", g)
		}
		close(release)
		if n := <-done; n != 1000 {
			t.Errorf("%d results", n)
		}
	})
}

// README (Testing): the fake time that passes is exactly the sum of the OnRetry delays;
// New starts no goroutine and an idle Fetcher holds none.
func TestReadmeAuditTestingRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := runtime.NumGoroutine()
		var sum time.Duration
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }),
			WithHooks(Hooks{OnRetry: func(ri RetryInfo) { sum += ri.Delay }}))
		defer f.Shutdown(context.Background())
		if g := runtime.NumGoroutine(); g != base {
			t.Errorf("New started %d goroutines", g-base)
		}
		start := time.Now()
		f.Get(t.Context(), "http://a.test/")
		if time.Since(start) != sum || sum == 0 {
			t.Errorf("elapsed %v, sum of delays %v", time.Since(start), sum)
		}
		synctest.Wait()
		if g := runtime.NumGoroutine(); g != base {
			t.Errorf("idle Fetcher holds %d goroutines", g-base)
		}
	})
}

// README: Retry-After longer than MaxRetryAfter pauses the host for MaxRetryAfter (at most).
func TestReadmeAuditPauseCappedAtMaxRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(503)
			}
		}))
		defer f.Shutdown(context.Background())
		f.Get(t.Context(), "http://a.test/")
		time.Sleep(4 * time.Minute)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		_, err := f.Get(ctx, "http://a.test/")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || n.Load() != 1 {
			t.Errorf("at 4 min: %v, %d sent; want still paused", err, n.Load())
		}
		time.Sleep(time.Minute + time.Millisecond)
		ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
		_, err = f.Get(ctx, "http://a.test/")
		cancel()
		if err != nil {
			t.Errorf("after 5 min: %v; want the pause over", err)
		}
	})
}

// README: a non-2xx from Do is not an error; Fetch returns FinalURL and trailer.
func TestReadmeAuditDoAndFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/404":
				w.WriteHeader(404)
			case "/r":
				http.Redirect(w, r, "/t", http.StatusFound)
			case "/t":
				w.Header().Set("Trailer", "X-Sum")
				io.WriteString(w, "body")
				w.Header().Set("X-Sum", "42")
			}
		}))
		defer f.Shutdown(context.Background())
		req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://a.test/404", nil)
		resp, err := f.Do(req)
		if err != nil || resp.StatusCode != 404 {
			t.Errorf("Do 404: %v", err)
		} else {
			resp.Body.Close()
		}
		r := f.Fetch(t.Context(), "http://a.test/r")
		if r.Err != nil || r.FinalURL != "http://a.test/t" || string(r.Body) != "body" || r.Trailer.Get("X-Sum") != "42" {
			t.Errorf("Fetch: %+v", r)
		}
	})
}

// README (WithHeader...): the last auth option wins; credentials not sent back
// after a redirect to another domain, nor from https to http.
func TestReadmeAuditAuthOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var seen []string
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.URL.Scheme+"://"+r.URL.Host+r.URL.Path+" "+r.Header.Get("Authorization")+" "+r.Header.Get("X-Api-Key"))
			mu.Unlock()
			switch r.URL.Scheme + "://" + r.URL.Host + r.URL.Path {
			case "http://a.test/":
				http.Redirect(w, r, "http://b.test/", http.StatusFound)
			case "http://b.test/":
				http.Redirect(w, r, "http://a.test/back", http.StatusFound)
			case "https://c.test/":
				http.Redirect(w, r, "http://c.test/plain", http.StatusFound)
			}
		}), WithBearerToken("tok"), WithBasicAuth("u", "p"), WithHeader("X-Api-Key", "k"))
		defer f.Shutdown(context.Background())
		f.Get(t.Context(), "http://a.test/")
		f.Get(t.Context(), "https://c.test/")
		basic := "Basic dTpw"
		want := []string{
			"http://a.test/ " + basic + " k",
			"http://b.test/  ",
			"http://a.test/back  ",
			"https://c.test/ " + basic + " k",
			"http://c.test/plain  ",
		}
		if !slices.Equal(seen, want) {
			t.Errorf("sent\n%q\nwant\n%q", seen, want)
		}
	})
}

// README: WithRate takes a token for retries too; a timed-out attempt is
// retried and matches ErrAttemptTimeout and DeadlineExceeded; a 429 with
// RateLimit r=0;t=30 waits for the reset.
func TestReadmeAuditRateTimeoutReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var a arrivals
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.add()
			if len(a.at) == 1 {
				w.WriteHeader(503)
			}
		}), WithRate(1, 1), WithRetry(RetryPolicy{BaseDelay: time.Millisecond, Jitter: NoJitter}))
		start := time.Now()
		if _, err := f.Get(t.Context(), "http://a.test/"); err != nil || time.Since(start) < time.Second {
			t.Errorf("retry under WithRate(1, 1): %v after %v; want a token's wait (1 s)", err, time.Since(start))
		}
		f.Shutdown(context.Background())

		var n atomic.Int64
		f = newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			<-r.Context().Done()
		}), WithAttemptTimeout(time.Second))
		_, err := f.Get(t.Context(), "http://a.test/")
		if !errors.Is(err, ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) || n.Load() != 4 {
			t.Errorf("attempt timeout: %v, %d sent", err, n.Load())
		}
		f.Shutdown(context.Background())

		var b arrivals
		f = newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.add()
			if len(b.at) == 1 {
				w.Header().Set("RateLimit", `"default";r=0;t=30`)
				w.WriteHeader(429)
			}
		}))
		start = time.Now()
		if _, err := f.Get(t.Context(), "http://a.test/"); err != nil || time.Since(start) < 30*time.Second {
			t.Errorf("RateLimit r=0;t=30: %v after %v", err, time.Since(start))
		}
		f.Shutdown(context.Background())
	})
}
