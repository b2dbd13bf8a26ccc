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
	"time"

	"github.com/c989c033/fetch/internal/robots"
	"golang.org/x/time/rate"
)

// robotsCache holds a crawl's robots.txt rules, one entry per scheme and
// host (by hostKey: the scheduler and the Fetcher's gates know hosts so
// too), each fetched once: RFC 9309 §2.3 has the rules at
// scheme://host:port/robots.txt apply to that protocol, host and port
// only, so http://a.test/ and https://a.test/ each have their own.
//
// The Crawl-delay pace is kept per hostKey, as the scheduler's queues and
// the Fetcher's gates are: one server, whichever scheme reaches it, is
// spaced by the longest Crawl-delay of its robots.txt files (see setDelay).
type robotsCache struct {
	mu      sync.Mutex
	entries map[string]*robotsEntry  // by scheme and hostKey
	paces   map[string]*rate.Limiter // by hostKey: hosts with a Crawl-delay
	bases   map[string]rate.Limit    // by hostKey: each pace's rate, before jitter
	anyPace atomic.Bool              // paces is not empty: pace, asked on every dispatch, takes no lock until then
	jitter  float64                  // WithHostRateJitter's, which varies the paces; 0: none
}

// A robotsEntry is one origin's robots.txt: loaded once, by whichever comes
// first of the job the crawl schedules for it and a redirect to it.
type robotsEntry struct {
	key          string // the host's hostKey, its scheduler queue's name
	scheme, host string // where robots.txt is fetched: the scheme, and the host of the first URL seen
	scheduled    bool   // the crawl has scheduled the job that loads it; under robotsCache.mu
	once         sync.Once
	rules        atomic.Pointer[robots.Rules] // set once loaded
}

// get returns the entry for u's scheme and host. If schedule is set, it
// also reports whether the caller is the first to schedule the entry's
// loading, and so must.
func (c *robotsCache) get(u *url.URL, schedule bool) (e *robotsEntry, first bool) {
	key, scheme := hostKey(u), strings.ToLower(u.Scheme)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e = c.entries[scheme+"://"+key]; e == nil {
		if c.entries == nil {
			c.entries = make(map[string]*robotsEntry)
		}
		e = &robotsEntry{key: key, scheme: scheme, host: u.Host}
		c.entries[scheme+"://"+key] = e
	}
	if schedule && !e.scheduled {
		e.scheduled, first = true, true
	}
	return e, first
}

// pace returns the limiter that spaces the crawl's requests to host key
// by its Crawl-delay, scheduled ones and redirects alike; nil if none of
// its robots.txt files loaded so far gives one.
func (c *robotsCache) pace(key string) *rate.Limiter {
	if !c.anyPace.Load() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paces[key]
}

// setDelay records a Crawl-delay of d for host key, read from one of its
// robots.txt files, whose request was one to the host: the next waits a
// whole delay. The host's pace is the longest delay of its files.
func (c *robotsCache) setDelay(key string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, every := c.paces[key], rate.Every(d)
	if l == nil {
		if c.paces == nil {
			c.paces, c.bases = make(map[string]*rate.Limiter), make(map[string]rate.Limit)
		}
		l = rate.NewLimiter(every, 1)
		c.paces[key], c.bases[key] = l, every
		c.anyPace.Store(true)
	} else if every < c.bases[key] {
		l.SetLimit(every)
		c.bases[key] = every
	}
	l.Allow()
	if c.jitter > 0 {
		rejitter(l, c.bases[key], c.jitter, time.Now())
	}
}

// jitterPace varies the interval before host key's next Crawl-delay token,
// once a request has taken one, if the paces are jittered (see
// [WithHostRateJitter]).
func (c *robotsCache) jitterPace(key string, now time.Time) {
	if c.jitter == 0 {
		return
	}
	c.mu.Lock()
	l, base := c.paces[key], c.bases[key]
	c.mu.Unlock()
	if l != nil {
		rejitter(l, base, c.jitter, now)
	}
}

// withoutCredentials is a RequestOption that keeps the Fetcher's default
// headers that may be credentials (see privateDefaults), and those of
// sensitiveHeaders, off a request: a crawl's robots.txt, or a sitemap
// another site named.
func (f *Fetcher) withoutCredentials(r *http.Request) error {
	for _, k := range slices.Concat(sensitiveHeaders, f.private) {
		if !hasKey(r.Header, k) {
			r.Header[k] = nil // set, to nothing: the default is not added
		}
	}
	return nil
}

// loadRobots fetches e's robots.txt through the Fetcher's gates, once;
// other callers wait for the first. It reads at most robots.MaxSize bytes
// of it, whatever the Fetcher's body cap, and sends none of the Fetcher's
// credentials (see withoutCredentials), nor its default headers but the
// public ones (see publicHeaders), nor the cookies of its client's jar,
// which does not store those the response sets either.
func (r *crawl) loadRobots(e *robotsEntry) *robots.Rules {
	e.once.Do(func() {
		robotsURL := &url.URL{Scheme: e.scheme, Host: e.host, Path: "/robots.txt"} // escapes a zone's %
		req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, robotsURL.String(), nil)
		if err != nil {
			e.rules.Store(robots.FromResponse(r.cfg.agent, 0, nil, err))
			return
		}
		req.Header.Set("User-Agent", r.cfg.agent)
		FollowRedirects(true)(req) // RFC 9309 §2.3.1.2, whatever WithFollowRedirects says
		// The host may be one only a redirect led to, which is spared
		// them, and robots.txt is public: no credential goes, nor any
		// default header that may be one (see publicHeaders).
		r.f.withoutCredentials(req)
		var body []byte
		read := func(resp *http.Response) error {
			defer resp.Body.Close()
			body, err = io.ReadAll(io.LimitReader(resp.Body, robots.MaxSize+1))
			return err
		}
		resp, _, err := r.f.do(req, read, handOff{jarless: true}) // nor the cookie jar's
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
			// A server may make the crawl wait between its requests no
			// longer than it may make a retry wait.
			r.robots.setDelay(e.key, min(d, r.f.retry.MaxRetryAfter))
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
	from  string   // the page the URL was found on, whose Referer the crawl sends (see referer); "" if it sends none of its own
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
	if redirect && c.from != "" {
		// The page's Referer, for where the request goes now.
		if ref := referer(c.from, req.URL); ref != "" {
			req.Header.Set("Referer", ref)
		} else {
			req.Header.Del("Referer")
		}
	}
	if redirect {
		key := c.cfg.key(req.URL)
		if key != "" && inChain(req) {
			return fmt.Errorf("%w: %s (a redirect loop)", ErrAlreadySeen, req.URL.Redacted())
		}
		// A redirect to a key the request has claimed (its own: a server
		// canonicalising "/%7Euser" to "/~user", or a CrawlKey blind to
		// what the redirect changes) is the same page: it is followed.
		if key != "" && !slices.Contains(c.keys, key) {
			if !c.queue.Seen(key) && !c.again {
				return fmt.Errorf("%w: %s", ErrAlreadySeen, req.URL.Redacted())
			}
			c.keys = append(c.keys, key) // a retry that follows it again is not refused
		}
	}
	if robotsEntry == nil {
		return nil
	}
	if pace := c.robots.pace(robotsEntry.key); pace != nil {
		ctx, now := req.Context(), time.Now()
		if due, ok := tokenDue(pace, now); ok && pastDeadline(ctx, due) {
			return paceTooLate(due.Sub(now)) // as a scheduled page's (see scheduler.next)
		}
		if err := pace.Wait(ctx); err != nil {
			err = fmt.Errorf("waiting for the host's Crawl-delay: %w", err)
			if ctx.Err() == nil { // refused up front: the turn came due past the deadline meanwhile
				return deadlineError{err}
			}
			return err
		}
		c.robots.jitterPace(robotsEntry.key, time.Now())
	}
	return nil
}

// inChain reports whether req (a redirect) leads back to the very URL of a
// request before it in its redirect chain in this attempt, fragments
// aside: the chain loops. URLs that differ in spelling only (a key the
// chain's requests share) are not a loop: a server canonicalising a URL
// redirects to an equivalent one, which is then fetched.
func inChain(req *http.Request) bool {
	to := withoutFragment(req.URL)
	for r := req.Response.Request; r != nil; {
		if withoutFragment(r.URL) == to {
			return true
		}
		if r.Response == nil {
			return false
		}
		r = r.Response.Request
	}
	return false
}

// withoutFragment returns u as a string, without its fragment.
func withoutFragment(u *url.URL) string {
	v := *u
	v.Fragment, v.RawFragment = "", ""
	return v.String()
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
		return robotsUnavailable(why)
	}
	return ErrDisallowed
}

// robotsUnavailable is the refusal of a URL whose host's robots.txt could
// not be read, for the reason it holds: it matches both ErrDisallowed and
// ErrRobotsUnavailable, and reads as ErrDisallowed with the reason.
type robotsUnavailable string

func (e robotsUnavailable) Error() string { return ErrDisallowed.Error() + ": " + string(e) }

func (e robotsUnavailable) Is(target error) bool {
	return target == ErrDisallowed || target == ErrRobotsUnavailable
}
