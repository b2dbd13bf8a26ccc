package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Review of --continue (wget -c for -O). Tests named ...Finding... failed
// on the code as reviewed, each a defect since fixed; the others check a
// property that held.

// serve206 answers every request with a 206 of contBody[first:first+n]
// under the Content-Range cr, with no Content-Length (chunked) when
// chunked, so that the body's length is the only word on its size.
func serve206(cr string, first, n int, chunked bool) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Range", cr)
		if !chunked {
			w.Header().Set("Content-Length", fmt.Sprint(n))
		}
		w.WriteHeader(http.StatusPartialContent)
		if chunked {
			w.(http.Flusher).Flush()
		}
		body := make([]byte, 0, n)
		for len(body) < n { // past the body's end: more of the same
			body = append(body, contBody[(first+len(body))%len(contBody)])
		}
		w.Write(body)
	}
}

// FINDING. A file larger than the body (the remote file shrank, or the
// file is another one): the server answers bytes=12000- with 416 and
// Content-Range "bytes */10000", which says the body has 10000 bytes. The
// record says "complete" and the run exits 0, though the file is not the
// body. The 200 path is stricter for the very same file (a 200 of 10000
// bytes fails it, "remove the file"), so which of two equally correct
// servers answered decides whether the user hears about it. (wget says
// "already fully retrieved" in both cases, curl -C - ignores any 416;
// fetch's own rule, a Content-Length equal to the file's size, should hold
// for the 416's */LENGTH too.)
func TestContinueReviewFinding416FileLargerThanBody(t *testing.T) {
	srv := newContServer(t) // ServeContent: 416 with Content-Range bytes */10000
	dir := t.TempDir()
	larger := append(bytes.Clone(contBody), "and 2000 more bytes"...)
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), larger, 0o644)
	code, out, _ := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitSomeFailed || a.Skipped == "complete" || a.Error == "" {
		t.Errorf("exit %d, record %+v; want 1 and the input failed (the file holds %d bytes, the body %d), as the 200 path fails it",
			code, a, len(larger), len(contBody))
	}
	if got := ncRead(dir, srv.host+"_a"); got != string(larger) {
		t.Errorf("the file was changed; want it left as it was")
	}
}

// The 416 of a file that holds exactly the body, with its Content-Range
// saying so, is still complete (guards the fix above).
func TestContinueReview416ExactIsComplete(t *testing.T) {
	srv := newContServer(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), contBody, 0o644)
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		// Some servers send a 416 without Content-Range: taken as complete, as wget and curl do.
		if r.URL.Path == "/bare" {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(contBody))
	}
	os.WriteFile(filepath.Join(dir, srv.host+"_bare"), contBody[:10], 0o644)
	code, out, stderr := runCmd(t, "", "--continue", "-O", dir, srv.URL+"/a", srv.URL+"/bare")
	recs := records(t, out)
	for _, p := range []string{"/a", "/bare"} {
		if r := recs[srv.URL+p]; r.Skipped != "complete" || r.Error != "" || r.Status != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("%s: record %+v; want skipped complete, status 416", p, r)
		}
	}
	if code != exitOK || !strings.Contains(stderr, "0 succeeded, 0 failed, 0 retried, 2 complete already (--continue)") {
		t.Errorf("exit %d, summary %q; want 0 and 2 complete already", code, stderr)
	}
}

// A 206 that starts where the file ends but stops short of the total it
// states ("bytes 3000-5999/10000", as servers that cap a range's size
// send): the part is appended and kept, and the input fails saying the
// file is still short, so that nothing reports it whole; the next run goes
// on from there. (wget and curl report such a file done.)
func TestContinueReviewShortRangeKeptNotDone(t *testing.T) {
	srv := newContServer(t)
	srv.handle = serve206("bytes 3000-5999/10000", 3000, 3000, false)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), contBody[:3000], 0o644)
	code, out, _ := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitSomeFailed || !strings.Contains(a.Error, "the server sent bytes 3000-5999 of 10000: the file holds 6000; run again to finish it") {
		t.Errorf("exit %d, record %+v; want 1, failed saying the file holds 6000 of 10000", code, a)
	}
	if got := ncRead(dir, srv.host+"_a"); got != string(contBody[:6000]) {
		t.Errorf("the file holds %d bytes; want the 6000 the two parts make", len(got))
	}
	srv.mu.Lock()
	srv.handle = nil // ServeContent: the rest
	srv.mu.Unlock()
	code, out, _ = runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
	if a := records(t, out)[srv.URL+"/a"]; code != exitOK || a.ResumedFrom != 6000 || ncRead(dir, srv.host+"_a") != string(contBody) {
		t.Errorf("second run: exit %d, record %+v; want 0, resumed from 6000, the file whole", code, a)
	}
}

// FINDING. A 206 whose body does not match its own Content-Range: it
// says bytes 3000-9999/10000 (7000 bytes) but sends 9000, chunked. All
// 9000 are appended and the input succeeds: the file is 12000 bytes, past
// the total the server stated. Likewise a Content-Range ending past its
// total ("bytes 3000-10999/10000") is taken. The appended count should be
// checked against last-first+1, and last against the total.
func TestContinueReviewFindingRangeBodyLongerThanRange(t *testing.T) {
	for _, tc := range []struct {
		name, cr string
		n        int
	}{
		{"body longer than its range", "bytes 3000-9999/10000", 9000},
		{"range past its total", "bytes 3000-10999/10000", 8000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newContServer(t)
			srv.handle = serve206(tc.cr, 3000, tc.n, true)
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, srv.host+"_a"), contBody[:3000], 0o644)
			code, out, _ := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
			a := records(t, out)[srv.URL+"/a"]
			size := len(ncRead(dir, srv.host+"_a"))
			if size > len(contBody) || code == exitOK {
				t.Errorf("exit %d, record %+v; the file holds %d bytes, past the total of %d the server stated; want the input failed, the file as it was",
					code, a, size, len(contBody))
			}
		})
	}
}

// FINDING. --max-body bounds a body; with --continue it bounds only each
// response. A body over the cap (sent chunked, so found only as it comes)
// fails with body_too_large but, written in place, leaves max-body bytes
// in its file; the next --continue run with the same --max-body asks for
// the rest and appends it, and the file ends larger than --max-body with
// exit 0. Without --continue the same body is never saved. The cap
// should be on resumed_from + the bytes appended (Content-Length checked
// as resume+CL > max, and the copy limited to max-resume).
func TestContinueReviewFindingMaxBodyAcrossRuns(t *testing.T) {
	srv := newContServer(t)
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(contBody))
			return
		}
		w.(http.Flusher).Flush() // chunked: no Content-Length
		w.Write(contBody)
	}
	dir := t.TempDir()
	args := []string{"-q", "--continue", "--retries", "0", "--max-body", "6000", "-O", dir, srv.URL + "/a"}
	code, out, _ := runCmd(t, "", args...)
	if a := records(t, out)[srv.URL+"/a"]; code != exitSomeFailed || a.ErrorKind != "body_too_large" {
		t.Fatalf("first run: exit %d, record %+v; want 1, body_too_large", code, a)
	}
	code, out, _ = runCmd(t, "", args...)
	a := records(t, out)[srv.URL+"/a"]
	if size := len(ncRead(dir, srv.host+"_a")); size > 6000 || code == exitOK {
		t.Errorf("second run: exit %d, record %+v, the file holds %d bytes; want it failed body_too_large, the file no larger than --max-body 6000",
			code, a, size)
	}
}

// denyOpen makes -O's opening of name for writing fail with EACCES, as
// opening a read-only (0444) file does for a user other than root.
func denyOpen(t *testing.T, name string) {
	t.Helper()
	saveOpen = func(r *os.Root, n string, flag int, perm os.FileMode) (*os.File, error) {
		if n == name && flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, &fs.PathError{Op: "open", Path: n, Err: syscall.EACCES}
		}
		return r.OpenFile(n, flag, perm)
	}
	t.Cleanup(func() { saveOpen = (*os.Root).OpenFile })
}

// FINDING. One read-only file in DIR (a finished download someone made
// 0444, or one owned by another user) stops the whole --continue run:
// opening it for writing fails with EACCES, which noRoom takes for "the
// directory can take no more", so the run says "-O DIR: stopped:
// permission denied" and fetches none of the URLs left. Without
// --continue the same file is replaced (temp + rename, which needs only
// the directory's permission) and the run goes on; wget -c reports
// "Cannot write to" for that URL and goes on to the next. EACCES from
// opening an existing file says nothing about the directory.
func TestContinueReviewFindingReadOnlyFileStopsRun(t *testing.T) {
	srv := newContServer(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), contBody[:3000], 0o444)
	denyOpen(t, srv.host+"_a")
	var list strings.Builder
	list.WriteString(srv.URL + "/a\n")
	for i := range 20 {
		fmt.Fprintf(&list, "%s/n%d\n", srv.URL, i)
	}
	code, out, stderr := runCmd(t, list.String(), "-q", "--continue", "-c", "1", "-O", dir, "-")
	recs := lineRecords(t, out)
	if strings.Contains(stderr, "stopped") || len(recs) != 21 {
		t.Errorf("exit %d, %d records of 21, stderr %q; want the read-only file's input failed and the other 20 fetched", code, len(recs), stderr)
	}
	for i := range 20 {
		if got := ncRead(dir, fmt.Sprintf("%s_n%d", srv.host, i)); got != string(contBody) {
			t.Errorf("n%d not saved (%.40q)", i, got)
			break
		}
	}
}

// smallDisk mounts a tmpfs of size bytes for the test, or skips it.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// A full disk stops a --continue run as it stops one without: it says why
// and exits 1, not fetching every URL left. (A real small file system:
// diskfull_test's /dev/full hook does not fit --continue, whose Truncate
// of the device fails with EINVAL before any write.)
func TestContinueReviewDiskFullStops(t *testing.T) {
	dir := smallDisk(t, 64<<10)
	srv := newContServer(t)
	var requests atomic.Int64
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(contBody))
	}
	var list strings.Builder
	for i := range 200 {
		fmt.Fprintf(&list, "%s/%d\n", srv.URL, i)
	}
	code, _, stderr := runCmd(t, list.String(), "-q", "--continue", "-c", "2", "-O", dir, "-")
	if code != exitSomeFailed || !strings.Contains(stderr, "stopped") || !strings.Contains(stderr, "no space left on device") {
		t.Errorf("exit %d, stderr %q; want 1 and the run stopped for want of space", code, stderr)
	}
	if n := requests.Load(); n >= 100 {
		t.Errorf("%d of 200 requested; want the run stopped", n)
	}
}

// A read-only DIR (its file system mounted ro) stops a --continue run that
// has a partial file to finish there: opening it for writing says EROFS.
func TestContinueReviewReadOnlyFSStops(t *testing.T) {
	dir := smallDisk(t, 1<<20)
	srv := newContServer(t)
	var requests atomic.Int64
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(contBody))
	}
	var list strings.Builder
	for i := range 200 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s_%d", srv.host, i)), contBody[:100], 0o644)
		fmt.Fprintf(&list, "%s/%d\n", srv.URL, i)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount read-only: %v", err)
	}
	code, _, stderr := runCmd(t, list.String(), "-q", "--continue", "-c", "2", "-O", dir, "-")
	if code != exitSomeFailed || !strings.Contains(stderr, "stopped") || !strings.Contains(stderr, "read-only file system") {
		t.Errorf("exit %d, stderr %q; want 1 and the run stopped, read-only", code, stderr)
	}
	if n := requests.Load(); n >= 100 {
		t.Errorf("%d of 200 requested; want the run stopped", n)
	}
}

// A server that answers a one-range request with multipart/byteranges
// (no Content-Range of its own) is not appended: the input fails and the
// file is left as it was, rather than the MIME parts being written into
// it.
func TestContinueReviewMultipartRefused(t *testing.T) {
	srv := newContServer(t)
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		p, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Range": {"bytes 3000-9999/10000"}})
		p.Write(contBody[3000:])
		mw.Close()
		w.Header().Set("Content-Type", "multipart/byteranges; boundary="+mw.Boundary())
		w.WriteHeader(http.StatusPartialContent)
		w.Write(buf.Bytes())
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), contBody[:3000], 0o644)
	code, out, _ := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitSomeFailed || !strings.Contains(a.Error, "--continue cannot finish") {
		t.Errorf("exit %d, record %+v; want 1, failed", code, a)
	}
	if got := ncRead(dir, srv.host+"_a"); got != string(contBody[:3000]) {
		t.Errorf("the file holds %d bytes; want its 3000, unchanged", len(got))
	}
}

// A 206 of unknown total ("bytes 3000-9999/*") is appended, as wget and
// curl take it.
func TestContinueReviewUnknownTotal(t *testing.T) {
	srv := newContServer(t)
	srv.handle = serve206("bytes 3000-9999/*", 3000, 7000, false)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), contBody[:3000], 0o644)
	code, out, _ := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitOK || a.ResumedFrom != 3000 || a.Bytes != 7000 || ncRead(dir, srv.host+"_a") != string(contBody) {
		t.Errorf("exit %d, record %+v; want 0, resumed_from 3000, bytes 7000, the body", code, a)
	}
}

// A redirect keeps the Range (net/http copies it, to another host too),
// and the file is the one named for the URL as given, not the final one,
// as wget names it without --trust-server-names.
func TestContinueReviewRedirectKeepsRange(t *testing.T) {
	target := newContServer(t)
	front := newContServer(t)
	front.handle = func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/real/file.bin", http.StatusFound)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, front.host+"_a"), contBody[:3000], 0o644)
	code, out, _ := runCmd(t, "", "-q", "--continue", "-O", dir, front.URL+"/a")
	a := records(t, out)[front.URL+"/a"]
	if code != exitOK || a.ResumedFrom != 3000 || a.Bytes != 7000 || a.FinalURL != target.URL+"/real/file.bin" {
		t.Errorf("exit %d, record %+v; want 0, resumed_from 3000, bytes 7000, final_url the target", code, a)
	}
	if got := target.rangesOf("/real/file.bin"); fmt.Sprint(got) != "[bytes=3000-]" {
		t.Errorf("the redirect's target got Range %q; want bytes=3000-", got)
	}
	if got := ncRead(dir, front.host+"_a"); got != string(contBody) {
		t.Errorf("the file named for the URL as given holds %d bytes; want the body", len(got))
	}
	if _, err := os.Stat(filepath.Join(dir, target.host+"_real_file.bin")); err == nil {
		t.Errorf("a file was made for the final URL")
	}
}

// A 206 with Content-Encoding gzip (a server that ignores
// Accept-Encoding: identity) is appended as the bytes sent, not
// decompressed: the file stays the representation whose offsets the
// Range counted.
func TestContinueReviewGzipRangeSavedAsSent(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(contBody)
	zw.Close()
	enc := gz.Bytes()
	srv := newContServer(t)
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(enc))
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_a.gz"), enc[:100], 0o644)
	code, out, _ := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a.gz")
	a := records(t, out)[srv.URL+"/a.gz"]
	if code != exitOK || a.ResumedFrom != 100 || ncRead(dir, srv.host+"_a.gz") != string(enc) {
		t.Errorf("exit %d, record %+v; want 0, resumed_from 100, the gzip bytes as sent", code, a)
	}
}

// The same URL twice in a list gets two files (the later one .1), and each
// is finished from where it ends, with a Range of its own.
func TestContinueReviewDuplicateURLs(t *testing.T) {
	srv := newContServer(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), contBody[:3000], 0o644)
	os.WriteFile(filepath.Join(dir, srv.host+"_a.1"), contBody[:5000], 0o644)
	list := srv.URL + "/a\n" + srv.URL + "/a\n" + srv.URL + "/a\n"
	code, out, stderr := runCmd(t, list, "--continue", "-O", dir, "-")
	recs := lineRecords(t, out)
	if code != exitOK || len(recs) != 3 {
		t.Fatalf("exit %d, %d records, %q", code, len(recs), stderr)
	}
	for _, n := range []string{"_a", "_a.1", "_a.2"} {
		if got := ncRead(dir, srv.host+n); got != string(contBody) {
			t.Errorf("%s holds %d bytes; want the body", n, len(got))
		}
	}
	got := srv.rangesOf("/a")
	want := map[string]bool{"bytes=3000-": true, "bytes=5000-": true, "": true}
	for _, r := range got {
		delete(want, r)
	}
	if len(got) != 3 || len(want) != 0 {
		t.Errorf("Ranges %q; want one each of bytes=3000-, bytes=5000- and none", got)
	}
	if !strings.Contains(stderr, "3 succeeded, 0 failed, 0 retried, 0 complete already (--continue)") {
		t.Errorf("summary %q", stderr)
	}
}

// A directory where the file would be fails that input (no Range sent
// for it, nothing downloaded into it), and the run goes on.
func TestContinueReviewDirectoryInTheWay(t *testing.T) {
	srv := newContServer(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, srv.host+"_a"), 0o755)
	code, out, _ := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a", srv.URL+"/b")
	recs := records(t, out)
	if a := recs[srv.URL+"/a"]; code != exitSomeFailed || a.Error == "" || !strings.Contains(a.Error, "is a directory") {
		t.Errorf("exit %d, a's record %+v; want 1, a failed saying it is a directory", code, a)
	}
	if b := recs[srv.URL+"/b"]; b.Error != "" || ncRead(dir, srv.host+"_b") != string(contBody) {
		t.Errorf("b's record %+v; want it saved", b)
	}
	if got := srv.rangesOf("/a"); fmt.Sprint(got) != "[]" {
		t.Errorf("Range %q for a directory; want none", got)
	}
}

// A 206 that stalls is cut by --timeout and retried; the retry appends
// once, from where the file ended before the run.
func TestContinueReviewStallRetriedAppendsOnce(t *testing.T) {
	srv := newContServer(t)
	var n atomic.Int64
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 {
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(contBody))
			return
		}
		w.Header().Set("Content-Range", "bytes 3000-9999/10000")
		w.Header().Set("Content-Length", "7000")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(contBody[3000:5000])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // stalls until the client gives up
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), contBody[:3000], 0o644)
	code, out, stderr := runCmd(t, "", "-q", "--continue", "--timeout", "300ms", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitOK || a.Attempts != 2 || a.ResumedFrom != 3000 || a.Bytes != 7000 || ncRead(dir, srv.host+"_a") != string(contBody) {
		t.Errorf("exit %d (%q), record %+v; want 0, 2 attempts, resumed_from 3000, bytes 7000, the body", code, stderr, a)
	}
}

// A 416 is not retried, whatever --retries says, and a refused whole body
// is not either (one attempt each).
func TestContinueReviewNoRetryOfVerdicts(t *testing.T) {
	srv := newContServer(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_a"), contBody, 0o644)
	code, out, _ := runCmd(t, "", "-q", "--continue", "--retries", "5", "-O", dir, srv.URL+"/a")
	if a := records(t, out)[srv.URL+"/a"]; code != exitOK || a.Attempts != 1 || len(srv.rangesOf("/a")) != 1 {
		t.Errorf("exit %d, record %+v, %d requests; want one attempt", code, a, len(srv.rangesOf("/a")))
	}
}

// --title on a resumed HTML page reads the title from the whole file,
// whose <title> came in the part saved before.
func TestContinueReviewTitleOfResumedPage(t *testing.T) {
	page := []byte("<!doctype html><html><head><title>Resumed</title></head><body>" + strings.Repeat("x", 5000) + "</body></html>")
	srv := newContServer(t)
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(page))
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, srv.host+"_p"), page[:100], 0o644)
	_, out, _ := runCmd(t, "", "-q", "--continue", "--title", "-O", dir, srv.URL+"/p")
	if p := records(t, out)[srv.URL+"/p"]; p.ResumedFrom != 100 || p.Title != "Resumed" {
		t.Errorf("record %+v; want resumed_from 100, title Resumed", p)
	}
}

// Usage as wget users type it, and the refusals around it.
func TestContinueReviewUsage(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(t.TempDir(), "list")
	os.WriteFile(list, []byte("http://a.test/\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-c", "-i", list, "-O", dir}, "wget's -c is --continue"},
		{[]string{"--continue", "-O", dir, "-H", "range: bytes=0-1", "http://a.test/"}, "--continue and -H Range"},
		{[]string{"--continue", "-O", dir, "-H", "Range:", "http://a.test/"}, "--continue and -H Range"},
		{[]string{"--continue", "-O", dir, "-X", "HEAD", "http://a.test/"}, "--continue and -X HEAD"},
		{[]string{"--continue", "--no-clobber", "-O", dir, "http://a.test/"}, "--continue and --no-clobber"},
	} {
		code, _, stderr := runCmd(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// SIGINT during an append: what came stays appended (for the next run),
// the run exits 130 saying it was interrupted, and the record of the input
// cut short says it failed, claiming no bytes saved.
func TestContinueReviewInterruptLeavesPart(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "bytes=3000-" {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Range", "bytes 3000-9999/10000")
		w.Header().Set("Content-Length", "7000")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(contBody[3000:4000])
		w.(http.Flusher).Flush()
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()
	host := strings.ReplaceAll(strings.TrimPrefix(srv.URL, "http://"), ":", "_")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, host+"_a"), contBody[:3000], 0o644)
	cmd := reviewCommand(t, "--continue", "-O", dir, srv.URL+"/a")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reviewWait(t, arrived, "the 206")
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("exit %d, stderr %q; want 130, saying interrupted", code, stderr.String())
	}
	a := records(t, stdout.String())[srv.URL+"/a"]
	if a.Error == "" || a.Bytes != 0 || a.Skipped != "" {
		t.Errorf("record %+v; want it failed (canceled)", a)
	}
	// However much of the 1000 bytes sent the process read before the
	// signal (nothing here waits for it), the file is the body's first
	// 3000 bytes and what came after them, in place: not cut back, not
	// removed, nothing else.
	got := ncRead(dir, host+"_a")
	t.Logf("the file holds %d bytes", len(got))
	if len(got) < 3000 || len(got) > 4000 || got != string(contBody[:len(got)]) {
		t.Errorf("the file holds %d bytes; want the 3000 it held and up to the 1000 that came, as sent", len(got))
	}
}

// FINDING (minor). An input with no file (or an empty one) is asked for
// no Range; a 206 that comes anyway, starting past byte 0 ("bytes
// 5000-9999/10000"), is saved as the whole file and the input succeeds:
// the file holds the body's second half at offset 0, and the next
// --continue run finishes it from byte 5000, leaving a file that is
// neither. wget refuses a 206 whose start is not where it asked
// ("Range mismatch"/RANGEERR); finish knows the start (the Content-Range) and
// can require 0 when n.resume is 0.
func TestContinueReviewFinding206WithoutRangeAsked(t *testing.T) {
	srv := newContServer(t)
	srv.handle = serve206("bytes 5000-9999/10000", 5000, 5000, false)
	dir := t.TempDir()
	code, out, _ := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if got := ncRead(dir, srv.host+"_a"); code == exitOK && got == string(contBody[5000:]) {
		t.Errorf("exit %d, record %+v: the body's bytes 5000- were saved as the file from byte 0; want the input failed", code, a)
	}
}
