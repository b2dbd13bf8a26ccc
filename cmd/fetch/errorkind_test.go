package main

import (
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
