package testsite

import (
	"slices"
	"testing"
)

func TestLinks(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want []string
	}{
		{`<a href="/p/1">one</a><a href=p/2>two</a>`, []string{"/p/1", "p/2"}},
		{`<A HREF='/x'>upper</A>`, []string{"/x"}},
		{`<a href="/q?a=1&amp;b=2">entity</a>`, []string{"/q?a=1&b=2"}},
		{`<a href="  /p/3#sec ">spaces</a>`, []string{"/p/3#sec"}},
		{`<a name=x>no href</a><a id=y href="#top"/>`, []string{"#top"}},
		{`<a href=/dup></a><a href=/dup></a>`, []string{"/dup", "/dup"}},
		{`<link href=/style.css><img src=/i.png><base href=/b/><area href=/m>`, nil},
		{`<a class=c href="">empty</a>`, []string{""}},
		{`<a href="/p/4"`, nil}, // unterminated tag
		{``, nil},
	} {
		if got := Links([]byte(tc.doc)); !slices.Equal(got, tc.want) {
			t.Errorf("Links(%q) = %q; want %q", tc.doc, got, tc.want)
		}
	}
}
