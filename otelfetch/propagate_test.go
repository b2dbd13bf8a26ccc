package otelfetch_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/c989c033/fetch/otelfetch"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Propagate injects the call span's trace context into every request the
// server sees, retries and redirects included, with the propagator given;
// without Propagate nothing is injected.
func TestPropagate(t *testing.T) {
	var mu sync.Mutex
	var seen []string // traceparent of each request, in order
	fails := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Traceparent"))
		fail := fails > 0 && r.URL.Path == "/to"
		if fail {
			fails--
		}
		mu.Unlock()
		switch {
		case r.URL.Path == "/from":
			http.Redirect(w, r, "/to", http.StatusFound)
		case fail:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)

	e := newEnv(t)
	f := e.fetcher(t, otelfetch.Propagate(propagation.TraceContext{}))
	if r := f.Fetch(t.Context(), srv.URL+"/from"); r.Err != nil {
		t.Fatal(r.Err)
	}
	var call trace.SpanContext
	for _, s := range e.spans.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			call = s.SpanContext()
		}
	}
	if !call.IsValid() {
		t.Fatal("no client span")
	}
	want := "00-" + call.TraceID().String() + "-" + call.SpanID().String() + "-01"
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 4 { // /from, /to (503), /from, /to
		t.Fatalf("server saw %d requests; want 4", len(seen))
	}
	for i, tp := range seen {
		if tp != want {
			t.Errorf("request %d: traceparent %q; want %q (the call's span)", i, tp, want)
		}
	}

	seen = seen[:0]
	mu.Unlock()
	plain := e.fetcher(t)
	r := plain.Fetch(t.Context(), srv.URL+"/to")
	mu.Lock()
	if r.Err != nil || len(seen) != 1 || seen[0] != "" {
		t.Errorf("without Propagate: %v, traceparents %q; want one request with none", r.Err, seen)
	}
}
