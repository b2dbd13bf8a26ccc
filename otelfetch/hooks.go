package otelfetch

import (
	"context"
	"net/http"
	"regexp"
	"strings"

	"github.com/c989c033/fetch"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Hooks returns the hooks that record calls, attempts and retries, for
// [fetch.WithHooks]. To run hooks of your own as well, call these from
// yours.
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
// span by then: a transport may have started its own) and its host.
type call struct {
	span trace.Span
	host []attribute.KeyValue // server.address, server.port of the call's host
}

type callKey struct{}

func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// onCall starts the call's span.
func (in *Instrumentation) onCall(ctx context.Context, info fetch.CallInfo) context.Context {
	req := info.Request
	m, known := method(req)
	host := serverAttrs(info.Host, scheme(req))
	attrs := make([]attribute.KeyValue, 0, 4)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(m))
	attrs = append(attrs, host...)
	name := m
	if !known {
		name = "HTTP" // as the conventions name a span whose method is _OTHER
	}
	ctx, span := in.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	if span.IsRecording() {
		if req.URL != nil {
			span.SetAttributes(semconv.URLFull(fullURL(req.URL)))
		}
		if !known {
			span.SetAttributes(semconv.HTTPRequestMethodOriginal(req.Method))
		}
	}
	return context.WithValue(ctx, callKey{}, &call{span: span, host: host})
}

// onAttempt records the attempt's span, duration and wait at the gates.
func (in *Instrumentation) onAttempt(info fetch.AttemptInfo) {
	ctx := info.Request.Context()
	sch := scheme(info.Request)
	if info.Response != nil && info.Response.Request != nil {
		sch = scheme(info.Response.Request) // where a redirect led
	}
	host := serverAttrs(info.Host, sch)
	etype := errorType(info.Status, info.Err)

	ctx = in.attemptSpan(ctx, info, host, etype)

	m, _ := method(info.Request)
	attrs := make([]attribute.KeyValue, 0, 3)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(m))
	if info.Status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(info.Status))
	}
	if etype != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(etype))
	}
	in.attemptDuration.Record(ctx, info.Duration.Seconds(), in.metricOpt(host, attrs...))
	in.gateWait.Record(ctx, info.Waited.Seconds(), in.metricOpt(host))
}

// attemptSpan records the span of the attempt info describes, which has
// ended, and returns a context holding it.
func (in *Instrumentation) attemptSpan(ctx context.Context, info fetch.AttemptInfo, host []attribute.KeyValue, etype string) context.Context {
	ctx, span := in.tracer.Start(ctx, "attempt", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(info.Start))
	end := trace.WithTimestamp(info.Start.Add(info.Duration))
	if !span.IsRecording() {
		span.End(end)
		return ctx
	}
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs, attemptKey.Int(info.Attempt))
	if info.Attempt > 1 {
		attrs = append(attrs, semconv.HTTPRequestResendCount(info.Attempt-1))
	}
	attrs = append(attrs, host...)
	attrs = append(attrs, gateWaitKey.Float64(info.Waited.Seconds()))
	if info.Status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(info.Status))
	}
	if etype != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(etype))
		span.SetStatus(codes.Error, errText(info.Err))
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
		host = c.host
	} else {
		host = serverAttrs(info.Request.URL.Host, scheme(info.Request))
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
		host = c.host
	} else {
		host = serverAttrs(info.Host, scheme(info.Request))
	}
	in.calls.Add(ctx, 1, in.metricOpt(host,
		statusClassKey.String(statusClass(info.Status)), outcomeKey.String(outcome(info.Err))))
	if c == nil {
		return
	}
	if c.span.IsRecording() {
		if info.Status != 0 {
			c.span.SetAttributes(semconv.HTTPResponseStatusCode(info.Status))
		}
		c.span.SetAttributes(attemptsKey.Int(info.Attempts))
		if etype := errorType(info.Status, info.Err); etype != "" {
			c.span.SetAttributes(semconv.ErrorTypeKey.String(etype))
			c.span.SetStatus(codes.Error, errText(info.Err))
		}
	}
	c.span.End()
}

func scheme(req *http.Request) string {
	if req == nil || req.URL == nil {
		return ""
	}
	return req.URL.Scheme
}

// errText is a span status's description: the error's text, if any, with
// the values of sensitiveParams in any URL it quotes redacted, as url.full
// has them.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return sensitiveInText.ReplaceAllString(err.Error(), "${1}REDACTED")
}

// sensitiveInText matches a sensitive parameter of a URL quoted in an
// error's text, up to the end of its value.
var sensitiveInText = regexp.MustCompile(`([?&](?:` + strings.Join(sensitiveParams, "|") + `)=)[^&#\s"']*`)
