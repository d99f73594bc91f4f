package auth

import (
	"context"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is a SHA-1 thumbprint by definition (RFC 7515)
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// EntraLogin is Microsoft Entra ID's authority host.
const EntraLogin = "https://login.microsoftonline.com"

// EntraScope is the scope a Dataverse (Dynamics 365) client asks for:
// https://{org host}/.default.
func EntraScope(orgURL string) string {
	if u, err := url.Parse(orgURL); err == nil && u.Host != "" {
		return "https://" + u.Host + "/.default"
	}
	return "https://" + strings.TrimRight(orgURL, "/") + "/.default"
}

// EntraClientCredentials is Microsoft Entra ID's client credentials flow
// for an application user in Dataverse: with a client secret, or, better,
// with a certificate (a client assertion signed with its key; no secret on
// the wire). Set ClientSecret or Certificate and Key.
type EntraClientCredentials struct {
	// Authority is EntraLogin + "/" + tenant, or an emulator's; the token
	// endpoint is Authority + /oauth2/v2.0/token.
	Authority    string
	ClientID     string
	ClientSecret string
	Certificate  *x509.Certificate
	Key          *rsa.PrivateKey
	// Scopes is usually one EntraScope(orgURL).
	Scopes     []string
	HTTPClient *http.Client
	Now        func() time.Time
}

// TokenSource returns a source that asks for a new token on every call;
// wrap it in Reuse.
func (c EntraClientCredentials) TokenSource() TokenSource {
	return TokenSourceFunc(func(ctx context.Context) (*Token, error) {
		tokenURL := strings.TrimRight(c.Authority, "/") + "/oauth2/v2.0/token"
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "scope": {strings.Join(c.Scopes, " ")}}
		flow := "entra client credentials (secret)"
		hint := "check the client id and that ClientSecret is the secret's value (not its id) and not expired"
		switch {
		case c.Authority == "" || c.ClientID == "" || len(c.Scopes) == 0:
			return nil, &RetrieveError{Flow: "entra client credentials", Hint: "set Authority (" + EntraLogin + "/{tenant}), ClientID and Scopes (EntraScope(orgURL))"}
		case c.Certificate != nil && c.Key != nil:
			flow = "entra client credentials (certificate)"
			hint = "check that Certificate is uploaded to the app registration, Key is its private key, and the clock is right"
			now := nowOr(c.Now)()
			s1 := sha1.Sum(c.Certificate.Raw) //nolint:gosec // a thumbprint
			s256 := sha256.Sum256(c.Certificate.Raw)
			enc := base64.RawURLEncoding
			assertion, err := signRS256(c.Key, map[string]any{"x5t": enc.EncodeToString(s1[:]), "x5t#S256": enc.EncodeToString(s256[:])},
				map[string]any{"aud": tokenURL, "iss": c.ClientID, "sub": c.ClientID, "jti": randomID(),
					"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
			if err != nil {
				return nil, &RetrieveError{Flow: flow, Err: err, Hint: "Key must be the certificate's RSA private key"}
			}
			form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			form.Set("client_assertion", assertion)
		case c.ClientSecret != "":
			form.Set("client_secret", c.ClientSecret)
		default:
			return nil, &RetrieveError{Flow: "entra client credentials", Hint: "set ClientSecret, or Certificate and Key"}
		}
		e := endpoint{flow: flow, tokenURL: tokenURL, client: c.HTTPClient, now: nowOr(c.Now), hint: func(string) string { return hint }}
		return e.fetch(ctx, form)
	})
}
