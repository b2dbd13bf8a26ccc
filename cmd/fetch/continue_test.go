package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// contBody is the body every path of a continue server has.
var contBody = func() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 10000; i++ {
		fmt.Fprintf(&b, "line %05d\n", i)
	}
	return b.Bytes()[:10000]
}()

// contServer serves contBody at every path with http.ServeContent, which
// answers a Range with a 206 (or a 416 past the end), unless its handle
// is set, and notes the Range header of each request by path.
type contServer struct {
	*httptest.Server
	host string // as file names begin with it

	mu     sync.Mutex
	ranges map[string][]string
	handle func(w http.ResponseWriter, r *http.Request) // nil: ServeContent
}

func newContServer(t *testing.T) *contServer {
	s := &contServer{ranges: map[string][]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.ranges[r.URL.Path] = append(s.ranges[r.URL.Path], r.Header.Get("Range"))
		handle := s.handle
		s.mu.Unlock()
		if handle != nil {
			handle(w, r)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(contBody))
	}))
	t.Cleanup(s.Close)
	s.host = strings.ReplaceAll(strings.TrimPrefix(s.URL, "http://"), ":", "_")
	return s
}

func (s *contServer) rangesOf(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ranges[path]
}

// --continue finishes a file cut short with the rest of its body (a Range
// request, a 206 appended), leaves a complete one as it is (the server's
// 416), and fetches whole an input with no file or an empty one.
func TestContinueFinishesPartialFiles(t *testing.T) {
	srv := newContServer(t)
	dir := t.TempDir()
	name := func(p string) string { return srv.host + "_" + p }
	os.WriteFile(filepath.Join(dir, name("a")), contBody[:3000], 0o644)
	os.WriteFile(filepath.Join(dir, name("b")), contBody, 0o644)
	os.WriteFile(filepath.Join(dir, name("d")), nil, 0o644)
	args := []string{"--continue", "--retries", "0", "-O", dir}
	for _, p := range []string{"a", "b", "c", "d"} {
		args = append(args, srv.URL+"/"+p)
	}
	code, out, stderr := runCmd(t, "", args...)
	if code != exitOK {
		t.Fatalf("exit %d, %q; want 0", code, stderr)
	}
	recs := records(t, out)
	for _, p := range []string{"a", "b", "c", "d"} {
		if got := ncRead(dir, name(p)); got != string(contBody) {
			t.Errorf("%s: the file holds %d bytes; want the body's %d, in full", p, len(got), len(contBody))
		}
	}
	want := map[string][]string{"/a": {"bytes=3000-"}, "/b": {"bytes=10000-"}, "/c": {""}, "/d": {""}}
	for p, w := range want {
		if got := srv.rangesOf(p); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: Range %q; want %q", p, got, w)
		}
	}
	a, b, c := recs[srv.URL+"/a"], recs[srv.URL+"/b"], recs[srv.URL+"/c"]
	if a.Status != http.StatusPartialContent || a.ResumedFrom != 3000 || a.Bytes != 7000 || a.Skipped != "" || a.Error != "" {
		t.Errorf("a's record %+v; want status 206, resumed_from 3000, bytes 7000", a)
	}
	if b.Skipped != "complete" || b.Error != "" || b.File != filepath.Join(dir, name("b")) || b.Bytes != 0 {
		t.Errorf("b's record %+v; want skipped complete, its file, no error", b)
	}
	if c.Status != http.StatusOK || c.ResumedFrom != 0 || c.Bytes != 10000 {
		t.Errorf("c's record %+v; want a 200 of 10000 bytes, not resumed", c)
	}
	if !strings.Contains(stderr, "3 succeeded, 0 failed, 0 retried, 1 complete already (--continue)") {
		t.Errorf("summary %q; want 3 succeeded and 1 complete already", stderr)
	}
}

// A server that ignores Range and sends the whole body with a 200: a file
// of that body's length is complete, and left as it is; one cut short
// fails its input, naming the file to remove, and is left as it was, as
// wget refuses to truncate it.
func TestContinueServerSendsWholeBody(t *testing.T) {
	srv := newContServer(t)
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(contBody)))
		w.Write(contBody)
	}
	dir := t.TempDir()
	name := func(p string) string { return srv.host + "_" + p }
	os.WriteFile(filepath.Join(dir, name("a")), contBody[:3000], 0o644)
	changed := bytes.ToUpper(contBody)
	os.WriteFile(filepath.Join(dir, name("b")), changed, 0o644)
	code, out, _ := runCmd(t, "", "-q", "--continue", "--retries", "2", "-O", dir, srv.URL+"/a", srv.URL+"/b")
	if code != exitSomeFailed {
		t.Errorf("exit %d; want 1", code)
	}
	recs := records(t, out)
	a, b := recs[srv.URL+"/a"], recs[srv.URL+"/b"]
	if !strings.Contains(a.Error, "the server sent the whole body (200 OK), not the rest from byte 3000") ||
		!strings.Contains(a.Error, "remove the file") || a.Attempts != 1 {
		t.Errorf("a's record %+v; want one attempt, failed, saying the whole body came and to remove the file", a)
	}
	if got := ncRead(dir, name("a")); got != string(contBody[:3000]) {
		t.Errorf("a's file holds %d bytes; want the 3000 it held, unchanged", len(got))
	}
	if b.Skipped != "complete" || b.Error != "" {
		t.Errorf("b's record %+v; want skipped complete", b)
	}
	if got := ncRead(dir, name("b")); got != string(changed) {
		t.Errorf("b's file was changed; want it left as it was")
	}
}

// A 206 that does not start where the file ends fails the input and
// leaves the file as it was.
func TestContinueWrongRange(t *testing.T) {
	srv := newContServer(t)
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(contBody)-1, len(contBody)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(contBody)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, srv.host+"_a")
	os.WriteFile(file, contBody[:3000], 0o644)
	code, out, _ := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitSomeFailed || !strings.Contains(a.Error, `the server sent bytes "bytes 0-9999/10000", not the rest from byte 3000`) {
		t.Errorf("exit %d, record %+v; want 1, failed naming the range sent", code, a)
	}
	if got := ncRead(dir, srv.host+"_a"); got != string(contBody[:3000]) {
		t.Errorf("the file holds %d bytes; want its 3000, unchanged", len(got))
	}
}

// A 206 cut short is retried, and the retry appends from where the file
// ended before the run, once: the file is the body, not the body with the
// first attempt's bytes in the middle.
func TestContinueRetryAppendsOnce(t *testing.T) {
	srv := newContServer(t)
	var once sync.Once
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		cut := false
		once.Do(func() { cut = true })
		if !cut {
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(contBody))
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 3000-%d/%d", len(contBody)-1, len(contBody)))
		w.Header().Set("Content-Length", fmt.Sprint(len(contBody)-3000))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(contBody[3000:4000])
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), contBody[:3000], 0o644)
	code, out, stderr := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitOK || a.Attempts != 2 || a.ResumedFrom != 3000 || a.Bytes != 7000 {
		t.Errorf("exit %d (%q), record %+v; want 0, 2 attempts, resumed_from 3000, bytes 7000", code, stderr, a)
	}
	if got := ncRead(dir, srv.host+"_a"); got != string(contBody) {
		t.Errorf("the file holds %d bytes, the body? %v; want the body", len(got), got == string(contBody))
	}
}

// --continue's usage errors, and wget's -c.
func TestContinueUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--continue", "http://a.test/"}, "--continue: only with -O/--output-dir DIR"},
		{[]string{"--continue", "--no-clobber", "-O", dir, "http://a.test/"}, "--continue and --no-clobber"},
		{[]string{"--continue", "-O", dir, "-X", "POST", "http://a.test/"}, "--continue and -X POST: only a GET"},
		{[]string{"--continue", "-O", dir, "-d", "x=1", "http://a.test/"}, "--continue and -d: only a GET without a body"},
		{[]string{"--continue", "-O", dir, "-X", "GET", "-d", "x=1", "http://a.test/"}, "--continue and -d: only a GET without a body"},
		{[]string{"-c", "0x10", "--continue", "-O", dir, "-X", "PUT", "http://a.test/"}, "--continue and -X PUT"},
		{[]string{"--continue", "-O", dir, "-H", "Range: bytes=0-1", "http://a.test/"}, "--continue and -H Range"},
		{[]string{"--continue", "-O", dir, "--queue", "redis://127.0.0.1:1/s"}, "--continue and --queue"},
		{[]string{"-c", "-O", dir, "http://a.test/"}, "-c -O: -c is --concurrency here, and takes a number; wget's -c is --continue"},
		{[]string{"http://a.test/", "-c"}, "-c: -c is --concurrency here, and needs a number; wget's -c is --continue"},
	} {
		code, _, stderr := runCmd(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// With --continue a body is written in its file itself, as wget writes it:
// one cut short on every attempt leaves its file cut short, and the next
// --continue run finishes it with the rest.
func TestContinueFinishesWhatARunLeft(t *testing.T) {
	srv := newContServer(t)
	cut := true
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		srv.mu.Lock()
		whole := !cut
		srv.mu.Unlock()
		if whole {
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(contBody))
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(contBody)))
		w.Write(contBody[:4000])
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}
	dir := t.TempDir()
	code, out, _ := runCmd(t, "", "-q", "--continue", "--retries", "1", "-O", dir, srv.URL+"/a")
	if a := records(t, out)[srv.URL+"/a"]; code != exitSomeFailed || a.ErrorKind != "truncated" {
		t.Fatalf("first run: exit %d, record %+v; want 1, truncated", code, a)
	}
	if got := ncRead(dir, srv.host+"_a"); got != string(contBody[:4000]) {
		t.Fatalf("after the first run the file holds %d bytes; want the 4000 that came", len(got))
	}
	srv.mu.Lock()
	srv.ranges, cut = map[string][]string{}, false
	srv.mu.Unlock()
	code, out, _ = runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitOK || a.ResumedFrom != 4000 || a.Bytes != 6000 || fmt.Sprint(srv.rangesOf("/a")) != "[bytes=4000-]" {
		t.Errorf("second run: exit %d, record %+v, Range %q; want 0, resumed_from 4000, bytes 6000", code, a, srv.rangesOf("/a"))
	}
	if got := ncRead(dir, srv.host+"_a"); got != string(contBody) {
		t.Errorf("after the second run the file holds %d bytes; want the body", len(got))
	}
}

// A symbolic link where --continue would write is replaced, never
// followed, and is not taken for a file to finish.
func TestContinueReplacesSymlink(t *testing.T) {
	srv := newContServer(t)
	dir := t.TempDir()
	other := filepath.Join(dir, "other")
	os.WriteFile(other, []byte("keep"), 0o644)
	if err := os.Symlink("other", filepath.Join(dir, srv.host+"_a")); err != nil {
		t.Skip(err)
	}
	code, _, stderr := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
	if code != exitOK {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	if got := ncRead(dir, "other"); got != "keep" {
		t.Errorf("the link's target was written: %q", got)
	}
	if fi, err := os.Lstat(filepath.Join(dir, srv.host+"_a")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the link was not replaced by a file: %v %v", fi, err)
	}
	if got := srv.rangesOf("/a"); fmt.Sprint(got) != "[]" {
		t.Errorf("Range %q; want none", got)
	}
}

// With --title, a file --continue finds complete (the server's 416) has
// the title read from it, as --no-clobber's skipped files do.
func TestContinueCompleteTitle(t *testing.T) {
	srv := newContServer(t)
	page := []byte("<!doctype html><html><head><title>Done  page</title></head><body>x</body></html>")
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(page))
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), page, 0o644)
	_, out, _ := runCmd(t, "", "-q", "--continue", "--title", "-O", dir, srv.URL+"/a")
	if a := records(t, out)[srv.URL+"/a"]; a.Skipped != "complete" || a.Title != "Done page" {
		t.Errorf("record %+v; want skipped complete, title %q", a, "Done page")
	}
}
