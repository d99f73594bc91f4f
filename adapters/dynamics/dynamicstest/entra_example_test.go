package dynamicstest_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/crmkit/crmkit/adapters/dynamics"
	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
)

// ExampleWithEntra authenticates crmkit's Dynamics driver the way a
// production integration does, with the client credentials grant against
// an Entra tenant, here the emulator's own over TLS.
func ExampleWithEntra() {
	srv, err := dynamicstest.NewServer(dynamicstest.WithEntra("contoso.onmicrosoft.com",
		dynamicstest.EntraApp{ClientID: "8f3c1a52-0d0e-4c57-9a1e-3f5d2b7c9e10", ClientSecret: "example-secret"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	// Trust the emulated tenant's certificate for token requests.
	entraHTTP := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.EntraCertPool(), MinVersion: tls.VersionTLS12}}}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, entraHTTP)
	creds := clientcredentials.Config{
		ClientID:     "8f3c1a52-0d0e-4c57-9a1e-3f5d2b7c9e10",
		ClientSecret: "example-secret",
		TokenURL:     srv.EntraURL() + "/oauth2/v2.0/token",
		Scopes:       []string{srv.EntraScope()},
	}
	drv, err := dynamics.New(dynamics.WithBaseURL(srv.URL), dynamics.WithHTTPClient(srv.Client()),
		dynamics.WithTokenSource(creds.TokenSource(ctx)))
	if err != nil {
		fmt.Println(err)
		return
	}
	schema, err := drv.Describe(context.Background(), "account")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(schema.Object, srv.Log().Count("token"), "token request")
	// Output:
	// account 1 token request
}
