package auth

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ClientAuth is how a client proves its identity to a token endpoint with
// its secret (RFC 6749 section 2.3.1; the names are the
// token_endpoint_auth_method values of RFC 7591).
type ClientAuth int

const (
	// ClientAuthDefault is each flow's own default: ClientSecretBasic for
	// ClientCredentials and JWTBearer; for AuthCodeFlow, the secret in the
	// body, as Salesforce and HubSpot expect.
	ClientAuthDefault ClientAuth = iota
	// ClientSecretBasic sends the client id and secret in an HTTP Basic
	// Authorization header, the method every server must support.
	ClientSecretBasic
	// ClientSecretPost sends them as client_id and client_secret in the
	// form body.
	ClientSecretPost
)

func (a ClientAuth) String() string {
	switch a {
	case ClientSecretBasic:
		return "client_secret_basic"
	case ClientSecretPost:
		return "client_secret_post"
	}
	return "default"
}

// authenticate adds the client's credentials to e and form as style says;
// a client without a secret (a public client) sends only its id.
func authenticate(e *endpoint, form url.Values, style ClientAuth, clientID, clientSecret string) {
	switch {
	case clientSecret == "":
		if clientID != "" {
			form.Set("client_id", clientID)
		}
	case style == ClientSecretPost:
		form.Set("client_id", clientID)
		form.Set("client_secret", clientSecret)
	default:
		e.basic = [2]string{clientID, clientSecret}
	}
}

// Provider is an OAuth 2.0 authorization server as its OpenID Connect
// discovery document describes it: any standards-compliant identity
// provider (Okta, Keycloak, Ory Hydra, Entra ID, Google, a corporate
// ADFS). Discover fetches it; its methods return the flows wired to its
// endpoints.
type Provider struct {
	// Issuer is the provider's issuer identifier, the URL Discover was
	// given (the document must name the same).
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	// JWKSURI is where the provider publishes the public keys that
	// verify its ID tokens and signed responses.
	JWKSURI               string `json:"jwks_uri"`
	UserinfoEndpoint      string `json:"userinfo_endpoint,omitempty"`
	RevocationEndpoint    string `json:"revocation_endpoint,omitempty"`
	IntrospectionEndpoint string `json:"introspection_endpoint,omitempty"`

	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	GrantTypesSupported               []string `json:"grant_types_supported,omitempty"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported,omitempty"`

	// HTTPClient is the client the flows use (a TLSConfig client when
	// nil); Discover sets it to the client it was given.
	HTTPClient *http.Client `json:"-"`
}

// DiscoveryPath is where an OpenID provider publishes its configuration,
// relative to its issuer URL.
const DiscoveryPath = "/.well-known/openid-configuration"

const maxDiscoveryDocument = 1 << 20

// Discover reads the OpenID Connect discovery document of the provider
// whose issuer URL is issuer (https://idp.example.com/realms/crm, without
// the /.well-known suffix), through client (a TLSConfig client when nil).
//
// It checks what a client must before trusting the document: that it names
// the same issuer (a provider may not speak for another), that it has a
// token endpoint, and that every endpoint is https, so that no secret is
// ever sent in the clear. Plain http is accepted only on loopback hosts
// (127.0.0.1, ::1, localhost), for test servers on the same machine.
func Discover(ctx context.Context, issuer string, client *http.Client) (*Provider, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("auth: discovering %s: "+format, append([]any{issuer}, args...)...)
	}
	issuer = strings.TrimRight(issuer, "/")
	if err := checkEndpointURL(issuer); err != nil {
		return nil, fail("the issuer URL %v (fix: pass the provider's https issuer URL, as its documentation names it)", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, issuer+DiscoveryPath, nil)
	if err != nil {
		return nil, fail("%v", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := clientOr(client).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fail("%v (fix: check the issuer URL and that the provider is reachable)", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoveryDocument))
	if err != nil {
		return nil, fail("reading the discovery document: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fail("%s answered %d (fix: check the issuer URL: the document must be at issuer + %s)", DiscoveryPath, resp.StatusCode, DiscoveryPath)
	}
	p := &Provider{}
	if err := json.Unmarshal(body, p); err != nil {
		return nil, fail("the discovery document is not valid JSON: %v", err)
	}
	if strings.TrimRight(p.Issuer, "/") != issuer {
		return nil, fail("the document names the issuer %q, not the one asked for (fix: use the issuer URL exactly as the document names it; a mismatch can mean a misconfigured proxy or a provider speaking for another)", p.Issuer)
	}
	if p.TokenEndpoint == "" {
		return nil, fail("the document names no token_endpoint")
	}
	for name, u := range map[string]string{"token_endpoint": p.TokenEndpoint, "authorization_endpoint": p.AuthorizationEndpoint,
		"jwks_uri": p.JWKSURI, "revocation_endpoint": p.RevocationEndpoint, "introspection_endpoint": p.IntrospectionEndpoint,
		"userinfo_endpoint": p.UserinfoEndpoint} {
		if u == "" {
			continue
		}
		if err := checkEndpointURL(u); err != nil {
			return nil, fail("%s %v", name, err)
		}
	}
	p.HTTPClient = client
	return p, nil
}

// checkEndpointURL accepts absolute https URLs, and http ones on loopback
// hosts only.
func checkEndpointURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || net.ParseIP(h).IsLoopback() {
			return nil
		}
		return fmt.Errorf("%q is plain http on a host that is not loopback: credentials would travel in the clear", raw)
	}
	return fmt.Errorf("%q is not an https URL", raw)
}

// name is how errors name the provider: its issuer's host.
func (p *Provider) name() string {
	if u, err := url.Parse(p.Issuer); err == nil && u.Host != "" {
		return u.Host + u.Path
	}
	return p.Issuer
}

// clientAuth picks the client authentication the provider advertises:
// client_secret_basic unless only client_secret_post is listed (an empty
// list means basic, by the specification's default).
func (p *Provider) clientAuth() ClientAuth {
	m := p.TokenEndpointAuthMethodsSupported
	if len(m) > 0 && !slices.Contains(m, "client_secret_basic") && slices.Contains(m, "client_secret_post") {
		return ClientSecretPost
	}
	return ClientSecretBasic
}

// ClientCredentials returns the client credentials flow against the
// provider's token endpoint, authenticating as the provider advertises
// (set Auth on the result to choose).
func (p *Provider) ClientCredentials(clientID, clientSecret string, scopes ...string) *ClientCredentials {
	return &ClientCredentials{Name: p.name(), TokenURL: p.TokenEndpoint, ClientID: clientID, ClientSecret: clientSecret,
		Auth: p.clientAuth(), Scopes: scopes, HTTPClient: p.HTTPClient}
}

// AuthCode returns the authorization code flow (with PKCE: pass a
// verifier to AuthCodeURL and Exchange) and the refresh token flow after
// it. Ask for the offline_access scope to get a refresh token from an
// OpenID provider. clientSecret is empty for a public client.
func (p *Provider) AuthCode(clientID, clientSecret, redirectURL string, scopes ...string) *AuthCodeFlow {
	return &AuthCodeFlow{Name: p.name(), AuthURL: p.AuthorizationEndpoint, TokenURL: p.TokenEndpoint,
		ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURL, Scopes: scopes,
		Auth: p.clientAuth(), HTTPClient: p.HTTPClient}
}

// JWTBearer returns the RFC 7523 JWT bearer flow against the provider's
// token endpoint (the assertion's audience); set Issuer, Subject, Key and
// KeyID on the result.
func (p *Provider) JWTBearer(clientID, clientSecret string, scopes ...string) *JWTBearer {
	return &JWTBearer{Name: p.name(), TokenURL: p.TokenEndpoint, ClientID: clientID, ClientSecret: clientSecret,
		Auth: p.clientAuth(), Scopes: scopes, HTTPClient: p.HTTPClient}
}

// ClientCredentials is the OAuth 2.0 client credentials grant (RFC 6749
// section 4.4) for any standards-compliant server: a service account that
// acts as itself. Provider.ClientCredentials fills it from a discovery
// document.
type ClientCredentials struct {
	// Name names the server in errors ("idp.example.com").
	Name         string
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Auth is how the secret is sent (ClientSecretBasic by default).
	Auth ClientAuth
	// Scopes asks for less than the client may have: least privilege.
	Scopes []string
	// Params are extra form parameters some servers want (audience,
	// resource).
	Params     url.Values
	HTTPClient *http.Client
	Now        func() time.Time
}

// TokenSource returns a source that asks for a new token on every call;
// wrap it in Reuse.
func (c *ClientCredentials) TokenSource() TokenSource {
	flow := strings.TrimSpace(c.Name + " client credentials")
	return TokenSourceFunc(func(ctx context.Context) (*Token, error) {
		if c.TokenURL == "" || c.ClientID == "" || c.ClientSecret == "" {
			return nil, &RetrieveError{Flow: flow, Hint: "set TokenURL, ClientID and ClientSecret (or use Discover and Provider.ClientCredentials)"}
		}
		form := url.Values{"grant_type": {"client_credentials"}}
		if len(c.Scopes) > 0 {
			form.Set("scope", strings.Join(c.Scopes, " "))
		}
		for k, v := range c.Params {
			form[k] = v
		}
		e := endpoint{flow: flow, tokenURL: c.TokenURL, client: c.HTTPClient, now: nowOr(c.Now),
			hint: func(code string) string {
				if code == "invalid_scope" {
					return "ask only for scopes the client is allowed"
				}
				return "check the client id and secret, that the client may use the client_credentials grant, and that it authenticates as the server expects (Auth: " + c.authStyle().String() + ")"
			}}
		authenticate(&e, form, c.authStyle(), c.ClientID, c.ClientSecret)
		return e.fetch(ctx, form)
	})
}

func (c ClientCredentials) authStyle() ClientAuth {
	if c.Auth == ClientAuthDefault {
		return ClientSecretBasic
	}
	return c.Auth
}

// JWTBearer is the RFC 7523 JWT bearer grant: the client signs an
// assertion (RS256) saying who it acts for, and trades it for a token. The
// server must trust Key's public half for Issuer (and Subject). Unlike
// Salesforce's variant (SalesforceJWT), standard servers such as Ory Hydra
// also want the client to authenticate (ClientID and ClientSecret) and
// every assertion to carry a unique jti, which this flow always sends.
type JWTBearer struct {
	// Name names the server in errors.
	Name     string
	TokenURL string
	// Issuer is the assertion's iss: the party whose key signs it.
	Issuer string
	// Subject is the assertion's sub: the user or service acted for.
	Subject string
	// Audience is the aud claim (TokenURL when empty).
	Audience string
	// Key signs the assertion; KeyID, when set, is its kid header, which
	// servers use to pick the trusted key.
	Key   *rsa.PrivateKey
	KeyID string
	// Lifetime is how long the assertion is valid (3 minutes when zero):
	// short, so that an intercepted assertion is soon worthless.
	Lifetime time.Duration
	// ClientID and ClientSecret authenticate the client, as Auth says
	// (ClientSecretBasic by default); leave them empty for servers that
	// take the assertion alone.
	ClientID     string
	ClientSecret string
	Auth         ClientAuth
	Scopes       []string
	HTTPClient   *http.Client
	Now          func() time.Time
}

// TokenSource returns a source that signs a fresh assertion (new jti, iat
// now) and exchanges it on every call; wrap it in Reuse.
func (c *JWTBearer) TokenSource() TokenSource {
	flow := strings.TrimSpace(c.Name + " JWT bearer")
	return TokenSourceFunc(func(ctx context.Context) (*Token, error) {
		if c.TokenURL == "" || c.Issuer == "" || c.Subject == "" || c.Key == nil {
			return nil, &RetrieveError{Flow: flow, Hint: "set TokenURL, Issuer, Subject and Key (the private key the server trusts for Issuer)"}
		}
		now := nowOr(c.Now)()
		life := c.Lifetime
		if life <= 0 {
			life = 3 * time.Minute
		}
		aud := c.Audience
		if aud == "" {
			aud = c.TokenURL
		}
		header := map[string]any{}
		if c.KeyID != "" {
			header["kid"] = c.KeyID
		}
		assertion, err := signRS256(c.Key, header, map[string]any{
			"iss": c.Issuer, "sub": c.Subject, "aud": aud, "jti": randomID(),
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(life).Unix(),
		})
		if err != nil {
			return nil, &RetrieveError{Flow: flow, Err: err, Hint: "Key must be a usable RSA private key"}
		}
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
		if len(c.Scopes) > 0 {
			form.Set("scope", strings.Join(c.Scopes, " "))
		}
		style := c.Auth
		if style == ClientAuthDefault {
			style = ClientSecretBasic
		}
		e := endpoint{flow: flow, tokenURL: c.TokenURL, client: c.HTTPClient, now: nowOr(c.Now),
			hint: func(code string) string {
				if code == "invalid_client" {
					return "check the client id and secret and that the client may use the JWT bearer grant"
				}
				return "check that the server trusts Key (kid " + c.KeyID + ") for issuer " + c.Issuer + " and subject " + c.Subject +
					", that the audience is the token endpoint, that the scopes are allowed, and that the clock is right"
			}}
		authenticate(&e, form, style, c.ClientID, c.ClientSecret)
		return e.fetch(ctx, form)
	})
}

func (c ClientCredentials) view() view {
	return view{typ: "auth.ClientCredentials", attrs: []slog.Attr{slog.String("name", c.Name), urlAttr("token_url", c.TokenURL),
		slog.String("client_id", c.ClientID), hidden("client_secret", c.ClientSecret), slog.String("auth", c.authStyle().String()),
		slog.Any("scopes", c.Scopes), keysAttr("params", c.Params)}}
}

// String describes the configuration without its client secret; of
// Params, which may carry anything, only the names.
func (c ClientCredentials) String() string { return c.view().String() }

// GoString makes %#v as safe as %v.
func (c ClientCredentials) GoString() string { return c.String() }

// Format prints String for every verb, so that no verb or flag reaches the
// secret.
func (c ClientCredentials) Format(f fmt.State, _ rune) { c.view().format(f) }

// LogValue logs the configuration without its client secret.
func (c ClientCredentials) LogValue() slog.Value { return c.view().LogValue() }

func (c JWTBearer) view() view {
	return view{typ: "auth.JWTBearer", attrs: []slog.Attr{slog.String("name", c.Name), urlAttr("token_url", c.TokenURL),
		slog.String("issuer", c.Issuer), slog.String("subject", c.Subject), urlAttr("audience", c.Audience),
		slog.String("key_id", c.KeyID), hiddenKey("key", c.Key), slog.String("client_id", c.ClientID),
		hidden("client_secret", c.ClientSecret), slog.Any("scopes", c.Scopes)}}
}

// String describes the configuration without its private key or client
// secret.
func (c JWTBearer) String() string { return c.view().String() }

// GoString makes %#v as safe as %v.
func (c JWTBearer) GoString() string { return c.String() }

// Format prints String for every verb, so that no verb or flag reaches the
// key or the secret.
func (c JWTBearer) Format(f fmt.State, _ rune) { c.view().format(f) }

// LogValue logs the configuration without its private key or client
// secret.
func (c JWTBearer) LogValue() slog.Value { return c.view().LogValue() }
