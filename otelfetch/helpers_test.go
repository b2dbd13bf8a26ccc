package otelfetch_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/otelfetch"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is an Instrumentation recording with the real SDK into memory.
type env struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	inst   *otelfetch.Instrumentation
}

func newEnv(t *testing.T, opts ...otelfetch.Option) *env {
	t.Helper()
	return newSampledEnv(t, sdktrace.AlwaysSample(), opts...)
}

// newSampledEnv is newEnv with the spans sampled by sampler.
func newSampledEnv(t *testing.T, sampler sdktrace.Sampler, opts ...otelfetch.Option) *env {
	t.Helper()
	e := &env{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.reader))
	e.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(e.spans), sdktrace.WithSampler(sampler))
	t.Cleanup(func() {
		// A fresh context: t.Context is done by the time cleanups run.
		ctx := context.Background()
		if err := mp.Shutdown(ctx); err != nil {
			t.Errorf("MeterProvider.Shutdown: %v", err)
		}
		if err := e.tp.Shutdown(ctx); err != nil {
			t.Errorf("TracerProvider.Shutdown: %v", err)
		}
	})
	opts = append([]otelfetch.Option{otelfetch.WithMeterProvider(mp), otelfetch.WithTracerProvider(e.tp)}, opts...)
	e.inst = otelfetch.New(opts...)
	return e
}

// fastRetries retries at once, after exactly 1ms, up to 3 attempts.
var fastRetries = fetch.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, Jitter: fetch.NoJitter}

// fetcher returns a Fetcher with e's hooks, shut down when t ends.
func (e *env) fetcher(t *testing.T, opts ...fetch.Option) *fetch.Fetcher {
	t.Helper()
	opts = append([]fetch.Option{fetch.WithHooks(e.inst.Hooks()), fetch.WithRetry(fastRetries)}, opts...)
	f, err := fetch.New(opts...)
	if err != nil {
		t.Fatalf("fetch.New: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return f
}

// collect reads every metric, by name.
func (e *env) collect(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(t.Context(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	byName := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelfetch.ScopeName {
			t.Errorf("scope %q; want %q", sm.Scope.Name, otelfetch.ScopeName)
		}
		for _, m := range sm.Metrics {
			byName[m.Name] = m
		}
	}
	return byName
}

// attrs renders an attribute set as a map of strings, to compare.
func attrs(s attribute.Set) map[string]string {
	m := map[string]string{}
	for _, kv := range s.ToSlice() {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// sums returns the data points of an Int64 sum, keyed by their attributes
// rendered with key.
func sums(t *testing.T, m metricdata.Metrics) []metricdata.DataPoint[int64] {
	t.Helper()
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s: data %T; want an int64 sum", m.Name, m.Data)
	}
	return s.DataPoints
}

func histogram(t *testing.T, m metricdata.Metrics) []metricdata.HistogramDataPoint[float64] {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s: data %T; want a float64 histogram", m.Name, m.Data)
	}
	return h.DataPoints
}

// sameAttrs reports whether got holds exactly want.
func sameAttrs(got attribute.Set, want map[string]string) bool {
	g := attrs(got)
	if len(g) != len(want) {
		return false
	}
	for k, v := range want {
		if g[k] != v {
			return false
		}
	}
	return true
}

// server starts a loopback server with h, closed when t ends, and returns
// its URL and port.
func server(t *testing.T, h http.HandlerFunc) (string, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL, port
}

// failFirst answers 503 to the first request, then 200.
func failFirst() http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}
}

// refusedURL returns a loopback URL nothing listens on, and its port.
func refusedURL(t *testing.T) (string, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	return "http://" + addr + "/gone", port
}

// waitUntil spins, yielding, until cond holds; it fails t after 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		runtime.Gosched()
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// seeDone returns hooks that keep the last DoneInfo, to be given with
// [fetch.WithHooks] beside e's (which run first), and a function that
// returns it.
func (e *env) seeDone() (fetch.Hooks, func() fetch.DoneInfo) {
	var last atomic.Pointer[fetch.DoneInfo]
	h := fetch.Hooks{OnDone: func(d fetch.DoneInfo) { last.Store(&d) }}
	return h, func() fetch.DoneInfo { return *last.Load() }
}
