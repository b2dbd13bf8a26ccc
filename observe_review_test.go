package fetch

// An SRE's review of the Fetcher's observability: the numbers a dashboard
// builds from Hooks and Stats() must add up, across a mixed workload run
// through every kind of call at once.
//
// What the documentation promises, and these tests check:
//
//   - Hooks: "For every call, OnCall runs first, then OnAttempt after each
//     attempt and OnRetry before each wait to retry, and OnDone last. A
//     call that fails before it starts (an invalid request, or one made
//     after Shutdown) runs none of them." So #OnCall == #OnDone, and
//     Stats().Calls == #OnDone + the calls refused before they started
//     (all of which are Failed.Refused with 0 attempts).
//   - Stats.Calls is Succeeded plus Failed.Total(); each Failures field
//     counts what its comment says (Status for a non-2xx final response,
//     Timeout, Canceled, Network, Refused including circuit breaker and
//     retry budget refusals, Other for "a body over the cap, too many
//     redirects, a panicking hook, ...").
//   - Stats.Attempts counts "as Error.Attempts counts them" (net/http's own
//     resends included, the requests that follow a redirect not), so
//     Stats.Attempts == Σ DoneInfo.Attempts == what the server saw, less
//     the redirect follow-ups; OnAttempt runs once per attempt, so #OnAttempt
//     <= Stats.Attempts, equal where net/http never resends (memhttp).
//   - Stats.Retries counts "attempts that were retries ... a retry decided
//     but never sent is not one": Stats.Retries == Σ (n-1) over calls with
//     n OnAttempts, and #OnRetry == Stats.Retries + the calls whose last
//     OnRetry was never followed by an attempt (cancelled in the backoff,
//     refused by an open breaker).
//   - RetryInfo.Delay is the wait before the next attempt (under synctest,
//     the next attempt's Start is exactly OnRetry + Delay + Waited).
//   - Waiting and InFlight are never negative, and are 0 once every call
//     has ended and every body is closed.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
)

// ---------------------------------------------------------------------------
// The ledger: what an observer wired to Hooks sees.

type obsCallKey struct{}

type obsAttempt struct {
	info AttemptInfo
	seq  int
}

type obsRetry struct {
	info RetryInfo
	at   time.Time // when OnRetry ran
	seq  int
}

type obsCall struct {
	id      int
	url     string
	host    string
	tCall   time.Time
	callSeq int

	attempts []obsAttempt
	retries  []obsRetry
	dones    []DoneInfo
	doneSeq  int
	late     int // events after OnDone
}

// obsLedger records every hook event, per call (OnCall's context carries
// the call's id), and samples Stats() at every event.
type obsLedger struct {
	conc int64
	f    atomic.Pointer[Fetcher]

	mu         sync.Mutex
	seq        int
	calls      map[int]*obsCall
	nCall      int
	nAttempt   int
	nLaterAtt  int // OnAttempts with Attempt > 1
	nRetry     int
	nDone      int
	orphans    []string
	violations []string
	last       Stats // the previous sample, taken under mu

	cancels map[string]context.CancelFunc // OnRetry cancels these calls' contexts
}

func newObsLedger(conc int) *obsLedger {
	return &obsLedger{conc: int64(conc), calls: map[int]*obsCall{}, cancels: map[string]context.CancelFunc{}}
}

func (l *obsLedger) violate(format string, args ...any) {
	l.violations = append(l.violations, fmt.Sprintf(format, args...))
}

// sample checks Stats() at an event, l.mu held: gauges within bounds,
// counters never going back, and counters ahead of the hooks (a call is
// counted before its OnDone, an attempt before its OnAttempt).
func (l *obsLedger) sample(event string) {
	f := l.f.Load()
	if f == nil {
		return
	}
	s := f.Stats()
	if s.Waiting < 0 || s.InFlight < 0 || s.InFlight > l.conc {
		l.violate("%s: Waiting %d, InFlight %d (concurrency %d)", event, s.Waiting, s.InFlight, l.conc)
	}
	if s.Calls != s.Succeeded+s.Failed.Total() {
		l.violate("%s: Calls %d != Succeeded %d + Failed %d", event, s.Calls, s.Succeeded, s.Failed.Total())
	}
	p := l.last
	if s.Calls < p.Calls || s.Attempts < p.Attempts || s.Retries < p.Retries || s.Succeeded < p.Succeeded ||
		s.Failed.Status < p.Failed.Status || s.Failed.Timeout < p.Failed.Timeout || s.Failed.Canceled < p.Failed.Canceled ||
		s.Failed.Network < p.Failed.Network || s.Failed.Refused < p.Failed.Refused || s.Failed.Other < p.Failed.Other {
		l.violate("%s: a counter went back: %+v after %+v", event, s, p)
	}
	if s.Attempts < int64(l.nAttempt) || s.Retries < int64(l.nLaterAtt) || s.Calls < int64(l.nDone) {
		l.violate("%s: Stats behind the hooks: Attempts %d < %d OnAttempt, or Retries %d < %d, or Calls %d < %d OnDone",
			event, s.Attempts, l.nAttempt, s.Retries, l.nLaterAtt, s.Calls, l.nDone)
	}
	l.last = s
}

func (l *obsLedger) callOf(ctx context.Context, event string) *obsCall {
	id, _ := ctx.Value(obsCallKey{}).(int)
	c := l.calls[id]
	if c == nil {
		l.orphans = append(l.orphans, event)
		return nil
	}
	if c.dones != nil {
		c.late++
	}
	return c
}

// hookPanics reports whether the hook named kind must panic for req: its
// URL's query says hp=kind.
func hookPanics(kind string, req *http.Request) bool {
	return req != nil && req.URL != nil && req.URL.Query().Get("hp") == kind
}

func (l *obsLedger) hooks() Hooks {
	return Hooks{
		OnCall: func(ctx context.Context, i CallInfo) context.Context {
			now := time.Now()
			l.mu.Lock()
			l.seq++
			l.nCall++
			id := l.nCall
			l.calls[id] = &obsCall{id: id, url: i.Request.URL.String(), host: i.Host, tCall: now, callSeq: l.seq}
			l.sample("OnCall")
			l.mu.Unlock()
			if hookPanics("call", i.Request) {
				panic("review: OnCall")
			}
			return context.WithValue(ctx, obsCallKey{}, id)
		},
		OnAttempt: func(a AttemptInfo) {
			l.mu.Lock()
			l.seq++
			l.nAttempt++
			if a.Attempt > 1 {
				l.nLaterAtt++
			}
			if a.Request == nil {
				l.orphans = append(l.orphans, "OnAttempt without a Request")
			} else if c := l.callOf(a.Request.Context(), "OnAttempt "+a.Request.URL.String()); c != nil {
				c.attempts = append(c.attempts, obsAttempt{info: a, seq: l.seq})
			}
			l.sample("OnAttempt")
			l.mu.Unlock()
			if hookPanics("attempt", a.Request) {
				panic("review: OnAttempt")
			}
		},
		OnRetry: func(r RetryInfo) {
			now := time.Now()
			l.mu.Lock()
			l.seq++
			l.nRetry++
			var cancel context.CancelFunc
			if r.Request == nil {
				l.orphans = append(l.orphans, "OnRetry without a Request")
			} else if c := l.callOf(r.Request.Context(), "OnRetry "+r.Request.URL.String()); c != nil {
				c.retries = append(c.retries, obsRetry{info: r, at: now, seq: l.seq})
				cancel = l.cancels[c.url]
			}
			l.sample("OnRetry")
			l.mu.Unlock()
			if cancel != nil {
				cancel() // the caller gives up during the backoff: a retry decided, never sent
			}
			if hookPanics("retry", r.Request) {
				panic("review: OnRetry")
			}
		},
		OnDone: func(d DoneInfo) {
			l.mu.Lock()
			l.seq++
			l.nDone++
			if c := l.callOf(d.Context, "OnDone "+d.Request.URL.String()); c != nil {
				c.dones = append(c.dones, d) // a second OnDone counts as late in callOf
				c.doneSeq = l.seq
			}
			l.sample("OnDone")
			l.mu.Unlock()
			if hookPanics("done", d.Request) {
				panic("review: OnDone")
			}
		},
	}
}

// ---------------------------------------------------------------------------
// What the callers got back.

type obsOut struct {
	api      string
	url      string // as given; the key to the call's DoneInfo
	err      error
	status   int // -1: the API does not say
	attempts int // -1: the API does not say
}

type obsOuts struct {
	mu   sync.Mutex
	list []obsOut
}

func (o *obsOuts) add(x obsOut) {
	o.mu.Lock()
	o.list = append(o.list, x)
	o.mu.Unlock()
}

func (o *obsOuts) result(api string, r Result) {
	o.add(obsOut{api: api, url: r.URL, err: r.Err, status: r.Status, attempts: r.Attempts})
}

// do runs f.Do and closes the body, reading it (a cut body fails here, in
// the caller's hands: the call was a success).
func (o *obsOuts) do(f *Fetcher, ctx context.Context, u string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		panic(err)
	}
	resp, err := f.Do(req)
	x := obsOut{api: "Do", url: u, err: err, attempts: -1}
	if e, ok := errors.AsType[*Error](err); ok {
		x.attempts = e.Attempts
	}
	if resp != nil {
		x.status = resp.StatusCode
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	o.add(x)
}

func (o *obsOuts) get(f *Fetcher, ctx context.Context, u string) {
	_, err := f.Get(ctx, u)
	x := obsOut{api: "Get", url: u, err: err, status: -1, attempts: -1}
	if e, ok := errors.AsType[*Error](err); ok {
		x.attempts = e.Attempts
	}
	o.add(x)
}

func (o *obsOuts) fetch(f *Fetcher, ctx context.Context, u string) {
	r := f.Fetch(ctx, u)
	r.URL = u
	o.result("Fetch", r)
}

// ---------------------------------------------------------------------------
// Classification, as the documentation of Failures states it.

// obsKind is the Stats bucket the documentation puts a call in, from what
// its caller got: err and the final status (for Do, whose non-2xx is not
// an error).
func obsKind(err error, status int) string {
	switch {
	case err == nil && (status < 0 || status >= 200 && status <= 299):
		return "ok"
	case err == nil:
		return "status" // Do: "the final response was not 2xx (Do returns it, and it is counted here too)"
	case errors.Is(err, ErrCircuitOpen) || errors.As(err, new(*RetryBudgetError)):
		return "refused" // "an open circuit breaker, a spent retry budget"
	case errors.Is(err, ErrInvalidURL) || errors.Is(err, ErrClosed) || errors.Is(err, ErrBlockedAddress) ||
		errors.Is(err, ErrLimiterUnavailable) || errors.Is(err, ErrDisallowed):
		return "refused"
	case errors.As(err, new(*StatusError)):
		return "status"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, new(*PanicError)) || errors.Is(err, ErrTooManyRedirects) || errors.Is(err, ErrBodyTooLarge) ||
		errors.Is(err, ErrAlreadySeen) || errors.Is(err, ErrOutOfScope):
		return "other" // "a body over the cap, too many redirects, a panicking hook, ..."
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, new(*net.OpError)) || errors.As(err, new(*net.DNSError)):
		return "network"
	}
	return "other"
}

func obsFailures(k map[string]int64) Failures {
	return Failures{Status: k["status"], Timeout: k["timeout"], Canceled: k["canceled"],
		Network: k["network"], Refused: k["refused"], Other: k["other"]}
}

// ---------------------------------------------------------------------------
// The checks.

type obsSummary struct {
	kinds         map[string]int64
	unhooked      int   // calls refused before they started: no hooks
	robots        int   // DoneInfos of a crawl's robots.txt, which no caller made
	unsentRetries int   // calls whose last OnRetry was never followed by an attempt
	resends       int   // calls where net/http resent by itself (DoneInfo.Attempts > #OnAttempt)
	hookPanics    int   // calls failed by a hook's panic
	redirected    int   // attempts answered by another host than the call's own
	maxAttempts   int   // the most OnAttempts of one call
	waited        int64 // attempts that waited at the gates
}

// verify checks every invariant over what the ledger saw, what the callers
// got, and Stats(). wire is the number of requests that reached the
// server, less the redirect follow-ups. exact says the run was inside a
// synctest bubble on memhttp: no resends, and time moves only at waits.
func (l *obsLedger) verify(t *testing.T, f *Fetcher, outs []obsOut, wire int64, exact bool) obsSummary {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	sum := obsSummary{kinds: map[string]int64{}}
	for _, v := range l.violations {
		t.Errorf("at a hook: %s", v)
	}
	for _, o := range l.orphans {
		t.Errorf("hook event for no known call: %s", o)
	}
	if l.nCall != l.nDone {
		t.Errorf("OnCall ran %d times, OnDone %d; want equal", l.nCall, l.nDone)
	}

	byURL := map[string]obsOut{}
	for _, o := range outs {
		if _, dup := byURL[o.url]; dup && o.url != "" {
			t.Fatalf("test bug: URL %q used twice", o.url)
		}
		byURL[o.url] = o
	}
	matched := map[string]bool{}

	var sumDoneAttempts, sumRetriesSent int64
	nAttempts := 0
	for id := 1; id <= l.nCall; id++ {
		c := l.calls[id]
		name := fmt.Sprintf("call %d %s", c.id, c.url)
		if len(c.dones) != 1 {
			t.Errorf("%s: OnDone ran %d times; want exactly 1", name, len(c.dones))
			continue
		}
		if c.late != 0 {
			t.Errorf("%s: %d hook events after its OnDone", name, c.late)
		}
		d := c.dones[0]
		n := len(c.attempts)
		nAttempts += n
		sum.maxAttempts = max(sum.maxAttempts, n)
		if d.Host != c.host || d.Request == nil || d.Request.URL.String() != c.url {
			t.Errorf("%s: DoneInfo names host %q, request %v; OnCall said %q", name, d.Host, d.Request, c.host)
		}
		if d.Err != nil {
			e, ok := d.Err.(*Error)
			if !ok {
				t.Errorf("%s: DoneInfo.Err is %T; the docs say nil or an *Error", name, d.Err)
			} else if e.Attempts != d.Attempts {
				t.Errorf("%s: DoneInfo.Attempts %d, its Error.Attempts %d", name, d.Attempts, e.Attempts)
			}
		}
		// Attempt numbers, order, and what each says.
		for k, a := range c.attempts {
			ai := a.info
			if ai.Attempt != k+1 {
				t.Errorf("%s: OnAttempt #%d says Attempt %d; want %d (1..n, no gaps)", name, k+1, ai.Attempt, k+1)
			}
			if a.seq < c.callSeq || a.seq > c.doneSeq {
				t.Errorf("%s: OnAttempt %d outside OnCall..OnDone", name, ai.Attempt)
			}
			if (ai.Response == nil) == (ai.Err == nil) {
				t.Errorf("%s: attempt %d has Response %v and Err %v; want exactly one", name, ai.Attempt, ai.Response != nil, ai.Err)
			}
			if ai.Response != nil && ai.Status != ai.Response.StatusCode {
				t.Errorf("%s: attempt %d Status %d, Response %d", name, ai.Attempt, ai.Status, ai.Response.StatusCode)
			}
			if ai.Request.URL.String() != c.url {
				t.Errorf("%s: attempt %d sent %s", name, ai.Attempt, ai.Request.URL)
			}
			if ai.Host != c.host {
				sum.redirected++
			}
			if ai.Duration < 0 || ai.Waited < 0 || ai.Start.IsZero() {
				t.Errorf("%s: attempt %d Start %v Duration %v Waited %v", name, ai.Attempt, ai.Start, ai.Duration, ai.Waited)
			}
			if ai.Waited > 0 {
				sum.waited++
			}
		}
		// Retries: one before each later attempt, and perhaps one more that
		// was never sent.
		r := len(c.retries)
		switch {
		case n == 0 && r != 0, n > 0 && r != n-1 && r != n:
			t.Errorf("%s: %d OnRetry for %d OnAttempt; want n-1, or n if the last retry was never sent", name, r, n)
		case n > 0 && r == n:
			sum.unsentRetries++
			if d.Err == nil {
				t.Errorf("%s: a retry was decided and not sent, yet the call succeeded", name)
			}
		}
		for k, rt := range c.retries {
			if k >= n {
				break
			}
			ri, a := rt.info, c.attempts[k].info
			if ri.Attempt != a.Attempt || ri.Status != a.Status || fmt.Sprint(ri.Err) != fmt.Sprint(a.Err) || ri.Delay < 0 {
				t.Errorf("%s: RetryInfo %+v does not match the attempt before it %+v", name, ri, a)
			}
			if rt.seq < c.attempts[k].seq || k+1 < n && rt.seq > c.attempts[k+1].seq || rt.seq > c.doneSeq {
				t.Errorf("%s: OnRetry %d out of order", name, ri.Attempt)
			}
		}
		if n > 1 {
			sumRetriesSent += int64(n - 1)
		}
		// Attempts: the documented count.
		sumDoneAttempts += int64(d.Attempts)
		if exact && d.Attempts != n || !exact && d.Attempts < n {
			t.Errorf("%s: DoneInfo.Attempts %d for %d OnAttempt", name, d.Attempts, n)
		}
		if d.Attempts > n {
			sum.resends++
		}
		// Time: every attempt inside the call, none overlapping.
		end := c.tCall.Add(d.Duration)
		var total time.Duration
		prevEnd := c.tCall
		for _, a := range c.attempts {
			ai := a.info
			total += ai.Duration
			if ai.Start.Before(prevEnd) {
				t.Errorf("%s: attempt %d starts %v before the previous one ended (or before OnCall)", name, ai.Attempt, prevEnd.Sub(ai.Start))
			}
			prevEnd = ai.Start.Add(ai.Duration)
		}
		if total > d.Duration || prevEnd.After(end) {
			t.Errorf("%s: attempts last %v, end %v after the call; DoneInfo.Duration %v", name, total, prevEnd.Sub(end), d.Duration)
		}
		if exact {
			l.exactTimes(t, name, c, d)
		}
		// What the caller got.
		o, ok := byURL[c.url]
		if !ok {
			if strings.HasSuffix(c.url, "/robots.txt") {
				sum.robots++
				sum.kinds[obsKind(d.Err, d.Status)]++
				continue
			}
			t.Errorf("%s: no caller got a result for it", name)
			continue
		}
		matched[c.url] = true
		de, _ := d.Err.(*Error)
		oe, _ := o.err.(*Error)
		if de != oe || (d.Err == nil) != (o.err == nil) {
			t.Errorf("%s (%s): DoneInfo.Err %v; the caller got %v", name, o.api, d.Err, o.err)
		}
		if o.attempts >= 0 && o.attempts != d.Attempts {
			t.Errorf("%s (%s): caller's Attempts %d, DoneInfo.Attempts %d", name, o.api, o.attempts, d.Attempts)
		}
		if o.status >= 0 && o.status != d.Status {
			t.Errorf("%s (%s): caller's Status %d, DoneInfo.Status %d", name, o.api, o.status, d.Status)
		}
		if errors.As(o.err, new(*PanicError)) && strings.Contains(fmt.Sprint(o.err), "hook:") {
			sum.hookPanics++
		}
		sum.kinds[obsKind(o.err, o.status)]++
	}
	// Calls that ran no hooks: refused before they started, with 0 attempts.
	for _, o := range outs {
		if matched[o.url] {
			continue
		}
		sum.unhooked++
		if o.err == nil || o.attempts > 0 {
			t.Errorf("%s %q ran no hooks but got %v after %d attempts; only calls refused before they start skip the hooks", o.api, o.url, o.err, o.attempts)
		}
		sum.kinds["refused"]++
	}

	s := f.Stats()
	if s.Calls != s.Succeeded+s.Failed.Total() {
		t.Errorf("Stats.Calls %d != Succeeded %d + Failed.Total %d", s.Calls, s.Succeeded, s.Failed.Total())
	}
	if want := int64(l.nDone + sum.unhooked); s.Calls != want {
		t.Errorf("Stats.Calls %d; want %d OnDone + %d refused before they started = %d", s.Calls, l.nDone, sum.unhooked, want)
	}
	if s.Succeeded != sum.kinds["ok"] || s.Failed != obsFailures(sum.kinds) {
		t.Errorf("Stats: Succeeded %d, Failed %+v\nfrom what the callers got: Succeeded %d, Failed %+v",
			s.Succeeded, s.Failed, sum.kinds["ok"], obsFailures(sum.kinds))
	}
	if s.Attempts != sumDoneAttempts {
		t.Errorf("Stats.Attempts %d; Σ DoneInfo.Attempts %d", s.Attempts, sumDoneAttempts)
	}
	if exact && s.Attempts != int64(l.nAttempt) || s.Attempts < int64(l.nAttempt) || nAttempts != l.nAttempt {
		t.Errorf("Stats.Attempts %d; %d OnAttempt events (%d matched to calls)", s.Attempts, l.nAttempt, nAttempts)
	}
	if s.Attempts != wire {
		t.Errorf("Stats.Attempts %d; the server saw %d requests (redirect follow-ups aside)", s.Attempts, wire)
	}
	if s.Retries != sumRetriesSent {
		t.Errorf("Stats.Retries %d; Σ (OnAttempts-1) per call %d", s.Retries, sumRetriesSent)
	}
	if want := s.Retries + int64(sum.unsentRetries); int64(l.nRetry) != want {
		t.Errorf("%d OnRetry; want Stats.Retries %d + %d retries decided but never sent", l.nRetry, s.Retries, sum.unsentRetries)
	}
	if s.Waiting != 0 || s.InFlight != 0 {
		t.Errorf("when all is done: Waiting %d, InFlight %d; want 0", s.Waiting, s.InFlight)
	}
	t.Logf("Stats %+v", s)
	t.Logf("hooks: %d calls, %d attempts, %d retries; %d refused before start, %d robots.txt, %d unsent retries, %d resends, %d hook panics, %d redirected attempts, %d attempts waited",
		l.nCall, l.nAttempt, l.nRetry, sum.unhooked, sum.robots, sum.unsentRetries, sum.resends, sum.hookPanics, sum.redirected, sum.waited)
	return sum
}

// exactTimes checks, inside a synctest bubble (time moves only while every
// goroutine waits), that a call's time is made of its waits at the gates,
// its attempts and its retry delays, and nothing else: each RetryInfo.Delay
// is what the call then waited.
func (l *obsLedger) exactTimes(t *testing.T, name string, c *obsCall, d DoneInfo) {
	t.Helper()
	end := c.tCall.Add(d.Duration)
	n := len(c.attempts)
	if n > 0 {
		if a := c.attempts[0].info; !a.Start.Equal(c.tCall.Add(a.Waited)) {
			t.Errorf("%s: attempt 1 starts %v after OnCall; it waited %v", name, a.Start.Sub(c.tCall), a.Waited)
		}
	}
	for k, rt := range c.retries {
		a := c.attempts[k].info
		if aEnd := a.Start.Add(a.Duration); !rt.at.Equal(aEnd) {
			t.Errorf("%s: OnRetry %d ran %v after its attempt ended", name, k+1, rt.at.Sub(aEnd))
		}
		if k+1 < n {
			next := c.attempts[k+1].info
			if got, want := next.Start.Sub(rt.at), rt.info.Delay+next.Waited; got != want {
				t.Errorf("%s: attempt %d started %v after OnRetry; RetryInfo.Delay %v + Waited %v = %v",
					name, k+2, got, rt.info.Delay, next.Waited, want)
			}
		}
	}
	switch r := len(c.retries); {
	case n == 0:
		if end.Before(c.tCall) {
			t.Errorf("%s: ends before it starts", name)
		}
	case r == n-1:
		a := c.attempts[n-1].info
		if aEnd := a.Start.Add(a.Duration); !end.Equal(aEnd) {
			t.Errorf("%s: ends %v after its last attempt ended", name, end.Sub(aEnd))
		}
	default: // the last retry never went
		rt := c.retries[r-1]
		switch {
		case errors.Is(d.Err, ErrCircuitOpen):
			if got := end.Sub(rt.at); got != rt.info.Delay {
				t.Errorf("%s: refused by the breaker %v after OnRetry; Delay %v", name, got, rt.info.Delay)
			}
		case end.Before(rt.at) || end.After(rt.at.Add(rt.info.Delay)):
			t.Errorf("%s: ended %v after its last OnRetry (Delay %v)", name, end.Sub(rt.at), rt.info.Delay)
		}
	}
}

// ---------------------------------------------------------------------------
// The in-memory world: hosts that behave as their paths say.

// obsSite counts and serves requests by host and path:
//
//	/ok /h /target/*   200 "hello"        /nf       404
//	/flaky   500, then 200                /fail     500 always
//	/ra      503 Retry-After: 1, then 200 /budget   503 always
//	/breaker 502 always                   /big      4 KiB
//	/slow    hangs once, then 200         /slowall  hangs until cancelled
//	/same    302 to /target/same          /cross    302 to ok.test/target/cross
//	/loop    302 to itself
//	/reset   reset once (before the handler); /resetall: reset every time
//	/cut     body cut short once
//
// and site.test is a small site for a crawl.
type obsSite struct {
	mu     sync.Mutex
	hits   map[string]int // per host and request URI, at the handler
	wired  map[string]int // per host and request URI, on the "wire"
	wire   int64          // requests sent, the redirect follow-ups aside
	follow int64          // redirect follow-ups
	next   http.RoundTripper
}

func newObsSite() *obsSite {
	s := &obsSite{hits: map[string]int{}, wired: map[string]int{}}
	s.next = memhttp.Transport{Handler: http.HandlerFunc(s.serve)}
	return s
}

func (s *obsSite) counts() (wire, follow int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wire, s.follow
}

// cutBody yields a little of the body, then fails as a connection cut
// part way would.
type cutBody struct {
	left int
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(p), b.left)
	for i := range n {
		p[i] = 'x'
	}
	b.left -= n
	return n, nil
}

func (b *cutBody) Close() error { return nil }

// RoundTrip is the wire: it counts every request and resets or cuts some.
func (s *obsSite) RoundTrip(r *http.Request) (*http.Response, error) {
	key := r.URL.Host + r.URL.RequestURI()
	s.mu.Lock()
	s.wired[key]++
	n := s.wired[key]
	if strings.HasPrefix(r.URL.Path, "/target/") {
		s.follow++
	} else {
		s.wire++
	}
	s.mu.Unlock()
	switch {
	case r.URL.Path == "/reset" && n == 1, r.URL.Path == "/resetall":
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	case r.URL.Path == "/cut" && n == 1:
		resp, err := s.next.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		resp.Body, resp.ContentLength = &cutBody{left: 2}, 5
		return resp, nil
	}
	return s.next.RoundTrip(r)
}

const obsPage = `<html><body>%s</body></html>`

func (s *obsSite) serve(w http.ResponseWriter, r *http.Request) {
	key := r.Host + r.URL.RequestURI()
	s.mu.Lock()
	s.hits[key]++
	n := s.hits[key]
	s.mu.Unlock()
	if r.Host == "site.test" {
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nDisallow: /private\n")
		case "/":
			fmt.Fprintf(w, obsPage, `<a href="/p1">1</a><a href="/p2">2</a><a href="/private/x">x</a><a href="http://elsewhere.test/">e</a><a href="/nf-page">nf</a>`)
		case "/p1":
			fmt.Fprintf(w, obsPage, `<a href="/">home</a><a href="/p3">3</a>`)
		case "/p2":
			if n == 1 {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			fmt.Fprintf(w, obsPage, `<a href="/p1">1</a>`)
		case "/p3":
			fmt.Fprintf(w, obsPage, "")
		case "/redir":
			http.Redirect(w, r, "/p1", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
		return
	}
	q := r.URL.RawQuery
	switch r.URL.Path {
	case "/ok", "/h", "/target/same", "/target/cross", "/reset", "/cut":
		fmt.Fprint(w, "hello")
	case "/nf":
		http.NotFound(w, r)
	case "/flaky":
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "hello")
	case "/fail":
		w.WriteHeader(http.StatusInternalServerError)
	case "/ra":
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "hello")
	case "/budget":
		w.WriteHeader(http.StatusServiceUnavailable)
	case "/breaker":
		w.WriteHeader(http.StatusBadGateway)
	case "/big":
		w.Write(make([]byte, 4<<10))
	case "/slow":
		if n == 1 {
			<-r.Context().Done()
			return
		}
		fmt.Fprint(w, "hello")
	case "/slowall":
		<-r.Context().Done()
	case "/same":
		http.Redirect(w, r, "/target/same?"+q, http.StatusFound)
	case "/cross":
		http.Redirect(w, r, "http://ok.test/target/cross?"+q, http.StatusFound)
	case "/loop":
		http.Redirect(w, r, r.URL.RequestURI(), http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

// only502 makes the circuit breaker judge breaker.test alone, so that the
// other hosts' failures in the mix never open theirs.
func only502(resp *http.Response, err error) bool {
	return resp != nil && resp.StatusCode == http.StatusBadGateway
}

// ---------------------------------------------------------------------------
// The mixed run, in memory, under synctest.

func TestObserveReviewMixedMem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const conc = 8
		led := newObsLedger(conc)
		site := newObsSite()
		f, err := New(WithClient(&http.Client{Transport: site}),
			WithConcurrency(conc), WithHostConcurrency(2),
			WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond}),
			WithAttemptTimeout(time.Second),
			WithMaxBodySize(1<<10),
			WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 2, OpenFor: time.Minute, IsFailure: only502}),
			WithRetryBudget(RetryBudget{Min: 10, Ratio: 0.1, Window: 10 * time.Second}),
			WithHooks(led.hooks()))
		if err != nil {
			t.Fatal(err)
		}
		led.f.Store(f)
		var outs obsOuts
		hosts := obsURLs()
		u := func(host, path string, extra ...string) string { return hosts("http://"+host, path, extra...) }
		ctx := t.Context()
		var wg sync.WaitGroup

		// Do: the caller reads the body, so a cut body is a success here.
		wg.Go(func() {
			for _, p := range []string{"/ok", "/nf", "/flaky", "/ra", "/same", "/cross", "/reset", "/cut", "/slow", "/fail", "/big"} {
				outs.do(f, ctx, u("do.test", p))
			}
			outs.do(f, ctx, u("do.test", "/ok", "hp=attempt"))
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			outs.do(f, cctx, u("do.test", "/ok"))
		})
		// Get and Fetch, each path on a host of its own, so that the
		// per-host concurrency of 2 makes some wait.
		for _, p := range []string{"/ok", "/nf", "/flaky", "/ra", "/cut", "/reset", "/slow", "/slowall", "/same", "/cross", "/big"} {
			wg.Go(func() {
				host := "get" + strings.ReplaceAll(p, "/", "-") + ".test"
				for range 3 {
					outs.fetch(f, ctx, u(host, p))
				}
				outs.get(f, ctx, u(host, p))
			})
		}
		wg.Go(func() {
			outs.fetch(f, ctx, u("panic.test", "/ok", "hp=attempt"))
			outs.fetch(f, ctx, u("panic.test", "/flaky", "hp=retry"))
			outs.fetch(f, ctx, u("panic.test", "/nf", "hp=done"))
			outs.fetch(f, ctx, "file:///etc/passwd")
			outs.fetch(f, ctx, "http://")
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			outs.fetch(f, cctx, u("panic.test", "/ok"))
			dctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
			outs.fetch(f, dctx, u("panic.test", "/slowall"))
			cancel()
			// Cancelled by the caller during its backoff (in OnRetry).
			rctx, cancel := context.WithCancel(ctx)
			x := u("panic.test", "/fail")
			led.mu.Lock()
			led.cancels[x] = cancel
			led.mu.Unlock()
			outs.fetch(f, rctx, x)
			cancel()
		})
		// A host that fails with 502 until its breaker opens.
		wg.Go(func() {
			for range 6 {
				outs.fetch(f, ctx, u("breaker.test", "/breaker"))
			}
		})
		// A host whose retry budget runs out.
		wg.Go(func() {
			for range 10 {
				outs.fetch(f, ctx, u("budget.test", "/budget"))
			}
		})
		// GetAll and Stream, with invalid URLs among them.
		mixed := func(host string) []string {
			var in []string
			for _, p := range []string{"/ok", "/nf", "/flaky", "/ra", "/cut", "/reset", "/resetall", "/same", "/cross", "/slow", "/big"} {
				in = append(in, u(host, p), u(host+"2", p))
			}
			return append(in, "ftp://x/"+host, "http://["+host)
		}
		wg.Go(func() {
			in := mixed("all.test")
			for i, r := range f.GetAll(ctx, in) {
				r.URL = in[i]
				outs.result("GetAll", r)
			}
		})
		wg.Go(func() {
			in := mixed("stream.test")
			for r := range f.Stream(ctx, slices.Values(in)) {
				r.URL = in[r.Index]
				outs.result("Stream", r)
			}
		})
		// A stream cancelled after its first result: the rest fail with
		// context.Canceled, each still a call.
		wg.Go(func() {
			in := mixed("cancel.test")
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			for r := range f.Stream(sctx, slices.Values(in)) {
				cancel()
				r.URL = in[r.Index]
				outs.result("Stream(cancelled)", r)
			}
		})
		// Handle: handler errors, panics and retries.
		wg.Go(func() {
			var in []string
			for _, h := range []string{"ok", "err", "panic", "retry", "ok", "retry"} {
				in = append(in, u("hand.test", "/h", "h="+h))
			}
			in = append(in, "bad input")
			var mu sync.Mutex
			tries := map[string]int{}
			build := func(ctx context.Context, s string) (*http.Request, error) {
				if s == "bad input" {
					return nil, errors.New("cannot build")
				}
				return http.NewRequestWithContext(ctx, http.MethodGet, s, nil)
			}
			handle := func(s string, resp *http.Response) (int, error) {
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					return 0, err
				}
				switch resp.Request.URL.Query().Get("h") {
				case "err":
					return 0, errors.New("bad page")
				case "panic":
					panic("handler")
				case "retry":
					mu.Lock()
					tries[s]++
					first := tries[s] == 1
					mu.Unlock()
					if first {
						return 0, RetryableError(errors.New("try again"))
					}
				}
				return len(b), nil
			}
			for h := range Handle(ctx, f, slices.Values(in), build, handle) {
				outs.add(obsOut{api: "Handle", url: h.Input, err: h.Err, status: h.Status, attempts: h.Attempts})
			}
		})
		// A crawl: robots.txt (a call of its own), a disallowed page and a
		// seed out of scope (refused before they start), a retried page.
		wg.Go(func() {
			c, err := NewCrawler(f, CrawlHosts("site.test"), CrawlMaxDepth(2))
			if err != nil {
				t.Error(err)
				return
			}
			for p := range c.Run(ctx, "http://site.test/", "http://outside.test/x") {
				outs.result("Crawl", p.Result)
				if p.Err == nil {
					p.Follow(p.Links()...)
				}
			}
		})
		wg.Wait()

		if err := f.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		outs.fetch(f, ctx, u("late.test", "/ok")) // ErrClosed: no hooks

		wire, follow := site.counts()
		sum := led.verify(t, f, outs.list, wire, true)
		t.Logf("redirect follow-ups %d", follow)

		// The mix covered what it claims to.
		for _, k := range []string{"ok", "status", "timeout", "canceled", "network", "refused", "other"} {
			if sum.kinds[k] == 0 {
				t.Errorf("no call ended %s: the mix does not cover it", k)
			}
		}
		if sum.unsentRetries < 2 || sum.hookPanics < 3 || sum.robots != 1 || sum.unhooked < 8 || sum.redirected == 0 || sum.waited == 0 || follow == 0 {
			t.Errorf("coverage: %+v, %d follow-ups", sum, follow)
		}
		var open, spent bool
		for _, o := range outs.list {
			open = open || errors.Is(o.err, ErrCircuitOpen)
			spent = spent || errors.As(o.err, new(*RetryBudgetError))
		}
		if !open || !spent {
			t.Errorf("coverage: a breaker refusal %v, a budget refusal %v; want both", open, spent)
		}
	})
}

// ---------------------------------------------------------------------------
// The mixed run on loopback: real connections, resets, cut bodies,
// net/http's own resends, and the server's own count.

// obsServer is a loopback server that counts what it serves and knows
// which connection each request came on.
type obsServer struct {
	*httptest.Server
	mu      sync.Mutex
	hits    map[string]int
	wire    int64
	follow  int64
	blocked chan struct{} // closed to release hanging handlers at the end
}

type obsConnKey struct{}

func newObsServer(t *testing.T, other func() string) *obsServer {
	s := &obsServer{hits: map[string]int{}, blocked: make(chan struct{})}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.RequestURI()
		s.mu.Lock()
		s.hits[key]++
		n := s.hits[key]
		if strings.HasPrefix(r.URL.Path, "/target/") {
			s.follow++
		} else {
			s.wire++
		}
		s.mu.Unlock()
		served := r.Context().Value(obsConnKey{}).(*atomic.Int32).Add(1)
		hijack := func(raw string) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			if raw != "" {
				buf.WriteString(raw)
				buf.Flush()
			}
			if tc, ok := conn.(*net.TCPConn); ok && raw == "" {
				tc.SetLinger(0) // a reset, not an orderly close
			}
			conn.Close()
		}
		switch r.URL.Path {
		case "/ok", "/h", "/target/same", "/target/cross":
			fmt.Fprint(w, "hello")
		case "/nf":
			http.NotFound(w, r)
		case "/flaky":
			if n == 1 {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			fmt.Fprint(w, "hello")
		case "/reset":
			if n == 1 {
				hijack("")
				return
			}
			fmt.Fprint(w, "hello")
		case "/resetall":
			hijack("")
			return
		case "/resend":
			// Closed under the request once, if the connection served
			// before: net/http then sends it again by itself.
			if n == 1 && served > 1 {
				hijack("")
				return
			}
			fmt.Fprint(w, "hello")
		case "/cut":
			if n == 1 {
				hijack("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
				return
			}
			fmt.Fprint(w, "hello")
		case "/slow":
			if n == 1 {
				select {
				case <-r.Context().Done():
				case <-s.blocked:
				}
				return
			}
			fmt.Fprint(w, "hello")
		case "/same":
			http.Redirect(w, r, "/target/same?"+r.URL.RawQuery, http.StatusFound)
		case "/cross":
			http.Redirect(w, r, other()+"/target/cross?"+r.URL.RawQuery, http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	s.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, obsConnKey{}, new(atomic.Int32))
	}
	s.Start()
	t.Cleanup(func() {
		close(s.blocked)
		s.Close()
	})
	return s
}

func (s *obsServer) counts() (wire, follow int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wire, s.follow
}

func TestObserveReviewMixedLoopback(t *testing.T) {
	const conc = 8
	led := newObsLedger(conc)
	var b *obsServer
	a := newObsServer(t, func() string { return b.URL })
	b = newObsServer(t, func() string { return a.URL })
	f, err := New(WithConcurrency(conc), WithHostConcurrency(4),
		WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}),
		WithAttemptTimeout(300*time.Millisecond),
		WithHooks(led.hooks()))
	if err != nil {
		t.Fatal(err)
	}
	led.f.Store(f)
	defer f.Shutdown(context.Background())
	var outs obsOuts
	u := obsURLs()
	ctx := t.Context()
	var wg sync.WaitGroup
	paths := []string{"/ok", "/nf", "/flaky", "/reset", "/resetall", "/cut", "/slow", "/same", "/cross"}
	wg.Go(func() {
		for _, p := range paths {
			outs.do(f, ctx, u(a.URL, p))
		}
		outs.do(f, ctx, u(a.URL, "/ok", "hp=attempt"))
	})
	for _, p := range paths {
		wg.Go(func() {
			for range 3 {
				outs.fetch(f, ctx, u(a.URL, p))
			}
		})
	}
	// Warm connections to b, then have b close one under a request:
	// net/http resends it on a new connection, one attempt, two sends.
	wg.Go(func() {
		for range 5 {
			outs.fetch(f, ctx, u(b.URL, "/ok"))
			outs.fetch(f, ctx, u(b.URL, "/resend"))
		}
	})
	wg.Go(func() {
		outs.fetch(f, ctx, u(a.URL, "/flaky", "hp=retry"))
		outs.fetch(f, ctx, u(a.URL, "/nf", "hp=done"))
		outs.fetch(f, ctx, "http://127.0.0.1:99999/")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		outs.fetch(f, cctx, u(a.URL, "/ok"))
	})
	wg.Go(func() {
		var in []string
		for _, p := range paths {
			in = append(in, u(a.URL, p), u(b.URL, p))
		}
		in = append(in, "ftp://nope/")
		for i, r := range f.GetAll(ctx, in) {
			r.URL = in[i]
			outs.result("GetAll", r)
		}
	})
	wg.Go(func() {
		var in []string
		for _, p := range paths {
			in = append(in, u(a.URL, p), u(b.URL, p))
		}
		for r := range f.Stream(ctx, slices.Values(in)) {
			r.URL = in[r.Index]
			outs.result("Stream", r)
		}
	})
	wg.Go(func() {
		var in []string
		for _, h := range []string{"ok", "err", "panic"} {
			in = append(in, u(a.URL, "/h", "h="+h))
		}
		in = append(in, u(a.URL, "/cut"), u(a.URL, "/reset"))
		handle := func(s string, resp *http.Response) (int, error) {
			n, err := io.Copy(io.Discard, resp.Body)
			if err != nil {
				return 0, err
			}
			switch resp.Request.URL.Query().Get("h") {
			case "err":
				return 0, errors.New("bad page")
			case "panic":
				panic("handler")
			}
			return int(n), nil
		}
		for h := range HandleURLs(ctx, f, slices.Values(in), handle) {
			outs.add(obsOut{api: "Handle", url: h.Input, err: h.Err, status: h.Status, attempts: h.Attempts})
		}
	})
	wg.Wait()

	wa, fa := a.counts()
	wb, fb := b.counts()
	sum := led.verify(t, f, outs.list, wa+wb, false)
	t.Logf("server saw %d + %d requests, %d + %d redirect follow-ups", wa, wb, fa, fb)
	for _, k := range []string{"ok", "status", "canceled", "network", "refused", "other"} {
		if sum.kinds[k] == 0 {
			t.Errorf("no call ended %s: the mix does not cover it", k)
		}
	}
	if fa+fb == 0 || sum.redirected == 0 || sum.hookPanics < 3 {
		t.Errorf("coverage: %+v", sum)
	}
}

// ---------------------------------------------------------------------------
// Failures each call is counted under: these three were counted wrongly before.

// Too many redirects is counted as a Network failure, where Failures.Other
// lists it ("a body over the cap, too many redirects, ..."); so is a crawl's
// redirect to a page it has seen (ErrAlreadySeen), which no connection
// failure caused. count (observe.go) tests errors.As(err, new(net.Error)),
// which every *url.Error satisfies: whatever http.Client.Do returns.
func TestObserveReviewRedirectRefusalsCountedAsOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		site := newObsSite()
		f := newMem(t, http.HandlerFunc(site.serve))
		_, err := f.Get(t.Context(), "http://a.test/loop")
		if !errors.Is(err, ErrTooManyRedirects) {
			t.Fatalf("Get /loop: %v; want ErrTooManyRedirects", err)
		}
		if s := f.Stats(); s.Failed.Other != 1 || s.Failed.Network != 0 {
			t.Errorf("after too many redirects, Stats.Failed = %+v; want Other 1, Network 0", s.Failed)
		}
		g := newMem(t, http.HandlerFunc(site.serve))
		c, err := NewCrawler(g, CrawlIgnoreRobots(), CrawlMaxDepth(0))
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for p := range c.Run(t.Context(), "http://site.test/p1", "http://site.test/redir") {
			if errors.Is(p.Err, ErrAlreadySeen) {
				seen++
			}
		}
		if s := g.Stats(); seen != 1 || s.Failed.Network != 0 {
			t.Errorf("a crawl with %d ErrAlreadySeen pages: Stats.Failed = %+v; want Network 0", seen, s.Failed)
		}
	})
}

// A panic in OnCall fails the call with a *PanicError after 0 attempts,
// and Stats counts it as Refused; Failures.Other lists "a panicking hook",
// and Refused lists only refusals (invalid input, Shutdown, the guard, a
// breaker, a budget, a limiter). count (observe.go:189) puts every failure
// with 0 attempts in Refused before it looks at the error.
func TestObserveReviewOnCallPanicCountedAsOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		led := newObsLedger(64)
		f := newMem(t, http.HandlerFunc(ok), WithHooks(led.hooks()))
		led.f.Store(f)
		_, err := f.Get(t.Context(), "http://a.test/?hp=call")
		if !errors.As(err, new(*PanicError)) {
			t.Fatalf("Get: %v; want a *PanicError", err)
		}
		if s := f.Stats(); s.Failed.Other != 1 || s.Failed.Refused != 0 {
			t.Errorf("after an OnCall panic, Stats.Failed = %+v; want Other 1", s.Failed)
		}
	})
}

// A panic in OnDone on a call that succeeded fails it: Do returns no
// response and a *PanicError, Get its error. But Stats counted the call
// as Succeeded before OnDone ran (finish counts, then runs OnDone:
// fetch.go:219, 240), so Succeeded includes a call its caller saw fail,
// and Failed.Other ("a panicking hook") misses it.
func TestObserveReviewOnDonePanicCountedAsFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		led := newObsLedger(64)
		f := newMem(t, http.HandlerFunc(ok), WithHooks(led.hooks()))
		led.f.Store(f)
		req := mustGet(t, "http://a.test/do?hp=done")
		resp, derr := f.Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		_, gerr := f.Get(t.Context(), "http://a.test/get?hp=done")
		if !errors.As(derr, new(*PanicError)) || !errors.As(gerr, new(*PanicError)) {
			t.Fatalf("Do: %v, Get: %v; want *PanicError from both", derr, gerr)
		}
		if s := f.Stats(); s.Succeeded != 0 || s.Failed.Other != 2 {
			t.Errorf("2 calls that returned a *PanicError: Stats Succeeded %d, Failed %+v; want Succeeded 0, Other 2", s.Succeeded, s.Failed)
		}
	})
}

// obsURLs returns a maker of URLs, base+path, each with an id of its own in
// its query (so that every call is told apart), then the extra parameters.
func obsURLs() func(base, path string, extra ...string) string {
	var id atomic.Int64
	return func(base, path string, extra ...string) string {
		s := fmt.Sprintf("%s%s?id=%d", base, path, id.Add(1))
		for _, e := range extra {
			s += "&" + e
		}
		return s
	}
}
