package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/auth"
)

const sfUser = "integration@crmkit.example"

func TestSalesforceFlows(t *testing.T) {
	key, cert := newCert(t)
	const secretVal = "sf-consumer-secret-123"
	secret(secretVal)
	org := salesforcetest.New(t, salesforcetest.WithConnectedApp(salesforcetest.ConnectedApp{
		ClientID: "sf-client", ClientSecret: secretVal, Certificate: cert}))
	ctx := context.Background()

	jwt := auth.SalesforceJWT{LoginURL: org.URL, ClientID: "sf-client", Username: sfUser, Key: key, HTTPClient: org.Client()}
	tok, err := auth.Reuse(jwt.TokenSource()).Token(ctx)
	if err != nil {
		t.Fatalf("JWT bearer: %v", err)
	}
	secret(tok.AccessToken)
	if tok.InstanceURL != org.URL {
		t.Errorf("instance_url %q, want %q", tok.InstanceURL, org.URL)
	}
	// The token works against the org's API, through Transport.
	client := &http.Client{Transport: &auth.Transport{Source: auth.Static(tok.AccessToken), Base: org.Client().Transport}}
	resp, err := client.Get(org.URL + "/services/data/v63.0/limits")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("API call with the JWT token: %v %v", resp, err)
	}
	resp.Body.Close()

	// An assertion whose exp is long past is refused as unauthorized.
	expired := jwt
	expired.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	_, err = expired.TokenSource().Token(ctx)
	observeErr(err)
	if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "salesforce JWT bearer") || !strings.Contains(err.Error(), "fix:") {
		t.Errorf("expired assertion: %v", err)
	}
	// A key that is not the app's certificate's.
	other, _ := newCert(t)
	wrong := jwt
	wrong.Key = other
	_, err = wrong.TokenSource().Token(ctx)
	observeErr(err)
	if !auth.IsUnauthorized(err) {
		t.Errorf("wrong key: %v", err)
	}

	// Client credentials, with the right and a wrong secret.
	cc := auth.SalesforceClientCredentials{LoginURL: org.URL, ClientID: "sf-client", ClientSecret: secretVal, HTTPClient: org.Client()}
	tok, err = cc.TokenSource().Token(ctx)
	if err != nil || tok.InstanceURL != org.URL {
		t.Fatalf("client credentials: %v %v", tok, err)
	}
	secret(tok.AccessToken)
	cc.ClientSecret = "wrong-secret-value"
	secret(cc.ClientSecret)
	_, err = cc.TokenSource().Token(ctx)
	observeErr(err)
	if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("wrong secret: %v", err)
	}

	// Refresh token, then revoked.
	rt, err := org.IssueRefreshToken("sf-client", sfUser)
	if err != nil {
		t.Fatal(err)
	}
	secret(rt)
	flow := auth.SalesforceWebServer(org.URL, "sf-client", secretVal, "https://app.example/cb")
	flow.HTTPClient = org.Client()
	tok, err = flow.TokenSource(rt).Token(ctx)
	if err != nil || tok.InstanceURL != org.URL || tok.RefreshToken != rt {
		t.Fatalf("refresh: %v %v", tok, err)
	}
	secret(tok.AccessToken)
	org.RevokeRefreshToken(rt)
	_, err = flow.Refresh(ctx, rt)
	observeErr(err)
	if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "salesforce refresh token") {
		t.Errorf("revoked refresh token: %v", err)
	}
}

// The Salesforce emulator has no authorize endpoint, so the web server
// flow's PKCE exchange is checked against a small server that verifies S256.
func TestAuthCodePKCE(t *testing.T) {
	const code = "auth-code-abcdef"
	secret(code)
	var challenge string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("code") != code || auth.S256Challenge(r.PostForm.Get("code_verifier")) != challenge {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"PKCE verification failed"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"pkce-access-token","refresh_token":"pkce-refresh-token","instance_url":"https://na1.example","token_type":"Bearer"}`))
	}))
	defer srv.Close()
	secret("pkce-access-token", "pkce-refresh-token")
	flow := auth.SalesforceWebServer(srv.URL, "cid", "", "https://app.example/cb", "api", "refresh_token")
	flow.HTTPClient = srv.Client()
	verifier := auth.NewVerifier()
	secret(verifier)
	u, err := url.Parse(flow.AuthCodeURL("state-1", verifier))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	challenge = q.Get("code_challenge")
	if q.Get("code_challenge_method") != "S256" || challenge != auth.S256Challenge(verifier) || q.Get("state") != "state-1" ||
		q.Get("scope") != "api refresh_token" || u.Path != "/services/oauth2/authorize" {
		t.Errorf("auth code URL: %s", u)
	}
	tok, err := flow.Exchange(context.Background(), code, verifier)
	if err != nil || tok.InstanceURL != "https://na1.example" || tok.RefreshToken != "pkce-refresh-token" {
		t.Fatalf("exchange: %v %v", tok, err)
	}
	_, err = flow.Exchange(context.Background(), code, auth.NewVerifier())
	observeErr(err)
	if !auth.IsUnauthorized(err) || strings.Contains(err.Error(), code) {
		t.Errorf("wrong verifier: %v", err)
	}
}

func TestEntraClientCredentials(t *testing.T) {
	key, cert := newCert(t)
	const appSecret = "entra-client-secret-xyz"
	secret(appSecret)
	srv := dynamicstest.New(t, dynamicstest.WithEntra("contoso.onmicrosoft.com",
		dynamicstest.EntraApp{ClientID: "11111111-2222-3333-4444-555555555555", ClientSecret: appSecret, Certificate: cert}))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: auth.TLSConfig(srv.EntraCertPool())}}
	base := auth.EntraClientCredentials{Authority: srv.EntraURL(), ClientID: "11111111-2222-3333-4444-555555555555",
		Scopes: []string{srv.EntraScope()}, HTTPClient: hc}
	ctx := context.Background()

	withSecret := base
	withSecret.ClientSecret = appSecret
	withCert := base
	withCert.Certificate, withCert.Key = cert, key
	for name, c := range map[string]auth.EntraClientCredentials{"secret": withSecret, "certificate": withCert} {
		tok, err := c.TokenSource().Token(ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		secret(tok.AccessToken)
		if tok.Expiry.IsZero() {
			t.Errorf("%s: no expiry from expires_in", name)
		}
		// The token opens the Web API.
		client := &http.Client{Transport: &auth.Transport{Source: auth.Reuse(c.TokenSource()), Base: srv.Client().Transport}}
		resp, err := client.Get(srv.APIURL() + "WhoAmI")
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: WhoAmI: %v %v", name, resp, err)
		} else {
			resp.Body.Close()
		}
	}

	wrong := withSecret
	wrong.ClientSecret = "not-the-secret-value"
	secret(wrong.ClientSecret)
	_, err := wrong.TokenSource().Token(ctx)
	observeErr(err)
	if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "entra client credentials (secret)") {
		t.Errorf("wrong secret: %v", err)
	}
	expired := withCert
	expired.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	_, err = expired.TokenSource().Token(ctx)
	observeErr(err)
	if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "700024") {
		t.Errorf("expired assertion: %v", err)
	}
	if got := auth.EntraScope("https://org.crm.dynamics.com/"); got != "https://org.crm.dynamics.com/.default" {
		t.Errorf("EntraScope: %s", got)
	}
}

func TestHubSpotFlows(t *testing.T) {
	const appSecret = "hubspot-client-secret"
	secret(appSecret)
	srv := hubspottest.New(t, hubspottest.WithApp("hs-client", appSecret, "https://app.example/cb"))
	flow := auth.HubSpotApp(srv.URL, "hs-client", appSecret, "https://app.example/cb", "crm.objects.contacts.read")
	flow.HTTPClient = srv.Client()
	ctx := context.Background()
	code := srv.AuthorizationCode("https://app.example/cb", "crm.objects.contacts.read")
	secret(code)
	tok, err := flow.Exchange(ctx, code, "")
	if err != nil || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("exchange: %v %v", tok, err)
	}
	secret(tok.AccessToken, tok.RefreshToken)
	_, err = flow.Exchange(ctx, code, "")
	observeErr(err)
	if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "BAD_AUTH_CODE") {
		t.Errorf("reused code: %v", err)
	}
	again, err := flow.TokenSource(tok.RefreshToken).Token(ctx)
	if err != nil || again.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: %v %v", again, err)
	}
	secret(again.AccessToken)
	bad := *flow
	bad.ClientSecret = "wrong-hubspot-secret"
	secret(bad.ClientSecret)
	_, err = bad.Refresh(ctx, tok.RefreshToken)
	observeErr(err)
	if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "hubspot refresh token") {
		t.Errorf("wrong secret: %v", err)
	}
	_, err = flow.Refresh(ctx, "unknown-refresh-token")
	observeErr(err)
	if !auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "BAD_REFRESH_TOKEN") {
		t.Errorf("unknown refresh token: %v", err)
	}
}
