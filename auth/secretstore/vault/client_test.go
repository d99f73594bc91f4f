package vault

import (
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/crmkit/crmkit/auth"
)

// These tests need no Vault: New and NewClient make no request.

func TestNewClientRefusesUnsafeAddresses(t *testing.T) {
	for _, tc := range []struct {
		addr, want string
	}{
		{"http://vault.example.com:8200", "plain http"},
		{"http://10.0.0.8:8200", "plain http"},
		{"ftp://vault.example.com", "not https"},
		{"vault.example.com:8200", "not a URL"},
		{"", "not a URL"},
	} {
		_, err := NewClient(tc.addr, "hvs.token-value", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewClient(%q): err = %v, want %q", tc.addr, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hvs.token-value") {
			t.Errorf("NewClient(%q): error reveals the token: %v", tc.addr, err)
		}
	}
	for _, addr := range []string{
		"https://vault.example.com:8200",
		"http://127.0.0.1:8200",
		"http://127.9.9.9:8200",
		"http://[::1]:8200",
		"http://localhost:8200",
		"unix:///run/vault-agent.sock",
	} {
		if _, err := NewClient(addr, "hvs.token-value", nil); err != nil {
			t.Errorf("NewClient(%q): %v", addr, err)
		}
	}
	if _, err := NewClient("https://vault.example.com", "", nil); err == nil || !strings.Contains(err.Error(), "token is empty") {
		t.Errorf("empty token: err = %v", err)
	}
}

// NewClient's transport follows crmkit's TLS policy whatever the
// environment says.
func TestNewClientIgnoresTLSEnvironment(t *testing.T) {
	t.Setenv("VAULT_SKIP_VERIFY", "true")
	t.Setenv("VAULT_TOKEN", "hvs.from-the-environment")
	c, err := NewClient("https://vault.example.com:8200", "hvs.given", nil)
	if err != nil {
		t.Fatal(err)
	}
	tc := c.CloneConfig().HttpClient.Transport.(*http.Transport).TLSClientConfig
	if tc.InsecureSkipVerify || tc.MinVersion < tls.VersionTLS12 {
		t.Errorf("TLS config skips verification or allows < 1.2: %+v", tc)
	}
	if c.Token() != "hvs.given" {
		t.Error("the client does not use the token it was given")
	}
	if _, err := New(c, "secret"); err != nil {
		t.Errorf("New refuses NewClient's client: %v", err)
	}
}

func TestNewRefusesClientsThatWeakenTLS(t *testing.T) {
	client := func(t *testing.T, addr string, rt http.RoundTripper) *vaultapi.Client {
		t.Helper()
		c, err := vaultapi.NewClient(&vaultapi.Config{Address: addr, HttpClient: &http.Client{Transport: rt}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	withTLS := func(tc *tls.Config) http.RoundTripper {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		return tr
	}
	for _, tc := range []struct {
		name string
		c    *vaultapi.Client
		want string
	}{
		{"skip verify", client(t, "https://vault.example.com", withTLS(&tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true})), "skips TLS certificate verification"},
		{"TLS 1.0", client(t, "https://vault.example.com", withTLS(&tls.Config{MinVersion: tls.VersionTLS10})), "older than 1.2"},
		{"no TLS config", client(t, "https://vault.example.com", withTLS(nil)), "no TLS config"},
		{"opaque transport", client(t, "https://vault.example.com", roundTripFunc(nil)), "cannot check"},
		{"plain http", client(t, "http://vault.example.com:8200", withTLS(auth.TLSConfig(nil))), "plain http"},
	} {
		_, err := New(tc.c, "secret")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New err = %v, want %q", tc.name, err, tc.want)
		}
	}

	// The documented way to configure a client built elsewhere passes.
	cfg := vaultapi.DefaultConfig()
	cfg.Address = "https://vault.example.com"
	cfg.HttpClient.Transport.(*http.Transport).TLSClientConfig = auth.TLSConfig(nil)
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(c, "secret"); err != nil {
		t.Errorf("New refuses a client with auth.TLSConfig: %v", err)
	}
	// A loopback dev server over plain http is accepted.
	if _, err := New(client(t, "http://127.0.0.1:8200", withTLS(nil)), "secret"); err != nil {
		t.Errorf("loopback http: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewValidatesMountPrefixAndKeys(t *testing.T) {
	c, err := NewClient("http://127.0.0.1:8200", "hvs.t", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(nil, "secret"); err == nil || !strings.Contains(err.Error(), "client is nil") {
		t.Errorf("nil client: err = %v", err)
	}
	for _, mount := range []string{"", "/", "a//b", "../sys", "sec ret", "secret?x"} {
		if _, err := New(c, mount); err == nil || !strings.Contains(err.Error(), "mount") {
			t.Errorf("mount %q: err = %v, want it refused", mount, err)
		}
	}
	for _, prefix := range []string{"a/../b", "a b", "a//b", "%2e%2e"} {
		if _, err := New(c, "secret", WithPrefix(prefix)); err == nil || !strings.Contains(err.Error(), "WithPrefix") {
			t.Errorf("prefix %q: err = %v, want it refused", prefix, err)
		}
	}
	s, err := New(c, "/secret/", WithPrefix("/crmkit/prod/"))
	if err != nil {
		t.Fatal(err)
	}
	if s.mount != "secret" || s.prefix != "crmkit/prod" {
		t.Errorf("mount, prefix = %q, %q; want slashes trimmed", s.mount, s.prefix)
	}
	for _, key := range []string{"", "..", "a/", "/a", "a/./b", "a\nb", "key?version=1", "k#", strings.Repeat("k", 513)} {
		_, err := s.Get(t.Context(), key)
		if err == nil || !strings.Contains(err.Error(), "key") {
			t.Errorf("Get(%q): err = %v, want the key refused", key, err)
		}
		_, err = s.CompareAndSwap(t.Context(), key, 0, []byte("v"))
		if err == nil || !strings.Contains(err.Error(), "key") {
			t.Errorf("CompareAndSwap(%q): err = %v, want the key refused", key, err)
		}
	}
	if _, err := s.CompareAndSwap(t.Context(), "k", -1, nil); !errors.Is(err, auth.ErrVersionConflict) {
		t.Errorf("negative version: err = %v, want ErrVersionConflict (no stored version is negative)", err)
	}
	if p, err := s.path("hubspot/eu-1"); err != nil || p != "crmkit/prod/hubspot/eu-1" {
		t.Errorf("path = %q, %v", p, err)
	}
}

// FuzzKeyPath checks that every key the store accepts is a clean Vault
// path: no escaping, traversal or empty segment can reach the URL.
func FuzzKeyPath(f *testing.F) {
	for _, s := range []string{"hubspot", "a/b", "../x", "a//b", "a/./b", "ü", "a?b", ".hidden"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if checkPath(key) != nil {
			return
		}
		for seg := range strings.SplitSeq(key, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted %q with segment %q", key, seg)
			}
		}
		if strings.ContainsAny(key, "?#%\\ \t\n\r\x00") || len(key) > 512 {
			t.Fatalf("accepted %q", key)
		}
	})
}

func TestDecodeValue(t *testing.T) {
	for _, tc := range []struct {
		data map[string]any
		want string
	}{
		{map[string]any{"password": "x"}, "not written by crmkit"},
		{map[string]any{"value": 42}, "not a base64 string"},
		{map[string]any{"value": "***"}, "not standard base64"},
	} {
		if _, err := decodeValue(tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("decodeValue(%v): err = %v, want %q", tc.data, err, tc.want)
		}
	}
	if b, err := decodeValue(map[string]any{"value": "aGk="}); err != nil || string(b) != "hi" {
		t.Errorf("decodeValue = %q, %v", b, err)
	}
}

func TestRedact(t *testing.T) {
	msg := redact("token hvs.abc value s3cret-value b64 czNjcmV0LXZhbHVl", "hvs.abc", []byte("s3cret-value"))
	for _, s := range []string{"hvs.abc", "s3cret-value", "czNjcmV0LXZhbHVl"} {
		if strings.Contains(msg, s) {
			t.Errorf("redact left %q in %q", s, msg)
		}
	}
}
