package main

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// crawlSite is a small site served on two hosts, 127.0.0.1 (base) and
// localhost (other), whose robots.txt disallows /private/:
//
//	/             → /a.html, /docs/b.html, /private/secret.html, other/other.html, mailto:
//	/a.html       → /docs/c.html
//	/docs/b.html  → /docs/d.html, /
//	/docs/c.html  → /docs/deep.html
//	/docs/d.html, /docs/deep.html, other/other.html: no links
//	/away redirects to other/other.html; /slow answers never
type crawlSite struct {
	base, other string
}

func newCrawlSite(t *testing.T) crawlSite {
	t.Helper()
	var site crawlSite
	pages := map[string][]string{
		"/":               {"/a.html", "docs/b.html#top", "/private/secret.html", "{other}/other.html", "mailto:x@example.com"},
		"/a.html":         {"/docs/c.html"},
		"/docs/b.html":    {"d.html", "../"},
		"/docs/c.html":    {"deep.html"},
		"/docs/d.html":    nil,
		"/docs/deep.html": nil,
		"/other.html":     nil,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, site.other+"/other.html", http.StatusFound)
			return
		case "/slow":
			<-r.Context().Done() // until the client gives up
			return
		}
		if r.URL.Path == "/robots.txt" {
			io.WriteString(w, "User-agent: *\nDisallow: /private/\n")
			return
		}
		links, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>%s</title>\n", r.URL.Path)
		for _, l := range links {
			fmt.Fprintf(w, "<a href=%q>link</a>\n", strings.ReplaceAll(l, "{other}", site.other))
		}
	}))
	t.Cleanup(srv.Close)
	site.base = srv.URL
	site.other = strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	return site
}

// crawl runs fetch -q with args and returns its exit status, its records
// by URL, and its stderr, failing t on a duplicate record.
func crawl(t *testing.T, args ...string) (int, map[string]record, string) {
	t.Helper()
	code, out, stderr := runCmd(t, "", append([]string{"-q"}, args...)...)
	recs := map[string]record{}
	for _, r := range lineRecords(t, out) {
		if _, dup := recs[r.URL]; dup {
			t.Errorf("two records for %s", r.URL)
		}
		recs[r.URL] = r
	}
	return code, recs, stderr
}

// paths returns the URLs of recs, each without prefix.
func paths(recs map[string]record, prefix string) []string {
	var ps []string
	for u := range maps.Keys(recs) {
		ps = append(ps, strings.TrimPrefix(u, prefix))
	}
	slices.Sort(ps)
	return ps
}

// -r follows the links of HTML pages on the seeds' host, to the default
// depth, one record per page with its depth and referrer; a link that
// robots.txt disallows is a record with its error, and not a failure; a
// link to another host is not followed.
func TestRecursiveCrawl(t *testing.T) {
	site := newCrawlSite(t)
	code, out, stderr := runCmd(t, "", "-q", "-r", site.base+"/")
	if code != exitOK {
		t.Fatalf("exit %d; want 0: %s", code, stderr)
	}
	recs := map[string]record{}
	for _, r := range lineRecords(t, out) {
		recs[r.URL] = r
	}
	b := site.base
	want := []string{"/", "/a.html", "/docs/b.html", "/docs/c.html", "/docs/d.html", "/docs/deep.html", "/private/secret.html"}
	if got := paths(recs, b); !slices.Equal(got, want) {
		t.Fatalf("pages %v; want %v", got, want)
	}
	for _, c := range []struct {
		path, referrer string
		depth          int
	}{
		{"/", "", 0},
		{"/a.html", b + "/", 1},
		{"/docs/b.html", b + "/", 1},
		{"/private/secret.html", b + "/", 1},
		{"/docs/c.html", b + "/a.html", 2},
		{"/docs/d.html", b + "/docs/b.html", 2},
		{"/docs/deep.html", b + "/docs/c.html", 3},
	} {
		r := recs[b+c.path]
		if r.Depth != c.depth || r.Referrer != c.referrer {
			t.Errorf("%s: depth %d, referrer %q; want %d, %q", c.path, r.Depth, r.Referrer, c.depth, c.referrer)
		}
	}
	for p, r := range recs {
		if strings.HasSuffix(p, "/secret.html") {
			if r.ErrorKind != "disallowed" || r.Attempts != 0 || r.Status != 0 || !strings.Contains(r.Error, "robots.txt") {
				t.Errorf("disallowed: %+v; want error_kind disallowed, no attempt", r)
			}
		} else if r.Status != 200 || r.Error != "" {
			t.Errorf("%s: %+v; want 200", p, r)
		}
	}
	// A seed's record has neither depth nor referrer.
	for line := range strings.Lines(out) {
		if strings.Contains(line, `"url":"`+b+`/"`) && (strings.Contains(line, `"depth"`) || strings.Contains(line, `"referrer"`)) {
			t.Errorf("seed's record %s; want no depth or referrer", line)
		}
	}
}

// -l N follows links down to depth N; -l 0 and -l inf set no limit, as
// wget's -l does.
func TestRecursiveLevel(t *testing.T) {
	site := newCrawlSite(t)
	for _, c := range []struct {
		level          string
		pages, deepest int
	}{{"1", 4, 1}, {"2", 6, 2}, {"0", 7, 3}, {"inf", 7, 3}} {
		code, recs, stderr := crawl(t, "-r", "-l", c.level, site.base+"/")
		deepest := 0
		for _, r := range recs {
			deepest = max(deepest, r.Depth)
		}
		if code != exitOK || len(recs) != c.pages || deepest != c.deepest {
			t.Errorf("-l %s: exit %d, %d pages %v, deepest %d; want 0, %d pages, deepest %d: %s",
				c.level, code, len(recs), paths(recs, site.base), deepest, c.pages, c.deepest, stderr)
		}
	}
}

// Scope: the seeds' hosts by default; --span-hosts follows the link to
// the other host too; --no-parent keeps to the seed's directory; the
// regular expressions choose the links followed, never the seeds.
func TestRecursiveScope(t *testing.T) {
	site := newCrawlSite(t)
	b := site.base
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"span-hosts", []string{"--span-hosts", "-H", "Accept: text/html", "-l", "1", b + "/"},
			[]string{b + "/", b + "/a.html", b + "/docs/b.html", b + "/private/secret.html", site.other + "/other.html"}},
		{"no-parent", []string{"--no-parent", b + "/docs/b.html"},
			[]string{b + "/docs/b.html", b + "/docs/d.html"}},
		{"accept-regex", []string{"--accept-regex", `/docs/`, b + "/"},
			[]string{b + "/", b + "/docs/b.html", b + "/docs/d.html"}},
		{"reject-regex", []string{"--reject-regex", `a\.html$|private`, b + "/"},
			[]string{b + "/", b + "/docs/b.html", b + "/docs/d.html"}},
		{"both hosts seeded", []string{"-l", "1", b + "/docs/d.html", site.other + "/"},
			[]string{b + "/docs/d.html", site.other + "/", site.other + "/a.html", site.other + "/docs/b.html", site.other + "/private/secret.html", site.other + "/other.html"}},
	} {
		code, recs, stderr := crawl(t, append([]string{"-r"}, c.args...)...)
		got := paths(recs, "")
		slices.Sort(c.want)
		if code != exitOK || !slices.Equal(got, c.want) {
			t.Errorf("%s: exit %d, pages %v; want 0, %v: %s", c.name, code, got, c.want, stderr)
		}
	}
	code, recs, stderr := crawl(t, "-r", b+"/away")
	if r := recs[b+"/away"]; code != exitOK || len(recs) != 1 || r.ErrorKind != "out_of_scope" {
		t.Errorf("a seed redirecting to another host: exit %d, records %v; want 0 and one out_of_scope: %s", code, recs, stderr)
	}
	code, recs, _ = crawl(t, "-r", "--span-hosts", "-l", "1", b+"/")
	if r := recs[site.other+"/other.html"]; code != exitOK || r.Depth != 1 || r.Referrer != b+"/" || r.Status != 200 {
		t.Errorf("--span-hosts: the other host's page %+v; want depth 1 from the seed", r)
	}
}

// --ignore-robots fetches what robots.txt disallows; --max-pages ends the
// crawl after as many pages, the seed included, in link order.
func TestRecursiveRobotsAndMaxPages(t *testing.T) {
	site := newCrawlSite(t)
	b := site.base
	_, recs, _ := crawl(t, "-r", "-l", "1", "--ignore-robots", b+"/")
	if r := recs[b+"/private/secret.html"]; r.Status != 404 || r.ErrorKind != "status" {
		t.Errorf("--ignore-robots: %+v; want it fetched (404)", r)
	}
	code, recs, stderr := crawl(t, "-r", "--max-pages", "2", b+"/")
	if got := paths(recs, b); code != exitOK || !slices.Equal(got, []string{"/", "/a.html"}) {
		t.Errorf("--max-pages 2: exit %d, pages %v; want 0, [/ /a.html]: %s", code, got, stderr)
	}
}

// A URL given as written is named so in its record, and one that is not
// a URL is a record of its own; the summary counts what the crawl's rules
// kept it from fetching apart from failures.
func TestRecursiveInputAndSummary(t *testing.T) {
	site := newCrawlSite(t)
	hostport := strings.TrimPrefix(site.base, "http://")
	code, out, stderr := runCmd(t, hostport+"/docs/d.html\nnot a url\n", "-r", "-i", "-")
	recs := records(t, out)
	if r := recs[hostport+"/docs/d.html"]; r.Status != 200 || r.Depth != 0 {
		t.Errorf("schemeless seed: %+v (records %v)", r, recs)
	}
	if r := recs["not a url"]; r.ErrorKind != "invalid_input" || code != exitSomeFailed {
		t.Errorf("bad input: exit %d, %+v; want 1, invalid_input", code, r)
	}
	if !strings.Contains(stderr, "0 not fetched (robots.txt") {
		t.Errorf("summary %q; want the count of URLs not fetched", stderr)
	}
	_, _, stderr = runCmd(t, "", "-r", "-l", "1", site.base+"/")
	if !strings.Contains(stderr, "fetched 3 in") || !strings.Contains(stderr, "1 not fetched (robots.txt") {
		t.Errorf("summary %q; want 3 fetched, 1 not fetched", stderr)
	}
}

// With -O, each 2xx page's body is saved, named as without -r.
func TestRecursiveSave(t *testing.T) {
	site := newCrawlSite(t)
	dir := t.TempDir()
	code, recs, stderr := crawl(t, "-r", "-O", dir, site.base+"/")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	prefix := strings.ReplaceAll(strings.TrimPrefix(site.base, "http://"), ":", "_") + "_"
	want := []string{"index.html", "a.html", "docs_b.html", "docs_c.html", "docs_d.html", "docs_deep.html"}
	for _, name := range want {
		data, err := os.ReadFile(filepath.Join(dir, prefix+name))
		if err != nil || !strings.Contains(string(data), "<title>") {
			t.Errorf("%s: %q, %v; want the page", name, data, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(want) {
		t.Errorf("%d files in -O's directory; want %d", len(entries), len(want))
	}
	if r := recs[site.base+"/docs/d.html"]; r.File != filepath.Join(dir, prefix+"docs_d.html") {
		t.Errorf("record %+v; want its file", r)
	}
	if r := recs[site.base+"/private/secret.html"]; r.File != "" {
		t.Errorf("disallowed: %+v; want no file", r)
	}
}

// Flags that make no sense together, or the flags of -r without it, are
// usage errors of one line naming them.
func TestRecursiveUsageErrors(t *testing.T) {
	u := "http://127.0.0.1:1/"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-r", "--queue", "redis://127.0.0.1:1/s", "-i", "x"}, "-r and --queue"},
		{[]string{"-r", "--queue", "redis://127.0.0.1:1/s", "--enqueue", "x"}, "-r and --queue"},
		{[]string{"-r", "-O", "d", "--continue", u}, "-r and --continue"},
		{[]string{"-r", "-O", "d", "--no-clobber", u}, "-r and --no-clobber"},
		{[]string{"-r", "-d", "a=b", u}, "-r and -d"},
		{[]string{"-r", "-X", "POST", u}, "-r and -X POST"},
		{[]string{"-r", "-X", "HEAD", u}, "-r and -X HEAD"},
		{[]string{"-r", "--demo"}, "-r and --demo"},
		{[]string{"-r", "-H", "User-Agent:", u}, `-r and -H "User-Agent:"`},
		{[]string{"-l", "2", u}, "-l/--level: only with -r"},
		{[]string{"--span-hosts", u}, "--span-hosts: only with -r"},
		{[]string{"--no-parent", u}, "--no-parent: only with -r"},
		{[]string{"--accept-regex", "x", u}, "--accept-regex: only with -r"},
		{[]string{"--reject-regex", "x", u}, "--reject-regex: only with -r"},
		{[]string{"--max-pages", "3", u}, "--max-pages: only with -r"},
		{[]string{"--ignore-robots", u}, "--ignore-robots: only with -r"},
		{[]string{"-r", "--accept-regex", "(", u}, "--accept-regex: error parsing regexp"},
		{[]string{"-r", "--reject-regex", "[", u}, "--reject-regex: error parsing regexp"},
		{[]string{"-r", "-l", "-1", u}, "-l, --level"},
		{[]string{"-r", "-l", "deep", u}, "or inf"},
		{[]string{"-r", "--max-pages", "-1", u}, "--max-pages -1"},
		{[]string{"-r", "-np", u}, "--no-parent"},
		{[]string{"-r", "--span-hosts", "-u", "a:b", u}, "--span-hosts and -u"},
		{[]string{"-r", "--span-hosts", "-H", "Authorization: Bearer x", u}, "--span-hosts and -H Authorization"},
		{[]string{"-r", "--span-hosts", "-H", "X-Api-Key: x", u}, "--span-hosts and -H X-Api-Key"},
		{[]string{"-r", "-H", u}, "--span-hosts"},
	} {
		code, out, stderr := runCmd(t, "", c.args...)
		if code != exitUsage || out != "" || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("fetch %q: exit %d, stderr %q; want 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
}

// --total ends a crawl as it ends a list, saying what it left; the
// progress bar, with no total, counts the pages.
func TestRecursiveTotalAndProgress(t *testing.T) {
	site := newCrawlSite(t)
	page := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			fmt.Fprintf(w, "<a href=/docs/d.html>d</a><a href=%s/slow>slow</a>", site.base)
			return
		}
		http.Redirect(w, r, site.base+r.URL.Path, http.StatusFound)
	}
	front := httptest.NewServer(http.HandlerFunc(page))
	defer front.Close()
	code, out, stderr := runCmd(t, "", "-q", "-r", "--span-hosts", "--total", "1s", front.URL+"/")
	recs := records(t, out)
	if r := recs[site.base+"/slow"]; code != exitSomeFailed || r.ErrorKind != "deadline" {
		t.Errorf("--total: exit %d, records %v; want 1, /slow ended by the deadline", code, recs)
	}
	want := fmt.Sprintf("fetch: --total 1s reached after %d results: the rest of the crawl was not fetched\n", len(recs))
	if stderr != want {
		t.Errorf("stderr %q; want %q", stderr, want)
	}

	code, _, stderr = runStd(t, stdio{in: strings.NewReader(""), errTerminal: true}, "-r", "--no-parent", site.base+"/docs/b.html")
	if code != exitOK || !strings.Contains(stderr, "/-, ") || !strings.Contains(stderr, "fetched 2 in") {
		t.Errorf("with a bar: exit %d, stderr %q; want 0, a bar with no total, and a summary of 2", code, stderr)
	}
}
