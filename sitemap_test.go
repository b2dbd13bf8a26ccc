package fetch

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// gzipped returns s, gzipped.
func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	io.WriteString(z, s)
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gz is a file sitemapSite serves gzipped.
type gz string

// sitemapSite serves files, by path, with SITE in them replaced by the
// server's URL; it counts the requests each path gets.
func sitemapSite(t *testing.T, files map[string]any) (*httptest.Server, func(string) int) {
	t.Helper()
	var mu sync.Mutex
	asked := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked[r.URL.Path]++
		mu.Unlock()
		switch v := files[r.URL.Path].(type) {
		case string:
			io.WriteString(w, strings.ReplaceAll(v, "SITE", "http://"+r.Host))
		case gz:
			w.Header().Set("Content-Type", "application/x-gzip")
			w.Write(gzipped(t, strings.ReplaceAll(string(v), "SITE", "http://"+r.Host)))
		case []byte:
			w.Write(v)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return asked[path]
	}
}

// Sitemap reads a robots.txt's Sitemap lines, a sitemap index, urlsets
// (one gzipped, one with its own namespace prefix and an unescaped &, one
// in ISO-8859-1), and
// a text sitemap, yielding every URL in the order listed, with its
// lastmod; a sitemap listed twice is read once, and one that fails says
// so without stopping the others.
func TestSitemap(t *testing.T) {
	srv, asked := sitemapSite(t, map[string]any{
		"/robots.txt": "User-agent: *\nDisallow: /private\nSitemap: SITE/index.xml # the index\nsitemap: /pages.txt\nSitemap: SITE/missing.xml\nSitemap: SITE/index.xml\n",
		"/index.xml": `<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>SITE/a.xml</loc><lastmod>2024-01-02</lastmod></sitemap>
  <sitemap><loc> SITE/b.xml.gz </loc></sitemap>
  <sitemap><loc>SITE/latin1.xml</loc></sitemap>
</sitemapindex>`,
		"/latin1.xml": "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><urlset><url><loc>SITE/caf\xe9</loc></url></urlset>",
		"/a.xml": `<?xml version="1.0" encoding="UTF-8"?>
<sm:urlset xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sm:url><sm:loc>SITE/one</sm:loc><sm:lastmod>2024-03-04T05:06:07+01:00</sm:lastmod><sm:priority>0.5</sm:priority></sm:url>
  <sm:url><sm:lastmod>2024-03-04</sm:lastmod></sm:url>
  <sm:url><sm:loc>SITE/two?a=1&b=2</sm:loc><sm:lastmod>yesterday</sm:lastmod></sm:url>
</sm:urlset>`,
		"/b.xml.gz":  gz(`<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>SITE/three</loc><lastmod>2023-12</lastmod></url></urlset>`),
		"/pages.txt": "SITE/four\n\nSITE/five\n",
	})
	f := newFetcher(t)
	var got []string
	var lastMods []time.Time
	var failed []SitemapURL
	for u := range Sitemap(t.Context(), f, srv.URL+"/robots.txt") {
		if u.Err != nil {
			failed = append(failed, u)
			continue
		}
		got = append(got, strings.TrimPrefix(u.URL, srv.URL))
		lastMods = append(lastMods, u.LastMod)
	}
	if want := []string{"/one", "/two?a=1&b=2", "/three", "/café", "/four", "/five"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("URLs %q; want %q", got, want)
	}
	if want := time.Date(2024, 3, 4, 4, 6, 7, 0, time.UTC); len(lastMods) != 6 || !lastMods[0].Equal(want) || !lastMods[1].IsZero() || !lastMods[2].Equal(time.Date(2023, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("lastmods %v; want %v, none (unparsed), 2023-12-01", lastMods, want)
	}
	var se *StatusError
	if len(failed) != 1 || !errors.As(failed[0].Err, &se) || se.StatusCode != 404 || failed[0].Sitemap != srv.URL+"/missing.xml" || failed[0].URL != "" {
		t.Errorf("failures %+v; want one, the 404 of /missing.xml", failed)
	}
	if n := asked("/index.xml"); n != 1 {
		t.Errorf("/index.xml fetched %d times; want once", n)
	}
}

// What is not a sitemap is ErrBadSitemap, naming the sitemap.
func TestSitemapBad(t *testing.T) {
	defer func(n int64) { maxInflated = n }(maxInflated)
	maxInflated = 1000
	srv, _ := sitemapSite(t, map[string]any{
		"/html":   "<!doctype html><html><body>Not found</body></html>",
		"/text":   "SITE/ok\nnot a url\n",
		"/xml":    "<urlset><url><loc>SITE/x</loc></url>", // cut short
		"/bomb":   gz(strings.Repeat("0", 1001)),
		"/bad.gz": []byte{0x1f, 0x8b, 1, 2, 3},
	})
	f := newFetcher(t)
	for path, want := range map[string]string{
		"/html":   "root element <html>",
		"/text":   "line 2 is not an http or https URL",
		"/xml":    "unexpected EOF",
		"/bomb":   "more than 1000 bytes inflated",
		"/bad.gz": "gzip",
	} {
		var got []SitemapURL
		for u := range Sitemap(t.Context(), f, srv.URL+path) {
			got = append(got, u)
		}
		if len(got) != 1 || !errors.Is(got[0].Err, ErrBadSitemap) || !strings.Contains(got[0].Err.Error(), want) || !strings.Contains(got[0].Err.Error(), srv.URL+path) {
			t.Errorf("%s: %+v; want one ErrBadSitemap naming it, saying %q", path, got, want)
		}
	}
}

// The loop body may fetch from the sitemap's host, even with one slot per
// host: no response is held open while it runs. Breaking out of the loop
// reads no more sitemaps.
func TestSitemapLoopBody(t *testing.T) {
	srv, asked := sitemapSite(t, map[string]any{
		"/index.xml": `<sitemapindex><sitemap><loc>SITE/a.xml</loc></sitemap><sitemap><loc>SITE/b.xml</loc></sitemap></sitemapindex>`,
		"/a.xml":     `<urlset><url><loc>SITE/page</loc></url><url><loc>SITE/page2</loc></url></urlset>`,
		"/b.xml":     `<urlset><url><loc>SITE/page3</loc></url></urlset>`,
		"/page":      "page",
	})
	f := newFetcher(t, WithHostConcurrency(1))
	for u := range Sitemap(t.Context(), f, srv.URL+"/index.xml") {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		if _, err := f.Get(t.Context(), u.URL); err != nil {
			t.Fatal(err)
		}
		break
	}
	if asked("/page") != 1 || asked("/b.xml") != 0 {
		t.Errorf("/page fetched %d times, /b.xml %d; want once and never", asked("/page"), asked("/b.xml"))
	}
}

// An extension's element named as an entry (<ext:url> in a <url>) neither
// ends the entry nor starts one.
func TestSitemapNestedEntryName(t *testing.T) {
	urls, index, err := parseSitemapXML([]byte(`<urlset xmlns:ext="x"><url><loc>http://a.test/x</loc><ext:url><loc>http://a.test/inner</loc></ext:url><lastmod>2024-01-02</lastmod></url></urlset>`), "s")
	if err != nil || index || len(urls) != 1 || urls[0].URL != "http://a.test/x" || urls[0].LastMod.IsZero() {
		t.Errorf("%+v, %v, %v; want the one page, with its lastmod", urls, index, err)
	}
}

// A <lastmod> is read in any W3C Datetime form, and without a time zone
// as UTC, as sites write it.
func TestSitemapLastMod(t *testing.T) {
	for v, want := range map[string]time.Time{
		"2024-01-02":                time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC),
		"2024-01-02T03:04:05.5Z":    time.Date(2024, 1, 2, 3, 4, 5, 5e8, time.UTC),
		"2024-01-02T03:04+02:00":    time.Date(2024, 1, 2, 1, 4, 0, 0, time.UTC),
		"2024-01-02T03:04:05":       time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		"2024-01-02T03:04":          time.Date(2024, 1, 2, 3, 4, 0, 0, time.UTC),
		"2024":                      time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		"last tuesday":              {},
		"2024-01-02T03:04:05+02:00": time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC),
	} {
		if got := parseLastMod(v); !got.Equal(want) {
			t.Errorf("parseLastMod(%q) = %v; want %v", v, got, want)
		}
	}
}

// A sitemap on another domain, named by the robots.txt given, is fetched
// without the Fetcher's credentials; one on the domain given keeps them.
func TestSitemapCredentialsStayOnTheSite(t *testing.T) {
	var mu sync.Mutex
	auth := map[string]string{}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth["other"+r.URL.Path] = r.Header.Get("Authorization") + "|" + r.Header.Get("X-Api-Key")
		mu.Unlock()
		io.WriteString(w, "http://other.test/page\n")
	}))
	defer other.Close()
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1) // another domain
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth[r.URL.Path] = r.Header.Get("Authorization") + "|" + r.Header.Get("X-Api-Key")
		mu.Unlock()
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprintf(w, "Sitemap: http://%s/own.txt\nSitemap: %s/theirs.txt\n", r.Host, otherURL)
		default:
			io.WriteString(w, "http://site.test/page\n")
		}
	}))
	defer site.Close()
	f := newFetcher(t, WithBearerToken("s3cret"), WithHeader("X-Api-Key", "k"))
	for u := range Sitemap(t.Context(), f, site.URL+"/robots.txt") {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "Bearer s3cret|k"; auth["/robots.txt"] != want || auth["/own.txt"] != want {
		t.Errorf("the site's robots.txt and sitemap got %q and %q; want %q", auth["/robots.txt"], auth["/own.txt"], want)
	}
	if got := auth["other/theirs.txt"]; got != "|" {
		t.Errorf("the other domain's sitemap got credentials %q; want none", got)
	}
}

// A robots.txt's Sitemap lines are read however long the lines before
// them, and whatever their line ends.
func TestRobotsSitemapsLongLines(t *testing.T) {
	base, _ := url.Parse("http://a.test/robots.txt")
	body := "# " + strings.Repeat("x", 100<<10) + "\r\nSitemap: /one.xml\r\nsitemap:http://b.test/two.xml"
	if got := robotsSitemaps(base, []byte(body)); strings.Join(got, " ") != "http://a.test/one.xml http://b.test/two.xml" {
		t.Errorf("robotsSitemaps = %q; want both sitemaps", got)
	}
}
