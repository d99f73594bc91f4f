package auth

import (
	"context"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is a SHA-1 thumbprint by definition (RFC 7515)
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log/slog"
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

// EntraUserScope is the delegated scope an app asks for to call Dataverse
// as the signed-in user: https://{org host}/user_impersonation.
func EntraUserScope(orgURL string) string {
	return strings.TrimSuffix(EntraScope(orgURL), "/.default") + "/user_impersonation"
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
			hint = entraCertHint
			if err := addEntraAssertion(form, c.Certificate, c.Key, c.ClientID, tokenURL, nowOr(c.Now)()); err != nil {
				return nil, &RetrieveError{Flow: flow, Err: err, Hint: "Key must be the certificate's RSA private key"}
			}
		case c.ClientSecret != "":
			form.Set("client_secret", c.ClientSecret)
		default:
			return nil, &RetrieveError{Flow: "entra client credentials", Hint: "set ClientSecret, or Certificate and Key"}
		}
		e := endpoint{flow: flow, tokenURL: tokenURL, client: c.HTTPClient, now: nowOr(c.Now), hint: func(string) string { return hint }}
		return e.fetch(ctx, form)
	})
}

func (c EntraClientCredentials) view() view {
	return view{typ: "auth.EntraClientCredentials", attrs: []slog.Attr{urlAttr("authority", c.Authority),
		slog.String("client_id", c.ClientID), slog.String("credential", entraCredential(c.ClientSecret, c.Certificate, c.Key)),
		slog.Any("scopes", c.Scopes)}}
}

// String describes the configuration without its secret or key: the
// credential is named by kind (a certificate by its thumbprint).
func (c EntraClientCredentials) String() string { return c.view().String() }

// GoString makes %#v as safe as %v.
func (c EntraClientCredentials) GoString() string { return c.String() }

// Format prints String for every verb, so that %v, %+v, %#v and the rest
// hide the secret and key too.
func (c EntraClientCredentials) Format(f fmt.State, _ rune) { c.view().format(f) }

// LogValue logs the configuration without its secret or key.
func (c EntraClientCredentials) LogValue() slog.Value { return c.view().LogValue() }

const entraCertHint = "check that Certificate is uploaded to the app registration, Key is its private key, and the clock is right"

// addEntraAssertion adds to form a client assertion for clientID signed
// with key: the JWT Entra takes in place of a secret, valid 5 minutes, its
// certificate named by SHA-1 and SHA-256 thumbprints.
func addEntraAssertion(form url.Values, cert *x509.Certificate, key *rsa.PrivateKey, clientID, tokenURL string, now time.Time) error {
	s1 := sha1.Sum(cert.Raw) //nolint:gosec // a thumbprint
	s256 := sha256.Sum256(cert.Raw)
	enc := base64.RawURLEncoding
	assertion, err := signRS256(key, map[string]any{"x5t": enc.EncodeToString(s1[:]), "x5t#S256": enc.EncodeToString(s256[:])},
		map[string]any{"aud": tokenURL, "iss": clientID, "sub": clientID, "jti": randomID(),
			"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
	if err != nil {
		return err
	}
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", assertion)
	return nil
}

// entraCredential names the kind of credential a configuration holds,
// never its value.
func entraCredential(secret string, cert *x509.Certificate, key *rsa.PrivateKey) string {
	switch {
	case cert != nil && key != nil:
		s := sha1.Sum(cert.Raw) //nolint:gosec // a thumbprint identifies the certificate; it is public
		return fmt.Sprintf("certificate(x5t=%s)", base64.RawURLEncoding.EncodeToString(s[:]))
	case secret != "":
		return "secret([REDACTED])"
	}
	return "none"
}

// EntraAuthCode is Microsoft Entra ID's authorization code flow with PKCE
// for delegated use: an app that acts in Dataverse as the user who signed
// in, with that user's security roles, rather than as an application user.
// AuthCodeURL is where to send the user's browser; Exchange trades the
// code the redirect brings back for a token (with a refresh token, for
// offline_access); TokenSource keeps the access token fresh from then on.
//
// A web app (a confidential client) sets ClientSecret, or, better,
// Certificate and Key (a signed client assertion, no secret on the wire);
// a desktop or mobile app registered as a public client sets neither and
// relies on PKCE.
//
// Entra gives a new refresh token with every refresh and leaves the old
// one valid (until 90 days unused, or the user's sessions are revoked), so
// workers sharing one do not revoke each other; TokenSource and Rotating
// keep the newest anyway.
type EntraAuthCode struct {
	// Authority is EntraLogin + "/" + tenant (or "/organizations" for a
	// multitenant app), or an emulator's; the endpoints are Authority +
	// /oauth2/v2.0/authorize and /oauth2/v2.0/token.
	Authority    string
	ClientID     string
	ClientSecret string
	Certificate  *x509.Certificate
	Key          *rsa.PrivateKey
	// RedirectURL is the redirect URI registered on the app registration,
	// where Entra sends the browser back with the code; the same one goes
	// with the code to the token endpoint.
	RedirectURL string
	// OrgURL is the Dataverse environment URL, such as
	// https://contoso.crm.dynamics.com, for the default Scopes.
	OrgURL string
	// Scopes default to EntraUserScope(OrgURL) and offline_access (for a
	// refresh token); add openid for an ID token.
	Scopes     []string
	HTTPClient *http.Client
	Now        func() time.Time
}

func (c EntraAuthCode) scopes() []string {
	if len(c.Scopes) > 0 || c.OrgURL == "" {
		return c.Scopes
	}
	return []string{EntraUserScope(c.OrgURL), "offline_access"}
}

func (c EntraAuthCode) authority() string { return strings.TrimRight(c.Authority, "/") }

// AuthCodeURL is where to send the user's browser to sign in and consent,
// with state (keep it in the user's session and compare it with the state
// the redirect brings back) and, when verifier is not empty (NewVerifier;
// keep it with the state), the PKCE S256 challenge. The code comes back in
// the redirect's query (response_mode=query).
func (c EntraAuthCode) AuthCodeURL(state, verifier string) string {
	q := url.Values{"client_id": {c.ClientID}, "response_type": {"code"}, "redirect_uri": {c.RedirectURL},
		"response_mode": {"query"}, "scope": {strings.Join(c.scopes(), " ")}}
	if state != "" {
		q.Set("state", state)
	}
	if verifier != "" {
		q.Set("code_challenge", S256Challenge(verifier))
		q.Set("code_challenge_method", "S256")
	}
	return c.authority() + "/oauth2/v2.0/authorize?" + q.Encode()
}

// Exchange trades the code from the redirect, with the verifier given to
// AuthCodeURL (or ""), for a token that carries a refresh token when the
// scopes include offline_access. A code is good once and for about ten
// minutes.
func (c EntraAuthCode) Exchange(ctx context.Context, code, verifier string) (*Token, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.RedirectURL}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return c.fetch(ctx, "authorization code", form,
		"an authorization code is good once and for about 10 minutes, and RedirectURL and the verifier must be those of the AuthCodeURL that produced it: have the user sign in again")
}

// Refresh trades a refresh token for a new access token and a new refresh
// token (use the new one next; the result always carries one).
func (c EntraAuthCode) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	t, err := c.fetch(ctx, "refresh token", form,
		"the refresh token expired (90 days unused), was revoked (a password reset or revoked sessions) or belongs to another app: have the user sign in again")
	if err != nil {
		return nil, err
	}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	return t, nil
}

// TokenSource returns a source that refreshes with refreshToken on every
// call and keeps the newest refresh token in memory (for one process;
// across processes use Rotating with c as its Refresher). Wrap it in Reuse.
func (c EntraAuthCode) TokenSource(refreshToken string) TokenSource {
	return refreshingSource(c.Refresh, refreshToken)
}

// fetch sends one token request of the flow, with the client's credential.
func (c EntraAuthCode) fetch(ctx context.Context, what string, form url.Values, grantHint string) (*Token, error) {
	flow := "entra " + what
	scopes := c.scopes()
	switch {
	case c.Authority == "" || c.ClientID == "":
		return nil, &RetrieveError{Flow: flow, Hint: "set Authority (" + EntraLogin + "/{tenant}) and ClientID"}
	case len(scopes) == 0:
		return nil, &RetrieveError{Flow: flow, Hint: "set OrgURL (the Dataverse environment URL) or Scopes"}
	case what == "authorization code" && c.RedirectURL == "":
		return nil, &RetrieveError{Flow: flow, Hint: "set RedirectURL to the redirect URI registered on the app, the one AuthCodeURL used"}
	case (c.Certificate == nil) != (c.Key == nil):
		return nil, &RetrieveError{Flow: flow, Hint: "set both Certificate and Key (its private key), or neither"}
	}
	tokenURL := c.authority() + "/oauth2/v2.0/token"
	form.Set("client_id", c.ClientID)
	form.Set("scope", strings.Join(scopes, " "))
	var clientHint string
	switch {
	case c.Certificate != nil:
		flow += " (certificate)"
		clientHint = entraCertHint
		if err := addEntraAssertion(form, c.Certificate, c.Key, c.ClientID, tokenURL, nowOr(c.Now)()); err != nil {
			return nil, &RetrieveError{Flow: flow, Err: err, Hint: "Key must be the certificate's RSA private key"}
		}
	case c.ClientSecret != "":
		flow += " (secret)"
		clientHint = "check the client id and that ClientSecret is the secret's value (not its id) and not expired"
		form.Set("client_secret", c.ClientSecret)
	default:
		flow += " (public client)"
		clientHint = "the app registration is a confidential client: set ClientSecret, or Certificate and Key; or allow public client flows on it"
	}
	e := endpoint{flow: flow, tokenURL: tokenURL, client: c.HTTPClient, now: nowOr(c.Now), hint: func(code string) string {
		if code == "invalid_client" || code == "unauthorized_client" {
			return clientHint
		}
		return grantHint
	}}
	return e.fetch(ctx, form)
}

func (c EntraAuthCode) view() view {
	return view{typ: "auth.EntraAuthCode", attrs: []slog.Attr{urlAttr("authority", c.Authority),
		slog.String("client_id", c.ClientID), slog.String("credential", entraCredential(c.ClientSecret, c.Certificate, c.Key)),
		urlAttr("redirect_url", c.RedirectURL), slog.Any("scopes", c.scopes())}}
}

// String describes the configuration without its secret or key: the
// credential is named by kind (a certificate by its thumbprint).
func (c EntraAuthCode) String() string { return c.view().String() }

// GoString makes %#v as safe as %v.
func (c EntraAuthCode) GoString() string { return c.String() }

// Format prints String for every verb, so that %v, %+v, %#v and the rest
// hide the secret and key too.
func (c EntraAuthCode) Format(f fmt.State, _ rune) { c.view().format(f) }

// LogValue logs the configuration without its secret or key.
func (c EntraAuthCode) LogValue() slog.Value { return c.view().LogValue() }
