package fetch

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// refusedURL returns a loopback URL whose port refuses connections.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/"
}

// A POST whose connection is refused never reached the server: it is
// retried as a GET would be, its body whole, and the server sees it once.
func TestNeverSentPOSTRetried(t *testing.T) {
	var posts atomic.Int64
	var got atomic.Value
	srv := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
	})
	refusing := &portRefusing{next: http.DefaultTransport}
	refusing.refusals.Store(2)
	f := portFetcher(t, WithTransportWrapper(func(next http.RoundTripper) http.RoundTripper {
		refusing.next = next
		return refusing
	}), WithRetry(RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond}))
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("payload"))
	resp, err := f.Do(req)
	if err != nil {
		t.Fatalf("Do: %v; want the third attempt's response", err)
	}
	resp.Body.Close()
	if posts.Load() != 1 || got.Load() != "payload" || refusing.tries.Load() != 3 {
		t.Errorf("server saw %d POSTs (body %q) after %d tries; want 1, %q, 3", posts.Load(), got.Load(), refusing.tries.Load(), "payload")
	}

	// On a port that refuses every time, attempts run out.
	_, err = f.Get(context.Background(), refusedURL(t), Method(http.MethodPost), Body("text/plain", []byte("x")))
	var fe *Error
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &fe) || fe.Attempts != 4 {
		t.Errorf("err %v; want ECONNREFUSED after 4 attempts", err)
	}
}

// A POST that reached a server is not sent again when what fails is
// connecting to where that server redirected it (307, which keeps the
// method): the server saw it, and may have acted on it.
func TestNeverSentNotAfterRedirect(t *testing.T) {
	to := refusedURL(t)
	var posts atomic.Int64
	srv := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		http.Redirect(w, r, to, http.StatusTemporaryRedirect)
	})
	f := portFetcher(t, WithRetry(RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond}))
	_, err := f.Get(context.Background(), srv.URL, Method(http.MethodPost), Body("text/plain", []byte("x")))
	var fe *Error
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &fe) || fe.Attempts != 1 || posts.Load() != 1 {
		t.Errorf("err %v, server saw %d POSTs; want ECONNREFUSED after 1 attempt, 1 POST", err, posts.Load())
	}
	// A GET is retried, redirect and all.
	posts.Store(0)
	_, err = f.Get(context.Background(), srv.URL)
	if !errors.Is(err, syscall.ECONNREFUSED) || posts.Load() != 4 {
		t.Errorf("GET: err %v, server saw %d requests; want ECONNREFUSED, 4", err, posts.Load())
	}
}

// A POST whose connection dropped after it was written is not sent again:
// the server may have read it.
func TestNeverSentNotAfterWrite(t *testing.T) {
	var posts atomic.Int64
	srv := portServer(t, func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		io.ReadAll(r.Body)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	})
	f := portFetcher(t, WithRetry(RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond}))
	_, err := f.Get(context.Background(), srv.URL, Method(http.MethodPost), Body("text/plain", []byte("x")))
	if err == nil || posts.Load() != 1 {
		t.Errorf("err %v, server saw %d POSTs; want an error, 1 POST", err, posts.Load())
	}
}
