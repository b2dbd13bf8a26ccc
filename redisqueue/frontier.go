package redisqueue

import (
	"cmp"
	"context"
	"fmt"
	"sync"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/urlredact"
)

// A Frontier is a [fetch.Frontier] kept in the queue's stream, so that
// any number of processes run one crawl: give each process's crawler its
// own Frontier with [fetch.CrawlFrontier], on the same stream and group.
// Each URL found by any of them is deduplicated against every URL the
// crawl has taken in (the set stream+":seen", keyed by the crawler's
// [fetch.CrawlKey]) and fetched by one of them, at least once.
//
// Entries are delivered and recovered as [Queue.Run] says: a process
// holds at most [MaxHeld] entries, renews them while it lives, and the
// entries of a process that dies are taken over after the visibility
// timeout and fetched again. An entry is acknowledged when the crawl says
// its page has been handled (the loop body has returned for it), after the
// links followed from the page have been written: a process that dies
// leaves either the page pending or its links queued, never neither.
//
// Writes (links, keys seen, acknowledgements) are applied in order by one
// goroutine, in batches, retried while Redis is unavailable. Add waits
// for its write, to report whether the link was new, so the crawl's
// [fetch.CrawlMaxPages] counts the pages this process took in after
// deduplication; but while Redis is unavailable (a write failed, or has
// gone unanswered for a quarter of a second) nothing waits for it: Add
// reports true for each link it keeps to write, Next waits (it does not
// fail, once Redis has answered it), and the pages already taken are
// fetched and yielded.
//
// The crawl ends, in every process, when nothing is left to deliver and
// nothing is pending with any process. A process that starts after that
// with the same seeds fetches nothing: its seeds are seen already. Start a
// new crawl on a new stream, or [Queue.Delete] the old one.
//
// A Frontier serves one crawl: once closed (the crawl closes it when its
// Run ends) it returns nothing more. It is safe for concurrent use.
type Frontier struct {
	wk   *worker
	life context.Context // ends with Close
	end  context.CancelFunc

	mu     sync.Mutex
	buf    []entry                       // read from Redis, not yet returned by Next
	ids    map[fetch.CrawlEntry][]string // returned by Next, not yet Done
	reader sync.Mutex                    // held by a Next under way
	left   *frontierRead                 // a read a Next left under way (see read); held by reader
	once   sync.Once
	known  map[string]struct{} // keys known to be in the set, up to knownMax
	harmed string              // the entry whose page the crawl's loop body panicked on (see Failed)
}

// knownMax is how many keys a Frontier remembers to be in the crawl's
// set, to answer Add for them without asking Redis; past it, it forgets
// them all and starts again.
const knownMax = 1 << 16

// remember notes that key is in the crawl's set.
func (fr *Frontier) remember(key string) {
	if key == "" {
		return
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if len(fr.known) >= knownMax {
		clear(fr.known)
	}
	fr.known[key] = struct{}{}
}

// Frontier returns a new Frontier on the queue's stream and group, whose
// reading side joins the group as a new consumer. Close it (the crawl
// does) to release what it holds.
func (q *Queue) Frontier() *Frontier {
	life, end := context.WithCancel(context.Background())
	return &Frontier{wk: q.startWorker(life, end, false), life: life, end: end, ids: make(map[fetch.CrawlEntry][]string), known: make(map[string]struct{})}
}

// Add queues e unless its key is already in the crawl's set, and reports
// whether it did: it waits for the write, made in order with the others of
// this process. While Redis is unavailable it does not wait: it reports
// true for the entry it keeps, to be queued (or found seen) once Redis is
// back. It fails once the Frontier is closed, with an error matching
// [fetch.ErrCrawlDone], or once Redis has refused a write for good.
func (fr *Frontier) Add(e fetch.CrawlEntry) (bool, error) {
	if e.Key != "" {
		fr.mu.Lock()
		_, known := fr.known[e.Key]
		fr.mu.Unlock()
		if known && fr.life.Err() == nil {
			return false, nil
		}
	}
	added, err := fr.wk.w.add(op{kind: 'a', arg: e.Key, url: e.URL, depth: e.Depth, ref: e.Referrer})
	if err != nil {
		if ferr := fr.wk.failure(); ferr != nil {
			return false, ferr
		}
		return false, fmt.Errorf("%w: %w", fetch.ErrCrawlDone, err)
	}
	fr.remember(e.Key)
	return added, nil
}

// Seen adds key to the crawl's set, so that no process queues it again,
// and reports whether it was new to the crawl: it waits for the write, as
// Add does, and reports true without waiting while Redis is unavailable,
// or once the Frontier is closed.
func (fr *Frontier) Seen(key string) bool {
	if key == "" {
		return true
	}
	fr.mu.Lock()
	_, known := fr.known[key]
	fr.mu.Unlock()
	if known && fr.life.Err() == nil {
		return false
	}
	added, err := fr.wk.w.add(op{kind: 's', arg: key})
	if err != nil {
		return true
	}
	fr.remember(key)
	return added
}

// Next returns the next entry for this process to fetch, waiting while
// none is free but some are pending with any process, and while Redis is
// unavailable, once it has answered. It returns ok false when the crawl is
// over in every process, or when ctx ends or the Frontier is closed: then
// at once, even while a read from Redis is under way (see read). Its
// errors say that Redis gave no answer to the Frontier's very first call
// ([ErrUnreachable]), that Redis refuses the crawl's commands for good, or
// that the crawl's consumer group vanished while it ran ([ErrGroupLost]):
// see [Queue.Run].
//
// A malformed stream entry, and one set aside (see [MaxDeliveries]), is
// returned with its Err set, which the crawl reports as a page with that
// error, unfetched: [ErrMalformed] or [ErrDeliveryLimit].
func (fr *Frontier) Next(ctx context.Context) (fetch.CrawlEntry, bool, error) {
	fr.reader.Lock()
	defer fr.reader.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(fr.life, cancel)()
	if fr.life.Err() != nil {
		cancel() // closed: AfterFunc's own goroutine may not have run yet
	}
	for ctx.Err() == nil {
		fr.mu.Lock()
		if len(fr.buf) > 0 {
			e := fr.buf[0]
			fr.buf = fr.buf[1:]
			ce := fetch.CrawlEntry{URL: e.url, Depth: e.depth, Referrer: e.ref, Redelivered: e.reclaimed, Err: e.err}
			fr.ids[ce] = append(fr.ids[ce], e.id)
			fr.mu.Unlock()
			if e.dead {
				fr.wk.q.cfg.logger.Warn("redisqueue: entry set aside", "url", urlredact.String(e.url), "err", e.err)
			}
			return ce, true, nil
		}
		fr.mu.Unlock()
		if !fr.read(ctx) {
			break
		}
	}
	if err := cmp.Or(fr.wk.failure(), fr.wk.c.lostErr()); err != nil {
		return fetch.CrawlEntry{}, false, err
	}
	return fetch.CrawlEntry{}, false, nil
}

// frontierRead is a read of entries into a Frontier's buf.
type frontierRead struct {
	done chan struct{} // closed when it has ended
	more bool          // what consumer.next said, once done
}

// read reads entries into buf for Next, which holds fr.reader, and reports
// whether Next may look again: false when the crawl is over in every
// process, when Redis refuses it for good, or when ctx ends. It returns
// when ctx ends even while a call to Redis is under way, which the Redis
// client does not cut short (a Redis frozen): that read goes on in the
// background, within the client's timeouts, and the entries it takes are
// held, in buf; the next Next, and Close, wait for it first.
func (fr *Frontier) read(ctx context.Context) bool {
	if r := fr.left; r != nil {
		select {
		case <-r.done: // what it read, if anything, is in buf
			fr.left = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	r := &frontierRead{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		es, more := fr.wk.c.next(ctx, false, fr.wk.w.busy)
		fr.mu.Lock()
		fr.buf = append(fr.buf, es...)
		fr.mu.Unlock()
		r.more = more
	}()
	select {
	case <-r.done:
		return r.more
	case <-ctx.Done():
		fr.left = r
		return false
	}
}

// Done acknowledges e, which Next returned, once the writes made before
// it (the links followed from its page) are applied.
func (fr *Frontier) Done(e fetch.CrawlEntry) {
	fr.mu.Lock()
	ids := fr.ids[e]
	if len(ids) == 0 {
		fr.mu.Unlock()
		return
	}
	id := ids[len(ids)-1]
	if len(ids) == 1 {
		delete(fr.ids, e)
	} else {
		fr.ids[e] = ids[:len(ids)-1]
	}
	fr.mu.Unlock()
	fr.wk.w.push(op{kind: 'k', arg: id})
}

// Failed says that handling e, which Next returned, failed: the crawl's
// loop body panicked on its page. When Close releases e, its delivery
// counts toward [MaxDeliveries], as if this process had died holding it.
func (fr *Frontier) Failed(e fetch.CrawlEntry) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if ids := fr.ids[e]; len(ids) > 0 {
		fr.harmed = ids[len(ids)-1]
	}
}

// Close ends the Frontier: a Next waiting returns, the writes made so far
// are applied, and the entries still held are released to the other
// processes at once. Close returns within [FlushTimeout] and a poll,
// whatever Redis does: what it could not write stays pending (see
// [FlushTimeout]).
func (fr *Frontier) Close() {
	fr.once.Do(func() {
		fr.end()
		reading := make(chan struct{})
		go func() { // closes reading once no Next reads any more
			fr.reader.Lock()
			left := fr.left
			fr.reader.Unlock()
			if left != nil {
				<-left.done
			}
			close(reading)
		}()
		fr.mu.Lock()
		harmed := fr.harmed
		fr.mu.Unlock()
		fr.wk.stop(context.Background(), reading, harmed)
	})
}
