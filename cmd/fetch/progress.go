package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows a bar, or nothing.
type progress struct {
	bar    *progressbar.ProgressBar // nil: silent
	errors int64
}

// newProgress returns a bar on w if show, counting to total, with an ETA,
// or up from 0 if total is -1 (not known).
func newProgress(w io.Writer, show bool, total int64) *progress {
	if !show {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("fetching"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("req"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
	)}
}

func (p *progress) add(failed bool, errors int64) {
	if p.bar == nil {
		return
	}
	if failed && errors != p.errors {
		p.errors = errors
		p.bar.Describe(fmt.Sprintf("fetching (%d errors)", errors))
	}
	p.bar.Add(1)
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
