package redisqueue

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/redis/go-redis/v9"
)

// deadWorker reads every entry of q as consumer name of the group and
// never acknowledges them, as a worker that dies at once does; the entries
// are made idle past any visibility timeout, so that the next worker takes
// them over at once. It returns their IDs in stream order.
func deadWorker(t *testing.T, rdb *redis.Client, q *Queue, name string) []string {
	t.Helper()
	ctx := context.Background()
	if err := q.ensureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	streams, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: q.group, Consumer: name, Streams: []string{q.stream, ">"}, Count: 1000}).Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range streams[0].Messages {
		ids = append(ids, m.ID)
	}
	if err := rdb.XClaimJustID(ctx, &redis.XClaimArgs{Stream: q.stream, Group: q.group, Consumer: name, Messages: ids}).Err(); err != nil {
		t.Fatal(err)
	}
	setIdle(t, rdb, q, name, ids, time.Hour)
	return ids
}

// setIdle sets the idle time of entries ids, held by consumer, to idle.
func setIdle(t *testing.T, rdb *redis.Client, q *Queue, consumer string, ids []string, idle time.Duration) {
	t.Helper()
	args := []any{"XCLAIM", q.stream, q.group, consumer, 0}
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, "IDLE", idle.Milliseconds(), "JUSTID")
	if err := rdb.Do(context.Background(), args...).Err(); err != nil {
		t.Fatal(err)
	}
}

// deliveries returns how many times each entry pending with the group has
// been delivered, by ID.
func deliveries(t *testing.T, rdb *redis.Client, q *Queue) map[string]int64 {
	t.Helper()
	ps, err := rdb.XPendingExt(context.Background(), &redis.XPendingExtArgs{Stream: q.stream, Group: q.group, Start: "-", End: "+", Count: 1000}).Result()
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]int64, len(ps))
	for _, p := range ps {
		m[p.ID] = p.RetryCount
	}
	return m
}

// An entry whose fetch kills every worker that takes it (a poison entry)
// is not handed out for ever: once it has been delivered MaxDeliveries
// times without an acknowledgement, the next take-over sets it aside in
// the dead-letter stream, unfetched, and Run reports it; the other entries
// a dead worker held are fetched as usual.
func TestDeliveryLimitSetsPoisonAside(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	q := newQueue(t, rdb, MaxDeliveries(2), Visibility(time.Second))
	list := urls(srv.URL, 3)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	ids := deadWorker(t, rdb, q, "dead/1")
	// The first entry has killed a worker once already: this is its
	// second delivery, and the take-over would be its third.
	poison := ids[0]
	if err := rdb.Do(t.Context(), "XCLAIM", q.stream, q.group, "dead/1", 0, poison, "IDLE", time.Hour.Milliseconds(), "RETRYCOUNT", 2, "JUSTID").Err(); err != nil {
		t.Fatal(err)
	}

	rs := runOnce(t, q, newFetcher(t))
	if len(rs) != 3 {
		t.Fatalf("%d results; want 3: %+v", len(rs), rs)
	}
	for _, r := range rs {
		if r.ID == poison {
			if !errors.Is(r.Err, ErrDeliveryLimit) || r.URL != list[0] || !strings.Contains(r.Err.Error(), q.dead) {
				t.Errorf("poison entry: URL %q, Err %v; want %q with an error matching ErrDeliveryLimit naming %q", r.URL, r.Err, list[0], q.dead)
			}
			continue
		}
		if r.Err != nil || !r.Reclaimed {
			t.Errorf("%s (%s): reclaimed %v, Err %v; want fetched after its take-over", r.ID, r.URL, r.Reclaimed, r.Err)
		}
	}
	if c := srv.counts()["/u/0"]; c != 0 {
		t.Errorf("poison entry's URL requested %d times; want 0", c)
	}
	dead, err := rdb.XRange(t.Context(), q.dead, "-", "+").Result()
	if err != nil || len(dead) != 1 || dead[0].Values["id"] != poison || dead[0].Values["url"] != list[0] || dead[0].Values["deliveries"] != "2" {
		t.Errorf("dead-letter stream: %+v, %v; want the poison entry, its ID and 2 deliveries", dead, err)
	}
	st, err := q.Stats(t.Context())
	if err != nil || st.Dead != 1 || st.Pending != 0 || !st.Drained {
		t.Errorf("Stats = %+v, %v; want 1 dead, none pending, drained", st, err)
	}
}

// An entry a worker releases unharmed (its Run ends, or breaks out of the
// loop, while holding it) does not count toward the delivery limit: with
// MaxDeliveries(1), the worker that takes it next fetches it.
func TestReleaseDoesNotCountAsDelivery(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	const n = 20
	q := newQueue(t, rdb, MaxDeliveries(1), Visibility(time.Second))
	if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL, n))); err != nil {
		t.Fatal(err)
	}
	var first Result
	for r := range q.Run(t.Context(), newFetcher(t)) {
		first = r // break holding the others
		break
	}
	if first.Err != nil {
		t.Fatalf("first result: %v", first.Err)
	}
	for id, c := range deliveries(t, rdb, q) {
		if c != 0 {
			t.Errorf("released entry %s: %d deliveries counted; want 0", id, c)
		}
	}
	rs := runOnce(t, q, newFetcher(t))
	got := 0
	for _, r := range rs {
		if r.Err != nil {
			t.Errorf("%s: %v", r.URL, r.Err)
		}
		got++
	}
	// The first worker's last result was not acknowledged: it comes again.
	if got != n && got != n-1 {
		t.Errorf("%d results from the second worker; want %d or %d", got, n-1, n)
	}
}

// Acknowledged entries are deleted from the stream; an entry pending with
// any group, or not yet delivered to one, never is.
func TestTrimDeletesOnlyWhatEveryGroupAcknowledged(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	ctx := t.Context()
	q := newQueue(t, rdb)
	if _, err := q.Add(ctx, slices.Values(urls("http://a.test", 6))); err != nil {
		t.Fatal(err)
	}
	if err := q.ensureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	read := func(group string, n int64) []string {
		streams, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "c", Streams: []string{q.stream, ">"}, Count: n}).Result()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range streams[0].Messages {
			ids = append(ids, m.ID)
		}
		return ids
	}
	trim := func() []string {
		if err := trimScript.Run(ctx, rdb, []string{q.stream}).Err(); err != nil {
			t.Fatal(err)
		}
		ms, err := rdb.XRange(ctx, q.stream, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, m := range ms {
			left = append(left, m.ID)
		}
		return left
	}
	ids := read(q.group, 4) // 1 to 4 delivered; 5 and 6 not
	rest, err := rdb.XRange(ctx, q.stream, "-", "+").Result()
	if len(ids) != 4 || err != nil || len(rest) != 6 {
		t.Fatalf("read %d entries of %d (%v); want 4 of 6", len(ids), len(rest), err)
	}
	if err := rdb.XAck(ctx, q.stream, q.group, ids[0], ids[1], ids[3]).Err(); err != nil {
		t.Fatal(err)
	}
	// 3 is pending: only 1 and 2 go.
	if left, want := trim(), []string{ids[2], ids[3], rest[4].ID, rest[5].ID}; !slices.Equal(left, want) {
		t.Errorf("after acknowledging 1, 2 and 4: left %v; want %v", left, want)
	}
	if err := rdb.XAck(ctx, q.stream, q.group, ids[2]).Err(); err != nil {
		t.Fatal(err)
	}
	// 5 and 6 were never delivered: they stay.
	if left, want := trim(), []string{rest[4].ID, rest[5].ID}; !slices.Equal(left, want) {
		t.Errorf("after acknowledging 3: left %v; want %v", left, want)
	}
	// A second group that has had nothing delivered keeps everything.
	if err := rdb.XGroupCreate(ctx, q.stream, "late", "0").Err(); err != nil {
		t.Fatal(err)
	}
	read(q.group, 2)
	if err := rdb.XAck(ctx, q.stream, q.group, rest[4].ID, rest[5].ID).Err(); err != nil {
		t.Fatal(err)
	}
	if left, want := trim(), []string{rest[4].ID, rest[5].ID}; !slices.Equal(left, want) {
		t.Errorf("with a group that has read nothing: left %v; want %v", left, want)
	}
}

// With KeepAcknowledged, a drained queue still holds every entry.
func TestKeepAcknowledged(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	for _, keep := range []bool{false, true} {
		var opts []Option
		if keep {
			opts = append(opts, KeepAcknowledged())
		}
		q := newQueue(t, rdb, opts...)
		if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL, 10))); err != nil {
			t.Fatal(err)
		}
		runOnce(t, q, newFetcher(t))
		want := int64(0)
		if keep {
			want = 10
		}
		if st, err := q.Stats(t.Context()); err != nil || st.Entries != want || !st.Drained {
			t.Errorf("KeepAcknowledged %v: Stats = %+v, %v; want %d entries, drained", keep, st, err, want)
		}
	}
}

// In a crawl, an entry set aside is a page with that error, unfetched; the
// Frontier logs it too, and the crawl fetches the rest and ends.
func TestFrontierReportsPoison(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	var logs strings.Builder
	q := newQueue(t, rdb, MaxDeliveries(1), Visibility(time.Second), Logger(slog.New(slog.NewTextHandler(&logs, nil))))
	list := urls(srv.URL, 3)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	ids := deadWorker(t, rdb, q, "dead/1") // delivered once each
	if err := rdb.Do(t.Context(), "XCLAIM", q.stream, q.group, "dead/1", 0, ids[0], "IDLE", time.Hour.Milliseconds(), "RETRYCOUNT", 1, "JUSTID").Err(); err != nil {
		t.Fatal(err)
	}
	// The others: released by a worker that stopped, so not counted.
	if err := rdb.Do(t.Context(), "XCLAIM", q.stream, q.group, "dead/1", 0, ids[1], ids[2], "IDLE", time.Hour.Milliseconds(), "RETRYCOUNT", 0, "JUSTID").Err(); err != nil {
		t.Fatal(err)
	}
	c, err := fetch.NewCrawler(newFetcher(t), fetch.CrawlFrontier(q.Frontier()), fetch.CrawlIgnoreRobots())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var pages []string
	for p := range c.Run(ctx) {
		if p.URL == list[0] {
			if !errors.Is(p.Err, ErrDeliveryLimit) || p.Status != 0 {
				t.Errorf("poison page: status %d, Err %v; want no status and an error matching ErrDeliveryLimit", p.Status, p.Err)
			}
			continue
		}
		if p.Err != nil {
			t.Errorf("%s: %v", p.URL, p.Err)
		}
		pages = append(pages, p.URL)
	}
	if ctx.Err() != nil {
		t.Fatalf("crawl still running after 10s, with pages %v", pages)
	}
	slices.Sort(pages)
	if !slices.Equal(pages, list[1:]) {
		t.Errorf("pages %v; want %v", pages, list[1:])
	}
	if n := srv.counts()["/u/0"]; n != 0 {
		t.Errorf("poison entry's URL requested %d times; want 0", n)
	}
	if !strings.Contains(logs.String(), "entry set aside") || !strings.Contains(logs.String(), list[0]) {
		t.Errorf("log %q; want the entry set aside, with its URL", logs.String())
	}
	if st, err := q.Stats(t.Context()); err != nil || st.Dead != 1 || !st.Drained {
		t.Errorf("Stats = %+v, %v; want 1 dead, drained", st, err)
	}
}

// A panic in a loop body, whether Run's or a crawl's, counts the delivery
// of the entry it panicked on, as a worker's death would: its delivery
// count is not taken back when the entries still held are released (theirs
// are).
func TestPanicCountsDelivery(t *testing.T) {
	for _, crawl := range []bool{false, true} {
		name := "Run"
		if crawl {
			name = "crawl"
		}
		t.Run(name, func(t *testing.T) {
			rdb := newClient(t, redisAddr(t))
			srv := newCountingServer(t)
			q := newQueue(t, rdb, Visibility(time.Second))
			list := urls(srv.URL, 20)
			if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
				t.Fatal(err)
			}
			poison := list[0]
			func() {
				defer func() {
					if v := recover(); v != "poison" {
						t.Errorf("recovered %v; want the loop body's panic", v)
					}
				}()
				if crawl {
					c, err := fetch.NewCrawler(newFetcher(t, fetch.WithConcurrency(1)), fetch.CrawlFrontier(q.Frontier()), fetch.CrawlIgnoreRobots())
					if err != nil {
						t.Fatal(err)
					}
					for p := range c.Run(t.Context()) {
						if p.URL == poison {
							panic("poison")
						}
					}
				} else {
					for r := range q.Run(t.Context(), newFetcher(t, fetch.WithConcurrency(1))) {
						if r.URL == poison {
							panic("poison")
						}
					}
				}
			}()
			id := firstID(t, rdb, q, poison)
			counts := deliveries(t, rdb, q)
			if counts[id] != 1 {
				t.Errorf("poison entry's delivery count %d after the panic; want 1", counts[id])
			}
			for other, n := range counts {
				if other != id && n != 0 {
					t.Errorf("entry %s, released unharmed: delivery count %d; want 0", other, n)
				}
			}
		})
	}
}

// A consumer group that vanishes while a worker runs (Redis restarted
// without persistence, or the stream deleted) is not a queue drained:
// Run's last result says the entries were lost.
func TestGroupLostIsReported(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	q := newQueue(t, rdb, Visibility(time.Second))
	list := urls(srv.URL, 20)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	var last Result
	n := 0
	for r := range q.Run(t.Context(), newFetcher(t, fetch.WithConcurrency(1))) {
		if n == 0 {
			// What a Redis restarted empty does to the queue.
			if err := rdb.Del(t.Context(), q.stream).Err(); err != nil {
				t.Fatal(err)
			}
		}
		n++
		last = r
	}
	if !errors.Is(last.Err, ErrGroupLost) || last.ID != "" {
		t.Errorf("last of %d results: ID %q, Err %v; want no ID and an error matching ErrGroupLost", n, last.ID, last.Err)
	}
}

// The consumers of workers that died are removed from the group once they
// hold nothing and have been silent long enough; one that holds entries
// never is, however long silent.
func TestForgetRemovesOnlySilentEmptyConsumers(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	ctx := t.Context()
	q := newQueue(t, rdb)
	if _, err := q.Add(ctx, slices.Values([]string{"http://a.test/1", "http://a.test/2"})); err != nil {
		t.Fatal(err)
	}
	held := deadWorker(t, rdb, q, "holder")
	if err := rdb.XGroupCreateConsumer(ctx, q.stream, q.group, "empty").Err(); err != nil {
		t.Fatal(err)
	}
	n, err := forgetScript.Run(ctx, rdb, []string{q.stream}, q.group, 0).Int()
	if err != nil {
		t.Fatal(err)
	}
	if got := consumerNames(t, rdb, q); n != 1 || !slices.Equal(got, []string{"holder"}) {
		t.Errorf("after forget: removed %d, consumers %q; want 1 removed, [holder] left", n, got)
	}
	if got := deliveries(t, rdb, q); len(got) != len(held) {
		t.Errorf("pending after forget: %v; want %d entries, still held", got, len(held))
	}
	// A group that does not exist: nothing to do, no error.
	if n, err := forgetScript.Run(ctx, rdb, []string{q.stream}, "no-such-group", 0).Int(); err != nil || n != 0 {
		t.Errorf("forget on a missing group: %d, %v; want 0, nil", n, err)
	}
}

// A worker that dies leaves its consumer in the group; a live worker takes
// its entries over and, once the dead consumer has been silent for
// forgetAfter visibility timeouts, removes it.
func TestDeadWorkersConsumerIsRemoved(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	const visibility = 100 * time.Millisecond
	q := newQueue(t, rdb, Visibility(visibility), Follow())
	if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL, 5))); err != nil {
		t.Fatal(err)
	}
	deadWorker(t, rdb, q, "dead")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	results := 0
	for r := range q.Run(ctx, newFetcher(t)) {
		if r.Err != nil {
			t.Errorf("%s: %v", r.URL, r.Err)
		}
		results++
		if results < 5 {
			continue
		}
		// Every entry taken over: wait, with the worker running, for the
		// dead consumer to go.
		for slices.Contains(consumerNames(t, rdb, q), "dead") {
			select {
			case <-ctx.Done():
				t.Fatalf("the dead worker's consumer is still in the group after %v: %q", 30*time.Second, consumerNames(t, rdb, q))
			case <-time.After(visibility):
			}
		}
		break
	}
	if results != 5 {
		t.Errorf("%d results; want 5", results)
	}
}

// consumerNames lists the group's consumers.
func consumerNames(t *testing.T, rdb *redis.Client, q *Queue) []string {
	t.Helper()
	cs, err := rdb.XInfoConsumers(context.Background(), q.stream, q.group).Result()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}

// A dead worker's entries are taken over one at a time, each as soon as
// the one before it has been acknowledged, not a poll later: 64 of them
// are all fetched within 16 polls, and the worker that takes them over
// never holds two of them at once.
func TestTakeOverNextOnAcknowledgement(t *testing.T) {
	const n = 64
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	q := newQueue(t, rdb)
	if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL, n))); err != nil {
		t.Fatal(err)
	}
	deadWorker(t, rdb, q, "dead/1")
	limit := n * q.cfg.poll / 4
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	start := time.Now()
	got := 0
	for r := range q.Run(ctx, newFetcher(t)) {
		if r.Err != nil || !r.Reclaimed {
			t.Errorf("%s: reclaimed %v, Err %v; want fetched after its take-over", r.URL, r.Reclaimed, r.Err)
		}
		got++
		ps, err := rdb.XPendingExt(t.Context(), &redis.XPendingExtArgs{Stream: q.stream, Group: q.group, Start: "-", End: "+", Count: n}).Result()
		if err != nil {
			t.Fatal(err)
		}
		taken := 0
		for _, p := range ps {
			if p.Consumer != "dead/1" {
				taken++
			}
		}
		if taken > 1 {
			t.Errorf("after %d results: %d entries taken over and not acknowledged; want 1 at a time", got, taken)
		}
	}
	elapsed := time.Since(start)
	t.Logf("%d entries of a dead worker taken over and fetched in %v (poll %v)", got, elapsed.Round(time.Millisecond), q.cfg.poll)
	if got != n {
		t.Errorf("%d of %d entries fetched in %v; want all within %v, a quarter of a poll each", got, n, elapsed.Round(time.Millisecond), limit)
	}
}
