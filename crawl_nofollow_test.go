package fetch

// Tests of what a page tells a crawler about its links: rel="nofollow",
// robots <meta> and X-Robots-Tag rules (Page.Links, Page.AllLinks,
// Page.NoIndex), and its refresh (Page.Refresh, CrawlMetaRefresh).

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// nfSite serves pages from memory: the body of each path, as HTML, with
// the headers of headers; 404 for robots.txt and any other path unless
// robots is set. It records the host and path of each request.
type nfSite struct {
	pages   map[string]string
	headers map[string]http.Header
	robots  string

	mu   sync.Mutex
	sent []string
}

func (s *nfSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.sent = append(s.sent, r.URL.Host+r.URL.Path)
	s.mu.Unlock()
	if r.URL.Path == "/robots.txt" && s.robots != "" {
		w.Write([]byte(s.robots))
		return
	}
	body, ok := s.pages[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	for k, v := range s.headers[r.URL.Path] {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	w.Write([]byte(body))
}

// fetched reports whether path was requested from a.test.
func (s *nfSite) fetched(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.sent, "a.test"+path)
}

// nfCrawl crawls s from seed inside a synctest bubble, following every
// page's Links if follow is set, and returns the pages by URL.
func nfCrawl(t *testing.T, s *nfSite, seed string, follow bool, opts ...CrawlOption) map[string]*Page {
	t.Helper()
	pages := map[string]*Page{}
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, s, WithRetry(RetryPolicy{MaxAttempts: 1}))
		defer f.Shutdown(context.Background())
		c, err := NewCrawler(f, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for p := range c.Run(t.Context(), seed) {
			pages[p.URL] = p
			if follow && p.Err == nil {
				p.Follow(p.Links()...)
			}
		}
	})
	return pages
}

// nfPage fetches body (with header) as the crawl's seed page
// http://a.test/dir/page and returns its page.
func nfPage(t *testing.T, body string, header http.Header, opts ...CrawlOption) *Page {
	t.Helper()
	s := &nfSite{pages: map[string]string{"/dir/page": body}, headers: map[string]http.Header{"/dir/page": header}}
	p := nfCrawl(t, s, "http://a.test/dir/page", false, opts...)["http://a.test/dir/page"]
	if p == nil || p.Err != nil {
		t.Fatalf("page: %+v", p)
	}
	return p
}

// TestNofollowRel: Links leaves out an <a> or <area> whose rel has the
// token nofollow, in any case, separated by white space or commas; ugc
// and sponsored are followed. AllLinks, and Links with CrawlIgnoreRobots,
// keep them all.
func TestNofollowRel(t *testing.T) {
	const body = `<a href=/1 rel=nofollow>1</a>
<a href=/2 rel="NoFollow noopener">2</a>
<a href=/3 rel="noopener	nofollow">3</a>
<a href=/4 rel="nofollow,noopener">4</a>
<a href=/5 rel=ugc>5</a>
<a href=/6 rel=sponsored>6</a>
<a href=/7 rel=nofollower>7</a>
<a href=/8>8</a>
<map><area href=/9 rel=nofollow><area href=/10></map>
<a href=/11 rel="" rel=nofollow>11</a>
<a rel=nofollow href=/12 href=/13>12</a>`
	all := []string{"/1", "/2", "/3", "/4", "/5", "/6", "/7", "/8", "/9", "/10", "/11", "/12"}
	follow := []string{"/5", "/6", "/7", "/8", "/10", "/11"}
	abs := func(paths []string) []string {
		out := make([]string, len(paths))
		for i, p := range paths {
			out[i] = "http://a.test" + p
		}
		return out
	}
	p := nfPage(t, body, nil)
	if got, want := p.Links(), abs(follow); !slices.Equal(got, want) {
		t.Errorf("Links() = %q; want %q", got, want)
	}
	if got, want := p.AllLinks(), abs(all); !slices.Equal(got, want) {
		t.Errorf("AllLinks() = %q; want %q", got, want)
	}
	p = nfPage(t, body, nil, CrawlIgnoreRobots())
	if got, want := p.Links(), abs(all); !slices.Equal(got, want) {
		t.Errorf("with CrawlIgnoreRobots, Links() = %q; want %q", got, want)
	}
}

// TestNofollowMetaRobots: a robots <meta> that says nofollow or none, or
// one named after the crawl's user agent, leaves Links empty; other rules,
// and other agents' <meta>s, do not. NoIndex reports noindex and none.
func TestNofollowMetaRobots(t *testing.T) {
	for _, tc := range []struct {
		meta              string
		agent             string // CrawlUserAgent, if set
		nofollow, noindex bool
	}{
		{meta: `<meta name="robots" content="nofollow">`, nofollow: true},
		{meta: `<META NAME="ROBOTS" CONTENT="NOFOLLOW">`, nofollow: true},
		{meta: `<meta name="robots" content="noindex, nofollow">`, nofollow: true, noindex: true},
		{meta: `<meta name="robots" content="noindex,nofollow">`, nofollow: true, noindex: true},
		{meta: `<meta name="robots" content=" noindex  nofollow ">`, nofollow: true, noindex: true},
		{meta: `<meta name="robots" content="none">`, nofollow: true, noindex: true},
		{meta: `<meta name="robots" content="noindex">`, noindex: true},
		{meta: `<meta name="robots" content="index, follow, noarchive, max-snippet:20">`},
		{meta: `<meta name="robots" content="nofollowing">`},
		{meta: `<meta name="robots">`},
		{meta: `<meta name="googlebot" content="nofollow, noindex">`},
		{meta: `<meta name="fetch" content="nofollow">`, nofollow: true}, // DefaultCrawlAgent's token
		{meta: `<meta name="MyBot" content="none">`, agent: "mybot/1.2 (+https://example.com/bot)", nofollow: true, noindex: true},
		{meta: `<meta name="fetch" content="nofollow">`, agent: "mybot/1.2"},
		{meta: `<meta http-equiv="robots" content="nofollow">`},
		{meta: `<meta content="nofollow" name="robots">`, nofollow: true},
		{meta: `<body><p>late: <meta name="robots" content="nofollow">`, nofollow: true},
	} {
		var opts []CrawlOption
		if tc.agent != "" {
			opts = append(opts, CrawlUserAgent(tc.agent))
		}
		p := nfPage(t, "<head>"+tc.meta+"</head><a href=a>a</a>", nil, opts...)
		want := []string{"http://a.test/dir/a"}
		if tc.nofollow {
			want = nil
		}
		if got := p.Links(); !slices.Equal(got, want) {
			t.Errorf("%s (agent %q): Links() = %q; want %q", tc.meta, tc.agent, got, want)
		}
		if got := p.AllLinks(); len(got) != 1 {
			t.Errorf("%s: AllLinks() = %q; want the link", tc.meta, got)
		}
		if got := p.NoIndex(); got != tc.noindex {
			t.Errorf("%s (agent %q): NoIndex() = %v; want %v", tc.meta, tc.agent, got, tc.noindex)
		}
	}
}

// TestNofollowXRobotsTag: an X-Robots-Tag header's nofollow or none leaves
// Links empty when it is unprefixed or names the crawl's user agent;
// another agent's rules, and the dates of unavailable_after, are not
// taken for it.
func TestNofollowXRobotsTag(t *testing.T) {
	for _, tc := range []struct {
		values            []string
		nofollow, noindex bool
	}{
		{values: []string{"nofollow"}, nofollow: true},
		{values: []string{"NoFollow"}, nofollow: true},
		{values: []string{"noindex, nofollow"}, nofollow: true, noindex: true},
		{values: []string{"none"}, nofollow: true, noindex: true},
		{values: []string{"noindex"}, noindex: true},
		{values: []string{"noarchive", "nofollow"}, nofollow: true},
		{values: []string{"googlebot: nofollow"}},
		{values: []string{"googlebot: noindex, nofollow"}},
		{values: []string{"mybot: nofollow"}, nofollow: true},
		{values: []string{"MYBOT : noindex, nofollow"}, nofollow: true, noindex: true},
		{values: []string{"googlebot: nofollow", "noindex"}, noindex: true},
		{values: []string{"googlebot: noindex, mybot: nofollow"}, nofollow: true},
		{values: []string{"mybot: noindex, googlebot: nofollow"}, noindex: true},
		{values: []string{"unavailable_after: 25 Jun 2010 15:00:00 PST, nofollow"}, nofollow: true},
		{values: []string{"unavailable_after: Wednesday, 03-Nov-2010 11:00:00 GMT, noindex"}, noindex: true},
		{values: []string{"max-snippet: 20, max-image-preview: large, nofollow"}, nofollow: true},
		{values: []string{"all"}},
	} {
		h := http.Header{"X-Robots-Tag": tc.values}
		p := nfPage(t, `<a href=/a>a</a>`, h, CrawlUserAgent("mybot/1.0"))
		want := []string{"http://a.test/a"}
		if tc.nofollow {
			want = nil
		}
		if got := p.Links(); !slices.Equal(got, want) {
			t.Errorf("X-Robots-Tag %q: Links() = %q; want %q", tc.values, got, want)
		}
		if got := p.NoIndex(); got != tc.noindex {
			t.Errorf("X-Robots-Tag %q: NoIndex() = %v; want %v", tc.values, got, tc.noindex)
		}
	}
	// NoIndex reads the header of a page that is not HTML.
	h := http.Header{"X-Robots-Tag": {"noindex"}, "Content-Type": {"application/pdf"}}
	if p := nfPage(t, "%PDF-1.7", h); !p.NoIndex() {
		t.Error("a PDF with X-Robots-Tag: noindex: NoIndex() = false; want true")
	}
	// With CrawlIgnoreRobots, the header does not hide the links.
	p := nfPage(t, `<a href=/a>a</a>`, http.Header{"X-Robots-Tag": {"nofollow"}}, CrawlIgnoreRobots())
	if got := p.Links(); len(got) != 1 {
		t.Errorf("CrawlIgnoreRobots, X-Robots-Tag: nofollow: Links() = %q; want the link", got)
	}
}

// TestNofollowCrawl: a crawl that follows Links never requests a link the
// page asks not to follow; with CrawlIgnoreRobots it does.
func TestNofollowCrawl(t *testing.T) {
	site := func() *nfSite {
		return &nfSite{
			pages: map[string]string{
				"/":          `<a href=/open>o</a> <a href=/secret rel="nofollow">s</a> <a href=/meta>m</a> <a href=/header>h</a>`,
				"/open":      `open`,
				"/secret":    `secret`,
				"/meta":      `<meta name="robots" content="noindex,nofollow"><a href=/from-meta>x</a>`,
				"/header":    `<a href=/from-header>x</a>`,
				"/from-meta": `x`, "/from-header": `x`,
			},
			headers: map[string]http.Header{"/header": {"X-Robots-Tag": {"none"}}},
		}
	}
	s := site()
	pages := nfCrawl(t, s, "http://a.test/", true)
	for _, path := range []string{"/", "/open", "/meta", "/header"} {
		if p := pages["http://a.test"+path]; p == nil || p.Err != nil {
			t.Errorf("%s: page %+v; want it fetched", path, p)
		}
	}
	for _, path := range []string{"/secret", "/from-meta", "/from-header"} {
		if s.fetched(path) {
			t.Errorf("%s, nofollow, was fetched", path)
		}
	}
	if p := pages["http://a.test/meta"]; p != nil && !p.NoIndex() {
		t.Error("/meta: NoIndex() = false; want true")
	}

	s = site()
	pages = nfCrawl(t, s, "http://a.test/", true, CrawlIgnoreRobots())
	if len(pages) != 7 {
		t.Errorf("with CrawlIgnoreRobots, %d pages; want all 7", len(pages))
	}
}

// TestParseRefresh follows the HTML Standard's shared declarative refresh
// steps.
func TestParseRefresh(t *testing.T) {
	const none = "\x00" // no URL: the page reloads
	for _, tc := range []struct {
		in    string
		delay time.Duration
		ref   string // none for a reload
		ok    bool
	}{
		{"0; url=/next", 0, "/next", true},
		{"0;url=/next", 0, "/next", true},
		{"0,url=/next", 0, "/next", true},
		{"0 url=/next", 0, "/next", true},
		{"  5 ;  URL = /next", 5 * time.Second, "/next", true},
		{"5;Url='/a b'c", 5 * time.Second, "/a b", true},
		{`5;url="/a'b"`, 5 * time.Second, "/a'b", true},
		{`5;url="/open`, 5 * time.Second, "/open", true},
		{"0; '/quoted' tail", 0, "/quoted", true},
		{"0; /plain", 0, "/plain", true},
		{"0; urgent.html", 0, "urgent.html", true},
		{"0; url /x", 0, "url /x", true},
		{"0; url", 0, "url", true},
		{"0; URL='http://b.test/'", 0, "http://b.test/", true},
		{"1.5; url=/x", 1 * time.Second, "/x", true},
		{".5; url=/x", 0, "/x", true},
		{"3.", 3 * time.Second, none, true},
		{"0", 0, none, true},
		{"30", 30 * time.Second, none, true},
		{"0;", 0, none, true},
		{"0 ; ", 0, none, true},
		{"\t\n\f\r 7", 7 * time.Second, none, true},
		{"99999999999999999999999; url=/x", time.Duration(1<<63 - 1), "/x", true},
		{"0;;url=/x", 0, ";url=/x", true},
		{"", 0, "", false},
		{"   ", 0, "", false},
		{"url=/x", 0, "", false},
		{"-1; url=/x", 0, "", false},
		{"+1; url=/x", 0, "", false},
		{"0x; url=/x", 0, "", false},
		{"5s", 0, "", false},
		{"\u00a05; url=/x", 0, "", false}, // not ASCII white space
	} {
		delay, ref, hasURL, ok := parseRefresh(tc.in)
		if !hasURL && ok {
			ref = none
		}
		if ok != tc.ok || ok && (delay != tc.delay || ref != tc.ref) {
			t.Errorf("parseRefresh(%q) = %v, %q, %v; want %v, %q, %v", tc.in, delay, ref, ok, tc.delay, tc.ref, tc.ok)
		}
	}
}

// FuzzParseRefresh: parseRefresh never panics; a refresh's delay is not
// negative and its URL is part of the input.
func FuzzParseRefresh(f *testing.F) {
	for _, s := range []string{"0; url=/next", "5;URL='x'", `1.5, url = "a`, "0; urgent", ".", "3.", "", "99999999999999999999999", "0;\turl\t=\t'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		delay, ref, hasURL, ok := parseRefresh(s)
		if !ok {
			return
		}
		if delay < 0 {
			t.Errorf("parseRefresh(%q): delay %v", s, delay)
		}
		if !strings.Contains(s, ref) || !hasURL && ref != "" {
			t.Errorf("parseRefresh(%q): URL %q, hasURL %v", s, ref, hasURL)
		}
	})
}

// TestPageRefresh: Refresh resolves the URL of the page's first refresh
// that parses (its Refresh header's first) against the page's final URL,
// or the <base> before it.
func TestPageRefresh(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		header http.Header
		target string
		delay  time.Duration
		ok     bool
	}{
		{"relative", `<meta http-equiv="refresh" content="0; url=next">`, nil, "http://a.test/dir/next", 0, true},
		{"case", `<META HTTP-EQUIV="Refresh" CONTENT="2;URL=/next">`, nil, "http://a.test/next", 2 * time.Second, true},
		{"in body", `<p>x</p><meta http-equiv=refresh content="0;url=/late">`, nil, "http://a.test/late", 0, true},
		{"base before", `<base href="http://b.test/x/"><meta http-equiv="refresh" content="0; url=next">`, nil, "http://b.test/x/next", 0, true},
		{"base after", `<meta http-equiv="refresh" content="0; url=next"><base href="http://b.test/x/">`, nil, "http://a.test/dir/next", 0, true},
		{"first that parses", `<meta http-equiv="refresh" content="soon"><meta http-equiv="refresh" content="1; url=/b"><meta http-equiv="refresh" content="0; url=/c">`, nil, "http://a.test/b", time.Second, true},
		{"empty content", `<meta http-equiv="refresh" content=""><meta http-equiv="refresh" content="0;url=/b">`, nil, "http://a.test/b", 0, true},
		{"reload", `<meta http-equiv="refresh" content="30">`, nil, "http://a.test/dir/page", 30 * time.Second, true},
		{"entities", `<meta http-equiv="refresh" content="0;url=/a?x=1&amp;y=2">`, nil, "http://a.test/a?x=1&y=2", 0, true},
		{"spaces in URL", `<meta http-equiv="refresh" content="0;url= /a b ">`, nil, "http://a.test/a%20b", 0, true},
		{"header", `<meta http-equiv="refresh" content="0; url=/meta">`, http.Header{"Refresh": {"3; url=/header"}}, "http://a.test/header", 3 * time.Second, true},
		{"bad header", `<meta http-equiv="refresh" content="0; url=/meta">`, http.Header{"Refresh": {"soon"}}, "http://a.test/meta", 0, true},
		{"javascript", `<meta http-equiv="refresh" content="0; url=javascript:go()"><meta http-equiv="refresh" content="0; url=/b">`, nil, "", 0, false},
		{"other name", `<meta name="refresh" content="0; url=/b">`, nil, "", 0, false},
		{"none", `<a href=/b>b</a>`, nil, "", 0, false},
		{"noscript", `<noscript><meta http-equiv="refresh" content="0; url=/b"></noscript>`, nil, "", 0, false},
		{"not HTML", `<meta http-equiv="refresh" content="0; url=/b">`, http.Header{"Content-Type": {"text/plain"}}, "", 0, false},
	} {
		p := nfPage(t, tc.body, tc.header)
		target, delay, ok := p.Refresh()
		if target != tc.target || delay != tc.delay || ok != tc.ok {
			t.Errorf("%s: Refresh() = %q, %v, %v; want %q, %v, %v", tc.name, target, delay, ok, tc.target, tc.delay, tc.ok)
		}
	}
}

// TestCrawlMetaRefresh: with CrawlMetaRefresh, a refresh of at most the
// delay given is among Links, where its <meta> stands, and the crawl
// takes it in as a link: one level deeper, deduplicated, in scope, checked
// against robots.txt. A longer one, a reload, a refresh on a nofollow
// page, and any refresh without the option, are not links.
func TestCrawlMetaRefresh(t *testing.T) {
	const seed = "http://a.test/"
	p := nfPage(t, `<a href="http://[bad">0</a><a href=/1>1</a><meta http-equiv="refresh" content="100; url=/r"><a href=/2>2</a>`, nil, CrawlMetaRefresh(100*time.Second))
	if got, want := p.Links(), []string{"http://a.test/1", "http://a.test/r", "http://a.test/2"}; !slices.Equal(got, want) {
		t.Errorf("Links() = %q; want %q", got, want)
	}
	p = nfPage(t, `<a href=/1>1</a><meta http-equiv="refresh" content="0; url=/r">`, http.Header{"Refresh": {"0; url=/h"}}, CrawlMetaRefresh(0))
	if got, want := p.Links(), []string{"http://a.test/h", "http://a.test/1"}; !slices.Equal(got, want) {
		t.Errorf("with a Refresh header, Links() = %q; want %q", got, want)
	}
	for _, tc := range []struct {
		name string
		body string
		opts []CrawlOption
	}{
		{"no option", `<meta http-equiv="refresh" content="0; url=/r">`, nil},
		{"too long", `<meta http-equiv="refresh" content="101; url=/r">`, []CrawlOption{CrawlMetaRefresh(100 * time.Second)}},
		{"reload", `<meta http-equiv="refresh" content="0">`, []CrawlOption{CrawlMetaRefresh(time.Hour)}},
		{"nofollow", `<meta name="robots" content="nofollow"><meta http-equiv="refresh" content="0; url=/r">`, []CrawlOption{CrawlMetaRefresh(time.Hour)}},
	} {
		if got := nfPage(t, tc.body, nil, tc.opts...).Links(); len(got) != 0 {
			t.Errorf("%s: Links() = %q; want none", tc.name, got)
		}
	}

	s := &nfSite{
		pages: map[string]string{
			"/":        `<meta http-equiv="refresh" content="0; url=/next">`,
			"/next":    `<meta http-equiv="refresh" content="1; url=http://a.test/#top"><a href=/private>p</a><a href=/far>f</a>`,
			"/far":     `<meta http-equiv="refresh" content="0; url=http://b.test/">`,
			"/private": `<meta http-equiv="refresh" content="0; url=/deep">`,
		},
		robots: "User-agent: *\nDisallow: /private\n",
	}
	pages := nfCrawl(t, s, seed, true, CrawlMetaRefresh(5*time.Second), CrawlHosts("a.test"))
	next := pages["http://a.test/next"]
	if next == nil || next.Err != nil || next.Depth != 1 || next.Referrer != seed {
		t.Fatalf("the refresh target: %+v; want it fetched at depth 1, found on %s", next, seed)
	}
	if private := pages["http://a.test/private"]; private == nil || !errors.Is(private.Err, ErrDisallowed) {
		t.Errorf("a link robots.txt disallows: %+v; want ErrDisallowed", private)
	}
	if len(pages) != 4 {
		t.Errorf("%d pages; want /, /next, /far and /private (disallowed)", len(pages))
	}
	if s.fetched("/deep") || slices.Contains(s.sent, "b.test/") {
		t.Error("fetched a refresh of a page that was not")
	}
	if n := strings.Count(strings.Join(s.sent, " "), "/robots.txt"); n != 1 {
		t.Errorf("robots.txt fetched %d times; want once (b.test is out of scope)", n)
	}

	if _, err := NewCrawler(newMem(t, s), CrawlMetaRefresh(-time.Second)); err == nil {
		t.Error("CrawlMetaRefresh(-1s): no error")
	}
}
