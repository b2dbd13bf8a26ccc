package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// clientCert makes a self-signed client certificate and returns it and the
// PEM blocks of it and its key.
func clientCert(t *testing.T) (*x509.Certificate, *pem.Block, *pem.Block) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "fetch test client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return cert, &pem.Block{Type: "CERTIFICATE", Bytes: der}, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}
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

	cert, certPEM, keyPEM := clientCert(t)
	certFile := writePEM(t, dir, "client.pem", certPEM)
	keyFile := writePEM(t, dir, "client.key", keyPEM)
	both := writePEM(t, dir, "both.pem", certPEM, keyPEM)
	mtls := httptest.NewUnstartedServer(ok)
	mtls.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: x509.NewCertPool()}
	mtls.TLS.ClientCAs.AddCert(cert)
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
	_, certPEM, _ := clientCert(t)
	certOnly := writePEM(t, dir, "cert.pem", certPEM)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cacert", filepath.Join(dir, "missing.pem")}, "--cacert: open"},
		{[]string{"--cacert", notPEM}, "--cacert " + notPEM + ": no PEM certificate in it"},
		{[]string{"--key", notPEM}, "--key: applies only with --cert"},
		{[]string{"--cert", certOnly}, "--cert " + certOnly + ", its key from --cert"},
		{[]string{"--cert", certOnly, "--key", filepath.Join(dir, "missing.key")}, "--key: open"},
	} {
		code, out, errOut := runCmd(t, "", append(tc.args, "https://a.test/")...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d and an error saying %q", tc.args, code, out, errOut, exitUsage, tc.want)
		}
	}
}
