package main

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch"
)

// timedLines returns the records in out, in order, as JSON objects.
func timedLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		recs = append(recs, m)
	}
	return recs
}

// timedPhases says which of a record's timings are there.
type timedPhases struct{ dns, connect, tls, firstByte, reused bool }

// checkTimings checks that rec has "timings" with the phases of w and
// no other, each a number of milliseconds above 0, in the order of the
// request: dns_ms ≤ connect_ms ≤ tls_ms ≤ first_byte_ms ≤ total_ms. It
// returns the timings.
func checkTimings(t *testing.T, name string, rec map[string]any, w timedPhases) map[string]any {
	t.Helper()
	tm, ok := rec["timings"].(map[string]any)
	if !ok {
		t.Errorf("%s: record %v: no timings object", name, rec)
		return nil
	}
	prev := 0.0
	for _, p := range []struct {
		key  string
		want bool
	}{{"dns_ms", w.dns}, {"connect_ms", w.connect}, {"tls_ms", w.tls}, {"first_byte_ms", w.firstByte}, {"total_ms", true}} {
		v, there := tm[p.key]
		if there != p.want {
			t.Errorf("%s: timings %v: %s there = %v; want %v", name, tm, p.key, there, p.want)
			continue
		}
		if !there {
			continue
		}
		ms, ok := v.(float64)
		if !ok || ms <= 0 || ms < prev {
			t.Errorf("%s: timings %v: %s = %v; want a number above 0 and at least the phase before's, %v", name, tm, p.key, v, prev)
		}
		prev = ms
	}
	if got := tm["reused"] == true; got != w.reused {
		t.Errorf("%s: timings %v: reused = %v; want %v", name, tm, got, w.reused)
	}
	if len(tm) > 6 {
		t.Errorf("%s: timings %v: keys other than the phases'", name, tm)
	}
	return tm
}

// With --timings, each record times the request that got its response,
// over http and https (verified with --cacert or not with -k), HTTP/1.1
// and HTTP/2: a name
// looked up (localhost) has dns_ms, an IP address none; a connection made
// for it has connect_ms, and over https tls_ms; the next URL, sent on the
// same connection kept alive (-c 1), says reused, with none of the three.
func TestTimingsPhases(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	plain := httptest.NewServer(ok)
	defer plain.Close()
	secure := httptest.NewTLSServer(ok)
	defer secure.Close()
	h2 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(w, "not HTTP/2: "+r.Proto, http.StatusHTTPVersionNotSupported)
		}
	}))
	h2.EnableHTTP2 = true
	h2.StartTLS()
	defer h2.Close()
	ca := writePEM(t, t.TempDir(), "ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw})
	byName := func(u string) string { return strings.Replace(u, "127.0.0.1", "localhost", 1) }

	for _, tc := range []struct {
		name     string
		base     string
		args     []string
		dns, tls bool
	}{
		{"http, IP address", plain.URL, nil, false, false},
		{"http, localhost", byName(plain.URL), nil, true, false},
		{"https --cacert, IP address", secure.URL, []string{"--cacert", ca}, false, true},
		{"https -k, localhost", byName(secure.URL), []string{"-k"}, true, true},
		{"https, HTTP/2", h2.URL, []string{"-k"}, false, true},
	} {
		args := append([]string{"-q", "--timings", "-c", "1", tc.base + "/a", tc.base + "/b"}, tc.args...)
		code, out, stderr := runCmd(t, "", args...)
		recs := timedLines(t, out)
		if code != exitOK || len(recs) != 2 {
			t.Errorf("%s: exit %d, %d records (stderr %q); want 0, 2", tc.name, code, len(recs), stderr)
			continue
		}
		if recs[0]["url"] != tc.base+"/a" {
			t.Errorf("%s: first record %v; want /a's", tc.name, recs[0])
			continue
		}
		checkTimings(t, tc.name+", new connection", recs[0], timedPhases{dns: tc.dns, connect: true, tls: tc.tls, firstByte: true})
		checkTimings(t, tc.name+", kept alive", recs[1], timedPhases{firstByte: true, reused: true})
	}
}

// Without --timings, a record has no "timings"; with it, an input never
// sent has none either, and a request that got no response has its
// total_ms alone.
func TestTimingsOnlyForRequestsSent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/"
	ln.Close()

	_, out, _ := runCmd(t, "", "-q", srv.URL+"/")
	if recs := timedLines(t, out); len(recs) != 1 || recs[0]["timings"] != nil || strings.Contains(out, "timings") {
		t.Errorf("without --timings: %q; want one record, without timings", out)
	}

	_, out, _ = runCmd(t, "", "-q", "--timings", "--retries", "0", "http://bad host/", refused)
	byURL := map[string]map[string]any{}
	for _, r := range timedLines(t, out) {
		byURL[r["url"].(string)] = r
	}
	if r := byURL["http://bad host/"]; r == nil || r["timings"] != nil {
		t.Errorf("an input never sent: record %v; want one without timings", r)
	}
	if r := byURL[refused]; r == nil || r["error_kind"] != "connection_refused" {
		t.Errorf("a refused connection: record %v; want one with error_kind connection_refused", r)
	} else {
		checkTimings(t, "refused", r, timedPhases{})
	}
}

// A retried URL's record has the timings of its last attempt: its first
// attempt, answered 503 after a delay, took longer to its first byte than
// the whole of the record's timings, and the retry went over the same
// connection, kept alive.
func TestTimingsAreTheLastAttempts(t *testing.T) {
	const delay = 250 * time.Millisecond
	arrived, release := make(chan struct{}), make(chan struct{})
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			close(arrived)
			<-release
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release) // the first request never came: do not hold the server's Close
		}
	}()
	go func() {
		select {
		case <-arrived:
		case <-t.Context().Done():
			return
		}
		// Not a synchronisation (the channels order the events): the
		// delay the first attempt's first_byte_ms would show.
		<-time.After(delay)
		close(release)
	}()

	code, out, stderr := runCmd(t, "", "-q", "--timings", "--retries", "1", srv.URL+"/")
	recs := timedLines(t, out)
	if code != exitOK || len(recs) != 1 || recs[0]["attempts"] != 2.0 {
		t.Fatalf("exit %d, records %v (stderr %q); want 0, one record of 2 attempts", code, recs, stderr)
	}
	tm := checkTimings(t, "retried", recs[0], timedPhases{firstByte: true, reused: true})
	if total, _ := tm["total_ms"].(float64); total >= float64(delay.Milliseconds()) {
		t.Errorf("timings %v: total_ms %v; want the second attempt's, under the first's delay of %v", tm, total, delay)
	}
}

// After a redirect, the timings are those of the last request, the one
// that got the response, from its own start: a redirect from localhost to
// 127.0.0.1 (a new connection, without a name to look up) has connect_ms
// but no dns_ms, though the first request looked localhost up.
func TestTimingsAreTheLastRedirects(t *testing.T) {
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("/from", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+"/to", http.StatusFound)
	})
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	srv = httptest.NewServer(mux)
	defer srv.Close()

	from := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/from"
	code, out, stderr := runCmd(t, "", "-q", "--timings", from)
	recs := timedLines(t, out)
	if code != exitOK || len(recs) != 1 || recs[0]["final_url"] != srv.URL+"/to" {
		t.Fatalf("exit %d, records %v (stderr %q); want 0, one record redirected to /to", code, recs, stderr)
	}
	checkTimings(t, "redirected", recs[0], timedPhases{connect: true, firstByte: true})
}

// With -O, the records have timings too, total_ms up to the body saved.
func TestTimingsWithOutputDir(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	code, out, stderr := runCmd(t, "", "-q", "--timings", "-O", t.TempDir(), srv.URL+"/a.txt")
	recs := timedLines(t, out)
	if code != exitOK || len(recs) != 1 || recs[0]["file"] == nil {
		t.Fatalf("exit %d, records %v (stderr %q); want 0, one record of a saved file", code, recs, stderr)
	}
	checkTimings(t, "-O", recs[0], timedPhases{connect: true, firstByte: true})
}

// --timings is refused with -r and --queue, whose requests the command
// does not make, with one line naming both flags; nothing is fetched.
func TestTimingsRefused(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	noRedis := "redis://" + ln.Addr().String() + "/urls"
	ln.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-r", srv.URL + "/"}, "fetch: -r and --timings: "},
		{[]string{"--queue", noRedis, "--total", "2s"}, "fetch: --queue and --timings: "},
	} {
		code, out, stderr := runCmd(t, "", append([]string{"-q", "--timings"}, tc.args...)...)
		if code != exitUsage || out != "" || !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("fetch --timings %q: exit %d, stdout %q, stderr %q; want 2, nothing, one line starting %q", tc.args, code, out, stderr, tc.want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests made; want none", n)
	}
}

// curl's -w and --write-out point to --timings.
func TestWriteOutHintsAtTimings(t *testing.T) {
	for _, flag := range []string{"-w", "--write-out"} {
		code, _, stderr := runCmd(t, "", flag, "%{time_total}", "http://example.com/")
		if code != exitUsage || !strings.Contains(stderr, "--timings") {
			t.Errorf("fetch %s: exit %d, stderr %q; want 2 and a hint at --timings", flag, code, stderr)
		}
	}
}

// A clock keeps the phases of the latest request it saw, from that
// request's start, rounded to the microsecond: a dial's report of a phase the
// request did not begin (a dial begun for an earlier request), a phase
// that failed (an address that refused) and a report that comes once the
// request has its connection are not its own. An attempt that sent no
// request, ending after one that did, leaves no timings: they would be
// the earlier attempt's.
func TestClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := new(clock)
		tr := httptrace.ContextClientTrace(c.context(t.Context()))
		req := func() *http.Request {
			r, _ := http.NewRequest("GET", "http://example.com/", nil)
			return r
		}
		step := func() { time.Sleep(412345 * time.Nanosecond) }

		tr.GetConn("example.com:80")
		step()
		tr.DNSDone(httptrace.DNSDoneInfo{}) // no DNSStart: an earlier request's dial
		tr.ConnectStart("tcp", "[::1]:80")
		step()
		tr.ConnectDone("tcp", "[::1]:80", errors.New("refused"))
		tr.ConnectStart("tcp", "127.0.0.1:80")
		step()
		tr.ConnectDone("tcp", "127.0.0.1:80", nil)
		tr.TLSHandshakeStart()
		tr.GotConn(httptrace.GotConnInfo{}) // a connection another request dialled
		step()
		tr.TLSHandshakeDone(tls.ConnectionState{}, nil) // its own dial's, whose connection it did not get
		tr.GotFirstResponseByte()
		step()
		endAttempt(fetch.AttemptInfo{Request: req().WithContext(c.context(t.Context()))})
		want := &timings{Connect: 1.237, FirstByte: 1.649, Total: 2.062}
		if got := c.times(); got == nil || *got != *want {
			t.Errorf("times() = %+v; want %+v", got, want)
		}

		tr.GetConn("example.com:80") // a retry, on the kept-alive connection
		tr.ConnectStart("tcp", "127.0.0.1:80")
		step()
		tr.ConnectDone("tcp", "127.0.0.1:80", nil) // a dial it began, but whose connection it did not get
		tr.GotConn(httptrace.GotConnInfo{Reused: true})
		step()
		tr.GotFirstResponseByte()
		c.end()
		want = &timings{FirstByte: 0.825, Total: 0.825, Reused: true}
		if got := c.times(); got == nil || *got != *want {
			t.Errorf("after a retry: times() = %+v; want %+v", got, want)
		}

		c.end() // an attempt that sent no request
		if got := c.times(); got != nil {
			t.Errorf("after an attempt that sent nothing: times() = %+v; want nil", got)
		}
		if got := (*clock)(nil).times(); got != nil {
			t.Errorf("no clock: times() = %+v; want nil", got)
		}
	})
}
