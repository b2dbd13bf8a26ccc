package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// tlsConfig returns the TLS configuration --cacert, --cert, --key and -k
// ask for, or nil if none is given. An error names the flag and the file.
func (o options) tlsConfig() (*tls.Config, error) {
	if o.cacert == "" && o.cert == "" && o.key == "" && !o.insecure {
		return nil, nil
	}
	cfg := &tls.Config{InsecureSkipVerify: o.insecure}
	if o.cacert != "" {
		pem, err := os.ReadFile(o.cacert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificate in it", o.cacert)
		}
	}
	switch {
	case o.key != "" && o.cert == "":
		return nil, errors.New("--key: applies only with --cert")
	case o.cert != "":
		certPEM, err := os.ReadFile(o.cert)
		if err != nil {
			return nil, fmt.Errorf("--cert: %w", err)
		}
		keyPEM := certPEM
		if o.key != "" {
			if keyPEM, err = os.ReadFile(o.key); err != nil {
				return nil, fmt.Errorf("--key: %w", err)
			}
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil && o.key == "" {
			return nil, fmt.Errorf("--cert %s: %w (give the key's file with --key)", o.cert, err)
		}
		if err != nil {
			return nil, fmt.Errorf("--cert %s, its key from --key %s: %w", o.cert, o.key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
