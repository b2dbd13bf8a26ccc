package otelfetch_test

// A review of otelfetch against the OpenTelemetry semantic conventions for
// HTTP clients, as of semconv 1.43 (the version otelfetch names in its
// schema URL and package documentation; go.opentelemetry.io/otel/semconv/v1.43.0).
//
// Each test is a regression test: of what otelfetch got right, of a
// divergence the review found and that has been fixed (the comment says
// what otelfetch did before), or of a divergence that is a defensible,
// documented choice.

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/otelfetch"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// reviewTransport answers every request in memory, with the response
// respond builds, or its error: no network, no timing.
type reviewTransport func(*http.Request) (*http.Response, error)

func (rt reviewTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt(req)
	if err != nil {
		return nil, err
	}
	resp.Request = req
	if resp.Body == nil {
		resp.Body = io.NopCloser(strings.NewReader("ok"))
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	if resp.Proto == "" {
		resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/1.1", 1, 1
	}
	return resp, nil
}

// status answers code to every request.
func status(code int) reviewTransport {
	return func(*http.Request) (*http.Response, error) { return &http.Response{StatusCode: code}, nil }
}

// reviewFetcher is e.fetcher sending through rt, without retries.
func (e *env) reviewFetcher(t *testing.T, rt http.RoundTripper, opts ...fetch.Option) *fetch.Fetcher {
	t.Helper()
	opts = append([]fetch.Option{fetch.WithClient(&http.Client{Transport: rt}),
		fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 1})}, opts...)
	return e.fetcher(t, opts...)
}

// oneCall returns the single call span e recorded, and its attempts.
func oneCall(t *testing.T, e *env) (sdktrace.ReadOnlySpan, []sdktrace.ReadOnlySpan) {
	t.Helper()
	calls, attempts := split(e.spans.Ended())
	if len(calls) != 1 {
		t.Fatalf("%d call spans; want 1", len(calls))
	}
	return calls[0], attempts
}

// attrValue returns the value of key in kvs.
func attrValue(kvs []attribute.KeyValue, key string) (attribute.Value, bool) {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// durationPoints returns the data points of http.client.request.duration.
func durationPoints(t *testing.T, e *env) []metricdata.HistogramDataPoint[float64] {
	t.Helper()
	m, ok := e.collect(t)["http.client.request.duration"]
	if !ok {
		t.Fatalf("no http.client.request.duration recorded")
	}
	return histogram(t, m)
}

// The client span: named after the method, kind CLIENT, the four
// attributes Required on it (method, server.address, server.port, url.full)
// with the conventions' types (server.port and http.response.status_code
// are ints), no error.type and an unset status for a 200.
func TestReviewClientSpanBasics(t *testing.T) {
	e := newEnv(t)
	f := e.reviewFetcher(t, status(200))
	if _, err := f.Get(t.Context(), "https://API.test/items?q=1"); err != nil {
		t.Fatal(err)
	}
	call, attempts := oneCall(t, e)
	if call.Name() != "GET" || call.SpanKind() != trace.SpanKindClient {
		t.Errorf("span %q kind %v; want GET, client", call.Name(), call.SpanKind())
	}
	kvs := call.Attributes()
	for key, want := range map[string]attribute.Value{
		"http.request.method":       attribute.StringValue("GET"),
		"server.address":            attribute.StringValue("api.test"),
		"server.port":               attribute.Int64Value(443),
		"url.full":                  attribute.StringValue("https://API.test/items?q=1"), // as requested; server.address is normalised
		"http.response.status_code": attribute.Int64Value(200),
	} {
		if got, ok := attrValue(kvs, key); !ok || got != want {
			t.Errorf("%s = %v (%v, set %v); want %v (%v)", key, got.String(), got.Type(), ok, want.String(), want.Type())
		}
	}
	if _, ok := attrValue(kvs, "error.type"); ok {
		t.Errorf("error.type set on a successful call")
	}
	if _, ok := attrValue(kvs, "http.request.method_original"); ok {
		t.Errorf("http.request.method_original set although the method is known")
	}
	if st := call.Status(); st.Code != codes.Unset {
		t.Errorf("status %+v; want unset for a 200", st)
	}
	if len(attempts) != 1 {
		t.Fatalf("%d attempt spans; want 1", len(attempts))
	}
	if _, ok := attrValue(attempts[0].Attributes(), "http.request.resend_count"); ok {
		t.Errorf("first attempt has http.request.resend_count; semconv: only if the request was resent")
	}
}

// semconv 1.43 http-spans.md, Status: "Span Status MUST be left unset if
// HTTP status code was in the 1xx, 2xx or 3xx ranges"; "For HTTP status
// codes in the 4xx range span status ... SHOULD be set to Error in case of
// SpanKind.CLIENT"; 5xx: "SHOULD be set to Error"; error.type "SHOULD be
// set to the status code number (represented as a string)". Do returns no
// error for a status, so this checks the status path alone, and that no
// description is set ("Don't set the span status description if the
// reason can be inferred from http.response.status_code").
func TestReviewSpanStatusByStatusCode(t *testing.T) {
	for _, tt := range []struct {
		code      int
		wantError bool
	}{{200, false}, {204, false}, {304, false}, {404, true}, {429, true}, {500, true}, {503, true}} {
		t.Run(itoa(tt.code), func(t *testing.T) {
			e := newEnv(t)
			f := e.reviewFetcher(t, status(tt.code))
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://api.test/x", nil)
			resp, err := f.Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			resp.Body.Close()
			call, attempts := oneCall(t, e)
			et, hasET := attrValue(call.Attributes(), "error.type")
			st := call.Status()
			if tt.wantError {
				if st.Code != codes.Error || !hasET || et.AsString() != itoa(tt.code) {
					t.Errorf("call span status %+v, error.type %q (set %v); want Error, %q", st, et.String(), hasET, itoa(tt.code))
				}
				if st.Description != "" {
					t.Errorf("status description %q; want none, the status code says it", st.Description)
				}
			} else if st.Code != codes.Unset || hasET {
				t.Errorf("call span status %+v, error.type %q; want unset and none for %d", st, et.String(), tt.code)
			}
			for _, a := range attempts {
				if got := a.Status().Code == codes.Error; got != tt.wantError {
					t.Errorf("attempt span status %+v; want Error %v", a.Status(), tt.wantError)
				}
			}
			for _, p := range durationPoints(t, e) {
				_, hasET := p.Attributes.Value("error.type")
				if hasET != tt.wantError {
					t.Errorf("duration point %v: error.type set %v; want %v", attrs(p.Attributes), hasET, tt.wantError)
				}
			}
		})
	}
}

// semconv 1.43 http-spans.md, Status: "Don't set the span status
// description if the reason can be inferred from http.response.status_code."
// Get turns a 404 into a *StatusError, whose text the call and attempt
// spans' status descriptions were: now they have none.
func TestReviewNoStatusDescriptionForStatusCode(t *testing.T) {
	e := newEnv(t)
	f := e.reviewFetcher(t, status(404))
	if _, err := f.Get(t.Context(), "http://api.test/x"); err == nil {
		t.Fatal("Get 404: no error")
	}
	call, _ := oneCall(t, e)
	if st := call.Status(); st.Code != codes.Error || st.Description != "" {
		t.Errorf("call span status %+v; want Error with no description", st)
	}
}

// url.full "MUST NOT contain credentials passed via URL" and the span
// redacts them there; the span status description carries the error text,
// whose URL is url.URL.Redacted(), which hides the password only: a user
// name (often a token: https://ghp_xxx@github.com/...) was exported in
// clear in the same span that redacted it from url.full.
func TestReviewUserinfoNotInSpanStatus(t *testing.T) {
	e := newEnv(t)
	f := e.reviewFetcher(t, reviewTransport(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("boom")
	}))
	for _, u := range []string{"https://TOKENUSER@api.test/a", "https://TOKENUSER:pw@api.test/b"} {
		if _, err := f.Get(t.Context(), u); err == nil {
			t.Fatalf("Get %s: no error", u)
		}
	}
	for _, s := range e.spans.Ended() {
		if v, _ := attrValue(s.Attributes(), "url.full"); strings.Contains(v.String(), "TOKENUSER") {
			t.Errorf("span %q url.full %q shows the user name", s.Name(), v.String())
		}
		if strings.Contains(s.Status().Description, "TOKENUSER") {
			t.Errorf("span %q status description %q shows the user name that url.full redacts", s.Name(), s.Status().Description)
		}
	}
}

// url.full credentials are REDACTED:REDACTED (semconv 1.43: "attribute's
// value SHOULD be https://REDACTED:REDACTED@www.example.com/"), a fragment
// is kept ("if it is known, it SHOULD be included nevertheless"), and the
// signature parameters of the list otelfetch has are redacted with the key
// kept.
func TestReviewURLFullRedaction(t *testing.T) {
	e := newEnv(t)
	f := e.reviewFetcher(t, status(200))
	for in, want := range map[string]string{
		"https://user:pw@api.test/a?q=1#frag": "https://REDACTED:REDACTED@api.test/a?q=1#frag",
		"https://api.test/b?color=blue&sig=S": "https://api.test/b?color=blue&sig=REDACTED",
		"https://api.test/c?q=1":              "https://api.test/c?q=1",
	} {
		before := len(e.spans.Ended())
		if _, err := f.Get(t.Context(), in); err != nil {
			t.Fatalf("Get %s: %v", in, err)
		}
		calls, _ := split(e.spans.Ended()[before:])
		if len(calls) != 1 {
			t.Fatalf("Get %s: %d call spans", in, len(calls))
		}
		if got, _ := attrValue(calls[0].Attributes(), "url.full"); got.AsString() != want {
			t.Errorf("url.full for %s = %q; want %q", in, got.AsString(), want)
		}
	}
}

// semconv 1.43 (url.full note, as generated into
// go.opentelemetry.io/otel/semconv/v1.43.0): "Query string values for the
// following keys SHOULD be redacted by default and replaced by the value
// REDACTED: X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token, sig,
// X-Goog-Signature". otelfetch redacted the older list only (AWSAccessKeyId,
// Signature, sig, X-Goog-Signature), so an AWS SigV4 presigned URL, the
// usual kind, was exported with its signature, credential and session
// token; it now redacts both lists.
func TestReviewURLFullRedactsSemconv143Params(t *testing.T) {
	e := newEnv(t)
	f := e.reviewFetcher(t, status(403))
	u := "https://bucket.s3.test/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=SECRETCRED" +
		"&X-Amz-Security-Token=SECRETTOKEN&X-Amz-Signature=SECRETSIG"
	if _, err := f.Get(t.Context(), u); err == nil {
		t.Fatal("Get 403: no error")
	}
	call, _ := oneCall(t, e)
	full, _ := attrValue(call.Attributes(), "url.full")
	for _, k := range []string{"X-Amz-Credential", "X-Amz-Security-Token", "X-Amz-Signature"} {
		if !strings.Contains(full.AsString(), k+"=REDACTED") {
			t.Errorf("url.full %q: %s not REDACTED", full.AsString(), k)
		}
	}
	if strings.Contains(full.AsString(), "SECRET") || strings.Contains(call.Status().Description, "SECRET") {
		t.Errorf("span shows a secret: url.full %q, status %q", full.AsString(), call.Status().Description)
	}
}

// url.full is "Absolute URL describing a network resource" and redaction
// replaces values only ("the query string key SHOULD still be preserved,
// e.g. https://www.example.com/path?color=blue&sig=REDACTED"). otelfetch
// re-encoded the whole query through url.Values once it redacted anything:
// parameters were sorted, a parameter without '=' gained one, repeated keys
// collapsed, and a pair url.ParseQuery rejects (one with ';') was dropped.
func TestReviewURLFullKeepsQueryAsSent(t *testing.T) {
	e := newEnv(t)
	var sent []string
	var mu sync.Mutex
	f := e.reviewFetcher(t, reviewTransport(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		sent = append(sent, r.URL.RawQuery)
		mu.Unlock()
		return &http.Response{StatusCode: 200}, nil
	}))
	in := "https://api.test/p?z=1&flag&a=2;b=3&sig=S1&sig=S2"
	want := "https://api.test/p?z=1&flag&a=2;b=3&sig=REDACTED&sig=REDACTED"
	if _, err := f.Get(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	call, _ := oneCall(t, e)
	if got, _ := attrValue(call.Attributes(), "url.full"); got.AsString() != want {
		t.Errorf("url.full = %q; want %q (the query as sent, %q, with values redacted)", got.AsString(), want, sent)
	}
}

// semconv 1.43 http-spans.md: "The following attributes can be important
// for making sampling decisions and SHOULD be provided at span creation
// time (if provided at all): http.request.method, server.address,
// server.port, url.full". otelfetch set url.full after Start, so a
// sampler never saw it.
func TestReviewSamplingAttributesAtCreation(t *testing.T) {
	s := &recordingSampler{}
	e := newSampledEnv(t, s)
	f := e.reviewFetcher(t, status(200))
	if _, err := f.Get(t.Context(), "https://api.test/x"); err != nil {
		t.Fatal(err)
	}
	got := s.clientAttrs()
	for _, k := range []string{"http.request.method", "server.address", "server.port", "url.full"} {
		if _, ok := got[k]; !ok {
			t.Errorf("sampler saw %v at creation; %s missing", got, k)
		}
	}
}

// recordingSampler samples everything and keeps the attributes the client
// span was started with.
type recordingSampler struct {
	mu    sync.Mutex
	attrs map[string]string
}

func (s *recordingSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if p.Kind == trace.SpanKindClient {
		s.mu.Lock()
		s.attrs = spanAttrs(p.Attributes)
		s.mu.Unlock()
	}
	return sdktrace.AlwaysSample().ShouldSample(p)
}

func (s *recordingSampler) Description() string { return "recordingSampler" }

func (s *recordingSampler) clientAttrs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attrs
}

// The passing half of the same rule: method, address and port are there.
func TestReviewSamplerSeesMethodAndServer(t *testing.T) {
	s := &recordingSampler{}
	e := newSampledEnv(t, s)
	f := e.reviewFetcher(t, status(200))
	if _, err := f.Get(t.Context(), "https://api.test:8443/x"); err != nil {
		t.Fatal(err)
	}
	got := s.clientAttrs()
	want := map[string]string{"http.request.method": "GET", "server.address": "api.test", "server.port": "8443"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("sampler saw %s = %q; want %q (all: %v)", k, got[k], v, got)
		}
	}
}

// Unknown and wrongly cased methods: http.request.method _OTHER, the span
// named HTTP, http.request.method_original the method as sent, on spans;
// _OTHER on the duration metric, without method_original.
func TestReviewOtherMethod(t *testing.T) {
	for _, m := range []string{"PURGE", "get"} {
		t.Run(m, func(t *testing.T) {
			e := newEnv(t)
			f := e.reviewFetcher(t, status(200))
			if _, err := f.Get(t.Context(), "https://api.test/x", fetch.Method(m)); err != nil {
				t.Fatal(err)
			}
			call, _ := oneCall(t, e)
			a := spanAttrs(call.Attributes())
			if call.Name() != "HTTP" || a["http.request.method"] != "_OTHER" || a["http.request.method_original"] != m {
				t.Errorf("span %q, method %q, original %q; want HTTP, _OTHER, %q", call.Name(),
					a["http.request.method"], a["http.request.method_original"], m)
			}
			for _, p := range durationPoints(t, e) {
				pa := attrs(p.Attributes)
				if pa["http.request.method"] != "_OTHER" {
					t.Errorf("duration http.request.method %q; want _OTHER", pa["http.request.method"])
				}
				if _, ok := pa["http.request.method_original"]; ok {
					t.Errorf("duration has http.request.method_original (unbounded cardinality)")
				}
			}
		})
	}
}

// semconv 1.43 http.request.method note: "If the HTTP instrumentation
// could end up converting valid HTTP request methods to _OTHER, then it
// MUST provide a way to override the list of known HTTP methods. If this
// override is done via environment variable, then the environment
// variable MUST be named OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS". otelfetch
// mapped every method outside RFC 9110/5789 (PURGE, PROPFIND, QUERY) to
// _OTHER and had neither an option nor the variable.
func TestReviewKnownMethodsOverride(t *testing.T) {
	t.Setenv("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET,PURGE")
	e := newEnv(t)
	f := e.reviewFetcher(t, status(200))
	if _, err := f.Get(t.Context(), "https://api.test/x", fetch.Method("PURGE")); err != nil {
		t.Fatal(err)
	}
	call, _ := oneCall(t, e)
	if got := spanAttrs(call.Attributes())["http.request.method"]; call.Name() != "PURGE" || got != "PURGE" {
		t.Errorf("span %q, http.request.method %q; want PURGE, PURGE with PURGE a known method", call.Name(), got)
	}
}

// semconv 1.43: network.protocol.version is Recommended on the client span
// and on http.client.request.duration ("If protocol version is subject to
// negotiation ... SHOULD be set to the negotiated version"). The hooks see
// the response (AttemptInfo.Response.ProtoMajor/Minor), but otelfetch never
// set it.
func TestReviewNetworkProtocolVersion(t *testing.T) {
	e := newEnv(t)
	f := e.reviewFetcher(t, reviewTransport(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Proto: "HTTP/2.0", ProtoMajor: 2}, nil
	}))
	if _, err := f.Get(t.Context(), "https://api.test/x"); err != nil {
		t.Fatal(err)
	}
	call, attempts := oneCall(t, e)
	for _, s := range append([]sdktrace.ReadOnlySpan{call}, attempts...) {
		if got := spanAttrs(s.Attributes())["network.protocol.version"]; got != "2" {
			t.Errorf("span %q network.protocol.version %q; want 2", s.Name(), got)
		}
	}
	for _, p := range durationPoints(t, e) {
		if got := attrs(p.Attributes)["network.protocol.version"]; got != "2" {
			t.Errorf("duration network.protocol.version %q; want 2", got)
		}
	}
}

// semconv 1.43, server.address on the client span: "In HTTP/1.1, when the
// request target is passed in its absolute-form, the server.address SHOULD
// match the host component of the request target. In all other cases,
// server.address SHOULD match the host component of the Host header"
// (server.port likewise). fetch lets a request set its Host
// (fetch.Header("Host", ...), WithHeader("Host", ...)); otelfetch reported
// the URL's host and port instead.
func TestReviewServerAddressFromHostHeader(t *testing.T) {
	e := newEnv(t)
	var got string
	f := e.reviewFetcher(t, reviewTransport(func(r *http.Request) (*http.Response, error) {
		got = r.Host
		return &http.Response{StatusCode: 200}, nil
	}))
	if _, err := f.Get(t.Context(), "http://10.0.0.7:8080/x", fetch.Header("Host", "api.example.com")); err != nil {
		t.Fatal(err)
	}
	if got != "api.example.com" {
		t.Fatalf("request sent with Host %q; the test's premise fails", got)
	}
	call, attempts := oneCall(t, e)
	for _, s := range append([]sdktrace.ReadOnlySpan{call}, attempts...) {
		a := spanAttrs(s.Attributes())
		if a["server.address"] != "api.example.com" || a["server.port"] != "80" {
			t.Errorf("span %q server %s:%s; want api.example.com:80, the Host header's", s.Name(), a["server.address"], a["server.port"])
		}
	}
}

// After a redirect from http to https (the commonest redirect there is)
// whose https request fails, the attempt is reported against the redirect's
// host, a host key without its default port, but the port was filled in
// from the scheme of the original request: server.port 80 for a host that
// was dialled on 443, on the attempt span and on
// http.client.request.duration alike.
func TestReviewRedirectFailurePort(t *testing.T) {
	e := newEnv(t)
	f := e.reviewFetcher(t, reviewTransport(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host == "old.test" {
			return &http.Response{StatusCode: 301, Header: http.Header{"Location": {"https://new.test/x"}}}, nil
		}
		return nil, errors.New("tls: handshake failure")
	}))
	if _, err := f.Get(t.Context(), "http://old.test/x"); err == nil {
		t.Fatal("Get: no error")
	}
	_, attempts := oneCall(t, e)
	if len(attempts) != 1 {
		t.Fatalf("%d attempt spans; want 1", len(attempts))
	}
	a := spanAttrs(attempts[0].Attributes())
	if a["server.address"] != "new.test" || a["server.port"] != "443" {
		t.Errorf("attempt span server %s:%s; want new.test:443", a["server.address"], a["server.port"])
	}
	for _, p := range durationPoints(t, e) {
		pa := attrs(p.Attributes)
		if pa["server.address"] == "new.test" && pa["server.port"] != "443" {
			t.Errorf("duration point %v; want server.port 443 for new.test", pa)
		}
	}
}

// The passing counterpart: a redirect that succeeds is reported on the
// https host's port; and, since otelfetch makes one CLIENT span per call
// (semconv's second way, "an HTTP span for the top-most operation"), that
// span's url.full "MUST be the absolute URL that was originally requested,
// before any HTTP-redirects".
func TestReviewRedirectSuccess(t *testing.T) {
	e := newEnv(t)
	f := e.reviewFetcher(t, reviewTransport(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host == "old.test" {
			return &http.Response{StatusCode: 301, Header: http.Header{"Location": {"https://new.test/y"}}}, nil
		}
		return &http.Response{StatusCode: 200}, nil
	}))
	if _, err := f.Get(t.Context(), "http://old.test/x"); err != nil {
		t.Fatal(err)
	}
	call, attempts := oneCall(t, e)
	c := spanAttrs(call.Attributes())
	if c["url.full"] != "http://old.test/x" || c["server.address"] != "old.test" || c["server.port"] != "80" ||
		c["http.response.status_code"] != "200" {
		t.Errorf("call span %v; want url.full http://old.test/x on old.test:80, status 200", c)
	}
	if len(attempts) != 1 {
		t.Fatalf("%d attempt spans; want 1", len(attempts))
	}
	if a := spanAttrs(attempts[0].Attributes()); a["server.address"] != "new.test" || a["server.port"] != "443" {
		t.Errorf("attempt span server %s:%s; want new.test:443", a["server.address"], a["server.port"])
	}
}

// http.client.request.duration as semconv 1.43 defines it (httpconv
// ClientRequestDuration): histogram, unit "s", the advised boundaries,
// Required http.request.method, server.address, server.port (an int);
// http.response.status_code (an int) iff a response was received;
// error.type iff the request failed. And the UCUM units of the rest.
func TestReviewDurationMetric(t *testing.T) {
	e := newEnv(t)
	n := 0
	f := e.reviewFetcher(t, reviewTransport(func(*http.Request) (*http.Response, error) {
		n++
		if n == 1 {
			return nil, errors.New("boom")
		}
		return &http.Response{StatusCode: 201}, nil
	}))
	f.Get(t.Context(), "https://api.test/a")
	if _, err := f.Get(t.Context(), "https://api.test/b"); err != nil {
		t.Fatal(err)
	}
	ms := e.collect(t)
	d := ms["http.client.request.duration"]
	if d.Unit != "s" {
		t.Errorf("unit %q; want s", d.Unit)
	}
	h, ok := d.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("data %T; want a float64 histogram", d.Data)
	}
	wantBounds := []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	if len(h.DataPoints) != 2 {
		t.Fatalf("%d points; want 2 (one failed attempt, one 201)", len(h.DataPoints))
	}
	for _, p := range h.DataPoints {
		if !slices.Equal(p.Bounds, wantBounds) {
			t.Errorf("bounds %v; want %v", p.Bounds, wantBounds)
		}
		port, _ := p.Attributes.Value("server.port")
		if port.Type() != attribute.INT64 || port.AsInt64() != 443 {
			t.Errorf("server.port %v of type %v; want int 443", port.String(), port.Type())
		}
		for _, k := range []string{"http.request.method", "server.address"} {
			if _, ok := p.Attributes.Value(attribute.Key(k)); !ok {
				t.Errorf("point %v lacks Required %s", attrs(p.Attributes), k)
			}
		}
		sc, hasSC := p.Attributes.Value("http.response.status_code")
		et, hasET := p.Attributes.Value("error.type")
		switch {
		case hasSC && !hasET:
			if sc.Type() != attribute.INT64 || sc.AsInt64() != 201 {
				t.Errorf("status code %v of type %v; want int 201", sc.String(), sc.Type())
			}
		case !hasSC && hasET:
			if et.AsString() != "_OTHER" {
				t.Errorf("error.type %q for an unclassified error; want _OTHER", et.AsString())
			}
		default:
			t.Errorf("point %v; want either a status code or an error.type", attrs(p.Attributes))
		}
	}
	for name, unit := range map[string]string{"fetch.calls": "{call}", "fetch.gate.wait.duration": "s"} {
		if got := ms[name].Unit; got != unit {
			t.Errorf("%s unit %q; want %q", name, got, unit)
		}
	}
}

// A connection failure: no http.response.status_code, error.type the
// kind, status Error with a description (allowed: nothing else says why).
func TestReviewConnectionFailure(t *testing.T) {
	e := newEnv(t)
	f := e.fetcher(t, fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 1}))
	refused, _ := refusedURL(t)
	if _, err := f.Get(t.Context(), refused); err == nil {
		t.Fatal("Get: no error")
	}
	call, attempts := oneCall(t, e)
	for _, s := range append([]sdktrace.ReadOnlySpan{call}, attempts...) {
		a := spanAttrs(s.Attributes())
		if _, ok := a["http.response.status_code"]; ok {
			t.Errorf("span %q has http.response.status_code without a response", s.Name())
		}
		if a["error.type"] != "connection_refused" || s.Status().Code != codes.Error || s.Status().Description == "" {
			t.Errorf("span %q error.type %q, status %+v; want connection_refused, Error with a description",
				s.Name(), a["error.type"], s.Status())
		}
	}
}

// Resends: http.request.resend_count, an int, on every attempt after the
// first, counting from 1.
func TestReviewResendCount(t *testing.T) {
	e := newEnv(t)
	f := e.fetcher(t) // fastRetries: 3 attempts
	refused, _ := refusedURL(t)
	f.Get(t.Context(), refused)
	_, attempts := oneCall(t, e)
	if len(attempts) != fastRetries.MaxAttempts {
		t.Fatalf("%d attempts; want %d", len(attempts), fastRetries.MaxAttempts)
	}
	for i, a := range attempts {
		v, ok := attrValue(a.Attributes(), "http.request.resend_count")
		if i == 0 && ok || i > 0 && (!ok || v.Type() != attribute.INT64 || v.AsInt64() != int64(i)) {
			t.Errorf("attempt %d: resend_count %v (set %v); want %d from the second on", i+1, v.String(), ok, i)
		}
	}
}

// A defensible divergence, documented: WithoutHostAttribute drops
// server.address and server.port, which semconv 1.43 marks Required on
// http.client.request.duration, to bound cardinality for crawlers. It is
// opt-in; spans keep them.
func TestReviewWithoutHostAttributeDropsRequired(t *testing.T) {
	e := newEnv(t, otelfetch.WithoutHostAttribute())
	f := e.reviewFetcher(t, status(200))
	if _, err := f.Get(t.Context(), "https://api.test/x"); err != nil {
		t.Fatal(err)
	}
	for _, p := range durationPoints(t, e) {
		if _, ok := p.Attributes.Value("server.address"); ok {
			t.Errorf("point %v has server.address under WithoutHostAttribute", attrs(p.Attributes))
		}
	}
	call, _ := oneCall(t, e)
	if _, ok := attrValue(call.Attributes(), "server.address"); !ok {
		t.Errorf("call span lost server.address under WithoutHostAttribute")
	}
}
