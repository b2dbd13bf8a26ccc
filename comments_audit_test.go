package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"golang.org/x/time/rate"
)

// auditBody is a request body that counts its Close calls.
type auditBody struct {
	io.Reader
	closed atomic.Int32
}

func (b *auditBody) Close() error { b.closed.Add(1); return nil }

// TestCommentAuditUnsentFirstAttemptClosesBody: finish closes the body of a
// request that never reached the transport, as Do promises; a first attempt
// that WithBearerTokenFunc fails before it is sent is such a request.
func TestCommentAuditUnsentFirstAttemptClosesBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("no token")
		f := newMem(t, http.HandlerFunc(ok), WithBearerTokenFunc(func(context.Context) (string, error) { return "", boom }))
		body := &auditBody{Reader: strings.NewReader("payload")}
		req, err := http.NewRequest(http.MethodPost, "http://a.test/", body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := f.Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		if !errors.Is(err, boom) {
			t.Fatalf("Do: err = %v; want %v", err, boom)
		}
		if got := body.closed.Load(); got != 1 {
			t.Errorf("request body closed %d times; want 1", got)
		}
	})
}

// TestCommentAuditTicketTurnBurstZero: a scheduler's ticket whose turn at a
// bucket comes after the caller set the bucket's burst to 0 reserves no
// token, and its request goes to the gates' own refusal, as a Do's does,
// rather than being sent without a token.
func TestCommentAuditTicketTurnBurstZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := rate.NewLimiter(1, 1)
		lim.Allow() // empty: the next token is due in a second
		h := count(ok)
		f := newMem(t, h, WithLimiter(lim))
		first := make(chan error, 1)
		go func() {
			resp, err := f.Do(mustGet(t, "http://a.test/first"))
			if err == nil {
				resp.Body.Close()
			}
			first <- err
		}()
		synctest.Wait() // the Do waits at the front of the bucket's line
		batch := make(chan []Result, 1)
		go func() { batch <- f.GetAll(t.Context(), []string{"http://b.test/second"}) }()
		synctest.Wait() // the batch's ticket waits behind it
		lim.SetBurst(0) // the caller stops the traffic the bucket gates
		if err := <-first; err != nil {
			t.Fatalf("Do: %v", err)
		}
		rs := <-batch
		if rs[0].Err == nil {
			t.Errorf("batch request: status %d, no error; want the burst-0 bucket's refusal", rs[0].Status)
		}
		if got := h.n.Load(); got != 1 {
			t.Errorf("requests sent = %d; want 1 (only the Do's, whose token was reserved before)", got)
		}
	})
}

// TestCommentAuditUnsentRetryClosesRewoundBody: a retry that
// WithBearerTokenFunc fails before it is sent closes the body GetBody made
// for it, as the transport would have had it been sent.
func TestCommentAuditUnsentRetryClosesRewoundBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var asked atomic.Int32
		boom := errors.New("no token")
		token := func(context.Context) (string, error) {
			if asked.Add(1) > 1 {
				return "", boom
			}
			return "t", nil
		}
		f := newMem(t, failing(1, http.StatusServiceUnavailable, nil), WithBearerTokenFunc(token))
		var bodies []*auditBody
		req, err := http.NewRequest(http.MethodPut, "http://a.test/", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		req.GetBody = func() (io.ReadCloser, error) {
			b := &auditBody{Reader: strings.NewReader("payload")}
			bodies = append(bodies, b)
			return b, nil
		}
		resp, err := f.Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		if !errors.Is(err, boom) {
			t.Fatalf("Do: err = %v; want %v", err, boom)
		}
		if len(bodies) != 1 {
			t.Fatalf("GetBody called %d times; want 1", len(bodies))
		}
		if got := bodies[0].closed.Load(); got != 1 {
			t.Errorf("rewound body closed %d times; want 1", got)
		}
	})
}
