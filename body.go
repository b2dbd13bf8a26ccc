package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// slotBody is a response body that holds its call's in-flight slot, host
// references and attempt timeout until it is closed or read to EOF, or
// until its call's context ends (see watch), as net/http's
// cancelTimerBody holds a client timeout.
type slotBody struct {
	rc     io.ReadCloser
	c      *call
	cancel context.CancelFunc
	stop   func() bool // stops watch's context.AfterFunc; nil if there is none
}

// Read reads the body. A read that fails as the attempt's own time runs
// out, the caller's context still live, matches ErrAttemptTimeout, as the
// attempt's error would have.
func (b *slotBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.finish()
	case err != nil && b.timedOut():
		// DeadlineExceeded: the attempt's time ran out, not a stall
		// (WithStallTimeout cancels the request's context with its cause).
		err = &attemptTimeoutError{after: b.c.f.attemptTimeout, err: err, body: true}
	}
	return n, err
}

// timedOut reports whether the attempt's own time ([WithAttemptTimeout])
// has run out, the caller's context still live. The request the call's
// last attempt sent carries the attempt's context.
func (b *slotBody) timedOut() bool {
	c := b.c
	return c.f.attemptTimeout > 0 && errors.Is(c.last.req.Context().Err(), context.DeadlineExceeded) && c.Err() == nil
}

func (b *slotBody) Close() error {
	err := b.rc.Close()
	b.finish()
	return err
}

// A writableBody is a slotBody whose body is also an io.Writer: that of a
// 101 Switching Protocols response, the connection itself, which net/http
// hands over as an io.ReadWriteCloser.
type writableBody struct {
	*slotBody
	w io.Writer
}

func (b writableBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// watch makes the body give up what it holds once ctx, its call's
// context, ends, as if it were closed: the attempt is over then (net/http
// ends the body's connection, and a read of it fails), so a body the
// caller never closes holds its slot no longer than its context lasts. A
// context that can never end is not watched, and costs nothing. The body
// stays open for the caller to close; closing it gives up nothing twice.
func (b *slotBody) watch(ctx context.Context) {
	if ctx.Done() != nil {
		b.stop = context.AfterFunc(ctx, b.release)
	}
}

// finish gives up what the body holds, once, whichever of EOF, Close and
// the end of its call's context comes first, and stops watching that
// context, so that a context that outlives the call keeps nothing of it.
func (b *slotBody) finish() {
	if b.stop != nil {
		b.stop()
	}
	b.release()
}

// release gives up what the body holds, unless it was given up already.
// It runs on the caller's goroutine (finish) or on the watch's.
func (b *slotBody) release() {
	if b.c.flags.Or(bodyDone)&bodyDone == 0 {
		b.cancel()
		b.c.end()
	}
}

// maxDrain bounds how much of a discarded body is read so that its
// connection can go back to the pool; past it, closing is cheaper.
const maxDrain = 4 << 10

// discardWait bounds how long reading a discarded body (a response
// retried, or a redirect followed) waits for bytes that do not come: a
// body whose server holds its connection open without ending it. A body
// that comes at once never waits for it.
const discardWait = 100 * time.Millisecond

// drainBody reads a little of what is left of a discarded response's body,
// while it comes, so that its connection can go back to the pool, and
// closes it. A body delimited by its connection's close is closed unread:
// its connection cannot be reused.
func drainBody(resp *http.Response) {
	if resp == nil {
		return
	}
	if !resp.Close {
		readPromptly(io.Discard, resp.Body, maxDrain, discardWait)
	}
	resp.Body.Close()
}

// readPromptly copies up to n bytes of body to w, for wait at most: a body
// that stalls is then closed, which ends the read.
func readPromptly(w io.Writer, body io.ReadCloser, n int64, wait time.Duration) {
	t := time.AfterFunc(wait, func() { body.Close() })
	io.CopyN(w, body, n)
	t.Stop()
}

func closeBody(resp *http.Response) {
	if resp != nil {
		resp.Body.Close()
	}
}

// closeUnsent closes the body of req, if any, a request that never
// reaches the transport: as [http.Client.Do] promises, a request's body is
// closed whatever becomes of the request, sent or not.
// A panic in the body's Close (the caller's code) is returned as a
// *PanicError, for the call to fail with.
func closeUnsent(req *http.Request) error {
	if req == nil || req.Body == nil {
		return nil
	}
	return recovering("closing the request body", func() { req.Body.Close() })
}

// readPrefix reads and closes resp's body, returning what it read of its
// first limit bytes, and the error that cut the read short, if one did.
func readPrefix(resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, limit))
}

// readBody reads and closes resp's body, failing with ErrBodyTooLarge as soon
// as it is known to exceed limit bytes: from Content-Length before reading,
// or after reading limit+1 bytes of it (after any decompression). The
// response to a HEAD request has no body, whatever its Content-Length says
// (net/http keeps the header's value there).
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	if resp.Request != nil && resp.Request.Method == http.MethodHead {
		return nil, nil
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds %d bytes", ErrBodyTooLarge, resp.ContentLength, limit)
	}
	if resp.ContentLength >= 0 && resp.ContentLength <= DefaultMaxBodySize && !resp.Uncompressed {
		// The length is known and within the cap: net/http ends the body
		// there, so read exactly that much. Past DefaultMaxBodySize (a cap
		// lifted with MaxBodySize or WithMaxBodySize) the buffer below
		// grows as the bytes come, so that a server's word alone sizes no
		// allocation.
		b := make([]byte, resp.ContentLength)
		if n, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, fmt.Errorf("reading body: %w", &cutError{read: int64(n), length: resp.ContentLength, err: err})
		}
		return b, nil
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if err == nil && !resp.Uncompressed && n < resp.ContentLength {
		err = io.ErrUnexpectedEOF // shorter than its length said
	}
	if err != nil {
		length := resp.ContentLength
		if resp.Uncompressed {
			length = -1 // n counts decompressed bytes
		}
		return nil, fmt.Errorf("reading body: %w", &cutError{read: n, length: length, err: err})
	}
	if n > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit)
	}
	return buf.Bytes(), nil
}
