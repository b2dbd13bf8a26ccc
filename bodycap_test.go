package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
)

// MaxBodySize sets one call's body cap in place of the Fetcher's, for the
// calls that read bodies and for Handle, without touching other calls.
func TestMaxBodySizePerCall(t *testing.T) {
	var sent atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.Write([]byte(strings.Repeat("x", n)))
	}))
	defer srv.Close()
	f, err := New(WithMaxBodySize(1000))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	big, small := srv.URL+"/5000", srv.URL+"/500"

	if r := f.Fetch(ctx, big, MaxBodySize(-1)); r.Err != nil || len(r.Body) != 5000 {
		t.Errorf("Fetch with MaxBodySize(-1): %d bytes, %v; want all 5000", len(r.Body), r.Err)
	}
	if r := f.Fetch(ctx, big); !errors.Is(r.Err, ErrBodyTooLarge) {
		t.Errorf("Fetch without: %v; want the Fetcher's cap, ErrBodyTooLarge", r.Err)
	}
	if r := f.Fetch(ctx, small, MaxBodySize(100)); !errors.Is(r.Err, ErrBodyTooLarge) || !strings.Contains(r.Err.Error(), "100 bytes") {
		t.Errorf("Fetch with MaxBodySize(100): %v; want ErrBodyTooLarge naming 100 bytes", r.Err)
	}
	for _, r := range f.GetAll(ctx, []string{big, small}, MaxBodySize(6000)) {
		if r.Err != nil {
			t.Errorf("GetAll with MaxBodySize(6000): %s: %v", r.URL, r.Err)
		}
	}
	for h := range HandleURLs(ctx, f, slices.Values([]string{big}), func(_ string, resp *http.Response) (int64, error) {
		return io.Copy(io.Discard, resp.Body)
	}, MaxBodySize(-1)) {
		if h.Err != nil || h.Value != 5000 {
			t.Errorf("HandleURLs with MaxBodySize(-1): %d bytes, %v; want 5000", h.Value, h.Err)
		}
	}
	build := func(ctx context.Context, u string) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		if err == nil {
			err = MaxBodySize(-1)(req)
		}
		return req, err
	}
	for h := range Handle(ctx, f, slices.Values([]string{big}), build, func(_ string, resp *http.Response) (int64, error) {
		return io.Copy(io.Discard, resp.Body)
	}) {
		if h.Err != nil || h.Value != 5000 {
			t.Errorf("Handle, its requests with MaxBodySize(-1): %d bytes, %v; want 5000", h.Value, h.Err)
		}
	}

	before := sent.Load()
	if r := f.Fetch(ctx, big, MaxBodySize(0)); r.Err == nil || !strings.Contains(r.Err.Error(), "MaxBodySize(0)") || sent.Load() != before {
		t.Errorf("MaxBodySize(0): %v, %d sent; want an error naming it, nothing sent", r.Err, sent.Load()-before)
	}
}

// A body cut short on the wire says how far it got under Stream, Get and
// Fetch too, as it does under Handle: "after 5 of 20 bytes" for a known
// length, "after 5 bytes" for an unknown one.
func TestBufferedBodyCutSaysHowFar(t *testing.T) {
	for _, length := range []int64{20, -1, 100 << 20} { // the last past DefaultMaxBodySize: read as it comes
		cut := roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Status: "200 OK", ContentLength: length, Request: req,
				Body: io.NopCloser(io.MultiReader(strings.NewReader("hello"), iotest.ErrReader(io.ErrUnexpectedEOF)))}, nil
		})
		f, err := New(WithClient(&http.Client{Transport: cut}), WithRetry(RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		want := "after 5 bytes"
		if length >= 0 {
			want = fmt.Sprintf("after 5 of %d bytes", length)
		}
		for r := range f.Stream(t.Context(), slices.Values([]string{"http://a.test/"}), MaxBodySize(-1)) {
			if !errors.Is(r.Err, io.ErrUnexpectedEOF) || !strings.Contains(r.Err.Error(), want) {
				t.Errorf("Content-Length %d: %v; want unexpected EOF %s", length, r.Err, want)
			}
		}
		f.Shutdown(context.Background())
	}
}
