package memstore

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Store is an in-memory set of tables, one per CRM object. It is safe for
// concurrent use: writes take one lock, reads share it.
//
// Every write (create, update, upsert, delete) takes the next number of one
// store-wide sequence. That number is the record's new Version and its place
// in the change feed, so versions only grow and a change feed is read in
// write order.
type Store struct {
	mu     sync.RWMutex
	now    func() time.Time
	seq    uint64
	tables map[string]*table // by lower-cased object name
	names  []string          // canonical object names, in the order added
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets where created and modified times come from (time.Now by
// default), so that tests and emulators control time.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// New returns an empty store; add tables with [Store.AddTable].
func New(opts ...Option) *Store {
	s := &Store{now: time.Now, tables: map[string]*table{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// IDFunc makes the id of a table's n-th record (n counts from 1). Emulators
// use it to issue ids in their CRM's shape: Salesforce's 18-character ids,
// Dataverse GUIDs, HubSpot's numbers. It must not return the same id twice.
type IDFunc func(n uint64) string

// SequentialIDs returns an IDFunc that issues prefix1, prefix2, and so on. It
// is the default, with the lower-cased object name and a dash as the prefix
// ("contact-1").
func SequentialIDs(prefix string) IDFunc {
	return func(n uint64) string { return prefix + strconv.FormatUint(n, 10) }
}

// TableOption configures one table.
type TableOption func(*table)

// WithIDs sets how the table makes record ids.
func WithIDs(f IDFunc) TableOption {
	return func(t *table) {
		if f != nil {
			t.ids = f
		}
	}
}

// WithCreatedField names a date-time field that the store sets to the
// creation time of each record, as it sets the schema's ModifiedField to the
// time of the last write.
func WithCreatedField(name string) TableOption {
	return func(t *table) { t.createdName = name }
}

type table struct {
	schema      *crm.Schema
	fields      map[string]*crm.Field // by lower-cased name
	idField     *crm.Field
	modField    *crm.Field // nil when the schema names none
	createdName string
	createdFld  *crm.Field
	ids         IDFunc
	issued      uint64
	rows        map[string]*row // by id, deleted rows included
	byID        []*row          // the same rows in id order (compareIDs), for paging without sorting

	// unique indexes the live values of every external-id and unique field
	// (by field name, then uniqueKey), so a write's duplicate check and an
	// upsert's lookup cost a map access, not a scan of the table.
	unique map[string]map[string]*row
}

// row is one stored record. Its fields hold every schema field (nil for
// null) under the schema's own names.
type row struct {
	id         string
	fields     crm.Fields
	created    time.Time
	modified   time.Time
	createdSeq uint64
	seq        uint64 // the last write's sequence number, also the version
	deleted    bool
}

// AddTable adds a table for schema's object. The store keeps its own deep
// copy of the schema. The schema must name its object and its IDField, both
// fields must be described, and field names must be unique regardless of
// case.
func (s *Store) AddTable(schema *crm.Schema, opts ...TableOption) error {
	if schema == nil {
		return invalid("add table", "", "the schema is nil")
	}
	sc := schema.Clone()
	if sc.Object == "" {
		return invalid("add table", "", "Schema.Object is empty: name the object, such as \"Contact\"")
	}
	t := &table{
		schema: sc,
		fields: make(map[string]*crm.Field, len(sc.Fields)),
		ids:    SequentialIDs(strings.ToLower(sc.Object) + "-"),
		rows:   map[string]*row{},
		unique: map[string]map[string]*row{},
	}
	for i := range sc.Fields {
		f := &sc.Fields[i]
		if f.Name == "" {
			return invalid("add table", sc.Object, fmt.Sprintf("field %d has no name", i))
		}
		if f.Type.Value() == crm.ValueUnknown {
			return invalid("add table", sc.Object, fmt.Sprintf("field %s has type %q, which crmkit does not know: use one of the crm.Type constants", f.Name, f.Type))
		}
		key := strings.ToLower(f.Name)
		if _, dup := t.fields[key]; dup {
			return invalid("add table", sc.Object, fmt.Sprintf("field %s is described twice (names match without regard to case)", f.Name))
		}
		t.fields[key] = f
		if f.Unique || f.ExternalID {
			t.unique[f.Name] = map[string]*row{}
		}
	}
	for _, o := range opts {
		o(t)
	}
	var ok bool
	if t.idField, ok = t.fields[strings.ToLower(sc.IDField)]; !ok || sc.IDField == "" {
		return invalid("add table", sc.Object, fmt.Sprintf("Schema.IDField %q is not one of the described fields: describe the id field and name it in IDField", sc.IDField))
	}
	if t.idField.Type.Value() != crm.ValueString {
		return invalid("add table", sc.Object, fmt.Sprintf("id field %s has type %s: ids are strings", t.idField.Name, t.idField.Type))
	}
	if sc.ModifiedField != "" {
		if t.modField, ok = t.fields[strings.ToLower(sc.ModifiedField)]; !ok {
			return invalid("add table", sc.Object, fmt.Sprintf("Schema.ModifiedField %q is not one of the described fields", sc.ModifiedField))
		}
	}
	if t.createdName != "" {
		if t.createdFld, ok = t.fields[strings.ToLower(t.createdName)]; !ok {
			return invalid("add table", sc.Object, fmt.Sprintf("created field %q is not one of the described fields", t.createdName))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(sc.Object)
	if _, dup := s.tables[key]; dup {
		return invalid("add table", sc.Object, "the store already has a table for this object")
	}
	s.tables[key] = t
	s.names = append(s.names, sc.Object)
	return nil
}

// Objects returns the tables' object names, in the order they were added.
func (s *Store) Objects() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.names)
}

// Schema returns a deep copy of the object's schema. An unknown object is
// KindNotFound.
func (s *Store) Schema(object string) (*crm.Schema, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, err := s.table("describe", object)
	if err != nil {
		return nil, err
	}
	return t.schema.Clone(), nil
}

// Seq returns the sequence number of the latest write to any table, 0 for
// none: the position a change feed reader starts from to see only what
// happens next.
func (s *Store) Seq() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.seq
}

// Len returns how many live (not deleted) records the object's table holds.
func (s *Store) Len(object string) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, err := s.table("count", object)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range t.rows {
		if !r.deleted {
			n++
		}
	}
	return n, nil
}

// table finds a table by object name, without regard to case. The caller
// holds s.mu.
func (s *Store) table(op, object string) (*table, error) {
	if object == "" {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, Operation: op, Message: "the object name is empty: name the object, such as \"Contact\""}
	}
	t, ok := s.tables[strings.ToLower(object)]
	if !ok {
		return nil, &crm.Error{Kind: crm.KindNotFound, Operation: op, Object: object,
			Message: fmt.Sprintf("there is no object %q: the objects are %s", object, strings.Join(s.names, ", "))}
	}
	return t, nil
}

func (t *table) field(name string) (*crm.Field, bool) {
	f, ok := t.fields[strings.ToLower(name)]
	return f, ok
}

// unknownField is the error for a field the schema does not describe.
func (t *table) unknownField(op, id, name string) *crm.Error {
	return &crm.Error{Kind: crm.KindValidation, Operation: op, Object: t.schema.Object, RecordID: id,
		Fields: []string{name}, Message: t.unknownFieldMessage(name)}
}

func (t *table) unknownFieldMessage(name string) string {
	msg := fmt.Sprintf("%s has no field %q", t.schema.Object, name)
	if near := t.nearest(name); near != "" {
		return msg + fmt.Sprintf(": did you mean %q? Check the field mapping against the object's described fields", near)
	}
	return msg + ": check the field mapping against the object's described fields"
}

// nearest returns the described field name closest to name, when one is
// within two edits.
func (t *table) nearest(name string) string {
	best, bestD := "", 3
	lname := strings.ToLower(name)
	for _, f := range t.schema.Fields {
		if d := editDistance(lname, strings.ToLower(f.Name), bestD); d < bestD {
			best, bestD = f.Name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, or limit when it
// is at least limit.
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return min(prev[len(rb)], limit)
}

func invalid(op, object, msg string) *crm.Error {
	return &crm.Error{Kind: crm.KindInvalidRequest, Operation: op, Object: object, Message: msg}
}
