package otelfetch_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/c989c033/fetch"
	"go.opentelemetry.io/otel/codes"
)

// A call that ends with a *StatusError, as the hooks contract allows: the
// outcome is "status", the span's error.type the status code. The hooks
// are run by hand here, in the order a Fetcher runs them.
func TestHooksStatusError(t *testing.T) {
	e := newEnv(t)
	h := e.inst.Hooks()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://api.test/items/1", nil)
	ctx := h.OnCall(req.Context(), fetch.CallInfo{Request: req, Host: "api.test"})
	sent := req.WithContext(ctx)
	start := time.Now()
	resp := &http.Response{StatusCode: 404, Request: sent}
	h.OnAttempt(fetch.AttemptInfo{Request: sent, Host: "api.test", Attempt: 1, Response: resp, Status: 404,
		Start: start, Duration: 20 * time.Millisecond, Waited: 5 * time.Millisecond})
	err := &fetch.Error{Method: "GET", URL: req.URL.String(), Attempts: 1,
		Err: &fetch.StatusError{StatusCode: 404, Status: "404 Not Found"}}
	h.OnDone(fetch.DoneInfo{Context: ctx, Request: req, Host: "api.test", Attempts: 1, Status: 404, Err: err,
		Duration: 30 * time.Millisecond})

	ms := e.collect(t)
	calls := sums(t, ms["fetch.calls"])
	want := map[string]string{"server.address": "api.test", "server.port": "443",
		"fetch.status_class": "4xx", "fetch.outcome": "status"}
	if len(calls) != 1 || calls[0].Value != 1 || !sameAttrs(calls[0].Attributes, want) {
		t.Errorf("fetch.calls = %v; want 1 with %v", pointsString(calls), want)
	}
	d := histogram(t, ms["http.client.request.duration"])
	if len(d) != 1 || d[0].Sum != 0.02 || !sameAttrs(d[0].Attributes, map[string]string{
		"server.address": "api.test", "server.port": "443", "http.request.method": "GET",
		"http.response.status_code": "404", "error.type": "404"}) {
		t.Errorf("http.client.request.duration = %+v; want one 20ms attempt, 404", d)
	}
	w := histogram(t, ms["fetch.gate.wait.duration"])
	if len(w) != 1 || w[0].Sum != 0.005 {
		t.Errorf("fetch.gate.wait.duration = %+v; want one 5ms wait", w)
	}

	calls2, attempts := split(e.spans.Ended())
	if len(calls2) != 1 || len(attempts) != 1 {
		t.Fatalf("%d call spans, %d attempt spans; want 1 and 1", len(calls2), len(attempts))
	}
	span := calls2[0]
	got := spanAttrs(span.Attributes())
	if got["error.type"] != "404" || got["url.full"] != "https://api.test/items/1" || got["server.port"] != "443" {
		t.Errorf("call span attributes %v; want error.type 404, the URL, port 443", got)
	}
	// semconv: "Don't set the span status description if the reason can
	// be inferred from http.response.status_code".
	if st := span.Status(); st.Code != codes.Error || st.Description != "" {
		t.Errorf("call span status %+v; want Error, no description (the status code says it)", st)
	}
	a := attempts[0]
	if !a.StartTime().Equal(start) || a.EndTime().Sub(a.StartTime()) != 20*time.Millisecond {
		t.Errorf("attempt span %v + %v; want %v + 20ms", a.StartTime(), a.EndTime().Sub(a.StartTime()), start)
	}
	if got := spanAttrs(a.Attributes())["fetch.gate.wait"]; got != "0.005" {
		t.Errorf("attempt fetch.gate.wait = %q; want 0.005", got)
	}
}

// A context the hooks did not start (no OnCall) is left alone: its span is
// not ended, and the call is still counted.
func TestHooksWithoutOnCall(t *testing.T) {
	e := newEnv(t)
	ctx, parent := e.tp.Tracer("test").Start(context.Background(), "caller's")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://a.test:8080/", nil)
	h := e.inst.Hooks()
	h.OnRetry(fetch.RetryInfo{Request: req, Attempt: 1, Delay: time.Second, Status: 503})
	h.OnDone(fetch.DoneInfo{Context: ctx, Request: req, Host: "a.test:8080", Attempts: 1, Status: 503})
	if n := len(e.spans.Ended()); n != 0 {
		t.Errorf("%d spans ended; want none (the caller's is not ours)", n)
	}
	parent.End()
	if ended := e.spans.Ended(); len(ended) != 1 || len(ended[0].Events()) != 0 {
		t.Errorf("ended spans %v; want the caller's alone, without events", ended)
	}
	ms := e.collect(t)
	if p := sums(t, ms["fetch.retries"]); len(p) != 1 || !sameAttrs(p[0].Attributes, map[string]string{
		"server.address": "a.test", "server.port": "8080", "error.type": "503"}) {
		t.Errorf("fetch.retries = %v; want 1 for a.test:8080, 503", pointsString(p))
	}
}
