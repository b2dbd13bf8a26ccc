package fetch

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// GetJSON asks for JSON, as an API client does, so that a server that
// negotiates (Rails, many gateways) answers in JSON rather than HTML;
// an Accept the caller gives, for the call or as the Fetcher's default,
// under any spelling, is sent in its place.
func TestGetJSONAccept(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var got []string
		for k, v := range r.Header {
			if http.CanonicalHeaderKey(k) == "Accept" {
				got = append(got, v...)
			}
		}
		if got == nil {
			got = []string{}
		}
		json.NewEncoder(w).Encode(got)
	}))
	t.Cleanup(srv.Close)
	plain := newFetcher(t)
	withDefault := newFetcher(t, WithHeader("Accept", "application/vnd.github+json"))
	lower := func(r *http.Request) error { r.Header["accept"] = []string{"text/csv"}; return nil }
	for _, tc := range []struct {
		name string
		f    *Fetcher
		opts []RequestOption
		want string
	}{
		{"default", plain, nil, "application/json"},
		{"call's", plain, []RequestOption{Header("Accept", "application/problem+json")}, "application/problem+json"},
		{"Fetcher's", withDefault, nil, "application/vnd.github+json"},
		{"call's over Fetcher's", withDefault, []RequestOption{Header("Accept", "*/*")}, "*/*"},
		{"lower-case spelling", plain, []RequestOption{lower}, "text/csv"},
	} {
		got, err := GetJSON[[]string](t.Context(), tc.f, srv.URL, tc.opts...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: server got Accept %q; want exactly %q", tc.name, got, tc.want)
		}
	}
}
