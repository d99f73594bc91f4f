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
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// EntraApp is a confidential client application registered in the
// emulated Microsoft Entra tenant of [WithEntra]: what an app registration
// with a client secret or an uploaded certificate is in a real tenant. Give
// it a secret, a certificate, or both.
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
}

// WithEntra adds a Microsoft Entra-style token endpoint for tenantID (a
// tenant GUID or a domain such as contoso.onmicrosoft.com) with apps as its
// confidential clients. It runs on its own TLS listener, because Microsoft's
// libraries (MSAL, azidentity) refuse an authority over plain http:
// [Server.EntraURL] is the authority and [Server.EntraCertPool] trusts its
// certificate. The Web API then requires a bearer token issued by it (or
// the token of [WithBearerToken], when that is set too), and refuses it once
// expired by the server's clock.
func WithEntra(tenantID string, apps ...EntraApp) Option {
	return func(c *config) {
		c.entra = &entraConfig{tenant: tenantID, apps: slices.Clone(apps)}
	}
}

type entraConfig struct {
	tenant string
	apps   []EntraApp
}

// Entra's lifetimes and limits.
const (
	entraTokenLife   = 3599 * time.Second // expires_in of a client credentials token
	entraClockSkew   = 5 * time.Minute    // how far ahead an assertion's nbf and iat may be
	entraMaxForm     = 1 << 20            // the largest token request body
	assertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

var tenantRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,254}$`)

// entra is the emulated Microsoft Entra tenant: its token endpoint, its
// OpenID configuration and the key that signs the access tokens it issues.
type entra struct {
	tenant string
	apps   map[string]EntraApp // by lower-cased client id
	key    *rsa.PrivateKey     // signs access tokens
	kid    string
	now    func() time.Time
	envURL func() string // the environment URL, for the scope check
	// appObject is the Entra object id of the environment's application
	// user, the oid of every token: all apps act as that user.
	appObject string
	ts        *httptest.Server
}

func newEntra(c *config, envURL func() string, appObject string) (*entra, error) {
	ec := c.entra
	if !tenantRE.MatchString(ec.tenant) {
		return nil, fmt.Errorf("dynamicstest: WithEntra: tenant id %q is not a GUID or a domain name: give one, such as contoso.onmicrosoft.com", clipText(ec.tenant))
	}
	if len(ec.apps) == 0 {
		return nil, errors.New("dynamicstest: WithEntra: register at least one EntraApp, with a client secret or a certificate")
	}
	e := &entra{tenant: ec.tenant, apps: map[string]EntraApp{}, now: c.now, envURL: envURL, appObject: appObject}
	for i, a := range ec.apps {
		id := strings.ToLower(strings.TrimSpace(a.ClientID))
		switch {
		case id == "":
			return nil, fmt.Errorf("dynamicstest: WithEntra: app %d has no ClientID", i)
		case a.ClientSecret == "" && a.Certificate == nil:
			return nil, fmt.Errorf("dynamicstest: WithEntra: app %s has neither a ClientSecret nor a Certificate: give it one to authenticate with", a.ClientID)
		}
		if _, dup := e.apps[id]; dup {
			return nil, fmt.Errorf("dynamicstest: WithEntra: app %s is registered twice", a.ClientID)
		}
		if a.Certificate != nil {
			if _, ok := a.Certificate.PublicKey.(*rsa.PublicKey); !ok {
				return nil, fmt.Errorf("dynamicstest: WithEntra: app %s: the certificate's key is %T; client assertions are verified with RSA keys, as Entra signs and verifies them", a.ClientID, a.Certificate.PublicKey)
			}
		}
		e.apps[id] = a
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("dynamicstest: WithEntra: generating the token signing key: %w", err)
	}
	e.key = key
	e.kid = base64.RawURLEncoding.EncodeToString(sha1Sum(x509.MarshalPKCS1PublicKey(&key.PublicKey)))
	return e, nil
}

// start serves the tenant on its own TLS listener, through the server's
// request log and fault injector (routes "openid-configuration", "keys" and
// "token").
func (e *entra) start(s *Server) {
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

func (e *entra) writeError(w http.ResponseWriter, ee *entraError) {
	trace, corr := newGUID(), newGUID()
	ts := e.now().UTC().Format("2006-01-02 15:04:05Z")
	desc := fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", ee.code, ee.desc, trace, corr, ts)
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
	default:
		e.writeError(w, &entraError{status: http.StatusNotFound, err: "invalid_request", code: 900561,
			desc: fmt.Sprintf("The emulated Entra tenant serves /%[1]s/v2.0/.well-known/openid-configuration, /%[1]s/discovery/v2.0/keys and /%[1]s/oauth2/v2.0/token; there is nothing at %[2]s.", e.tenant, clipText(r.URL.Path))})
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

// token serves the token endpoint: the client credentials grant, with a
// client secret or a client assertion.
func (e *entra) token(w http.ResponseWriter, r *http.Request, endpoint string) {
	r.Body = http.MaxBytesReader(w, r.Body, entraMaxForm)
	if err := r.ParseForm(); err != nil {
		e.writeError(w, &entraError{status: http.StatusBadRequest, err: "invalid_request", code: 900144,
			desc: "The request body must be application/x-www-form-urlencoded, of at most 1 MiB."})
		return
	}
	form := r.PostForm
	tok, ee := e.grant(form, r, endpoint)
	if ee != nil {
		e.writeError(w, ee)
		return
	}
	body, _ := json.Marshal(map[string]any{
		"token_type":     "Bearer",
		"expires_in":     int(entraTokenLife / time.Second),
		"ext_expires_in": int(entraTokenLife / time.Second),
		"access_token":   tok,
	})
	writeEntraJSON(w, http.StatusOK, body)
}

func (e *entra) grant(form url.Values, r *http.Request, endpoint string) (string, *entraError) {
	grant := form.Get("grant_type")
	switch grant {
	case "":
		return "", missingParam("grant_type")
	case "client_credentials":
	default:
		return "", &entraError{status: http.StatusBadRequest, err: "unsupported_grant_type", code: 70003,
			desc: fmt.Sprintf("The app requested an unsupported grant type '%s'. The emulated tenant supports client_credentials only.", clipText(grant))}
	}
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		// client_secret_basic: both parts are form-urlencoded (RFC 6749 2.3.1).
		uu, err1 := url.QueryUnescape(u)
		pp, err2 := url.QueryUnescape(p)
		if err1 != nil || err2 != nil || (clientID != "" && !strings.EqualFold(clientID, uu)) {
			return "", &entraError{status: http.StatusUnauthorized, err: "invalid_client", code: 7000215,
				desc: "Invalid client secret provided: the Authorization header is not a valid client_secret_basic credential for the client_id of the request."}
		}
		clientID, secret = uu, pp
	}
	assertion, assertionType := form.Get("client_assertion"), form.Get("client_assertion_type")
	var claims *assertionClaims
	if assertion != "" {
		if assertionType != assertionTypeJWT {
			return "", &entraError{status: http.StatusBadRequest, err: "invalid_request", code: 900144,
				desc: fmt.Sprintf("The request body must contain the following parameter: 'client_assertion_type' with the value '%s'.", assertionTypeJWT)}
		}
		var err error
		if claims, err = parseAssertion(assertion); err != nil {
			return "", &entraError{status: http.StatusBadRequest, err: "invalid_request", code: 50027,
				desc: "JWT token is invalid or malformed: " + err.Error()}
		}
		if clientID == "" {
			clientID = claims.Sub
		}
	}
	if clientID == "" {
		return "", missingParam("client_id")
	}
	app, ok := e.apps[strings.ToLower(clientID)]
	if !ok {
		return "", &entraError{status: http.StatusBadRequest, err: "unauthorized_client", code: 700016,
			desc: fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clipText(clientID), e.tenant)}
	}
	method := "1" // appidacr: 1 for a secret, 2 for a certificate
	switch {
	case secret != "" && assertion != "":
		return "", &entraError{status: http.StatusBadRequest, err: "invalid_request", code: 900023,
			desc: "Specified both client_secret and client_assertion: give one of them."}
	case secret != "":
		if app.ClientSecret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(app.ClientSecret)) != 1 {
			return "", &entraError{status: http.StatusUnauthorized, err: "invalid_client", code: 7000215,
				desc: fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", app.ClientID)}
		}
	case assertion != "":
		if ee := e.checkAssertion(app, claims, endpoint); ee != nil {
			return "", ee
		}
		method = "2"
	default:
		return "", &entraError{status: http.StatusUnauthorized, err: "invalid_client", code: 7000218,
			desc: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
	}
	resource, ee := e.checkScope(form.Get("scope"))
	if ee != nil {
		return "", ee
	}
	return e.issue(app, resource, method)
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
// the v1.0 shape Dataverse receives.
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
}

// issue signs an access token for app and resource, valid for
// entraTokenLife by the server's clock.
func (e *entra) issue(app EntraApp, resource, method string) (string, *entraError) {
	now := e.now()
	sp := e.appObject
	claims := accessClaims{
		Aud: resource, Iss: "https://sts.windows.net/" + e.tenant + "/",
		Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(entraTokenLife).Unix(),
		AppID: app.ClientID, AppIDAcr: method, IDType: "app", Oid: sp, Sub: sp,
		Tid: e.tenant, Ver: "1.0", Uti: newGUID(),
	}
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
