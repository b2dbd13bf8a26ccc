// Command fetch fetches many URLs concurrently, politely and with retries,
// and writes one JSON object per URL, per line.
//
//	fetch [flags] URL...          fetch the URLs given
//	fetch [flags] -i FILE         fetch the URLs in FILE, one per line
//	cat urls | fetch [flags] -    fetch the URLs on standard input
//	fetch -demo                   watch it work against a local test server
//
// Blank lines and lines starting with # are skipped. Exit status: 0 if every
// URL succeeded, 1 if any failed, 2 for a usage error, 130 if interrupted.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/c989c033/fetch"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// Exit statuses.
const (
	exitOK          = 0
	exitSomeFailed  = 1
	exitUsage       = 2
	exitInterrupted = 130
)

var errBadInput = errors.New("bad input")

// headers collects repeated -H flags.
type headers http.Header

func (h headers) String() string { return "" }
func (h headers) Set(v string) error {
	k, val, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("header %q: want \"Name: value\"", v)
	}
	http.Header(h).Add(strings.TrimSpace(k), strings.TrimSpace(val))
	return nil
}

type options struct {
	input, output, method, body string
	header                      headers
	title, quiet, demo          bool
	total                       time.Duration
}

func run(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, fetcherOpts, urls, err := parseFlags(argv, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			complain(stderr, err)
		}
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.total > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.total)
		defer cancel()
	}

	var in iter.Seq[line]
	total := int64(-1) // unknown
	switch {
	case o.demo:
		srv, demoURLs := startDemo()
		defer srv.Close()
		in, total = args(demoURLs), int64(len(demoURLs))
		o.title = true
	case o.input != "" || (len(urls) == 1 && urls[0] == "-"):
		r, name := stdin, "standard input"
		if o.input != "" && o.input != "-" {
			file, err := os.Open(o.input)
			if err != nil {
				complain(stderr, err)
				return exitUsage
			}
			defer file.Close()
			r, name = file, o.input
		}
		in = lines(ctx, r, name)
	case len(urls) > 0:
		in, total = args(urls), int64(len(urls))
	default:
		fmt.Fprintln(stderr, "fetch: no URLs: give them as arguments, with -i FILE, or - for standard input (see -h)")
		return exitUsage
	}

	f, err := fetch.New(fetcherOpts...)
	if err != nil {
		complain(stderr, err)
		return exitUsage
	}
	out := stdout
	if o.output != "" {
		file, err := os.Create(o.output)
		if err != nil {
			complain(stderr, err)
			return exitUsage
		}
		defer file.Close()
		out = file
	}
	return fetchAll(ctx, f, o, in, total, out, stderr)
}

// complain prints err as one line, prefixed with the command's name once.
func complain(stderr io.Writer, err error) {
	msg := err.Error()
	if !strings.HasPrefix(msg, "fetch: ") {
		msg = "fetch: " + msg
	}
	fmt.Fprintln(stderr, msg)
}

// fetchAll streams the input through f, writing a record per input as it
// completes, and a summary at the end.
func fetchAll(ctx context.Context, f *fetch.Fetcher, o options, in iter.Seq[line], total int64, out, stderr io.Writer) int {
	w := &output{w: bufio.NewWriter(out)}
	bar := newProgress(stderr, total, o.quiet)
	var t tally
	start := time.Now()
	finished := make(chan struct{})
	defer close(finished)
	go w.flushOnInterrupt(ctx, finished)
	for r := range fetch.StreamFunc(ctx, f, in, o.newRequest) {
		rec := o.record(r)
		w.write(rec)
		t.add(rec)
		bar.add(rec.Error != "", t.failed)
	}
	bar.finish()
	w.flush()
	f.Shutdown(context.Background())
	if !o.quiet {
		t.print(stderr, time.Since(start))
	}
	switch {
	case ctx.Err() == context.Canceled:
		return exitInterrupted
	case t.failed > 0 || ctx.Err() != nil:
		return exitSomeFailed
	}
	return exitOK
}

// newRequest builds the request for one input line.
func (o options) newRequest(ctx context.Context, l line) (*http.Request, error) {
	if l.err != nil {
		return nil, fmt.Errorf("%w: %w", errBadInput, l.err)
	}
	var body io.Reader
	if o.body != "" {
		body = strings.NewReader(o.body) // NewRequest sets GetBody: replayable
	}
	req, err := http.NewRequestWithContext(ctx, o.method, l.url, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", fetch.ErrInvalidURL, err)
	}
	for k, v := range o.header {
		req.Header[k] = v
	}
	return req, nil
}

// output writes records as JSON lines, buffered but flushed at least every
// flushEvery, so that a reader sees results as they come. It is safe for
// concurrent use, so that an interrupt can flush what was written while the
// stream winds down.
type output struct {
	mu        sync.Mutex
	w         *bufio.Writer
	lastFlush time.Time
}

const flushEvery = 100 * time.Millisecond

func (o *output) write(r record) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b, _ := json.Marshal(r)
	o.w.Write(append(b, '\n'))
	if now := time.Now(); now.Sub(o.lastFlush) >= flushEvery {
		o.w.Flush()
		o.lastFlush = now
	}
}

func (o *output) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.w.Flush()
}

// flushOnInterrupt gives the stream a moment to wind down after ctx ends,
// then, if it has not finished, flushes what was written and exits: the
// input may be a terminal or a pipe whose read cannot be interrupted.
func (o *output) flushOnInterrupt(ctx context.Context, finished <-chan struct{}) {
	select {
	case <-finished:
		return
	case <-ctx.Done():
	}
	select {
	case <-finished:
		return
	case <-time.After(3 * time.Second):
	}
	o.flush()
	if ctx.Err() == context.Canceled {
		os.Exit(exitInterrupted)
	}
	os.Exit(exitSomeFailed)
}
