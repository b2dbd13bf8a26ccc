package fetch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/c989c033/fetch/internal/ctxsleep"
	"golang.org/x/time/rate"
)

// maxBandwidthBurst is the most bytes of response bodies that
// [WithBandwidth] lets through at once: a connection's read buffer.
const maxBandwidthBurst = readBufferSize

// WithBandwidth caps the rate at which the Fetcher reads response bodies
// at bytesPerSecond in total: one budget that all its calls share, however
// many bodies they read at once, not a cap per transfer as curl's
// --limit-rate is. It covers the bodies [Fetcher.Do] returns, those the
// batch, streaming and convenience calls read for you, those a [Handle]
// handler reads, and a crawl's, as well as the little the Fetcher reads of
// the responses it discards (a redirect's, a retried one's) to reuse their
// connections. It counts the bytes a body gives, after any decompression
// (net/http decompresses the gzip responses it asked for), and not the
// status line and header, nor what TLS and HTTP framing add on the wire.
//
// The budget is a token bucket ([rate.Limiter]) that holds up to 32 KiB,
// or a second's worth if less, and starts full. Each read of a body takes
// at most that many bytes, then waits until the bucket has paid for them
// before returning them. The wait ends with the request's context, and
// counts towards [WithAttemptTimeout]: a read whose wait is cut short
// returns the context's error (or fails the attempt as timed out) and none
// of the bytes it waited for, which stay counted. Closing the body ends a
// read's wait too, which then returns [http.ErrBodyReadAfterClose].
// [WithStallTimeout] does not count the wait as a stall. The connection a 101 Switching Protocols
// hands over is not capped. It works with [WithClient]. 0, the default,
// sets no cap; a negative bytesPerSecond is an error.
func WithBandwidth(bytesPerSecond int64) Option {
	return func(c *config) error {
		if bytesPerSecond < 0 {
			return fmt.Errorf("fetch: WithBandwidth(%d): must not be negative (0: no cap)", bytesPerSecond)
		}
		c.bandwidth = bytesPerSecond
		return nil
	}
}

// capBandwidth wraps next so that the bodies of the responses sent through
// it are read at most bytesPerSecond in total (see WithBandwidth).
func capBandwidth(next http.RoundTripper, bytesPerSecond int64) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	burst := int(min(bytesPerSecond, maxBandwidthBurst))
	return bandwidthTransport{next: next, lim: rate.NewLimiter(rate.Limit(bytesPerSecond), burst)}
}

type bandwidthTransport struct {
	next http.RoundTripper
	lim  *rate.Limiter
}

func (t bandwidthTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp == nil || resp.Body == nil || resp.Body == http.NoBody ||
		resp.StatusCode == http.StatusSwitchingProtocols {
		return resp, err
	}
	resp.Body = &bandwidthBody{ReadCloser: resp.Body, ctx: req.Context(), lim: t.lim, closed: make(chan struct{})}
	return resp, nil
}

// CloseIdleConnections passes the call on to the transport wrapped, as
// http.Client does to its own.
func (t bandwidthTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// A bandwidthBody is a response body read under a bandwidth cap: each read
// takes at most lim's burst and pays for what it got before returning it.
// Closing it ends a read waiting to pay, as closing a net/http body ends a
// read waiting for bytes.
type bandwidthBody struct {
	io.ReadCloser
	ctx    context.Context // the request's: the attempt's, under WithAttemptTimeout
	lim    *rate.Limiter
	once   sync.Once
	closed chan struct{} // closed by Close
}

func (b *bandwidthBody) Read(p []byte) (int, error) {
	if burst := b.lim.Burst(); len(p) > burst {
		p = p[:burst]
	}
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		// The bytes have come over the network: they stay paid for even
		// if the context ends, or the body is closed, before the wait does.
		now := time.Now()
		d := b.lim.ReserveN(now, n).DelayFrom(now)
		if werr := ctxsleep.SleepOr(b.ctx, b.closed, http.ErrBodyReadAfterClose, d); werr != nil {
			return 0, werr
		}
	}
	return n, err
}

func (b *bandwidthBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return b.ReadCloser.Close()
}
