package memstore

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// seedLeads makes five leads, a..e, and returns the store and their ids by name.
func seedLeads(t testing.TB) (*Store, map[string]string) {
	t.Helper()
	s := newStore(t)
	ids := map[string]string{}
	for _, f := range []crm.Fields{
		{"Name": "alpha", "Score": 10, "Value": "1.50", "Note": "The Quick fox", "Tags": "a;b", "Active": true},
		{"Name": "Bravo", "Score": 20, "Value": "2", "Note": "lazy dog", "Tags": "b"},
		{"Name": "charlie", "Score": 30, "Note": "100% _sure_", "Active": false},
		{"Name": "Delta", "Score": 40, "Value": "-3.25"},
		{"Name": "echo", "Note": "O'Brien said \"hi\""},
	} {
		r := mustCreate(t, s, f)
		ids[r.Fields["Name"].(string)] = r.ID
	}
	return s, ids
}

func names(recs []*Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Fields["Name"].(string)
	}
	return out
}

func TestQueryFilters(t *testing.T) {
	s, _ := seedLeads(t)
	mid := t0.Add(3 * time.Second) // charlie's write time: the clock ticks once per write
	tests := []struct {
		name  string
		where crm.Filter
		want  []string // in id order
	}{
		{"all", nil, []string{"alpha", "Bravo", "charlie", "Delta", "echo"}},
		{"eq ignores case", crm.Eq("name", "BRAVO"), []string{"Bravo"}},
		{"eq int", crm.Eq("Score", 30), []string{"charlie"}},
		{"eq decimal by value", crm.Eq("Value", crm.MustDecimal("2.00")), []string{"Bravo"}},
		{"eq bool", crm.Eq("Active", false), []string{"charlie"}},
		{"eq multipicklist", crm.Eq("Tags", []string{"b"}), []string{"Bravo"}},
		{"ne matches nulls", crm.Ne("Score", 30), []string{"alpha", "Bravo", "Delta", "echo"}},
		{"gt", crm.Gt("Score", 20), []string{"charlie", "Delta"}},
		{"ge fractional literal on int", crm.Ge("Score", 19.5), []string{"Bravo", "charlie", "Delta"}},
		{"lt", crm.Lt("Score", 20), []string{"alpha"}},
		{"le decimal", crm.Le("Value", "1.5"), []string{"alpha", "Delta"}},
		{"gt string ignores case", crm.Gt("Name", "CHARLIE"), []string{"Delta", "echo"}},
		{"contains ignores case", crm.Contains("Note", "quick"), []string{"alpha"}},
		{"contains percent and underscore literally", crm.Contains("Note", "% _"), []string{"charlie"}},
		{"contains quotes", crm.Contains("Note", `O'Brien said "`), []string{"echo"}},
		{"contains underscore only", crm.Contains("Note", "_"), []string{"charlie"}},
		{"in", crm.In("Name", "alpha", "DELTA", "zulu"), []string{"alpha", "Delta"}},
		{"in numbers", crm.In("Score", 10, int64(40)), []string{"alpha", "Delta"}},
		{"is null", crm.IsNull("Score"), []string{"echo"}},
		{"not null", crm.NotNull("Value"), []string{"alpha", "Bravo", "Delta"}},
		{"modified since", crm.ModifiedSince(mid), []string{"charlie", "Delta", "echo"}},
		{"and", crm.And(crm.Gt("Score", 10), crm.Lt("Score", 40)), []string{"Bravo", "charlie"}},
		{"or", crm.Or(crm.Eq("Name", "alpha"), crm.IsNull("Score")), []string{"alpha", "echo"}},
		{"not", crm.Not(crm.Contains("Name", "a")), []string{"echo"}},
		{"nested", crm.And(crm.NotNull("Score"), crm.Or(crm.Not(crm.Gt("Score", 10)), crm.And(crm.Eq("Active", false), crm.Contains("Note", "SURE")))),
			[]string{"alpha", "charlie"}},
		{"empty and", crm.And(), []string{"alpha", "Bravo", "charlie", "Delta", "echo"}},
		{"empty or", crm.Or(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.Query(Query{Object: "lead", Where: tt.where})
			if err != nil {
				t.Fatal(err)
			}
			if got := names(res.Records); !slices.Equal(got, tt.want) {
				t.Errorf("Where %v: got %q, want %q", tt.where, got, tt.want)
			}
			if res.Total != len(tt.want) || res.Next != nil {
				t.Errorf("Total %d Next %v, want %d and nil", res.Total, res.Next, len(tt.want))
			}
		})
	}
}

func TestQueryRefusesBadFilters(t *testing.T) {
	s, _ := seedLeads(t)
	tests := []struct {
		name   string
		q      Query
		kind   crm.Kind
		fields []string
		part   string
	}{
		{"unknown field", Query{Where: crm.Eq("Scroe", 1)}, crm.KindValidation, []string{"Scroe"}, `did you mean "Score"`},
		{"unknown nested field", Query{Where: crm.Or(crm.IsNull("Name"), crm.Not(crm.In("Bogus", 1)))}, crm.KindValidation, []string{"Bogus"}, "Bogus"},
		{"bad literal", Query{Where: crm.Gt("Score", "lots")}, crm.KindValidation, []string{"Score"}, "a whole number"},
		{"contains on a number", Query{Where: crm.Contains("Score", "1")}, crm.KindValidation, []string{"Score"}, "text fields"},
		{"gt on bool", Query{Where: crm.Gt("Active", true)}, crm.KindValidation, []string{"Active"}, "has no order"},
		{"nil compare", Query{Where: crm.Eq("Name", nil)}, crm.KindInvalidRequest, []string{"Name"}, "IsNull"},
		{"empty in", Query{Where: crm.In("Name")}, crm.KindInvalidRequest, []string{"Name"}, "no values"},
		{"unknown order field", Query{OrderBy: []crm.Order{crm.Asc("Nope")}}, crm.KindValidation, []string{"Nope"}, "Nope"},
		{"order by multipicklist", Query{OrderBy: []crm.Order{crm.Asc("Tags")}}, crm.KindValidation, []string{"Tags"}, "cannot be sorted"},
		{"unknown selected field", Query{Fields: []string{"Name", "Nam"}}, crm.KindValidation, []string{"Nam"}, "Nam"},
		{"negative limit", Query{Limit: -1}, crm.KindInvalidRequest, nil, "Limit is -1"},
		{"foreign filter type", Query{Where: foreignFilter{}}, crm.KindUnsupported, nil, "not one of crm's filter types"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Object = "Lead"
			_, err := s.Query(tt.q)
			wantErr(t, err, tt.kind, tt.fields, tt.part)
		})
	}
}

// foreignFilter is a crm.Filter from outside the closed set (it embeds one to
// satisfy the unexported method).
type foreignFilter struct{ crm.Filter }

func (foreignFilter) String() string { return "foreign" }

func TestQueryOrderAndSelection(t *testing.T) {
	s, _ := seedLeads(t)
	mustCreate(t, s, crm.Fields{"Name": "alpha", "Score": 5}) // a tie on Name, broken by id
	tests := []struct {
		order []crm.Order
		want  []string
	}{
		{[]crm.Order{crm.Asc("Name")}, []string{"alpha", "alpha", "Bravo", "charlie", "Delta", "echo"}},
		{[]crm.Order{crm.Desc("name")}, []string{"echo", "Delta", "charlie", "Bravo", "alpha", "alpha"}},
		// Nulls first ascending, last descending.
		{[]crm.Order{crm.Asc("Score")}, []string{"echo", "alpha", "alpha", "Bravo", "charlie", "Delta"}},
		{[]crm.Order{crm.Desc("Score")}, []string{"Delta", "charlie", "Bravo", "alpha", "alpha", "echo"}},
		{[]crm.Order{crm.Asc("Name"), crm.Desc("Score")}, []string{"alpha", "alpha", "Bravo", "charlie", "Delta", "echo"}},
	}
	for _, tt := range tests {
		res, err := s.Query(Query{Object: "Lead", OrderBy: tt.order, Fields: []string{"name", "score"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(res.Records); !slices.Equal(got, tt.want) {
			t.Errorf("OrderBy %v: got %q, want %q", tt.order, got, tt.want)
		}
		if got := res.Records[0].Fields.Names(); !slices.Equal(got, []string{"Id", "Name", "Score"}) {
			t.Errorf("selected fields %v, want Id, Name, Score", got)
		}
	}
	res, _ := s.Query(Query{Object: "Lead", OrderBy: []crm.Order{crm.Asc("Name"), crm.Desc("Score")}})
	if res.Records[0].Fields["Score"] != int64(10) || res.Records[1].Fields["Score"] != int64(5) {
		t.Errorf("second key descending: scores %v, %v; want 10 then 5", res.Records[0].Fields["Score"], res.Records[1].Fields["Score"])
	}
}

// TestKeysetPagingSurvivesWrites writes between pages: records inserted before
// the position are not read, those after are, deleted ones vanish, and no
// record is read twice.
func TestKeysetPagingSurvivesWrites(t *testing.T) {
	for _, desc := range []bool{false, true} {
		s := newStore(t)
		for _, n := range []string{"b", "d", "f", "h", "j", "l"} {
			mustCreate(t, s, crm.Fields{"Name": n})
		}
		q := Query{Object: "Lead", OrderBy: []crm.Order{{Field: "Name", Desc: desc}}, Limit: 2}
		var got []string
		res, err := s.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, names(res.Records)...)
		// Between pages: one insert on each side of the position, one tie with
		// the last record read, and one delete ahead.
		mustCreate(t, s, crm.Fields{"Name": "a"})
		mustCreate(t, s, crm.Fields{"Name": "k"})
		mustCreate(t, s, crm.Fields{"Name": got[1]})
		ahead, _ := s.Query(Query{Object: "Lead", Where: crm.In("Name", "f", "h")})
		if _, err := s.Delete("Lead", ahead.Records[0].ID); err != nil {
			t.Fatal(err)
		}
		for res.Next != nil {
			// The position goes through text, as it does in a cursor.
			b, err := res.Next.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			var p Position
			if err := p.UnmarshalText(b); err != nil {
				t.Fatal(err)
			}
			q.After = &p
			if res, err = s.Query(q); err != nil {
				t.Fatal(err)
			}
			got = append(got, names(res.Records)...)
		}
		want := []string{"b", "d", "d", "h", "j", "k", "l"} // f deleted; a before the start; the new d ties and sorts after by id
		if desc {
			want = []string{"l", "j", "j", "h", "d", "b", "a"} // k sorts before the position; a after it
		}
		if !slices.Equal(got, want) {
			t.Errorf("desc=%v: pages read %q, want %q", desc, got, want)
		}
	}
}

func TestPositionText(t *testing.T) {
	p := Position{ID: "x-1", Values: []any{nil, "s", true, int64(-3), crm.MustDecimal("1.50"),
		time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), crm.Date{Year: 2026, Month: 1, Day: 2}}}
	b, err := p.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var q Position
	if err := q.UnmarshalText(b); err != nil {
		t.Fatal(err)
	}
	if q.ID != p.ID || len(q.Values) != len(p.Values) {
		t.Fatalf("round trip = %+v, want %+v", q, p)
	}
	for i := range p.Values {
		if !crm.EqualValues(p.Values[i], q.Values[i]) {
			t.Errorf("value %d = %#v, want %#v", i, q.Values[i], p.Values[i])
		}
	}
	if _, err := (Position{ID: "x", Values: []any{[]string{"a"}}}).MarshalText(); err == nil {
		t.Error("marshalling a []string value succeeded")
	}
	for _, bad := range []string{``, `{}`, `[]`, `{"id":"x","v":[["s"]]}`, `{"id":"x","v":[["q","1"]]}`, `{"id":"x","v":[["i","1.5"]]}`, `{"id":"x","v":[["t","yesterday"]]}`} {
		if err := new(Position).UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) succeeded", bad)
		}
	}

	// A well-formed position that does not fit the query's order is refused.
	s, _ := seedLeads(t)
	for _, after := range []*Position{
		{ID: "lead-1"},
		{ID: "lead-1", Values: []any{int64(3)}},
		{ID: "", Values: []any{"x"}},
	} {
		_, err := s.Query(Query{Object: "Lead", OrderBy: []crm.Order{crm.Asc("Name")}, After: after})
		wantErr(t, err, crm.KindInvalidRequest, nil, "does not fit this query")
	}
}

func FuzzPositionUnmarshal(f *testing.F) {
	f.Add([]byte(`{"v":[["s","a"],null,["d","1.5"]],"id":"lead-1"}`))
	f.Add([]byte(`{"v":[["t","2026-01-02T03:04:05Z"],["D","2026-01-02"],["b","true"],["i","-9"]],"id":"x"}`))
	f.Add([]byte(`{"v":[["d","1e999999"]],"id":"x"}`))
	s, _ := seedLeads(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Position
		if err := p.UnmarshalText(b); err != nil {
			return
		}
		// Whatever decodes must either fit the query or be refused cleanly.
		_, err := s.Query(Query{Object: "Lead", OrderBy: []crm.Order{crm.Asc("Name"), crm.Desc("Value")}, After: &p, Limit: 2})
		if err != nil && crm.KindOf(err) != crm.KindInvalidRequest {
			t.Fatalf("position %q: error %v, want nil or KindInvalidRequest", b, err)
		}
		if _, err := p.MarshalText(); err != nil {
			t.Fatalf("a decoded position does not marshal again: %v", err)
		}
	})
}

func TestChangesSince(t *testing.T) {
	s := newStore(t)
	old := mustCreate(t, s, crm.Fields{"Name": "old"})
	gone := mustCreate(t, s, crm.Fields{"Name": "gone"})
	start := s.Seq()
	if b, err := s.ChangesSince("Lead", start, 0, nil); err != nil || len(b.Changes) != 0 || b.Next != start || b.More {
		t.Fatalf("feed at the latest write: %+v, %v; want empty with Next %d", b, err, start)
	}

	mustCreate(t, s, crm.Fields{"Name": "new"})
	if _, err := s.Update("Lead", old.ID, crm.Fields{"Note": "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete("Lead", gone.ID); err != nil {
		t.Fatal(err)
	}
	briefly := mustCreate(t, s, crm.Fields{"Name": "briefly"})
	if _, err := s.Delete("Lead", briefly.ID); err != nil {
		t.Fatal(err)
	}

	type entry struct {
		name string
		kind crm.ChangeKind
	}
	var got []entry
	after := start
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("the feed does not end")
		}
		b, err := s.ChangesSince("Lead", after, 2, []string{"Name"})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range b.Changes {
			got = append(got, entry{c.Record.Fields["Name"].(string), c.Kind})
			if c.Record.Deleted != (c.Kind == crm.ChangeDeleted) {
				t.Errorf("%s: kind %s but Deleted=%v", c.Record.ID, c.Kind, c.Record.Deleted)
			}
		}
		after = b.Next
		if !b.More {
			break
		}
	}
	want := []entry{{"new", crm.ChangeCreated}, {"old", crm.ChangeUpdated}, {"gone", crm.ChangeDeleted}, {"briefly", crm.ChangeDeleted}}
	if !slices.Equal(got, want) {
		t.Errorf("feed = %v, want %v", got, want)
	}
	if after != s.Seq() {
		t.Errorf("final position %d, want the latest write %d", after, s.Seq())
	}

	// From the beginning, each record appears once, in order of its last write.
	b, _ := s.ChangesSince("Lead", 0, 0, nil)
	if len(b.Changes) != 4 || b.Changes[0].Kind != crm.ChangeCreated || b.Changes[0].Record.ID != "lead-3" {
		t.Errorf("feed from 0: %d changes, first %v; want 4, first created lead-3", len(b.Changes), b.Changes[0])
	}

	_, err := s.ChangesSince("Lead", s.Seq()+1, 0, nil)
	wantErr(t, err, crm.KindInvalidRequest, nil, "ahead of the store's latest write")
	_, err = s.ChangesSince("Nope", 0, 0, nil)
	if !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("unknown object: %v, want not found", err)
	}
}

// In id order a page is read straight from the id index; this checks that
// path against the same writes between pages, with custom ids that arrive
// out of order, and that the total is counted on the first page only.
func TestIDOrderPagingSurvivesWrites(t *testing.T) {
	s := newStore(t)
	for _, id := range []string{"lead-5", "lead-2", "lead-9", "lead-7"} {
		if _, err := s.Create("Lead", crm.Fields{"Name": id}, WithID(id), AsSystem()); err != nil {
			t.Fatal(err)
		}
	}
	q := Query{Object: "Lead", Where: crm.Ne("Name", "skip"), Limit: 2}
	res, err := s.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 4 || res.Next == nil {
		t.Fatalf("first page: Total %d, Next %v; want 4 and a position", res.Total, res.Next)
	}
	got := names(res.Records)
	for _, f := range []crm.Fields{{"Name": "lead-1"}, {"Name": "lead-6"}, {"Name": "skip"}} {
		id := f["Name"].(string)
		if id == "skip" {
			id = "lead-8"
		}
		if _, err := s.Create("Lead", f, WithID(id), AsSystem()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Delete("Lead", "lead-9"); err != nil {
		t.Fatal(err)
	}
	for res.Next != nil {
		q.After = res.Next
		if res, err = s.Query(q); err != nil {
			t.Fatal(err)
		}
		if res.Total != -1 {
			t.Errorf("a later page counted Total %d; want -1", res.Total)
		}
		got = append(got, names(res.Records)...)
	}
	want := []string{"lead-2", "lead-5", "lead-6", "lead-7"} // lead-1 before the position, lead-8 filtered, lead-9 deleted
	if !slices.Equal(got, want) {
		t.Errorf("pages read %q, want %q", got, want)
	}
}
