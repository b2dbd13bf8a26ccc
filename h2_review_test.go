package fetch

// HTTP/2 over TLS on loopback, as a user fetching from HTTPS APIs and CDNs
// meets it: HTTP/2 negotiated with the TLS options a user sets, and the
// faults special to it (a stream reset, a GOAWAY, a refused stream)
// retried where a fresh attempt may cure them, as their HTTP/1 equivalents
// are, with request bodies rewound and nothing lost or sent twice.

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
	"net/http/httptrace"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c989c033/fetch/internal/testcert"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Server starts an HTTP/2 TLS server on loopback running h, and returns it
// with the root CAs a client needs to trust it.
func h2Server(t *testing.T, h http.Handler) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	return s, s.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
}

// h2Fetcher returns a Fetcher that trusts roots, retrying at once.
func h2Fetcher(t *testing.T, roots *x509.CertPool, opts ...Option) *Fetcher {
	t.Helper()
	opts = append([]Option{
		WithTLSConfig(&tls.Config{RootCAs: roots}),
		WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}),
	}, opts...)
	f, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

// TestH2Negotiated checks that HTTP/2 is negotiated with the TLS options a
// user sets on the Fetcher's own transport, alone and with the SSRF guard
// or a transport wrapper.
func TestH2Negotiated(t *testing.T) {
	s, roots := h2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || r.ProtoMajor != 2 {
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
		}
	}))
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"tls", nil},
		{"min TLS 1.3, ServerName", []Option{WithTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13, ServerName: "example.com"})}},
		{"guard", []Option{WithBlockPrivateAddresses(loopback)}},
		{"wrapper", []Option{WithTransportWrapper(func(rt http.RoundTripper) http.RoundTripper { return rt })}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := h2Fetcher(t, roots, tc.opts...)
			req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL, nil)
			resp, err := f.Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			resp.Body.Close()
			if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
				t.Errorf("got = %s %d; want HTTP/2.0 200", resp.Proto, resp.StatusCode)
			}
		})
	}
}

// TestH2MutualTLS: a client certificate given with WithTLSConfig is
// presented to a server that requires one, over HTTP/2.
func TestH2MutualTLS(t *testing.T) {
	client := testcert.NewClient(t, "client")
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(client.Leaf)

	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto+" "+r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	s.EnableHTTP2 = true
	s.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	roots := s.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	f := h2Fetcher(t, roots, WithTLSConfig(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{client.TLS}}))
	if b, err := f.Get(t.Context(), s.URL); err != nil || string(b) != "HTTP/2.0 client" {
		t.Errorf("with a certificate: got = %q, %v; want HTTP/2.0 client", b, err)
	}
	// Without one, TLS 1.3 lets the client finish its handshake before the
	// server refuses it, and net/http reports either the server's alert or
	// "http2: client conn could not be established", as the race goes.
	r := h2Fetcher(t, roots).Fetch(t.Context(), s.URL)
	if r.Err == nil || r.Status != 0 {
		t.Errorf("without: got = %d, %v; want an error", r.Status, r.Err)
	}
}

// TestH2CertificateError checks that an untrusted certificate is matchable
// and not retried over an HTTP/2 server too.
func TestH2CertificateError(t *testing.T) {
	s, _ := h2Server(t, http.HandlerFunc(ok))
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	f := h2Fetcher(t, x509.NewCertPool())
	r := f.Fetch(t.Context(), s.URL)
	var certErr *tls.CertificateVerificationError
	if !errors.As(r.Err, &certErr) || r.Attempts != 1 {
		t.Errorf("got = %v after %d attempts; want a *tls.CertificateVerificationError after 1", r.Err, r.Attempts)
	}
}

// TestH2HostConcurrencyMultiplexed: over HTTP/2 the requests to a host
// share one connection, and WithHostConcurrency bounds the streams the
// server sees running at once. After Shutdown no goroutine of the
// Fetcher's connections is left.
func TestH2HostConcurrencyMultiplexed(t *testing.T) {
	c := count(ok)
	var mu sync.Mutex
	conns := map[string]bool{}
	s, roots := h2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		c.ServeHTTP(w, r)
	}))
	ignore := goleak.IgnoreCurrent() // the server's
	f, err := New(WithTLSConfig(&tls.Config{RootCAs: roots}), WithHostConcurrency(3))
	if err != nil {
		t.Fatal(err)
	}
	urls := make([]string, 60)
	for i := range urls {
		urls[i] = s.URL
	}
	for _, r := range f.GetAll(t.Context(), urls) {
		if r.Err != nil || r.Attempts != 1 {
			t.Fatalf("got = %v after %d attempts; want ok after 1", r.Err, r.Attempts)
		}
	}
	if got := c.maxSeen.Load(); got > 3 {
		t.Errorf("server saw %d requests at once; want at most 3", got)
	}
	mu.Lock()
	if len(conns) != 1 {
		t.Errorf("connections = %d; want 1", len(conns))
	}
	mu.Unlock()
	if err := f.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	goleak.VerifyNone(t, ignore)
}

// TestH2StreamResetRetried: a server that resets a stream (RST_STREAM
// INTERNAL_ERROR, as net/http's server answers a handler that panics),
// before the response or part way through its body, is HTTP/2's
// connection reset. It is retried as that is over HTTP/1, a POST's body
// rewound, and a partial body never taken for a whole one. A call whose
// every attempt is reset fails as a network failure.
func TestH2StreamResetRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		opts   []RequestOption
		midway bool
	}{
		{"GET before headers", "GET", nil, false},
		{"GET mid-body", "GET", nil, true},
		{"POST with Idempotency-Key mid-body", "POST", []RequestOption{Header("Idempotency-Key", "k1")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var bodies []string
			s, roots := h2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				bodies = append(bodies, string(b))
				n := len(bodies)
				mu.Unlock()
				w.Header().Set("Content-Length", "8")
				if tc.midway {
					io.WriteString(w, "part")
					w.(http.Flusher).Flush()
				}
				if n == 1 {
					panic(http.ErrAbortHandler)
				}
				if !tc.midway {
					io.WriteString(w, "part")
				}
				io.WriteString(w, "ial!")
			}))
			f := h2Fetcher(t, roots)
			opts := append([]RequestOption{Method(tc.method), Body("text/plain", []byte("hello"))}, tc.opts...)
			r := f.Fetch(t.Context(), s.URL, opts...)
			if r.Err != nil || string(r.Body) != "partial!" || r.Attempts != 2 {
				t.Errorf("got = %v, %q after %d attempts; want partial! after 2", r.Err, r.Body, r.Attempts)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(bodies) != 2 || bodies[0] != "hello" || bodies[1] != "hello" {
				t.Errorf("server read bodies %q; want [hello hello]", bodies)
			}
		})
	}
	t.Run("GetJSON mid-body", func(t *testing.T) {
		var n atomic.Int32
		s, roots := h2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"a":`)
			w.(http.Flusher).Flush()
			if n.Add(1) == 1 {
				panic(http.ErrAbortHandler)
			}
			io.WriteString(w, `1}`)
		}))
		v, err := GetJSON[map[string]int](t.Context(), h2Fetcher(t, roots), s.URL)
		if err != nil || v["a"] != 1 || n.Load() != 2 {
			t.Errorf("got = %v, %v after %d requests; want a:1 after 2", v, err, n.Load())
		}
	})
	t.Run("every attempt reset mid-body", func(t *testing.T) {
		s, roots := h2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "8")
			io.WriteString(w, "part")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}))
		f := h2Fetcher(t, roots)
		r := f.Fetch(t.Context(), s.URL)
		if r.Err == nil || r.Attempts != 3 {
			t.Errorf("got = %v after %d attempts; want an error after 3", r.Err, r.Attempts)
		}
		if got := f.Stats().Failed; got.Network != 1 {
			t.Errorf("Stats().Failed = %+v; want Network 1", got)
		}
	})
}

// TestH2AttemptsCountLateWrites: over HTTP/2 net/http reports a request
// written (httptrace's WroteHeaders) on another goroutine after sending it,
// so the report may come after the response, and after the attempt has
// ended. It still counts for the attempt it belongs to: Attempts is what
// the server saw, not one more. The wrapper holds back the report of each
// URL's first request until its body is closed, as a slow goroutine may.
func TestH2AttemptsCountLateWrites(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	s, roots := h2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		n := seen[r.URL.Path]
		mu.Unlock()
		w.Header().Set("Content-Length", "4")
		io.WriteString(w, "pa")
		w.(http.Flusher).Flush()
		if n == 1 {
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "rt")
	}))
	var first sync.Map // paths whose first request has been sent
	late := func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if _, sent := first.LoadOrStore(r.URL.Path, true); sent {
				return rt.RoundTrip(r)
			}
			release := make(chan struct{})
			var once sync.Once
			done := func() { once.Do(func() { close(release) }) }
			// The call's own report goes through a trace of the wrapper's,
			// which passes it on once the body is closed (net/http must
			// not be blocked: it reports with the connection locked).
			own := httptrace.ContextClientTrace(r.Context())
			r = r.WithContext(httptrace.WithClientTrace(hideTrace{r.Context()}, &httptrace.ClientTrace{WroteHeaders: func() {
				go func() {
					<-release
					own.WroteHeaders()
				}()
			}}))
			resp, err := rt.RoundTrip(r)
			if err != nil {
				done()
				return nil, err
			}
			resp.Body = &closeHook{ReadCloser: resp.Body, closed: done}
			return resp, nil
		})
	}
	f := h2Fetcher(t, roots, WithTransportWrapper(late))
	urls := make([]string, 20)
	for i := range urls {
		urls[i] = s.URL + "/" + strconv.Itoa(i)
	}
	for _, r := range f.GetAll(t.Context(), urls) {
		if r.Err != nil || r.Attempts != 2 {
			t.Errorf("%s: got = %v after %d attempts; want ok after 2", r.URL, r.Err, r.Attempts)
		}
	}
	if got := f.Stats().Attempts; got != 40 {
		t.Errorf("Stats().Attempts = %d; want 40", got)
	}
}

// hideTrace hides the trace its context holds.
type hideTrace struct{ context.Context }

func (h hideTrace) Value(key any) any {
	if key == traceKey {
		return nil
	}
	return h.Context.Value(key)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// closeHook calls closed once its body is closed.
type closeHook struct {
	io.ReadCloser
	closed func()
}

func (c *closeHook) Close() error {
	err := c.ReadCloser.Close()
	c.closed()
	return err
}

// TestH2StreamErrorsNotRetried: a stream reset that a fresh attempt cannot
// cure (PROTOCOL_ERROR, HTTP_1_1_REQUIRED, ...) is not retried.
func TestH2StreamErrorsNotRetried(t *testing.T) {
	srv := newRawH2(t, func(n int, s *rawStream) { s.reset(http2.ErrCodeHTTP11Required) })
	f := h2Fetcher(t, srv.roots)
	r := f.Fetch(t.Context(), srv.url)
	if r.Err == nil || r.Attempts != 1 || srv.requests() != 1 {
		t.Errorf("got = %v after %d attempts, %d requests served; want an error after 1", r.Err, r.Attempts, srv.requests())
	}
}

// TestH2GoAwayClosedRetried: a server that sends GOAWAY and closes the
// connection before a stream it had taken ended (a graceful shutdown that
// timed out, a load balancer draining) cut the response short, as a
// connection closed early does over HTTP/1, and the request is retried on a
// new connection. If net/http changes the words of its GoAwayError, which
// has no exported type, this fails.
func TestH2GoAwayClosedRetried(t *testing.T) {
	srv := newRawH2(t, func(n int, s *rawStream) {
		if n == 1 {
			s.headers(false)
			s.data("par", false)
			s.goAwayAndClose()
			return
		}
		s.respond("whole")
	})
	f := h2Fetcher(t, srv.roots)
	r := f.Fetch(t.Context(), srv.url)
	if r.Err != nil || string(r.Body) != "whole" || r.Attempts != 2 {
		t.Errorf("got = %v, %q after %d attempts; want whole after 2", r.Err, r.Body, r.Attempts)
	}
}

// TestH2RefusedStreamPOST: a stream the server refused (REFUSED_STREAM) was
// not processed (RFC 9113 §8.7), so even a POST is sent again (net/http
// does it), with its body rewound; Attempts counts both writes.
func TestH2RefusedStreamPOST(t *testing.T) {
	srv := newRawH2(t, func(n int, s *rawStream) {
		if n == 1 {
			s.reset(http2.ErrCodeRefusedStream)
			return
		}
		s.respond("posted " + s.body)
	})
	f := h2Fetcher(t, srv.roots)
	r := f.Fetch(t.Context(), srv.url, Method("POST"), Body("text/plain", []byte("hello")))
	if r.Err != nil || string(r.Body) != "posted hello" || r.Attempts != 2 {
		t.Errorf("got = %v, %q after %d attempts; want posted hello after 2", r.Err, r.Body, r.Attempts)
	}
}

// A rawH2 is an HTTP/2 server written frame by frame, to send what
// net/http's server will not on demand: a refused stream, a GOAWAY and a
// close mid-stream, any reset code. It answers each request, numbered from
// 1 across connections, with serve.
type rawH2 struct {
	url   string
	roots *x509.CertPool
	serve func(n int, s *rawStream)

	ln net.Listener
	wg sync.WaitGroup
	mu sync.Mutex
	n  int
}

// A rawStream is one request to a rawH2, with the calls that answer it.
type rawStream struct {
	fr   *http2.Framer
	conn net.Conn
	id   uint32
	body string
}

func newRawH2(t *testing.T, serve func(n int, s *rawStream)) *rawH2 {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.EnableHTTP2 = true
	ts.StartTLS() // for its certificate
	cfg := ts.TLS.Clone()
	srv := &rawH2{roots: ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, serve: serve}
	ts.Close()
	cfg.NextProtos = []string{"h2"}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.ln, srv.url = ln, "https://"+ln.Addr().String()
	srv.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			srv.wg.Go(func() { srv.conn(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		srv.wg.Wait()
	})
	return srv
}

func (srv *rawH2) requests() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.n
}

// conn serves one connection until the client or a stream closes it.
func (srv *rawH2) conn(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) // a stuck test fails rather than hangs
	if _, err := io.ReadFull(c, make([]byte, len(http2.ClientPreface))); err != nil {
		return
	}
	fr := http2.NewFramer(c, c)
	if fr.WriteSettings() != nil {
		return
	}
	bodies := map[uint32]*bytes.Buffer{}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		var id uint32
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
			continue
		case *http2.HeadersFrame:
			bodies[f.StreamID] = new(bytes.Buffer)
			if !f.StreamEnded() {
				continue
			}
			id = f.StreamID
		case *http2.DataFrame:
			bodies[f.StreamID].Write(f.Data())
			if !f.StreamEnded() {
				continue
			}
			id = f.StreamID
		default:
			continue
		}
		srv.mu.Lock()
		srv.n++
		n := srv.n
		srv.mu.Unlock()
		s := &rawStream{fr: fr, conn: c, id: id, body: bodies[id].String()}
		delete(bodies, id)
		srv.serve(n, s)
	}
}

// headers sends a 200's headers, ending the stream if end.
func (s *rawStream) headers(end bool) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: s.id, BlockFragment: buf.Bytes(), EndHeaders: true, EndStream: end})
}

func (s *rawStream) data(b string, end bool) { s.fr.WriteData(s.id, end, []byte(b)) }

// respond answers 200 with body b.
func (s *rawStream) respond(b string) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(b))})
	s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: s.id, BlockFragment: buf.Bytes(), EndHeaders: true})
	s.data(b, true)
}

func (s *rawStream) reset(code http2.ErrCode) { s.fr.WriteRSTStream(s.id, code) }

// goAwayAndClose says the stream was taken (GOAWAY with it as the last)
// and closes the connection under it.
func (s *rawStream) goAwayAndClose() {
	s.fr.WriteGoAway(s.id, http2.ErrCodeNo, nil)
	s.conn.Close()
}
