package fetch

import "github.com/c989c033/fetch/internal/h2err"

// h2Cut reports whether err is, or wraps, an HTTP/2 stream cut short in a
// way a fresh attempt may cure: one the server reset because it did not
// process it (REFUSED_STREAM), failed it (INTERNAL_ERROR) or dropped it
// (CANCEL), or a connection closed after a GOAWAY. These are HTTP/2's
// words for what HTTP/1 reports as a connection reset or closed early.
func h2Cut(err error) bool {
	if code, ok := h2err.ResetCode(err); ok {
		return code == h2err.InternalError || code == h2err.RefusedStream || code == h2err.Cancel
	}
	return h2err.GoAwayClosed(err)
}
