package redisqueue

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/testsite"
)

func normalize(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return fetch.NormalizeURL(u)
}

// Three processes crawl one generated site of 5,100 pages over 3 hosts,
// sharing a Frontier and a rate limit; one is killed part way. Every page
// is fetched, and only once but for the entries the killed process held;
// the visited set is the URLs queued plus the redirects' destinations.
func TestCrawlAcrossProcesses(t *testing.T) {
	site, err := testsite.Start(testsite.Config{Hosts: 3, Pages: 1700, Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Close)
	rdb := newClient(t, redisAddr(t))
	q := newQueue(t, rdb)
	s := workerSettings{Redis: rdb.Options().Addr, Stream: q.stream, Group: q.group, RateKey: q.stream,
		Rate: 3000, Burst: 50, Visibility: 2 * time.Second, Seed: site.Seed()}
	start := time.Now()
	ps := startWorkers(t, "crawl", 3, s)
	ps.waitLines(t, 1500, 60*time.Second)
	ps.kill(0)
	killed := pendingOf(t, rdb, q, "w0/1")
	t.Logf("killed worker 0 after %d pages; it held %d entries", ps.lines(), len(killed))
	ps.wait(t, 0, 90*time.Second)
	elapsed := time.Since(start)

	// Every page, fetched.
	recs := ps.records(t)
	got := map[string]int{}
	finalOf := map[string]string{} // a fetched URL: where it led
	for _, r := range recs {
		if r.Error != "" {
			t.Errorf("%s: %s", r.URL, r.Error)
			continue
		}
		got[normalize(t, r.FinalURL)]++
		finalOf[r.URL] = r.FinalURL
	}
	want := site.Expected()
	for u := range want {
		if got[u] == 0 {
			t.Errorf("%s not crawled", u)
		}
	}
	if len(got) != len(want) {
		t.Errorf("crawled %d pages; want %d", len(got), len(want))
	}

	// Only once, but for the entries the killed process held.
	again := map[string]bool{}
	for _, u := range killed {
		again[normalize(t, u)] = true
		if f, ok := finalOf[u]; ok {
			again[normalize(t, f)] = true
		}
	}
	refetched, redirectHops := 0, 0
	for i, st := range site.Stats() {
		for path, n := range st.Fetches {
			if n == 1 || path == "/robots.txt" {
				continue
			}
			u := normalize(t, site.Hosts()[i]+path)
			refetched += n - 1
			switch {
			case strings.HasPrefix(path, "/r/"):
				redirectHops += n - 1 // a hop of a chain that a held entry led through
			case !again[u] || n > 2:
				t.Errorf("%s fetched %d times; the killed process did not hold it", u, n)
			}
		}
	}
	if redirectHops > len(killed) {
		t.Errorf("%d redirects followed again; the killed process held only %d entries", redirectHops, len(killed))
	}

	// The visited set: every URL queued, once, and every URL a redirect
	// led to, its destination and the hops on its way; nothing else.
	ctx := context.Background()
	entries, err := rdb.XRange(ctx, q.stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	queued := map[string]bool{}
	for _, m := range entries {
		k := normalize(t, m.Values["url"].(string))
		if queued[k] {
			t.Errorf("%s queued twice", k)
		}
		queued[k] = true
	}
	seen, err := rdb.SMembers(ctx, q.seen).Result()
	if err != nil {
		t.Fatal(err)
	}
	inSeen := map[string]bool{}
	for _, k := range seen {
		inSeen[k] = true
		if !queued[k] && got[k] == 0 && !strings.Contains(k, "/r/") {
			t.Errorf("%s in the visited set: neither queued, nor a page fetched, nor a redirect's hop", k)
		}
	}
	for k := range queued {
		if !inSeen[k] {
			t.Errorf("%s queued but not in the visited set", k)
		}
	}
	for k := range want {
		if !inSeen[k] {
			t.Errorf("page %s not in the visited set", k)
		}
	}
	if p := pendingCount(t, rdb, q); p != 0 {
		t.Errorf("%d entries pending at the end; want 0", p)
	}
	t.Logf("%d pages (%d records, %d URLs queued, %d keys seen) in %v; %d requests repeated (%d redirect hops) after the kill, of %d entries held",
		len(got), len(recs), len(entries), len(seen), elapsed.Round(time.Millisecond), refetched, redirectHops, len(killed))
}
