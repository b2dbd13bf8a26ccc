package fetch

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Hooks are callbacks the Fetcher runs as it works, for metrics and tracing.
// Any of them may be nil. They run on the goroutine making the call, so they
// must be quick and safe for concurrent use; they must not modify the
// request or read the response body. A hook that panics fails that call with
// a [*PanicError], and the call gives up everything it holds.
type Hooks struct {
	// OnAttempt runs after every attempt, with its outcome.
	OnAttempt func(AttemptInfo)
	// OnRetry runs when an attempt is to be retried, before the wait.
	OnRetry func(RetryInfo)
}

// AttemptInfo describes one attempt: exactly one of Response and Err is set.
type AttemptInfo struct {
	Request  *http.Request
	Attempt  int // 1 for the first attempt; net/http's own resends are part of it (see [Result.Attempts])
	Response *http.Response
	Err      error
	// HostRate is the host's adaptive rate after this attempt's outcome
	// was taken into account; zero unless [WithAdaptiveRate] is set.
	HostRate rate.Limit
}

// RetryInfo describes a retry about to happen.
type RetryInfo struct {
	Request *http.Request
	Attempt int           // the attempt that failed
	Delay   time.Duration // the wait before the next attempt
	Status  int           // the failed attempt's status, or 0 for an error
	Err     error         // the failed attempt's error, if any
}

// Stats is a snapshot of a Fetcher's counters.
type Stats struct {
	InFlight  int64 // attempts holding an in-flight slot (their body still open)
	Waiting   int64 // calls waiting for a rate token or a slot, or queued for their host by a batch, stream or crawl
	Completed int64 // calls that returned a response, whatever its status
	Failed    int64 // calls that returned an error
	Retried   int64 // retries made, over all calls

	// Hosts lists, by name, the hosts that are paused by a Retry-After
	// or throttled by [WithAdaptiveRate]; nil if none.
	Hosts []HostStats
}

// HostStats is the state of one host's gates.
type HostStats struct {
	Host        string     // host:port, as in the request's URL
	Rate        rate.Limit // the adaptive rate; zero unless WithAdaptiveRate is set
	Cuts        int        // times the adaptive rate was cut for overload
	PausedUntil time.Time  // when the host's Retry-After pause ends; zero if none
}

type counters struct {
	waiting, completed, failed, retried atomic.Int64
}

// Stats returns a snapshot of the Fetcher's counters and of the hosts that
// are paused or adaptively throttled. It is safe for concurrent use; the
// fields are read one by one, not atomically together. Its cost grows with
// the number of hosts the Fetcher remembers.
func (f *Fetcher) Stats() Stats {
	return Stats{
		InFlight:  int64(len(f.gates.slots)), // each attempt in flight holds one global slot
		Waiting:   f.stats.waiting.Load(),
		Completed: f.stats.completed.Load(),
		Failed:    f.stats.failed.Load(),
		Retried:   f.stats.retried.Load(),
		Hosts:     f.gates.hosts.stats(),
	}
}

func (f *Fetcher) onAttempt(req *http.Request, h *host, attempt int, resp *http.Response, err error) error {
	if f.hooks.OnAttempt == nil {
		return nil
	}
	info := AttemptInfo{Request: req, Attempt: attempt, Response: resp, Err: err}
	if h.throttle != nil {
		info.HostRate = h.throttle.rate()
	}
	return runHook(func() { f.hooks.OnAttempt(info) })
}

// runHook calls hook, returning a panic in it as a *PanicError.
func runHook(hook func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("hook: %w", &PanicError{Value: v, Stack: debug.Stack()})
		}
	}()
	hook()
	return nil
}

func (f *Fetcher) onRetry(req *http.Request, attempt int, delay time.Duration, resp *http.Response, err error) error {
	f.stats.retried.Add(1)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	if f.logger != nil {
		f.logger.LogAttrs(req.Context(), slog.LevelDebug, "fetch: retrying",
			slog.String("method", method(req)), slog.String("url", req.URL.Redacted()),
			slog.Int("attempt", attempt), slog.Duration("delay", delay),
			slog.Int("status", status), slog.Any("error", err))
	}
	if f.hooks.OnRetry == nil {
		return nil
	}
	return runHook(func() {
		f.hooks.OnRetry(RetryInfo{Request: req, Attempt: attempt, Delay: delay, Status: status, Err: err})
	})
}

// fail counts a failed call and wraps its cause in an *Error.
func (f *Fetcher) fail(req *http.Request, attempts int, err error) error {
	f.stats.failed.Add(1)
	e := &Error{Attempts: attempts, Err: err}
	if req != nil {
		e.Method = method(req)
		if req.URL != nil {
			e.URL = req.URL.Redacted()
		}
	}
	if f.logger != nil && req != nil {
		f.logger.LogAttrs(req.Context(), slog.LevelDebug, "fetch: failed",
			slog.String("method", e.Method), slog.String("url", e.URL),
			slog.Int("attempts", attempts), slog.Any("error", err))
	}
	return e
}

func method(req *http.Request) string {
	if req.Method == "" {
		return http.MethodGet
	}
	return req.Method
}
