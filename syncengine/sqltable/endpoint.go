package sqltable

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
)

// Defaults of the options.
const (
	DefaultPageSize  = 500
	DefaultBatchSize = 500
)

// getChunk is how many ids one Get or feed query binds: far below SQLite's
// and PostgreSQL's limits on parameters.
const getChunk = 500

// Option configures an Endpoint.
type Option func(*config)

type config struct {
	dialect   Dialect
	pageSize  int
	batchSize int
	lookback  int64
	clock     func() time.Time
}

// WithDialect sets the database's dialect (SQLite by default).
func WithDialect(d Dialect) Option { return func(c *config) { c.dialect = d } }

// WithPageSize sets how many changed rows one Changes page holds at most
// (DefaultPageSize by default). Rows that share one version are never split
// across pages, so a page can exceed it when many do.
func WithPageSize(n int) Option { return func(c *config) { c.pageSize = n } }

// WithBatchSize sets what BatchSize reports: how many writes the engine puts
// in one Apply call, and so in one transaction (DefaultBatchSize by default).
func WithBatchSize(n int) Option { return func(c *config) { c.batchSize = n } }

// WithLookback makes every Changes call re-read the rows whose versions are
// among the last n before the cursor, so that a row whose version was taken
// before the cursor's but committed after it was read is still reported
// (at least once). PostgreSQL needs it: a sequence hands out versions in
// write order, not commit order. Size n to the number of versions taken
// while the longest write transaction runs. SQLite needs none (0, the
// default): it has one writer at a time.
func WithLookback(n int64) Option { return func(c *config) { c.lookback = n } }

// WithClock sets the clock that stamps ModifiedColumn on the endpoint's
// writes (time.Now by default).
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// Endpoint is the application side of a pairing over one table of a
// database/sql database. It implements syncengine.Endpoint, Finder and
// BatchSizer, and is safe for concurrent use as *sql.DB is.
type Endpoint struct {
	db  *sql.DB
	t   Table
	cfg config

	cols map[string]Column

	// Quoted names and the select list, built once.
	qTable, qID, qKey, qVersion, qDeleted, qModified string
	selectList                                       string
	notDeleted                                       string // a predicate with one placeholder, bound to true
}

var (
	_ syncengine.Endpoint   = (*Endpoint)(nil)
	_ syncengine.Finder     = (*Endpoint)(nil)
	_ syncengine.BatchSizer = (*Endpoint)(nil)
)

// New returns the endpoint for table t in db. It checks the declaration
// (names, kinds, options) but does not touch the database: call Install to
// create the table, or make sure it exists as t declares.
func New(db *sql.DB, t Table, opts ...Option) (*Endpoint, error) {
	if db == nil {
		return nil, errors.New("sqltable: New needs a *sql.DB")
	}
	t, err := t.normalize()
	if err != nil {
		return nil, err
	}
	e := &Endpoint{db: db, t: t, cfg: config{dialect: SQLite, pageSize: DefaultPageSize, batchSize: DefaultBatchSize, clock: time.Now}}
	for _, o := range opts {
		o(&e.cfg)
	}
	switch {
	case e.cfg.dialect != SQLite && e.cfg.dialect != PostgreSQL:
		return nil, fmt.Errorf("sqltable: dialect %s is not SQLite or PostgreSQL", e.cfg.dialect)
	case e.cfg.pageSize <= 0:
		return nil, fmt.Errorf("sqltable: WithPageSize(%d): want a positive page size", e.cfg.pageSize)
	case e.cfg.batchSize <= 0:
		return nil, fmt.Errorf("sqltable: WithBatchSize(%d): want a positive batch size", e.cfg.batchSize)
	case e.cfg.lookback < 0:
		return nil, fmt.Errorf("sqltable: WithLookback(%d): want 0 or more versions", e.cfg.lookback)
	case e.cfg.clock == nil:
		return nil, errors.New("sqltable: WithClock(nil): want a clock")
	}
	e.cols = make(map[string]Column, len(t.Columns))
	for _, c := range t.Columns {
		e.cols[c.Name] = c
	}
	e.qTable, e.qID, e.qKey, e.qVersion, e.qDeleted = quote(t.Name), quote(t.IDColumn), quote(t.KeyColumn), quote(t.VersionColumn), quote(t.DeletedColumn)
	list := []string{e.qID, e.qKey, e.qVersion, e.qDeleted}
	if t.ModifiedColumn != "" {
		e.qModified = quote(t.ModifiedColumn)
		list = append(list, e.qModified)
	}
	for _, c := range t.Columns {
		list = append(list, quote(c.Name))
	}
	e.selectList = strings.Join(list, ", ")
	e.notDeleted = fmt.Sprintf("(%[1]s IS NULL OR %[1]s <> ", e.qDeleted) // + placeholder + ")"
	return e, nil
}

// Table returns the table declaration, with defaults filled in.
func (e *Endpoint) Table() Table {
	t := e.t
	t.Columns = slices.Clone(t.Columns)
	return t
}

// Install creates the table, its indexes and its version triggers if they do
// not exist (SQLiteSchema or PostgresSchema, by dialect), in one transaction.
func (e *Endpoint) Install(ctx context.Context) error {
	schema := SQLiteSchema
	if e.cfg.dialect == PostgreSQL {
		schema = PostgresSchema
	}
	stmts, err := schema(e.t)
	if err != nil {
		return err
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return callError("install", e.t.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return callError("install", e.t.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return callError("install", e.t.Name, err)
	}
	return nil
}

// BatchSize reports how many writes one Apply call should carry.
func (e *Endpoint) BatchSize() int { return e.cfg.batchSize }

// args collects a statement's arguments and renders their placeholders.
type args struct {
	d    Dialect
	vals []any
}

func (a *args) add(v any) string {
	a.vals = append(a.vals, v)
	if a.d == PostgreSQL {
		return "$" + strconv.Itoa(len(a.vals))
	}
	return "?"
}

// row is one row read, with its version as a number.
type row struct {
	rec     *syncengine.Record
	version int64
}

// query runs a SELECT of the select list and decodes its rows.
func (e *Endpoint) query(ctx context.Context, q querier, op, where string, a *args) ([]row, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+e.selectList+" FROM "+e.qTable+" WHERE "+where, a.vals...)
	if err != nil {
		return nil, callError(op, e.t.Name, err)
	}
	defer rows.Close()
	n := 4 + len(e.t.Columns)
	if e.qModified != "" {
		n++
	}
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []row
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, callError(op, e.t.Name, err)
		}
		r, err := e.decodeRow(op, vals)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, callError(op, e.t.Name, err)
	}
	return out, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// decodeRow turns scanned values into a record. A value that cannot be read
// fails the call with an error naming the row and the column: reporting the
// row without it would sync a wrong value, and skipping it would lose it.
func (e *Endpoint) decodeRow(op string, vals []any) (row, error) {
	id, err := decodeID(vals[0])
	if err != nil {
		return row{}, e.readErr(op, "", e.t.IDColumn, err)
	}
	r := &syncengine.Record{ID: id}
	if vals[1] != nil {
		k, err := decode(crm.ValueString, vals[1])
		if err != nil {
			return row{}, e.readErr(op, id, e.t.KeyColumn, err)
		}
		r.Key = k.(string)
	}
	v, err := decodeVersion(vals[2])
	if err != nil {
		return row{}, e.readErr(op, id, e.t.VersionColumn, err)
	}
	if v >= 0 {
		r.Version = strconv.FormatInt(v, 10)
	}
	r.Deleted = truthy(vals[3])
	i := 4
	if e.qModified != "" {
		m, err := decode(crm.ValueTime, vals[4])
		if err != nil {
			return row{}, e.readErr(op, id, e.t.ModifiedColumn, err)
		}
		if m != nil {
			r.ModifiedAt = m.(time.Time)
		}
		i++
	}
	if !r.Deleted {
		r.Fields = make(crm.Fields, len(e.t.Columns))
		for j, c := range e.t.Columns {
			x, err := decode(c.Kind, vals[i+j])
			if err != nil {
				return row{}, e.readErr(op, id, c.Name, err)
			}
			r.Fields[c.Name] = x
		}
	}
	return row{rec: r, version: v}, nil
}

func (e *Endpoint) readErr(op, id, column string, err error) error {
	return &crm.Error{Kind: crm.KindValidation, CRM: "sqltable", Operation: op, Object: e.t.Name, RecordID: id, Fields: []string{column},
		Message: fmt.Sprintf("cannot read column %s: %v; fix the stored value, or the column's declared kind", column, err)}
}

// Changes returns the rows whose version is above the cursor, in version
// order, at most the page size of them (never splitting rows that share a
// version), preceded by the lookback window's rows when WithLookback is
// set. Deleted rows come as tombstones. The cursor is the highest version
// reported.
func (e *Endpoint) Changes(ctx context.Context, cursor string) (*syncengine.ChangePage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	after, err := ParseCursor(cursor)
	if err != nil {
		return nil, err
	}
	page := &syncengine.ChangePage{Cursor: strconv.FormatInt(after, 10)}
	if e.cfg.lookback > 0 && after > 0 {
		lo := max(after-e.cfg.lookback, 0)
		a := &args{d: e.cfg.dialect}
		where := fmt.Sprintf("%s > %s AND %s <= %s ORDER BY %s, %s", e.qVersion, a.add(lo), e.qVersion, a.add(after), e.qVersion, e.qID)
		rows, err := e.query(ctx, e.db, "changes", where, a)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			page.Records = append(page.Records, r.rec)
		}
	}
	a := &args{d: e.cfg.dialect}
	where := fmt.Sprintf("%s > %s ORDER BY %s, %s LIMIT %d", e.qVersion, a.add(after), e.qVersion, e.qID, e.cfg.pageSize+1)
	rows, err := e.query(ctx, e.db, "changes", where, a)
	if err != nil {
		return nil, err
	}
	if len(rows) > e.cfg.pageSize {
		page.More = true
		next := rows[e.cfg.pageSize].version
		cut := e.cfg.pageSize
		for cut > 0 && rows[cut-1].version == next {
			cut--
		}
		if cut > 0 {
			rows = rows[:cut]
		} else {
			// One version fills the page: read all its rows, so the cursor
			// can move past it.
			a := &args{d: e.cfg.dialect}
			rows, err = e.query(ctx, e.db, "changes", fmt.Sprintf("%s = %s ORDER BY %s", e.qVersion, a.add(next), e.qID), a)
			if err != nil {
				return nil, err
			}
		}
	}
	for _, r := range rows {
		page.Records = append(page.Records, r.rec)
	}
	if len(rows) > 0 {
		page.Cursor = strconv.FormatInt(rows[len(rows)-1].version, 10)
	}
	return page, nil
}

// idArg converts an engine id to the id column's type; ok is false for an
// id that no row can have (not a number, for integer ids).
func (e *Endpoint) idArg(id string) (any, bool) {
	if e.t.IDKind == crm.ValueString {
		return id, true
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != id {
		return nil, false
	}
	return n, true
}

// Get returns the live rows among ids; deleted rows and unknown ids are
// absent.
func (e *Endpoint) Get(ctx context.Context, ids []string) (map[string]*syncengine.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]*syncengine.Record, len(ids))
	var keys []any
	for _, id := range ids {
		if k, ok := e.idArg(id); ok {
			keys = append(keys, k)
		}
	}
	for start := 0; start < len(keys); start += getChunk {
		part := keys[start:min(start+getChunk, len(keys))]
		a := &args{d: e.cfg.dialect}
		ph := make([]string, len(part))
		for i, k := range part {
			ph[i] = a.add(k)
		}
		where := fmt.Sprintf("%s IN (%s) AND %s%s)", e.qID, strings.Join(ph, ", "), e.notDeleted, a.add(true))
		rows, err := e.query(ctx, e.db, "get", where, a)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if !r.rec.Deleted { // a deleted value the SQL predicate let through, such as 2
				out[r.rec.ID] = r.rec
			}
		}
	}
	return out, nil
}

// Find returns the live rows whose column field equals value, in id order.
// The field must be a declared column and the value of its kind; nil is
// refused, since null is no key.
func (e *Endpoint) Find(ctx context.Context, field string, value any) ([]*syncengine.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, ok := e.cols[field]
	if !ok {
		return nil, &crm.Error{Kind: crm.KindValidation, CRM: "sqltable", Operation: "find", Object: e.t.Name, Fields: []string{field},
			Message: fmt.Sprintf("%s is not a declared column (declared: %s)", field, e.columnNames())}
	}
	if value == nil {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: "sqltable", Operation: "find", Object: e.t.Name, Fields: []string{field},
			Message: "Find needs a value: null matches no record"}
	}
	v, err := encode(e.cfg.dialect, c.Kind, value)
	if err != nil {
		return nil, &crm.Error{Kind: crm.KindValidation, CRM: "sqltable", Operation: "find", Object: e.t.Name, Fields: []string{field},
			Message: fmt.Sprintf("column %s: %v", field, err)}
	}
	a := &args{d: e.cfg.dialect}
	ph := a.add(v)
	cmp := fmt.Sprintf("%s = %s", quote(field), ph)
	if c.Kind == crm.ValueString {
		// Text is found ignoring case and surrounding spaces, as the sync
		// engine matches natural keys (lower() folds ASCII in SQLite).
		cmp = fmt.Sprintf("lower(trim(%s)) = lower(trim(%s))", quote(field), ph)
	}
	where := fmt.Sprintf("%s AND %s%s) ORDER BY %s", cmp, e.notDeleted, a.add(true), e.qID)
	rows, err := e.query(ctx, e.db, "find", where, a)
	if err != nil {
		return nil, err
	}
	out := make([]*syncengine.Record, 0, len(rows))
	for _, r := range rows {
		if !r.rec.Deleted {
			out = append(out, r.rec)
		}
	}
	return out, nil
}

func (e *Endpoint) columnNames() string {
	names := make([]string, len(e.t.Columns))
	for i, c := range e.t.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// Apply applies writes in order in one transaction, each in its own
// savepoint: a write the database refuses (a NOT NULL, UNIQUE or CHECK
// constraint) or that the endpoint refuses first (an undeclared column, a
// value of the wrong kind) is rolled back alone and has a *crm.Error in its
// result, KindDuplicate for a unique violation and KindValidation
// otherwise, naming the column and the record. Any other failure fails the
// call: nothing is committed.
//
// An Upsert finds the row by KeyColumn and updates it (bringing a deleted
// row back, reported as Created), or inserts a row with the key, using
// INSERT ... ON CONFLICT so that a concurrent insert of the same key cannot
// make a second row. An Update of a missing or deleted row fails with
// KindNotFound. A Delete sets DeletedColumn; deleting a missing or deleted
// row succeeds and changes nothing.
func (e *Endpoint) Apply(ctx context.Context, writes []syncengine.Write) ([]syncengine.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]syncengine.WriteResult, len(writes))
	if len(writes) == 0 {
		return out, nil
	}
	now := e.cfg.clock().UTC()
	var modified any
	if e.qModified != "" {
		modified, _ = encode(e.cfg.dialect, crm.ValueTime, now)
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, callError("apply", e.t.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	st := &stmtTx{tx: tx, stmts: map[string]*sql.Stmt{}}
	for i := range writes {
		w := &writes[i]
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cols, vals, werr := e.encodeWrite(w)
		if werr != nil {
			out[i] = syncengine.WriteResult{ID: w.ID, Err: werr}
			continue
		}
		if _, err := st.ExecContext(ctx, "SAVEPOINT sqltable_write"); err != nil {
			return nil, callError("apply", e.t.Name, err)
		}
		res, err := e.applyOne(ctx, st, w, cols, vals, modified)
		if err != nil {
			f, ok := recordFailure(ctx, err)
			if !ok {
				return nil, callError("apply", e.t.Name, err)
			}
			if _, err := st.ExecContext(ctx, "ROLLBACK TO SAVEPOINT sqltable_write"); err != nil {
				return nil, callError("apply", e.t.Name, err)
			}
			res.Err = e.writeErr(w, res.ID, f)
		}
		if _, err := st.ExecContext(ctx, "RELEASE SAVEPOINT sqltable_write"); err != nil {
			return nil, callError("apply", e.t.Name, err)
		}
		out[i] = res
	}
	if err := tx.Commit(); err != nil {
		return nil, callError("apply", e.t.Name, err)
	}
	return out, nil
}

// stmtTx prepares each distinct statement of an Apply once, on its
// transaction: a batch of a thousand upserts runs a handful of statement
// shapes a thousand times each.
type stmtTx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func (s *stmtTx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts[query]; ok {
		return st, nil
	}
	st, err := s.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.stmts[query] = st
	return st, nil
}

func (s *stmtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// scanRow runs a query expected to return one row and scans it.
func (s *stmtTx) scanRow(ctx context.Context, query string, args []any, dest ...any) error {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return err
	}
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}

// encodeWrite checks a write and encodes its fields, in sorted column order.
func (e *Endpoint) encodeWrite(w *syncengine.Write) ([]string, []any, error) {
	bad := func(kind crm.Kind, id string, fields []string, msg string) error {
		if id == "" && w.Key != "" {
			msg = fmt.Sprintf("upsert with key %q: %s", w.Key, msg)
		}
		return &crm.Error{Kind: kind, CRM: "sqltable", Operation: w.Op.String(), Object: e.t.Name, RecordID: id, Fields: fields, Message: msg}
	}
	switch w.Op {
	case syncengine.Upsert:
		if w.Key == "" {
			return nil, nil, bad(crm.KindInvalidRequest, "", nil, "an upsert needs a Key (the CRM id of the record it comes from)")
		}
	case syncengine.Update, syncengine.Delete:
		if w.ID == "" {
			return nil, nil, bad(crm.KindInvalidRequest, "", nil, "an update or delete needs the row's ID")
		}
	default:
		return nil, nil, bad(crm.KindInvalidRequest, w.ID, nil, fmt.Sprintf("write op %d is not Upsert, Update or Delete", w.Op))
	}
	if w.Op == syncengine.Delete {
		return nil, nil, nil
	}
	names := w.Fields.Names()
	vals := make([]any, len(names))
	for i, name := range names {
		c, ok := e.cols[name]
		if !ok {
			return nil, nil, bad(crm.KindValidation, w.ID, []string{name},
				fmt.Sprintf("%s is not a declared column of %s (declared: %s)", name, e.t.Name, e.columnNames()))
		}
		v, err := encode(e.cfg.dialect, c.Kind, w.Fields[name])
		if err != nil {
			return nil, nil, bad(crm.KindValidation, w.ID, []string{name}, fmt.Sprintf("column %s: %v", name, err))
		}
		vals[i] = v
	}
	return names, vals, nil
}

func (e *Endpoint) writeErr(w *syncengine.Write, id string, f failure) error {
	fields := slices.DeleteFunc(f.columns, func(c string) bool { _, ok := e.cols[c]; return !ok })
	if len(fields) == 0 {
		fields = w.Fields.Names()
	}
	if id == "" {
		id = w.ID
	}
	msg := "the database refused the row: " + f.message
	if id == "" {
		msg = fmt.Sprintf("upsert with key %q: %s", w.Key, msg)
	}
	return &crm.Error{Kind: f.kind, CRM: "sqltable", Operation: w.Op.String(), Object: e.t.Name, RecordID: id, Fields: fields, Message: msg}
}

// applyOne runs one write inside the savepoint. On error, the returned
// result still carries the id involved, if known.
func (e *Endpoint) applyOne(ctx context.Context, tx *stmtTx, w *syncengine.Write, cols []string, vals []any, modified any) (syncengine.WriteResult, error) {
	switch w.Op {
	case syncengine.Delete:
		id, ok := e.idArg(w.ID)
		if !ok {
			return syncengine.WriteResult{ID: w.ID}, nil
		}
		a := &args{d: e.cfg.dialect}
		set := e.qDeleted + " = " + a.add(true)
		if e.qModified != "" {
			set += ", " + e.qModified + " = " + a.add(modified)
		}
		q := fmt.Sprintf("UPDATE %s SET %s WHERE %s = %s AND %s%s)", e.qTable, set, e.qID, a.add(id), e.notDeleted, a.add(true))
		res, err := tx.ExecContext(ctx, q, a.vals...)
		if err != nil {
			return syncengine.WriteResult{ID: w.ID}, err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return syncengine.WriteResult{ID: w.ID}, err // already deleted, or never there
		}
		v, err := e.versionOf(ctx, tx, id)
		return syncengine.WriteResult{ID: w.ID, Version: v}, err

	case syncengine.Update:
		id, ok := e.idArg(w.ID)
		if !ok {
			return syncengine.WriteResult{ID: w.ID, Err: e.notFound(w)}, nil
		}
		a := &args{d: e.cfg.dialect}
		set := e.setList(a, cols, vals, modified, false)
		q := fmt.Sprintf("UPDATE %s SET %s WHERE %s = %s AND %s%s)", e.qTable, set, e.qID, a.add(id), e.notDeleted, a.add(true))
		res, err := tx.ExecContext(ctx, q, a.vals...)
		if err != nil {
			return syncengine.WriteResult{ID: w.ID}, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return syncengine.WriteResult{ID: w.ID}, err
		}
		if n == 0 {
			return syncengine.WriteResult{ID: w.ID, Err: e.notFound(w)}, nil
		}
		v, err := e.versionOf(ctx, tx, id)
		return syncengine.WriteResult{ID: w.ID, Version: v}, err
	}

	// Upsert.
	var rawID any
	var deleted any
	a := &args{d: e.cfg.dialect}
	err := tx.scanRow(ctx, fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s = %s", e.qID, e.qDeleted, e.qTable, e.qKey, a.add(w.Key)), a.vals, &rawID, &deleted)
	switch {
	case err == nil:
		id, derr := decodeID(rawID)
		if derr != nil {
			return syncengine.WriteResult{}, e.readErr("upsert", "", e.t.IDColumn, derr)
		}
		a := &args{d: e.cfg.dialect}
		set := e.setList(a, cols, vals, modified, true)
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE %s = %s", e.qTable, set, e.qID, a.add(rawID)), a.vals...); err != nil {
			return syncengine.WriteResult{ID: id}, err
		}
		v, err := e.versionOf(ctx, tx, rawID)
		return syncengine.WriteResult{ID: id, Version: v, Created: truthy(deleted)}, err
	case !errors.Is(err, sql.ErrNoRows):
		return syncengine.WriteResult{}, err
	}
	a = &args{d: e.cfg.dialect}
	names := []string{e.qKey, e.qDeleted}
	ph := []string{a.add(w.Key), a.add(false)}
	if e.qModified != "" {
		names = append(names, e.qModified)
		ph = append(ph, a.add(modified))
	}
	for i, c := range cols {
		names = append(names, quote(c))
		ph = append(ph, a.add(vals[i]))
	}
	update := make([]string, 0, len(names)-1)
	for _, n := range names[1:] {
		update = append(update, n+" = excluded."+n)
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO UPDATE SET %s RETURNING %s",
		e.qTable, strings.Join(names, ", "), strings.Join(ph, ", "), e.qKey, strings.Join(update, ", "), e.qID)
	if err := tx.scanRow(ctx, q, a.vals, &rawID); err != nil {
		return syncengine.WriteResult{}, err
	}
	id, derr := decodeID(rawID)
	if derr != nil {
		return syncengine.WriteResult{}, e.readErr("upsert", "", e.t.IDColumn, derr)
	}
	v, err := e.versionOf(ctx, tx, rawID)
	return syncengine.WriteResult{ID: id, Version: v, Created: true}, err
}

// setList renders "col = ?, ..." for an UPDATE; it always sets something,
// so that even an update of no fields bumps the version.
func (e *Endpoint) setList(a *args, cols []string, vals []any, modified any, undelete bool) string {
	var set []string
	for i, c := range cols {
		set = append(set, quote(c)+" = "+a.add(vals[i]))
	}
	if e.qModified != "" {
		set = append(set, e.qModified+" = "+a.add(modified))
	}
	if undelete {
		set = append(set, e.qDeleted+" = "+a.add(false))
	}
	if len(set) == 0 {
		set = append(set, e.qDeleted+" = "+e.qDeleted)
	}
	return strings.Join(set, ", ")
}

// versionOf reads a row's version after a write. It is read afterwards, not
// RETURNed, because SQLite's RETURNING shows the row before AFTER triggers.
func (e *Endpoint) versionOf(ctx context.Context, tx *stmtTx, id any) (string, error) {
	var v any
	a := &args{d: e.cfg.dialect}
	if err := tx.scanRow(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s = %s", e.qVersion, e.qTable, e.qID, a.add(id)), a.vals, &v); err != nil {
		return "", err
	}
	n, err := decodeVersion(v)
	if err != nil {
		return "", e.readErr("apply", fmt.Sprint(id), e.t.VersionColumn, err)
	}
	if n < 0 {
		return "", nil
	}
	return strconv.FormatInt(n, 10), nil
}

func (e *Endpoint) notFound(w *syncengine.Write) error {
	return &crm.Error{Kind: crm.KindNotFound, CRM: "sqltable", Operation: w.Op.String(), Object: e.t.Name, RecordID: w.ID,
		Message: "no live row has this id; it may have been deleted"}
}
