package main

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/hostkey"
)

// badSeed is the scheme of the stand-in seeds that carry the inputs that
// are not URLs through a crawl: the crawl refuses them, at once, as not
// http or https URLs, and their pages come back in turn (see
// seedBook.badInput).
const badSeed = "x-fetch-bad-input"

// A seedBook keeps what -r knows of the seeds it has read: their hosts
// (the crawl's scope, unless --span-hosts), their directories (with
// --no-parent only), the inputs as given that their pages do not name as
// given (a URL without a scheme, with a fragment, or with a password), and
// the records of the inputs that are not URLs. What it keeps grows with
// the hosts and directories of the seeds, not with their number, for
// seeds named as their pages name them (a sitemap's). Seeds are read on
// the crawl's goroutine and pages handled on the caller's: it is safe for
// concurrent use.
type seedBook struct {
	mu    sync.Mutex
	hosts map[string]bool   // the seeds' host names, ASCII, lower case
	dirs  seedDirs          // for --no-parent; nil without
	names map[string]string // the URL a seed's page names → the input as given, where they differ
	bad   map[string]record // a stand-in seed → its input's record
	nBad  int
	late  []record // the records of the inputs not URLs read once the crawl took no more seeds

	rest    chan bool     // cap 1: once the crawl is over, whether to read the inputs it did not take
	drained chan struct{} // closed once seeds has returned
}

// newSeedBook returns an empty seedBook, which keeps the seeds'
// directories if noParent (--no-parent) is set.
func newSeedBook(noParent bool) *seedBook {
	b := &seedBook{hosts: map[string]bool{}, names: map[string]string{}, bad: map[string]record{},
		rest: make(chan bool, 1), drained: make(chan struct{})}
	if noParent {
		b.dirs = seedDirs{}
	}
	return b
}

// seeds yields the seed of each input as in yields it (see read). Once the
// crawl takes no more (--max-pages is reached), it waits for finish and,
// if told to, reads the rest of in, keeping the records of the inputs that
// are not URLs for lateRecords: every input that is not a URL has its
// record, wherever it comes.
func (b *seedBook) seeds(in iter.Seq[line]) iter.Seq[string] {
	return func(yield func(string) bool) {
		defer close(b.drained)
		taking := true
		for l := range in {
			seed := b.read(l)
			if taking && yield(seed) {
				continue
			}
			if taking {
				taking = false
				if !<-b.rest {
					return
				}
			}
			b.unread(seed)
		}
	}
}

// finish says, once, whether seeds is to read the inputs the crawl did not
// take: yes once the crawl has ended by itself, no if it was stopped.
func (b *seedBook) finish(readRest bool) {
	select {
	case b.rest <- readRest:
	default:
	}
}

// unread keeps the record of the input seed stands in for, if it does, for
// lateRecords: the crawl did not take seed.
func (b *seedBook) unread(seed string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if rec, ok := b.bad[seed]; ok {
		delete(b.bad, seed)
		b.late = append(b.late, rec)
	}
}

// lateRecords waits until seeds has read all of its inputs, or ctx ends,
// and returns the records of those that are not URLs the crawl did not
// take.
func (b *seedBook) lateRecords(ctx context.Context) []record {
	select {
	case <-b.drained:
	case <-ctx.Done():
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.late
}

// read notes l and returns the seed to crawl for it: its URL, or, for an
// input that is not a URL, a stand-in whose page badInput turns into the
// input's record.
func (b *seedBook) read(l line) string {
	target := withScheme(l.url)
	err := checkURL(l, target)
	sf, isSitemap := l.err.(*sitemapFailure)
	if isSitemap {
		err = fmt.Errorf("%s: %w", asGiven(l.url), sf)
	} else if l.err != nil {
		err = fmt.Errorf("%w: %w", errBadInput, l.err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.nBad++
		stand := badSeed + ":" + strconv.Itoa(b.nBad)
		rec := record{URL: asGiven(l.url), Error: errorText(err), ErrorKind: errorKind(err)}
		if isSitemap {
			sf.fill(&rec)
		}
		b.bad[stand] = rec
		return stand
	}
	u, _ := url.Parse(target) // checkURL parsed it
	host, ok := hostkey.ASCIIName(u.Hostname())
	if !ok {
		host = "" // the crawl refuses the seed
	}
	if host != "" {
		b.hosts[host] = true
	}
	b.dirs.add(seed{url: u, host: host})
	bare := *u
	bare.Fragment, bare.RawFragment = "", ""
	given := asGiven(l.url)
	for _, name := range []string{redact(target), bare.Redacted()} {
		if name != given {
			b.names[name] = given
		} else {
			delete(b.names, name) // the page's record names it as given: the seed read last wins, as ever
		}
	}
	return target
}

// badInput returns the record of the input p stands in for, if it does.
func (b *seedBook) badInput(p *fetch.Page) (record, bool) {
	if p.Depth != 0 || !strings.HasPrefix(p.URL, badSeed+":") {
		return record{}, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	rec, ok := b.bad[p.URL]
	delete(b.bad, p.URL)
	return rec, ok
}

// given returns the input as given of the seed whose page names pageURL,
// if it is not pageURL itself.
func (b *seedBook) given(pageURL string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g, ok := b.names[pageURL]
	return g, ok
}

// inScope reports whether u is on the host of a seed read so far, or on a
// subdomain of one, as [fetch.CrawlHosts] has it.
func (b *seedBook) inScope(u *url.URL) bool {
	name := strings.ToLower(u.Hostname())
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.hosts[name] {
			return true
		}
		_, parent, ok := strings.Cut(name, ".")
		if !ok || parent == "" {
			return false
		}
		name = parent
	}
}

// addDir adds the directory of s, where a seed's page was redirected to.
func (b *seedBook) addDir(s seed) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dirs.add(s)
}

// under is seedDirs.under for the seeds read so far.
func (b *seedBook) under(u *url.URL) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dirs.under(u)
}

// seedDirs are the directories of the seeds (/a/b/ for /a/b/c.html, or
// for /a/b/), by host, as wget's -np has them.
type seedDirs map[string]map[string]bool

// add adds s's directory; to a nil seedDirs (no --no-parent), nothing.
func (d seedDirs) add(s seed) {
	if d == nil || s.host == "" {
		return
	}
	if d[s.host] == nil {
		d[s.host] = map[string]bool{}
	}
	d[s.host][dir(s.url.Path)] = true
}

// under reports whether u's path is under the directory of a seed on u's
// host, or whether no seed is on u's host, where --no-parent does not
// apply. It looks up each directory above the path: a crawl from a
// sitemap has many seeds.
func (d seedDirs) under(u *url.URL) bool {
	dirs, ok := d[strings.ToLower(u.Hostname())]
	if !ok {
		return true
	}
	for p := dir(u.Path); ; p = dir(p[:len(p)-1]) {
		if dirs[p] {
			return true
		}
		if p == "/" {
			return false
		}
	}
}
