package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"strings"
	"time"
)

// A Handled is the outcome of one input of [Handle]: the input itself, and
// the value its handler made of the response, or the error.
type Handled[In, Out any] struct {
	Input    In
	Value    Out    // what the handler returned; the zero value if Err is set
	Index    int    // the input's position
	URL      string // the request URL, redacted
	FinalURL string // the URL of the final response, after redirects, redacted; "" if none
	Status   int    // the final status; 0 if no response
	// Header is the final response's header (a redirect not followed
	// holds its Location there); nil if no response.
	Header   http.Header
	Attempts int // as [Result.Attempts] counts them
	Duration time.Duration
	Err      error // nil, or an [*Error]: for a non-2xx status it wraps a [*StatusError]
}

// Handle sends what newRequest makes of each input, as [StreamFunc] does,
// and hands each 2xx response, with its input, to handle, which reads the
// body as a stream and returns a value: the Fetcher never buffers the body. It yields a
// [Handled] per input, carrying the input and the value, as each completes.
//
// handle runs inside the attempt: the attempt's timeout covers its reads,
// and a body cut short while it reads is retried like any other attempt,
// whatever handle makes of the failed read. An error it returns fails the
// attempt; wrap it with [RetryableError] to have it retried (an invalid
// page a flaky server sometimes sends, say), otherwise it fails the input
// at once, even if the attempt's time ran out meanwhile (unless it is the
// context's error). A body whose Content-Length is over [WithMaxBodySize]
// fails the input with [ErrBodyTooLarge] without being handed to handle,
// as [Fetcher.Get] refuses it; one that turns out longer than the cap
// makes its reads fail with ErrBodyTooLarge once they reach it (they
// return no byte past it), and fails the input even if handle drops that
// error. handle runs on many goroutines at once, and may run more than
// once for one input, once per attempt: a side effect of it (a file
// written) must bear being done again over a partial first try, or be
// left to the loop body, which sees each input once.
//
// handle need not read the body to its end or close it. What it leaves is
// read, so that the connection can be reused, if its Content-Length says
// no more than 4 KiB is left, or, if its length is unknown (a feed that
// may go on for ever), for as long as bytes come at once (10 ms at most);
// otherwise the body is closed, and with it the connection.
//
// A non-2xx final status is not handed to handle: the input fails with a
// [*StatusError] carrying the start of the body.
//
// Breaking out of the loop behaves as it does for [Fetcher.Stream].
func Handle[In, Out any](ctx context.Context, f *Fetcher, in iter.Seq[In],
	newRequest func(context.Context, In) (*http.Request, error),
	handle func(In, *http.Response) (Out, error)) iter.Seq[Handled[In, Out]] {
	if handle == nil {
		panic("fetch: Handle: nil handler") // see run
	}
	return run(ctx, f, in, funcRequester(newRequest), func() func(j *job[In], from handOff) Handled[In, Out] {
		return func(j *job[In], from handOff) Handled[In, Out] {
			h := handleOne(f, j.req, j.text, j.err, from, j.data, handle)
			j.rc.release() // the handler is done with the response
			h.Index = j.index
			return h
		}
	})
}

// HandleURLs is [Handle] for URLs: it fetches each with GET (or as opts
// shape it) and hands each 2xx response, with its URL as given, to handle.
// A URL that is not a valid http or https URL yields a Handled whose Err
// matches [ErrInvalidURL].
func HandleURLs[Out any](ctx context.Context, f *Fetcher, urls iter.Seq[string],
	handle func(url string, resp *http.Response) (Out, error), opts ...RequestOption) iter.Seq[Handled[string, Out]] {
	if handle == nil {
		panic("fetch: HandleURLs: nil handler") // see run
	}
	return run(ctx, f, urls, getURL(opts), func() func(j *job[string], from handOff) Handled[string, Out] {
		return func(j *job[string], from handOff) Handled[string, Out] {
			h := handleOne(f, j.req, j.text, j.err, from, j.data, handle)
			h.Index = j.index
			return h
		}
	})
}

// RetryableError marks an error a [Handle] handler returns as worth
// retrying: the attempt is retried as a transport error would be, within
// the retry policy's attempts and the host's retry budget.
func RetryableError(err error) error {
	if err == nil {
		return nil
	}
	return &retryableError{err}
}

type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// markedRetryable reports whether err was marked with RetryableError.
func markedRetryable(err error) bool {
	if err == nil {
		return false
	}
	_, ok := errors.AsType[*retryableError](err)
	return ok
}

// handleOne sends req (or reports err, for input in that could not be made
// into one) and hands its 2xx response to handle inside the attempt.
func handleOne[In, Out any](f *Fetcher, req *http.Request, text string, err error, from handOff,
	in In, handle func(In, *http.Response) (Out, error)) Handled[In, Out] {
	h := Handled[In, Out]{Input: in, URL: text}
	if err != nil {
		h.Err = f.refuseJob(req, text, err)
		return h
	}
	if h.URL == "" && req != nil && req.URL != nil {
		h.URL = req.URL.Redacted()
	}
	start := time.Since(epoch)
	consume := func(resp *http.Response) error {
		defer resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			serr := f.statusError(&outcome{resp: resp, retryAfter: retryAfterOf(f, resp)})
			if err := req.Context().Err(); err != nil {
				// Ended by the caller while the start of the body was
				// read: its cancellation or deadline is the failure.
				return fmt.Errorf("reading the body of a %s: %w", resp.Status, err)
			}
			return serr
		}
		limit := f.bodyCap(req)
		if resp.ContentLength > limit && (resp.Request == nil || resp.Request.Method != http.MethodHead) {
			// Known to be over the cap before a byte is read: refused as
			// Get refuses it, without handing the handler (and its
			// storage) the first bytes of it, up to the cap.
			return &handlerError{fmt.Errorf("%w: Content-Length %d exceeds %d bytes", ErrBodyTooLarge, resp.ContentLength, limit)}
		}
		body := &cappedBody{r: resp.Body, left: limit, limit: limit}
		resp.Body = body
		v, err := handle(in, resp)
		switch {
		case body.err != nil && !errors.Is(err, body.err):
			// The body was cut short or too slow: that is what the retry
			// decision judges, whatever the handler made of it.
			if err == nil {
				err = errTruncated
			}
			return fmt.Errorf("%w (reading the body: %w)", err, body.err)
		case body.err != nil && errors.Is(err, body.err):
			// The handler passed the failed read on as it came ("unexpected
			// EOF"): say, as Get does, that it was the body's, and how far
			// it got, so that a cut download reads as one.
			return fmt.Errorf("reading the body: %w", &cutError{read: body.limit - body.left, length: resp.ContentLength, err: err})
		case body.err != nil || markedRetryable(err):
			return err // the body was cut short, or the handler asks for a retry
		case err != nil:
			body.drain(resp)
			return &handlerError{err} // the handler's own verdict on a body that came whole: final
		case body.left < 0:
			// The handler went on without the error its last read gave.
			return &handlerError{fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, body.limit)}
		}
		body.drain(resp)
		h.Value = v
		return nil
	}
	var resp *http.Response
	resp, h.Attempts, h.Err = f.do(req, consume, from)
	if resp != nil {
		h.Status, h.Header, h.FinalURL = resp.StatusCode, resp.Header, h.URL
		if resp.Request.URL != req.URL { // redirected
			h.FinalURL = resp.Request.URL.Redacted()
		}
	}
	if h.Err != nil {
		var zero Out
		h.Value = zero
	}
	h.Duration = time.Since(epoch) - start
	return h
}

// retryAfterOf returns what resp's Retry-After asks for, clamped.
func retryAfterOf(f *Fetcher, resp *http.Response) time.Duration {
	d, _ := retryAfter(resp, farWait)
	return d
}

// A handlerError is an error a handler returned, unmarked, about a body
// that was read without error as far as it read: the handler's verdict,
// which a retry would not change. read makes it the call's error, final.
type handlerError struct{ err error }

func (e *handlerError) Error() string { return e.err.Error() }
func (e *handlerError) Unwrap() error { return e.err }

// cappedBody fails reads past limit bytes with ErrBodyTooLarge, rather
// than handing a handler a body it would silently truncate.
type cappedBody struct {
	r           io.ReadCloser
	left, limit int64
	eof         bool  // the body has been read to its end
	err         error // the first read from the connection that failed: the body was cut short, or too slow
}

// A cutError is a body's read that failed after read bytes of it (of
// length, if known).
type cutError struct {
	read, length int64
	err          error
}

func (e *cutError) Error() string {
	if e.length >= 0 {
		return fmt.Sprintf("%v after %d of %d bytes", e.err, e.read, e.length)
	}
	return fmt.Sprintf("%v after %d bytes", e.err, e.read)
}

func (e *cutError) Unwrap() error { return e.err }

// errTruncated stands for a handler's nil error about a body cut short.
var errTruncated = errors.New("the handler returned no error")

// drainWait bounds how long drain waits for the rest of a 2xx body.
const drainWait = 10 * time.Millisecond

// drain reads what is left of a 2xx body the handler did not read to its
// end, so that its connection can be reused: only if its length says that
// little is left, or is unknown (a stream that may go on for ever: a feed,
// a long poll), and only while its bytes come at once. A body with more
// left is closed, as net/http does, which closes its connection.
func (b *cappedBody) drain(resp *http.Response) {
	if b.eof || b.err != nil || b.left < 0 || resp.Close {
		return
	}
	if left := resp.ContentLength - (b.limit - b.left); resp.ContentLength < 0 || left <= maxDrain {
		readPromptly(io.Discard, b.r, maxDrain, drainWait)
	}
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, b.limit)
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.eof = err == io.EOF
	if err != nil && !b.eof && b.err == nil {
		b.err = err
	}
	b.left -= int64(n)
	if b.left < 0 {
		// Hand over only the bytes within the cap: the one read past it
		// only tells that the body is too large, and a handler copying
		// to storage writes what a read returns before its error.
		return n + int(b.left), fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, b.limit)
	}
	return n, err
}

func (b *cappedBody) Close() error { return b.r.Close() }

// jsonEnded is json.Unmarshal's error for JSON that ends inside a value
// ("unexpected end of JSON input"), copied with the offset of the body at
// hand.
var jsonEnded = func() json.SyntaxError {
	var se *json.SyntaxError
	if !errors.As(json.Unmarshal([]byte("{"), new(any)), &se) {
		panic("encoding/json: no SyntaxError for JSON that ends inside a value")
	}
	return *se
}()

// endReader reads r, noting whether it ended (io.EOF): a body read to its
// end, not cut short; or else the first read that failed.
type endReader struct {
	r     io.Reader
	ended bool
	err   error // the first read error other than io.EOF
}

func (e *endReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.ended = e.ended || err == io.EOF
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// decodeJSON is GetJSON's handler. As [json.Unmarshal] does, it refuses
// a body that holds anything but one JSON value and white space.
func decodeJSON[T any](_ struct{}, resp *http.Response) (T, error) {
	var v T
	body := &endReader{r: resp.Body}
	dec := json.NewDecoder(body)
	if err := dec.Decode(&v); err == io.EOF {
		// Nothing at all (a 204, say): not a cut, which would be an
		// io.ErrUnexpectedEOF, so not one to match io.EOF either.
		return v, fmt.Errorf("decoding JSON: empty body (status %s)", resp.Status)
	} else if err == io.ErrUnexpectedEOF && body.ended {
		// The whole body came, and the JSON in it ends inside a value: the
		// server's bad JSON, not a body cut on the wire (which would be
		// retried), though the Decoder says io.ErrUnexpectedEOF for both.
		se := jsonEnded
		se.Offset = dec.InputOffset()
		return v, fmt.Errorf("decoding JSON: %w%s", &se, notJSON(resp.Header))
	} else if errors.Is(err, ErrBodyTooLarge) {
		return v, err // the size cap, not the JSON: said as Get says it
	} else if body.err != nil && errors.Is(err, body.err) {
		// The body was cut short or failed on the wire, not the JSON:
		// passed on as read, so that it is said as the body's, with how
		// far it got, as for any handler.
		return v, err
	} else if err != nil {
		return v, fmt.Errorf("decoding JSON: %w%s", err, notJSON(resp.Header))
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("more than one JSON value")
		}
		return v, fmt.Errorf("decoding JSON: after the value: %w%s", err, notJSON(resp.Header))
	}
	return v, nil
}

// notJSON returns, for the error of a body that failed to decode, what h's
// Content-Type says if it is there and is not JSON, as in
// " (Content-Type text/html)": an HTML error page, say, where JSON was
// asked for. A JSON type is application/json, text/json, or one with the
// +json suffix (application/problem+json). A Content-Type that is not a
// media type is quoted whole.
func notJSON(h http.Header) string {
	ct := h.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case mt == "" && err != nil:
		return fmt.Sprintf(" (Content-Type %q)", ct)
	case mt == "application/json", mt == "text/json", strings.HasSuffix(mt, "+json"):
		return ""
	}
	return " (Content-Type " + mt + ")"
}
