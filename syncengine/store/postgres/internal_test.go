package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmkit/crmkit/syncengine"
)

func TestSchemaVersion(t *testing.T) {
	if len(migrations) != schemaVersion {
		t.Fatalf("schemaVersion = %d, but there are %d migrations", schemaVersion, len(migrations))
	}
}

func TestDefaults(t *testing.T) {
	o := newOptions([]Option{nil, WithClock(nil)})
	if DefaultSchema != "public" || o.schema != DefaultSchema || o.now == nil {
		t.Fatalf("default options = schema %q, clock set %v; want public and time.Now", o.schema, o.now != nil)
	}
}

func TestLockKeysDiffer(t *testing.T) {
	keys := map[int64]string{}
	for _, parts := range [][]string{{"a", "bc"}, {"ab", "c"}, {"crmkit_sync commit", "public", "p"}, {"crmkit_sync commit", "other", "p"}, {"crmkit_sync migrate", "public"}} {
		k := lockKey(parts...)
		if prev, ok := keys[k]; ok {
			t.Errorf("lockKey(%q) = lockKey(%s)", parts, prev)
		}
		keys[k] = strings.Join(parts, "|")
	}
}

// testStore returns a Store made by New in a fresh schema, and its pool.
func testStore(t *testing.T) (*Store, *pgxpool.Pool) {
	t.Helper()
	dsn := os.Getenv("CRMKIT_TEST_POSTGRES_DSN")
	if dsn == "" {
		msg := "CRMKIT_TEST_POSTGRES_DSN is not set: start a server with `scripts/postgres.sh start && source .tools/run/postgres.env`"
		if os.Getenv("CRMKIT_REQUIRE_SERVERS") == "1" {
			t.Fatal(msg + " (CRMKIT_REQUIRE_SERVERS=1 requires it)")
		}
		t.Skip(msg)
	}
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	schema := "crmkit_test_" + strings.ToLower(rand.Text()[:12])
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	s, err := New(t.Context(), pool, WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	return s, pool
}

// TestCommitsOfAPairingTakeTurns plays another worker's commit by hand: a
// transaction that takes the pairing's lock, stores a link and logs a
// decision, and has not committed yet. A Commit that relinks the same app
// record and logs a decision of its own must wait for it rather than run
// beside it: run beside it, its INSERT would fail on the link's unique
// index once the other commits, and its decision's id, though higher,
// could become visible first, so that a reader paging the log by id would
// skip the other's. Waiting, it sees the other's link and replaces it.
func TestCommitsOfAPairingTakeTurns(t *testing.T) {
	s, pool := testStore(t)
	ctx := t.Context()
	other, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(context.Background())
	key := s.commitKey("p")
	var otherID int64
	if _, err := other.Exec(ctx, s.sql.lock, key); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, `INSERT INTO `+pgx.Identifier{s.schema, "crmkit_sync_links"}.Sanitize()+
		` (pairing, app_id, crm_id, app_version, crm_version, deleted, synced_at) VALUES ('p', 'a1', 'c1', '', '', false, now())`); err != nil {
		t.Fatal(err)
	}
	if err := other.QueryRow(ctx, s.sql.decide, "p", time.Now(), "a1", "c1", "email", "", "", "app", "r", "other worker").Scan(&otherID); err != nil {
		t.Fatal(err)
	}

	mine := &syncengine.DecisionRecord{AppID: "a1", CRMID: "c2", Field: "email", Reason: "this worker"}
	done := make(chan error, 1)
	go func() {
		done <- s.Commit(ctx, "p", &syncengine.Changeset{
			Links:     []*syncengine.Link{{AppID: "a1", CRMID: "c2"}},
			Decisions: []*syncengine.DecisionRecord{mine},
		})
	}()
	// Wait until the Commit waits for the other transaction, and see what
	// for: the pairing's lock, not a row or index entry the other wrote.
	// If it finishes first, it did not wait at all.
	for waitsFor := ""; waitsFor != "advisory"; {
		select {
		case err := <-done:
			t.Fatalf("Commit finished (err %v) while another transaction held the pairing's lock", err)
		default:
		}
		err := pool.QueryRow(ctx, `SELECT coalesce(max(wait_event), '') FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`,
			other.Conn().PgConn().PID()).Scan(&waitsFor)
		switch {
		case err != nil:
			t.Fatal(err)
		case waitsFor == "":
			time.Sleep(2 * time.Millisecond)
		case waitsFor != "advisory":
			t.Fatalf("Commit ran beside the other transaction and waits on a %s lock, not the pairing's", waitsFor)
		}
	}
	if ds, err := s.Decisions(ctx, "p", 0, 0); err != nil || len(ds) != 0 {
		t.Fatalf("Decisions while both commits are open = %v, %v; want none", ds, err)
	}
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Commit after the other transaction committed: %v", err)
	}
	ds, err := s.Decisions(ctx, "p", 0, 0)
	if err != nil || len(ds) != 2 || ds[0].ID != otherID || ds[1].ID != mine.ID || mine.ID <= otherID {
		t.Fatalf("Decisions = %+v, %v; want the other's %d, then this commit's, with a higher id", ds, err, otherID)
	}
	if ls, err := s.Links(ctx, "p", syncengine.CRM, []string{"c1", "c2"}); err != nil || len(ls) != 1 || ls["c2"] == nil {
		t.Fatalf("links by CRM id = %v, %v; want only a1-c2: the relink replaces the other's link", ls, err)
	}
}

// TestCommitWaitWatchesContext holds a pairing's lock in another session:
// a Commit of that pairing waits for it, watching its context, and changes
// nothing when the context ends; a Commit of another pairing goes through.
func TestCommitWaitWatchesContext(t *testing.T) {
	s, pool := testStore(t)
	ctx := t.Context()
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(context.Background())
	if _, err := holder.Exec(ctx, s.sql.lock, s.commitKey("p")); err != nil {
		t.Fatal(err)
	}

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = s.Commit(short, "p", &syncengine.Changeset{Cursors: map[syncengine.Side]string{syncengine.App: "blocked"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Commit while another session holds the pairing's lock: err = %v, want context.DeadlineExceeded", err)
	}
	if err := s.Commit(ctx, "other", &syncengine.Changeset{Cursors: map[syncengine.Side]string{syncengine.App: "free"}}); err != nil {
		t.Fatalf("Commit of another pairing while p's lock is held: %v", err)
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, "p", &syncengine.Changeset{Cursors: map[syncengine.Side]string{syncengine.App: "after"}}); err != nil {
		t.Fatalf("Commit after the lock was released: %v", err)
	}
	if cur, err := s.Cursor(ctx, "p", syncengine.App); err != nil || cur != "after" {
		t.Fatalf("cursor = %q, %v; want %q (never %q, from the commit whose context ended)", cur, err, "after", "blocked")
	}
}
