package fetch

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
)

// A request sent through a proxy with a Host other than its URL's comes
// back with the caller's request as resp.Request, as net/http's does: not
// the copy proxyRoute sends (an opaque URL, against which a link
// "?page=2" resolves to no host at all, and the default
// Proxy-Authorization in its header).
func TestProxyRouteResponseRequestIsCallers(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(proxy.Close)
	pu, _ := url.Parse(proxy.URL)
	f := newFetcher(t, WithProxy(http.ProxyURL(pu)), WithHeader("Host", "b.test"), WithHeader("Proxy-Authorization", "Basic eA=="))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://a.test/x?q=1", nil)
	resp, err := f.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u := resp.Request.URL
	if u.Opaque != "" {
		t.Errorf("resp.Request.URL.Opaque = %q; want \"\"", u.Opaque)
	}
	if next, err := u.Parse("?page=2"); err != nil || next.Host != "a.test" {
		t.Errorf("resp.Request.URL.Parse(\"?page=2\") = %v, %v; want host a.test", next, err)
	}
	if v := resp.Request.Header.Values("Proxy-Authorization"); len(v) != 0 {
		t.Errorf("resp.Request carries Proxy-Authorization %q; want none", v)
	}
	r := f.Fetch(t.Context(), "http://a.test/x?q=1")
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if next, err := r.final.Parse("#top"); err != nil || next.Host != "a.test" {
		t.Errorf("a link #top on the page resolves to %v, %v; want host a.test", next, err)
	}
}

// net/http opens a tunnel at a 200 to CONNECT alone: a proxy's other 2xx
// is a refusal too, and reported as one, a *ProxyConnectError, as the
// doc of ProxyConnectError says, not as net/http's bare status text.
func TestProxyConnectOther2xxIsRefusal(t *testing.T) {
	ps := httptest.NewServer(&tunnelProxy{refuse: []int{http.StatusAccepted}})
	t.Cleanup(ps.Close)
	pu, _ := url.Parse(ps.URL)
	f := newFetcher(t, WithProxy(http.ProxyURL(pu)), WithRetry(RetryPolicy{MaxAttempts: 1}))
	_, err := f.Get(t.Context(), "https://a.test/")
	if pe, ok := errors.AsType[*ProxyConnectError](err); !ok || pe.StatusCode != http.StatusAccepted {
		t.Errorf("err = %v; want a *ProxyConnectError with status 202", err)
	}
}

// socksProxy is a SOCKS5 proxy, without authentication, that connects
// every CONNECT command to target, whatever address it names.
func socksProxy(t *testing.T, target string) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { serveSOCKS(conn, target) })
		}
	})
	return &url.URL{Scheme: "socks5", Host: ln.Addr().String()}
}

func serveSOCKS(conn net.Conn, target string) {
	defer conn.Close()
	hello := make([]byte, 2)
	if _, err := io.ReadFull(conn, hello); err != nil {
		return
	}
	if _, err := io.ReadFull(conn, make([]byte, hello[1])); err != nil {
		return
	}
	conn.Write([]byte{5, 0}) // no authentication
	head := make([]byte, 4)  // VER CMD RSV ATYP
	if _, err := io.ReadFull(conn, head); err != nil {
		return
	}
	var addr int
	switch head[3] {
	case 1:
		addr = 4
	case 4:
		addr = 16
	case 3:
		n := make([]byte, 1)
		if _, err := io.ReadFull(conn, n); err != nil {
			return
		}
		addr = int(n[0])
	}
	if _, err := io.ReadFull(conn, make([]byte, addr+2)); err != nil {
		return
	}
	up, err := net.Dial("tcp", target)
	if err != nil {
		conn.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	defer up.Close()
	conn.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	go func() { io.Copy(up, conn); up.Close() }()
	io.Copy(conn, up)
}

// A SOCKS proxy sees no HTTP: a request through it goes to its server as
// a direct one does, with its own Host in its request line's place, and
// without the default Proxy-Authorization, which is for an HTTP proxy and
// would otherwise reach the server.
func TestSOCKSProxyGetsNoHTTPProxyForm(t *testing.T) {
	type seen struct{ host, uri, auth string }
	got := make(chan seen, 2)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Host, r.RequestURI, r.Header.Get("Proxy-Authorization")}
	}))
	t.Cleanup(origin.Close)
	pu := socksProxy(t, origin.Listener.Addr().String())
	f := newFetcher(t, WithProxy(http.ProxyURL(pu)), WithHeader("Proxy-Authorization", "Basic eA=="))
	if _, err := f.Get(t.Context(), "http://a.test/x?q=1", Header("Host", "b.test")); err != nil {
		t.Fatal(err)
	}
	if s, want := <-got, (seen{"b.test", "/x?q=1", ""}); s != want {
		t.Errorf("the server saw Host %q, request line %q, Proxy-Authorization %q; want %q, %q, none", s.host, s.uri, s.auth, want.host, want.uri)
	}
}

// A token fetched through the same Fetcher under the context
// WithBearerTokenFunc's function is given is a call of its own: the
// MaxBodySize applied to the request that asked does not cap its body.
func TestTokenCallKeepsNoBodyCapOfTheAskingRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			io.WriteString(w, "a-token-longer-than-ten-bytes")
			return
		}
		if r.Header.Get("Authorization") != "Bearer a-token-longer-than-ten-bytes" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	var f *Fetcher
	f = newFetcher(t, WithBearerTokenFunc(func(ctx context.Context) (string, error) {
		b, err := f.Get(ctx, srv.URL+"/token", Header("Authorization", "Basic Y2xpZW50OnNlY3JldA=="))
		return string(b), err
	}))
	if _, err := f.Get(t.Context(), srv.URL+"/api", MaxBodySize(10)); err != nil {
		t.Errorf("Get with MaxBodySize(10): %v; want the token fetched whole, and nil", err)
	}

	// Nor does the Header("Host", its URL's host) of the asking request
	// keep the Fetcher's default Host from the token's.
	tokenHost := make(chan string, 1)
	vhost := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			tokenHost <- r.Host
			io.WriteString(w, "tok")
		}
	}))
	t.Cleanup(vhost.Close)
	u, _ := url.Parse(vhost.URL)
	f = newFetcher(t, WithHeader("Host", "vhost.test"), WithBearerTokenFunc(func(ctx context.Context) (string, error) {
		b, err := f.Get(ctx, vhost.URL+"/token", Header("Authorization", "Basic Y2xpZW50OnNlY3JldA=="))
		return string(b), err
	}))
	if _, err := f.Get(t.Context(), vhost.URL+"/api", Header("Host", u.Host)); err != nil {
		t.Fatal(err)
	}
	if h := <-tokenHost; h != "vhost.test" {
		t.Errorf("the token was asked for with Host %q; want the default, vhost.test", h)
	}
}
