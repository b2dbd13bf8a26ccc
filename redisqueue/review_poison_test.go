package redisqueue

// A review of the delivery limit (MaxDeliveries, the dead-letter stream)
// and of the trimming of acknowledged entries, from an operator's side:
// poison entries that really kill their workers, in and out of process,
// and the edge cases around them.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// reviewWorkerHeader names, in each request, the in-process worker that
// sent it, so that the server can "kill" that worker.
const reviewWorkerHeader = "X-Review-Worker"

// poisonServer counts the requests for each path; a request for the
// poison path kills the worker that sent it (see crashRound), never gets
// an answer, and is signalled on hits.
type poisonServer struct {
	*httptest.Server
	poison string
	mu     sync.Mutex
	paths  map[string]int
	crash  map[string]func() // by worker name (reviewWorkerHeader)
	hits   chan struct{}
	quit   chan struct{}
}

func newPoisonServer(t *testing.T, poison string) *poisonServer {
	t.Helper()
	s := &poisonServer{poison: poison, paths: map[string]int{}, crash: map[string]func(){},
		hits: make(chan struct{}, 64), quit: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths[r.URL.Path]++
		crash := s.crash[r.Header.Get(reviewWorkerHeader)]
		s.mu.Unlock()
		if r.URL.Path != s.poison {
			time.Sleep(latency) // the server's latency, so that requests are in flight
			fmt.Fprint(w, r.URL.Path)
			return
		}
		select {
		case s.hits <- struct{}{}:
		default:
		}
		if crash != nil {
			crash()
		}
		select { // the worker is dead: its connection goes
		case <-r.Context().Done():
		case <-s.quit:
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.quit) }) // before Close, which waits for handlers
	return s
}

func (s *poisonServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paths[path]
}

// round is what one worker of a crash loop did.
type round struct {
	results []Result // yielded before it died
	crashed bool
}

// crashRound runs one in-process worker, as consumer name, with a Redis
// client of its own, until the queue is drained or its fetch of the
// poison kills it. Killing it is what a crash does to Redis: its client is
// closed at once, in the middle of the fetch, so it neither acknowledges
// nor releases anything from then on (Run's own release, which a normal
// return makes, fails), and its renewals stop. Results yielded after that
// are dropped: a dead process yields nothing.
func crashRound(t *testing.T, addr, stream, group, name string, srv *poisonServer, fopts []fetch.Option, opts ...Option) round {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1})
	defer rdb.Close()
	q, err := New(rdb, stream, group, append([]Option{Consumer(name), FlushTimeout(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var died atomic.Bool
	srv.mu.Lock()
	srv.crash[name] = func() {
		died.Store(true)
		rdb.Close()
		cancel()
	}
	srv.mu.Unlock()
	f := newFetcher(t, append(slices.Clone(fopts), fetch.WithHeader(reviewWorkerHeader, name))...)
	var rd round
	for r := range q.Run(ctx, f) {
		if died.Load() {
			continue
		}
		rd.results = append(rd.results, r)
	}
	rd.crashed = died.Load()
	if !rd.crashed && ctx.Err() != nil {
		t.Fatalf("worker %s neither died nor ended after 30s (%d results)", name, len(rd.results))
	}
	return rd
}

// crashLoop runs workers one after another, each killed by the poison,
// until one ends because the queue is drained; at most limit of them. It
// calls between after each crash. It returns every result yielded and
// how many workers died.
func crashLoop(t *testing.T, addr string, q *Queue, srv *poisonServer, limit int, between func(), fopts []fetch.Option, opts ...Option) ([]Result, int) {
	t.Helper()
	var all []Result
	crashes := 0
	for i := range limit {
		rd := crashRound(t, addr, q.stream, q.group, fmt.Sprintf("r%d", i), srv, fopts, opts...)
		all = append(all, rd.results...)
		if !rd.crashed {
			return all, crashes
		}
		crashes++
		if between != nil {
			between()
		}
	}
	t.Fatalf("%d workers died and the queue is not drained: the poison is still handed out", crashes)
	return nil, 0
}

// deadRecords reads the dead-letter stream.
func deadRecords(t *testing.T, rdb redis.UniversalClient, q *Queue) []redis.XMessage {
	t.Helper()
	ms, err := rdb.XRange(context.Background(), q.dead, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// checkPoisonOutcome checks what a poison run must leave: the poison set
// aside once, reported once with ErrDeliveryLimit, after at most max
// deliveries; every other URL fetched and reported exactly once; the
// queue drained and empty.
func checkPoisonOutcome(t *testing.T, rdb redis.UniversalClient, q *Queue, srv *poisonServer, list []string, poisonURL string, results []Result, max int) {
	t.Helper()
	ok := map[string]int{}
	limited := map[string]int{}
	for _, r := range results {
		switch {
		case errors.Is(r.Err, ErrDeliveryLimit):
			limited[r.URL]++
			if r.ID == "" || !strings.Contains(r.Err.Error(), q.dead) {
				t.Errorf("set-aside result %+v: want its ID and the dead-letter stream named", r)
			}
		case r.Err != nil:
			t.Errorf("%s: %v", r.URL, r.Err)
		default:
			ok[r.URL]++
		}
	}
	if limited[poisonURL] != 1 {
		t.Errorf("poison %s reported with ErrDeliveryLimit %d times; want once", poisonURL, limited[poisonURL])
	}
	if n := srv.count(srv.poison); n < 1 || n > max {
		t.Errorf("poison requested %d times; want 1 to %d (MaxDeliveries)", n, max)
	}
	var collateral []string
	for _, u := range list {
		if u == poisonURL {
			continue
		}
		path := strings.TrimPrefix(u, srv.URL)
		if limited[u] > 0 {
			collateral = append(collateral, fmt.Sprintf("%s (requested %d times)", path, srv.count(path)))
			continue
		}
		if ok[u] != 1 || srv.count(path) != 1 {
			t.Errorf("%s: %d results, requested %d times; want 1 and 1", u, ok[u], srv.count(path))
		}
	}
	if len(collateral) > 0 {
		t.Errorf("%d innocent entries set aside with the poison: %v", len(collateral), collateral)
	}
	dead := deadRecords(t, rdb, q)
	if len(dead) != 1 || dead[0].Values["url"] != poisonURL {
		urls := make([]any, len(dead))
		for i, m := range dead {
			urls[i] = m.Values["url"]
		}
		t.Errorf("dead-letter stream holds %d entries %v; want only the poison %s", len(dead), urls, poisonURL)
	}
	st, err := q.Stats(context.Background())
	if err != nil || st.Pending != 0 || !st.Drained || st.Entries != 0 || st.Dead != int64(len(dead)) {
		t.Errorf("Stats = %+v, %v; want none pending, drained, no entry left, %d dead", st, err, len(dead))
	}
}

// The real poison scenario, in process: a worker that fetches the poison
// dies (its Redis connection is gone in the middle of the fetch), again
// and again. With MaxHeld(1) it holds nothing else when it dies. With the
// default limit of 5, five workers die, the sixth sets the poison aside
// and reports it once, every other URL is fetched exactly once, and the
// queue drains and is left empty.
func TestReviewPoisonCrashLoop(t *testing.T) {
	addr := redisAddr(t)
	rdb := newClient(t, addr)
	q := newQueue(t, rdb)
	srv := newPoisonServer(t, "/u/7")
	list := urls(srv.URL, 20)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	results, crashes := crashLoop(t, addr, q, srv, 10, nil, nil, MaxHeld(1), Visibility(200*time.Millisecond))
	if crashes != DefaultMaxDeliveries {
		t.Errorf("%d workers died; want %d (DefaultMaxDeliveries)", crashes, DefaultMaxDeliveries)
	}
	checkPoisonOutcome(t, rdb, q, srv, list, list[7], results, DefaultMaxDeliveries)
	for _, r := range results {
		if errors.Is(r.Err, ErrDeliveryLimit) && !strings.Contains(r.Err.Error(), fmt.Sprintf("handed out %d times", DefaultMaxDeliveries)) {
			t.Errorf("error %q; want it to say the entry was handed out %d times", r.Err, DefaultMaxDeliveries)
		}
	}
	if d := deadRecords(t, rdb, q); len(d) == 1 && d[0].Values["deliveries"] != fmt.Sprint(DefaultMaxDeliveries) {
		t.Errorf("dead record %v; want %d deliveries", d[0].Values, DefaultMaxDeliveries)
	}
}

// Redis (durable: an append-only file written before every answer) is
// killed and started again after every worker's death, between the
// delivery and the take-over: the delivery counts survive the restart,
// and the poison is set aside after MaxDeliveries(2) deaths, as without
// restarts.
func TestReviewPoisonAcrossRedisRestart(t *testing.T) {
	rs := startDurableRedis(t)
	rdb := newClient(t, rs.Addr)
	q := newQueue(t, rdb)
	srv := newPoisonServer(t, "/u/3")
	list := urls(srv.URL, 8)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	restart := func() {
		rs.Stop()
		if err := rs.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	results, crashes := crashLoop(t, rs.Addr, q, srv, 6, restart, nil, MaxHeld(1), MaxDeliveries(2), Visibility(200*time.Millisecond))
	if crashes != 2 {
		t.Errorf("%d workers died; want 2 (MaxDeliveries(2))", crashes)
	}
	checkPoisonOutcome(t, rdb, q, srv, list, list[3], results, 2)
}

// A worker dies while holding the poison and other entries it has not
// even started to fetch (one request at a time; the poison comes first).
// Those entries did not kill anybody: they must not be set aside with the
// poison, and must each be fetched once.
func TestReviewPoisonCollateral(t *testing.T) {
	addr := redisAddr(t)
	rdb := newClient(t, addr)
	q := newQueue(t, rdb)
	srv := newPoisonServer(t, "/u/0")
	list := urls(srv.URL, 4)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	fopts := []fetch.Option{fetch.WithConcurrency(1), fetch.WithHostConcurrency(1)}
	results, crashes := crashLoop(t, addr, q, srv, 6, nil, fopts, MaxHeld(4), MaxDeliveries(2), Visibility(200*time.Millisecond))
	srv.mu.Lock()
	t.Logf("%d workers died; requests per path %v", crashes, srv.paths)
	srv.mu.Unlock()
	checkPoisonOutcome(t, rdb, q, srv, list, list[0], results, 2)
}

// reviewPanicEnv makes TestReviewPanicWorker a worker process (see
// TestReviewPoisonPanic): it holds the Redis address.
const reviewPanicEnv = "REVIEW_POISON_PANIC_REDIS"

// A worker process whose loop body panics on the poison's result (the
// panic is not recovered: the process dies with it), and otherwise writes
// each result to RQ_OUT. It does nothing unless reviewPanicEnv is set.
func TestReviewPanicWorker(t *testing.T) {
	addr := os.Getenv(reviewPanicEnv)
	if addr == "" {
		t.Skip("a worker process of TestReviewPoisonPanic")
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer rdb.Close()
	q, err := New(rdb, os.Getenv("RQ_STREAM"), os.Getenv("RQ_GROUP"), Consumer(os.Getenv("RQ_CONSUMER")),
		MaxHeld(1), Visibility(200*time.Millisecond), MaxDeliveries(2))
	if err != nil {
		t.Fatal(err)
	}
	f, err := fetch.New()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	out, err := os.OpenFile(os.Getenv("RQ_OUT"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	sink := NewSink(out)
	poison := os.Getenv("RQ_SEED")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for r := range q.Run(ctx, f) {
		if r.URL == poison && r.Err == nil {
			panic("poison: " + r.URL) // say, a parser that cannot take this page
		}
		if err := sink.Write(r); err != nil {
			t.Fatal(err)
		}
	}
}

// The commonest way a poison entry kills a Go worker is a panic while its
// result is handled: the loop body of Run panics and the process dies.
// That worker died holding the entry; after MaxDeliveries such deaths the
// entry must be set aside. Worker processes run one after another, each
// dying of the panic, at most MaxDeliveries+2 of them.
func TestReviewPoisonPanic(t *testing.T) {
	addr := redisAddr(t)
	rdb := newClient(t, addr)
	q := newQueue(t, rdb, MaxDeliveries(2))
	srv := newPoisonServer(t, "") // answers every path: the loop body kills
	list := urls(srv.URL, 3)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var counts []int64
	crashes := 0
	for i := range 4 {
		out := filepath.Join(dir, fmt.Sprintf("p%d.jsonl", i))
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestReviewPanicWorker$")
		cmd.Env = append(os.Environ(), reviewPanicEnv+"="+addr, "RQ_STREAM="+q.stream, "RQ_GROUP="+q.group,
			fmt.Sprintf("RQ_CONSUMER=p%d", i), "RQ_OUT="+out, "RQ_SEED="+list[1])
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		err := cmd.Run()
		cancel()
		if err == nil {
			break // drained
		}
		if !strings.Contains(stderr.String(), "panic: poison") {
			t.Fatalf("worker %d: %v\n%s", i, err, stderr.Bytes())
		}
		crashes++
		counts = append(counts, deliveries(t, rdb, q)[firstID(t, rdb, q, list[1])])
	}
	t.Logf("%d worker processes died of the poison; its delivery count after each death: %v; requested %d times",
		crashes, counts, srv.count("/u/1"))
	if crashes > 2 {
		t.Errorf("%d workers died of the poison; want at most 2 (MaxDeliveries(2))", crashes)
	}
	if d := deadRecords(t, rdb, q); len(d) != 1 {
		t.Errorf("dead-letter stream holds %d entries; want the poison", len(d))
	}
}

// firstID is the ID of the entry of q holding u.
func firstID(t *testing.T, rdb *redis.Client, q *Queue, u string) string {
	t.Helper()
	ms, err := rdb.XRange(context.Background(), q.stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Values["url"] == u {
			return m.ID
		}
	}
	return ""
}

// The poison scenario with real worker processes (the "list" worker of
// kill_test.go: MaxHeld(64), 8 requests to a host at a time, the default
// MaxDeliveries), one at a time, each killed with SIGKILL as soon as it
// requests the poison. At most 5 die; the poison is set aside and
// reported once; every other URL is fetched, more than once only if a
// killed worker held it, and none is set aside; the queue drains.
func TestReviewPoisonKilledProcesses(t *testing.T) {
	const total, poison = 400, 5
	addr := redisAddr(t)
	rdb := newClient(t, addr)
	q := newQueue(t, rdb)
	srv := newPoisonServer(t, fmt.Sprintf("/u/%d", poison))
	list := urls(srv.URL, total)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	s := workerSettings{Redis: addr, Stream: q.stream, Group: q.group, RateKey: q.stream + ":rate",
		Rate: 100_000, Burst: 1000, Visibility: 500 * time.Millisecond}
	dir := t.TempDir()
	var files []string
	heldByKilled := map[string]bool{}
	killed, finished := 0, false
	for i := 0; i < 10 && !finished; i++ {
		for len(srv.hits) > 0 {
			<-srv.hits
		}
		s.Consumer, s.Out = fmt.Sprintf("k%d", i), filepath.Join(dir, fmt.Sprintf("k%d.jsonl", i))
		files = append(files, s.Out)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = s.env("list")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-srv.hits:
			cmd.Process.Kill()
			<-done
			killed++
			for _, u := range pendingOf(t, rdb, q, s.Consumer+"/1") {
				heldByKilled[u] = true
			}
		case err := <-done:
			if err != nil {
				t.Fatalf("worker %d: %v\n%s", i, err, stderr.Bytes())
			}
			finished = true
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("worker %d neither requested the poison nor ended in 60s", i)
		}
	}
	if !finished {
		t.Fatalf("%d workers killed and the queue is not drained", killed)
	}
	var recs []Record
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for line := range bytes.Lines(b) {
			var r Record
			if json.Unmarshal(line, &r) == nil {
				recs = append(recs, r)
			}
		}
	}
	limited, fetched := map[string]int{}, map[string]int{}
	for _, r := range recs {
		if strings.Contains(r.Error, ErrDeliveryLimit.Error()) {
			limited[r.URL]++
		} else if r.Error == "" && r.Status == 200 {
			fetched[r.URL]++
		}
	}
	var collateral []string
	for i, u := range list {
		path := strings.TrimPrefix(u, srv.URL)
		switch {
		case i == poison:
		case limited[u] > 0:
			collateral = append(collateral, fmt.Sprintf("%s(requested %d)", path, srv.count(path)))
		case fetched[u] == 0:
			t.Errorf("%s: no result", u)
		case srv.count(path) > 1 && !heldByKilled[u]:
			t.Errorf("%s requested %d times; no killed worker held it", u, srv.count(path))
		}
	}
	t.Logf("%d workers killed; poison requested %d times; %d entries held by killed workers", killed, srv.count(srv.poison), len(heldByKilled))
	if killed > DefaultMaxDeliveries || limited[list[poison]] != 1 {
		t.Errorf("%d workers killed, poison reported %d times; want at most %d, once", killed, limited[list[poison]], DefaultMaxDeliveries)
	}
	if len(collateral) > 0 {
		t.Errorf("%d innocent entries set aside with the poison: %v", len(collateral), collateral)
	}
	st, err := q.Stats(t.Context())
	if err != nil || st.Pending != 0 || !st.Drained || st.Entries != 0 || st.Dead != 1 {
		t.Errorf("Stats = %+v, %v; want none pending, drained, no entry left, 1 dead", st, err)
	}
}

// With MaxDeliveries(0) there is no limit: an entry delivered 100 times
// is still handed out and fetched; nothing is set aside. A negative limit
// is refused.
func TestReviewMaxDeliveriesZero(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	if _, err := New(rdb, "x", "g", MaxDeliveries(-1)); err == nil {
		t.Error("MaxDeliveries(-1) accepted")
	}
	srv := newCountingServer(t)
	q := newQueue(t, rdb, MaxDeliveries(0), Visibility(time.Second))
	list := urls(srv.URL, 3)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	ids := deadWorker(t, rdb, q, "dead/1")
	if err := rdb.Do(t.Context(), "XCLAIM", q.stream, q.group, "dead/1", 0, ids[0], "IDLE", time.Hour.Milliseconds(), "RETRYCOUNT", 100, "JUSTID").Err(); err != nil {
		t.Fatal(err)
	}
	rs := runOnce(t, q, newFetcher(t))
	if len(rs) != 3 {
		t.Fatalf("%d results; want 3", len(rs))
	}
	for _, r := range rs {
		if r.Err != nil {
			t.Errorf("%s: %v", r.URL, r.Err)
		}
	}
	if st, err := q.Stats(t.Context()); err != nil || st.Dead != 0 || !st.Drained || st.Entries != 0 {
		t.Errorf("Stats = %+v, %v; want nothing dead, drained, no entry left", st, err)
	}
}

// Two consumer groups read one stream (a fetching pipeline and, say, an
// archiver). The fetchers finish first and trim as they stop; the
// archiver, which has read half the stream and acknowledged part of it,
// loses nothing: afterwards it fetches the rest, each URL once, and the
// stream ends empty.
func TestReviewTrimWithSecondGroup(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	ctx := t.Context()
	q := newQueue(t, rdb, Visibility(time.Second))
	list := urls(srv.URL, 40)
	if _, err := q.Add(ctx, slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	arch, err := New(rdb, q.stream, "archive", Visibility(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := arch.ensureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	// The archiver has had 20 delivered and acknowledged 10 (as
	// "archive-dead/1", which then died; idle past its timeout).
	streams, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "archive", Consumer: "archive-dead/1", Streams: []string{q.stream, ">"}, Count: 20}).Result()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range streams[0].Messages {
		got = append(got, m.ID)
	}
	if err := rdb.XAck(ctx, q.stream, "archive", got[:10]...).Err(); err != nil {
		t.Fatal(err)
	}
	setIdleGroup(t, rdb, q.stream, "archive", "archive-dead/1", got[10:], time.Hour)

	if rs := runOnce(t, q, newFetcher(t)); len(rs) != len(list) {
		t.Fatalf("fetchers: %d results; want %d", len(rs), len(list))
	}
	left, err := rdb.XLen(ctx, q.stream).Result()
	if err != nil || left != 30 {
		t.Errorf("after the fetchers: %d entries left, %v; want 30 (from the archiver's oldest pending)", left, err)
	}
	rs := runOnce(t, arch, newFetcher(t))
	byURL := map[string]int{}
	for _, r := range rs {
		if r.Err != nil {
			t.Errorf("archiver: %s: %v", r.URL, r.Err)
		}
		byURL[r.URL]++
	}
	for i, u := range list {
		want := 1
		if i < 10 {
			want = 0 // acknowledged by the archiver before
		}
		if byURL[u] != want {
			t.Errorf("archiver: %s yielded %d times; want %d", u, byURL[u], want)
		}
	}
	for _, g := range []*Queue{q, arch} {
		if st, err := g.Stats(ctx); err != nil || st.Entries != 0 || !st.Drained || st.Pending != 0 {
			t.Errorf("group %s: Stats = %+v, %v; want no entry left, drained", g.group, st, err)
		}
	}
}

// setIdleGroup sets the idle time of entries ids of group, held by
// consumer, to idle.
func setIdleGroup(t *testing.T, rdb redis.UniversalClient, stream, group, consumer string, ids []string, idle time.Duration) {
	t.Helper()
	args := []any{"XCLAIM", stream, group, consumer, 0}
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, "IDLE", idle.Milliseconds(), "JUSTID")
	if err := rdb.Do(context.Background(), args...).Err(); err != nil {
		t.Fatal(err)
	}
}

// A dead consumer holds an entry in the middle of the stream, not yet
// past the visibility timeout. A worker fetches everything else and stops
// (trimming): the held entry, and everything after it, stays; the entries
// before it go. Once the held entry is past its timeout a worker takes it
// over and fetches it; at the end the stream is empty.
func TestReviewTrimWithDeadConsumerPending(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	ctx := t.Context()
	q := newQueue(t, rdb, Visibility(time.Hour))
	list := urls(srv.URL, 10)
	if _, err := q.Add(ctx, slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	// "dead/1" read 1 to 5, acknowledged 1 to 4 (without fetching: they
	// are not requested) and died holding 5.
	ids := deadWorker(t, rdb, q, "dead/1") // all 10, made idle for an hour
	if err := rdb.XAck(ctx, q.stream, q.group, ids[:4]...).Err(); err != nil {
		t.Fatal(err)
	}
	// 6 to 10 released, as by a stopping worker; 5 still fresh.
	setIdle(t, rdb, q, "dead/1", ids[4:5], 0)
	ctxRun, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n := 0
	for r := range q.Run(ctxRun, newFetcher(t, fetch.WithConcurrency(1))) {
		if r.Err != nil {
			t.Errorf("%s: %v", r.URL, r.Err)
		}
		if n++; n == 5 { // 6 to 10; the loop goes on, so the fifth is acknowledged
			cancel()
		}
	}
	if n != 5 {
		t.Fatalf("first worker: %d results; want 5", n)
	}
	ms, err := rdb.XRange(ctx, q.stream, "-", "+").Result()
	if err != nil || len(ms) == 0 || ms[0].ID != ids[4] || ms[0].Values["url"] != list[4] {
		t.Fatalf("after a trim with entry 5 pending: %d entries, first %v, %v; want entry 5 first and intact", len(ms), ms, err)
	}
	setIdle(t, rdb, q, "dead/1", ids[4:5], time.Hour)
	q2, err := New(rdb, q.stream, q.group, Visibility(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	rs := runOnce(t, q2, newFetcher(t))
	if len(rs) != 1 || rs[0].URL != list[4] || rs[0].Err != nil || !rs[0].Reclaimed {
		t.Errorf("second worker: %+v; want entry 5, taken over and fetched", rs)
	}
	counts := srv.counts()
	for i, u := range list {
		want := 1
		if i < 4 {
			want = 0
		}
		if c := counts[strings.TrimPrefix(u, srv.URL)]; c != want {
			t.Errorf("%s requested %d times; want %d", u, c, want)
		}
	}
	if st, err := q.Stats(ctx); err != nil || st.Entries != 0 || st.Pending != 0 || !st.Drained {
		t.Errorf("Stats = %+v, %v; want no entry left, drained", st, err)
	}
}

// Three workers drain 600 URLs together: every URL is fetched once, and
// Stats.Entries is 0 once they have all returned, whichever stopped last.
func TestReviewEntriesAfterConcurrentDrain(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	q := newQueue(t, rdb, Visibility(time.Second), MaxHeld(16))
	list := urls(srv.URL, 600)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([][]Result, 3)
	for i := range results {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			for r := range q.Run(ctx, newFetcher(t)) {
				results[i] = append(results[i], r)
			}
		})
	}
	wg.Wait()
	n := 0
	for _, rs := range results {
		for _, r := range rs {
			if r.Err != nil {
				t.Errorf("%s: %v", r.URL, r.Err)
			}
			n++
		}
	}
	for u, c := range srv.counts() {
		if c != 1 {
			t.Errorf("%s requested %d times", u, c)
		}
	}
	if st, err := q.Stats(t.Context()); n != len(list) || err != nil || st.Entries != 0 || !st.Drained || st.Seen != int64(len(list)) {
		t.Errorf("%d results, Stats = %+v, %v; want %d, no entry left, drained", n, st, err, len(list))
	}
}

// On Redis Cluster (stream "{review}"): the take-over sets the poison
// aside in "{review}:dead" (same slot), Stats counts it, and the stream is
// trimmed. Adding the poison's URL again queues nothing: its key is seen,
// so a set-aside entry cannot be retried through the API.
func TestReviewDeadLetterOnCluster(t *testing.T) {
	s := redistest.StartCluster(t)
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{s.Addr}, DisableIdentity: true})
	t.Cleanup(func() { cluster.Close() })
	ctx := t.Context()
	srv := newCountingServer(t)
	q, err := New(cluster, "{review}", "workers", MaxDeliveries(2), Visibility(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Delete(context.Background()) })
	list := urls(srv.URL, 5)
	if _, err := q.Add(ctx, slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	streams, err := cluster.XReadGroup(ctx, &redis.XReadGroupArgs{Group: q.group, Consumer: "dead/1", Streams: []string{q.stream, ">"}, Count: 1}).Result()
	if err != nil {
		t.Fatal(err)
	}
	poison := streams[0].Messages[0].ID
	if err := cluster.Do(ctx, "XCLAIM", q.stream, q.group, "dead/1", 0, poison, "IDLE", time.Hour.Milliseconds(), "RETRYCOUNT", 2, "JUSTID").Err(); err != nil {
		t.Fatal(err)
	}
	rs := runOnce(t, q, newFetcher(t))
	limited := 0
	for _, r := range rs {
		if errors.Is(r.Err, ErrDeliveryLimit) {
			limited++
			if r.ID != poison || r.URL != list[0] {
				t.Errorf("set aside %s (%s); want %s (%s)", r.ID, r.URL, poison, list[0])
			}
		} else if r.Err != nil {
			t.Errorf("%s: %v", r.URL, r.Err)
		}
	}
	if limited != 1 || len(rs) != 5 {
		t.Errorf("%d results, %d set aside; want 5, 1", len(rs), limited)
	}
	if d := deadRecords(t, cluster, q); len(d) != 1 || d[0].Values["id"] != poison {
		t.Errorf("dead-letter stream on the cluster: %+v; want the poison", d)
	}
	if st, err := q.Stats(ctx); err != nil || st.Dead != 1 || st.Entries != 0 || !st.Drained {
		t.Errorf("Stats = %+v, %v; want 1 dead, no entry left, drained", st, err)
	}
	if n, err := q.Add(ctx, slices.Values(list[:1])); err != nil || n != 0 {
		t.Errorf("Add of the set-aside URL = %d, %v; want 0 (its key is seen)", n, err)
	}
}

// The dead-letter stream is the stream's, not the group's: a poison set
// aside by one group shows in the Stats of another group of the stream,
// and its record does not say which group gave up on it. This test pins
// that down (it passes); see the review's report.
func TestReviewDeadLetterSharedByGroups(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	q := newQueue(t, rdb, MaxDeliveries(1), Visibility(time.Second))
	if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL, 2))); err != nil {
		t.Fatal(err)
	}
	other, err := New(rdb, q.stream, "others", KeepAcknowledged())
	if err != nil {
		t.Fatal(err)
	}
	if err := other.ensureGroup(t.Context()); err != nil {
		t.Fatal(err)
	}
	deadWorker(t, rdb, q, "dead/1") // both delivered once, then their worker died
	rs := runOnce(t, q, newFetcher(t))
	if len(rs) != 2 || !errors.Is(rs[0].Err, ErrDeliveryLimit) || !errors.Is(rs[1].Err, ErrDeliveryLimit) {
		t.Fatalf("results %+v; want both set aside (MaxDeliveries(1))", rs)
	}
	st, err := other.Stats(t.Context())
	if err != nil || st.Dead != 2 {
		t.Errorf("other group's Stats = %+v, %v; want Dead 2 (the stream's dead letters)", st, err)
	}
	for _, m := range deadRecords(t, rdb, q) {
		if m.Values["group"] != q.group {
			t.Errorf("dead record %v: want it to name the group that set it aside, %q", m.Values, q.group)
		}
	}
}
