package main

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/htmltitle"
)

// record turns a Result into a line of output.
func (o options) record(r fetch.Result) record {
	rec := record{
		URL:        r.URL,
		FinalURL:   r.FinalURL,
		Status:     r.Status,
		Bytes:      int64(len(r.Body)),
		Attempts:   r.Attempts,
		DurationMS: r.Duration.Milliseconds(),
		ErrorKind:  errorKind(r.Err),
		dur:        r.Duration,
	}
	if r.Err != nil {
		rec.Error = errorText(r.Err)
	}
	if rec.FinalURL == rec.URL {
		rec.FinalURL = ""
	}
	if o.title && r.Err == nil && isHTML(r.Header) {
		rec.Title, _ = htmltitle.Find(bytes.NewReader(r.Body))
	}
	return rec
}

func isHTML(h http.Header) bool {
	ct := h.Get("Content-Type")
	return strings.HasPrefix(ct, "text/html") || strings.HasPrefix(ct, "application/xhtml")
}

// redact returns rawURL with any password in it hidden, as the Fetcher
// names URLs in its results.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.Redacted()
}
