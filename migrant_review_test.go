package fetch

// A migration review from hashicorp/go-retryablehttp and go-resty: the retry
// behaviours such a service relies on, each tried on the in-memory transport
// (inside a synctest bubble, for anything about time) or on a loopback
// server (for real connections).

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// migrantCount counts the requests a handler serves, by method, and keeps
// their bodies.
type migrantCount struct {
	mu     sync.Mutex
	n      int
	bodies []string
	at     []time.Time
}

func (m *migrantCount) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		m.mu.Lock()
		m.n++
		m.bodies = append(m.bodies, string(b))
		m.at = append(m.at, time.Now())
		m.mu.Unlock()
		h(w, r)
	}
}

func (m *migrantCount) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// The statuses and methods retried by default, as a retryablehttp user
// expects (429, 5xx but 501) and as the README states for methods.
func TestMigrantDefaultStatusesAndMethods(t *testing.T) {
	for _, tc := range []struct {
		method string
		header string
		status int
		want   int
	}{
		{"GET", "", 429, 4}, {"GET", "", 500, 4}, {"GET", "", 502, 4}, {"GET", "", 503, 4}, {"GET", "", 504, 4},
		{"GET", "", 408, 4}, {"GET", "", 501, 1}, {"GET", "", 400, 1}, {"GET", "", 404, 1}, {"GET", "", 409, 1},
		{"HEAD", "", 503, 4}, {"PUT", "", 503, 4}, {"DELETE", "", 503, 4}, {"OPTIONS", "", 503, 4},
		{"POST", "", 503, 1}, {"PATCH", "", 503, 1},
		{"POST", "Idempotency-Key", 503, 4}, {"POST", "X-Idempotency-Key", 503, 4}, {"PATCH", "Idempotency-Key", 502, 4},
	} {
		synctest.Test(t, func(t *testing.T) {
			var m migrantCount
			f := newMem(t, m.wrap(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tc.status) }))
			req, _ := http.NewRequest(tc.method, "http://api.test/x", nil)
			if tc.header != "" {
				req.Header.Set(tc.header, "k1")
			}
			resp, err := f.Do(req)
			if err != nil {
				t.Fatalf("%s %d %s: %v", tc.method, tc.status, tc.header, err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || m.count() != tc.want {
				t.Errorf("%s %d (%s): status %d after %d requests; want %d requests", tc.method, tc.status, tc.header, resp.StatusCode, m.count(), tc.want)
			}
		})
	}
}

// Transport errors on loopback: a reset and an EOF are retried; an untrusted
// certificate, a TLS version no retry can agree on, and too many redirects
// are not.
func TestMigrantDefaultErrors(t *testing.T) {
	quiet := func(s *httptest.Server) *httptest.Server {
		s.Config.ErrorLog = log.New(io.Discard, "", 0)
		return s
	}
	countConns := func(s *httptest.Server, n *atomic.Int64) {
		s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				n.Add(1)
			}
		}
	}
	t.Run("reset", func(t *testing.T) {
		var conns atomic.Int64
		s := quiet(httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		})))
		countConns(s, &conns)
		s.Start()
		defer s.Close()
		f, _ := New(WithRetry(RetryPolicy{BaseDelay: time.Millisecond}))
		defer f.Shutdown(context.Background())
		_, err := f.Get(context.Background(), s.URL)
		var fe *Error
		if !errors.As(err, &fe) || fe.Attempts < 4 || conns.Load() < 4 {
			t.Fatalf("err %v, %d connections; want 4 attempts", err, conns.Load())
		}
	})
	t.Run("eof", func(t *testing.T) {
		var conns atomic.Int64
		s := quiet(httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		})))
		countConns(s, &conns)
		s.Start()
		defer s.Close()
		f, _ := New(WithRetry(RetryPolicy{BaseDelay: time.Millisecond}))
		defer f.Shutdown(context.Background())
		_, err := f.Get(context.Background(), s.URL)
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) || conns.Load() < 4 {
			t.Fatalf("err %v, %d connections; want EOF after 4 attempts", err, conns.Load())
		}
	})
	t.Run("unknown authority", func(t *testing.T) {
		var conns atomic.Int64
		s := quiet(httptest.NewUnstartedServer(http.HandlerFunc(ok)))
		countConns(s, &conns)
		s.StartTLS()
		defer s.Close()
		f, _ := New(WithRetry(RetryPolicy{BaseDelay: time.Millisecond}))
		defer f.Shutdown(context.Background())
		_, err := f.Get(context.Background(), s.URL)
		var ua x509.UnknownAuthorityError
		if !errors.As(err, &ua) || conns.Load() != 1 {
			t.Fatalf("err %v, %d connections; want x509.UnknownAuthorityError after 1", err, conns.Load())
		}
	})
	t.Run("tls version", func(t *testing.T) {
		var conns atomic.Int64
		s := quiet(httptest.NewUnstartedServer(http.HandlerFunc(ok)))
		s.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
		countConns(s, &conns)
		s.StartTLS()
		defer s.Close()
		pool := x509.NewCertPool()
		pool.AddCert(s.Certificate())
		f, _ := New(WithRetry(RetryPolicy{BaseDelay: time.Millisecond}),
			WithTLSConfig(&tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12}))
		defer f.Shutdown(context.Background())
		_, err := f.Get(context.Background(), s.URL)
		if err == nil || conns.Load() != 1 {
			t.Fatalf("err %v, %d connections; want a handshake failure, not retried", err, conns.Load())
		}
	})
	t.Run("client certificate required", func(t *testing.T) {
		var conns atomic.Int64
		s := quiet(httptest.NewUnstartedServer(http.HandlerFunc(ok)))
		s.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert}
		countConns(s, &conns)
		s.StartTLS()
		defer s.Close()
		pool := x509.NewCertPool()
		pool.AddCert(s.Certificate())
		f, _ := New(WithRetry(RetryPolicy{BaseDelay: time.Millisecond}), WithTLSConfig(&tls.Config{RootCAs: pool}))
		defer f.Shutdown(context.Background())
		_, err := f.Get(context.Background(), s.URL)
		if err == nil || conns.Load() != 1 {
			t.Fatalf("err %v, %d connections; want a handshake failure, not retried", err, conns.Load())
		}
	})
}

// Retry-After in seconds and as a date, on 429 and 503; RateLimit-Reset;
// a long one refused at once; garbage and negatives fall back on the
// backoff. The retry goes when the server said, not twice that (the
// host's pause and the call's own wait are one wait).
func TestMigrantRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header func(now time.Time) (string, string)
		want   time.Duration // when the second request arrives; -1: no retry, RetryAfterError
	}{
		{"429 seconds", 429, func(time.Time) (string, string) { return "Retry-After", "3" }, 3 * time.Second},
		{"503 seconds", 503, func(time.Time) (string, string) { return "Retry-After", "7" }, 7 * time.Second},
		{"429 date", 429, func(now time.Time) (string, string) {
			return "Retry-After", now.Add(20 * time.Second).UTC().Format(http.TimeFormat)
		}, 20 * time.Second},
		{"503 date", 503, func(now time.Time) (string, string) {
			return "Retry-After", now.Add(9 * time.Second).UTC().Format(http.TimeFormat)
		}, 9 * time.Second},
		{"429 RateLimit-Reset", 429, func(time.Time) (string, string) { return "RateLimit-Reset", "4" }, 4 * time.Second},
		{"429 past MaxRetryAfter", 429, func(time.Time) (string, string) { return "Retry-After", "3600" }, -1},
		{"503 huge", 503, func(time.Time) (string, string) { return "Retry-After", "9999999999" }, -1},
	} {
		synctest.Test(t, func(t *testing.T) {
			var m migrantCount
			f := newMem(t, m.wrap(func(w http.ResponseWriter, r *http.Request) {
				if m.count() == 1 {
					k, v := tc.header(time.Now())
					w.Header().Set(k, v)
					w.WriteHeader(tc.status)
					return
				}
				w.Write([]byte("ok"))
			}), WithRetry(RetryPolicy{BaseDelay: time.Hour, MaxDelay: time.Hour, Jitter: NoJitter}))
			start := time.Now()
			_, err := f.Get(context.Background(), "http://api.test/x")
			if tc.want < 0 {
				var rae *RetryAfterError
				var se *StatusError
				if !errors.As(err, &rae) || rae.Max != 5*time.Minute || !errors.As(err, &se) || se.StatusCode != tc.status ||
					m.count() != 1 || time.Since(start) != 0 {
					t.Fatalf("%s: err %v after %v, %d requests; want a RetryAfterError at once", tc.name, err, time.Since(start), m.count())
				}
				return
			}
			if err != nil || m.count() != 2 || m.at[1].Sub(start) != tc.want {
				t.Fatalf("%s: err %v, %d requests, retry at %v; want success, retried at %v", tc.name, err, m.count(), m.at[len(m.at)-1].Sub(start), tc.want)
			}
		})
	}
	// Malformed values: the backoff (NoJitter 2s) is used.
	for _, v := range []string{"-5", "1.5", "soon", "99999999999999999999999"} {
		synctest.Test(t, func(t *testing.T) {
			var m migrantCount
			f := newMem(t, m.wrap(func(w http.ResponseWriter, r *http.Request) {
				if m.count() == 1 {
					w.Header().Set("Retry-After", v)
					w.WriteHeader(503)
					return
				}
			}), WithRetry(RetryPolicy{BaseDelay: 2 * time.Second, Jitter: NoJitter}))
			start := time.Now()
			_, err := f.Get(context.Background(), "http://api.test/x")
			if err != nil || m.count() != 2 || m.at[1].Sub(start) != 2*time.Second {
				t.Fatalf("Retry-After %q: err %v, %d requests; want the 2s backoff", v, err, m.count())
			}
		})
	}
}

// opaqueReader is a body reader net/http cannot rewind: NewRequest sets no
// GetBody for it.
type opaqueReader struct{ r io.Reader }

func (o *opaqueReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// Bodies are rewound on retry for Do with bytes.Reader and strings.Reader
// (GetBody set by NewRequest) and http.NoBody; a body that cannot be
// rewound is sent once, the response handed back.
func TestMigrantBodyRewind(t *testing.T) {
	for _, tc := range []struct {
		name string
		body func() io.Reader
		want int
	}{
		{"bytes.Reader", func() io.Reader { return bytes.NewReader([]byte("payload")) }, 3},
		{"strings.Reader", func() io.Reader { return strings.NewReader("payload") }, 3},
		{"bytes.Buffer", func() io.Reader { return bytes.NewBufferString("payload") }, 3},
		{"opaque", func() io.Reader { return &opaqueReader{strings.NewReader("payload")} }, 1},
	} {
		synctest.Test(t, func(t *testing.T) {
			var m migrantCount
			f := newMem(t, m.wrap(func(w http.ResponseWriter, r *http.Request) {
				if m.count() <= 2 {
					w.WriteHeader(503)
				}
			}))
			req, _ := http.NewRequest("PUT", "http://api.test/x", tc.body())
			resp, err := f.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if m.count() != tc.want {
				t.Fatalf("%s: %d requests; want %d", tc.name, m.count(), tc.want)
			}
			for i, b := range m.bodies {
				if b != "payload" {
					t.Fatalf("%s: request %d had body %q", tc.name, i+1, b)
				}
			}
		})
	}
	synctest.Test(t, func(t *testing.T) {
		var m migrantCount
		f := newMem(t, m.wrap(func(w http.ResponseWriter, r *http.Request) {
			if m.count() <= 2 {
				w.WriteHeader(502)
			}
		}))
		req, _ := http.NewRequest("POST", "http://api.test/x", http.NoBody)
		req.Header.Set("Idempotency-Key", "abc")
		resp, err := f.Do(req)
		if err != nil || resp.StatusCode != 200 || m.count() != 3 {
			t.Fatalf("NoBody POST with Idempotency-Key: %v, %d requests; want success after 3", err, m.count())
		}
		resp.Body.Close()
	})
}

// A custom classifier (retryablehttp's CheckRetry) and backoff settings;
// on final failure the last response is there to read: Do hands it back,
// Get's *StatusError carries its status, header and body.
func TestMigrantCustomPolicyAndLastResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var m migrantCount
		var seen atomic.Int64
		h := m.wrap(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Request-Id", "req-"+string(rune('0'+m.count())))
			w.WriteHeader(404)
			io.WriteString(w, `{"error":"not yet"}`)
		})
		policy := RetryPolicy{MaxAttempts: 4, BaseDelay: time.Second, MaxDelay: 3 * time.Second, Jitter: NoJitter,
			Retryable: func(resp *http.Response, err error) bool {
				seen.Add(1)
				return resp != nil && resp.StatusCode == 404
			}}
		f := newMem(t, h, WithRetry(policy))
		start := time.Now()
		_, err := f.Get(context.Background(), "http://api.test/item")
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 404 || se.Header.Get("X-Request-Id") != "req-4" ||
			string(se.Body) != `{"error":"not yet"}` {
			t.Fatalf("err %v; want the last attempt's 404 with its header and body", err)
		}
		var gaps []time.Duration
		prev := start
		for _, at := range m.at {
			gaps = append(gaps, at.Sub(prev))
			prev = at
		}
		want := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}
		if m.count() != 4 || seen.Load() != 3 || gaps[1] != want[1] || gaps[2] != want[2] || gaps[3] != want[3] {
			t.Fatalf("%d requests, classifier asked %d times, gaps %v; want %v", m.count(), seen.Load(), gaps, want)
		}
		if msg := err.Error(); !strings.Contains(msg, "http://api.test/item") || !strings.Contains(msg, "4 attempts") ||
			!strings.Contains(msg, "404") || !strings.Contains(msg, "not yet") {
			t.Fatalf("error text %q: want URL, attempts, status and body", msg)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Why", "down")
			w.WriteHeader(503)
			io.WriteString(w, "maintenance")
		}))
		resp, err := f.Do(mustGet(t, "http://api.test/x"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("X-Why") != "down" || string(b) != "maintenance" {
			t.Fatalf("Do: %d %q %q; want the last 503, readable", resp.StatusCode, resp.Header.Get("X-Why"), b)
		}
	})
}

// The attempt's own timeout is retried and says so; the caller's deadline
// is not confused with it; a backoff past the deadline fails at once,
// naming the last status.
func TestMigrantTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var m migrantCount
		f := newMem(t, m.wrap(func(w http.ResponseWriter, r *http.Request) {
			if m.count() == 1 {
				<-r.Context().Done()
				return
			}
			io.WriteString(w, "ok")
		}), WithAttemptTimeout(time.Second), WithRetry(RetryPolicy{BaseDelay: 500 * time.Millisecond, Jitter: NoJitter}))
		start := time.Now()
		b, err := f.Get(context.Background(), "http://api.test/x")
		if err != nil || string(b) != "ok" || time.Since(start) != 1500*time.Millisecond {
			t.Fatalf("err %v after %v; want success at 1.5s", err, time.Since(start))
		}
	})
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }),
			WithAttemptTimeout(time.Second))
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		defer cancel()
		_, err := f.Get(ctx, "http://api.test/x")
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrAttemptTimeout) {
			t.Fatalf("err %v; want the caller's deadline, not an attempt timeout", err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		var m migrantCount
		f := newMem(t, m.wrap(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(502)
			io.WriteString(w, "bad gateway from upstream")
		}), WithRetry(RetryPolicy{BaseDelay: 10 * time.Second, Jitter: NoJitter}))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_, err := f.Get(ctx, "http://api.test/x")
		var se *StatusError
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &se) || se.StatusCode != 502 ||
			time.Since(start) != 0 || m.count() != 1 {
			t.Fatalf("err %v after %v, %d requests; want an immediate deadline error carrying the 502", err, time.Since(start), m.count())
		}
		if !strings.Contains(err.Error(), "502") || !strings.Contains(err.Error(), "http://api.test/x") {
			t.Fatalf("error text %q: want the URL and the status", err)
		}
	})
}

// Failed attempts' bodies are drained and closed, so every retry, and the
// next call, reuses the one connection: with small and mid-sized error
// bodies, chunked or not, through Do and Get, and when the call ends on a
// Retry-After past MaxRetryAfter or a backoff past the deadline.
func TestMigrantConnectionReuse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		header  string
	}{
		{"small", 100, false, ""},
		{"3KiB chunked", 3 << 10, true, ""},
		{"6KiB", 6 << 10, false, ""},
		{"6KiB chunked", 6 << 10, true, ""},
		{"retry-after past max", 1 << 10, false, "3600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var conns, n atomic.Int64
			s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1)%4 == 0 && tc.header == "" {
					io.WriteString(w, "ok")
					return
				}
				body := strings.Repeat("e", tc.size)
				if !tc.chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(503)
				if tc.chunked {
					io.WriteString(w, body[:len(body)/2])
					w.(http.Flusher).Flush()
					io.WriteString(w, body[len(body)/2:])
					return
				}
				io.WriteString(w, body)
			}))
			s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateNew {
					conns.Add(1)
				}
			}
			s.Start()
			defer s.Close()
			// A Retry-After past MaxRetryAfter pauses the host for MaxRetryAfter:
			// keep that short, for the next call.
			f, _ := New(WithRetry(RetryPolicy{BaseDelay: time.Millisecond, Jitter: NoJitter, MaxRetryAfter: 10 * time.Millisecond}))
			defer f.Shutdown(context.Background())
			for range 3 {
				if _, err := f.Get(context.Background(), s.URL); err != nil && tc.header == "" {
					t.Fatal(err)
				}
				resp, err := f.Do(mustGet(t, s.URL))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			if conns.Load() != 1 {
				t.Fatalf("%d requests over %d connections; want 1", n.Load(), conns.Load())
			}
		})
	}
	t.Run("backoff past deadline", func(t *testing.T) {
		var conns, n atomic.Int64
		s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.WriteHeader(503)
			io.WriteString(w, strings.Repeat("e", 2000))
		}))
		s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				conns.Add(1)
			}
		}
		s.Start()
		defer s.Close()
		f, _ := New(WithRetry(RetryPolicy{BaseDelay: time.Hour, Jitter: NoJitter}))
		defer f.Shutdown(context.Background())
		for range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			resp, err := f.Do(mustGet(t, s.URL).WithContext(ctx))
			cancel()
			if err == nil {
				resp.Body.Close()
				t.Fatal("want the backoff refused")
			}
		}
		if conns.Load() != 1 || n.Load() != 3 {
			t.Fatalf("%d requests over %d connections; want 3 over 1", n.Load(), conns.Load())
		}
	})
}

// The error a user logs on final failure names the method, the URL with
// its password hidden, the attempts and the last cause.
func TestMigrantErrorText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(503)
			io.WriteString(w, `{"message":"overloaded"}`)
		}))
		_, err := f.Get(context.Background(), "http://bob:s3cret@api.test/v1/items?page=2")
		msg := err.Error()
		for _, want := range []string{"GET", "http://bob:xxxxx@api.test/v1/items?page=2", "after 4 attempts", "503", "overloaded"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error text %q lacks %q", msg, want)
			}
		}
		if strings.Contains(msg, "s3cret") {
			t.Errorf("error text %q shows the password", msg)
		}
	})
	s := httptest.NewServer(http.HandlerFunc(ok))
	url := s.URL
	s.Close()
	f, _ := New(WithRetry(RetryPolicy{BaseDelay: time.Millisecond}))
	defer f.Shutdown(context.Background())
	_, err := f.Get(context.Background(), url+"/x")
	var fe *Error
	if !errors.As(err, &fe) || fe.Attempts != 4 || !strings.Contains(err.Error(), url+"/x") ||
		!strings.Contains(err.Error(), "after 4 attempts") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err %q; want the URL, 4 attempts and connection refused", err)
	}
}

// A classifier is the caller's code, as a hook or a RoundTripper is: a
// panic in it must not leave the call's in-flight slot held for ever (the
// next call on a Fetcher of concurrency 1 would wait for it, and Shutdown
// would never return). Hooks and transports that panic fail their call
// with a *PanicError and give back the slot; so must the classifier.
func TestMigrantRetryablePanicKeepsNoSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var panicked atomic.Bool
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }),
			WithConcurrency(1),
			WithRetry(RetryPolicy{Retryable: func(resp *http.Response, err error) bool {
				if panicked.CompareAndSwap(false, true) {
					panic("classifier bug")
				}
				return false
			}}))
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("Do panicked with %v; want a *PanicError, as for a hook", v)
				}
			}()
			resp, err := f.Do(mustGet(t, "http://api.test/x"))
			var pe *PanicError
			if resp != nil {
				resp.Body.Close()
				t.Errorf("Do returned the 503 beside %v; want no response, the panic as the error", err)
			}
			if !errors.As(err, &pe) {
				t.Errorf("err %v; want a *PanicError", err)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		resp, err := f.Do(mustGet(t, "http://api.test/y").WithContext(ctx))
		if err != nil {
			t.Fatalf("after the classifier's panic, the next call: %v; want its 503 (the slot was never given back)", err)
		}
		resp.Body.Close()
		// In a batch the classifier runs on the Fetcher's own goroutines,
		// where a panic would end the process.
		panicked.Store(false)
		rs := f.GetAll(context.Background(), []string{"http://api.test/a", "http://api.test/b"})
		var pe *PanicError
		if !errors.As(rs[0].Err, &pe) && !errors.As(rs[1].Err, &pe) {
			t.Fatalf("GetAll: %v, %v; want one *PanicError", rs[0].Err, rs[1].Err)
		}
		sctx, scancel := context.WithTimeout(context.Background(), time.Second)
		defer scancel()
		if err := f.Shutdown(sctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	})
}

// A failure that would be retried but for a request body net/http cannot
// rewind (a reader without GetBody, which retryablehttp would have
// buffered) says so: otherwise the caller's log shows a single attempt's
// reset and nothing of why it was not retried.
func TestMigrantUnrewindableBodySaysWhy(t *testing.T) {
	var n atomic.Int64
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.ReadAll(r.Body)
		c, _, _ := w.(http.Hijacker).Hijack()
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Start()
	defer s.Close()
	f, _ := New(WithRetry(RetryPolicy{BaseDelay: time.Millisecond}))
	defer f.Shutdown(context.Background())
	req, _ := http.NewRequest("PUT", s.URL, &opaqueReader{strings.NewReader("payload")})
	_, err := f.Do(req)
	if err == nil || n.Load() != 1 {
		t.Fatalf("err %v after %d requests; want one, failed", err, n.Load())
	}
	if !strings.Contains(err.Error(), "cannot be rewound") {
		t.Fatalf("err %q: want it to say the body could not be rewound for a retry", err)
	}
	// The same request with a body net/http can rewind is retried.
	req, _ = http.NewRequest("PUT", s.URL, strings.NewReader("payload"))
	if _, err = f.Do(req); n.Load() != 5 || strings.Contains(err.Error(), "rewound") {
		t.Fatalf("err %v, %d requests in all; want 4 more", err, n.Load())
	}
}

// A Retry-After that would outlast the caller's deadline fails at once with
// a *RetryAfterError matching context.DeadlineExceeded and carrying the 429.
func TestMigrantRetryAfterPastDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var m migrantCount
		f := newMem(t, m.wrap(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(429)
			io.WriteString(w, "slow down")
		}))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		_, err := f.Get(ctx, "http://api.test/x")
		var rae *RetryAfterError
		var se *StatusError
		if !errors.As(err, &rae) || rae.RetryAfter != 2*time.Minute || !errors.Is(err, context.DeadlineExceeded) ||
			!errors.As(err, &se) || string(se.Body) != "slow down" || time.Since(start) != 0 || m.count() != 1 {
			t.Fatalf("err %v after %v, %d requests; want an immediate RetryAfterError carrying the 429", err, time.Since(start), m.count())
		}
	})
}
