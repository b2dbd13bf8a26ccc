package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// WithStallTimeout fails an attempt whose response does not begin within d
// of being sent (a request body still being read for sending, an upload
// that keeps going, restarts that clock), or whose body, while a read of
// it waits, brings no byte for d, as wget's --timeout does. Unlike
// [WithAttemptTimeout], it never cuts a response that keeps coming, however
// long it takes in all, and the time the reader spends between reads
// (writing to a slow disk) does not count: for large downloads, where a
// total would cut the slow ones and restart them from their first byte.
// Waits at the gates (a redirect's host's slot or token) do not count
// either: it applies to each request on the wire, each attempt and each
// redirect hop. The connection a 101 Switching Protocols hands over is not
// watched. A stalled attempt is retried; its error matches
// [ErrAttemptTimeout] and [context.DeadlineExceeded]. It combines with
// WithAttemptTimeout, and works with [WithClient] (around its transport,
// or [http.DefaultTransport] if it has none). By default there is none.
func WithStallTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("fetch: WithStallTimeout(%v): must be positive", d)
		}
		c.stallTimeout = d
		return nil
	}
}

// stallTimeout wraps next so that each request sent through it fails
// once it stalls for d (see WithStallTimeout).
func stallTimeout(next http.RoundTripper, d time.Duration) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return stallTransport{next: next, d: d}
}

type stallTransport struct {
	next http.RoundTripper
	d    time.Duration
}

func (t stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &stallWatch{d: t.d, ctx: ctx, cancel: cancel, armed: true}
	w.timer = time.AfterFunc(t.d, w.fire)
	r := req.WithContext(ctx)
	if r.Body != nil && r.Body != http.NoBody {
		// An upload that keeps going is no stall: the clock for the
		// response starts again at each read of the request body, also
		// of the body net/http sends again by itself, through GetBody,
		// on a new connection after a kept-alive one died under it.
		r.Body = &sendBody{ReadCloser: r.Body, w: w}
		if getBody := r.GetBody; getBody != nil {
			r.GetBody = func() (io.ReadCloser, error) {
				body, err := getBody()
				if err != nil || body == nil || body == http.NoBody {
					return body, err
				}
				return &sendBody{ReadCloser: body, w: w}, nil
			}
		}
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		err = w.explain(err)
		w.stop()
		return nil, err
	}
	w.pause()
	if rw, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		// The body of a 101 is the connection, which net/http hands the
		// caller as an io.ReadWriteCloser: it stays writable, and its
		// silences are the new protocol's, not a stall.
		resp.Body = upgradedBody{ReadWriteCloser: rw, w: w}
		return resp, nil
	}
	resp.Body = &stallBody{ReadCloser: resp.Body, w: w}
	return resp, nil
}

// CloseIdleConnections passes the call on to the transport wrapped (a
// WithTransportWrapper's, say), as http.Client does to its own.
func (t stallTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// An upgradedBody is the connection a 101 Switching Protocols response
// hands over, unwatched; closing it stops its request's watch.
type upgradedBody struct {
	io.ReadWriteCloser
	w *stallWatch
}

func (b upgradedBody) Close() error {
	err := b.ReadWriteCloser.Close()
	b.w.stop()
	return err
}

// A stallWatch cancels its request's context once it has been armed for d:
// while the request waits for its response, and during each read of the
// body.
type stallWatch struct {
	d      time.Duration
	ctx    context.Context // the request's, which a stall cancels
	cancel context.CancelCauseFunc
	timer  *time.Timer

	mu    sync.Mutex
	armed bool // waiting for the response or inside a read
	body  bool // the response came: a stall is the body's
	ended bool // stopped: the body was closed or the request failed
}

func (w *stallWatch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed && !w.ended {
		w.cancel(&stallError{after: w.d, body: w.body})
	}
}

// explain returns err, or the stall that caused it. net/http reports a
// request whose context ended with the context's cause, the stall; a
// transport that reports ctx.Err() instead (a test's fake RoundTripper)
// would otherwise turn a stall into context.Canceled, neither retried nor
// matching ErrAttemptTimeout.
func (w *stallWatch) explain(err error) error {
	var stall *stallError
	if err != nil && errors.Is(err, context.Canceled) && !errors.As(err, &stall) && errors.As(context.Cause(w.ctx), &stall) {
		return stall
	}
	return err
}

// arm starts the clock: a read begins.
func (w *stallWatch) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ended {
		w.armed = true
		w.timer.Reset(w.d)
	}
}

// pause stops the clock: the response came, or a read returned.
func (w *stallWatch) pause() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed, w.body = false, true
	w.timer.Stop()
}

// touch restarts the clock while the request waits for its response: a
// read of the request body, which is still being sent.
func (w *stallWatch) touch() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed && !w.body && !w.ended {
		w.timer.Reset(w.d)
	}
}

func (w *stallWatch) stop() {
	w.mu.Lock()
	w.ended, w.armed = true, false
	w.mu.Unlock()
	w.timer.Stop()
	w.cancel(nil)
}

// A sendBody is a request body whose reads tell its watch that the
// request is still being sent.
type sendBody struct {
	io.ReadCloser
	w *stallWatch
}

func (b *sendBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.w.touch()
	}
	return n, err
}

type stallBody struct {
	io.ReadCloser
	w *stallWatch
}

func (b *stallBody) Read(p []byte) (int, error) {
	b.w.arm()
	n, err := b.ReadCloser.Read(p)
	b.w.pause()
	if err != nil && err != io.EOF {
		err = b.w.explain(err)
	}
	return n, err
}

func (b *stallBody) Close() error {
	err := b.ReadCloser.Close()
	b.w.stop()
	return err
}

// A stallError says that a response stalled: that its head (body false) or
// the next bytes of its body did not come for after.
type stallError struct {
	after time.Duration
	body  bool
}

func (e *stallError) Error() string {
	if e.body {
		return "attempt stalled: no bytes of the response body for " + e.after.String()
	}
	return "attempt stalled: no response for " + e.after.String()
}

// Timeout reports true, as for a net.Error that timed out.
func (e *stallError) Timeout() bool { return true }

// Temporary reports true, as net.Error asks.
func (e *stallError) Temporary() bool { return true }

func (e *stallError) Unwrap() []error { return []error{ErrAttemptTimeout, context.DeadlineExceeded} }
