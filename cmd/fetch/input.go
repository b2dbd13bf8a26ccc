package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
)

// maxLine is the longest input line read as a URL; a longer one is reported
// as an error, and the rest of it skipped.
const maxLine = 64 << 10

// line is one input URL, or the reason the input at that place is unusable.
type line struct {
	url string
	err error
}

// String returns the line's URL, so that a line that cannot be fetched is
// still named in its result.
func (l line) String() string { return l.url }

// lines yields the URLs in r, one per line, skipping blank lines and lines
// starting with '#', until r ends, a read fails, or ctx is done. It reads
// as it goes, so an input of any length takes constant memory.
func lines(ctx context.Context, r io.Reader, name string) iter.Seq[line] {
	return func(yield func(line) bool) {
		br := bufio.NewReaderSize(r, maxLine)
		for n := 1; ctx.Err() == nil; n++ {
			text, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				if !yield(line{err: fmt.Errorf("%s:%d: line longer than %d bytes", name, n, maxLine)}) {
					return
				}
				for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of it
					_, err = br.ReadSlice('\n')
				}
				text = nil // and never read it: the buffer has moved on
			}
			if u := strings.TrimSpace(string(text)); u != "" && !strings.HasPrefix(u, "#") {
				if !yield(line{url: u}) {
					return
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(line{err: fmt.Errorf("reading %s: %w", name, err)})
				return
			}
		}
	}
}

// args yields the URLs given as arguments.
func args(urls []string) iter.Seq[line] {
	return func(yield func(line) bool) {
		for _, u := range urls {
			if !yield(line{url: u}) {
				return
			}
		}
	}
}
