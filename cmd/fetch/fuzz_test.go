package main

import (
	"context"
	"strings"
	"testing"
)

// FuzzLines: never panics; every URL yielded is trimmed, one line long, not
// a comment and no longer than maxLine; a well-formed input loses nothing.
func FuzzLines(f *testing.F) {
	for _, s := range []string{"http://a/\n", "\n\n# c\nhttp://b/", " x \r\n", strings.Repeat("y", maxLine+2) + "\nz", "\x00\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n := 0
		for l := range lines(context.Background(), strings.NewReader(in), "fuzz") {
			if l.err != nil {
				continue
			}
			n++
			u := l.url
			if u == "" || u != strings.TrimSpace(u) || strings.ContainsAny(u, "\n") || strings.HasPrefix(u, "#") || len(u) > maxLine {
				t.Fatalf("yielded %q from %q", u, in)
			}
		}
		want := 0
		for line := range strings.SplitSeq(in, "\n") {
			if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") && len(line) < maxLine {
				want++
			}
		}
		if n != want {
			t.Fatalf("yielded %d URLs from %q; want %d", n, in, want)
		}
	})
}
