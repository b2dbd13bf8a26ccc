package fetch_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/c989c033/fetch"
)

// server starts a local server for the examples: /items/N answers "item N",
// /missing answers 404, and /flaky fails twice with 503 before answering.
func server() *httptest.Server {
	var flaky atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/items/{n}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "item %s", r.PathValue("n"))
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		if flaky.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "finally")
	})
	return httptest.NewServer(mux)
}

func ExampleFetcher_Get() {
	srv := server()
	defer srv.Close()

	f, err := fetch.New(fetch.WithConcurrency(16))
	if err != nil {
		panic(err)
	}
	defer f.Shutdown(context.Background())

	body, err := f.Get(context.Background(), srv.URL+"/items/1")
	fmt.Printf("%s %v\n", body, err)

	_, err = f.Get(context.Background(), srv.URL+"/missing")
	var se *fetch.StatusError
	if errors.As(err, &se) {
		fmt.Println("status", se.StatusCode)
	}
	// Output:
	// item 1 <nil>
	// status 404
}

func ExampleFetcher_Do() {
	srv := server()
	defer srv.Close()
	f, _ := fetch.New()
	defer f.Shutdown(context.Background())

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/items/2", nil)
	resp, err := f.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close() // the request holds its in-flight slot until then
	fmt.Println(resp.Status)
	// Output: 200 OK
}

func ExampleFetcher_GetAll() {
	srv := server()
	defer srv.Close()
	f, _ := fetch.New(fetch.WithConcurrency(8))
	defer f.Shutdown(context.Background())

	urls := []string{srv.URL + "/items/1", srv.URL + "/missing", "not a url", srv.URL + "/items/4"}
	for _, r := range f.GetAll(context.Background(), urls) {
		switch {
		case errors.Is(r.Err, fetch.ErrInvalidURL):
			fmt.Println(r.Index, "invalid URL")
		case r.Err != nil:
			fmt.Println(r.Index, "status", r.Status)
		default:
			fmt.Println(r.Index, string(r.Body))
		}
	}
	// Output:
	// 0 item 1
	// 1 status 404
	// 2 invalid URL
	// 3 item 4
}

func ExampleFetcher_Stream() {
	srv := server()
	defer srv.Close()
	f, _ := fetch.New(fetch.WithConcurrency(4))
	defer f.Shutdown(context.Background())

	// URLs are pulled lazily: this could be a million lines of a file.
	urls := func(yield func(string) bool) {
		for i := range 5 {
			if !yield(fmt.Sprintf("%s/items/%d", srv.URL, i)) {
				return
			}
		}
	}
	var got []string
	for r := range f.Stream(context.Background(), urls) { // as they complete
		got = append(got, string(r.Body))
	}
	slices.Sort(got)
	fmt.Println(got)
	// Output: [item 0 item 1 item 2 item 3 item 4]
}

func ExampleTaskGroup() {
	srv := server()
	defer srv.Close()
	f, _ := fetch.New()
	defer f.Shutdown(context.Background())

	g, ctx := fetch.NewTaskGroup(context.Background())
	g.SetLimit(2)
	for _, path := range []string{"/items/1", "/missing", "/items/3"} {
		g.Go(func() error {
			_, err := f.Get(ctx, srv.URL+path) // the first failure cancels ctx
			return err
		})
	}
	err := g.Wait() // every real failure, not the cancellations it caused
	var se *fetch.StatusError
	fmt.Println(errors.As(err, &se), se.StatusCode)
	// Output: true 404
}

func ExampleWithRate() {
	srv := server()
	defer srv.Close()
	// 600 requests a minute overall in bursts of at most 5; 20 a second and
	// 2 in flight to any one host.
	f, _ := fetch.New(
		fetch.WithRate(fetch.PerMinute(600), 5),
		fetch.WithHostRate(fetch.PerSecond(20), 1),
		fetch.WithHostConcurrency(2),
	)
	defer f.Shutdown(context.Background())

	// The host's bucket starts with 1 token and refills every 50ms, so these
	// three requests take about 100ms.
	for i := range 3 {
		body, _ := f.Get(context.Background(), fmt.Sprintf("%s/items/%d", srv.URL, i))
		fmt.Println(string(body))
	}
	// Output:
	// item 0
	// item 1
	// item 2
}

func ExampleRetryPolicy() {
	srv := server()
	defer srv.Close()
	p := fetch.DefaultRetryPolicy()
	p.MaxAttempts = 5
	p.BaseDelay = 10 * time.Millisecond
	p.MaxDelay = time.Second

	var retries int
	f, _ := fetch.New(fetch.WithRetry(p), fetch.WithHooks(fetch.Hooks{
		OnRetry: func(r fetch.RetryInfo) { retries++ },
	}))
	defer f.Shutdown(context.Background())

	body, err := f.Get(context.Background(), srv.URL+"/flaky")
	fmt.Printf("%s after %d retries, err %v\n", body, retries, err)
	// Output: finally after 2 retries, err <nil>
}

func ExampleWithAdaptiveRate() {
	srv := server()
	defer srv.Close()
	// Each host starts at 10 requests a second and finds its own limit,
	// between 1 and 500 a second, from the 429s (and 503s with Retry-After)
	// it answers.
	f, _ := fetch.New(
		fetch.WithAdaptiveRate(fetch.AdaptiveRate{Floor: 1, Ceiling: 500, Initial: 10}),
		fetch.WithRetryBudget(fetch.RetryBudget{}), // 20% of calls + 10 retries per 10 s, per host
	)
	defer f.Shutdown(context.Background())

	body, _ := f.Get(context.Background(), srv.URL+"/items/1")
	fmt.Println(string(body))
	for _, h := range f.Stats().Hosts { // the rate grows while the host answers
		fmt.Printf("rate within bounds: %v, cuts: %d\n", h.Rate >= 10 && h.Rate <= 500, h.Cuts)
	}
	// Output:
	// item 1
	// rate within bounds: true, cuts: 0
}

// A polite crawl: two requests in flight per host, robots.txt honoured,
// every link followed to depth 2. The site links four pages to each
// other, with a fragment and a relative link that lead to pages already
// seen.
func ExampleCrawler() {
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", http.NotFound) // 404: everything allowed
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<a href="/a">a</a> <a href="/b#top">b</a>`)
	})
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<a href="b">b</a> <a href="/">home</a> <a href="/c">c</a>`)
	})
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `<a href="/a">a</a>`) })
	mux.HandleFunc("/c", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `<a href="/d">d</a>`) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	f, err := fetch.New(fetch.WithHostConcurrency(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Shutdown(context.Background())
	c, err := fetch.NewCrawler(f, fetch.CrawlMaxDepth(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	var pages []string
	for p := range c.Run(context.Background(), srv.URL+"/") {
		if p.Err != nil {
			fmt.Println(p.Err)
			continue
		}
		pages = append(pages, fmt.Sprintf("%s (depth %d)", p.FinalURL[len(srv.URL):], p.Depth))
		p.Follow(p.Links()...)
	}
	slices.Sort(pages)
	fmt.Println(pages)
	// Output: [/ (depth 0) /a (depth 1) /b (depth 1) /c (depth 2)]
}

// RunSeq reads the seeds as the crawl goes: here, one per line of a list,
// as a pipe or a large file would give them. The crawl starts with the
// first line; the links to /a, a seed, add nothing.
func ExampleCrawler_RunSeq() {
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", http.NotFound)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<a href="/a">a</a>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	f, err := fetch.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Shutdown(context.Background())
	c, err := fetch.NewCrawler(f, fetch.CrawlMaxDepth(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	list := strings.NewReader(srv.URL + "/a\n" + srv.URL + "/b\n" + srv.URL + "/c\n")
	seeds := func(yield func(string) bool) {
		sc := bufio.NewScanner(list)
		for sc.Scan() && yield(sc.Text()) {
		}
	}
	var pages []string
	for p := range c.RunSeq(context.Background(), seeds) {
		if p.Err != nil {
			fmt.Println(p.Err)
			continue
		}
		pages = append(pages, fmt.Sprintf("%s (depth %d)", p.URL[len(srv.URL):], p.Depth))
		p.Follow(p.Links()...)
	}
	slices.Sort(pages)
	fmt.Println(pages)
	// Output: [/a (depth 0) /b (depth 0) /c (depth 0)]
}

// Handle reads each body as a stream, inside the attempt, and keeps each
// input with the value its handler made: here, the length of each item's
// page, counted without holding the page.
func ExampleHandle() {
	srv := server()
	defer srv.Close()

	f, err := fetch.New(fetch.WithConcurrency(16))
	if err != nil {
		panic(err)
	}
	defer f.Shutdown(context.Background())

	ids := []int{1, 2, 3}
	request := func(ctx context.Context, id int) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/items/%d", srv.URL, id), nil)
	}
	count := func(id int, resp *http.Response) (int64, error) {
		return io.Copy(io.Discard, resp.Body)
	}
	sizes := map[int]int64{}
	for h := range fetch.Handle(context.Background(), f, slices.Values(ids), request, count) {
		if h.Err != nil {
			fmt.Println(h.Err)
			continue
		}
		sizes[h.Input] = h.Value
	}
	fmt.Println(sizes)
	// Output:
	// map[1:6 2:6 3:6]
}

// Sitemap lists the pages a site's sitemaps name, here those its
// robots.txt points to, to seed a crawl of the whole site.
func ExampleSitemap() {
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "User-agent: *\nDisallow: /private/\nSitemap: http://%s/sitemap.xml\n", r.Host)
	})
	mux.HandleFunc("/sitemap.xml", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>http://%[1]s/a</loc><lastmod>2026-11-30</lastmod></url>
  <url><loc>http://%[1]s/b</loc></url>
</urlset>`, r.Host)
	})
	mux.HandleFunc("/{page}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "page ", r.PathValue("page")) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	f, err := fetch.New(fetch.WithHostConcurrency(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Shutdown(context.Background())
	var seeds []string
	for u := range fetch.Sitemap(context.Background(), f, srv.URL+"/robots.txt") {
		if u.Err != nil {
			fmt.Println(u.Err)
			continue
		}
		seeds = append(seeds, u.URL)
		fmt.Println("listed:", u.URL[len(srv.URL):], u.LastMod.Format(time.DateOnly))
	}
	c, err := fetch.NewCrawler(f)
	if err != nil {
		fmt.Println(err)
		return
	}
	var pages []string
	for p := range c.Run(context.Background(), seeds...) {
		pages = append(pages, fmt.Sprint(p.URL[len(srv.URL):], " ", p.Status))
	}
	slices.Sort(pages)
	fmt.Println("crawled:", pages)
	// Output:
	// listed: /a 2026-11-30
	// listed: /b 0001-01-01
	// crawled: [/a 200 /b 200]
}

// A link checker reports each redirect rather than following it: with
// WithFollowRedirects(false) a 3xx is the final response, a StatusError
// whose Header holds the Location.
func ExampleWithFollowRedirects() {
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "new") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	f, err := fetch.New(fetch.WithFollowRedirects(false))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Shutdown(context.Background())
	for r := range f.Stream(context.Background(), slices.Values([]string{srv.URL + "/old", srv.URL + "/new"})) {
		var serr *fetch.StatusError
		switch {
		case r.Err == nil:
			fmt.Println(r.URL[len(srv.URL):], "ok")
		case errors.As(r.Err, &serr) && serr.StatusCode/100 == 3:
			fmt.Println(r.URL[len(srv.URL):], "moved to", serr.Header.Get("Location"))
		default:
			fmt.Println(r.URL[len(srv.URL):], r.Err)
		}
	}
	// Unordered output:
	// /old moved to /new
	// /new ok
}
