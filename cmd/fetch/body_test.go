package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// bodyServer serves the bodies --body is tested with.
func bodyServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprint(w, "{\n  \"items\": [1, 2],\n  \"html\": \"<b>&</b>\"\n}\n")
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "line 1\nline \"2\"\n")
	})
	mux.HandleFunc("/binary", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte{0xff, 0x00, 0x01})
	})
	mux.HandleFunc("/notjson", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"cut": `)
	})
	mux.HandleFunc("/latin1json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{\"name\": \"caf\xe9\"}"))
	})
	mux.HandleFunc("/problem", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"title": "quota exceeded"}`)
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, strings.Repeat("x", 2000)) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// rawRecords returns the lines of out decoded as JSON objects, by URL.
func rawRecords(t *testing.T, out string) map[string]map[string]any {
	t.Helper()
	recs := map[string]map[string]any{}
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		recs[m["url"].(string)] = m
	}
	return recs
}

// With --body, each record carries its response's body, error responses'
// too, on its one line: JSON as itself (for jq to read into), text as a
// string, other bytes in base64.
func TestBodyInRecords(t *testing.T) {
	srv := bodyServer(t)
	paths := []string{"/json", "/text", "/binary", "/notjson", "/latin1json", "/problem", "/empty"}
	var args []string
	for _, p := range paths {
		args = append(args, srv.URL+p)
	}
	code, out, stderr := runCmd(t, "", append([]string{"-q", "--body"}, args...)...)
	if code != exitSomeFailed { // the 403
		t.Errorf("exit %d (%q); want %d", code, stderr, exitSomeFailed)
	}
	if n := strings.Count(out, "\n"); n != len(paths) {
		t.Errorf("%d lines for %d URLs:\n%s", n, len(paths), out)
	}
	recs := rawRecords(t, out)
	want := map[string]map[string]any{
		"/json":       {"body": map[string]any{"items": []any{1.0, 2.0}, "html": "<b>&</b>"}},
		"/text":       {"body": "line 1\nline \"2\"\n"},
		"/binary":     {"body_base64": "/wAB"},
		"/notjson":    {"body": `{"cut": `},
		"/latin1json": {"body_base64": "eyJuYW1lIjogImNhZukifQ=="},
		"/problem":    {"body": map[string]any{"title": "quota exceeded"}},
		"/empty":      {},
	}
	for _, p := range paths {
		rec := recs[srv.URL+p]
		got := map[string]any{}
		for _, k := range []string{"body", "body_base64"} {
			if v, ok := rec[k]; ok {
				got[k] = v
			}
		}
		if !reflect.DeepEqual(got, want[p]) {
			t.Errorf("%s: record's body fields %v; want %v (record %v)", p, got, want[p], rec)
		}
	}
	if !strings.Contains(out, `"html":"<b>&</b>"`) {
		t.Errorf("HTML characters escaped in a body: %s", out)
	}
}

// Without --body, records carry no body; a body past --max-body is not
// put in its record cut short; --body is refused with -O, which saves
// bodies in files.
func TestBodyOnlyWhenAskedAndWhole(t *testing.T) {
	srv := bodyServer(t)
	_, out, _ := runCmd(t, "", "-q", srv.URL+"/json", srv.URL+"/problem")
	if strings.Contains(out, `"body`) {
		t.Errorf("bodies in the records without --body:\n%s", out)
	}
	code, out, _ := runCmd(t, "", "-q", "--body", "--max-body", "1000", srv.URL+"/big")
	if rec := rawRecords(t, out)[srv.URL+"/big"]; code != exitSomeFailed || rec["body"] != nil || !strings.Contains(fmt.Sprint(rec["error"]), "--max-body") {
		t.Errorf("exit %d, record %v; want 1, a --max-body error and no body", code, rec)
	}
	code, _, stderr := runCmd(t, "", "-q", "--body", "-O", t.TempDir(), srv.URL+"/json")
	if code != exitUsage || !strings.Contains(stderr, "--body and -O") {
		t.Errorf("--body -O: exit %d, %q; want 2 and a usage error naming both", code, stderr)
	}
}
