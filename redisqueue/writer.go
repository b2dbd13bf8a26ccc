package redisqueue

import (
	"context"
	"errors"
	"strconv"
	"sync"
)

// op is one write to Redis: queue a URL, mark a key seen, or acknowledge
// an entry. See applyScript.
type op struct {
	kind  byte // 'a', 's' or 'k'
	arg   string
	url   string
	depth int
	ref   string
}

// errWriterClosed is what a write after the writer closed returns.
var errWriterClosed = errors.New("redisqueue: worker has stopped")

// writer applies one worker's writes to Redis in the order they were
// made, in batches, each atomically, retrying while Redis is unavailable.
// Order is what makes a crash safe: a page's acknowledgement is written
// after the links found on it, so a worker that dies leaves either the
// page pending (to be fetched again) or its links queued.
type writer struct {
	q    *Queue
	c    *consumer // told of acknowledgements once written
	mu   sync.Mutex
	log  []op
	shut bool
	wake chan struct{}
	done chan struct{} // closed by stop
}

func newWriter(q *Queue, c *consumer) *writer {
	return &writer{q: q, c: c, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push queues ops to be written.
func (w *writer) push(ops ...op) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shut {
		return errWriterClosed
	}
	w.log = append(w.log, ops...)
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return nil
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
	if !w.shut {
		w.shut = true
		close(w.done)
	}
}

// writeBatch is how many operations one call to Redis applies.
const writeBatch = 512

// run writes the log until stop has been called and the log is empty, or
// ctx ends, which abandons what is left.
func (w *writer) run(ctx context.Context) {
	q := w.q
	failures := 0
	for {
		w.mu.Lock()
		batch := w.log[:min(len(w.log), writeBatch)]
		shut := w.shut
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
		err := applyScript.Run(ctx, q.rdb, []string{q.stream, q.seen}, args...).Err()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if isNoGroup(err) {
				q.ensureGroup(ctx)
			}
			failures++
			if failures == 1 {
				q.cfg.logger.Warn("redisqueue: Redis unavailable; writes wait", "err", err)
			}
			sleep(ctx, backoff(failures))
			continue
		}
		failures = 0
		w.mu.Lock()
		w.log = append(w.log[:0:0], w.log[len(batch):]...)
		w.mu.Unlock()
		w.c.acked(acks)
	}
}
