// Package testserver runs a local HTTP server on 127.0.0.1 that misbehaves
// on purpose, for the examples, the command's demo and the tests: latency,
// failures, its own rate limit answered with 429 and Retry-After, connection
// resets, paginated JSON listings, HTML pages and JSON items. Nothing it does
// reaches outside the machine.
//
// Routes:
//
//	/items?page=N      a page of the JSON listing: {"items": [...], "next": URL or ""}
//	/items/{id}        one JSON item: {"id": id, "name": "item id"}
//	/pages/{id}        an HTML page titled "Page id"
//	/echo              the request as JSON: method, headers, body (POST/PUT echo)
//	anything else      "ok"
//
// Every route also obeys these query parameters, so a test or example can
// ask one URL to misbehave in a given way:
//
//	delay=DURATION     answer after this long (on top of Config.Latency)
//	status=N           answer with this status
//	fail=N             answer 503 to the first N requests for this exact URL
//	retry_after=S      with status or fail, send Retry-After: S
//	reset=1            reset the connection instead of answering
package testserver

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/c989c033/fetch/internal/ctxsleep"

	"golang.org/x/time/rate"
)

// Config sets the server's behaviour for every request. The zero Config
// answers at once and never fails.
type Config struct {
	Latency     time.Duration // added to every answer
	Jitter      time.Duration // plus a uniform random delay in [0, Jitter)
	FailureRate float64       // share of requests answered 500 or 503
	ResetRate   float64       // share of requests whose connection is reset
	// RateLimit, if positive, is the rate (per second, burst Burst) beyond
	// which requests get 429 with Retry-After.
	RateLimit  float64
	Burst      int
	RetryAfter int // seconds in Retry-After on 429 (default 1)
	Items      int // items in the /items listing (default 100)
	PageSize   int // items per page (default 10)
}

// Server is a running test server.
type Server struct {
	URL string // base URL, http://127.0.0.1:port

	cfg     Config
	srv     *httptest.Server
	limiter *rate.Limiter

	requests, inFlight, maxInFlight atomic.Int64
	resets, failures, limited       atomic.Int64

	mu    sync.Mutex
	fails map[string]int // fail=N: requests seen per URL
	first time.Time
	last  time.Time
}

// Start starts a server with cfg on 127.0.0.1. Close it when done.
func Start(cfg Config) *Server {
	if cfg.Items == 0 {
		cfg.Items = 100
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = 10
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = 1
	}
	s := &Server{cfg: cfg, fails: make(map[string]int)}
	if cfg.RateLimit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), max(cfg.Burst, 1))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items", s.listing)
	mux.HandleFunc("GET /items/{id}", s.item)
	mux.HandleFunc("GET /pages/{id}", s.page)
	mux.HandleFunc("/echo", s.echo)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	s.srv = httptest.NewServer(s.misbehave(mux))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down, closing any connection still open.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Stats is what the server saw.
type Stats struct {
	Requests    int64         // requests received
	MaxInFlight int64         // the most handled at once
	Resets      int64         // connections reset on purpose
	Failures    int64         // 500/503 answers given on purpose
	Limited     int64         // 429 answers given by the rate limit
	Span        time.Duration // from the first request to the last
}

// Rate returns the requests per second the server saw over its span.
func (st Stats) Rate() float64 {
	if st.Span <= 0 {
		return 0
	}
	return float64(st.Requests-1) / st.Span.Seconds()
}

// Stats returns what the server has seen so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Requests: s.requests.Load(), MaxInFlight: s.maxInFlight.Load(),
		Resets: s.resets.Load(), Failures: s.failures.Load(), Limited: s.limited.Load(),
		Span: s.last.Sub(s.first),
	}
}

// misbehave applies the configured and requested faults before next.
func (s *Server) misbehave(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.arrive()
		defer s.inFlight.Add(-1)
		q := r.URL.Query()
		delay := s.cfg.Latency
		if s.cfg.Jitter > 0 {
			delay += rand.N(s.cfg.Jitter)
		}
		if d, err := time.ParseDuration(q.Get("delay")); err == nil {
			delay += d
		}
		if !Wait(r.Context(), delay) {
			return
		}
		switch {
		case q.Get("reset") == "1" || rand.Float64() < s.cfg.ResetRate:
			s.resets.Add(1)
			reset(w)
		case s.limiter != nil && !s.limiter.Allow():
			s.limited.Add(1)
			w.Header().Set("Retry-After", strconv.Itoa(s.cfg.RetryAfter))
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case q.Get("status") != "":
			code, _ := strconv.Atoi(q.Get("status"))
			s.answer(w, q, code)
		case s.failFirst(r, q):
			s.failures.Add(1)
			s.answer(w, q, http.StatusServiceUnavailable)
		case rand.Float64() < s.cfg.FailureRate:
			s.failures.Add(1)
			s.answer(w, q, []int{500, 503}[rand.IntN(2)])
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func (s *Server) arrive() {
	s.requests.Add(1)
	n := s.inFlight.Add(1)
	for m := s.maxInFlight.Load(); n > m && !s.maxInFlight.CompareAndSwap(m, n); m = s.maxInFlight.Load() {
	}
	now := time.Now()
	s.mu.Lock()
	if s.first.IsZero() {
		s.first = now
	}
	s.last = now
	s.mu.Unlock()
}

func (s *Server) failFirst(r *http.Request, q map[string][]string) bool {
	n, err := strconv.Atoi(first(q["fail"]))
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails[r.URL.String()]++
	return s.fails[r.URL.String()] <= n
}

func (s *Server) answer(w http.ResponseWriter, q map[string][]string, code int) {
	if ra := first(q["retry_after"]); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	http.Error(w, http.StatusText(code), code)
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// reset closes the connection with an RST instead of answering.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // close sends RST
	}
	conn.Close()
}

// Wait waits d, or until ctx ends, and reports whether it waited d: a
// handler's added latency that gives up when the request is cancelled.
func Wait(ctx context.Context, d time.Duration) bool {
	return d <= 0 || ctxsleep.Sleep(ctx, d) == nil
}

// Item is one entry of the /items listing.
type Item struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// Page is one page of the /items listing.
type Page struct {
	Items []Item `json:"items"`
	Next  string `json:"next"` // URL of the next page; "" on the last
}

func (s *Server) listing(w http.ResponseWriter, r *http.Request) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	var p Page
	for id := (page-1)*s.cfg.PageSize + 1; id <= min(page*s.cfg.PageSize, s.cfg.Items); id++ {
		p.Items = append(p.Items, Item{ID: id, Name: "item " + strconv.Itoa(id)})
	}
	if page*s.cfg.PageSize < s.cfg.Items {
		p.Next = fmt.Sprintf("%s/items?page=%d", s.URL, page+1)
	}
	writeJSON(w, p)
}

func (s *Server) item(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 || id > s.cfg.Items {
		http.NotFound(w, r)
		return
	}
	writeJSON(w, Item{ID: id, Name: "item " + strconv.Itoa(id)})
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	id := r.PathValue("id")
	fmt.Fprintf(w, "<!doctype html><html><head><meta charset=utf-8><title>Page %s</title></head>"+
		"<body><h1>Page %s</h1><p>Some text.</p></body></html>", id, id)
}

func (s *Server) echo(w http.ResponseWriter, r *http.Request) {
	var body any
	json.NewDecoder(r.Body).Decode(&body)
	writeJSON(w, map[string]any{"method": r.Method, "headers": r.Header, "body": body})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
