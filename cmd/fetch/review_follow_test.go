package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The hint for curl's -S says where fetch shows errors, and it is so: a
// URL's error is in its record, not on stderr (which -q leaves empty).
func TestReviewShowErrorHintIsTrue(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	code, out, stderr := runCmd(t, "", "-q", srv.URL+"/gone")
	rec := records(t, out)[srv.URL+"/gone"]
	if code != exitSomeFailed || rec.Error == "" || stderr != "" {
		t.Fatalf("-q and a 404: exit %d, record error %q, stderr %q; want 1, the error in the record, nothing on stderr", code, rec.Error, stderr)
	}
	for _, name := range []string{"S", "--show-error"} {
		if hint := flagHints[name]; !strings.Contains(hint, "record") || strings.Contains(hint, "every error") {
			t.Errorf("hint for %s: %q; want it to say a URL's error is in its record", name, hint)
		}
	}
}
