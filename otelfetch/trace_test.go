package otelfetch_test

import (
	"maps"
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// spanAttrs renders a span's attributes as strings.
func spanAttrs(kvs []attribute.KeyValue) map[string]string {
	return attrs(attribute.NewSet(kvs...))
}

// split returns the call spans (named after the method) and the attempt
// spans of spans, the attempts in order.
func split(spans []sdktrace.ReadOnlySpan) (calls, attempts []sdktrace.ReadOnlySpan) {
	for _, s := range spans {
		if s.Name() == "attempt" {
			attempts = append(attempts, s)
		} else {
			calls = append(calls, s)
		}
	}
	slices.SortFunc(attempts, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	return calls, attempts
}

// A 503 then a 200, inside a span of the caller's: the call's span is its
// child, the attempts are the call's children, the retry is an event.
func TestTraceRetryThenSuccess(t *testing.T) {
	e := newEnv(t)
	f := e.fetcher(t)
	url, port := server(t, failFirst())
	ctx, parent := e.tp.Tracer("test").Start(t.Context(), "parent")
	if _, err := f.Get(ctx, url+"/x?q=1"); err != nil {
		t.Fatalf("Get: %v", err)
	}
	parent.End()

	calls, attempts := split(e.spans.Ended())
	if len(calls) != 2 || len(attempts) != 2 { // the call's and the parent
		t.Fatalf("%d call spans, %d attempt spans; want 2 and 2", len(calls), len(attempts))
	}
	call := calls[0]
	if call.Name() == "parent" {
		call = calls[1]
	}
	if call.Name() != "GET" || call.SpanKind() != trace.SpanKindClient {
		t.Errorf("call span %q of kind %v; want GET, client", call.Name(), call.SpanKind())
	}
	if call.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("call span's parent %v; want the caller's span %v", call.Parent().SpanID(), parent.SpanContext().SpanID())
	}
	wantCall := map[string]string{
		"http.request.method": "GET", "server.address": "127.0.0.1", "server.port": port,
		"url.full": url + "/x?q=1", "http.response.status_code": "200", "fetch.attempts": "2",
		"network.protocol.version": "1.1",
	}
	if got := spanAttrs(call.Attributes()); !maps.Equal(got, wantCall) {
		t.Errorf("call span attributes = %v; want %v", got, wantCall)
	}
	if call.Status().Code != codes.Unset {
		t.Errorf("call span status %v; want unset", call.Status())
	}

	for i, a := range attempts {
		if a.Parent().SpanID() != call.SpanContext().SpanID() || a.SpanContext().TraceID() != call.SpanContext().TraceID() {
			t.Errorf("attempt %d: parent %v; want the call's span %v", i+1, a.Parent().SpanID(), call.SpanContext().SpanID())
		}
		if a.SpanKind() != trace.SpanKindInternal {
			t.Errorf("attempt %d: kind %v; want internal", i+1, a.SpanKind())
		}
		if a.StartTime().Before(call.StartTime()) || a.EndTime().After(call.EndTime()) || !a.EndTime().After(a.StartTime()) {
			t.Errorf("attempt %d runs %v–%v, outside the call's %v–%v", i+1,
				a.StartTime(), a.EndTime(), call.StartTime(), call.EndTime())
		}
	}
	if len(attempts) == 2 && attempts[1].StartTime().Before(attempts[0].EndTime().Add(time.Millisecond)) {
		t.Errorf("attempt 2 starts %v after attempt 1 ends; want at least the 1ms backoff",
			attempts[1].StartTime().Sub(attempts[0].EndTime()))
	}
	first, second := spanAttrs(attempts[0].Attributes()), spanAttrs(attempts[1].Attributes())
	for k, want := range map[string]string{"fetch.attempt": "1", "http.response.status_code": "503", "error.type": "503",
		"server.address": "127.0.0.1", "server.port": port} {
		if first[k] != want {
			t.Errorf("attempt 1: %s = %q; want %q (all: %v)", k, first[k], want, first)
		}
	}
	if _, ok := first["http.request.resend_count"]; ok {
		t.Errorf("attempt 1 has http.request.resend_count; want it only on resends")
	}
	if _, ok := first["fetch.gate.wait"]; !ok {
		t.Errorf("attempt 1 has no fetch.gate.wait")
	}
	if attempts[0].Status().Code != codes.Error {
		t.Errorf("attempt 1 status %v; want Error (a 503)", attempts[0].Status())
	}
	for k, want := range map[string]string{"fetch.attempt": "2", "http.request.resend_count": "1", "http.response.status_code": "200"} {
		if second[k] != want {
			t.Errorf("attempt 2: %s = %q; want %q (all: %v)", k, second[k], want, second)
		}
	}
	if _, ok := second["error.type"]; ok || attempts[1].Status().Code != codes.Unset {
		t.Errorf("attempt 2 has error.type %q, status %v; want neither", second["error.type"], attempts[1].Status())
	}

	events := call.Events()
	if len(events) != 1 || events[0].Name != "fetch.retry" {
		t.Fatalf("call span events %+v; want one fetch.retry", events)
	}
	ev := spanAttrs(events[0].Attributes)
	want := map[string]string{"fetch.attempt": "1", "fetch.retry.delay": "0.001", "http.response.status_code": "503", "error.type": "503"}
	if !maps.Equal(ev, want) {
		t.Errorf("fetch.retry event attributes = %v; want %v", ev, want)
	}
	if at := events[0].Time; at.Before(attempts[0].EndTime()) || at.After(attempts[1].StartTime()) {
		t.Errorf("retry event at %v; want between the attempts (%v, %v)", at, attempts[0].EndTime(), attempts[1].StartTime())
	}

	// The histogram holds the durations the attempt spans show.
	var spanSum float64
	for _, a := range attempts {
		spanSum += a.EndTime().Sub(a.StartTime()).Seconds()
	}
	var histSum float64
	for _, p := range e.collect(t)["http.client.request.duration"].Data.(metricdata.Histogram[float64]).DataPoints {
		histSum += p.Sum
	}
	if math.Abs(spanSum-histSum) > 1e-6 {
		t.Errorf("attempt durations: histogram %vs, spans %vs; want the same", histSum, spanSum)
	}
}

func TestTraceFailures(t *testing.T) {
	notFound, _ := server(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	refused, _ := refusedURL(t)
	tests := []struct {
		name, url, errorType string
		attempts             int
		status               string // the call's http.response.status_code, "" for none
	}{
		{"404", notFound + "/missing", "404", 1, "404"},
		{"refused", refused, "connection_refused", fastRetries.MaxAttempts, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			f := e.fetcher(t)
			if _, err := f.Get(t.Context(), tt.url); err == nil {
				t.Fatalf("Get succeeded; want an error")
			}
			calls, attempts := split(e.spans.Ended())
			if len(calls) != 1 || len(attempts) != tt.attempts {
				t.Fatalf("%d call spans, %d attempt spans; want 1 and %d", len(calls), len(attempts), tt.attempts)
			}
			call := spanAttrs(calls[0].Attributes())
			if call["error.type"] != tt.errorType || call["http.response.status_code"] != tt.status ||
				call["fetch.attempts"] != itoa(tt.attempts) {
				t.Errorf("call span attributes %v; want error.type %s, status %q, %d attempts", call, tt.errorType, tt.status, tt.attempts)
			}
			if st := calls[0].Status(); st.Code != codes.Error || tt.status == "" && st.Description == "" {
				t.Errorf("call span status %+v; want Error, with the error's text if no response", st)
			}
			for i, a := range attempts {
				if got := spanAttrs(a.Attributes())["error.type"]; got != tt.errorType || a.Status().Code != codes.Error {
					t.Errorf("attempt %d: error.type %q, status %v; want %s, Error", i+1, got, a.Status(), tt.errorType)
				}
			}
			if n := len(calls[0].Events()); n != tt.attempts-1 {
				t.Errorf("%d retry events; want %d", n, tt.attempts-1)
			}
		})
	}
}

// Spans that are not sampled are not recorded; the metrics still are.
func TestTraceNotSampled(t *testing.T) {
	e := newSampledEnv(t, sdktrace.NeverSample())
	f := e.fetcher(t)
	url, _ := server(t, failFirst())
	if _, err := f.Get(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	if n := len(e.spans.Ended()); n != 0 {
		t.Errorf("%d spans recorded; want none", n)
	}
	ms := e.collect(t)
	if p := sums(t, ms["fetch.calls"]); len(p) != 1 || p[0].Value != 1 {
		t.Errorf("fetch.calls = %v; want 1", pointsString(p))
	}
	if p := sums(t, ms["fetch.retries"]); len(p) != 1 || p[0].Value != 1 {
		t.Errorf("fetch.retries = %v; want 1", pointsString(p))
	}
}
