package fetch

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// The dial settings of http.DefaultTransport, kept when the guard replaces
// its dialer.
const (
	defaultDialTimeout = 30 * time.Second
	defaultKeepAlive   = 30 * time.Second
)

// readBufferSize is the read buffer of each connection the Fetcher's own
// client opens.
const readBufferSize = 32 << 10

// newClient builds the client a Fetcher uses when it is not given one: a
// clone of http.DefaultTransport (keeping its proxy, dial and TLS settings)
// that keeps enough idle connections to reuse one per request in flight.
//
// Its read buffer is 32 KiB rather than net/http's 4 KiB. A Fetcher reads
// whole bodies, and a response that fits the buffer, headers and body, is
// read with one system call instead of two or more. It costs 28 KiB more
// per open HTTP/1 connection; HTTP/2 keeps its own buffers.
//
// It also caps connections per host at the requests the Fetcher lets in
// flight to one host. The Fetcher frees a slot when a body reaches EOF, a
// moment before net/http's read loop returns the connection to the idle
// pool; without the cap the next request would dial a new connection in
// that moment instead of waiting for the one coming back. A redirect closes
// the response that sent it before it gives back its slot (see hop), so that
// the cap never keeps a request that holds a slot waiting for a connection
// held by a request waiting for a slot.
//
// It caps response headers at c.maxHeader bytes and reports a head over the
// cap as ErrHeaderTooLarge (see headerCapTransport). With the guard on, it
// checks every address it dials and refuses to send through a proxy (see
// guardProxy).
func newClient(c config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	perHost := c.concurrency
	if c.hostConcurrency > 0 {
		perHost = min(c.hostConcurrency, c.concurrency)
	}
	if c.guard {
		t.DialContext = guardedDialer(c.allow).DialContext
		t.Proxy = guardProxy(t.Proxy)
	}
	if c.wrapDial != nil {
		t.DialContext = c.wrapDial(t.DialContext)
	}
	t.ReadBufferSize = readBufferSize
	t.MaxIdleConnsPerHost = perHost
	t.MaxConnsPerHost = perHost
	t.MaxIdleConns = max(t.MaxIdleConns, c.concurrency)
	t.MaxResponseHeaderBytes = c.maxHeader
	return &http.Client{Transport: newHeaderCapTransport(t), CheckRedirect: checkRedirect(c.maxRedirects)}
}

// headerCapTransport is the transport of the client New builds: it reports
// net/http's refusal of a response head longer than MaxResponseHeaderBytes
// as ErrHeaderTooLarge. Embedding the *http.Transport keeps its other
// methods, CloseIdleConnections among them.
type headerCapTransport struct {
	*http.Transport
	refusal string // net/http's text for a head over the cap
}

func newHeaderCapTransport(t *http.Transport) *headerCapTransport {
	// net/http's transport.go builds this error with fmt.Errorf, exposing no
	// type or sentinel, so its exact text is the only thing to match. The
	// cap in it is ours, so the whole text is known in advance; an error
	// only containing it does not match. TestHeaderTooLarge fails if
	// net/http changes the text.
	return &headerCapTransport{
		Transport: t,
		refusal:   fmt.Sprintf("net/http: server response headers exceeded %d bytes; aborted", t.MaxResponseHeaderBytes),
	}
}

// RoundTrip sends req through the embedded transport.
func (t *headerCapTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.Transport.RoundTrip(req)
	if err != nil && t.isRefusal(err) {
		err = fmt.Errorf("%w: more than %d bytes", ErrHeaderTooLarge, t.MaxResponseHeaderBytes)
	}
	return resp, err
}

// isRefusal reports whether err, or an error it wraps, is net/http's refusal
// of an oversized head. net/http may wrap it ("connection broken: %w").
func (t *headerCapTransport) isRefusal(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if err.Error() == t.refusal {
			return true
		}
	}
	return false
}

// checkRedirect allows at most limit redirects, to http or https only.
func checkRedirect(limit int) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if s := req.URL.Scheme; s != "http" && s != "https" {
			return fmt.Errorf("%w: redirect to %q: scheme must be http or https", ErrTooManyRedirects, req.URL.Redacted())
		}
		if len(via) > limit {
			return fmt.Errorf("%w: stopped after %d", ErrTooManyRedirects, limit)
		}
		return nil
	}
}
