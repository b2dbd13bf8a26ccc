package main

import (
	"net/http"
	"strings"
	"testing"
)

// A record's headers are written as the rest of the record is, without
// HTML escapes: a Link header's <URL> reads as it came, as curl's
// %{header_json} has it, not as \u003cURL\u003e.
func TestHeadersKeepAngleBrackets(t *testing.T) {
	link := `<https://a.test/?p=2&q=1>; rel="next"`
	got := string(headerJSON(http.Header{"Link": {link}}))
	if want := `{"link":["<https://a.test/?p=2&q=1>; rel=\"next\""]}`; got != want {
		t.Errorf("headerJSON = %s; want %s", got, want)
	}
	if strings.Contains(got, "\n") {
		t.Errorf("headerJSON = %q; want one line", got)
	}
}
