// Package fetch fetches many HTTP resources concurrently, fast and politely.
//
// A [Fetcher] wraps one shared [http.Client]. Every request it sends passes
// gates before it touches the network: a token-bucket rate limit and a cap
// on requests in flight, per host and overall. Failures that are safe to
// retry are retried with capped, jittered exponential backoff, honouring
// Retry-After. Every call honours its context, including while it waits for
// a token, a slot or a backoff timer.
//
//	f, err := fetch.New(
//		fetch.WithConcurrency(32),             // at most 32 requests in flight
//		fetch.WithHostConcurrency(4),          // and 4 to any one host
//		fetch.WithRate(fetch.PerMinute(600), 10),
//	)
//	if err != nil { ... }
//	defer f.Shutdown(ctx)
//
//	for r := range f.Stream(ctx, urls) { // an iter.Seq[string]
//		if r.Err != nil {
//			log.Printf("%s: %v", r.URL, r.Err)
//			continue
//		}
//		process(r.Body)
//	}
//
// # Calls
//
// [Fetcher.Do] is [http.Client.Do] with the gates and retries: the caller
// reads and closes the body, which holds the request's slot until then, or
// until the request's context ends.
// [Fetcher.Get], [Fetcher.Fetch] and [GetJSON] read the body for you,
// capped in size. [Fetcher.GetAll] and [Fetcher.DoAll] return one [Result]
// per input in input order (like asyncio.gather), and their FailFast forms
// stop at the first failure; [Fetcher.Stream], [Fetcher.StreamRequests]
// and [StreamFunc] (inputs of any type) yield results as they complete,
// with memory bounded by the concurrency, not by the number of inputs.
// [Handle] and [HandleURLs] stream too, but hand each response to a
// function that reads its body as a stream, never buffered whole. A [Crawler]
// fetches pages and the links found on them, deduplicated, honouring
// robots.txt and nofollow; [Sitemap] lists the pages a site's sitemaps
// name, to seed one. A [TaskGroup] runs related work that should fail
// together.
//
// # Many hosts
//
// The batch, streaming and crawl calls queue their inputs per host and
// send each request when its host can take it, so a request waiting for a
// busy, paced or paused host never holds a worker, or a global slot or
// token, that a request to another host could use; requests to one host go
// in input order (they leave the host's queue in input order, but may
// reach a [Limiter] of the caller's own, which can only be waited for, in
// another). Redirects pass the gates of the host they lead to. See
// [WithReadAhead] for how far inputs are read ahead.
//
// # Retry-After
//
// A 429 or 503 with Retry-After pauses every request to its host until
// then, whether or not the call that got it retries; so does a rate limit
// told by the headers APIs send instead (a 429 or 403 with
// X-RateLimit-Reset, RateLimit-Reset or a RateLimit field: see
// [DefaultRetryable]), until the quota resets. When the pause ends,
// the requests that waited are not all released at once: a host without
// an adaptive rate ([WithAdaptiveRate]) is paced by a ramp, which lets one
// request through (a probe), then starts at 10 requests a second, or at
// half the rate the host carried before the pause if that was more
// (measured over a second or more), and doubles every tenth of a second
// while the host answers at about that rate (each success raises it by a
// step, so a slow host's ramp doubles once a round trip). The ramp ends at
// 10,000 a second. While it
// lasts, its rate is the host's [HostStats.Rate] and
// [AttemptInfo.HostRate].
//
// A host paced by a ramp or by its adaptive rate is not paused again while
// it is still answering at that pace: an overload signal (another 429,
// say) for a host that answered a success within the last second (and
// since the cut before the last) means the pace went past the host's limit.
// The pace is cut to what the host was seen to accept, and the refused
// request alone waits out its Retry-After. An overload signal that finds
// the host answering nothing at its pace (a probe refused), or the pace at
// its floor, pauses it as above; so does one that says the client's quota
// is spent (no requests remaining) or asks for a wait past MaxRetryAfter.
//
// [WithHostPause](false) keeps a Retry-After, and a rate limit told by
// headers, to the call that got it, for an API whose limits are per
// credential or per endpoint: that call's retry waits as asked, and the
// host is neither paused nor ramped.
//
// # Errors
//
// A failed request returns an [*Error] that names the request, counts its
// attempts and wraps the last cause, so [errors.Is] and [errors.As] reach
// [context.Canceled], [syscall.ECONNREFUSED], [*StatusError] (a non-2xx
// status, from the calls that read the body) and the sentinels such as
// [ErrInvalidURL], [ErrBodyTooLarge] and [ErrAttemptTimeout].
package fetch
