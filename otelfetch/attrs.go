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
	"github.com/c989c033/fetch/internal/h2err"
	"github.com/c989c033/fetch/internal/hostkey"
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
		if afterErr.Max > 0 {
			return "retry_after_too_long"
		}
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
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		h2err.Reset(err): // HTTP/2's word for it: a stream the server reset
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
// default) or a Host header. A missing port is the default of scheme, if
// scheme is http or https, and is otherwise left out.
func serverAttrs(host, scheme string) []attribute.KeyValue {
	name, port := host, 0
	if h, p, err := net.SplitHostPort(host); err == nil {
		name = h
		port, _ = strconv.Atoi(p)
	} else {
		name = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		port = defaultPort(scheme)
	}
	if port == 0 {
		return []attribute.KeyValue{semconv.ServerAddress(name)}
	}
	return []attribute.KeyValue{semconv.ServerAddress(name), semconv.ServerPort(port)}
}

// defaultPort is the port of scheme, http or https; 0 for any other.
func defaultPort(scheme string) int {
	switch strings.ToLower(scheme) {
	case "http":
		return 80
	case "https":
		return 443
	}
	return 0
}

// requestServer returns server.address and server.port of a request to the
// Fetcher's host key host, over scheme, with Host field hostField and URL
// host urlHost: the Host header's when it overrides the URL's host (as
// [fetch.Header] and [fetch.WithHeader] do with "Host"), as the semantic
// conventions say, and otherwise host's.
func requestServer(host, scheme, hostField, urlHost string) []attribute.KeyValue {
	if hostOverride(hostField, urlHost) {
		return serverAttrs(strings.ToLower(hostField), scheme)
	}
	return serverAttrs(host, scheme)
}

// hostOverride reports whether a request's Host field, hostField, names
// another host than its URL's, urlHost.
func hostOverride(hostField, urlHost string) bool {
	return hostField != "" && !strings.EqualFold(hostField, urlHost)
}

// hostKey is the Fetcher's key for the host of u (see [hostkey.Of]).
func hostKey(u *url.URL) string { return hostkey.Of(u) }

// defaultMethods are the methods known by default: those of RFC 9110 and
// RFC 5789, as the semantic conventions list them.
var defaultMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace}

// knownMethodsEnv is the environment variable that replaces the known
// methods, a comma-separated list, as the semantic conventions name it.
const knownMethodsEnv = "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS"

// parseMethods returns the methods of a comma-separated list, each trimmed
// of spaces, empty ones left out.
func parseMethods(list string) []string {
	var ms []string
	for m := range strings.SplitSeq(list, ",") {
		if m = strings.TrimSpace(m); m != "" {
			ms = append(ms, m)
		}
	}
	return ms
}

// method is the request's http.request.method: one of the known methods,
// or _OTHER, with ok false, for any other. Methods are case-sensitive.
func (in *Instrumentation) method(req *http.Request) (m string, ok bool) {
	m = req.Method
	if m == "" {
		m = http.MethodGet
	}
	if _, ok := in.knownMethods[m]; ok {
		return m, true
	}
	return semconv.HTTPRequestMethodOther.Value.AsString(), false
}

// protocolVersion is network.protocol.version of resp: "1.0", "1.1", "2",
// "3"; "" for no response, or one without a version.
func protocolVersion(resp *http.Response) string {
	switch {
	case resp == nil || resp.ProtoMajor <= 0:
		return ""
	case resp.Proto != "" && !strings.HasPrefix(resp.Proto, "HTTP/"):
		// Another protocol (SPDY/3.1): its version without its name, which
		// this adapter does not record, would read as HTTP's.
		return ""
	case resp.ProtoMajor >= 2 && resp.ProtoMinor == 0:
		return strconv.Itoa(resp.ProtoMajor)
	}
	return strconv.Itoa(resp.ProtoMajor) + "." + strconv.Itoa(resp.ProtoMinor)
}

// sensitiveParams are the query parameters whose values url.full must not
// show: those the semantic conventions list as of v1.43 (X-Amz-Signature,
// X-Amz-Credential, X-Amz-Security-Token, sig, X-Goog-Signature), and those
// of earlier versions (AWSAccessKeyId, Signature). They are matched in any
// case.
var sensitiveParams = []string{"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token",
	"sig", "X-Goog-Signature", "AWSAccessKeyId", "Signature"}

// redacted is what replaces a secret in url.full and in span status
// descriptions.
const redacted = "REDACTED"

// fullURL is u as url.full shows it: any user and password, and the values
// of sensitiveParams, replaced by REDACTED; the rest of the query as sent.
func fullURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.UserPassword(redacted, redacted)
	}
	c.RawQuery = redactQuery(c.RawQuery)
	return c.String()
}

// redactQuery returns the raw query q with the value of every parameter
// named in sensitiveParams replaced by REDACTED, and nothing else changed:
// not the order, not repeated keys, not a key without '=' (which has no
// value to hide). Parameters are split at '&' and, as some servers split
// them, at ';'.
func redactQuery(q string) string {
	var b strings.Builder
	done := 0 // q[:done] is in b
	for i := 0; i < len(q); {
		end := strings.IndexAny(q[i:], "&;")
		if end < 0 {
			end = len(q)
		} else {
			end += i
		}
		if key, _, ok := strings.Cut(q[i:end], "="); ok && sensitiveParam(key) {
			b.WriteString(q[done : i+len(key)+1])
			b.WriteString(redacted)
			done = end
		}
		i = end + 1
	}
	if done == 0 {
		return q
	}
	b.WriteString(q[done:])
	return b.String()
}

// sensitiveParam reports whether the raw query key key is one of
// sensitiveParams, once unescaped, in any case.
func sensitiveParam(key string) bool {
	if k, err := url.QueryUnescape(key); err == nil {
		key = k
	}
	for _, p := range sensitiveParams {
		if strings.EqualFold(key, p) {
			return true
		}
	}
	return false
}
