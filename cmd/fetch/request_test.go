package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/testserver"
)

// -H and --header headers go with every request: every URL, every retry,
// every redirect to the same host.
func TestHeadersOnEveryRequest(t *testing.T) {
	var mu sync.Mutex
	seen, failed := 0, map[string]bool{}
	var missing []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen++
		if r.Header.Get("Authorization") != "Bearer t" || r.Header.Get("X-Key") != "k" {
			missing = append(missing, r.URL.String())
		}
		switch {
		case r.URL.Path == "/flaky" && !failed[r.URL.Path]:
			failed[r.URL.Path] = true
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.URL.Path == "/moved":
			http.Redirect(w, r, "/1", http.StatusFound)
		}
	}))
	defer srv.Close()
	urls := []string{srv.URL + "/1", srv.URL + "/2", srv.URL + "/flaky", srv.URL + "/moved"}
	args := append([]string{"-q", "-H", "Authorization: Bearer t", "--header", "X-Key: k"}, urls...)
	code, out, stderr := runCmd(t, "", args...)
	if recs := records(t, out); code != exitOK || len(recs) != 4 {
		t.Fatalf("exit %d, %d records, stderr %q; want 0 and 4", code, len(recs), stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen != 6 || len(missing) != 0 {
		t.Errorf("server saw %d requests, without the headers: %q; want 6, all with them", seen, missing)
	}
}

// -d and --data-binary build the body as curl does: @FILE reads a file (-d
// without its newlines), @- standard input, values are joined with &, and
// a body makes the request a form POST unless -X and -H say otherwise.
func TestData(t *testing.T) {
	type got struct{ method, ctype, body string }
	var mu sync.Mutex
	var last got
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		last = got{r.Method, r.Header.Get("Content-Type"), string(b)}
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "body")
	os.WriteFile(file, []byte("a=1\r\nb=2\n"), 0o644)
	const form = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		stdin string
		args  []string
		want  got
	}{
		{"", []string{"-d", "x=1"}, got{"POST", form, "x=1"}},
		{"", []string{"--data", "@" + file}, got{"POST", form, "a=1b=2"}},
		{"", []string{"--data-binary", "@" + file}, got{"POST", form, "a=1\r\nb=2\n"}},
		{"", []string{"-d", "x=1", "-d", "@" + file, "--data-binary", "y"}, got{"POST", form, "x=1&a=1b=2&y"}},
		{"from\nstdin\n", []string{"-d", "@-"}, got{"POST", form, "fromstdin"}},
		{"", []string{"-X", "PUT", "-H", "Content-Type: application/json", "-d", `{"a":1}`}, got{"PUT", "application/json", `{"a":1}`}},
		{"", []string{"-d", "@@literal"}, got{"POST", form, ""}}, // a file named @literal, which is not there
	} {
		mu.Lock()
		last = got{}
		mu.Unlock()
		code, _, stderr := runCmd(t, tc.stdin, append(tc.args, "-q", srv.URL)...)
		mu.Lock()
		g := last
		mu.Unlock()
		if tc.want.body == "" { // a usage error
			if code != exitUsage || !strings.Contains(stderr, "@literal") {
				t.Errorf("fetch %q: exit %d, stderr %q; want 2 and the file named", tc.args, code, stderr)
			}
			continue
		}
		if code != exitOK || g != tc.want {
			t.Errorf("fetch %q: exit %d, server got %+v; want 0 and %+v", tc.args, code, g, tc.want)
		}
	}
}

// The summary gives durations people can read: never "0s" for a run that
// took some time, and to three significant digits.
func TestSummaryDurations(t *testing.T) {
	srv := testserver.Start(testserver.Config{})
	defer srv.Close()
	_, _, stderr := runCmd(t, "", srv.URL+"/items/1", srv.URL+"/items/2")
	m := regexp.MustCompile(`fetched 2 in (\S+):[^\n]*\nlatency p50 (\S+), p95 (\S+), p99 (\S+)\n`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("summary %q: want fetched 2 in …, latency …", stderr)
	}
	for _, s := range m[1:] {
		if d, err := time.ParseDuration(s); err != nil || d <= 0 {
			t.Errorf("summary %q: duration %q; want one above 0", stderr, s)
		}
	}
	var b strings.Builder
	var tl tally
	tl.add(record{Error: "x", Attempts: 2, dur: 1234567 * time.Nanosecond})
	tl.add(record{Attempts: 1, Bytes: 3_456_789, dur: 1234567 * time.Nanosecond})
	tl.print(&b, 2*time.Second+345*time.Millisecond)
	for _, want := range []string{"fetched 2 in 2.35s: 1 succeeded, 1 failed, 1 retried; 1 req/s, 3.5 MB (1.5 MB/s)\n", "p50 1.25ms"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary %q; want %q in it", b.String(), want)
		}
	}
}

func TestHuman(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{999, "999ns"},
		{1234, "1.23µs"},
		{12345678, "12.3ms"},
		{123456789, "123ms"},
		{1234567890, "1.23s"},
		{83456 * time.Millisecond, "1m23.5s"},
	} {
		if got := human(tc.d).String(); got != tc.want {
			t.Errorf("human(%d) = %s; want %s", tc.d, got, tc.want)
		}
	}
}

// -H "Host: name" sends that Host, as curl does: net/http ignores a Host
// in the header map, so the command must set it on the request.
func TestHostHeader(t *testing.T) {
	hosts := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hosts <- r.Host }))
	defer srv.Close()
	for _, args := range [][]string{{}, {"-O", t.TempDir()}} {
		code, _, stderr := runCmd(t, "", append(args, "-q", "-H", "Host: virtual.example", srv.URL+"/")...)
		if got := <-hosts; code != exitOK || got != "virtual.example" {
			t.Errorf("fetch %q -H Host: exit %d, stderr %q, server got Host %q; want 0 and virtual.example", args, code, stderr, got)
		}
	}
}

// -H and -X values that cannot be sent are usage errors naming the flag,
// not a failure of every URL.
func TestBadHeaderOrMethod(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"-H", "Bad Name: x"}, "-H"},
		{[]string{"-H", "X-A: a\x01b"}, "-H"},
		{[]string{"-H", "X-A: a\nInjected: b"}, "-H"},
		{[]string{"--header", "(): x"}, "-H"},
		{[]string{"-X", "BAD METHOD"}, "-X"},
		{[]string{"--request", "GET\r\n"}, "-X"},
	} {
		args := append(tc.args, "-q", "http://127.0.0.1:1/")
		code, out, stderr := runCmd(t, "", args...)
		if code != exitUsage || out != "" || !strings.Contains(stderr, tc.flag) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("fetch %q: exit %d, stdout %q, stderr %q; want 2 and one line naming %s", args, code, out, stderr, tc.flag)
		}
	}
}

// -H takes curl's forms for an empty header: "Name;" sends Name with no
// value, and "Name:" sends no Name at all, removing one the command would
// send itself (User-Agent, or the Content-Type of -d).
func TestEmptyHeaders(t *testing.T) {
	type seen struct {
		header http.Header
		ok     bool
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header, true}
	}))
	defer srv.Close()
	code, _, stderr := runCmd(t, "", "-q", "-H", "X-Empty;", "-H", "X-Gone:", "-H", "User-Agent:",
		"-H", "Content-Type:", "-d", "a=1", srv.URL)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q; want 0", code, stderr)
	}
	h := (<-got).header
	if v, ok := h["X-Empty"]; !ok || len(v) != 1 || v[0] != "" {
		t.Errorf("X-Empty; sent %q (%v); want X-Empty with an empty value", v, ok)
	}
	for _, k := range []string{"X-Gone", "User-Agent", "Content-Type"} {
		if v, ok := h[k]; ok {
			t.Errorf("%s: sent %q; want no %s", k, v, k)
		}
	}
}

// The summary's latencies are those of requests: an input never sent (not
// a URL) has none, and does not pull them down.
func TestSummaryLatencyOfRequestsOnly(t *testing.T) {
	var tl tally
	tl.add(record{Attempts: 1, dur: 100 * time.Millisecond})
	for range 3 {
		tl.add(record{Error: "fetch: invalid URL", ErrorKind: "invalid_input"})
	}
	if p50 := tl.lat.quantile(0.5); p50 < 99*time.Millisecond {
		t.Errorf("p50 %v with one request of 100ms and three inputs never sent; want 100ms", p50)
	}
	if tl.ok+tl.failed != 4 || tl.failed != 3 {
		t.Errorf("tally %d ok, %d failed; want 1 and 3", tl.ok, tl.failed)
	}
}

// Ctrl-C while -d @- waits for standard input (a terminal, say) ends the
// wait, rather than be held until standard input ends.
func TestDataFromStdinInterrupted(t *testing.T) {
	r, w := io.Pipe() // never written: a read blocks
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() {
		_, err := readData(ctx, []dataPart{{value: "@-"}}, r, false)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("readData = %v; want it cancelled", err)
		}
	case <-time.After(10 * time.Second): // a guard, not a synchronisation
		t.Fatal("readData still reading standard input 10s after the interrupt")
	}
}

// -u USER:PASSWORD sends basic auth with every request, as curl -u does,
// unless -H sets Authorization; a value without a colon is a usage error
// that does not repeat the secret.
func TestUserBasicAuth(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	if code, _, stderr := runCmd(t, "", "-q", "-u", "ann:s3cr:et", srv.URL+"/a", srv.URL+"/b"); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCmd(t, "", "-q", "--user", "ann:x", "-H", "Authorization: Bearer t", srv.URL+"/c"); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	mu.Lock()
	want := []string{"Basic YW5uOnMzY3I6ZXQ=", "Basic YW5uOnMzY3I6ZXQ=", "Bearer t"} // ann:s3cr:et
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("Authorization headers %q; want %q", got, want)
	}
	mu.Unlock()
	code, out, stderr := runCmd(t, "", "-u", "secretvalue", srv.URL)
	if code != exitUsage || out != "" || !strings.Contains(stderr, "-u") || strings.Contains(stderr, "secretvalue") {
		t.Errorf("-u without a colon: exit %d, stdout %q, stderr %q; want 2 and one line naming -u, without the value", code, out, stderr)
	}
}

// With --queue the -H headers are the Fetcher's defaults too: -H
// Authorization still wins over -u, as without it.
func TestUserBasicAuthWithQueueHeader(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Values("Authorization")
	}))
	defer srv.Close()
	_, opts, _, err := parseFlags([]string{"--queue", "redis://127.0.0.1:1/s", "-u", "ann:x", "-H", "Authorization: Bearer t"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := fetch.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(context.Background(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "Bearer t" {
		t.Errorf("--queue -u ann:x -H 'Authorization: Bearer t' sent Authorization %q; want only the -H one", got)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 3456: "3.5 kB", 99_400: "99 kB",
		999_499: "999 kB", 999_500: "1.0 MB", 12_345_678: "12 MB", 5 << 30: "5.4 GB", 3e15: "3000 TB"} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q; want %q", n, got, want)
		}
	}
}
