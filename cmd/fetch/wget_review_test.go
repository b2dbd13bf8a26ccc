package main

// A review of -O as a sysadmin moving from `wget -i urls.txt` and
// `xargs -P8 -n1 curl -sSfLO` would drive it: release tarballs and ISOs,
// package mirrors, many small files from several hosts, in cron and CI.
// Each test that pinned a defect failed before its fix.

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/c989c033/fetch"
)

// wrFiles returns the names in dir, sorted, hidden (temporary) ones
// included.
func wrFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// wrCut answers with a Content-Length of n and sends only half of it,
// then closes the connection: a server (or a proxy) that dies mid-body.
func wrCut(w http.ResponseWriter, n int) {
	w.Header().Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(http.StatusOK)
	w.Write(bytes.Repeat([]byte("x"), n/2))
	w.(http.Flusher).Flush()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// A release tarball cut short mid-body (Content-Length not reached, the
// connection closed) is retried from the start and saved whole, as wget
// retries it; with no retries left the run fails with exit 1, names the
// failure, and leaves neither the file nor a temporary file, as curl -f
// leaves no complete-looking file behind.
func TestWgetReviewCutMidBodyRetriedOrLeavesNothing(t *testing.T) {
	const size = 1 << 20
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		if r.URL.Path == "/always-cut.tar.gz" || n == 1 {
			wrCut(w, size)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write(bytes.Repeat([]byte("x"), size))
	}))
	defer srv.Close()

	dir := t.TempDir()
	url := srv.URL + "/pkg-1.0.tar.gz"
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, url)
	r := records(t, out)[url]
	if code != exitOK || r.Attempts != 2 || r.Bytes != size {
		t.Fatalf("cut once: exit %d, record %+v, stderr %q; want exit 0, 2 attempts, %d bytes", code, r, stderr, size)
	}
	if info, err := os.Stat(r.File); err != nil || info.Size() != size {
		t.Errorf("cut once: file %v (%v); want %d bytes", info, err, size)
	}

	dir = t.TempDir()
	url = srv.URL + "/always-cut.tar.gz"
	code, out, _ = runCmd(t, "", "-q", "--retries", "1", "-O", dir, url)
	r = records(t, out)[url]
	if code != exitSomeFailed || r.Error == "" || r.File != "" || r.Attempts != 2 {
		t.Errorf("always cut: exit %d, record %+v; want exit 1, an error, no file, 2 attempts", code, r)
	}
	if names := wrFiles(t, dir); len(names) != 0 {
		t.Errorf("always cut: DIR holds %q; want nothing", names)
	}
}

// A chunked body whose connection closes before the last chunk is a body
// cut short too, not a complete one: retried, then saved whole.
func TestWgetReviewChunkedCutIsRetried(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("y"), 100<<10)) // chunked: no Content-Length
		w.(http.Flusher).Flush()
		if hits.Add(1) == 1 {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		w.Write(bytes.Repeat([]byte("y"), 100<<10))
	}))
	defer srv.Close()
	dir := t.TempDir()
	url := srv.URL + "/mirror/Packages"
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, url)
	r := records(t, out)[url]
	if code != exitOK || r.Attempts != 2 || r.Bytes != 200<<10 {
		t.Fatalf("exit %d, record %+v, stderr %q; want exit 0 after 2 attempts, %d bytes", code, r, stderr, 200<<10)
	}
	if names := wrFiles(t, dir); !slices.Equal(names, []string{"127.0.0.1_" + strings.TrimPrefix(srv.URL, "http://127.0.0.1:") + "_mirror_Packages"}) {
		t.Errorf("DIR holds %q", names)
	}
}

// gzipped returns b compressed with gzip.
func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// A .tar.gz served, as servers that mark .gz files serve one (Apache's
// AddEncoding, S3 objects uploaded with Content-Encoding: gzip),
// with Content-Encoding: gzip to a client that asks for gzip. wget and curl
// -O save the bytes the server sent, the tarball whose checksum is
// published; -O must not save the decompressed .tar under the .tar.gz
// name, nor report its size. (Before the fix, the Fetcher's transport
// asked for gzip itself and decompressed the body it saved.)
func TestWgetReviewGzipEncodedTarballSavedAsSent(t *testing.T) {
	tar := bytes.Repeat([]byte("tar archive contents "), 5000)
	tgz := gzipped(t, tar)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-tar")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(tgz)))
		w.Write(tgz)
	}))
	defer srv.Close()
	for _, timeout := range []string{"30s", "0"} { // with the stall timeout and without
		dir := t.TempDir()
		url := srv.URL + "/pkg-1.0.tar.gz"
		code, out, stderr := runCmd(t, "", "-q", "--timeout", timeout, "-O", dir, url)
		r := records(t, out)[url]
		if code != exitOK {
			t.Fatalf("--timeout %s: exit %d, stderr %q", timeout, code, stderr)
		}
		got, err := os.ReadFile(r.File)
		if err != nil || !bytes.Equal(got, tgz) || r.Bytes != int64(len(tgz)) {
			t.Errorf("--timeout %s: saved %d bytes (record says %d), want the %d gzip bytes sent (the decompressed tar is %d); err %v",
				timeout, len(got), r.Bytes, len(tgz), len(tar), err)
		}
	}
}

// An -H "Accept-Encoding: gzip" the user asks for gets the bytes as sent
// too, as curl -H does: net/http decompresses only what it asked for
// itself.
func TestWgetReviewExplicitAcceptEncodingSavedAsSent(t *testing.T) {
	page := bytes.Repeat([]byte("<p>index</p>"), 1000)
	gz := gzipped(t, page)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") == "gzip" {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz)
			return
		}
		w.Write(page)
	}))
	defer srv.Close()
	dir := t.TempDir()
	url := srv.URL + "/index.html"
	code, out, _ := runCmd(t, "", "-q", "-H", "Accept-Encoding: gzip", "-O", dir, url)
	r := records(t, out)[url]
	if got, _ := os.ReadFile(r.File); code != exitOK || !bytes.Equal(got, gz) {
		t.Errorf("exit %d, saved %d bytes; want the %d gzip bytes sent", code, len(got), len(gz))
	}
}

// A 64 MiB ISO is streamed to disk: the heap stays small while it comes,
// whatever its size, as wget's does.
func TestWgetReviewBigBodyInSmallMemory(t *testing.T) {
	const size = 64 << 20
	chunk := bytes.Repeat([]byte("i"), 256<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // samples the heap while the download runs
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	dir := t.TempDir()
	url := srv.URL + "/debian.iso"
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, url)
	close(stop)
	wg.Wait()
	r := records(t, out)[url]
	if info, err := os.Stat(r.File); code != exitOK || err != nil || info.Size() != size {
		t.Fatalf("exit %d, record %+v, stderr %q, file %v (%v); want %d bytes saved", code, r, stderr, info, err, size)
	}
	if grew := int64(peak.Load()) - int64(base.HeapInuse); grew > 16<<20 {
		t.Errorf("heap grew by %d MiB while saving a %d MiB body; want it streamed", grew>>20, size>>20)
	}
}

// Redirects, as wget and curl -L follow them: the file is named after the
// URL asked for (wget without --trust-server-names, curl -O), the record
// says where it ended; a redirect to a 404 on another host saves nothing
// and says where the 404 came from.
func TestWgetReviewRedirectsAcrossHosts(t *testing.T) {
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone.iso" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "iso bytes from "+r.URL.Path)
	}))
	defer mirror.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, mirror.URL+"/pool"+r.URL.Path, http.StatusFound)
	}))
	defer front.Close()
	frontGone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, mirror.URL+"/gone.iso", http.StatusMovedPermanently)
	}))
	defer frontGone.Close()

	dir := t.TempDir()
	ok, gone := front.URL+"/latest.iso", frontGone.URL+"/old.iso"
	code, out, _ := runCmd(t, ok+"\n"+gone+"\n", "-q", "-O", dir)
	recs := records(t, out)
	if code != exitSomeFailed {
		t.Errorf("exit %d; want 1 (one failed)", code)
	}
	r := recs[ok]
	want := fileName(mustParse(t, ok))
	if r.File != filepath.Join(dir, want) || r.FinalURL != mirror.URL+"/pool/latest.iso" {
		t.Errorf("redirected: record %+v; want file %s, final_url on the mirror", r, want)
	}
	if got, _ := os.ReadFile(r.File); string(got) != "iso bytes from /pool/latest.iso" {
		t.Errorf("redirected: saved %q", got)
	}
	g := recs[gone]
	if g.Status != 404 || g.ErrorKind != "status" || g.File != "" || g.FinalURL != mirror.URL+"/gone.iso" {
		t.Errorf("redirect to 404: record %+v; want status 404, no file, final_url the 404", g)
	}
	if names := wrFiles(t, dir); !slices.Equal(names, []string{want}) {
		t.Errorf("DIR holds %q; want only %s", names, want)
	}
}

// 404 and 5xx, as curl -f and wget take them: no file (not the error page),
// exit 1; a 5xx is retried, a 404 is not.
func TestWgetReviewErrorStatusesSaveNothing(t *testing.T) {
	var hits500, hits404 atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing.tar.gz":
			hits404.Add(1)
			http.Error(w, "<html>Not Found</html>", 404)
		case "/broken.tar.gz":
			hits500.Add(1)
			http.Error(w, "<html>Internal</html>", 500)
		default:
			io.WriteString(w, "fine")
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	in := srv.URL + "/missing.tar.gz\n" + srv.URL + "/broken.tar.gz\n" + srv.URL + "/ok.tar.gz\n"
	code, out, _ := runCmd(t, in, "-q", "--retries", "1", "-O", dir)
	recs := records(t, out)
	if code != exitSomeFailed || len(recs) != 3 {
		t.Fatalf("exit %d, %d records; want exit 1, 3 records", code, len(recs))
	}
	if r := recs[srv.URL+"/missing.tar.gz"]; r.Status != 404 || r.File != "" || r.Attempts != 1 || hits404.Load() != 1 {
		t.Errorf("404: record %+v, %d hits; want not retried, no file", r, hits404.Load())
	}
	if r := recs[srv.URL+"/broken.tar.gz"]; r.Status != 500 || r.File != "" || r.Attempts != 2 || hits500.Load() != 2 {
		t.Errorf("500: record %+v, %d hits; want retried once, no file", r, hits500.Load())
	}
	if names := wrFiles(t, dir); len(names) != 1 || !strings.HasSuffix(names[0], "ok.tar.gz") {
		t.Errorf("DIR holds %q; want only ok.tar.gz's file", names)
	}
}

// Re-running a cron job into a DIR that has last night's files: each file
// is replaced by tonight's body (not saved as .1 beside it, as wget would
// without -nc), a file the run does not fetch is left alone, a 404 tonight
// leaves last night's file as it was, and duplicates in one run get .1, .2
// in input order.
func TestWgetReviewRerunIntoFilledDir(t *testing.T) {
	var night atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/flaky" && night.Load() == 2 {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "night %d %s", night.Load(), r.URL.Path)
	}))
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "unrelated.txt"), []byte("keep me"), 0o644)
	in := srv.URL + "/a\n" + srv.URL + "/flaky\n" + srv.URL + "/a\n" + srv.URL + "/a\n"
	for n := int64(1); n <= 2; n++ {
		night.Store(n)
		code, out, stderr := runCmd(t, in, "-q", "-c", "4", "-O", dir)
		if want := map[int64]int{1: exitOK, 2: exitSomeFailed}[n]; code != want {
			t.Fatalf("night %d: exit %d, stderr %q; want %d", n, code, stderr, want)
		}
		if got := len(lineRecords(t, out)); got != 4 {
			t.Errorf("night %d: %d records; want 4", n, got)
		}
	}
	base := fileName(mustParse(t, srv.URL+"/a"))
	flaky := fileName(mustParse(t, srv.URL+"/flaky"))
	want := map[string]string{
		base: "night 2 /a", base + ".1": "night 2 /a", base + ".2": "night 2 /a",
		flaky: "night 1 /flaky", "unrelated.txt": "keep me",
	}
	names := wrFiles(t, dir)
	if len(names) != len(want) {
		t.Errorf("DIR holds %q; want %d files", names, len(want))
	}
	for name, body := range want {
		if got, err := os.ReadFile(filepath.Join(dir, name)); string(got) != body {
			t.Errorf("%s holds %q (%v); want %q", name, got, err, body)
		}
	}
}

// --host-concurrency holds while big bodies are streamed to disk: a slot
// is held until its body is saved, so a mirror sees no more downloads at
// once than asked, with the slow bodies of -O as with small ones.
func TestWgetReviewHostConcurrencyCoversBodies(t *testing.T) {
	var now, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		defer now.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		chunk := bytes.Repeat([]byte("z"), 16<<10)
		for range 8 { // some 40 ms a body: several downloads overlap
			w.Write(chunk)
			w.(http.Flusher).Flush()
			time.Sleep(5 * time.Millisecond) // the server trickles; no synchronisation
		}
	}))
	defer srv.Close()
	var in strings.Builder
	for i := range 12 {
		fmt.Fprintf(&in, "%s/file%d.bin\n", srv.URL, i)
	}
	dir := t.TempDir()
	code, out, stderr := runCmd(t, in.String(), "-q", "-c", "12", "--host-concurrency", "2", "-O", dir)
	if code != exitOK || len(lineRecords(t, out)) != 12 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if most.Load() > 2 {
		t.Errorf("the server saw %d downloads at once; want at most 2", most.Load())
	}
	if names := wrFiles(t, dir); len(names) != 12 {
		t.Errorf("DIR holds %d files; want 12", len(names))
	}
}

// With -O, --timeout bounds a stall after part of a body came; the stalled
// attempt is retried from the start, and the retry saves the whole body.
func TestWgetReviewStallMidBodyRetried(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2000")
		if hits.Add(1) == 1 {
			w.Write(bytes.Repeat([]byte("s"), 1000))
			w.(http.Flusher).Flush()
			<-r.Context().Done() // stalls until the client gives up
			return
		}
		w.Write(bytes.Repeat([]byte("s"), 2000))
	}))
	defer srv.Close()
	dir := t.TempDir()
	url := srv.URL + "/stalls-once.tar.xz"
	code, out, stderr := runCmd(t, "", "-q", "--timeout", "200ms", "-O", dir, url)
	r := records(t, out)[url]
	if code != exitOK || r.Attempts != 2 || r.Bytes != 2000 {
		t.Errorf("exit %d, record %+v, stderr %q; want saved whole on the second attempt", code, r, stderr)
	}
	if names := wrFiles(t, dir); len(names) != 1 {
		t.Errorf("DIR holds %q; want one file", names)
	}
}

// A body longer than its Content-Length is cut at the length, as wget and
// curl read it; the record and the file say the same size.
func TestWgetReviewBodyLongerThanContentLength(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				c.Read(buf)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789EXTRA-GARBAGE")
			}()
		}
	}()
	dir := t.TempDir()
	url := "http://" + ln.Addr().String() + "/f"
	code, out, _ := runCmd(t, "", "-q", "-O", dir, url)
	r := records(t, out)[url]
	got, _ := os.ReadFile(r.File)
	if code != exitOK || string(got) != "0123456789" || r.Bytes != 10 {
		t.Errorf("exit %d, record %+v, file %q; want the 10 bytes of Content-Length", code, r, got)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A mirror that drops every download once (a restarting proxy, say): each
// of 30 files is retried and saved whole, as wget retries each, rather
// than some failing because the host has had many retries.
func TestWgetReviewEveryDownloadCutOnceFromOneHost(t *testing.T) {
	const size = 64 << 10
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := !seen[r.URL.Path]
		seen[r.URL.Path] = true
		mu.Unlock()
		if first {
			wrCut(w, size)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write(bytes.Repeat([]byte("x"), size))
	}))
	defer srv.Close()
	var in strings.Builder
	for i := range 30 {
		fmt.Fprintf(&in, "%s/pool/pkg%d.deb\n", srv.URL, i)
	}
	dir := t.TempDir()
	code, out, stderr := runCmd(t, in.String(), "-c", "8", "-O", dir)
	recs := lineRecords(t, out)
	var failed []string
	for _, r := range recs {
		if r.Error != "" {
			failed = append(failed, r.URL+": "+r.Error)
		}
	}
	if code != exitOK || len(recs) != 30 || len(failed) > 0 {
		t.Errorf("exit %d, %d records, failed %q, stderr %q; want all 30 saved after a retry", code, len(recs), failed, stderr)
	}
	if !strings.Contains(stderr, "30 succeeded, 0 failed, 30 retried") {
		t.Errorf("summary %q; want 30 succeeded, 30 retried", stderr)
	}
}

// SIGTERM (systemd stopping the job, CI cancelling it) mid-download: exit
// 143, the record of the download cut written, and no temporary file left
// in DIR for the next run to trip on.
func TestWgetReviewSIGTERMMidDownloadLeavesNoTemp(t *testing.T) {
	srv, arrived := reviewBlockingServer(t)
	dir := t.TempDir()
	cmd := reviewCommand(t, "-q", "-O", dir, srv.URL+"/big.iso?partial=1")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reviewWait(t, arrived, "the partial body to be sent")
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitTerminated {
		t.Errorf("exit %d; want 143", code)
	}
	if names := wrFiles(t, dir); len(names) != 0 {
		t.Errorf("DIR holds %q after SIGTERM; want nothing", names)
	}
	if recs := lineRecords(t, stdout.String()); len(recs) != 1 || recs[0].ErrorKind != "canceled" {
		t.Errorf("records %+v; want the cut download's, canceled", recs)
	}
}

// A redirect to a mirror whose one slot (--host-concurrency 1) is held by
// a long download waits for the slot without the wait counting as a
// stall: --timeout with -O bounds silence from a server, not a queue of
// the command's own making.
func TestWgetReviewRedirectWaitForSlotIsNoStall(t *testing.T) {
	bigStarted := make(chan struct{})
	var once sync.Once
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big.iso" {
			once.Do(func() { close(bigStarted) })
			for range 16 { // some 800 ms in all, a chunk every 50 ms
				w.Write(bytes.Repeat([]byte("b"), 1024))
				w.(http.Flusher).Flush()
				time.Sleep(50 * time.Millisecond) // the server trickles
			}
			return
		}
		io.WriteString(w, "small")
	}))
	defer mirror.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-bigStarted // redirect only once the big download holds the mirror's slot
		http.Redirect(w, r, mirror.URL+"/small.sig", http.StatusFound)
	}))
	defer front.Close()
	dir := t.TempDir()
	big, small := mirror.URL+"/big.iso", front.URL+"/latest.sig"
	code, out, stderr := runCmd(t, "", "-q", "-c", "4", "--host-concurrency", "1", "--timeout", "300ms", "-O", dir, big, small)
	recs := records(t, out)
	if code != exitOK || recs[big].Bytes != 16<<10 || recs[small].Attempts != 1 || recs[small].Bytes != 5 {
		t.Errorf("exit %d, records %+v, stderr %q; want both saved at the first attempt", code, recs, stderr)
	}
}

// A body past a given --max-body fails its input, as wget's --quota does
// not but curl --max-filesize does, and leaves no file and no temporary
// file, whether its Content-Length says so or it runs on.
func TestWgetReviewMaxBodyLeavesNothing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/declared" {
			w.Header().Set("Content-Length", "5000")
		}
		w.Write(bytes.Repeat([]byte("m"), 5000))
	}))
	defer srv.Close()
	dir := t.TempDir()
	code, out, _ := runCmd(t, "", "-q", "--max-body", "1000", "-O", dir, srv.URL+"/declared", srv.URL+"/chunked")
	recs := records(t, out)
	if code != exitSomeFailed {
		t.Errorf("exit %d; want 1", code)
	}
	for _, u := range []string{srv.URL + "/declared", srv.URL + "/chunked"} {
		if r := recs[u]; r.ErrorKind != "body_too_large" || r.File != "" || r.Attempts != 1 {
			t.Errorf("%s: record %+v; want body_too_large, no file, not retried", u, r)
		}
	}
	if names := wrFiles(t, dir); len(names) != 0 {
		t.Errorf("DIR holds %q; want nothing", names)
	}
}

// Files and the directory -O makes take their modes from the umask, as
// wget, curl -O and mkdir -p make them: a shared mirror directory run under
// umask 002 gets group-writable files (0664), not 0644. The command runs
// as a process of its own, under sh's umask, leaving the test's alone.
func TestWgetReviewSavedFilesFollowUmask(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoPath))
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "mirror")
	cmd := reviewCommand(t)
	cmd.Args = []string{"sh", "-c", `umask 002 && exec "$0" "$@"`, os.Args[0], "-q", "-O", dir, srv.URL + "/pool/a.deb"}
	cmd.Path = "/bin/sh"
	cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0") // the race detector's pause at exit
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	info, err := os.Stat(dir)
	if err != nil || info.Mode().Perm() != 0o775 {
		t.Errorf("DIR made with mode %v (%v); want 0775 under umask 002", info.Mode().Perm(), err)
	}
	names := wrFiles(t, dir)
	if len(names) != 1 {
		t.Fatalf("DIR holds %q; want one file", names)
	}
	if info, err := os.Stat(filepath.Join(dir, names[0])); err != nil || info.Mode().Perm() != 0o664 {
		t.Errorf("file saved with mode %v (%v); want 0664 under umask 002", info.Mode().Perm(), err)
	}
}

// A connection reset mid-body (a load balancer dropping it, SO_LINGER 0)
// is retried like a close: the file is saved whole on the second attempt.
func TestWgetReviewResetMidBodyRetried(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		if hits.Add(1) == 1 {
			w.Write(bytes.Repeat([]byte("r"), 50000))
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.(*net.TCPConn).SetLinger(0) // close with a RST
			conn.Close()
			return
		}
		w.Write(bytes.Repeat([]byte("r"), 100000))
	}))
	defer srv.Close()
	dir := t.TempDir()
	url := srv.URL + "/reset.img"
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, url)
	if r := records(t, out)[url]; code != exitOK || r.Attempts != 2 || r.Bytes != 100000 {
		t.Errorf("exit %d, record %+v, stderr %q; want saved whole on the second attempt", code, r, stderr)
	}
}

// --total, a cron job's bound on the whole run, ends a download that keeps
// trickling: exit 1, the record says deadline, stderr says --total ran out,
// and DIR has no part of the body, under its name or a temporary one.
func TestWgetReviewTotalEndsTrickleLeavesNothing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		for range 100 { // bounded: some 5 s at most
			if _, err := w.Write([]byte("t")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond): // the server trickles
			}
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	url := srv.URL + "/slow.iso"
	code, out, stderr := runCmd(t, "", "-q", "--total", "300ms", "-O", dir, url)
	r := records(t, out)[url]
	if code != exitSomeFailed || r.ErrorKind != "deadline" || r.File != "" || !strings.Contains(stderr, "--total 300ms reached") {
		t.Errorf("exit %d, record %+v, stderr %q; want exit 1, deadline, --total named", code, r, stderr)
	}
	if names := wrFiles(t, dir); len(names) != 0 {
		t.Errorf("DIR holds %q; want nothing", names)
	}
}

// Two runs saving the same URL into one shared directory at once (two CI
// jobs on a shared cache volume, each fetch PID 1 of its container; two
// machines on NFS), or anyone with write access to the directory, must
// not share the temporary file a body is written to: a writer still
// holding it would change, or zero the start of, the file the run has
// renamed into place and reported saved. The other writer is played here
// by a file already open under the name this process's temporary file had
// (.NAME.PID.part) before the fix; the saved file must not be it.
func TestWgetReviewTempFileNotShared(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "the real tarball")
	}))
	defer srv.Close()
	dir := t.TempDir()
	url := srv.URL + "/pkg.tar.gz"
	name := fileName(mustParse(t, url))
	other, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf(".%s.%d.part", name, os.Getpid())), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	code, out, stderr := runCmd(t, "", "-q", "-O", dir, url)
	r := records(t, out)[url]
	if code != exitOK || r.File != filepath.Join(dir, name) {
		t.Fatalf("exit %d, record %+v, stderr %q", code, r, stderr)
	}
	other.WriteAt([]byte("XXXXXXXX"), 0) // the other writer goes on
	if got, _ := os.ReadFile(r.File); string(got) != "the real tarball" {
		t.Errorf("saved file holds %q after another writer wrote its own temporary file; want the body saved", got)
	}
}

// A cron job run as a user who cannot write DIR (owned by root, say):
// every save fails with EACCES, as on a read-only file system. The run
// stops, says why and exits 1, as README promises for a DIR that is
// "read-only", rather than requesting every URL on the list only to fail
// to save each. (Tests run as root, which permissions do not stop: the
// refusal is injected where files are opened.)
func TestWgetReviewUnwritableDirStopsTheRun(t *testing.T) {
	saveOpen = func(_ *os.Root, name string, _ int, _ os.FileMode) (*os.File, error) {
		return nil, &os.PathError{Op: "openat", Path: name, Err: syscall.EACCES}
	}
	t.Cleanup(func() { saveOpen = (*os.Root).OpenFile })
	srv, requests := countingServer(t)
	const n = 500
	var urls strings.Builder
	for i := range n {
		fmt.Fprintf(&urls, "%s/%d.deb\n", srv.URL, i)
	}
	code, out, stderr := runCmd(t, urls.String(), "-q", "-c", "2", "-O", t.TempDir())
	if code != exitSomeFailed || !strings.Contains(stderr, "stopped") || !strings.Contains(stderr, "permission denied") {
		t.Errorf("exit %d, stderr %q; want 1 and a line saying the run stopped, and why", code, stderr)
	}
	if recs := lineRecords(t, out); len(recs) == 0 || !strings.Contains(recs[0].Error, "permission denied") {
		t.Errorf("records %+v; want the first to say its body could not be saved", recs)
	}
	if got := requests.Load(); got >= n/2 {
		t.Errorf("%d of %d URLs requested into a DIR that takes no file; want the run stopped", got, n)
	}
}

// A DVD image of 5 GiB saved by a 32-bit build (a Raspberry Pi running
// the mirror's cron job): its record must say 5368709120 bytes, not what
// the size wraps to in a 32-bit int. Run with GOARCH=386 (or arm) to see
// it fail before the fix; on 64-bit builds it pins the record.
func TestWgetReviewBytesOver4GiBInRecord(t *testing.T) {
	const size = 5 << 30
	s := &saver{dir: "dvd"}
	u := "http://mirror.example/dvd.iso"
	rec := s.record(fetch.Handled[named, saved]{
		Input:    named{line: line{url: u}, name: "mirror.example_dvd.iso"},
		Value:    saved{file: "mirror.example_dvd.iso", bytes: size, finalURL: u},
		Status:   200,
		Attempts: 1,
	}, false, false)
	b, err := json.Marshal(rec)
	if err != nil || !strings.Contains(string(b), `"bytes":5368709120,`) {
		t.Errorf("record %s (%v); want \"bytes\":5368709120", b, err)
	}
}

// --host-rate paces each host on its own: five files from one mirror come
// at most 20 a second (50 ms apart, burst 1), and a file from another host
// is not held behind them.
func TestWgetReviewHostRatePerHost(t *testing.T) {
	var mu sync.Mutex
	var arrivals []time.Time
	var otherAt time.Time
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		io.WriteString(w, "deb")
	}))
	defer slow.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		otherAt = time.Now()
		mu.Unlock()
		io.WriteString(w, "sig")
	}))
	defer other.Close()
	var in strings.Builder
	for i := range 5 {
		fmt.Fprintf(&in, "%s/pool/%d.deb\n", slow.URL, i)
	}
	fmt.Fprintf(&in, "%s/Release.gpg\n", other.URL)
	dir := t.TempDir()
	code, out, stderr := runCmd(t, in.String(), "-q", "-c", "8", "--host-rate", "20", "-O", dir)
	if code != exitOK || len(lineRecords(t, out)) != 6 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(arrivals, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(arrivals); i++ {
		if gap := arrivals[i].Sub(arrivals[i-1]); gap < 40*time.Millisecond {
			t.Errorf("requests %d and %d to one host %v apart; want some 50 ms at --host-rate 20", i-1, i, gap)
		}
	}
	if !otherAt.Before(arrivals[len(arrivals)-1]) {
		t.Errorf("the other host's file came after the mirror's last; want it not held behind them")
	}
	if names := wrFiles(t, dir); len(names) != 6 {
		t.Errorf("DIR holds %q; want 6 files", names)
	}
}
