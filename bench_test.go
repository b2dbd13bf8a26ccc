package fetch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// cannedTransport answers every request at once with the same small body:
// the cheapest RoundTripper there is, so that benchmarks measure what sits
// on top of it.
type cannedTransport struct{ body []byte }

func (t cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode:    http.StatusOK,
		Status:        "200 OK",
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		ContentLength: int64(len(t.body)),
		Body:          io.NopCloser(bytes.NewReader(t.body)),
		Request:       req,
	}, nil
}

var benchBody = bytes.Repeat([]byte("x"), 100)

// gatedOptions turns every gate on, none of them binding: a rate far above
// what the benchmark reaches, a concurrency cap, a retry policy that never
// fires, and per-host state.
func gatedOptions(client *http.Client) []Option {
	return []Option{
		WithClient(client),
		WithRate(rate.Limit(1e12), 1<<30),
		WithHostRate(rate.Limit(1e12), 1<<30),
		WithConcurrency(1024),
		WithHostConcurrency(1024),
		WithRetry(DefaultRetryPolicy()),
	}
}

func drainClose(b *testing.B, resp *http.Response, err error) {
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// BenchmarkDo measures one request through the Fetcher, all gates on,
// against the same request through a bare http.Client on the same
// transport; the difference is the gates' cost.
func BenchmarkDo(b *testing.B) {
	client := &http.Client{Transport: cannedTransport{benchBody}}
	req, _ := http.NewRequest(http.MethodGet, "http://a.test/x", nil)
	b.Run("bare-client", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Do(req)
			drainClose(b, resp, err)
		}
	})
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"fetcher", nil},
		{"fetcher-attempt-timeout", []Option{WithAttemptTimeout(time.Minute)}},
	} {
		f, _ := New(append(gatedOptions(client), tc.opts...)...)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := f.Do(req)
				drainClose(b, resp, err)
			}
		})
	}
}

// BenchmarkDoParallel is BenchmarkDo from GOMAXPROCS goroutines at once.
func BenchmarkDoParallel(b *testing.B) {
	client := &http.Client{Transport: cannedTransport{benchBody}}
	f, _ := New(gatedOptions(client)...)
	for name, do := range map[string]func(*http.Request) (*http.Response, error){
		"bare-client": client.Do,
		"fetcher":     f.Do,
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest(http.MethodGet, "http://a.test/x", nil)
				for pb.Next() {
					resp, err := do(req)
					drainClose(b, resp, err)
				}
			})
		})
	}
}

// BenchmarkHostGates sends requests to 10,000 distinct hosts from 256
// goroutines: per-host state must not serialise them on one lock.
func BenchmarkHostGates(b *testing.B) {
	client := &http.Client{Transport: cannedTransport{benchBody}}
	f, _ := New(gatedOptions(client)...)
	reqs := make([]*http.Request, 10_000)
	for i := range reqs {
		reqs[i], _ = http.NewRequest(http.MethodGet, fmt.Sprintf("http://h%d.test/", i), nil)
	}
	b.ReportAllocs()
	b.SetParallelism(256 / max(runtime.GOMAXPROCS(0), 1))
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			resp, err := f.Do(reqs[i%len(reqs)])
			drainClose(b, resp, err)
			i += 7919 // a prime stride: goroutines spread over the hosts
		}
	})
}

// BenchmarkStream measures results per second through the streaming
// iterator, body read included, against the same requests through a bare
// http.Client on a pool of as many goroutines handing bodies back over a
// channel: what a hand-written streaming pool costs.
func BenchmarkStream(b *testing.B) {
	const conc = 64
	client := &http.Client{Transport: cannedTransport{benchBody}}
	url := func(i int) string { return "http://a.test/" + strconv.Itoa(i&1023) }
	b.Run("bare-pool", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		results := make(chan []byte, conc)
		var wg sync.WaitGroup
		for range conc {
			wg.Go(func() {
				for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
					resp, err := client.Get(url(int(i)))
					if err != nil {
						panic(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					results <- body
				}
			})
		}
		go func() { wg.Wait(); close(results) }()
		n := 0
		for range results {
			n++
		}
		if n != b.N {
			b.Fatalf("%d results for %d inputs", n, b.N)
		}
	})
	b.Run("fetcher", func(b *testing.B) {
		f, _ := New(append(gatedOptions(client), WithConcurrency(conc))...)
		urls := func(yield func(string) bool) {
			for i := 0; i < b.N; i++ {
				if !yield(url(i)) {
					return
				}
			}
		}
		b.ReportAllocs()
		n := 0
		for r := range f.Stream(context.Background(), urls) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			n++
		}
		if n != b.N {
			b.Fatalf("%d results for %d inputs", n, b.N)
		}
	})
}

// heldTransport holds every request until release is closed, telling
// started of each as it arrives.
type heldTransport struct {
	started chan<- struct{}
	release <-chan struct{}
}

func (t heldTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.started <- struct{}{}
	<-t.release
	return cannedTransport{benchBody}.RoundTrip(req)
}

// BenchmarkGCWaiting measures one garbage collection while 256 requests
// wait in the transport, as they do on a slow network. Each collection
// walks the stack of every waiting request, so every frame the Fetcher puts
// between a worker and the transport costs once per waiting request per
// cycle: a cost the in-memory benchmarks above never see, because their
// requests do not wait. bare-pool is the same wait in a plain worker pool.
func BenchmarkGCWaiting(b *testing.B) {
	const waiting = 256
	urls := slices.Repeat([]string{"http://a.test/x"}, waiting)
	measure := func(b *testing.B, fetchAll func(*http.Client)) {
		started, release := make(chan struct{}), make(chan struct{})
		client := &http.Client{Transport: heldTransport{started, release}}
		done := make(chan struct{})
		go func() { fetchAll(client); close(done) }()
		defer func() { close(release); <-done }() // on Fatal too: no request is left held
		for range waiting {
			select {
			case <-started:
			case <-done:
				b.Fatal("the requests ended before all of them reached the transport")
			}
		}
		for b.Loop() {
			runtime.GC()
		}
	}
	b.Run("bare-pool", func(b *testing.B) {
		measure(b, func(client *http.Client) {
			var wg sync.WaitGroup
			for _, u := range urls {
				wg.Go(func() {
					resp, err := client.Get(u)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				})
			}
			wg.Wait()
		})
	})
	for _, tc := range []struct {
		name    string
		results func(*Fetcher) iter.Seq[Result]
	}{
		{"stream", func(f *Fetcher) iter.Seq[Result] { return f.Stream(context.Background(), slices.Values(urls)) }},
		{"batch", func(f *Fetcher) iter.Seq[Result] { return slices.Values(f.GetAll(context.Background(), urls)) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			measure(b, func(client *http.Client) {
				f, err := New(WithClient(client), WithConcurrency(waiting))
				if err != nil {
					b.Error(err)
					return
				}
				for r := range tc.results(f) {
					if r.Err != nil {
						b.Error(r.Err)
					}
				}
			})
		})
	}
}

// BenchmarkStreamMillion streams 1,000,000 inputs and reports the peak heap
// in use and the most goroutines seen, which must not grow with the input.
func BenchmarkStreamMillion(b *testing.B) {
	const inputs, conc = 1_000_000, 64
	client := &http.Client{Transport: cannedTransport{benchBody}}
	f, _ := New(append(gatedOptions(client), WithConcurrency(conc))...)
	urls := func(yield func(string) bool) {
		for i := range inputs {
			if !yield("http://a.test/" + strconv.Itoa(i)) {
				return
			}
		}
	}
	var peakHeap uint64
	peakG := 0
	for b.Loop() {
		runtime.GC()
		baseG := runtime.NumGoroutine()
		var ms runtime.MemStats
		n := 0
		for r := range f.Stream(context.Background(), urls) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			if n++; n%20_000 == 0 {
				runtime.ReadMemStats(&ms)
				peakHeap = max(peakHeap, ms.HeapInuse)
				peakG = max(peakG, runtime.NumGoroutine()-baseG)
			}
		}
		if n != inputs {
			b.Fatalf("%d results for %d inputs", n, inputs)
		}
	}
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(peakG), "peak-goroutines")
	b.ReportMetric(conc, "concurrency")
}

func BenchmarkBackoff(b *testing.B) {
	p := DefaultRetryPolicy()
	b.ReportAllocs()
	var d time.Duration
	for i := 0; b.Loop(); i++ {
		d = p.Backoff(i%20+1, d)
	}
}

func BenchmarkParseRetryAfter(b *testing.B) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "Sun, 22 Nov 2026 12:00:30 GMT", "garbage"} {
		b.Run(v, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				parseRetryAfter(v, now, time.Minute)
			}
		})
	}
}

// BenchmarkStreamMillionHosts streams 1,000,000 inputs to as many distinct
// hosts with every per-host option on, and reports the peak heap in use and
// the heap the Fetcher still holds after the run and a collection: per-host
// state must stay small however many hosts pass through.
func BenchmarkStreamMillionHosts(b *testing.B) {
	const inputs, conc = 1_000_000, 64
	client := &http.Client{Transport: cannedTransport{benchBody}}
	f, _ := New(append(gatedOptions(client),
		WithConcurrency(conc),
		WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 1e6}),
		WithRetryBudget(RetryBudget{}))...)
	urls := func(yield func(string) bool) {
		for i := range inputs {
			if !yield("http://h" + strconv.Itoa(i) + ".test/") {
				return
			}
		}
	}
	var peakHeap, retained uint64
	for b.Loop() {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		n := 0
		for r := range f.Stream(context.Background(), urls) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			if n++; n%20_000 == 0 {
				runtime.ReadMemStats(&ms)
				peakHeap = max(peakHeap, ms.HeapInuse)
			}
		}
		if n != inputs {
			b.Fatalf("%d results for %d inputs", n, inputs)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		retained = max(retained, ms.HeapInuse-min(base, ms.HeapInuse))
	}
	runtime.KeepAlive(f)
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(retained)/(1<<20), "retained-heap-MiB")
}
