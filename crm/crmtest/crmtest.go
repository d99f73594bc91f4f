package crmtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Target is what the suite needs from a driver under test.
type Target struct {
	// Driver is the driver under test.
	Driver crm.Driver
	// Object is an object the suite may create, update and delete records in
	// freely.
	Object string
	// NameField is a createable, updateable string field (it may be
	// required). The suite writes short ASCII values into it, some full of
	// quotes and query-language syntax.
	NameField string
	// TextField is another createable, updateable, nillable string field that
	// can be filtered with Eq. The suite tags every record it writes with a
	// unique run tag in it and filters on that tag, so it works on an org
	// that other people and tests use too.
	TextField string
	// NumberField is an int or decimal field (createable, updateable,
	// nillable) for the Gt, Lt and IsNull tests; "" skips them.
	NumberField string
	// ExternalIDField is an external-id string field for the upsert tests;
	// "" skips them.
	ExternalIDField string
	// ReadOnlyField is a field that is neither createable nor updateable;
	// "" skips the test that writing it fails.
	ReadOnlyField string
	// PageSize is the page size of the paging tests, which write
	// 3*PageSize+1 records (5 when zero). A driver whose CRM has a minimum
	// page size sets it at least that high.
	PageSize int
}

// Run runs the conformance suite: one named subtest per behaviour of the
// contract. It calls newTarget at the start of each subtest, so a driver
// that can start from a fresh org per subtest should; the suite also works
// on one shared org, since it only ever reads back records it tagged itself.
// Parts of the contract that the driver lists in Info().Unsupported are
// skipped, with the feature's name in the skip message. Records the suite
// creates are deleted when each subtest ends.
func Run(t *testing.T, newTarget func(t *testing.T) Target) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := setup(t, newTarget(t))
			c.run(t, h)
		})
	}
}

// cases lists the suite's subtests, in the order they run.
var cases = []struct {
	name string
	run  func(*testing.T, *harness)
}{
	{"Info", testInfo},
	{"Describe", testDescribe},
	{"CreateGetUpdateDelete", testCRUD},
	{"AbsentAndNil", testAbsentAndNil},
	{"Upsert", testUpsert},
	{"GetMissing", testGetMissing},
	{"UnknownField", testUnknownField},
	{"ReadOnlyField", testReadOnlyField},
	{"PartialBatch", testPartialBatch},
	{"WriteResults", testWriteResults},
	{"StaleVersion", testStaleVersion},
	{"Paging", testPaging},
	{"Filters", testFilters},
	{"Literals", testLiterals},
	{"OrderBy", testOrderBy},
	{"Limit", testLimit},
	{"IncludeDeleted", testIncludeDeleted},
	{"Cancel", testCancel},
	{"Changes", testChanges},
}

// harness holds one subtest's target, client, described schema and run tag,
// and remembers the records to delete at the end.
type harness struct {
	tg     Target
	drv    crm.Driver
	client *crm.Client
	info   crm.DriverInfo
	schema *crm.Schema
	tag    string

	// The target's fields as described, under the schema's names.
	name, text, number, ext, readOnly *crm.Field
	fill                              []*crm.Field // other required fields, filled with samples

	mu  sync.Mutex
	ids []string
	n   int
}

func setup(t *testing.T, tg Target) *harness {
	t.Helper()
	switch {
	case tg.Driver == nil:
		t.Fatal("crmtest: Target.Driver is nil: newTarget must return the driver under test")
	case tg.Object == "":
		t.Fatal("crmtest: Target.Object is empty: name an object the suite may write to")
	case tg.NameField == "" || tg.TextField == "":
		t.Fatal("crmtest: Target.NameField and Target.TextField are required")
	case tg.PageSize < 0:
		t.Fatalf("crmtest: Target.PageSize is %d: use 0 for the default (5) or a positive number", tg.PageSize)
	}
	if tg.PageSize == 0 {
		tg.PageSize = 5
	}
	client, err := crm.NewClient(tg.Driver)
	if err != nil {
		t.Fatalf("crm.NewClient: %v", err)
	}
	h := &harness{tg: tg, drv: tg.Driver, client: client, info: tg.Driver.Info(), tag: newTag()}
	h.schema, err = tg.Driver.Describe(t.Context(), tg.Object)
	if err != nil {
		t.Fatalf("Describe(%q): %v", tg.Object, err)
	}
	if h.schema == nil {
		t.Fatalf("Describe(%q) returned a nil schema and no error", tg.Object)
	}
	h.name = h.targetField(t, "NameField", tg.NameField, func(f *crm.Field) string {
		return stringWritable(f)
	})
	h.text = h.targetField(t, "TextField", tg.TextField, func(f *crm.Field) string {
		if msg := stringWritable(f); msg != "" {
			return msg
		}
		if !f.Nillable {
			return "is not nillable"
		}
		return ""
	})
	if tg.NumberField != "" {
		h.number = h.targetField(t, "NumberField", tg.NumberField, func(f *crm.Field) string {
			if v := f.Type.Value(); v != crm.ValueInt64 && v != crm.ValueDecimal {
				return fmt.Sprintf("has type %s, want an int or decimal type", f.Type)
			}
			if !f.Createable || !f.Updateable || !f.Nillable {
				return fmt.Sprintf("must be createable, updateable and nillable (described createable=%v updateable=%v nillable=%v)", f.Createable, f.Updateable, f.Nillable)
			}
			return ""
		})
	}
	if tg.ExternalIDField != "" {
		h.ext = h.targetField(t, "ExternalIDField", tg.ExternalIDField, func(f *crm.Field) string {
			if !f.ExternalID {
				return "is not described as an external id (Field.ExternalID is false)"
			}
			if f.Type.Value() != crm.ValueString || !f.Createable {
				return fmt.Sprintf("must be a createable string field (described type %s, createable=%v)", f.Type, f.Createable)
			}
			return ""
		})
	}
	if tg.ReadOnlyField != "" {
		h.readOnly = h.targetField(t, "ReadOnlyField", tg.ReadOnlyField, func(f *crm.Field) string {
			if f.Createable || f.Updateable {
				return fmt.Sprintf("is described as writable (createable=%v updateable=%v), want neither", f.Createable, f.Updateable)
			}
			return ""
		})
	}
	for i := range h.schema.Fields {
		f := &h.schema.Fields[i]
		if f.Required && f.Createable && !h.isTargetField(f) {
			if f.Type == crm.TypeReference {
				t.Fatalf("crmtest: %s.%s is a required reference; the suite cannot make the record it points to: choose another Target.Object", h.schema.Object, f.Name)
			}
			h.fill = append(h.fill, f)
		}
	}
	t.Cleanup(h.cleanup(t))
	return h
}

func stringWritable(f *crm.Field) string {
	if f.Type.Value() != crm.ValueString || f.Type == crm.TypeID || f.Type == crm.TypeReference || f.Type == crm.TypePicklist {
		return fmt.Sprintf("has type %s, want a free-text string type (string, text, email, phone, url)", f.Type)
	}
	if !f.Createable || !f.Updateable {
		return fmt.Sprintf("must be createable and updateable (described createable=%v updateable=%v)", f.Createable, f.Updateable)
	}
	return ""
}

// targetField finds a Target field in the schema and checks it fits its role.
func (h *harness) targetField(t *testing.T, role, name string, check func(*crm.Field) string) *crm.Field {
	t.Helper()
	f, ok := h.schema.Field(name)
	if !ok {
		t.Fatalf("crmtest: Target.%s %q is not a field of %s as described (%d fields)", role, name, h.schema.Object, len(h.schema.Fields))
	}
	if msg := check(f); msg != "" {
		t.Fatalf("crmtest: Target.%s %s.%s %s", role, h.schema.Object, f.Name, msg)
	}
	return f
}

func (h *harness) isTargetField(f *crm.Field) bool {
	for _, g := range []*crm.Field{h.name, h.text, h.number, h.ext, h.readOnly} {
		if g != nil && g.Name == f.Name {
			return true
		}
	}
	return false
}

func newTag() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "crmtest-" + hex.EncodeToString(b)
}

// cleanup deletes every record the subtest created. It runs after the
// subtest's context is cancelled, so it uses its own.
func (h *harness) cleanup(t *testing.T) func() {
	return func() {
		h.mu.Lock()
		ids := slices.Clone(h.ids)
		h.mu.Unlock()
		if len(ids) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ws := make([]crm.Write, len(ids))
		for i, id := range ids {
			ws[i] = crm.Write{Op: crm.OpDelete, ID: id}
		}
		rs, err := h.client.Write(ctx, h.schema.Object, ws)
		if err != nil {
			t.Logf("crmtest cleanup: deleting %d records: %v", len(ids), err)
			return
		}
		for i, r := range rs {
			if r.Err != nil && !errors.Is(r.Err, crm.ErrNotFound) {
				t.Logf("crmtest cleanup: deleting %s: %v", ids[i], r.Err)
			}
		}
	}
}

func (h *harness) track(id string) {
	if id == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !slices.Contains(h.ids, id) {
		h.ids = append(h.ids, id)
	}
}

// need skips the test when the driver declares f unsupported.
func (h *harness) need(t *testing.T, f crm.Feature) {
	t.Helper()
	if !h.info.Supports(f) {
		t.Skipf("skipped: driver %q lists feature %q in Info().Unsupported", h.info.Name, f)
	}
}

// record returns fields for a new tagged record named name, with samples in
// the object's other required fields and extra on top.
func (h *harness) record(name string, extra crm.Fields) crm.Fields {
	h.mu.Lock()
	h.n++
	n := h.n
	h.mu.Unlock()
	f := crm.Fields{h.name.Name: name, h.text.Name: h.tag}
	for _, r := range h.fill {
		f[r.Name] = sample(r, n, h.tag)
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// sample makes a valid value for a field, unique by n where it is text.
func sample(f *crm.Field, n int, tag string) any {
	switch f.Type {
	case crm.TypePicklist, crm.TypeMultiPicklist:
		v := ""
		if len(f.Picklist) > 0 {
			v = f.Picklist[0].Value
		}
		for _, p := range f.Picklist {
			if p.Active {
				v = p.Value
				break
			}
		}
		if f.Type == crm.TypeMultiPicklist {
			return []string{v}
		}
		return v
	case crm.TypeEmail:
		return fmt.Sprintf("%s.%d@example.com", tag, n)
	case crm.TypeURL:
		return fmt.Sprintf("https://example.com/%s/%d", tag, n)
	}
	switch f.Type.Value() {
	case crm.ValueString:
		s := fmt.Sprintf("%s-%d", tag, n)
		if f.Length > 0 && len(s) > f.Length {
			s = s[len(s)-f.Length:]
		}
		return s
	case crm.ValueBool:
		return true
	case crm.ValueInt64:
		return int64(n)
	case crm.ValueDecimal:
		return crm.NewDecimal(int64(n), 0)
	case crm.ValueTime:
		return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	case crm.ValueDate:
		return crm.Date{Year: 2026, Month: 1, Day: 2}
	case crm.ValueStrings:
		return []string{}
	}
	return nil
}

// num returns n in the value kind of the number field.
func (h *harness) num(n int64) any {
	if h.number.Type.Value() == crm.ValueDecimal {
		return crm.NewDecimal(n, 0)
	}
	return n
}

// tagged restricts a filter to this subtest's records.
func (h *harness) tagged(f crm.Filter) crm.Filter {
	if f == nil {
		return crm.Eq(h.text.Name, h.tag)
	}
	return crm.And(crm.Eq(h.text.Name, h.tag), f)
}

// write sends writes through the Client, checks there is one result per
// write, and remembers created ids for cleanup.
func (h *harness) write(t *testing.T, ws []crm.Write, opts ...crm.CallOption) crm.WriteResults {
	t.Helper()
	rs, err := h.client.Write(t.Context(), h.schema.Object, ws, opts...)
	if err != nil {
		t.Fatalf("Client.Write of %d writes: %v", len(ws), err)
	}
	if len(rs) != len(ws) {
		t.Fatalf("Client.Write of %d writes returned %d results, want one per write", len(ws), len(rs))
	}
	for i, r := range rs {
		if r.Err == nil && (ws[i].Op == crm.OpCreate || ws[i].Op == crm.OpUpsert) {
			h.track(r.ID)
		}
	}
	return rs
}

// create makes one record and returns its id.
func (h *harness) create(t *testing.T, f crm.Fields) string {
	t.Helper()
	return h.createAll(t, []crm.Fields{f})[0]
}

// createAll makes records in one Client.Write, all of which must succeed.
func (h *harness) createAll(t *testing.T, fs []crm.Fields, opts ...crm.CallOption) []string {
	t.Helper()
	ws := make([]crm.Write, len(fs))
	for i, f := range fs {
		ws[i] = crm.Write{Op: crm.OpCreate, Fields: f}
	}
	rs := h.write(t, ws, opts...)
	ids := make([]string, len(rs))
	for i, r := range rs {
		if r.Err != nil {
			t.Fatalf("create %d of %d (%v): %v", i, len(fs), fs[i], r.Err)
		}
		if r.ID == "" {
			t.Fatalf("create %d of %d succeeded with an empty WriteResult.ID", i, len(fs))
		}
		ids[i] = r.ID
	}
	return ids
}

func (h *harness) update(t *testing.T, id string, f crm.Fields) crm.WriteResult {
	t.Helper()
	rs := h.write(t, []crm.Write{{Op: crm.OpUpdate, ID: id, Fields: f}})
	if rs[0].Err != nil {
		t.Fatalf("update %s with %v: %v", id, f, rs[0].Err)
	}
	return rs[0]
}

func (h *harness) get(t *testing.T, id string) *crm.Record {
	t.Helper()
	r, err := h.client.Get(t.Context(), h.schema.Object, id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	if r == nil {
		t.Fatalf("Get(%s) returned nil and no error", id)
	}
	if r.ID != id {
		t.Errorf("Get(%s) returned a record with ID %q", id, r.ID)
	}
	return r
}

// query runs q through the Client's iterator and returns every record.
func (h *harness) query(t *testing.T, q crm.Query, opts ...crm.CallOption) []*crm.Record {
	t.Helper()
	if q.Object == "" {
		q.Object = h.schema.Object
	}
	var out []*crm.Record
	for r, err := range h.client.Query(t.Context(), q, opts...) {
		if err != nil {
			t.Fatalf("query %v: %v", q.Where, err)
		}
		if r == nil {
			t.Fatalf("query %v yielded a nil record with no error", q.Where)
		}
		out = append(out, r)
		if len(out) > 100000 {
			t.Fatalf("query %v yielded more than 100000 records: it does not end", q.Where)
		}
	}
	return out
}

// value returns a record's field by name, matching the name without regard
// to case when the driver keyed it differently.
func value(r *crm.Record, name string) (any, bool) {
	if v, ok := r.Fields[name]; ok {
		return v, true
	}
	for k, v := range r.Fields {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func ids(rs []*crm.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// sameSet reports whether a and b hold the same ids, and says how they
// differ.
func sameSet(a, b []string) (bool, string) {
	in := func(s []string) map[string]int {
		m := map[string]int{}
		for _, x := range s {
			m[x]++
		}
		return m
	}
	ma, mb := in(a), in(b)
	var missing, extra, dups []string
	for x := range mb {
		if ma[x] == 0 {
			missing = append(missing, x)
		}
	}
	for x, n := range ma {
		if mb[x] == 0 {
			extra = append(extra, x)
		}
		if n > 1 {
			dups = append(dups, x)
		}
	}
	if len(missing)+len(extra)+len(dups) == 0 {
		return true, ""
	}
	slices.Sort(missing)
	slices.Sort(extra)
	slices.Sort(dups)
	return false, fmt.Sprintf("missing %q, unexpected %q, repeated %q", missing, extra, dups)
}

// wantKind checks that err is a *crm.Error of the given kind.
func wantKind(t *testing.T, err error, kind crm.Kind, what string) *crm.Error {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want a *crm.Error of kind %q", what, kind)
		return nil
	}
	var ce *crm.Error
	if !errors.As(err, &ce) {
		t.Errorf("%s: got %T %q, want a *crm.Error of kind %q", what, err, err, kind)
		return nil
	}
	if ce.Kind != kind {
		t.Errorf("%s: got kind %q (%v), want %q", what, ce.Kind, err, kind)
	}
	return ce
}

// wantFieldNamed checks that a *crm.Error names field in Fields.
func wantFieldNamed(t *testing.T, ce *crm.Error, field, what string) {
	t.Helper()
	if ce == nil {
		return
	}
	for _, f := range ce.Fields {
		if strings.EqualFold(f, field) {
			return
		}
	}
	t.Errorf("%s: Error.Fields = %q, want it to name %q (error: %v)", what, ce.Fields, field, ce)
}
