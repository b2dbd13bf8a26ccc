package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/htmltitle"
)

// A saver serves -O: it sends each request with [fetch.Handle] and streams
// a 2xx body into a file of its own in a directory, inside the attempt, so
// that no body is held in memory whatever its size (up to --max-body), and
// a body cut short is retried as it is without -O. It writes through an
// [os.Root], so that nothing in a URL can put a file outside the
// directory, by its name or through a symbolic link found there.
//
// Once the directory can take no more (its disk or quota is full, or it is
// read-only), the run stops: fetching on would only fail every body.
type saver struct {
	dir   string // as given, for the records
	root  *os.Root
	names names // used by the goroutine reading the input only
	// open is saveOpen on root.
	open func(name string, flag int, perm os.FileMode) (*os.File, error)

	mu   sync.Mutex
	full error // why the directory can take no more, once it cannot

	tempMu    sync.Mutex
	temps     map[string]bool // the temporary files being written
	abandoned bool            // the process is exiting: write no more
}

func newSaver(dir string) (*saver, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil { // and the umask, as mkdir -p
		return nil, fileError("-O", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fileError("-O", dir, err)
	}
	open := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		return saveOpen(root, name, flag, perm)
	}
	return &saver{dir: dir, root: root, names: newNames(), open: open, temps: make(map[string]bool)}, nil
}

// saveOpen opens the files a saver writes; tests replace it.
var saveOpen = (*os.Root).OpenFile

// failure returns why the run stopped early, if it did: the directory
// could take no more.
func (s *saver) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.full == nil {
		return nil
	}
	return fmt.Errorf("-O %s: stopped: %w", s.dir, s.full)
}

func (s *saver) close() { s.root.Close() }

// abandon removes the temporary files being written, and makes every write
// after fail, for a process about to exit with saves under way. s may be
// nil.
func (s *saver) abandon() {
	if s == nil {
		return
	}
	s.tempMu.Lock()
	defer s.tempMu.Unlock()
	s.abandoned = true
	for tmp := range s.temps {
		s.root.Remove(tmp)
	}
}

// errAbandoned fails a write begun after [saver.abandon].
var errAbandoned = errors.New("the run is ending")

// openTemp creates a temporary file for the body to be saved as name,
// and notes it for abandon. Its name is new (O_EXCL, with a random part),
// never one that another writer may hold open: another fetch saving the
// same URL into the directory with the same process ID (in another
// container, or on another machine), or anyone who can write there, who
// could otherwise change the file after it is renamed into place.
func (s *saver) openTemp(name string) (*os.File, string, error) {
	s.tempMu.Lock()
	defer s.tempMu.Unlock()
	if s.abandoned {
		return nil, "", errAbandoned
	}
	for try := 0; ; try++ {
		tmp := fmt.Sprintf(".%s.%d.%08x.part", name, os.Getpid(), rand.Uint32()) // names never start with a dot
		// 0o666 and the umask, as wget, curl and os.Create make a file.
		file, err := s.open(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) && try < 10 {
			continue
		}
		if err == nil {
			s.temps[tmp] = true
		}
		return file, tmp, err
	}
}

// doneTemp notes that the temporary file tmp is renamed or removed.
func (s *saver) doneTemp(tmp string) {
	s.tempMu.Lock()
	defer s.tempMu.Unlock()
	delete(s.temps, tmp)
}

// named is one input of -O: its line, the file name chosen for it,
// whether it is skipped, not fetched, as --no-clobber found that file, and
// with --continue the size of the file it finishes.
type named struct {
	line
	name    string
	skipped bool
	inPlace bool  // --continue: the body is written in the file itself (see saver.finish)
	resume  int64 // --continue: the file held this many bytes when the run began
	held    *held // --continue: the bytes it holds now, which each attempt asks for the rest of
}

// errSkipped is newRequest's refusal of a skipped input: it is never sent.
var errSkipped = errors.New("skipped: its file exists (--no-clobber)")

// exists reports whether name is a regular file in the directory, as a
// saved body is: --no-clobber fetches no input whose file it is. It looks
// through the root without following a symbolic link, which a save would
// replace, not follow; a directory, or a name it cannot look at, is not
// one either, and is fetched, for the save to fail or succeed as without
// --no-clobber. A temporary file is never name: it starts with a dot.
func (s *saver) exists(name string) bool {
	fi, err := s.root.Lstat(name)
	return err == nil && fi.Mode().IsRegular()
}

// size returns the size of name if it is a regular file in the directory,
// as [saver.exists] finds one, or 0: --continue asks for the rest of a
// file that is not empty, and fetches every other input whole.
func (s *saver) size(name string) int64 {
	fi, err := s.root.Lstat(name)
	if err != nil || !fi.Mode().IsRegular() {
		return 0
	}
	return fi.Size()
}

// saved is what saving a body gives: the file it is in ("" for the
// response to a HEAD, which has no body), its size, the URL it came from
// after redirects, and whether it is HTML. With --continue, complete says
// that the file held the whole body already, and resumed from where the
// body saved was appended.
type saved struct {
	file     string
	bytes    int64
	finalURL string
	html     bool
	complete bool
	resumed  int64
}

// all fetches every input and yields a record per input as each completes.
// Each input's file name is chosen as it is read, on the goroutine that
// reads the input (see [names]), so that which input gets which name
// depends on input order alone. With --no-clobber, an input whose file is
// in the directory then (see [saver.exists]) is skipped: never sent, its
// record says so. Its name stays taken, so that the inputs after it get
// the names they got in the run that saved it, and a rerun of a list skips
// exactly the files that run saved. With --continue, an input whose file
// is in the directory then, and not empty, is asked for the rest of its
// body (see [saver.finish]). Breaking out of the loop behaves as it does
// for [fetch.Handle].
func (s *saver) all(ctx context.Context, f *fetch.Fetcher, o options, in iter.Seq[line]) iter.Seq[record] {
	inputs := func(yield func(named) bool) {
		for l := range in {
			if o.timings {
				l.clock = new(clock)
			}
			n := named{line: l, name: s.names.reserve(l)}
			n.skipped = o.noClobber && n.name != "" && s.exists(n.name)
			switch {
			case o.resume && n.name != "":
				n.inPlace, n.resume, n.held = true, s.size(n.name), new(held)
				n.held.n.Store(n.resume)
			case o.resumes() && n.name != "" && !n.skipped:
				n.held = &held{whole416: true}
			}
			if !yield(n) {
				return
			}
		}
	}
	newRequest := func(ctx context.Context, n named) (*http.Request, error) {
		if n.skipped {
			return nil, errSkipped // refused at once: no slot, no rate token
		}
		if n.held != nil {
			ctx = withHeld(ctx, n.held) // for resumeTransport to ask for the rest
		}
		return o.newRequest(ctx, n.line)
	}
	save := func(n named, resp *http.Response) (saved, error) { return s.save(n, resp, o.maxBody) }
	return func(yield func(record) bool) {
		// Once Handle returns, no save is under way: what a save left
		// behind, a part kept for an attempt that never came, goes.
		defer s.removeTemps()
		for h := range fetch.Handle(ctx, f, inputs, newRequest, save) {
			if h.Input.held != nil && !h.Input.inPlace {
				if tmp := h.Input.held.reset(); tmp != "" {
					s.removeTemp(tmp) // a part whose input failed
				}
			}
			rec := s.record(h, o.title, o.headers)
			rec.Timings = h.Input.clock.times()
			if !yield(rec) || s.failure() != nil {
				return
			}
		}
	}
}

// save streams the body of resp, a 2xx response to n, into n's file. It
// runs inside the attempt: a body cut short fails the attempt, to be
// retried, and a body past maxBody fails it with [fetch.ErrBodyTooLarge].
// The response to a HEAD has no body: it makes no file, and leaves one an
// earlier run saved as it was.
func (s *saver) save(n named, resp *http.Response, maxBody int64) (saved, error) {
	if n.name == "" {
		return saved{}, fmt.Errorf("%w: no file name for %s", errBadInput, resp.Request.URL.Redacted())
	}
	done := saved{finalURL: resp.Request.URL.Redacted(), html: isHTML(resp.Header)}
	if resp.Request.Method == http.MethodHead {
		return done, nil
	}
	if n.inPlace {
		return s.finish(n, resp, maxBody, done)
	}
	if cr := resp.Header.Get("Content-Range"); resp.StatusCode == http.StatusPartialContent && resp.Request.Header.Get("Range") == "" && !wholeRange(cr) {
		// A part of the body that nobody asked for is not saved as the
		// body (a range -H asked for is).
		return saved{}, fmt.Errorf("saving %s: the server sent bytes %q, not the whole body, though no range was asked for", filepath.Join(s.dir, n.name), cr)
	}
	if n.held != nil {
		size, err := s.writeResuming(n, resp, maxBody)
		if err != nil {
			return saved{}, err
		}
		done.file, done.bytes = n.name, size
		return done, nil
	}
	if resp.ContentLength > maxBody {
		return saved{}, fmt.Errorf("%w: Content-Length %d exceeds %d bytes", fetch.ErrBodyTooLarge, resp.ContentLength, maxBody)
	}
	size, err := s.write(resp.Body, n.name)
	if err != nil {
		return saved{}, err
	}
	done.file, done.bytes = n.name, size
	return done, nil
}

// finish saves a body for --continue, as wget -c does: in the file itself,
// not in a temporary file renamed once it is complete, so that a body cut
// short, by a failure or by the run's end, leaves the file cut short, for
// the next run to finish. A symbolic link there is replaced, not followed.
//
// If n's file holds the first N bytes of the body (n.held), the attempt's
// request asked for the rest (Range: bytes=N-, see [resumeTransport]). A
// 206 whose Content-Range starts there, and whose body is as long as it
// says, is appended. A body cut short leaves what came of it in the file,
// for the next attempt, or the next run, to ask for the rest of; one that
// fails otherwise (too long, or another length than its Content-Range
// says) is cut off again. A range that ends short of the body's total is
// kept, and fails the input saying so. A 2xx that is not a 206 sends the
// body whole: if the file held nothing when the run began, the body is
// written whole, over what an earlier attempt left; if its Content-Length
// is the file's size, the file is complete, and is left as it is;
// otherwise the file is left as it is and the input fails, as wget refuses
// to truncate it and curl -C to resume, saying what to do. (The 416 that a
// server answers a file that is complete already is turned into a record
// by [saver.record].)
func (s *saver) finish(n named, resp *http.Response, maxBody int64, done saved) (saved, error) {
	path := filepath.Join(s.dir, n.name)
	from := n.held.n.Load()             // the file's size when the request was sent: the rest was asked for from there
	want, total := int64(-1), int64(-1) // the bytes a 206 says it sends, and of how many
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		// A 206 must be the rest asked for, from where the file ends (from
		// 0 when no Range was sent, as wget refuses a range it did not ask
		// for), and a Content-Range that holds together: its end not
		// before its start, nor past its total.
		var first, last int64
		var ok bool
		first, last, total, ok = contentRange(resp.Header.Get("Content-Range"))
		if !ok || first != from || last < first || total >= 0 && last >= total {
			return saved{}, fmt.Errorf("%w %s: the server sent bytes %q, not the rest from byte %d",
				errNoResume, path, resp.Header.Get("Content-Range"), from)
		}
		if !n.held.sameBody(resp) {
			// The body changed since this run's first response, and the
			// server sent the rest of the new one regardless of If-Range.
			if n.resume == 0 { // the file holds only this run's bytes: fetched whole again
				n.held.reset()
				return saved{}, fetch.RetryableError(fmt.Errorf("saving %s: the server sent bytes %q of another body (ETag, Last-Modified or length) than the first %d bytes came from",
					path, resp.Header.Get("Content-Range"), from))
			}
			return saved{}, fmt.Errorf("%w %s: the server sent bytes %q of another body (ETag, Last-Modified or length) than the bytes %d-%d this run saved came from: remove the file to fetch it again",
				errNoResume, path, resp.Header.Get("Content-Range"), n.resume, from-1)
		}
		want = last - first + 1
	case n.resume == 0:
		// Nothing to finish, or only what an earlier attempt of this run
		// left: the body is written whole, as wget starts over, and what
		// was noted of the body that attempt had is forgotten.
		from = 0
		n.held.reset()
	default:
		if resp.ContentLength == from {
			done.file, done.complete = n.name, from == n.resume
			done.bytes, done.resumed = from-n.resume, n.resume
			return done, nil
		}
		return saved{}, fmt.Errorf("%w %s: the server sent the whole body (%s), not the rest from byte %d: remove the file to fetch it again",
			errNoResume, path, resp.Status, from)
	}
	// --max-body bounds the body, the bytes the file held included.
	left := maxBody - from
	if resp.ContentLength > left {
		return saved{}, fmt.Errorf("%w: Content-Length %d from byte %d exceeds %d bytes", fetch.ErrBodyTooLarge, resp.ContentLength, from, maxBody)
	}
	n.held.note(resp) // for a retry's If-Range, and sameBody
	fi, lerr := s.root.Lstat(n.name)
	existed := lerr == nil && fi.Mode().IsRegular()
	if lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
		s.root.Remove(n.name) // replaced, as a save without --continue replaces it
	}
	// 0o666 and the umask, as wget, curl and os.Create make a file.
	file, err := s.open(n.name, os.O_WRONLY|os.O_CREATE, 0o666)
	if err == nil {
		if err = file.Truncate(from); err == nil {
			_, err = file.Seek(from, io.SeekStart)
		}
		if err != nil {
			file.Close()
		}
	}
	if err != nil {
		// A file there that this user may not write (EACCES) says nothing
		// of the directory, unlike a file it may not create.
		if !existed || !errors.Is(err, syscall.EACCES) {
			s.noteFull(err)
		}
		return saved{}, fmt.Errorf("saving %s: %w", path, err)
	}
	// want >= 0 for a 206, as every response that finishes a file is.
	size, cut, err := copyBody(file, resp, path, from, left, want, maxBody)
	if err != nil && !cut {
		if _, ok := errors.AsType[*rangeLengthError](err); ok {
			err = fmt.Errorf("%w %s: %w", errNoResume, path, err)
		}
		file.Truncate(from) // left as the attempt found it
	}
	if cerr := file.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("saving %s: %w", path, cerr)
	}
	if err == nil || cut {
		// What came is kept, of a body cut short too: a next attempt asks
		// for the rest from where it stops (as wget does).
		n.held.n.Store(from + size)
	}
	if err != nil {
		if !cut {
			s.noteFull(err)
		}
		return saved{}, err
	}
	if total >= 0 && from+size < total {
		// A server may cap the bytes of a range: the part is kept, and the
		// input fails, so that nothing reports the file whole.
		return saved{}, fmt.Errorf("%w %s: the server sent bytes %d-%d of %d: the file holds %d; run again to finish it",
			errNoResume, path, from, from+size-1, total, from+size)
	}
	done.file, done.bytes, done.resumed = n.name, from-n.resume+size, n.resume
	return done, nil
}

// errNoResume is --continue's failure when the server does not send the
// rest of a file.
var errNoResume = errors.New("--continue cannot finish")

// contentRange parses a Content-Range of bytes ("bytes 100-199/200"):
// its first and last byte positions, and its total, -1 for "*".
func contentRange(cr string) (first, last, total int64, ok bool) {
	unit, rest, ok := strings.Cut(strings.TrimSpace(cr), " ")
	if !ok || !strings.EqualFold(unit, "bytes") {
		return 0, 0, 0, false
	}
	span, size, ok := strings.Cut(strings.TrimSpace(rest), "/")
	if !ok {
		return 0, 0, 0, false
	}
	f, l, ok := strings.Cut(span, "-")
	if !ok {
		return 0, 0, 0, false
	}
	first, err1 := strconv.ParseInt(f, 10, 64)
	last, err2 := strconv.ParseInt(l, 10, 64)
	total = -1
	var err3 error
	if size != "*" {
		total, err3 = strconv.ParseInt(size, 10, 64)
	}
	return first, last, total, err1 == nil && err2 == nil && err3 == nil && first >= 0 && total >= -1
}

// wholeRange reports whether the Content-Range cr of a 206 spans the
// whole body: bytes 0-(N-1)/N.
func wholeRange(cr string) bool {
	first, last, total, ok := contentRange(cr)
	return ok && first == 0 && total > 0 && last == total-1
}

// unsatisfiedTotal returns the total of a 416's Content-Range ("bytes
// */200"), if it has one.
func unsatisfiedTotal(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(cr), "bytes */")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n >= 0
}

// record turns the outcome of one input into its line of output. Its
// final_url is the URL the response came from if that is not the URL
// fetched for the input (see [withScheme]): if it was redirected.
func (s *saver) record(h fetch.Handled[named, saved], title, headers bool) record {
	if h.Input.skipped {
		rec := record{URL: asGiven(h.Input.url), File: filepath.Join(s.dir, h.Input.name), Skipped: "exists"}
		if title {
			rec.Title = s.skippedTitle(h.Input.name)
		}
		return rec
	}
	rec := record{
		URL:        asGiven(h.Input.url),
		Status:     h.Status,
		Attempts:   h.Attempts,
		DurationMS: h.Duration.Milliseconds(),
		dur:        h.Duration,
	}
	if headers {
		rec.Headers = headerJSON(h.Header)
	}
	fetched := redact(withScheme(h.Input.url))
	if se, ok := errors.AsType[*fetch.StatusError](h.Err); ok && h.Input.inPlace && h.Input.held.n.Load() > 0 && se.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		// The file holds the whole body already, as wget takes a 416,
		// unless the 416 says the body is of another size than the file
		// (*/LENGTH), or says none and an earlier response of this run
		// did, as the 200 path refuses a Content-Length that is not the
		// file's.
		path := filepath.Join(s.dir, h.Input.name)
		total, ok := unsatisfiedTotal(se.Header.Get("Content-Range"))
		if !ok {
			total = h.Input.held.knownSize()
			ok = total >= 0
		}
		if ok && total != h.Input.held.n.Load() {
			rec.Error = fmt.Sprintf("fetch: GET %s: %v %s: the file holds %d bytes, the body %d (%s): remove the file to fetch it again",
				se.URL, errNoResume, path, h.Input.held.n.Load(), total, se.Status)
			rec.ErrorKind = "status"
			return rec
		}
		rec.File, rec.Skipped = path, "complete"
		if title {
			rec.Title = s.skippedTitle(h.Input.name)
		}
		return rec
	}
	if h.Err != nil {
		rec.Error, rec.ErrorKind = errorText(h.Err), errorKind(h.Err)
		if se, ok := errors.AsType[*fetch.StatusError](h.Err); ok && se.URL != fetched && se.URL != rec.URL {
			rec.FinalURL = se.URL
		}
		if h.Status >= 300 && h.Status <= 399 {
			rec.Location = location(cmp.Or(h.FinalURL, fetched), h.Header)
		}
		return rec
	}
	rec.Bytes = h.Value.bytes
	if h.Value.finalURL != fetched && h.Value.finalURL != rec.URL {
		rec.FinalURL = h.Value.finalURL
	}
	if h.Value.file == "" {
		return rec // a HEAD: no body, no file
	}
	rec.File = filepath.Join(s.dir, h.Value.file)
	if h.Value.complete {
		rec.Skipped = "complete"
	}
	rec.ResumedFrom = h.Value.resumed
	if title && h.Value.html {
		rec.Title = s.title(h.Value.file)
	}
	return rec
}

// keep saves the body of r, a 2xx result read in full, as --queue fetches,
// in the file named for its URL, and fills in rec. With no input order to
// go by, the names go to the results in the order they come. It reports
// whether it saved the body.
func (s *saver) keep(r fetch.Result, rec *record) bool {
	name := s.names.reserve(line{url: r.URL})
	if name == "" {
		rec.Error, rec.ErrorKind = fmt.Sprintf("fetch: GET %s: no file name for it", r.URL), "invalid_input"
		return false
	}
	if _, err := s.write(bytes.NewReader(r.Body), name); err != nil {
		rec.Error, rec.ErrorKind = fmt.Sprintf("fetch: GET %s: %v", r.URL, err), errorKind(err)
		return false
	}
	rec.File = filepath.Join(s.dir, name)
	return true
}

// write streams body into the file name. It writes a temporary file and
// renames it once the body is read in full, so that name never holds part
// of a body, and a symbolic link there is replaced, never followed. An
// error reading body is returned as it is, so that the Fetcher can tell a
// body cut short; an error writing names the file. The temporary file is
// removed on every failure, and by abandon if the process exits first.
func (s *saver) write(body io.Reader, name string) (int64, error) {
	file, tmp, err := s.openTemp(name)
	if err != nil {
		s.noteFull(err)
		return 0, fmt.Errorf("saving %s: %w", filepath.Join(s.dir, name), err)
	}
	defer s.doneTemp(tmp)
	r := &readErr{r: body}
	n, err := io.Copy(file, r)
	if err != nil && err != r.err {
		err = fmt.Errorf("saving %s: %w", filepath.Join(s.dir, name), err)
	}
	if cerr := file.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("saving %s: %w", filepath.Join(s.dir, name), cerr)
	}
	if err == nil {
		if err = s.root.Rename(tmp, name); err != nil {
			err = fmt.Errorf("saving %s: %w", filepath.Join(s.dir, name), err)
		}
	}
	if err != nil {
		s.root.Remove(tmp)
		if err != r.err {
			s.noteFull(err)
		}
		return 0, err
	}
	return n, nil
}

// writeResuming saves a GET's body as [saver.write] does, through a
// temporary file renamed into place once the body is complete; but a body
// cut short keeps what came of it in that file, for the next attempt to
// ask for the rest of (see [held]), as wget takes up a download it
// retries. A 206 that is that rest is appended to the part; a 206 that is
// not, or that names another ETag, Last-Modified or length than the first
// response did (the body changed, and the server ignored If-Range), drops
// the part, and fails the attempt, to be retried in whole; any other 2xx
// is written whole, over any part (the server ignores ranges, or the body
// changed since the part came: If-Range). A 206 that no range was asked
// for must be as long as its Content-Range says.
func (s *saver) writeResuming(n named, resp *http.Response, maxBody int64) (int64, error) {
	path := filepath.Join(s.dir, n.name)
	p := n.held
	tmp, from := p.part()
	want, total := int64(-1), int64(-1) // the bytes a 206 that finishes the part says it sends, and of how many
	if from > 0 {
		cr := resp.Header.Get("Content-Range")
		first, last, t, ok := contentRange(cr)
		switch {
		case resp.StatusCode == http.StatusPartialContent && ok && first == from && last >= first && (t < 0 || last < t) && p.sameBody(resp):
			want, total = last-first+1, t
		case resp.StatusCode == http.StatusPartialContent && ok && first == from:
			s.removeTemp(p.reset())
			return 0, fetch.RetryableError(fmt.Errorf("saving %s: the server sent bytes %q of another body (ETag, Last-Modified or length) than the first %d bytes came from", path, cr, from))
		case resp.StatusCode == http.StatusPartialContent:
			s.removeTemp(p.reset())
			return 0, fetch.RetryableError(fmt.Errorf("saving %s: the server sent bytes %q, not the rest from byte %d", path, cr, from))
		default:
			s.removeTemp(p.reset())
			tmp, from = "", 0
		}
	} else if resp.StatusCode == http.StatusPartialContent {
		// The whole body, though no range was asked for (see save): held
		// to the length its Content-Range says.
		if first, last, t, ok := contentRange(resp.Header.Get("Content-Range")); ok {
			want, total = last-first+1, t
		}
	}
	p.note(resp)
	left := maxBody - from // --max-body bounds the whole body, the part included
	if resp.ContentLength > left {
		s.removeTemp(p.reset())
		return 0, fmt.Errorf("%w: Content-Length %d from byte %d exceeds %d bytes", fetch.ErrBodyTooLarge, resp.ContentLength, from, maxBody)
	}
	var file *os.File
	var err error
	if tmp != "" {
		if file, err = s.open(tmp, os.O_WRONLY, 0); err == nil {
			if err = file.Truncate(from); err == nil {
				_, err = file.Seek(from, io.SeekStart)
			}
			if err != nil {
				file.Close()
			}
		}
		if err != nil {
			s.removeTemp(p.reset())
		}
	} else {
		file, tmp, err = s.openTemp(n.name)
	}
	if err != nil {
		s.noteFull(err)
		return 0, fmt.Errorf("saving %s: %w", path, err)
	}
	size, cut, err := copyBody(file, resp, path, from, left, want, maxBody)
	if _, ok := errors.AsType[*rangeLengthError](err); ok {
		err = fmt.Errorf("saving %s: %w", path, err)
	}
	if cerr := file.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("saving %s: %w", path, cerr)
	}
	switch {
	case cut:
		// Cut short: what came is kept, for the next attempt to ask for
		// the rest of.
		p.keep(tmp, from+size)
		return 0, err
	case err == nil && total >= 0 && from+size < total:
		// A server may cap the bytes of a range: what came is kept, and
		// the next attempt asks for the rest.
		p.keep(tmp, from+size)
		return 0, fetch.RetryableError(fmt.Errorf("saving %s: the server sent bytes %d-%d of %d", path, from, from+size-1, total))
	case err == nil:
		if err = s.root.Rename(tmp, n.name); err != nil {
			err = fmt.Errorf("saving %s: %w", path, err)
		}
	}
	p.reset()
	if err != nil {
		s.removeTemp(tmp)
		s.noteFull(err)
		return 0, err
	}
	s.doneTemp(tmp)
	return from + size, nil
}

// removeTemp removes the temporary file tmp, if not "".
func (s *saver) removeTemp(tmp string) {
	if tmp != "" {
		s.root.Remove(tmp)
		s.doneTemp(tmp)
	}
}

// removeTemps removes every temporary file left, once no save is under
// way.
func (s *saver) removeTemps() {
	s.tempMu.Lock()
	defer s.tempMu.Unlock()
	for tmp := range s.temps {
		s.root.Remove(tmp)
		delete(s.temps, tmp)
	}
}

// noteFull records err if it says the directory can take no more.
func (s *saver) noteFull(err error) {
	if !noRoom(err) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.full == nil {
		s.full = err
	}
}

// copyBody copies the body of resp to file, after the from bytes of it
// that are there already: at most left bytes, and, if want >= 0 (a 206's
// length), exactly want. It returns the bytes copied, and whether the body
// was cut short, with the read's error as it is; a body over left is
// fetch.ErrBodyTooLarge (maxBody is the cap to name), one of another
// length than want a *rangeLengthError, and a failed write names path.
func copyBody(file io.Writer, resp *http.Response, path string, from, left, want, maxBody int64) (size int64, cut bool, err error) {
	r := &readErr{r: resp.Body}
	var body io.Reader = r
	if want >= 0 {
		body = io.LimitReader(r, min(left, want)+1) // one byte over tells; want < MaxInt64
	}
	size, err = io.Copy(file, body)
	switch {
	case err != nil && err == r.err:
		return size, true, err
	case err != nil:
		return size, false, fmt.Errorf("saving %s: %w", path, err)
	case size > left:
		return size, false, fmt.Errorf("%w: more than %d bytes from byte %d", fetch.ErrBodyTooLarge, maxBody, from)
	case want >= 0 && size != want:
		return size, false, &rangeLengthError{size: size, contentRange: resp.Header.Get("Content-Range"), want: want}
	}
	return size, false, nil
}

// A rangeLengthError is the error of a 206 whose body is not as long as
// its Content-Range says.
type rangeLengthError struct {
	size, want   int64
	contentRange string
}

func (e *rangeLengthError) Error() string {
	return fmt.Sprintf("the server sent %d bytes of %q, which says %d", e.size, e.contentRange, e.want)
}

// readErr remembers the error its reader returned, other than io.EOF.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
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

// skippedTitle returns the <title> of the file name that --no-clobber
// found, if its content sniffs as HTML (http.DetectContentType, as no
// Content-Type came with it this run), or "".
func (s *saver) skippedTitle(name string) string {
	file, err := s.root.Open(name)
	if err != nil {
		return ""
	}
	defer file.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(file, head)
	if !strings.HasPrefix(http.DetectContentType(head[:n]), "text/html") {
		return ""
	}
	t, _ := htmltitle.Find(io.MultiReader(bytes.NewReader(head[:n]), file))
	return t
}

// noRoom reports whether err says the -O directory can take no more:
// its disk or quota is full, or it is read-only, its file system or to
// this user (EACCES, which creating or renaming a file in it returns only
// for want of permission on the directory). Every file after would fail
// the same way.
func noRoom(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS) ||
		errors.Is(err, syscall.EACCES)
}
