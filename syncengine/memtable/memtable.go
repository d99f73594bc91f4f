package memtable

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
)

// Defaults of the options.
const (
	DefaultPageSize  = 500
	DefaultBatchSize = 1000
)

// Option configures a Table.
type Option func(*config)

type config struct {
	fields    map[string]crm.ValueKind
	pageSize  int
	batchSize int
	clock     func() time.Time
}

// WithFields declares the table's fields and the kind of value each holds,
// as a database table declares its columns. A write that names another field,
// or gives a field a value of another kind, fails alone with KindValidation
// naming the field. Without it the table accepts any field holding any
// normalised value, which suits a quick test but checks nothing.
func WithFields(fields map[string]crm.ValueKind) Option {
	return func(c *config) {
		c.fields = make(map[string]crm.ValueKind, len(fields))
		for k, v := range fields {
			c.fields[k] = v
		}
	}
}

// WithPageSize sets how many records one Changes page holds at most
// (DefaultPageSize when n <= 0). Small pages let a test exercise paging.
func WithPageSize(n int) Option { return func(c *config) { c.pageSize = n } }

// WithBatchSize sets what BatchSize reports: how many writes the engine puts
// in one Apply call (DefaultBatchSize when n <= 0).
func WithBatchSize(n int) Option { return func(c *config) { c.batchSize = n } }

// WithClock sets the clock that stamps Record.ModifiedAt, so tests can pin
// it (time.Now by default).
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// Table is an application table in memory. It implements
// syncengine.Endpoint, syncengine.Finder and syncengine.BatchSizer, and has
// host-side methods (Insert, Modify, Remove, Record, Records, Len) that
// change and read it as the application itself would, outside the engine.
// A Table is safe for concurrent use.
type Table struct {
	cfg config

	mu      sync.RWMutex
	recs    map[string]*entry // by id, deleted records included (tombstones)
	keys    map[string]string // sync key to id
	log     []logEntry        // in version order; an entry is stale when its record has moved on
	version int64             // the table-wide write counter
	nextID  int64
	live    int
	indexes map[string]map[string]map[string]struct{} // field -> value key -> ids, built on first Find
}

// entry is one stored record.
type entry struct {
	seq      int64 // the number in its id, for ordering
	id       string
	key      string
	fields   crm.Fields
	modified time.Time
	version  int64
	deleted  bool
}

type logEntry struct {
	version int64
	id      string
}

// New returns an empty table.
func New(opts ...Option) *Table {
	t := &Table{
		recs:    map[string]*entry{},
		keys:    map[string]string{},
		indexes: map[string]map[string]map[string]struct{}{},
	}
	for _, o := range opts {
		o(&t.cfg)
	}
	if t.cfg.pageSize <= 0 {
		t.cfg.pageSize = DefaultPageSize
	}
	if t.cfg.batchSize <= 0 {
		t.cfg.batchSize = DefaultBatchSize
	}
	if t.cfg.clock == nil {
		t.cfg.clock = time.Now
	}
	return t
}

var (
	_ syncengine.Endpoint   = (*Table)(nil)
	_ syncengine.Finder     = (*Table)(nil)
	_ syncengine.BatchSizer = (*Table)(nil)
)

// BatchSize reports how many writes one Apply call should carry.
func (t *Table) BatchSize() int { return t.cfg.batchSize }

// Changes returns the records written after cursor, oldest write first, at
// most the page size of them; a record written several times appears once,
// at its latest write. Deleted records appear as tombstones. The cursor is
// the table's write counter; "" starts from the beginning.
func (t *Table) Changes(ctx context.Context, cursor string) (*syncengine.ChangePage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	after, err := ParseCursor(cursor)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if after > t.version {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: "memtable", Operation: "changes",
			Message: fmt.Sprintf("cursor %q is ahead of this table's last write (%d): it comes from another table", cursor, t.version)}
	}
	page := &syncengine.ChangePage{Cursor: strconv.FormatInt(after, 10)}
	i := sort.Search(len(t.log), func(i int) bool { return t.log[i].version > after })
	for ; i < len(t.log); i++ {
		le := t.log[i]
		e := t.recs[le.id]
		if e.version != le.version {
			continue // stale: the record was written again later
		}
		if len(page.Records) == t.cfg.pageSize {
			page.More = true
			break
		}
		page.Records = append(page.Records, e.record())
		page.Cursor = strconv.FormatInt(le.version, 10)
	}
	return page, nil
}

// ParseCursor reads a cursor that Changes returned: the decimal write
// counter, "" for the beginning. Anything else is refused with
// KindInvalidRequest.
func ParseCursor(cursor string) (int64, error) {
	if cursor == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(cursor, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != cursor {
		return 0, &crm.Error{Kind: crm.KindInvalidRequest, CRM: "memtable", Operation: "changes",
			Message: fmt.Sprintf("cursor %q is not one a memtable made (want the decimal write counter, or empty to start over)", clip(cursor))}
	}
	return n, nil
}

func clip(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:61]) + "..."
	}
	return s
}

// Get returns the live records among ids; deleted and unknown ids are
// absent.
func (t *Table) Get(ctx context.Context, ids []string) (map[string]*syncengine.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make(map[string]*syncengine.Record, len(ids))
	for _, id := range ids {
		if e, ok := t.recs[id]; ok && !e.deleted {
			out[id] = e.record()
		}
	}
	return out, nil
}

// Apply applies writes in order, each alone: a write that fails leaves the
// table as it was and has its error in its result, and the others go ahead.
// An Upsert whose key belongs to a deleted record brings that record back
// (Created is true, as for a new record).
func (t *Table) Apply(ctx context.Context, writes []syncengine.Write) ([]syncengine.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := t.cfg.clock().UTC()
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]syncengine.WriteResult, len(writes))
	for i := range writes {
		out[i] = t.apply(&writes[i], now)
	}
	t.compact()
	return out, nil
}

func (t *Table) apply(w *syncengine.Write, now time.Time) syncengine.WriteResult {
	switch w.Op {
	case syncengine.Upsert:
		if w.Key == "" {
			return syncengine.WriteResult{Err: writeErr(crm.KindInvalidRequest, w, "", nil, "an upsert needs a Key (the CRM id of the record it comes from)")}
		}
		id, exists := t.keys[w.Key]
		if err := t.check(w, id, w.Fields); err != nil {
			return syncengine.WriteResult{ID: id, Err: err}
		}
		if !exists {
			e := t.insert(w.Fields, now)
			e.key = w.Key
			t.keys[w.Key] = e.id
			return syncengine.WriteResult{ID: e.id, Version: strconv.FormatInt(e.version, 10), Created: true}
		}
		e := t.recs[id]
		revived := e.deleted
		t.update(e, w.Fields, false, now)
		return syncengine.WriteResult{ID: id, Version: strconv.FormatInt(e.version, 10), Created: revived}
	case syncengine.Update:
		e, ok := t.recs[w.ID]
		if !ok || e.deleted {
			return syncengine.WriteResult{ID: w.ID, Err: writeErr(crm.KindNotFound, w, w.ID, nil, "no live record has this id; it may have been deleted")}
		}
		if err := t.check(w, w.ID, w.Fields); err != nil {
			return syncengine.WriteResult{ID: w.ID, Err: err}
		}
		t.update(e, w.Fields, false, now)
		return syncengine.WriteResult{ID: w.ID, Version: strconv.FormatInt(e.version, 10)}
	case syncengine.Delete:
		e, ok := t.recs[w.ID]
		if !ok {
			return syncengine.WriteResult{ID: w.ID}
		}
		if !e.deleted {
			t.update(e, nil, true, now)
		}
		return syncengine.WriteResult{ID: w.ID, Version: strconv.FormatInt(e.version, 10)}
	}
	return syncengine.WriteResult{ID: w.ID, Err: writeErr(crm.KindInvalidRequest, w, w.ID, nil,
		fmt.Sprintf("write op %d is not Upsert, Update or Delete", w.Op))}
}

// check validates fields against the declared kinds.
func (t *Table) check(w *syncengine.Write, id string, f crm.Fields) *crm.Error {
	for _, name := range f.Names() {
		v := f[name]
		got := crm.ValueKindOf(v)
		if t.cfg.fields == nil {
			if v != nil && got == crm.ValueUnknown {
				return writeErr(crm.KindValidation, w, id, []string{name},
					fmt.Sprintf("field %s holds a %T, which is not a normalised value (string, bool, int64, crm.Decimal, time.Time, crm.Date, []string or nil)", name, v))
			}
			continue
		}
		want, ok := t.cfg.fields[name]
		if !ok {
			return writeErr(crm.KindValidation, w, id, []string{name},
				fmt.Sprintf("the table has no field %s (declared: %s)", name, strings.Join(t.fieldNames(), ", ")))
		}
		if v != nil && got != want {
			return writeErr(crm.KindValidation, w, id, []string{name},
				fmt.Sprintf("field %s holds %s values; got a %T", name, want, v))
		}
	}
	return nil
}

func (t *Table) fieldNames() []string {
	names := make([]string, 0, len(t.cfg.fields))
	for k := range t.cfg.fields {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// writeErr builds a per-record error naming the operation, record and fields.
func writeErr(kind crm.Kind, w *syncengine.Write, id string, fields []string, msg string) *crm.Error {
	if id == "" && w.Op == syncengine.Upsert && w.Key != "" {
		msg = fmt.Sprintf("upsert with key %q: %s", w.Key, msg)
	}
	return &crm.Error{Kind: kind, CRM: "memtable", Operation: w.Op.String(), RecordID: id, Message: msg, Fields: fields}
}

// insert makes a new live record; the caller holds the lock.
func (t *Table) insert(f crm.Fields, now time.Time) *entry {
	t.nextID++
	e := &entry{seq: t.nextID, id: "app-" + strconv.FormatInt(t.nextID, 10), fields: crm.Fields{}}
	t.recs[e.id] = e
	t.update(e, f, false, now)
	return e
}

// update sets fields (and the deleted mark), bumps the version and logs the
// change; the caller holds the lock. Fields are copied in.
func (t *Table) update(e *entry, f crm.Fields, deleted bool, now time.Time) {
	wasLive := !e.deleted && e.version != 0
	for name, v := range f {
		t.unindex(e, name)
		if ss, ok := v.([]string); ok {
			v = slices.Clone(ss)
		}
		e.fields[name] = v
		t.index(e, name)
	}
	e.deleted = deleted
	switch {
	case wasLive && deleted:
		t.live--
	case !wasLive && !deleted:
		t.live++
	}
	t.version++
	e.version = t.version
	e.modified = now
	t.log = append(t.log, logEntry{version: e.version, id: e.id})
}

// compact drops stale log entries once they outnumber the live ones, which
// keeps the log's size linear in the number of records at amortised O(1)
// cost per write.
func (t *Table) compact() {
	if len(t.log) <= 2*len(t.recs)+64 {
		return
	}
	kept := t.log[:0]
	for _, le := range t.log {
		if t.recs[le.id].version == le.version {
			kept = append(kept, le)
		}
	}
	clear(t.log[len(kept):])
	t.log = kept
}

func (e *entry) record() *syncengine.Record {
	r := &syncengine.Record{
		ID:         e.id,
		Key:        e.key,
		ModifiedAt: e.modified,
		Version:    strconv.FormatInt(e.version, 10),
		Deleted:    e.deleted,
	}
	if !e.deleted {
		r.Fields = e.fields.Clone()
	}
	return r
}

// Find returns the live records whose field equals value (decimals by value,
// times by instant). The first Find on a field builds an index of it, kept up
// to date by every later write, so matching many records by a natural key
// stays cheap. A nil value is refused: null is not a key.
func (t *Table) Find(ctx context.Context, field string, value any) ([]*syncengine.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if value == nil {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: "memtable", Operation: "find", Fields: []string{field},
			Message: "Find needs a value: null matches no record"}
	}
	if t.cfg.fields != nil {
		want, ok := t.cfg.fields[field]
		if !ok {
			return nil, &crm.Error{Kind: crm.KindValidation, CRM: "memtable", Operation: "find", Fields: []string{field},
				Message: fmt.Sprintf("the table has no field %s (declared: %s)", field, strings.Join(t.fieldNames(), ", "))}
		}
		if got := crm.ValueKindOf(value); got != want {
			return nil, &crm.Error{Kind: crm.KindValidation, CRM: "memtable", Operation: "find", Fields: []string{field},
				Message: fmt.Sprintf("field %s holds %s values; got a %T", field, want, value)}
		}
	}
	vk, indexable := valueKey(value)
	if !indexable {
		return t.scan(field, value), nil
	}
	t.mu.RLock()
	idx, built := t.indexes[field]
	if built {
		out := t.collect(idx[vk])
		t.mu.RUnlock()
		return out, nil
	}
	t.mu.RUnlock()

	t.mu.Lock()
	defer t.mu.Unlock()
	idx, built = t.indexes[field]
	if !built {
		idx = map[string]map[string]struct{}{}
		t.indexes[field] = idx
		for _, e := range t.recs {
			t.index(e, field)
		}
	}
	return t.collect(idx[vk]), nil
}

func (t *Table) collect(ids map[string]struct{}) []*syncengine.Record {
	var out []*syncengine.Record
	for id := range ids {
		if e := t.recs[id]; !e.deleted {
			out = append(out, e.record())
		}
	}
	sortRecords(out, t.recs)
	return out
}

func (t *Table) scan(field string, value any) []*syncengine.Record {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []*syncengine.Record
	for _, e := range t.recs {
		if !e.deleted && crm.EqualValues(e.fields[field], value) {
			out = append(out, e.record())
		}
	}
	sortRecords(out, t.recs)
	return out
}

func sortRecords(rs []*syncengine.Record, recs map[string]*entry) {
	slices.SortFunc(rs, func(a, b *syncengine.Record) int { return cmpInt(recs[a.ID].seq, recs[b.ID].seq) })
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// index adds e under its value of field, if field is indexed; the caller
// holds the write lock.
func (t *Table) index(e *entry, field string) {
	idx, ok := t.indexes[field]
	if !ok {
		return
	}
	if k, ok := valueKey(e.fields[field]); ok {
		ids := idx[k]
		if ids == nil {
			ids = map[string]struct{}{}
			idx[k] = ids
		}
		ids[e.id] = struct{}{}
	}
}

func (t *Table) unindex(e *entry, field string) {
	idx, ok := t.indexes[field]
	if !ok {
		return
	}
	if k, ok := valueKey(e.fields[field]); ok {
		delete(idx[k], e.id)
		if len(idx[k]) == 0 {
			delete(idx, k)
		}
	}
}

// valueKey maps a value to a string that two values share exactly when
// crm.EqualValues holds between them; multi-selects are not indexed.
func valueKey(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		// Text is found ignoring case and surrounding spaces, as the sync
		// engine matches natural keys (an email typed "Ada@Example.com ").
		return "s" + strings.ToLower(strings.TrimSpace(x)), true
	case bool:
		return "b" + strconv.FormatBool(x), true
	case int64:
		return "i" + strconv.FormatInt(x, 10), true
	case crm.Decimal:
		return "d" + x.Rat().RatString(), true
	case time.Time:
		return "t" + strconv.FormatInt(x.Unix(), 10) + "." + strconv.Itoa(x.Nanosecond()), true
	case crm.Date:
		return "D" + x.String(), true
	}
	return "", false
}

// Insert adds a record as the application would, outside the engine, and
// returns its id. Its Key is empty: only the engine's upserts set keys. It
// fails, changing nothing, when a field is not declared or has a value of
// the wrong kind.
func (t *Table) Insert(fields crm.Fields) (string, error) {
	w := &syncengine.Write{Op: syncengine.Upsert, Fields: fields}
	if err := t.check(w, "", fields); err != nil {
		err.Operation = "insert"
		return "", err
	}
	now := t.cfg.clock().UTC()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.insert(fields, now)
	t.compact()
	return e.id, nil
}

// Modify changes fields of a live record as the application would: absent
// fields are left as they are, nil ones set to null. It fails with
// KindNotFound when the record does not exist or is deleted.
func (t *Table) Modify(id string, fields crm.Fields) error {
	w := &syncengine.Write{Op: syncengine.Update, ID: id, Fields: fields}
	now := t.cfg.clock().UTC()
	t.mu.Lock()
	defer t.mu.Unlock()
	res := t.apply(w, now)
	t.compact()
	var ce *crm.Error
	if errors.As(res.Err, &ce) {
		ce.Operation = "modify"
	}
	return res.Err
}

// Remove deletes a record as the application would; the change feed reports
// it as a tombstone. Removing a missing or deleted record does nothing.
func (t *Table) Remove(id string) {
	now := t.cfg.clock().UTC()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.apply(&syncengine.Write{Op: syncengine.Delete, ID: id}, now)
	t.compact()
}

// Record returns a copy of the live record id.
func (t *Table) Record(id string) (*syncengine.Record, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	e, ok := t.recs[id]
	if !ok || e.deleted {
		return nil, false
	}
	return e.record(), true
}

// Records returns copies of the live records in the order they were created
// (app-1, app-2, ..., app-10).
func (t *Table) Records() []*syncengine.Record {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*syncengine.Record, 0, t.live)
	for _, e := range t.recs {
		if !e.deleted {
			out = append(out, e.record())
		}
	}
	sortRecords(out, t.recs)
	return out
}

// Len returns the number of live records.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.live
}
