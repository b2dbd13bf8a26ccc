package urlredact

import "testing"

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://a.test/x", "http://a.test/x"},
		{"http://user:pass@a.test/x", "http://user:xxxxx@a.test/x"},
		{"http://admin:hunter2 secret@a.invalid/", "http://admin:xxxxx@a.invalid/"},
		{"http://admin:hunter2%zz@a.invalid/p?q#f", "http://admin:xxxxx@a.invalid/p?q#f"},
		{"redis://:pa ss@127.0.0.1:6379/urls", "redis://:xxxxx@127.0.0.1:6379/urls"},
		{"http://host:80%zz/a@b", "http://host:xxxxx@b"}, // 80%zz is no port: a password cut short by its "/"
		{"user:pass@host", "user:pass@host"},             // no "//": not a URL's authority
	} {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
