package fetch

import (
	"testing"
	"testing/synctest"
	"time"
)

// Events leave the window once its span has passed, by kind.
func TestWindowSlides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWindow(time.Second)
		start := time.Now()
		w.add(time.Now(), 0)
		time.Sleep(500 * time.Millisecond)
		w.add(time.Now(), 0)
		w.add(time.Now(), 1)
		if a, b := w.total(time.Now()); a != 2 || b != 1 {
			t.Errorf("at 0.5s: %d, %d; want 2, 1", a, b)
		}
		if a, _ := w.since(start.Add(200 * time.Millisecond)); a != 1 {
			t.Errorf("since 0.2s: %d; want 1", a)
		}
		time.Sleep(700 * time.Millisecond)
		if a, b := w.total(time.Now()); a != 1 || b != 1 {
			t.Errorf("at 1.2s: %d, %d; want 1, 1 (the first event aged out)", a, b)
		}
		time.Sleep(time.Second)
		if a, b := w.total(time.Now()); a != 0 || b != 0 {
			t.Errorf("at 2.2s: %d, %d; want 0, 0", a, b)
		}
	})
}
