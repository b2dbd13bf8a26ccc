package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// A Result is the outcome of one request made by the batch and streaming
// calls, and by [Fetcher.Fetch]. Its body has already been read in full and closed by the Fetcher;
// the Result, Body included, belongs to the caller, who may keep it: so the
// Fetcher cannot reuse body buffers from one Result to the next. To read
// bodies as streams, with nothing buffered, use [Handle]. Err is nil only for a 2xx response whose body was read in full;
// otherwise it is an [*Error] wrapping the cause, which for a non-2xx status
// is a [*StatusError] (Status and Body are then still set).
type Result struct {
	Index    int    // position of the request in the input
	URL      string // the request URL, redacted
	FinalURL string // the URL of the final response, after redirects; "" if none
	Status   int    // final status code; 0 if no response
	Header   http.Header
	// Trailer holds the trailer fields that followed the body (a chunked
	// response's, RFC 9110 §6.5), as [http.Response.Trailer] does once
	// the body is read; nil if the response announced none.
	Trailer http.Header
	Body    []byte // the body, read in full (up to the size cap)
	// Attempts is how many times the request was sent to URL's host: the
	// times net/http wrote its headers on a connection there, so that a
	// request net/http resent by itself on a new connection, after a
	// kept-alive one died under it, counts twice, as the server counts it;
	// so does an HTTP/2 stream the server refused (REFUSED_STREAM, as a
	// server does to streams over its concurrency limit) and net/http sent
	// again.
	// An attempt that wrote nothing (a refused connection, a failed TLS
	// handshake, a blocked address) counts once, as does every attempt on
	// a transport that does not report its writes to net/http/httptrace;
	// 0 means no attempt was made. A redirect is part of the attempt it
	// ended: the requests that follow it are not counted, even to the same
	// host. A server that closed a connection as the request was written
	// on it may not have read it: the client cannot tell.
	Attempts int
	// Duration is how long the call took, retries and their waits
	// included: for the calls that run many requests, from when its first
	// attempt passed its host's gates (the time it was queued for its host
	// is not in it); for Get and Fetch, from the call, the wait at the
	// gates included.
	Duration time.Duration
	Err      error

	final *url.URL // FinalURL unredacted, for a crawl to resolve links against
}

// fetch runs the request of job j through do, reading the body inside the
// attempt, and reports the outcome in *r, which it overwrites; a job whose
// input could not be made into a request reports that instead. held, if not
// nil, is the host whose gates the scheduler has already passed for the
// first attempt. The job's request context, if made for it, is released
// once the result is made.
func fetchJob[T any](f *Fetcher, j *job[T], r *Result, from handOff) {
	defer j.rc.release() // the body is read and closed: its context is done with
	if j.err != nil {
		err := j.err
		if perr := closeUnsent(j.req); perr != nil {
			err = errors.Join(err, perr)
		}
		*r = Result{Index: j.index, URL: j.text, Err: f.refuseJob(j.req, j.text, err)}
		return
	}
	f.fetch(j.req, j.text, j.index, r, from)
}

// fetch runs req through do, reading the body inside the attempt, and
// reports the outcome in *r, which it overwrites, as the index'th input of
// its call. text, if not "", is the URL to report, as the caller gave it
// (see requester).
func (f *Fetcher) fetch(req *http.Request, text string, index int, r *Result, from handOff) {
	start := time.Since(epoch)
	*r = Result{Index: index, URL: text}
	if r.URL == "" && req != nil && req.URL != nil {
		r.URL = req.URL.Redacted()
	}
	consume := func(resp *http.Response) error {
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			// The status is the call's failure, whatever else becomes of
			// the body: it is kept as far as it reads, up to the cap. But
			// a read cut short by the caller ending the call fails it as
			// the caller's cancellation or deadline, as a wait does.
			var rerr error
			r.Body, rerr = readPrefix(resp, f.bodyCap(req))
			if rerr != nil && req.Context().Err() != nil {
				return fmt.Errorf("reading the body of a %s: %w", resp.Status, rerr)
			}
			return newStatusError(resp, retryAfterOf(f, resp), r.Body, false)
		}
		body, err := readBody(resp, f.bodyCap(req))
		r.Body = body
		return err
	}
	resp, attempts, err := f.do(req, consume, from)
	r.Attempts, r.Err = attempts, err
	if resp != nil {
		r.Status, r.Header, r.Trailer, r.FinalURL, r.final = resp.StatusCode, resp.Header, resp.Trailer, r.URL, resp.Request.URL
		if resp.Request.URL != req.URL { // redirected
			r.FinalURL = resp.Request.URL.Redacted()
		}
	}
	r.Duration = time.Since(epoch) - start
}

// epoch is a fixed point on the monotonic clock. A Result's Duration is the
// difference of two readings against it: time.Since reads only the
// monotonic clock, where time.Now also reads the wall clock, and on some
// virtual machines each reading costs tens of nanoseconds.
var epoch = time.Now()

// A mono is a reading of the monotonic clock: nanoseconds since epoch, in a
// third of a time.Time's bytes; 0 means none was taken. (It is negative
// inside a testing/synctest bubble, whose clock starts in 2000.)
type mono int64

// monoNow reads the monotonic clock.
func monoNow() mono {
	if m := mono(time.Since(epoch)); m != 0 {
		return m
	}
	return 1
}

// since returns the time elapsed since m.
func (m mono) since() time.Duration { return time.Since(epoch) - time.Duration(m) }

// time returns m as a time.Time (with its monotonic reading); the zero
// Time if m is 0.
func (m mono) time() time.Time {
	if m == 0 {
		return time.Time{}
	}
	return epoch.Add(time.Duration(m))
}

// MaxErrorBody is how much of a non-2xx response's body a [StatusError]
// keeps, so that an API's error message can be read.
const MaxErrorBody = 4 << 10

// statusError returns the error for o's response, whose status is final
// or whose retry the call gave up on, keeping its header and the first
// MaxErrorBody bytes of its body: from what the call read, from what
// discard kept of it, or read now from a body still unread.
func (f *Fetcher) statusError(o *outcome) *StatusError {
	if o.errBody != nil {
		return newStatusError(o.resp, o.retryAfter, *o.errBody, false)
	}
	return newStatusError(o.resp, o.retryAfter, nil, !o.read)
}

// newStatusError makes the StatusError for resp, which asked for a
// Retry-After of retryAfter, with body (what the call read of it) or, if
// unread, the first MaxErrorBody bytes read from resp.Body now; the rest
// of resp.Body is still there to read.
func newStatusError(resp *http.Response, retryAfter time.Duration, body []byte, unread bool) *StatusError {
	e := &StatusError{
		StatusCode: resp.StatusCode,
		Status:     resp.Status,
		URL:        resp.Request.URL.Redacted(),
		RetryAfter: retryAfter,
		Header:     resp.Header,
	}
	if unread && resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBody))
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
		body = b
	}
	if len(body) > 0 {
		e.Body = bytes.Clone(body[:min(len(body), MaxErrorBody)])
	}
	return e
}

// fetchURL fetches rawURL, shaped by opts, for Get and Fetch.
func (f *Fetcher) fetchURL(ctx context.Context, rawURL string, opts []RequestOption) Result {
	var r Result
	req, text, err := newURLRequest(ctx, rawURL, opts)
	fetchJob(f, &job[struct{}]{req: req, text: text, err: err}, &r, handOff{})
	return r
}

// Get fetches rawURL with GET and returns its body, read in full but no
// more than the size cap (see [WithMaxBodySize]); the Fetcher closes the
// response. It is safe for concurrent use. A non-2xx final status is
// an error that matches [*StatusError] under [errors.As]. [Fetcher.Fetch]
// returns the rest of what is known: where the body came from after
// redirects, the status, the header.
func (f *Fetcher) Get(ctx context.Context, rawURL string, opts ...RequestOption) ([]byte, error) {
	r := f.fetchURL(ctx, rawURL, opts)
	return r.Body, r.Err
}

// Fetch fetches rawURL with GET, as [Fetcher.Get] does, and returns the
// whole [Result]: the body with the final status, header, the URL the body
// came from after redirects (FinalURL), the attempts made and the error,
// if any (Err is set for a non-2xx status too, and Status and Body are
// then still set).
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, opts ...RequestOption) Result {
	return f.fetchURL(ctx, rawURL, opts)
}

// GetJSON fetches rawURL with GET, as [Fetcher.Get] does, and decodes its
// JSON body into a T as it reads it, inside the attempt: the attempt's
// timeout covers the decoding, and a body cut short is retried. Every
// error is an [*Error]: for a non-2xx status it wraps a [*StatusError]
// whose Body holds the start of the API's error body, and for a body that
// is not JSON of T's shape it wraps the decoder's error (a
// [*json.SyntaxError], a [*json.UnmarshalTypeError]), which is not retried;
// its text then names the response's Content-Type if that is not JSON, as
// in "(Content-Type text/html)".
//
// It asks for JSON with "Accept: application/json" unless the call
// ([Header]) or the Fetcher ([WithHeader]) sets Accept.
func GetJSON[T any](ctx context.Context, f *Fetcher, rawURL string, opts ...RequestOption) (T, error) {
	if f == nil {
		var zero T
		return zero, errors.New("fetch: GetJSON(nil *Fetcher)")
	}
	req, text, err := newURLRequest(ctx, rawURL, opts)
	if err == nil && !hasKey(req.Header, "Accept") && !hasKey(f.header, "Accept") {
		req.Header.Set("Accept", "application/json")
	}
	h := handleOne(f, req, text, err, handOff{}, struct{}{}, decodeJSON[T])
	return h.Value, h.Err
}
