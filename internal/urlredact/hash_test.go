package urlredact

import (
	"strings"
	"testing"
)

// TestStringPasswordCutShort covers passwords typed with a "/", "?", "#"
// or "@" not percent-encoded: no part of the password may show.
func TestStringPasswordCutShort(t *testing.T) {
	for _, tc := range []struct{ in, want, secret string }{
		{"http://user:SEC#RET@host/path", "http://user:xxxxx@host/path", "SEC#RET"},
		{"http://user:SEC/RET@host/path", "http://user:xxxxx@host/path", "SEC/RET"},
		{"http://user:SEC?RET@host/path", "http://user:xxxxx@host/path", "SEC?RET"},
		{"http://user:SEC@RET@host/path", "http://user:xxxxx@host/path", "SEC@RET"},
		{"http://user:SEC#RET/TOK?EN@host:8080/a?q#f", "http://user:xxxxx@host:8080/a?q#f", "SEC#RET/TOK?EN"},
		{"http://user:#SECRET@host/", "http://user:xxxxx@host/", "#SECRET"},
		{"http://user:/SECRET@host/", "http://user:xxxxx@host/", "/SECRET"},
		{"http://user:99999#SECRET@host/", "http://user:xxxxx@host/", "99999#SECRET"}, // not a port
		{"http://user:SEC RET#TOK@host/", "http://user:xxxxx@host/", "SEC RET#TOK"},
		{"https://me@mail.test:SEC#RET@host/", "https://me@mail.test:xxxxx@host/", "SEC#RET"},
		{"redis://:SEC#RET@127.0.0.1:6379/urls", "redis://:xxxxx@127.0.0.1:6379/urls", "SEC#RET"},
		// An "@" in the path after such a password: more is hidden, not less.
		{"http://user:SEC#RET@host/@me", "http://user:xxxxx@me", "SEC#RET"},
	} {
		got := String(tc.in)
		if got != tc.want {
			t.Errorf("String(%q) = %q; want %q", tc.in, got, tc.want)
		}
		for _, part := range strings.FieldsFunc(tc.secret, func(r rune) bool { return strings.ContainsRune("#/?@ ", r) }) {
			if strings.Contains(got, part) {
				t.Errorf("String(%q) = %q: shows %q of the password", tc.in, got, part)
			}
		}
	}
}

// TestStringOrdinaryURLs: an "@" or ":" in the path, query or fragment of
// a URL with no password leaves it whole.
func TestStringOrdinaryURLs(t *testing.T) {
	for _, in := range []string{
		"https://social.test/@me",
		"https://social.test/@me/1#a:b@c",
		"http://host:8080/@me",
		"http://host:8080/?mail=a@b.test",
		"http://host:8080#a:b@c",
		"http://host/a:b@c",
		"http://host/?x=a:b@c",
		"http://host/#a:b@c",
		"http://[::1]:8080/a:b@c",
		"http://[::1]/%zz@x",
		"http://user:pass@host/#a@b",
		"http://user:1234#x@host/", // parses: host "user", port 1234, as fetched
	} {
		want := in
		if strings.Contains(in, "pass@") {
			want = strings.Replace(in, "pass@", "xxxxx@", 1)
		}
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q; want %q", in, got, want)
		}
	}
}
