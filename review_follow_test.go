package fetch

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/c989c033/fetch/internal/memhttp"
)

// A redirect not followed is the final response whatever its Location
// holds: one that does not parse as a URL ("/100%" in a path, as servers
// send it) is handed back with the 3xx, where net/http's redirect loop,
// which parses it before it asks CheckRedirect, fails the request and
// drops the response.
func TestReviewFollowUnparsableLocation(t *testing.T) {
	f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/100%")
		w.WriteHeader(http.StatusFound)
	}), WithFollowRedirects(false))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://a.test/", nil)
	resp, err := f.Do(req)
	if err != nil {
		t.Fatalf("Do: %v; want the 302", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/100%" {
		t.Errorf("Do: %d, Location %q; want the 302 to /100%%", resp.StatusCode, resp.Header.Get("Location"))
	}
	r := f.Fetch(t.Context(), "http://a.test/")
	if se, ok := errors.AsType[*StatusError](r.Err); !ok || se.StatusCode != http.StatusFound || se.Header.Get("Location") != "/100%" {
		t.Errorf("Fetch: %v; want a StatusError for the 302, with its Location", r.Err)
	}
}

// A 307 or 308 not followed sends nothing more, so nothing asks the
// request's GetBody for its body again: net/http asks for it before it
// asks CheckRedirect, and fails the request, dropping the 3xx, if
// GetBody fails (the source of an upload gone since). Every body the
// request had is closed.
func TestReviewFollowGetBodyOf307(t *testing.T) {
	f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, "/other", http.StatusTemporaryRedirect)
	}), WithFollowRedirects(false))
	for _, broken := range []bool{false, true} {
		var bodies []*trackedBody
		newBody := func() io.ReadCloser {
			b := &trackedBody{Reader: strings.NewReader("data")}
			bodies = append(bodies, b)
			return b
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://a.test/upload", nil)
		req.Body, req.ContentLength = newBody(), 4
		req.GetBody = func() (io.ReadCloser, error) {
			if broken {
				return nil, errors.New("the upload's source is gone")
			}
			return newBody(), nil
		}
		resp, err := f.Do(req)
		if err != nil {
			t.Errorf("Do, GetBody broken %v: %v; want the 307", broken, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/other" {
			t.Errorf("Do, GetBody broken %v: %d to %q; want the 307 to /other", broken, resp.StatusCode, resp.Header.Get("Location"))
		}
		for i, b := range bodies {
			if !b.closed.Load() {
				t.Errorf("GetBody broken %v: body %d of %d left open", broken, i+1, len(bodies))
			}
		}
	}
}

// A CheckRedirect of WithClient's client that returns ErrUseLastResponse
// hands back the 307, as the Fetcher's own choice does, and the body
// net/http asked GetBody for, to send again, is closed: net/http leaves
// it open.
func TestReviewFollowClientUseLastResponseClosesBody(t *testing.T) {
	client := memhttp.Client(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, "/other", http.StatusPermanentRedirect)
	}))
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	f, err := New(WithClient(client))
	if err != nil {
		t.Fatal(err)
	}
	var bodies []*trackedBody
	newBody := func() io.ReadCloser {
		b := &trackedBody{Reader: strings.NewReader("data")}
		bodies = append(bodies, b)
		return b
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://a.test/upload", nil)
	req.Body, req.ContentLength = newBody(), 4
	req.GetBody = func() (io.ReadCloser, error) { return newBody(), nil }
	resp, err := f.Do(req)
	if err != nil {
		t.Fatalf("Do: %v; want the 308", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect {
		t.Errorf("Do: %d; want the 308", resp.StatusCode)
	}
	for i, b := range bodies {
		if !b.closed.Load() {
			t.Errorf("body %d of %d left open", i+1, len(bodies))
		}
	}
}
