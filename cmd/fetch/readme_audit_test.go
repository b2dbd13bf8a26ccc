package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readmeServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			w.WriteHeader(404)
		default:
			io.WriteString(w, "body of "+r.URL.Path)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// README: an input with no URL: "fetch: no URLs in FILE" (or "on standard input"), exit status 2.
func TestReadmeAuditNoURLs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "urls.txt")
	os.WriteFile(file, []byte("\n# only a comment\n\n"), 0o644)
	code, out, stderr := runCmd(t, "", "-i", file)
	if code != 2 || out != "" || stderr != "fetch: no URLs in "+file+"\n" {
		t.Errorf("-i FILE: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCmd(t, "# nothing\n", "-")
	if code != 2 || stderr != "fetch: no URLs on standard input\n" {
		t.Errorf("stdin: exit %d, stderr %q", code, stderr)
	}
}

// README: `fetch: line 3: "not a url": invalid URL: invalid character " " in host name`,
// blank lines and comments counted; error_kind invalid_input; no attempt.
func TestReadmeAuditBadLine(t *testing.T) {
	srv := readmeServer(t)
	code, out, _ := runCmd(t, srv.URL+"/a\n# c\nnot a url\n", "-q", "-")
	recs := lineRecords(t, out)
	if code != 1 || len(recs) != 2 {
		t.Fatalf("exit %d, records %v", code, recs)
	}
	var bad record
	for _, r := range recs {
		if r.Error != "" {
			bad = r
		}
	}
	want := `fetch: line 3: "not a url": invalid URL: invalid character " " in host name`
	if bad.Error != want || bad.ErrorKind != "invalid_input" || bad.Attempts != 0 {
		t.Errorf("record %+v; want error %q", bad, want)
	}
}

// README: schemeless URLs are http, record url as given; ftp:// and file:// refused.
func TestReadmeAuditSchemeless(t *testing.T) {
	srv := readmeServer(t)
	hostport := strings.TrimPrefix(srv.URL, "http://")
	code, out, stderr := runCmd(t, "", "-q", hostport+"/x", "ftp://x", "file:///etc/passwd")
	recs := records(t, out)
	if code != 1 {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if r := recs[hostport+"/x"]; r.Status != 200 || r.Error != "" {
		t.Errorf("schemeless: %+v (records %v)", r, recs)
	}
	for _, u := range []string{"ftp://x", "file:///etc/passwd"} {
		if r := recs[u]; r.ErrorKind != "invalid_input" || r.Attempts != 0 {
			t.Errorf("%s: %+v", u, r)
		}
	}
}

// README: -demo refused ("long flags take two dashes"), --host-c works, exit statuses.
func TestReadmeAuditFlags(t *testing.T) {
	code, _, stderr := runCmd(t, "", "-demo")
	if code != 2 || !strings.Contains(stderr, "--demo") {
		t.Errorf("-demo: exit %d, %q", code, stderr)
	}
	srv := readmeServer(t)
	code, _, stderr = runCmd(t, "", "-q", "--host-c", "2", srv.URL+"/a")
	if code != 0 {
		t.Errorf("--host-c: exit %d, %q", code, stderr)
	}
	code, _, _ = runCmd(t, "", "-q", srv.URL+"/a", srv.URL+"/missing")
	if code != 1 {
		t.Errorf("a 404: exit %d; want 1", code)
	}
	// URLs after flags and flags after URLs.
	code, out, _ := runCmd(t, "", srv.URL+"/a", "-q", "-c", "4")
	if code != 0 || len(lineRecords(t, out)) != 1 {
		t.Errorf("flags after URLs: exit %d, %q", code, out)
	}
}

// README (-O): names, collisions (.1 in input order), no file for non-2xx or HEAD.
func TestReadmeAuditOutputDir(t *testing.T) {
	srv := readmeServer(t)
	dir := t.TempDir()
	host := strings.TrimPrefix(srv.URL, "http://")
	hostName := strings.ReplaceAll(host, ":", "_")
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, srv.URL+"/a/b.html", srv.URL+"/", srv.URL+"/a/b.html", srv.URL+"/missing")
	if code != 1 {
		t.Errorf("exit %d: %s", code, stderr)
	}
	var files []string
	for _, r := range lineRecords(t, out) {
		files = append(files, r.File)
	}
	slices.Sort(files)
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{hostName + "_a_b.html", hostName + "_a_b.html.1", hostName + "_index.html"}
	if !slices.Equal(names, want) {
		t.Errorf("files %q; want %q (records' files %q)", names, want, files)
	}
	dir2 := t.TempDir()
	code, out, _ = runCmd(t, "", "-q", "-X", "HEAD", "-O", dir2, srv.URL+"/a")
	entries, _ = os.ReadDir(dir2)
	if r := lineRecords(t, out); code != 0 || len(entries) != 0 || len(r) != 1 || r[0].File != "" {
		t.Errorf("HEAD: exit %d, %d files, %q", code, len(entries), out)
	}
}

// README: -d makes a POST with application/x-www-form-urlencoded unless -H sets one;
// -H "Name;" sends an empty value; -H "Name:" removes User-Agent.
func TestReadmeAuditDataAndHeaders(t *testing.T) {
	var got *http.Request
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
	}))
	defer srv.Close()
	code, _, stderr := runCmd(t, "", "-q", "-d", "a=1", "-d", "b=2", "-H", "X-Empty;", "-H", "User-Agent:", srv.URL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got.Method != "POST" || got.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || body != "a=1&b=2" {
		t.Errorf("method %s, content type %q, body %q", got.Method, got.Header.Get("Content-Type"), body)
	}
	if v, ok := got.Header["X-Empty"]; !ok || len(v) != 1 || v[0] != "" {
		t.Errorf("X-Empty: %q, %v", v, ok)
	}
	if _, ok := got.Header["User-Agent"]; ok {
		t.Errorf("User-Agent sent: %q", got.Header.Get("User-Agent"))
	}
}
