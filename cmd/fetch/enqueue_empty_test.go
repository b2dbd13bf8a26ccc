package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// --enqueue of a list without a URL to queue makes no stream, so that a
// worker started on it says the stream does not exist rather than
// fetching nothing: a list of blank lines and comments is a usage error
// (exit 2, "no URLs in FILE"), as it is for -i; a list of bad lines only
// reports them and exits 1.
func TestEnqueueNothingMakesNoStream(t *testing.T) {
	addr := redisAddr(t)
	queue, _ := newQueue(t, addr)
	stream := queue[strings.LastIndex(queue, "/")+1:]
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	exists := func() bool {
		n, err := rdb.Exists(context.Background(), stream).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	if err := os.WriteFile(empty, []byte("# nothing yet\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCmd(t, "", "--queue", queue, "--enqueue", empty)
	if code != exitUsage || out != "" || stderr != "fetch: --enqueue: no URLs in "+empty+"\n" {
		t.Errorf("--enqueue of a list without URLs: exit %d, stdout %q, stderr %q; want 2 and \"no URLs in %s\"", code, out, stderr, empty)
	}
	code, _, stderr = runCmd(t, "", "--queue", queue, "--enqueue", "-")
	if code != exitUsage || stderr != "fetch: --enqueue: no URLs on standard input\n" {
		t.Errorf("--enqueue - of nothing: exit %d, stderr %q; want 2 and \"no URLs on standard input\"", code, stderr)
	}
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("ftp://x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd(t, "", "--queue", queue, "--enqueue", bad)
	if code != exitSomeFailed || !strings.Contains(stderr, bad+`:1: "ftp://x"`) || !strings.Contains(stderr, "added 0 of 0 URLs") {
		t.Errorf("--enqueue of bad lines only: exit %d, stderr %q; want 1, the line reported and 0 added", code, stderr)
	}
	if exists() {
		t.Errorf("stream %q exists after lists without URLs; want none made", stream)
	}
}
