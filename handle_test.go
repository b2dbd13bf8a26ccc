package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type page struct{ id int }

func (p page) request(ctx context.Context) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://a.test/%d", p.id), nil)
}

// Handle carries each input to its result with the handler's typed value,
// and the handler reads the body as a stream.
func TestHandleCarriesInputAndValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/3" {
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, "no page 3")
				return
			}
			fmt.Fprintf(w, "line one\nline two of %s\n", r.URL.Path)
		}))
		inputs := []page{{1}, {2}, {3}}
		lines := func(_ page, resp *http.Response) (int, error) { // counts lines without holding the body
			n := 0
			for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
				n++
			}
			return n, nil
		}
		got := map[int]Handled[page, int]{}
		for h := range Handle(context.Background(), f, slices.Values(inputs), func(ctx context.Context, p page) (*http.Request, error) { return p.request(ctx) }, lines) {
			got[h.Input.id] = h
		}
		for _, id := range []int{1, 2} {
			if h := got[id]; h.Err != nil || h.Value != 2 || h.Status != 200 || h.Input.id != id || h.Index != id-1 {
				t.Errorf("input %d: %+v; want 2 lines, status 200", id, h)
			}
		}
		var se *StatusError
		if h := got[3]; !errors.As(h.Err, &se) || string(se.Body) != "no page 3" || h.Status != 404 || h.Value != 0 {
			t.Errorf("input 3: %+v; want a 404 StatusError with its body", h)
		}
	})
}

// A handler error marked retryable is retried; an unmarked one fails the
// input at once; a body over the cap fails the handler's reads.
func TestHandleErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			io.WriteString(w, strings.Repeat("x", 100))
		}), WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}), WithMaxBodySize(50))
		bad := errors.New("bad page")
		one := func(handle func(int, *http.Response) (int, error)) Handled[int, int] {
			calls.Store(0)
			var last Handled[int, int]
			for h := range Handle(context.Background(), f, slices.Values([]int{1}),
				func(ctx context.Context, _ int) (*http.Request, error) {
					return http.NewRequestWithContext(ctx, "GET", "http://a.test/", nil)
				},
				handle) {
				last = h
			}
			return last
		}
		h := one(func(int, *http.Response) (int, error) { return 0, RetryableError(bad) })
		if !errors.Is(h.Err, bad) || h.Attempts != 3 || calls.Load() != 3 {
			t.Errorf("retryable handler error: %v after %d attempts (%d calls); want it after 3", h.Err, h.Attempts, calls.Load())
		}
		h = one(func(int, *http.Response) (int, error) { return 0, bad })
		if !errors.Is(h.Err, bad) || h.Attempts != 1 {
			t.Errorf("handler error: %v after %d attempts; want it after 1", h.Err, h.Attempts)
		}
		h = one(func(_ int, resp *http.Response) (int, error) {
			b, err := io.ReadAll(resp.Body)
			return len(b), err
		})
		if !errors.Is(h.Err, ErrBodyTooLarge) {
			t.Errorf("a 100-byte body under a 50-byte cap: %v; want ErrBodyTooLarge", h.Err)
		}
	})
}

// The attempt's timeout covers the handler: a body that stalls while the
// handler reads it times the attempt out, and it is retried.
func TestHandleUnderAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			io.WriteString(w, "ok")
		}), WithAttemptTimeout(time.Second), WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
		slow := func(_ string, resp *http.Response) (string, error) {
			select { // a handler whose reads stall until the attempt ends
			case <-resp.Request.Context().Done():
				return "", resp.Request.Context().Err()
			case <-time.After(time.Minute):
				return "late", nil
			}
		}
		for h := range Handle(context.Background(), f, slices.Values([]string{"http://a.test/"}),
			func(ctx context.Context, u string) (*http.Request, error) {
				return http.NewRequestWithContext(ctx, "GET", u, nil)
			}, slow) {
			if !errors.Is(h.Err, ErrAttemptTimeout) || h.Attempts != 2 {
				t.Errorf("Handle = %v after %d attempts; want an attempt timeout after 2", h.Err, h.Attempts)
			}
		}
	})
}

// HandleURLs takes URLs as Stream does, request options included, and
// keeps each URL with its value; a URL that is not one fails alone.
func TestHandleURLs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.Method+" "+r.URL.Path)
		}))
		urls := []string{"http://a.test/1", "file:///etc/passwd", "http://b.test/2"}
		read := func(u string, resp *http.Response) (string, error) {
			b, err := io.ReadAll(resp.Body)
			return string(b), err
		}
		got := map[string]string{}
		for h := range HandleURLs(context.Background(), f, slices.Values(urls), read, Method("PUT")) {
			if h.Err != nil {
				got[h.Input] = "error"
				if !errors.Is(h.Err, ErrInvalidURL) {
					t.Errorf("%s: %v; want ErrInvalidURL", h.Input, h.Err)
				}
				continue
			}
			got[h.Input] = h.Value
		}
		want := map[string]string{"http://a.test/1": "PUT /1", "file:///etc/passwd": "error", "http://b.test/2": "PUT /2"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("got %v; want %v", got, want)
		}
	})
}

// Handled.FinalURL is where the body came from after redirects, as
// Result.FinalURL is; the request URL when there was none.
func TestHandledFinalURL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/old" {
				http.Redirect(w, r, "http://b.test/new", http.StatusMovedPermanently)
			}
		}))
		defer f.Shutdown(context.Background())
		want := map[string]string{"http://a.test/old": "http://b.test/new", "http://a.test/same": "http://a.test/same"}
		for h := range HandleURLs(t.Context(), f, slices.Values([]string{"http://a.test/old", "http://a.test/same"}),
			func(string, *http.Response) (struct{}, error) { return struct{}{}, nil }) {
			if h.Err != nil || h.FinalURL != want[h.URL] {
				t.Errorf("%s: FinalURL %q, err %v; want %q", h.URL, h.FinalURL, h.Err, want[h.URL])
			}
		}
	})
}
