package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// --headers puts each response's header in its record, names in lower
// case with their values in order, as curl's %{header_json}: a 2xx's, an
// error response's, a HEAD's, with -O too; without it, records have none.
func TestHeadersInRecords(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Set("X-Id", "7")
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	for _, args := range [][]string{nil, {"-O", t.TempDir()}, {"-X", "HEAD"}} {
		_, out, stderr := runCmd(t, "", append([]string{"-q", "--headers", srv.URL + "/ok", srv.URL + "/missing"}, args...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 {
			t.Fatalf("%v: %d records (%s); want 2", args, len(lines), stderr)
		}
		for _, line := range lines {
			var rec struct {
				URL     string
				Headers map[string][]string
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatal(err)
			}
			h := rec.Headers
			if strings.Join(h["set-cookie"], " ") != "a=1 b=2" || strings.Join(h["x-id"], "") != "7" || len(h["content-length"]) != 1 || h["Set-Cookie"] != nil {
				t.Errorf("%v %s: headers %v; want set-cookie [a=1 b=2], x-id [7], content-length, in lower case", args, rec.URL, h)
			}
		}
	}
	if _, out, _ := runCmd(t, "", "-q", srv.URL+"/ok"); strings.Contains(out, `"headers"`) {
		t.Errorf("without --headers: %s; want no headers", out)
	}
}
