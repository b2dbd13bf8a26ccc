package fetch

// Port of aiohttp's connection-limit tests onto fetch's in-flight caps:
//
//   - aio-libs/aiohttp tests/test_connector.py, as of commit
//     495e778360d1924da63e16dba0f0d76baf56a56a (the file last changed in
//     706ecdcc10f9598c280a0af537437324a3e993fa): the tests of BaseConnector's
//     limit and limit_per_host, its waiters (_waiters, _release_waiter), the
//     release of acquired connections (_release_acquired), cancellation of a
//     waiter, the queued-connection trace signals, close() with a connection
//     acquired, and _available_connections.
//
// Tests are named TestPortAIO<aiohttp's name>, in CamelCase (aiohttp's
// misspelt test_exception_during_connetion_create_tracing keeps its
// spelling). The mapping:
//
//   - a connection acquired is a request in flight, counted by aioWire, a
//     transport over the in-memory one (internal/memhttp) that counts a
//     request from the moment it is handed to the transport until its
//     response body is closed or read to its end, as fetch's docs define in
//     flight ("until its response body is closed or read to EOF");
//   - limit is WithConcurrency, limit_per_host is WithHostConcurrency, and
//     aiohttp's ConnectionKey is fetch's host (host:port);
//   - a waiter is a Fetcher.Do (or Get) waiting at the gates, started on a
//     goroutine of its own, or an input queued by a batch or stream call
//     (GetAll, DoAll, Stream) behind its host;
//   - cancelling a waiter is ending its context: the call must fail with the
//     context's error having sent nothing, give back nothing it did not
//     take, and leave no slot behind, and the next waiter must go on.
//     Slots are checked by aioAvailable, which counts how many new requests
//     to a host go at once (aiohttp's _available_connections): exactly the
//     cap, neither one fewer (a leaked slot) nor one more (a slot given back
//     twice);
//   - the trace signals on_connection_queued_start/end are Hooks.OnCall
//     (which runs "before it waits at any gate"), Stats.Waiting, and
//     AttemptInfo.Waited; a signal that raises is a hook that panics;
//   - connector.close() is Fetcher.Shutdown.
//
// Order of waiters. aiohttp wakes a key's waiters first come, first served.
// fetch documents an order only for the batch, streaming and crawl calls:
// "requests to one host go in input order". For Do and Get called from many
// goroutines it says only that they "wait in their host's gates": no order
// is promised, so the Do cases assert that every waiter goes, one at a time
// within the cap, and log the order seen without asserting it.
//
// Limits of 0. aiohttp reads limit=0 and limit_per_host=0 as "no limit".
// fetch documents WithConcurrency(n) for 1 <= n <= MaxConcurrency and
// WithHostConcurrency(n) for n >= 1, and "an option given a value out of
// range makes New fail with an error that names it": the cases assert that
// error, then run aiohttp's scenario with fetch's nearest equivalent: no
// WithHostConcurrency (there is no per-host cap by default) and
// WithConcurrency(MaxConcurrency).
//
// Everything about time or order runs in a testing/synctest bubble; the real
// connection count of test_connect_with_limit_concurrent runs against an
// httptest loopback server.
//
// Not ported: the tests of the idle-connection pool (_get, _release into
// _conns, cleanup, keep-alive, force_close, the reuse tracing signals),
// DNS resolution and its cache, TLS contexts and fingerprints, happy
// eyeballs, proxies and tunnels, Unix sockets and named pipes, and
// __del__ warnings: net/http's transport owns those, not fetch's gates.
// test_limit_property and its kind are ported as behaviour, fetch having
// no getter.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
	"go.uber.org/goleak"
)

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// aioRT is a RoundTripper made of a function.
type aioRT func(*http.Request) (*http.Response, error)

func (f aioRT) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// aioWire is a transport that counts the requests in flight, as aiohttp's
// connector counts its acquired connections: from the moment a request is
// handed to the transport until its response body is closed or read to its
// end, or the transport fails (or panics). It records the most in flight,
// overall and per host, and the order requests arrived in.
type aioWire struct {
	next http.RoundTripper

	mu       sync.Mutex
	now      int
	most     int
	perHost  map[string]int
	hostMost map[string]int
	order    []string // host+path, as each request arrived
}

// newAIOWire returns a wire that serves requests in memory with h (ok, if
// nil).
func newAIOWire(h http.Handler) *aioWire {
	if h == nil {
		h = http.HandlerFunc(ok)
	}
	return newAIOWireRT(memhttp.Transport{Handler: h})
}

// newAIOWireRT returns a wire over the transport next.
func newAIOWireRT(next http.RoundTripper) *aioWire {
	return &aioWire{next: next, perHost: map[string]int{}, hostMost: map[string]int{}}
}

// aioHost names u's host as fetch documents its per-host gates name it
// ("host and port, lower-cased, without the scheme's default port"), so
// that aioWire counts per host as the caps apply. It is written here
// rather than taken from fetch, whose naming it checks.
func aioHost(u *url.URL) string {
	h := strings.ToLower(u.Host)
	scheme := strings.ToLower(u.Scheme)
	if scheme == "http" {
		h = strings.TrimSuffix(h, ":80")
	} else if scheme == "https" {
		h = strings.TrimSuffix(h, ":443")
	}
	return h
}

func (w *aioWire) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	host := aioHost(req.URL)
	w.mu.Lock()
	w.now++
	w.most = max(w.most, w.now)
	w.perHost[host]++
	w.hostMost[host] = max(w.hostMost[host], w.perHost[host])
	w.order = append(w.order, host+req.URL.Path)
	w.mu.Unlock()
	handed := false
	defer func() {
		if !handed {
			w.exit(host)
		}
	}()
	resp, err = w.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	handed = true
	resp.Body = &aioWireBody{rc: resp.Body, w: w, host: host}
	return resp, nil
}

func (w *aioWire) exit(host string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now--
	w.perHost[host]--
}

// inFlight returns the requests in flight now, overall and to host.
func (w *aioWire) inFlight(host string) (all, toHost int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now, w.perHost[host]
}

// peak returns the most requests seen in flight, overall and to host.
func (w *aioWire) peak(host string) (all, toHost int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.most, w.hostMost[host]
}

// arrived returns host+path of every request, in the order they arrived.
func (w *aioWire) arrived() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.order)
}

// saw reports whether a request to host+path reached the wire.
func (w *aioWire) saw(hostPath string) bool {
	return slices.Contains(w.arrived(), hostPath)
}

// arrivedAt returns the paths to host, in the order they arrived.
func (w *aioWire) arrivedAt(host string) []string {
	var paths []string
	for _, hp := range w.arrived() {
		if p, ok := strings.CutPrefix(hp, host+"/"); ok {
			paths = append(paths, "/"+p)
		}
	}
	return paths
}

// aioWireBody ends its request's count once, at Close or EOF.
type aioWireBody struct {
	rc   io.ReadCloser
	w    *aioWire
	host string
	done atomic.Bool
}

func (b *aioWireBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.finish()
	}
	return n, err
}

func (b *aioWireBody) Close() error {
	err := b.rc.Close()
	b.finish()
	return err
}

func (b *aioWireBody) finish() {
	if b.done.CompareAndSwap(false, true) {
		b.w.exit(b.host)
	}
}

// aioNew returns a Fetcher that sends through w.
func aioNew(t testing.TB, w *aioWire, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(append([]Option{WithClient(&http.Client{Transport: w})}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

// aioCall is a Fetcher.Do running on a goroutine of its own, under a
// context of its own: a waiter, once it blocks at the gates.
type aioCall struct {
	url    string
	cancel context.CancelFunc
	done   chan struct{}
	resp   *http.Response
	err    error
}

// aioGo starts f.Do(GET url).
func aioGo(f *Fetcher, url string) *aioCall {
	ctx, cancel := context.WithCancel(context.Background())
	return aioGoCtx(f, ctx, cancel, url)
}

func aioGoCtx(f *Fetcher, ctx context.Context, cancel context.CancelFunc, url string) *aioCall {
	c := &aioCall{url: url, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			c.err = err
			return
		}
		c.resp, c.err = f.Do(req)
	}()
	return c
}

// returned reports whether Do has returned.
func (c *aioCall) returned() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// acquired reports whether Do has returned a response: the call holds its
// slot until its body is closed.
func (c *aioCall) acquired() bool { return c.returned() && c.err == nil }

// release waits for Do to return and closes the response body, if any,
// giving back the call's slot.
func (c *aioCall) release() {
	<-c.done
	if c.resp != nil {
		c.resp.Body.Close()
	}
	c.cancel()
}

// aioCancelled checks that c returned an error matching want (a context's
// error, ErrClosed), as an *Error counting no attempt, and that nothing of
// it reached the wire.
func aioCancelled(t *testing.T, w *aioWire, c *aioCall, want error) {
	t.Helper()
	if !c.returned() {
		t.Errorf("%s: still waiting; want it to fail with %v", c.url, want)
		return
	}
	if c.resp != nil {
		c.resp.Body.Close()
		t.Errorf("%s: got a response; want %v", c.url, want)
		return
	}
	var e *Error
	if !errors.Is(c.err, want) || !errors.As(c.err, &e) || e.Attempts != 0 {
		t.Errorf("%s: err = %v; want an *Error with 0 attempts matching %v", c.url, c.err, want)
	}
	if u, err := url.Parse(c.url); err == nil && w.saw(aioHost(u)+u.Path) {
		t.Errorf("%s reached the wire; a cancelled waiter must send nothing", c.url)
	}
}

// aioAvailable returns how many new requests to host go at once, as
// aiohttp's _available_connections says how many connections to a key may
// be made now: it starts probes calls to host, lets them run until they
// block, counts those that got a response (and so hold a slot), cancels the
// others, then releases those. The Fetcher is left as it was found. It runs
// inside a synctest bubble, and needs the handler to answer the probes
// (paths /probe...) at once.
func aioAvailable(t *testing.T, f *Fetcher, host string, probes int) int {
	t.Helper()
	waiting := f.Stats().Waiting
	calls := make([]*aioCall, probes)
	for i := range calls {
		calls[i] = aioGo(f, fmt.Sprintf("http://%s/probe%d", host, i))
	}
	synctest.Wait()
	n := 0
	for _, c := range calls {
		if c.acquired() {
			n++
		} else if c.returned() {
			t.Errorf("probe %s failed: %v", c.url, c.err)
		}
	}
	for _, c := range calls { // first the waiters, so that none takes a slot the others give back
		if !c.returned() {
			c.cancel()
		}
	}
	for _, c := range calls {
		<-c.done
		if !c.acquired() && !errors.Is(c.err, context.Canceled) {
			t.Errorf("cancelled probe %s: err = %v; want context.Canceled", c.url, c.err)
		}
	}
	for _, c := range calls {
		c.release()
	}
	synctest.Wait()
	if s := f.Stats(); s.Waiting != waiting {
		t.Errorf("after the probes, Stats.Waiting = %d; want %d, as before them", s.Waiting, waiting)
	}
	return n
}

// aioWantAvailable checks aioAvailable(host) for each host.
func aioWantAvailable(t *testing.T, f *Fetcher, step string, want map[string]int) {
	t.Helper()
	for _, host := range slices.Sorted(maps.Keys(want)) {
		if got := aioAvailable(t, f, host, want[host]+3); got != want[host] {
			t.Errorf("%s: %d requests to %s go at once; want %d", step, got, host, want[host])
		}
	}
}

// aioSleepy answers after d, for the calls that read the body themselves
// (Get, the batch and streaming calls): the request is in flight while the
// handler runs.
func aioSleepy(d time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d)
		w.Write([]byte("ok"))
	}
}

// ---------------------------------------------------------------------------
// limit and limit_per_host
// ---------------------------------------------------------------------------

// aiohttp: test_connect_with_limit. limit=1, limit_per_host=10: a second
// connect waits while the first connection is acquired, and acquires it as
// soon as it is released, with one connection acquired.
func TestPortAIOConnectWithLimit(t *testing.T) {
	t.Run("Do", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newAIOWire(nil)
			f := aioNew(t, w, WithConcurrency(1), WithHostConcurrency(10))
			c1 := aioGo(f, "http://localhost/1")
			synctest.Wait()
			if !c1.acquired() {
				t.Fatalf("first call: returned %v, err %v; want a response", c1.returned(), c1.err)
			}
			if all, host := w.inFlight("localhost"); all != 1 || host != 1 {
				t.Errorf("in flight: %d, %d to the host; want 1, 1", all, host)
			}
			c2 := aioGo(f, "http://localhost/2")
			time.Sleep(10 * time.Millisecond)
			synctest.Wait()
			if c2.returned() {
				t.Fatalf("second call returned (err %v) while the only slot was taken", c2.err)
			}
			c1.release()
			synctest.Wait()
			if !c2.acquired() {
				t.Fatalf("second call: returned %v, err %v after the first was released; want a response", c2.returned(), c2.err)
			}
			if all, host := w.inFlight("localhost"); all != 1 || host != 1 {
				t.Errorf("in flight: %d, %d to the host; want 1, 1", all, host)
			}
			c2.release()
			if most, _ := w.peak("localhost"); most != 1 {
				t.Errorf("%d in flight at most; want 1", most)
			}
			aioWantAvailable(t, f, "end", map[string]int{"localhost": 1})
		})
	})
	// The same with Get from many goroutines, and with a batch: the limit
	// holds while the body is read.
	for _, call := range []string{"Get", "GetAll", "Stream"} {
		t.Run(call, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newAIOWire(aioSleepy(10 * time.Millisecond))
				f := aioNew(t, w, WithConcurrency(1), WithHostConcurrency(10))
				urls := []string{"http://localhost/1", "http://localhost/2", "http://localhost/3"}
				start := time.Now()
				var ends []time.Duration
				var mu sync.Mutex
				done := func(err error) {
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					ends = append(ends, time.Since(start))
					mu.Unlock()
				}
				switch call {
				case "Get":
					var wg sync.WaitGroup
					for _, u := range urls {
						wg.Go(func() { _, err := f.Get(context.Background(), u); done(err) })
					}
					wg.Wait()
				case "GetAll":
					for _, r := range f.GetAll(context.Background(), urls) {
						done(r.Err)
					}
					ends = nil // GetAll returns them all at once
				case "Stream":
					for r := range f.Stream(context.Background(), slices.Values(urls)) {
						done(r.Err)
					}
				}
				if most, _ := w.peak("localhost"); most != 1 {
					t.Errorf("%d in flight at most; want 1", most)
				}
				if d := time.Since(start); d != 30*time.Millisecond {
					t.Errorf("took %v; want 30ms (3 requests of 10ms, one at a time)", d)
				}
				if ends != nil && !slices.Equal(ends, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}) {
					t.Errorf("calls ended at %v; want 10ms, 20ms, 30ms", ends)
				}
			})
		})
	}
}

// aiohttp: test_connect_with_limit_and_limit_per_host. limit=1000,
// limit_per_host=1: the second connect to the host waits for the first.
func TestPortAIOConnectWithLimitAndLimitPerHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithConcurrency(1000), WithHostConcurrency(1))
		aioLimitPerHostScenario(t, w, f)
	})
}

// aioLimitPerHostScenario is the scenario of
// test_connect_with_limit_and_limit_per_host and
// test_connect_with_no_limit_and_limit_per_host, with a cap of 1 per host
// and a global cap far above: the second call to the host waits for the
// first, and one to another host does not.
func aioLimitPerHostScenario(t *testing.T, w *aioWire, f *Fetcher) {
	t.Helper()
	c1 := aioGo(f, "http://localhost/1")
	synctest.Wait()
	if !c1.acquired() {
		t.Fatalf("first call: returned %v, err %v; want a response", c1.returned(), c1.err)
	}
	c2 := aioGo(f, "http://localhost/2")
	time.Sleep(10 * time.Millisecond)
	synctest.Wait()
	if c2.returned() {
		t.Fatalf("second call to the host returned (err %v) while its only slot was taken", c2.err)
	}
	other := aioGo(f, "http://otherhost/1")
	synctest.Wait()
	if !other.acquired() {
		t.Errorf("a call to another host: returned %v, err %v; want a response at once", other.returned(), other.err)
	}
	other.release()
	// aiohttp's ConnectionKey is (host, port, ssl, ...): localhost:80 spelled
	// otherwise is the same key. So in fetch ("HTTP://A.test:80/ and
	// http://a.test/ share one host's limits").
	c3 := aioGo(f, "HTTP://LocalHost:80/3")
	synctest.Wait()
	if c3.returned() {
		t.Fatalf("a call to the host spelled otherwise returned (err %v) while its only slot was taken", c3.err)
	}
	c1.release()
	synctest.Wait()
	if c2.acquired() == c3.acquired() {
		t.Fatalf("after the first was released: second acquired %v (%v), third %v (%v); want exactly one", c2.acquired(), c2.err, c3.acquired(), c3.err)
	}
	if _, host := w.inFlight("localhost"); host != 1 {
		t.Errorf("%d in flight to the host; want 1", host)
	}
	if c2.acquired() {
		c2.release()
	} else {
		c3.release()
	}
	synctest.Wait()
	if !c2.acquired() || !c3.acquired() {
		t.Fatalf("second %v (%v), third %v (%v); want both served by now", c2.acquired(), c2.err, c3.acquired(), c3.err)
	}
	c2.release()
	c3.release()
	if _, most := w.peak("localhost"); most != 1 {
		t.Errorf("%d in flight to the host at most; want 1", most)
	}
	aioWantAvailable(t, f, "end", map[string]int{"localhost": 1})
}

// aioWantRangeError checks that New refuses opt with an error naming it and
// saying what is allowed.
func aioWantRangeError(t *testing.T, name string, opt Option, says string) {
	t.Helper()
	f, err := New(opt)
	if err == nil || f != nil {
		t.Errorf("New(%s) = %v, %v; want an error", name, f, err)
		return
	}
	if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), says) {
		t.Errorf("New(%s): %q; want it to name %s and say %q", name, err, name, says)
	}
}

// aiohttp: test_connect_with_no_limit_and_limit_per_host. limit=0 (no
// limit), limit_per_host=1.
// DIVERGES, deliberate (WithConcurrency's doc: "at most MaxConcurrency";
// Option's doc: out of range "makes New fail with an error that names
// it"): fetch has no "no limit"; WithConcurrency(0) is refused, and the
// scenario runs with WithConcurrency(MaxConcurrency).
func TestPortAIOConnectWithNoLimitAndLimitPerHost(t *testing.T) {
	aioWantRangeError(t, "WithConcurrency(0)", WithConcurrency(0), fmt.Sprintf("must be between 1 and %d", MaxConcurrency))
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithConcurrency(MaxConcurrency), WithHostConcurrency(1))
		aioLimitPerHostScenario(t, w, f)
	})
}

// aiohttp: test_connect_with_no_limits. limit=0, limit_per_host=0: a second
// connect acquires at once, with the first still acquired.
// DIVERGES, deliberate: both zeros are refused by New, with errors naming
// the options; "no limit" is WithConcurrency(MaxConcurrency) and no
// WithHostConcurrency, the default.
func TestPortAIOConnectWithNoLimits(t *testing.T) {
	aioWantRangeError(t, "WithConcurrency(0)", WithConcurrency(0), fmt.Sprintf("must be between 1 and %d", MaxConcurrency))
	aioWantRangeError(t, "WithHostConcurrency(0)", WithHostConcurrency(0), "must be at least 1")
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithConcurrency(MaxConcurrency))
		c1 := aioGo(f, "http://localhost/1")
		synctest.Wait()
		c2 := aioGo(f, "http://localhost/2")
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		if !c1.acquired() || !c2.acquired() {
			t.Fatalf("first: %v, %v; second: %v, %v; want both to have a response at once", c1.returned(), c1.err, c2.returned(), c2.err)
		}
		if all, host := w.inFlight("localhost"); all != 2 || host != 2 {
			t.Errorf("in flight: %d, %d to the host; want 2, 2", all, host)
		}
		c1.release()
		c2.release()
	})
}

// aiohttp: test_release_waiter_no_limit. limit=0: releasing wakes the
// waiter, there being no limit.
// DIVERGES, deliberate: fetch refuses 0 and negative caps (and more than
// MaxConcurrency) at New, naming the option; with the largest cap it
// allows, a call goes at once however many are in flight.
func TestPortAIOReleaseWaiterNoLimit(t *testing.T) {
	aioWantRangeError(t, "WithConcurrency(0)", WithConcurrency(0), fmt.Sprintf("must be between 1 and %d", MaxConcurrency))
	aioWantRangeError(t, "WithConcurrency(-1)", WithConcurrency(-1), fmt.Sprintf("must be between 1 and %d", MaxConcurrency))
	aioWantRangeError(t, fmt.Sprintf("WithConcurrency(%d)", MaxConcurrency+1), WithConcurrency(MaxConcurrency+1), fmt.Sprintf("must be between 1 and %d", MaxConcurrency))
	aioWantRangeError(t, "WithHostConcurrency(0)", WithHostConcurrency(0), "must be at least 1")
	aioWantRangeError(t, "WithHostConcurrency(-3)", WithHostConcurrency(-3), "must be at least 1")
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithConcurrency(MaxConcurrency))
		var held []*aioCall
		for i := range 100 {
			held = append(held, aioGo(f, fmt.Sprintf("http://localhost/%d", i)))
		}
		synctest.Wait()
		if got := aioAvailable(t, f, "localhost", 50); got != 50 {
			t.Errorf("with 100 in flight, %d of 50 more went at once; want all", got)
		}
		for _, c := range held {
			c.release()
		}
	})
}

// aiohttp: test_limit_property (limit=15), and test_limit_per_host_property
// below (limit_per_host=15). fetch has no getter: the cap is checked as
// behaviour, exactly 15 going at once.
func TestPortAIOLimitProperty(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := aioNew(t, newAIOWire(nil), WithConcurrency(15))
		aioWantAvailable(t, f, "limit", map[string]int{"a.test": 15})
	})
}

// aiohttp: test_limit_per_host_property: 15 to each host at once.
func TestPortAIOLimitPerHostProperty(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := aioNew(t, newAIOWire(nil), WithHostConcurrency(15))
		aioWantAvailable(t, f, "limit_per_host", map[string]int{"a.test": 15, "b.test": 15})
	})
}

// aiohttp: test_limit_property_default: 100.
// DIVERGES, deliberate (README "Options"): fetch's default is
// DefaultConcurrency, 64.
func TestPortAIOLimitPropertyDefault(t *testing.T) {
	if DefaultConcurrency != 64 {
		t.Errorf("DefaultConcurrency = %d; README says 64", DefaultConcurrency)
	}
	synctest.Test(t, func(t *testing.T) {
		f := aioNew(t, newAIOWire(nil))
		aioWantAvailable(t, f, "default", map[string]int{"a.test": DefaultConcurrency})
	})
}

// aiohttp: test_limit_per_host_property_default: no per-host cap, so one
// host may take every global slot (DefaultConcurrency - 1 here), and the
// last slot goes to any host.
func TestPortAIOLimitPerHostPropertyDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w)
		var held []*aioCall
		for i := range DefaultConcurrency - 1 {
			held = append(held, aioGo(f, fmt.Sprintf("http://a.test/%d", i)))
		}
		synctest.Wait()
		if _, toHost := w.inFlight("a.test"); toHost != DefaultConcurrency-1 {
			t.Errorf("%d in flight to one host; want %d (no per-host cap by default)", toHost, DefaultConcurrency-1)
		}
		// One slot is left, for any host.
		aioWantAvailable(t, f, "one left", map[string]int{"a.test": 1, "b.test": 1})
		for _, c := range held {
			c.release()
		}
	})
}

// ---------------------------------------------------------------------------
// _available_connections
// ---------------------------------------------------------------------------

// aiohttp: test_available_connections_with_limit_per_host. limit=3,
// limit_per_host=2, the steps and counts as aiohttp's.
func TestPortAIOAvailableConnectionsWithLimitPerHost(t *testing.T) {
	t.Run("Do", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := aioNew(t, newAIOWire(nil), WithConcurrency(3), WithHostConcurrency(2))
			const key, other = "localhost", "otherhost"
			aioWantAvailable(t, f, "start", map[string]int{key: 2, other: 2})
			c1 := aioGo(f, "http://localhost/1")
			synctest.Wait()
			aioWantAvailable(t, f, "one to key", map[string]int{key: 1, other: 2})
			c2 := aioGo(f, "http://localhost/2")
			synctest.Wait()
			aioWantAvailable(t, f, "two to key", map[string]int{key: 0, other: 1})
			c1.release()
			synctest.Wait()
			aioWantAvailable(t, f, "first released", map[string]int{key: 1, other: 2})
			c2.release()
			o1 := aioGo(f, "http://otherhost/1")
			synctest.Wait()
			aioWantAvailable(t, f, "one to other", map[string]int{key: 2, other: 1})
			o1.release()
			synctest.Wait()
			aioWantAvailable(t, f, "end", map[string]int{key: 2, other: 2})
		})
	})
	// The same caps under a stream: an input waiting for its host holds no
	// worker and no global slot ("Many hosts"), so the other host's input
	// takes the third slot at once, and the rest go as slots free.
	t.Run("Stream", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newAIOWire(aioSleepy(time.Second))
			f := aioNew(t, w, WithConcurrency(3), WithHostConcurrency(2))
			urls := []string{"http://a.test/1", "http://a.test/2", "http://a.test/3", "http://b.test/1", "http://b.test/2"}
			start := time.Now()
			at := map[string]time.Duration{}
			for r := range f.Stream(context.Background(), slices.Values(urls)) {
				if r.Err != nil {
					t.Error(r.Err)
				}
				at[r.URL] = time.Since(start)
			}
			want := map[string]time.Duration{
				"http://a.test/1": time.Second, "http://a.test/2": time.Second, "http://b.test/1": time.Second,
				"http://a.test/3": 2 * time.Second, "http://b.test/2": 2 * time.Second,
			}
			for u, d := range want {
				if at[u] != d {
					t.Errorf("%s done at %v; want %v", u, at[u], d)
				}
			}
			if all, a := w.peak("a.test"); all != 3 || a != 2 {
				t.Errorf("at most %d in flight, %d to a.test; want 3, 2", all, a)
			}
		})
	})
}

// aiohttp: test_available_connections_without_limit_per_host, with
// limit_per_host 0 and 10 under limit=3: the global cap alone counts.
// limit_per_host=0 is refused by fetch (see above): that case runs without
// WithHostConcurrency.
func TestPortAIOAvailableConnectionsWithoutLimitPerHost(t *testing.T) {
	aioWantRangeError(t, "WithHostConcurrency(0)", WithHostConcurrency(0), "must be at least 1")
	for _, perHost := range []int{0, 10} {
		t.Run(fmt.Sprint(perHost), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts := []Option{WithConcurrency(3)}
				if perHost > 0 {
					opts = append(opts, WithHostConcurrency(perHost))
				}
				f := aioNew(t, newAIOWire(nil), opts...)
				const key, other = "localhost", "otherhost"
				aioWantAvailable(t, f, "start", map[string]int{key: 3, other: 3})
				c1 := aioGo(f, "http://localhost/1")
				synctest.Wait()
				aioWantAvailable(t, f, "one to key", map[string]int{key: 2, other: 2})
				c2 := aioGo(f, "http://localhost/2")
				synctest.Wait()
				aioWantAvailable(t, f, "two to key", map[string]int{key: 1, other: 1})
				c1.release()
				synctest.Wait()
				aioWantAvailable(t, f, "first released", map[string]int{key: 2, other: 2})
				c2.release()
				o1 := aioGo(f, "http://otherhost/1")
				synctest.Wait()
				aioWantAvailable(t, f, "one to other", map[string]int{key: 2, other: 2})
				o1.release()
				synctest.Wait()
				aioWantAvailable(t, f, "end", map[string]int{key: 3, other: 3})
			})
		})
	}
}

// aiohttp: test_available_connections_no_limits. limit=0,
// limit_per_host=0: a connection may always be made.
// DIVERGES, deliberate: zeros are refused; with the largest cap fetch
// allows and no per-host cap, every probe goes at once, with or without a
// request in flight.
func TestPortAIOAvailableConnectionsNoLimits(t *testing.T) {
	aioWantRangeError(t, "WithConcurrency(0)", WithConcurrency(0), fmt.Sprintf("must be between 1 and %d", MaxConcurrency))
	aioWantRangeError(t, "WithHostConcurrency(0)", WithHostConcurrency(0), "must be at least 1")
	synctest.Test(t, func(t *testing.T) {
		f := aioNew(t, newAIOWire(nil), WithConcurrency(MaxConcurrency))
		const probes = 20
		if got := aioAvailable(t, f, "localhost", probes); got != probes {
			t.Errorf("%d of %d went at once; want all", got, probes)
		}
		c1 := aioGo(f, "http://localhost/1")
		synctest.Wait()
		for _, host := range []string{"localhost", "otherhost"} {
			if got := aioAvailable(t, f, host, probes); got != probes {
				t.Errorf("%s, one in flight: %d of %d went at once; want all", host, got, probes)
			}
		}
		c1.release()
	})
}

// ---------------------------------------------------------------------------
// Release of acquired connections
// ---------------------------------------------------------------------------

// aiohttp: test_release_acquired. limit=5, limit_per_host=10: releasing
// frees the connection's place globally and per host, and releasing it
// again changes nothing. fetch: a Do body closed twice frees its slot once.
func TestPortAIOReleaseAcquired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithConcurrency(5), WithHostConcurrency(10))
		c := aioGo(f, "http://localhost/1")
		synctest.Wait()
		if !c.acquired() {
			t.Fatalf("returned %v, err %v; want a response", c.returned(), c.err)
		}
		if s := f.Stats(); s.InFlight != 1 {
			t.Errorf("Stats.InFlight = %d; want 1", s.InFlight)
		}
		c.release()
		if err := c.resp.Body.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
			t.Errorf("Stats.InFlight, Waiting = %d, %d; want 0, 0", s.InFlight, s.Waiting)
		}
		if all, host := w.inFlight("localhost"); all != 0 || host != 0 {
			t.Errorf("in flight: %d, %d to the host; want 0, 0", all, host)
		}
		aioWantAvailable(t, f, "after two Closes", map[string]int{"localhost": 5, "otherhost": 5})
	})
}

// aiohttp: test__release_acquired_per_host1. Releasing a connection that
// was never acquired changes nothing. fetch: a body read to its end (which
// gives back the slot) and then closed gives back nothing more.
func TestPortAIOReleaseAcquiredPerHost1(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := aioNew(t, newAIOWire(nil), WithConcurrency(3), WithHostConcurrency(2))
		c := aioGo(f, "http://localhost/1")
		synctest.Wait()
		if !c.acquired() {
			t.Fatalf("returned %v, err %v; want a response", c.returned(), c.err)
		}
		if b, err := io.ReadAll(c.resp.Body); err != nil || string(b) != "ok" {
			t.Errorf("body %q, %v", b, err)
		}
		if s := f.Stats(); s.InFlight != 0 {
			t.Errorf("after EOF, Stats.InFlight = %d; want 0", s.InFlight)
		}
		c.release() // Close after EOF
		aioWantAvailable(t, f, "after EOF and Close", map[string]int{"localhost": 2, "otherhost": 2})
	})
}

// aiohttp: test__release_acquired_per_host2. One connection to the key,
// released: none is left for the key.
func TestPortAIOReleaseAcquiredPerHost2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithHostConcurrency(10))
		c := aioGo(f, "http://localhost/1")
		synctest.Wait()
		c.release()
		if _, host := w.inFlight("localhost"); host != 0 {
			t.Errorf("%d in flight to the host; want 0", host)
		}
		aioWantAvailable(t, f, "released", map[string]int{"localhost": 10})
	})
}

// aiohttp: test__release_acquired_per_host3. Two connections to the key,
// one released: the other is still counted.
func TestPortAIOReleaseAcquiredPerHost3(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithHostConcurrency(10))
		c1 := aioGo(f, "http://localhost/1")
		c2 := aioGo(f, "http://localhost/2")
		synctest.Wait()
		c1.release()
		if _, host := w.inFlight("localhost"); host != 1 {
			t.Errorf("%d in flight to the host; want 1", host)
		}
		aioWantAvailable(t, f, "one released", map[string]int{"localhost": 9})
		c2.release()
		aioWantAvailable(t, f, "both released", map[string]int{"localhost": 10})
	})
}

// aiohttp: test_release_acquired_closed. Once the connector is closed,
// releasing a connection wakes no waiter. fetch: Shutdown fails the
// waiters at once with ErrClosed, so a slot freed afterwards sends nothing
// more; Shutdown returns once the last body is closed.
func TestPortAIOReleaseAcquiredClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithConcurrency(2))
		h1 := aioGo(f, "http://localhost/h1")
		h2 := aioGo(f, "http://localhost/h2")
		synctest.Wait()
		waiter := aioGo(f, "http://localhost/w")
		synctest.Wait()
		if waiter.returned() {
			t.Fatalf("waiter returned (err %v) with both slots taken", waiter.err)
		}
		shut := make(chan error, 1)
		go func() { shut <- f.Shutdown(context.Background()) }()
		synctest.Wait()
		aioCancelled(t, w, waiter, ErrClosed)
		h1.release()
		synctest.Wait()
		if got := w.arrived(); len(got) != 2 {
			t.Errorf("requests sent: %v; want only the two held before Shutdown", got)
		}
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned %v with a body still open", err)
		default:
		}
		h2.release()
		synctest.Wait()
		select {
		case err := <-shut:
			if err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		default:
			t.Fatal("Shutdown still waits after the last body was closed")
		}
		if err := h1.resp.Body.Close(); err != nil { // released again, after Shutdown
			t.Errorf("second Close: %v", err)
		}
		if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
			t.Errorf("Stats.InFlight, Waiting = %d, %d; want 0, 0", s.InFlight, s.Waiting)
		}
	})
}

// aiohttp: test_close_with_acquired_connection. limit=1: close() with a
// connection acquired empties _acquired and closes the protocol at once;
// the Connection object is closed when its user closes it.
// DIVERGES, deliberate (Shutdown's doc: it "waits until every call on the
// wire has finished, its response body ... included, or until ctx is
// done"): fetch does not cut a request on the wire. Shutdown bounded by a
// deadline returns the deadline's error and leaves the body readable; new
// calls and waiters fail with ErrClosed; once the body is closed a later
// Shutdown returns nil, with nothing in flight.
func TestPortAIOCloseWithAcquiredConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithConcurrency(1))
		c := aioGo(f, "http://host/1")
		synctest.Wait()
		if !c.acquired() {
			t.Fatalf("returned %v, err %v; want a response", c.returned(), c.err)
		}
		waiter := aioGo(f, "http://host/2")
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := f.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown with a body held: %v; want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Errorf("Shutdown returned after %v; want its 10ms deadline", d)
		}
		synctest.Wait()
		aioCancelled(t, w, waiter, ErrClosed)
		late := aioGo(f, "http://host/3")
		synctest.Wait()
		aioCancelled(t, w, late, ErrClosed)
		if s := f.Stats(); s.InFlight != 1 {
			t.Errorf("Stats.InFlight = %d; want the held call, 1", s.InFlight)
		}
		if b, err := io.ReadAll(c.resp.Body); err != nil || string(b) != "ok" {
			t.Errorf("the held body after Shutdown: %q, %v; want \"ok\"", b, err)
		}
		c.release()
		if err := f.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown once the body is closed: %v", err)
		}
		if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
			t.Errorf("Stats.InFlight, Waiting = %d, %d; want 0, 0", s.InFlight, s.Waiting)
		}
		if all, _ := w.inFlight("host"); all != 0 {
			t.Errorf("%d in flight on the wire; want 0", all)
		}
	})
}

// aiohttp: test_close_during_connect. close() while a connect is under
// way: the connect fails with ClientConnectionError once it completes, and
// its protocol is closed.
// DIVERGES, deliberate (Shutdown's doc: a call "on the wire" is waited
// for, not cut; only calls "admitted but not on the wire" fail with
// ErrClosed): the request the transport is working on when Shutdown begins
// completes normally, Shutdown waits for it (bounded by its ctx), and a
// call waiting behind it fails with ErrClosed at once.
func TestPortAIOCloseDuringConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fut := make(chan struct{})
		w := newAIOWireRT(aioRT(func(req *http.Request) (*http.Response, error) {
			if req.URL.Path == "/connecting" {
				<-fut
			}
			return memhttp.Transport{Handler: http.HandlerFunc(ok)}.RoundTrip(req)
		}))
		f := aioNew(t, w, WithConcurrency(1))
		c := aioGo(f, "http://host/connecting")
		synctest.Wait()
		waiter := aioGo(f, "http://host/waiter")
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if err := f.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown during the connect: %v; want context.DeadlineExceeded", err)
		}
		synctest.Wait()
		aioCancelled(t, w, waiter, ErrClosed)
		if c.returned() {
			t.Fatalf("the call under way returned (err %v) before its transport did", c.err)
		}
		close(fut)
		synctest.Wait()
		if !c.acquired() {
			t.Fatalf("the call under way: returned %v, err %v; want its response", c.returned(), c.err)
		}
		c.release()
		if err := f.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown once the call has ended: %v", err)
		}
		if all, _ := w.inFlight(""); all != 0 {
			t.Errorf("%d in flight on the wire; want 0", all)
		}
	})
}

// ---------------------------------------------------------------------------
// Waiters
// ---------------------------------------------------------------------------

// aiohttp: test_release_waiter_first_available. Two waiters, under the
// fixtures key and key2 (equal ConnectionKeys: localhost:80), one
// connection freed: exactly one of them is woken. Ported with key2 spelled
// as fetch documents an equal host ("HTTP://A.test:80/ and http://a.test/
// share one host's limits"), and again with the waiters on two hosts.
func TestPortAIOReleaseWaiterFirstAvailable(t *testing.T) {
	for _, tc := range []struct{ name, url1, url2 string }{
		{"key and key2", "http://localhost/1", "HTTP://LOCALHOST:80/2"},
		{"two hosts", "http://localhost/1", "http://otherhost/1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newAIOWire(nil)
				f := aioNew(t, w, WithConcurrency(1))
				holder := aioGo(f, "http://h0/1")
				synctest.Wait()
				w1 := aioGo(f, tc.url1)
				w2 := aioGo(f, tc.url2)
				synctest.Wait()
				if w1.returned() || w2.returned() {
					t.Fatal("a waiter returned while the only slot was taken")
				}
				holder.release()
				synctest.Wait()
				if w1.acquired() == w2.acquired() {
					t.Fatalf("after one release: first acquired %v, second %v; want exactly one", w1.acquired(), w2.acquired())
				}
				first, second := w1, w2
				if w2.acquired() {
					first, second = w2, w1
				}
				if second.returned() {
					t.Fatalf("%s returned (err %v) while the slot was taken", second.url, second.err)
				}
				first.release()
				synctest.Wait()
				if !second.acquired() {
					t.Fatalf("%s: returned %v, err %v after the slot came free; want a response", second.url, second.returned(), second.err)
				}
				second.release()
				if most, _ := w.peak(""); most != 1 {
					t.Errorf("%d in flight at most; want 1", most)
				}
			})
		})
	}
}

// aiohttp: test_release_waiter_release_first. limit=1, two waiters on one
// key: the first is woken, not the second.
//
// fetch documents the order of a host's requests for the batch and
// streaming calls ("requests to one host go in input order"): asserted.
// For Do from many goroutines it promises none: the case checks that
// the waiters go one at a time and all go, and logs the order.
func TestPortAIOReleaseWaiterReleaseFirst(t *testing.T) {
	t.Run("Do", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newAIOWire(nil)
			f := aioNew(t, w, WithConcurrency(1))
			holder := aioGo(f, "http://localhost/holder")
			synctest.Wait()
			var waiters []*aioCall
			for i := range 4 {
				waiters = append(waiters, aioGo(f, fmt.Sprintf("http://localhost/w%d", i)))
				synctest.Wait() // each blocks before the next arrives
			}
			cur := holder
			var order []string
			for range waiters {
				cur.release()
				synctest.Wait()
				var next []*aioCall
				for _, c := range waiters {
					if c.acquired() && !slices.Contains(order, c.url) {
						next = append(next, c)
					}
				}
				if len(next) != 1 {
					t.Fatalf("after a release, %d waiters acquired; want exactly 1", len(next))
				}
				cur = next[0]
				order = append(order, cur.url)
			}
			cur.release()
			t.Logf("Do waiters, arrived w0..w3, went in the order %v (fetch promises none)", order)
			if most, _ := w.peak(""); most != 1 {
				t.Errorf("%d in flight at most; want 1", most)
			}
		})
	})
	for _, call := range []string{"GetAll", "DoAll", "Stream"} {
		t.Run(call, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newAIOWire(nil)
				f := aioNew(t, w, WithConcurrency(1))
				holder := aioGo(f, "http://localhost/holder")
				synctest.Wait()
				var urls []string
				for i := range 6 {
					urls = append(urls, fmt.Sprintf("http://localhost/%d", i))
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					var errs []error
					switch call {
					case "GetAll":
						for _, r := range f.GetAll(context.Background(), urls) {
							errs = append(errs, r.Err)
						}
					case "DoAll":
						var reqs []*http.Request
						for _, u := range urls {
							reqs = append(reqs, mustGet(t, u))
						}
						for _, r := range f.DoAll(context.Background(), reqs) {
							errs = append(errs, r.Err)
						}
					case "Stream":
						for r := range f.Stream(context.Background(), slices.Values(urls)) {
							errs = append(errs, r.Err)
						}
					}
					if err := errors.Join(errs...); err != nil {
						t.Error(err)
					}
				}()
				synctest.Wait()
				if got := w.arrivedAt("localhost"); !slices.Equal(got, []string{"/holder"}) {
					t.Fatalf("sent while the only slot was taken: %v", got)
				}
				// The inputs read so far wait: while the workers cannot
				// go on, "a buffer of twice the concurrency is kept"
				// (README, "Many hosts"), the global slot being taken.
				if s := f.Stats(); s.Waiting != 2 {
					t.Errorf("Stats.Waiting = %d; want the 2 inputs read ahead", s.Waiting)
				}
				holder.release()
				<-done
				want := []string{"/holder", "/0", "/1", "/2", "/3", "/4", "/5"}
				if got := w.arrivedAt("localhost"); !slices.Equal(got, want) {
					t.Errorf("the host served %v; want input order %v", got, want)
				}
				if most, _ := w.peak(""); most != 1 {
					t.Errorf("%d in flight at most; want 1", most)
				}
			})
		})
	}
	// Waiters of two kinds on one slot: Do from goroutines that call again
	// as soon as they are served, and a batch input queued behind the same
	// slot. aiohttp serves a key's waiters first come, first served, and so
	// does fetch: the batch input, queued third, goes third, after the two
	// Do calls ahead of it (the count may include the next Do, served as
	// the batch returns). Before the scheduler waited in the slots' line,
	// it never went while the Do loops went on.
	for _, slot := range []string{"host slot", "global slot"} {
		t.Run("Do and GetAll/"+slot, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newAIOWire(nil)
				opts := []Option{WithConcurrency(8), WithHostConcurrency(1)}
				batchURL := "http://host/batch"
				if slot == "global slot" {
					opts = []Option{WithConcurrency(1)}
					batchURL = "http://otherhost/batch"
				}
				f := aioNew(t, w, opts...)
				holder := aioGo(f, "http://host/holder")
				synctest.Wait()
				stop := make(chan struct{})
				var loops sync.WaitGroup
				var served atomic.Int64
				for i := range 2 {
					loops.Go(func() {
						for j := 0; ; j++ {
							select {
							case <-stop:
								return
							default:
							}
							resp, err := f.Do(mustGet(t, fmt.Sprintf("http://host/loop%d-%d", i, j)))
							if err != nil {
								t.Error(err)
								return
							}
							served.Add(1)
							time.Sleep(time.Millisecond)
							resp.Body.Close()
						}
					})
				}
				synctest.Wait() // both loops wait for the holder's slot
				done := make(chan []Result, 1)
				go func() { done <- f.GetAll(context.Background(), []string{batchURL}) }()
				synctest.Wait()
				holder.release()
				select {
				case rs := <-done:
					if rs[0].Err != nil {
						t.Error(rs[0].Err)
					}
					if n := served.Load(); n > 3 {
						t.Errorf("the batch input went after %d requests of the Do loops; want 2, those queued ahead of it", n)
					}
				case <-time.After(time.Second):
					t.Errorf("the batch input still waits after 1s, while the Do loops, which queued just before it, were served %d times", served.Load())
					close(stop)
					loops.Wait()
					<-done
					return
				}
				close(stop)
				loops.Wait()
			})
		})
	}
}

// aiohttp: test_release_waiter_skip_done_waiter. limit=1, two waiters on
// one key, the first already done (cancelled): the second is woken.
func TestPortAIOReleaseWaiterSkipDoneWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithConcurrency(1))
		holder := aioGo(f, "http://localhost/holder")
		synctest.Wait()
		w1 := aioGo(f, "http://localhost/w1")
		synctest.Wait()
		w2 := aioGo(f, "http://localhost/w2")
		synctest.Wait()
		w1.cancel()
		synctest.Wait()
		aioCancelled(t, w, w1, context.Canceled)
		if w2.returned() {
			t.Fatalf("w2 returned (err %v) while the slot was taken", w2.err)
		}
		holder.release()
		synctest.Wait()
		if !w2.acquired() {
			t.Fatalf("w2: returned %v, err %v; want a response", w2.returned(), w2.err)
		}
		w2.release()
		aioWantAvailable(t, f, "end", map[string]int{"localhost": 1})
	})
}

// aiohttp: test_release_waiter_per_host. limit=0, limit_per_host=2, a
// waiter under key and one under key2 (the same ConnectionKey), nothing
// acquired: a release wakes exactly one of them. fetch: two slots of the
// host taken, two waiters (the second spelling the host as key2 does); a
// slot freed lets exactly one go, the next the other. limit=0 is
// WithConcurrency(MaxConcurrency), 0 being refused.
//
// And with a waiter on other_host_key2: aiohttp's _release_waiter, having
// no global limit, may wake a waiter of any key. fetch's per-host slots are
// separate gates ("Each gate is taken per host first, then overall"): a
// slot freed on one host lets that host's waiter go, and the other host's
// waiter goes when its own host frees a slot.
func TestPortAIOReleaseWaiterPerHost(t *testing.T) {
	t.Run("key and key2", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newAIOWire(nil)
			f := aioNew(t, w, WithConcurrency(MaxConcurrency), WithHostConcurrency(2))
			held := []*aioCall{aioGo(f, "http://localhost/1"), aioGo(f, "http://localhost/2")}
			synctest.Wait()
			w1 := aioGo(f, "http://localhost/w1")
			w2 := aioGo(f, "http://localhost:80/w2")
			synctest.Wait()
			if w1.returned() || w2.returned() {
				t.Fatal("a waiter returned while the host's slots were taken")
			}
			held[0].release()
			synctest.Wait()
			if w1.acquired() == w2.acquired() {
				t.Fatalf("after one release: w1 acquired %v, w2 %v; want exactly one", w1.acquired(), w2.acquired())
			}
			held[1].release()
			synctest.Wait()
			if !w1.acquired() || !w2.acquired() {
				t.Fatalf("after two releases: w1 %v (%v), w2 %v (%v); want both to have a response", w1.acquired(), w1.err, w2.acquired(), w2.err)
			}
			w1.release()
			w2.release()
			if _, most := w.peak("localhost"); most != 2 {
				t.Errorf("%d in flight to the host at most; want 2", most)
			}
			aioWantAvailable(t, f, "end", map[string]int{"localhost": 2})
		})
	})
	t.Run("other_host_key2", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newAIOWire(nil)
			f := aioNew(t, w, WithConcurrency(MaxConcurrency), WithHostConcurrency(2))
			ha := []*aioCall{aioGo(f, "http://localhost/1"), aioGo(f, "http://localhost/2")}
			hb := []*aioCall{aioGo(f, "http://otherhost/1"), aioGo(f, "http://otherhost/2")}
			synctest.Wait()
			wa := aioGo(f, "http://localhost/w")
			wb := aioGo(f, "http://otherhost/w")
			synctest.Wait()
			if wa.returned() || wb.returned() {
				t.Fatal("a waiter returned while its host's slots were taken")
			}
			ha[0].release()
			synctest.Wait()
			if !wa.acquired() || wb.returned() {
				t.Fatalf("after a release on localhost: its waiter acquired %v, otherhost's returned %v; want true, false", wa.acquired(), wb.returned())
			}
			hb[0].release()
			synctest.Wait()
			if !wb.acquired() {
				t.Fatalf("otherhost's waiter: returned %v, err %v; want a response", wb.returned(), wb.err)
			}
			for _, c := range []*aioCall{ha[1], hb[1], wa, wb} {
				c.release()
			}
			for _, host := range []string{"localhost", "otherhost"} {
				if _, most := w.peak(host); most != 2 {
					t.Errorf("%s: %d in flight at most; want 2", host, most)
				}
			}
		})
	})
}

// aiohttp: test_release_waiter_no_available. No connection available for
// the waiter's key: a release wakes nobody. fetch: a global slot freed
// while the waiter's host is still full leaves it waiting (and lets a call
// to another host go); it goes when its host frees a slot.
func TestPortAIOReleaseWaiterNoAvailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithConcurrency(2), WithHostConcurrency(1))
		ha := aioGo(f, "http://localhost/1")
		hb := aioGo(f, "http://otherhost/1")
		synctest.Wait()
		wa := aioGo(f, "http://localhost/w")
		synctest.Wait()
		hb.release()
		synctest.Wait()
		if wa.returned() {
			t.Fatalf("the waiter returned (err %v) with its host's only slot taken", wa.err)
		}
		aioWantAvailable(t, f, "a global slot free", map[string]int{"localhost": 0, "thirdhost": 1})
		ha.release()
		synctest.Wait()
		if !wa.acquired() {
			t.Fatalf("the waiter: returned %v, err %v after its host's slot came free; want a response", wa.returned(), wa.err)
		}
		wa.release()
		aioWantAvailable(t, f, "end", map[string]int{"localhost": 1})
	})
}

// aiohttp: test_connector_does_not_remove_needed_waiters. A waiter woken
// must not take the other waiters with it. fetch: five waiters behind one
// slot; each release lets exactly one go, the others still wait, and
// Stats.Waiting counts them down one by one.
func TestPortAIOConnectorDoesNotRemoveNeededWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithConcurrency(1))
		cur := aioGo(f, "https://localhost/holder")
		synctest.Wait()
		var waiters []*aioCall
		for i := range 5 {
			waiters = append(waiters, aioGo(f, fmt.Sprintf("https://localhost/%d", i)))
		}
		synctest.Wait()
		gone := map[*aioCall]bool{}
		for i := range waiters {
			if s := f.Stats(); s.Waiting != int64(len(waiters)-i) {
				t.Errorf("step %d: Stats.Waiting = %d; want %d", i, s.Waiting, len(waiters)-i)
			}
			cur.release()
			synctest.Wait()
			cur = nil
			for _, c := range waiters {
				if gone[c] {
					continue
				}
				if c.returned() {
					if cur != nil || !c.acquired() {
						t.Fatalf("step %d: %s returned (err %v) too; want one waiter to go per release", i, c.url, c.err)
					}
					cur = c
					gone[c] = true
				}
			}
			if cur == nil {
				t.Fatalf("step %d: no waiter went after a release", i)
			}
		}
		cur.release()
		if s := f.Stats(); s.Waiting != 0 || s.InFlight != 0 {
			t.Errorf("Stats.Waiting, InFlight = %d, %d; want 0, 0", s.Waiting, s.InFlight)
		}
	})
}

// ---------------------------------------------------------------------------
// Cancelling a waiter
// ---------------------------------------------------------------------------

// aiohttp: test_connect_with_limit_cancelled. limit=1, a second connect
// bounded by asyncio.wait_for(..., 0.01) times out. fetch: a Do whose
// deadline passes while it waits fails with context.DeadlineExceeded,
// sending nothing, and leaves the slot to the next call.
func TestPortAIOConnectWithLimitCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithConcurrency(1))
		c := aioGo(f, "http://host/1")
		synctest.Wait()
		if all, _ := w.inFlight(""); all != 1 {
			t.Errorf("%d in flight; want 1", all)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		start := time.Now()
		waiter := aioGoCtx(f, ctx, cancel, "http://host/2")
		<-waiter.done
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Errorf("the waiter gave up after %v; want its 10ms deadline", d)
		}
		aioCancelled(t, w, waiter, context.DeadlineExceeded)
		c.release()
		aioWantAvailable(t, f, "end", map[string]int{"host": 1})
	})
}

// aiohttp: test_cancelled_waiter. limit=1, the slot held elsewhere: a
// waiter cancelled raises CancelledError. fetch: the waiter fails with
// context.Canceled having sent nothing, and takes nothing with it; the same
// for inputs queued by a batch whose context ends, and by a stream the
// caller breaks out of.
func TestPortAIOCancelledWaiter(t *testing.T) {
	t.Run("Do", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newAIOWire(nil)
			f := aioNew(t, w, WithConcurrency(1))
			holder := aioGo(f, "http://host/holder")
			synctest.Wait()
			waiter := aioGo(f, "http://host/w")
			synctest.Wait()
			waiter.cancel()
			synctest.Wait()
			aioCancelled(t, w, waiter, context.Canceled)
			// It gave back nothing it did not take: the holder's slot is
			// still taken.
			aioWantAvailable(t, f, "holder still in flight", map[string]int{"host": 0})
			holder.release()
			aioWantAvailable(t, f, "end", map[string]int{"host": 1})
		})
	})
	// A waiter of a capped host that took its host's slot and waits for
	// the global one gives back the host's slot it took, and no global slot.
	t.Run("Do/holding its host's slot", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newAIOWire(nil)
			f := aioNew(t, w, WithConcurrency(1), WithHostConcurrency(1))
			holder := aioGo(f, "http://otherhost/holder")
			synctest.Wait()
			waiter := aioGo(f, "http://host/w")
			synctest.Wait()
			waiter.cancel()
			synctest.Wait()
			aioCancelled(t, w, waiter, context.Canceled)
			aioWantAvailable(t, f, "holder still in flight", map[string]int{"host": 0, "otherhost": 0})
			holder.release()
			aioWantAvailable(t, f, "end", map[string]int{"host": 1, "otherhost": 1})
		})
	})
	for _, call := range []string{"GetAll", "Stream"} {
		t.Run(call, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newAIOWire(nil)
				f := aioNew(t, w, WithConcurrency(4), WithHostConcurrency(1))
				holder := aioGo(f, "http://host/holder")
				synctest.Wait()
				urls := []string{"http://host/1", "http://host/2", "http://otherhost/1"}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				results := make(chan []Result, 1)
				go func() {
					var rs []Result
					if call == "GetAll" {
						rs = f.GetAll(ctx, urls)
					} else {
						for r := range f.Stream(ctx, slices.Values(urls)) {
							rs = append(rs, r)
							if r.Err == nil {
								break // the caller stops: the inputs still queued are dropped
							}
						}
					}
					results <- rs
				}()
				synctest.Wait()
				if call == "GetAll" {
					if !w.saw("otherhost/1") {
						t.Error("the other host's input waits behind the busy host; want it sent at once")
					}
					if s := f.Stats(); s.Waiting != 2 {
						t.Errorf("Stats.Waiting = %d; want the 2 inputs queued for the busy host", s.Waiting)
					}
					cancel()
				}
				rs := <-results
				synctest.Wait()
				for _, r := range rs {
					switch r.URL {
					case "http://otherhost/1":
						if r.Err != nil {
							t.Errorf("%s: %v", r.URL, r.Err)
						}
					default:
						var e *Error
						if !errors.Is(r.Err, context.Canceled) || !errors.As(r.Err, &e) || r.Attempts != 0 {
							t.Errorf("%s: err %v, %d attempts; want context.Canceled, 0 attempts", r.URL, r.Err, r.Attempts)
						}
					}
				}
				for _, hp := range []string{"host/1", "host/2"} {
					if w.saw(hp) {
						t.Errorf("%s reached the wire; want the cancelled inputs unsent", hp)
					}
				}
				if s := f.Stats(); s.Waiting != 0 {
					t.Errorf("Stats.Waiting = %d; want 0", s.Waiting)
				}
				aioWantAvailable(t, f, "holder still in flight", map[string]int{"host": 0, "otherhost": 1})
				holder.release()
				aioWantAvailable(t, f, "end", map[string]int{"host": 1, "otherhost": 1})
			})
		})
	}
}

// aiohttp: test_connect_waiters_cleanup. A cancelled waiter is removed from
// _waiters. fetch: Stats.Waiting counts it while it waits, and no more
// once its context ends.
func TestPortAIOConnectWaitersCleanup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithConcurrency(1))
		holder := aioGo(f, "http://host/holder")
		synctest.Wait()
		waiter := aioGo(f, "http://host/w")
		synctest.Wait()
		if s := f.Stats(); s.Waiting != 1 {
			t.Errorf("Stats.Waiting = %d; want 1", s.Waiting)
		}
		waiter.cancel()
		synctest.Wait()
		aioCancelled(t, w, waiter, context.Canceled)
		if s := f.Stats(); s.Waiting != 0 {
			t.Errorf("after the cancel, Stats.Waiting = %d; want 0", s.Waiting)
		}
		holder.release()
		aioWantAvailable(t, f, "end", map[string]int{"host": 1})
	})
}

// aiohttp: test_connect_waiters_cleanup_key_error. A waiter's entry is
// removed before the cancelled waiter runs again: it must end cleanly. The
// race it stands for: a waiter cancelled while the slot is being handed to
// it. fetch: the waiter's context ends at the very moment its slot comes
// free, in either order: it fails with context.Canceled having sent
// nothing, or (the slot first) it may have been sent and succeed; either
// way the next waiter goes and no slot is lost or doubled. The same for a
// batch's queued input.
func TestPortAIOConnectWaitersCleanupKeyError(t *testing.T) {
	for _, order := range []string{"cancel-then-release", "release-then-cancel"} {
		t.Run("Do/"+order, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newAIOWire(nil)
				f := aioNew(t, w, WithConcurrency(1), WithHostConcurrency(10))
				holder := aioGo(f, "http://host/holder")
				synctest.Wait()
				w1 := aioGo(f, "http://host/w1")
				synctest.Wait()
				w2 := aioGo(f, "http://host/w2")
				synctest.Wait()
				if order == "cancel-then-release" {
					w1.cancel()
					holder.release()
				} else {
					holder.release()
					w1.cancel()
				}
				synctest.Wait()
				switch {
				case order == "cancel-then-release":
					aioCancelled(t, w, w1, context.Canceled)
				case !w1.acquired():
					// Cancelled as, or just after, it was handed the slot:
					// it may have reached the wire, and fails with the
					// context's error all the same.
					if !w1.returned() || !errors.Is(w1.err, context.Canceled) {
						t.Errorf("w1: returned %v, err %v; want context.Canceled or a response", w1.returned(), w1.err)
					}
				}
				if w1.acquired() { // it had the slot before its context ended
					if w2.returned() {
						t.Fatalf("w2 returned (err %v) while w1 holds the slot", w2.err)
					}
					w1.release()
					synctest.Wait()
				}
				if !w2.acquired() {
					t.Fatalf("w2: returned %v, err %v; want a response", w2.returned(), w2.err)
				}
				w2.release()
				if most, _ := w.peak(""); most != 1 {
					t.Errorf("%d in flight at most; want 1", most)
				}
				aioWantAvailable(t, f, "end", map[string]int{"host": 1})
			})
		})
		t.Run("GetAll/"+order, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newAIOWire(nil)
				f := aioNew(t, w, WithConcurrency(1), WithHostConcurrency(10))
				holder := aioGo(f, "http://host/holder")
				synctest.Wait()
				ctx, cancel := context.WithCancel(context.Background())
				results := make(chan []Result, 1)
				go func() { results <- f.GetAll(ctx, []string{"http://host/1", "http://host/2"}) }()
				synctest.Wait()
				w2 := aioGo(f, "http://host/after")
				synctest.Wait()
				if order == "cancel-then-release" {
					cancel()
					holder.release()
				} else {
					holder.release()
					cancel()
				}
				rs := <-results
				for _, r := range rs {
					hp := strings.TrimPrefix(r.URL, "http://")
					switch {
					case r.Err == nil:
						if order == "cancel-then-release" {
							t.Errorf("%s succeeded; its context ended before the slot came free", r.URL)
						}
					case errors.Is(r.Err, context.Canceled):
						if r.Attempts != 0 || w.saw(hp) {
							t.Errorf("%s: cancelled with %d attempts, on the wire %v; want 0, false", r.URL, r.Attempts, w.saw(hp))
						}
					default:
						t.Errorf("%s: %v; want success or context.Canceled", r.URL, r.Err)
					}
				}
				synctest.Wait()
				if !w2.acquired() {
					t.Fatalf("the next waiter: returned %v, err %v; want a response", w2.returned(), w2.err)
				}
				w2.release()
				if most, _ := w.peak(""); most != 1 {
					t.Errorf("%d in flight at most; want 1", most)
				}
				if s := f.Stats(); s.Waiting != 0 || s.InFlight != 0 {
					t.Errorf("Stats.Waiting, InFlight = %d, %d; want 0, 0", s.Waiting, s.InFlight)
				}
				aioWantAvailable(t, f, "end", map[string]int{"host": 1})
			})
		})
	}
	t.Run("handed over", aioHandedOver)
}

// aioHandedOver is test_connect_waiters_cleanup_key_error, continued: the waiter's
// context ends after its slot was handed to it and before it is sent, made
// deterministic by ending it from OnCall. For Do, OnCall runs before the
// gates; pass then takes the slot, sees the context ended ("cancelled just
// as the slot came free") and gives it back: nothing is handed to the
// transport, and the call counts no attempt. For a batch input, the
// scheduler passes the gates first and OnCall runs on the call it then
// makes: the same moment as a cancel arriving just as the slot is handed
// over.
func aioHandedOver(t *testing.T) {
	t.Run("Do", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := count(ok)
			w := newAIOWire(srv)
			var waiter *aioCall
			ctx, cancel := context.WithCancel(context.Background())
			f := aioNew(t, w, WithConcurrency(1), WithHooks(Hooks{
				OnCall: func(c context.Context, info CallInfo) context.Context {
					if info.Request.URL.Path == "/w" {
						cancel()
					}
					return nil
				},
			}))
			holder := aioGo(f, "http://host/holder")
			synctest.Wait()
			holder.release()
			waiter = aioGoCtx(f, ctx, cancel, "http://host/w")
			<-waiter.done
			aioCancelled(t, w, waiter, context.Canceled)
			if s := f.Stats(); s.Attempts != 1 || s.InFlight != 0 || s.Waiting != 0 {
				t.Errorf("Stats.Attempts, InFlight, Waiting = %d, %d, %d; want 1 (the holder's), 0, 0", s.Attempts, s.InFlight, s.Waiting)
			}
			aioWantAvailable(t, f, "end", map[string]int{"host": 1})
		})
	})
	for _, call := range []string{"GetAll", "Stream"} {
		t.Run(call, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := count(ok)
				w := newAIOWire(srv)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				f := aioNew(t, w, WithConcurrency(1), WithHooks(Hooks{
					OnCall: func(c context.Context, info CallInfo) context.Context {
						if info.Request.URL.Path == "/1" {
							cancel()
						}
						return nil
					},
				}))
				holder := aioGo(f, "http://host/holder")
				synctest.Wait()
				urls := []string{"http://host/1", "http://host/2"}
				results := make(chan []Result, 1)
				go func() {
					if call == "GetAll" {
						results <- f.GetAll(ctx, urls)
						return
					}
					var rs []Result
					for r := range f.Stream(ctx, slices.Values(urls)) {
						rs = append(rs, r)
					}
					results <- rs
				}()
				synctest.Wait()
				holder.release()
				rs := <-results
				synctest.Wait()
				for _, r := range rs {
					if !errors.Is(r.Err, context.Canceled) || r.Attempts != 0 {
						t.Errorf("%s: err %v, %d attempts; want context.Canceled, 0 attempts", r.URL, r.Err, r.Attempts)
					}
					if hp := strings.TrimPrefix(r.URL, "http://"); w.saw(hp) {
						t.Errorf("%s was handed to the transport with its context ended", r.URL)
					}
				}
				if n := srv.n.Load(); n != 1 {
					t.Errorf("the server saw %d requests; want the holder's only", n)
				}
				if s := f.Stats(); s.Attempts != 1 || s.InFlight != 0 || s.Waiting != 0 {
					t.Errorf("Stats.Attempts, InFlight, Waiting = %d, %d, %d; want 1 (the holder's), 0, 0", s.Attempts, s.InFlight, s.Waiting)
				}
				aioWantAvailable(t, f, "end", map[string]int{"host": 1})
			})
		})
	}
}

// aiohttp: test_cancellation_during_waiting_for_free_connection. limit=1,
// the second connect queued (on_connection_queued_start has fired) and
// then cancelled: afterwards no waiter and no connection is left.
func TestPortAIOCancellationDuringWaitingForFreeConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		queued := make(chan string, 4)
		var f *Fetcher
		w := newAIOWire(nil)
		f = aioNew(t, w, WithConcurrency(1), WithHooks(Hooks{
			OnCall: func(ctx context.Context, info CallInfo) context.Context {
				queued <- info.Request.URL.Path
				return nil
			},
		}))
		holder := aioGo(f, "http://host/holder")
		synctest.Wait()
		<-queued
		waiter := aioGo(f, "http://host/w")
		if p := <-queued; p != "/w" { // the queued-start signal
			t.Fatalf("OnCall for %s; want /w", p)
		}
		synctest.Wait()
		waiter.cancel()
		synctest.Wait()
		aioCancelled(t, w, waiter, context.Canceled)
		holder.release()
		if s := f.Stats(); s.Waiting != 0 || s.InFlight != 0 {
			t.Errorf("Stats.Waiting, InFlight = %d, %d; want 0, 0", s.Waiting, s.InFlight)
		}
		if all, _ := w.inFlight(""); all != 0 {
			t.Errorf("%d in flight on the wire; want 0", all)
		}
		go func() {
			for range queued { // the probes' OnCalls
			}
		}()
		aioWantAvailable(t, f, "end", map[string]int{"host": 1})
		close(queued)
	})
}

// aiohttp: test_error_on_connection. limit=1, limit_per_host=10: the first
// connect fails (OSError) after the second has queued; the second then
// gets the connection, one acquired.
func TestPortAIOErrorOnConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fut := make(chan struct{})
		w := newAIOWireRT(aioRT(func(req *http.Request) (*http.Response, error) {
			if req.URL.Path == "/1" {
				<-fut
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
			}
			return memhttp.Transport{Handler: http.HandlerFunc(ok)}.RoundTrip(req)
		}))
		f := aioNew(t, w, WithConcurrency(1), WithHostConcurrency(10), WithRetry(RetryPolicy{MaxAttempts: 1}))
		t1 := aioGo(f, "http://localhost/1")
		synctest.Wait()
		t2 := aioGo(f, "http://localhost/2")
		synctest.Wait()
		if t1.returned() || t2.returned() {
			t.Fatal("a call returned before the first connection failed")
		}
		if _, host := w.inFlight("localhost"); host != 1 {
			t.Errorf("%d in flight to the host; want 1", host)
		}
		close(fut)
		synctest.Wait()
		if !t1.returned() || !errors.Is(t1.err, syscall.ECONNREFUSED) {
			t.Errorf("first call: returned %v, err %v; want ECONNREFUSED", t1.returned(), t1.err)
		}
		if !t2.acquired() {
			t.Fatalf("second call: returned %v, err %v; want a response", t2.returned(), t2.err)
		}
		if _, host := w.inFlight("localhost"); host != 1 {
			t.Errorf("%d in flight to the host; want 1", host)
		}
		t2.release()
		if most, _ := w.peak(""); most != 1 {
			t.Errorf("%d in flight at most; want 1", most)
		}
		aioWantAvailable(t, f, "end", map[string]int{"localhost": 1})
	})
}

// aiohttp: test_error_on_connection_with_cancelled_waiter. limit=1: the
// first connect fails while the second is cancelled; the third gets the
// connection. fetch: the second's context ends, then the first fails, with
// no step between: the second fails with context.Canceled having sent
// nothing, and the third goes.
func TestPortAIOErrorOnConnectionWithCancelledWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fut1 := make(chan struct{})
		w := newAIOWireRT(aioRT(func(req *http.Request) (*http.Response, error) {
			if req.URL.Path == "/1" {
				<-fut1
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
			}
			return memhttp.Transport{Handler: http.HandlerFunc(ok)}.RoundTrip(req)
		}))
		f := aioNew(t, w, WithConcurrency(1), WithHostConcurrency(10), WithRetry(RetryPolicy{MaxAttempts: 1}))
		t1 := aioGo(f, "http://localhost/1")
		synctest.Wait()
		t2 := aioGo(f, "http://localhost/2")
		synctest.Wait()
		t3 := aioGo(f, "http://localhost/3")
		synctest.Wait()
		if _, host := w.inFlight("localhost"); host != 1 {
			t.Errorf("%d in flight to the host; want 1", host)
		}
		t2.cancel()
		close(fut1)
		synctest.Wait()
		if !t1.returned() || !errors.Is(t1.err, syscall.ECONNREFUSED) {
			t.Errorf("first call: returned %v, err %v; want ECONNREFUSED", t1.returned(), t1.err)
		}
		aioCancelled(t, w, t2, context.Canceled)
		if !t3.acquired() {
			t.Fatalf("third call: returned %v, err %v; want a response", t3.returned(), t3.err)
		}
		t3.release()
		if most, _ := w.peak(""); most != 1 {
			t.Errorf("%d in flight at most; want 1", most)
		}
		aioWantAvailable(t, f, "end", map[string]int{"localhost": 1})
	})
}

// aiohttp: test_connect_with_capacity_release_waiters. limit=1, the
// connection fails (OSError, RuntimeError, TimeoutError): no waiter is left
// behind. fetch: a refused connection, a transport that panics (a
// *PanicError), an attempt timeout, and, for Get, which reads the body, a
// body cut short and a body whose Read panics. Each fails the call (no
// retry), and leaves nothing waiting or in flight: a waiter queued behind
// it goes, and the slot is free.
func TestPortAIOConnectWithCapacityReleaseWaiters(t *testing.T) {
	bodyRT := func(read func() (int, error)) aioRT {
		return func(req *http.Request) (*http.Response, error) {
			return &http.Response{
				StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{}, ContentLength: -1, Request: req,
				Body: io.NopCloser(aioReader(func([]byte) (int, error) { return read() })),
			}, nil
		}
	}
	cases := []struct {
		name  string
		calls []string
		rt    aioRT
		want  func(error) bool
	}{
		{"OSError", []string{"Do", "Get"}, func(*http.Request) (*http.Response, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.EPERM}
		}, func(err error) bool { return errors.Is(err, syscall.EPERM) }},
		{"RuntimeError", []string{"Do", "Get"}, func(*http.Request) (*http.Response, error) {
			panic("runtime error in the transport")
		}, func(err error) bool { var pe *PanicError; return errors.As(err, &pe) }},
		{"TimeoutError", []string{"Do", "Get"}, func(req *http.Request) (*http.Response, error) {
			<-req.Context().Done()
			return nil, req.Context().Err()
		}, func(err error) bool { return errors.Is(err, ErrAttemptTimeout) }},
		{"body cut short", []string{"Get"}, bodyRT(func() (int, error) {
			time.Sleep(time.Second)
			return 0, syscall.ECONNRESET
		}), func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }},
		{"body panics", []string{"Get"}, bodyRT(func() (int, error) {
			time.Sleep(time.Second)
			panic("runtime error in the body")
		}), func(err error) bool { var pe *PanicError; return errors.As(err, &pe) }},
	}
	for _, tc := range cases {
		for _, call := range tc.calls {
			t.Run(tc.name+"/"+call, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					w := newAIOWireRT(aioRT(func(req *http.Request) (*http.Response, error) {
						if req.URL.Path == "/fail" {
							return tc.rt(req)
						}
						return memhttp.Transport{Handler: http.HandlerFunc(ok)}.RoundTrip(req)
					}))
					f := aioNew(t, w, WithConcurrency(1), WithRetry(RetryPolicy{MaxAttempts: 1}), WithAttemptTimeout(time.Second))
					var failing *aioCall
					var getErr chan error
					if call == "Do" {
						failing = aioGo(f, "http://host/fail")
					} else {
						getErr = make(chan error, 1)
						go func() {
							_, err := f.Get(context.Background(), "http://host/fail")
							getErr <- err
						}()
					}
					synctest.Wait()
					waiter := aioGo(f, "http://host/waiter")
					var err error
					if call == "Do" {
						<-failing.done
						if failing.resp != nil {
							failing.resp.Body.Close()
							t.Error("Do returned a response")
						}
						err = failing.err
					} else {
						err = <-getErr
					}
					if !tc.want(err) {
						t.Errorf("err = %v; want the %s", err, tc.name)
					}
					synctest.Wait()
					if !waiter.acquired() {
						t.Fatalf("the waiter behind it: returned %v, err %v; want a response", waiter.returned(), waiter.err)
					}
					waiter.release()
					if s := f.Stats(); s.Waiting != 0 || s.InFlight != 0 {
						t.Errorf("Stats.Waiting, InFlight = %d, %d; want 0, 0", s.Waiting, s.InFlight)
					}
					if all, _ := w.inFlight(""); all != 0 {
						t.Errorf("%d in flight on the wire; want 0", all)
					}
					if most, _ := w.peak(""); most != 1 {
						t.Errorf("%d in flight at most; want 1", most)
					}
					aioWantAvailable(t, f, "end", map[string]int{"host": 1})
				})
			})
		}
	}
}

// aioReader is an io.Reader made of a function.
type aioReader func([]byte) (int, error)

func (r aioReader) Read(p []byte) (int, error) { return r(p) }

// aiohttp: test_connect_with_limit_concurrent. limit=2, a crawler-like
// fan-out of 50 requests, each spawning 3 more: only 2 connections are ever
// created. fetch, in memory: never more than 2 in flight, and 2 reached.
// Over loopback: the client New builds opens no more than 2 connections to
// the server ("keeping as many idle connections per host as requests it
// lets in flight to one host").
func TestPortAIOConnectWithLimitConcurrent(t *testing.T) {
	const maxConnections, maxRequests = 2, 50
	const startRequests = maxConnections + 1
	crawl := func(get func(i int64)) {
		var num atomic.Int64
		var spawn func(start bool)
		spawn = func(start bool) {
			n := num.Add(1)
			if n > maxRequests {
				return
			}
			if !start {
				get(n)
			}
			var wg sync.WaitGroup
			for range startRequests {
				wg.Go(func() { spawn(false) })
			}
			wg.Wait()
		}
		spawn(true)
	}
	t.Run("memory", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newAIOWire(nil)
			f := aioNew(t, w, WithConcurrency(maxConnections))
			crawl(func(i int64) {
				resp, err := f.Do(mustGet(t, fmt.Sprintf("http://host/%d", i)))
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Millisecond) // does something with it
				resp.Body.Close()
			})
			if most, _ := w.peak(""); most != maxConnections {
				t.Errorf("%d in flight at most; want %d", most, maxConnections)
			}
			if got := len(w.arrived()); got != maxRequests-1 {
				t.Errorf("%d requests sent; want %d", got, maxRequests-1)
			}
		})
	})
	// Every kind of caller at once on one Fetcher: two batches, a stream,
	// and Get and Do from many goroutines, over five hosts, limit=3 and
	// limit_per_host=1: the caps hold across them all, and are reached.
	t.Run("mixed callers", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newAIOWire(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if !strings.HasPrefix(r.URL.Path, "/probe") { // aioAvailable's probes answer at once
					time.Sleep(time.Duration(1+len(r.URL.Path)%4) * time.Millisecond)
				}
				rw.Write([]byte("ok"))
			}))
			f := aioNew(t, w, WithConcurrency(3), WithHostConcurrency(1))
			hosts := []string{"h0", "h1", "h2", "h3", "h4"}
			urls := func(kind string, n int) []string {
				var us []string
				for i := range n {
					us = append(us, fmt.Sprintf("http://%s/%s%s", hosts[(i*7+len(kind))%len(hosts)], kind, strings.Repeat("x", i%5)))
				}
				return us
			}
			var wg sync.WaitGroup
			check := func(what string, err error) {
				if err != nil {
					t.Errorf("%s: %v", what, err)
				}
			}
			wg.Go(func() {
				for _, r := range f.GetAll(context.Background(), urls("getall", 30)) {
					check("GetAll", r.Err)
				}
			})
			wg.Go(func() {
				var reqs []*http.Request
				for _, u := range urls("doall", 20) {
					reqs = append(reqs, mustGet(t, u))
				}
				for _, r := range f.DoAll(context.Background(), reqs) {
					check("DoAll", r.Err)
				}
			})
			wg.Go(func() {
				for r := range f.Stream(context.Background(), slices.Values(urls("stream", 30))) {
					check("Stream", r.Err)
				}
			})
			for _, u := range urls("get", 15) {
				wg.Go(func() { _, err := f.Get(context.Background(), u); check("Get", err) })
			}
			for _, u := range urls("do", 15) {
				wg.Go(func() {
					resp, err := f.Do(mustGet(t, u))
					check("Do", err)
					if err == nil {
						time.Sleep(2 * time.Millisecond) // holds its slot while it reads
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				})
			}
			wg.Wait()
			if most, _ := w.peak(""); most != 3 {
				t.Errorf("%d in flight at most; want 3", most)
			}
			for _, h := range hosts {
				if _, most := w.peak(h); most != 1 {
					t.Errorf("%s: %d in flight at most; want 1", h, most)
				}
			}
			if got := len(w.arrived()); got != 110 {
				t.Errorf("%d requests sent; want 110", got)
			}
			if s := f.Stats(); s.Waiting != 0 || s.InFlight != 0 {
				t.Errorf("Stats.Waiting, InFlight = %d, %d; want 0, 0", s.Waiting, s.InFlight)
			}
			aioWantAvailable(t, f, "end", map[string]int{"h0": 1, "h4": 1})
		})
	})
	t.Run("loopback", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		var conns, running, most atomic.Int64
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := running.Add(1)
			defer running.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(time.Millisecond)
			w.Write([]byte("ok"))
		}))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		srv.Start()
		defer srv.Close()
		f, err := New(WithConcurrency(maxConnections))
		if err != nil {
			t.Fatal(err)
		}
		crawl(func(int64) {
			if _, err := f.Get(context.Background(), srv.URL+"/"); err != nil {
				t.Error(err)
			}
		})
		if err := f.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if m := most.Load(); m > maxConnections {
			t.Errorf("the server saw %d requests at once; want at most %d", m, maxConnections)
		}
		if n := conns.Load(); n > maxConnections {
			t.Errorf("%d connections opened; want at most %d", n, maxConnections)
		}
	})
}

// ---------------------------------------------------------------------------
// Tracing signals
// ---------------------------------------------------------------------------

// aiohttp: test_connect_queued_operation_tracing. limit=1: a connect that
// queues fires on_connection_queued_start and, once it has its
// connection, on_connection_queued_end. fetch: OnCall runs "before it
// waits at any gate"; while it waits Stats.Waiting counts it; its attempt's
// AttemptInfo.Waited says how long it waited at the gates (10ms here), and
// the first call's none.
func TestPortAIOConnectQueuedOperationTracing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		called := map[string]time.Time{}
		waited := map[string]time.Duration{}
		w := newAIOWire(nil)
		f := aioNew(t, w, WithConcurrency(1), WithHooks(Hooks{
			OnCall: func(ctx context.Context, info CallInfo) context.Context {
				mu.Lock()
				defer mu.Unlock()
				called[info.Request.URL.Path] = time.Now()
				return nil
			},
			OnAttempt: func(a AttemptInfo) {
				mu.Lock()
				defer mu.Unlock()
				waited[a.Request.URL.Path] = a.Waited
			},
		}))
		start := time.Now()
		c1 := aioGo(f, "http://localhost1/1")
		synctest.Wait()
		c2 := aioGo(f, "http://localhost1/2")
		synctest.Wait()
		mu.Lock()
		if at, ok := called["/2"]; !ok || !at.Equal(start) {
			t.Errorf("OnCall of the queued call: ran %v, at %v; want it to have run at once, before the wait", ok, at.Sub(start))
		}
		mu.Unlock()
		if s := f.Stats(); s.Waiting != 1 || s.InFlight != 1 {
			t.Errorf("Stats.Waiting, InFlight = %d, %d; want 1, 1", s.Waiting, s.InFlight)
		}
		time.Sleep(10 * time.Millisecond)
		c1.release()
		synctest.Wait()
		if !c2.acquired() {
			t.Fatalf("the queued call: returned %v, err %v; want a response", c2.returned(), c2.err)
		}
		c2.release()
		mu.Lock()
		defer mu.Unlock()
		if waited["/1"] != 0 || waited["/2"] != 10*time.Millisecond {
			t.Errorf("AttemptInfo.Waited: first %v, queued %v; want 0, 10ms", waited["/1"], waited["/2"])
		}
		if s := f.Stats(); s.Waiting != 0 {
			t.Errorf("Stats.Waiting = %d; want 0", s.Waiting)
		}
	})
}

// aiohttp: test_exception_during_connection_queued_tracing. limit=1: the
// on_connection_queued_start signal raises; afterwards, with the first
// connection closed, no waiter and no connection is left. fetch: the
// queued call's OnCall panics, before it waits: the call fails with a
// *PanicError having taken nothing, and the holder's slot is untouched.
func TestPortAIOExceptionDuringConnectionQueuedTracing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newAIOWire(nil)
		f := aioNew(t, w, WithConcurrency(1), WithHooks(Hooks{
			OnCall: func(ctx context.Context, info CallInfo) context.Context {
				if info.Request.URL.Path == "/queued" {
					panic("cancelled in on_connection_queued_start")
				}
				return nil
			},
		}))
		holder := aioGo(f, "http://host/holder")
		synctest.Wait()
		c := aioGo(f, "http://host/queued")
		synctest.Wait()
		var pe *PanicError
		if !c.returned() || !errors.As(c.err, &pe) {
			t.Fatalf("queued call: returned %v, err %v; want a *PanicError", c.returned(), c.err)
		}
		if w.saw("host/queued") {
			t.Error("the call whose hook panicked reached the wire")
		}
		aioWantAvailable(t, f, "holder in flight", map[string]int{"host": 0})
		holder.release()
		if s := f.Stats(); s.Waiting != 0 || s.InFlight != 0 {
			t.Errorf("Stats.Waiting, InFlight = %d, %d; want 0, 0", s.Waiting, s.InFlight)
		}
		aioWantAvailable(t, f, "end", map[string]int{"host": 1})
	})
}

// aiohttp: test_exception_during_connetion_create_tracing, for
// on_connection_create_start and on_connection_create_end raising: nothing
// is left acquired. fetch: each hook panics in turn: OnCall (for Do before
// the gates; for a batch input after the scheduler took its slot),
// OnAttempt (after the attempt, the body held), OnRetry (before the wait
// to retry a 503) and OnDone (as the call returns). The call fails with a
// *PanicError and "gives up everything it holds".
func TestPortAIOExceptionDuringConnetionCreateTracing(t *testing.T) {
	for _, hook := range []string{"OnCall", "OnAttempt", "OnRetry", "OnDone"} {
		for _, call := range []string{"Do", "GetAll"} {
			t.Run(hook+"/"+call, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					boom := func(path string) {
						if path == "/boom" {
							panic("cancelled in " + hook)
						}
					}
					var hooks Hooks
					switch hook {
					case "OnCall":
						hooks.OnCall = func(ctx context.Context, info CallInfo) context.Context {
							boom(info.Request.URL.Path)
							return nil
						}
					case "OnAttempt":
						hooks.OnAttempt = func(a AttemptInfo) { boom(a.Request.URL.Path) }
					case "OnRetry":
						hooks.OnRetry = func(r RetryInfo) { boom(r.Request.URL.Path) }
					case "OnDone":
						hooks.OnDone = func(d DoneInfo) { boom(d.Request.URL.Path) }
					}
					w := newAIOWire(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
						if hook == "OnRetry" && r.URL.Path == "/boom" {
							rw.WriteHeader(http.StatusServiceUnavailable) // retried: OnRetry runs
							return
						}
						rw.Write([]byte("ok"))
					}))
					f := aioNew(t, w, WithConcurrency(2), WithHostConcurrency(1), WithHooks(hooks))
					var err error
					if call == "Do" {
						c := aioGo(f, "http://host/boom")
						<-c.done
						if c.resp != nil {
							c.resp.Body.Close()
						}
						err = c.err
					} else {
						rs := f.GetAll(context.Background(), []string{"http://host/boom", "http://host/1"})
						err = rs[0].Err
						if rs[1].Err != nil {
							t.Errorf("the other input: %v", rs[1].Err)
						}
					}
					var pe *PanicError
					if !errors.As(err, &pe) {
						t.Errorf("err = %v; want a *PanicError", err)
					}
					synctest.Wait()
					if s := f.Stats(); s.Waiting != 0 || s.InFlight != 0 {
						t.Errorf("Stats.Waiting, InFlight = %d, %d; want 0, 0", s.Waiting, s.InFlight)
					}
					if all, _ := w.inFlight(""); all != 0 {
						t.Errorf("%d in flight on the wire; want 0 (the body was not closed)", all)
					}
					aioWantAvailable(t, f, "end", map[string]int{"host": 1, "otherhost": 1})
				})
			})
		}
	}
}
