package fetch_test

// Ports of two peers' test suites onto TaskGroup:
//
//   - golang.org/x/sync/errgroup: errgroup_test.go and the behaviour of its
//     examples (errgroup_test.go, errgroup_example_md5all_test.go);
//   - CPython: Lib/test/test_asyncio/test_taskgroups.py.
//
// Mapping used for the asyncio cases: `async with TaskGroup() as g` is
// NewTaskGroup + Wait; g.create_task is Go; a coroutine's cancellable
// `await asyncio.sleep(d)` is ctxsleep.Sleep(ctx, d) (returns the context's error
// when the group's context ends, as CancelledError would be raised);
// `r.cancel()` of the task running the group is cancelling the parent
// context; an ExceptionGroup is the errors.Join that Wait returns (compared
// leaf by leaf); a BaseException other than CancelledError is a panic. The
// body of an `async with` block has no goroutine of its own in Go: where the
// body awaits or raises, it is a task of the group (the nearest analogue:
// TaskGroup has no way for the caller to fail the group except by a task).
//
// Each test names the peer test it comes from. Where TaskGroup deliberately
// differs from the peer, the test asserts TaskGroup's documented behaviour
// and says so.

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/ctxsleep"
)

// portLeaves flattens the errors.Join tree of err into the errors it joins
// (an ExceptionGroup's leaves).
func portLeaves(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, portLeaves(e)...)
		}
		return out
	}
	return []error{err}
}

// portWantLeaves checks that err's leaves are exactly want, in any order,
// each leaf matched by errors.Is.
func portWantLeaves(t *testing.T, err error, want ...error) {
	t.Helper()
	leaves := portLeaves(err)
	if len(leaves) != len(want) {
		t.Errorf("Wait = %q: %d leaves; want %d: %v", err, len(leaves), len(want), want)
		return
	}
	used := make([]bool, len(want))
next:
	for _, l := range leaves {
		for i, w := range want {
			if !used[i] && errors.Is(l, w) {
				used[i] = true
				continue next
			}
		}
		t.Errorf("Wait = %q: leaf %q is none of %v", err, l, want)
	}
}

// portAllLeaves checks that err has at least one leaf and that every leaf
// is want (get_error_types(eg) == {want} in the asyncio tests).
func portAllLeaves(t *testing.T, err error, want error) {
	t.Helper()
	leaves := portLeaves(err)
	if len(leaves) == 0 {
		t.Errorf("Wait = nil; want an error group of %v", want)
	}
	for _, l := range leaves {
		if !errors.Is(l, want) {
			t.Errorf("Wait = %q: leaf %q is not %v", err, l, want)
		}
	}
}

// portElapsed checks that exactly want has passed on the bubble's clock
// since start: the group ended when the cancellation came, not when the
// tasks' sleeps would have run out.
func portElapsed(t *testing.T, start time.Time, want time.Duration) {
	t.Helper()
	if d := time.Since(start); d != want {
		t.Errorf("Wait returned after %v; want %v (the tasks were not cancelled in time)", d, want)
	}
}

var (
	errPortZero    = errors.New("ZeroDivisionError")
	errPortMyExc   = errors.New("MyExc")
	errPortValue   = errors.New("ValueError")
	errPortType    = errors.New("TypeError")
	errPortRuntime = errors.New("RuntimeError")
	errPortTest    = errors.New("test") // r.cancel("test")
)

// ---------------------------------------------------------------------------
// golang.org/x/sync/errgroup
// ---------------------------------------------------------------------------

// errgroup: TestZeroGroup. errgroup's Wait returns the first error itself
// (`gErr != firstErr` with ==) and the test reuses one Group after Wait.
// TaskGroup must not be reused after Wait (TaskGroup doc), so each prefix
// of the case gets a fresh zero TaskGroup; and Wait reports every failure,
// joined (DIVERGES, deliberate: "Wait reports every real failure once,
// joined with errors.Join"), so the first error is matched with errors.Is,
// not ==, and the later failures are there too.
func TestPortErrgroupZeroGroup(t *testing.T) {
	err1 := errors.New("errgroup_test: 1")
	err2 := errors.New("errgroup_test: 2")
	cases := []struct{ errs []error }{
		{errs: []error{}},
		{errs: []error{nil}},
		{errs: []error{err1}},
		{errs: []error{err1, nil}},
		{errs: []error{err1, nil, err2}},
	}
	for _, tc := range cases {
		for i := range tc.errs {
			var g fetch.TaskGroup
			var want []error
			for _, err := range tc.errs[:i+1] {
				g.Go(func() error { return err })
				if err != nil {
					want = append(want, err)
				}
			}
			gErr := g.Wait()
			if len(want) == 0 {
				if gErr != nil {
					t.Errorf("errs %v: Wait = %v; want nil", tc.errs[:i+1], gErr)
				}
				continue
			}
			if !errors.Is(gErr, want[0]) {
				t.Errorf("errs %v: Wait = %v; want it to match the first error %v", tc.errs[:i+1], gErr, want[0])
			}
			portWantLeaves(t, gErr, want...) // errgroup: only the first
		}
	}
}

// errgroup: TestWithContext. As in errgroup, Wait's error matches the
// failure and the context is done once Wait returns; the error is the
// failure joined (errors.Is, not ==: see TestPortErrgroupZeroGroup).
func TestPortErrgroupWithContext(t *testing.T) {
	errDoom := errors.New("group_test: doomed")
	cases := []struct {
		errs []error
		want error
	}{
		{want: nil},
		{errs: []error{nil}, want: nil},
		{errs: []error{errDoom}, want: errDoom},
		{errs: []error{errDoom, nil}, want: errDoom},
	}
	for _, tc := range cases {
		g, ctx := fetch.NewTaskGroup(context.Background())
		for _, err := range tc.errs {
			g.Go(func() error { return err })
		}
		err := g.Wait()
		if tc.want == nil && err != nil || tc.want != nil && (!errors.Is(err, tc.want) || err.Error() != tc.want.Error()) {
			t.Errorf("errs %v: Wait = %v; want %v", tc.errs, err, tc.want)
		}
		select {
		case <-ctx.Done():
		default:
			t.Errorf("errs %v: ctx.Done() was not closed after Wait", tc.errs)
		}
	}
}

// errgroup: TestTryGo. errgroup reuses one zero Group across Wait calls;
// TaskGroup must not be reused after Wait, so each phase uses a fresh group
// (run on both the zero TaskGroup and NewTaskGroup's).
func TestPortErrgroupTryGo(t *testing.T) {
	for _, kind := range []string{"zero", "NewTaskGroup"} {
		t.Run(kind, func(t *testing.T) {
			newGroup := func() *fetch.TaskGroup {
				if kind == "zero" {
					return new(fetch.TaskGroup)
				}
				g, _ := fetch.NewTaskGroup(context.Background())
				return g
			}
			ch := make(chan struct{})
			fn := func() error {
				ch <- struct{}{}
				return nil
			}
			const n = 42
			g := newGroup()
			g.SetLimit(n)
			for i := range n {
				if !g.TryGo(fn) {
					t.Fatalf("TryGo should succeed but got fail at %d-th call.", i)
				}
			}
			if g.TryGo(fn) {
				t.Fatalf("TryGo is expected to fail but succeeded.")
			}
			for range n {
				<-ch
			}
			if err := g.Wait(); err != nil {
				t.Fatalf("Wait = %v", err)
			}

			// errgroup: "TryGo should success ... after all goroutines"
			// (there on the same Group, here on a fresh one).
			g = newGroup()
			g.SetLimit(n)
			if !g.TryGo(fn) {
				t.Fatalf("TryGo should succeed on an idle group but failed.")
			}
			<-ch
			g.Wait()

			// Switch limit.
			g = newGroup()
			g.SetLimit(1)
			if !g.TryGo(fn) {
				t.Fatalf("TryGo should succeed but failed.")
			}
			if g.TryGo(fn) {
				t.Fatalf("TryGo should fail but succeeded.")
			}
			<-ch
			g.Wait()

			// Block all calls.
			g = newGroup()
			g.SetLimit(0)
			for range 1 << 10 {
				if g.TryGo(fn) {
					t.Fatalf("TryGo should fail but succeeded.")
				}
			}
			g.Wait()
		})
	}
}

// errgroup: TestGoLimit (its 1µs sleep runs on synctest's clock).
func TestPortErrgroupGoLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 10
		g, _ := fetch.NewTaskGroup(context.Background())
		g.SetLimit(limit)
		var active atomic.Int32
		for i := 0; i <= 1<<10; i++ {
			g.Go(func() error {
				n := active.Add(1)
				if n > limit {
					return fmt.Errorf("saw %d active goroutines; want ≤ %d", n, limit)
				}
				time.Sleep(1 * time.Microsecond)
				active.Add(-1)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
	})
}

// errgroup: TestCancelCause. errgroup's cause is the failure itself (==);
// TaskGroup's wraps it under its message (DIVERGES, deliberate: NewTaskGroup
// doc "The cause of a failure's cancellation (context.Cause) wraps the
// failure, under its message"). With no failure the cause after Wait is
// context.Canceled, as in errgroup.
func TestPortErrgroupCancelCause(t *testing.T) {
	errDoom := errors.New("group_test: doomed")
	cases := []struct {
		errs []error
		want error
	}{
		{want: nil},
		{errs: []error{nil}, want: nil},
		{errs: []error{errDoom}, want: errDoom},
		{errs: []error{errDoom, nil}, want: errDoom},
	}
	for _, tc := range cases {
		g, ctx := fetch.NewTaskGroup(context.Background())
		for _, err := range tc.errs {
			g.TryGo(func() error { return err })
		}
		if err := g.Wait(); tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("errs %v: Wait = %v; want %v", tc.errs, err, tc.want)
		}
		cause := context.Cause(ctx)
		if tc.want == nil {
			if cause != context.Canceled {
				t.Errorf("errs %v: context.Cause(ctx) = %v; want context.Canceled", tc.errs, cause)
			}
			continue
		}
		if !errors.Is(cause, tc.want) || cause.Error() != tc.want.Error() {
			t.Errorf("errs %v: context.Cause(ctx) = %v; want it to wrap %v under its message", tc.errs, cause, tc.want)
		}
	}
}

// errgroup: ExampleGroup_justErrors (a TaskGroup in place of a WaitGroup;
// the unreachable host is a closed local server).
func TestPortErrgroupExampleJustErrors(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ok.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	run := func(urls []string) error {
		g := new(fetch.TaskGroup)
		for _, url := range urls {
			g.Go(func() error {
				resp, err := client.Get(url)
				if err == nil {
					resp.Body.Close()
				}
				return err
			})
		}
		return g.Wait()
	}
	if err := run([]string{ok.URL + "/a", ok.URL + "/b"}); err != nil {
		t.Errorf("all reachable: Wait = %v; want nil (\"Successfully fetched all URLs.\")", err)
	}
	if err := run([]string{ok.URL + "/a", ok.URL + "/b", gone.URL + "/c"}); err == nil || !strings.Contains(err.Error(), gone.URL[len("http://"):]) {
		t.Errorf("one unreachable: Wait = %v; want its error", err)
	}
}

// errgroup: ExampleGroup_parallel ("Google Search 2.0").
func TestPortErrgroupExampleParallel(t *testing.T) {
	type result string
	type search func(ctx context.Context, query string) (result, error)
	fake := func(kind string) search {
		return func(_ context.Context, query string) (result, error) {
			return result(fmt.Sprintf("%s result for %q", kind, query)), nil
		}
	}
	errVideo := errors.New("video search failed")
	google := func(ctx context.Context, query string, searches []search) ([]result, error) {
		g, ctx := fetch.NewTaskGroup(ctx)
		results := make([]result, len(searches))
		for i, s := range searches {
			g.Go(func() error {
				r, err := s(ctx, query)
				if err == nil {
					results[i] = r
				}
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		return results, nil
	}
	got, err := google(context.Background(), "golang", []search{fake("web"), fake("image"), fake("video")})
	want := []result{`web result for "golang"`, `image result for "golang"`, `video result for "golang"`}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Google = %q, %v; want %q", got, err, want)
	}
	failing := func(context.Context, string) (result, error) { return "", errVideo }
	if got, err := google(context.Background(), "golang", []search{fake("web"), fake("image"), failing}); got != nil || !errors.Is(err, errVideo) {
		t.Errorf("Google with a failing search = %q, %v; want nil, %v", got, err, errVideo)
	}
}

// portFailFS is an fs.FS whose file bad cannot be read.
type portFailFS struct {
	fs.FS
	bad string
}

var errPortRead = errors.New("read failed")

func (f portFailFS) Open(name string) (fs.File, error) {
	if name == f.bad {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errPortRead}
	}
	return f.FS.Open(name)
}

// portMD5All is errgroup's ExampleGroup_pipeline MD5All on a TaskGroup, over
// an fs.FS, with Wait called twice as the example does (once by the
// goroutine that closes c, once by the caller).
func portMD5All(ctx context.Context, fsys fs.FS) (map[string][md5.Size]byte, error) {
	g, ctx := fetch.NewTaskGroup(ctx)
	paths := make(chan string)
	g.Go(func() error {
		defer close(paths)
		return fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			select {
			case paths <- path:
			case <-ctx.Done():
				return ctx.Err()
			}
			return nil
		})
	})
	type result struct {
		path string
		sum  [md5.Size]byte
	}
	c := make(chan result)
	const numDigesters = 20
	for range numDigesters {
		g.Go(func() error {
			for path := range paths {
				data, err := fs.ReadFile(fsys, path)
				if err != nil {
					return err
				}
				select {
				case c <- result{path, md5.Sum(data)}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}
	firstWait := make(chan error, 1)
	go func() {
		firstWait <- g.Wait()
		close(c)
	}()
	m := make(map[string][md5.Size]byte)
	for r := range c {
		m[r.path] = r.sum
	}
	err := g.Wait()
	if first := <-firstWait; fmt.Sprint(first) != fmt.Sprint(err) {
		return nil, fmt.Errorf("the two Waits disagree: %v, then %v", first, err)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// errgroup: ExampleGroup_pipeline (MD5All), plus its failure paths: a file
// that cannot be read, and a context already cancelled.
func TestPortErrgroupExamplePipeline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fsys := fstest.MapFS{}
		for i := range 50 {
			fsys[fmt.Sprintf("d%d/f%d.txt", i%5, i)] = &fstest.MapFile{Data: []byte(strings.Repeat("x", i))}
		}
		m, err := portMD5All(context.Background(), fsys)
		if err != nil || len(m) != len(fsys) {
			t.Fatalf("MD5All = %d sums, %v; want %d, nil", len(m), err, len(fsys))
		}
		for name, f := range fsys {
			if m[name] != md5.Sum(f.Data) {
				t.Errorf("sum of %s is wrong", name)
			}
		}

		m, err = portMD5All(context.Background(), portFailFS{fsys, "d3/f13.txt"})
		if m != nil || !errors.Is(err, errPortRead) || errors.Is(err, context.Canceled) {
			t.Errorf("MD5All with an unreadable file = %d sums, %v; want nil and the read error only", len(m), err)
		}

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if m, err = portMD5All(ctx, fsys); m != nil || !errors.Is(err, context.Canceled) {
			t.Errorf("MD5All with a cancelled context = %d sums, %v; want nil, context.Canceled", len(m), err)
		}
	})
}

// errgroup (behaviour its users rely on, e.g. the pipeline example): every
// function passed to Go runs, so a producer's `defer close(ch)` always
// closes ch. DIVERGES, deliberate (TaskGroup doc: "tasks not yet started
// when the context ends are skipped"; Go: "If the group's context has ended
// by the time the task would start, the task is skipped"): a skipped
// producer never runs, its deferred close never happens, and a consumer
// that ranges over ch without watching ctx (as MD5All's digesters do) would
// block forever. Here the consumer also watches ctx, so the test ends.
func TestPortErrgroupSkippedProducerNeverRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		g, ctx := fetch.NewTaskGroup(parent)
		ch := make(chan int)
		var closedByProducer atomic.Bool
		g.Go(func() error { // the consumer starts first
			for {
				select {
				case _, ok := <-ch:
					if !ok {
						return nil
					}
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		})
		synctest.Wait() // the consumer is running
		cancel()        // e.g. a signal or a deadline, from outside
		g.Go(func() error {
			defer func() { close(ch); closedByProducer.Store(true) }()
			select {
			case ch <- 1:
			case <-ctx.Done():
			}
			return ctx.Err()
		})
		if err := g.Wait(); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v; want context.Canceled", err)
		}
		if closedByProducer.Load() {
			t.Errorf("the producer ran after the group's context ended; the doc says it is skipped")
		}
	})
}

// ---------------------------------------------------------------------------
// CPython Lib/test/test_asyncio/test_taskgroups.py
// ---------------------------------------------------------------------------

// asyncio: test_taskgroup_01.
func TestPortAsyncio01(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := fetch.NewTaskGroup(context.Background())
		var r1, r2 int
		g.Go(func() error { err := ctxsleep.Sleep(ctx, 100*time.Millisecond); r1 = 42; return err })
		g.Go(func() error { err := ctxsleep.Sleep(ctx, 200*time.Millisecond); r2 = 11; return err })
		if err := g.Wait(); err != nil || r1 != 42 || r2 != 11 {
			t.Errorf("Wait = %v, results %d, %d; want nil, 42, 11", err, r1, r2)
		}
	})
}

// asyncio: test_taskgroup_02 (a task added while another runs).
func TestPortAsyncio02(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := fetch.NewTaskGroup(context.Background())
		var r1, r2 atomic.Int64
		g.Go(func() error { err := ctxsleep.Sleep(ctx, 100*time.Millisecond); r1.Store(42); return err })
		time.Sleep(150 * time.Millisecond)
		if r1.Load() != 42 {
			t.Errorf("first task not done after 150ms")
		}
		g.Go(func() error { err := ctxsleep.Sleep(ctx, 200*time.Millisecond); r2.Store(11); return err })
		if err := g.Wait(); err != nil || r1.Load() != 42 || r2.Load() != 11 {
			t.Errorf("Wait = %v, results %d, %d; want nil, 42, 11", err, r1.Load(), r2.Load())
		}
	})
}

// asyncio: test_taskgroup_03 (one task cancelled on its own, "everything
// should continue working as expected"). Go has no task handle: cancelling
// one task is cancelling a context of its own, derived from the group's.
// DIVERGES, deliberate: asyncio ignores a child that ends cancelled, while
// TaskGroup counts the context.Canceled it returns as a real failure, because
// the group's context had not ended (Wait doc: "A task's error is a real
// failure unless the group's context had already ended when the task
// returned it"); it cancels the group and the second task never completes.
// A Go task gets asyncio's outcome by returning nil when its own context
// was cancelled.
func TestPortAsyncio03(t *testing.T) {
	run := func(t *testing.T, swallowOwnCancel bool) (int, error) {
		var err error
		var r2 int
		synctest.Test(t, func(t *testing.T) {
			g, ctx := fetch.NewTaskGroup(context.Background())
			ctx1, cancel1 := context.WithCancel(ctx)
			defer cancel1()
			g.Go(func() error {
				if err := ctxsleep.Sleep(ctx1, time.Second); err != nil {
					if swallowOwnCancel && ctx.Err() == nil {
						return nil
					}
					return err
				}
				return nil
			})
			time.Sleep(150 * time.Millisecond)
			cancel1() // t1.cancel()
			g.Go(func() error {
				if err := ctxsleep.Sleep(ctx, 200*time.Millisecond); err != nil {
					return err
				}
				r2 = 11
				return nil
			})
			err = g.Wait()
		})
		return r2, err
	}
	t.Run("task returns its own cancellation", func(t *testing.T) {
		r2, err := run(t, false)
		if !errors.Is(err, context.Canceled) || r2 != 0 {
			t.Errorf("Wait = %v, t2 = %d; want context.Canceled as a failure and t2 not completed (asyncio: nil, 11)", err, r2)
		}
	})
	t.Run("task swallows its own cancellation", func(t *testing.T) {
		if r2, err := run(t, true); err != nil || r2 != 11 {
			t.Errorf("Wait = %v, t2 = %d; want nil, 11", err, r2)
		}
	})
}

// asyncio: test_taskgroup_04.
func TestPortAsyncio04(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := fetch.NewTaskGroup(context.Background())
		num := 0
		var t2Cancel bool
		g.Go(func() error { time.Sleep(100 * time.Millisecond); return errPortZero })
		g.Go(func() error {
			if err := ctxsleep.Sleep(ctx, time.Second); err != nil {
				t2Cancel = true
				return err
			}
			num++
			return nil
		})
		err := g.Wait()
		if err == nil {
			num += 10
		}
		portWantLeaves(t, err, errPortZero)
		if num != 0 || !t2Cancel {
			t.Errorf("NUM = %d, t2 cancelled = %v; want 0, true", num, t2Cancel)
		}
	})
}

// asyncio: test_cancel_children_on_child_error (the body's own sleep is a
// task here: runner_cancel).
func TestPortAsyncioCancelChildrenOnChildError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := fetch.NewTaskGroup(context.Background())
		var num atomic.Int64
		var t2Cancel, runnerCancel atomic.Bool
		foo1 := func() error { time.Sleep(100 * time.Millisecond); return errPortZero }
		g.Go(foo1)
		g.Go(foo1)
		g.Go(foo1)
		g.Go(func() error {
			if err := ctxsleep.Sleep(ctx, 5*time.Second); err != nil {
				t2Cancel.Store(true)
				return err
			}
			num.Add(1)
			return nil
		})
		g.Go(func() error {
			if err := ctxsleep.Sleep(ctx, 10*time.Second); err != nil {
				runnerCancel.Store(true)
				return err
			}
			return nil
		})
		err := g.Wait()
		portAllLeaves(t, err, errPortZero)
		if num.Load() != 0 || !t2Cancel.Load() || !runnerCancel.Load() {
			t.Errorf("NUM = %d, t2 cancelled %v, runner cancelled %v; want 0, true, true", num.Load(), t2Cancel.Load(), runnerCancel.Load())
		}
	})
}

// asyncio: test_cancellation (older CPython: with r.cancel("test"), the
// CancelledError carries "test": here the parent's cancellation cause).
func TestPortAsyncioCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancelCause(context.Background())
		g, ctx := fetch.NewTaskGroup(parent)
		var num atomic.Int64
		for range 5 {
			g.Go(func() error {
				if err := ctxsleep.Sleep(ctx, 5*time.Second); err != nil {
					num.Add(1)
					return err
				}
				return nil
			})
		}
		time.Sleep(100 * time.Millisecond)
		cancel(errPortTest)
		err := g.Wait()
		if err != errPortTest {
			t.Errorf("Wait = %v; want the parent's cause %v", err, errPortTest)
		}
		if num.Load() != 5 {
			t.Errorf("NUM = %d; want 5", num.Load())
		}
	})
}

// asyncio: test_taskgroup_07 (the body is cancelled as well as the tasks).
func TestPortAsyncio07(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		g, ctx := fetch.NewTaskGroup(parent)
		var num atomic.Int64
		for range 5 {
			g.Go(func() error {
				if err := ctxsleep.Sleep(ctx, 5*time.Second); err != nil {
					num.Add(1)
					return err
				}
				return nil
			})
		}
		g.Go(func() error { // the body
			if err := ctxsleep.Sleep(ctx, 10*time.Second); err != nil {
				num.Add(10)
				return err
			}
			return nil
		})
		time.Sleep(100 * time.Millisecond)
		cancel()
		if err := g.Wait(); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v; want context.Canceled", err)
		}
		if num.Load() != 15 {
			t.Errorf("NUM = %d; want 15", num.Load())
		}
	})
}

// asyncio: test_taskgroup_08 (cancelled tasks fail in their finally: the
// group raises their errors, not CancelledError).
func TestPortAsyncio08(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		parent, cancel := context.WithCancel(context.Background())
		g, ctx := fetch.NewTaskGroup(parent)
		for range 5 {
			g.Go(func() error {
				ctxsleep.Sleep(ctx, 10*time.Second)
				return errPortZero // finally: 1 / 0
			})
		}
		g.Go(func() error { return ctxsleep.Sleep(ctx, 10*time.Second) }) // the body
		time.Sleep(100 * time.Millisecond)
		cancel()
		err := g.Wait()
		portElapsed(t, start, 100*time.Millisecond)
		portWantLeaves(t, err, errPortZero, errPortZero, errPortZero, errPortZero, errPortZero)
	})
}

// asyncio: test_taskgroup_09 and test_taskgroup_10 (the body raises, at once
// or after a while: the tasks are cancelled). TaskGroup has no way for the
// body to fail the group; the nearest analogue is a task returning the error.
func TestPortAsyncio09And10(t *testing.T) {
	for _, delay := range []time.Duration{100 * time.Millisecond, 0} {
		t.Run(delay.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g, ctx := fetch.NewTaskGroup(context.Background())
				// t.cancelled(): the task was cancelled, or (delay 0) skipped
				// before it started; either way it did not complete.
				var c1, c2 atomic.Bool
				g.Go(func() error { err := ctxsleep.Sleep(ctx, time.Second); c1.Store(err == nil); return err })
				g.Go(func() error { err := ctxsleep.Sleep(ctx, 2*time.Second); c2.Store(err == nil); return err })
				time.Sleep(delay)
				g.Go(func() error { return errPortZero })
				portWantLeaves(t, g.Wait(), errPortZero)
				if c1.Load() || c2.Load() {
					t.Errorf("t1 completed %v, t2 completed %v; want both cancelled", c1.Load(), c2.Load())
				}
			})
		})
	}
}

// asyncio: test_taskgroup_11 and test_taskgroup_12 (nested groups, the outer
// task cancelled; the inner tasks fail in their finally; in 12 the outer
// group has a sibling that is just cancelled). The error group nests: the
// outer leaves are the inner failures, without the cancellation.
func TestPortAsyncio11And12(t *testing.T) {
	for _, sibling := range []bool{false, true} {
		t.Run(fmt.Sprintf("outer sibling %v", sibling), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				parent, cancel := context.WithCancel(context.Background())
				g1, ctx1 := fetch.NewTaskGroup(parent)
				if sibling {
					g1.Go(func() error { return ctxsleep.Sleep(ctx1, 10*time.Second) })
				}
				g1.Go(func() error { // async with TaskGroup() as g2, inside g1's body
					g2, ctx2 := fetch.NewTaskGroup(ctx1)
					for range 5 {
						g2.Go(func() error {
							ctxsleep.Sleep(ctx2, 10*time.Second)
							return errPortZero
						})
					}
					serr := ctxsleep.Sleep(ctx2, 10*time.Second) // g2's body
					if err := g2.Wait(); err != nil {
						return err
					}
					return serr
				})
				time.Sleep(100 * time.Millisecond)
				cancel()
				err := g1.Wait()
				portElapsed(t, start, 100*time.Millisecond)
				portWantLeaves(t, err, errPortZero, errPortZero, errPortZero, errPortZero, errPortZero)
			})
		})
	}
}

// asyncio: test_taskgroup_13 (nested; the outer task fails first, the inner
// group only sees the cancellation and adds nothing).
func TestPortAsyncio13(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g1, ctx1 := fetch.NewTaskGroup(context.Background())
		crashAfter := func(ctx context.Context, d time.Duration) error {
			if err := ctxsleep.Sleep(ctx, d); err != nil {
				return err
			}
			return fmt.Errorf("%w(%v)", errPortValue, d)
		}
		g1.Go(func() error { return crashAfter(ctx1, 100*time.Millisecond) })
		g1.Go(func() error {
			g2, ctx2 := fetch.NewTaskGroup(ctx1)
			g2.Go(func() error { return crashAfter(ctx2, 10*time.Second) })
			return g2.Wait()
		})
		err := g1.Wait()
		portWantLeaves(t, err, errPortValue)
		if !strings.Contains(fmt.Sprint(err), "100ms") {
			t.Errorf("Wait = %v; want the 100ms ValueError", err)
		}
	})
}

// asyncio: test_taskgroup_14 (nested; the inner task fails first: the outer
// group reports the inner group's error, once, and not the cancellation of
// its own sibling).
func TestPortAsyncio14(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g1, ctx1 := fetch.NewTaskGroup(context.Background())
		crashAfter := func(ctx context.Context, d time.Duration) error {
			if err := ctxsleep.Sleep(ctx, d); err != nil {
				return err
			}
			return fmt.Errorf("%w(%v)", errPortValue, d)
		}
		g1.Go(func() error { return crashAfter(ctx1, 10*time.Second) })
		g1.Go(func() error {
			g2, ctx2 := fetch.NewTaskGroup(ctx1)
			g2.Go(func() error { return crashAfter(ctx2, 100*time.Millisecond) })
			return g2.Wait()
		})
		err := g1.Wait()
		portWantLeaves(t, err, errPortValue)
		if !strings.Contains(fmt.Sprint(err), "100ms") || errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v; want the 100ms ValueError only", err)
		}
	})
}

// asyncio: test_taskgroup_15 and test_taskgroup_16 (the outer task is
// cancelled; while the body lingers on its cancellation a child crashes: the
// crash is reported, not the cancellation; 16 runs the group one goroutine
// further down). In asyncio the parent's cancellation reaches the children
// only at __aexit__, so crash_soon's sleep is not cancelled; here the
// parent's cancellation reaches the children at once, so crash_soon does not
// watch the context.
func TestPortAsyncio15And16(t *testing.T) {
	for _, nested := range []bool{false, true} {
		t.Run(fmt.Sprintf("nested %v", nested), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				parent, cancel := context.WithCancel(context.Background())
				runner := func() error {
					g1, ctx1 := fetch.NewTaskGroup(parent)
					g1.Go(func() error { time.Sleep(300 * time.Millisecond); return errPortZero })
					g1.Go(func() error { // the body
						if err := ctxsleep.Sleep(ctx1, 10*time.Second); err != nil {
							time.Sleep(500 * time.Millisecond)
							return err
						}
						return nil
					})
					return g1.Wait()
				}
				done := make(chan error, 1)
				if nested {
					go func() {
						inner := make(chan error, 1)
						go func() { inner <- runner() }()
						done <- <-inner
					}()
				} else {
					go func() { done <- runner() }()
				}
				time.Sleep(100 * time.Millisecond)
				select {
				case err := <-done:
					t.Fatalf("runner done before the cancellation: %v", err)
				default:
				}
				cancel()
				portWantLeaves(t, <-done, errPortZero)
			})
		})
	}
}

// asyncio: test_taskgroup_17 (a group whose body alone is cancelled).
func TestPortAsyncio17(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		g, ctx := fetch.NewTaskGroup(parent)
		var num atomic.Int64
		g.Go(func() error {
			if err := ctxsleep.Sleep(ctx, 10*time.Second); err != nil {
				num.Add(10)
				return err
			}
			return nil
		})
		time.Sleep(100 * time.Millisecond)
		cancel()
		if err := g.Wait(); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v; want context.Canceled", err)
		}
		if num.Load() != 10 {
			t.Errorf("NUM = %d; want 10", num.Load())
		}
	})
}

// asyncio: test_taskgroup_18 (the body swallows its cancellation and raises
// MyExc: the group reports MyExc).
func TestPortAsyncio18(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		g, ctx := fetch.NewTaskGroup(parent)
		var num atomic.Int64
		g.Go(func() error {
			if err := ctxsleep.Sleep(ctx, 10*time.Second); err != nil {
				num.Add(10)
				return errPortMyExc
			}
			return nil
		})
		time.Sleep(100 * time.Millisecond)
		cancel()
		portWantLeaves(t, g.Wait(), errPortMyExc)
		if num.Load() != 10 {
			t.Errorf("NUM = %d; want 10", num.Load())
		}
	})
}

// asyncio: test_taskgroup_19 (a child crashes; the cancelled body raises
// MyExc in its finally: both are reported).
func TestPortAsyncio19(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		g, ctx := fetch.NewTaskGroup(context.Background())
		g.Go(func() error { time.Sleep(100 * time.Millisecond); return errPortZero })
		g.Go(func() error { ctxsleep.Sleep(ctx, 10*time.Second); return errPortMyExc })
		portWantLeaves(t, g.Wait(), errPortMyExc, errPortZero)
		portElapsed(t, start, 100*time.Millisecond)
	})
}

// asyncio: test_taskgroup_20, test_taskgroup_20a and test_taskgroup_21a
// (BaseExceptions: a panic here). asyncio lets KeyboardInterrupt propagate
// on its own (20) and groups other BaseExceptions with the errors (20a,
// 21a). DIVERGES for 20, deliberate: TaskGroup recovers every panic into a
// *PanicError reported beside the errors (TaskGroup doc: "a task that panics
// does not crash the program: the panic is recovered into a *PanicError
// ... and is reported by Wait").
func TestPortAsyncio20And21a(t *testing.T) {
	type myBaseExc struct{ string }
	tests := []struct {
		name             string
		crash, cancelled func(ctx context.Context) error
		wantErr          error
		wantPanic        any
	}{
		{"20: KeyboardInterrupt in the body's finally",
			func(context.Context) error { time.Sleep(100 * time.Millisecond); return errPortZero },
			func(ctx context.Context) error { ctxsleep.Sleep(ctx, 10*time.Second); panic("KeyboardInterrupt") },
			errPortZero, "KeyboardInterrupt"},
		{"20a: MyBaseExc in the body's finally",
			func(context.Context) error { time.Sleep(100 * time.Millisecond); return errPortZero },
			func(ctx context.Context) error { ctxsleep.Sleep(ctx, 10*time.Second); panic(myBaseExc{"MyBaseExc"}) },
			errPortZero, myBaseExc{"MyBaseExc"}},
		{"21a: the child raises MyBaseExc, the body TypeError",
			func(context.Context) error { time.Sleep(100 * time.Millisecond); panic(myBaseExc{"MyBaseExc"}) },
			func(ctx context.Context) error { ctxsleep.Sleep(ctx, 10*time.Second); return errPortType },
			errPortType, myBaseExc{"MyBaseExc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				g, ctx := fetch.NewTaskGroup(context.Background())
				g.Go(func() error { return tt.crash(ctx) })
				g.Go(func() error { return tt.cancelled(ctx) })
				err := g.Wait()
				portElapsed(t, start, 100*time.Millisecond) // a panic cancels the siblings too
				leaves := portLeaves(err)
				var pe *fetch.PanicError
				if len(leaves) != 2 || !errors.Is(err, tt.wantErr) || !errors.As(err, &pe) || pe.Value != tt.wantPanic {
					t.Errorf("Wait = %q; want %v and a *PanicError of %v", err, tt.wantErr, tt.wantPanic)
				}
			})
		})
	}
}

// asyncio: test_taskgroup_20a, with the BaseException's value a context
// error: a task that panics with ctx.Err() once the group is cancelled is
// still reported (TaskGroup.Wait doc: "a *PanicError ... always kept").
func TestPortAsyncio20aPanicWithContextError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		g, ctx := fetch.NewTaskGroup(parent)
		g.Go(func() error { <-ctx.Done(); panic(ctx.Err()) })
		g.Go(func() error { <-ctx.Done(); return ctx.Err() })
		synctest.Wait()
		cancel()
		err := g.Wait()
		pe, ok := errors.AsType[*fetch.PanicError](err)
		if !ok || pe.Value != context.Canceled || len(portLeaves(err)) != 1 {
			t.Errorf("Wait = %v; want the *PanicError of context.Canceled alone", err)
		}
	})
}

// asyncio: test_taskgroup_22 (the outer task cancelled while the children
// sleep).
func TestPortAsyncio22(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		g, ctx := fetch.NewTaskGroup(parent)
		g.Go(func() error { return ctxsleep.Sleep(ctx, time.Second) })
		g.Go(func() error { return ctxsleep.Sleep(ctx, 2*time.Second) })
		time.Sleep(50 * time.Millisecond)
		cancel()
		if err := g.Wait(); err != context.Canceled {
			t.Errorf("Wait = %v; want context.Canceled", err)
		}
	})
}

// asyncio: test_taskgroup_24 (a task adds tasks to its own group later: Wait
// waits for them).
func TestPortAsyncio24(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := fetch.NewTaskGroup(context.Background())
		var done atomic.Int64
		coro1 := func(d time.Duration) func() error {
			return func() error {
				err := ctxsleep.Sleep(ctx, d)
				done.Add(1)
				return err
			}
		}
		g.Go(func() error {
			time.Sleep(100 * time.Millisecond)
			g.Go(coro1(100 * time.Millisecond))
			g.Go(coro1(200 * time.Millisecond))
			return nil
		})
		if err := g.Wait(); err != nil || done.Load() != 2 {
			t.Errorf("Wait = %v with %d grandchildren done; want nil, 2", err, done.Load())
		}
	})
}

// asyncio: test_taskgroup_25 (hydras add two tasks each until Hercules
// fails the group; the hydras added after that are not run).
func TestPortAsyncio25(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := fetch.NewTaskGroup(context.Background())
		var nhydras atomic.Int64
		var hydra func() error
		hydra = func() error {
			nhydras.Add(1)
			if err := ctxsleep.Sleep(ctx, 10*time.Millisecond); err != nil {
				return err
			}
			if nhydras.Load() >= 1000 { // the group was never cancelled: stop
				return nil
			}
			g.Go(hydra)
			g.Go(hydra)
			return nil
		}
		g.Go(hydra)
		g.Go(func() error { // hercules
			for nhydras.Load() < 10 {
				time.Sleep(15 * time.Millisecond)
			}
			return errPortZero
		})
		portWantLeaves(t, g.Wait(), errPortZero)
		if n := nhydras.Load(); n < 10 || n >= 1000 {
			t.Errorf("nhydras = %d; want ≥ 10, and the hydras stopped by the failure", n)
		}
	})
}

// asyncio: test_taskgroup_no_create_task_after_failure. asyncio's
// create_task raises RuntimeError and closes the coroutine; TaskGroup's Go
// skips the task (doc: "If the group's context has ended by the time the
// task would start, the task is skipped") without telling the caller, and
// TryGo returns false (doc: "Once the context has ended TryGo returns false
// for good").
func TestPortAsyncioNoCreateTaskAfterFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := fetch.NewTaskGroup(context.Background())
		var ranLate atomic.Int64
		g.Go(func() error { time.Sleep(time.Millisecond); return errPortZero })
		g.Go(func() error {
			if err := ctxsleep.Sleep(ctx, time.Second); err != nil {
				late := func() error { ranLate.Add(1); return errPortZero }
				g.Go(late)
				if g.TryGo(late) {
					t.Errorf("TryGo after the failure returned true")
				}
				return err
			}
			return nil
		})
		portWantLeaves(t, g.Wait(), errPortZero)
		if ranLate.Load() != 0 {
			t.Errorf("%d tasks added after the failure ran; want none", ranLate.Load())
		}
	})
}

// asyncio: test_taskgroup_context_manager_exit_raises (a child and the body
// both raise the same exception type: both are reported, and the caller is
// not left cancelled).
func TestPortAsyncioContextManagerExitRaises(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errCustom := errors.New("CustomException")
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		g, ctx := fetch.NewTaskGroup(parent)
		g.Go(func() error { ctxsleep.Sleep(ctx, time.Second); return errCustom }) // database()'s finally
		synctest.Wait()                                                           // the body runs before the child fails
		g.Go(func() error { return errCustom })
		start := time.Now()
		portWantLeaves(t, g.Wait(), errCustom, errCustom)
		portElapsed(t, start, 0)
		if parent.Err() != nil {
			t.Errorf("the caller's context was cancelled: %v", parent.Err())
		}
	})
}

// asyncio: test_taskgroup_finished and test_coro_closed_when_tg_closed
// (create_task after the group finished raises RuntimeError "is finished"
// and the coroutine never runs). TaskGroup: "must not be reused after Wait
// returns"; TryGo says it returns false once Wait has returned; Go after Wait
// skips the task, since Wait cancelled the context, without telling the
// caller. The zero TaskGroup has no context: what Go or TryGo do after its
// Wait is not said (they run the task, and nobody waits for it), so that is
// not tested.
func TestPortAsyncioTaskAfterGroupFinished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, _ := fetch.NewTaskGroup(context.Background())
		if err := g.Wait(); err != nil {
			t.Fatalf("Wait = %v", err)
		}
		var ran atomic.Int64
		g.Go(func() error { ran.Add(1); return nil })
		if g.TryGo(func() error { ran.Add(1); return nil }) {
			t.Errorf("TryGo after Wait returned true")
		}
		synctest.Wait()
		if ran.Load() != 0 {
			t.Errorf("%d tasks ran after Wait; want none", ran.Load())
		}
	})
}

// asyncio: test_taskgroup_finished, continued: Wait called again after a
// task was added to a finished group. By Wait's doc the answer is still nil:
// no task failed, and the context did not end from outside ("If no task
// failed but the context ended from outside (its parent was cancelled or
// timed out) and some task gave up or was skipped because of it, Wait
// returns the context's cause").
func TestPortWaitAgainAfterGoOnFinishedGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, _ := fetch.NewTaskGroup(context.Background())
		first := g.Wait()
		g.Go(func() error { return nil })
		if second := g.Wait(); first != nil || second != nil {
			t.Errorf("Wait = %v, then %v after a Go on the finished group; want nil both times", first, second)
		}
	})
}

// asyncio: test_cancelling_level_preserved and
// test_cancellation_does_not_leak_out_of_tg (the group's own cancellation
// does not reach the caller).
func TestPortAsyncioCancellationDoesNotLeakOut(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, ctx := fetch.NewTaskGroup(parent)
	g.Go(func() error { return errPortRuntime })
	portWantLeaves(t, g.Wait(), errPortRuntime)
	if ctx.Err() == nil {
		t.Errorf("the group's context is not done after its failure")
	}
	if parent.Err() != nil {
		t.Errorf("the caller's context was cancelled by the group: %v", context.Cause(parent))
	}
}

// asyncio: test_nested_groups_both_cancelled (the inner group fails with
// RuntimeError, handled by the outer body; the outer group fails with
// ValueError, added from inside the inner body).
func TestPortAsyncioNestedGroupsBothCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		outer, octx := fetch.NewTaskGroup(parent)
		var innerErr error
		outer.Go(func() error {
			inner, _ := fetch.NewTaskGroup(octx)
			innerFailed := make(chan struct{})
			inner.Go(func() error { defer close(innerFailed); return errPortRuntime })
			outer.Go(func() error { <-innerFailed; return errPortValue })
			innerErr = inner.Wait()
			if errors.Is(innerErr, errPortRuntime) {
				return nil // except* RuntimeError: pass
			}
			return innerErr
		})
		err := outer.Wait()
		portWantLeaves(t, innerErr, errPortRuntime)
		portWantLeaves(t, err, errPortValue)
		if parent.Err() != nil {
			t.Errorf("the caller's context was cancelled: %v", parent.Err())
		}
	})
}

// asyncio: test_error_and_cancel (a child fails while the task running the
// group is being cancelled: the group reports the child's error, and the
// cancellation stays in force after the group).
func TestPortAsyncioErrorAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		g, ctx := fetch.NewTaskGroup(parent)
		event, proceed := make(chan struct{}), make(chan struct{})
		g.Go(func() error {
			close(event)
			<-proceed
			return errPortRuntime
		})
		var bodyCancelled atomic.Bool
		g.Go(func() error { // the body's sleep
			err := ctxsleep.Sleep(ctx, time.Second)
			bodyCancelled.Store(err != nil)
			return err
		})
		<-event
		synctest.Wait() // the body is sleeping
		cancel()        // t.cancel()
		close(proceed)
		portWantLeaves(t, g.Wait(), errPortRuntime)
		if !bodyCancelled.Load() {
			t.Errorf("the body's sleep was not cancelled")
		}
		if parent.Err() == nil {
			t.Errorf("the cancellation of the task running the group was lost")
		}
	})
}

// asyncio: test_exception_refcycles_propagate_cancellation_error (the group
// under an already expired asyncio.timeout: TimeoutError, i.e. the
// deadline).
func TestPortAsyncioExpiredTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithTimeout(context.Background(), -1)
		defer cancel()
		g, ctx := fetch.NewTaskGroup(parent)
		g.Go(func() error { return ctxsleep.Sleep(ctx, 0) })
		if err := g.Wait(); err != context.DeadlineExceeded {
			t.Errorf("Wait = %v; want context.DeadlineExceeded", err)
		}
	})
}

// asyncio: test_cancels_task_if_created_during_creation (gh-128550: a task
// adds a task that fails; the adding task is then cancelled at its next
// await and still runs to its end).
func TestPortAsyncioCancelsTaskCreatedDuringCreation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errMy := errors.New("third task failed")
		g, ctx := fetch.NewTaskGroup(context.Background())
		var ran atomic.Bool
		g.Go(func() error {
			g.Go(func() error { return errMy })
			err := ctxsleep.Sleep(ctx, time.Hour)
			if err == nil {
				t.Errorf("the second task was not cancelled")
			}
			ran.Store(true)
			return err
		})
		portWantLeaves(t, g.Wait(), errMy)
		if !ran.Load() {
			t.Errorf("the second task did not run to its end")
		}
	})
}

// asyncio (a child that is cancelled but swallows it, the CancelledError
// caught and a value returned): the group reports only the real failure.
func TestPortAsyncioChildSwallowsCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, ctx := fetch.NewTaskGroup(context.Background())
		var swallowed atomic.Bool
		g.Go(func() error {
			if ctxsleep.Sleep(ctx, time.Hour) != nil {
				swallowed.Store(true)
			}
			return nil
		})
		g.Go(func() error { time.Sleep(time.Millisecond); return errPortZero })
		portWantLeaves(t, g.Wait(), errPortZero)
		if !swallowed.Load() {
			t.Errorf("the child was not cancelled")
		}
	})
}

// asyncio (TaskGroup.__aexit__: when the task running the group is cancelled,
// CancelledError propagates even if every child swallows its cancellation).
// DIVERGES, deliberate: Wait returns the cause only if "some task gave up
// or was skipped because of it" (Wait doc); with every task swallowing it,
// Wait returns nil and the caller sees the cancellation in its own context.
func TestPortAsyncioParentCancelledAllChildrenSwallow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		g, ctx := fetch.NewTaskGroup(parent)
		for range 3 {
			g.Go(func() error { ctxsleep.Sleep(ctx, time.Hour); return nil })
		}
		synctest.Wait()
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("Wait = %v; want nil (documented; asyncio raises CancelledError)", err)
		}
		if parent.Err() == nil {
			t.Errorf("the parent's cancellation was lost")
		}
	})
}

// asyncio and errgroup: Wait called twice (MD5All calls it from two
// goroutines; asyncio's __aexit__ runs once, and a second `async with` is
// refused). The second Wait, and concurrent Waits, return the same as the
// first.
func TestPortWaitTwice(t *testing.T) {
	tests := []struct {
		name string
		run  func(ctx context.Context, g *fetch.TaskGroup, cancel context.CancelFunc)
		want []error
	}{
		{"success", func(ctx context.Context, g *fetch.TaskGroup, _ context.CancelFunc) {
			g.Go(func() error { return nil })
		}, nil},
		{"failures", func(ctx context.Context, g *fetch.TaskGroup, _ context.CancelFunc) {
			g.Go(func() error { ctxsleep.Sleep(ctx, time.Hour); return errPortMyExc })
			synctest.Wait() // running before the failure, so not skipped
			g.Go(func() error { return errPortZero })
		}, []error{errPortZero, errPortMyExc}},
		{"cancelled from outside", func(ctx context.Context, g *fetch.TaskGroup, cancel context.CancelFunc) {
			g.Go(func() error { return ctxsleep.Sleep(ctx, time.Hour) })
			synctest.Wait()
			cancel()
		}, []error{context.Canceled}},
		{"panic", func(ctx context.Context, g *fetch.TaskGroup, _ context.CancelFunc) {
			g.Go(func() error { panic("boom") })
		}, []error{new(fetch.PanicError)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				parent, cancel := context.WithCancel(context.Background())
				defer cancel()
				g, ctx := fetch.NewTaskGroup(parent)
				tt.run(ctx, g, cancel)
				var wg sync.WaitGroup
				errs := make([]error, 3)
				for i := range errs {
					wg.Go(func() { errs[i] = g.Wait() })
				}
				wg.Wait()
				again := g.Wait()
				for _, err := range append(errs, again) {
					if fmt.Sprint(err) != fmt.Sprint(errs[0]) {
						t.Errorf("Waits disagree: %v and %v", errs[0], err)
					}
				}
				if tt.want == nil {
					if again != nil {
						t.Errorf("Wait = %v; want nil", again)
					}
					return
				}
				if _, ok := tt.want[0].(*fetch.PanicError); ok {
					if pe, ok := errors.AsType[*fetch.PanicError](again); !ok || pe.Value != "boom" {
						t.Errorf("Wait = %v; want a *PanicError of boom", again)
					}
					return
				}
				portWantLeaves(t, again, tt.want...)
			})
		})
	}
}
