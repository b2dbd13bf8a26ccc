package main

// End-to-end review of the command as a user of curl, wget -i, xargs -P and
// GNU parallel would drive it. Checks that pass pin behaviour worth keeping;
// each defect found had a test that failed before its fix.
// Remove the t.Skip to see it fail.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// reviewCommand returns the command run as a process of its own: the test
// binary, which runs main when asCommand is set (see TestMain).
func reviewCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asCommand+"=1")
	return cmd
}

// reviewBlockingServer answers /fast at once and holds every other request
// until the client goes away, sending arrived a value when one comes in.
// With partial=N it sends N bytes of a larger body before holding.
func reviewBlockingServer(t *testing.T) (*httptest.Server, chan string) {
	t.Helper()
	arrived := make(chan string, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/fast") {
			io.WriteString(w, "ok")
			return
		}
		if r.URL.Query().Get("partial") != "" {
			w.Header().Set("Content-Length", "1000000")
			w.Write(bytes.Repeat([]byte("x"), 1000))
			w.(http.Flusher).Flush()
		}
		arrived <- r.URL.Path
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv, arrived
}

func reviewWait[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(30 * time.Second): // a bound on failure, not a synchronisation
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// --- Behaviour worth keeping ---------------------------------------------

// --help prints the help on stdout and exits 0; an unknown flag is exit 2
// with one line on stderr and nothing on stdout.
func TestReviewHelpAndUnknownFlag(t *testing.T) {
	code, out, stderr := runCmd(t, "", "--help")
	if code != exitOK || !strings.HasPrefix(out, "usage: fetch") || stderr != "" {
		t.Errorf("--help: exit %d, stdout %.30q, stderr %q; want 0, usage on stdout", code, out, stderr)
	}
	code, out, stderr = runCmd(t, "", "--bogus", "http://127.0.0.1:1/")
	if code != exitUsage || out != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "--bogus") {
		t.Errorf("--bogus: exit %d, stdout %q, stderr %q; want 2 and one line naming --bogus", code, out, stderr)
	}
}

// Exit status: 0 all ok, 1 for a 404 or a refused connection (with every
// URL still reported), 2 for a value out of range, naming the flag.
func TestReviewExitStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	for _, tc := range []struct {
		args []string
		code int
		recs int
	}{
		{[]string{srv.URL + "/a", srv.URL + "/b"}, exitOK, 2},
		{[]string{srv.URL + "/a", srv.URL + "/missing"}, exitSomeFailed, 2},
		{[]string{"--retries", "0", srv.URL + "/a", "http://127.0.0.1:1/"}, exitSomeFailed, 2},
	} {
		code, out, _ := runCmd(t, "", append([]string{"-q"}, tc.args...)...)
		if n := len(lineRecords(t, out)); code != tc.code || n != tc.recs {
			t.Errorf("fetch %q: exit %d, %d records; want %d and %d", tc.args, code, n, tc.code, tc.recs)
		}
	}
	code, _, stderr := runCmd(t, "", "--host-concurrency", "-1", srv.URL)
	if code != exitUsage || !strings.Contains(stderr, "--host-concurrency") {
		t.Errorf("--host-concurrency -1: exit %d, stderr %q; want 2 naming the flag", code, stderr)
	}
}

// The same list gives the same records whichever way it comes in: a file
// with CRLF endings, comments, blank lines and padding; stdin with -, with
// -i -, and without either.
func TestReviewInputForms(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	list := "# a list\r\n\r\n  " + srv.URL + "/a  \r\n\t" + srv.URL + "/b\r\n   # indented comment\r\n" + srv.URL + "/c"
	file := filepath.Join(t.TempDir(), "urls.txt")
	os.WriteFile(file, []byte(list), 0o644)
	want := []string{srv.URL + "/a", srv.URL + "/b", srv.URL + "/c"}
	for name, tc := range map[string]struct {
		stdin string
		args  []string
	}{
		"-i FILE":        {"", []string{"-i", file}},
		"stdin -":        {list, []string{"-"}},
		"stdin -i -":     {list, []string{"-i", "-"}},
		"stdin, no dash": {list, nil},
	} {
		code, out, _ := runCmd(t, tc.stdin, append([]string{"-q"}, tc.args...)...)
		recs := records(t, out)
		if code != exitOK || len(recs) != len(want) {
			t.Errorf("%s: exit %d, records %v; want 0 and %q", name, code, recs, want)
			continue
		}
		for _, u := range want {
			if recs[u].Status != 200 {
				t.Errorf("%s: record for %s = %+v", name, u, recs[u])
			}
		}
	}
}

// --host-concurrency is honoured as the server counts it, and reached.
func TestReviewHostConcurrencyHonoured(t *testing.T) {
	const limit = 3
	var inFlight, most atomic.Int64
	release := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if n >= limit {
			once.Do(func() { close(release) })
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	var urls []string
	for i := range 12 {
		urls = append(urls, fmt.Sprintf("%s/%d", srv.URL, i))
	}
	code, _, _ := runCmd(t, "", append([]string{"-q", "-c", "16", "--host-concurrency", fmt.Sprint(limit)}, urls...)...)
	if code != exitOK || most.Load() != limit {
		t.Errorf("exit %d, most in flight %d; want 0 and %d", code, most.Load(), limit)
	}
}

// A 503 with Retry-After is retried after the wait, and succeeds.
func TestReviewRetryAfter503(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	code, out, _ := runCmd(t, "", "-q", srv.URL)
	if r := records(t, out)[srv.URL]; code != exitOK || r.Status != 200 || r.Attempts != 2 || r.DurationMS < 1000 {
		t.Errorf("exit %d, record %+v; want 0, 200 after 2 attempts, at least 1s", code, r)
	}
}

// Ctrl-C during -O: exit 130 promptly, the finished record is flushed, and
// neither the finished-but-cut body nor its temporary file is left in DIR.
func TestReviewInterruptOutputDirLeavesNoPartialFile(t *testing.T) {
	srv, arrived := reviewBlockingServer(t)
	dir := t.TempDir()
	cmd := reviewCommand(t, "-q", "-c", "2", "-O", dir, srv.URL+"/fast", srv.URL+"/slow?partial=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var got []string
	if sc.Scan() { // the first record is flushed as soon as it is written
		got = append(got, sc.Text())
	}
	reviewWait(t, arrived, "the partial body to be sent")
	cmd.Process.Signal(syscall.SIGINT)
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit %d; want 130", code)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || strings.HasPrefix(names[0], ".") || !strings.Contains(names[0], "fast") {
		t.Errorf("DIR holds %q; want only the finished /fast body", names)
	}
	if recs := lineRecords(t, strings.Join(got, "\n")); len(recs) != 2 || !strings.Contains(got[0], "/fast") {
		t.Errorf("%d records after Ctrl-C; want 2 (one saved, one canceled)", len(recs))
	}
}

// --- Defects -----------------------------------------------------------

// SIGTERM is reported as 130, the status of SIGINT; by the shell's
// convention (128+signal), as `timeout`, xargs and systemd read it, a run
// stopped by SIGTERM exits 143.
func TestReviewSIGTERMExit143(t *testing.T) {
	srv, arrived := reviewBlockingServer(t)
	cmd := reviewCommand(t, "-q", srv.URL+"/slow")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reviewWait(t, arrived, "the request")
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Errorf("exit %d after SIGTERM; want 143", code)
	}
	if len(lineRecords(t, stdout.String())) != 1 {
		t.Errorf("stdout %q; want the canceled record", stdout.String())
	}
}

// lineWriter sends the number of complete lines written so far on every
// write.
type lineWriter struct {
	mu    sync.Mutex
	lines int
	c     chan int
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.lines += bytes.Count(p, []byte("\n"))
	n := w.lines
	w.mu.Unlock()
	select {
	case w.c <- n:
	default:
	}
	return len(p), nil
}

// A record that is done reaches stdout promptly, as the README ("as each
// completes") and output's comment ("flushed at least every flushEvery, so
// that a reader sees results as they come") say: `fetch ... | jq`, or a
// tail -f on -o, sees it. Today a record is flushed only when a later one
// is written, so one finished just after a flush waits for the next,
// however long that takes (a slow URL, Retry-After: 2 minutes).
func TestReviewRecordsFlushedWhileWaiting(t *testing.T) {
	srv, arrived := reviewBlockingServer(t)
	const fast = 20
	args := []string{"-q", "-c", "64", "--retries", "0"}
	for i := range fast {
		args = append(args, fmt.Sprintf("%s/fast%d", srv.URL, i))
	}
	args = append(args, srv.URL+"/slow")
	w := &lineWriter{c: make(chan int, 1000)}
	done := make(chan int, 1)
	go func() {
		var errOut bytes.Buffer
		done <- run(args, stdio{in: strings.NewReader(""), out: w, err: &errOut})
	}()
	defer func() { // end the held request, and with it the run
		reviewWait(t, arrived, "the held request")
		srv.CloseClientConnections()
		<-done
	}()
	deadline := time.After(5 * time.Second) // a bound on failure: the records are long done
	for n := 0; n < fast; {
		select {
		case n = <-w.c:
		case <-deadline:
			w.mu.Lock()
			got := w.lines
			w.mu.Unlock()
			t.Fatalf("%d of %d finished records on stdout while one URL is still in flight", got, fast)
		}
	}
}

// -c with a large value (xargs -P 0 style "as many as you like") must not
// crash: today the command makes a channel and a goroutine per unit of -c
// before reading any input, so -c 1000000 takes 1.3 GB for one URL and
// -c 1000000000 dies with "fatal error: runtime: out of memory" and a
// goroutine dump, exit 2, as if it were a usage error.
func TestReviewHugeConcurrencyDoesNotCrash(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	cmd := reviewCommand(t, "-q", "-c", "1000000000", srv.URL+"/a")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if strings.Contains(stderr.String(), "fatal error") || strings.Contains(stderr.String(), "goroutine ") {
		t.Fatalf("exit %d, stderr starts %.200q; want no runtime crash", code, stderr.String())
	}
	if code == exitOK && len(lineRecords(t, stdout.String())) != 1 ||
		code == exitUsage && !strings.Contains(stderr.String(), "-c") || code != exitOK && code != exitUsage {
		t.Errorf("exit %d, stderr %q; want the URL fetched, or a usage error naming -c", code, stderr.String())
	}
}

// A record's url is the input line as given, so that the output can be
// joined back to the input (the records come in completion order, and
// carry no line number). Today the URL is re-serialised: a non-ASCII path
// comes back percent-encoded, a space as %20, HTTP:// as http://.
func TestReviewRecordURLIsTheInput(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	inputs := []string{srv.URL + "/café", srv.URL + "/a b", "HTTP://" + strings.TrimPrefix(srv.URL, "http://") + "/up"}
	code, out, _ := runCmd(t, strings.Join(inputs, "\n"), "-q")
	recs := records(t, out)
	for _, u := range inputs {
		if r, ok := recs[u]; !ok || r.Status != 200 {
			t.Errorf("no 200 record with url %q (exit %d); records:\n%s", u, code, out)
		}
	}
}

// JSON lines are for grep and awk as much as for jq: Go's default HTML
// escaping writes & < > as \u0026 \u003c \u003e, so
// `grep 'page?a=1&b=2' out.jsonl` finds nothing.
func TestReviewRecordsNotHTMLEscaped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	u := srv.URL + "/page?a=1&b=2"
	_, out, _ := runCmd(t, "", "-q", u)
	if !strings.Contains(out, `"url":"`+u+`"`) {
		t.Errorf("stdout %q; want the URL as given, & included", out)
	}
}

// An unknown flag names itself but gives no hint where to look, where GNU
// tools say "Try 'fetch --help'" (the no-URLs error does say "see -h").
func TestReviewUnknownFlagHint(t *testing.T) {
	_, _, stderr := runCmd(t, "", "--bogus")
	if !strings.Contains(stderr, "fetch -h") && !strings.Contains(stderr, "--help") && !strings.Contains(stderr, "see -h") {
		t.Errorf("stderr %q; want a hint naming -h or --help", stderr)
	}
}

// A list saved on Windows often starts with a UTF-8 byte order mark as
// well as having CRLF endings; CRLF is handled, the BOM turns the first URL
// into an invalid one.
func TestReviewInputBOM(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	code, out, _ := runCmd(t, "\ufeff"+srv.URL+"/a\r\n"+srv.URL+"/b\r\n", "-q")
	recs := records(t, out)
	if code != exitOK || recs[srv.URL+"/a"].Status != 200 {
		t.Errorf("exit %d, records %v; want 0 and /a fetched", code, recs)
	}
}

// The README: "a file of millions of lines runs in constant memory (with
// -O, plus a few bytes per URL to keep file names unique)". Measured
// end to end, 1,000,000 URLs with -O take 387 MB against 21 MB without:
// some 370 bytes per URL, which names (two maps of lower-cased names)
// accounts for.
func TestReviewOutputDirMemoryPerURL(t *testing.T) {
	const n = 200_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	nm := newNames()
	for i := range n {
		nm.reserve(line{url: fmt.Sprintf("https://www.example.com/catalogue/item/%d?ref=list", i)})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(nm)
	if per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n; per > 64 {
		t.Errorf("%d bytes kept per URL; want a few (at most 64)", per)
	}
}
