package redisqueue

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A queue address whose password holds a character that ends a URL's
// authority (#, / or ?, not percent-encoded, as generated passwords often
// hold) is refused without the password in the error: net/url's message
// quotes the authority it read, and the "@" is past where it ends.
func TestOpsReviewParseURLHidesPasswordWithDelimiters(t *testing.T) {
	for _, raw := range []string{
		"redis://:abc#secret@127.0.0.1:6379/urls",
		"redis://user:abc#secret@127.0.0.1:6379/urls",
		"redis://:ab/secret@127.0.0.1:6379/urls",
		"redis://user:ab?secret@127.0.0.1:6379/urls",
		"redis://:12#secret@127.0.0.1:6379/urls", // "redis://:12" parses: the rest is a fragment
	} {
		_, _, err := ParseURL(raw)
		switch {
		case err == nil:
			t.Errorf("ParseURL(%q): no error", raw)
		case strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "ab"):
			t.Errorf("ParseURL(%q): the error shows the password: %v", raw, err)
		case !strings.Contains(err.Error(), "@127.0.0.1:6379/urls"):
			t.Errorf("ParseURL(%q) = %v; want an error naming the address", raw, err)
		}
	}
}

// A "#" in a queue address is refused: it would start a fragment, dropped
// from the stream's name, so that "urls#2" read and wrote the stream
// "urls", another queue's. Written %23, it is part of the name.
func TestOpsReviewParseURLRefusesFragment(t *testing.T) {
	for _, raw := range []string{
		"redis://127.0.0.1:6379/urls#2",
		"redis://127.0.0.1:6379/urls?db=1#x",
		"redis://127.0.0.1:6379/urls#",
	} {
		if _, stream, err := ParseURL(raw); err == nil {
			t.Errorf("ParseURL(%q): stream %q, no error; want one saying to write %%23", raw, stream)
		} else if !strings.Contains(err.Error(), "%23") {
			t.Errorf("ParseURL(%q) = %v; want an error saying to write %%23", raw, err)
		}
	}
	_, stream, err := ParseURL("redis://127.0.0.1:6379/urls%232")
	if err != nil || stream != "urls#2" {
		t.Errorf(`ParseURL("redis://127.0.0.1:6379/urls%%232") = %q, %v; want "urls#2", nil`, stream, err)
	}
}

// logLines is a slog.Handler that passes on the messages of every record.
type logLines chan string

func (l logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l logLines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l logLines) WithGroup(string) slog.Handler            { return l }
func (l logLines) Handle(_ context.Context, r slog.Record) error {
	l <- r.Message
	return nil
}

// A worker's writer that warned "Redis unavailable; writes wait" says so
// when its writes go through again, as its reads do ("Redis is back"):
// an operator reading the log otherwise sees acknowledgements stuck for
// good, though they were written.
func TestOpsReviewWriterSaysRedisIsBack(t *testing.T) {
	rs := startDurableRedis(t)
	rdb := newClient(t, rs.Addr)
	logs := make(logLines, 64)
	q := newQueue(t, rdb, Logger(slog.New(logs)))
	w := newWriter(q, q.newConsumer(), func(err error) { t.Errorf("writer failed for good: %v", err) })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })

	rs.Stop()
	if err := w.push(op{kind: 's', arg: "k"}); err != nil {
		t.Fatal(err)
	}
	wait := func(want string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case msg := <-logs:
				if strings.Contains(msg, want) {
					return
				}
			case <-deadline:
				t.Fatalf("no log line saying %q", want)
			}
		}
	}
	wait("writes wait")
	if err := rs.Restart(); err != nil {
		t.Fatal(err)
	}
	wait("Redis is back")
	if n, err := rdb.SCard(t.Context(), q.seen).Result(); err != nil || n != 1 {
		t.Errorf("SCARD = %d, %v; want 1: the write kept for Redis's return", n, err)
	}
}

// A queue address with a database number where Redis's own URLs have it
// (redis://HOST:PORT/2/urls, as a REDIS_URL of redis://HOST:PORT/2 with
// "/urls" after it gives) is refused, with the address to write: it used
// to read the stream "2/urls" in database 0. Written 2%2Furls, the stream
// is so named.
func TestOpsReviewParseURLRefusesDatabaseInPath(t *testing.T) {
	for _, raw := range []string{
		"redis://127.0.0.1:6379/2/urls",
		"redis://:pw@127.0.0.1:6379/0/urls",
		"redis://127.0.0.1:6379/15/crawl/a",
	} {
		if _, stream, err := ParseURL(raw); err == nil {
			t.Errorf("ParseURL(%q): stream %q in database 0, no error; want one saying to write ?db=", raw, stream)
		} else if !strings.Contains(err.Error(), "?db=") {
			t.Errorf("ParseURL(%q) = %v; want an error saying to write ?db=", raw, err)
		}
	}
	for raw, want := range map[string]string{
		"redis://127.0.0.1:6379/2%2Furls":    "2/urls",
		"redis://127.0.0.1:6379/urls/2":      "urls/2",
		"redis://127.0.0.1:6379/2":           "2",
		"redis://127.0.0.1:6379/v2/urls":     "v2/urls",
		"redis://127.0.0.1:6379/urls?db=2":   "urls",
		"redis://127.0.0.1:6379/crawl:{a}/b": "crawl:{a}/b",
	} {
		if _, stream, err := ParseURL(raw); err != nil || stream != want {
			t.Errorf("ParseURL(%q) = %q, %v; want %q, nil", raw, stream, err, want)
		}
	}
}
