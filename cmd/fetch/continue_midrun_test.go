package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// cutAfter answers with the part of contBody that r asks for, as
// http.ServeContent would, but sends only n bytes of it and then drops
// the connection: a download cut short part way.
func cutAfter(w http.ResponseWriter, r *http.Request, n int) {
	cutBody(w, contBody, int(rangeFrom(r)), n, nil)
}

// rangeFrom returns N of r's Range: bytes=N-, or 0.
func rangeFrom(r *http.Request) int64 {
	var n int64
	fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &n)
	return n
}

// A retry of a --continue download asks for the rest from where the
// attempt before it stopped, not from where the run began: each attempt
// cut short keeps what it brought, as wget does.
func TestContinueRetryResumesWhereAttemptStopped(t *testing.T) {
	srv := newContServer(t)
	var n atomic.Int64
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			cutAfter(w, r, 1000)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(contBody))
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), contBody[:3000], 0o644)
	code, out, stderr := runCmd(t, "", "-q", "--continue", "--retries", "2", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitOK || a.Attempts != 3 || a.ResumedFrom != 3000 || a.Bytes != 7000 {
		t.Errorf("exit %d (%q), record %+v; want 0, 3 attempts, resumed_from 3000, bytes 7000", code, stderr, a)
	}
	if got, want := fmt.Sprint(srv.rangesOf("/a")), "[bytes=3000- bytes=4000- bytes=5000-]"; got != want {
		t.Errorf("Range of each attempt: %s; want %s", got, want)
	}
	if got := ncRead(dir, srv.host+"_a"); got != string(contBody) {
		t.Errorf("the file holds %d bytes, the body? %v; want the body", len(got), got == string(contBody))
	}
}

// A file the run starts with nothing of is resumed too once an attempt
// has brought part of it; and when its attempts run out, the file keeps
// all they brought, for the next run to finish.
func TestContinueRetryResumesNewFile(t *testing.T) {
	srv := newContServer(t)
	srv.handle = func(w http.ResponseWriter, r *http.Request) { cutAfter(w, r, 2500) }
	dir := t.TempDir()
	code, out, _ := runCmd(t, "", "-q", "--continue", "--retries", "2", "-O", dir, srv.URL+"/a")
	if a := records(t, out)[srv.URL+"/a"]; code != exitSomeFailed || a.Attempts != 3 || a.ErrorKind != "truncated" {
		t.Fatalf("first run: exit %d, record %+v; want 1, 3 attempts, truncated", code, a)
	}
	if got, want := fmt.Sprint(srv.rangesOf("/a")), "[ bytes=2500- bytes=5000-]"; got != want {
		t.Errorf("Range of each attempt: %s; want %s", got, want)
	}
	if got := ncRead(dir, srv.host+"_a"); got != string(contBody[:7500]) {
		t.Fatalf("after the first run the file holds %d bytes; want the 7500 that came", len(got))
	}
	srv.mu.Lock()
	srv.handle, srv.ranges = nil, map[string][]string{}
	srv.mu.Unlock()
	code, out, _ = runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
	if a := records(t, out)[srv.URL+"/a"]; code != exitOK || a.ResumedFrom != 7500 || a.Bytes != 2500 || ncRead(dir, srv.host+"_a") != string(contBody) {
		t.Errorf("second run: exit %d, record %+v; want 0, resumed_from 7500, bytes 2500, the body", code, a)
	}
}

// A server that sends the whole body again, when a retry asks for the
// rest of what an earlier attempt of the run left, has it written whole,
// over that part, as wget starts over; a file the run began with is
// never overwritten so (see TestContinueServerSendsWholeBody).
func TestContinueRetryOfNewFileWithoutRanges(t *testing.T) {
	srv := newContServer(t)
	var n atomic.Int64
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			cutAfter(w, r, 2500)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(contBody)))
		w.Write(contBody) // ignores Range
	}
	dir := t.TempDir()
	code, out, stderr := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitOK || a.Attempts != 2 || a.Bytes != int64(len(contBody)) || a.ResumedFrom != 0 || a.Skipped != "" {
		t.Errorf("exit %d (%q), record %+v; want 0, 2 attempts, bytes %d", code, stderr, a, len(contBody))
	}
	if got, want := fmt.Sprint(srv.rangesOf("/a")), "[ bytes=2500-]"; got != want {
		t.Errorf("Range of each attempt: %s; want %s", got, want)
	}
	if got := ncRead(dir, srv.host+"_a"); got != string(contBody) {
		t.Errorf("the file holds %d bytes, the body? %v; want the body", len(got), got == string(contBody))
	}
}

// A retry of a --continue download sends If-Range with the ETag the
// attempt before it was sent, so that a body changed since is not
// spliced onto the part of another version: the server's whole new body
// fails the input, the file left with what the run had appended.
func TestContinueRetrySendsIfRange(t *testing.T) {
	srv := newContServer(t)
	var n atomic.Int64
	var ifRange []string
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		srv.mu.Lock()
		ifRange = append(ifRange, r.Header.Get("If-Range"))
		srv.mu.Unlock()
		if n.Add(1) == 1 {
			servePart(w, r, `"v1"`, contBody, 1000)
			return
		}
		servePart(w, r, `"v2"`, bytes.ToUpper(contBody), -1)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), contBody[:3000], 0o644)
	code, out, _ := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitSomeFailed || a.Attempts != 2 || !strings.Contains(a.Error, "whole body") {
		t.Errorf("exit %d, record %+v; want 1, 2 attempts, the whole body refused", code, a)
	}
	if got, want := fmt.Sprintf("%q", ifRange), `["" "\"v1\""]`; got != want {
		t.Errorf("If-Range of each attempt: %s; want %s", got, want)
	}
	if got := ncRead(dir, srv.host+"_a"); got != string(contBody[:4000]) {
		t.Errorf("the file holds %d bytes; want the 4000 of the first version", len(got))
	}
}
