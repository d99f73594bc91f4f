// Package postgres is an auth.SecretStore in a PostgreSQL table, for
// workers on many machines that share one database: the rotated refresh
// token of a CRM connection lives in one row, and every write is a
// compare-and-swap on the row's version column, so that of several workers
// only one ever refreshes (see auth.Rotating).
//
// It is a separate package so that crmkit's auth package, and programs that
// keep their secrets elsewhere, do not depend on the pgx driver.
//
// # Use
//
// Open connects with a DSN; New takes a *pgxpool.Pool the application
// already has:
//
//	store, err := postgres.Open(ctx, os.Getenv("SECRETS_DSN"))
//	if err != nil { ... }
//	defer store.Close()
//	src := auth.Reuse(&auth.Rotating{Store: store, Key: "hubspot-portal-42", Refresher: flow})
//
// A production DSN should say sslmode=verify-full (with sslrootcert when
// the server's CA is private): the refresh tokens cross the network.
//
// # The table
//
// By default the store keeps its rows in crmkit_secrets (WithTable names
// another, optionally schema-qualified) and creates it when missing:
//
//	CREATE TABLE crmkit_secrets (
//		key        text PRIMARY KEY,
//		value      bytea NOT NULL,
//		version    bigint NOT NULL CHECK (version > 0),
//		updated_at timestamptz NOT NULL DEFAULT now()
//	)
//
// For least privilege, create the table once as its owner and give the
// workers' role only SELECT, INSERT and UPDATE on it; open the store with
// WithoutCreate, which only checks that the table is there.
//
// Each CompareAndSwap is one statement: version 0 is an INSERT ... ON
// CONFLICT DO NOTHING (the key must not exist), any other an UPDATE ...
// WHERE version = old RETURNING version. No row back means another worker
// wrote first: auth.ErrVersionConflict. Errors name the key and the table,
// never a value or the DSN's password.
package postgres
