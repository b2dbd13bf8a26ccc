package fetch

import (
	"context"
	"iter"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Stream fetches every URL urls yields with GET and yields one [Result] per
// URL as each completes, in completion order (Result.Index gives the input
// position). It is the streaming form of [Fetcher.GetAll].
//
// URLs are read ahead into a queue per host, at most the read-ahead (see
// [WithReadAhead]) at a time, and sent as their hosts can take them, so a
// busy or rate-limited host never holds up another (see "Many hosts" in
// the package documentation). Memory and goroutines stay bounded however
// many URLs there are: the Fetcher's concurrency in workers, plus one
// goroutine that reads urls and a standby worker for Shutdown.
//
// If ctx ends, the URLs not yet fetched are still read and come back with
// an error matching ctx's, so every input yields exactly one Result.
//
// Breaking out of the loop returns at once, even while urls is blocked
// (waiting on a channel, say): the requests under way are cancelled and
// waited for (which is at once, unless a [Handle] handler ignores its
// response's context), and so is the context the requests were made with, but the
// goroutine reading urls is not waited for. It ends when urls next yields,
// which then returns false. Results are yielded on the caller's goroutine;
// a panic in urls is raised there too, as a [*PanicError]. A nil urls is a
// mistake that panics at once, as do a nil handler or newRequest given to
// [Handle], [HandleURLs] or [StreamFunc].
func (f *Fetcher) Stream(ctx context.Context, urls iter.Seq[string], opts ...RequestOption) iter.Seq[Result] {
	return stream(ctx, f, urls, getURL(opts))
}

// StreamFunc is [Fetcher.Stream] for inputs of any type: newRequest turns
// each input into the request to send, with the context it is given (the
// stream's, which breaking out of the loop cancels). A request made with
// another context (one with a deadline of its own, or [http.NewRequest]'s)
// is sent under both, as [Fetcher.StreamRequests] sends its requests:
// breaking out of the loop still cancels it. An input it fails on
// yields a Result carrying its error, so that every input still yields
// exactly one Result; if the input is a string or a [fmt.Stringer], that
// Result's URL is its text, redacted. newRequest runs as each input is
// read, on the goroutine that reads in, ahead of the request being sent; a
// panic in it ends the stream and is raised on the caller's goroutine as a
// [*PanicError], as one in in is.
func StreamFunc[T any](ctx context.Context, f *Fetcher, in iter.Seq[T],
	newRequest func(context.Context, T) (*http.Request, error)) iter.Seq[Result] {
	return stream(ctx, f, in, funcRequester(newRequest))
}

// StreamRequests is [Fetcher.Stream] for requests; each is sent under its
// own context and ctx both, as [Fetcher.DoAll] sends its requests (a
// request's own deadline ends it alone; its values win over ctx's; one
// whose context has already ended fails at once, unsent), and its body is
// read and closed by the Fetcher. Breaking out of the loop cancels the
// requests under way whatever their own contexts.
func (f *Fetcher) StreamRequests(ctx context.Context, reqs iter.Seq[*http.Request]) iter.Seq[Result] {
	return stream(ctx, f, reqs, sendRequest)
}

// stream fetches what newRequest makes of every value in yields, through
// a scheduler (see [scheduler]) with as many workers as f lets requests be
// in flight, and yields the results as they complete.
func stream[T any](ctx context.Context, f *Fetcher, in iter.Seq[T], newRequest requester[T]) iter.Seq[Result] {
	return run(ctx, f, in, newRequest, func() func(j *job[T], from handOff) Result {
		r := new(Result) // one per worker, reused: fetch's pointer escapes
		return func(j *job[T], from handOff) Result {
			fetchJob(f, j, r, from)
			return *r
		}
	})
}

// run is the streaming calls' engine: it makes every value in yields into
// a job with newRequest, queues it in a scheduler (see [scheduler]), and
// runs as many workers as f lets requests be in flight, each made by
// newWorker, which turns a job (whose data is its input) into a result.
// Results are yielded as they complete. A result whose input could not be
// made into a request is the worker's too: it gets the job with its error.
//
// One goroutine reads in, making each value into its request as it reads
// it. On an early break it is not waited for: it ends at in's next yield,
// which returns false.
func run[T, R any](ctx context.Context, f *Fetcher, in iter.Seq[T], newRequest requester[T],
	newWorker func() func(j *job[T], from handOff) R) iter.Seq[R] {
	// A nil argument is the caller's mistake, found at once: as ranging
	// over a nil iterator would, but saying so.
	switch {
	case f == nil:
		panic("fetch: nil *Fetcher")
	case in == nil:
		panic("fetch: nil input sequence (iter.Seq)")
	}
	workers := f.gates.slots.size
	return func(yield func(R) bool) {
		if ctx == nil {
			// Every input still yields one result, as GetAll's do: its
			// error, and nothing sent.
			work, i := newWorker(), 0
			for v := range in {
				if req, ok := any(v).(*http.Request); ok {
					closeUnsent(req)
				}
				if !yield(work(&job[T]{index: i, err: errNilContext, data: v}, handOff{})) {
					return
				}
				i++
			}
			return
		}
		// The stream's own context, cancelled on an early break; a
		// request made with the caller's ctx costs no merging (see
		// withRequest).
		inner, cancel := context.WithCancel(ctx)
		ctx := &callContext{Context: inner, parent: ctx}
		s := newScheduler[T](ctx, f, 1)
		var panicked atomic.Pointer[PanicError]
		go func() {
			defer s.release()
			defer func() {
				if v := recover(); v != nil {
					panicked.Store(&PanicError{Value: v, Stack: debug.Stack()})
					s.stop()
				}
			}()
			read(ctx, s, in, newRequest)
		}()
		results := make(chan R, workers)
		var pool sync.WaitGroup
		var running atomic.Int64
		running.Store(int64(workers) + 1)
		for i := range workers + 1 {
			pool.Go(func() {
				work := newWorker()
				run := func(j *job[T], from handOff) {
					r := work(j, from)
					// Handing r over may wait for the loop body, which may
					// itself wait at the gates: the worker counts as
					// waiting there (see scheduler.atGates).
					s.atGates(true)
					results <- r
					s.atGates(false)
				}
				if i < workers {
					s.work(run)
				} else {
					s.standby(run)
				}
				if running.Add(-1) == 0 {
					close(results)
				}
			})
		}
		defer func() {
			s.stop()
			cancel()
			for range results {
			}
			pool.Wait()
			if p := panicked.Load(); p != nil {
				panic(p)
			}
		}()
		for r := range results {
			if !yield(r) {
				return
			}
		}
	}
}

// read queues a job for every value in yields, numbered from 0 and
// carrying the value, until in ends or s stops.
func read[T any](ctx context.Context, s *scheduler[T], in iter.Seq[T], newRequest requester[T]) {
	i := 0
	for v := range in {
		if s.isStopped() {
			if req, ok := any(v).(*http.Request); ok {
				closeUnsent(req) // a request yielded to StreamRequests, never to be sent
			}
			return
		}
		req, text, rc, err := newRequest(ctx, v)
		if !s.push(job[T]{index: i, req: req, text: text, err: err, data: v, rc: rc}) {
			rc.release()
			closeUnsent(req) // the call has stopped: it will never be sent
			return
		}
		i++
	}
}
