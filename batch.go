package fetch

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"

	"github.com/c989c033/fetch/internal/urlredact"
)

// errNilContext is the error of a call given a nil context, which names
// no request.
var errNilContext error = &Error{Err: errors.New("nil context")}

// errOptionPanicked cancels a fail-fast batch whose request option
// panicked, before the panic is raised on the caller's goroutine.
var errOptionPanicked = errors.New("fetch: a request option panicked")

// GetAll fetches every URL (with GET, unless opts say otherwise), as many at a time as the Fetcher's
// concurrency allows, and returns one [Result] per URL in input order, like
// Python's asyncio.gather with return_exceptions: a failed URL has its
// error in its Result and does not stop the others. The Fetcher reads and
// closes every body. Like every Fetcher method, GetAll is safe for
// concurrent use. If ctx ends, the URLs
// not yet fetched come back with an error matching ctx's.
//
// A panic in one of opts is raised on the caller's goroutine once the
// requests already under way have ended, as sourcegraph/conc's pool raises
// a task's panic: GetAll cancels nothing, so that a request's context costs
// nothing to cancel (the fail-fast calls cancel them first).
func (f *Fetcher) GetAll(ctx context.Context, urls []string, opts ...RequestOption) []Result {
	results, _ := batch(ctx, f, urls, false, getURL(opts))
	return results
}

// GetAllFailFast is [Fetcher.GetAll] that stops at the first failure: it
// cancels the requests still running or waiting and returns that failure
// with the results, in which the cancelled requests carry an error matching
// [context.Canceled].
func (f *Fetcher) GetAllFailFast(ctx context.Context, urls []string, opts ...RequestOption) ([]Result, error) {
	return batch(ctx, f, urls, true, getURL(opts))
}

// DoAll sends every request and returns one [Result] per request in input
// order, as [Fetcher.GetAll] does. Bodies are read in full and closed by
// the Fetcher; a request body must be replayable (GetBody set) to be
// retried.
//
// Each request is sent under its own context and ctx both, as
// [Fetcher.Do] would send it under its own: it ends when either ends, with
// the error of the one that ended it (a request's own deadline fails that
// request alone, with [context.DeadlineExceeded], and the others go on),
// and its values, which the [Hooks] and the transport see, are the
// request's and ctx's, the request's winning where both hold a key (they
// are the more specific: the request's span, its logger). A request whose
// own context has ended before it is sent fails with its error, unsent,
// taking no slot or token. A request made with [http.NewRequest] (whose
// context is [context.Background]) or with ctx itself costs nothing more
// than ctx alone; one whose context may end on its own sets up a watch of
// both, released once its Result is made. A [MaxBodySize] or a [Header]
// Host applied to a request counts.
func (f *Fetcher) DoAll(ctx context.Context, reqs []*http.Request) []Result {
	results, _ := batch(ctx, f, reqs, false, sendRequest)
	return results
}

// DoAllFailFast is [Fetcher.DoAll] that stops at the first failure, as
// [Fetcher.GetAllFailFast] does: a request ended by its own context is a
// failure too, and the first failure cancels the other requests, whatever
// their own contexts.
func (f *Fetcher) DoAllFailFast(ctx context.Context, reqs []*http.Request) ([]Result, error) {
	return batch(ctx, f, reqs, true, sendRequest)
}

// batch fetches what newRequest makes of every input, on a pool of workers
// no larger than f's concurrency, and returns the results in input order.
// With failFast, the first failure cancels ctx for the rest and is returned.
func batch[T any](ctx context.Context, f *Fetcher, in []T, failFast bool, newRequest requester[T]) ([]Result, error) {
	n := len(in)
	results := make([]Result, n)
	if ctx == nil {
		for i := range results {
			results[i] = Result{Index: i, Err: errNilContext}
			switch v := any(in[i]).(type) {
			case *http.Request: // never to be sent: closed, as Do promises
				if v != nil {
					closeUnsent(v)
					if v.URL != nil {
						results[i].URL = v.URL.Redacted()
					}
				}
			case string:
				results[i].URL = urlredact.String(v)
			}
		}
		return results, errNilContext
	}
	// Only fail-fast cancels, so only it needs a context of its own: every
	// request's context would otherwise be registered with one more parent,
	// at a cost per request, for a cancellation that never comes. It keeps
	// the caller's ctx as its parent, so that a request made with that
	// costs no merging (see withRequest).
	var cancel context.CancelCauseFunc // set with failFast
	if failFast {
		var inner context.Context
		inner, cancel = context.WithCancelCause(ctx)
		ctx = &callContext{Context: inner, parent: ctx}
		defer cancel(nil)
	}
	var (
		first    error
		failOnce sync.Once
		wg       sync.WaitGroup
	)
	s := newScheduler[T](ctx, f, 1)
	run := func(j *job[T], from handOff) {
		r := &results[j.index]
		fetchJob(f, j, r, from)
		if failed := r.Err; failFast && failed != nil {
			failOnce.Do(func() { first = failed; cancel(failed) })
		}
	}
	for range min(f.gates.slots.size, n) {
		wg.Go(func() { s.work(run) })
	}
	wg.Go(func() { s.standby(run) })
	func() {
		defer func() {
			if v := recover(); v != nil { // a request option panicked: no worker is left behind
				if cancel != nil {
					cancel(errOptionPanicked) // fail-fast: what is under way is cancelled, not waited out
				}
				s.stop()
				wg.Wait()
				panic(v)
			}
		}()
		read(ctx, s, slices.Values(in), newRequest)
	}()
	s.release()
	wg.Wait()
	s.stop() // unregisters its watch of ctx, which may outlive the call
	return results, first
}
