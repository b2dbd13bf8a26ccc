package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// OnAttempt sees what became of the body: an attempt whose body is cut
// short by the attempt's timeout is reported as failed, and the adaptive
// rate takes it as the overload it is, instead of growing on it.
func TestOnAttemptSeesTheBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("start"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest never comes
	}))
	defer srv.Close()
	var mu sync.Mutex
	var infos []AttemptInfo
	f, err := New(
		WithAttemptTimeout(100*time.Millisecond),
		WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}),
		WithAdaptiveRate(AdaptiveRate{Floor: 1, Ceiling: 100, Initial: 10}),
		WithHooks(Hooks{OnAttempt: func(i AttemptInfo) {
			mu.Lock()
			infos = append(infos, i)
			mu.Unlock()
		}}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	_, err = f.Get(context.Background(), srv.URL)
	if !errors.Is(err, ErrAttemptTimeout) {
		t.Fatalf("Get = %v; want an attempt timeout", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(infos) != 3 {
		t.Fatalf("OnAttempt ran %d times; want 3", len(infos))
	}
	for _, i := range infos {
		if !errors.Is(i.Err, ErrAttemptTimeout) || i.Response != nil || i.Status != 200 {
			t.Errorf("attempt %d: Err %v, Response %v, Status %d; want the body's timeout, no Response, status 200",
				i.Attempt, i.Err, i.Response != nil, i.Status)
		}
		if i.Duration < 50*time.Millisecond { // a send alone takes a millisecond or so

			t.Errorf("attempt %d: Duration %v; want the attempt's time, body included", i.Attempt, i.Duration)
		}
	}
	if r := infos[2].HostRate; r >= 10 {
		t.Errorf("adaptive rate after 3 body timeouts: %v; want cut below 10", r)
	}
}

// A StatusError carries the response's header and the start of its body,
// and says what the body says; GetJSON returns it for an API's error.
func TestStatusErrorCarriesBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("/quota", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Request-Id", "r-1")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"error":"quota exceeded"}`)
		})
		mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(strings.Repeat("x", 3*MaxErrorBody)))
		})
		f := newMem(t, mux, WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
		_, err := GetJSON[map[string]int](context.Background(), f, "http://a.test/quota")
		var se *StatusError
		if !errors.As(err, &se) {
			t.Fatalf("GetJSON = %v; want a *StatusError", err)
		}
		if string(se.Body) != `{"error":"quota exceeded"}` || se.Header.Get("X-Request-Id") != "r-1" {
			t.Errorf("StatusError Body %q, X-Request-Id %q; want the API's body and header", se.Body, se.Header.Get("X-Request-Id"))
		}
		if !strings.Contains(err.Error(), "quota exceeded") {
			t.Errorf("error text %q does not say what the API said", err)
		}

		r := f.Fetch(context.Background(), "http://a.test/big")
		if !errors.As(r.Err, &se) || len(se.Body) != MaxErrorBody || len(r.Body) != 3*MaxErrorBody {
			t.Errorf("503 with a 12 KiB body: StatusError body %d bytes, Result body %d; want %d and %d",
				len(se.Body), len(r.Body), MaxErrorBody, 3*MaxErrorBody)
		}
	})
}

// A StatusError built before a body is closed unread (a retry budget that
// refuses) still carries the body's start.
func TestStatusErrorOfRefusedRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "upstream down")
		}), WithRetryBudget(RetryBudget{Ratio: 0.01, Min: 1, Window: time.Second}),
			WithRetry(RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond}))
		var last error
		for range 3 {
			_, last = f.Get(context.Background(), "http://a.test/")
		}
		var be *RetryBudgetError
		var se *StatusError
		if !errors.As(last, &be) || !errors.As(last, &se) || string(se.Body) != "upstream down" {
			t.Errorf("Get = %v; want a RetryBudgetError wrapping the 502 with its body", last)
		}
	})
}

// GetJSON's decoding errors are *Error like every other error, naming the
// request and wrapping the decoder's error.
func TestGetJSONDecodeErrorIsError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"id": "seven"}`)
		}))
		_, err := GetJSON[struct{ ID int }](context.Background(), f, "http://user:secret@a.test/item")
		var e *Error
		var te *json.UnmarshalTypeError
		if !errors.As(err, &e) || !errors.As(err, &te) || e.Attempts != 1 || strings.Contains(err.Error(), "secret") {
			t.Errorf("GetJSON = %v; want an *Error, attempts 1, wrapping *json.UnmarshalTypeError, password redacted", err)
		}
	})
}

// The adaptive rate is cut by overload (a 429, a 503 with Retry-After, a
// timeout), not by a server that fails: 503s without Retry-After and 500s
// leave it to grow.
func TestAdaptiveIgnoresFailuresThatAreNotOverload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThrottle(AdaptiveRate{Floor: 1, Ceiling: 1000, Initial: 100})
		for _, code := range []int{500, 503, 502} {
			time.Sleep(10 * time.Millisecond)
			th.observe(nil, testOutcome(time.Now(), &http.Response{StatusCode: code, Header: http.Header{}}, nil))
		}
		if _, cuts := th.snapshot(); cuts != 0 {
			t.Errorf("%d cuts after 500, 503 and 502 without Retry-After; want 0", cuts)
		}
		time.Sleep(10 * time.Millisecond)
		th.observe(nil, testOutcome(time.Now(), &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {"1"}}}, nil))
		if _, cuts := th.snapshot(); cuts != 1 {
			t.Errorf("%d cuts after a 503 with Retry-After; want 1", cuts)
		}
	})
}

// The hooks see a call from start to end: OnCall's context reaches every
// attempt's request and OnDone, and OnDone has the call's outcome.
func TestHooksSeeTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := 0
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n++; n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, "ok")
		}), WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}))
		type key struct{}
		var mu sync.Mutex
		var seen []string
		add := func(s string) { mu.Lock(); seen = append(seen, s); mu.Unlock() }
		f2, err := New(WithClient(f.client), WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}),
			WithHooks(Hooks{
				OnCall: func(ctx context.Context, i CallInfo) context.Context {
					add("call " + i.Host)
					return context.WithValue(ctx, key{}, "span")
				},
				OnAttempt: func(i AttemptInfo) {
					add(fmt.Sprintf("attempt %d %d %v", i.Attempt, i.Status, i.Request.Context().Value(key{})))
				},
				OnRetry: func(i RetryInfo) { add(fmt.Sprintf("retry %d", i.Attempt)) },
				OnDone: func(i DoneInfo) {
					add(fmt.Sprintf("done %d %d %v %v", i.Attempts, i.Status, i.Err, i.Context.Value(key{})))
				},
			}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f2.Get(context.Background(), "http://a.test/"); err != nil {
			t.Fatal(err)
		}
		want := "call a.test|attempt 1 503 span|retry 1|attempt 2 200 span|done 2 200 <nil> span"
		if got := strings.Join(seen, "|"); got != want {
			t.Errorf("hooks saw\n%s\nwant\n%s", got, want)
		}
	})
}

// OnDone sees the error the caller gets: for a call that reads the body,
// a non-2xx status is a *StatusError there too, with the status.
func TestOnDoneSeesStatusError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var done DoneInfo
		f := newMem(t, http.NotFoundHandler(), WithHooks(Hooks{OnDone: func(i DoneInfo) { done = i }}))
		_, err := f.Get(context.Background(), "http://a.test/missing")
		var se *StatusError
		if !errors.As(done.Err, &se) || done.Err != err || done.Status != 404 || done.Attempts != 1 {
			t.Errorf("OnDone saw %+v; want the caller's error %v, status 404, 1 attempt", done, err)
		}
	})
}

// Stats counts calls by how they ended, and attempts apart from calls: a
// 404 is a failed call, not a completed one.
func TestStatsCountsCallsByOutcome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
		mux.HandleFunc("/missing", http.NotFound)
		mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		f := newMem(t, mux, WithRetry(RetryPolicy{MaxAttempts: 1}))
		ctx := context.Background()
		f.Get(ctx, "http://a.test/ok")
		f.Get(ctx, "http://a.test/missing")
		f.Get(ctx, "file:///etc/passwd")
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		f.Get(tctx, "http://a.test/hang")
		cancel()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		f.Get(cctx, "http://a.test/ok")
		want := Stats{Calls: 5, Succeeded: 1, Attempts: 3,
			Failed: Failures{Status: 1, Refused: 1, Timeout: 1, Canceled: 1}}
		if got := f.Stats(); !reflect.DeepEqual(got, want) {
			t.Errorf("Stats = %+v\nwant    %+v", got, want)
		}
	})
}
