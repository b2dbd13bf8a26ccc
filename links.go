package fetch

import (
	"bytes"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlLinks returns the href of every <a> and <area> element of an HTML
// body, in document order, resolved against base or the document's own
// <base href>, leaving out those that are not http or https URLs.
func htmlLinks(base *url.URL, body []byte) []string {
	var links []string
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		switch z.Next() {
		case html.ErrorToken: // the end: a bytes.Reader has no other error
			return links
		case html.StartTagToken, html.SelfClosingTagToken:
			name, more := z.TagName()
			tag := atom.Lookup(name)
			if tag != atom.A && tag != atom.Area && tag != atom.Base {
				continue
			}
			for more {
				var key, val []byte
				key, val, more = z.TagAttr()
				if string(key) != "href" {
					continue
				}
				u, err := base.Parse(strings.TrimSpace(string(val)))
				if err != nil {
					break
				}
				if tag == atom.Base {
					base = u
				} else if u.Scheme == "http" || u.Scheme == "https" {
					links = append(links, u.String())
				}
				break
			}
		}
	}
}
