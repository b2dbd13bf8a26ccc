package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/htmltitle"
)

// A saver serves -O: it sends each request with [fetch.Fetcher.Do] and
// streams a 2xx body into a file of its own in a directory, so that no body
// is held in memory whatever its size (up to --max-body). It writes through
// an [os.Root], so that nothing in a URL can put a file outside the
// directory, by its name or through a symbolic link found there.
//
// Unlike [fetch.StreamFunc], which reads a body inside its attempt, a body
// saved here is read after Do returns: the attempt's timeout covers it, but
// a failure part way through is not retried.
type saver struct {
	dir   string // as given, for the records
	root  *os.Root
	names names // used by the goroutine reading the input only
}

func newSaver(dir string) (*saver, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("-O %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("-O %s: %w", dir, err)
	}
	return &saver{dir: dir, root: root, names: newNames()}, nil
}

func (s *saver) close() { s.root.Close() }

// all fetches every input and yields a record per input as each completes.
// Each input's file name is chosen as it is read (see [names]). Requests
// under way are bounded as the Fetcher bounds what it reads ahead (see
// [fetch.WithReadAhead]): requests waiting for a busy host wait in the
// Fetcher's queue for that host, and leave room for those to other hosts.
//
// Breaking out of the loop cancels the requests under way and returns
// without waiting for them, or for the goroutine reading in, which ends
// when in next yields.
func (s *saver) all(ctx context.Context, f *fetch.Fetcher, o options, in iter.Seq[line]) iter.Seq[record] {
	width := max(fetch.DefaultReadAhead, 16*o.concurrency)
	return func(yield func(record) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done, stop := make(chan record), make(chan struct{})
		defer close(stop)
		go func() {
			var wg sync.WaitGroup
			defer func() {
				wg.Wait()
				close(done)
			}()
			slots := make(chan struct{}, width)
			for l := range in {
				name := s.names.reserve(l)
				select {
				case slots <- struct{}{}:
				case <-stop:
					return
				}
				wg.Go(func() {
					defer func() { <-slots }()
					rec := s.save(ctx, f, o, l, name)
					select {
					case done <- rec:
					case <-stop:
					}
				})
			}
		}()
		for rec := range done {
			if !yield(rec) {
				return
			}
		}
	}
}

// keep saves the body of r, a 2xx result read in full, as --queue fetches,
// in the file named for its URL, and fills in rec. With no input order to
// go by, the names go to the results in the order they come.
func (s *saver) keep(r fetch.Result, rec *record, maxBody int64) {
	name := s.names.reserve(line{url: r.URL})
	if name == "" {
		rec.Error, rec.ErrorKind = fmt.Sprintf("%s: no file name for it", r.URL), "invalid_input"
		return
	}
	if _, err := s.write(bytes.NewReader(r.Body), name, maxBody); err != nil {
		rec.Error, rec.ErrorKind = fmt.Sprintf("saving %s: %v", r.URL, err), errorKind(err)
		return
	}
	rec.File = filepath.Join(s.dir, name)
}

// attemptsKey keys the counter of a request's attempts in its context.
type attemptsKey struct{}

// countAttempt is the OnAttempt hook that counts the attempts of the
// requests -O sends, as [fetch.Fetcher.Do] does not say how many a
// response took.
func countAttempt(a fetch.AttemptInfo) {
	if n, ok := a.Request.Context().Value(attemptsKey{}).(*atomic.Int64); ok {
		n.Store(int64(a.Attempt))
	}
}

// save fetches l and saves its body as name, and returns its record.
func (s *saver) save(ctx context.Context, f *fetch.Fetcher, o options, l line, name string) record {
	start := time.Now()
	rec := record{URL: redact(l.url)}
	attempts := new(atomic.Int64)
	req, err := o.newRequest(context.WithValue(ctx, attemptsKey{}, attempts), l)
	if err == nil {
		rec.URL = req.URL.Redacted()
		err = s.get(f, o, req, name, attempts, &rec)
	}
	rec.dur = time.Since(start)
	rec.DurationMS = rec.dur.Milliseconds()
	rec.Attempts = int(attempts.Load())
	if err != nil {
		var fe *fetch.Error
		if errors.As(err, &fe) {
			rec.Attempts = fe.Attempts
		}
		rec.Error, rec.ErrorKind = err.Error(), errorKind(err)
	}
	return rec
}

// get sends req and, for a 2xx response, streams its body into the file
// name, filling in rec. Its errors are *fetch.Error, as the Fetcher's are.
func (s *saver) get(f *fetch.Fetcher, o options, req *http.Request, name string, attempts *atomic.Int64, rec *record) error {
	resp, err := f.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rec.Status = resp.StatusCode
	if u := resp.Request.URL.Redacted(); u != rec.URL {
		rec.FinalURL = u
	}
	fail := func(err error) error {
		return &fetch.Error{Method: req.Method, URL: rec.URL, Attempts: int(attempts.Load()), Err: err}
	}
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		io.CopyN(io.Discard, resp.Body, 4<<10) // so that the connection can be reused
		return fail(&fetch.StatusError{StatusCode: resp.StatusCode, Status: resp.Status, URL: resp.Request.URL.Redacted()})
	case name == "":
		return fail(fmt.Errorf("%w: no file name for %s", errBadInput, rec.URL))
	}
	n, err := s.write(resp.Body, name, o.maxBody)
	if err != nil {
		return fail(err)
	}
	rec.Bytes, rec.File = int(n), filepath.Join(s.dir, name)
	if o.title && isHTML(resp.Header) {
		rec.Title = s.title(name)
	}
	return nil
}

// write streams body into the file name, failing with
// [fetch.ErrBodyTooLarge] past maxBody bytes. It writes a temporary file
// and renames it once the body is read in full, so that name never holds
// part of a body, and a symbolic link there is replaced, never followed.
func (s *saver) write(body io.Reader, name string, maxBody int64) (int64, error) {
	tmp := fmt.Sprintf(".%s.%d.part", name, os.Getpid()) // names never start with a dot
	file, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	limit := maxBody
	if limit < math.MaxInt64 {
		limit++ // one byte more tells a body of maxBody from a longer one
	}
	n, err := io.Copy(file, io.LimitReader(body, limit))
	if err == nil && n > maxBody {
		err = fetch.ErrBodyTooLarge
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.root.Rename(tmp, name)
	}
	if err != nil {
		s.root.Remove(tmp)
		return 0, err
	}
	return n, nil
}

// title returns the <title> of the saved HTML page name, or "".
func (s *saver) title(name string) string {
	file, err := s.root.Open(name)
	if err != nil {
		return ""
	}
	defer file.Close()
	t, _ := htmltitle.Find(file)
	return t
}
