package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/c989c033/fetch"
)

// parseFlags reads the command line into options for the command and for
// the Fetcher, and the URLs given as arguments.
func parseFlags(argv []string, stderr io.Writer) (options, []fetch.Option, []string, error) {
	o := options{header: headers{}}
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	var (
		conc      = fs.Int("c", 32, "most requests in flight")
		hostConc  = fs.Int("host-c", 0, "most requests in flight to one host (0: no cap)")
		rps       = fs.Float64("rate", 0, "most requests per second (0: no limit)")
		hostRPS   = fs.Float64("host-rate", 0, "most requests per second to one host (0: no limit)")
		burst     = fs.Int("burst", 1, "burst allowed by -rate and -host-rate")
		retries   = fs.Int("retries", 3, "retries after the first attempt")
		timeout   = fs.Duration("timeout", 30*time.Second, "time limit for each attempt")
		maxBody   = fs.Int64("max-body", fetch.DefaultMaxBodySize, "largest body read, in bytes")
		redirects = fs.Int("max-redirects", fetch.DefaultMaxRedirects, "most redirects followed")
	)
	fs.StringVar(&o.input, "i", "", "read URLs from `FILE`, one per line (- for standard input)")
	fs.StringVar(&o.output, "o", "", "write results to `FILE` instead of standard output")
	fs.StringVar(&o.method, "X", http.MethodGet, "request method")
	fs.StringVar(&o.body, "d", "", "request body")
	fs.Var(o.header, "H", "request header `\"Name: value\"` (repeatable)")
	fs.DurationVar(&o.total, "total", 0, "time limit for the whole run (0: none)")
	fs.BoolVar(&o.title, "title", false, "report the <title> of HTML pages")
	fs.BoolVar(&o.quiet, "q", false, "no progress bar or summary")
	fs.BoolVar(&o.demo, "demo", false, "fetch a few thousand URLs from a local test server")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: fetch [flags] URL... | -i FILE | -\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(argv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			stderr.Write(usage.Bytes())
			return o, nil, nil, err
		}
		return o, nil, nil, errors.New(firstLine(usage.String()))
	}
	if o.demo && !isSet(fs, "retries") {
		*retries = demoRetries
	}
	switch {
	case *retries < 0:
		return o, nil, nil, fmt.Errorf("-retries %d: must not be negative", *retries)
	case *rps < 0 || *hostRPS < 0:
		return o, nil, nil, errors.New("-rate and -host-rate must not be negative")
	case o.total < 0:
		return o, nil, nil, fmt.Errorf("-total %v: must not be negative", o.total)
	}
	opts := []fetch.Option{
		fetch.WithConcurrency(*conc),
		fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: *retries + 1}),
		fetch.WithAttemptTimeout(*timeout),
		fetch.WithMaxBodySize(*maxBody),
		fetch.WithMaxRedirects(*redirects),
	}
	if *hostConc != 0 {
		opts = append(opts, fetch.WithHostConcurrency(*hostConc))
	}
	if *rps > 0 {
		opts = append(opts, fetch.WithRate(fetch.PerSecond(*rps), *burst))
	}
	if *hostRPS > 0 {
		opts = append(opts, fetch.WithHostRate(fetch.PerSecond(*hostRPS), *burst))
	}
	urls := fs.Args()
	stdin := slices.Contains(urls, "-")
	switch {
	case (o.input != "" || o.demo) && len(urls) > 0:
		return o, nil, nil, fmt.Errorf("URLs given both as arguments (%d) and with -i or -demo: use one", len(urls))
	case stdin && len(urls) > 1:
		return o, nil, nil, errors.New("- (standard input) cannot be mixed with URL arguments")
	}
	return o, opts, urls, nil
}

// isSet reports whether the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
