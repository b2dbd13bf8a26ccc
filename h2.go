package fetch

import (
	"errors"
	"fmt"
	"strings"
)

// h2StreamError has the shape of the error net/http returns for an HTTP/2
// stream the server reset (RST_STREAM). net/http's copy of
// golang.org/x/net/http2's StreamError is unexported, but its As method
// fills in any struct with the same fields, so errors.As can read the code.
type h2StreamError struct {
	StreamID uint32
	Code     uint32
	Cause    error
}

// Error makes h2StreamError an error, as a target of errors.As must be.
func (e h2StreamError) Error() string {
	return fmt.Sprintf("http2: stream %d reset with code %#x", e.StreamID, e.Code)
}

// The HTTP/2 error codes (RFC 9113 §7) of a stream reset that a fresh
// attempt may cure, as a fresh connection may cure a reset one over
// HTTP/1: the server did not process the stream (REFUSED_STREAM, see RFC
// 9113 §8.7), failed it (INTERNAL_ERROR, as net/http's server answers a
// handler's panic), or dropped it (CANCEL, as proxies do when their
// upstream goes away).
const (
	h2InternalError = 0x2
	h2RefusedStream = 0x7
	h2Cancel        = 0x8
)

// goAwayClosed starts net/http's error for a stream cut short by a server
// that sent GOAWAY and then closed the connection before the stream ended,
// as a server whose graceful shutdown timed out does. net/http's copy of
// golang.org/x/net/http2's GoAwayError is unexported and has no As method,
// so its text is the only thing to match; TestH2GoAwayClosedRetried fails
// if net/http changes it.
const goAwayClosed = "http2: server sent GOAWAY and closed the connection"

// h2Cut reports whether err is, or wraps, an HTTP/2 stream cut short in a
// way a fresh attempt may cure: a reset with one of the codes above, or a
// connection closed after a GOAWAY. These are HTTP/2's words for what
// HTTP/1 reports as a connection reset or closed early.
func h2Cut(err error) bool {
	var se h2StreamError
	if errors.As(err, &se) {
		return se.Code == h2InternalError || se.Code == h2RefusedStream || se.Code == h2Cancel
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.HasPrefix(e.Error(), goAwayClosed) {
			return true
		}
	}
	return false
}
