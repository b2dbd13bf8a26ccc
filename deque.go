package fetch

// A deque is a FIFO queue on a ring buffer that grows as needed; its zero
// value is empty and ready to use.
type deque[T any] struct {
	buf  []T
	head int // index of the first element
	n    int
}

// maxIdleDeque is the largest buffer a drained deque keeps.
const maxIdleDeque = 1024

func (d *deque[T]) len() int { return d.n }

// push adds v at the back.
func (d *deque[T]) push(v T) {
	d.grow()
	d.buf[(d.head+d.n)%len(d.buf)] = v
	d.n++
}

// pushFront adds v at the front.
func (d *deque[T]) pushFront(v T) {
	d.grow()
	d.head = (d.head - 1 + len(d.buf)) % len(d.buf)
	d.buf[d.head] = v
	d.n++
}

// front returns a pointer to the first element; the deque must not be empty.
func (d *deque[T]) front() *T { return &d.buf[d.head] }

// pop removes and returns the first element; the deque must not be empty.
func (d *deque[T]) pop() T {
	var zero T
	v := d.buf[d.head]
	d.buf[d.head] = zero // let the garbage collector have it
	d.head = (d.head + 1) % len(d.buf)
	d.n--
	if d.n == 0 && len(d.buf) > maxIdleDeque {
		// A drained queue gives a large buffer back; a small one is kept,
		// so that a queue that drains and refills often does not regrow.
		*d = deque[T]{}
	}
	return v
}

// remove deletes the elements equal to v, keeping the order of the rest.
func (d *deque[T]) remove(match func(T) bool) {
	n := d.n
	for range n {
		v := d.pop()
		if !match(v) {
			d.push(v)
		}
	}
}

func (d *deque[T]) grow() {
	if d.n < len(d.buf) {
		return
	}
	buf := make([]T, max(8, 2*len(d.buf)))
	for i := range d.n {
		buf[i] = d.buf[(d.head+i)%len(d.buf)]
	}
	d.buf, d.head = buf, 0
}
