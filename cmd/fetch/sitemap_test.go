package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// sitemapServer serves a robots.txt naming a sitemap and a missing one;
// the sitemap lists /a (which links to /b) and /missing.
func sitemapServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprintf(w, "User-agent: *\nSitemap: http://%[1]s/sitemap.xml\nSitemap: http://%[1]s/gone.xml\n", r.Host)
		case "/sitemap.xml":
			fmt.Fprintf(w, `<urlset><url><loc>http://%[1]s/a</loc></url><url><loc>http://%[1]s/missing</loc></url></urlset>`, r.Host)
		case "/a":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<title>A</title><a href="/b">b</a>`)
		case "/b":
			fmt.Fprint(w, "b")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// --sitemap fetches the URLs a robots.txt's sitemaps list; a sitemap that
// cannot be read is a record that says so, and fails the run.
func TestSitemapInput(t *testing.T) {
	srv := sitemapServer(t)
	dir := t.TempDir()
	for _, args := range [][]string{nil, {"-O", dir}} {
		code, out, stderr := runCmd(t, "", append([]string{"-q", "--sitemap", srv.URL + "/robots.txt"}, args...)...)
		recs := records(t, out)
		gone := recs[srv.URL+"/gone.xml"]
		if code != exitSomeFailed || len(recs) != 3 || recs[srv.URL+"/a"].Status != 200 || recs[srv.URL+"/missing"].Status != 404 ||
			gone.ErrorKind != "status" || !strings.Contains(gone.Error, "sitemap not read: status 404") {
			t.Errorf("%v: exit %d, records %+v (%s); want 1, /a 200, /missing 404, and /gone.xml not read", args, code, recs, stderr)
		}
	}
	if b, err := os.ReadFile(savedA(t, dir)); err != nil || !strings.Contains(string(b), "<title>A</title>") {
		t.Errorf("-O: /a's file holds %q (%v)", b, err)
	}

	// A URL without a scheme is over http, as any URL given; a scheme in
	// capitals is a scheme.
	bare := strings.TrimPrefix(srv.URL, "http://") + "/sitemap.xml"
	for _, u := range []string{bare, "HTTP://" + bare} {
		if _, out, stderr := runCmd(t, "", "-q", "--sitemap", u); len(records(t, out)) != 2 {
			t.Errorf("--sitemap %s: %s %s; want the two URLs it lists", u, out, stderr)
		}
	}

	// With -r, the sitemap's URLs are the seeds.
	_, out, _ := runCmd(t, "", "-q", "-r", "--sitemap", srv.URL+"/sitemap.xml")
	if r := records(t, out)[srv.URL+"/b"]; r.Status != 200 || r.Depth != 1 || r.Referrer != srv.URL+"/a" {
		t.Errorf("-r --sitemap: /b's record %+v; want it found on /a, at depth 1", r)
	}

	for _, args := range [][]string{
		{"--sitemap", "ftp://example.com/sitemap.xml"},
		{"--sitemap", srv.URL + "/robots.txt", srv.URL + "/a"},
		{"--sitemap", srv.URL + "/robots.txt", "-i", "urls.txt"},
		{"--sitemap", srv.URL + "/robots.txt", "--demo"},
	} {
		if code, _, stderr := runCmd(t, "", args...); code != exitUsage || !strings.Contains(stderr, "--sitemap") {
			t.Errorf("%v: exit %d, %q; want a usage error naming --sitemap", args, code, stderr)
		}
	}
}

// savedA returns the path of the one file -O saved /a's body in under dir.
func savedA(t *testing.T, dir string) string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "_a") {
			return dir + "/" + e.Name()
		}
	}
	t.Fatalf("no file for /a in %s: %v", dir, entries)
	return ""
}
