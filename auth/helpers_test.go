package auth_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// leaks collects every credential the tests use and every log line and
// error string the code under test produced; TestMain fails the run if any
// credential shows up in any output.
var leaks struct {
	mu      sync.Mutex
	secrets []string
	outputs []string
}

func secret(vals ...string) {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	for _, v := range vals {
		if len(v) >= 6 {
			leaks.secrets = append(leaks.secrets, v)
		}
	}
}

func observe(s string) {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	leaks.outputs = append(leaks.outputs, s)
}

func observeErr(err error) {
	if err != nil {
		observe(err.Error())
		observe(fmt.Sprintf("%v %+v %#v", err, err, err))
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	observe(string(p))
	return s.b.Write(p)
}

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(&syncBuffer{}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestMain(m *testing.M) {
	if os.Getenv(raceChildEnv) != "" {
		os.Exit(raceChild()) // a worker process of the rotation race
	}
	code := m.Run()
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	if len(leaks.outputs) == 0 {
		fmt.Println("leak scan: no output was observed; the scan is broken")
		code = 1
	}
	for _, s := range leaks.secrets {
		for _, o := range leaks.outputs {
			if strings.Contains(o, s) {
				fmt.Printf("leak scan: a credential (%d bytes, starts %q) appears in output %q\n", len(s), s[:3], o)
				code = 1
			}
		}
	}
	if code == 0 {
		fmt.Printf("leak scan: %d credentials checked against %d outputs\n", len(leaks.secrets), len(leaks.outputs))
	}
	os.Exit(code)
}

// newCert makes an RSA key and a self-signed certificate for it, and
// registers the key material with the leak scan.
func newCert(t testing.TB) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "crmkit test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	priv := x509.MarshalPKCS1PrivateKey(key)
	secret(base64.StdEncoding.EncodeToString(priv)[:40], key.D.String()[:40], key.D.Text(16)[:40])
	return key, cert
}
