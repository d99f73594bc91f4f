package auth

import (
	"context"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// SalesforceLogin and SalesforceSandboxLogin are Salesforce's login hosts,
// the token endpoint's host and the JWT-bearer audience.
const (
	SalesforceLogin        = "https://login.salesforce.com"
	SalesforceSandboxLogin = "https://test.salesforce.com"
)

func sfTokenURL(login string) string {
	if login == "" {
		login = SalesforceLogin
	}
	return strings.TrimRight(login, "/") + "/services/oauth2/token"
}

// SalesforceJWT is Salesforce's OAuth 2.0 JWT bearer flow, the usual one
// for a server-to-server integration: a connected app with a certificate,
// an integration user pre-authorised for it, and no secret on the wire.
type SalesforceJWT struct {
	// LoginURL is the login host or My Domain URL (SalesforceLogin when
	// empty); the token endpoint is LoginURL + /services/oauth2/token.
	LoginURL string
	// Audience is the aud claim: the login host (LoginURL when empty).
	Audience string
	// ClientID is the connected app's consumer key (the iss claim).
	ClientID string
	// Username is the user the integration acts as (the sub claim).
	Username string
	// Key signs the assertion (RS256); its certificate is the app's.
	Key *rsa.PrivateKey
	// HTTPClient makes the token request (a TLSConfig client when nil).
	HTTPClient *http.Client
	// Now is the clock for the assertion's exp (time.Now when nil).
	Now func() time.Time
}

// TokenSource returns a source that signs a fresh assertion (exp three
// minutes ahead) and exchanges it on every call; wrap it in Reuse.
func (c SalesforceJWT) TokenSource() TokenSource {
	const flow = "salesforce JWT bearer"
	return TokenSourceFunc(func(ctx context.Context) (*Token, error) {
		if c.ClientID == "" || c.Username == "" || c.Key == nil {
			return nil, &RetrieveError{Flow: flow, Hint: "set ClientID (the consumer key), Username and Key (the certificate's private key)"}
		}
		now := nowOr(c.Now)()
		aud := c.Audience
		if aud == "" {
			aud = c.LoginURL
		}
		if aud == "" {
			aud = SalesforceLogin
		}
		assertion, err := signRS256(c.Key, map[string]any{}, map[string]any{
			"iss": c.ClientID, "sub": c.Username, "aud": strings.TrimRight(aud, "/"), "exp": now.Add(3 * time.Minute).Unix(),
		})
		if err != nil {
			return nil, &RetrieveError{Flow: flow, Err: err, Hint: "Key must be a usable RSA private key"}
		}
		e := endpoint{flow: flow, tokenURL: sfTokenURL(c.LoginURL), client: c.HTTPClient, now: nowOr(c.Now),
			hint: func(string) string {
				return "check that the connected app's certificate matches Key, the user " + c.Username +
					" is pre-authorised for the app, the audience is the login host, and the clock is right"
			}}
		return e.fetch(ctx, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}})
	})
}

// SalesforceClientCredentials is Salesforce's client credentials flow: the
// connected app acts as its configured run-as user. LoginURL must be the
// org's My Domain URL; Salesforce refuses this flow on login.salesforce.com.
type SalesforceClientCredentials struct {
	LoginURL     string
	ClientID     string
	ClientSecret string
	HTTPClient   *http.Client
	Now          func() time.Time
}

// TokenSource returns a source that asks for a new token on every call;
// wrap it in Reuse.
func (c SalesforceClientCredentials) TokenSource() TokenSource {
	const flow = "salesforce client credentials"
	return TokenSourceFunc(func(ctx context.Context) (*Token, error) {
		e := endpoint{flow: flow, tokenURL: sfTokenURL(c.LoginURL), client: c.HTTPClient, now: nowOr(c.Now),
			basic: [2]string{c.ClientID, c.ClientSecret},
			hint: func(string) string {
				return "check the connected app's consumer key and secret, that client credentials is enabled with a run-as user, and that LoginURL is the My Domain URL"
			}}
		return e.fetch(ctx, url.Values{"grant_type": {"client_credentials"}})
	})
}

// SalesforceWebServer is Salesforce's web server flow (authorization code
// with PKCE) for an app a user approves in the browser, and the refresh
// token flow that follows it.
func SalesforceWebServer(loginURL, clientID, clientSecret, redirectURL string, scopes ...string) *AuthCodeFlow {
	if loginURL == "" {
		loginURL = SalesforceLogin
	}
	login := strings.TrimRight(loginURL, "/")
	return &AuthCodeFlow{
		Name: "salesforce", AuthURL: login + "/services/oauth2/authorize", TokenURL: login + "/services/oauth2/token",
		ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURL, Scopes: scopes,
		Hint: "the refresh token was revoked or expired, or the consumer key or secret is wrong: have the user approve the app again",
	}
}

func (c SalesforceJWT) view() view {
	return view{typ: "auth.SalesforceJWT", attrs: []slog.Attr{urlAttr("login_url", c.LoginURL), urlAttr("audience", c.Audience),
		slog.String("client_id", c.ClientID), slog.String("username", c.Username), hiddenKey("key", c.Key)}}
}

// String describes the configuration without its private key.
func (c SalesforceJWT) String() string { return c.view().String() }

// GoString makes %#v as safe as %v.
func (c SalesforceJWT) GoString() string { return c.String() }

// Format prints String for every verb, so that no verb or flag reaches the
// key.
func (c SalesforceJWT) Format(f fmt.State, _ rune) { c.view().format(f) }

// LogValue logs the configuration without its private key.
func (c SalesforceJWT) LogValue() slog.Value { return c.view().LogValue() }

func (c SalesforceClientCredentials) view() view {
	return view{typ: "auth.SalesforceClientCredentials", attrs: []slog.Attr{urlAttr("login_url", c.LoginURL),
		slog.String("client_id", c.ClientID), hidden("client_secret", c.ClientSecret)}}
}

// String describes the configuration without its client secret.
func (c SalesforceClientCredentials) String() string { return c.view().String() }

// GoString makes %#v as safe as %v.
func (c SalesforceClientCredentials) GoString() string { return c.String() }

// Format prints String for every verb, so that no verb or flag reaches the
// secret.
func (c SalesforceClientCredentials) Format(f fmt.State, _ rune) { c.view().format(f) }

// LogValue logs the configuration without its client secret.
func (c SalesforceClientCredentials) LogValue() slog.Value { return c.view().LogValue() }
