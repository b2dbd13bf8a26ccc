package otelfetch

import (
	"context"
	"errors"
	"fmt"

	"github.com/c989c033/fetch"
	"go.opentelemetry.io/otel/metric"
)

// Observe registers the gauges read from f's [fetch.Fetcher.Stats] at each
// collection: fetch.in_flight, fetch.waiting and, unless
// [WithoutHostAttribute], fetch.host.rate for each host paced by an
// adaptive rate or by the ramp after a Retry-After pause. f is normally a Fetcher built with in's [Instrumentation.Hooks],
// but need not be.
//
// unregister stops the reporting; call it when f is shut down, or the
// MeterProvider keeps f reachable. Observing several Fetchers with one
// Instrumentation adds up their in-flight and waiting counts, while their
// rates for a host they share overwrite each other: give each Fetcher its
// own Instrumentation, with [WithAttributes], to tell them apart. Observing
// one Fetcher twice counts it twice.
func (in *Instrumentation) Observe(f *fetch.Fetcher) (unregister func() error, err error) {
	if f == nil {
		return nil, errors.New("otelfetch: Observe of a nil Fetcher")
	}
	base := in.metricOpt(nil)
	reg, err := in.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := f.Stats()
		o.ObserveInt64(in.inFlight, s.InFlight, base)
		o.ObserveInt64(in.waiting, s.Waiting, base)
		if in.noHost {
			return nil
		}
		for _, h := range s.Hosts {
			if h.Rate > 0 {
				// The Fetcher's host key drops the scheme's default port,
				// and the scheme: a missing port stays missing.
				o.ObserveFloat64(in.hostRate, float64(h.Rate), in.metricOpt(serverAttrs(h.Host, "")))
			}
		}
		return nil
	}, in.inFlight, in.waiting, in.hostRate)
	if err != nil {
		return nil, fmt.Errorf("otelfetch: registering the gauges: %w", err)
	}
	return reg.Unregister, nil
}
