package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
	"golang.org/x/time/rate"
)

// redirectTo redirects every request to the same path on host.
func redirectTo(host string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+host+r.URL.Path, http.StatusFound)
	}
}

// after answers "ok" after d.
func after(d time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d)
		w.Write([]byte("ok"))
	}
}

// mostWithin returns the most times that fall in any window [t, t+span).
func mostWithin(times []time.Time, span time.Duration) int {
	most := 0
	for _, start := range times {
		n := 0
		for _, t := range times {
			if !t.Before(start) && t.Before(start.Add(span)) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// hostRefs returns the references held to f's hosts.
func hostRefs(f *Fetcher) int32 {
	var n int32
	for i := range f.gates.hosts.shards {
		sh := &f.gates.hosts.shards[i]
		sh.mu.Lock()
		for _, h := range sh.m {
			n += h.refs.Load()
		}
		sh.mu.Unlock()
	}
	return n
}

// checkIdle fails t unless f holds no slot and no host reference.
func checkIdle(t *testing.T, f *Fetcher) {
	t.Helper()
	if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
		t.Errorf("InFlight %d, Waiting %d; want 0, 0", s.InFlight, s.Waiting)
	}
	if n := hostRefs(f); n != 0 {
		t.Errorf("%d host references left; want 0", n)
	}
}

// The test: hosts a0…a7 redirect every request to b, which like
// every host is capped at 1 request in flight and 5 a second with a burst
// of 2. b must never see more than that, though the a hosts together could
// send it 8 at once at 40 a second.
func TestRedirectPassesHostGates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := count(after(50 * time.Millisecond))
		hosts := map[string]http.Handler{"b.test": b}
		var urls []string
		for i := range 8 {
			a := fmt.Sprintf("a%d.test", i)
			hosts[a] = redirectTo("b.test")
			for j := range 5 {
				urls = append(urls, fmt.Sprintf("http://%s/%d", a, j))
			}
		}
		const perSecond, burst = 5, 2
		f := newMem(t, byHost(hosts), WithConcurrency(8), WithHostConcurrency(1), WithHostRate(perSecond, burst))
		for _, r := range f.GetAll(t.Context(), urls) {
			want := "http://b.test" + urls[r.Index][len("http://a0.test"):]
			if r.Err != nil || r.FinalURL != want || string(r.Body) != "ok" {
				t.Errorf("%s: FinalURL %q, body %q, err %v; want %s, ok", r.URL, r.FinalURL, r.Body, r.Err, want)
			}
		}
		if got := b.n.Load(); got != int64(len(urls)) {
			t.Errorf("b saw %d requests; want %d", got, len(urls))
		}
		if got := b.maxSeen.Load(); got > 1 {
			t.Errorf("b saw %d requests in flight at once; want at most 1", got)
		}
		if got := mostWithin(b.times(), time.Second); got > perSecond+burst {
			t.Errorf("b saw %d requests within a second; want at most %d", got, perSecond+burst)
		}
		checkIdle(t, f)
	})
}

// Hosts capped at one request each that redirect to each other, forever,
// end every call with ErrTooManyRedirects: each hop gives back its slot
// before it waits for the next host's, so no call holds one host while
// waiting for the other.
func TestRedirectPingPongDoesNotDeadlock(t *testing.T) {
	for _, conc := range []int{1, 2} {
		t.Run("concurrency "+strconv.Itoa(conc), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ping := func(to string) http.HandlerFunc {
					return func(w http.ResponseWriter, r *http.Request) {
						time.Sleep(10 * time.Millisecond)
						redirectTo(to)(w, r)
					}
				}
				client := memhttp.Client(byHost(map[string]http.Handler{"a.test": ping("b.test"), "b.test": ping("a.test")}))
				client.CheckRedirect = checkRedirect(5)
				f, err := New(WithClient(client), WithConcurrency(conc), WithHostConcurrency(1))
				if err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				for i := range 8 {
					wg.Go(func() {
						u := "http://" + []string{"a.test", "b.test"}[i%2] + "/"
						if _, err := f.Get(t.Context(), u); !errors.Is(err, ErrTooManyRedirects) {
							t.Errorf("%s: err = %v; want ErrTooManyRedirects", u, err)
						}
					})
				}
				wg.Wait()
				checkIdle(t, f)
			})
		})
	}
}

// A hop that its host's gates do not let through in time fails with an
// error naming the redirect and matching the deadline that ran out: a
// deadline of the caller's ends the call, the attempt's own lets it be
// retried. The call holds no slot while it waits.
func TestRedirectGatesRefuseInTime(t *testing.T) {
	onlyB := WithHostLimiter(func(host string) Limiter {
		if host == "b.test" {
			return rate.NewLimiter(PerMinute(1), 1)
		}
		return nil
	})
	retries := WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond})
	for _, tc := range []struct {
		name      string
		opts      []Option
		holdSlot  bool          // keep a response from b open, or else take b's one token
		deadline  time.Duration // the caller's; 0: none
		timeout   bool          // want ErrAttemptTimeout
		attempts  int64         // requests a redirects
		wantTaken time.Duration // how long the call takes, backoff aside
	}{
		{"slot, caller's deadline", []Option{WithHostConcurrency(1), retries}, true, time.Second, false, 1, time.Second},
		{"slot, attempt timeout", []Option{WithHostConcurrency(1), WithAttemptTimeout(time.Second), retries}, true, 0, true, 2, 2 * time.Second},
		{"rate, caller's deadline", []Option{onlyB, retries}, false, time.Second, false, 1, 0},
		{"rate, attempt timeout", []Option{onlyB, WithAttemptTimeout(time.Second), retries}, false, 0, true, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var redirected atomic.Int64
				a := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/direct" {
						ok(w, r)
						return
					}
					redirected.Add(1)
					redirectTo("b.test")(w, r)
				})
				f := newMem(t, byHost(map[string]http.Handler{"a.test": a, "b.test": http.HandlerFunc(ok)}), tc.opts...)
				resp, err := f.Do(mustGet(t, "http://b.test/"))
				if err != nil {
					t.Fatal(err)
				}
				if !tc.holdSlot {
					resp.Body.Close()
				}
				ctx := t.Context()
				if tc.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.deadline)
					defer cancel()
				}
				start := time.Now()
				done := make(chan error)
				go func() {
					_, err := f.Get(ctx, "http://a.test/x")
					done <- err
				}()
				synctest.Wait()
				if tc.holdSlot {
					// The call waits for b's slot, holding none of a's.
					if _, err := f.Get(t.Context(), "http://a.test/direct"); err != nil {
						t.Errorf("a while a redirect from it waits: %v", err)
					}
				}
				err = <-done
				taken := time.Since(start)
				if tc.holdSlot {
					resp.Body.Close()
				}
				if _, ok := errors.AsType[*hopError](err); !ok || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v; want a redirect error matching DeadlineExceeded", err)
				}
				if got := errors.Is(err, ErrAttemptTimeout); got != tc.timeout {
					t.Errorf("err = %v: errors.Is(err, ErrAttemptTimeout) = %v; want %v", err, got, tc.timeout)
				}
				if got := redirected.Load(); got != tc.attempts {
					t.Errorf("a redirected %d requests; want %d", got, tc.attempts)
				}
				if taken < tc.wantTaken || taken > tc.wantTaken+10*time.Millisecond {
					t.Errorf("the call took %v; want %v", taken, tc.wantTaken)
				}
				checkIdle(t, f)
			})
		})
	}
}

// A Fetcher given a client with WithClient follows redirects through its
// gates without modifying the client, and still asks the client's own
// CheckRedirect first, or net/http's default policy if it has none.
func TestRedirectWithClient(t *testing.T) {
	chain := byHost(map[string]http.Handler{
		"a.test": redirectTo("b.test"), "b.test": redirectTo("c.test"),
		"c.test": redirectTo("d.test"), "d.test": http.HandlerFunc(ok),
	})
	t.Run("own CheckRedirect", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var asked atomic.Int64
			policy := func(req *http.Request, via []*http.Request) error {
				asked.Add(1)
				if req.URL.Host == "d.test" && req.Header.Get("X-Last") != "" {
					return http.ErrUseLastResponse
				}
				return nil
			}
			client := &http.Client{Transport: &memhttp.Transport{Handler: chain}, CheckRedirect: policy}
			before := *client
			f, err := New(WithClient(client), WithHostConcurrency(1))
			if err != nil {
				t.Fatal(err)
			}
			if client.Transport != before.Transport || client.Jar != before.Jar || client.Timeout != before.Timeout ||
				reflect.ValueOf(client.CheckRedirect).Pointer() != reflect.ValueOf(policy).Pointer() {
				t.Error("New modified the client given to WithClient")
			}
			body, err := f.Get(t.Context(), "http://a.test/")
			if err != nil || string(body) != "ok" || asked.Load() != 3 {
				t.Errorf("Get = %q, %v, CheckRedirect asked %d times; want ok, nil, 3", body, err, asked.Load())
			}

			// ErrUseLastResponse hands back c's redirect, which holds c's
			// slot (and only it) until it is closed.
			req := mustGet(t, "http://a.test/")
			req.Header.Set("X-Last", "1")
			resp, err := f.Do(req)
			if err != nil || resp.StatusCode != http.StatusFound || resp.Request.URL.Host != "c.test" {
				t.Fatalf("Do = %v, %v; want c's 302", resp, err)
			}
			if s := f.Stats(); s.InFlight != 1 {
				t.Errorf("InFlight = %d with the body open; want 1", s.InFlight)
			}
			if _, err := f.Get(t.Context(), "http://d.test/"); err != nil {
				t.Errorf("d while c's redirect is open: %v", err)
			}
			resp.Body.Close()
			checkIdle(t, f)
		})
	})
	t.Run("no CheckRedirect", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			loop := count(redirectTo("a.test"))
			client := memhttp.Client(loop)
			f, err := New(WithClient(client), WithHostConcurrency(1))
			if err != nil {
				t.Fatal(err)
			}
			if client.CheckRedirect != nil {
				t.Error("New set the CheckRedirect of the client given to WithClient")
			}
			if _, err := f.Get(t.Context(), "http://a.test/"); err == nil || loop.n.Load() != 10 {
				t.Errorf("err = %v after %d requests; want net/http's default policy, 10 requests", err, loop.n.Load())
			}
			checkIdle(t, f)
		})
	})
}

// A redirect check in the request's context that refuses a hop fails the
// call with its error, without retrying and before the new host is asked;
// the check runs after the call has given back the old host's slot.
func TestRedirectCheckRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := count(redirectTo("b.test")), count(ok)
		f := newMem(t, byHost(map[string]http.Handler{"a.test": a, "b.test": b}), WithHostConcurrency(1),
			WithRetry(RetryPolicy{MaxAttempts: 3, Retryable: func(*http.Response, error) bool { return true }}))
		errNo := errors.New("disallowed")
		var inFlight int64 = -1
		ctx := withSendCheck(t.Context(), func(req *http.Request) error {
			inFlight = f.Stats().InFlight
			if req.URL.Host == "b.test" {
				return errNo
			}
			return nil
		})
		_, err := f.Get(ctx, "http://a.test/x")
		if !errors.Is(err, errNo) {
			t.Errorf("err = %v; want the check's error", err)
		}
		if _, ok := errors.AsType[*hopError](err); !ok {
			t.Errorf("err = %v; want it to name the redirect", err)
		}
		if a.n.Load() != 1 || b.n.Load() != 0 || inFlight != 0 {
			t.Errorf("a saw %d, b %d, InFlight during the check %d; want 1, 0, 0", a.n.Load(), b.n.Load(), inFlight)
		}
		checkIdle(t, f)
	})
}

// A redirected Do's body holds the slot of the host that answered, not of
// the host it was sent to, until it is closed.
func TestRedirectBodyHoldsFinalHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/direct" {
				ok(w, r)
				return
			}
			redirectTo("b.test")(w, r)
		}
		f := newMem(t, byHost(map[string]http.Handler{"a.test": http.HandlerFunc(a), "b.test": http.HandlerFunc(ok)}),
			WithHostConcurrency(1))
		resp, err := f.Do(mustGet(t, "http://a.test/x"))
		if err != nil || resp.Request.URL.String() != "http://b.test/x" {
			t.Fatalf("Do = %v, %v; want b's response", resp, err)
		}
		if _, err := f.Get(t.Context(), "http://a.test/direct"); err != nil {
			t.Errorf("a while b's body is open: %v", err)
		}
		got := make(chan error)
		go func() {
			_, err := f.Get(t.Context(), "http://b.test/")
			got <- err
		}()
		synctest.Wait()
		select {
		case err := <-got:
			t.Fatalf("b answered (%v) while the body holding its slot was open", err)
		default:
		}
		resp.Body.Close()
		if err := <-got; err != nil {
			t.Errorf("b after the body closed: %v", err)
		}
		checkIdle(t, f)
	})
}

// A Retry-After from the host a call was redirected to pauses that host,
// not the one the call was sent to; the retry starts again at the first.
func TestRedirectRetryAfterPausesFinalHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := count(redirectTo("b.test"))
		b := count(failing(1, http.StatusServiceUnavailable, http.Header{"Retry-After": {"2"}}))
		var paused []HostStats
		var f *Fetcher
		f = newMem(t, byHost(map[string]http.Handler{"a.test": a, "b.test": b}), WithHostConcurrency(1),
			WithHooks(Hooks{OnRetry: func(RetryInfo) { paused = f.Stats().Hosts }}))
		start := time.Now()
		body, err := f.Get(t.Context(), "http://a.test/")
		if err != nil || string(body) != "ok" {
			t.Fatalf("Get = %q, %v; want ok", body, err)
		}
		if len(paused) != 1 || paused[0].Host != "b.test" {
			t.Errorf("hosts paused = %v; want b.test only", paused)
		}
		if a.n.Load() != 2 || b.n.Load() != 2 || time.Since(start) != 2*time.Second {
			t.Errorf("a saw %d, b %d, in %v; want 2, 2, in 2s", a.n.Load(), b.n.Load(), time.Since(start))
		}
		checkIdle(t, f)
	})
}

// End to end on loopback, with the client New builds, which caps its
// connections per host as the Fetcher caps requests: hosts capped at one
// request each, redirecting to each other while taking requests of their
// own, serve every request. A hop closes the redirect before it waits for
// the next host: if it did not, the redirect's connection would stay busy
// while a request to its host, holding the slot the hop gave back, waited
// for that connection; with a call redirected the other way doing the
// same, the four would wait for each other until their deadlines.
func TestRedirectLoopback(t *testing.T) {
	var a, b *httptest.Server
	handler := func(other **httptest.Server) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/away" {
				http.Redirect(w, r, (*other).URL+"/here", http.StatusFound)
				return
			}
			time.Sleep(time.Millisecond)
			w.Write([]byte("ok"))
		}
	}
	ac, bc := count(handler(&b)), count(handler(&a))
	a, b = httptest.NewServer(ac), httptest.NewServer(bc)
	defer a.Close()
	defer b.Close()
	f, err := New(WithConcurrency(16), WithHostConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			path := []string{"/away", "/here"}[w%2]
			for i := range 40 {
				u := []*httptest.Server{a, b}[(w+i)%2].URL + path
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
				resp, err := f.Do(req)
				if err != nil {
					t.Errorf("%s: %v", u, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if ac.maxSeen.Load() > 1 || bc.maxSeen.Load() > 1 {
		t.Errorf("most in flight: a %d, b %d; want 1 each", ac.maxSeen.Load(), bc.maxSeen.Load())
	}
	checkIdle(t, f)
}

// A redirect from https to http, even to the same host, does not carry the
// first request's credentials in clear text: not the Fetcher's
// (WithBearerToken, WithHeader), nor the call's (Header), nor the caller's
// own request's. net/http alone would forward them, comparing host names
// only. A redirect that stays on https keeps them, as net/http does.
func TestRedirectDowngradeDropsCredentials(t *testing.T) {
	mustNew := func(t *testing.T, opts ...Option) *Fetcher {
		f, err := New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	type seen struct{ auth, cookie string }
	got := make(chan seen, 10)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("Authorization"), r.Header.Get("Cookie")}
	}))
	t.Cleanup(plain.Close)
	var secure *httptest.Server
	secure = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/down": // same host name, 127.0.0.1, other scheme and port
			http.Redirect(w, r, plain.URL+"/landed", http.StatusFound)
		case "/stay":
			http.Redirect(w, r, secure.URL+"/landed", http.StatusFound)
		default:
			got <- seen{r.Header.Get("Authorization"), r.Header.Get("Cookie")}
		}
	}))
	t.Cleanup(secure.Close)
	pool := x509.NewCertPool()
	pool.AddCert(secure.Certificate())
	tlsOpt := WithTLSConfig(&tls.Config{RootCAs: pool})

	for _, tc := range []struct {
		name string
		f    *Fetcher
		send func(f *Fetcher, url string) error
		keep seen // what a redirect that stays on https carries
	}{
		{"WithBearerToken and WithHeader", mustNew(t, tlsOpt, WithBearerToken("s3cret"), WithHeader("Cookie", "sid=1")),
			func(f *Fetcher, url string) error { _, err := f.Get(t.Context(), url); return err },
			seen{"Bearer s3cret", "sid=1"}},
		{"Header", mustNew(t, tlsOpt),
			func(f *Fetcher, url string) error {
				_, err := f.Get(t.Context(), url, Header("Authorization", "Bearer call"), Header("Cookie", "sid=2"))
				return err
			},
			seen{"Bearer call", "sid=2"}},
		{"Do", mustNew(t, tlsOpt),
			func(f *Fetcher, url string) error {
				req := mustGet(t, url)
				req.Header.Set("Authorization", "Basic dTpw")
				req.Header.Set("Cookie", "sid=3")
				resp, err := f.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				return err
			},
			seen{"Basic dTpw", "sid=3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.send(tc.f, secure.URL+"/down"); err != nil {
				t.Fatal(err)
			}
			if s := <-got; s != (seen{}) {
				t.Errorf("https to http: the http server saw Authorization %q, Cookie %q; want neither", s.auth, s.cookie)
			}
			if err := tc.send(tc.f, secure.URL+"/stay"); err != nil {
				t.Fatal(err)
			}
			if s := <-got; s != tc.keep {
				t.Errorf("https to https: the server saw %+v; want %+v", s, tc.keep)
			}
		})
	}
}

// A Location net/http reads as a path on the redirecting host but a
// browser reads as another host ("///other/p") is followed to that host,
// and, net/http having decided what to forward for the same host, without
// the first request's credentials.
func TestRedirectSlashesToOtherHostDropsCredentials(t *testing.T) {
	got := make(chan string, 1)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization") + "|" + r.Header.Get("Cookie")
	}))
	t.Cleanup(other.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(other.URL, "http://"))
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "///localhost:"+port+"/landed")
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(first.Close)
	f, err := New(WithBearerToken("s3cret"), WithHeader("Cookie", "sid=1"))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Fetch(t.Context(), first.URL+"/start")
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if want := "http://localhost:" + port + "/landed"; r.FinalURL != want {
		t.Errorf("FinalURL %q; want %q", r.FinalURL, want)
	}
	if s := <-got; s != "|" {
		t.Errorf("the other host saw Authorization|Cookie %q; want neither", s)
	}
}

// A redirect whose Location is no valid http(s) URL ("http://:80/x", a port
// out of range) is a refused redirect, as one to another scheme is: an
// error matching ErrTooManyRedirects, not ErrInvalidURL, which says the
// caller's own URL was bad and nothing was sent.
func TestRedirectToInvalidURLIsARefusedRedirect(t *testing.T) {
	for _, loc := range []string{"http://:80/x", "http://h:99999/x", "ftp://h/x"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusFound)
		}))
		defer srv.Close()
		for _, opt := range []Option{WithRetry(RetryPolicy{MaxAttempts: 1}), WithClient(&http.Client{})} {
			f, err := New(opt)
			if err != nil {
				t.Fatal(err)
			}
			r := f.Fetch(context.Background(), srv.URL+"/")
			if r.Attempts != 1 || errors.Is(r.Err, ErrInvalidURL) || !errors.Is(r.Err, ErrTooManyRedirects) || !strings.Contains(r.Err.Error(), loc) {
				t.Errorf("redirect to %q: %d attempts, %v; want 1 attempt and a refused redirect (ErrTooManyRedirects, not ErrInvalidURL) naming it", loc, r.Attempts, r.Err)
			}
			if st := f.Stats(); st.Failed.Other != 1 {
				t.Errorf("redirect to %q: Stats.Failed %+v; want it counted as Other, as other refused redirects", loc, st.Failed)
			}
		}
	}
}
