package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Flags that each work alone, given together: each combination either does
// what the documentation leads one to expect, or is a usage error naming
// both flags, never one flag silently ignored.

// --demo fetches its own URLs: a -i FILE given with it was ignored without
// a word (exit 0, the file never read), as URL arguments are not.
func TestComboDemoWithInputFileIsAUsageError(t *testing.T) {
	list := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(list, []byte("http://127.0.0.1:1/a\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCmd(t, "", "-q", "--demo", "-i", list)
	if code != exitUsage || out != "" || !strings.Contains(stderr, "--demo") || !strings.Contains(stderr, "-i") {
		t.Errorf("--demo -i FILE: exit %d, %d bytes of records, stderr %q; want a usage error naming --demo and -i", code, len(out), stderr)
	}
}

// -o - is standard output, as curl's -o - and wget's -O - are, and as -i -
// is standard input here: it made a file named "-" in the current
// directory, and the records never reached the pipe they were meant for.
func TestComboOutputDashIsStandardOutput(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	t.Chdir(t.TempDir())
	code, out, stderr := runCmd(t, "", "-q", "-o", "-", srv.URL+"/a")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if r, ok := records(t, out)[srv.URL+"/a"]; !ok || r.Status != 200 {
		t.Errorf("-o -: stdout %q; want the record on standard output", out)
	}
	if _, err := os.Stat("-"); err == nil {
		t.Errorf(`-o -: a file named "-" was made`)
	}
}

// --enqueue adds URLs and exits: the flags of a worker given with it (-O,
// -o, --title, -c, -H, ...) were ignored without a word, exit 0, so that
// "fetch --queue Q --enqueue urls.txt -O pages -o out.jsonl" looked as if
// it had fetched the list, with neither pages nor out.jsonl made. Refused
// before Redis is asked anything.
func TestComboEnqueueWithWorkerFlagsIsAUsageError(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "urls.txt")
	if err := os.WriteFile(list, []byte("http://127.0.0.1:1/a\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	const queue = "redis://127.0.0.1:1/s" // never reached: a usage error comes first
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"-O", filepath.Join(dir, "pages")}, "-O"},
		{[]string{"-o", filepath.Join(dir, "out.jsonl")}, "-o"},
		{[]string{"--title"}, "--title"},
		{[]string{"-c", "4"}, "-c"},
		{[]string{"-H", "X-A: b"}, "-H"},
		{[]string{"--rate", "2"}, "--rate"},
		{[]string{"--body"}, "--body"},
		{[]string{"-k"}, "-k"},
	} {
		args := append([]string{"-q", "--queue", queue, "--enqueue", list}, tc.args...)
		code, _, stderr := runCmd(t, "", args...)
		if code != exitUsage || !strings.Contains(stderr, "--enqueue") || !strings.Contains(stderr, tc.flag) || strings.Contains(stderr, "127.0.0.1:1") {
			t.Errorf("%q: exit %d, stderr %q; want a usage error naming --enqueue and %s, before connecting", args, code, stderr, tc.flag)
		}
	}
}

// What --enqueue uses, and --visibility, which a worker's command line
// shares with it, are taken with --enqueue.
func TestComboEnqueueTakesQueueFlags(t *testing.T) {
	queue, _ := newQueue(t, redisAddr(t))
	list := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(list, []byte("http://127.0.0.1:1/a\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd(t, "", "--queue", queue, "--group", "workers", "--visibility", "1m", "--total", "1m", "--enqueue", list)
	if code != exitOK || !strings.Contains(stderr, "added 1 of 1 URLs") {
		t.Errorf("--enqueue with --group, --visibility, --total: exit %d, stderr %q; want the URL added", code, stderr)
	}
}

// When --total ends a run over URL arguments, every URL still gets a record,
// those never sent with "attempts": 0; the line on stderr said "0 of the 5
// URLs not tried", as if each had been tried, when only one had. It counts
// the records of URLs never sent as not tried; from standard input, whose
// length is not known, it says how many of the results those are.
func TestComboTotalSaysHowManyWereNotTried(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // until --total cancels it
	}))
	defer srv.Close()
	var urls []string
	for i := range 5 {
		urls = append(urls, fmt.Sprintf("%s/%d", srv.URL, i))
	}
	flags := []string{"-q", "-c", "1", "--retries", "0", "--total", "300ms"}
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"arguments", "", urls, "%d of the 5 URLs not tried"},
		{"stdin", strings.Join(urls, "\n") + "\n", []string{"-"}, "results, %d of them not tried: the rest of the input was not read"},
	} {
		code, out, stderr := runCmd(t, tc.stdin, append(flags, tc.args...)...)
		recs := lineRecords(t, out)
		untried := 0
		for _, r := range recs {
			if r.Attempts == 0 {
				untried++
			}
		}
		if code != exitSomeFailed || untried == 0 {
			t.Errorf("%s: exit %d, %d records, %d never sent, stderr %q; want some never sent", tc.name, code, len(recs), untried, stderr)
			continue
		}
		if want := fmt.Sprintf(tc.want, untried); !strings.Contains(stderr, want) {
			t.Errorf("%s: stderr %q; want it to say %q", tc.name, stderr, want)
		}
	}
}

// headersOnRedirect runs fetch with args on a URL that redirects, from
// https to http on the same host when downgrade is set, else to another
// domain (127.0.0.1 to localhost), and returns the X-Api-Key and
// Authorization the redirect's target got.
func headersOnRedirect(t *testing.T, downgrade bool, args ...string) (key, auth string) {
	t.Helper()
	var mu sync.Mutex
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		key, auth = r.Header.Get("X-Api-Key"), r.Header.Get("Authorization")
		mu.Unlock()
	}))
	defer target.Close()
	to := target.URL + "/landed"
	if !downgrade {
		to = strings.Replace(to, "127.0.0.1", "localhost", 1)
	}
	from := httptest.NewTLSServer(http.RedirectHandler(to, http.StatusFound))
	defer from.Close()
	code, out, stderr := runCmd(t, "", append(append([]string{"-q", "-k"}, args...), from.URL+"/go")...)
	if code != exitOK {
		t.Fatalf("%q: exit %d, %s %s", args, code, out, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	return key, auth
}

// An Authorization given with -H, as -u's, does not go on to http after a
// hop from https, as the README says.
func TestComboHeaderAuthorizationNotSentAfterDowngrade(t *testing.T) {
	if _, auth := headersOnRedirect(t, true, "-u", "a:b"); auth != "" {
		t.Errorf("-u: Authorization %q sent over http after https", auth)
	}
	if _, auth := headersOnRedirect(t, true, "-H", "Authorization: Bearer s3cret"); auth != "" {
		t.Errorf("-H Authorization: %q sent over http after https", auth)
	}
}

// -H X-Api-Key is held back on a redirect to another domain, with
// --queue or without: one command line must not send a secret to a third
// party or not depending on where its URLs come from. Without --queue it
// went on (net/http's rule for a request's own headers).
func TestComboHeaderOnRedirectSameWithAndWithoutQueue(t *testing.T) {
	key, _ := headersOnRedirect(t, false, "-H", "X-Api-Key: s3cret")
	var qkey string
	var mu sync.Mutex
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		qkey = r.Header.Get("X-Api-Key")
		mu.Unlock()
	}))
	defer target.Close()
	from := httptest.NewServer(http.RedirectHandler(strings.Replace(target.URL, "127.0.0.1", "localhost", 1)+"/landed", http.StatusFound))
	defer from.Close()
	queue, _ := newQueue(t, redisAddr(t))
	if code, _, stderr := runCmd(t, from.URL+"/go\n", "-q", "--queue", queue, "--group", "workers", "--enqueue", "-"); code != exitOK {
		t.Fatalf("--enqueue: exit %d, %s", code, stderr)
	}
	if code, out, stderr := runCmd(t, "", "-q", "--queue", queue, "--group", "workers", "-H", "X-Api-Key: s3cret"); code != exitOK {
		t.Fatalf("--queue: exit %d, %s %s", code, out, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if key != "" || qkey != "" {
		t.Errorf("-H X-Api-Key on a redirect to another domain: %q without --queue, %q with it; want none either way", key, qkey)
	}
}

// connectProxy is an HTTP proxy that tunnels CONNECT requests, and records
// the Proxy-Authorization of each.
func connectProxy(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.Header.Get("Proxy-Authorization"))
		mu.Unlock()
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		go func() {
			io.Copy(up, buf)
			up.Close()
		}()
		io.Copy(conn, up)
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// -H Proxy-Authorization with -x and an https URL went inside the tunnel,
// to the server, and not in the CONNECT, to the proxy it was meant for (as
// it did with --queue). It goes in the CONNECT now, and with an http URL,
// in the request the proxy reads.
func TestComboProxyAuthorizationHeaderStaysWithTheProxy(t *testing.T) {
	plain := newProxyServer(t)
	if code, _, stderr := runCmd(t, "", "-q", "-x", plain.URL, "-H", "Proxy-Authorization: Basic cHJveHk6cHc=", "http://target.invalid/x"); code != exitOK {
		t.Fatalf("http URL: exit %d, %s", code, stderr)
	}
	if got, want := plain.requests(), []string{"GET http://target.invalid/x Basic cHJveHk6cHc="}; !slices.Equal(got, want) {
		t.Errorf("http URL: the proxy got %q; want %q", got, want)
	}

	var mu sync.Mutex
	var origin string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		origin = r.Header.Get("Proxy-Authorization")
		mu.Unlock()
	}))
	defer srv.Close()
	proxy, seen := connectProxy(t)
	code, out, stderr := runCmd(t, "", "-q", "-k", "-x", proxy.URL, "-H", "Proxy-Authorization: Basic cHJveHk6cHc=", srv.URL+"/a")
	if code != exitOK {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if origin != "" {
		t.Errorf("the server got Proxy-Authorization %q, meant for the proxy", origin)
	}
	if got := seen(); !slices.Equal(got, []string{"CONNECT Basic cHJveHk6cHc="}) {
		t.Errorf("the proxy got %q; want one CONNECT with the credentials", got)
	}
}
