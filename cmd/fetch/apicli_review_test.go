package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// apiServer is a JSON API that records each request it gets, as
// "METHOD PATH BODY", and answers with the status ?status= asks for (200
// if none).
func apiServer(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s %s", r.Method, r.URL.Path, body))
		mu.Unlock()
		status := http.StatusOK
		fmt.Sscan(r.URL.Query().Get("status"), &status)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// Standard input cannot carry both the URLs and the body: -d @- with the
// URLs on standard input is a usage error, and so is the same under
// another name: -d @/dev/stdin (or /dev/fd/0) with the URLs on standard
// input, or -i /dev/stdin with -d @-. Before, with standard input
// redirected from the list, every URL was POSTed the list itself as its
// body, in silence; from a pipe, the run said "no URLs", the body having
// taken them.
func TestAPICLIReviewStdinCarriesURLsAndBody(t *testing.T) {
	if _, err := os.Stat("/dev/stdin"); err != nil {
		t.Skip("no /dev/stdin here:", err)
	}
	srv, seen := apiServer(t)
	list := srv.URL + "/items/1\n" + srv.URL + "/items/2\n"
	path := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(path, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-d", "@/dev/stdin"},
		{"--data-binary", "@/dev/fd/0"},
		{"-i", "/dev/stdin", "-d", "@-"},
		{"-i", "/dev/fd/0", "--data-binary", "@/dev/stdin"},
	} {
		for _, from := range []string{"file", "pipe"} {
			cmd := reviewCommand(t, append([]string{"-q"}, args...)...)
			if from == "file" {
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				cmd.Stdin = f // fetch … < urls.txt
			} else {
				cmd.Stdin = strings.NewReader(list) // cat urls.txt | fetch …
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Run()
			code, data := cmd.ProcessState.ExitCode(), args[len(args)-1]
			if code != exitUsage || stdout.Len() != 0 || strings.Count(stderr.String(), "\n") != 1 ||
				!strings.Contains(stderr.String(), " "+data+": standard input carries the URLs") {
				t.Errorf("fetch %q < %s: exit %d, stdout %q, stderr %q; want 2, no record, one line saying %s: standard input carries the URLs",
					args, from, code, stdout.String(), stderr.String(), data)
			}
		}
	}
	if got := seen(); len(got) > 0 {
		t.Errorf("requests sent: %q; want none", got)
	}
}

// --retries does not retry a POST, as -d makes, unless -H Idempotency-Key
// says it may be sent twice; a PUT it does. -h says so: a CI script that
// POSTs with --retries 3 gets one attempt of each, and should know it.
func TestAPICLIReviewRetriesPOSTOnlyWithIdempotencyKey(t *testing.T) {
	srv, seen := apiServer(t)
	for _, tc := range []struct {
		args     []string
		attempts int
	}{
		{[]string{"-d", `{"a":1}`}, 1},
		{[]string{"-d", `{"a":1}`, "-H", "Idempotency-Key: k1"}, 2},
		{[]string{"-X", "PUT", "-d", `{"a":1}`}, 2},
	} {
		u := srv.URL + "/items/1?status=503"
		before := len(seen())
		code, out, _ := runCmd(t, "", append([]string{"-q", "--retries", "1", u}, tc.args...)...)
		r := records(t, out)[u]
		if sent := len(seen()) - before; code != exitSomeFailed || r.Status != 503 || r.Attempts != tc.attempts || sent != tc.attempts {
			t.Errorf("fetch %q: exit %d, record %+v, %d sent; want 1, 503, %d attempts", tc.args, code, r, sent, tc.attempts)
		}
	}
	if !strings.Contains(usage(), "for POST or PATCH, only of a failure to connect, unless -H Idempotency-Key") {
		t.Error("-h does not say that --retries retries a POST without Idempotency-Key only when it could not connect")
	}
}

// An -H that is not "Name: value" is a usage error that never repeats the
// credential in it, a name with its colon misplaced included: before,
// "Authorization Bearer sk:live_42" was quoted up to its colon, half the
// key on stderr, in a CI log.
func TestAPICLIReviewBadHeaderHidesSecret(t *testing.T) {
	const secret = "sk_live_42"
	for _, h := range []string{
		"Authorization Bearer " + secret,        // no colon
		"Authorization Bearer " + secret + ":x", // the colon in the wrong place
		"Authorization=Bearer " + secret + ":x",
		"X-Key\t" + secret + ":",
		"Authorization: Bearer " + secret + "\r\nX: y", // a control character in the value
	} {
		code, out, stderr := runCmd(t, "", "-q", "-H", h, "http://127.0.0.1:1/")
		if code != exitUsage || out != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "fetch: -H: ") ||
			strings.Contains(stderr, "sk_") {
			t.Errorf("-H %q: exit %d, stderr %q; want 2 and one line naming -H, without the secret", h, code, stderr)
		}
	}
}
