package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/h2err"
	"github.com/c989c033/fetch/redisqueue"
)

// record is one line of output: the outcome of one input.
type record struct {
	URL        string `json:"url"`
	FinalURL   string `json:"final_url,omitempty"`
	Status     int    `json:"status,omitempty"`
	Location   string `json:"location,omitempty"` // where a 3xx final response not followed (--max-redirects) pointed
	Bytes      int64  `json:"bytes"`
	Attempts   int    `json:"attempts"`
	DurationMS int64  `json:"duration_ms"`
	// Timings are the phases of the request that got the final response,
	// with --timings; nil if no request was sent.
	Timings *timings `json:"timings,omitempty"`
	File    string   `json:"file,omitempty"`    // where -O saved the body, or found it (skipped)
	Skipped string   `json:"skipped,omitempty"` // why no body was saved: "exists" (--no-clobber, not fetched), "complete" (--continue)
	// ResumedFrom is where --continue took up the file: the bytes it held
	// before the body saved (Bytes) was appended.
	ResumedFrom int64  `json:"resumed_from,omitempty"`
	Title       string `json:"title,omitempty"`
	Depth       int    `json:"depth,omitempty"`    // with -r: links from a URL given to this page (0, left out, for one given)
	Referrer    string `json:"referrer,omitempty"` // with -r: the page it was found on, after its redirects ("" for a URL given)
	Error       string `json:"error,omitempty"`
	ErrorKind   string `json:"error_kind,omitempty"`
	ID          string `json:"id,omitempty"`        // the stream entry, with --queue
	Reclaimed   bool   `json:"reclaimed,omitempty"` // taken over from a worker that may have fetched it too
	// Body is the response's body, with --body: a JSON body as itself,
	// UTF-8 text as a JSON string; BodyBase64 holds any other, in base64.
	Body       rawJSON `json:"body,omitempty"`
	BodyBase64 string  `json:"body_base64,omitempty"`
	// Headers is the final response's header, with --headers: a JSON
	// object of names in lower case, each with its values in order, as
	// curl's %{header_json}.
	Headers rawJSON `json:"headers,omitempty"`

	dur   time.Duration // for the summary, which DurationMS would round
	fatal error         // not a record: why the run cannot go on (said on stderr)
}

// unsent reports whether r is the record of an input never sent because
// the run was cut short (--total, or a signal) before its turn came.
func (r record) unsent() bool {
	return r.Attempts == 0 && (r.ErrorKind == "deadline" || r.ErrorKind == "canceled")
}

// errorText returns err as a record's error: as the Fetcher words it,
// but for an input refused before it became a request, which the Fetcher
// words with an empty method and URL, by its cause alone, and for an input
// that is not a URL, as its [badLine] error words it.
func errorText(err error) string {
	if bl, ok := errors.AsType[*badLine](err); ok {
		err = bl
	} else if fe, ok := err.(*fetch.Error); ok && fe.Method == "" && fe.URL == "" && fe.Err != nil {
		err = fe.Err
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "fetch: ") {
		msg = "fetch: " + msg
	}
	switch {
	case errors.Is(err, fetch.ErrBodyTooLarge):
		msg += " (--max-body)" // the cap is the flag's
	case errors.Is(err, fetch.ErrAttemptTimeout):
		msg += " (--timeout)"
	}
	return msg
}

// errorKind names the kind of a failure, for scripts to group on.
func errorKind(err error) string {
	var (
		se     *fetch.StatusError
		dnsErr *net.DNSError
		cert   *tls.CertificateVerificationError
		ca     x509.UnknownAuthorityError
		urlErr *url.Error
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &se):
		return "status"
	case errors.Is(err, fetch.ErrRobotsUnavailable):
		return "robots_unavailable"
	case errors.Is(err, fetch.ErrDisallowed):
		return "disallowed"
	case errors.Is(err, fetch.ErrOutOfScope):
		return "out_of_scope"
	case errors.Is(err, fetch.ErrAlreadySeen):
		return "already_seen"
	case errors.As(err, new(*fetch.ProxyConnectError)):
		return "proxy"
	case errors.Is(err, fetch.ErrInvalidURL), errors.Is(err, errBadInput), errors.Is(err, redisqueue.ErrMalformed):
		return "invalid_input"
	case errors.Is(err, redisqueue.ErrDeliveryLimit):
		// --queue: handed out too often, each time its worker died with
		// it; set aside in the dead-letter stream, not fetched
		return "delivery_limit"
	case errors.Is(err, fetch.ErrBodyTooLarge):
		return "body_too_large"
	case errors.Is(err, fetch.ErrTooManyRedirects):
		return "redirects"
	case errors.Is(err, fetch.ErrAttemptTimeout):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET), h2err.Reset(err): // HTTP/2: a stream reset
		return "connection_reset"
	case errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &urlErr):
		// curl's exit 18, a partial file; not a response whose head was
		// cut short, which net/http's client returns as a *url.Error
		return "truncated"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &cert), errors.As(err, &ca):
		return "tls"
	}
	return "other"
}

// headerJSON returns h as a record's headers: a JSON object of each name
// in lower case, with its values in the order received, as curl's
// %{header_json} has them (HTTP/2 sends names so); "" for no header.
func headerJSON(h http.Header) rawJSON {
	if len(h) == 0 {
		return ""
	}
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		k = strings.ToLower(k)
		out[k] = append(out[k], vs...)
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as the records are written: a Link's <URL> stays as it came
	// The names come out sorted, as a map's keys do.
	if err := enc.Encode(out); err != nil {
		return ""
	}
	return rawJSON(strings.TrimSuffix(b.String(), "\n"))
}
