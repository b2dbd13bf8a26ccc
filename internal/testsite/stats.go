package testsite

import (
	"maps"
	"net/http"
	"sync"
	"time"
)

// HostStats is what one host has seen since Start.
//
// MaxPerSecond counts request start times, as the server saw them, in a
// window sliding over them: the most starts s with t-1s < s <= t, for any t.
// A client's token bucket of rate r per second and burst b allows b+r
// starts in such a window; network delays can bunch requests up by the time
// they arrive, so allow some slack over what the client sent.
type HostStats struct {
	Host          string         // 127.0.0.x:port
	Requests      int            // every request, whatever the answer
	Fetches       map[string]int // requests by path and query as sent, such as "/p/12" or "/q?page=7"
	MaxInFlight   int            // the most requests being served at once
	MaxPerSecond  int            // the most requests that started within any second
	RobotsFetches int            // requests for /robots.txt
}

// Stats returns what each host has seen so far, by host index.
func (s *Site) Stats() []HostStats {
	st := make([]HostStats, len(s.hosts))
	for i, h := range s.hosts {
		st[i] = h.stats.snapshot()
		st[i].Host = h.addr
	}
	return st
}

// counter keeps one host's statistics.
type counter struct {
	mu       sync.Mutex
	st       HostStats
	inFlight int
	recent   []time.Time // start times within the last second, oldest first
}

func newCounter() *counter {
	return &counter{st: HostStats{Fetches: make(map[string]int)}}
}

func (c *counter) begin(r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now() // under the lock, so recent stays in order
	c.st.Requests++
	c.st.Fetches[r.URL.RequestURI()]++
	if r.URL.Path == "/robots.txt" {
		c.st.RobotsFetches++
	}
	c.inFlight++
	c.st.MaxInFlight = max(c.st.MaxInFlight, c.inFlight)
	old := 0
	for old < len(c.recent) && now.Sub(c.recent[old]) >= time.Second {
		old++
	}
	c.recent = append(c.recent[old:], now)
	c.st.MaxPerSecond = max(c.st.MaxPerSecond, len(c.recent))
}

func (c *counter) end() {
	c.mu.Lock()
	c.inFlight--
	c.mu.Unlock()
}

func (c *counter) snapshot() HostStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	st.Fetches = maps.Clone(c.st.Fetches)
	return st
}
