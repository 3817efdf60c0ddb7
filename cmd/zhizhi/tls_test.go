package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for zhizhi.example and 127.0.0.1 with its key, returning the two paths and a
// pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "zhizhi.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"zhizhi.example"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// With --tls-cert and --tls-key the server speaks HTTPS only, and its local agent delivers over it.
func TestUpServesTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	out, logs := &syncBuffer{}, &syncBuffer{}
	addr := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := upConfig{dataDir: filepath.Join(dir, "data"), listen: "127.0.0.1:0", out: out, tlsCert: certFile, tlsKey: keyFile,
		log: slog.New(slog.NewTextHandler(logs, nil)), agentInterval: time.Second, ready: func(a net.Addr) { addr <- a }}
	go func() { done <- runUp(ctx, cfg) }()
	var base string
	select {
	case a := <-addr:
		base = "https://" + a.String()
	case err := <-done:
		t.Fatalf("up: %v\n%s", err, logs)
	case <-time.After(20 * time.Second):
		t.Fatal("up did not start")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("up returned %v", err)
		}
	}()
	m := passwordRE.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no admin password in %q", out)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}

	// Plain HTTP is not served.
	if resp, err := http.Get(strings.Replace(base, "https://", "http://", 1) + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP answered 200")
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest("GET", base+"/api/v1/hosts", nil)
		req.SetBasicAuth("admin", m[1])
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("https: %v", err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var hosts struct{ Hosts []struct{ Status string } }
		if resp.StatusCode != 200 || json.Unmarshal(data, &hosts) != nil {
			t.Fatalf("hosts: %d %s", resp.StatusCode, data)
		}
		if len(hosts.Hosts) == 1 && hosts.Hosts[0].Status == "online" {
			break // the local agent delivered over HTTPS
		}
		if time.Now().After(deadline) {
			t.Fatalf("the local agent did not deliver over HTTPS: %s\nlogs:\n%s", data, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestServerTLSFlags(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	if c, err := serverTLS("", ""); c != nil || err != nil {
		t.Fatalf("no flags: %v %v", c, err)
	}
	if _, err := serverTLS(certFile, ""); err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Fatalf("cert without key: %v", err)
	}
	if _, err := serverTLS("", keyFile); err == nil || !strings.Contains(err.Error(), "--tls-cert") {
		t.Fatalf("key without cert: %v", err)
	}
	if _, err := serverTLS(keyFile, certFile); err == nil {
		t.Fatal("swapped files accepted")
	}
	if c, err := serverTLS(certFile, keyFile); err != nil || len(c.Certificates) != 1 || c.MinVersion != tls.VersionTLS12 {
		t.Fatalf("good pair: %v %v", c, err)
	}
}
