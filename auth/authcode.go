package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// AuthCodeFlow is the OAuth 2.0 authorization code flow with PKCE (S256)
// and the refresh token flow after it, for apps a user installs or
// approves: Salesforce's web server flow, HubSpot's public apps.
type AuthCodeFlow struct {
	// Name names the provider in errors ("hubspot", "salesforce").
	Name         string
	AuthURL      string
	TokenURL     string
	ClientID     string
	ClientSecret string
	RedirectURL  string
	Scopes       []string
	// Auth is how the secret is sent: in the form body by default (as
	// Salesforce and HubSpot expect), or ClientSecretBasic.
	Auth ClientAuth
	// Hint is the fix an error suggests when the server refuses a refresh.
	Hint       string
	HTTPClient *http.Client
	Now        func() time.Time
}

// NewVerifier returns a PKCE code verifier: 32 random bytes, base64url.
// Keep it with the state until the code comes back.
func NewVerifier() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewState returns a state value for AuthCodeURL: 16 random bytes,
// base64url. Keep it (in the user's session) and compare it with the state
// the redirect brings back, so that a code injected from another browser
// is refused.
func NewState() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// S256Challenge is the PKCE S256 code challenge of verifier.
func S256Challenge(verifier string) string {
	s := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// AuthCodeURL is where to send the user's browser: the consent page, with
// state (check it when the redirect comes back) and, when verifier is not
// empty, the PKCE S256 challenge.
func (f *AuthCodeFlow) AuthCodeURL(state, verifier string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {f.ClientID}, "state": {state}}
	if f.RedirectURL != "" {
		q.Set("redirect_uri", f.RedirectURL)
	}
	if len(f.Scopes) > 0 {
		q.Set("scope", strings.Join(f.Scopes, " "))
	}
	if verifier != "" {
		q.Set("code_challenge", S256Challenge(verifier))
		q.Set("code_challenge_method", "S256")
	}
	sep := "?"
	if strings.Contains(f.AuthURL, "?") {
		sep = "&"
	}
	return f.AuthURL + sep + q.Encode()
}

// endpoint is the token endpoint for one request of the flow, with the
// client's credentials added to it and form as Auth says.
func (f *AuthCodeFlow) endpoint(flow, hint string, form url.Values) endpoint {
	e := endpoint{flow: strings.TrimSpace(f.Name + " " + flow), tokenURL: f.TokenURL, client: f.HTTPClient, now: nowOr(f.Now),
		hint: func(string) string { return hint }}
	if f.Auth == ClientSecretBasic && f.ClientSecret != "" {
		e.basic = [2]string{f.ClientID, f.ClientSecret}
		return e
	}
	form.Set("client_id", f.ClientID)
	if f.ClientSecret != "" {
		form.Set("client_secret", f.ClientSecret)
	}
	return e
}

// Exchange trades the code from the redirect (and the verifier used for
// AuthCodeURL, or "") for a token, which usually carries a refresh token.
func (f *AuthCodeFlow) Exchange(ctx context.Context, code, verifier string) (*Token, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
	if f.RedirectURL != "" {
		form.Set("redirect_uri", f.RedirectURL)
	}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return f.endpoint("authorization code", "codes are good once and for minutes, and the redirect URI, client id, secret and verifier must match the authorization request: start the consent again", form).fetch(ctx, form)
}

// Refresh trades a refresh token for a new token. A server that rotates
// refresh tokens returns a new one in the token; one that does not gets
// refreshToken copied in, so the result always carries the one to use next.
func (f *AuthCodeFlow) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	hint := f.Hint
	if hint == "" {
		hint = "the refresh token was revoked, expired or replayed, or the client secret is wrong: have the user authorize the app again"
	}
	t, err := f.endpoint("refresh token", hint, form).fetch(ctx, form)
	if err != nil {
		return nil, err
	}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	return t, nil
}

// TokenSource returns a source that refreshes with refreshToken and keeps
// the rotated one in memory (for one process; across processes use
// Rotating). Wrap it in Reuse.
func (f *AuthCodeFlow) TokenSource(refreshToken string) TokenSource {
	return refreshingSource(f.Refresh, refreshToken)
}

// refreshingSource refreshes with refreshToken on every call, one call at a
// time, and keeps the newest refresh token the server returns, for the flows
// whose servers rotate it.
func refreshingSource(refresh func(context.Context, string) (*Token, error), refreshToken string) TokenSource {
	var mu sync.Mutex
	return TokenSourceFunc(func(ctx context.Context) (*Token, error) {
		mu.Lock()
		defer mu.Unlock()
		t, err := refresh(ctx, refreshToken)
		if err != nil {
			return nil, err
		}
		refreshToken = t.RefreshToken
		return t, nil
	})
}

// HubSpotURL is HubSpot's API host, where its token endpoint lives.
const HubSpotURL = "https://api.hubapi.com"

// HubSpotApp is HubSpot's OAuth flow for a public app: apiURL is
// HubSpotURL (or an emulator's), authURL the install page
// (https://app.hubspot.com/oauth/authorize).
func HubSpotApp(apiURL, clientID, clientSecret, redirectURL string, scopes ...string) *AuthCodeFlow {
	if apiURL == "" {
		apiURL = HubSpotURL
	}
	api := strings.TrimRight(apiURL, "/")
	return &AuthCodeFlow{
		Name: "hubspot", AuthURL: "https://app.hubspot.com/oauth/authorize", TokenURL: api + "/oauth/v1/token",
		ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURL, Scopes: scopes,
		Hint: "the refresh token was revoked (the app was uninstalled) or the client secret is wrong: reinstall the app for the portal",
	}
}

// HubSpotPrivateApp is the source for a HubSpot private app's access
// token, which does not expire and is sent as a bearer token.
func HubSpotPrivateApp(token string) TokenSource { return Static(token) }

func (f AuthCodeFlow) view() view {
	return view{typ: "auth.AuthCodeFlow", attrs: []slog.Attr{slog.String("name", f.Name), urlAttr("auth_url", f.AuthURL),
		urlAttr("token_url", f.TokenURL), slog.String("client_id", f.ClientID), hidden("client_secret", f.ClientSecret),
		urlAttr("redirect_url", f.RedirectURL), slog.Any("scopes", f.Scopes), slog.String("auth", f.Auth.String())}}
}

// String describes the flow without its client secret.
func (f AuthCodeFlow) String() string { return f.view().String() }

// GoString makes %#v as safe as %v.
func (f AuthCodeFlow) GoString() string { return f.String() }

// Format prints String for every verb, so that no verb or flag reaches the
// secret.
func (f AuthCodeFlow) Format(s fmt.State, _ rune) { f.view().format(s) }

// LogValue logs the flow without its client secret.
func (f AuthCodeFlow) LogValue() slog.Value { return f.view().LogValue() }
