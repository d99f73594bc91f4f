package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/retry"
)

// newTLSServer starts a TLS test server with the given version range and
// returns it with a pool that trusts its certificate.
func newTLSServer(t *testing.T, minV, maxV uint16, h http.HandlerFunc) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{MinVersion: minV, MaxVersion: maxV}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv, pool
}

func TestTLSFloorRefusesTLS11(t *testing.T) {
	var served counter
	srv, pool := newTLSServer(t, tls.VersionTLS10, tls.VersionTLS11, func(w http.ResponseWriter, r *http.Request) {
		served.inc()
		io.WriteString(w, "ok")
	})

	// Control: the server does serve TLS 1.1 to a client that allows it, so
	// the refusal below is crmkit's policy and not a broken server.
	lax := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10}}}
	resp, err := lax.Get(srv.URL)
	if err != nil {
		t.Fatalf("control client with TLS 1.0 allowed failed: %v", err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS11 {
		t.Fatalf("control connection did not use TLS 1.1: %+v", resp.TLS)
	}
	if served.get() != 1 {
		t.Fatalf("control request not served")
	}

	h := newHarness(t, Config{RootCAs: pool, Retry: retry.New(retry.WithBackoff(0, 0))})
	_, err = h.c.Do(mustRequest(t, http.MethodGet, srv.URL+"/x", ""))
	if err == nil {
		t.Fatal("Do over TLS 1.1 succeeded; want refusal")
	}
	// Permanent: KindInvalidRequest, which crm.IsRetryable (and so a sync
	// engine) does not retry, with a message that says what to fix.
	var ce *crm.Error
	if !errors.As(err, &ce) || ce.Kind != crm.KindInvalidRequest || crm.IsRetryable(err) {
		t.Fatalf("err = %v; want a *crm.Error of KindInvalidRequest", err)
	}
	if !strings.Contains(err.Error(), "protocol version") || !strings.Contains(ce.Message, "TLS 1.2 or newer") ||
		!strings.Contains(ce.Message, "fix the server's TLS configuration") {
		t.Errorf("err = %v; want it to name the protocol version and the remedy", err)
	}
	if served.get() != 1 {
		t.Errorf("server handled %d requests; the refused client reached it", served.get())
	}
	// A version mismatch is permanent: tried once, even with a retry policy.
	if n := len(h.ended()); n != 1 {
		t.Errorf("%d attempts (spans); want 1", n)
	}
	// HTTPClient shares the policy.
	if _, err := h.c.HTTPClient().Get(srv.URL); err == nil {
		t.Error("HTTPClient over TLS 1.1 succeeded; want refusal")
	}
}

func TestTLSFloorAcceptsTLS12(t *testing.T) {
	srv, pool := newTLSServer(t, tls.VersionTLS12, tls.VersionTLS12, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})
	h := newHarness(t, Config{RootCAs: pool})
	resp, err := h.c.Do(mustRequest(t, http.MethodGet, srv.URL, ""))
	if err != nil {
		t.Fatalf("Do over TLS 1.2: %v", err)
	}
	defer resp.Body.Close()
	if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS12 {
		t.Fatalf("connection state %+v; want TLS 1.2", resp.TLS)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
		t.Errorf("body %q", b)
	}
}

func TestTLSUntrustedCertificateIsPermanent(t *testing.T) {
	var served counter
	srv, _ := newTLSServer(t, tls.VersionTLS12, 0, func(w http.ResponseWriter, r *http.Request) { served.inc() })
	h := newHarness(t, Config{Retry: retry.New(retry.WithBackoff(0, 0))}) // system roots: the test CA is unknown
	_, err := h.c.Do(mustRequest(t, http.MethodGet, srv.URL, ""))
	var ce *crm.Error
	if !errors.As(err, &ce) || ce.Kind != crm.KindInvalidRequest || crm.IsRetryable(err) {
		t.Fatalf("err = %v; want a *crm.Error of KindInvalidRequest, not retryable", err)
	}
	if !strings.Contains(ce.Message, "did not verify") || !strings.Contains(ce.Message, "RootCAs") {
		t.Errorf("message %q; want the cause and the remedy (trust the CA through RootCAs)", ce.Message)
	}
	// x509.UnknownAuthorityError is a value type: a pointer target would
	// never match.
	var uae x509.UnknownAuthorityError
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) || !errors.As(err, &uae) {
		t.Errorf("err = %v; want the certificate errors in its chain", err)
	}
	// Each certificate error alone, as another transport may return it,
	// is permanent too.
	for _, certErr := range []error{x509.UnknownAuthorityError{}, x509.CertificateInvalidError{Reason: x509.Expired},
		x509.HostnameError{Host: "crm.example"}} {
		if !permanent(fmt.Errorf("dial: %w", certErr)) {
			t.Errorf("permanentFailure does not recognise %T", certErr)
		}
	}
	if served.get() != 0 || len(h.ended()) != 1 {
		t.Errorf("served %d, attempts %d; want 0 served and 1 attempt", served.get(), len(h.ended()))
	}
}

func TestTLSConfigPolicy(t *testing.T) {
	pool := x509.NewCertPool()
	for _, roots := range []*x509.CertPool{nil, pool} {
		cfg := TLSConfig(roots)
		if cfg.MinVersion != tls.VersionTLS12 {
			t.Errorf("MinVersion = %x; want TLS 1.2", cfg.MinVersion)
		}
		if cfg.InsecureSkipVerify {
			t.Error("InsecureSkipVerify is set")
		}
		if cfg.RootCAs != roots {
			t.Error("RootCAs not the pool given")
		}
		tr := NewTransport(roots)
		if tr.TLSClientConfig.MinVersion != tls.VersionTLS12 || tr.TLSClientConfig.InsecureSkipVerify || tr.TLSClientConfig.RootCAs != roots {
			t.Errorf("NewTransport's TLS config %+v breaks the policy", tr.TLSClientConfig)
		}
	}
	if a, b := TLSConfig(nil), TLSConfig(nil); a == b {
		t.Error("TLSConfig returns a shared *tls.Config")
	}
}

func TestRedirectFromHTTPSToHTTPIsRefused(t *testing.T) {
	var plainHits counter
	plain := newServer(t, func(w http.ResponseWriter, r *http.Request) { plainHits.inc() })
	srv, pool := newTLSServer(t, tls.VersionTLS12, 0, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/landing", http.StatusFound)
	})
	h := newHarness(t, Config{RootCAs: pool, Retry: retry.New(retry.WithBackoff(0, 0))})
	_, err := h.c.Do(mustRequest(t, http.MethodGet, srv.URL, ""))
	if !errors.Is(err, ErrRedirectRefused) || !errors.Is(err, crm.ErrInvalidRequest) ||
		!strings.Contains(err.Error(), "refusing a redirect from https to http") {
		t.Fatalf("err = %v; want the downgrade refused", err)
	}
	if plainHits.get() != 0 {
		t.Error("the plain-HTTP server was reached")
	}
}

// permanent reports whether permanentFailure classifies err as permanent.
func permanent(err error) bool {
	_, ok := permanentFailure(err)
	return ok
}

func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	var hits counter
	local := newServer(t, func(w http.ResponseWriter, r *http.Request) { hits.inc() })
	h := newHarness(t, Config{Retry: retry.New(retry.WithBackoff(0, 0))})
	resp, err := h.c.Do(mustRequest(t, http.MethodGet, local.URL+"/emulator", ""))
	if err != nil {
		t.Fatalf("plain http to a loopback emulator: %v", err)
	}
	resp.Body.Close()
	if hits.get() != 1 {
		t.Fatalf("loopback server hits = %d, want 1", hits.get())
	}
	// A non-loopback host over plain http is refused before any dial (the
	// .invalid name could not even be resolved), through Do and through
	// the plain client alike, and is not retried.
	for _, send := range []func() error{
		func() error {
			_, err := h.c.Do(mustRequest(t, http.MethodGet, "http://crm.example.invalid/services/data?access_token=SECRETP1", ""))
			return err
		},
		func() error {
			resp, err := h.c.HTTPClient().Get("http://10.1.2.3/data")
			if err == nil {
				resp.Body.Close()
			}
			return err
		},
	} {
		err := send()
		if !errors.Is(err, crm.ErrInvalidRequest) || !strings.Contains(err.Error(), "over https") {
			t.Fatalf("err = %v; want an invalid-request error about https", err)
		}
		if strings.Contains(err.Error(), "SECRETP1") {
			t.Fatalf("the query string leaked: %v", err)
		}
	}
	if n := len(h.ended()); n != 1 {
		t.Fatalf("%d spans, want 1 (refused requests are never sent)", n)
	}
}
