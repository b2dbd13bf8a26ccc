package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// WithBearerTokenFunc asks for the token afresh for each attempt, holds it
// back from a redirect to another domain, and leaves a request's own
// Authorization alone.
func TestBearerTokenFunc(t *testing.T) {
	var mu sync.Mutex
	var seen []string // "path auth", as each server saw them
	note := func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.URL.Path+" "+r.Header.Get("Authorization"))
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { note(r) }))
	defer other.Close()
	var flaky atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		note(r)
		switch r.URL.Path {
		case "/flaky":
			if flaky.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		case "/away": // 127.0.0.1 to localhost: another domain
			http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/there", http.StatusFound)
		}
	}))
	defer srv.Close()
	var n atomic.Int32
	f, err := New(WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}),
		WithBearerTokenFunc(func(ctx context.Context) (string, error) {
			if ctx == nil {
				return "", errors.New("no context")
			}
			return fmt.Sprintf("t%d", n.Add(1)), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if r := f.Fetch(ctx, srv.URL+"/flaky"); r.Err != nil || r.Attempts != 2 {
		t.Fatalf("flaky: %d attempts, %v; want 2, the second a success", r.Attempts, r.Err)
	}
	if r := f.Fetch(ctx, srv.URL+"/away"); r.Err != nil {
		t.Fatalf("away: %v", r.Err)
	}
	if r := f.Fetch(ctx, srv.URL+"/own", Header("Authorization", "Basic bWU6cHc=")); r.Err != nil {
		t.Fatalf("own: %v", r.Err)
	}
	want := []string{"/flaky Bearer t1", "/flaky Bearer t2", "/away Bearer t3", "/there ", "/own Basic bWU6cHc="}
	if strings.Join(seen, "|") != strings.Join(want, "|") || n.Load() != 3 {
		t.Errorf("servers saw %q, token asked %d times; want %q, 3", seen, n.Load(), want)
	}
}

// A token function's error fails the call unsent and is not retried; the
// last auth option given wins.
func TestBearerTokenFuncErrorsAndOrder(t *testing.T) {
	var sent atomic.Int32
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		auth.Store(r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	refused := errors.New("refresh token revoked")
	failing := func(context.Context) (string, error) { return "", refused }
	f, _ := New(WithBearerTokenFunc(failing))
	if r := f.Fetch(t.Context(), srv.URL); !errors.Is(r.Err, refused) || !strings.Contains(r.Err.Error(), "WithBearerTokenFunc") || sent.Load() != 0 {
		t.Errorf("failing token: %v, %d sent; want its error, naming the option, nothing sent", r.Err, sent.Load())
	}
	bad, _ := New(WithBearerTokenFunc(func(context.Context) (string, error) { return "secret\n", nil }))
	if r := bad.Fetch(t.Context(), srv.URL); r.Err == nil || strings.Contains(r.Err.Error(), "secret") || sent.Load() != 0 {
		t.Errorf("token with a newline: %v, %d sent; want an error not showing it, nothing sent", r.Err, sent.Load())
	}
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{[]Option{WithBearerTokenFunc(failing), WithBearerToken("static")}, "Bearer static"},
		{[]Option{WithBasicAuth("me", "pw"), WithBearerTokenFunc(func(context.Context) (string, error) { return "fresh", nil })}, "Bearer fresh"},
	} {
		f, err := New(tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if r := f.Fetch(t.Context(), srv.URL); r.Err != nil || auth.Load() != tc.want {
			t.Errorf("sent %v, %v; want %q", auth.Load(), r.Err, tc.want)
		}
	}
	if _, err := New(WithBearerTokenFunc(nil)); err == nil {
		t.Error("WithBearerTokenFunc(nil): no error")
	}
}
