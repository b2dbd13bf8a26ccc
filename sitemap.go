package fetch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strings"
	"time"

	"github.com/c989c033/fetch/internal/urlredact"
	"golang.org/x/net/html/charset"
)

// A SitemapURL is one URL a sitemap lists (sitemaps.org protocol 0.9), or
// the failure of a sitemap to give its URLs.
type SitemapURL struct {
	URL     string    // the page's URL, as the sitemap's <loc> gives it
	LastMod time.Time // the page's <lastmod>; zero if none, or none that parses
	Sitemap string    // the sitemap that lists it, redacted
	// Err is nil, or why Sitemap gave no URLs (or no more): an [*Error]
	// if it could not be fetched, [ErrBadSitemap] if it could not be read,
	// an error matching ctx.Err() if the context given to [Sitemap] ended
	// first. URL is then "".
	Err error
	// Attempts and Duration are, with Err, those of the fetch of Sitemap,
	// as [Result] counts them: how many times it was sent, retries
	// included (0 if it never was), and how long the fetch took. They are
	// 0 for a URL the sitemap lists.
	Attempts int
	Duration time.Duration
}

// ErrBadSitemap marks a sitemap that was fetched but could not be read:
// XML that is neither a <urlset> nor a <sitemapindex>, or does not parse,
// a gzip stream that does not inflate, or more than [MaxSitemapSize]
// bytes (such an error matches [ErrBodyTooLarge] too if the body itself
// was).
var ErrBadSitemap = errors.New("fetch: bad sitemap")

// MaxSitemapSize is the most a sitemap may hold, inflated if gzipped, as
// the sitemaps.org protocol caps it: 50 MiB.
const MaxSitemapSize = 50 << 20

// maxInflated is MaxSitemapSize, as Sitemap applies it.
var maxInflated int64 = MaxSitemapSize

// maxSitemapNesting is how deep sitemap indexes may nest under the
// sitemap given to Sitemap: the protocol allows none, robots.txt adds one.
const maxSitemapNesting = 3

// Sitemap yields the URLs listed by the sitemap at rawURL, fetched through
// f's gates and retries like any [Fetcher.Get], for seeding a crawl with
// every page a site lists:
//
//	var seeds []string
//	for u := range fetch.Sitemap(ctx, f, "https://example.com/robots.txt") {
//		if u.Err != nil {
//			log.Print(u.Err)
//			continue
//		}
//		seeds = append(seeds, u.URL)
//	}
//
// rawURL may be an XML sitemap (a <urlset>), a sitemap index, whose
// sitemaps are read in turn, in the order listed, a text sitemap (one URL
// a line), any of them gzipped, or a robots.txt, whose Sitemap lines are
// read in turn. Each sitemap is read whole before its URLs are yielded,
// so that no response is held open while the loop body runs (it may
// fetch from the same host); at most [MaxSitemapSize] of it. A sitemap
// that fails yields one SitemapURL whose Err says why, and the others are
// still read; each sitemap is read once, however often it is listed.
//
// Once ctx ends, no more URLs are yielded and no sitemap is fetched: if
// any URL was left to yield or sitemap to read, one SitemapURL whose Err
// matches ctx.Err() says so, and is the last (a fetch cut short yields its
// [*Error]); if none was, the sequence ends as it would have. An entry
// with such an error thus always means that URLs are missing.
//
// The URLs are yielded as listed, not checked: a crawl's scope and
// robots.txt decide which are fetched. A sitemap on another domain than
// rawURL's, which a robots.txt or an index names, is fetched without the
// Fetcher's credentials (its default Authorization, Cookie and other
// headers that may be credentials), as a redirect there would be. A
// sitemap's redirects are followed whatever [WithFollowRedirects] says,
// up to [WithMaxRedirects], as a crawl's robots.txt's are.
func Sitemap(ctx context.Context, f *Fetcher, rawURL string) iter.Seq[SitemapURL] {
	return func(yield func(SitemapURL) bool) {
		r := sitemapReader{ctx: ctx, f: f, seen: map[string]bool{}, yield: yield}
		r.origin, _ = url.Parse(rawURL)
		r.read(rawURL, 0)
	}
}

// sitemapReader reads the sitemaps one call to Sitemap reaches.
type sitemapReader struct {
	ctx    context.Context
	f      *Fetcher
	origin *url.URL        // the URL given to Sitemap
	seen   map[string]bool // the sitemaps read, or being read
	yield  func(SitemapURL) bool
}

// read yields the URLs of the sitemap at rawURL, nested levels of indexes
// deep, and reports whether to go on. A sitemap on another domain than the
// URL given to Sitemap, which a robots.txt or an index named, is fetched
// without the Fetcher's credentials (see Fetcher.withoutCredentials).
func (r *sitemapReader) read(rawURL string, nested int) bool {
	if r.seen[rawURL] {
		return true
	}
	r.seen[rawURL] = true
	name := urlredact.String(rawURL)
	if r.ctx.Err() != nil {
		r.yield(SitemapURL{Sitemap: name, Err: sitemapCutShort(r.ctx, name)})
		return false
	}
	opts := []RequestOption{MaxBodySize(maxInflated), FollowRedirects(true)}
	if u, err := url.Parse(rawURL); err == nil && r.origin != nil && !sameDomain(r.origin, u) {
		opts = append(opts, r.f.withoutCredentials)
	}
	res := r.f.Fetch(r.ctx, rawURL, opts...)
	fail := func(err error) bool {
		return r.yield(SitemapURL{Sitemap: name, Err: err, Attempts: res.Attempts, Duration: res.Duration})
	}
	switch {
	case res.Err != nil && r.ctx.Err() != nil:
		fail(res.Err)
		return false
	case errors.Is(res.Err, ErrBodyTooLarge):
		return fail(fmt.Errorf("%w %s: %w", ErrBadSitemap, name, res.Err))
	case res.Err != nil:
		return fail(res.Err)
	}
	if res.FinalURL != "" {
		name = res.FinalURL
	}
	body, err := inflate(res.Body)
	if err != nil {
		return fail(fmt.Errorf("%w %s: %w", ErrBadSitemap, name, err))
	}
	var urls []SitemapURL
	var children []string
	base := res.final
	switch {
	case base != nil && strings.EqualFold(base.Path, "/robots.txt"):
		children = robotsSitemaps(base, body)
	case isXML(body):
		var index bool
		urls, index, err = parseSitemapXML(body, name)
		if index {
			children = make([]string, len(urls))
			for i, u := range urls {
				children[i] = u.URL
			}
			urls = nil
		}
	default:
		urls, err = parseSitemapText(body, name)
	}
	if err != nil {
		return fail(fmt.Errorf("%w %s: %w", ErrBadSitemap, name, err))
	}
	for _, u := range urls {
		if r.ctx.Err() != nil {
			fail(sitemapCutShort(r.ctx, name))
			return false
		}
		if !r.yield(u) {
			return false
		}
	}
	for _, child := range children {
		if nested == maxSitemapNesting {
			return fail(fmt.Errorf("%w %s: sitemap indexes nested more than %d deep", ErrBadSitemap, name, maxSitemapNesting))
		}
		if !r.read(child, nested+1) {
			return false
		}
	}
	return true
}

// sitemapCutShort is the error of the sitemap named name, which Sitemap did not
// read, or yielded part of, because ctx ended: it matches ctx.Err().
func sitemapCutShort(ctx context.Context, name string) error {
	return fmt.Errorf("fetch: sitemap %s cut short: %w", name, ctx.Err())
}

// inflate returns body, gunzipped if it is gzip (a .xml.gz served without
// a Content-Encoding, which net/http would have inflated), at most
// MaxSitemapSize bytes of it.
func inflate(body []byte) ([]byte, error) {
	if !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		return body, nil
	}
	z, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(z, maxInflated+1))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if int64(len(out)) > maxInflated {
		return nil, fmt.Errorf("more than %d bytes inflated", maxInflated)
	}
	return out, nil
}

// utf8BOM is the UTF-8 byte order mark.
var utf8BOM = []byte("\xef\xbb\xbf")

// isXML reports whether body starts, after any byte order mark and white
// space, with "<".
func isXML(body []byte) bool {
	body = bytes.TrimPrefix(body, utf8BOM)
	return bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("<"))
}

// parseSitemapXML reads a <urlset>, or a <sitemapindex> (index true),
// whatever their namespace: the <loc> and <lastmod> of each <url> or
// <sitemap> element, in order; those are its children in its own
// namespace, not the elements of an extension inside it, such as an
// <image:image>'s <image:loc>. An entry without a <loc> is skipped.
func parseSitemapXML(body []byte, sitemap string) (urls []SitemapURL, index bool, err error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = false // as browsers and crawlers read sitemaps: an unescaped & is common
	d.CharsetReader = charset.NewReaderLabel
	root := ""
	var entry *SitemapURL
	var entryName xml.Name
	depth, entryDepth := 0, 0
	field := ""
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch name := t.Name.Local; {
			case root == "":
				if name != "urlset" && name != "sitemapindex" {
					return nil, false, fmt.Errorf("root element <%s>, not <urlset> or <sitemapindex>", name)
				}
				root, index = name, name == "sitemapindex"
			case entry == nil && (name == "url" && !index || name == "sitemap" && index):
				entry = &SitemapURL{Sitemap: sitemap}
				entryName, entryDepth = t.Name, depth
			case entry != nil && depth == entryDepth+1 && t.Name.Space == entryName.Space && (name == "loc" || name == "lastmod"):
				field = name
				text.Reset()
			}
		case xml.CharData:
			if field != "" {
				text.Write(t)
			}
		case xml.EndElement:
			depth--
			switch {
			case field != "" && depth == entryDepth:
				v := strings.TrimSpace(text.String())
				if field == "loc" {
					entry.URL = v
				} else {
					entry.LastMod = parseLastMod(v)
				}
				field = ""
			case entry != nil && depth == entryDepth-1:
				if entry.URL != "" {
					urls = append(urls, *entry)
				}
				entry = nil
			}
		}
	}
	if root == "" {
		return nil, false, errors.New("no XML element")
	}
	return urls, index, nil
}

// lastModLayouts are the W3C Datetime forms a <lastmod> may take.
// Those without a time zone, which the protocol does not allow but sites
// write, are taken as UTC.
var lastModLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02", "2006-01", "2006", "2006-01-02T15:04:05", "2006-01-02T15:04"}

// parseLastMod returns the time a <lastmod> gives, or the zero time.
func parseLastMod(v string) time.Time {
	for _, layout := range lastModLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t
		}
	}
	return time.Time{}
}

// parseSitemapText reads a text sitemap: one http or https URL a line,
// blank lines skipped. A line that is not such a URL makes it no sitemap
// (an HTML page, say), rather than a URL to crawl.
func parseSitemapText(body []byte, sitemap string) ([]SitemapURL, error) {
	var urls []SitemapURL
	s := bufio.NewScanner(bytes.NewReader(bytes.TrimPrefix(body, utf8BOM)))
	s.Buffer(nil, MaxSitemapSize)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" {
			continue
		}
		if u, err := url.Parse(line); err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("line %d is not an http or https URL", n)
		}
		urls = append(urls, SitemapURL{URL: line, Sitemap: sitemap})
	}
	return urls, s.Err()
}

// robotsSitemaps returns the URLs of a robots.txt's Sitemap lines, in
// order, resolved against robotsURL (RFC 9309 asks for absolute ones; a
// relative one is taken as a browser would).
func robotsSitemaps(robotsURL *url.URL, body []byte) []string {
	var out []string
	for raw := range bytes.Lines(bytes.TrimPrefix(body, utf8BOM)) {
		line, _, _ := strings.Cut(string(raw), "#")
		key, value, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(key), "sitemap") {
			continue
		}
		if u, err := robotsURL.Parse(strings.TrimSpace(value)); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			out = append(out, u.String())
		}
	}
	return out
}
