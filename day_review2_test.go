package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// A token fetched through the same Fetcher, with the context the token
// function is given, is not counted among the attempts of the call that
// asked for it: the call made one attempt, which the server saw once.
func TestReview2TokenFetchNotCountedAsAttempt(t *testing.T) {
	var apiHits atomic.Int64
	srv := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			io.WriteString(w, "tok")
			return
		}
		apiHits.Add(1)
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	var f *Fetcher
	f = portFetcher(t, WithConcurrency(1), WithHostConcurrency(1),
		WithBearerTokenFunc(func(ctx context.Context) (string, error) {
			b, err := f.Get(ctx, srv.URL+"/token", Header("Authorization", "Basic Y2xpZW50OnNlY3JldA=="))
			return string(b), err
		}))
	r := f.Fetch(t.Context(), srv.URL+"/api")
	if r.Err != nil {
		t.Fatalf("Fetch: %v", r.Err)
	}
	if r.Attempts != 1 || apiHits.Load() != 1 {
		t.Errorf("Attempts = %d, server saw %d API requests; want 1, 1", r.Attempts, apiHits.Load())
	}

	// The same with a token fetched by another client under that context.
	g := portFetcher(t, WithBearerTokenFunc(func(ctx context.Context) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/token", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}))
	apiHits.Store(0)
	r = g.Fetch(t.Context(), srv.URL+"/api")
	if r.Err != nil || r.Attempts != 1 || apiHits.Load() != 1 {
		t.Errorf("other client: err %v, Attempts = %d, server saw %d; want nil, 1, 1", r.Err, r.Attempts, apiHits.Load())
	}
}

// A default Proxy-Authorization is the proxy's: a request to an http URL
// that goes to no proxy (the proxy function returns nil for it, as
// NO_PROXY makes the environment's do) does not carry it to the server,
// one that goes through the proxy does, and the proxy function is asked
// once per request, as without the header.
func TestReview2ProxyAuthorizationNotToUnproxiedOrigin(t *testing.T) {
	const cred = "Basic cHJveHk6c2VjcmV0"
	var got atomic.Value
	got.Store("")
	srv := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Proxy-Authorization"))
	})
	p := newAbsoluteProxy(t, func(w http.ResponseWriter, r *http.Request) {})
	pu, _ := url.Parse(p.URL)
	var asked atomic.Int64
	f := portFetcher(t, WithHeader("Proxy-Authorization", cred),
		WithProxy(func(r *http.Request) (*url.URL, error) {
			asked.Add(1)
			if r.URL.Hostname() == "a.test" {
				return pu, nil
			}
			return nil, nil // NO_PROXY
		}))
	if _, err := f.Get(t.Context(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if v := got.Load().(string); v != "" {
		t.Errorf("origin server got Proxy-Authorization %q; want none (no proxy in between)", v)
	}
	if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	if len(p.auths) != 1 || p.auths[0] != cred {
		t.Errorf("proxy saw Proxy-Authorization %q; want [%q]", p.auths, cred)
	}
	p.mu.Unlock()
	if n := asked.Load(); n != 2 {
		t.Errorf("proxy function asked %d times for 2 requests; want 2", n)
	}
}

// Hooks given more than once: a panic in one set's OnDone does not keep
// the next set's OnDone (a tracer's, which ends the span its OnCall began)
// from running.
func TestReview2HooksPanicDoesNotSkipOtherSets(t *testing.T) {
	srv := portServer(t, func(w http.ResponseWriter, r *http.Request) {})
	type spanKey struct{}
	var started, ended atomic.Int64
	tracer := Hooks{
		OnCall: func(ctx context.Context, _ CallInfo) context.Context {
			started.Add(1)
			return context.WithValue(ctx, spanKey{}, true)
		},
		OnDone: func(DoneInfo) { ended.Add(1) },
	}
	user := Hooks{OnDone: func(DoneInfo) { panic("user hook") }}
	f := portFetcher(t, WithHooks(user), WithHooks(tracer))
	_, err := f.Get(t.Context(), srv.URL)
	var pe *PanicError
	if !errors.As(err, &pe) || !strings.Contains(string(pe.Stack), "TestReview2HooksPanicDoesNotSkipOtherSets") {
		t.Errorf("err %v; want a *PanicError with the hook's stack", err)
	}
	if started.Load() != 1 || ended.Load() != 1 {
		t.Errorf("tracer's spans: %d started, %d ended; want 1, 1", started.Load(), ended.Load())
	}
}

// WithBearerTokenFunc probes: the token fetched through the same Fetcher
// from inside a batch (one worker, one slot); the caller's cancellation
// while the token function runs; a panicking token function.
func TestReview2TokenFuncProbes(t *testing.T) {
	srv := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			io.WriteString(w, "tok")
		}
	})
	var f *Fetcher
	f = portFetcher(t, WithConcurrency(1), WithHostConcurrency(1), WithAttemptTimeout(5*time.Second),
		WithBearerTokenFunc(func(ctx context.Context) (string, error) {
			rs := f.GetAll(ctx, []string{srv.URL + "/token"}, Header("Authorization", "Basic eDp5"))
			return string(rs[0].Body), rs[0].Err
		}))
	for _, r := range f.GetAll(t.Context(), []string{srv.URL + "/a", srv.URL + "/b", srv.URL + "/c"}) {
		if r.Err != nil || r.Attempts != 1 {
			t.Errorf("%s: err %v, %d attempts; want nil, 1", r.URL, r.Err, r.Attempts)
		}
	}

	// Cancelled while the token function runs (it ignores ctx).
	ctx, cancel := context.WithCancel(t.Context())
	g := portFetcher(t, WithConcurrency(1), WithBearerTokenFunc(func(context.Context) (string, error) {
		cancel()
		return "tok", nil
	}))
	_, err := g.Get(ctx, srv.URL)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v; want context.Canceled", err)
	}
	if s := g.Stats(); s.Failed.Canceled != 1 || s.InFlight != 0 {
		t.Errorf("stats %+v; want 1 canceled, 0 in flight", s)
	}
	// Its slot was given back.
	if _, err := g.Get(t.Context(), srv.URL); err != nil {
		t.Errorf("after: %v", err)
	}

	// A panic.
	h := portFetcher(t, WithConcurrency(1), WithBearerTokenFunc(func(context.Context) (string, error) { panic("boom") }))
	var pe *PanicError
	if _, err := h.Get(t.Context(), srv.URL); !errors.As(err, &pe) {
		t.Errorf("panic: err %v; want *PanicError", err)
	}
	if _, err := h.Get(t.Context(), srv.URL); !errors.As(err, &pe) {
		t.Errorf("panic again: err %v; want *PanicError (slot given back)", err)
	}
}

// A POST whose connection failed, with a body that cannot be rewound, is
// not retried: its error says why, still matches the refusal, and the
// server was never asked.
func TestReview2NeverSentUnrewindable(t *testing.T) {
	f := portFetcher(t, WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}))
	req, _ := http.NewRequest(http.MethodPost, refusedURL(t), io.NopCloser(strings.NewReader("x")))
	_, err := f.Do(req)
	var fe *Error
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, new(*unrewindableError)) || !errors.As(err, &fe) || fe.Attempts != 1 {
		t.Errorf("err %v; want ECONNREFUSED, not retried as the body cannot be rewound, after 1 attempt", err)
	}
}

// Hooks given more than once: a panic in one set's OnCall does not keep
// the next set's OnCall from running, with the context so far, so that
// every set sees both ends of every call (a gauge of calls in progress,
// up in OnCall and down in OnDone, comes back to zero).
func TestReview2HooksOnCallPanicBalanced(t *testing.T) {
	srv := portServer(t, func(w http.ResponseWriter, r *http.Request) {})
	type key struct{}
	var open atomic.Int64
	var sawFirst atomic.Bool
	gauge := Hooks{
		OnCall: func(ctx context.Context, _ CallInfo) context.Context {
			open.Add(1)
			sawFirst.Store(ctx.Value(key{}) != nil)
			return ctx
		},
		OnDone: func(DoneInfo) { open.Add(-1) },
	}
	user := Hooks{OnCall: func(ctx context.Context, _ CallInfo) context.Context {
		panic("user OnCall")
	}}
	first := Hooks{OnCall: func(ctx context.Context, _ CallInfo) context.Context {
		return context.WithValue(ctx, key{}, 1)
	}}
	f := portFetcher(t, WithHooks(first), WithHooks(user), WithHooks(gauge))
	_, err := f.Get(t.Context(), srv.URL)
	var pe *PanicError
	if !errors.As(err, &pe) || !strings.Contains(string(pe.Stack), "TestReview2HooksOnCallPanicBalanced") {
		t.Errorf("err %v; want a *PanicError with the hook's stack", err)
	}
	if open.Load() != 0 || !sawFirst.Load() {
		t.Errorf("calls open after the call: %d, gauge saw the first set's context: %v; want 0, true", open.Load(), sawFirst.Load())
	}
}

// Header("Host", the URL's own host) applied to a request given to DoAll
// or StreamRequests keeps that Host over WithHeader's, as it does with Do
// and the URL calls: the request is sent under the batch's context, and
// the mark must not be dropped with its own.
func TestReview2HeaderOwnHostInDoAll(t *testing.T) {
	var hosts atomic.Value
	hosts.Store("")
	srv := portServer(t, func(w http.ResponseWriter, r *http.Request) { hosts.Store(r.Host) })
	own := strings.TrimPrefix(srv.URL, "http://")
	f := portFetcher(t, WithHeader("Host", "default.test"))
	mk := func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err := Header("Host", own)(req); err != nil {
			t.Fatal(err)
		}
		return req
	}
	resp, err := f.Do(mk())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := hosts.Load(); h != own {
		t.Errorf("Do: server saw Host %q; want %q", h, own)
	}
	hosts.Store("")
	if rs := f.DoAll(t.Context(), []*http.Request{mk()}); rs[0].Err != nil || hosts.Load() != own {
		t.Errorf("DoAll: err %v, server saw Host %q; want nil, %q", rs[0].Err, hosts.Load(), own)
	}
	hosts.Store("")
	for r := range f.StreamRequests(t.Context(), func(yield func(*http.Request) bool) { yield(mk()) }) {
		if r.Err != nil || hosts.Load() != own {
			t.Errorf("StreamRequests: err %v, server saw Host %q; want nil, %q", r.Err, hosts.Load(), own)
		}
	}
}

// A slow token function holds no slot: under WithConcurrency(1), other
// calls go while it runs, and the call that waited for its token goes
// once it has it.
func TestReview2SlowTokenFuncHoldsNoSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var order []string
		var mu sync.Mutex
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			order = append(order, r.URL.Path)
			mu.Unlock()
		})
		f := newMem(t, h, WithConcurrency(1), WithBearerTokenFunc(func(ctx context.Context) (string, error) {
			if strings.HasSuffix(ctx.Value(pathKey{}).(string), "/slow") {
				select {
				case <-time.After(10 * time.Second):
				case <-ctx.Done():
					return "", ctx.Err()
				}
			}
			return "tok", nil
		}))
		defer f.Shutdown(context.Background())
		get := func(p string) error {
			_, err := f.Get(context.WithValue(t.Context(), pathKey{}, p), "http://a.test"+p)
			return err
		}
		var wg sync.WaitGroup
		start := time.Now()
		wg.Go(func() {
			if err := get("/slow"); err != nil {
				t.Error(err)
			}
		})
		synctest.Wait()
		for _, p := range []string{"/b", "/c"} {
			if err := get(p); err != nil {
				t.Error(err)
			}
		}
		if time.Since(start) != 0 {
			t.Errorf("calls needing no slow token took %v; want 0", time.Since(start))
		}
		wg.Wait()
		if want := []string{"/b", "/c", "/slow"}; !slices.Equal(order, want) {
			t.Errorf("order %q; want %q", order, want)
		}

		// Cancelled while the slow function waits: its caller gets
		// context.Canceled, and the Fetcher holds nothing.
		ctx, cancel := context.WithCancel(context.WithValue(t.Context(), pathKey{}, "/slow"))
		time.AfterFunc(time.Second, cancel)
		if _, err := f.Get(ctx, "http://a.test/slow"); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: err %v; want context.Canceled", err)
		}
		if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
			t.Errorf("after: %d in flight, %d waiting; want 0, 0", s.InFlight, s.Waiting)
		}
	})
}

type pathKey struct{}
