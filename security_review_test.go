package fetch

// From a security review (before fetching user-supplied URLs in a
// multi-tenant service). Each test pins one finding, and failed before its
// fix (the last, before SECURITY.md was corrected). Loopback servers only;
// no wall-clock sleeps.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
)

// secRevRecorder is a loopback server on addr that records the headers of
// every request it gets, and answers with handler h (200 "ok" if nil).
type secRevRecorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []http.Header
	path []string
}

func secRevServe(t *testing.T, addr string, tlsOn bool, h http.HandlerFunc) *secRevRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	r := &secRevRecorder{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen = append(r.seen, req.Header.Clone())
		r.path = append(r.path, req.URL.Path)
		r.mu.Unlock()
		if h != nil {
			h(w, req)
			return
		}
		w.Write([]byte("ok"))
	}))
	srv.Listener.Close()
	srv.Listener = ln
	if tlsOn {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	r.Server = srv
	return r
}

func (r *secRevRecorder) headers() []http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header(nil), r.seen...)
}

func secRevNew(t *testing.T, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(append([]Option{WithRetry(RetryPolicy{MaxAttempts: 1})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

// Threat: the service calls a partner API with an API key set the way
// WithHeader's documentation suggests ("a User-Agent, an API key"):
// WithHeader("X-Api-Key", key). The API (or an open redirect on it, or a
// user-supplied URL fetched by the same Fetcher) answers 302 to a host the
// attacker controls. net/http copies every header of the first request to
// every hop except its short list of sensitive ones, so the key goes to
// the attacker. Expected: a default credential header is not sent to a
// redirect's other host (or WithHeader offers a way to mark it sensitive
// and the docs say custom headers follow redirects everywhere).
func TestSecurityReviewAPIKeyHeaderFollowsCrossHostRedirect(t *testing.T) {
	const secret = "tenant-api-key-s3cret"
	attacker := secRevServe(t, "127.0.0.2:0", false, nil)
	api := secRevServe(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, attacker.URL+"/collect", http.StatusFound)
	})
	f := secRevNew(t, WithHeader("X-Api-Key", secret))
	if _, err := f.Get(t.Context(), api.URL+"/v1/thing"); err != nil {
		t.Fatal(err)
	}
	for _, h := range attacker.headers() {
		if h.Get("X-Api-Key") == secret {
			t.Errorf("redirect to another host (%s) received the Fetcher's X-Api-Key default header", attacker.URL)
		}
	}
}

// Threat: redirectFixes drops Authorization and Cookie on a redirect from
// https to http, "which would send a bearer token or a session cookie in
// clear text" (redirect.go). The same API key given with WithHeader is
// sent in clear text on the http hop, to the same host. Expected: no
// credential set through WithHeader crosses from https to http.
func TestSecurityReviewAPIKeyHeaderSentInClearAfterHTTPSToHTTP(t *testing.T) {
	const secret = "tenant-api-key-s3cret"
	plain := secRevServe(t, "127.0.0.1:0", false, nil)
	secure := secRevServe(t, "127.0.0.1:0", true, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/downgraded", http.StatusFound)
	})
	pool := x509.NewCertPool()
	pool.AddCert(secure.Certificate())
	f := secRevNew(t, WithHeader("X-Api-Key", secret), WithBearerToken("bearer-s3cret"),
		WithTLSConfig(&tls.Config{RootCAs: pool}))
	if _, err := f.Get(t.Context(), secure.URL+"/start"); err != nil {
		t.Fatal(err)
	}
	hs := plain.headers()
	if len(hs) == 0 {
		t.Fatal("the http hop was not sent")
	}
	for _, h := range hs {
		if h.Get("Authorization") != "" {
			t.Errorf("Authorization sent over http after https: %q", h.Get("Authorization"))
		}
		if h.Get("X-Api-Key") == secret {
			t.Error("X-Api-Key default header sent in clear text over http after a redirect from https")
		}
	}
}

// README.md said of WithHeader/WithBearerToken/WithBasicAuth that
// "Authorization and Cookie are not forwarded to a redirect's other host",
// while net/http compares host names without their ports (Go issue 35104).
// The Fetcher's default credentials follow net/http's rule, which the
// README and SECURITY.md now state: another port of the same host name
// gets them, another domain does not.
func TestSecurityReviewDefaultCredentialsFollowNetHTTPDomainRule(t *testing.T) {
	other := secRevServe(t, "127.0.0.1:0", false, nil)
	first := secRevServe(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/x", http.StatusFound)
	})
	f := secRevNew(t, WithBearerToken("s3cret"), WithHeader("X-Api-Key", "k"))
	if _, err := f.Get(t.Context(), first.URL+"/"); err != nil {
		t.Fatal(err)
	}
	for _, h := range other.headers() {
		if h.Get("Authorization") != "Bearer s3cret" || h.Get("X-Api-Key") != "k" {
			t.Errorf("redirect to another port of the same host name got Authorization %q, X-Api-Key %q; want both, as net/http sends Authorization", h.Get("Authorization"), h.Get("X-Api-Key"))
		}
	}
}

// Threat: README.md promises a crawl's robots.txt is fetched "without the
// Fetcher's credentials", and loadRobots removes only credentialHeaders
// (crawlrobots.go): Authorization, Cookie and the like. An API key given
// with WithHeader goes with every robots.txt request, to every host the
// crawl reaches, including hosts only a redirect led to. Expected: a
// robots.txt request carries none of the Fetcher's default credential
// headers.
func TestSecurityReviewRobotsTxtCarriesCustomCredentialHeader(t *testing.T) {
	const secret = "tenant-api-key-s3cret"
	site := secRevServe(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			w.Write([]byte("User-agent: *\nAllow: /\n"))
			return
		}
		w.Write([]byte("<html><title>x</title></html>"))
	})
	f := secRevNew(t, WithHeader("X-Api-Key", secret), WithBearerToken("bearer-s3cret"))
	c, err := NewCrawler(f)
	if err != nil {
		t.Fatal(err)
	}
	for p := range c.Run(t.Context(), site.URL+"/") {
		if p.Err != nil {
			t.Fatal(p.Err)
		}
	}
	site.mu.Lock()
	defer site.mu.Unlock()
	robots := false
	for i, p := range site.path {
		if p != "/robots.txt" {
			continue
		}
		robots = true
		if site.seen[i].Get("Authorization") != "" {
			t.Error("robots.txt request carried Authorization")
		}
		if site.seen[i].Get("X-Api-Key") == secret {
			t.Error("robots.txt request carried the Fetcher's X-Api-Key default header")
		}
	}
	if !robots {
		t.Fatal("robots.txt was not fetched")
	}
}

// Threat: SECURITY.md counts "a URL's password appearing in an error, a
// Result or a log line" as a vulnerability. When a redirect is refused
// (to another scheme, or past the limit), net/http returns a *url.Error
// whose URL is the raw Location header (client.go: ue.URL = loc), password
// and all. Fetcher's *Error hides it, but WithLogger logs the attempt's
// raw error (observe.go, slog.Any("error", o.err), and the "fetch:
// failed" line), so the password reaches the log unredacted. Expected: no
// password in a debug log line.
func TestSecurityReviewLoggerShowsPasswordOfRefusedRedirect(t *testing.T) {
	const pw = "hunter2pw"
	var mu sync.Mutex
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&secRevLocked{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := secRevServe(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "ftp://user:"+pw+"@files.example/")
		w.WriteHeader(http.StatusFound)
	})
	f := secRevNew(t, WithLogger(logger))
	r := f.Fetch(t.Context(), srv.URL+"/")
	if !errors.Is(r.Err, ErrTooManyRedirects) {
		t.Fatalf("err = %v; want ErrTooManyRedirects", r.Err)
	}
	if strings.Contains(r.Err.Error(), pw) {
		t.Errorf("Result.Err shows the password: %v", r.Err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(buf.String(), pw) {
		t.Errorf("debug log shows the password of the refused redirect's URL:\n%s", buf.String())
	}
}

type secRevLocked struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *secRevLocked) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Threat: a crawled host's robots.txt says "Crawl-delay: 1000000000"
// (31 years). The delay is not capped (internal/robots parseDelay caps it
// only at the largest time.Duration; crawlrobots.go setDelay uses it as
// is), so every other URL of that host waits decades for its turn: with no
// deadline the crawl never ends, and with one every such URL fails at
// once. A server's Retry-After is bounded by MaxRetryAfter (5 minutes);
// its Crawl-delay should be too. Expected: a crawl of two pages on such a
// host ends, both fetched, within a bounded (fake) time. Runs in a
// synctest bubble, so the fake clock stands in for waiting.
func TestSecurityReviewCrawlDelayUnbounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/robots.txt":
				fmt.Fprint(w, "User-agent: *\nCrawl-delay: 1000000000\n")
			case "/":
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, `<html><a href="/b">b</a></html>`)
			default:
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, `<html>b</html>`)
			}
		})
		f, err := New(WithClient(memhttp.Client(h)), WithRetry(RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		c, err := NewCrawler(f)
		if err != nil {
			t.Fatal(err)
		}
		// A generous bound: an hour of fake time for two pages.
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		got := map[string]error{}
		for p := range c.Run(ctx, "http://victim.test/") {
			got[p.URL] = p.Err
			if p.Err == nil {
				p.Follow(p.Links()...)
			}
		}
		for _, u := range []string{"http://victim.test/", "http://victim.test/b"} {
			if err, ok := got[u]; !ok || err != nil {
				t.Errorf("page %s: %v (yielded %v); want it fetched: robots.txt's Crawl-delay of 31 years holds the host's URLs", u, err, ok)
			}
		}
	})
}

// Threat: a malicious server answers with an endless or decompression-bomb
// body. WithMaxBodySize must hold on every call path that reads the body
// for the caller: Get, Fetch, GetJSON, Handle, GetAll, and a crawl's
// pages. This pins the behaviour (it passes): each fails with
// ErrBodyTooLarge, after decompression, without reading the whole body.
func TestSecurityReviewBodyCapOnEveryPath(t *testing.T) {
	const limit = 64 << 10
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write([]byte{'"'})                       // a JSON string, so that GetJSON reads on
	zw.Write(bytes.Repeat([]byte("a"), 64<<20)) // 64 MiB: ~64 KiB compressed
	zw.Close()
	srv := secRevServe(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			w.WriteHeader(404)
		case "/gzip", "/gzip.json":
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Type", "text/html")
			w.Write(bomb.Bytes())
		default: // endless, no Content-Length
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte{'"'}) // a JSON string, so that GetJSON reads on
			chunk := bytes.Repeat([]byte("a"), 32<<10)
			for i := 0; i < 64<<10; i++ { // up to 2 GiB, until the client goes
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}
	})
	f := secRevNew(t, WithMaxBodySize(limit))
	for _, path := range []string{"/endless", "/gzip"} {
		u := srv.URL + path
		if _, err := f.Get(t.Context(), u); !errors.Is(err, ErrBodyTooLarge) {
			t.Errorf("Get %s: %v; want ErrBodyTooLarge", path, err)
		}
		if r := f.Fetch(t.Context(), u); !errors.Is(r.Err, ErrBodyTooLarge) || len(r.Body) > limit {
			t.Errorf("Fetch %s: %v, %d bytes; want ErrBodyTooLarge", path, r.Err, len(r.Body))
		}
		if _, err := GetJSON[any](t.Context(), f, u); !errors.Is(err, ErrBodyTooLarge) {
			t.Errorf("GetJSON %s: %v; want ErrBodyTooLarge", path, err)
		}
		for _, r := range f.GetAll(t.Context(), []string{u}) {
			if !errors.Is(r.Err, ErrBodyTooLarge) {
				t.Errorf("GetAll %s: %v; want ErrBodyTooLarge", path, r.Err)
			}
		}
		in := func(yield func(string) bool) { yield(u) }
		newReq := func(ctx context.Context, s string) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, s, nil)
		}
		for h := range Handle(t.Context(), f, in, newReq, func(s string, resp *http.Response) (int64, error) {
			return io.Copy(io.Discard, resp.Body)
		}) {
			if !errors.Is(h.Err, ErrBodyTooLarge) {
				t.Errorf("Handle %s: %v; want ErrBodyTooLarge", path, h.Err)
			}
		}
		c, err := NewCrawler(f)
		if err != nil {
			t.Fatal(err)
		}
		for p := range c.Run(t.Context(), u) {
			if !errors.Is(p.Err, ErrBodyTooLarge) {
				t.Errorf("Crawl %s: %v; want ErrBodyTooLarge", path, p.Err)
			}
		}
	}
}

// SECURITY.md said Retry-After waits were clamped to the policy's maximum
// delay; they are waited out in full up to MaxRetryAfter, and one past it
// fails at once with a *RetryAfterError, as README.md says and SECURITY.md
// now says too. Here the policy's maximum delay is 1 ms and the server asks
// for an hour.
func TestSecurityReviewRetryAfterPastMaxRetryAfterFails(t *testing.T) {
	var n int
	var mu sync.Mutex
	srv := secRevServe(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	})
	f := secRevNew(t, WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	_, err := f.Get(t.Context(), srv.URL+"/")
	var ra *RetryAfterError
	if !errors.As(err, &ra) || ra.Max != 5*time.Minute {
		t.Errorf("Get: %v; want a *RetryAfterError with Max 5m, the default MaxRetryAfter", err)
	}
}
