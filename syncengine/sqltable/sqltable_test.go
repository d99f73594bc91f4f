package sqltable_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/endpointtest"
	"github.com/crmkit/crmkit/syncengine/sqltable"

	_ "modernc.org/sqlite"
)

var contacts = sqltable.Table{
	Name:           "contacts",
	ModifiedColumn: "modified_at",
	Columns: []sqltable.Column{
		{Name: "name", Kind: crm.ValueString},
		{Name: "email", Kind: crm.ValueString},
		{Name: "active", Kind: crm.ValueBool},
		{Name: "score", Kind: crm.ValueInt64},
		{Name: "amount", Kind: crm.ValueDecimal},
		{Name: "seen", Kind: crm.ValueTime},
		{Name: "born", Kind: crm.ValueDate},
		{Name: "tags", Kind: crm.ValueStrings},
	},
}

// openDB opens a fresh SQLite file. Writers take the lock when their
// transaction begins (_txlock=immediate) and wait for each other
// (busy_timeout), as the package documentation advises.
func openDB(t testing.TB) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "app.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func newEndpoint(t testing.TB, db *sql.DB, tbl sqltable.Table, opts ...sqltable.Option) *sqltable.Endpoint {
	t.Helper()
	e, err := sqltable.New(db, tbl, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Install(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// app writes the table as the host application would, with its own SQL.
type app struct {
	db    *sql.DB
	table string
}

func (a app) insert(t *testing.T, f crm.Fields) string {
	t.Helper()
	names := f.Names()
	ph := make([]string, len(names))
	vals := make([]any, len(names))
	for i, n := range names {
		ph[i], vals[i] = "?", f[n]
		names[i] = `"` + n + `"`
	}
	var id int64
	q := fmt.Sprintf(`INSERT INTO %q (%s) VALUES (%s) RETURNING id`, a.table, strings.Join(names, ", "), strings.Join(ph, ", "))
	if err := a.db.QueryRowContext(t.Context(), q, vals...).Scan(&id); err != nil {
		t.Fatalf("the application's insert: %v", err)
	}
	return strconv.FormatInt(id, 10)
}

func (a app) modify(t *testing.T, id string, f crm.Fields) {
	t.Helper()
	var set []string
	var vals []any
	for _, n := range f.Names() {
		set = append(set, `"`+n+`" = ?`)
		vals = append(vals, f[n])
	}
	if _, err := a.db.ExecContext(t.Context(), fmt.Sprintf(`UPDATE %q SET %s WHERE id = ?`, a.table, strings.Join(set, ", ")), append(vals, id)...); err != nil {
		t.Fatalf("the application's update: %v", err)
	}
}

func (a app) remove(t *testing.T, id string) {
	t.Helper()
	if _, err := a.db.ExecContext(t.Context(), fmt.Sprintf(`UPDATE %q SET deleted = 1 WHERE id = ?`, a.table), id); err != nil {
		t.Fatalf("the application's delete: %v", err)
	}
}

func conformance(pageSize int, repeats bool, opts ...sqltable.Option) func(t *testing.T) endpointtest.Target {
	return func(t *testing.T) endpointtest.Target {
		db := openDB(t)
		e := newEndpoint(t, db, contacts, append([]sqltable.Option{sqltable.WithPageSize(pageSize), sqltable.WithBatchSize(5)}, opts...)...)
		a := app{db: db, table: "contacts"}
		return endpointtest.Target{
			Endpoint:    e,
			TextField:   "name",
			OtherField:  "email",
			Insert:      a.insert,
			Modify:      a.modify,
			Remove:      a.remove,
			SupportsKey: true,
			ChecksKinds: true,
			PageSize:    pageSize,
			Repeats:     repeats,
			MissingID:   "999999",
		}
	}
}

func TestConformance(t *testing.T) {
	endpointtest.Run(t, conformance(3, false))
}

// With a lookback window, as on PostgreSQL: the feed repeats recent rows.
func TestConformanceLookback(t *testing.T) {
	endpointtest.Run(t, conformance(3, true, sqltable.WithLookback(2)))
}

func apply(t *testing.T, e *sqltable.Endpoint, ws ...syncengine.Write) []syncengine.WriteResult {
	t.Helper()
	rs, err := e.Apply(t.Context(), ws)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(rs) != len(ws) {
		t.Fatalf("Apply of %d writes returned %d results", len(ws), len(rs))
	}
	return rs
}

func TestValuesRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 27, 13, 4, 5, 123456789, time.UTC)
	db := openDB(t)
	e := newEndpoint(t, db, contacts, sqltable.WithClock(func() time.Time { return at.In(time.FixedZone("x", 7200)) }))
	full := crm.Fields{
		"name": "Ada \"quoted\" '; DROP TABLE contacts; --", "email": "", "active": false, "score": int64(-9007199254740993),
		"amount": crm.MustDecimal("12345678901234567890.50"), "seen": at, "born": crm.Date{Year: 1815, Month: 12, Day: 10},
		"tags": []string{"a", "b;c", "é"},
	}
	nulls := crm.Fields{"name": nil, "email": nil, "active": nil, "score": nil, "amount": nil, "seen": nil, "born": nil, "tags": nil}
	rs := apply(t, e,
		syncengine.Write{Op: syncengine.Upsert, Key: "full", Fields: full},
		syncengine.Write{Op: syncengine.Upsert, Key: "nulls", Fields: nulls},
		syncengine.Write{Op: syncengine.Upsert, Key: "empty", Fields: crm.Fields{"tags": []string{}, "active": true}},
	)
	for i, r := range rs {
		if r.Err != nil {
			t.Fatalf("write %d: %v", i, r.Err)
		}
	}
	got, err := e.Get(t.Context(), []string{rs[0].ID, rs[1].ID, rs[2].ID})
	if err != nil {
		t.Fatal(err)
	}
	check := func(id string, want crm.Fields) {
		t.Helper()
		r := got[id]
		for name, w := range want {
			if g, ok := r.Fields[name]; !ok || !crm.EqualValues(g, w) {
				t.Errorf("%s: %s read back as %#v, want %#v", id, name, g, w)
			}
		}
		if !r.ModifiedAt.Equal(at) || r.ModifiedAt.Location() != time.UTC {
			t.Errorf("%s: ModifiedAt %v, want %v in UTC", id, r.ModifiedAt, at)
		}
	}
	check(rs[0].ID, full)
	check(rs[1].ID, nulls)
	check(rs[2].ID, crm.Fields{"tags": []string{}, "active": true, "name": nil})
	if d := got[rs[0].ID].Fields["amount"].(crm.Decimal); d.String() != "12345678901234567890.50" {
		t.Errorf("amount read back as %s, want its scale kept: 12345678901234567890.50", d)
	}
	// What is stored: exact text for decimals, RFC 3339 UTC text for times,
	// ISO dates, JSON arrays.
	var amount, seen, born, tags string
	if err := db.QueryRowContext(t.Context(), `SELECT amount, seen, born, tags FROM contacts WHERE id = ?`, rs[0].ID).Scan(&amount, &seen, &born, &tags); err != nil {
		t.Fatal(err)
	}
	if amount != "12345678901234567890.50" || seen != "2026-11-27T13:04:05.123456789Z" || born != "1815-12-10" || tags != `["a","b;c","é"]` {
		t.Errorf("stored amount=%q seen=%q born=%q tags=%q", amount, seen, born, tags)
	}
}

func TestConstraints(t *testing.T) {
	db := openDB(t)
	tbl := sqltable.Table{Name: "people", Columns: []sqltable.Column{{Name: "name", Kind: crm.ValueString}, {Name: "email", Kind: crm.ValueString}}}
	stmts, err := sqltable.SQLiteSchema(tbl)
	if err != nil {
		t.Fatal(err)
	}
	// The application's own table: a required name and a unique email.
	stmts[0] = `CREATE TABLE people (id INTEGER PRIMARY KEY, sync_key TEXT, sync_version INTEGER NOT NULL DEFAULT 0,
		deleted INTEGER NOT NULL DEFAULT 0, name TEXT NOT NULL, email TEXT UNIQUE)`
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	e, err := sqltable.New(db, tbl)
	if err != nil {
		t.Fatal(err)
	}
	first := apply(t, e, syncengine.Write{Op: syncengine.Upsert, Key: "c1", Fields: crm.Fields{"name": "Ada", "email": "ada@example.com"}})[0]
	rs := apply(t, e,
		syncengine.Write{Op: syncengine.Upsert, Key: "c2", Fields: crm.Fields{"name": "Grace", "email": "grace@example.com"}},
		syncengine.Write{Op: syncengine.Upsert, Key: "c3", Fields: crm.Fields{"name": "Copy", "email": "ada@example.com"}},
		syncengine.Write{Op: syncengine.Upsert, Key: "c4", Fields: crm.Fields{"email": "nameless@example.com"}},
		syncengine.Write{Op: syncengine.Update, ID: first.ID, Fields: crm.Fields{"name": nil}},
		syncengine.Write{Op: syncengine.Update, ID: first.ID, Fields: crm.Fields{"email": "grace@example.com"}},
		syncengine.Write{Op: syncengine.Update, ID: first.ID, Fields: crm.Fields{"name": "Ada L."}},
	)
	want := []struct {
		kind  crm.Kind
		field string
		id    string
	}{{}, {crm.KindDuplicate, "email", ""}, {crm.KindValidation, "name", ""}, {crm.KindValidation, "name", first.ID}, {crm.KindDuplicate, "email", first.ID}, {}}
	for i, w := range want {
		r := rs[i]
		if w.kind == 0 {
			if r.Err != nil {
				t.Errorf("write %d: %v, want success beside the failures", i, r.Err)
			}
			continue
		}
		var ce *crm.Error
		if !errors.As(r.Err, &ce) {
			t.Errorf("write %d: %v, want a *crm.Error of kind %s", i, r.Err, w.kind)
			continue
		}
		if ce.Kind != w.kind || !slices.Equal(ce.Fields, []string{w.field}) || ce.Object != "people" {
			t.Errorf("write %d: kind %s fields %v object %q, want kind %s naming %s in people: %v", i, ce.Kind, ce.Fields, ce.Object, w.kind, w.field, ce)
		}
		if w.id != "" && ce.RecordID != w.id {
			t.Errorf("write %d: RecordID %q, want %s", i, ce.RecordID, w.id)
		}
		if w.id == "" && !strings.Contains(ce.Error(), "c3") && !strings.Contains(ce.Error(), "c4") {
			t.Errorf("write %d: the error does not name the upsert's key: %v", i, ce)
		}
		if strings.Contains(ce.Error(), "ada@example.com") {
			t.Errorf("write %d: the error quotes a field value: %v", i, ce)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM people`).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d rows after the batch (err %v), want 2: failed upserts must leave nothing", n, err)
	}
	got, _ := e.Get(t.Context(), []string{first.ID})
	if f := got[first.ID].Fields; f["name"] != "Ada L." || f["email"] != "ada@example.com" {
		t.Errorf("after failed and good updates, the row holds %v", f)
	}
}

func TestUpdateAndDeleteMissing(t *testing.T) {
	db := openDB(t)
	e := newEndpoint(t, db, contacts)
	id := app{db, "contacts"}.insert(t, crm.Fields{"name": "Ada"})
	gone := app{db, "contacts"}.insert(t, crm.Fields{"name": "Gone"})
	app{db, "contacts"}.remove(t, gone)
	rs := apply(t, e,
		syncengine.Write{Op: syncengine.Update, ID: "424242", Fields: crm.Fields{"name": "x"}},
		syncengine.Write{Op: syncengine.Update, ID: "not-a-number", Fields: crm.Fields{"name": "x"}},
		syncengine.Write{Op: syncengine.Update, ID: gone, Fields: crm.Fields{"name": "x"}},
		syncengine.Write{Op: syncengine.Delete, ID: "424242"},
		syncengine.Write{Op: syncengine.Delete, ID: "not-a-number"},
		syncengine.Write{Op: syncengine.Delete, ID: gone},
		syncengine.Write{Op: syncengine.Upsert, Fields: crm.Fields{"name": "keyless"}},
		syncengine.Write{Op: 9, ID: id},
		syncengine.Write{Op: syncengine.Update, ID: id},
	)
	kinds := []crm.Kind{crm.KindNotFound, crm.KindNotFound, crm.KindNotFound, 0, 0, 0, crm.KindInvalidRequest, crm.KindInvalidRequest, 0}
	for i, k := range kinds {
		if got := crm.KindOf(rs[i].Err); got != k || (k == 0 && rs[i].Err != nil) {
			t.Errorf("write %d: %v, want kind %s", i, rs[i].Err, k)
		}
	}
	// An update of no fields is still a write: the version moves.
	if rs[8].Version == "" || rs[8].Version == "1" {
		t.Errorf("an update of no fields reports version %q, want a new one", rs[8].Version)
	}
}

func TestUpsertRevivesRemovedRow(t *testing.T) {
	db := openDB(t)
	e := newEndpoint(t, db, contacts)
	r := apply(t, e, syncengine.Write{Op: syncengine.Upsert, Key: "003A", Fields: crm.Fields{"name": "Ada"}})[0]
	app{db, "contacts"}.remove(t, r.ID)
	again := apply(t, e, syncengine.Write{Op: syncengine.Upsert, Key: "003A", Fields: crm.Fields{"name": "Ada again"}})[0]
	if again.Err != nil || again.ID != r.ID || !again.Created {
		t.Fatalf("an upsert on the key of a removed row: %+v, want row %s back with Created", again, r.ID)
	}
	got, _ := e.Get(t.Context(), []string{r.ID})
	if got[r.ID] == nil || got[r.ID].Fields["name"] != "Ada again" || got[r.ID].Key != "003A" {
		t.Errorf("Get after the revival: %+v", got[r.ID])
	}
}

// The triggers give every change a new, higher version, whatever the
// application's SQL does with the version column.
func TestVersionTriggers(t *testing.T) {
	db := openDB(t)
	e := newEndpoint(t, db, contacts)
	a := app{db, "contacts"}
	for i := range 3 {
		a.insert(t, crm.Fields{"name": fmt.Sprint("n", i), "sync_version": int64(100)})
	}
	versions := func() []int64 {
		rows, err := db.Query(`SELECT sync_version FROM contacts ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []int64
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	if v := versions(); !slices.Equal(v, []int64{1, 2, 3}) {
		t.Fatalf("versions after three inserts that set the version themselves: %v, want [1 2 3]", v)
	}
	// One statement updating every row, one row setting its version lower.
	if _, err := db.Exec(`UPDATE contacts SET score = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE contacts SET sync_version = 0, name = 'x' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	// The last row written, updated again without touching the version.
	if _, err := db.Exec(`UPDATE contacts SET name = 'y' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if v := versions(); !slices.Equal(v, []int64{8, 5, 6}) {
		t.Fatalf("versions after the updates: %v, want [8 5 6]", v)
	}
	p, err := e.Changes(t.Context(), "4")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range p.Records {
		ids = append(ids, r.ID+"@"+r.Version)
	}
	if got := strings.Join(ids, " "); got != "2@5 3@6 1@8" || p.Cursor != "8" {
		t.Errorf("the feed after version 4: %s, cursor %s; want 2@5 3@6 1@8, cursor 8", got, p.Cursor)
	}
	// The application's own update stamps the modified column, unless it
	// sets the column itself.
	if _, err := db.Exec(`UPDATE contacts SET modified_at = '2000-01-01T00:00:00Z' WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.Get(t.Context(), []string{"3"}); r["3"].ModifiedAt.Year() != 2000 {
		t.Errorf("an update that sets modified_at itself: ModifiedAt %v, want the value it set", r["3"].ModifiedAt)
	}
	if _, err := db.Exec(`UPDATE contacts SET name = 'w' WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.Get(t.Context(), []string{"3"}); time.Since(r["3"].ModifiedAt) > time.Hour {
		t.Errorf("an update that leaves modified_at alone: ModifiedAt %v, want about now", r["3"].ModifiedAt)
	}
	a.modify(t, "2", crm.Fields{"name": "v"})
	if v := versions(); v[1] != 11 {
		t.Fatalf("versions after the modified_at updates: %v, want row 2 at 11", v)
	}
	// Install again: the schema is idempotent and keeps the counter.
	if err := e.Install(t.Context()); err != nil {
		t.Fatalf("a second Install: %v", err)
	}
	a.modify(t, "2", crm.Fields{"name": "z"})
	if v := versions(); v[1] != 12 {
		t.Errorf("after a second Install, the next version is %d, want 12", v[1])
	}
}

// An application that maintains versions itself, without the triggers, may
// give several rows one version, and may commit a version late: the feed
// never splits a version across pages, and WithLookback re-reads the window.
func TestAppManagedVersions(t *testing.T) {
	db := openDB(t)
	tbl := sqltable.Table{Name: "items", Columns: []sqltable.Column{{Name: "name", Kind: crm.ValueString}}}
	if _, err := db.Exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, sync_key TEXT UNIQUE, sync_version INTEGER, deleted INTEGER, name TEXT)`); err != nil {
		t.Fatal(err)
	}
	for i, v := range []int64{1, 2, 2, 2, 2, 3, 5} {
		if _, err := db.Exec(`INSERT INTO items (sync_version, name) VALUES (?, ?)`, v, fmt.Sprint("n", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO items (sync_version, name) VALUES (NULL, 'unversioned')`); err != nil {
		t.Fatal(err)
	}
	drain := func(e *sqltable.Endpoint, cursor string) (pages []string, end string) {
		for {
			p, err := e.Changes(t.Context(), cursor)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range p.Records {
				ids = append(ids, r.ID)
			}
			pages = append(pages, strings.Join(ids, ","))
			cursor = p.Cursor
			if !p.More {
				return pages, cursor
			}
		}
	}
	e, err := sqltable.New(db, tbl, sqltable.WithPageSize(2))
	if err != nil {
		t.Fatal(err)
	}
	pages, end := drain(e, "")
	if got := strings.Join(pages, " | "); got != "1 | 2,3,4,5 | 6,7" || end != "5" {
		t.Errorf("pages of 2 over versions 1,2,2,2,2,3,5: %s (end %s), want 1 | 2,3,4,5 | 6,7 (end 5)", got, end)
	}
	// Version 4 commits after 5 was read.
	if _, err := db.Exec(`INSERT INTO items (sync_version, name) VALUES (4, 'late')`); err != nil {
		t.Fatal(err)
	}
	if pages, _ := drain(e, end); pages[0] != "" {
		t.Errorf("without a lookback, the late row is found: %v (the test expects it missed)", pages)
	}
	lb, err := sqltable.New(db, tbl, sqltable.WithPageSize(2), sqltable.WithLookback(2))
	if err != nil {
		t.Fatal(err)
	}
	if pages, end2 := drain(lb, end); pages[0] != "9,7" || end2 != "5" {
		t.Errorf("with a lookback of 2 after version 5: %v (end %s), want the late row 9 and row 7 again, end 5", pages, end2)
	}
}

func TestUnreadableValue(t *testing.T) {
	db := openDB(t)
	e := newEndpoint(t, db, contacts)
	id := app{db, "contacts"}.insert(t, crm.Fields{"name": "Ada", "amount": "twelve"})
	_, err := e.Changes(t.Context(), "")
	var ce *crm.Error
	if !errors.As(err, &ce) || ce.RecordID != id || !slices.Equal(ce.Fields, []string{"amount"}) {
		t.Fatalf("Changes over a row whose decimal column holds text: %v, want an error naming row %s and column amount", err, id)
	}
	if strings.Contains(err.Error(), "twelve") {
		t.Errorf("the error quotes the stored value: %v", err)
	}
}

func TestNewRefusesBadDeclarations(t *testing.T) {
	db := openDB(t)
	col := []sqltable.Column{{Name: "name", Kind: crm.ValueString}}
	cases := map[string]struct {
		t    sqltable.Table
		opts []sqltable.Option
	}{
		"injection":       {t: sqltable.Table{Name: `x"; DROP TABLE y; --`, Columns: col}},
		"leading digit":   {t: sqltable.Table{Name: "1x", Columns: col}},
		"dotted":          {t: sqltable.Table{Name: "public.x", Columns: col}},
		"empty name":      {t: sqltable.Table{Columns: col}},
		"no columns":      {t: sqltable.Table{Name: "x"}},
		"bad column":      {t: sqltable.Table{Name: "x", Columns: []sqltable.Column{{Name: "a b", Kind: crm.ValueString}}}},
		"bad kind":        {t: sqltable.Table{Name: "x", Columns: []sqltable.Column{{Name: "a", Kind: "float"}}}},
		"duplicate":       {t: sqltable.Table{Name: "x", Columns: []sqltable.Column{{Name: "a", Kind: crm.ValueString}, {Name: "A", Kind: crm.ValueInt64}}}},
		"column is id":    {t: sqltable.Table{Name: "x", Columns: []sqltable.Column{{Name: "id", Kind: crm.ValueString}}}},
		"long":            {t: sqltable.Table{Name: strings.Repeat("x", 64), Columns: col}},
		"id kind":         {t: sqltable.Table{Name: "x", IDKind: crm.ValueDecimal, Columns: col}},
		"page size":       {t: sqltable.Table{Name: "x", Columns: col}, opts: []sqltable.Option{sqltable.WithPageSize(0)}},
		"batch size":      {t: sqltable.Table{Name: "x", Columns: col}, opts: []sqltable.Option{sqltable.WithBatchSize(-1)}},
		"lookback":        {t: sqltable.Table{Name: "x", Columns: col}, opts: []sqltable.Option{sqltable.WithLookback(-1)}},
		"dialect":         {t: sqltable.Table{Name: "x", Columns: col}, opts: []sqltable.Option{sqltable.WithDialect(9)}},
		"derived too big": {t: sqltable.Table{Name: strings.Repeat("x", 60), Columns: col}},
	}
	for name, c := range cases {
		_, err := sqltable.New(db, c.t, c.opts...)
		if name == "derived too big" {
			// New accepts it; the schema helpers cannot name the triggers.
			if err != nil {
				t.Errorf("%s: New: %v", name, err)
			}
			_, err = sqltable.SQLiteSchema(c.t)
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := sqltable.New(nil, sqltable.Table{Name: "x", Columns: col}); err == nil {
		t.Error("New(nil db) accepted")
	}
}

// Reserved words and mixed case are fine as names: every name is quoted.
func TestQuotedNames(t *testing.T) {
	db := openDB(t)
	tbl := sqltable.Table{Name: "order", IDColumn: "select", KeyColumn: "from", VersionColumn: "where", DeletedColumn: "group",
		Columns: []sqltable.Column{{Name: "Table", Kind: crm.ValueString}}}
	e := newEndpoint(t, db, tbl)
	r := apply(t, e, syncengine.Write{Op: syncengine.Upsert, Key: "k", Fields: crm.Fields{"Table": "x"}})[0]
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	found, err := e.Find(t.Context(), "Table", "x")
	if err != nil || len(found) != 1 || found[0].Key != "k" {
		t.Fatalf("Find over quoted names: %v, %v", found, err)
	}
}

func TestFind(t *testing.T) {
	db := openDB(t)
	e := newEndpoint(t, db, contacts)
	a := app{db, "contacts"}
	x := a.insert(t, crm.Fields{"email": "x@example.com", "amount": "1.50"})
	upper := a.insert(t, crm.Fields{"email": " X@Example.com"})
	y := a.insert(t, crm.Fields{"email": "x@example.com"})
	a.insert(t, crm.Fields{"email": "xx@example.com"})
	gone := a.insert(t, crm.Fields{"email": "x@example.com"})
	a.remove(t, gone)
	// Text matches ignoring case and surrounding spaces, as the engine
	// compares natural keys.
	rs, err := e.Find(t.Context(), "email", "x@example.com")
	if err != nil || len(rs) != 3 || rs[0].ID != x || rs[1].ID != upper || rs[2].ID != y {
		t.Errorf("Find(email): %v, %v; want %s, %s and %s", rs, err, x, upper, y)
	}
	if _, err := e.Find(t.Context(), "nope", "x"); crm.KindOf(err) != crm.KindValidation {
		t.Errorf("Find on an undeclared column: %v", err)
	}
	if _, err := e.Find(t.Context(), "score", "x"); crm.KindOf(err) != crm.KindValidation {
		t.Errorf("Find with a value of the wrong kind: %v", err)
	}
	if _, err := e.Find(t.Context(), "email", nil); crm.KindOf(err) != crm.KindInvalidRequest {
		t.Errorf("Find with nil: %v", err)
	}
}

// A failure of the call, not of a record, fails the whole Apply and commits
// nothing.
func TestApplyCallFailure(t *testing.T) {
	db := openDB(t)
	e := newEndpoint(t, db, contacts)
	if _, err := db.Exec(`CREATE TRIGGER boom AFTER INSERT ON contacts WHEN NEW.name = 'boom' BEGIN SELECT RAISE(FAIL, 'disk on fire'); END`); err != nil {
		t.Fatal(err)
	}
	rs := apply(t, e, syncengine.Write{Op: syncengine.Upsert, Key: "ok", Fields: crm.Fields{"name": "fine"}},
		syncengine.Write{Op: syncengine.Upsert, Key: "boom", Fields: crm.Fields{"name": "boom"}})
	// RAISE(FAIL) is a constraint error in SQLite: it fails the record.
	if rs[0].Err != nil || crm.KindOf(rs[1].Err) != crm.KindValidation {
		t.Fatalf("a trigger refusing one row: %v / %v", rs[0].Err, rs[1].Err)
	}
	if _, err := db.Exec(`DROP TABLE contacts_version`); err != nil {
		t.Fatal(err)
	}
	_, err := e.Apply(t.Context(), []syncengine.Write{{Op: syncengine.Upsert, Key: "k2", Fields: crm.Fields{"name": "x"}}})
	if err == nil {
		t.Fatal("Apply with the version counter table gone succeeded")
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM contacts WHERE sync_key = 'k2'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("a failed Apply left %d rows (err %v)", n, err)
	}
}

func TestSchemas(t *testing.T) {
	stmts, err := sqltable.PostgresSchema(contacts)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(stmts, ";\n")
	for _, want := range []string{
		`"id" bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY`,
		`"seen" timestamptz`, `"born" date`, `"active" boolean`, `"amount" text`, `"score" bigint`,
		`CREATE UNIQUE INDEX IF NOT EXISTS "contacts_key" ON "contacts" ("sync_key")`,
		`nextval('"contacts_version_seq"')`,
		`BEFORE INSERT OR UPDATE ON "contacts" FOR EACH ROW`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("PostgresSchema lacks %q:\n%s", want, all)
		}
	}
	// Text ids get a default in both dialects.
	text := contacts
	text.Name, text.IDKind = "notes", crm.ValueString
	db := openDB(t)
	e := newEndpoint(t, db, text)
	r := apply(t, e, syncengine.Write{Op: syncengine.Upsert, Key: "k", Fields: crm.Fields{"name": "x"}})[0]
	if r.Err != nil || len(r.ID) != 32 {
		t.Fatalf("an upsert into a table with text ids: %+v", r)
	}
	if got, err := e.Get(t.Context(), []string{r.ID}); err != nil || got[r.ID] == nil {
		t.Errorf("Get by text id: %v, %v", got, err)
	}
}

func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "0", "12", "-3", "x", "1e3", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := sqltable.ParseCursor(s)
		if err != nil {
			if crm.KindOf(err) != crm.KindInvalidRequest {
				t.Fatalf("ParseCursor(%q): %v, want KindInvalidRequest", s, err)
			}
			return
		}
		if n < 0 || (s != "" && strconv.FormatInt(n, 10) != s) {
			t.Fatalf("ParseCursor(%q) = %d", s, n)
		}
	})
}

// TestStoredValues stores values of every SQLite storage class in every
// column, as an application writing its own table might, and reads them
// through the endpoint: each either decodes to a value of the column's kind
// or fails the read with an error naming the column. (FuzzDecode covers the
// decoding itself with arbitrary input.)
func TestStoredValues(t *testing.T) {
	db := openDB(t)
	e := newEndpoint(t, db, contacts)
	values := []any{"12.50", "", "x", `["a"]`, "null", "2026-11-27T13:00:00Z", "2026-11-27 13:00:00", "true",
		int64(0), int64(1), int64(-7), 1.5, 2.0, []byte{0xff, 0}}
	for _, c := range contacts.Columns {
		for _, v := range values {
			var id int64
			if err := db.QueryRow(fmt.Sprintf(`INSERT INTO contacts (%q) VALUES (?) RETURNING id`, c.Name), v).Scan(&id); err != nil {
				t.Fatal(err)
			}
			sid := strconv.FormatInt(id, 10)
			got, err := e.Get(t.Context(), []string{sid})
			if err != nil {
				var ce *crm.Error
				if !errors.As(err, &ce) || !slices.Equal(ce.Fields, []string{c.Name}) || ce.RecordID != sid {
					t.Errorf("reading %T %v in %s: %v, want an error naming the row and column", v, v, c.Name, err)
				}
			} else if val := got[sid].Fields[c.Name]; val != nil && crm.ValueKindOf(val) != c.Kind {
				t.Errorf("reading %T %v in %s gave a %T", v, v, c.Name, val)
			}
			if _, err := db.Exec(`DELETE FROM contacts WHERE id = ?`, id); err != nil {
				t.Fatal(err)
			}
		}
	}
}
