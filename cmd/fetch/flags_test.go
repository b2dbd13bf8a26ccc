package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/c989c033/fetch/internal/testserver"
)

// -h and --help print the help on standard output and exit 0, wherever
// they are on the command line.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"http://127.0.0.1:1/", "-h"}, {"-q", "--help", "-c", "2"}} {
		code, out, stderr := runCmd(t, "", args...)
		if code != exitOK || out != usage() || stderr != "" {
			t.Errorf("fetch %q: exit %d, stdout %.40q…, stderr %q; want 0, the help, nothing", args, code, out, stderr)
		}
	}
}

// Flags may come after the URLs, as GNU tools take them.
func TestFlagsAfterURLs(t *testing.T) {
	srv := testserver.Start(testserver.Config{})
	defer srv.Close()
	u1, u2 := srv.URL+"/items/1", srv.URL+"/items/2"
	code, out, stderr := runCmd(t, "", u1, "-q", u2, "--retries", "0", "-H", "X-A: b")
	recs := records(t, out)
	if code != exitOK || stderr != "" || len(recs) != 2 || recs[u1].Status != 200 || recs[u2].Status != 200 {
		t.Errorf("fetch URL -q URL …: exit %d, stderr %q, records %v; want 0, quiet, two 200s", code, stderr, recs)
	}
	// After --, a word starting with a dash is an argument.
	code, out, _ = runCmd(t, "", "-q", "--", "-q")
	if r := records(t, out)["-q"]; code != exitSomeFailed || r.ErrorKind != "invalid_input" {
		t.Errorf("fetch -q -- -q: exit %d, record %+v; want 1 and -q as an invalid URL", code, r)
	}
}

// Every flag has a long name; --host-c, the old name of --host-concurrency,
// still works.
func TestLongNames(t *testing.T) {
	srv := testserver.Start(testserver.Config{})
	defer srv.Close()
	u := srv.URL + "/pages/3"
	list := filepath.Join(t.TempDir(), "urls")
	os.WriteFile(list, []byte(u+"\n"), 0o644)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	code, stdout, stderr := runCmd(t, "", "--input-file", list, "--output", out, "--output-dir", t.TempDir(),
		"--concurrency=4", "--host-concurrency", "2", "--host-c", "2", "--rate", "1000", "--host-rate", "1000",
		"--burst", "5", "--retries", "1", "--timeout", "5s", "--total", "1m", "--max-body", "100000",
		"--max-redirects", "2", "--request", "GET", "--header", "X-A: b", "--title", "--quiet")
	data, _ := os.ReadFile(out)
	if r := records(t, string(data))[u]; code != exitOK || stdout != "" || stderr != "" || r.Title != "Page 3" || r.File == "" {
		t.Errorf("exit %d, stdout %q, stderr %q, record %+v; want 0, nothing, nothing, a titled page saved", code, stdout, stderr, r)
	}
}

// A long flag with one dash, as the flag package of earlier versions took
// it, is refused with a message saying so, rather than read as a run of
// one-letter flags (-demo as -d emo).
func TestSingleDashLongFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-demo"}, "--demo"},
		{[]string{"http://127.0.0.1:1/", "-title"}, "--title"},
		{[]string{"-retries", "0", "http://127.0.0.1:1/"}, "--retries"},
		{[]string{"-host-c=4", "http://127.0.0.1:1/"}, "--host-c"},
	} {
		code, out, stderr := runCmd(t, "", tc.args...)
		if code != exitUsage || out != "" || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("fetch %q: exit %d, stderr %q; want 2 and a line naming %s", tc.args, code, stderr, tc.want)
		}
	}
	// A value that starts with a dash is not taken for a flag.
	code, _, stderr := runCmd(t, "", "-q", "-X", "-title", "--retries", "0", "http://127.0.0.1:1/")
	if code != exitSomeFailed {
		t.Errorf("fetch -X -title: exit %d, stderr %q; want 1 (an invalid method, not a usage error)", code, stderr)
	}
}

// A value out of range is reported under the flag's own name, not the
// library option it becomes.
func TestRangeErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"-c", "0"}, "--concurrency"},
		{[]string{"--concurrency", "-3"}, "--concurrency"},
		{[]string{"--host-concurrency", "-1"}, "--host-concurrency"},
		{[]string{"--rate", "-1"}, "--rate"},
		{[]string{"--rate", "NaN"}, "--rate"},
		{[]string{"--host-rate", "-1"}, "--host-rate"},
		{[]string{"--rate", "5", "--burst", "0"}, "--burst"},
		{[]string{"--retries", "-1"}, "--retries"},
		{[]string{"--timeout", "-1s"}, "--timeout"},
		{[]string{"--total", "-1s"}, "--total"},
		{[]string{"--max-body", "0"}, "--max-body"},
		{[]string{"--max-redirects", "-1"}, "--max-redirects"},
		{[]string{"--burst", "5"}, "--burst"}, // without a rate to apply to, not ignored
	} {
		args := append(tc.args, "http://127.0.0.1:1/")
		code, out, stderr := runCmd(t, "", args...)
		if code != exitUsage || out != "" || !strings.Contains(stderr, tc.flag) || strings.Contains(stderr, "With") {
			t.Errorf("fetch %q: exit %d, stderr %q; want 2 and an error naming %s", args, code, stderr, tc.flag)
		}
	}
}

// The README's section on the command shows the help as -h prints it.
func TestREADMEShowsHelp(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skip("no README.md beside the module:", err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Command-line tool\n")
	section, _, _ = strings.Cut(section, "\n## ")
	if !ok || !strings.Contains(section, "```\n"+usage()+"```\n") {
		t.Errorf("README.md's \"Command-line tool\" section does not show fetch -h as it is:\n%s", usage())
	}
}

// Without URL arguments, the URLs are read from standard input, unless it
// is a terminal.
func TestStdinWithoutDash(t *testing.T) {
	srv := testserver.Start(testserver.Config{})
	defer srv.Close()
	code, out, _ := runCmd(t, srv.URL+"/items/1\n"+srv.URL+"/items/2\n", "-q")
	if recs := records(t, out); code != exitOK || len(recs) != 2 {
		t.Errorf("URLs on standard input, no -: exit %d, %d records; want 0 and 2", code, len(recs))
	}
	code, out, stderr := runStd(t, stdio{in: strings.NewReader(""), inTerminal: true}, "-q")
	if code != exitUsage || out != "" || !strings.HasPrefix(stderr, "fetch: no URLs") {
		t.Errorf("no URLs, standard input a terminal: exit %d, stderr %q; want 2 and \"fetch: no URLs…\"", code, stderr)
	}
}

// For a file of URLs, given with -i or as standard input, the progress bar
// shows the total and an ETA; for a pipe it cannot.
func TestProgressTotalForFile(t *testing.T) {
	list := filepath.Join(t.TempDir(), "urls")
	os.WriteFile(list, []byte("http://127.0.0.1:1/a\n# a comment\n\nhttp://127.0.0.1:1/b\nhttp://127.0.0.1:1/c\n"), 0o644)
	file, err := os.Open(list)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	withTotal := regexp.MustCompile(`\(\d/3, .*\) \[[0-9.µmsh]+:[0-9.µmsh]+\]`)
	for name, std := range map[string]stdio{
		"-i FILE":               {in: strings.NewReader(""), errTerminal: true},
		"standard input a file": {in: file, errTerminal: true},
	} {
		args := []string{"--retries", "0"}
		if name == "-i FILE" {
			args = append(args, "-i", list)
		}
		code, out, stderr := runStd(t, std, args...)
		if code != exitSomeFailed || len(records(t, out)) != 3 || !withTotal.MatchString(stderr) {
			t.Errorf("%s: exit %d, stderr %q; want 1, 3 records, and a bar like (n/3, …) [elapsed:left]", name, code, stderr)
		}
	}
	pipe := "http://127.0.0.1:1/a\nhttp://127.0.0.1:1/b\n"
	if _, _, stderr := runStd(t, stdio{in: strings.NewReader(pipe), errTerminal: true}, "--retries", "0"); !strings.Contains(stderr, "/-,") {
		t.Errorf("a pipe: stderr %q; want a bar without a total", stderr)
	}
}
