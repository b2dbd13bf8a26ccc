package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// holdsCap checks that f lets no more than n calls to url hold a body at
// once: n bodies held under contexts that never end, a call after them
// waits for a slot until its deadline. A slot given back twice would let
// that call through.
func holdsCap(t *testing.T, f *Fetcher, url string, n int) {
	t.Helper()
	var held []*http.Response
	for range n {
		resp, err := f.Do(mustGet(t, url))
		if err != nil {
			t.Fatalf("Do with a slot free: %v", err)
		}
		held = append(held, resp)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if resp, err := f.Do(mustGet(t, url).WithContext(ctx)); !errors.Is(err, context.DeadlineExceeded) {
		if resp != nil {
			resp.Body.Close()
		}
		t.Errorf("Do with %d bodies held: err = %v; want it to wait for a slot until its deadline (no slot given back twice)", n, err)
	}
	for _, resp := range held {
		resp.Body.Close()
	}
}

// The reviewer's case: two Do bodies (404s) the caller forgot to close,
// each call's context cancelled afterwards, held both of the host's slots
// for ever: the next call to the host waited until its deadline, and
// Shutdown until its context ended. The attempt is over when its context
// ends, and the slots are given back then; closing the bodies later gives
// back nothing twice.
func TestUnclosedBodyGivesBackSlotWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.NotFoundHandler(), WithHostConcurrency(2), WithConcurrency(4))
		var forgotten []io.ReadCloser
		for range 2 {
			ctx, cancel := context.WithCancel(t.Context())
			resp, err := f.Do(mustGet(t, "http://a.test/missing").WithContext(ctx))
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("status %d; want 404", resp.StatusCode)
			}
			forgotten = append(forgotten, resp.Body)
			cancel()
		}
		synctest.Wait()
		if s := f.Stats(); s.InFlight != 0 {
			t.Errorf("InFlight = %d once the bodies' contexts ended; want 0", s.InFlight)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		resp, err := f.Do(mustGet(t, "http://a.test/x").WithContext(ctx))
		if err != nil {
			t.Fatalf("Do after the bodies' contexts ended: %v; want a slot at once", err)
		}
		resp.Body.Close()
		for _, b := range forgotten {
			b.Close() // late: gives back nothing more
		}
		if s := f.Stats(); s.InFlight != 0 {
			t.Errorf("InFlight after the late closes = %d; want 0", s.InFlight)
		}
		holdsCap(t, f, "http://a.test/x", 2)
		if err := f.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v; want nil", err)
		}
	})
}

// Under WithAttemptTimeout too, a body left open gives back its slot when
// its call's context ends (ending the attempt's timeout with it), and
// once only. The attempt's own timeout running out does not: it ends the
// body's reads, and the body keeps its slot until closed, as Do documents.
func TestUnclosedBodyGivesBackSlotUnderAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithHostConcurrency(1), WithAttemptTimeout(time.Minute))
		ctx, cancel := context.WithCancel(t.Context())
		resp, err := f.Do(mustGet(t, "http://a.test/x").WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // the bubble's clock: within the attempt's time
		if s := f.Stats(); s.InFlight != 1 {
			t.Errorf("InFlight with the body open = %d; want 1", s.InFlight)
		}
		cancel()
		synctest.Wait()
		if s := f.Stats(); s.InFlight != 0 {
			t.Errorf("InFlight once the call's context ended = %d; want 0", s.InFlight)
		}
		resp.Body.Close() // late: gives back nothing more
		holdsCap(t, f, "http://a.test/x", 1)
		sctx, scancel := context.WithTimeout(t.Context(), time.Second)
		defer scancel()
		if err := f.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v; want nil", err)
		}
	})
}

// Over a real connection: the next call waits in line for the slot of a
// body left open, and gets it when that body's context is cancelled;
// Shutdown then does not wait for the body.
func TestUnclosedBodyGivesBackSlotOverNetwork(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	f, err := New(WithHostConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	resp, err := f.Do(mustGet(t, srv.URL).WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	waiting := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		resp, err := f.Do(mustGet(t, srv.URL).WithContext(ctx))
		if err == nil {
			resp.Body.Close()
		}
		waiting <- err
	}()
	cancel() // the first call's: its body holds its slot no longer
	if err := <-waiting; err != nil {
		t.Errorf("Do waiting for the slot: %v; want the slot once the open body's context ended", err)
	}
	sctx, scancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer scancel()
	if err := f.Shutdown(sctx); err != nil {
		t.Errorf("Shutdown with a body left open, its context ended: %v; want nil", err)
	}
}

// rwcBody is the connection of an upgraded response, in memory.
type rwcBody struct {
	io.Reader
	io.Writer
}

func (rwcBody) Close() error { return nil }

// The connection a 101 Switching Protocols response hands over outlives the
// request's context, as in net/http, and keeps its slot until closed.
func TestUpgradedBodyKeepsSlotWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := New(WithClient(&http.Client{Transport: aioRT(func(r *http.Request) (*http.Response, error) {
			return &http.Response{
				StatusCode: http.StatusSwitchingProtocols, Status: "101 Switching Protocols",
				Header:  http.Header{"Upgrade": {"echo"}, "Connection": {"Upgrade"}},
				Body:    rwcBody{strings.NewReader(""), io.Discard},
				Request: r, ProtoMajor: 1, ProtoMinor: 1,
			}, nil
		})}), WithHostConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		resp, err := f.Do(mustGet(t, "http://a.test/ws").WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := resp.Body.(io.ReadWriteCloser); !ok {
			t.Fatalf("the body of a 101 (%T) is not an io.ReadWriteCloser", resp.Body)
		}
		cancel()
		synctest.Wait()
		if s := f.Stats(); s.InFlight != 1 {
			t.Errorf("InFlight with the upgraded connection open, its request's context ended = %d; want 1", s.InFlight)
		}
		resp.Body.Close()
		if s := f.Stats(); s.InFlight != 0 {
			t.Errorf("InFlight once the upgraded connection is closed = %d; want 0", s.InFlight)
		}
	})
}

// opaqueCtx is a context with a Done channel of its own, which
// context.AfterFunc watches with a goroutine; Err counts its calls once
// armed.
type opaqueCtx struct {
	context.Context
	done  chan struct{}
	armed atomic.Bool
	errs  atomic.Int32
}

func (c *opaqueCtx) Done() <-chan struct{} { return c.done }

func (c *opaqueCtx) Err() error {
	if c.armed.Load() {
		c.errs.Add(1)
	}
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// Closing a body stops the watch on its context: nothing is left waiting
// for a context that outlives the call (a server's, a process's), which
// would pile up one watch per call.
func TestClosedBodyStopsWatchingContext(t *testing.T) {
	for _, tc := range []struct {
		name string
		done func(io.ReadCloser)
	}{
		{"Close", func(b io.ReadCloser) { b.Close() }},
		{"EOF", func(b io.ReadCloser) { io.ReadAll(b) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newMem(t, http.HandlerFunc(ok))
				ctx := &opaqueCtx{Context: context.Background(), done: make(chan struct{})}
				resp, err := f.Do(mustGet(t, "http://a.test/x").WithContext(ctx))
				if err != nil {
					t.Fatal(err)
				}
				tc.done(resp.Body)
				synctest.Wait()
				ctx.armed.Store(true)
				close(ctx.done) // a watch still waiting would now ask ctx.Err
				synctest.Wait()
				if n := ctx.errs.Load(); n != 0 {
					t.Errorf("ctx.Err called %d times after the body was done with; want 0 (the watch stopped)", n)
				}
				resp.Body.Close()
			})
		})
	}
}

// A call that gives up waiting for an in-flight slot says how many are
// taken and that a body left open keeps its slot.
func TestSlotWaitErrorHintsAtOpenBodies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithHostConcurrency(1))
		resp, err := f.Do(mustGet(t, "http://a.test/x"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err = f.Do(mustGet(t, "http://a.test/y").WithContext(ctx))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v; want it to match context.DeadlineExceeded", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "1 of 1 taken") || !strings.Contains(msg, "response body keeps its slot") {
			t.Errorf("err = %q; want it to say 1 of 1 slots are taken, and that a body keeps its slot", msg)
		}
	})
}

// WithMaxBodySize(-1) lifts the cap, as the per-call MaxBodySize(-1) does;
// 0 and other negative values are refused.
func TestWithMaxBodySizeMinusOneLiftsCap(t *testing.T) {
	for _, n := range []int64{0, -2, math.MinInt64} {
		if _, err := New(WithMaxBodySize(n)); err == nil || !strings.Contains(err.Error(), "WithMaxBodySize") {
			t.Errorf("New(WithMaxBodySize(%d)) = %v; want an error naming the option", n, err)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		big := strings.Repeat("x", DefaultMaxBodySize+1)
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, big)
		}), WithMaxBodySize(-1))
		body, err := f.Get(t.Context(), "http://a.test/big")
		if err != nil || len(body) != len(big) {
			t.Errorf("Get of %d bytes with WithMaxBodySize(-1) = %d bytes, %v; want them all", len(big), len(body), err)
		}
		// The per-call cap still applies in its place.
		if _, err := f.Get(t.Context(), "http://a.test/big", MaxBodySize(10)); !errors.Is(err, ErrBodyTooLarge) {
			t.Errorf("Get with MaxBodySize(10) = %v; want ErrBodyTooLarge", err)
		}
	})
}

// A Retry-After read off a date is printed to the millisecond, not to the
// nanosecond; the typed errors keep the value as it was.
func TestRetryAfterRoundedInText(t *testing.T) {
	const d = 59265014410 * time.Nanosecond // 59.26501441s
	se := &StatusError{StatusCode: 429, Status: "429 Too Many Requests", RetryAfter: d}
	if got := se.Error(); !strings.Contains(got, "(Retry-After 59.265s)") {
		t.Errorf("StatusError text = %q; want Retry-After 59.265s", got)
	}
	if se.RetryAfter != d {
		t.Errorf("StatusError.RetryAfter = %v; want %v, unrounded", se.RetryAfter, d)
	}
	ra := &RetryAfterError{RetryAfter: d, Remaining: 1234567891 * time.Nanosecond, Err: se}
	if got := ra.Error(); !strings.Contains(got, "retry after 59.265s, past the deadline in 1.235s") {
		t.Errorf("RetryAfterError text = %q; want 59.265s and 1.235s", got)
	}
	if got := rounded(300 * time.Microsecond); got != 300*time.Microsecond {
		t.Errorf("rounded(300µs) = %v; want it kept whole", got)
	}
}

// WithClient(nil) says what is wrong with it.
func TestWithClientNilSaysWhy(t *testing.T) {
	_, err := New(WithClient(nil))
	if err == nil || !strings.Contains(err.Error(), "WithClient(nil)") || !strings.Contains(err.Error(), "must not be nil") {
		t.Errorf("New(WithClient(nil)) = %v; want an error saying the client must not be nil", err)
	}
}

// GetJSON of an HTML page says the response was not JSON, by its
// Content-Type, and still wraps the decoder's *json.SyntaxError.
func TestGetJSONErrorNamesContentType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<html>sign in</html>")
		})
		mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			io.WriteString(w, "{bad")
		})
		f := newMem(t, mux)
		_, err := GetJSON[map[string]any](t.Context(), f, "http://a.test/html")
		if se, ok := errors.AsType[*json.SyntaxError](err); !ok || se == nil {
			t.Errorf("GetJSON of HTML: err = %v; want it to wrap a *json.SyntaxError", err)
		}
		if err == nil || !strings.Contains(err.Error(), "(Content-Type text/html)") {
			t.Errorf("GetJSON of HTML: err = %v; want it to name Content-Type text/html", err)
		}
		_, err = GetJSON[map[string]any](t.Context(), f, "http://a.test/json")
		if _, ok := errors.AsType[*json.SyntaxError](err); !ok {
			t.Errorf("GetJSON of bad JSON: err = %v; want it to wrap a *json.SyntaxError", err)
		}
		if err == nil || strings.Contains(err.Error(), "Content-Type") {
			t.Errorf("GetJSON of bad JSON said to be JSON: err = %v; want no word of its Content-Type", err)
		}
	})
}

func TestNotJSON(t *testing.T) {
	for ct, want := range map[string]string{
		"":                                "",
		"application/json":                "",
		"Application/JSON; charset=utf-8": "",
		"text/json":                       "",
		"application/vnd.api+json":        "",
		"text/html; charset=utf-8":        " (Content-Type text/html)",
		"text/plain":                      " (Content-Type text/plain)",
		"garbage\x01":                     ` (Content-Type "garbage\x01")`,
	} {
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		if got := notJSON(h); got != want {
			t.Errorf("notJSON(%q) = %q; want %q", ct, got, want)
		}
	}
}
