package fetch

import (
	"context"
	"errors"
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
//   - [TaskGroup.Wait] reports every real failure, joined with
//     [errors.Join], and leaves out the context errors that tasks returned
//     only because the group cancelled them;
//   - a task that panics does not crash the program: the panic is recovered
//     into a [*PanicError] carrying its value and stack, counts as that
//     task's failure (cancelling the siblings), and is reported by Wait.
//
// Create one with [NewTaskGroup]. The zero TaskGroup is valid: it has no
// limit, no context to cancel, and still collects every error. A TaskGroup
// is safe for concurrent use, but must not be reused after Wait returns.
type TaskGroup struct {
	eg     errgroup.Group
	ctx    context.Context // nil in the zero TaskGroup
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	errs    []error // real failures, in the order they happened
	failed  bool    // a task failed, so the group cancelled itself
	dropped bool    // a context error or a skipped task followed the context ending
}

// NewTaskGroup returns a TaskGroup and a context derived from ctx that is
// cancelled, with the failure as its cause ([context.Cause]), when a task
// first fails, or when Wait returns.
func NewTaskGroup(ctx context.Context) (*TaskGroup, context.Context) {
	ctx, cancel := context.WithCancelCause(ctx)
	return &TaskGroup{ctx: ctx, cancel: cancel}, ctx
}

// SetLimit limits the number of tasks running at once to n; a negative n
// means no limit. It must not be called while tasks are running.
func (g *TaskGroup) SetLimit(n int) { g.eg.SetLimit(n) }

// Go runs task in a new goroutine, first blocking until the group's limit
// allows another task to run.
func (g *TaskGroup) Go(task func() error) { g.eg.Go(g.wrap(task)) }

// TryGo runs task in a new goroutine only if the group's limit allows one
// more task now, and reports whether it did.
func (g *TaskGroup) TryGo(task func() error) bool { return g.eg.TryGo(g.wrap(task)) }

// Wait blocks until every task started with Go or TryGo has returned, then
// cancels the group's context and returns the joined real failures, or nil.
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
	if len(g.errs) == 0 && g.dropped {
		return context.Cause(g.ctx)
	}
	return errors.Join(g.errs...)
}

// wrap runs task with panic recovery and records its outcome. errgroup sees
// only nil, so all error handling is the TaskGroup's.
func (g *TaskGroup) wrap(task func() error) func() error {
	return func() error {
		if g.ctx != nil && g.ctx.Err() != nil {
			g.mu.Lock()
			g.dropped = true // skipped: the group's context already ended
			g.mu.Unlock()
			return nil
		}
		if err := runTask(task); err != nil {
			g.record(err)
		}
		return nil
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
	var panicErr *PanicError
	ended := g.ctx != nil && g.ctx.Err() != nil
	if ended && !errors.As(err, &panicErr) &&
		(errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		g.dropped = true
		return
	}
	g.errs = append(g.errs, err)
	if !g.failed {
		g.failed = true
		if g.cancel != nil {
			g.cancel(err)
		}
	}
}
