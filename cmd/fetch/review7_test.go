package main

import (
	"strings"
	"testing"
)

// A password with a byte that ends a URL's authority (#, /, ?), not
// percent-encoded, makes -x's value no valid URL: the usage error hides
// it, as it hides any other password, the parser's words included.
func TestReview7ProxyPasswordHiddenWhenInvalid(t *testing.T) {
	for _, value := range []string{
		"http://user:hun#ter2@proxy:8080",
		"user:hun/ter2@proxy",
		"http://user:hun?ter2@proxy:3128",
		"socks5://user:hu:n#ter2@proxy",
	} {
		code, out, stderr := runCmd(t, "", "-q", "-x", value, "http://target.invalid/")
		if code != exitUsage || out != "" {
			t.Errorf("-x %q: exit %d, out %q; want %d and no record", value, code, out, exitUsage)
		}
		if strings.Contains(stderr, "hun") || strings.Contains(stderr, "ter2") || !strings.Contains(stderr, "-x/--proxy") {
			t.Errorf("-x %q: stderr %q; want the flag named, the password hidden", value, stderr)
		}
	}
	// Cut short where it still parses: user:1234 reads as a host and port,
	// the rest as a fragment or path; refused, nothing after the host shown.
	for _, value := range []string{"user:1234#pa55@proxy", "http://user:1234/pa55@proxy:8080", "http://proxy:8080/path", "http://proxy:8080?q"} {
		code, _, stderr := runCmd(t, "", "-q", "-x", value, "http://target.invalid/")
		if code != exitUsage || strings.Contains(stderr, "pa55") || !strings.Contains(stderr, "no path, query or fragment") {
			t.Errorf("-x %q: exit %d, stderr %q; want a usage error saying a proxy URL has no path, query or fragment, the rest hidden", value, code, stderr)
		}
	}
	const want = "fetch: -x/--proxy http://user:xxxxx@proxy:8080: not a valid URL: a / ? or # in the password must be percent-encoded (%2F %3F %23)\n"
	if _, _, stderr := runCmd(t, "", "-x", "http://user:hun#ter2@proxy:8080", "http://target.invalid/"); stderr != want {
		t.Errorf("stderr %q; want %q", stderr, want)
	}
}
