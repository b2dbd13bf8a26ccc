package fetch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// sitemapURLs returns the URLs Sitemap yields for path on srv, without
// srv's URL, and its failures.
func sitemapURLs(t *testing.T, f *Fetcher, base, path string) (urls []string, failed []error) {
	t.Helper()
	for u := range Sitemap(t.Context(), f, base+path) {
		if u.Err != nil {
			failed = append(failed, u.Err)
			continue
		}
		urls = append(urls, strings.TrimPrefix(u.URL, base))
	}
	return urls, failed
}

// A <url> that carries Google's image, or any extension with a <loc> of
// its own, is the page's <loc>: the extension's <image:loc> is the
// image's, not the page's.
func TestSitemapExtensionLocIsNotThePage(t *testing.T) {
	srv, _ := sitemapSite(t, map[string]any{
		"/images.xml": `<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
  xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"
  xmlns:xhtml="http://www.w3.org/1999/xhtml">
  <url>
    <loc>SITE/page</loc>
    <image:image><image:loc>SITE/photo.jpg</image:loc></image:image>
    <xhtml:link rel="alternate" hreflang="de" href="SITE/de/page"/>
  </url>
  <url>
    <image:image><image:loc>SITE/first.jpg</image:loc></image:image>
    <loc>SITE/gallery</loc>
  </url>
  <url><image:image><image:loc>SITE/orphan.jpg</image:loc></image:image></url>
</urlset>`,
	})
	urls, failed := sitemapURLs(t, newFetcher(t), srv.URL, "/images.xml")
	if want := []string{"/page", "/gallery"}; strings.Join(urls, " ") != strings.Join(want, " ") || failed != nil {
		t.Errorf("URLs %q, failures %v; want %q", urls, failed, want)
	}
}

// A byte order mark, which Windows editors write, starts a text sitemap
// or a robots.txt as it may start an XML sitemap: it is not part of the
// first line.
func TestSitemapByteOrderMark(t *testing.T) {
	srv, _ := sitemapSite(t, map[string]any{
		"/robots.txt": "\ufeffSitemap: SITE/list.txt\n",
		"/list.txt":   "\ufeffSITE/a\r\nSITE/b\r\n",
	})
	urls, failed := sitemapURLs(t, newFetcher(t), srv.URL, "/robots.txt")
	if want := []string{"/a", "/b"}; strings.Join(urls, " ") != strings.Join(want, " ") || failed != nil {
		t.Errorf("URLs %q, failures %v; want %q", urls, failed, want)
	}
}

// A sitemap over the size cap is ErrBadSitemap, as ErrBadSitemap says,
// gzipped or not.
func TestSitemapTooLargeIsBad(t *testing.T) {
	defer func(n int64) { maxInflated = n }(maxInflated)
	maxInflated = 1000
	srv, _ := sitemapSite(t, map[string]any{
		"/big.xml": "<urlset>" + strings.Repeat(" ", 1001) + "</urlset>",
	})
	_, failed := sitemapURLs(t, newFetcher(t), srv.URL, "/big.xml")
	if len(failed) != 1 || !errors.Is(failed[0], ErrBadSitemap) || !errors.Is(failed[0], ErrBodyTooLarge) {
		t.Errorf("failures %v; want one ErrBadSitemap that is ErrBodyTooLarge", failed)
	}
}

// Once the context ends, Sitemap yields why and stops: it does not go on
// to yield one failure for every sitemap an index lists.
func TestSitemapStopsWhenContextEnds(t *testing.T) {
	srv, asked := sitemapSite(t, map[string]any{
		"/index.xml": `<sitemapindex><sitemap><loc>SITE/a.xml</loc></sitemap><sitemap><loc>SITE/b.xml</loc></sitemap><sitemap><loc>SITE/c.xml</loc></sitemap></sitemapindex>`,
		"/a.xml":     `<urlset><url><loc>SITE/page</loc></url></urlset>`,
		"/b.xml":     `<urlset><url><loc>SITE/page2</loc></url></urlset>`,
		"/c.xml":     `<urlset><url><loc>SITE/page3</loc></url></urlset>`,
	})
	f := newFetcher(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []SitemapURL
	for u := range Sitemap(ctx, f, srv.URL+"/index.xml") {
		got = append(got, u)
		cancel()
	}
	if len(got) != 2 || got[0].Err != nil || !errors.Is(got[1].Err, context.Canceled) || asked("/c.xml") != 0 {
		t.Errorf("yielded %+v; want the page, then one context.Canceled", got)
	}
}

// Links reads the <a> and <area> elements of a <noscript>, <noframes> or
// <noembed>, which the page offers browsers and crawlers that run no
// scripts, as wget and search engines follow them (a JavaScript site's
// pagination, a frameset's site map); rel="nofollow" holds there too. A
// refresh or robots <meta> in a <noscript>, which a browser that runs
// scripts never reads, is not the page's.
func TestLinksInFallbackContent(t *testing.T) {
	const body = `<head><noscript><meta http-equiv="refresh" content="0; url=/nojs"><meta name="robots" content="nofollow"></noscript></head>
<a href=/1>1</a>
<noscript><a href="/2">next</a> <a href=/3 rel=nofollow>3</a></noscript>
<frameset><frame src=/f></frameset><noframes><p><a href="/4">site map</a><map><area href=/5></map></noframes>
<noembed/><a href=/6>6</a></noembed>
<script>document.write('<a href="/no">')</script><a href=/7>7</a>`
	p := nfPage(t, body, nil, CrawlMetaRefresh(time.Hour))
	var got []string
	for _, l := range p.Links() {
		got = append(got, strings.TrimPrefix(l, "http://a.test"))
	}
	if want := []string{"/1", "/2", "/4", "/5", "/6", "/7"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Links() = %q; want %q", got, want)
	}
	if target, _, ok := p.Refresh(); ok {
		t.Errorf("Refresh() = %q; want none", target)
	}
}
