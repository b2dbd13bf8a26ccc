package fetch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
)

const kib = 1 << 10

// bwServer serves size bytes at every URL, from memory.
func bwServer(size int) *http.Client {
	body := bytes.Repeat([]byte("x"), size)
	return memhttp.Client(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
}

// bwFetcher is a Fetcher on bwServer(size), configured by opts.
func bwFetcher(t *testing.T, size int, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(append([]Option{WithClient(bwServer(size))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// near reports whether the fake time a paced read took is want, give or
// take the bucket's rounding.
func near(took, want time.Duration) bool {
	return took >= want-time.Millisecond && took <= want+time.Millisecond
}

// bwReads are the ways a Fetcher's calls read a body, each returning how
// many bytes of the body at url it read.
var bwReads = map[string]func(ctx context.Context, f *Fetcher, url string) (int, error){
	"Do": func(ctx context.Context, f *Fetcher, url string) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := f.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return len(b), err
	},
	"Get": func(ctx context.Context, f *Fetcher, url string) (int, error) {
		b, err := f.Get(ctx, url)
		return len(b), err
	},
	"Stream": func(ctx context.Context, f *Fetcher, url string) (int, error) {
		for r := range f.Stream(ctx, slices.Values([]string{url})) {
			return len(r.Body), r.Err
		}
		return 0, errors.New("no result")
	},
	"HandleURLs": func(ctx context.Context, f *Fetcher, url string) (int, error) {
		copyBody := func(_ string, resp *http.Response) (int64, error) { return io.Copy(io.Discard, resp.Body) }
		for h := range HandleURLs(ctx, f, slices.Values([]string{url}), copyBody) {
			return int(h.Value), h.Err
		}
		return 0, errors.New("no result")
	},
	"Crawler.Run": func(ctx context.Context, f *Fetcher, url string) (int, error) {
		c, err := NewCrawler(f, CrawlIgnoreRobots())
		if err != nil {
			return 0, err
		}
		for p := range c.Run(ctx, url) {
			return len(p.Body), p.Err
		}
		return 0, errors.New("no page")
	},
}

// Every call that reads bodies reads them under the cap: 100 KiB at
// 100 KiB/s, the first 32 KiB (the bucket's burst) at once, take 0.68 s.
func TestBandwidthCapsEveryCall(t *testing.T) {
	for name, read := range bwReads {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := bwFetcher(t, 100*kib, WithBandwidth(100*kib))
				start := time.Now()
				n, err := read(t.Context(), f, "http://a.test/")
				if took := time.Since(start); n != 100*kib || err != nil || !near(took, 680*time.Millisecond) {
					t.Errorf("read %d bytes, %v, in %v; want 102400, nil, in 680ms", n, err, took)
				}
			})
		})
	}
}

// The cap is the total across the Fetcher: four bodies of 100 KiB read at
// once under 100 KiB/s take (400 KiB - 32 KiB) / (100 KiB/s), as one body
// of 400 KiB would.
func TestBandwidthIsTheTotal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := bwFetcher(t, 100*kib, WithBandwidth(100*kib), WithConcurrency(4))
		start := time.Now()
		urls := []string{"http://a.test/", "http://b.test/", "http://c.test/", "http://d.test/"}
		for _, r := range f.GetAll(t.Context(), urls) {
			if len(r.Body) != 100*kib || r.Err != nil {
				t.Errorf("%s: %d bytes, %v; want 102400, nil", r.URL, len(r.Body), r.Err)
			}
		}
		if took := time.Since(start); !near(took, 3680*time.Millisecond) {
			t.Errorf("4 × 100 KiB at 100 KiB/s in all took %v; want 3.68s", took)
		}
	})
}

// Without the option, or with 0, the Fetcher's transport is not wrapped
// and bodies are read at once.
func TestBandwidthUnset(t *testing.T) {
	for name, opts := range map[string][]Option{
		"unset":            nil,
		"WithBandwidth(0)": {WithBandwidth(0)},
		"set, then 0":      {WithBandwidth(1), WithBandwidth(0)},
	} {
		synctest.Test(t, func(t *testing.T) {
			f := bwFetcher(t, 1<<20, opts...)
			if _, ok := f.client.Transport.(stayTransport).next.(bandwidthTransport); ok {
				t.Errorf("%s: the transport is wrapped under a bandwidth cap", name)
			}
			start := time.Now()
			b, err := f.Get(t.Context(), "http://a.test/")
			if took := time.Since(start); len(b) != 1<<20 || err != nil || took != 0 {
				t.Errorf("%s: read %d bytes, %v, in %v; want 1 MiB at once", name, len(b), err, took)
			}
		})
	}
}

// A negative rate is an error that names the option.
func TestWithBandwidthNegative(t *testing.T) {
	if _, err := New(WithBandwidth(-1)); err == nil || !strings.Contains(err.Error(), "WithBandwidth(-1)") {
		t.Errorf("New(WithBandwidth(-1)): %v; want an error naming WithBandwidth(-1)", err)
	}
}

// recordBody is a body of n bytes that notes the largest read asked of it.
type recordBody struct {
	r       io.Reader
	mu      sync.Mutex
	largest int
}

func (b *recordBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	b.largest = max(b.largest, len(p))
	b.mu.Unlock()
	return b.r.Read(p)
}

func (b *recordBody) Close() error { return nil }

// A read asks the body, and so the bucket, for no more than the bucket's
// burst: 32 KiB, or a second's worth if less.
func TestBandwidthReadsAtMostABurst(t *testing.T) {
	for _, tc := range []struct {
		rate  int64
		burst int
	}{
		{1000, 1000},
		{1 << 20, 32 * kib},
	} {
		synctest.Test(t, func(t *testing.T) {
			body := &recordBody{r: bytes.NewReader(make([]byte, 1<<20))}
			rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Body: body, ContentLength: -1, Request: req}, nil
			})
			f, err := New(WithClient(&http.Client{Transport: rt}), WithBandwidth(tc.rate))
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, "http://a.test/", nil)
			resp, err := f.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			for range 3 {
				if n, err := resp.Body.Read(make([]byte, 1<<20)); n != tc.burst || err != nil {
					t.Errorf("WithBandwidth(%d): a read of 1 MiB got %d bytes, %v; want %d, nil", tc.rate, n, err, tc.burst)
				}
			}
			if body.largest != tc.burst {
				t.Errorf("WithBandwidth(%d): the body was asked for %d bytes at most; want %d", tc.rate, body.largest, tc.burst)
			}
		})
	}
}

// A read waiting for bandwidth ends as soon as the context does, with the
// context's error and none of the bytes it waited to return.
func TestBandwidthWaitEndsWithContext(t *testing.T) {
	for name, read := range bwReads {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// 10 KiB at once, then 10 KiB a second: 100 KiB take 9 s.
				f := bwFetcher(t, 100*kib, WithBandwidth(10*kib))
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(1500*time.Millisecond, cancel)
				start := time.Now()
				_, err := read(ctx, f, "http://a.test/")
				if took := time.Since(start); !errors.Is(err, context.Canceled) || took != 1500*time.Millisecond {
					t.Errorf("cancelled after 1.5s: %v after %v; want context.Canceled after 1.5s", err, took)
				}
			})
		})
	}
}

// Do's body: the read that waits returns no bytes, and the context's error.
func TestBandwidthWaitEndsWithContextDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := bwFetcher(t, 100*kib, WithBandwidth(10*kib))
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://a.test/", nil)
		resp, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 64*kib)
		if n, err := resp.Body.Read(buf); n != 10*kib || err != nil {
			t.Fatalf("first read: %d, %v; want the burst, 10 KiB", n, err)
		}
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		n, err := resp.Body.Read(buf)
		if took := time.Since(start); n != 0 || !errors.Is(err, context.Canceled) || took != 100*time.Millisecond {
			t.Errorf("read cancelled after 100ms: %d, %v after %v; want 0, context.Canceled after 100ms", n, err, took)
		}
	})
}

// The attempt timeout covers the waits for bandwidth: a body that the cap
// makes too slow fails the attempt with ErrAttemptTimeout, at its time.
func TestBandwidthUnderAttemptTimeout(t *testing.T) {
	for name, read := range bwReads {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := bwFetcher(t, 100*kib, WithBandwidth(10*kib), WithAttemptTimeout(2*time.Second),
					WithRetry(RetryPolicy{MaxAttempts: 1}))
				start := time.Now()
				_, err := read(t.Context(), f, "http://a.test/")
				if took := time.Since(start); !errors.Is(err, ErrAttemptTimeout) || took != 2*time.Second {
					t.Errorf("%v after %v; want ErrAttemptTimeout after 2s", err, took)
				}
			})
		})
	}
}

// Waiting for bandwidth is no stall: only the reads themselves are
// watched.
func TestBandwidthWaitIsNoStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Each read of 10 KiB waits 1 s, twice the stall timeout.
		f := bwFetcher(t, 50*kib, WithBandwidth(10*kib), WithStallTimeout(500*time.Millisecond),
			WithRetry(RetryPolicy{MaxAttempts: 1}))
		start := time.Now()
		b, err := f.Get(t.Context(), "http://a.test/")
		if took := time.Since(start); len(b) != 50*kib || err != nil || !near(took, 4*time.Second) {
			t.Errorf("read %d bytes, %v, in %v; want 51200, nil, in 4s", len(b), err, took)
		}
	})
}

// switchBody is the connection a 101 hands over: readable and writable.
type switchBody struct{ io.Reader }

func (switchBody) Write(p []byte) (int, error) { return len(p), nil }
func (switchBody) Close() error                { return nil }

// The connection a 101 Switching Protocols hands over is not capped, and
// stays writable.
func TestBandwidthLeavesUpgradesAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusSwitchingProtocols, Request: req,
				Body: switchBody{bytes.NewReader(make([]byte, 1<<20))}}, nil
		})
		f, err := New(WithClient(&http.Client{Transport: rt}), WithBandwidth(1000))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://a.test/", nil)
		resp, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, ok := resp.Body.(io.Writer); !ok {
			t.Errorf("the body of a 101 is a %T; want it writable", resp.Body)
		}
		start := time.Now()
		if b, err := io.ReadAll(resp.Body); len(b) != 1<<20 || err != nil || time.Since(start) != 0 {
			t.Errorf("read %d bytes, %v, in %v; want 1 MiB at once", len(b), err, time.Since(start))
		}
	})
}
