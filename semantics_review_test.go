package fetch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// This file reviews how the Fetcher treats HTTP's edge cases (RFC 9110,
// 9111, 9112) against what net/http does.

// semSeen is what a test server saw of one request.
type semSeen struct {
	Method, Path string
	Header       http.Header
	Body         string
}

// semLog records the requests a test server saw.
type semLog struct {
	mu   sync.Mutex
	seen []semSeen
}

func (l *semLog) add(r *http.Request) semSeen {
	b, _ := io.ReadAll(r.Body)
	s := semSeen{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: string(b)}
	l.mu.Lock()
	l.seen = append(l.seen, s)
	l.mu.Unlock()
	return s
}

func (l *semLog) all() []semSeen {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

// semServer starts an httptest server with h, closed at the end of the test.
func semServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// semRaw starts a server that reads one request per connection (its head,
// and a body of known length) and answers with respond(n, req, conn), n
// counting connections from 1, then closes the connection.
func semRaw(t *testing.T, respond func(n int, req *http.Request, c net.Conn)) (url string, hits *atomic.Int64) {
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
			n := int(hits.Add(1))
			req, err := http.ReadRequest(bufio.NewReader(conn))
			if err == nil {
				io.Copy(io.Discard, req.Body)
				respond(n, req, conn)
			}
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "http://" + ln.Addr().String(), hits
}

// HEAD has no body, whatever Content-Length says (RFC 9110 §9.3.2), in
// every call: GetAll, Handle, GetJSON-free Handle, and Do; a Content-Length
// over the body cap is no ErrBodyTooLarge.
func TestSemanticsReviewHeadHasNoBody(t *testing.T) {
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.Header().Set("X-Kind", "head")
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		if r.Method != http.MethodHead {
			t.Errorf("server saw %s %s; want HEAD", r.Method, r.URL)
		}
		w.WriteHeader(http.StatusOK)
	})
	f := newReal(t, WithMaxBodySize(1000))
	ctx := t.Context()
	for _, path := range []string{"/", "/moved"} {
		r := f.GetAll(ctx, []string{srv.URL + path}, Method(http.MethodHead))[0]
		if r.Err != nil || r.Status != 200 || len(r.Body) != 0 || r.Header.Get("Content-Length") != "100000" {
			t.Errorf("GetAll HEAD %s: status %d, %d bytes, Content-Length %q, err %v; want 200, no body, the header's length, no error",
				path, r.Status, len(r.Body), r.Header.Get("Content-Length"), r.Err)
		}
		if r.Attempts != 1 {
			t.Errorf("GetAll HEAD %s: %d attempts; want 1", path, r.Attempts)
		}
	}
	for h := range HandleURLs(ctx, f, slices.Values([]string{srv.URL + "/"}), func(_ string, resp *http.Response) (int, error) {
		b, err := io.ReadAll(resp.Body)
		return len(b), err
	}, Method(http.MethodHead)) {
		if h.Err != nil || h.Value != 0 || h.Status != 200 {
			t.Errorf("HandleURLs HEAD: %d bytes, status %d, err %v; want 0 bytes, 200, no error", h.Value, h.Status, h.Err)
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, srv.URL+"/moved", nil)
	resp, err := f.Do(req)
	if err != nil {
		t.Fatalf("Do HEAD: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(b) != 0 || resp.Request.Method != http.MethodHead {
		t.Errorf("Do HEAD: %d bytes, err %v, final method %s; want no body, HEAD kept over the 302", len(b), err, resp.Request.Method)
	}
}

// 204 and 304 have no body (RFC 9110 §15.3.5, §15.4.5). A 204 is a
// success. A 304 is not 2xx: Get and the batch calls fail it with a
// *StatusError, as documented ("Err is nil only for a 2xx"), keeping its
// validators, and do not retry it; Do hands it back.
func TestSemanticsReviewNoContentAndNotModified(t *testing.T) {
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		switch r.URL.Path {
		case "/204":
			w.Header().Set("Content-Length", "5") // a server's mistake: still no body
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			if r.Header.Get("If-None-Match") != `"v1"` {
				t.Errorf("the 304's request had If-None-Match %q", r.Header.Get("If-None-Match"))
			}
			w.WriteHeader(http.StatusNotModified)
		}
	})
	f := newReal(t)
	rs := f.GetAll(t.Context(), []string{srv.URL + "/204", srv.URL + "/304"}, Header("If-None-Match", `"v1"`))
	if r := rs[0]; r.Err != nil || r.Status != 204 || len(r.Body) != 0 {
		t.Errorf("204: status %d, %d bytes, err %v; want a success with no body", r.Status, len(r.Body), r.Err)
	}
	r := rs[1]
	var se *StatusError
	if !errors.As(r.Err, &se) || se.StatusCode != 304 || r.Status != 304 || len(r.Body) != 0 || r.Attempts != 1 {
		t.Errorf("304: status %d, %d bytes, %d attempts, err %v; want a *StatusError 304, no body, 1 attempt", r.Status, len(r.Body), r.Attempts, r.Err)
	}
	if r.Header.Get("ETag") != `"v1"` || se == nil || se.Header.Get("ETag") != `"v1"` {
		t.Errorf("304: ETag %q; want the validator kept", r.Header.Get("ETag"))
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/304", nil)
	req.Header.Set("If-None-Match", `"v1"`)
	resp, err := f.Do(req)
	if err != nil || resp.StatusCode != 304 {
		t.Fatalf("Do 304: %v, %v; want the 304, no error", resp, err)
	}
	if b, _ := io.ReadAll(resp.Body); len(b) != 0 {
		t.Errorf("Do 304: body %q; want none", b)
	}
	resp.Body.Close()
}

// A 103 Early Hints before the final response (RFC 8297, RFC 9110 §15.2)
// is interim: the call gets the final response, and a caller's
// httptrace.Got1xxResponse hears every interim response, retries included.
func TestSemanticsReviewEarlyHints(t *testing.T) {
	var n atomic.Int64
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-Final", "yes")
		io.WriteString(w, "final")
	})
	f := newReal(t)
	r := f.Fetch(t.Context(), srv.URL)
	if r.Err != nil || r.Status != 200 || string(r.Body) != "final" || r.Header.Get("X-Final") != "yes" || r.Header.Get("Link") != "" {
		t.Errorf("Fetch: %d %q, header %v, err %v; want 200 \"final\" with the final header only", r.Status, r.Body, r.Header, r.Err)
	}
	if r.Attempts != 2 {
		t.Errorf("Fetch: %d attempts; want 2 (the 503 retried)", r.Attempts)
	}
	var hints atomic.Int64
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code == http.StatusEarlyHints && h.Get("Link") != "" {
				hints.Add(1)
			}
			return nil
		},
	})
	n.Store(0)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := f.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || hints.Load() != 2 {
		t.Errorf("Do: status %d, %d early hints heard; want 200 and 2 (one per attempt)", resp.StatusCode, hints.Load())
	}
}

// A Range request through fetch.Header gets its 206 (a success, body the
// range), and a 416 is a *StatusError, not retried (RFC 9110 §14, §15.3.7,
// §15.5.17). net/http asks for no compression on a Range request.
func TestSemanticsReviewRange(t *testing.T) {
	var log semLog
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		http.ServeContent(w, r, "x.txt", time.Unix(0, 0), strings.NewReader("abcdefghij"))
	})
	f := newReal(t)
	r := f.Fetch(t.Context(), srv.URL, Header("Range", "bytes=2-4"))
	if r.Err != nil || r.Status != 206 || string(r.Body) != "cde" || r.Header.Get("Content-Range") != "bytes 2-4/10" {
		t.Errorf("Range: %d %q, Content-Range %q, err %v; want 206 \"cde\" bytes 2-4/10", r.Status, r.Body, r.Header.Get("Content-Range"), r.Err)
	}
	r = f.Fetch(t.Context(), srv.URL, Header("Range", "bytes=20-30"))
	var se *StatusError
	if !errors.As(r.Err, &se) || se.StatusCode != 416 || r.Attempts != 1 || se.Header.Get("Content-Range") != "bytes */10" {
		t.Errorf("Range past the end: %d, %d attempts, err %v; want a *StatusError 416 with Content-Range, 1 attempt", r.Status, r.Attempts, r.Err)
	}
	for _, s := range log.all() {
		if s.Header.Get("Accept-Encoding") != "" {
			t.Errorf("a Range request asked for Accept-Encoding %q; want none", s.Header.Get("Accept-Encoding"))
		}
	}
}

// 301, 302 and 303 turn a POST into a GET without its body; 307 and 308
// keep the method and the body (RFC 9110 §15.4), as net/http does.
func TestSemanticsReviewRedirectMethods(t *testing.T) {
	var log semLog
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		s := log.add(r)
		if code, ok := strings.CutPrefix(s.Path, "/r"); ok {
			var c int
			fmt.Sscan(code, &c)
			w.Header().Set("Location", "/target")
			w.WriteHeader(c)
			return
		}
		fmt.Fprintf(w, "%s %s", r.Method, s.Body)
	})
	f := newReal(t)
	for _, tc := range []struct {
		code int
		want string
	}{
		{301, "GET "}, {302, "GET "}, {303, "GET "}, {307, "POST payload"}, {308, "POST payload"},
	} {
		log = semLog{}
		r := f.Fetch(t.Context(), fmt.Sprintf("%s/r%d", srv.URL, tc.code), Method(http.MethodPost), Body("text/plain", []byte("payload")))
		if r.Err != nil || string(r.Body) != tc.want || !strings.HasSuffix(r.FinalURL, "/target") {
			t.Errorf("POST then %d: %q at %s, err %v; want %q at /target", tc.code, r.Body, r.FinalURL, r.Err, tc.want)
		}
		seen := log.all()
		if len(seen) != 2 || seen[0].Body != "payload" {
			t.Errorf("POST then %d: server saw %+v", tc.code, seen)
			continue
		}
		if tc.code < 307 && seen[1].Header.Get("Content-Type") != "" {
			t.Errorf("POST then %d: the GET still carries Content-Type %q", tc.code, seen[1].Header.Get("Content-Type"))
		}
	}
}

// A 307 keeps a PUT's body; when a later hop fails with a retryable status,
// the retry starts again at the first URL with the body rewound, and every
// request of every hop carries the whole body.
func TestSemanticsReviewRewindOnRetryAfterKeptMethodRedirect(t *testing.T) {
	var log semLog
	var target atomic.Int64
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		s := log.add(r)
		switch s.Path {
		case "/a":
			w.Header().Set("Location", "/b")
			w.WriteHeader(http.StatusTemporaryRedirect)
		case "/b":
			if target.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, s.Body)
		}
	})
	f := newReal(t)
	for name, req := range map[string]func() *http.Request{
		"bytes.Reader": func() *http.Request {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL+"/a", bytes.NewReader([]byte("0123456789")))
			return req
		},
		"Body option": func() *http.Request {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL+"/a", nil)
			Body("text/plain", []byte("0123456789"))(req)
			return req
		},
	} {
		log, target = semLog{}, atomic.Int64{}
		r := f.DoAll(t.Context(), []*http.Request{req()})[0]
		if r.Err != nil || string(r.Body) != "0123456789" || r.Attempts != 2 {
			t.Errorf("%s: %q, %d attempts, err %v; want the whole body back after 2 attempts", name, r.Body, r.Attempts, r.Err)
		}
		var got []string
		for _, s := range log.all() {
			got = append(got, s.Method+" "+s.Path+" "+s.Body)
		}
		want := []string{"PUT /a 0123456789", "PUT /b 0123456789", "PUT /a 0123456789", "PUT /b 0123456789"}
		if !slices.Equal(got, want) {
			t.Errorf("%s: server saw %q; want %q", name, got, want)
		}
	}
}

// A body that cannot be rewound (no GetBody) is sent once: a retryable
// status is not retried, and the caller gets the status, as documented.
// A 307 for it is not followed (net/http hands back the 307).
func TestSemanticsReviewNonRewindableBody(t *testing.T) {
	var log semLog
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		s := log.add(r)
		if s.Path == "/307" {
			w.Header().Set("Location", "/")
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	f := newReal(t)
	mk := func(path string) *http.Request {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL+path, io.MultiReader(strings.NewReader("once")))
		if req.GetBody != nil {
			t.Fatal("a MultiReader body has GetBody")
		}
		return req
	}
	rs := f.DoAll(t.Context(), []*http.Request{mk("/"), mk("/307")})
	var se *StatusError
	if r := rs[0]; !errors.As(r.Err, &se) || se.StatusCode != 503 || r.Attempts != 1 {
		t.Errorf("503 for an unrewindable body: %d attempts, err %v; want the *StatusError 503 after 1 attempt", r.Attempts, r.Err)
	}
	if r := rs[1]; !errors.As(r.Err, &se) || se.StatusCode != 307 || r.Attempts != 1 {
		t.Errorf("307 for an unrewindable body: status %d, err %v; want the 307 handed back", r.Status, r.Err)
	}
	for _, s := range log.all() {
		if s.Body != "once" {
			t.Errorf("server saw %s %s with body %q; want \"once\"", s.Method, s.Path, s.Body)
		}
	}
	if n := len(log.all()); n != 2 {
		t.Errorf("server saw %d requests; want 2", n)
	}
}

// A redirect without Location is not followed (RFC 9110 §15.4: the client
// cannot); the call gets the 3xx, not retried.
func TestSemanticsReviewRedirectWithoutLocation(t *testing.T) {
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusFound)
		io.WriteString(w, "nowhere")
	})
	f := newReal(t)
	r := f.Fetch(t.Context(), srv.URL)
	var se *StatusError
	if !errors.As(r.Err, &se) || se.StatusCode != 302 || r.Attempts != 1 || string(r.Body) != "nowhere" || r.FinalURL != srv.URL {
		t.Errorf("302 without Location: status %d, %q, %d attempts, final %q, err %v; want the 302 itself", r.Status, r.Body, r.Attempts, r.FinalURL, r.Err)
	}
	resp, err := f.Do(mustGet(t, srv.URL))
	if err != nil || resp.StatusCode != 302 {
		t.Fatalf("Do: %v %v", resp, err)
	}
	resp.Body.Close()
}

// A relative Location resolves against the URL that redirected; a Location
// without a fragment inherits the request's (RFC 9110 §10.2.2), one with a
// fragment keeps its own, and no fragment is ever sent.
func TestSemanticsReviewRelativeLocationAndFragment(t *testing.T) {
	var log semLog
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		s := log.add(r)
		switch s.Path {
		case "/d/a":
			w.Header().Set("Location", "b?q=1")
			w.WriteHeader(http.StatusFound)
		case "/d/x":
			w.Header().Set("Location", "../e/y#own")
			w.WriteHeader(http.StatusMovedPermanently)
		default:
			io.WriteString(w, s.Path)
		}
	})
	f := newReal(t)
	r := f.Fetch(t.Context(), srv.URL+"/d/a#top")
	if r.Err != nil || string(r.Body) != "/d/b?q=1" || r.FinalURL != srv.URL+"/d/b?q=1#top" {
		t.Errorf("relative Location: %q at %q, err %v; want /d/b?q=1 at .../d/b?q=1#top", r.Body, r.FinalURL, r.Err)
	}
	r = f.Fetch(t.Context(), srv.URL+"/d/x#top")
	if r.Err != nil || string(r.Body) != "/e/y" || r.FinalURL != srv.URL+"/e/y#own" {
		t.Errorf("Location with a fragment: %q at %q, err %v; want /e/y at .../e/y#own", r.Body, r.FinalURL, r.Err)
	}
	for _, s := range log.all() {
		if strings.Contains(s.Path, "#") || strings.Contains(s.Header.Get("Referer"), "#") {
			t.Errorf("a fragment was sent: %s, Referer %q", s.Path, s.Header.Get("Referer"))
		}
	}
}

// Expect: 100-continue with a body: a server that refuses without reading
// it (a final status instead of 100 Continue, RFC 9110 §10.1.1) is retried
// with the body rewound, and the retry sends the whole body.
func TestSemanticsReviewExpectContinueRetried(t *testing.T) {
	var n atomic.Int64
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Expect") != "100-continue" {
			t.Errorf("the handler saw Expect %q; want 100-continue", r.Header.Get("Expect"))
		}
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // without reading: no 100 Continue
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	f := newReal(t)
	payload := strings.Repeat("p", 100<<10)
	r := f.Fetch(t.Context(), srv.URL, Method(http.MethodPut), Header("Expect", "100-continue"), Body("text/plain", []byte(payload)))
	if r.Err != nil || string(r.Body) != payload || r.Attempts != 2 {
		t.Errorf("Expect: 100-continue: %d bytes back, %d attempts, err %v; want the %d-byte body after 2 attempts", len(r.Body), r.Attempts, r.Err, len(payload))
	}
}

// gzip: net/http decodes a body it asked to be compressed, dropping
// Content-Encoding and Content-Length (no longer true of the body); a
// caller that asks for gzip itself gets the bytes as sent.
func TestSemanticsReviewGzip(t *testing.T) {
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	io.WriteString(zw, strings.Repeat("hello ", 1000))
	zw.Close()
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", fmt.Sprint(zipped.Len()))
		w.Write(zipped.Bytes())
	})
	f := newReal(t)
	r := f.Fetch(t.Context(), srv.URL)
	if r.Err != nil || string(r.Body) != strings.Repeat("hello ", 1000) {
		t.Errorf("gzip: %d bytes, err %v; want the 6000 decoded bytes", len(r.Body), r.Err)
	}
	if r.Header.Get("Content-Encoding") != "" || r.Header.Get("Content-Length") != "" {
		t.Errorf("gzip decoded: Content-Encoding %q, Content-Length %q; want neither (net/http drops them)", r.Header.Get("Content-Encoding"), r.Header.Get("Content-Length"))
	}
	r = f.Fetch(t.Context(), srv.URL, Header("Accept-Encoding", "gzip"))
	if r.Err != nil || !bytes.Equal(r.Body, zipped.Bytes()) || r.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("gzip asked for by the caller: %d bytes, Content-Encoding %q, err %v; want the %d bytes as sent", len(r.Body), r.Header.Get("Content-Encoding"), r.Err, zipped.Len())
	}
	small := newReal(t, WithMaxBodySize(1000))
	if r := small.Fetch(t.Context(), srv.URL); !errors.Is(r.Err, ErrBodyTooLarge) {
		t.Errorf("gzip over the cap once decoded: err %v; want ErrBodyTooLarge", r.Err)
	}
}

// Framing, as RFC 9112 §6.3 says and net/http reads it: chunked wins over
// Content-Length; identical duplicate Content-Lengths are one; differing
// ones are an error, not retried; bytes past Content-Length are not body.
func TestSemanticsReviewFraming(t *testing.T) {
	for _, tc := range []struct {
		name, resp string
		body       string
		fails      bool
	}{
		{"chunked and Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "hello", false},
		{"duplicate Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", "hello", false},
		{"Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello", "", true},
		{"conflicting Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "", true},
		{"body past Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello, and more", "hello", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, hits := semRaw(t, func(_ int, _ *http.Request, c net.Conn) { io.WriteString(c, tc.resp) })
			f := newReal(t)
			r := f.Fetch(t.Context(), url)
			if tc.fails {
				if r.Err == nil || r.Attempts != 1 || hits.Load() != 1 {
					t.Errorf("%q: %q, %d attempts (server saw %d), err %v; want an error, not retried", tc.resp, r.Body, r.Attempts, hits.Load(), r.Err)
				}
				return
			}
			if r.Err != nil || string(r.Body) != tc.body || r.Header.Get("Content-Length") != "" && r.Header.Get("Content-Length") != fmt.Sprint(len(tc.body)) {
				t.Errorf("%q: %q, Content-Length %q, err %v; want %q", tc.resp, r.Body, r.Header.Get("Content-Length"), r.Err, tc.body)
			}
		})
	}
}

// Trailers of a chunked response (RFC 9110 §6.5, RFC 9112 §7.1.2) are part
// of the response: a Result keeps them, as resp.Trailer holds them after
// the body for Do.
func TestSemanticsReviewTrailers(t *testing.T) {
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "payload")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Checksum", "abc123")
	})
	f := newReal(t)
	resp, err := f.Do(mustGet(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Trailer.Get("X-Checksum") != "abc123" {
		t.Errorf("Do: trailer %v; want X-Checksum: abc123", resp.Trailer)
	}
	for _, r := range f.GetAll(t.Context(), []string{srv.URL}) {
		if r.Err != nil || string(r.Body) != "payload" || r.Trailer.Get("X-Checksum") != "abc123" {
			t.Errorf("GetAll: %q, trailer %v, err %v; want the body and X-Checksum: abc123", r.Body, r.Trailer, r.Err)
		}
	}
	for h := range HandleURLs(t.Context(), f, slices.Values([]string{srv.URL}), func(_ string, resp *http.Response) (string, error) {
		io.ReadAll(resp.Body)
		return resp.Trailer.Get("X-Checksum"), nil
	}) {
		if h.Err != nil || h.Value != "abc123" {
			t.Errorf("Handle: trailer %q, err %v; want abc123", h.Value, h.Err)
		}
	}
}

// Header names come back canonical, as net/http makes them, however the
// server spelled them.
func TestSemanticsReviewHeaderCanonical(t *testing.T) {
	url, _ := semRaw(t, func(_ int, _ *http.Request, c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\ncontent-TYPE: text/plain\r\nx-request-id: 7\r\nX-REQUEST-ID: 8\r\nContent-Length: 2\r\n\r\nok")
	})
	f := newReal(t)
	r := f.Fetch(t.Context(), url)
	if r.Err != nil || r.Header.Get("Content-Type") != "text/plain" || !slices.Equal(r.Header["X-Request-Id"], []string{"7", "8"}) {
		t.Errorf("header %v, err %v; want canonical keys, both X-Request-Id values in order", r.Header, r.Err)
	}
}

// Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET, so it is
// sent as written and, like any method not known to be idempotent, not
// retried; net/http's own resend rule reads methods the same way.
func TestSemanticsReviewMethodCase(t *testing.T) {
	var log semLog
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	f := newReal(t)
	r := f.Fetch(t.Context(), srv.URL, Method("get"))
	var se *StatusError
	if !errors.As(r.Err, &se) || r.Attempts != 1 {
		t.Errorf(`Method("get"): %d attempts, err %v; want 1 (not retried)`, r.Attempts, r.Err)
	}
	if seen := log.all(); len(seen) != 1 || seen[0].Method != "get" {
		t.Errorf("server saw %+v; want one \"get\"", seen)
	}
	r = f.Fetch(t.Context(), srv.URL, Method("GET"))
	if r.Attempts != 3 {
		t.Errorf(`Method("GET"): %d attempts; want 3 (retried)`, r.Attempts)
	}
}

// Retry-After as delta-seconds or as an HTTP-date is waited out exactly
// (RFC 9110 §10.2.3); garbage is ignored and the backoff used.
func TestSemanticsReviewRetryAfterForms(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value func(now time.Time) string
		wait  time.Duration
	}{
		{"seconds", func(time.Time) string { return "7" }, 7 * time.Second},
		{"IMF-fixdate", func(now time.Time) string { return now.Add(9 * time.Second).UTC().Format(http.TimeFormat) }, 9 * time.Second},
		{"date in the past", func(now time.Time) string { return now.Add(-time.Hour).UTC().Format(http.TimeFormat) }, 0},
		{"garbage", func(time.Time) string { return "soon" }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var times []time.Time
				var mu sync.Mutex
				f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					times = append(times, time.Now())
					first := len(times) == 1
					mu.Unlock()
					if first {
						w.Header().Set("Retry-After", tc.value(time.Now()))
						w.WriteHeader(http.StatusServiceUnavailable)
						return
					}
					io.WriteString(w, "ok")
				}), WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
				b, err := f.Get(t.Context(), "http://a.test/")
				if err != nil || string(b) != "ok" || len(times) != 2 {
					t.Fatalf("Get: %q, %v after %d requests; want ok after 2", b, err, len(times))
				}
				got := times[1].Sub(times[0])
				if tc.wait > 0 && got != tc.wait || tc.wait == 0 && got > time.Millisecond {
					t.Errorf("Retry-After %q: retried after %v; want %v", tc.value(times[0]), got, tc.wait)
				}
			})
		})
	}
}

// A 503 with Retry-After on a POST is not retried (not idempotent, RFC
// 9110 §9.2.2): the caller gets the 503, with what it asked for. With an
// Idempotency-Key it is retried, after the wait.
func TestSemanticsReviewRetryAfterOnPost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1)%2 == 1 {
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, "busy")
				return
			}
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
		}))
		r := f.Fetch(t.Context(), "http://a.test/", Method(http.MethodPost), Body("text/plain", []byte("order")))
		var se *StatusError
		if !errors.As(r.Err, &se) || se.StatusCode != 503 || se.RetryAfter != 3*time.Second || r.Attempts != 1 || string(se.Body) != "busy" {
			t.Errorf("POST: %d attempts, err %v; want the 503 with RetryAfter 3s and its body, 1 attempt", r.Attempts, r.Err)
		}
		time.Sleep(3 * time.Second) // the host's pause
		n.Store(0)
		start := time.Now()
		r = f.Fetch(t.Context(), "http://a.test/", Method(http.MethodPost), Header("Idempotency-Key", "k1"), Body("text/plain", []byte("order")))
		if r.Err != nil || string(r.Body) != "order" || r.Attempts != 2 || time.Since(start) != 3*time.Second {
			t.Errorf("POST with Idempotency-Key: %q, %d attempts after %v, err %v; want \"order\" after 2 attempts, 3s", r.Body, r.Attempts, time.Since(start), r.Err)
		}
	})
}

// A 429 on the last attempt: Get fails with its *StatusError (its body,
// header and Retry-After kept), Do hands back the 429 with its body whole.
func TestSemanticsReviewTooManyRequestsOnLastAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.Header().Set("Retry-After", "1")
			w.Header().Set("X-Quota", "spent")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":"slow down"}`)
		}), WithRetry(RetryPolicy{MaxAttempts: 3}))
		r := f.Fetch(t.Context(), "http://a.test/")
		var se *StatusError
		if !errors.As(r.Err, &se) || se.StatusCode != 429 || r.Attempts != 3 || n.Load() != 3 {
			t.Fatalf("Fetch: %d attempts (server saw %d), err %v; want a *StatusError 429 after 3", r.Attempts, n.Load(), r.Err)
		}
		if string(se.Body) != `{"error":"slow down"}` || string(r.Body) != `{"error":"slow down"}` || se.Header.Get("X-Quota") != "spent" || se.RetryAfter != time.Second {
			t.Errorf("StatusError: body %q, Result body %q, header %v, RetryAfter %v; want the last 429's", se.Body, r.Body, se.Header, se.RetryAfter)
		}
		time.Sleep(time.Second)
		n.Store(0)
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil || resp.StatusCode != 429 {
			t.Fatalf("Do: %v, %v; want the 429", resp, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != `{"error":"slow down"}` || n.Load() != 3 {
			t.Errorf("Do: body %q after %d requests; want the whole body after 3", b, n.Load())
		}
	})
}

// A 101 Switching Protocols response's body is the connection, writable, as
// Do documents, with WithStallTimeout too.
func TestSemanticsReviewSwitchingProtocolsWithStallTimeout(t *testing.T) {
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		rw.Flush()
		if line, err := rw.ReadString('\n'); err == nil {
			rw.WriteString(line)
			rw.Flush()
		}
	})
	f := newReal(t, WithStallTimeout(time.Minute))
	req := mustGet(t, srv.URL)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := f.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if resp.StatusCode != http.StatusSwitchingProtocols || !ok {
		t.Fatalf("status %d, body %T; want 101 and an io.ReadWriteCloser", resp.StatusCode, resp.Body)
	}
	io.WriteString(rwc, "ping\n")
	if got, err := bufio.NewReader(rwc).ReadString('\n'); err != nil || got != "ping\n" {
		t.Errorf("echo: %q, %v; want ping", got, err)
	}
}

// slowBody yields one byte after each pause, n times.
type slowBody struct {
	n     int
	pause time.Duration
}

func (s *slowBody) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	s.n--
	time.Sleep(s.pause) // the upload's own pace, not a synchronisation
	p[0] = 'x'
	return 1, nil
}

// WithStallTimeout cuts an attempt that stalls, as wget's --timeout does,
// not one whose request body is still being sent byte by byte: the
// response cannot begin before the request has been sent. An upload that
// stops for longer than the timeout is still a stall.
func TestSemanticsReviewStallTimeoutSlowUpload(t *testing.T) {
	srv := semServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	f := newReal(t, WithStallTimeout(150*time.Millisecond), WithRetry(RetryPolicy{MaxAttempts: 1}))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL, &slowBody{n: 8, pause: 40 * time.Millisecond})
	r := f.DoAll(t.Context(), []*http.Request{req})[0]
	if r.Err != nil || string(r.Body) != "xxxxxxxx" {
		t.Errorf("an upload that keeps going (320ms, a byte every 40ms): %q, err %v; want it echoed, not cut as a stall", r.Body, r.Err)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL, &slowBody{n: 2, pause: 400 * time.Millisecond})
	r = f.DoAll(t.Context(), []*http.Request{req})[0]
	if !errors.Is(r.Err, ErrAttemptTimeout) {
		t.Errorf("an upload stopped for 400ms: err %v; want a stall (ErrAttemptTimeout)", r.Err)
	}
}

var _ = context.Background
