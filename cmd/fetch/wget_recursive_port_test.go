package main

// GNU wget's tests of recursive retrieval (-r), ported onto the
// command-line tool's -r, from mirror/wget (a mirror of GNU wget, commit
// 8775506f632f14404e4755dbae679dea07abf12a):
//
//   - the Python suite testenv/Test-recursive-basic.py,
//     testenv/Test-recursive-include.py, testenv/Test-recursive-redirect.py,
//     testenv/Test--spider-r.py, testenv/Test--rejected-log.py,
//     testenv/Test-redirect-crash.py, testenv/Test-reserved-chars.py and
//     testenv/Test--convert-links--content-on-error.py, whose server
//     (testenv/server/http/http_server.py) answers a URL it has not with a
//     404;
//   - the Perl suite tests/Test--spider-r.px,
//     tests/Test--spider-r--no-content-disposition.px,
//     tests/Test--spider-r--no-content-disposition-trivial.px,
//     tests/Test--spider-r-HTTP-Content-Disposition.px, tests/Test-np.px,
//     tests/Test-meta-robots.px, tests/Test--httpsonly-r.px and
//     tests/Test-nonexisting-quiet.px, whose server (tests/HTTPServer.pm)
//     answers a URL it has not with a 403 and closes the connection.
//
// Both are served by wgetRServer, on 127.0.0.1 and localhost alike; the
// upstream tests use localhost, and so do the seeds here. Tests are named
// TestPortWgetR<test>. wget maps onto fetch like this:
//
//   - wget saves what -r fetches in a tree of host and path directories
//     (-nH drops the host, -nd the tree); fetch's -O DIR saves each 2xx
//     page in DIR under a flat name, localhost_PORT_a_File1.html for
//     /a/File1.html, and saves no robots.txt, which wget does;
//   - wget's exit status 8 (a server answered an error) is fetch's 1;
//   - fetch has no --spider (the --spider tests run -r, which GETs each
//     page once: wget sends a HEAD first), no --include-directories, -A,
//     -R or --https-only (the tests take --accept-regex instead), no
//     --rejected-log (a URL robots.txt disallows has a record; a link to
//     another host or to a page seen before has none), no -k, and no
//     --content-on-error (fetch saves 2xx pages only);
//   - fetch reads a host's robots.txt before its first page, the seed;
//     wget fetches the seed first, then robots.txt;
//   - fetch follows the links of <a> and <area>; wget -r also fetches what
//     <img>, <source> and srcset name;
//   - fetch's scope (the seeds' hosts, --no-parent, the regular
//     expressions) holds for redirects too: wget follows a redirect that
//     its --include-directories or regular expressions refuse (recur.c,
//     descend_redirect), fetch does not, as its README says
//     ("out_of_scope").
//
// Not ported: testenv/Test-recursive-pathmax.py (fetch's names are flat,
// and cut at 200 bytes), tests/Test-idn-robots.px and tests/Test-iri*.px
// (fetch converts no charsets: they test wget's --iri and
// --local-encoding), tests/Test-E-k*.px and testenv/Test-k.py (no -E, no
// -k), and tests/Test-Restrict-*.px and tests/Test-restrict-ascii.px,
// which are not recursive (no --restrict-file-names).
// tests/Test-nonexisting-quiet.px is not recursive either: it is run with
// -r here.

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// wgetRFile is a URL of a wget test's server: a 200 of body as text/html,
// unless ctype, code or header say otherwise.
type wgetRFile struct {
	body   string
	ctype  string            // "" for text/html
	code   int               // 0 for 200
	header map[string]string // a redirect's Location, a Content-Disposition
}

// wgetRStyle is how a wget test's server answers: the status of a URL it
// has not, and whether it looks files up by decoded path.
type wgetRStyle struct {
	missing int
	decode  bool
}

var (
	wgetPy = wgetRStyle{missing: http.StatusNotFound}  // testenv/server/http/http_server.py
	wgetPx = wgetRStyle{missing: http.StatusForbidden} // tests/HTTPServer.pm, which closes the connection after
)

// wgetRServer serves files by request target as sent, escapes and all,
// as both wget servers look them up, or by decoded path if its style
// says so; a target ending in / that it has not is its directory's
// index.html. {{port}} in a body or a header is the server's port. A
// target not in files is missing, as its style says. It notes each
// request as "GET /path" on localhost and "GET 127.0.0.1/path" on
// 127.0.0.1.
type wgetRServer struct {
	srv  *httptest.Server
	port string
	mu   sync.Mutex
	reqs []string
}

func newWgetRServer(t *testing.T, style wgetRStyle, files map[string]wgetRFile) *wgetRServer {
	s := &wgetRServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := ""
		if h, _, _ := strings.Cut(r.Host, ":"); h != "localhost" {
			host = h
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Method+" "+host+r.RequestURI)
		s.mu.Unlock()
		target := r.RequestURI
		if style.decode {
			target = r.URL.Path
		}
		f, ok := files[target]
		if !ok && strings.HasSuffix(target, "/") {
			f, ok = files[target+"index.html"]
		}
		if !ok {
			if style.missing == http.StatusForbidden {
				w.Header().Set("Connection", "close")
			}
			http.Error(w, http.StatusText(style.missing), style.missing)
			return
		}
		for k, v := range f.header {
			w.Header().Set(k, strings.ReplaceAll(v, "{{port}}", s.port))
		}
		w.Header().Set("Content-Type", cmp.Or(f.ctype, "text/html"))
		w.WriteHeader(cmp.Or(f.code, http.StatusOK))
		io.WriteString(w, strings.ReplaceAll(f.body, "{{port}}", s.port))
	}))
	t.Cleanup(s.srv.Close)
	u, _ := url.Parse(s.srv.URL)
	s.port = u.Port()
	return s
}

// url returns the URL of path on localhost.
func (s *wgetRServer) url(path string) string { return "http://localhost:" + s.port + path }

// prefix is how the names of the files -O saves from localhost begin.
func (s *wgetRServer) prefix() string { return "localhost_" + s.port + "_" }

// requests returns the requests the server has answered, in order.
func (s *wgetRServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// expectRequests fails t unless the server answered exactly want, in any
// order, and, if first is not "", answered first first.
func (s *wgetRServer) expectRequests(t *testing.T, first string, want ...string) {
	t.Helper()
	got := s.requests()
	if first != "" && (len(got) == 0 || got[0] != first) {
		t.Errorf("first request of %q; want %s", got, first)
	}
	sorted := slices.Sorted(slices.Values(got))
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(sorted, want) {
		t.Errorf("requests %q; want %q", sorted, want)
	}
}

// expectPage fails t unless recs has path's record, with depth and the
// referrer's path (both "" for a seed), and status.
func (s *wgetRServer) expectPage(t *testing.T, recs map[string]record, path string, depth int, referrer string, status int) {
	t.Helper()
	r, ok := recs[s.url(path)]
	if referrer != "" {
		referrer = s.url(referrer)
	}
	if !ok || r.Depth != depth || r.Referrer != referrer || r.Status != status {
		t.Errorf("%s: %+v (found %v); want depth %d, referrer %q, status %d", path, r, ok, depth, referrer, status)
	}
}

const wgetRFile2, wgetRFile3 = "With lemon or cream?", "Surely you're joking Mr. Feynman"

// wgetRFile1 is File1 of testenv/Test-recursive-*.py, linking /a/File2.html
// and /b/File3.html.
const wgetRFile1 = "<html><body>\n<a href=\"/a/File2.html\">text</a>\n<a href=\"/b/File3.html\">text</a>\n</body></html>"

// testenv/Test-recursive-basic.py: -r from /a/File1.html fetches the two
// pages it links, /a/File2.html and /b/File3.html, and saves the three;
// robots.txt, which the server has not (404), is asked for once. wget asks
// for it after the seed, fetch before; wget saves a/File1.html (-nH),
// fetch localhost_PORT_a_File1.html.
func TestPortWgetRRecursiveBasic(t *testing.T) {
	s := newWgetRServer(t, wgetPy, map[string]wgetRFile{
		"/a/File1.html": {body: wgetRFile1},
		"/a/File2.html": {body: wgetRFile2},
		"/b/File3.html": {body: wgetRFile3},
	})
	dir := t.TempDir()
	code, recs, stderr := crawl(t, "-r", "-O", dir, s.url("/a/File1.html"))
	if code != exitOK {
		t.Errorf("exit %d (%s); want 0", code, stderr)
	}
	s.expectRequests(t, "GET /robots.txt", "GET /robots.txt", "GET /a/File1.html", "GET /a/File2.html", "GET /b/File3.html")
	wgetExpect(t, dir, s.prefix(), map[string]string{"a_File1.html": wgetRFile1, "a_File2.html": wgetRFile2, "b_File3.html": wgetRFile3})
	if len(recs) != 3 {
		t.Errorf("records %v; want 3", paths(recs, s.url("")))
	}
	s.expectPage(t, recs, "/a/File1.html", 0, "", 200)
	s.expectPage(t, recs, "/a/File2.html", 1, "/a/File1.html", 200)
	s.expectPage(t, recs, "/b/File3.html", 1, "/a/File1.html", 200)
}

// testenv/Test-recursive-include.py: with --include-directories=a, -r from
// /a/File1.html fetches /a/File2.html and not /b/File3.html. fetch has no
// --include-directories: --accept-regex /a/ does it. wget also fetches
// what the page's <img src>, <img srcset> and <source srcset> name
// (/a/logo.svg, /a/picture.png, /a/picture1.png to /a/picture3.png):
// fetch follows <a> and <area> only, so it requests none of them.
func TestPortWgetRRecursiveInclude(t *testing.T) {
	file1 := `<html><body>
<a href="/a/File2.html">text</a>
<a href="/b/File3.html">text</a>
<picture>
  Hey, a source <source type="image/svg+xml" lolli="xxx" srcset="/a/logo.svg"/>.
  Hey, a srcset <img src="/a/picture.png" srcset="/a/picture1.png, /a/picture2.png 150w,/a/picture3.png 100x"/>.
</picture>
</body></html>`
	files := map[string]wgetRFile{
		"/a/File1.html": {body: file1},
		"/a/File2.html": {body: wgetRFile2},
		"/b/File3.html": {body: wgetRFile3},
	}
	for name, body := range map[string]string{"logo.svg": "logosvg", "picture.png": "picturepng", "picture1.png": "picture1png", "picture2.png": "picture2png", "picture3.png": "picture3png"} {
		files["/a/"+name] = wgetRFile{body: body, ctype: "text/plain"}
	}
	s := newWgetRServer(t, wgetPy, files)
	dir := t.TempDir()
	code, recs, stderr := crawl(t, "-r", "--accept-regex", "/a/", "-O", dir, s.url("/a/File1.html"))
	if code != exitOK {
		t.Errorf("exit %d (%s); want 0", code, stderr)
	}
	s.expectRequests(t, "GET /robots.txt", "GET /robots.txt", "GET /a/File1.html", "GET /a/File2.html")
	wgetExpect(t, dir, s.prefix(), map[string]string{"a_File1.html": file1, "a_File2.html": wgetRFile2})
	s.expectPage(t, recs, "/a/File2.html", 1, "/a/File1.html", 200)
}

// testenv/Test-recursive-redirect.py: the seed /a/File1.html redirects
// (301) to /b/File1.html, which links /a/File2.html and /b/File3.html.
// wget, with --include-directories=a, follows the redirect all the same
// (recur.c ignores the directory lists and regular expressions for a
// redirect), saves File1's page as a/File1.html and fetches /a/File2.html;
// so does fetch with --accept-regex /a/, which filters links, not
// redirects. Without the regular expression, fetch follows the redirect,
// saves the page under the name of the URL given, as wget does, and
// follows its links from the page's final URL, the referrer of both.
func TestPortWgetRRecursiveRedirect(t *testing.T) {
	files := map[string]wgetRFile{
		"/a/File1.html": {code: http.StatusMovedPermanently, header: map[string]string{"Location": "/b/File1.html"}},
		"/b/File1.html": {body: wgetRFile1},
		"/a/File2.html": {body: wgetRFile2},
		"/b/File3.html": {body: wgetRFile3},
	}
	t.Run("accept-regex", func(t *testing.T) {
		s := newWgetRServer(t, wgetPy, files)
		dir := t.TempDir()
		code, recs, stderr := crawl(t, "-r", "--accept-regex", "/a/", "-O", dir, s.url("/a/File1.html"))
		if r := recs[s.url("/a/File1.html")]; code != exitOK || len(recs) != 2 || r.FinalURL != s.url("/b/File1.html") || r.Status != 200 {
			t.Errorf("exit %d (%s), records %+v; want 0, the seed from /b/File1.html and /a/File2.html", code, stderr, recs)
		}
		s.expectRequests(t, "GET /robots.txt", "GET /robots.txt", "GET /a/File1.html", "GET /b/File1.html", "GET /a/File2.html")
		wgetExpect(t, dir, s.prefix(), map[string]string{"a_File1.html": wgetRFile1, "a_File2.html": wgetRFile2})
		s.expectPage(t, recs, "/a/File2.html", 1, "/b/File1.html", 200)
	})
	t.Run("plain", func(t *testing.T) {
		s := newWgetRServer(t, wgetPy, files)
		dir := t.TempDir()
		code, recs, stderr := crawl(t, "-r", "-O", dir, s.url("/a/File1.html"))
		if code != exitOK {
			t.Errorf("exit %d (%s); want 0", code, stderr)
		}
		s.expectRequests(t, "GET /robots.txt", "GET /robots.txt", "GET /a/File1.html", "GET /b/File1.html", "GET /a/File2.html", "GET /b/File3.html")
		wgetExpect(t, dir, s.prefix(), map[string]string{"a_File1.html": wgetRFile1, "a_File2.html": wgetRFile2, "b_File3.html": wgetRFile3})
		if r := recs[s.url("/a/File1.html")]; r.FinalURL != s.url("/b/File1.html") || r.Status != 200 {
			t.Errorf("seed: %+v; want a 200 from /b/File1.html", r)
		}
		s.expectPage(t, recs, "/a/File2.html", 1, "/b/File1.html", 200)
		s.expectPage(t, recs, "/b/File3.html", 1, "/b/File1.html", 200)
	})
}

// wgetRSpiderPage is a page of the --spider -r tests: titled, linking
// to next and to broken.
func wgetRSpiderPage(title, next, broken string) string {
	return fmt.Sprintf(`<html>
<head>
  <title>%s</title>
</head>
<body>
  <p>
    Some text and a link to a <a href="http://localhost:{{port}}/%s">next</a>.
    Also, a <a href="http://localhost:{{port}}/%s">broken link</a>.
  </p>
</body>
</html>
`, title, next, broken)
}

// testenv/Test--spider-r.py and tests/Test--spider-r.px (and its
// --no-content-disposition variants, which run the same site):
// --spider -r from / visits the three pages, /dummy.txt, and the broken
// links /nonexistent (linked twice) and /againnonexistent, each once, and
// exits 8 for the broken links. fetch has no --spider: -r GETs each URL
// once (wget sends a HEAD, then a GET for each HTML page), and exits 1
// for the broken links, 404s (testenv's server) or 403s (HTTPServer.pm),
// whose records say so. tests/Test--spider-r-HTTP-Content-Disposition.px
// sends /secondpage.html as an attachment: its links are followed all
// the same, as wget's are.
func TestPortWgetRSpiderR(t *testing.T) {
	for _, c := range []struct {
		name        string
		missing     int
		disposition string
	}{
		{"py", http.StatusNotFound, ""},
		{"px", http.StatusForbidden, ""},
		{"px-content-disposition", http.StatusForbidden, `attachment; filename="filename.html"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			second := wgetRFile{body: wgetRSpiderPage("Second Page", "thirdpage.html", "nonexistent")}
			if c.disposition != "" {
				second.header = map[string]string{"Content-Disposition": c.disposition}
			}
			s := newWgetRServer(t, wgetRStyle{missing: c.missing}, map[string]wgetRFile{
				"/index.html":      {body: wgetRSpiderPage("Main Page", "secondpage.html", "nonexistent")},
				"/secondpage.html": second,
				"/thirdpage.html":  {body: wgetRSpiderPage("Third Page", "dummy.txt", "againnonexistent")},
				"/dummy.txt":       {body: "Don't care.\n", ctype: "text/plain"},
			})
			code, recs, stderr := crawl(t, "-r", s.url("/"))
			if code != exitSomeFailed {
				t.Errorf("exit %d (%s); want 1 (wget: 8)", code, stderr)
			}
			s.expectRequests(t, "GET /robots.txt", "GET /robots.txt", "GET /", "GET /secondpage.html", "GET /nonexistent",
				"GET /thirdpage.html", "GET /dummy.txt", "GET /againnonexistent")
			if len(recs) != 6 {
				t.Errorf("records %v; want 6", paths(recs, s.url("")))
			}
			s.expectPage(t, recs, "/", 0, "", 200)
			s.expectPage(t, recs, "/secondpage.html", 1, "/", 200)
			s.expectPage(t, recs, "/nonexistent", 1, "/", c.missing)
			s.expectPage(t, recs, "/thirdpage.html", 2, "/secondpage.html", 200)
			s.expectPage(t, recs, "/dummy.txt", 3, "/thirdpage.html", 200)
			s.expectPage(t, recs, "/againnonexistent", 3, "/thirdpage.html", c.missing)
			for _, p := range []string{"/nonexistent", "/againnonexistent"} {
				if r := recs[s.url(p)]; r.ErrorKind != "status" {
					t.Errorf("%s: %+v; want error_kind status", p, r)
				}
			}
		})
	}
}

// wgetRPage is an HTML page of the Perl tests: titled, with body in a <p>.
func wgetRPage(title, body string) string {
	return fmt.Sprintf("<html>\n<head>\n  <title>%s</title>\n</head>\n<body>\n  <p>\n    %s\n  </p>\n</body>\n</html>\n", title, body)
}

// tests/Test-np.px: -np -r from /firstlevel/ fetches /firstlevel/ (the
// server's /firstlevel/index.html), /firstlevel/secondpage.html and
// /firstlevel/lowerlevel/thirdpage.html, and not /higherlevelpage.html,
// which thirdpage links, nor /firstlevel/fourthpage.html, which only
// /higherlevelpage.html links. fetch's --no-parent does the same. Without
// it, /higherlevelpage.html is fetched (the server sends it as text/plain,
// so its link is not read, by wget either).
func TestPortWgetRNp(t *testing.T) {
	main := wgetRPage("Main Page", `Some text and a link to a <a href="http://localhost:{{port}}/firstlevel/secondpage.html">second page</a>.`)
	second := wgetRPage("Second Page", `Some text and a link to a <a href="http://localhost:{{port}}/firstlevel/lowerlevel/thirdpage.html">third page</a>.`)
	third := wgetRPage("Third Page", `Some text and a link to a <a href="http://localhost:{{port}}/higherlevelpage.html">higher level page</a>.`)
	files := map[string]wgetRFile{
		"/firstlevel/index.html":                {body: main},
		"/firstlevel/secondpage.html":           {body: second},
		"/firstlevel/lowerlevel/thirdpage.html": {body: third},
		"/firstlevel/fourthpage.html":           {body: wgetRPage("Fourth Page", "Only the higher level page links here."), ctype: "text/plain"},
		"/higherlevelpage.html": {body: wgetRPage("Higher Level Page",
			`Not to be downloaded, nor the <a href="http://localhost:{{port}}/firstlevel/fourthpage.html">fourth page</a>.`), ctype: "text/plain"},
	}
	want := []string{"GET /robots.txt", "GET /firstlevel/", "GET /firstlevel/secondpage.html", "GET /firstlevel/lowerlevel/thirdpage.html"}
	for _, np := range []bool{true, false} {
		t.Run(fmt.Sprintf("no-parent=%v", np), func(t *testing.T) {
			s := newWgetRServer(t, wgetPx, files)
			dir := t.TempDir()
			args := []string{"-r", "-O", dir, s.url("/firstlevel/")}
			if np {
				args = append(args, "--no-parent")
			}
			code, recs, stderr := crawl(t, args...)
			if code != exitOK {
				t.Errorf("exit %d (%s); want 0", code, stderr)
			}
			saved := map[string]string{"firstlevel_index.html": main, "firstlevel_secondpage.html": second, "firstlevel_lowerlevel_thirdpage.html": third}
			if np {
				s.expectRequests(t, "GET /robots.txt", want...)
			} else {
				s.expectRequests(t, "GET /robots.txt", append(want, "GET /higherlevelpage.html")...)
				saved["higherlevelpage.html"] = strings.ReplaceAll(files["/higherlevelpage.html"].body, "{{port}}", s.port)
				s.expectPage(t, recs, "/higherlevelpage.html", 3, "/firstlevel/lowerlevel/thirdpage.html", 200)
			}
			for name, body := range saved {
				saved[name] = strings.ReplaceAll(body, "{{port}}", s.port)
			}
			wgetExpect(t, dir, s.prefix(), saved)
			s.expectPage(t, recs, "/firstlevel/lowerlevel/thirdpage.html", 2, "/firstlevel/secondpage.html", 200)
		})
	}
}

// tests/Test-meta-robots.px: four seeds, each with a <meta name="robots">
// whose content has nofollow (in any case, first, amid or last in a list
// of comma- and space-separated tokens, or alone) and a link to
// /bombshell.html: -r fetches and saves the four, and not /bombshell.html.
// With --ignore-robots (wget's -e robots=off, which ignores the <meta>
// too) /bombshell.html is fetched, once.
func TestPortWgetRMetaRobots(t *testing.T) {
	link := "\n<a href=\"/bombshell.html\">Don't follow me!</a>\n"
	pages := map[string]string{
		"start": `<meta name="roBoTS" content="noFolLow ,  foo, bar ">` + link,
		"mid":   `<meta name="rObOts" content=" foo  ,  NOfOllow ,  bar ">` + link,
		"end":   `<meta name="RoBotS" content="foo,BAr,   nofOLLOw    ">` + link,
		"solo":  `<meta name="robots" content="nofollow">` + link,
	}
	files := map[string]wgetRFile{"/bombshell.html": {body: "Hello"}}
	saved := map[string]string{}
	for name, body := range pages {
		files["/"+name+".html"] = wgetRFile{body: body}
		saved[name+".html"] = body
	}
	seeds := []string{"/start.html", "/mid.html", "/end.html", "/solo.html"}
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprintf("ignore-robots=%v", ignore), func(t *testing.T) {
			s := newWgetRServer(t, wgetPx, files)
			dir := t.TempDir()
			args := []string{"-r", "-O", dir}
			var want []string
			if !ignore {
				want = append(want, "GET /robots.txt")
			} else {
				args = append(args, "--ignore-robots")
				want = append(want, "GET /bombshell.html")
			}
			for _, p := range seeds {
				args = append(args, s.url(p))
				want = append(want, "GET "+p)
			}
			code, recs, stderr := crawl(t, args...)
			if code != exitOK {
				t.Errorf("exit %d (%s); want 0", code, stderr)
			}
			s.expectRequests(t, "", want...)
			wantSaved := saved
			if ignore {
				wantSaved = maps.Clone(saved)
				wantSaved["bombshell.html"] = "Hello"
				if r := recs[s.url("/bombshell.html")]; r.Depth != 1 || r.Status != 200 {
					t.Errorf("bombshell: %+v; want depth 1, 200", r)
				}
			}
			wgetExpect(t, dir, s.prefix(), wantSaved)
		})
	}
}

// testenv/Test--rejected-log.py: -r from /index.html fetches
// /secondpage.html and /thirdpage.html; it does not fetch /index.html
// again (secondpage links it), /dummy.txt (robots.txt disallows it), nor
// http://no.such.domain/ (another host), and wget's --rejected-log says
// so: BLACKLIST, ROBOTS, SPANNEDHOST. fetch has no --rejected-log: the
// URL robots.txt disallows has a record saying so (error_kind disallowed,
// not a failure), the other two none. The other host here is 127.0.0.1
// (the test has no network but loopback). With --ignore-robots (wget's -e
// robots=off) /dummy.txt is fetched and robots.txt is not read; with
// --span-hosts (wget's -H) the other host's robots.txt and / are too.
func TestPortWgetRRejectedLog(t *testing.T) {
	main := wgetRPage("Main Page", `Recurse to a <a href="http://localhost:{{port}}/secondpage.html">second page</a>.`)
	second := wgetRPage("Second Page", `Recurse to a <a href="http://localhost:{{port}}/thirdpage.html">third page</a>.
    Try the blacklisted <a href="http://localhost:{{port}}/index.html">main page</a>.`)
	third := wgetRPage("Third Page", `Try a hidden <a href="http://localhost:{{port}}/dummy.txt">dummy file</a>.
    Try to leave to <a href="http://127.0.0.1:{{port}}/">another domain</a>.`)
	files := map[string]wgetRFile{
		"/index.html":      {body: main},
		"/secondpage.html": {body: second},
		"/thirdpage.html":  {body: third},
		"/robots.txt":      {body: "\nUser-agent: *\nDisallow: /dummy.txt\n", ctype: "text/plain"},
		"/dummy.txt":       {body: "Don't care.", ctype: "text/plain"},
	}
	for _, c := range []struct {
		flag  string
		extra []string // requests past those of the plain run, robots.txt's aside
	}{
		{"", nil},
		{"--ignore-robots", []string{"GET /dummy.txt"}},
		{"--span-hosts", []string{"GET 127.0.0.1/robots.txt", "GET 127.0.0.1/"}},
	} {
		t.Run(cmp.Or(c.flag, "plain"), func(t *testing.T) {
			s := newWgetRServer(t, wgetPy, files)
			dir := t.TempDir()
			args := []string{"-r", "-O", dir, s.url("/index.html")}
			if c.flag != "" {
				args = append(args, c.flag)
			}
			code, recs, stderr := crawl(t, args...)
			if code != exitOK {
				t.Errorf("exit %d (%s); want 0", code, stderr)
			}
			want := append([]string{"GET /index.html", "GET /secondpage.html", "GET /thirdpage.html"}, c.extra...)
			first := "GET /index.html"
			if c.flag != "--ignore-robots" {
				want, first = append(want, "GET /robots.txt"), "GET /robots.txt"
			}
			s.expectRequests(t, first, want...)
			saved := map[string]string{"index.html": main, "secondpage.html": second, "thirdpage.html": third}
			for name, body := range saved {
				saved[name] = strings.ReplaceAll(body, "{{port}}", s.port)
			}
			s.expectPage(t, recs, "/thirdpage.html", 2, "/secondpage.html", 200)
			dummy := recs[s.url("/dummy.txt")]
			other := "http://127.0.0.1:" + s.port + "/"
			switch c.flag {
			case "--ignore-robots":
				saved["dummy.txt"] = "Don't care."
				s.expectPage(t, recs, "/dummy.txt", 3, "/thirdpage.html", 200)
			default:
				if dummy.ErrorKind != "disallowed" || dummy.Depth != 3 || dummy.Referrer != s.url("/thirdpage.html") {
					t.Errorf("/dummy.txt: %+v; want disallowed, depth 3 from /thirdpage.html", dummy)
				}
			}
			n := 4
			if r, ok := recs[other]; c.flag == "--span-hosts" {
				n++
				if r.Status != 200 || r.Depth != 3 || r.Referrer != s.url("/thirdpage.html") {
					t.Errorf("the other host's page: %+v; want a 200, depth 3 from /thirdpage.html", r)
				}
				wgetExpect(t, dir, "", map[string]string{
					s.prefix() + "index.html":             saved["index.html"],
					s.prefix() + "secondpage.html":        saved["secondpage.html"],
					s.prefix() + "thirdpage.html":         saved["thirdpage.html"],
					"127.0.0.1_" + s.port + "_index.html": saved["index.html"],
				})
			} else {
				if ok {
					t.Errorf("the other host's page has a record: %+v", r)
				}
				wgetExpect(t, dir, s.prefix(), saved)
			}
			if len(recs) != n {
				t.Errorf("records %v; want %d", paths(recs, ""), n)
			}
		})
	}
}

// testenv/Test-redirect-crash.py: a page links six spellings of one
// directory, /File formats/.../html, W3C v1.2 rec (tiny)/directory (its
// spaces escaped or not, its commas as %2C, %2c or commas, its parentheses
// escaped or not, with and without the final slash, and a file in it),
// two of which redirect to the one with the final slash; wget -r -e
// robots=off must not crash (exit status 0). fetch, with --ignore-robots,
// exits 0 too, sends no request twice and fetches no page twice: a
// redirect to a page the crawl has seen is not followed (already_seen).
//
// The server here looks files up by decoded path, as most servers do:
// testenv's compares the request target as sent, and fetch asks for the
// link written with spaces as .../rec%20%28tiny%29/directory/, which a
// browser (the URL Standard) would ask for as .../rec%20(tiny)/directory/.
// That is the root library's link resolution (links.go's resolveLink:
// net/url's ResolveReference escapes anew a reference's path that holds
// spaces, parentheses and all, before requote runs).
func TestPortWgetRRedirectCrash(t *testing.T) {
	const dir = "/File%20formats/Images/SVG,%20Scalable%20Vector%20Graphics/html,%20W3C%20v1.2%20rec%20(tiny)/directory"
	const escaped = "/File%20formats/Images/SVG%2C%20Scalable%20Vector%20Graphics/html%2c%20W3C%20v1.2%20rec%20%28tiny%29/directory"
	links := []string{
		dir,
		"/File formats/Images/SVG, Scalable Vector Graphics/html, W3C v1.2 rec (tiny)/directory/",
		dir + "/somefile.rng",
		escaped + "/somefile.rng",
		escaped + "/",
		strings.Replace(escaped, "%2c", "%2C", 1),
	}
	var index strings.Builder
	for _, l := range links {
		fmt.Fprintf(&index, "<a href='%s'></a>", l)
	}
	decoded := func(p string) string {
		d, err := url.PathUnescape(p)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	redirect := wgetRFile{code: http.StatusMovedPermanently, header: map[string]string{"Location": dir + "/"}}
	indexPath := strings.TrimSuffix(dir, "directory") + "index.html"
	s := newWgetRServer(t, wgetRStyle{missing: http.StatusNotFound, decode: true}, map[string]wgetRFile{
		decoded(indexPath):             {body: index.String()},
		decoded(dir):                   redirect,
		decoded(dir + "/"):             {ctype: "text/plain"},
		decoded(dir + "/somefile.rng"): {ctype: "text/plain"},
	})
	code, recs, stderr := crawl(t, "-r", "--ignore-robots", s.url(indexPath))
	if code != exitOK {
		t.Errorf("exit %d (%s), records %v; want 0", code, stderr, paths(recs, s.url("")))
	}
	if len(recs) != 1+len(links) {
		t.Errorf("records %q; want the page's and one for each of its %d links", paths(recs, s.url("")), len(links))
	}
	reqs := s.requests()
	seen := map[string]bool{}
	for _, r := range reqs {
		if seen[r] || r == "GET /robots.txt" {
			t.Errorf("%s sent twice, or robots.txt asked for (requests %q)", r, reqs)
		}
		seen[r] = true
	}
	pages := map[string]string{} // the final URL of each page fetched → its record's URL
	for u, r := range recs {
		if r.Error != "" && r.ErrorKind != "already_seen" {
			t.Errorf("%s: %+v; want no error but already_seen", u, r)
		}
		if r.Error == "" {
			final := cmp.Or(r.FinalURL, r.URL)
			if prev, dup := pages[final]; dup {
				t.Errorf("%s fetched twice: from %s and %s", final, prev, u)
			}
			pages[final] = u
		}
	}
}

// testenv/Test-reserved-chars.py: -r (there with --spider) from
// /base.html follows its link to a%2Bb.html as written, %2B and all (not
// as a+b.html, another URL): the server is asked for /a%2Bb.html.
func TestPortWgetRReservedChars(t *testing.T) {
	s := newWgetRServer(t, wgetPy, map[string]wgetRFile{
		"/base.html":  {body: `<a href="a%2Bb.html">`},
		"/a%2Bb.html": {body: "this is file B"},
		"/a+b.html":   {body: "not this one"},
	})
	code, recs, stderr := crawl(t, "-r", s.url("/base.html"))
	if code != exitOK {
		t.Errorf("exit %d (%s); want 0", code, stderr)
	}
	s.expectRequests(t, "GET /robots.txt", "GET /robots.txt", "GET /base.html", "GET /a%2Bb.html")
	s.expectPage(t, recs, "/a%2Bb.html", 1, "/base.html", 200)
}

// testenv/Test--convert-links--content-on-error.py: -r -l2 from /a/x.html,
// which links /b/y.html, a 404 with a body. wget (-k --content-on-error)
// saves a/x.html with the link made relative, ../b/y.html, and b/y.html,
// the 404's body, and exits 8. fetch has neither: it saves /a/x.html as
// it came, no file for the 404, whose record says so, and exits 1.
func TestPortWgetRConvertLinksContentOnError(t *testing.T) {
	x := "\n<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n\t<meta charset=\"UTF-8\">\n\t<title></title>\n</head>\n<body>\n\t<a href=\"/b/y.html\"></a>\n</body>\n</html>\n"
	s := newWgetRServer(t, wgetPy, map[string]wgetRFile{
		"/a/x.html":   {body: x},
		"/robots.txt": {ctype: "text/plain"},
		"/b/y.html":   {body: "404 page content", ctype: "text/plain", code: http.StatusNotFound},
	})
	dir := t.TempDir()
	code, recs, stderr := crawl(t, "-r", "-l", "2", "-O", dir, s.url("/a/x.html"))
	if code != exitSomeFailed {
		t.Errorf("exit %d (%s); want 1 (wget: 8)", code, stderr)
	}
	s.expectRequests(t, "GET /robots.txt", "GET /robots.txt", "GET /a/x.html", "GET /b/y.html")
	wgetExpect(t, dir, s.prefix(), map[string]string{"a_x.html": x})
	s.expectPage(t, recs, "/b/y.html", 1, "/a/x.html", http.StatusNotFound)
	if r := recs[s.url("/b/y.html")]; r.ErrorKind != "status" || r.File != "" {
		t.Errorf("/b/y.html: %+v; want error_kind status, no file", r)
	}
}

// tests/Test--httpsonly-r.px: --https-only -r from http://localhost/
// fetches the seed, and not the http page it links. fetch has no
// --https-only: --accept-regex ^https: keeps the crawl to https links,
// and the seed is fetched whatever the regular expression says.
func TestPortWgetRHttpsOnlyR(t *testing.T) {
	main := wgetRPage("Main Page", `Some text and a link to a <a href="http://localhost:{{port}}/secondpage.html">second page</a>.`)
	s := newWgetRServer(t, wgetPx, map[string]wgetRFile{
		"/index.html":      {body: main},
		"/secondpage.html": {body: wgetRPage("Second Page", "Anything.")},
	})
	dir := t.TempDir()
	code, recs, stderr := crawl(t, "-r", "--accept-regex", "^https:", "-O", dir, s.url("/"))
	if code != exitOK || len(recs) != 1 {
		t.Errorf("exit %d (%s), records %v; want 0, the seed's", code, stderr, paths(recs, ""))
	}
	s.expectRequests(t, "GET /robots.txt", "GET /robots.txt", "GET /")
	wgetExpect(t, dir, s.prefix(), map[string]string{"index.html": strings.ReplaceAll(main, "{{port}}", s.port)})
}

// tests/Test-nonexisting-quiet.px: wget --quiet of a URL the server has
// not (HTTPServer.pm's 403) exits 8 and saves nothing. It is not a test of
// -r; fetch -q -r with it as the only seed exits 1, with the seed's
// record, and saves nothing.
func TestPortWgetRNonexistingQuiet(t *testing.T) {
	s := newWgetRServer(t, wgetPx, map[string]wgetRFile{
		"/dummy.html": {body: "Don't care.\n", ctype: "text/plain"},
	})
	dir := t.TempDir()
	code, recs, stderr := crawl(t, "-r", "-O", dir, s.url("/nonexistent"))
	if r := recs[s.url("/nonexistent")]; code != exitSomeFailed || stderr != "" || len(recs) != 1 || r.Status != http.StatusForbidden {
		t.Errorf("exit %d, stderr %q, records %+v; want 1 (wget: 8), nothing on stderr, the seed's 403", code, stderr, recs)
	}
	s.expectRequests(t, "GET /robots.txt", "GET /robots.txt", "GET /nonexistent")
	wgetExpect(t, dir, s.prefix(), map[string]string{})
}
