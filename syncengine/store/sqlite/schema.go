package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema's versions, in order: migrations[i] takes a
// file from version i to version i+1. A released migration is never edited;
// a change to the schema is a new migration appended here.
//
// Every table carries the pairing, and every name starts with crmkit_sync_,
// so the store can share a database with the host's own tables.
var migrations = []string{
	// 1: everything.
	`
CREATE TABLE crmkit_sync_links (
	pairing     TEXT    NOT NULL,
	app_id      TEXT    NOT NULL,
	crm_id      TEXT    NOT NULL,
	app_version TEXT    NOT NULL,
	crm_version TEXT    NOT NULL,
	app_hashes  TEXT    NOT NULL, -- JSON object, '' when none
	crm_hashes  TEXT    NOT NULL,
	deleted     INTEGER NOT NULL,
	synced_at   INTEGER NOT NULL, -- Unix microseconds, UTC
	UNIQUE (pairing, app_id),
	UNIQUE (pairing, crm_id)
);

CREATE TABLE crmkit_sync_cursors (
	pairing TEXT    NOT NULL,
	side    INTEGER NOT NULL,
	cursor  TEXT    NOT NULL,
	PRIMARY KEY (pairing, side)
) WITHOUT ROWID;

CREATE TABLE crmkit_sync_outbox (
	id           INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: an id is never reused
	pairing      TEXT    NOT NULL,
	target       INTEGER NOT NULL,
	op           INTEGER NOT NULL,
	source_id    TEXT    NOT NULL,
	target_id    TEXT    NOT NULL,
	key          TEXT    NOT NULL,
	payload      BLOB,
	attempts     INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	dead         INTEGER NOT NULL,
	error_kind   TEXT    NOT NULL,
	error        TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
);
CREATE INDEX crmkit_sync_outbox_due ON crmkit_sync_outbox (pairing, dead, next_attempt);

CREATE TABLE crmkit_sync_decisions (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	pairing   TEXT    NOT NULL,
	at        INTEGER NOT NULL,
	app_id    TEXT    NOT NULL,
	crm_id    TEXT    NOT NULL,
	field     TEXT    NOT NULL,
	app_value TEXT    NOT NULL,
	crm_value TEXT    NOT NULL,
	winner    TEXT    NOT NULL,
	resolver  TEXT    NOT NULL,
	reason    TEXT    NOT NULL
);
CREATE INDEX crmkit_sync_decisions_pairing ON crmkit_sync_decisions (pairing, id);

CREATE TABLE crmkit_sync_parked (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	pairing TEXT    NOT NULL,
	app_id  TEXT    NOT NULL,
	crm_id  TEXT    NOT NULL,
	payload BLOB,
	reason  TEXT    NOT NULL,
	at      INTEGER NOT NULL
);
CREATE INDEX crmkit_sync_parked_pairing ON crmkit_sync_parked (pairing, id);

CREATE TABLE crmkit_sync_leases (
	pairing    TEXT    NOT NULL PRIMARY KEY,
	owner      TEXT    NOT NULL,
	expires_at INTEGER NOT NULL -- Unix microseconds, UTC
) WITHOUT ROWID;
`,
}

// schemaVersion is the schema version this package writes. A file whose
// version is higher was written by a newer crmkit, and the store refuses it
// rather than guess.
const schemaVersion = 1 // len(migrations); TestSchemaVersion checks it

// migrate brings the schema to schemaVersion, in one write transaction, so
// two processes opening a new file at once create it once.
func (s *Store) migrate(ctx context.Context) error {
	return s.write(ctx, func(ctx context.Context, tx *txn) error {
		if _, err := tx.conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS crmkit_sync_schema (version INTEGER NOT NULL)`); err != nil {
			return fmt.Errorf("create the schema version table: %w", err)
		}
		var v sql.NullInt64
		if err := tx.conn.QueryRowContext(ctx, `SELECT max(version) FROM crmkit_sync_schema`).Scan(&v); err != nil {
			return fmt.Errorf("read the schema version: %w", err)
		}
		have := int(v.Int64)
		if have > schemaVersion {
			return fmt.Errorf("the file has schema version %d, newer than this crmkit's %d; upgrade crmkit to open it", have, schemaVersion)
		}
		for i := have; i < schemaVersion; i++ {
			if _, err := tx.conn.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migrate the schema to version %d: %w", i+1, err)
			}
			if _, err := tx.conn.ExecContext(ctx, `INSERT INTO crmkit_sync_schema (version) VALUES (?)`, i+1); err != nil {
				return fmt.Errorf("record schema version %d: %w", i+1, err)
			}
		}
		return nil
	})
}
