package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmkit/crmkit/auth"
)

// testCA is a certificate authority built in memory for one test run.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// issued is a certificate with its key, as a TLS server would serve it.
type issued struct {
	der []byte
	key crypto.Signer
}

// certSpec says what one certificate in the test PKI looks like.
type certSpec struct {
	cn        string
	dns       []string
	ips       []net.IP
	isCA      bool
	notBefore time.Time
	notAfter  time.Time
}

var certSerial atomic.Int64

// makeCert creates a certificate for spec, signed by parent (or
// self-signed when parent is nil), on a fresh P-256 key.
func makeCert(t *testing.T, spec certSpec, parent *testCA) (issued, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(certSerial.Add(1)),
		Subject:      pkix.Name{CommonName: spec.cn, Organization: []string{"crmkit test PKI"}},
		DNSNames:     spec.dns,
		IPAddresses:  spec.ips,
		NotBefore:    spec.notBefore,
		NotAfter:     spec.notAfter,
	}
	if spec.isCA {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	signerCert, signerKey := tmpl, crypto.Signer(key)
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		t.Fatalf("create %s: %v", spec.cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return issued{der: der, key: key}, cert
}

// testPKI is a root CA, an intermediate CA under it, and the leaves the
// TLS policy tests serve.
type testPKI struct {
	root         *x509.Certificate
	intermediate issued
	good         issued // 127.0.0.1 and localhost, signed by the intermediate
	expired      issued // right names and chain, validity ended yesterday
	otherHost    issued // crm.example.test only, signed by the intermediate
	selfSigned   issued // right names, signed by nobody the client trusts
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	now := time.Now()
	valid := func(s certSpec) certSpec {
		s.notBefore, s.notAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		return s
	}
	loopback := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	local := []string{"localhost"}

	root := caFrom(t, valid(certSpec{cn: "crmkit test root CA", isCA: true}), nil)
	inter := caFrom(t, valid(certSpec{cn: "crmkit test intermediate CA", isCA: true}), root)

	p := &testPKI{root: root.cert}
	p.intermediate = issued{der: inter.cert.Raw, key: inter.key}
	p.good, _ = makeCert(t, valid(certSpec{cn: "localhost", dns: local, ips: loopback}), inter)
	p.expired, _ = makeCert(t, certSpec{cn: "localhost", dns: local, ips: loopback,
		notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-24 * time.Hour)}, inter)
	p.otherHost, _ = makeCert(t, valid(certSpec{cn: "crm.example.test", dns: []string{"crm.example.test"}}), inter)
	p.selfSigned, _ = makeCert(t, valid(certSpec{cn: "localhost", dns: local, ips: loopback}), nil)
	return p
}

// caFrom makes a CA certificate and keeps its key for signing.
func caFrom(t *testing.T, spec certSpec, parent *testCA) *testCA {
	t.Helper()
	c, cert := makeCert(t, spec, parent)
	return &testCA{cert: cert, key: c.key}
}

// rootPool trusts only the test root: not the intermediate, not the
// system roots.
func (p *testPKI) rootPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.root)
	return pool
}

// chain builds what a server sends: the leaf, then any intermediates.
func chain(leaf issued, intermediates ...issued) tls.Certificate {
	c := tls.Certificate{Certificate: [][]byte{leaf.der}, PrivateKey: leaf.key}
	for _, i := range intermediates {
		c.Certificate = append(c.Certificate, i.der)
	}
	return c
}

// startTLSServer starts a real TLS server on 127.0.0.1 presenting cert
// under cfg, and counts the requests that got through the handshake.
func startTLSServer(t *testing.T, cert tls.Certificate, cfg *tls.Config) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var served atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.Certificates = []tls.Certificate{cert}
	srv.TLS = cfg
	// Refused handshakes are the point of these tests; keep the server's
	// "TLS handshake error" lines out of the test output.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &served
}

// policyClient is an HTTP client whose TLS settings are exactly crmkit's
// policy with the given roots.
func policyClient(t *testing.T, roots *x509.CertPool) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: auth.TLSConfig(roots)}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// get fetches url and reads the body, so a success means a full request
// went over the connection.
func get(t *testing.T, c *http.Client, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		observeErr(err)
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if string(body) != "ok" {
		t.Errorf("body = %q, want ok", body)
	}
	return resp, nil
}

func TestTLSConfigPolicyDefaults(t *testing.T) {
	c := auth.TLSConfig(nil)
	if c.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %#x, want TLS 1.2 (%#x)", c.MinVersion, tls.VersionTLS12)
	}
	if c.InsecureSkipVerify {
		t.Error("InsecureSkipVerify is set")
	}
	if c.RootCAs != nil {
		t.Error("TLSConfig(nil) should leave RootCAs nil so the system roots are used")
	}
	pool := x509.NewCertPool()
	if got := auth.TLSConfig(pool); got.RootCAs != pool || got.MinVersion != tls.VersionTLS12 || got.InsecureSkipVerify {
		t.Errorf("TLSConfig(pool) = %+v; want the pool, TLS 1.2 minimum, verification on", got)
	}
	if auth.TLSConfig(nil) == c {
		t.Error("TLSConfig returned the same config twice; callers may mutate it")
	}
}

func TestTLSPolicyAgainstRealServers(t *testing.T) {
	pki := newTestPKI(t)
	roots := pki.rootPool()

	t.Run("good chain is accepted", func(t *testing.T) {
		srv, served := startTLSServer(t, chain(pki.good, pki.intermediate), nil)
		resp, err := get(t, policyClient(t, roots), srv.URL)
		if err != nil {
			t.Fatalf("the control connection failed, so the refusals below prove nothing: %v", err)
		}
		if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("connection state %+v; want TLS 1.2 or newer", resp.TLS)
		}
		if n := served.Load(); n != 1 {
			t.Errorf("handler ran %d times, want 1", n)
		}
		// localhost is on the leaf as well as 127.0.0.1.
		local := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
		if _, err := get(t, policyClient(t, roots), local); err != nil {
			t.Errorf("GET %s: %v", local, err)
		}
	})

	t.Run("leaf without its intermediate is refused", func(t *testing.T) {
		srv, served := startTLSServer(t, chain(pki.good), nil)
		_, err := get(t, policyClient(t, roots), srv.URL)
		var uae x509.UnknownAuthorityError
		if !errors.As(err, &uae) {
			t.Fatalf("err = %v; want x509.UnknownAuthorityError", err)
		}
		if uae.Cert == nil || uae.Cert.Subject.CommonName != "localhost" {
			t.Errorf("unknown authority for %v; want the leaf", uae.Cert)
		}
		if n := served.Load(); n != 0 {
			t.Errorf("handler ran %d times over a refused connection", n)
		}
	})

	t.Run("untrusted self-signed certificate is refused", func(t *testing.T) {
		srv, served := startTLSServer(t, chain(pki.selfSigned), nil)
		_, err := get(t, policyClient(t, roots), srv.URL)
		var uae x509.UnknownAuthorityError
		if !errors.As(err, &uae) {
			t.Fatalf("err = %v; want x509.UnknownAuthorityError", err)
		}
		if n := served.Load(); n != 0 {
			t.Errorf("handler ran %d times over a refused connection", n)
		}
	})

	t.Run("wrong host name is refused", func(t *testing.T) {
		srv, served := startTLSServer(t, chain(pki.otherHost, pki.intermediate), nil)
		_, err := get(t, policyClient(t, roots), srv.URL)
		var he x509.HostnameError
		if !errors.As(err, &he) {
			t.Fatalf("err = %v; want x509.HostnameError", err)
		}
		if he.Host != "127.0.0.1" || he.Certificate == nil || he.Certificate.DNSNames[0] != "crm.example.test" {
			t.Errorf("hostname error for host %q, cert %v; want 127.0.0.1 against crm.example.test", he.Host, he.Certificate)
		}
		if n := served.Load(); n != 0 {
			t.Errorf("handler ran %d times over a refused connection", n)
		}
	})

	t.Run("expired leaf is refused", func(t *testing.T) {
		srv, served := startTLSServer(t, chain(pki.expired, pki.intermediate), nil)
		_, err := get(t, policyClient(t, roots), srv.URL)
		var cie x509.CertificateInvalidError
		if !errors.As(err, &cie) || cie.Reason != x509.Expired {
			t.Fatalf("err = %v; want x509.CertificateInvalidError with reason Expired", err)
		}
		if n := served.Load(); n != 0 {
			t.Errorf("handler ran %d times over a refused connection", n)
		}
	})

	t.Run("server capped at TLS 1.1 is refused", func(t *testing.T) {
		// A server built old on purpose: it speaks TLS 1.0 and 1.1 only.
		old := &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
		srv, served := startTLSServer(t, chain(pki.good, pki.intermediate), old)

		// Control: a client that permits TLS 1.0 gets through with TLS
		// 1.1, so the refusal below is the policy, not a broken server.
		// (tlspolicy_test.go allows this one below-policy client config.)
		laxTr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10}}
		t.Cleanup(laxTr.CloseIdleConnections)
		resp, err := get(t, &http.Client{Transport: laxTr, Timeout: 30 * time.Second}, srv.URL)
		if err != nil {
			t.Fatalf("control client permitting TLS 1.0 failed, so the server is broken: %v", err)
		}
		if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS11 {
			t.Fatalf("control connection state %+v; want TLS 1.1", resp.TLS)
		}

		_, err = get(t, policyClient(t, roots), srv.URL)
		if err == nil {
			t.Fatal("crmkit's policy connected to a TLS 1.1-only server")
		}
		// The server finds no common version and answers with a
		// protocol_version alert, which the client reports as a remote
		// error.
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "remote error" || !strings.Contains(oe.Err.Error(), "protocol version not supported") {
			t.Errorf("err = %v; want the server's protocol_version alert", err)
		}
		if n := served.Load(); n != 1 {
			t.Errorf("handler ran %d times, want 1 (the control only)", n)
		}
	})
}
