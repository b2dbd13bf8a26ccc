// Package testsite serves a generated website of several hosts on
// loopback, for testing and demonstrating a crawler: every page is
// reachable from one seed, each host counts what it is asked (requests per
// URL, most in flight, most per second, robots.txt fetches), and the site
// knows the answer a crawler should reach: every page's canonical URL,
// depth and title.
//
// # Pages
//
// Host i serves Pages pages. Page 0 is at "/", every tenth page (7, 17, …)
// at "/q?page=n" and the rest at "/p/n"; anything else is 404, including
// other spellings of a page (/p/07, /p/7?x, /q?page=7&x). A query string is
// thus part of a page's identity: a crawler must keep it, and the site never
// links one page under two queries. Each page is HTML titled "host i page n"
// with Links links (plus a "#top" link, and on each host's "/" a mailto:
// link), chosen from Config.Seed by math/rand/v2's PCG: a spanning tree from
// the seed page first, so every page is reachable, then random links, which
// make cycles and duplicates (one in ten goes to a host's "/"). One link in four goes to a random host, the
// others stay on their page's host.
//
// # Link spellings
//
// Links to another host are absolute, written one of these ways:
//
//	http://127.0.0.2:PORT/p/4        plain
//	HTTP://127.0.0.2:PORT/p/4        upper-case scheme
//	//127.0.0.2:PORT/p/4             network-path reference
//	http://127.0.0.2:PORT/p/4#sec    fragment
//	http://127.0.0.2:PORT            empty path: a crawler must make it "/"
//	http://127.0.0.2:PORT/p/../p/4   dot segments
//
// Links within a host are those or: root-relative (/p/12), path-relative
// from "/" or "/q" (p/12, ./p/12, q?page=7, ./) or from "/p/n" (12, ./12,
// ../p/12, ../q?page=7, ../), query-only from "/q" (?page=17), any of the
// relative ones with "#sec", and root-relative with dot segments
// (/p/../p/12). All resolve with url.URL.ResolveReference. The site has no
// default-port links (http://h:80/ is another server: the hosts cannot
// have port 80), no upper-case hosts (its hosts are IP literals), no
// percent-encoded spellings of a path and no <base> element.
//
// # Redirects
//
// About one page in sixteen is linked only through a redirect, /r/<n>,
// answering 301 or 302, sometimes from another host, and a quarter of those
// through a chain of two redirects. Every link to such a page goes through
// its redirect, and no page is the target of two redirects, so a crawler
// fetches each page once whether it lets http.Client follow redirects or
// schedules each hop itself; it must dedupe /r/<n> URLs like any other.
// Locations are absolute, root-relative or path-relative (../p/12).
//
// # Robots
//
// /robots.txt answers 404 unless Config.Robots says otherwise for the host.
package testsite
