package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// oneShotServer is a raw HTTP/1.1 server that answers one request per
// connection, keeping it alive as far as the client can tell (no
// "Connection: close"), then reads the next request on it, counts it, and
// closes the connection without answering: a kept-alive connection that
// dies under the request. net/http resends such an idempotent request on a
// new connection by itself, so the server sees it twice.
//
// Every request the client writes on a connection is read and counted
// before the connection closes, so the counts are exactly what the server
// saw.
type oneShotServer struct {
	url    string
	answer func(path string, seen int) string // the raw response to the seen'th request for path

	mu   sync.Mutex
	seen map[string]int
}

func newOneShotServer(t *testing.T, answer func(path string, seen int) string) *oneShotServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &oneShotServer{url: "http://" + ln.Addr().String(), answer: answer, seen: map[string]int{}}
	var conns sync.WaitGroup
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { s.serve(conn) })
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		conns.Wait() // the client's Shutdown closed its idle connections
	})
	return s
}

func (s *oneShotServer) serve(conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := 0; ; i++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		n := s.count(req.URL.Path)
		if i > 0 {
			return // seen, never answered
		}
		resp := s.answer(req.URL.Path, n)
		if resp == "" {
			return
		}
		io.WriteString(conn, resp)
	}
}

func (s *oneShotServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[path]++
	return s.seen[path]
}

func (s *oneShotServer) hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[path]
}

// newOneShotFetcher returns a Fetcher on its own client, as newReal does,
// that retries at once. Unlike newReal it does not count open connections
// after Shutdown: a connection the server closed under a request may still
// be on its way to being closed by net/http's read loop when the last call
// returns. goleak (TestMain) still finds any connection left open for good.
func newOneShotFetcher(t *testing.T, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(append([]Option{quickRetry}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
			t.Errorf("after the case: %+v; want nothing in flight or waiting", s)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v (a call is still registered)", err)
		}
	})
	return f
}

func rawResponse(status int, header, body string) string {
	return fmt.Sprintf("HTTP/1.1 %d %s\r\n%sContent-Length: %d\r\n\r\n%s",
		status, http.StatusText(status), header, len(body), body)
}

// answerPaths answers /ok/… with 200, /flaky/… with 503 the first two
// times the server sees it and 200 after, and never answers /dead/….
func answerPaths(path string, seen int) string {
	switch {
	case strings.HasPrefix(path, "/dead/"):
		return ""
	case strings.HasPrefix(path, "/flaky/") && seen <= 2:
		return rawResponse(http.StatusServiceUnavailable, "", "busy")
	}
	return rawResponse(http.StatusOK, "", "ok")
}

// oneShotURLs returns n paths on s: mostly /ok/i, with every 10th /flaky/i
// and every 25th /dead/i.
func oneShotURLs(s *oneShotServer, n int) []string {
	urls := make([]string, n)
	for i := range urls {
		kind := "ok"
		switch {
		case i%25 == 0:
			kind = "dead"
		case i%10 == 0:
			kind = "flaky"
		}
		urls[i] = s.url + "/" + kind + "/" + strconv.Itoa(i)
	}
	return urls
}

func pathOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

// checkAttempts checks that each result's Attempts, and its Error's, is
// what the server saw for its URL, and that net/http did resend some.
func checkAttempts(t *testing.T, s *oneShotServer, rs []Result) {
	t.Helper()
	resent := 0
	for _, r := range rs {
		path := pathOf(t, r.URL)
		seen := s.hits(path)
		if r.Attempts != seen {
			t.Errorf("%s: Attempts = %d; want %d, what the server saw (err %v)", path, r.Attempts, seen, r.Err)
		}
		if fe, ok := errors.AsType[*Error](r.Err); ok && fe.Attempts != seen {
			t.Errorf("%s: Error.Attempts = %d; want %d, what the server saw", path, fe.Attempts, seen)
		}
		ours := 1 // the most attempts the Fetcher makes for path (quickRetry: 3)
		if strings.HasPrefix(path, "/dead/") || strings.HasPrefix(path, "/flaky/") {
			ours = 3
		}
		if seen > ours {
			resent++
		}
		if dead := strings.HasPrefix(path, "/dead/"); dead != (r.Err != nil) {
			t.Errorf("%s: err = %v; want an error only for /dead/", path, r.Err)
		}
	}
	if resent == 0 {
		t.Errorf("net/http resent no request: the case tests nothing")
	}
}

// Attempts counts net/http's own resends: each is a request the server saw.
func TestAttemptsCountTransportResends(t *testing.T) {
	const n, conc = 200, 8
	t.Run("batch", func(t *testing.T) {
		s := newOneShotServer(t, answerPaths)
		rs := newOneShotFetcher(t, WithConcurrency(conc)).GetAll(t.Context(), oneShotURLs(s, n))
		checkAttempts(t, s, rs)
	})
	t.Run("stream", func(t *testing.T) {
		s := newOneShotServer(t, answerPaths)
		f := newOneShotFetcher(t, WithConcurrency(conc))
		var rs []Result
		for r := range f.Stream(t.Context(), slices.Values(oneShotURLs(s, n))) {
			rs = append(rs, r)
		}
		checkAttempts(t, s, rs)
	})
	t.Run("do", func(t *testing.T) {
		// Do reports attempts only in its errors: every other URL is dead.
		s := newOneShotServer(t, answerPaths)
		f := newOneShotFetcher(t, WithConcurrency(conc))
		urls := make([]string, n)
		for i := range urls {
			urls[i] = s.url + []string{"/ok/", "/dead/"}[i%2] + strconv.Itoa(i)
		}
		rs := make([]Result, n)
		var wg sync.WaitGroup
		for w := range conc {
			wg.Go(func() {
				for i := w; i < n; i += conc {
					rs[i] = doResult(t, f, urls[i])
				}
			})
		}
		wg.Wait()
		checkAttempts(t, s, slices.DeleteFunc(rs, func(r Result) bool { return r.Err == nil }))
	})
}

// doResult is the outcome of a call to Do, as a Result: Attempts is known
// only if the call failed.
func doResult(t *testing.T, f *Fetcher, rawURL string) Result {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Error(err)
		return Result{URL: rawURL}
	}
	resp, err := f.Do(req)
	if err != nil {
		return Result{URL: rawURL, Err: err, Attempts: attemptsOf(t, err)}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return Result{URL: rawURL, Status: resp.StatusCode}
}

// A retry is an attempt the server sees, and so is each resend within it.
func TestAttemptsCountRetries(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	r := newOneShotFetcher(t).Fetch(t.Context(), srv.URL)
	if r.Err != nil || r.Attempts != 3 || hits.Load() != 3 {
		t.Errorf("Attempts = %d, err %v, server saw %d; want 3, nil, 3", r.Attempts, r.Err, hits.Load())
	}
}

// A redirect is part of the attempt that followed it: Attempts is what the
// server the request was addressed to saw, not what the servers it was
// redirected to saw.
func TestAttemptsRedirectsNotCounted(t *testing.T) {
	const n, conc = 100, 8
	target := newOneShotServer(t, answerPaths)
	origin := newOneShotServer(t, func(path string, seen int) string {
		return rawResponse(http.StatusFound, "Location: "+target.url+"/ok"+path+"\r\n", "")
	})
	urls := make([]string, n)
	for i := range urls {
		urls[i] = origin.url + "/" + strconv.Itoa(i)
	}
	rs := newOneShotFetcher(t, WithConcurrency(conc)).GetAll(t.Context(), urls)
	originResent, targetResent := 0, 0
	for _, r := range rs {
		path := pathOf(t, r.URL)
		if r.Err != nil || r.FinalURL != target.url+"/ok"+path {
			t.Errorf("%s: err %v, FinalURL %q; want success at %s", path, r.Err, r.FinalURL, target.url+"/ok"+path)
		}
		if seen := origin.hits(path); r.Attempts != seen {
			t.Errorf("%s: Attempts = %d; want %d, what the origin saw (the target saw %d)",
				path, r.Attempts, seen, target.hits("/ok"+path))
		}
		if origin.hits(path) > 1 {
			originResent++
		}
		if target.hits("/ok"+path) > 1 {
			targetResent++
		}
	}
	if originResent == 0 || targetResent == 0 {
		t.Errorf("net/http resent %d requests to the origin, %d to the target; want some of each", originResent, targetResent)
	}
}

// A ClientTrace the caller put in the context still sees every event, and
// Attempts is still what the server saw.
func TestAttemptsKeepCallersTrace(t *testing.T) {
	s := newOneShotServer(t, answerPaths)
	f := newOneShotFetcher(t, WithConcurrency(1)) // one connection at a time: every other request finds it dead
	var wrote, gotConn atomic.Int64
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		GotConn:      func(httptrace.GotConnInfo) { gotConn.Add(1) },
		WroteHeaders: func() { wrote.Add(1) },
	})
	var reqs []*http.Request
	for i := range 10 {
		req, err := http.NewRequest(http.MethodGet, s.url+"/ok/"+strconv.Itoa(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, req)
	}
	rs := f.DoAll(ctx, reqs) // DoAll sends each request under ctx
	checkAttempts(t, s, rs)
	total := 0
	for _, r := range rs {
		total += s.hits(pathOf(t, r.URL))
	}
	if wrote.Load() != int64(total) || gotConn.Load() != int64(total) {
		t.Errorf("the caller's trace saw %d header writes and %d connections; want %d each, what the server saw",
			wrote.Load(), gotConn.Load(), total)
	}
}

// A call is its request's context, and holds the request's trace itself:
// net/http finds it there without a context of its own for it.
func TestCallCarriesItsTrace(t *testing.T) {
	c := &call{Context: t.Context()}
	if got := httptrace.ContextClientTrace(c); got != &c.trace {
		t.Errorf("ContextClientTrace(call) = %p; want the call's own trace %p (traceKey %#v)", got, &c.trace, traceKey)
	}
}

// The call and the copy of the request it sends are one allocation (see
// newCall): with the allocator's 8-byte header for an object of over 512
// bytes with pointers, they fit its 768-byte size class; and a call made
// alone, for a request the Fetcher builds (Get, Stream), fits the
// 448-byte class. The HTTP/2 write counts of 9ae394d grew the call past
// both: 1,352 bytes a Do instead of 1,224, and 32 more a Stream result. If
// a Go release grows http.Request, this says so.
func TestCallFitsItsSizeClass(t *testing.T) {
	cs, rs := unsafe.Sizeof(call{}), unsafe.Sizeof(http.Request{})
	if cs > 448 {
		t.Errorf("call takes %d bytes; want at most 448", cs)
	}
	if n := cs + rs + 8; n > 768 {
		t.Errorf("call (%d bytes) and http.Request (%d) take %d bytes with the allocator's header; want at most 768", cs, rs, n)
	}
}
