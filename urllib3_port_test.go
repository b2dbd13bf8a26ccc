package fetch

// Port of urllib3's retry tests onto fetch's API:
//
//   - urllib3/urllib3 test/test_retry.py
//     (commit 00b2d87b2c113d22a8b77c0a13ef0e1da80d22b8), class TestRetry;
//   - urllib3/urllib3 test/with_dummyserver/test_connectionpool.py
//     (commit 0046a557b6717534c9e842e47d573c1e96996537), classes TestRetry,
//     TestRetryAfter, TestFileBodiesOnRetryOrRedirect, TestRetryPoolSize and
//     TestRedirectPoolSize, with the dummy server's handlers
//     (/successful_retry, /redirect, /multi_redirect, /echo, /retry_after,
//     /redirect_after) rewritten as Go handlers.
//
// Tests are named TestPortU3<urllib3's name>. Each case names the peer test
// it comes from. urllib3's Retry object maps onto fetch like this:
//
//   - Retry(total=N) is RetryPolicy{MaxAttempts: N+1}: fetch counts attempts,
//     the first included; urllib3 counts retries. Retry(0)/Retry(False)
//     is MaxAttempts 1 (fetch's zero means the default, 4);
//   - connect=/read=/status=/other= counters have no counterpart: fetch has
//     one count for every kind of failure;
//   - status_forcelist and allowed_methods are RetryPolicy.Retryable (a
//     classifier that sees the response, and so resp.Request.Method) and
//     RetryNonIdempotent;
//   - backoff_factor/backoff_max/backoff_jitter are BaseDelay/MaxDelay/Jitter;
//   - max_retry_wait_length is MaxRetryAfter; respect_retry_after_header has
//     no counterpart (fetch always honours Retry-After on a 429 or 503);
//   - redirects are not retries in fetch: they are followed inside the
//     attempt that met them (Result.Attempts: "A redirect is part of the
//     attempt it ended"), capped by WithMaxRedirects, not by MaxAttempts.
//
// Where fetch deliberately differs from urllib3 (as its documentation says),
// the case asserts what fetch documents and says what urllib3 expects.
// Anything about time runs in a testing/synctest bubble over the in-memory
// transport (internal/memhttp); real-network behaviour (bodies cut short,
// connections closed, pool reuse, TLS) runs against httptest loopback
// servers, with retry delays of a nanosecond so that no test sleeps.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
)

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// u3Quick is a policy whose backoff is a nanosecond, for loopback tests that
// must not sleep.
func u3Quick(p RetryPolicy) RetryPolicy {
	p.BaseDelay, p.MaxDelay = time.Nanosecond, time.Nanosecond
	return p
}

// u3Forcelist is urllib3's status_forcelist as a classifier: the statuses
// listed are retried, no others; errors are classified as by default.
func u3Forcelist(codes ...int) func(*http.Response, error) bool {
	return func(resp *http.Response, err error) bool {
		if err != nil {
			return DefaultRetryable(nil, err)
		}
		return slices.Contains(codes, resp.StatusCode)
	}
}

// u3SuccessfulRetry is the dummy server's /successful_retry: for each value
// of the test-name header, the first request is answered 418 "needs to be
// retried", the rest 200 "Retry successful!". It also checks that every
// request carries the body want, if set.
type u3SuccessfulRetry struct {
	t    *testing.T
	want []byte

	mu    sync.Mutex
	seen  map[string]int
	total atomic.Int64
}

func (s *u3SuccessfulRetry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.total.Add(1)
	body, err := io.ReadAll(r.Body)
	if s.want != nil && (err != nil || !bytes.Equal(body, s.want)) {
		s.t.Errorf("request %d: body of %d bytes (%v); want the %d bytes sent", s.total.Load(), len(body), err, len(s.want))
	}
	name := r.Header.Get("test-name")
	s.mu.Lock()
	if s.seen == nil {
		s.seen = map[string]int{}
	}
	s.seen[name]++
	n := s.seen[name]
	s.mu.Unlock()
	if n < 2 {
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("needs to be retried"))
		return
	}
	w.Write([]byte("Retry successful!"))
}

// u3Redirects is the dummy server's /redirect (to ?target=, default "/",
// with ?status=, default 303), /multi_redirect (through ?redirect_codes=,
// a comma-separated list of statuses ending in 200) and /echo; any other
// path answers 200 "Dummy server!".
func u3Redirects(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch r.URL.Path {
	case "/redirect":
		target, code := q.Get("target"), 303
		if target == "" {
			target = "/"
		}
		if s := q.Get("status"); s != "" {
			code, _ = strconv.Atoi(s)
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Location", target)
		w.WriteHeader(code)
		w.Write([]byte("Redirecting to " + target))
	case "/multi_redirect":
		codes := strings.Split(q.Get("redirect_codes"), ",")
		if codes[0] == "200" {
			w.Write([]byte("Done redirecting"))
			return
		}
		code, _ := strconv.Atoi(codes[0])
		w.Header().Set("Location", "/multi_redirect?redirect_codes="+strings.Join(codes[1:], ","))
		w.WriteHeader(code)
	case "/echo":
		b, _ := io.ReadAll(r.Body) // all of it before the response: net/http's server may not read it after
		w.Write(b)
	default:
		w.Write([]byte("Dummy server!"))
	}
}

// u3Hijack answers a request on a loopback server by writing raw onto its
// connection and closing it, so that a response can be cut anywhere.
func u3Hijack(t *testing.T, w http.ResponseWriter, raw string) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	defer conn.Close()
	buf.WriteString(raw)
	buf.Flush()
}

// u3Counting starts a loopback server that counts its connections, closed
// at the end of the test.
func u3Counting(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, &conns
}

// u3Attempts returns the attempts an error of a call counts.
func u3Attempts(err error) int {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Attempts
	}
	return -1
}

// ---------------------------------------------------------------------------
// test_retry.py: Retry-After parsing
// ---------------------------------------------------------------------------

// From test_parse_retry_after_invalid ("-1", "+1", "1.0", "\xb2"), with more
// of the malformed values fetch's README lists ("negative, fractional,
// garbage or too large for 64 bits"). urllib3 raises InvalidHeader for
// them (and so fails the request it was about to retry); fetch ignores the
// header and retries after its backoff (README, Failure behaviour:
// "ignored: the backoff is used").
func TestPortU3ParseRetryAfterInvalid(t *testing.T) {
	now := time.Date(2019, 6, 3, 11, 0, 0, 0, time.UTC)
	values := []string{
		"-1", "+1", "1.0", "\xb2", // urllib3's
		"1.5", "-0", "1e3", "0x10", "5s", "5, 10", "five", "garbage",
		"18446744073709551616", "99999999999999999999999", // past 64 bits
	}
	for _, v := range values {
		if d, ok := parseRetryAfter(v, now, time.Hour); ok {
			t.Errorf("parseRetryAfter(%q) = %v, true; want it ignored", v, d)
		}
	}
	for _, v := range values {
		t.Run(strconv.Quote(v), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(failing(1, http.StatusServiceUnavailable, http.Header{"Retry-After": {v}}))
				f := newMem(t, c, WithRetry(RetryPolicy{BaseDelay: time.Second, Jitter: NoJitter}))
				if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
					t.Fatalf("err %v; want the retry to succeed", err)
				}
				if g := portGaps(c.times()); len(g) != 1 || g[0] != time.Second {
					t.Errorf("gaps %v; want [1s], the backoff", g)
				}
			})
		})
	}
}

// From test_parse_retry_after: "0" is 0, "1000" is 1000 seconds, and
// "\t42 " is 42. The spaces around a field value are not part of it (RFC
// 9110 §5.5); on the wire net/http strips them, so the last case goes over
// a loopback connection, written raw, and is read back from the
// StatusError of a call that makes one attempt.
func TestPortU3ParseRetryAfter(t *testing.T) {
	now := time.Date(2019, 6, 3, 11, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{"0": 0, "1000": 1000 * time.Second, "000042": 42 * time.Second} {
		if d, ok := parseRetryAfter(v, now, time.Hour); !ok || d != want {
			t.Errorf("parseRetryAfter(%q) = %v, %t; want %v, true", v, d, ok, want)
		}
	}
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		u3Hijack(t, w, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: \t42 \r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	})
	f := portFetcher(t, WithRetry(RetryPolicy{MaxAttempts: 1}))
	_, err := f.Get(context.Background(), ts.URL)
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 503 || se.RetryAfter != 42*time.Second {
		t.Fatalf("err %v (%+v); want a 503 whose RetryAfter is 42s", err, se)
	}
}

// u3Formats are the three HTTP-date formats (RFC 9110 §5.6.7), as Go
// layouts: IMF-fixdate, the obsolete RFC 850 format, and asctime.
var u3Formats = []struct{ name, layout string }{
	{"IMF-fixdate", http.TimeFormat},
	{"RFC 850", "Monday, 02-Jan-06 15:04:05 GMT"},
	{"asctime", time.ANSIC},
}

// u3SleepCases are test_respect_retry_after_header_sleep's values, read at
// its time, 2019-06-03 11:00:00 UTC, with what fetch waits (ok false: the
// header is ignored and the backoff used) and what urllib3 sleeps.
var u3SleepCases = []struct {
	header string
	want   time.Duration
	ok     bool
	urllib time.Duration // -1: no sleep
}{
	{"3600", time.Hour, true, time.Hour},
	// Not HTTP-dates (a one-digit day, "UTC"): urllib3 parses them with
	// email.utils and sleeps an hour, then not at all; fetch accepts only
	// RFC 9110's three formats ("Retry-After ... garbage: ignored").
	{"Mon, 3 Jun 2019 12:00:00 UTC", 0, false, time.Hour},
	{"Mon, 3 Jun 2019 11:00:00 UTC", 0, false, -1},
	// The three formats RFC 9110 has a recipient accept; asctime has no
	// zone and is UTC.
	{"Mon, 03 Jun 2019 11:30:12 GMT", 1812 * time.Second, true, 1812 * time.Second},
	{"Monday, 03-Jun-19 11:30:12 GMT", 1812 * time.Second, true, 1812 * time.Second},
	{"Mon Jun  3 11:30:12 2019", 1812 * time.Second, true, 1812 * time.Second},
	// Now, and in the past: no wait at all (urllib3: no Retry-After sleep,
	// then its backoff, which is 0 by default).
	{"Mon, 03 Jun 2019 11:00:00 GMT", 0, true, -1},
	{"Mon, 03 Jun 2019 10:00:00 GMT", 0, true, -1},
	{"Sunday, 02-Jun-19 11:00:00 GMT", 0, true, -1},
	{"Sun Jun  2 11:00:00 2019", 0, true, -1},
}

// u3CheckSleepCases checks u3SleepCases against parseRetryAfter.
func u3CheckSleepCases(t *testing.T) {
	now := time.Date(2019, 6, 3, 11, 0, 0, 0, time.UTC).In(time.Local)
	for _, tc := range u3SleepCases {
		if d, ok := parseRetryAfter(tc.header, now, 2*time.Hour); d != tc.want || ok != tc.ok {
			t.Errorf("Retry-After %q at %v (local zone %v): %v, %t; want %v, %t", tc.header, now, now.Location(), d, ok, tc.want, tc.ok)
		}
	}
}

// From test_respect_retry_after_header_sleep (respect_retry_after_header
// True): each value read at the peer's time; then, end to end, a 503
// whose Retry-After is an HTTP-date 1812 seconds ahead, in each format, is
// retried exactly 1812 seconds later, and one in the past at once (the
// backoff, 1s, is not used: Retry-After replaces it).
//
// respect_retry_after_header=False has no counterpart: fetch always waits
// out a 429's or 503's Retry-After, whatever the classifier says.
func TestPortU3RespectRetryAfterHeaderSleep(t *testing.T) {
	u3CheckSleepCases(t)
	for _, tc := range []struct {
		name   string
		offset time.Duration
		want   time.Duration
	}{
		{"ahead", 1812 * time.Second, 1812 * time.Second},
		{"now", 0, 0},
		{"past", -time.Hour, 0},
	} {
		for _, format := range u3Formats {
			t.Run(tc.name+"/"+format.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var first atomic.Bool
					c := count(func(w http.ResponseWriter, r *http.Request) {
						if !first.Swap(true) {
							w.Header().Set("Retry-After", time.Now().Add(tc.offset).UTC().Format(format.layout))
							w.WriteHeader(503)
							return
						}
						w.Write([]byte("ok"))
					})
					// A classifier of the caller's own (urllib3's
					// respect_retry_after_header=False is the nearest
					// thing): the Retry-After is waited out all the same.
					f := newMem(t, c, WithRetry(RetryPolicy{BaseDelay: time.Second, Jitter: NoJitter, MaxRetryAfter: time.Hour,
						Retryable: func(resp *http.Response, err error) bool { return err == nil && resp.StatusCode == 503 }}))
					if _, err := f.Get(context.Background(), "http://a.test/"); err != nil {
						t.Fatal(err)
					}
					if g := portGaps(c.times()); len(g) != 1 || g[0] != tc.want {
						t.Errorf("gaps %v; want [%v]", g, tc.want)
					}
				})
			})
		}
	}
}

// From test_respect_retry_after_header_sleep's stub_timezone ("UTC",
// "Asia/Jerusalem", None): what an HTTP-date asks for does not depend on
// the local time zone, and asctime, which has no zone, is UTC. Each zone
// runs in a child process of the test binary with TZ set, since time.Local
// is read once.
func TestPortU3RespectRetryAfterHeaderSleepTimezones(t *testing.T) {
	if os.Getenv("FETCH_U3_TZ_CHILD") == "1" {
		want, _ := strconv.Atoi(os.Getenv("FETCH_U3_TZ_OFFSET"))
		if _, off := time.Date(2019, 6, 3, 11, 0, 0, 0, time.UTC).In(time.Local).Zone(); os.Getenv("FETCH_U3_TZ_OFFSET") != "" && off != want {
			t.Fatalf("TZ=%q: local offset %d; want %d (zone not loaded)", os.Getenv("TZ"), off, want)
		}
		u3CheckSleepCases(t)
		return
	}
	for _, tz := range []struct {
		zone   string
		offset string // the zone's offset on the peer's date, checked in the child; "" to skip
	}{
		{"UTC", "0"},
		{"Asia/Jerusalem", strconv.Itoa(3 * 3600)},           // IDT
		{"America/St_Johns", strconv.Itoa(-(2*3600 + 1800))}, // NDT, a half hour
		{"", ""}, // None: the machine's own
	} {
		t.Run("TZ="+tz.zone, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestPortU3RespectRetryAfterHeaderSleepTimezones$", "-test.count=1", "-test.v")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "TZ=") && !strings.HasPrefix(kv, "FETCH_U3_") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, "FETCH_U3_TZ_CHILD=1", "FETCH_U3_TZ_OFFSET="+tz.offset)
			if tz.zone != "" {
				cmd.Env = append(cmd.Env, "TZ="+tz.zone)
			}
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestPortU3RespectRetryAfterHeaderSleepTimezones") {
				t.Fatalf("child with TZ=%q: %v\n%s", tz.zone, err, out)
			}
		})
	}
}

// RFC 9110 §5.6.7: "Recipients of a timestamp value in rfc850-date format,
// which uses a two-digit year, MUST interpret a timestamp that appears to
// be more than 50 years in the future as representing the most recent year
// in the past that had the same last two digits." So, read in mid-2026,
// "70" is 2070 (44 years ahead, not more than 50): a wait far past any
// MaxRetryAfter. (urllib3 reads it with email.utils, whose fixed pivot,
// 69 → 1969, is Go's too; the peer's test has only "19".)
func TestPortU3RetryAfterRFC850TwoDigitYear(t *testing.T) {

	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		year   int
	}{
		{"Thursday, 01-Jan-70 00:00:00 GMT", 2070}, // 44 years ahead
		{"Wednesday, 01-Jan-76 00:00:00 GMT", 2076},
		{"Monday, 01-Jan-77 00:00:00 GMT", 1977}, // 2077 is more than 50 years ahead
		{"Friday, 01-Jan-27 00:00:00 GMT", 2027},
	} {
		want := max(time.Date(tc.year, 1, 1, 0, 0, 0, 0, time.UTC).Sub(now), 0)
		if d, ok := parseRetryAfter(tc.header, now, farWait); !ok || d != want {
			t.Errorf("Retry-After %q read at %v: %v, %t; want %v (year %d), true", tc.header, now, d, ok, want, tc.year)
		}
	}
}

// RFC 9110 §5.6.7's time-of-day runs "00:00:00 - 23:59:60 (leap second)",
// in all three formats, and a recipient must accept them all. A Retry-After
// of the last leap second, read an hour before it, asks for an hour's wait
// (3600s, or 3599s if read as 23:59:59); fetch's parse (net/http's
// http.ParseTime, whose time.Parse refuses a second of 60) ignores it as
// garbage, so the call retries after its backoff, an hour early.
// (urllib3's email.utils parser accepts it.)
func TestPortU3RetryAfterLeapSecond(t *testing.T) {

	now := time.Date(2016, 12, 31, 23, 0, 0, 0, time.UTC)
	for _, v := range []string{"Sat, 31 Dec 2016 23:59:60 GMT", "Saturday, 31-Dec-16 23:59:60 GMT", "Sat Dec 31 23:59:60 2016"} {
		if d, ok := parseRetryAfter(v, now, farWait); !ok || d < 3599*time.Second || d > 3600*time.Second {
			t.Errorf("Retry-After %q read at %v: %v, %t; want 3599s to 3600s, true", v, now, d, ok)
		}
	}
}

// From test_max_retry_wait_length_exceeded: with max_retry_wait_length
// 3600, a Retry-After of 3700 fails at once with MaxRetryWaitExceededError
// carrying the value asked for. fetch: a *RetryAfterError with RetryAfter
// 3700s and Max 3600s, unwrapping to the 503's *StatusError, after one
// attempt and no wait. A wait of exactly MaxRetryAfter is waited out, and so
// is the default's 5 minutes; a number of seconds too large for a Duration
// but within 64 bits is a wait past any MaxRetryAfter.
func TestPortU3MaxRetryWaitLengthExceeded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    time.Duration
		header string
		asked  time.Duration // 0: waited out, for wait
		wait   time.Duration
	}{
		{"3700 over 3600", time.Hour, "3700", 3700 * time.Second, 0},
		{"3600 at 3600", time.Hour, "3600", 0, time.Hour},
		{"default 300", 0, "300", 0, 5 * time.Minute},
		{"default 301", 0, "301", 301 * time.Second, 0},
		{"date over", time.Hour, "+3700s", 3700 * time.Second, 0},
		{"max int64 seconds", time.Hour, "9223372036854775807", farWait, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var first atomic.Bool
				c := count(func(w http.ResponseWriter, r *http.Request) {
					if !first.Swap(true) {
						v := tc.header
						if s, ok := strings.CutPrefix(v, "+"); ok {
							d, _ := time.ParseDuration(s)
							v = time.Now().Add(d).UTC().Format(http.TimeFormat)
						}
						w.Header().Set("Retry-After", v)
						w.WriteHeader(503)
						w.Write([]byte("slow down"))
						return
					}
					w.Write([]byte("ok"))
				})
				f := newMem(t, c, WithRetry(RetryPolicy{MaxRetryAfter: tc.max}))
				start := time.Now()
				_, err := f.Get(context.Background(), "http://a.test/")
				if tc.asked == 0 {
					if err != nil || c.n.Load() != 2 || time.Since(start) != tc.wait {
						t.Fatalf("err %v after %d requests and %v; want success after 2 and %v", err, c.n.Load(), time.Since(start), tc.wait)
					}
					return
				}
				var rae *RetryAfterError
				var se *StatusError
				if !errors.As(err, &rae) || rae.RetryAfter != tc.asked || rae.Max != cmp.Or(tc.max, 5*time.Minute) || rae.Remaining != 0 ||
					!errors.As(err, &se) || se.StatusCode != 503 || errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err %v (%+v); want a *RetryAfterError asking %v over Max %v, wrapping the 503", err, rae, tc.asked, tc.max)
				}
				if c.n.Load() != 1 || time.Since(start) != 0 || u3Attempts(err) != 1 {
					t.Errorf("%d requests, %d attempts, %v; want 1, 1, at once", c.n.Load(), u3Attempts(err), time.Since(start))
				}
			})
		})
	}
}

// ---------------------------------------------------------------------------
// test_connectionpool.py TestRetryAfter: Retry-After against the backoff
// ---------------------------------------------------------------------------

// From TestRetryAfter.test_retry_after: a 429 or a 503 with Retry-After is
// retried once the wait is over and succeeds; a 418 with Retry-After is
// not retried. And the wait: Retry-After replaces the backoff, whether it
// is shorter than BaseDelay or longer than MaxDelay (urllib3's
// backoff_max does not cap it either).
//
// Deliberate differences, asserted as fetch documents them:
//   - urllib3 honours Retry-After on any status it retries (a 500 in
//     status_forcelist); fetch only on a 429 or 503 ("Retry-After ... on a
//     429 or 503 replaces the backoff"): a 500's Retry-After is ignored;
//   - urllib3 retries a 413 with Retry-After (RETRY_AFTER_STATUS_CODES);
//     fetch never retries a 413 ("It does not retry other statuses");
//   - urllib3 takes Retry-After: 0 for no Retry-After and sleeps its
//     backoff; fetch retries at once, as the server allows.
func TestPortU3RetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		code     int
		header   string
		base     time.Duration
		attempts int64
		gap      time.Duration
	}{
		{"429 1s", 429, "1", time.Second, 2, time.Second},
		{"503 1s", 503, "1", time.Second, 2, time.Second},
		{"418 not retried", 418, "1", time.Second, 1, 0},
		{"429 below BaseDelay", 429, "1", 5 * time.Second, 2, time.Second},
		{"503 above MaxDelay", 503, "20", time.Second, 2, 20 * time.Second}, // MaxDelay 10s
		{"503 zero", 503, "0", time.Second, 2, 0},
		{"500 Retry-After ignored", 500, "3", time.Second, 2, time.Second},
		{"413 not retried", 413, "1", time.Second, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(failing(1, tc.code, http.Header{"Retry-After": {tc.header}}))
				f := newMem(t, c, WithRetry(RetryPolicy{BaseDelay: tc.base, Jitter: NoJitter}))
				resp, err := f.Do(mustGet(t, "http://a.test/"))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if want := map[bool]int{true: 200, false: tc.code}[tc.attempts == 2]; resp.StatusCode != want {
					t.Errorf("status %d; want %d", resp.StatusCode, want)
				}
				if c.n.Load() != tc.attempts {
					t.Fatalf("%d attempts; want %d", c.n.Load(), tc.attempts)
				}
				if g := portGaps(c.times()); tc.attempts == 2 && (len(g) != 1 || g[0] != tc.gap) {
					t.Errorf("gaps %v; want [%v]", g, tc.gap)
				}
			})
		})
	}
}

// Retry-After against the call's other limits, which urllib3 does not have
// (its only bound is max_retry_wait_length): a wait past the caller's
// deadline fails at once with a *RetryAfterError matching
// context.DeadlineExceeded; one past MaxElapsed ends the call with the
// response as it is.
func TestPortU3RetryAfterCallLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, 503, http.Header{"Retry-After": {"5"}}))
		f := newMem(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := f.Get(ctx, "http://a.test/")
		var rae *RetryAfterError
		if !errors.As(err, &rae) || rae.RetryAfter != 5*time.Second || rae.Remaining != 2*time.Second ||
			!errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 0 || c.n.Load() != 1 {
			t.Fatalf("err %v (%+v) after %v and %d requests; want a *RetryAfterError at once, 2s remaining", err, rae, time.Since(start), c.n.Load())
		}
	})
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, 503, http.Header{"Retry-After": {"5"}}))
		f := newMem(t, c, WithRetry(RetryPolicy{MaxElapsed: 3 * time.Second}))
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || c.n.Load() != 1 {
			t.Fatalf("status %d after %d requests; want the 503 after 1", resp.StatusCode, c.n.Load())
		}
	})
}

// From TestRetryAfter.test_redirect_after: urllib3 sleeps a 303's
// Retry-After (1 second, or until a date) before following it, and not for
// a date in the past. fetch follows a redirect at once: it honours
// Retry-After on a 429 or 503 only (README, "What is retried"; RFC 9110
// §10.2.3 only "asks" a user agent to wait before following a 3xx). With
// retries off (retries=False) urllib3 hands back the 303; fetch follows
// redirects whatever MaxAttempts says.
func TestPortU3RedirectAfter(t *testing.T) {
	for _, header := range []string{"1", "+2s", "-1s"} {
		t.Run(header, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/redirect_after" {
						v := header
						if d, err := time.ParseDuration(v); err == nil && strings.HasSuffix(v, "s") && (v[0] == '+' || v[0] == '-') {
							v = time.Now().Add(d).UTC().Format(http.TimeFormat)
						}
						w.Header().Set("Retry-After", v)
						w.Header().Set("Location", "/")
						w.WriteHeader(303)
						return
					}
					w.Write([]byte("ok"))
				})
				f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 1}))
				r := f.Fetch(context.Background(), "http://a.test/redirect_after")
				if r.Err != nil || r.Status != 200 || r.FinalURL != "http://a.test/" || r.Attempts != 1 {
					t.Fatalf("result %d %q, %d attempts, err %v; want 200 from http://a.test/ in 1", r.Status, r.FinalURL, r.Attempts, r.Err)
				}
				if g := portGaps(c.times()); len(g) != 1 || g[0] != 0 {
					t.Errorf("gaps %v; want [0] (urllib3 waits the 303's Retry-After)", g)
				}
			})
		})
	}
}

// ---------------------------------------------------------------------------
// test_retry.py: backoff
// ---------------------------------------------------------------------------

// From test_backoff: backoff_factor 0.2 gives 0 for the first retry, then
// 0.4, 0.8, 1.6 … capped at DEFAULT_BACKOFF_MAX (120s). fetch's first retry
// already waits BaseDelay (its backoff is BaseDelay·2^(retry-1)), so the
// peer's sequence from its second retry on is fetch's with BaseDelay 0.4s
// and MaxDelay 120s, from the first.
func TestPortU3Backoff(t *testing.T) {
	p := RetryPolicy{BaseDelay: 400 * time.Millisecond, MaxDelay: 120 * time.Second, Jitter: NoJitter}
	for retry, want := range map[int]time.Duration{
		1: 400 * time.Millisecond, 2: 800 * time.Millisecond, 3: 1600 * time.Millisecond, 4: 3200 * time.Millisecond,
		13: 120 * time.Second, 14: 120 * time.Second, 100: 120 * time.Second,
	} {
		if d := p.Backoff(retry, 0); d != want {
			t.Errorf("Backoff(%d) = %v; want %v", retry, d, want)
		}
	}
}

// From test_configurable_backoff_max: with backoff_max 1, the waits are
// 0.4, 0.8, 1, 1. Also end to end: the gaps between six attempts.
func TestPortU3ConfigurableBackoffMax(t *testing.T) {
	p := RetryPolicy{BaseDelay: 400 * time.Millisecond, MaxDelay: time.Second, Jitter: NoJitter}
	want := []time.Duration{400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second, time.Second}
	for i, w := range want {
		if d := p.Backoff(i+1, 0); d != w {
			t.Errorf("Backoff(%d) = %v; want %v", i+1, d, w)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(100, 503, nil))
		p.MaxAttempts = 6
		f := newMem(t, c, WithRetry(p))
		if _, err := f.Get(context.Background(), "http://a.test/"); u3Attempts(err) != 6 {
			t.Fatalf("err %v; want the 503 after 6 attempts", err)
		}
		if g := portGaps(c.times()); !slices.Equal(g, want) {
			t.Errorf("gaps %v; want %v", g, want)
		}
	})
}

// From test_backoff_jitter: urllib3 adds a uniform [0, backoff_jitter] to
// the exponential delay and caps the sum at backoff_max. fetch has no
// additive jitter: FullJitter draws from [0, d), EqualJitter from
// [d/2, d), DecorrelatedJitter from [base, 3·previous], each capped at
// MaxDelay. Every draw stays in its range, never above MaxDelay, and the
// draws do vary.
func TestPortU3BackoffJitter(t *testing.T) {
	base, ceil := 400*time.Millisecond, time.Second
	for _, tc := range []struct {
		name   string
		jitter Jitter
		lo, hi func(retry int, prev time.Duration) time.Duration
	}{
		{"full", FullJitter,
			func(int, time.Duration) time.Duration { return 0 },
			func(r int, _ time.Duration) time.Duration { return min(base<<(r-1), ceil) }},
		{"equal", EqualJitter,
			func(r int, _ time.Duration) time.Duration { return min(base<<(r-1), ceil) / 2 },
			func(r int, _ time.Duration) time.Duration { return min(base<<(r-1), ceil) }},
		{"decorrelated", DecorrelatedJitter,
			func(int, time.Duration) time.Duration { return base },
			func(_ int, prev time.Duration) time.Duration { return min(3*max(prev, base), ceil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := RetryPolicy{BaseDelay: base, MaxDelay: ceil, Jitter: tc.jitter}
			for retry := 1; retry <= 6; retry++ {
				seen := map[time.Duration]bool{}
				for range 500 {
					prev := time.Duration(0)
					if retry > 1 {
						prev = p.Backoff(retry-1, 0)
					}
					d := p.Backoff(retry, prev)
					seen[d] = true
					if d < tc.lo(retry, prev) || d > tc.hi(retry, prev) || d > ceil {
						t.Fatalf("retry %d, prev %v: Backoff = %v; want within [%v, %v]", retry, prev, d, tc.lo(retry, prev), tc.hi(retry, prev))
					}
				}
				if len(seen) < 10 {
					t.Errorf("retry %d: %d distinct delays in 500 draws; want jitter", retry, len(seen))
				}
			}
		})
	}
}

// From test_zero_backoff: urllib3's default Retry() has backoff_factor 0,
// so it never sleeps between retries. fetch has no zero backoff: a zero
// BaseDelay or MaxDelay means the default ("Zero means the default,
// 100ms"), so the zero RetryPolicy waits DefaultRetryPolicy's full-jitter
// backoff, [0, 100ms), [0, 200ms), [0, 400ms); the nearest to urllib3's is
// a nanosecond.
func TestPortU3ZeroBackoff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy RetryPolicy
		hi     []time.Duration
	}{
		{"zero policy", RetryPolicy{}, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}},
		{"a nanosecond", u3Quick(RetryPolicy{}), []time.Duration{time.Nanosecond, time.Nanosecond, time.Nanosecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(failing(100, 503, nil))
				f := newMem(t, c, WithRetry(tc.policy))
				if _, err := f.Get(context.Background(), "http://a.test/"); u3Attempts(err) != 4 {
					t.Fatalf("err %v; want the 503 after 4 attempts", err)
				}
				g := portGaps(c.times())
				if len(g) != len(tc.hi) {
					t.Fatalf("gaps %v; want %d", g, len(tc.hi))
				}
				for i := range g {
					if g[i] < 0 || g[i] >= tc.hi[i] {
						t.Errorf("gap %d = %v; want within [0, %v)", i+1, g[i], tc.hi[i])
					}
				}
			})
		})
	}
}

// From test_backoff_reset_after_redirect: urllib3 counts a redirect as a
// retry of its own, and resets the backoff after one. In fetch a redirect is
// part of the attempt that met it, and a retry starts again at the
// request's URL: attempts that were redirected and attempts that were not
// back off alike, BaseDelay·2^(retry-1), with no reset.
func TestPortU3BackoffResetAfterRedirect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var starts, targets atomic.Int64
		c := count(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/start":
				// The first two attempts fail here; the rest are redirected.
				if starts.Add(1) <= 2 {
					w.WriteHeader(503)
					return
				}
				http.Redirect(w, r, "/target", http.StatusFound)
			case "/target":
				if targets.Add(1) <= 2 {
					w.WriteHeader(503)
					return
				}
				w.Write([]byte("ok"))
			}
		})
		var delays []time.Duration
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 5, BaseDelay: 200 * time.Millisecond, Jitter: NoJitter}),
			WithHooks(Hooks{OnRetry: func(ri RetryInfo) { delays = append(delays, ri.Delay) }}))
		r := f.Fetch(context.Background(), "http://a.test/start")
		if r.Err != nil || r.Attempts != 5 || r.FinalURL != "http://a.test/target" {
			t.Fatalf("result %d from %q after %d attempts, err %v; want 200 from /target after 5", r.Status, r.FinalURL, r.Attempts, r.Err)
		}
		want := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond}
		if !slices.Equal(delays, want) {
			t.Errorf("retry delays %v; want %v (no reset after the redirected attempts)", delays, want)
		}
		if starts.Load() != 5 || targets.Load() != 3 {
			t.Errorf("/start saw %d, /target %d; want 5 and 3 (every retry starts at /start)", starts.Load(), targets.Load())
		}
	})
}

// ---------------------------------------------------------------------------
// test_retry.py: what is retried
// ---------------------------------------------------------------------------

// From test_status_forcelist: a 200 and a 400 are not retried, a 500 is
// (fetch's default retries 408, 429, 500, 502, 503 and 504: urllib3's
// default list is empty, retrying only 413/429/503 with Retry-After); a
// forcelist of [418] retries a 418 and not a 400; a classifier for the
// whole 5xx range (range(500, 600)) retries a 501 too. (urllib3's "string
// status codes are not matched" has no counterpart in Go's types.)
func TestPortU3StatusForcelist(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retryable func(*http.Response, error) bool
		code      int
		want      int64
	}{
		{"default 200", nil, 200, 1},
		{"default 400", nil, 400, 1},
		{"default 418", nil, 418, 1},
		{"default 500", nil, 500, 4},
		{"default 501", nil, 501, 1},
		{"default 408", nil, 408, 4},
		{"default 504", nil, 504, 4},
		{"forcelist 418: 400", u3Forcelist(418), 400, 1},
		{"forcelist 418: 418", u3Forcelist(418), 418, 4},
		{"forcelist 418: 500", u3Forcelist(418), 500, 1},
		{"5xx range: 501", func(resp *http.Response, err error) bool {
			return err == nil && resp.StatusCode >= 500 && resp.StatusCode < 600
		}, 501, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tc.code) })
				f := newMem(t, c, WithRetry(RetryPolicy{Retryable: tc.retryable}))
				resp, err := f.Do(mustGet(t, "http://a.test/"))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.code || c.n.Load() != tc.want {
					t.Errorf("status %d after %d attempts; want %d after %d", resp.StatusCode, c.n.Load(), tc.code, tc.want)
				}
			})
		})
	}
}

// From test_allowed_methods_with_status_forcelist: allowed_methods=None
// retries any method (fetch: RetryNonIdempotent); allowed_methods=["POST"]
// is ANDed with the forcelist, so a GET is not retried and a POST is
// (fetch: a classifier that reads resp.Request.Method, and
// RetryNonIdempotent for the POST).
func TestPortU3AllowedMethodsWithStatusForcelist(t *testing.T) {
	onlyPOST := func(resp *http.Response, err error) bool {
		return err == nil && resp.StatusCode == 500 && resp.Request.Method == http.MethodPost
	}
	for _, tc := range []struct {
		name   string
		policy RetryPolicy
		method string
		want   int64
	}{
		{"any method: GET", RetryPolicy{RetryNonIdempotent: true, Retryable: u3Forcelist(500)}, "GET", 4},
		{"any method: POST", RetryPolicy{RetryNonIdempotent: true, Retryable: u3Forcelist(500)}, "POST", 4},
		{"POST only: GET", RetryPolicy{RetryNonIdempotent: true, Retryable: onlyPOST}, "GET", 1},
		{"POST only: POST", RetryPolicy{RetryNonIdempotent: true, Retryable: onlyPOST}, "POST", 4},
		{"default methods: POST", RetryPolicy{Retryable: u3Forcelist(500)}, "POST", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
				f := newMem(t, c, WithRetry(tc.policy))
				req, _ := http.NewRequest(tc.method, "http://a.test/", strings.NewReader("x"))
				resp, err := f.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if c.n.Load() != tc.want {
					t.Errorf("%d attempts; want %d", c.n.Load(), tc.want)
				}
			})
		})
	}
}

// From test_default_method_forcelist_retried and Retry's
// DEFAULT_ALLOWED_METHODS (HEAD, GET, PUT, DELETE, OPTIONS, TRACE): the
// same set as fetch's idempotent methods. A POST or PATCH is not retried
// unless it carries an Idempotency-Key (fetch's own rule). urllib3
// upper-cases the method before it looks it up; fetch does not, since
// methods are case-sensitive (RFC 9110 §9.1): "get" is not GET, and is
// not retried.
func TestPortU3DefaultMethodForcelistRetried(t *testing.T) {
	for _, tc := range []struct {
		method string
		key    bool
		want   int64
	}{
		{"GET", false, 2}, {"HEAD", false, 2}, {"PUT", false, 2}, {"DELETE", false, 2},
		{"OPTIONS", false, 2}, {"TRACE", false, 2},
		{"POST", false, 1}, {"PATCH", false, 1}, {"get", false, 1},
		{"POST", true, 2},
	} {
		t.Run(fmt.Sprintf("%s key=%t", tc.method, tc.key), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &u3SuccessfulRetry{t: t}
				f := newMem(t, s, WithRetry(RetryPolicy{MaxAttempts: 2, Retryable: u3Forcelist(418)}))
				req, _ := http.NewRequest(tc.method, "http://a.test/successful_retry", nil)
				req.Header.Set("test-name", "test_default_forcelist")
				if tc.key {
					req.Header.Set("Idempotency-Key", "k1")
				}
				resp, err := f.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				want := map[bool]int{true: 200, false: 418}[tc.want == 2]
				if s.total.Load() != tc.want || resp.StatusCode != want {
					t.Errorf("%d requests, status %d; want %d, %d", s.total.Load(), resp.StatusCode, tc.want, want)
				}
			})
		})
	}
}

// From test_retry_method_not_allowed, test_retry_higher_total_loses_vs_read
// and test_retry_read_zero: a read timeout on a GET is retried until
// attempts run out; on a POST it is not retried, and the timeout itself is
// the error (urllib3 re-raises the ReadTimeoutError, not a MaxRetryError);
// with read=0 it is not retried either. fetch: WithAttemptTimeout, an
// *Error matching ErrAttemptTimeout.
func TestPortU3RetryMethodNotAllowed(t *testing.T) {
	for _, tc := range []struct {
		method string
		want   int
		read0  bool // test_retry_read_zero's Retry(read=0)
	}{{"GET", 3, false}, {"POST", 1, false}, {"GET", 1, true}} {
		t.Run(fmt.Sprintf("%s read0=%t", tc.method, tc.read0), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
				p := RetryPolicy{MaxAttempts: 3}
				if tc.read0 {
					// No per-kind counters in fetch: a classifier that
					// refuses read timeouts is the nearest to read=0.
					p.Retryable = func(resp *http.Response, err error) bool {
						return !errors.Is(err, ErrAttemptTimeout) && DefaultRetryable(resp, err)
					}
				}
				f := newMem(t, c, WithAttemptTimeout(time.Second), WithRetry(p))
				_, err := f.Get(context.Background(), "http://a.test/", Method(tc.method), Body("text/plain", []byte("x")))
				if !errors.Is(err, ErrAttemptTimeout) || u3Attempts(err) != tc.want || c.n.Load() != int64(tc.want) {
					t.Fatalf("err %v, %d requests; want ErrAttemptTimeout after %d", err, c.n.Load(), tc.want)
				}
			})
		})
	}
}

// From test_retry_default's connect counter and
// test_connection_error_retries: urllib3 retries a connection error for
// any method, since nothing was sent. So does fetch (RetryPolicy: "or its
// attempt failed to connect"): a POST whose connection was refused is
// retried as a GET is, until attempts run out.
func TestPortU3ConnectErrorMethods(t *testing.T) {
	for _, tc := range []struct {
		method string
		want   int
	}{{"GET", 4}, {"POST", 4}} {
		t.Run(tc.method, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := &portRefusing{next: memhttp.Transport{Handler: http.HandlerFunc(ok)}}
				tr.refusals.Store(100)
				f := newMem(t, nil, WithClient(&http.Client{Transport: tr}))
				_, err := f.Get(context.Background(), "http://a.test/", Method(tc.method), Body("text/plain", []byte("x")))
				if !errors.Is(err, syscall.ECONNREFUSED) || u3Attempts(err) != tc.want || tr.tries.Load() != int64(tc.want) {
					t.Fatalf("err %v after %d tries; want ECONNREFUSED after %d", err, tr.tries.Load(), tc.want)
				}
			})
		})
	}
}

// From test_retry_other: urllib3 retries an SSLError under its "other"
// counter (up to total, 10, by default). fetch never retries a TLS
// certificate failure (DefaultRetryable: "It does not retry ... TLS
// certificate or handshake failures"): one connection, one attempt.
func TestPortU3RetryOther(t *testing.T) {
	var conns atomic.Int64
	ts := httptest.NewUnstartedServer(http.HandlerFunc(ok))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake's failure
	ts.StartTLS()
	t.Cleanup(ts.Close)
	f := portFetcher(t, WithRetry(u3Quick(RetryPolicy{})))
	_, err := f.Get(context.Background(), ts.URL)
	var cve *tls.CertificateVerificationError
	if !errors.As(err, &cve) || u3Attempts(err) != 1 {
		t.Fatalf("err %v; want a certificate error after 1 attempt", err)
	}
	// net/http's server reports StateNew as it accepts, before the
	// handshake whose failure the client saw.
	if conns.Load() != 1 {
		t.Errorf("%d connections; want 1", conns.Load())
	}
}

// ---------------------------------------------------------------------------
// test_retry.py: counting attempts, and what exhaustion returns
// ---------------------------------------------------------------------------

// From test_retry_default, test_exhausted, test_disabled and
// test_retry_both_specified: urllib3's Retry() is total=10 with no backoff
// and backoff_max 120s (a pool given no retries uses Retry.DEFAULT,
// Retry(3)); Retry(0) makes one attempt, Retry(-1) none.
// fetch's defaults are 4 attempts, 100ms base, 10s cap, full jitter and a
// 5-minute MaxRetryAfter; MaxAttempts 1 makes one attempt; a negative
// MaxAttempts is refused by New, and zero means the default (not urllib3's
// "no retries").
func TestPortU3RetryDefault(t *testing.T) {
	p := DefaultRetryPolicy()
	if p.MaxAttempts != 4 || p.BaseDelay != 100*time.Millisecond || p.MaxDelay != 10*time.Second ||
		p.MaxRetryAfter != 5*time.Minute || p.Jitter != FullJitter || p.RetryNonIdempotent || p.MaxElapsed != 0 || p.Retryable == nil {
		t.Errorf("DefaultRetryPolicy() = %+v", p)
	}
	if _, err := New(WithRetry(RetryPolicy{MaxAttempts: -1})); err == nil {
		t.Errorf("New with MaxAttempts -1: no error")
	}
	for _, tc := range []struct {
		max  int
		want int
	}{{1, 1}, {0, 4}, {3, 3}, {11, 11}} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := &portRefusing{next: memhttp.Transport{Handler: http.HandlerFunc(ok)}}
				tr.refusals.Store(100)
				f := newMem(t, nil, WithClient(&http.Client{Transport: tr}), WithRetry(RetryPolicy{MaxAttempts: tc.max}))
				_, err := f.Get(context.Background(), "http://a.test/")
				if !errors.Is(err, syscall.ECONNREFUSED) || u3Attempts(err) != tc.want || tr.tries.Load() != int64(tc.want) ||
					f.Stats().Retries != int64(tc.want-1) {
					t.Fatalf("err %v, %d tries, %d retries; want the refusal after %d", err, tr.tries.Load(), f.Stats().Retries, tc.want)
				}
			})
		})
	}
}

// From test_status_counter, test_read_retries_unsuccessful and urllib3's
// raise_on_status: when retries run out on a status, urllib3 raises
// MaxRetryError ("too many 503 error responses") or, with
// raise_on_status=False, returns the last response. fetch: Do returns the
// last response, readable, with no error; Get and Fetch fail with an *Error
// counting the attempts and wrapping a *StatusError that carries the last
// response's status, header (its Retry-After), body and the wait it asked
// for.
func TestPortU3StatusCounterExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := n.Add(1)
			w.Header().Set("Retry-After", fmt.Sprint(i))
			w.Header().Set("X-Attempt", fmt.Sprint(i))
			w.WriteHeader(503)
			fmt.Fprintf(w, "attempt %d", i)
		})
		// A Fetcher for each call: the last 503's Retry-After pauses the
		// host for the next call.
		policy := WithRetry(RetryPolicy{MaxAttempts: 3})
		f := newMem(t, h, policy)
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || string(b) != "attempt 3" || resp.Header.Get("X-Attempt") != "3" {
			t.Errorf("Do: %d %q; want the last response, 503 \"attempt 3\"", resp.StatusCode, b)
		}

		n.Store(0)
		f = newMem(t, h, policy)
		start := time.Now()
		_, err = f.Get(context.Background(), "http://a.test/")
		var se *StatusError
		if !errors.As(err, &se) || u3Attempts(err) != 3 || se.StatusCode != 503 || string(se.Body) != "attempt 3" ||
			se.Header.Get("Retry-After") != "3" || se.RetryAfter != 3*time.Second {
			t.Fatalf("Get: err %v (%+v); want the third 503 after 3 attempts", err, se)
		}
		// Waited 1s and 2s, as asked; not the third's 3s, as no retry follows.
		if took := time.Since(start); took != 3*time.Second {
			t.Errorf("Get took %v; want 3s", took)
		}
		if !strings.Contains(err.Error(), "after 3 attempts: status 503 Service Unavailable") {
			t.Errorf("Get: err %q; want it to name the attempts and the status", err)
		}

		n.Store(0)
		f = newMem(t, h, policy)
		r := f.Fetch(context.Background(), "http://a.test/")
		if r.Status != 503 || string(r.Body) != "attempt 3" || r.Attempts != 3 || !errors.As(r.Err, &se) {
			t.Errorf("Fetch: %d %q after %d attempts, err %v; want the last 503 after 3", r.Status, r.Body, r.Attempts, r.Err)
		}
	})
}

// From test_error_message: the error names its cause (urllib3: "read timed
// out", "too many 500 error responses", "conntimeout") and never says it
// was caused by a redirect. fetch: "fetch: METHOD URL: after N attempts:
// cause", the count left out for a single attempt.
func TestPortU3ErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		opts   func(t *testing.T) []Option
		want   []string
	}{
		{"read timeout", "GET", func(t *testing.T) []Option {
			return []Option{WithAttemptTimeout(time.Second), WithClient(memhttp.Client(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			})))}
		}, []string{"fetch: GET http://a.test/: after 2 attempts: ", "timed out"}},
		{"500", "GET", func(t *testing.T) []Option {
			return []Option{WithClient(memhttp.Client(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })))}
		}, []string{"fetch: GET http://a.test/: after 2 attempts: status 500 Internal Server Error"}},
		{"POST 500", "POST", func(t *testing.T) []Option {
			return []Option{WithClient(memhttp.Client(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })))}
		}, []string{"fetch: POST http://a.test/: status 500 Internal Server Error"}},
		{"connection refused", "GET", func(t *testing.T) []Option {
			tr := &portRefusing{next: memhttp.Transport{Handler: http.HandlerFunc(ok)}}
			tr.refusals.Store(100)
			return []Option{WithClient(&http.Client{Transport: tr})}
		}, []string{"fetch: GET http://a.test/: after 2 attempts: ", "connection refused"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newMem(t, nil, append(tc.opts(t), WithRetry(RetryPolicy{MaxAttempts: 2}))...)
				_, err := f.Get(context.Background(), "http://a.test/", Method(tc.method))
				if err == nil {
					t.Fatal("no error")
				}
				msg := err.Error()
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("err %q; want it to contain %q", msg, w)
					}
				}
				if strings.Contains(strings.ToLower(msg), "redirect") {
					t.Errorf("err %q mentions a redirect", msg)
				}
			})
		})
	}
}

// From test_history and test_retry_return_in_response: urllib3 records each
// retried attempt as RequestHistory(method, url, error, status,
// redirect_location), and the response carries the Retry with what is
// left. fetch: the OnAttempt and OnRetry hooks see each attempt (its
// request, status or error), and Result.Attempts and Stats count them.
func TestPortU3History(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		tr := &portRefusing{next: memhttp.Transport{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.WriteHeader(500)
				return
			}
			w.Write([]byte("ok"))
		})}}
		tr.refusals.Store(1)
		type entry struct {
			attempt        int
			method, url    string
			status         int
			refused, retry bool
		}
		var history []entry
		f := newMem(t, nil, WithClient(&http.Client{Transport: tr}),
			WithRetry(RetryPolicy{MaxAttempts: 10, RetryNonIdempotent: true}),
			WithHooks(Hooks{
				OnAttempt: func(ai AttemptInfo) {
					history = append(history, entry{ai.Attempt, ai.Request.Method, ai.Request.URL.String(), ai.Status,
						errors.Is(ai.Err, syscall.ECONNREFUSED), false})
				},
				OnRetry: func(ri RetryInfo) {
					history = append(history, entry{ri.Attempt, ri.Request.Method, ri.Request.URL.String(), ri.Status,
						errors.Is(ri.Err, syscall.ECONNREFUSED), true})
				},
			}))
		r := f.Fetch(context.Background(), "http://a.test/test1", Method("POST"), Body("text/plain", []byte("x")))
		if r.Err != nil || r.Status != 200 || r.Attempts != 3 || f.Stats().Retries != 2 {
			t.Fatalf("result %d after %d attempts (%d retries), err %v; want 200 after 3 (2)", r.Status, r.Attempts, f.Stats().Retries, r.Err)
		}
		want := []entry{
			{1, "POST", "http://a.test/test1", 0, true, false},
			{1, "POST", "http://a.test/test1", 0, true, true},
			{2, "POST", "http://a.test/test1", 500, false, false},
			{2, "POST", "http://a.test/test1", 500, false, true},
			{3, "POST", "http://a.test/test1", 200, false, false},
		}
		if !slices.Equal(history, want) {
			t.Errorf("history\n%v\nwant\n%v", history, want)
		}
	})
}

// ---------------------------------------------------------------------------
// test_connectionpool.py TestRetry
// ---------------------------------------------------------------------------

// From test_read_retries, test_read_total_retries, test_retries_wrong_forcelist,
// test_retries_wrong_method_list, test_read_retries_unsuccessful,
// test_retry_reuse_safe and test_retry_return_in_response, against the
// dummy server's /successful_retry (418 once per test-name, then 200).
func TestPortU3SuccessfulRetry(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policy   RetryPolicy
		status   int
		attempts int
	}{
		// Retry(read=1, status_forcelist=[418]), Retry(total=1, ...): 200.
		{"read_retries", RetryPolicy{MaxAttempts: 2, Retryable: u3Forcelist(418)}, 200, 2},
		// Retry(total=1, status_forcelist=[202]): the 418.
		{"wrong_forcelist", RetryPolicy{MaxAttempts: 2, Retryable: u3Forcelist(202)}, 418, 1},
		// retries=1 with no forcelist: the 418 (neither retries it).
		{"read_retries_unsuccessful", RetryPolicy{MaxAttempts: 2}, 418, 1},
		// Retry(total=1, status_forcelist=[418], allowed_methods=["POST"])
		// on a GET: the 418.
		{"wrong_allowed_method", RetryPolicy{MaxAttempts: 2, Retryable: func(resp *http.Response, err error) bool {
			return err == nil && resp.StatusCode == 418 && resp.Request.Method == "POST"
		}}, 418, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &u3SuccessfulRetry{t: t}
				var retries []int
				f := newMem(t, s, WithRetry(tc.policy), WithHooks(Hooks{OnRetry: func(ri RetryInfo) { retries = append(retries, ri.Status) }}))
				r := f.Fetch(context.Background(), "http://a.test/successful_retry", Header("test-name", "test_"+tc.name))
				if r.Status != tc.status || r.Attempts != tc.attempts || int(s.total.Load()) != tc.attempts {
					t.Fatalf("status %d after %d attempts (server saw %d); want %d after %d", r.Status, r.Attempts, s.total.Load(), tc.status, tc.attempts)
				}
				// test_retry_return_in_response: the history is the one 418.
				if want := map[bool][]int{true: {418}, false: nil}[tc.attempts == 2]; !slices.Equal(retries, want) {
					t.Errorf("retried statuses %v; want %v", retries, want)
				}
			})
		})
	}
	// test_retry_reuse_safe: one policy value, used by two Fetchers and for
	// two calls on each, retries each call afresh.
	synctest.Test(t, func(t *testing.T) {
		p := RetryPolicy{MaxAttempts: 2, Retryable: u3Forcelist(418)}
		for i := range 2 {
			s := &u3SuccessfulRetry{t: t}
			f := newMem(t, s, WithRetry(p))
			for j := range 2 {
				r := f.Fetch(context.Background(), "http://a.test/successful_retry", Header("test-name", fmt.Sprint("test_retry_safe", j)))
				if r.Err != nil || r.Status != 200 || r.Attempts != 2 {
					t.Errorf("Fetcher %d call %d: %d after %d attempts, err %v; want 200 after 2", i, j, r.Status, r.Attempts, r.Err)
				}
			}
		}
		if p.MaxAttempts != 2 || p.BaseDelay != 0 {
			t.Errorf("policy changed by use: %+v", p)
		}
	})
}

// From test_max_retry and test_disabled_retry: urllib3 counts a redirect
// against total, so retries=0 fails a redirect with MaxRetryError and
// retries=False (or redirect=False) hands back the 303. fetch counts
// redirects apart (WithMaxRedirects), so MaxAttempts 1 still follows it;
// WithMaxRedirects(0) fails it with ErrTooManyRedirects, not retried; and
// a CheckRedirect returning http.ErrUseLastResponse hands back the 303. A
// name that does not resolve is not retried either way.
func TestPortU3MaxRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(u3Redirects)
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 1}))
		r := f.Fetch(context.Background(), "http://a.test/redirect?target=/")
		if r.Err != nil || r.Status != 200 || r.Attempts != 1 || r.FinalURL != "http://a.test/" || c.n.Load() != 2 {
			t.Errorf("MaxAttempts 1: %d from %q after %d attempts (%d requests), err %v; want 200 from / after 1 (2)",
				r.Status, r.FinalURL, r.Attempts, c.n.Load(), r.Err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		c := count(u3Redirects)
		f := newMem(t, nil, WithClient(&http.Client{
			Transport:     memhttp.Transport{Handler: c},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}))
		resp, err := f.Do(mustGet(t, "http://a.test/redirect?target=/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 303 || c.n.Load() != 1 {
			t.Errorf("ErrUseLastResponse: %d after %d requests; want the 303 after 1", resp.StatusCode, c.n.Load())
		}
	})
	synctest.Test(t, func(t *testing.T) {
		tr := &portDNSFail{}
		f := newMem(t, nil, WithClient(&http.Client{Transport: tr}))
		_, err := f.Get(context.Background(), "http://thishostdoesnotexist.invalid/test")
		var dnsErr *net.DNSError
		if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound || tr.tries.Load() != 1 {
			t.Errorf("err %v after %d tries; want the *net.DNSError after 1", err, tr.tries.Load())
		}
	})
	// WithMaxRedirects configures the client New builds, so over loopback.
	var n atomic.Int64
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1); u3Redirects(w, r) })
	f := portFetcher(t, WithMaxRedirects(0), WithRetry(u3Quick(RetryPolicy{})))
	_, err := f.Get(context.Background(), ts.URL+"/redirect?target=/")
	if !errors.Is(err, ErrTooManyRedirects) || u3Attempts(err) != 1 || n.Load() != 1 {
		t.Errorf("WithMaxRedirects(0): err %v, %d requests; want ErrTooManyRedirects after 1", err, n.Load())
	}
}

// From test_retry_redirect_history and test_multi_redirect_history: urllib3
// records each redirect in the history ((303, "/"), and the chain
// 303, 302, 301, 307, 302 for /multi_redirect), and counts it as a retry.
// fetch follows the chain inside one attempt: Attempts 1, no OnRetry, and
// the chain is net/http's, through the final response's
// Request.Response links.
func TestPortU3MultiRedirectHistory(t *testing.T) {
	for _, tc := range []struct {
		path string
		body string
		want []string
	}{
		{"/redirect?target=/", "Dummy server!", []string{"303 /"}},
		{"/multi_redirect?redirect_codes=303,302,301,307,302,200", "Done redirecting", []string{
			"303 /multi_redirect?redirect_codes=302,301,307,302,200",
			"302 /multi_redirect?redirect_codes=301,307,302,200",
			"301 /multi_redirect?redirect_codes=307,302,200",
			"307 /multi_redirect?redirect_codes=302,200",
			"302 /multi_redirect?redirect_codes=200",
		}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var retries, attempts atomic.Int64
				f := newMem(t, http.HandlerFunc(u3Redirects), WithHooks(Hooks{
					OnRetry:   func(RetryInfo) { retries.Add(1) },
					OnAttempt: func(AttemptInfo) { attempts.Add(1) },
				}))
				resp, err := f.Do(mustGet(t, "http://a.test"+tc.path))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != tc.body || retries.Load() != 0 || attempts.Load() != 1 {
					t.Fatalf("%d %q, %d attempts, %d retries; want 200 %q in 1, none", resp.StatusCode, b, attempts.Load(), retries.Load(), tc.body)
				}
				var chain []string
				for prev := resp.Request.Response; prev != nil; prev = prev.Request.Response {
					chain = append([]string{fmt.Sprint(prev.StatusCode, " ", prev.Header.Get("Location"))}, chain...)
				}
				if !slices.Equal(chain, tc.want) {
					t.Errorf("chain %q; want %q", chain, tc.want)
				}
				if r := f.Fetch(context.Background(), "http://a.test"+tc.path); r.Attempts != 1 || r.Err != nil {
					t.Errorf("Fetch: %d attempts, err %v; want 1", r.Attempts, r.Err)
				}
			})
		})
	}
}

// A redirected POST, whose 303 turns it into a GET that fails: urllib3
// follows the redirect as a GET request of its own, with the remaining
// retries, so the GET is retried. fetch retries a call from its start
// ("a retry starts again at req's URL"), which would send the POST again,
// so it does not retry: the 503 comes back after one POST and one GET.
func TestPortU3RedirectedPostNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var posts, gets atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case "POST":
				posts.Add(1)
				http.Redirect(w, r, "/result", http.StatusSeeOther)
			case "GET":
				gets.Add(1)
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(503)
			}
		}))
		req, _ := http.NewRequest("POST", "http://a.test/form", strings.NewReader("a=1"))
		resp, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || posts.Load() != 1 || gets.Load() != 1 {
			t.Errorf("%d after %d POSTs and %d GETs; want the 503 after 1 and 1", resp.StatusCode, posts.Load(), gets.Load())
		}
	})
}

// ---------------------------------------------------------------------------
// test_connectionpool.py TestFileBodiesOnRetryOrRedirect
// ---------------------------------------------------------------------------

// From test_retries_put_filehandle: a PUT of 65535 bytes from a reader,
// retried on a 418 (forcelist, total=3), sends the whole body each time and
// succeeds; over loopback, with no timeout. urllib3 rewinds a file object
// with tell/seek; fetch replays a body only through GetBody ("its body, if
// any, can be replayed through http.Request.GetBody"), which net/http sets
// for a bytes.Reader but not for an *os.File: a PUT from an open file is
// not retried unless the caller sets GetBody.
func TestPortU3RetriesPutFilehandle(t *testing.T) {
	data := bytes.Repeat([]byte("A"), 65535)
	name := t.TempDir() + "/upload"
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	open := func(t *testing.T) io.ReadCloser {
		fh, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		return fh
	}
	for _, tc := range []struct {
		name   string
		body   func(t *testing.T, req *http.Request)
		status int
		sent   int64
	}{
		{"bytes.Reader", func(t *testing.T, req *http.Request) {}, 200, 2},
		{"os.File", func(t *testing.T, req *http.Request) {
			req.Body, req.GetBody = open(t), nil
		}, 418, 1},
		{"os.File with GetBody", func(t *testing.T, req *http.Request) {
			req.Body = open(t)
			req.GetBody = func() (io.ReadCloser, error) { return open(t), nil }
		}, 200, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &u3SuccessfulRetry{t: t, want: data}
			ts := portServer(t, s.ServeHTTP)
			f := portFetcher(t, WithRetry(u3Quick(RetryPolicy{MaxAttempts: 4, Retryable: u3Forcelist(418)})))
			req, _ := http.NewRequest("PUT", ts.URL+"/successful_retry", bytes.NewReader(data))
			req.Header.Set("test-name", "test_retries_put_filehandle")
			tc.body(t, req)
			resp, err := f.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || s.total.Load() != tc.sent {
				t.Errorf("%d after %d requests; want %d after %d", resp.StatusCode, s.total.Load(), tc.status, tc.sent)
			}
		})
	}
}

// From test_redirect_put_file: a PUT of 65535 bytes redirected with a 307
// to /echo is sent again, whole, and echoed; and if /echo first answers a
// retried status, the retry starts again at the redirect, and the body is
// sent whole each time.
func TestPortU3RedirectPutFile(t *testing.T) {
	data := bytes.Repeat([]byte("A"), 65535)
	var echoes atomic.Int64
	ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/echo" && echoes.Add(1) == 1 && r.URL.Query().Get("fail") != "" {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(503)
			return
		}
		u3Redirects(w, r)
	})
	f := portFetcher(t, WithRetry(u3Quick(RetryPolicy{})))
	for _, target := range []string{"/echo", "/echo?fail=1"} {
		echoes.Store(0)
		req, _ := http.NewRequest("PUT", ts.URL+"/redirect?status=307&target="+strings.ReplaceAll(target, "?", "%3F"), bytes.NewReader(data))
		r := f.DoAll(context.Background(), []*http.Request{req})[0]
		if r.Err != nil || r.Status != 200 || !bytes.Equal(r.Body, data) || r.Attempts != map[bool]int{true: 2, false: 1}[target != "/echo"] {
			t.Errorf("target %s: %d, %d bytes back, %d attempts, err %v; want 200 and the 65535 bytes", target, r.Status, len(r.Body), r.Attempts, r.Err)
		}
	}
}

// From test_redirect_with_failed_tell: urllib3 raises UnrewindableBodyError
// when it cannot rewind a body to follow a redirect. fetch, over net/http:
// a body it cannot replay (no GetBody) is not sent again, so a 307 is
// handed back unfollowed (net/http's rule), and a 503 is not retried
// ("its body, if any, can be replayed through http.Request.GetBody").
func TestPortU3RedirectWithFailedTell(t *testing.T) {
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/redirect?status=307&target=/successful_retry", 307},
		{"/unavailable", 503},
	} {
		t.Run(tc.path, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := count(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/unavailable" {
						w.WriteHeader(503)
						return
					}
					u3Redirects(w, r)
				})
				f := newMem(t, c)
				req, _ := http.NewRequest("PUT", "http://a.test"+tc.path, io.NopCloser(strings.NewReader("the data")))
				req.ContentLength = 8
				if req.GetBody != nil {
					t.Fatal("the body is replayable")
				}
				resp, err := f.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.status || c.n.Load() != 1 {
					t.Errorf("%d after %d requests; want %d after 1", resp.StatusCode, c.n.Load(), tc.status)
				}
			})
		})
	}
}

// ---------------------------------------------------------------------------
// test_connectionpool.py TestRetryPoolSize, TestRedirectPoolSize
// ---------------------------------------------------------------------------

// From test_pool_size_retry: retrying a 404 (forcelist, total=1) reuses the
// connection: one connection for both attempts.
func TestPortU3PoolSizeRetry(t *testing.T) {
	var n atomic.Int64
	ts, conns := u3Counting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.NotFound(w, r)
	}))
	f := portFetcher(t, WithRetry(u3Quick(RetryPolicy{MaxAttempts: 2, Retryable: u3Forcelist(404)})))
	r := f.Fetch(context.Background(), ts.URL+"/not_found")
	if r.Status != 404 || r.Attempts != 2 || n.Load() != 2 || conns.Load() != 1 {
		t.Errorf("%d after %d attempts, %d requests over %d connections; want 404 after 2, over 1", r.Status, r.Attempts, n.Load(), conns.Load())
	}
}

// From test_pool_size_redirect: a redirect (to the same host) and a retry
// of a 404 at its end reuse one connection; the requests that follow the
// redirect are not counted as attempts.
func TestPortU3PoolSizeRedirect(t *testing.T) {
	var n atomic.Int64
	ts, conns := u3Counting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/redirect" {
			u3Redirects(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	f := portFetcher(t, WithRetry(u3Quick(RetryPolicy{MaxAttempts: 2, Retryable: u3Forcelist(404)})))
	r := f.Fetch(context.Background(), ts.URL+"/redirect?target=/not_found")
	if r.Status != 404 || r.Attempts != 2 || n.Load() != 4 || conns.Load() != 1 {
		t.Errorf("%d after %d attempts, %d requests over %d connections; want 404 after 2, 4 requests over 1", r.Status, r.Attempts, n.Load(), conns.Load())
	}
}

// ---------------------------------------------------------------------------
// Read errors (urllib3 retries a ProtocolError while reading the response,
// an IncompleteRead included, as a read error, for the allowed methods)
// ---------------------------------------------------------------------------

// A body cut short on the wire, by Content-Length or inside a chunk, is
// retried for an idempotent request (or one with an Idempotency-Key) and
// not for a POST, whose error is io.ErrUnexpectedEOF after one attempt
// (README, Failure behaviour: "body cut off part way ... yes (batch, stream,
// Get)"). With Do the caller reads the body, so the cut is the caller's
// read error, and is not retried.
func TestPortU3ReadErrorRetried(t *testing.T) {
	full := strings.Repeat("x", 100)
	for _, cut := range []struct{ name, raw string }{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + full[:10]},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + full[:10]},
	} {
		for _, tc := range []struct {
			method string
			key    bool
			want   int
		}{{"GET", false, 2}, {"PUT", false, 2}, {"POST", false, 1}, {"POST", true, 2}} {
			t.Run(fmt.Sprintf("%s/%s key=%t", cut.name, tc.method, tc.key), func(t *testing.T) {
				var n atomic.Int64
				ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					if n.Add(1) == 1 {
						u3Hijack(t, w, cut.raw)
						return
					}
					w.Write([]byte(full))
				})
				f := portFetcher(t, WithRetry(u3Quick(RetryPolicy{})))
				opts := []RequestOption{Method(tc.method), Body("text/plain", []byte("payload"))}
				if tc.key {
					opts = append(opts, Header("Idempotency-Key", "k1"))
				}
				b, err := f.Get(context.Background(), ts.URL, opts...)
				if tc.want == 2 {
					if err != nil || string(b) != full || n.Load() != 2 {
						t.Fatalf("%q, err %v after %d requests; want the whole body after 2", b, err, n.Load())
					}
					return
				}
				if !errors.Is(err, io.ErrUnexpectedEOF) || u3Attempts(err) != 1 || n.Load() != 1 {
					t.Fatalf("err %v after %d requests; want io.ErrUnexpectedEOF after 1", err, n.Load())
				}
			})
		}
		t.Run(cut.name+"/Do", func(t *testing.T) {
			var n atomic.Int64
			ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					u3Hijack(t, w, cut.raw)
					return
				}
				w.Write([]byte(full))
			})
			f := portFetcher(t, WithRetry(u3Quick(RetryPolicy{})))
			resp, err := f.Do(mustGet(t, ts.URL))
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if !errors.Is(err, io.ErrUnexpectedEOF) || n.Load() != 1 {
				t.Errorf("read: %v after %d requests; want io.ErrUnexpectedEOF after 1", err, n.Load())
			}
		})
	}
}

// A connection closed before any response (urllib3: RemoteDisconnected, a
// ProtocolError it retries as a read error for the allowed methods): a GET
// is retried; a POST is not, and fails with io.EOF or ECONNRESET after one
// attempt (README: "connection reset before the response").
func TestPortU3RemoteDisconnected(t *testing.T) {
	for _, tc := range []struct {
		method string
		want   int64
	}{{"GET", 3}, {"POST", 1}} {
		t.Run(tc.method, func(t *testing.T) {
			var n atomic.Int64
			ts := portServer(t, func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				if n.Add(1) <= 2 {
					u3Hijack(t, w, "")
					return
				}
				w.Write([]byte("ok"))
			})
			f := portFetcher(t, WithRetry(u3Quick(RetryPolicy{})))
			b, err := f.Get(context.Background(), ts.URL, Method(tc.method), Body("text/plain", []byte("x")))
			if tc.want > 1 {
				if err != nil || string(b) != "ok" || n.Load() != tc.want {
					t.Fatalf("%q, err %v after %d requests; want ok after %d", b, err, n.Load(), tc.want)
				}
				return
			}
			if !(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) || u3Attempts(err) != 1 || n.Load() != 1 {
				t.Fatalf("err %v after %d requests; want io.EOF or ECONNRESET after 1", err, n.Load())
			}
		})
	}
}

// From test_connection_error_retries: a port nothing listens on fails with
// a connection error once retries run out (urllib3: MaxRetryError whose
// reason is a NewConnectionError). fetch: an *Error matching
// syscall.ECONNREFUSED after MaxAttempts.
func TestPortU3ConnectionErrorRetries(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var retries atomic.Int64
	f := portFetcher(t, WithRetry(u3Quick(RetryPolicy{MaxAttempts: 4})), WithHooks(Hooks{OnRetry: func(RetryInfo) { retries.Add(1) }}))
	_, err = f.Get(context.Background(), "http://"+addr+"/")
	var oe *net.OpError
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &oe) || u3Attempts(err) != 4 || retries.Load() != 3 {
		t.Fatalf("err %v, %d retries; want ECONNREFUSED after 4 attempts, 3 retries", err, retries.Load())
	}
}
