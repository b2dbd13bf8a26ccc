package fetch

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type rcKey struct{ name string }

// rcSlow answers after d unless the request's context ends first, and
// records the values its request's context carries under rcKey "trace".
func rcSlow(d time.Duration, seen *sync.Map) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			seen.Store(r.URL.Path, fmt.Sprint(r.Context().Value(rcKey{"trace"})))
		}
		select {
		case <-time.After(d):
			w.Write([]byte("ok"))
		case <-r.Context().Done():
		}
	}
}

// The reviewer's case: a request with a 50 ms timeout and a trace value
// of its own, among requests without, to a server that answers in 300 ms.
// Its own deadline ends it, and it alone, at 50 ms with
// context.DeadlineExceeded; the others go on; the hooks and the transport
// see its values.
func TestRequestContextOwnDeadline(t *testing.T) {
	calls := map[string]func(f *Fetcher, ctx context.Context, reqs []*http.Request) []Result{
		"DoAll": func(f *Fetcher, ctx context.Context, reqs []*http.Request) []Result {
			return f.DoAll(ctx, reqs)
		},
		"StreamRequests": func(f *Fetcher, ctx context.Context, reqs []*http.Request) []Result {
			rs := make([]Result, len(reqs))
			for r := range f.StreamRequests(ctx, slices.Values(reqs)) {
				rs[r.Index] = r
			}
			return rs
		},
		"StreamFunc": func(f *Fetcher, ctx context.Context, reqs []*http.Request) []Result {
			rs := make([]Result, len(reqs))
			build := func(_ context.Context, r *http.Request) (*http.Request, error) { return r, nil }
			for r := range StreamFunc(ctx, f, slices.Values(reqs), build) {
				rs[r.Index] = r
			}
			return rs
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var seen, hooked, attempted sync.Map
				f := newMem(t, rcSlow(300*time.Millisecond, &seen), WithHooks(Hooks{
					OnCall: func(ctx context.Context, info CallInfo) context.Context {
						hooked.Store(info.Request.URL.Path, fmt.Sprint(ctx.Value(rcKey{"trace"}), " ", ctx.Value(rcKey{"call"})))
						return ctx
					},
					OnAttempt: func(a AttemptInfo) {
						attempted.Store(a.Request.URL.Path, fmt.Sprint(a.Request.Context().Value(rcKey{"trace"})))
					},
				}))
				own, cancel := context.WithTimeout(context.WithValue(context.Background(), rcKey{"trace"}, "span-1"), 50*time.Millisecond)
				defer cancel()
				mine := mustGet(t, "http://a.test/mine").WithContext(own)
				others := []*http.Request{mustGet(t, "http://a.test/other"), mustGet(t, "http://b.test/other")}
				ctx := context.WithValue(context.Background(), rcKey{"call"}, "call's")
				start := time.Now()
				rs := call(f, ctx, append([]*http.Request{mine}, others...))
				if r := rs[0]; !errors.Is(r.Err, context.DeadlineExceeded) || r.Status != 0 || r.Duration != 50*time.Millisecond {
					t.Errorf("own deadline: status %d, err %v, after %v; want context.DeadlineExceeded after 50ms", r.Status, r.Err, r.Duration)
				}
				for _, r := range rs[1:] {
					if r.Err != nil || r.Status != 200 || r.Duration != 300*time.Millisecond {
						t.Errorf("%s: status %d, err %v, after %v; want 200 after 300ms", r.URL, r.Status, r.Err, r.Duration)
					}
				}
				if d := time.Since(start); d != 300*time.Millisecond {
					t.Errorf("the call took %v; want 300ms", d)
				}
				if v, _ := hooked.Load("/mine"); v != "span-1 call's" {
					t.Errorf("OnCall saw %q; want the request's value and the call's (span-1 call's)", v)
				}
				if v, _ := attempted.Load("/mine"); v != "span-1" {
					t.Errorf("OnAttempt's request carried %q; want span-1", v)
				}
				if v, _ := seen.Load("/mine"); v != "span-1" {
					t.Errorf("the transport's request carried %q; want span-1", v)
				}
				if mine.Context() != own {
					t.Error("the caller's request's context was changed")
				}
			})
		})
	}
}

// Where the request's context and the call's hold the same key, the
// request's value wins: it is the more specific.
func TestRequestContextValuesRequestWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hooked sync.Map
		f := newMem(t, http.HandlerFunc(ok), WithHooks(Hooks{
			OnCall: func(ctx context.Context, info CallInfo) context.Context {
				hooked.Store(info.Request.URL.Path, fmt.Sprint(ctx.Value(rcKey{"logger"})))
				return ctx
			},
		}))
		ctx := context.WithValue(context.Background(), rcKey{"logger"}, "call's")
		own := context.WithValue(context.Background(), rcKey{"logger"}, "request's")
		cancellable, cancel := context.WithCancel(own)
		defer cancel()
		reqs := []*http.Request{
			mustGet(t, "http://a.test/values").WithContext(own),              // never ends: values only
			mustGet(t, "http://a.test/cancellable").WithContext(cancellable), // may end: merged
			mustGet(t, "http://a.test/plain"),                                // http.NewRequest's: the call's
		}
		for _, r := range f.DoAll(ctx, reqs) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		want := map[string]string{"/values": "request's", "/cancellable": "request's", "/plain": "call's"}
		for path, w := range want {
			if v, _ := hooked.Load(path); v != w {
				t.Errorf("%s: OnCall saw %q; want %q", path, v, w)
			}
		}
	})
}

// The call's context still ends every request, whatever the request's
// own: its deadline, earlier than the request's, fails them with
// context.DeadlineExceeded (not a cancellation), and a fail-fast call's
// first failure cancels the rest, with their own contexts.
func TestRequestContextCallStillEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, rcSlow(time.Hour, nil))
		own, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ctx, cancelCall := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancelCall()
		rs := f.DoAll(ctx, []*http.Request{mustGet(t, "http://a.test/").WithContext(own)})
		if r := rs[0]; !errors.Is(r.Err, context.DeadlineExceeded) || r.Duration != 50*time.Millisecond {
			t.Errorf("call's deadline: err %v after %v; want context.DeadlineExceeded after 50ms", r.Err, r.Duration)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/fail" {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			<-r.Context().Done()
		}))
		own, cancel := context.WithCancel(context.Background())
		defer cancel()
		rs, err := f.DoAllFailFast(t.Context(), []*http.Request{
			mustGet(t, "http://a.test/hang").WithContext(own),
			mustGet(t, "http://b.test/fail"),
		})
		var se *StatusError
		if !errors.As(err, &se) || !errors.Is(rs[0].Err, context.Canceled) {
			t.Errorf("fail-fast: err %v, hanging request's %v; want the 404, and context.Canceled", err, rs[0].Err)
		}
	})
}

// A request given to StreamFunc or Handle made with a context other than
// the one newRequest is given (here http.NewRequest's) is still ended by
// the stream's: breaking out of the loop cancels it.
func TestRequestContextStreamFuncBreakEndsOwnRequests(t *testing.T) {
	build := func(_ context.Context, u string) (*http.Request, error) {
		return http.NewRequest(http.MethodGet, u, nil)
	}
	for _, name := range []string{"StreamFunc", "Handle"} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var cancelled atomic.Int64
				f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/fast" {
						return
					}
					select {
					case <-r.Context().Done():
						cancelled.Add(1)
					case <-time.After(time.Hour):
					}
				}))
				in := slices.Values([]string{"http://a.test/slow", "http://b.test/fast"})
				start := time.Now()
				if name == "StreamFunc" {
					for range StreamFunc(t.Context(), f, in, build) {
						break
					}
				} else {
					handle := func(string, *http.Response) (int, error) { return 0, nil }
					for range Handle(t.Context(), f, in, build, handle) {
						break
					}
				}
				if d := time.Since(start); d != 0 || cancelled.Load() != 1 {
					t.Errorf("the break returned after %v, %d request cancelled; want at once, 1", d, cancelled.Load())
				}
			})
		})
	}
}

// A request whose own context ended before it was dispatched fails with
// that error, unsent, and takes nothing another request could use: here
// the host's one token a second, which the next request gets at once.
func TestRequestContextEndedBeforeDispatch(t *testing.T) {
	for _, when := range []string{"before the call", "while queued"} {
		t.Run(when, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(ok)
				f := newMem(t, c, WithHostRate(1, 1))
				own, cancel := context.WithCancel(context.Background())
				if when == "before the call" {
					cancel()
				} else {
					time.AfterFunc(500*time.Millisecond, cancel)
				}
				defer cancel()
				body := &brBody{Reader: strings.NewReader("x")}
				dead, _ := http.NewRequestWithContext(own, http.MethodPut, "http://a.test/dead", body)
				start := time.Now()
				rs := f.DoAll(t.Context(), []*http.Request{
					mustGet(t, "http://a.test/1"), dead, mustGet(t, "http://a.test/3"),
				})
				if r := rs[1]; !errors.Is(r.Err, context.Canceled) || r.Attempts != 0 || body.closes.Load() != 1 {
					t.Errorf("dead request: err %v, %d attempts, body closed %d times; want context.Canceled, none, once", r.Err, r.Attempts, body.closes.Load())
				}
				if rs[0].Err != nil || rs[2].Err != nil {
					t.Errorf("the others failed: %v, %v", rs[0].Err, rs[2].Err)
				}
				times := c.times()
				if len(times) != 2 || times[1].Sub(start) != time.Second {
					t.Errorf("sent %d requests, at %v; want 2, the second at 1s (the dead one took no token)", len(times), times)
				}
				if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
					t.Errorf("Stats after the call: %+v; want nothing held", s)
				}
			})
		})
	}
}

// The scheduler's deadline checks see a request's own deadline: a request
// whose host's next token is due after it fails at once with
// context.DeadlineExceeded, unsent, rather than at its deadline or after
// waiting for the token.
func TestRequestContextOwnDeadlineAtTheHostsQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, WithHostRate(0.1, 1)) // a token every 10s
		own, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		var at []time.Duration
		var results []Result
		for r := range f.StreamRequests(t.Context(), slices.Values([]*http.Request{
			mustGet(t, "http://a.test/1"), mustGet(t, "http://a.test/late").WithContext(own),
		})) {
			at = append(at, time.Since(start))
			results = append(results, r)
		}
		late := results[slices.IndexFunc(results, func(r Result) bool { return r.Index == 1 })]
		if !errors.Is(late.Err, context.DeadlineExceeded) || late.Attempts != 0 || c.n.Load() != 1 {
			t.Errorf("late request: err %v, %d attempts, %d sent in all; want context.DeadlineExceeded, unsent, 1 sent", late.Err, late.Attempts, c.n.Load())
		}
		if slices.Max(at) != 0 {
			t.Errorf("results came at %v; want all at once", at)
		}
	})
}

// rcCounting is a context that counts the watches registered on it (the
// context package registers a context made from it, and an AfterFunc, by
// calling its AfterFunc method), so that a test can see that every one is
// stopped again.
type rcCounting struct {
	context.Context
	live, peak atomic.Int64
}

// Value hides the context it is made from from the context package, which
// asks for it under a key of its own to register with it directly.
func (c *rcCounting) Value(key any) any {
	v := c.Context.Value(key)
	if _, isContext := v.(context.Context); isContext {
		return nil
	}
	return v
}

func (c *rcCounting) AfterFunc(f func()) func() bool {
	if n := c.live.Add(1); n > c.peak.Load() {
		c.peak.Store(n)
	}
	stop := context.AfterFunc(c.Context, f)
	var once sync.Once
	return func() bool {
		once.Do(func() { c.live.Add(-1) })
		return stop()
	}
}

func newCounting(t *testing.T) *rcCounting {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &rcCounting{Context: ctx}
}

// What a request's merged context sets up on the request's context and on
// the call's is released once its result is delivered, or once it is
// dropped unsent (an early break): neither context holds a watch after
// the call.
func TestRequestContextReleased(t *testing.T) {
	var yielded atomic.Int64
	reqs := func(t *testing.T, own context.Context, n int) iter.Seq[*http.Request] {
		return func(yield func(*http.Request) bool) {
			for i := range n {
				yielded.Add(1)
				if !yield(mustGet(t, fmt.Sprintf("http://a.test/%d", i)).WithContext(own)) {
					return
				}
			}
		}
	}
	t.Run("DoAll", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newMem(t, http.HandlerFunc(ok), WithHostConcurrency(2))
			own, call := newCounting(t), newCounting(t)
			for _, r := range f.DoAll(call, slices.Collect(reqs(t, own, 20))) {
				if r.Err != nil {
					t.Fatal(r.Err)
				}
			}
			if own.peak.Load() == 0 || own.live.Load() != 0 || call.live.Load() != 0 {
				t.Errorf("watches on the request's context: %d at most, %d left; on the call's: %d left; want some, none left, none left",
					own.peak.Load(), own.live.Load(), call.live.Load())
			}
		})
	})
	t.Run("StreamRequests", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newMem(t, rcSlow(time.Second, nil), WithHostConcurrency(1))
			own, call := newCounting(t), newCounting(t)
			yielded.Store(0)
			delivered := int64(0)
			for r := range f.StreamRequests(call, reqs(t, own, 20)) {
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				delivered++
				// Each request read and not yet delivered holds one watch
				// on its own context; a delivered one, none.
				if live, pending := own.live.Load(), yielded.Load()-delivered; live > pending || live == 0 && pending > 0 {
					t.Fatalf("after %d results: %d watches on the request's context; want one per request read and not delivered (%d)", delivered, live, pending)
				}
			}
			if own.live.Load() != 0 || call.live.Load() != 0 {
				t.Errorf("watches left: %d on the request's context, %d on the call's; want none", own.live.Load(), call.live.Load())
			}
		})
	})
	t.Run("StreamRequests break", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newMem(t, rcSlow(time.Second, nil), WithHostConcurrency(1))
			own, call := newCounting(t), newCounting(t)
			for r := range f.StreamRequests(call, reqs(t, own, 20)) {
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				break
			}
			synctest.Wait() // the reading goroutine, which is not waited for, ends at the input's next yield
			if own.peak.Load() < 2 || own.live.Load() != 0 || call.live.Load() != 0 {
				t.Errorf("watches on the request's context: %d at most, %d left; on the call's: %d left; want several, none left, none left",
					own.peak.Load(), own.live.Load(), call.live.Load())
			}
		})
	})
}

// Over a real connection, the request's own context ending (here
// cancelled while the server holds the request) aborts it on the wire,
// as it would with http.Client.Do: the server sees the request's context
// end, and the result is context.Canceled, while the call's context is
// still live.
func TestRequestContextCancelsOnTheWire(t *testing.T) {
	arrived := make(chan struct{})
	serverSaw := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
			serverSaw <- r.Context().Err()
		case <-time.After(5 * time.Second): // the request was not aborted
			serverSaw <- nil
			w.Write([]byte("late"))
		}
	}))
	defer srv.Close()
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	own, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(own, http.MethodGet, srv.URL, nil)
	done := make(chan Result, 1)
	go func() { done <- f.DoAll(t.Context(), []*http.Request{req})[0] }()
	<-arrived
	cancel()
	r := <-done
	if !errors.Is(r.Err, context.Canceled) || r.Status != 0 {
		t.Errorf("status %d, err %v; want context.Canceled, no response", r.Status, r.Err)
	}
	if err := <-serverSaw; err == nil {
		t.Error("the server answered: the request was not aborted")
	}
}

// rcMapContext is a context of a type that == cannot compare.
type rcMapContext struct {
	context.Context
	m map[string]int
}

// A call's and a request's contexts of a type that cannot be compared
// (a struct holding a map) are merged like any others, not compared.
func TestRequestContextUncomparable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		ctx := rcMapContext{Context: t.Context(), m: map[string]int{}}
		rs := f.DoAll(ctx, []*http.Request{mustGet(t, "http://a.test/").WithContext(ctx)})
		if rs[0].Err != nil || len(ctx.m) != 0 {
			t.Fatal(rs[0].Err)
		}
	})
}
