// Package htmltitle extracts the title of an HTML document with the
// golang.org/x/net/html tokenizer, reading no more of it than it must.
package htmltitle

import (
	"errors"
	"io"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxBuf bounds the tokenizer's buffer, so a hostile page with a huge tag
// cannot make it grow without limit.
const maxBuf = 64 << 10

// Find returns the text of the document's first <title> outside any <svg>,
// with white space collapsed, or "" if it has none. It stops reading at the
// end of the title; the caller caps how much of r may be read at all.
func Find(r io.Reader) (string, error) {
	z := html.NewTokenizer(r)
	z.SetMaxBuf(maxBuf)
	svg := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			if errors.Is(z.Err(), io.EOF) {
				return "", nil
			}
			return "", z.Err()
		case html.StartTagToken:
			name, _ := z.TagName()
			switch atom.Lookup(name) {
			case atom.Svg:
				svg++
			case atom.Title:
				if svg == 0 {
					return text(z)
				}
			case atom.Body:
				return "", nil // titles live in the head
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); atom.Lookup(name) == atom.Svg && svg > 0 {
				svg--
			}
		}
	}
}

// text reads the title's text up to its end tag.
func text(z *html.Tokenizer) (string, error) {
	var b strings.Builder
	for {
		switch z.Next() {
		case html.TextToken:
			b.Write(z.Text())
		case html.ErrorToken:
			if !errors.Is(z.Err(), io.EOF) {
				return "", z.Err()
			}
			fallthrough
		default: // </title>, or anything else: the title is over
			return strings.Join(strings.Fields(b.String()), " "), nil
		}
	}
}
