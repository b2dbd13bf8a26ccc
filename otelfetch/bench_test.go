package otelfetch_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/otelfetch"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkHooks measures what the hooks add to a call of one attempt:
// OnCall, OnAttempt and OnDone, recorded by the SDK, with spans sampled or
// not.
func BenchmarkHooks(b *testing.B) {
	for _, sampled := range []bool{false, true} {
		name := "unsampled"
		sampler := sdktrace.NeverSample()
		if sampled {
			name, sampler = "sampled", sdktrace.AlwaysSample()
		}
		b.Run(name, func(b *testing.B) {
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			defer mp.Shutdown(context.Background())
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler)) // spans recorded, then dropped
			defer tp.Shutdown(context.Background())
			h := otelfetch.New(otelfetch.WithMeterProvider(mp), otelfetch.WithTracerProvider(tp)).Hooks()
			req, _ := http.NewRequest(http.MethodGet, "https://api.test/items/1", nil)
			resp := &http.Response{StatusCode: 200, Request: req}
			b.ReportAllocs()
			for b.Loop() {
				ctx := h.OnCall(req.Context(), fetch.CallInfo{Request: req, Host: "api.test"})
				sent := req.WithContext(ctx)
				h.OnAttempt(fetch.AttemptInfo{Request: sent, Host: "api.test", Attempt: 1, Response: resp,
					Status: 200, Start: time.Now(), Duration: time.Millisecond})
				h.OnDone(fetch.DoneInfo{Context: ctx, Request: req, Host: "api.test", Attempts: 1, Status: 200})
			}
		})
	}
}
