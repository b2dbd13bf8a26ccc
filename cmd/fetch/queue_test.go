package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c989c033/fetch/internal/redistest"
	"go.uber.org/goleak"

	"github.com/c989c033/fetch/redisqueue"
	"github.com/redis/go-redis/v9"
)

// asCommand, set in a child's environment, makes the test binary run the
// command with its arguments instead of the tests, so that a test can run
// workers that are processes of their own, as on other machines.
const asCommand = "FETCH_TEST_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(asCommand) == "1" {
		main()
	}
	goleak.VerifyTestMain(m)
}

// redisAddr returns the address of a Redis for t: CI's (REDIS_ADDR), or a
// redis-server of t's own (see internal/redistest).
func redisAddr(t *testing.T) string { return redistest.Addr(t) }

// newQueue returns the --queue address of a stream no other run has used
// on the Redis at addr, and the Queue of its group "workers", to check it
// with. The stream is deleted when t ends.
func newQueue(t *testing.T, addr string) (string, *redisqueue.Queue) {
	t.Helper()
	stream := fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	q, err := redisqueue.New(rdb, stream, "workers")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		q.Delete(context.Background())
		rdb.Close()
	})
	return "redis://" + addr + "/" + stream, q
}

// Two worker processes split a list queued with --enqueue: every URL is
// fetched once, by one of them, each fetches some, and every entry is
// acknowledged at the end.
func TestQueueSharedByTwoWorkers(t *testing.T) {
	queue, q := newQueue(t, redisAddr(t))
	var (
		mu       sync.Mutex
		hits     = map[string]int{} // requests per path
		byWorker = map[string]int{} // requests per X-Worker
		both     = make(chan struct{})
	)
	// No request is answered before both workers have sent one, so that
	// neither can finish the list alone.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		if byWorker[r.Header.Get("X-Worker")]++; len(byWorker) == 2 && byWorker[r.Header.Get("X-Worker")] == 1 {
			close(both)
		}
		mu.Unlock()
		select {
		case <-both:
			fmt.Fprintf(w, "body of %s\n", r.URL.Path)
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()

	const n = 2*redisqueue.DefaultMaxHeld - 100 // more than one worker holds
	var list strings.Builder
	fmt.Fprintf(&list, "# a comment\n%s/0\n", srv.URL) // and a duplicate of /0 below
	for i := range n {
		fmt.Fprintf(&list, "%s/%d\n", srv.URL, i)
	}
	file := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(file, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	stream := queue[strings.LastIndex(queue, "/")+1:]
	code, out, stderr := runCmd(t, "", "--queue", queue, "--group", "workers", "--enqueue", file)
	if want := fmt.Sprintf("added %d of %d URLs to %s (1 seen before)\n", n, n+1, stream); code != exitOK || out != "" || stderr != want {
		t.Fatalf("--enqueue FILE: exit %d, stdout %q, stderr %q; want 0, nothing, %q", code, out, stderr, want)
	}
	code, _, stderr = runCmd(t, list.String(), "--queue", queue, "--group", "workers", "--enqueue", "-")
	if want := fmt.Sprintf("added 0 of %d URLs to %s (%d seen before)\n", n+1, stream, n+1); code != exitOK || stderr != want {
		t.Fatalf("--enqueue - again: exit %d, stderr %q; want 0 and %q", code, stderr, want)
	}

	dir := t.TempDir()
	workers := make([]*exec.Cmd, 2)
	outs := make([]string, 2)
	for i := range workers {
		outs[i] = filepath.Join(dir, fmt.Sprintf("worker%d.jsonl", i))
		args := []string{"-q", "--queue", queue, "--group", "workers", "-c", "4", "--total", "20s",
			"-H", fmt.Sprintf("X-Worker: %d", i), "-o", outs[i]}
		if i == 1 {
			args = append(args, "-O", filepath.Join(dir, "saved"))
		}
		workers[i] = exec.Command(os.Args[0], args...)
		workers[i].Env = append(os.Environ(), asCommand+"=1")
		workers[i].Stderr = new(bytes.Buffer)
		if err := workers[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	fetched := map[string]int{}
	for i, w := range workers {
		err := w.Wait()
		if code := w.ProcessState.ExitCode(); code != exitOK {
			t.Errorf("worker %d: exit %d (%v); want 0\n%s", i, code, err, w.Stderr)
		}
		data, _ := os.ReadFile(outs[i])
		recs := lineRecords(t, string(data))
		if len(recs) == 0 {
			t.Errorf("worker %d wrote no records; want a share of the list", i)
		}
		saved := 0
		for _, r := range recs {
			fetched[r.URL]++
			if r.Status != 200 || r.Error != "" || r.ID == "" || r.Reclaimed {
				t.Errorf("worker %d: record %+v; want 200, no error, an entry ID, not reclaimed", i, r)
			}
			if r.File != "" {
				saved++
			}
		}
		if want := map[int]int{0: 0, 1: len(recs)}[i]; saved != want {
			t.Errorf("worker %d saved %d bodies; want %d", i, saved, want)
		}
	}
	for i := range n {
		u := fmt.Sprintf("%s/%d", srv.URL, i)
		if fetched[u] != 1 || hits[fmt.Sprintf("/%d", i)] != 1 {
			t.Errorf("%s: %d records, %d requests; want 1 and 1", u, fetched[u], hits[fmt.Sprintf("/%d", i)])
		}
	}
	if len(fetched) != n || len(hits) != n {
		t.Errorf("%d URLs in the records, %d requested; want %d", len(fetched), len(hits), n)
	}
	st, err := q.Stats(context.Background())
	if err != nil || st.Seen != n || st.Entries != 0 || st.Pending != 0 || !st.Drained {
		t.Errorf("queue at the end: %+v, %v; want %d keys seen, no entry left (all acknowledged and deleted), drained", st, err, n)
	}
}

// A worker reports every entry: a success, a failure, a line that is not a
// URL (which --enqueue refuses, but another client of the stream may add)
// and an entry that is not one of ours; it acknowledges them all and exits
// 1, as a run with a failure does.
func TestQueueWorkerReportsEveryEntry(t *testing.T) {
	addr := redisAddr(t)
	queue, q := newQueue(t, addr)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ok, missing := srv.URL+"/ok", srv.URL+"/missing"
	code, _, stderr := runCmd(t, ok+"\n"+missing+"\n", "-q", "--queue", queue, "--group", "workers", "--enqueue", "-")
	if code != exitOK || stderr != "" {
		t.Fatalf("--enqueue -q: exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
	if _, err := q.Add(context.Background(), slices.Values([]string{"not a url"})); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	stream := queue[strings.LastIndex(queue, "/")+1:]
	if err := rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: []string{"page", "x"}}).Err(); err != nil {
		t.Fatal(err)
	}

	code, out, stderr := runCmd(t, "", "--queue", queue, "--group", "workers", "--retries", "0", "-O", t.TempDir())
	recs := records(t, out)
	if code != exitSomeFailed || len(recs) != 4 || !strings.Contains(stderr, "fetched 4 in") {
		t.Fatalf("worker: exit %d, %d records, stderr %q; want 1, 4 records and a summary:\n%s", code, len(recs), stderr, out)
	}
	for u, kind := range map[string]string{ok: "", missing: "status", "not a url": "invalid_input", "": "invalid_input"} {
		if r := recs[u]; r.ErrorKind != kind || r.ID == "" || (kind == "") != (r.File != "") {
			t.Errorf("record for %q: %+v; want error_kind %q, an entry ID, a file only for a success", u, r, kind)
		}
	}
	st, err := q.Stats(context.Background())
	// Three keys: the two URLs, and the line that is no URL, by its text
	// (the entry added by hand has none).
	if err != nil || st.Seen != 3 || st.Entries != 0 || st.Pending != 0 || !st.Drained {
		t.Errorf("queue at the end: %+v, %v; want 3 keys seen, no entry left, drained", st, err)
	}
}

// The flags of a shared run are checked before anything is fetched or
// queued, and a misuse names the flag.
func TestQueueUsageErrors(t *testing.T) {
	const addr = "redis://127.0.0.1:1/urls" // nothing listens there
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--group", "g", "http://127.0.0.1:1/"}, "--group: only with --queue"},
		{[]string{"--enqueue", "urls.txt"}, "--enqueue: only with --queue"},
		{[]string{"--queue", "http://127.0.0.1:1/urls"}, "--queue: redisqueue: ParseURL"},
		{[]string{"--queue", "redis://127.0.0.1:1"}, "no stream name"},
		{[]string{"--queue", "redis://127.0.0.1:1/urls?db=x"}, "--queue: redisqueue: ParseURL"},
		{[]string{"--queue", addr, "--group", ""}, "--group: must not be empty"},
		{[]string{"--visibility", "5s", "http://127.0.0.1:1/"}, "--visibility: only with --queue"},
		{[]string{"--queue", addr, "--visibility", "10ms"}, "--visibility 10ms: must be at least 100ms"},
		{[]string{"--queue", addr, "http://127.0.0.1:1/"}, "--queue reads the URLs from the stream"},
		{[]string{"--queue", addr, "-i", "urls.txt"}, "-i and --queue"},
		{[]string{"--queue", addr, "--demo"}, "--demo and --queue"},
		{[]string{"--queue", addr, "-d", "a=b"}, "--queue fetches with GET"},
		{[]string{"--queue", addr, "-X", "POST"}, "--queue fetches with GET"},
		{[]string{"--queue", addr, "--enqueue", "/nonexistent/urls.txt"}, "--enqueue: open /nonexistent/urls.txt"},
		{[]string{"--queue", addr}, "--queue " + addr + ": "},
		{[]string{"--queue", "redis://u:secret@127.0.0.1:1/urls"}, "--queue redis://u:xxxxx@127.0.0.1:1/urls: "},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel() // some wait for a Redis that is not there
			code, out, stderr := runCmd(t, "", tc.args...)
			if code != exitUsage || out != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "fetch: ") || !strings.Contains(stderr, tc.want) {
				t.Errorf("fetch %q: exit %d, stderr %q; want 2 and one line with %q", tc.args, code, stderr, tc.want)
			}
			if strings.Contains(stderr, "secret") {
				t.Errorf("fetch %q: stderr %q shows the password", tc.args, stderr)
			}
		})
	}
}
