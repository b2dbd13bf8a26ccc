package otelfetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/c989c033/fetch"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestErrorType(t *testing.T) {
	wrap := func(err error) error {
		return &fetch.Error{Method: "GET", URL: "http://a.test/", Attempts: 2, Err: err}
	}
	status := func(code int) error { return &fetch.StatusError{StatusCode: code} }
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		err     error
		status  int
		want    string // errorType
		outcome string
	}{
		{nil, 200, "", "ok"},
		{nil, 302, "", "ok"},
		{nil, 404, "404", "ok"},
		{wrap(status(503)), 503, "503", "status"},
		{wrap(status(404)), 0, "404", "status"},
		{wrap(&url.Error{Op: "Get", URL: "http://a.test/", Err: refused}), 0, "connection_refused", "connection_refused"},
		{wrap(fmt.Errorf("reading body: %w", io.ErrUnexpectedEOF)), 0, "connection_reset", "connection_reset"},
		{wrap(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), 0, "connection_reset", "connection_reset"},
		{wrap(&net.DNSError{Err: "no such host", Name: "a.test", IsNotFound: true}), 0, "dns", "dns"},
		{wrap(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), 0, "tls", "tls"},
		{wrap(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), 0, "tls", "tls"},
		{wrap(&url.Error{Op: "Get", Err: timeoutErr{}}), 0, "timeout", "timeout"},
		{wrap(fmt.Errorf("x: %w", fetch.ErrAttemptTimeout)), 0, "attempt_timeout", "attempt_timeout"},
		{wrap(errors.Join(fetch.ErrAttemptTimeout, context.DeadlineExceeded)), 0, "attempt_timeout", "attempt_timeout"},
		{wrap(context.DeadlineExceeded), 0, "deadline", "deadline"},
		{wrap(fmt.Errorf("waiting 1s to retry: %w", context.Canceled)), 0, "canceled", "canceled"},
		{wrap(&fetch.RetryAfterError{Err: status(503)}), 503, "retry_after_past_deadline", "retry_after_past_deadline"},
		{wrap(&fetch.RetryAfterError{Max: time.Minute, Err: status(429)}), 429, "retry_after_too_long", "retry_after_too_long"},
		{wrap(&fetch.RetryBudgetError{Err: status(503)}), 503, "retry_budget", "retry_budget"},
		{wrap(&fetch.CircuitOpenError{Host: "a.test", Err: status(503)}), 503, "circuit_open", "circuit_open"},
		{wrap(fetch.ErrBodyTooLarge), 200, "body_too_large", "body_too_large"},
		{wrap(fetch.ErrHeaderTooLarge), 0, "header_too_large", "header_too_large"},
		{wrap(fetch.ErrTooManyRedirects), 0, "too_many_redirects", "too_many_redirects"},
		{wrap(fetch.ErrBlockedAddress), 0, "blocked_address", "blocked_address"},
		{wrap(fetch.ErrLimiterUnavailable), 0, "limiter_unavailable", "limiter_unavailable"},
		{wrap(fetch.ErrClosed), 0, "closed", "closed"},
		{wrap(fetch.ErrInvalidURL), 0, "invalid_url", "invalid_url"},
		{wrap(fmt.Errorf("hook: %w", &fetch.PanicError{Value: "boom"})), 0, "panic", "panic"},
		{wrap(errors.New("something else")), 0, "_OTHER", "_OTHER"},
	}
	for _, tt := range tests {
		if got := errorType(tt.status, tt.err); got != tt.want {
			t.Errorf("errorType(%d, %v) = %q; want %q", tt.status, tt.err, got, tt.want)
		}
		if got := outcome(tt.err); got != tt.outcome {
			t.Errorf("outcome(%v) = %q; want %q", tt.err, got, tt.outcome)
		}
	}
}

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{0: "none", 101: "1xx", 200: "2xx", 204: "2xx", 304: "3xx", 404: "4xx", 503: "5xx", 600: "none"} {
		if got := statusClass(status); got != want {
			t.Errorf("statusClass(%d) = %q; want %q", status, got, want)
		}
	}
}

func TestServerAttrs(t *testing.T) {
	tests := []struct {
		host, scheme, address string
		port                  int64 // 0: none
	}{
		{"a.test", "https", "a.test", 443},
		{"a.test", "http", "a.test", 80},
		{"a.test", "", "a.test", 0},
		{"a.test:8080", "https", "a.test", 8080},
		{"127.0.0.1:9000", "", "127.0.0.1", 9000},
		{"[::1]:8443", "https", "::1", 8443},
		{"[::1]", "http", "::1", 80},
	}
	for _, tt := range tests {
		kvs := serverAttrs(tt.host, tt.scheme)
		var address string
		var port int64
		for _, kv := range kvs {
			switch kv.Key {
			case "server.address":
				address = kv.Value.AsString()
			case "server.port":
				port = kv.Value.AsInt64()
			}
		}
		if address != tt.address || port != tt.port {
			t.Errorf("serverAttrs(%q, %q) = %v; want address %q, port %d", tt.host, tt.scheme, kvs, tt.address, tt.port)
		}
	}
}

func TestMethod(t *testing.T) {
	t.Setenv(knownMethodsEnv, "")
	for _, tt := range []struct {
		opts  []Option
		env   string
		known map[string]string // method: http.request.method
	}{
		{nil, "", map[string]string{"": "GET", "GET": "GET", "PATCH": "PATCH", "QUERY": "_OTHER", "PROPFIND": "_OTHER", "get": "_OTHER"}},
		{nil, " ", map[string]string{"GET": "GET", "TRACE": "TRACE", "PURGE": "_OTHER"}}, // blank: unset
		{nil, "GET, PURGE,,QUERY ", map[string]string{"": "GET", "GET": "GET", "PURGE": "PURGE", "QUERY": "QUERY", "POST": "_OTHER", "purge": "_OTHER"}},
		{[]Option{WithKnownMethods("PROPFIND", "GET")}, "", map[string]string{"PROPFIND": "PROPFIND", "GET": "GET", "HEAD": "_OTHER"}},
		{[]Option{WithKnownMethods("POST")}, "PURGE", map[string]string{"POST": "POST", "PURGE": "_OTHER", "GET": "_OTHER"}}, // the option wins
		{[]Option{WithKnownMethods()}, "GET", map[string]string{"GET": "_OTHER", "": "_OTHER"}},
	} {
		t.Setenv(knownMethodsEnv, tt.env)
		in := New(tt.opts...)
		for m, want := range tt.known {
			got, ok := in.method(&http.Request{Method: m})
			if got != want || ok != (want != "_OTHER") {
				t.Errorf("env %q, %d options: method(%q) = %q, %v; want %q", tt.env, len(tt.opts), m, got, ok, want)
			}
		}
	}
}

func TestProtocolVersion(t *testing.T) {
	for _, tt := range []struct {
		major, minor int
		want         string
	}{{1, 0, "1.0"}, {1, 1, "1.1"}, {2, 0, "2"}, {3, 0, "3"}, {0, 0, ""}} {
		if got := protocolVersion(&http.Response{ProtoMajor: tt.major, ProtoMinor: tt.minor}); got != tt.want {
			t.Errorf("protocolVersion(HTTP/%d.%d) = %q; want %q", tt.major, tt.minor, got, tt.want)
		}
	}
	if got := protocolVersion(nil); got != "" {
		t.Errorf("protocolVersion(nil) = %q; want none", got)
	}
}

func TestFullURL(t *testing.T) {
	tests := map[string]string{
		"https://a.test/x?q=1":                         "https://a.test/x?q=1",
		"https://user:pass@a.test/x":                   "https://REDACTED:REDACTED@a.test/x",
		"https://user@a.test/x":                        "https://REDACTED:REDACTED@a.test/x",
		"https://a.test/x?sig=abc&q=1":                 "https://a.test/x?sig=REDACTED&q=1",
		"https://a.test/x?X-Goog-Signature=abc&b=2":    "https://a.test/x?X-Goog-Signature=REDACTED&b=2",
		"https://a.test/x?AWSAccessKeyId=k&Signature=": "https://a.test/x?AWSAccessKeyId=REDACTED&Signature=REDACTED",
		// semconv 1.43's list, the key kept, the rest of the query as sent.
		"https://b.test/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=C%2F1&X-Amz-Security-Token=T&X-Amz-Signature=S": "https://b.test/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED",
		"https://a.test/p?z=1&flag&a=2;b=3&sig=S1&sig=S2":                                                                   "https://a.test/p?z=1&flag&a=2;b=3&sig=REDACTED&sig=REDACTED",
		"https://a.test/p?sig&b=+x%20y&sig=#f":                                                                              "https://a.test/p?sig&b=+x%20y&sig=REDACTED#f", // no '=': no value to hide
		"https://a.test/p?x-amz-signature=S&SIG=S&q=sig=1":                                                                  "https://a.test/p?x-amz-signature=REDACTED&SIG=REDACTED&q=sig=1",
		"https://a.test/p?q=1;sig=S&X%2DAmz%2DSignature=S":                                                                  "https://a.test/p?q=1;sig=REDACTED&X%2DAmz%2DSignature=REDACTED",
		"https://a.test/p?notsig=S&sigs=S":                                                                                  "https://a.test/p?notsig=S&sigs=S",
	}
	for in, want := range tests {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := fullURL(u); got != want {
			t.Errorf("fullURL(%s) = %s; want %s", in, got, want)
		}
		if u.String() != in {
			t.Errorf("fullURL changed its argument to %s", u)
		}
	}
}

func TestDescription(t *testing.T) {
	wrap := func(err error) error {
		return &fetch.Error{Method: "GET", URL: "http://a.test/", Attempts: 1, Err: err}
	}
	tests := []struct {
		status int
		err    error
		want   string
	}{
		{404, nil, ""},
		{404, wrap(&fetch.StatusError{StatusCode: 404, Status: "404 Not Found"}), ""}, // the status code says it
		{0, wrap(&fetch.StatusError{StatusCode: 404, Status: "404 Not Found"}), "fetch: GET http://a.test/: status 404 Not Found"},
		{503, wrap(&fetch.RetryAfterError{Err: &fetch.StatusError{StatusCode: 503}}), ""}, // set below
		{0, &fetch.Error{Method: "GET", URL: "https://tok@a.test/x?sig=S&q=1", Err: errors.New("boom")},
			"fetch: GET https://REDACTED:REDACTED@a.test/x?sig=REDACTED&q=1: boom"},
		{0, &url.Error{Op: "Get", URL: "https://u:***@a.test/x?X-Amz-Credential=C;X-Amz-Security-Token=T", Err: errors.New("boom")},
			`Get "https://REDACTED:REDACTED@a.test/x?X-Amz-Credential=REDACTED;X-Amz-Security-Token=REDACTED": boom`},
		{0, errors.New("redirect to http://u:xxxxx@b.test/: from https://a.test/p@q and mailto:x@y.test"),
			"redirect to http://REDACTED:REDACTED@b.test/: from https://a.test/p@q and mailto:x@y.test"},
	}
	tests[3].want = tests[3].err.Error() // a Retry-After past the deadline: the status does not say why it was not retried
	for _, tt := range tests {
		if got := description(tt.status, tt.err); got != tt.want {
			t.Errorf("description(%d, %v) = %q; want %q", tt.status, tt.err, got, tt.want)
		}
	}
}

func TestAttemptServer(t *testing.T) {
	get := func(raw, host string) *http.Request {
		r, err := http.NewRequest(http.MethodGet, raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			r.Host = host
		}
		return r
	}
	tests := []struct {
		name string
		info fetch.AttemptInfo
		want string // address:port
	}{
		{"sent", fetch.AttemptInfo{Request: get("http://a.test/", ""), Host: "a.test", Status: 200}, "a.test:80"},
		{"host header", fetch.AttemptInfo{Request: get("http://10.0.0.1:8080/", "API.test"), Host: "10.0.0.1:8080", Err: errors.New("boom")}, "api.test:80"},
		{"host header with port", fetch.AttemptInfo{Request: get("https://10.0.0.1/", "api.test:8443"), Host: "10.0.0.1", Err: errors.New("boom")}, "api.test:8443"},
		{"redirect answered", fetch.AttemptInfo{Request: get("http://a.test/", "front.test"), Host: "b.test",
			Response: &http.Response{StatusCode: 200, Request: get("https://b.test/", "")}, Status: 200}, "b.test:443"},
		{"redirect failed", fetch.AttemptInfo{Request: get("http://a.test/", ""), Host: "b.test",
			Err: &url.Error{Op: "Get", URL: "https://b.test/", Err: errors.New("tls")}}, "b.test:443"},
		{"redirect to https on the same host failed", fetch.AttemptInfo{Request: get("http://a.test/", ""), Host: "a.test",
			Err: &url.Error{Op: "Get", URL: "https://a.test/y", Err: errors.New("tls")}}, "a.test:443"},
		{"redirect failed, Get's status", fetch.AttemptInfo{Request: get("http://a.test/", ""), Host: "b.test", Status: 404,
			Err: &fetch.StatusError{StatusCode: 404, URL: "https://b.test/"}}, "b.test:443"},
		{"redirect refused, named in the text", fetch.AttemptInfo{Request: get("http://a.test/", ""), Host: "b.test:8443",
			Err: fmt.Errorf("redirect to https://b.test:8443/x: %w", context.Canceled)}, "b.test:8443"},
		{"redirect refused, not named", fetch.AttemptInfo{Request: get("http://a.test/", "front.test"), Host: "b.test",
			Err: context.Canceled}, "b.test:80"},
		{"relative redirect kept the Host", fetch.AttemptInfo{Request: get("http://10.0.0.1/", "front.test"), Host: "10.0.0.1",
			Err: &url.Error{Op: "Get", URL: "http://10.0.0.1/y", Err: errors.New("boom")}}, "front.test:80"},
	}
	for _, tt := range tests {
		var address string
		var port int64
		for _, kv := range attemptServer(tt.info) {
			switch kv.Key {
			case "server.address":
				address = kv.Value.AsString()
			case "server.port":
				port = kv.Value.AsInt64()
			}
		}
		if got := address + ":" + strconv.FormatInt(port, 10); got != tt.want {
			t.Errorf("%s: server %s; want %s", tt.name, got, tt.want)
		}
	}
}

// The instrumentation scope carries the module's version as the program
// was built with it, so that a dashboard can tell which version recorded a
// series; none when the build does not say.
func TestModuleVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, ""},
		{"a dependency", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app"}, Deps: []*debug.Module{{Path: "github.com/c989c033/fetch", Version: "v0.3.0"}, {Path: ScopeName, Version: "v0.2.1"}}}, "v0.2.1"},
		{"replaced", &debug.BuildInfo{Deps: []*debug.Module{{Path: ScopeName, Version: "v0.2.1", Replace: &debug.Module{Path: "example.com/fork", Version: "v0.2.2"}}}}, "v0.2.2"},
		{"its own tree", &debug.BuildInfo{Main: debug.Module{Path: ScopeName, Version: "(devel)"}}, ""},
		{"absent", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app"}}, ""},
	} {
		if got := moduleVersion(tc.bi); got != tc.want {
			t.Errorf("%s: %q; want %q", tc.name, got, tc.want)
		}
	}
}
