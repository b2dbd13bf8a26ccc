package otelfetch_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/c989c033/fetch"
)

// url.full redacts the values of signature query parameters, as the docs
// promise, but the span status descriptions carry the error text, which
// names the request URL with the signature in clear: the secret the
// attribute hides is exported in the same span.
func TestSignatureNotInSpanStatus(t *testing.T) {
	e := newEnv(t)
	f := e.fetcher(t, fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 1}))
	url, _ := server(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusForbidden) })
	refused, _ := refusedURL(t)
	for _, u := range []string{url + "/x?sig=SECRETSIG", refused + "?X-Goog-Signature=SECRETSIG"} {
		if _, err := f.Get(t.Context(), u); err == nil {
			t.Fatalf("Get %s: no error", u)
		}
	}
	for _, s := range e.spans.Ended() {
		for _, kv := range s.Attributes() {
			if strings.Contains(kv.Value.String(), "SECRETSIG") {
				t.Errorf("span %q attribute %s = %q shows the signature", s.Name(), kv.Key, kv.Value.String())
			}
		}
		if strings.Contains(s.Status().Description, "SECRETSIG") {
			t.Errorf("span %q status description %q shows the signature that url.full redacts; want it redacted there too", s.Name(), s.Status().Description)
		}
	}
}

// For a method outside RFC 9110/5789, http.request.method is _OTHER and the
// semantic conventions say the span name MUST then be "HTTP", not the
// placeholder "_OTHER".
func TestOtherMethodSpanName(t *testing.T) {
	e := newEnv(t)
	f := e.fetcher(t)
	url, _ := server(t, func(w http.ResponseWriter, r *http.Request) {})
	if _, err := f.Get(t.Context(), url+"/", fetch.Method("PURGE")); err != nil {
		t.Fatal(err)
	}
	calls, _ := split(e.spans.Ended())
	if len(calls) != 1 {
		t.Fatalf("%d call spans; want 1", len(calls))
	}
	if got := calls[0].Name(); got != "HTTP" {
		t.Errorf("span name %q for method PURGE; want %q (semconv: {method} MUST be HTTP when http.request.method is _OTHER)", got, "HTTP")
	}
}
