package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// fullDisk makes every file -O writes fail as on a full disk (its writes
// go to /dev/full) until t ends.
func fullDisk(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	saveOpen = func(*os.Root, string, int, os.FileMode) (*os.File, error) {
		return os.OpenFile("/dev/full", os.O_WRONLY, 0)
	}
	t.Cleanup(func() { saveOpen = (*os.Root).OpenFile })
}

// countingServer answers every request with its path and counts them.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		fmt.Fprint(w, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// When the -O directory can take no more (its disk is full), the run
// stops: it says why and exits 1, rather than fetching every URL left only
// to fail to save each.
func TestSaveStopsWhenDiskFull(t *testing.T) {
	fullDisk(t)
	srv, requests := countingServer(t)
	const n = 500
	var urls strings.Builder
	for i := range n {
		fmt.Fprintf(&urls, "%s/%d\n", srv.URL, i)
	}
	code, out, stderr := runCmd(t, urls.String(), "-q", "-c", "2", "-O", t.TempDir(), "-")
	recs := lineRecords(t, out)
	if code != exitSomeFailed || !strings.Contains(stderr, "stopped") || !strings.Contains(stderr, "no space left on device") {
		t.Errorf("exit %d, stderr %q; want 1 and a line saying the run stopped for want of space", code, stderr)
	}
	if len(recs) == 0 || !strings.Contains(recs[0].Error, "no space left on device") {
		t.Errorf("records %+v; want the first to say its body could not be saved", recs)
	}
	if got := requests.Load(); got >= n/2 {
		t.Errorf("%d of %d URLs requested after the disk was full; want the run stopped", got, n)
	}
}

// A queue worker whose -O directory is full stops without acknowledging
// the entry it could not save, so that a worker with room fetches it.
func TestQueueSaveStopsWhenDiskFull(t *testing.T) {
	addr := redisAddr(t)
	fullDisk(t)
	srv, _ := countingServer(t)
	queue, q := newQueue(t, addr)
	var urls strings.Builder
	const n = 50
	for i := range n {
		fmt.Fprintf(&urls, "%s/%d\n", srv.URL, i)
	}
	if code, _, stderr := runCmd(t, urls.String(), "-q", "--queue", queue, "--group", "workers", "--enqueue", "-"); code != exitOK {
		t.Fatalf("--enqueue: exit %d, %s", code, stderr)
	}
	code, out, stderr := runCmd(t, "", "-q", "-c", "1", "--queue", queue, "--group", "workers", "-O", t.TempDir())
	if code != exitSomeFailed || !strings.Contains(stderr, "no space left on device") {
		t.Errorf("worker: exit %d, stderr %q; want 1 and the reason", code, stderr)
	}
	if recs := lineRecords(t, out); len(recs) != 0 {
		t.Errorf("records %+v; want none: no body was saved, and no entry acknowledged", recs)
	}
	st, err := q.Stats(context.Background())
	if err != nil || st.Drained || st.Entries != n || st.Seen != n {
		t.Errorf("queue after the worker stopped: %+v, %v; want all %d entries still there, none acknowledged", st, err, n)
	}
}
