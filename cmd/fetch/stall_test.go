package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// -O saves a body of any size, as wget does: the 10 MiB cap is for the
// bodies the command holds in memory, which it does only without -O.
// --max-body still caps -O when given (TestSaveToDir).
func TestSaveHasNoBodyCapByDefault(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	const n = 12 << 20
	url := srv.URL + "/big?n=" + strconv.Itoa(n)
	dir := t.TempDir()
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, url)
	if code != exitOK {
		t.Fatalf("-O: exit %d, stderr %q, out %s; want 0", code, stderr, out)
	}
	r := records(t, out)[url]
	if info, err := os.Stat(r.File); err != nil || info.Size() != n || r.Bytes != n {
		t.Errorf("-O: record %+v, file %v (%v); want all %d bytes saved", r, info, err, n)
	}

	code, out, _ = runCmd(t, "", "-q", url)
	if r := records(t, out)[url]; code != exitSomeFailed || r.ErrorKind != "body_too_large" || !strings.HasSuffix(r.Error, " 10485760 bytes (--max-body)") {
		t.Errorf("without -O: exit %d, record %+v; want body_too_large under the default cap", code, r)
	}
}

// With -O, --timeout bounds how long a response may stall, not how long a
// download takes: a body that keeps coming is saved however long it takes
// in all, and one that stops coming, before or after its header, fails as
// an attempt timeout.
func TestSaveTimeoutIsAStallTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/trickle": // 1 s in all, a byte every 50 ms
			for range 20 {
				w.Write([]byte("x"))
				w.(http.Flusher).Flush()
				select {
				case <-time.After(50 * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
		case "/stall-body":
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			fallthrough
		case "/stall-head":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(release)
	dir := t.TempDir()
	urls := []string{srv.URL + "/trickle", srv.URL + "/stall-body", srv.URL + "/stall-head"}
	code, out, stderr := runCmd(t, "", append([]string{"-q", "--retries", "0", "--timeout", "400ms", "-O", dir}, urls...)...)
	if code != exitSomeFailed {
		t.Fatalf("exit %d, stderr %q, out %s; want 1", code, stderr, out)
	}
	recs := records(t, out)
	if r := recs[urls[0]]; r.Error != "" || r.Bytes != 20 {
		t.Errorf("trickle: record %+v; want its 20 bytes saved past the 400ms timeout", r)
	}
	for _, u := range urls[1:] {
		r := recs[u]
		if r.ErrorKind != "timeout" || !strings.Contains(r.Error, "attempt stalled") || !strings.Contains(r.Error, " 400ms") || !strings.HasSuffix(r.Error, " (--timeout)") {
			t.Errorf("%s: record %+v; want an attempt timeout naming --timeout", u, r)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || filepath.Join(dir, entries[0].Name()) != recs[urls[0]].File {
		t.Errorf("files %v; want the trickle's alone", entries)
	}

	// Without -O, --timeout bounds the whole attempt.
	code, out, _ = runCmd(t, "", "-q", "--retries", "0", "--timeout", "400ms", urls[0])
	if r := records(t, out)[urls[0]]; code != exitSomeFailed || r.ErrorKind != "timeout" {
		t.Errorf("without -O: exit %d, record %+v; want an attempt timeout", code, r)
	}
}

// -O - is a usage error, as curl's -o - might make one expect the bodies on
// standard output, where the JSON lines go; it made a directory named "-".
func TestSaveToDashIsAUsageError(t *testing.T) {
	t.Chdir(t.TempDir())
	code, out, stderr := runCmd(t, "", "-O", "-", "http://127.0.0.1:1/")
	if code != exitUsage || out != "" || !strings.Contains(stderr, "-O -: -O takes a directory") {
		t.Errorf("exit %d, stdout %q, stderr %q; want a usage error naming -O -", code, out, stderr)
	}
	if _, err := os.Stat("-"); err == nil {
		t.Errorf(`a directory named "-" was made`)
	}
}

// A body cut short (the connection closed before its Content-Length) is a
// failure of its own kind, truncated, whatever the status line said, so
// that a script selecting status 200 can tell it from a success.
func TestTruncatedBodyKind(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte("only part"))
	}))
	defer srv.Close()
	for _, args := range [][]string{{}, {"-O", t.TempDir()}} {
		code, out, _ := runCmd(t, "", append(args, "-q", "--retries", "0", srv.URL+"/a")...)
		if r := records(t, out)[srv.URL+"/a"]; code != exitSomeFailed || r.ErrorKind != "truncated" {
			t.Errorf("%v: exit %d, record %+v; want error_kind truncated", args, code, r)
		}
	}
}

// A Redis that answers LOADING at the start (loading its data after a
// restart) has answered: a --queue worker waits for it, saying so once,
// until it is ready or the run ends (here --total), as the queue's workers
// wait it out once running; it exited at once with status 2.
func TestQueueWaitsForRedisLoading(t *testing.T) {
	addr, arrived := loadingRedisArrived(t)
	code, out, stderr := runCmd(t, "", "-q", "--total", "1s", "--queue", "redis://"+addr+"/urls")
	if code != exitSomeFailed || out != "" || strings.Count(stderr, "waiting until it is ready") != 1 || !strings.Contains(stderr, "LOADING") || len(arrived) == 0 {
		t.Errorf("exit %d, stdout %q, stderr %q, %d commands; want it to wait for Redis (one line saying so) until --total ends it", code, out, stderr, len(arrived))
	}
}
