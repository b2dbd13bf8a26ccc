package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/urlredact"
)

// input is where the URLs come from.
type input struct {
	urls  iter.Seq[line]
	total int64       // how many lines urls yields, or -1 if not known
	stdin bool        // whether urls reads standard input
	file  os.FileInfo // the file urls reads, if it reads one
	name  string      // what urls reads, for a message that it holds no URL ("" for arguments)
	close func()
}

// noURLs is the error for an input that holds no URL: only blank lines and
// comments, or nothing at all.
func (in input) noURLs() error {
	if in.stdin {
		return errors.New("no URLs on standard input")
	}
	return fmt.Errorf("no URLs in %s", in.name)
}

// openInput opens the URLs' source: the demo's server, the arguments, the
// file named by -i, or standard input (for - or -i -, or for no URL
// arguments with standard input not a terminal). The total is counted
// first for a regular file if the progress bar will show it.
func openInput(ctx context.Context, o options, urls []string, std stdio) (input, error) {
	counted := o.showProgress(std)
	switch {
	case o.sitemap != "":
		// Read by sitemapLines, through the Fetcher, once there is one.
		return input{total: -1, close: func() {}}, nil
	case o.demo:
		srv, demoURLs := startDemo()
		return input{urls: args(demoURLs), total: int64(len(demoURLs)), close: srv.Close}, nil
	case o.input != "" && o.input != "-":
		file, err := os.Open(o.input)
		if err != nil && errors.Is(err, fs.ErrNotExist) && strings.Contains(o.input, "://") {
			// wget -i takes a URL to read the list from; fetch's takes a file.
			return input{}, fmt.Errorf("-i %s: takes a file of URLs, not a URL (give URLs as arguments)", o.input)
		}
		if err != nil {
			return input{}, fileError("-i", o.input, err)
		}
		fi, err := file.Stat()
		if err == nil && fi.IsDir() {
			err = errors.New("is a directory")
		}
		if err != nil {
			file.Close()
			return input{}, fileError("-i", o.input, err)
		}
		in, err := fromReader(ctx, file, o.input, counted, func() { file.Close() })
		in.file = fi
		return in, err
	case o.input == "-" || slices.Equal(urls, []string{"-"}) || len(urls) == 0 && !std.inTerminal:
		in, err := fromReader(ctx, std.in, "standard input", counted, func() {})
		in.stdin = true
		if f, ok := std.in.(*os.File); ok && err == nil {
			in.file, _ = f.Stat()
		}
		return in, err
	case len(urls) > 0:
		return input{urls: args(urls), total: int64(len(urls)), close: func() {}}, nil
	}
	return input{}, errors.New("no URLs: give them as arguments, with -i FILE, or on standard input (see -h)")
}

// fileError returns err, an error opening, reading or writing the file
// name, as one naming flag and name once.
func fileError(flag, name string, err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		err = pe.Err
	}
	return fmt.Errorf("%s %s: %w", flag, name, err)
}

// fromReader reads URLs from r, a line each, counting them first if
// counted and r is a regular file.
func fromReader(ctx context.Context, r io.Reader, name string, counted bool, closer func()) (input, error) {
	in := input{urls: lines(ctx, r, name), total: -1, name: name, close: closer}
	f, ok := r.(*os.File)
	if !counted || !ok {
		return in, nil
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return in, nil
	}
	start, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return in, nil
	}
	in.total = 0
	// On this goroutine, not lines': the file is rewound once it is read.
	scan(f, name, func(line) bool {
		in.total++
		return ctx.Err() == nil
	}, func() {})
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		closer()
		return input{}, fmt.Errorf("rewinding %s after counting its lines: %w", name, err)
	}
	return in, nil
}

// readData makes the request body from the -d and --data-binary values as
// curl does: each value as given, or for @FILE the file's content (without
// carriage returns, newlines and NUL bytes for -d), or for @- standard
// input's, unless
// standard input carries the URLs (as @- or as a FILE that is standard
// input, such as /dev/stdin); joined with &.
func readData(ctx context.Context, parts []dataPart, stdin io.Reader, stdinTaken bool) (string, error) {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('&')
		}
		name, ok := strings.CutPrefix(p.value, "@")
		if !ok {
			b.WriteString(p.value)
			continue
		}
		flag := "-d/--data"
		if p.binary {
			flag = "--data-binary"
		}
		var data []byte
		var err error
		switch {
		case stdinTaken && (name == "-" || isStdin(name, stdin)):
			return "", fmt.Errorf("%s @%s: standard input carries the URLs: give them as arguments or with -i FILE", flag, name)
		case name == "-":
			data, err = readAll(ctx, stdin)
		default:
			data, err = os.ReadFile(name)
		}
		if err != nil {
			return "", fmt.Errorf("%s @%s: %w", flag, name, err)
		}
		if !p.binary {
			data = slices.DeleteFunc(data, func(c byte) bool { return c == '\r' || c == '\n' || c == 0 })
		}
		b.Write(data)
	}
	return b.String(), nil
}

// isStdin reports whether the file name is stdin, the command's standard
// input, under another name: /dev/stdin, /dev/fd/0, or the file or pipe
// standard input comes from.
func isStdin(name string, stdin io.Reader) bool {
	fi, err := os.Stat(name)
	return err == nil && sameFile(fi, stdin)
}

// sameFile reports whether fi is the file r reads, if r is one.
func sameFile(fi os.FileInfo, r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok || fi == nil {
		return false
	}
	rfi, err := f.Stat()
	return err == nil && os.SameFile(fi, rfi)
}

// readAll reads r to its end, or until ctx is done: Ctrl-C ends a wait for
// standard input, which may be a terminal. On ctx done the read is left
// to end with the process.
func readAll(ctx context.Context, r io.Reader) ([]byte, error) {
	type read struct {
		data []byte
		err  error
	}
	done := make(chan read, 1)
	go func() {
		data, err := io.ReadAll(r)
		done <- read{data, err}
	}()
	select {
	case rd := <-done:
		return rd.data, rd.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// maxLine is the longest input line read as a URL; a longer one is reported
// as an error, and the rest of it skipped.
const maxLine = 64 << 10

// line is one input URL, or the reason the input at that place is unusable.
type line struct {
	url string // as written: see [withScheme] for the URL fetched
	n   int    // its line number in a file or standard input; 0 for an argument
	err error
	// clock times its requests, with --timings: set as the line is
	// handed to the Fetcher (see [options.records], [saver.all]); nil
	// without.
	clock *clock
}

// withScheme returns the URL fetched for s, an input URL as written: s
// itself if it starts with a scheme followed by ":/" (ftp://x and
// file:///etc/passwd included, which the Fetcher refuses), or else s after
// "http://", as curl and wget take a URL given without a scheme:
// example.com/a, localhost:8080/x, 127.0.0.1:8080, [::1]:8080/x and
// user:password@host are all http URLs.
func withScheme(s string) string {
	if scheme, rest, ok := strings.Cut(s, ":"); ok && isScheme(scheme) && strings.HasPrefix(rest, "/") {
		return s
	}
	return "http://" + s
}

// isScheme reports whether s is a URL scheme: a letter, then letters,
// digits, +, - and . (RFC 3986).
func isScheme(s string) bool {
	for i, r := range s {
		letter := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
		if !letter && (i == 0 || !('0' <= r && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	return s != ""
}

// badLine is the error for an input that is not a URL the Fetcher can
// fetch. It quotes the input as written, any password hidden, after its
// line number if it came from a file or standard input (the records come
// in completion order): line 3: "not a url": invalid URL: … It matches
// [fetch.ErrInvalidURL].
type badLine struct {
	line
	reason string
}

func (e *badLine) Error() string {
	msg := fmt.Sprintf("%q: invalid URL: %s", asGiven(e.url), e.reason)
	if e.n > 0 {
		msg = fmt.Sprintf("line %d: %s", e.n, msg)
	}
	return msg
}

func (e *badLine) Unwrap() error { return fetch.ErrInvalidURL }

// isHostName reports whether h is an IP address, or a host name: labels
// of letters (any script's, for an internationalized name), digits, - and
// _, separated by dots, none starting or ending with -, and a final dot
// allowed.
func isHostName(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	for _, label := range labels {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") ||
			strings.ContainsFunc(label, func(r rune) bool {
				return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_'
			}) {
			return false
		}
	}
	return true
}

// parseError returns the badLine for l, whose URL err, an error of
// url.Parse, says does not parse: err's cause, without the URL it quotes,
// which may hold a password.
func parseError(l line, err error) error {
	if ue, ok := err.(*url.Error); ok {
		err = ue.Err
	}
	return &badLine{l, err.Error()}
}

// checkURL returns the error for l, whose URL to fetch is target, if target
// is not one the Fetcher can fetch: it does not parse, or it is not an
// http or https URL with a host and a port in range, as the Fetcher checks
// (so that its refusal names the line). For a URL given without a scheme,
// the host must also be an IP address or a host name, so that what is no
// URL at all (-q, given after --) is not looked up as a host. A URL whose
// password a "/", "?" or "#" cut short is refused as such, not with the
// parser's error, which quotes the start of the password as a port.
func checkURL(l line, target string) error {
	if urlredact.CutShort(target) {
		return &badLine{l, urlredact.ErrCutShort.Error()}
	}
	u, err := url.Parse(target)
	if err != nil {
		return parseError(l, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return &badLine{l, "scheme must be http or https"}
	case u.Hostname() == "":
		return &badLine{l, "no host"}
	case target != l.url && !isHostName(u.Hostname()):
		return &badLine{l, fmt.Sprintf("no scheme, and %q is not a host name", u.Hostname())}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return &badLine{l, fmt.Sprintf("port %s out of range", p)}
		}
	}
	return nil
}

// String returns the line's URL, so that a line that cannot be fetched is
// still named in its result.
func (l line) String() string { return l.url }

// lines yields the URLs in r, one per line, skipping blank lines and lines
// starting with '#', until r ends, a read fails, or ctx is done. It reads
// as it goes, so an input of any length takes constant memory.
//
// The lines are read on a goroutine of their own, so that the iterator
// ends as soon as ctx is done even while a read waits for a pipe or a
// terminal that stays open: the read is left to end with the process.
// (The Fetcher reads its input on after ctx ends, so that every input
// yields a result; an input that ends with ctx ends the run at once.)
func lines(ctx context.Context, r io.Reader, name string) iter.Seq[line] {
	return func(yield func(line) bool) {
		ch, done := make(chan line), make(chan struct{})
		defer close(done)
		go scan(r, name, func(l line) bool {
			select {
			case ch <- l:
				return true
			case <-done:
				return false
			}
		}, func() { close(ch) })
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
				return
			case l, ok := <-ch:
				if !ok || !yield(l) {
					return
				}
			}
		}
	}
}

// scan reads the lines of r as [lines] yields them, passing each to yield
// until r ends, a read fails, or yield returns false, and then calls end.
func scan(r io.Reader, name string, yield func(line) bool, end func()) {
	defer end()
	br := bufio.NewReaderSize(r, maxLine)
	for n := 1; ; n++ {
		text, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !yield(line{err: fmt.Errorf("%s:%d: line longer than %d bytes", name, n, maxLine)}) {
				return
			}
			for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of it
				_, err = br.ReadSlice('\n')
			}
			text = nil // and never read it: the buffer has moved on
		}
		if n == 1 {
			text = bytes.TrimPrefix(text, []byte("\ufeff")) // a byte-order mark, as Windows editors write
		}
		if u := strings.TrimSpace(string(text)); u != "" && !strings.HasPrefix(u, "#") {
			if !yield(line{url: u, n: n}) {
				return
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			yield(line{err: fmt.Errorf("reading %s: %w", name, err)})
			return
		}
	}
}

// peek waits for the first value of seq, for seq to end, or for ctx to end,
// and returns seq as it was, that first value included, and whether it
// ended with no value before ctx did. release ends seq if it was never
// ranged over; it must be called once seq will not be.
func peek[T any](ctx context.Context, seq iter.Seq[T]) (_ iter.Seq[T], empty bool, release func()) {
	next, stop := iter.Pull(seq)
	first, ok := next()
	if !ok {
		stop()
		return func(func(T) bool) {}, ctx.Err() == nil, func() {}
	}
	var started atomic.Bool // by the first range over seq, or by release
	all := func(yield func(T) bool) {
		if started.Swap(true) {
			return
		}
		defer stop()
		for v, ok := first, true; ok; v, ok = next() {
			if !yield(v) {
				return
			}
		}
	}
	return all, false, func() {
		if !started.Swap(true) {
			stop()
		}
	}
}

// args yields the URLs given as arguments.
func args(urls []string) iter.Seq[line] {
	return func(yield func(line) bool) {
		for _, u := range urls {
			if !yield(line{url: u}) {
				return
			}
		}
	}
}

// sitemapLines yields the URLs the sitemaps at rawURL list (see
// [fetch.Sitemap]), fetched through f: a line each, numbered in the order
// listed; a sitemap that fails is a line whose error says so, so that its
// record says why its URLs are missing.
func sitemapLines(ctx context.Context, f *fetch.Fetcher, rawURL string) iter.Seq[line] {
	return func(yield func(line) bool) {
		n := 0
		for u := range fetch.Sitemap(ctx, f, rawURL) {
			n++
			l := line{url: u.URL, n: n}
			if u.Err != nil {
				l = line{url: u.Sitemap, err: &sitemapFailure{err: u.Err, attempts: u.Attempts, took: u.Duration}}
			}
			if !yield(l) || ctx.Err() != nil {
				return
			}
		}
	}
}

// sitemapFailure is the error of a sitemap --sitemap could not read, as
// its record names it: "sitemap not read: status 404 Not Found", with the
// attempts and duration of its fetch, for its record.
type sitemapFailure struct {
	err      error
	attempts int
	took     time.Duration
}

func (e *sitemapFailure) Error() string {
	err := e.err
	if fe, ok := err.(*fetch.Error); ok && fe.Err != nil {
		err = fe.Err // the record names the sitemap's URL
	}
	return "sitemap not read: " + strings.TrimPrefix(err.Error(), "fetch: ")
}

func (e *sitemapFailure) Unwrap() error { return e.err }

// fill puts in rec, the sitemap's record, the attempts and duration of its
// fetch.
func (e *sitemapFailure) fill(rec *record) {
	rec.Attempts, rec.DurationMS, rec.dur = e.attempts, e.took.Milliseconds(), e.took
}
