// Scraper fetches HTML pages, extracts each <title> with the x/net/html
// tokenizer over a size-capped body, and writes the results as JSON.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/htmltitle"
	"github.com/c989c033/fetch/internal/testserver"
)

type page struct {
	URL   string `json:"url"`
	Title string `json:"title,omitempty"`
	Error string `json:"error,omitempty"`
}

func main() {
	out := flag.String("o", filepath.Join(os.TempDir(), "fetch-scraper.json"), "write the results to this file")
	flag.Parse()

	srv := testserver.Start(testserver.Config{Latency: 20 * time.Millisecond})
	defer srv.Close()
	// Pages are read whole but never past 512 KiB: a huge page is an error.
	f, err := fetch.New(fetch.WithConcurrency(8), fetch.WithHostRate(fetch.PerSecond(200), 10),
		fetch.WithMaxBodySize(512<<10))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	var urls []string
	for i := 1; i <= 20; i++ {
		urls = append(urls, fmt.Sprintf("%s/pages/%d", srv.URL, i))
	}
	var pages []page
	for _, r := range f.GetAll(context.Background(), urls) {
		p := page{URL: r.URL}
		if r.Err == nil {
			p.Title, r.Err = htmltitle.Find(bytes.NewReader(r.Body))
		}
		if r.Err != nil {
			p.Error = r.Err.Error()
		}
		pages = append(pages, p)
	}

	data, err := json.MarshalIndent(pages, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("first: %q, last: %q\n", pages[0].Title, pages[len(pages)-1].Title)
	fmt.Printf("wrote %d titles to %s\n", len(pages), *out)
}
