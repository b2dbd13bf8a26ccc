package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/c989c033/fetch/internal/htmltitle"
	"github.com/c989c033/fetch/internal/urlredact"
)

// Crawl errors, matched with [errors.Is] on a [Page]'s Err.
var (
	// ErrDisallowed marks a URL that robots.txt disallows for the crawl's
	// user agent, or that is disallowed because the host's robots.txt
	// could not be read (a 5xx or no answer; see [NewCrawler]). The URL is
	// not fetched.
	ErrDisallowed = errors.New("fetch: disallowed by robots.txt")

	// ErrRobotsUnavailable marks a URL disallowed only because its host's
	// robots.txt could not be read (a 5xx, or no answer): RFC 9309 has
	// the crawler take everything as disallowed for now, so a later crawl
	// may find the URL allowed. Such an error matches [ErrDisallowed] too.
	ErrRobotsUnavailable = errors.New("fetch: robots.txt unavailable")

	// ErrCrawlFull marks a URL found when the crawl already holds as many
	// URLs as [CrawlMaxURLs] allows. The URL is not fetched.
	ErrCrawlFull = errors.New("fetch: crawl is full")

	// ErrAlreadySeen marks the page of a URL that redirects to a URL the
	// crawl has seen before (fetched, or queued to be), or back to a URL of
	// its own redirect chain (a loop): the redirect is not followed, so
	// that no page is fetched twice. A redirect to a URL with the page's
	// own key (see [CrawlKey]), such as a server's canonical spelling of
	// it ("/%7Euser" to "/~user"), leads to the same page: it is followed.
	ErrAlreadySeen = errors.New("fetch: redirect to a URL the crawl has already seen")

	// ErrOutOfScope marks the page of a seed outside the crawl's scope, or
	// of a URL that redirects outside it (see [CrawlScope]): it is not
	// fetched, or the redirect is not followed.
	ErrOutOfScope = errors.New("fetch: outside the crawl's scope")

	// ErrCrawlDone is returned by [Page.Follow] once the crawl has ended.
	ErrCrawlDone = errors.New("fetch: crawl has ended")
)

// DefaultCrawlAgent is the user agent a [Crawler] sends and looks for in
// robots.txt unless [CrawlUserAgent] sets another.
const DefaultCrawlAgent = "fetch (+https://github.com/c989c033/fetch)"

// A Crawler fetches pages and the pages they link to, through a
// [Fetcher]'s gates, with the per-host scheduling of the batch and
// streaming calls: a host that is busy or paced never holds up another.
//
// It deduplicates URLs by a key (see [CrawlKey]), honours robots.txt (see
// [CrawlIgnoreRobots]) and stops at optional limits on depth and pages.
// Each URL is taken in once: a seed or a link whose key the crawl has
// seen before adds nothing and yields no page of its own, so
// Run(ctx, u, u+"#top") yields one page, as Follow adds nothing for a
// link already found. Nothing else it is given is dropped silently: a URL
// it will not fetch (robots disallows it, the crawl is full, it is
// outside the crawl's scope, it redirects to a URL seen before) comes back
// as a [Page] whose Err says why. The exceptions are the limits asked
// for: links past [CrawlMaxDepth], beyond [CrawlMaxPages] or outside
// [CrawlScope] are not followed, and links that are not http or https
// URLs (mailto:, javascript:) are skipped.
//
// # robots.txt
//
// Unless [CrawlIgnoreRobots] is given, the crawler fetches each origin's
// /robots.txt (per scheme, host and port: http://a.test/ and
// https://a.test/ each have their own) once, through the same gates,
// before any other URL of that host, and follows it as RFC 9309 says: a
// 4xx, or more redirects than the Fetcher follows, means everything is
// allowed; a 5xx or no answer means nothing is, and the origin's URLs come
// back with [ErrDisallowed] naming the reason. Its Crawl-delay spaces that
// host's requests in this crawl, whatever their scheme (the longest of
// the host's robots.txt files' delays, each wait varied at random if the
// Fetcher has [WithHostRateJitter]): a URL whose turn would come after
// the crawl's context's deadline comes back at once with an error naming
// the Crawl-delay and matching [context.DeadlineExceeded]. A redirect is
// checked against the robots.txt of the origin it leads to before it is
// followed. A robots.txt request carries none of the Fetcher's
// credentials: no Authorization or Cookie, no default header that may be
// one (see [WithHeader]), and none of the cookies of the client's jar
// ([WithCookieJar], or the Jar of [WithClient]'s client), which does not
// store the cookies its response sets either. The pages are fetched with
// the jar, as every other request of the Fetcher.
//
// # Memory
//
// The set of URLs seen and the queue of URLs found grow with the crawl, by
// about the length of each URL plus a hundred bytes. [CrawlMaxURLs] caps
// them: a URL found past the cap comes back with [ErrCrawlFull]. The rules
// of each origin's robots.txt are kept for the whole crawl too: a few
// hundred bytes for a typical file (about 700 bytes a host, all told, in a
// crawl of 5,000 hosts), more for a long one (a file is read up to 500 KiB).
//
// Make one with [NewCrawler]: the zero Crawler is not usable. A Crawler is
// safe for concurrent use; each [Crawler.Run] is a crawl of its own, with
// its own frontier unless [CrawlFrontier] gives one.
type Crawler struct {
	f   *Fetcher
	cfg crawlConfig
}

type crawlConfig struct {
	maxDepth   int // -1: no limit
	maxPages   int // 0: no limit
	maxURLs    int // 0: no cap
	key        func(*url.URL) string
	agent      string
	robots     bool
	refreshMax time.Duration         // the longest refresh among a page's links; -1: none
	frontier   Frontier              // nil: a new in-memory frontier per Run
	scopes     []func(*url.URL) bool // a URL must be in every one
}

// A CrawlOption configures a [Crawler].
type CrawlOption func(*crawlConfig) error

// CrawlMaxDepth follows links only from pages at depth below n: seeds are
// at depth 0, the pages they link to at 1, and so on. By default there is
// no limit.
func CrawlMaxDepth(n int) CrawlOption {
	return func(c *crawlConfig) error {
		if n < 0 {
			return fmt.Errorf("fetch: CrawlMaxDepth(%d): must not be negative", n)
		}
		c.maxDepth = n
		return nil
	}
}

// CrawlMaxPages ends the crawl after n URLs have been taken in (seeds
// included); links found after that are not followed. By default there is
// no limit.
func CrawlMaxPages(n int) CrawlOption {
	return func(c *crawlConfig) error {
		if n < 1 {
			return fmt.Errorf("fetch: CrawlMaxPages(%d): must be at least 1", n)
		}
		c.maxPages = n
		return nil
	}
}

// CrawlMaxURLs caps the URLs the crawl holds, seen and queued, at n: a new
// URL found past the cap comes back as a [Page] with [ErrCrawlFull]
// instead of being fetched, each time it is found (a full crawl has no room
// to remember it). By default there is no cap, and the crawl's memory
// grows with the URLs it finds.
func CrawlMaxURLs(n int) CrawlOption {
	return func(c *crawlConfig) error {
		if n < 1 {
			return fmt.Errorf("fetch: CrawlMaxURLs(%d): must be at least 1", n)
		}
		c.maxURLs = n
		return nil
	}
}

// CrawlKey sets the key URLs are deduplicated by: two URLs with the same
// key are fetched once. The default is [NormalizeURL]. A key of "" is
// never deduplicated, so CrawlKey(nil) turns deduplication off.
func CrawlKey(key func(*url.URL) string) CrawlOption {
	return func(c *crawlConfig) error {
		if key == nil {
			key = func(*url.URL) string { return "" }
		}
		c.key = key
		return nil
	}
}

// CrawlUserAgent sets the User-Agent header of the crawl's requests, and
// the agent whose rules it follows in robots.txt (matched by its product
// token, the part before any "/"), in place of [DefaultCrawlAgent].
func CrawlUserAgent(agent string) CrawlOption {
	return func(c *crawlConfig) error {
		if strings.TrimSpace(agent) == "" {
			return errors.New("fetch: CrawlUserAgent(\"\"): must not be empty")
		}
		c.agent = agent
		return nil
	}
}

// CrawlIgnoreRobots makes the crawler fetch URLs whatever robots.txt says,
// without fetching it, and makes [Page.Links] return the links a page asks
// crawlers not to follow too, as [Page.AllLinks] does: those with
// rel="nofollow", and all of a page whose robots <meta> or X-Robots-Tag
// header says nofollow.
func CrawlIgnoreRobots() CrawlOption {
	return func(c *crawlConfig) error {
		c.robots = false
		return nil
	}
}

// CrawlMetaRefresh makes a page's refresh one of its links, as wget and
// Scrapy follow it, if its delay is at most maxDelay: the URL of its
// Refresh header, or of its first <meta http-equiv="refresh"> (see
// [Page.Refresh]), comes in [Page.Links] where the <meta> stands in the
// document (first, for the header). A crawl that follows the links then
// takes it in as any other link found on the page, one level deeper:
// deduplicated, in scope, allowed by robots.txt. A refresh that names no
// URL, which reloads the page, is not a link, nor is one on a page whose
// links are not followed (see [Page.Links]). Without this option a
// refresh is not among the links; [Page.Refresh] reports it either way.
// Scrapy's MetaRefreshMiddleware takes refreshes of less than 100
// seconds.
func CrawlMetaRefresh(maxDelay time.Duration) CrawlOption {
	return func(c *crawlConfig) error {
		if maxDelay < 0 {
			return fmt.Errorf("fetch: CrawlMetaRefresh(%v): must not be negative", maxDelay)
		}
		c.refreshMax = maxDelay
		return nil
	}
}

// CrawlScope limits the crawl to the URLs for which in returns true: a
// link outside the scope is not followed (as a link past [CrawlMaxDepth]
// is not), and a seed outside it, or a URL that redirects outside it, comes
// back as a [Page] whose Err matches [ErrOutOfScope], the redirect not
// followed. in is given each URL absolute and without its fragment, on
// the crawl's goroutines: it must be safe for concurrent use. Given more
// than once (or with [CrawlHosts]), a URL must be in every scope.
func CrawlScope(in func(u *url.URL) bool) CrawlOption {
	return func(c *crawlConfig) error {
		if in == nil {
			return errors.New("fetch: CrawlScope(nil)")
		}
		c.scopes = append(c.scopes, in)
		return nil
	}
}

// CrawlHosts limits the crawl, as [CrawlScope] does, to URLs on the given
// hosts and their subdomains, whatever the scheme and port:
// CrawlHosts("example.com") takes in example.com and www.example.com, but
// not example.org or notexample.com. A host is a bare name or IP address,
// matched case-insensitively.
func CrawlHosts(hosts ...string) CrawlOption {
	return func(c *crawlConfig) error {
		if len(hosts) == 0 {
			return errors.New("fetch: CrawlHosts(): no host given")
		}
		names := make([]string, len(hosts))
		for i, h := range hosts {
			if h == "" || strings.ContainsAny(h, "/:@?# ") && !strings.HasPrefix(h, "[") {
				return fmt.Errorf("fetch: CrawlHosts(%q): must be a bare host name, such as example.com, without scheme, port or path", h)
			}
			name, ok := asciiHostname(strings.Trim(h, "[]"))
			if !ok {
				return fmt.Errorf("fetch: CrawlHosts(%q): not a valid host name", h)
			}
			names[i] = name
		}
		c.scopes = append(c.scopes, func(u *url.URL) bool {
			name := strings.ToLower(u.Hostname())
			for _, h := range names {
				if name == h || strings.HasSuffix(name, "."+h) {
					return true
				}
			}
			return false
		})
		return nil
	}
}

// inScope reports whether u, without its fragment, is in every scope of
// the crawl.
func (c *crawlConfig) inScope(u *url.URL) bool {
	if len(c.scopes) == 0 {
		return true
	}
	v := *u
	v.Fragment, v.RawFragment = "", ""
	for _, in := range c.scopes {
		if !in(&v) {
			return false
		}
	}
	return true
}

// CrawlFrontier makes the crawl keep the URLs it has seen and queued in
// fr instead of a new [NewMemoryFrontier] per run, so that a shared store
// can back it; see [Frontier]. The crawl closes fr when its Run ends, so a
// Crawler given fr serves one Run: the seeds of another come back with
// [ErrCrawlDone]. fr's own caps apply; [CrawlMaxURLs] cannot be given too.
func CrawlFrontier(fr Frontier) CrawlOption {
	return func(c *crawlConfig) error {
		if fr == nil {
			return errors.New("fetch: CrawlFrontier(nil)")
		}
		c.frontier = fr
		return nil
	}
}

// NewCrawler returns a Crawler that fetches through f, configured by opts,
// or an error naming the first option whose value is out of range (or
// that is nil). The
// crawl is as polite as f: its per-host cap and rate
// ([WithHostConcurrency], [WithHostRate]) bound each host, with
// robots.txt's Crawl-delay on top; f without them sends a host as many
// requests at once as its concurrency.
func NewCrawler(f *Fetcher, opts ...CrawlOption) (*Crawler, error) {
	if f == nil {
		return nil, errors.New("fetch: NewCrawler(nil Fetcher)")
	}
	c := crawlConfig{maxDepth: -1, key: NormalizeURL, agent: DefaultCrawlAgent, robots: true, refreshMax: -1}
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("fetch: NewCrawler: option %d of %d is nil", i+1, len(opts))
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	if c.frontier != nil && c.maxURLs > 0 {
		return nil, errors.New("fetch: CrawlMaxURLs caps the crawl's own in-memory frontier; with CrawlFrontier, cap the frontier given (NewMemoryFrontier(n))")
	}
	return &Crawler{f: f, cfg: c}, nil
}

// A Page is the outcome of fetching one URL of a crawl: a [Result], with
// where the URL was found. A Page whose Err is nil was fetched with a 2xx
// status; its links are not followed until [Page.Follow] is called.
type Page struct {
	Result
	Depth    int    // 0 for a seed; one more than the page it was found on
	Referrer string // the URL of the page it was found on, after its redirects; "" for a seed

	crawl  *crawl
	entry  CrawlEntry
	queued bool // entry came from the frontier, which is told when p is done
}

// Follow adds links found on p to the crawl, one level deeper than p. Each
// is resolved against p's final URL (after redirects), so relative links
// work; those that are not http or https URLs are skipped, as are all of
// them when p is at [CrawlMaxDepth]. A redirect the crawl follows itself
// adds no depth; one a Fetcher with [WithFollowRedirects](false) hands
// back, followed with p.Follow(p.Header.Get("Location")), is a link one
// level deeper, like any other.
//
// The crawl counts p as in progress until the loop body that received it
// returns, so links followed before then, from the loop body or from
// goroutines it waits for, are never too late. Follow is safe for
// concurrent use; called after that, it either adds the links, which the
// crawl then fetches, or finds the crawl ended and returns
// [ErrCrawlDone], having added nothing. (If the crawl's context ends, or
// its loop is broken out of, links it had not yet taken in are not
// fetched, whenever they were added.)
func (p *Page) Follow(links ...string) error {
	if p.crawl == nil {
		return ErrCrawlDone
	}
	base := p.base()
	if base == nil {
		return nil
	}
	return p.crawl.follow(base, p.Depth+1, p.foundOn(), links)
}

// foundOn is the Referrer of the links found on p: its final URL after
// redirects, without user info, or else the URL it was fetched from.
func (p *Page) foundOn() string {
	if p.final == nil {
		return p.URL
	}
	u := *p.final
	u.User = nil
	return u.String()
}

// base is what p's links are resolved against: its final URL, or else the
// URL it was fetched from, unredacted, so that a crawl of URLs with
// credentials in them keeps them; nil if there is none.
func (p *Page) base() *url.URL {
	if p.final != nil {
		return p.final
	}
	u, err := url.Parse(cmpOr(p.entry.URL, p.URL))
	if err != nil {
		return nil
	}
	return u
}

// Links returns the links of p's body, if it is HTML, that it lets
// crawlers follow: the href of every <a> and <area> element (those in a
// <noscript>, <noframes> or <noembed> included), in document order,
// resolved as a browser resolves them: against the page's first
// <base href>, or else its final URL, with tabs and newlines removed; those
// that are not http or https URLs are left out, and so are those a browser
// could not follow either: an href that does not parse as a URL (a space
// in the host, a bad port). A link checker that reports such hrefs as
// broken reads them from Body. With [CrawlMetaRefresh], the page's
// refresh is among them.
//
// As wget does, Links leaves out the links the page asks crawlers not to
// follow: an element whose rel has the token nofollow (in any case; rel's
// tokens are separated by white space or commas; "ugc" and "sponsored",
// which search engines take as hints, are followed), and every link of a
// page with a <meta name="robots" content="nofollow"> (or "none"; or the
// same named after the crawl's user agent's product token, such as <meta
// name="mybot">), or whose X-Robots-Tag header says nofollow or none,
// unprefixed or for that agent ("mybot: nofollow"). [CrawlIgnoreRobots]
// turns this off; [Page.AllLinks] returns them all.
func (p *Page) Links() []string { return p.links(p.obeysRobots()) }

// Title returns the text of the first <title> of p's body, if it is HTML,
// with white space collapsed (a <title> inside an <svg> is not the page's);
// "" if it has none.
func (p *Page) Title() string {
	if !p.html() {
		return ""
	}
	t, _ := htmltitle.Find(bytes.NewReader(p.Body)) // an error: a tag past the tokenizer's 64 KiB buffer
	return t
}

// html reports whether p's body is HTML, or may be: its Content-Type says
// so, or there is none.
func (p *Page) html() bool {
	ct := p.Header.Get("Content-Type")
	return ct == "" || strings.Contains(strings.ToLower(ct), "html")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// NormalizeURL is the default key a [Crawler] deduplicates URLs by: the
// URL with its scheme and host lower-cased (a host name that is not ASCII
// in its IDNA form, as a browser sends it), the scheme's default port
// dropped, an empty path made "/", and the user info and fragment dropped.
// In the path and query, percent-escapes of unreserved characters (letters,
// digits, "-._~") are decoded and other escapes' hex digits upper-cased,
// and the path's "." and ".." segments are removed: URLs that RFC 3986
// §6.2.2 says are equivalent ("/%7Euser", "/%7euser" and "/a/../~user")
// have one key. Query arguments keep their order, and "%2F" stays apart
// from "/"; an empty query is dropped ("/c?" is "/c"), as w3lib's
// canonicalize_url (Scrapy's) drops it.
func NormalizeURL(u *url.URL) string {
	n := *u
	n.Scheme = strings.ToLower(n.Scheme)
	n.Host = strings.ToLower(n.Host)
	asciiHost(&n)
	if port := n.Port(); (n.Scheme == "http" && port == "80") || (n.Scheme == "https" && port == "443") {
		n.Host = strings.TrimSuffix(n.Host, ":"+port)
	}
	if n.Opaque == "" {
		p := removeDotSegments(normalizeEscapes(n.EscapedPath()))
		if p == "" {
			p = "/"
		}
		if p != n.EscapedPath() {
			n.Path, _ = url.PathUnescape(p)
			n.RawPath = p
		}
	}
	n.RawQuery = normalizeEscapes(n.RawQuery)
	n.ForceQuery = false
	n.Fragment, n.RawFragment = "", ""
	n.User = nil
	return n.String()
}

// Run crawls from seeds and yields a [Page] for every URL it takes in, in
// the order they complete (Page.Index counts them), on the caller's
// goroutine. Seeds are deduplicated as links are: a seed whose key (see
// [CrawlKey]) an earlier seed has, such as u+"#top" after u, is taken in
// once, and yields no page of its own. Every seed is taken in before the
// first page is fetched; [Crawler.RunSeq] reads them as the crawl goes.
// Call [Page.Follow] from the loop body to crawl the links you want. The
// crawl ends:
//   - when no URL is queued or being fetched and the loop body has
//     returned for every page;
//   - when ctx ends: the pages being fetched, and those already scheduled
//     for their host, come back with ctx's error; the URLs still waiting in
//     the frontier are not yielded (a shared [Frontier] keeps them);
//   - when the loop breaks, which cancels the requests in flight and
//     returns once they have ended (at once: they are cancelled, not
//     waited to finish).
func (c *Crawler) Run(ctx context.Context, seeds ...string) iter.Seq[*Page] {
	return c.start(ctx, seeds, nil)
}

// start is Run and RunSeq: it takes in given, then crawls, reading seeds
// (if not nil) on a goroutine of their own as it goes.
func (c *Crawler) start(ctx context.Context, given []string, seeds iter.Seq[string]) iter.Seq[*Page] {
	return func(yield func(*Page) bool) {
		if ctx == nil {
			yield(&Page{Result: Result{Err: errNilContext}})
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		r := newCrawl(ctx, c)
		r.cancel = cancel
		for _, seed := range given {
			r.add(seed, 0, "")
		}
		if seeds != nil {
			r.feed.seeding.Store(true)
			go r.readSeeds(seeds)
		}
		r.run(yield)
	}
}

// crawl is one run of a Crawler.
type crawl struct {
	*Crawler
	ctx       context.Context
	cancel    context.CancelFunc // ends ctx: on break, before waiting for the workers
	queue     Frontier
	sched     *scheduler[crawlJob]
	pagesTurn chan struct{} // held while a URL is taken in under CrawlMaxPages
	pages     int           // URLs taken in, for CrawlMaxPages; while holding pagesTurn
	endMu     sync.RWMutex  // held by follow while it adds links, and taken to end the crawl
	ended     atomic.Bool
	robots    robotsCache
	more      chan struct{} // cap 1: a URL was queued, or the seeds ended (see awaitSeeds)
	feed      seedFeed      // RunSeq's seeds
}

// crawlJob is what a crawl keeps with each scheduled job.
type crawlJob struct {
	entry  CrawlEntry
	queued bool         // entry came from the frontier (not a rejected URL)
	robots *robotsEntry // set for the job that fetches a host's robots.txt
}

func newCrawl(ctx context.Context, c *Crawler) *crawl {
	q := c.cfg.frontier
	if q == nil {
		q = NewMemoryFrontier(c.cfg.maxURLs)
	}
	r := &crawl{Crawler: c, ctx: ctx, queue: q, pagesTurn: make(chan struct{}, 1), more: make(chan struct{}, 1)}
	r.feed.room = make(chan struct{}, 1)
	r.sched = newScheduler[crawlJob](ctx, c.f, 1)
	r.sched.paceOf = r.robots.pace // a host's Crawl-delay outlives its queue
	if j := c.f.gates.hosts.jitter; j > 0 {
		r.robots.jitter = j
		r.sched.repace = r.robots.jitterPace
	}
	if c.cfg.robots {
		r.sched.check = r.vet
	}
	return r
}

// add takes rawURL into the crawl at depth, found on referrer, and
// reports whether it will yield a page: it was queued, or refused with an
// error.
func (r *crawl) add(rawURL string, depth int, referrer string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		err = fmt.Errorf("%w: %q: must be an absolute http or https URL", ErrInvalidURL, urlredact.String(rawURL))
	} else if !asciiHost(u) {
		err = fmt.Errorf("%w: %q: not a valid host name", ErrInvalidURL, urlredact.String(rawURL))
	}
	if err == nil && !r.cfg.inScope(u) {
		err = fmt.Errorf("%w: %s", ErrOutOfScope, u.Redacted())
	}
	if err != nil {
		r.reject(rawURL, depth, referrer, err)
		return true
	}
	return r.enqueue(u, depth, referrer)
}

// enqueue hands u to the queue, unless a limit says otherwise, and reports
// whether it will yield a page: it was queued, or refused with an error.
func (r *crawl) enqueue(u *url.URL, depth int, referrer string) bool {
	key := r.cfg.key(u)
	u.Fragment, u.RawFragment = "", "" // never sent: a page is fetched without it
	e := CrawlEntry{URL: u.String(), Key: key, Depth: depth, Referrer: referrer}
	var added bool
	var err error
	if limit := r.cfg.maxPages; limit > 0 {
		// One at a time: a URL seen before, which takes no place, must
		// not keep a new one out while the queue says so.
		r.pagesTurn <- struct{}{}
		if r.pages < limit {
			if added, err = r.addEntry(e); added {
				r.pages++
			}
		}
		<-r.pagesTurn
	} else {
		added, err = r.addEntry(e)
	}
	if err != nil {
		r.reject(e.URL, depth, referrer, err)
		return true
	}
	if added {
		select { // a reader waiting for seeds looks again
		case r.more <- struct{}{}:
		default:
		}
	}
	return added
}

// addEntry is r.queue.Add(e). A panic in it (a Frontier of the caller's)
// is its error, a *PanicError: e is not queued, and its page says so.
func (r *crawl) addEntry(e CrawlEntry) (added bool, err error) {
	if perr := recovering("fetch: Frontier.Add", func() { added, err = r.queue.Add(e) }); perr != nil {
		return false, perr
	}
	return added, err
}

// next is r.queue.Next(r.ctx), run on the crawl's reader goroutine. A
// panic in it (a Frontier of the caller's) is its error, a *PanicError,
// which ends the crawl as a failing frontier's error does.
func (r *crawl) next() (e CrawlEntry, ok bool, err error) {
	if perr := recovering("Frontier.Next", func() { e, ok, err = r.queue.Next(r.ctx) }); perr != nil {
		return CrawlEntry{}, false, perr
	}
	return e, ok, err
}

// reject yields a page for rawURL that says why it is not fetched.
func (r *crawl) reject(rawURL string, depth int, referrer string, err error) {
	e := CrawlEntry{URL: rawURL, Depth: depth, Referrer: referrer}
	r.sched.pushNow(job[crawlJob]{text: urlredact.String(rawURL), err: err, data: crawlJob{entry: e}})
}

// end marks the crawl ended: Follow adds nothing from then on.
func (r *crawl) end() {
	r.endMu.Lock()
	defer r.endMu.Unlock()
	r.ended.Store(true)
}

// follow resolves links against base and adds them at depth.
func (r *crawl) follow(base *url.URL, depth int, referrer string, links []string) error {
	r.endMu.RLock() // the crawl does not end while links are added
	defer r.endMu.RUnlock()
	if r.ended.Load() {
		return ErrCrawlDone
	}
	if r.cfg.maxDepth >= 0 && depth > r.cfg.maxDepth {
		return nil
	}
	for _, link := range links {
		u, err := base.Parse(cleanURL(link))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !asciiHost(u) || !r.cfg.inScope(u) {
			continue
		}
		r.enqueue(u, depth, referrer)
	}
	return nil
}

// run schedules the queue's entries and yields their pages until the
// crawl ends.
func (r *crawl) run(yield func(*Page) bool) {
	f, s := r.f, r.sched
	workers := f.gates.slots.size
	results := make(chan *Page, workers)
	var reader sync.WaitGroup
	reader.Go(func() {
		defer s.release()
		defer r.end() // nothing Follow adds from now on would be read
		for {
			e, ok, err := r.next()
			if err == nil && !ok && r.awaitSeeds() {
				continue
			}
			if err == nil && !ok && r.ctx.Err() == nil {
				// A Follow may have added links since Next looked: look
				// again, with Follow held off, before the crawl ends.
				r.endMu.Lock()
				if e, ok, err = r.next(); err == nil && !ok {
					r.ended.Store(true)
				}
				r.endMu.Unlock()
			}
			if err != nil {
				s.push(job[crawlJob]{text: "", err: fmt.Errorf("fetch: crawl queue: %w", err)})
				return
			}
			if !ok || !r.schedule(e) {
				return
			}
		}
	})
	var pool sync.WaitGroup
	run := func(j *job[crawlJob], from handOff) {
		if j.data.robots != nil {
			func() {
				from.watch.atGates(true) // its fetch waits at the gates, maybe behind this crawl's seats
				defer from.watch.atGates(false)
				r.loadRobots(j.data.robots)
			}()
			s.unblock(j.data.robots.key, r.robots.pace(j.data.robots.key))
			return
		}
		e := j.data.entry
		p := &Page{crawl: r, entry: e, queued: j.data.queued, Depth: e.Depth, Referrer: e.Referrer}
		fetchJob(f, j, &p.Result, from)
		s.atGates(true) // as Stream's workers do: the loop body may wait at the gates
		results <- p
		s.atGates(false)
	}
	var running atomic.Int64
	running.Store(int64(workers) + 1)
	for i := range workers + 1 {
		pool.Go(func() {
			if i < workers {
				s.work(run)
			} else {
				s.standby(run) // see scheduler.standby
			}
			if running.Add(-1) == 0 {
				close(results)
			}
		})
	}
	var yielding *Page // set while the loop body runs
	defer func() {
		s.stop()
		r.cancel() // the requests in flight end now, not when they are done
		r.end()    // after a Follow adding links from another goroutine: its Adds come before Close
		// Even if the frontier's Failed or Close panics (the panic goes
		// on to the caller), the crawl's goroutines are waited for.
		defer func() {
			for range results {
			}
			pool.Wait()
			reader.Wait()
			if p := r.feed.panicked.Load(); p != nil {
				panic(p) // the seeds' iterator's, as Stream raises its input's
			}
		}()
		defer r.queue.Close() // after Failed, even if it panics; before the wait, which it may end
		if fq, ok := r.queue.(interface{ Failed(CrawlEntry) }); ok && yielding != nil && yielding.queued {
			fq.Failed(yielding.entry) // the loop body panicked on it
		}
	}()
	n := 0
	for p := range results {
		if p.Depth == 0 {
			r.feed.back()
		}
		p.Index, n = n, n+1
		yielding = p
		more := yield(p)
		yielding = nil
		if p.queued && !r.unfinished(p) {
			r.queue.Done(p.entry)
		}
		if !more {
			return
		}
	}
}

// unfinished reports whether p's page failed only because the crawl's
// context ended, or because it was refused, unsent, as the context's
// deadline comes first: its frontier is not told it is done, so that a
// shared frontier gives it to another process when the crawl closes it.
// A frontier in memory, which no other process shares, is told: the crawl
// then ends once nothing else is queued or being fetched, not at the
// deadline.
func (r *crawl) unfinished(p *Page) bool {
	if _, mem := r.queue.(*memoryFrontier); mem {
		return false
	}
	if !errors.Is(p.Err, context.Canceled) && !errors.Is(p.Err, context.DeadlineExceeded) {
		return false
	}
	return r.ctx.Err() != nil || p.Attempts == 0
}

// referer is the Referer a crawl's request for to carries, found on the
// page from, as browsers send it by default (Referrer-Policy
// strict-origin-when-cross-origin): from's URL within its origin, its
// origin alone to another, nothing from https to http, and never a
// fragment or user info. A seed (from "") has none.
func referer(from string, to *url.URL) string {
	u, err := url.Parse(from)
	if from == "" || err != nil || u.Host == "" || u.Scheme == "https" && to.Scheme == "http" {
		return ""
	}
	u.User, u.Fragment, u.RawFragment = nil, "", ""
	if u.Scheme != to.Scheme || !strings.EqualFold(u.Host, to.Host) {
		return u.Scheme + "://" + u.Host + "/"
	}
	return u.String()
}

// schedule makes e into a job for its host, fetching the host's robots.txt
// first if it is not known yet. It reports false once the scheduler has
// stopped.
func (r *crawl) schedule(e CrawlEntry) bool {
	if e.Err != nil {
		return r.sched.push(job[crawlJob]{text: urlredact.String(e.URL), err: e.Err, data: crawlJob{entry: e, queued: true}})
	}
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, e.URL, nil)
	if err != nil {
		return r.sched.push(job[crawlJob]{text: urlredact.String(e.URL), err: invalidURL(e.URL, err), data: crawlJob{entry: e, queued: true}})
	}
	req.Header.Set("User-Agent", r.cfg.agent)
	check := &sendCheck{crawl: r, again: e.Redelivered}
	if r.f.header.Get("Referer") == "" {
		check.from = e.Referrer
		if ref := referer(e.Referrer, req.URL); ref != "" {
			req.Header.Set("Referer", ref)
		}
	}
	if e.Key != "" {
		check.keys = []string{e.Key}
	}
	req = req.WithContext(withSendCheck(r.ctx, check.check))
	if r.cfg.robots {
		if re, first := r.robots.get(req.URL, true); first {
			r.sched.block(re.key)
			if !r.sched.push(job[crawlJob]{data: crawlJob{robots: re}}) {
				return false
			}
		}
	}
	text := e.URL
	if strings.Contains(text, "@") {
		text = ""
	}
	return r.sched.push(job[crawlJob]{req: req, text: text, data: crawlJob{entry: e, queued: true}})
}
