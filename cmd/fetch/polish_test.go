package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
)

// `fetch URL... | head -1`: once the reader has gone, the run stops
// without an error line on stderr, with exit status 141, as a filter that
// SIGPIPE kills.
func TestPolishClosedStdoutIsSilent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r.Close() // head -1 has gone: every write fails with EPIPE
	var stderr bytes.Buffer
	code := run([]string{"-q", srv.URL + "/1", srv.URL + "/2", srv.URL + "/3"}, stdio{in: strings.NewReader(""), out: w, err: &stderr})
	if code != exitClosedOut || stderr.Len() != 0 {
		t.Errorf("records to a closed pipe: exit %d, stderr %q; want exit %d and nothing on stderr", code, stderr.String(), exitClosedOut)
	}
}

// A failure to write the records that is not the reader going away (a
// full disk) is still said, with exit status 1.
func TestPolishOtherWriteFailureIsSaid(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full here: %v", err)
	}
	defer full.Close()
	var stderr bytes.Buffer
	code := run([]string{"-q", srv.URL + "/1"}, stdio{in: strings.NewReader(""), out: full, err: &stderr})
	if code != exitSomeFailed || !strings.Contains(stderr.String(), "fetch: writing the records to standard output") {
		t.Errorf("records to a full disk: exit %d, stderr %q; want exit 1 and the failure said", code, stderr.String())
	}
}

// -X HEAD with --title or --body would yield nothing: a response to HEAD
// has no body. It is a usage error naming both flags.
func TestPolishHeadWithTitleOrBody(t *testing.T) {
	for _, flag := range []string{"--title", "--body"} {
		t.Run(flag, func(t *testing.T) {
			code, out, stderr := runCmd(t, "", "-X", "HEAD", flag, "http://127.0.0.1:1/")
			if code != exitUsage || out != "" || strings.Count(stderr, "\n") != 1 ||
				!strings.HasPrefix(stderr, "fetch: ") || !strings.Contains(stderr, "-X HEAD") || !strings.Contains(stderr, flag) {
				t.Errorf("-X HEAD %s: exit %d, stderr %q; want exit 2 and one line naming -X HEAD and %s", flag, code, stderr, flag)
			}
		})
	}
	// -X HEAD alone, and --title with other methods, are fine.
	if _, _, _, err := parseFlags([]string{"-X", "HEAD", "http://a/"}); err != nil {
		t.Errorf("-X HEAD: %v", err)
	}
	if _, _, _, err := parseFlags([]string{"-X", "GET", "--title", "http://a/"}); err != nil {
		t.Errorf("-X GET --title: %v", err)
	}
}

// With --max-redirects N, a URL redirected more than N times gets a
// record whose location says where the last response pointed, resolved
// against that response's URL, so that --max-redirects 0 checks
// redirects.
func TestPolishLocationOfRedirectNotFollowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a":
			http.Redirect(w, r, "/b", http.StatusFound)
		case "/b":
			w.Header().Set("Location", "c?x=1&y=2") // relative to /b
			w.WriteHeader(http.StatusMovedPermanently)
		case "/away":
			w.Header().Set("Location", "https://user:secret@example.com/x")
			w.WriteHeader(http.StatusTemporaryRedirect)
		case "/ftp":
			w.Header().Set("Location", "ftp://example.com/f")
			w.WriteHeader(http.StatusFound)
		case "/notmodified":
			w.WriteHeader(http.StatusNotModified)
		default:
			io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(srv.Close)
	for _, c := range []struct {
		args   []string
		url    string
		status float64
		want   string // location; "" for none
	}{
		{[]string{"--max-redirects", "0"}, srv.URL + "/a", 302, srv.URL + "/b"},
		{[]string{"--max-redirects", "1"}, srv.URL + "/a", 301, srv.URL + "/c?x=1&y=2"},
		{[]string{"--max-redirects", "0"}, srv.URL + "/away", 307, "https://user:xxxxx@example.com/x"},
		{[]string{"--max-redirects", "0"}, srv.URL + "/notmodified", 304, ""},
		{nil, srv.URL + "/ftp", 302, "ftp://example.com/f"}, // a redirect refused
		{[]string{"--max-redirects", "2"}, srv.URL + "/a", 200, ""},
	} {
		for _, save := range [][]string{nil, {"-O", t.TempDir()}} { // records made of Results, and of Handled
			args := slices.Concat([]string{"-q"}, save, c.args, []string{c.url})
			_, out, stderr := runCmd(t, "", args...)
			rec := polishRecord(t, out, stderr)
			got, has := rec["location"]
			switch {
			case rec["status"] != c.status:
				t.Errorf("%v %s: status %v; want %v", args, c.url, rec["status"], c.status)
			case c.want == "" && has:
				t.Errorf("%v %s: location %q; want none", args, c.url, got)
			case c.want != "" && got != c.want:
				t.Errorf("%v %s: location %v; want %q\n%s", args, c.url, got, c.want, out)
			}
		}
	}
}

// polishRecord returns the one record in out, as JSON decodes it.
func polishRecord(t *testing.T, out, stderr string) map[string]any {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	var recs []map[string]any
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		recs = append(recs, rec)
	}
	if len(recs) != 1 {
		t.Fatalf("%d records; want 1\n%s%s", len(recs), out, stderr)
	}
	return recs[0]
}
