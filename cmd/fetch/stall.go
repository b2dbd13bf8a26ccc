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
// response does not begin within d, or whose body, while it is being read,
// brings no byte for d: -O's --timeout, as wget's. A download that keeps
// coming is never cut, however long it takes, and time spent between reads
// (writing to a slow disk) does not count. The failure matches
// [fetch.ErrAttemptTimeout], so that it is retried as an attempt timeout is.
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
	w := &stallWatch{d: t.d, cancel: cancel, armed: true}
	w.timer = time.AfterFunc(t.d, w.fire)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		w.stop()
		return nil, err
	}
	w.pause()
	resp.Body = &stallBody{ReadCloser: resp.Body, w: w}
	return resp, nil
}

// A stallWatch cancels its request's context once it has been armed for d:
// while the request waits for its response, and during each read of the
// body.
type stallWatch struct {
	d      time.Duration
	cancel context.CancelCauseFunc
	timer  *time.Timer

	mu    sync.Mutex
	armed bool // waiting for the response or inside a read
	ended bool // stopped: the body was closed or the request failed
}

func (w *stallWatch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed && !w.ended {
		w.cancel(&stallError{after: w.d})
	}
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
	w.armed = false
	w.timer.Stop()
}

func (w *stallWatch) stop() {
	w.mu.Lock()
	w.ended, w.armed = true, false
	w.mu.Unlock()
	w.timer.Stop()
	w.cancel(nil)
}

type stallBody struct {
	io.ReadCloser
	w *stallWatch
}

func (b *stallBody) Read(p []byte) (int, error) {
	b.w.arm()
	n, err := b.ReadCloser.Read(p)
	b.w.pause()
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
