package crmtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
)

func testPaging(t *testing.T, h *harness) {
	p := h.tg.PageSize
	n := 3*p + 1
	fs := make([]crm.Fields, n)
	for i := range fs {
		fs[i] = h.record(fmt.Sprintf("Page %03d", i), nil)
	}
	created := h.createAll(t, fs)
	q := crm.Query{Object: h.schema.Object, Where: h.tagged(nil), Fields: []string{h.name.Name, h.text.Name}}

	var pages [][]string
	var all []string
	cursor := "" // page 2's NextCursor
	for page, err := range h.client.QueryPages(t.Context(), q, crm.WithPageSize(p)) {
		if err != nil {
			t.Fatalf("page %d: %v", len(pages)+1, err)
		}
		if len(pages) == 0 && page.Total >= 0 && page.Total != n {
			t.Errorf("page 1: Total = %d, want %d (or -1 when the CRM does not say)", page.Total, n)
		}
		if len(page.Records) > p {
			t.Errorf("page %d has %d records, more than the page size %d", len(pages)+1, len(page.Records), p)
		}
		for _, r := range page.Records {
			if v, _ := value(r, h.text.Name); v != h.tag {
				t.Errorf("page %d: record %s has %s = %#v, which the filter excludes", len(pages)+1, r.ID, h.text.Name, v)
			}
		}
		pages = append(pages, ids(page.Records))
		all = append(all, ids(page.Records)...)
		if len(pages) == 2 {
			cursor = page.NextCursor
		}
		if len(pages) > n+2 {
			t.Fatalf("more than %d pages for %d records: the cursor does not advance", n+2, n)
		}
	}
	if ok, diff := sameSet(all, created); !ok {
		t.Fatalf("paging over %d records in pages of %d: %s; want every record exactly once", n, p, diff)
	}
	if len(pages) < 4 {
		t.Fatalf("%d records in pages of %d came in %d pages, want at least 4", n, p, len(pages))
	}
	if cursor == "" {
		t.Fatal("page 2 has no NextCursor, but more records follow")
	}

	// Resume from page 2's cursor, from a new Client, as after a restart.
	rest := slices.Concat(pages[2:]...)
	fresh, err := crm.NewClient(h.drv)
	if err != nil {
		t.Fatal(err)
	}
	first, err := fresh.QueryPage(t.Context(), q, cursor, crm.WithPageSize(p))
	if err != nil {
		t.Fatalf("QueryPage with page 2's cursor: %v", err)
	}
	if ok, diff := sameSet(ids(first.Records), pages[2]); !ok {
		t.Errorf("QueryPage with page 2's cursor: %s; want page 3 again", diff)
	}
	var resumed []string
	for page, err := range fresh.QueryPages(t.Context(), q, crm.WithPageSize(p), crm.WithCursor(cursor)) {
		if err != nil {
			t.Fatalf("resumed paging: %v", err)
		}
		resumed = append(resumed, ids(page.Records)...)
		if len(resumed) > 2*n {
			t.Fatal("resumed paging does not end")
		}
	}
	if ok, diff := sameSet(resumed, rest); !ok {
		t.Errorf("resuming from page 2's cursor: %s; want exactly the %d records after page 2", diff, len(rest))
	}

	// The streaming iterator reads the same records.
	if ok, diff := sameSet(ids(h.query(t, q, crm.WithPageSize(p))), created); !ok {
		t.Errorf("Client.Query: %s", diff)
	}
}

// seedFilterSet makes the records the filter tests read: alpha 10 … echo 50,
// and foxtrot with no number.
func (h *harness) seedFilterSet(t *testing.T) map[string]string {
	t.Helper()
	names := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"}
	fs := make([]crm.Fields, len(names))
	for i, n := range names {
		fs[i] = h.record(n, nil)
		if h.number != nil && n != "foxtrot" {
			fs[i][h.number.Name] = h.num(int64(10 * (i + 1)))
		}
	}
	created := h.createAll(t, fs)
	byName := map[string]string{}
	for i, n := range names {
		byName[n] = created[i]
	}
	return byName
}

// names returns the name field of each record, sorted unless keepOrder.
func (h *harness) names(rs []*crm.Record, keepOrder bool) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		v, _ := value(r, h.name.Name)
		out[i] = fmt.Sprint(v)
	}
	if !keepOrder {
		slices.Sort(out)
	}
	return out
}

func testFilters(t *testing.T, h *harness) {
	byName := h.seedFilterSet(t)
	type tc struct {
		name    string
		where   crm.Filter
		want    []string
		feature crm.Feature
	}
	cases := []tc{
		{"Eq", crm.Eq(h.name.Name, "charlie"), []string{"charlie"}, ""},
		{"Ne", crm.Ne(h.name.Name, "alpha"), []string{"bravo", "charlie", "delta", "echo", "foxtrot"}, ""},
		{"In", crm.In(h.name.Name, "bravo", "delta", "nobody"), []string{"bravo", "delta"}, ""},
		{"And", crm.And(crm.In(h.name.Name, "alpha", "bravo", "charlie"), crm.Ne(h.name.Name, "bravo")), []string{"alpha", "charlie"}, ""},
		{"Or", crm.Or(crm.Eq(h.name.Name, "alpha"), crm.Eq(h.name.Name, "echo")), []string{"alpha", "echo"}, crm.FeatureOr},
		{"Not", crm.Not(crm.In(h.name.Name, "alpha", "bravo")), []string{"charlie", "delta", "echo", "foxtrot"}, crm.FeatureOr},
		{"Contains", crm.Contains(h.name.Name, "ELT"), []string{"delta"}, crm.FeatureContains},
	}
	if h.number != nil {
		num := h.number.Name
		cases = append(cases,
			tc{"Gt", crm.Gt(num, h.num(30)), []string{"delta", "echo"}, ""},
			tc{"Ge", crm.Ge(num, h.num(30)), []string{"charlie", "delta", "echo"}, ""},
			tc{"Lt", crm.Lt(num, h.num(30)), []string{"alpha", "bravo"}, ""},
			tc{"Le", crm.Le(num, h.num(30)), []string{"alpha", "bravo", "charlie"}, ""},
			tc{"EqNumber", crm.Eq(num, h.num(40)), []string{"delta"}, ""},
			tc{"InNumbers", crm.In(num, h.num(10), h.num(50)), []string{"alpha", "echo"}, ""},
			tc{"Range", crm.And(crm.Gt(num, h.num(10)), crm.Lt(num, h.num(50))), []string{"bravo", "charlie", "delta"}, ""},
			tc{"IsNull", crm.IsNull(num), []string{"foxtrot"}, crm.FeatureNullFilter},
			tc{"NotNull", crm.NotNull(num), []string{"alpha", "bravo", "charlie", "delta", "echo"}, crm.FeatureNullFilter},
			tc{"OrOfAnd", crm.Or(crm.And(crm.Ge(num, h.num(20)), crm.Le(num, h.num(30))), crm.Eq(h.name.Name, "echo")), []string{"bravo", "charlie", "echo"}, crm.FeatureOr},
			tc{"AndOfOr", crm.And(crm.Or(crm.Lt(num, h.num(20)), crm.Gt(num, h.num(40))), crm.Ne(h.name.Name, "echo")), []string{"alpha"}, crm.FeatureOr},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.feature != "" {
				h.need(t, c.feature)
			}
			got := h.names(h.query(t, crm.Query{Where: h.tagged(c.where)}), false)
			if !slices.Equal(got, c.want) {
				t.Errorf("filter %v: got %q, want %q", c.where, got, c.want)
			}
		})
	}

	t.Run("ModifiedSince", func(t *testing.T) {
		var earliest, latest time.Time
		for _, id := range byName {
			m := h.get(t, id).ModifiedAt
			if m.IsZero() {
				t.Skip("skipped: the driver leaves Record.ModifiedAt zero, so the suite cannot pick the times")
			}
			if earliest.IsZero() || m.Before(earliest) {
				earliest = m
			}
			if m.After(latest) {
				latest = m
			}
		}
		got := h.names(h.query(t, crm.Query{Where: h.tagged(crm.ModifiedSince(earliest.Add(-time.Minute)))}), false)
		if len(got) != len(byName) {
			t.Errorf("ModifiedSince(a minute before the earliest ModifiedAt %s): got %q, want all %d records", earliest, got, len(byName))
		}
		got = h.names(h.query(t, crm.Query{Where: h.tagged(crm.ModifiedSince(latest.Add(24 * time.Hour)))}), false)
		if len(got) != 0 {
			t.Errorf("ModifiedSince(a day after the latest ModifiedAt %s): got %q, want none", latest, got)
		}
	})
}

// nastyValues are filter literals that would turn into syntax in SOQL,
// OData, FetchXML, HubSpot search or SQL if an adapter did not escape them.
var nastyValues = []string{
	`O'Brien`,
	`it''s`,
	`back\slash`,
	`trailing\`,
	`\'`,
	`say "hi"`,
	`100%`,
	`a*b`,
	`snake_case`,
	`(paren)`,
	`x AND y`,
	`x OR y`,
	`NOT x`,
	`null`,
	`eq`,
	`a -- b`,
	`a; b`,
	`x' OR Name != 'y`,
	`x" or name ne "y`,
	`') OR (1=1`,
	`%_*?`,
	`{!$x}`,
	`a&b=c`,
	`Zoë`,
}

func testLiterals(t *testing.T, h *harness) {
	fs := make([]crm.Fields, len(nastyValues))
	for i, v := range nastyValues {
		fs[i] = h.record(v, nil)
	}
	created := h.createAll(t, fs)
	for i, id := range created {
		if v, _ := value(h.get(t, id), h.name.Name); v != nastyValues[i] {
			t.Errorf("wrote %s = %q and read back %#v", h.name.Name, nastyValues[i], v)
		}
	}

	t.Run("Eq", func(t *testing.T) {
		for i, v := range nastyValues {
			got := ids(h.query(t, crm.Query{Where: h.tagged(crm.Eq(h.name.Name, v))}))
			if !slices.Equal(got, []string{created[i]}) {
				t.Errorf("Eq(%s, %q) found %q, want exactly %s: the literal did not come back as data", h.name.Name, v, got, created[i])
			}
		}
	})
	t.Run("Contains", func(t *testing.T) {
		h.need(t, crm.FeatureContains)
		for i, v := range nastyValues {
			rs := h.query(t, crm.Query{Where: h.tagged(crm.Contains(h.name.Name, v))})
			if !slices.Contains(ids(rs), created[i]) {
				t.Errorf("Contains(%s, %q) did not find %s, whose %s is exactly that (found %q)", h.name.Name, v, created[i], h.name.Name, h.names(rs, false))
			}
			for _, r := range rs {
				name, _ := value(r, h.name.Name)
				if s, _ := name.(string); !strings.Contains(strings.ToLower(s), strings.ToLower(v)) {
					t.Errorf("Contains(%s, %q) found %s with %s = %#v, which does not contain it, among %d records: the literal became a pattern or syntax", h.name.Name, v, r.ID, h.name.Name, name, len(rs))
					break
				}
			}
		}
	})
	t.Run("In", func(t *testing.T) {
		var vals []any
		var want []string
		for _, v := range []string{`O'Brien`, `say "hi"`, `x' OR Name != 'y`, `') OR (1=1`, `trailing\`} {
			i := slices.Index(nastyValues, v)
			vals, want = append(vals, v), append(want, created[i])
		}
		got := ids(h.query(t, crm.Query{Where: h.tagged(crm.In(h.name.Name, vals...))}))
		if ok, diff := sameSet(got, want); !ok {
			t.Errorf("In(%s, %q): %s", h.name.Name, vals, diff)
		}
	})
	t.Run("Ne", func(t *testing.T) {
		v := `x' OR Name != 'y`
		i := slices.Index(nastyValues, v)
		got := ids(h.query(t, crm.Query{Where: h.tagged(crm.Ne(h.name.Name, v))}))
		if len(got) != len(nastyValues)-1 || slices.Contains(got, created[i]) {
			t.Errorf("Ne(%s, %q) found %d records (including it: %v), want the other %d", h.name.Name, v, len(got), slices.Contains(got, created[i]), len(nastyValues)-1)
		}
	})
}

func testOrderBy(t *testing.T, h *harness) {
	h.need(t, crm.FeatureOrderBy)
	h.seedFilterSet(t)
	asc := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"}
	got := h.names(h.query(t, crm.Query{Where: h.tagged(nil), OrderBy: []crm.Order{crm.Asc(h.name.Name)}}), true)
	if !slices.Equal(got, asc) {
		t.Errorf("OrderBy %s asc: got %q, want %q", h.name.Name, got, asc)
	}
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	got = h.names(h.query(t, crm.Query{Where: h.tagged(nil), OrderBy: []crm.Order{crm.Desc(h.name.Name)}}), true)
	if !slices.Equal(got, desc) {
		t.Errorf("OrderBy %s desc: got %q, want %q", h.name.Name, got, desc)
	}
	// Order holds across pages.
	got = h.names(h.query(t, crm.Query{Where: h.tagged(nil), OrderBy: []crm.Order{crm.Desc(h.name.Name)}}, crm.WithPageSize(2)), true)
	if !slices.Equal(got, desc) {
		t.Errorf("OrderBy %s desc in pages of 2: got %q, want %q", h.name.Name, got, desc)
	}
	if h.number != nil {
		got = h.names(h.query(t, crm.Query{Where: h.tagged(crm.Gt(h.number.Name, h.num(0))), OrderBy: []crm.Order{crm.Desc(h.number.Name)}}), true)
		if want := []string{"echo", "delta", "charlie", "bravo", "alpha"}; !slices.Equal(got, want) {
			t.Errorf("OrderBy %s desc: got %q, want %q", h.number.Name, got, want)
		}
	}
}

func testLimit(t *testing.T, h *harness) {
	h.seedFilterSet(t)
	q := crm.Query{Object: h.schema.Object, Where: h.tagged(nil), Limit: 3}
	if h.info.Supports(crm.FeatureOrderBy) {
		q.OrderBy = []crm.Order{crm.Asc(h.name.Name)}
	}
	// The driver itself must stop at the limit, across pages.
	var got []*crm.Record
	for page, err := range h.client.QueryPages(t.Context(), q, crm.WithPageSize(2)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Records...)
		if len(got) > 6 {
			break
		}
	}
	if len(got) != 3 {
		t.Errorf("Limit 3 in pages of 2: the driver returned %d records (%q), want 3", len(got), h.names(got, true))
	} else if q.OrderBy != nil {
		if names := h.names(got, true); !slices.Equal(names, []string{"alpha", "bravo", "charlie"}) {
			t.Errorf("Limit 3 ordered by %s: got %q, want the first three, alpha, bravo, charlie", h.name.Name, names)
		}
	}
	if n := len(h.query(t, crm.Query{Where: h.tagged(nil), Limit: 1})); n != 1 {
		t.Errorf("Limit 1: Client.Query yielded %d records, want 1", n)
	}
	if n := len(h.query(t, crm.Query{Where: h.tagged(nil), Limit: 100})); n != 6 {
		t.Errorf("Limit 100 over 6 records: got %d, want 6", n)
	}
}

func testIncludeDeleted(t *testing.T, h *harness) {
	h.need(t, crm.FeatureIncludeDeleted)
	ids := h.createAll(t, []crm.Fields{h.record("Live", nil), h.record("Deleted", nil)})
	if err := h.client.Delete(t.Context(), h.schema.Object, ids[1]); err != nil {
		t.Fatal(err)
	}
	live := h.query(t, crm.Query{Where: h.tagged(nil)})
	if len(live) != 1 || live[0].ID != ids[0] || live[0].Deleted {
		t.Errorf("query without IncludeDeleted: got %q, want only the live record %s", h.names(live, false), ids[0])
	}
	all := h.query(t, crm.Query{Where: h.tagged(nil), IncludeDeleted: true})
	deleted := map[string]bool{}
	for _, r := range all {
		deleted[r.ID] = r.Deleted
	}
	if len(all) != 2 || deleted[ids[0]] || !deleted[ids[1]] {
		t.Errorf("query with IncludeDeleted: got %v (id: deleted), want %s live and %s deleted", deleted, ids[0], ids[1])
	}
}

func testCancel(t *testing.T, h *harness) {
	p := h.tg.PageSize
	fs := make([]crm.Fields, 2*p+1)
	for i := range fs {
		fs[i] = h.record(fmt.Sprintf("Cancel %02d", i), nil)
	}
	h.createAll(t, fs)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	q := crm.Query{Object: h.schema.Object, Where: h.tagged(nil)}
	records, after := 0, 0
	for r, err := range h.client.Query(ctx, q, crm.WithPageSize(p)) {
		if ctx.Err() == nil {
			if err != nil {
				t.Fatalf("before cancel: %v", err)
			}
			records++
			cancel()
			continue
		}
		after++
		if r != nil {
			t.Errorf("after cancel the iteration yielded record %s, want no more records", r.ID)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("after cancel the iteration yielded error %v, want one matching context.Canceled", err)
		}
		if after > 1 {
			t.Errorf("the iteration went on after yielding the cancellation (iteration %d after cancel)", after)
			break
		}
	}
	if records != 1 || after != 1 {
		t.Errorf("cancelled after the first record: got %d records, then %d iterations; want 1 record, then exactly 1 iteration with the context error", records, after)
	}

	// Every driver call that reads or writes records refuses a cancelled
	// context. (Describe is left out: a driver may answer it from a cache.)
	done, stop := context.WithCancel(t.Context())
	stop()
	check := func(call string, err error) {
		t.Helper()
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Errorf("Driver.%s with a cancelled context: error %v, want one matching context.Canceled", call, err)
		}
	}
	_, err := h.drv.Query(done, crm.QueryRequest{Query: q, PageSize: p})
	check("Query", err)
	_, err = h.drv.Get(done, crm.GetRequest{Object: h.schema.Object, ID: "crmtest-any"})
	check("Get", err)
	_, err = h.drv.Changes(done, crm.ChangesRequest{Object: h.schema.Object})
	check("Changes", err)
	marker := h.record("Cancel write", nil)
	rs, err := h.drv.Write(done, crm.WriteRequest{Object: h.schema.Object, Writes: []crm.Write{{Op: crm.OpCreate, Fields: marker}}})
	for _, r := range rs {
		h.track(r.ID)
	}
	check("Write", err)
	if n := len(h.query(t, crm.Query{Where: h.tagged(crm.Eq(h.name.Name, "Cancel write"))})); n != 0 {
		t.Errorf("a Write with a cancelled context created %d records, want none", n)
	}
}
