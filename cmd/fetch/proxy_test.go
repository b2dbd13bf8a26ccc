package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// proxyServer is an HTTP proxy that answers the requests sent through it
// itself, and records each one's absolute URL and Proxy-Authorization.
type proxyServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newProxyServer(t *testing.T) *proxyServer {
	p := &proxyServer{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.URL.String()+" "+r.Header.Get("Proxy-Authorization"))
		p.mu.Unlock()
		io.WriteString(w, "proxied")
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *proxyServer) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

// -x sends every request through the proxy, with or without a scheme, and
// its user and password as the proxy's credentials.
func TestProxyFlag(t *testing.T) {
	for _, tc := range []struct {
		name, value, auth string
	}{
		{"without a scheme", "", ""},
		{"with credentials", "http://user:pw@", "Basic dXNlcjpwdw=="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := newProxyServer(t)
			value := tc.value + strings.TrimPrefix(proxy.URL, "http://")
			code, out, stderr := runCmd(t, "", "-q", "-x", value, "http://target.invalid/x", "--proxy="+value, "http://other.invalid/y")
			recs := records(t, out)
			if code != exitOK {
				t.Errorf("exit %d: %s", code, stderr)
			}
			for _, u := range []string{"http://target.invalid/x", "http://other.invalid/y"} {
				if r := recs[u]; r.Status != 200 || r.Bytes != int64(len("proxied")) {
					t.Errorf("%s: record %+v; want status 200 from the proxy", u, r)
				}
			}
			got := proxy.requests()
			slices.Sort(got)
			want := []string{"GET http://other.invalid/y " + tc.auth, "GET http://target.invalid/x " + tc.auth}
			if !slices.Equal(got, want) {
				t.Errorf("the proxy got %q; want %q", got, want)
			}
		})
	}
}

// -x "" sends every request direct.
func TestProxyFlagNone(t *testing.T) {
	srv := readmeServer(t)
	code, out, stderr := runCmd(t, "", "-q", "-x", "", srv.URL+"/a")
	if r := records(t, out)[srv.URL+"/a"]; code != exitOK || r.Status != 200 {
		t.Errorf("-x \"\": exit %d, record %+v, stderr %q; want 0 and status 200", code, r, stderr)
	}
}

func TestParseProxy(t *testing.T) {
	for value, want := range map[string]string{
		"proxy.example":               "http://proxy.example:1080",
		"proxy.example:3128":          "http://proxy.example:3128",
		"HTTPS://proxy.example":       "https://proxy.example:443",
		"socks5h://u:p@10.0.0.1:9050": "socks5h://u:p@10.0.0.1:9050",
		"[::1]":                       "http://[::1]:1080",
	} {
		u, err := parseProxy(value)
		if err != nil || u.String() != want {
			t.Errorf("parseProxy(%q) = %v, %v; want %s", value, u, err, want)
		}
	}
}

// A value that cannot name a proxy is a usage error naming the flag, its
// password hidden.
func TestProxyFlagUsage(t *testing.T) {
	for value, want := range map[string]string{
		"http://user:hunter2@pro xy:8080": `fetch: -x/--proxy http://user:xxxxx@pro xy:8080: not a valid URL: invalid character " " in host name`,
		"user:hunter2@proxy:port":         `fetch: -x/--proxy http://user:xxxxx@proxy:port: not a valid URL: invalid port ":port" after host`,
		"ftp://user:hunter2@proxy":        `fetch: -x/--proxy ftp://user:xxxxx@proxy: scheme "ftp" not supported (http, https, socks5 or socks5h)`,
		"http://user:hunter2@:8080":       `fetch: -x/--proxy http://user:xxxxx@:8080: no host`,
	} {
		code, out, stderr := runCmd(t, "", "-q", "-x", value, "http://target.invalid/")
		if code != exitUsage || out != "" || stderr != want+"\n" {
			t.Errorf("-x %q: exit %d, stderr %q; want %d and %q", value, code, stderr, exitUsage, want)
		}
	}
}

// A proxy that refuses the connection fails the URL; its password is in
// no record or message.
func TestProxyFlagPasswordNotShown(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	addr := closed.Listener.Addr().String()
	closed.Close()
	code, out, stderr := runCmd(t, "", "--retries", "1", "-x", "http://user:hunter2@"+addr, "http://target.invalid/x")
	r := records(t, out)["http://target.invalid/x"]
	if code != 1 || r.ErrorKind != "connection_refused" || !strings.Contains(r.Error, "proxyconnect") || r.Attempts != 2 {
		t.Errorf("exit %d, record %+v; want 1 and the proxy's connection refused, twice", code, r)
	}
	if strings.Contains(out+stderr, "hunter2") {
		t.Errorf("the proxy's password is shown:\n%s\n%s", out, stderr)
	}
}
