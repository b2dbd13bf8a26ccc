package otelfetch

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// An Option configures an [Instrumentation]; see [New].
type Option func(*config)

type config struct {
	meterProvider  metric.MeterProvider // nil: the global one
	tracerProvider trace.TracerProvider // nil: the global one
	noHost         bool
	attrs          []attribute.KeyValue
	knownMethods   []string // WithKnownMethods
	methodsSet     bool     // WithKnownMethods was given
}

// WithMeterProvider records the metrics with mp. Without it, or with a nil
// mp, they go to the global MeterProvider ([otel.GetMeterProvider]), which
// forwards them to whichever provider [otel.SetMeterProvider] sets, even
// after New.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meterProvider = mp }
}

// WithTracerProvider records the spans with tp. Without it, or with a nil
// tp, they go to the global TracerProvider ([otel.GetTracerProvider]),
// which forwards them to whichever provider [otel.SetTracerProvider] sets,
// even after New.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tracerProvider = tp }
}

// WithoutHostAttribute leaves server.address and server.port out of every
// metric, so that the number of time series no longer grows with the
// number of hosts fetched, and leaves fetch.host.rate unreported. Spans
// keep them. See the package documentation on cardinality.
func WithoutHostAttribute() Option {
	return func(c *config) { c.noHost = true }
}

// WithAttributes adds attrs to every metric value recorded, for example to
// tell apart the Fetchers of one process, each with its own
// Instrumentation. Spans do not get them.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return func(c *config) { c.attrs = append(c.attrs, attrs...) }
}

// WithKnownMethods replaces the HTTP methods that http.request.method and
// the span's name report as they are: by default those of RFC 9110 and RFC
// 5789 (GET, HEAD, POST, PUT, PATCH, DELETE, CONNECT, OPTIONS, TRACE).
// Any other method is reported as _OTHER, with the span named "HTTP" and
// http.request.method_original giving the method. Methods are
// case-sensitive: "get" is not GET. The list is a full override, as the
// semantic conventions want: to add PURGE, give the defaults as well.
// With no methods, every method is _OTHER.
//
// Without this option, New takes the list from the environment variable
// OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS, a comma-separated list, if it
// is set and not empty; the option takes precedence over it.
func WithKnownMethods(methods ...string) Option {
	return func(c *config) {
		c.knownMethods = append(c.knownMethods[:0:0], methods...)
		c.methodsSet = true
	}
}
