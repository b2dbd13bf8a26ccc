package fetch

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
)

// A sitemap that fails after retries says how many times it was sent and
// how long its fetch took, on the entry and on its *Error.
func TestSitemapFailureCarriesAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sent := 0
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent++
			time.Sleep(10 * time.Millisecond) // a slow answer, on the bubble's clock
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		f := newFetcher(t, WithClient(memhttp.Client(h)), WithRetry(RetryPolicy{MaxAttempts: 3}))
		var got []SitemapURL
		for u := range Sitemap(t.Context(), f, "http://a.test/sitemap.xml") {
			got = append(got, u)
		}
		fe, isErr := errors.AsType[*Error](got[0].Err)
		if len(got) != 1 || !isErr || fe.Attempts != 3 || got[0].Attempts != 3 || sent != 3 || got[0].Duration < 30*time.Millisecond {
			t.Errorf("yielded %+v (sent %d); want one failure with 3 attempts, its *Error's too, taking at least 30ms", got, sent)
		}
	})
}

// Once ctx ends while the loop body runs, the URLs left in the sitemap
// read are not yielded: one entry matching ctx.Err() says they are
// missing, and is the last. If none is left, there is no such entry.
func TestSitemapContextEndsMidSitemap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/three.xml":
				w.Write([]byte("http://a.test/1\nhttp://a.test/2\nhttp://a.test/3\n"))
			case "/one.xml":
				w.Write([]byte("http://a.test/1\n"))
			}
		})
		f := newFetcher(t, WithClient(memhttp.Client(h)))
		for _, tc := range []struct {
			path string
			want int // entries yielded, the last an error if more than one
		}{{"/three.xml", 2}, {"/one.xml", 1}} {
			ctx, cancel := context.WithCancel(t.Context())
			var got []SitemapURL
			for u := range Sitemap(ctx, f, "http://a.test"+tc.path) {
				got = append(got, u)
				cancel()
			}
			cancel()
			last := got[len(got)-1]
			if len(got) != tc.want || got[0].Err != nil || tc.want > 1 && (!errors.Is(last.Err, context.Canceled) || last.Attempts != 1) {
				t.Errorf("%s: yielded %+v; want %d entries, the last (if not the first) context.Canceled after the one attempt", tc.path, got, tc.want)
			}
		}
	})
}

// A password holding an unencoded "#" is hidden in a URL that does not
// parse, where the parser's error quoted only what came before the "#".
func TestInvalidURLErrorHidesPassword(t *testing.T) {
	const raw = "http://user:SEC#RET@a.test/sitemap.xml"
	f := newFetcher(t, WithClient(memhttp.Client(http.NotFoundHandler())))
	_, err := f.Get(t.Context(), raw)
	if !errors.Is(err, ErrInvalidURL) || strings.Contains(err.Error(), "SEC") || strings.Contains(err.Error(), "RET") {
		t.Errorf("Get(%q) = %v; want ErrInvalidURL, no part of the password", raw, err)
	}
	for u := range Sitemap(t.Context(), f, raw) {
		if s := u.Sitemap + " " + u.Err.Error(); strings.Contains(s, "SEC") || strings.Contains(s, "RET") {
			t.Errorf("Sitemap(%q) yielded %q; want no part of the password", raw, s)
		}
	}
}
