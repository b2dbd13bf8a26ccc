// Command fetch fetches many URLs concurrently, politely and with retries,
// and writes one JSON object per URL, per line.
//
//	fetch [flags] URL...          fetch the URLs given
//	fetch [flags] -i FILE         fetch the URLs in FILE, one per line
//	fetch [flags] < FILE          fetch the URLs on standard input (or -)
//	fetch [flags] -O DIR URL...   and save each body to a file in DIR
//	fetch --demo                  watch it work against a local test server
//
// Any number of processes, on any machines, can share one list in a Redis
// stream:
//
//	fetch --queue redis://HOST:PORT/STREAM --enqueue FILE   add FILE's URLs
//	fetch [flags] --queue redis://HOST:PORT/STREAM          fetch a share of them
//
// Flags may come before or after the URLs. Blank lines and lines starting
// with # are skipped. Exit status: 0 if every URL succeeded, 1 if any
// failed, 2 for a usage error or an input with no URLs, 130 if interrupted
// (SIGINT), 141 if the reader of the records went away, 143 if
// terminated (SIGTERM). See fetch -h.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/urlredact"
	"github.com/c989c033/fetch/redisqueue"
	"github.com/redis/go-redis/v9"
	"golang.org/x/term"
)

func main() {
	redis.SetLogger(quietRedis{})
	// A write to a closed stdout (fetch … | head -1) fails with EPIPE,
	// rather than SIGPIPE killing the process: the run then stops, removes
	// its temporary files and exits 141, as SIGPIPE would have it, with no
	// error line (see fetchAll).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	os.Exit(run(os.Args[1:], stdio{
		in: os.Stdin, out: os.Stdout, err: os.Stderr,
		inTerminal: isTerminal(os.Stdin), outTerminal: isTerminal(os.Stdout), errTerminal: isTerminal(os.Stderr),
	}))
}

// stdio is the command's standard streams, and whether each is a terminal.
type stdio struct {
	in                                   io.Reader
	out, err                             io.Writer
	inTerminal, outTerminal, errTerminal bool
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Exit statuses.
const (
	exitOK          = 0
	exitSomeFailed  = 1
	exitUsage       = 2   // a usage error, or an input with no URL
	exitInterrupted = 130 // 128 + SIGINT
	exitClosedOut   = 141 // 128 + SIGPIPE: the reader of the records went away
	exitTerminated  = 143 // 128 + SIGTERM
)

// interrupted is the exit status for a run that ctx's signal stopped: 130
// for Ctrl-C (SIGINT), 143 for SIGTERM.
func interrupted(ctx context.Context) int {
	if cause := context.Cause(ctx); cause != nil && strings.HasPrefix(cause.Error(), syscall.SIGTERM.String()) {
		return exitTerminated
	}
	return exitInterrupted
}

var errBadInput = errors.New("bad input")

type options struct {
	input, output, outputDir, method string
	sitemap                          string         // --sitemap URL
	queue, group, enqueue            string         // --queue, --group, --enqueue
	visibility                       time.Duration  // --visibility
	redis                            *redis.Options // where --queue is
	stream                           string         // and its stream
	header                           headers
	user                             string     // -u USER:PASSWORD
	cacert, cert, key                string     // --cacert, --cert, --key
	insecure                         bool       // -k
	proxy                            string     // -x URL
	data                             []dataPart // -d and --data-binary, in order
	body                             string     // what data makes
	title, quiet, demo, help         bool
	bodies                           bool       // --body: records carry the response bodies
	headers                          bool       // --headers: records carry the response headers
	timings                          bool       // --timings: records carry the final request's timings
	noClobber                        bool       // --no-clobber: fetch no input whose file is in -O's directory
	resume                           bool       // --continue: finish the partial files in -O's directory
	crawl                            crawlFlags // -r and its flags
	version                          bool
	total                            time.Duration
	start                            time.Time // when the run began, if before fetchAll
	concurrency                      int
	maxBody                          int64
}

func run(argv []string, std stdio) int {
	o, fetcherOpts, urls, err := parseFlags(argv)
	switch {
	case errors.Is(err, errHelp):
		io.WriteString(std.out, usage())
		return exitOK
	case errors.Is(err, errVersion):
		fmt.Fprintln(std.out, "fetch", version())
		return exitOK
	case err != nil:
		complain(std.err, err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Once a signal has stopped the run, a second one kills the process at
	// once, as the signal's default does, whatever the run is waiting on.
	context.AfterFunc(ctx, stop)
	if o.total > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.total)
		defer cancel()
	}

	if o.queue != "" {
		return runQueue(ctx, o, fetcherOpts, std)
	}
	in, err := openInput(ctx, o, urls, std)
	if err != nil {
		complain(std.err, err)
		return exitUsage
	}
	defer in.close()
	if err = o.checkOutput(in.file); err == nil {
		err = o.checkPlaces()
	}
	if err != nil {
		complain(std.err, err)
		return exitUsage
	}
	// -i /dev/stdin reads standard input as - does.
	stdinTaken := in.stdin || sameFile(in.file, std.in)
	if o.body, err = readData(ctx, o.data, std.in, stdinTaken); err != nil {
		complain(std.err, err)
		if ctx.Err() == context.Canceled {
			return interrupted(ctx)
		}
		return exitUsage
	}
	if in.name != "" {
		o.start = time.Now() // the wait is part of the run, for the summary
		// Wait for the first URL: an input that ends with none is an error,
		// as for wget -i, not a run that fetched nothing.
		var empty bool
		var release func()
		in.urls, empty, release = peek(ctx, in.urls)
		defer release()
		if empty {
			complain(std.err, in.noURLs())
			return exitUsage
		}
	}
	o.title = o.title || o.demo
	inputs := func(ctx context.Context, f *fetch.Fetcher) iter.Seq[line] {
		if o.sitemap != "" {
			return sitemapLines(ctx, f, o.sitemap)
		}
		return in.urls
	}
	if o.crawl.on {
		return o.fetchTo(ctx, fetcherOpts, std, -1, func(ctx context.Context, f *fetch.Fetcher, save *saver) iter.Seq[record] {
			return o.crawlRecords(ctx, f, save, inputs(ctx, f))
		})
	}
	return o.fetchTo(ctx, fetcherOpts, std, in.total, func(ctx context.Context, f *fetch.Fetcher, save *saver) iter.Seq[record] {
		if save != nil {
			return save.all(ctx, f, o, inputs(ctx, f))
		}
		return o.records(ctx, f, inputs(ctx, f))
	})
}

// fetchTo makes the saver of -O, the Fetcher and the output, and writes the
// records that recs makes with them, of total if that is known (-1 if not).
// The context recs is given ends with ctx, or once the output fails.
func (o options) fetchTo(ctx context.Context, fetcherOpts []fetch.Option, std stdio, total int64, recs func(context.Context, *fetch.Fetcher, *saver) iter.Seq[record]) int {
	var save *saver
	var err error
	if o.outputDir != "" {
		if save, err = newSaver(o.outputDir); err != nil {
			complain(std.err, err)
			return exitUsage
		}
		defer save.close()
	}
	f, err := fetch.New(fetcherOpts...)
	if err != nil {
		complain(std.err, err)
		return exitUsage
	}
	out, outName := io.Writer(std.out), "standard output"
	var file *os.File
	if o.output != "" {
		if file, err = os.Create(o.output); err != nil {
			complain(std.err, fileError("-o", o.output, err))
			return exitUsage
		}
		out, outName = file, "-o "+o.output
	}
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	code := fetchAll(ctx, f, o, recs(runCtx, f, save), total, out, outName, std, save, stopRun)
	if file != nil {
		if err := file.Close(); err != nil && code != exitInterrupted && code != exitTerminated {
			complain(std.err, fileError("-o", o.output, err))
			code = exitSomeFailed
		}
	}
	if save != nil {
		if err := save.failure(); err != nil {
			complain(std.err, err)
			code = exitSomeFailed
		}
	}
	return code
}

// checkOutput refuses an -o that names the file the URLs are read from,
// input (nil if they are not read from a file): creating the output would
// empty it unread.
func (o options) checkOutput(input os.FileInfo) error {
	if o.output == "" || input == nil {
		return nil
	}
	if fi, err := os.Stat(o.output); err == nil && os.SameFile(fi, input) {
		return fmt.Errorf("-o %s: is the file the URLs are read from", o.output)
	}
	return nil
}

// checkPlaces refuses, before any URL is waited for, an -o or -O that
// cannot be written to for a reason that is there already: -o in a
// directory that does not exist, or naming a directory; -O naming a file
// that is not a directory, or under one. Nothing is created: an input
// with no URL leaves them as they were.
func (o options) checkPlaces() error {
	if o.output != "" {
		if fi, err := os.Stat(o.output); err == nil && fi.IsDir() {
			return fmt.Errorf("-o %s: is a directory", o.output)
		} else if dir := filepath.Dir(o.output); err != nil {
			if fi, err := os.Stat(dir); err != nil {
				return fileError("-o", o.output, err)
			} else if !fi.IsDir() {
				return fmt.Errorf("-o %s: %s is not a directory", o.output, dir)
			}
		}
	}
	if o.outputDir != "" {
		for dir := filepath.Clean(o.outputDir); ; dir = filepath.Dir(dir) {
			if fi, err := os.Stat(dir); err == nil {
				if !fi.IsDir() && dir == filepath.Clean(o.outputDir) {
					return fmt.Errorf("-O %s: is not a directory", o.outputDir)
				} else if !fi.IsDir() {
					return fmt.Errorf("-O %s: %s is not a directory", o.outputDir, dir)
				}
				break // the rest is made by mkdir -p
			}
			if parent := filepath.Dir(dir); parent == dir {
				break
			}
		}
	}
	return nil
}

// complain prints err as one line, prefixed with the command's name once.
func complain(stderr io.Writer, err error) {
	msg := err.Error()
	if !strings.HasPrefix(msg, "fetch: ") {
		msg = "fetch: " + msg
	}
	fmt.Fprintln(stderr, msg)
}

// showProgress reports whether the progress bar is shown: when stderr is a
// terminal, unless -q, or the records go to stdout and it is a terminal
// too, as curl hides its meter when the data goes to the screen: the bar
// would share it with the records.
func (o options) showProgress(std stdio) bool {
	return std.errTerminal && !o.quiet && !(std.outTerminal && o.output == "")
}

// fetchAll writes each record as it comes to out, which is outName, of
// total if that is known (-1 if not), and a summary at the end. If a record
// cannot be written, it says so and stops: the records would be lost; a
// write that fails in the background (a flush) calls stopRun, which must
// end the context recs was made with. save is -O's saver, or nil.
//
// A write that fails with EPIPE, out being a pipe whose reader has gone
// (fetch … | head -1), stops the run too, but with no error line (the
// summary is still printed), and the status is exitClosedOut, as for a
// filter that SIGPIPE kills: the reader chose to read no more.
func fetchAll(ctx context.Context, f *fetch.Fetcher, o options, recs iter.Seq[record], total int64, out io.Writer, outName string, std stdio, save *saver, stopRun context.CancelCauseFunc) int {
	w := newOutput(out, o.queue != "", stopRun)
	bar := newProgress(std.err, o.showProgress(std), total)
	t := tally{noClobber: o.noClobber, resume: o.resume, crawl: o.crawl.on}
	start := o.start
	if start.IsZero() {
		start = time.Now()
	}
	finished := make(chan struct{})
	defer close(finished)
	go w.flushOnInterrupt(ctx, finished, save, func(done, unsent int64) {
		complain(std.err, o.cutShort(ctx, done, unsent, total))
	})
	var werr, fatal error
	for rec := range recs {
		if rec.fatal != nil {
			fatal = rec.fatal
			continue
		}
		if werr = w.write(rec); werr != nil {
			break
		}
		t.add(rec)
		bar.add(rec.Error != "", t.failed)
	}
	bar.finish()
	if werr == nil {
		werr = w.flush()
	}
	f.Shutdown(context.Background())
	closed := errors.Is(werr, syscall.EPIPE)
	if werr != nil && !closed {
		complain(std.err, fmt.Errorf("writing the records to %s: %w", outName, werr))
	}
	if fatal != nil {
		complain(std.err, fatal)
	}
	// A --queue stream that does not exist is an input with no URL, as an
	// empty -i FILE is: an error, not a run that fetched nothing.
	noInput := errors.Is(fatal, redisqueue.ErrNoStream)
	if !o.quiet && !noInput {
		t.print(std.err, time.Since(start))
	}
	if ctx.Err() != nil {
		// Input is read only while the run lasts: say what it left, even
		// with -q, as the exit status may be lost in a pipeline.
		done, unsent := w.counts()
		complain(std.err, o.cutShort(ctx, done, unsent, total))
	}
	switch {
	case noInput && ctx.Err() == nil:
		return exitUsage
	case closed && fatal == nil && ctx.Err() != context.Canceled:
		return exitClosedOut
	case (werr != nil || fatal != nil) && ctx.Err() != context.Canceled:
		return exitSomeFailed
	case ctx.Err() == context.Canceled:
		return interrupted(ctx)
	case t.failed > 0 || ctx.Err() != nil:
		return exitSomeFailed
	}
	return exitOK
}

// cutShort is the error of a run that ctx ended, --total's deadline or a
// signal, after done results of total (-1 if not known), unsent of them
// for inputs never sent: why it ended, and what it left, so that a rerun
// knows the list was not done. The URLs not tried are those never read
// and those read but never sent, whose records say "attempts": 0.
func (o options) cutShort(ctx context.Context, done, unsent, total int64) error {
	why := "interrupted"
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		why = fmt.Sprintf("--total %v reached", o.total)
	case interrupted(ctx) == exitTerminated:
		why = "terminated"
	}
	msg := fmt.Sprintf("%s after %d results", why, done)
	switch {
	case o.queue != "":
		msg += ": the entries not fetched stay in the queue"
	case o.crawl.on && unsent > 0:
		msg += fmt.Sprintf(", %d of them not tried: the rest of the crawl was not fetched", unsent)
	case o.crawl.on:
		msg += ": the rest of the crawl was not fetched"
	case total >= 0:
		msg += fmt.Sprintf(": %d of the %d URLs not tried", max(total-done, 0)+unsent, total)
	case unsent > 0:
		msg += fmt.Sprintf(", %d of them not tried: the rest of the input was not read", unsent)
	default:
		msg += ": the rest of the input was not read"
	}
	return errors.New(msg)
}

// records fetches every input with [fetch.StreamFunc], whose bodies are
// read in full, and yields a record per input as each completes.
func (o options) records(ctx context.Context, f *fetch.Fetcher, in iter.Seq[line]) iter.Seq[record] {
	return func(yield func(record) bool) {
		// Each record names its input as given (a Result names the URL
		// as parsed), and with --timings has its clock: kept from when it
		// is read until its result comes.
		var mu sync.Mutex
		given := make(map[int]line)
		numbered := func(yield func(line) bool) {
			n := 0
			for l := range in {
				if o.timings {
					l.clock = new(clock)
				}
				mu.Lock()
				given[n] = l
				mu.Unlock()
				n++
				if !yield(l) {
					return
				}
			}
		}
		for r := range fetch.StreamFunc(ctx, f, numbered, o.newRequest) {
			mu.Lock()
			l, ok := given[r.Index]
			delete(given, r.Index)
			mu.Unlock()
			rec := o.record(r)
			if ok && l.url != "" {
				rec.URL = asGiven(l.url)
			}
			rec.Timings = l.clock.times()
			if !yield(rec) {
				return
			}
		}
	}
}

// asGiven is an input URL as a record names it: as given, so that records
// can be joined back to the input, but with any password hidden, that of
// a URL given without a scheme (user:password@host) included, and that of
// a URL whose password a "/", "?" or "#" cut short (see
// [urlredact.CutShort]), even if the rest parses.
func asGiven(s string) string {
	target := withScheme(s)
	if u, err := url.Parse(target); err == nil && !urlredact.CutShort(target) {
		if _, secret := u.User.Password(); !secret {
			return s
		}
	}
	if target == s {
		return urlredact.String(s)
	}
	return strings.TrimPrefix(urlredact.String(target), "http://")
}

// newRequest builds the request for one input line, with the -H headers,
// the body if -d or --data-binary gave one, and the line's clock, if it has
// one, to time each request of its call. A URL without a scheme is
// fetched over http (see [withScheme]); one that cannot be fetched is
// refused with a [badLine] error.
func (o options) newRequest(ctx context.Context, l line) (*http.Request, error) {
	if sf, ok := l.err.(*sitemapFailure); ok {
		return nil, sf
	}
	if l.err != nil {
		return nil, fmt.Errorf("%w: %w", errBadInput, l.err)
	}
	target := withScheme(l.url)
	if err := checkURL(l, target); err != nil {
		return nil, err
	}
	var body io.Reader
	if len(o.data) > 0 {
		body = strings.NewReader(o.body) // NewRequest sets GetBody: replayable
	}
	if l.clock != nil {
		ctx = l.clock.context(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, o.method, target, body)
	if err != nil {
		return nil, parseError(l, err)
	}
	if _, set := o.header["Content-Type"]; len(o.data) > 0 && !set {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // as curl does
	}
	return req, nil
}

// output writes records as JSON lines, buffered, and flushed within
// flushEvery of a record's write, so that a reader sees each result soon
// after it comes, even while the next one is long in coming. It is safe
// for concurrent use, so that an interrupt can flush what was written
// while the stream winds down.
//
// An eager output flushes every record as it is written, so that with
// --queue a record is written before its entry is acknowledged.
type output struct {
	mu      sync.Mutex
	w       *bufio.Writer
	enc     *json.Encoder // to w, without escaping & < > (a URL's query stays greppable)
	eager   bool
	pending *time.Timer // flushes what was written since the last flush
	written int64       // records written
	unsent  int64       // of them, records of inputs never sent (see record.unsent)
	err     error       // a flush's failure, for the next write to return
	failed  func(error) // called with that failure: the run is to stop
}

const flushEvery = 100 * time.Millisecond

// newOutput returns the output to w, which calls failed when a flush fails
// between writes, so that the run stops then, not at the next record.
func newOutput(w io.Writer, eager bool, failed func(error)) *output {
	o := &output{w: bufio.NewWriter(w), eager: eager, failed: failed}
	o.enc = json.NewEncoder(o.w)
	o.enc.SetEscapeHTML(false)
	return o
}

// write writes r, and returns the error of a write that failed, this one's
// or an earlier one's.
func (o *output) write(r record) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	if err := o.enc.Encode(r); err != nil {
		return err
	}
	o.written++
	if r.unsent() {
		o.unsent++
	}
	if o.eager {
		return o.w.Flush()
	}
	if o.pending == nil {
		o.pending = time.AfterFunc(flushEvery, o.flushPending)
	}
	return nil
}

// flushPending flushes what was written since the last flush.
func (o *output) flushPending() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pending = nil
	if err := o.w.Flush(); err != nil && o.err == nil {
		o.err = err
		o.failed(err)
	}
}

// counts returns how many records were written, and how many of them are
// of inputs never sent.
func (o *output) counts() (written, unsent int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.written, o.unsent
}

func (o *output) flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pending != nil {
		o.pending.Stop()
		o.pending = nil
	}
	if err := o.w.Flush(); err != nil {
		return err
	}
	return o.err
}

// flushOnInterrupt gives the stream a moment to wind down after ctx ends,
// then, if it has not finished, removes save's temporary files (save may
// be nil), flushes what was written, tells left how many records that
// was, and how many of them are of inputs never sent, for it to say what
// the run left, and exits.
func (o *output) flushOnInterrupt(ctx context.Context, finished <-chan struct{}, save *saver, left func(done, unsent int64)) {
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
	save.abandon()
	o.flush()
	left(o.counts())
	if ctx.Err() == context.Canceled {
		os.Exit(interrupted(ctx))
	}
	os.Exit(exitSomeFailed)
}
