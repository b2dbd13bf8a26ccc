package otelfetch

import (
	"net/http"

	"github.com/c989c033/fetch"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// Propagate returns a fetch option that injects the trace context of each
// request's context (the call's span, with an Instrumentation's hooks; see
// [Instrumentation.Hooks]) into the request's headers as it is sent, for
// every attempt and redirect, so that the server's spans join the trace.
// It injects with p, or, if p is nil, with the global propagator
// ([otel.GetTextMapPropagator]) as it is when each request is sent. It
// wraps the transport the Fetcher builds ([fetch.WithTransportWrapper]), so
// its pooling, TLS settings and SSRF guard stay; with [fetch.WithClient],
// wrap that client's transport with otelhttp.NewTransport instead.
func Propagate(p propagation.TextMapPropagator) fetch.Option {
	return fetch.WithTransportWrapper(func(next http.RoundTripper) http.RoundTripper {
		return &injector{next: next, prop: p}
	})
}

// injector is the RoundTripper Propagate wraps the Fetcher's transport in.
type injector struct {
	next http.RoundTripper
	prop propagation.TextMapPropagator
}

func (t *injector) RoundTrip(req *http.Request) (*http.Response, error) {
	p := t.prop
	if p == nil {
		p = otel.GetTextMapPropagator()
	}
	// A RoundTripper must not change the request it is given: inject into
	// a copy with a header of its own.
	r := *req
	r.Header = req.Header.Clone()
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	p.Inject(req.Context(), propagation.HeaderCarrier(r.Header))
	return t.next.RoundTrip(&r)
}

// CloseIdleConnections closes the idle connections of the transport
// wrapped, as [http.Client.CloseIdleConnections] asks of its transport.
func (t *injector) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
