package redisqueue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/urlredact"
)

// A Result is the outcome of fetching one entry of the queue.
type Result struct {
	// Index counts the results of this Run. URL is the entry's URL as
	// stored in the stream (as given to [Queue.Add]), any password hidden,
	// not the request's re-encoding of it ("http://h/café", not
	// "http://h/caf%C3%A9"), so that results can be joined with the list
	// queued.
	fetch.Result
	ID string // the stream entry's ID
	// Reclaimed is true for an entry taken over from a worker that held it
	// past the visibility timeout: that worker may have fetched it too.
	Reclaimed bool
}

// Run fetches the queue's URLs through f and yields one [Result] per
// entry, on the caller's goroutine, in completion order. This process
// joins the consumer group as a new consumer, taking entries no other
// worker holds, new ones first and then those another worker held past
// the visibility timeout (see [Visibility]).
//
// The entries go through f's per-host scheduler ([fetch.StreamFunc]), so
// f's limits hold, and a busy host never holds up another; a shared rate
// limit comes from f's limiter (see the redisrate module). The worker
// holds at most [MaxHeld] entries at a time.
//
// An entry is acknowledged once the loop body has returned for its result
// and the loop goes on: a result is handed over at least once, and only
// the entries the worker held when it died are handed over again. Breaking
// out of the loop leaves the result it broke on unacknowledged; that entry
// and the others still held are released to the other workers at once.
// When ctx ends, Run returns without yielding more, releasing what it
// holds the same way; so it does once a fetch is refused, unsent, because
// ctx's deadline would pass first (a limiter's next token is due after it).
//
// A malformed entry yields a Result whose Err matches [ErrMalformed]; a
// string that is not a URL, one whose Err matches [fetch.ErrInvalidURL].
// A fetch that failed because f's limiter was unavailable (an Err matching
// [fetch.ErrLimiterUnavailable], as a Redis-backed limiter fails while its
// Redis is down) is not yielded: the entry is fetched again after a pause.
//
// Run's very first call to Redis, joining the group, must get an answer:
// if it gets none (a wrong address, or a Redis not up yet, once the Redis
// client's own retries and timeouts are spent), Run yields one Result
// with no ID whose Err matches [ErrUnreachable], naming Redis's address
// and the cause, and returns at once. To wait for a Redis that is still
// starting, call Run again. A reply that says to wait (LOADING, while
// Redis loads its data) is waited out, as below.
//
// Once Redis has answered, while it is unavailable the worker takes no
// new entries and retries with backoff until it is back, reporting it to
// the [Logger]; the entries it holds are still fetched and yielded, and
// their acknowledgements written once Redis is back.
//
// Run returns when ctx ends, or, unless [Follow] is given, when the queue
// is drained: no entry is left to deliver and none is pending with any
// worker. Without Follow, a stream that does not exist (nothing was ever
// added to it, or its name is mistyped) is not made: Run yields one Result
// with no ID whose Err matches [ErrNoStream], naming the stream, and
// returns, where an existing stream with nothing left ends Run with no
// Result at all. With Follow, Run makes the stream and waits for entries. Before it returns it writes its acknowledgements and releases
// the entries it holds, but it waits no longer than [FlushTimeout] for
// Redis, down or frozen: what it could not write stays pending, and is
// delivered again after the visibility timeout. If Redis refuses the
// queue's commands for good (any error reply but those that say to wait,
// as LOADING, READONLY or OOM do: the stream's key holds another type, the
// user lacks a permission, the database does not exist, the server is
// older than Redis 6.2, which lacks XPENDING IDLE), Run stops taking
// entries and, last, yields a Result whose Err says so, with no ID. So does a Run whose
// consumer group vanished while it ran (Redis restarted without
// persistence, or the stream was deleted): its last Result, with no ID,
// has an Err matching [ErrGroupLost]. That holds too when another worker
// found the group missing first and made it again: the group made anew
// has a token of its own (see [Queue]), which the worker checks when it
// finds the queue drained and when it renews its entries.
//
// A Result's URL is the entry's URL as stored in the stream, any password
// hidden (see [Result]).
func (q *Queue) Run(ctx context.Context, f *fetch.Fetcher) iter.Seq[Result] {
	return func(yield func(Result) bool) {
		if ctx == nil || f == nil {
			yield(Result{Result: fetch.Result{Err: errors.New("redisqueue: Run: nil context or Fetcher")}})
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		w := q.startWorker(ctx, cancel, !q.cfg.follow)
		var (
			mu      sync.Mutex
			byIndex = make(map[int]entry) // what each input of the stream was
			tries   = make(map[string]int)
			reading = make(chan struct{})
		)
		in := func(yield func(entry) bool) {
			defer close(reading)
			n := 0
			for {
				es, ok := w.c.next(ctx, q.cfg.follow, w.w.busy)
				if !ok {
					return
				}
				for _, e := range es {
					mu.Lock()
					byIndex[n] = e
					mu.Unlock()
					n++
					if !yield(e) {
						return
					}
				}
			}
		}
		broke := false
		harmed := "" // the entry being yielded: set while the loop body runs
		defer func() {
			cancel()
			// harmed is still set if the loop body panicked (or called
			// runtime.Goexit): its delivery counts toward MaxDeliveries.
			w.stop(ctx, reading, harmed)
			if err := cmp.Or(w.failure(), w.c.lostErr()); err != nil && !broke && harmed == "" {
				yield(Result{Result: fetch.Result{Err: err}})
			}
		}()
		for r := range fetch.StreamFunc(ctx, f, in, newRequest) {
			mu.Lock()
			e := byIndex[r.Index]
			delete(byIndex, r.Index)
			mu.Unlock()
			if ctx.Err() != nil {
				return
			}
			if r.Attempts == 0 && errors.Is(r.Err, context.DeadlineExceeded) {
				// Refused before it was sent, as ctx's deadline comes
				// first (a limiter does not wait past it): this worker will
				// fetch nothing more in time. As when ctx ends, the entry
				// and the others held go back to the other workers.
				return
			}
			if errors.Is(r.Err, fetch.ErrLimiterUnavailable) {
				tries[e.id]++
				w.c.again(e, tries[e.id])
				continue
			}
			delete(tries, e.id)
			if e.url != "" {
				r.URL = asQueued(e.url)
			}
			harmed = e.id
			more := yield(Result{Result: r, ID: e.id, Reclaimed: e.reclaimed})
			harmed = ""
			if !more {
				broke = true
				return
			}
			w.w.push(op{kind: 'k', arg: e.id})
		}
	}
}

// asQueued is the URL of an entry as its Result names it: as stored, so
// that results can be joined with the list queued, but with any password
// hidden, as the Fetcher names a URL it was given (a URL with an "@" may
// hold one, and is redacted).
func asQueued(raw string) string {
	if !strings.Contains(raw, "@") {
		return raw
	}
	return urlredact.String(raw)
}

// newRequest makes e into its GET request, or says why it cannot.
func newRequest(ctx context.Context, e entry) (*http.Request, error) {
	if e.err != nil {
		return nil, e.err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", fetch.ErrInvalidURL, err)
	}
	return req, nil
}

// worker is one consumer with its writer and the goroutines that serve
// them.
type worker struct {
	q        *Queue
	c        *consumer
	w        *writer
	abandon  context.CancelFunc // ends the writer, abandoning what it has not written
	unrenew  context.CancelFunc // ends the renewals
	written  chan struct{}      // closed when the writer has returned
	renewing sync.WaitGroup
	onFail   func() // told of a failure Redis will not get over

	mu  sync.Mutex
	err error // the first such failure
}

// fail records err, a refusal of Redis that will not change (see
// permanent), and tells the worker's owner.
func (wk *worker) fail(err error) {
	wk.mu.Lock()
	if wk.err == nil {
		wk.err = err
	}
	wk.mu.Unlock()
	wk.onFail()
}

// failure is the error fail recorded, if any.
func (wk *worker) failure() error {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	return wk.err
}

// startWorker starts a consumer's renewals and its writer. The writer
// outlives ctx, so that stop can still write the last acknowledgements.
// onFail is called when Redis refuses the worker's reads or writes for
// good; failure then says why. With existing, the worker refuses a stream
// that does not exist when it first joins (see ErrNoStream).
func (q *Queue) startWorker(ctx context.Context, onFail func(), existing bool) *worker {
	wk := &worker{q: q, c: q.newConsumer(), written: make(chan struct{}), onFail: onFail}
	wk.c.existing = existing
	wk.c.fail = wk.fail
	wk.w = newWriter(q, wk.c, wk.fail)
	wctx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	rctx, unrenew := context.WithCancel(wctx)
	wk.abandon, wk.unrenew = abandon, unrenew
	go func() {
		defer close(wk.written)
		wk.w.run(wctx)
	}()
	wk.renewing.Go(func() { wk.c.renew(rctx) })
	return wk
}

// blockSlack is how long after its poll a blocking read may end on a Redis
// that answers: Redis ends a BLOCK on its own timer, which ticks hz times a
// second (10 by default), so a read blocked for a poll answers up to 100 ms
// after it, more on a loaded server.
const blockSlack = 200 * time.Millisecond

// stop ends the worker once reading is closed (nothing reads entries any
// more): it writes what is left, then releases the entries still held and
// leaves the group; the delivery of harmed, if not "", counts (see
// consumer.leave). It waits for the read under way, a poll, blockSlack
// and FlushTimeout at most, then gives Redis FlushTimeout from the read's
// end (or what is left of the first wait, if more) to take the writes and
// the release, and returns when that is done or that time is up, so that a
// Redis that does not answer (down, or frozen) holds no caller up: the
// entries still held are then left to be taken over after the visibility
// timeout. The read is a blocking XREADGROUP, which the Redis client does
// not cut short; it ends within its poll and blockSlack on a Redis that
// answers, and the
// release waits for it, however short FlushTimeout is. A call to Redis
// under way when stop returns ends in the background within the client's
// timeouts, and the worker's goroutines with it.
func (wk *worker) stop(ctx context.Context, reading <-chan struct{}, harmed string) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	flush := wk.q.cfg.flush
	end := time.Now().Add(wk.q.cfg.poll + blockSlack + flush)
	giveUp := time.AfterFunc(time.Until(end), cancel)
	defer giveUp.Stop()
	read := func() { // the read under way has ended: FlushTimeout from now
		if time.Until(end) < flush && giveUp.Stop() {
			giveUp.Reset(flush)
		}
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		wk.finish(ctx, reading, harmed, read)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		wk.q.cfg.logger.Warn("redisqueue: Redis did not answer in time to stop; the entries held will be taken over after the visibility timeout",
			"consumer", wk.c.name, "held", len(wk.c.heldIDs()), "flush_timeout", flush)
	}
}

// finish is stop's work, which gives up on Redis when ctx ends. It calls
// read once reading is closed.
func (wk *worker) finish(ctx context.Context, reading <-chan struct{}, harmed string, read func()) {
	defer wk.abandon()
	select {
	case <-reading:
		read()
	case <-ctx.Done():
	}
	wk.w.stop()
	select {
	case <-wk.written:
	case <-ctx.Done():
		wk.abandon()
		<-wk.written
	}
	wk.unrenew()
	wk.renewing.Wait()
	<-reading // what it holds is known only once it reads no more
	if ctx.Err() == nil {
		wk.c.leave(ctx, harmed)
	}
}
