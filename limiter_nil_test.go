package fetch

import (
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch/internal/memhttp"
	"golang.org/x/time/rate"
)

// A nil *rate.Limiter given to WithLimiter (a config field left unset) is
// refused at New, naming it, rather than taken silently as no limit.
func TestWithLimiterTypedNil(t *testing.T) {
	var l *rate.Limiter
	_, err := New(WithLimiter(l))
	if err == nil || !strings.Contains(err.Error(), "(*rate.Limiter)(nil)") {
		t.Fatalf("New(WithLimiter((*rate.Limiter)(nil))) = %v; want an error naming the nil *rate.Limiter", err)
	}
}

// WithHostLimiter's factory may return nil, or a nil *rate.Limiter, for a
// host that needs no rate gate: its requests go at once, while the hosts
// given a bucket keep to it.
func TestWithHostLimiterNilForSomeHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
		f := newFetcher(t, WithClient(memhttp.Client(ok)), WithHostLimiter(func(host string) Limiter {
			switch host {
			case "free.test":
				return nil
			case "typed.test":
				return (*rate.Limiter)(nil)
			}
			return rate.NewLimiter(1, 1)
		}))
		for _, host := range []string{"free.test", "typed.test", "paced.test"} {
			start := time.Now()
			for range 4 {
				if _, err := f.Get(t.Context(), "http://"+host+"/"); err != nil {
					t.Fatalf("%s: %v", host, err)
				}
			}
			took := time.Since(start)
			want := time.Duration(0)
			if host == "paced.test" {
				want = 3 * time.Second // 4 requests at 1/s, burst 1
			}
			if took != want {
				t.Errorf("%s: 4 requests took %v; want %v", host, took, want)
			}
		}
	})
}
