// Package testcert makes client certificates for tests of mutual TLS.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// A Client is a self-signed client certificate, valid for an hour either
// side of now, and its key.
type Client struct {
	Leaf    *x509.Certificate // to trust it: a server's ClientCAs
	TLS     tls.Certificate   // to present it: a client's Certificates
	CertPEM *pem.Block        // the certificate, as a PEM file holds it
	KeyPEM  *pem.Block        // its key (PKCS #8), as a PEM file holds it
}

// NewClient makes a Client named name, failing t if it cannot.
func NewClient(t testing.TB, name string) Client {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return Client{
		Leaf:    leaf,
		TLS:     tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		CertPEM: &pem.Block{Type: "CERTIFICATE", Bytes: der},
		KeyPEM:  &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER},
	}
}
