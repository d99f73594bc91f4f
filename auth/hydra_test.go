package auth_test

// Tests against a real, independent OAuth 2.0 / OpenID Connect server: Ory
// Hydra, started by scripts/hydra.sh. They skip when it is not running,
// unless CRMKIT_REQUIRE_SERVERS=1 (CI), when they fail.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmkit/crmkit/auth"
)

const (
	envHydraPublic = "CRMKIT_TEST_HYDRA_PUBLIC_URL"
	envHydraAdmin  = "CRMKIT_TEST_HYDRA_ADMIN_URL"
	envRequire     = "CRMKIT_REQUIRE_SERVERS"
)

// serverEnv returns the values of the environment variables names, or
// skips the test when one is unset (failing it when CRMKIT_REQUIRE_SERVERS
// is 1, as in CI), saying how to start the server.
func serverEnv(t testing.TB, start string, names ...string) []string {
	t.Helper()
	var vals, missing []string
	for _, n := range names {
		v := os.Getenv(n)
		if v == "" {
			missing = append(missing, n)
		}
		vals = append(vals, v)
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s not set: start the server with %s", strings.Join(missing, ", "), start)
		if os.Getenv(envRequire) == "1" {
			t.Fatal(msg + " (" + envRequire + "=1 requires it)")
		}
		t.Skip(msg)
	}
	return vals
}

// hydra is the test's handle on the Hydra server: its public (OAuth) and
// admin (management) APIs.
type hydra struct {
	public, admin string
	provider      *auth.Provider
	http          *http.Client
}

func newHydra(t testing.TB) *hydra {
	t.Helper()
	env := serverEnv(t, "scripts/hydra.sh start, then source .tools/run/hydra.env", envHydraPublic, envHydraAdmin)
	h := &hydra{public: env[0], admin: env[1], http: &http.Client{Timeout: 30 * time.Second}}
	p, err := auth.Discover(context.Background(), h.public, h.http)
	if err != nil {
		t.Fatalf("discovering Hydra: %v", err)
	}
	h.provider = p
	return h
}

// adminJSON calls the admin API and decodes its JSON answer into out.
func (h *hydra) adminJSON(t testing.TB, method, path string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.admin+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatalf("hydra admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("hydra admin %s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("hydra admin %s %s: %v in %s", method, path, err, b)
		}
	}
}

// client creates a fresh OAuth client for one test, registers its secret
// with the leak scan, and deletes it when the test ends.
func (h *hydra) client(t testing.TB, spec map[string]any) (id, secretVal string) {
	t.Helper()
	spec["client_name"] = "crmkit " + t.Name()
	var out struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	h.adminJSON(t, http.MethodPost, "/admin/clients", spec, &out)
	secret(out.Secret)
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, h.admin+"/admin/clients/"+url.PathEscape(out.ID), nil)
		if resp, err := h.http.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	return out.ID, out.Secret
}

// authorize plays the user's browser through Hydra's authorization
// endpoint, accepting login (as subject) and consent (every requested
// scope) through the admin API as a login/consent app would, and returns
// the code from the redirect to flow.RedirectURL.
func (h *hydra) authorize(t testing.TB, flow *auth.AuthCodeFlow, state, verifier, subject string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := flow.AuthCodeURL(state, verifier)
	for range 10 {
		resp, err := browser.Get(next)
		if err != nil {
			t.Fatalf("authorize: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("authorize: %s answered %d without a redirect: %s", next, resp.StatusCode, b)
		}
		q := loc.Query()
		switch {
		case strings.HasPrefix(loc.String(), flow.RedirectURL):
			if e := q.Get("error"); e != "" {
				t.Fatalf("authorize: redirected with error %s: %s", e, q.Get("error_description"))
			}
			if q.Get("state") != state {
				t.Fatalf("authorize: state %q came back, want %q", q.Get("state"), state)
			}
			secret(q.Get("code"))
			return q.Get("code")
		case q.Get("login_challenge") != "":
			var out struct {
				RedirectTo string `json:"redirect_to"`
			}
			h.adminJSON(t, http.MethodPut, "/admin/oauth2/auth/requests/login/accept?login_challenge="+url.QueryEscape(q.Get("login_challenge")),
				map[string]any{"subject": subject}, &out)
			next = out.RedirectTo
		case q.Get("consent_challenge") != "":
			challenge := url.QueryEscape(q.Get("consent_challenge"))
			var req struct {
				Scopes   []string `json:"requested_scope"`
				Audience []string `json:"requested_access_token_audience"`
			}
			h.adminJSON(t, http.MethodGet, "/admin/oauth2/auth/requests/consent?consent_challenge="+challenge, nil, &req)
			var out struct {
				RedirectTo string `json:"redirect_to"`
			}
			h.adminJSON(t, http.MethodPut, "/admin/oauth2/auth/requests/consent/accept?consent_challenge="+challenge,
				map[string]any{"grant_scope": req.Scopes, "grant_access_token_audience": req.Audience}, &out)
			next = out.RedirectTo
		default:
			next = loc.String()
		}
	}
	t.Fatal("authorize: more than 10 redirects")
	return ""
}

// introspect asks the admin API whether token is active.
func (h *hydra) introspect(t testing.TB, token string) bool {
	t.Helper()
	resp, err := h.http.PostForm(h.admin+"/admin/oauth2/introspect", url.Values{"token": {token}})
	if err != nil {
		t.Fatalf("introspect: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("introspect: %d %v", resp.StatusCode, err)
	}
	return out.Active
}

// codeClient creates a confidential client for the authorization code and
// refresh token grants and returns the flow for it.
func (h *hydra) codeClient(t testing.TB, method string) *auth.AuthCodeFlow {
	t.Helper()
	const redirect = "http://127.0.0.1:9/crmkit/callback" // never opened: authorize stops at it
	id, sec := h.client(t, map[string]any{
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"scope": "openid offline_access crm.read", "redirect_uris": []string{redirect}, "token_endpoint_auth_method": method,
	})
	flow := h.provider.AuthCode(id, sec, redirect, "openid", "offline_access", "crm.read")
	flow.Auth = map[string]auth.ClientAuth{"client_secret_basic": auth.ClientSecretBasic, "client_secret_post": auth.ClientSecretPost}[method]
	return flow
}

// tokens runs the whole authorization code flow with PKCE and returns the
// token, registered with the leak scan.
func (h *hydra) tokens(t testing.TB, flow *auth.AuthCodeFlow) *auth.Token {
	t.Helper()
	verifier := auth.NewVerifier()
	secret(verifier)
	code := h.authorize(t, flow, auth.NewState(), verifier, "user@crmkit.example")
	tok, err := flow.Exchange(context.Background(), code, verifier)
	observeErr(err)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	secret(tok.AccessToken, tok.RefreshToken)
	if s, ok := tok.Extra["id_token"].(string); ok {
		secret(s)
	}
	return tok
}

func TestHydraDiscovery(t *testing.T) {
	h := newHydra(t)
	p := h.provider
	if p.TokenEndpoint != h.public+"/oauth2/token" || p.AuthorizationEndpoint != h.public+"/oauth2/auth" ||
		p.JWKSURI != h.public+"/.well-known/jwks.json" || p.RevocationEndpoint == "" {
		t.Errorf("discovered endpoints: %+v", p)
	}
	// The JWKS the document points at serves the ID-token signing keys.
	resp, err := h.http.Get(p.JWKSURI)
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	err = json.NewDecoder(resp.Body).Decode(&jwks)
	resp.Body.Close()
	if err != nil || len(jwks.Keys) == 0 || jwks.Keys[0].Kid == "" {
		t.Errorf("jwks at %s: %+v %v", p.JWKSURI, jwks, err)
	}
	// Hydra speaks for http://127.0.0.1:PORT; asking for it under another
	// name is refused: the document names a different issuer.
	other := strings.Replace(h.public, "127.0.0.1", "localhost", 1)
	_, err = auth.Discover(context.Background(), other, h.http)
	observeErr(err)
	if err == nil || !strings.Contains(err.Error(), "names the issuer") {
		t.Errorf("issuer mismatch: %v", err)
	}
	_, err = auth.Discover(context.Background(), h.public+"/no-such-tenant", h.http)
	observeErr(err)
	if err == nil || !strings.Contains(err.Error(), "answered 404") {
		t.Errorf("wrong issuer path: %v", err)
	}
}

func TestHydraClientCredentials(t *testing.T) {
	h := newHydra(t)
	ctx := context.Background()
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		t.Run(method, func(t *testing.T) {
			id, sec := h.client(t, map[string]any{"grant_types": []string{"client_credentials"},
				"scope": "crm.read crm.write", "token_endpoint_auth_method": method})
			cc := h.provider.ClientCredentials(id, sec, "crm.read")
			cc.Auth = map[string]auth.ClientAuth{"client_secret_basic": auth.ClientSecretBasic, "client_secret_post": auth.ClientSecretPost}[method]
			tok, err := auth.Reuse(cc.TokenSource()).Token(ctx)
			observeErr(err)
			if err != nil {
				t.Fatalf("token: %v", err)
			}
			secret(tok.AccessToken)
			if tok.Scope != "crm.read" || tok.Expiry.IsZero() || !h.introspect(t, tok.AccessToken) {
				t.Errorf("token %v: scope %q, want crm.read, active", tok, tok.Scope)
			}

			wrong := *cc
			wrong.ClientSecret = "not-the-secret-" + rand.Text()
			secret(wrong.ClientSecret)
			_, err = wrong.TokenSource().Token(ctx)
			observeErr(err)
			if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "invalid_client") ||
				!strings.Contains(err.Error(), "client credentials") || !strings.Contains(err.Error(), "fix:") {
				t.Errorf("wrong secret: %v", err)
			}
			// The other authentication method than the client registered.
			other := *cc
			other.Auth = map[auth.ClientAuth]auth.ClientAuth{auth.ClientSecretBasic: auth.ClientSecretPost, auth.ClientSecretPost: auth.ClientSecretBasic}[cc.Auth]
			_, err = other.TokenSource().Token(ctx)
			observeErr(err)
			if !auth.IsUnauthorized(err) {
				t.Errorf("%v for a %s client: %v", other.Auth, method, err)
			}
			// A scope the client may not have.
			greedy := *cc
			greedy.Scopes = []string{"crm.admin"}
			_, err = greedy.TokenSource().Token(ctx)
			observeErr(err)
			if err == nil || !strings.Contains(err.Error(), "invalid_scope") {
				t.Errorf("scope beyond the client's: %v", err)
			}
		})
	}
}

func TestHydraAuthCodePKCE(t *testing.T) {
	h := newHydra(t)
	ctx := context.Background()
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		t.Run(method, func(t *testing.T) {
			flow := h.codeClient(t, method)
			tok := h.tokens(t, flow)
			if tok.RefreshToken == "" || tok.Extra["id_token"] == nil || !h.introspect(t, tok.AccessToken) {
				t.Errorf("token %v: want a refresh token, an ID token and an active access token", tok)
			}

			// A code exchanged with another verifier is refused, and so is a
			// code used twice.
			verifier := auth.NewVerifier()
			code := h.authorize(t, flow, auth.NewState(), verifier, "user@crmkit.example")
			wrong := auth.NewVerifier()
			secret(verifier, wrong)
			_, err := flow.Exchange(ctx, code, wrong)
			observeErr(err)
			if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "authorization code") {
				t.Errorf("wrong verifier: %v", err)
			}
			code = h.authorize(t, flow, auth.NewState(), verifier, "user@crmkit.example")
			tok, err = flow.Exchange(ctx, code, verifier)
			if err != nil {
				t.Fatal(err)
			}
			secret(tok.AccessToken, tok.RefreshToken)
			_, err = flow.Exchange(ctx, code, verifier)
			observeErr(err)
			if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "invalid_grant") || strings.Contains(err.Error(), code) {
				t.Errorf("code used twice: %v", err)
			}
		})
	}
}

// Hydra rotates refresh tokens and, when a used one is replayed, revokes
// the whole chain: the behaviour Rotating exists to survive.
func TestHydraRefreshRotationAndReuse(t *testing.T) {
	h := newHydra(t)
	ctx := context.Background()
	flow := h.codeClient(t, "client_secret_basic")
	first := h.tokens(t, flow)

	second, err := flow.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	secret(second.AccessToken, second.RefreshToken)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken || !h.introspect(t, second.AccessToken) {
		t.Fatal("Hydra did not rotate the refresh token, or the new access token is not active")
	}
	// Replaying the used refresh token is refused ...
	_, err = flow.Refresh(ctx, first.RefreshToken)
	observeErr(err)
	if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "refresh token") || !strings.Contains(err.Error(), "fix:") {
		t.Errorf("replayed refresh token: %v", err)
	}
	// ... and revokes the chain: the current refresh token and its access
	// token are dead too.
	_, err = flow.Refresh(ctx, second.RefreshToken)
	observeErr(err)
	if !auth.IsUnauthorized(err) {
		t.Errorf("refresh token after the chain was revoked: %v", err)
	}
	if h.introspect(t, second.AccessToken) {
		t.Error("the access token survived the revocation of its chain")
	}

	// A refresh token revoked through the revocation endpoint (RFC 7009).
	third := h.tokens(t, flow)
	form := url.Values{"token": {third.RefreshToken}, "token_type_hint": {"refresh_token"}}
	req, _ := http.NewRequest(http.MethodPost, h.provider.RevocationEndpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(flow.ClientID), url.QueryEscape(flow.ClientSecret))
	resp, err := h.http.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	_, err = flow.TokenSource(third.RefreshToken).Token(ctx)
	observeErr(err)
	if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("revoked refresh token: %v", err)
	}
	// A wrong client secret on an otherwise good refresh.
	fourth := h.tokens(t, flow)
	bad := *flow
	bad.ClientSecret = "wrong-client-secret-" + rand.Text()
	secret(bad.ClientSecret)
	_, err = bad.Refresh(ctx, fourth.RefreshToken)
	observeErr(err)
	if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("wrong secret on refresh: %v", err)
	}
}

// jwk is the public half of key as a JSON Web Key.
func jwk(key *rsa.PrivateKey, kid string) map[string]any {
	enc := base64.RawURLEncoding
	return map[string]any{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
		"n": enc.EncodeToString(key.N.Bytes()), "e": enc.EncodeToString(big.NewInt(int64(key.E)).Bytes())}
}

// RFC 7523: Hydra trusts a key for an issuer and subject; the client
// authenticates and presents an assertion signed with that key.
func TestHydraJWTBearer(t *testing.T) {
	h := newHydra(t)
	ctx := context.Background()
	key, _ := newCert(t)
	issuer := "https://issuer.crmkit.example/" + rand.Text()
	kid := "key-" + rand.Text()
	var grant struct {
		ID string `json:"id"`
	}
	h.adminJSON(t, http.MethodPost, "/admin/trust/grants/jwt-bearer/issuers", map[string]any{
		"issuer": issuer, "subject": "etl-service", "scope": []string{"crm.read"}, "jwk": jwk(key, kid),
		"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	}, &grant)
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, h.admin+"/admin/trust/grants/jwt-bearer/issuers/"+grant.ID, nil)
		if resp, err := h.http.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	id, sec := h.client(t, map[string]any{"grant_types": []string{"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"scope": "crm.read", "token_endpoint_auth_method": "client_secret_basic"})
	jb := h.provider.JWTBearer(id, sec, "crm.read")
	jb.Issuer, jb.Subject, jb.Key, jb.KeyID = issuer, "etl-service", key, kid
	tok, err := jb.TokenSource().Token(ctx)
	observeErr(err)
	if err != nil {
		t.Fatalf("JWT bearer: %v", err)
	}
	secret(tok.AccessToken)
	if !h.introspect(t, tok.AccessToken) || tok.Scope != "crm.read" {
		t.Errorf("token %v: want active with scope crm.read", tok)
	}
	// Each call signs a new assertion with a new jti, so a second token
	// comes without a replay error.
	if _, err := jb.TokenSource().Token(ctx); err != nil {
		t.Errorf("second assertion: %v", err)
	}

	expired := *jb
	expired.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	_, err = expired.TokenSource().Token(ctx)
	observeErr(err)
	if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "JWT bearer") || !strings.Contains(err.Error(), "fix:") {
		t.Errorf("expired assertion: %v", err)
	}
	otherKey, _ := newCert(t)
	forged := *jb
	forged.Key = otherKey
	_, err = forged.TokenSource().Token(ctx)
	observeErr(err)
	if !auth.IsUnauthorized(err) {
		t.Errorf("assertion signed with an untrusted key: %v", err)
	}
	stranger := *jb
	stranger.Subject = "someone-else"
	_, err = stranger.TokenSource().Token(ctx)
	observeErr(err)
	if !auth.IsUnauthorized(err) {
		t.Errorf("subject not covered by the trust: %v", err)
	}
	noClient := *jb
	noClient.ClientSecret = "wrong-jwt-client-secret-" + rand.Text()
	secret(noClient.ClientSecret)
	_, err = noClient.TokenSource().Token(ctx)
	observeErr(err)
	if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("wrong client secret: %v", err)
	}
}

// Transport over Reuse over a Hydra flow: an API that checks tokens by
// introspection accepts the request, and a token Hydra revoked is
// replaced after one 401.
func TestHydraTransport(t *testing.T) {
	h := newHydra(t)
	id, sec := h.client(t, map[string]any{"grant_types": []string{"client_credentials"},
		"scope": "crm.read", "token_endpoint_auth_method": "client_secret_basic"})
	cc := h.provider.ClientCredentials(id, sec, "crm.read")
	src := auth.Reuse(cc.TokenSource(), auth.WithLogger(testLogger()))
	api := newIntrospectingAPI(t, h)
	client := &http.Client{Transport: &auth.Transport{Source: src}}
	get := func() int {
		resp, err := client.Get(api.URL)
		observeErr(err)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != 200 {
		t.Fatalf("first call: %d", got)
	}
	tok, _ := src.Token(context.Background())
	secret(tok.AccessToken)
	// Revoke the cached token at Hydra: the API now refuses it, Transport
	// invalidates, fetches a new one and retries.
	form := url.Values{"token": {tok.AccessToken}}
	req, _ := http.NewRequest(http.MethodPost, h.provider.RevocationEndpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(sec))
	resp, err := h.http.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	if got := get(); got != 200 {
		t.Fatalf("after revocation: %d, want 200 after one refresh", got)
	}
	again, _ := src.Token(context.Background())
	secret(again.AccessToken)
	if again.AccessToken == tok.AccessToken || api.refused.Load() != 1 {
		t.Errorf("the revoked token was not replaced (API refused %d requests)", api.refused.Load())
	}
}

// introspectingAPI is a resource server that accepts a bearer token only
// while Hydra's introspection says it is active.
type introspectingAPI struct {
	*httptest.Server
	refused atomic.Int32
}

func newIntrospectingAPI(t *testing.T, h *hydra) *introspectingAPI {
	api := &introspectingAPI{}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !h.introspect(t, tok) {
			api.refused.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(api.Close)
	return api
}
