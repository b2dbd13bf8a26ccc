package otelfetch_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/c989c033/fetch"
)

// An HTTP/2 stream the server resets is HTTP/2's connection reset: its
// error.type, on the attempt histogram and the retries, and the call's
// fetch.outcome are connection_reset, as for HTTP/1's ECONNRESET, not
// _OTHER.
func TestH2StreamResetIsConnectionReset(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler) // net/http's HTTP/2 server resets the stream
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	e := newEnv(t)
	f := e.fetcher(t, fetch.WithTLSConfig(&tls.Config{RootCAs: pool}))
	if _, err := f.Get(t.Context(), srv.URL+"/x"); err == nil {
		t.Fatal("Get: no error; want the stream reset")
	}
	m := e.collect(t)
	points := histogram(t, m["http.client.request.duration"])
	if len(points) == 0 || len(sums(t, m["fetch.calls"])) == 0 || len(sums(t, m["fetch.retries"])) == 0 {
		t.Fatalf("attempts %d, calls %d, retries %d recorded; want some of each (the reset is retried)",
			len(points), len(sums(t, m["fetch.calls"])), len(sums(t, m["fetch.retries"])))
	}
	for _, dp := range points {
		if got := attrs(dp.Attributes)["error.type"]; got != "connection_reset" {
			t.Errorf("attempt error.type %q; want connection_reset", got)
		}
	}
	for _, dp := range sums(t, m["fetch.calls"]) {
		if got := attrs(dp.Attributes)["fetch.outcome"]; got != "connection_reset" {
			t.Errorf("fetch.outcome %q; want connection_reset", got)
		}
	}
	for _, dp := range sums(t, m["fetch.retries"]) {
		if got := attrs(dp.Attributes)["error.type"]; got != "connection_reset" {
			t.Errorf("retries error.type %q; want connection_reset", got)
		}
	}
}
