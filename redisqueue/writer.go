package redisqueue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/c989c033/fetch/internal/ctxsleep"
)

// op is one write to Redis: queue a URL, mark a key seen, or acknowledge
// an entry. See applyScript.
type op struct {
	kind  byte // 'a', 's' or 'k'
	arg   string
	url   string
	depth int
	ref   string
	res   chan addResult // for an 'a' or 's' whose caller waits: told once, then nil
}

// addResult is what the writer tells an Add that waits.
type addResult struct {
	added bool
	err   error
}

// errWriterClosed is what a write after the writer closed returns.
var errWriterClosed = errors.New("redisqueue: worker has stopped")

// writer applies one worker's writes to Redis in the order they were
// made, in batches, each atomically, retrying while Redis is unavailable.
// Order is what makes a crash safe: a page's acknowledgement is written
// after the links found on it, so a worker that dies leaves either the
// page pending (to be fetched again) or its links queued.
type writer struct {
	q       *Queue
	c       *consumer // told of acknowledgements once written
	fail    func(error)
	mu      sync.Mutex
	log     []op
	shut    bool
	failing bool      // the last write failed, or took too long (see slowWrite): Redis is unavailable
	writing bool      // a write is under way
	began   time.Time // when it began
	err     error     // why the writer gave up, if it did
	wake    chan struct{}
	done    chan struct{} // closed by stop
}

func newWriter(q *Queue, c *consumer, fail func(error)) *writer {
	return &writer{q: q, c: c, fail: fail, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push queues ops to be written.
func (w *writer) push(ops ...op) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shut {
		return w.closedErr()
	}
	w.log = append(w.log, ops...)
	w.kick()
	return nil
}

// add queues o, an 'a' or an 's', and reports whether it queued the URL
// or added the key: it waits for the write, unless Redis is unavailable,
// when it reports true for an operation it keeps to write once Redis is
// back.
func (w *writer) add(o op) (bool, error) {
	w.mu.Lock()
	if w.shut {
		defer w.mu.Unlock()
		return false, w.closedErr()
	}
	var res chan addResult
	if !w.failing {
		res = make(chan addResult, 1)
		o.res = res
	}
	w.log = append(w.log, o)
	w.kick()
	w.mu.Unlock()
	if res == nil {
		return true, nil
	}
	r := <-res
	return r.added, r.err
}

// kick wakes run. w.mu is held.
func (w *writer) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// closedErr is what a write fails with once the writer is shut. w.mu is
// held.
func (w *writer) closedErr() error {
	if w.err != nil {
		return w.err
	}
	return errWriterClosed
}

// answer tells the adds waiting on the first n operations of the log (all
// of them if n < 0) res, or, with flags, what flags says of each 'a' and
// 's'. w.mu is held.
func (w *writer) answer(n int, flags string, res addResult) {
	if n < 0 || n > len(w.log) {
		n = len(w.log)
	}
	a := 0
	for i := range w.log[:n] {
		o := &w.log[i]
		if o.kind != 'a' && o.kind != 's' {
			continue
		}
		r := res
		if flags != "" {
			r = addResult{added: a < len(flags) && flags[a] == '1'}
		}
		a++
		if o.res != nil {
			o.res <- r
			o.res = nil
		}
	}
}

// busy reports whether writes are waiting.
func (w *writer) busy() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.log) > 0
}

// stop refuses further writes and makes run return once the log is
// written, or when its ctx ends.
func (w *writer) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.shutLocked()
}

func (w *writer) shutLocked() {
	if !w.shut {
		w.shut = true
		close(w.done)
	}
}

// writeBatch is how many operations one call to Redis applies.
const writeBatch = 512

// slowWrite is how long an add waits for a write under way before it
// takes Redis to be unavailable (frozen, or cut off, which the Redis
// client notices only after its read timeout), as after a failure: it and
// the adds after it report true without waiting, until a write succeeds.
const slowWrite = 250 * time.Millisecond

// stopWaiting makes Redis unavailable to adds if a write has been under
// way for slowWrite (see slowWrite). The timer set for a write that has
// just ended may fire as the next one begins, which is not slow yet.
func (w *writer) stopWaiting() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.writing && time.Since(w.began) >= slowWrite {
		w.failing = true
		w.answer(-1, "", addResult{added: true})
	}
}

// run writes the log until stop has been called and the log is empty, or
// ctx ends, which abandons what is left, or Redis refuses a write for
// good (see permanent), which it reports to fail.
func (w *writer) run(ctx context.Context) {
	defer func() { // what is left is not written: no Add waits for it
		w.mu.Lock()
		defer w.mu.Unlock()
		w.shutLocked()
		w.answer(-1, "", addResult{err: w.closedErr()})
	}()
	q := w.q
	failures := 0
	slow := time.AfterFunc(slowWrite, w.stopWaiting)
	slow.Stop()
	for {
		w.mu.Lock()
		batch := w.log[:min(len(w.log), writeBatch)]
		shut := w.shut
		w.writing = len(batch) > 0
		w.began = time.Now()
		w.mu.Unlock()
		if len(batch) == 0 {
			if shut {
				return
			}
			select {
			case <-w.wake:
			case <-w.done:
			case <-ctx.Done():
				return
			}
			continue
		}
		args := make([]any, 1, 1+5*len(batch))
		args[0] = q.group
		var acks []string
		for _, o := range batch {
			switch o.kind {
			case 'a':
				args = append(args, "a", o.arg, o.url, strconv.Itoa(o.depth), o.ref)
			default:
				args = append(args, string(o.kind), o.arg)
			}
			if o.kind == 'k' {
				acks = append(acks, o.arg)
			}
		}
		slow.Reset(slowWrite)
		flags, err := applyScript.Run(ctx, q.rdb, []string{q.stream, q.seen}, args...).Text()
		slow.Stop()
		w.mu.Lock()
		w.writing = false
		w.mu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if permanent(err) {
				err = q.callError(ctx, fmt.Sprintf("writing to %q", q.stream), err)
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				w.fail(err)
				return
			}
			if isNoGroup(err) {
				w.c.readError(ctx, err) // notes the loss and makes the group again
			}
			failures++
			if failures == 1 {
				q.cfg.logger.Warn("redisqueue: Redis unavailable; writes wait", "err", err)
			}
			w.mu.Lock()
			w.failing = true // Adds do not wait for Redis any more
			w.answer(-1, "", addResult{added: true})
			w.mu.Unlock()
			ctxsleep.Sleep(ctx, backoff(failures)) // its error: ctx ended, which the loop checks
			continue
		}
		if failures > 0 {
			q.cfg.logger.Info("redisqueue: Redis is back; writes go on", "failures", failures)
		}
		failures = 0
		w.mu.Lock()
		w.failing = false
		w.answer(len(batch), flags, addResult{})
		w.log = append(w.log[:0:0], w.log[len(batch):]...)
		w.mu.Unlock()
		w.c.acked(acks)
	}
}
