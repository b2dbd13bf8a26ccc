package fetch

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A 101 Switching Protocols response's body is the connection, an
// io.ReadWriteCloser, as net/http documents: Do passes it on writable, and
// the call keeps its slot until the body is closed.
func TestDoSwitchingProtocolsBodyIsWritable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		rw.Flush()
		line, err := rw.ReadString('\n')
		if err != nil {
			return
		}
		rw.WriteString(line)
		rw.Flush()
	}))
	defer srv.Close()
	f, err := New(WithConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("GET", srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := f.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d; want 101", resp.StatusCode)
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("the body of a 101 (%T) is not an io.ReadWriteCloser", resp.Body)
	}
	if f.Stats().InFlight != 1 {
		t.Errorf("InFlight = %d while the upgraded connection is open; want 1", f.Stats().InFlight)
	}
	if _, err := io.WriteString(rwc, "ping\n"); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(rwc).ReadString('\n')
	if err != nil || got != "ping\n" {
		t.Fatalf("read %q, %v; want the echo %q", got, err, "ping\n")
	}
	rwc.Close()
	if f.Stats().InFlight != 0 {
		t.Errorf("InFlight = %d once the upgraded connection is closed; want 0", f.Stats().InFlight)
	}
}
