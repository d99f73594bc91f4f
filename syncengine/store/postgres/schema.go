package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrations are the schema's versions, in order: migrations[i] takes a
// schema from version i to version i+1. A released migration is never
// edited; a change to the schema is a new migration appended here. {schema}
// stands for the quoted schema name.
//
// Every table carries the pairing, and every name starts with crmkit_sync_,
// as in the SQLite store, so the tables can share a schema with the host's.
var migrations = []string{
	// 1: everything.
	`
CREATE TABLE {schema}.crmkit_sync_links (
	pairing     text        NOT NULL,
	app_id      text        NOT NULL,
	crm_id      text        NOT NULL,
	app_version text        NOT NULL,
	crm_version text        NOT NULL,
	app_hashes  text,                 -- JSON object; NULL when none
	crm_hashes  text,
	deleted     boolean     NOT NULL,
	synced_at   timestamptz NOT NULL,
	PRIMARY KEY (pairing, app_id),
	UNIQUE (pairing, crm_id)
);

CREATE TABLE {schema}.crmkit_sync_cursors (
	pairing text     NOT NULL,
	side    smallint NOT NULL,
	cursor  bytea    NOT NULL, -- opaque: a feed's cursor may hold any bytes
	PRIMARY KEY (pairing, side)
);

CREATE TABLE {schema}.crmkit_sync_outbox (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- a sequence: an id is never given twice
	pairing      text        NOT NULL,
	target       smallint    NOT NULL,
	op           smallint    NOT NULL,
	source_id    text        NOT NULL,
	target_id    text        NOT NULL,
	key          text        NOT NULL,
	payload      bytea,
	attempts     bigint      NOT NULL,
	next_attempt timestamptz NOT NULL,
	dead         boolean     NOT NULL,
	error_kind   text        NOT NULL,
	error        text        NOT NULL,
	created_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL
);
CREATE INDEX crmkit_sync_outbox_due ON {schema}.crmkit_sync_outbox (pairing, dead, next_attempt);

CREATE TABLE {schema}.crmkit_sync_decisions (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	pairing   text        NOT NULL,
	at        timestamptz NOT NULL,
	app_id    text        NOT NULL,
	crm_id    text        NOT NULL,
	field     text        NOT NULL,
	app_value text        NOT NULL,
	crm_value text        NOT NULL,
	winner    text        NOT NULL,
	resolver  text        NOT NULL,
	reason    text        NOT NULL
);
CREATE INDEX crmkit_sync_decisions_pairing ON {schema}.crmkit_sync_decisions (pairing, id);

CREATE TABLE {schema}.crmkit_sync_parked (
	id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	pairing text        NOT NULL,
	app_id  text        NOT NULL,
	crm_id  text        NOT NULL,
	payload bytea,
	reason  text        NOT NULL,
	at      timestamptz NOT NULL
);
CREATE INDEX crmkit_sync_parked_pairing ON {schema}.crmkit_sync_parked (pairing, id);

CREATE TABLE {schema}.crmkit_sync_leases (
	pairing    text        NOT NULL PRIMARY KEY,
	owner      text        NOT NULL,
	expires_at timestamptz NOT NULL
);
`,
}

// schemaVersion is the schema version this package writes. A schema whose
// version is higher was written by a newer crmkit, and the store refuses it
// rather than guess.
const schemaVersion = 1 // len(migrations); TestSchemaVersion checks it

// errNewerSchema is the refusal of a schema a newer crmkit wrote.
func errNewerSchema(schema string, have int) error {
	return fmt.Errorf("schema %q has crmkit sync schema version %d, newer than this crmkit's %d; upgrade crmkit to use it", schema, have, schemaVersion)
}

// migrate brings the schema to schemaVersion. When it is already there, as
// on every start but the first after an upgrade, that takes two reads and
// no lock, so a role without the right to create tables can run the store
// on a schema its owner prepared. Otherwise the migrations run in one
// transaction under a transaction-level advisory lock on the schema, so
// workers starting together migrate it once: the others wait for the lock,
// then find the work done.
func (s *Store) migrate(ctx context.Context) error {
	versionTable := pgx.Identifier{s.schema, "crmkit_sync_schema"}.Sanitize()
	var (
		encoding string
		exists   bool
	)
	if err := s.pool.QueryRow(ctx, `SELECT current_setting('server_encoding'), to_regclass($1) IS NOT NULL`, versionTable).
		Scan(&encoding, &exists); err != nil {
		return fmt.Errorf("read the database's encoding and schema version: %w", err)
	}
	if encoding != "UTF8" {
		return fmt.Errorf("the database's encoding is %s; crmkit's sync tables hold UTF-8 text: use a database created with ENCODING 'UTF8'", encoding)
	}
	if exists {
		have, err := readVersion(ctx, s.pool, versionTable)
		if err != nil {
			return err
		}
		switch {
		case have == schemaVersion:
			return nil
		case have > schemaVersion:
			return errNewerSchema(s.schema, have)
		}
	}

	quoted := pgx.Identifier{s.schema}.Sanitize()
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("crmkit_sync migrate", s.schema)); err != nil {
			return fmt.Errorf("lock the schema for migration: %w", err)
		}
		// CREATE SCHEMA IF NOT EXISTS needs the right to create schemas even
		// when the schema exists, so look first.
		var have bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, s.schema).Scan(&have); err != nil {
			return fmt.Errorf("look for the schema: %w", err)
		}
		if !have {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA `+quoted); err != nil {
				return fmt.Errorf("create the schema: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+versionTable+` (
	version    integer     NOT NULL PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return fmt.Errorf("create the schema version table: %w", err)
		}
		v, err := readVersion(ctx, tx, versionTable)
		if err != nil {
			return err
		}
		if v > schemaVersion {
			return errNewerSchema(s.schema, v)
		}
		for i := v; i < schemaVersion; i++ {
			// No arguments: pgx sends it as a simple query, which may hold
			// several statements.
			if _, err := tx.Exec(ctx, strings.ReplaceAll(migrations[i], "{schema}", quoted)); err != nil {
				return fmt.Errorf("migrate the schema to version %d: %w", i+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+versionTable+` (version) VALUES ($1)`, i+1); err != nil {
				return fmt.Errorf("record schema version %d: %w", i+1, err)
			}
		}
		return nil
	})
}

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func readVersion(ctx context.Context, q queryRower, versionTable string) (int, error) {
	var v int
	if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+versionTable).Scan(&v); err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	return v, nil
}
