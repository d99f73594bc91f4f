package sqltable

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// Dialect is the SQL dialect of the database: it decides the placeholders,
// how times and booleans are stored, and the schema helpers' DDL.
type Dialect uint8

const (
	// SQLite (any database/sql SQLite driver, such as modernc.org/sqlite):
	// "?" placeholders; times as RFC 3339 text in UTC.
	SQLite Dialect = iota + 1
	// PostgreSQL (pgx's stdlib driver or lib/pq): "$1" placeholders; times
	// as timestamptz.
	PostgreSQL
)

// String returns "sqlite" or "postgresql".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case PostgreSQL:
		return "postgresql"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// Table declares the application table an Endpoint syncs: its name, the
// columns the endpoint manages, and the mapped columns (the fields the
// engine reads and writes, under their column names). Names must be plain
// identifiers (letters, digits and underscores, not starting with a digit,
// at most 63 characters). They are quoted in every statement, so give them
// exactly as the database stores them (PostgreSQL folds unquoted names to
// lower case when a table is created).
//
// Empty names of managed columns take the defaults in brackets.
type Table struct {
	// Name is the table's name (no schema prefix: set the search path).
	Name string
	// IDColumn is the primary key ["id"]. The database assigns it on insert
	// (INTEGER PRIMARY KEY in SQLite, an identity column in PostgreSQL, or
	// a DEFAULT expression for text ids).
	IDColumn string
	// IDKind is the kind of IDColumn's values: crm.ValueInt64 [default] or
	// crm.ValueString. Ids are strings in the engine either way; an id that
	// is not a number never matches an integer key.
	IDKind crm.ValueKind
	// KeyColumn holds the sync key ["sync_key"]: the CRM id of a row the
	// engine created. It must be nullable and carry a unique index (rows the
	// application makes have none); Upsert relies on the index.
	KeyColumn string
	// VersionColumn is an integer that takes a new, higher value on every
	// change to the row ["sync_version"]: the change feed reads rows in its
	// order. The triggers of SQLiteSchema and PostgresSchema maintain it.
	VersionColumn string
	// DeletedColumn marks deleted rows ["deleted"]. Rows are never removed,
	// so deletes reach the change feed; a Delete write sets it, and the
	// application deletes by setting it too.
	DeletedColumn string
	// ModifiedColumn, optional, holds when the row last changed; the
	// endpoint sets it on its writes and reports it as Record.ModifiedAt,
	// which conflict resolution by time compares. The schema helpers'
	// triggers stamp it on the application's updates too.
	ModifiedColumn string
	// Columns are the mapped columns.
	Columns []Column
}

// Column is a mapped column: a field the engine syncs, and the kind of value
// it holds. Values are stored as DESIGN says crmkit keeps them exact:
//
//	kind            SQLite    PostgreSQL
//	string          TEXT      text
//	bool            INTEGER   boolean
//	int64           INTEGER   bigint
//	crm.Decimal     TEXT      text (exact digits, never a float)
//	time.Time       TEXT      timestamptz (SQLite: RFC 3339, UTC, nanoseconds)
//	crm.Date        TEXT      date (SQLite: YYYY-MM-DD)
//	[]string        TEXT      text (a JSON array)
type Column struct {
	Name string
	Kind crm.ValueKind
}

const maxIdent = 63 // PostgreSQL's limit; SQLite has none

// checkIdent refuses a name that is not a plain identifier.
func checkIdent(role, name string) error {
	if name == "" {
		return fmt.Errorf("sqltable: %s is empty", role)
	}
	if len(name) > maxIdent {
		return fmt.Errorf("sqltable: %s %q is longer than %d characters", role, clip(name), maxIdent)
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return fmt.Errorf("sqltable: %s %q is not a plain name: use letters, digits and underscores, not starting with a digit", role, clip(name))
		}
	}
	return nil
}

// quote quotes a checked identifier.
func quote(name string) string { return `"` + name + `"` }

func clip(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:61]) + "..."
	}
	return s
}

// normalize fills defaults and checks every name and kind.
func (t Table) normalize() (Table, error) {
	defaults := []struct {
		p   *string
		def string
	}{{&t.IDColumn, "id"}, {&t.KeyColumn, "sync_key"}, {&t.VersionColumn, "sync_version"}, {&t.DeletedColumn, "deleted"}}
	for _, d := range defaults {
		if *d.p == "" {
			*d.p = d.def
		}
	}
	if t.IDKind == "" {
		t.IDKind = crm.ValueInt64
	}
	if t.IDKind != crm.ValueInt64 && t.IDKind != crm.ValueString {
		return t, fmt.Errorf("sqltable: Table.IDKind %q: want crm.ValueInt64 or crm.ValueString", t.IDKind)
	}
	var errs []error
	errs = append(errs, checkIdent("Table.Name", t.Name))
	seen := map[string]string{}
	use := func(role, name string) {
		if err := checkIdent(role, name); err != nil {
			errs = append(errs, err)
			return
		}
		// Unquoted names fold case in SQL, so two names that differ only
		// in case are one column to much of the application's own SQL.
		low := strings.ToLower(name)
		if prev, ok := seen[low]; ok {
			errs = append(errs, fmt.Errorf("sqltable: %s %q is also %s: every column needs its own name", role, name, prev))
			return
		}
		seen[low] = role
	}
	use("Table.IDColumn", t.IDColumn)
	use("Table.KeyColumn", t.KeyColumn)
	use("Table.VersionColumn", t.VersionColumn)
	use("Table.DeletedColumn", t.DeletedColumn)
	if t.ModifiedColumn != "" {
		use("Table.ModifiedColumn", t.ModifiedColumn)
	}
	if len(t.Columns) == 0 {
		errs = append(errs, errors.New("sqltable: Table.Columns is empty: declare the columns the engine syncs"))
	}
	t.Columns = append([]Column(nil), t.Columns...)
	for i, c := range t.Columns {
		use(fmt.Sprintf("Table.Columns[%d].Name", i), c.Name)
		switch c.Kind {
		case crm.ValueString, crm.ValueBool, crm.ValueInt64, crm.ValueDecimal, crm.ValueTime, crm.ValueDate, crm.ValueStrings:
		default:
			errs = append(errs, fmt.Errorf("sqltable: column %q has kind %q: want one of crm.ValueString, ValueBool, ValueInt64, ValueDecimal, ValueTime, ValueDate, ValueStrings", c.Name, c.Kind))
		}
	}
	return t, errors.Join(errs...)
}

// derived returns the name of a helper object (counter table, trigger,
// index) made from the table's name, checked like any identifier.
func (t Table) derived(suffix string) (string, error) {
	name := t.Name + "_" + suffix
	return name, checkIdent("the name derived from Table.Name", name)
}

// SQLiteSchema returns the statements that create the table in SQLite, if it
// does not exist: the table with the managed and mapped columns, the unique
// index on KeyColumn, an index on VersionColumn, a one-row counter table
// (<name>_version) and triggers that give every inserted or updated row the
// counter's next value in VersionColumn, and stamp ModifiedColumn (if
// declared) with the current time on an update that leaves it as it was.
// Run them in order, in one transaction (Endpoint.Install does).
//
// SQLite runs one writer at a time, so versions commit in the order they are
// taken and the change feed never skips a row that committed late.
func SQLiteSchema(t Table) ([]string, error) {
	t, err := t.normalize()
	if err != nil {
		return nil, err
	}
	counter, err1 := t.derived("version")
	ins, err2 := t.derived("version_insert")
	upd, err3 := t.derived("version_update")
	keyIdx, err4 := t.derived("key")
	verIdx, err5 := t.derived("version_idx")
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return nil, err
	}
	id := quote(t.IDColumn) + " INTEGER PRIMARY KEY"
	if t.IDKind == crm.ValueString {
		id = quote(t.IDColumn) + " TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(16))))"
	}
	cols := []string{
		id,
		quote(t.KeyColumn) + " TEXT",
		quote(t.VersionColumn) + " INTEGER NOT NULL DEFAULT 0",
		quote(t.DeletedColumn) + " INTEGER NOT NULL DEFAULT 0",
	}
	if t.ModifiedColumn != "" {
		cols = append(cols, quote(t.ModifiedColumn)+" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))")
	}
	for _, c := range t.Columns {
		typ := "TEXT"
		if c.Kind == crm.ValueBool || c.Kind == crm.ValueInt64 {
			typ = "INTEGER"
		}
		cols = append(cols, quote(c.Name)+" "+typ)
	}
	tbl, ver, cnt := quote(t.Name), quote(t.VersionColumn), quote(counter)
	next := fmt.Sprintf(`UPDATE %[1]s SET "value" = "value" + 1 WHERE "id" = 1; UPDATE %[2]s SET %[3]s = (SELECT "value" FROM %[1]s WHERE "id" = 1)%%s WHERE %[4]s = NEW.%[4]s;`,
		cnt, tbl, ver, quote(t.IDColumn))
	stamp := ""
	if t.ModifiedColumn != "" {
		// An update that leaves ModifiedColumn as it was (the application's
		// own SQL, usually) stamps it with the current time, so that
		// resolving conflicts by time sees the application's changes.
		m := quote(t.ModifiedColumn)
		stamp = fmt.Sprintf(`, %[1]s = CASE WHEN NEW.%[1]s IS OLD.%[1]s THEN strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now') ELSE NEW.%[1]s END`, m)
	}
	stmts := []string{
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n\t%s\n)", tbl, strings.Join(cols, ",\n\t")),
		fmt.Sprintf("CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (%s)", quote(keyIdx), tbl, quote(t.KeyColumn)),
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", quote(verIdx), tbl, ver),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s ("id" INTEGER PRIMARY KEY CHECK ("id" = 1), "value" INTEGER NOT NULL)`, cnt),
		fmt.Sprintf(`INSERT INTO %s ("id", "value") VALUES (1, 0) ON CONFLICT DO NOTHING`, cnt),
		fmt.Sprintf("CREATE TRIGGER IF NOT EXISTS %s AFTER INSERT ON %s FOR EACH ROW BEGIN %s END", quote(ins), tbl, fmt.Sprintf(next, "")),
		// Every update takes a new version, except the trigger's own update
		// that sets the version just taken (in case recursive triggers are on).
		fmt.Sprintf(`CREATE TRIGGER IF NOT EXISTS %s AFTER UPDATE ON %s FOR EACH ROW WHEN NOT (NEW.%s IS (SELECT "value" FROM %s WHERE "id" = 1) AND NEW.%s IS NOT OLD.%s) BEGIN %s END`,
			quote(upd), tbl, ver, cnt, ver, ver, fmt.Sprintf(next, stamp)),
	}
	return stmts, nil
}

// PostgresSchema returns the statements that create the table in
// PostgreSQL, if it does not exist: the table, the unique index on
// KeyColumn, an index on VersionColumn, a sequence (<name>_version_seq) and
// a trigger that gives every inserted or updated row the sequence's next
// value in VersionColumn, and stamps ModifiedColumn (if declared) as
// SQLiteSchema's do.
//
// A sequence hands out numbers when rows are written, not when they commit:
// a row can commit after one with a higher version has been read. Use
// WithLookback so the change feed re-reads the last versions before its
// cursor. (PostgreSQL support is tested against a real server separately
// from this package's SQLite tests.)
func PostgresSchema(t Table) ([]string, error) {
	t, err := t.normalize()
	if err != nil {
		return nil, err
	}
	seq, err1 := t.derived("version_seq")
	fn, err2 := t.derived("version_bump")
	trg, err3 := t.derived("version")
	keyIdx, err4 := t.derived("key")
	verIdx, err5 := t.derived("version_idx")
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return nil, err
	}
	id := quote(t.IDColumn) + " bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
	if t.IDKind == crm.ValueString {
		id = quote(t.IDColumn) + " text PRIMARY KEY DEFAULT gen_random_uuid()::text"
	}
	cols := []string{
		id,
		quote(t.KeyColumn) + " text",
		quote(t.VersionColumn) + " bigint NOT NULL DEFAULT 0",
		quote(t.DeletedColumn) + " boolean NOT NULL DEFAULT false",
	}
	if t.ModifiedColumn != "" {
		cols = append(cols, quote(t.ModifiedColumn)+" timestamptz NOT NULL DEFAULT now()")
	}
	for _, c := range t.Columns {
		typ := "text"
		switch c.Kind {
		case crm.ValueBool:
			typ = "boolean"
		case crm.ValueInt64:
			typ = "bigint"
		case crm.ValueTime:
			typ = "timestamptz"
		case crm.ValueDate:
			typ = "date"
		}
		cols = append(cols, quote(c.Name)+" "+typ)
	}
	tbl := quote(t.Name)
	stamp := ""
	if t.ModifiedColumn != "" {
		// As in SQLiteSchema: an update that leaves ModifiedColumn as it
		// was stamps it with the current time.
		m := quote(t.ModifiedColumn)
		stamp = fmt.Sprintf(" IF TG_OP = 'UPDATE' AND NEW.%s IS NOT DISTINCT FROM OLD.%s THEN NEW.%s := now(); END IF;", m, m, m)
	}
	return []string{
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n\t%s\n)", tbl, strings.Join(cols, ",\n\t")),
		fmt.Sprintf("CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (%s)", quote(keyIdx), tbl, quote(t.KeyColumn)),
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", quote(verIdx), tbl, quote(t.VersionColumn)),
		fmt.Sprintf("CREATE SEQUENCE IF NOT EXISTS %s", quote(seq)),
		fmt.Sprintf(`CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.%s := nextval('%s');%s RETURN NEW; END $$`,
			quote(fn), quote(t.VersionColumn), quote(seq), stamp),
		fmt.Sprintf("DROP TRIGGER IF EXISTS %s ON %s", quote(trg), tbl),
		fmt.Sprintf("CREATE TRIGGER %s BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION %s()", quote(trg), tbl, quote(fn)),
	}, nil
}
