package redisqueue

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// A worker without Follow on a stream that does not exist (a mistyped
// name) ends with one Result, with no ID, whose Err matches ErrNoStream and
// names the stream and Redis's address; and it makes nothing: not the
// stream, not the group, not the group's token.
func TestRunOnMissingStreamSaysSo(t *testing.T) {
	addr := redisAddr(t)
	rdb := newClient(t, addr)
	q := newQueue(t, rdb)
	rs := runOnce(t, q, newFetcher(t))
	if len(rs) != 1 || rs[0].ID != "" || !errors.Is(rs[0].Err, ErrNoStream) {
		t.Fatalf("results %+v; want one, with no ID, matching ErrNoStream", rs)
	}
	if msg := rs[0].Err.Error(); !strings.Contains(msg, `"`+q.stream+`"`) || !strings.Contains(msg, addr) {
		t.Errorf("Err %q; want it to name the stream %q and Redis at %s", msg, q.stream, addr)
	}
	n, err := rdb.Exists(t.Context(), q.stream, q.epoch, q.seen, q.dead).Result()
	if err != nil || n != 0 {
		t.Errorf("keys of the queue after Run: %d, %v; want none made", n, err)
	}
}

// A worker without Follow on a stream that exists with nothing left in it
// ends as documented: drained, with no Result at all. So does one on a
// stream whose entries were all done (acknowledged and deleted).
func TestRunOnEmptyStreamIsDrained(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	q := newQueue(t, rdb)
	if _, err := q.Add(t.Context(), slices.Values([]string{})); err != nil {
		t.Fatal(err)
	}
	if rs := runOnce(t, q, newFetcher(t)); len(rs) != 0 {
		t.Errorf("empty stream: results %+v; want none", rs)
	}
	if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL, 2))); err != nil {
		t.Fatal(err)
	}
	if rs := runOnce(t, q, newFetcher(t)); len(rs) != 2 || rs[0].Err != nil || rs[1].Err != nil {
		t.Fatalf("first run: results %+v; want 2 without error", rs)
	}
	if rs := runOnce(t, q, newFetcher(t)); len(rs) != 0 {
		t.Errorf("stream done: results %+v; want none", rs)
	}
}

// With Follow a worker waits for the entries of a stream that does not
// exist yet, as before: it makes the stream and the group, and fetches
// what is added later.
func TestRunFollowOnMissingStreamWaits(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	q := newQueue(t, rdb, Follow())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	f := newFetcher(t)
	got := make(chan Result, 1)
	go func() {
		defer close(got)
		for r := range q.Run(ctx, f) {
			got <- r
			return
		}
	}()
	// The worker makes the stream: nobody else does.
	portWaitFor(t, 5*time.Second, "the stream made by the worker", func() bool {
		return rdb.Exists(ctx, q.stream).Val() == 1
	})
	if _, err := q.Add(ctx, slices.Values(urls(srv.URL, 1))); err != nil {
		t.Fatal(err)
	}
	r, ok := <-got
	if !ok || r.ID == "" || r.Err != nil {
		t.Errorf("result %+v (%v); want the URL added, fetched", r, ok)
	}
	cancel()
	for range got {
	}
}
