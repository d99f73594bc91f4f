package auth_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmkit/crmkit/auth"
)

// Discover refuses documents a client must not trust, against a real TLS
// server (no Hydra needed).
func TestDiscoverRefusesUnsafeDocuments(t *testing.T) {
	var doc string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != auth.DiscoveryPath {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(strings.ReplaceAll(doc, "ISSUER", "https://"+r.Host)))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	defer srv.Close()
	ctx := context.Background()
	for _, c := range []struct{ name, doc, want string }{
		{"other issuer", `{"issuer":"https://idp.other.example","token_endpoint":"ISSUER/token"}`, "names the issuer"},
		{"plain http endpoint", `{"issuer":"ISSUER","token_endpoint":"http://idp.example.com/token"}`, "token_endpoint \"http://idp.example.com/token\" is plain http"},
		{"plain http jwks", `{"issuer":"ISSUER","token_endpoint":"ISSUER/token","jwks_uri":"http://idp.example.com/keys"}`, "jwks_uri"},
		{"relative endpoint", `{"issuer":"ISSUER","token_endpoint":"/token"}`, "not an absolute URL"},
		{"no token endpoint", `{"issuer":"ISSUER","authorization_endpoint":"ISSUER/auth"}`, "no token_endpoint"},
		{"not JSON", `<html>login</html>`, "not valid JSON"},
	} {
		doc = c.doc
		_, err := auth.Discover(ctx, srv.URL, srv.Client())
		observeErr(err)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	_, err := auth.Discover(ctx, "http://idp.example.com", nil)
	observeErr(err)
	if err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("plain http issuer: %v", err)
	}
	// The system roots do not trust the test server's certificate: the
	// default client refuses it.
	_, err = auth.Discover(ctx, srv.URL, nil)
	observeErr(err)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}

	doc = `{"issuer":"ISSUER/","token_endpoint":"ISSUER/token","authorization_endpoint":"ISSUER/auth",
		"token_endpoint_auth_methods_supported":["client_secret_post","private_key_jwt"]}`
	p, err := auth.Discover(ctx, srv.URL+"/", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if cc := p.ClientCredentials("id", "s"); cc.Auth != auth.ClientSecretPost || cc.TokenURL != srv.URL+"/token" {
		t.Errorf("a provider that lists only client_secret_post: %+v", cc)
	}
	if f := p.AuthCode("id", "s", "https://app.example/cb"); f.Auth != auth.ClientSecretPost || f.AuthURL != srv.URL+"/auth" {
		t.Errorf("auth code flow: %+v", f)
	}
}

// The JWT bearer assertion carries what RFC 7523 and Hydra require: iss,
// sub, aud (the token endpoint), a fresh jti each time, iat and a short
// exp, the kid header, and an RS256 signature; the client authenticates
// with HTTP Basic.
func TestJWTBearerAssertion(t *testing.T) {
	key, _ := newCert(t)
	const clientSecret = "jwt-client-secret-123"
	secret(clientSecret)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	jtis := map[string]bool{}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		fail := func(format string, args ...any) {
			t.Errorf(format, args...)
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
		}
		if id, sec, ok := r.BasicAuth(); !ok || id != "client-1" || sec != clientSecret || r.PostForm.Has("client_secret") {
			fail("client authentication: basic %v, form %v", ok, r.PostForm.Has("client_secret"))
			return
		}
		parts := strings.Split(r.PostForm.Get("assertion"), ".")
		if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || len(parts) != 3 || r.PostForm.Get("scope") != "crm.read" {
			fail("form: %v", r.PostForm)
			return
		}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
			fail("signature: %v", err)
			return
		}
		var header, claims map[string]any
		hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
		cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(hb, &header)
		_ = json.Unmarshal(cb, &claims)
		jti, _ := claims["jti"].(string)
		mu.Lock()
		dup := jtis[jti]
		jtis[jti] = true
		mu.Unlock()
		if header["alg"] != "RS256" || header["kid"] != "kid-7" || claims["iss"] != "https://issuer.example" ||
			claims["sub"] != "etl" || claims["aud"] != srv.URL+"/token" || len(jti) < 16 || dup ||
			claims["iat"] != float64(now.Unix()) || claims["exp"] != float64(now.Add(3*time.Minute).Unix()) {
			fail("header %v claims %v (jti seen before: %v)", header, claims, dup)
			return
		}
		_, _ = fmt.Fprint(w, `{"access_token":"jwt-bearer-access","token_type":"bearer","expires_in":600}`)
	}))
	defer srv.Close()
	secret("jwt-bearer-access")
	jb := &auth.JWTBearer{TokenURL: srv.URL + "/token", Issuer: "https://issuer.example", Subject: "etl", Key: key, KeyID: "kid-7",
		ClientID: "client-1", ClientSecret: clientSecret, Scopes: []string{"crm.read"}, Now: func() time.Time { return now }}
	for range 3 {
		tok, err := jb.TokenSource().Token(context.Background())
		observeErr(err)
		if err != nil || tok.AccessToken != "jwt-bearer-access" {
			t.Fatalf("token: %v %v", tok, err)
		}
	}
	_, err := (&auth.JWTBearer{TokenURL: srv.URL}).TokenSource().Token(context.Background())
	observeErr(err)
	if err == nil || auth.IsUnauthorized(err) || !strings.Contains(err.Error(), "set TokenURL, Issuer, Subject and Key") {
		t.Errorf("incomplete config: %v", err)
	}
	_, err = (&auth.ClientCredentials{TokenURL: srv.URL}).TokenSource().Token(context.Background())
	observeErr(err)
	if err == nil || !strings.Contains(err.Error(), "set TokenURL, ClientID and ClientSecret") {
		t.Errorf("incomplete client credentials: %v", err)
	}
}
