package fetch

// An audit of every function of the caller's that the Fetcher calls: a
// panic in it must fail the call with a *PanicError and give back what the
// call holds (slots, its registration that Shutdown waits for), and must
// never crash the process from one of the library's own goroutines.
//
// A panic on a library goroutine kills the test binary, and a lock left held
// hangs it, so each scenario runs in a child process (this binary, re-run
// with panicAuditEnv naming the scenario), under a watchdog that dumps the
// goroutines and exits if the scenario hangs. Inside, each scenario runs in
// a synctest bubble with the in-memory transport.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
)

const panicAuditEnv = "FETCH_PANIC_AUDIT"

func TestPanicAudit(t *testing.T) {
	if os.Getenv(panicAuditEnv) != "" {
		t.Skip("in a child")
	}
	names := make([]string, 0, len(panicAudits))
	for name := range panicAudits {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestPanicAuditChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), panicAuditEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestPanicAuditChild") {
				if len(out) > 6000 {
					out = append(out[:6000], "\n[...]"...)
				}
				t.Errorf("scenario %s: %v\n%s", name, err, out)
			}
		})
	}
}

func TestPanicAuditChild(t *testing.T) {
	name := os.Getenv(panicAuditEnv)
	if name == "" {
		t.Skip("run by TestPanicAudit")
	}
	scenario := panicAudits[name]
	if scenario == nil {
		t.Fatalf("no scenario %q", name)
	}
	// A watchdog, not a synchronisation: a scenario that hangs (a lock
	// left held, a slot never given back) is reported, with every stack.
	watchdog := time.AfterFunc(20*time.Second, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "scenario %s hung:\n%s\n", name, buf)
		os.Exit(3)
	})
	defer watchdog.Stop()
	synctest.Test(t, scenario)
}

// auditClean checks that f holds nothing: no global slot, no call
// registered, and Shutdown has nothing to wait for.
func auditClean(t *testing.T, f *Fetcher) {
	t.Helper()
	f.gates.slots.mu.Lock()
	taken := f.gates.slots.taken
	f.gates.slots.mu.Unlock()
	if taken != 0 {
		t.Errorf("%d global slots still held", taken)
	}
	if n := f.active.Load(); n != 0 {
		t.Errorf("%d calls still registered", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown would wait: %v", err)
	}
}

// wantPanicErr checks that err is an *Error wrapping a *PanicError whose
// value is "boom", and that it names what panicked.
func wantPanicErr(t *testing.T, what string, err error, names string) {
	t.Helper()
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" {
		t.Errorf("%s: error %v; want a *PanicError of \"boom\"", what, firstLine(err))
		return
	}
	if _, ok := err.(*Error); !ok {
		t.Errorf("%s: error %T; want an *Error", what, err)
	}
	if names != "" && !strings.Contains(err.Error(), names) {
		t.Errorf("%s: error %q does not name %s", what, firstLine(err), names)
	}
}

func firstLine(err error) string {
	if err == nil {
		return "<nil>"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// safely runs fn, returning what it panicked with.
func safely(fn func()) (panicked any) {
	defer func() { panicked = recover() }()
	fn()
	return nil
}

// auditDo checks that a Do of req through f fails with the panic, as an
// error rather than a panic, and that f holds nothing after.
func auditDo(t *testing.T, f *Fetcher, req *http.Request, names string) {
	t.Helper()
	var err error
	if v := safely(func() {
		var resp *http.Response
		resp, err = f.Do(req)
		if resp != nil {
			resp.Body.Close()
		}
	}); v != nil {
		t.Errorf("Do panicked: %v", v)
	} else {
		wantPanicErr(t, "Do", err, names)
	}
	auditClean(t, f)
}

// auditGetAll checks that every URL of a GetAll through f fails with the
// panic, and that f holds nothing after.
func auditGetAll(t *testing.T, f *Fetcher, urls []string, names string) {
	t.Helper()
	var results []Result
	if v := safely(func() { results = f.GetAll(t.Context(), urls) }); v != nil {
		t.Errorf("GetAll panicked: %v", v)
	}
	for _, r := range results {
		wantPanicErr(t, "GetAll "+r.URL, r.Err, names)
	}
	auditClean(t, f)
}

var auditURLs = []string{"http://a.test/1", "http://b.test/2", "http://a.test/3"}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// flaky answers 503 to the first request of each path, then "ok".
func flaky() http.HandlerFunc {
	var seen = make(chan map[string]bool, 1)
	seen <- map[string]bool{}
	return func(w http.ResponseWriter, r *http.Request) {
		m := <-seen
		first := !m[r.URL.Path]
		m[r.URL.Path] = true
		seen <- m
		if first {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}
}

// hooked returns a Fetcher whose hook set by set panics.
func hooked(t *testing.T, h http.Handler, set func(*Hooks)) *Fetcher {
	var hooks Hooks
	set(&hooks)
	return newMem(t, h, WithHooks(hooks), quickRetry, WithConcurrency(2))
}

// panicBody is a request body whose Close panics; GetBody panics from its
// panicAt'th call on (0: never).
type panicBody struct {
	io.Reader
	closePanics bool
}

func (b *panicBody) Close() error {
	if b.closePanics {
		panic("boom")
	}
	return nil
}

func bodyRequest(t *testing.T, method, u string, getBodyPanicsAt int32, closePanics bool) *http.Request {
	req, err := http.NewRequest(method, u, &panicBody{Reader: strings.NewReader("payload"), closePanics: closePanics})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len("payload"))
	var calls atomic.Int32
	req.GetBody = func() (io.ReadCloser, error) {
		if n := calls.Add(1); getBodyPanicsAt > 0 && n >= getBodyPanicsAt {
			panic("boom")
		}
		return io.NopCloser(strings.NewReader("payload")), nil
	}
	return req
}

// panicHandler is a slog.Handler whose Handle panics.
type panicHandler struct{}

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("boom") }
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h panicHandler) WithGroup(string) slog.Handler           { return h }

// auditFrontier is a memory frontier with a method of it made to panic.
type auditFrontier struct {
	Frontier
	nextPanics, closePanics, donePanics bool
	addPanics, seenPanics               func(string) bool
	failed                              atomic.Int32
}

func (a *auditFrontier) Add(e CrawlEntry) (bool, error) {
	if a.addPanics != nil && a.addPanics(e.URL) {
		panic("boom")
	}
	return a.Frontier.Add(e)
}

func (a *auditFrontier) Seen(key string) bool {
	if a.seenPanics != nil && a.seenPanics(key) {
		panic("boom")
	}
	return a.Frontier.Seen(key)
}

func (a *auditFrontier) Next(ctx context.Context) (CrawlEntry, bool, error) {
	if a.nextPanics {
		panic("boom")
	}
	return a.Frontier.Next(ctx)
}

func (a *auditFrontier) Done(e CrawlEntry) {
	if a.donePanics {
		panic("boom")
	}
	a.Frontier.Done(e)
}

func (a *auditFrontier) Close() {
	a.Frontier.Close()
	if a.closePanics {
		panic("boom")
	}
}

func (a *auditFrontier) Failed(CrawlEntry) { a.failed.Add(1) }

// site serves /from, redirecting to /to, and pages linking nowhere.
func site() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/from" {
			http.Redirect(w, r, "/to", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<p>page</p>"))
	}
}

// crawlAll runs a crawl and returns its pages' errors by URL; body, if not
// nil, runs in the loop body.
func crawlAll(t *testing.T, c *Crawler, seeds []string, body func(*Page)) map[string]error {
	t.Helper()
	errs := map[string]error{}
	for p := range c.Run(t.Context(), seeds...) {
		errs[p.URL] = p.Err
		if body != nil {
			body(p)
		}
	}
	return errs
}

// wantRaised checks that fn panicked with a *PanicError of "boom", raised on
// the caller's goroutine as the documentation says.
func wantRaised(t *testing.T, what string, v any) {
	t.Helper()
	pe, ok := v.(*PanicError)
	if !ok || pe.Value != "boom" {
		t.Errorf("%s: panicked with %v (%T); want a *PanicError of \"boom\" raised on the caller's goroutine", what, v, v)
	}
}

func collect[T any](seq iter.Seq[T]) (out []T) {
	for v := range seq {
		out = append(out, v)
	}
	return out
}

var panicAudits = map[string]func(t *testing.T){
	// Hooks: recovered by runHook.
	"Hooks.OnCall": func(t *testing.T) {
		set := func(h *Hooks) {
			h.OnCall = func(context.Context, CallInfo) context.Context { panic("boom") }
		}
		auditDo(t, hooked(t, http.HandlerFunc(ok), set), mustGet(t, "http://a.test/"), "hook")
		auditGetAll(t, hooked(t, http.HandlerFunc(ok), set), auditURLs, "hook")
	},
	"Hooks.OnAttempt": func(t *testing.T) {
		set := func(h *Hooks) { h.OnAttempt = func(AttemptInfo) { panic("boom") } }
		auditDo(t, hooked(t, http.HandlerFunc(ok), set), mustGet(t, "http://a.test/"), "hook")
		auditGetAll(t, hooked(t, http.HandlerFunc(ok), set), auditURLs, "hook")
	},
	"Hooks.OnRetry": func(t *testing.T) {
		set := func(h *Hooks) { h.OnRetry = func(RetryInfo) { panic("boom") } }
		auditDo(t, hooked(t, flaky(), set), mustGet(t, "http://a.test/"), "hook")
		auditGetAll(t, hooked(t, flaky(), set), auditURLs, "hook")
	},
	"Hooks.OnDone": func(t *testing.T) {
		set := func(h *Hooks) { h.OnDone = func(DoneInfo) { panic("boom") } }
		auditDo(t, hooked(t, http.HandlerFunc(ok), set), mustGet(t, "http://a.test/"), "hook")
		auditGetAll(t, hooked(t, http.HandlerFunc(ok), set), auditURLs, "hook")
	},
	// The transport: recovered by recoverSend.
	"RoundTripper": func(t *testing.T) {
		rt := roundTripperFunc(func(*http.Request) (*http.Response, error) { panic("boom") })
		mk := func() *Fetcher { return newMem(t, nil, WithClient(&http.Client{Transport: rt})) }
		auditDo(t, mk(), mustGet(t, "http://a.test/"), "sending the request")
		auditGetAll(t, mk(), auditURLs, "sending the request")
	},
	"WithTransportWrapper's RoundTripper": func(t *testing.T) {
		f, err := New(WithTransportWrapper(func(http.RoundTripper) http.RoundTripper {
			return roundTripperFunc(func(*http.Request) (*http.Response, error) { panic("boom") })
		}))
		if err != nil {
			t.Fatal(err)
		}
		auditDo(t, f, mustGet(t, "http://a.test/"), "sending the request")
	},
	"WithClient.CheckRedirect": func(t *testing.T) {
		mk := func() *Fetcher {
			c := memhttp.Client(site())
			c.CheckRedirect = func(*http.Request, []*http.Request) error { panic("boom") }
			return newMem(t, nil, WithClient(c))
		}
		auditDo(t, mk(), mustGet(t, "http://a.test/from"), "sending the request")
		auditGetAll(t, mk(), []string{"http://a.test/from", "http://b.test/from"}, "sending the request")
	},
	"WithClient.Jar.Cookies": func(t *testing.T) {
		mk := func() *Fetcher {
			c := memhttp.Client(http.HandlerFunc(ok))
			c.Jar = panicJar{}
			return newMem(t, nil, WithClient(c))
		}
		auditDo(t, mk(), mustGet(t, "http://a.test/"), "sending the request")
		auditGetAll(t, mk(), auditURLs, "sending the request")
	},
	// Rate gates: recovered by limiterWait.
	"Limiter.Wait": func(t *testing.T) {
		l := limiterFunc(func(context.Context) error { panic("boom") })
		auditDo(t, newMem(t, http.HandlerFunc(ok), WithLimiter(l)), mustGet(t, "http://a.test/"), "Limiter.Wait")
		auditGetAll(t, newMem(t, http.HandlerFunc(ok), WithLimiter(l)), auditURLs, "Limiter.Wait")
	},
	"WithHostLimiter's Limiter.Wait": func(t *testing.T) {
		l := limiterFunc(func(context.Context) error { panic("boom") })
		mk := func() *Fetcher {
			return newMem(t, http.HandlerFunc(ok), WithHostLimiter(func(string) Limiter { return l }))
		}
		auditDo(t, mk(), mustGet(t, "http://a.test/"), "Limiter.Wait")
		auditGetAll(t, mk(), auditURLs, "Limiter.Wait")
	},
	// DEFECT: the factory ran under its host shard's lock, left held: the
	// next request to any host of that shard hung, a Stream hung, and a
	// crawl's reader goroutine crashed the process.
	"WithHostLimiter factory": func(t *testing.T) {
		factory := WithHostLimiter(func(host string) Limiter {
			if host == "bad.test" {
				panic("boom")
			}
			return limiterFunc(func(context.Context) error { return nil })
		})
		f := newMem(t, http.HandlerFunc(ok), factory, WithConcurrency(2))
		for range 2 { // the second asks the factory again, not left locked out of the host's shard
			var err error
			if v := safely(func() { _, err = f.Get(t.Context(), "http://bad.test/") }); v != nil {
				t.Errorf("Get panicked: %v", v)
			} else {
				wantPanicErr(t, "Get", err, "WithHostLimiter")
			}
		}
		if _, err := f.Get(t.Context(), "http://good.test/"); err != nil {
			t.Errorf("Get of another host: %v", err)
		}
		auditDo(t, f, mustGet(t, "http://bad.test/"), "WithHostLimiter")

		f = newMem(t, http.HandlerFunc(ok), factory, WithConcurrency(2))
		urls := []string{"http://good.test/1", "http://bad.test/2", "http://good.test/3"}
		var res []Result
		if v := safely(func() { res = collect(f.Stream(t.Context(), slices.Values(urls))) }); v != nil {
			t.Errorf("Stream panicked: %v", v)
		}
		if len(res) != len(urls) {
			t.Errorf("Stream yielded %d results; want %d", len(res), len(urls))
		}
		for _, r := range res {
			if strings.Contains(r.URL, "bad") {
				wantPanicErr(t, "Stream "+r.URL, r.Err, "WithHostLimiter")
			} else if r.Err != nil {
				t.Errorf("Stream %s: %v", r.URL, r.Err)
			}
		}
		auditClean(t, f)

		f = newMem(t, http.HandlerFunc(ok), factory, WithConcurrency(2))
		c, err := NewCrawler(f, CrawlIgnoreRobots())
		if err != nil {
			t.Fatal(err)
		}
		errs := crawlAll(t, c, []string{"http://good.test/", "http://bad.test/"}, nil)
		wantPanicErr(t, "crawl of bad.test", errs["http://bad.test/"], "WithHostLimiter")
		if err := errs["http://good.test/"]; err != nil {
			t.Errorf("crawl of good.test: %v", err)
		}
		auditClean(t, f)
	},
	// Classifiers.
	"RetryPolicy.Retryable": func(t *testing.T) {
		p := WithRetry(RetryPolicy{Retryable: func(*http.Response, error) bool { panic("boom") }})
		auditDo(t, newMem(t, http.HandlerFunc(ok), p), mustGet(t, "http://a.test/"), "Retryable")
		auditGetAll(t, newMem(t, flaky(), p), auditURLs, "Retryable")
	},
	// DEFECT: IsFailure ran unrecovered in observe: Do's caller got the
	// panic with the slot and the registration kept (Shutdown waited for
	// ever), and a batch's worker crashed the process.
	"CircuitBreaker.IsFailure": func(t *testing.T) {
		b := WithCircuitBreaker(CircuitBreaker{IsFailure: func(*http.Response, error) bool { panic("boom") }})
		auditDo(t, newMem(t, http.HandlerFunc(ok), b, WithConcurrency(1)), mustGet(t, "http://a.test/"), "IsFailure")
		auditGetAll(t, newMem(t, flaky(), b, quickRetry, WithConcurrency(2)), auditURLs, "IsFailure")

		// The breaker was told (neither way): a half-open breaker's probe
		// is not left out for ever.
		var panics atomic.Bool
		f := newMem(t, failing(1, http.StatusInternalServerError, nil), WithRetry(RetryPolicy{MaxAttempts: 1}),
			WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1, OpenFor: time.Second, IsFailure: func(resp *http.Response, err error) bool {
				if panics.Load() {
					panic("boom")
				}
				return DefaultIsFailure(resp, err)
			}}))
		if _, err := f.Get(t.Context(), "http://a.test/"); err == nil {
			t.Fatal("first Get succeeded")
		}
		time.Sleep(2 * time.Second) // half-open
		panics.Store(true)
		if _, err := f.Get(t.Context(), "http://a.test/"); err == nil {
			t.Error("the probe whose IsFailure panicked succeeded")
		}
		panics.Store(false)
		if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
			t.Errorf("the next probe: %v (the breaker waits for ever for the probe whose IsFailure panicked)", err)
		}
		auditClean(t, f)
	},
	"WithBearerTokenFunc": func(t *testing.T) {
		tok := WithBearerTokenFunc(func(context.Context) (string, error) { panic("boom") })
		auditDo(t, newMem(t, http.HandlerFunc(ok), tok), mustGet(t, "http://a.test/"), "WithBearerTokenFunc")
		auditGetAll(t, newMem(t, http.HandlerFunc(ok), tok), auditURLs, "WithBearerTokenFunc")
	},
	// DEFECT: GetBody ran, on a retry, before the attempt's recovery was
	// deferred: Do's caller got the panic with the slot and registration
	// kept, and DoAll's worker crashed the process.
	"Request.GetBody": func(t *testing.T) {
		f := newMem(t, flaky(), quickRetry, WithConcurrency(1))
		auditDo(t, f, bodyRequest(t, http.MethodPut, "http://a.test/", 1, false), "GetBody")
		f = newMem(t, flaky(), quickRetry, WithConcurrency(2))
		// DoAll asks GetBody for the body of its own copy (call 1), then
		// for the retry's (call 2).
		reqs := []*http.Request{bodyRequest(t, http.MethodPut, "http://a.test/1", 2, false), bodyRequest(t, http.MethodPut, "http://b.test/2", 2, false)}
		var res []Result
		if v := safely(func() { res = f.DoAll(t.Context(), reqs) }); v != nil {
			t.Errorf("DoAll panicked: %v", v)
		}
		for _, r := range res {
			wantPanicErr(t, "DoAll "+r.URL, r.Err, "GetBody")
		}
		auditClean(t, f)
	},
	// DEFECT: the Close of a body never sent ran unrecovered: in finish,
	// after the call's slot but before its registration was given back
	// (Shutdown waited for ever); for a request refused by validation, on
	// a DoAll worker, crashing the process.
	"Request.Body.Close": func(t *testing.T) {
		refuse := WithLimiter(limiterFunc(func(context.Context) error { return ErrLimiterUnavailable }))
		f := newMem(t, http.HandlerFunc(ok), refuse)
		var err error
		if v := safely(func() { _, err = f.Do(bodyRequest(t, http.MethodPut, "http://a.test/", 0, true)) }); v != nil {
			t.Errorf("Do panicked: %v", v)
		} else {
			wantPanicErr(t, "Do", err, "closing the request body")
			if !errors.Is(err, ErrLimiterUnavailable) {
				t.Errorf("Do: %v; want the limiter's refusal too", firstLine(err))
			}
		}
		auditClean(t, f)

		f = newMem(t, http.HandlerFunc(ok), WithConcurrency(2))
		// DoAll sends a body of its own, from GetBody, and closes it
		// unsent: the worker does.
		bad := bodyRequest(t, http.MethodPut, "http://a.test/", 0, false)
		bad.GetBody = func() (io.ReadCloser, error) {
			return &panicBody{Reader: strings.NewReader("payload"), closePanics: true}, nil
		}
		bad.URL = &url.URL{Scheme: "ftp", Host: "a.test", Path: "/"} // refused before it is sent
		var res []Result
		if v := safely(func() { res = f.DoAll(t.Context(), []*http.Request{bad}) }); v != nil {
			t.Errorf("DoAll panicked: %v", v)
		}
		for _, r := range res {
			wantPanicErr(t, "DoAll "+r.URL, r.Err, "closing the request body")
			if !errors.Is(r.Err, ErrInvalidURL) {
				t.Errorf("DoAll: %v; want ErrInvalidURL too", firstLine(r.Err))
			}
		}
		auditClean(t, f)
	},
	// DEFECT: the logger's handler ran unrecovered: as a call failed, after
	// its slot but before its registration was given back, and on a batch
	// worker, crashing the process.
	"WithLogger's slog.Handler": func(t *testing.T) {
		log := WithLogger(slog.New(panicHandler{}))
		auditDo(t, newMem(t, flaky(), log, quickRetry), mustGet(t, "http://a.test/"), "logger")
		auditGetAll(t, newMem(t, flaky(), log, quickRetry, WithConcurrency(2)), auditURLs, "logger")
		auditGetAll(t, newMem(t, http.NotFoundHandler(), log, WithConcurrency(2)), auditURLs, "logger")
	},
	// Handlers and request builders of the streaming calls.
	"Handle handler": func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithConcurrency(2))
		newReq := func(ctx context.Context, u string) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		}
		for h := range Handle(t.Context(), f, slices.Values(auditURLs), newReq, func(string, *http.Response) (int, error) { panic("boom") }) {
			wantPanicErr(t, "Handle "+h.URL, h.Err, "reading the body")
		}
		auditClean(t, f)
		f = newMem(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("{}")) }))
		if _, err := GetJSON[panicJSON](t.Context(), f, "http://a.test/"); err == nil {
			t.Error("GetJSON of a type whose UnmarshalJSON panics succeeded")
		} else {
			wantPanicErr(t, "GetJSON", err, "reading the body")
		}
		auditClean(t, f)
	},
	"Handle newRequest (raised on the caller's goroutine)": func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithConcurrency(2))
		newReq := func(context.Context, string) (*http.Request, error) { panic("boom") }
		wantRaised(t, "Handle", safely(func() {
			collect(Handle(t.Context(), f, slices.Values(auditURLs), newReq, func(string, *http.Response) (int, error) { return 0, nil }))
		}))
		auditClean(t, f)
	},
	"StreamFunc newRequest (raised on the caller's goroutine)": func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithConcurrency(2))
		newReq := func(context.Context, string) (*http.Request, error) { panic("boom") }
		wantRaised(t, "StreamFunc", safely(func() { collect(StreamFunc(t.Context(), f, slices.Values(auditURLs), newReq)) }))
		auditClean(t, f)
	},
	"StreamRequests GetBody (raised on the caller's goroutine)": func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithConcurrency(2))
		reqs := []*http.Request{bodyRequest(t, http.MethodPut, "http://a.test/", 1, false)}
		wantRaised(t, "StreamRequests", safely(func() { collect(f.StreamRequests(t.Context(), slices.Values(reqs))) }))
		auditClean(t, f)
	},
	"Stream input iter.Seq (raised on the caller's goroutine)": func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithConcurrency(2))
		in := func(yield func(string) bool) {
			if yield("http://a.test/") {
				panic("boom")
			}
		}
		wantRaised(t, "Stream", safely(func() { collect(f.Stream(t.Context(), in)) }))
		auditClean(t, f)
	},
	"RequestOption (raised on the caller's goroutine)": func(t *testing.T) {
		opt := RequestOption(func(*http.Request) error { panic("boom") })
		f := newMem(t, http.HandlerFunc(ok), WithConcurrency(2))
		if v := safely(func() { f.GetAll(t.Context(), auditURLs, opt) }); v != "boom" {
			t.Errorf("GetAll: panicked with %v; want the option's panic raised on the caller's goroutine", v)
		}
		if v := safely(func() { f.GetAllFailFast(t.Context(), auditURLs, opt) }); v != "boom" {
			t.Errorf("GetAllFailFast: panicked with %v; want the option's panic raised on the caller's goroutine", v)
		}
		if v := safely(func() { f.Get(t.Context(), "http://a.test/", opt) }); v != "boom" {
			t.Errorf("Get: panicked with %v; want the option's panic", v)
		}
		wantRaised(t, "Stream", safely(func() { collect(f.Stream(t.Context(), slices.Values(auditURLs), opt)) }))
		auditClean(t, f)
	},
	"Stream loop body": func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithConcurrency(2))
		if v := safely(func() {
			for range f.Stream(t.Context(), slices.Values(auditURLs)) {
				panic("boom")
			}
		}); v != "boom" {
			t.Errorf("Stream: panicked with %v; want the loop body's", v)
		}
		auditClean(t, f)
	},
	// The crawler's functions.
	"CrawlKey and CrawlScope on a redirect": func(t *testing.T) {
		f := newMem(t, site(), WithConcurrency(2))
		c, err := NewCrawler(f, CrawlIgnoreRobots(), CrawlKey(func(u *url.URL) string {
			if u.Path == "/to" {
				panic("boom")
			}
			return NormalizeURL(u)
		}))
		if err != nil {
			t.Fatal(err)
		}
		errs := crawlAll(t, c, []string{"http://a.test/from", "http://a.test/page"}, nil)
		wantPanicErr(t, "crawl via CrawlKey", errs["http://a.test/from"], "")
		if err := errs["http://a.test/page"]; err != nil {
			t.Errorf("crawl of /page: %v", err)
		}
		auditClean(t, f)

		f = newMem(t, site(), WithConcurrency(2))
		c, err = NewCrawler(f, CrawlIgnoreRobots(), CrawlScope(func(u *url.URL) bool {
			if u.Path == "/to" {
				panic("boom")
			}
			return true
		}))
		if err != nil {
			t.Fatal(err)
		}
		errs = crawlAll(t, c, []string{"http://a.test/from"}, nil)
		wantPanicErr(t, "crawl via CrawlScope", errs["http://a.test/from"], "")
		auditClean(t, f)
	},
	// Reported, not fixed: a CrawlKey or CrawlScope that panics on a seed
	// or a followed link panics on the caller's goroutine (Run, Follow),
	// holding nothing.
	"CrawlKey on a seed and a link (raised on the caller's goroutine)": func(t *testing.T) {
		key := CrawlKey(func(u *url.URL) string {
			if u.Path == "/boom" {
				panic("boom")
			}
			return NormalizeURL(u)
		})
		f := newMem(t, site(), WithConcurrency(2))
		c, err := NewCrawler(f, CrawlIgnoreRobots(), key)
		if err != nil {
			t.Fatal(err)
		}
		if v := safely(func() { crawlAll(t, c, []string{"http://a.test/boom"}, nil) }); v != "boom" {
			t.Errorf("Run: panicked with %v", v)
		}
		if v := safely(func() {
			crawlAll(t, c, []string{"http://a.test/page"}, func(p *Page) { p.Follow("/boom") })
		}); v != "boom" {
			t.Errorf("Follow: panicked with %v", v)
		}
		auditClean(t, f)
	},
	"Frontier.Seen on a redirect": func(t *testing.T) {
		f := newMem(t, site(), WithConcurrency(2))
		fr := &auditFrontier{Frontier: NewMemoryFrontier(0), seenPanics: func(string) bool { return true }}
		c, err := NewCrawler(f, CrawlIgnoreRobots(), CrawlFrontier(fr))
		if err != nil {
			t.Fatal(err)
		}
		errs := crawlAll(t, c, []string{"http://a.test/from"}, nil)
		wantPanicErr(t, "crawl via Seen", errs["http://a.test/from"], "")
		auditClean(t, f)
	},
	// DEFECT: Next ran on the crawl's reader goroutine, unrecovered: the
	// process crashed.
	"Frontier.Next": func(t *testing.T) {
		f := newMem(t, site(), WithConcurrency(2))
		fr := &auditFrontier{Frontier: NewMemoryFrontier(0), nextPanics: true}
		c, err := NewCrawler(f, CrawlIgnoreRobots(), CrawlFrontier(fr))
		if err != nil {
			t.Fatal(err)
		}
		var errs []error
		if v := safely(func() {
			for p := range c.Run(t.Context(), "http://a.test/page") {
				errs = append(errs, p.Err)
			}
		}); v != nil {
			t.Errorf("Run panicked: %v", v)
		}
		if len(errs) != 1 {
			t.Fatalf("crawl yielded %d pages; want 1, the frontier's failure", len(errs))
		}
		wantPanicErr(t, "crawl", errs[0], "Frontier.Next")
		auditClean(t, f)
	},
	// DEFECT: with CrawlMaxPages, a panic in Add left the crawl's page
	// turn taken: the panic reached Follow's caller, and every later Follow
	// hung. Now the URL's page carries it, as for an error of Add's.
	"Frontier.Add": func(t *testing.T) {
		for _, opts := range [][]CrawlOption{{CrawlMaxPages(10)}, nil} {
			f := newMem(t, site(), WithConcurrency(2))
			fr := &auditFrontier{Frontier: NewMemoryFrontier(0), addPanics: func(u string) bool { return strings.HasSuffix(u, "/boom") }}
			c, err := NewCrawler(f, append(opts, CrawlIgnoreRobots(), CrawlFrontier(fr))...)
			if err != nil {
				t.Fatal(err)
			}
			var errs map[string]error
			if v := safely(func() {
				errs = crawlAll(t, c, []string{"http://a.test/page", "http://a.test/boom"}, func(p *Page) {
					if p.URL == "http://a.test/page" {
						if v := safely(func() { p.Follow("/boom2/boom") }); v != nil {
							t.Errorf("Follow panicked: %v", v)
						}
						p.Follow("/next")
					}
				})
			}); v != nil {
				t.Errorf("Run panicked: %v", v)
			}
			wantPanicErr(t, "seed refused by Add", errs["http://a.test/boom"], "Frontier.Add")
			wantPanicErr(t, "link refused by Add", errs["http://a.test/boom2/boom"], "Frontier.Add")
			if err, ok := errs["http://a.test/next"]; !ok || err != nil {
				t.Errorf("the link followed after Add panicked: %v (fetched %v)", err, ok)
			}
			auditClean(t, f)
		}
	},
	// Raised on the caller's goroutine, the crawl's goroutines waited for.
	"Frontier.Done and Close (raised on the caller's goroutine)": func(t *testing.T) {
		for _, fr := range []*auditFrontier{
			{Frontier: NewMemoryFrontier(0), donePanics: true},
			{Frontier: NewMemoryFrontier(0), closePanics: true},
		} {
			f := newMem(t, site(), WithConcurrency(2))
			c, err := NewCrawler(f, CrawlIgnoreRobots(), CrawlFrontier(fr))
			if err != nil {
				t.Fatal(err)
			}
			if v := safely(func() { crawlAll(t, c, auditURLs, nil) }); v != "boom" {
				t.Errorf("Run: panicked with %v", v)
			}
			synctest.Wait()
			auditClean(t, f)
		}
		// Close panicking as the loop breaks early, pages still coming.
		f := newMem(t, site(), WithConcurrency(2))
		fr := &auditFrontier{Frontier: NewMemoryFrontier(0), closePanics: true}
		c, err := NewCrawler(f, CrawlIgnoreRobots(), CrawlFrontier(fr))
		if err != nil {
			t.Fatal(err)
		}
		var seeds []string
		for i := range 20 {
			seeds = append(seeds, fmt.Sprintf("http://h%d.test/", i))
		}
		if v := safely(func() {
			for range c.Run(t.Context(), seeds...) {
				break
			}
		}); v != "boom" {
			t.Errorf("Run: panicked with %v", v)
		}
		synctest.Wait()
		auditClean(t, f)
	},
	"Crawl loop body": func(t *testing.T) {
		f := newMem(t, site(), WithConcurrency(2))
		fr := &auditFrontier{Frontier: NewMemoryFrontier(0)}
		c, err := NewCrawler(f, CrawlIgnoreRobots(), CrawlFrontier(fr))
		if err != nil {
			t.Fatal(err)
		}
		if v := safely(func() { crawlAll(t, c, auditURLs, func(*Page) { panic("boom") }) }); v != "boom" {
			t.Errorf("Run: panicked with %v", v)
		}
		if fr.failed.Load() != 1 {
			t.Errorf("Failed called %d times; want 1", fr.failed.Load())
		}
		auditClean(t, f)
	},
	// TaskGroup: a task's panic is its failure, cancelling the siblings.
	"TaskGroup task": func(t *testing.T) {
		g, ctx := NewTaskGroup(t.Context())
		g.Go(func() error { panic("boom") })
		g.Go(func() error { <-ctx.Done(); return ctx.Err() })
		ok := g.TryGo(func() error { panic("boom") })
		err := g.Wait()
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Value != "boom" {
			t.Errorf("Wait: %v; want the task's *PanicError", firstLine(err))
		}
		// A task not yet started when a sibling's panic cancels the group
		// is skipped, as documented: one panic or two are reported.
		if n := strings.Count(err.Error(), "fetch: panic: boom"); n < 1 || !ok && n != 1 || n > 2 {
			t.Errorf("Wait reports %d panics (TryGo ran: %v): %q", n, ok, err.Error())
		}
		var zero TaskGroup
		zero.Go(func() error { panic("boom") })
		if err := zero.Wait(); !errors.As(err, &pe) {
			t.Errorf("zero TaskGroup Wait: %v", firstLine(err))
		}
	},
}

// panicJar is a cookie jar whose Cookies panics.
type panicJar struct{}

func (panicJar) SetCookies(*url.URL, []*http.Cookie) {}
func (panicJar) Cookies(*url.URL) []*http.Cookie     { panic("boom") }

// panicJSON is a type whose UnmarshalJSON panics.
type panicJSON struct{}

func (*panicJSON) UnmarshalJSON([]byte) error { panic("boom") }
