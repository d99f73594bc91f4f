package auth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/crmkit/crmkit/auth"
)

// A HubSpot private-app token, reused and sent by Transport.
func Example() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("Authorization") == "Bearer pat-example")
	}))
	defer api.Close()
	src := auth.Reuse(auth.HubSpotPrivateApp("pat-example"))
	client := &http.Client{Transport: &auth.Transport{Source: src}}
	resp, err := client.Get(api.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	tok, _ := src.Token(context.Background())
	fmt.Println(string(b), tok)
	// Output: true auth.Token{type=Bearer access_token=[REDACTED]}
}

// A service account's token from any OpenID provider, found through its
// discovery document. The provider here is a stand-in on loopback.
func ExampleDiscover() {
	var issuer string
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case auth.DiscoveryPath:
			fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q}`, issuer, issuer+"/oauth2/token")
		case "/oauth2/token":
			if id, sec, _ := r.BasicAuth(); id != "etl" || sec != "example-secret" || r.FormValue("grant_type") != "client_credentials" {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"error":"invalid_client"}`)
				return
			}
			fmt.Fprint(w, `{"access_token":"at-example","token_type":"bearer","expires_in":3600,"scope":"crm.read"}`)
		}
	}))
	defer idp.Close()
	issuer = idp.URL

	ctx := context.Background()
	p, err := auth.Discover(ctx, issuer, idp.Client())
	if err != nil {
		fmt.Println(err)
		return
	}
	src := auth.Reuse(p.ClientCredentials("etl", "example-secret", "crm.read").TokenSource())
	tok, err := src.Token(ctx)
	fmt.Println(tok.Scope, err)

	_, err = p.ClientCredentials("etl", "wrong-secret").TokenSource().Token(ctx)
	fmt.Println(auth.IsUnauthorized(err))
	// Output:
	// crm.read <nil>
	// true
}
