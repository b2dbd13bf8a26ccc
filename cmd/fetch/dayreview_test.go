package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
)

// gzipServer serves /f.tar.gz with Content-Encoding: gzip whatever the
// request asks for, as some servers do, and /go redirects there through
// the URL base gives. It records the Accept-Encoding of each request.
func gzipServer(t *testing.T) (*httptest.Server, []byte, *[]string) {
	t.Helper()
	var raw bytes.Buffer
	zw := gzip.NewWriter(&raw)
	zw.Write([]byte("the tar inside"))
	zw.Close()
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.Path+" "+strings.Join(r.Header.Values("Accept-Encoding"), ","))
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "application/gzip")
		w.Write(raw.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv, raw.Bytes(), &seen
}

// -O saves a body as sent also when the URL redirects to another host
// (a release download redirected to a CDN): the Accept-Encoding: identity
// that -O sends is content negotiation, not a credential to hold back, or
// net/http asks the CDN for gzip and saves the body decompressed.
func TestDayReviewSaveAsSentAcrossRedirect(t *testing.T) {
	cdn, raw, seen := gzipServer(t)
	cdnURL := strings.Replace(cdn.URL, "127.0.0.1", "localhost", 1) + "/f.tar.gz"
	origin := httptest.NewServer(http.RedirectHandler(cdnURL, http.StatusFound))
	defer origin.Close()
	url := origin.URL + "/f.tar.gz"
	dir := t.TempDir()
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, url)
	r := records(t, out)[url]
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q, record %+v", code, stderr, r)
	}
	got, err := os.ReadFile(r.File)
	if err != nil || !bytes.Equal(got, raw) || r.Bytes != int64(len(raw)) {
		t.Errorf("saved %q (%v), record %+v; want the %d gzip bytes as sent (requests: %q)", got, err, r, len(raw), *seen)
	}
}

// -H "Accept-Encoding:" (curl's way to send none) and "Accept-Encoding;"
// (an empty one) do not set an encoding: -O still saves the body as sent,
// rather than letting net/http ask for gzip and decompress it.
func TestDayReviewSaveAsSentWithEmptyAcceptEncoding(t *testing.T) {
	srv, raw, seen := gzipServer(t)
	for _, h := range []string{"Accept-Encoding:", "accept-encoding;"} {
		url := srv.URL + "/f.tar.gz"
		dir := t.TempDir()
		code, out, stderr := runCmd(t, "", "-q", "-H", h, "-O", dir, url)
		r := records(t, out)[url]
		if code != exitOK {
			t.Fatalf("-H %q: exit %d, stderr %q, record %+v", h, code, stderr, r)
		}
		got, err := os.ReadFile(r.File)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("-H %q: saved %q (%v); want the gzip bytes as sent (requests: %q)", h, got, err, *seen)
		}
	}
}

// loadingRedis is a fake Redis that answers every command LOADING.
func loadingRedis(t *testing.T) string {
	addr, _ := loadingRedisArrived(t)
	return addr
}

// loadingRedisArrived is loadingRedis, also sending a value on the
// channel it returns for each command (dropped once 100 are waiting).
func loadingRedisArrived(t *testing.T) (string, chan struct{}) {
	arrived := make(chan struct{}, 100)
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if strings.HasPrefix(line, "*") {
						io.WriteString(c, "-LOADING Redis is loading the dataset in memory\r\n")
						select {
						case arrived <- struct{}{}:
						default:
						}
					}
				}
			}()
		}
	}()
	return l.Addr().String(), arrived
}

// --total ending the wait for a Redis that is loading is --total's end,
// not an interrupt: exit 1 and "--total ... reached", as everywhere else,
// not 130, which -h gives for Ctrl-C.
func TestDayReviewQueueLoadingTotalIsNotInterrupt(t *testing.T) {
	addr := loadingRedis(t)
	code, out, stderr := runCmd(t, "", "-q", "--total", "300ms", "--queue", "redis://"+addr+"/urls")
	if code != exitSomeFailed || out != "" || !strings.Contains(stderr, "--total 300ms reached") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 saying --total was reached", code, out, stderr)
	}
}

// A response whose head was cut short (the connection closed after the
// status line) has no body to be truncated, and no status: it is not
// error_kind truncated, which README gives for a body cut short.
func TestDayReviewHeadCutIsNotTruncated(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				br := bufio.NewReader(c)
				br.ReadString('\n')
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n")
				c.Close()
			}()
		}
	}()
	url := "http://" + l.Addr().String() + "/x"
	for _, args := range [][]string{{url}, {"-X", "HEAD", "-O", t.TempDir(), url}} {
		code, out, _ := runCmd(t, "", append([]string{"-q", "--retries", "0"}, args...)...)
		if r := records(t, out)[url]; code != exitSomeFailed || r.ErrorKind == "truncated" || r.Status != 0 {
			t.Errorf("%v: exit %d, record %+v; want a failure other than truncated", args, code, r)
		}
	}
}

// Ctrl-C or SIGTERM while waiting for a Redis that is loading ends the run
// with 130 or 143, as -h says, at once.
func TestDayReviewQueueLoadingSignal(t *testing.T) {
	for sig, want := range map[syscall.Signal]int{syscall.SIGINT: exitInterrupted, syscall.SIGTERM: exitTerminated} {
		addr, arrived := loadingRedisArrived(t)
		cmd := reviewCommand(t, "-q", "--queue", "redis://"+addr+"/urls")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		reviewWait(t, arrived, "a command")
		cmd.Process.Signal(sig)
		cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != want {
			t.Errorf("%v: exit %d, stderr %q; want %d", sig, code, stderr.String(), want)
		}
	}
}

// -O with a 0-byte body saves an empty file and says 0 bytes; a HEAD saves
// none; -H in lower case sets the encoding asked for, saved as sent; the
// summary gives the bytes, and no rate when there are none.
func TestDayReviewSaveSmallCases(t *testing.T) {
	srv, raw, seen := gzipServer(t)
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "0")
	}))
	defer empty.Close()
	dir := t.TempDir()
	code, out, stderr := runCmd(t, "", "-O", dir, empty.URL+"/e")
	r := records(t, out)[empty.URL+"/e"]
	if info, err := os.Stat(r.File); code != exitOK || err != nil || info.Size() != 0 || r.Bytes != 0 || !strings.Contains(stderr, "1 succeeded, 0 failed, 0 retried;") || !strings.Contains(stderr, " req/s, 0 B\n") {
		t.Errorf("0 bytes: exit %d, record %+v, stderr %q", code, r, stderr)
	}
	code, out, _ = runCmd(t, "", "-q", "-X", "HEAD", "--max-body", "1", "-O", dir, srv.URL+"/h")
	if r := records(t, out)[srv.URL+"/h"]; code != exitOK || r.File != "" || r.Bytes != 0 {
		t.Errorf("HEAD: exit %d, record %+v", code, r)
	}
	url := srv.URL + "/f.tar.gz"
	code, out, _ = runCmd(t, "", "-q", "-H", "accept-encoding: gzip", "-O", dir, url)
	r = records(t, out)[url]
	if got, err := os.ReadFile(r.File); code != exitOK || err != nil || !bytes.Equal(got, raw) {
		t.Errorf("-H accept-encoding: gzip: exit %d, saved %q (%v), requests %q", code, got, err, *seen)
	}
}

// --queue -O saves a body as sent too, also through a redirect to another
// host, and a body over the 10 MiB default fails naming --max-body.
func TestDayReviewQueueSaveAsSent(t *testing.T) {
	cdn, raw, seen := gzipServer(t)
	cdnURL := strings.Replace(cdn.URL, "127.0.0.1", "localhost", 1) + "/f.tar.gz"
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Write(make([]byte, 11<<20))
			return
		}
		http.Redirect(w, r, cdnURL, http.StatusFound)
	}))
	defer origin.Close()
	queue, _ := newQueue(t, redisAddr(t))
	url, big := origin.URL+"/f.tar.gz", origin.URL+"/big"
	if code, _, stderr := runCmd(t, url+"\n"+big+"\n", "-q", "--queue", queue, "--group", "workers", "--enqueue", "-"); code != exitOK {
		t.Fatalf("--enqueue: exit %d, stderr %q", code, stderr)
	}
	dir := t.TempDir()
	code, out, stderr := runCmd(t, "", "-q", "--queue", queue, "--group", "workers", "--retries", "0", "-O", dir)
	recs := records(t, out)
	r := recs[url]
	if got, err := os.ReadFile(r.File); err != nil || !bytes.Equal(got, raw) {
		t.Errorf("exit %d, stderr %q, record %+v, saved %q (%v); want the gzip bytes as sent (requests %q)", code, stderr, r, got, err, *seen)
	}
	if r := recs[big]; r.ErrorKind != "body_too_large" || !strings.HasSuffix(r.Error, "(--max-body)") {
		t.Errorf("big: record %+v; want body_too_large naming --max-body", r)
	}
}
