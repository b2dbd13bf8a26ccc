package robots

// This file ports the test suite of Google's reference robots.txt parser,
// github.com/google/robotstxt, file robots_test.cc at commit
// 22b355ff855419e6a3ff8ff09c0ad7fdb17116f9 (the file's blob 35853def is the
// same as at a67394c800908229d21e58b0ae802830608c9a5e, its last change), onto
// this package's API. Each TestPortGoogle<Name> is the TEST(RobotsUnittest,
// <Name>) of the same name; TestPortGoogleFrequentTypos has no counterpart
// there and covers robots.cc's kAllowFrequentTypos instead.
//
// Google's IsUserAgentAllowed(robotstxt, useragent, url) becomes
// FromResponse(useragent, 200, robotstxt, nil).Allowed(path), where path is
// what the crawl passes (crawlrobots.go, disallowed): u.EscapedPath(), plus
// "?" and u.RawQuery when there is a query.
//
// RFC 9309 is the authority. Where Google expects something else, because of
// a Google-only extension (GoogleOnly_* tests, typos, a missing colon, cut
// long lines, index.html, partial byte order marks) or because this package
// documents a deliberate difference (agent reduction, percent-encoding
// normalisation), the case asserts what RFC 9309 and robots.go say and its
// google field says what Google expects. A case whose failure is a defect
// against RFC 9309 is skipped with "DEFECT:" and a one-line reason.
//
// Not ported, having no counterpart in this API: ID_NonStandardLineExample_
// Sitemap (Sitemap values are not exposed; that a Sitemap line does not end a
// group is ID_LineSyntax_Groups_OtherRules), and the line counts and
// directive counts of the RobotsStatsReporter tests, which are checked here
// through their observable effect on the rules instead.

import (
	"net/url"
	"strings"
	"testing"
)

// googleCase is one EXPECT_TRUE/EXPECT_FALSE(IsUserAgentAllowed(...)).
type googleCase struct {
	body, agent, url string
	want             bool   // what RFC 9309 and this package's documentation require
	google           string // non-empty when Google expects !want: why this package differs
	defect           string // non-empty: a known defect, the case is skipped
}

// googlePath returns the path the crawl passes to Allowed for rawURL.
func googlePath(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("url.Parse(%q): %v", rawURL, err)
	}
	path := u.EscapedPath()
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return path
}

func runGoogleCases(t *testing.T, cases []googleCase) {
	t.Helper()
	for _, tc := range cases {
		name := tc.agent + " " + tc.url
		if len(name) > 80 {
			name = name[:80]
		}
		t.Run(name, func(t *testing.T) {
			if tc.defect != "" {
				t.Skip("DEFECT: " + tc.defect)
			}
			path := googlePath(t, tc.url)
			got := FromResponse(tc.agent, 200, []byte(tc.body), nil).Allowed(path)
			if got != tc.want {
				note := ""
				if tc.google != "" {
					note = " (Google expects " + boolString(!tc.want) + ": " + tc.google + ")"
				}
				t.Errorf("agent %q, Allowed(%q) with %q: got = %v; want %v%s",
					tc.agent, path, abbreviate(tc.body), got, tc.want, note)
			}
		})
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func abbreviate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func TestPortGoogleGoogleOnly_SystemTest(t *testing.T) {
	const body = "user-agent: FooBot\n" +
		"disallow: /\n"
	runGoogleCases(t, []googleCase{
		// Empty robots.txt: everything allowed.
		{body: "", agent: "FooBot", url: "", want: true},
		// Empty user-agent to be matched: everything allowed.
		{body: body, agent: "", url: "", want: true},
		// Empty url: as "/", disallowed.
		{body: body, agent: "FooBot", url: "", want: false},
		// All params empty: same as robots.txt empty, everything allowed.
		{body: "", agent: "", url: "", want: true},
	})
}

func TestPortGoogleID_LineSyntax_Line(t *testing.T) {
	const (
		correct = "user-agent: FooBot\n" +
			"disallow: /\n"
		incorrect = "foo: FooBot\n" +
			"bar: /\n"
		incorrectAccepted = "user-agent FooBot\n" +
			"disallow /\n"
		u = "http://foo.bar/x/y"
	)
	runGoogleCases(t, []googleCase{
		{body: correct, agent: "FooBot", url: u, want: false},
		{body: incorrect, agent: "FooBot", url: u, want: true},
		// RFC 9309 §2.1's grammar needs the ':'; robots.go: "Lines that
		// cannot be parsed are skipped", so there is no group and no rule.
		{body: incorrectAccepted, agent: "FooBot", url: u, want: true,
			google: "Google-only: assumes a missing colon"},
	})
}

func TestPortGoogleID_LineSyntax_Groups(t *testing.T) {
	const body = "allow: /foo/bar/\n" +
		"\n" +
		"user-agent: FooBot\n" +
		"disallow: /\n" +
		"allow: /x/\n" +
		"user-agent: BarBot\n" +
		"disallow: /\n" +
		"allow: /y/\n" +
		"\n" +
		"\n" +
		"allow: /w/\n" +
		"user-agent: BazBot\n" +
		"\n" +
		"user-agent: FooBot\n" +
		"allow: /z/\n" +
		"disallow: /\n"
	const (
		urlW   = "http://foo.bar/w/a"
		urlX   = "http://foo.bar/x/b"
		urlY   = "http://foo.bar/y/c"
		urlZ   = "http://foo.bar/z/d"
		urlFoo = "http://foo.bar/foo/bar/"
	)
	runGoogleCases(t, []googleCase{
		{body: body, agent: "FooBot", url: urlX, want: true},
		{body: body, agent: "FooBot", url: urlZ, want: true},
		{body: body, agent: "FooBot", url: urlY, want: false},
		{body: body, agent: "BarBot", url: urlY, want: true},
		{body: body, agent: "BarBot", url: urlW, want: true},
		{body: body, agent: "BarBot", url: urlZ, want: false},
		{body: body, agent: "BazBot", url: urlZ, want: true},
		// Lines with rules outside groups are ignored.
		{body: body, agent: "FooBot", url: urlFoo, want: false},
		{body: body, agent: "BarBot", url: urlFoo, want: false},
		{body: body, agent: "BazBot", url: urlFoo, want: false},
	})
}

func TestPortGoogleID_LineSyntax_Groups_OtherRules(t *testing.T) {
	const (
		sitemap = "User-agent: BarBot\n" +
			"Sitemap: https://foo.bar/sitemap\n" +
			"User-agent: *\n" +
			"Disallow: /\n"
		unknown = "User-agent: FooBot\n" +
			"Invalid-Unknown-Line: unknown\n" +
			"User-agent: *\n" +
			"Disallow: /\n"
		u = "http://foo.bar/"
	)
	runGoogleCases(t, []googleCase{
		{body: sitemap, agent: "FooBot", url: u, want: false},
		{body: sitemap, agent: "BarBot", url: u, want: false},
		{body: unknown, agent: "FooBot", url: u, want: false},
		{body: unknown, agent: "BarBot", url: u, want: false},
	})
}

func TestPortGoogleID_REPLineNamesCaseInsensitive(t *testing.T) {
	const (
		upper = "USER-AGENT: FooBot\n" +
			"ALLOW: /x/\n" +
			"DISALLOW: /\n"
		lower = "user-agent: FooBot\n" +
			"allow: /x/\n" +
			"disallow: /\n"
		camel = "uSeR-aGeNt: FooBot\n" +
			"AlLoW: /x/\n" +
			"dIsAlLoW: /\n"
		allowed    = "http://foo.bar/x/y"
		disallowed = "http://foo.bar/a/b"
	)
	runGoogleCases(t, []googleCase{
		{body: upper, agent: "FooBot", url: allowed, want: true},
		{body: lower, agent: "FooBot", url: allowed, want: true},
		{body: camel, agent: "FooBot", url: allowed, want: true},
		{body: upper, agent: "FooBot", url: disallowed, want: false},
		{body: lower, agent: "FooBot", url: disallowed, want: false},
		{body: camel, agent: "FooBot", url: disallowed, want: false},
	})
}

// Google's RobotsMatcher::IsValidUserAgentToObey says whether a caller's user
// agent is a valid product token. This package has no such check: robots.go
// documents that the agent "may be a bare product token or a whole
// User-Agent value: it is reduced to its leading run of letters, '-' and
// '_'", and that an agent reducing to "" follows only the "*" groups. So the
// port asserts which group each agent follows. The valid tokens follow their
// own group, as with Google; "" and "ツ" reduce to "" and follow "*". The
// other invalid values reduce to "Foobot" and follow its group, where Google,
// comparing them verbatim, would match no group and follow "*".
func TestPortGoogleID_VerifyValidUserAgentsToObey(t *testing.T) {
	const body = "User-agent: Foobot\n" +
		"Disallow: /foobot\n" +
		"User-agent: Foobot-Bar\n" +
		"Disallow: /foobot-bar\n" +
		"User-agent: Foo_Bar\n" +
		"Disallow: /foo_bar\n" +
		"User-agent: *\n" +
		"Disallow: /star\n"
	const reduced = "not a valid product token: Google matches no group and follows *; " +
		"robots.go documents reducing the agent to its leading token"
	for _, tc := range []struct {
		agent, group string // group: the Disallow path of the group followed
		google       string
	}{
		{"Foobot", "/foobot", ""},
		{"Foobot-Bar", "/foobot-bar", ""},
		{"Foo_Bar", "/foo_bar", ""},
		{"", "/star", ""},
		{"ツ", "/star", ""},
		{"Foobot*", "/foobot", reduced},
		{" Foobot ", "/foobot", reduced},
		{"Foobot/2.1", "/foobot", reduced},
		{"Foobot Bar", "/foobot", reduced},
	} {
		t.Run(tc.agent, func(t *testing.T) {
			r := FromResponse(tc.agent, 200, []byte(body), nil)
			for _, path := range []string{"/foobot", "/foobot-bar", "/foo_bar", "/star"} {
				// "/foobot" is a prefix of "/foobot-bar": its group disallows both.
				want := !strings.HasPrefix(path, tc.group)
				if got := r.Allowed(path); got != want {
					t.Errorf("agent %q, Allowed(%s): got = %v; want %v (following the group disallowing %s; Google: %s)",
						tc.agent, path, got, want, tc.group, tc.google)
				}
			}
		})
	}
}

func TestPortGoogleID_UserAgentValueCaseInsensitive(t *testing.T) {
	const (
		upper = "User-Agent: FOO BAR\n" +
			"Allow: /x/\n" +
			"Disallow: /\n"
		lower = "User-Agent: foo bar\n" +
			"Allow: /x/\n" +
			"Disallow: /\n"
		camel = "User-Agent: FoO bAr\n" +
			"Allow: /x/\n" +
			"Disallow: /\n"
		allowed    = "http://foo.bar/x/y"
		disallowed = "http://foo.bar/a/b"
	)
	var cases []googleCase
	for _, agent := range []string{"Foo", "foo"} {
		cases = append(cases,
			googleCase{body: upper, agent: agent, url: allowed, want: true},
			googleCase{body: lower, agent: agent, url: allowed, want: true},
			googleCase{body: camel, agent: agent, url: allowed, want: true},
			googleCase{body: upper, agent: agent, url: disallowed, want: false},
			googleCase{body: lower, agent: agent, url: disallowed, want: false},
			googleCase{body: camel, agent: agent, url: disallowed, want: false},
		)
	}
	runGoogleCases(t, cases)
}

func TestPortGoogleGoogleOnly_AcceptUserAgentUpToFirstSpace(t *testing.T) {
	// Google also checks IsValidUserAgentToObey("Foobot Bar") is false; see
	// TestPortGoogleID_VerifyValidUserAgentsToObey.
	const body = "User-Agent: *\n" +
		"Disallow: /\n" +
		"User-Agent: Foo Bar\n" +
		"Allow: /x/\n" +
		"Disallow: /\n"
	const u = "http://foo.bar/x/y"
	runGoogleCases(t, []googleCase{
		{body: body, agent: "Foo", url: u, want: true},
		// robots.go documents reducing the crawler's agent as well as the
		// User-agent values, so the agent "Foo Bar" is "Foo" and follows
		// the group "Foo Bar", which allows /x/.
		{body: body, agent: "Foo Bar", url: u, want: true,
			google: "compares the agent \"Foo Bar\" verbatim, matches no group and follows *"},
	})
}

func TestPortGoogleID_GlobalGroups_Secondary(t *testing.T) {
	const (
		empty  = ""
		global = "user-agent: *\n" +
			"allow: /\n" +
			"user-agent: FooBot\n" +
			"disallow: /\n"
		onlySpecific = "user-agent: FooBot\n" +
			"allow: /\n" +
			"user-agent: BarBot\n" +
			"disallow: /\n" +
			"user-agent: BazBot\n" +
			"disallow: /\n"
		u = "http://foo.bar/x/y"
	)
	runGoogleCases(t, []googleCase{
		{body: empty, agent: "FooBot", url: u, want: true},
		{body: global, agent: "FooBot", url: u, want: false},
		{body: global, agent: "BarBot", url: u, want: true},
		{body: onlySpecific, agent: "QuxBot", url: u, want: true},
	})
}

func TestPortGoogleID_AllowDisallow_Value_CaseSensitive(t *testing.T) {
	const (
		lowercase = "user-agent: FooBot\n" +
			"disallow: /x/\n"
		uppercase = "user-agent: FooBot\n" +
			"disallow: /X/\n"
		u = "http://foo.bar/x/y"
	)
	runGoogleCases(t, []googleCase{
		{body: lowercase, agent: "FooBot", url: u, want: false},
		{body: uppercase, agent: "FooBot", url: u, want: true},
	})
}

func TestPortGoogleID_LongestMatch(t *testing.T) {
	const u = "http://foo.bar/x/page.html"
	runGoogleCases(t, []googleCase{
		{body: "user-agent: FooBot\n" +
			"disallow: /x/page.html\n" +
			"allow: /x/\n",
			agent: "FooBot", url: u, want: false},

		{body: "user-agent: FooBot\n" +
			"allow: /x/page.html\n" +
			"disallow: /x/\n",
			agent: "FooBot", url: u, want: true},
		{body: "user-agent: FooBot\n" +
			"allow: /x/page.html\n" +
			"disallow: /x/\n",
			agent: "FooBot", url: "http://foo.bar/x/", want: false},

		// Equivalent disallow and allow: allow is used.
		{body: "user-agent: FooBot\n" +
			"disallow: \n" +
			"allow: \n",
			agent: "FooBot", url: u, want: true},
		{body: "user-agent: FooBot\n" +
			"disallow: /\n" +
			"allow: /\n",
			agent: "FooBot", url: u, want: true},

		{body: "user-agent: FooBot\n" +
			"disallow: /x\n" +
			"allow: /x/\n",
			agent: "FooBot", url: "http://foo.bar/x", want: false},
		{body: "user-agent: FooBot\n" +
			"disallow: /x\n" +
			"allow: /x/\n",
			agent: "FooBot", url: "http://foo.bar/x/", want: true},

		// Equivalent disallow and allow: allow is used.
		{body: "user-agent: FooBot\n" +
			"disallow: /x/page.html\n" +
			"allow: /x/page.html\n",
			agent: "FooBot", url: u, want: true},

		// Longest match wins.
		{body: "user-agent: FooBot\n" +
			"allow: /page\n" +
			"disallow: /*.html\n",
			agent: "FooBot", url: "http://foo.bar/page.html", want: false},
		{body: "user-agent: FooBot\n" +
			"allow: /page\n" +
			"disallow: /*.html\n",
			agent: "FooBot", url: "http://foo.bar/page", want: true},

		// Longest match wins.
		{body: "user-agent: FooBot\n" +
			"allow: /x/page.\n" +
			"disallow: /*.html\n",
			agent: "FooBot", url: u, want: true},
		{body: "user-agent: FooBot\n" +
			"allow: /x/page.\n" +
			"disallow: /*.html\n",
			agent: "FooBot", url: "http://foo.bar/x/y.html", want: false},

		// Most specific group for FooBot allows implicitly /x/page.
		{body: "User-agent: *\n" +
			"Disallow: /x/\n" +
			"User-agent: FooBot\n" +
			"Disallow: /y/\n",
			agent: "FooBot", url: "http://foo.bar/x/page", want: true},
		{body: "User-agent: *\n" +
			"Disallow: /x/\n" +
			"User-agent: FooBot\n" +
			"Disallow: /y/\n",
			agent: "FooBot", url: "http://foo.bar/y/page", want: false},
	})
}

// Google leaves percent-encoding the URL to its caller and compares it with
// the rule octet for octet after encoding only the rule's non-ASCII octets
// and upper-casing its hex digits. RFC 9309 §2.2.2 requires both to be
// percent-encoded before comparison and percent-encoded unreserved
// characters in the URI to be decoded (its own example: "/foo/bar/%62%61%7A"
// matches "/foo/bar/baz"); robots.go documents doing so ("/ツ",
// "/%e3%83%84" and "/%E3%83%84" are the same path, as are "/~a" and
// "/%7Ea"). The crawl also passes u.EscapedPath(), which encodes "ツ".
func TestPortGoogleID_Encoding(t *testing.T) {
	const (
		query = "User-agent: FooBot\n" +
			"Disallow: /\n" +
			"Allow: /foo/bar?qux=taz&baz=http://foo.bar?tar&par\n"
		utf8 = "User-agent: FooBot\n" +
			"Disallow: /\n" +
			"Allow: /foo/bar/ツ\n"
		encoded = "User-agent: FooBot\n" +
			"Disallow: /\n" +
			"Allow: /foo/bar/%E3%83%84\n"
		unreserved = "User-agent: FooBot\n" +
			"Disallow: /\n" +
			"Allow: /foo/bar/%62%61%7A\n"
		notEncoded = "the URL is not percent-encoded; RFC 9309 §2.2.2 encodes it before comparing"
	)
	runGoogleCases(t, []googleCase{
		// /foo/bar?baz=http://foo.bar stays unencoded.
		{body: query, agent: "FooBot", url: "http://foo.bar/foo/bar?qux=taz&baz=http://foo.bar?tar&par", want: true},

		// 3 byte character: /foo/bar/ツ -> /foo/bar/%E3%83%84
		{body: utf8, agent: "FooBot", url: "http://foo.bar/foo/bar/%E3%83%84", want: true},
		{body: utf8, agent: "FooBot", url: "http://foo.bar/foo/bar/ツ", want: true, google: notEncoded},

		// Percent-encoded 3 byte character.
		{body: encoded, agent: "FooBot", url: "http://foo.bar/foo/bar/%E3%83%84", want: true},
		{body: encoded, agent: "FooBot", url: "http://foo.bar/foo/bar/ツ", want: true, google: notEncoded},

		// Percent-encoded unreserved US-ASCII: /foo/bar/%62%61%7A.
		{body: unreserved, agent: "FooBot", url: "http://foo.bar/foo/bar/baz", want: true,
			google: "does not decode %62%61%7A in the rule; RFC 9309 §2.2.2's example says it matches /foo/bar/baz"},
		{body: unreserved, agent: "FooBot", url: "http://foo.bar/foo/bar/%62%61%7A", want: true},
	})
	// The ツ URLs reach Allowed encoded; the raw path must match as well.
	for _, body := range []string{utf8, encoded} {
		if got := FromResponse("FooBot", 200, []byte(body), nil).Allowed("/foo/bar/ツ"); !got {
			t.Errorf("Allowed(/foo/bar/ツ) with %q: got = false; want true", body)
		}
	}
}

func TestPortGoogleID_SpecialCharacters(t *testing.T) {
	const (
		star = "User-agent: FooBot\n" +
			"Disallow: /foo/bar/quz\n" +
			"Allow: /foo/*/qux\n"
		dollar = "User-agent: FooBot\n" +
			"Disallow: /foo/bar$\n" +
			"Allow: /foo/bar/qux\n"
		hash = "User-agent: FooBot\n" +
			"# Disallow: /\n" +
			"Disallow: /foo/quz#qux\n" +
			"Allow: /\n"
	)
	runGoogleCases(t, []googleCase{
		{body: star, agent: "FooBot", url: "http://foo.bar/foo/bar/quz", want: false},
		{body: star, agent: "FooBot", url: "http://foo.bar/foo/quz", want: true},
		{body: star, agent: "FooBot", url: "http://foo.bar/foo//quz", want: true},
		{body: star, agent: "FooBot", url: "http://foo.bar/foo/bax/quz", want: true},

		{body: dollar, agent: "FooBot", url: "http://foo.bar/foo/bar", want: false},
		{body: dollar, agent: "FooBot", url: "http://foo.bar/foo/bar/qux", want: true},
		{body: dollar, agent: "FooBot", url: "http://foo.bar/foo/bar/", want: true},
		{body: dollar, agent: "FooBot", url: "http://foo.bar/foo/bar/baz", want: true},

		{body: hash, agent: "FooBot", url: "http://foo.bar/foo/bar", want: true},
		{body: hash, agent: "FooBot", url: "http://foo.bar/foo/quz", want: false},
	})
}

func TestPortGoogleGoogleOnly_IndexHTMLisDirectory(t *testing.T) {
	const body = "User-Agent: *\n" +
		"Allow: /allowed-slash/index.html\n" +
		"Disallow: /\n"
	runGoogleCases(t, []googleCase{
		// RFC 9309 §2.2.2: the rule matches paths that begin with it;
		// "/allowed-slash/" does not begin with ".../index.html", so only
		// "Disallow: /" matches.
		{body: body, agent: "foobot", url: "http://foo.com/allowed-slash/", want: false,
			google: "Google-only: a rule ending in index.html also allows its directory"},
		// Does not exactly match.
		{body: body, agent: "foobot", url: "http://foo.com/allowed-slash/index.htm", want: false},
		// Exact match.
		{body: body, agent: "foobot", url: "http://foo.com/allowed-slash/index.html", want: true},
		{body: body, agent: "foobot", url: "http://foo.com/anyother-url", want: false},
	})
}

// Google cuts lines at 8*2083 octets. RFC 9309 sets no line length limit
// (§2.5 only requires parsing at least 500 KiB, which [MaxSize] does), so
// this package keeps each rule whole.
func TestPortGoogleGoogleOnly_LineTooLong(t *testing.T) {
	const (
		eolLen     = len("\n")
		maxLineLen = 2083 * 8
		allow      = "allow: "
		disallow   = "disallow: "
		cutOff     = "Google-only: cuts the rule at 8*2083 octets; RFC 9309 keeps it whole"
	)

	// Disallow rule pattern matches the URL after being cut off at maxLineLen.
	body1 := "user-agent: FooBot\n"
	longline := "/x/"
	maxLength := maxLineLen - len(longline) - len(disallow) + eolLen
	longline += strings.Repeat("a", maxLength-len(longline))
	body1 += disallow + longline + "/qux\n"

	// The same for two Allow rules.
	body2 := "user-agent: FooBot\n" +
		"disallow: /\n"
	maxLength = maxLineLen - len("/x/") - len(allow) + eolLen
	longlineA := "/x/" + strings.Repeat("a", maxLength-len("/x/"))
	longlineB := "/x/" + strings.Repeat("b", maxLength-len("/x/"))
	body2 += allow + longlineA + "/qux\n"
	body2 += allow + longlineB + "/qux\n"

	runGoogleCases(t, []googleCase{
		// Matches nothing, so URL is allowed.
		{body: body1, agent: "FooBot", url: "http://foo.bar/fux", want: true},
		// Google: matches the cut off disallow rule. Whole, it does not match.
		{body: body1, agent: "FooBot", url: "http://foo.bar" + longline + "/fux", want: true, google: cutOff},

		// URL matches the disallow rule.
		{body: body2, agent: "FooBot", url: "http://foo.bar/", want: false},
		// Matches the allow rule exactly.
		{body: body2, agent: "FooBot", url: "http://foo.bar" + longlineA + "/qux", want: true},
		// Google: matches the cut off allow rule. Whole, it does not match,
		// and "disallow: /" does.
		{body: body2, agent: "FooBot", url: "http://foo.bar" + longlineB + "/fux", want: false, google: cutOff},
	})
}

func TestPortGoogleGoogleOnly_DocumentationChecks(t *testing.T) {
	const base = "user-agent: FooBot\n" +
		"disallow: /\n"
	type check struct {
		url  string
		want bool
	}
	cases := func(body string, checks ...check) []googleCase {
		var cs []googleCase
		for _, c := range checks {
			cs = append(cs, googleCase{body: body, agent: "FooBot", url: c.url, want: c.want})
		}
		return cs
	}
	var all []googleCase

	// Section "URL matching based on path values".
	all = append(all, cases(base+"allow: /fish\n",
		check{"http://foo.bar/bar", false},
		check{"http://foo.bar/fish", true},
		check{"http://foo.bar/fish.html", true},
		check{"http://foo.bar/fish/salmon.html", true},
		check{"http://foo.bar/fishheads", true},
		check{"http://foo.bar/fishheads/yummy.html", true},
		check{"http://foo.bar/fish.html?id=anything", true},
		check{"http://foo.bar/Fish.asp", false},
		check{"http://foo.bar/catfish", false},
		check{"http://foo.bar/?id=fish", false},
	)...)
	// "/fish*" equals "/fish".
	all = append(all, cases(base+"allow: /fish*\n",
		check{"http://foo.bar/bar", false},
		check{"http://foo.bar/fish", true},
		check{"http://foo.bar/fish.html", true},
		check{"http://foo.bar/fish/salmon.html", true},
		check{"http://foo.bar/fishheads", true},
		check{"http://foo.bar/fishheads/yummy.html", true},
		check{"http://foo.bar/fish.html?id=anything", true},
		check{"http://foo.bar/Fish.bar", false},
		check{"http://foo.bar/catfish", false},
		check{"http://foo.bar/?id=fish", false},
	)...)
	// "/fish/" does not equal "/fish".
	all = append(all, cases(base+"allow: /fish/\n",
		check{"http://foo.bar/bar", false},
		check{"http://foo.bar/fish/", true},
		check{"http://foo.bar/fish/salmon", true},
		check{"http://foo.bar/fish/?salmon", true},
		check{"http://foo.bar/fish/salmon.html", true},
		check{"http://foo.bar/fish/?id=anything", true},
		check{"http://foo.bar/fish", false},
		check{"http://foo.bar/fish.html", false},
		check{"http://foo.bar/Fish/Salmon.html", false},
	)...)
	// "/*.php".
	all = append(all, cases(base+"allow: /*.php\n",
		check{"http://foo.bar/bar", false},
		check{"http://foo.bar/filename.php", true},
		check{"http://foo.bar/folder/filename.php", true},
		check{"http://foo.bar/folder/filename.php?parameters", true},
		check{"http://foo.bar//folder/any.php.file.html", true},
		check{"http://foo.bar/filename.php/", true},
		check{"http://foo.bar/index?f=filename.php/", true},
		check{"http://foo.bar/php/", false},
		check{"http://foo.bar/index?php", false},
		check{"http://foo.bar/windows.PHP", false},
	)...)
	// "/*.php$".
	all = append(all, cases(base+"allow: /*.php$\n",
		check{"http://foo.bar/bar", false},
		check{"http://foo.bar/filename.php", true},
		check{"http://foo.bar/folder/filename.php", true},
		check{"http://foo.bar/filename.php?parameters", false},
		check{"http://foo.bar/filename.php/", false},
		check{"http://foo.bar/filename.php5", false},
		check{"http://foo.bar/php/", false},
		check{"http://foo.bar/filename?php", false},
		check{"http://foo.bar/aaaphpaaa", false},
		check{"http://foo.bar//windows.PHP", false},
	)...)
	// "/fish*.php".
	all = append(all, cases(base+"allow: /fish*.php\n",
		check{"http://foo.bar/bar", false},
		check{"http://foo.bar/fish.php", true},
		check{"http://foo.bar/fishheads/catfish.php?parameters", true},
		check{"http://foo.bar/Fish.PHP", false},
	)...)
	// Section "Order of precedence for group-member records".
	all = append(all, cases("user-agent: FooBot\nallow: /p\ndisallow: /\n",
		check{"http://example.com/page", true})...)
	all = append(all, cases("user-agent: FooBot\nallow: /folder\ndisallow: /folder\n",
		check{"http://example.com/folder/page", true})...)
	all = append(all, cases("user-agent: FooBot\nallow: /page\ndisallow: /*.htm\n",
		check{"http://example.com/page.htm", false})...)
	all = append(all, cases("user-agent: FooBot\nallow: /$\ndisallow: /\n",
		check{"http://example.com/", true},
		check{"http://example.com/page.html", false},
	)...)
	runGoogleCases(t, all)
}

// Google counts the directives its parser reports and the last line number.
// This API reports neither, so the port checks their effect: all four
// directives are seen, including a last line without a newline, and
// "User-Agent: bar" starts a new group, whatever the line endings.
func TestPortGoogleID_LinesNumbersAreCountedCorrectly(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"unix", "User-Agent: foo\n" +
			"Allow: /some/path\n" +
			"User-Agent: bar\n" +
			"\n" +
			"\n" +
			"Disallow: /\n"},
		{"dos", "User-Agent: foo\r\n" +
			"Allow: /some/path\r\n" +
			"User-Agent: bar\r\n" +
			"\r\n" +
			"\r\n" +
			"Disallow: /\r\n"},
		{"mac", "User-Agent: foo\r" +
			"Allow: /some/path\r" +
			"User-Agent: bar\r" +
			"\r" +
			"\r" +
			"Disallow: /\r"},
		{"no final newline", "User-Agent: foo\n" +
			"Allow: /some/path\n" +
			"User-Agent: bar\n" +
			"\n" +
			"\n" +
			"Disallow: /"},
		{"mixed", "User-Agent: foo\n" +
			"Allow: /some/path\r\n" +
			"User-Agent: bar\n" +
			"\r\n" +
			"\n" +
			"Disallow: /"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range []struct {
				agent, path string
				want        bool
			}{
				{"foo", "/some/path", true},
				{"foo", "/other", true},
				{"bar", "/some/path", false},
				{"bar", "/other", false},
			} {
				if got := FromResponse(c.agent, 200, []byte(tc.body), nil).Allowed(c.path); got != c.want {
					t.Errorf("agent %s, Allowed(%s) with %q: got = %v; want %v", c.agent, c.path, tc.body, got, c.want)
				}
			}
		})
	}
}

// Google counts the directives recognised. To make the second directive's
// recognition observable through Allowed, it is a Disallow here where
// Google's files have "Allow: /AnyValue".
func TestPortGoogleID_UTF8ByteOrderMarkIsSkipped(t *testing.T) {
	const rest = "User-Agent: foo\n" +
		"Disallow: /AnyValue\n"
	// A partial byte order mark makes the file invalid UTF-8. RFC 9309 §2.2.2
	// says implementors MAY bridge encoding mismatches, not MUST; without
	// that the first line does not parse (§2.3.1.5: use the parseable
	// rules), and the Disallow, in no group, is ignored (§2.2.2 SHOULD).
	// robots.go strips only a whole byte order mark.
	const partial = "Google-only: skips a partial byte order mark too (RFC 9309 §2.2.2: MAY bridge encoding mismatches)"
	const u = "http://foo.bar/AnyValue"
	runGoogleCases(t, []googleCase{
		// Full byte order mark: both directives seen.
		{body: "\xEF\xBB\xBF" + rest, agent: "foo", url: u, want: false},
		// Partial byte order marks.
		{body: "\xEF\xBB" + rest, agent: "foo", url: u, want: true, google: partial},
		{body: "\xEF" + rest, agent: "foo", url: u, want: true, google: partial},
		// Not a byte order mark: the first line is garbage and is skipped,
		// leaving the Disallow outside any group (Google: 1 directive, 1
		// unknown).
		{body: "\xEF\x11\xBF" + rest, agent: "foo", url: u, want: true},
		// A byte order mark is valid only at the beginning of the file: the
		// Disallow line it starts is unknown (Google: 1 directive, 1 unknown).
		{body: "User-Agent: foo\n" +
			"\xEF\xBB\xBF" +
			"Disallow: /AnyValue\n", agent: "foo", url: u, want: true},
	})
}

// Google's GetPathParamsQuery reduces a URL to the path, parameters and
// query it matches. Here the crawl reduces a parsed URL (googlePath) and
// Allowed takes "" as "/" and "?q" as "/?q". The port checks that each URL
// reaches the matcher as exactly Google's path, by allowing only that path
// ("Allow: <path>$", "Disallow: /"). Google's scheme-less inputs
// ("example.com/a", "a/b") treat their first segment as a host; the crawl
// only has absolute URLs, so they get an "http://" here. "" and "/a" and
// "//a/b/c" parse as they are.
func TestPortGoogleTestGetPathParamsQuery(t *testing.T) {
	for _, tc := range []struct{ url, path string }{
		{"", "/"},
		{"http://www.example.com", "/"},
		{"http://www.example.com/", "/"},
		{"http://www.example.com/a", "/a"},
		{"http://www.example.com/a/", "/a/"},
		{"http://www.example.com/a/b?c=http://d.e/", "/a/b?c=http://d.e/"},
		{"http://www.example.com/a/b?c=d&e=f#fragment", "/a/b?c=d&e=f"},
		{"http://example.com", "/"},                                 // example.com
		{"http://example.com/", "/"},                                // example.com/
		{"http://example.com/a", "/a"},                              // example.com/a
		{"http://example.com/a/", "/a/"},                            // example.com/a/
		{"http://example.com/a/b?c=d&e=f#fragment", "/a/b?c=d&e=f"}, // example.com/a/b?c=d&e=f#fragment
		{"http://a", "/"},                                           // a
		{"http://a/", "/"},                                          // a/
		{"/a", "/a"},
		{"http://a/b", "/b"},                 // a/b
		{"http://example.com?a", "/?a"},      // example.com?a
		{"http://example.com/a;b#c", "/a;b"}, // example.com/a;b#c
		{"//a/b/c", "/b/c"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			body := "User-agent: *\nDisallow: /\nAllow: " + tc.path + "$\n"
			path := googlePath(t, tc.url)
			if got := FromResponse("FooBot", 200, []byte(body), nil).Allowed(path); !got {
				t.Errorf("Allowed(%q) with only %s allowed: got = false; want true", path, tc.path)
			}
		})
	}
}

// Google's MaybeEscapePattern is how a rule's pattern is encoded. The port
// checks that a rule with the original pattern matches exactly the encoded
// path ("Disallow: <pattern>$"). robots.go gives a pattern that begins with
// neither '/' nor '*' a leading '/', so "http://www.example.com" is the
// path "/http://www.example.com" and "á" is "/%C3%A1".
func TestPortGoogleTestMaybeEscapePattern(t *testing.T) {
	for _, tc := range []struct{ pattern, path string }{
		{"http://www.example.com", "/http://www.example.com"},
		{"/a/b/c", "/a/b/c"},
		{"á", "/%C3%A1"},
		{"%aa", "/%AA"},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			r := FromResponse("FooBot", 200, []byte("User-agent: *\nDisallow: "+tc.pattern+"$\n"), nil)
			if got := r.Allowed(tc.path); got {
				t.Errorf("Allowed(%q) with Disallow: %s$: got = true; want false", tc.path, tc.pattern)
			}
			if got := r.Allowed(tc.path + "x"); !got {
				t.Errorf("Allowed(%q) with Disallow: %s$: got = false; want true", tc.path+"x", tc.pattern)
			}
		})
	}
}

// Not a test of robots_test.cc: robots.cc, with kAllowFrequentTypos, takes
// "useragent" and "user agent" for "user-agent" and "dissallow",
// "dissalow", "disalow", "diasllow" and "disallaw" for "disallow"
// (reporting_robots_test.cc, LinesNumbersAreCountedCorrectly, lines 11-12).
// RFC 9309 §2.2.4 lets a crawler accept misspellings (MAY); this package
// does not, so a misspelt line is skipped as unparseable (§2.3.1.5).
func TestPortGoogleFrequentTypos(t *testing.T) {
	const (
		u    = "http://foo.bar/x"
		typo = "Google-only: accepts the misspelling (RFC 9309 §2.2.4: MAY)"
	)
	cases := []googleCase{
		{body: "user-agent: FooBot\ndisallow: /\n", agent: "FooBot", url: u, want: false},
		{body: "useragent: FooBot\ndisallow: /\n", agent: "FooBot", url: u, want: true, google: typo},
		{body: "user agent: FooBot\ndisallow: /\n", agent: "FooBot", url: u, want: true, google: typo},
	}
	for _, key := range []string{"dissallow", "dissalow", "disalow", "diasllow", "disallaw"} {
		cases = append(cases, googleCase{
			body: "user-agent: FooBot\n" + key + ": /\n", agent: "FooBot", url: u, want: true, google: typo,
		})
	}
	// Google has no misspellings of allow.
	cases = append(cases, googleCase{
		body: "user-agent: FooBot\ndisallow: /\nalow: /x\n", agent: "FooBot", url: u, want: false,
	})
	runGoogleCases(t, cases)
}
