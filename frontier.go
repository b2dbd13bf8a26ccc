package fetch

import (
	"context"
	"fmt"
	"sync"
)

// A CrawlEntry is one URL a crawl has taken in.
type CrawlEntry struct {
	URL      string // absolute
	Key      string // what it is deduplicated by; "" for never
	Depth    int
	Referrer string // the URL of the page it was found on; "" for a seed
	// Redelivered is set by a shared Frontier on an entry it hands out
	// again because the process that held it died. That process may have
	// marked seen the URLs the entry's redirects lead to: the crawl
	// follows them again rather than refusing them with [ErrAlreadySeen].
	Redelivered bool
	// Err, if not nil, says why a Frontier hands out an entry that is not
	// to be fetched (a shared store's malformed entry, or one it set
	// aside): the crawl yields it as a page with this error, unfetched,
	// and then calls Done. As CrawlEntry values are compared, its dynamic
	// type must be comparable (a pointer, as errors.New and fmt.Errorf
	// make, is).
	Err error
}

// A Frontier holds what a [Crawler] has seen and what it has still to
// fetch. The crawler adds the URLs it finds, takes them out one at a time
// to schedule them, and says when each one's page has been handled (its
// links followed). [NewMemoryFrontier] is the one a crawl uses by default;
// a shared store lets several processes work on one crawl.
//
// Implementations must be safe for concurrent use.
type Frontier interface {
	// Add queues e unless its key (if not "") was seen before, reporting
	// whether it did. An error means e was not queued, and the crawl
	// reports it as a page with that error; a store that is full says so
	// with an error matching ErrCrawlFull.
	Add(e CrawlEntry) (added bool, err error)
	// Seen records key as seen without queuing anything, and reports
	// whether it was new: the crawl marks so the URL a redirect leads to,
	// before following it, so that a link to that URL is not fetched
	// again, and follows the redirect only if it was new.
	Seen(key string) (added bool)
	// Next returns the next entry to fetch, waiting while none is queued
	// but some are still being handled (their pages may add more). It
	// returns ok false when nothing is queued or being handled, or when
	// ctx ends or Close is called.
	Next(ctx context.Context) (e CrawlEntry, ok bool, err error)
	// Done says that the page of e, which Next returned, has been handled.
	Done(e CrawlEntry)
	// Close ends the crawl's use of the frontier: a Next waiting returns.
	Close()
}

// A Frontier may also have a method Failed(e CrawlEntry): a crawl whose
// loop body panics on e's page calls it, before Close, so that a shared
// store can count the handling of e as one that failed, as it counts a
// worker that died holding it (redisqueue's MaxDeliveries does).

// NewMemoryFrontier returns a [Frontier] that keeps everything in memory,
// holding at most maxURLs entries taken in by Add (0: no cap); an Add past
// the cap fails with [ErrCrawlFull]. The URLs redirects lead to, which a
// crawl marks seen (Seen), are recorded beyond the cap: at most the
// redirects followed per page. Next may be called from several goroutines. Its memory grows with the URLs seen,
// by about each URL's length plus a hundred bytes.
func NewMemoryFrontier(maxURLs int) Frontier {
	return &memoryFrontier{max: maxURLs, seen: make(map[string]struct{}), wake: make(chan struct{})}
}

type memoryFrontier struct {
	mu      sync.Mutex
	max     int
	seen    map[string]struct{}
	taken   int // entries taken in, keyed or not, for the cap
	queue   deque[CrawlEntry]
	pending int // entries added and not yet done
	closed  bool
	wake    chan struct{} // closed, and replaced, to wake every Next waiting
	waiting int           // Nexts waiting on wake
}

func (m *memoryFrontier) Add(e CrawlEntry) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, fmt.Errorf("%w: its frontier is closed (a frontier given by CrawlFrontier serves one Run)", ErrCrawlDone)
	}
	if e.Key != "" {
		if _, ok := m.seen[e.Key]; ok {
			return false, nil
		}
	}
	if m.max > 0 && m.taken >= m.max {
		return false, fmt.Errorf("%w: %d URLs taken in already (CrawlMaxURLs)", ErrCrawlFull, m.taken)
	}
	if e.Key != "" {
		m.seen[e.Key] = struct{}{}
	}
	m.taken++
	m.pending++
	m.queue.push(e)
	m.kick()
	return true, nil
}

func (m *memoryFrontier) Seen(key string) bool {
	if key == "" {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.seen[key]; ok {
		return false
	}
	m.seen[key] = struct{}{}
	m.taken++
	return true
}

func (m *memoryFrontier) Next(ctx context.Context) (CrawlEntry, bool, error) {
	for {
		m.mu.Lock()
		switch {
		case m.closed || ctx.Err() != nil:
			m.mu.Unlock()
			return CrawlEntry{}, false, nil
		case m.queue.len() > 0:
			e := m.queue.pop()
			m.mu.Unlock()
			return e, true, nil
		case m.pending == 0:
			m.mu.Unlock()
			return CrawlEntry{}, false, nil
		}
		wake := m.wake
		m.waiting++
		m.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
		}
		m.mu.Lock()
		m.waiting--
		m.mu.Unlock()
	}
}

func (m *memoryFrontier) Done(CrawlEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending--
	m.kick()
}

func (m *memoryFrontier) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.kick()
}

// kick wakes every Next that waits: an entry added, the last one done,
// or Close may each end the wait of all of them. m.mu is held.
func (m *memoryFrontier) kick() {
	if m.waiting > 0 {
		close(m.wake)
		m.wake = make(chan struct{})
	}
}
