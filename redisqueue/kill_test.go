package redisqueue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// processes starts n worker processes in mode, worker i consuming as
// "w<i>" and writing to its own file, and returns them with their files.
type processes struct {
	cmds  []*exec.Cmd
	files []string
	errs  []chan error
}

func startWorkers(t *testing.T, mode string, n int, s workerSettings) *processes {
	t.Helper()
	ps := &processes{}
	dir := t.TempDir()
	for i := range n {
		s := s
		s.Consumer, s.Out = fmt.Sprintf("w%d", i), filepath.Join(dir, fmt.Sprintf("w%d.jsonl", i))
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = s.env(mode)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			err := cmd.Wait()
			if err != nil {
				err = fmt.Errorf("%w\n%s", err, stderr.Bytes())
			}
			done <- err
		}()
		ps.cmds, ps.files, ps.errs = append(ps.cmds, cmd), append(ps.files, s.Out), append(ps.errs, done)
	}
	t.Cleanup(func() {
		for i, cmd := range ps.cmds {
			cmd.Process.Kill()
			<-ps.errs[i]
		}
	})
	return ps
}

// kill kills worker i with SIGKILL and waits for it to be gone.
func (ps *processes) kill(i int) {
	ps.cmds[i].Process.Signal(syscall.SIGKILL)
	<-ps.errs[i]
	ps.errs[i] <- nil // for the cleanup
}

// wait waits for every worker but skip to exit, failing t on an error.
func (ps *processes) wait(t *testing.T, skip int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for i := range ps.cmds {
		if i == skip {
			continue
		}
		select {
		case err := <-ps.errs[i]:
			if err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
			ps.errs[i] <- nil
		case <-deadline:
			t.Fatalf("workers still running after %v", timeout)
		}
	}
}

// lines counts the lines the workers have written so far.
func (ps *processes) lines() int {
	n := 0
	for _, f := range ps.files {
		b, _ := os.ReadFile(f)
		n += bytes.Count(b, []byte("\n"))
	}
	return n
}

// records reads every complete line the workers wrote.
func (ps *processes) records(t *testing.T) []Record {
	t.Helper()
	var recs []Record
	for _, f := range ps.files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var r Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %q: %v", f, sc.Text(), err)
			}
			recs = append(recs, r)
		}
	}
	return recs
}

// waitLines polls the workers' files until they hold n lines: the workers
// are other processes, so there is nothing to wait on but their output.
func (ps *processes) waitLines(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for ps.lines() < n {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%d lines after %v; want %d", ps.lines(), timeout, n)
		}
	}
}

// pendingOf returns the entries consumer holds, by ID, with their URLs.
func pendingOf(t *testing.T, rdb *redis.Client, q *Queue, consumer string) map[string]string {
	t.Helper()
	ctx := context.Background()
	ps, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: q.stream, Group: q.group, Start: "-", End: "+", Count: 1 << 20, Consumer: consumer,
	}).Result()
	if err != nil {
		t.Fatal(err)
	}
	held := make(map[string]string, len(ps))
	for _, p := range ps {
		msgs, err := rdb.XRange(ctx, q.stream, p.ID, p.ID).Result()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("XRANGE %s: %v, %d entries", p.ID, err, len(msgs))
		}
		held[p.ID], _ = msgs[0].Values["url"].(string)
	}
	return held
}

// perSecond counts the requests that started in each second from the
// first one, and the most in any sliding window of one second.
func perSecond(times []time.Time) (counts []int, sliding int) {
	times = slices.Clone(times)
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	for i, j := 0, 0; i < len(times); i++ {
		for times[i].Sub(times[j]) >= time.Second {
			j++
		}
		sliding = max(sliding, i-j+1)
		k := int(times[i].Sub(times[0]) / time.Second)
		for len(counts) <= k {
			counts = append(counts, 0)
		}
		counts[k]++
	}
	return counts, sliding
}

// Three worker processes share a list of 10,000 URLs and a rate limit of
// 1,000 requests a second; one is killed with SIGKILL part way through.
// Every URL reaches a sink, duplicates are only entries the killed worker
// held, every entry is acknowledged, and the limit holds on the server in
// every second.
func TestKillWorker(t *testing.T) {
	const (
		total       = 10_000
		rate, burst = 1000, 20
		killAfter   = 3000
	)
	rdb := newClient(t, redisAddr(t))
	srv := newCountingServer(t)
	q := newQueue(t, rdb)
	list := urls(srv.URL, total)
	if n, err := q.Add(t.Context(), slices.Values(list)); err != nil || n != total {
		t.Fatalf("Add = %d, %v", n, err)
	}
	s := workerSettings{Redis: rdb.Options().Addr, Stream: q.stream, Group: q.group, RateKey: q.stream,
		Rate: rate, Burst: burst, Visibility: 2 * time.Second}
	start := time.Now()
	ps := startWorkers(t, "list", 3, s)
	ps.waitLines(t, killAfter, 60*time.Second)
	ps.kill(0)
	killed := pendingOf(t, rdb, q, "w0/1")
	t.Logf("killed worker 0 after %d results; it held %d entries", ps.lines(), len(killed))
	ps.wait(t, 0, 90*time.Second)
	elapsed := time.Since(start)

	recs := ps.records(t)
	byID := map[string]int{}
	byURL := map[string]int{}
	for _, r := range recs {
		if r.Error != "" || r.Status != 200 {
			t.Errorf("%s: status %d, error %q", r.URL, r.Status, r.Error)
		}
		byID[r.ID]++
		byURL[r.URL]++
	}
	for _, u := range list {
		if byURL[u] == 0 {
			t.Errorf("%s: no result", u)
		}
	}
	dups := 0
	for id, n := range byID {
		if n > 1 {
			dups += n - 1
			if _, ok := killed[id]; !ok {
				t.Errorf("entry %s yielded %d times; it was not held by the killed worker", id, n)
			}
		}
	}
	served := srv.counts()
	refetched := 0
	for _, u := range list {
		path := u[len(srv.URL):]
		if n := served[path]; n > 1 {
			refetched += n - 1
			if !slices.Contains(mapsValues(killed), u) {
				t.Errorf("%s requested %d times; it was not held by the killed worker", u, n)
			}
		}
	}
	t.Logf("%d results for %d URLs in %v: %d duplicate results and %d repeated requests, of the %d entries the killed worker held",
		len(recs), total, elapsed.Round(time.Millisecond), dups, refetched, len(killed))
	if p := pendingCount(t, rdb, q); p != 0 {
		t.Errorf("%d entries pending at the end; want 0", p)
	}
	srv.mu.Lock()
	counts, sliding := perSecond(srv.times)
	srv.mu.Unlock()
	t.Logf("requests per second, from the first: %v; most in any sliding second: %d (limit %d/s, burst %d)", counts, sliding, rate, burst)
	// The limit lets the clients start rate+burst requests in any second;
	// the network may bunch a few of them up by the time they arrive.
	for i, n := range counts {
		if most := (rate + burst) * 102 / 100; n > most {
			t.Errorf("second %d: %d requests; the shared limit allows %d, and 2%% for the network", i, n, rate+burst)
		}
	}
}

func mapsValues(m map[string]string) []string {
	vs := make([]string, 0, len(m))
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}
