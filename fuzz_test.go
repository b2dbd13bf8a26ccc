package fetch

import (
	"context"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzValidateURL: never panics; anything accepted is http or https with a
// host and a port in range; accepting is stable under a round trip through
// the URL's string form.
func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{"http://example.com/", "https://a.b:8443/p?q#f", "file:///etc/passwd", "example.com",
		"http://[::1", "http://a b/", "http://u:p@h/", "http://bücher.example/", "http://0x7f.1/", "\x00",
		"http://h:0/", "http://h:65536/", "http://:80/", "HTTP://H/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req, err := newGet(context.Background(), raw)
		if err != nil {
			return
		}
		if validate(req) != nil {
			return
		}
		u := req.URL
		if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			t.Fatalf("accepted %q: scheme %q host %q", raw, u.Scheme, u.Hostname())
		}
		again, err := http.NewRequest(http.MethodGet, u.String(), nil)
		if err != nil || validate(again) != nil || again.URL.String() != u.String() {
			t.Fatalf("accepted %q as %q, which does not round-trip: %v", raw, u.String(), err)
		}
	})
}

// FuzzParseRetryAfter: never panics, never negative, never above the cap.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-1", "1.5", "99999999999999999999", "Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Fri, 31 Dec 9999 23:59:59 GMT", "soon", ""} {
		f.Add(s, int64(time.Minute))
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string, limit int64) {
		limit = max(limit, 0)
		d, ok := parseRetryAfter(v, now, time.Duration(limit))
		if d < 0 || d > time.Duration(limit) || (!ok && d != 0) {
			t.Fatalf("parseRetryAfter(%q, %v) = %v, %v", v, time.Duration(limit), d, ok)
		}
		if ok && strings.TrimSpace(v) != v {
			t.Fatalf("accepted %q with surrounding space", v)
		}
	})
}

// FuzzBackoff: never negative, never above MaxDelay, for any inputs.
func FuzzBackoff(f *testing.F) {
	f.Add(int64(time.Millisecond), int64(time.Second), 1, int64(0), uint8(0))
	f.Add(int64(math.MaxInt64/3), int64(math.MaxInt64), 1000, int64(math.MaxInt64), uint8(2))
	f.Add(int64(1), int64(1), math.MaxInt, int64(-5), uint8(1))
	f.Fuzz(func(t *testing.T, base, ceil int64, retry int, prev int64, jitter uint8) {
		p := RetryPolicy{BaseDelay: time.Duration(base), MaxDelay: time.Duration(ceil), Jitter: Jitter(jitter % 4)}
		d := p.Backoff(retry, time.Duration(prev))
		if d < 0 || d > max(p.MaxDelay, 0) {
			t.Fatalf("Backoff(%d, %v) with %+v = %v", retry, time.Duration(prev), p, d)
		}
	})
}
