package fetch

// Defects a review found in the day's changes (from a282799), each failing
// before its fix: a lost wake-up of the scheduler's shared alarm, a
// caller's CheckRedirect overruled, a Crawl-delay learnt by a redirect
// that missed the host's queue, WithHeader("Authorization") adding a
// second credential, and New refusing more than 64 default header names.

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
	"golang.org/x/time/rate"
)

// TestReviewAlarmLostAfterRing: two hosts set aside until different times
// (a.test's next token at 1s, b.test's at 3s); the one alarm rings at 1s,
// the worker it wakes takes a.test's job, which runs for a minute, and the
// other worker stays parked with no alarm set for b.test's 3s: b.test's
// request goes only when a.test's ends. Each parked worker had a timer of
// its own before, and b.test's request went at 3s.
func TestReviewAlarmLostAfterRing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var mu sync.Mutex
		sent := map[string]time.Duration{}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			sent[r.Host+r.URL.Path] = time.Since(start)
			mu.Unlock()
			if r.URL.Path == "/slow" {
				time.Sleep(time.Minute)
			}
		})
		f, err := New(WithClient(memhttp.Client(h)), WithConcurrency(2),
			WithHostLimiter(func(host string) Limiter {
				if host == "b.test" {
					return rate.NewLimiter(rate.Every(3*time.Second), 1)
				}
				return rate.NewLimiter(1, 1)
			}))
		if err != nil {
			t.Fatal(err)
		}
		urls := slices.Values([]string{"http://a.test/0", "http://b.test/0", "http://a.test/slow", "http://b.test/1"})
		for r := range f.Stream(context.Background(), urls) {
			if r.Err != nil {
				t.Error(r.Err)
			}
		}
		if got := sent["b.test/1"]; got > 3*time.Second+100*time.Millisecond {
			t.Errorf("b.test/1, due at 3s, was sent at %v (a.test/slow was sent at %v and ran 1m)", got, sent["a.test/slow"])
		}
	})
}

// TestReviewAuthHeaderOptionLastWins: WithBearerToken's doc says that of
// several auth options, WithHeader("Authorization", ...) among them, the
// last wins and a request carries one credential. WithHeader adds to what
// WithBearerToken set: the request carries both credentials.
func TestReviewAuthHeaderOptionLastWins(t *testing.T) {
	var got []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Values("Authorization") })
	f, err := New(WithClient(memhttp.Client(h)), WithBearerToken("old"), WithHeader("Authorization", "Bearer new"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "Bearer new" {
		t.Errorf("server got Authorization %q; want only the last option's [\"Bearer new\"]", got)
	}
}

// TestReviewCheckRedirectReaddsDefault: net/http documents CheckRedirect
// as where a caller who wants a header on a redirect sets it again. A
// WithClient CheckRedirect that forwards the Fetcher's bearer token to a
// host it trusts had it sent before; keepDefaults, which runs after the
// caller's policy, now deletes it again.
func TestReviewCheckRedirectReaddsDefault(t *testing.T) {
	var got string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "api.test" {
			http.Redirect(w, r, "http://files.test/x", http.StatusFound)
			return
		}
		got = r.Header.Get("Authorization")
	})
	client := memhttp.Client(h)
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == "files.test" { // trusted: send the token on
			req.Header.Set("Authorization", via[0].Header.Get("Authorization"))
		}
		return nil
	}
	f, err := New(WithClient(client), WithBearerToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(context.Background(), "http://api.test/"); err != nil {
		t.Fatal(err)
	}
	if got != "Bearer tok" {
		t.Errorf("files.test got Authorization %q; the client's CheckRedirect set %q", got, "Bearer tok")
	}
}

// TestReviewCrawlDelayFromRedirectNotInQueue: the Crawler doc says a
// host's Crawl-delay spaces its requests whatever their scheme, the
// longest of its robots.txt files' delays. https://b.test/robots.txt
// (Crawl-delay: 5) is loaded by a redirect's check while b.test's
// scheduler queue, made for http:// pages under a robots.txt with no
// delay, already exists: the queue's pace stays nil (it is set only when a
// queue is made or unblocked), so the queued http:// pages go at once,
// with the redirect's request, not 5s apart.
func TestReviewCrawlDelayFromRedirectNotInQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var mu sync.Mutex
		var at []time.Duration // the pages' requests, robots.txt aside
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/robots.txt" && r.URL.Scheme == "https":
				w.Write([]byte("User-agent: *\nCrawl-delay: 5\n"))
				return
			case r.URL.Path == "/robots.txt":
				w.Write([]byte("User-agent: *\nAllow: /\n"))
				return
			case r.URL.Path == "/r":
				http.Redirect(w, r, "https://b.test/x", http.StatusFound)
			}
			mu.Lock()
			at = append(at, time.Since(start))
			mu.Unlock()
		})
		f, err := New(WithClient(memhttp.Client(h)), WithConcurrency(1), WithRetry(RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewCrawler(f)
		if err != nil {
			t.Fatal(err)
		}
		for p := range c.Run(context.Background(), "http://b.test/r", "http://b.test/p1", "http://b.test/p2", "http://b.test/p3") {
			if p.Err != nil {
				t.Errorf("%s: %v", p.URL, p.Err)
			}
		}
		// /r (its redirect to /x waits out the https delay: 5s), /x, then
		// p1, p2, p3 each a delay after the one before.
		if len(at) != 5 {
			t.Fatalf("%d page requests: %v", len(at), at)
		}
		for i := 2; i < len(at); i++ {
			if gap := at[i] - at[i-1]; gap < 5*time.Second {
				t.Errorf("page requests at %v: request %d went %v after the one before; b.test's Crawl-delay is 5s", at, i, gap)
				break
			}
		}
	})
}

// TestReviewManyDefaultHeaders: New now refuses more than 64 default
// header names besides the content-negotiation ones (the bitmask of
// call.defaulted), which neither WithHeader's doc nor the CHANGELOG says:
// a Fetcher configured from a map of headers that New accepted before
// fails to build after an upgrade.
func TestReviewManyDefaultHeaders(t *testing.T) {
	var opts []Option
	for i := range 65 {
		opts = append(opts, WithHeader("X-Tag-"+string(rune('a'+i/26))+string(rune('a'+i%26)), "v"))
	}
	if _, err := New(opts...); err != nil {
		t.Errorf("New with 65 default headers: %v", err)
	}
}
