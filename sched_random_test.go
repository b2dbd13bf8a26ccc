package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
	"golang.org/x/time/rate"
)

// Randomized, invariant-checking tests of the per-host scheduler that the
// batch and streaming calls share.
//
// Each seed makes one scenario (hosts, inputs, options, a misbehaving
// in-memory server, a call, an early break or a cancellation) and runs it in
// a synctest bubble, checking invariants in the transport as requests go and
// on the results and the Fetcher's stats once the call returns.
//
//	go test -run 'TestRandomSched' .                    # the default seeds
//	RANDOM_SCHED_SEEDS=5000 go test -run TestRandomSched .  # more seeds
//	RANDOM_SCHED_SEED=123 go test -run TestRandomSched -v . # one seed, logged in full
//	RANDOM_SCHED_SEED=1000 RANDOM_SCHED_SEEDS=500 go test -run TestRandomSched .  # seeds 1000-1499

const rsDefaultSeeds = 200

func TestRandomSched(t *testing.T) {
	// RANDOM_SCHED_SEED alone runs that seed; with RANDOM_SCHED_SEEDS, that
	// many seeds from it.
	first, n := uint64(1), uint64(rsDefaultSeeds)
	env := func(name string) (uint64, bool) {
		s := os.Getenv(name)
		if s == "" {
			return 0, false
		}
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", name, s, err)
		}
		return v, true
	}
	seeds, many := env("RANDOM_SCHED_SEEDS")
	if many {
		n = seeds
	}
	if v, ok := env("RANDOM_SCHED_SEED"); ok {
		first = v
		if !many {
			n = 1
		}
	}
	for seed := first; seed < first+n; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			sc := rsGenerate(seed)
			if n == 1 {
				t.Logf("scenario: %s", sc)
			}
			rsRun(t, sc)
		})
	}
}

// ---------------------------------------------------------------------------
// Scenarios

type rsCall int

const (
	rsGetAll rsCall = iota
	rsDoAll
	rsGetAllFailFast
	rsDoAllFailFast
	rsStream
	rsStreamRequests
	rsStreamFunc
	rsHandle
	rsHandleURLs
	rsCalls
)

func (c rsCall) String() string {
	return [...]string{"GetAll", "DoAll", "GetAllFailFast", "DoAllFailFast", "Stream",
		"StreamRequests", "StreamFunc", "Handle", "HandleURLs"}[c]
}

func (c rsCall) batch() bool    { return c <= rsDoAllFailFast }
func (c rsCall) failFast() bool { return c == rsGetAllFailFast || c == rsDoAllFailFast }

type rsInputMode int

const (
	rsSlice   rsInputMode = iota // slices.Values
	rsSlow                       // sleeps before each yield (not after the context ends)
	rsChannel                    // a feeder goroutine sends on an unbuffered channel, slowly
)

type rsRate struct {
	r     rate.Limit
	burst int
}

type rsInput struct {
	host    int
	invalid bool
}

type rsScenario struct {
	seed   uint64
	hosts  int
	inputs []rsInput

	concurrency, hostConc, readAhead int
	rate, hostRate                   *rsRate
	customHostLimiter                bool // the host rate through a Limiter that is not a *rate.Limiter: waited for
	retry                            *RetryPolicy
	adaptive                         *AdaptiveRate
	breaker                          *CircuitBreaker

	latency                                       []time.Duration // per host
	jitter                                        time.Duration
	p429, p503, p500, pReset, pRedirect, pRetryAf float64
	retryAfterMax                                 int // seconds

	call       rsCall
	mode       rsInputMode
	inputDelay time.Duration
	stallAfter int           // rsChannel: the feeder blocks after this many inputs until the context ends; -1 never
	breakAfter int           // streaming: break after this many results; -1 never
	cancelAt   time.Duration // cancel the call's context then; 0 never
	shutdownAt time.Duration // shut the Fetcher down then; 0 never
	monitor    bool          // watch the call with hooks, whenever the bubble is quiet (see rsMonitor)
	side       []rsSide      // Gets made on the same Fetcher while the call runs
}

// rsSide is a Get to host, made at a time, alongside the call: it contends
// for the same slots and tokens, as concurrent calls on one Fetcher do.
type rsSide struct {
	at   time.Duration
	host int
}

func (sc *rsScenario) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed=%d call=%v hosts=%d inputs=%d conc=%d hostConc=%d readAhead=%d",
		sc.seed, sc.call, sc.hosts, len(sc.inputs), sc.concurrency, sc.hostConc, sc.readAhead)
	if sc.rate != nil {
		fmt.Fprintf(&b, " rate=%v/%d", sc.rate.r, sc.rate.burst)
	}
	if sc.hostRate != nil {
		fmt.Fprintf(&b, " hostRate=%v/%d custom=%v", sc.hostRate.r, sc.hostRate.burst, sc.customHostLimiter)
	}
	if sc.retry != nil {
		fmt.Fprintf(&b, " retry=%+v", *sc.retry)
	}
	if sc.adaptive != nil {
		fmt.Fprintf(&b, " adaptive=%+v", *sc.adaptive)
	}
	if sc.breaker != nil {
		fmt.Fprintf(&b, " breaker=%+v", *sc.breaker)
	}
	fmt.Fprintf(&b, " latency=%v jitter=%v p429=%.2f p503=%.2f p500=%.2f pReset=%.2f pRedirect=%.2f pRetryAfter=%.2f retryAfterMax=%ds",
		sc.latency, sc.jitter, sc.p429, sc.p503, sc.p500, sc.pReset, sc.pRedirect, sc.pRetryAf, sc.retryAfterMax)
	fmt.Fprintf(&b, " mode=%d inputDelay=%v stallAfter=%d breakAfter=%d cancelAt=%v shutdownAt=%v monitor=%v side=%v",
		sc.mode, sc.inputDelay, sc.stallAfter, sc.breakAfter, sc.cancelAt, sc.shutdownAt, sc.monitor, sc.side)
	hosts := make([]byte, 0, len(sc.inputs))
	for _, in := range sc.inputs {
		c := byte('0' + in.host)
		if in.invalid {
			c = 'x'
		}
		hosts = append(hosts, c)
	}
	fmt.Fprintf(&b, " order=%s", hosts)
	return b.String()
}

func rsGenerate(seed uint64) *rsScenario {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	chance := func(p float64) bool { return r.Float64() < p }
	sc := &rsScenario{seed: seed, breakAfter: -1, stallAfter: -1}
	sc.hosts = 1 + r.IntN(6)
	n := r.IntN(301)
	if chance(0.3) {
		n = r.IntN(20)
	}
	// Host mix: uniform, skewed to one host, or runs of one host.
	weights := make([]int, sc.hosts)
	for i := range weights {
		weights[i] = 1 + r.IntN(10)
	}
	runs := chance(0.3)
	pInvalid := 0.0
	if chance(0.2) {
		pInvalid = 0.05
	}
	cur := 0
	for range n {
		if !runs || chance(0.1) {
			total := 0
			for _, w := range weights {
				total += w
			}
			x := r.IntN(total)
			for h, w := range weights {
				if x < w {
					cur = h
					break
				}
				x -= w
			}
		}
		sc.inputs = append(sc.inputs, rsInput{host: cur, invalid: chance(pInvalid)})
	}
	sc.concurrency = 1 + r.IntN(16)
	if chance(0.7) {
		sc.hostConc = 1 + r.IntN(4)
	}
	sc.readAhead = 1 + r.IntN(64)
	if chance(0.3) {
		sc.rate = &rsRate{r: rate.Limit(5 + r.IntN(200)), burst: 1 + r.IntN(5)}
	}
	if chance(0.4) {
		sc.hostRate = &rsRate{r: rate.Limit(2 + r.IntN(100)), burst: 1 + r.IntN(4)}
		sc.customHostLimiter = chance(0.15)
	}
	if chance(0.6) {
		p := RetryPolicy{
			MaxAttempts: 1 + r.IntN(4),
			BaseDelay:   time.Duration(1+r.IntN(200)) * time.Millisecond,
			MaxDelay:    time.Duration(1+r.IntN(3)) * time.Second,
			Jitter:      Jitter(r.IntN(4)),
		}
		sc.retry = &p
	}
	if chance(0.2) {
		sc.adaptive = &AdaptiveRate{Floor: 1, Ceiling: rate.Limit(50 + r.IntN(500)), Initial: rate.Limit(5 + r.IntN(45))}
	}
	if chance(0.2) {
		sc.breaker = &CircuitBreaker{ConsecutiveFailures: 1 + r.IntN(5), OpenFor: time.Duration(1+r.IntN(5)) * time.Second}
	}
	for range sc.hosts {
		sc.latency = append(sc.latency, time.Duration(r.IntN(50))*time.Millisecond)
	}
	if chance(0.5) {
		sc.jitter = time.Duration(1+r.IntN(20)) * time.Millisecond
	}
	if chance(0.7) {
		sc.p429 = r.Float64() * 0.1
		sc.p503 = r.Float64() * 0.1
		sc.p500 = r.Float64() * 0.1
		sc.pReset = r.Float64() * 0.1
		sc.pRetryAf = r.Float64()
		sc.retryAfterMax = r.IntN(3)
	}
	if chance(0.3) {
		sc.pRedirect = r.Float64() * 0.3
	}
	sc.call = rsCall(r.IntN(int(rsCalls)))
	if !sc.call.batch() {
		sc.mode = rsInputMode(r.IntN(3))
		if sc.mode != rsSlice {
			sc.inputDelay = time.Duration(r.IntN(20)) * time.Millisecond
		}
		if n > 0 && chance(0.25) {
			sc.breakAfter = r.IntN(n)
		}
	}
	if chance(0.25) {
		sc.cancelAt = time.Duration(1+r.IntN(3000)) * time.Millisecond
	}
	sc.monitor = chance(0.7)
	if chance(0.3) {
		for range 1 + r.IntN(10) {
			sc.side = append(sc.side, rsSide{at: time.Duration(r.IntN(2000)) * time.Millisecond, host: r.IntN(sc.hosts)})
		}
	}
	if chance(0.1) {
		sc.shutdownAt = time.Duration(1+r.IntN(3000)) * time.Millisecond
	}
	// An input that blocks for good, until the call's context ends: only
	// where the call ends anyway, by a break before it or a cancellation.
	if sc.mode == rsChannel && (sc.cancelAt > 0 || sc.breakAfter >= 0) && chance(0.5) {
		if sc.cancelAt > 0 {
			sc.stallAfter = r.IntN(n + 1)
		} else {
			sc.stallAfter = sc.breakAfter + 1 + r.IntN(n-sc.breakAfter)
		}
	}
	return sc
}

// ---------------------------------------------------------------------------
// The server: a transport that counts and checks as requests go, in front of
// an in-memory handler.

func rsHostName(h int) string { return fmt.Sprintf("h%d.test", h) }

func rsURL(sc *rsScenario, i int) string {
	if sc.inputs[i].invalid {
		return fmt.Sprintf("http://[h%d.test/in/%d", sc.inputs[i].host, i) // does not parse
	}
	return fmt.Sprintf("http://%s/in/%d", rsHostName(sc.inputs[i].host), i)
}

type rsArrival struct {
	at      time.Duration // since the scenario's start
	host    string
	origin  bool // a request to an input's own URL (an attempt), not one following a redirect
	idx     int
	attempt int // of an origin request: 1 for the first
}

type rsServer struct {
	sc    *rsScenario
	start time.Time
	mem   memhttp.Transport

	mu         sync.Mutex
	running    map[string]int
	total      int
	arrivals   []rsArrival
	attempts   map[int]int // origin requests per input
	sideSent   map[int]int // requests per side Get
	violations []string
	returned   bool // the call has returned: no request may start now

	cancelledAt atomic.Int64 // since start, +1; 0 until the context is cancelled
	shutAt      atomic.Int64 // since start, +1; 0 until Shutdown is called

	pauses  []rsPause
	answers []rsAnswer // every answer, in the order they came
	notify  func()     // called on every change the monitor looks at; nil: none
}

// rsPause is a Retry-After a host answered (answers[answer]): it pauses the
// host from from until until, unless the host's pace absorbs it (see
// absorbed).
type rsPause struct {
	host        string
	from, until time.Duration
	answer      int
}

// rsAnswer is an answer a host gave: to a request sent at sent, at at.
type rsAnswer struct {
	host     string
	sent, at time.Duration
	status   int
	overload bool // a 429, or a 503 with Retry-After
}

// absorbed reports whether a Retry-After p may have been taken by its
// host's pace as a cut, without a pause (see throttle.absorbs): the host
// is paced (an adaptive rate, or a ramp after an earlier pause) and
// answered a success within the second before, or the request went out
// before an earlier overload answer from the host, whose round it belongs
// to. It errs towards absorbing: the Fetcher absorbs less.
func (s *rsServer) absorbed(p rsPause) bool {
	me := s.answers[p.answer]
	paced := s.sc.adaptive != nil
	for i, a := range s.answers {
		if i == p.answer || a.host != p.host || a.at > me.at {
			continue
		}
		if a.overload && a.at >= me.sent {
			return true
		}
		paced = paced || a.overload
	}
	for i, a := range s.answers {
		if i != p.answer && a.host == p.host && !a.overload && a.status < 500 && a.at <= me.at && a.at >= me.at-time.Second && paced {
			return true
		}
	}
	return false
}

func newRSServer(sc *rsScenario) *rsServer {
	s := &rsServer{sc: sc, start: time.Now(), running: map[string]int{}, attempts: map[int]int{}, sideSent: map[int]int{}}
	s.mem = memhttp.Transport{Handler: http.HandlerFunc(s.serve)}
	return s
}

func (s *rsServer) violate(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violatef(format, args...)
}

func (s *rsServer) violatef(format string, args ...any) { // s.mu held
	if len(s.violations) < 20 {
		s.violations = append(s.violations, fmt.Sprintf(format, args...))
	}
}

// rsHash is a deterministic coin for input idx's attempt n, so that the
// server answers the same to the same attempt whatever the interleaving.
func rsHash(seed uint64, idx, n, salt int) float64 {
	x := seed*0x9e3779b97f4a7c15 ^ uint64(idx)*0xbf58476d1ce4e5b9 ^ uint64(n)*0x94d049bb133111eb ^ uint64(salt)*0x2545f4914f6cdd1d
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

func (s *rsServer) RoundTrip(req *http.Request) (*http.Response, error) {
	now := time.Since(s.start)
	host := strings.ToLower(req.URL.Host)
	parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/"), "/")
	if len(parts) != 2 {
		s.violate("unexpected request %s", req.URL)
		return nil, errors.New("unexpected path")
	}
	idx, _ := strconv.Atoi(parts[1])
	origin := parts[0] == "in"
	side := parts[0] == "side"

	s.mu.Lock()
	if side {
		s.sideSent[idx]++
	}
	if s.returned && !side {
		s.violatef("request %s started at %v, after the call returned", req.URL, now)
	}
	if c := s.cancelledAt.Load(); c != 0 && now > time.Duration(c-1) {
		s.violatef("request %s started at %v, after the context was cancelled at %v", req.URL, now, time.Duration(c-1))
	}
	s.running[host]++
	s.total++
	if hc := s.sc.hostConc; hc > 0 && s.running[host] > hc {
		s.violatef("%d requests in flight to %s at %v; host cap %d", s.running[host], host, now, hc)
	}
	if s.total > s.sc.concurrency {
		s.violatef("%d requests in flight at %v; concurrency %d", s.total, now, s.sc.concurrency)
	}
	n := 0
	if origin {
		s.attempts[idx]++
		n = s.attempts[idx]
	}
	// Shutdown fails the calls not yet admitted: queued inputs are not
	// sent (unless a Limiter of the caller's own held up a call admitted
	// before).
	if c := s.shutAt.Load(); c != 0 && now > time.Duration(c-1) && n == 1 && !s.sc.customHostLimiter {
		s.violatef("input %d first sent at %v, after Shutdown at %v", idx, now, time.Duration(c-1))
	}
	s.arrivals = append(s.arrivals, rsArrival{at: now, host: host, origin: origin, idx: idx, attempt: n})
	s.mu.Unlock()
	if s.notify != nil {
		s.notify()
	}
	defer func() {
		s.mu.Lock()
		s.running[host]--
		s.total--
		s.mu.Unlock()
		if s.notify != nil {
			s.notify()
		}
	}()

	salt := 0
	if !origin {
		salt = 1000
	}
	if rsHash(s.sc.seed, idx, n, salt+1) < s.sc.pReset {
		// A connection-level failure: the request never reaches the server.
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	resp, err := s.mem.RoundTrip(req)
	if resp != nil {
		end := time.Since(s.start)
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		a := rsAnswer{host: host, sent: now, at: end, status: resp.StatusCode,
			overload: resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable && secs > 0}
		s.mu.Lock()
		s.answers = append(s.answers, a)
		if a.overload && secs > 0 {
			maxDelay := DefaultRetryPolicy().MaxDelay
			if s.sc.retry != nil {
				maxDelay = s.sc.retry.MaxDelay
			}
			s.pauses = append(s.pauses, rsPause{host: host, from: end, until: end + min(time.Duration(secs)*time.Second, maxDelay), answer: len(s.answers) - 1})
		}
		s.mu.Unlock()
	}
	return resp, err
}

func (s *rsServer) serve(w http.ResponseWriter, r *http.Request) {
	sc := s.sc
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	idx, _ := strconv.Atoi(parts[1])
	origin := parts[0] == "in"
	host := strings.TrimPrefix(strings.TrimSuffix(strings.ToLower(r.Host), ".test"), "h")
	hi, _ := strconv.Atoi(host)
	s.mu.Lock()
	n := s.attempts[idx]
	s.mu.Unlock()
	salt := 0
	if !origin {
		salt = 1000
	}
	lat := sc.latency[hi%len(sc.latency)]
	if sc.jitter > 0 {
		lat += time.Duration(rsHash(sc.seed, idx, n, salt+2) * float64(sc.jitter))
	}
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	retryAfter := func() {
		if rsHash(sc.seed, idx, n, salt+3) < sc.pRetryAf {
			w.Header().Set("Retry-After", strconv.Itoa(int(rsHash(sc.seed, idx, n, salt+4)*float64(sc.retryAfterMax+1))))
		}
	}
	x := rsHash(sc.seed, idx, n, salt+5)
	switch {
	case x < sc.p429:
		retryAfter()
		w.WriteHeader(http.StatusTooManyRequests)
		return
	case x < sc.p429+sc.p503:
		retryAfter()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case x < sc.p429+sc.p503+sc.p500:
		w.WriteHeader(http.StatusInternalServerError)
		return
	case origin && x < sc.p429+sc.p503+sc.p500+sc.pRedirect:
		to := int(rsHash(sc.seed, idx, n, salt+6) * float64(sc.hosts))
		w.Header().Set("Location", fmt.Sprintf("http://%s/rd/%d", rsHostName(to), idx))
		w.WriteHeader(http.StatusFound)
		return
	}
	fmt.Fprintf(w, "ok %d", idx)
}

// ---------------------------------------------------------------------------
// A host limiter that is not a *rate.Limiter, so that the scheduler can only
// wait for it (requests to one host may then reach it out of input order).

type rsWaitLimiter struct{ l *rate.Limiter }

func (w rsWaitLimiter) Wait(ctx context.Context) error { return w.l.Wait(ctx) }

// ---------------------------------------------------------------------------
// Running a scenario

// rsOut is one result of any call, as the checks see it.
type rsOut struct {
	index    int
	url      string
	input    any
	status   int
	attempts int
	err      error
}

func rsRun(t *testing.T, sc *rsScenario) {
	synctest.Test(t, func(t *testing.T) {
		srv := newRSServer(sc)
		opts := []Option{
			WithClient(&http.Client{Transport: srv}),
			WithConcurrency(sc.concurrency),
			WithReadAhead(sc.readAhead),
		}
		if sc.hostConc > 0 {
			opts = append(opts, WithHostConcurrency(sc.hostConc))
		}
		if sc.rate != nil {
			opts = append(opts, WithRate(sc.rate.r, sc.rate.burst))
		}
		if hr := sc.hostRate; hr != nil {
			if sc.customHostLimiter {
				opts = append(opts, WithHostLimiter(func(string) Limiter { return rsWaitLimiter{rate.NewLimiter(hr.r, hr.burst)} }))
			} else {
				opts = append(opts, WithHostRate(hr.r, hr.burst))
			}
		}
		if sc.retry != nil {
			opts = append(opts, WithRetry(*sc.retry))
		}
		if sc.adaptive != nil {
			opts = append(opts, WithAdaptiveRate(*sc.adaptive))
		}
		if sc.breaker != nil {
			opts = append(opts, WithCircuitBreaker(*sc.breaker))
		}
		mon := newRSMonitor(sc, srv)
		if mon != nil {
			opts = append(opts, WithHooks(Hooks{OnCall: mon.onCall, OnDone: mon.onDone}))
		}
		f, err := New(opts...)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if mon != nil {
			mon.f = f
		}

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		callDone := make(chan struct{})
		var helpers sync.WaitGroup
		if sc.cancelAt > 0 {
			helpers.Go(func() {
				tm := time.NewTimer(sc.cancelAt)
				defer tm.Stop()
				select {
				case <-tm.C:
					srv.cancelledAt.Store(int64(time.Since(srv.start)) + 1)
					cancel()
				case <-callDone:
				}
			})
		}

		n := len(sc.inputs)
		urls := make([]string, n)
		for i := range n {
			urls[i] = rsURL(sc, i)
		}
		indices := make([]int, n)
		for i := range indices {
			indices[i] = i
		}

		monitorDone := make(chan struct{})
		if mon != nil {
			go mon.run(callDone, monitorDone)
		} else {
			close(monitorDone)
		}

		type sideResult struct {
			attempts int
			err      error
		}
		sideResults := make([]sideResult, len(sc.side))
		var sides sync.WaitGroup
		var sidesAlive atomic.Int64
		sidesAlive.Store(int64(len(sc.side)))
		for k, sd := range sc.side {
			sides.Go(func() {
				defer sidesAlive.Add(-1)
				time.Sleep(sd.at)
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/side/%d", rsHostName(sd.host), k), nil)
				if err != nil {
					panic(err)
				}
				resp, err := f.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode > 299 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				var attempts int
				if e, ok := errors.AsType[*Error](err); ok {
					attempts = e.Attempts
				} else {
					attempts = -1 // unknown: Do says it only of a failure
				}
				sideResults[k] = sideResult{attempts, err}
			})
		}

		shutdownErr := make(chan error, 1)
		var shuttingDown atomic.Bool // Shutdown waits for the side Gets too
		if sc.shutdownAt > 0 {
			helpers.Go(func() {
				tm := time.NewTimer(sc.shutdownAt)
				defer tm.Stop()
				select {
				case <-tm.C:
					srv.shutAt.Store(int64(time.Since(srv.start)) + 1)
					shuttingDown.Store(true)
					shutdownErr <- f.Shutdown(context.Background())
					shuttingDown.Store(false)
				case <-callDone:
				}
			})
		}

		// The streaming calls' input, as an iter.Seq of any element type.
		quit := make(chan struct{}) // closed after the call: the feeder stops
		var feederAlive atomic.Bool
		seqOf := func(ch chan int) iter.Seq[int] {
			switch sc.mode {
			case rsSlow:
				return func(yield func(int) bool) {
					for i := range n {
						if sc.inputDelay > 0 && ctx.Err() == nil {
							tm := time.NewTimer(sc.inputDelay)
							select {
							case <-tm.C:
							case <-ctx.Done():
								tm.Stop()
							}
						}
						if !yield(i) {
							return
						}
					}
				}
			case rsChannel:
				return func(yield func(int) bool) {
					for i := range ch {
						if !yield(i) {
							return
						}
					}
				}
			}
			return slices.Values(indices)
		}
		var ch chan int
		if !sc.call.batch() && sc.mode == rsChannel {
			ch = make(chan int)
			feederAlive.Store(true)
			helpers.Go(func() {
				defer feederAlive.Store(false)
				defer close(ch)
				for i := range n {
					if i == sc.stallAfter {
						select {
						case <-ctx.Done():
						case <-quit:
							return
						}
					}
					if sc.inputDelay > 0 && ctx.Err() == nil {
						tm := time.NewTimer(sc.inputDelay)
						select {
						case <-tm.C:
						case <-ctx.Done():
							tm.Stop()
						case <-quit:
							tm.Stop()
							return
						}
					}
					select {
					case ch <- i:
					case <-quit:
						return
					}
				}
			})
		}
		in := seqOf(ch)
		if mon != nil {
			raw := in
			in = func(yield func(int) bool) {
				for i := range raw {
					mon.yielded(i)
					if !yield(i) {
						return
					}
				}
			}
		}
		urlSeq := func(yield func(string) bool) {
			for i := range in {
				if !yield(urls[i]) {
					return
				}
			}
		}
		newReq := func(i int) *http.Request {
			if sc.inputs[i].invalid {
				return nil // left for do to refuse
			}
			req, err := http.NewRequest(http.MethodGet, urls[i], nil)
			if err != nil {
				t.Errorf("NewRequest: %v", err)
			}
			return req
		}
		errBadInput := errors.New("bad input")
		build := func(ctx context.Context, i int) (*http.Request, error) {
			if sc.inputs[i].invalid {
				return nil, errBadInput
			}
			return http.NewRequestWithContext(ctx, http.MethodGet, urls[i], nil)
		}
		handle := func(i int, resp *http.Response) (int, error) {
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return 0, err
			}
			if want := fmt.Sprintf("ok %d", i); string(b) != want {
				return 0, fmt.Errorf("body %q; want %q", b, want)
			}
			return i, nil
		}
		handleURL := func(u string, resp *http.Response) (string, error) {
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return "", err
			}
			return u + " " + string(b), nil
		}

		var (
			outs      []rsOut
			failFast  error
			broke     bool
			brokeAt   time.Duration
			reqs      []*http.Request
			handleErr []string
		)
		fromResult := func(r Result) rsOut {
			return rsOut{index: r.Index, url: r.URL, status: r.Status, attempts: r.Attempts, err: r.Err}
		}
		// consume ranges over a stream, breaking as the scenario says.
		consume := func(seq iter.Seq[rsOut]) {
			for o := range seq {
				outs = append(outs, o)
				if sc.breakAfter >= 0 && len(outs) > sc.breakAfter {
					broke, brokeAt = true, time.Since(srv.start)
					break
				}
			}
		}
		mapSeq := func(seq iter.Seq[Result]) iter.Seq[rsOut] {
			return func(yield func(rsOut) bool) {
				for r := range seq {
					if !yield(fromResult(r)) {
						return
					}
				}
			}
		}

		switch sc.call {
		case rsGetAll, rsGetAllFailFast:
			var rs []Result
			if sc.call == rsGetAll {
				rs = f.GetAll(ctx, urls)
			} else {
				rs, failFast = f.GetAllFailFast(ctx, urls)
			}
			for _, r := range rs {
				outs = append(outs, fromResult(r))
			}
		case rsDoAll, rsDoAllFailFast:
			reqs = make([]*http.Request, n)
			for i := range n {
				reqs[i] = newReq(i)
			}
			var rs []Result
			if sc.call == rsDoAll {
				rs = f.DoAll(ctx, reqs)
			} else {
				rs, failFast = f.DoAllFailFast(ctx, reqs)
			}
			for _, r := range rs {
				outs = append(outs, fromResult(r))
			}
		case rsStream:
			consume(mapSeq(f.Stream(ctx, urlSeq)))
		case rsStreamRequests:
			reqSeq := func(yield func(*http.Request) bool) {
				for i := range in {
					if !yield(newReq(i)) {
						return
					}
				}
			}
			consume(mapSeq(f.StreamRequests(ctx, reqSeq)))
		case rsStreamFunc:
			consume(mapSeq(StreamFunc(ctx, f, in, build)))
		case rsHandle:
			consume(func(yield func(rsOut) bool) {
				for h := range Handle(ctx, f, in, build, handle) {
					if h.Err == nil && h.Value != h.Input {
						handleErr = append(handleErr, fmt.Sprintf("Handle: input %d has value %d", h.Input, h.Value))
					}
					if !yield(rsOut{index: h.Index, url: h.URL, input: h.Input, status: h.Status, attempts: h.Attempts, err: h.Err}) {
						return
					}
				}
			})
		case rsHandleURLs:
			consume(func(yield func(rsOut) bool) {
				for h := range HandleURLs(ctx, f, urlSeq, handleURL) {
					if h.Err == nil && h.Value != fmt.Sprintf("%s ok %d", h.Input, h.Index) {
						handleErr = append(handleErr, fmt.Sprintf("HandleURLs: input %q index %d has value %q", h.Input, h.Index, h.Value))
					}
					if !yield(rsOut{index: h.Index, url: h.URL, input: h.Input, status: h.Status, attempts: h.Attempts, err: h.Err}) {
						return
					}
				}
			})
		}
		returnedAt := time.Since(srv.start)
		srv.mu.Lock()
		srv.returned = true
		srv.mu.Unlock()
		cancelledAt := time.Duration(srv.cancelledAt.Load() - 1)
		cancelled := cancelledAt >= 0 && cancelledAt <= returnedAt
		close(callDone)
		<-monitorDone
		// What the call leaves behind is seen in the stats and by the
		// server: nothing may change once it has returned (but for the
		// side Gets' doing). Goroutines it leaves blocked for good fail the
		// bubble at its end ("deadlock"), and the package's goleak check.
		stAtReturn := f.Stats()
		sides.Wait()
		st := f.Stats()

		var fails []string
		fail := func(format string, args ...any) { fails = append(fails, fmt.Sprintf(format, args...)) }
		fails = append(fails, handleErr...)

		// Every input yields exactly one result, with the right index and
		// URL; a batch's in input order.
		seen := make(map[int]bool)
		for k, o := range outs {
			if o.index < 0 || o.index >= n {
				fail("result %d has index %d; %d inputs", k, o.index, n)
				continue
			}
			if seen[o.index] {
				fail("input %d yielded twice", o.index)
			}
			seen[o.index] = true
			if sc.call.batch() && o.index != k {
				fail("batch result %d has index %d", k, o.index)
			}
			if !sc.inputs[o.index].invalid && o.url != urls[o.index] {
				fail("result for input %d has URL %q; want %q", o.index, o.url, urls[o.index])
			}
			if o.input != nil {
				switch v := o.input.(type) {
				case int:
					if v != o.index {
						fail("result for input %d carries input %d", o.index, v)
					}
				case string:
					if v != urls[o.index] {
						fail("result for input %d carries input %q", o.index, v)
					}
				}
			}
			if sc.inputs[o.index].invalid {
				if o.err == nil || o.attempts != 0 {
					fail("invalid input %d: err %v, %d attempts; want an error and 0", o.index, o.err, o.attempts)
				}
			} else if o.err == nil && (o.status < 200 || o.status > 299) {
				fail("input %d succeeded with status %d", o.index, o.status)
			}
			srv.mu.Lock()
			sent := srv.attempts[o.index]
			srv.mu.Unlock()
			if o.attempts != sent {
				fail("input %d: Attempts %d; the server saw %d (err %v)", o.index, o.attempts, sent, o.err)
			}
		}
		if !broke && len(outs) != n {
			fail("%d results for %d inputs", len(outs), n)
		}
		if sc.call.failFast() {
			var firstErr error
			anyFailed := false
			for _, o := range outs {
				if o.err != nil {
					anyFailed = true
					if o.err == failFast {
						firstErr = o.err
					}
				}
			}
			if anyFailed != (failFast != nil) || (failFast != nil && firstErr == nil) {
				fail("fail-fast returned %v; a result's own failure expected iff one failed (any=%v)", failFast, anyFailed)
			}
		}

		// After the call: nothing in flight or waiting, and the counts agree
		// with what the server saw.
		srv.mu.Lock()
		originSent := 0
		for _, c := range srv.attempts {
			originSent += c
		}
		arrivals := slices.Clone(srv.arrivals)
		srv.mu.Unlock()
		if st.InFlight != 0 || st.Waiting != 0 {
			fail("after the call: InFlight %d, Waiting %d; want 0, 0", st.InFlight, st.Waiting)
		}
		if st.Calls != st.Succeeded+st.Failed.Total() {
			fail("Calls %d != Succeeded %d + Failed %d", st.Calls, st.Succeeded, st.Failed.Total())
		}
		sideSent, sideOK := 0, 0
		srv.mu.Lock()
		for k, r := range sideResults {
			sideSent += srv.sideSent[k]
			if r.err == nil {
				sideOK++
			}
			if r.attempts >= 0 && r.attempts != srv.sideSent[k] {
				fail("side Get %d: %d attempts; the server saw %d (err %v)", k, r.attempts, srv.sideSent[k], r.err)
			}
		}
		srv.mu.Unlock()
		if int(st.Attempts) != originSent+sideSent {
			fail("Stats.Attempts %d; the server saw %d attempts (%d of them the side Gets')", st.Attempts, originSent+sideSent, sideSent)
		}
		succeeded := 0
		for _, o := range outs {
			if o.err == nil {
				succeeded++
			}
		}
		if !broke {
			if st.Calls != int64(n+len(sc.side)) {
				fail("Stats.Calls %d; want %d, one per input and side Get", st.Calls, n+len(sc.side))
			}
			if int(st.Succeeded) != succeeded+sideOK {
				fail("Stats.Succeeded %d; %d results and side Gets succeeded", st.Succeeded, succeeded+sideOK)
			}
			sum := 0
			for _, o := range outs {
				sum += o.attempts
			}
			if sum != originSent {
				fail("the results' Attempts add up to %d; the server saw %d", sum, originSent)
			}
		} else if st.Calls < int64(len(outs)) || st.Calls > int64(n+len(sc.side)) {
			fail("after a break: Stats.Calls %d; %d yielded, %d inputs", st.Calls, len(outs), n)
		}

		// Promptness: a break, and a cancellation, end the call at once
		// (in fake time: every wait left honours the context).
		if broke && returnedAt != brokeAt {
			fail("broke at %v, returned at %v", brokeAt, returnedAt)
		}
		if cancelled && returnedAt != cancelledAt {
			fail("cancelled at %v, returned at %v", cancelledAt, returnedAt)
		}
		if len(sc.side) == 0 && (stAtReturn.InFlight != 0 || stAtReturn.Waiting != 0) {
			fail("as the call returned: InFlight %d, Waiting %d; want 0, 0", stAtReturn.InFlight, stAtReturn.Waiting)
		}

		// Requests to one host leave in input order: first attempts reach
		// the server in input order (in fake time), unless a Limiter of the
		// caller's own gates the host.
		if !sc.customHostLimiter {
			firstAt := map[string][]rsArrival{}
			for _, a := range arrivals {
				if a.origin && a.attempt == 1 {
					firstAt[a.host] = append(firstAt[a.host], a)
				}
			}
			for host, as := range firstAt {
				slices.SortFunc(as, func(a, b rsArrival) int { return a.idx - b.idx })
				for k := 1; k < len(as); k++ {
					if as[k].at < as[k-1].at {
						fail("%s: input %d first sent at %v, before input %d at %v", host, as[k].idx, as[k].at, as[k-1].idx, as[k-1].at)
						break
					}
				}
			}
		}

		// A Retry-After pauses its host: nothing is sent to it until the
		// pause ends (requests sent at the very instant of the answer may
		// have been on their way).
		srv.mu.Lock()
		pauses := slices.DeleteFunc(slices.Clone(srv.pauses), srv.absorbed)
		srv.mu.Unlock()
	pauseCheck:
		for _, p := range pauses {
			for _, a := range arrivals {
				if a.host == p.host && a.at > p.from && a.at < p.until {
					fail("%s paused from %v until %v by a Retry-After; a request (input %d, origin %v, attempt %d) reached it at %v",
						p.host, p.from, p.until, a.idx, a.origin, a.attempt, a.at)
					break pauseCheck
				}
			}
		}
		if mon != nil {
			mon.mu.Lock()
			fails = append(fails, mon.violations...)
			mon.mu.Unlock()
		}

		// Rate limits: in any window [t0, t1], no more than burst +
		// r·(t1−t0) requests reached the server, per host and overall.
		//
		// A request that waits for its gates on a worker (a retry, a
		// redirect, a call of another goroutine, one behind a Limiter of
		// the caller's own) takes its host's token before it waits for a
		// global slot, so as not to hold a slot another host could use;
		// and a scheduler's seat given a token in line keeps it while it
		// waits again for a slot it gave back meanwhile. Either may reach
		// the server after a window has begun on a token taken before: at
		// most one such request per worker. Requests the scheduler
		// dispatched alone, which take their slots and tokens at once and
		// are sent at once, are held to the exact bound in every window;
		// from the start, the bound is exact whatever the path.
		waited := sc.customHostLimiter
		for _, a := range arrivals {
			if !a.origin || a.attempt > 1 {
				waited = true
			}
		}
		slack := 0
		if waited {
			slack = sc.concurrency
		}
		checkRate := func(what string, as []rsArrival, rt rsRate) {
			for j, a := range as { // from the start
				if float64(j+1) > float64(rt.burst)+float64(rt.r)*a.at.Seconds()+1e-6 {
					fail("%s rate %v burst %d: %d requests in [0, %v]", what, rt.r, rt.burst, j+1, a.at)
					return
				}
			}
			// count(i..j) = j-i+1 ≤ burst + slack + r(t_j − t_i)  ⇔
			// (j − r t_j) − (i − r t_i) ≤ burst + slack − 1.
			minA := 0.0
			for j, a := range as {
				v := float64(j) - float64(rt.r)*a.at.Seconds()
				if j == 0 || v < minA {
					minA = v
				}
				if v-minA > float64(rt.burst+slack)-1+1e-6 {
					// Find the window, for the message.
					for i := 0; i <= j; i++ {
						if float64(j-i+1) > float64(rt.burst+slack)+float64(rt.r)*(a.at-as[i].at).Seconds()+1e-6 {
							fail("%s rate %v burst %d (slack %d): %d requests in [%v, %v]: %+v", what, rt.r, rt.burst, slack, j-i+1, as[i].at, a.at, as[max(i-3, 0):j+1])
							return
						}
					}
				}
			}
		}
		slices.SortStableFunc(arrivals, func(a, b rsArrival) int { return int(a.at - b.at) })
		if sc.rate != nil {
			checkRate("global", arrivals, *sc.rate)
		}
		if sc.hostRate != nil {
			byHost := map[string][]rsArrival{}
			for _, a := range arrivals {
				byHost[a.host] = append(byHost[a.host], a)
			}
			for host, as := range byHost {
				checkRate(host, as, *sc.hostRate)
			}
		}

		// Let everything settle: timers, the feeder, the input's reader.
		close(quit)
		if ch != nil {
			for range ch { // let a reader blocked on the channel go on
			}
		}
		helpers.Wait()
		time.Sleep(time.Hour)
		synctest.Wait()
		if later := f.Stats(); later.Calls != st.Calls || later.Attempts != st.Attempts || later.InFlight != 0 || later.Waiting != 0 {
			fail("an hour after the call: Calls %d, Attempts %d, InFlight %d, Waiting %d; at its end %d, %d, 0, 0",
				later.Calls, later.Attempts, later.InFlight, later.Waiting, st.Calls, st.Attempts)
		}
		if err := f.Shutdown(context.Background()); err != nil {
			fail("Shutdown: %v", err)
		}
		select {
		case err := <-shutdownErr:
			if err != nil {
				fail("Shutdown during the call: %v", err)
			}
		default:
		}
		srv.mu.Lock()
		fails = append(fails, srv.violations...)
		srv.mu.Unlock()
		if len(fails) > 0 {
			t.Errorf("scenario: %s\nreturned at %v, cancelled at %v, broke=%v, %d results, stats %+v",
				sc, returnedAt, cancelledAt, broke, len(outs), st)
			for _, s := range fails {
				t.Error(s)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// The monitor: whenever the bubble is quiet (every goroutine blocked, so
// nothing will happen until the next timer), no worker may be idle while an
// input that has been read waits for a host that could take it. That is the
// scheduler's promise ("A worker that frees up takes the first request of the
// next host ... that can take it now"), and what a lost wake-up breaks.
//
// It is checked only where every gate's state can be seen from outside: a
// streaming call (whose input the test reads for it), with no rate, adaptive
// rate or Retry-After pause, whose gates are the in-flight caps alone.

type rsMonitor struct {
	sc     *rsScenario
	srv    *rsServer
	f      *Fetcher
	stalls bool // look for stalls (see above); else only at the stats
	events chan struct{}

	mu         sync.Mutex
	reads      []int        // inputs yielded, in order
	active     map[int]bool // calls begun and not ended
	begun      map[int]bool
	violations []string
}

func newRSMonitor(sc *rsScenario, srv *rsServer) *rsMonitor {
	if !sc.monitor {
		return nil
	}
	m := &rsMonitor{sc: sc, srv: srv, events: make(chan struct{}, 1), active: map[int]bool{}, begun: map[int]bool{}}
	m.stalls = !sc.call.batch() && sc.rate == nil && sc.hostRate == nil && sc.adaptive == nil &&
		!(sc.pRetryAf > 0 && sc.retryAfterMax > 0 && sc.p429+sc.p503 > 0)
	srv.notify = m.notify
	return m
}

func (m *rsMonitor) notify() {
	select {
	case m.events <- struct{}{}:
	default:
	}
}

func rsIndexOf(req *http.Request) int {
	i, err := strconv.Atoi(req.URL.Path[strings.LastIndexByte(req.URL.Path, '/')+1:])
	if err != nil {
		return -1
	}
	return i
}

func (m *rsMonitor) onCall(ctx context.Context, info CallInfo) context.Context {
	if !strings.HasPrefix(info.Request.URL.Path, "/in/") {
		return ctx // a side Get
	}
	i := rsIndexOf(info.Request)
	m.mu.Lock()
	m.active[i], m.begun[i] = true, true
	m.mu.Unlock()
	m.notify()
	return ctx
}

func (m *rsMonitor) onDone(info DoneInfo) {
	if !strings.HasPrefix(info.Request.URL.Path, "/in/") {
		m.notify()
		return
	}
	i := rsIndexOf(info.Request)
	m.mu.Lock()
	delete(m.active, i)
	m.mu.Unlock()
	m.notify()
}

func (m *rsMonitor) yielded(i int) {
	m.mu.Lock()
	m.reads = append(m.reads, i)
	m.mu.Unlock()
	m.notify()
}

func (m *rsMonitor) run(callDone, done chan struct{}) {
	defer close(done)
	for {
		select {
		case <-m.events:
		case <-callDone:
			return
		}
		synctest.Wait()
		select {
		case <-callDone:
			return
		default:
		}
		m.check()
	}
}

func (m *rsMonitor) check() {
	sc, srv := m.sc, m.srv
	m.mu.Lock()
	defer m.mu.Unlock()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(m.violations) > 0 {
		return
	}
	// While the bubble is quiet, the slots held are those of the requests
	// in the server: a request holds its slot until its body is read,
	// which the calls here do at once, and gives it back before it waits
	// to retry or at a redirect's next host.
	st := m.f.Stats()
	if st.InFlight != int64(srv.total) || st.Waiting < 0 || st.Calls > int64(len(sc.inputs)+len(sc.side)) {
		m.violations = append(m.violations, fmt.Sprintf("at %v, quiet: Stats InFlight %d, Waiting %d, Calls %d; %d requests in the server, %d inputs",
			time.Since(srv.start), st.InFlight, st.Waiting, st.Calls, srv.total, len(sc.inputs)))
		return
	}
	if !m.stalls || srv.cancelledAt.Load() != 0 || srv.shutAt.Load() != 0 {
		return
	}
	if len(m.active) >= sc.concurrency || srv.total >= sc.concurrency {
		return // every worker, or every slot, is taken
	}
	runningTo := map[string]int{}
	for i := range m.active {
		runningTo[rsHostName(sc.inputs[i].host)]++
	}
	// The last input read may still be on its way into the queue (the
	// reader waits while the read-ahead is full): leave it out.
	for _, i := range m.reads[:max(len(m.reads)-1, 0)] {
		if m.begun[i] || sc.inputs[i].invalid {
			continue
		}
		h := rsHostName(sc.inputs[i].host)
		if sc.hostConc == 0 || runningTo[h] < sc.hostConc && srv.running[h] < sc.hostConc {
			m.violations = append(m.violations, fmt.Sprintf(
				"stalled at %v: input %d for %s is queued, %d of %d workers busy, %d requests in flight (%d to %s, %d of its inputs running), yet nothing runs",
				time.Since(srv.start), i, h, len(m.active), sc.concurrency, srv.total, srv.running[h], h, runningTo[h]))
			return
		}
	}
}
