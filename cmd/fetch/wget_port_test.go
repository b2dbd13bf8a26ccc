package main

// GNU wget's tests of -c (--continue), -nc (--no-clobber), -O and -i,
// ported onto the command-line tool:
//
//   - mirror/wget (a mirror of GNU wget, commit
//     8775506f632f14404e4755dbae679dea07abf12a), the Python suite
//     testenv/Test-416.py, testenv/Test-c-full.py and testenv/Test-O.py, run
//     against a loopback server (wgetPyServer) that answers as
//     testenv/server/http/http_server.py does;
//   - from the same commit, the Perl suite tests/Test-c.px,
//     tests/Test-c-full.px, tests/Test-c-partial.px, tests/Test-c-shorter.px,
//     tests/Test-O.px, tests/Test-O-nc.px, tests/Test-O-nonexisting.px,
//     tests/Test-i-http.px and tests/Test-stdouterr.px, run against a
//     loopback server (wgetPxServer) that answers as tests/HTTPServer.pm
//     does.
//
// Tests are named TestPortWget<test>, Py or Px telling apart the two
// Test-c-full and the two Test-O. Two go past the suites:
// TestPortWget416ContentRange runs Test-416.py against a server whose 416s
// carry a Content-Range, and TestPortWgetResumed416NotWaited gives
// HTTPServer.pm's 416 to the resumed retry of a plain -O download. wget
// maps onto fetch like this:
//
//   - wget -c is --continue, -nc is --no-clobber; both need -O DIR, which
//     is where wget writes without -O: the file wget names somefile.txt is
//     HOST_PORT_somefile.txt in DIR;
//   - wget -O FILE writes every body to the one FILE; fetch's -O DIR
//     writes each to its own file in DIR, so the tests of -O check the file
//     named for the URL;
//   - wget -i takes a file or a URL to read the list from; fetch's -i
//     takes a file (or - for standard input) only;
//   - wget's exit status 8 (the server answered an error) and 3 (a file
//     could not be written) are both fetch's 1 (some URL failed).
//
// Not ported: tests/Test--start-pos--continue.px (fetch has no
// --start-pos), tests/Test-i-ftp.px (fetch refuses ftp:// URLs),
// tests/Test-iri-list.px (fetch converts no charsets), the -N tests and
// testenv/Test-condget.py (fetch has no timestamping) and
// testenv/Test-metalink-xml-continue.py (no metalink).

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// wgetLog notes each request a wget test server answers, as "PATH RANGE".
type wgetLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *wgetLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, strings.TrimSpace(r.URL.Path+" "+r.Header.Get("Range")))
}

func (l *wgetLog) requests() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.reqs...)
}

// wgetHost returns how the names of the files -O saves from srv begin.
func wgetHost(srv *httptest.Server) string {
	return strings.ReplaceAll(strings.TrimPrefix(srv.URL, "http://"), ":", "_") + "_"
}

// wgetPyServer serves files by path as wget's testenv server does: a 200
// with Content-Type and Content-Length; for Range: bytes=N- with N short of
// the length, a 206 with Accept-Ranges, Content-Range and Content-Length;
// for N at or past the length, a 416 with no Content-Range, as HTTP/1.0
// (the connection closed after it). The first 416 has no body, the later
// ones the 17 bytes "Range Unsatisfied": the two cases Test-416.py says
// it checks.
func wgetPyServer(t *testing.T, files map[string]string) (*httptest.Server, *wgetLog) {
	log := &wgetLog{}
	var mu sync.Mutex
	overflows := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		content, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.Error(w, "Not Found", http.StatusNotFound)
			return
		}
		var from int
		ranged := r.Header.Get("Range") != ""
		if ranged {
			if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &from); err != nil {
				ranged = false
			}
		}
		if ranged && from >= len(content) {
			mu.Lock()
			n := overflows
			overflows++
			mu.Unlock()
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			buf.WriteString("HTTP/1.0 416 Requested Range Not Satisfiable\r\nServer: BaseHTTP/0.6 Python/3\r\n")
			if n > 0 {
				buf.WriteString("Content-Length: 17\r\n\r\nRange Unsatisfied")
			} else {
				buf.WriteString("\r\n")
			}
			buf.Flush()
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		if ranged {
			h.Set("Accept-Ranges", "bytes")
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(content)-1, len(content)))
		}
		h.Set("Content-Length", fmt.Sprint(len(content)-from))
		if ranged {
			w.WriteHeader(http.StatusPartialContent)
		}
		io.WriteString(w, content[from:])
	}))
	t.Cleanup(srv.Close)
	return srv, log
}

// wgetPxFile is a URL of wget's Perl HTTPServer: its status, headers and
// content. With forceCode, a Range is ignored; a Content-Length among the
// headers is sent as it is, whatever the content's length.
type wgetPxFile struct {
	code      int
	headers   map[string]string
	content   string
	forceCode bool
}

// wgetPxServer serves files by path as wget's tests/HTTPServer.pm does. A
// Range: bytes=N- short of the content's end is a 206 with Accept-Ranges,
// Content-Length, Content-Range and Keep-Alive; one at or past it is a 416
// of a status line, Date and Server, and nothing else: no Content-Length,
// over a connection HTTPServer.pm keeps open for the next request, so a
// client that waited for the 416's body to end would wait until the
// connection is closed. The test's end closes such connections.
func wgetPxServer(t *testing.T, files map[string]wgetPxFile) (*httptest.Server, *wgetLog) {
	log := &wgetLog{}
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		f, ok := files[r.URL.Path]
		if !ok {
			http.Error(w, "Not Found", http.StatusNotFound)
			return
		}
		for k, v := range f.headers {
			w.Header().Set(k, v)
		}
		if _, ok := f.headers["Content-Length"]; ok || f.forceCode || r.Header.Get("Range") == "" {
			w.WriteHeader(f.code)
			io.WriteString(w, f.content)
			return
		}
		var from int
		fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &from)
		if n := len(f.content) - from; n > 0 {
			h := w.Header()
			h.Set("Accept-Ranges", "bytes")
			h.Set("Content-Length", fmt.Sprint(n))
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(f.content)-1, len(f.content)))
			h.Set("Keep-Alive", "timeout=15, max=100")
			h.Set("Connection", "Keep-Alive")
			w.WriteHeader(http.StatusPartialContent)
			io.WriteString(w, f.content[from:])
			return
		}
		wgetPx416(t, w, ctx)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(cancel) // before srv.Close: cleanups run last first
	return srv, log
}

// wgetPx416 answers as HTTPServer.pm answers a Range past the end: a 416
// with no Content-Length, and the connection kept open until the client
// closes it or ctx is done.
func wgetPx416(t *testing.T, w http.ResponseWriter, ctx context.Context) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close()
	buf.WriteString("HTTP/1.1 416 Range Not Satisfiable\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\nServer: libwww-perl-daemon/6\r\n\r\n")
	buf.Flush()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	io.Copy(io.Discard, bufio.NewReader(conn))
}

// wgetExpect fails t unless dir holds exactly the files in want (by name
// after the host prefix), with the content given.
func wgetExpect(t *testing.T, dir, host string, want map[string]string) {
	t.Helper()
	var names []string
	for name, content := range want {
		names = append(names, host+name)
		if got := ncRead(dir, host+name); got != content {
			t.Errorf("%s holds %q; want %q", name, got, content)
		}
	}
	slices.Sort(names)
	if got := dirNames(t, dir); !slices.Equal(got, names) {
		t.Errorf("the directory holds %q; want %q", got, names)
	}
}

const (
	wgetFile1 = "abababababababababababababababababababababababababababababababababab"
	wgetFile2 = "ababababababababababababababababababab"
)

// testenv/Test-416.py: with -c, a server's 416 (no Content-Range, with a
// body or without) to a file that is complete (File1) or longer than the
// remote body (File2, 68 bytes locally, 38 on the server) leaves the file
// as it is, and File3, not there yet, is fetched whole; exit status 0.
// fetch takes a 416 that gives no size as wget does: the file is complete.
func TestPortWget416(t *testing.T) {
	srv, log := wgetPyServer(t, map[string]string{"File1": wgetFile1, "File2": wgetFile2, "File3": wgetFile1})
	dir, host := t.TempDir(), wgetHost(srv)
	os.WriteFile(filepath.Join(dir, host+"File1"), []byte(wgetFile1), 0o644)
	os.WriteFile(filepath.Join(dir, host+"File2"), []byte(wgetFile1), 0o644)
	code, out, stderr := runCmd(t, "", "-q", "-c", "1", "--continue", "-O", dir,
		srv.URL+"/File1", srv.URL+"/File2", srv.URL+"/File3")
	if code != exitOK {
		t.Errorf("exit %d (%s); want 0", code, stderr)
	}
	wgetExpect(t, dir, host, map[string]string{"File1": wgetFile1, "File2": wgetFile1, "File3": wgetFile1})
	recs := records(t, out)
	for _, p := range []string{"File1", "File2"} {
		if r := recs[srv.URL+"/"+p]; r.Skipped != "complete" || r.Error != "" {
			t.Errorf("%s: record %+v; want skipped complete", p, r)
		}
	}
	want := "[/File1 bytes=68- /File2 bytes=68- /File3]"
	if got := fmt.Sprint(log.requests()); got != want {
		t.Errorf("requests %s; want %s", got, want)
	}
}

// testenv/Test-416.py, against a server that answers its 416s as RFC 9110
// asks, with Content-Range: bytes */LENGTH (http.ServeContent's). wget
// takes every 416 to -c for a file complete already, and expects exit
// status 0 with File2 (68 bytes here, 38 on the server) left as it is.
// fetch, as its README says, fails the input whose 416 gives the body
// another size than the file's (exit status 1), and leaves the file as it
// is too; File1's 416 says its size, and it is complete.
func TestPortWget416ContentRange(t *testing.T) {
	files := map[string]string{"File1": wgetFile1, "File2": wgetFile2, "File3": wgetFile1}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(files[strings.TrimPrefix(r.URL.Path, "/")]))
	}))
	t.Cleanup(srv.Close)
	dir, host := t.TempDir(), wgetHost(srv)
	os.WriteFile(filepath.Join(dir, host+"File1"), []byte(wgetFile1), 0o644)
	os.WriteFile(filepath.Join(dir, host+"File2"), []byte(wgetFile1), 0o644)
	code, out, _ := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/File1", srv.URL+"/File2", srv.URL+"/File3")
	recs := records(t, out)
	if r := recs[srv.URL+"/File2"]; code != exitSomeFailed || !strings.Contains(r.Error, "the file holds 68 bytes, the body 38") {
		t.Errorf("exit %d, File2's record %+v; want 1 (wget: 0), an error giving both sizes", code, r)
	}
	if r := recs[srv.URL+"/File1"]; r.Skipped != "complete" {
		t.Errorf("File1's record %+v; want skipped complete", r)
	}
	wgetExpect(t, dir, host, map[string]string{"File1": wgetFile1, "File2": wgetFile1, "File3": wgetFile1})
}

// testenv/Test-c-full.py: with -c, a file that holds the whole body
// (File1) is left as it is, one that holds its first 38 bytes (File2) is
// finished with a 206 of the other 30, and File3 is fetched whole; exit
// status 0.
func TestPortWgetCFullPy(t *testing.T) {
	srv, log := wgetPyServer(t, map[string]string{"File1": wgetFile1, "File2": wgetFile1, "File3": wgetFile1})
	dir, host := t.TempDir(), wgetHost(srv)
	os.WriteFile(filepath.Join(dir, host+"File1"), []byte(wgetFile1), 0o644)
	os.WriteFile(filepath.Join(dir, host+"File2"), []byte(wgetFile2), 0o644)
	code, out, stderr := runCmd(t, "", "-q", "-c", "1", "--continue", "-O", dir,
		srv.URL+"/File1", srv.URL+"/File2", srv.URL+"/File3")
	if code != exitOK {
		t.Errorf("exit %d (%s); want 0", code, stderr)
	}
	wgetExpect(t, dir, host, map[string]string{"File1": wgetFile1, "File2": wgetFile1, "File3": wgetFile1})
	recs := records(t, out)
	if r := recs[srv.URL+"/File2"]; r.Status != http.StatusPartialContent || r.ResumedFrom != 38 || r.Bytes != 30 {
		t.Errorf("File2: record %+v; want a 206 of 30 bytes resumed from 38", r)
	}
	want := "[/File1 bytes=68- /File2 bytes=38- /File3]"
	if got := fmt.Sprint(log.requests()); got != want {
		t.Errorf("requests %s; want %s", got, want)
	}
}

// testenv/Test-O.py: wget -O NewFile.txt saves File1 as NewFile.txt. With
// fetch's -O DIR the body is saved in DIR under the URL's name.
func TestPortWgetOPy(t *testing.T) {
	srv, _ := wgetPyServer(t, map[string]string{"File1": "Test Contents."})
	dir, host := t.TempDir(), wgetHost(srv)
	code, _, stderr := runCmd(t, "", "-q", "-O", dir, srv.URL+"/File1")
	if code != exitOK {
		t.Errorf("exit %d (%s); want 0", code, stderr)
	}
	wgetExpect(t, dir, host, map[string]string{"File1": "Test Contents."})
}

// wgetWhole is the body of tests/Test-c*.px.
const wgetWhole = "11111111111111111111111111111111111111111111111111\n" +
	"222222222222222222222222222222222222222222222222222222222222\n" +
	"3333333333333333333333333333333333333333333333333333333333333333333333\n" +
	"444444444444444444444444444444444444444444444444444444444444\n" +
	"55555555555555555555555555555555555555555555555555\n"

// wgetPartial is the part of wgetWhole that tests/Test-c-partial.px and
// tests/Test-c-shorter.px have saved already, one byte changed.
const wgetPartial = "11111111111111111111111111111111111111111111111111\n" +
	"22222222x222222222222222222222222222222222222222222222222222\n"

// wgetPxText is a 200 of content as text/plain.
func wgetPxText(content string) map[string]wgetPxFile {
	return map[string]wgetPxFile{"/somefile.txt": {code: 200, headers: map[string]string{"Content-Type": "text/plain"}, content: content}}
}

// wgetContinuePx runs fetch --continue on srv's /somefile.txt, dir holding
// existing as its file if it is not nil, and returns the exit status and
// the record.
func wgetContinuePx(t *testing.T, srv *httptest.Server, dir string, existing []byte, args ...string) (int, record) {
	t.Helper()
	if existing != nil {
		os.WriteFile(filepath.Join(dir, wgetHost(srv)+"somefile.txt"), existing, 0o644)
	}
	u := srv.URL + "/somefile.txt"
	code, out, _ := runCmd(t, "", append([]string{"-q", "--continue", "-O", dir, u}, args...)...)
	return code, records(t, out)[u]
}

// tests/Test-c.px: -c with no file there fetches the body whole.
func TestPortWgetC(t *testing.T) {
	srv, log := wgetPxServer(t, wgetPxText(wgetWhole))
	dir := t.TempDir()
	code, rec := wgetContinuePx(t, srv, dir, nil)
	if code != exitOK || rec.Status != http.StatusOK || rec.ResumedFrom != 0 {
		t.Errorf("exit %d, record %+v; want 0, a 200 not resumed", code, rec)
	}
	wgetExpect(t, dir, wgetHost(srv), map[string]string{"somefile.txt": wgetWhole})
	if got := fmt.Sprint(log.requests()); got != "[/somefile.txt]" {
		t.Errorf("requests %s; want one, with no Range", got)
	}
}

// tests/Test-c-full.px: -c with the whole body there asks for the rest
// past its end, gets HTTPServer.pm's 416 (no Content-Range, no
// Content-Length, the connection kept open), and leaves the file as it
// is; exit status 0. wget reads no body of the 416, nor does fetch: one
// that waited for it to end would wait until the stall timeout (--timeout),
// or for ever with --timeout 0, for the server to close the connection.
func TestPortWgetCFullPx(t *testing.T) {
	srv, log := wgetPxServer(t, wgetPxText(wgetWhole))
	dir := t.TempDir()
	// No stall timeout: a run that waited for the 416's body would end
	// only at --total, failing.
	code, rec := wgetContinuePx(t, srv, dir, []byte(wgetWhole), "--timeout", "0", "--total", "20s")
	if code != exitOK || rec.Skipped != "complete" || rec.Error != "" {
		t.Errorf("exit %d, record %+v; want 0, skipped complete", code, rec)
	}
	wgetExpect(t, dir, wgetHost(srv), map[string]string{"somefile.txt": wgetWhole})
	if got, want := fmt.Sprint(log.requests()), fmt.Sprintf("[/somefile.txt bytes=%d-]", len(wgetWhole)); got != want {
		t.Errorf("requests %s; want %s", got, want)
	}
}

// tests/Test-c-partial.px: -c appends the rest of the body to the file's
// first two lines, which differ from the body's in a byte: nothing
// compares them (as the README says), so the file ends as that byte and
// the rest.
func TestPortWgetCPartial(t *testing.T) {
	partial := wgetPartial
	srv, log := wgetPxServer(t, wgetPxText(wgetWhole))
	dir := t.TempDir()
	code, rec := wgetContinuePx(t, srv, dir, []byte(partial))
	if code != exitOK || rec.Status != http.StatusPartialContent || rec.ResumedFrom != int64(len(partial)) {
		t.Errorf("exit %d, record %+v; want 0, a 206 resumed from %d", code, rec, len(partial))
	}
	wgetExpect(t, dir, wgetHost(srv), map[string]string{"somefile.txt": partial + wgetWhole[len(partial):]})
	if got, want := fmt.Sprint(log.requests()), fmt.Sprintf("[/somefile.txt bytes=%d-]", len(partial)); got != want {
		t.Errorf("requests %s; want %s", got, want)
	}
}

// tests/Test-c-shorter.px: -c to a server that ignores Range and answers a
// 200 of Content-Length 0, the file holding the whole body. wget takes the
// remote file for shorter than the local one, leaves the file as it is
// and exits 0. fetch, as its README says, refuses to finish a file from a
// 200 whose Content-Length is not the file's size: the input fails (exit
// status 1) and the file is left as it is, never truncated.
func TestPortWgetCShorter(t *testing.T) {
	local := wgetPartial + wgetWhole[len(wgetPartial):]
	files := map[string]wgetPxFile{"/somefile.txt": {
		code:      200,
		headers:   map[string]string{"Content-Type": "text/plain", "Content-Length": "0"},
		forceCode: true,
	}}
	srv, _ := wgetPxServer(t, files)
	dir := t.TempDir()
	code, rec := wgetContinuePx(t, srv, dir, []byte(local))
	if code != exitSomeFailed || !strings.Contains(rec.Error, "remove the file") {
		t.Errorf("exit %d, record %+v; want 1 (wget: 0), an error saying to remove the file", code, rec)
	}
	wgetExpect(t, dir, wgetHost(srv), map[string]string{"somefile.txt": local})
}

// wgetDummy is the body of tests/Test-O*.px.
const wgetDummy = "Don't care.\n"

// tests/Test-O.px: -O saves the body.
func TestPortWgetOPx(t *testing.T) {
	srv, _ := wgetPxServer(t, map[string]wgetPxFile{"/dummy.txt": {code: 200, headers: map[string]string{"Content-Type": "text/plain"}, content: wgetDummy}})
	dir := t.TempDir()
	code, _, stderr := runCmd(t, "", "-q", "-O", dir, srv.URL+"/dummy.txt")
	if code != exitOK {
		t.Errorf("exit %d (%s); want 0", code, stderr)
	}
	wgetExpect(t, dir, wgetHost(srv), map[string]string{"dummy.txt": wgetDummy})
}

// tests/Test-O-nc.px: -nc -O with no file there yet saves the body; a
// rerun, which the test does not make, sends no request.
func TestPortWgetONc(t *testing.T) {
	srv, log := wgetPxServer(t, map[string]wgetPxFile{"/dummy.txt": {code: 200, headers: map[string]string{"Content-Type": "text/plain"}, content: wgetDummy}})
	dir := t.TempDir()
	code, out, stderr := runCmd(t, "", "-q", "--no-clobber", "-O", dir, srv.URL+"/dummy.txt")
	if code != exitOK {
		t.Errorf("exit %d (%s); want 0", code, stderr)
	}
	if r := records(t, out)[srv.URL+"/dummy.txt"]; r.Skipped != "" || r.Status != http.StatusOK {
		t.Errorf("record %+v; want a 200, not skipped", r)
	}
	wgetExpect(t, dir, wgetHost(srv), map[string]string{"dummy.txt": wgetDummy})
	// Run again, -nc fetches nothing: the file is there.
	before := len(log.requests())
	code, out, _ = runCmd(t, "", "-q", "--no-clobber", "-O", dir, srv.URL+"/dummy.txt")
	if r := records(t, out)[srv.URL+"/dummy.txt"]; code != exitOK || r.Skipped != "exists" || len(log.requests()) != before {
		t.Errorf("rerun: exit %d, record %+v, %d requests; want 0, skipped exists, none", code, r, len(log.requests())-before)
	}
	wgetExpect(t, dir, wgetHost(srv), map[string]string{"dummy.txt": wgetDummy})
}

// tests/Test-O-nonexisting.px: -O of a URL the server answers with a 404.
// wget exits 8 and leaves an empty file (-O FILE is opened before the
// request); fetch, as its README says, saves only 2xx bodies, through a
// temporary file: it exits 1 and leaves no file at all.
func TestPortWgetONonexisting(t *testing.T) {
	srv, _ := wgetPxServer(t, map[string]wgetPxFile{"/dummy.html": {code: 200, headers: map[string]string{"Content-Type": "text/html"}, content: wgetDummy}})
	dir := t.TempDir()
	u := srv.URL + "/nonexistent"
	code, out, _ := runCmd(t, "", "-q", "-O", dir, u)
	if r := records(t, out)[u]; code != exitSomeFailed || r.Status != http.StatusNotFound || r.ErrorKind != "status" || r.File != "" {
		t.Errorf("exit %d, record %+v; want 1 (wget: 8), status 404, error_kind status, no file", code, r)
	}
	wgetExpect(t, dir, wgetHost(srv), map[string]string{})
}

// tests/Test-i-http.px: -i reads the URLs of two pages from a list, and
// both are saved. wget reads the list from a URL (and saves the list
// too); fetch's -i reads a file: the same list is given as one, and a URL
// given to -i is a usage error.
func TestPortWgetIHttp(t *testing.T) {
	site := func(n int, p string) string {
		return fmt.Sprintf("<html>\n  <head>\n    <title>Site %d</title>\n  </head>\n  <body>\n    <p>%s</p>\n  </body>\n</html>\n", n, p)
	}
	site1 := site(1, "In orci diam, iaculis a hendrerit accumsan, mollis a nibh.")
	site2 := site(2, "Sed vehicula ultrices orci a congue. Sed convallis semper urna.")
	html := map[string]string{"Content-Type": "text/html"}
	srv, log := wgetPxServer(t, map[string]wgetPxFile{
		"/site1.html": {code: 200, headers: html, content: site1},
		"/site2.html": {code: 200, headers: html, content: site2},
	})
	list := filepath.Join(t.TempDir(), "urls.txt")
	os.WriteFile(list, []byte(srv.URL+"/site1.html\n"+srv.URL+"/site2.html\n"), 0o644)
	dir := t.TempDir()
	code, out, stderr := runCmd(t, "", "-q", "--title", "-i", list, "-O", dir)
	if code != exitOK {
		t.Errorf("exit %d (%s); want 0", code, stderr)
	}
	wgetExpect(t, dir, wgetHost(srv), map[string]string{"site1.html": site1, "site2.html": site2})
	recs := records(t, out)
	if len(recs) != 2 || recs[srv.URL+"/site1.html"].Title != "Site 1" || recs[srv.URL+"/site2.html"].Title != "Site 2" {
		t.Errorf("records %+v; want the two sites, titled", recs)
	}
	// -i with a URL names a file that is not there: a usage error, and
	// no request.
	before := len(log.requests())
	code, _, stderr = runCmd(t, "", "-q", "-i", srv.URL+"/urls.txt", "-O", t.TempDir())
	if code != exitUsage || !strings.Contains(stderr, "-i "+srv.URL+"/urls.txt") || len(log.requests()) != before {
		t.Errorf("-i URL: exit %d, stderr %q, %d requests; want 2, naming -i, none", code, stderr, len(log.requests())-before)
	}
}

// tests/Test-stdouterr.px: -c to a destination that can take no bytes
// (wget's -O /dev/full) fails, with exit status 3. fetch, on a -O DIR
// whose file system is full, says so and exits 1, with and without
// --continue.
func TestPortWgetStdouterr(t *testing.T) {
	for _, cont := range []bool{false, true} {
		t.Run(fmt.Sprintf("continue=%v", cont), func(t *testing.T) {
			dir := smallDisk(t, 4096)
			// Fill the file system, so that no byte more can be written.
			f, err := os.Create(filepath.Join(dir, "filler"))
			if err != nil {
				t.Fatal(err)
			}
			f.ReadFrom(strings.NewReader(strings.Repeat("x", 1<<20)))
			f.Close()
			srv, _ := wgetPxServer(t, wgetPxText("blabla"))
			args := []string{"-q", "-O", dir, srv.URL + "/somefile.txt"}
			if cont {
				args = append(args, "--continue")
			}
			code, out, stderr := runCmd(t, "", args...)
			r := records(t, out)[srv.URL+"/somefile.txt"]
			if code != exitSomeFailed || !strings.Contains(stderr+r.Error, "no space left on device") {
				t.Errorf("exit %d, stderr %q, record %+v; want 1 (wget: 3), and why", code, stderr, r)
			}
			// Without --continue nothing is left; with it, the file is
			// written in place, and holds what was written: nothing.
			want := []string{"filler"}
			if cont {
				want = []string{wgetHost(srv) + "somefile.txt", "filler"}
				if got := ncRead(dir, want[0]); got != "" {
					t.Errorf("the file holds %q; want it empty", got)
				}
			}
			if got := dirNames(t, dir); !slices.Equal(got, want) {
				t.Errorf("the directory holds %q; want %q", got, want)
			}
		})
	}
}

// The resumed retry of a plain -O GET (no --continue), its first attempt
// cut short, that HTTPServer.pm answers with its 416 (the body is shorter
// than the part now) fetches the body whole at once, without waiting for
// the 416's body, which has no length and whose connection stays open.
func TestPortWgetResumed416NotWaited(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	log := &wgetLog{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		switch {
		case len(log.requests()) == 1:
			cutBody(w, []byte(wgetWhole), 0, 100, nil)
		case r.Header.Get("Range") != "":
			wgetPx416(t, w, ctx)
		default:
			io.WriteString(w, wgetDummy)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(cancel)
	dir := t.TempDir()
	u := srv.URL + "/somefile.txt"
	// No stall timeout: a run that waited for the 416's body would end
	// only at --total, failing.
	code, out, stderr := runCmd(t, "", "-q", "--timeout", "0", "--total", "20s", "-O", dir, u)
	rec := records(t, out)[u]
	// The request sent again without Range counts as an attempt, as the
	// server counts it (see fetch.Result.Attempts).
	if code != exitOK || rec.Status != http.StatusOK || rec.Attempts != 3 {
		t.Errorf("exit %d (%s), record %+v; want 0, a 200 at the third attempt", code, stderr, rec)
	}
	wgetExpect(t, dir, wgetHost(srv), map[string]string{"somefile.txt": wgetDummy})
	if got, want := fmt.Sprint(log.requests()), "[/somefile.txt /somefile.txt bytes=100- /somefile.txt]"; got != want {
		t.Errorf("requests %s; want %s", got, want)
	}
}
