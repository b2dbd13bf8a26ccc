package redisqueue

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/testsite"
)

// flakyLimiter fails, as a limiter whose store is unreachable does, for
// its first fails calls, then lets everything through.
type flakyLimiter struct{ fails atomic.Int64 }

func (l *flakyLimiter) Wait(ctx context.Context) error {
	if l.fails.Add(-1) >= 0 {
		return fetch.ErrLimiterUnavailable
	}
	return ctx.Err()
}

// A worker holding as many entries as it may, all refused by an
// unavailable limiter, hands them out again once due: it does not wait
// for an acknowledgement that cannot come.
func TestRetryWhenFull(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	q := newQueue(t, rdb, MaxHeld(2))
	list := urls(srv.URL, 5)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	lim := &flakyLimiter{}
	lim.fails.Store(4)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	got := 0
	for r := range q.Run(ctx, newFetcher(t, fetch.WithLimiter(lim))) {
		if r.Err != nil {
			t.Errorf("%s: %v", r.URL, r.Err)
		}
		got++
	}
	if ctx.Err() != nil {
		t.Fatalf("Run still running after 20s, with %d results of %d", got, len(list))
	}
	if got != len(list) {
		t.Errorf("%d results; want %d", got, len(list))
	}
}

var _ = errors.Is

// runOnce runs q for at most 10s and returns its results, failing t if it
// does not end by itself.
func runOnce(t *testing.T, q *Queue, f *fetch.Fetcher) []Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var rs []Result
	for r := range q.Run(ctx, f) {
		rs = append(rs, r)
	}
	if ctx.Err() != nil {
		t.Fatalf("Run still running after 10s, with %d results", len(rs))
	}
	return rs
}

// A Redis that refuses what the queue asks, for good (the stream's key
// holds a string; a Redis without a command it needs), is not waited for in
// silence: Run yields an error that names the problem, and returns.
func TestRunPermanentError(t *testing.T) {
	t.Run("wrong type", func(t *testing.T) {
		rdb := newClient(t, redisAddr(t))
		q := newQueue(t, rdb)
		if err := rdb.Set(t.Context(), q.stream, "not a stream", 0).Err(); err != nil {
			t.Fatal(err)
		}
		rs := runOnce(t, q, newFetcher(t))
		if len(rs) != 1 || rs[0].Err == nil || !strings.Contains(rs[0].Err.Error(), "WRONGTYPE") || !strings.Contains(rs[0].Err.Error(), q.stream) {
			t.Errorf("results %+v; want one error naming WRONGTYPE and the stream", rs)
		}
	})
	t.Run("no XPENDING", func(t *testing.T) {
		rdb := newClient(t, startRedis(t, "--rename-command", "XPENDING", "").Addr)
		srv := newCountingServer(t)
		q := newQueue(t, rdb)
		if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL, 3))); err != nil {
			t.Fatal(err)
		}
		rs := runOnce(t, q, newFetcher(t))
		if len(rs) != 1 || rs[0].Err == nil || !strings.Contains(rs[0].Err.Error(), "XPENDING") || !strings.Contains(rs[0].Err.Error(), "Redis 6.2") {
			t.Errorf("results %+v; want one error naming XPENDING and the Redis it needs", rs)
		}
	})
}

// Frontier.Add reports whether it queued the entry: false for a key any
// process has queued or marked seen before.
func TestFrontierAddReportsDuplicates(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	q := newQueue(t, rdb)
	a, b := q.Frontier(), q.Frontier() // two processes
	defer a.Close()
	defer b.Close()
	add := func(fr *Frontier, key string) bool {
		t.Helper()
		added, err := fr.Add(fetch.CrawlEntry{URL: "http://h.test/" + key, Key: key})
		if err != nil {
			t.Fatalf("Add(%s): %v", key, err)
		}
		return added
	}
	if !add(a, "one") {
		t.Error("first Add of one: added false; want true")
	}
	if add(a, "one") {
		t.Error("second Add of one, same process: added true; want false")
	}
	if add(b, "one") {
		t.Error("Add of one by another process: added true; want false")
	}
	if !b.Seen("two") {
		t.Error("first Seen of two: false; want true")
	}
	if a.Seen("two") || b.Seen("two") || a.Seen("one") {
		t.Error("Seen of a key seen or queued before, by either process: true; want false")
	}
	if add(b, "two") {
		t.Error("Add of two, marked seen before: added true; want false")
	}
	if add(a, "two") {
		t.Error("Add of two, marked seen by another process: added true; want false")
	}
	if !add(b, "three") {
		t.Error("first Add of three: added false; want true")
	}
	if added, err := a.Add(fetch.CrawlEntry{URL: "http://h.test/nokey"}); !added || err != nil {
		t.Errorf("Add without a key = %v, %v; want true, nil", added, err)
	}
	st, err := q.Stats(t.Context())
	if err != nil || st.Entries != 3 {
		t.Errorf("Stats = %+v, %v; want 3 entries", st, err)
	}
}

// CrawlMaxPages counts the pages taken in, as with the crawl's own
// frontier: links to pages seen before take no place.
func TestCrawlMaxPages(t *testing.T) {
	site, err := testsite.Start(testsite.Config{Hosts: 1, Pages: 300})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Close)
	const max = 60
	rdb := newClient(t, redisAddr(t))
	q := newQueue(t, rdb)
	c, err := fetch.NewCrawler(newFetcher(t), fetch.CrawlFrontier(q.Frontier()), fetch.CrawlMaxPages(max))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for p := range c.Run(t.Context(), site.Seed()) {
		n++
		p.Follow(p.Links()...)
	}
	if n != max {
		t.Errorf("%d pages with CrawlMaxPages(%d) on a site of %d", n, max, len(site.Expected()))
	}
}

// Stats works on a Redis that has not run the queue's scripts yet (a
// monitoring process, or after a Redis restart), and adds up.
func TestStatsFreshRedis(t *testing.T) {
	rdb := newClient(t, startRedis(t).Addr)
	q := newQueue(t, rdb)
	if _, err := q.Add(t.Context(), slices.Values([]string{"http://h.test/a", "http://h.test/b", "http://h.test/a#x"})); err != nil {
		t.Fatal(err)
	}
	st, err := q.Stats(t.Context())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if want := (Stats{Entries: 2, Seen: 2}); st != want {
		t.Errorf("Stats = %+v; want %+v", st, want)
	}
}

// Delete leaves no key behind, and Stats, which only reads, does not make
// the stream again.
func TestDeleteLeavesNothing(t *testing.T) {
	rdb := newClient(t, startRedis(t).Addr)
	srv := newCountingServer(t)
	q := newQueue(t, rdb)
	if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL, 3))); err != nil {
		t.Fatal(err)
	}
	runOnce(t, q, newFetcher(t))
	if err := q.Delete(t.Context()); err != nil {
		t.Fatal(err)
	}
	st, err := q.Stats(t.Context())
	if err != nil || st != (Stats{Drained: true}) {
		t.Errorf("Stats after Delete = %+v, %v; want nothing, drained", st, err)
	}
	if keys, err := rdb.Keys(t.Context(), "*").Result(); err != nil || len(keys) != 0 {
		t.Errorf("keys after Delete and Stats: %q, %v; want none", keys, err)
	}
}

// A crawl whose writes Redis refuses for good (the set of keys seen holds
// a string) is told so: Add fails with the reason, instead of reporting
// links queued that never are.
func TestFrontierPermanentError(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	q := newQueue(t, rdb)
	if err := rdb.Set(t.Context(), q.seen, "not a set", 0).Err(); err != nil {
		t.Fatal(err)
	}
	fr := q.Frontier()
	defer fr.Close()
	added, err := fr.Add(fetch.CrawlEntry{URL: "http://h.test/", Key: "http://h.test/"})
	if added || err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("Add = %v, %v; want false and an error naming WRONGTYPE", added, err)
	}
	_, ok, err := fr.Next(t.Context())
	if ok || err == nil {
		t.Errorf("Next = %v, %v; want false and the error", ok, err)
	}
}

// A bad queue address gets an error that names the problem and the
// address, without its password.
func TestParseURLErrors(t *testing.T) {
	for raw, want := range map[string]string{
		"redis://user:secret@host:6379/s%zz":   `invalid URL escape "%zz"`,
		"redis://user:secret@ho st:6379/s":     `invalid character " " in host name`,
		"redis://:secret@host:6379/urls?db=x":  "invalid database number",
		"redis://user:secret@host:99999/urls":  "port 99999",
		"127.0.0.1:6379/urls":                  "want redis://HOST:PORT/STREAM",
		"localhost:6379/urls":                  "want redis://HOST:PORT/STREAM",
		"redis://user:secret@host:6379/":       "no stream name",
		"redis://user:secret@h:6379/u?foo=bar": "unexpected option: foo",
	} {
		_, _, err := ParseURL(raw)
		switch {
		case err == nil:
			t.Errorf("ParseURL(%q): no error", raw)
		case strings.Contains(err.Error(), "secret"):
			t.Errorf("ParseURL(%q): the error shows the password: %v", raw, err)
		case !strings.Contains(err.Error(), want):
			t.Errorf("ParseURL(%q) = %v; want an error saying %q", raw, err, want)
		}
	}
}
