package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

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
	if sf, ok := errors.AsType[*sitemapFailure](r.Err); ok {
		sf.fill(&rec) // the input never sent: the sitemap was
	}
	if r.Status >= 300 && r.Status <= 399 {
		rec.Location = location(r.FinalURL, r.Header)
	}
	if o.headers {
		rec.Headers = headerJSON(r.Header)
	}
	if rec.FinalURL == rec.URL {
		rec.FinalURL = ""
	}
	if o.title && r.Err == nil && isHTML(r.Header) {
		rec.Title, _ = htmltitle.Find(bytes.NewReader(r.Body))
	}
	if _, isStatus := errors.AsType[*fetch.StatusError](r.Err); o.bodies && len(r.Body) > 0 && (r.Err == nil || isStatus) {
		rec.Body, rec.BodyBase64 = bodyField(r.Header, r.Body)
	}
	return rec
}

// bodyField returns body as --body puts it in a record: as itself if it
// is JSON (its Content-Type says so, and it is valid UTF-8 JSON), so that
// jq reads into it; else as a JSON string if it is UTF-8 text; otherwise
// in base64, for body_base64.
func bodyField(h http.Header, body []byte) (rawJSON, string) {
	switch {
	case !utf8.Valid(body):
		return "", base64.StdEncoding.EncodeToString(body)
	case isJSON(h) && json.Valid(body):
		return rawJSON(body), "" // the encoder puts it on one line
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as the records are written
	enc.Encode(string(body)) // cannot fail: a string
	return rawJSON(strings.TrimSuffix(b.String(), "\n")), ""
}

// rawJSON is JSON text, put in a record as it is.
type rawJSON string

func (j rawJSON) MarshalJSON() ([]byte, error) { return []byte(j), nil }

// isJSON reports whether h's Content-Type is JSON: application/json, or a
// type with the +json suffix (application/problem+json).
func isJSON(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func isHTML(h http.Header) bool {
	ct := h.Get("Content-Type")
	return strings.HasPrefix(ct, "text/html") || strings.HasPrefix(ct, "application/xhtml")
}

// location returns where h, the header of a response from base, redirects
// to: its Location resolved against base, with any password hidden, as
// curl's %{redirect_url} gives it; "" if it has none, or none that parses.
func location(base string, h http.Header) string {
	loc := h.Get("Location")
	if loc == "" {
		return ""
	}
	b, err := url.Parse(base)
	if err != nil {
		return ""
	}
	u, err := b.Parse(loc)
	if err != nil {
		return ""
	}
	return u.Redacted()
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
