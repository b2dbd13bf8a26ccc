package fetch

import (
	"net/url"
	"testing"
)

// A link whose path holds a byte that must be escaped (a space) keeps the
// rest as written, as a browser sends it: "(" stays "(", not "%28", so the
// request and the crawl's key are a browser's.
func TestLinkKeepsWhatNeedsNoEscape(t *testing.T) {
	base, _ := url.Parse("http://h.test/x/")
	for href, want := range map[string]string{
		"rec (tiny)/d/":                      "http://h.test/x/rec%20(tiny)/d/",
		"/a b(c)?q=a b(c)#f g":               "http://h.test/a%20b(c)?q=a%20b(c)#f%20g",
		"//h.test/é(1)":                      "http://h.test/%C3%A9(1)",
		"http://bücher.example/a b(c)":       "http://xn--bcher-kva.example/a%20b(c)",
		"/already%20escaped%28ok%29 and(so)": "http://h.test/already%20escaped%28ok%29%20and(so)",
		"/it's?q=it's#it's?x=1":              "http://h.test/it's?q=it%27s#it's?x=1",
	} {
		u, ok := resolveLink(base, href)
		if !ok || u.String() != want {
			t.Errorf("resolveLink(%q) = %v, %v; want %s", href, u, ok, want)
		}
	}
}
