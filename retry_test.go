package fetch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	const base, ceil = 100 * time.Millisecond, 10 * time.Second
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	for _, tc := range []struct {
		jitter   Jitter
		retry    int
		prev     time.Duration
		min, max time.Duration // inclusive bounds over all randomness
	}{
		{FullJitter, 1, 0, 0, base},
		{FullJitter, 3, 0, 0, 4 * base},
		{FullJitter, 1000, 0, 0, ceil},
		{EqualJitter, 1, 0, base / 2, base},
		{EqualJitter, 4, 0, 4 * base, 8 * base},
		{EqualJitter, 1000, 0, ceil / 2, ceil},
		{NoJitter, 2, 0, 2 * base, 2 * base},
		{NoJitter, math.MaxInt, 0, ceil, ceil},
		{DecorrelatedJitter, 1, 0, base, 3 * base},
		{DecorrelatedJitter, 2, time.Second, base, 3 * time.Second},
		{DecorrelatedJitter, 9, 9 * time.Second, base, ceil},
		{DecorrelatedJitter, 9, time.Duration(math.MaxInt64), base, ceil},
	} {
		p := RetryPolicy{BaseDelay: base, MaxDelay: ceil, Jitter: tc.jitter}
		lo, hi := p.backoff(tc.retry, tc.prev, lowest), p.backoff(tc.retry, tc.prev, highest)
		// The extremes of the randomness reach the ends of the range (within
		// the one-nanosecond open end of [0, n)).
		if lo != tc.min || hi < tc.max-time.Nanosecond || hi > tc.max {
			t.Errorf("jitter %d retry %d prev %v: range [%v, %v]; want [%v, %v]", tc.jitter, tc.retry, tc.prev, lo, hi, tc.min, tc.max)
		}
		for range 1000 {
			if d := p.Backoff(tc.retry, tc.prev); d < tc.min || d > tc.max {
				t.Fatalf("jitter %d retry %d: Backoff = %v; want within [%v, %v]", tc.jitter, tc.retry, d, tc.min, tc.max)
			}
		}
	}
}

func TestBackoffNeverOverflows(t *testing.T) {
	p := RetryPolicy{BaseDelay: time.Duration(math.MaxInt64 / 3), MaxDelay: time.Duration(math.MaxInt64), Jitter: NoJitter}
	for retry := 1; retry <= 1000; retry++ {
		if d := p.Backoff(retry, 0); d < 0 || d > p.MaxDelay {
			t.Fatalf("retry %d: Backoff = %v; want within [0, MaxDelay]", retry, d)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	const limit = time.Minute
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{"0", 0, true},
		{"60", time.Minute, true},
		{"61", limit, true},
		{"1000000000000000000", limit, true},  // 19 digits: fits in 64 bits, clamped
		{"18446744073709551615", limit, true}, // the most 64 bits hold: clamped
		{"18446744073709551616", 0, false},    // one more: ignored
		{"99999999999999999999", 0, false},    // 20 digits: ignored
		{"-1", 0, false},
		{"1.5", 0, false},
		{" 3", 3 * time.Second, true},   // optional white space around a field value (RFC 9110 §5.5)
		{"\t3 ", 3 * time.Second, true}, // as net/http trims it, for a transport that does not
		{"3 3", 0, false},
		{"3s", 0, false},
		{"soon", 0, false},
		{"", 0, false},
		{"Sun, 22 Nov 2026 12:00:30 GMT", 30 * time.Second, true},  // IMF-fixdate
		{"Sunday, 22-Nov-26 12:00:30 GMT", 30 * time.Second, true}, // RFC 850
		{"Sun Nov 22 12:00:30 2026", 30 * time.Second, true},       // asctime
		{"Sun, 22 Nov 2026 11:00:00 GMT", 0, true},                 // past: now
		{"Fri, 31 Dec 9999 23:59:59 GMT", limit, true},             // far future: clamped
		{"Sun, 32 Nov 2026 12:00:30 GMT", 0, false},
	} {
		got, ok := parseRetryAfter(tc.in, now, limit)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// RFC 9110 §5.6.7: a recipient must accept all three forms of HTTP-date,
// whatever the day name: the obsolete RFC 850 form spells it out in full
// (up to 33 bytes with Wednesday), and asctime pads a one-digit day with a
// space.
func TestParseRetryAfterDateForms(t *testing.T) {
	now := time.Date(1994, 11, 2, 0, 0, 0, 0, time.UTC) // a Wednesday
	const limit = 30 * 24 * time.Hour
	day := func(n int) time.Duration {
		return time.Duration(n)*24*time.Hour + 8*time.Hour + 49*time.Minute + 37*time.Second
	}
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"Thursday, 03-Nov-94 08:49:37 GMT", day(1)},
		{"Friday, 04-Nov-94 08:49:37 GMT", day(2)},
		{"Saturday, 05-Nov-94 08:49:37 GMT", day(3)},
		{"Sunday, 06-Nov-94 08:49:37 GMT", day(4)},
		{"Monday, 07-Nov-94 08:49:37 GMT", day(5)},
		{"Tuesday, 08-Nov-94 08:49:37 GMT", day(6)},
		{"Wednesday, 09-Nov-94 08:49:37 GMT", day(7)},
		{"Thu Nov  3 08:49:37 1994", day(1)},
		{"Fri Nov  4 08:49:37 1994", day(2)},
		{"Sat Nov  5 08:49:37 1994", day(3)},
		{"Sun Nov  6 08:49:37 1994", day(4)},
		{"Mon Nov  7 08:49:37 1994", day(5)},
		{"Tue Nov  8 08:49:37 1994", day(6)},
		{"Wed Nov  9 08:49:37 1994", day(7)},
		{"Wed, 09 Nov 1994 08:49:37 GMT", day(7)}, // IMF-fixdate
	} {
		got, ok := parseRetryAfter(tc.in, now, limit)
		if got != tc.want || !ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, true", tc.in, got, ok, tc.want)
		}
	}
	// A two-digit year of 00 is 2000, not 1900.
	y2k := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if got, ok := parseRetryAfter("Saturday, 01-Jan-00 00:00:02 GMT", y2k, time.Minute); got != 2*time.Second || !ok {
		t.Errorf("parseRetryAfter(Saturday, 01-Jan-00 00:00:02 GMT) = %v, %v; want 2s, true", got, ok)
	}
}

func TestRetryAfterHonouredAndClamped(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header func(now time.Time) string
		want   time.Duration
	}{
		{"seconds", func(time.Time) string { return "3" }, 3 * time.Second},
		{"HTTP-date", func(now time.Time) string { return now.Add(5 * time.Second).UTC().Format(http.TimeFormat) }, 5 * time.Second},
		{"beyond MaxDelay, which caps only the backoff", func(time.Time) string { return "60" }, time.Minute},
		{"garbage falls back to backoff", func(time.Time) string { return "later" }, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var once sync.Once
				c := count(func(w http.ResponseWriter, r *http.Request) {
					first := false
					once.Do(func() { first = true })
					if first {
						w.Header().Set("Retry-After", tc.header(time.Now()))
						w.WriteHeader(http.StatusTooManyRequests)
						return
					}
					w.Write([]byte("ok"))
				})
				f := newMem(t, c, WithRetry(RetryPolicy{BaseDelay: time.Second, MaxDelay: 7 * time.Second, Jitter: NoJitter}))
				if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
					t.Fatal(err)
				}
				at := c.times()
				if len(at) != 2 || at[1].Sub(at[0]) != tc.want {
					t.Errorf("arrivals %v; want 2, %v apart", at, tc.want)
				}
			})
		})
	}
}

func TestRetryAfterPastDeadlineFailsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, http.StatusServiceUnavailable, http.Header{"Retry-After": {"5"}}))
		f := newMem(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := f.Get(ctx, "http://a.test/")
		var rae *RetryAfterError
		var se *StatusError
		if !errors.As(err, &rae) || rae.RetryAfter != 5*time.Second {
			t.Fatalf("err = %v; want *RetryAfterError for 5s", err)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &se) || se.StatusCode != 503 {
			t.Errorf("err = %v; want it to match DeadlineExceeded and a 503 *StatusError", err)
		}
		if time.Since(start) != 0 || c.n.Load() != 1 {
			t.Errorf("returned after %v and %d requests; want at once, after 1", time.Since(start), c.n.Load())
		}
	})
}

func TestRetryRules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		req      func() *http.Request
		policy   RetryPolicy
		attempts int64
	}{
		{"GET 503 retried", 503, get, RetryPolicy{}, 4},
		{"GET 429 retried", 429, get, RetryPolicy{}, 4},
		{"GET 404 not retried", 404, get, RetryPolicy{}, 1},
		{"GET 501 not retried", 501, get, RetryPolicy{}, 1},
		{"MaxAttempts 1", 503, get, RetryPolicy{MaxAttempts: 1}, 1},
		{"POST not retried", 503, post(true, false), RetryPolicy{}, 1},
		{"POST with Idempotency-Key retried", 503, post(true, true), RetryPolicy{}, 4},
		{"POST retried when allowed", 503, post(true, false), RetryPolicy{RetryNonIdempotent: true}, 4},
		{"POST without GetBody sent once even when allowed", 503, post(false, false), RetryPolicy{RetryNonIdempotent: true}, 1},
		{"PUT without GetBody sent once", 503, put(false), RetryPolicy{}, 1},
		{"custom classifier", 404, get, RetryPolicy{Retryable: func(r *http.Response, err error) bool {
			return r != nil && r.StatusCode == 404
		}}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(failing(100, tc.status, nil))
				f := newMem(t, c, WithRetry(tc.policy))
				resp, err := f.Do(tc.req())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got := c.n.Load(); got != tc.attempts {
					t.Errorf("server saw %d attempts; want %d", got, tc.attempts)
				}
			})
		})
	}
}

func get() *http.Request {
	req, _ := http.NewRequest(http.MethodGet, "http://a.test/", nil)
	return req
}

// post returns a POST whose body is replayable or not, with or without an
// Idempotency-Key.
func post(replayable, key bool) func() *http.Request {
	return func() *http.Request {
		req, _ := http.NewRequest(http.MethodPost, "http://a.test/", strings.NewReader("payload"))
		if !replayable {
			req.GetBody = nil
		}
		if key {
			req.Header.Set("Idempotency-Key", "k1")
		}
		return req
	}
}

func put(replayable bool) func() *http.Request {
	return func() *http.Request {
		req, _ := http.NewRequest(http.MethodPut, "http://a.test/", io.NopCloser(strings.NewReader("payload")))
		if replayable {
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("payload")), nil }
		}
		return req
	}
}

func TestPutBodyReplayedIdentically(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		payload := bytes.Repeat([]byte("0123456789"), 1000)
		var mu sync.Mutex
		var bodies [][]byte
		var n int
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, b)
			n++
			first := n < 3
			mu.Unlock()
			if first {
				w.WriteHeader(http.StatusBadGateway)
			}
		}))
		req, _ := http.NewRequest(http.MethodPut, "http://a.test/", bytes.NewReader(payload))
		resp, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(bodies) != 3 {
			t.Fatalf("server saw %d attempts; want 3", len(bodies))
		}
		for i, b := range bodies {
			if !bytes.Equal(b, payload) {
				t.Errorf("attempt %d body: %d bytes, not the payload", i+1, len(b))
			}
		}
	})
}

func TestMaxElapsedStopsRetrying(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, 503, nil))
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 100, BaseDelay: time.Second, Jitter: NoJitter, MaxElapsed: 5 * time.Second}))
		resp, err := f.Do(get())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// Waits of 1s, 2s: at 3s the next (4s) wait would pass 5s.
		if c.n.Load() != 3 || resp.StatusCode != 503 {
			t.Errorf("got %d after %d attempts; want the final 503 after 3", resp.StatusCode, c.n.Load())
		}
	})
}

func TestClassification(t *testing.T) {
	resp := func(code int) *http.Response { return &http.Response{StatusCode: code} }
	for _, code := range []int{408, 429, 500, 502, 503, 504} {
		if !DefaultRetryable(resp(code), nil) {
			t.Errorf("status %d: not retryable; want retryable", code)
		}
	}
	for _, code := range []int{200, 301, 400, 401, 403, 404, 409, 422, 501, 505} {
		if DefaultRetryable(resp(code), nil) {
			t.Errorf("status %d: retryable; want not", code)
		}
	}
	for _, err := range []error{ErrTooManyRedirects, ErrBodyTooLarge, ErrInvalidURL, context.Canceled, errors.New("unknown")} {
		if DefaultRetryable(nil, err) {
			t.Errorf("%v: retryable; want not", err)
		}
	}
	if DefaultRetryable(nil, &net.DNSError{IsNotFound: true}) || !DefaultRetryable(nil, &net.DNSError{IsTimeout: true}) ||
		!DefaultRetryable(nil, &net.DNSError{IsTemporary: true}) {
		t.Errorf("DNS: not-found must not be retried; timeouts and temporary failures must")
	}
	if DefaultRetryable(nil, fmt.Errorf("dial: %w", ErrBlockedAddress)) {
		t.Errorf("ErrBlockedAddress: retryable; want not")
	}
	cut := readRaw("HTTP/1.1 200 OK\r\nConten") // net/http's error for a head cut in a field name
	for _, err := range []error{io.ErrUnexpectedEOF, io.EOF, ErrAttemptTimeout, context.DeadlineExceeded, cut,
		fmt.Errorf("attempt: %w", cut), errors.Join(errors.New("other"), cut)} {
		if !DefaultRetryable(nil, err) {
			t.Errorf("%v: not retryable; want retryable", err)
		}
	}
}

// A 429 storm: one Retry-After pauses every request to the host, so that
// only the requests already on the wire see 429s, instead of each caller
// sending into the storm and learning of it for itself.
func TestRetryAfterPausesTheHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var limited, served atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(10 * time.Millisecond)
			if time.Since(start) < 2*time.Second {
				limited.Add(1)
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			served.Add(1)
		}), WithConcurrency(5))
		other := count(ok) // another host is not paused
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
					t.Error(err)
				}
			})
		}
		synctest.Wait()
		g := newMem(t, other)
		if _, err := g.Get(context.Background(), "http://b.test/"); err != nil || time.Since(start) > time.Second {
			t.Errorf("another host: err %v at %v; want served at once", err, time.Since(start))
		}
		wg.Wait()
		if limited.Load() > 5 || served.Load() != 50 {
			t.Errorf("%d answered 429, %d served; want at most 5 (the first wave) and all 50", limited.Load(), served.Load())
		}
	})
}

// The pause is the host's, not the retry's: a 429 with Retry-After to a
// request that is not retried (a POST) still pauses the next request.
func TestRetryAfterPausesHostWithoutRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(1, http.StatusTooManyRequests, http.Header{"Retry-After": {"2"}}))
		f := newMem(t, c)
		resp, err := f.Do(post(true, false)())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || c.n.Load() != 1 {
			t.Fatalf("POST: %d after %d requests; want the 429, not retried", resp.StatusCode, c.n.Load())
		}
		start := time.Now()
		if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != 2*time.Second {
			t.Errorf("the next GET went after %v; want after the host's 2s pause", waited)
		}
	})
}

// Requests that took a host rate token before a pause began take a fresh
// one after it, so that they leave at the host's rate, not all at once when
// the pause ends.
func TestPauseKeepsTheHostRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(1, http.StatusTooManyRequests, http.Header{"Retry-After": {"2"}}))
		f := newMem(t, c, WithHostRate(10, 1), WithConcurrency(20))
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		arrivals := c.times()
		pauseEnd := arrivals[0].Add(2 * time.Second)
		for i := 1; i < len(arrivals); i++ {
			if arrivals[i].Before(pauseEnd) {
				continue
			}
			if gap := arrivals[i].Sub(arrivals[i-1]); gap < 100*time.Millisecond {
				t.Fatalf("arrival %d came %v after the one before; want at least 100ms (10/s), pause or not", i, gap)
			}
		}
	})
}

// readRaw parses raw as net/http's client does a response, body included,
// and returns the error the attempt loop would see.
func readRaw(raw string) error {
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err != nil {
		return &url.Error{Op: "Get", URL: "http://a.test/", Err: err}
	}
	return nil
}

// A response cut short anywhere, even inside a line (which net/textproto
// takes for a whole last line) is retried, as a reset is.
func TestDefaultRetryableEveryCut(t *testing.T) {
	for _, full := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
			"5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\n\r\nnot",
		"HTTP/1.1 204 No Content\r\n\r\n",
	} {
		if err := readRaw(full); err != nil {
			t.Fatalf("the whole response %q: %v", full, err)
		}
		for i := range len(full) {
			err := readRaw(full[:i])
			if err == nil || !DefaultRetryable(nil, err) {
				t.Errorf("cut to %q: %v: not retryable; want retryable", full[:i], err)
			}
		}
	}
}

// A complete response that is malformed is not retried, when no cut could
// have produced what net/http complains of. Where one could (a bare token
// for a header line, a version with no status code), net/http's error is
// the same as for a cut, and the response is retried: a few wasted
// attempts at a broken server, rather than a lost response.
func TestDefaultRetryableMalformedResponse(t *testing.T) {
	for _, tc := range []struct {
		raw   string
		retry bool
	}{
		{"garbage\r\nContent-Length: 2\r\n\r\nok", false},
		{"SSH-2.0-OpenSSH_9.6\r\n", false},
		{"\r\nContent-Length: 2\r\n\r\nok", false},                              // empty status line
		{"HTTP/1.1 OK\r\nContent-Length: 2\r\n\r\nok", false},                   // no status code
		{"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok", false},              // four digits
		{"HTTP/1.x 200 OK\r\nContent-Length: 2\r\n\r\nok", false},               // bad version
		{"HTTP/1.1 200 OK\r\nBad Header\r\nContent-Length: 2\r\n\r\nok", false}, // no colon, and a space
		{"HTTP/1.1 200 OK\r\n<html>\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\n X: y\r\n\r\n", false},                         // leading space
		{"HTTP/1.1 200 OK\r\nX: \x01\r\n\r\n", false},                       // control byte in a value
		{"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false},             // bad length
		{"HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 2\r\n\r\nok", true}, // as if cut after "NoColon"
		{"HTTP/1.1\r\nContent-Length: 2\r\n\r\nok", true},                   // as if cut after "HTTP/1.1"
		{"HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok", true},             // as if cut after "20"
	} {
		err := readRaw(tc.raw)
		if err == nil {
			t.Fatalf("%q: parsed; want an error", tc.raw)
		}
		if got := DefaultRetryable(nil, err); got != tc.retry {
			t.Errorf("%q: %v: retryable %v; want %v", tc.raw, err, got, tc.retry)
		}
	}
}

// A rate limit told by the headers APIs send instead of Retry-After is
// honoured as one: a 429 or 403 whose quota is spent waits until it
// resets, and pauses the host; a 403 that is not a rate limit is final, and
// Retry-After, when given, wins.
func TestRateLimitHeaders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header func(now time.Time) http.Header
		want   time.Duration // between the two requests; 0: not retried
	}{
		{"GitHub: 403, none remaining, reset at a Unix time", 403, func(now time.Time) http.Header {
			return http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(now.Unix()+5, 10)}}
		}, 5 * time.Second},
		{"X-RateLimit-Reset a Unix time in milliseconds", 429, func(now time.Time) http.Header {
			return http.Header{"X-Ratelimit-Reset": {strconv.FormatInt(now.UnixMilli()+3000, 10)}}
		}, 3 * time.Second},
		{"429 with X-RateLimit-Reset in seconds", 429, func(time.Time) http.Header {
			return http.Header{"X-Ratelimit-Reset": {"3"}}
		}, 3 * time.Second},
		{"429 with RateLimit-Reset", 429, func(time.Time) http.Header {
			return http.Header{"Ratelimit-Remaining": {"0"}, "Ratelimit-Reset": {"2"}}
		}, 2 * time.Second},
		{"429 with a RateLimit field", 429, func(time.Time) http.Header {
			return http.Header{"Ratelimit": {`"burst";r=5;t=1, "daily";r=0;t=4`}}
		}, 4 * time.Second},
		{"Retry-After wins", 429, func(time.Time) http.Header {
			return http.Header{"Retry-After": {"1"}, "Ratelimit-Reset": {"4"}}
		}, time.Second},
		{"GitHub secondary limit: 403 with Retry-After", 403, func(time.Time) http.Header {
			return http.Header{"Retry-After": {"2"}}
		}, 2 * time.Second},
		{"beyond MaxDelay", 403, func(now time.Time) http.Header {
			return http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(now.Unix()+60, 10)}}
		}, time.Minute},
		{"a reset in the past: the backoff", 429, func(now time.Time) http.Header {
			return http.Header{"X-Ratelimit-Reset": {strconv.FormatInt(now.Unix()-10, 10)}}
		}, time.Second},
		{"403 forbidden", 403, func(time.Time) http.Header { return nil }, 0},
		{"403 with quota left", 403, func(now time.Time) http.Header {
			return http.Header{"X-Ratelimit-Remaining": {"12"}, "X-Ratelimit-Reset": {strconv.FormatInt(now.Unix()+5, 10)}}
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var once sync.Once
				c := count(func(w http.ResponseWriter, r *http.Request) {
					first := false
					once.Do(func() { first = true })
					if first {
						maps.Copy(w.Header(), tc.header(time.Now()))
						w.WriteHeader(tc.status)
						return
					}
					w.Write([]byte("ok"))
				})
				f := newMem(t, c, WithRetry(RetryPolicy{BaseDelay: time.Second, MaxDelay: 7 * time.Second, Jitter: NoJitter}))
				start := time.Now()
				var err error
				done := make(chan struct{})
				go func() {
					defer close(done)
					_, err = f.Get(context.Background(), "http://a.test/")
				}()
				synctest.Wait()
				if hs := f.Stats().Hosts; tc.want > time.Second && (len(hs) != 1 || !hs[0].PausedUntil.Equal(start.Add(tc.want))) {
					t.Errorf("while the call waits, hosts %+v; want a.test paused until %v", hs, start.Add(tc.want))
				}
				<-done
				at := c.times()
				if tc.want == 0 {
					var se *StatusError
					if !errors.As(err, &se) || se.StatusCode != tc.status || len(at) != 1 {
						t.Errorf("err %v after %d requests; want a %d StatusError after 1", err, len(at), tc.status)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(at) != 2 || at[1].Sub(at[0]) != tc.want {
					t.Errorf("arrivals %v; want 2, %v apart", at, tc.want)
				}
			})
		})
	}
}

// A wait longer than MaxRetryAfter is neither waited out nor cut short:
// the call fails at once with a *RetryAfterError that names the limit (and
// does not claim a deadline), and the host is paused for MaxRetryAfter.
func TestRetryAfterBeyondMaxRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(1, http.StatusTooManyRequests, http.Header{"Retry-After": {"3600"}}))
		f := newMem(t, c, WithRetry(RetryPolicy{MaxRetryAfter: time.Minute}))
		start := time.Now()
		_, err := f.Get(context.Background(), "http://a.test/")
		var rae *RetryAfterError
		var se *StatusError
		if !errors.As(err, &rae) || rae.RetryAfter != time.Hour || rae.Max != time.Minute || !errors.As(err, &se) || se.StatusCode != 429 {
			t.Fatalf("err = %v; want a *RetryAfterError for 1h over a Max of 1m, wrapping the 429", err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v matches DeadlineExceeded; the call had no deadline", err)
		}
		if time.Since(start) != 0 || c.n.Load() != 1 {
			t.Errorf("returned after %v and %d requests; want at once, after 1", time.Since(start), c.n.Load())
		}
		if _, err := f.Get(context.Background(), "http://a.test/"); err != nil || time.Since(start) != time.Minute {
			t.Errorf("next call: %v at %v; want it sent once the host's pause of MaxRetryAfter (1m) is over", err, time.Since(start))
		}
	})
}

// A policy that gives only a small MaxDelay asks for quick retries: its
// BaseDelay defaults to no more than it, rather than being refused for
// lying below the default BaseDelay.
func TestRetryPolicySmallMaxDelayAlone(t *testing.T) {
	p, err := RetryPolicy{MaxDelay: 50 * time.Millisecond}.withDefaults()
	if err != nil {
		t.Fatalf("RetryPolicy{MaxDelay: 50ms}: %v", err)
	}
	if p.BaseDelay != 50*time.Millisecond || p.Backoff(5, 0) > 50*time.Millisecond {
		t.Errorf("BaseDelay %v, Backoff(5) %v; want 50ms and at most 50ms", p.BaseDelay, p.Backoff(5, 0))
	}
	if _, err := (RetryPolicy{BaseDelay: time.Second, MaxDelay: 50 * time.Millisecond}).withDefaults(); err == nil {
		t.Error("BaseDelay 1s over MaxDelay 50ms, both given: no error")
	}
}

// A call cancelled while it waits to retry fails with the cancellation,
// counted as cancelled, and its error says what it was waiting to retry:
// a service's log of a call cut short at shutdown names the upstream's
// failure, not only "context canceled".
func TestCancelledBackoffSaysWhatFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		}), WithRetry(RetryPolicy{BaseDelay: time.Minute, Jitter: NoJitter}))
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(time.Second) // into the first backoff
			cancel()
		}()
		_, err := f.Get(ctx, "http://a.test/")
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "502 Bad Gateway") {
			t.Errorf("Get cancelled in its backoff: %v; want context.Canceled, naming the 502 it was to retry", err)
		}
		if n := f.Stats().Failed.Canceled; n != 1 {
			t.Errorf("Stats: %d calls failed cancelled; want 1", n)
		}
	})
}
