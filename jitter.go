package fetch

import (
	"fmt"
	"math/rand/v2"
	"time"

	"golang.org/x/time/rate"
)

// WithHostRateJitter varies the wait between a host's rate tokens at
// random, so that its requests do not come on a fixed beat, as Scrapy's
// RANDOMIZE_DOWNLOAD_DELAY and wget's --random-wait do: each time a
// request takes one of the host's tokens, the interval before its next
// token is the rate's interval times a factor drawn uniformly from
// [1-f, 1+f]. With [WithHostRate](1, 1) and f 0.5, requests to one host
// that are always waiting for their token go between 0.5 s and 1.5 s
// apart, a second apart on average; the rate on average stays r. f must
// be at least 0 and less than 1; 0 (the default) keeps the rate's fixed
// interval.
//
// It varies the buckets of [WithHostRate] and a crawl's Crawl-delay pace
// (see [NewCrawler]), for every attempt that takes one of their tokens:
// retries and the redirects that reach the host included. It leaves alone
// the buckets of [WithHostLimiter], which are the caller's, the global
// [WithRate], and the rates of [WithAdaptiveRate] and of the ramp after a
// Retry-After pause. Without WithHostRate and outside a crawl it does
// nothing.
//
// With a burst over 1, a bucket that is not waited for fills at a varying
// rate rather than a fixed one. A token that a request already waits for
// when another takes one keeps the time it was given; the interval after
// it is varied when it is taken.
func WithHostRateJitter(f float64) Option {
	return func(c *config) error {
		if !(f >= 0 && f < 1) {
			return fmt.Errorf("fetch: WithHostRateJitter(%v): must be at least 0 and less than 1", f)
		}
		c.hostJitter = f
		return nil
	}
}

// rejitter varies the interval before l's next token, once a request has
// taken one, as [WithHostRateJitter] says: from now on l fills at base
// divided by a factor drawn uniformly from [1-f, 1+f), so that a bucket of
// burst 1 emptied at now has its next token due factor/base later. l keeps
// the tokens it had at now; a bucket that has filled meanwhile stays full.
//
// It leaves l as it is while a token of l's is reserved beyond now (a
// call waits for it, its time fixed): that reservation's debt would then
// be repaid at another rate than the one that set its time, and the token
// after it come early or late by up to the whole debt. Its taker varies
// the interval when it takes it.
func rejitter(l *rate.Limiter, base rate.Limit, f float64, now time.Time) {
	if debt := -l.TokensAt(now); debt > float64(l.Limit())*1e-6 {
		return // reserved more than a microsecond ahead
	}
	factor := 1 - f + 2*f*rand.Float64()
	l.SetLimitAt(now, base/rate.Limit(factor))
}
