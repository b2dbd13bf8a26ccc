package otelfetch

import (
	"errors"
	"os"
	"runtime/debug"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the meter and tracer an
// [Instrumentation] uses.
const ScopeName = "github.com/c989c033/fetch/otelfetch"

// version is the instrumentation scope's version: this module's, as the
// program was built with it; "" if that is not known (a build from its own
// source tree, or without module information).
var version = func() string {
	bi, _ := debug.ReadBuildInfo()
	return moduleVersion(bi)
}()

// moduleVersion returns the version of this module in bi, "" if bi does not
// say.
func moduleVersion(bi *debug.BuildInfo) string {
	if bi == nil {
		return ""
	}
	for _, m := range append([]*debug.Module{&bi.Main}, bi.Deps...) {
		if m.Path != ScopeName {
			continue
		}
		if m.Replace != nil {
			m = m.Replace
		}
		if m.Version == "(devel)" {
			return ""
		}
		return m.Version
	}
	return ""
}

// Instrumentation records what a [fetch.Fetcher] does as the metrics and
// spans the package documentation lists. Make one with [New]; the zero
// value is not usable.
//
// It is safe for concurrent use, and its configuration is fixed by New.
// One Instrumentation may serve several Fetchers: their values then add up
// under the same attributes (use [WithAttributes] and one Instrumentation
// per Fetcher to tell them apart).
type Instrumentation struct {
	tracer trace.Tracer
	meter  metric.Meter
	noHost bool
	attrs  []attribute.KeyValue // WithAttributes

	knownMethods map[string]struct{} // WithKnownMethods, OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS or defaultMethods

	attemptDuration metric.Float64Histogram
	gateWait        metric.Float64Histogram
	calls           metric.Int64Counter
	retries         metric.Int64Counter
	inFlight        metric.Int64ObservableUpDownCounter
	waiting         metric.Int64ObservableUpDownCounter
	hostRate        metric.Float64ObservableGauge
}

// durationBuckets are the semantic conventions' bucket boundaries for
// http.client.request.duration, in seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// waitBuckets are the bucket boundaries of fetch.gate.wait.duration, in
// seconds: most attempts do not wait at all, some wait out a Retry-After.
var waitBuckets = []float64{0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// New returns an Instrumentation that records with the providers opts
// name, or the global ones. It reads the environment variable
// OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS (see [WithKnownMethods]) once,
// here. An error in creating an instrument, which the OpenTelemetry SDK
// reports only for an invalid name or a conflicting definition, goes to
// [otel.Handle]; the instrument it comes back with still works.
func New(opts ...Option) *Instrumentation {
	var c config
	for _, o := range opts {
		o(&c)
	}
	mp, tp := c.meterProvider, c.tracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	in := &Instrumentation{
		tracer: tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL), trace.WithInstrumentationVersion(version)),
		meter:  mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL), metric.WithInstrumentationVersion(version)),
		noHost: c.noHost,
		attrs:  c.attrs,
	}
	methods := defaultMethods
	if c.methodsSet {
		methods = c.knownMethods
	} else if env := parseMethods(os.Getenv(knownMethodsEnv)); len(env) > 0 {
		methods = env
	}
	in.knownMethods = make(map[string]struct{}, len(methods))
	for _, m := range methods {
		in.knownMethods[m] = struct{}{}
	}
	if err := in.instruments(); err != nil {
		otel.Handle(err)
	}
	return in
}

// instruments creates the Instrumentation's instruments.
func (in *Instrumentation) instruments() error {
	m := in.meter
	var err [7]error
	in.attemptDuration, err[0] = m.Float64Histogram("http.client.request.duration",
		metric.WithDescription("Duration of HTTP client requests: each attempt, its body included when the call reads it."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(durationBuckets...))
	in.gateWait, err[1] = m.Float64Histogram("fetch.gate.wait.duration",
		metric.WithDescription("Time each attempt waited at the gates (Retry-After pause, rate tokens, in-flight slots) before it was sent."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(waitBuckets...))
	in.calls, err[2] = m.Int64Counter("fetch.calls",
		metric.WithDescription("Calls ended, by final status class and outcome."), metric.WithUnit("{call}"))
	in.retries, err[3] = m.Int64Counter("fetch.retries",
		metric.WithDescription("Retries decided, by the failed attempt's error type."), metric.WithUnit("{retry}"))
	in.inFlight, err[4] = m.Int64ObservableUpDownCounter("fetch.in_flight",
		metric.WithDescription("Attempts holding an in-flight slot, their response body still open."), metric.WithUnit("{request}"))
	in.waiting, err[5] = m.Int64ObservableUpDownCounter("fetch.waiting",
		metric.WithDescription("Calls waiting to retry, at a gate, or queued for their host by a batch, stream or crawl."), metric.WithUnit("{call}"))
	in.hostRate, err[6] = m.Float64ObservableGauge("fetch.host.rate",
		metric.WithDescription("Each host's adaptive rate."), metric.WithUnit("{request}/s"))
	return errors.Join(err[:]...)
}

// metricOpt returns the option that records a metric value with attrs,
// the host's attributes unless WithoutHostAttribute, and WithAttributes'.
func (in *Instrumentation) metricOpt(host []attribute.KeyValue, attrs ...attribute.KeyValue) metric.MeasurementOption {
	all := make([]attribute.KeyValue, 0, len(host)+len(attrs)+len(in.attrs))
	if !in.noHost {
		all = append(all, host...)
	}
	all = append(all, attrs...)
	all = append(all, in.attrs...)
	return metric.WithAttributeSet(attribute.NewSet(all...))
}
