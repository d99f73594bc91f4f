package memstore

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// testSchema is a small object with one field of each interesting kind.
func testSchema() *crm.Schema {
	return &crm.Schema{
		Object: "Lead", IDField: "Id", ModifiedField: "Modified",
		Fields: []crm.Field{
			{Name: "Id", Type: crm.TypeID},
			{Name: "Name", Type: crm.TypeString, Length: 20, Required: true, Createable: true, Updateable: true},
			{Name: "Note", Type: crm.TypeText, Nillable: true, Createable: true, Updateable: true},
			{Name: "Email", Type: crm.TypeEmail, Nillable: true, Createable: true, Updateable: true, Unique: true},
			{Name: "Ext", Type: crm.TypeString, Nillable: true, Createable: true, Updateable: true, ExternalID: true},
			{Name: "Score", Type: crm.TypeInt, Nillable: true, Createable: true, Updateable: true},
			{Name: "Value", Type: crm.TypeCurrency, Nillable: true, Createable: true, Updateable: true},
			{Name: "Born", Type: crm.TypeDate, Nillable: true, Createable: true, Updateable: true},
			{Name: "Active", Type: crm.TypeBool, Nillable: true, Createable: true, Updateable: true},
			{Name: "Stage", Type: crm.TypePicklist, Nillable: true, Createable: true, Updateable: true,
				Picklist: []crm.PicklistValue{{Value: "Open", Default: true}, {Value: "Won"}, {Value: "Lost"}}},
			{Name: "Tags", Type: crm.TypeMultiPicklist, Nillable: true, Createable: true, Updateable: true,
				Picklist: []crm.PicklistValue{{Value: "a"}, {Value: "b"}, {Value: "c"}}},
			{Name: "Locked", Type: crm.TypeString, Nillable: true, Createable: true},
			{Name: "Created", Type: crm.TypeDateTime},
			{Name: "Modified", Type: crm.TypeDateTime},
		},
	}
}

// clock is a fake clock that advances one second per reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

var t0 = time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)

func newStore(t testing.TB) *Store {
	t.Helper()
	c := &clock{t: t0}
	s := New(WithClock(c.Now))
	if err := s.AddTable(testSchema(), WithCreatedField("Created")); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustCreate(t testing.TB, s *Store, f crm.Fields) *Record {
	t.Helper()
	r, err := s.Create("Lead", f)
	if err != nil {
		t.Fatalf("Create(%v): %v", f, err)
	}
	return r
}

// wantErr checks err is a *crm.Error of kind with fields, whose message
// contains every part.
func wantErr(t *testing.T, err error, kind crm.Kind, fields []string, parts ...string) {
	t.Helper()
	var ce *crm.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want a *crm.Error of kind %s", err, err, kind)
	}
	if ce.Kind != kind {
		t.Errorf("kind = %s, want %s (error: %v)", ce.Kind, kind, err)
	}
	if fields != nil && !slices.Equal(ce.Fields, fields) {
		t.Errorf("Fields = %q, want %q (error: %v)", ce.Fields, fields, err)
	}
	for _, p := range parts {
		if !strings.Contains(ce.Message, p) {
			t.Errorf("message %q does not contain %q", ce.Message, p)
		}
	}
}

func TestCreateNormalisesAndStamps(t *testing.T) {
	s := newStore(t)
	tags := []string{"a", "b"}
	r := mustCreate(t, s, crm.Fields{"name": "Ada", "SCORE": 7, "Value": "12.50", "Born": "1815-12-10", "Tags": tags, "Active": "true"})
	if r.ID != "lead-1" || r.Object != "Lead" || r.Version != "1" || r.Seq != 1 || r.Deleted {
		t.Fatalf("record = %+v, want id lead-1, object Lead, version 1", r)
	}
	want := crm.Fields{
		"Id": "lead-1", "Name": "Ada", "Note": nil, "Email": nil, "Ext": nil, "Score": int64(7),
		"Value": crm.MustDecimal("12.50"), "Born": crm.Date{Year: 1815, Month: 12, Day: 10}, "Active": true,
		"Stage": "Open", "Tags": []string{"a", "b"}, "Locked": nil, "Created": t0.Add(time.Second), "Modified": t0.Add(time.Second),
	}
	if len(r.Fields) != len(want) {
		t.Errorf("fields = %v, want %v", r.Fields, want)
	}
	for k, v := range want {
		if got, ok := r.Fields[k]; !ok || !crm.EqualValues(got, v) {
			t.Errorf("field %s = %#v, want %#v", k, got, v)
		}
	}
	if !r.Created.Equal(t0.Add(time.Second)) || !r.Modified.Equal(r.Created) {
		t.Errorf("created %v modified %v, want both %v", r.Created, r.Modified, t0.Add(time.Second))
	}

	// Copies in and out: neither the caller's slice nor a returned record
	// reaches the stored one.
	tags[0] = "c"
	r.Fields["Tags"].([]string)[1] = "c"
	r.Fields["Name"] = "Mallory"
	got, err := s.Get("LEAD", "lead-1", []string{"tags", "Name"})
	if err != nil {
		t.Fatal(err)
	}
	if !crm.EqualValues(got.Fields["Tags"], []string{"a", "b"}) || got.Fields["Name"] != "Ada" {
		t.Errorf("stored record changed through a copy: %v", got.Fields)
	}
	if want := []string{"Id", "Name", "Tags"}; !slices.Equal(got.Fields.Names(), want) {
		t.Errorf("selected fields = %v, want %v (the id is always selected)", got.Fields.Names(), want)
	}
	cr := got.CRM()
	if cr.ID != "lead-1" || cr.Version != "1" || cr.Object != "Lead" || !cr.ModifiedAt.Equal(r.Modified) {
		t.Errorf("CRM() = %+v", cr)
	}
}

func TestValidationErrors(t *testing.T) {
	s := newStore(t)
	base := mustCreate(t, s, crm.Fields{"Name": "Base", "Email": "base@example.com", "Ext": "E-1"})
	tests := []struct {
		name   string
		write  func() error
		kind   crm.Kind
		fields []string
		parts  []string
	}{
		{"unknown field", func() error { _, err := s.Create("Lead", crm.Fields{"Name": "x", "Nmae": "y"}); return err },
			crm.KindValidation, []string{"Nmae"}, []string{`Lead has no field "Nmae"`, `did you mean "Name"`}},
		{"wrong type", func() error { _, err := s.Create("Lead", crm.Fields{"Name": "x", "Score": "many"}); return err },
			crm.KindValidation, []string{"Score"}, []string{"field Score", "a string is not a valid int value", "a whole number"}},
		{"fractional int", func() error { _, err := s.Create("Lead", crm.Fields{"Name": "x", "Score": 1.5}); return err },
			crm.KindValidation, []string{"Score"}, []string{"field Score"}},
		{"read-only on create", func() error { _, err := s.Create("Lead", crm.Fields{"Name": "x", "Created": t0}); return err },
			crm.KindValidation, []string{"Created"}, []string{"field Created is read-only on create", "leave it out"}},
		{"id on create", func() error { _, err := s.Create("Lead", crm.Fields{"Name": "x", "Id": "lead-9"}); return err },
			crm.KindValidation, []string{"Id"}, []string{"the record id", "upsert on an external-id field"}},
		{"read-only on update", func() error { _, err := s.Update("Lead", base.ID, crm.Fields{"Locked": "x"}); return err },
			crm.KindValidation, []string{"Locked"}, []string{"field Locked is read-only on update"}},
		{"required missing", func() error { _, err := s.Create("Lead", crm.Fields{"Note": "x"}); return err },
			crm.KindValidation, []string{"Name"}, []string{"field Name is required", "creating a Lead"}},
		{"null into non-nillable on create", func() error { _, err := s.Create("Lead", crm.Fields{"Name": nil}); return err },
			crm.KindValidation, []string{"Name"}, []string{"field Name cannot be null"}},
		{"null into non-nillable on update", func() error { _, err := s.Update("Lead", base.ID, crm.Fields{"Name": nil}); return err },
			crm.KindValidation, []string{"Name"}, []string{"field Name cannot be null", "leave it out to keep the current one"}},
		{"too long", func() error { _, err := s.Create("Lead", crm.Fields{"Name": strings.Repeat("é", 21)}); return err },
			crm.KindValidation, []string{"Name"}, []string{"21 characters long", "length of 20"}},
		{"picklist", func() error { _, err := s.Create("Lead", crm.Fields{"Name": "x", "Stage": "Pending"}); return err },
			crm.KindValidation, []string{"Stage"}, []string{`does not allow "Pending"`, "Open, Won, Lost"}},
		{"multipicklist", func() error { _, err := s.Create("Lead", crm.Fields{"Name": "x", "Tags": "a;z"}); return err },
			crm.KindValidation, []string{"Tags"}, []string{`does not allow "z"`}},
		{"same field twice", func() error { _, err := s.Create("Lead", crm.Fields{"Name": "x", "name": "y"}); return err },
			crm.KindValidation, []string{"Name"}, []string{"given twice"}},
		{"duplicate unique", func() error {
			_, err := s.Create("Lead", crm.Fields{"Name": "x", "Email": "BASE@example.com"})
			return err
		}, crm.KindDuplicate, []string{"Email"}, []string{"already used by Lead " + base.ID}},
		{"duplicate external id on update", func() error {
			other := mustCreate(t, s, crm.Fields{"Name": "other"})
			_, err := s.Update("Lead", other.ID, crm.Fields{"Ext": "e-1"})
			return err
		}, crm.KindDuplicate, []string{"Ext"}, []string{"already used by Lead " + base.ID}},
		{"missing record", func() error { _, err := s.Update("Lead", "lead-404", crm.Fields{"Name": "x"}); return err },
			crm.KindNotFound, nil, []string{"Lead lead-404 does not exist"}},
		{"stale version", func() error { _, err := s.Update("Lead", base.ID, crm.Fields{"Name": "x"}, IfVersion("0")); return err },
			crm.KindConflict, nil, []string{"is at version 1", "expected version 0", "re-read it"}},
		{"unknown object", func() error { _, err := s.Create("Leed", crm.Fields{"Name": "x"}); return err },
			crm.KindNotFound, nil, []string{`no object "Leed"`, "the objects are Lead"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.write(), tt.kind, tt.fields, tt.parts...)
		})
	}
	if n, _ := s.Len("Lead"); n != 2 {
		t.Errorf("after failed writes the table holds %d records, want 2 (base and other)", n)
	}
	got, _ := s.Get("Lead", base.ID, nil)
	if got.Fields["Name"] != "Base" || got.Version != base.Version {
		t.Errorf("failed updates changed the record: %v version %s", got.Fields, got.Version)
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	s := newStore(t)
	_, err := s.Create("Lead", crm.Fields{"Score": "x", "Bogus": 1, "Stage": "Nope"})
	wantErr(t, err, crm.KindValidation, []string{"Bogus", "Score", "Stage", "Name"}, "Bogus", "field Score", "field Stage", "field Name is required")
	var ce *crm.Error
	errors.As(err, &ce)
	if ce.Operation != "create" || ce.Object != "Lead" {
		t.Errorf("operation %q object %q, want create Lead", ce.Operation, ce.Object)
	}
}

func TestUpdateAbsentVersusNil(t *testing.T) {
	s := newStore(t)
	r := mustCreate(t, s, crm.Fields{"Name": "Ada", "Note": "keep", "Score": 1})
	u, err := s.Update("Lead", r.ID, crm.Fields{"Score": 2})
	if err != nil {
		t.Fatal(err)
	}
	if u.Fields["Note"] != "keep" || u.Fields["Score"] != int64(2) {
		t.Errorf("after update without Note: %v, want Note kept and Score 2", u.Fields)
	}
	if u.Version == r.Version || !u.Modified.After(r.Modified) || !u.Created.Equal(r.Created) {
		t.Errorf("version %s→%s modified %v→%v created %v→%v: want a new version, later modified, same created",
			r.Version, u.Version, r.Modified, u.Modified, r.Created, u.Created)
	}
	u, err = s.Update("Lead", r.ID, crm.Fields{"Note": nil, "Id": r.ID}, IfVersion(u.Version))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := u.Fields["Note"]; !ok || v != nil {
		t.Errorf("Note after update with nil = %v (present %v), want null", v, ok)
	}
}

func TestUpsert(t *testing.T) {
	s := newStore(t)
	r, created, err := s.Upsert("Lead", "ext", "K-1", crm.Fields{"Name": "first"})
	if err != nil || !created || r.Fields["Ext"] != "K-1" {
		t.Fatalf("first upsert: %v created=%v err=%v, want a created record with Ext K-1", r, created, err)
	}
	r2, created, err := s.Upsert("Lead", "Ext", "k-1", crm.Fields{"Name": "second", "ext": "K-1"}, IfVersion(r.Version))
	if err != nil || created || r2.ID != r.ID || r2.Fields["Name"] != "second" || r2.Fields["Ext"] != "K-1" {
		t.Fatalf("second upsert: %+v created=%v err=%v, want an update of %s", r2, created, err, r.ID)
	}
	if n, _ := s.Len("Lead"); n != 1 {
		t.Errorf("table holds %d records, want 1", n)
	}
	_, _, err = s.Upsert("Lead", "Ext", "K-1", crm.Fields{"Ext": "K-2"})
	wantErr(t, err, crm.KindValidation, []string{"Ext"}, "other than the upsert key")
	_, _, err = s.Upsert("Lead", "Name", "x", crm.Fields{})
	wantErr(t, err, crm.KindValidation, []string{"Name"}, "cannot key an upsert", "Email, Ext")
	_, _, err = s.Upsert("Lead", "Ext", "K-1", crm.Fields{"Name": "third"}, IfVersion(r.Version))
	wantErr(t, err, crm.KindConflict, nil, "expected version "+r.Version)
	_, _, err = s.Upsert("Lead", "Ext", "K-9", crm.Fields{"Name": "x"}, IfVersion("3"))
	wantErr(t, err, crm.KindConflict, []string{"Ext"}, "no Lead has that Ext")
	_, _, err = s.Upsert("Lead", "Score", "x", nil)
	wantErr(t, err, crm.KindValidation, []string{"Score"}, "cannot key an upsert")
}

func TestUpsertConcurrentNeverDuplicates(t *testing.T) {
	s := newStore(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	creates := 0
	for i := range 32 {
		wg.Go(func() {
			_, created, err := s.Upsert("Lead", "Ext", "same", crm.Fields{"Name": fmt.Sprint("n", i)})
			if err != nil {
				t.Error(err)
			}
			if created {
				mu.Lock()
				creates++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n, _ := s.Len("Lead"); n != 1 || creates != 1 {
		t.Errorf("32 concurrent upserts of one key made %d records and reported %d creates, want 1 and 1", n, creates)
	}
}

func TestDeleteLeavesTombstone(t *testing.T) {
	s := newStore(t)
	r := mustCreate(t, s, crm.Fields{"Name": "gone", "Email": "g@example.com"})
	if _, err := s.Delete("Lead", r.ID, IfVersion("99")); err == nil {
		t.Fatal("delete with a stale version succeeded")
	}
	d, err := s.Delete("Lead", r.ID, IfVersion(r.Version))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Deleted || d.Version == r.Version || d.Fields["Name"] != "gone" {
		t.Errorf("tombstone = %+v, want Deleted, a new version and the last fields", d)
	}
	_, err = s.Get("Lead", r.ID, nil)
	wantErr(t, err, crm.KindNotFound, nil, "was deleted")
	if !errors.Is(err, crm.ErrNotFound) {
		t.Error("errors.Is(err, crm.ErrNotFound) is false")
	}
	_, err = s.Delete("Lead", r.ID)
	wantErr(t, err, crm.KindNotFound, nil, "was deleted")
	_, err = s.Update("Lead", r.ID, crm.Fields{"Name": "back"})
	wantErr(t, err, crm.KindNotFound, nil)

	live, _ := s.Query(Query{Object: "Lead"})
	all, _ := s.Query(Query{Object: "Lead", IncludeDeleted: true})
	if len(live.Records) != 0 || len(all.Records) != 1 || !all.Records[0].Deleted {
		t.Errorf("query: %d live, %d with deleted (deleted=%v); want 0 and 1 tombstone", len(live.Records), len(all.Records), all.Records)
	}
	// A deleted record's unique value is free again.
	if _, err := s.Create("Lead", crm.Fields{"Name": "new", "Email": "g@example.com"}); err != nil {
		t.Errorf("reusing a deleted record's email: %v", err)
	}
}

func TestIDsAndSystemWrites(t *testing.T) {
	c := &clock{t: t0}
	s := New(WithClock(c.Now))
	ids := func(n uint64) string {
		if n == 2 {
			return "X-1" // collides with the fixture below: the store moves on
		}
		return fmt.Sprintf("X-%d", n)
	}
	if err := s.AddTable(testSchema(), WithIDs(ids)); err != nil {
		t.Fatal(err)
	}
	a := mustCreate(t, s, crm.Fields{"Name": "a"})
	b, err := s.Create("Lead", crm.Fields{"Name": "b"}, WithID("X-3"))
	if err != nil {
		t.Fatal(err)
	}
	cc := mustCreate(t, s, crm.Fields{"Name": "c"})
	if a.ID != "X-1" || b.ID != "X-3" || cc.ID != "X-4" {
		t.Errorf("ids %s %s %s, want X-1 X-3 X-4 (skipping the taken ones)", a.ID, b.ID, cc.ID)
	}
	_, err = s.Create("Lead", crm.Fields{"Name": "d"}, WithID("X-1"))
	wantErr(t, err, crm.KindDuplicate, []string{"Id"}, "already used")
	sys, err := s.Create("Lead", crm.Fields{"Locked": "seeded"}, AsSystem())
	if err != nil || sys.Fields["Locked"] != "seeded" {
		t.Errorf("system create of a read-only field without required Name: %v, %v; want it stored", sys, err)
	}
}

func TestAddTableRefusesBadSchemas(t *testing.T) {
	tests := []struct {
		name string
		edit func(*crm.Schema)
		part string
	}{
		{"no object", func(s *crm.Schema) { s.Object = "" }, "Schema.Object is empty"},
		{"no id field", func(s *crm.Schema) { s.IDField = "Key" }, `IDField "Key"`},
		{"bad modified field", func(s *crm.Schema) { s.ModifiedField = "When" }, `ModifiedField "When"`},
		{"duplicate field", func(s *crm.Schema) { s.Fields = append(s.Fields, crm.Field{Name: "NAME", Type: crm.TypeString}) }, "described twice"},
		{"unknown type", func(s *crm.Schema) { s.Fields[1].Type = "blob" }, `type "blob"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := testSchema()
			tt.edit(sc)
			wantErr(t, New().AddTable(sc), crm.KindInvalidRequest, nil, tt.part)
		})
	}
	s := newStore(t)
	wantErr(t, s.AddTable(testSchema()), crm.KindInvalidRequest, nil, "already has a table")
	sc, err := s.Schema("lead")
	if err != nil {
		t.Fatal(err)
	}
	sc.Fields[1].Name = "Changed"
	sc.Fields[9].Picklist[0].Value = "Changed"
	again, _ := s.Schema("Lead")
	if again.Fields[1].Name != "Name" || again.Fields[9].Picklist[0].Value != "Open" {
		t.Error("changing a returned schema changed the store's schema")
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newStore(t)
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r, err := s.Create("Lead", crm.Fields{"Name": fmt.Sprintf("w%d-%d", w, i), "Score": i})
				if err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					if _, err := s.Update("Lead", r.ID, crm.Fields{"Score": -i}); err != nil {
						t.Error(err)
					}
				}
				if i%10 == 0 {
					if _, err := s.Delete("Lead", r.ID); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			var after uint64
			for range 50 {
				if _, err := s.Query(Query{Object: "Lead", Where: crm.Gt("Score", 10), OrderBy: []crm.Order{crm.Desc("Name")}, Limit: 7}); err != nil {
					t.Error(err)
				}
				b, err := s.ChangesSince("Lead", after, 20, nil)
				if err != nil {
					t.Error(err)
					return
				}
				after = b.Next
			}
		})
	}
	wg.Wait()
	n, _ := s.Len("Lead")
	if want := writers * (each - each/10); n != want {
		t.Errorf("live records = %d, want %d", n, want)
	}
	// Every write took its own sequence number.
	wantSeq := uint64(writers * (each + each/5 + each/10))
	if s.Seq() != wantSeq {
		t.Errorf("Seq() = %d, want %d (one per write)", s.Seq(), wantSeq)
	}
	b, err := s.ChangesSince("Lead", 0, 0, []string{"Name"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, c := range b.Changes {
		if seen[c.Record.ID] {
			t.Fatalf("record %s appears twice in one feed read", c.Record.ID)
		}
		seen[c.Record.ID] = true
		if i > 0 && c.Record.Seq <= b.Changes[i-1].Record.Seq {
			t.Fatalf("feed out of order at %d: seq %d after %d", i, c.Record.Seq, b.Changes[i-1].Record.Seq)
		}
	}
	if len(seen) != writers*each {
		t.Errorf("feed from 0 has %d records, want %d", len(seen), writers*each)
	}
}
