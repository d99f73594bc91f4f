package memtable_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/endpointtest"
	"github.com/crmkit/crmkit/syncengine/memtable"
)

var fields = map[string]crm.ValueKind{
	"name":   crm.ValueString,
	"email":  crm.ValueString,
	"score":  crm.ValueInt64,
	"amount": crm.ValueDecimal,
	"tags":   crm.ValueStrings,
	"seen":   crm.ValueTime,
}

func target(t *testing.T, tb *memtable.Table, pageSize int) endpointtest.Target {
	return endpointtest.Target{
		Endpoint:   tb,
		TextField:  "name",
		OtherField: "email",
		Insert: func(t *testing.T, f crm.Fields) string {
			id, err := tb.Insert(f)
			if err != nil {
				t.Fatalf("Insert: %v", err)
			}
			return id
		},
		Modify: func(t *testing.T, id string, f crm.Fields) {
			if err := tb.Modify(id, f); err != nil {
				t.Fatalf("Modify: %v", err)
			}
		},
		Remove:      func(t *testing.T, id string) { tb.Remove(id) },
		SupportsKey: true,
		ChecksKinds: true,
		PageSize:    pageSize,
		MissingID:   "app-999999",
	}
}

func TestConformance(t *testing.T) {
	endpointtest.Run(t, func(t *testing.T) endpointtest.Target {
		return target(t, memtable.New(memtable.WithFields(fields), memtable.WithPageSize(3), memtable.WithBatchSize(4)), 3)
	})
}

// The suite also passes on a table that accepts any field.
func TestConformanceUndeclared(t *testing.T) {
	endpointtest.Run(t, func(t *testing.T) endpointtest.Target {
		tg := target(t, memtable.New(memtable.WithPageSize(2)), 2)
		tg.ChecksKinds = false
		tg.AnyField = true
		return tg
	})
}

func apply(t *testing.T, tb *memtable.Table, ws ...syncengine.Write) []syncengine.WriteResult {
	t.Helper()
	rs, err := tb.Apply(t.Context(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestValuesAreCopied(t *testing.T) {
	tb := memtable.New()
	tags := []string{"a", "b"}
	in := crm.Fields{"tags": tags, "name": "Ada"}
	id := apply(t, tb, syncengine.Write{Op: syncengine.Upsert, Key: "k", Fields: in})[0].ID
	tags[0] = "changed"
	in["name"] = "changed"
	r, _ := tb.Record(id)
	if got := r.Fields["tags"].([]string); got[0] != "a" || r.Fields["name"] != "Ada" {
		t.Fatalf("changing the written values changed the table: %v", r.Fields)
	}
	r.Fields["tags"].([]string)[1] = "changed"
	r.Fields["name"] = "changed"
	again, _ := tb.Record(id)
	if got := again.Fields["tags"].([]string); got[1] != "b" || again.Fields["name"] != "Ada" {
		t.Fatalf("changing a returned record changed the table: %v", again.Fields)
	}
	page, _ := tb.Changes(t.Context(), "")
	page.Records[0].Fields["tags"].([]string)[0] = "changed"
	if got, _ := tb.Record(id); got.Fields["tags"].([]string)[0] != "a" {
		t.Fatal("changing a record from the feed changed the table")
	}
}

func TestWriteErrors(t *testing.T) {
	tb := memtable.New(memtable.WithFields(fields))
	id, err := tb.Insert(crm.Fields{"name": "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	rs := apply(t, tb,
		syncengine.Write{Op: syncengine.Update, ID: "app-77", Fields: crm.Fields{"name": "x"}},
		syncengine.Write{Op: syncengine.Upsert, Fields: crm.Fields{"name": "x"}},
		syncengine.Write{Op: syncengine.Upsert, Key: "k1", Fields: crm.Fields{"score": 3}},
		syncengine.Write{Op: 0, ID: id},
		syncengine.Write{Op: syncengine.Update, ID: id, Fields: crm.Fields{"amount": "12.50"}},
	)
	want := []struct {
		kind  crm.Kind
		field string
	}{{crm.KindNotFound, ""}, {crm.KindInvalidRequest, ""}, {crm.KindValidation, "score"}, {crm.KindInvalidRequest, ""}, {crm.KindValidation, "amount"}}
	for i, w := range want {
		var ce *crm.Error
		if !errors.As(rs[i].Err, &ce) || ce.Kind != w.kind {
			t.Errorf("write %d: error %v, want kind %s", i, rs[i].Err, w.kind)
			continue
		}
		if w.field != "" && (len(ce.Fields) != 1 || ce.Fields[0] != w.field) {
			t.Errorf("write %d: error names fields %v, want %s", i, ce.Fields, w.field)
		}
	}
	if tb.Len() != 1 {
		t.Errorf("Len() = %d after failed writes, want 1", tb.Len())
	}
	if _, err := tb.Insert(crm.Fields{"nope": "x"}); crm.KindOf(err) != crm.KindValidation {
		t.Errorf("Insert of an undeclared field: %v, want a validation error", err)
	}
	if err := tb.Modify("app-77", crm.Fields{"name": "x"}); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("Modify of a missing record: %v, want not found", err)
	}
	tb.Remove(id)
	if err := tb.Modify(id, crm.Fields{"name": "x"}); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("Modify of a removed record: %v, want not found", err)
	}
	// Without WithFields, values that are not normalised are still refused.
	loose := memtable.New()
	rs = apply(t, loose, syncengine.Write{Op: syncengine.Upsert, Key: "k", Fields: crm.Fields{"n": 3.5}})
	if crm.KindOf(rs[0].Err) != crm.KindValidation {
		t.Errorf("a float64 value without WithFields: %v, want a validation error", rs[0].Err)
	}
}

func TestCursors(t *testing.T) {
	tb := memtable.New()
	for _, c := range []string{"x", "-1", "01", "1", " 0"} {
		if _, err := tb.Changes(t.Context(), c); crm.KindOf(err) != crm.KindInvalidRequest {
			t.Errorf("Changes(%q) on an empty table: %v, want KindInvalidRequest", c, err)
		}
	}
	p, err := tb.Changes(t.Context(), "")
	if err != nil || p.Cursor != "0" || len(p.Records) != 0 || p.More {
		t.Fatalf("Changes(\"\") on an empty table: %+v, %v; want no records and cursor 0", p, err)
	}
}

// Many rewrites of a few records: the log is compacted, and the feed still
// reports each record once at its latest state.
func TestCompaction(t *testing.T) {
	tb := memtable.New(memtable.WithPageSize(2))
	var ids []string
	for i := range 5 {
		id, _ := tb.Insert(crm.Fields{"n": int64(i)})
		ids = append(ids, id)
	}
	mid := ""
	for round := range 200 {
		for i, id := range ids {
			if err := tb.Modify(id, crm.Fields{"n": int64(round*10 + i)}); err != nil {
				t.Fatal(err)
			}
		}
		if round == 100 {
			p, _ := tb.Changes(t.Context(), "")
			mid = p.Cursor
		}
	}
	for _, from := range []string{"", mid} {
		seen := map[string]int64{}
		cursor := from
		for {
			p, err := tb.Changes(t.Context(), cursor)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Records {
				if _, dup := seen[r.ID]; dup {
					t.Errorf("the feed from %q reports %s twice", from, r.ID)
				}
				seen[r.ID] = r.Fields["n"].(int64)
			}
			cursor = p.Cursor
			if !p.More {
				break
			}
		}
		for i, id := range ids {
			if seen[id] != int64(199*10+i) {
				t.Errorf("the feed from %q reports %s with n=%d, want %d", from, id, seen[id], 199*10+i)
			}
		}
	}
}

func TestRecordsAndFind(t *testing.T) {
	tb := memtable.New()
	for i := range 12 {
		if _, err := tb.Insert(crm.Fields{"i": int64(i), "amount": crm.MustDecimal(strconv.Itoa(i % 3))}); err != nil {
			t.Fatal(err)
		}
	}
	tb.Remove("app-5")
	rs := tb.Records()
	if len(rs) != 11 || tb.Len() != 11 || rs[0].ID != "app-1" || rs[9].ID != "app-11" || rs[10].ID != "app-12" {
		t.Fatalf("Records() after removing app-5: %d records (first %s, last %s), Len %d; want 11 in creation order", len(rs), rs[0].ID, rs[len(rs)-1].ID, tb.Len())
	}
	find := func(v any) []string {
		t.Helper()
		rs, err := tb.Find(t.Context(), "amount", v)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	// Decimals match by value, whatever their scale; deleted records never match.
	if got := fmt.Sprint(find(crm.MustDecimal("2.00"))); got != "[app-3 app-6 app-9 app-12]" {
		t.Errorf("Find(amount, 2.00) = %s", got)
	}
	// The index follows later writes.
	if err := tb.Modify("app-3", crm.Fields{"amount": crm.MustDecimal("1")}); err != nil {
		t.Fatal(err)
	}
	tb.Remove("app-6")
	if got := fmt.Sprint(find(crm.MustDecimal("2"))); got != "[app-9 app-12]" {
		t.Errorf("Find(amount, 2) after changes = %s", got)
	}
	if got := fmt.Sprint(find(crm.MustDecimal("1"))); got != "[app-2 app-3 app-8 app-11]" {
		t.Errorf("Find(amount, 1) after changes = %s", got)
	}
	if _, err := tb.Find(t.Context(), "amount", nil); crm.KindOf(err) != crm.KindInvalidRequest {
		t.Errorf("Find with a nil value: %v, want KindInvalidRequest", err)
	}
	strict := memtable.New(memtable.WithFields(fields))
	if _, err := strict.Find(t.Context(), "nope", "x"); crm.KindOf(err) != crm.KindValidation {
		t.Errorf("Find on an undeclared field: %v, want KindValidation", err)
	}
	if _, err := strict.Find(t.Context(), "score", "x"); crm.KindOf(err) != crm.KindValidation {
		t.Errorf("Find with a value of the wrong kind: %v, want KindValidation", err)
	}
}

func TestClock(t *testing.T) {
	at := time.Date(2026, 11, 27, 13, 0, 0, 0, time.FixedZone("x", 3600))
	tb := memtable.New(memtable.WithClock(func() time.Time { return at }))
	id, _ := tb.Insert(crm.Fields{"a": "b"})
	if r, _ := tb.Record(id); !r.ModifiedAt.Equal(at) || r.ModifiedAt.Location() != time.UTC {
		t.Errorf("ModifiedAt = %v, want %v in UTC", r.ModifiedAt, at)
	}
}

func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "0", "17", "-1", "x", "99999999999999999999", "+5", "007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := memtable.ParseCursor(s)
		if err != nil {
			if crm.KindOf(err) != crm.KindInvalidRequest {
				t.Fatalf("ParseCursor(%q): %v, want KindInvalidRequest", s, err)
			}
			return
		}
		if s != "" && strconv.FormatInt(n, 10) != s {
			t.Fatalf("ParseCursor(%q) = %d, which does not print back as the cursor", s, n)
		}
	})
}

func batch(n, round int) []syncengine.Write {
	ws := make([]syncengine.Write, n)
	for i := range ws {
		ws[i] = syncengine.Write{Op: syncengine.Upsert, Key: "crm-" + strconv.Itoa(i),
			Fields: crm.Fields{"name": "Name " + strconv.Itoa(round), "email": "e" + strconv.Itoa(i) + "@example.com", "score": int64(round)}}
	}
	return ws
}

// BenchmarkApply upserts 1,000 records per op (creates first, then updates).
func BenchmarkApply(b *testing.B) {
	tb := memtable.New(memtable.WithFields(fields))
	ws := batch(1000, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tb.Apply(b.Context(), ws); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChanges reads 1,000 changes per op, in pages of 500, from a table
// of 100,000 records with a long write history.
func BenchmarkChanges(b *testing.B) {
	tb := memtable.New(memtable.WithFields(fields))
	for i := range 100 {
		ws := batch(1000, i)
		for j := range ws {
			ws[j].Key = fmt.Sprintf("crm-%d-%d", i, j)
		}
		if _, err := tb.Apply(b.Context(), ws); err != nil {
			b.Fatal(err)
		}
	}
	p, _ := tb.Changes(b.Context(), "")
	for range 50 {
		p, _ = tb.Changes(b.Context(), p.Cursor)
	}
	from := p.Cursor
	b.ReportAllocs()
	for b.Loop() {
		cursor, n := from, 0
		for n < 1000 {
			p, err := tb.Changes(b.Context(), cursor)
			if err != nil {
				b.Fatal(err)
			}
			n += len(p.Records)
			cursor = p.Cursor
		}
	}
}
