package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/memhttp"
)

// --random-wait without --host-rate or -r has no wait to vary: a usage
// error naming the flags it needs. With either it is taken.
func TestRandomWaitUsage(t *testing.T) {
	code, out, stderr := runCmd(t, "", "--random-wait", "http://127.0.0.1:1/")
	if code != exitUsage || out != "" || strings.Count(stderr, "\n") != 1 ||
		!strings.Contains(stderr, "--random-wait") || !strings.Contains(stderr, "--host-rate") || !strings.Contains(stderr, "-r") {
		t.Errorf("fetch --random-wait URL: exit %d, stderr %q; want 2 and one line naming --random-wait, --host-rate and -r", code, stderr)
	}
	for _, args := range [][]string{
		{"--random-wait", "--host-rate", "5", "http://127.0.0.1:1/"},
		{"--random-wait", "-r", "http://127.0.0.1:1/"},
	} {
		if _, _, _, err := parseFlags(args); err != nil {
			t.Errorf("parseFlags(%q) = %v; want no error", args, err)
		}
	}
}

// wget's --wait N hints at --host-rate 1/N, and at --random-wait.
func TestWaitHint(t *testing.T) {
	code, _, stderr := runCmd(t, "", "--wait", "2", "http://127.0.0.1:1/")
	if code != exitUsage || !strings.Contains(stderr, "--host-rate 0.5") || !strings.Contains(stderr, "--random-wait") {
		t.Errorf("fetch --wait 2 URL: exit %d, stderr %q; want 2 and a hint at --host-rate 0.5 and --random-wait", code, stderr)
	}
}

// --random-wait reaches the Fetcher: with --host-rate 1, the Fetcher the
// command's options make sends one host's requests between 0.5 s and
// 1.5 s apart, not all alike; without it, exactly 1 s apart. The requests
// are served in memory, on a fake clock.
func TestRandomWaitOption(t *testing.T) {
	for _, random := range []bool{false, true} {
		args := []string{"--host-rate", "1", "http://a.test/"}
		if random {
			args = append([]string{"--random-wait"}, args...)
		}
		_, opts, _, err := parseFlags(args)
		if err != nil {
			t.Fatal(err)
		}
		synctest.Test(t, func(t *testing.T) {
			var arrivals []time.Time
			serve := memhttp.Transport{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				arrivals = append(arrivals, time.Now()) // one request at a time
			})}
			f, err := fetch.New(append(opts, fetch.WithTransportWrapper(func(http.RoundTripper) http.RoundTripper { return serve }))...)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				if _, err := f.Get(t.Context(), fmt.Sprintf("http://a.test/%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			least, most := time.Hour, time.Duration(0)
			for i := 1; i < len(arrivals); i++ {
				d := arrivals[i].Sub(arrivals[i-1])
				least, most = min(least, d), max(most, d)
			}
			const slack = time.Microsecond // x/time/rate rounds to the nanosecond
			switch {
			case random && (least < 500*time.Millisecond-slack || most > 1500*time.Millisecond+slack || most-least < 100*time.Millisecond):
				t.Errorf("--random-wait --host-rate 1: gaps between %v and %v; want them varied within [0.5s, 1.5s]", least, most)
			case !random && (least < time.Second-slack || most > time.Second+slack):
				t.Errorf("--host-rate 1: gaps between %v and %v; want 1s", least, most)
			}
		})
	}
}
