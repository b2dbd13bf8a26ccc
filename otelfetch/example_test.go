package otelfetch_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/otelfetch"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// The setup of the README's "Metrics and traces" section, with an
// in-memory reader in place of an exporter to show what was recorded.
func ExampleNew() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	inst := otelfetch.New(otelfetch.WithMeterProvider(mp)) // and the global TracerProvider
	f, err := fetch.New(fetch.WithHooks(inst.Hooks()))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	unregister, err := inst.Observe(f) // in flight, waiting, host rates
	if err != nil {
		log.Fatal(err)
	}
	defer unregister()

	for range 3 {
		if _, err := f.Get(context.Background(), srv.URL); err != nil {
			log.Fatal(err)
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == "fetch.calls" {
			p := m.Data.(metricdata.Sum[int64]).DataPoints[0]
			class, _ := p.Attributes.Value("fetch.status_class")
			outcome, _ := p.Attributes.Value("fetch.outcome")
			fmt.Printf("%s{%s, %s} %d\n", m.Name, class.String(), outcome.String(), p.Value)
		}
	}
	// Output: fetch.calls{2xx, ok} 3
}
