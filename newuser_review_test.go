package fetch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/c989c033/fetch"
)

// ---------- Task 1: 500 URLs, 5 hosts, 2 in flight + 5 req/s per host ----------

// memRT serves a handler from memory, as the README's "Testing" section says.
type memRT struct{ h http.Handler }

func (m memRT) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, req)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

func TestNewUserTask1BatchPerHostLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		inflight := map[string]int{}
		maxInflight := map[string]int{}
		sends := map[string][]time.Duration{}
		start := time.Now()
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			inflight[r.Host]++
			maxInflight[r.Host] = max(maxInflight[r.Host], inflight[r.Host])
			sends[r.Host] = append(sends[r.Host], time.Since(start))
			mu.Unlock()
			time.Sleep(300 * time.Millisecond)
			mu.Lock()
			inflight[r.Host]--
			mu.Unlock()
			if strings.HasSuffix(r.URL.Path, "/13") { // a permanent failure
				http.Error(w, "gone", http.StatusGone)
				return
			}
			fmt.Fprintf(w, "%s%s", r.Host, r.URL.Path)
		})
		f, err := fetch.New(
			fetch.WithClient(&http.Client{Transport: memRT{h}}),
			fetch.WithConcurrency(16),
			fetch.WithHostConcurrency(2),
			fetch.WithHostRate(fetch.PerSecond(5), 1),
		)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())

		var urls []string
		for i := range 100 {
			for h := range 5 {
				urls = append(urls, fmt.Sprintf("http://host%d.test/%d", h, i))
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		res := f.GetAll(ctx, urls)
		elapsed := time.Since(start)
		if len(res) != 500 {
			t.Fatalf("%d results", len(res))
		}
		failed := 0
		for i, r := range res {
			if r.Index != i || r.URL != urls[i] {
				t.Fatalf("result %d is for %q (index %d)", i, r.URL, r.Index)
			}
			if strings.HasSuffix(urls[i], "/13") {
				var se *fetch.StatusError
				if !errors.As(r.Err, &se) || se.StatusCode != 410 {
					t.Errorf("%s: want 410 StatusError, got %v", urls[i], r.Err)
				}
				failed++
				continue
			}
			if r.Err != nil {
				t.Errorf("%s: %v", urls[i], r.Err)
				continue
			}
			if want := strings.TrimPrefix(urls[i], "http://"); string(r.Body) != want {
				t.Errorf("%s: body %q", urls[i], r.Body)
			}
		}
		if failed != 5 {
			t.Errorf("failed = %d", failed)
		}
		for host, n := range maxInflight {
			if n > 2 {
				t.Errorf("%s: %d in flight", host, n)
			}
			// 5 req/s, burst 1: any 6 consecutive sends span >= 1 s.
			s := sends[host]
			for i := 5; i < len(s); i++ {
				if d := s[i] - s[i-5]; d < time.Second-time.Millisecond {
					t.Errorf("%s: 6 sends within %v", host, d)
					break
				}
			}
		}
		// 100 per host at 5/s, burst 1: ~19.8 s + 0.3 s latency
		if elapsed < 19*time.Second || elapsed > 21*time.Second {
			t.Errorf("elapsed %v", elapsed)
		}
		t.Logf("elapsed %v (fake), stats %+v", elapsed, f.Stats())
	})
}

// Task 1b: the 30 s overall deadline, when the work cannot fit, must leave
// every unfinished URL with an error matching DeadlineExceeded, in order.
func TestNewUserTask1Deadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
		f, err := fetch.New(
			fetch.WithClient(&http.Client{Transport: memRT{h}}),
			fetch.WithHostConcurrency(2),
			fetch.WithHostRate(fetch.PerSecond(5), 1),
		)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		var urls []string
		for i := range 200 { // 200 per host at 5/s = 40 s > 30 s
			urls = append(urls, fmt.Sprintf("http://a.test/%d", i))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		start := time.Now()
		res := f.GetAll(ctx, urls)
		el := time.Since(start)
		if el > 30*time.Second+time.Millisecond {
			t.Errorf("GetAll returned after %v, past the 30 s deadline", el)
		}
		ok, dl := 0, 0
		for i, r := range res {
			if r.Index != i {
				t.Fatalf("order")
			}
			switch {
			case r.Err == nil:
				ok++
			case errors.Is(r.Err, context.DeadlineExceeded):
				dl++
			default:
				t.Errorf("%s: unexpected %v", r.URL, r.Err)
			}
		}
		if ok+dl != 200 || ok < 145 || ok > 152 {
			t.Errorf("ok=%d deadline=%d", ok, dl)
		}
		t.Logf("ok=%d deadline=%d in %v", ok, dl, el)
	})
}

// ---------- Task 2: paginated JSON API with bearer token ----------

type item struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}
type page struct {
	Items []item `json:"items"`
	Next  string `json:"next"`
}
type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func newAPI(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var forbiddenHits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.WriteHeader(401)
			io.WriteString(w, `{"error":{"code":"unauthenticated","message":"missing or bad token"}}`)
			return
		}
		if r.URL.Path == "/forbidden" {
			forbiddenHits.Add(1)
			w.WriteHeader(403)
			io.WriteString(w, `{"error":{"code":"forbidden","message":"project 7 is archived"}}`)
			return
		}
		p, _ := strconv.Atoi(r.URL.Query().Get("page"))
		var out page
		for i := range 10 {
			out.Items = append(out.Items, item{ID: p*10 + i, Name: "n" + strconv.Itoa(p*10+i)})
		}
		if p < 4 {
			out.Next = "/items?page=" + strconv.Itoa(p+1)
		}
		json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv, &forbiddenHits
}

func TestNewUserTask2PaginatedAPI(t *testing.T) {
	srv, forbiddenHits := newAPI(t)
	f, err := fetch.New(fetch.WithBearerToken("s3cret"), fetch.WithHostConcurrency(2))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	ctx := t.Context()

	var all []item
	next := srv.URL + "/items?page=0"
	for next != "" {
		p, err := fetch.GetJSON[page](ctx, f, next)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Items...)
		next = ""
		if p.Next != "" {
			next = srv.URL + p.Next
		}
	}
	if len(all) != 50 || all[49].ID != 49 || all[0].Name != "n0" {
		t.Fatalf("got %d items: %v", len(all), all)
	}

	// A 4xx: read the API's error message.
	_, err = fetch.GetJSON[page](ctx, f, srv.URL+"/forbidden")
	var se *fetch.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("want StatusError, got %T %v", err, err)
	}
	var ae apiErr
	if jerr := json.Unmarshal(se.Body, &ae); jerr != nil || ae.Error.Message != "project 7 is archived" {
		t.Errorf("error body %q: %v", se.Body, jerr)
	}
	if se.StatusCode != 403 || forbiddenHits.Load() != 1 {
		t.Errorf("status %d, hits %d (a plain 403 must not be retried)", se.StatusCode, forbiddenHits.Load())
	}
	t.Logf("403 error text: %v", err)

	// No token: 401 with a message.
	g, _ := fetch.New()
	defer g.Shutdown(context.Background())
	_, err = fetch.GetJSON[page](ctx, g, srv.URL+"/items")
	if !errors.As(err, &se) || se.StatusCode != 401 || !strings.Contains(string(se.Body), "missing or bad token") {
		t.Errorf("401: %v", err)
	}
	// Shape mismatch: decoder error, not retried.
	_, err = fetch.GetJSON[[]int](ctx, f, srv.URL+"/items?page=0")
	var ute *json.UnmarshalTypeError
	if !errors.As(err, &ute) {
		t.Errorf("want UnmarshalTypeError, got %v", err)
	}
}

// ---------- Task 3: polite multi-host crawl writing titles ----------

var titleRE = regexp.MustCompile(`(?is)<title>(.*?)</title>`)

func TestNewUserTask3Crawl(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	var robotsUA []string
	var hosts [3]*httptest.Server
	for i := range hosts {
		hosts[i] = httptest.NewUnstartedServer(nil)
	}
	// site: host0 / -> /a, /b, host1 /, /private/x ; host1 / -> /c, host0/ ; host2 / -> /d, /a on host0
	for i, s := range hosts {
		i := i
		s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[fmt.Sprint(i)+r.URL.Path]++
			if r.URL.Path == "/robots.txt" {
				robotsUA = append(robotsUA, r.UserAgent())
			}
			mu.Unlock()
			if r.URL.Path == "/robots.txt" {
				if i == 1 {
					io.WriteString(w, "User-agent: *\nDisallow: /private/\n")
					return
				}
				http.NotFound(w, r)
				return
			}
			u := func(j int, p string) string { return "http://" + hosts[j].Listener.Addr().String() + p }
			links := map[string][]string{
				"0/":  {"/a", "/b#frag", u(1, "/"), u(1, "/private/x"), "mailto:x@y"},
				"0/a": {"/", "/b", u(2, "/")},
				"0/b": {"./a", "/missing"},
				"1/":  {"/c", u(0, "/")},
				"1/c": {"/c#top", "../c"},
				"2/":  {"/d", u(0, "/a")},
				"2/d": {},
			}[fmt.Sprint(i)+r.URL.Path]
			if links == nil {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<html><head><title>T%d%s</title></head><body>", i, r.URL.Path)
			for _, l := range links {
				fmt.Fprintf(w, `<a href="%s">x</a>`, l)
			}
			io.WriteString(w, "</body></html>")
		})
		s.Start()
		defer s.Close()
	}

	f, err := fetch.New(fetch.WithHostConcurrency(2), fetch.WithHostRate(fetch.PerSecond(50), 1))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	c, err := fetch.NewCrawler(f, fetch.CrawlMaxDepth(5), fetch.CrawlUserAgent("newuserbot/1.0"), fetch.CrawlHosts("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	titles := map[string]string{}
	var disallowed, notFound []string
	var out strings.Builder
	for p := range c.Run(ctx, hosts[0].URL+"/") {
		if p.Err != nil {
			switch {
			case errors.Is(p.Err, fetch.ErrDisallowed):
				disallowed = append(disallowed, p.URL)
			default:
				var se *fetch.StatusError
				if errors.As(p.Err, &se) && se.StatusCode == 404 {
					notFound = append(notFound, p.URL)
				} else {
					t.Errorf("%s: %v", p.URL, p.Err)
				}
			}
			continue
		}
		m := titleRE.FindSubmatch(p.Body)
		if m == nil {
			t.Errorf("%s: no title", p.URL)
			continue
		}
		titles[p.FinalURL] = string(m[1])
		json.NewEncoder(&out).Encode(map[string]any{"url": p.FinalURL, "title": string(m[1]), "depth": p.Depth})
		if err := p.Follow(p.Links()...); err != nil {
			t.Errorf("follow: %v", err)
		}
	}
	want := []string{"T0/", "T0/a", "T0/b", "T1/", "T1/c", "T2/", "T2/d"}
	var got []string
	for _, v := range titles {
		got = append(got, v)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("titles %v, want %v", got, want)
	}
	if len(disallowed) != 1 || !strings.HasSuffix(disallowed[0], "/private/x") {
		t.Errorf("disallowed %v", disallowed)
	}
	if len(notFound) != 1 || !strings.HasSuffix(notFound[0], "/missing") {
		t.Errorf("404s %v", notFound)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, n := range hits {
		if n != 1 {
			t.Errorf("%s fetched %d times", k, n)
		}
	}
	if hits["1/private/x"] != 0 {
		t.Errorf("disallowed page fetched")
	}
	for _, ua := range robotsUA {
		if !strings.Contains(ua, "newuserbot") {
			t.Errorf("robots.txt UA %q", ua)
		}
	}
	t.Logf("\n%s", out.String())
}

// ---------- Task 4: 50 large streamed downloads to files ----------

func TestNewUserTask4Downloads(t *testing.T) {
	const MiB = 1 << 20
	size := func(i int) int { return (1 + i%5) * MiB }
	var stallHits, cutHits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/f/"))
		n := size(i)
		switch i {
		case 7:
			http.NotFound(w, r)
			return
		case 11: // stalls half way, for ever
			stallHits.Add(1)
			w.Header().Set("Content-Length", strconv.Itoa(n))
			w.Write(make([]byte, n/2))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		case 23: // cut short every time
			cutHits.Add(1)
			w.Header().Set("Content-Length", strconv.Itoa(n))
			w.Write(make([]byte, n/3))
			panic(http.ErrAbortHandler)
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		buf := make([]byte, 64<<10)
		for j := range buf {
			buf[j] = byte(i)
		}
		for sent := 0; sent < n; sent += len(buf) {
			w.Write(buf[:min(len(buf), n-sent)])
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	f, err := fetch.New(
		fetch.WithConcurrency(8),
		fetch.WithStallTimeout(200*time.Millisecond),
		fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: 2, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	var urls []string
	for i := range 50 {
		urls = append(urls, fmt.Sprintf("%s/f/%d", srv.URL, i))
	}
	type saved struct {
		path string
		n    int64
	}
	results := fetch.HandleURLs(t.Context(), f, slices.Values(urls), func(u string, resp *http.Response) (saved, error) {
		name := filepath.Join(dir, filepath.Base(u))
		tmp, err := os.CreateTemp(dir, ".part-*")
		if err != nil {
			return saved{}, err
		}
		defer os.Remove(tmp.Name())
		n, err := io.Copy(tmp, resp.Body)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return saved{}, err
		}
		return saved{name, n}, os.Rename(tmp.Name(), name)
	})
	failures := map[int]error{}
	for h := range results {
		i, _ := strconv.Atoi(filepath.Base(h.Input))
		if h.Err != nil {
			failures[i] = h.Err
			continue
		}
		if h.Value.n != int64(size(i)) {
			t.Errorf("%d: %d bytes", i, h.Value.n)
		}
	}
	if len(failures) != 3 {
		t.Errorf("failures: %v", failures)
	}
	var se *fetch.StatusError
	if !errors.As(failures[7], &se) || se.StatusCode != 404 {
		t.Errorf("7: %v", failures[7])
	}
	if !errors.Is(failures[11], fetch.ErrAttemptTimeout) {
		t.Errorf("11: %v", failures[11])
	}
	if !errors.Is(failures[23], io.ErrUnexpectedEOF) {
		t.Errorf("23: %v", failures[23])
	}
	if stallHits.Load() != 2 || cutHits.Load() != 2 {
		t.Errorf("attempts: stall %d cut %d", stallHits.Load(), cutHits.Load())
	}
	for i, e := range failures {
		t.Logf("failed %d: %v", i, e)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 47 {
		t.Errorf("%d files", len(ents))
	}
	for _, e := range ents {
		i, _ := strconv.Atoi(e.Name())
		fi, _ := e.Info()
		if fi.Size() != int64(size(i)) {
			t.Errorf("%s: %d bytes", e.Name(), fi.Size())
		}
	}
}

// ---------- Task 5: fan-out inside a handler ----------

func TestNewUserTask5FanOut(t *testing.T) {
	var upstreamInflight atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamInflight.Add(1)
		defer upstreamInflight.Add(-1)
		i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		switch i {
		case 3:
			http.Error(w, "nope", 404)
			return
		case 6: // slow: outlives the per-request budget
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		fmt.Fprintf(w, "v%d", i)
	}))
	defer up.Close()

	f, err := fetch.New(fetch.WithConcurrency(32), fetch.WithHostConcurrency(16))
	if err != nil {
		t.Fatal(err)
	}
	type reply struct {
		Values map[int]string `json:"values"`
		Errors map[int]string `json:"errors"`
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 300*time.Millisecond)
		defer cancel()
		var urls []string
		for i := range 10 {
			urls = append(urls, fmt.Sprintf("%s/%d", up.URL, i))
		}
		out := reply{Values: map[int]string{}, Errors: map[int]string{}}
		for _, res := range f.GetAll(ctx, urls) {
			if res.Err != nil {
				out.Errors[res.Index] = res.Err.Error()
				continue
			}
			out.Values[res.Index] = string(res.Body)
		}
		code := 200
		if len(out.Errors) > 0 {
			code = http.StatusPartialContent // partial results
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(out)
	}))
	defer front.Close()

	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			resp, err := http.Get(front.URL)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var rp reply
			if err := json.NewDecoder(resp.Body).Decode(&rp); err != nil {
				t.Error(err)
				return
			}
			if len(rp.Values) != 8 || len(rp.Errors) != 2 || rp.Values[9] != "v9" {
				t.Errorf("reply %+v", rp)
			}
			if !strings.Contains(rp.Errors[3], "404") {
				t.Errorf("3: %s", rp.Errors[3])
			}
			if !strings.Contains(rp.Errors[6], "deadline") {
				t.Errorf("6: %s", rp.Errors[6])
			}
		})
	}
	wg.Wait()

	// A client that goes away cancels the upstream calls.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, "GET", front.URL, nil)
	http.DefaultClient.Do(req)
	cancel()

	// Graceful shutdown: front first, then the Fetcher.
	front.Config.SetKeepAlivesEnabled(false)
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer scancel()
	if err := front.Config.Shutdown(sctx); err != nil {
		t.Errorf("front shutdown: %v", err)
	}
	if err := f.Shutdown(sctx); err != nil {
		t.Errorf("fetcher shutdown: %v", err)
	}
	if n := upstreamInflight.Load(); n != 0 {
		// give the upstream's handlers a moment to see the cancellation
		deadline := time.Now().Add(time.Second)
		for upstreamInflight.Load() != 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := upstreamInflight.Load(); n != 0 {
			t.Errorf("%d upstream requests still running", n)
		}
	}
	if _, err := f.Get(t.Context(), up.URL+"/1"); !errors.Is(err, fetch.ErrClosed) {
		t.Errorf("after Shutdown: %v", err)
	}
	st := f.Stats()
	t.Logf("stats: %+v", st)
}
