// Package redistest runs a real redis-server for the tests of the modules
// that use Redis: redisrate, redisqueue and the command-line tool.
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
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

// Freeze stops the server with SIGSTOP, as a hung host would: it keeps
// its connections and port but answers nothing until Thaw.
func (s *Server) Freeze() error { return s.signal(syscall.SIGSTOP) }

// Thaw lets a frozen server (see Freeze) go on with SIGCONT.
func (s *Server) Thaw() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	if s.cmd == nil {
		return fmt.Errorf("redis-server on %s is not running", s.Addr)
	}
	return s.cmd.Process.Signal(sig)
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

// StartCluster starts a redis-server of t's own as a Redis Cluster of one
// node that serves every slot, and returns once the cluster is up. One
// node is enough to show what a cluster refuses that a single server
// allows: a command or script whose keys lie in different slots fails
// with CROSSSLOT.
func StartCluster(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	s := Start(t, "--cluster-enabled", "yes", "--cluster-config-file", dir+"/nodes.conf", "--dir", dir)
	if _, err := s.command("CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil {
		t.Fatalf("assigning the slots: %v", err)
	}
	// The node says the cluster is up once it has looked at its slots,
	// within a second or two: ask until it does, for at most 10s.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		info, err := s.command("CLUSTER", "INFO")
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster on %s not up after 10s: %q, %v", s.Addr, info, err)
		}
		<-tick.C
	}
}

// command sends one command to s and returns its reply, which must be a
// status or a bulk string.
func (s *Server) command(args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	req := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		req += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(req)); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("%s", line[1:])
	case strings.HasPrefix(line, "$"):
		var n int
		if _, err := fmt.Sscanf(line, "$%d", &n); err != nil || n < 0 {
			return "", fmt.Errorf("reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}
