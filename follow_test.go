package fetch

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// redirectingServer answers /old with a 301 to /new, and /new with "new";
// it counts the requests /new gets.
func redirectingServer(t *testing.T) (srv *httptest.Server, landed *atomic.Int32) {
	t.Helper()
	landed = new(atomic.Int32)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
		case "/new":
			landed.Add(1)
			w.Write([]byte("new"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, landed
}

// WithFollowRedirects(false): Do returns the 3xx itself, with its Location
// and body, and the calls that read bodies fail the request with a
// StatusError that says where it pointed; nothing goes to the target.
func TestWithFollowRedirectsFalse(t *testing.T) {
	srv, landed := redirectingServer(t)
	f, err := New(WithFollowRedirects(false))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/old", nil)
	resp, err := f.Do(req)
	if err != nil {
		t.Fatalf("Do: %v; want the 301", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/new" || !strings.Contains(string(body), "/new") {
		t.Errorf("Do: %d, Location %q, body %q; want the 301 to /new, with its body", resp.StatusCode, resp.Header.Get("Location"), body)
	}

	r := f.Fetch(ctx, srv.URL+"/old")
	serr, ok := errors.AsType[*StatusError](r.Err)
	if !ok || serr.StatusCode != http.StatusMovedPermanently || serr.Header.Get("Location") != "/new" {
		t.Fatalf("Fetch: %v; want a StatusError for the 301, with its Location", r.Err)
	}
	if want := `status 301 Moved Permanently to "/new"`; serr.Error() != want {
		t.Errorf("StatusError says %q; want %q", serr.Error(), want)
	}
	if r.Status != http.StatusMovedPermanently || r.Header.Get("Location") != "/new" || r.FinalURL != srv.URL+"/old" || r.Attempts != 1 {
		t.Errorf("Result: status %d, Location %q, FinalURL %q, %d attempts; want the 301 from /old, sent once", r.Status, r.Header.Get("Location"), r.FinalURL, r.Attempts)
	}
	for res := range f.Stream(ctx, slices.Values([]string{srv.URL + "/old", srv.URL + "/new"})) {
		want := map[int]int{0: http.StatusMovedPermanently, 1: http.StatusOK}[res.Index]
		if res.Status != want {
			t.Errorf("Stream, input %d: status %d (%v); want %d", res.Index, res.Status, res.Err, want)
		}
	}
	if n := landed.Load(); n != 1 { // the Stream's own /new
		t.Errorf("/new was asked %d times; want once, by the input that named it", n)
	}
	if s := f.Stats(); s.InFlight != 0 {
		t.Errorf("%d attempts still in flight; want none", s.InFlight)
	}
}

// FollowRedirects chooses for one call's requests, either way, and holds
// for requests given to Do, DoAll and StreamRequests, and built by
// Handle's newRequest; other calls keep the Fetcher's choice.
func TestFollowRedirectsPerCall(t *testing.T) {
	srv, landed := redirectingServer(t)
	ctx := t.Context()
	follows, err := New()
	if err != nil {
		t.Fatal(err)
	}
	stays, err := New(WithFollowRedirects(false))
	if err != nil {
		t.Fatal(err)
	}

	if r := follows.Fetch(ctx, srv.URL+"/old", FollowRedirects(false)); r.Status != http.StatusMovedPermanently {
		t.Errorf("Fetch with FollowRedirects(false): %d, %v; want the 301", r.Status, r.Err)
	}
	if r := follows.Fetch(ctx, srv.URL+"/old"); r.Err != nil || string(r.Body) != "new" {
		t.Errorf("the next Fetch without it: %q, %v; want /new's body", r.Body, r.Err)
	}
	for _, r := range stays.GetAll(ctx, []string{srv.URL + "/old"}, FollowRedirects(true)) {
		if r.Err != nil || string(r.Body) != "new" || r.FinalURL != srv.URL+"/new" {
			t.Errorf("GetAll with FollowRedirects(true) on a Fetcher that does not: %q from %q, %v; want /new's body", r.Body, r.FinalURL, r.Err)
		}
	}
	if got := landed.Load(); got != 2 {
		t.Errorf("/new was asked %d times; want 2", got)
	}

	newReq := func() *http.Request {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/old", nil)
		if err := FollowRedirects(false)(req); err != nil {
			t.Fatal(err)
		}
		return req
	}
	resp, err := follows.Do(newReq())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently {
		t.Errorf("Do of a request with FollowRedirects(false): %d; want the 301", resp.StatusCode)
	}
	for _, r := range follows.DoAll(ctx, []*http.Request{newReq()}) {
		if r.Status != http.StatusMovedPermanently {
			t.Errorf("DoAll: %d, %v; want the 301", r.Status, r.Err)
		}
	}
	for r := range follows.StreamRequests(ctx, slices.Values([]*http.Request{newReq()})) {
		if r.Status != http.StatusMovedPermanently {
			t.Errorf("StreamRequests: %d, %v; want the 301", r.Status, r.Err)
		}
	}
	if got := landed.Load(); got != 2 {
		t.Errorf("/new was asked %d times; want still 2", got)
	}
}

// A Fetcher built on the caller's client (WithClient) stops at a redirect
// too, before the client's CheckRedirect is asked.
func TestWithFollowRedirectsFalseWithClient(t *testing.T) {
	srv, landed := redirectingServer(t)
	var asked atomic.Int32
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		asked.Add(1)
		return nil
	}}
	f, err := New(WithClient(client), WithFollowRedirects(false))
	if err != nil {
		t.Fatal(err)
	}
	if r := f.Fetch(t.Context(), srv.URL+"/old"); r.Status != http.StatusMovedPermanently {
		t.Errorf("Fetch: %d, %v; want the 301", r.Status, r.Err)
	}
	if asked.Load() != 0 || landed.Load() != 0 {
		t.Errorf("CheckRedirect asked %d times, /new %d; want neither", asked.Load(), landed.Load())
	}
}

// A crawl's robots.txt follows its redirect (RFC 9309 §2.3.1.2) on a
// Fetcher that follows none.
func TestWithFollowRedirectsFalseRobots(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			http.Redirect(w, r, "/real-robots.txt", http.StatusMovedPermanently)
		case "/real-robots.txt":
			w.Write([]byte("User-agent: *\nDisallow: /private\n"))
		default:
			w.Write([]byte("page"))
		}
	}))
	defer srv.Close()
	f, err := New(WithFollowRedirects(false))
	if err != nil {
		t.Fatal(err)
	}
	cr, err := NewCrawler(f)
	if err != nil {
		t.Fatal(err)
	}
	var disallowed, fetched int
	for p := range cr.Run(t.Context(), srv.URL+"/private/a", srv.URL+"/open") {
		switch {
		case errors.Is(p.Err, ErrDisallowed):
			disallowed++
		case p.Err == nil:
			fetched++
		default:
			t.Errorf("%s: %v", p.URL, p.Err)
		}
	}
	if disallowed != 1 || fetched != 1 {
		t.Errorf("%d disallowed, %d fetched; want 1 and 1, as the robots.txt redirected to says", disallowed, fetched)
	}
}

// A call made under another call's context (a handler's, say) does not
// take on that call's request settings: neither FollowRedirects nor
// MaxBodySize.
func TestRequestSettingsStayWithTheirCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
		case "/new":
			w.Write([]byte("new"))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 100)))
		}
	}))
	defer srv.Close()
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var inner []Result
	for h := range HandleURLs(t.Context(), f, slices.Values([]string{srv.URL + "/new"}), func(_ string, resp *http.Response) (int, error) {
		ctx := resp.Request.Context()
		inner = append(inner, f.Fetch(ctx, srv.URL+"/old"), f.Fetch(ctx, srv.URL+"/big"))
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/old", nil)
		inner = append(inner, f.DoAll(ctx, []*http.Request{req})...)
		return resp.StatusCode, nil
	}, FollowRedirects(false), MaxBodySize(3)) {
		if h.Err != nil {
			t.Fatalf("the outer call: %v", h.Err)
		}
	}
	for i, want := range []string{"new", strings.Repeat("x", 100), "new"} {
		if r := inner[i]; r.Err != nil || string(r.Body) != want {
			t.Errorf("call %d under the handler's context: %q, %v; want %q, followed and not capped", i, r.Body, r.Err, want)
		}
	}
}
