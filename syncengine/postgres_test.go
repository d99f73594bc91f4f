package syncengine_test

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/store/postgres"
)

// postgresStore opens the PostgreSQL store in a schema of its own on the
// test server (scripts/postgres.sh), or skips without one, unless
// CRMKIT_REQUIRE_SERVERS=1.
func postgresStore(t *testing.T) *postgres.Store {
	t.Helper()
	dsn := os.Getenv("CRMKIT_TEST_POSTGRES_DSN")
	if dsn == "" {
		msg := "CRMKIT_TEST_POSTGRES_DSN is not set: scripts/postgres.sh start && source .tools/run/postgres.env"
		if os.Getenv("CRMKIT_REQUIRE_SERVERS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	schema := "crmkit_engine_" + strings.ToLower(rand.Text()[:10])
	t.Cleanup(func() { _, _ = admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE") })
	st, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// The engine on the PostgreSQL store: two workers (two engines, as on two
// machines) share one pairing through it; they take turns by the lease, and
// the second one picks up what the first left in the outbox.
func TestTwoWorkersOnPostgres(t *testing.T) {
	st := postgresStore(t)
	e := newEnv(t, func(e *env) { e.store = st })
	seedOverlap(e)
	e.run()

	second, err := syncengine.New(st, e.p, append(e.opts, syncengine.WithOwner("worker-b"))...)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := st.AcquireLease(e.ctx, "customers", "worker-a-busy", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := second.RunOnce(e.ctx); err == nil {
		t.Fatal("the second worker ran while another held the lease")
	}
	if err := st.ReleaseLease(e.ctx, "customers", "worker-a-busy"); err != nil {
		t.Fatal(err)
	}

	// A write the first worker could not finish waits in the shared outbox.
	holdCRMWrites(e, 1)
	e.appModify(e.appCustomers()["grace@example.com"].ID, crm.Fields{"phone": "555-SHARED"})
	if rep := e.run(); rep.Pending != 1 {
		t.Fatalf("the write should wait:\n%v", rep)
	}
	e.clock.Advance(2 * time.Hour)
	rep, err := second.RunOnce(e.ctx)
	if err != nil || rep.Updated.CRM != 1 {
		t.Fatalf("the second worker should send the waiting write: %v\n%v", err, rep)
	}
	e.agree()
	e.quiet()
}
