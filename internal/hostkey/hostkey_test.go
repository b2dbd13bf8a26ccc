package hostkey

import (
	"net/url"
	"testing"
)

func TestOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://a.test/", "a.test"},
		{"HTTP://A.Test:80/", "a.test"},
		{"http://a.test:/", "a.test"},
		{"http://a.test:080/", "a.test"},
		{"http://a.test:0080/", "a.test"},
		{"http://a.test./", "a.test"},
		{"http://a.test.:80/", "a.test"},
		{"http://a.test.:8080/", "a.test:8080"},
		{"http://a.test:08080/", "a.test:8080"},
		{"http://a.test:443/", "a.test:443"},
		{"https://a.test:443/", "a.test"},
		{"https://a.test:80/", "a.test:80"},
		{"http://a.test:0/", "a.test:0"},
		{"http://a.test:00/", "a.test:0"},
		{"http://[::1]:80/", "[::1]"},
		{"http://[::1]:8080/", "[::1]:8080"},
		{"http://[::1]/", "[::1]"},
		{"http://[::1]:/", "[::1]"},
		{"http://127.0.0.1:080/", "127.0.0.1"},
		{"http://bücher.test/", "xn--bcher-kva.test"},
		{"http://BÜCHER.test:080/", "xn--bcher-kva.test"},
		{"http://bücher.test:8080/", "xn--bcher-kva.test:8080"},
		{"http://./", "."},
	} {
		u, err := url.Parse(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got := Of(u); got != tc.want {
			t.Errorf("Of(%s) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// The usual key is the URL's own host string, not a copy.
func TestOfAllocatesNothingForAPlainHost(t *testing.T) {
	u, _ := url.Parse("http://a.test:8080/x")
	if n := testing.AllocsPerRun(100, func() { _ = Of(u) }); n != 0 {
		t.Errorf("Of allocates %v times for a plain host; want 0", n)
	}
}
