package redisqueue

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// A worker that stops on a Redis that answers releases what it holds at
// once, whatever its FlushTimeout: the stop's wait for the read under way
// (a blocking XREADGROUP, which ends within a poll, a quarter of a second)
// is not Redis failing to answer. With FlushTimeout(50ms), a break used to
// leave every entry held pending with the stopped worker, to be taken
// over only after the visibility timeout, each delivery counting toward
// MaxDeliveries.
func TestSessrevBreakReleasesWithShortFlushTimeout(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	q := newQueue(t, rdb, Consumer("w"), FlushTimeout(50*time.Millisecond))
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL, 3))); err != nil {
		t.Fatal(err)
	}
	for range q.Run(t.Context(), newFetcher(t)) {
		break
	}
	if held := pendingOf(t, rdb, q, "w/1"); len(held) != 0 {
		t.Errorf("after a break on a Redis that answers, the stopped worker still holds %d entries; want all released at once", len(held))
	}
	if released := pendingOf(t, rdb, q, releasedConsumer); len(released) != 3 {
		t.Errorf("%d entries released; want 3", len(released))
	}
}

// The slowWrite timer set for a write that has just ended may fire as the
// next write begins: that write is not slow, and adds still wait for it.
// (Before, any write under way when the timer fired made Redis
// unavailable to adds, until a write succeeded.)
func TestSessrevStaleSlowWriteTimer(t *testing.T) {
	w := &writer{writing: true, began: time.Now()}
	w.stopWaiting()
	if w.failing {
		t.Error("a write that has just begun was taken as slow")
	}
	w.began = time.Now().Add(-slowWrite)
	w.stopWaiting()
	if !w.failing {
		t.Error("a write under way for slowWrite was not taken as slow")
	}
}
