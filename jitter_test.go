package fetch

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

// slack allows for x/time/rate's rounding of token times to nanoseconds.
const slack = time.Microsecond

// gaps returns the times between consecutive arrivals.
func gaps(times []time.Time) []time.Duration {
	var ds []time.Duration
	for i := 1; i < len(times); i++ {
		ds = append(ds, times[i].Sub(times[i-1]))
	}
	return ds
}

// checkJittered fails t unless every gap is within [lo, hi] (give or
// take slack), the gaps vary (by 100 ms or more, more than x/time/rate's
// rounding), and their mean is within tol of mean.
func checkJittered(t *testing.T, what string, ds []time.Duration, lo, hi, mean, tol time.Duration) {
	t.Helper()
	if len(ds) < 2 {
		t.Fatalf("%s: %d gaps; want more", what, len(ds))
	}
	var sum time.Duration
	for i, d := range ds {
		if d < lo-slack || d > hi+slack {
			t.Errorf("%s: gap %d = %v; want within [%v, %v]", what, i, d, lo, hi)
		}
		sum += d
	}
	if least, most := slices.Min(ds), slices.Max(ds); most-least < 100*time.Millisecond {
		t.Errorf("%s: gaps between %v and %v; want them varied", what, least, most)
	}
	if got := sum / time.Duration(len(ds)); got < mean-tol || got > mean+tol {
		t.Errorf("%s: mean gap = %v; want %v ± %v", what, got, mean, tol)
	}
}

// checkExact fails t unless every gap is d (give or take slack).
func checkExact(t *testing.T, what string, ds []time.Duration, d time.Duration) {
	t.Helper()
	if len(ds) == 0 {
		t.Fatalf("%s: no gaps", what)
	}
	for i, g := range ds {
		if g < d-slack || g > d+slack {
			t.Errorf("%s: gap %d = %v; want %v", what, i, g, d)
		}
	}
}

func TestHostRateJitterOption(t *testing.T) {
	for _, f := range []float64{-0.1, 1, 1.5, math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, err := New(WithHostRateJitter(f))
		if err == nil {
			t.Errorf("New(WithHostRateJitter(%v)) succeeded; want an error", f)
			continue
		}
		if want := fmt.Sprintf("WithHostRateJitter(%v)", f); !strings.Contains(err.Error(), want) {
			t.Errorf("New(WithHostRateJitter(%v)) = %q; want it to name %s", f, err, want)
		}
	}
	for _, f := range []float64{0, 0.5, 0.999} {
		if _, err := New(WithHostRateJitter(f)); err != nil {
			t.Errorf("New(WithHostRateJitter(%v)) = %v; want no error", f, err)
		}
	}
}

// TestHostRateJitterSequential: one request after another to one host at
// 1/s with jitter 0.5 go 0.5 s to 1.5 s apart, a second on average.
func TestHostRateJitterSequential(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, WithHostRate(1, 1), WithHostRateJitter(0.5))
		for i := range 50 {
			if _, err := f.Get(t.Context(), fmt.Sprintf("http://a.test/%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		checkJittered(t, "a.test", gaps(c.times()), 500*time.Millisecond, 1500*time.Millisecond, time.Second, 200*time.Millisecond)
	})
}

// TestHostRateJitterStream: a stream's requests to one host, dispatched by
// the scheduler to 8 workers, keep the bounds, and their mean stays the
// rate's interval: the next token's time is varied as the token is taken,
// before the scheduler asks when the next is due.
func TestHostRateJitterStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, WithHostRate(1, 1), WithHostRateJitter(0.5), WithConcurrency(8))
		n := 0
		for r := range f.Stream(t.Context(), urlsOf("a.test", 200)) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			n++
		}
		if n != 200 {
			t.Fatalf("%d results; want 200", n)
		}
		// 199 gaps of mean 1 s and deviation 0.29 s: the mean is within
		// 0.1 s of 1 s but for a 5-sigma draw.
		checkJittered(t, "a.test", gaps(c.times()), 500*time.Millisecond, 1500*time.Millisecond, time.Second, 100*time.Millisecond)
	})
}

// TestHostRateJitterConcurrentDo: Gets to one host from 8 goroutines at
// once keep the bounds: the token a call waits for keeps its time, and the
// interval after it is varied when it is taken.
func TestHostRateJitterConcurrentDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, WithHostRate(1, 1), WithHostRateJitter(0.5))
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 25 {
					if _, err := f.Get(t.Context(), fmt.Sprintf("http://a.test/%d/%d", g, i)); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		checkJittered(t, "a.test", gaps(c.times()), 500*time.Millisecond, 1500*time.Millisecond, time.Second, 100*time.Millisecond)
	})
}

// TestHostRateJitterTwoHosts: two hosts streamed together are each
// jittered, each with draws of its own.
func TestHostRateJitterTwoHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		arrivals := map[string][]time.Time{}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			arrivals[r.Host] = append(arrivals[r.Host], time.Now())
			mu.Unlock()
		})
		f := newMem(t, h, WithHostRate(1, 1), WithHostRateJitter(0.5), WithConcurrency(8))
		urls := func(yield func(string) bool) {
			for i := range 50 {
				for _, host := range []string{"a.test", "b.test"} {
					if !yield(fmt.Sprintf("http://%s/%d", host, i)) {
						return
					}
				}
			}
		}
		for r := range f.Stream(t.Context(), urls) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		a, b := gaps(arrivals["a.test"]), gaps(arrivals["b.test"])
		checkJittered(t, "a.test", a, 500*time.Millisecond, 1500*time.Millisecond, time.Second, 200*time.Millisecond)
		checkJittered(t, "b.test", b, 500*time.Millisecond, 1500*time.Millisecond, time.Second, 200*time.Millisecond)
		if slices.Equal(a, b) {
			t.Errorf("a.test and b.test have the same gaps %v; want draws of their own", a)
		}
	})
}

// TestHostRateJitterAttempts: retries and redirects take the host's tokens
// as first attempts do, and are jittered too.
func TestHostRateJitterAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		tries := map[string]int{}
		c := count(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			tries[r.URL.Path]++
			n := tries[r.URL.Path]
			mu.Unlock()
			switch {
			case strings.HasPrefix(r.URL.Path, "/from/"):
				http.Redirect(w, r, "/to/"+strings.TrimPrefix(r.URL.Path, "/from/"), http.StatusFound)
			case n == 1:
				w.WriteHeader(http.StatusInternalServerError) // retried
			}
		})
		f := newMem(t, c, WithHostRate(1, 1), WithHostRateJitter(0.5),
			WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
		for i := range 20 {
			if _, err := f.Get(t.Context(), fmt.Sprintf("http://a.test/from/%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		ds := gaps(c.times())
		// Each Get: its request, the redirect's (a 500), and the retry's two,
		// which start again at the Get's URL.
		if len(ds) != 79 {
			t.Fatalf("%d requests; want 80", len(ds)+1)
		}
		checkJittered(t, "a.test", ds, 500*time.Millisecond, 1500*time.Millisecond, time.Second, 200*time.Millisecond)
	})
}

// TestHostRateJitterOff: without jitter, or with 0, the host's requests
// go exactly the rate's interval apart.
func TestHostRateJitterOff(t *testing.T) {
	for _, opts := range [][]Option{
		{WithHostRate(1, 1)},
		{WithHostRate(1, 1), WithHostRateJitter(0)},
		{WithHostRateJitter(0.5), WithHostRate(1, 1), WithHostRateJitter(0)},
	} {
		checkTenGetsExact(t, opts...)
	}
}

// checkTenGetsExact makes ten Gets to a.test, one after the other, on a
// Fetcher built with opts, and checks that they went a second apart.
func checkTenGetsExact(t *testing.T, opts ...Option) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, opts...)
		for i := range 10 {
			if _, err := f.Get(t.Context(), fmt.Sprintf("http://a.test/%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		checkExact(t, "a.test", gaps(c.times()), time.Second)
	})
}

// TestHostRateJitterLeavesOtherRates: the global rate, and a host
// limiter of the caller's, keep their fixed interval.
func TestHostRateJitterLeavesOtherRates(t *testing.T) {
	for name, opts := range map[string][]Option{
		"WithRate": {WithRate(1, 1), WithHostRateJitter(0.5)},
		"WithHostLimiter": {WithHostRate(2, 1), WithHostRateJitter(0.5), WithHostLimiter(func(string) Limiter {
			return rate.NewLimiter(1, 1)
		})},
	} {
		t.Run(name, func(t *testing.T) { checkTenGetsExact(t, opts...) })
	}
}

// TestHostRateJitterCrawlDelay: a crawl's Crawl-delay pace is jittered.
func TestHostRateJitterCrawlDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var pages []time.Time
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/robots.txt":
				w.Write([]byte("User-agent: *\nCrawl-delay: 2\n"))
				return
			case "/":
				w.Header().Set("Content-Type", "text/html")
				for i := range 40 {
					fmt.Fprintf(w, "<a href=\"/p%d\">p</a>\n", i)
				}
			default:
				w.Header().Set("Content-Type", "text/html")
			}
			mu.Lock()
			pages = append(pages, time.Now())
			mu.Unlock()
		})
		f := newMem(t, h, WithHostRateJitter(0.5), WithConcurrency(8))
		cr, err := NewCrawler(f)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for p := range cr.Run(t.Context(), "http://a.test/") {
			if p.Err != nil {
				t.Fatal(p.Err)
			}
			n++
			p.Follow(p.Links()...)
		}
		if n != 41 {
			t.Fatalf("%d pages; want 41", n)
		}
		checkJittered(t, "a.test", gaps(pages), time.Second, 3*time.Second, 2*time.Second, 400*time.Millisecond)
	})
}

// TestHostRateJitterCrawlRedirects: the redirects of a crawl's page wait
// for the host's Crawl-delay, and so does the first page after
// robots.txt: each of those waits is jittered too.
func TestHostRateJitterCrawlRedirects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var times []time.Time
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			var n int
			switch _, err := fmt.Sscanf(r.URL.Path, "/%d", &n); {
			case r.URL.Path == "/robots.txt":
				w.Write([]byte("User-agent: *\nCrawl-delay: 2\n"))
			case err == nil && n < 9:
				http.Redirect(w, r, fmt.Sprintf("/%d", n+1), http.StatusFound)
			}
		})
		f := newMem(t, h, WithHostRateJitter(0.5))
		cr, err := NewCrawler(f)
		if err != nil {
			t.Fatal(err)
		}
		for p := range cr.Run(t.Context(), "http://a.test/0") {
			if p.Err != nil {
				t.Fatal(p.Err)
			}
		}
		if len(times) != 11 {
			t.Fatalf("%d requests; want 11: robots.txt, and a page and its 9 redirects", len(times))
		}
		ds := gaps(times)
		if d := ds[0]; d < time.Second-slack || d > 3*time.Second+slack || d == 2*time.Second {
			t.Errorf("robots.txt, then the page %v later; want within [1s, 3s], not 2s", d)
		}
		checkJittered(t, "a.test's redirects", ds[1:], time.Second, 3*time.Second, 2*time.Second, 900*time.Millisecond)
	})
}

// TestRejitterReserved: a bucket whose next token a call has reserved
// keeps its rate, so that the reservation's debt is repaid at the rate
// that set its time; one without is varied within the bounds.
func TestRejitterReserved(t *testing.T) {
	now := time.Now()
	l := rate.NewLimiter(1, 1)
	l.AllowN(now, 1)
	r := l.ReserveN(now, 1) // due at now+1s
	rejitter(l, 1, 0.5, now.Add(time.Second/2))
	if got := l.Limit(); got != 1 {
		t.Errorf("with a token reserved, limit = %v; want 1 (unchanged)", got)
	}
	then := now.Add(time.Second) // the reservation's token taken
	if d := r.DelayFrom(now); d != time.Second {
		t.Fatalf("reserved for %v; want 1s", d)
	}
	for range 100 {
		rejitter(l, 1, 0.5, then)
		if got := l.Limit(); got < 1/1.5 || got > 1/0.5 {
			t.Fatalf("limit = %v; want within [1/1.5, 1/0.5]", got)
		}
	}
}

// urlsOf returns n URLs of host.
func urlsOf(host string, n int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for i := range n {
			if !yield(fmt.Sprintf("http://%s/%d", host, i)) {
				return
			}
		}
	}
}
