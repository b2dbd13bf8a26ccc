package fetch

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

func TestBlockedAddr(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1", true}, {"127.255.1.2", true}, {"::1", true},
		{"10.1.2.3", true}, {"172.16.0.1", true}, {"172.31.255.255", true}, {"192.168.1.1", true},
		{"169.254.169.254", true}, {"fe80::1", true},
		{"100.64.0.1", true}, {"100.127.255.255", true},
		{"fc00::1", true}, {"fd12:3456::1", true},
		{"0.0.0.0", true}, {"::", true}, {"0.1.2.3", true},
		{"224.0.0.1", true}, {"ff02::1", true}, {"255.255.255.255", true},
		{"::ffff:127.0.0.1", true}, {"::ffff:10.0.0.1", true}, {"::ffff:169.254.169.254", true},
		{"64:ff9b::7f00:1", true}, {"2002:7f00:1::", true},
		{"8.8.8.8", false}, {"1.1.1.1", false}, {"172.32.0.1", false}, {"100.128.0.1", false},
		{"2606:4700:4700::1111", false}, {"::ffff:8.8.8.8", false},
	} {
		if got := blockedAddr(netip.MustParseAddr(tc.addr)); got != tc.blocked {
			t.Errorf("blockedAddr(%s) = %v; want %v", tc.addr, got, tc.blocked)
		}
	}
}

// countingServer starts a server on addr that counts the connections made
// to it.
func countingServer(t *testing.T, addr string, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func TestGuardRefusesLoopback(t *testing.T) {
	srv, conns := countingServer(t, "127.0.0.1:0", http.HandlerFunc(ok))
	f, err := New(WithBlockPrivateAddresses())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(t.Context())
	for _, u := range []string{srv.URL, "http://localhost:" + srv.URL[len("http://127.0.0.1:"):]} {
		_, err = f.Get(t.Context(), u)
		var fe *Error
		if !errors.Is(err, ErrBlockedAddress) || !errors.As(err, &fe) || fe.Attempts != 1 {
			t.Errorf("Get %s: err = %v; want ErrBlockedAddress after 1 attempt (never retried)", u, err)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("server saw %d connections; want 0", n)
	}

	allowed, err := New(WithBlockPrivateAddresses(netip.MustParsePrefix("127.0.0.1/32")))
	if err != nil {
		t.Fatal(err)
	}
	defer allowed.Shutdown(t.Context())
	if _, err := allowed.Get(t.Context(), srv.URL); err != nil {
		t.Errorf("Get with 127.0.0.1 allowed: %v", err)
	}
}

// A redirect from an allowed address to a blocked one is refused at dial
// time too.
func TestGuardChecksRedirects(t *testing.T) {
	target, conns := countingServer(t, "127.0.0.2:0", http.HandlerFunc(ok))
	origin, _ := countingServer(t, "127.0.0.1:0", http.RedirectHandler(target.URL, http.StatusFound))
	f, err := New(WithBlockPrivateAddresses(netip.MustParsePrefix("127.0.0.1/32")))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(t.Context())
	if _, err := f.Get(t.Context(), origin.URL); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("err = %v; want ErrBlockedAddress for the redirect target", err)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("redirect target saw %d connections; want 0", n)
	}
}

func TestGuardNeedsOwnClient(t *testing.T) {
	if f, err := New(WithBlockPrivateAddresses(), WithClient(http.DefaultClient)); err == nil || f != nil {
		t.Errorf("New(guard, WithClient) = %v, %v; want an error", f, err)
	}
}

// Other spellings of loopback never reach the server: an IPv4-mapped IPv6
// address is refused by the guard; 127.1, 0x7f.1 and 0177.0.0.1 are names Go
// does not read as addresses, and fail to resolve (or, where a resolver
// reads them as 127.0.0.1, are refused).
func TestGuardOtherLoopbackSpellings(t *testing.T) {
	srv, conns := countingServer(t, "127.0.0.1:0", http.HandlerFunc(ok))
	port := srv.URL[len("http://127.0.0.1:"):]
	f, err := New(WithBlockPrivateAddresses(), WithRetry(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(t.Context())
	if _, err := f.Get(t.Context(), "http://[::ffff:127.0.0.1]:"+port+"/"); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("IPv4-mapped loopback: err = %v; want ErrBlockedAddress", err)
	}
	for _, host := range []string{"127.1", "0x7f.1", "0177.0.0.1"} {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, err := f.Get(ctx, "http://"+host+":"+port+"/")
		cancel()
		if err == nil {
			t.Errorf("%s: fetched; want an error", host)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("server saw %d connections; want 0", n)
	}
}
