package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A sitemap --sitemap could not fetch has a record whose attempts are the
// requests it was sent, retries included, with -r as without.
func TestSitemapFailureAttempts(t *testing.T) {
	for _, mode := range [][]string{{"-r"}, nil} {
		var sent atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent.Add(1)
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		args := append([]string{"-q", "--retries", "2", "--sitemap", srv.URL + "/sitemap.xml"}, mode...)
		code, out, stderr := runCmd(t, "", args...)
		srv.Close()
		rec, ok := records(t, out)[srv.URL+"/sitemap.xml"]
		if code != exitSomeFailed || !ok || rec.ErrorKind != "status" || rec.Attempts != 3 || sent.Load() != 3 {
			t.Errorf("%v: exit %d, record %+v (found %v), %d requests sent, stderr %q; want exit %d, a status record with 3 attempts, 3 sent",
				mode, code, rec, ok, sent.Load(), stderr, exitSomeFailed)
		}
	}
}

// An input whose password holds an unencoded "#", "/" or "?" is refused,
// its record showing no part of the password, with -r as without.
func TestPasswordCutShortHidden(t *testing.T) {
	for _, mode := range [][]string{nil, {"-r"}} {
		for _, in := range []string{
			"http://user:SEC#RET@127.0.0.1/",
			"http://user:SEC/RET@127.0.0.1/",
			"http://user:SEC?RET@127.0.0.1/",
			"user:SEC#RET@127.0.0.1/",
			"http://user:99999#SECRET@127.0.0.1/", // no port: it is out of range
		} {
			code, out, stderr := runCmd(t, "", append(append([]string{"-q"}, mode...), "--", in)...)
			recs := lineRecords(t, out)
			if len(recs) != 1 || code != exitSomeFailed || recs[0].ErrorKind != "invalid_input" {
				t.Errorf("%v %s: exit %d, records %+v, stderr %q; want exit %d and one invalid_input record", mode, in, code, recs, stderr, exitSomeFailed)
				continue
			}
			if all := fmt.Sprint(recs[0]) + stderr; strings.Contains(all, "SEC") || strings.Contains(all, "RET") || strings.Contains(all, "99999") {
				t.Errorf("%v %s: record %+v, stderr %q: shows part of the password", mode, in, recs[0], stderr)
			}
		}
	}
}

// A seedBook keeps nothing per seed for seeds named as their pages name
// them (as a sitemap's are), and their directories only with --no-parent:
// what it keeps grows with the hosts and directories, not the seeds.
func TestSeedBookKeepsLittlePerSeed(t *testing.T) {
	for _, noParent := range []bool{false, true} {
		b := newSeedBook(noParent)
		for i := range 1000 {
			b.read(line{url: fmt.Sprintf("https://a.test/d%d/p%d.html", i%10, i)})
		}
		wantDirs := 0
		if noParent {
			wantDirs = 10
		}
		if len(b.names) != 0 || len(b.dirs["a.test"]) != wantDirs || len(b.hosts) != 1 {
			t.Errorf("noParent %v: keeps %d names, %d directories, %d hosts; want 0, %d, 1", noParent, len(b.names), len(b.dirs["a.test"]), len(b.hosts), wantDirs)
		}
	}

	// A seed whose page names it otherwise is still named as given; one
	// read again as its page names it is named so, as the seed read last.
	b := newSeedBook(false)
	for _, in := range []string{"a.test/x", "https://a.test/y#top", "https://a.test/z"} {
		b.read(line{url: in})
	}
	for page, want := range map[string]string{"http://a.test/x": "a.test/x", "https://a.test/y": "https://a.test/y#top"} {
		if g, ok := b.given(page); !ok || g != want {
			t.Errorf("given(%s) = %q, %v; want %q", page, g, ok, want)
		}
	}
	b.read(line{url: "http://a.test/x"})
	if g, ok := b.given("http://a.test/x"); ok {
		t.Errorf("given(http://a.test/x) = %q after reading it as such; want none (the page names it as given)", g)
	}
}

// -r's records name a seed as given: without a scheme, with a fragment,
// or as its page names it.
func TestRecursiveSeedsNamedAsGiven(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	bare := strings.TrimPrefix(srv.URL, "http://")
	ins := []string{bare + "/a", srv.URL + "/b#top", srv.URL + "/c"}
	_, out, stderr := runCmd(t, strings.Join(ins, "\n")+"\n", "-q", "-r", "-i", "-")
	recs := records(t, out)
	for _, in := range ins {
		if r, ok := recs[in]; !ok || r.Status != 200 {
			t.Errorf("record of %s: %+v (found %v); want it named as given, 200 (records %v, stderr %q)", in, r, ok, recs, stderr)
		}
	}
}
