package otelfetch_test

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/otelfetch"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// A 503 then a 200: one call, two attempts, one retry.
func TestMetricsRetryThenSuccess(t *testing.T) {
	e := newEnv(t)
	f := e.fetcher(t)
	url, port := server(t, failFirst())
	if _, err := f.Get(t.Context(), url+"/x"); err != nil {
		t.Fatalf("Get: %v", err)
	}
	ms := e.collect(t)
	host := map[string]string{"server.address": "127.0.0.1", "server.port": port}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		maps.Copy(m, host)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	calls := sums(t, ms["fetch.calls"])
	if len(calls) != 1 || calls[0].Value != 1 ||
		!sameAttrs(calls[0].Attributes, with("fetch.status_class", "2xx", "fetch.outcome", "ok")) {
		t.Errorf("fetch.calls = %v; want 1 call, 2xx, ok", pointsString(calls))
	}
	retries := sums(t, ms["fetch.retries"])
	if len(retries) != 1 || retries[0].Value != 1 || !sameAttrs(retries[0].Attributes, with("error.type", "503")) {
		t.Errorf("fetch.retries = %v; want 1, error.type 503", pointsString(retries))
	}

	d := ms["http.client.request.duration"]
	if d.Unit != "s" {
		t.Errorf("http.client.request.duration unit %q; want s", d.Unit)
	}
	want := []map[string]string{
		with("http.request.method", "GET", "http.response.status_code", "503", "error.type", "503", "network.protocol.version", "1.1"),
		with("http.request.method", "GET", "http.response.status_code", "200", "network.protocol.version", "1.1"),
	}
	for _, w := range want {
		found := false
		for _, p := range histogram(t, d) {
			if sameAttrs(p.Attributes, w) {
				found = true
				if p.Count != 1 || p.Sum <= 0 {
					t.Errorf("attempt %v: count %d, sum %v; want 1 and a positive duration", w, p.Count, p.Sum)
				}
			}
		}
		if !found {
			t.Errorf("http.client.request.duration has no point %v", w)
		}
	}

	wait := histogram(t, ms["fetch.gate.wait.duration"])
	if len(wait) != 1 || wait[0].Count != 2 || !sameAttrs(wait[0].Attributes, host) {
		t.Errorf("fetch.gate.wait.duration = %+v; want 2 waits for host %v", wait, host)
	}
}

func TestMetricsOutcomes(t *testing.T) {
	notFound, nfPort := server(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	refused, refPort := refusedURL(t)
	tests := []struct {
		name     string
		call     func(f *fetch.Fetcher) error
		port     string
		class    string
		outcome  string // "" for what the error OnDone saw says: ok or status
		attempts uint64
	}{
		{"Get 404", func(f *fetch.Fetcher) error {
			_, err := f.Get(t.Context(), notFound+"/missing")
			var se *fetch.StatusError
			if !errors.As(err, &se) || se.StatusCode != 404 {
				return fmt.Errorf("err = %v; want a *StatusError 404", err)
			}
			return nil
		}, nfPort, "4xx", "", 1},
		{"Do 404", func(f *fetch.Fetcher) error {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, notFound+"/missing", nil)
			resp, err := f.Do(req)
			if err != nil {
				return err
			}
			return resp.Body.Close()
		}, nfPort, "4xx", "ok", 1},
		{"refused", func(f *fetch.Fetcher) error {
			if _, err := f.Get(t.Context(), refused); err == nil {
				return errors.New("err = nil; want connection refused")
			}
			return nil
		}, refPort, "none", "connection_refused", uint64(fastRetries.MaxAttempts)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			hooks, done := e.seeDone()
			if err := tt.call(e.fetcher(t, fetch.WithHooks(hooks))); err != nil {
				t.Fatal(err)
			}
			if tt.outcome == "" {
				// Whether Get's *StatusError reaches OnDone is the core's
				// business; the outcome must say what OnDone saw.
				tt.outcome = "ok"
				var se *fetch.StatusError
				if errors.As(done().Err, &se) {
					tt.outcome = "status"
				}
			}
			ms := e.collect(t)
			host := map[string]string{"server.address": "127.0.0.1", "server.port": tt.port}
			calls := sums(t, ms["fetch.calls"])
			want := map[string]string{"fetch.status_class": tt.class, "fetch.outcome": tt.outcome}
			maps.Copy(want, host)
			if len(calls) != 1 || calls[0].Value != 1 || !sameAttrs(calls[0].Attributes, want) {
				t.Errorf("fetch.calls = %v; want 1 with %v", pointsString(calls), want)
			}
			var n uint64
			for _, p := range histogram(t, ms["http.client.request.duration"]) {
				n += p.Count
				wantType := "404"
				if tt.class == "none" {
					wantType = tt.outcome
				}
				if et, _ := p.Attributes.Value("error.type"); et.AsString() != wantType {
					t.Errorf("attempt error.type %q; want %s", et.AsString(), wantType)
				}
			}
			if n != tt.attempts {
				t.Errorf("attempts recorded %d; want %d", n, tt.attempts)
			}
			if r := ms["fetch.retries"]; tt.attempts > 1 {
				p := sums(t, r)
				if len(p) != 1 || p[0].Value != int64(tt.attempts-1) {
					t.Errorf("fetch.retries = %v; want %d", pointsString(p), tt.attempts-1)
				}
			}
		})
	}
}

// In flight and waiting: with one slot, one call holds it on the server
// while another waits for it.
func TestObserveInFlightAndWaiting(t *testing.T) {
	e := newEnv(t, otelfetch.WithAttributes(attribute.String("fetcher", "api")))
	f := e.fetcher(t, fetch.WithConcurrency(1))
	arrived, release := make(chan struct{}, 2), make(chan struct{})
	url, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	})
	unregister, err := e.inst.Observe(f)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}

	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := f.Get(t.Context(), url); err != nil {
				t.Errorf("Get: %v", err)
			}
		})
	}
	<-arrived
	waitUntil(t, "a call waits", func() bool { return f.Stats().Waiting == 1 })
	ms := e.collect(t)
	for name, want := range map[string]int64{"fetch.in_flight": 1, "fetch.waiting": 1} {
		m := ms[name]
		p := sums(t, m)
		if len(p) != 1 || p[0].Value != want || !sameAttrs(p[0].Attributes, map[string]string{"fetcher": "api"}) {
			t.Errorf("%s = %v; want %d with fetcher=api", name, pointsString(p), want)
		}
		if m.Data.(metricdata.Sum[int64]).IsMonotonic {
			t.Errorf("%s is monotonic; want an up-down counter", name)
		}
	}
	close(release)
	wg.Wait()

	if err := unregister(); err != nil {
		t.Fatalf("unregister: %v", err)
	}
	ms = e.collect(t)
	if _, ok := ms["fetch.in_flight"]; ok {
		t.Errorf("fetch.in_flight still reported after unregister")
	}
	if p := sums(t, ms["fetch.calls"]); len(p) != 1 || p[0].Value != 2 || !sameAttrs(p[0].Attributes, map[string]string{
		"fetcher": "api", "server.address": "127.0.0.1", "server.port": portOf(t, url),
		"fetch.status_class": "2xx", "fetch.outcome": "ok",
	}) {
		t.Errorf("fetch.calls = %v; want 2, with the fetcher attribute", pointsString(p))
	}
}

func TestObserveHostRate(t *testing.T) {
	adaptive := fetch.AdaptiveRate{Floor: 1, Initial: 50, Ceiling: 1000}
	for _, noHost := range []bool{false, true} {
		t.Run(fmt.Sprintf("noHost=%v", noHost), func(t *testing.T) {
			var opts []otelfetch.Option
			if noHost {
				opts = append(opts, otelfetch.WithoutHostAttribute())
			}
			e := newEnv(t, opts...)
			f := e.fetcher(t, fetch.WithAdaptiveRate(adaptive))
			url, port := server(t, failFirst())
			if _, err := f.Get(t.Context(), url); err != nil {
				t.Fatalf("Get: %v", err)
			}
			unregister, err := e.inst.Observe(f)
			if err != nil {
				t.Fatalf("Observe: %v", err)
			}
			defer unregister()
			hosts := f.Stats().Hosts
			if len(hosts) != 1 || hosts[0].Rate <= 0 {
				t.Fatalf("Stats().Hosts = %+v; want the one host, throttled", hosts)
			}
			ms := e.collect(t)
			m, ok := ms["fetch.host.rate"]
			if noHost {
				if ok {
					t.Errorf("fetch.host.rate reported without the host attribute: %+v", m.Data)
				}
				for _, p := range sums(t, ms["fetch.calls"]) {
					if _, ok := p.Attributes.Value("server.address"); ok {
						t.Errorf("fetch.calls has server.address despite WithoutHostAttribute")
					}
				}
				return
			}
			g, isGauge := m.Data.(metricdata.Gauge[float64])
			if !isGauge || len(g.DataPoints) != 1 {
				t.Fatalf("fetch.host.rate = %#v; want a gauge with one point", m.Data)
			}
			p := g.DataPoints[0]
			// The rate may have grown between Stats and Collect.
			if !sameAttrs(p.Attributes, map[string]string{"server.address": "127.0.0.1", "server.port": port}) ||
				p.Value < float64(adaptive.Floor) || p.Value > float64(adaptive.Ceiling) || math.IsNaN(p.Value) {
				t.Errorf("fetch.host.rate = %v %v; want a rate within [%v, %v] for 127.0.0.1:%s",
					attrs(p.Attributes), p.Value, adaptive.Floor, adaptive.Ceiling, port)
			}
		})
	}
}

// Many calls at once, to give the race detector something to see.
func TestMetricsConcurrentCalls(t *testing.T) {
	e := newEnv(t)
	f := e.fetcher(t, fetch.WithConcurrency(8))
	url, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("missing") {
			http.NotFound(w, r)
		}
	})
	unregister, err := e.inst.Observe(f)
	if err != nil {
		t.Fatal(err)
	}
	defer unregister()
	var urls []string
	for i := range 60 {
		u := url + "/" + itoa(i)
		if i%3 == 0 {
			u += "?missing"
		}
		urls = append(urls, u)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 5 {
			e.collect(t)
		}
	})
	f.GetAll(t.Context(), urls)
	wg.Wait()
	byClass := map[string]int64{}
	for _, p := range sums(t, e.collect(t)["fetch.calls"]) {
		c, _ := p.Attributes.Value("fetch.status_class")
		byClass[c.AsString()] += p.Value
		if o, _ := p.Attributes.Value("fetch.outcome"); o.AsString() != "ok" && o.AsString() != "status" {
			t.Errorf("fetch.calls has outcome %q; want ok or status", o.AsString())
		}
	}
	if byClass["2xx"] != 40 || byClass["4xx"] != 20 || len(byClass) != 2 {
		t.Errorf("fetch.calls by status class = %v; want 40 2xx, 20 4xx", byClass)
	}
}

func TestObserveNil(t *testing.T) {
	if _, err := newEnv(t).inst.Observe(nil); err == nil {
		t.Errorf("Observe(nil) succeeded; want an error")
	}
}

func pointsString(ps []metricdata.DataPoint[int64]) string {
	var s strings.Builder
	s.WriteString("[")
	for _, p := range ps {
		fmt.Fprintf(&s, "%v=%d ", attrs(p.Attributes), p.Value)
	}
	return s.String() + "]"
}

func portOf(t *testing.T, url string) string {
	t.Helper()
	i := strings.LastIndex(url, ":")
	if i < 0 {
		t.Fatalf("no port in %s", url)
	}
	return url[i+1:]
}
