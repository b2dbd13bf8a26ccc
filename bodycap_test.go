package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
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
