package fetch

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
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
		{"::7f00:1", true}, {"::a9fe:a9fe", true}, {"::ffff:0:7f00:1", true}, {"::ffff:0:a9fe:a9fe", true}, // IPv4-compatible and -translated
		{"8.8.8.8", false}, {"1.1.1.1", false}, {"172.32.0.1", false}, {"100.128.0.1", false},
		{"2606:4700:4700::1111", false}, {"::ffff:8.8.8.8", false},
	} {
		if got := blockedAddr(netip.MustParseAddr(tc.addr)); got != tc.blocked {
			t.Errorf("blockedAddr(%s) = %v; want %v", tc.addr, got, tc.blocked)
		}
	}
}

// An allowed prefix written IPv4-mapped allows the IPv4 addresses it
// carries, as the guard judges mapped addresses by them.
func TestGuardAllowsMappedPrefix(t *testing.T) {
	var c config
	if err := WithBlockPrivateAddresses(netip.MustParsePrefix("::ffff:10.0.0.0/104"))(&c); err != nil {
		t.Fatal(err)
	}
	control := guardControl(c.allow)
	if err := control("tcp4", "10.1.2.3:80", nil); err != nil {
		t.Errorf("10.1.2.3 under an allowed ::ffff:10.0.0.0/104: %v", err)
	}
	if err := control("tcp4", "192.168.0.1:80", nil); err == nil {
		t.Errorf("192.168.0.1 was let through")
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

// The guard sees only the address it dials, which through a proxy is the
// proxy's; so a guarded Fetcher refuses to send anything through one. This
// test sets HTTP_PROXY and HTTPS_PROXY as a user would, in a child process,
// since http.ProxyFromEnvironment reads the environment once per process.
// The proxy is on an allowed address, so only the proxy check stops it.
func TestGuardRefusesEnvironmentProxy(t *testing.T) {
	if os.Getenv("FETCH_TEST_PROXY_CHILD") != "" {
		guardProxyChild(t)
		return
	}
	var (
		mu   sync.Mutex
		seen []string
	)
	proxy, _ := countingServer(t, "127.0.0.2:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.RequestURI)
		mu.Unlock()
		io.WriteString(w, "proxied")
	}))
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestGuardRefusesEnvironmentProxy$", "-test.count=1")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasSuffix(strings.ToUpper(k), "_PROXY") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "FETCH_TEST_PROXY_CHILD=1", "HTTP_PROXY="+proxy.URL, "HTTPS_PROXY="+proxy.URL)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("child: %v\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	// Only the unguarded Fetcher's request, which shows the proxy was in use.
	if want := []string{"GET http://169.254.169.254/unguarded"}; !slices.Equal(seen, want) {
		t.Errorf("proxy was asked for %q; want %q", seen, want)
	}
}

// guardProxyChild is TestGuardRefusesEnvironmentProxy in the child process,
// whose environment names the proxy.
func guardProxyChild(t *testing.T) {
	probe := httptest.NewRequest("GET", "http://169.254.169.254/", nil)
	proxied, err := http.ProxyFromEnvironment(probe)
	if proxied == nil || err != nil {
		t.Fatalf("ProxyFromEnvironment = %v, %v; want the test's proxy", proxied, err)
	}
	// Allow the proxy's address, as a user of an internal proxy would.
	f, err := New(WithBlockPrivateAddresses(netip.PrefixFrom(netip.MustParseAddr(proxied.Hostname()), 32)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(t.Context())
	for _, u := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"https://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/",
		"http://example.com/", // public or not, the guard cannot tell through a proxy
		"http://127.0.0.1:1/", // never proxied; refused at dial time
	} {
		_, err := f.Get(t.Context(), u)
		var fe *Error
		if !errors.Is(err, ErrBlockedAddress) || !errors.As(err, &fe) || fe.Attempts != 1 {
			t.Errorf("Get %s: err = %v; want ErrBlockedAddress after 1 attempt", u, err)
		}
	}

	unguarded, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer unguarded.Shutdown(t.Context())
	if body, err := unguarded.Get(t.Context(), "http://169.254.169.254/unguarded"); err != nil || string(body) != "proxied" {
		t.Errorf("unguarded Get = %q, %v; want %q through the proxy", body, err, "proxied")
	}
}

// A Proxy function may send any target through a proxy, loopback included
// (http.ProxyFromEnvironment does not, but another might): guardProxy
// refuses them all, and passes on the function's "direct" and its errors.
func TestGuardProxy(t *testing.T) {
	proxyURL, _ := url.Parse("http://user:secret@proxy.example:3128")
	always := guardProxy(http.ProxyURL(proxyURL))
	for _, target := range []string{"http://127.0.0.1/", "http://[::1]:8080/", "http://169.254.169.254/latest/meta-data/", "https://example.com/"} {
		req := httptest.NewRequest("GET", target, nil)
		u, err := always(req)
		if u != nil || !errors.Is(err, ErrBlockedAddress) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: got = %v, %v; want ErrBlockedAddress, without the proxy's password", target, u, err)
		}
	}
	req := httptest.NewRequest("GET", "http://127.0.0.1/", nil)
	if u, err := guardProxy(func(*http.Request) (*url.URL, error) { return nil, nil })(req); u != nil || err != nil {
		t.Errorf("direct: got = %v, %v; want nil, nil", u, err)
	}
	bad := errors.New("bad proxy setting")
	if _, err := guardProxy(func(*http.Request) (*url.URL, error) { return nil, bad })(req); err != bad {
		t.Errorf("Proxy error: got = %v; want %v", err, bad)
	}
	if guardProxy(nil) != nil {
		t.Errorf("guardProxy(nil) != nil; want nil (no proxy)")
	}
}
