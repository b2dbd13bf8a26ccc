package robots

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/temoto/robotstxt"
)

const agent = "mybot"

func parsed(body string) *Rules {
	return FromResponse(agent, 200, []byte(body), nil)
}

func TestFromResponseStatus(t *testing.T) {
	const body = "User-agent: *\nDisallow: /private\n"
	refused := errors.New("dial tcp 192.0.2.1:443: connect: connection refused")
	for _, tc := range []struct {
		name          string
		status        int
		err           error
		root, private bool // Allowed("/"), Allowed("/private")
		reason        string
	}{
		{"200 parses body", 200, nil, true, false, ""},
		{"204 parses body", 204, nil, true, false, ""},
		{"301 left unfollowed is unavailable", 301, nil, true, true, ""},
		{"400 allows all", 400, nil, true, true, ""},
		{"401 allows all", 401, nil, true, true, ""},
		{"403 allows all", 403, nil, true, true, ""},
		{"404 allows all", 404, nil, true, true, ""},
		{"429 allows all", 429, nil, true, true, ""},
		{"499 allows all", 499, nil, true, true, ""},
		{"500 disallows all", 500, nil, false, false, "robots.txt answered 500"},
		{"503 disallows all", 503, nil, false, false, "robots.txt answered 503"},
		{"599 disallows all", 599, nil, false, false, "robots.txt answered 599"},
		{"600 disallows all", 600, nil, false, false, "robots.txt answered 600"},
		{"101 disallows all", 101, nil, false, false, "robots.txt answered 101"},
		{"no response, error", 0, refused, false, false, "robots.txt unreachable: " + refused.Error()},
		{"no response, no error", 0, nil, false, false, "robots.txt unreachable: no response"},
		{"200 with body error", 200, refused, false, false, "robots.txt unreachable: " + refused.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := FromResponse(agent, tc.status, []byte(body), tc.err)
			if got := r.Allowed("/"); got != tc.root {
				t.Errorf("Allowed(/): got = %v; want %v", got, tc.root)
			}
			if got := r.Allowed("/private"); got != tc.private {
				t.Errorf("Allowed(/private): got = %v; want %v", got, tc.private)
			}
			if got := r.Reason(); got != tc.reason {
				t.Errorf("Reason: got = %q; want %q", got, tc.reason)
			}
		})
	}
}

func TestZeroValueAllowsAll(t *testing.T) {
	var r Rules
	if got := r.Allowed("/any"); !got {
		t.Errorf("Allowed: got = %v; want true", got)
	}
	if got := r.CrawlDelay(); got != 0 {
		t.Errorf("CrawlDelay: got = %v; want 0", got)
	}
	if got := r.Reason(); got != "" {
		t.Errorf("Reason: got = %q; want \"\"", got)
	}
}

func TestRobotsTxtAlwaysAllowed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		r     *Rules
		other string // a path r disallows
	}{
		{"disallow /", parsed("User-agent: *\nDisallow: /\n"), "/a"},
		{"disallow /robots.txt", parsed("User-agent: *\nDisallow: /robots.txt\n"), "/robots.txt.bak"},
		{"disallow *.txt$", parsed("User-agent: *\nDisallow: /*.txt$\n"), "/a.txt"},
		{"503", FromResponse(agent, 503, nil, nil), "/a"},
		{"unreachable", FromResponse(agent, 0, nil, errors.New("timeout")), "/a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Allowed("/robots.txt"); !got {
				t.Errorf("Allowed(/robots.txt): got = %v; want true", got)
			}
			if got := tc.r.Allowed(tc.other); got {
				t.Errorf("Allowed(%s): got = %v; want false", tc.other, got)
			}
		})
	}
}

// body has groups for mybot (twice, to be combined), otherbot and "*".
const groupsBody = `
User-agent: *
Disallow: /star

User-agent: MyBot
Disallow: /mine

User-agent: otherbot
User-agent: thirdbot/2.0
Disallow: /other

user-agent: mybot
disallow: /also-mine
`

func TestGroupSelection(t *testing.T) {
	for _, tc := range []struct {
		name, body, agent string
		disallowed        []string // all other test paths are allowed
	}{
		{"specific group", groupsBody, "mybot", []string{"/mine", "/also-mine"}},
		{"case-insensitive", groupsBody, "MYBOT", []string{"/mine", "/also-mine"}},
		{"version suffix", groupsBody, "mybot/1.2", []string{"/mine", "/also-mine"}},
		{"user-agent header", groupsBody, "mybot/1.2 (+https://example.com/bot)", []string{"/mine", "/also-mine"}},
		{"browser-style header is its first token", groupsBody, "Mozilla/5.0 (compatible; mybot/1.2)", []string{"/star"}},
		{"prefix of a group is not it", groupsBody, "my", []string{"/star"}},
		{"a group is not a prefix of the agent", groupsBody, "mybotx", []string{"/star"}},
		{"unknown agent falls back to *", groupsBody, "somebot", []string{"/star"}},
		{"empty agent is *", groupsBody, "", []string{"/star"}},
		{"agent * is *", groupsBody, "*", []string{"/star"}},
		{"several user-agent lines share a group", groupsBody, "otherbot", []string{"/other"}},
		{"group value reduced to its token", groupsBody, "thirdbot", []string{"/other"}},
		{"no match and no * group", "User-agent: otherbot\nDisallow: /\n", "mybot", nil},
		{"empty specific group beats *", "User-agent: mybot\nDisallow:\n\nUser-agent: *\nDisallow: /\n", "mybot", nil},
		{"empty specific group at the end beats *", "User-agent: *\nDisallow: /\n\nUser-agent: mybot\n", "mybot", nil},
		{"blank lines do not end the user-agent lines", "User-agent: mybot\n\nUser-agent: *\n\nDisallow: /mine\n", "mybot", []string{"/mine"}},
		{"sitemap does not end a group", "User-agent: mybot\nSitemap: https://example.com/s.xml\nDisallow: /mine\n", "mybot", []string{"/mine"}},
		{"specific group listed with *", "User-agent: *\nUser-agent: mybot\nDisallow: /mine\n", "mybot", []string{"/mine"}},
		{"user-agent after rules starts a group", "User-agent: mybot\nDisallow: /mine\nUser-agent: other\nDisallow: /other\n", "mybot", []string{"/mine"}},
		{"rules before any user-agent ignored", "Disallow: /star\nUser-agent: *\nDisallow: /other\n", "mybot", []string{"/other"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := FromResponse(tc.agent, 200, []byte(tc.body), nil)
			for _, path := range []string{"/", "/star", "/mine", "/also-mine", "/other"} {
				want := true
				for _, d := range tc.disallowed {
					want = want && path != d
				}
				if got := r.Allowed(path); got != want {
					t.Errorf("Allowed(%s): got = %v; want %v", path, got, want)
				}
			}
		})
	}
}

// matchCases are checked against this package and against temoto's
// robotstxt; temoto, when set, says how temoto departs from RFC 9309 there.
var matchCases = []struct {
	name, body, path string
	want             bool
	temoto           string
}{
	{"no rules", "User-agent: *\n", "/a", true, ""},
	{"empty body", "", "/a", true, ""},
	{"comments only", "# nothing\n\n# here\n", "/a", true, ""},
	{"prefix disallowed", "User-agent: *\nDisallow: /a\n", "/abc", false, ""},
	{"other path allowed", "User-agent: *\nDisallow: /a\n", "/b", true, ""},
	{"case-sensitive", "User-agent: *\nDisallow: /Private\n", "/private", true, ""},
	{"empty disallow is no rule", "User-agent: *\nDisallow:\n", "/a", true, ""},
	{"longer allow wins", "User-agent: *\nDisallow: /\nAllow: /p\n", "/page", true, ""},
	{"longer disallow wins", "User-agent: *\nAllow: /p\nDisallow: /page\n", "/page", false, ""},
	{"order does not matter", "User-agent: *\nDisallow: /page\nAllow: /p\n", "/page", false, ""},
	{"allow wins a tie", "User-agent: *\nDisallow: /page\nAllow: /page\n", "/page", true, "first rule wins a tie"},
	{"allow / wins a tie", "User-agent: *\nDisallow: /\nAllow: /\n", "/a", true, "first rule wins a tie"},
	{"wildcard", "User-agent: *\nDisallow: /*.php\n", "/dir/index.php", false, ""},
	{"wildcard then more", "User-agent: *\nDisallow: /*.php\n", "/index.php?x=1", false, ""},
	{"wildcard no match", "User-agent: *\nDisallow: /*.php\n", "/index.html", true, ""},
	{"leading wildcard", "User-agent: *\nDisallow: *.gif\n", "/i/a.gif", false, ""},
	{"wildcard anchored at start", "User-agent: *\nDisallow: /private*/secret\n", "/public/private/secret", true, "matches a wildcard pattern anywhere in the path"},
	{"several wildcards", "User-agent: *\nDisallow: /*a*b*c\n", "/xaybzc", false, ""},
	{"several wildcards no match", "User-agent: *\nDisallow: /*a*b*c\n", "/xcybza", true, ""},
	{"end anchor", "User-agent: *\nDisallow: /*.php$\n", "/index.php", false, ""},
	{"end anchor, longer path", "User-agent: *\nDisallow: /*.php$\n", "/index.php5", true, ""},
	{"end anchor, query", "User-agent: *\nDisallow: /*.php$\n", "/index.php?x", true, ""},
	{"end anchor, exact path", "User-agent: *\nDisallow: /$\n", "/", false, ""},
	{"end anchor, exact path only", "User-agent: *\nDisallow: /$\n", "/a", true, ""},
	{"dollar inside is literal", "User-agent: *\nDisallow: /a$b\n", "/a$bc", false, "takes every '$' for the end of the path"},
	{"encoded star is a literal star (RFC 9309 §2.2.3)", "User-agent: *\nDisallow: /path/file-with-a-%2A.html\n", "/path/file-with-a-*.html", false, "does not match an encoded '*' to a literal one"},
	{"encoded dollar is a literal dollar (RFC 9309 §2.2.3)", "User-agent: *\nDisallow: /path/foo-%24\n", "/path/foo-$", false, "does not match an encoded '$' to a literal one"},
	{"encoded star is no wildcard", "User-agent: *\nDisallow: /a%2Ab\n", "/axb", true, ""},
	{"encoded star in the path", "User-agent: *\nDisallow: /a%2Ab\n", "/a%2Ab", false, ""},
	{"specificity counts pattern octets", "User-agent: *\nDisallow: /a*c\nAllow: /abcd\n", "/abcde", true, "measures a wildcard rule by its regular expression"},
	{"query disallowed", "User-agent: *\nDisallow: /*?\n", "/search?q=1", false, ""},
	{"no query allowed", "User-agent: *\nDisallow: /*?\n", "/search", true, ""},
	{"query prefix", "User-agent: *\nDisallow: /s?q=secret\n", "/s?q=secret&page=2", false, ""},
	{"other query", "User-agent: *\nDisallow: /s?q=secret\n", "/s?q=public", true, ""},
	{"query only path", "User-agent: *\nDisallow: /$\n", "?a=1", true, ""},
	{"empty path is /", "User-agent: *\nDisallow: /$\n", "", false, "does not take an empty path for /"},
	{"UTF-8 pattern, encoded path", "User-agent: *\nDisallow: /foo/ツ\n", "/foo/%E3%83%84", false, "does not percent-encode patterns"},
	{"lower-case hex", "User-agent: *\nDisallow: /foo/%E3%83%84\n", "/foo/%e3%83%84", false, "compares hex digits case-sensitively"},
	{"encoded unreserved in pattern", "User-agent: *\nDisallow: /foo/%62%61%7A\n", "/foo/baz", false, "does not decode unreserved characters"},
	{"encoded unreserved in path", "User-agent: *\nDisallow: /~user\n", "/%7Euser", false, "does not decode unreserved characters"},
	{"encoded reserved stays encoded", "User-agent: *\nDisallow: /a%2Fb\n", "/a/b", true, ""},
	{"space in pattern", "User-agent: *\nDisallow: /a b\n", "/a%20b", false, ""},
	{"lone percent", "User-agent: *\nDisallow: /100%\n", "/100%25", false, ""},
	{"pattern without slash", "User-agent: *\nDisallow: private\n", "/private", false, ""},
	{"trailing comment", "User-agent: * # all\nDisallow: /a # not /b\n", "/a", false, ""},
	{"blanks around colon", "User-agent : *\nDisallow\t:\t/a\n", "/a", false, "needs the colon right after the key"},
	{"key case", "USER-AGENT: *\nDISALLOW: /a\n", "/a", false, ""},
	{"CR line ends", "User-agent: *\rDisallow: /a\r", "/a", false, ""},
	{"CRLF line ends", "User-agent: *\r\nDisallow: /a\r\n", "/a", false, ""},
	{"byte order mark", "\uFEFFUser-agent: *\nDisallow: /a\n", "/a", false, ""},
	{"bad line skipped", "User-agent: *\nCrawl-delay: soon\nDisallow: /a\n", "/a", false, "rejects the whole file"},
	{"rule before user-agent skipped", "Disallow: /b\nUser-agent: *\nDisallow: /a\n", "/a", false, "rejects the whole file"},
}

func TestAllowed(t *testing.T) {
	for _, tc := range matchCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := parsed(tc.body).Allowed(tc.path); got != tc.want {
				t.Errorf("Allowed(%q) with %q: got = %v; want %v", tc.path, tc.body, got, tc.want)
			}
		})
	}
}

// TestTemoto records where github.com/temoto/robotstxt agrees with RFC 9309
// and where it does not, the reason this package has its own matcher.
func TestTemoto(t *testing.T) {
	for _, tc := range matchCases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := robotstxt.FromString(tc.body)
			agrees := err == nil && d.TestAgent(tc.path, agent) == tc.want
			if want := tc.temoto == ""; agrees != want {
				t.Errorf("temoto agrees: got = %v (parse error %v); want %v (%s)", agrees, err, want, tc.temoto)
			}
		})
	}
}

func TestCrawlDelay(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       time.Duration
	}{
		{"integer", "User-agent: *\nCrawl-delay: 10\n", 10 * time.Second},
		{"fraction", "User-agent: *\nCrawl-delay: 0.5\n", 500 * time.Millisecond},
		{"absent", "User-agent: *\nDisallow: /a\n", 0},
		{"no body", "", 0},
		{"invalid", "User-agent: *\nCrawl-delay: soon\n", 0},
		{"negative", "User-agent: *\nCrawl-delay: -3\n", 0},
		{"NaN", "User-agent: *\nCrawl-delay: NaN\n", 0},
		{"too large", "User-agent: *\nCrawl-delay: 1e300\n", math.MaxInt64},
		{"largest of several", "User-agent: *\nCrawl-delay: 2\nCrawl-delay: 5\nCrawl-delay: 1\n", 5 * time.Second},
		{"specific group", "User-agent: *\nCrawl-delay: 9\n\nUser-agent: mybot\nCrawl-delay: 3\n", 3 * time.Second},
		{"other agent's group", "User-agent: otherbot\nCrawl-delay: 9\n", 0},
		{"before user-agent", "Crawl-delay: 9\nUser-agent: *\nDisallow: /\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parsed(tc.body).CrawlDelay(); got != tc.want {
				t.Errorf("CrawlDelay: got = %v; want %v", got, tc.want)
			}
		})
	}
}

func TestMaxSize(t *testing.T) {
	// pad returns s padded with comment lines to exactly n bytes.
	pad := func(s string, n int) string {
		var b strings.Builder
		b.WriteString(s)
		for b.Len() < n {
			line := "#" + strings.Repeat("x", min(1000, n-b.Len()-2)) + "\n"
			if n-b.Len() == 1 {
				line = "\n"
			}
			b.WriteString(line)
		}
		return b.String()
	}
	head := pad("User-agent: *\nDisallow: /first\n", MaxSize-20)
	for _, tc := range []struct {
		name, body, path string
		want             bool
	}{
		{"rule within limit", head + "Disallow: /last\n", "/last", false},
		{"rule ending at limit", pad(head, MaxSize-len("Disallow: /last")) + "Disallow: /last\n", "/last", false},
		{"rule ending at limit, CR", pad(head, MaxSize-len("Disallow: /last")) + "Disallow: /last\r", "/last", false},
		{"first rule of oversize body", pad(head, MaxSize+100) + "Disallow: /beyond\n", "/first", false},
		{"rule beyond limit", pad(head, MaxSize+100) + "Disallow: /beyond\n", "/beyond", true},
		{"rule cut by limit", head + "Disallow: /cut-by-the-limit\n", "/cut-by-the-limit", true},
		{"rule cut by limit, no newline", head + "Disallow: /cut-by-the-limit", "/cut-by-the-limit", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parsed(tc.body).Allowed(tc.path); got != tc.want {
				t.Errorf("Allowed(%s): got = %v; want %v", tc.path, got, tc.want)
			}
		})
	}
}

// TestRFCExample checks the example robots.txt of RFC 9309 §5.1.
func TestRFCExample(t *testing.T) {
	const body = `User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot
`
	for _, tc := range []struct {
		agent, path string
		want        bool
	}{
		{"otherbot", "/a/b.gif", false},
		{"otherbot", "/a/b.gif?x", true},
		{"otherbot", "/example/x", false},
		{"otherbot", "/publications/x", true},
		{"foobot", "/x", false},
		{"foobot", "/example/page.html", true},
		{"foobot", "/example/allowed.gif", true},
		{"foobot", "/example/other.gif", false},
		{"bazbot", "/example/page.html", false},
		{"bazbot", "/example/x", true},
		{"quxbot", "/example/page.html", true},
	} {
		t.Run(tc.agent+tc.path, func(t *testing.T) {
			r := FromResponse(tc.agent, 200, []byte(body), nil)
			if got := r.Allowed(tc.path); got != tc.want {
				t.Errorf("Allowed(%s): got = %v; want %v", tc.path, got, tc.want)
			}
		})
	}
}
