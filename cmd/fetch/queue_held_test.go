package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A worker holds at most twice its -c entries, not the library's default
// 256: a second worker started on a short list gets a share of it, rather
// than finding the first holding it all.
func TestQueueWorkerHoldsTwiceItsConcurrency(t *testing.T) {
	queue, q := newQueue(t, redisAddr(t))
	arrived, release := make(chan struct{}, 64), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	var list strings.Builder
	for i := range 20 {
		fmt.Fprintf(&list, "%s/%d\n", srv.URL, i)
	}
	if code, _, stderr := runCmd(t, list.String(), "-q", "--queue", queue, "--group", "workers", "--enqueue", "-"); code != exitOK {
		t.Fatalf("--enqueue: exit %d, %s", code, stderr)
	}
	w := exec.Command(os.Args[0], "-q", "--queue", queue, "--group", "workers", "-c", "2", "--total", "60s", "-o", os.DevNull)
	w.Env = append(os.Environ(), asCommand+"=1")
	w.Stderr = new(bytes.Buffer)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if w.ProcessState == nil {
			w.Process.Kill()
			w.Wait()
		}
	}()
	// Both of its requests are in flight: it read its entries before it
	// sent them, and holds them until they are answered.
	<-arrived
	<-arrived
	st, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 4 {
		t.Errorf("the worker holds %d entries of 20 with -c 2; want 4", st.Pending)
	}
	close(release)
	if err := w.Wait(); err != nil {
		t.Fatalf("worker: %v\n%s", err, w.Stderr)
	}
}
