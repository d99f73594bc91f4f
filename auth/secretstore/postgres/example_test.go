package postgres_test

import (
	"context"
	"log"
	"os"

	"github.com/crmkit/crmkit/auth"
	"github.com/crmkit/crmkit/auth/secretstore/postgres"
)

// Workers on several machines share one HubSpot connection's rotating
// refresh token through the database.
func ExampleOpen() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, os.Getenv("SECRETS_DSN"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	flow := auth.HubSpotApp("", os.Getenv("HUBSPOT_CLIENT_ID"), os.Getenv("HUBSPOT_CLIENT_SECRET"), "https://app.example.com/oauth/callback")
	src := auth.Reuse(&auth.Rotating{Store: store, Key: "hubspot-portal-42", Refresher: flow})
	_ = src // an adapter's auth.Transport{Source: src}
}
