package htmltitle

import (
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"<html><head><title>Hello</title></head></html>", "Hello"},
		{"<title>  spread \n over   lines </title>", "spread over lines"},
		{"<svg><title>icon</title></svg><title>Real</title>", "Real"},
		{"<TITLE>Upper &amp; escaped</TITLE>", "Upper & escaped"},
		{"<html><body><title>late</title></body>", ""},
		{"<html><head></head></html>", ""},
		{"<title>unterminated", "unterminated"},
		{"", ""},
	} {
		got, err := Find(strings.NewReader(tc.doc))
		if err != nil || got != tc.want {
			t.Errorf("Find(%q) = %q, %v; want %q, nil", tc.doc, got, err, tc.want)
		}
	}
}

func TestFindBoundsItsBuffer(t *testing.T) {
	huge := "<title " + strings.Repeat("a", 1<<20) + ">x</title>"
	if _, err := Find(strings.NewReader(huge)); err == nil {
		t.Errorf("Find on a 1 MiB tag: err = nil; want the buffer limit")
	}
}
