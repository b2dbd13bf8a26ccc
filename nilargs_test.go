package fetch

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// A nil option, a nil RequestOption, and a nil input sequence, handler or
// newRequest are mistakes in the caller's code: each is named, as an
// error where the call returns one and as a panic at once where it is
// ranged over, never a nil-pointer panic from inside the library (from a
// goroutine of its own, for the streaming calls), and nothing is sent.
func TestNilArguments(t *testing.T) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sent.Add(1) }))
	defer srv.Close()
	ctx := context.Background()

	if _, err := New(WithConcurrency(2), nil); err == nil || err.Error() != "fetch: New: option 2 of 2 is nil" {
		t.Errorf("New(WithConcurrency(2), nil): %v; want it to name option 2 as nil", err)
	}
	// Not a nil, but worded as the nil options are: "fetch: " first.
	if _, err := New(WithHeader("Bad Name", "x")); err == nil || err.Error() != `fetch: WithHeader: header name "Bad Name": not a valid field name` {
		t.Errorf("New(WithHeader(\"Bad Name\", ...)): %v", err)
	}
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(ctx)
	if _, err := NewCrawler(f, nil, CrawlMaxPages(1)); err == nil || err.Error() != "fetch: NewCrawler: option 1 of 2 is nil" {
		t.Errorf("NewCrawler(f, nil, ...): %v; want it to name option 1 as nil", err)
	}
	if _, err := f.Get(ctx, srv.URL, Header("X", "1"), nil); err == nil || !strings.Contains(err.Error(), "RequestOption 2 of 2 is nil") {
		t.Errorf("Get with a nil RequestOption: %v; want it named", err)
	}
	if _, err := GetJSON[int](ctx, nil, srv.URL); err == nil || err.Error() != "fetch: GetJSON(nil *Fetcher)" {
		t.Errorf("GetJSON(ctx, nil, ...): %v; want it to name the nil Fetcher", err)
	}
	rs := f.GetAll(ctx, []string{srv.URL}, nil)
	if len(rs) != 1 || rs[0].Err == nil || !strings.Contains(rs[0].Err.Error(), "RequestOption 1 of 1 is nil") {
		t.Errorf("GetAll with a nil RequestOption: %+v; want one Result naming it", rs)
	}

	urls := slices.Values([]string{srv.URL})
	reqs := func(yield func(*http.Request) bool) {}
	newReq := func(ctx context.Context, u string) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	}
	read := func(string, *http.Response) (int, error) { return 0, nil }
	for _, tc := range []struct {
		name, want string
		call       func()
	}{
		{"Stream(nil)", "fetch: nil input sequence (iter.Seq)", func() { f.Stream(ctx, nil) }},
		{"StreamRequests(nil)", "fetch: nil input sequence (iter.Seq)", func() { f.StreamRequests(ctx, nil) }},
		{"StreamFunc(nil in)", "fetch: nil input sequence (iter.Seq)", func() { StreamFunc(ctx, f, nil, newReq) }},
		{"StreamFunc(nil newRequest)", "fetch: nil newRequest func", func() { StreamFunc(ctx, f, urls, nil) }},
		{"Handle(nil in)", "fetch: nil input sequence (iter.Seq)", func() { Handle(ctx, f, nil, newReq, read) }},
		{"Handle(nil newRequest)", "fetch: nil newRequest func", func() { Handle(ctx, f, urls, nil, read) }},
		{"Handle(nil handler)", "fetch: Handle: nil handler", func() { Handle[string, int](ctx, f, urls, newReq, nil) }},
		{"HandleURLs(nil handler)", "fetch: HandleURLs: nil handler", func() { HandleURLs[int](ctx, f, urls, nil) }},
		{"StreamFunc(nil Fetcher)", "fetch: nil *Fetcher", func() { StreamFunc(ctx, nil, urls, newReq) }},
		{"TaskGroup.Go(nil)", "fetch: TaskGroup.Go: nil task", func() { new(TaskGroup).Go(nil) }},
		{"TaskGroup.TryGo(nil)", "fetch: TaskGroup.TryGo: nil task", func() { new(TaskGroup).TryGo(nil) }},
		{"StreamRequests(empty)", "", func() {
			for range f.StreamRequests(ctx, reqs) {
			}
		}},
	} {
		got := func() (v any) {
			defer func() { v = recover() }()
			tc.call() // the call itself, not only ranging over what it returns
			return nil
		}()
		if fmt.Sprint(cmpOrNil(got)) != tc.want {
			t.Errorf("%s: panicked with %v; want %q", tc.name, got, tc.want)
		}
	}
	if n := sent.Load(); n != 0 {
		t.Errorf("the server was sent %d requests; want none", n)
	}
}

// cmpOrNil returns v, or "" for nil, for comparing a recovered value with
// a want of "" for no panic.
func cmpOrNil(v any) any {
	if v == nil {
		return ""
	}
	return v
}
