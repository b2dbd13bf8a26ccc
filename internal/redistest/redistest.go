// Package redistest runs a real redis-server for the tests of the modules
// that use Redis: redisrate, redisqueue and the command-line tool.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A Server is a redis-server on a free loopback port, which a test may
// stop, as a crash would, and start again on the same port.
type Server struct {
	Addr string
	args []string
	cmd  *exec.Cmd
}

// Require skips t where there is no redis-server, unless REDIS_ADDR is
// set: then the tests run in CI, which installs it, and its absence is a
// failure.
func Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("REDIS_ADDR") != "" {
			t.Fatalf("redis-server not found, though REDIS_ADDR is set (CI must install it): %v", err)
		}
		t.Skip("redis-server not installed (apt-get install -y redis-server)")
	}
}

// Start starts a redis-server of t's own, with persistence off unless args
// say otherwise, and stops it when t ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	Require(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: l.Addr().String(), args: append([]string{"--save", "", "--appendonly", "no"}, args...)}
	l.Close()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartDurable starts a redis-server of t's own that writes every change
// to an append-only file before answering, so that a kill loses nothing a
// client was told is written.
func StartDurable(t testing.TB) *Server {
	return Start(t, "--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir())
}

// Addr returns the address of the Redis of CI (REDIS_ADDR), or of a
// redis-server of t's own.
func Addr(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		return addr
	}
	return Start(t).Addr
}

// Restart runs redis-server on s.Addr, after Stop or for the first time,
// and returns once it accepts connections.
func (s *Server) Restart() error {
	_, port, _ := net.SplitHostPort(s.Addr)
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
			s.Stop()
			return fmt.Errorf("redis-server on %s exited before it was ready", s.Addr)
		}
	case <-time.After(10 * time.Second):
		s.Stop()
		return fmt.Errorf("redis-server on %s not ready after 10s", s.Addr)
	}
	return nil
}

// Stop kills the server, as a crash would, and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}
