package main

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileName(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, tc := range []struct{ url, want string }{
		{"http://example.com/a/b.html", "example.com_a_b.html"},
		{"https://example.com", "example.com_index.html"},
		{"http://example.com/dir/", "example.com_dir_index.html"},
		{"http://127.0.0.1:8080/items/1?page=2&x=y", "127.0.0.1_8080_items_1_page=2_x=y"},
		{"http://user:secret@h/x#frag", "h_x"},
		{"http://h/../../etc/passwd", "h_.._.._etc_passwd"},
		{"http://h/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "h_.._.._etc_passwd"},
		{"http://h//etc/passwd", "h_etc_passwd"},
		{"http://h/a%5C..%5Cb", "h_a_.._b"},
		{"http://h/a%00b%0A", "h_a_b_"},
		{"http://h/caf%C3%A9", "h_caf_"},
		{"http://../x", "_._x"},
		{"http://h/a.", "h_a._"},
		{"http://h/" + long, "h_" + long[:maxName-19] + "-"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		got := fileName(u)
		if got != tc.want && !(strings.HasSuffix(tc.want, "-") && strings.HasPrefix(got, tc.want) && len(got) == maxName) {
			t.Errorf("fileName(%s) = %q; want %q", tc.url, got, tc.want)
		}
	}
}

func TestNamesReserve(t *testing.T) {
	n := newNames()
	var got []string
	for _, u := range []string{"http://h/a", "http://h/a", "http://h/A", "http://h/a.1", "not a url", "ftp://h/a", "http://h/a"} {
		got = append(got, n.reserve(line{url: u}))
	}
	want := []string{"h_a", "h_a.1", "h_A.2", "h_a.1.1", "", "", "h_a.3"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("names = %q; want %q", got, want)
	}
}

// FuzzFileName: whatever the URL, its file name is one plain name in the
// directory: not empty, not hidden, no separator, no byte outside the safe
// set, no longer than maxName (plus one for a final dot made safe).
func FuzzFileName(f *testing.F) {
	for _, s := range []string{"http://h/a", "http://h/../..", "http://h/%2e%2e%2f", "http://h/a%00b", "http://../", "http://h/" + strings.Repeat("%2F", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return
		}
		name := fileName(u)
		if name == "" || name[0] == '.' || len(name) > maxName+1 || !filepath.IsLocal(name) || filepath.Base(name) != name ||
			strings.ContainsFunc(name, func(r rune) bool { return r > 127 || !safe(byte(r)) && r != '_' }) {
			t.Fatalf("fileName(%q) = %q", s, name)
		}
	})
}
