// Scraper crawls a local site of three hosts politely (two requests in
// flight and 100 a second per host, robots.txt honoured), follows every
// link, and writes each page's title as JSON.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/testsite"
)

type page struct {
	URL   string `json:"url"`
	Depth int    `json:"depth"`
	Title string `json:"title,omitempty"`
	Error string `json:"error,omitempty"`
}

func main() {
	out := flag.String("o", filepath.Join(os.TempDir(), "fetch-scraper.json"), "write the titles to this file")
	flag.Parse()

	// Three hosts on 127.0.0.1-3, 100 pages each; the third one's
	// robots.txt keeps crawlers out of /q.
	site, err := testsite.Start(testsite.Config{Hosts: 3, Pages: 100, Latency: 5 * time.Millisecond,
		Robots: map[int]testsite.Robots{2: {Body: "User-agent: *\nDisallow: /q\n"}}})
	if err != nil {
		log.Fatal(err)
	}
	defer site.Close()

	f, err := fetch.New(fetch.WithHostConcurrency(2), fetch.WithHostRate(fetch.PerSecond(100), 5),
		fetch.WithMaxBodySize(512<<10)) // a huge page is an error, never read whole
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	crawler, err := fetch.NewCrawler(f, fetch.CrawlUserAgent("scraper-example/1.0"))
	if err != nil {
		log.Fatal(err)
	}

	var pages []page
	disallowed := 0
	start := time.Now()
	for p := range crawler.Run(context.Background(), site.Seed()) {
		if errors.Is(p.Err, fetch.ErrDisallowed) {
			disallowed++
			continue
		}
		pg := page{URL: p.FinalURL, Depth: p.Depth}
		if p.Err == nil {
			pg.Title = p.Title()
			p.Follow(p.Links()...)
		}
		if p.Err != nil {
			pg.URL, pg.Error = p.URL, p.Err.Error()
		}
		pages = append(pages, pg)
	}
	elapsed := time.Since(start)
	slices.SortFunc(pages, func(a, b page) int { return cmp.Or(cmp.Compare(a.Depth, b.Depth), strings.Compare(a.URL, b.URL)) })

	data, err := json.MarshalIndent(pages, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		log.Fatal(err)
	}

	// What a crawler that honours the third host's robots.txt should reach.
	third, _ := url.Parse(site.Hosts()[2])
	want := site.Reachable(func(raw string) bool {
		u, _ := url.Parse(raw)
		return u.Host == third.Host && strings.HasPrefix(u.Path, "/q")
	})
	exact := len(pages) == len(want)
	for _, p := range pages {
		if _, ok := want[p.URL]; !ok || p.Error != "" || p.Title != site.Title(p.URL) {
			exact = false
		}
	}
	fmt.Printf("crawled %d pages over %d hosts in %v, %d disallowed by robots.txt\n",
		len(pages), len(site.Hosts()), elapsed.Round(time.Millisecond), disallowed)
	fmt.Printf("every reachable page once, with its title: %v\n", exact)
	fmt.Printf("wrote %d titles to %s\n", len(pages), *out)
}
