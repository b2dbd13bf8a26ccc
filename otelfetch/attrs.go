package otelfetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/c989c033/fetch"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Attribute keys of our own, in the fetch namespace.
const (
	statusClassKey = attribute.Key("fetch.status_class")
	outcomeKey     = attribute.Key("fetch.outcome")
	attemptKey     = attribute.Key("fetch.attempt")
	attemptsKey    = attribute.Key("fetch.attempts")
	gateWaitKey    = attribute.Key("fetch.gate.wait")
	retryDelayKey  = attribute.Key("fetch.retry.delay")
)

// errorType is the error.type of an outcome: the status code for a status
// of 400 or more, the kind of err otherwise; "" for a success.
func errorType(status int, err error) string {
	if err != nil {
		if k := kind(err); k != "status" {
			return k
		}
		var se *fetch.StatusError
		errors.As(err, &se)
		status = se.StatusCode
	}
	if status >= 400 {
		return strconv.Itoa(status)
	}
	return ""
}

// outcome is a call's fetch.outcome: "ok" for no error, its kind otherwise.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	return kind(err)
}

// kind names what kind of error err is, from a small fixed set (see the
// package documentation); "status" for a [*fetch.StatusError]. The checks
// go from the errors that wrap others (a retry budget refusal wraps the
// last attempt's error) to the causes.
func kind(err error) string {
	var (
		panicErr  *fetch.PanicError
		budgetErr *fetch.RetryBudgetError
		afterErr  *fetch.RetryAfterError
		statusErr *fetch.StatusError
		dnsErr    *net.DNSError
		netErr    net.Error
	)
	switch {
	case errors.As(err, &panicErr):
		return "panic"
	case errors.Is(err, fetch.ErrClosed):
		return "closed"
	case errors.Is(err, fetch.ErrCircuitOpen): // before status: it wraps the failure that opened it
		return "circuit_open"
	case errors.Is(err, fetch.ErrInvalidURL):
		return "invalid_url"
	case errors.As(err, &budgetErr):
		return "retry_budget"
	case errors.As(err, &afterErr):
		return "retry_after_past_deadline"
	case errors.Is(err, fetch.ErrAttemptTimeout):
		return "attempt_timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.Is(err, fetch.ErrBodyTooLarge):
		return "body_too_large"
	case errors.Is(err, fetch.ErrHeaderTooLarge):
		return "header_too_large"
	case errors.Is(err, fetch.ErrTooManyRedirects):
		return "too_many_redirects"
	case errors.Is(err, fetch.ErrBlockedAddress):
		return "blocked_address"
	case errors.Is(err, fetch.ErrLimiterUnavailable):
		return "limiter_unavailable"
	case errors.As(err, &statusErr):
		return "status"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection_reset"
	case isTLS(err):
		return "tls"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	}
	return semconv.ErrorTypeOther.Value.AsString()
}

func isTLS(err error) bool {
	var (
		record  tls.RecordHeaderError
		alert   tls.AlertError
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		name    x509.HostnameError
		invalid x509.CertificateInvalidError
	)
	return errors.As(err, &record) || errors.As(err, &alert) || errors.As(err, &verify) ||
		errors.As(err, &unknown) || errors.As(err, &name) || errors.As(err, &invalid)
}

// statusClass is a final status's fetch.status_class.
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "none"
	}
	return strconv.Itoa(status/100) + "xx"
}

// serverAttrs returns server.address and server.port for host, a host key
// of the Fetcher (host:port, the port left out when it is the scheme's
// default). A missing port is the default of scheme, if scheme is http or
// https, and is otherwise left out.
func serverAttrs(host, scheme string) []attribute.KeyValue {
	name, port := host, 0
	if h, p, err := net.SplitHostPort(host); err == nil {
		name = h
		port, _ = strconv.Atoi(p)
	} else {
		name = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		switch strings.ToLower(scheme) {
		case "http":
			port = 80
		case "https":
			port = 443
		}
	}
	if port == 0 {
		return []attribute.KeyValue{semconv.ServerAddress(name)}
	}
	return []attribute.KeyValue{semconv.ServerAddress(name), semconv.ServerPort(port)}
}

// method is the request's http.request.method: one of the methods of RFC
// 9110 and RFC 5789, or _OTHER, with ok false, for any other.
func method(req *http.Request) (m string, ok bool) {
	switch m := req.Method; m {
	case "":
		return http.MethodGet, true
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m, true
	}
	return "_OTHER", false
}

// sensitiveParams are the query parameters whose values url.full must not
// show, as the semantic conventions list them.
var sensitiveParams = []string{"AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"}

// fullURL is u as url.full shows it: any user and password, and the values
// of sensitiveParams, replaced by REDACTED.
func fullURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.UserPassword("REDACTED", "REDACTED")
	}
	if c.RawQuery != "" {
		q := c.Query()
		redacted := false
		for _, k := range sensitiveParams {
			if q.Has(k) {
				q.Set(k, "REDACTED")
				redacted = true
			}
		}
		if redacted {
			c.RawQuery = q.Encode()
		}
	}
	return c.String()
}
