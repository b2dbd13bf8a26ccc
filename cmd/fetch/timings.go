package main

import (
	"context"
	"crypto/tls"
	"math"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/c989c033/fetch"
)

// timings is a record's "timings", with --timings: when each phase of the
// request that got the final response ended, in milliseconds from when
// that request asked for a connection, as curl -w's time_namelookup,
// time_connect, time_appconnect, time_starttransfer and time_total have
// them. A phase that did not happen is left out: dns_ms for a URL whose
// host is an IP address, tls_ms for http, and all three for a kept-alive
// connection, which says reused; first_byte_ms when no response came.
type timings struct {
	DNS       float64 `json:"dns_ms,omitempty"`
	Connect   float64 `json:"connect_ms,omitempty"`
	TLS       float64 `json:"tls_ms,omitempty"`
	FirstByte float64 `json:"first_byte_ms,omitempty"`
	Total     float64 `json:"total_ms"`
	Reused    bool    `json:"reused,omitempty"`
}

// A clock times the requests of one input for --timings. Each request it
// sees starts it again: a retry's, a redirect's, and one net/http resends
// by itself on a new connection, so that what it holds once the call has
// ended is the phases of the request that got the final response. Its
// trace runs on net/http's goroutines and end on the call's: it is safe
// for concurrent use.
type clock struct {
	mu sync.Mutex
	p  phases // the latest request's
}

// phases are what a clock knows of the latest request it saw.
type phases struct {
	start time.Time // when the request asked for a connection; zero before the first
	// When each phase ended, from start; 0 for one not reached.
	dns, connect, tls, firstByte, total time.Duration
	// Which of its phases the request began: a dial net/http began for
	// an earlier request may end during this one, and its ends are not
	// this request's.
	dnsBegun, connectBegun, tlsBegun bool
	gotConn                          bool // the request has its connection: later dials are not its
	reused                           bool // a kept-alive connection
	ended                            bool // the attempt that sent the request has ended
}

// clockKey is the context key under which a request carries its clock,
// for endAttempt to find.
type clockKey struct{}

// context returns ctx with c's trace, which the Fetcher runs for every
// request of the call, and with c for endAttempt.
func (c *clock) context(ctx context.Context) context.Context {
	ctx = context.WithValue(ctx, clockKey{}, c)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn:              func(string) { c.restart() },
		DNSStart:             func(httptrace.DNSStartInfo) { c.begin(&c.p.dnsBegun) },
		DNSDone:              func(i httptrace.DNSDoneInfo) { c.done(&c.p.dnsBegun, &c.p.dns, i.Err) },
		ConnectStart:         func(string, string) { c.begin(&c.p.connectBegun) },
		ConnectDone:          func(_, _ string, err error) { c.done(&c.p.connectBegun, &c.p.connect, err) },
		TLSHandshakeStart:    func() { c.begin(&c.p.tlsBegun) },
		TLSHandshakeDone:     func(_ tls.ConnectionState, err error) { c.done(&c.p.tlsBegun, &c.p.tls, err) },
		GotConn:              c.gotConnection,
		GotFirstResponseByte: c.firstResponseByte,
	})
}

// restart starts c again, for a new request.
func (c *clock) restart() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p = phases{start: time.Now()}
}

// begin notes that the latest request began a phase.
func (c *clock) begin(begun *bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*begun = true
}

// done notes the end of a phase of the latest request: the first that
// succeeded, if the request began it and has no connection yet (a dial
// tries each address until one connects).
func (c *clock) done(begun *bool, phase *time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if *begun && err == nil && !c.p.gotConn && *phase == 0 {
		*phase = time.Since(c.p.start)
	}
}

func (c *clock) gotConnection(info httptrace.GotConnInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p.gotConn, c.p.reused = true, info.Reused
	if info.Reused {
		c.p.dns, c.p.connect, c.p.tls = 0, 0, 0
	}
}

func (c *clock) firstResponseByte() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p.firstByte = time.Since(c.p.start)
}

// end notes the end of an attempt, its body read (and, with -O, saved). An
// attempt that sent no request, as none came since the last attempt
// ended, leaves nothing to report: the phases held are an earlier one's.
func (c *clock) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p.ended {
		c.p = phases{}
		return
	}
	c.p.ended = true
	c.p.total = time.Since(c.p.start)
}

// times returns the timings of the request that got the final response,
// or nil if no attempt sent a request (or c is nil: no --timings).
func (c *clock) times() *timings {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.p
	if p.start.IsZero() || !p.ended {
		return nil
	}
	return &timings{
		DNS: ms(p.dns), Connect: ms(p.connect), TLS: ms(p.tls),
		FirstByte: ms(p.firstByte), Total: ms(p.total),
		Reused: p.reused,
	}
}

// ms returns d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// endAttempt is the Fetcher's OnAttempt hook with --timings: it ends the
// clock of the attempt's request, if it has one. OnAttempt runs once the
// attempt's body has been read, or handed to -O's save and saved.
func endAttempt(info fetch.AttemptInfo) {
	if info.Request == nil {
		return
	}
	if c, ok := info.Request.Context().Value(clockKey{}).(*clock); ok {
		c.end()
	}
}
