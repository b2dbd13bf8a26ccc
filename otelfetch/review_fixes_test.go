package otelfetch_test

// Tests of the fixes to the review's defects (semconv_review_test.go) that
// its tests leave uncovered.

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/otelfetch"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// A failed request's span status descriptions, which keep the error's
// text, hide what url.full hides: the user and password of any URL the
// text names, and the values of the signature parameters of semconv 1.43
// and earlier, whatever their case.
func TestSecretsNotInSpanStatus(t *testing.T) {
	e := newEnv(t)
	f := e.reviewFetcher(t, reviewTransport(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("boom")
	}))
	for _, u := range []string{
		"https://SECRETUSER@api.test/a",
		"https://SECRETUSER:SECRETPW@api.test/b",
		"https://api.test/c?X-Amz-Credential=SECRET1&X-Amz-Security-Token=SECRET2&X-Amz-Signature=SECRET3&q=1",
		"https://api.test/d?x-amz-signature=SECRET1&AWSAccessKeyId=SECRET2&Signature=SECRET3&sig=SECRET4&X-Goog-Signature=SECRET5",
	} {
		if _, err := f.Get(t.Context(), u); err == nil {
			t.Fatalf("Get %s: no error", u)
		}
	}
	spans := e.spans.Ended()
	if len(spans) != 8 {
		t.Fatalf("%d spans; want 8", len(spans))
	}
	for _, s := range spans {
		d := s.Status().Description
		if s.Status().Code != codes.Error || !strings.Contains(d, "boom") {
			t.Errorf("span %q status %+v; want Error with the error's text", s.Name(), s.Status())
		}
		if strings.Contains(d, "SECRET") {
			t.Errorf("span %q status description %q shows a secret", s.Name(), d)
		}
		if strings.Contains(d, "://") && !strings.Contains(d, "REDACTED") {
			t.Errorf("span %q status description %q: nothing REDACTED", s.Name(), d)
		}
	}
}

// Get's 404 fails the call with a *StatusError: neither the call's span nor
// the attempt's has a status description, the status code says it. An
// error that the status code does not explain keeps its description.
func TestNoStatusDescriptionOnAttempts(t *testing.T) {
	e := newEnv(t)
	f := e.reviewFetcher(t, status(404))
	if _, err := f.Get(t.Context(), "http://api.test/x"); err == nil {
		t.Fatal("Get 404: no error")
	}
	for _, s := range e.spans.Ended() {
		if st := s.Status(); st.Code != codes.Error || st.Description != "" {
			t.Errorf("span %q status %+v; want Error with no description", s.Name(), st)
		}
	}
}

// WithKnownMethods replaces the known methods, on spans and on the
// duration metric, and wins over the environment variable.
func TestWithKnownMethods(t *testing.T) {
	t.Setenv("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET")
	e := newEnv(t, otelfetch.WithKnownMethods("GET", "PURGE"))
	f := e.reviewFetcher(t, status(200))
	for _, m := range []string{"PURGE", "POST"} {
		if _, err := f.Get(t.Context(), "https://api.test/x", fetch.Method(m)); err != nil {
			t.Fatal(err)
		}
	}
	calls, _ := split(e.spans.Ended())
	want := map[string]string{"PURGE": "PURGE", "HTTP": "_OTHER"} // span name: http.request.method
	if len(calls) != 2 {
		t.Fatalf("%d call spans; want 2", len(calls))
	}
	for _, c := range calls {
		if got := spanAttrs(c.Attributes())["http.request.method"]; got != want[c.Name()] {
			t.Errorf("span %q http.request.method %q; want %q", c.Name(), got, want[c.Name()])
		}
	}
	methods := map[string]bool{}
	for _, p := range durationPoints(t, e) {
		methods[attrs(p.Attributes)["http.request.method"]] = true
	}
	if len(methods) != 2 || !methods["PURGE"] || !methods["_OTHER"] {
		t.Errorf("duration http.request.method %v; want PURGE and _OTHER", methods)
	}
}

// OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS is read by New, not at each call.
func TestKnownMethodsEnvReadByNew(t *testing.T) {
	t.Setenv("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "")
	e := newEnv(t)
	t.Setenv("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET,PURGE")
	f := e.reviewFetcher(t, status(200))
	if _, err := f.Get(t.Context(), "https://api.test/x", fetch.Method("PURGE")); err != nil {
		t.Fatal(err)
	}
	if call, _ := oneCall(t, e); call.Name() != "HTTP" {
		t.Errorf("span %q; want HTTP, the environment read when New ran", call.Name())
	}
}

// network.protocol.version is that of the response: "1.0" for HTTP/1.0,
// and none when no response came.
func TestNetworkProtocolVersionHTTP10AndFailure(t *testing.T) {
	e := newEnv(t)
	f := e.reviewFetcher(t, reviewTransport(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/fail" {
			return nil, errors.New("boom")
		}
		return &http.Response{StatusCode: 200, Proto: "HTTP/1.0", ProtoMajor: 1, ProtoMinor: 0}, nil
	}))
	if _, err := f.Get(t.Context(), "https://api.test/ok"); err != nil {
		t.Fatal(err)
	}
	f.Get(t.Context(), "https://api.test/fail")
	for _, s := range e.spans.Ended() {
		a := spanAttrs(s.Attributes())
		failed := s.Status().Code == codes.Error
		if v, ok := a["network.protocol.version"]; failed && ok || !failed && v != "1.0" {
			t.Errorf("span %q (failed %v) network.protocol.version %q (set %v); want 1.0 if a response came", s.Name(), failed, v, ok)
		}
	}
	for _, p := range durationPoints(t, e) {
		pa := attrs(p.Attributes)
		_, failed := pa["error.type"]
		if v, ok := pa["network.protocol.version"]; failed && ok || !failed && v != "1.0" {
			t.Errorf("duration point %v; want network.protocol.version 1.0 if a response came", pa)
		}
	}
}

// A Fetcher's own Host (WithHeader("Host", ...)) is server.address and
// server.port of the spans and metrics, for Get (whose request has it when
// the call starts, so the sampler sees it) and for Do (whose caller's
// request does not: the call's span takes it from the request sent).
func TestServerAddressFromFetcherHost(t *testing.T) {
	for _, do := range []bool{false, true} {
		t.Run(map[bool]string{false: "Get", true: "Do"}[do], func(t *testing.T) {
			s := &recordingSampler{}
			e := newSampledEnv(t, s)
			f := e.reviewFetcher(t, status(503), fetch.WithHeader("Host", "API.example.com:8443"))
			if do {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://10.0.0.7/x", nil)
				resp, err := f.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			} else if _, err := f.Get(t.Context(), "https://10.0.0.7/x"); err == nil {
				t.Fatal("Get 503: no error")
			}
			if !do {
				if got := s.clientAttrs(); got["server.address"] != "api.example.com" || got["server.port"] != "8443" {
					t.Errorf("sampler saw %v; want server api.example.com:8443", got)
				}
			}
			call, attempts := oneCall(t, e)
			for _, sp := range append([]sdktrace.ReadOnlySpan{call}, attempts...) {
				a := spanAttrs(sp.Attributes())
				if a["server.address"] != "api.example.com" || a["server.port"] != "8443" {
					t.Errorf("span %q server %s:%s; want api.example.com:8443", sp.Name(), a["server.address"], a["server.port"])
				}
			}
			ms := e.collect(t)
			points := attrs(sums(t, ms["fetch.calls"])[0].Attributes)
			for _, p := range histogram(t, ms["http.client.request.duration"]) {
				if pa := attrs(p.Attributes); pa["server.address"] != "api.example.com" || pa["server.port"] != "8443" {
					t.Errorf("duration point %v; want server api.example.com:8443", pa)
				}
			}
			if points["server.address"] != "api.example.com" || points["server.port"] != "8443" {
				t.Errorf("fetch.calls point %v; want server api.example.com:8443", points)
			}
		})
	}
}
