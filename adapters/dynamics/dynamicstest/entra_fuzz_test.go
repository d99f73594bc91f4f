package dynamicstest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzTokenEndpoint feeds arbitrary client assertions and scopes to the
// token endpoint: it must answer in Entra's shape and never panic or issue
// a token.
func FuzzTokenEndpoint(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJhIn0.c2ln", "https://127.0.0.1:1/.default")
	f.Add("a.b.c", "openid")
	f.Add("eyJhbGciOiJQUzI1NiIsIngldCI6IiJ9.eyJhdWQiOlsieCJdLCJleHAiOjFlMzAwfQ.", "")
	f.Add("...", "https://[::1/.default")
	c := &config{now: time.Now, entra: &entraConfig{tenant: "t", apps: []EntraApp{{ClientID: "app", ClientSecret: "s"}}}}
	e, err := newEntra(c, func() string { return "http://127.0.0.1:1" }, "oid")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, assertion, scope string) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "scope": {scope},
			"client_assertion_type": {assertionTypeJWT}, "client_assertion": {assertion}}
		r := httptest.NewRequest(http.MethodPost, "https://127.0.0.1:2/t/oauth2/v2.0/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		e.serve(w, r)
		if w.Code == http.StatusOK || strings.Contains(w.Body.String(), "access_token") {
			t.Fatalf("issued a token for assertion %q: %s", assertion, w.Body)
		}
		if !strings.Contains(w.Body.String(), `"error_codes"`) {
			t.Fatalf("answer not in Entra's shape: %s", w.Body)
		}
		_, _ = parseAssertion(assertion)
	})
}
