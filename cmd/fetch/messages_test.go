package main

import (
	"strings"
	"testing"

	"github.com/c989c033/fetch"
)

// A proxy's refusal to open a tunnel has an error_kind of its own, not
// "other", nor "status", which would say the server answered.
func TestErrorKindProxy(t *testing.T) {
	err := &fetch.Error{Method: "GET", URL: "https://a.test/", Attempts: 3,
		Err: &fetch.ProxyConnectError{Proxy: "http://p.test:3128", StatusCode: 502, Status: "502 Bad Gateway"}}
	if got := errorKind(err); got != "proxy" {
		t.Errorf("errorKind(%v) = %q; want proxy", err, got)
	}
}

// wget -i takes a URL to read the list from; fetch's -i takes a file, and
// says so, rather than "no such file or directory".
func TestInputFileNotAURL(t *testing.T) {
	code, _, stderr := runCmd(t, "", "-i", "http://a.test/urls.txt")
	if code != exitUsage || !strings.Contains(stderr, "takes a file of URLs, not a URL") {
		t.Errorf("-i URL: exit %d, %q; want %d, saying -i takes a file", code, stderr, exitUsage)
	}
}
