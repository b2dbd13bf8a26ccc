package fetch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The fault suite: real servers on 127.0.0.1 that misbehave, and for each the
// exact outcome: the error kind, and the attempts the server saw.

// quickRetry retries at once, so that fault tests take no time waiting.
var quickRetry = WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Microsecond, MaxDelay: time.Microsecond})

// liveConns counts a client's open connections.
type liveConns struct {
	n      atomic.Int64
	closed chan struct{} // a token each time one closes
}

// settled waits until no connection is open, or for d, and returns how
// many are still open. net/http closes a connection whose body was closed
// unread on its own goroutine, a moment after the call returns.
func (l *liveConns) settled(d time.Duration) int64 {
	timeout := time.After(d)
	for l.n.Load() != 0 {
		select {
		case <-l.closed:
		case <-timeout:
			return l.n.Load()
		}
	}
	return 0
}

// countedConn is a client connection that counts itself out when closed.
type countedConn struct {
	net.Conn
	live *liveConns
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.live.n.Add(-1)
		select {
		case c.live.closed <- struct{}{}:
		default:
		}
	})
	return c.Conn.Close()
}

// countConns makes the Fetcher's own client count its open connections.
func countConns(live *liveConns) Option {
	return wrapConns(func(conn net.Conn) net.Conn {
		live.n.Add(1)
		return &countedConn{Conn: conn, live: live}
	})
}

// wrapConns makes the Fetcher's own client wrap every connection it opens.
func wrapConns(wrap func(net.Conn) net.Conn) Option {
	return func(c *config) error {
		c.wrapDial = func(dial func(context.Context, string, string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
			return func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return wrap(conn), nil
			}
		}
		return nil
	}
}

// newReal returns a Fetcher on its own client for a fault case, and checks
// afterwards that the case leaked nothing: no slot held, a clean Shutdown,
// and, once Shutdown has closed the idle connections, no connection open
// (a leaked body would hold one). goleak (TestMain) checks goroutines.
func newReal(t *testing.T, opts ...Option) *Fetcher {
	t.Helper()
	live := &liveConns{closed: make(chan struct{}, 1)}
	f, err := New(append([]Option{quickRetry, countConns(live)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Every body was closed, so no slot is held; Shutdown then closes
		// the idle connections, and goleak (TestMain) finds any connection
		// goroutine left behind.
		if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
			t.Errorf("after the case: %+v; want nothing in flight or waiting", s)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // t.Context is done by now
		defer cancel()
		if err := f.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v (a call is still registered)", err)
		}
		if n := live.settled(5 * time.Second); n != 0 && f.ownTransport != nil {
			t.Errorf("%d client connections still open after Shutdown; want 0", n)
		}
	})
	return f
}

// hijackReset answers by resetting the connection: an RST, no response.
func hijackReset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close()
}

func attemptsOf(t *testing.T, err error) int {
	t.Helper()
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v; want an *Error", err)
	}
	return fe.Attempts
}

func TestFaultResetBeforeHeaders(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		hijackReset(w)
	}))
	defer srv.Close()
	_, err := newReal(t).Get(t.Context(), srv.URL)
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Errorf("err = %v; want a reset (ECONNRESET or EOF)", err)
	}
	if hits.Load() != 3 || attemptsOf(t, err) != 3 {
		t.Errorf("server saw %d, error says %d attempts; want 3 and 3 (retried)", hits.Load(), attemptsOf(t, err))
	}
}

// rawServer answers every connection with respond, byte for byte.
func rawServer(t *testing.T, respond func(net.Conn)) (url string, hits *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hits = new(atomic.Int64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			http.ReadRequest(bufio.NewReader(conn))
			respond(conn)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "http://" + ln.Addr().String() + "/", hits
}

// A body cut short is never a success: it is retried, and reported as the
// read error if every attempt is cut short.
func TestFaultResetMidBody(t *testing.T) {
	url, hits := rawServer(t, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"+strings.Repeat("x", 100))
		c.(*net.TCPConn).SetLinger(0)
	})
	r := newReal(t).GetAll(t.Context(), []string{url})[0]
	if r.Err == nil || r.Body != nil || !(errors.Is(r.Err, io.ErrUnexpectedEOF) || errors.Is(r.Err, syscall.ECONNRESET)) {
		t.Errorf("Result = %d bytes, err %v; want no body and a truncation error", len(r.Body), r.Err)
	}
	if hits.Load() != 3 || r.Attempts != 3 {
		t.Errorf("server saw %d, result says %d attempts; want 3 and 3", hits.Load(), r.Attempts)
	}
}

// When the server closes a kept-alive connection as the next request
// arrives, net/http resends that idempotent request on a new connection by
// itself: the server sees 3 requests for 2 calls, and the second call
// reports the 2 requests the server saw.
func TestFaultServerClosesKeptAliveConnection(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 2 {
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close() // closed before any response: a dead kept-alive connection
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	f := newReal(t)
	for i, want := range []int{1, 2} {
		r := f.GetAll(t.Context(), []string{srv.URL})[0]
		if r.Err != nil || r.Attempts != want {
			t.Errorf("call %d: err %v, %d attempts; want success, %d as the server saw", i+1, r.Err, r.Attempts, want)
		}
	}
	if hits.Load() != 3 {
		t.Errorf("server saw %d requests for 2 calls; want 3 (net/http's own resend)", hits.Load())
	}
}

func TestFaultNeverAnswersHeaders(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-r.Context().Done()
	}))
	defer srv.Close()
	_, err := newReal(t, WithAttemptTimeout(50*time.Millisecond)).Get(t.Context(), srv.URL)
	if !errors.Is(err, ErrAttemptTimeout) || hits.Load() != 3 || attemptsOf(t, err) != 3 {
		t.Errorf("err = %v, server saw %d; want ErrAttemptTimeout after 3", err, hits.Load())
	}
}

// The attempt timeout bounds the whole attempt, body included, not only the
// wait for headers.
func TestFaultTrickledBody(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Length", "100000")
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				w.Write([]byte("x"))
				http.NewResponseController(w).Flush()
			}
		}
	}))
	defer srv.Close()
	_, err := newReal(t, WithAttemptTimeout(100*time.Millisecond)).Get(t.Context(), srv.URL)
	if !errors.Is(err, ErrAttemptTimeout) || hits.Load() != 3 {
		t.Errorf("err = %v, server saw %d; want ErrAttemptTimeout after 3", err, hits.Load())
	}
}

func TestFaultBodiesOverTheCap(t *testing.T) {
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(make([]byte, 10<<20)) // 10 MiB of zeros: about 10 KiB on the wire
	zw.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2000000")
		w.Write(make([]byte, 2000000))
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 2000 {
			w.Write(make([]byte, 1000))
			http.NewResponseController(w).Flush()
		}
	})
	mux.HandleFunc("/bomb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(zipped.Bytes())
	})
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()
	f := newReal(t, WithMaxBodySize(1<<20))
	for _, path := range []string{"/length", "/chunked", "/bomb"} {
		hits.Store(0)
		_, err := f.Get(t.Context(), srv.URL+path)
		if !errors.Is(err, ErrBodyTooLarge) || hits.Load() != 1 {
			t.Errorf("%s: err = %v, server saw %d; want ErrBodyTooLarge after 1 (never retried)", path, err, hits.Load())
		}
	}
	if zipped.Len() > 1<<20 {
		t.Fatalf("the bomb is %d bytes compressed: it does not test the cap after decompression", zipped.Len())
	}
}

func TestFaultRedirectToOtherScheme(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	}))
	defer srv.Close()
	_, err := newReal(t).Get(t.Context(), srv.URL)
	if !errors.Is(err, ErrTooManyRedirects) || hits.Load() != 1 {
		t.Errorf("err = %v, server saw %d; want the redirect refused after 1", err, hits.Load())
	}
}

// A name that does not exist is not retried as if it were transient.
func TestFaultDNSNotFound(t *testing.T) {
	var dials atomic.Int64
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1) // no resolver traffic: the answer a resolver gives for .invalid
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}
	}
	_, err := newReal(t, WithClient(&http.Client{Transport: tr})).Get(t.Context(), "http://x.invalid/")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound || dials.Load() != 1 {
		t.Errorf("err = %v after %d dials; want a not-found DNS error after 1", err, dials.Load())
	}
}

func TestFaultTLS(t *testing.T) {
	var conns atomic.Int64
	countConns := func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	untrusted := httptest.NewUnstartedServer(http.HandlerFunc(ok))
	untrusted.Config.ConnState = countConns
	untrusted.StartTLS()
	defer untrusted.Close()
	plain := httptest.NewServer(http.HandlerFunc(ok))
	defer plain.Close()
	f := newReal(t)

	_, err := f.Get(t.Context(), untrusted.URL)
	var certErr *tls.CertificateVerificationError
	if !errors.As(err, &certErr) || attemptsOf(t, err) != 1 {
		t.Errorf("untrusted certificate: err = %v; want a certificate error after 1 attempt", err)
	}
	// net/http reports this one with an untyped error: what matters is that
	// it is not retried.
	_, err = f.Get(t.Context(), strings.Replace(plain.URL, "http://", "https://", 1))
	if err == nil || attemptsOf(t, err) != 1 {
		t.Errorf("HTTPS to a plain server: err = %v; want an error after 1 attempt", err)
	}
	if conns.Load() != 1 {
		t.Errorf("untrusted server saw %d connections; want 1 (not retried)", conns.Load())
	}
}

// Nothing is lost: 10,000 requests through the batch and streaming calls,
// against a server that fails, resets, delays and rate-limits at random,
// cancelled part way through: every input yields exactly one result.
func TestNothingLost(t *testing.T) {
	const n = 10_000
	var hits atomic.Int64
	var cancelRun atomic.Pointer[context.CancelFunc]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := hits.Add(1)
		if h == n/3 { // a third of the way: the caller gives up
			(*cancelRun.Load())()
		}
		switch {
		case h%17 == 0:
			hijackReset(w)
		case h%13 == 0:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		case h%7 == 0:
			w.WriteHeader(http.StatusInternalServerError)
		case h%5 == 0:
			time.Sleep(time.Millisecond) // the "slow answer" fault, not a test wait
			fallthrough
		default:
			io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/%d", srv.URL, i)
	}
	check := func(name string, results func(ctx context.Context) []Result) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		cancelRun.Store(&cancel)
		hits.Store(0)
		seen := make([]int, n)
		var ok, failed int
		for _, r := range results(ctx) {
			seen[r.Index]++
			if r.Err == nil {
				ok++
			} else {
				failed++
			}
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("%s: input %d yielded %d results; want exactly 1", name, i, c)
			}
		}
		if ok == 0 || failed == 0 {
			t.Errorf("%s: %d ok, %d failed; want some of each (the cancel came mid-run)", name, ok, failed)
		}
	}
	f := newReal(t, WithConcurrency(32))
	check("GetAll", func(ctx context.Context) []Result { return f.GetAll(ctx, urls) })
	check("Stream", func(ctx context.Context) []Result {
		var rs []Result
		for r := range f.Stream(ctx, func(yield func(string) bool) {
			for _, u := range urls {
				if !yield(u) {
					return
				}
			}
		}) {
			rs = append(rs, r)
		}
		return rs
	})
	if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
		t.Errorf("after the runs: %+v; want nothing in flight or waiting", s)
	}
}

// readSizeConn reports the size of every Read asked of it.
type readSizeConn struct {
	net.Conn
	asked func(int)
}

func (c readSizeConn) Read(p []byte) (int, error) {
	c.asked(len(p))
	return c.Conn.Read(p)
}

// withConnRead makes the Fetcher's own client report the size of every
// read it asks of a connection.
func withConnRead(asked func(int)) Option {
	return wrapConns(func(conn net.Conn) net.Conn { return readSizeConn{Conn: conn, asked: asked} })
}

// A response cut short inside a line is retried like any other cut: net/http
// reports it as a malformed line (net/textproto takes a last line with no
// newline for a whole one), but no response was complete.
func TestFaultResponseCutShort(t *testing.T) {
	const chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
	for _, tc := range []struct{ name, raw string }{
		{"in the status line", "HTTP/1."},
		{"in the status code", "HTTP/1.1 20"},
		{"in a header name", "HTTP/1.1 200 OK\r\nConten"},
		{"between a header line's CR and LF", "HTTP/1.1 200 OK\r\nContent-Length: 5\r"},
		{"after the status line, in the blank line", "HTTP/1.1 200 OK\r\n\r"},
		{"before the chunked trailer", chunked},
		{"in the chunked trailer's CRLF", chunked + "\r"},
		{"in a chunked trailer field", chunked + "X-Sum: 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, hits := rawServer(t, func(c net.Conn) { io.WriteString(c, tc.raw) })
			r := newReal(t).GetAll(t.Context(), []string{url})[0]
			if r.Err == nil || !DefaultRetryable(nil, r.Err) {
				t.Errorf("err = %v; want net/http's report of a cut, which DefaultRetryable retries", r.Err)
			}
			if hits.Load() != 3 || r.Attempts != 3 {
				t.Errorf("server saw %d, result says %d attempts; want 3 and 3 (retried)", hits.Load(), r.Attempts)
			}
		})
	}
}

// A complete response that is malformed is not retried when no cut could
// have left what net/http complains of. One that a cut could have left (a
// header line that is a bare token) is, and fails the same way each time.
func TestFaultMalformedResponse(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		attempts  int64
	}{
		{"garbage status line", "garbage\r\nContent-Length: 2\r\n\r\nok", 1},
		{"status line without a code", "HTTP/1.1 OK\r\nContent-Length: 2\r\n\r\nok", 1},
		{"header line with a space and no colon", "HTTP/1.1 200 OK\r\nBad Header\r\nContent-Length: 2\r\n\r\nok", 1},
		{"header line that is a bare token", "HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 2\r\n\r\nok", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, hits := rawServer(t, func(c net.Conn) { io.WriteString(c, tc.raw) })
			r := newReal(t).GetAll(t.Context(), []string{url})[0]
			if r.Err == nil || hits.Load() != tc.attempts || int64(r.Attempts) != tc.attempts {
				t.Errorf("err = %v; server saw %d, result says %d attempts; want an error after %d",
					r.Err, hits.Load(), r.Attempts, tc.attempts)
			}
		})
	}
}
