package memstore

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
)

// WriteOption adjusts one write.
type WriteOption func(*writeOptions)

type writeOptions struct {
	ifVersion string
	system    bool
	id        string
}

// IfVersion makes an update, upsert-that-updates or delete conditional: it
// fails with KindConflict unless the record's Version is v. An empty v means
// no condition.
func IfVersion(v string) WriteOption { return func(o *writeOptions) { o.ifVersion = v } }

// AsSystem makes a write as the CRM itself rather than as an API user: the
// createable, updateable and required checks are skipped, so that seed data
// can set read-only fields, and a create keeps a created or modified time it
// is given instead of stamping the current time (fixtures may carry history).
// Types, lengths, picklists and uniqueness are still checked.
func AsSystem() WriteOption { return func(o *writeOptions) { o.system = true } }

// WithID makes a create use id instead of the table's next id, for fixtures
// that need known ids. An id already in use is KindDuplicate.
func WithID(id string) WriteOption { return func(o *writeOptions) { o.id = id } }

func collectWrite(opts []WriteOption) writeOptions {
	var o writeOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Create adds a record made of fields and returns it as stored. Fields the
// schema describes but fields omits are null, or a picklist's default value.
func (s *Store) Create(object string, fields crm.Fields, opts ...WriteOption) (*Record, error) {
	o := collectWrite(opts)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.table("create", object)
	if err != nil {
		return nil, err
	}
	return s.create(t, "create", fields, o)
}

// Update changes the given fields of record id and returns it as stored: a
// field absent from fields keeps its value, a field present with nil is set
// to null.
func (s *Store) Update(object, id string, fields crm.Fields, opts ...WriteOption) (*Record, error) {
	o := collectWrite(opts)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.table("update", object)
	if err != nil {
		return nil, err
	}
	r, err := t.live("update", id)
	if err != nil {
		return nil, err
	}
	if err := t.checkVersion("update", r, o.ifVersion); err != nil {
		return nil, err
	}
	return s.update(t, "update", r, fields, o)
}

// Upsert updates the live record whose keyField holds keyValue, or creates
// one with that value when there is none, and reports whether it created.
// keyField must be an external-id or unique field; the check and the write
// happen under one lock, so concurrent upserts of one key never make two
// records. keyValue is normalised by the field's type (string keys match
// without regard to case). fields may repeat the key only with the same
// value.
func (s *Store) Upsert(object, keyField string, keyValue any, fields crm.Fields, opts ...WriteOption) (rec *Record, created bool, err error) {
	o := collectWrite(opts)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.table("upsert", object)
	if err != nil {
		return nil, false, err
	}
	kf, ok := t.field(keyField)
	if !ok {
		return nil, false, t.unknownField("upsert", "", keyField)
	}
	if !kf.ExternalID && !kf.Unique {
		return nil, false, &crm.Error{Kind: crm.KindValidation, Operation: "upsert", Object: t.schema.Object, Fields: []string{kf.Name},
			Message: fmt.Sprintf("field %s is neither an external id nor unique, so it cannot key an upsert: use one of %s", kf.Name, strings.Join(t.keyFields(), ", "))}
	}
	if keyValue == nil {
		return nil, false, &crm.Error{Kind: crm.KindInvalidRequest, Operation: "upsert", Object: t.schema.Object, Fields: []string{kf.Name},
			Message: fmt.Sprintf("the upsert key value for %s is nil: give the external id to match on", kf.Name)}
	}
	key, err := crm.NormalizeValue(kf.Type, keyValue)
	if err != nil {
		return nil, false, &crm.Error{Kind: crm.KindValidation, Operation: "upsert", Object: t.schema.Object, Fields: []string{kf.Name},
			Message: fmt.Sprintf("the upsert key for field %s: %s", kf.Name, strings.TrimPrefix(err.Error(), "crm: "))}
	}
	in := make(crm.Fields, len(fields)+1)
	for name, v := range fields {
		if strings.EqualFold(name, kf.Name) {
			if nv, err := crm.NormalizeValue(kf.Type, v); err != nil || !SameValue(nv, key) {
				return nil, false, &crm.Error{Kind: crm.KindValidation, Operation: "upsert", Object: t.schema.Object, Fields: []string{kf.Name},
					Message: fmt.Sprintf("the fields set %s to a value other than the upsert key: leave the key field out of the fields, or make them agree", kf.Name)}
			}
			continue
		}
		in[name] = v
	}
	if r, ok := t.unique[kf.Name][uniqueKey(key)]; ok {
		if err := t.checkVersion("upsert", r, o.ifVersion); err != nil {
			return nil, false, err
		}
		rec, err := s.update(t, "upsert", r, in, o)
		return rec, false, err
	}
	if o.ifVersion != "" {
		return nil, false, &crm.Error{Kind: crm.KindConflict, Operation: "upsert", Object: t.schema.Object, Fields: []string{kf.Name},
			Message: fmt.Sprintf("no %s has that %s, but the upsert expected version %s of an existing record: it was deleted or never made; re-read and decide", t.schema.Object, kf.Name, o.ifVersion)}
	}
	in[kf.Name] = key
	rec, err = s.create(t, "upsert", in, o)
	return rec, err == nil, err
}

// Delete deletes record id and returns its tombstone: the record as it was,
// with Deleted set. The tombstone stays, so that change feeds report the
// delete and queries with IncludeDeleted still find it.
func (s *Store) Delete(object, id string, opts ...WriteOption) (*Record, error) {
	o := collectWrite(opts)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.table("delete", object)
	if err != nil {
		return nil, err
	}
	r, err := t.live("delete", id)
	if err != nil {
		return nil, err
	}
	if err := t.checkVersion("delete", r, o.ifVersion); err != nil {
		return nil, err
	}
	s.seq++
	r.seq = s.seq
	r.modified = s.now().UTC()
	r.deleted = true
	t.stamp(r)
	t.unindex(r)
	return t.record(r, nil), nil
}

// Get returns live record id with the given fields (nil for all). A missing
// or deleted record is KindNotFound.
func (s *Store) Get(object, id string, fields []string) (*Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, err := s.table("get", object)
	if err != nil {
		return nil, err
	}
	sel, err := t.selectFields("get", fields)
	if err != nil {
		return nil, err
	}
	r, err := t.live("get", id)
	if err != nil {
		return nil, err
	}
	return t.record(r, sel), nil
}

// Lookup returns the live record whose external-id or unique field holds
// value, with every field. It is how an emulator serves a request addressed
// by an alternate key (a Salesforce external id, a Dataverse alternate key)
// without an index of its own: the store's unique index answers it with a
// map access, not a scan. value is normalised by the field's type first, and
// matches as the store's duplicate checks do: text without regard to case,
// numbers by value.
//
// A field that is neither an external id nor unique is KindValidation (it
// could match several records); a value that does not fit the field, or a
// nil one, is KindInvalidRequest; no live record holding value is
// KindNotFound.
func (s *Store) Lookup(object, field string, value any) (*Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, err := s.table("lookup", object)
	if err != nil {
		return nil, err
	}
	kf, ok := t.field(field)
	if !ok {
		return nil, t.unknownField("lookup", "", field)
	}
	if !kf.ExternalID && !kf.Unique {
		return nil, &crm.Error{Kind: crm.KindValidation, Operation: "lookup", Object: t.schema.Object, Fields: []string{kf.Name},
			Message: fmt.Sprintf("field %s is neither an external id nor unique, so it cannot find one record: use one of %s, or query on %s", kf.Name, strings.Join(t.keyFields(), ", "), kf.Name)}
	}
	if value == nil {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, Operation: "lookup", Object: t.schema.Object, Fields: []string{kf.Name},
			Message: fmt.Sprintf("the value to look up in %s is nil: give the key to match on", kf.Name)}
	}
	key, err := crm.NormalizeValue(kf.Type, value)
	if err != nil {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, Operation: "lookup", Object: t.schema.Object, Fields: []string{kf.Name},
			Message: fmt.Sprintf("the value to look up in %s: %s", kf.Name, strings.TrimPrefix(err.Error(), "crm: "))}
	}
	r, ok := t.unique[kf.Name][uniqueKey(key)]
	if !ok {
		return nil, &crm.Error{Kind: crm.KindNotFound, Operation: "lookup", Object: t.schema.Object, Fields: []string{kf.Name},
			Message: fmt.Sprintf("no live %s has that %s", t.schema.Object, kf.Name)}
	}
	return t.record(r, nil), nil
}

func (s *Store) create(t *table, op string, in crm.Fields, o writeOptions) (*Record, error) {
	vals, p := t.prepare(in, "", o, true)
	if !o.system {
		t.requireAndDefault(vals, &p)
	}
	if err := p.err(op, t.schema.Object, ""); err != nil {
		return nil, err
	}
	if err := t.checkUnique(op, vals, ""); err != nil {
		return nil, err
	}
	id, err := t.newID(op, o.id)
	if err != nil {
		return nil, err
	}
	s.seq++
	now := s.now().UTC()
	r := &row{id: id, fields: make(crm.Fields, len(t.schema.Fields)), created: now, modified: now, createdSeq: s.seq, seq: s.seq}
	if o.system {
		// Fixtures may carry history: a created or modified time given by
		// the CRM itself is kept rather than stamped over.
		if t.createdFld != nil {
			if ts, ok := vals[t.createdFld.Name].(time.Time); ok {
				r.created = ts
			}
		}
		if t.modField != nil {
			if ts, ok := vals[t.modField.Name].(time.Time); ok {
				r.modified = ts
			}
		}
	}
	for _, f := range t.schema.Fields {
		r.fields[f.Name] = nil
	}
	maps.Copy(r.fields, vals)
	t.stamp(r)
	t.rows[id] = r
	at, _ := slices.BinarySearchFunc(t.byID, id, func(r *row, id string) int { return compareIDs(r.id, id) })
	t.byID = slices.Insert(t.byID, at, r)
	t.index(r)
	return t.record(r, nil), nil
}

func (s *Store) update(t *table, op string, r *row, in crm.Fields, o writeOptions) (*Record, error) {
	vals, p := t.prepare(in, r.id, o, false)
	if err := p.err(op, t.schema.Object, r.id); err != nil {
		return nil, err
	}
	if err := t.checkUnique(op, vals, r.id); err != nil {
		return nil, err
	}
	s.seq++
	r.seq = s.seq
	r.modified = s.now().UTC()
	t.unindex(r)
	maps.Copy(r.fields, vals)
	t.stamp(r)
	t.index(r)
	return t.record(r, nil), nil
}

// live returns the live record id, or KindNotFound.
func (t *table) live(op, id string) (*row, error) {
	r, ok := t.rows[id]
	switch {
	case id == "":
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, Operation: op, Object: t.schema.Object, Message: "the record id is empty"}
	case !ok:
		return nil, &crm.Error{Kind: crm.KindNotFound, Operation: op, Object: t.schema.Object, RecordID: id,
			Message: fmt.Sprintf("%s %s does not exist: check the id, or find the record by an external id", t.schema.Object, id)}
	case r.deleted:
		return nil, &crm.Error{Kind: crm.KindNotFound, Operation: op, Object: t.schema.Object, RecordID: id,
			Message: fmt.Sprintf("%s %s was deleted at %s: recreate it, or drop the link to it", t.schema.Object, id, r.modified.Format(time.RFC3339))}
	}
	return r, nil
}

func (t *table) checkVersion(op string, r *row, want string) error {
	if want == "" {
		return nil
	}
	if have := strconv.FormatUint(r.seq, 10); have != want {
		return &crm.Error{Kind: crm.KindConflict, Operation: op, Object: t.schema.Object, RecordID: r.id,
			Message: fmt.Sprintf("%s %s is at version %s, but the write expected version %s: someone changed it since it was read; re-read it, merge, and write again with the new version", t.schema.Object, r.id, have, want)}
	}
	return nil
}

func (t *table) newID(op, want string) (string, error) {
	if want != "" {
		if _, taken := t.rows[want]; taken {
			return "", &crm.Error{Kind: crm.KindDuplicate, Operation: op, Object: t.schema.Object, RecordID: want, Fields: []string{t.idField.Name},
				Message: fmt.Sprintf("id %s is already used by another %s (live or deleted): choose another id", want, t.schema.Object)}
		}
		return want, nil
	}
	for range 100 {
		t.issued++
		id := t.ids(t.issued)
		if _, taken := t.rows[id]; id != "" && !taken {
			return id, nil
		}
	}
	return "", &crm.Error{Kind: crm.KindUnknown, Operation: op, Object: t.schema.Object,
		Message: "the table's IDFunc keeps returning empty or used ids: it must return a new id for every n"}
}

// stamp writes the store-managed fields: the id, the modified time and the
// created time.
func (t *table) stamp(r *row) {
	r.fields[t.idField.Name] = r.id
	if t.modField != nil {
		r.fields[t.modField.Name] = timeValue(t.modField, r.modified)
	}
	if t.createdFld != nil {
		r.fields[t.createdFld.Name] = timeValue(t.createdFld, r.created)
	}
}

// timeValue renders a store time in the value kind of f.
func timeValue(f *crm.Field, ts time.Time) any {
	switch f.Type.Value() {
	case crm.ValueTime:
		return ts
	case crm.ValueString:
		return ts.Format(time.RFC3339Nano)
	case crm.ValueInt64:
		return ts.UnixMilli()
	case crm.ValueDate:
		return crm.DateOf(ts)
	}
	return nil
}

func (t *table) keyFields() []string {
	var out []string
	for _, f := range t.schema.Fields {
		if f.ExternalID || f.Unique {
			out = append(out, f.Name)
		}
	}
	if len(out) == 0 {
		return []string{"(none: the object has no external-id or unique field)"}
	}
	return out
}

// problems collects the validation failures of one write, so that the caller
// learns of every bad field at once.
type problems struct {
	fields []string
	msgs   []string
}

func (p *problems) add(field, msg string) {
	p.fields = append(p.fields, field)
	p.msgs = append(p.msgs, msg)
}

func (p *problems) has(field string) bool {
	for _, f := range p.fields {
		if f == field {
			return true
		}
	}
	return false
}

func (p *problems) err(op, object, id string) error {
	if len(p.msgs) == 0 {
		return nil
	}
	return &crm.Error{Kind: crm.KindValidation, Operation: op, Object: object, RecordID: id,
		Fields: p.fields, Message: strings.Join(p.msgs, "; ")}
}

// prepare checks and normalises the fields of a write. It returns them under
// the schema's names.
func (t *table) prepare(in crm.Fields, id string, o writeOptions, create bool) (crm.Fields, problems) {
	var p problems
	out := make(crm.Fields, len(in))
	given := map[string]string{} // canonical name -> name as given
	for _, name := range in.Names() {
		v := in[name]
		f, ok := t.field(name)
		if !ok {
			p.add(name, t.unknownFieldMessage(name))
			continue
		}
		if prev, dup := given[f.Name]; dup {
			p.add(f.Name, fmt.Sprintf("field %s is given twice, as %q and %q: give it once", f.Name, prev, name))
			continue
		}
		given[f.Name] = name
		if f == t.idField {
			if s, ok := v.(string); ok && !create && s == id {
				continue // an update may repeat its own id
			}
			p.add(f.Name, fmt.Sprintf("field %s is the record id, which the CRM assigns: leave it out of the fields (to key records yourself, upsert on an external-id field)", f.Name))
			continue
		}
		if !o.system {
			if create && !f.Createable {
				p.add(f.Name, fmt.Sprintf("field %s is read-only on create: leave it out, the CRM sets it", f.Name))
				continue
			}
			if !create && !f.Updateable {
				p.add(f.Name, fmt.Sprintf("field %s is read-only on update: leave it out of the update", f.Name))
				continue
			}
		}
		if v == nil {
			if !f.Nillable {
				fix := "give it a value"
				if !create {
					fix = "give it a value, or leave it out to keep the current one"
				}
				p.add(f.Name, fmt.Sprintf("field %s cannot be null: %s", f.Name, fix))
				continue
			}
			out[f.Name] = nil
			continue
		}
		nv, err := crm.NormalizeValue(f.Type, v)
		if err != nil {
			p.add(f.Name, fmt.Sprintf("field %s: %s", f.Name, strings.TrimPrefix(err.Error(), "crm: ")))
			continue
		}
		if msg := checkValue(f, nv); msg != "" {
			p.add(f.Name, msg)
			continue
		}
		out[f.Name] = nv
	}
	return out, p
}

// requireAndDefault applies picklist defaults and checks required fields on
// create.
func (t *table) requireAndDefault(vals crm.Fields, p *problems) {
	for i := range t.schema.Fields {
		f := &t.schema.Fields[i]
		if f == t.idField || f == t.modField || f == t.createdFld || p.has(f.Name) {
			continue
		}
		if _, ok := vals[f.Name]; !ok && f.Type == crm.TypePicklist {
			for _, pv := range f.Picklist {
				if pv.Default {
					vals[f.Name] = pv.Value
					break
				}
			}
		}
		if v := vals[f.Name]; f.Required && f.Createable && v == nil {
			p.add(f.Name, fmt.Sprintf("field %s is required: give it a value when creating a %s", f.Name, t.schema.Object))
		}
	}
}

// checkValue checks a normalised value against the field's length and
// picklist.
func checkValue(f *crm.Field, v any) string {
	switch x := v.(type) {
	case string:
		if n := utf8.RuneCountInString(x); f.Length > 0 && n > f.Length {
			return fmt.Sprintf("field %s is %d characters long, more than its length of %d: shorten it (or truncate it in the field mapping)", f.Name, n, f.Length)
		}
		if f.Type == crm.TypePicklist && len(f.Picklist) > 0 && !inPicklist(f, x) {
			return fmt.Sprintf("field %s does not allow %q: use one of %s", f.Name, clip(x), picklistValues(f))
		}
	case []string:
		if len(f.Picklist) > 0 {
			for _, e := range x {
				if !inPicklist(f, e) {
					return fmt.Sprintf("field %s does not allow %q: use values from %s", f.Name, clip(e), picklistValues(f))
				}
			}
		}
	}
	return ""
}

func inPicklist(f *crm.Field, v string) bool {
	for _, p := range f.Picklist {
		if p.Value == v {
			return true
		}
	}
	return false
}

func picklistValues(f *crm.Field) string {
	vs := make([]string, len(f.Picklist))
	for i, p := range f.Picklist {
		vs[i] = p.Value
	}
	return strings.Join(vs, ", ")
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}

// checkUnique refuses a value already held by another live record in an
// external-id or unique field.
func (t *table) checkUnique(op string, vals crm.Fields, selfID string) error {
	for _, name := range vals.Names() {
		v := vals[name]
		f, _ := t.field(name)
		if v == nil || f == nil || !(f.Unique || f.ExternalID) {
			continue
		}
		if r, ok := t.unique[f.Name][uniqueKey(v)]; ok && r.id != selfID {
			return &crm.Error{Kind: crm.KindDuplicate, Operation: op, Object: t.schema.Object, RecordID: selfID, Fields: []string{f.Name},
				Message: fmt.Sprintf("field %s: the value is already used by %s %s: update that record (or upsert on %s) instead of writing the value again", f.Name, t.schema.Object, r.id, f.Name)}
		}
	}
	return nil
}

// index adds a live row's unique values to the table's indexes.
func (t *table) index(r *row) {
	for name, idx := range t.unique {
		if v := r.fields[name]; v != nil {
			idx[uniqueKey(v)] = r
		}
	}
}

// unindex removes a row's unique values from the table's indexes.
func (t *table) unindex(r *row) {
	for name, idx := range t.unique {
		if v := r.fields[name]; v != nil && idx[uniqueKey(v)] == r {
			delete(idx, uniqueKey(v))
		}
	}
}

// uniqueKey renders a normalised value so that two values SameValue calls
// equal have the same key: strings folded to lower case, numbers by exact
// value whatever their Go type, times by instant.
func uniqueKey(v any) string {
	switch x := v.(type) {
	case string:
		return "s:" + strings.ToLower(x)
	case int64:
		return "n:" + crm.NewDecimal(x, 0).Rat().RatString()
	case crm.Decimal:
		return "n:" + x.Rat().RatString()
	case time.Time:
		return "t:" + x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%T:%v", v, v)
}

// SameValue is equality as the store sees it, in filters (Eq, Ne, In), in
// duplicate checks and in [Store.Lookup]: strings without regard to case,
// numbers by value whatever their Go type (int64 3 equals Decimal 3.0),
// times by instant; nil equals only nil. Emulators that evaluate a filter
// themselves use it so that they match exactly the records the store would.
func SameValue(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if x, ok := a.(string); ok {
		y, ok := b.(string)
		return ok && strings.EqualFold(x, y)
	}
	if c, ok := crm.CompareValues(a, b); ok {
		return c == 0
	}
	return crm.EqualValues(a, b)
}
