package testsite

import "testing"

// TestExpectedIsBFS checks Expected against the graph it comes from: every
// page is listed, the seed at 0, and the depths are shortest distances:
// no link leads more than one level down, and every page but the seed has
// a link from one level up.
func TestExpectedIsBFS(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Hosts: 1, Pages: 1, Links: 1},
		{Hosts: 5, Pages: 7, Links: 1},
		{Hosts: 2, Pages: 50, Links: 2, Seed: 3},
	} {
		s := start(t, cfg)
		depth := s.Expected()
		hosts, pages := len(s.hosts), s.g.pages
		if len(depth) != hosts*pages || depth[s.Seed()] != 0 {
			t.Errorf("%+v: %d pages, seed at %d; want %d, 0", cfg, len(depth), depth[s.Seed()], hosts*pages)
		}
		up := make(map[string]bool) // pages with a link from one level up
		for u := range s.g.out {
			du := depth[s.url(target{id: u})]
			for _, e := range s.g.out[u] {
				v, _ := s.follow(e.to, never)
				dv, ok := depth[s.url(target{id: v})]
				if !ok || dv > du+1 {
					t.Errorf("%+v: page %d at depth %d links to page %d at %d (listed: %v)", cfg, u, du, v, dv, ok)
				}
				up[s.url(target{id: v})] = up[s.url(target{id: v})] || dv == du+1
			}
		}
		for url, d := range depth {
			if d != 0 && !up[url] || d == 0 && url != s.Seed() {
				t.Errorf("%+v: %s at depth %d has no link from depth %d", cfg, url, d, d-1)
			}
		}
	}
}

// TestGraphShape checks the promises the package documents about links and
// redirects: Links links a page, and a page entered through a redirect is
// linked only through it, the one redirect leading to it.
func TestGraphShape(t *testing.T) {
	g := newGraph(3, 400, 5, 1)
	direct, entries, hops := map[int]int{}, map[int]map[int]bool{}, map[int]int{}
	for u, es := range g.out {
		if len(es) != 5 {
			t.Errorf("page %d has %d links; want 5", u, len(es))
		}
		for _, e := range es {
			if !e.to.redir {
				direct[e.to.id]++
				continue
			}
			r := e.to.id
			to := g.redirs[r].to
			for ; to.redir; to = g.redirs[to.id].to {
				hops[to.id]++ // an inner hop of a chain
			}
			if entries[to.id] == nil {
				entries[to.id] = map[int]bool{}
			}
			entries[to.id][r] = true
		}
	}
	if len(entries) < 30 {
		t.Errorf("%d pages entered through redirects; want about 1200/16", len(entries))
	}
	for p, rs := range entries {
		if direct[p] != 0 || len(rs) != 1 {
			t.Errorf("page %d: %d direct links and redirects %v to it; want none and one", p, direct[p], rs)
		}
	}
	for r, n := range hops {
		for _, es := range g.out {
			for _, e := range es {
				if e.to.redir && e.to.id == r {
					t.Errorf("redirect %d is an inner hop of a chain (after %d links) and also linked from a page", r, n)
				}
			}
		}
	}
}
