package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// ncServer answers each path with "run N: PATH", N the run it is in, or
// with a 404 for the paths told to fail, and counts the requests for each
// path in each run.
type ncServer struct {
	*httptest.Server
	host string // as file names begin with it

	mu       sync.Mutex
	run      int
	failing  map[string]bool
	requests map[string]int // this run's, by path
}

func newNCServer(t *testing.T) *ncServer {
	s := &ncServer{failing: map[string]bool{}, requests: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[r.URL.Path]++
		fail, run := s.failing[r.URL.Path], s.run
		s.mu.Unlock()
		if fail {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "run %d: %s", run, r.URL.Path)
	}))
	t.Cleanup(s.Close)
	s.host = strings.ReplaceAll(strings.TrimPrefix(s.URL, "http://"), ":", "_")
	return s
}

// next begins a run in which the paths failing fail, and the others
// answer, and returns the requests of the run before.
func (s *ncServer) next(failing ...string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.requests
	s.run++
	s.requests, s.failing = map[string]int{}, map[string]bool{}
	for _, p := range failing {
		s.failing[p] = true
	}
	return before
}

// ncRead returns the content of the file name in dir, or why not.
func ncRead(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// A rerun with --no-clobber fetches only the inputs whose files the run
// before did not save: the others are not requested, their files are left
// as they were, and their records say they were skipped, with the file.
// They count as successes for the exit status, and apart in the summary.
func TestNoClobberRerun(t *testing.T) {
	srv := newNCServer(t)
	dir := t.TempDir()
	list := filepath.Join(t.TempDir(), "urls.txt")
	os.WriteFile(list, []byte(srv.URL+"/a\n"+srv.URL+"/b\n# a comment\n"+srv.URL+"/c\n"+srv.URL+"/d\n"), 0o644)

	srv.next("/b", "/d")
	code, _, stderr := runCmd(t, "", "-q", "--retries", "0", "-O", dir, "-i", list)
	if code != exitSomeFailed {
		t.Fatalf("first run: exit %d, %q; want 1 (two 404s)", code, stderr)
	}

	srv.next()
	code, out, stderr := runCmd(t, "", "--no-clobber", "--retries", "0", "-O", dir, "-i", list)
	if got := srv.next(); len(got) != 2 || got["/b"] != 1 || got["/d"] != 1 {
		t.Errorf("rerun requested %v; want /b and /d once each, nothing else", got)
	}
	if code != exitOK {
		t.Errorf("rerun: exit %d, %q; want 0", code, stderr)
	}
	recs := records(t, out)
	if len(recs) != 4 {
		t.Errorf("rerun: records %v; want 4", recs)
	}
	for _, p := range []string{"/a", "/c"} {
		name := srv.host + "_" + p[1:]
		want := record{URL: srv.URL + p, File: filepath.Join(dir, name), Skipped: "exists"}
		if r := recs[srv.URL+p]; r != want {
			t.Errorf("%s: record %+v; want %+v", p, r, want)
		}
		if got := ncRead(dir, name); got != "run 1: "+p {
			t.Errorf("%s: file holds %q; want the first run's body", p, got)
		}
	}
	for _, p := range []string{"/b", "/d"} {
		name := srv.host + "_" + p[1:]
		if r := recs[srv.URL+p]; r.Skipped != "" || r.Status != 200 || r.Attempts != 1 || r.File != filepath.Join(dir, name) {
			t.Errorf("%s: record %+v; want it fetched and saved", p, r)
		}
		if got := ncRead(dir, name); got != "run 2: "+p {
			t.Errorf("%s: file holds %q; want the rerun's body", p, got)
		}
	}
	if want := "fetched 2 in "; !strings.HasPrefix(stderr, want) {
		t.Errorf("summary %q; want it to begin %q: skipped inputs are not fetched", stderr, want)
	}
	if want := ": 2 succeeded, 0 failed, 0 retried, 2 skipped (--no-clobber); "; !strings.Contains(stderr, want) {
		t.Errorf("summary %q; want %q", stderr, want)
	}

	// Once every file is there, nothing is requested, and the JSON line
	// of a skipped input has no status, no error, and attempts 0.
	code, out, stderr = runCmd(t, "", "--no-clobber", "-O", dir, "-i", list)
	if got := srv.next(); len(got) != 0 || code != exitOK {
		t.Errorf("third run: exit %d, %q, requested %v; want 0 and nothing", code, stderr, got)
	}
	if !strings.Contains(stderr, "fetched 0 in ") || !strings.Contains(stderr, ": 0 succeeded, 0 failed, 0 retried, 4 skipped (--no-clobber); ") {
		t.Errorf("third run: summary %q; want 0 fetched, 4 skipped", stderr)
	}
	first, _, _ := strings.Cut(out, "\n")
	if want := fmt.Sprintf(`{"url":%q,"bytes":0,"attempts":0,"duration_ms":0,"file":%q,"skipped":"exists"}`,
		srv.URL+"/a", filepath.Join(dir, srv.host+"_a")); !strings.Contains(out, want+"\n") {
		t.Errorf("third run's lines (first %s); want one to be %s", first, want)
	}
}

// Inputs with the same file name get the same .1, .2 suffixes in a rerun
// as in the run that saved them, whichever of them are skipped: a skipped
// input's name stays taken.
func TestNoClobberSuffixesLineUp(t *testing.T) {
	srv := newNCServer(t)
	dir := t.TempDir()
	// One name for the three: HOST_a_b, then HOST_a_b.1 and HOST_a_b.2.
	urls := []string{srv.URL + "/a/b", srv.URL + "/a_b", srv.URL + "/a:b"}

	srv.next("/a_b")
	code, _, stderr := runCmd(t, "", append([]string{"-q", "--retries", "0", "-O", dir}, urls...)...)
	if code != exitSomeFailed {
		t.Fatalf("first run: exit %d, %q; want 1 (a 404)", code, stderr)
	}
	base := srv.host + "_a_b"
	if got := ncRead(dir, base+".2"); got != "run 1: /a:b" {
		t.Fatalf("first run: %s.2 holds %q", base, got)
	}

	srv.next()
	code, out, stderr := runCmd(t, "", append([]string{"-q", "--no-clobber", "-O", dir}, urls...)...)
	if got := srv.next(); len(got) != 1 || got["/a_b"] != 1 || code != exitOK {
		t.Errorf("rerun: exit %d, %q, requested %v; want 0, and only /a_b", code, stderr, got)
	}
	recs := records(t, out)
	for i, want := range []struct {
		name, body, skipped string
	}{
		{base, "run 1: /a/b", "exists"},
		{base + ".1", "run 2: /a_b", ""},
		{base + ".2", "run 1: /a:b", "exists"},
	} {
		r := recs[urls[i]]
		if r.File != filepath.Join(dir, want.name) || r.Skipped != want.skipped {
			t.Errorf("%s: record %+v; want file %s, skipped %q", urls[i], r, want.name, want.skipped)
		}
		if got := ncRead(dir, want.name); got != want.body {
			t.Errorf("%s holds %q; want %q", want.name, got, want.body)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("%d files in %s: %v; want the 3 named", len(entries), dir, entries)
	}
}

// A temporary file left by a run cut short is not the file: its input is
// fetched, and the temporary file left alone, while the input beside it
// whose file is complete is skipped.
func TestNoClobberStalePart(t *testing.T) {
	srv := newNCServer(t)
	dir := t.TempDir()
	name := srv.host + "_a"
	stale := "." + name + ".12345.0badf00d.part"
	os.WriteFile(filepath.Join(dir, stale), []byte("run 0: /a, cut sh"), 0o644)
	os.WriteFile(filepath.Join(dir, srv.host+"_b"), []byte("run 0: /b"), 0o644)

	srv.next()
	code, out, stderr := runCmd(t, "", "-q", "--no-clobber", "-O", dir, srv.URL+"/a", srv.URL+"/b")
	if got := srv.next(); len(got) != 1 || got["/a"] != 1 || code != exitOK {
		t.Errorf("exit %d, %q, requested %v; want 0, and only /a requested", code, stderr, got)
	}
	recs := records(t, out)
	if r := recs[srv.URL+"/a"]; r.Skipped != "" || r.Status != 200 || r.File != filepath.Join(dir, name) {
		t.Errorf("/a: record %+v; want it fetched and saved", r)
	}
	if r := recs[srv.URL+"/b"]; r.Skipped != "exists" {
		t.Errorf("/b: record %+v; want it skipped", r)
	}
	if got := ncRead(dir, name); got != "run 1: /a" {
		t.Errorf("%s holds %q; want the body", name, got)
	}
	if got := ncRead(dir, stale); got != "run 0: /a, cut sh" {
		t.Errorf("%s holds %q; want it left as it was", stale, got)
	}
}

// A name that is in the directory but not a regular file is not one a
// run saved: a directory is fetched, and fails to be saved as without
// --no-clobber (the exit status says so, the skipped input beside it
// notwithstanding); a symbolic link is fetched, and replaced.
func TestNoClobberNotAFile(t *testing.T) {
	srv := newNCServer(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, srv.host+"_d"), 0o755)
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), []byte("saved before"), 0o644)
	if err := os.Symlink(srv.host+"_a", filepath.Join(dir, srv.host+"_l")); err != nil {
		t.Skip("no symbolic links here:", err)
	}

	srv.next()
	code, out, stderr := runCmd(t, "", "-q", "--no-clobber", "--retries", "0", "-O", dir,
		srv.URL+"/d", srv.URL+"/a", srv.URL+"/l")
	if got := srv.next(); len(got) != 2 || got["/d"] != 1 || got["/l"] != 1 {
		t.Errorf("requested %v; want /d and /l, not /a", got)
	}
	if code != exitSomeFailed {
		t.Errorf("exit %d, %q; want 1: /d could not be saved", code, stderr)
	}
	recs := records(t, out)
	if r := recs[srv.URL+"/d"]; r.Skipped != "" || r.Error == "" || r.File != "" {
		t.Errorf("/d: record %+v; want a failure to save it", r)
	}
	if r := recs[srv.URL+"/a"]; r.Skipped != "exists" || r.Error != "" {
		t.Errorf("/a: record %+v; want it skipped", r)
	}
	if r := recs[srv.URL+"/l"]; r.Skipped != "" || r.Error != "" || r.File != filepath.Join(dir, srv.host+"_l") {
		t.Errorf("/l: record %+v; want it fetched and saved", r)
	}
	if fi, err := os.Lstat(filepath.Join(dir, srv.host+"_l")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s_l: %v, %v; want the link replaced by the body", srv.host, fi, err)
	}
	if got := ncRead(dir, srv.host+"_a"); got != "saved before" {
		t.Errorf("%s_a holds %q; want it left as it was", srv.host, got)
	}
}

// With -X HEAD, which saves nothing, --no-clobber still sends nothing for
// an input whose file is there: it checks only the URLs not yet saved.
func TestNoClobberHead(t *testing.T) {
	srv := newNCServer(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), []byte("saved before"), 0o644)
	srv.next()
	code, out, stderr := runCmd(t, "", "-q", "--no-clobber", "-X", "HEAD", "-O", dir, srv.URL+"/a", srv.URL+"/b")
	if got := srv.next(); len(got) != 1 || got["/b"] != 1 || code != exitOK {
		t.Errorf("exit %d, %q, requested %v; want 0, and only /b", code, stderr, got)
	}
	recs := records(t, out)
	if r := recs[srv.URL+"/a"]; r.Skipped != "exists" || r.File != filepath.Join(dir, srv.host+"_a") {
		t.Errorf("/a: record %+v; want it skipped", r)
	}
	if r := recs[srv.URL+"/b"]; r.Skipped != "" || r.Status != 200 || r.File != "" {
		t.Errorf("/b: record %+v; want a HEAD, no file", r)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in %s; want only the one there before", len(entries), dir)
	}
}

// --no-clobber needs -O, and cannot go with --queue: usage errors naming
// both flags, with nothing sent. Without it, the summary is as it was.
func TestNoClobberUsage(t *testing.T) {
	srv := newNCServer(t)
	dir := t.TempDir()
	srv.next()
	for _, tc := range []struct {
		args  []string
		flags []string
	}{
		{[]string{"--no-clobber", srv.URL + "/a"}, []string{"--no-clobber", "-O"}},
		{[]string{"--no-clobber", "-o", filepath.Join(dir, "out.jsonl"), srv.URL + "/a"}, []string{"--no-clobber", "-O"}},
		{[]string{"--no-clobber", "-O", dir, "--queue", "redis://127.0.0.1:1/urls"}, []string{"--no-clobber", "--queue"}},
		{[]string{"-nc", "-O", dir, srv.URL + "/a"}, []string{"-nc", "--no-clobber"}}, // wget's spelling
	} {
		code, out, stderr := runCmd(t, "", tc.args...)
		if code != exitUsage || out != "" || strings.Count(stderr, "\n") != 1 {
			t.Errorf("fetch %q: exit %d, stdout %q, stderr %q; want 2 and one line", tc.args, code, out, stderr)
		}
		for _, f := range tc.flags {
			if !strings.Contains(stderr, f) {
				t.Errorf("fetch %q: stderr %q; want it to name %s", tc.args, stderr, f)
			}
		}
	}
	if got := srv.next(); len(got) != 0 {
		t.Errorf("requested %v; want nothing", got)
	}
	if !strings.Contains(usage(), "--no-clobber") {
		t.Errorf("-h does not show --no-clobber")
	}
	code, _, stderr := runCmd(t, "", "-O", dir, srv.URL+"/a")
	if code != exitOK || strings.Contains(stderr, "skipped") || !strings.Contains(stderr, ": 1 succeeded, 0 failed, 0 retried; ") {
		t.Errorf("without --no-clobber: exit %d, summary %q; want no word of skipping", code, stderr)
	}
}

// With --title, a skipped file that is an HTML page gets its <title> in
// its record, read from the file (sniffed as HTML, no Content-Type coming
// with it); one that is not HTML gets none, whatever text it holds.
func TestNoClobberTitle(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/page.html" {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<!doctype html><html><head><title>The Page</title></head><body>hi</body></html>")
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "plain text that mentions <title>Not One</title>")
	}))
	defer srv.Close()
	dir := t.TempDir()
	args := []string{"-q", "--title", "-O", dir, srv.URL + "/page.html", srv.URL + "/note.txt"}
	if code, _, stderr := runCmd(t, "", args...); code != exitOK {
		t.Fatalf("first run: exit %d, %s", code, stderr)
	}
	code, out, stderr := runCmd(t, "", append(args, "--no-clobber")...)
	if code != exitOK {
		t.Fatalf("rerun: exit %d, %s", code, stderr)
	}
	titles := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec record
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if rec.Skipped != "exists" {
			t.Errorf("%s not skipped: %s", rec.URL, line)
		}
		titles[rec.URL] = rec.Title
	}
	if got := titles[srv.URL+"/page.html"]; got != "The Page" {
		t.Errorf("skipped HTML page's title %q; want %q", got, "The Page")
	}
	if got := titles[srv.URL+"/note.txt"]; got != "" {
		t.Errorf("skipped text file's title %q; want none", got)
	}
}
