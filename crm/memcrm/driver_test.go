package memcrm_test

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"
)

func wantKind(t *testing.T, err error, kind crm.Kind, parts ...string) {
	t.Helper()
	var ce *crm.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want a *crm.Error of kind %s", err, err, kind)
	}
	if ce.Kind != kind {
		t.Errorf("kind = %s (%v), want %s", ce.Kind, err, kind)
	}
	if ce.CRM == "" {
		t.Errorf("error %v does not name the driver in Error.CRM", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	bad := map[string][]memcrm.Option{
		"empty name":        {memcrm.WithName("")},
		"zero batch":        {memcrm.WithMaxBatchSize(0)},
		"page over max":     {memcrm.WithPageSize(50, 10)},
		"zero page":         {memcrm.WithPageSize(0, 10)},
		"nil clock":         {memcrm.WithClock(nil)},
		"negative limit":    {memcrm.WithDailyLimit(-1)},
		"no objects":        {memcrm.WithObjects()},
		"schema without id": {memcrm.WithObjects(&crm.Schema{Object: "Thing", Fields: []crm.Field{{Name: "Name", Type: crm.TypeString}}})},
	}
	for name, opts := range bad {
		if _, err := memcrm.New(opts...); err == nil {
			t.Errorf("%s: New succeeded, want an error", name)
		}
	}
}

func TestInfoAndObjects(t *testing.T) {
	d := newDriver(t, memcrm.WithName("org-a"), memcrm.WithMaxBatchSize(25), memcrm.WithPageSize(10, 50))
	i := d.Info()
	if i.Name != "org-a" || i.MaxBatchSize != 25 || i.DefaultPageSize != 10 || i.MaxPageSize != 50 ||
		!slices.Equal(i.Unsupported, []crm.Feature{crm.FeatureNativeQuery}) {
		t.Errorf("Info() = %+v", i)
	}
	objs, err := d.ListObjects(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].Name != "Contact" || objs[1].Name != "Account" || !objs[0].Queryable {
		t.Errorf("ListObjects() = %+v, want Contact and Account", objs)
	}
	s, err := d.Describe(t.Context(), "contact")
	if err != nil {
		t.Fatal(err)
	}
	s.Fields[0].Name = "Changed"
	again, _ := d.Describe(t.Context(), "Contact")
	if again.Fields[0].Name != "Id" {
		t.Error("changing a described schema changed the driver's")
	}
	_, err = d.Describe(t.Context(), "Lead")
	wantKind(t, err, crm.KindNotFound, "org-a", `no object "Lead"`)
}

func TestNativeQueryUnsupported(t *testing.T) {
	d := newDriver(t)
	_, err := d.Query(t.Context(), crm.QueryRequest{Query: crm.Query{Object: "Contact", Native: "SELECT Id FROM Contact"}})
	wantKind(t, err, crm.KindUnsupported, string(crm.FeatureNativeQuery))
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Error("errors.Is(err, errors.ErrUnsupported) is false")
	}
}

func seedContacts(t testing.TB, d *memcrm.Driver, n int) []string {
	t.Helper()
	fs := make([]crm.Fields, n)
	for i := range fs {
		fs[i] = crm.Fields{"LastName": string(rune('A'+i%26)) + "son", "Score": i}
	}
	ids, err := d.Seed("Contact", fs...)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestQueryCursors(t *testing.T) {
	d := newDriver(t, memcrm.WithPageSize(2, 3))
	seedContacts(t, d, 7)
	ctx := t.Context()
	q := crm.Query{Object: "Contact", Where: crm.Ge("Score", 1), OrderBy: []crm.Order{crm.Desc("Score")}}

	p1, err := d.Query(ctx, crm.QueryRequest{Query: q})
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Records) != 2 || p1.Total != 6 || p1.NextCursor == "" {
		t.Fatalf("first page: %d records, Total %d, cursor %q; want 2 (the default page size), 6, a cursor", len(p1.Records), p1.Total, p1.NextCursor)
	}
	big, err := d.Query(ctx, crm.QueryRequest{Query: q, PageSize: 1000})
	if err != nil || len(big.Records) != 3 {
		t.Fatalf("page size 1000 with a max of 3: %d records, %v; want 3", len(big.Records), err)
	}

	other := q
	other.Where = crm.Ge("Score", 2)
	_, err = d.Query(ctx, crm.QueryRequest{Query: other, Cursor: p1.NextCursor})
	wantKind(t, err, crm.KindInvalidRequest, "different query")
	other = q
	other.OrderBy = []crm.Order{crm.Asc("Score")}
	_, err = d.Query(ctx, crm.QueryRequest{Query: other, Cursor: p1.NextCursor})
	wantKind(t, err, crm.KindInvalidRequest, "different query")
	other = q
	other.Where = crm.Ge("Score", "1") // same text, another literal type
	_, err = d.Query(ctx, crm.QueryRequest{Query: other, Cursor: p1.NextCursor})
	wantKind(t, err, crm.KindInvalidRequest, "different query")

	// The same query in another Query value, with differently cased names,
	// resumes: the cursor is tied to what the query means.
	same := crm.Query{Object: "CONTACT", Where: crm.Ge("score", 1), OrderBy: []crm.Order{crm.Desc("SCORE")}}
	p2, err := d.Query(ctx, crm.QueryRequest{Query: same, Cursor: p1.NextCursor})
	if err != nil {
		t.Fatalf("resuming with the same query: %v", err)
	}
	if got := []any{p2.Records[0].Fields["Score"], p2.Records[1].Fields["Score"]}; !slices.Equal(got, []any{int64(4), int64(3)}) {
		t.Errorf("page 2 scores %v, want [4 3]", got)
	}

	for _, bad := range []string{"!!!", base64.RawURLEncoding.EncodeToString([]byte("{}")), base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"q":"x","p":"{}","n":0}`)), strings.Repeat("A", 20000)} {
		_, err := d.Query(ctx, crm.QueryRequest{Query: q, Cursor: bad})
		wantKind(t, err, crm.KindInvalidRequest, "cursor")
	}
	_, err = d.Query(ctx, crm.QueryRequest{Query: q, PageSize: -1})
	wantKind(t, err, crm.KindInvalidRequest, "page size is -1")
}

func TestQueryLimitAcrossPages(t *testing.T) {
	d := newDriver(t)
	seedContacts(t, d, 10)
	q := crm.Query{Object: "Contact", OrderBy: []crm.Order{crm.Asc("Score")}, Limit: 5}
	var got []any
	cursor := ""
	for {
		p, err := d.Query(t.Context(), crm.QueryRequest{Query: q, Cursor: cursor, PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 5 {
			t.Errorf("Total = %d, want 5 (capped by Limit)", p.Total)
		}
		for _, r := range p.Records {
			got = append(got, r.Fields["Score"])
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if want := []any{int64(0), int64(1), int64(2), int64(3), int64(4)}; !slices.Equal(got, want) {
		t.Errorf("scores %v, want %v", got, want)
	}
}

func TestChangeCursors(t *testing.T) {
	d := newDriver(t)
	seedContacts(t, d, 3)
	if _, err := d.Seed("Account", crm.Fields{"Name": "Acme"}); err != nil {
		t.Fatal(err)
	}
	p, err := d.Changes(t.Context(), crm.ChangesRequest{Object: "Contact", PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 2 || !p.More || p.Changes[0].Kind != crm.ChangeCreated {
		t.Fatalf("first change page: %d changes, More %v; want 2 created and more", len(p.Changes), p.More)
	}
	_, err = d.Changes(t.Context(), crm.ChangesRequest{Object: "Account", Cursor: p.Cursor})
	wantKind(t, err, crm.KindInvalidRequest, `belongs to object "contact"`)
	ahead := base64.RawURLEncoding.EncodeToString([]byte("memcrm-changes/1/contact/999"))
	_, err = d.Changes(t.Context(), crm.ChangesRequest{Object: "Contact", Cursor: ahead})
	wantKind(t, err, crm.KindInvalidRequest, "ahead of the store's latest write")
	rest, err := d.Changes(t.Context(), crm.ChangesRequest{Object: "contact", Cursor: p.Cursor, Fields: []string{"Score"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest.Changes) != 1 || rest.More || rest.Changes[0].Record.Fields["Score"] != int64(2) || len(rest.Changes[0].Record.Fields) != 2 {
		t.Errorf("rest of the feed: %+v; want the third contact with Id and Score only", rest.Changes)
	}
}

// FuzzCursors feeds garbage cursors to Query and Changes: each is refused
// with KindInvalidRequest, or (if it happens to be valid) served; never a
// panic or another kind of error.
func FuzzCursors(f *testing.F) {
	d := newDriver(f, memcrm.WithPageSize(2, 2), memcrm.WithDailyLimit(0))
	seedContacts(f, d, 5)
	q := crm.Query{Object: "Contact", Where: crm.Gt("Score", 0), OrderBy: []crm.Order{crm.Asc("LastName"), crm.Desc("Score")}}
	p, err := d.Query(context.Background(), crm.QueryRequest{Query: q})
	if err != nil {
		f.Fatal(err)
	}
	c, err := d.Changes(context.Background(), crm.ChangesRequest{Object: "Contact", PageSize: 2})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p.NextCursor)
	f.Add(c.Cursor)
	f.Add("")
	f.Add("eyJ2IjoxfQ")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"q":"","p":"{\"v\":[[\"s\",\"x\"],[\"i\",\"1\"]],\"id\":\"x\"}","n":-1}`)))
	f.Fuzz(func(t *testing.T, cursor string) {
		for _, call := range []func() error{
			func() error {
				_, err := d.Query(context.Background(), crm.QueryRequest{Query: q, Cursor: cursor})
				return err
			},
			func() error {
				_, err := d.Changes(context.Background(), crm.ChangesRequest{Object: "Contact", Cursor: cursor})
				return err
			},
			func() error {
				_, err := d.Search(context.Background(), crm.SearchRequest{Object: "Contact", Text: "son", Cursor: cursor})
				return err
			},
		} {
			if err := call(); err != nil && crm.KindOf(err) != crm.KindInvalidRequest {
				t.Fatalf("cursor %q: %v (kind %s), want nil or KindInvalidRequest", cursor, err, crm.KindOf(err))
			}
		}
	})
}

func TestSearch(t *testing.T) {
	d := newDriver(t, memcrm.WithPageSize(1, 10))
	if _, err := d.Seed("Contact",
		crm.Fields{"LastName": "Lovelace", "Email": "ada@example.com"},
		crm.Fields{"LastName": "Byron", "Title": "Poet, friend of ADA"},
		crm.Fields{"LastName": "Babbage", "Score": 7},
	); err != nil {
		t.Fatal(err)
	}
	var names []any
	cursor := ""
	for range 5 {
		p, err := d.Search(t.Context(), crm.SearchRequest{Object: "contact", Text: " ada ", Fields: []string{"LastName"}, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			names = append(names, r.Fields["LastName"])
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(names, []any{"Lovelace", "Byron"}) {
		t.Errorf("search for ada found %v, want Lovelace and Byron", names)
	}
	_, err := d.Search(t.Context(), crm.SearchRequest{Object: "Contact", Text: "  "})
	wantKind(t, err, crm.KindInvalidRequest, "Text is empty")
}

func TestSeedSetsReadOnlyFieldsAndChecksTypes(t *testing.T) {
	d := newDriver(t)
	when := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	ids, err := d.Seed("Contact", crm.Fields{"LastName": "Old", "CreatedAt": when, "ModifiedAt": when.Add(time.Hour)}, crm.Fields{"Score": "high"})
	if err == nil || len(ids) != 1 {
		t.Fatalf("Seed with a bad second record: ids %v, err %v; want one id and an error", ids, err)
	}
	wantKind(t, err, crm.KindValidation, "seed record 1", "field Score")
	r, err := d.Get(t.Context(), crm.GetRequest{Object: "Contact", ID: ids[0]})
	if err != nil {
		t.Fatal(err)
	}
	// Fixtures may carry history: the given times are kept, so a test can
	// seed records that "changed last week".
	if !crm.EqualValues(r.Fields["CreatedAt"], when) || !r.ModifiedAt.Equal(when.Add(time.Hour)) || r.Fields["LastName"] != "Old" {
		t.Errorf("seeded record = %v (ModifiedAt %v), want CreatedAt %v and ModifiedAt an hour later", r.Fields, r.ModifiedAt, when)
	}
}

func TestWriteBatchRules(t *testing.T) {
	d := newDriver(t, memcrm.WithMaxBatchSize(2))
	ctx := t.Context()
	_, err := d.Write(ctx, crm.WriteRequest{Object: "Contact", Writes: make([]crm.Write, 3)})
	wantKind(t, err, crm.KindInvalidRequest, "3 writes, more than the 2")
	_, err = d.Write(ctx, crm.WriteRequest{Object: "Nope", Writes: []crm.Write{{Op: crm.OpCreate}}})
	wantKind(t, err, crm.KindNotFound)

	rs, err := d.Write(ctx, crm.WriteRequest{Object: "Contact", Writes: []crm.Write{
		{Op: crm.OpUpsert, ExternalField: "Email", ExternalValue: "a@example.com", Fields: crm.Fields{"LastName": "A"}},
		{Op: crm.OpCreate, ID: "x", Fields: crm.Fields{"LastName": "B"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, rs[0].Err, crm.KindValidation, "Email is not an external id", "ExternalId")
	wantKind(t, rs[1].Err, crm.KindInvalidRequest, "cannot carry an ID")

	rs, _ = d.Write(ctx, crm.WriteRequest{Object: "Contact", Writes: []crm.Write{
		{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "C", "Email": "c@example.com"}},
		{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "D", "Email": "C@example.com"}},
	}})
	if rs[0].Err != nil {
		t.Fatal(rs[0].Err)
	}
	wantKind(t, rs[1].Err, crm.KindDuplicate, "Email", rs[0].ID)
	if !errors.Is(rs[1].Err, crm.ErrDuplicate) {
		t.Error("errors.Is(err, crm.ErrDuplicate) is false")
	}
}

func TestLimitsCountCallsAndRunOut(t *testing.T) {
	now := time.Date(2026, 11, 27, 23, 59, 0, 0, time.UTC)
	d := newDriver(t, memcrm.WithDailyLimit(3), memcrm.WithClock(func() time.Time { return now }))
	ctx := t.Context()
	for range 3 {
		if _, err := d.Describe(ctx, "Contact"); err != nil {
			t.Fatal(err)
		}
	}
	l, err := d.Limits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l.Daily.Used != 3 || l.Daily.Max != 3 || l.Daily.Remaining() != 0 || !l.At.Equal(now) {
		t.Errorf("Limits() = %+v, want 3 of 3 used at %v", l, now)
	}
	_, err = d.Get(ctx, crm.GetRequest{Object: "Contact", ID: "x"})
	wantKind(t, err, crm.KindQuotaExhausted, "daily allocation of 3")
	var ce *crm.Error
	if errors.As(err, &ce); ce.RetryAfter != time.Minute {
		t.Errorf("RetryAfter = %v, want the minute until midnight UTC", ce.RetryAfter)
	}
	now = now.Add(2 * time.Minute) // the next day
	if l, _ := d.Limits(ctx); l.Daily.Used != 0 {
		t.Errorf("after midnight Used = %d, want 0", l.Daily.Used)
	}
	if _, err := d.Describe(ctx, "Contact"); err != nil {
		t.Errorf("after midnight: %v, want the allocation renewed", err)
	}

	c, err := crm.NewClient(d)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := c.Limits(ctx); err != nil || l.Daily.Used != 1 {
		t.Errorf("Client.Limits: %+v, %v; want 1 used", l, err)
	}
}

func TestCancelledContext(t *testing.T) {
	d := newDriver(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]func() error{
		"Describe":    func() error { _, err := d.Describe(ctx, "Contact"); return err },
		"ListObjects": func() error { _, err := d.ListObjects(ctx); return err },
		"Get":         func() error { _, err := d.Get(ctx, crm.GetRequest{Object: "Contact", ID: "x"}); return err },
		"Query": func() error {
			_, err := d.Query(ctx, crm.QueryRequest{Query: crm.Query{Object: "Contact"}})
			return err
		},
		"Search":  func() error { _, err := d.Search(ctx, crm.SearchRequest{Object: "Contact", Text: "x"}); return err },
		"Changes": func() error { _, err := d.Changes(ctx, crm.ChangesRequest{Object: "Contact"}); return err },
		"Write":   func() error { _, err := d.Write(ctx, crm.WriteRequest{Object: "Contact"}); return err },
		"Limits":  func() error { _, err := d.Limits(ctx); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}
}

// A cursor stays valid for the same query rebuilt from stored values: a time
// without its monotonic reading or in another zone, a decimal at another
// scale, an int of another width.
func TestCursorSurvivesRebuiltLiterals(t *testing.T) {
	d := newDriver(t)
	seedContacts(t, d, 6)
	since := time.Now().Add(-time.Hour) // carries a monotonic clock reading
	build := func(ts time.Time, min crm.Decimal, score any) crm.Query {
		return crm.Query{Object: "Contact", Where: crm.And(
			crm.Gt("ModifiedAt", ts),
			crm.Or(crm.IsNull("AnnualValue"), crm.Ge("AnnualValue", min)),
			crm.Lt("Score", score),
		)}
	}
	p1, err := d.Query(t.Context(), crm.QueryRequest{Query: build(since, crm.MustDecimal("0"), int64(100)), PageSize: 4})
	if err != nil || p1.NextCursor == "" || len(p1.Records) != 4 {
		t.Fatalf("first page: %v, %v", p1, err)
	}
	stored := since.Round(0).In(time.FixedZone("UTC+5", 5*3600))
	p2, err := d.Query(t.Context(), crm.QueryRequest{Query: build(stored, crm.MustDecimal("0.00"), 100), PageSize: 4, Cursor: p1.NextCursor})
	if err != nil {
		t.Fatalf("the same query rebuilt from stored values refused its cursor: %v", err)
	}
	if len(p2.Records) != 2 {
		t.Fatalf("second page has %d records, want 2", len(p2.Records))
	}
}
