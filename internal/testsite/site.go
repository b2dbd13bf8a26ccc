package testsite

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/c989c033/fetch/internal/testserver"
)

// Config shapes a site. The zero Config is 3 hosts of 400 pages with 5
// links each, no latency, random seed 0 and no robots.txt anywhere.
type Config struct {
	Hosts   int           // number of hosts (default 3)
	Pages   int           // pages per host (default 400)
	Links   int           // links to pages or redirects on each page (default 5)
	Latency time.Duration // added to every answer; a cancelled request stops waiting
	Seed    uint64        // the random seed of the link graph

	// Robots sets /robots.txt per host index. A host without an entry
	// answers 404.
	Robots map[int]Robots
}

// Robots is how one host answers /robots.txt.
type Robots struct {
	Status int    // status to answer with; 0 means 200
	Body   string // sent as text/plain
	// Unreachable closes the connection without answering. It needs a
	// real connection: through Site.Handler with a ResponseWriter that
	// cannot be hijacked, the handler panics with http.ErrAbortHandler.
	Unreachable bool
}

// Site is a running site: one HTTP server per host, on loopback. Its
// methods are safe for concurrent use.
type Site struct {
	g     *graph
	hosts []*host
}

// Start builds the site cfg describes and starts its servers. Host i
// listens on a free port of 127.0.0.(i+1), which Linux routes to the
// loopback interface; where that address cannot be bound (macOS without
// an alias, or from the 255th host on) the host listens on 127.0.0.1 with
// a port of its own, so hosts always differ by host:port. Close the site
// when done.
func Start(cfg Config) (*Site, error) {
	cfg, err := settle(cfg)
	if err != nil {
		return nil, err
	}
	s := &Site{g: newGraph(cfg.Hosts, cfg.Pages, cfg.Links, cfg.Seed)}
	for i := range cfg.Hosts {
		l, err := listen(i)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("testsite: host %d: %w", i, err)
		}
		h := &host{site: s, index: i, addr: l.Addr().String(), latency: cfg.Latency, stats: newCounter()}
		if r, ok := cfg.Robots[i]; ok {
			h.robots = &r
		}
		h.srv = httptest.NewUnstartedServer(h)
		h.srv.Listener.Close()
		h.srv.Listener = l
		s.hosts = append(s.hosts, h)
	}
	for _, h := range s.hosts {
		h.srv.Start() // after every addr is known: pages link across hosts
	}
	return s, nil
}

// settle fills in defaults and rejects what cannot be served.
func settle(cfg Config) (Config, error) {
	if cfg.Hosts < 0 || cfg.Pages < 0 || cfg.Links < 0 {
		return cfg, errors.New("testsite: Hosts, Pages and Links must not be negative")
	}
	cfg.Hosts = cmp.Or(cfg.Hosts, 3)
	cfg.Pages = cmp.Or(cfg.Pages, 400)
	cfg.Links = cmp.Or(cfg.Links, 5)
	for i, r := range cfg.Robots {
		if i < 0 || i >= cfg.Hosts {
			return cfg, fmt.Errorf("testsite: Robots for host %d of %d", i, cfg.Hosts)
		}
		if r.Status != 0 && (r.Status < 200 || r.Status > 599) {
			return cfg, fmt.Errorf("testsite: Robots status %d for host %d", r.Status, i)
		}
	}
	return cfg, nil
}

func listen(i int) (net.Listener, error) {
	if i > 0 && i < 255 {
		if l, err := net.Listen("tcp", "127.0.0."+strconv.Itoa(i+1)+":0"); err == nil {
			return l, nil
		}
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// Close shuts every host down. Requests still being served are cancelled
// (their connections closed) and Close waits for their handlers to return.
func (s *Site) Close() {
	for _, h := range s.hosts {
		if h.srv.URL == "" { // never started
			h.srv.Listener.Close()
			continue
		}
		h.srv.CloseClientConnections()
		h.srv.Close()
	}
}

// Seed returns the URL to start crawling from: host 0's page 0,
// "http://127.0.0.1:port/".
func (s *Site) Seed() string { return s.url(target{id: 0}) }

// Hosts returns each host's base URL, "http://127.0.0.x:port", by index.
func (s *Site) Hosts() []string {
	urls := make([]string, len(s.hosts))
	for i, h := range s.hosts {
		urls[i] = "http://" + h.addr
	}
	return urls
}

// Title returns the title of the page at rawURL, "host i page n", or "" if
// no page is there. rawURL may be in any spelling that parses to the page's
// canonical URL once its fragment is dropped and an empty path becomes "/".
func (s *Site) Title(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" {
		return ""
	}
	for i, h := range s.hosts {
		if h.addr != strings.ToLower(u.Host) {
			continue
		}
		if n, ok := pageNumber(u.RequestURI(), s.g.pages); ok {
			return s.title(i*s.g.pages + n)
		}
	}
	return ""
}

// Handler returns a handler that serves every host, choosing by the
// request's Host (or its URL's host when Host is empty), and answers 404
// for any other host. It shares the servers' pages and statistics, for
// in-memory transports such as internal/memhttp's, which run inside a
// testing/synctest bubble; call Start outside the bubble.
func (s *Site) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := cmp.Or(r.Host, r.URL.Host)
		for _, h := range s.hosts {
			if h.addr == addr {
				h.ServeHTTP(w, r)
				return
			}
		}
		http.NotFound(w, r)
	})
}

// url returns the canonical URL of t.
func (s *Site) url(t target) string {
	h, path := s.g.where(t)
	return "http://" + s.hosts[h].addr + path
}

// host serves one host of the site.
type host struct {
	site    *Site
	index   int
	addr    string // 127.0.0.x:port
	latency time.Duration
	robots  *Robots // nil: 404
	stats   *counter
	srv     *httptest.Server
}

func (h *host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.stats.begin(r)
	defer h.stats.end()
	if !testserver.Wait(r.Context(), h.latency) {
		return
	}
	g, uri := h.site.g, r.URL.RequestURI()
	if r.URL.Path == "/robots.txt" {
		h.answerRobots(w, r)
	} else if n, ok := pageNumber(uri, g.pages); ok {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(h.site.page(h.index*g.pages + n))
	} else if rd, ok := h.redirect(uri); ok {
		w.Header().Set("Location", h.site.location(rd))
		w.WriteHeader(rd.code)
	} else {
		http.NotFound(w, r)
	}
}

// redirect returns the redirect this host serves at uri, /r/<n>.
func (h *host) redirect(uri string) (redirect, bool) {
	redirs := h.site.g.redirs
	i, err := strconv.Atoi(strings.TrimPrefix(uri, "/r/"))
	if err != nil || uri != "/r/"+strconv.Itoa(i) || i < 0 || i >= len(redirs) || redirs[i].host != h.index {
		return redirect{}, false
	}
	return redirs[i], true
}

func (h *host) answerRobots(w http.ResponseWriter, r *http.Request) {
	switch {
	case h.robots == nil:
		http.NotFound(w, r)
	case h.robots.Unreachable:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		conn.Close()
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(cmp.Or(h.robots.Status, http.StatusOK))
		w.Write([]byte(h.robots.Body))
	}
}
