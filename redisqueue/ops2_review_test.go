package redisqueue

// Second operator review of the work queue, as an operator running workers
// on several machines sees it: a worker started while Redis is unreachable,
// a worker (or a crawl) stopped while Redis is frozen, a Redis still
// loading its data at the start, two producers at once. Waits are for
// events, each bounded; the one timed bound is how soon a stopped worker
// returns, which is the behaviour under test.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/redis/go-redis/v9"
)

// ops2Listener is a loopback listener whose accepted connections a test's
// cleanup closes, with the listener, so that no goroutine outlives it.
type ops2Listener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  chan struct{} // closed by close
}

func ops2Listen(t *testing.T, serve func(l *ops2Listener, c net.Conn)) *ops2Listener {
	t.Helper()
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &ops2Listener{Listener: nl, done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			l.track(c)
			wg.Go(func() {
				defer c.Close()
				serve(l, c)
			})
		}
	})
	t.Cleanup(func() {
		close(l.done)
		l.Close()
		l.mu.Lock()
		for _, c := range l.conns {
			c.Close()
		}
		l.mu.Unlock()
		wg.Wait()
	})
	return l
}

// track notes c, to be closed when the test ends.
func (l *ops2Listener) track(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns = append(l.conns, c)
}

// pipe copies between a and b both ways until either side ends, then
// closes both; stalled, if not nil, is asked before each chunk is passed
// on: once it reports true, nothing more goes through, as with a proxy or
// a route that stops forwarding, until the test ends.
func (l *ops2Listener) pipe(a io.Reader, ac, b net.Conn, stalled *atomic.Bool) {
	copyOne := func(dst io.Writer, src io.Reader) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if stalled != nil && stalled.Load() {
				<-l.done
				return
			}
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { copyOne(b, a); ac.Close(); b.Close() })
	copyOne(ac, b)
	ac.Close()
	b.Close()
	wg.Wait()
}

// stallingProxy forwards connections to upstream until stall is called;
// then it passes nothing more either way, keeping the connections open, as
// a TCP proxy that stops forwarding does.
func stallingProxy(t *testing.T, upstream string) (addr string, stall func()) {
	var stalled atomic.Bool
	l := ops2Listen(t, func(l *ops2Listener, c net.Conn) {
		up, err := net.Dial("tcp", upstream)
		if err != nil {
			return
		}
		l.track(up)
		l.pipe(c, c, up, &stalled)
	})
	return l.Addr().String(), func() { stalled.Store(true) }
}

// loadingProxy forwards connections to upstream, but answers every command
// with LOADING, as a Redis loading its data at the start does, until ready
// is called.
func loadingProxy(t *testing.T, upstream string) (addr string, ready func()) {
	var isReady atomic.Bool
	l := ops2Listen(t, func(l *ops2Listener, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			var raw []byte
			if !isReady.Load() {
				var err error
				if raw, err = readCommand(br); err != nil {
					return
				}
			}
			if !isReady.Load() {
				if _, err := io.WriteString(c, "-LOADING Redis is loading the dataset in memory\r\n"); err != nil {
					return
				}
				continue
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				return
			}
			l.track(up)
			if _, err := up.Write(raw); err != nil {
				return
			}
			l.pipe(br, c, up, nil)
			return
		}
	})
	return l.Addr().String(), func() { isReady.Store(true) }
}

// readCommand reads one command a Redis client sends (an array of bulk
// strings) and returns its bytes as read.
func readCommand(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var n int
	if _, err := fmt.Sscanf(string(line), "*%d\r\n", &n); err != nil {
		return nil, fmt.Errorf("not a command: %q", line)
	}
	raw := line
	for range n {
		head, err := br.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		var size int
		if _, err := fmt.Sscanf(string(head), "$%d\r\n", &size); err != nil {
			return nil, fmt.Errorf("not a bulk string: %q", head)
		}
		body := make([]byte, size+2)
		if _, err := io.ReadFull(br, body); err != nil {
			return nil, err
		}
		raw = append(append(raw, head...), body...)
	}
	return raw, nil
}

// runAll runs a worker on q until Run returns, or within, and returns its
// results.
func runAll(t *testing.T, ctx context.Context, q *Queue, f *fetch.Fetcher, within time.Duration) []Result {
	t.Helper()
	var rs []Result
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r := range q.Run(ctx, f) {
			rs = append(rs, r)
		}
	}()
	select {
	case <-done:
	case <-time.After(within): // a bound on failure
		t.Fatalf("Run still running after %v", within)
	}
	return rs
}

// A worker started while Redis cannot be reached (nothing listens at the
// address: a wrong address, or a Redis not up yet) does not wait in
// silence: its very first call fails, and Run ends at once with one Result,
// no ID, whose Err matches ErrUnreachable and names the address and the
// cause. So do a crawl's Frontier (Next's error) and Add. A Redis that
// accepts the connection and never answers is reported the same way, once
// the client's read timeout has passed.
func TestOps2UnreachableAtStart(t *testing.T) {
	blackhole := ops2Listen(t, func(l *ops2Listener, c net.Conn) { <-l.done })
	for _, tc := range []struct {
		name, addr, cause string
	}{
		{"nothing listens", portClosedAddr(t), "connection refused"},
		{"never answers", blackhole.Addr().String(), "i/o timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: tc.addr, DisableIdentity: true, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
			t.Cleanup(func() { rdb.Close() })
			q, err := New(rdb, uniqueName(t), "workers")
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), tc.addr) || !strings.Contains(err.Error(), tc.cause) {
					t.Errorf("%s: %v; want an error matching ErrUnreachable naming %s and %q", what, err, tc.addr, tc.cause)
				}
			}
			rs := runAll(t, t.Context(), q, newFetcher(t), 10*time.Second)
			if len(rs) != 1 || rs[0].ID != "" {
				t.Fatalf("Run's results %+v; want one, with no ID", rs)
			}
			check("Run", rs[0].Err)

			fr := q.Frontier()
			_, ok, err := fr.Next(t.Context())
			fr.Close()
			if ok {
				t.Errorf("Frontier.Next returned an entry")
			}
			check("Frontier.Next", err)

			_, err = q.Add(t.Context(), slices.Values([]string{"http://example.com/"}))
			check("Add", err)
		})
	}
}

// A Redis that answers LOADING at the start (it is loading its data after
// a restart) has answered: the worker waits for it, saying so in the log,
// and fetches the queue once it is ready.
func TestOps2LoadingAtStartIsWaitedFor(t *testing.T) {
	rs := startRedis(t)
	direct := newClient(t, rs.Addr)
	srv := newCountingServer(t)
	addr, ready := loadingProxy(t, rs.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	t.Cleanup(func() { rdb.Close() })
	warned := make(warnings, 16)
	q, err := New(rdb, uniqueName(t), "workers", Logger(slog.New(warned)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Delete(context.Background()) })
	list := urls(srv.URL, 5)
	qd, _ := New(direct, q.stream, q.group)
	if _, err := qd.Add(t.Context(), slices.Values(list)); err != nil {
		t.Fatal(err)
	}
	go func() {
		select {
		case msg := <-warned: // a bound on failure: Run returns without it
			if strings.Contains(msg, "Redis unavailable") {
				ready()
				return
			}
			t.Errorf("warning %q; want one saying Redis is unavailable", msg)
		case <-time.After(10 * time.Second):
		}
		ready() // so that Run ends
	}()
	got := runAll(t, t.Context(), q, newFetcher(t), 30*time.Second)
	if len(got) != len(list) {
		t.Fatalf("results %+v; want one for each of the %d URLs", got, len(list))
	}
	for _, r := range got {
		if r.Err != nil || r.ID == "" {
			t.Errorf("result %+v; want a fetched entry", r)
		}
	}
}

// cancelSoon calls cancel, which ends what, and fails t unless what
// returns (closes done) within FlushTimeout, with three seconds' grace for
// a loaded machine (before the fix: 10.9 s for a crawl, 15.4 s for Run).
func cancelSoon(t *testing.T, cancel context.CancelFunc, done <-chan struct{}, what string) {
	t.Helper()
	cancelled := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a bound on failure
		t.Fatalf("%s still running 30s after its context was cancelled", what)
	}
	took := time.Since(cancelled)
	if took > DefaultFlushTimeout+3*time.Second {
		t.Errorf("%s returned %v after its context was cancelled; want within FlushTimeout (%v)", what, took, DefaultFlushTimeout)
	}
	t.Logf("%s returned %v after its context was cancelled", what, took)
}

// gatedServer answers /fast/ at once and holds /slow/ until open is
// called or the request is cancelled, telling slow of each /slow/ request
// it holds.
func gatedServer(t *testing.T) (srv *httptest.Server, slow <-chan string, open func()) {
	came := make(chan string, 64)
	gate := make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow/") {
			select {
			case <-gate:
			default:
				came <- r.URL.Path
				select {
				case <-gate:
				case <-r.Context().Done():
					return
				}
			}
		}
		io.WriteString(w, "ok")
	}))
	var once sync.Once
	open = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(srv.Close)
	t.Cleanup(open) // before srv.Close: cleanups run last first
	return srv, came, open
}

// Redis stops answering (SIGSTOP, or a proxy that stops forwarding) while
// a worker holds entries it is fetching, and the worker's context is
// cancelled (Ctrl-C): Run returns within FlushTimeout (about a second),
// not after the Redis client's timeouts (15 s and more). The entries it
// held stay pending; once Redis answers again, another worker takes them
// over after the visibility timeout and fetches them: none is lost, and
// none that the stopped worker handed over (and had acknowledged) is
// fetched again.
func TestOps2CancelWhileRedisFrozen(t *testing.T) {
	const nFast, nSlow = 6, 3
	for _, how := range []string{"SIGSTOP", "proxy stalls"} {
		t.Run(how, func(t *testing.T) {
			rs := startRedis(t)
			direct := newClient(t, rs.Addr)
			addr, freeze := rs.Addr, func() {
				if err := rs.Freeze(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { rs.Thaw() })
			}
			thaw := func() { rs.Thaw() }
			if how == "proxy stalls" {
				addr, freeze = stallingProxy(t, rs.Addr)
				thaw = func() {} // worker B goes round the proxy
			}
			rdbA := newClient(t, addr)
			srv, slow, open := gatedServer(t)
			const visibility = time.Second
			// No newQueue: its cleanup would delete the stream through A's
			// client, which may not answer; the server is the test's own.
			qA, err := New(rdbA, uniqueName(t), "workers", Visibility(visibility))
			if err != nil {
				t.Fatal(err)
			}
			var list []string
			for i := range nFast {
				list = append(list, fmt.Sprintf("%s/fast/%d", srv.URL, i))
			}
			for i := range nSlow {
				list = append(list, fmt.Sprintf("%s/slow/%d", srv.URL, i))
			}
			if _, err := qA.Add(t.Context(), slices.Values(list)); err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var gotA []Result
			aDone := make(chan struct{})
			go func() {
				defer close(aDone)
				for r := range qA.Run(ctx, newFetcher(t, fetch.WithConcurrency(nSlow+1))) {
					gotA = append(gotA, r)
				}
			}()
			for range nSlow {
				select {
				case <-slow:
				case <-time.After(30 * time.Second): // a bound on failure
					t.Fatal("worker A never fetched the slow entries")
				}
			}
			// A's fast results acknowledged: only the slow entries pending.
			portWaitFor(t, 10*time.Second, "the fast entries acknowledged", func() bool {
				return pendingCount(t, direct, qA) == nSlow
			})
			freeze()
			cancelSoon(t, cancel, aDone, "worker A's Run")
			if len(gotA) != nFast {
				t.Errorf("worker A: %d results; want the %d fast ones", len(gotA), nFast)
			}
			for _, r := range gotA {
				if !strings.Contains(r.URL, "/fast/") || r.Err != nil {
					t.Errorf("worker A: result %+v; want a fast one, fetched", r)
				}
			}

			thaw()
			open()
			qB, err := New(direct, qA.stream, qA.group, Visibility(visibility))
			if err != nil {
				t.Fatal(err)
			}
			gotB := runAll(t, t.Context(), qB, newFetcher(t), 60*time.Second)
			var slowB []string
			for _, r := range gotB {
				if !strings.Contains(r.URL, "/slow/") || !r.Reclaimed || r.ID == "" {
					t.Errorf("worker B: result %+v; want only A's slow entries, taken over (Reclaimed)", r)
				}
				slowB = append(slowB, r.URL)
			}
			slices.Sort(slowB)
			if want := list[nFast:]; !slices.Equal(slowB, want) {
				t.Errorf("worker B fetched %q; want A's held entries %q, once each", slowB, want)
			}
			st, err := qB.Stats(t.Context())
			if err != nil || !st.Drained || st.Pending != 0 || st.Dead != 0 {
				t.Errorf("queue at the end: %+v, %v; want drained, nothing pending, nothing set aside", st, err)
			}
		})
	}
}

// A crawl shared through a Frontier is cancelled while Redis is frozen:
// Run returns within FlushTimeout, as Queue.Run does, though the
// Frontier's Next was waiting on a read Redis does not answer (the crawl
// waits for Next, and the Redis client does not cut the read short).
func TestOps2CrawlCancelWhileRedisFrozen(t *testing.T) {
	rs := startRedis(t)
	q := newQueue(t, newClient(t, rs.Addr))
	slow := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			slow <- struct{}{}
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<a href="/slow">slow</a>`)
	}))
	t.Cleanup(srv.Close)
	c, err := fetch.NewCrawler(newFetcher(t), fetch.CrawlFrontier(q.Frontier()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range c.Run(ctx, srv.URL+"/") {
			p.Follow(p.Links()...)
		}
	}()
	select {
	case <-slow: // the link is queued, taken and being fetched: Next waits on Redis
	case <-time.After(30 * time.Second): // a bound on failure
		t.Fatal("the crawl never fetched /slow")
	}
	if err := rs.Freeze(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Thaw() })
	cancelSoon(t, cancel, done, "the crawl")
}

// Two producers add overlapping lists at once, each in several batches:
// every URL is queued once, and the counts Add returns add up to the
// URLs queued.
func TestOps2TwoProducers(t *testing.T) {
	rdb := newClient(t, redisAddr(t))
	q := newQueue(t, rdb)
	const n = 3 * addBatch
	a, b := urls("http://h.test", n), urls("http://h.test", n)
	slices.Reverse(b) // the two meet in the middle
	var added [2]int
	var wg sync.WaitGroup
	for i, list := range [][]string{a, b} {
		wg.Go(func() {
			p, err := New(newClient(t, rdb.Options().Addr), q.stream, q.group)
			if err != nil {
				t.Error(err)
				return
			}
			if added[i], err = p.Add(t.Context(), slices.Values(list)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	st, err := q.Stats(t.Context())
	if err != nil || st.Entries != n || st.Seen != n || added[0]+added[1] != n {
		t.Errorf("Stats %+v, %v, added %v; want %d entries and keys, added adding up to %d", st, err, added, n, n)
	}
}
