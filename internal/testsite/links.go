package testsite

import (
	"bytes"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Links returns the href of every <a> element in body, in document order,
// duplicates included, entities decoded and surrounding white space
// trimmed. It does not resolve them, and it ignores <base>, which this
// site never sends, and other elements' URLs (<link>, <img>). Resolve each
// against the page's URL with url.URL.ResolveReference, and skip those
// whose scheme is not http: the site has mailto: links.
func Links(body []byte) []string {
	var links []string
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		switch z.Next() {
		case html.ErrorToken: // io.EOF: a bytes.Reader has no other error
			return links
		case html.StartTagToken, html.SelfClosingTagToken:
			name, more := z.TagName()
			if atom.Lookup(name) != atom.A {
				continue
			}
			for more {
				var key, val []byte
				key, val, more = z.TagAttr()
				if string(key) == "href" {
					links = append(links, strings.TrimSpace(string(val)))
					break
				}
			}
		}
	}
}
