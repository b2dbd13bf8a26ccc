package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An -o or -O that cannot be written to is a usage error at once, not
// after the first URL comes: `tail -f urls | fetch -o /no/such/dir/out`
// waited for it, and fetched nothing till then. Nothing is created for an
// -o or -O that can be: an input with no URL leaves them as they were.
func TestOutputPlacesCheckedBeforeTheFirstURL(t *testing.T) {
	dir := t.TempDir()
	afile := filepath.Join(dir, "afile")
	if err := os.WriteFile(afile, []byte("x"), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", filepath.Join(dir, "no", "out")}, "no such file or directory"},
		{[]string{"-o", dir}, "is a directory"},
		{[]string{"-o", filepath.Join(afile, "out")}, "is not a directory"},
		{[]string{"-O", afile}, "is not a directory"},
		{[]string{"-O", filepath.Join(afile, "sub")}, "is not a directory"},
	} {
		// An input with no URL: the places are refused before it is read
		// (it would say it has no URL), as they would be before a URL
		// that is slow to come.
		code, _, stderr := runCmd(t, "", append([]string{"-q", "-i", "-"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) || strings.Count(stderr, tc.args[1]) != 1 {
			t.Errorf("%q: exit %d, %q; want %d, saying %q and naming the path once", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
	// An input with no URL: neither -o's file nor -O's directory is made.
	out, saves := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "saves")
	if code, _, stderr := runCmd(t, "", "-q", "-i", "-", "-o", out, "-O", saves); code != exitUsage {
		t.Errorf("empty input: exit %d (%s); want %d", code, stderr, exitUsage)
	}
	for _, p := range []string{out, saves} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("empty input: %s was made", p)
		}
	}
}
