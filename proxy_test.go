package fetch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// tunnelProxy is a loopback HTTP proxy that answers the CONNECTs it is
// sent with the statuses in refuse, in turn, then opens tunnels.
type tunnelProxy struct {
	mu       sync.Mutex
	refuse   []int
	connects int
}

func (p *tunnelProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.connects++
	var status int
	if len(p.refuse) > 0 {
		status, p.refuse = p.refuse[0], p.refuse[1:]
	}
	p.mu.Unlock()
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	if status != 0 {
		http.Error(w, "no", status)
		return
	}
	up, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		up.Close()
		return
	}
	// From buf, which may hold the start of the TLS handshake the client
	// sent as soon as it read the 200.
	go func() { io.Copy(up, buf); up.Close() }()
	io.Copy(conn, up)
	conn.Close()
}

// A proxy that will not open the tunnel to an https server, a 502 from a
// rotating proxy's exit, say, sent nothing to the server: the attempt is
// retried, a POST's too, and its error, a *ProxyConnectError, names the
// proxy and its answer (net/http said "Bad Gateway", as if the server had).
// A 407 is not retried: the same credentials would get the same answer.
func TestProxyConnectRefusal(t *testing.T) {
	var posts int
	var mu sync.Mutex
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posts++
		mu.Unlock()
		io.WriteString(w, "created")
	}))
	t.Cleanup(origin.Close)
	roots := x509.NewCertPool()
	roots.AddCert(origin.Certificate())
	for _, tc := range []struct {
		refuse          []int
		connects, sends int
		status          int // of the error; 0: none
	}{
		{[]int{502, 503}, 3, 1, 0},
		{[]int{407}, 1, 0, 407},
		{[]int{502, 502, 502}, 3, 0, 502},
	} {
		proxy := &tunnelProxy{refuse: tc.refuse}
		ps := httptest.NewServer(proxy)
		pu, _ := url.Parse(ps.URL)
		pu.User = url.UserPassword("u", "secret")
		f := newFetcher(t, WithProxy(http.ProxyURL(pu)), WithTLSConfig(&tls.Config{RootCAs: roots}),
			WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
		mu.Lock()
		posts = 0
		mu.Unlock()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, origin.URL+"/items", strings.NewReader("{}"))
		resp, err := f.Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		ps.Close()
		pe, isPCE := errors.AsType[*ProxyConnectError](err)
		switch {
		case tc.status == 0 && err != nil:
			t.Errorf("refused %v: %v; want the POST sent at the tunnel the proxy opened", tc.refuse, err)
		case tc.status != 0 && (!isPCE || pe.StatusCode != tc.status):
			t.Errorf("refused %v: err %v; want a *ProxyConnectError with status %d", tc.refuse, err, tc.status)
		case tc.status != 0 && (strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), pu.Host)):
			t.Errorf("refused %v: %q; want the proxy named, its password hidden", tc.refuse, err)
		}
		mu.Lock()
		if posts != tc.sends || proxy.connects != tc.connects {
			t.Errorf("refused %v: %d CONNECTs, %d POSTs; want %d and %d", tc.refuse, proxy.connects, posts, tc.connects, tc.sends)
		}
		mu.Unlock()
	}
}

// A request to an http URL through a proxy names its URL in the request
// line, whatever its Host (Header's, or WithHeader's): net/http wrote the
// absolute URL from the Host, so that the proxy fetched it from the
// Host's server, not the URL's; curl names the URL's host.
func TestProxyRequestLineNamesURLHost(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lines = append(lines, r.Method+" "+r.RequestURI)
		mu.Unlock()
	}))
	t.Cleanup(proxy.Close)
	pu, _ := url.Parse(proxy.URL)
	for _, f := range []*Fetcher{
		newFetcher(t, WithProxy(http.ProxyURL(pu)), WithHeader("Host", "b.test")),
		newFetcher(t, WithProxy(http.ProxyURL(pu)), WithHeader("Host", "b.test"), WithHeader("Proxy-Authorization", "Basic eA==")),
	} {
		if _, err := f.Get(t.Context(), "http://a.test/x?q=1"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Get(t.Context(), "http://a.test/y", Header("Host", "c.test")); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"GET http://a.test/x?q=1", "GET http://a.test/y", "GET http://a.test/x?q=1", "GET http://a.test/y"}
	if !slices.Equal(lines, want) {
		t.Errorf("the proxy was asked for %q; want %q", lines, want)
	}
}
