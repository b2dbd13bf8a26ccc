package fetch

// Defects a review as a new user found; each test failed on the code as
// it was.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// 1. GetJSON on a complete 200 response whose JSON is cut off (`{"a":`,
// Content-Length matching) fails with an error that matches
// io.ErrUnexpectedEOF, the README's signature of a body cut off on the
// wire, and not the decoder's *json.SyntaxError the doc promises; Stats
// then counts a server's bad JSON as a network failure (Failed.Network).
func TestGetJSONEndingInsideAValueIsASyntaxError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"a":`) // whole response, invalid JSON
		}))
		defer f.Shutdown(context.Background())
		_, err := GetJSON[map[string]int](context.Background(), f, "http://api.test/")
		if err == nil {
			t.Fatal("no error")
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("a complete response with bad JSON matches io.ErrUnexpectedEOF (a body cut on the wire): %v", err)
		}
		var se *json.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("GetJSON doc: a body that is not JSON of T's shape wraps the decoder's error (*json.SyntaxError); got %v", err)
		}
		if st := f.Stats(); st.Failed.Network != 0 {
			t.Errorf("Stats: bad JSON in a complete 200 counted as a network failure: %+v", st.Failed)
		}
	})
}

// 2. WithBearerToken with a token read from a file (trailing newline)
// fails New with an error that prints the secret token and blames
// WithHeader, an option the caller never used.
func TestWithBearerTokenErrorHidesToken(t *testing.T) {
	const secret = "ghp_s3cretT0ken"
	_, err := New(WithBearerToken(secret + "\n"))
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("New's error prints the bearer token: %v", err)
	}
	if !strings.Contains(err.Error(), "WithBearerToken") {
		t.Errorf("error does not name WithBearerToken: %v", err)
	}
}

// 3. The same for a per-call Authorization header: every Result.Err (which
// callers log) carries the secret.
func TestPerCallAuthorizationErrorHidesValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const secret = "ghp_s3cretT0ken"
		f := newMem(t, http.HandlerFunc(ok))
		defer f.Shutdown(context.Background())
		_, err := f.Get(context.Background(), "http://api.test/", Header("Authorization", "Bearer "+secret+"\n"))
		if err == nil {
			t.Fatal("no error")
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error prints the Authorization value: %v", err)
		}
	})
}

// 4. Stats.Waiting is documented as "calls waiting now for a Retry-After
// pause, a rate token or a slot, ...", but a call sleeping out its own
// 429's Retry-After is counted nowhere: Waiting 0 and InFlight 0 while it
// is pending.
func TestStatsWaitingCountsCallWaitingToRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", "10")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			fmt.Fprint(w, "ok")
		}))
		defer f.Shutdown(context.Background())
		done := make(chan error)
		go func() { _, err := f.Get(context.Background(), "http://api.test/"); done <- err }()
		time.Sleep(time.Second)
		synctest.Wait()
		st := f.Stats()
		if st.Waiting+st.InFlight == 0 {
			t.Errorf("a call waiting out Retry-After is neither Waiting nor InFlight: %+v", st)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// 5. "Every input yields exactly one result": with a nil context, GetAll
// returns one result per input, but Stream yields a single result and
// never reads its input.
func TestStreamNilContextOneResultPerInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(ok))
		defer f.Shutdown(context.Background())
		urls := []string{"http://a.test/1", "http://a.test/2", "http://a.test/3"}
		var got int
		//lint:ignore SA1012 the point of the test
		for r := range f.Stream(nil, func(yield func(string) bool) {
			for _, u := range urls {
				if !yield(u) {
					return
				}
			}
		}) {
			if r.Err == nil {
				t.Errorf("result %d without error", r.Index)
			}
			got++
		}
		if got != len(urls) {
			//lint:ignore SA1012 the point of the test
			t.Errorf("Stream(nil, 3 URLs) yielded %d results; GetAll(nil, ...) returns %d", got, len(f.GetAll(nil, urls)))
		}
	})
}

// 6. New's error for WithTransportWrapper with WithClient advises setting
// "the client's CheckRedirect, or its transport's MaxResponseHeaderBytes",
// which has nothing to do with wrapping a transport.
func TestTransportWrapperWithClientAdvice(t *testing.T) {
	_, err := New(WithClient(&http.Client{}), WithTransportWrapper(func(rt http.RoundTripper) http.RoundTripper { return rt }))
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "CheckRedirect") || strings.Contains(err.Error(), "MaxResponseHeaderBytes") {
		t.Errorf("misleading advice for WithTransportWrapper: %v", err)
	}
}

// A call given a nil context names its URL once: "fetch: URL: nil context".
func TestNilContextErrorNamesURLOnce(t *testing.T) {
	f := newMem(t, http.HandlerFunc(ok))
	//lint:ignore SA1012 the point of the test
	_, err := f.Get(nil, "http://a.test/x")
	if err == nil || strings.Count(err.Error(), "a.test/x") != 1 || !strings.Contains(err.Error(), "nil context") {
		t.Errorf("Get(nil, url) = %v; want the URL once and \"nil context\"", err)
	}
}
