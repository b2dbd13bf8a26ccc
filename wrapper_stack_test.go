package fetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// WithTransportWrapper given more than once stacks the wrappers, as
// WithHooks stacks hooks: the last given sees each request first, and
// passes it to the one before. Before, the last replaced the others, so
// that otelfetch.Propagate and a wrapper of the caller's's could not both
// be used.
func TestTransportWrappersStack(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Header.Get("X-Seen")))
	}))
	defer srv.Close()
	var mu sync.Mutex
	var order []string
	wrapper := func(name string) func(http.RoundTripper) http.RoundTripper {
		return func(next http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
				r = r.Clone(r.Context())
				r.Header.Set("X-Seen", strings.TrimPrefix(r.Header.Get("X-Seen")+","+name, ","))
				return next.RoundTrip(r)
			})
		}
	}
	f, err := New(WithTransportWrapper(wrapper("a")), WithTransportWrapper(wrapper("b")), WithTransportWrapper(wrapper("c")))
	if err != nil {
		t.Fatal(err)
	}
	body, err := f.Get(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(body), "c,b,a"; got != want || !slices.Equal(order, []string{"c", "b", "a"}) {
		t.Fatalf("the server saw %q, the wrappers ran %v; want %q, each once, the last given first", got, order, want)
	}
	_, err = New(WithTransportWrapper(wrapper("a")), WithTransportWrapper(func(http.RoundTripper) http.RoundTripper { return nil }))
	if err == nil || !strings.Contains(err.Error(), "nil RoundTripper") {
		t.Fatalf("New with a wrapper returning nil: %v; want it refused", err)
	}
}
