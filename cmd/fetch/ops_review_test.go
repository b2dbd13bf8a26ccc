package main

// Operations review of a --queue worker, as an operator runs N of them
// under systemd or Kubernetes: signals, SIGKILL, Redis going away at the
// start or mid-run, --enqueue, --total, -O, and the exit statuses -h
// documents. Workers are processes of their own (the test binary, run as
// the command: see reviewCommand), so that signals and deaths are real.
// Every wait polls a condition up to a deadline; the one fixed period
// (measuring CPU while Redis is down) is a measurement, not a wait for an
// event. Tests that show a defect are kept, skipped with "DEFECT:".

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/c989c033/fetch/internal/redistest"
	"github.com/c989c033/fetch/redisqueue"
	"github.com/redis/go-redis/v9"
)

// opsBuf is a bytes.Buffer safe to read while a process writes it.
type opsBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *opsBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *opsBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// opsProc is a worker process.
type opsProc struct {
	t              *testing.T
	name           string
	cmd            *exec.Cmd
	stdout, stderr *opsBuf
	done           chan struct{}
	code           int // once done is closed
}

// opsStart starts the command with args as a process of its own, with
// stdin as its standard input (nil: none). It is killed, if still running,
// when t ends.
func opsStart(t *testing.T, name string, stdin *os.File, args ...string) *opsProc {
	t.Helper()
	cmd := reviewCommand(t, args...)
	p := &opsProc{t: t, name: name, cmd: cmd, stdout: new(opsBuf), stderr: new(opsBuf), done: make(chan struct{})}
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill() // our own child, by its handle
			<-p.done
		}
	})
	return p
}

func (p *opsProc) signal(sig os.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("%s: signal %v: %v", p.name, sig, err)
	}
}

// exited reports whether the process has exited.
func (p *opsProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to within for the process to exit and returns its exit
// status, failing t if it does not.
func (p *opsProc) wait(within time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(within): // a bound on failure
		p.t.Fatalf("%s still running after %v; stderr:\n%s", p.name, within, p.stderr)
	}
	return 0
}

// opsPoll polls cond every 10ms until it holds, failing t if it does not
// within the bound.
func opsPoll(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !opsTryPoll(within, cond) {
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
}

// opsTryPoll polls cond every 10ms until it holds (true) or within has
// passed (false).
func opsTryPoll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// opsSite serves /fast/... at once and holds /slow/... until its gate is
// opened (or the client goes away); then it answers those at once too.
// Every body is "body of PATH".
type opsSite struct {
	*httptest.Server
	gate    chan struct{}
	once    sync.Once
	waiting atomic.Int64 // /slow requests held at the gate right now
	mu      sync.Mutex
	hits    map[string]int
}

func opsNewSite(t *testing.T) *opsSite {
	t.Helper()
	s := &opsSite{gate: make(chan struct{}), hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/slow") {
			s.waiting.Add(1)
			select {
			case <-s.gate:
				s.waiting.Add(-1)
			case <-r.Context().Done():
				s.waiting.Add(-1)
				return
			}
		}
		fmt.Fprintf(w, "body of %s", r.URL.Path)
	}))
	t.Cleanup(s.Close)
	t.Cleanup(s.open) // first: Close waits for the held requests
	return s
}

func (s *opsSite) open() { s.once.Do(func() { close(s.gate) }) }

// urls returns nFast /fast URLs, then nSlow /slow URLs.
func (s *opsSite) urls(nFast, nSlow int) []string {
	var urls []string
	for i := range nFast {
		urls = append(urls, fmt.Sprintf("%s/fast/%d", s.URL, i))
	}
	for i := range nSlow {
		urls = append(urls, fmt.Sprintf("%s/slow/%d", s.URL, i))
	}
	return urls
}

// opsEnqueue adds urls to queue with --enqueue -, in order.
func opsEnqueue(t *testing.T, queue string, urls []string) {
	t.Helper()
	code, _, stderr := runCmd(t, strings.Join(urls, "\n")+"\n", "-q", "--queue", queue, "--group", "workers", "--enqueue", "-")
	if code != exitOK {
		t.Fatalf("--enqueue: exit %d, %s", code, stderr)
	}
}

// opsStream is the stream's name in a --queue address.
func opsStream(queue string) string {
	a := strings.TrimPrefix(queue, "redis://")
	return a[strings.Index(a, "/")+1:]
}

// opsAddr is the Redis address in a --queue address.
func opsAddr(queue string) string {
	a := strings.TrimPrefix(queue, "redis://")
	return a[:strings.Index(a, "/")]
}

// opsPending lists the entries pending with group "workers" of queue.
func opsPending(t *testing.T, queue string) []redis.XPendingExt {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: opsAddr(queue)})
	defer rdb.Close()
	p, err := rdb.XPendingExt(context.Background(), &redis.XPendingExtArgs{
		Stream: opsStream(queue), Group: "workers", Start: "-", End: "+", Count: 10000,
	}).Result()
	if err != nil {
		t.Fatalf("XPENDING: %v", err)
	}
	return p
}

// opsLines counts the complete lines in file so far.
func opsLines(file string) int {
	data, _ := os.ReadFile(file)
	return bytes.Count(data, []byte("\n"))
}

// opsRecords reads the records in file, failing t on any line that is not
// exactly one.
func opsRecords(t *testing.T, file string) []record {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("%s ends in a partial line: %q", file, data[bytes.LastIndexByte(data, '\n')+1:])
	}
	return lineRecords(t, string(data))
}

// opsPath is the path of a record's URL.
func opsPath(t *testing.T, site *opsSite, r record) string {
	t.Helper()
	p, ok := strings.CutPrefix(r.URL, site.URL)
	if !ok {
		t.Errorf("record %+v: not a URL of the test site", r)
	}
	return p
}

// opsCPU returns the CPU time pid has used, from /proc (Linux).
func opsCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// After the command's name: state (field 3) ... utime (14), stime (15).
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	const clockTicks = 100 // USER_HZ, 100 on every Linux port Go runs on
	return time.Duration(ut+st) * time.Second / clockTicks
}

// --- Signals ------------------------------------------------------------

// SIGTERM (143) or SIGINT (130) during a run: the records already fetched
// are written, exactly their entries are acknowledged, the entries the
// worker still held (in flight, or read ahead) are released at once, and
// the worker exits well within FlushTimeout. A worker started next takes
// the released entries at once (long before the 30s visibility timeout),
// so that every URL has exactly one record, and -O holds each body once.
func TestOpsSignalWritesAcksAndReleases(t *testing.T) {
	for _, tc := range []struct {
		sig  os.Signal
		code int
	}{{syscall.SIGTERM, exitTerminated}, {syscall.SIGINT, exitInterrupted}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel()
			queue, q := newQueue(t, redisAddr(t))
			site := opsNewSite(t)
			const nFast, nSlow, conc = 10, 6, 4
			urls := site.urls(nFast, nSlow)
			opsEnqueue(t, queue, urls)
			dir := t.TempDir()
			saved := filepath.Join(dir, "saved")
			outA, outB := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
			a := opsStart(t, "worker A", nil, "-q", "-c", strconv.Itoa(conc), "--retries", "0",
				"--queue", queue, "--group", "workers", "-o", outA, "-O", saved)
			opsPoll(t, 30*time.Second, "the fast records written and -c slow requests in flight", func() bool {
				return opsLines(outA) == nFast && site.waiting.Load() == conc
			})
			sent := time.Now()
			a.signal(tc.sig)
			code := a.wait(30 * time.Second)
			took := time.Since(sent)
			if code != tc.code {
				t.Errorf("worker A: exit %d after %v; want %d\n%s", code, tc.sig, tc.code, a.stderr)
			}
			if took > redisqueue.DefaultFlushTimeout {
				t.Errorf("worker A took %v to exit after %v; want it within FlushTimeout (%v)", took, tc.sig, redisqueue.DefaultFlushTimeout)
			}

			recsA := opsRecords(t, outA)
			written := map[string]bool{}
			for _, r := range recsA {
				if p := opsPath(t, site, r); !strings.HasPrefix(p, "/fast/") || r.Status != 200 || r.ID == "" || r.File == "" || written[r.ID] {
					t.Errorf("worker A record %+v; want a /fast URL, 200, a file, an entry ID of its own", r)
				}
				written[r.ID] = true
			}
			if len(recsA) != nFast {
				t.Errorf("worker A wrote %d records; want the %d fetched before %v, and none for the canceled", len(recsA), nFast, tc.sig)
			}
			pending := opsPending(t, queue)
			if len(pending) != nSlow {
				t.Errorf("%d entries pending after worker A; want the %d it had not written", len(pending), nSlow)
			}
			for _, p := range pending {
				if written[p.ID] {
					t.Errorf("entry %s: record written, yet not acknowledged", p.ID)
				}
				if p.Idle < redisqueue.DefaultVisibility {
					t.Errorf("entry %s pending, idle %v: not released (a release sets it to the visibility timeout, %v)", p.ID, p.Idle, redisqueue.DefaultVisibility)
				}
			}

			site.open()
			start := time.Now()
			b := opsStart(t, "worker B", nil, "-q", "--queue", queue, "--group", "workers", "--total", "20s", "-o", outB, "-O", saved)
			if code := b.wait(60 * time.Second); code != exitOK {
				t.Errorf("worker B: exit %d; want 0 (a --total of 20s reached means the entries were not released)\n%s", code, b.stderr)
			}
			if took := time.Since(start); took >= redisqueue.DefaultVisibility/2 {
				t.Errorf("worker B took %v for the released entries; want them at once", took)
			}
			recsB := opsRecords(t, outB)
			if len(recsB) != nSlow {
				t.Errorf("worker B wrote %d records; want the %d released", len(recsB), nSlow)
			}
			perURL := map[string]int{}
			for _, r := range append(recsA, recsB...) {
				perURL[r.URL]++
				if r.Status != 200 || r.ID == "" {
					t.Errorf("record %+v: want 200 and an entry ID", r)
					continue
				}
				if body, err := os.ReadFile(r.File); err != nil || string(body) != "body of "+opsPath(t, site, r) {
					t.Errorf("record %+v: file holds %q, %v; want its body", r, body, err)
				}
			}
			for _, u := range urls {
				if perURL[u] != 1 {
					t.Errorf("%s: %d records across both workers; want 1", u, perURL[u])
				}
			}
			entries, _ := os.ReadDir(saved)
			if len(entries) != len(urls) {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("-O holds %q; want one file per URL (%d), no temporary or duplicate", names, len(urls))
			}
			for _, r := range recsB {
				if r.Reclaimed {
					t.Logf("note: released entry %s (no record written by worker A) comes back with \"reclaimed\": true", r.ID)
					break
				}
			}
			st, err := q.Stats(context.Background())
			if err != nil || !st.Drained || st.Pending != 0 || st.Entries != 0 {
				t.Errorf("queue at the end: %+v, %v; want drained, nothing pending or left", st, err)
			}
		})
	}
}

// A SIGKILLed worker loses nothing: the entries it held stay pending (not
// acknowledged, not released), and another worker takes them over once
// the visibility timeout has passed (--visibility, 3s here), with
// "reclaimed": true, and fetches them. Any URL with two records has
// "reclaimed" on the second.
func TestOpsSIGKILLLosesNothing(t *testing.T) {
	const visibility = 3 * time.Second
	t.Parallel()
	queue, q := newQueue(t, redisAddr(t))
	site := opsNewSite(t)
	const nFast, nSlow = 3, 2
	urls := site.urls(nFast, nSlow)
	opsEnqueue(t, queue, urls)
	dir := t.TempDir()
	outA, outB := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	a := opsStart(t, "worker A", nil, "-q", "-c", "4", "--retries", "0", "--queue", queue, "--group", "workers", "--visibility", visibility.String(), "-o", outA)
	opsPoll(t, 30*time.Second, "the fast records written and the slow requests in flight", func() bool {
		return opsLines(outA) == nFast && site.waiting.Load() == nSlow
	})
	a.signal(syscall.SIGKILL)
	killed := time.Now()
	a.wait(30 * time.Second)
	recsA := opsRecords(t, outA)
	slowPending := 0
	for _, p := range opsPending(t, queue) {
		if p.Idle >= visibility {
			t.Errorf("entry %s idle %v right after SIGKILL: a dead worker cannot have released it", p.ID, p.Idle)
		}
		slowPending++
	}
	if slowPending < nSlow {
		t.Errorf("%d entries pending after SIGKILL; want at least the %d in flight", slowPending, nSlow)
	}

	site.open()
	b := opsStart(t, "worker B", nil, "-q", "--queue", queue, "--group", "workers", "--visibility", visibility.String(), "--total", "120s", "-o", outB)
	if code := b.wait(150 * time.Second); code != exitOK {
		t.Errorf("worker B: exit %d; want 0\n%s", code, b.stderr)
	}
	if took := time.Since(killed); took < visibility*2/3 {
		t.Errorf("worker B done %v after the kill; the entries should not be taken over before the visibility timeout (%v)", took, visibility)
	}
	recsB := opsRecords(t, outB)
	perURL := map[string][]record{}
	for _, r := range recsA {
		perURL[r.URL] = append(perURL[r.URL], r)
	}
	for _, r := range recsB {
		perURL[r.URL] = append(perURL[r.URL], r)
		if !r.Reclaimed || r.Status != 200 || r.ID == "" {
			t.Errorf("worker B record %+v; want 200, an entry ID, reclaimed (taken over from a dead worker)", r)
		}
	}
	for _, u := range urls {
		if rs := perURL[u]; len(rs) == 0 || len(rs) > 2 {
			t.Errorf("%s: %d records; want 1, or 2 with the second reclaimed", u, len(rs))
		}
	}
	for i := range nSlow {
		if u := fmt.Sprintf("%s/slow/%d", site.URL, i); len(perURL[u]) != 1 {
			t.Errorf("%s (in flight at SIGKILL): %d records; want 1, from worker B", u, len(perURL[u]))
		}
	}
	st, err := q.Stats(context.Background())
	if err != nil || !st.Drained || st.Pending != 0 || st.Dead != 0 {
		t.Errorf("queue at the end: %+v, %v; want drained, nothing pending, nothing set aside", st, err)
	}
}

// --- Redis unavailable ------------------------------------------------------

// opsBlackhole listens on loopback and accepts connections that it never
// answers, as a Redis behind a dead route or a firewall dropping packets
// would be. It sends on accepted for each connection.
func opsBlackhole(t *testing.T) (string, chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 100)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c)
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String(), accepted
}

// A Redis that accepts connections but never answers, at the start: the
// worker, and --enqueue, give up after the 5s ping timeout with one line
// naming --queue and exit 2, as the README says.
func TestOpsRedisSilentAtStart(t *testing.T) {
	t.Parallel()
	addr, _ := opsBlackhole(t)
	list := filepath.Join(t.TempDir(), "urls.txt")
	os.WriteFile(list, []byte("http://127.0.0.1:1/a\n"), 0o644)
	queue := "redis://" + addr + "/urls"
	for name, args := range map[string][]string{
		"worker":  {"-q", "--queue", queue},
		"enqueue": {"--queue", queue, "--enqueue", list},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			p := opsStart(t, name, nil, args...)
			code := p.wait(pingTimeout + 20*time.Second)
			took := time.Since(start)
			stderr := p.stderr.String()
			if code != exitUsage || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "fetch: --queue "+queue) || p.stdout.String() != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and one line naming --queue", code, p.stdout, stderr)
			}
			if took > pingTimeout+3*time.Second {
				t.Errorf("gave up after %v; want about the ping timeout, %v", took, pingTimeout)
			}
		})
	}
}

// SIGTERM while the worker waits for Redis to answer at the start exits
// 143, as -h documents for a terminated run.
func TestOpsSIGTERMWhileConnecting(t *testing.T) {
	t.Parallel()
	addr, accepted := opsBlackhole(t)
	p := opsStart(t, "worker", nil, "-q", "--queue", "redis://"+addr+"/urls")
	select {
	case <-accepted:
	case <-time.After(30 * time.Second): // a bound on failure
		t.Fatal("the worker never connected")
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != exitTerminated {
		t.Errorf("exit %d after SIGTERM while connecting, stderr %q; want 143", code, p.stderr)
	}
}

// Redis going away mid-run: the worker says so on stderr, does not exit,
// does not spin (its CPU stays near idle while it waits), still fetches
// and writes the entries it holds, and once Redis is back (durable, so
// the queue survived) writes their acknowledgements and finishes with
// exit 0 and exactly one record per URL.
func TestOpsRedisDownMidRun(t *testing.T) {
	t.Parallel()
	srv := redistest.StartDurable(t)
	queue, q := newQueue(t, srv.Addr)
	site := opsNewSite(t)
	const nFast, nSlow = 3, 2
	urls := site.urls(nFast, nSlow)
	opsEnqueue(t, queue, urls)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	w := opsStart(t, "worker", nil, "-q", "-c", "4", "--retries", "0", "--queue", queue, "--group", "workers", "-o", out)
	opsPoll(t, 30*time.Second, "the fast records written and the slow requests in flight", func() bool {
		return opsLines(out) == nFast && site.waiting.Load() == nSlow
	})
	srv.Stop()
	opsPoll(t, 30*time.Second, "the worker to say Redis is unavailable", func() bool {
		return strings.Contains(w.stderr.String(), "Redis unavailable")
	})

	// Measure the CPU the waiting worker uses over a fixed period.
	const period = 2 * time.Second
	before := opsCPU(t, w.cmd.Process.Pid)
	select {
	case <-w.done:
	case <-time.After(period):
	}
	if w.exited() {
		t.Fatalf("worker exited (%d) while Redis was down; want it to wait\n%s", w.code, w.stderr)
	}
	if used := opsCPU(t, w.cmd.Process.Pid) - before; used > period/5 {
		t.Errorf("worker used %v of CPU in %v while Redis was down; want it idle, not spinning", used, period)
	}

	site.open() // the held entries are fetched and written while Redis is down
	opsPoll(t, 30*time.Second, "the held entries' records while Redis is down", func() bool {
		return opsLines(out) == nFast+nSlow
	})
	if w.exited() {
		t.Fatalf("worker exited (%d) with its acknowledgements unwritten\n%s", w.code, w.stderr)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if code := w.wait(60 * time.Second); code != exitOK {
		t.Errorf("worker: exit %d once Redis was back; want 0\n%s", code, w.stderr)
	}
	perURL := map[string]int{}
	for _, r := range opsRecords(t, out) {
		perURL[r.URL]++
		if r.Status != 200 || r.ID == "" {
			t.Errorf("record %+v; want 200 and an entry ID", r)
		}
	}
	for _, u := range urls {
		if perURL[u] != 1 {
			t.Errorf("%s: %d records; want 1", u, perURL[u])
		}
	}
	st, err := q.Stats(context.Background())
	if err != nil || !st.Drained || st.Pending != 0 {
		t.Errorf("queue at the end: %+v, %v; want drained, nothing pending", st, err)
	}
	t.Logf("worker's stderr:\n%s", w.stderr)
}

// SIGTERM while Redis is down: the worker exits 143 within FlushTimeout,
// with the records it wrote kept; what it could neither acknowledge nor
// release stays pending in Redis (for another worker after the visibility
// timeout), nothing acknowledged that was not written.
func TestOpsSIGTERMWhileRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.StartDurable(t)
	queue, _ := newQueue(t, srv.Addr)
	site := opsNewSite(t)
	urls := site.urls(2, 1)
	opsEnqueue(t, queue, urls)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	w := opsStart(t, "worker", nil, "-q", "-c", "4", "--queue", queue, "--group", "workers", "-o", out)
	opsPoll(t, 30*time.Second, "the fast records written and the slow request in flight", func() bool {
		return opsLines(out) == 2 && site.waiting.Load() == 1
	})
	srv.Stop()
	opsPoll(t, 30*time.Second, "the worker to say Redis is unavailable", func() bool {
		return strings.Contains(w.stderr.String(), "Redis unavailable")
	})
	sent := time.Now()
	w.signal(syscall.SIGTERM)
	code := w.wait(30 * time.Second)
	if took := time.Since(sent); took > redisqueue.DefaultFlushTimeout+time.Second {
		t.Errorf("exit after %v; want within FlushTimeout (%v)", took, redisqueue.DefaultFlushTimeout)
	}
	if code != exitTerminated {
		t.Errorf("exit %d; want 143\n%s", code, w.stderr)
	}
	recs := opsRecords(t, out)
	if len(recs) != 2 {
		t.Errorf("%d records; want the 2 written before Redis went away", len(recs))
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	written := map[string]bool{}
	for _, r := range recs {
		written[r.ID] = true
	}
	slowPending := false
	for _, p := range opsPending(t, queue) {
		if !written[p.ID] {
			slowPending = true
		}
	}
	if !slowPending {
		t.Errorf("the entry in flight at SIGTERM is not pending: acknowledged without a record, or lost")
	}
}

// A Redis that restarts empty (no persistence) loses the queue: the
// README and redisqueue's doc say so. But the worker then recreates the
// stream, finds it drained, and exits 0 as if every URL had been fetched,
// saying nothing of the URLs it never saw.
func TestOpsRedisRestartedEmptyIsNotSilentSuccess(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	queue, _ := newQueue(t, srv.Addr)
	site := opsNewSite(t)
	const n = 300
	urls := append(site.urls(0, 1), site.urls(n-1, 0)...)
	opsEnqueue(t, queue, urls)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	w := opsStart(t, "worker", nil, "-q", "-c", "1", "--queue", queue, "--group", "workers", "-o", out)
	opsPoll(t, 30*time.Second, "the slow request in flight", func() bool { return site.waiting.Load() == 1 })
	srv.Stop()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	site.open()
	code := w.wait(60 * time.Second)
	recs := opsRecords(t, out)
	if code == exitOK && len(recs) < n {
		t.Errorf("exit 0 after %d records of the %d URLs queued; want a failure status, or a word on stderr that the queue was lost; stderr:\n%s", len(recs), n, w.stderr)
	}
}

// A queue Redis refuses for good (the key holds another type; the same
// path serves NOPERM and a Redis older than 6.2): the worker says why on
// stderr, where an operator looks, and writes no record that is not an
// entry.
func TestOpsRedisRefusesForGood(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	queue, _ := newQueue(t, addr)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.Set(context.Background(), opsStream(queue), "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	w := opsStart(t, "worker", nil, "-q", "--queue", queue, "--group", "workers", "-o", out)
	code := w.wait(30 * time.Second)
	said := false // a line of fetch's own, not the queue's log, giving the reason
	for _, l := range strings.Split(w.stderr.String(), "\n") {
		said = said || strings.HasPrefix(l, "fetch: ") && strings.Contains(l, "WRONGTYPE")
	}
	if code == exitOK || !said {
		t.Errorf("exit %d, stderr %q; want a failure status and a line \"fetch: ...WRONGTYPE...\"", code, w.stderr)
	}
	for _, r := range opsRecords(t, out) {
		if r.ID == "" {
			t.Errorf("record %+v: no entry ID; want one record per entry, and Redis's refusal on stderr", r)
		}
	}
}

// --- --total --------------------------------------------------------------

// --total ends a worker's run: it writes what it fetched, says --total was
// reached, exits 1, and releases what it held at once, so a worker started
// next fetches it without waiting out the visibility timeout.
func TestOpsTotalReleasesHeld(t *testing.T) {
	t.Parallel()
	queue, q := newQueue(t, redisAddr(t))
	site := opsNewSite(t)
	const nFast, nSlow = 2, 3
	urls := site.urls(nFast, nSlow)
	opsEnqueue(t, queue, urls)
	dir := t.TempDir()
	outA, outB := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	const total = 1500 * time.Millisecond
	start := time.Now()
	a := opsStart(t, "worker A", nil, "-c", "2", "--retries", "0", "--queue", queue, "--group", "workers", "--total", total.String(), "-o", outA)
	code := a.wait(30 * time.Second)
	if took := time.Since(start); took > total+redisqueue.DefaultFlushTimeout {
		t.Errorf("worker A with --total %v exited after %v; want within --total plus FlushTimeout", total, took)
	}
	if want := fmt.Sprintf("--total %v reached after %d results", total, nFast); code != exitSomeFailed || !strings.Contains(a.stderr.String(), want) {
		t.Errorf("worker A: exit %d, stderr %q; want 1 and %q", code, a.stderr, want)
	}
	if recs := opsRecords(t, outA); len(recs) != nFast {
		t.Errorf("worker A: %d records; want the %d fast ones", len(recs), nFast)
	}
	site.open()
	startB := time.Now()
	b := opsStart(t, "worker B", nil, "-q", "--queue", queue, "--group", "workers", "--total", "20s", "-o", outB)
	if code := b.wait(60 * time.Second); code != exitOK || time.Since(startB) > redisqueue.DefaultVisibility/2 {
		t.Errorf("worker B: exit %d after %v; want 0 at once\n%s", code, time.Since(startB), b.stderr)
	}
	if recs := opsRecords(t, outB); len(recs) != nSlow {
		t.Errorf("worker B: %d records; want the %d released", len(recs), nSlow)
	}
	st, err := q.Stats(context.Background())
	if err != nil || !st.Drained || st.Pending != 0 {
		t.Errorf("queue at the end: %+v, %v; want drained", st, err)
	}
}

// --- --enqueue ------------------------------------------------------------

// Enqueuing a list twice adds nothing the second time, and says so, even
// when the list holds a line that is not an absolute URL (a host without
// a scheme, as lists often have): -h says each is added once however
// often it is added.
func TestOpsEnqueueTwiceAddsNothing(t *testing.T) {
	queue, q := newQueue(t, redisAddr(t))
	list := "http://127.0.0.1:1/a\nexample.com/b\n"
	stream := opsStream(queue)
	code, _, stderr := runCmd(t, list, "--queue", queue, "--group", "workers", "--enqueue", "-")
	if want := fmt.Sprintf("added 2 of 2 URLs to %s (0 seen before)\n", stream); code != exitOK || stderr != want {
		t.Fatalf("first --enqueue: exit %d, stderr %q; want 0 and %q", code, stderr, want)
	}
	code, _, stderr = runCmd(t, list, "--queue", queue, "--group", "workers", "--enqueue", "-")
	if want := fmt.Sprintf("added 0 of 2 URLs to %s (2 seen before)\n", stream); code != exitOK || stderr != want {
		t.Errorf("second --enqueue: exit %d, stderr %q; want 0 and %q", code, stderr, want)
	}
	if st, err := q.Stats(context.Background()); err != nil || st.Entries != 2 {
		t.Errorf("queue: %+v, %v; want 2 entries", st, err)
	}
}

// SIGTERM while --enqueue - waits on standard input (a pipe whose writer
// is still open, or a terminal): it exits 143 promptly, as a fetch reading
// standard input does, rather than hanging until the next line comes.
func TestOpsEnqueueSIGTERMWhileReadingStdin(t *testing.T) {
	t.Parallel()
	queue, _ := newQueue(t, redisAddr(t))
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer wr.Close()
	p := opsStart(t, "enqueue", r, "--queue", queue, "--group", "workers", "--enqueue", "-")
	r.Close()
	fmt.Fprintln(wr, "http://127.0.0.1:1/a")
	rdb := redis.NewClient(&redis.Options{Addr: opsAddr(queue)})
	defer rdb.Close()
	// The group is made before the first line is read: once it exists,
	// the command waits on its standard input.
	opsPoll(t, 30*time.Second, "--enqueue to make the group", func() bool {
		return rdb.Exists(context.Background(), opsStream(queue)).Val() == 1
	})
	sent := time.Now()
	p.signal(syscall.SIGTERM)
	if !opsTryPoll(10*time.Second, p.exited) {
		wr.Close() // end the read, so that the process ends
		code := p.wait(30 * time.Second)
		t.Fatalf("--enqueue - still running 10s after SIGTERM; it ended (exit %d) only when standard input closed; stderr %q", code, p.stderr)
	}
	if code := p.code; code != exitTerminated || time.Since(sent) > 5*time.Second {
		t.Errorf("exit %d after %v; want 143 promptly; stderr %q", code, time.Since(sent), p.stderr)
	}
}

// --- Exit statuses -----------------------------------------------------------

// A worker started on a queue with nothing in it (all done, or an empty
// list enqueued) exits 0 at once with no record: workers do not wait for a
// list queued later (there is no --follow), so the list is queued first.
// (On a stream never enqueued to, it exits 2: TestQueueWorkerOnMissingStream.)
func TestOpsWorkerOnEmptyQueueExitsAtOnce(t *testing.T) {
	t.Parallel()
	queue, q := newQueue(t, redisAddr(t))
	if _, err := q.Add(t.Context(), slices.Values([]string(nil))); err != nil { // the stream, empty
		t.Fatal(err)
	}
	start := time.Now()
	w := opsStart(t, "worker", nil, "--queue", queue, "--group", "workers")
	if code := w.wait(30 * time.Second); code != exitOK || w.stdout.String() != "" || !strings.Contains(w.stderr.String(), "fetched 0 in") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0, no record, a summary of nothing", code, w.stdout, w.stderr)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v on an empty queue; want it at once", took)
	}
}
