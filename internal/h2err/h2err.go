// Package h2err reads net/http's HTTP/2 errors, whose types are
// unexported: a stream the server reset, and a connection closed after a
// GOAWAY with streams unfinished. The library's retry classification, the
// command-line tool's error kinds and the OpenTelemetry adapter's
// error.type all read them here.
package h2err

import (
	"errors"
	"fmt"
	"strings"
)

// streamError has the shape of the error net/http returns for an HTTP/2
// stream the server reset (RST_STREAM). net/http's copy of
// golang.org/x/net/http2's StreamError is unexported, but its As method
// fills in any struct with the same fields, so errors.As can read the code.
type streamError struct {
	StreamID uint32
	Code     uint32
	Cause    error
}

// Error makes streamError an error, as a target of errors.As must be.
func (e streamError) Error() string {
	return fmt.Sprintf("http2: stream %d reset with code %#x", e.StreamID, e.Code)
}

// The HTTP/2 error codes (RFC 9113 §7) the library retries on.
const (
	InternalError = 0x2 // the server failed the stream, as net/http's answers a handler's panic
	RefusedStream = 0x7 // the server did not process the stream (RFC 9113 §8.7)
	Cancel        = 0x8 // the stream was dropped, as proxies do when their upstream goes away
)

// ResetCode returns the error code of the HTTP/2 stream reset that err is
// or wraps, and whether it is one.
func ResetCode(err error) (code uint32, ok bool) {
	var se streamError
	if errors.As(err, &se) {
		return se.Code, true
	}
	return 0, false
}

// goAwayClosed starts net/http's error for a stream cut short by a server
// that sent GOAWAY and then closed the connection before the stream ended,
// as a server whose graceful shutdown timed out does. net/http's copy of
// golang.org/x/net/http2's GoAwayError is unexported and has no As method,
// so its text is the only thing to match; the library's
// TestH2GoAwayClosedRetried fails if net/http changes it.
const goAwayClosed = "http2: server sent GOAWAY and closed the connection"

// GoAwayClosed reports whether err is, or wraps, net/http's error for a
// stream cut short by a GOAWAY and the connection's close.
func GoAwayClosed(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.HasPrefix(e.Error(), goAwayClosed) {
			return true
		}
	}
	return false
}

// Reset reports whether err is HTTP/2's word for a connection reset: a
// stream the server reset (RST_STREAM received, with any code), or one cut
// short by a GOAWAY and the connection's close. A stream error the client
// raised itself (a malformed response) is not one.
func Reset(err error) bool {
	var se streamError
	if errors.As(err, &se) {
		return se.Cause != nil && se.Cause.Error() == fromPeer
	}
	return GoAwayClosed(err)
}

// fromPeer is the Cause net/http gives a stream error it received in an
// RST_STREAM frame (its copy of x/net/http2's errFromPeer).
const fromPeer = "received from peer"
