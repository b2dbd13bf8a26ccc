package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Review of -O's resumed retries, --continue, --body and the retry of
// POST. Tests named ...Finding... failed on the code as reviewed, each a
// defect since fixed; the others check a property that held.

var zeroTime time.Time

// attempts serves the nth request to it (from 1) with handle.
func attempts(srv *contServer, handle func(w http.ResponseWriter, r *http.Request, n int64)) {
	var n atomic.Int64
	srv.handle = func(w http.ResponseWriter, r *http.Request) { handle(w, r, n.Add(1)) }
}

// checkSaved fails t unless dir holds exactly the files in want, with the
// content given, and nothing else (no temporary file).
func checkSaved(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	var names []string
	for name, body := range want {
		names = append(names, name)
		if got := ncRead(dir, name); got != string(body) {
			t.Errorf("%s holds %d bytes, the body? %v; want the %d bytes of the body", name, len(got), got == string(body), len(body))
		}
	}
	slices.Sort(names)
	if got := dirNames(t, dir); !slices.Equal(got, names) {
		t.Errorf("the directory holds %q; want %q", got, names)
	}
}

// v2Body is contBody changed, and 1000 bytes longer: the file on the
// server replaced between two attempts.
var v2Body = append(bytes.ToUpper(contBody), bytes.Repeat([]byte("Z"), 1000)...)

// FINDING. A body replaced on the server between two attempts, by a
// server that honours Range but not If-Range (or given no validator to
// check): the 206 says so itself, its Content-Range total (11000) is not
// the length of the body the part came from (10000); the rest of the new
// body was appended to the start of the old, and the record said success.
// The whole body should be fetched again, as for a 200.
func TestResumeReviewFindingTotalChangedNotSpliced(t *testing.T) {
	for _, etag := range []string{"", `"v1"`} {
		t.Run("etag="+etag, func(t *testing.T) {
			srv := newContServer(t)
			attempts(srv, func(w http.ResponseWriter, r *http.Request, n int64) {
				h := http.Header{}
				if etag != "" {
					h.Set("ETag", etag) // ignored by this server's If-Range
				}
				switch from := int(rangeFrom(r)); {
				case n == 1:
					cutBody(w, contBody, 0, 3000, h)
				case from > 0:
					w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(v2Body)-1, len(v2Body)))
					w.WriteHeader(http.StatusPartialContent)
					w.Write(v2Body[from:])
				default:
					w.Write(v2Body)
				}
			})
			dir := t.TempDir()
			code, out, stderr := runCmd(t, "", "-q", "-O", dir, srv.URL+"/a")
			a := records(t, out)[srv.URL+"/a"]
			if code != exitOK || a.Bytes != int64(len(v2Body)) {
				t.Errorf("exit %d (%q), record %+v; want 0, bytes %d", code, stderr, a, len(v2Body))
			}
			checkSaved(t, dir, map[string][]byte{srv.host + "_a": v2Body})
		})
	}
}

// FINDING. The same, told by the ETag: a server that ignores If-Range
// answers the retry's Range with a 206 of the new body, whose strong ETag
// is not the one the part came with. The two versions were spliced.
func TestResumeReviewFindingETagChangedNotSpliced(t *testing.T) {
	v2 := bytes.ToUpper(contBody) // same length: only the ETag tells
	srv := newContServer(t)
	attempts(srv, func(w http.ResponseWriter, r *http.Request, n int64) {
		if n == 1 {
			cutBody(w, contBody, 0, 3000, http.Header{"Etag": {`"v1"`}})
			return
		}
		w.Header().Set("ETag", `"v2"`)
		if from := int(rangeFrom(r)); from > 0 {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(v2)-1, len(v2)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(v2[from:])
			return
		}
		w.Write(v2)
	})
	dir := t.TempDir()
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitOK || a.Bytes != int64(len(v2)) {
		t.Errorf("exit %d (%q), record %+v; want 0, bytes %d", code, stderr, a, len(v2))
	}
	checkSaved(t, dir, map[string][]byte{srv.host + "_a": v2})
}

// FINDING. A 206 nobody asked for is saved only if it is the whole body,
// as its Content-Range says; but its body was not held to that: a 206
// "bytes 0-9999/10000" with 4000 bytes (its Content-Length) was saved as
// the file, and the record said success.
func TestResumeReviewFindingUnaskedWholeRangeShortBody(t *testing.T) {
	srv := newContServer(t)
	srv.handle = serve206("bytes 0-9999/10000", 0, 4000, false)
	dir := t.TempDir()
	code, out, _ := runCmd(t, "", "-q", "--retries", "0", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitSomeFailed || a.Error == "" {
		t.Errorf("exit %d, record %+v; want 1, the input failed", code, a)
	}
	checkSaved(t, dir, nil)
}

// FINDING. A body cut short, then a 416 to the Range that asks for its
// rest: the body shrank to less than the part (no validator let If-Range
// say so). The input failed with "status 416" though nobody but fetch
// asked for a range; the body is there to be fetched whole, as curl and
// wget without -c would.
func TestResumeReviewFinding416ToResumeFetchesWhole(t *testing.T) {
	srv := newContServer(t)
	attempts(srv, func(w http.ResponseWriter, r *http.Request, n int64) {
		if n == 1 {
			cutBody(w, contBody, 0, 3000, nil)
			return
		}
		http.ServeContent(w, r, "", zeroTime, bytes.NewReader(contBody[:2000]))
	})
	dir := t.TempDir()
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	// The request sent again without Range counts as an attempt, as the
	// server counts it (see fetch.Result.Attempts).
	if code != exitOK || a.Attempts != 3 || a.Bytes != 2000 {
		t.Errorf("exit %d (%q), record %+v; want 0, 3 attempts, bytes 2000", code, stderr, a)
	}
	if got, want := fmt.Sprint(srv.rangesOf("/a")), "[ bytes=3000- ]"; got != want {
		t.Errorf("Range of each request: %s; want %s", got, want)
	}
	checkSaved(t, dir, map[string][]byte{srv.host + "_a": contBody[:2000]})
}

// A weak ETag alone is no validator for If-Range (RFC 9110 13.1.5): the
// retry asks for the rest with no If-Range, as wget and curl -C ask for
// it, and with a weak ETag and a Last-Modified, the date is not sent.
func TestResumeReviewWeakETag(t *testing.T) {
	for _, lastModified := range []string{"", "Mon, 02 Jan 2006 15:04:05 GMT"} {
		t.Run("last-modified="+lastModified, func(t *testing.T) {
			srv := newContServer(t)
			var ifRange []string
			attempts(srv, func(w http.ResponseWriter, r *http.Request, n int64) {
				srv.mu.Lock()
				ifRange = append(ifRange, r.Header.Get("If-Range"))
				srv.mu.Unlock()
				h := http.Header{"Etag": {`W/"x"`}}
				if lastModified != "" {
					h.Set("Last-Modified", lastModified)
				}
				cut := []int{3000, 2000, len(contBody) - int(rangeFrom(r))}[min(n, 3)-1]
				cutBody(w, contBody, int(rangeFrom(r)), cut, h)
			})
			dir := t.TempDir()
			code, out, stderr := runCmd(t, "", "-q", "-O", dir, srv.URL+"/a")
			a := records(t, out)[srv.URL+"/a"]
			if code != exitOK || a.Attempts != 3 {
				t.Errorf("exit %d (%q), record %+v; want 0, 3 attempts", code, stderr, a)
			}
			checkSaved(t, dir, map[string][]byte{srv.host + "_a": contBody})
			if want := []string{"", "", ""}; !slices.Equal(ifRange, want) {
				t.Errorf("If-Range of each attempt %q; want %q (none: an entity tag, if weak, forbids the date)", ifRange, want)
			}
		})
	}
}

// A chunked body (no Content-Length) cut part way is retried from where
// it stopped, and the rest appended.
func TestResumeReviewChunkedCut(t *testing.T) {
	srv := newContServer(t)
	attempts(srv, func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("ETag", `"c"`)
		if n == 1 {
			w.(http.Flusher).Flush() // chunked
			w.Write(contBody[:3000])
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		http.ServeContent(w, r, "", zeroTime, bytes.NewReader(contBody))
	})
	dir := t.TempDir()
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, srv.URL+"/a")
	a := records(t, out)[srv.URL+"/a"]
	if code != exitOK || a.Attempts != 2 || a.Bytes != int64(len(contBody)) {
		t.Errorf("exit %d (%q), record %+v; want 0, 2 attempts", code, stderr, a)
	}
	if got, want := fmt.Sprint(srv.rangesOf("/a")), "[ bytes=3000-]"; got != want {
		t.Errorf("Range of each attempt: %s; want %s", got, want)
	}
	checkSaved(t, dir, map[string][]byte{srv.host + "_a": contBody})
}

// A server that sends Content-Encoding: gzip whatever Accept-Encoding
// says (a .gz file marked so): the part is the gzip bytes as sent, the
// Range counts those bytes, and the file is the gzip stream, byte for
// byte, with -H "Accept-Encoding: gzip" too.
func TestResumeReviewGzipCut(t *testing.T) {
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(bytes.Repeat(contBody, 5))
	zw.Close()
	gz := zb.Bytes()
	for _, extra := range [][]string{nil, {"-H", "Accept-Encoding: gzip"}} {
		t.Run(fmt.Sprint(extra), func(t *testing.T) {
			srv := newContServer(t)
			attempts(srv, func(w http.ResponseWriter, r *http.Request, n int64) {
				h := http.Header{"Etag": {`"gz"`}, "Content-Encoding": {"gzip"}}
				if n == 1 {
					cutBody(w, gz, 0, len(gz)/2, h)
					return
				}
				for k, v := range h {
					w.Header()[k] = v
				}
				http.ServeContent(w, r, "", zeroTime, bytes.NewReader(gz))
			})
			dir := t.TempDir()
			args := append([]string{"-q", "-O", dir, srv.URL + "/a.gz"}, extra...)
			code, out, stderr := runCmd(t, "", args...)
			a := records(t, out)[srv.URL+"/a.gz"]
			if code != exitOK || a.Attempts != 2 || a.Bytes != int64(len(gz)) {
				t.Errorf("exit %d (%q), record %+v; want 0, 2 attempts, bytes %d", code, stderr, a, len(gz))
			}
			checkSaved(t, dir, map[string][]byte{srv.host + "_a.gz": gz})
		})
	}
}

// Two URLs that make the same file name (the later one gets .1), both cut
// short and resumed at once: each file is its own body.
func TestResumeReviewSameNameBothResumed(t *testing.T) {
	bodies := map[string][]byte{"/a": contBody, "/b": v2Body}
	var n [2]atomic.Int64
	srv := newContServer(t)
	srv.handle = func(w http.ResponseWriter, r *http.Request) {
		body, i := bodies["/a"], 0
		if r.URL.RawQuery == "" { // /a_x, not /a?x
			body, i = bodies["/b"], 1
		}
		etag := fmt.Sprintf(`"%d"`, i)
		if n[i].Add(1) == 1 {
			cutBody(w, body, 0, 1000*(i+1), http.Header{"Etag": {etag}})
			return
		}
		w.Header().Set("ETag", etag)
		http.ServeContent(w, r, "", zeroTime, bytes.NewReader(body))
	}
	dir := t.TempDir()
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, srv.URL+"/a?x", srv.URL+"/a_x")
	if code != exitOK {
		t.Errorf("exit %d (%q), records %s; want 0", code, stderr, out)
	}
	checkSaved(t, dir, map[string][]byte{srv.host + "_a_x": contBody, srv.host + "_a_x.1": v2Body})
}

// SIGINT while the rest of a cut body comes: exit 130, the record says
// the input failed, and neither the file nor its part is left.
func TestResumeReviewInterruptDuringResume(t *testing.T) {
	arrived := make(chan struct{}, 1)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			cutBody(w, contBody, 0, 3000, http.Header{"Etag": {`"v1"`}})
			return
		}
		w.Header().Set("Content-Range", "bytes 3000-9999/10000")
		w.Header().Set("Content-Length", "7000")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(contBody[3000:4000])
		w.(http.Flusher).Flush()
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()
	dir := t.TempDir()
	cmd := reviewCommand(t, "-O", dir, srv.URL+"/a")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reviewWait(t, arrived, "the 206")
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit %d, stderr %q; want 130", code, stderr.String())
	}
	if a := records(t, stdout.String())[srv.URL+"/a"]; a.Error == "" || a.File != "" {
		t.Errorf("record %+v; want it failed, with no file", a)
	}
	checkSaved(t, dir, nil)
}

// --continue on a file longer than the body: a 200 of the body's length
// and a 416 saying that length both fail the input and leave the file.
func TestResumeReviewContinueFileLongerThanBody(t *testing.T) {
	longer := append(bytes.Clone(contBody), "more"...)
	for _, name := range []string{"416", "200"} {
		t.Run(name, func(t *testing.T) {
			srv := newContServer(t)
			if name == "200" {
				srv.handle = func(w http.ResponseWriter, r *http.Request) { w.Write(contBody) }
			}
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, srv.host+"_a"), longer, 0o644)
			code, out, _ := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
			a := records(t, out)[srv.URL+"/a"]
			if code != exitSomeFailed || a.Error == "" || a.Skipped != "" {
				t.Errorf("exit %d, record %+v; want 1, the input failed", code, a)
			}
			checkSaved(t, dir, map[string][]byte{srv.host + "_a": longer})
		})
	}
}

// FINDING. --continue, the body replaced on the server during the run by
// a server that honours Range but not If-Range: the retry's 206 says a
// total (11000) other than the one the run was sent (10000), and its
// bytes were appended to the old body's. A file the run began with fails
// its input, left as it was before that 206 (as a 200 leaves it); one the
// run began without is fetched whole again.
func TestResumeReviewFindingContinueTotalChanged(t *testing.T) {
	for _, had := range []int{3000, 0} {
		t.Run(fmt.Sprint("had=", had), func(t *testing.T) {
			srv := newContServer(t)
			attempts(srv, func(w http.ResponseWriter, r *http.Request, n int64) {
				from := int(rangeFrom(r))
				body := contBody
				if n > 1 {
					body = v2Body
				}
				if from > 0 || n == 1 && had > 0 {
					w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(body)-1, len(body)))
				}
				if n == 1 {
					cutBody(w, body, from, 1000, nil)
					return
				}
				w.Header().Set("Content-Length", fmt.Sprint(len(body)-from))
				if from > 0 {
					w.WriteHeader(http.StatusPartialContent)
				}
				w.Write(body[from:])
			})
			dir := t.TempDir()
			if had > 0 {
				os.WriteFile(filepath.Join(dir, srv.host+"_a"), contBody[:had], 0o644)
			}
			code, out, stderr := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
			a := records(t, out)[srv.URL+"/a"]
			if had == 0 {
				if code != exitOK || a.Attempts != 3 || a.Bytes != int64(len(v2Body)) {
					t.Errorf("exit %d (%q), record %+v; want 0, 3 attempts, bytes %d", code, stderr, a, len(v2Body))
				}
				checkSaved(t, dir, map[string][]byte{srv.host + "_a": v2Body})
				return
			}
			if code != exitSomeFailed || !strings.Contains(a.Error, "another body") {
				t.Errorf("exit %d, record %+v; want 1, the input failed saying the body changed", code, a)
			}
			checkSaved(t, dir, map[string][]byte{srv.host + "_a": contBody[:had+1000]})
		})
	}
}

// A POST whose connection is refused is retried (nothing was sent); one
// whose request was sent and whose connection then closed is not, unless
// -H Idempotency-Key says it may be sent again.
func TestResumeReviewPostRetries(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/p"
	ln.Close()
	code, out, _ := runCmd(t, "", "-q", "--retries", "2", "-d", "x=1", refused)
	if r := records(t, out)[refused]; code != exitSomeFailed || r.Attempts != 3 || r.ErrorKind != "connection_refused" {
		t.Errorf("refused: exit %d, record %+v; want 1, 3 attempts, connection_refused", code, r)
	}

	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer srv.Close()
	runCmd(t, "", "-q", "--retries", "2", "-d", "x=1", srv.URL+"/p")
	if got := posts.Load(); got != 1 {
		t.Errorf("a POST sent, its connection closed: sent %d times; want 1", got)
	}
	posts.Store(0)
	runCmd(t, "", "-q", "--retries", "2", "-d", "x=1", "-H", "Idempotency-Key: k1", srv.URL+"/p")
	if got := posts.Load(); got != 3 {
		t.Errorf("with Idempotency-Key: sent %d times; want 3", got)
	}
}

// --body: a JSON body on one line, with "<" left as it is; an error's
// body too.
func TestResumeReviewBodyOneLine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "{\n \"a\": \"<x>\",\n \"n\": 12345678901234567890\n}\n")
	}))
	defer srv.Close()
	code, out, _ := runCmd(t, "", "-q", "--body", "--retries", "0", srv.URL+"/j")
	if code != exitSomeFailed || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"body":{"a":"<x>","n":12345678901234567890}`) {
		t.Errorf("exit %d, output %q; want 1, one line with the body compacted", code, out)
	}
}

// FINDING. --continue, a body cut short in this run, then a 416 with no
// Content-Range to the Range that asks for its rest: the record said
// "complete" and the run exited 0, though the run's first response said
// the body has 10000 bytes and the file holds 3000.
func TestResumeReviewFindingContinue416AfterCut(t *testing.T) {
	for _, had := range []int{0, 1000} {
		t.Run(fmt.Sprint("had=", had), func(t *testing.T) {
			srv := newContServer(t)
			attempts(srv, func(w http.ResponseWriter, r *http.Request, n int64) {
				if n == 1 {
					from := int(rangeFrom(r))
					if from > 0 {
						w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(contBody)-1, len(contBody)))
					}
					cutBody(w, contBody, from, 2000, nil)
					return
				}
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			})
			dir := t.TempDir()
			if had > 0 {
				os.WriteFile(filepath.Join(dir, srv.host+"_a"), contBody[:had], 0o644)
			}
			code, out, _ := runCmd(t, "", "-q", "--continue", "-O", dir, srv.URL+"/a")
			a := records(t, out)[srv.URL+"/a"]
			if code != exitSomeFailed || a.Skipped != "" || a.Error == "" {
				t.Errorf("exit %d, record %+v; want 1, the input failed, not complete", code, a)
			}
			checkSaved(t, dir, map[string][]byte{srv.host + "_a": contBody[:had+2000]})
		})
	}
}

// FINDING. --continue, a file the run began without, whose body changed
// on the server after a first attempt was cut: the second attempt's
// If-Range fails and the new body comes whole (a 200), and is cut too. The
// third attempt's If-Range still named the first body's ETag, so that it
// was sent the whole body again rather than the rest of the one it
// holds. -O without --continue asks for the rest of the new body.
func TestResumeReviewFindingValidatorOfBodyRefetched(t *testing.T) {
	v2 := bytes.ToUpper(contBody)
	for _, cont := range []bool{true, false} {
		t.Run(fmt.Sprint("continue=", cont), func(t *testing.T) {
			srv := newContServer(t)
			var ifRange []string
			attempts(srv, func(w http.ResponseWriter, r *http.Request, n int64) {
				srv.mu.Lock()
				ifRange = append(ifRange, r.Header.Get("If-Range"))
				srv.mu.Unlock()
				switch n {
				case 1:
					servePart(w, r, `"v1"`, contBody, 3000)
				case 2:
					servePart(w, r, `"v2"`, v2, 4000)
				default:
					servePart(w, r, `"v2"`, v2, -1)
				}
			})
			dir := t.TempDir()
			args := []string{"-q", "-O", dir, srv.URL + "/a"}
			if cont {
				args = append(args, "--continue")
			}
			code, out, stderr := runCmd(t, "", args...)
			a := records(t, out)[srv.URL+"/a"]
			if code != exitOK || a.Attempts != 3 {
				t.Errorf("exit %d (%q), record %+v; want 0, 3 attempts", code, stderr, a)
			}
			if got, want := fmt.Sprint(srv.rangesOf("/a")), "[ bytes=3000- bytes=4000-]"; got != want {
				t.Errorf("Range of each attempt: %s; want %s", got, want)
			}
			if got, want := fmt.Sprintf("%q", ifRange), `["" "\"v1\"" "\"v2\""]`; got != want {
				t.Errorf("If-Range of each attempt: %s; want %s", got, want)
			}
			checkSaved(t, dir, map[string][]byte{srv.host + "_a": v2})
		})
	}
}
