package dynamicstest_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/crmkit/crmkit/adapters/dynamics"
	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
)

const (
	webApp       = "44444444-4444-4444-8444-444444444444" // confidential, signs users in
	desktopApp   = "55555555-5555-4555-8555-555555555555" // public client
	webRedirect  = "https://app.example/auth/callback"
	webRedirect2 = "https://app.example/auth/other"
	userOID      = "66666666-6666-4666-8666-666666666666"
	userUPN      = "ada@contoso.onmicrosoft.com"
	declinerOID  = "77777777-7777-4777-8777-777777777777"
	declinerUPN  = "grace@contoso.onmicrosoft.com"
	testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-verifier"
)

// authCodeServer is a server whose tenant has a web app (secret and
// certificate), a desktop app (public), the daemon app of entraServer, and
// two users, the second of whom declines consent.
func authCodeServer(t *testing.T, cred credential, opts ...dynamicstest.Option) *dynamicstest.Server {
	t.Helper()
	opts = append([]dynamicstest.Option{
		dynamicstest.WithEntraUsers(
			dynamicstest.EntraUser{ObjectID: userOID, UserPrincipalName: userUPN, Name: "Ada Lovelace"},
			dynamicstest.EntraUser{ObjectID: declinerOID, UserPrincipalName: declinerUPN, DeclinesConsent: true}),
		dynamicstest.WithEntra(tenant,
			dynamicstest.EntraApp{ClientID: webApp, ClientSecret: secretValue, Certificate: cred.cert, RedirectURIs: []string{webRedirect, webRedirect2}},
			dynamicstest.EntraApp{ClientID: desktopApp, RedirectURIs: []string{"http://127.0.0.1/callback", "myapp://auth"}},
			dynamicstest.EntraApp{ClientID: secretApp, ClientSecret: secretValue}),
	}, opts...)
	return dynamicstest.New(t, opts...)
}

// browser is a client that trusts the tenant and does not follow
// redirects, so that a test sees where Entra sends the user.
func browser(srv *dynamicstest.Server) *http.Client {
	c := tlsClient(srv)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func s256(verifier string) string {
	s := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// authParams are a good authorization request for the web app, with PKCE
// for testVerifier; set overrides them (an empty value removes one).
func authParams(srv *dynamicstest.Server, set map[string]string) url.Values {
	q := url.Values{"client_id": {webApp}, "response_type": {"code"}, "redirect_uri": {webRedirect},
		"scope": {srv.EntraUserScope() + " offline_access openid"}, "state": {"state-1"}, "nonce": {"nonce-1"},
		"code_challenge": {s256(testVerifier)}, "code_challenge_method": {"S256"}}
	for k, v := range set {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return q
}

type authAnswer struct {
	status   int
	location string
	body     []byte
}

func authorize(t *testing.T, srv *dynamicstest.Server, q url.Values) authAnswer {
	t.Helper()
	resp, err := browser(srv).Get(srv.EntraAuthorizeURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return authAnswer{status: resp.StatusCode, location: resp.Header.Get("Location"), body: body}
}

// signIn runs the authorization request and returns the redirect's query.
func signIn(t *testing.T, srv *dynamicstest.Server, q url.Values) url.Values {
	t.Helper()
	a := authorize(t, srv, q)
	if a.status != http.StatusFound {
		t.Fatalf("authorize: %d %s, want 302", a.status, a.body)
	}
	u, err := url.Parse(a.location)
	if err != nil {
		t.Fatal(err)
	}
	if want := q.Get("redirect_uri"); !strings.HasPrefix(a.location, want+"?") && !strings.HasPrefix(want, "http://127.0.0.1") {
		t.Fatalf("redirected to %s, want %s", a.location, want)
	}
	if u.Query().Get("code") == "" {
		t.Fatalf("redirect %s has no code", a.location)
	}
	return u.Query()
}

// redeemForm is the web app's code redemption with its secret.
func redeemForm(code string, set map[string]string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "client_id": {webApp}, "client_secret": {secretValue},
		"code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {testVerifier}}
	for k, v := range set {
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
	}
	return f
}

func wantEntraError(t *testing.T, status int, body map[string]any, wantStatus int, wantErr string, wantCode int) {
	t.Helper()
	codes, _ := body["error_codes"].([]any)
	if status != wantStatus || body["error"] != wantErr || len(codes) != 1 || codes[0] != float64(wantCode) {
		t.Fatalf("got %d %v, want %d %s AADSTS%d", status, body, wantStatus, wantErr, wantCode)
	}
	if d, _ := body["error_description"].(string); !strings.HasPrefix(d, fmt.Sprintf("AADSTS%d: ", wantCode)) {
		t.Errorf("error_description = %q, want it to start with AADSTS%d", d, wantCode)
	}
	if _, ok := body["access_token"]; ok {
		t.Errorf("a refused request got a token: %v", body)
	}
}

func apiGet(t *testing.T, srv *dynamicstest.Server, token, path string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.APIURL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestEntraAuthCodeRoundTrip(t *testing.T) {
	srv := authCodeServer(t, newCredential(t))
	back := signIn(t, srv, authParams(srv, nil))
	if back.Get("state") != "state-1" || back.Get("session_state") == "" {
		t.Errorf("redirect query %v, want state-1 and a session_state", back)
	}
	if n := srv.Log().Count("authorize"); n != 1 {
		t.Errorf("log counted %d authorize requests, want 1", n)
	}

	status, body := postToken(t, srv, redeemForm(back.Get("code"), map[string]string{"scope": srv.EntraUserScope() + " offline_access"}))
	if status != http.StatusOK {
		t.Fatalf("code redemption: %d %v", status, body)
	}
	if body["token_type"] != "Bearer" || body["scope"] != srv.EntraUserScope() || body["expires_in"] != float64(3599) {
		t.Errorf("token answer %v, want a Bearer token for %s expiring in 3599s", body, srv.EntraUserScope())
	}
	at, _ := body["access_token"].(string)
	rt, _ := body["refresh_token"].(string)
	idt, _ := body["id_token"].(string)
	if rt == "" || idt == "" {
		t.Fatalf("token answer %v, want a refresh token (offline_access) and an ID token (openid)", body)
	}
	claims := jwksVerify(t, srv, at)
	want := map[string]any{"scp": "user_impersonation", "oid": userOID, "upn": userUPN, "name": "Ada Lovelace",
		"appid": webApp, "appidacr": "1", "idtyp": "user", "tid": tenant, "aud": strings.TrimSuffix(srv.EntraUserScope(), "/user_impersonation")}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("access token %s = %v, want %v", k, claims[k], v)
		}
	}
	if _, ok := claims["roles"]; ok {
		t.Errorf("a delegated token has roles: %v", claims)
	}
	id := jwksVerify(t, srv, idt)
	if id["aud"] != webApp || id["nonce"] != "nonce-1" || id["preferred_username"] != userUPN || id["iss"] != srv.EntraURL()+"/v2.0" || id["oid"] != userOID {
		t.Errorf("ID token claims %v", id)
	}

	// The delegated token opens the Web API, and the user is a member of
	// the environment.
	if status, who := apiGet(t, srv, at, "WhoAmI"); status != http.StatusOK || who["UserId"] == "" {
		t.Errorf("WhoAmI with the delegated token: %d %v", status, who)
	}
	status, users := apiGet(t, srv, at, "systemusers?$select=fullname&$filter=azureactivedirectoryobjectid%20eq%20"+userOID)
	if rows, _ := users["value"].([]any); status != http.StatusOK || len(rows) != 1 || rows[0].(map[string]any)["fullname"] != "Ada Lovelace" {
		t.Errorf("the signed-in user's systemuser: %d %v", status, users)
	}

	// A code is good once.
	status, body = postToken(t, srv, redeemForm(back.Get("code"), nil))
	wantEntraError(t, status, body, 400, "invalid_grant", 54005)

	// Refresh: a new access token and a new refresh token; the old refresh
	// token stays valid, as Entra leaves it.
	refresh := url.Values{"grant_type": {"refresh_token"}, "client_id": {webApp}, "client_secret": {secretValue},
		"refresh_token": {rt}, "scope": {srv.EntraUserScope() + " offline_access"}}
	status, body = postToken(t, srv, refresh)
	if status != http.StatusOK || body["refresh_token"] == "" || body["refresh_token"] == rt || body["access_token"] == at {
		t.Fatalf("refresh: %d %v, want a new access token and a new refresh token", status, body)
	}
	if c := jwksVerify(t, srv, body["access_token"].(string)); c["oid"] != userOID || c["scp"] != "user_impersonation" {
		t.Errorf("refreshed token claims %v", c)
	}
	if status, body = postToken(t, srv, refresh); status != http.StatusOK {
		t.Errorf("the old refresh token after a refresh: %d %v, want it still valid", status, body)
	}

	// Through golang.org/x/oauth2 and the Dynamics driver: the refresh
	// token is enough to work as the user.
	cfg := oauth2.Config{ClientID: webApp, ClientSecret: secretValue, RedirectURL: webRedirect,
		Scopes:   []string{srv.EntraUserScope(), "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: srv.EntraAuthorizeURL(), TokenURL: srv.EntraTokenURL(), AuthStyle: oauth2.AuthStyleInParams}}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, tlsClient(srv))
	before := srv.Log().Count("token")
	drv, err := dynamics.New(dynamics.WithBaseURL(srv.URL), dynamics.WithHTTPClient(srv.Client()),
		dynamics.WithTokenSource(cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rt})))
	if err != nil {
		t.Fatal(err)
	}
	if schema, err := drv.Describe(t.Context(), "account"); err != nil || schema.Object != "account" {
		t.Fatalf("Describe with a delegated token: %v %v", schema, err)
	}
	if n := srv.Log().Count("token") - before; n != 1 {
		t.Errorf("token requests = %d, want 1 refresh", n)
	}
}

func TestEntraAuthCodeWithOAuth2(t *testing.T) {
	srv := authCodeServer(t, newCredential(t))
	cfg := oauth2.Config{ClientID: webApp, ClientSecret: secretValue, RedirectURL: webRedirect,
		Scopes:   []string{srv.EntraUserScope(), "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: srv.EntraAuthorizeURL(), TokenURL: srv.EntraTokenURL(), AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	resp, err := browser(srv).Get(cfg.AuthCodeURL("xyz", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("state") != "xyz" {
		t.Fatalf("redirect %v %v", resp.Header.Get("Location"), err)
	}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, tlsClient(srv))
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("oauth2 Exchange: %v %v", tok, err)
	}
	_, err = cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || !strings.HasPrefix(re.ErrorDescription, "AADSTS54005:") {
		t.Errorf("second Exchange: %v, want invalid_grant AADSTS54005", err)
	}
}

func TestEntraAuthorizeErrors(t *testing.T) {
	srv := authCodeServer(t, newCredential(t))
	// Where the redirect URI cannot be trusted, or nobody can sign in,
	// Entra shows an error page: the emulator answers in place.
	inPlace := []struct {
		name string
		set  map[string]string
		err  string
		code int
	}{
		{"no client_id", map[string]string{"client_id": ""}, "invalid_request", 900144},
		{"unknown client", map[string]string{"client_id": "33333333-3333-4333-8333-333333333333"}, "unauthorized_client", 700016},
		{"no redirect_uri", map[string]string{"redirect_uri": ""}, "invalid_request", 900144},
		{"unregistered redirect_uri", map[string]string{"redirect_uri": "https://evil.example/auth/callback"}, "invalid_request", 50011},
		{"redirect_uri with a trailing slash", map[string]string{"redirect_uri": webRedirect + "/"}, "invalid_request", 50011},
		{"redirect_uri in other case", map[string]string{"redirect_uri": strings.ToUpper(webRedirect)}, "invalid_request", 50011},
		{"localhost for a 127.0.0.1 redirect", map[string]string{"client_id": desktopApp, "redirect_uri": "http://localhost:4321/callback"}, "invalid_request", 50011},
		{"app without redirect URIs", map[string]string{"client_id": secretApp}, "invalid_request", 50011},
		{"unknown login_hint", map[string]string{"login_hint": "nobody@contoso.onmicrosoft.com"}, "invalid_request", 50034},
	}
	for _, tt := range inPlace {
		t.Run(tt.name, func(t *testing.T) {
			a := authorize(t, srv, authParams(srv, tt.set))
			var body map[string]any
			_ = json.Unmarshal(a.body, &body)
			if a.location != "" {
				t.Errorf("redirected to %s, want an answer in place", a.location)
			}
			wantEntraError(t, a.status, body, 400, tt.err, tt.code)
		})
	}
	// The others go back to the app, with the state.
	redirected := []struct {
		name string
		set  map[string]string
		err  string
		code int
	}{
		{"implicit grant", map[string]string{"response_type": "token"}, "unsupported_response_type", 70005},
		{"no response_type", map[string]string{"response_type": ""}, "invalid_request", 900144},
		{"no scope", map[string]string{"scope": ""}, "invalid_request", 900144},
		{"another resource", map[string]string{"scope": "https://graph.microsoft.com/User.Read offline_access"}, "invalid_scope", 70011},
		{"OpenID scopes only", map[string]string{"scope": "openid profile offline_access"}, "invalid_scope", 70011},
		{"short S256 challenge", map[string]string{"code_challenge": "abc"}, "invalid_request", 501491},
		{"unknown challenge method", map[string]string{"code_challenge_method": "S512"}, "invalid_request", 9002313},
		{"unknown response_mode", map[string]string{"response_mode": "web_message"}, "invalid_request", 9002313},
		{"user declines consent", map[string]string{"login_hint": strings.ToUpper(declinerUPN)}, "access_denied", 65004},
	}
	for _, tt := range redirected {
		t.Run(tt.name, func(t *testing.T) {
			a := authorize(t, srv, authParams(srv, tt.set))
			if a.status != http.StatusFound || !strings.HasPrefix(a.location, webRedirect+"?") {
				t.Fatalf("got %d to %q %s, want a redirect to %s", a.status, a.location, a.body, webRedirect)
			}
			u, _ := url.Parse(a.location)
			q := u.Query()
			if q.Get("error") != tt.err || !strings.HasPrefix(q.Get("error_description"), fmt.Sprintf("AADSTS%d: ", tt.code)) ||
				q.Get("state") != "state-1" || q.Get("code") != "" {
				t.Errorf("redirect query %v, want error %s AADSTS%d and state-1", q, tt.err, tt.code)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodPut, srv.EntraAuthorizeURL(), nil)
	if resp, err := browser(srv).Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT authorize: %v %v, want 405", resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestEntraAuthorizeResponseModes(t *testing.T) {
	srv := authCodeServer(t, newCredential(t))
	// The code in the fragment.
	a := authorize(t, srv, authParams(srv, map[string]string{"response_mode": "fragment"}))
	before, frag, ok := strings.Cut(a.location, "#")
	if f, _ := url.ParseQuery(frag); a.status != http.StatusFound || !ok || before != webRedirect || f.Get("code") == "" || f.Get("state") != "state-1" {
		t.Errorf("fragment: %d %q", a.status, a.location)
	}
	// form_post: a page whose form posts the code to the redirect URI, with
	// the state escaped.
	a = authorize(t, srv, authParams(srv, map[string]string{"response_mode": "form_post", "state": `"><script>x</script>`}))
	page := string(a.body)
	code := regexp.MustCompile(`name="code" value="([^"]+)"`).FindStringSubmatch(page)
	if a.status != http.StatusOK || !strings.Contains(page, `action="`+webRedirect+`"`) || code == nil || strings.Contains(page, "<script>x") {
		t.Fatalf("form_post page: %d %s", a.status, page)
	}
	if status, body := postToken(t, srv, redeemForm(code[1], nil)); status != http.StatusOK {
		t.Errorf("the form_post code: %d %v", status, body)
	}
	// A loopback redirect URI matches on any port; a custom scheme is kept.
	for _, redirect := range []string{"http://127.0.0.1:49152/callback", "myapp://auth"} {
		a = authorize(t, srv, authParams(srv, map[string]string{"client_id": desktopApp, "redirect_uri": redirect}))
		if a.status != http.StatusFound || !strings.HasPrefix(a.location, redirect+"?code=") {
			t.Errorf("redirect to %s: %d %q", redirect, a.status, a.location)
		}
	}
	// POST works as GET.
	resp, err := browser(srv).PostForm(srv.EntraAuthorizeURL(), authParams(srv, nil))
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), webRedirect+"?") {
		t.Errorf("POST authorize: %v %v", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
}

func TestEntraCodeRedemption(t *testing.T) {
	cred := newCredential(t)
	clk := &clock{t: time.Now()}
	srv := authCodeServer(t, cred, dynamicstest.WithClock(clk.Now))
	code := signIn(t, srv, authParams(srv, nil)).Get("code")
	// Refusals that leave the code usable.
	tests := []struct {
		name   string
		form   url.Values
		status int
		err    string
		code   int
	}{
		{"wrong secret", redeemForm(code, map[string]string{"client_secret": "wrong"}), 401, "invalid_client", 7000215},
		{"no credential", redeemForm(code, map[string]string{"client_secret": ""}), 401, "invalid_client", 7000218},
		{"public client presents a secret", redeemForm(code, map[string]string{"client_id": desktopApp}), 401, "invalid_client", 700025},
		{"another app's code", redeemForm(code, map[string]string{"client_id": secretApp}), 400, "invalid_grant", 70000},
		{"unknown code", redeemForm("not-a-code", nil), 400, "invalid_grant", 70000},
		{"other redirect_uri", redeemForm(code, map[string]string{"redirect_uri": webRedirect2}), 400, "invalid_grant", 70000},
		{"no verifier", redeemForm(code, map[string]string{"code_verifier": ""}), 400, "invalid_grant", 50148},
		{"wrong verifier", redeemForm(code, map[string]string{"code_verifier": strings.Repeat("A", 43)}), 400, "invalid_grant", 501481},
		{"scope of another resource", redeemForm(code, map[string]string{"scope": "https://graph.microsoft.com/.default"}), 400, "invalid_scope", 70011},
		{"no code", redeemForm("", nil), 400, "invalid_request", 900144},
		{"no redirect_uri", redeemForm(code, map[string]string{"redirect_uri": ""}), 400, "invalid_request", 900144},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postToken(t, srv, tt.form)
			wantEntraError(t, status, body, tt.status, tt.err, tt.code)
		})
	}
	if status, body := postToken(t, srv, redeemForm(code, nil)); status != http.StatusOK {
		t.Fatalf("the code after refusals: %d %v, want it still good", status, body)
	}

	// A code expires after about ten minutes.
	code = signIn(t, srv, authParams(srv, nil)).Get("code")
	clk.Add(10 * time.Minute)
	status, body := postToken(t, srv, redeemForm(code, nil))
	wantEntraError(t, status, body, 400, "invalid_grant", 70008)

	// A certificate instead of the secret: appidacr 2.
	code = signIn(t, srv, authParams(srv, nil)).Get("code")
	f := redeemForm(code, map[string]string{"client_secret": "", "client_assertion_type": assertionTyp,
		"client_assertion": cred.assertion(t, "RS256", srv.EntraTokenURL(), clk.Now(), map[string]any{"iss": webApp, "sub": webApp})})
	if status, body := postToken(t, srv, f); status != http.StatusOK || jwksVerify(t, srv, body["access_token"].(string))["appidacr"] != "2" {
		t.Errorf("redemption with a client assertion: %d %v", status, body)
	}

	// Without PKCE, and without offline_access: no refresh token.
	code = signIn(t, srv, authParams(srv, map[string]string{"code_challenge": "", "code_challenge_method": "", "scope": srv.EntraUserScope()})).Get("code")
	if status, body := postToken(t, srv, redeemForm(code, map[string]string{"code_verifier": ""})); status != http.StatusOK || body["refresh_token"] != nil || body["id_token"] != nil {
		t.Errorf("redemption without PKCE or offline_access: %d %v, want a token and no refresh or ID token", status, body)
	}

	// A public client with a plain challenge (no method: plain, as Entra
	// reads it), redeemed without a credential: appidacr 0.
	plain := map[string]string{"client_id": desktopApp, "redirect_uri": "http://127.0.0.1:5000/callback", "code_challenge": testVerifier, "code_challenge_method": ""}
	code = signIn(t, srv, authParams(srv, plain)).Get("code")
	pub := redeemForm(code, map[string]string{"client_id": desktopApp, "client_secret": "", "redirect_uri": "http://127.0.0.1:5000/callback"})
	status, body = postToken(t, srv, url.Values{"grant_type": {"authorization_code"}, "client_id": {desktopApp}, "code": {code},
		"redirect_uri": {"http://127.0.0.1:5000/callback"}, "code_verifier": {s256(testVerifier)}})
	wantEntraError(t, status, body, 400, "invalid_grant", 501481)
	if status, body := postToken(t, srv, pub); status != http.StatusOK || jwksVerify(t, srv, body["access_token"].(string))["appidacr"] != "0" {
		t.Errorf("public client redemption: %d %v", status, body)
	}
	// A public client has no client credentials grant.
	status, body = postToken(t, srv, url.Values{"grant_type": {"client_credentials"}, "client_id": {desktopApp}, "scope": {srv.EntraScope()}})
	wantEntraError(t, status, body, 401, "invalid_client", 7000218)
}

func TestEntraCodeRedeemedOnce(t *testing.T) {
	srv := authCodeServer(t, newCredential(t))
	code := signIn(t, srv, authParams(srv, nil)).Get("code")
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	c := tlsClient(srv)
	for range 8 {
		wg.Go(func() {
			status := 0
			if resp, err := c.PostForm(srv.EntraTokenURL(), redeemForm(code, nil)); err == nil {
				status = resp.StatusCode
				resp.Body.Close()
			}
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[http.StatusOK] != 1 || statuses[http.StatusBadRequest] != 7 {
		t.Errorf("8 concurrent redemptions of one code: %v, want one 200 and seven 400", statuses)
	}
}

func TestEntraRefreshTokens(t *testing.T) {
	clk := &clock{t: time.Now()}
	srv := authCodeServer(t, newCredential(t), dynamicstest.WithClock(clk.Now))
	redeem := func(client, redirect string) string {
		t.Helper()
		back := signIn(t, srv, authParams(srv, map[string]string{"client_id": client, "redirect_uri": redirect}))
		f := redeemForm(back.Get("code"), map[string]string{"client_id": client, "redirect_uri": redirect})
		if client == desktopApp {
			f.Del("client_secret")
		}
		status, body := postToken(t, srv, f)
		rt, _ := body["refresh_token"].(string)
		if status != http.StatusOK || rt == "" {
			t.Fatalf("redemption: %d %v", status, body)
		}
		return rt
	}
	refresh := func(client, rt string) (int, map[string]any) {
		f := url.Values{"grant_type": {"refresh_token"}, "client_id": {client}, "refresh_token": {rt}}
		if client != desktopApp {
			f.Set("client_secret", secretValue)
		}
		return postToken(t, srv, f)
	}
	webRT, pubRT := redeem(webApp, webRedirect), redeem(desktopApp, "http://127.0.0.1:8400/callback")
	if status, body := refresh(desktopApp, pubRT); status != http.StatusOK {
		t.Errorf("public client refresh without a credential: %d %v", status, body)
	}
	status, body := refresh(desktopApp, webRT)
	wantEntraError(t, status, body, 400, "invalid_grant", 70000)
	status, body = refresh(webApp, "unknown-refresh-token")
	wantEntraError(t, status, body, 400, "invalid_grant", 70000)
	f := url.Values{"grant_type": {"refresh_token"}, "client_id": {webApp}, "refresh_token": {webRT}}
	status, body = postToken(t, srv, f)
	wantEntraError(t, status, body, 401, "invalid_client", 7000218)

	// Revoking the user's sessions refuses every refresh token issued so
	// far, the rotated ones too; a new sign-in works.
	status, body = refresh(webApp, webRT)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	newer := body["refresh_token"].(string)
	srv.RevokeEntraSessions(strings.ToUpper(userOID))
	for _, g := range [][2]string{{webApp, webRT}, {webApp, newer}, {desktopApp, pubRT}} {
		status, body = refresh(g[0], g[1])
		wantEntraError(t, status, body, 400, "invalid_grant", 50173)
	}
	webRT = redeem(webApp, webRedirect)

	// A refresh token lapses after 90 days.
	clk.Add(90*24*time.Hour - time.Second)
	if status, body = refresh(webApp, webRT); status != http.StatusOK {
		t.Fatalf("refresh on day 90: %d %v", status, body)
	}
	clk.Add(time.Second)
	status, body = refresh(webApp, webRT)
	wantEntraError(t, status, body, 400, "invalid_grant", 700082)
}

func TestEntraAuthCodeConfigErrors(t *testing.T) {
	u := dynamicstest.EntraUser{ObjectID: userOID, UserPrincipalName: userUPN}
	app := func(redirects ...string) dynamicstest.EntraApp {
		return dynamicstest.EntraApp{ClientID: webApp, RedirectURIs: redirects}
	}
	tests := []struct {
		name string
		opts []dynamicstest.Option
		want string
	}{
		{"users without a tenant", []dynamicstest.Option{dynamicstest.WithEntraUsers(u)}, "needs WithEntra"},
		{"object id not a GUID", []dynamicstest.Option{dynamicstest.WithEntra(tenant, app(webRedirect)), dynamicstest.WithEntraUsers(dynamicstest.EntraUser{ObjectID: "ada", UserPrincipalName: userUPN})}, "ObjectID"},
		{"no sign-in name", []dynamicstest.Option{dynamicstest.WithEntra(tenant, app(webRedirect)), dynamicstest.WithEntraUsers(dynamicstest.EntraUser{ObjectID: userOID})}, "UserPrincipalName"},
		{"user twice", []dynamicstest.Option{dynamicstest.WithEntra(tenant, app(webRedirect)), dynamicstest.WithEntraUsers(u, dynamicstest.EntraUser{ObjectID: declinerOID, UserPrincipalName: strings.ToUpper(userUPN)})}, "twice"},
		{"http redirect", []dynamicstest.Option{dynamicstest.WithEntra(tenant, app("http://app.example/cb"))}, "loopback"},
		{"redirect with a fragment", []dynamicstest.Option{dynamicstest.WithEntra(tenant, app(webRedirect+"#x"))}, "fragment"},
		{"relative redirect", []dynamicstest.Option{dynamicstest.WithEntra(tenant, app("/callback"))}, "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := dynamicstest.NewServer(tt.opts...)
			if err == nil {
				srv.Close()
				t.Fatalf("NewServer succeeded, want an error mentioning %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to mention %q", err, tt.want)
			}
		})
	}
	// A public client needs only redirect URIs, and the options may come in
	// either order.
	srv, err := dynamicstest.NewServer(dynamicstest.WithEntraUsers(u), dynamicstest.WithEntra(tenant, app("http://localhost/cb", "msal"+webApp+"://auth")))
	if err != nil {
		t.Fatalf("public client: %v", err)
	}
	srv.Close()
}

// FuzzEntraAuthorize feeds arbitrary authorization requests to the
// endpoint: it must never fail or panic, redirect only to a registered
// redirect URI, and answer everything else in Entra's error shape.
func FuzzEntraAuthorize(f *testing.F) {
	srv, err := dynamicstest.NewServer(
		dynamicstest.WithEntra(tenant, dynamicstest.EntraApp{ClientID: webApp, ClientSecret: secretValue, RedirectURIs: []string{webRedirect, "http://127.0.0.1/cb"}}),
		dynamicstest.WithEntraUsers(dynamicstest.EntraUser{ObjectID: userOID, UserPrincipalName: userUPN}))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Close)
	good := authParams(srv, nil).Encode()
	f.Add(good)
	f.Add(good + "&response_mode=form_post")
	f.Add(good + "&response_mode=fragment&code_challenge_method=plain")
	f.Add("client_id=" + webApp + "&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&response_type=code&scope=x")
	f.Add("client_id=%zz&redirect_uri=")
	f.Add(strings.ReplaceAll(good, "S256", "plain"))
	c := browser(srv)
	f.Fuzz(func(t *testing.T, query string) {
		if strings.ContainsFunc(query, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '#' }) {
			t.Skip() // a browser percent-encodes these; raw, they break the request line
		}
		resp, err := c.Get(srv.EntraAuthorizeURL() + "?" + query)
		if err != nil {
			t.Skip() // a query the client itself refuses to send
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		switch resp.StatusCode {
		case http.StatusFound:
			u, err := url.Parse(loc)
			if err != nil || !(strings.HasPrefix(loc, webRedirect) || u.Scheme == "http" && u.Hostname() == "127.0.0.1" && u.Path == "/cb") {
				t.Fatalf("redirected to %q, not a registered redirect URI", loc)
			}
		case http.StatusOK:
			if !strings.Contains(string(body), `<form method="POST"`) {
				t.Fatalf("200 without a form_post page: %s", body)
			}
		case http.StatusBadRequest:
			if loc != "" || !strings.Contains(string(body), `"error_codes"`) {
				t.Fatalf("400 not in Entra's shape: %q %s", loc, body)
			}
		default:
			t.Fatalf("status %d for %q: %s", resp.StatusCode, query, body)
		}
	})
}

// ExampleWithEntraUsers signs a user in with the authorization code flow
// and PKCE, through golang.org/x/oauth2, and works in the environment as
// that user with crmkit's Dynamics driver. The emulated tenant signs the
// user in without a page and redirects at once.
func ExampleWithEntraUsers() {
	const appID, redirect = "8f3c1a52-0d0e-4c57-9a1e-3f5d2b7c9e10", "https://app.example/callback"
	srv, err := dynamicstest.NewServer(
		dynamicstest.WithEntra("contoso.onmicrosoft.com",
			dynamicstest.EntraApp{ClientID: appID, ClientSecret: "example-secret", RedirectURIs: []string{redirect}}),
		dynamicstest.WithEntraUsers(dynamicstest.EntraUser{ObjectID: "0b7d4c1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e",
			UserPrincipalName: "ada@contoso.onmicrosoft.com", Name: "Ada Lovelace"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	cfg := oauth2.Config{ClientID: appID, ClientSecret: "example-secret", RedirectURL: redirect,
		Scopes:   []string{srv.EntraUserScope(), "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: srv.EntraAuthorizeURL(), TokenURL: srv.EntraTokenURL(), AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()

	// The "browser" goes to the authorization endpoint and is sent back to
	// the redirect URI with the code.
	entraHTTP := srv.EntraClient()
	browser := &http.Client{Transport: entraHTTP.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(cfg.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))

	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, entraHTTP)
	tok, err := cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		fmt.Println(err)
		return
	}
	drv, err := dynamics.New(dynamics.WithBaseURL(srv.URL), dynamics.WithHTTPClient(srv.Client()),
		dynamics.WithTokenSource(cfg.TokenSource(ctx, tok)))
	if err != nil {
		fmt.Println(err)
		return
	}
	schema, err := drv.Describe(context.Background(), "account")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(back.Query().Get("state"), tok.RefreshToken != "", schema.Object)
	// Output:
	// state-1 true account
}
