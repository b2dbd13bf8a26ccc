package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A caller that cancels a Get while the body of a non-2xx response is
// being read gets context.Canceled, as the README's failure table says for
// a call its caller ends. Before, the read's error was dropped and the call
// reported the status alone (a resty port test failed so, now and then).
func TestGetCancelledWhileReadingErrorBody(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select { // the rest of the body never comes
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := New(WithTransportWrapper(func(next http.RoundTripper) http.RoundTripper {
		return aioRT(func(req *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(req)
			if err == nil {
				resp.Body = &cancelOnRead{ReadCloser: resp.Body, cancel: cancel}
			}
			return resp, err
		})
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Get(ctx, srv.URL)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Get: err = %v; want it to match context.Canceled", err)
	}
	// The same through the typed path, which reads the start of a non-2xx
	// body into its StatusError.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	_, err = GetJSON[map[string]any](ctx, f, srv.URL)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("GetJSON: err = %v; want it to match context.Canceled", err)
	}
}

// cancelOnRead cancels the call once its body has begun to be read: the
// second Read, after "partial", ends the call while the body is read.
type cancelOnRead struct {
	io.ReadCloser
	cancel context.CancelFunc
	reads  int
}

func (b *cancelOnRead) Read(p []byte) (int, error) {
	if b.reads++; b.reads == 2 {
		b.cancel()
	}
	return b.ReadCloser.Read(p)
}
