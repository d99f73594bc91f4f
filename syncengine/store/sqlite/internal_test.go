package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/syncengine"
)

func TestSchemaVersion(t *testing.T) {
	if len(migrations) != schemaVersion {
		t.Fatalf("schemaVersion = %d, but there are %d migrations", schemaVersion, len(migrations))
	}
}

// TestWriteLocksUpFront checks that a write transaction holds the file's
// write lock before its first statement: another connection that will not
// wait cannot start a write of its own.
func TestWriteLocksUpFront(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	var otherErr error
	err = s.write(t.Context(), func(ctx context.Context, _ *txn) error {
		_, otherErr = other.ExecContext(ctx, "BEGIN IMMEDIATE; ROLLBACK")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if otherErr == nil || (!strings.Contains(strings.ToLower(otherErr.Error()), "busy") && !strings.Contains(otherErr.Error(), "locked")) {
		t.Fatalf("another writer during a write transaction: err = %v, want SQLITE_BUSY", otherErr)
	}
	// And once the transaction ends, the other writer gets through.
	if _, err := other.ExecContext(t.Context(), "BEGIN IMMEDIATE; ROLLBACK"); err != nil {
		t.Fatalf("another writer after the transaction: %v", err)
	}
}

// TestCancelMidTransaction cancels the context between two statements of a
// write transaction: the error carries the cancellation, nothing of the
// transaction stays, and the connection goes back to the pool clean.
func TestCancelMidTransaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.db.SetMaxOpenConns(1) // the next call must reuse the connection

	ctx, cancel := context.WithCancel(t.Context())
	err = s.write(ctx, func(ctx context.Context, tx *txn) error {
		if _, err := tx.exec(ctx, `INSERT INTO crmkit_sync_cursors (pairing, side, cursor) VALUES ('p', 1, 'lost')`); err != nil {
			return err
		}
		cancel()
		_, err := tx.exec(ctx, `INSERT INTO crmkit_sync_cursors (pairing, side, cursor) VALUES ('p', 2, 'lost')`)
		return err
	})
	if !errors.Is(fail(ctx, err, "test"), context.Canceled) {
		t.Fatalf("write with a cancelled context: err = %v, want context.Canceled", err)
	}
	if cur, err := s.Cursor(t.Context(), "p", syncengine.App); err != nil || cur != "" {
		t.Fatalf("Cursor after the cancelled transaction = %q, %v; want empty", cur, err)
	}
	if err := s.Commit(t.Context(), "p", &syncengine.Changeset{Cursors: map[syncengine.Side]string{syncengine.App: "kept"}}); err != nil {
		t.Fatalf("Commit after the cancelled transaction: %v", err)
	}
	r, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if cur, err := r.Cursor(t.Context(), "p", syncengine.App); err != nil || cur != "kept" {
		t.Fatalf("Cursor seen from another store = %q, %v; want %q committed", cur, err, "kept")
	}
}
