package fetch

import (
	"context"
	"iter"
	"net/http"
	"sync"
	"sync/atomic"
)

// Stream fetches every URL urls yields with GET and yields one [Result] per
// URL as each completes, in completion order (Result.Index gives the input
// position). It is the streaming form of [Fetcher.GetAll]: it pulls URLs only
// as workers free up, so memory and goroutines (the Fetcher's concurrency
// plus one, which runs urls) stay bounded however many URLs there are.
//
// If ctx ends, the URLs not yet fetched are still pulled and come back with
// an error matching ctx's, so every input yields exactly one Result.
// Breaking out of the loop cancels the requests under way and returns only
// after every goroutine Stream started has finished; urls must therefore
// not block forever. Results are yielded on the caller's goroutine.
func (f *Fetcher) Stream(ctx context.Context, urls iter.Seq[string]) iter.Seq[Result] {
	return stream(ctx, f, urls, getURL)
}

// StreamFunc is [Fetcher.Stream] for inputs of any type: newRequest turns
// each input into the request to send, with the context it is given (the
// stream's). An input it fails on yields a Result carrying its error, so
// that every input still yields exactly one Result; if the input is a string
// or a [fmt.Stringer], that Result's URL is its text, redacted. newRequest
// runs on the Fetcher's workers, so it must be safe for concurrent use.
func StreamFunc[T any](ctx context.Context, f *Fetcher, in iter.Seq[T],
	newRequest func(context.Context, T) (*http.Request, error)) iter.Seq[Result] {
	return stream(ctx, f, in, funcRequester(newRequest))
}

// StreamRequests is [Fetcher.Stream] for requests; each is sent with ctx in
// place of its own context, and its body is read and closed by the Fetcher.
func (f *Fetcher) StreamRequests(ctx context.Context, reqs iter.Seq[*http.Request]) iter.Seq[Result] {
	return stream(ctx, f, reqs, sendRequest)
}

// stream fetches what newRequest makes of every value in yields, on as
// many workers as f lets requests be in flight, and yields the results as
// they complete.
//
// The workers pull the inputs themselves, so that no goroutine sits between
// the input and the workers: each value goes from the iterator to the worker
// that fetches it with no channel handoff and no extra wake-up.
func stream[T any](ctx context.Context, f *Fetcher, in iter.Seq[T], newRequest requester[T]) iter.Seq[Result] {
	workers := cap(f.gates.slots)
	return func(yield func(Result) bool) {
		if ctx == nil {
			yield(Result{Err: errNilContext})
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		src := newPuller(in)
		results := make(chan Result, workers)
		var pool sync.WaitGroup
		var running atomic.Int64
		running.Store(int64(workers))
		for range workers {
			pool.Go(func() {
				r := new(Result) // one per worker: fetch's pointer escapes
				for v, i, ok := src.pull(); ok; v, i, ok = src.pull() {
					req, text, err := newRequest(ctx, v)
					f.fetch(req, text, err, i, r)
					results <- *r
				}
				if running.Add(-1) == 0 {
					close(results)
				}
			})
		}
		defer func() {
			src.stop()
			cancel()
			for range results {
			}
			pool.Wait()
			src.close()
		}()
		for r := range results {
			if !yield(r) {
				return
			}
		}
	}
}

// A puller hands out an iterator's values, with their positions, to any
// number of goroutines, one value at a time.
type puller[T any] struct {
	mu      sync.Mutex // held while next runs: iter.Pull's next is not safe for concurrent use
	next    func() (T, bool)
	closeIn func()
	n       int  // values handed out so far
	done    bool // the input has ended, or stop was called
}

func newPuller[T any](in iter.Seq[T]) *puller[T] {
	next, closeIn := iter.Pull(in)
	return &puller[T]{next: next, closeIn: closeIn}
}

// pull returns the next value and its position, or ok false once the input
// has ended or stop has been called.
func (p *puller[T]) pull() (v T, i int, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return v, 0, false
	}
	if v, ok = p.next(); !ok {
		p.done = true
		return v, 0, false
	}
	p.n++
	return v, p.n - 1, true
}

// stop makes every later pull return ok false, after any pull under way.
func (p *puller[T]) stop() {
	p.mu.Lock()
	p.done = true
	p.mu.Unlock()
}

// close ends the iterator. It must be called once no pull can run.
func (p *puller[T]) close() { p.closeIn() }
