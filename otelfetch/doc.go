// Package otelfetch records what a [fetch.Fetcher] does as OpenTelemetry
// metrics and traces.
//
// Build an [Instrumentation] with [New], hand its [Instrumentation.Hooks] to
// [fetch.WithHooks], and call [Instrumentation.Observe] with the Fetcher for
// the gauges that are read from [fetch.Fetcher.Stats]:
//
//	inst := otelfetch.New() // the global MeterProvider and TracerProvider
//	f, err := fetch.New(fetch.WithHooks(inst.Hooks()))
//	if err != nil { … }
//	defer f.Shutdown(ctx)
//	unregister, err := inst.Observe(f)
//	if err != nil { … }
//	defer unregister()
//
// A call is what one [fetch.Fetcher.Do] (or Get, or one input of a batch or
// stream) does: it passes the gates, makes one or more attempts, and ends
// with a response or an error. An attempt is one request sent, and what the
// server answered.
//
// # Metrics
//
// Names follow the OpenTelemetry semantic conventions for HTTP clients
// (semconv 1.43) where one exists; the others are in the fetch namespace.
//
//	name                          instrument                    unit         per      attributes
//	http.client.request.duration  Float64Histogram              s            attempt  http.request.method, server.address, server.port, http.response.status_code, network.protocol.version, error.type
//	fetch.calls                   Int64Counter                  {call}       call     server.address, server.port, fetch.status_class, fetch.outcome
//	fetch.retries                 Int64Counter                  {retry}      retry    server.address, server.port, error.type
//	fetch.gate.wait.duration      Float64Histogram              s            attempt  server.address, server.port
//	fetch.in_flight               Int64ObservableUpDownCounter  {request}    Fetcher  none
//	fetch.waiting                 Int64ObservableUpDownCounter  {call}       Fetcher  none
//	fetch.host.rate               Float64ObservableGauge        {request}/s  host     server.address, server.port
//
// In detail:
//
//   - http.client.request.duration is the semantic convention's metric: one
//     value per attempt, from sending it to the end of its body when the
//     call reads the body, with the convention's bucket boundaries. The
//     redirects an attempt follows are part of it: a request answered
//     with a redirect has no value of its own, and the chain's time is
//     the attempt's. Its server.address and server.port are those of the
//     request that the attempt ended with (a redirect's, if it led to
//     one), as the spans have them (see below); for a value and a span per
//     request, redirects included, wrap the transport with
//     otelhttp.NewTransport as well (see Traces); network.protocol.version is the response's
//     ("1.1", "2"), when the hooks saw one: a [*fetch.StatusError] comes
//     to them in its place.
//   - fetch.calls counts calls as they end. fetch.status_class is the class
//     of the final status: "1xx" to "5xx", or "none" if there was no
//     response. fetch.outcome is "ok" when the call ended without an error
//     (as [fetch.DoneInfo] reports it), and otherwise the kind of error (see
//     below), with "status" for a [*fetch.StatusError]. [fetch.Fetcher.Do]
//     does not treat a status as an error, so a 404 from it is {4xx, ok}.
//   - fetch.retries counts retries as they are decided, before the backoff;
//     error.type says why: the failed attempt's status ("503") or its kind
//     of error.
//   - fetch.gate.wait.duration is how long each attempt waited at the
//     Fetcher's gates (a host's Retry-After pause, rate tokens, in-flight
//     slots) before it was sent. For a batch, stream or crawl, a first
//     attempt's wait in its host's queue is not part of it. Its host is
//     the attempt's, as on http.client.request.duration; that of
//     fetch.calls and fetch.retries is the call's, as on its span.
//   - fetch.in_flight is [fetch.Stats] InFlight, the attempts holding an
//     in-flight slot; fetch.waiting is its Waiting, the calls waiting to
//     retry, at a gate, or queued for their host.
//   - fetch.host.rate is the rate pacing each host, [fetch.HostStats.Rate]:
//     its adaptive rate (see [fetch.WithAdaptiveRate]), or the ramp after
//     a Retry-After pause, for the hosts the Fetcher remembers; hosts
//     it has forgotten stop being reported. A Fetcher keys hosts by
//     host:port with the scheme's default port left out, so this gauge has
//     server.port only for hosts with a port of their own. The host is the
//     URL's, even for requests whose Host header names another.
//
// The last three are read from [fetch.Fetcher.Stats] at each collection,
// once [Instrumentation.Observe] has registered them.
//
// error.type, on the attempt histogram, the retries and the spans, follows
// the semantic conventions: the status code ("404", "503") for a response
// of status 400 or more, and otherwise one of these kinds, which
// fetch.outcome uses too: closed (the Fetcher was shut down while the
// call waited: [fetch.ErrClosed]), attempt_timeout, deadline, canceled,
// connection_refused, connection_reset (over HTTP/2, a stream the server
// reset too), dns, tls, timeout, body_too_large,
// header_too_large, too_many_redirects, blocked_address,
// limiter_unavailable, circuit_open (a [*fetch.CircuitOpenError]),
// retry_budget (a [*fetch.RetryBudgetError]),
// retry_after_past_deadline and retry_after_too_long (a
// [*fetch.RetryAfterError], refused by the deadline or by MaxRetryAfter), invalid_url (a
// redirect to one), panic (a hook panicked), and _OTHER. A call refused
// before it begins (after Shutdown, or whose own URL is invalid) runs no
// hooks, so it has no span and is not in fetch.calls; [fetch.Stats]
// counts it, as Failed.Refused.
//
// # Cardinality
//
// The number of time series grows with the number of hosts fetched: the
// host attributes take as many values as the Fetcher is given hosts. That
// suits a client of a few APIs, not a crawler of thousands of sites: for
// those, [WithoutHostAttribute] drops server.address and server.port from
// every metric (spans keep them), and fetch.host.rate is then not reported.
// The other attributes take a bounded set of values. The SDK caps each
// metric at 2,000 series by default (sdkmetric.WithCardinalityLimit): past
// that, and for good under cumulative temporality, what a new host records
// goes to one series marked otel.metric.overflow, without its attributes.
// To keep hosts on fetch.calls alone, drop server.address and server.port
// from the other metrics with an SDK View (sdkmetric.NewView with an
// attribute filter) instead of WithoutHostAttribute.
//
// A [fetch.Crawler]'s robots.txt requests are calls like any other: they
// are in fetch.calls (a robots.txt that is not there as a 4xx), and have
// spans.//
// # Traces
//
// Each call is a span of kind [trace.SpanKindClient], named after the
// method ("GET"), a child of the span in the request's context, if any. It
// starts with http.request.method, url.full, server.address and
// server.port, so that a sampler sees them, and, for a method that is not
// known, http.request.method_original; when the call ends it gets
// http.response.status_code and network.protocol.version (the final
// response's, if one came and the hooks saw it: a [*fetch.StatusError]
// leaves the attempt without its response), fetch.attempts and, on
// failure, error.type. Its status is Error for an error or a final status
// of 400 or more. The span is in the context of every request the call
// sends, so instrumented transports and dialers nest their spans under it.
// It ends when the call returns: for [fetch.Fetcher.Do], before the caller
// reads the body, so neither the span nor the attempt's duration includes
// that read.
//
// url.full is the URL as requested, before any redirect, with any user and
// password replaced by "REDACTED:REDACTED", and the values of the query
// parameters the semantic conventions list (X-Amz-Signature,
// X-Amz-Credential, X-Amz-Security-Token, sig and X-Goog-Signature, as of
// semconv 1.43, and AWSAccessKeyId and Signature, of earlier versions;
// matched in any case) replaced by "REDACTED", the keys kept. The rest of
// the query is left as sent, its order, repeated keys and all; parameters
// are told apart at '&' and also at ';', as some servers do.
//
// server.address and server.port are the URL's host and port (the
// scheme's default port if it has none), or those of the request's Host
// header when it names another host (set with [fetch.Header] or
// [fetch.WithHeader]), as the semantic conventions say. A Fetcher's
// default Host is on the request it sends, not on the one given to
// [fetch.Fetcher.Do]: the call's span then starts with the URL's host,
// and takes the Host header's when the first attempt is sent.
//
// http.request.method is the method if it is one of the known methods,
// and otherwise "_OTHER", the span then being named "HTTP", as the
// conventions want. The known methods are, by default, those of RFC 9110
// and RFC 5789; [WithKnownMethods], or else the environment variable
// OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS (a comma-separated list, read by
// [New]), replaces them.
//
// A span's status description is the error's text, with the user and
// password of any URL it quotes, and the values of the parameters url.full
// redacts, replaced by "REDACTED"; a span has none when the status code
// says why it failed (a 404 alone, or the [*fetch.StatusError] of a call
// that reads bodies), as the conventions want.
//
// Each attempt is a child span named "attempt", of kind
// [trace.SpanKindInternal], that runs from the moment the request was sent
// to the end of the attempt. It carries fetch.attempt (1 for the first),
// http.request.resend_count (from the second attempt on),
// server.address and server.port of the host it was sent to, or the
// redirect it led to (the port that of the redirect's scheme),
// fetch.gate.wait (seconds it waited at the gates before it was sent),
// http.response.status_code, network.protocol.version and error.type. Attempt spans are made when
// the attempt has ended, so nothing can run inside them: they are internal
// spans, and the call's span is the client span.
//
// Each retry adds an event named "fetch.retry" to the call's span, when the
// retry is decided and the backoff starts, with fetch.attempt (the attempt
// that failed), fetch.retry.delay (the backoff, in seconds),
// http.response.status_code (if there was a response) and error.type.
//
// Hooks may not change requests, so they inject no trace context into the
// requests' headers. To propagate it, give the Fetcher [Propagate] too: it
// wraps the transport the Fetcher builds and injects the call's span
// context into every attempt and redirect. Propagate(nil) uses the global
// propagator, which sends nothing until [otel.SetTextMapPropagator] has
// set one; Propagate(propagation.TraceContext{}) sends W3C traceparent
// whatever the globals hold. The header's parent is the call's span (the
// attempt spans are made once the attempt has ended). With
// otelhttp.NewTransport given to [fetch.WithTransportWrapper], each
// request sent, redirects included, gets a client span of its own under
// the call's and its own traceparent; http.client.request.duration is then
// recorded by both, under their own instrumentation scopes, so count
// requests with one scope's. With [fetch.WithClient], send
// through a transport that injects it, such as otelhttp.NewTransport; its
// spans become children of the call's span.
package otelfetch
