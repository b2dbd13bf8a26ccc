package redisqueue

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// redisServer is a real redis-server on a free loopback port, that a test
// may stop and start again on the same port.
type redisServer struct {
	addr string
	args []string // persistence settings
	cmd  *exec.Cmd
}

// haveRedis skips t where there is no redis-server, unless REDIS_ADDR is
// set: then we are in CI, which installs it, and its absence is a failure.
func haveRedis(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("REDIS_ADDR") != "" {
			t.Fatalf("redis-server not found, though REDIS_ADDR is set (CI must install it): %v", err)
		}
		t.Skip("redis-server not installed (apt-get install -y redis-server)")
	}
}

// startRedis starts a redis-server of t's own, persistence off, stopped
// when t ends.
func startRedis(t testing.TB) *redisServer {
	return startRedisWith(t, "--save", "", "--appendonly", "no")
}

// startDurableRedis starts a redis-server of t's own that writes every
// change to an append-only file before answering, so that a kill loses
// nothing: what a client was told is written survives a restart.
func startDurableRedis(t testing.TB) *redisServer {
	return startRedisWith(t, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir())
}

func startRedisWith(t testing.TB, args ...string) *redisServer {
	t.Helper()
	haveRedis(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &redisServer{addr: l.Addr().String(), args: args}
	l.Close()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// redisAddr is the Redis of CI (REDIS_ADDR), or one of t's own.
func redisAddr(t testing.TB) string {
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		return addr
	}
	return startRedis(t).addr
}

// start runs redis-server on s.addr and returns once it accepts connections.
func (s *redisServer) start() error {
	_, port, _ := net.SplitHostPort(s.addr)
	args := append([]string{"--bind", "127.0.0.1", "--port", port, "--loglevel", "notice"}, s.args...)
	s.cmd = exec.Command("redis-server", args...)
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
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
			return fmt.Errorf("redis-server on %s exited before it was ready", s.addr)
		}
	case <-time.After(10 * time.Second):
		s.stop()
		return fmt.Errorf("redis-server on %s not ready after 10s", s.addr)
	}
	return nil
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

func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ping Redis at %s: %v", addr, err)
	}
	return rdb
}

// uniqueName returns a stream name no earlier run has used, so that a
// shared Redis (REDIS_ADDR) starts every test empty.
func uniqueName(t testing.TB) string {
	return fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
}

func newQueue(t testing.TB, rdb redis.UniversalClient, opts ...Option) *Queue {
	t.Helper()
	q, err := New(rdb, uniqueName(t), "workers", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Delete(context.Background()) })
	return q
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(workerEnv); mode != "" {
		os.Exit(workerMain(mode)) // a worker process of a multi-process test
	}
	goleak.VerifyTestMain(m)
}
