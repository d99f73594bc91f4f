package vault

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/crmkit/crmkit/auth"
)

// NewClient returns a Vault API client for addr (https://vault.example.com:8200)
// that authenticates with token and connects with crmkit's TLS policy,
// auth.TLSConfig(roots): TLS 1.2 or newer, the system roots when roots is
// nil (pass a pool for a Vault whose certificate a private CA signed), and
// verification always on.
//
// Unlike vaultapi.DefaultConfig, it takes its address and TLS settings from
// its arguments only, so a stray VAULT_SKIP_VERIFY or VAULT_CACERT in the
// environment cannot change them, and the token is the one given (the
// namespace starts empty: call SetNamespace on the client for Vault
// Enterprise). Requests time out after a minute and are retried twice on a
// dropped connection or a 5xx, as the Vault API client does by default.
//
// addr must be https, except for a loopback address (127.0.0.1, [::1],
// localhost), where plain http is accepted for a Vault dev server or a
// local Vault Agent, and a unix:// socket.
func NewClient(addr, token string, roots *x509.CertPool) (*vaultapi.Client, error) {
	if err := checkAddress(addr); err != nil {
		return nil, err
	}
	if token == "" {
		return nil, errors.New("vault secret store: the Vault token is empty: pass the token of a role whose policy allows the store's paths")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = auth.TLSConfig(roots)
	tr.TLSHandshakeTimeout = 10 * time.Second
	cfg := &vaultapi.Config{
		Address: addr,
		HttpClient: &http.Client{
			Transport: tr,
			// The Vault API client follows Vault's redirects itself.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Timeout:      time.Minute,
		MaxRetries:   2,
		MinRetryWait: time.Second,
		MaxRetryWait: 1500 * time.Millisecond,
		Backoff:      retryablehttp.RateLimitLinearJitterBackoff,
	}
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		// Errors from here concern the address or the environment, never the
		// token, which is set below.
		return nil, fmt.Errorf("vault secret store: building the Vault client for %s: %w", addr, err)
	}
	c.SetToken(token)
	c.ClearNamespace()
	return c, nil
}

// checkAddress refuses plain http to anything but a loopback host.
func checkAddress(addr string) error {
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" && u.Scheme != "unix" {
		return fmt.Errorf("vault secret store: address %q is not a URL such as https://vault.example.com:8200", addr)
	}
	switch u.Scheme {
	case "https", "unix":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("vault secret store: address %q is plain http to a host that is not loopback: the token would cross the network in clear; use https (plain http is accepted only for 127.0.0.1, [::1] and localhost)", addr)
	default:
		return fmt.Errorf("vault secret store: address %q: scheme %q is not https", addr, u.Scheme)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkClient applies checkAddress to a caller's client and, for https,
// checks that its transport keeps crmkit's TLS policy.
func checkClient(c *vaultapi.Client) error {
	addr := c.Address()
	if err := checkAddress(addr); err != nil {
		return err
	}
	if !strings.HasPrefix(addr, "https:") {
		return nil
	}
	const fix = "build the client with vault.NewClient, or set its http.Transport's TLSClientConfig to auth.TLSConfig(roots)"
	var rt http.RoundTripper
	if hc := c.CloneConfig().HttpClient; hc != nil {
		rt = hc.Transport
	}
	tr, ok := rt.(*http.Transport)
	if !ok {
		return fmt.Errorf("vault secret store: the client's transport is a %T whose TLS settings crmkit cannot check: %s", rt, fix)
	}
	tc := tr.TLSClientConfig
	switch {
	case tc == nil:
		return fmt.Errorf("vault secret store: the client's transport has no TLS config (its minimum version would depend on GODEBUG): %s", fix)
	case tc.InsecureSkipVerify:
		return fmt.Errorf("vault secret store: the client skips TLS certificate verification (VAULT_SKIP_VERIFY?): anyone on the path could read the token; %s", fix)
	case tc.MinVersion < tls.VersionTLS12:
		return fmt.Errorf("vault secret store: the client allows TLS older than 1.2: %s", fix)
	}
	return nil
}
