package fetch

import (
	"context"
	"errors"
	"reflect"
	"runtime/debug"
	"sync"

	"golang.org/x/sync/errgroup"
)

// A TaskGroup runs related tasks in goroutines and waits for them, with the
// shape of [errgroup.Group] and the semantics of Python's asyncio.TaskGroup:
//
//   - the first task to fail cancels the group's context, so its siblings
//     can stop early, and tasks not yet started when the context ends are
//     skipped;
//   - [TaskGroup.Wait] reports every real failure once, joined with
//     [errors.Join], and leaves out the errors that tasks returned only
//     because the group's context ended: see [TaskGroup.Wait] for the rule,
//     which also keeps a nested TaskGroup from reporting the outer
//     group's failure a second time;
//   - a task that panics does not crash the program: the panic is recovered
//     into a [*PanicError] carrying its value and stack, counts as that
//     task's failure (cancelling the siblings), and is reported by Wait.
//
// Create one with [NewTaskGroup]. The zero TaskGroup is valid: it has no
// limit, no context to cancel, and still collects every error. A TaskGroup
// is safe for concurrent use, but must not be reused after Wait returns:
// unlike asyncio's, whose create_task then raises, a group made by
// NewTaskGroup skips a task given to Go after Wait without a word (its
// context has ended), and TryGo returns false; the zero TaskGroup, which
// has no context, runs it, for a later Wait to report.
type TaskGroup struct {
	eg     errgroup.Group
	ctx    context.Context // nil in the zero TaskGroup
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	errs    []error // real failures, in the order they happened
	failed  bool    // a task failed, so the group cancelled itself
	dropped bool    // a context error or a skipped task followed the context ending
	waited  bool    // Wait has returned: a task Go skips after it changes nothing
}

// NewTaskGroup returns a TaskGroup and a context derived from ctx that is
// cancelled when a task first fails, or when Wait returns. The cause of a
// failure's cancellation ([context.Cause]) wraps the failure, under its
// message: errors.Is and errors.As see the failure through it, and Wait
// can tell an error that carries this cancellation (a nested group's, say)
// from another task's own failure that wraps the same sentinel error.
func NewTaskGroup(ctx context.Context) (*TaskGroup, context.Context) {
	ctx, cancel := context.WithCancelCause(ctx)
	return &TaskGroup{ctx: ctx, cancel: cancel}, ctx
}

// SetLimit limits the number of tasks running at once to n; a negative n
// means no limit, and a limit of zero makes every later Go block for ever
// and every TryGo return false. It must not be called while tasks are
// running: as [errgroup.Group.SetLimit], which it calls, it then panics if
// a limit was set before, and otherwise leaves Wait blocked for ever.
func (g *TaskGroup) SetLimit(n int) { g.eg.SetLimit(n) }

// Go runs task in a new goroutine, first blocking until the group's limit
// allows another task to run, even once the group's context has ended. If
// the context has ended by the time the task would start, the task is
// skipped. A nil task panics.
func (g *TaskGroup) Go(task func() error) {
	if task == nil {
		panic("fetch: TaskGroup.Go: nil task") // the caller's mistake, named at once
	}
	g.eg.Go(func() error {
		if g.ended() {
			g.mu.Lock()
			g.dropped = g.dropped || !g.waited // skipped: the group's context already ended
			g.mu.Unlock()
			return nil
		}
		g.run(task)
		return nil
	})
}

// TryGo calls task in a new goroutine only if the group's context has not
// ended (no task has failed, the parent context is not done, and Wait has
// not returned; the zero TaskGroup has no context) and the number of
// running tasks is currently below the limit set by [TaskGroup.SetLimit].
// The return value reports whether the goroutine was started: when TryGo
// returns true, task runs, even if the context ends before it is
// scheduled; when it returns false, task never runs. Once the context has
// ended TryGo returns false for good, so a caller that retries TryGo until
// it succeeds must also stop when the context is done.
func (g *TaskGroup) TryGo(task func() error) bool {
	if task == nil {
		panic("fetch: TaskGroup.TryGo: nil task")
	}
	if g.ended() {
		return false
	}
	return g.eg.TryGo(func() error { g.run(task); return nil })
}

// Wait blocks until every task started with Go or TryGo has returned, then
// cancels the group's context and returns the joined real failures, or nil.
//
// A task's error is a real failure unless the group's context had already
// ended when the task returned it and the error only reflects that: it is,
// or wraps, [context.Canceled], [context.DeadlineExceeded] or the context's
// cause ([context.Cause]: the wrapped first failure, or the parent's
// cause), or it joins only such errors. So a nested TaskGroup whose Wait
// returns the outer group's failure, received as its context's cause, does
// not report it twice, while an error joining a cancellation with another
// error, another task's error that wraps the same sentinel error as the
// first failure, and a [*PanicError], are always kept.
//
// If no task failed but the context ended from outside (its parent was
// cancelled or timed out) and some task gave up or was skipped because of
// it, Wait returns the context's cause.
func (g *TaskGroup) Wait() error {
	g.eg.Wait()
	if g.cancel != nil {
		defer g.cancel(context.Canceled)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.waited = true
	if len(g.errs) == 0 && g.dropped {
		return context.Cause(g.ctx)
	}
	return errors.Join(g.errs...)
}

// ended reports whether the group's context has ended; the zero TaskGroup's
// never does.
func (g *TaskGroup) ended() bool { return g.ctx != nil && g.ctx.Err() != nil }

// run runs task with panic recovery and records its outcome. errgroup sees
// only nil, so all error handling is the TaskGroup's.
func (g *TaskGroup) run(task func() error) {
	if err := runTask(task); err != nil {
		g.record(err)
	}
}

func runTask(task func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return task()
}

// record keeps err as a failure, unless it only reflects the group's context
// having ended; the first failure cancels the group.
func (g *TaskGroup) record(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended() && onlyEnd(err, context.Canceled, context.DeadlineExceeded, context.Cause(g.ctx)) {
		g.dropped = true
		return
	}
	g.errs = append(g.errs, err)
	if !g.failed {
		g.failed = true
		if g.cancel != nil {
			g.cancel(&groupFailure{err})
		}
	}
}

// A groupFailure is the cause of a TaskGroup's cancellation by its first
// failure: the failure, in a wrapper of its own, so that only errors that
// carry this cancellation (this very value) match the cause, and not every
// error that wraps the same sentinel as the failure.
type groupFailure struct{ err error }

func (e *groupFailure) Error() string { return e.err.Error() }
func (e *groupFailure) Unwrap() error { return e.err }

// onlyEnd reports whether err says nothing but that a context ended: err is
// one of ends, or wraps one, or joins only such errors. It is [errors.Is]
// with "every" in place of "any" at each join, so a real failure joined
// with a cancellation is kept. A [*PanicError] never counts.
func onlyEnd(err error, ends ...error) bool {
	if _, ok := err.(*PanicError); ok {
		return false
	}
	for _, end := range ends {
		if end == nil {
			continue
		}
		if reflect.TypeOf(end).Comparable() && err == end {
			return true
		}
		if x, ok := err.(interface{ Is(error) bool }); ok && x.Is(end) {
			return true
		}
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		next := u.Unwrap()
		return next != nil && onlyEnd(next, ends...)
	case interface{ Unwrap() []error }:
		errs := u.Unwrap()
		for _, e := range errs {
			if e != nil && !onlyEnd(e, ends...) {
				return false
			}
		}
		return len(errs) > 0
	}
	return false
}
