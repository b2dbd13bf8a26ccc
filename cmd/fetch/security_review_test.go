package main

// From a security review of the command-line tool. Each test pins one finding or
// one attack that must keep failing; loopback servers only, no sleeps.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Threat: a token pasted with a stray control character (a CR from a
// Windows file, say: -H "Authorization: Bearer $(cat token)") makes -H a
// usage error, and the message quotes the whole header, token included,
// on stderr, which CI systems and job schedulers keep in their logs. The
// library's own check (request.go checkHeader) hides the value of
// Authorization, Cookie and the other credential headers for exactly this
// reason ("errors get logged"). Expected: the CLI's usage error names the
// header and the problem but not a credential's value.
func TestSecurityReviewHeaderUsageErrorHidesCredential(t *testing.T) {
	const token = "tok-s3cret-value"
	for _, h := range []string{
		"Authorization: Bearer " + token + "\r\nX: 1",
		"Cookie: sid=" + token + "\x01",
		"Proxy-Authorization: Basic " + token + "\x7f",
	} {
		code, out, stderr := runCmd(t, "", "-q", "-H", h, "http://127.0.0.1:1/")
		if code != exitUsage {
			t.Errorf("-H %q: exit %d, want usage error %d", h, code, exitUsage)
		}
		if strings.Contains(stderr+out, token) {
			t.Errorf("-H %q: usage error shows the credential: %s", h, stderr)
		}
	}
}

// Threat: someone with write access to a shared -O directory plants a
// symbolic link, pointing outside it, under the name of the temporary
// file a save writes first (.NAME.PID.part, as it was named before it took
// a random part, opened O_EXCL). Expected: the
// file outside is not written (os.Root refuses a link out of the
// directory), and the body is not saved through it. This pins the
// behaviour: it passes.
func TestSecurityReviewTempFileSymlinkNotFollowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("attacker-chosen body"))
	}))
	defer srv.Close()
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(parent, "victim")
	os.WriteFile(victim, []byte("untouched"), 0o644)
	name := strings.ReplaceAll(strings.TrimPrefix(srv.URL, "http://"), ":", "_") + "_page"
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d.part", name, os.Getpid()))
	if err := os.Symlink(victim, tmp); err != nil {
		t.Fatal(err)
	}
	runCmd(t, "", "-q", "--retries", "0", "-O", dir, srv.URL+"/page")
	if b, _ := os.ReadFile(victim); string(b) != "untouched" {
		t.Errorf("file outside -O directory overwritten through a planted temp-file symlink: %q", b)
	}
}
