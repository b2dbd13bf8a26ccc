package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// dirNames returns the names in dir, hidden temporary files included.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// cutBody sends the head of a response whose body is body[from:] (a 206
// saying so if from > 0), with the headers in h, then n bytes of that
// body, and drops the connection.
func cutBody(w http.ResponseWriter, body []byte, from, n int, h http.Header) {
	for k, v := range h {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)-from))
	if from > 0 {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(body)-1, len(body)))
		w.WriteHeader(http.StatusPartialContent)
	}
	w.Write(body[from : from+n])
	w.(http.Flusher).Flush()
	conn, _, _ := w.(http.Hijacker).Hijack()
	conn.Close()
}

// servePart serves contBody with ETag etag as http.ServeContent does
// (206 for a Range, If-Range checked), cutting the connection after n
// bytes of the body if n >= 0.
func servePart(w http.ResponseWriter, r *http.Request, etag string, body []byte, n int) {
	w.Header().Set("ETag", etag)
	if n < 0 {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
		return
	}
	from := int(rangeFrom(r))
	if r.Header.Get("If-Range") != "" && r.Header.Get("If-Range") != etag {
		from = 0
	}
	cutBody(w, body, from, n, nil)
}

// With -O, a retry of a GET whose body was cut short asks for the rest
// (Range from where it stopped, If-Range with the ETag it came with) and
// appends it to what came, as wget does; no temporary file is left.
func TestSaveRetryResumes(t *testing.T) {
	srv := newContServer(t)
	var n atomic.Int64
	var ifRange []string
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		srv.mu.Lock()
		ifRange = append(ifRange, r.Header.Get("If-Range"))
		srv.mu.Unlock()
		cut := []int{3000, 2000, -1}[min(n.Add(1), 3)-1]
		servePart(w, r, `"v1"`, contBody, cut)
	}
	dir := t.TempDir()
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitOK || a.Attempts != 3 || a.Bytes != int64(len(contBody)) {
		t.Errorf("exit %d (%q), record %+v; want 0, 3 attempts, bytes %d", code, stderr, a, len(contBody))
	}
	if got, want := fmt.Sprint(srv.rangesOf("/a")), "[ bytes=3000- bytes=5000-]"; got != want {
		t.Errorf("Range of each attempt: %s; want %s", got, want)
	}
	if got, want := fmt.Sprintf("%q", ifRange), `["" "\"v1\"" "\"v1\""]`; got != want {
		t.Errorf("If-Range of each attempt: %s; want %s", got, want)
	}
	if got := ncRead(dir, srv.host+"_a"); got != string(contBody) {
		t.Errorf("the file holds %d bytes, the body? %v; want the body", len(got), got == string(contBody))
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{srv.host + "_a"}) {
		t.Errorf("the directory holds %q; want the file alone", names)
	}
}

// A body that changed between attempts (If-Range no longer matches), a
// server that ignores ranges, and one that sends another range than the
// rest asked for: each has the body fetched whole, never two versions
// spliced or a range saved as the body.
func TestSaveRetryFetchesWholeWhenItCannotResume(t *testing.T) {
	v2 := bytes.ToUpper(contBody)
	cases := []struct {
		name   string
		handle func(w http.ResponseWriter, r *http.Request, attempt int64)
		want   []byte
		ranges string
	}{
		{"changed", func(w http.ResponseWriter, r *http.Request, attempt int64) {
			if attempt == 1 {
				servePart(w, r, `"v1"`, contBody, 3000)
				return
			}
			servePart(w, r, `"v2"`, v2, -1)
		}, v2, "[ bytes=3000-]"},
		{"ranges ignored", func(w http.ResponseWriter, r *http.Request, attempt int64) {
			if attempt == 1 {
				servePart(w, r, `"v1"`, contBody, 3000)
				return
			}
			w.Write(contBody)
		}, contBody, "[ bytes=3000-]"},
		{"another range", func(w http.ResponseWriter, r *http.Request, attempt int64) {
			switch attempt {
			case 1:
				servePart(w, r, `"v1"`, contBody, 3000)
			case 2:
				w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-99/%d", len(contBody)))
				w.WriteHeader(http.StatusPartialContent)
				w.Write(contBody[:100])
			default:
				servePart(w, r, `"v1"`, contBody, -1)
			}
		}, contBody, "[ bytes=3000- ]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newContServer(t)
			var n atomic.Int64
			srv.handle = func(w http.ResponseWriter, r *http.Request) { c.handle(w, r, n.Add(1)) }
			dir := t.TempDir()
			code, out, stderr := runCmd(t, "", "-q", "-O", dir, srv.URL+"/a")
			a := records(t, out)[srv.URL+"/a"]
			if code != exitOK || a.Bytes != int64(len(c.want)) {
				t.Errorf("exit %d (%q), record %+v; want 0, bytes %d", code, stderr, a, len(c.want))
			}
			if got := fmt.Sprint(srv.rangesOf("/a")); got != c.ranges {
				t.Errorf("Range of each attempt: %s; want %s", got, c.ranges)
			}
			if got := ncRead(dir, srv.host+"_a"); got != string(c.want) {
				t.Errorf("the file holds %d bytes, the body wanted? %v", len(got), got == string(c.want))
			}
			if names := dirNames(t, dir); !slices.Equal(names, []string{srv.host + "_a"}) {
				t.Errorf("the directory holds %q; want the file alone", names)
			}
		})
	}
}

// When the retries run out, the part that came is not left behind: no
// file, no temporary file.
func TestSaveRetryPartRemovedWhenRetriesRunOut(t *testing.T) {
	srv := newContServer(t)
	srv.handle = func(w http.ResponseWriter, r *http.Request) { servePart(w, r, `"v1"`, contBody, 1000) }
	dir := t.TempDir()
	code, out, _ := runCmd(t, "", "-q", "--retries", "2", "-O", dir, srv.URL+"/a")
	if a := records(t, out)[srv.URL+"/a"]; code != exitSomeFailed || a.Attempts != 3 || a.ErrorKind != "truncated" {
		t.Errorf("exit %d, record %+v; want 1, 3 attempts, truncated", code, a)
	}
	if got, want := fmt.Sprint(srv.rangesOf("/a")), "[ bytes=1000- bytes=2000-]"; got != want {
		t.Errorf("Range of each attempt: %s; want %s", got, want)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("the directory holds %q; want nothing", names)
	}
}

// A 206 that no range was asked for is saved only if its Content-Range
// is the whole body: a part of it is not saved as the file.
func TestSaveUnaskedPartRefused(t *testing.T) {
	srv := newContServer(t)
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		first, last := 0, len(contBody)-1
		if r.URL.Path == "/part" {
			last = 99
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(contBody)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(contBody[first : last+1])
	}
	dir := t.TempDir()
	code, out, _ := runCmd(t, "", "-q", "--retries", "0", "-O", dir, srv.URL+"/part", srv.URL+"/whole")
	recs := records(t, out)
	if p, w := recs[srv.URL+"/part"], recs[srv.URL+"/whole"]; code != exitSomeFailed || p.Error == "" || p.File != "" || w.Error != "" || w.Bytes != int64(len(contBody)) {
		t.Errorf("exit %d, records %+v and %+v; want 1, the part refused, the whole saved", code, p, w)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{srv.host + "_whole"}) {
		t.Errorf("the directory holds %q; want the whole body's file alone", names)
	}
}
