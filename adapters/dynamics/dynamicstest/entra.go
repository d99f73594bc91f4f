package dynamicstest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is a SHA-1 thumbprint by definition (RFC 7515); it identifies, it does not protect
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// EntraApp is an application registered in the emulated Microsoft Entra
// tenant of [WithEntra]: what an app registration is in a real tenant. A
// confidential client (a daemon or a web app) has a client secret, a
// certificate, or both; a public client (a desktop or mobile app) has only
// redirect URIs and signs users in with the authorization code flow and
// PKCE, without a credential.
type EntraApp struct {
	// ClientID is the application (client) id, usually a GUID. It is
	// matched without regard to case, as Entra does.
	ClientID string
	// ClientSecret, when set, lets the app authenticate with client_secret
	// (in the form or with HTTP Basic).
	ClientSecret string
	// Certificate, when set, lets the app authenticate with a client
	// assertion: a JWT signed (RS256 or PS256) with the certificate's RSA
	// private key. Only the public certificate is needed here.
	Certificate *x509.Certificate
	// RedirectURIs are where the authorization endpoint may send a user
	// back with a code, compared exactly as Entra compares them (case and
	// trailing slash included): https URLs, http URLs on a loopback address
	// (whose port is ignored, as Entra ignores it there, so that a desktop
	// app can listen on any free port), or a custom scheme such as
	// myapp://auth. Without any, the app cannot use the authorization code
	// flow.
	RedirectURIs []string
}

// EntraUser is a user of the emulated tenant, who signs in to apps with the
// authorization code flow for delegated access to the environment. The
// emulator signs them in without a page: the authorization endpoint
// redirects at once, as if they had entered their password and consented.
// Each is also a member of the environment: a systemuser with their object
// id (when the environment has a systemuser table).
type EntraUser struct {
	// ObjectID is the user's object id, a GUID: the oid of their tokens and
	// the azureactivedirectoryobjectid of their systemuser.
	ObjectID string
	// UserPrincipalName is the user's sign-in name, such as
	// ada@contoso.onmicrosoft.com; an authorization request's login_hint
	// picks the user by it, without regard to case.
	UserPrincipalName string
	// Name is the display name (the name claim and the systemuser's full
	// name); the user principal name when empty.
	Name string
	// DeclinesConsent makes the user refuse the consent prompt: the
	// authorization endpoint redirects with error=access_denied
	// (AADSTS65004), so that a test can check how an app handles refusal.
	DeclinesConsent bool
}

// WithEntra adds a Microsoft Entra-style token endpoint for tenantID (a
// tenant GUID or a domain such as contoso.onmicrosoft.com) with apps as its
// registered applications. It runs on its own TLS listener, because
// Microsoft's libraries (MSAL, azidentity) refuse an authority over plain
// http: [Server.EntraURL] is the authority and [Server.EntraCertPool]
// trusts its certificate. The Web API then requires a bearer token issued
// by it (or the token of [WithBearerToken], when that is set too), and
// refuses it once expired by the server's clock. [WithEntraUsers] adds the
// users who sign in with the authorization code flow.
func WithEntra(tenantID string, apps ...EntraApp) Option {
	return func(c *config) {
		if c.entra == nil {
			c.entra = &entraConfig{}
		}
		c.entra.tenant, c.entra.apps, c.entra.usersOnly = tenantID, slices.Clone(apps), false
	}
}

// WithEntraUsers adds users to the tenant of [WithEntra], for the
// authorization code flow: an authorization request signs in the user its
// login_hint names, or else the first of them.
func WithEntraUsers(users ...EntraUser) Option {
	return func(c *config) {
		if c.entra == nil {
			c.entra = &entraConfig{usersOnly: true}
		}
		c.entra.users = append(c.entra.users, users...)
	}
}

type entraConfig struct {
	usersOnly bool // WithEntraUsers was given, WithEntra not
	tenant    string
	apps      []EntraApp
	users     []EntraUser
}

// Entra's lifetimes and limits.
const (
	entraTokenLife   = 3599 * time.Second  // expires_in of an access token
	entraCodeLife    = 10 * time.Minute    // an authorization code's, "about 10 minutes"
	entraRefreshLife = 90 * 24 * time.Hour // a refresh token's life: Entra's inactivity limit, as each use gives a new one
	entraClockSkew   = 5 * time.Minute     // how far ahead an assertion's nbf and iat may be
	entraMaxForm     = 1 << 20             // the largest token request body
	assertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

var (
	tenantRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,254}$`)
	// pkceRE is RFC 7636's code verifier (and plain challenge) alphabet.
	pkceRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
)

// entra is the emulated Microsoft Entra tenant: its authorization and
// token endpoints, its OpenID configuration, the key that signs the tokens
// it issues, and the codes and refresh tokens it has handed out.
type entra struct {
	tenant string
	apps   map[string]EntraApp // by lower-cased client id
	users  []EntraUser
	key    *rsa.PrivateKey // signs access tokens
	kid    string
	now    func() time.Time
	envURL func() string // the environment URL, for the scope check
	// appObject is the Entra object id of the environment's application
	// user, the oid of every app-only token: all apps act as that user.
	appObject string
	ts        *httptest.Server

	mu      sync.Mutex
	codes   map[string]*authCode     // authorization codes, by value
	refresh map[string]*refreshGrant // refresh tokens, by value
	revoked map[string]int           // sessions revocations, by user object id
}

// authCode is an authorization code and what it was issued for.
type authCode struct {
	clientID    string // the app's, as registered
	redirectURI string // exactly as the authorization request gave it
	challenge   string // the PKCE challenge, or ""
	method      string // "S256" or "plain"
	user        int    // index in entra.users
	offline     bool   // offline_access was asked for: issue a refresh token
	openid      bool   // openid was asked for: issue an ID token
	nonce       string
	issued      time.Time
	used        bool
}

// refreshGrant is what a refresh token stands for.
type refreshGrant struct {
	clientID string
	user     int
	openid   bool
	issued   time.Time
	gen      int // the user's revocation count when issued
}

func newEntra(c *config, envURL func() string, appObject string) (*entra, error) {
	ec := c.entra
	if ec.usersOnly {
		return nil, errors.New("dynamicstest: WithEntraUsers needs WithEntra: give the tenant and its apps too")
	}
	if !tenantRE.MatchString(ec.tenant) {
		return nil, fmt.Errorf("dynamicstest: WithEntra: tenant id %q is not a GUID or a domain name: give one, such as contoso.onmicrosoft.com", clipText(ec.tenant))
	}
	if len(ec.apps) == 0 {
		return nil, errors.New("dynamicstest: WithEntra: register at least one EntraApp, with a client secret, a certificate or redirect URIs")
	}
	e := &entra{tenant: ec.tenant, apps: map[string]EntraApp{}, now: c.now, envURL: envURL, appObject: appObject,
		codes: map[string]*authCode{}, refresh: map[string]*refreshGrant{}, revoked: map[string]int{}}
	for i, a := range ec.apps {
		id := strings.ToLower(strings.TrimSpace(a.ClientID))
		switch {
		case id == "":
			return nil, fmt.Errorf("dynamicstest: WithEntra: app %d has no ClientID", i)
		case a.ClientSecret == "" && a.Certificate == nil && len(a.RedirectURIs) == 0:
			return nil, fmt.Errorf("dynamicstest: WithEntra: app %s has neither a ClientSecret nor a Certificate nor RedirectURIs: give it a credential (a confidential client) or redirect URIs (a public client)", a.ClientID)
		}
		if _, dup := e.apps[id]; dup {
			return nil, fmt.Errorf("dynamicstest: WithEntra: app %s is registered twice", a.ClientID)
		}
		if a.Certificate != nil {
			if _, ok := a.Certificate.PublicKey.(*rsa.PublicKey); !ok {
				return nil, fmt.Errorf("dynamicstest: WithEntra: app %s: the certificate's key is %T; client assertions are verified with RSA keys, as Entra signs and verifies them", a.ClientID, a.Certificate.PublicKey)
			}
		}
		for _, u := range a.RedirectURIs {
			if err := checkRedirectURI(u); err != nil {
				return nil, fmt.Errorf("dynamicstest: WithEntra: app %s: redirect URI %q %s", a.ClientID, clipText(u), err)
			}
		}
		a.RedirectURIs = slices.Clone(a.RedirectURIs)
		e.apps[id] = a
	}
	seen := map[string]bool{}
	for i, u := range ec.users {
		upn := strings.ToLower(strings.TrimSpace(u.UserPrincipalName))
		oid := strings.ToLower(strings.TrimSpace(u.ObjectID))
		switch {
		case !guidRE.MatchString(oid):
			return nil, fmt.Errorf("dynamicstest: WithEntraUsers: user %d has ObjectID %q: give a GUID, the user's object id", i, clipText(u.ObjectID))
		case !strings.Contains(upn, "@"):
			return nil, fmt.Errorf("dynamicstest: WithEntraUsers: user %s has UserPrincipalName %q: give a sign-in name such as ada@%s", oid, clipText(u.UserPrincipalName), ec.tenant)
		case seen[upn] || seen[oid]:
			return nil, fmt.Errorf("dynamicstest: WithEntraUsers: user %s (%s) is declared twice", oid, upn)
		}
		seen[upn], seen[oid] = true, true
		u.ObjectID, u.UserPrincipalName = oid, strings.TrimSpace(u.UserPrincipalName)
		if u.Name == "" {
			u.Name = u.UserPrincipalName
		}
		e.users = append(e.users, u)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("dynamicstest: WithEntra: generating the token signing key: %w", err)
	}
	e.key = key
	e.kid = base64.RawURLEncoding.EncodeToString(sha1Sum(x509.MarshalPKCS1PublicKey(&key.PublicKey)))
	return e, nil
}

// checkRedirectURI applies Entra's rules for a registered redirect URI: an
// absolute URI without a fragment; https, http on loopback only, or a
// custom scheme.
func checkRedirectURI(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme == "":
		return errors.New("is not an absolute URI: give one such as https://app.example/callback")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return errors.New("has a fragment, which Entra does not allow in a redirect URI")
	case u.Scheme == "https" && u.Host == "":
		return errors.New("has no host")
	case u.Scheme == "http" && !loopbackHost(u.Hostname()):
		return errors.New("uses http on a host that is not loopback: Entra allows http only for localhost and 127.0.0.1; use https")
	}
	return nil
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// redirectAllowed reports whether uri is one of app's redirect URIs: the
// same string, or, for http on loopback, the same but for the port.
func (a EntraApp) redirectAllowed(uri string) bool {
	if slices.Contains(a.RedirectURIs, uri) {
		return true
	}
	got, err := url.Parse(uri)
	if err != nil || got.Scheme != "http" || !loopbackHost(got.Hostname()) {
		return false
	}
	for _, r := range a.RedirectURIs {
		reg, err := url.Parse(r)
		if err == nil && reg.Scheme == "http" && reg.Hostname() == got.Hostname() && reg.User.String() == got.User.String() &&
			reg.EscapedPath() == got.EscapedPath() && reg.RawQuery == got.RawQuery && !strings.Contains(uri, "#") {
			return true
		}
	}
	return false
}

// public reports whether the app is a public client, with no credential.
func (a EntraApp) public() bool { return a.ClientSecret == "" && a.Certificate == nil }

// start serves the tenant on its own TLS listener, through the server's
// request log and fault injector (routes "openid-configuration", "keys",
// "authorize" and "token"), and makes its users members of the
// environment.
func (e *entra) start(s *Server) {
	for _, u := range e.users {
		// Without a systemuser table there is nowhere to put them; the
		// tokens still open the Web API.
		_, _ = s.AddUser(u.Name, u.ObjectID)
	}
	h := s.log.Middleware(entraRoute, s.faults.Middleware(entraRoute, http.HandlerFunc(e.serve)))
	e.ts = httptest.NewUnstartedServer(h)
	e.ts.Config.ReadHeaderTimeout = 30 * time.Second
	// Clients that refuse the certificate or speak plain http are expected;
	// their handshake errors would only clutter a test's output.
	e.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	e.ts.StartTLS()
}

func (e *entra) close() {
	if e.ts != nil {
		e.ts.Close()
	}
}

// EntraURL returns the authority of the emulated Entra tenant of
// [WithEntra], such as https://127.0.0.1:41235/contoso.onmicrosoft.com,
// where https://login.microsoftonline.com/{tenant} is for the real one: the
// token endpoint is EntraURL() + "/oauth2/v2.0/token". It is "" without
// WithEntra.
func (s *Server) EntraURL() string {
	if s.entra == nil || s.entra.ts == nil {
		return ""
	}
	return s.entra.ts.URL + "/" + s.entra.tenant
}

// EntraTokenURL returns the token endpoint of the emulated Entra tenant,
// EntraURL() + "/oauth2/v2.0/token", or "" without [WithEntra].
func (s *Server) EntraTokenURL() string {
	if u := s.EntraURL(); u != "" {
		return u + "/oauth2/v2.0/token"
	}
	return ""
}

// EntraAuthorizeURL returns the authorization endpoint of the emulated
// Entra tenant, EntraURL() + "/oauth2/v2.0/authorize", where an app sends a
// user's browser to sign in, or "" without [WithEntra].
func (s *Server) EntraAuthorizeURL() string {
	if u := s.EntraURL(); u != "" {
		return u + "/oauth2/v2.0/authorize"
	}
	return ""
}

// EntraUserScope returns the delegated scope an app asks for to call the
// Web API as a signed-in user: the environment URL as Entra knows it
// (https) + "/user_impersonation". Add offline_access for a refresh token.
func (s *Server) EntraUserScope() string {
	return strings.TrimSuffix(s.EntraScope(), "/.default") + "/user_impersonation"
}

// RevokeEntraSessions revokes every refresh token the tenant has issued to
// the user with this object id, as an administrator's "revoke sessions" or
// a password reset does: redeeming one then fails with invalid_grant
// (AADSTS50173), and the user has to sign in again. Access tokens already
// issued stay valid until they expire. Unknown ids are ignored.
func (s *Server) RevokeEntraSessions(userObjectID string) {
	if s.entra == nil {
		return
	}
	s.entra.mu.Lock()
	defer s.entra.mu.Unlock()
	s.entra.revoked[strings.ToLower(strings.TrimSpace(userObjectID))]++
}

// EntraScope returns the scope a confidential client asks for to call the
// Web API: the environment URL as Entra knows it (https) + "/.default".
// The http form, URL + "/.default", is accepted too.
func (s *Server) EntraScope() string {
	return "https://" + strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://") + "/.default"
}

// EntraCertPool returns a pool that trusts the emulated Entra tenant's TLS
// certificate, for a client's tls.Config RootCAs; nil without [WithEntra].
func (s *Server) EntraCertPool() *x509.CertPool {
	if s.entra == nil || s.entra.ts == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.entra.ts.Certificate())
	return pool
}

// EntraClient returns an HTTP client that trusts the emulated Entra
// tenant's certificate, for token requests (with golang.org/x/oauth2, put
// it in the context under oauth2.HTTPClient); nil without [WithEntra].
func (s *Server) EntraClient() *http.Client {
	if s.entra == nil || s.entra.ts == nil {
		return nil
	}
	return s.entra.ts.Client()
}

// entraRoute names a request to the Entra tenant, for the log and faults.
func entraRoute(r *http.Request) string {
	_, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		return "openid-configuration"
	case "discovery/v2.0/keys":
		return "keys"
	case "oauth2/v2.0/token":
		return "token"
	case "oauth2/v2.0/authorize":
		return "authorize"
	}
	return "unknown"
}

// entraError is an error of the token endpoint, in Entra's shape.
type entraError struct {
	status int
	err    string // the OAuth error: invalid_request, invalid_client, ...
	code   int    // the AADSTS code
	desc   string // the description, without the AADSTS prefix
}

// describe returns Entra's error_description for ee, with the trace and
// correlation ids and the timestamp it carries.
func (e *entra) describe(ee *entraError) (desc, trace, corr, ts string) {
	trace, corr = newGUID(), newGUID()
	ts = e.now().UTC().Format("2006-01-02 15:04:05Z")
	desc = fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", ee.code, ee.desc, trace, corr, ts)
	return desc, trace, corr, ts
}

func (e *entra) writeError(w http.ResponseWriter, ee *entraError) {
	desc, trace, corr, ts := e.describe(ee)
	body, _ := json.Marshal(map[string]any{
		"error":             ee.err,
		"error_description": desc,
		"error_codes":       []int{ee.code},
		"timestamp":         ts,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         "https://login.microsoftonline.com/error?code=" + fmt.Sprint(ee.code),
	})
	writeEntraJSON(w, ee.status, body)
}

func writeEntraJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (e *entra) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-ms-request-id", newGUID())
	tenant, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !strings.EqualFold(tenant, e.tenant) {
		e.writeError(w, &entraError{status: http.StatusBadRequest, err: "invalid_tenant", code: 90002,
			desc: fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", clipText(tenant))})
		return
	}
	base := "https://" + r.Host + "/" + e.tenant
	method := func(m string) bool {
		if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
			return true
		}
		w.Header().Set("Allow", m)
		e.writeError(w, &entraError{status: http.StatusMethodNotAllowed, err: "invalid_request", code: 900561,
			desc: fmt.Sprintf("The endpoint only accepts %s requests. Received a %s request.", m, r.Method)})
		return false
	}
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		if method(http.MethodGet) {
			e.openIDConfiguration(w, r, base)
		}
	case "discovery/v2.0/keys":
		if method(http.MethodGet) {
			e.keys(w)
		}
	case "oauth2/v2.0/token":
		if method(http.MethodPost) {
			e.token(w, r, base+"/oauth2/v2.0/token")
		}
	case "oauth2/v2.0/authorize":
		// The authorization endpoint takes its parameters in the query
		// (GET) or a form (POST), as Entra's does.
		if r.Method == http.MethodPost || method(http.MethodGet) {
			e.authorize(w, r)
		}
	default:
		e.writeError(w, &entraError{status: http.StatusNotFound, err: "invalid_request", code: 900561,
			desc: fmt.Sprintf("The emulated Entra tenant serves /%[1]s/v2.0/.well-known/openid-configuration, /%[1]s/discovery/v2.0/keys, /%[1]s/oauth2/v2.0/authorize and /%[1]s/oauth2/v2.0/token; there is nothing at %[2]s.", e.tenant, clipText(r.URL.Path))})
	}
}

func (e *entra) openIDConfiguration(w http.ResponseWriter, r *http.Request, base string) {
	host := r.Host
	doc := map[string]any{
		"issuer":                                base + "/v2.0",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "ver"},
		"request_uri_parameter_supported":       false,
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"tenant_region_scope":                   "NA",
		"cloud_instance_name":                   host,
		"cloud_graph_host_name":                 host,
		"msgraph_host":                          host,
	}
	body, _ := json.Marshal(doc)
	writeEntraJSON(w, http.StatusOK, body)
}

func (e *entra) keys(w http.ResponseWriter) {
	pub := &e.key.PublicKey
	body, _ := json.Marshal(map[string]any{"keys": []map[string]any{{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": e.kid,
		"x5t": e.kid,
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
	writeEntraJSON(w, http.StatusOK, body)
}

func missingParam(name string) *entraError {
	return &entraError{status: http.StatusBadRequest, err: "invalid_request", code: 900144,
		desc: fmt.Sprintf("The request body must contain the following parameter: '%s'.", name)}
}

// token serves the token endpoint: the client credentials, authorization
// code and refresh token grants.
func (e *entra) token(w http.ResponseWriter, r *http.Request, endpoint string) {
	r.Body = http.MaxBytesReader(w, r.Body, entraMaxForm)
	if err := r.ParseForm(); err != nil {
		e.writeError(w, &entraError{status: http.StatusBadRequest, err: "invalid_request", code: 900144,
			desc: "The request body must be application/x-www-form-urlencoded, of at most 1 MiB."})
		return
	}
	body, ee := e.grant(r.PostForm, r, endpoint)
	if ee != nil {
		e.writeError(w, ee)
		return
	}
	raw, _ := json.Marshal(body)
	writeEntraJSON(w, http.StatusOK, raw)
}

func (e *entra) grant(form url.Values, r *http.Request, endpoint string) (map[string]any, *entraError) {
	grant := form.Get("grant_type")
	switch grant {
	case "":
		return nil, missingParam("grant_type")
	case "client_credentials", "authorization_code", "refresh_token":
	default:
		return nil, &entraError{status: http.StatusBadRequest, err: "unsupported_grant_type", code: 70003,
			desc: fmt.Sprintf("The app requested an unsupported grant type '%s'. The emulated tenant supports client_credentials, authorization_code and refresh_token.", clipText(grant))}
	}
	app, acr, ee := e.authenticate(form, r, endpoint)
	if ee != nil {
		return nil, ee
	}
	switch grant {
	case "authorization_code":
		return e.redeemCode(app, acr, form, endpoint)
	case "refresh_token":
		return e.redeemRefresh(app, acr, form, endpoint)
	}
	if acr == "0" {
		return nil, &entraError{status: http.StatusUnauthorized, err: "invalid_client", code: 7000218,
			desc: fmt.Sprintf("The request body must contain the following parameter: 'client_assertion' or 'client_secret'. App '%s' is a public client, with no credential for the client credentials grant.", app.ClientID)}
	}
	resource, ee := e.checkScope(form.Get("scope"))
	if ee != nil {
		return nil, ee
	}
	tok, ee := e.issue(app, resource, acr)
	if ee != nil {
		return nil, ee
	}
	return map[string]any{
		"token_type":     "Bearer",
		"expires_in":     int(entraTokenLife / time.Second),
		"ext_expires_in": int(entraTokenLife / time.Second),
		"access_token":   tok,
	}, nil
}

// authenticate finds the client of a token request and checks its
// credential: a client secret (in the form or HTTP Basic), a client
// assertion, or none for a public client. It returns the app and its
// appidacr: 0 for a public client, 1 for a secret, 2 for a certificate.
func (e *entra) authenticate(form url.Values, r *http.Request, endpoint string) (EntraApp, string, *entraError) {
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		// client_secret_basic: both parts are form-urlencoded (RFC 6749 2.3.1).
		uu, err1 := url.QueryUnescape(u)
		pp, err2 := url.QueryUnescape(p)
		if err1 != nil || err2 != nil || (clientID != "" && !strings.EqualFold(clientID, uu)) {
			return EntraApp{}, "", &entraError{status: http.StatusUnauthorized, err: "invalid_client", code: 7000215,
				desc: "Invalid client secret provided: the Authorization header is not a valid client_secret_basic credential for the client_id of the request."}
		}
		clientID, secret = uu, pp
	}
	assertion, assertionType := form.Get("client_assertion"), form.Get("client_assertion_type")
	var claims *assertionClaims
	if assertion != "" {
		if assertionType != assertionTypeJWT {
			return EntraApp{}, "", &entraError{status: http.StatusBadRequest, err: "invalid_request", code: 900144,
				desc: fmt.Sprintf("The request body must contain the following parameter: 'client_assertion_type' with the value '%s'.", assertionTypeJWT)}
		}
		var err error
		if claims, err = parseAssertion(assertion); err != nil {
			return EntraApp{}, "", &entraError{status: http.StatusBadRequest, err: "invalid_request", code: 50027,
				desc: "JWT token is invalid or malformed: " + err.Error()}
		}
		if clientID == "" {
			clientID = claims.Sub
		}
	}
	if clientID == "" {
		return EntraApp{}, "", missingParam("client_id")
	}
	app, ok := e.apps[strings.ToLower(clientID)]
	if !ok {
		return EntraApp{}, "", e.unknownApp(clientID)
	}
	switch {
	case secret != "" && assertion != "":
		return app, "", &entraError{status: http.StatusBadRequest, err: "invalid_request", code: 900023,
			desc: "Specified both client_secret and client_assertion: give one of them."}
	case app.public() && (secret != "" || assertion != ""):
		return app, "", &entraError{status: http.StatusUnauthorized, err: "invalid_client", code: 700025,
			desc: fmt.Sprintf("Client is public so neither 'client_assertion' nor 'client_secret' should be presented. App '%s' has no credential registered.", app.ClientID)}
	case app.public():
		return app, "0", nil
	case secret != "":
		if app.ClientSecret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(app.ClientSecret)) != 1 {
			return app, "", &entraError{status: http.StatusUnauthorized, err: "invalid_client", code: 7000215,
				desc: fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", app.ClientID)}
		}
		return app, "1", nil
	case assertion != "":
		if ee := e.checkAssertion(app, claims, endpoint); ee != nil {
			return app, "", ee
		}
		return app, "2", nil
	}
	return app, "", &entraError{status: http.StatusUnauthorized, err: "invalid_client", code: 7000218,
		desc: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

func (e *entra) unknownApp(clientID string) *entraError {
	return &entraError{status: http.StatusBadRequest, err: "unauthorized_client", code: 700016,
		desc: fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clipText(clientID), e.tenant)}
}

// userScope is a delegated request's scope, checked.
type userScope struct {
	resource string // the audience: https://{environment host}
	offline  bool   // offline_access: issue a refresh token
	openid   bool   // openid: issue an ID token
}

// checkUserScope accepts a delegated request's scope: the environment's
// user_impersonation (or /.default) scope, in its https or http form, with
// the OpenID scopes (openid, profile, email, offline_access).
func (e *entra) checkUserScope(scope string) (userScope, *entraError) {
	var us userScope
	if strings.TrimSpace(scope) == "" {
		return us, missingParam("scope")
	}
	env, err := url.Parse(e.envURL())
	if err != nil {
		return us, &entraError{status: http.StatusInternalServerError, err: "server_error", code: 90100, desc: "The environment URL is not known yet."}
	}
	bad := func(s string) *entraError {
		return &entraError{status: http.StatusBadRequest, err: "invalid_scope", code: 70011,
			desc: fmt.Sprintf("The provided value for the input parameter 'scope' is not valid. The scope %s is not valid. A delegated request asks for the environment's scope https://%s/user_impersonation (or /.default), with offline_access for a refresh token.", clipText(s), env.Host)}
	}
	for s := range strings.FieldsSeq(scope) {
		switch s {
		case "offline_access":
			us.offline = true
			continue
		case "openid":
			us.openid = true
			continue
		case "profile", "email":
			continue
		}
		base, ok := strings.CutSuffix(s, "/user_impersonation")
		if !ok {
			base, ok = strings.CutSuffix(s, "/.default")
		}
		u, err := url.Parse(strings.TrimRight(base, "/"))
		if !ok || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Path != "" || !sameHost(u.Host, env.Host) {
			return us, bad(s)
		}
		us.resource = "https://" + env.Host
	}
	if us.resource == "" {
		return us, bad(scope)
	}
	return us, nil
}

// redeemCode serves the authorization code grant: the code must be unused,
// unexpired, the client's, and come with the redirect URI and the PKCE
// verifier of its authorization request.
func (e *entra) redeemCode(app EntraApp, acr string, form url.Values, endpoint string) (map[string]any, *entraError) {
	code, redirect := form.Get("code"), form.Get("redirect_uri")
	if code == "" {
		return nil, missingParam("code")
	}
	if redirect == "" {
		return nil, missingParam("redirect_uri")
	}
	invalid := func(code int, desc string) *entraError {
		return &entraError{status: http.StatusBadRequest, err: "invalid_grant", code: code, desc: desc}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.codes[code]
	switch {
	case !ok:
		return nil, invalid(70000, "Provided grant is invalid or malformed: the authorization code is not one this tenant issued.")
	case !strings.EqualFold(c.clientID, app.ClientID):
		return nil, invalid(70000, fmt.Sprintf("Provided grant is invalid or malformed: the authorization code was issued to another application, not '%s'.", app.ClientID))
	case c.used:
		return nil, invalid(54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	case !e.now().Before(c.issued.Add(entraCodeLife)):
		return nil, invalid(70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
	case redirect != c.redirectURI:
		return nil, invalid(70000, "The provided value for the 'redirect_uri' is not valid. The value must exactly match the redirect URI used to obtain the authorization code.")
	}
	if c.challenge != "" {
		verifier := form.Get("code_verifier")
		if verifier == "" {
			// Entra's code for a missing verifier could not be confirmed;
			// 50148 is the one it is reported to give when none is sent.
			return nil, invalid(50148, "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE: the request has no code_verifier.")
		}
		want := verifier
		if c.method == "S256" {
			want = base64.RawURLEncoding.EncodeToString(sha256Sum([]byte(verifier)))
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(c.challenge)) != 1 {
			return nil, invalid(501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
		}
	}
	if s := form.Get("scope"); s != "" {
		if _, ee := e.checkUserScope(s); ee != nil {
			return nil, ee
		}
	}
	c.used = true
	return e.issueUser(app, acr, c.user, c.offline, c.openid, c.nonce, endpoint)
}

// redeemRefresh serves the refresh token grant. Entra gives a new refresh
// token with every use and, unlike servers that rotate them, leaves the
// old one valid until it expires or the user's sessions are revoked.
func (e *entra) redeemRefresh(app EntraApp, acr string, form url.Values, endpoint string) (map[string]any, *entraError) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, missingParam("refresh_token")
	}
	invalid := func(code int, desc string) *entraError {
		return &entraError{status: http.StatusBadRequest, err: "invalid_grant", code: code, desc: desc}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	g, ok := e.refresh[rt]
	switch {
	case !ok:
		return nil, invalid(70000, "Provided grant is invalid or malformed: the refresh token is not one this tenant issued.")
	case !strings.EqualFold(g.clientID, app.ClientID):
		return nil, invalid(70000, fmt.Sprintf("Provided grant is invalid or malformed: the refresh token was issued to another application, not '%s'.", app.ClientID))
	case g.gen != e.revoked[e.users[g.user].ObjectID]:
		return nil, invalid(50173, fmt.Sprintf("The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '%s'.", g.issued.UTC().Format(time.RFC3339)))
	case !e.now().Before(g.issued.Add(entraRefreshLife)):
		return nil, invalid(700082, fmt.Sprintf("The refresh token has expired due to inactivity. The token was issued on %s and was inactive for 90.00:00:00.", g.issued.UTC().Format(time.RFC3339)))
	}
	if s := form.Get("scope"); s != "" {
		if _, ee := e.checkUserScope(s); ee != nil {
			return nil, ee
		}
	}
	return e.issueUser(app, acr, g.user, true, g.openid, "", endpoint)
}

// issueUser answers a delegated grant for user: an access token for the
// environment, a new refresh token when offline, an ID token when openid.
// The caller holds e.mu.
func (e *entra) issueUser(app EntraApp, acr string, user int, offline, openid bool, nonce, endpoint string) (map[string]any, *entraError) {
	env, err := url.Parse(e.envURL())
	if err != nil {
		return nil, &entraError{status: http.StatusInternalServerError, err: "server_error", code: 90100, desc: "The environment URL is not known yet."}
	}
	u, now := e.users[user], e.now()
	resource := "https://" + env.Host
	// sub is pairwise: the same user has a different one in each app.
	sub := base64.RawURLEncoding.EncodeToString(sha256Sum([]byte(e.tenant + "|" + strings.ToLower(app.ClientID) + "|" + u.ObjectID)))
	at, ee := e.sign(accessClaims{
		Aud: resource, Iss: "https://sts.windows.net/" + e.tenant + "/",
		Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(entraTokenLife).Unix(),
		AppID: app.ClientID, AppIDAcr: acr, IDType: "user", Oid: u.ObjectID, Sub: sub,
		Tid: e.tenant, Ver: "1.0", Uti: newGUID(),
		Scp: "user_impersonation", Upn: u.UserPrincipalName, UniqueName: u.UserPrincipalName, Name: u.Name, Amr: []string{"pwd"},
	})
	if ee != nil {
		return nil, ee
	}
	body := map[string]any{
		"token_type":     "Bearer",
		"scope":          resource + "/user_impersonation",
		"expires_in":     int(entraTokenLife / time.Second),
		"ext_expires_in": int(entraTokenLife / time.Second),
		"access_token":   at,
	}
	if offline {
		rt := randomToken()
		e.refresh[rt] = &refreshGrant{clientID: app.ClientID, user: user, openid: openid, issued: now, gen: e.revoked[u.ObjectID]}
		body["refresh_token"] = rt
		e.purgeLocked(now)
	}
	if openid {
		idt, ee := e.sign(idClaims{
			Aud: app.ClientID, Iss: strings.TrimSuffix(endpoint, "/oauth2/v2.0/token") + "/v2.0",
			Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(time.Hour).Unix(),
			Sub: sub, Oid: u.ObjectID, Tid: e.tenant, Name: u.Name, PreferredUsername: u.UserPrincipalName,
			Nonce: nonce, Ver: "2.0",
		})
		if ee != nil {
			return nil, ee
		}
		body["id_token"] = idt
	}
	return body, nil
}

// purgeLocked forgets codes long past their lifetime and refresh tokens
// past theirs, so that a long-running emulator does not grow without end.
func (e *entra) purgeLocked(now time.Time) {
	for k, c := range e.codes {
		if now.Sub(c.issued) > entraCodeLife+time.Hour {
			delete(e.codes, k)
		}
	}
	for k, g := range e.refresh {
		if now.Sub(g.issued) > entraRefreshLife {
			delete(e.refresh, k)
		}
	}
}

// randomToken returns an opaque, unguessable code or refresh token.
func randomToken() string {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// authorize serves the authorization endpoint. Errors that make the
// redirect URI untrustworthy (no client, an unknown client, a redirect URI
// that is not registered) and a user who cannot sign in are answered in
// place, where Entra shows its error page; the others go back to the
// redirect URI with error, error_description and state. A good request
// signs in the user its login_hint names (or the first user) and redirects
// at once with code and state.
func (e *entra) authorize(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, entraMaxForm)
	if err := r.ParseForm(); err != nil {
		e.writeError(w, &entraError{status: http.StatusBadRequest, err: "invalid_request", code: 9002313,
			desc: "Invalid request. Request is malformed or invalid: the parameters could not be parsed."})
		return
	}
	q := r.Form
	clientID, redirect := q.Get("client_id"), q.Get("redirect_uri")
	if clientID == "" {
		e.writeError(w, missingParam("client_id"))
		return
	}
	app, ok := e.apps[strings.ToLower(clientID)]
	if !ok {
		e.writeError(w, e.unknownApp(clientID))
		return
	}
	if redirect == "" {
		e.writeError(w, missingParam("redirect_uri"))
		return
	}
	if !app.redirectAllowed(redirect) {
		e.writeError(w, &entraError{status: http.StatusBadRequest, err: "invalid_request", code: 50011,
			desc: fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application.", clipText(redirect), app.ClientID)})
		return
	}
	mode := q.Get("response_mode")
	fail := func(ee *entraError) {
		desc, _, _, _ := e.describe(ee)
		params := url.Values{"error": {ee.err}, "error_description": {desc}}
		if s := q.Get("state"); s != "" {
			params.Set("state", s)
		}
		e.redirect(w, redirect, mode, params)
	}
	switch mode {
	case "":
		mode = "query"
	case "query", "fragment", "form_post":
	default:
		mode = "query"
		fail(&entraError{err: "invalid_request", code: 9002313,
			desc: fmt.Sprintf("Invalid request. Request is malformed or invalid: response_mode '%s' is not one of query, fragment and form_post.", clipText(q.Get("response_mode")))})
		return
	}
	switch rt := q.Get("response_type"); rt {
	case "":
		fail(missingParam("response_type"))
		return
	case "code":
	default:
		fail(&entraError{err: "unsupported_response_type", code: 70005,
			desc: fmt.Sprintf("response_type '%s' is not enabled for the client. The emulated tenant serves the authorization code flow: response_type=code.", clipText(rt))})
		return
	}
	us, ee := e.checkUserScope(q.Get("scope"))
	if ee != nil {
		fail(ee)
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" {
		switch method {
		case "", "plain":
			method = "plain" // Entra reads a challenge without a method as plain
			if !pkceRE.MatchString(challenge) {
				fail(&entraError{err: "invalid_request", code: 501491, desc: "Invalid size of Code_Challenge parameter: a plain challenge is the verifier itself, 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~'."})
				return
			}
		case "S256":
			if b, err := base64.RawURLEncoding.DecodeString(challenge); err != nil || len(b) != sha256.Size {
				fail(&entraError{err: "invalid_request", code: 501491, desc: "Invalid size of Code_Challenge parameter: an S256 challenge is the base64url SHA-256 of the verifier, 43 characters without padding."})
				return
			}
		default:
			fail(&entraError{err: "invalid_request", code: 9002313,
				desc: fmt.Sprintf("Invalid request. Request is malformed or invalid: code_challenge_method '%s' is not S256 or plain.", clipText(method))})
			return
		}
	}
	user := -1
	if hint := strings.TrimSpace(q.Get("login_hint")); hint != "" {
		user = slices.IndexFunc(e.users, func(u EntraUser) bool { return strings.EqualFold(u.UserPrincipalName, hint) })
	} else if len(e.users) > 0 {
		user = 0
	}
	if user < 0 {
		who := "any user: declare one with WithEntraUsers"
		if h := q.Get("login_hint"); h != "" {
			who = fmt.Sprintf("'%s': declare the user with WithEntraUsers", clipText(h))
		}
		e.writeError(w, &entraError{status: http.StatusBadRequest, err: "invalid_request", code: 50034,
			desc: fmt.Sprintf("The user account does not exist in the '%s' directory. To sign into this application, the account must be added to the directory. The emulated tenant has no account for %s.", e.tenant, who)})
		return
	}
	if e.users[user].DeclinesConsent {
		fail(&entraError{err: "access_denied", code: 65004, desc: "User declined to consent to access the app."})
		return
	}
	code := randomToken()
	e.mu.Lock()
	e.codes[code] = &authCode{clientID: app.ClientID, redirectURI: redirect, challenge: challenge, method: method, user: user,
		offline: us.offline, openid: us.openid, nonce: q.Get("nonce"), issued: e.now()}
	e.purgeLocked(e.now())
	e.mu.Unlock()
	params := url.Values{"code": {code}, "session_state": {newGUID()}}
	if s := q.Get("state"); s != "" {
		params.Set("state", s)
	}
	e.redirect(w, redirect, mode, params)
}

// redirect sends the browser back to the app's redirect URI with params:
// in its query or fragment with a 302, or, for form_post, in a page whose
// form posts them there, as Entra does.
func (e *entra) redirect(w http.ResponseWriter, redirectURI, mode string, params url.Values) {
	h := w.Header()
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	if mode == "form_post" {
		var b strings.Builder
		b.WriteString(`<html><head><title>Working...</title></head><body><form method="POST" name="hiddenform" action="`)
		b.WriteString(html.EscapeString(redirectURI))
		b.WriteString(`">`)
		for _, k := range slices.Sorted(maps.Keys(params)) {
			fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s" />`, html.EscapeString(k), html.EscapeString(params.Get(k)))
		}
		b.WriteString(`<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit" /></noscript></form><script>document.forms[0].submit();</script></body></html>`)
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, b.String())
		return
	}
	u, _ := url.Parse(redirectURI) // registered, so it parses
	if mode == "fragment" {
		u.Fragment, u.RawFragment = "", ""
		h.Set("Location", u.String()+"#"+params.Encode())
	} else {
		q := u.Query()
		for k, vs := range params {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
		h.Set("Location", u.String())
	}
	w.WriteHeader(http.StatusFound)
}

// checkScope accepts {environment URL}/.default, in its https or http
// form, with the OpenID scopes MSAL adds (openid, profile, offline_access).
// It returns the resource, the audience of the token.
func (e *entra) checkScope(scope string) (string, *entraError) {
	if strings.TrimSpace(scope) == "" {
		return "", missingParam("scope")
	}
	env, err := url.Parse(e.envURL())
	if err != nil {
		return "", &entraError{status: http.StatusInternalServerError, err: "server_error", code: 90100, desc: "The environment URL is not known yet."}
	}
	resource := ""
	for s := range strings.FieldsSeq(scope) {
		switch s {
		case "openid", "profile", "offline_access", "email":
			continue
		}
		base, ok := strings.CutSuffix(s, "/.default")
		u, err := url.Parse(strings.TrimRight(base, "/"))
		if !ok || err != nil || resource != "" || (u.Scheme != "https" && u.Scheme != "http") || u.Path != "" || !sameHost(u.Host, env.Host) {
			return "", &entraError{status: http.StatusBadRequest, err: "invalid_scope", code: 70011,
				desc: fmt.Sprintf("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope %s is not valid. A client credentials request asks for the environment's /.default scope: https://%s/.default.", clipText(scope), env.Host)}
		}
		resource = "https://" + env.Host
	}
	if resource == "" {
		return "", &entraError{status: http.StatusBadRequest, err: "invalid_scope", code: 70011,
			desc: fmt.Sprintf("The provided value for the input parameter 'scope' is not valid. The scope %s is not valid. A client credentials request asks for the environment's /.default scope: https://%s/.default.", clipText(scope), env.Host)}
	}
	return resource, nil
}

// sameHost reports whether a scope's host names the environment: the same
// host and port, or loopback names for the same port (localhost for
// 127.0.0.1), since the emulator listens on loopback.
func sameHost(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb {
		return false
	}
	local := func(h string) bool {
		if strings.EqualFold(h, "localhost") {
			return true
		}
		ip := net.ParseIP(h)
		return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
	}
	return local(ha) && local(hb)
}

// assertionClaims is a parsed, not yet verified, client assertion.
type assertionClaims struct {
	header struct {
		Alg     string `json:"alg"`
		X5t     string `json:"x5t"`
		X5tS256 string `json:"x5t#S256"`
	}
	signed []byte // header.payload, what the signature covers
	sig    []byte

	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"` // a string or an array of strings
	Exp *json.Number    `json:"exp"`
	Nbf *json.Number    `json:"nbf"`
	Iat *json.Number    `json:"iat"`
	Jti string          `json:"jti"`
}

// parseAssertion splits and decodes a compact JWS; it verifies nothing.
func parseAssertion(s string) (*assertionClaims, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("a JWT has 3 dot-separated parts, this one has %d", len(parts))
	}
	dec := func(i int, what string) ([]byte, error) {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[i], "="))
		if err != nil {
			return nil, fmt.Errorf("the %s is not base64url", what)
		}
		return b, nil
	}
	hb, err := dec(0, "header")
	if err != nil {
		return nil, err
	}
	pb, err := dec(1, "payload")
	if err != nil {
		return nil, err
	}
	sig, err := dec(2, "signature")
	if err != nil {
		return nil, err
	}
	c := &assertionClaims{signed: []byte(parts[0] + "." + parts[1]), sig: sig}
	if err := json.Unmarshal(hb, &c.header); err != nil {
		return nil, errors.New("the header is not a JSON object")
	}
	if err := unmarshalNumbers(pb, c); err != nil {
		return nil, errors.New("the payload is not a JSON object of claims")
	}
	if c.header.Alg != "RS256" && c.header.Alg != "PS256" {
		return nil, fmt.Errorf("alg %q is not supported: sign with RS256 or PS256", clipText(c.header.Alg))
	}
	return c, nil
}

func unmarshalNumbers(b []byte, v any) error {
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	return d.Decode(v)
}

// audiences returns aud as a list, whether it is a string or an array.
func (c *assertionClaims) audiences() []string {
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(c.Aud, &many)
	return many
}

func unixClaim(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// checkAssertion verifies a client assertion for app: its claims, then its
// signature with the app's certificate.
func (e *entra) checkAssertion(app EntraApp, c *assertionClaims, endpoint string) *entraError {
	bad := func(code int, desc string) *entraError {
		return &entraError{status: http.StatusUnauthorized, err: "invalid_client", code: code, desc: desc}
	}
	if !strings.EqualFold(c.Iss, app.ClientID) || !strings.EqualFold(c.Sub, app.ClientID) {
		return bad(700021, fmt.Sprintf("Client assertion application identifier doesn't match 'client_id' parameter: iss and sub must both be the client id %s.", app.ClientID))
	}
	if c.Jti == "" {
		return &entraError{status: http.StatusBadRequest, err: "invalid_request", code: 50027,
			desc: "JWT token is invalid or malformed: the client assertion has no 'jti' claim; give each assertion a fresh GUID."}
	}
	// Entra's code for a wrong audience could not be confirmed; 50013 is
	// the code it gives for an assertion whose audience does not match.
	v1 := strings.TrimSuffix(endpoint, "/v2.0/token") + "/token"
	if !slices.ContainsFunc(c.audiences(), func(a string) bool { return a == endpoint || a == v1 }) {
		return bad(50013, fmt.Sprintf("Assertion audience claim does not match the required value. The audience in the assertion was '%s' and the expected audience is '%s'.", clipText(strings.Join(c.audiences(), ",")), endpoint))
	}
	now := e.now()
	exp, okExp := unixClaim(c.Exp)
	nbf, okNbf := unixClaim(c.Nbf)
	iat, okIat := unixClaim(c.Iat)
	format := func(t time.Time, ok bool) string {
		if !ok {
			return "(none)"
		}
		return t.UTC().Format(time.RFC3339)
	}
	if !okExp || !exp.After(now) || (okNbf && nbf.After(now.Add(entraClockSkew))) || (okIat && iat.After(now.Add(entraClockSkew))) {
		return bad(700024, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s.", now.UTC().Format(time.RFC3339), format(nbf, okNbf), format(exp, okExp)))
	}
	if app.Certificate == nil {
		return bad(700027, fmt.Sprintf("Client assertion contains an invalid signature. [Reason - The key was not found: app '%s' has no certificate registered.]", app.ClientID))
	}
	der := app.Certificate.Raw
	if t := c.header.X5t; t != "" && !sameThumbprint(t, sha1Sum(der)) {
		return bad(700027, fmt.Sprintf("Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '%s']", clipText(t)))
	}
	if t := c.header.X5tS256; t != "" && !sameThumbprint(t, sha256Sum(der)) {
		return bad(700027, fmt.Sprintf("Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '%s']", clipText(t)))
	}
	pub := app.Certificate.PublicKey.(*rsa.PublicKey)
	digest := sha256.Sum256(c.signed)
	var err error
	if c.header.Alg == "PS256" {
		err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], c.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	} else {
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], c.sig)
	}
	if err != nil {
		return bad(700027, "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value.]")
	}
	return nil
}

func sha1Sum(b []byte) []byte   { s := sha1.Sum(b); return s[:] } //nolint:gosec // a thumbprint
func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// sameThumbprint compares a thumbprint in base64url (as RFC 7515 has it)
// or standard base64 (as MSAL Go sends x5t#S256) with a digest.
func sameThumbprint(t string, sum []byte) bool {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(strings.TrimRight(t, "=")); err == nil && subtle.ConstantTimeCompare(b, sum) == 1 {
			return true
		}
	}
	return false
}

// accessClaims are the claims of the access tokens the tenant issues, in
// the v1.0 shape Dataverse receives. An app-only token has idtyp "app" and
// the oid of the environment's application user; a delegated one has
// idtyp "user", scp and the signed-in user's oid, upn and name.
type accessClaims struct {
	Aud      string `json:"aud"`
	Iss      string `json:"iss"`
	Iat      int64  `json:"iat"`
	Nbf      int64  `json:"nbf"`
	Exp      int64  `json:"exp"`
	AppID    string `json:"appid"`
	AppIDAcr string `json:"appidacr"`
	IDType   string `json:"idtyp"`
	Oid      string `json:"oid"`
	Sub      string `json:"sub"`
	Tid      string `json:"tid"`
	Ver      string `json:"ver"`
	Uti      string `json:"uti"`

	Scp        string   `json:"scp,omitempty"`
	Upn        string   `json:"upn,omitempty"`
	UniqueName string   `json:"unique_name,omitempty"`
	Name       string   `json:"name,omitempty"`
	Amr        []string `json:"amr,omitempty"`
}

// idClaims are the claims of a v2.0 ID token, for a request with openid.
type idClaims struct {
	Aud               string `json:"aud"`
	Iss               string `json:"iss"`
	Iat               int64  `json:"iat"`
	Nbf               int64  `json:"nbf"`
	Exp               int64  `json:"exp"`
	Sub               string `json:"sub"`
	Oid               string `json:"oid"`
	Tid               string `json:"tid"`
	Name              string `json:"name"`
	PreferredUsername string `json:"preferred_username"`
	Nonce             string `json:"nonce,omitempty"`
	Ver               string `json:"ver"`
}

// issue signs an access token for app and resource, valid for
// entraTokenLife by the server's clock.
func (e *entra) issue(app EntraApp, resource, method string) (string, *entraError) {
	now := e.now()
	sp := e.appObject
	return e.sign(accessClaims{
		Aud: resource, Iss: "https://sts.windows.net/" + e.tenant + "/",
		Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(entraTokenLife).Unix(),
		AppID: app.ClientID, AppIDAcr: method, IDType: "app", Oid: sp, Sub: sp,
		Tid: e.tenant, Ver: "1.0", Uti: newGUID(),
	})
}

// sign makes a JWT of claims signed RS256 with the tenant's key.
func (e *entra) sign(claims any) (string, *entraError) {
	header, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "RS256", "x5t": e.kid, "kid": e.kid})
	payload, _ := json.Marshal(claims)
	signed := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, e.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", &entraError{status: http.StatusInternalServerError, err: "server_error", code: 90100, desc: "The token could not be signed."}
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// validToken reports whether tok is an access token this tenant issued for
// the environment and it has not expired by the server's clock.
func (e *entra) validToken(tok string) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&e.key.PublicKey, crypto.SHA256, digest[:], sig) != nil {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c accessClaims
	if json.Unmarshal(payload, &c) != nil {
		return false
	}
	now := e.now().Unix()
	env, err := url.Parse(e.envURL())
	if err != nil {
		return false
	}
	aud, err := url.Parse(c.Aud)
	return err == nil && sameHost(aud.Host, env.Host) && c.Tid == e.tenant && now >= c.Nbf && now < c.Exp
}

// authorized reports whether a Web API request carries an accepted bearer
// token: the fixed one of WithBearerToken, or one the Entra tenant issued.
func (s *Server) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || got == "" {
		return false
	}
	if s.token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1 {
		return true
	}
	return s.entra != nil && s.entra.validToken(got)
}

// authorizationURI is what the Web API's 401 points clients to.
func (s *Server) authorizationURI() string {
	if u := s.EntraURL(); u != "" {
		return u + "/oauth2/authorize"
	}
	return "https://login.microsoftonline.com/common/oauth2/authorize"
}
