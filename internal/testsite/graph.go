package testsite

import (
	"math/rand/v2"
	"strconv"
)

// target is what a link or a redirect points at: a page, by id
// (host*pages + page), or a redirect, by its index in graph.redirs.
type target struct {
	id    int
	redir bool
}

// edge is one link on a page. form picks how its href is written; see
// Site.href.
type edge struct {
	to   target
	form uint8
}

// redirect is served at /r/<index> on host and answers code with a
// Location that points at to. form picks how the Location is written.
type redirect struct {
	host int
	code int
	to   target
	form uint8
}

// graph is the site's link structure, without addresses: it depends only on
// the configuration and the random seed, never on the ports the hosts got.
type graph struct {
	hosts, pages int
	out          [][]edge // the links on each page, by page id
	redirs       []redirect
}

// newGraph builds the link graph. A spanning tree rooted at host 0's page 0
// makes every page reachable; extra random links then fill every page up to
// links links, one in ten of them to a host's page 0. About one page in sixteen is entered only through a redirect
// (one in four of those through a chain of two), and every link to it,
// tree or extra, goes through that redirect.
func newGraph(hosts, pages, links int, seed uint64) *graph {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := &graph{hosts: hosts, pages: pages, out: make([][]edge, hosts*pages)}
	entry := g.tree(rng, links)
	for u := range g.out {
		for len(g.out[u]) < links {
			v := g.near(rng, u/pages) * pages // a host's home page, one time in ten
			if rng.IntN(10) != 0 {
				v += rng.IntN(pages)
			}
			g.link(rng, u, entry[v])
		}
		rng.Shuffle(len(g.out[u]), func(i, j int) { g.out[u][i], g.out[u][j] = g.out[u][j], g.out[u][i] })
	}
	return g
}

// tree links every page but the root from one placed earlier, in a random
// order, and returns the target through which each page is linked to.
func (g *graph) tree(rng *rand.Rand, links int) []target {
	entry := make([]target, g.hosts*g.pages)
	open := make([][]int, g.hosts) // placed pages with room for a link, by host
	open[0] = []int{0}
	for _, i := range rng.Perm(len(entry) - 1) {
		v := i + 1
		h, k := g.pick(rng, open, v/g.pages)
		p := open[h][k]
		entry[v] = g.enter(rng, v, p)
		g.link(rng, p, entry[v])
		if len(g.out[p]) == links {
			open[h][k] = open[h][len(open[h])-1]
			open[h] = open[h][:len(open[h])-1]
		}
		open[v/g.pages] = append(open[v/g.pages], v)
	}
	return entry
}

// pick chooses a page with room for a link, preferring host h, and returns
// its host and its index in open[host]. Some page always has room: k placed
// pages have k-1 tree links and room for k*links.
func (g *graph) pick(rng *rand.Rand, open [][]int, h int) (host, index int) {
	h = g.near(rng, h)
	for i := range g.hosts {
		if c := (h + i) % g.hosts; len(open[c]) > 0 {
			return c, rng.IntN(len(open[c]))
		}
	}
	panic("testsite: no page has room for a link")
}

// near returns h three times in four, otherwise a random host.
func (g *graph) near(rng *rand.Rand, h int) int {
	if rng.IntN(4) == 0 {
		return rng.IntN(g.hosts)
	}
	return h
}

// enter decides how page v, about to be linked from page p, is entered:
// directly, or only through a redirect (or a chain of two).
func (g *graph) enter(rng *rand.Rand, v, p int) target {
	to := target{id: v}
	if rng.IntN(16) != 0 {
		return to
	}
	if rng.IntN(4) == 0 {
		to = g.redirect(rng, rng.IntN(g.hosts), to)
	}
	return g.redirect(rng, g.near(rng, p/g.pages), to)
}

func (g *graph) redirect(rng *rand.Rand, host int, to target) target {
	code := [...]int{301, 302}[rng.IntN(2)]
	g.redirs = append(g.redirs, redirect{host: host, code: code, to: to, form: uint8(rng.Uint32())})
	return target{id: len(g.redirs) - 1, redir: true}
}

func (g *graph) link(rng *rand.Rand, from int, to target) {
	g.out[from] = append(g.out[from], edge{to: to, form: uint8(rng.Uint32())})
}

// where returns the host and the path (with query) at which t is served.
func (g *graph) where(t target) (host int, path string) {
	if t.redir {
		return g.redirs[t.id].host, "/r/" + strconv.Itoa(t.id)
	}
	return t.id / g.pages, pagePath(t.id % g.pages)
}

// queryPage reports whether page n is addressed by a query string.
func queryPage(n int) bool { return n%10 == 7 }

// pagePath returns the path, with query, of page n on its host: "/" for
// page 0, "/q?page=n" for every tenth page, "/p/n" for the rest.
func pagePath(n int) string {
	switch {
	case n == 0:
		return "/"
	case queryPage(n):
		return "/q?page=" + strconv.Itoa(n)
	default:
		return "/p/" + strconv.Itoa(n)
	}
}

// pageNumber is the inverse of pagePath, for a request URI (path and query
// as sent). It accepts only the canonical spelling: /p/07, /p/7?x and
// /q?page=7&x are not pages.
func pageNumber(uri string, pages int) (int, bool) {
	if uri == "/" {
		return 0, true
	}
	var s string
	switch {
	case len(uri) > 3 && uri[:3] == "/p/":
		s = uri[3:]
	case len(uri) > 8 && uri[:8] == "/q?page=":
		s = uri[8:]
	default:
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n >= pages || pagePath(n) != uri {
		return 0, false
	}
	return n, true
}
