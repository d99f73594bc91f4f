package salesforcetest

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/jwt"
)

// testKey is one RSA key and certificate for every OAuth test: making keys
// is slow.
var testKey = sync.OnceValues(func() (*rsa.PrivateKey, *x509.Certificate) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "crmkit test app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return key, cert
})

const integrationUser = "integration@crmkit.example"

func oauthServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	_, cert := testKey()
	return New(t, append([]Option{WithConnectedApp(ConnectedApp{ClientID: "CK", ClientSecret: "CS", Certificate: cert})}, opts...)...)
}

// sign makes a JWT with the given header and claims, signed with key.
func sign(t *testing.T, key *rsa.PrivateKey, header, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

func TestJWTBearerFlow(t *testing.T) {
	s := oauthServer(t)
	key, _ := testKey()
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	cfg := &jwt.Config{Email: "CK", Subject: integrationUser, PrivateKey: pemKey, Audience: "https://login.salesforce.com",
		TokenURL: s.URL + "/services/oauth2/token"}
	tok, err := cfg.TokenSource(t.Context()).Token()
	if err != nil {
		t.Fatalf("JWT bearer flow: %v", err)
	}
	if tok.Extra("instance_url") != s.URL || !strings.HasSuffix(tok.Extra("id").(string), "/"+s.OrgID()+"/"+s.UserID()) || tok.RefreshToken != "" {
		t.Errorf("token response: instance_url %v id %v refresh %q", tok.Extra("instance_url"), tok.Extra("id"), tok.RefreshToken)
	}
	w := &wire{t: t, s: s, token: tok.AccessToken}
	if a := w.do("GET", v+"/limits", ""); a.status != 200 {
		t.Errorf("a call with the issued token: %d", a.status)
	}
	if s.Count("oauth2.token") != 1 {
		t.Errorf("counts %v", s.Counts())
	}
	if used, _ := s.DailyUsage(); used != 1 {
		t.Errorf("the token call was counted against the allocation: used %d", used)
	}

	exp := time.Now().Add(3 * time.Minute).Unix()
	post := func(assertion string) answer {
		return w.do("POST", "/services/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}.Encode(),
			"Content-Type", "application/x-www-form-urlencoded")
	}
	claims := func(iss, sub, aud string, exp any) string {
		b, _ := json.Marshal(map[string]any{"iss": iss, "sub": sub, "aud": aud, "exp": exp})
		return string(b)
	}
	rs256 := `{"alg":"RS256"}`
	// exp as a string, as go-salesforce sends it.
	if a := post(sign(t, key, rs256, claims("CK", integrationUser, "https://test.salesforce.com", "1"+strings.Repeat("9", 9)))); a.status != 200 {
		t.Errorf("exp as a string: %d %s", a.status, a.body)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 1024)
	for _, c := range []struct {
		name, assertion, code, desc string
	}{
		{"stale", sign(t, key, rs256, claims("CK", integrationUser, "https://login.salesforce.com", time.Now().Add(-10*time.Minute).Unix())), "invalid_grant", "expired authorization code"},
		{"wrong key", sign(t, other, rs256, claims("CK", integrationUser, "https://login.salesforce.com", exp)), "invalid_grant", "invalid assertion"},
		{"HS256", sign(t, key, `{"alg":"HS256"}`, claims("CK", integrationUser, "https://login.salesforce.com", exp)), "invalid_grant", "invalid assertion: the algorithm must be RS256"},
		{"unknown app", sign(t, key, rs256, claims("NOPE", integrationUser, "https://login.salesforce.com", exp)), "invalid_client_id", "client identifier invalid"},
		{"audience", sign(t, key, rs256, claims("CK", integrationUser, "https://mydomain.my.salesforce.com", exp)), "invalid_grant", "audience is invalid"},
		{"user", sign(t, key, rs256, claims("CK", "nobody@example.com", "https://login.salesforce.com", exp)), "invalid_grant", "user hasn't approved this consumer"},
		{"garbage", "not.a.jwt!", "invalid_grant", "invalid assertion"},
	} {
		a := post(c.assertion)
		var e struct{ Error, ErrorDescription string }
		a.json(t, &struct {
			Error *string `json:"error"`
			Desc  *string `json:"error_description"`
		}{&e.Error, &e.ErrorDescription})
		if a.status != 400 || e.Error != c.code || e.ErrorDescription != c.desc {
			t.Errorf("%s: %d %s, want 400 %s %q", c.name, a.status, a.body, c.code, c.desc)
		}
	}
}

func TestRefreshAndClientCredentialsFlows(t *testing.T) {
	clk := &struct {
		sync.Mutex
		t time.Time
	}{t: time.Now()}
	now := func() time.Time { clk.Lock(); defer clk.Unlock(); return clk.t }
	s := oauthServer(t, WithSessionTimeout(time.Hour), WithClock(now))
	rt, err := s.IssueRefreshToken("CK", integrationUser)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{ClientID: "CK", ClientSecret: "CS", Endpoint: oauth2.Endpoint{TokenURL: s.URL + "/services/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
	tok, err := cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		t.Fatalf("refresh flow: %v", err)
	}
	issued, _ := tok.Extra("issued_at").(string)
	id, _ := tok.Extra("id").(string)
	mac := hmac.New(sha256.New, []byte("CS"))
	mac.Write([]byte(id + issued))
	if sig, _ := tok.Extra("signature").(string); sig != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		t.Errorf("signature %q does not verify over id+issued_at", sig)
	}
	w := &wire{t: t, s: s, token: tok.AccessToken}
	if a := w.do("GET", v+"/limits", ""); a.status != 200 {
		t.Fatalf("call: %d", a.status)
	}
	clk.Lock()
	clk.t = clk.t.Add(2 * time.Hour)
	clk.Unlock()
	wantError(t, w.do("GET", v+"/limits", ""), 401, "INVALID_SESSION_ID")

	s.RevokeRefreshToken(rt)
	if _, err := cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: rt}).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("a revoked refresh token: %v", err)
	}

	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInParams, oauth2.AuthStyleInHeader} {
		cc := &clientcredentials.Config{ClientID: "CK", ClientSecret: "CS", TokenURL: s.URL + "/services/oauth2/token", AuthStyle: style}
		tok, err := cc.Token(t.Context())
		if err != nil || tok.AccessToken == "" || tok.RefreshToken != "" {
			t.Errorf("client credentials (style %v): %v %+v", style, err, tok)
		}
		cc.ClientSecret = "wrong"
		if _, err := cc.Token(t.Context()); err == nil || !strings.Contains(err.Error(), "invalid_client") {
			t.Errorf("a wrong secret: %v", err)
		}
	}
	a := w.do("POST", "/services/oauth2/token", "grant_type=password&username=x&password=y", "Content-Type", "application/x-www-form-urlencoded")
	if a.status != 400 || !strings.Contains(string(a.body), "unsupported_grant_type") {
		t.Errorf("password grant: %d %s", a.status, a.body)
	}
	if _, err := s.IssueRefreshToken("NOPE", integrationUser); err == nil {
		t.Error("a refresh token for an unknown app")
	}
}
