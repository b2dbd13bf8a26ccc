package fetch

import (
	"context"
	"iter"
	"runtime/debug"
	"sync/atomic"
)

// RunSeq is [Crawler.Run] with seeds read from an iterator as the crawl
// goes, for seeds that arrive over time (a pipe, a sitemap) or are too many
// to hold: the crawl starts with the first seed, and seeds are read while
// pages are fetched. Seeds are taken in as Run takes them (at depth 0,
// deduplicated, checked against robots.txt and the scope, counted by
// [CrawlMaxPages]; one that is not a valid URL comes back as a [Page]
// whose Err matches [ErrInvalidURL]), and deduplicated against the links
// found meanwhile: a seed whose key a link of an earlier page has yields no
// page of its own, as a link whose key an earlier seed has adds nothing.
//
// Seeds are read on a goroutine of their own, ahead of the crawl by at
// most the Fetcher's read-ahead (see [WithReadAhead]): reading pauses while
// that many seeds taken in have not yet come back as pages, unless the
// crawl has nothing else to fetch. The URLs found on pages are not bounded
// by it (see "Memory" in [Crawler]).
//
// The crawl does not end for want of URLs while seeds may still come: it
// ends, as Run's does, once seeds has ended and no URL is queued or being
// fetched. It also ends once [CrawlMaxPages] URLs have been taken in,
// when ctx ends, and when the loop breaks; no seed is read after that.
// Breaking out of the loop returns at once, even while seeds is blocked
// (waiting on a channel, say): the requests in flight are cancelled and
// waited for, but the goroutine reading seeds is not. It ends when seeds
// next yields, which then returns false. A panic in seeds ends the crawl
// and is raised on the caller's goroutine as a [*PanicError], as one in
// [Fetcher.Stream]'s input is. A nil seeds is a mistake that panics at
// once.
func (c *Crawler) RunSeq(ctx context.Context, seeds iter.Seq[string]) iter.Seq[*Page] {
	if seeds == nil {
		panic("fetch: nil seed sequence (iter.Seq)")
	}
	return c.start(ctx, nil, seeds)
}

// seedFeed is what a crawl keeps of the seeds RunSeq reads.
type seedFeed struct {
	seeding  atomic.Bool                // seeds may still come
	out      atomic.Int64               // seeds taken in whose pages have not come back
	hungry   atomic.Bool                // the crawl waits for a seed with nothing else to fetch, until one is taken in
	room     chan struct{}              // cap 1: a seed's page came back, or the crawl went hungry
	panicked atomic.Pointer[PanicError] // the seeds' iterator's panic
}

// back counts a seed's page as come back (a page at depth 0; of another
// process's seed too, with a shared Frontier: the count does not go below
// zero), and lets the seeds be read on.
func (f *seedFeed) back() {
	for {
		n := f.out.Load()
		if n == 0 || f.out.CompareAndSwap(n, n-1) {
			break
		}
	}
	f.wake()
}

// wake lets a reader of seeds waiting for room look again.
func (f *seedFeed) wake() {
	select {
	case f.room <- struct{}{}:
	default:
	}
}

// readSeeds takes in every seed seeds yields, waiting for room between
// them, until it ends or the crawl stops reading them. A panic in seeds
// stops the crawl, which raises it.
func (r *crawl) readSeeds(seeds iter.Seq[string]) {
	defer func() {
		r.feed.seeding.Store(false)
		select { // the crawl may end now
		case r.more <- struct{}{}:
		default:
		}
	}()
	defer func() {
		if v := recover(); v != nil {
			r.feed.panicked.Store(&PanicError{Value: v, Stack: debug.Stack()})
			r.sched.stop()
		}
	}()
	for seed := range seeds {
		if !r.takeSeed(seed) || !r.seedRoom() {
			return
		}
	}
}

// takeSeed takes seed in at depth 0, as Follow takes in a link, unless the
// crawl has ended. It reports whether it has not.
func (r *crawl) takeSeed(seed string) bool {
	r.endMu.RLock() // the crawl does not end while a seed is taken in
	defer r.endMu.RUnlock()
	if r.ended.Load() || r.ctx.Err() != nil || r.sched.isStopped() {
		return false
	}
	r.feed.out.Add(1) // before its page can come back
	if !r.add(seed, 0, "") {
		r.feed.out.Add(-1) // seen before, or past CrawlMaxPages: no page
	}
	r.feed.hungry.Store(false) // fed: the seed to come with nothing else to fetch is read
	return true
}

// seedRoom waits until another seed may be read: fewer than the read-ahead
// of seeds taken in are waiting for their pages, or the crawl has nothing
// else to fetch. It reports false, at once, once no seed is to be read any
// more.
func (r *crawl) seedRoom() bool {
	for {
		if r.ended.Load() || r.ctx.Err() != nil || r.full() {
			return false
		}
		if r.feed.out.Load() < int64(r.f.readAhead) || r.feed.hungry.Load() {
			return true
		}
		select {
		case <-r.feed.room:
		case <-r.ctx.Done():
		}
	}
}

// awaitSeeds is called by the crawl's reader when the frontier has
// nothing to give: it waits while seeds may still come, and reports
// whether a URL may have been queued since; false once no seed can come
// (the seeds ended, [CrawlMaxPages] is reached, or ctx ended), for the
// crawl to end.
func (r *crawl) awaitSeeds() bool {
	if !r.feed.seeding.Load() || r.ctx.Err() != nil || r.full() {
		return false
	}
	r.feed.hungry.Store(true)
	defer r.feed.hungry.Store(false)
	r.feed.wake()
	select {
	case <-r.more:
		return true
	case <-r.ctx.Done():
		return false
	}
}

// full reports whether [CrawlMaxPages] URLs have been taken in.
func (r *crawl) full() bool {
	limit := r.cfg.maxPages
	if limit == 0 {
		return false
	}
	r.pagesTurn <- struct{}{}
	defer func() { <-r.pagesTurn }()
	return r.pages >= limit
}
