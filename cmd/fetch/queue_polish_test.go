package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c989c033/fetch/redisqueue"
	"github.com/redis/go-redis/v9"
)

// streamURLs returns the url field of every entry of the stream the
// --queue address queue names, in order.
func streamURLs(t *testing.T, addr, queue string) []string {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	msgs, err := rdb.XRange(context.Background(), queue[strings.LastIndex(queue, "/")+1:], "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var us []string
	for _, m := range msgs {
		u, _ := m.Values["url"].(string)
		us = append(us, u)
	}
	return us
}

// --enqueue queues no line that is not a URL a worker could fetch: it
// reports each at once on stderr, naming the file and the line, queues the
// rest and exits 1, as a run of -i FILE reports the same lines, with the
// same numbers, and exits 1. Blank lines and comments are skipped, and a
// URL without a scheme is queued as http://, as -i takes them.
func TestEnqueueReportsLinesThatAreNotURLs(t *testing.T) {
	addr := redisAddr(t)
	queue, _ := newQueue(t, addr)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	list := strings.Join([]string{
		"# the list", // 1
		srv.URL + "/a",
		"",
		"ftp://x",   // 4
		"http://",   // 5
		"not a url", // 6
		host + "/b", // 7: no scheme, an http URL
		"  ",
		srv.URL + "/c",
	}, "\n") + "\n"
	file := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(file, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, stderr := runCmd(t, "", "--queue", queue, "--group", "workers", "--enqueue", file)
	want := []string{
		file + `:4: "ftp://x": invalid URL: scheme must be http or https`,
		file + `:5: "http://": invalid URL: no host`,
		file + `:6: "not a url": invalid URL: `,
		"added 3 of 3 URLs to ",
		"; 3 lines not queued",
	}
	if code != exitSomeFailed || out != "" {
		t.Errorf("--enqueue: exit %d, stdout %q; want 1 and nothing", code, out)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("--enqueue: stderr %q; want it to say %q", stderr, w)
		}
	}
	queued := []string{srv.URL + "/a", "http://" + host + "/b", srv.URL + "/c"}
	if got := streamURLs(t, addr, queue); !slices.Equal(got, queued) {
		t.Errorf("stream holds %q; want %q", got, queued)
	}

	// -i FILE: the same lines refused, by the same numbers, and exit 1.
	code, out, _ = runCmd(t, "", "-q", "-i", file)
	recs := records(t, out)
	for u, n := range map[string]int{"ftp://x": 4, "http://": 5, "not a url": 6} {
		r := recs[u]
		if r.ErrorKind != "invalid_input" || !strings.Contains(r.Error, fmt.Sprintf("line %d: %q", n, u)) {
			t.Errorf("-i: record of %q: %+v; want invalid_input, line %d", u, r, n)
		}
	}
	if code != exitSomeFailed || len(recs) != 6 {
		t.Errorf("-i: exit %d, %d records; want 1 and 6", code, len(recs))
	}

	// From standard input, with -q: the lines are still reported (an
	// error is not chatter), the summary is not.
	code, _, stderr = runCmd(t, "ftp://y\n"+srv.URL+"/d\n", "-q", "--queue", queue, "--group", "workers", "--enqueue", "-")
	if code != exitSomeFailed || stderr != "fetch: --enqueue: standard input:1: \"ftp://y\": invalid URL: scheme must be http or https\n" {
		t.Errorf("--enqueue - -q: exit %d, stderr %q; want 1 and the line reported", code, stderr)
	}
	if got := streamURLs(t, addr, queue); !slices.Equal(got, append(queued, srv.URL+"/d")) {
		t.Errorf("stream holds %q; want %q and %s/d", got, queued, srv.URL)
	}
}

// A worker on a stream that does not exist (a mistyped name) says so,
// naming the --queue address, writes no record and no summary, exits 2, as
// for an -i FILE with no URL, and leaves no stream behind. A worker on a
// stream that exists with nothing left in it still finds it drained:
// "fetched 0", exit 0.
func TestQueueWorkerOnMissingStream(t *testing.T) {
	addr := redisAddr(t)
	queue, q := newQueue(t, addr)
	code, out, stderr := runCmd(t, "", "--queue", queue, "--group", "workers")
	if code != exitUsage || out != "" || strings.Contains(stderr, "fetched") || strings.Count(stderr, "\n") != 1 ||
		!strings.HasPrefix(stderr, "fetch: --queue "+queue+": ") || !strings.Contains(stderr, "does not exist") {
		t.Errorf("worker on a missing stream: exit %d, stdout %q, stderr %q; want 2, nothing, and one line saying %s does not exist", code, out, stderr, queue)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	stream := queue[strings.LastIndex(queue, "/")+1:]
	if n, err := rdb.Exists(context.Background(), stream).Result(); err != nil || n != 0 {
		t.Errorf("stream after the worker: %d, %v; want none made", n, err)
	}

	if _, err := q.Add(context.Background(), slices.Values([]string{})); err != nil { // made, empty
		t.Fatal(err)
	}
	code, out, stderr = runCmd(t, "", "--queue", queue, "--group", "workers")
	if code != exitOK || out != "" || !strings.HasPrefix(stderr, "fetched 0 in") {
		t.Errorf("worker on an empty stream: exit %d, stdout %q, stderr %q; want 0, nothing and \"fetched 0 in…\"", code, out, stderr)
	}
}

// An entry set aside after too many deliveries (redisqueue's
// MaxDeliveries: each time its worker died with it) has a record whose
// error_kind is delivery_limit, and is not fetched.
func TestQueueDeliveryLimitKind(t *testing.T) {
	addr := redisAddr(t)
	queue, _ := newQueue(t, addr)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	poison := srv.URL + "/poison"
	if code, _, stderr := runCmd(t, poison+"\n", "-q", "--queue", queue, "--group", "workers", "--enqueue", "-"); code != exitOK {
		t.Fatalf("--enqueue: exit %d, stderr %q", code, stderr)
	}
	// A worker read it and died, five times over (redisqueue's default
	// MaxDeliveries), an hour ago.
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	stream := queue[strings.LastIndex(queue, "/")+1:]
	got, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "workers", Consumer: "dead/1", Streams: []string{stream, ">"}, Count: 1}).Result()
	if err != nil || len(got) != 1 || len(got[0].Messages) != 1 {
		t.Fatalf("reading the entry as a worker that dies: %v, %v", got, err)
	}
	id := got[0].Messages[0].ID
	if err := rdb.Do(ctx, "XCLAIM", stream, "workers", "dead/1", 0, id, "IDLE", time.Hour.Milliseconds(), "RETRYCOUNT", 5, "JUSTID").Err(); err != nil {
		t.Fatal(err)
	}

	code, out, stderr := runCmd(t, "", "--queue", queue, "--group", "workers")
	recs := records(t, out)
	r := recs[poison]
	if code != exitSomeFailed || len(recs) != 1 || r.ID != id || r.ErrorKind != "delivery_limit" || r.Attempts != 0 {
		t.Errorf("worker: exit %d, records %+v, stderr %q; want 1 and one record of %s, error_kind delivery_limit, no attempt", code, recs, stderr, id)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests for the entry set aside; want none", n)
	}
	if kind := errorKind(fmt.Errorf("wrapped: %w", redisqueue.ErrDeliveryLimit)); kind != "delivery_limit" {
		t.Errorf("errorKind(an ErrDeliveryLimit) = %q; want delivery_limit", kind)
	}
}
