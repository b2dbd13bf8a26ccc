package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestTaskGroupReportsEveryRealFailureOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errA, errB := errors.New("a failed"), errors.New("b failed")
		g, ctx := NewTaskGroup(context.Background())
		var both sync.WaitGroup
		both.Add(2)
		fail := func(err error) func() error {
			return func() error {
				both.Done()
				both.Wait() // fail together, before either sees the cancel
				return err
			}
		}
		g.Go(fail(errA))
		g.Go(fail(errB))
		for range 5 { // siblings that stop when cancelled
			g.Go(func() error {
				<-ctx.Done()
				return ctx.Err()
			})
		}
		err := g.Wait()
		if !errors.Is(err, errA) || !errors.Is(err, errB) {
			t.Errorf("Wait = %v; want both failures", err)
		}
		if errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v; want no cancellation the group caused", err)
		}
		if cause := context.Cause(ctx); !errors.Is(cause, errA) && !errors.Is(cause, errB) || cause.Error() != errA.Error() && cause.Error() != errB.Error() {
			t.Errorf("context cause = %v; want the first failure", cause)
		}
	})
}

func TestTaskGroupPanicIsAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := NewTaskGroup(context.Background())
		var siblingStopped atomic.Bool
		g.Go(func() error {
			<-ctx.Done()
			siblingStopped.Store(true)
			return ctx.Err()
		})
		synctest.Wait() // the sibling is running before the panic
		g.Go(func() error { panic("boom") })
		err := g.Wait()
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Value != "boom" || !strings.Contains(string(pe.Stack), "group_test.go") {
			t.Fatalf("Wait = %v; want a *PanicError with value boom and its stack", err)
		}
		if !siblingStopped.Load() {
			t.Errorf("the panic did not cancel the sibling")
		}
	})
}

func TestTaskGroupSkipsTasksAfterFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, _ := NewTaskGroup(context.Background())
		g.SetLimit(1)
		boom := errors.New("boom")
		var ran atomic.Int64
		g.Go(func() error { ran.Add(1); return boom })
		for range 10 {
			g.Go(func() error { ran.Add(1); return nil })
		}
		if err := g.Wait(); !errors.Is(err, boom) || errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v; want boom alone", err)
		}
		if ran.Load() != 1 {
			t.Errorf("%d tasks ran; want only the failing one", ran.Load())
		}
	})
}

func TestTaskGroupLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g TaskGroup // the zero value works
		g.SetLimit(3)
		var running, most atomic.Int64
		for range 21 { // 7 rounds of 3: the last round is running at the end

			g.Go(func() error {
				n := running.Add(1)
				for o := most.Load(); n > o && !most.CompareAndSwap(o, n); o = most.Load() {
				}
				time.Sleep(time.Second)
				running.Add(-1)
				return nil
			})
		}
		if g.TryGo(func() error { return nil }) {
			t.Errorf("TryGo started a task at the limit")
		}
		if err := g.Wait(); err != nil || most.Load() != 3 {
			t.Errorf("Wait = %v, most at once %d; want nil, 3", err, most.Load())
		}
	})
}

func TestTaskGroupZeroValueCollectsAll(t *testing.T) {
	var g TaskGroup
	for i := range 3 {
		g.Go(func() error { return errors.New(strings.Repeat("x", i+1)) })
	}
	err := g.Wait()
	if err == nil || len(strings.Split(err.Error(), "\n")) != 3 {
		t.Errorf("Wait = %v; want 3 joined errors", err)
	}
}

func TestTaskGroupParentCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		g, ctx := NewTaskGroup(parent)
		for range 3 {
			g.Go(func() error {
				<-ctx.Done()
				return ctx.Err()
			})
		}
		synctest.Wait()
		cancel()
		if err := g.Wait(); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v; want context.Canceled from the parent", err)
		}
	})
}

// A TaskGroup of Fetcher calls: the first failed fetch cancels the others.
func TestTaskGroupWithFetcher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/bad" {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			<-r.Context().Done()
		})
		f := newMem(t, c)
		g, ctx := NewTaskGroup(context.Background())
		for _, p := range []string{"/slow1", "/bad", "/slow2"} {
			g.Go(func() error {
				_, err := f.Get(ctx, "http://a.test"+p)
				return err
			})
		}
		err := g.Wait()
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 404 || errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v; want only the 404", err)
		}
	})
}

// Over real net/http, a request cancelled because a sibling failed reports
// context.Canceled, not the sibling's error (which net/http gives as the
// context's cause), so the group reports the real failure once.
func TestTaskGroupSiblingErrorsOverNetwork(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			http.NotFound(w, r)
			return
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	g, ctx := NewTaskGroup(t.Context())
	siblingErrs := make([]error, 3)
	for i := range siblingErrs {
		g.Go(func() error {
			_, err := f.Get(ctx, srv.URL+"/slow")
			siblingErrs[i] = err
			return err
		})
	}
	for f.Stats().InFlight < 3 { // the siblings are on the wire
		runtime.Gosched()
	}
	g.Go(func() error { _, err := f.Get(ctx, srv.URL+"/bad"); return err })
	err = g.Wait()
	var se *StatusError
	if !errors.As(err, &se) || strings.Count(err.Error(), "status 404") != 1 {
		t.Errorf("Wait = %v; want the 404, once", err)
	}
	for i, e := range siblingErrs {
		if !errors.Is(e, context.Canceled) || errors.As(e, &se) {
			t.Errorf("sibling %d: err = %v; want context.Canceled, not the sibling's *StatusError", i, e)
		}
	}
}

// joined flattens err's [errors.Join] tree into the errors it joins.
func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, joined(e)...)
		}
		return out
	}
	return []error{err}
}

// A task that returns a nested TaskGroup's Wait: the inner group saw only
// the cancellation the outer failure caused, which is not a new failure,
// while a real failure inside the inner group is reported once, beside the
// outer one.
func TestTaskGroupNestedReportsEachFailureOnce(t *testing.T) {
	errA, errB := errors.New("A"), errors.New("B")
	tests := []struct {
		name  string
		inner func(ctx context.Context) error // runs once the outer group failed
		want  []error
	}{
		{"inner returns ctx.Err()", func(ctx context.Context) error { return ctx.Err() }, []error{errA}},
		{"inner returns the cause", context.Cause, []error{errA}},
		{"inner wraps the cause", func(ctx context.Context) error {
			return fmt.Errorf("inner: %w", context.Cause(ctx))
		}, []error{errA}},
		{"inner joins ctx.Err() and the cause", func(ctx context.Context) error {
			return errors.Join(ctx.Err(), context.Cause(ctx))
		}, []error{errA}},
		{"inner fails for real", func(context.Context) error { return errB }, []error{errA, errB}},
		{"inner joins ctx.Err() and a real failure", func(ctx context.Context) error {
			return errors.Join(ctx.Err(), errB)
		}, []error{errA, errB}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				outer, ctx := NewTaskGroup(t.Context())
				outer.Go(func() error {
					inner, ictx := NewTaskGroup(ctx)
					inner.Go(func() error {
						<-ictx.Done()
						return tt.inner(ictx)
					})
					return inner.Wait()
				})
				synctest.Wait() // the inner group is running
				outer.Go(func() error { return errA })
				err := outer.Wait()
				for _, w := range tt.want {
					n := 0
					for _, e := range joined(err) {
						if errors.Is(e, w) {
							n++
						}
					}
					if n != 1 {
						t.Errorf("Wait = %q; want %q once", err, w)
					}
				}
			})
		})
	}
}

// TryGo reports true only for a task it runs: once the group's context has
// ended it refuses, and a task it accepted runs even if the context ends
// before the task's goroutine is scheduled.
func TestTaskGroupTryGoRunsWhatItAccepts(t *testing.T) {
	tests := []struct {
		name  string
		setup func(g *TaskGroup, ctx context.Context, cancel context.CancelFunc)
		want  bool
	}{
		{"open", func(*TaskGroup, context.Context, context.CancelFunc) {}, true},
		{"at the limit", func(g *TaskGroup, ctx context.Context, _ context.CancelFunc) {
			g.SetLimit(1)
			g.Go(func() error { <-ctx.Done(); return ctx.Err() })
		}, false},
		{"after a task failed", func(g *TaskGroup, ctx context.Context, _ context.CancelFunc) {
			g.Go(func() error { return errors.New("boom") })
			<-ctx.Done()
		}, false},
		{"after the parent was cancelled", func(_ *TaskGroup, _ context.Context, cancel context.CancelFunc) {
			cancel()
		}, false},
		{"after Wait", func(g *TaskGroup, _ context.Context, _ context.CancelFunc) {
			g.Wait()
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				parent, cancel := context.WithCancel(t.Context())
				g, ctx := NewTaskGroup(parent)
				tt.setup(g, ctx, cancel)
				var ran atomic.Bool
				started := g.TryGo(func() error { ran.Store(true); return nil })
				cancel() // the context ends before the task is scheduled
				g.Wait()
				if started != tt.want || ran.Load() != started {
					t.Errorf("TryGo = %v and the task ran = %v; want %v, %v", started, ran.Load(), tt.want, tt.want)
				}
			})
		})
	}
}
