package main

// Operator review (curl / wget -i / xargs user, and --queue workers).
// Each test here fails on the code it was written against, and says what
// is expected instead. Waits poll a condition, or wait for an event, up
// to a bound that only matters on failure; nothing sleeps to synchronise.

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ctrl-C in a run over a long list: the records say only what finished or
// was cancelled, and the summary says "fetched 7" of a list of 200, with
// nothing saying that the rest of the input was never read or tried. A
// user who reruns the list cannot tell from stderr that most of it was
// never attempted (unlike the exit status, which a pipeline may swallow).
//
// Expected: as --total does when it cuts a run short ("--total 1s reached
// after 7 results: the rest of the input was not read", main.go fetchAll),
// an interrupted run says on stderr, even with -q, that it was
// interrupted and what it left: "interrupted after N results: the rest of
// the input was not read" (or "M of the T URLs not tried" when the total
// is known).
func TestReviewOpsInterruptSaysWhatItLeft(t *testing.T) {
	srv, arrived := reviewBlockingServer(t)
	var in strings.Builder
	for i := range 200 {
		fmt.Fprintf(&in, "%s/hang/%d\n", srv.URL, i)
	}
	cmd := reviewCommand(t, "-q", "-c", "2", "--retries", "0", "-")
	cmd.Stdin = strings.NewReader(in.String())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	reviewWait(t, arrived, "the first request")
	reviewWait(t, arrived, "the second request")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var lines int
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		lines++
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d; want 130", code)
	}
	if lines >= 200 {
		t.Fatalf("%d records: the run was not cut short, nothing to check", lines)
	}
	said := regexp.MustCompile(`(?i)interrupted|not read|not tried`)
	if !said.MatchString(stderr.String()) {
		t.Errorf("after Ctrl-C, %d records of a 200-line input, and stderr %q: nothing says the run was interrupted or that the rest of the input was not read; want a line such as --total gives", lines, stderr.String())
	}
}

// With --queue, a record's url is not the URL as queued (and as given to
// --enqueue), but the Fetcher's re-encoding of it: "http://h/café" is
// "http://h/caf%C3%A9", "http://h/a b" is "http://h/a%20b". Without
// --queue the same list gives records whose url is the line as written,
// as the README promises ("url (as given in the input ...)"), so records
// can be joined back to the list (jq, join, grep -F -f urls.txt). A
// --queue run's records cannot: a URL looks never fetched.
//
// Expected: the url of a --queue record is the entry's URL as stored in
// the stream (any password hidden), as without --queue. Cause:
// queueRecords (queue.go) takes rec.URL from the Fetcher's Result
// (req.URL.String()), which redisqueue.Run yields as is (run.go, where
// the entry, e.url, is at hand and could name the Result).
func TestReviewOpsQueueRecordURLAsQueued(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	queue, _ := newQueue(t, redisAddr(t))
	urls := []string{srv.URL + "/café", srv.URL + "/a b", srv.URL + "/plain"}
	opsEnqueue(t, queue, urls)

	// The same list without --queue: the url is the line as written.
	code, out, stderr := runCmd(t, strings.Join(urls, "\n")+"\n", "-q", "-")
	if code != exitOK {
		t.Fatalf("without --queue: exit %d, %s", code, stderr)
	}
	for _, u := range urls {
		if _, ok := records(t, out)[u]; !ok {
			t.Fatalf("without --queue, no record with url %q in:\n%s", u, out)
		}
	}

	done := make(chan struct{})
	var qout, qerr string
	go func() {
		defer close(done)
		code, qout, qerr = runCmd(t, "", "-q", "--queue", queue, "--group", "workers")
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second): // a bound on failure
		t.Fatal("--queue worker still running after 60s")
	}
	if code != exitOK {
		t.Fatalf("--queue: exit %d, %s", code, qerr)
	}
	got := records(t, qout)
	for _, u := range urls {
		if _, ok := got[u]; !ok {
			var names []string
			for k := range got {
				names = append(names, k)
			}
			t.Errorf("--queue: no record with url %q, as queued; records name %q", u, names)
		}
	}
}
