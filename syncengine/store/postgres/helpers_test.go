package postgres_test

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmkit/crmkit/syncengine/store/postgres"
)

const (
	envDSN     = "CRMKIT_TEST_POSTGRES_DSN"
	envRequire = "CRMKIT_REQUIRE_SERVERS"
)

// testDSN returns the test server's DSN, or skips the test when there is
// none (failing it when CRMKIT_REQUIRE_SERVERS=1, as CI sets).
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(envDSN)
	if dsn == "" {
		msg := envDSN + " is not set: start a server with `scripts/postgres.sh start && source .tools/run/postgres.env` " +
			"(from the repository's root), run the tests, then `scripts/postgres.sh stop`"
		if os.Getenv(envRequire) == "1" {
			t.Fatal(msg + " (" + envRequire + "=1 requires it)")
		}
		t.Skip(msg)
	}
	return dsn
}

// testPool returns a pool on the test server, closed at the end.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// scratchSchema returns a schema name no other test uses (the store
// creates it), dropped with everything in it at the end of the test.
func scratchSchema(t testing.TB, admin *pgxpool.Pool) string {
	t.Helper()
	name := "crmkit_test_" + strings.ToLower(rand.Text()[:12])
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// open opens a Store on the test server in a schema of its own, closed at
// the end.
func open(t testing.TB, admin *pgxpool.Pool, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	opts = append([]postgres.Option{postgres.WithSchema(scratchSchema(t, admin))}, opts...)
	return openIn(t, opts...)
}

// openIn opens a Store on the test server as opts say, closed at the end.
func openIn(t testing.TB, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), testDSN(t), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}
