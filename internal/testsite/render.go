package testsite

import (
	"bytes"
	"fmt"
	"html"
	"strings"
)

// page writes the HTML of page id.
func (s *Site) page(id int) []byte {
	var b bytes.Buffer
	title := s.title(id)
	fmt.Fprintf(&b, "<!doctype html>\n<html><head><meta charset=utf-8><title>%s</title>"+
		"<link rel=icon href=\"/favicon.ico\"></head>\n<body><h1 id=top>%[1]s</h1>\n<ul>\n", title)
	for i, e := range s.g.out[id] {
		fmt.Fprintf(&b, "<li><a href=\"%s\">link %d</a></li>\n", html.EscapeString(s.href(id, e)), i)
	}
	b.WriteString("</ul>\n<h2 id=sec>Notes</h2>\n<p><a name=notes>Nothing</a> to see. <a href=\"#top\">Top</a></p>\n")
	if id%s.g.pages == 0 {
		b.WriteString("<p><a href=\"mailto:webmaster@example.invalid\">Write to us</a></p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.Bytes()
}

func (s *Site) title(id int) string {
	return fmt.Sprintf("host %d page %d", id/s.g.pages, id%s.g.pages)
}

// href writes link e on page from as it appears in that page's HTML. Links
// to another host are absolute; links on the same host take every form.
func (s *Site) href(from int, e edge) string {
	h, path := s.g.where(e.to)
	if h != from/s.g.pages {
		return s.absolute(h, path, e.form)
	}
	switch e.form % 5 {
	case 0:
		return path // root-relative: /p/12
	case 1:
		return relative(pagePath(from%s.g.pages), path, e.form/5)
	case 2:
		return relative(pagePath(from%s.g.pages), path, e.form/5) + "#sec"
	case 3:
		return s.absolute(h, path, e.form/5)
	default:
		return "/p/.." + path // dot segments: /p/../p/12
	}
}

// absolute writes an absolute (or network-path) reference to path on host h.
func (s *Site) absolute(h int, path string, form uint8) string {
	addr := s.hosts[h].addr
	switch form % 5 {
	case 0:
		return "http://" + addr + path
	case 1:
		return "HTTP://" + addr + path // upper-case scheme
	case 2:
		return "//" + addr + path // network-path reference
	case 3:
		return "http://" + addr + path + "#sec"
	default:
		if path == "/" {
			return "http://" + addr // empty path
		}
		return "http://" + addr + "/p/.." + path
	}
}

// relative writes a path-relative reference from the page at from to path
// on the same host. variant picks among the spellings that resolve alike.
func relative(from, path string, variant uint8) string {
	v := variant % 3
	switch {
	case strings.HasPrefix(from, "/p/") && strings.HasPrefix(path, "/p/"):
		return [...]string{"", "./", "../p/"}[v] + path[len("/p/"):] // 12, ./12, ../p/12
	case strings.HasPrefix(from, "/p/"):
		return ".." + path // ../, ../q?page=7, ../r/3
	case strings.HasPrefix(from, "/q?") && strings.HasPrefix(path, "/q?") && v == 0:
		return path[len("/q"):] // ?page=17: same path, another query
	case path == "/":
		return "./"
	default:
		return [...]string{"", "./", ""}[v] + path[1:] // p/12, ./p/12, q?page=7
	}
}

// location writes the Location of redirect r.
func (s *Site) location(r redirect) string {
	h, path := s.g.where(r.to)
	switch {
	case h != r.host || r.form%3 == 0:
		return "http://" + s.hosts[h].addr + path
	case r.form%3 == 1:
		return path
	default:
		return ".." + path // relative to /r/<n>
	}
}
