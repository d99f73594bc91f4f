package salesforcetest

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ConnectedApp registers an OAuth client (a connected app) with the org,
// for its token endpoint, POST /services/oauth2/token.
type ConnectedApp struct {
	// ClientID and ClientSecret are the consumer key and secret.
	ClientID     string
	ClientSecret string
	// Certificate holds the public key that signs the app's JWT-bearer
	// assertions (RS256); without it the app cannot use that flow.
	Certificate *x509.Certificate
	// Users lists the usernames pre-authorised for the JWT-bearer flow;
	// empty means every user of the org.
	Users []string
	// RunAs is the username the client-credentials flow acts as (the
	// integration user by default).
	RunAs string
}

// WithConnectedApp registers a connected app; see ConnectedApp.
func WithConnectedApp(app ConnectedApp) Option {
	return func(c *config) { c.apps = append(c.apps, app) }
}

// WithSessionTimeout makes the access tokens the token endpoint issues
// expire d after they were issued, as an org's session timeout does: then
// calls with them get 401 INVALID_SESSION_ID. Tokens never expire
// otherwise.
func WithSessionTimeout(d time.Duration) Option { return func(c *config) { c.session = d } }

// jwtSkew is how far past its exp Salesforce still takes an assertion.
const jwtSkew = 3 * time.Minute

type refreshGrant struct {
	clientID, username string
}

// IssueRefreshToken makes a refresh token for a connected app and one of
// the org's users, as the web-server flow would after the user approved the
// app, for tests of the refresh-token flow.
func (s *Server) IssueRefreshToken(clientID, username string) (string, error) {
	if _, ok := s.app(clientID); !ok {
		return "", fmt.Errorf("salesforcetest: IssueRefreshToken: no connected app %q: register it with WithConnectedApp", clientID)
	}
	if _, ok := s.userByName(username); !ok {
		return "", fmt.Errorf("salesforcetest: IssueRefreshToken: the org has no user %q", username)
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	rt := "5Aep861" + hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh[rt] = refreshGrant{clientID: clientID, username: username}
	return rt, nil
}

// RevokeRefreshToken makes a refresh token unusable, as a user or an admin
// revoking the app's access does.
func (s *Server) RevokeRefreshToken(rt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.refresh, rt)
}

func (s *Server) app(clientID string) (ConnectedApp, bool) {
	for _, a := range s.cfg.apps {
		if a.ClientID == clientID && clientID != "" {
			return a, true
		}
	}
	return ConnectedApp{}, false
}

// userID finds a user by username, without regard to case.
func (s *Server) userByName(username string) (string, bool) {
	o, _ := s.object("User")
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ids := s.indexLookup(o, "Username", username)
	if len(ids) == 0 {
		return "", false
	}
	return ids[0], true
}

func (s *Server) oauthError(w http.ResponseWriter, status int, code, desc string) {
	s.writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// serveOAuth is the org's token endpoint (JWT bearer, refresh token and
// client credentials) and its revoke endpoint.
func (s *Server) serveOAuth(w http.ResponseWriter, r *http.Request, route string) {
	if route != "oauth2.token" && route != "oauth2.revoke" {
		s.writeFailure(w, notFound())
		return
	}
	if r.Method != http.MethodPost {
		s.oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "must use HTTP POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	if route == "oauth2.revoke" {
		tok := r.PostForm.Get("token")
		s.mu.Lock()
		delete(s.tokens, tok)
		delete(s.refresh, tok)
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		s.jwtBearer(w, r)
	case "refresh_token":
		s.refreshToken(w, r)
	case "client_credentials":
		s.clientCredentials(w, r)
	case "":
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "grant type not specified")
	default:
		s.oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
	}
}

// issue makes an access token for a user and answers with it.
func (s *Server) issue(w http.ResponseWriter, app ConnectedApp, userID string, signed bool) {
	tok := randomToken()
	expires := time.Time{}
	if s.cfg.session > 0 {
		expires = s.now().Add(s.cfg.session)
	}
	s.mu.Lock()
	s.tokens[tok] = expires
	s.mu.Unlock()
	id := s.URL + "/id/" + s.orgID + "/" + userID
	out := map[string]string{"access_token": tok, "scope": "api", "instance_url": s.URL, "id": id, "token_type": "Bearer"}
	if signed {
		issued := strconv.FormatInt(s.now().UnixMilli(), 10)
		mac := hmac.New(sha256.New, []byte(app.ClientSecret))
		mac.Write([]byte(id + issued))
		out["issued_at"] = issued
		out["signature"] = base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) jwtBearer(w http.ResponseWriter, r *http.Request) {
	claims, err := s.verifyAssertion(r.PostForm.Get("assertion"))
	if err != nil {
		var oe *oauthErr
		if errors.As(err, &oe) {
			s.oauthError(w, http.StatusBadRequest, oe.code, oe.desc)
			return
		}
		s.oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid assertion")
		return
	}
	app, _ := s.app(claims.Iss)
	if len(app.Users) > 0 && !containsFold(app.Users, claims.Sub) {
		s.oauthError(w, http.StatusBadRequest, "invalid_grant", "user hasn't approved this consumer")
		return
	}
	uid, ok := s.userByName(claims.Sub)
	if !ok {
		s.oauthError(w, http.StatusBadRequest, "invalid_grant", "user hasn't approved this consumer")
		return
	}
	s.issue(w, app, uid, false)
}

type oauthErr struct{ code, desc string }

func (e *oauthErr) Error() string { return e.code + ": " + e.desc }

type jwtClaims struct {
	Iss string
	Sub string
	Aud []string
	Exp time.Time
}

// verifyAssertion checks a JWT-bearer assertion: RS256, signed by the
// app's certificate, for this org's audience, not expired.
func (s *Server) verifyAssertion(assertion string) (*jwtClaims, error) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	dec := func(p string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(strings.TrimRight(p, "=")) }
	hb, err1 := dec(parts[0])
	cb, err2 := dec(parts[1])
	sig, err3 := dec(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, errors.New("bad encoding")
	}
	var head struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &head) != nil || head.Alg != "RS256" {
		return nil, &oauthErr{"invalid_grant", "invalid assertion: the algorithm must be RS256"}
	}
	var raw struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp json.RawMessage `json:"exp"`
	}
	if json.Unmarshal(cb, &raw) != nil {
		return nil, errors.New("bad claims")
	}
	app, ok := s.app(raw.Iss)
	if !ok {
		return nil, &oauthErr{"invalid_client_id", "client identifier invalid"}
	}
	pub, ok := certKey(app.Certificate)
	if !ok {
		return nil, &oauthErr{"invalid_grant", "invalid assertion: the app has no certificate for the JWT bearer flow"}
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
		return nil, &oauthErr{"invalid_grant", "invalid assertion"}
	}
	c := &jwtClaims{Iss: raw.Iss, Sub: raw.Sub}
	var one string
	if json.Unmarshal(raw.Aud, &one) == nil {
		c.Aud = []string{one}
	} else if json.Unmarshal(raw.Aud, &c.Aud) != nil {
		return nil, &oauthErr{"invalid_grant", "audience is invalid"}
	}
	audOK := false
	for _, a := range c.Aud {
		a = strings.TrimRight(a, "/")
		if a == "https://login.salesforce.com" || a == "https://test.salesforce.com" || a == s.URL {
			audOK = true
		}
	}
	if !audOK {
		return nil, &oauthErr{"invalid_grant", "audience is invalid"}
	}
	// exp is a number, or, as some clients send it, a string of one.
	text := strings.Trim(string(raw.Exp), `"`)
	secs, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return nil, &oauthErr{"invalid_grant", "invalid assertion: exp is missing or not a number"}
	}
	c.Exp = time.Unix(secs, 0)
	if s.now().After(c.Exp.Add(jwtSkew)) {
		return nil, &oauthErr{"invalid_grant", "expired authorization code"}
	}
	return c, nil
}

func certKey(cert *x509.Certificate) (*rsa.PublicKey, bool) {
	if cert == nil {
		return nil, false
	}
	k, ok := cert.PublicKey.(*rsa.PublicKey)
	return k, ok
}

func (s *Server) refreshToken(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	app, ok := s.app(f.Get("client_id"))
	if !ok {
		s.oauthError(w, http.StatusBadRequest, "invalid_client_id", "client identifier invalid")
		return
	}
	if secret := f.Get("client_secret"); secret != "" && !hmac.Equal([]byte(secret), []byte(app.ClientSecret)) {
		s.oauthError(w, http.StatusBadRequest, "invalid_client", "invalid client credentials")
		return
	}
	s.mu.RLock()
	g, ok := s.refresh[f.Get("refresh_token")]
	s.mu.RUnlock()
	if !ok || g.clientID != app.ClientID {
		s.oauthError(w, http.StatusBadRequest, "invalid_grant", "expired access/refresh token")
		return
	}
	uid, ok := s.userByName(g.username)
	if !ok {
		s.oauthError(w, http.StatusBadRequest, "invalid_grant", "expired access/refresh token")
		return
	}
	s.issue(w, app, uid, true)
}

func (s *Server) clientCredentials(w http.ResponseWriter, r *http.Request) {
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	app, ok := s.app(id)
	if !ok || app.ClientSecret == "" || !hmac.Equal([]byte(secret), []byte(app.ClientSecret)) {
		s.oauthError(w, http.StatusBadRequest, "invalid_client", "invalid client credentials")
		return
	}
	uid := s.userID
	user := app.RunAs
	if user == "" {
		s.issue(w, app, uid, true)
		return
	}
	runAs, ok := s.userByName(user)
	if !ok {
		s.oauthError(w, http.StatusBadRequest, "invalid_grant", "no client credentials user enabled")
		return
	}
	s.issue(w, app, runAs, true)
}

func containsFold(ss []string, s string) bool {
	for _, x := range ss {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
