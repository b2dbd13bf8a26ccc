package redisrate

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// redisServer is a real redis-server on a free loopback port, persistence
// off, that a test may stop and start again on the same port.
type redisServer struct {
	addr string
	cmd  *exec.Cmd
}

// startRedis starts a redis-server for t, stopped when t ends. Without the
// binary the test is skipped, unless REDIS_ADDR is set: then we are in CI,
// which installs redis-server, and its absence is a failure.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("REDIS_ADDR") != "" {
			t.Fatalf("redis-server not found, though REDIS_ADDR is set (CI must install it): %v", err)
		}
		t.Skip("redis-server not installed (apt-get install -y redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &redisServer{addr: l.Addr().String()}
	l.Close()
	s.start(t)
	t.Cleanup(s.stop)
	return s
}

// start runs redis-server on s.addr and returns once it accepts connections.
func (s *redisServer) start(t *testing.T) {
	t.Helper()
	_, port, _ := net.SplitHostPort(s.addr)
	s.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--loglevel", "notice")
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			if !found && strings.Contains(sc.Text(), "Ready to accept connections") {
				found = true
				ready <- true
			}
		}
		if !found {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			s.stop()
			t.Fatalf("redis-server on %s exited before it was ready", s.addr)
		}
	case <-time.After(10 * time.Second):
		s.stop()
		t.Fatalf("redis-server on %s not ready after 10s", s.addr)
	}
}

// stop kills the server, as a crash would, and waits for it to exit.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("ping Redis at %s: %v", addr, err)
	}
	return rdb
}

// uniqueKey returns a key no earlier run has used, so that a shared Redis
// (REDIS_ADDR) starts every test with a full bucket.
func uniqueKey(t *testing.T) string {
	return fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
}

func envInt(t *testing.T, name string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(os.Getenv(name), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
