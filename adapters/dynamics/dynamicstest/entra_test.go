package dynamicstest_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t thumbprints are SHA-1
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/crmkit/crmkit/adapters/dynamics"
	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
	"github.com/crmkit/crmkit/crm"
)

const (
	tenant       = "contoso.onmicrosoft.com"
	secretApp    = "11111111-1111-4111-8111-111111111111"
	certApp      = "22222222-2222-4222-8222-222222222222"
	secretValue  = "s3cr3t~Value.With_Odd+Chars/="
	assertionTyp = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// credential is an RSA key with a self-signed certificate, as an app
// registration's uploaded certificate is.
type credential struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

func newCredential(t *testing.T) credential {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "crmkit test app"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return credential{key: key, cert: cert}
}

// assertion signs a client assertion with c's key; claims override the
// valid defaults (a nil value removes a claim).
func (c credential) assertion(t *testing.T, alg, aud string, now time.Time, claims map[string]any) string {
	t.Helper()
	sum := sha1.Sum(c.cert.Raw) //nolint:gosec // a thumbprint
	header, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "x5t": base64.RawURLEncoding.EncodeToString(sum[:])})
	body := map[string]any{
		"aud": aud, "iss": certApp, "sub": certApp, "jti": fmt.Sprint(now.UnixNano()),
		"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
	for k, v := range claims {
		if v == nil {
			delete(body, k)
			continue
		}
		body[k] = v
	}
	payload, _ := json.Marshal(body)
	signed := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signed))
	var sig []byte
	var err error
	if alg == "PS256" {
		sig, err = rsa.SignPSS(rand.Reader, c.key, crypto.SHA256, digest[:], nil)
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA256, digest[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// clock is a settable clock for the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func entraServer(t *testing.T, cred credential, opts ...dynamicstest.Option) *dynamicstest.Server {
	t.Helper()
	opts = append([]dynamicstest.Option{dynamicstest.WithEntra(tenant,
		dynamicstest.EntraApp{ClientID: secretApp, ClientSecret: secretValue},
		dynamicstest.EntraApp{ClientID: certApp, Certificate: cred.cert},
	)}, opts...)
	return dynamicstest.New(t, opts...)
}

// tlsClient trusts only the Entra tenant's certificate, as a client given
// the emulator's CA would.
func tlsClient(srv *dynamicstest.Server) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.EntraCertPool(), MinVersion: tls.VersionTLS12}}}
}

func getJSON(t *testing.T, c *http.Client, u string) map[string]any {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func postToken(t *testing.T, srv *dynamicstest.Server, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := tlsClient(srv).PostForm(srv.EntraTokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(raw), secretValue) {
		t.Errorf("the token endpoint's answer contains the client secret: %s", raw)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("token answer %q is not JSON: %v", raw, err)
	}
	return resp.StatusCode, m
}

func TestEntraDiscovery(t *testing.T) {
	srv := entraServer(t, newCredential(t))
	if !strings.HasPrefix(srv.EntraURL(), "https://127.0.0.1:") || !strings.HasSuffix(srv.EntraURL(), "/"+tenant) {
		t.Fatalf("EntraURL() = %q, want https://127.0.0.1:port/%s", srv.EntraURL(), tenant)
	}
	c := tlsClient(srv)
	doc := getJSON(t, c, srv.EntraURL()+"/v2.0/.well-known/openid-configuration")
	want := map[string]string{
		"issuer":                 srv.EntraURL() + "/v2.0",
		"token_endpoint":         srv.EntraTokenURL(),
		"authorization_endpoint": srv.EntraURL() + "/oauth2/v2.0/authorize",
		"jwks_uri":               srv.EntraURL() + "/discovery/v2.0/keys",
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s = %v, want %s", k, doc[k], v)
		}
	}
	jwks := getJSON(t, c, doc["jwks_uri"].(string))
	keys, _ := jwks["keys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("keys = %v, want one signing key", jwks)
	}
	if k := keys[0].(map[string]any); k["kty"] != "RSA" || k["kid"] == "" || k["n"] == "" {
		t.Errorf("key = %v, want an RSA key with kid and n", k)
	}

	// The wrong tenant is Entra's AADSTS90002.
	resp, err := c.Get(strings.Replace(srv.EntraURL(), tenant, "fabrikam.onmicrosoft.com", 1) + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown tenant: %s, want 400", resp.Status)
	}
	if n := srv.Log().Count("openid-configuration"); n != 2 {
		t.Errorf("log counted %d openid-configuration requests, want 2", n)
	}
}

// jwksVerify checks an access token's signature with the tenant's
// published keys, as a resource server would.
func jwksVerify(t *testing.T, srv *dynamicstest.Server, tok string) map[string]any {
	t.Helper()
	jwks := getJSON(t, tlsClient(srv), srv.EntraURL()+"/discovery/v2.0/keys")
	k := jwks["keys"].([]any)[0].(map[string]any)
	n, _ := base64.RawURLEncoding.DecodeString(k["n"].(string))
	e, _ := base64.RawURLEncoding.DecodeString(k["e"].(string))
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a JWT", tok)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("access token signature does not verify with the published key: %v", err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestEntraClientSecretWithDriver(t *testing.T) {
	srv := entraServer(t, newCredential(t))
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, tlsClient(srv))

	// Without a token the Web API answers 401, pointing at the tenant.
	bare, err := dynamics.New(dynamics.WithBaseURL(srv.URL), dynamics.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.Describe(t.Context(), "account"); crm.KindOf(err) != crm.KindUnauthorized {
		t.Fatalf("Describe without a token: %v (kind %v), want unauthorized", err, crm.KindOf(err))
	}

	doc := getJSON(t, tlsClient(srv), srv.EntraURL()+"/v2.0/.well-known/openid-configuration")
	cfg := clientcredentials.Config{
		ClientID:     strings.ToUpper(secretApp), // client ids match without regard to case
		ClientSecret: secretValue,
		TokenURL:     doc["token_endpoint"].(string),
		Scopes:       []string{srv.EntraScope()},
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	drv, err := dynamics.New(dynamics.WithBaseURL(srv.URL), dynamics.WithHTTPClient(srv.Client()), dynamics.WithTokenSource(cfg.TokenSource(ctx)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drv.Describe(t.Context(), "account"); err != nil {
		t.Fatalf("Describe with an Entra token: %v", err)
	}
	if _, err := drv.Describe(t.Context(), "contact"); err != nil {
		t.Fatalf("Describe with an Entra token: %v", err)
	}
	if n := srv.Log().Count("token"); n != 1 {
		t.Errorf("token requests = %d, want 1 (the token is cached)", n)
	}

	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 59*time.Minute {
		t.Errorf("token type %q expiring %v, want a Bearer token for 3599s", tok.TokenType, tok.Expiry)
	}
	if v, _ := tok.Extra("ext_expires_in").(float64); v != 3599 {
		t.Errorf("ext_expires_in = %v, want 3599", tok.Extra("ext_expires_in"))
	}
	claims := jwksVerify(t, srv, tok.AccessToken)
	if claims["appid"] != strings.ToUpper(secretApp) && claims["appid"] != secretApp {
		t.Errorf("appid = %v, want %s", claims["appid"], secretApp)
	}
	if claims["tid"] != tenant || claims["appidacr"] != "1" {
		t.Errorf("claims = %v, want tid %s and appidacr 1 (secret)", claims, tenant)
	}

	// HTTP Basic client authentication (client_secret_basic) works too.
	basic := cfg
	basic.AuthStyle = oauth2.AuthStyleInHeader
	if _, err := basic.Token(ctx); err != nil {
		t.Errorf("client_secret_basic: %v", err)
	}
}

func TestEntraClientAssertion(t *testing.T) {
	cred := newCredential(t)
	srv := entraServer(t, cred)
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, tlsClient(srv))
	for _, alg := range []string{"RS256", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			cfg := clientcredentials.Config{
				ClientID: certApp,
				TokenURL: srv.EntraTokenURL(),
				// MSAL adds the OpenID scopes to a confidential client's request.
				Scopes:    []string{srv.EntraScope(), "openid", "offline_access", "profile"},
				AuthStyle: oauth2.AuthStyleInParams,
				EndpointParams: url.Values{
					"client_assertion_type": {assertionTyp},
					"client_assertion":      {cred.assertion(t, alg, srv.EntraTokenURL(), time.Now(), nil)},
				},
			}
			tok, err := cfg.Token(ctx)
			if err != nil {
				t.Fatalf("client assertion refused: %v", err)
			}
			if c := jwksVerify(t, srv, tok.AccessToken); c["appidacr"] != "2" {
				t.Errorf("appidacr = %v, want 2 (certificate)", c["appidacr"])
			}
			req, _ := http.NewRequest(http.MethodGet, srv.APIURL()+"WhoAmI", nil)
			tok.SetAuthHeader(req)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var who map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&who)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || who["UserId"] != srv.ApplicationUserID() {
				t.Errorf("WhoAmI with the token: %s %v, want 200 and the application user", resp.Status, who)
			}
		})
	}
}

func TestEntraRefusals(t *testing.T) {
	cred, other := newCredential(t), newCredential(t)
	srv := entraServer(t, cred)
	scope := srv.EntraScope()
	now := time.Now()
	withAssertion := func(a string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {certApp}, "scope": {scope},
			"client_assertion_type": {assertionTyp}, "client_assertion": {a}}
	}
	tests := []struct {
		name   string
		form   url.Values
		status int
		err    string
		code   int
	}{
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {secretApp}, "client_secret": {"wrong"}, "scope": {scope}},
			401, "invalid_client", 7000215},
		{"secret for a certificate app", url.Values{"grant_type": {"client_credentials"}, "client_id": {certApp}, "client_secret": {secretValue}, "scope": {scope}},
			401, "invalid_client", 7000215},
		{"no credential", url.Values{"grant_type": {"client_credentials"}, "client_id": {secretApp}, "scope": {scope}},
			401, "invalid_client", 7000218},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"33333333-3333-4333-8333-333333333333"}, "client_secret": {secretValue}, "scope": {scope}},
			400, "unauthorized_client", 700016},
		{"wrong scope host", url.Values{"grant_type": {"client_credentials"}, "client_id": {secretApp}, "client_secret": {secretValue}, "scope": {"https://contoso.crm.dynamics.com/.default"}},
			400, "invalid_scope", 70011},
		{"delegated scope", url.Values{"grant_type": {"client_credentials"}, "client_id": {secretApp}, "client_secret": {secretValue}, "scope": {strings.TrimSuffix(scope, ".default") + "user_impersonation"}},
			400, "invalid_scope", 70011},
		{"no scope", url.Values{"grant_type": {"client_credentials"}, "client_id": {secretApp}, "client_secret": {secretValue}},
			400, "invalid_request", 900144},
		{"other grant", url.Values{"grant_type": {"password"}, "client_id": {secretApp}, "client_secret": {secretValue}, "scope": {scope}},
			400, "unsupported_grant_type", 70003},
		{"bad signature", withAssertion(other.assertion(t, "RS256", srv.EntraTokenURL(), now, nil)),
			401, "invalid_client", 700027},
		{"tampered signature", withAssertion(tampered(cred.assertion(t, "RS256", srv.EntraTokenURL(), now, nil), other.assertion(t, "RS256", srv.EntraTokenURL(), now, nil))),
			401, "invalid_client", 700027},
		{"expired assertion", withAssertion(cred.assertion(t, "RS256", srv.EntraTokenURL(), now, map[string]any{"exp": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Hour).Unix(), "iat": now.Add(-time.Hour).Unix()})),
			401, "invalid_client", 700024},
		{"assertion from the future", withAssertion(cred.assertion(t, "RS256", srv.EntraTokenURL(), now, map[string]any{"nbf": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()})),
			401, "invalid_client", 700024},
		{"wrong audience", withAssertion(cred.assertion(t, "RS256", "https://login.microsoftonline.com/"+tenant+"/oauth2/v2.0/token", now, nil)),
			401, "invalid_client", 50013},
		{"issuer is another app", withAssertion(cred.assertion(t, "RS256", srv.EntraTokenURL(), now, map[string]any{"iss": secretApp, "sub": secretApp})),
			401, "invalid_client", 700021},
		{"no jti", withAssertion(cred.assertion(t, "RS256", srv.EntraTokenURL(), now, map[string]any{"jti": nil})),
			400, "invalid_request", 50027},
		{"malformed assertion", withAssertion("not.a-jwt"),
			400, "invalid_request", 50027},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postToken(t, srv, tt.form)
			codes, _ := body["error_codes"].([]any)
			if status != tt.status || body["error"] != tt.err || len(codes) != 1 || codes[0] != float64(tt.code) {
				t.Fatalf("got %d %v, want %d %s AADSTS%v", status, body, tt.status, tt.err, tt.code)
			}
			if d, _ := body["error_description"].(string); !strings.HasPrefix(d, fmt.Sprintf("AADSTS%d: ", tt.code)) {
				t.Errorf("error_description = %q, want it to start with AADSTS%d", d, tt.code)
			}
			for _, k := range []string{"timestamp", "trace_id", "correlation_id"} {
				if s, _ := body[k].(string); s == "" {
					t.Errorf("%s missing from %v", k, body)
				}
			}
			if _, ok := body["access_token"]; ok {
				t.Errorf("a refused request got a token: %v", body)
			}
		})
	}

	// Through golang.org/x/oauth2 the code reaches the caller.
	cfg := clientcredentials.Config{ClientID: secretApp, ClientSecret: "wrong", TokenURL: srv.EntraTokenURL(), Scopes: []string{scope}, AuthStyle: oauth2.AuthStyleInParams}
	_, err := cfg.Token(context.WithValue(t.Context(), oauth2.HTTPClient, tlsClient(srv)))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || !strings.HasPrefix(re.ErrorDescription, "AADSTS7000215:") {
		t.Errorf("oauth2 error = %v, want invalid_client AADSTS7000215", err)
	}
}

// tampered returns a's header and claims with b's signature.
func tampered(a, b string) string {
	return a[:strings.LastIndex(a, ".")] + b[strings.LastIndex(b, "."):]
}

func TestEntraTokenExpiresByServerClock(t *testing.T) {
	clk := &clock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	srv := entraServer(t, newCredential(t), dynamicstest.WithClock(clk.Now))
	status, body := postToken(t, srv, url.Values{"grant_type": {"client_credentials"}, "client_id": {secretApp}, "client_secret": {secretValue}, "scope": {srv.URL + "/.default"}})
	if status != http.StatusOK || body["token_type"] != "Bearer" || body["expires_in"] != float64(3599) || body["ext_expires_in"] != float64(3599) {
		t.Fatalf("token: %d %v", status, body)
	}
	tok := body["access_token"].(string)
	whoami := func() *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.APIURL()+"WhoAmI", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := whoami(); r.StatusCode != http.StatusOK {
		t.Fatalf("fresh token: %s", r.Status)
	}
	clk.Add(3598 * time.Second)
	if r := whoami(); r.StatusCode != http.StatusOK {
		t.Fatalf("token 1s before expiry: %s", r.Status)
	}
	clk.Add(time.Second)
	r := whoami()
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token at expiry: %s, want 401", r.Status)
	}
	if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, "authorization_uri="+srv.EntraURL()) {
		t.Errorf("WWW-Authenticate = %q, want the emulated tenant as authorization_uri", h)
	}

	// A token altered in any byte is refused.
	status, body = postToken(t, srv, url.Values{"grant_type": {"client_credentials"}, "client_id": {secretApp}, "client_secret": {secretValue}, "scope": {srv.EntraScope()}})
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	tok = body["access_token"].(string)
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(payload), `"exp":`, `"exp":9`, 1)
	tok = parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
	if r := whoami(); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged token: %s, want 401", r.Status)
	}
}

func TestEntraIsTLSOnly(t *testing.T) {
	srv := entraServer(t, newCredential(t))
	plain := "http://" + strings.TrimPrefix(srv.EntraTokenURL(), "https://")
	resp, err := http.PostForm(plain, url.Values{"grant_type": {"client_credentials"}, "client_id": {secretApp}, "client_secret": {secretValue}, "scope": {srv.EntraScope()}})
	if err == nil {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(raw), "access_token") {
			t.Fatalf("plain http got %s %s, want a refusal", resp.Status, raw)
		}
	}
	cfg := clientcredentials.Config{ClientID: secretApp, ClientSecret: secretValue, TokenURL: plain, Scopes: []string{srv.EntraScope()}}
	if _, err := cfg.Token(t.Context()); err == nil {
		t.Fatal("a token over plain http, want an error")
	}
	// And an untrusting client refuses the emulator's certificate.
	if _, err := http.Get(srv.EntraURL() + "/v2.0/.well-known/openid-configuration"); err == nil {
		t.Error("the default client trusted the emulator's certificate")
	}
}

func TestEntraWithFixedToken(t *testing.T) {
	srv := entraServer(t, newCredential(t), dynamicstest.WithBearerToken("fixed-token"))
	_, body := postToken(t, srv, url.Values{"grant_type": {"client_credentials"}, "client_id": {secretApp}, "client_secret": {secretValue}, "scope": {srv.EntraScope()}})
	issued, _ := body["access_token"].(string)
	for tok, want := range map[string]int{"fixed-token": 200, issued: 200, "other": 401, "": 401} {
		req, _ := http.NewRequest(http.MethodGet, srv.APIURL()+"WhoAmI", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("token %.12q: %s, want %d", tok, resp.Status, want)
		}
	}
}

func TestWithEntraBadOptions(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecCert, _ := x509.ParseCertificate(der)
	tests := []struct {
		name string
		opt  dynamicstest.Option
		want string
	}{
		{"no tenant", dynamicstest.WithEntra("", dynamicstest.EntraApp{ClientID: secretApp, ClientSecret: "x"}), "tenant id"},
		{"tenant with a slash", dynamicstest.WithEntra("a/b", dynamicstest.EntraApp{ClientID: secretApp, ClientSecret: "x"}), "tenant id"},
		{"no apps", dynamicstest.WithEntra(tenant), "at least one"},
		{"no client id", dynamicstest.WithEntra(tenant, dynamicstest.EntraApp{ClientSecret: "x"}), "no ClientID"},
		{"no credential", dynamicstest.WithEntra(tenant, dynamicstest.EntraApp{ClientID: secretApp}), "neither"},
		{"twice", dynamicstest.WithEntra(tenant, dynamicstest.EntraApp{ClientID: secretApp, ClientSecret: "x"}, dynamicstest.EntraApp{ClientID: strings.ToUpper(secretApp), ClientSecret: "y"}), "twice"},
		{"ecdsa certificate", dynamicstest.WithEntra(tenant, dynamicstest.EntraApp{ClientID: certApp, Certificate: ecCert}), "RSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := dynamicstest.NewServer(tt.opt)
			if err == nil {
				srv.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), `"x"`) {
				t.Errorf("error %q, want it to mention %q and no secret", err, tt.want)
			}
		})
	}
}

func TestNewServerWithEntra(t *testing.T) {
	srv, err := dynamicstest.NewServer(dynamicstest.WithEntra(tenant, dynamicstest.EntraApp{ClientID: secretApp, ClientSecret: secretValue}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	status, body := postToken(t, srv, url.Values{"grant_type": {"client_credentials"}, "client_id": {secretApp}, "client_secret": {secretValue}, "scope": {srv.EntraScope()}})
	if status != http.StatusOK || body["access_token"] == "" {
		t.Fatalf("standalone token: %d %v", status, body)
	}
	if srv.EntraClient() == nil {
		t.Error("EntraClient() = nil")
	}
}
