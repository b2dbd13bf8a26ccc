package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// stallingTransport answers every request with status, whose body sends
// nothing: a read of it waits until the request's context ends or the
// body is closed, as a real connection's does.
type stallingTransport struct{ status int }

func (t stallingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body := &stalledBody{ctx: req.Context(), closed: make(chan struct{})}
	return &http.Response{StatusCode: t.status, Status: fmt.Sprint(t.status, " ", http.StatusText(t.status)),
		Header: http.Header{}, Body: body, ContentLength: -1, Request: req, ProtoMajor: 1, ProtoMinor: 1}, nil
}

type stalledBody struct {
	ctx    context.Context
	once   sync.Once
	closed chan struct{}
}

func (b *stalledBody) Read([]byte) (int, error) {
	select {
	case <-b.ctx.Done():
		return 0, b.ctx.Err()
	case <-b.closed:
		return 0, http.ErrBodyReadAfterClose
	}
}

func (b *stalledBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// A failure that opens its host's breaker ends the call at once, even when
// the failed response's body sends nothing: the breaker's error keeps what
// came of the body promptly, as a retry does, rather than wait for the rest.
func TestReviewBreakerRefusalDoesNotWaitForAStalledBody(t *testing.T) {
	for _, name := range []string{"Do", "Get"} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, err := New(WithClient(&http.Client{Transport: stallingTransport{503}}),
					WithCircuitBreaker(CircuitBreaker{ConsecutiveFailures: 1, OpenFor: time.Minute}))
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
				defer cancel()
				start := time.Now()
				if name == "Do" {
					req, _ := http.NewRequestWithContext(ctx, "GET", "http://a.test/", nil)
					var resp *http.Response
					resp, err = f.Do(req)
					if err == nil {
						resp.Body.Close()
					}
				} else {
					_, err = f.Get(ctx, "http://a.test/")
				}
				var se *StatusError
				if !errors.Is(err, ErrCircuitOpen) || !errors.As(err, &se) || se.StatusCode != 503 {
					t.Errorf("err = %v; want ErrCircuitOpen with the 503's StatusError", err)
				}
				if took := time.Since(start); took > time.Second {
					t.Errorf("the call took %v; want the refusal at once", took)
				}
				f.Shutdown(context.Background())
			})
		})
	}
}

// Closing a capped body ends a read of it that waits for its share of the
// bandwidth, as closing a net/http body ends a read that waits for bytes:
// the reader is not held until a budget that other bodies share pays for
// bytes nobody will read.
func TestReviewBandwidthCloseEndsWaitingRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := bwFetcher(t, 64*kib, WithBandwidth(kib), WithConcurrency(20))
		defer f.Shutdown(context.Background())
		const n = 10
		var bodies []io.ReadCloser
		for range n {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://a.test/", nil)
			resp, err := f.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, resp.Body)
		}
		// Each read asks for a second's worth: the last one waits n-1 seconds.
		var last chan error
		for _, b := range bodies {
			ch := make(chan error, 1)
			last = ch
			go func() {
				_, err := b.Read(make([]byte, kib))
				ch <- err
			}()
			synctest.Wait()
		}
		start := time.Now()
		bodies[n-1].Close()
		err := <-last
		if took := time.Since(start); took > 0 {
			t.Errorf("the read waiting for bandwidth returned %v after its body was closed; want at once", took)
		}
		if err == nil {
			t.Errorf("read after Close: err = nil; want an error")
		}
		for _, b := range bodies {
			b.Close()
		}
	})
}
