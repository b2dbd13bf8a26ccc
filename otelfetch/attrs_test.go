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
	"syscall"
	"testing"

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
	for in, want := range map[string]string{"": "GET", "GET": "GET", "PATCH": "PATCH", "PROPFIND": "_OTHER", "get": "_OTHER"} {
		if got, _ := method(&http.Request{Method: in}); got != want {
			t.Errorf("method(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestFullURL(t *testing.T) {
	tests := map[string]string{
		"https://a.test/x?q=1":                         "https://a.test/x?q=1",
		"https://user:pass@a.test/x":                   "https://REDACTED:REDACTED@a.test/x",
		"https://user@a.test/x":                        "https://REDACTED:REDACTED@a.test/x",
		"https://a.test/x?sig=abc&q=1":                 "https://a.test/x?q=1&sig=REDACTED",
		"https://a.test/x?X-Goog-Signature=abc&b=2":    "https://a.test/x?X-Goog-Signature=REDACTED&b=2",
		"https://a.test/x?AWSAccessKeyId=k&Signature=": "https://a.test/x?AWSAccessKeyId=REDACTED&Signature=REDACTED",
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
