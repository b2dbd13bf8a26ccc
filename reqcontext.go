package fetch

import (
	"context"
	"errors"
	"reflect"
)

// A requestContext is the context a batch or streaming call sends a
// request under when the request came with a context of its own (see
// withRequest): it ends when the call's context or the request's ends,
// with the error of the one that ended it, and it holds the values of
// both, the request's first where both hold a key (they are the more
// specific: this request's span, its logger).
type requestContext struct {
	// Context ends it: the call's, if the request's ends only with it, or
	// else a context made from the request's that the call's ends too.
	context.Context
	own  context.Context // the request's, whose values come first
	call context.Context // the call's, for the values own lacks

	stop     func() bool             // stops the watch that ends Context with the call's; nil if Context is the call's
	cancel   context.CancelCauseFunc // ends Context; nil if Context is the call's
	deadline context.CancelFunc      // stops the call's deadline on Context, if it took it (see withRequest)
}

// Value returns the request's value for key if it has one, else the
// call's. A context made from r (an attempt's timeout) asks it, under the
// context package's own key, for the context that ends it, to be told
// when it ends; that is Context, which ends r.
func (r *requestContext) Value(key any) any {
	if key == cancelKey {
		return r.Context.Value(key)
	}
	if v := r.own.Value(key); v != nil {
		return v
	}
	return r.call.Value(key)
}

// release ends the watches r set up, once the request's result has been
// delivered (or the request is dropped unsent): the request's context and
// the call's then hold nothing of it. A nil r, which set up none, is
// fine.
func (r *requestContext) release() {
	if r == nil {
		return
	}
	r.stop()
	if r.deadline != nil {
		r.deadline()
	}
	r.cancel(nil)
}

// withRequest returns the context to send a request whose own context is
// own under, for a call whose context is call, and, if that context set up
// watches that must be released when the request's result is delivered,
// the requestContext to release. A request whose context has already ended
// gets its error instead, and is not to be sent.
//
// It costs nothing, returning call itself, when own is call, the caller's
// context call was made from (see callContext), or [context.Background]
// or [context.TODO] (a request made with [http.NewRequest]); one
// allocation, and nothing to release, when own cannot end before call
// does (it never ends, or ends with call) but may hold values of its own.
func withRequest(call, own context.Context) (context.Context, *requestContext, error) {
	parent := call
	if c, ok := call.(*callContext); ok {
		parent = c.parent
	}
	switch {
	case same(own, call) || same(own, parent) || same(own, context.Background()) || same(own, context.TODO()):
		return call, nil, nil
	case own.Err() != nil:
		return nil, nil, contextError(own)
	}
	r := &requestContext{Context: call, own: own, call: call}
	if done := own.Done(); done == nil || done == call.Done() || done == parent.Done() {
		return r, nil, nil // it ends with call, if at all: values only
	}
	// Made from own, so that own's deadline ends it as DeadlineExceeded
	// and own's cancellation passes its cause on, as they would a
	// context made from own; call's end is watched. Should call have an
	// earlier deadline, ctx takes it too, so that it ends at it as
	// DeadlineExceeded as well, not as a cancellation.
	ctx, cancel := context.WithCancelCause(own)
	r.cancel = cancel
	if d, ok := call.Deadline(); ok {
		if od, ok := own.Deadline(); !ok || d.Before(od) {
			ctx, r.deadline = context.WithDeadline(ctx, d)
		}
	}
	r.Context = ctx
	r.stop = context.AfterFunc(call, func() {
		if _, ok := call.Deadline(); ok && errors.Is(call.Err(), context.DeadlineExceeded) {
			return // ctx has that deadline, or own's earlier one: it ends, or has ended, by itself
		}
		cancel(context.Cause(call))
	})
	return r, r, nil
}

// same reports whether a and b are the same context. They are compared
// only if a's type can be: == on two values of one type that cannot (a
// struct holding a map) would panic.
func same(a, b context.Context) bool {
	return reflect.TypeOf(a).Comparable() && a == b
}

// A callContext is the context of a call that cancels its requests itself
// (a fail-fast batch at its first failure, a stream on an early break),
// made from parent, the caller's. A request made with parent ends with
// the call's context: it costs no merging (see withRequest).
type callContext struct {
	context.Context // made from parent, with a cancel of its own
	parent          context.Context
}

// cancelKey is the key under which the context package asks a context
// made from another for the context that ends it (a cancelCtx, which
// answers with itself), so that it is told when that ends without a
// goroutine of its own to watch it. The package does not export it, so it
// is learnt by asking for a cause once (as traceKey is); should that
// change, it is a key nobody asks for, and a context made from a
// requestContext then watches it with a goroutine, as the context package
// does for any context it does not know.
var cancelKey = func() any {
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	k := keyProbe{Context: dead}
	context.Cause(&k) // asks dead's cancelCtx for its cause, under the key
	live, stop := context.WithCancel(context.Background())
	defer stop()
	if k.key == nil || live.Value(k.key) != live {
		return new(int) // not the key: nobody asks for it
	}
	return k.key
}()
