package fetch

// A review of the library as the client of a paginated JSON REST API with
// OAuth2 bearer tokens, per-tenant rate limits announced in headers, cursor
// pagination and fan-out over tenants. golang.org/x/oauth2 is not a
// dependency, so a small TokenSource-like transport stands in for
// oauth2.Transport: it sets Authorization on every request it sends, from a
// token it refreshes when expired or when told the server refused it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// apiTokens is an oauth2.ReuseTokenSource stand-in: it hands out
// "tok-N", refreshed once it is older than ttl or invalidated.
type apiTokens struct {
	mu      sync.Mutex
	ttl     time.Duration
	n       int
	issued  time.Time
	invalid bool
}

func (s *apiTokens) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 || s.invalid || time.Since(s.issued) >= s.ttl {
		s.n++
		s.issued, s.invalid = time.Now(), false
	}
	return "tok-" + strconv.Itoa(s.n)
}

// Invalidate drops the token if it is still tok, as a 401 for it says.
func (s *apiTokens) Invalidate(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if "tok-"+strconv.Itoa(s.n) == tok {
		s.invalid = true
	}
}

// apiAuthTransport is oauth2.Transport's shape: it clones each request and
// sets its Authorization from the source. It notes a 401 for the token it
// sent, so that the next attempt gets a fresh one.
type apiAuthTransport struct {
	src  *apiTokens
	base http.RoundTripper
}

func (t *apiAuthTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok := t.src.Token()
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	resp, err := t.base.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		t.src.Invalidate(tok)
	}
	return resp, err
}

// retry401 is the Retryable of a client whose tokens may be revoked
// before they expire: a 401 is retried (the transport has dropped the
// token by then), everything else as by default. Retryable cannot tell the
// attempt number, so "once" is not expressible: MaxAttempts bounds it.
func retry401(resp *http.Response, err error) bool {
	if resp != nil && resp.StatusCode == http.StatusUnauthorized {
		return true
	}
	return DefaultRetryable(resp, err)
}

// A token plugged in with WithTransportWrapper, as oauth2.Transport would
// be: every attempt asks the source for its token, so a retry after the
// token expired sends a fresh one; the Fetcher's default headers still
// reach the server, and the SSRF guard New builds stays underneath.
func TestAPIClient2ReviewTokenWrapperFreshTokenPerAttempt(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	var tenant []string
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		tenant = append(tenant, r.Header.Get("X-Tenant"))
		mu.Unlock()
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":7}`)
	}))
	defer srv.Close()
	src := &apiTokens{ttl: time.Nanosecond} // expired by the time of the retry
	f, err := New(WithHeader("X-Tenant", "acme"),
		WithRetry(RetryPolicy{BaseDelay: time.Millisecond}),
		WithTransportWrapper(func(rt http.RoundTripper) http.RoundTripper { return &apiAuthTransport{src: src, base: rt} }))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	v, err := GetJSON[struct{ ID int }](context.Background(), f, srv.URL+"/v1/things/7")
	if err != nil || v.ID != 7 {
		t.Fatalf("GetJSON = %+v, %v", v, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] == seen[1] || !strings.HasPrefix(seen[1], "Bearer tok-") {
		t.Errorf("Authorization per attempt = %q; want a fresh token on the retry", seen)
	}
	if tenant[0] != "acme" || tenant[1] != "acme" {
		t.Errorf("X-Tenant per attempt = %q; want the default header on every attempt", tenant)
	}

	// The guard is kept under the wrapper: loopback is refused.
	g, err := New(WithBlockPrivateAddresses(),
		WithTransportWrapper(func(rt http.RoundTripper) http.RoundTripper { return &apiAuthTransport{src: src, base: rt} }))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	if _, err := g.Get(context.Background(), srv.URL); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("guarded Get through the wrapper = %v; want ErrBlockedAddress", err)
	}
}

// A 401 for a token the server revoked before its expiry: not retried by
// default (a 401 is the caller's to handle), and retried once, with a fresh
// token, by a Retryable that says so and a transport that drops the token
// it saw refused.
func TestAPIClient2Review401RefreshOnce(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.Header.Get("Authorization") == "Bearer tok-1" { // revoked
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_token"}`)
			return
		}
		io.WriteString(w, `{"id":1}`)
	}))
	defer srv.Close()
	wrap := func(src *apiTokens) Option {
		return WithTransportWrapper(func(rt http.RoundTripper) http.RoundTripper { return &apiAuthTransport{src: src, base: rt} })
	}

	f, err := New(wrap(&apiTokens{ttl: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	_, err = GetJSON[struct{ ID int }](context.Background(), f, srv.URL+"/me")
	se, isStatus := errors.AsType[*StatusError](err)
	if !isStatus || se.StatusCode != 401 || !strings.Contains(string(se.Body), "invalid_token") || n.Load() != 1 {
		t.Fatalf("default policy: err %v after %d requests; want one 401 with its body, not retried", err, n.Load())
	}

	n.Store(0)
	g, err := New(wrap(&apiTokens{ttl: time.Hour}), WithRetry(RetryPolicy{BaseDelay: time.Millisecond, Retryable: retry401}))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	v, err := GetJSON[struct{ ID int }](context.Background(), g, srv.URL+"/me")
	if err != nil || v.ID != 1 || n.Load() != 2 {
		t.Errorf("retry-401 policy: %+v, %v after %d requests; want success on the second", v, err, n.Load())
	}
}

// The credential options are not sent on a redirect to another host, nor
// is a tenant's API key given with WithHeader; a per-call Authorization
// follows net/http's rule, which drops it too.
func TestAPIClient2ReviewCredentialsStayOnRedirect(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got["auth"], got["key"] = r.Header.Get("Authorization"), r.Header.Get("X-Api-Key")
		mu.Unlock()
		io.WriteString(w, `{}`)
	}))
	defer other.Close()
	// Another host name for the same loopback server: "localhost".
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherURL+"/download", http.StatusFound)
	}))
	defer api.Close()
	for _, tc := range []struct {
		name string
		opts []Option
		req  []RequestOption
	}{
		{"WithBearerToken+WithHeader", []Option{WithBearerToken("secret"), WithHeader("X-Api-Key", "k")}, nil},
		{"per-call Header", nil, []RequestOption{Header("Authorization", "Bearer secret"), Header("X-Api-Key", "k")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Shutdown(context.Background())
			if _, err := f.Get(context.Background(), api.URL+"/export", tc.req...); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if got["auth"] != "" {
				t.Errorf("the other host got Authorization %q", got["auth"])
			}
			if tc.opts != nil && got["key"] != "" {
				t.Errorf("the other host got the default X-Api-Key %q", got["key"])
			}
		})
	}
}

// GitHub's secondary rate limit (403 with Retry-After) and its primary one
// (403, X-RateLimit-Remaining: 0, X-RateLimit-Reset) are waited out, and so
// is a 429 that announces its reset in a RateLimit field; the StatusError
// of the final failure keeps the API's message.
func TestAPIClient2ReviewRateLimitHeadersWaitedOut(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header func(now time.Time) http.Header
		want   time.Duration
	}{
		{"403 secondary", 403, func(time.Time) http.Header { return http.Header{"Retry-After": {"60"}} }, 60 * time.Second},
		{"403 primary", 403, func(now time.Time) http.Header {
			return http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(now.Add(90*time.Second).Unix(), 10)}}
		}, 90 * time.Second},
		{"429 RateLimit field", 429, func(time.Time) http.Header {
			return http.Header{"Ratelimit": {`"default";r=0;t=30`}, "Ratelimit-Policy": {`"default";q=100;w=60`}}
		}, 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var times []time.Duration
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					times = append(times, time.Since(start))
					if len(times) == 1 {
						for k, v := range tc.header(time.Now()) {
							w.Header()[k] = v
						}
						w.WriteHeader(tc.status)
						io.WriteString(w, `{"message":"You have exceeded a rate limit"}`)
						return
					}
					io.WriteString(w, `[]`)
				})
				f := newMem(t, h)
				defer f.Shutdown(context.Background())
				if _, err := GetJSON[[]int](context.Background(), f, "http://api.test/repos"); err != nil {
					t.Fatal(err)
				}
				if len(times) != 2 || times[1] < tc.want || times[1] > tc.want+time.Second {
					t.Errorf("requests at %v; want the retry after %v", times, tc.want)
				}
			})
		})
	}
}

// A POST carrying an Idempotency-Key is retried with the same body and
// key; one without is sent once, and its StatusError carries the API's
// JSON error, its Content-Type in Header.
func TestAPIClient2ReviewPostIdempotencyKey(t *testing.T) {
	var mu sync.Mutex
	var bodies, keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		first := len(bodies) == 1
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if first || r.Header.Get("Idempotency-Key") == "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"type":"api_error","message":"try again"}}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"ch_1","amount":500}`)
	}))
	defer srv.Close()
	f, err := New(WithBearerToken("sk_test"), WithRetry(RetryPolicy{BaseDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	payload := []byte(`{"amount":500}`)
	type charge struct {
		ID     string
		Amount int
	}
	c, err := GetJSON[charge](context.Background(), f, srv.URL+"/v1/charges",
		Method("POST"), Body("application/json", payload), Header("Idempotency-Key", "k-1"))
	if err != nil || c.ID != "ch_1" {
		t.Fatalf("POST with a key: %+v, %v", c, err)
	}
	mu.Lock()
	if len(bodies) != 2 || bodies[1] != string(payload) || keys[1] != "k-1" {
		t.Errorf("attempts sent bodies %q keys %q; want the same body and key twice", bodies, keys)
	}
	bodies, keys = nil, nil
	mu.Unlock()

	_, err = GetJSON[charge](context.Background(), f, srv.URL+"/v1/charges", Method("POST"), Body("application/json", payload))
	se, isStatus := errors.AsType[*StatusError](err)
	if !isStatus || se.StatusCode != 503 || se.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("POST without a key: %v; want its 503 StatusError", err)
	}
	var apiErr struct {
		Error struct{ Type, Message string }
	}
	if err := json.Unmarshal(se.Body, &apiErr); err != nil || apiErr.Error.Message != "try again" {
		t.Errorf("StatusError.Body %q does not decode to the API's error: %v", se.Body, err)
	}
	if fe, _ := errors.AsType[*Error](err); fe == nil || fe.Attempts != 1 || !strings.Contains(err.Error(), "POST "+srv.URL+"/v1/charges") {
		t.Errorf("error %v: want one attempt, naming the POST and its URL", err)
	}
}

// The StatusError of a 5xx whose retries ran out carries the last
// attempt's body, cut at MaxErrorBody.
func TestAPIClient2ReviewStatusErrorLastBodyCapped(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, `{"attempt":%d,"pad":"%s"}`, n.Add(1), strings.Repeat("x", 2*MaxErrorBody))
	}))
	defer srv.Close()
	f, err := New(WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	_, err = f.Get(context.Background(), srv.URL+"/v1/items")
	se, isStatus := errors.AsType[*StatusError](err)
	if !isStatus {
		t.Fatalf("err = %v; want a StatusError", err)
	}
	if len(se.Body) != MaxErrorBody || !strings.HasPrefix(string(se.Body), `{"attempt":3,`) {
		t.Errorf("StatusError.Body = %d bytes starting %.20q; want the last attempt's, %d bytes", len(se.Body), se.Body, MaxErrorBody)
	}
	if len(err.Error()) > 600 {
		t.Errorf("error text is %d bytes; want the body cut short in it", len(err.Error()))
	}
}

// A JSON body cut short on the wire is retried, and its error says it was
// the body's, and how far it got, as a HandleURLs handler's own
// json.Decoder gets said ("reading the body: unexpected EOF after 6 of 100
// bytes"). GetJSON's own decoder said "decoding JSON: unexpected EOF"
// (or "decoding JSON: read tcp ...: connection reset by peer"), blaming
// the JSON for the network, with nothing to tell it from a server's
// malformed JSON but the type behind it.
func TestAPIClient2ReviewGetJSONCutBodyNamedAsBody(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, `{"id":`)
	}))
	defer srv.Close()
	f, err := New(WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	_, err = GetJSON[struct{ ID int }](context.Background(), f, srv.URL+"/v1/items")
	if !errors.Is(err, io.ErrUnexpectedEOF) || n.Load() != 2 {
		t.Fatalf("err = %v after %d requests; want io.ErrUnexpectedEOF, retried", err, n.Load())
	}
	if msg := err.Error(); strings.Contains(msg, "decoding JSON") || !strings.Contains(msg, "reading the body") || !strings.Contains(msg, "6 of 100 bytes") {
		t.Errorf("error %q: want the cut named as the body's, with how far it got, not as the JSON's", msg)
	}

	// The server's own malformed JSON is still the JSON's, and final.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"id":`) }))
	defer bad.Close()
	_, err = GetJSON[struct{ ID int }](context.Background(), f, bad.URL+"/v1/items")
	if fe, _ := errors.AsType[*Error](err); fe == nil || fe.Attempts != 1 || !strings.Contains(err.Error(), "decoding JSON") || !strings.Contains(err.Error(), bad.URL+"/v1/items") {
		t.Errorf("malformed JSON: %v; want one attempt, the URL, and \"decoding JSON\"", err)
	}
}

// One API host serving many tenants, told apart by a header: a 429 with
// Retry-After for one tenant pauses the whole host, so another tenant's
// request, whose quota is untouched, waits out the first one's pause too.
// This is documented (a pause is per host: host and port), and it is what
// a client of such an API has to live with: nothing keys the gates by
// anything but the URL's host (see the report's wanted features).
func TestAPIClient2ReviewTenantHeaderSharesHostPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var mu sync.Mutex
		got := map[string][]time.Duration{}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tenant := r.Header.Get("X-Tenant")
			mu.Lock()
			got[tenant] = append(got[tenant], time.Since(start))
			first := tenant == "a" && len(got["a"]) == 1
			mu.Unlock()
			if first {
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			io.WriteString(w, `{}`)
		})
		f := newMem(t, h)
		defer f.Shutdown(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := f.Get(context.Background(), "http://api.test/orders", Header("X-Tenant", "a")); err != nil {
				t.Error(err)
			}
		})
		time.Sleep(time.Second)
		if _, err := f.Get(context.Background(), "http://api.test/orders", Header("X-Tenant", "b")); err != nil {
			t.Error(err)
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(got["b"]) != 1 || got["b"][0] < 30*time.Second {
			t.Errorf("tenant b sent at %v; documented: it waits out tenant a's 30 s pause of the host", got["b"])
		}
	})
}

// Link-header pagination: GetJSON hands back the value alone, so a client
// that follows `Link: <...>; rel="next"` (GitHub) cannot use it, and falls
// back to Fetch (the whole body buffered) and json.Unmarshal, plus a Link
// parser of its own. This is the shortest honest loop.
func TestAPIClient2ReviewLinkPagination(t *testing.T) {
	const pages = 3
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if p == 0 {
			p = 1
		}
		if p < pages {
			w.Header().Set("Link", fmt.Sprintf(`<http://%s/items?page=%d>; rel="next", <http://%s/items?page=%d>; rel="last"`, r.Host, p+1, r.Host, pages))
		}
		fmt.Fprintf(w, `[{"id":%d},{"id":%d}]`, 2*p-1, 2*p)
	}))
	defer srv.Close()
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	nextLink := func(h http.Header) string {
		for _, v := range h.Values("Link") {
			for part := range strings.SplitSeq(v, ",") {
				target, params, _ := strings.Cut(part, ";")
				if strings.Contains(params, `rel="next"`) {
					return strings.Trim(strings.TrimSpace(target), "<>")
				}
			}
		}
		return ""
	}
	var ids []int
	for url := srv.URL + "/items"; url != ""; {
		r := f.Fetch(context.Background(), url)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		var items []struct{ ID int }
		if err := json.Unmarshal(r.Body, &items); err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		url = nextLink(r.Header)
	}
	if len(ids) != 2*pages || ids[len(ids)-1] != 2*pages {
		t.Errorf("walked ids %v; want 1..%d", ids, 2*pages)
	}
}

// A token set by a transport wrapper (oauth2.Transport's way) is set below
// the Fetcher's redirect rules, on every request the wrapper sees,
// redirects to other hosts included: it reaches a host the API redirects
// to (a CDN, a presigned storage URL), where WithBearerToken's does not. A
// wrapper has to spare redirects itself; net/http marks them with
// req.Response, which the Fetcher's gated redirects keep.
func TestAPIClient2ReviewTokenWrapperRedirectLeak(t *testing.T) {
	var mu sync.Mutex
	var cdnAuth []string
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cdnAuth = append(cdnAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		io.WriteString(w, "blob")
	}))
	defer cdn.Close()
	cdnURL := strings.Replace(cdn.URL, "127.0.0.1", "localhost", 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, cdnURL+"/blob/1", http.StatusFound)
	}))
	defer api.Close()

	naive := func(rt http.RoundTripper) http.RoundTripper {
		return &apiAuthTransport{src: &apiTokens{ttl: time.Hour}, base: rt}
	}
	spareRedirects := func(rt http.RoundTripper) http.RoundTripper {
		authed := &apiAuthTransport{src: &apiTokens{ttl: time.Hour}, base: rt}
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			first := req
			for first.Response != nil && first.Response.Request != nil {
				first = first.Response.Request
			}
			if first != req && !sameDomain(first.URL, req.URL) {
				return rt.RoundTrip(req)
			}
			return authed.RoundTrip(req)
		})
	}
	for _, tc := range []struct {
		name string
		wrap func(http.RoundTripper) http.RoundTripper
		leak bool
	}{{"naive", naive, true}, {"spares redirects", spareRedirects, false}} {
		f, err := New(WithTransportWrapper(tc.wrap))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Get(context.Background(), api.URL+"/v1/exports/1"); err != nil {
			t.Fatal(err)
		}
		f.Shutdown(context.Background())
		mu.Lock()
		leaked := cdnAuth[len(cdnAuth)-1] != ""
		mu.Unlock()
		if leaked != tc.leak {
			t.Errorf("%s wrapper: the redirect's other host got the token: %v; want %v", tc.name, leaked, tc.leak)
		}
	}
}
