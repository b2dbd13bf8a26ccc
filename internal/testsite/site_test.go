package testsite

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestStartDefaults(t *testing.T) {
	s := start(t, Config{})
	hosts := s.Hosts()
	if len(hosts) != 3 {
		t.Fatalf("len(Hosts()) = %d; want 3", len(hosts))
	}
	if seed := s.Seed(); seed != hosts[0]+"/" {
		t.Errorf("Seed() = %q; want %q", seed, hosts[0]+"/")
	}
	seen := map[string]bool{}
	for i, h := range hosts {
		if seen[h] || !strings.HasPrefix(h, "http://127.") {
			t.Errorf("Hosts()[%d] = %q: not a distinct loopback URL in %q", i, h, hosts)
		}
		seen[h] = true
	}
	if n := len(s.Expected()); n != 3*400 {
		t.Errorf("len(Expected()) = %d; want 1200", n)
	}
	for i, st := range s.Stats() {
		if want := strings.TrimPrefix(hosts[i], "http://"); st.Host != want || st.Requests != 0 {
			t.Errorf("Stats()[%d] = %+v; want Host %q and no requests", i, st, want)
		}
	}
}

func TestStartRejects(t *testing.T) {
	for _, cfg := range []Config{
		{Hosts: -1},
		{Pages: -1},
		{Links: -1},
		{Robots: map[int]Robots{3: {}}},
		{Robots: map[int]Robots{-1: {}}},
		{Hosts: 1, Robots: map[int]Robots{1: {}}},
		{Robots: map[int]Robots{0: {Status: 99}}},
		{Robots: map[int]Robots{0: {Status: 600}}},
	} {
		if s, err := Start(cfg); err == nil {
			s.Close()
			t.Errorf("Start(%+v): err = nil; want an error", cfg)
		}
	}
}

func TestDeterministic(t *testing.T) {
	// The graph holds no addresses: same seed, same graph, whatever ports.
	a, b := start(t, Config{Pages: 50, Seed: 9}), start(t, Config{Pages: 50, Seed: 9})
	if pa, pb := anonymous(a, 0), anonymous(b, 0); pa != pb {
		t.Errorf("seed 9 twice: seed pages differ:\n%s\n%s", pa, pb)
	}
	for i := range a.g.out {
		if anonymous(a, i) != anonymous(b, i) {
			t.Fatalf("seed 9 twice: page %d differs", i)
		}
	}
	c := start(t, Config{Pages: 50, Seed: 10})
	if anonymous(a, 0) == anonymous(c, 0) && anonymous(a, 1) == anonymous(c, 1) {
		t.Errorf("seeds 9 and 10 give the same pages")
	}
}

// anonymous returns page id's HTML with host i's address replaced by "Hi".
func anonymous(s *Site, id int) string {
	page := string(s.page(id))
	for i, h := range s.hosts {
		page = strings.ReplaceAll(page, h.addr, "H"+string(rune('0'+i)))
	}
	return page
}

func get(t *testing.T, client *http.Client, url string) (status int, body string) {
	t.Helper()
	status, body, err := try(client, url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return status, body
}

func TestNotFound(t *testing.T) {
	s := start(t, Config{Hosts: 2, Pages: 30})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer client.CloseIdleConnections()
	h0, h1 := s.Hosts()[0], s.Hosts()[1]
	// A redirect served by host 0, to ask host 1 for it.
	r0 := -1
	for i, r := range s.g.redirs {
		if r.host == 0 {
			r0 = i
			break
		}
	}
	for _, tc := range []struct {
		url  string
		want int
	}{
		{h0 + "/", 200},
		{h0 + "/p/1", 200},
		{h0 + "/q?page=7", 200},
		{h0 + "/p/29", 200},
		{h0 + "/p/0", 404},
		{h0 + "/p/01", 404},
		{h0 + "/p/30", 404},
		{h0 + "/p/7", 404},      // a query page
		{h0 + "/q?page=8", 404}, // not one
		{h0 + "/p/1?x=1", 404},
		{h0 + "/q?page=7&x=1", 404},
		{h0 + "/p/1/", 404},
		{h0 + "/P/1", 404},
		{h0 + "/favicon.ico", 404},
		{h0 + "/robots.txt", 404},
		{h0 + "/r/" + strconv.Itoa(r0), s.g.redirs[r0].code},
		{h1 + "/r/" + strconv.Itoa(r0), 404},
		{h0 + "/r/0" + strconv.Itoa(r0), 404},
		{h0 + "/r/999", 404},
	} {
		if got, _ := get(t, client, tc.url); got != tc.want {
			t.Errorf("GET %s: status %d; want %d", tc.url, got, tc.want)
		}
	}
}

func TestTitle(t *testing.T) {
	s := start(t, Config{Pages: 30})
	h0, h2 := strings.TrimPrefix(s.Hosts()[0], "http://"), strings.TrimPrefix(s.Hosts()[2], "http://")
	for _, tc := range []struct{ url, want string }{
		{s.Seed(), "host 0 page 0"},
		{"http://" + h0, "host 0 page 0"},
		{"http://" + h0 + "#top", "host 0 page 0"},
		{"HTTP://" + h2 + "/p/3#sec", "host 2 page 3"},
		{"http://" + h2 + "/q?page=17", "host 2 page 17"},
		{"http://" + h2 + "/p/17", ""},
		{"http://" + h2 + "/p/30", ""},
		{"http://" + h2 + "/r/0", ""},
		{"https://" + h2 + "/p/3", ""},
		{"/p/3", ""},
		{"http://127.0.0.1:1/p/3", ""},
		{"::", ""},
	} {
		if got := s.Title(tc.url); got != tc.want {
			t.Errorf("Title(%q) = %q; want %q", tc.url, got, tc.want)
		}
	}
}

func TestRobots(t *testing.T) {
	const rules = "User-agent: *\nDisallow: /q\n"
	s := start(t, Config{Hosts: 4, Pages: 10, Robots: map[int]Robots{
		0: {Body: rules},
		1: {Status: 503, Body: "down"},
		2: {Unreachable: true},
		// 3: none, so 404
	}})
	// A fresh connection per request: the transport does not retry a
	// request that fails on a new connection, so each host sees one.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i, want := range []struct {
		status int // 0: the connection is closed
		body   string
	}{{200, rules}, {503, "down"}, {0, ""}, {404, "404 page not found\n"}} {
		url := s.Hosts()[i] + "/robots.txt"
		status, body, err := try(client, url)
		if want.status == 0 && err == nil {
			t.Errorf("GET %s = %d %q; want the connection closed", url, status, body)
		} else if want.status != 0 && (err != nil || status != want.status || body != want.body) {
			t.Errorf("GET %s = %d %q, %v; want %d %q", url, status, body, err, want.status, want.body)
		}
		if st := s.Stats()[i]; st.RobotsFetches != 1 || st.Requests != 1 {
			t.Errorf("host %d: RobotsFetches %d, Requests %d; want 1, 1", i, st.RobotsFetches, st.Requests)
		}
	}
}

func try(client *http.Client, url string) (status int, body string, err error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
