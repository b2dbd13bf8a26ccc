package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/hostkey"
	"github.com/spf13/pflag"
)

// defaultLevel is -l's value unless given, as wget's -r has it.
const defaultLevel = 5

// crawlHostConcurrency is --host-concurrency with -r unless given: a
// crawl sends each host few requests at a time, as a person's browser
// would, whatever -c allows across hosts.
const crawlHostConcurrency = 2

// crawlFlags are the flags of -r, wget's recursive retrieval.
type crawlFlags struct {
	on                 bool   // -r
	level              level  // -l: 0 for no limit
	spanHosts          bool   // --span-hosts
	noParent           bool   // --no-parent
	acceptRE, rejectRE string // --accept-regex, --reject-regex, as given
	accept, reject     *regexp.Regexp
	maxPages           int    // --max-pages: 0 for no limit
	ignoreRobots       bool   // --ignore-robots
	agent              string // the User-Agent sent, whose rules robots.txt is read for
}

// crawlOnly are the flags that mean something only with -r.
var crawlOnly = []string{"level", "span-hosts", "no-parent", "accept-regex", "reject-regex", "max-pages", "ignore-robots"}

// defineCrawlFlags adds -r and its flags to fs.
func defineCrawlFlags(fs *pflag.FlagSet, c *crawlFlags) {
	c.level = defaultLevel
	fs.BoolFuncP("recursive", "r", "fetch the pages the URLs' HTML pages link to, and theirs, as wget -r (below)", setBool(&c.on))
	fs.VarP(&c.level, "level", "l", "with -r: follow links down to depth `N` (0 or inf: no limit)")
	fs.BoolFunc("span-hosts", "with -r: follow links to any host, not only to the URLs' hosts (wget's -H)", setBool(&c.spanHosts))
	fs.BoolFunc("no-parent", "with -r: follow no link out of a URL's directory on its host, as wget -np", setBool(&c.noParent))
	fs.StringVar(&c.acceptRE, "accept-regex", "", "with -r: follow only links whose whole URL `RE` matches")
	fs.StringVar(&c.rejectRE, "reject-regex", "", "with -r: follow no link whose whole URL `RE` matches")
	fs.IntVar(&c.maxPages, "max-pages", 0, "with -r: fetch at most `N` pages, the URLs given included (0: no limit)")
	fs.BoolFunc("ignore-robots", "with -r: fetch what robots.txt disallows, and follow nofollow links, too (only where the site's owner agrees)", setBool(&c.ignoreRobots))
}

// level is -l's value: the depth links are followed to, or 0 for no
// limit, which "inf" and "infinite" also mean, as wget takes them.
type level int

func (l *level) String() string { return strconv.Itoa(int(*l)) }
func (l *level) Type() string   { return "N" }
func (l *level) Set(v string) error {
	if v == "inf" || v == "infinite" {
		*l = 0
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return errors.New("want a depth of at least 0, or inf (0 and inf: no limit)")
	}
	*l = level(n)
	return nil
}

// check refuses the flags of -r without -r, and with -r the flags it
// cannot go with, and compiles the regular expressions. header is -H's.
func (c *crawlFlags) check(fs *pflag.FlagSet, o *options) error {
	if !c.on {
		for _, name := range crawlOnly {
			if fs.Changed(name) {
				return fmt.Errorf("%s: only with -r/--recursive", flagName(fs.Lookup(name)))
			}
		}
		return nil
	}
	switch {
	case o.queue != "" || o.enqueue != "":
		return errors.New("-r and --queue: --queue fetches a shared list, -r crawls from the URLs given: use one")
	case o.demo:
		return errors.New("-r and --demo: --demo fetches a list of its own: use one")
	case o.resume:
		return errors.New("-r and --continue: --continue finishes files by input order, and a crawl's pages come in no order: use one")
	case o.noClobber:
		return errors.New("-r and --no-clobber: a crawl names files in the order pages come, not by input order: use one")
	case len(o.data) > 0:
		return errors.New("-r and -d: -r fetches pages with GET, without a body")
	case o.method != http.MethodGet:
		return fmt.Errorf("-r and -X %s: -r fetches pages with GET", o.method)
	case fs.Changed("max-pages") && c.maxPages < 0:
		return fmt.Errorf("--max-pages %d: must not be negative (0: no limit)", c.maxPages)
	}
	if c.spanHosts {
		if err := spanCredentials(fs, o.header); err != nil {
			return err
		}
	}
	c.agent = userAgent()
	if vs, set := o.header["User-Agent"]; set && len(vs) == 0 {
		return errors.New(`-r and -H "User-Agent:": a crawl sends a User-Agent, by which robots.txt's rules are chosen`)
	} else if set {
		c.agent = vs[len(vs)-1] // the last one, as the Fetcher takes it
	}
	var err error
	if c.acceptRE != "" {
		if c.accept, err = regexp.Compile(c.acceptRE); err != nil {
			return fmt.Errorf("--accept-regex: %w", err)
		}
	}
	if c.rejectRE != "" {
		if c.reject, err = regexp.Compile(c.rejectRE); err != nil {
			return fmt.Errorf("--reject-regex: %w", err)
		}
	}
	return nil
}

// spanCredentials refuses, with --span-hosts, credentials that every
// request carries: -u, and an -H that may be one. A crawl that may reach
// any host would send them to each.
func spanCredentials(fs *pflag.FlagSet, header headers) error {
	if fs.Changed("user") {
		return errors.New("--span-hosts and -u: the credentials would go to every host the crawl reaches")
	}
	for _, k := range slices.Sorted(maps.Keys(header)) {
		if len(header[k]) > 0 && !fetch.PublicHeader(k) && k != "Proxy-Authorization" { // that one goes to the proxy alone
			return fmt.Errorf("--span-hosts and -H %s: a header that may be a credential would go to every host the crawl reaches", k)
		}
	}
	return nil
}

// flagName names f as a message does: -l/--level, or --span-hosts.
func flagName(f *pflag.Flag) string {
	if f.Shorthand != "" {
		return "-" + f.Shorthand + "/--" + f.Name
	}
	return "--" + f.Name
}

// seed is a URL the crawl starts from: the URL fetched, and its host
// name as the crawl compares it.
type seed struct {
	url  *url.URL
	host string // ASCII, lower case; "" if IDNA refuses it (the crawl refuses the seed)
}

// options returns the crawl's options: its limits, and, unless
// --span-hosts, the hosts of the seeds read so far (see seedBook.inScope).
// A page's refresh is one of its links, whatever its delay, as wget
// follows it.
func (c *crawlFlags) options(book *seedBook) []fetch.CrawlOption {
	opts := []fetch.CrawlOption{fetch.CrawlUserAgent(c.agent), fetch.CrawlMetaRefresh(math.MaxInt64)}
	if c.level > 0 {
		opts = append(opts, fetch.CrawlMaxDepth(int(c.level)))
	}
	if c.maxPages > 0 {
		opts = append(opts, fetch.CrawlMaxPages(c.maxPages))
	}
	if c.ignoreRobots {
		opts = append(opts, fetch.CrawlIgnoreRobots())
	}
	if !c.spanHosts {
		opts = append(opts, fetch.CrawlScope(book.inScope))
	}
	return opts
}

// follows returns the links, absolute URLs, that --no-parent and the
// regular expressions let the crawl follow: those under the directory of
// a seed on their host (with --no-parent, and if a seed is on their
// host), whose whole URL, without its fragment, matches --accept-regex
// and not --reject-regex. They judge links, not the seeds, nor where a
// URL redirects: a seed is fetched whatever they say, and so is where it
// leads.
func (c *crawlFlags) follows(book *seedBook, links []string) []string {
	if !c.noParent && c.accept == nil && c.reject == nil {
		return links
	}
	return slices.DeleteFunc(links, func(link string) bool {
		u, err := url.Parse(link)
		if err != nil {
			return false // the crawl skips it
		}
		u.Fragment, u.RawFragment = "", ""
		if c.noParent && !book.under(u) {
			return true
		}
		s := u.String()
		return c.accept != nil && !c.accept.MatchString(s) || c.reject != nil && c.reject.MatchString(s)
	})
}

// redirectedSeed returns where p was redirected to, if it is a seed's page
// and was: its directory is a seed's for --no-parent, as the seed's own is.
func redirectedSeed(p *fetch.Page) (seed, bool) {
	if p.Depth != 0 || p.FinalURL == "" || p.FinalURL == p.URL {
		return seed{}, false
	}
	u, err := url.Parse(p.FinalURL)
	if err != nil {
		return seed{}, false
	}
	host, ok := hostkey.ASCIIName(u.Hostname())
	return seed{url: u, host: host}, ok
}

// dir returns the directory of the URL path p, up to its last slash:
// "/a/b/" for /a/b/c.html and for /a/b/, "/" for "" and for /.
func dir(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p[:strings.LastIndex(p, "/")+1]
}

// crawlRecords crawls from the inputs, read as the crawl goes, following
// each HTML page's links, and yields a record per page as each completes,
// with its depth and referrer. An input that is not a URL is a record of
// its own, as it is read; the lines past --max-pages, which the crawl does
// not take, are read once its pages are done (until the inputs end), and
// the records of those that are not URLs come last. The URLs of --sitemap
// past --max-pages are not read: its sitemaps not read yet are not
// fetched. With -O, a 2xx body, read in full, is saved
// once fetched, as with --queue.
//
// Links are judged by the seeds read so far: their hosts unless
// --span-hosts, their directories with --no-parent.
func (o options) crawlRecords(ctx context.Context, f *fetch.Fetcher, save *saver, in iter.Seq[line]) iter.Seq[record] {
	return func(yield func(record) bool) {
		book := newSeedBook(o.crawl.noParent)
		c, err := fetch.NewCrawler(f, o.crawl.options(book)...)
		if err != nil {
			yield(record{fatal: err})
			return
		}
		defer book.finish(false) // stopped: the inputs left are not read
		for p := range c.RunSeq(ctx, book.seeds(in)) {
			if rec, ok := book.badInput(p); ok {
				if !yield(rec) {
					return
				}
				continue
			}
			rec := o.record(p.Result)
			rec.Depth, rec.Referrer = p.Depth, p.Referrer
			if g, ok := book.given(p.URL); ok && p.Depth == 0 {
				rec.URL = g
			}
			if p.Err == nil {
				if s, ok := redirectedSeed(p); ok {
					book.addDir(s)
				}
				p.Follow(o.crawl.follows(book, p.Links())...) // an error: the crawl has ended, and follows nothing more
				if save != nil && !save.keep(p.Result, &rec) && save.failure() != nil {
					yield(rec) // the directory is full: the run stops
					return
				}
			}
			if !yield(rec) {
				return
			}
		}
		if ctx.Err() != nil || o.sitemap != "" {
			return // the sitemaps not read yet are not fetched for their failures
		}
		book.finish(true) // the inputs past --max-pages that are not URLs have their records
		for _, rec := range book.lateRecords(ctx) {
			if !yield(rec) {
				return
			}
		}
	}
}
