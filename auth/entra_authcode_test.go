package auth_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
	"github.com/crmkit/crmkit/auth"
)

const (
	entraWebApp     = "44444444-4444-4444-8444-444444444444"
	entraDesktopApp = "55555555-5555-4555-8555-555555555555"
	entraRedirect   = "https://app.example/auth/callback"
	entraUserOID    = "66666666-6666-4666-8666-666666666666"
)

// entraBrowser plays the user's browser: it trusts the emulated tenant and
// does not follow the redirect back to the app, so that the test reads the
// code from it.
func entraBrowser(srv *dynamicstest.Server) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: auth.TLSConfig(srv.EntraCertPool())},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// entraSignIn sends the browser to AuthCodeURL and returns the code and
// state of the redirect, checking that it goes back to the redirect URL.
func entraSignIn(t *testing.T, srv *dynamicstest.Server, flow auth.EntraAuthCode, state, verifier string) (code, gotState string) {
	t.Helper()
	resp, err := entraBrowser(srv).Get(flow.AuthCodeURL(state, verifier))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	u, err := url.Parse(loc)
	if err != nil || resp.StatusCode != http.StatusFound || u.Scheme+"://"+u.Host+u.Path != strings.SplitN(flow.RedirectURL, "?", 2)[0] {
		t.Fatalf("authorize: %s to %q, want a redirect to %s", resp.Status, loc, flow.RedirectURL)
	}
	code = u.Query().Get("code")
	if code == "" {
		t.Fatalf("redirect %q has no code: %s", loc, u.Query().Get("error_description"))
	}
	secret(code)
	return code, u.Query().Get("state")
}

func entraAuthCodeServer(t *testing.T, appSecret string) (*dynamicstest.Server, auth.EntraAuthCode) {
	t.Helper()
	_, cert := newCert(t)
	return entraAuthCodeServerWithCert(t, appSecret, cert)
}

func TestEntraAuthCode(t *testing.T) {
	key, cert := newCert(t)
	const appSecret = "entra-web-app-secret-value"
	secret(appSecret)
	srv, flow := entraAuthCodeServerWithCert(t, appSecret, cert)
	ctx := context.Background()

	// The authorization URL: Entra's v2.0 endpoint, the delegated
	// Dataverse scope with offline_access by default, PKCE S256.
	verifier, state := auth.NewVerifier(), auth.NewState()
	secret(verifier)
	u, err := url.Parse(flow.AuthCodeURL(state, verifier))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != srv.EntraAuthorizeURL() || q.Get("client_id") != entraWebApp || q.Get("response_type") != "code" ||
		q.Get("scope") != srv.EntraUserScope()+" offline_access" || q.Get("code_challenge") != auth.S256Challenge(verifier) ||
		q.Get("code_challenge_method") != "S256" || q.Get("redirect_uri") != entraRedirect || q.Get("state") != state {
		t.Errorf("AuthCodeURL = %s", u)
	}
	if got := auth.EntraUserScope("https://org.crm.dynamics.com/"); got != "https://org.crm.dynamics.com/user_impersonation" {
		t.Errorf("EntraUserScope: %s", got)
	}

	// The round trip: sign in, exchange, call the Web API, refresh.
	code, gotState := entraSignIn(t, srv, flow, state, verifier)
	if gotState != state {
		t.Errorf("state %q came back, want %q", gotState, state)
	}
	tok, err := flow.Exchange(ctx, code, verifier)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	secret(tok.AccessToken, tok.RefreshToken)
	if tok.RefreshToken == "" || tok.Expiry.IsZero() || tok.Scope != srv.EntraUserScope() {
		t.Fatalf("exchange gave %v, want a refresh token, an expiry and scope %s", tok, srv.EntraUserScope())
	}
	whoAmI := func(src auth.TokenSource) int {
		t.Helper()
		client := &http.Client{Transport: &auth.Transport{Source: src, Base: srv.Client().Transport}}
		resp, err := client.Get(srv.APIURL() + "WhoAmI")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := whoAmI(auth.Static(tok.AccessToken)); status != http.StatusOK {
		t.Errorf("WhoAmI with the delegated token: %d", status)
	}
	next, err := flow.Refresh(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	secret(next.AccessToken, next.RefreshToken)
	if next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Errorf("refresh gave the same tokens back")
	}
	// TokenSource refreshes and keeps the newest refresh token; the old one
	// still works at Entra, unlike at servers that rotate them.
	before := srv.Log().Count("token")
	if status := whoAmI(auth.Reuse(flow.TokenSource(tok.RefreshToken))); status != http.StatusOK {
		t.Errorf("WhoAmI through TokenSource: %d", status)
	}
	if n := srv.Log().Count("token") - before; n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}

	// A certificate instead of the secret, and a public client.
	withCert := flow
	withCert.ClientSecret, withCert.Certificate, withCert.Key = "", cert, key
	code, _ = entraSignIn(t, srv, withCert, auth.NewState(), verifier)
	if tok, err := withCert.Exchange(ctx, code, verifier); err != nil {
		t.Errorf("exchange with a certificate: %v", err)
	} else {
		secret(tok.AccessToken, tok.RefreshToken)
	}
	public := auth.EntraAuthCode{Authority: srv.EntraURL(), ClientID: entraDesktopApp, RedirectURL: "http://127.0.0.1:8400/callback",
		OrgURL: srv.URL, HTTPClient: flow.HTTPClient}
	code, _ = entraSignIn(t, srv, public, auth.NewState(), verifier)
	if tok, err := public.Exchange(ctx, code, verifier); err != nil {
		t.Errorf("public client exchange: %v", err)
	} else {
		secret(tok.AccessToken, tok.RefreshToken)
		if nt, err := public.Refresh(ctx, tok.RefreshToken); err != nil {
			t.Errorf("public client refresh: %v", err)
		} else {
			secret(nt.AccessToken, nt.RefreshToken)
		}
	}
}

// entraAuthCodeServerWithCert starts the emulator with a web app (secret
// and cert), a desktop app (public) and a user, and returns the web app's
// flow.
func entraAuthCodeServerWithCert(t *testing.T, appSecret string, cert *x509.Certificate) (*dynamicstest.Server, auth.EntraAuthCode) {
	t.Helper()
	app := dynamicstest.EntraApp{ClientID: entraWebApp, ClientSecret: appSecret, Certificate: cert,
		RedirectURIs: []string{entraRedirect, entraRedirect + "/other"}}
	srv := dynamicstest.New(t,
		dynamicstest.WithEntra("contoso.onmicrosoft.com", app,
			dynamicstest.EntraApp{ClientID: entraDesktopApp, RedirectURIs: []string{"http://127.0.0.1/callback"}}),
		dynamicstest.WithEntraUsers(dynamicstest.EntraUser{ObjectID: entraUserOID, UserPrincipalName: "ada@contoso.onmicrosoft.com"}))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: auth.TLSConfig(srv.EntraCertPool())}}
	return srv, auth.EntraAuthCode{Authority: srv.EntraURL(), ClientID: entraWebApp, ClientSecret: appSecret,
		RedirectURL: entraRedirect, OrgURL: srv.URL, HTTPClient: hc}
}

func TestEntraAuthCodeFailures(t *testing.T) {
	const appSecret = "entra-web-app-secret-2"
	secret(appSecret)
	srv, flow := entraAuthCodeServer(t, appSecret)
	ctx := context.Background()
	verifier := auth.NewVerifier()
	secret(verifier)
	// refused checks err: unauthorized, naming the flow, the AADSTS code
	// and a fix, and free of every credential the request carried.
	refused := func(t *testing.T, err error, flowName, aadsts string, creds ...string) {
		t.Helper()
		observeErr(err)
		var re *auth.RetrieveError
		if !auth.IsUnauthorized(err) || !errors.As(err, &re) || !strings.Contains(err.Error(), flowName) ||
			!strings.Contains(err.Error(), aadsts) || re.Hint == "" {
			t.Fatalf("got %v, want an unauthorized %s error with %s and a fix", err, flowName, aadsts)
		}
		for _, c := range creds {
			if strings.Contains(err.Error(), c) {
				t.Errorf("the error reveals a credential: %v", err)
			}
		}
	}

	t.Run("wrong secret", func(t *testing.T) {
		code, _ := entraSignIn(t, srv, flow, "s", verifier)
		bad := flow
		bad.ClientSecret = "not-the-entra-secret"
		secret(bad.ClientSecret)
		_, err := bad.Exchange(ctx, code, verifier)
		refused(t, err, "entra authorization code (secret)", "7000215", bad.ClientSecret, code, verifier)
		if !strings.Contains(err.Error(), "invalid_client") || !strings.Contains(err.Error(), "not its id") {
			t.Errorf("wrong secret: %v", err)
		}
	})
	t.Run("used code", func(t *testing.T) {
		code, _ := entraSignIn(t, srv, flow, "s", verifier)
		tok, err := flow.Exchange(ctx, code, verifier)
		if err != nil {
			t.Fatal(err)
		}
		secret(tok.AccessToken, tok.RefreshToken)
		_, err = flow.Exchange(ctx, code, verifier)
		refused(t, err, "entra authorization code", "54005", code, verifier, appSecret)
		if !strings.Contains(err.Error(), "good once") {
			t.Errorf("used code: the fix should say codes are good once: %v", err)
		}
	})
	t.Run("wrong verifier", func(t *testing.T) {
		code, _ := entraSignIn(t, srv, flow, "s", verifier)
		other := auth.NewVerifier()
		secret(other)
		_, err := flow.Exchange(ctx, code, other)
		refused(t, err, "entra authorization code", "501481", code, other, verifier, appSecret)
		_, err = flow.Exchange(ctx, code, "")
		refused(t, err, "entra authorization code", "50148", code, appSecret)
	})
	t.Run("wrong redirect_uri", func(t *testing.T) {
		code, _ := entraSignIn(t, srv, flow, "s", verifier)
		other := flow
		other.RedirectURL = entraRedirect + "/other" // registered, but not the one of the sign-in
		_, err := other.Exchange(ctx, code, verifier)
		refused(t, err, "entra authorization code", "70000", code, verifier, appSecret)
	})
	t.Run("confidential app as a public client", func(t *testing.T) {
		code, _ := entraSignIn(t, srv, flow, "s", verifier)
		public := flow
		public.ClientSecret = ""
		_, err := public.Exchange(ctx, code, verifier)
		refused(t, err, "entra authorization code (public client)", "7000218", code, verifier)
		if !strings.Contains(err.Error(), "set ClientSecret") {
			t.Errorf("the fix should name ClientSecret: %v", err)
		}
	})
	t.Run("revoked refresh token", func(t *testing.T) {
		code, _ := entraSignIn(t, srv, flow, "s", verifier)
		tok, err := flow.Exchange(ctx, code, verifier)
		if err != nil {
			t.Fatal(err)
		}
		secret(tok.AccessToken, tok.RefreshToken)
		srv.RevokeEntraSessions(entraUserOID)
		_, err = flow.Refresh(ctx, tok.RefreshToken)
		refused(t, err, "entra refresh token (secret)", "50173", tok.RefreshToken, appSecret)
		_, err = flow.TokenSource(tok.RefreshToken).Token(ctx)
		refused(t, err, "entra refresh token", "50173", tok.RefreshToken, appSecret)
		if !strings.Contains(err.Error(), "sign in again") {
			t.Errorf("the fix should say to sign in again: %v", err)
		}
	})
	t.Run("configuration", func(t *testing.T) {
		_, cert := newCert(t)
		for name, c := range map[string]auth.EntraAuthCode{
			"RedirectURL": {Authority: flow.Authority, ClientID: entraWebApp, OrgURL: srv.URL},
			"OrgURL":      {Authority: flow.Authority, ClientID: entraWebApp, RedirectURL: entraRedirect},
			"Authority":   {ClientID: entraWebApp, OrgURL: srv.URL, RedirectURL: entraRedirect},
			"Key":         {Authority: flow.Authority, ClientID: entraWebApp, OrgURL: srv.URL, RedirectURL: entraRedirect, Certificate: cert},
		} {
			_, err := c.Exchange(ctx, "some-code-value", "")
			observeErr(err)
			var re *auth.RetrieveError
			if !errors.As(err, &re) || auth.IsUnauthorized(err) || !strings.Contains(re.Hint, name) {
				t.Errorf("%s missing: %v, want a configuration error naming it", name, err)
			}
		}
	})
}

func TestEntraConfigsHideCredentials(t *testing.T) {
	key, cert := newCert(t)
	const appSecret = "entra-printed-secret-value"
	secret(appSecret)
	flow := auth.EntraAuthCode{Authority: auth.EntraLogin + "/contoso.onmicrosoft.com", ClientID: entraWebApp, ClientSecret: appSecret,
		RedirectURL: entraRedirect, OrgURL: "https://org.crm.dynamics.com"}
	withCert := flow
	withCert.ClientSecret, withCert.Certificate, withCert.Key = "", cert, key
	cc := auth.EntraClientCredentials{Authority: flow.Authority, ClientID: entraWebApp, ClientSecret: appSecret, Scopes: []string{auth.EntraScope(flow.OrgURL)}}
	log := testLogger()
	for _, v := range []any{flow, withCert, cc, &flow} {
		for _, out := range []string{fmt.Sprint(v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), fmt.Sprintf("%s", v)} {
			observe(out)
			if strings.Contains(out, appSecret) || strings.Contains(out, key.D.String()[:20]) {
				t.Errorf("output reveals a credential: %s", out)
			}
		}
		log.Info("config", "flow", v)
	}
	if s := fmt.Sprint(flow); !strings.Contains(s, "secret([REDACTED])") || !strings.Contains(s, "user_impersonation offline_access") {
		t.Errorf("String lost the useful fields: %s", s)
	}
	if s := fmt.Sprint(withCert); !strings.Contains(s, "certificate(x5t=") {
		t.Errorf("String should name the certificate by thumbprint: %s", s)
	}
}

// ExampleEntraAuthCode signs a user in to a Dataverse environment with
// Entra's authorization code flow and PKCE, then calls the Web API as that
// user, here against the emulated tenant of dynamicstest, which signs the
// user in without a page and redirects at once.
func ExampleEntraAuthCode() {
	const appID, redirect = "8f3c1a52-0d0e-4c57-9a1e-3f5d2b7c9e10", "https://app.example/callback"
	srv, err := dynamicstest.NewServer(
		dynamicstest.WithEntra("contoso.onmicrosoft.com",
			dynamicstest.EntraApp{ClientID: appID, ClientSecret: "example-secret", RedirectURIs: []string{redirect}}),
		dynamicstest.WithEntraUsers(dynamicstest.EntraUser{ObjectID: "0b7d4c1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e", UserPrincipalName: "ada@contoso.onmicrosoft.com"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	flow := auth.EntraAuthCode{
		Authority: srv.EntraURL(), // auth.EntraLogin + "/" + tenant for the real one
		ClientID:  appID, ClientSecret: "example-secret", RedirectURL: redirect,
		OrgURL:     srv.URL, // https://contoso.crm.dynamics.com for a real environment
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: auth.TLSConfig(srv.EntraCertPool())}},
	}

	// Keep state and verifier in the user's session, and send the browser
	// to the authorization URL.
	state, verifier := auth.NewState(), auth.NewVerifier()
	browser := &http.Client{Transport: flow.HTTPClient.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(flow.AuthCodeURL(state, verifier))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()

	// In the redirect handler: check the state, then exchange the code.
	back, _ := url.Parse(resp.Header.Get("Location"))
	if back.Query().Get("state") != state {
		fmt.Println("state mismatch: refuse the code")
		return
	}
	tok, err := flow.Exchange(context.Background(), back.Query().Get("code"), verifier)
	if err != nil {
		fmt.Println(err)
		return
	}

	// Work as the user from then on: the source refreshes with the
	// refresh token (store it; it is the user's grant).
	client := &http.Client{Transport: &auth.Transport{Source: auth.Reuse(flow.TokenSource(tok.RefreshToken)), Base: srv.Client().Transport}}
	who, err := client.Get(srv.APIURL() + "WhoAmI")
	if err != nil {
		fmt.Println(err)
		return
	}
	who.Body.Close()
	fmt.Println(who.Status)
	// Output:
	// 200 OK
}
