package redisqueue

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/redis/go-redis/v9"
)

// latency is what a countingServer adds to every answer.
const latency = 5 * time.Millisecond

// countingServer counts the requests it serves, by path.
type countingServer struct {
	*httptest.Server
	mu    sync.Mutex
	paths map[string]int
	times []time.Time // start of every request
}

func newCountingServer(t testing.TB) *countingServer {
	s := &countingServer{paths: make(map[string]int)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths[r.URL.Path]++
		s.times = append(s.times, time.Now())
		s.mu.Unlock()
		time.Sleep(latency) // the server's latency, so that requests are in flight when a worker dies
		fmt.Fprint(w, r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *countingServer) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.paths))
	for k, v := range s.paths {
		m[k] = v
	}
	return m
}

func newFetcher(t testing.TB, opts ...fetch.Option) *fetch.Fetcher {
	t.Helper()
	f, err := fetch.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

func urls(base string, n int) []string {
	us := make([]string, n)
	for i := range us {
		us[i] = fmt.Sprintf("%s/u/%d", base, i)
	}
	return us
}

func pendingCount(t testing.TB, rdb redis.UniversalClient, q *Queue) int64 {
	t.Helper()
	p, err := rdb.XPending(context.Background(), q.stream, q.group).Result()
	if err != nil {
		t.Fatal(err)
	}
	return p.Count
}

// One worker fetches a list: every URL once, every entry acknowledged,
// and Add deduplicates, across calls, by the normalised URL.
func TestRunList(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	q := newQueue(t, rdb, Visibility(time.Second))
	list := urls(srv.URL, 300)
	n, err := q.Add(t.Context(), slices.Values(list))
	if err != nil || n != len(list) {
		t.Fatalf("Add = %d, %v; want %d, nil", n, err, len(list))
	}
	again := []string{strings.Replace(list[0], "http://", "HTTP://", 1), list[1] + "#frag", srv.URL + "/new"}
	if n, err := q.Add(t.Context(), slices.Values(again)); err != nil || n != 1 {
		t.Fatalf("Add of 2 known URLs and a new one = %d, %v; want 1, nil", n, err)
	}
	got := map[string]int{}
	for r := range q.Run(t.Context(), newFetcher(t)) {
		if r.Err != nil || r.ID == "" {
			t.Errorf("%s (%s): %v", r.URL, r.ID, r.Err)
		}
		got[r.URL]++
	}
	if len(got) != len(list)+1 {
		t.Errorf("got %d results; want %d", len(got), len(list)+1)
	}
	for u, c := range got {
		if c != 1 {
			t.Errorf("%s yielded %d times", u, c)
		}
	}
	for p, c := range srv.counts() {
		if c != 1 {
			t.Errorf("server: %s requested %d times", p, c)
		}
	}
	if p := pendingCount(t, rdb, q); p != 0 {
		t.Errorf("%d entries pending at the end; want 0", p)
	}
	st, err := q.Stats(t.Context())
	// Every entry is acknowledged, so deleted; every key stays seen.
	if err != nil || !st.Drained || st.Entries != 0 || st.Seen != int64(len(list)+1) {
		t.Errorf("Stats = %+v, %v; want drained, no entry left and %d keys", st, err, len(list)+1)
	}
}

// A malformed entry, added to the stream by hand, becomes an error result
// and is acknowledged; the worker goes on.
func TestMalformedEntry(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	q := newQueue(t, rdb)
	if err := q.ensureGroup(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, values := range []map[string]any{
		{"link": srv.URL + "/no-url-field"},
		{"url": srv.URL + "/bad-depth", "depth": "deep"},
		{"url": "::not a url"},
		{"url": srv.URL + "/good"},
	} {
		if err := rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: q.stream, Values: values}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var malformed, invalid, good int
	for r := range q.Run(t.Context(), newFetcher(t)) {
		switch {
		case errors.Is(r.Err, ErrMalformed):
			malformed++
		case errors.Is(r.Err, fetch.ErrInvalidURL):
			invalid++
		case r.Err == nil && r.URL == srv.URL+"/good":
			good++
		default:
			t.Errorf("unexpected result %s: %v", r.URL, r.Err)
		}
	}
	if malformed != 2 || invalid != 1 || good != 1 {
		t.Errorf("malformed %d, invalid %d, good %d; want 2, 1, 1", malformed, invalid, good)
	}
	if p := pendingCount(t, rdb, q); p != 0 {
		t.Errorf("%d entries pending at the end; want 0", p)
	}
}

// Breaking out of the loop leaves the entry it broke on, and those still
// held, to the next worker at once, without waiting for the visibility
// timeout.
func TestBreakReleases(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	q := newQueue(t, rdb, Visibility(time.Hour))
	list := urls(srv.URL, 100)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	f := newFetcher(t)
	first := map[string]bool{}
	var broke string
	for r := range q.Run(t.Context(), f) {
		if len(first) == 10 {
			broke = r.URL
			break
		}
		first[r.URL] = true
	}
	second := map[string]bool{}
	for r := range q.Run(t.Context(), f) {
		if first[r.URL] {
			t.Errorf("%s yielded again after it was acknowledged", r.URL)
		}
		second[r.URL] = true
	}
	if !second[broke] {
		t.Errorf("%s, broken on, not yielded again", broke)
	}
	if len(first)+len(second) != len(list) {
		t.Errorf("%d + %d results; want %d", len(first), len(second), len(list))
	}
}

func TestParseURL(t *testing.T) {
	opts, stream, err := ParseURL("redis://user:pw@127.0.0.1:6380/crawl:urls?db=2")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Addr != "127.0.0.1:6380" || opts.DB != 2 || opts.Username != "user" || opts.Password != "pw" || stream != "crawl:urls" {
		t.Errorf("got %s db %d user %q pw %q stream %q", opts.Addr, opts.DB, opts.Username, opts.Password, stream)
	}
	for _, bad := range []string{"redis://127.0.0.1:6379", "redis://127.0.0.1:6379/", "http://h/s", "::"} {
		if _, _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q): no error", bad)
		}
	}
}

// redisReply is an error reply of Redis, as the client returns it.
type redisReply string

func (e redisReply) Error() string { return string(e) }
func (redisReply) RedisError()     {}

// Every error reply of Redis is for good, except those that say to wait;
// an error that is not a reply (no connection) is waited out.
func TestPermanentReplies(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{redisReply("ERR DB index is out of range"), true},
		{redisReply("WRONGTYPE Operation against a key holding the wrong kind of value"), true},
		{redisReply("NOPERM this user has no permissions to run the 'xreadgroup' command"), true},
		{redisReply("ERR unknown command 'XAUTOCLAIM'"), true},
		{redisReply("MOVED 3999 127.0.0.1:6381"), true},
		{fmt.Errorf("redisqueue: creating group: %w", redisReply("ERR syntax error")), true},
		{redisReply("ERR Error running script (call to f_1): @user_script:3: user_script:3: Unknown Redis command called from Lua script"), true},
		{redisReply("LOADING Redis is loading the dataset in memory"), false},
		{redisReply("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."), false},
		{redisReply("BUSYGROUP Consumer Group name already exists"), true},
		{redisReply("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), false},
		{redisReply("TRYAGAIN Multiple keys request during rehashing of slot"), false},
		{redisReply("CLUSTERDOWN The cluster is down"), false},
		{redisReply("READONLY You can't write against a read only replica."), false},
		{redisReply("NOGROUP No such key 'urls' or consumer group 'workers'"), false},
		{redisReply("OOM command not allowed when used memory > 'maxmemory'."), false},
		{redisReply("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk."), false},
		{redisReply("ERR max number of clients reached"), false},
		{redisReply("ERR Error running script (call to f_1): @user_script:7: @user_script: 7: -READONLY You can't write against a read only replica."), false},
		{redisReply("ERR Error running script (call to f_1): @user_script:7: @user_script: 7: -ERR DB index is out of range"), true},
		{redis.Nil, false},
		{errors.New("dial tcp 127.0.0.1:6379: connect: connection refused"), false},
		{context.DeadlineExceeded, false},
	} {
		if got := permanent(tc.err); got != tc.want {
			t.Errorf("permanent(%q) = %v; want %v", tc.err, got, tc.want)
		}
	}
}

// A Result's URL is the entry's as queued, not the request's re-encoding
// of it, so that results can be joined with the list; a password in it is
// hidden, as the Fetcher hides it.
func TestRunResultURLAsQueued(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	q := newQueue(t, newClient(t, redisAddr(t)))
	want := map[string]string{
		srv.URL + "/café":                    srv.URL + "/café",
		srv.URL + "/a b?q=x y":               srv.URL + "/a b?q=x y",
		"http://user:secret@" + host + "/é":  "http://user:xxxxx@" + host + "/%C3%A9",
		"http://user:sec ret@" + host + "/é": "http://user:xxxxx@" + host + "/é",
		"not a url":                          "not a url",
	}
	if _, err := q.Add(t.Context(), maps.Keys(want)); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range runOnce(t, q, newFetcher(t)) {
		got[r.URL] = true
		if strings.Contains(r.URL, "secret") || strings.Contains(r.URL, "sec ret") {
			t.Errorf("result URL %q shows the password", r.URL)
		}
	}
	for queued, u := range want {
		if !got[u] {
			t.Errorf("queued %q: no result with URL %q in %q", queued, u, slices.Collect(maps.Keys(got)))
		}
	}
}
