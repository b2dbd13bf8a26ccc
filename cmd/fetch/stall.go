package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/c989c033/fetch"
)

// stallTimeout returns a transport wrapper that fails a request whose
// response does not begin, or whose body then brings no byte, for d: -O's
// --timeout, as wget's. A download that keeps coming is never cut, however
// long it takes. The failure matches [fetch.ErrAttemptTimeout], so that it is
// retried as an attempt timeout is.
func stallTimeout(d time.Duration) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		return stallTransport{next: next, d: d}
	}
}

type stallTransport struct {
	next http.RoundTripper
	d    time.Duration
}

func (t stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &stallWatch{d: t.d, cancel: cancel}
	w.timer = time.AfterFunc(t.d, w.fire)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		w.stop()
		return nil, err
	}
	w.heard()
	resp.Body = &stallBody{ReadCloser: resp.Body, w: w}
	return resp, nil
}

// A stallWatch cancels its request's context once d passes without news
// of the response.
type stallWatch struct {
	d      time.Duration
	cancel context.CancelCauseFunc
	timer  *time.Timer

	mu    sync.Mutex
	ended bool // stopped: the body was closed or the request failed
}

func (w *stallWatch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ended {
		w.cancel(&stallError{after: w.d})
	}
}

// heard restarts the clock: bytes came.
func (w *stallWatch) heard() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ended {
		w.timer.Reset(w.d)
	}
}

func (w *stallWatch) stop() {
	w.mu.Lock()
	w.ended = true
	w.mu.Unlock()
	w.timer.Stop()
	w.cancel(nil)
}

type stallBody struct {
	io.ReadCloser
	w *stallWatch
}

func (b *stallBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.w.heard()
	}
	return n, err
}

func (b *stallBody) Close() error {
	err := b.ReadCloser.Close()
	b.w.stop()
	return err
}

// A stallError says that a response stalled.
type stallError struct{ after time.Duration }

func (e *stallError) Error() string {
	return fmt.Sprintf("no data received for %v (--timeout)", e.after)
}

// Timeout reports true, as for a net.Error that timed out.
func (e *stallError) Timeout() bool { return true }

// Temporary reports true, as net.Error asks.
func (e *stallError) Temporary() bool { return true }

// Is makes a stall match [fetch.ErrAttemptTimeout].
func (e *stallError) Is(target error) bool { return target == fetch.ErrAttemptTimeout }
