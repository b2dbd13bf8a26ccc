package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// stallingServer answers its first request with status and head, writes
// part of a body, and then holds the connection open without ending the
// body, until the test ends; it answers every later request "ok".
func stallingServer(t *testing.T, status, head, part string) *httptest.Server {
	t.Helper()
	hold := make(chan struct{})
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 {
			io.WriteString(w, "ok")
			return
		}
		conn, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		bw.WriteString("HTTP/1.1 " + status + "\r\n" + head + "\r\n" + part)
		bw.Flush()
		<-hold
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hold) }) // runs first
	return srv
}

// A retried response whose body stalls (a body delimited by the
// connection's close on a connection kept open, or a chunked body whose
// last chunk never comes) no longer holds the retry until the attempt
// timeout, or for ever without one: discarding it reads only what comes at
// once.
func TestDiscardedBodyThatStallsIsNotWaitedFor(t *testing.T) {
	for _, tc := range []struct {
		name, status, head, part string
	}{
		{"close-delimited retried", "503 Service Unavailable", "Retry-After: 0\r\n", "busy"},
		{"chunked retried", "503 Service Unavailable", "Retry-After: 0\r\nTransfer-Encoding: chunked\r\n", "4\r\nbusy\r\n"},
		{"chunked long body retried", "503 Service Unavailable", "Retry-After: 0\r\nTransfer-Encoding: chunked\r\n", "2000\r\n" + string(make([]byte, 100))},
		{"close-delimited redirect", "302 Found", "Location: /next\r\n", "moved"},
		{"chunked redirect", "302 Found", "Location: /next\r\nTransfer-Encoding: chunked\r\n", "5\r\nmoved\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := stallingServer(t, tc.status, tc.head, tc.part)
			f, err := New(WithRetry(RetryPolicy{BaseDelay: time.Millisecond}))
			if err != nil {
				t.Fatal(err)
			}
			// The deadline only bounds the failure: the call ends in
			// milliseconds unless it waits for the stalled body.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			resp, err := f.Do(req)
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Do waited for the stalled body: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "ok" {
				t.Fatalf("got %d %q; want 200 \"ok\"", resp.StatusCode, b)
			}
		})
	}
}
