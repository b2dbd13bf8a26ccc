package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/redisqueue"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"
)

// pingTimeout bounds how long a run with --queue waits for Redis to answer
// at the start: an address that does not answer is reported, not waited
// on (a Redis that answers it is loading its data is waited for). Once the run has begun, Redis going away is waited out (see
// [redisqueue.Queue.Run]).
const pingTimeout = 5 * time.Second

// quietRedis is the logger of the Redis client, which logs nothing: the
// queue reports Redis going away and coming back itself (see openQueue).
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// checkQueue checks --queue's address, into o.redis and o.stream, and the
// flags that go with it or cannot.
func (o *options) checkQueue(fs *pflag.FlagSet, urls []string) error {
	if o.queue == "" {
		switch {
		case fs.Changed("group"):
			return errors.New("--group: only with --queue redis://HOST:PORT/STREAM")
		case fs.Changed("visibility"):
			return errors.New("--visibility: only with --queue redis://HOST:PORT/STREAM")
		case o.enqueue != "":
			return errors.New("--enqueue: only with --queue redis://HOST:PORT/STREAM, the stream to add to")
		}
		return nil
	}
	var err error
	if o.redis, o.stream, err = redisqueue.ParseURL(o.queue); err != nil {
		return fmt.Errorf("--queue: %w", err)
	}
	switch {
	case o.group == "":
		return errors.New("--group: must not be empty")
	case o.visibility < 100*time.Millisecond:
		return fmt.Errorf("--visibility %v: must be at least 100ms", o.visibility)
	case len(urls) > 0:
		return fmt.Errorf("--queue reads the URLs from the stream, not from arguments (%d): add them with --enqueue FILE", len(urls))
	case o.input != "":
		return errors.New("-i and --queue: with --queue the URLs come from the stream: add them with --enqueue FILE")
	case o.demo:
		return errors.New("--demo and --queue: use one")
	case o.method != http.MethodGet || len(o.data) > 0:
		return errors.New("-X, -d and --queue: --queue fetches with GET, without a body")
	case o.resume:
		return errors.New("--continue and --queue: --queue names files in the order bodies come, not by input order: use one")
	case o.noClobber:
		// --queue names each file once its body is in, in the order bodies
		// come, on each worker: which file is whose is known only then.
		return errors.New("--no-clobber and --queue: --queue names files in the order bodies come, not by input order: use one")
	}
	if o.enqueue != "" {
		return checkEnqueue(fs)
	}
	return nil
}

// enqueueFlags are the flags --enqueue takes: the queue's, and -q and
// --total. --visibility, a worker's, is taken too, so that workers and
// --enqueue can share a command line's queue flags.
var enqueueFlags = []string{"queue", "enqueue", "group", "visibility", "quiet", "total"}

// checkEnqueue refuses, with --enqueue, a flag that only a worker uses: it
// would be ignored, and the command look as if it had fetched the list.
func checkEnqueue(fs *pflag.FlagSet) error {
	var err error
	fs.Visit(func(f *pflag.Flag) {
		if err == nil && !slices.Contains(enqueueFlags, f.Name) {
			name := "--" + f.Name
			if f.Shorthand != "" {
				name = "-" + f.Shorthand + "/" + name
			}
			err = fmt.Errorf("--enqueue and %s: --enqueue only adds URLs to the stream, and exits: give %s to the workers, run without --enqueue", name, name)
		}
	})
	return err
}

// runQueue serves --queue: with --enqueue it adds a file's URLs to the
// stream; without, it fetches URLs from the stream as one worker of the
// group until none is left, writing a record for each.
func runQueue(ctx context.Context, o options, fetcherOpts []fetch.Option, std stdio) int {
	var list io.Reader
	if o.enqueue == "-" {
		list = std.in
	} else if o.enqueue != "" {
		file, err := os.Open(o.enqueue)
		if err != nil {
			complain(std.err, fmt.Errorf("--enqueue: %w", err))
			return exitUsage
		}
		defer file.Close()
		list = file
	}
	q, closeQueue, err := o.openQueue(ctx, std.err)
	if err != nil {
		complain(std.err, err)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) { // --total while connecting
			complain(std.err, o.cutShort(ctx, 0, 0, -1))
			return exitSomeFailed
		}
		if ctx.Err() != nil {
			return interrupted(ctx) // a signal while connecting, not a usage error
		}
		return exitUsage
	}
	defer closeQueue()
	if list != nil {
		return o.add(ctx, q, list, std)
	}
	return o.fetchTo(ctx, fetcherOpts, std, -1, func(ctx context.Context, f *fetch.Fetcher, save *saver) iter.Seq[record] {
		return o.queueRecords(ctx, q, f, save)
	})
}

// openQueue connects to --queue's Redis, checking that it answers, and
// returns the queue and the function that closes the connection. The queue
// reports Redis going away mid-run, and coming back, on stderr.
func (o options) openQueue(ctx context.Context, stderr io.Writer) (*redisqueue.Queue, func(), error) {
	rdb := redis.NewClient(o.redis)
	if err := pingReady(ctx, rdb, func(err error) {
		fmt.Fprintf(stderr, "fetch: --queue %s: %v; waiting until it is ready\n", redact(o.queue), err)
	}); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("--queue %s: %w", redact(o.queue), err)
	}
	// The default FlushTimeout, 1 s, ends a worker's stop well within the
	// time an interrupted run is given (see flushOnInterrupt). A worker
	// holds twice as many entries as it sends at once, not the library's
	// 256, so that workers share a short list too.
	q, err := redisqueue.New(rdb, o.stream, o.group, redisqueue.Logger(slog.New(slog.NewTextHandler(stderr, nil))),
		redisqueue.Visibility(o.visibility), redisqueue.MaxHeld(2*o.concurrency))
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	return q, func() { rdb.Close() }, nil
}

// loadingPoll is how often openQueue asks a Redis loading its data whether
// it is ready.
const loadingPoll = 250 * time.Millisecond

// pingReady checks that rdb answers within pingTimeout. A Redis that
// answers LOADING (loading its data after a restart) has answered: it is
// asked again until it is ready or ctx ends, as the queue's workers wait
// it out once running; waiting is told once, with the reply.
func pingReady(ctx context.Context, rdb *redis.Client, waiting func(error)) error {
	told := false
	for {
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		err := rdb.Ping(pctx).Err()
		cancel()
		if err == nil || !strings.HasPrefix(err.Error(), "LOADING ") {
			return err
		}
		if !told {
			waiting(err)
			told = true
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(loadingPoll):
		}
	}
}

// add queues the URLs in list, one a line, and says how many were new:
// the stream takes each URL once, however often it is added. Blank lines
// and comments are skipped, as -i skips them. A URL without a scheme is
// queued with http:// before it (see [withScheme]). A line that is not a
// URL a worker could fetch (see [checkURL]), or is too long, is not queued
// but reported at once, naming the file and the line (urls.txt:3: …), and
// the rest is queued; the exit status is then 1, as for a run of -i FILE
// with such a line. A list without a URL to queue adds nothing, and does
// not make the stream; with no bad line either, it is a usage error (exit
// status 2, "no URLs in FILE"), as for -i. A signal ends it even while it
// waits for a line of standard input.
func (o options) add(ctx context.Context, q *redisqueue.Queue, list io.Reader, std stdio) int {
	name := o.enqueue
	if name == "-" {
		name = "standard input"
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		select {
		case <-done: // add returned: it said what it added
		case <-time.After(time.Second): // blocked reading the list
			complain(std.err, fmt.Errorf("--enqueue: interrupted while reading %s", name))
			os.Exit(interrupted(ctx))
		}
	}()
	read, bad := 0, 0
	urls := func(yield func(string) bool) {
		for l := range lines(ctx, list, name) {
			u := withScheme(l.url) // queued as it is to be fetched
			err := l.err
			if err == nil {
				err = notQueued(name, l, checkURL(l, u))
			}
			if err != nil {
				bad++
				complain(std.err, fmt.Errorf("--enqueue: %w", err))
				continue
			}
			read++
			if !yield(u) {
				return
			}
		}
	}
	// The first URL is read before Add, which makes the stream: a list
	// with none makes nothing, so that a worker finds the stream missing,
	// as for a mistyped name, rather than an empty one.
	next, stop := iter.Pull(urls)
	defer stop()
	first, some := next()
	var added int
	var err error
	switch {
	case some:
		added, err = q.Add(ctx, func(yield func(string) bool) {
			for u, ok := first, true; ok && yield(u); u, ok = next() {
			}
		})
	case ctx.Err() == nil && bad == 0:
		complain(std.err, fmt.Errorf("--enqueue: %w", input{stdin: o.enqueue == "-", name: o.enqueue}.noURLs()))
		return exitUsage
	}
	if err == nil {
		err = ctx.Err() // a signal that ended the list before Add saw a URL
	}
	switch {
	case errors.Is(err, context.Canceled):
		complain(std.err, fmt.Errorf("--enqueue: interrupted after adding %d URLs to %s", added, o.stream))
		return interrupted(ctx)
	case err != nil:
		complain(std.err, fmt.Errorf("--enqueue: %w (after adding %d URLs)", err, added))
		return exitSomeFailed
	}
	if !o.quiet {
		skipped := ""
		switch {
		case bad == 1:
			skipped = "; 1 line not queued (above)"
		case bad > 1:
			skipped = fmt.Sprintf("; %d lines not queued (above)", bad)
		}
		fmt.Fprintf(std.err, "added %d of %d URLs to %s (%d seen before)%s\n", added, read, o.stream, read-added, skipped)
	}
	if bad > 0 {
		return exitSomeFailed
	}
	return exitOK
}

// notQueued returns err, checkURL's error for line l of the list name (nil
// if none), as --enqueue reports it: after name and the line's number, as
// a compiler names a place: urls.txt:3: "ftp://x": invalid URL: scheme
// must be http or https. It matches [fetch.ErrInvalidURL].
func notQueued(name string, l line, err error) error {
	bl, ok := errors.AsType[*badLine](err)
	if !ok {
		return err
	}
	at := *bl
	at.n = 0 // named before it, with the file
	return fmt.Errorf("%s:%d: %w", name, l.n, &at)
}

// queueRecords fetches URLs from the stream as one worker of the group
// until none is left anywhere (see [redisqueue.Queue.Run]), and yields a
// record per entry. An entry is acknowledged once the loop body has
// returned for its record, so a record is written before its entry is
// acknowledged, and an entry whose record was not written is fetched again.
// With -O, a 2xx body, read in full, is saved once fetched.
func (o options) queueRecords(ctx context.Context, q *redisqueue.Queue, f *fetch.Fetcher, save *saver) iter.Seq[record] {
	return func(yield func(record) bool) {
		for r := range q.Run(ctx, f) {
			if r.ID == "" && r.Err != nil {
				// Not an entry's result: Redis refuses the queue for good,
				// or the stream does not exist (a mistyped name?).
				yield(record{fatal: o.queueError(r.Err)})
				return
			}
			rec := o.record(r.Result)
			rec.ID, rec.Reclaimed = r.ID, r.Reclaimed
			if save != nil && r.Err == nil && !save.keep(r.Result, &rec) && save.failure() != nil {
				// The directory is full: stop with the entry unacknowledged,
				// for a worker with room to fetch again.
				return
			}
			if !yield(rec) {
				return
			}
		}
	}
}

// queueError is err, the error that ended a worker's run, as the command
// says it: a stream that does not exist with the --queue address, any
// password hidden, and how a stream is filled.
func (o options) queueError(err error) error {
	if errors.Is(err, redisqueue.ErrNoStream) {
		return fmt.Errorf("--queue %s: %w (add URLs to it with --enqueue FILE)", redact(o.queue), err)
	}
	return err
}
