// Prometheus fetches from a local server through a Fetcher instrumented
// with otelfetch, serves the metrics on /metrics with OpenTelemetry's
// Prometheus exporter, scrapes that once and prints the fetch metrics.
//
//	go -C otelfetch run ./examples/prometheus            # prints, then exits
//	go -C otelfetch run ./examples/prometheus -hold 1m   # and serves /metrics for a minute
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/otelfetch"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func main() {
	hold := flag.Duration("hold", 0, "keep serving /metrics this long after printing them, to scrape it by hand")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *hold); err != nil {
		log.Fatal(err)
	}
}

// shown are the prefixes of the /metrics lines run prints.
var shown = []string{
	"fetch_calls_total{", "fetch_retries_total{", "fetch_in_flight{", "fetch_waiting{", "fetch_host_rate",
	"http_client_request_duration_seconds_count{",
}

// run fetches a few URLs from a local upstream, some failing, then prints
// what /metrics shows of them, and serves /metrics for hold more.
func run(ctx context.Context, out io.Writer, hold time.Duration) error {
	upstream := httptest.NewServer(upstreamHandler())
	defer upstream.Close()

	// The exporter is a metric reader that a Prometheus registry collects.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutTargetInfo())
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	metrics := httptest.NewServer(mux)
	defer metrics.Close()

	// The setup the README shows, with this MeterProvider.
	inst := otelfetch.New(otelfetch.WithMeterProvider(mp))
	f, err := fetch.New(fetch.WithHooks(inst.Hooks()),
		fetch.WithAdaptiveRate(fetch.AdaptiveRate{Floor: 1, Initial: 50, Ceiling: 200}))
	if err != nil {
		return err
	}
	defer f.Shutdown(context.Background())
	unregister, err := inst.Observe(f)
	if err != nil {
		return err
	}
	defer unregister()

	urls := []string{upstream.URL + "/flaky", upstream.URL + "/missing"}
	for i := range 5 {
		urls = append(urls, fmt.Sprintf("%s/items/%d", upstream.URL, i))
	}
	failed := 0
	for _, r := range f.GetAll(ctx, urls) {
		if r.Err != nil {
			failed++
		}
	}
	fmt.Fprintf(out, "fetched %d URLs, %d failed; %s/metrics shows:\n", len(urls), failed, metrics.URL)

	if err := printMetrics(ctx, out, metrics.URL+"/metrics"); err != nil {
		return err
	}
	if hold > 0 {
		fmt.Fprintf(out, "serving %s/metrics for %v\n", metrics.URL, hold)
		select {
		case <-ctx.Done():
		case <-time.After(hold):
		}
	}
	return nil
}

// upstreamHandler answers 503 to the first request for /flaky, 404 for
// /missing and 200 for the rest.
func upstreamHandler() http.Handler {
	var flaky atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/flaky" && flaky.Add(1) == 1:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case r.URL.Path == "/missing":
			http.NotFound(w, r)
		default:
			fmt.Fprintln(w, "ok")
		}
	})
}

// printMetrics scrapes url and prints the lines that start with one of
// shown, without the scope labels every line carries.
func printMetrics(ctx context.Context, out io.Writer, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		for _, p := range shown {
			if strings.HasPrefix(line, p) {
				fmt.Fprintln(out, "  "+dropScope(line))
				break
			}
		}
	}
	return sc.Err()
}

// dropScope removes the otel_scope_* labels from a metric line.
func dropScope(line string) string {
	open, end := strings.IndexByte(line, '{'), strings.LastIndexByte(line, '}')
	if open < 0 || end < open {
		return line
	}
	var keep []string
	for l := range strings.SplitSeq(line[open+1:end], ",") {
		if !strings.HasPrefix(l, "otel_scope_") {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		return line[:open] + line[end+1:]
	}
	return line[:open+1] + strings.Join(keep, ",") + line[end:]
}
