package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/auth"
)

// TestNothingPrintsCredentials builds every auth type that holds a
// credential, with recognisable values, and checks that no fmt verb, slog
// handler or JSON encoding shows any of them, while each still shows
// something useful.
func TestNothingPrintsCredentials(t *testing.T) {
	key, cert := newCert(t)
	const (
		secretV  = "redact-client-secret-1"
		accessV  = "redact-access-token-2"
		refreshV = "redact-refresh-token-3"
		idTokV   = "redact-id-token-4"
		patV     = "redact-private-app-5"
		storedV  = "redact-stored-value-6"
		paramV   = "redact-param-value-7"
		passV    = "redact-url-password-8"
	)
	secret(secretV, accessV, refreshV, idTokV, patV, storedV, paramV, passV)
	// The key material as fmt would print it (big integers in decimal) and
	// as a PEM or JWK would carry it.
	creds := []string{secretV, accessV, refreshV, idTokV, patV, storedV, paramV, passV,
		key.D.String()[:24], key.D.Text(16)[:24], key.Primes[0].String()[:24],
		base64.RawURLEncoding.EncodeToString(key.D.Bytes())[:24]}
	ctx := context.Background()

	tok := auth.Token{AccessToken: accessV, TokenType: "bearer", RefreshToken: refreshV, Expiry: time.Unix(1700000000, 0),
		InstanceURL: "https://acme.my.salesforce.com", Scope: "api refresh_token", Extra: map[string]any{"id_token": idTokV}}
	store := auth.NewMemoryStore()
	if err := auth.Seed(ctx, store, "crm-refresh", &tok); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CompareAndSwap(ctx, "other", 0, []byte(storedV)); err != nil {
		t.Fatal(err)
	}
	stored, err := store.Get(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	reuse := auth.Reuse(auth.Static(accessV))
	if _, err := reuse.Token(ctx); err != nil {
		t.Fatal(err)
	}
	entraCode := auth.EntraAuthCode{Authority: auth.EntraLogin + "/contoso.onmicrosoft.com", ClientID: "web-app",
		ClientSecret: secretV, RedirectURL: "https://app.example/cb", OrgURL: "https://org.crm.dynamics.com"}
	webServer := auth.SalesforceWebServer("https://acme.my.salesforce.com", "consumer-key", secretV, "https://app.example/cb", "api")
	cc := auth.ClientCredentials{Name: "idp", TokenURL: "https://idp.example/token", ClientID: "etl", ClientSecret: secretV,
		Scopes: []string{"crm.read"}, Params: url.Values{"audience": {"crm"}, "extra_credential": {paramV}}}
	// A token endpoint that quotes the request back in its refusal: the
	// error scrubs what the request carried.
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sec, _ := r.BasicAuth()
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":"secret %s is wrong"}`, sec)
	}))
	defer idp.Close()
	refused := cc
	refused.TokenURL, refused.HTTPClient = idp.URL, idp.Client()
	_, retrieveErr := refused.TokenSource().Token(ctx)
	if !auth.IsUnauthorized(retrieveErr) {
		t.Fatalf("a refused secret: %v, want unauthorized", retrieveErr)
	}
	// A caller's own struct that holds auth values.
	type session struct {
		Token  auth.Token
		Config auth.SalesforceClientCredentials
	}

	cases := []struct {
		name string
		v    any
		want string // what %v must show
	}{
		{"Token", tok, "access_token=[REDACTED] refresh_token=[REDACTED]"},
		{"*Token", &tok, "instance_url=https://acme.my.salesforce.com"},
		{"Secret", stored, "value=[REDACTED]"},
		{"SalesforceJWT", auth.SalesforceJWT{ClientID: "consumer-key", Username: "int@example.com", Key: key}, "key=[REDACTED]"},
		{"SalesforceClientCredentials", auth.SalesforceClientCredentials{LoginURL: "https://admin:" + passV + "@acme.my.salesforce.com",
			ClientID: "consumer-key", ClientSecret: secretV}, "client_secret=[REDACTED]"},
		{"SalesforceWebServer", webServer, "client_secret=[REDACTED]"},
		{"AuthCodeFlow", *webServer, "client_id=consumer-key"},
		{"HubSpotApp", auth.HubSpotApp("", "hs-client", secretV, "https://app.example/cb", "crm.objects.contacts.read"), "client_secret=[REDACTED]"},
		{"HubSpotPrivateApp", auth.HubSpotPrivateApp(patV), "access_token=[REDACTED]"},
		{"EntraClientCredentials", auth.EntraClientCredentials{Authority: entraCode.Authority, ClientID: "daemon",
			ClientSecret: secretV, Scopes: []string{auth.EntraScope(entraCode.OrgURL)}}, "credential=secret([REDACTED])"},
		{"EntraClientCredentials/certificate", auth.EntraClientCredentials{Authority: entraCode.Authority, ClientID: "daemon",
			Certificate: cert, Key: key}, "credential=certificate(x5t="},
		{"EntraAuthCode", entraCode, "credential=secret([REDACTED])"},
		{"ClientCredentials", cc, "params=[audience extra_credential]"},
		{"*ClientCredentials", &cc, "client_secret=[REDACTED]"},
		{"JWTBearer", &auth.JWTBearer{Name: "idp", TokenURL: "https://idp.example/token", Issuer: "svc", Subject: "svc",
			Key: key, KeyID: "k1", ClientID: "svc", ClientSecret: secretV}, "key=[REDACTED]"},
		{"Rotating", &auth.Rotating{Store: store, Key: "crm-refresh", Refresher: entraCode}, "refresher=auth.EntraAuthCode"},
		{"MemoryStore", store, "keys=[crm-refresh other]"},
		{"ReuseSource", reuse, "cached=true"},
		{"Transport", &auth.Transport{Source: auth.Static(accessV)}, "access_token=[REDACTED]"},
		{"OAuth2", auth.OAuth2(ctx, auth.Static(accessV)), "source=auth.staticSource"},
		{"RetrieveError", retrieveErr, "invalid_client: secret [REDACTED] is wrong"},
		{"a caller's struct", session{Token: tok, Config: auth.SalesforceClientCredentials{ClientSecret: secretV}}, "client_secret=[REDACTED]"},
	}
	check := func(t *testing.T, what, out string) {
		t.Helper()
		observe(out)
		for _, c := range creds {
			if strings.Contains(out, c) {
				t.Errorf("%s reveals a credential (%.8s...): %s", what, c, out)
			}
		}
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			typ := reflect.TypeOf(c.v)
			if typ.Kind() == reflect.Pointer {
				typ = typ.Elem()
			}
			seen[typ.Name()] = true
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%10.3v"} {
				out := fmt.Sprintf(verb, c.v)
				check(t, verb, out)
				if (verb == "%v" || verb == "%+v" || verb == "%s") && !strings.Contains(out, c.want) {
					t.Errorf("%s = %s, want it to show %s", verb, out, c.want)
				}
			}
			var text, js strings.Builder
			slog.New(slog.NewTextHandler(&text, nil)).Info("config", "v", c.v)
			slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "v", c.v)
			check(t, "slog text", text.String())
			check(t, "slog JSON", js.String())
			if !json.Valid([]byte(js.String())) {
				t.Errorf("slog JSON is not JSON: %s", js.String())
			}
			b, err := json.Marshal(c.v)
			if err == nil {
				check(t, "json.Marshal", string(b))
			}
			if _, ok := c.v.(auth.Token); ok && (err != nil || !strings.Contains(string(b), `"access_token":"[REDACTED]"`)) {
				t.Errorf("json.Marshal(Token) = %s, %v; want the token redacted", b, err)
			}
		})
	}
	var nilLog strings.Builder
	slog.New(slog.NewTextHandler(&nilLog, nil)).Info("no token", "token", (*auth.Token)(nil))
	if got := fmt.Sprint((*auth.Token)(nil)); got != "<nil>" || !strings.Contains(nilLog.String(), "token=<nil>") {
		t.Errorf("a nil *Token prints %q and logs %q, want <nil>", got, nilLog.String())
	}

	// Every exported struct of the package with a field named for a
	// credential is in the table above, so a new one cannot be forgotten.
	for _, name := range credentialStructs(t) {
		if !seen[name] {
			t.Errorf("auth.%s has a credential field but is not checked here: give it a view (String, GoString, Format, LogValue) and add it", name)
		}
	}
}

// credentialStructs lists the package's exported struct types with a field
// whose name ends in Secret, Key, Token, Password, Assertion, Code or
// Verifier.
func credentialStructs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			f, err := parser.ParseFile(token.NewFileSet(), n, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
	}
	re := regexp.MustCompile(`(Secret|Key|Token|Password|Assertion|Code|Verifier)$`)
	var names []string
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || !ts.Name.IsExported() {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, fl := range st.Fields.List {
				for _, id := range fl.Names {
					if re.MatchString(id.Name) {
						names = append(names, ts.Name.Name)
						return true
					}
				}
			}
			return true
		})
	}
	if len(names) < 8 {
		t.Fatalf("found only %v: the scan is broken", names)
	}
	return names
}
