package testsite

// Expected returns every page reachable from Seed, which is every page of
// the site (Hosts*Pages of them), mapped to its depth: the fewest links
// followed from Seed, which is at depth 0. Following a redirect is not a
// link: the page a redirect leads to has the depth of the link to the
// redirect. Redirects (/r/<n>) are not pages and are not listed.
//
// URLs are canonical, as a crawler should dedupe them: the link resolved
// against its page's URL (net/url's ResolveReference does it, lower-casing
// the scheme and removing dot segments), without its fragment, and with an
// empty path made "/". That is "http://127.0.0.x:port/", ".../p/<n>" or
// ".../q?page=<n>". Expected ignores robots.txt; see Reachable.
func (s *Site) Expected() map[string]int { return s.Reachable(nil) }

// Reachable is Expected for a crawler that never requests a URL for which
// skip (if not nil) returns true, such as one disallowed by robots.txt:
// skip is asked about the canonical URL of every request the crawler would
// make, the link's own and, for a redirect, each hop's. A skipped link is
// not followed; a page reached only through skipped links is missing.
func (s *Site) Reachable(skip func(url string) bool) map[string]int {
	if skip == nil {
		skip = func(string) bool { return false }
	}
	depth := make(map[string]int)
	if skip(s.Seed()) {
		return depth
	}
	dist := map[int]int{0: 0}
	for queue := []int{0}; len(queue) > 0; queue = queue[1:] {
		u := queue[0]
		depth[s.url(target{id: u})] = dist[u]
		for _, e := range s.g.out[u] {
			v, ok := s.follow(e.to, skip)
			if _, seen := dist[v]; ok && !seen {
				dist[v] = dist[u] + 1
				queue = append(queue, v)
			}
		}
	}
	return depth
}

// follow returns the page t leads to, through any redirects, unless skip
// refuses one of the URLs on the way.
func (s *Site) follow(t target, skip func(string) bool) (page int, ok bool) {
	for {
		if skip(s.url(t)) {
			return 0, false
		}
		if !t.redir {
			return t.id, true
		}
		t = s.g.redirs[t.id].to
	}
}
