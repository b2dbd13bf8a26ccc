package fetch

import (
	"bytes"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlLinks returns the href of every <a> and <area> element of an HTML
// body, in document order, leaving out those that are not http or https
// URLs. They are resolved, as a browser resolves them, against the
// document's base URL: the first <base href>, itself resolved against
// base, wherever it stands in the document; or else base.
func htmlLinks(base *url.URL, body []byte) []string {
	var hrefs []string
	docBase := base
	found := false
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		tt := z.Next()
		if tt == html.ErrorToken { // the end: a bytes.Reader has no other error
			break
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
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
			if tag != atom.Base {
				hrefs = append(hrefs, string(val))
			} else if !found {
				found = true
				if u, err := base.Parse(cleanURL(string(val))); err == nil {
					docBase = u
				}
			}
			break
		}
	}
	var links []string
	for _, href := range hrefs {
		if u, err := docBase.Parse(cleanURL(href)); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			links = append(links, u.String())
		}
	}
	return links
}

// cleanURL readies a URL written in a page for parsing, as the URL
// Standard's parser does: it strips leading and trailing spaces and
// control characters, and removes every tab and newline.
func cleanURL(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	if !strings.ContainsAny(s, "\t\n\r") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
}
