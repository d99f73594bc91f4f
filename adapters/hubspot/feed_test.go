package hubspot_test

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crmkit/crmkit/adapters/hubspot"
	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
	"github.com/crmkit/crmkit/crm"
)

// seedMany makes n contacts in writes of chunk records; every write has its
// own millisecond, so each chunk shares one lastmodifieddate, as a batch
// does on HubSpot.
func seedMany(t *testing.T, srv *hubspottest.Server, n, chunk int) []string {
	t.Helper()
	var ids []string
	for start := 0; start < n; start += chunk {
		recs := make([]map[string]string, 0, chunk)
		for i := start; i < min(start+chunk, n); i++ {
			recs = append(recs, map[string]string{"firstname": fmt.Sprintf("n%05d", i%3000), "city": "Oslo"})
		}
		got, err := srv.Seed("contacts", recs...)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	return ids
}

// exactlyOnce fails unless got holds each id of want once.
func exactlyOnce(t *testing.T, what string, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	var dups, missing []string
	for id, n := range seen {
		if n > 1 {
			dups = append(dups, id)
		}
	}
	for _, id := range want {
		if seen[id] == 0 {
			missing = append(missing, id)
		}
	}
	if len(dups) > 0 || len(missing) > 0 || len(seen) != len(want) {
		t.Fatalf("%s: %d ids for %d records: %d repeated (%v...), %d missing (%v...)", what, len(got), len(want),
			len(dups), dups[:min(3, len(dups))], len(missing), missing[:min(3, len(missing))])
	}
}

// TestFeedPast10000: a change feed over 10,050 contacts, 150 to a
// millisecond, reads every one exactly once although search stops at
// 10,000 results; then it reports an update and a delete, and nothing else.
// The synctest bubble's fake clock makes search's 5 a second free.
func TestFeedPast10000(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := hubspottest.NewInProcess(t)
		drv := newDriver(t, srv)
		client, _ := crm.NewClient(drv)
		ids := seedMany(t, srv, 10_050, 150)

		var got []string
		cursor := ""
		for page, err := range client.Changes(t.Context(), "contacts", "", crm.WithPageSize(200)) {
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page.Changes {
				if c.Kind != crm.ChangeCreated {
					t.Fatalf("change %v for a new record, want created", c.Kind)
				}
				got = append(got, c.Record.ID)
			}
			cursor = page.Cursor
		}
		exactlyOnce(t, "the first read of the feed", got, ids)
		if st := srv.Stats(); st.Secondly429 != 0 || st.Burst429 != 0 {
			t.Errorf("429s while reading: %+v", st)
		}

		rs, err := client.Write(t.Context(), "contacts", []crm.Write{
			{Op: crm.OpUpdate, ID: ids[42], Fields: crm.Fields{"city": "Bergen"}},
			{Op: crm.OpDelete, ID: ids[9000]},
		})
		if err != nil || rs.Err() != nil {
			t.Fatal(err, rs.Err())
		}
		kinds := map[string]crm.ChangeKind{}
		for page, err := range client.Changes(t.Context(), "contacts", cursor) {
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page.Changes {
				if _, dup := kinds[c.Record.ID]; dup {
					t.Errorf("%s reported twice", c.Record.ID)
				}
				kinds[c.Record.ID] = c.Kind
				if c.Kind == crm.ChangeDeleted && !c.Record.Deleted {
					t.Errorf("the delete of %s has Record.Deleted false", c.Record.ID)
				}
			}
		}
		if len(kinds) != 2 || kinds[ids[42]] != crm.ChangeUpdated || kinds[ids[9000]] != crm.ChangeDeleted {
			t.Errorf("after one update and one delete the feed said %v", kinds)
		}
	})
}

// TestQueryPast10000 reads 10,050 matching contacts with a filter, by id
// and ordered by a property with many ties; both go past search's cap,
// each record once, the ordered one in order.
func TestQueryPast10000(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := hubspottest.NewInProcess(t)
		drv := newDriver(t, srv)
		client, _ := crm.NewClient(drv)
		ids := seedMany(t, srv, 10_050, 1000)
		srv.Seed("contacts", map[string]string{"firstname": "other", "city": "Bergen"})

		var got []string
		for r, err := range client.Query(t.Context(), crm.Query{Object: "contacts", Where: crm.Eq("city", "Oslo")}, crm.WithPageSize(200)) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r.ID)
		}
		exactlyOnce(t, "by id", got, ids)

		got = got[:0]
		var names []string
		q := crm.Query{Object: "contacts", Where: crm.In("city", "Oslo"), OrderBy: []crm.Order{crm.Asc("firstname")}, Fields: []string{"firstname"}}
		for r, err := range client.Query(t.Context(), q, crm.WithPageSize(200)) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r.ID)
			names = append(names, r.Fields["firstname"].(string))
		}
		exactlyOnce(t, "ordered by firstname", got, ids)
		if !slices.IsSorted(names) {
			t.Errorf("ordered by firstname, the names are not in order")
		}
	})
}

// TestQueryCompiles checks what the portable filter becomes, through what
// the emulator finds, and what cannot be expressed.
func TestQueryCompiles(t *testing.T) {
	srv, drv := newPortal(t)
	if _, err := srv.Seed("contacts",
		map[string]string{"firstname": "Ann", "city": "Oslo", "crmkit_score": "3"},
		map[string]string{"firstname": "Bob", "city": "Bergen", "crmkit_score": "7"},
		map[string]string{"firstname": "Cid", "city": "Oslo"},
	); err != nil {
		t.Fatal(err)
	}
	names := func(q crm.Query) ([]string, error) {
		q.Object = "contacts"
		p, err := drv.Query(t.Context(), crm.QueryRequest{Query: q})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, r := range p.Records {
			out = append(out, r.Fields["firstname"].(string))
		}
		slices.Sort(out)
		return out, nil
	}
	for _, c := range []struct {
		where crm.Filter
		want  []string
	}{
		// HubSpot matches string IN values in lower case; the driver sends them so.
		{crm.In("city", "OSLO"), []string{"Ann", "Cid"}},
		{crm.Not(crm.Or(crm.Eq("city", "Bergen"), crm.IsNull("crmkit_score"))), []string{"Ann"}},
		{crm.Or(crm.Gt("crmkit_score", 5), crm.Eq("firstname", "cid")), []string{"Bob", "Cid"}},
		{crm.Contains("firstname", "nn"), []string{"Ann"}},
	} {
		got, err := names(crm.Query{Where: c.where})
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%v: got %v (%v), want %v", c.where, got, err, c.want)
		}
	}
	for _, c := range []struct {
		q    crm.Query
		kind crm.Kind
	}{
		{crm.Query{Where: crm.Or(crm.Eq("city", "a"), crm.Eq("city", "b"), crm.Eq("city", "c"), crm.Eq("city", "d"), crm.Eq("city", "e"), crm.Eq("city", "f"))}, crm.KindUnsupported},
		{crm.Query{Where: crm.And(crm.Or(crm.Eq("city", "a"), crm.Eq("city", "b"), crm.Eq("city", "c")), crm.Or(crm.Eq("firstname", "a"), crm.Eq("firstname", "b")))}, crm.KindUnsupported},
		{crm.Query{Where: crm.Contains("firstname", "two words")}, crm.KindUnsupported},
		{crm.Query{Where: crm.Eq("nosuch", "x")}, crm.KindValidation},
		{crm.Query{Where: crm.Gt("crmkit_score", "seven")}, crm.KindValidation},
		{crm.Query{OrderBy: []crm.Order{crm.Asc("city"), crm.Asc("firstname")}}, crm.KindUnsupported},
		{crm.Query{IncludeDeleted: true}, crm.KindUnsupported},
		{crm.Query{Fields: []string{"firstname", "nosuch"}}, crm.KindValidation},
		{crm.Query{Where: crm.Eq("city", "Oslo"), Fields: []string{"nosuch"}}, crm.KindValidation},
	} {
		_, err := names(c.q)
		if crm.KindOf(err) != c.kind {
			t.Errorf("%v: %v, want kind %q", c.q.Where, err, c.kind)
		}
	}
	// A native search body.
	p, err := drv.Query(t.Context(), crm.QueryRequest{Query: crm.Query{Object: "contacts",
		Native: `{"filterGroups":[{"filters":[{"propertyName":"city","operator":"EQ","value":"bergen"}]}],"properties":["firstname"]}`}})
	if err != nil || len(p.Records) != 1 || p.Records[0].Fields["firstname"] != "Bob" || p.Total != 1 {
		t.Errorf("native query: %v %+v", err, p)
	}
}

// TestPathFamilies: the date-versioned paths by default, the legacy ones
// on request.
func TestPathFamilies(t *testing.T) {
	srv, drv := newPortal(t)
	legacy := newDriver(t, srv, hubspot.WithAPIVersion(hubspot.APIVersionLegacy))
	for _, d := range []*hubspot.Driver{drv, legacy} {
		if _, err := d.Query(t.Context(), crm.QueryRequest{Query: crm.Query{Object: "contacts"}}); err != nil {
			t.Fatal(err)
		}
	}
	var paths []string
	for _, r := range srv.Requests() {
		paths = append(paths, r.Path)
	}
	want := []string{"/crm/properties/2026-03/contacts", "/crm/objects/2026-03/contacts", "/crm/v3/properties/contacts", "/crm/v3/objects/contacts"}
	if !slices.Equal(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
}

// TestFeedIndexLag: with an index lag, the feed reports a change only once
// it is that old, then exactly once.
func TestFeedIndexLag(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	srv := hubspottest.New(t, hubspottest.WithClock(clock))
	drv := newDriver(t, srv, hubspot.WithIndexLag(30*time.Second), hubspot.WithClock(clock))
	client, _ := crm.NewClient(drv)
	read := func(cursor string) (map[string]crm.ChangeKind, string) {
		t.Helper()
		got := map[string]crm.ChangeKind{}
		for page, err := range client.Changes(t.Context(), "contacts", cursor) {
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page.Changes {
				if _, dup := got[c.Record.ID]; dup {
					t.Errorf("%s reported twice in one read", c.Record.ID)
				}
				got[c.Record.ID] = c.Kind
			}
			cursor = page.Cursor
		}
		return got, cursor
	}
	ids, err := srv.Seed("contacts", map[string]string{"firstname": "a"}, map[string]string{"firstname": "b"})
	if err != nil {
		t.Fatal(err)
	}
	got, cursor := read("")
	if len(got) != 0 {
		t.Errorf("changes younger than the lag were reported: %v", got)
	}
	now = now.Add(31 * time.Second)
	if _, err := client.Write(t.Context(), "contacts", []crm.Write{{Op: crm.OpDelete, ID: ids[1]}}); err != nil {
		t.Fatal(err)
	}
	got, cursor = read(cursor)
	// The second record is archived, so search no longer sees it; its
	// delete is too young to report yet.
	if len(got) != 1 || got[ids[0]] != crm.ChangeCreated {
		t.Errorf("31s later: %v, want the first create alone", got)
	}
	now = now.Add(31 * time.Second)
	got, cursor = read(cursor)
	if len(got) != 1 || got[ids[1]] != crm.ChangeDeleted {
		t.Errorf("62s later: %v, want the delete alone", got)
	}
	if got, _ = read(cursor); len(got) != 0 {
		t.Errorf("read again: %v, want nothing new", got)
	}
}
