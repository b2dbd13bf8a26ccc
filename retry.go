package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/c989c033/fetch/internal/ctxsleep"
)

// Jitter selects how a retry delay is randomised, so that clients that failed
// together do not retry together.
type Jitter int

const (
	// FullJitter waits a uniform random time in [0, d), where d is the
	// capped exponential delay. It is the default: it spreads retries best.
	FullJitter Jitter = iota
	// EqualJitter waits d/2 plus a uniform random time in [0, d/2): never
	// less than half the exponential delay.
	EqualJitter
	// DecorrelatedJitter waits a uniform random time between the base delay
	// and three times the previous delay, capped.
	DecorrelatedJitter
	// NoJitter waits exactly d.
	NoJitter
)

// A RetryPolicy says when and how long to wait before trying a request again.
// It is a plain value: copy it, change a field, pass it to [WithRetry]. Its
// methods are safe for concurrent use; Retryable must be too.
//
// A request is retried only when all of these hold: attempts remain; its
// method is idempotent (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) or it carries
// an Idempotency-Key (or X-Idempotency-Key) header, or RetryNonIdempotent is
// set, or its attempt failed to connect to its host (or to the proxy in
// between, or the proxy would not open its tunnel: a [*ProxyConnectError])
// before any redirect, so that nothing was sent; its body, if any,
// can be replayed through [http.Request.GetBody]; the caller's context is
// live; and Retryable says the outcome is worth retrying.
type RetryPolicy struct {
	// MaxAttempts counts every attempt, the first included; 1 means never
	// retry. Zero means the default, 4.
	MaxAttempts int
	// BaseDelay is the delay before the first retry, before jitter; it
	// doubles with each further retry. Zero means the default, 100ms (or
	// MaxDelay, if that is set and less).
	BaseDelay time.Duration
	// MaxDelay caps every backoff delay. Zero means the default, 10s (or
	// BaseDelay, if that is more).
	MaxDelay time.Duration
	// MaxRetryAfter is the longest wait a server may ask for, with
	// Retry-After or a rate-limit reset (see [DefaultRetryable]), that a
	// retry waits out in full. A longer one is neither waited out nor cut
	// short: the call fails at once with a [*RetryAfterError], and the
	// host is paused for MaxRetryAfter. Zero means the default, 5 minutes.
	MaxRetryAfter time.Duration
	// Jitter randomises each delay; the zero value is FullJitter.
	Jitter Jitter
	// MaxElapsed, if positive, stops retrying once another wait would take
	// the call past this much time since it started.
	MaxElapsed time.Duration
	// RetryNonIdempotent allows retrying POST, PATCH and other methods that
	// are not idempotent, for servers known to tolerate duplicates.
	RetryNonIdempotent bool
	// Retryable classifies the outcome of one attempt: exactly one of resp
	// and err is non-nil. Nil means [DefaultRetryable]. It may read resp's
	// header, not its body: a response it does not retry is the call's,
	// body whole. (Read an error body from the *StatusError a failed call
	// returns, or decide on it in a [Handle] handler with [RetryableError].)
	Retryable func(resp *http.Response, err error) bool
}

// DefaultRetryPolicy returns the policy a [Fetcher] uses unless told
// otherwise: 4 attempts, 100ms base delay, 10s cap, full jitter, a server's
// Retry-After waited out up to 5 minutes, and [DefaultRetryable] to classify
// outcomes.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, BaseDelay: 100 * time.Millisecond, MaxDelay: 10 * time.Second,
		MaxRetryAfter: 5 * time.Minute, Retryable: DefaultRetryable}
}

// withDefaults fills zero fields from DefaultRetryPolicy and checks ranges.
func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	d := DefaultRetryPolicy()
	switch {
	case p.MaxAttempts < 0:
		return p, fmt.Errorf("fetch: RetryPolicy.MaxAttempts %d: must not be negative", p.MaxAttempts)
	case p.BaseDelay < 0 || p.MaxDelay < 0 || p.MaxElapsed < 0 || p.MaxRetryAfter < 0:
		return p, fmt.Errorf("fetch: RetryPolicy: negative duration (BaseDelay %v, MaxDelay %v, MaxElapsed %v, MaxRetryAfter %v)",
			p.BaseDelay, p.MaxDelay, p.MaxElapsed, p.MaxRetryAfter)
	case p.Jitter < FullJitter || p.Jitter > NoJitter:
		return p, fmt.Errorf("fetch: RetryPolicy.Jitter %d: unknown", p.Jitter)
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = d.BaseDelay
		if p.MaxDelay > 0 {
			p.BaseDelay = min(p.BaseDelay, p.MaxDelay) // a small cap alone asks for quick retries
		}
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = max(d.MaxDelay, p.BaseDelay)
	}
	if p.MaxDelay < p.BaseDelay {
		return p, fmt.Errorf("fetch: RetryPolicy: MaxDelay %v is below BaseDelay %v", p.MaxDelay, p.BaseDelay)
	}
	if p.Retryable == nil {
		p.Retryable = DefaultRetryable
	}
	return p, nil
}

// Backoff returns how long to wait before retry number retry (1 for the first
// retry), given the previous delay (used by DecorrelatedJitter; 0 before the
// first retry). The result is never negative and never above MaxDelay, for
// any retry number. It reads the policy's fields as they are, without the
// defaults [WithRetry] fills in for zero fields: on a zero RetryPolicy it
// returns 0. It is safe for concurrent use and does not allocate.
func (p RetryPolicy) Backoff(retry int, prev time.Duration) time.Duration {
	return p.backoff(retry, prev, rand.Int64N)
}

// backoff is Backoff with its randomness given: randN(n) returns a uniform
// value in [0, n).
func (p RetryPolicy) backoff(retry int, prev time.Duration, randN func(int64) int64) time.Duration {
	base, ceil := max(p.BaseDelay, 0), max(p.MaxDelay, 0)
	if base > ceil {
		base = ceil
	}
	uniform := func(d time.Duration) time.Duration { // [0, d)
		if d <= 0 {
			return 0
		}
		return time.Duration(randN(int64(d)))
	}
	if p.Jitter == DecorrelatedJitter {
		hi := ceil
		if prev = max(prev, base); prev <= ceil/3 {
			hi = 3 * prev
		}
		return base + uniform(hi-base)
	}
	d := ceil
	if shift := max(retry, 1) - 1; base == 0 || shift < 63 && base <= ceil>>shift {
		d = base << shift
	}
	switch p.Jitter {
	case FullJitter:
		return uniform(d)
	case EqualJitter:
		return d/2 + uniform(d-d/2)
	}
	return d
}

// parseRetryAfter returns the wait a Retry-After header value asks for, in
// either form (delta-seconds, or an HTTP-date in any of its three formats,
// read at now), clamped to [0, limit]. ok is false for an absent or
// malformed value: negative, a fraction, a number too large for 64 bits, or
// anything else.
func parseRetryAfter(v string, now time.Time, limit time.Duration) (d time.Duration, ok bool) {
	v = strings.Trim(v, " \t") // a field value's optional white space (RFC 9110 §5.5)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		var secs uint64
		for i := 0; i < len(v); i++ {
			c := v[i]
			if c < '0' || c > '9' || secs > (math.MaxUint64-uint64(c-'0'))/10 {
				return 0, false // not digits, or too many of them
			}
			secs = secs*10 + uint64(c-'0')
		}
		if secs >= uint64(limit/time.Second)+1 {
			return limit, true
		}
		return min(time.Duration(secs)*time.Second, limit), true
	}
	if !dateShaped(v) {
		return 0, false // spare http.ParseTime its error values
	}
	t, err := parseHTTPDate(v, now)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), limit), true
}

// parseHTTPDate parses an HTTP-date in any of its three formats as RFC 9110
// §5.6.7 requires, read at now: it accepts a leap second (23:59:60, taken
// as the next second), and reads an RFC 850 date's two-digit year as the
// year with those digits that is neither more than 50 years ahead of now
// nor 50 or more behind it, where [http.ParseTime] reads 69 to 99 as 19xx
// and 00 to 68 as 20xx whenever it is read.
func parseHTTPDate(v string, now time.Time) (time.Time, error) {
	var leap time.Duration
	if i := strings.Index(v, ":60"); i >= 0 && (i+3 == len(v) || v[i+3] == ' ') {
		v, leap = v[:i]+":59"+v[i+3:], time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return t, err
	}
	if strings.IndexByte(v, '-') >= 0 { // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
		y := now.Year() - now.Year()%100 + t.Year()%100
		switch {
		case y > now.Year()+50:
			y -= 100
		case y <= now.Year()-50:
			y += 100
		}
		t = t.AddDate(y-t.Year(), 0, 0)
	}
	return t.Add(leap), nil
}

// The shortest and longest HTTP-dates (RFC 9110 §5.6.7), all of which a
// recipient must accept: asctime, and the obsolete RFC 850 format with the
// longest day name. IMF-fixdate is always 29 bytes.
const (
	shortestDate = len("Sun Nov  6 08:49:37 1994")
	longestDate  = len("Wednesday, 09-Nov-94 08:49:37 GMT")
)

// dateShaped reports whether v could be an HTTP-date in any of its three
// formats: as long as one, starting with a day name, with a time of day.
func dateShaped(v string) bool {
	return len(v) >= shortestDate && len(v) <= longestDate && (v[0] >= 'A' && v[0] <= 'Z') && strings.Count(v, ":") == 2
}

// DefaultRetryable is the classification a [RetryPolicy] uses unless told
// otherwise. It retries the statuses 408, 429, 500, 502, 503 and 504; a 403
// that says it is a rate limit, with a Retry-After or a rate-limit header
// saying no requests remain (X-RateLimit-Remaining: 0, RateLimit-Remaining:
// 0, or a RateLimit field with r=0), as GitHub's API sends; and the
// transport errors that a fresh attempt may cure: connection refused or
// reset, a connection closed before the response was complete (wherever it
// was cut: in the status line, a header line, the body or a chunked body's
// trailer), their HTTP/2 equivalents (a stream the server reset with
// REFUSED_STREAM, INTERNAL_ERROR or CANCEL, or a connection it closed after
// a GOAWAY), a timeout, a temporary DNS failure, and a proxy's refusal to
// open a tunnel ([*ProxyConnectError]) with one of the statuses above
// (a 403 aside). It does not retry other
// statuses, TLS certificate or handshake failures, a name that does not
// resolve, too many redirects, a body over the size cap, a malformed
// response that no cut could have produced, or anything it does not
// recognise.
func DefaultRetryable(resp *http.Response, err error) bool {
	if err == nil {
		switch resp.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		case http.StatusForbidden:
			return rateLimited(resp.Header)
		}
		return false
	}
	var (
		certErr    *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		recordErr  tls.RecordHeaderError
		dnsErr     *net.DNSError
		netErr     net.Error
	)
	if pe, ok := errors.AsType[*ProxyConnectError](err); ok {
		return DefaultRetryable(&http.Response{StatusCode: pe.StatusCode, Header: http.Header{}}, nil)
	}
	switch {
	case errors.Is(err, ErrTooManyRedirects), errors.Is(err, ErrBodyTooLarge), errors.Is(err, ErrInvalidURL),
		errors.Is(err, ErrBlockedAddress),
		errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &invalidErr), errors.As(err, &recordErr):
		return false
	case errors.As(err, &dnsErr):
		return !dnsErr.IsNotFound && (dnsErr.IsTimeout || dnsErr.IsTemporary)
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), cutShort(err), h2Cut(err):
		return true
	case errors.Is(err, ErrAttemptTimeout), errors.Is(err, context.DeadlineExceeded):
		return true // an attempt's own timeout; the caller's deadline ends the loop first
	case errors.As(err, &netErr) && netErr.Timeout():
		return true
	}
	return false
}

// cutShort reports whether err is, or wraps, net/http's report of a response
// cut short inside a line. net/textproto takes a last line with no newline
// for a whole one, so net/http finds the line malformed rather than
// reporting an unexpected EOF; a chunked body cut in its trailer has errors
// of its own. None of these has a type or a sentinel, so they are known by
// their text, and a malformed line counts as a cut only if it is the start of
// a well-formed one. A complete response with such a line (a header line
// that is a bare token, a status line that is only "HTTP/1.1") cannot be
// told from a cut, and is retried too: a few wasted attempts at a broken
// server, rather than a lost response.
func cutShort(err error) bool {
	switch u := err.(type) {
	case nil:
		return false
	case interface{ Unwrap() error }:
		return cutShort(u.Unwrap())
	case interface{ Unwrap() []error }:
		return slices.ContainsFunc(u.Unwrap(), cutShort)
	}
	msg := err.Error()
	if msg == trailerEOF || msg == trailerTooLong {
		return true
	}
	for _, e := range lineErrors {
		if quoted, ok := strings.CutPrefix(msg, e.prefix); ok {
			line, err := strconv.Unquote(quoted)
			return err == nil && e.cut(line)
		}
	}
	return false
}

// net/http's errors for a chunked body cut in its trailer: before the final
// CRLF, or inside a field (it looks for the trailer's end in its read buffer
// before it parses the trailer, so a cut looks like a trailer longer than
// the buffer; a real one, as rare, is retried too).
const (
	trailerEOF     = "http: unexpected EOF reading trailer"
	trailerTooLong = "http: suspiciously long trailer after chunked body"
)

// lineErrors are net/http's words for a line of a response head it could not
// parse, each followed by the line, quoted, and whether a cut could have
// left that line.
var lineErrors = [...]struct {
	prefix string
	cut    func(line string) bool
}{
	{"malformed HTTP response ", startsVersion},             // in the status line, before its first space
	{"malformed HTTP status code ", startsCode},             // in the status code
	{"malformed MIME header: missing colon: ", startsField}, // in a field name, or in the blank line ending the head
	{"malformed MIME header line: ", endsInCR},              // between a field line's CR and LF
}

// startsVersion reports whether line is the start of an HTTP-version, such as
// "HTTP/1.1".
func startsVersion(line string) bool {
	const form = "HTTP/d.d" // d: a digit
	if line == "" || len(line) > len(form) {
		return false
	}
	for i := range len(line) {
		if c := line[i]; form[i] == 'd' && (c < '0' || c > '9') || form[i] != 'd' && c != form[i] {
			return false
		}
	}
	return true
}

// startsCode reports whether code is the start of a three-digit status code.
func startsCode(code string) bool {
	return len(code) < 3 && strings.Trim(code, "0123456789") == ""
}

// startsField reports whether line is the start of a field line with no colon
// yet, or the CR of the blank line that ends the head.
func startsField(line string) bool {
	return line == "\r" || token(line)
}

// endsInCR reports whether line is a whole field line and the CR that ends it.
func endsInCR(line string) bool {
	field, cr := strings.CutSuffix(line, "\r")
	name, value, colon := strings.Cut(field, ":")
	return cr && colon && token(name) && !strings.ContainsFunc(value, isCTL)
}

// token reports whether s is a token (RFC 9110 §5.6.2), as a field name is.
func token(s string) bool {
	const tchar = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	return s != "" && strings.Trim(s, tchar) == ""
}

// isCTL reports whether r is a control character not allowed in a field
// value: any but the horizontal tab.
func isCTL(r rune) bool {
	return r < ' ' && r != '\t' || r == 0x7f
}

// idempotent reports whether req may be sent twice without harm (RFC 9110
// §9.2.2), or says so with an Idempotency-Key header as net/http reads it.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// replayable reports whether req's body, if any, can be sent again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// farWait bounds the waits a response may ask for, as parsed, so that
// nothing overflows: what a policy allows is MaxRetryAfter.
const farWait = 100 * 365 * 24 * time.Hour

// retryAfter returns the wait a response asks for before the next request
// to its host, clamped to limit: a 429's or 503's Retry-After, or that of
// a 403 that says it is a rate limit (see rateLimited); or, for such a 429
// or 403 without a valid one, when the rate-limit headers say the quota
// resets (see quotaReset). ok is false if it asks for none.
func retryAfter(resp *http.Response, limit time.Duration) (d time.Duration, ok bool) {
	if resp == nil {
		return 0, false
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusForbidden:
	default:
		return 0, false
	}
	if resp.StatusCode == http.StatusForbidden && !rateLimited(resp.Header) {
		return 0, false
	}
	now := time.Now()
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now, limit); ok || resp.StatusCode == http.StatusServiceUnavailable {
		return d, ok
	}
	return quotaReset(resp.Header, now, limit)
}

// rateLimited reports whether h, the header of a 403, says the request was
// refused for its rate rather than forbidden: it has a Retry-After (as
// GitHub's secondary limits do), or says that no requests remain in the
// client's quota (X-RateLimit-Remaining: 0, RateLimit-Remaining: 0, or a
// RateLimit field whose r is 0).
func rateLimited(h http.Header) bool {
	return h.Get("Retry-After") != "" || quotaSpent(h)
}

// quotaSpent reports whether h says that no requests remain in the
// client's quota: X-RateLimit-Remaining: 0, RateLimit-Remaining: 0, or a
// RateLimit field whose r is 0.
func quotaSpent(h http.Header) bool {
	for _, k := range [...]string{"X-Ratelimit-Remaining", "Ratelimit-Remaining"} {
		if v, ok := h[k]; ok && len(v) > 0 && strings.TrimSpace(v[0]) == "0" {
			return true
		}
	}
	_, spent := rateLimitField(h.Get("Ratelimit"))
	return spent
}

// quotaReset returns the wait until the client's quota resets, from the
// rate-limit headers in use: a RateLimit field's t of a policy with none
// remaining (draft-ietf-httpapi-ratelimit-headers), RateLimit-Reset
// (delta-seconds, the draft's earlier form), or X-RateLimit-Reset (a Unix
// time, as GitHub sends, in milliseconds if too large to be seconds, or
// delta-seconds if too small to be one), clamped
// to [0, limit]. ok is false if none says, or the reset is not in the
// future.
func quotaReset(h http.Header, now time.Time, limit time.Duration) (time.Duration, bool) {
	var secs float64
	if t, spent := rateLimitField(h.Get("Ratelimit")); spent && t > 0 {
		secs = t
	} else if t, ok := seconds(h.Get("Ratelimit-Reset")); ok {
		secs = t
	} else if t, ok := seconds(h.Get("X-Ratelimit-Reset")); ok {
		if t >= 1e11 { // a Unix time in milliseconds, as some APIs send it: in seconds, the year 5138
			t /= 1000
		}
		if secs = t; t >= 1e8 { // a Unix time: no wait is 3 years
			secs = t - float64(now.UnixNano())/1e9
		}
	}
	if !(secs > 0) {
		return 0, false
	}
	if secs >= limit.Seconds() {
		return limit, true
	}
	return time.Duration(secs * float64(time.Second)), true
}

// rateLimitField reads a RateLimit field (draft-ietf-httpapi-ratelimit-
// headers: policies such as `"default";r=0;t=30`, separated by commas),
// and reports whether a policy has no requests remaining (r=0), with its t,
// the seconds until it resets (0 if not given).
func rateLimitField(v string) (reset float64, spent bool) {
	for item := range strings.SplitSeq(v, ",") {
		var r, t string
		for param := range strings.SplitSeq(item, ";") {
			name, val, _ := strings.Cut(strings.TrimSpace(param), "=")
			switch name {
			case "r":
				r = val
			case "t":
				t = val
			}
		}
		if r == "0" {
			reset, _ = seconds(t)
			return reset, true
		}
	}
	return 0, false
}

// seconds parses a non-negative number of seconds, such as "30" or
// "1767225600.5".
func seconds(v string) (float64, bool) {
	v = strings.TrimSpace(v)
	if v == "" || v[0] < '0' || v[0] > '9' {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil && !math.IsInf(f, 0)
}

// sleepOrClose waits for d, or until ctx is done or closing is closed (by
// Shutdown), when it returns ErrClosed.
func sleepOrClose(ctx context.Context, closing <-chan struct{}, d time.Duration) error {
	return ctxsleep.SleepOr(ctx, closing, ErrClosed, d)
}

func noop() {}
