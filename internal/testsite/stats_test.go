package testsite

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The site is started outside each bubble (its listeners are real); inside,
// requests go straight to Site.Handler, whose clock and latency timers are
// the bubble's fake ones.

func TestStatsInFlight(t *testing.T) {
	s := start(t, Config{Pages: 10, Latency: time.Second})
	h, base := s.Handler(), s.Hosts()[1]
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		var wg sync.WaitGroup
		serve := func(path string) {
			wg.Go(func() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", base+path, nil))
				if want := "<title>" + s.Title(base+path) + "</title>"; rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
					t.Errorf("GET %s = %d; want 200 and %s in\n%s", path, rec.Code, want, rec.Body)
				}
			})
		}
		for range 3 {
			serve("/p/1")
		}
		synctest.Wait() // all three are waiting out their latency
		if st := s.Stats()[1]; st.Requests != 3 || st.MaxInFlight != 3 {
			t.Errorf("three waiting: Requests %d, MaxInFlight %d; want 3, 3", st.Requests, st.MaxInFlight)
		}
		time.Sleep(time.Second)
		wg.Wait()
		serve("/p/2")
		wg.Wait()
		if d := time.Since(t0); d != 2*time.Second {
			t.Errorf("two rounds of latency took %v; want 2s", d)
		}
		st := s.Stats()[1]
		want := map[string]int{"/p/1": 3, "/p/2": 1}
		if st.Requests != 4 || st.MaxInFlight != 3 || st.MaxPerSecond != 3 || !maps.Equal(st.Fetches, want) {
			t.Errorf("Stats()[1] = %+v; want 4 requests, MaxInFlight 3, MaxPerSecond 3, Fetches %v", st, want)
		}
		if st := s.Stats()[0]; st.Requests != 0 {
			t.Errorf("host 0 saw %d requests; want 0", st.Requests)
		}
	})
}

func TestStatsPerSecond(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		gaps []time.Duration // before each request
		want int
	}{
		{"together", []time.Duration{0, 0, 0}, 3},
		{"a second apart", []time.Duration{0, time.Second, time.Second}, 1},
		{"just under a second apart", []time.Duration{0, 999 * ms, 999 * ms}, 2},
		{"sliding", []time.Duration{0, 500 * ms, 499 * ms, 1 * ms, 200 * ms, 1300 * ms}, 4},
		{"late burst", []time.Duration{0, 5 * time.Second, 0, 0, 0, 0}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, Config{Hosts: 1, Pages: 1})
			h := s.Handler()
			synctest.Test(t, func(t *testing.T) {
				for _, gap := range tc.gaps {
					time.Sleep(gap)
					h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", s.Seed(), nil))
				}
			})
			if got := s.Stats()[0].MaxPerSecond; got != tc.want {
				t.Errorf("MaxPerSecond = %d; want %d", got, tc.want)
			}
		})
	}
}

func TestLatencyEndsWithRequest(t *testing.T) {
	s := start(t, Config{Hosts: 1, Pages: 1, Latency: time.Hour})
	h := s.Handler()
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		ctx, cancel := context.WithCancel(t.Context())
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			h.ServeHTTP(rec, httptest.NewRequest("GET", s.Seed(), nil).WithContext(ctx))
			close(done)
		}()
		synctest.Wait()
		cancel()
		<-done
		if d := time.Since(t0); d != 0 || rec.Body.Len() != 0 {
			t.Errorf("cancelled request: served after %v with %d bytes; want at once, nothing", d, rec.Body.Len())
		}
	})
}

func TestHandlerUnknownHost(t *testing.T) {
	s := start(t, Config{Hosts: 1, Pages: 1})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1:1/", nil))
	if rec.Code != http.StatusNotFound || s.Stats()[0].Requests != 0 {
		t.Errorf("another host: status %d, host 0 saw %d; want 404 and 0", rec.Code, s.Stats()[0].Requests)
	}
}
