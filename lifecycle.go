package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/c989c033/fetch/internal/hostkey"
)

// Shutdown stops the Fetcher admitting new calls, which fail with
// [ErrClosed] from then on. A call admitted but not on the wire fails at
// once with ErrClosed, sending nothing more: one waiting at a gate (a
// Retry-After pause, a rate token, an in-flight slot), waiting to retry, or
// queued by a batch, stream or crawl. A [Limiter] of yours is waited for
// under a context that Shutdown cancels. Shutdown waits until
// every call on the wire has finished, its response body and its OnDone
// hook included, or until ctx is done, whichever comes first, like
// [http.Server.Shutdown]. It then closes the idle connections of the client
// the Fetcher built for itself (never those of a client passed with
// [WithClient]).
//
// It returns ctx's error if ctx ended first; the calls still running go on
// (their own contexts end them), and the idle connections stay open until
// a later Shutdown. Called from inside a call (a hook, a [Handle] handler,
// or holding a [Fetcher.Do] response body), Shutdown waits for that call
// too, so until ctx ends: call it from another goroutine. Shutdown may be
// called more than once and from any goroutine. A Fetcher never shut down
// keeps its idle connections until they time out.
func (f *Fetcher) Shutdown(ctx context.Context) error {
	if ctx == nil {
		return errors.New("fetch: Shutdown(nil context)")
	}
	f.closed.Store(true)
	f.closeOnce.Do(func() {
		close(f.closing)
		f.shut()
	})
	if f.active.Load() == 0 {
		f.drainOnce.Do(func() { close(f.drained) })
	}
	select {
	case <-f.drained: // first, so that an idle Fetcher shuts down whatever ctx says
	default:
		select {
		case <-f.drained:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.ownTransport != nil {
		f.client.CloseIdleConnections()       // a wrapper's (WithTransportWrapper), if it has any
		f.ownTransport.CloseIdleConnections() // whether or not a wrapper passes it on
	}
	return nil
}

// enter registers a call, unless Shutdown has begun.
func (f *Fetcher) enter() bool {
	f.active.Add(1)
	if f.closed.Load() {
		f.exit(nil)
		return false
	}
	return true
}

// exit ends a call that enter registered, and its reference to h (nil if
// the call never got one).
func (f *Fetcher) exit(h *host) {
	if h != nil {
		f.gates.hosts.put(h)
	}
	if f.active.Add(-1) == 0 && f.closed.Load() {
		f.drainOnce.Do(func() { close(f.drained) })
	}
}

// host returns the per-host gates for req.
func (f *Fetcher) host(req *http.Request) *host {
	return f.gates.hosts.get(hostKey(req.URL))
}

// hostKey is the name a URL's host has in the Fetcher's per-host gates:
// its host and port, lower-cased, without the scheme's default port, an
// empty port, a port's leading zeros or the name's trailing dot, so that
// HTTP://A.test:80/, http://a.test:/ and http://a.test./ share one host's
// limits (see [hostkey.Of]).
func hostKey(u *url.URL) string { return hostkey.Of(u) }
