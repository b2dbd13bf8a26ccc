package main

// Second review, as a user of curl and wget: three surprises. Each test
// here failed against the code before its fix.

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A URL given without a scheme is fetched over http, as curl and wget take
// it, from the arguments and from input lines alike, with -O as without:
// host:port, an IPv4 address, localhost and a bracketed IPv6 address
// included. Its record names it as given (a password in it hidden), with
// no final_url: it was not redirected. A URL with a scheme other than http
// or https is still refused as the Fetcher refuses it, never taken for a
// host. --enqueue queues such a URL as it is fetched, with http://.
func TestURLWithoutSchemeIsHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	hostPort := strings.TrimPrefix(srv.URL, "http://")
	_, port, _ := net.SplitHostPort(hostPort)
	good := []string{hostPort + "/a", hostPort, "localhost:" + port + "/x", "u:hunter2@" + hostPort + "/p"}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		srv6 := httptest.NewUnstartedServer(http.HandlerFunc(echoPath))
		srv6.Listener.Close()
		srv6.Listener = ln
		srv6.Start()
		defer srv6.Close()
		good = append(good, strings.TrimPrefix(srv6.URL, "http://")+"/x")
	} else {
		t.Logf("no IPv6 loopback (%v): [::1]:PORT not tried", err)
	}
	bad := []string{"ftp://" + hostPort + "/f", "file:///etc/passwd"}
	given := func(u string) string { return strings.Replace(u, "hunter2", "xxxxx", 1) }
	for name, run := range map[string]func() (int, string, string){
		"arguments": func() (int, string, string) {
			return runCmd(t, "", append(append([]string{"-q", "--retries", "0"}, good...), bad...)...)
		},
		"standard input": func() (int, string, string) {
			return runCmd(t, strings.Join(append(append([]string{}, good...), bad...), "\n"), "-q", "--retries", "0")
		},
		"arguments -O": func() (int, string, string) {
			return runCmd(t, "", append(append([]string{"-q", "--retries", "0", "-O", t.TempDir()}, good...), bad...)...)
		},
	} {
		code, out, stderr := run()
		recs := records(t, out)
		if code != exitSomeFailed || len(recs) != len(good)+len(bad) || strings.Contains(out, "hunter2") {
			t.Errorf("%s: exit %d, %d records, stderr %q; want 1 (for the bad schemes), %d records, no password:\n%s",
				name, code, len(recs), stderr, len(good)+len(bad), out)
		}
		for _, u := range good {
			if r, ok := recs[given(u)]; !ok || r.Status != 200 || r.Error != "" || r.FinalURL != "" {
				t.Errorf("%s: %q: record %+v (found: %v); want it fetched over http, 200, url as given, no final_url", name, u, r, ok)
			}
		}
		for _, u := range bad {
			if r := recs[u]; r.ErrorKind != "invalid_input" || r.Attempts != 0 || !strings.Contains(r.Error, "scheme must be http or https") {
				t.Errorf("%s: %q: record %+v; want invalid_input, no attempt, \"scheme must be http or https\"", name, u, r)
			}
		}
	}

	queue, _ := newQueue(t, redisAddr(t))
	if code, _, stderr := runCmd(t, hostPort+"/q\n", "-q", "--queue", queue, "--enqueue", "-"); code != exitOK {
		t.Fatalf("--enqueue: exit %d, stderr %q", code, stderr)
	}
	code, out, stderr := runCmd(t, "", "-q", "--queue", queue, "--retries", "0")
	if r := records(t, out)[srv.URL+"/q"]; code != exitOK || r.Status != 200 {
		t.Errorf("--enqueue %q, then a worker: exit %d, stderr %q, records:\n%s\nwant %s fetched, 200", hostPort+"/q", code, stderr, out, srv.URL+"/q")
	}
}

// A HEAD request has no body: with -O it creates no file, and leaves the
// file an earlier GET saved as it was, while its record says what
// happened (a 200, no bytes, no file).
func TestHeadWithOutputDirSavesNoFile(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	u := srv.URL + "/doc.txt"

	fresh := t.TempDir()
	code, out, stderr := runCmd(t, "", "-q", "-X", "HEAD", "-O", fresh, u)
	r := records(t, out)[u]
	entries, _ := os.ReadDir(fresh)
	if code != exitOK || r.Status != 200 || r.Error != "" || r.File != "" || r.Bytes != 0 || len(entries) != 0 {
		t.Errorf("-X HEAD -O into an empty DIR: exit %d, stderr %q, record %+v, DIR holds %v; want 0, a 200 with no file, DIR empty",
			code, stderr, r, entries)
	}

	dir := t.TempDir()
	code, out, stderr = runCmd(t, "", "-q", "-O", dir, u)
	file := records(t, out)[u].File
	before, err := os.ReadFile(file)
	if code != exitOK || err != nil || string(before) != "/doc.txt" {
		t.Fatalf("GET -O: exit %d, stderr %q, %s holds %q (%v); want the body", code, stderr, file, before, err)
	}
	code, out, stderr = runCmd(t, "", "-q", "-X", "HEAD", "-O", dir, u)
	r = records(t, out)[u]
	after, err := os.ReadFile(file)
	entries, _ = os.ReadDir(dir)
	if code != exitOK || r.Status != 200 || r.File != "" || err != nil || string(after) != "/doc.txt" || len(entries) != 1 {
		t.Errorf("-X HEAD -O after a GET: exit %d, stderr %q, record %+v, %s holds %q (%v), DIR holds %d files; want 0, a 200 with no file, the GET's body kept, one file",
			code, stderr, r, filepath.Base(file), after, err, len(entries))
	}
}

// An input that is not a URL is reported as written, quoted, any password
// hidden (not re-serialised as "http:" or "not%20a%20url", nor with the
// password the URL parser's error quotes), and, from a file or standard
// input, with its line number, comments and blank lines counted: the
// records come in completion order. Arguments have no line number. The
// record keeps its fields: url as given, invalid_input, no attempt.
func TestBadLineQuotedWithItsNumber(t *testing.T) {
	input := "# urls\nhttp://\n\nnot a url\nhttp://u:hunter2@a b/\nftp://x\n"
	want := map[string]string{ // url as given: error
		"http://":             `fetch: line 2: "http://": invalid URL: `,
		"not a url":           `fetch: line 4: "not a url": invalid URL: `,
		"http://u:xxxxx@a b/": `fetch: line 5: "http://u:xxxxx@a b/": invalid URL: `,
		"ftp://x":             `fetch: line 6: "ftp://x": invalid URL: scheme must be http or https`,
	}
	list := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(list, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(name, out string, want map[string]string) {
		t.Helper()
		recs := records(t, out)
		if len(recs) != len(want) || strings.Contains(out, "hunter2") || strings.Contains(out, "%20") {
			t.Errorf("%s: %d records; want %d, no password, no %%20:\n%s", name, len(recs), len(want), out)
		}
		for u, prefix := range want {
			r, ok := recs[u]
			if !ok || r.ErrorKind != "invalid_input" || r.Attempts != 0 || !strings.HasPrefix(r.Error, prefix) {
				t.Errorf("%s: record for %q: %+v (found: %v); want invalid_input, no attempt, an error starting %q", name, u, r, ok, prefix)
			}
		}
	}
	for _, extra := range [][]string{nil, {"-O", t.TempDir()}} {
		_, out, _ := runCmd(t, "", append([]string{"-q", "-i", list}, extra...)...)
		check(strings.Join(append([]string{"-i FILE"}, extra...), " "), out, want)
		_, out, _ = runCmd(t, input, append([]string{"-q"}, extra...)...)
		check(strings.Join(append([]string{"standard input"}, extra...), " "), out, want)
		_, out, _ = runCmd(t, "", append([]string{"-q", "http://", "not a url", "ftp://x"}, extra...)...)
		check(strings.Join(append([]string{"arguments"}, extra...), " "), out, map[string]string{
			"http://":   `fetch: "http://": invalid URL: `,
			"not a url": `fetch: "not a url": invalid URL: `,
			"ftp://x":   `fetch: "ftp://x": invalid URL: scheme must be http or https`,
		})
	}
}
