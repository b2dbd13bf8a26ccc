// Package examples_test builds every example and runs it, checking the claim
// it prints, so that no example can silently rot.
package examples_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// claims are the lines each example must print; a group in a pattern is a
// number that check (if any) must accept.
var claims = map[string][]struct {
	pattern string
	check   func(n []int) bool
}{
	"gather": {
		{`100 results, in input order: true`, nil},
		{`90 ok, 10 failed`, nil},
	},
	"taskgroup": {
		{`cancel on failure: Wait returned after 0s: fetch: GET \S+/items/404404: status 404`, nil},
		{`(\d+) siblings cancelled or never started`, func(n []int) bool { return n[0] == 4 }},
		{`(?m)^fetch: GET \S+/x\?status=403: status 403 Forbidden$`, nil},
		{`panic recovered as \*PanicError: true`, nil},
	},
	"semaphore": {
		{`100 requests`, nil},
		{`server saw at most (\d+) in flight \(limit 5\)`, func(n []int) bool { return n[0] >= 1 && n[0] <= 5 }},
	},
	"ratelimit": {
		{`40 requests in \S+: (\d+)\.\d req/s overall`, func(n []int) bool { return n[0] <= 30 }},
		{`host a saw (\d+)\.(\d) req/s \(limit 10\)`, func(n []int) bool { return n[0] < 10 || n[0] == 10 && n[1] <= 5 }},
		{`host b saw (\d+)\.(\d) req/s \(limit 10\)`, func(n []int) bool { return n[0] < 10 || n[0] == 10 && n[1] <= 5 }},
	},
	"retry": {
		{`Retry-After honoured: true`, nil},
		{`retries in all: (\d+)`, func(n []int) bool { return n[0] >= 2 }},
	},
	"timeout": {
		{`kind: attempt timeout \(ErrAttemptTimeout\), 3 attempts`, nil},
		{`kind: overall deadline \(context.DeadlineExceeded only\)`, nil},
	},
	"pagination": {
		{`walked 95 items from (\d+) page requests`, func(n []int) bool { return n[0] >= 10 }},
		{`stopped at item 15 after (\d+) page requests`, func(n []int) bool { return n[0] >= 2 }},
	},
	"workerqueue": {
		{`produced 200, consumed 200 \(\d+ failed after retries\), lost 0`, nil},
		{`queue never held more than (\d+) \(capacity 10\)`, func(n []int) bool { return n[0] <= 10 }},
	},
	"shutdown": {
		{`signal received: no new work`, nil},
		{`done (\d+), cancelled (\d+), never started (\d+) \(of 1000\)`, func(n []int) bool {
			return n[0]+n[1]+n[2] == 1000 && n[0] > 0 && n[2] > 0
		}},
	},
	"scraper": {
		{`crawled (\d+) pages over 3 hosts in \S+, (\d+) disallowed by robots.txt`, func(n []int) bool { return n[0] > 250 && n[1] > 0 }},
		{`every reachable page once, with its title: true`, nil},
		{`wrote (\d+) titles to`, func(n []int) bool { return n[0] > 250 }},
	},
	"postjson": {
		{`with Idempotency-Key: 200 OK after 3 attempts`, nil},
		{`server got POST \{Item:widget Quantity:3\}, key \["order-42"\]`, nil},
		{`without it: 503 Service Unavailable after 1 attempt`, nil},
	},
}

func TestExamples(t *testing.T) {
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin, "./...")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/...: %v\n%s", err, out)
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && claims[e.Name()] == nil {
			t.Errorf("example %s has no claims to check", e.Name())
		}
	}
	for name, want := range claims {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			args := []string{}
			out := filepath.Join(t.TempDir(), "out.json")
			if name == "scraper" {
				args = append(args, "-o", out)
			}
			stdout, err := exec.CommandContext(ctx, filepath.Join(bin, name), args...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", name, err, stdout)
			}
			for _, c := range want {
				m := regexp.MustCompile(c.pattern).FindSubmatch(stdout)
				if m == nil {
					t.Errorf("output lacks %q:\n%s", c.pattern, stdout)
					continue
				}
				var nums []int
				for _, g := range m[1:] {
					n, _ := strconv.Atoi(string(g))
					nums = append(nums, n)
				}
				if c.check != nil && !c.check(nums) {
					t.Errorf("%q matched %q: numbers %v out of range\n%s", c.pattern, m[0], nums, stdout)
				}
			}
			if name == "scraper" {
				checkScraperFile(t, out)
			}
		})
	}
}

func checkScraperFile(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pages []struct {
		URL, Title, Error string
		Depth             int
	}
	if err := json.Unmarshal(data, &pages); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	title := regexp.MustCompile(`^host [0-2] page \d+$`)
	seen := map[string]bool{}
	for i, p := range pages {
		if !title.MatchString(p.Title) || p.Error != "" || seen[p.URL] {
			t.Errorf("page %d = %+v; want a title, no error, and no URL twice", i, p)
		}
		seen[p.URL] = true
		if i > 0 && p.Depth < pages[i-1].Depth {
			t.Errorf("page %d at depth %d after depth %d: not sorted by depth", i, p.Depth, pages[i-1].Depth)
		}
	}
	if len(pages) < 250 {
		t.Errorf("%d pages in %s; want the crawl of 3 hosts of 100 pages", len(pages), path)
	}
}
