package main

import (
	"bytes"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// --limit-rate takes bytes, or KiB, MiB or GiB with k, m or g in either
// case, as curl and wget take it; nothing else.
func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1", 1},
		{"200", 200},
		{"200k", 200 << 10},
		{"200K", 200 << 10},
		{"1m", 1 << 20},
		{"1M", 1 << 20},
		{"2g", 2 << 30},
		{"2G", 2 << 30},
		{"007k", 7 << 10},
		{"9223372036854775807", math.MaxInt64},
		{"8589934591g", 8589934591 << 30},
		{"1.5m", 3 << 19},
		{"2.5k", 2560},
		{"0.5k", 512},
		{"1.0001", 1},
		{"0.0", 0},
	} {
		if got, err := parseRate(tc.in); got != tc.want || err != nil {
			t.Errorf("parseRate(%q) = %d, %v; want %d, nil", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"", "k", "-1", "-1k", "-1.5k", "+1", "0.25", ".5k", "1.k", "1..5k", "1.5.5k", "1e3", "9999999999.5g", "0x10", "1_000", " 1", "1 ", "1 k",
		"1t", "1kb", "1KiB", "kk", "1kk", "１", "9223372036854775808", "8589934592g", "9007199254740992k",
	} {
		if got, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) = %d, nil; want an error", in, got)
		}
	}
}

// A --limit-rate that is not a rate is a usage error naming the flag.
func TestLimitRateUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--limit-rate", "-1"},
		{"--limit-rate=-5k"},
		{"--limit-rate", "1.5.5m"},
		{"--limit-rate", "10t"},
		{"--limit-rate", "99999999999g"},
		{"--limit-rate", ""},
	} {
		args := append(args, "http://127.0.0.1:1/")
		code, out, stderr := runCmd(t, "", args...)
		if code != exitUsage || out != "" || !strings.Contains(stderr, "--limit-rate") || strings.Contains(stderr, "With") {
			t.Errorf("fetch %q: exit %d, stderr %q; want 2 and an error naming --limit-rate", args, code, stderr)
		}
	}
}

// The cap applies to the run: a 1 MiB body at 1 KiB/s is still coming
// when --total ends the run, and it is the run's deadline that ends it, not
// --timeout, which under a cap bounds a stall, not the attempt. --limit-rate 0
// sets no cap.
func TestLimitRateCapsTheRun(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	u := srv.URL + "/big"
	flags := []string{"-q", "--retries", "0", "--timeout", "500ms"}

	code, out, stderr := runCmd(t, "", append(flags, "--limit-rate", "0", "--total", "1m", u)...)
	if r := records(t, out)[u]; code != exitOK || r.Bytes != 1<<20 || r.Error != "" {
		t.Fatalf("--limit-rate 0: exit %d, record %+v, stderr %q; want 0 and the whole body", code, r, stderr)
	}

	code, out, stderr = runCmd(t, "", append(flags, "--limit-rate", "1k", "--total", "1s", u)...)
	if r := records(t, out)[u]; code != exitSomeFailed || r.ErrorKind != "deadline" || r.Attempts != 1 {
		t.Errorf("--limit-rate 1k: exit %d, record %+v, stderr %q; want 1 and error_kind deadline after 1 attempt", code, r, stderr)
	}
}
