package main

// Fresh-eyes review, as a user of `xargs curl` and `wget -i`. Each test
// here shows a defect: it fails against the code as it is.

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
	"strings"
	"syscall"
	"testing"
	"time"
)

// rvServer answers /fast at once, /later once release is closed, and
// /partial with the first 1000 bytes of a 1 MB body, then holds until the
// client goes away.
func rvServer(t *testing.T) (srv *httptest.Server, release chan struct{}) {
	t.Helper()
	release = make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/fast"):
			io.WriteString(w, "ok")
		case strings.HasPrefix(r.URL.Path, "/later"):
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, "later")
		default:
			w.Header().Set("Content-Length", "1000000")
			w.Write(bytes.Repeat([]byte("x"), 1000))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	return srv, release
}

// 1. `fetch -O DIR ... | head -1`: once head has gone, the next record
// written kills the process with SIGPIPE, and every body being saved at
// that moment is left in DIR as a hidden, half-written .NAME.PID.part file
// that no later run removes. README: "a failure ... leaves no file".
func TestClosedStdoutLeavesNoPartFiles(t *testing.T) {
	srv, release := rvServer(t)
	dir := t.TempDir()
	cmd := reviewCommand(t, "-q", "-c", "4", "-O", dir, srv.URL+"/fast", srv.URL+"/partial", srv.URL+"/later")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(stdout)
	if _, err := br.ReadString('\n'); err != nil { // head -1 reads one line
		t.Fatal(err)
	}
	// Wait until /partial's body is being written into its temporary file.
	deadline := time.Now().Add(10 * time.Second)
	for !rvHasDotFile(dir) {
		if time.Now().After(deadline) {
			t.Fatal("no temporary file appeared for /partial")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stdout.Close() // ... and exits
	close(release) // /later finishes: its record is written to the closed pipe
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			left = append(left, e.Name())
		}
	}
	if len(left) > 0 {
		t.Errorf("after stdout was closed (%v), DIR still holds half-written %q", cmd.ProcessState, left)
	}
	// It stops as on any failure to write the records, but silently, with
	// the exit status of a filter that SIGPIPE kills.
	if code := cmd.ProcessState.ExitCode(); code != exitClosedOut || stderr.Len() != 0 {
		t.Errorf("after stdout was closed: %v, stderr %q; want exit %d and nothing on stderr", cmd.ProcessState, stderr.String(), exitClosedOut)
	}
}

func rvHasDotFile(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			return true
		}
	}
	return false
}

// 2. `producer | fetch --total 1s`: when the input is a pipe that is still
// open, --total does not end the run at 1s; the 3-second fallback in
// flushOnInterrupt exits 1 with nothing at all on stderr: no summary, and
// not the "--total 1s reached" message that explains the exit status.
func TestTotalEndsRunWithOpenStdin(t *testing.T) {
	srv, _ := rvServer(t)
	cmd := reviewCommand(t, "--total", "1s")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, srv.URL+"/fast") // the producer has more to come
	cmd.Wait()
	took := time.Since(start)
	if took > 2500*time.Millisecond {
		t.Errorf("--total 1s: the run took %v", took.Round(100*time.Millisecond))
	}
	if !strings.Contains(stderr.String(), "--total") || !strings.Contains(stderr.String(), "fetched 1") {
		t.Errorf("--total 1s: exit %d, stderr %q; want the summary and a line saying --total was reached",
			cmd.ProcessState.ExitCode(), stderr.String())
	}
}

// 3. Ctrl-C while the URLs come from a pipe or terminal still open (tail
// -f, a slow generator, typing them): the run hangs on for 3 s, a second
// Ctrl-C is swallowed, and the summary is never printed.
func TestInterruptEndsRunWithOpenStdin(t *testing.T) {
	srv, _ := rvServer(t)
	cmd := reviewCommand(t, "-")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, srv.URL+"/fast")
	br := bufio.NewReader(stdout)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	go io.Copy(io.Discard, br)
	cmd.Wait()
	took := time.Since(start)
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit %d; want 130", code)
	}
	if took > time.Second {
		t.Errorf("Ctrl-C took %v to end the run", took.Round(100*time.Millisecond))
	}
	if !strings.Contains(stderr.String(), "fetched 1") {
		t.Errorf("stderr after Ctrl-C = %q; want the summary (1 fetched)", stderr.String())
	}
}

// After a first Ctrl-C, a second one kills the process at once, whatever
// the run is waiting on: here, writing records to a pipe nobody reads.
func TestSecondInterruptKills(t *testing.T) {
	srv, _ := rvServer(t)
	list := filepath.Join(t.TempDir(), "urls.txt")
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "%s/fast/%d\n", srv.URL, i)
	}
	os.WriteFile(list, []byte(b.String()), 0o644)
	cmd := reviewCommand(t, "-q", "-i", list)
	r, w, err := os.Pipe() // never read: the writes block once it is full
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait until the records fill the pipe: the kernel holds most of its
	// 64 KiB, and the count has stopped moving (the writer is blocked).
	deadline := time.Now().Add(10 * time.Second)
	for last, same := -1, 0; same < 5; {
		n, err := pipeFill(r)
		if err != nil {
			t.Skipf("cannot tell how full a pipe is here: %v", err)
		}
		if n == last && n >= 32<<10 {
			same++
		} else {
			last, same = n, 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("the records filled %d bytes of the pipe in 10s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
		t.Fatalf("the run ended at the first Ctrl-C (%v); the test needs it held up writing", cmd.ProcessState)
	case <-time.After(300 * time.Millisecond):
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("a second Ctrl-C did not end the process")
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("after a second Ctrl-C: %v; want killed by SIGINT", cmd.ProcessState)
	}
}

// 4. Run in a terminal (stdout and stderr both the tty, the commonest
// interactive use), the progress bar and the JSON records share the screen:
// records are printed straight after the bar's text on the same line.
// curl turns its progress meter off when the data goes to the terminal.
func TestNoProgressBarWhenStdoutIsTerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("needs script(1) for a pseudo-terminal")
	}
	srv, release := rvServer(t)
	go func() { time.Sleep(500 * time.Millisecond); close(release) }()
	args := []string{shellQuote(os.Args[0])}
	for i := range 20 {
		args = append(args, shellQuote(fmt.Sprintf("%s/fast/%d", srv.URL, i)))
	}
	args = append(args, shellQuote(srv.URL+"/later"))
	cmd := exec.Command(script, "-qec", strings.Join(args, " "), "/dev/null")
	cmd.Env = append(os.Environ(), asCommand+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		i := strings.Index(l, `{"url"`)
		if i < 0 {
			continue
		}
		before := l[:i]
		if j := strings.LastIndex(before, "\r"); j >= 0 {
			before = before[j+1:]
		}
		if strings.TrimSpace(before) != "" {
			t.Errorf("a record shares its terminal line with the progress bar:\n%q", l)
			break
		}
	}
}

// The decision behind it: the bar goes to a terminal stderr, unless the
// records go to stdout and it is the same screen.
func TestProgressBarOnlyWhenRecordsLeaveTheTerminal(t *testing.T) {
	for _, tc := range []struct {
		out, err bool
		output   string
		want     bool
	}{
		{out: false, err: true, want: true},                   // fetch … > results.jsonl
		{out: true, err: true, want: false},                   // fetch … in a terminal
		{out: true, err: true, output: "r.jsonl", want: true}, // fetch -o r.jsonl … in a terminal
		{out: false, err: false, want: false},                 // fetch … 2> log
	} {
		o := options{output: tc.output}
		if got := o.showProgress(stdio{outTerminal: tc.out, errTerminal: tc.err}); got != tc.want {
			t.Errorf("stdout a terminal %v, stderr %v, -o %q: bar shown %v; want %v", tc.out, tc.err, tc.output, got, tc.want)
		}
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// 5. An empty list (`grep pattern log | fetch -O out`, a generator that
// failed, -i on an empty file) exits 0 as a success. wget -i says "No URLs
// found in FILE" and fails; curl with no URL exits 2, and so does
// `xargs curl` on empty input (123).
func TestEmptyInputFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "urls.txt")
	os.WriteFile(file, []byte("# nothing yet\n\n"), 0o644)
	if code, _, stderr := runCmd(t, "", "-i", file); stderr != "fetch: no URLs in "+file+"\n" {
		t.Errorf("-i FILE with no URLs: exit %d, stderr %q; want it to name the file", code, stderr)
	}
	if code, _, stderr := runCmd(t, "\n\n"); stderr != "fetch: no URLs on standard input\n" {
		t.Errorf("standard input with no URLs: exit %d, stderr %q; want it to name standard input", code, stderr)
	}
	for name, args := range map[string][]string{
		"stdin": {"-"},
		"-i":    {"-i", file},
	} {
		code, out, stderr := runCmd(t, "", args...)
		if code != exitUsage || out != "" || !strings.HasPrefix(stderr, "fetch: no URLs ") {
			t.Errorf("%s with no URLs: exit %d, stdout %q, stderr %q; want 2 and a line saying no URLs were found", name, code, out, stderr)
		}
	}
}
