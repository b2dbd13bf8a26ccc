package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/c989c033/fetch/internal/urlredact"
)

// Sentinel errors. Match them with [errors.Is]; they are always wrapped with
// the request they concern.
var (
	// ErrClosed is returned for a call made after [Fetcher.Shutdown] began.
	ErrClosed = errors.New("fetch: fetcher is shut down")

	// ErrInvalidURL is returned, before any network call, for a request whose
	// URL is not an absolute http or https URL with a host.
	ErrInvalidURL = errors.New("fetch: invalid URL")

	// ErrBodyTooLarge is returned when a body read by the Fetcher exceeds the
	// configured maximum (see [WithMaxBodySize]). The body is never silently
	// truncated.
	ErrBodyTooLarge = errors.New("fetch: response body too large")

	// ErrTooManyRedirects is returned when a request is redirected more times
	// than allowed (see [WithMaxRedirects]), or to a URL that is not an
	// http or https URL with a host (and a port in range): a refused
	// redirect. It is never retried.
	ErrTooManyRedirects = errors.New("fetch: too many redirects")

	// ErrBlockedAddress is returned when the guard set by
	// [WithBlockPrivateAddresses] refuses to connect to an address, or to
	// send a request through a proxy. It is never retried.
	ErrBlockedAddress = errors.New("fetch: address blocked")

	// ErrHeaderTooLarge is returned when a response's status line and
	// header exceed the cap set by [WithMaxHeaderSize], over HTTP/1.x. The
	// response is discarded and its connection closed. [DefaultRetryable]
	// does not retry it.
	ErrHeaderTooLarge = errors.New("fetch: response header too large")

	// ErrAttemptTimeout marks an attempt that ran out of its own time (see
	// [WithAttemptTimeout]) while the caller's context was still live. Errors
	// that match it also match [context.DeadlineExceeded]; an error that
	// matches only the latter came from the caller's own deadline.
	ErrAttemptTimeout = errors.New("fetch: attempt timed out")

	// ErrLimiterUnavailable is what a [Limiter] wraps when it cannot decide,
	// for example because the store it shares with other processes is
	// unreachable and it was told to fail closed. The call fails without
	// sending anything.
	ErrLimiterUnavailable = errors.New("fetch: rate limiter unavailable")
)

// Error is the error returned for a request that failed: it names the request
// (with any password in the URL redacted), says how many attempts reached the
// network, and wraps the last cause, so [errors.Is] and [errors.As] see
// through it (for example to [syscall.ECONNREFUSED], [context.Canceled] or a
// [*StatusError]).
type Error struct {
	Method   string
	URL      string // redacted with [url.URL.Redacted]
	Attempts int    // requests the server was sent, as [Result.Attempts] counts them; 0 if none
	Err      error
}

// Error describes the request, its attempts and the last cause.
func (e *Error) Error() string {
	cause := e.Err
	// *url.Error repeats the method and URL we already print.
	var ue *url.Error
	if errors.As(cause, &ue) && ue == cause {
		cause = ue.Err
	}
	what := strings.TrimSpace(e.Method + " " + e.URL) // either may be unknown for an input that was never sent
	if what != "" {
		what += ": "
	}
	msg := "<nil>"
	if cause != nil {
		// "fetch: " is said once, first: not again where a cause wraps
		// one of the package's errors ("reading the body: fetch: panic").
		msg = strings.ReplaceAll(strings.TrimPrefix(cause.Error(), "fetch: "), ": fetch: ", ": ")
	}
	if e.Attempts > 1 {
		return fmt.Sprintf("fetch: %safter %d attempts: %s", what, e.Attempts, msg)
	}
	return "fetch: " + what + msg
}

// Unwrap returns the last cause, for [errors.Is] and [errors.As].
func (e *Error) Unwrap() error { return e.Err }

// StatusError reports a final response whose status was not 2xx, like
// Python's raise_for_status. The batch, streaming and convenience calls
// return it (wrapped in an [*Error]); [Fetcher.Do] returns the response
// itself, as net/http does.
type StatusError struct {
	StatusCode int
	Status     string // as in [http.Response.Status], e.g. "503 Service Unavailable"
	URL        string // redacted
	// RetryAfter is the delay the server asked for, with Retry-After or a
	// rate-limit reset (see [DefaultRetryable]); 0 if there was none.
	RetryAfter time.Duration
	// Header is the response's header.
	Header http.Header
	// Body is the first bytes of the response's body, at most
	// [MaxErrorBody], so that an API's error message can be read.
	Body []byte
}

// Error returns the status, as in "status 503 Service Unavailable", and
// where a redirect not followed pointed, as in `status 301 Moved
// Permanently to "https://example.com/"` (see [WithFollowRedirects]), or
// else the start of the body if it is text that says more than the status
// does, as in `status 403 Forbidden: {"error":"quota exceeded"}`; the
// [*Error] that wraps it names the request.
func (e *StatusError) Error() string {
	s := "status " + e.Status
	if e.Status == "" {
		s = "status " + strconv.Itoa(e.StatusCode)
	}
	if e.RetryAfter > 0 {
		s += " (Retry-After " + rounded(e.RetryAfter).String() + ")"
	}
	if loc := e.Header.Get("Location"); loc != "" && e.StatusCode >= 300 && e.StatusCode <= 399 {
		return s + " to " + strconv.Quote(urlredact.String(loc)) // its body says no more
	}
	if msg := bodyText(e.Body); msg != "" && msg != http.StatusText(e.StatusCode) {
		s += ": " + msg
	}
	return s
}

// maxBodyText is how much of an error body StatusError's text shows.
const maxBodyText = 200

// bodyText returns the start of an error body as one line of text, for an
// error message: "" unless it is UTF-8 text, its spaces and control
// characters collapsed, cut at maxBodyText bytes.
func bodyText(body []byte) string {
	if len(body) > maxBodyText+utf8.UTFMax {
		body = body[:maxBodyText+utf8.UTFMax]
	}
	var b strings.Builder
	space := false
	for i, r := range string(body) {
		if r == utf8.RuneError {
			if rest := body[i:]; len(rest) >= utf8.UTFMax || utf8.FullRune(rest) {
				return "" // not UTF-8: binary
			}
			break // cut mid-rune by the cap
		}
		if b.Len() >= maxBodyText {
			b.WriteString("…")
			break
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// rounded rounds d, a wait read off the clock (a Retry-After date's, a
// deadline's) or drawn at random (a jittered backoff), to the millisecond
// for an error's text: "59.265s", not "59.26501441s". The values in typed
// errors are not rounded. A wait under half a millisecond is shown whole.
func rounded(d time.Duration) time.Duration {
	if r := d.Round(time.Millisecond); r != 0 {
		return r
	}
	return d
}

// RetryAfterError is returned when a server asked, through Retry-After or
// its rate-limit headers (see [DefaultRetryable]), for a wait that would
// outlast the caller's context deadline, or the retry policy's
// MaxRetryAfter, where the call would otherwise have retried: the call
// fails at once, instead of sleeping into the deadline or retrying before
// the server allows. (A call that would not have retried, its attempts
// spent or its method not one to retry, fails with the response's
// [*StatusError], whose RetryAfter says what was asked.) It unwraps to the
// [*StatusError] of the response that asked, and, when the deadline
// refused the wait, matches [context.DeadlineExceeded].
type RetryAfterError struct {
	RetryAfter time.Duration // the wait asked for
	Remaining  time.Duration // time left before the caller's deadline; 0 when Max refused the wait
	Max        time.Duration // the policy's MaxRetryAfter, when the wait exceeded it; 0 when the deadline refused it
	Err        error         // the response's *StatusError
}

// Error says what wait was asked for, and what refused it.
func (e *RetryAfterError) Error() string {
	if e.Max > 0 {
		return fmt.Sprintf("server asked to retry after %v, more than MaxRetryAfter %v: %v", rounded(e.RetryAfter), e.Max, e.Err)
	}
	return fmt.Sprintf("server asked to retry after %v, past the deadline in %v: %v", rounded(e.RetryAfter), rounded(e.Remaining), e.Err)
}

// Unwrap returns the response's [*StatusError], and
// [context.DeadlineExceeded] if the deadline refused the wait.
func (e *RetryAfterError) Unwrap() []error {
	if e.Max > 0 {
		return []error{e.Err}
	}
	return []error{context.DeadlineExceeded, e.Err}
}

// ProxyConnectError is the error of an attempt to an https URL whose proxy
// would not open the tunnel to it: its answer to CONNECT was not 200 OK,
// the one status at which net/http opens it.
// Nothing reached the server, so the request may be sent again whatever
// its method: [DefaultRetryable] retries the statuses it retries from a
// server (a 502 or 503 from a rotating proxy's exit, say), not a 407, whose
// credentials a retry would not change. The client New builds reports it;
// one given with [WithClient] reports what its transport does (net/http
// says only the status text).
type ProxyConnectError struct {
	Proxy      string // the proxy's URL, its password redacted
	StatusCode int    // e.g. 502
	Status     string // e.g. "502 Bad Gateway"
}

// Error names the proxy and its answer.
func (e *ProxyConnectError) Error() string {
	return "proxy " + e.Proxy + " refused to connect: " + e.Status
}

// PanicError is a panic recovered from a task run by a [TaskGroup], a
// [Hooks] callback, a [Handle] handler, the transport (a RoundTripper given
// with [WithClient]), or a streaming call's input iterator or request
// builder ([StreamFunc], [Handle]); Stack is the panicking goroutine's
// stack trace.
type PanicError struct {
	Value any
	Stack []byte
}

// Error gives the panic value and the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("fetch: panic: %v\n\n%s", e.Value, e.Stack)
}

// Unwrap returns the panic value if it is an error, so that a panic with an
// error value still matches it under [errors.Is].
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// contextError returns ctx's error, naming its cause in the text when it has
// one of its own (without wrapping it: the cause belongs to somebody else).
func contextError(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
		return fmt.Errorf("%w (cause: %v)", ctx.Err(), cause)
	}
	return ctx.Err()
}

// attemptTimeoutError is an attempt that ran out of its own time. It matches
// ErrAttemptTimeout and, through the transport's error, DeadlineExceeded.
type attemptTimeoutError struct {
	after time.Duration
	err   error
	body  bool // it ran out while the response body was being read
}

func (e *attemptTimeoutError) Error() string {
	if e.body {
		// Say so: a download still coming when the time ran out wants a
		// longer timeout, a server that never answered does not.
		return "attempt timed out after " + e.after.String() + " while reading the response body"
	}
	return "attempt timed out after " + e.after.String()
}
func (e *attemptTimeoutError) Unwrap() []error { return []error{ErrAttemptTimeout, e.err} }

// deadlineError marks a limiter's refusal to wait past the context deadline
// (x/time/rate says "would exceed context deadline" without matching
// context.DeadlineExceeded) as a deadline error, keeping the original text.
type deadlineError struct{ err error }

func (e deadlineError) Error() string   { return e.err.Error() }
func (e deadlineError) Unwrap() []error { return []error{context.DeadlineExceeded, e.err} }
