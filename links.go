package fetch

import (
	"bytes"
	"net/url"
	"strconv"
	"strings"

	"github.com/c989c033/fetch/internal/hostkey"
	"github.com/c989c033/fetch/internal/robots"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// An htmlPage is what an HTML body says about its links.
type htmlPage struct {
	links    []htmlLink   // of <a> and <area> elements, in document order
	refresh  *pageRefresh // of its first <meta http-equiv="refresh"> that parses; nil if none
	nofollow bool         // a <meta name="robots"> (or the agent's) says nofollow or none
	noindex  bool         // one says noindex or none
}

// An htmlLink is the href of an <a> or <area> element, resolved.
type htmlLink struct {
	url      string
	nofollow bool // its rel has the token nofollow
}

// scanHTML reads an HTML body for its links, its refresh and the rules of
// its <meta name="robots"> elements, and of those named after agent's
// product token. Links are resolved, as a browser resolves them, against
// the document's base URL: the first <base href>, itself resolved against
// base, wherever it stands in the document; or else base. Those that are
// not http or https URLs are left out. A refresh is resolved against the
// base URL in effect where its <meta> stands: a <base> after it does not
// apply, as in a browser, which follows the refresh once the <meta> is
// read.
func scanHTML(base *url.URL, body []byte, agent string) htmlPage {
	var page htmlPage
	var hrefs []htmlLink
	docBase := base
	found := false
	agent = robots.ProductToken(agent)
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		tt := z.Next()
		if tt == html.ErrorToken { // the end: a bytes.Reader has no other error
			break
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, more := z.TagName()
		tag := atom.Lookup(name)
		if fallback[tag] {
			if z.Next() == html.TextToken {
				hrefs = append(hrefs, fallbackLinks(z.Text())...)
			}
			continue
		}
		if tag != atom.A && tag != atom.Area && tag != atom.Base && tag != atom.Meta {
			continue
		}
		attrs := tagAttrs(z, more)
		switch {
		case tag == atom.Meta:
			page.meta(base, docBase, len(hrefs), attrs, agent)
		case !attrs.hasHref:
		case tag != atom.Base:
			hrefs = append(hrefs, htmlLink{url: attrs.href, nofollow: hasToken(attrs.rel, "nofollow")})
		case !found:
			found = true
			if u, ok := resolveLink(base, attrs.href); ok {
				docBase = u
			}
		}
	}
	at := -1
	if page.refresh != nil {
		at = page.refresh.at
	}
	for i, l := range hrefs {
		if u, ok := resolveLink(docBase, l.url); ok {
			page.links = append(page.links, htmlLink{url: u.String(), nofollow: l.nofollow})
		} else if i < at {
			page.refresh.at-- // it stays after the links before it
		}
	}
	return page
}

// fallback are the elements whose content, markup for a browser that runs
// no scripts or shows no frames or plugins, the tokenizer reads as text.
var fallback = map[atom.Atom]bool{atom.Noscript: true, atom.Noframes: true, atom.Noembed: true}

// fallbackLinks returns the hrefs of the <a> and <area> elements of text,
// the content of a fallback element: links there are links of the page,
// as wget and search engines read them, for the browsers and crawlers
// that run no scripts. Its <meta> and <base> elements, which a browser
// that runs scripts never reads, are not taken in.
func fallbackLinks(text []byte) []htmlLink {
	var hrefs []htmlLink
	z := html.NewTokenizer(bytes.NewReader(text))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return hrefs
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, more := z.TagName()
		if tag := atom.Lookup(name); tag != atom.A && tag != atom.Area {
			continue
		}
		if attrs := tagAttrs(z, more); attrs.hasHref {
			hrefs = append(hrefs, htmlLink{url: attrs.href, nofollow: hasToken(attrs.rel, "nofollow")})
		}
	}
}

// meta takes in a <meta> element with attrs, found after n links, in a
// document at docURL whose base URL so far is docBase.
func (page *htmlPage) meta(docURL, docBase *url.URL, n int, attrs tagAttrList, agent string) {
	switch {
	case strings.EqualFold(attrs.httpEquiv, "refresh"):
		if page.refresh == nil {
			if r, ok := resolveRefresh(docURL, docBase, attrs.content); ok {
				r.at = n
				page.refresh = &r
			}
		}
	case strings.EqualFold(attrs.name, "robots") || agent != "" && strings.EqualFold(attrs.name, agent):
		nofollow, noindex := robotsRules(attrs.content)
		page.nofollow = page.nofollow || nofollow
		page.noindex = page.noindex || noindex
	}
}

// tagAttrList holds the attributes of an element that scanHTML reads, each
// its first occurrence, as an HTML parser keeps it.
type tagAttrList struct {
	href, rel, name, httpEquiv, content string
	hasHref                             bool
}

// tagAttrs reads the attributes of the tag z is at; more is what
// z.TagName reported.
func tagAttrs(z *html.Tokenizer, more bool) tagAttrList {
	var a tagAttrList
	var hasRel, hasName, hasEquiv, hasContent bool
	for more {
		var key, val []byte
		key, val, more = z.TagAttr()
		switch string(key) { // the tokenizer lower-cases names
		case "href":
			setFirst(&a.href, &a.hasHref, val)
		case "rel":
			setFirst(&a.rel, &hasRel, val)
		case "name":
			setFirst(&a.name, &hasName, val)
		case "http-equiv":
			setFirst(&a.httpEquiv, &hasEquiv, val)
		case "content":
			setFirst(&a.content, &hasContent, val)
		}
	}
	return a
}

func setFirst(dst *string, set *bool, val []byte) {
	if !*set {
		*dst, *set = string(val), true
	}
}

// hasToken reports whether list, a rel attribute's value, has token,
// compared case-insensitively. Tokens are separated by ASCII white space,
// as the HTML Standard says, and by commas, as Scrapy reads them:
// rel="nofollow,noopener" is taken to say nofollow.
func hasToken(list, token string) bool {
	for t := range strings.FieldsFuncSeq(list, isTokenSep) {
		if strings.EqualFold(t, token) {
			return true
		}
	}
	return false
}

func isTokenSep(r rune) bool {
	return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\f' || r == '\r'
}

// resolveLink resolves href, as written in a page, against base as a
// browser's URL parser (the WHATWG URL Standard) does for http and https
// URLs, where net/url, an RFC 3986 parser, reads some otherwise:
//   - a backslash before the query is a slash, "http:foo" is relative to
//     an http base, and extra slashes before a host are dropped (see
//     browserRef);
//   - a first path segment with a colon but no scheme before it is a path;
//   - the host is lower-cased and, if not ASCII, mapped by IDNA (a
//     full-width "Ｇｏ.com" is "go.com"); a default or empty port is
//     dropped, and leading zeros of a port;
//   - "%2e" counts as "." in dot segments, an empty path is "/", and the
//     path and query have the bytes a request line may not hold
//     percent-encoded (see requote);
//   - empty user info is dropped, and an empty password.
//
// It reports false for a link that does not parse, or that is not an http
// or https URL with a host.
func resolveLink(base *url.URL, href string) (*url.URL, bool) {
	s, hasScheme := browserRef(cleanURL(href), base.Scheme)
	s = quoteRef(s)
	u, err := base.Parse(s)
	if err != nil && !hasScheme {
		u, err = base.Parse("./" + s) // ":a" or "1a:b": a path, not a scheme
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Host == "" {
		return nil, false
	}
	if !canonHost(u) {
		return nil, false
	}
	if u.User != nil { // "@host" and "a:@host" are "host" and "a@host"
		if pw, set := u.User.Password(); u.User.Username() == "" && !set {
			u.User = nil
		} else if set && pw == "" {
			u.User = url.User(u.User.Username())
		}
	}
	requote(u)
	if p := removeDotSegments(u.EscapedPath()); p != u.EscapedPath() {
		u.Path, _ = url.PathUnescape(p)
		u.RawPath = p
	}
	if u.Path == "" {
		u.Path, u.RawPath = "/", ""
	}
	return u, true
}

// browserRef rewrites s, a URL reference found against a base of scheme
// baseScheme (http or https), into what net/url parses as the URL
// Standard's parser reads s for a special (http, https) URL:
//   - a backslash before the query is a slash;
//   - "http:foo" and "http:/foo" are relative to an http base, and
//     "https:foo" against an http base is "https://foo";
//   - any run of two or more slashes before a host is two: "///h/p" and
//     "http:///h/p" go to host h.
//
// It reports whether the result begins with a scheme.
func browserRef(s, baseScheme string) (string, bool) {
	scheme, rest, hasScheme := splitScheme(s)
	if hasScheme && scheme != "http" && scheme != "https" {
		return s, true
	}
	end := strings.IndexAny(s, "?#")
	if end < 0 {
		end = len(s)
	}
	if strings.IndexByte(s[:end], '\\') >= 0 {
		s = strings.ReplaceAll(s[:end], "\\", "/") + s[end:]
		scheme, rest, hasScheme = splitScheme(s)
	}
	switch {
	case !hasScheme:
		if strings.HasPrefix(s, "///") {
			s = "//" + strings.TrimLeft(s, "/")
		}
	case strings.HasPrefix(rest, "//") || scheme != baseScheme:
		s = scheme + "://" + strings.TrimLeft(rest, "/")
	default:
		s, hasScheme = rest, false
	}
	return s, hasScheme
}

// quoteRef percent-encodes, in s, a URL reference, past its scheme and
// authority, the bytes requote encodes (spaces and other controls, bytes
// past ASCII, and "<>`{}), which a browser encodes too but for "`{}" in
// a query or fragment, and "'" in the query, as a browser does, so that
// net/url keeps the rest as written: once a path holds a byte it must
// escape, net/url escapes all of it its own way, "(" as "%28" where a
// browser sends "(", and the link would be another URL than a browser's,
// with another key.
func quoteRef(s string) string {
	start := 0
	if _, rest, ok := splitScheme(s); ok {
		start = len(s) - len(rest)
	}
	if strings.HasPrefix(s[start:], "//") {
		end := strings.IndexAny(s[start+2:], "/?#")
		if end < 0 {
			return s // an authority alone
		}
		start += 2 + end
	}
	rest := quoteInvalid(s[start:])
	end := strings.IndexByte(rest, '#')
	if end < 0 {
		end = len(rest)
	}
	if q := strings.IndexByte(rest[:end], '?'); q >= 0 && strings.IndexByte(rest[q:end], '\'') >= 0 {
		// The query of an http or https URL has its "'" encoded too (the
		// URL Standard's special-query set).
		rest = rest[:q] + strings.ReplaceAll(rest[q:end], "'", "%27") + rest[end:]
	}
	return s[:start] + rest
}

// splitScheme splits s at the colon after its scheme, if it begins with one
// (a letter, then letters, digits, "+", "-" or "."), lower-casing it.
func splitScheme(s string) (scheme, rest string, ok bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return strings.ToLower(s[:i]), s[i+1:], true
		default:
			return "", s, false
		}
	}
	return "", s, false
}

// asciiHostname returns host, a URL's host name, lower-cased and, if it is
// not ASCII, mapped by IDNA to its ASCII form ("bücher.test" becomes
// "xn--bcher-kva.test"), as a browser sends it; ok is false for a name IDNA
// refuses. An IPv6 address is only lower-cased.
func asciiHostname(host string) (string, bool) { return hostkey.ASCIIName(host) }

// asciiHost puts u's host name in its ASCII form, lower-cased, if it is
// not ASCII (see asciiHostname), keeping the port; it reports false,
// changing nothing, for a name IDNA refuses. An ASCII host is left as
// written.
func asciiHost(u *url.URL) bool {
	if !nonASCII(u.Host) {
		return true
	}
	name, ok := asciiHostname(u.Hostname())
	if !ok {
		return false
	}
	if port := u.Port(); port != "" {
		name += ":" + port
	}
	u.Host = name
	return true
}

func nonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// canonHost lower-cases u's host, maps it by IDNA if it is not ASCII, and
// drops an empty or default port and a port's leading zeros. It reports
// false for a host IDNA refuses, or a port that is not a number below 65536.
func canonHost(u *url.URL) bool {
	host, port := u.Hostname(), u.Port()
	if strings.HasSuffix(u.Host, ":") {
		port = "" // "http://h:/": no port
	}
	host, ok := asciiHostname(host)
	if !ok {
		return false
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return false
		}
		port = strconv.FormatUint(n, 10)
		if u.Scheme == "http" && n == 80 || u.Scheme == "https" && n == 443 {
			port = ""
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	return true
}

// cleanURL readies a URL written in a page for parsing, as the URL
// Standard's parser does: it strips leading and trailing spaces and
// control characters, and removes every tab and newline.
func cleanURL(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	if !strings.ContainsAny(s, "\t\n\r") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
}
