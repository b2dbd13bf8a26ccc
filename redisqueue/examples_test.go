package redisqueue

import (
	"os/exec"
	"regexp"
	"testing"
)

// The sharedcrawl example runs 3 processes on one crawl and one rate
// limit: together they fetch every page once, and leave nothing pending.
func TestSharedCrawlExample(t *testing.T) {
	addr := redisAddr(t)
	out, err := exec.Command("go", "run", "./examples/sharedcrawl", "-redis", addr, "-workers", "3", "-rate", "2000").CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./examples/sharedcrawl: %v\n%s", err, out)
	}
	want := regexp.MustCompile(`3 workers fetched 600 pages of 600; 0 pending at the end\n$`)
	if !want.Match(out) {
		t.Errorf("output:\n%s\nwant it to end with %q", out, want)
	}
}
