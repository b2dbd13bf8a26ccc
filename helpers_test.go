package fetch

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newMem returns a Fetcher that serves every request in memory with h, so
// that it can run inside a synctest bubble.
func newMem(t testing.TB, h http.Handler, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(append([]Option{WithClient(memhttp.Client(h))}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

// counter is a handler wrapper that counts requests, the most running at
// once, and records when each arrived.
type counter struct {
	next http.Handler

	n        atomic.Int64
	running  atomic.Int64
	maxSeen  atomic.Int64
	mu       sync.Mutex
	arrivals []time.Time
}

func count(h http.HandlerFunc) *counter { return &counter{next: h} }

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	now := c.running.Add(1)
	defer c.running.Add(-1)
	for {
		old := c.maxSeen.Load()
		if now <= old || c.maxSeen.CompareAndSwap(old, now) {
			break
		}
	}
	c.mu.Lock()
	c.arrivals = append(c.arrivals, time.Now())
	c.mu.Unlock()
	c.next.ServeHTTP(w, r)
}

func (c *counter) times() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.arrivals...)
}

func ok(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }

// failing answers status for the first n requests, then 200 "ok".
func failing(n int64, status int, header http.Header) http.HandlerFunc {
	var seen atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			for k, v := range header {
				w.Header()[k] = v
			}
			w.WriteHeader(status)
			w.Write([]byte("failure body"))
			return
		}
		w.Write([]byte("ok"))
	}
}

func mustGet(t testing.TB, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
