package fetch

// Checks of behavioural claims made by the doc comments of the package's
// exported identifiers (go doc -all .). Each test quotes the claim it checks.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Hooks: "A call that fails before it starts (an invalid request, or one
// made after Shutdown) runs none of them."
func TestGodocAuditHooksNotRunBeforeStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		hooks := Hooks{
			OnCall:    func(ctx context.Context, _ CallInfo) context.Context { n.Add(1); return ctx },
			OnAttempt: func(AttemptInfo) { n.Add(1) },
			OnRetry:   func(RetryInfo) { n.Add(1) },
			OnDone:    func(DoneInfo) { n.Add(1) },
		}
		f := newMem(t, http.HandlerFunc(ok), WithHooks(hooks))
		if _, err := f.Get(t.Context(), "ftp://x.test/"); !errors.Is(err, ErrInvalidURL) {
			t.Fatalf("Get(ftp) = %v; want ErrInvalidURL", err)
		}
		rs := f.GetAll(t.Context(), []string{"not a url"})
		if !errors.Is(rs[0].Err, ErrInvalidURL) {
			t.Fatalf("GetAll(bad) = %v; want ErrInvalidURL", rs[0].Err)
		}
		if err := f.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Get(t.Context(), "http://x.test/"); !errors.Is(err, ErrClosed) {
			t.Fatalf("Get after Shutdown = %v; want ErrClosed", err)
		}
		if got := n.Load(); got != 0 {
			t.Errorf("hooks ran %d times for calls that failed before they started; want none", got)
		}
	})
}

// Stats: "Calls is the number of calls that have ended, however they ended:
// Succeeded plus Failed.Total()"; Failures.Status: "the final response was
// not 2xx ([Fetcher.Do] returns it, and it is counted here too)";
// Failures.Refused: "invalid input, Shutdown".
func TestGodocAuditStatsCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/404" {
				http.NotFound(w, r)
				return
			}
			ok(w, r)
		}))
		resp, err := f.Do(mustGet(t, "http://a.test/404"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		f.Get(t.Context(), "::bad")
		s := f.Stats()
		if s.Failed.Status != 1 || s.Succeeded != 1 || s.Failed.Refused != 1 {
			t.Errorf("Stats = %+v; want Status 1 (Do's 404), Succeeded 1, Refused 1 (invalid URL)", s)
		}
		if s.Calls != s.Succeeded+s.Failed.Total() || s.Calls != 3 {
			t.Errorf("Calls = %d; want Succeeded+Failed.Total() = 3", s.Calls)
		}
		f.Shutdown(t.Context())
		f.Get(t.Context(), "http://a.test/")
		if got := f.Stats().Failed.Refused; got != 2 {
			t.Errorf("Failed.Refused after a call past Shutdown = %d; want 2", got)
		}
	})
}

// RetryPolicy.Backoff: "The result is never negative and never above
// MaxDelay, for any retry number. ... on a zero RetryPolicy it returns 0."
// Jitter: "EqualJitter waits d/2 plus a uniform random time in [0, d/2)",
// "NoJitter waits exactly d", "DecorrelatedJitter waits a uniform random
// time between the base delay and three times the previous delay, capped."
func TestGodocAuditBackoff(t *testing.T) {
	if d := (RetryPolicy{}).Backoff(3, 0); d != 0 {
		t.Errorf("zero policy Backoff = %v; want 0", d)
	}
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, Jitter: NoJitter}
	for retry, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 1000: time.Second} {
		if d := p.Backoff(retry, 0); d != want {
			t.Errorf("NoJitter Backoff(%d) = %v; want %v", retry, d, want)
		}
	}
	for _, j := range []Jitter{FullJitter, EqualJitter, DecorrelatedJitter} {
		p.Jitter = j
		for retry := -1; retry < 200; retry++ {
			d := p.Backoff(retry, time.Duration(retry)*time.Second)
			if d < 0 || d > p.MaxDelay {
				t.Fatalf("jitter %d Backoff(%d) = %v; out of [0, MaxDelay]", j, retry, d)
			}
		}
	}
	p.Jitter = EqualJitter
	for range 200 {
		if d := p.Backoff(3, 0); d < 200*time.Millisecond || d >= 400*time.Millisecond {
			t.Fatalf("EqualJitter Backoff(3) = %v; want in [200ms, 400ms)", d)
		}
	}
	p.Jitter = DecorrelatedJitter
	for range 200 {
		if d := p.Backoff(2, 150*time.Millisecond); d < 100*time.Millisecond || d >= 450*time.Millisecond {
			t.Fatalf("DecorrelatedJitter Backoff(prev 150ms) = %v; want in [100ms, 450ms)", d)
		}
	}
}

// RetryPolicy.BaseDelay: "Zero means the default, 100ms (or MaxDelay, if
// that is set and less)"; RetryInfo.Delay is "the wait before the next
// attempt", and RetryInfo.Status "the status the failed attempt was
// answered with".
func TestGodocAuditBaseDelayDefaultCappedByMaxDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var delays []time.Duration
		var statuses []int
		f := newMem(t, failing(2, http.StatusServiceUnavailable, nil),
			WithRetry(RetryPolicy{MaxDelay: 30 * time.Millisecond, Jitter: NoJitter}),
			WithHooks(Hooks{OnRetry: func(ri RetryInfo) { delays = append(delays, ri.Delay); statuses = append(statuses, ri.Status) }}))
		start := time.Now()
		if _, err := f.Get(t.Context(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(delays) != "[30ms 30ms]" || fmt.Sprint(statuses) != "[503 503]" {
			t.Errorf("retry delays %v statuses %v; want [30ms 30ms] (MaxDelay, less than the 100ms default) [503 503]", delays, statuses)
		}
		if el := time.Since(start); el != 60*time.Millisecond {
			t.Errorf("call took %v; want 60ms", el)
		}
	})
}

// Method: "A method other than GET, HEAD, OPTIONS, PUT, DELETE or TRACE is
// not retried (see RetryPolicy) unless the request carries an
// Idempotency-Key"; RetryPolicy: "or X-Idempotency-Key".
func TestGodocAuditNonIdempotentRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			opts []RequestOption
			want int
		}{
			{[]RequestOption{Method("POST")}, 1},
			{[]RequestOption{Method("PATCH")}, 1},
			{[]RequestOption{Method("POST"), Header("Idempotency-Key", "k1")}, 2},
			{[]RequestOption{Method("POST"), Header("X-Idempotency-Key", "k1")}, 2},
			{[]RequestOption{Method("DELETE")}, 2},
			{[]RequestOption{Method("OPTIONS")}, 2},
		} {
			c := count(failing(1, http.StatusServiceUnavailable, nil))
			f := newMem(t, c)
			r := f.Fetch(t.Context(), "http://a.test/", tc.opts...)
			if int(c.n.Load()) != tc.want || r.Attempts != tc.want {
				t.Errorf("%d options: server saw %d requests, Attempts %d; want %d", len(tc.opts), c.n.Load(), r.Attempts, tc.want)
			}
		}
	})
}

// StatusError.Error: "returns the status, as in "status 503 Service
// Unavailable", and the start of the body if it is text that says more than
// the status does".
func TestGodocAuditStatusErrorText(t *testing.T) {
	for _, tc := range []struct {
		e    StatusError
		want string
	}{
		{StatusError{StatusCode: 503, Status: "503 Service Unavailable"}, "status 503 Service Unavailable"},
		{StatusError{StatusCode: 403, Status: "403 Forbidden", Body: []byte(`{"error":"quota exceeded"}`)}, `status 403 Forbidden: {"error":"quota exceeded"}`},
		{StatusError{StatusCode: 404, Status: "404 Not Found", Body: []byte("Not Found")}, "status 404 Not Found"},
		{StatusError{StatusCode: 500, Status: "500 Internal Server Error", Body: []byte{0xff, 0xfe, 0, 1, 2}}, "status 500 Internal Server Error"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q; want %q", got, tc.want)
		}
	}
}

// PerMinute: "returns a rate of n events per minute"; PerSecond likewise.
func TestGodocAuditPerMinute(t *testing.T) {
	if PerMinute(600) != 10 || PerSecond(5) != 5 || PerMinute(30) != 0.5 {
		t.Errorf("PerMinute(600) = %v, PerSecond(5) = %v, PerMinute(30) = %v", PerMinute(600), PerSecond(5), PerMinute(30))
	}
}

// NormalizeURL: scheme and host lower-cased, default port dropped, empty path
// made "/", user info and fragment dropped, unreserved escapes decoded, other
// escapes upper-cased, dot segments removed, "%2F" kept apart from "/", an
// empty query dropped, query order kept.
func TestGodocAuditNormalizeURL(t *testing.T) {
	key := func(s string) string {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return NormalizeURL(u)
	}
	for in, want := range map[string]string{
		"HTTP://User:pw@Example.COM:80":      "http://example.com/",
		"https://example.com:443/a#frag":     "https://example.com/a",
		"http://example.com/%7Euser":         "http://example.com/~user",
		"http://example.com/%7euser":         "http://example.com/~user",
		"http://example.com/a/../~user":      "http://example.com/~user",
		"http://example.com/a%2fb":           "http://example.com/a%2Fb",
		"http://example.com/c?":              "http://example.com/c",
		"http://example.com/q?b=2&a=1":       "http://example.com/q?b=2&a=1",
		"http://example.com/q?x=%41%2f":      "http://example.com/q?x=A%2F",
		"http://example.com:8080/./x/./y/..": "http://example.com:8080/x/",
	} {
		if got := key(in); got != want {
			t.Errorf("NormalizeURL(%s) = %s; want %s", in, got, want)
		}
	}
}

// TaskGroup: "The zero TaskGroup ... runs it [a task given to Go after
// Wait], for a later Wait to report", "a group made by NewTaskGroup skips a
// task given to Go after Wait without a word ..., and TryGo returns false";
// NewTaskGroup's context "is cancelled ... when Wait returns"; SetLimit: "a
// limit of zero makes ... every TryGo return false".
func TestGodocAuditTaskGroupAfterWait(t *testing.T) {
	var zero TaskGroup
	if err := zero.Wait(); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	zero.Go(func() error { return boom })
	if err := zero.Wait(); !errors.Is(err, boom) {
		t.Errorf("zero TaskGroup: Wait after a Go past the first Wait = %v; want boom", err)
	}

	g, ctx := NewTaskGroup(t.Context())
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() == nil {
		t.Error("NewTaskGroup's context is live after Wait returned")
	}
	var ran atomic.Bool
	g.Go(func() error { ran.Store(true); return boom })
	if g.TryGo(func() error { ran.Store(true); return nil }) {
		t.Error("TryGo after Wait returned true")
	}
	if err := g.Wait(); err != nil || ran.Load() {
		t.Errorf("NewTaskGroup after Wait: task ran %v, Wait = %v; want skipped, nil", ran.Load(), err)
	}

	var lim TaskGroup
	lim.SetLimit(0)
	if lim.TryGo(func() error { return nil }) {
		t.Error("TryGo with SetLimit(0) returned true")
	}
	if err := lim.Wait(); err != nil {
		t.Error(err)
	}
}

// TaskGroup.Wait: "If no task failed but the context ended from outside ...
// and some task gave up or was skipped because of it, Wait returns the
// context's cause"; "an error joining a cancellation with another error ...
// [is] always kept".
func TestGodocAuditTaskGroupOutsideCancel(t *testing.T) {
	cause := errors.New("shutting down")
	parent, cancel := context.WithCancelCause(t.Context())
	g, ctx := NewTaskGroup(parent)
	started := make(chan struct{})
	g.Go(func() error { close(started); <-ctx.Done(); return ctx.Err() })
	<-started
	cancel(cause)
	if err := g.Wait(); !errors.Is(err, cause) {
		t.Errorf("Wait after the parent was cancelled = %v; want its cause", err)
	}

	other := errors.New("other")
	parent2, cancel2 := context.WithCancel(t.Context())
	g2, ctx2 := NewTaskGroup(parent2)
	started2 := make(chan struct{})
	g2.Go(func() error { close(started2); <-ctx2.Done(); return errors.Join(ctx2.Err(), other) })
	<-started2
	cancel2()
	if err := g2.Wait(); !errors.Is(err, other) {
		t.Errorf("Wait = %v; want the joined error kept", err)
	}
}

// Header: "A Host header sets the request's Host, which net/http sends in
// place of the URL's host"; "Where a Fetcher's default (WithHeader) has the
// same key, Header replaces it". WithHeader: "values for one key
// accumulate". Body: "of the given Content-Type (none if "")".
func TestGodocAuditRequestOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got *http.Request
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Clone(context.Background()) }),
			WithHeader("X-A", "1"), WithHeader("X-A", "2"), WithHeader("X-B", "default"))
		if _, err := f.Get(t.Context(), "http://a.test/", Header("host", "b.test"), Header("X-B", "mine"),
			Method("PUT"), Body("", []byte("x"))); err != nil {
			t.Fatal(err)
		}
		if got.Host != "b.test" {
			t.Errorf("Host = %q; want b.test", got.Host)
		}
		if v := got.Header.Values("X-A"); len(v) != 2 || v[0] != "1" || v[1] != "2" {
			t.Errorf("X-A = %q; want [1 2]", v)
		}
		if v := got.Header.Values("X-B"); len(v) != 1 || v[0] != "mine" {
			t.Errorf("X-B = %q; want [mine]", v)
		}
		if _, ok := got.Header["Content-Type"]; ok {
			t.Errorf("Content-Type = %q; want none", got.Header.Get("Content-Type"))
		}
	})
}

// MaxBodySize: "-1 lifts the cap"; WithMaxBodySize: "a longer body is an
// ErrBodyTooLarge error. Fetcher.Do ... does not cap it."
func TestGodocAuditMaxBodySize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		big := strings.Repeat("x", 100)
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) }), WithMaxBodySize(10))
		if _, err := f.Get(t.Context(), "http://a.test/"); !errors.Is(err, ErrBodyTooLarge) {
			t.Errorf("Get over the cap = %v; want ErrBodyTooLarge", err)
		}
		if b, err := f.Get(t.Context(), "http://a.test/", MaxBodySize(-1)); err != nil || string(b) != big {
			t.Errorf("Get with MaxBodySize(-1) = %d bytes, %v; want all 100", len(b), err)
		}
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(b) != 100 {
			t.Errorf("Do body = %d bytes, %v; want 100, uncapped", len(b), err)
		}
	})
}

// WithMaxRedirects: "0 follows none" before failing with
// ErrTooManyRedirects; ErrTooManyRedirects: "or to a URL that is not an
// http or https URL with a host ...: a refused redirect. It is never
// retried." Result.FinalURL: "the URL of the final response, after
// redirects".
func TestGodocAuditRedirects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/ftp":
				http.Redirect(w, r, "ftp://a.test/x", http.StatusFound)
			case "/r":
				http.Redirect(w, r, "http://b.test/end", http.StatusFound)
			default:
				ok(w, r)
			}
		})
		f := newMem(t, c)
		r := f.Fetch(t.Context(), "http://a.test/ftp")
		if !errors.Is(r.Err, ErrTooManyRedirects) || c.n.Load() != 1 || r.Attempts != 1 {
			t.Errorf("redirect to ftp: err %v, %d requests, Attempts %d; want ErrTooManyRedirects, 1, 1", r.Err, c.n.Load(), r.Attempts)
		}
		if r := f.Fetch(t.Context(), "http://a.test/r"); r.Err != nil || r.FinalURL != "http://b.test/end" {
			t.Errorf("Fetch redirect: FinalURL %q, err %v; want http://b.test/end", r.FinalURL, r.Err)
		}
	})
}

// WithMaxRedirects: "0 follows none" before failing with ErrTooManyRedirects.
func TestGodocAuditMaxRedirectsZero(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/r" {
			http.Redirect(w, r, "/end", http.StatusFound)
			return
		}
		ok(w, r)
	}))
	defer srv.Close()
	f, err := New(WithMaxRedirects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	r := f.Fetch(t.Context(), srv.URL+"/r")
	if !errors.Is(r.Err, ErrTooManyRedirects) || n.Load() != 1 {
		t.Errorf("WithMaxRedirects(0): err %v after %d requests; want ErrTooManyRedirects after 1", r.Err, n.Load())
	}
}

// PanicError.Unwrap: "returns the panic value if it is an error, so that a
// panic with an error value still matches it under errors.Is".
func TestGodocAuditPanicErrorUnwrap(t *testing.T) {
	boom := errors.New("boom")
	var g TaskGroup
	g.Go(func() error { panic(fmt.Errorf("wrapped: %w", boom)) })
	err := g.Wait()
	var pe *PanicError
	if !errors.As(err, &pe) || !errors.Is(err, boom) {
		t.Errorf("Wait = %v; want a *PanicError matching boom", err)
	}
	var g2 TaskGroup
	g2.Go(func() error { panic("text") })
	if err := g2.Wait(); !errors.As(err, &pe) || pe.Value != "text" || len(pe.Stack) == 0 {
		t.Errorf("Wait = %v; want a *PanicError with value and stack", err)
	}
}

// DefaultIsFailure: "a 5xx fails, and so does an error, but for the
// Fetcher's own limits ... A 429, or a 503 with Retry-After, does not".
func TestGodocAuditDefaultIsFailure(t *testing.T) {
	resp := func(code int, kv ...string) *http.Response {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return &http.Response{StatusCode: code, Header: h}
	}
	for _, tc := range []struct {
		resp *http.Response
		err  error
		want bool
	}{
		{resp(500), nil, true},
		{resp(502), nil, true},
		{resp(503), nil, true},
		{resp(503, "Retry-After", "5"), nil, false},
		{resp(429), nil, false},
		{resp(404), nil, false},
		{nil, errors.New("dial: refused"), true},
		{nil, &Error{Err: ErrBodyTooLarge}, false},
		{nil, ErrHeaderTooLarge, false},
		{nil, ErrTooManyRedirects, false},
		{nil, ErrBlockedAddress, false},
		{nil, ErrInvalidURL, false},
	} {
		if got := DefaultIsFailure(tc.resp, tc.err); got != tc.want {
			t.Errorf("DefaultIsFailure(%v, %v) = %v; want %v", tc.resp, tc.err, got, tc.want)
		}
	}
}

// DefaultRetryable: "It retries the statuses 408, 429, 500, 502, 503 and
// 504; a 403 that says it is a rate limit ... It does not retry other
// statuses, ... too many redirects, a body over the size cap".
func TestGodocAuditDefaultRetryable(t *testing.T) {
	resp := func(code int, kv ...string) *http.Response {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return &http.Response{StatusCode: code, Header: h}
	}
	for _, tc := range []struct {
		resp *http.Response
		err  error
		want bool
	}{
		{resp(408), nil, true}, {resp(429), nil, true}, {resp(500), nil, true},
		{resp(502), nil, true}, {resp(503), nil, true}, {resp(504), nil, true},
		{resp(501), nil, false}, {resp(404), nil, false}, {resp(400), nil, false}, {resp(505), nil, false},
		{resp(403), nil, false},
		{resp(403, "X-RateLimit-Remaining", "0"), nil, true},
		{resp(403, "X-RateLimit-Remaining", "5"), nil, false},
		{resp(403, "RateLimit-Remaining", "0"), nil, true},
		{resp(403, "RateLimit", `"default";r=0;t=30`), nil, true},
		{resp(403, "Retry-After", "10"), nil, true},
		{nil, ErrTooManyRedirects, false},
		{nil, ErrBodyTooLarge, false},
		{nil, ErrHeaderTooLarge, false},
		{nil, errors.New("something unknown"), false},
		{nil, io.ErrUnexpectedEOF, true},
	} {
		if got := DefaultRetryable(tc.resp, tc.err); got != tc.want {
			t.Errorf("DefaultRetryable(%v, %v) = %v; want %v", tc.resp, tc.err, got, tc.want)
		}
	}
}

// crawlSite serves a small linked site in memory: /robots.txt 404, and
// pages whose links are given by links[path].
func crawlSite(links map[string][]string, hits *sync.Map) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if hits != nil {
			v, _ := hits.LoadOrStore(r.Host+r.URL.Path, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
		}
		ls, found := links[r.URL.Path]
		if !found {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><head><title>t</title></head><body>")
		for _, l := range ls {
			fmt.Fprintf(w, `<a href="%s">x</a>`, l)
		}
		fmt.Fprint(w, "</body></html>")
	}
}

// Crawler: "Run(ctx, u, u+"#top") yields one page"; CrawlKey: "CrawlKey(nil)
// turns deduplication off"; CrawlScope: "a seed outside it ... comes back as
// a Page whose Err matches ErrOutOfScope"; Page.Follow: "finds the crawl
// ended and returns ErrCrawlDone".
func TestGodocAuditCrawlSeedsAndScope(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, crawlSite(map[string][]string{"/": {"/a"}, "/a": nil}, nil))
		c, err := NewCrawler(f, CrawlHosts("example.com"))
		if err != nil {
			t.Fatal(err)
		}
		var pages []*Page
		for p := range c.Run(t.Context(), "http://example.com/", "http://example.com/#top", "http://www.example.com/", "http://notexample.com/") {
			pages = append(pages, p)
		}
		if len(pages) != 3 {
			t.Fatalf("got %d pages; want 3 (u and u#top as one, www., and notexample.com out of scope)", len(pages))
		}
		var outs int
		for _, p := range pages {
			if errors.Is(p.Err, ErrOutOfScope) {
				outs++
				if p.URL != "http://notexample.com/" {
					t.Errorf("out of scope: %s", p.URL)
				}
			} else if p.Err != nil {
				t.Errorf("%s: %v", p.URL, p.Err)
			}
		}
		if outs != 1 {
			t.Errorf("%d pages out of scope; want 1", outs)
		}
		if err := pages[0].Follow("/a"); !errors.Is(err, ErrCrawlDone) {
			t.Errorf("Follow after the crawl ended = %v; want ErrCrawlDone", err)
		}

		c2, err := NewCrawler(f, CrawlKey(nil), CrawlIgnoreRobots())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range c2.Run(t.Context(), "http://example.com/", "http://example.com/") {
			n++
		}
		if n != 2 {
			t.Errorf("CrawlKey(nil): %d pages for a seed given twice; want 2", n)
		}
	})
}

// CrawlMaxDepth: "follows links only from pages at depth below n: seeds are
// at depth 0"; Page.Referrer: "the URL of the page it was found on, after its
// redirects"; Follow: "one level deeper than p", resolved against p's final
// URL.
func TestGodocAuditCrawlDepth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := crawlSite(map[string][]string{"/": {"d1"}, "/d1": {"d2"}, "/d2": {"d3"}, "/d3": nil}, nil)
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/start" {
				http.Redirect(w, r, "/", http.StatusFound)
				return
			}
			h(w, r)
		}))
		c, err := NewCrawler(f, CrawlMaxDepth(2))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]*Page{}
		for p := range c.Run(t.Context(), "http://a.test/start") {
			if p.Err != nil {
				t.Fatalf("%s: %v", p.URL, p.Err)
			}
			got[p.URL] = p
			p.Follow(p.Links()...)
		}
		if len(got) != 3 || got["http://a.test/d2"] == nil || got["http://a.test/d2"].Depth != 2 {
			t.Fatalf("pages %v; want /start, /d1, /d2 (depth 2), not /d3", keys(got))
		}
		if r := got["http://a.test/d1"].Referrer; r != "http://a.test/" {
			t.Errorf("d1's Referrer = %q; want the seed after its redirect, http://a.test/", r)
		}
	})
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// CrawlMaxURLs: "a new URL found past the cap comes back as a Page with
// ErrCrawlFull instead of being fetched, each time it is found".
func TestGodocAuditCrawlMaxURLs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hits sync.Map
		f := newMem(t, crawlSite(map[string][]string{"/": {"/a", "/b"}, "/a": {"/b"}, "/b": nil}, &hits))
		c, err := NewCrawler(f, CrawlMaxURLs(2), CrawlIgnoreRobots())
		if err != nil {
			t.Fatal(err)
		}
		var full []string
		var fetched []string
		for p := range c.Run(t.Context(), "http://a.test/") {
			switch {
			case errors.Is(p.Err, ErrCrawlFull):
				full = append(full, p.URL)
			case p.Err != nil:
				t.Errorf("%s: %v", p.URL, p.Err)
			default:
				fetched = append(fetched, p.URL)
			}
			p.Follow(p.Links()...)
		}
		if len(fetched) != 2 || len(full) != 2 || full[0] != "http://a.test/b" || full[1] != "http://a.test/b" {
			t.Errorf("fetched %v, full %v; want 2 fetched and /b full twice (found twice)", fetched, full)
		}
		if _, ok := hits.Load("a.test/b"); ok {
			t.Error("/b was fetched")
		}
		if _, err := NewCrawler(f, CrawlMaxURLs(2), CrawlFrontier(NewMemoryFrontier(0))); err == nil {
			t.Error("NewCrawler took CrawlMaxURLs with CrawlFrontier")
		}
	})
}

// CrawlFrontier: "The crawl closes fr when its Run ends, so a Crawler given
// fr serves one Run: the seeds of another come back with ErrCrawlDone."
func TestGodocAuditCrawlFrontierOneRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, crawlSite(map[string][]string{"/": nil, "/x": nil}, nil))
		c, err := NewCrawler(f, CrawlFrontier(NewMemoryFrontier(0)), CrawlIgnoreRobots())
		if err != nil {
			t.Fatal(err)
		}
		for p := range c.Run(t.Context(), "http://a.test/") {
			if p.Err != nil {
				t.Fatal(p.Err)
			}
		}
		var errs []error
		for p := range c.Run(t.Context(), "http://a.test/x") {
			errs = append(errs, p.Err)
		}
		if len(errs) != 1 || !errors.Is(errs[0], ErrCrawlDone) {
			t.Errorf("second Run yielded %v; want one page with ErrCrawlDone", errs)
		}
	})
}

// NewMemoryFrontier: "an Add past the cap fails with ErrCrawlFull"; Frontier.Add
// "queues e unless its key (if not "") was seen before"; Seen "reports
// whether it was new"; Next "returns ok false when nothing is queued or being
// handled".
func TestGodocAuditMemoryFrontier(t *testing.T) {
	fr := NewMemoryFrontier(2)
	ctx := t.Context()
	for i, tc := range []struct {
		e     CrawlEntry
		added bool
		full  bool
	}{
		{CrawlEntry{URL: "http://a/1", Key: "1"}, true, false},
		{CrawlEntry{URL: "http://a/1", Key: "1"}, false, false},
		{CrawlEntry{URL: "http://a/2", Key: "2"}, true, false},
		{CrawlEntry{URL: "http://a/3", Key: "3"}, false, true},
	} {
		added, err := fr.Add(tc.e)
		if added != tc.added || errors.Is(err, ErrCrawlFull) != tc.full {
			t.Errorf("Add #%d = %v, %v; want %v, full %v", i, added, err, tc.added, tc.full)
		}
	}
	if !fr.Seen("r") || fr.Seen("r") || fr.Seen("1") {
		t.Error("Seen: want true for a new key, false for one seen")
	}
	for range 2 {
		e, ok, err := fr.Next(ctx)
		if !ok || err != nil {
			t.Fatalf("Next = %v, %v, %v", e, ok, err)
		}
		fr.Done(e)
	}
	if _, ok, err := fr.Next(ctx); ok || err != nil {
		t.Errorf("Next on an empty frontier = %v, %v; want false, nil", ok, err)
	}
	fr.Close()
}

type stringerInput struct{ s string }

func (s stringerInput) String() string { return s.s }

// StreamFunc: "An input it fails on yields a Result carrying its error, so
// that every input still yields exactly one Result; if the input is a string
// or a fmt.Stringer, that Result's URL is its text, redacted."
func TestGodocAuditStreamFuncFailedInputURL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		bad := errors.New("cannot build")
		in := func(yield func(stringerInput) bool) {
			yield(stringerInput{"http://user:secret@a.test/x"})
		}
		var rs []Result
		for r := range StreamFunc(t.Context(), f, in, func(ctx context.Context, s stringerInput) (*http.Request, error) { return nil, bad }) {
			rs = append(rs, r)
		}
		if len(rs) != 1 || !errors.Is(rs[0].Err, bad) || rs[0].URL != "http://user:xxxxx@a.test/x" {
			t.Errorf("results %+v; want one, with the error and URL http://user:xxxxx@a.test/x", rs)
		}
		var e *Error
		if len(rs) == 1 && (!errors.As(rs[0].Err, &e) || e.Attempts != 0 || strings.Contains(rs[0].Err.Error(), "secret")) {
			t.Errorf("err %v; want an *Error with 0 attempts and no password", rs[0].Err)
		}
	})
}

// HandleURLs: "A URL that is not a valid http or https URL yields a Handled
// whose Err matches ErrInvalidURL"; Handled.Value: "the zero value if Err is
// set"; Handle: "A non-2xx final status is not handed to handle: the input
// fails with a *StatusError carrying the start of the body"; "A body whose
// Content-Length is over WithMaxBodySize fails the input with
// ErrBodyTooLarge without being handed to handle".
func TestGodocAuditHandleURLs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/404":
				w.WriteHeader(404)
				io.WriteString(w, "no such thing")
			case "/big":
				w.Header().Set("Content-Length", "100")
				io.WriteString(w, strings.Repeat("b", 100))
			case "/err":
				io.WriteString(w, "fine")
			default:
				io.WriteString(w, "ok")
			}
		}), WithMaxBodySize(50), WithRetry(RetryPolicy{MaxAttempts: 1}))
		var handled atomic.Int64
		urls := []string{"http://a.test/ok", "mailto:x@y", "http://a.test/404", "http://a.test/big", "http://a.test/err"}
		got := map[int]Handled[string, string]{}
		for h := range HandleURLs(t.Context(), f, func(yield func(string) bool) {
			for _, u := range urls {
				if !yield(u) {
					return
				}
			}
		}, func(u string, resp *http.Response) (string, error) {
			handled.Add(1)
			b, err := io.ReadAll(resp.Body)
			if strings.HasSuffix(u, "/err") {
				return "value", errors.New("handler says no")
			}
			return string(b), err
		}) {
			got[h.Index] = h
		}
		if h := got[0]; h.Err != nil || h.Value != "ok" || h.Input != urls[0] {
			t.Errorf("ok: %+v", h)
		}
		if h := got[1]; !errors.Is(h.Err, ErrInvalidURL) {
			t.Errorf("mailto: err %v; want ErrInvalidURL", h.Err)
		}
		var se *StatusError
		if h := got[2]; !errors.As(h.Err, &se) || string(se.Body) != "no such thing" || h.Status != 404 {
			t.Errorf("404: %+v; want a *StatusError with the body", h)
		}
		if h := got[3]; !errors.Is(h.Err, ErrBodyTooLarge) {
			t.Errorf("big: %v; want ErrBodyTooLarge", h.Err)
		}
		if h := got[4]; h.Err == nil || h.Value != "" {
			t.Errorf("err: value %q, err %v; want the zero value and the error", h.Value, h.Err)
		}
		if n := handled.Load(); n != 2 {
			t.Errorf("handle ran %d times; want 2 (ok and err only)", n)
		}
	})
}

// AttemptInfo: "exactly one of Response and Err is set"; Response "nil if the
// attempt failed (Err is set: a status the call treats as failed ...).
// Status is the status the attempt was answered with, even then".
// CallInfo.Host: "host[:port], lower case"; DoneInfo: Attempts, Status, Err
// "nil, or an [*Error]".
func TestGodocAuditHookInfos(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var calls []CallInfo
		var attempts []AttemptInfo
		var dones []DoneInfo
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/404" {
				http.NotFound(w, r)
				return
			}
			ok(w, r)
		}), WithHooks(Hooks{
			OnCall: func(ctx context.Context, ci CallInfo) context.Context {
				mu.Lock()
				calls = append(calls, ci)
				mu.Unlock()
				return nil
			},
			OnAttempt: func(ai AttemptInfo) { mu.Lock(); attempts = append(attempts, ai); mu.Unlock() },
			OnDone:    func(di DoneInfo) { mu.Lock(); dones = append(dones, di); mu.Unlock() },
		}))
		f.Get(t.Context(), "http://A.Test:80/404")
		if len(calls) != 1 || calls[0].Host != "a.test" {
			t.Errorf("CallInfo %+v; want Host a.test", calls)
		}
		if len(attempts) != 1 || attempts[0].Response != nil || attempts[0].Err == nil || attempts[0].Status != 404 || attempts[0].Attempt != 1 {
			t.Errorf("AttemptInfo %+v; want Response nil, Err set, Status 404", attempts)
		}
		var e *Error
		if len(dones) != 1 || dones[0].Status != 404 || dones[0].Attempts != 1 || !errors.As(dones[0].Err, &e) || dones[0].Host != "a.test" {
			t.Errorf("DoneInfo %+v; want Status 404, Attempts 1, an *Error", dones)
		}
		calls, attempts, dones = nil, nil, nil
		resp, err := f.Do(mustGet(t, "http://a.test:8080/404"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(calls) != 1 || calls[0].Host != "a.test:8080" {
			t.Errorf("CallInfo %+v; want Host a.test:8080", calls)
		}
		if len(attempts) != 1 || (attempts[0].Response == nil) == (attempts[0].Err == nil) {
			t.Errorf("Do's AttemptInfo %+v; want exactly one of Response and Err", attempts)
		}
		if len(dones) != 1 || dones[0].Err != nil || dones[0].Status != 404 {
			t.Errorf("Do's DoneInfo %+v; want Status 404, no error", dones)
		}
	})
}

// Error: "Attempts ... 0 if none"; Error.Error "describes the request, its
// attempts and the last cause", with the URL's password redacted.
func TestGodocAuditErrorText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }),
			WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}))
		_, err := f.Get(t.Context(), "http://user:secret@a.test/p")
		var e *Error
		if !errors.As(err, &e) || e.Attempts != 3 || e.Method != "GET" || e.URL != "http://user:xxxxx@a.test/p" {
			t.Fatalf("err = %#v", err)
		}
		msg := err.Error()
		for _, want := range []string{"GET", "http://user:xxxxx@a.test/p", "3 attempts", "503"} {
			if !strings.Contains(msg, want) {
				t.Errorf("Error() = %q; want it to contain %q", msg, want)
			}
		}
		if strings.Contains(msg, "secret") {
			t.Errorf("Error() = %q shows the password", msg)
		}
		_, err = f.Get(t.Context(), "http://[::1")
		if !errors.As(err, &e) || e.Attempts != 0 {
			t.Errorf("invalid URL: %#v; want an *Error with Attempts 0", err)
		}
	})
}

// Result.Trailer: "nil if the response announced none".
func TestGodocAuditResultTrailer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		if r := f.Fetch(t.Context(), "http://a.test/"); r.Err != nil || r.Trailer != nil {
			t.Errorf("Trailer = %v, err %v; want nil", r.Trailer, r.Err)
		}
	})
}

// Page.Links: "the href of every <a> and <area> element, in document order,
// resolved ... against the page's first <base href>, or else its final URL,
// with tabs and newlines removed; those that are not http or https URLs are
// left out, and so are those a browser could not follow either: an href that
// does not parse as a URL (a space in the host, a bad port)". Page.Title:
// "the text of the first <title> ... with white space collapsed (a <title>
// inside an <svg> is not the page's)".
func TestGodocAuditPageLinksTitle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		body := "<html><head><svg><title>icon</title></svg><title>  The \n  Page  </title><title>second</title>" +
			`<base href="http://b.test/dir/"><base href="http://c.test/"></head><body>` +
			`<a href="x">1</a><area href="/y"><a href="mailto:a@b">m</a><a href="javascript:void(0)">j</a>` +
			"<a href=\"z\tw\nv\">t</a><a href=\"http://bad host/\">s</a><a href=\"http://b.test:99999/\">p</a>" +
			`<a href="https://d.test/q#f">q</a></body></html>`
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, body)
		}))
		c, err := NewCrawler(f)
		if err != nil {
			t.Fatal(err)
		}
		for p := range c.Run(t.Context(), "http://a.test/page") {
			if p.Err != nil {
				t.Fatal(p.Err)
			}
			want := []string{"http://b.test/dir/x", "http://b.test/y", "http://b.test/dir/zwv", "https://d.test/q#f"}
			if got := p.Links(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("Links() = %q; want %q", got, want)
			}
			if got := p.Title(); got != "The Page" {
				t.Errorf("Title() = %q; want %q", got, "The Page")
			}
		}
	})
}

// Crawler: "a 5xx or no answer means nothing is [allowed], and the origin's
// URLs come back with ErrDisallowed naming the reason"; ErrRobotsUnavailable
// "matches ErrDisallowed too"; "a 4xx ... means everything is allowed";
// CrawlUserAgent: the agent whose rules it follows is "matched by its product
// token, the part before any "/"", and it sets the User-Agent header; "A
// robots.txt request carries none of the Fetcher's credentials".
func TestGodocAuditCrawlRobots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		uas := map[string]string{}
		var robotsAuth []string
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			uas[r.Host+r.URL.Path] = r.UserAgent()
			if r.URL.Path == "/robots.txt" {
				robotsAuth = append(robotsAuth, r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
			}
			mu.Unlock()
			switch {
			case r.Host == "down.test" && r.URL.Path == "/robots.txt":
				w.WriteHeader(503)
			case r.Host == "gone.test" && r.URL.Path == "/robots.txt":
				w.WriteHeader(404)
			case r.URL.Path == "/robots.txt":
				io.WriteString(w, "User-agent: mybot\nDisallow: /private\n\nUser-agent: *\nDisallow: /\n")
			default:
				io.WriteString(w, "ok")
			}
		}), WithBearerToken("tok"), WithHeader("X-Api-Key", "k"), WithRetry(RetryPolicy{MaxAttempts: 1}))
		c, err := NewCrawler(f, CrawlUserAgent("MyBot/2.0 (+http://x)"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]error{}
		for p := range c.Run(t.Context(), "http://down.test/a", "http://gone.test/a", "http://rules.test/public", "http://rules.test/private") {
			got[p.URL] = p.Err
		}
		if err := got["http://down.test/a"]; !errors.Is(err, ErrDisallowed) || !errors.Is(err, ErrRobotsUnavailable) || !strings.Contains(err.Error(), "503") {
			t.Errorf("robots.txt 503: %v; want ErrDisallowed and ErrRobotsUnavailable, naming the 503", err)
		}
		if err := got["http://gone.test/a"]; err != nil {
			t.Errorf("robots.txt 404: %v; want allowed", err)
		}
		if err := got["http://rules.test/public"]; err != nil {
			t.Errorf("mybot's rules allow /public: %v", err)
		}
		if err := got["http://rules.test/private"]; !errors.Is(err, ErrDisallowed) || errors.Is(err, ErrRobotsUnavailable) {
			t.Errorf("mybot's rules disallow /private: %v; want ErrDisallowed only", err)
		}
		if ua := uas["rules.test/public"]; ua != "MyBot/2.0 (+http://x)" {
			t.Errorf("User-Agent %q; want the CrawlUserAgent", ua)
		}
		for _, v := range robotsAuth {
			if v != "" {
				t.Errorf("robots.txt request carried credentials: %q", robotsAuth)
				break
			}
		}
	})
}

// WithRate: "a token bucket (rate.Limiter) that starts full. Every attempt,
// retries included, takes a token." WithHostRate: "one token bucket per
// host".
func TestGodocAuditRateBuckets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(1, 503, nil))
		f := newMem(t, c, WithRate(1, 2), WithRetry(RetryPolicy{BaseDelay: time.Millisecond, Jitter: NoJitter}))
		start := time.Now()
		f.Get(t.Context(), "http://a.test/") // 2 attempts: the bucket's 2 tokens
		if el := time.Since(start); el != time.Millisecond {
			t.Errorf("two attempts from a full bucket of 2 took %v; want just the 1ms backoff", el)
		}
		f.Get(t.Context(), "http://a.test/")
		if el := time.Since(start); el != time.Second {
			t.Errorf("third attempt at %v; want 1s, a new token", el)
		}

		h := count(ok)
		fh := newMem(t, h, WithHostRate(1, 1))
		start = time.Now()
		rs := fh.GetAll(t.Context(), []string{"http://a.test/", "http://b.test/", "http://a.test/"})
		for _, r := range rs {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		if el := time.Since(start); el != time.Second {
			t.Errorf("GetAll took %v; want 1s (a.test's second request waits, b.test's own bucket does not)", el)
		}
		at := h.times()
		if len(at) != 3 || !at[0].Equal(start) || !at[1].Equal(start) || !at[2].Equal(start.Add(time.Second)) {
			t.Errorf("arrivals %v; want two at once, one a second later", at)
		}
	})
}

// RetryAfterError: "Remaining ... 0 when Max refused the wait", "Max ... 0
// when the deadline refused it"; it "unwraps to the *StatusError ..., and,
// when the deadline refused the wait, matches context.DeadlineExceeded";
// StatusError.RetryAfter: "the delay the server asked for".
func TestGodocAuditRetryAfterErrorFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", r.URL.Query().Get("ra"))
			w.WriteHeader(429)
		}), WithRetry(RetryPolicy{MaxRetryAfter: time.Minute}))
		_, err := f.Get(t.Context(), "http://a.test/?ra=120")
		var rae *RetryAfterError
		var se *StatusError
		if !errors.As(err, &rae) || rae.Max != time.Minute || rae.Remaining != 0 || rae.RetryAfter != 2*time.Minute ||
			errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &se) || se.RetryAfter != 2*time.Minute {
			t.Errorf("past MaxRetryAfter: %#v; want Max 1m, Remaining 0, RetryAfter 2m, a *StatusError, not DeadlineExceeded", rae)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err = f.Get(ctx, "http://b.test/?ra=30")
		rae = nil
		if !errors.As(err, &rae) || rae.Max != 0 || rae.Remaining != 10*time.Second || rae.RetryAfter != 30*time.Second ||
			!errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &se) {
			t.Errorf("past the deadline: %#v; want Max 0, Remaining 10s, RetryAfter 30s, DeadlineExceeded", rae)
		}
	})
}

// CircuitOpenError: "The attempt it refused was not sent, and it is not
// retried. If the call had made attempts before ..., Err is the last one's
// failure: its error, or a *StatusError." Failures.Refused counts "an open
// circuit breaker"; HostStats.Breaker is "open".
func TestGodocAuditCircuitOpenError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
		f := newMem(t, c, WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1}),
			WithRetry(RetryPolicy{BaseDelay: time.Millisecond}))
		_, err := f.Get(t.Context(), "http://a.test/")
		var coe *CircuitOpenError
		var se *StatusError
		if !errors.As(err, &coe) || !errors.Is(err, ErrCircuitOpen) || !errors.As(coe.Err, &se) || se.StatusCode != 500 || coe.Host != "a.test" {
			t.Fatalf("err = %v; want a *CircuitOpenError for a.test after a 500", err)
		}
		if n := c.n.Load(); n != 1 {
			t.Errorf("server saw %d requests; want 1", n)
		}
		var e *Error
		if errors.As(err, &e); e.Attempts != 1 {
			t.Errorf("Attempts = %d; want 1", e.Attempts)
		}
		_, err = f.Get(t.Context(), "http://a.test/")
		if !errors.As(err, &coe) || coe.Err != nil || c.n.Load() != 1 {
			t.Errorf("second call: %v, %d requests; want refused with no previous failure, nothing sent", err, c.n.Load())
		}
		s := f.Stats()
		if s.Failed.Refused != 2 || len(s.Hosts) != 1 || s.Hosts[0].Breaker != "open" {
			t.Errorf("Stats %+v; want 2 refused and a.test's breaker open", s)
		}
	})
}

// RetryBudgetError: "ends a call whose retry the host's RetryBudget refused.
// It unwraps to the last attempt's failure"; Attempts is "requests this call
// sent"; RetryBudget: "retries to a host may be at most Ratio of the calls
// made to it, plus Min".
func TestGodocAuditRetryBudgetError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) })
		f := newMem(t, c, WithRetryBudget(RetryBudget{Ratio: 0.5, Min: 1}),
			WithRetry(RetryPolicy{MaxAttempts: 10, BaseDelay: time.Millisecond}))
		_, err := f.Get(t.Context(), "http://a.test/") // 1 call: 0.5 + 1 = 1.5 retries allowed
		var rbe *RetryBudgetError
		var se *StatusError
		if !errors.As(err, &rbe) || rbe.Attempts != 2 || rbe.Calls != 1 || rbe.Retries != 1 || !errors.As(err, &se) || se.StatusCode != 502 {
			t.Fatalf("err = %v (%#v); want a *RetryBudgetError after 2 attempts, 1 call, 1 retry, over a 502", err, rbe)
		}
		if f.Stats().Failed.Refused != 1 {
			t.Errorf("Failed = %+v; want Refused 1 (a spent retry budget)", f.Stats().Failed)
		}
	})
}

// RetryPolicy.MaxElapsed: "stops retrying once another wait would take the
// call past this much time since it started".
func TestGodocAuditMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
		f := newMem(t, c, WithRetry(RetryPolicy{MaxAttempts: 10, BaseDelay: 100 * time.Millisecond, Jitter: NoJitter, MaxElapsed: 250 * time.Millisecond}))
		start := time.Now()
		_, err := f.Get(t.Context(), "http://a.test/")
		var se *StatusError
		if !errors.As(err, &se) || c.n.Load() != 2 || time.Since(start) != 100*time.Millisecond {
			t.Errorf("err %v after %d attempts and %v; want a 503 after 2 attempts and 100ms (the next wait, 200ms, passes 250ms)", err, c.n.Load(), time.Since(start))
		}
	})
}

// Hooks.OnCall: "A nil result means ctx"; the context it returns "becomes the
// call's: every attempt's request carries it, and so does DoneInfo".
// Hooks.OnDone: "For Fetcher.Do, that is before the caller reads the body."
func TestGodocAuditHookContexts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type key struct{}
		var sawAttempt, sawDone, sawServer atomic.Value
		var doneRan atomic.Bool
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sawServer.Store(fmt.Sprint(r.Context().Value(key{})))
			io.WriteString(w, "body")
		}), WithHooks(Hooks{
			OnCall: func(ctx context.Context, ci CallInfo) context.Context {
				if ci.Request.URL.Path == "/nil" {
					return nil
				}
				return context.WithValue(ctx, key{}, "traced")
			},
			OnAttempt: func(ai AttemptInfo) { sawAttempt.Store(fmt.Sprint(ai.Request.Context().Value(key{}))) },
			OnDone:    func(di DoneInfo) { sawDone.Store(fmt.Sprint(di.Context.Value(key{}))); doneRan.Store(true) },
		}))
		resp, err := f.Do(mustGet(t, "http://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		if !doneRan.Load() {
			t.Error("OnDone had not run when Do returned")
		}
		resp.Body.Close()
		if sawAttempt.Load() != "traced" || sawDone.Load() != "traced" || sawServer.Load() != "traced" {
			t.Errorf("attempt saw %v, done %v, server %v; want the OnCall context everywhere", sawAttempt.Load(), sawDone.Load(), sawServer.Load())
		}
		if _, err := f.Get(t.Context(), "http://a.test/nil"); err != nil {
			t.Errorf("OnCall returning nil: %v", err)
		}
	})
}

// Fetcher: "the zero Fetcher ... is not usable, and its methods panic";
// Shutdown "may be called more than once".
func TestGodocAuditZeroFetcherAndShutdownTwice(t *testing.T) {
	var zero Fetcher
	for name, call := range map[string]func(){
		"Get":   func() { zero.Get(context.Background(), "http://a.test/") },
		"Do":    func() { zero.Do(mustGet(t, "http://a.test/")) },
		"Stats": func() { zero.Stats() },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("zero Fetcher's %s did not panic", name)
				}
			}()
			call()
		}()
	}
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		if err1, err2 := f.Shutdown(t.Context()), f.Shutdown(t.Context()); err1 != nil || err2 != nil {
			t.Errorf("Shutdown twice = %v, %v; want nil, nil", err1, err2)
		}
	})
}

type panicLimiter struct{}

func (panicLimiter) Wait(context.Context) error { panic("limiter broke") }

// Limiter: "a panic in Wait fails the call with a *PanicError"; "Any other
// error fails the call without sending it".
func TestGodocAuditLimiterPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(ok)
		f := newMem(t, c, WithLimiter(panicLimiter{}))
		_, err := f.Get(t.Context(), "http://a.test/")
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Value != "limiter broke" || c.n.Load() != 0 {
			t.Errorf("err %v, %d sent; want a *PanicError, nothing sent", err, c.n.Load())
		}
		if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
			t.Errorf("Stats after the panic: %+v; want nothing held", s)
		}
	})
}

// DoAll: "a request body must be replayable (GetBody set) to be retried";
// "A request whose own context has already ended fails with its error,
// unsent" (its body closed all the same).
func TestGodocAuditDoAllBodies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(failing(1, 503, nil))
		f := newMem(t, c, WithRetry(RetryPolicy{BaseDelay: time.Millisecond}))
		r1, _ := http.NewRequest("PUT", "http://a.test/1", io.NopCloser(strings.NewReader("x")))
		r1.GetBody = nil
		rs := f.DoAll(t.Context(), []*http.Request{r1})
		if rs[0].Status != 503 || rs[0].Attempts != 1 {
			t.Errorf("unreplayable body: status %d after %d attempts (err %v); want 503 after 1", rs[0].Status, rs[0].Attempts, rs[0].Err)
		}
		r2, _ := http.NewRequest("PUT", "http://a.test/2", strings.NewReader("x"))
		c2 := count(failing(1, 503, nil))
		f2 := newMem(t, c2, WithRetry(RetryPolicy{BaseDelay: time.Millisecond}))
		rs = f2.DoAll(t.Context(), []*http.Request{r2})
		if rs[0].Err != nil || rs[0].Attempts != 2 {
			t.Errorf("replayable body: err %v after %d attempts; want success after 2", rs[0].Err, rs[0].Attempts)
		}
		dead, cancel := context.WithCancel(context.Background())
		cancel()
		b3 := &brBody{Reader: strings.NewReader("x")}
		r3, _ := http.NewRequestWithContext(dead, "PUT", "http://a.test/3", b3)
		rs = f2.DoAll(t.Context(), []*http.Request{r3})
		if !errors.Is(rs[0].Err, context.Canceled) || rs[0].Attempts != 0 || b3.closes.Load() != 1 {
			t.Errorf("own context cancelled: err %v after %d attempts, body closed %d times; want context.Canceled, unsent, closed once", rs[0].Err, rs[0].Attempts, b3.closes.Load())
		}
	})
}

// Stats.Hosts: "nil if none".
func TestGodocAuditStatsHostsNil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok), WithHostRate(10, 1), WithHostConcurrency(2))
		f.Get(t.Context(), "http://a.test/")
		if h := f.Stats().Hosts; h != nil {
			t.Errorf("Hosts = %+v; want nil", h)
		}
	})
}

// GetAll: "If ctx ends, the URLs not yet fetched come back with an error
// matching ctx's"; GetAllFailFast: "cancels the requests still running or
// waiting and returns that failure with the results, in which the cancelled
// requests carry an error matching context.Canceled".
func TestGodocAuditBatchContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/fail" {
				w.WriteHeader(404)
				return
			}
			select {
			case <-time.After(time.Second):
			case <-r.Context().Done():
			}
		}), WithHostConcurrency(1))
		urls := []string{"http://a.test/1", "http://a.test/2", "http://a.test/3"}
		ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
		defer cancel()
		rs := f.GetAll(ctx, urls)
		if rs[0].Err != nil {
			t.Errorf("first: %v", rs[0].Err)
		}
		for _, r := range rs[1:] {
			if !errors.Is(r.Err, context.DeadlineExceeded) || r.URL == "" {
				t.Errorf("%d: %v (URL %q); want DeadlineExceeded", r.Index, r.Err, r.URL)
			}
		}
		rs, err := f.GetAllFailFast(t.Context(), []string{"http://b.test/fail", "http://b.test/1", "http://b.test/2"})
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 404 || !errors.As(rs[0].Err, &se) {
			t.Errorf("GetAllFailFast = %v; want the 404", err)
		}
		for _, r := range rs[1:] {
			if !errors.Is(r.Err, context.Canceled) {
				t.Errorf("%d: %v; want context.Canceled", r.Index, r.Err)
			}
		}
	})
}

// Result.Duration: "for the calls that run many requests, from when its
// first attempt passed its host's gates (the time it was queued for its host
// is not in it); for Get and Fetch, from the call, the wait at the gates
// included". AttemptInfo.Waited: "For a batch, stream or crawl, a first
// attempt's wait in its host's queue is not included."
func TestGodocAuditDurations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		waited := map[string]time.Duration{}
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(10 * time.Millisecond)
		}), WithHostRate(1, 1), WithHooks(Hooks{OnAttempt: func(ai AttemptInfo) {
			mu.Lock()
			waited[ai.Request.URL.Path] = ai.Waited
			mu.Unlock()
		}}))
		rs := f.GetAll(t.Context(), []string{"http://a.test/1", "http://a.test/2"})
		for _, r := range rs {
			if r.Err != nil || r.Duration != 10*time.Millisecond {
				t.Errorf("GetAll %d: Duration %v, err %v; want 10ms, the queue's second not in it", r.Index, r.Duration, r.Err)
			}
		}
		if waited["/2"] != 0 {
			t.Errorf("GetAll's second Waited %v; want 0", waited["/2"])
		}
		// Two Fetches at once: the second waits for its token at the gates.
		var wg sync.WaitGroup
		var got [2]Result
		for i := range 2 {
			wg.Go(func() { got[i] = f.Fetch(t.Context(), fmt.Sprintf("http://b.test/f%d", i)) })
		}
		wg.Wait()
		ds := []time.Duration{got[0].Duration, got[1].Duration}
		if !(ds[0] == 10*time.Millisecond && ds[1] == time.Second+10*time.Millisecond || ds[1] == 10*time.Millisecond && ds[0] == time.Second+10*time.Millisecond) {
			t.Errorf("Fetch durations %v; want 10ms and 1.01s (the wait at the gates included)", ds)
		}
	})
}

// Stats.Waiting counts calls "queued for their host by a batch, stream or
// crawl"; InFlight: "attempts on the wire now: each holds a slot until its
// body is closed or read to its end"; WithConcurrency: "it is in flight, as
// Stats.InFlight counts it, once it has its token too".
func TestGodocAuditStatsWaitingInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/block" {
				<-release
			}
			io.WriteString(w, "x")
		}), WithHostConcurrency(1))
		done := make(chan []Result)
		go func() {
			done <- f.GetAll(t.Context(), []string{"http://a.test/block", "http://a.test/2", "http://a.test/3"})
		}()
		synctest.Wait()
		if s := f.Stats(); s.Waiting != 2 || s.InFlight != 1 {
			t.Errorf("Waiting %d, InFlight %d; want 2 queued for their host, 1 on the wire", s.Waiting, s.InFlight)
		}
		close(release)
		<-done
		resp, err := f.Do(mustGet(t, "http://a.test/x"))
		if err != nil {
			t.Fatal(err)
		}
		if s := f.Stats(); s.InFlight != 1 {
			t.Errorf("InFlight %d with a Do body open; want 1", s.InFlight)
		}
		io.ReadAll(resp.Body)
		if s := f.Stats(); s.InFlight != 0 {
			t.Errorf("InFlight %d with a Do body read to its end; want 0", s.InFlight)
		}
		resp.Body.Close()

		fr := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }), WithRate(1, 1), WithConcurrency(4))
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { fr.Get(ctx, "http://a.test/") })
		}
		synctest.Wait()
		if s := fr.Stats(); s.InFlight != 1 || s.Waiting != 1 {
			t.Errorf("InFlight %d, Waiting %d; want 1 on the wire and 1 waiting for its token", s.InFlight, s.Waiting)
		}
		cancel()
		wg.Wait()
	})
}

type countingLimiter struct{ waits *atomic.Int64 }

func (l countingLimiter) Wait(ctx context.Context) error { l.waits.Add(1); return ctx.Err() }

// WithHostLimiter: "newLimiter is called with a host the first time it is
// seen"; "A Limiter other than a *rate.Limiter may be dropped once its host
// has nothing in flight, when new hosts come": two calls one after the
// other to one host, spelled two ways, ask newLimiter once (the doc said
// before that such a Limiter was dropped as soon as its host had nothing in
// flight, as if each call would ask again).
func TestGodocAuditHostLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var hosts []string
		var waits atomic.Int64
		f := newMem(t, http.HandlerFunc(ok), WithHostLimiter(func(host string) Limiter {
			mu.Lock()
			hosts = append(hosts, host)
			mu.Unlock()
			return countingLimiter{&waits}
		}))
		f.Get(t.Context(), "http://A.test:80/")
		f.Get(t.Context(), "http://a.test/")
		if fmt.Sprint(hosts) != "[a.test]" || waits.Load() != 2 {
			t.Errorf("two calls one after the other: newLimiter called for %q, %d waits; want a.test once, 2 waits", hosts, waits.Load())
		}
	})
}

// WithBearerToken: "A request that sets Authorization itself, in any
// spelling of the name, keeps its own"; "Of several auth options
// (WithBasicAuth, or WithHeader("Authorization", ...)) the last wins".
func TestGodocAuditAuthOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []string
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Values("Authorization") })
		f := newMem(t, h, WithBasicAuth("u", "p"), WithBearerToken("tok"))
		f.Get(t.Context(), "http://a.test/")
		if fmt.Sprint(got) != "[Bearer tok]" {
			t.Errorf("basic then bearer: %q; want [Bearer tok]", got)
		}
		f = newMem(t, h, WithBearerToken("tok"), WithBasicAuth("u", "p"))
		f.Get(t.Context(), "http://a.test/")
		if fmt.Sprint(got) != "[Basic dTpw]" {
			t.Errorf("bearer then basic: %q; want [Basic dTpw]", got)
		}
		f = newMem(t, h, WithBearerToken("tok"))
		req := mustGet(t, "http://a.test/")
		req.Header["authorization"] = []string{"Mine"}
		resp, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(got) != 0 && fmt.Sprint(got) != "[Mine]" {
			t.Errorf("request with its own lower-case authorization got %q; want only its own", got)
		}
	})
}

// Crawler: "Its Crawl-delay spaces that host's requests in this crawl";
// CrawlMaxPages: "ends the crawl after n URLs have been taken in (seeds
// included); links found after that are not followed".
func TestGodocAuditCrawlDelayAndMaxPages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		site := crawlSite(map[string][]string{"/": {"/a", "/b", "/c"}, "/a": nil, "/b": nil, "/c": nil}, nil)
		c0 := count(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				io.WriteString(w, "User-agent: *\nCrawl-delay: 2\n")
				return
			}
			site(w, r)
		})
		f := newMem(t, c0)
		c, err := NewCrawler(f, CrawlMaxPages(3))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for p := range c.Run(t.Context(), "http://a.test/") {
			if p.Err != nil {
				t.Fatal(p.Err)
			}
			got = append(got, p.URL)
			p.Follow(p.Links()...)
		}
		if len(got) != 3 {
			t.Errorf("pages %q; want 3 (CrawlMaxPages)", got)
		}
		at := c0.times()
		if len(at) != 4 { // robots.txt and three pages
			t.Fatalf("%d requests; want 4", len(at))
		}
		for i := 2; i < len(at); i++ {
			if d := at[i].Sub(at[i-1]); d != 2*time.Second {
				t.Errorf("page requests %d and %d %v apart; want the Crawl-delay, 2s", i-1, i, d)
			}
		}
	})
}

// ErrAlreadySeen: "marks the page of a URL that redirects to a URL the crawl
// has seen before ...: the redirect is not followed ... A redirect to a URL
// with the page's own key ... ("/%7Euser" to "/~user") ... is followed."
func TestGodocAuditCrawlAlreadySeen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hits sync.Map
		site := crawlSite(map[string][]string{"/b": nil, "/~user": nil}, &hits)
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.EscapedPath() {
			case "/a":
				http.Redirect(w, r, "/b", http.StatusMovedPermanently)
			case "/%7Euser":
				w.Header().Set("Location", "/~user")
				w.WriteHeader(http.StatusMovedPermanently)
			default:
				site(w, r)
			}
		}), WithHostConcurrency(1))
		c, err := NewCrawler(f, CrawlIgnoreRobots())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]error{}
		for p := range c.Run(t.Context(), "http://a.test/b", "http://a.test/a", "http://a.test/%7Euser") {
			got[p.URL] = p.Err
		}
		if err := got["http://a.test/a"]; !errors.Is(err, ErrAlreadySeen) {
			t.Errorf("/a redirecting to /b, seen: %v; want ErrAlreadySeen", err)
		}
		if err := got["http://a.test/b"]; err != nil {
			t.Errorf("/b: %v", err)
		}
		if err := got["http://a.test/%7Euser"]; err != nil {
			t.Errorf("/%%7Euser redirecting to /~user: %v; want followed", err)
		}
		if v, _ := hits.Load("a.test/b"); v == nil || v.(*atomic.Int64).Load() != 1 {
			t.Error("/b not fetched exactly once")
		}
	})
}

// NewMemoryFrontier: "The URLs redirects lead to, which a crawl marks seen
// (Seen), are recorded beyond the cap"; Frontier.Next: "waiting while none
// is queued but some are still being handled ... returns ok false when ...
// ctx ends or Close is called".
func TestGodocAuditMemoryFrontierSeenAndNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fr := NewMemoryFrontier(1)
		if added, err := fr.Add(CrawlEntry{URL: "http://a/1", Key: "1"}); !added || err != nil {
			t.Fatal(added, err)
		}
		if !fr.Seen("r") {
			t.Error("Seen past the cap: want recorded, reported new")
		}
		if added, err := fr.Add(CrawlEntry{URL: "http://a/r", Key: "r"}); added || errors.Is(err, ErrCrawlFull) {
			t.Errorf("Add of a key marked seen = %v, %v; want not added, as seen (not full)", added, err)
		}
		e, ok, err := fr.Next(t.Context())
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		// e is being handled: Next waits, until ctx ends.
		ctx, cancel := context.WithCancel(t.Context())
		res := make(chan bool)
		go func() { _, ok, _ := fr.Next(ctx); res <- ok }()
		synctest.Wait()
		select {
		case <-res:
			t.Fatal("Next returned while an entry was being handled")
		default:
		}
		cancel()
		if <-res {
			t.Error("Next after ctx ended: ok true")
		}
		go func() { _, ok, _ := fr.Next(t.Context()); res <- ok }()
		synctest.Wait()
		fr.Close()
		if <-res {
			t.Error("Next after Close: ok true")
		}
		fr.Done(e)
	})
}

// Stats.Retries: "attempts that were retries: made after a call's first; a
// retry decided but never sent is not one". WithLogger: "logs retries and
// give-ups to l at debug level, with URLs redacted".
func TestGodocAuditRetriesAndLogger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf strings.Builder
		var mu sync.Mutex
		logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }),
			WithRetry(RetryPolicy{BaseDelay: time.Second, Jitter: NoJitter}), WithLogger(logger))
		ctx, cancel := context.WithCancel(t.Context())
		go func() { time.Sleep(500 * time.Millisecond); cancel() }()
		f.Get(ctx, "http://user:secret@a.test/")
		if s := f.Stats(); s.Retries != 0 || s.Attempts != 1 {
			t.Errorf("Retries %d, Attempts %d; want 0 (the retry was never sent), 1", s.Retries, s.Attempts)
		}
		mu.Lock()
		out := buf.String()
		mu.Unlock()
		if !strings.Contains(out, "level=DEBUG") || strings.Contains(out, "level=INFO") || strings.Contains(out, "secret") || !strings.Contains(out, "a.test") {
			t.Errorf("log = %q; want debug lines naming a.test, password redacted", out)
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// RetryPolicy.Backoff: "It is safe for concurrent use and does not
// allocate." CrawlHosts: "A host is a bare name or IP address, matched
// case-insensitively."
func TestGodocAuditBackoffAllocsAndCrawlHostsCase(t *testing.T) {
	p := DefaultRetryPolicy()
	if n := testing.AllocsPerRun(100, func() { p.Backoff(3, time.Second) }); n != 0 {
		t.Errorf("Backoff allocates %v times a call; want 0", n)
	}
	var cfg crawlConfig
	if err := CrawlHosts("Example.COM")(&cfg); err != nil {
		t.Fatal(err)
	}
	for u, want := range map[string]bool{"http://WWW.example.com/": true, "https://example.com:8443/": true, "http://notexample.com/": false, "http://example.org/": false} {
		pu, _ := url.Parse(u)
		if got := cfg.inScope(pu); got != want {
			t.Errorf("CrawlHosts(Example.COM) takes in %s: %v; want %v", u, got, want)
		}
	}
}

// RetryAfterError: "A call that would not have retried, its attempts spent
// or its method not one to retry, fails with the response's *StatusError,
// whose RetryAfter says what was asked."
func TestGodocAuditRetryAfterBeyondMaxWithoutRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		})
		for name, f := range map[string]*Fetcher{
			"MaxAttempts 1": newMem(t, h, WithRetry(RetryPolicy{MaxAttempts: 1})),
			"POST":          newMem(t, h),
		} {
			var err error
			if name == "POST" {
				err = f.Fetch(context.Background(), "http://a.test/", Method(http.MethodPost)).Err
			} else {
				_, err = f.Get(context.Background(), "http://a.test/")
			}
			if _, ok := errors.AsType[*RetryAfterError](err); ok {
				t.Errorf("%s: %v is a *RetryAfterError; want the *StatusError alone", name, err)
			}
			se, ok := errors.AsType[*StatusError](err)
			if !ok || se.RetryAfter != time.Hour {
				t.Errorf("%s: %v; want a *StatusError with RetryAfter 1h", name, err)
			}
		}
	})
}
