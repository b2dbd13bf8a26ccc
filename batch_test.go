package fetch

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// echo answers a path /N after N milliseconds with body N, or with 404 when
// N is a multiple of 10, so that completion order differs from input order.
func echo(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
	time.Sleep(time.Duration(100-n%100) * time.Millisecond)
	if n%10 == 0 {
		http.NotFound(w, r)
		return
	}
	fmt.Fprint(w, n)
}

func TestGetAllInInputOrderWithPerItemErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(echo), WithConcurrency(8))
		urls := make([]string, 100)
		for i := range urls {
			urls[i] = fmt.Sprintf("http://a.test/%d", i)
		}
		urls[7] = "::not a url"
		results := f.GetAll(context.Background(), urls)
		if len(results) != len(urls) {
			t.Fatalf("%d results for %d URLs", len(results), len(urls))
		}
		for i, r := range results {
			var se *StatusError
			switch {
			case r.Index != i:
				t.Errorf("results[%d].Index = %d", i, r.Index)
			case i == 7:
				if !errors.Is(r.Err, ErrInvalidURL) {
					t.Errorf("results[7].Err = %v; want ErrInvalidURL", r.Err)
				}
			case i%10 == 0:
				if !errors.As(r.Err, &se) || se.StatusCode != 404 || r.Status != 404 {
					t.Errorf("results[%d]: status %d, err %v; want 404 *StatusError", i, r.Status, r.Err)
				}
			case r.Err != nil || string(r.Body) != strconv.Itoa(i) || r.Attempts != 1 || r.URL != urls[i]:
				t.Errorf("results[%d] = %q, %v, %d attempts, URL %q; want %q, nil, 1, %q", i, r.Body, r.Err, r.Attempts, r.URL, strconv.Itoa(i), urls[i])
			}
		}
	})
}

func TestGetAllFailFastStopsTheRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/3" {
				http.Error(w, "no", http.StatusForbidden)
				return
			}
			select { // the others take an hour, unless cancelled
			case <-time.After(time.Hour):
			case <-r.Context().Done():
			}
		})
		f := newMem(t, c, WithConcurrency(4))
		urls := make([]string, 100)
		for i := range urls {
			urls[i] = fmt.Sprintf("http://a.test/%d", i)
		}
		start := time.Now()
		results, err := f.GetAllFailFast(context.Background(), urls)
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 403 {
			t.Fatalf("err = %v; want the 403 *StatusError", err)
		}
		// At most the 4 that can be in flight when the failure lands (a
		// worker may not have sent its request yet), and none after it.
		if time.Since(start) != 0 || c.n.Load() > 4 {
			t.Errorf("took %v, server saw %d; want at once, at most 4", time.Since(start), c.n.Load())
		}
		for i, r := range results {
			if i != 3 && !errors.Is(r.Err, context.Canceled) {
				t.Errorf("results[%d].Err = %v; want context.Canceled", i, r.Err)
			}
		}
	})
}

func TestDoAllSendsRequestsInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, r.Method, " ", r.URL.Path)
		}))
		var reqs []*http.Request
		for _, m := range []string{"GET", "DELETE", "PUT"} {
			req, _ := http.NewRequest(m, "http://a.test/"+strings.ToLower(m), nil)
			reqs = append(reqs, req)
		}
		reqs = append(reqs, nil)
		results := f.DoAll(context.Background(), reqs)
		for i, want := range []string{"GET /get", "DELETE /delete", "PUT /put"} {
			if results[i].Err != nil || string(results[i].Body) != want {
				t.Errorf("results[%d] = %q, %v; want %q", i, results[i].Body, results[i].Err, want)
			}
		}
		if !errors.Is(results[3].Err, errNilRequest) {
			t.Errorf("nil request: err = %v; want errNilRequest", results[3].Err)
		}
	})
}

func TestGetAllCancelledLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(slow), WithConcurrency(4))
		urls := make([]string, 1000)
		for i := range urls {
			urls[i] = fmt.Sprintf("http://a.test/%d", i)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 55*time.Millisecond)
		defer cancel()
		var done, cancelled int
		for _, r := range f.GetAll(ctx, urls) {
			switch {
			case r.Err == nil:
				done++
			case errors.Is(r.Err, context.DeadlineExceeded):
				cancelled++
			default:
				t.Errorf("result %d: %v", r.Index, r.Err)
			}
		}
		if done != 20 || cancelled != 980 {
			t.Errorf("%d done, %d cancelled; want 20 done in 55ms (4 at a time, 10ms each), 980 cancelled", done, cancelled)
		}
	})
}

func urlSeq(n int) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range n {
			if !yield("http://a.test/" + strconv.Itoa(i)) {
				return
			}
		}
	}
}

// 100,000 inputs stream through with goroutines bounded by the concurrency,
// every input yielding exactly one result.
func TestStreamBoundedGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const n, conc = 100_000, 16
	f := newMem(t, http.HandlerFunc(ok), WithConcurrency(conc))
	base := runtime.NumGoroutine()
	most := 0
	seen := make([]bool, n)
	got := 0
	for r := range f.Stream(t.Context(), urlSeq(n)) {
		if r.Err != nil || seen[r.Index] {
			t.Fatalf("result %d: err %v, seen before %v", r.Index, r.Err, seen[r.Index])
		}
		seen[r.Index] = true
		got++
		if got%1000 == 0 {
			most = max(most, runtime.NumGoroutine()-base)
		}
	}
	if got != n {
		t.Errorf("%d results for %d inputs", got, n)
	}
	if most > conc+8 {
		t.Errorf("up to %d extra goroutines; want at most concurrency + 8 = %d", most, conc+8)
	}
}

func TestStreamBreakLeavesNothingRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := count(slow)
		f := newMem(t, c, WithConcurrency(8))
		for r := range f.Stream(context.Background(), urlSeq(1_000_000)) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			break
		}
		seen := c.n.Load()
		if s := f.Stats(); s.InFlight != 0 || s.Waiting != 0 {
			t.Errorf("after break: %+v; want nothing in flight or waiting", s)
		}
		synctest.Wait() // anything still running would send more requests
		if c.n.Load() != seen || seen > 16 {
			t.Errorf("server saw %d requests at the break and %d after; want no more after, at most 16", seen, c.n.Load())
		}
	})
	// The same on real goroutines, checked by goleak.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := newMem(t, http.HandlerFunc(ok))
	for range f.Stream(t.Context(), urlSeq(1_000_000)) {
		break
	}
}

func TestStreamCancelledYieldsEveryInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(slow), WithConcurrency(4))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var ok, cancelled, total atomic.Int64
		for r := range f.Stream(ctx, urlSeq(500)) {
			total.Add(1)
			if r.Err == nil {
				ok.Add(1)
			} else if errors.Is(r.Err, context.Canceled) {
				cancelled.Add(1)
			}
			if total.Load() == 10 {
				cancel()
			}
		}
		if total.Load() != 500 || ok.Load()+cancelled.Load() != 500 || ok.Load() < 10 {
			t.Errorf("%d results (%d ok, %d cancelled); want 500, all ok or cancelled", total.Load(), ok.Load(), cancelled.Load())
		}
	})
}

func TestStreamRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(echo))
		reqs := func(yield func(*http.Request) bool) {
			for i := 1; i <= 5; i++ {
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://a.test/%d", i), nil)
				if !yield(req) {
					return
				}
			}
		}
		var order []int
		for r := range f.StreamRequests(context.Background(), reqs) {
			if r.Err != nil || string(r.Body) != strconv.Itoa(r.Index+1) {
				t.Errorf("result %d = %q, %v", r.Index, r.Body, r.Err)
			}
			order = append(order, r.Index)
		}
		// echo answers later paths sooner: results come as they complete.
		if fmt.Sprint(order) != "[4 3 2 1 0]" {
			t.Errorf("completion order %v; want [4 3 2 1 0]", order)
		}
	})
}

func TestStreamFuncBuildsRequestsAndReportsBuildErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, r.Method, " ", r.Header.Get("X-Token"))
		}))
		in := func(yield func(int) bool) {
			for i := range 4 {
				if !yield(i) {
					return
				}
			}
		}
		errOdd := errors.New("odd input")
		build := func(ctx context.Context, n int) (*http.Request, error) {
			if n%2 == 1 {
				return nil, errOdd
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodDelete, "http://a.test/", nil)
			req.Header.Set("X-Token", strconv.Itoa(n))
			return req, err
		}
		got := map[int]Result{}
		for r := range StreamFunc(context.Background(), f, in, build) {
			got[r.Index] = r
		}
		for i := range 4 {
			r := got[i]
			if i%2 == 1 && !errors.Is(r.Err, errOdd) {
				t.Errorf("input %d: err = %v; want the build error", i, r.Err)
			}
			if want := "DELETE " + strconv.Itoa(i); i%2 == 0 && (r.Err != nil || string(r.Body) != want) {
				t.Errorf("input %d = %q, %v; want %q", i, r.Body, r.Err, want)
			}
		}
	})
}

func TestResultURLsRedactedAndFinal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	withPassword := strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1) + "/p"
	rs := f.GetAll(t.Context(), []string{srv.URL + "/old", withPassword, srv.URL + "/same"})
	if rs[0].URL != srv.URL+"/old" || rs[0].FinalURL != srv.URL+"/new" {
		t.Errorf("redirected: URL %q, FinalURL %q; want /old, /new", rs[0].URL, rs[0].FinalURL)
	}
	if strings.Contains(rs[1].URL, "hunter2") || strings.Contains(rs[1].FinalURL, "hunter2") || !strings.Contains(rs[1].URL, "user:xxxxx@") {
		t.Errorf("with a password: URL %q, FinalURL %q; want it redacted", rs[1].URL, rs[1].FinalURL)
	}
	if rs[2].URL != srv.URL+"/same" || rs[2].FinalURL != rs[2].URL {
		t.Errorf("not redirected: URL %q, FinalURL %q; want both the input", rs[2].URL, rs[2].FinalURL)
	}
}

// A Result's Duration covers the whole call: every attempt, the body and
// the waits between attempts.
func TestResultDurationCoversTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen atomic.Int64
		slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(2 * time.Second)
			if seen.Add(1) == 1 {
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte("ok"))
		})
		f := newMem(t, slow)
		r := f.GetAll(context.Background(), []string{"http://a.test/"})[0]
		// 2 s, a 3 s Retry-After, then 2 s more.
		if r.Err != nil || r.Attempts != 2 || r.Duration != 7*time.Second {
			t.Errorf("Duration %v after %d attempts (err %v); want 7s after 2", r.Duration, r.Attempts, r.Err)
		}
	})
}

// GetAll never cancels, so under a context that cannot be cancelled its
// requests carry one that cannot either: a cancellable layer would be
// registered with its parent and removed again on every request, for a
// cancellation that never comes. GetAllFailFast needs one, and has it.
func TestGetAllAddsNoCancellableContext(t *testing.T) {
	var cancellable atomic.Int64
	f := newMem(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Done() != nil {
			cancellable.Add(1)
		}
	}))
	urls := []string{"http://a.test/1", "http://a.test/2", "http://a.test/3"}
	f.GetAll(context.Background(), urls)
	if n := cancellable.Load(); n != 0 {
		t.Errorf("GetAll: %d of %d requests had a cancellable context; want 0", n, len(urls))
	}
	f.GetAllFailFast(context.Background(), urls)
	if n := cancellable.Load(); n != int64(len(urls)) {
		t.Errorf("GetAllFailFast: %d of %d requests had a cancellable context; want all", n, len(urls))
	}
}
