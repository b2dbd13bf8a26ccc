package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c989c033/fetch/internal/testcert"
)

// writePEM writes blocks to a new file in dir and returns its path.
func writePEM(t *testing.T, dir, name string, blocks ...*pem.Block) string {
	t.Helper()
	var b strings.Builder
	for _, blk := range blocks {
		pem.Encode(&b, blk)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// --cacert, --cert/--key and -k do what curl's do: a server whose
// certificate only --cacert's CA vouches for is fetched with it and refused
// without it; -k skips the check; a server that requires a client
// certificate gets --cert's, with its key from --key or from the same file.
func TestTLSFlags(t *testing.T) {
	dir := t.TempDir()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	srv := httptest.NewTLSServer(ok)
	defer srv.Close()
	ca := writePEM(t, dir, "ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	client := testcert.NewClient(t, "fetch test client")
	certPEM, keyPEM := client.CertPEM, client.KeyPEM
	certFile := writePEM(t, dir, "client.pem", certPEM)
	keyFile := writePEM(t, dir, "client.key", keyPEM)
	both := writePEM(t, dir, "both.pem", certPEM, keyPEM)
	mtls := httptest.NewUnstartedServer(ok)
	mtls.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: x509.NewCertPool()}
	mtls.TLS.ClientCAs.AddCert(client.Leaf)
	mtls.StartTLS()
	defer mtls.Close()
	mtlsCA := writePEM(t, dir, "mtls-ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: mtls.Certificate().Raw})

	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"no CA", []string{srv.URL}, false},
		{"--cacert", []string{"--cacert", ca, srv.URL}, true},
		{"-k", []string{"-k", srv.URL}, true},
		{"mTLS without --cert", []string{"--cacert", mtlsCA, mtls.URL}, false},
		{"mTLS --cert --key", []string{"--cacert", mtlsCA, "--cert", certFile, "--key", keyFile, mtls.URL}, true},
		{"mTLS -E with the key in the file", []string{"--cacert", mtlsCA, "-E", both, mtls.URL}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, "", append([]string{"-q", "--retries", "0"}, tc.args...)...)
			recs := lineRecords(t, out)
			if len(recs) != 1 {
				t.Fatalf("exit %d, %d records; want 1\n%s%s", code, len(recs), out, errOut)
			}
			r := recs[0]
			if got := code == exitOK && r.Status == http.StatusOK; got != tc.ok {
				t.Errorf("exit %d, status %d, error %q; want success %v", code, r.Status, r.Error, tc.ok)
			}
		})
	}
}

// A TLS flag's bad file is a usage error naming the flag, before anything
// is fetched.
func TestTLSFlagErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	certPEM := testcert.NewClient(t, "fetch test client").CertPEM
	certOnly := writePEM(t, dir, "cert.pem", certPEM)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cacert", filepath.Join(dir, "missing.pem")}, "--cacert: open"},
		{[]string{"--cacert", notPEM}, "--cacert " + notPEM + ": no PEM certificate in it"},
		{[]string{"--key", notPEM}, "--key: applies only with --cert"},
		{[]string{"--cert", certOnly}, "(give the key's file with --key)"},
		{[]string{"--cert", certOnly, "--key", certOnly}, "--cert " + certOnly + ", its key from --key " + certOnly},
		{[]string{"--cert", certOnly, "--key", filepath.Join(dir, "missing.key")}, "--key: open"},
	} {
		code, out, errOut := runCmd(t, "", append(tc.args, "https://a.test/")...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d and an error saying %q", tc.args, code, out, errOut, exitUsage, tc.want)
		}
	}
}
