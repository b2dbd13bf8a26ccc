package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Over HTTP/2 a server resets a stream (RST_STREAM) where over HTTP/1 it
// would reset the connection: the record's error_kind says
// connection_reset for both, not other, so that a script grouping failures
// by kind sees one kind whatever the protocol.
func TestH2StreamResetIsConnectionReset(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			t.Errorf("served over %s; want HTTP/2", r.Proto)
		}
		panic(http.ErrAbortHandler) // net/http's HTTP/2 server resets the stream
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	code, out, stderr := runCmd(t, "", "-q", "-k", "--retries", "0", srv.URL+"/x")
	if code != exitSomeFailed {
		t.Fatalf("exit %d, stderr %q; want %d", code, stderr, exitSomeFailed)
	}
	var rec record
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &rec); err != nil {
		t.Fatalf("record %q: %v", out, err)
	}
	if rec.ErrorKind != "connection_reset" {
		t.Errorf("error_kind %q for %q; want connection_reset", rec.ErrorKind, rec.Error)
	}
}
