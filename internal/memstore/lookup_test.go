package memstore

import (
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
)

func TestLookup(t *testing.T) {
	s := newStore(t)
	a := mustCreate(t, s, crm.Fields{"Name": "Ada", "Email": "ada@example.com", "Ext": "A-1"})
	b := mustCreate(t, s, crm.Fields{"Name": "Bea", "Email": "bea@example.com", "Ext": "B-1"})

	for _, tc := range []struct {
		field string
		value any
		want  string
	}{
		{"Ext", "A-1", a.ID},
		{"ext", "a-1", a.ID}, // field names and text values match without regard to case
		{"Email", "BEA@example.com", b.ID},
	} {
		r, err := s.Lookup("lead", tc.field, tc.value)
		if err != nil {
			t.Fatalf("Lookup(%s, %v): %v", tc.field, tc.value, err)
		}
		if r.ID != tc.want || r.Object != "Lead" || r.Fields["Name"] == nil {
			t.Errorf("Lookup(%s, %v) = %s %v, want %s with every field", tc.field, tc.value, r.ID, r.Fields, tc.want)
		}
		r.Fields["Name"] = "changed" // a copy: the store must not see this
	}
	if r, _ := s.Get("Lead", a.ID, nil); r.Fields["Name"] != "Ada" {
		t.Errorf("changing a looked-up record changed the store: Name = %v", r.Fields["Name"])
	}

	// The lookup follows writes: a changed key moves, a deleted record goes.
	if _, err := s.Update("Lead", a.ID, crm.Fields{"Ext": "A-2"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Lookup("Lead", "Ext", "A-1")
	wantErr(t, err, crm.KindNotFound, []string{"Ext"}, "no live Lead has that Ext")
	if r, err := s.Lookup("Lead", "Ext", "A-2"); err != nil || r.ID != a.ID {
		t.Errorf("Lookup(Ext, A-2) = %v, %v, want %s", r, err, a.ID)
	}
	if _, err := s.Delete("Lead", b.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Lookup("Lead", "Email", "bea@example.com")
	wantErr(t, err, crm.KindNotFound, []string{"Email"})

	_, err = s.Lookup("Lead", "Name", "Ada")
	wantErr(t, err, crm.KindValidation, []string{"Name"}, "neither an external id nor unique", "Email, Ext")
	_, err = s.Lookup("Lead", "Nmae", "Ada")
	wantErr(t, err, crm.KindValidation, nil, "Nmae")
	_, err = s.Lookup("Lead", "Ext", nil)
	wantErr(t, err, crm.KindInvalidRequest, []string{"Ext"}, "nil")
	_, err = s.Lookup("Lead", "Ext", []int{1})
	wantErr(t, err, crm.KindInvalidRequest, []string{"Ext"})
	_, err = s.Lookup("Nothing", "Ext", "A-1")
	wantErr(t, err, crm.KindNotFound, nil, "Nothing")
}

func TestLookupMatchesNumbersByValue(t *testing.T) {
	s := New()
	err := s.AddTable(&crm.Schema{Object: "Item", IDField: "Id", Fields: []crm.Field{
		{Name: "Id", Type: crm.TypeID},
		{Name: "Code", Type: crm.TypeInt, Nillable: true, Createable: true, Updateable: true, Unique: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Create("Item", crm.Fields{"Code": 42})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{42, int64(42), "42", crm.MustDecimal("42.0")} {
		got, err := s.Lookup("Item", "Code", v)
		if err != nil || got.ID != r.ID {
			t.Errorf("Lookup(Code, %#v) = %v, %v, want %s", v, got, err, r.ID)
		}
	}
}

func TestSameValueAndCompare(t *testing.T) {
	t1 := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		a, b any
		same bool
		cmp  int
	}{
		{"abc", "ABC", true, 0},
		{"abc", "abd", false, -1},
		{"B", "a", false, 1},
		{int64(3), crm.MustDecimal("3.00"), true, 0},
		{crm.MustDecimal("2.5"), int64(3), false, -1},
		{t1, t1.In(time.FixedZone("X", 3600)), true, 0},
		{t1.Add(time.Second), t1, false, 1},
		{crm.DateOf(t1), crm.DateOf(t1.AddDate(0, 0, 1)), false, -1},
		{true, true, true, 0},
		{true, false, false, 0}, // bools have no order
		{[]string{"a", "b"}, []string{"a", "b"}, true, 0},
		{"3", int64(3), false, 0}, // different kinds neither match nor order
	} {
		if got := SameValue(tc.a, tc.b); got != tc.same {
			t.Errorf("SameValue(%#v, %#v) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
		if got := Compare(tc.a, tc.b); got != tc.cmp {
			t.Errorf("Compare(%#v, %#v) = %d, want %d", tc.a, tc.b, got, tc.cmp)
		}
	}
	if !SameValue(nil, nil) || SameValue(nil, "") || SameValue("", nil) {
		t.Error("SameValue: nil must equal only nil")
	}
}
