package hubspottest

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// oauthState holds the codes and tokens the portal's OAuth endpoint has
// issued.
type oauthState struct {
	mu      sync.Mutex
	codes   map[string]oauthCode
	access  map[string]time.Time // token -> expiry
	refresh map[string][]string  // refresh token -> scopes
}

type oauthCode struct {
	redirectURI string
	scopes      []string
}

func newOAuthState() *oauthState {
	return &oauthState{codes: map[string]oauthCode{}, access: map[string]time.Time{}, refresh: map[string][]string{}}
}

func randomToken(prefix string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// check reports whether tok is an access token the endpoint issued, and
// whether it has expired.
func (o *oauthState) check(tok string, now time.Time) (known, expired bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	exp, ok := o.access[tok]
	if !ok {
		return false, false
	}
	return true, !now.Before(exp)
}

// AuthorizationCode issues an authorization code as if a user had installed
// the app with these scopes and HubSpot had redirected to redirectURI with
// it: the first half of the authorization-code flow, without a browser.
// GET /oauth/authorize does the same for clients that follow the redirect.
func (s *Server) AuthorizationCode(redirectURI string, scopes ...string) string {
	code := randomToken("code-")
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	s.oauth.codes[code] = oauthCode{redirectURI: redirectURI, scopes: scopes}
	return code
}

// ExpireTokens makes every OAuth access token issued so far expired, as
// though its 30 minutes had passed; refresh tokens stay valid.
func (s *Server) ExpireTokens() {
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	for tok := range s.oauth.access {
		s.oauth.access[tok] = time.Time{}
	}
}

// oauthError is the body the token endpoint sends on failure.
func oauthError(status, message string) *apiError {
	return &apiError{Status: status, Message: message, httpStatus: http.StatusBadRequest}
}

// handleToken serves POST /oauth/v1/token (and /oauth/v3/token,
// /oauth/2026-03/token) with the authorization_code and refresh_token
// grants. Parameters come in the form body; v1 also took them in the query.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) *apiError {
	if err := r.ParseForm(); err != nil {
		return oauthError("BAD_REQUEST", "the body must be application/x-www-form-urlencoded")
	}
	f := r.Form
	if s.cfg.clientID != "" && f.Get("client_id") != s.cfg.clientID {
		return oauthError("BAD_CLIENT_ID", "missing or unknown client id")
	}
	if s.cfg.secret != "" && f.Get("client_secret") != s.cfg.secret {
		return oauthError("BAD_CLIENT_SECRET", "missing or invalid client secret")
	}
	var scopes []string
	o := s.oauth
	o.mu.Lock()
	switch f.Get("grant_type") {
	case "authorization_code":
		c, ok := o.codes[f.Get("code")]
		if !ok {
			o.mu.Unlock()
			return oauthError("BAD_AUTH_CODE", "missing or unknown auth code")
		}
		if c.redirectURI != "" && c.redirectURI != f.Get("redirect_uri") {
			o.mu.Unlock()
			return oauthError("BAD_REDIRECT_URI", "redirect_uri does not match the one the code was issued for")
		}
		delete(o.codes, f.Get("code")) // a code is good once
		scopes = c.scopes
	case "refresh_token":
		sc, ok := o.refresh[f.Get("refresh_token")]
		if !ok {
			o.mu.Unlock()
			return oauthError("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
		}
		scopes = sc
	default:
		o.mu.Unlock()
		return oauthError("BAD_GRANT_TYPE", "grant_type must be authorization_code or refresh_token")
	}
	access := randomToken("CJ")
	refresh := f.Get("refresh_token")
	if refresh == "" {
		refresh = randomToken("")
	}
	o.access[access] = s.clock().Add(s.cfg.tokenTTL)
	o.refresh[refresh] = scopes
	o.mu.Unlock()
	if scopes == nil {
		scopes = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "bearer", "access_token": access, "refresh_token": refresh,
		"expires_in": int(s.cfg.tokenTTL / time.Second), "token_use": "access_token",
		"hub_id": s.cfg.portal, "user_id": 1, "scopes": scopes,
	})
	return nil
}

// handleAuthorize serves GET /oauth/authorize: it consents at once and
// redirects to redirect_uri with a code and the state.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) *apiError {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	u, err := url.Parse(redirect)
	if err != nil || redirect == "" {
		return oauthError("BAD_REDIRECT_URI", "redirect_uri is missing or not a URL")
	}
	if s.cfg.clientID != "" && q.Get("client_id") != s.cfg.clientID {
		return oauthError("BAD_CLIENT_ID", "missing or unknown client id")
	}
	code := s.AuthorizationCode(redirect, strings.Fields(q.Get("scope"))...)
	rq := u.Query()
	rq.Set("code", code)
	if st := q.Get("state"); st != "" {
		rq.Set("state", st)
	}
	u.RawQuery = rq.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
	return nil
}
