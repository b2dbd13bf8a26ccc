package fetch_test

// From a review of the library as a client for a paginated
// JSON REST API (bearer auth, cursor pagination, rate-limit headers, 5xx,
// large JSON arrays). Each test failed before its fix, and states
// the behaviour a user expects.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/c989c033/fetch"
)

// authRecorder answers {} and records the Authorization field lines of the
// last request it saw.
func authRecorder(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var last []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		last = append([]string(nil), r.Header.Values("Authorization")...)
		mu.Unlock()
		w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}

// Authorization is a singleton field (RFC 9110 §11.6.2 carries one set of
// credentials; §5.3 forbids several field lines for a field that is not a
// list). WithBearerToken and WithBasicAuth document that they send
// "Authorization: Bearer token" / Basic credentials with every request; a
// user who composes options (shared defaults, then an override:
// append(base, fetch.WithBearerToken(rotated))) expects the last one to
// win, as it does for every other option of New, or New to refuse the
// conflict. Instead they accumulate through WithHeader's Add, and the
// server receives two Authorization lines (many APIs answer 400 or pick the
// stale one).
//
// Cause: request.go WithBearerToken / WithBasicAuth call WithHeader, which
// does c.header.Add (request.go:130; WithBearerToken request.go:140, WithBasicAuth request.go:155).
func TestAPIReview_AuthOptionsSendOneAuthorization(t *testing.T) {
	srv, auth := authRecorder(t)
	for _, tc := range []struct {
		name string
		opts []fetch.Option
		want string
	}{
		{"bearer twice", []fetch.Option{fetch.WithBearerToken("old"), fetch.WithBearerToken("new")}, "Bearer new"},
		{"basic then bearer", []fetch.Option{fetch.WithBasicAuth("u", "p"), fetch.WithBearerToken("new")}, "Bearer new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := fetch.New(tc.opts...)
			if err != nil {
				return // refusing the conflict is acceptable too
			}
			defer f.Shutdown(context.Background())
			if _, err := f.Get(context.Background(), srv.URL); err != nil {
				t.Fatal(err)
			}
			if got := auth(); len(got) != 1 || got[0] != tc.want {
				t.Errorf("server got Authorization %q; want exactly [%q] (or New refusing the conflict)", got, tc.want)
			}
		})
	}
}

// WithHeader's contract is that a default is added "unless the request sets
// key itself". Header field names are case-insensitive, and net/http sends a
// request's header map as it is, non-canonical keys included (a map literal
// http.Header{"authorization": ...}, or headers copied from an HTTP/2 or
// proxy source, which are lower-case). applyDefaults looks the default's
// canonical key up in the map, misses "authorization", and adds the
// Fetcher's token as well: the server receives both credentials.
//
// Cause: request.go:216 `r.Header[k]` checks only the canonical spelling.
// Fix: look the key up case-insensitively (range over r.Header with
// strings.EqualFold, or canonicalise the request's keys first).
func TestAPIReview_DoNonCanonicalHeaderSuppressesDefault(t *testing.T) {
	srv, auth := authRecorder(t)
	f, err := fetch.New(fetch.WithBearerToken("default"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header = http.Header{"authorization": {"Bearer mine"}}
	resp, err := f.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := auth(); len(got) != 1 || got[0] != "Bearer mine" {
		t.Errorf("server got Authorization %q; want only the request's own [\"Bearer mine\"]", got)
	}
}

// Error text: *Error.Error says "fetch: " once, first, and trims it from its
// cause, but causes wrapped by a call's own words keep theirs in the middle.
// A GetJSON whose body is over the cap reads
//
//	fetch: GET http://…/big: decoding JSON: fetch: response body too large: more than 1000 bytes
//
// which says "fetch:" twice and blames the JSON ("decoding JSON") for what
// is a size cap. The user expects the problem named plainly, as Get names
// it: "fetch: GET http://…/big: response body too large: …".
//
// Cause: handle.go decodeJSON wraps every decoder error with "decoding
// JSON: %w" (handle.go:278), the decoder passing cappedBody's
// ErrBodyTooLarge through; errors.go Error.Error trims the prefix only at
// the start of the cause (errors.go:87). Fix: in decodeJSON, return a read
// error that is ErrBodyTooLarge unwrapped (or strip "fetch: " from the
// sentinels' text wherever they are wrapped).
func TestAPIReview_GetJSONBodyTooLargeMessage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"name":"` + strings.Repeat("a", 2000) + `"}`))
	}))
	defer srv.Close()
	f, err := fetch.New(fetch.WithMaxBodySize(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	_, err = fetch.GetJSON[struct{ Name string }](context.Background(), f, srv.URL+"/big")
	if err == nil {
		t.Fatal("no error for a body over the cap")
	}
	msg := err.Error()
	if n := strings.Count(msg, "fetch:"); n != 1 || strings.Contains(msg, "decoding JSON") {
		t.Errorf("error %q: want the size cap named once, without \"decoding JSON\" and a second \"fetch:\"", msg)
	}
}
