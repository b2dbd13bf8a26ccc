package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/c989c033/fetch/internal/testserver"
)

func TestLines(t *testing.T) {
	long := strings.Repeat("x", maxLine+10)
	input := "http://a/1\n\n  # a comment\n\thttp://a/2  \r\n" + long + "\nhttp://a/3\n#\nhttp://a/4"
	var got []string
	for l := range lines(context.Background(), strings.NewReader(input), "in") {
		if l.err != nil {
			got = append(got, "error: "+l.err.Error())
			continue
		}
		got = append(got, l.url)
	}
	want := []string{"http://a/1", "http://a/2", fmt.Sprintf("error: in:5: line longer than %d bytes", maxLine), "http://a/3", "http://a/4"}
	if !slices.Equal(got, want) {
		t.Errorf("lines =\n%q\nwant\n%q", got, want)
	}
}

func TestLinesStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	for range lines(ctx, strings.NewReader(strings.Repeat("http://a/\n", 100)), "in") {
		if n++; n == 3 {
			cancel()
		}
	}
	if n != 3 {
		t.Errorf("read %d lines after cancelling at 3", n)
	}
}

// runCmd runs the command in-process, with stdin as its standard input,
// and returns its exit status, standard output and standard error, none of
// them terminals.
func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	return runStd(t, stdio{in: strings.NewReader(stdin)}, args...)
}

// runStd is runCmd with standard input, and whether it and standard error
// are terminals, given by std.
func runStd(t *testing.T, std stdio, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	std.out, std.err = &out, &errOut
	code := run(args, std)
	return code, out.String(), errOut.String()
}

// records returns the records in out by URL (the last of duplicates).
func records(t *testing.T, out string) map[string]record {
	t.Helper()
	recs := map[string]record{}
	for _, r := range lineRecords(t, out) {
		recs[r.URL] = r
	}
	return recs
}

// lineRecords returns every record in out, duplicates included, failing
// t on a line that is not exactly a record.
func lineRecords(t *testing.T, out string) []record {
	t.Helper()
	var recs []record
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r record
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestOutputSchemaAndExitStatus(t *testing.T) {
	srv := testserver.Start(testserver.Config{})
	defer srv.Close()
	ok1, page, missing := srv.URL+"/items/1", srv.URL+"/pages/7", srv.URL+"/items/99999"

	code, out, stderr := runCmd(t, "", "--title", ok1, page)
	if code != exitOK {
		t.Fatalf("exit %d; want 0\n%s", code, stderr)
	}
	recs := records(t, out)
	if r := recs[ok1]; r.Status != 200 || r.Bytes == 0 || r.Attempts != 1 || r.Error != "" || r.ErrorKind != "" {
		t.Errorf("record for %s = %+v", ok1, r)
	}
	if r := recs[page]; r.Title != "Page 7" {
		t.Errorf("record for %s = %+v; want title \"Page 7\"", page, r)
	}
	if !strings.Contains(stderr, "2 succeeded, 0 failed") || !strings.Contains(stderr, "p99") {
		t.Errorf("summary = %q", stderr)
	}

	code, out, _ = runCmd(t, ok1+"\n"+missing+"\nnot a url\n", "-q", "-")
	recs = records(t, out)
	if code != exitSomeFailed || len(recs) != 3 {
		t.Fatalf("exit %d with %d records; want 1 with 3:\n%s", code, len(recs), out)
	}
	if r := recs[missing]; r.Status != 404 || r.ErrorKind != "status" || r.Error == "" {
		t.Errorf("record for %s = %+v; want a 404 status error", missing, r)
	}
	if r := recs["not a url"]; r.ErrorKind != "invalid_input" || r.Attempts != 0 {
		t.Errorf("record for a bad line = %+v; want invalid_input, no attempt", r)
	}
}

func TestConnectionRefused(t *testing.T) {
	code, out, _ := runCmd(t, "http://127.0.0.1:1/\n", "-q", "--retries", "0", "-")
	r := records(t, out)["http://127.0.0.1:1/"]
	if code != exitSomeFailed || r.ErrorKind != "connection_refused" || r.Attempts != 1 {
		t.Errorf("exit %d, record %+v; want 1 and a refused connection", code, r)
	}
}

func TestOutputFile(t *testing.T) {
	srv := testserver.Start(testserver.Config{})
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	urls := filepath.Join(t.TempDir(), "urls.txt")
	os.WriteFile(urls, []byte(srv.URL+"/items/1\n"+srv.URL+"/items/2\n"), 0o644)
	code, out, _ := runCmd(t, "", "-q", "-i", urls, "-o", path)
	data, _ := os.ReadFile(path)
	if code != exitOK || out != "" || len(records(t, string(data))) != 2 {
		t.Errorf("exit %d, stdout %q, file %q; want 0, nothing, 2 records", code, out, data)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--bogus"},
		{"-H", "no colon", "http://127.0.0.1:1/"},
		{"-i", "/nonexistent/file"},
		{"-i", "urls.txt", "http://127.0.0.1:1/"},
		{"-", "http://127.0.0.1:1/"},
		{"--demo", "http://127.0.0.1:1/"},
		{"-d", "@/nonexistent/file", "http://127.0.0.1:1/"},
		{"-d", "@-", "-"},
		{"-O", "/dev/null/dir", "http://127.0.0.1:1/"},
	} {
		code, out, stderr := runCmd(t, "", args...)
		if code != exitUsage || out != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "fetch: ") {
			t.Errorf("fetch %q: exit %d, stderr %q; want 2 and one line starting \"fetch: \"", args, code, stderr)
		}
	}
}

// Ctrl-C: the command stops, writes what finished, and exits 130.
func TestInterrupt(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fetch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	srv := testserver.Start(testserver.Config{})
	defer srv.Close()
	var urls strings.Builder
	for i := range 200 {
		delay := "5s"
		if i < 2 {
			delay = "0s" // two finish at once; the rest are in flight or queued
		}
		fmt.Fprintf(&urls, "%s/items/%d?delay=%s\n", srv.URL, i+1, delay)
	}
	cmd := exec.Command(bin, "-q", "-c", "4", "-")
	cmd.Stdin = strings.NewReader(urls.String())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var got []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		got = append(got, sc.Text())
		if len(got) == 1 { // results are coming: interrupt
			break
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d (%v); want 130", code, err)
	}
	recs := records(t, strings.Join(got, "\n"))
	if len(recs) < 2 || len(recs) >= 200 {
		t.Errorf("%d records; want the 2 finished and the cancelled in-flight ones, not all 200", len(recs))
	}
}

func TestOverlongLineIsReportedNotLost(t *testing.T) {
	srv := testserver.Start(testserver.Config{})
	defer srv.Close()
	in := strings.Repeat("x", maxLine+1) + "\n" + srv.URL + "/items/1\n"
	code, out, _ := runCmd(t, in, "-q", "-")
	recs := records(t, out)
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.ErrorKind)
	}
	slices.Sort(kinds)
	if code != exitSomeFailed || len(recs) != 2 || !slices.Equal(kinds, []string{"", "invalid_input"}) {
		t.Errorf("exit %d, records %v; want 1, one fetched and one invalid_input", code, recs)
	}
}

func TestMethodBodyAndHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPut || string(body) != `{"a":1}` ||
			r.Header.Get("Authorization") != "Bearer t" || r.Header.Values("X-Two")[1] != "b" {
			http.Error(w, fmt.Sprintf("got %s %q %v", r.Method, body, r.Header), http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	code, out, _ := runCmd(t, "", "-q", "-X", "PUT", "-d", `{"a":1}`,
		"-H", "Authorization: Bearer t", "-H", "X-Two: a", "-H", "X-Two: b", srv.URL)
	if r := records(t, out)[srv.URL]; code != exitOK || r.Status != 200 {
		t.Errorf("exit %d, record %+v; want 0 and 200", code, r)
	}
}

// -o naming the file the URLs are read from is refused before anything is
// written: creating the output would empty the list unread.
func TestOutputIsInput(t *testing.T) {
	list := filepath.Join(t.TempDir(), "urls.txt")
	const content = "http://127.0.0.1:1/a\n"
	os.WriteFile(list, []byte(content), 0o644)
	file, err := os.Open(list)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for name, tc := range map[string]struct {
		std  stdio
		args []string
	}{
		"-i FILE -o FILE":   {stdio{in: strings.NewReader("")}, []string{"-q", "-i", list, "-o", list}},
		"-o FILE < FILE":    {stdio{in: file}, []string{"-q", "-o", list}},
		"-o ./FILE -i FILE": {stdio{in: strings.NewReader("")}, []string{"-q", "-i", list, "--output", filepath.Join(filepath.Dir(list), ".", "urls.txt")}},
	} {
		code, _, stderr := runStd(t, tc.std, tc.args...)
		data, _ := os.ReadFile(list)
		if code != exitUsage || string(data) != content || !strings.Contains(stderr, "-o") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q, list now %q; want 2, one line naming -o, the list untouched", name, code, stderr, data)
		}
	}
}

// failWriter fails every write, as a full disk does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// Records that cannot be written are not lost in silence: the command says
// so, naming where, and exits 1.
func TestOutputWriteFails(t *testing.T) {
	srv := testserver.Start(testserver.Config{})
	defer srv.Close()
	var errOut bytes.Buffer
	code := run([]string{"-q", srv.URL + "/items/1"}, stdio{in: strings.NewReader(""), out: failWriter{}, err: &errOut})
	if code != exitSomeFailed || !strings.Contains(errOut.String(), "standard output") || !strings.Contains(errOut.String(), "no space") {
		t.Errorf("stdout failing: exit %d, stderr %q; want 1 and a line saying the records were not written", code, errOut.String())
	}
	if _, err := os.Stat("/dev/full"); err != nil {
		return
	}
	code, _, stderr := runCmd(t, "", "-q", "-o", "/dev/full", srv.URL+"/items/1")
	if code != exitSomeFailed || !strings.Contains(stderr, "-o /dev/full") {
		t.Errorf("-o /dev/full: exit %d, stderr %q; want 1 and a line naming -o /dev/full", code, stderr)
	}
}

// A file that cannot be read or written is a usage error that names its
// flag: -i a directory, -i a file that is not there, -o a directory.
func TestFileErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", dir}, "-i " + dir},
		{[]string{"-i", filepath.Join(dir, "none")}, "-i " + filepath.Join(dir, "none")},
		{[]string{"-o", dir, "http://127.0.0.1:1/"}, "-o " + dir},
	} {
		code, out, stderr := runCmd(t, "", append([]string{"-q"}, tc.args...)...)
		if code != exitUsage || out != "" || !strings.HasPrefix(stderr, "fetch: "+tc.want+": ") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("fetch %q: exit %d, stdout %q, stderr %q; want 2 and one line starting %q", tc.args, code, out, stderr, "fetch: "+tc.want+": ")
		}
	}
}

// An input that is not a request is reported by what is wrong with it,
// and the URL where there is one, in an error that reads as one: no empty
// method and URL before it, with -O as without.
func TestBadInputErrorReads(t *testing.T) {
	in := strings.Repeat("x", maxLine+1) + "\n" + "http://a b/\n"
	for _, args := range [][]string{{"-q", "-"}, {"-q", "-O", t.TempDir(), "-"}} {
		code, out, _ := runCmd(t, in, args...)
		recs := lineRecords(t, out)
		if code != exitSomeFailed || len(recs) != 2 {
			t.Fatalf("fetch %q: exit %d, %d records; want 1 and 2", args, code, len(recs))
		}
		for _, r := range recs {
			if r.ErrorKind != "invalid_input" || strings.Contains(r.Error, " : ") || !strings.HasPrefix(r.Error, "fetch: ") ||
				r.URL != "" && !strings.Contains(r.Error, "a b") {
				t.Errorf("fetch %q: record %+v; want invalid_input and an error that reads as one", args, r)
			}
		}
	}
}

// The command says who it is: --version prints it, and every request
// carries User-Agent fetch/VERSION unless -H sets another, as curl sends
// curl/VERSION (Go-http-client/1.1 says nothing of the tool).
func TestVersionAndUserAgent(t *testing.T) {
	code, out, _ := runCmd(t, "", "--version")
	if code != exitOK || !strings.HasPrefix(out, "fetch ") {
		t.Errorf("--version: exit %d, %q; want 0 and \"fetch VERSION\"", code, out)
	}
	var mu sync.Mutex
	var agents []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents = append(agents, r.UserAgent())
		mu.Unlock()
	}))
	defer srv.Close()
	runCmd(t, "", "-q", srv.URL+"/a")
	runCmd(t, "", "-q", "-H", "User-Agent: mine/1", srv.URL+"/b")
	mu.Lock()
	defer mu.Unlock()
	if len(agents) != 2 || !strings.HasPrefix(agents[0], "fetch/") || agents[1] != "mine/1" {
		t.Errorf("User-Agents %q; want fetch/VERSION, then the one -H gave", agents)
	}
}

// --total says what the run left when it ends: the input is read only while
// the run lasts, so the URLs after those in flight get no record.
func TestTotalSaysWhatItLeft(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers: the run ends at its --total
	}))
	defer srv.Close()
	var in strings.Builder
	for i := range 50 {
		fmt.Fprintf(&in, "%s/%d\n", srv.URL, i)
	}
	code, _, stderr := runCmd(t, in.String(), "-q", "-c", "2", "--retries", "0", "--total", "100ms", "-")
	if code != exitSomeFailed || !strings.Contains(stderr, "--total 100ms reached after") {
		t.Errorf("exit %d, stderr %q; want 1 and a line saying what --total left", code, stderr)
	}
}
