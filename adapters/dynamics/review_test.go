package dynamics_test

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crmkit/crmkit/adapters/dynamics"
	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/retry"
	"github.com/crmkit/crmkit/internal/emulator"
)

// TestIfVersionCannotAddHeaders checks that an IfVersion holding a line
// break is refused before anything is sent, instead of adding its own
// headers (here MSCRMCallerID, to act as another user) to the $batch part.
func TestIfVersionCannotAddHeaders(t *testing.T) {
	srv := dynamicstest.New(t)
	d := newDriver(t, srv)
	ids, err := srv.Seed("account", map[string]any{"name": "Kept"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Log().Reset()
	for _, v := range []string{
		"*\r\nMSCRMCallerID: 00000000-0000-4000-8000-000000000001",
		"W/\"1\"\r\nMSCRMCallerID: 00000000-0000-4000-8000-000000000001",
		"W/\"1\nx\"", "1", "W/1", `W/""x"`,
	} {
		for _, op := range []crm.Op{crm.OpUpdate, crm.OpDelete} {
			w := crm.Write{Op: op, ID: ids[0], IfVersion: v}
			if op == crm.OpUpdate {
				w.Fields = crm.Fields{"name": "Changed"}
			}
			rs, err := d.Write(t.Context(), crm.WriteRequest{Object: "account", Writes: []crm.Write{w}})
			if err != nil {
				t.Fatal(err)
			}
			if crm.KindOf(rs[0].Err) != crm.KindInvalidRequest || !strings.Contains(rs[0].Err.Error(), "Write.IfVersion") {
				t.Errorf("%s with IfVersion %q: %v, want invalid request naming Write.IfVersion", op, v, rs[0].Err)
			}
		}
	}
	if n := srv.Log().Count("batch"); n != 0 {
		t.Errorf("%d $batch requests sent, want none", n)
	}
	if r, _ := d.Get(t.Context(), crm.GetRequest{Object: "account", ID: ids[0]}); r == nil || r.Fields["name"] != "Kept" {
		t.Errorf("the record changed: %v", r)
	}
}

// TestContainsWildcardsAreText checks that %, _ and [ in a Contains value
// match themselves, not LIKE patterns (the emulator refuses a real wildcard).
func TestContainsWildcardsAreText(t *testing.T) {
	srv := dynamicstest.New(t)
	c := newClient(t, newDriver(t, srv))
	names := []string{"50% off", "50 off", "a_b", "axb", "[x]", "x", "[[]"}
	var ws []crm.Write
	for _, n := range names {
		ws = append(ws, crm.Write{Op: crm.OpCreate, Fields: crm.Fields{"lastname": n, "jobtitle": "like"}})
	}
	rs, err := c.Write(t.Context(), "contact", ws)
	if err != nil || rs.Err() != nil {
		t.Fatal(err, rs.Err())
	}
	for v, want := range map[string][]string{"50%": {"50% off"}, "a_b": {"a_b"}, "[x]": {"[x]"}, "[[": {"[[]"}, "%": {"50% off"}, "_": {"a_b"}} {
		var got []string
		for r, err := range c.Query(t.Context(), crm.Query{Object: "contact", Fields: []string{"lastname"}, Where: crm.And(crm.Eq("jobtitle", "like"), crm.Contains("lastname", v))}) {
			if err != nil {
				t.Fatalf("Contains(lastname, %q): %v", v, err)
			}
			got = append(got, r.Fields["lastname"].(string))
		}
		if !slices.Equal(got, want) {
			t.Errorf("Contains(lastname, %q) found %q, want %q", v, got, want)
		}
	}
}

// editCursor decodes a cursor, lets edit change it, and encodes it again,
// as someone holding a cursor could.
func editCursor(t *testing.T, cur string, edit func(m map[string]any)) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(cur, "v1."))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, _ = json.Marshal(m)
	return "v1." + base64.RawURLEncoding.EncodeToString(b)
}

// TestCursorTiedToItsQuery checks that an edited cursor cannot read another
// path, another table or with other options, nor inject into $filter.
func TestCursorTiedToItsQuery(t *testing.T) {
	srv := dynamicstest.New(t)
	d := newDriver(t, srv, dynamics.WithModifiedOnPolling(time.Hour))
	var recs []map[string]any
	for range 4 {
		recs = append(recs, map[string]any{"lastname": "Tied", "jobtitle": "cursor"})
	}
	if _, err := srv.Seed("contact", recs...); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Seed("lead", map[string]any{"lastname": "Polled"}); err != nil {
		t.Fatal(err)
	}
	q := crm.Query{Object: "contact", Fields: []string{"lastname"}, Where: crm.Eq("jobtitle", "cursor")}
	p, err := d.Query(t.Context(), crm.QueryRequest{Query: q, PageSize: 2})
	if err != nil || p.NextCursor == "" {
		t.Fatal(p, err)
	}
	link := func(f func(string) string) func(m map[string]any) {
		return func(m map[string]any) { m["l"] = f(m["l"].(string)) }
	}
	refused := func(name string, err error) {
		t.Helper()
		if crm.KindOf(err) != crm.KindInvalidRequest {
			t.Errorf("%s: %v, want invalid request", name, err)
		}
	}
	srv.Log().Reset()
	for name, edit := range map[string]func(m map[string]any){
		"another path": link(func(l string) string { return srv.APIURL() + "systemusers" }),
		"another set":  link(func(l string) string { return strings.Replace(l, "/contacts?", "/accounts?", 1) }),
		"other filter": link(func(l string) string {
			return strings.Replace(l, "$filter=", "$filter=jobtitle%20ne%20null%20or%20", 1)
		}),
		"an expand":   link(func(l string) string { return l + "&$expand=parentcustomerid_account" }),
		"userinfo":    link(func(l string) string { return strings.Replace(l, "://", "://me@", 1) }),
		"a page size": func(m map[string]any) { m["p"] = 1e9 },
	} {
		_, err := d.Query(t.Context(), crm.QueryRequest{Query: q, Cursor: editCursor(t, p.NextCursor, edit)})
		refused(name, err)
	}
	// The untouched cursor in a query of another table.
	_, err = d.Query(t.Context(), crm.QueryRequest{Query: crm.Query{Object: "account"}, Cursor: p.NextCursor})
	refused("a contact cursor in an account query", err)
	_, err = d.Query(t.Context(), crm.QueryRequest{Query: crm.Query{Object: "contact", Fields: []string{"lastname"}}, Cursor: p.NextCursor})
	refused("a cursor in a query with another filter", err)
	if n := srv.Log().Count("query"); n != 0 {
		t.Errorf("%d query requests sent for edited cursors, want none", n)
	}
	if _, err := d.Query(t.Context(), crm.QueryRequest{Query: q, Cursor: p.NextCursor}); err != nil {
		t.Errorf("the untouched cursor: %v", err)
	}

	// Change feeds: a delta cursor of contacts, a polling cursor of leads.
	cp, err := d.Changes(t.Context(), crm.ChangesRequest{Object: "contact"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Changes(t.Context(), crm.ChangesRequest{Object: "account", Cursor: cp.Cursor})
	refused("a contact delta cursor for accounts", err)
	_, err = d.Changes(t.Context(), crm.ChangesRequest{Object: "contact", Cursor: editCursor(t, cp.Cursor, link(func(l string) string { return srv.APIURL() + "WhoAmI" }))})
	refused("a delta cursor to another path", err)
	lp, err := d.Changes(t.Context(), crm.ChangesRequest{Object: "lead"})
	if err != nil {
		t.Fatal(err)
	}
	if lp.More {
		t.Fatal("the polling pass did not end in one page")
	}
	srv.Log().Reset()
	inject := editCursor(t, lp.Cursor, func(m map[string]any) { m["s"] = "2000-01-01T00:00:00.000Z or lastname ne null" })
	_, err = d.Changes(t.Context(), crm.ChangesRequest{Object: "lead", Cursor: inject})
	refused("a polling cursor whose watermark holds a filter", err)
	_, err = d.Changes(t.Context(), crm.ChangesRequest{Object: "contact", Cursor: lp.Cursor})
	refused("a lead polling cursor for contacts", err)
	if n := srv.Log().Count("query"); n != 0 {
		t.Errorf("%d query requests sent for edited change cursors, want none", n)
	}
	if _, err := d.Changes(t.Context(), crm.ChangesRequest{Object: "lead", Cursor: lp.Cursor}); err != nil {
		t.Errorf("the untouched polling cursor: %v", err)
	}
}

// retryingDriver retries at once (no jitter), inside a synctest bubble.
func retryingDriver(t *testing.T, srv *dynamicstest.Server) *dynamics.Driver {
	t.Helper()
	d, err := dynamics.New(dynamics.WithBaseURL(srv.URL), dynamics.WithTransport(srv.Transport()),
		dynamics.WithRetry(retry.New(retry.WithRandom(func() float64 { return 0 }))))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRetriedBatchReportsCommittedWrites checks that a $batch whose answer
// is lost after it was applied does not report its writes as failed: a
// batch with a delete or a version is not sent again, and a change set
// sent again whose create finds its own record is reported applied.
func TestRetriedBatchReportsCommittedWrites(t *testing.T) {
	srv := dynamicstest.New(t)
	ids, err := srv.Seed("account", map[string]any{"name": "Doomed"}, map[string]any{"name": "Versioned"})
	if err != nil {
		t.Fatal(err)
	}
	lost := emulator.Status(503, nil, []byte(`{"error":{"code":"0x80040216","message":"lost"}}`)).AfterWork()
	synctest.Test(t, func(t *testing.T) {
		d := retryingDriver(t, srv)
		r, err := d.Get(t.Context(), crm.GetRequest{Object: "account", ID: ids[1]})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []crm.Write{
			{Op: crm.OpDelete, ID: ids[0]},
			{Op: crm.OpUpdate, ID: ids[1], IfVersion: r.Version, Fields: crm.Fields{"name": "New"}},
		} {
			srv.Log().Reset()
			srv.Faults().Inject("batch", 1, lost)
			rs, err := d.Write(t.Context(), crm.WriteRequest{Object: "account", Writes: []crm.Write{w}})
			if n := srv.Log().Count("batch"); n != 1 {
				t.Errorf("%s: %d $batch requests (results %v, %v), want 1: sent again, it would fail for having worked", w.Op, n, rs, err)
			}
			if err == nil && rs[0].Err == nil {
				t.Errorf("%s: no error for a lost answer", w.Op)
			}
		}
		srv.Log().Reset()
		srv.Faults().Inject("batch", 1, lost)
		rs, err := d.WriteAtomic(t.Context(), crm.WriteRequest{Object: "account", Writes: []crm.Write{
			{Op: crm.OpCreate, Fields: crm.Fields{"name": "One"}},
			{Op: crm.OpUpdate, ID: ids[1], Fields: crm.Fields{"name": "Set"}},
			{Op: crm.OpUpsert, ExternalField: "accountnumber", ExternalValue: "ATOM-1", Fields: crm.Fields{"name": "Keyed"}},
		}})
		if err != nil || crm.WriteResults(rs).Err() != nil {
			t.Fatalf("change set applied by its first attempt: %v %v, want success", err, crm.WriteResults(rs).Err())
		}
		if n := srv.Log().Count("batch"); n != 2 {
			t.Errorf("%d $batch requests, want 2 (the lost answer, then the retry)", n)
		}
		for i, res := range rs {
			if res.ID == "" || res.Version == "" {
				t.Errorf("write %d: %+v, want its id and version", i, res)
			}
		}
		if !rs[0].Created || rs[1].ID != ids[1] {
			t.Errorf("results %+v", rs)
		}
		got, err := d.Get(t.Context(), crm.GetRequest{Object: "account", ID: rs[2].ID})
		if err != nil || got.Fields["accountnumber"] != "ATOM-1" {
			t.Errorf("the upsert's record: %v %v", got, err)
		}
	})
	if n, _ := srv.Len("account"); n != 3 {
		t.Errorf("%d accounts, want 3 (one deleted, two made once)", n)
	}
}
