package fetch

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// headServer serves every request with a response whose head, status line
// and header fields, is exactly size bytes, then "ok", and closes the
// connection. It counts the requests it reads.
func headServer(t *testing.T, size int) (url string, requests *atomic.Int64) {
	t.Helper()
	const prefix = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\nX-Pad: "
	const suffix = "\r\n\r\n"
	head := prefix + strings.Repeat("a", size-len(prefix)-len(suffix)) + suffix
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	requests = new(atomic.Int64)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
				requests.Add(1)
				c.Write([]byte(head + "ok")) // fails once a client stops reading
			}
			c.Close()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return "http://" + ln.Addr().String() + "/", requests
}

// A head of exactly the cap is read; one byte more fails with
// ErrHeaderTooLarge after one attempt, default retry policy or not. This
// also checks the text of net/http's error, which headerCap matches.
func TestHeaderTooLarge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []Option
		cap    int
		header int
	}{
		{"cap", []Option{WithMaxHeaderSize(4096)}, 4096, 4096},
		{"cap+1", []Option{WithMaxHeaderSize(4096)}, 4096, 4097},
		{"default", nil, DefaultMaxHeaderSize, DefaultMaxHeaderSize},
		{"default+1", nil, DefaultMaxHeaderSize, DefaultMaxHeaderSize + 1},
		{"2MiB", nil, DefaultMaxHeaderSize, 2 << 20}, // accepted by net/http's 10 MiB default
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, requests := headServer(t, tc.header)
			f, err := New(tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Shutdown(t.Context())
			body, err := f.Get(t.Context(), u)
			if tc.header <= tc.cap {
				if err != nil || string(body) != "ok" {
					t.Errorf("Get = %q, %v; want %q", body, err, "ok")
				}
				return
			}
			var fe *Error
			if !errors.Is(err, ErrHeaderTooLarge) || !errors.As(err, &fe) || fe.Attempts != 1 {
				t.Errorf("Get = %q, %v; want ErrHeaderTooLarge after 1 attempt", body, err)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("server read %d requests; want 1 (never retried)", n)
			}
		})
	}
}

// Only net/http's own error for our cap matches; an error that merely
// quotes its text does not.
func TestHeaderRefusalMatch(t *testing.T) {
	hc := newHeaderCap(4096)
	exact := errors.New("net/http: server response headers exceeded 4096 bytes; aborted")
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{exact, true},
		{fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", exact), true},
		{errors.New("net/http: server response headers exceeded 8192 bytes; aborted"), false},
		{fmt.Errorf("malformed header %q", exact.Error()), false},
		{errors.New("EOF"), false},
	} {
		if got := errors.Is(hc.check(tc.err), ErrHeaderTooLarge); got != tc.want {
			t.Errorf("check(%v) matches ErrHeaderTooLarge: %v; want %v", tc.err, got, tc.want)
		}
	}
}

func TestHeaderCapOption(t *testing.T) {
	if f, err := New(WithMaxHeaderSize(0)); err == nil || f != nil {
		t.Errorf("New(WithMaxHeaderSize(0)) = %v, %v; want an error", f, err)
	}
}

// PublicHeader names the default headers that follow redirects anywhere,
// in any spelling; the others may be credentials.
func TestPublicHeader(t *testing.T) {
	for key, want := range map[string]bool{"User-Agent": true, "accept-language": true, "Referer": true, "Authorization": false, "X-Api-Key": false, "Cookie": false} {
		if got := PublicHeader(key); got != want {
			t.Errorf("PublicHeader(%q) = %v; want %v", key, got, want)
		}
	}
}
