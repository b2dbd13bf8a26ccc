package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch"
)

// -O saves a body of any size, as wget does: the 10 MiB cap is for the
// bodies the command holds in memory, which it does only without -O.
// --max-body still caps -O when given (TestSaveToDir).
func TestSaveHasNoBodyCapByDefault(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	const n = 12 << 20
	url := srv.URL + "/big?n=" + strconv.Itoa(n)
	dir := t.TempDir()
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, url)
	if code != exitOK {
		t.Fatalf("-O: exit %d, stderr %q, out %s; want 0", code, stderr, out)
	}
	r := records(t, out)[url]
	if info, err := os.Stat(r.File); err != nil || info.Size() != n || r.Bytes != n {
		t.Errorf("-O: record %+v, file %v (%v); want all %d bytes saved", r, info, err, n)
	}

	code, out, _ = runCmd(t, "", "-q", url)
	if r := records(t, out)[url]; code != exitSomeFailed || r.ErrorKind != "body_too_large" || !strings.HasSuffix(r.Error, " 10485760 bytes (--max-body)") {
		t.Errorf("without -O: exit %d, record %+v; want body_too_large under the default cap", code, r)
	}
}

// With -O, --timeout bounds how long a response may stall, not how long a
// download takes: a body that keeps coming is saved however long it takes
// in all, and one that stops coming, before or after its header, fails as
// an attempt timeout.
func TestSaveTimeoutIsAStallTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/trickle": // 1 s in all, a byte every 50 ms
			for range 20 {
				w.Write([]byte("x"))
				w.(http.Flusher).Flush()
				select {
				case <-time.After(50 * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
		case "/stall-body":
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			fallthrough
		case "/stall-head":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(release)
	dir := t.TempDir()
	urls := []string{srv.URL + "/trickle", srv.URL + "/stall-body", srv.URL + "/stall-head"}
	code, out, stderr := runCmd(t, "", append([]string{"-q", "--retries", "0", "--timeout", "400ms", "-O", dir}, urls...)...)
	if code != exitSomeFailed {
		t.Fatalf("exit %d, stderr %q, out %s; want 1", code, stderr, out)
	}
	recs := records(t, out)
	if r := recs[urls[0]]; r.Error != "" || r.Bytes != 20 {
		t.Errorf("trickle: record %+v; want its 20 bytes saved past the 400ms timeout", r)
	}
	for _, u := range urls[1:] {
		r := recs[u]
		if r.ErrorKind != "timeout" || !strings.Contains(r.Error, "no data received for 400ms (--timeout)") {
			t.Errorf("%s: record %+v; want an attempt timeout naming --timeout", u, r)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || filepath.Join(dir, entries[0].Name()) != recs[urls[0]].File {
		t.Errorf("files %v; want the trickle's alone", entries)
	}

	// Without -O, --timeout bounds the whole attempt.
	code, out, _ = runCmd(t, "", "-q", "--retries", "0", "--timeout", "400ms", urls[0])
	if r := records(t, out)[urls[0]]; code != exitSomeFailed || r.ErrorKind != "timeout" {
		t.Errorf("without -O: exit %d, record %+v; want an attempt timeout", code, r)
	}
}

// chunkTransport answers each request with a body whose reads take the
// chunks sent on body, one a read, and end at its close; a read waiting for
// a chunk, or the wait for the response if head is not closed, ends with
// the request's context, as a real transport's does.
type chunkTransport struct {
	head <-chan struct{}
	body <-chan string
}

func (t chunkTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	select {
	case <-t.head:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	return &http.Response{StatusCode: 200, Body: &chunkBody{ctx: ctx, chunks: t.body}, Request: req}, nil
}

type chunkBody struct {
	ctx    context.Context
	chunks <-chan string
}

func (b *chunkBody) Read(p []byte) (int, error) {
	select {
	case c, ok := <-b.chunks:
		if !ok {
			return 0, io.EOF
		}
		return copy(p, c), nil
	case <-b.ctx.Done():
		return 0, context.Cause(b.ctx)
	}
}

func (b *chunkBody) Close() error { return nil }

// The stall clock runs only while the response is awaited and while a read
// waits: time the reader spends between reads does not count.
func TestStallTimeoutCountsOnlyWaits(t *testing.T) {
	const d = time.Second
	open := make(chan struct{})
	close(open)
	get := func(rt http.RoundTripper) (*http.Response, error) {
		req, _ := http.NewRequest("GET", "http://a.test/", nil)
		return stallTimeout(d)(rt).RoundTrip(req)
	}
	synctest.Test(t, func(t *testing.T) {
		body := make(chan string, 2)
		body <- "a"
		body <- "b"
		close(body)
		resp, err := get(chunkTransport{head: open, body: body})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 8)
		resp.Body.Read(buf)
		time.Sleep(10 * d) // a slow disk between reads
		if n, err := resp.Body.Read(buf); n != 1 || err != nil {
			t.Errorf("read after a pause between reads: %d, %v; want the next byte", n, err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		body := make(chan string)
		go func() { // a byte every 0.9 s for 9 s
			for range 10 {
				time.Sleep(d * 9 / 10)
				body <- "x"
			}
			close(body)
		}()
		resp, err := get(chunkTransport{head: open, body: body})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if got, err := io.ReadAll(resp.Body); len(got) != 10 || err != nil {
			t.Errorf("trickle: read %q, %v; want all 10 bytes", got, err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		body := make(chan string, 1)
		body <- "a"
		resp, err := get(chunkTransport{head: open, body: body})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 8)
		resp.Body.Read(buf)
		start := time.Now()
		_, err = resp.Body.Read(buf)
		if !errors.Is(err, fetch.ErrAttemptTimeout) || time.Since(start) != d {
			t.Errorf("stalled body: %v after %v; want an attempt timeout after %v", err, time.Since(start), d)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		_, err := get(chunkTransport{head: make(chan struct{})})
		if !errors.Is(err, fetch.ErrAttemptTimeout) || time.Since(start) != d {
			t.Errorf("no response: %v after %v; want an attempt timeout after %v", err, time.Since(start), d)
		}
	})
}

// -O - is a usage error, as curl's -o - might make one expect the bodies on
// standard output, where the JSON lines go; it made a directory named "-".
func TestSaveToDashIsAUsageError(t *testing.T) {
	t.Chdir(t.TempDir())
	code, out, stderr := runCmd(t, "", "-O", "-", "http://127.0.0.1:1/")
	if code != exitUsage || out != "" || !strings.Contains(stderr, "-O -: -O takes a directory") {
		t.Errorf("exit %d, stdout %q, stderr %q; want a usage error naming -O -", code, out, stderr)
	}
	if _, err := os.Stat("-"); err == nil {
		t.Errorf(`a directory named "-" was made`)
	}
}
