package fetch

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// The scheduler's alarm wakes a parked worker some time after a token is
// due. gates.try, told the time the token was due (clock.hostDue,
// clock.globalDue), takes a burst-1 bucket's token as of then, so that the
// next is due one interval after it, not one interval after the late
// wake-up: each late wake-up otherwise lost its lateness from the rate
// (a Stream at 1,000/s with burst 1 ran at about 770/s).
func TestTryTakesLateTokenAsOfItsDue(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opt    Option
		late   func(c *clock, due time.Time)
		refuse refusal
	}{
		{"host", WithHostRate(PerSecond(1000), 1), func(c *clock, due time.Time) { c.hostDue = due }, hostLater},
		{"global", WithRate(PerSecond(1000), 1), func(c *clock, due time.Time) { c.globalDue = due }, globalLater},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, h, hs, gs := spentBucket(t, tc.opt)
				why, due := f.gates.try(h, hs, gs, new(clock))
				if why != tc.refuse || !due.Equal(time.Now().Add(time.Millisecond)) {
					t.Fatalf("second try: %v, due in %v; want %v, due in 1ms", why, time.Until(due), tc.refuse)
				}
				time.Sleep(time.Until(due) + 300*time.Microsecond) // the wake-up's latency
				c := new(clock)
				tc.late(c, due)
				if why, _ := f.gates.try(h, hs, gs, c); why != granted {
					t.Fatalf("try 300µs after the token's due time: %v; want granted", why)
				}
				f.gates.release(h)
				why, next := f.gates.try(h, hs, gs, new(clock))
				if why != tc.refuse || !next.Equal(due.Add(time.Millisecond)) {
					t.Errorf("next token due %v after the late one's due time; want 1ms (its interval)", next.Sub(due))
				}
			})
		})
	}
}

// A token taken by another caller since the due time leaves the bucket
// empty as of then: the late try is refused, and told when the next is
// due from now; it never takes a token the bucket did not hold. And a try
// much later than the due time (past maxLate, a worker held up by more
// than its wake-up) takes its token as of now.
func TestTryLateTokenOnlyIfUntaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, h, hs, gs := spentBucket(t, WithHostRate(PerSecond(1000), 1))
		_, due := f.gates.try(h, hs, gs, new(clock))
		time.Sleep(time.Until(due) + 100*time.Microsecond)
		if _, err := f.Get(context.Background(), "http://a.test/"); err != nil { // takes the token due
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond)
		c := &clock{hostDue: due}
		why, next := f.gates.try(h, hs, gs, c)
		if why != hostLater || !next.Equal(due.Add(1100*time.Microsecond)) {
			t.Fatalf("late try after another caller took the token: %v, next due %v after the due time; want hostLater, 1.1ms (the other's take + 1ms)", why, next.Sub(due))
		}

		time.Sleep(time.Until(next) + maxLate + time.Millisecond)
		c = &clock{hostDue: next}
		if why, _ := f.gates.try(h, hs, gs, c); why != granted {
			t.Fatalf("try long after the due time: %v; want granted", why)
		}
		f.gates.release(h)
		now := time.Now()
		if why, after := f.gates.try(h, hs, gs, new(clock)); why != hostLater || !after.Equal(now.Add(time.Millisecond)) {
			t.Errorf("after a token taken %v late: %v, next due in %v; want hostLater, due in 1ms (taken as of now)", maxLate+time.Millisecond, why, after.Sub(now))
		}
	})
}

// spentBucket returns a Fetcher, built with opt, whose rate bucket for
// a.test has just given its token to a try, with the host and the seats
// to try it with again.
func spentBucket(t *testing.T, opt Option) (*Fetcher, *host, *hostSeats, *globalSeats) {
	t.Helper()
	f := newMem(t, http.HandlerFunc(ok), opt)
	h := f.gates.hosts.get("a.test")
	t.Cleanup(func() { f.gates.hosts.put(h) })
	hs, gs := new(hostSeats), new(globalSeats)
	if why, _ := f.gates.try(h, hs, gs, new(clock)); why != granted {
		t.Fatalf("first try: %v; want granted", why)
	}
	f.gates.release(h)
	return f, h, hs, gs
}
