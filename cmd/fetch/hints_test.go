package main

import (
	"strings"
	"testing"
)

// A flag of curl or wget that fetch does not take is a usage error that
// says what fetch does instead, in a cluster of shorthands too (-sSL).
func TestFlagHints(t *testing.T) {
	for name, hint := range flagHints {
		arg := name
		if !strings.HasPrefix(arg, "--") {
			arg = "-" + name
		}
		code, out, stderr := runCmd(t, "", arg, "http://127.0.0.1:1/")
		if code != exitUsage || out != "" || !strings.Contains(stderr, "("+hint+")") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("fetch %s URL: exit %d, stderr %q; want 2 and one line with %q", arg, code, stderr, hint)
		}
	}
	code, _, stderr := runCmd(t, "", "-sSL", "http://127.0.0.1:1/")
	if code != exitUsage || !strings.Contains(stderr, "curl's -s: fetch's quiet is -q") {
		t.Errorf("fetch -sSL URL: exit %d, stderr %q; want 2 and the hint for -s", code, stderr)
	}
	code, _, stderr = runCmd(t, "", "-z", "http://127.0.0.1:1/")
	if code != exitUsage || strings.Contains(stderr, "curl") || strings.Contains(stderr, "wget") {
		t.Errorf("fetch -z URL: exit %d, stderr %q; want 2 and no hint", code, stderr)
	}
}
