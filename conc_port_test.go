package fetch_test

// A port of sourcegraph/conc's tests (commit
// 5f936abd7ae87036af1f75c95fb9d0daaf00116b) onto TaskGroup:
// pool/pool_test.go, pool/error_pool_test.go, pool/context_pool_test.go,
// panics/panics_test.go, panics/try_test.go, and the panic cases of
// waitgroup_test.go. Tests are named TestPortConc<peer test>, and each case
// names the subtest it comes from.
//
// Mapping: pool.New() (no errors, no context) and pool.New().WithErrors()
// are the zero TaskGroup, which has no context to cancel and collects every
// error; pool.New().WithContext(ctx) is NewTaskGroup(ctx), whose context
// the task closes over; WithMaxGoroutines(n) is SetLimit(n); a
// panics.Catcher's Try is a task of a zero TaskGroup, and Recovered() /
// AsError() is the *PanicError Wait reports. The pools' 1ms sleeps run on
// synctest's clock.
//
// Where TaskGroup deliberately differs from conc (the TaskGroup and Wait
// docs, README "Calls"), the test asserts TaskGroup's documented behaviour
// and names conc's expectation. The main ones:
//
//   - conc re-panics in Wait; TaskGroup's Wait returns a *PanicError;
//   - conc's ContextPool cancels the siblings only WithCancelOnError /
//     WithFailFast; a TaskGroup always does, on its first failure, and
//     skips the tasks not yet started;
//   - conc's WithCancelOnError Wait reports the siblings' context.Canceled,
//     WithFirstError reports only the first error; TaskGroup's Wait reports
//     every real failure and leaves out the errors that only say the group's
//     context ended;
//   - conc's pools are reusable after Wait; a TaskGroup "must not be reused
//     after Wait returns".
//
// Not ported: the result pools (pool/result_*_pool_test.go: TaskGroup
// collects no values), MaxGoroutines (no getter), the configuration panics
// after Wait (no reuse), Catcher.Repanic (Wait returns the panic instead
// of re-panicking), ExampleCatcher_callers (PanicError has a Stack, not
// program counters), and the benchmarks.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch"
)

var (
	errConc1 = errors.New("err1")
	errConc2 = errors.New("err2")
)

// concKinds runs f on a zero TaskGroup (conc's pool.New() and
// WithErrors()), with ctx context.Background(), and on NewTaskGroup's (its
// WithContext) with the group's context, each in a synctest bubble.
func concKinds(t *testing.T, f func(t *testing.T, g *fetch.TaskGroup, ctx context.Context)) {
	t.Run("zero", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) { f(t, new(fetch.TaskGroup), context.Background()) })
	})
	t.Run("NewTaskGroup", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g, ctx := fetch.NewTaskGroup(context.Background())
			f(t, g, ctx)
		})
	})
}

// concPanics returns the *PanicErrors among err's leaves, and whether every
// leaf is one.
func concPanics(err error) (pes []*fetch.PanicError, all bool) {
	all = true
	for _, l := range portLeaves(err) {
		var pe *fetch.PanicError
		if errors.As(l, &pe) {
			pes = append(pes, pe)
		} else {
			all = false
		}
	}
	return pes, all
}

// ---------------------------------------------------------------------------
// pool/pool_test.go
// ---------------------------------------------------------------------------

// conc: ExamplePool and TestPool "basic" (every task runs).
func TestPortConcPoolBasic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g fetch.TaskGroup
		g.SetLimit(3) // ExamplePool
		var printed atomic.Int64
		for range 5 {
			g.Go(func() error { printed.Add(1); return nil })
		}
		if err := g.Wait(); err != nil || printed.Load() != 5 {
			t.Errorf("ExamplePool: Wait = %v, %d tasks ran; want nil, 5", err, printed.Load())
		}

		var h fetch.TaskGroup
		var completed atomic.Int64
		for range 100 {
			h.Go(func() error {
				time.Sleep(time.Millisecond)
				completed.Add(1)
				return nil
			})
		}
		if err := h.Wait(); err != nil || completed.Load() != 100 {
			t.Errorf("basic: Wait = %v, %d completed; want nil, 100", err, completed.Load())
		}
	})
}

// conc: TestPool, TestErrorPool and TestContextPool "panics on configuration
// after init", "before wait". conc panics on WithMaxGoroutines after any Go.
// SetLimit's doc: "It must not be called while tasks are running"; with a
// limit in force TaskGroup catches that as errgroup does, with a panic.
// (Without a limit in force, or after Wait, errgroup does not check and
// neither does TaskGroup: "after wait" is not ported, a TaskGroup not
// being reusable.)
func TestPortConcConfigurationAfterInit(t *testing.T) {
	concKinds(t, func(t *testing.T, g *fetch.TaskGroup, _ context.Context) {
		g.SetLimit(5)
		release := make(chan struct{})
		g.Go(func() error { <-release; return nil })
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetLimit(10) with a task running did not panic")
				}
			}()
			g.SetLimit(10)
		}()
		close(release)
		if err := g.Wait(); err != nil {
			t.Errorf("Wait = %v", err)
		}
	})
}

// conc: TestPool "limit", TestErrorPool "limit" and TestContextPool "limit"
// (1, 10 and 100 at once; the error pools fail a task that sees too many).
func TestPortConcLimit(t *testing.T) {
	for _, peer := range []string{"Pool", "ErrorPool", "ContextPool"} {
		for _, maxConcurrent := range []int{1, 10, 100} {
			t.Run(peer+"/"+strconv.Itoa(maxConcurrent), func(t *testing.T) {
				concKinds(t, func(t *testing.T, g *fetch.TaskGroup, ctx context.Context) {
					g.SetLimit(maxConcurrent)
					var current, errCount atomic.Int64
					taskCount := maxConcurrent * 10
					if peer == "ContextPool" {
						taskCount = 100
					}
					for range taskCount {
						g.Go(func() error {
							if cur := current.Add(1); cur > int64(maxConcurrent) {
								errCount.Add(1)
								return fmt.Errorf("expected no more than %d concurrent goroutine", maxConcurrent)
							}
							time.Sleep(time.Millisecond)
							current.Add(-1)
							return nil
						})
					}
					if err := g.Wait(); err != nil || errCount.Load() != 0 || current.Load() != 0 {
						t.Errorf("Wait = %v, %d over the limit, %d running; want nil, 0, 0", err, errCount.Load(), current.Load())
					}
				})
			})
		}
	}
}

// conc: TestPool "propagate panic" (panic(5)) and TestErrorPool "propagates
// panics" (panic("fatal")), one task of 10 panicking. conc: Wait panics.
// DIVERGES, deliberate (README "Calls": "a panic becomes a *PanicError"):
// Wait returns it, once, with its value; and on the zero TaskGroup, which
// cancels nothing, the 9 others ran.
func TestPortConcPropagatePanic(t *testing.T) {
	for _, value := range []any{5, "fatal"} {
		t.Run(fmt.Sprint(value), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g fetch.TaskGroup
				var ran atomic.Int64
				for i := range 10 {
					g.Go(func() error {
						if i == 5 {
							panic(value)
						}
						ran.Add(1)
						return nil
					})
				}
				var err error
				func() {
					defer func() {
						if v := recover(); v != nil {
							t.Fatalf("Wait panicked with %v; want it to return a *PanicError", v)
						}
					}()
					err = g.Wait()
				}()
				pes, all := concPanics(err)
				if len(pes) != 1 || !all || pes[0].Value != value {
					t.Errorf("Wait = %v; want one *PanicError with value %v", err, value)
				}
				if ran.Load() != 9 {
					t.Errorf("%d other tasks ran; want 9", ran.Load())
				}
			})
		})
	}
}

// conc: TestPool "panics do not exhaust goroutines": 10 tasks that all
// panic under a limit of 2 do not wedge the pool. conc: Wait panics.
// TaskGroup: Wait returns. The zero TaskGroup runs all 10 and reports 10
// *PanicErrors (every failure); NewTaskGroup's first panic cancels the
// group, and the tasks not yet started are skipped (TaskGroup doc), so it
// reports the one or two that were running.
func TestPortConcPanicsDoNotExhaustGoroutines(t *testing.T) {
	concKinds(t, func(t *testing.T, g *fetch.TaskGroup, ctx context.Context) {
		g.SetLimit(2)
		for range 10 {
			g.Go(func() error { panic(42) })
		}
		err := g.Wait()
		pes, all := concPanics(err)
		lo, hi := 10, 10 // the zero TaskGroup: every task ran
		if ctx != context.Background() {
			lo, hi = 1, 2 // NewTaskGroup: those running when the first panicked
		}
		if !all || len(pes) < lo || len(pes) > hi {
			t.Errorf("Wait = %d leaves, %d *PanicErrors; want only *PanicErrors, %d to %d", len(portLeaves(err)), len(pes), lo, hi)
		}
	})
}

// conc: TestPool "panics on invalid WithMaxGoroutines" (0 panics). DIVERGES:
// SetLimit has errgroup's meaning, where 0 is a valid limit (no task may
// run: TryGo refuses) and a negative one means no limit.
func TestPortConcInvalidMaxGoroutines(t *testing.T) {
	var g fetch.TaskGroup
	g.SetLimit(0)
	if g.TryGo(func() error { return nil }) {
		t.Errorf("TryGo with a limit of 0 started a task")
	}
	g.SetLimit(-1)
	if !g.TryGo(func() error { return nil }) {
		t.Errorf("TryGo with no limit refused")
	}
	if err := g.Wait(); err != nil {
		t.Errorf("Wait = %v", err)
	}
}

// conc: TestPool "is reusable" (10 tasks, Wait, 10 more, Wait: 20 ran).
// DIVERGES, deliberate: a TaskGroup "must not be reused after Wait
// returns". What reuse does follows from the docs: the zero TaskGroup has
// no context, so nothing is ever skipped and the second batch runs; Wait
// cancels NewTaskGroup's context, and a task whose context has ended is
// skipped, so there the second batch never runs.
func TestPortConcReusable(t *testing.T) {
	concKinds(t, func(t *testing.T, g *fetch.TaskGroup, ctx context.Context) {
		var count atomic.Int64
		for range 10 {
			g.Go(func() error { count.Add(1); return nil })
		}
		if err := g.Wait(); err != nil || count.Load() != 10 {
			t.Fatalf("first Wait = %v, %d ran; want nil, 10", err, count.Load())
		}
		for range 10 {
			g.Go(func() error { count.Add(1); return nil })
		}
		err := g.Wait()
		want := int64(20) // conc
		if ctx != context.Background() {
			want = 10
		}
		if err != nil || count.Load() != want {
			t.Errorf("second Wait = %v, %d ran in all; want nil, %d", err, count.Load(), want)
		}
	})
}

// ---------------------------------------------------------------------------
// pool/error_pool_test.go and pool/context_pool_test.go
// ---------------------------------------------------------------------------

// conc: ExampleErrorPool ("oh no!") and ExampleContextPool_WithCancelOnError
// ("I will cancel all other tasks!", limit 4, the others waiting for the
// context and returning nil): Wait's text is the one failure's, as conc's.
func TestPortConcExamples(t *testing.T) {
	t.Run("ExampleErrorPool", func(t *testing.T) {
		var g fetch.TaskGroup
		for i := range 3 {
			g.Go(func() error {
				if i == 2 {
					return errors.New("oh no!")
				}
				return nil
			})
		}
		if err := g.Wait(); err == nil || err.Error() != "oh no!" {
			t.Errorf("Wait = %v; want oh no!", err)
		}
	})
	t.Run("ExampleContextPool_WithCancelOnError", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g, ctx := fetch.NewTaskGroup(context.Background())
			g.SetLimit(4)
			for i := range 3 {
				g.Go(func() error {
					if i == 2 {
						return errors.New("I will cancel all other tasks!")
					}
					<-ctx.Done()
					return nil
				})
			}
			if err := g.Wait(); err == nil || err.Error() != "I will cancel all other tasks!" {
				t.Errorf("Wait = %v; want I will cancel all other tasks!", err)
			}
		})
	})
}

// conc: TestErrorPool "wait returns no error if no errors", "wait error if
// func returns error", "wait error is all returned errors", and the same
// three under TestContextPool "behaves the same as ErrorGroup". On
// NewTaskGroup's group err1 cancels the group, and a task not yet started
// would be skipped; the two failing tasks meet before failing, so that both
// run, as they do in conc.
func TestPortConcErrorPoolWait(t *testing.T) {
	t.Run("wait returns no error if no errors", func(t *testing.T) {
		concKinds(t, func(t *testing.T, g *fetch.TaskGroup, _ context.Context) {
			g.Go(func() error { return nil })
			if err := g.Wait(); err != nil {
				t.Errorf("Wait = %v; want nil", err)
			}
		})
	})
	t.Run("wait error if func returns error", func(t *testing.T) {
		concKinds(t, func(t *testing.T, g *fetch.TaskGroup, _ context.Context) {
			g.Go(func() error { return errConc1 })
			if err := g.Wait(); !errors.Is(err, errConc1) {
				t.Errorf("Wait = %v; want err1", err)
			}
		})
	})
	t.Run("wait error is all returned errors", func(t *testing.T) {
		concKinds(t, func(t *testing.T, g *fetch.TaskGroup, _ context.Context) {
			var both sync.WaitGroup
			both.Add(2)
			fail := func(err error) func() error {
				return func() error { both.Done(); both.Wait(); return err }
			}
			g.Go(fail(errConc1))
			g.Go(func() error { return nil })
			g.Go(fail(errConc2))
			err := g.Wait()
			portWantLeaves(t, err, errConc1, errConc2)
			if errors.Is(err, context.Canceled) {
				t.Errorf("Wait = %v; want no context.Canceled", err)
			}
		})
	})
}

// conc: TestErrorPool "reuse" (sourcegraph/conc#128): on reuse, Wait
// returns only the new error. DIVERGES, deliberate: a TaskGroup "must not
// be reused after Wait returns", and Wait returns every real failure the
// group has had. The zero TaskGroup runs the second task, and its second
// Wait returns err1 with err2; NewTaskGroup's skips it (its context ended
// at the first Wait), and its second Wait returns err1 again. As in conc,
// the first Wait's error does not change.
func TestPortConcErrorPoolReuse(t *testing.T) {
	concKinds(t, func(t *testing.T, g *fetch.TaskGroup, ctx context.Context) {
		g.Go(func() error { return errConc1 })
		wait1 := g.Wait()
		if !errors.Is(wait1, errConc1) {
			t.Fatalf("first Wait = %v; want err1", wait1)
		}
		var ran atomic.Bool
		g.Go(func() error { ran.Store(true); return errConc2 })
		wait2 := g.Wait()
		if ctx == context.Background() {
			portWantLeaves(t, wait2, errConc1, errConc2) // conc: err2 alone
		} else {
			portWantLeaves(t, wait2, errConc1) // conc: err2 alone
			if ran.Load() {
				t.Errorf("a task given to Go after Wait ran; want it skipped (the group's context ended)")
			}
		}
		if errors.Is(wait1, errConc2) {
			t.Errorf("first Wait's error %v changed to match err2", wait1)
		}
	})
}

// conc: TestContextPool "context error propagates": "canceled", "timed out"
// and "return before timed out".
func TestPortConcContextErrorPropagates(t *testing.T) {
	waitCtx := func(ctx context.Context) func() error {
		return func() error { <-ctx.Done(); return ctx.Err() }
	}
	t.Run("canceled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			parent, cancel := context.WithCancel(context.Background())
			g, ctx := fetch.NewTaskGroup(parent)
			g.Go(waitCtx(ctx))
			cancel()
			if err := g.Wait(); !errors.Is(err, context.Canceled) {
				t.Errorf("Wait = %v; want context.Canceled", err)
			}
		})
	})
	t.Run("timed out", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			parent, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			defer cancel()
			g, ctx := fetch.NewTaskGroup(parent)
			g.Go(waitCtx(ctx))
			if err := g.Wait(); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Wait = %v; want context.DeadlineExceeded", err)
			}
		})
	})
	t.Run("return before timed out", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g, ctx := fetch.NewTaskGroup(context.Background())
			g.Go(func() error {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Millisecond):
					return nil
				}
			})
			if err := g.Wait(); err != nil {
				t.Errorf("Wait = %v; want nil", err)
			}
		})
	})
}

// conc: TestContextPool "WithCancelOnError": a sibling returns ctx.Err()
// once err1 cancels it; conc's Wait matches both err1 and context.Canceled.
// DIVERGES, deliberate (Wait doc: an error that "only reflects" the group's
// context having ended is not a real failure): Wait is err1 alone.
func TestPortConcWithCancelOnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := fetch.NewTaskGroup(context.Background())
		g.Go(func() error { <-ctx.Done(); return ctx.Err() })
		g.Go(func() error { return errConc1 })
		err := g.Wait()
		portWantLeaves(t, err, errConc1)
		if errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v; conc's WithCancelOnError matches context.Canceled, TaskGroup's must not", err)
		}
	})
}

// conc: TestContextPool "no WithCancelOnError": without that option conc
// does not cancel the sibling, which ends by its own 10ms timer with nil.
// DIVERGES, deliberate: a TaskGroup always cancels the siblings on the
// first failure, so the sibling ends at once, by the cancellation, and its
// ctx.Err() is left out. conc's assertions (err1, no context.Canceled) hold.
func TestPortConcNoCancelOnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := fetch.NewTaskGroup(context.Background())
		start := time.Now()
		var cancelled atomic.Bool
		g.Go(func() error {
			select {
			case <-ctx.Done():
				cancelled.Store(true)
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
				return nil
			}
		})
		synctest.Wait() // the sibling is waiting
		g.Go(func() error { return errConc1 })
		err := g.Wait()
		portWantLeaves(t, err, errConc1)
		if errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v; want no context.Canceled", err)
		}
		if !cancelled.Load() || time.Since(start) != 0 {
			t.Errorf("sibling cancelled = %v after %v; want it cancelled at once (conc: it runs its 10ms)", cancelled.Load(), time.Since(start))
		}
	})
}

// conc: TestContextPool "WithFirstError": only the first error, err1, is
// returned; err2 comes after it. DIVERGES, deliberate (README "Calls":
// "Wait returns every real failure"): err2, returned after the group was
// cancelled but not because of it, is a real failure, so Wait has both.
// The first failure is the cause of the group's context, as in errgroup.
// Both tasks are started before err1 (synctest.Wait): in conc every task
// runs, while a TaskGroup skips a task that has not started when the group
// fails (TaskGroup doc), so the second would otherwise often never run.
func TestPortConcWithFirstError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := fetch.NewTaskGroup(context.Background())
		start, first := make(chan struct{}), make(chan struct{})
		g.Go(func() error {
			defer close(first)
			<-start
			return errConc1
		})
		g.Go(func() error {
			<-first
			time.Sleep(10 * time.Millisecond) // conc's: err1 is recorded first
			return errConc2
		})
		synctest.Wait() // both tasks have started
		close(start)
		err := g.Wait()
		portWantLeaves(t, err, errConc1, errConc2) // conc: err1 alone
		if cause := context.Cause(ctx); !errors.Is(cause, errConc1) || errors.Is(cause, errConc2) {
			t.Errorf("context.Cause = %v; want the first error, err1", cause)
		}
	})
}

// conc: TestContextPool "WithFailFast": err1, and the cancelled sibling's
// ctx.Err() left out, as in conc.
func TestPortConcWithFailFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := fetch.NewTaskGroup(context.Background())
		g.Go(func() error { return errConc1 })
		g.Go(func() error { <-ctx.Done(); return ctx.Err() })
		err := g.Wait()
		if !errors.Is(err, errConc1) || errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v; want err1, not context.Canceled", err)
		}
	})
}

// conc: TestContextPool "WithCancelOnError and panic": a panic cancels the
// two siblings (2 cancelled tasks) and Wait panics. DIVERGES, deliberate:
// Wait returns the *PanicError, and the siblings' ctx.Err() is left out.
// The siblings are running before the panic (synctest.Wait): a TaskGroup
// skips a task not yet started when its context ends, where conc would
// start it with a cancelled context.
func TestPortConcCancelOnErrorAndPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := fetch.NewTaskGroup(context.Background())
		var cancelledTasks atomic.Int64
		for range 2 {
			g.Go(func() error {
				<-ctx.Done()
				cancelledTasks.Add(1)
				return ctx.Err()
			})
		}
		synctest.Wait()
		g.Go(func() error { panic("abort!") })
		err := g.Wait()
		pes, all := concPanics(err)
		if len(pes) != 1 || !all || pes[0].Value != "abort!" {
			t.Errorf("Wait = %v; want one *PanicError abort!", err)
		}
		if cancelledTasks.Load() != 2 {
			t.Errorf("%d tasks cancelled; want 2", cancelledTasks.Load())
		}
	})
}

// ---------------------------------------------------------------------------
// panics/panics_test.go, panics/try_test.go
// ---------------------------------------------------------------------------

// concTry runs f as the one task of a zero TaskGroup and returns what Wait
// reports: conc's panics.Try(f).AsError().
func concTry(f func()) error {
	var g fetch.TaskGroup
	g.Go(func() error { f(); return nil })
	return g.Wait()
}

// conc: TestCatcher "error", TestTry "panics" and ExampleCatcher_error: a
// panic with an error value matches it (errors.Is, errors.As, and
// errors.Unwrap of the recovered panic gives it), and the text has the
// message and the stack (conc checks for its own frame,
// panics.(*Catcher).Try; here the panicking function's).
func TestPortConcCatcherError(t *testing.T) {
	err1 := errors.New("SOS")
	err := concTry(func() { panic(err1) })
	if !errors.Is(err, err1) {
		t.Errorf("Wait = %v; want it to match the panic's error", err)
	}
	// conc's ErrorAs targets an error variable (which go vet refuses):
	// here, the panic's error's own type.
	var target *concErr
	if !errors.As(concTry(func() { panic(&concErr{"SOS"}) }), &target) || target.msg != "SOS" {
		t.Errorf("errors.As(panic, *concErr) = %v; want the panic's error", target)
	}
	var pe *fetch.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Wait = %v; want a *PanicError", err)
	}
	if cause := errors.Unwrap(pe); cause != err1 {
		t.Errorf("errors.Unwrap(panic) = %v; want the panic's error", cause)
	}
	if s := pe.Error(); !strings.Contains(s, "SOS") || !strings.Contains(s, "TestPortConcCatcherError") {
		t.Errorf("panic text %q; want the message and the panicking function in the stack", s)
	}
}

type concErr struct{ msg string }

func (e *concErr) Error() string { return e.msg }

// conc: TestCatcher "not error": a panic with a non-error value matches no
// error, and unwraps to nil.
func TestPortConcCatcherNotError(t *testing.T) {
	err := concTry(func() { panic("definitely not an error") })
	var pe *fetch.PanicError
	if !errors.As(err, &pe) || pe.Value != "definitely not an error" {
		t.Fatalf("Wait = %v; want a *PanicError with the value", err)
	}
	if errors.Is(err, errConc1) || errors.Unwrap(pe) != nil {
		t.Errorf("panic %v matches an error or unwraps to %v; want neither", pe.Value, errors.Unwrap(pe))
	}
}

// conc: TestCatcher "repanic does not panic without child panic",
// TestRecoveredAsError "as error is nil" / "as error is not nil", TestTry
// "no panic": without a panic there is nothing; with one, an error.
func TestPortConcRecoveredAsError(t *testing.T) {
	if err := concTry(func() {}); err != nil {
		t.Errorf("no panic: Wait = %v; want nil", err)
	}
	if err := concTry(func() { panic("oh dear!") }); err == nil {
		t.Errorf("a panic: Wait = nil; want its *PanicError")
	}
}

// conc: TestCatcher "is goroutine safe" (100 tries, the 50th panics) and
// ExampleCatcher (the tries around a panic still run): one *PanicError,
// "50", and the 99 others ran.
func TestPortConcCatcherGoroutineSafe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g fetch.TaskGroup
		var ran atomic.Int64
		for i := range 100 {
			g.Go(func() error {
				if i == 50 {
					panic("50")
				}
				ran.Add(1)
				return nil
			})
		}
		err := g.Wait()
		pes, all := concPanics(err)
		if len(pes) != 1 || !all || pes[0].Value != "50" || ran.Load() != 99 {
			t.Errorf("Wait = %v, %d others ran; want one *PanicError 50, 99", err, ran.Load())
		}
	})
}

// ---------------------------------------------------------------------------
// waitgroup_test.go, the panic cases
// ---------------------------------------------------------------------------

// conc: TestWaitGroup "panic": "is propagated", "one is propagated",
// "non-panics do not overwrite panic", "non-panics run successfully", and
// the WaitAndRecover variants (ExampleWaitGroup_WaitAndRecover). conc's
// Wait re-panics with one of the panics; WaitAndRecover returns one.
// DIVERGES, deliberate: Wait returns them, every one, as *PanicErrors
// (on the zero TaskGroup, which skips nothing, so the others all run).
func TestPortConcWaitGroupPanic(t *testing.T) {
	for _, tc := range []struct {
		name   string
		panics []string
		others int
	}{
		{"is propagated", []string{"super bad thing"}, 0},
		{"one is propagated", []string{"super bad thing", "super badder thing"}, 0},
		{"non-panics do not overwrite panic", []string{"super bad thing"}, 10},
		{"non-panics run successfully", []string{"super bad thing"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g fetch.TaskGroup
				var ran atomic.Int64
				for _, p := range tc.panics {
					g.Go(func() error { panic(p) })
				}
				for range tc.others {
					g.Go(func() error { ran.Add(1); return nil })
				}
				err := g.Wait()
				pes, all := concPanics(err)
				var got []string
				for _, pe := range pes {
					got = append(got, fmt.Sprint(pe.Value))
				}
				if !all || len(got) != len(tc.panics) {
					t.Fatalf("Wait = %v; want the *PanicErrors %q", err, tc.panics)
				}
				for _, p := range tc.panics {
					if !strings.Contains(strings.Join(got, "\x00")+"\x00", p+"\x00") {
						t.Errorf("panics %q; want %q among them", got, p)
					}
				}
				if ran.Load() != int64(tc.others) {
					t.Errorf("%d others ran; want %d", ran.Load(), tc.others)
				}
			})
		})
	}
}
