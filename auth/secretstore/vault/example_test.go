package vault_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/crmkit/crmkit/auth"
	"github.com/crmkit/crmkit/auth/secretstore/vault"
)

// Workers on several machines share one HubSpot refresh token through
// Vault; auth.Rotating makes sure only one of them refreshes it at a time.
// (Not run: it needs a Vault server.)
func Example() {
	ctx := context.Background()
	client, err := vault.NewClient("https://vault.example.com:8200", os.Getenv("VAULT_TOKEN"), nil)
	if err != nil {
		log.Fatal(err)
	}
	store, err := vault.New(client, "secret", vault.WithPrefix("crmkit/prod"))
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Check(ctx); err != nil {
		log.Fatal(err) // the mount is missing, is not KV v2, or the token may not use it
	}
	app := auth.HubSpotApp("https://api.hubapi.com", os.Getenv("HUBSPOT_CLIENT_ID"),
		os.Getenv("HUBSPOT_CLIENT_SECRET"), "https://crm.example.com/oauth/callback")
	src := &auth.Rotating{Store: store, Key: "hubspot", Refresher: app}
	tok, err := src.Token(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Expiry)
}

// Plain http would carry the Vault token in clear, so it is accepted only
// for a server on the same machine (a dev server or a Vault Agent).
func ExampleNewClient() {
	_, err := vault.NewClient("http://vault.example.com:8200", "hvs.example-token", nil)
	fmt.Println(err)
	_, err = vault.NewClient("http://127.0.0.1:8200", "hvs.example-token", nil)
	fmt.Println(err)
	// Output:
	// vault secret store: address "http://vault.example.com:8200" is plain http to a host that is not loopback: the token would cross the network in clear; use https (plain http is accepted only for 127.0.0.1, [::1] and localhost)
	// <nil>
}
