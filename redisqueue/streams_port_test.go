package redisqueue

// Ports of the test suites of Go peers that run a work queue on Redis, onto
// redisqueue's API. The peers, and the commits read:
//
//   - github.com/robinjoseph08/redisqueue at
//     195b427f6d5d99c0986d9b219811155ecfc01ee8 (v2.1.0): consumer_test.go
//     and producer_test.go. A queue on Redis Streams: XREADGROUP, XACK,
//     reclaiming with XPENDING and XCLAIM after a visibility timeout, a
//     capped stream (XADD MAXLEN ~). Ported as TestPortRQ<OriginalName>.
//   - github.com/adjust/rmq at 1d31dc9a167d498982be586d3aabe010dc34731d:
//     queue_test.go, cleaner_test.go and stats_test.go. A queue on Redis
//     lists (ready, unacked per connection, rejected), with heartbeats and
//     a cleaner that returns the unacked deliveries of dead connections.
//     Ported as TestPortRMQ<OriginalName> where the behaviour maps.
//   - github.com/hibiken/asynq at 785bb7208cb0766877fcc20ac1dbebe857a43c9b:
//     recoverer_test.go, heartbeat_test.go, janitor_test.go,
//     server_test.go and processor_test.go. Tasks in lists and sorted sets
//     with leases that a heartbeat extends and a recoverer takes back.
//     Ported as TestPortAsynq<OriginalName> where the behaviour maps.
//
// What maps: an entry is handed to one live worker; a dead worker's entries
// are taken over after the visibility timeout and not before; live workers
// share entries without duplicates; an acknowledged entry is not handed out
// again; the stream does not grow without bound; dead workers' consumers
// are removed from the group; Stats reflects Redis; a poison entry ends in
// the dead-letter stream. A dead worker is simulated as the package's own
// tests do: a consumer that reads with XREADGROUP and never acknowledges, or
// a worker process killed with SIGKILL (kill_test.go's helpers).
//
// Where redisqueue differs from a peer on purpose, as its documentation
// says, the test asserts what redisqueue documents and a comment gives the
// peer's behaviour. Not ported, as redisqueue has nothing like them:
// robinjoseph08's several streams per consumer and signal handling; rmq's
// batch consumers, push queues, Drain and connection heartbeats as such;
// asynq's scheduling, priorities, aggregation and task deadlines.
//
// Time in Redis cannot be faked: the tests use the shortest visibility
// timeout allowed (100ms), poll for what they wait for with a deadline, and
// assert only bounds that the guarantees imply.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/redis/go-redis/v9"
)

// portVis is the shortest visibility timeout Visibility allows.
const portVis = 100 * time.Millisecond

// portLiveVis is the visibility timeout of the tests that assert that a
// live worker keeps what it holds. With portVis a worker renews every
// 33ms and loses its entries after a stall of 67ms (of its process, or of
// Redis), which this shared, loaded test machine has been seen to reach
// (a renewal 92ms apart); that is a short timeout doing what it says, not
// a worker dying.
const portLiveVis = 5 * portVis

// portServer counts the requests for each path and how many are in flight
// at once; a path under /status/404 is answered 404.
type portServer struct {
	*httptest.Server
	delay time.Duration

	mu       sync.Mutex
	paths    map[string]int
	inFlight int
	most     int
}

func newPortServer(t *testing.T, delay time.Duration) *portServer {
	t.Helper()
	s := &portServer{delay: delay, paths: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths[r.URL.Path]++
		s.inFlight++
		s.most = max(s.most, s.inFlight)
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
		}()
		if s.delay > 0 {
			time.Sleep(s.delay)
		}
		if strings.HasPrefix(r.URL.Path, "/status/404") {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s
}

// count is how many times u (a URL of the server, or a path) was requested.
func (s *portServer) count(u string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paths[strings.TrimPrefix(u, s.URL)]
}

func (s *portServer) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.paths {
		n += c
	}
	return n
}

func (s *portServer) mostInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.most
}

// portWaitFor polls cond until it holds, failing t after timeout.
func portWaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// portReadAs reads up to n new entries of q as consumer name of its group
// and acknowledges none: what a worker that dies after reading does. The
// entries are left as Redis made them, fresh: no idle time is faked.
func portReadAs(t *testing.T, rdb *redis.Client, q *Queue, name string, n int64) []redis.XMessage {
	t.Helper()
	if err := q.ensureGroup(context.Background()); err != nil {
		t.Fatal(err)
	}
	streams, err := rdb.XReadGroup(context.Background(), &redis.XReadGroupArgs{
		Group: q.group, Consumer: name, Streams: []string{q.stream, ">"}, Count: n, Block: -1,
	}).Result()
	if err != nil {
		t.Fatalf("XREADGROUP as %s: %v", name, err)
	}
	return streams[0].Messages
}

// portPending lists every entry pending with q's group.
func portPending(t *testing.T, rdb *redis.Client, q *Queue) []redis.XPendingExt {
	t.Helper()
	ps, err := rdb.XPendingExt(context.Background(), &redis.XPendingExtArgs{
		Stream: q.stream, Group: q.group, Start: "-", End: "+", Count: 1 << 20,
	}).Result()
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// portUndelivered counts the entries of q's stream not yet delivered to its
// group: those after the group's last-delivered-id.
func portUndelivered(t *testing.T, rdb *redis.Client, q *Queue) int64 {
	t.Helper()
	ctx := context.Background()
	if n, err := rdb.Exists(ctx, q.stream).Result(); err != nil || n == 0 {
		return 0
	}
	groups, err := rdb.XInfoGroups(ctx, q.stream).Result()
	if err != nil {
		t.Fatal(err)
	}
	last := "0-0"
	for _, g := range groups {
		if g.Name == q.group {
			last = g.LastDeliveredID
		}
	}
	ms, err := rdb.XRange(ctx, q.stream, "("+last, "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(ms))
}

// portXLen is the length of key, a stream, 0 if it does not exist.
func portXLen(t *testing.T, rdb *redis.Client, key string) int64 {
	t.Helper()
	n, err := rdb.XLen(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// portConsumers lists the consumers of q's group; none if the stream or the
// group does not exist.
func portConsumers(t *testing.T, rdb *redis.Client, q *Queue) []string {
	t.Helper()
	cs, err := rdb.XInfoConsumers(context.Background(), q.stream, q.group).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") || strings.HasPrefix(err.Error(), "NOGROUP") {
			return nil
		}
		t.Fatal(err)
	}
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}

// portWorker is a Run in a goroutine of its own. Its loop body hands each
// result over on got, then waits until released (release closed), unless
// it runs free.
type portWorker struct {
	got     chan Result
	release chan struct{}
	cancel  context.CancelFunc
	done    chan struct{} // closed once Run has returned
	results []Result      // every result, once done is closed
	once    sync.Once
}

// startPortWorker runs q.Run(ctx, f) in a goroutine. With hold, the loop
// body waits for release after its first result; without, it never waits.
func startPortWorker(ctx context.Context, q *Queue, f *fetch.Fetcher, hold bool) *portWorker {
	ctx, cancel := context.WithCancel(ctx)
	w := &portWorker{got: make(chan Result, 1<<12), release: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	if !hold {
		w.free()
	}
	go func() {
		defer close(w.done)
		for r := range q.Run(ctx, f) {
			w.results = append(w.results, r)
			w.got <- r
			select {
			case <-w.release:
			case <-ctx.Done():
				// The loop goes on, so that r is acknowledged: Run
				// returns at its next result.
			}
		}
	}()
	return w
}

// free lets the loop body go on, for good.
func (w *portWorker) free() { w.once.Do(func() { close(w.release) }) }

// wait waits for Run to return by itself and returns all its results.
func (w *portWorker) wait(t *testing.T, timeout time.Duration) []Result {
	t.Helper()
	select {
	case <-w.done:
		return w.results
	case <-time.After(timeout):
		t.Fatalf("Run still running after %v", timeout)
		return nil
	}
}

// stop ends the Run and returns all its results.
func (w *portWorker) stop() []Result {
	w.cancel()
	w.free()
	<-w.done
	return w.results
}

// next waits for the worker's next result, failing t after timeout.
func (w *portWorker) next(t *testing.T, timeout time.Duration) Result {
	t.Helper()
	select {
	case r := <-w.got:
		return r
	case <-time.After(timeout):
		t.Fatalf("no result in %v", timeout)
		return Result{}
	}
}

// portClosedAddr is a loopback address nothing listens on.
func portClosedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// ---------------------------------------------------------------------------
// github.com/robinjoseph08/redisqueue: consumer_test.go, producer_test.go

// TestNewConsumerWithOptions: the defaults, the overrides, and the consumer
// names in the group.
func TestPortRQNewConsumerWithOptions(t *testing.T) {
	rdb := newClient(t, redisAddr(t))

	t.Run("sets defaults for Name, GroupName, BlockingTimeout, and ReclaimTimeout", func(t *testing.T) {
		q, err := New(rdb, uniqueName(t), "workers")
		if err != nil {
			t.Fatal(err)
		}
		// The peer names its consumer after the host, so that two
		// processes on one host share a consumer; redisqueue adds the
		// process id, and each Run is a consumer of its own.
		host, _ := os.Hostname()
		want := config{consumer: host + "-" + strconv.Itoa(os.Getpid()), visibility: DefaultVisibility, maxHeld: DefaultMaxHeld,
			poll: 250 * time.Millisecond, flush: DefaultFlushTimeout, maxDeliver: DefaultMaxDeliveries}
		got := q.cfg
		if got.consumer != want.consumer || got.visibility != want.visibility || got.maxHeld != want.maxHeld ||
			got.poll != want.poll || got.flush != want.flush || got.maxDeliver != want.maxDeliver || got.follow || got.keep || got.noDedup {
			t.Errorf("defaults: %+v; want %+v", got, want)
		}
		if DefaultVisibility != 30*time.Second || DefaultMaxHeld != 256 || DefaultMaxDeliveries != 5 {
			t.Errorf("documented defaults changed: %v, %d, %d", DefaultVisibility, DefaultMaxHeld, DefaultMaxDeliveries)
		}
		// The peer defaults the group to "redisqueue"; redisqueue wants one.
		if _, err := New(rdb, "s", ""); err == nil {
			t.Error("New with no group: no error")
		}

		// A running worker's consumer is named after the host and process.
		t.Cleanup(func() { q.Delete(context.Background()) })
		srv := newPortServer(t, 0)
		if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL, 1))); err != nil {
			t.Fatal(err)
		}
		w := startPortWorker(t.Context(), q, newFetcher(t), true)
		w.next(t, 10*time.Second)
		if got := portConsumers(t, rdb, q); !slices.Equal(got, []string{want.consumer + "/1"}) {
			t.Errorf("consumers while running: %q; want [%s/1]", got, want.consumer)
		}
		w.stop()
	})

	t.Run("allows override of Name, GroupName, BlockingTimeout, ReclaimTimeout", func(t *testing.T) {
		q, err := New(rdb, "s", "test_group_name", Consumer("test_name"), Visibility(10*time.Second), MaxHeld(7))
		if err != nil {
			t.Fatal(err)
		}
		if q.rdb != rdb || q.group != "test_group_name" || q.cfg.consumer != "test_name" || q.cfg.visibility != 10*time.Second ||
			q.cfg.maxHeld != 7 || q.cfg.poll != 250*time.Millisecond {
			t.Errorf("overrides: group %q, %+v", q.group, q.cfg)
		}
		// The peer's BlockingTimeout and ReclaimInterval are not options:
		// a worker blocks for a quarter of the visibility timeout, at most
		// 250ms, and looks for abandoned entries as often.
		q, err = New(rdb, "s", "g", Visibility(portVis))
		if err != nil || q.cfg.poll != portVis/4 {
			t.Errorf("Visibility(%v): poll %v, %v; want %v", portVis, q.cfg.poll, err, portVis/4)
		}
		for name, opt := range map[string]Option{
			`Consumer("")`: Consumer(""), "Visibility(99ms)": Visibility(99 * time.Millisecond), "MaxHeld(0)": MaxHeld(0),
			"FlushTimeout(0)": FlushTimeout(0), "MaxDeliveries(-1)": MaxDeliveries(-1), "Logger(nil)": Logger(nil),
		} {
			if _, err := New(rdb, "s", "g", opt); err == nil {
				t.Errorf("%s accepted", name)
			}
		}
	})

	t.Run("consumer names", func(t *testing.T) {
		srv := newPortServer(t, 0)
		q := newQueue(t, rdb, Consumer("test_name"), MaxHeld(1), Visibility(portVis))
		if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL, 2))); err != nil {
			t.Fatal(err)
		}
		a := startPortWorker(t.Context(), q, newFetcher(t), true)
		b := startPortWorker(t.Context(), q, newFetcher(t), true)
		ra, rb := a.next(t, 10*time.Second), b.next(t, 10*time.Second)
		if ra.URL == rb.URL {
			t.Errorf("both workers hold %s", ra.URL)
		}
		if got := portConsumers(t, rdb, q); !slices.Equal(got, []string{"test_name/1", "test_name/2"}) {
			t.Errorf("consumers of two Runs of one Queue: %q; want [test_name/1 test_name/2]", got)
		}
		a.free()
		b.free()
		a.wait(t, 10*time.Second)
		b.wait(t, 10*time.Second)
		if got := portConsumers(t, rdb, q); len(got) != 0 {
			t.Errorf("consumers after both Runs returned, holding nothing: %q; want none", got)
		}
	})

	t.Run("bubbles up errors", func(t *testing.T) {
		// The peer pings Redis in its constructor and fails there;
		// redisqueue's New makes no call to Redis (documented): the
		// first call that needs Redis reports it.
		dead := redis.NewClient(&redis.Options{Addr: portClosedAddr(t), DisableIdentity: true, MaxRetries: -1})
		defer dead.Close()
		q, err := New(dead, "s", "g")
		if err != nil {
			t.Fatalf("New on an unreachable Redis: %v; want no call to Redis, so no error", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if n, err := q.Add(ctx, slices.Values([]string{"http://a.test/"})); err == nil || n != 0 || !strings.Contains(err.Error(), "connect") {
			t.Errorf("Add on an unreachable Redis = %d, %v; want 0 and the connection's error", n, err)
		}
	})
}

// TestRegisterWithLastID: the group reads from the start of the stream;
// an existing group keeps its position.
func TestPortRQRegisterWithLastID(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 0)
	ctx := t.Context()

	t.Run("no_id", func(t *testing.T) {
		// Entries put in the stream before any group exists (by another
		// tool) are delivered: the group is made reading from "0".
		q := newQueue(t, rdb, Visibility(portVis))
		list := urls(srv.URL, 5)
		for _, u := range list[:3] {
			if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.stream, Values: []any{"url", u}}).Err(); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		for _, r := range runOnce(t, q, newFetcher(t)) {
			if r.Err != nil {
				t.Errorf("%s: %v", r.URL, r.Err)
			}
			got = append(got, r.URL)
		}
		slices.Sort(got)
		if !slices.Equal(got, list[:3]) {
			t.Errorf("results %v; want %v", got, list[:3])
		}
		// "If the consumer group already exists the id field is
		// ignored": a Queue made later, as by another process, goes on
		// from the group's position.
		for _, u := range list[3:] {
			if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.stream, Values: []any{"url", u}}).Err(); err != nil {
				t.Fatal(err)
			}
		}
		q2, err := New(rdb, q.stream, q.group, Visibility(portVis))
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, r := range runOnce(t, q2, newFetcher(t)) {
			got = append(got, r.URL)
		}
		slices.Sort(got)
		if !slices.Equal(got, list[3:]) {
			t.Errorf("second Queue on the group: results %v; want only the new %v", got, list[3:])
		}
	})

	t.Run("custom_id", func(t *testing.T) {
		// The peer takes the group's start ID as an argument; redisqueue
		// has no such option: a group made by hand (here at "$") is used
		// as it is.
		q := newQueue(t, rdb, Visibility(portVis))
		list := urls(srv.URL+"/custom", 3)
		for _, u := range list[:2] {
			if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.stream, Values: []any{"url", u}}).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := rdb.XGroupCreate(ctx, q.stream, q.group, "$").Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Add(ctx, slices.Values(list[2:])); err != nil {
			t.Fatal(err)
		}
		rs := runOnce(t, q, newFetcher(t))
		if len(rs) != 1 || rs[0].URL != list[2] {
			t.Errorf("results %+v; want only %s, added after the group's start", rs, list[2])
		}
	})
}

// TestRun: the cases of the peer's consumer.
func TestPortRQRun(t *testing.T) {
	rdb := newClient(t, redisAddr(t))

	t.Run("sends an error if no ConsumerFuncs are registered", func(t *testing.T) {
		// The peer sends it on its Errors channel; redisqueue yields it
		// as a Result with no ID.
		q := newQueue(t, rdb)
		var noCtx context.Context
		for name, run := range map[string]func() []Result{
			"nil Fetcher": func() []Result { return slices.Collect(q.Run(t.Context(), nil)) },
			"nil context": func() []Result { return slices.Collect(q.Run(noCtx, newFetcher(t))) },
		} {
			if rs := run(); len(rs) != 1 || rs[0].Err == nil || rs[0].ID != "" {
				t.Errorf("%s: results %+v; want one error, with no ID", name, rs)
			}
		}
	})

	t.Run("calls the ConsumerFunc on for a message", func(t *testing.T) {
		srv := newPortServer(t, 0)
		q := newQueue(t, rdb, Visibility(portVis))
		u := srv.URL + "/test/value"
		if _, err := q.Add(t.Context(), slices.Values([]string{u})); err != nil {
			t.Fatal(err)
		}
		ms, err := rdb.XRange(t.Context(), q.stream, "-", "+").Result()
		if err != nil || len(ms) != 1 {
			t.Fatalf("stream: %v, %v", ms, err)
		}
		// The peer's handler calls Shutdown; Run returns by itself once
		// the queue is drained.
		rs := runOnce(t, q, newFetcher(t))
		if len(rs) != 1 || rs[0].URL != u || rs[0].ID != ms[0].ID || rs[0].Err != nil || rs[0].Status != http.StatusOK || rs[0].Reclaimed {
			t.Fatalf("results %+v; want %s (%s), fetched, not reclaimed", rs, u, ms[0].ID)
		}
		if p := portPending(t, rdb, q); len(p) != 0 {
			t.Errorf("pending after the run: %+v; want none", p)
		}
		if st, err := q.Stats(t.Context()); err != nil || st != (Stats{Seen: 1, Drained: true}) {
			t.Errorf("Stats = %+v, %v; want 1 seen, no entry left, drained", st, err)
		}
	})

	t.Run("reclaims pending messages according to ReclaimInterval", func(t *testing.T) {
		srv := newPortServer(t, 0)
		q := newQueue(t, rdb, Visibility(portVis))
		u := srv.URL + "/reclaim"
		if _, err := q.Add(t.Context(), slices.Values([]string{u})); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		msg := portReadAs(t, rdb, q, "failed_consumer", 1)
		if len(msg) != 1 {
			t.Fatalf("failed_consumer read %d entries; want 1", len(msg))
		}
		// The peer sleeps past its timeout before running; here the
		// worker starts at once and must wait for the timeout itself.
		var took time.Duration
		var rs []Result
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		for r := range q.Run(ctx, newFetcher(t)) {
			took = time.Since(start)
			rs = append(rs, r)
		}
		if len(rs) != 1 || rs[0].ID != msg[0].ID || !rs[0].Reclaimed || rs[0].Err != nil {
			t.Fatalf("results %+v; want %s, reclaimed and fetched", rs, msg[0].ID)
		}
		if took < portVis {
			t.Errorf("the entry was taken over %v after failed_consumer read it; want not before the visibility timeout, %v", took, portVis)
		}
		if p := portPending(t, rdb, q); len(p) != 0 {
			t.Errorf("pending after the run: %+v; want none", p)
		}
	})

	t.Run("doesn't reclaim if there is no VisibilityTimeout set", func(t *testing.T) {
		// The peer never reclaims without a VisibilityTimeout; redisqueue
		// always has one, at least 100ms, 30s by default: entries of a
		// dead worker are always taken over in the end. What does map:
		// within the default timeout, a fresh entry of another consumer is
		// left alone while the worker takes the next one.
		if _, err := New(rdb, "s", "g", Visibility(0)); err == nil {
			t.Error("Visibility(0) accepted; redisqueue documents at least 100ms")
		}
		srv := newPortServer(t, 0)
		q := newQueue(t, rdb, Follow())
		list := []string{srv.URL + "/value", srv.URL + "/value2"}
		if _, err := q.Add(t.Context(), slices.Values(list[:1])); err != nil {
			t.Fatal(err)
		}
		msg1 := portReadAs(t, rdb, q, "failed_consumer", 1)
		if _, err := q.Add(t.Context(), slices.Values(list[1:])); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		var rs []Result
		for r := range q.Run(ctx, newFetcher(t)) {
			rs = append(rs, r)
			cancel() // the peer's Shutdown in the handler; r is acknowledged
		}
		if len(rs) != 1 || rs[0].URL != list[1] {
			t.Errorf("results %+v; want only %s", rs, list[1])
		}
		p := portPending(t, rdb, q)
		if len(p) != 1 || p[0].ID != msg1[0].ID || p[0].Consumer != "failed_consumer" {
			t.Errorf("pending %+v; want only %s, with failed_consumer", p, msg1[0].ID)
		}
	})

	t.Run("acknowledges pending messages that have already been deleted", func(t *testing.T) {
		srv := newPortServer(t, 0)
		q := newQueue(t, rdb, Visibility(portVis))
		if _, err := q.Add(t.Context(), slices.Values([]string{srv.URL + "/deleted"})); err != nil {
			t.Fatal(err)
		}
		msg := portReadAs(t, rdb, q, "failed_consumer", 1)
		if err := rdb.XDel(t.Context(), q.stream, msg[0].ID).Err(); err != nil {
			t.Fatal(err)
		}
		// Run ends only once nothing is pending: the deleted entry must
		// leave the pending list, without being handed to the loop body.
		rs := runOnce(t, q, newFetcher(t))
		if len(rs) != 0 || srv.total() != 0 {
			t.Errorf("results %+v, %d requests; want none", rs, srv.total())
		}
		if p := portPending(t, rdb, q); len(p) != 0 {
			t.Errorf("pending %+v; want none", p)
		}
	})

	for _, tc := range []struct {
		name  string
		value any
	}{
		{"returns an error on a string panic", "this is a panic"},
		{"returns an error on an error panic", errors.New("this is a panic")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The peer recovers a panic in its handler, sends it on its
			// Errors channel and goes on. redisqueue does not recover it:
			// the panic reaches Run's caller unchanged, as a panic in any
			// loop body does, and its entry is neither acknowledged nor
			// lost: its delivery counts toward MaxDeliveries, and it is
			// released at once, not after the (here one-hour) timeout.
			srv := newPortServer(t, 0)
			q := newQueue(t, rdb, Visibility(time.Hour))
			u := srv.URL + "/panic"
			if _, err := q.Add(t.Context(), slices.Values([]string{u})); err != nil {
				t.Fatal(err)
			}
			f := newFetcher(t)
			recovered := func() (v any) {
				defer func() { v = recover() }()
				for range q.Run(t.Context(), f) {
					panic(tc.value)
				}
				return nil
			}()
			if recovered != tc.value {
				t.Fatalf("recovered %v; want the loop body's panic, %v", recovered, tc.value)
			}
			p := portPending(t, rdb, q)
			if len(p) != 1 || p[0].RetryCount != 1 {
				t.Fatalf("pending after the panic: %+v; want the entry, its delivery counted once", p)
			}
			rs := runOnce(t, q, f)
			if len(rs) != 1 || rs[0].URL != u || rs[0].Err != nil || !rs[0].Reclaimed {
				t.Errorf("next Run: %+v; want %s, taken over at once and fetched", rs, u)
			}
		})
	}
}

// ConsumerOptions.BufferSize, "the maximum number of in-flight messages":
// MaxHeld. A worker never holds, so never fetches, more than MaxHeld
// entries at once, whatever its Fetcher's concurrency.
func TestPortRQConsumerOptionsBufferSize(t *testing.T) {
	const held = 4
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 20*time.Millisecond)
	q := newQueue(t, rdb, MaxHeld(held), Visibility(portVis))
	list := urls(srv.URL, 40)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	sampled := make(chan int64)
	go func() { // the most entries pending at once, as Redis sees it
		var most int64
		defer func() { sampled <- most }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if p, err := rdb.XPending(context.Background(), q.stream, q.group).Result(); err == nil {
				most = max(most, p.Count)
			}
		}
	}()
	rs := runOnce(t, q, newFetcher(t, fetch.WithConcurrency(16), fetch.WithHostConcurrency(16)))
	close(stop)
	mostPending := <-sampled
	if len(rs) != len(list) {
		t.Errorf("%d results; want %d", len(rs), len(list))
	}
	if m := srv.mostInFlight(); m > held {
		t.Errorf("%d requests in flight at once; MaxHeld(%d) allows %d", m, held, held)
	}
	if mostPending > held {
		t.Errorf("%d entries pending at once; MaxHeld(%d) allows %d", mostPending, held, held)
	}
}

// ConsumerOptions.Concurrency: the peer's goroutines of one consumer; here,
// workers of one queue, each with its Fetcher. Every entry goes to one of
// them, once, while all live.
func TestPortRQConsumerOptionsConcurrency(t *testing.T) {
	const workers, total = 4, 400
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 2*time.Millisecond)
	q := newQueue(t, rdb, MaxHeld(8), Visibility(portLiveVis))
	list := urls(srv.URL, total)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	results := make([][]Result, workers)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	fs := make([]*fetch.Fetcher, workers)
	for i := range fs {
		fs[i] = newFetcher(t)
	}
	for i := range workers {
		wg.Go(func() {
			for r := range q.Run(ctx, fs[i]) {
				results[i] = append(results[i], r)
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("workers still running after 20s")
	}
	byURL := map[string]int{}
	for i, rs := range results {
		if len(rs) == 0 {
			t.Errorf("worker %d had no entry", i)
		}
		for _, r := range rs {
			if r.Err != nil || r.Reclaimed {
				t.Errorf("worker %d: %s: reclaimed %v, %v; want fetched, not reclaimed (all workers live)", i, r.URL, r.Reclaimed, r.Err)
			}
			byURL[r.URL]++
		}
	}
	for _, u := range list {
		if byURL[u] != 1 || srv.count(u) != 1 {
			t.Errorf("%s: %d results, requested %d times; want 1 and 1", u, byURL[u], srv.count(u))
		}
	}
	if st, err := q.Stats(t.Context()); err != nil || st != (Stats{Seen: total, Drained: true}) {
		t.Errorf("Stats = %+v, %v; want %d seen, no entry left, drained", st, err, total)
	}
	if got := portConsumers(t, rdb, q); len(got) != 0 {
		t.Errorf("consumers left in the group: %q; want none", got)
	}
}

// TestEnqueue (producer_test.go).
func TestPortRQEnqueue(t *testing.T) {
	rdb := newClient(t, redisAddr(t))

	t.Run("puts the message in the stream", func(t *testing.T) {
		// The peer returns the entry's ID; Add returns how many it queued.
		q := newQueue(t, rdb)
		u := "http://a.test/value"
		if n, err := q.Add(t.Context(), slices.Values([]string{u})); err != nil || n != 1 {
			t.Fatalf("Add = %d, %v; want 1, nil", n, err)
		}
		ms, err := rdb.XRange(t.Context(), q.stream, "-", "+").Result()
		if err != nil || len(ms) != 1 || ms[0].Values["url"] != u {
			t.Errorf("stream: %+v, %v; want one entry with url %s", ms, err, u)
		}
		if n, err := q.Add(t.Context(), slices.Values([]string{u, u + "#frag"})); err != nil || n != 0 {
			t.Errorf("Add of the same URL again = %d, %v; want 0, nil (deduplicated)", n, err)
		}
		if n, err := q.Add(t.Context(), slices.Values([]string(nil))); err != nil || n != 0 {
			t.Errorf("Add of nothing = %d, %v; want 0, nil", n, err)
		}
		if l := portXLen(t, rdb, q.stream); l != 1 {
			t.Errorf("stream length %d; want 1", l)
		}
	})

	t.Run("bubbles up errors", func(t *testing.T) {
		// The peer's XADD fails on an entry without fields; an Add that
		// Redis refuses fails with Redis's reason.
		q := newQueue(t, rdb)
		if err := rdb.Set(t.Context(), q.stream, "not a stream", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if n, err := q.Add(t.Context(), slices.Values([]string{"http://a.test/"})); err == nil || n != 0 || !strings.Contains(err.Error(), "WRONGTYPE") {
			t.Errorf("Add = %d, %v; want 0 and an error saying WRONGTYPE", n, err)
		}
	})
}

// ProducerOptions.StreamMaxLength and ApproximateMaxLength: the peer caps
// the stream with XADD MAXLEN (~), which drops the oldest entries, done or
// not ("unprocessed message will start to be dropped"). redisqueue caps
// nothing: it deletes acknowledged entries as it goes (XTRIM MINID), never
// one pending or not yet delivered. So with no worker the stream keeps all
// it was given, and with workers it does not grow without bound.
func TestPortRQProducerOptionsStreamMaxLength(t *testing.T) {
	const peerDefaultMaxLen = 1000
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 0)
	// A visibility long enough that no stall of this loaded machine (the
	// race detector, CI running every package at once) makes the one
	// worker take its own entries over: the test counts each URL once,
	// which is not what it is about (at-least-once delivery is).
	q := newQueue(t, rdb, Visibility(time.Second), Follow())
	list := urls(srv.URL, peerDefaultMaxLen+500)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	if l := portXLen(t, rdb, q.stream); l != int64(len(list)) {
		t.Fatalf("stream length with no worker %d; want all %d kept", l, len(list))
	}
	w := startPortWorker(t.Context(), q, newFetcher(t), false)
	defer w.stop()
	byURL := map[string]int{}
	for round, batch := range [][]string{list, urls(srv.URL+"/more", 300), urls(srv.URL+"/again", 300)} {
		if round > 0 {
			if _, err := q.Add(t.Context(), slices.Values(batch)); err != nil {
				t.Fatal(err)
			}
		}
		for range batch {
			r := w.next(t, 10*time.Second)
			if r.Err != nil {
				t.Errorf("%s: %v", r.URL, r.Err)
			}
			byURL[r.URL]++
		}
		// The worker runs on, waiting for more: it deletes what it
		// acknowledged as it goes, not only when it stops.
		portWaitFor(t, 10*time.Second, fmt.Sprintf("round %d: stream emptied of acknowledged entries while its worker runs", round), func() bool {
			return portXLen(t, rdb, q.stream) == 0
		})
	}
	for u, n := range byURL {
		if n != 1 {
			t.Errorf("%s yielded %d times", u, n)
		}
	}
	if len(byURL) != len(list)+600 {
		t.Errorf("%d URLs yielded; want %d", len(byURL), len(list)+600)
	}
}

// ---------------------------------------------------------------------------
// github.com/adjust/rmq: cleaner_test.go, queue_test.go, stats_test.go

// TestCleaner: the deliveries a dead connection left unacked go back to
// the queue and are consumed; the acked one does not come back; the dead
// connection is removed, the live one is not. In redisqueue the live
// workers do the cleaner's work: they take a dead worker's entries over
// after the visibility timeout, and remove its consumer once it holds
// nothing and has been silent for 10 timeouts.
func TestPortRMQCleaner(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 0)
	q := newQueue(t, rdb, Visibility(portVis), Follow(), Consumer("cleaner-conn"))
	list := urls(srv.URL+"/del", 11)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	dead := portReadAs(t, rdb, q, "cleaner-conn1/1", 6)
	if err := rdb.XAck(t.Context(), q.stream, q.group, dead[0].ID).Err(); err != nil { // del1 acked
		t.Fatal(err)
	}
	heldByDead := map[string]bool{}
	for _, m := range dead[1:] {
		heldByDead[m.ID] = true
	}
	w := startPortWorker(t.Context(), q, newFetcher(t), false)
	defer w.stop()
	got := map[string]int{}
	for range 10 {
		r := w.next(t, 10*time.Second)
		got[r.URL]++
		if r.Err != nil {
			t.Errorf("%s: %v", r.URL, r.Err)
		}
		if heldByDead[r.ID] {
			if !r.Reclaimed {
				t.Errorf("%s, held by the dead worker: not marked reclaimed", r.URL)
			}
			if d := time.Since(start); d < portVis {
				t.Errorf("%s taken over %v after the dead worker read it; want not before %v", r.URL, d, portVis)
			}
		} else if r.Reclaimed {
			t.Errorf("%s, never delivered before: marked reclaimed", r.URL)
		}
	}
	for _, u := range list[1:] {
		if got[u] != 1 {
			t.Errorf("%s: %d results; want 1", u, got[u])
		}
	}
	portWaitFor(t, 10*time.Second, "the dead worker's consumer removed from the group", func() bool {
		return !slices.Contains(portConsumers(t, rdb, q), "cleaner-conn1/1")
	})
	// rmq's cleaner never touches a live connection. redisqueue's live
	// workers remove any consumer that holds nothing and has not been
	// heard of for 10 timeouts, a live one included (on Redis 7.0 an
	// XREADGROUP that finds nothing does not count as heard of); as its
	// code says, such a worker loses nothing, and its next read that
	// finds an entry makes its consumer again. So: the live worker goes on
	// consuming.
	if _, err := q.Add(t.Context(), slices.Values([]string{srv.URL + "/del12"})); err != nil {
		t.Fatal(err)
	}
	if r := w.next(t, 10*time.Second); r.URL != srv.URL+"/del12" || r.Err != nil || r.Reclaimed {
		t.Errorf("after the clean: %+v; want del12, fetched", r)
	}
	if cs := portConsumers(t, rdb, q); !slices.Equal(cs, []string{"cleaner-conn/1"}) {
		t.Errorf("consumers while the live worker runs: %q; want [cleaner-conn/1]", cs)
	}
	if rs := w.stop(); len(rs) != 11 {
		t.Errorf("%d results; want 11 (del1 was acknowledged by the dead worker)", len(rs))
	}
	if c := srv.count(list[0]); c != 0 {
		t.Errorf("del1, acknowledged, requested %d times", c)
	}
	if cs := portConsumers(t, rdb, q); len(cs) != 0 {
		t.Errorf("consumers after the live worker stopped, holding nothing: %q; want none", cs)
	}
}

// TestQueueCommon: a queue's consumers are listed while it consumes, and
// it is no longer listed as consuming once StopConsuming has returned. The
// README's promise: "A worker that stops normally releases what it holds
// at once and leaves the group". Here it stops (its context ends) while
// holding entries, as a worker told to stop (SIGTERM) mostly does.
func TestPortRMQQueueCommon(t *testing.T) {

	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 20*time.Millisecond)
	q := newQueue(t, rdb, Visibility(time.Hour), MaxHeld(5), Consumer("queue-cons"))
	if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL, 10))); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	for range q.Run(ctx, newFetcher(t)) {
		n++
		cancel() // StopConsuming, holding the other entries it read
	}
	cancel()
	if n != 1 {
		t.Fatalf("%d results before the stop; want 1", n)
	}
	if p := portPending(t, rdb, q); len(p) == 0 {
		t.Fatal("the worker held nothing when it stopped: the case is not what it should be")
	}
	// An entry pending in a group always has a consumer: what the worker
	// released is held by releasedConsumer until another worker takes it.
	if cs := portConsumers(t, rdb, q); !slices.Equal(cs, []string{releasedConsumer}) {
		t.Errorf("consumers after the worker stopped: %q; want only %q, holding what it released (README: it releases what it holds and leaves the group)", cs, releasedConsumer)
	}
	// Whatever it held goes to the next worker at once.
	rs := runOnce(t, q, newFetcher(t))
	if len(rs) != 9 {
		t.Errorf("next worker: %d results; want the 9 left", len(rs))
	}
	if cs := portConsumers(t, rdb, q); len(cs) != 0 {
		t.Errorf("consumers once the queue is drained and every worker stopped: %q; want none", cs)
	}
}

// TestConnectionQueues: a connection's queues are unlisted once it stops
// consuming and is cleaned. What redisqueue's code does for a worker that
// stopped holding entries (see TestPortRMQQueueCommon): its consumer is
// removed like a dead worker's, by the live workers, once its released
// entries have been taken and it has been silent for 10 timeouts.
func TestPortRMQConnectionQueues(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 20*time.Millisecond)
	q := newQueue(t, rdb, Visibility(portVis), MaxHeld(5), Consumer("conn-q"))
	if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL, 10))); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	for range q.Run(ctx, newFetcher(t)) {
		cancel() // holding the others
	}
	cancel()
	next, err := New(rdb, q.stream, q.group, Visibility(portVis), Follow(), Consumer("conn-q-next"))
	if err != nil {
		t.Fatal(err)
	}
	w := startPortWorker(t.Context(), next, newFetcher(t), false)
	defer w.stop()
	for range 9 {
		if r := w.next(t, 10*time.Second); r.Err != nil {
			t.Errorf("%s: %v", r.URL, r.Err)
		}
	}
	portWaitFor(t, 10*time.Second, "the stopped worker's consumer removed from the group", func() bool {
		return !slices.Contains(portConsumers(t, rdb, q), "conn-q/1")
	})
}

// TestStopConsuming_Consumer: ten consumers stopped part way through; every
// delivery is then ready, unacked or consumed (acked), none lost; and, as
// the peer's cleaner would, the next consumer gets the rest: at once,
// although the visibility timeout is an hour, and none acknowledged again.
func TestPortRMQStopConsuming_Consumer(t *testing.T) {
	const total, workers = 30, 10
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 20*time.Millisecond)
	q := newQueue(t, rdb, Visibility(time.Hour), MaxHeld(2))
	list := urls(srv.URL, total)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	stopCtx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	var (
		mu       sync.Mutex
		consumed []string
		wg       sync.WaitGroup
	)
	fs := make([]*fetch.Fetcher, workers)
	for i := range fs {
		fs[i] = newFetcher(t)
	}
	for i := range workers {
		wg.Go(func() {
			for r := range q.Run(stopCtx, fs[i]) {
				mu.Lock()
				consumed = append(consumed, r.URL)
				if len(consumed) >= 10 {
					stopAll() // the loop goes on: r is acknowledged
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("workers still running after 20s")
	}
	pending := int64(len(portPending(t, rdb, q)))
	ready := portUndelivered(t, rdb, q)
	t.Logf("after the stop: %d consumed, %d unacked, %d ready", len(consumed), pending, ready)
	if int64(len(consumed))+pending+ready != total {
		t.Errorf("consumed %d + unacked %d + ready %d != %d", len(consumed), pending, ready, total)
	}
	rest := runOnce(t, q, newFetcher(t))
	seen := map[string]int{}
	for _, u := range consumed {
		seen[u]++
	}
	for _, r := range rest {
		if r.Err != nil {
			t.Errorf("%s: %v", r.URL, r.Err)
		}
		if seen[r.URL] > 0 {
			t.Errorf("%s handed out again after it was acknowledged", r.URL)
		}
		seen[r.URL]++
	}
	for _, u := range list {
		if seen[u] != 1 {
			t.Errorf("%s: %d results in all; want 1", u, seen[u])
		}
	}
}

// TestMulti: with a prefetch limit of 10 and 20 deliveries, 10 are unacked
// and 10 ready; after each ack one more is fetched, so unacked stays at 10
// and ready drops by one. Here: MaxHeld(10), and a loop body that takes its
// time over each result.
func TestPortRMQMulti(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 0)
	q := newQueue(t, rdb, MaxHeld(10), Visibility(portVis))
	if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL, 20))); err != nil {
		t.Fatal(err)
	}
	if p, r := len(portPending(t, rdb, q)), portUndelivered(t, rdb, q); p != 0 || r != 20 {
		t.Fatalf("before any worker: %d unacked, %d ready; want 0, 20", p, r)
	}
	f := newFetcher(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan Result)
	proceed := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r := range q.Run(ctx, f) {
			select {
			case got <- r:
			case <-ctx.Done():
				return
			}
			select {
			case <-proceed:
			case <-ctx.Done():
				return
			}
		}
	}()
	counts := func() (int64, int64) { return int64(len(portPending(t, rdb, q))), portUndelivered(t, rdb, q) }
	for i, wantReady := range []int64{10, 9, 8} {
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatalf("result %d: none in 10s", i+1)
		}
		portWaitFor(t, 10*time.Second, fmt.Sprintf("result %d: 10 unacked and %d ready", i+1, wantReady), func() bool {
			p, r := counts()
			return p == 10 && r == wantReady
		})
		// While the loop body holds on, the worker takes no more.
		for range 4 {
			time.Sleep(portVis / 4) // a worker's poll
			if p, r := counts(); p != 10 || r != wantReady {
				t.Fatalf("result %d, loop body waiting: %d unacked, %d ready; want 10, %d", i+1, p, r, wantReady)
			}
		}
		if i < 2 {
			proceed <- struct{}{}
		}
	}
	cancel()
	<-done
}

// TestConsumerCommon (Reject, PurgeRejected) and TestReturnRejected: rmq's
// consumer rejects a delivery into the rejected list, and ReturnRejected
// puts it back. redisqueue has no Reject: an entry is set aside only when
// it has been handed out MaxDeliveries times without being acknowledged
// or released (a poison entry), into the dead-letter stream; to try one
// again, its fields are added back with XADD (documented), and deleting
// the dead-letter stream purges it.
func TestPortRMQReturnRejected(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 0)
	ctx := t.Context()
	q := newQueue(t, rdb, Visibility(portVis), MaxDeliveries(2))
	list := urls(srv.URL+"/return", 3)
	if _, err := q.Add(ctx, slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	// list[0] has killed two workers: the second one still holds it,
	// fresh.
	poison := portReadAs(t, rdb, q, "dead/1", 1)[0]
	if err := rdb.Do(ctx, "XCLAIM", q.stream, q.group, "dead/1", 0, poison.ID, "RETRYCOUNT", 2, "JUSTID").Err(); err != nil {
		t.Fatal(err)
	}
	rs := runOnce(t, q, newFetcher(t))
	if len(rs) != 3 {
		t.Fatalf("results %+v; want 3", rs)
	}
	for _, r := range rs {
		if r.ID == poison.ID {
			if !errors.Is(r.Err, ErrDeliveryLimit) || r.URL != list[0] {
				t.Errorf("poison: %s, %v; want %s with ErrDeliveryLimit", r.URL, r.Err, list[0])
			}
		} else if r.Err != nil {
			t.Errorf("%s: %v", r.URL, r.Err)
		}
	}
	if c := srv.count(list[0]); c != 0 {
		t.Errorf("poison requested %d times; want 0 (set aside, not fetched)", c)
	}
	dead := deadRecords(t, rdb, q)
	if len(dead) != 1 || dead[0].Values["id"] != poison.ID || dead[0].Values["url"] != list[0] ||
		dead[0].Values["group"] != q.group || dead[0].Values["deliveries"] != "2" {
		t.Fatalf("dead-letter stream %+v; want the poison with its id, group and 2 deliveries", dead)
	}
	if st, err := q.Stats(ctx); err != nil || st.Dead != 1 || st.Pending != 0 || !st.Drained {
		t.Errorf("Stats = %+v, %v; want 1 dead (rejected), none pending, drained", st, err)
	}

	// ReturnRejected: Add will not (the key is seen); XADD of the entry's
	// own fields does.
	if n, err := q.Add(ctx, slices.Values(list[:1])); err != nil || n != 0 {
		t.Errorf("Add of the set-aside URL = %d, %v; want 0 (its key is seen)", n, err)
	}
	var fields []any
	for k, v := range dead[0].Values {
		if k != "id" && k != "group" && k != "deliveries" {
			fields = append(fields, k, v)
		}
	}
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.stream, Values: fields}).Err(); err != nil {
		t.Fatal(err)
	}
	rs = runOnce(t, q, newFetcher(t))
	if len(rs) != 1 || rs[0].URL != list[0] || rs[0].Err != nil || srv.count(list[0]) != 1 {
		t.Errorf("after returning it: %+v, requested %d times; want it fetched once", rs, srv.count(list[0]))
	}
	// PurgeRejected.
	if err := rdb.Del(ctx, q.dead).Err(); err != nil {
		t.Fatal(err)
	}
	if st, err := q.Stats(ctx); err != nil || st.Dead != 0 {
		t.Errorf("Stats after purging the dead letters = %+v, %v; want 0 dead", st, err)
	}
}

// TestRejectFaultyMessages: rmq rejects a payload it cannot parse before a
// consumer sees it. redisqueue yields a malformed entry to the loop body
// as a Result whose Err matches ErrMalformed, and acknowledges it: it is
// not set aside, and not handed out again.
func TestPortRMQRejectFaultyMessages(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 0)
	q := newQueue(t, rdb, Visibility(portVis))
	if err := q.ensureGroup(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		values := []any{"payload", fmt.Sprintf("return-d%d", i)}
		if i%2 == 1 {
			values = []any{"url", srv.URL + "/faulty", "depth", "x" + strconv.Itoa(i)}
		}
		if err := rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: q.stream, Values: values}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	rs := runOnce(t, q, newFetcher(t))
	for _, r := range rs {
		if !errors.Is(r.Err, ErrMalformed) || r.ID == "" {
			t.Errorf("result %+v; want ErrMalformed, with its ID", r)
		}
	}
	if len(rs) != 6 || srv.total() != 0 {
		t.Errorf("%d results, %d requests; want 6, 0", len(rs), srv.total())
	}
	if st, err := q.Stats(t.Context()); err != nil || st.Pending != 0 || st.Dead != 0 || !st.Drained {
		t.Errorf("Stats = %+v, %v; want none pending, none set aside, drained", st, err)
	}
	if rs := runOnce(t, q, newFetcher(t)); len(rs) != 0 {
		t.Errorf("second run: %+v; want nothing handed out again", rs)
	}
}

// TestStats: the counts rmq collects (ready, rejected, unacked per
// connection, consumers) against what is in Redis. redisqueue's Stats has
// the stream's entries, those pending, the keys seen, the dead letters and
// whether the group is drained; consumers are XINFO CONSUMERS's.
func TestPortRMQStats(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 0)
	ctx := t.Context()
	q := newQueue(t, rdb, Visibility(portVis), MaxDeliveries(1), MaxHeld(1))
	check := func(stage string, want Stats) {
		t.Helper()
		st, err := q.Stats(ctx)
		if err != nil {
			t.Fatalf("%s: Stats: %v", stage, err)
		}
		seen, err := rdb.SCard(ctx, q.seen).Result()
		if err != nil {
			t.Fatal(err)
		}
		pending := int64(0)
		if n, _ := rdb.Exists(ctx, q.stream).Result(); n == 1 {
			if p, err := rdb.XPending(ctx, q.stream, q.group).Result(); err == nil {
				pending = p.Count
			}
		}
		inRedis := Stats{Entries: portXLen(t, rdb, q.stream), Pending: pending, Seen: seen, Dead: portXLen(t, rdb, q.dead),
			Drained: pending == 0 && portUndelivered(t, rdb, q) == 0}
		if st != inRedis || st != want {
			t.Errorf("%s: Stats = %+v; Redis holds %+v; want %+v", stage, st, inRedis, want)
		}
	}
	check("nothing yet", Stats{Drained: true})
	list := urls(srv.URL+"/stats", 4)
	if _, err := q.Add(ctx, slices.Values(append(slices.Clone(list), list[0]+"#dup"))); err != nil {
		t.Fatal(err)
	}
	check("4 added", Stats{Entries: 4, Seen: 4})

	// A live worker holds one entry (MaxHeld(1)), its loop body waiting;
	// a consumer that then dies reads two, and acknowledges one.
	w := startPortWorker(ctx, q, newFetcher(t), true)
	defer w.stop()
	if r := w.next(t, 10*time.Second); r.URL != list[0] {
		t.Fatalf("worker took %s; want %s", r.URL, list[0])
	}
	check("a worker holding one", Stats{Entries: 4, Seen: 4, Pending: 1})
	dead := portReadAs(t, rdb, q, "stats-cons1/1", 2)
	check("2 more delivered to a consumer", Stats{Entries: 4, Seen: 4, Pending: 3})
	if err := rdb.XAck(ctx, q.stream, q.group, dead[0].ID).Err(); err != nil {
		t.Fatal(err)
	}
	check("1 of them acked", Stats{Entries: 4, Seen: 4, Pending: 2})

	// The worker goes on: it fetches the last entry, and, once the
	// timeout has passed, sets the dead consumer's aside (MaxDeliveries(1)).
	w.free()
	all := w.wait(t, 10*time.Second)
	limited := 0
	for _, r := range all {
		if errors.Is(r.Err, ErrDeliveryLimit) {
			limited++
			if r.ID != dead[1].ID {
				t.Errorf("set aside %s; want %s", r.ID, dead[1].ID)
			}
		}
	}
	if limited != 1 || len(all) != 3 {
		t.Errorf("results %+v; want 3, one set aside", all)
	}
	check("drained", Stats{Seen: 4, Dead: 1, Drained: true})
}

// ---------------------------------------------------------------------------
// github.com/hibiken/asynq: recoverer_test.go, heartbeat_test.go,
// janitor_test.go, server_test.go, processor_test.go

// TestRecoverer: a task whose lease has expired (its worker died) is
// recovered; one whose lease is still good (its worker lives) is left
// alone; one that reached its max retry is archived. Here: an entry held
// by a live worker, whose loop body takes a long time over it; one read by
// a worker that then died; one that has killed MaxDeliveries(2) workers.
func TestPortAsynqRecoverer(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 0)
	q := newQueue(t, rdb, Visibility(portLiveVis), MaxDeliveries(2))
	list := urls(srv.URL+"/task", 3) // active with a live worker, expired, max retry reached
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	withName := func(name string, opts ...Option) *Queue {
		q2, err := New(rdb, q.stream, q.group, append([]Option{Consumer(name), Visibility(portLiveVis), MaxDeliveries(2)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return q2
	}
	live := startPortWorker(t.Context(), withName("live", MaxHeld(1)), newFetcher(t), true)
	defer live.stop()
	active := live.next(t, 10*time.Second)
	heldSince := time.Now()
	if active.URL != list[0] {
		t.Fatalf("live worker took %s; want %s", active.URL, list[0])
	}
	start := time.Now()
	died := portReadAs(t, rdb, q, "dead/1", 2)
	if err := rdb.Do(t.Context(), "XCLAIM", q.stream, q.group, "dead/1", 0, died[1].ID, "RETRYCOUNT", 2, "JUSTID").Err(); err != nil {
		t.Fatal(err)
	}

	rec := startPortWorker(t.Context(), withName("recoverer", Follow()), newFetcher(t), false)
	defer rec.stop()
	got := map[string]Result{}
	for range 2 {
		r := rec.next(t, 10*time.Second)
		got[r.URL] = r
		if d := time.Since(start); d < portLiveVis {
			t.Errorf("%s recovered %v after its worker read it; want not before %v", r.URL, d, portLiveVis)
		}
	}
	if r, ok := got[list[1]]; !ok || r.Err != nil || !r.Reclaimed || r.ID != died[0].ID {
		t.Errorf("expired: %+v; want %s taken over and fetched", r, list[1])
	}
	if r, ok := got[list[2]]; !ok || !errors.Is(r.Err, ErrDeliveryLimit) {
		t.Errorf("max retry reached: %+v; want %s set aside, ErrDeliveryLimit", r, list[2])
	}
	// The live worker's entry stays with it, timeout after timeout.
	for time.Since(heldSince) < 2*portLiveVis {
		select {
		case r := <-rec.got:
			t.Fatalf("the recoverer took %s (%v) from a live worker", r.URL, r.Err)
		case <-time.After(portLiveVis / 10):
		}
		p := portPending(t, rdb, q)
		if len(p) != 1 || p[0].ID != active.ID || p[0].Consumer != "live/1" {
			t.Fatalf("pending %+v, %v after the live worker took it; want only %s, with live/1", p, time.Since(heldSince), active.ID)
		}
	}
	live.free()
	if rs := live.wait(t, 10*time.Second); len(rs) != 1 {
		t.Errorf("live worker: %d results; want 1", len(rs))
	}
	if rs := rec.stop(); len(rs) != 2 {
		t.Errorf("recoverer: %d results; want 2", len(rs))
	}
	for i, want := range []int{1, 1, 0} {
		if c := srv.count(list[i]); c != want {
			t.Errorf("%s requested %d times; want %d", list[i], c, want)
		}
	}
	if d := deadRecords(t, rdb, q); len(d) != 1 || d[0].Values["url"] != list[2] || d[0].Values["deliveries"] != "2" {
		t.Errorf("dead-letter stream %+v; want %s, 2 deliveries", d, list[2])
	}
	if st, err := q.Stats(t.Context()); err != nil || st.Pending != 0 || st.Dead != 1 || !st.Drained {
		t.Errorf("Stats = %+v, %v; want none pending, 1 dead, drained", st, err)
	}
}

// TestHeartbeater: while a worker processes its tasks their leases are
// extended; once done, they have none; once the server stops it says so.
// Here: a live worker whose loop body holds on for two visibility
// timeouts keeps its entries (renewed: never idle for a timeout), while
// another worker waits for work; then it acknowledges them, and both leave
// the group when they stop.
func TestPortAsynqHeartbeater(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 0)
	q := newQueue(t, rdb, Visibility(portLiveVis), MaxHeld(3), Consumer("hb"))
	if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL+"/hb", 3))); err != nil {
		t.Fatal(err)
	}
	w := startPortWorker(t.Context(), q, newFetcher(t), true)
	defer w.stop()
	w.next(t, 10*time.Second)
	since := time.Now()
	other, err := New(rdb, q.stream, q.group, Visibility(portLiveVis), Follow(), Consumer("other"))
	if err != nil {
		t.Fatal(err)
	}
	o := startPortWorker(t.Context(), other, newFetcher(t), false)
	defer o.stop()
	var most time.Duration
	for time.Since(since) < 2*portLiveVis {
		p := portPending(t, rdb, q)
		if len(p) != 3 {
			t.Fatalf("%d entries pending, %v into the loop body; want the worker's 3", len(p), time.Since(since))
		}
		for _, e := range p {
			if e.Consumer != "hb/1" {
				t.Fatalf("entry %s with %s; want hb/1, its live worker", e.ID, e.Consumer)
			}
			most = max(most, e.Idle)
		}
		select {
		case r := <-o.got:
			t.Fatalf("the other worker got %s from a live worker", r.URL)
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Logf("longest idle of a held entry: %v (renewed every %v)", most, portLiveVis/3)
	if most >= portLiveVis {
		t.Errorf("a held entry went unrenewed for %v; the visibility timeout is %v", most, portLiveVis)
	}
	// The waiting worker is listed only once it has been given an entry:
	// on Redis 7.0 an XREADGROUP that finds nothing makes no consumer.
	if cs := portConsumers(t, rdb, q); !slices.Contains(cs, "hb/1") || len(slices.DeleteFunc(cs, func(c string) bool { return c == "hb/1" || c == "other/1" })) != 0 {
		t.Errorf("consumers %q; want hb/1 (and other/1, if listed)", cs)
	}
	w.free()
	if rs := w.wait(t, 10*time.Second); len(rs) != 3 {
		t.Errorf("worker: %d results; want 3", len(rs))
	}
	if p := portPending(t, rdb, q); len(p) != 0 {
		t.Errorf("pending after the worker finished: %+v; want none", p)
	}
	if rs := o.stop(); len(rs) != 0 {
		t.Errorf("other worker: %+v; want nothing", rs)
	}
	if cs := portConsumers(t, rdb, q); len(cs) != 0 {
		t.Errorf("consumers after both stopped: %q; want none", cs)
	}
}

// TestJanitor: completed tasks are deleted once their retention has
// passed, the others kept. Here: acknowledged entries are deleted while
// the workers run, never one pending, nor (XTRIM MINID) any after it.
func TestPortAsynqJanitor(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 0)
	q := newQueue(t, rdb, Visibility(portLiveVis), MaxHeld(1))
	list := urls(srv.URL+"/done", 10)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	slow := startPortWorker(t.Context(), q, newFetcher(t), true) // holds list[0]
	defer slow.stop()
	if r := slow.next(t, 10*time.Second); r.URL != list[0] {
		t.Fatalf("slow worker took %s; want %s", r.URL, list[0])
	}
	fastQ, err := New(rdb, q.stream, q.group, Visibility(portLiveVis), Follow())
	if err != nil {
		t.Fatal(err)
	}
	fast := startPortWorker(t.Context(), fastQ, newFetcher(t), false)
	defer fast.stop()
	for range 9 {
		fast.next(t, 10*time.Second)
	}
	// Several renewals, so several trims, later: all 10 still there.
	done := time.Now()
	for time.Since(done) < portLiveVis {
		ms, err := rdb.XRange(t.Context(), q.stream, "-", "+").Result()
		if err != nil || len(ms) != 10 || ms[0].Values["url"] != list[0] {
			t.Fatalf("with %s pending: stream %d entries, %v; want all 10, from it", list[0], len(ms), err)
		}
		time.Sleep(portLiveVis / 10)
	}
	slow.free()
	slow.wait(t, 10*time.Second)
	portWaitFor(t, 10*time.Second, "acknowledged entries deleted while a worker runs", func() bool {
		return portXLen(t, rdb, q.stream) == 0
	})
	if _, err := q.Add(t.Context(), slices.Values(urls(srv.URL+"/later", 5))); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		fast.next(t, 10*time.Second)
	}
	portWaitFor(t, 10*time.Second, "later entries deleted once acknowledged", func() bool {
		return portXLen(t, rdb, q.stream) == 0
	})
}

// TestServerWithRedisDown: a server whose Redis is down does not panic or
// give up. redisqueue parts from asynq at the start: a worker whose very
// first call gets no answer (asynq's Server logs and waits) ends at once
// with one Result, no ID, whose Err matches ErrUnreachable and names the
// address, so that a wrong address or a Redis not up yet is seen (see
// ops2_review_test.go). A worker whose Redis goes away after answering
// waits for it, as asynq's does (TestRedisRestart).
func TestPortAsynqServerWithRedisDown(t *testing.T) {
	addr := portClosedAddr(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1})
	defer rdb.Close()
	q, err := New(rdb, "down", "workers", Visibility(portVis))
	if err != nil {
		t.Fatal(err)
	}
	f := newFetcher(t)
	var rs []Result
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		for r := range q.Run(t.Context(), f) {
			rs = append(rs, r)
		}
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Run on an address nothing listens on still waiting after 10s")
	}
	if len(rs) != 1 || rs[0].ID != "" || !errors.Is(rs[0].Err, ErrUnreachable) || !strings.Contains(rs[0].Err.Error(), addr) {
		t.Errorf("results %+v; want one, with no ID, an Err matching ErrUnreachable naming %s", rs, addr)
	}
}

// TestProcessorRetry: a handler's error makes asynq retry the task later,
// and archive it after its max retry. redisqueue does not: the outcome of a
// fetch, an HTTP error included, is a result handed over and acknowledged
// (the Fetcher's own retry policy applies before); only a worker's death,
// or a panic in the loop body, counts toward MaxDeliveries.
func TestPortAsynqProcessorRetry(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	srv := newPortServer(t, 0)
	q := newQueue(t, rdb, Visibility(portVis), MaxDeliveries(1))
	u := srv.URL + "/status/404"
	if _, err := q.Add(t.Context(), slices.Values([]string{u})); err != nil {
		t.Fatal(err)
	}
	rs := runOnce(t, q, newFetcher(t))
	if len(rs) != 1 || rs[0].Status != http.StatusNotFound {
		t.Fatalf("results %+v; want one, status 404", rs)
	}
	if rs := runOnce(t, q, newFetcher(t)); len(rs) != 0 {
		t.Errorf("second run: %+v; want nothing (acknowledged)", rs)
	}
	if st, err := q.Stats(t.Context()); err != nil || st.Pending != 0 || st.Dead != 0 || !st.Drained || srv.count(u) != 1 {
		t.Errorf("Stats = %+v, %v, requested %d times; want nothing pending or dead, drained, one request", st, err, srv.count(u))
	}
}

// TestRecoverer again, with a real crash: at least once after a worker
// process is killed with SIGKILL (as kill_test.go does). Its entries are
// not taken over at once, then are, by the other worker, marked
// reclaimed; every URL gets a result; duplicates are only entries the
// killed worker held.
func TestPortAsynqRecovererKilledWorker(t *testing.T) {
	// The survivor takes the killed worker's entries over once the
	// timeout has passed: a short timeout keeps the test short.
	const (
		total = 200
		vis   = 2 * portVis
	)
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	q := newQueue(t, rdb)
	list := urls(srv.URL, total)
	if _, err := q.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	s := workerSettings{Redis: rdb.Options().Addr, Stream: q.stream, Group: q.group, RateKey: q.stream + ":rate",
		Rate: 200, Burst: 10, Visibility: vis}
	ps := startWorkers(t, "list", 2, s)
	ps.waitLines(t, total*7/10, 30*time.Second) // the rest held by the two workers
	ps.kill(0)
	killed := time.Now()
	held := pendingOf(t, rdb, q, "w0/1")
	if len(held) == 0 {
		t.Fatal("the killed worker held nothing: the case is not what it should be")
	}
	// Not before the timeout: its last renewal was at most a third of the
	// timeout before the kill, so for a third of it after, every entry it
	// held must still be with it.
	for time.Since(killed) < vis/3 {
		still := pendingOf(t, rdb, q, "w0/1")
		if elapsed := time.Since(killed); elapsed < vis/3 && len(still) != len(held) {
			t.Fatalf("%v after the kill: the killed worker holds %d of its %d entries; want all, until the visibility timeout (%v)", elapsed, len(still), len(held), vis)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ps.wait(t, 0, 60*time.Second)
	t.Logf("the survivor drained the queue %v after the kill", time.Since(killed).Round(time.Millisecond))

	recs := ps.records(t)
	byURL := map[string]int{}
	for _, r := range recs {
		if r.Error != "" || r.Status != http.StatusOK {
			t.Errorf("%s: status %d, error %q", r.URL, r.Status, r.Error)
		}
		byURL[r.URL]++
	}
	heldURLs := map[string]bool{}
	for _, u := range held {
		heldURLs[u] = true
	}
	for _, u := range list {
		switch n := byURL[u]; {
		case n == 0:
			t.Errorf("%s: no result", u)
		case n > 1 && !heldURLs[u]:
			t.Errorf("%s: %d results; the killed worker did not hold it", u, n)
		}
	}
	// Every entry the killed worker held comes from the survivor, marked.
	survivor := map[string]bool{}
	for _, r := range recs {
		if r.Reclaimed {
			survivor[r.ID] = true
		}
	}
	for id, u := range held {
		if !survivor[id] {
			t.Errorf("%s (%s), held by the killed worker: no result marked reclaimed", id, u)
		}
	}
	if st, err := q.Stats(t.Context()); err != nil || st.Pending != 0 || !st.Drained || st.Entries != 0 {
		t.Errorf("Stats = %+v, %v; want none pending, drained, no entry left", st, err)
	}
	t.Logf("killed worker held %d entries; %d results for %d URLs", len(held), len(recs), total)
}
