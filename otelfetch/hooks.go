package otelfetch

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/c989c033/fetch"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Hooks returns the hooks that record calls, attempts and retries, for
// [fetch.WithHooks]. To run hooks of your own as well, give them with
// another WithHooks: every set given runs, in the order given.
func (in *Instrumentation) Hooks() fetch.Hooks {
	return fetch.Hooks{
		OnCall:    in.onCall,
		OnAttempt: in.onAttempt,
		OnRetry:   in.onRetry,
		OnDone:    in.onDone,
	}
}

// call is what onCall leaves in the call's context for the hooks that
// follow: the call's span (which is not necessarily the context's current
// span by then: a transport may have started its own), its host, and the
// protocol version of its last response.
type call struct {
	span trace.Span

	mu       sync.Mutex
	host     []attribute.KeyValue // server.address, server.port of the call's host
	override bool                 // host is a Host header's
	proto    string               // network.protocol.version of the last attempt's response; "" if none
}

type callKey struct{}

func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// hostAttrs returns c's server.address and server.port.
func (c *call) hostAttrs() []attribute.KeyValue {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.host
}

// onCall starts the call's span, with the attributes that matter to a
// sampler.
func (in *Instrumentation) onCall(ctx context.Context, info fetch.CallInfo) context.Context {
	req := info.Request
	m, known := in.method(req)
	var urlHost string
	if req.URL != nil {
		urlHost = req.URL.Host
	}
	host := requestServer(info.Host, scheme(req), req.Host, urlHost)
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(m))
	attrs = append(attrs, host...)
	if req.URL != nil {
		attrs = append(attrs, semconv.URLFull(fullURL(req.URL)))
	}
	name := m
	if !known {
		name = "HTTP" // as the conventions name a span whose method is _OTHER
		attrs = append(attrs, semconv.HTTPRequestMethodOriginal(req.Method))
	}
	ctx, span := in.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	c := &call{span: span, host: host, override: hostOverride(req.Host, urlHost)}
	return context.WithValue(ctx, callKey{}, c)
}

// onAttempt records the attempt's span, duration and wait at the gates.
func (in *Instrumentation) onAttempt(info fetch.AttemptInfo) {
	ctx := info.Request.Context()
	host := attemptServer(info)
	etype := errorType(info.Status, info.Err)
	proto := protocolVersion(info.Response)
	if c := callOf(ctx); c != nil {
		in.sentHost(c, info.Request)
		c.mu.Lock()
		c.proto = proto
		c.mu.Unlock()
	}

	ctx = in.attemptSpan(ctx, info, host, etype, proto)

	m, _ := in.method(info.Request)
	attrs := make([]attribute.KeyValue, 0, 4)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(m))
	if info.Status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(info.Status))
	}
	if etype != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(etype))
	}
	if proto != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(proto))
	}
	in.attemptDuration.Record(ctx, info.Duration.Seconds(), in.metricOpt(host, attrs...))
	in.gateWait.Record(ctx, info.Waited.Seconds(), in.metricOpt(host))
}

// sentHost makes call c's host the Host header of sent, its request as
// sent, if that overrides the URL's host and the request the call started
// with did not: a Fetcher's own Host ([fetch.WithHeader]) is set on the
// request it sends, not on the caller's that [fetch.Fetcher.Do] is given.
func (in *Instrumentation) sentHost(c *call, sent *http.Request) {
	if sent.URL == nil || !hostOverride(sent.Host, sent.URL.Host) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.override {
		return
	}
	c.host, c.override = serverAttrs(strings.ToLower(sent.Host), sent.URL.Scheme), true
	if c.span.IsRecording() {
		c.span.SetAttributes(c.host...)
	}
}

// attemptServer returns server.address and server.port of the request
// whose outcome info reports: the request sent, or the redirect it led to.
// The port missing from info.Host is the default of the scheme of that
// request; a Host header that overrides its URL's host is taken, as
// [requestServer] does, when the request is known to carry it.
func attemptServer(info fetch.AttemptInfo) []attribute.KeyValue {
	if resp := info.Response; resp != nil && resp.Request != nil && resp.Request.URL != nil {
		r := resp.Request // where any redirect led
		return requestServer(info.Host, r.URL.Scheme, r.Host, r.URL.Host)
	}
	sent := info.Request
	if sent.URL == nil {
		return serverAttrs(info.Host, "")
	}
	if u := failedURL(info.Err, info.Host); u != nil && (hostKey(sent.URL) != info.Host ||
		!strings.EqualFold(u.Scheme, sent.URL.Scheme)) {
		// A redirect, to another host or scheme: whether it carries a Host
		// header is not known (net/http keeps one for a relative redirect
		// only).
		return serverAttrs(info.Host, u.Scheme)
	}
	if hostKey(sent.URL) != info.Host {
		// A redirect whose URL is not known: its scheme is taken to be
		// the request's.
		return serverAttrs(info.Host, sent.URL.Scheme)
	}
	return requestServer(info.Host, sent.URL.Scheme, sent.Host, sent.URL.Host)
}

// failedURL returns the URL of the request whose failure err reports, as
// the error names it, if its host key is host: a [*fetch.StatusError]'s,
// a [*url.Error]'s, or else the first absolute URL in err's text with that
// host; nil if none.
func failedURL(err error, host string) *url.URL {
	if err == nil {
		return nil
	}
	match := func(raw string) *url.URL {
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || u.Host == "" || hostKey(u) != host {
			return nil
		}
		return u
	}
	if se, ok := errors.AsType[*fetch.StatusError](err); ok {
		if u := match(se.URL); u != nil {
			return u
		}
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		if u := match(ue.URL); u != nil {
			return u
		}
	}
	for _, raw := range urlInText.FindAllString(err.Error(), -1) {
		if u := match(raw); u != nil {
			return u
		}
	}
	return nil
}

// urlInText matches an http or https URL in an error's text, up to a space
// or a quote.
var urlInText = regexp.MustCompile(`(?i)\bhttps?://[^\s"'<>]+`)

// attemptSpan records the span of the attempt info describes, which has
// ended, and returns a context holding it.
func (in *Instrumentation) attemptSpan(ctx context.Context, info fetch.AttemptInfo, host []attribute.KeyValue, etype, proto string) context.Context {
	ctx, span := in.tracer.Start(ctx, "attempt", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(info.Start))
	end := trace.WithTimestamp(info.Start.Add(info.Duration))
	if !span.IsRecording() {
		span.End(end)
		return ctx
	}
	attrs := make([]attribute.KeyValue, 0, 9)
	attrs = append(attrs, attemptKey.Int(info.Attempt))
	if info.Attempt > 1 {
		attrs = append(attrs, semconv.HTTPRequestResendCount(info.Attempt-1))
	}
	attrs = append(attrs, host...)
	attrs = append(attrs, gateWaitKey.Float64(info.Waited.Seconds()))
	if info.Status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(info.Status))
	}
	if proto != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(proto))
	}
	if etype != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(etype))
		span.SetStatus(codes.Error, description(info.Status, info.Err))
	}
	span.SetAttributes(attrs...)
	span.End(end)
	return ctx
}

// onRetry counts the retry and adds its event to the call's span.
func (in *Instrumentation) onRetry(info fetch.RetryInfo) {
	ctx := info.Request.Context()
	c := callOf(ctx)
	var host []attribute.KeyValue
	if c != nil {
		host = c.hostAttrs()
	} else {
		host = requestServer(hostKey(info.Request.URL), scheme(info.Request), info.Request.Host, info.Request.URL.Host)
	}
	etype := errorType(info.Status, info.Err)
	if etype == "" {
		etype = semconv.ErrorTypeOther.Value.AsString() // retried though neither failed nor 4xx/5xx
	}
	in.retries.Add(ctx, 1, in.metricOpt(host, semconv.ErrorTypeKey.String(etype)))
	if c == nil || !c.span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 4)
	attrs = append(attrs, attemptKey.Int(info.Attempt), retryDelayKey.Float64(info.Delay.Seconds()))
	if info.Status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(info.Status))
	}
	attrs = append(attrs, semconv.ErrorTypeKey.String(etype))
	c.span.AddEvent("fetch.retry", trace.WithAttributes(attrs...))
}

// onDone counts the call and ends its span.
func (in *Instrumentation) onDone(info fetch.DoneInfo) {
	ctx := info.Context
	if ctx == nil { // a call that ended before OnCall ran
		ctx = context.Background()
	}
	c := callOf(ctx)
	var host []attribute.KeyValue
	if c != nil {
		host = c.hostAttrs()
	} else {
		var hostField, urlHost string
		if info.Request != nil {
			hostField = info.Request.Host
			if info.Request.URL != nil {
				urlHost = info.Request.URL.Host
			}
		}
		host = requestServer(info.Host, scheme(info.Request), hostField, urlHost)
	}
	in.calls.Add(ctx, 1, in.metricOpt(host,
		statusClassKey.String(statusClass(info.Status)), outcomeKey.String(outcome(info.Err))))
	if c == nil {
		return
	}
	if c.span.IsRecording() {
		attrs := make([]attribute.KeyValue, 0, 4)
		if info.Status != 0 {
			attrs = append(attrs, semconv.HTTPResponseStatusCode(info.Status))
			c.mu.Lock()
			if c.proto != "" {
				attrs = append(attrs, semconv.NetworkProtocolVersion(c.proto))
			}
			c.mu.Unlock()
		}
		attrs = append(attrs, attemptsKey.Int(info.Attempts))
		if etype := errorType(info.Status, info.Err); etype != "" {
			attrs = append(attrs, semconv.ErrorTypeKey.String(etype))
			c.span.SetStatus(codes.Error, description(info.Status, info.Err))
		}
		c.span.SetAttributes(attrs...)
	}
	c.span.End()
}

func scheme(req *http.Request) string {
	if req == nil || req.URL == nil {
		return ""
	}
	return req.URL.Scheme
}

// description is the description of the Error status of a span whose
// outcome is status and err: none when the status code says it all (err
// is nil, or a [*fetch.StatusError] alone), and otherwise err's text, with
// the user, the password and the values of sensitiveParams of any URL it
// quotes redacted, as url.full has them.
func description(status int, err error) string {
	if err == nil || status != 0 && kind(err) == "status" {
		return ""
	}
	s := userinfoInText.ReplaceAllString(err.Error(), "${1}"+redacted+":"+redacted+"@")
	return sensitiveInText.ReplaceAllString(s, "${1}"+redacted)
}

// userinfoInText matches the user and password of a URL quoted in an
// error's text: its scheme and "//", then anything up to an '@' before the
// host ends (a '/', '?', '#', space or quote). A user or password is
// escaped in a URL's text, as url.URL.Redacted and net/http show it, so
// has none of these.
var userinfoInText = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s"'<>@]*@`)

// sensitiveInText matches a sensitive parameter of a URL quoted in an
// error's text, up to the end of its value.
var sensitiveInText = regexp.MustCompile(`([?&;](?i:` + paramsPattern() + `)=)[^&;#\s"']*`)

// paramsPattern is a regular expression that matches any of
// sensitiveParams.
func paramsPattern() string {
	ps := make([]string, len(sensitiveParams))
	for i, p := range sensitiveParams {
		ps[i] = regexp.QuoteMeta(p)
	}
	return strings.Join(ps, "|")
}
