package main

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The example prints the metrics it promises, with the counts its
// fetches make.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out, 0); err != nil {
		t.Fatalf("run: %v\n%s", err, out.Bytes())
	}
	for _, c := range []struct {
		pattern string
		check   func(v float64) bool
	}{
		{`fetched 7 URLs, 1 failed; http://127\.0\.0\.1:\d+/metrics shows:`, nil},
		{`fetch_calls_total\{fetch_outcome="ok",fetch_status_class="2xx",server_address="127\.0\.0\.1",server_port="\d+"\} (\S+)`,
			func(v float64) bool { return v == 6 }},
		{`fetch_calls_total\{fetch_outcome="\w+",fetch_status_class="4xx",server_address="127\.0\.0\.1",server_port="\d+"\} (\S+)`,
			func(v float64) bool { return v == 1 }},
		{`fetch_retries_total\{error_type="503",server_address="127\.0\.0\.1",server_port="\d+"\} (\S+)`,
			func(v float64) bool { return v == 1 }},
		{`http_client_request_duration_seconds_count\{http_request_method="GET",http_response_status_code="200",network_protocol_version="1\.1",server_address="127\.0\.0\.1",server_port="\d+"\} (\S+)`,
			func(v float64) bool { return v == 6 }},
		{`fetch_host_rate_per_second\{server_address="127\.0\.0\.1",server_port="\d+"\} (\S+)`,
			func(v float64) bool { return v >= 1 && v <= 200 }},
		{`(?m)^  fetch_in_flight (\S+)$`, func(v float64) bool { return v == 0 }},
		{`(?m)^  fetch_waiting (\S+)$`, func(v float64) bool { return v == 0 }},
	} {
		m := regexp.MustCompile(c.pattern).FindSubmatch(out.Bytes())
		if m == nil {
			t.Errorf("output lacks %q:\n%s", c.pattern, out.Bytes())
			continue
		}
		if c.check == nil {
			continue
		}
		if v, err := strconv.ParseFloat(string(m[1]), 64); err != nil || !c.check(v) {
			t.Errorf("%q: value %s out of range:\n%s", c.pattern, m[1], out.Bytes())
		}
	}
}
