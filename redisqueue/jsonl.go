package redisqueue

import (
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"sync"

	"github.com/c989c033/fetch"
)

// A Record is one line a [Sink] writes.
type Record struct {
	ID         string `json:"id,omitempty"` // the stream entry; "" for a crawl page
	URL        string `json:"url"`
	FinalURL   string `json:"final_url,omitempty"`
	Status     int    `json:"status,omitempty"`
	Bytes      int    `json:"bytes"`
	Attempts   int    `json:"attempts"`
	DurationMS int64  `json:"duration_ms"`
	Depth      int    `json:"depth,omitempty"`
	Referrer   string `json:"referrer,omitempty"`
	Reclaimed  bool   `json:"reclaimed,omitempty"`
	Error      string `json:"error,omitempty"`
}

// A Sink writes results as JSON Lines, one [Record] per line, each line
// in one Write call, so that a result is in w before the loop body
// returns and its entry is acknowledged. Give it an unbuffered writer (an
// *os.File) for "acknowledged" to mean "written"; with a buffered one,
// results still in the buffer when the process dies are lost although
// acknowledged. A Sink is safe for concurrent use.
type Sink struct {
	mu sync.Mutex
	w  io.Writer
}

// NewSink returns a Sink writing to w.
func NewSink(w io.Writer) *Sink { return &Sink{w: w} }

// Write writes r's line.
func (s *Sink) Write(r Result) error {
	rec := record(r.Result)
	rec.ID, rec.Reclaimed = r.ID, r.Reclaimed
	return s.write(rec)
}

// WritePage writes the line of a crawl's page.
func (s *Sink) WritePage(p *fetch.Page) error {
	rec := record(p.Result)
	rec.Depth, rec.Referrer = p.Depth, p.Referrer
	return s.write(rec)
}

func (s *Sink) write(rec Record) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("redisqueue: encoding %s: %w", rec.URL, err)
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(line); err != nil {
		return fmt.Errorf("redisqueue: writing the result of %s: %w", rec.URL, err)
	}
	return nil
}

func record(r fetch.Result) Record {
	rec := Record{
		URL:        r.URL,
		FinalURL:   r.FinalURL,
		Status:     r.Status,
		Bytes:      len(r.Body),
		Attempts:   r.Attempts,
		DurationMS: r.Duration.Milliseconds(),
	}
	if r.Err != nil {
		rec.Error = r.Err.Error()
	}
	return rec
}

// WriteJSONL writes a line to w for every result of results, as a [Sink]
// does, and returns how many it wrote. It stops at the first error, which
// leaves that result's entry unacknowledged (see [Queue.Run]):
//
//	n, err := redisqueue.WriteJSONL(os.Stdout, q.Run(ctx, f))
func WriteJSONL(w io.Writer, results iter.Seq[Result]) (int, error) {
	s := NewSink(w)
	n := 0
	for r := range results {
		if err := s.Write(r); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
