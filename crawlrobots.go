package fetch

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/c989c033/fetch/internal/robots"
	"golang.org/x/time/rate"
)

// robotsCache holds a crawl's robots.txt rules, one entry per host (by
// hostKey: the scheduler and the Fetcher's gates know hosts so too), each
// fetched once, with the scheme of the first URL seen there.
type robotsCache struct {
	mu      sync.Mutex
	entries map[string]*robotsEntry
}

// A robotsEntry is one host's robots.txt: loaded once, by whichever comes
// first of the job the crawl schedules for it and a redirect to the host.
type robotsEntry struct {
	key          string // the host's hostKey
	scheme, host string // of the first URL seen: where robots.txt is fetched
	scheduled    bool   // the crawl has scheduled the job that loads it; under robotsCache.mu
	once         sync.Once
	rules        atomic.Pointer[robots.Rules] // set once loaded
	// pace spaces the crawl's requests to the host by its Crawl-delay:
	// scheduled ones and redirects alike. Set once loaded; nil if none.
	pace *rate.Limiter
}

// get returns the entry for u's host. If schedule is set, it also reports
// whether the caller is the first to schedule the entry's loading, and so
// must.
func (c *robotsCache) get(u *url.URL, schedule bool) (e *robotsEntry, first bool) {
	key := hostKey(u)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e = c.entries[key]; e == nil {
		if c.entries == nil {
			c.entries = make(map[string]*robotsEntry)
		}
		e = &robotsEntry{key: key, scheme: strings.ToLower(u.Scheme), host: u.Host}
		c.entries[key] = e
	}
	if schedule && !e.scheduled {
		e.scheduled, first = true, true
	}
	return e, first
}

// credentialHeaders are the headers net/http does not send on to a
// redirect's other host, which a robots.txt request is sent without.
var credentialHeaders = [...]string{"Authorization", "Proxy-Authorization", "Www-Authenticate", "Cookie", "Cookie2"}

// loadRobots fetches e's robots.txt through the Fetcher's gates, once;
// other callers wait for the first. It reads at most robots.MaxSize bytes
// of it, whatever the Fetcher's body cap, and sends none of the Fetcher's
// credentials (see credentialHeaders).
func (r *crawl) loadRobots(e *robotsEntry) *robots.Rules {
	e.once.Do(func() {
		robotsURL := &url.URL{Scheme: e.scheme, Host: e.host, Path: "/robots.txt"} // escapes a zone's %
		req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, robotsURL.String(), nil)
		if err != nil {
			e.rules.Store(robots.FromResponse(r.cfg.agent, 0, nil, err))
			return
		}
		req.Header.Set("User-Agent", r.cfg.agent)
		for _, k := range credentialHeaders {
			// Set, to nothing: the Fetcher's defaults are not added. The
			// host may be one only a redirect led to, which net/http
			// spares them, and robots.txt is public.
			req.Header[k] = nil
		}
		var body []byte
		read := func(resp *http.Response) error {
			defer resp.Body.Close()
			body, err = io.ReadAll(io.LimitReader(resp.Body, robots.MaxSize+1))
			return err
		}
		resp, _, err := r.f.do(req, read, handOff{})
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		if errors.Is(err, ErrTooManyRedirects) {
			// Too many redirects (or one to another scheme): robots.txt
			// is unavailable, not unreachable (RFC 9309 §2.3.1.2).
			status, body, err = http.StatusFound, nil, nil
		}
		if err != nil {
			// Only its text is kept, as the reason every page of the host
			// then gives, inside a *Error of its own that says "fetch:".
			err = errors.New(strings.TrimPrefix(err.Error(), "fetch: "))
		}
		rules := robots.FromResponse(r.cfg.agent, status, body, err)
		if d := rules.CrawlDelay(); d > 0 {
			// The robots.txt request itself was the first: the next
			// waits a whole delay.
			e.pace = rate.NewLimiter(rate.Every(d), 1)
			e.pace.Allow()
		}
		e.rules.Store(rules)
	})
	return e.rules.Load()
}

// vet is the scheduler's check for a crawl that honours robots.txt: it
// refuses a job whose URL the host's robots.txt disallows. The host's
// rules are loaded: its jobs are blocked until they are.
func (r *crawl) vet(j *job[crawlJob]) error {
	e, _ := r.robots.get(j.req.URL, false)
	return disallowed(e.rules.Load(), j.req.URL)
}

// A sendCheck vets every redirect and retry of one page's request (see
// withSendCheck), as the scheduler vets its first attempt.
type sendCheck struct {
	*crawl
	keys  []string // the keys the request has claimed: its own, and its redirects' targets
	again bool     // the entry is redelivered: a redirect to a URL seen is followed
}

// check refuses a redirect to a URL outside the crawl's scope, one that
// its host's robots.txt disallows (loading the rules first if need be),
// or one the crawl has seen before (unless the entry is redelivered): it
// marks the URL a redirect leads to seen, so that neither a link to it
// nor another redirect fetches it again. Then it has a redirect or a
// retry wait out the host's Crawl-delay. It runs on the call's goroutine.
func (c *sendCheck) check(req *http.Request) error {
	if c.f.closed.Load() {
		return ErrClosed // not robots.txt's doing: nothing more is sent
	}
	redirect := req.Response != nil // net/http sets the response that led to a redirect
	if redirect && !c.cfg.inScope(req.URL) {
		return fmt.Errorf("%w: %s", ErrOutOfScope, req.URL.Redacted())
	}
	var robotsEntry *robotsEntry
	if c.cfg.robots {
		robotsEntry, _ = c.robots.get(req.URL, false)
		if err := disallowed(c.loadRobots(robotsEntry), req.URL); err != nil {
			return err
		}
	}
	if redirect {
		key := c.cfg.key(req.URL)
		if key != "" && inChain(c.cfg.key, req, key) {
			return fmt.Errorf("%w: %s (a redirect loop)", ErrAlreadySeen, req.URL.Redacted())
		}
		if key != "" && !slices.Contains(c.keys, key) {
			if !c.queue.Seen(key) && !c.again {
				return fmt.Errorf("%w: %s", ErrAlreadySeen, req.URL.Redacted())
			}
			c.keys = append(c.keys, key) // a retry that follows it again is not refused
		}
	}
	if robotsEntry != nil && robotsEntry.pace != nil {
		if err := robotsEntry.pace.Wait(req.Context()); err != nil {
			return fmt.Errorf("waiting for the host's Crawl-delay: %w", err)
		}
	}
	return nil
}

// inChain reports whether a request of req's redirect chain in this
// attempt, before req (a redirect), has the key key: the chain loops.
func inChain(keyOf func(*url.URL) string, req *http.Request, key string) bool {
	for r := req.Response.Request; r != nil; {
		if keyOf(r.URL) == key {
			return true
		}
		if r.Response == nil {
			return false
		}
		r = r.Response.Request
	}
	return false
}

// disallowed returns an error matching ErrDisallowed if rules do not allow
// u; nil rules (not loaded) allow everything.
func disallowed(rules *robots.Rules, u *url.URL) error {
	if rules == nil {
		return nil
	}
	path := u.EscapedPath()
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	if rules.Allowed(path) {
		return nil
	}
	if why := rules.Reason(); why != "" {
		return fmt.Errorf("%w: %s", ErrDisallowed, why)
	}
	return ErrDisallowed
}
