package main

// Second operations review of a --queue worker (see ops_review_test.go for
// the first and its helpers): a signal while Redis is frozen.

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/c989c033/fetch/internal/redistest"
	"github.com/c989c033/fetch/redisqueue"
)

// Ctrl-C (or SIGTERM) while Redis is frozen (SIGSTOP: it keeps its
// connections and answers nothing): the worker exits within about a
// second (FlushTimeout), with 130 (143), the records it wrote kept and the
// line saying what the run left; not after the Redis client's timeouts.
// The entries it held stay pending, for another worker after the
// visibility timeout.
func TestOps2SignalWhileRedisFrozen(t *testing.T) {
	for _, tc := range []struct {
		sig  os.Signal
		code int
		word string
	}{{syscall.SIGINT, exitInterrupted, "interrupted"}, {syscall.SIGTERM, exitTerminated, "terminated"}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			queue, _ := newQueue(t, srv.Addr)
			site := opsNewSite(t)
			const nFast, nSlow = 2, 2
			opsEnqueue(t, queue, site.urls(nFast, nSlow))
			pendingBefore := func() int { return len(opsPending(t, queue)) }
			out := filepath.Join(t.TempDir(), "out.jsonl")
			w := opsStart(t, "worker", nil, "-c", "4", "--queue", queue, "--group", "workers", "-o", out)
			opsPoll(t, 30*time.Second, "the fast records written, their entries acknowledged, the slow requests in flight", func() bool {
				return opsLines(out) == nFast && site.waiting.Load() == nSlow && pendingBefore() == nSlow
			})
			if err := srv.Freeze(); err != nil {
				t.Fatal(err)
			}
			sent := time.Now()
			w.signal(tc.sig)
			code := w.wait(30 * time.Second)
			took := time.Since(sent)
			if err := srv.Thaw(); err != nil {
				t.Fatal(err)
			}
			// Before the fix the CLI gave up after 3 s; the grace is for a
			// loaded machine.
			if took > redisqueue.DefaultFlushTimeout+1500*time.Millisecond {
				t.Errorf("exit %v after %v; want within about FlushTimeout (%v)", took, tc.sig, redisqueue.DefaultFlushTimeout)
			}
			if code != tc.code {
				t.Errorf("exit %d; want %d\n%s", code, tc.code, w.stderr)
			}
			if stderr := w.stderr.String(); !strings.Contains(stderr, tc.word+" after 2 results: the entries not fetched stay in the queue") {
				t.Errorf("stderr %q; want the line saying what the run left", stderr)
			}
			if recs := opsRecords(t, out); len(recs) != nFast {
				t.Errorf("%d records; want the %d written before Redis froze", len(recs), nFast)
			}
			if n := pendingBefore(); n != nSlow {
				t.Errorf("%d entries pending; want the %d the worker held, left for another", n, nSlow)
			}
		})
	}
}
