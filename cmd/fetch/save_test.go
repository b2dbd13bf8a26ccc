package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/c989c033/fetch/internal/testserver"
)

// echoPath answers each request with its request URI, and with pages for
// /big?n=N (N bytes), /missing (404) and /page.html (a titled HTML page).
func echoPath(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/missing":
		http.NotFound(w, r)
	case "/big":
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for ; n > 0; n -= len(chunk) {
			w.Write(chunk[:min(n, len(chunk))])
		}
	case "/page.html":
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><title>A page</title></html>"))
	default:
		w.Write([]byte(r.RequestURI))
	}
}

// -O DIR saves each 2xx body in a file of its own, named from the URL, and
// the JSON line says which; a failure leaves no file, whole or partial.
func TestSaveToDir(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "new", "dir") // made as needed
	host := strings.ReplaceAll(strings.TrimPrefix(srv.URL, "http://"), ":", "_")
	urls := []string{srv.URL + "/a/b.txt", srv.URL, srv.URL + "/q?x=1&y=2", srv.URL + "/page.html",
		srv.URL + "/missing", srv.URL + "/big?n=2000"}
	code, out, stderr := runCmd(t, "", append([]string{"-q", "-O", dir, "--title", "--max-body", "1000"}, urls...)...)
	if code != exitSomeFailed {
		t.Fatalf("exit %d, stderr %q; want 1 (two failed)", code, stderr)
	}
	recs := records(t, out)
	for u, want := range map[string]struct{ name, body string }{
		urls[0]: {host + "_a_b.txt", "/a/b.txt"},
		urls[1]: {host + "_index.html", "/"},
		urls[2]: {host + "_q_x=1_y=2", "/q?x=1&y=2"},
		urls[3]: {host + "_page.html", "<html><title>A page</title></html>"},
	} {
		r := recs[u]
		data, err := os.ReadFile(filepath.Join(dir, want.name))
		if r.File != filepath.Join(dir, want.name) || err != nil || string(data) != want.body || r.Bytes != int64(len(want.body)) {
			t.Errorf("%s: record %+v, file %q (%v); want it saved in %s", u, r, data, err, want.name)
		}
	}
	if r := recs[urls[3]]; r.Title != "A page" {
		t.Errorf("record %+v; want the saved page's title", r)
	}
	if r := recs[urls[4]]; r.File != "" || r.Status != 404 || r.ErrorKind != "status" {
		t.Errorf("record %+v; want a status error and no file", r)
	}
	if r := recs[urls[5]]; r.File != "" || r.ErrorKind != "body_too_large" {
		t.Errorf("record %+v; want body_too_large and no file", r)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("%d files in %s: %v; want the 4 saved, nothing else", len(entries), dir, entries)
	}
}

// No URL can put a file anywhere but directly in the directory: not with
// .. in its path, plain or percent-encoded, nor an absolute path,
// backslashes, NUL, or a name too long for the file system; nor through a
// symbolic link found in the directory under the name the URL gets.
func TestSaveNoTraversal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	os.Mkdir(dir, 0o755)
	outside := filepath.Join(parent, "secret")
	os.WriteFile(outside, []byte("untouched"), 0o644)
	host := strings.ReplaceAll(strings.TrimPrefix(srv.URL, "http://"), ":", "_")
	if err := os.Symlink(outside, filepath.Join(dir, host+"_link")); err != nil {
		t.Fatal(err)
	}
	urls := []string{
		srv.URL + "/../../secret", srv.URL + "/%2e%2e%2f%2e%2e%2fsecret", srv.URL + "/%2E%2E/%2E%2E/secret",
		srv.URL + "//etc/passwd", srv.URL + "/a%5C..%5C..%5Csecret", srv.URL + "/a%00b", srv.URL + "/..",
		srv.URL + "/" + strings.Repeat("long", 100), srv.URL + "/.hidden", srv.URL + "/link",
	}
	code, out, stderr := runCmd(t, "", append([]string{"-q", "-O", dir}, urls...)...)
	recs := records(t, out)
	if code != exitOK || len(recs) != len(urls) {
		t.Fatalf("exit %d, %d records, stderr %q; want 0 and %d", code, len(recs), stderr, len(urls))
	}
	for u, r := range recs {
		name := filepath.Base(r.File)
		fi, err := os.Lstat(r.File)
		if filepath.Dir(r.File) != dir || !filepath.IsLocal(name) || strings.HasPrefix(name, ".") || len(name) > 255 ||
			err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s saved as %q (%v); want a plain file directly in %s", u, r.File, err, dir)
		}
	}
	if data, _ := os.ReadFile(outside); string(data) != "untouched" {
		t.Errorf("%s = %q; a URL wrote outside the directory", outside, data)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 2 {
		t.Errorf("%s holds %v; want only out and secret", parent, entries)
	}
}

// Inputs whose names collide get suffixes .1, .2, … in input order, however
// the requests finish: here the first input is answered last.
func TestSaveCollisions(t *testing.T) {
	others := make(chan struct{}, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.RequestURI == "/a_b" { // the first input: wait for the others
			for range 4 {
				select {
				case <-others:
				case <-r.Context().Done():
					return
				}
			}
		} else {
			defer func() { others <- struct{}{} }()
		}
		echoPath(w, r)
	}))
	defer srv.Close()
	dir := t.TempDir()
	host := strings.ReplaceAll(strings.TrimPrefix(srv.URL, "http://"), ":", "_")
	base := host + "_a_b"
	urls := []string{srv.URL + "/a_b", srv.URL + "/a%20b", srv.URL + "/a:b", srv.URL + "/A_B", srv.URL + "/a%5Cb"}
	want := []string{base, base + ".1", base + ".2", host + "_A_B.3", base + ".4"}
	code, out, stderr := runCmd(t, "", append([]string{"-q", "-c", "8", "-O", dir}, urls...)...)
	recs := records(t, out)
	if code != exitOK || len(recs) != len(urls) {
		t.Fatalf("exit %d, %d records, stderr %q; want 0 and %d", code, len(recs), stderr, len(urls))
	}
	for i, u := range urls {
		r := recs[u]
		data, _ := os.ReadFile(r.File)
		if r.File != filepath.Join(dir, want[i]) || string(data) != strings.TrimPrefix(u, srv.URL) {
			t.Errorf("%s: saved as %s holding %q; want %s holding its path", u, r.File, data, want[i])
		}
	}
}

// -O streams each body to its file: saving 64 MiB allocates far less than
// the body.
func TestSaveStreamsBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	dir := t.TempDir()
	const size = 64 << 20
	u := srv.URL + "/big?n=" + strconv.Itoa(size)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	code, out, stderr := runCmd(t, "", "-q", "--max-body", strconv.Itoa(2*size), "-O", dir, u)
	runtime.ReadMemStats(&after)
	r := records(t, out)[u]
	fi, err := os.Stat(r.File)
	if code != exitOK || err != nil || fi.Size() != size || r.Bytes != size {
		t.Fatalf("exit %d, stderr %q, record %+v; want 0 and a file of %d bytes", code, stderr, r, size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
		t.Errorf("saving %d bytes allocated %d; want the body streamed, not held", size, alloc)
	}
}

// A response saved with -O after retries counts its attempts.
func TestSaveCountsAttempts(t *testing.T) {
	srv := testserver.Start(testserver.Config{})
	defer srv.Close()
	u := srv.URL + "/items/1?fail=2&retry_after=0"
	code, out, stderr := runCmd(t, "", "-q", "-O", t.TempDir(), u)
	if r := records(t, out)[u]; code != exitOK || r.Attempts != 3 || r.Status != 200 || r.File == "" {
		t.Errorf("exit %d, stderr %q, record %+v; want 0, saved after 3 attempts", code, stderr, r)
	}
}

// A body cut short while -O saves it is retried, as it is without -O, and
// the file holds the whole body of the attempt that succeeded.
func TestSaveRetriesBodyCutShort(t *testing.T) {
	var mu sync.Mutex
	cut := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := !cut
		cut = true
		mu.Unlock()
		if first { // promise 100 bytes, send 5, hang up
			w.Header().Set("Content-Length", "100")
			w.Write([]byte("short"))
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Write(bytes.Repeat([]byte("y"), 100))
	}))
	defer srv.Close()
	dir := t.TempDir()
	u := srv.URL + "/cut"
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, u)
	r := records(t, out)[u]
	data, _ := os.ReadFile(r.File)
	if code != exitOK || r.Attempts != 2 || r.Bytes != 100 || string(data) != strings.Repeat("y", 100) {
		t.Errorf("exit %d, stderr %q, record %+v, file %q; want 0, saved whole on the 2nd attempt", code, stderr, r, data)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%s holds %v; want the one file, no leftovers", dir, entries)
	}
}

// With -O, a failure is reported as it is without: the same status, error,
// kind, attempts and final URL, the start of an error body included.
func TestSaveReportsFailuresAsWithout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gone":
			http.Redirect(w, r, "/missing", http.StatusFound)
		case "/sized":
			w.Header().Set("Content-Length", "5000")
			w.Write(bytes.Repeat([]byte("z"), 5000))
		default:
			echoPath(w, r)
		}
	}))
	defer srv.Close()
	urls := []string{srv.URL + "/missing", srv.URL + "/gone", srv.URL + "/sized", srv.URL + "/big?n=5000"}
	args := append([]string{"-q", "--retries", "0", "--max-body", "1000"}, urls...)
	_, plain, _ := runCmd(t, "", args...)
	code, saved, stderr := runCmd(t, "", append([]string{"-O", t.TempDir()}, args...)...)
	want, got := records(t, plain), records(t, saved)
	if code != exitSomeFailed || len(got) != len(urls) {
		t.Fatalf("exit %d, stderr %q, %d records; want 1 and %d", code, stderr, len(got), len(urls))
	}
	for _, u := range urls {
		w, g := want[u], got[u]
		if g.Error != w.Error || g.ErrorKind != w.ErrorKind || g.Status != w.Status || g.FinalURL != w.FinalURL ||
			g.Attempts != w.Attempts || g.File != "" {
			t.Errorf("%s with -O: %+v\nwithout: %+v", u, g, w)
		}
	}
}

// duration_ms, and the latencies of the summary, time the request, with -O
// as without: not the time an input waited for its turn under --rate.
func TestSaveDurationExcludesWaiting(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	urls := []string{srv.URL + "/1", srv.URL + "/2", srv.URL + "/3"}
	// At 2 a second, the third waits a second for its turn.
	code, out, stderr := runCmd(t, "", append([]string{"-q", "--rate", "2", "-O", t.TempDir()}, urls...)...)
	recs := records(t, out)
	if code != exitOK || len(recs) != 3 {
		t.Fatalf("exit %d, stderr %q, %d records; want 0 and 3", code, stderr, len(recs))
	}
	for u, r := range recs {
		if r.DurationMS >= 500 {
			t.Errorf("%s: duration_ms %d; want the request's own time, not its wait for --rate", u, r.DurationMS)
		}
	}
}
