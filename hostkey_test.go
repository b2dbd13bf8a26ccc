package fetch

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Spellings of one host that net/http sends to the same place (an empty
// port, a port's leading zeros, the name's trailing dot, upper case, the
// default port) share its gates: WithHostConcurrency(1) lets one of them
// at a time reach the server, and Stats names one host. Before, each
// spelling was a host of its own, and all five were in flight together.
func TestHostSpellingsShareTheHostsGates(t *testing.T) {
	spellings := []string{"http://a.test/", "http://a.test:/", "http://a.test:080/", "http://a.test./", "HTTP://A.TEST:80/"}
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var now, most int
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			now++
			most = max(most, now)
			mu.Unlock()
			time.Sleep(time.Second)
			mu.Lock()
			now--
			mu.Unlock()
		})
		var hosts sync.Map
		f := newMem(t, h, WithHostConcurrency(1), WithHooks(Hooks{OnDone: func(info DoneInfo) { hosts.Store(info.Host, true) }}))
		var wg sync.WaitGroup
		for _, u := range spellings {
			wg.Go(func() {
				if _, err := f.Get(context.Background(), u); err != nil {
					t.Errorf("%s: %v", u, err)
				}
			})
		}
		wg.Wait()
		if most != 1 {
			t.Errorf("%d requests in flight at once to one host under WithHostConcurrency(1)", most)
		}
		var names []string
		hosts.Range(func(k, _ any) bool { names = append(names, k.(string)); return true })
		if len(names) != 1 || names[0] != "a.test" {
			t.Errorf("hosts named %q; want [a.test]", names)
		}
	})
}
