package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// reviewSite serves HTML pages by path, each the body given; /robots.txt
// and any other path are 404s, and a page given as "->/target"
// redirects there with a 301.
func reviewSite(t *testing.T, pages map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		switch {
		case !ok:
			http.NotFound(w, r)
		case len(body) > 2 && body[:2] == "->":
			http.Redirect(w, r, body[2:], http.StatusMovedPermanently)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, body)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// -r follows a <meta http-equiv="refresh">, as wget -r does: a site whose
// home page is a refresh to where its content starts is crawled, not
// left at its first page.
func TestRecursiveFollowsMetaRefresh(t *testing.T) {
	base := reviewSite(t, map[string]string{
		"/":                `<!doctype html><meta http-equiv="refresh" content="0; url=/home/">`,
		"/home/":           `<a href="about.html">about</a>`,
		"/home/about":      "",
		"/home/about.html": "about",
	})
	code, recs, stderr := crawl(t, "-r", base+"/")
	if got, want := paths(recs, base), []string{"/", "/home/", "/home/about.html"}; code != exitOK || !slices.Equal(got, want) {
		t.Errorf("exit %d, pages %v; want 0 and %v: %s", code, got, want, stderr)
	}
}

// A seed is fetched whatever --accept-regex and --reject-regex say, as
// the README promises, and so is where it redirects
// (/papers to /papers/, as servers add the slash of a directory): the
// crawl goes on from there, not ending at once with the seed out of
// scope.
func TestRecursiveSeedRedirectWhateverTheRules(t *testing.T) {
	base := reviewSite(t, map[string]string{
		"/papers":        "->/papers/",
		"/papers/":       `<a href="x.pdf">x</a> <a href="y.html">y</a> <a href="/">home</a>`,
		"/papers/x.pdf":  "%PDF",
		"/papers/y.html": "y",
		"/":              "home",
	})
	for _, tc := range []struct {
		flags []string
		want  []string
	}{
		{[]string{"--accept-regex", `\.pdf$`}, []string{"/papers", "/papers/x.pdf"}},
		{[]string{"--reject-regex", `papers/$|\.html$`}, []string{"/", "/papers", "/papers/x.pdf"}},
	} {
		code, recs, stderr := crawl(t, append(append([]string{"-r"}, tc.flags...), base+"/papers")...)
		if got := paths(recs, base); code != exitOK || !slices.Equal(got, tc.want) || recs[base+"/papers"].Status != 200 {
			t.Errorf("%v: exit %d, pages %v, seed %+v; want 0, %v and the seed's 200: %s", tc.flags, code, got, recs[base+"/papers"], tc.want, stderr)
		}
	}
}

// --no-parent keeps to the directory of a seed, or of where the seed
// redirects (a documentation site's /latest/ to /v2/): the crawl goes on
// under /v2/, not out of it.
func TestRecursiveNoParentSeedRedirect(t *testing.T) {
	base := reviewSite(t, map[string]string{
		"/latest/":       "->/v2/",
		"/v2/":           `<a href="a.html">a</a> <a href="/v1/">v1</a> <a href="/">home</a>`,
		"/v2/a.html":     `<a href="/latest/b.html">b</a>`,
		"/latest/b.html": "b",
		"/v1/":           "v1",
		"/":              "home",
	})
	code, recs, stderr := crawl(t, "-r", "--no-parent", base+"/latest/")
	if got, want := paths(recs, base), []string{"/latest/", "/latest/b.html", "/v2/a.html"}; code != exitOK || !slices.Equal(got, want) {
		t.Errorf("exit %d, pages %v; want 0 and %v: %s", code, got, want, stderr)
	}
}
