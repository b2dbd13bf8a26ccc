package fetch

import "sync/atomic"

// A notifier wakes the goroutines waiting for something to change, such as
// a slot coming free. Waiters take the channel with wait before they look
// at what they wait for, and block on it only if what they saw did not let
// them go on; notify closes it. A notify with nobody waiting costs one
// atomic load.
type notifier struct {
	ch atomic.Pointer[chan struct{}]
}

// wait returns a channel that is closed by the next notify.
func (n *notifier) wait() <-chan struct{} {
	for {
		if p := n.ch.Load(); p != nil {
			return *p
		}
		ch := make(chan struct{})
		if n.ch.CompareAndSwap(nil, &ch) {
			return ch
		}
	}
}

// notify wakes every goroutine blocked on a channel wait returned.
func (n *notifier) notify() {
	if n.ch.Load() == nil {
		return
	}
	if p := n.ch.Swap(nil); p != nil {
		close(*p)
	}
}
