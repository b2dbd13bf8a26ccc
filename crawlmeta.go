package fetch

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/c989c033/fetch/internal/robots"
)

// A pageRefresh is a page's declarative refresh: its Refresh header, or a
// <meta http-equiv="refresh">.
type pageRefresh struct {
	target *url.URL // nil: a URL that is not http or https
	delay  time.Duration
	reload bool // no URL given: the page refreshes itself
	at     int  // the links before it, in document order
}

// resolveRefresh parses content as a refresh (see parseRefresh) of the
// document at docURL, resolving its URL against base. It reports false,
// as a browser ignores it, if content does not parse or its URL is not a
// URL; a URL that is not http or https is a refresh, with no target.
func resolveRefresh(docURL, base *url.URL, content string) (pageRefresh, bool) {
	delay, ref, hasURL, ok := parseRefresh(content)
	if !ok {
		return pageRefresh{}, false
	}
	r := pageRefresh{delay: delay, reload: !hasURL}
	if !hasURL {
		ref, base = "", docURL
	}
	if u, ok := resolveLink(base, ref); ok {
		r.target = u
	} else if _, err := base.Parse(cleanURL(ref)); err != nil {
		return pageRefresh{}, false
	}
	return r, true
}

// parseRefresh parses s, the content of a <meta http-equiv="refresh"> or a
// Refresh header, as the HTML Standard's shared declarative refresh steps
// do: white space, the delay in whole seconds (digits, then any digits and
// dots, which are ignored: "1.5" is 1, ".5" is 0), then, after white
// space, a ";" or ",", and white space, the URL, which may follow "url="
// (in any case, with white space around "=") and may be quoted, up to the
// closing quote. A URL that begins with "u" but not "url=" is taken as
// written ("0; urgent.html"). hasURL is false if s has nothing after the
// delay: the page refreshes itself. ok is false if s is not a refresh: it
// has no delay, or something other than a separator follows it. A delay
// too long for a Duration is the longest one.
func parseRefresh(s string) (delay time.Duration, ref string, hasURL, ok bool) {
	i := skipHTMLSpace(s, 0)
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j == i && (j == len(s) || s[j] != '.') {
		return 0, "", false, false
	}
	delay = refreshSeconds(s[i:j])
	for j < len(s) && (isDigit(s[j]) || s[j] == '.') {
		j++
	}
	if i = j; i < len(s) {
		if c := s[i]; c != ';' && c != ',' && !isHTMLSpace(c) {
			return 0, "", false, false
		}
		if i = skipHTMLSpace(s, i); i < len(s) && (s[i] == ';' || s[i] == ',') {
			i++
		}
		i = skipHTMLSpace(s, i)
	}
	if i == len(s) {
		return delay, "", false, true
	}
	ref = s[i:]
	if ref[0]|0x20 == 'u' {
		after, ok := cutURLEquals(ref)
		if !ok {
			return delay, ref, true, true // "urgent.html": a URL
		}
		ref = after
	}
	if ref != "" && (ref[0] == '"' || ref[0] == '\'') {
		q := ref[0]
		ref = ref[1:]
		if k := strings.IndexByte(ref, q); k >= 0 {
			ref = ref[:k]
		}
	}
	return delay, ref, true, true
}

// cutURLEquals returns what follows s's leading "url", in any case, an
// "=" and the white space around it; ok is false if s does not begin so.
func cutURLEquals(s string) (after string, ok bool) {
	if len(s) < 3 || !strings.EqualFold(s[:3], "url") {
		return "", false
	}
	i := skipHTMLSpace(s, 3)
	if i == len(s) || s[i] != '=' {
		return "", false
	}
	return s[skipHTMLSpace(s, i+1):], true
}

// refreshSeconds returns digits, a run of ASCII digits, as a number of seconds;
// the longest Duration if it is longer.
func refreshSeconds(digits string) time.Duration {
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil && digits != "" || n > math.MaxInt64/uint64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(n) * time.Second
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isHTMLSpace reports whether c is ASCII white space, as the HTML Standard
// defines it.
func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func skipHTMLSpace(s string, i int) int {
	for i < len(s) && isHTMLSpace(s[i]) {
		i++
	}
	return i
}

// robotsRules reports whether rules, the content of a <meta name="robots">
// or one X-Robots-Tag rule list, says nofollow or noindex ("none" says
// both). Rules are separated by commas or white space and compared
// case-insensitively; others, such as "noarchive" or "max-snippet:20",
// are ignored.
func robotsRules(rules string) (nofollow, noindex bool) {
	for r := range strings.FieldsFuncSeq(rules, isTokenSep) {
		switch strings.ToLower(r) {
		case "nofollow":
			nofollow = true
		case "noindex":
			noindex = true
		case "none":
			nofollow, noindex = true, true
		}
	}
	return nofollow, noindex
}

// valuedRules are the X-Robots-Tag rules written "name: value", which
// are not a user agent's name before its rules.
var valuedRules = [...]string{"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"}

// headerRobotsRules reports whether the X-Robots-Tag header values say
// nofollow or noindex for agent, a product token. A value's rules apply to
// every crawler unless a user agent's name and a colon precede them
// ("googlebot: nofollow"); then they, and the comma-separated rules after
// them up to another name, apply to that agent only, matched
// case-insensitively.
func headerRobotsRules(values []string, agent string) (nofollow, noindex bool) {
	for _, v := range values {
		applies := true
		for item := range strings.SplitSeq(v, ",") {
			if name, rest, ok := strings.Cut(item, ":"); ok && isAgentName(strings.TrimSpace(name)) {
				name = strings.TrimSpace(name)
				applies = agent != "" && strings.EqualFold(name, agent)
				item = rest
			}
			if applies {
				f, i := robotsRules(item)
				nofollow, noindex = nofollow || f, noindex || i
			}
		}
	}
	return nofollow, noindex
}

// isAgentName reports whether s, read before a colon in an X-Robots-Tag
// value, names a user agent: a product token (letters, digits, "-" and
// "_") that is not the name of a rule with a value.
func isAgentName(s string) bool {
	if s == "" || strings.IndexFunc(s, func(c rune) bool {
		return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_')
	}) >= 0 {
		return false
	}
	for _, r := range valuedRules {
		if strings.EqualFold(s, r) {
			return false
		}
	}
	return true
}

// agent is the product token of the user agent p was fetched as.
func (p *Page) agent() string {
	if p.crawl == nil {
		return robots.ProductToken(DefaultCrawlAgent)
	}
	return robots.ProductToken(p.crawl.cfg.agent)
}

// obeysRobots reports whether p's links are read as its robots rules say:
// unless the crawl was given [CrawlIgnoreRobots].
func (p *Page) obeysRobots() bool { return p.crawl == nil || p.crawl.cfg.robots }

// refreshMax is the longest delay of a refresh that p's links include, as
// [CrawlMetaRefresh] sets it; -1 for none.
func (p *Page) refreshMax() time.Duration {
	if p.crawl == nil {
		return -1
	}
	return p.crawl.cfg.refreshMax
}

// AllLinks returns the links of p's body, if it is HTML, as [Page.Links]
// does with [CrawlIgnoreRobots]: those the page asks crawlers not to
// follow (rel="nofollow", or a nofollow for the whole page) included. A
// link checker reads these; a crawl that follows them is not as polite as
// robots.txt alone makes it.
func (p *Page) AllLinks() []string { return p.links(false) }

// links returns p's links, leaving out those it asks crawlers not to
// follow if obey is set.
func (p *Page) links(obey bool) []string {
	if !p.html() {
		return nil
	}
	base := p.base()
	if base == nil {
		return nil
	}
	agent := p.agent()
	doc := scanHTML(base, p.Body, agent)
	if obey {
		if doc.nofollow {
			return nil
		}
		if nofollow, _ := headerRobotsRules(p.Header.Values("X-Robots-Tag"), agent); nofollow {
			return nil
		}
	}
	var refresh string
	at := -1
	if r, ok := p.refresh(base, doc); ok && !r.reload && r.target != nil && r.delay <= p.refreshMax() {
		refresh, at = r.target.String(), r.at
	}
	links := make([]string, 0, len(doc.links)+1)
	for i, l := range doc.links {
		if i == at {
			links = append(links, refresh)
		}
		if !obey || !l.nofollow {
			links = append(links, l.url)
		}
	}
	if at == len(doc.links) {
		links = append(links, refresh)
	}
	if len(links) == 0 {
		return nil
	}
	return links
}

// refresh returns the refresh of p, at base, which is HTML and reads as
// doc: its Refresh header's, if that parses, as a browser takes it before
// reading the document, or else doc's.
func (p *Page) refresh(base *url.URL, doc htmlPage) (pageRefresh, bool) {
	if v := p.Header.Get("Refresh"); v != "" {
		if r, ok := resolveRefresh(base, base, v); ok {
			return r, true // at 0: before every link
		}
	}
	if doc.refresh == nil {
		return pageRefresh{}, false
	}
	return *doc.refresh, true
}

// Refresh reports where p, if it is HTML, sends a browser after delay: the
// URL of its Refresh header, or else of its first <meta
// http-equiv="refresh"> whose content parses, as the HTML Standard reads
// it ("0; url=/next", "5;URL='/next'"; see [CrawlMetaRefresh]). The URL is
// resolved as [Page.Links] resolves links (against the <base href> that
// comes before the <meta>, if one does). A refresh that names no URL
// ("30") reloads the page: target is p's own URL. ok is false if p has
// no refresh, or its URL is not an http or https URL.
func (p *Page) Refresh() (target string, delay time.Duration, ok bool) {
	if !p.html() {
		return "", 0, false
	}
	base := p.base()
	if base == nil {
		return "", 0, false
	}
	r, ok := p.refresh(base, scanHTML(base, p.Body, p.agent()))
	if !ok || r.target == nil {
		return "", 0, false
	}
	return r.target.String(), r.delay, true
}

// NoIndex reports whether p asks not to be indexed: its X-Robots-Tag
// header says noindex or none (unprefixed, or for the crawl's user agent,
// as "mybot: noindex"), or, if it is HTML, a <meta name="robots"> (or one
// named after the user agent's product token, such as <meta name="mybot">)
// does. The crawl does nothing with it: what to keep is the caller's to
// decide.
func (p *Page) NoIndex() bool {
	agent := p.agent()
	if _, noindex := headerRobotsRules(p.Header.Values("X-Robots-Tag"), agent); noindex {
		return true
	}
	if !p.html() {
		return false
	}
	base := p.base()
	if base == nil {
		return false
	}
	return scanHTML(base, p.Body, agent).noindex
}
