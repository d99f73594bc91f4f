// Package sqltable makes one table of an application's SQL database the
// application side of a sync pairing: an [Endpoint] (a syncengine.Endpoint,
// Finder and BatchSizer) over any database/sql database, SQLite or
// PostgreSQL.
//
// The engine needs three things from the table, which the [Table]
// declaration names next to the mapped [Column]s:
//
//   - a key column (unique, nullable) that holds the CRM id of every row the
//     engine created, so that a create sent twice after a crash updates the
//     row the first one made instead of adding a second;
//   - a version column that takes a new, higher number on every change to a
//     row, which the change feed reads in order;
//   - a deleted column: rows are deleted by marking them (soft delete), so
//     that deletes reach the change feed. A row removed with DELETE is never
//     reported.
//
// # Setting up
//
// [SQLiteSchema] (or [PostgresSchema]) returns the DDL that creates such a
// table, its unique index on the key column and triggers that maintain the
// version column from a counter on every INSERT and UPDATE, whoever makes
// them; [Endpoint.Install] runs it. To sync an existing table, add the three
// columns and the same triggers (the statements show what they do).
//
//	table := sqltable.Table{
//		Name: "contacts", // id, sync_key, sync_version and deleted by default
//		Columns: []sqltable.Column{
//			{Name: "name", Kind: crm.ValueString},
//			{Name: "email", Kind: crm.ValueString},
//			{Name: "balance", Kind: crm.ValueDecimal},
//		},
//	}
//	app, err := sqltable.New(db, table) // sqltable.WithDialect(sqltable.PostgreSQL) for PostgreSQL
//	if err != nil { ... }
//	if err := app.Install(ctx); err != nil { ... }
//
// The application keeps writing the table with its own SQL. It must delete
// rows by setting the deleted column (UPDATE contacts SET deleted = 1), and
// leave the version to the triggers.
//
// # Values
//
// Each column holds one of crmkit's normalised kinds, stored exactly:
// decimals as their digits in text (never a float), times as RFC 3339 text
// in UTC (SQLite) or timestamptz (PostgreSQL), dates as YYYY-MM-DD, multi-
// selects as a JSON array; see [Column]. Reading is lenient with what an
// application stores by hand (integers in a text column, 0 and 1 for
// booleans, SQLite's "YYYY-MM-DD HH:MM:SS"); a value that cannot be read
// exactly fails the read with a *crm.Error naming the row and the column,
// never a wrong or missing value.
//
// # Writes
//
// Apply runs its writes in one transaction, each in a savepoint, so one bad
// record fails alone: a write naming an undeclared column or giving a value
// of the wrong kind, or one the database refuses (NOT NULL, CHECK, a unique
// index on another column), has a *crm.Error in its result, of
// KindValidation or (for a unique violation) KindDuplicate, naming the
// column and the row or key; the others commit. A failure of the call
// itself (a lost connection, a busy database) commits nothing and is
// returned as the call's error, KindUnavailable when it is transient.
// Errors never quote field values.
//
//   - Upsert finds the row by key and updates it, or inserts it with
//     INSERT ... ON CONFLICT (key) DO UPDATE. A row with the key that was
//     deleted is brought back (Created is true).
//   - Update sets only the fields it names (nil sets NULL) and fails with
//     KindNotFound on a missing or deleted row.
//   - Delete marks the row deleted; deleting a missing or deleted row
//     succeeds.
//
// Every write changes the row's version, and sets ModifiedColumn (if
// declared) to the endpoint's clock. The schema's triggers also stamp
// ModifiedColumn with the current time on any update that leaves it as it
// was, so the application's own changes carry their time too, and
// resolving conflicts by time sees them as they are.
//
// # The change feed
//
// Changes reads rows whose version is above the cursor, in version order,
// WithPageSize at a time; the cursor is the highest version reported. Rows
// that share a version (possible only when the application maintains
// versions itself) are never split across pages.
//
// On SQLite, writers run one at a time, so versions commit in the order they
// are taken and the feed never skips a row that committed late. On
// PostgreSQL a sequence can commit out of order (a transaction takes version
// 100, another takes 101 and commits first; a reader at 101 would never see
// 100), so give PostgreSQL endpoints [WithLookback]: every Changes call
// re-reads the rows of the last n versions before its cursor, and the engine
// sees them at least once. PostgreSQL support is written to the same
// statements but is tested against a real server in a later issue; this
// package's tests run on SQLite (modernc.org/sqlite).
//
// # SQLite and concurrency
//
// A SQLite write transaction that begins as a reader can fail with
// SQLITE_BUSY when another writer commits first. Open the database so that
// writers take the lock at BEGIN and wait for each other, for example with
// modernc.org/sqlite:
//
//	sql.Open("sqlite", "file:app.db?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
//
// With ":memory:", set db.SetMaxOpenConns(1): every connection to
// ":memory:" is a separate database.
package sqltable
