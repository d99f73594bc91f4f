package dynamics_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/crmkit/crmkit/adapters/dynamics"
	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/ratelimit"
	"github.com/crmkit/crmkit/crm/retry"
	"github.com/crmkit/crmkit/internal/emulator"
)

func newClient(t testing.TB, d crm.Driver) *crm.Client {
	t.Helper()
	c, err := crm.NewClient(d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noRetry sends every request once, so an injected failure reaches the
// caller as it is.
func noRetry() dynamics.Option { return dynamics.WithRetry(retry.New(retry.WithMaxAttempts(1))) }

func TestInfo(t *testing.T) {
	srv := dynamicstest.New(t)
	info := newDriver(t, srv).Info()
	if info.Name != "dynamics" || info.MaxBatchSize != 1000 || info.MaxPageSize != 5000 {
		t.Errorf("Info() = %+v, want name dynamics, batches of 1000, pages up to 5000", info)
	}
	for _, f := range []crm.Feature{crm.FeatureIncludeDeleted, crm.FeatureNativeQuery} {
		if info.Supports(f) {
			t.Errorf("Info() claims %s", f)
		}
	}
	if !info.Supports(crm.FeatureChangeDeletes) || !info.Supports(crm.FeatureIfVersion) || !info.Supports(crm.FeatureUpsert) {
		t.Errorf("Info().Unsupported = %v, want deletes, if-version and upsert supported", info.Unsupported)
	}
	polling := newDriver(t, srv, dynamics.WithModifiedOnPolling(time.Minute)).Info()
	if polling.Supports(crm.FeatureChangeDeletes) {
		t.Error("a driver that may poll modifiedon claims to see deletes in every change feed")
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for name, opts := range map[string][]dynamics.Option{
		"no base URL":      nil,
		"relative URL":     {dynamics.WithBaseURL("contoso.crm.dynamics.com")},
		"credentials":      {dynamics.WithBaseURL("https://user:pw@contoso.crm.dynamics.com")},
		"batch too large":  {dynamics.WithBaseURL("https://contoso.crm.dynamics.com"), dynamics.WithMaxBatchSize(1001)},
		"page too large":   {dynamics.WithBaseURL("https://contoso.crm.dynamics.com"), dynamics.WithPageSize(10, 6000)},
		"caller not GUID":  {dynamics.WithBaseURL("https://contoso.crm.dynamics.com"), dynamics.WithCallerObjectID("alice")},
		"nil HTTP client":  {dynamics.WithBaseURL("https://contoso.crm.dynamics.com"), dynamics.WithHTTPClient(nil)},
		"wrong API prefix": {dynamics.WithBaseURL("https://contoso.crm.dynamics.com/api/data/")},
	} {
		if _, err := dynamics.New(opts...); err == nil {
			t.Errorf("%s: New succeeded, want an error", name)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("%s: the error %q shows the password", name, err)
		}
	}
}

func TestDescribe(t *testing.T) {
	srv := dynamicstest.New(t)
	d := newDriver(t, srv)
	s, err := d.Describe(t.Context(), "accounts") // by entity set name
	if err != nil {
		t.Fatal(err)
	}
	if s.Object != "account" || s.IDField != "accountid" || s.ModifiedField != "modifiedon" {
		t.Errorf("Describe(accounts) = object %q id %q modified %q", s.Object, s.IDField, s.ModifiedField)
	}
	check := func(name string, typ crm.FieldType, want func(*crm.Field) string) {
		t.Helper()
		f, ok := s.Field(name)
		if !ok {
			t.Errorf("no field %s", name)
			return
		}
		if f.Type != typ {
			t.Errorf("%s: type %s, want %s", name, f.Type, typ)
		}
		if msg := want(f); msg != "" {
			t.Errorf("%s: %s (%+v)", name, msg, f)
		}
	}
	ok := func(cond bool, msg string) string {
		if cond {
			return ""
		}
		return msg
	}
	check("name", crm.TypeString, func(f *crm.Field) string {
		return ok(f.Length == 160 && f.Required && !f.Nillable && f.Createable && f.Updateable, "want length 160, required, writable")
	})
	check("accountnumber", crm.TypeString, func(f *crm.Field) string {
		return ok(f.ExternalID && f.Unique, "want the alternate key's column as external id")
	})
	check("emailaddress1", crm.TypeEmail, func(f *crm.Field) string { return "" })
	check("revenue", crm.TypeCurrency, func(f *crm.Field) string {
		return ok(f.Scale == 2 && f.NativeType == "Money", "want scale 2, native Money")
	})
	check("createdon", crm.TypeDateTime, func(f *crm.Field) string { return ok(!f.Createable && !f.Updateable, "want read-only") })
	check("primarycontactid", crm.TypeReference, func(f *crm.Field) string {
		return ok(slices.Equal(f.References, []string{"contact"}), "want a reference to contact")
	})
	check("accountid", crm.TypeID, func(f *crm.Field) string { return ok(!f.Createable && !f.Nillable, "want the id, read-only") })
	check("industrycode", crm.TypePicklist, func(f *crm.Field) string {
		p, found := f.PicklistValue("Consulting")
		return ok(found && p.Value == "7" && len(f.Picklist) == 6, "want options with numbers and labels, Consulting = 7")
	})
	check("statuscode", crm.TypePicklist, func(f *crm.Field) string {
		p, found := f.PicklistValue("1")
		return ok(found && p.Label == "Active" && p.Default, "want Active = 1, the default")
	})

	c, err := d.Describe(t.Context(), "contact")
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := c.Field("birthdate"); f == nil || f.Type != crm.TypeDate {
		t.Errorf("contact.birthdate (DateOnly) = %+v, want a date field", f)
	}
	if f, _ := c.Field("crmkit_interests"); f == nil || f.Type != crm.TypeMultiPicklist || len(f.Picklist) != 3 || !f.Custom {
		t.Errorf("contact.crmkit_interests = %+v, want a custom multi-select with 3 options", f)
	}
	_, err = d.Describe(t.Context(), "nosuchtable")
	if !errors.Is(err, crm.ErrNotFound) || !strings.Contains(err.Error(), "nosuchtable") {
		t.Errorf("Describe(nosuchtable) = %v, want not found naming the table", err)
	}

	// Metadata is read once and cached.
	before := srv.Log().Count("entitydefinitions")
	if _, err := d.Describe(t.Context(), "account"); err != nil {
		t.Fatal(err)
	}
	if n := srv.Log().Count("entitydefinitions"); n != before {
		t.Errorf("a second Describe made %d metadata requests, want none (cached)", n-before)
	}
	d.ForgetMetadata("account")
	if _, err := d.Describe(t.Context(), "account"); err != nil {
		t.Fatal(err)
	}
	if n := srv.Log().Count("entitydefinitions"); n == before {
		t.Error("Describe after ForgetMetadata read nothing")
	}
}

// TestErrorMapping checks each Dataverse error code's kind, and that the
// service's request id, code, message and Retry-After are kept.
func TestErrorMapping(t *testing.T) {
	srv := dynamicstest.New(t)
	ids, err := srv.Seed("account", map[string]any{"name": "Fixture"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		status int
		code   string
		kind   crm.Kind
	}{
		{404, "0x80040217", crm.KindNotFound},
		{412, "0x80060882", crm.KindConflict},
		{412, "0x80040237", crm.KindDuplicate},
		{412, "0x80060892", crm.KindDuplicate},
		{400, "0x80040333", crm.KindDuplicate},
		{400, "0x80060890", crm.KindValidation},
		{400, "0x8004431A", crm.KindValidation},
		{400, "0x80048d19", crm.KindValidation},
		{400, "0x80044331", crm.KindValidation},
		{400, "0x8006088A", crm.KindInvalidRequest},
		{403, "0x80040220", crm.KindForbidden},
		{429, "0x80072322", crm.KindRateLimited},
		{429, "0x80072321", crm.KindRateLimited},
		{429, "0x80072326", crm.KindRateLimited},
		{401, "", crm.KindUnauthorized},
		{503, "", crm.KindUnavailable},
		{500, "0x80040216", crm.KindUnavailable},
		{405, "", crm.KindUnsupported},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d_%s", c.status, c.code), func(t *testing.T) {
			f := dynamicstest.ErrorFault(c.status, c.code, "message for "+c.code)
			if c.status == 429 {
				f = dynamicstest.Throttle(c.code, 3*time.Second)
			}
			d := newDriver(t, srv, noRetry()) // a fresh limiter: a 429 pauses it
			if _, err := d.Describe(t.Context(), "account"); err != nil {
				t.Fatal(err)
			}
			srv.Faults().Inject("retrieve", 1, f)
			_, err := d.Get(t.Context(), crm.GetRequest{Object: "account", ID: ids[0]})
			var ce *crm.Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *crm.Error", err)
			}
			if ce.Kind != c.kind || ce.StatusCode != c.status || !strings.EqualFold(ce.Code, c.code) {
				t.Errorf("got kind %s status %d code %q, want %s %d %q", ce.Kind, ce.StatusCode, ce.Code, c.kind, c.status, c.code)
			}
			if ce.RequestID == "" {
				t.Error("the service's request id (REQ_ID) was not kept")
			}
			if c.code != "" && c.status != 429 && ce.Message != "message for "+c.code {
				t.Errorf("message %q, want the service's", ce.Message)
			}
			if c.status == 429 && (ce.RetryAfter != 3*time.Second || !strings.Contains(ce.Message, "exceeded")) {
				t.Errorf("429: RetryAfter %s message %q, want 3s and the service protection message", ce.RetryAfter, ce.Message)
			}
			if ce.CRM != "dynamics" || ce.Operation != "get" || ce.Object != "account" {
				t.Errorf("error names %s/%s/%s, want dynamics/get/account", ce.CRM, ce.Operation, ce.Object)
			}
		})
	}
}

// TestServerErrors checks the errors the emulated service itself gives,
// and the columns they name.
func TestServerErrors(t *testing.T) {
	srv := dynamicstest.New(t)
	d := newDriver(t, srv)
	ctx := t.Context()
	rs, err := d.Write(ctx, crm.WriteRequest{Object: "account", Writes: []crm.Write{
		{Op: crm.OpCreate, Fields: crm.Fields{"name": "First", "accountnumber": "A-1"}},
		{Op: crm.OpCreate, Fields: crm.Fields{"name": "Dup", "accountnumber": "a-1"}},
		{Op: crm.OpCreate, Fields: crm.Fields{"name": strings.Repeat("x", 161)}},
		{Op: crm.OpCreate, Fields: crm.Fields{"name": "Unknown", "NoSuchColumn": 1}},
		{Op: crm.OpUpdate, ID: "00000000-0000-4000-8000-000000000001", Fields: crm.Fields{"name": "Ghost"}},
		{Op: crm.OpCreate, Fields: crm.Fields{"name": "Bad option", "industrycode": "Farming"}},
		{Op: crm.OpCreate, Fields: crm.Fields{"name": "Read-only", "createdon": time.Now()}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind  crm.Kind
		field string
		code  string
	}{
		{0, "", ""},
		{crm.KindDuplicate, "", "0x80060892"},
		{crm.KindValidation, "name", "0x80044331"},
		{crm.KindValidation, "NoSuchColumn", "0x80048d19"},
		{crm.KindNotFound, "", "0x80040217"},
		{crm.KindValidation, "industrycode", ""},
		{crm.KindValidation, "createdon", ""},
	}
	for i, w := range want {
		err := rs[i].Err
		if w.kind == 0 {
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
			continue
		}
		var ce *crm.Error
		if !errors.As(err, &ce) || ce.Kind != w.kind {
			t.Errorf("write %d: %v, want kind %s", i, err, w.kind)
			continue
		}
		if w.field != "" && !slices.Contains(ce.Fields, w.field) {
			t.Errorf("write %d: fields %q, want %s named (%v)", i, ce.Fields, w.field, ce)
		}
		if !strings.EqualFold(ce.Code, w.code) {
			t.Errorf("write %d: code %q, want %q", i, ce.Code, w.code)
		}
	}
	if n := srv.Log().Count("batch"); n != 1 {
		t.Errorf("%d $batch requests, want 1 (invalid values are refused before sending)", n)
	}
}

// TestPagingOverFivePages reads 23 records in pages of 5 through absolute
// next links, each record once, and resumes from a stored cursor.
func TestPagingOverFivePages(t *testing.T) {
	srv := dynamicstest.New(t)
	d := newDriver(t, srv)
	var recs []map[string]any
	for i := range 23 {
		recs = append(recs, map[string]any{"lastname": fmt.Sprintf("Page %02d", i), "jobtitle": "pager"})
	}
	ids, err := srv.Seed("contact", recs...)
	if err != nil {
		t.Fatal(err)
	}
	q := crm.Query{Object: "contact", Fields: []string{"lastname"}, Where: crm.Eq("jobtitle", "pager"), OrderBy: []crm.Order{crm.Desc("lastname")}}
	srv.Log().Reset()
	var got []string
	var cursors []string
	pages := 0
	for p, err := range newClient(t, d).QueryPages(t.Context(), q, crm.WithPageSize(5)) {
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if pages == 1 && p.Total != 23 {
			t.Errorf("Total = %d, want 23", p.Total)
		}
		for _, r := range p.Records {
			got = append(got, r.ID)
		}
		cursors = append(cursors, p.NextCursor)
	}
	if pages != 5 || len(got) != 23 {
		t.Fatalf("%d pages, %d records; want 5 pages, 23 records", pages, len(got))
	}
	want := slices.Clone(ids)
	slices.Reverse(want) // names sort as created; descending order reverses
	if !slices.Equal(got, want) {
		t.Errorf("records out of order or repeated:\n got %v\nwant %v", got, want)
	}
	if n := srv.Log().Count("query"); n != 5 {
		t.Errorf("%d query requests, want 5", n)
	}
	for i, e := range slices.DeleteFunc(srv.Log().Entries(), func(e emulator.Entry) bool { return e.Route != "query" }) {
		if i == 0 {
			continue
		}
		if !strings.Contains(e.Query, "$skiptoken=") || e.Header.Get("Prefer") != "odata.maxpagesize=5" {
			t.Errorf("page request %s?%s (Prefer %q): want the next link with the same maxpagesize", e.Path, e.Query, e.Header.Get("Prefer"))
		}
	}
	// Resume from page 3's cursor with a new driver.
	p, err := newDriver(t, srv).Query(t.Context(), crm.QueryRequest{Query: q, Cursor: cursors[2]})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 5 || p.Records[0].ID != want[15] {
		t.Errorf("resumed page has %d records starting %v, want page 4", len(p.Records), p.Records)
	}
	// A cursor never sends the token to another host.
	_, err = d.Query(t.Context(), crm.QueryRequest{Query: q, Cursor: "v1.eyJsIjoiaHR0cHM6Ly9ldmlsLmV4YW1wbGUvYXBpL2RhdGEvdjkuMi9jb250YWN0cyIsInAiOjV9"})
	if crm.KindOf(err) != crm.KindInvalidRequest {
		t.Errorf("a cursor pointing elsewhere: %v, want invalid request", err)
	}
}

// TestHostileLiterals writes values full of OData syntax and finds each
// exactly by Eq and In.
func TestHostileLiterals(t *testing.T) {
	srv := dynamicstest.New(t)
	d := newDriver(t, srv)
	c := newClient(t, d)
	values := []string{`O'Brien`, `''`, `x' or lastname ne 'y`, `') or (1 eq 1`, `a&b=c`, `50%`, `#hash`, `q?x=1`, `a/b`, `a+b`, `Zoë`, `null`, `eq`}
	ws := make([]crm.Write, len(values))
	for i, v := range values {
		ws[i] = crm.Write{Op: crm.OpCreate, Fields: crm.Fields{"lastname": v, "jobtitle": "hostile"}}
	}
	rs, err := c.Write(t.Context(), "contact", ws)
	if err != nil || rs.Err() != nil {
		t.Fatal(err, rs.Err())
	}
	for i, v := range values {
		var got []string
		for r, err := range c.Query(t.Context(), crm.Query{Object: "contact", Where: crm.And(crm.Eq("jobtitle", "hostile"), crm.Eq("lastname", v))}) {
			if err != nil {
				t.Fatalf("Eq(lastname, %q): %v", v, err)
			}
			got = append(got, r.ID)
		}
		if !slices.Equal(got, []string{rs[i].ID}) {
			t.Errorf("Eq(lastname, %q) found %v, want exactly %s", v, got, rs[i].ID)
		}
	}
	for _, e := range srv.Log().Entries() {
		if e.Route == "query" && strings.ContainsAny(e.Query, " +#") {
			t.Errorf("query string %q has an unescaped space, plus or hash", e.Query)
		}
	}
}

// TestStaleETag checks optimistic concurrency: an update with an old ETag
// is refused with 412, kind conflict, and changes nothing.
func TestStaleETag(t *testing.T) {
	srv := dynamicstest.New(t)
	d := newDriver(t, srv)
	c := newClient(t, d)
	id, err := c.Create(t.Context(), "account", crm.Fields{"name": "v1"})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := c.Get(t.Context(), "account", id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r1.Version, `W/"`) {
		t.Errorf("Version %q, want the record's weak ETag", r1.Version)
	}
	if err := c.Update(t.Context(), "account", id, crm.Fields{"name": "v2"}); err != nil {
		t.Fatal(err)
	}
	rs, err := c.Write(t.Context(), "account", []crm.Write{{Op: crm.OpUpdate, ID: id, IfVersion: r1.Version, Fields: crm.Fields{"name": "stale"}}})
	if err != nil {
		t.Fatal(err)
	}
	var ce *crm.Error
	if !errors.As(rs[0].Err, &ce) || ce.Kind != crm.KindConflict || ce.StatusCode != 412 || ce.Code != "0x80060882" || !errors.Is(rs[0].Err, crm.ErrConflict) {
		t.Fatalf("stale update: %v, want 412 0x80060882 conflict", rs[0].Err)
	}
	if r, _ := c.Get(t.Context(), "account", id); r.Fields["name"] != "v2" {
		t.Errorf("after the stale update name = %v, want v2", r.Fields["name"])
	}
	// An update never creates: a missing id is not found, not a new record.
	rs, _ = c.Write(t.Context(), "account", []crm.Write{{Op: crm.OpUpdate, ID: "00000000-0000-4000-8000-0000000000aa", Fields: crm.Fields{"name": "x"}}})
	if !errors.Is(rs[0].Err, crm.ErrNotFound) {
		t.Errorf("update of a missing id: %v, want not found", rs[0].Err)
	}
	if n, _ := srv.Len("account"); n != 1 {
		t.Errorf("%d accounts, want 1", n)
	}
}

// TestUpsertByAlternateKey creates, then updates, through the alternate key.
func TestUpsertByAlternateKey(t *testing.T) {
	srv := dynamicstest.New(t)
	c := newClient(t, newDriver(t, srv))
	first, err := c.Upsert(t.Context(), "account", "accountnumber", "ACC/1 'x'", crm.Fields{"name": "Created"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Upsert(t.Context(), "account", "accountnumber", "ACC/1 'x'", crm.Fields{"name": "Updated"})
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created || second.Created || first.ID != second.ID || first.ID == "" {
		t.Fatalf("upserts: %+v then %+v, want created then updated, same id", first, second)
	}
	if first.Version == second.Version || second.Version == "" {
		t.Errorf("versions %q then %q, want a new ETag", first.Version, second.Version)
	}
	r, err := c.Get(t.Context(), "account", first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Fields["name"] != "Updated" || r.Fields["accountnumber"] != "ACC/1 'x'" {
		t.Errorf("record = %v", r.Fields)
	}
	var patches []string
	for _, e := range srv.Log().Entries() {
		if e.Route == "batch" {
			patches = append(patches, e.Path)
		}
	}
	if n, _ := srv.Len("account"); n != 1 || len(patches) != 2 {
		t.Errorf("%d accounts after %d batches, want 1 after 2", n, len(patches))
	}
	_, err = c.Upsert(t.Context(), "account", "name", "x", crm.Fields{})
	if !errors.Is(err, crm.ErrValidation) || !strings.Contains(err.Error(), "accountnumber") {
		t.Errorf("upsert on a column without an alternate key: %v, want validation naming the key columns", err)
	}
}

// TestBatchOfThousand sends 1,000 writes in one $batch, 3 of them invalid in
// ways only the service can tell: 997 succeed, 3 fail with their kinds.
func TestBatchOfThousand(t *testing.T) {
	srv := dynamicstest.New(t)
	d := newDriver(t, srv)
	if _, err := srv.Seed("account", map[string]any{"name": "Taken", "accountnumber": "TAKEN"}); err != nil {
		t.Fatal(err)
	}
	ws := make([]crm.Write, 1000)
	for i := range ws {
		ws[i] = crm.Write{Op: crm.OpCreate, Fields: crm.Fields{"name": fmt.Sprintf("Bulk %04d", i), "accountnumber": fmt.Sprintf("B-%04d", i)}}
	}
	ws[100].Fields["name"] = strings.Repeat("n", 161)                                                                     // too long
	ws[500].Fields["accountnumber"] = "TAKEN"                                                                             // duplicate alternate key
	ws[900] = crm.Write{Op: crm.OpUpdate, ID: "00000000-0000-4000-8000-00000000dead", Fields: crm.Fields{"name": "gone"}} // missing
	if _, err := d.Describe(t.Context(), "account"); err != nil {
		t.Fatal(err)
	}
	srv.Log().Reset()
	rs, err := d.Write(t.Context(), crm.WriteRequest{Object: "account", Writes: ws})
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Log().Total(); n != 1 {
		t.Errorf("%d requests, want 1 $batch", n)
	}
	wantKind := map[int]crm.Kind{100: crm.KindValidation, 500: crm.KindDuplicate, 900: crm.KindNotFound}
	ok := 0
	seen := map[string]bool{}
	for i, r := range rs {
		if k, bad := wantKind[i]; bad {
			if crm.KindOf(r.Err) != k {
				t.Errorf("write %d: %v, want kind %s", i, r.Err, k)
			}
			continue
		}
		if r.Err != nil || !r.Created || r.ID == "" || seen[r.ID] {
			t.Errorf("write %d: %+v", i, r)
			continue
		}
		seen[r.ID] = true
		ok++
	}
	if n, _ := srv.Len("account"); ok != 997 || n != 998 {
		t.Errorf("%d writes succeeded and the table has %d rows, want 997 and 998", ok, n)
	}
}

// TestAtomicChangeSet checks that a change set is applied whole or not at
// all.
func TestAtomicChangeSet(t *testing.T) {
	srv := dynamicstest.New(t)
	d := newDriver(t, srv)
	ids, err := srv.Seed("account", map[string]any{"name": "Before"})
	if err != nil {
		t.Fatal(err)
	}
	ws := []crm.Write{
		{Op: crm.OpCreate, Fields: crm.Fields{"name": "One"}},
		{Op: crm.OpUpdate, ID: ids[0], Fields: crm.Fields{"name": "After"}},
		{Op: crm.OpCreate, Fields: crm.Fields{"name": strings.Repeat("x", 161)}},
		{Op: crm.OpCreate, Fields: crm.Fields{"name": "Four"}},
	}
	rs, err := d.WriteAtomic(t.Context(), crm.WriteRequest{Object: "account", Writes: ws})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if crm.KindOf(r.Err) != crm.KindValidation {
			t.Errorf("write %d: %v, want validation (its own, or rolled back with it)", i, r.Err)
		}
	}
	if !strings.Contains(rs[0].Err.Error(), "write 2") || slices.Contains(rs[2].Err.(*crm.Error).Fields, "") {
		t.Errorf("rolled-back write: %v; failing write: %v", rs[0].Err, rs[2].Err)
	}
	n, _ := srv.Len("account")
	r, _ := d.Get(t.Context(), crm.GetRequest{Object: "account", ID: ids[0]})
	if n != 1 || r.Fields["name"] != "Before" {
		t.Errorf("after the failed change set: %d accounts, name %v; want 1, Before (rolled back)", n, r.Fields["name"])
	}
	ws[2].Fields["name"] = "Three"
	rs, err = d.WriteAtomic(t.Context(), crm.WriteRequest{Object: "account", Writes: ws})
	if err != nil || crm.WriteResults(rs).Err() != nil {
		t.Fatal(err, crm.WriteResults(rs).Err())
	}
	if n, _ := srv.Len("account"); n != 4 {
		t.Errorf("after the good change set: %d accounts, want 4", n)
	}
}

// TestDeleteThroughDeltaLink reads a delete from the delta link.
func TestDeleteThroughDeltaLink(t *testing.T) {
	srv := dynamicstest.New(t)
	d := newDriver(t, srv)
	c := newClient(t, d)
	id, err := c.Create(t.Context(), "account", crm.Fields{"name": "Doomed"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := d.Changes(t.Context(), crm.ChangesRequest{Object: "account"})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Changes) != 1 || first.More {
		t.Fatalf("first read: %+v, want the one record and a delta link", first)
	}
	if err := c.Delete(t.Context(), "account", id); err != nil {
		t.Fatal(err)
	}
	p, err := d.Changes(t.Context(), crm.ChangesRequest{Object: "account", Cursor: first.Cursor})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 1 || p.Changes[0].Kind != crm.ChangeDeleted || p.Changes[0].Record.ID != id || !p.Changes[0].Record.Deleted {
		t.Fatalf("delta: %+v, want the delete of %s", p.Changes, id)
	}
	if e := srv.Log().Entries(); !strings.Contains(e[len(e)-1].Query, "$deltatoken=") {
		t.Errorf("the second read was %q, want the delta link", e[len(e)-1].Query)
	}
	// A table without change tracking: a clear error, unless polling.
	_, err = d.Changes(t.Context(), crm.ChangesRequest{Object: "lead"})
	if crm.KindOf(err) != crm.KindUnsupported || !strings.Contains(err.Error(), "change tracking") {
		t.Errorf("Changes(lead): %v, want unsupported explaining change tracking", err)
	}
}

// TestDateOnlyNeverShifts writes a DateOnly column from several zones and
// reads back the same calendar date; a TimeZoneIndependent column keeps its
// wall-clock time.
func TestDateOnlyNeverShifts(t *testing.T) {
	srv := dynamicstest.New(t)
	c := newClient(t, newDriver(t, srv))
	zones := []*time.Location{time.UTC, time.FixedZone("UTC-11", -11*3600), time.FixedZone("UTC+14", 14*3600)}
	for _, loc := range zones {
		for _, v := range []any{crm.Date{Year: 1980, Month: 5, Day: 1}, time.Date(1980, 5, 1, 23, 30, 0, 0, loc), time.Date(1980, 5, 1, 0, 15, 0, 0, loc), "1980-05-01"} {
			id, err := c.Create(t.Context(), "contact", crm.Fields{"lastname": "Born", "birthdate": v})
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.Get(t.Context(), "contact", id, "birthdate")
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Fields["birthdate"]; got != (crm.Date{Year: 1980, Month: 5, Day: 1}) {
				t.Errorf("wrote %v (%T in %s), read back %v", v, v, loc, got)
			}
		}
	}
	tokyo := time.FixedZone("JST", 9*3600)
	id, err := c.Create(t.Context(), "crmkit_project", crm.Fields{"crmkit_name": "Kick-off", "crmkit_kickoff": time.Date(2026, 3, 1, 9, 0, 0, 0, tokyo), "crmkit_startdate": crm.Date{Year: 2026, Month: 3, Day: 1}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Get(t.Context(), "crmkit_project", id)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Fields["crmkit_kickoff"].(time.Time); got.Hour() != 9 || got.Day() != 1 {
		t.Errorf("TimeZoneIndependent kick-off read back %v, want 09:00 on the 1st (the wall clock as written)", r.Fields["crmkit_kickoff"])
	}
	if r.Fields["crmkit_startdate"] != (crm.Date{Year: 2026, Month: 3, Day: 1}) {
		t.Errorf("start date %v", r.Fields["crmkit_startdate"])
	}
}

// TestRetryAfterWaitedExactly answers the first request with 429 and
// Retry-After: 7 and checks that the driver waits exactly 7 seconds (on the
// fake clock of a synctest bubble) before sending it again.
func TestRetryAfterWaitedExactly(t *testing.T) {
	srv := dynamicstest.New(t)
	ids, err := srv.Seed("account", map[string]any{"name": "Throttled"})
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		d, err := dynamics.New(dynamics.WithBaseURL(srv.URL), dynamics.WithTransport(srv.Transport()),
			dynamics.WithRetry(retry.New(retry.WithRandom(func() float64 { return 0 }))))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Describe(t.Context(), "account"); err != nil {
			t.Fatal(err)
		}
		srv.Faults().Inject("retrieve", 1, dynamicstest.Throttle(dynamicstest.CodeRequests, 7*time.Second))
		start := time.Now()
		r, err := d.Get(t.Context(), crm.GetRequest{Object: "account", ID: ids[0]})
		if err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != 7*time.Second {
			t.Errorf("waited %s, want exactly the Retry-After of 7s", waited)
		}
		if r.Fields["name"] != "Throttled" {
			t.Errorf("got %v", r.Fields)
		}
	})
	if n := srv.Log().Count("retrieve"); n != 2 {
		t.Errorf("%d retrieve requests, want 2 (the 429, then the retry)", n)
	}
}

// TestRateLimitHeadersFeedLimiter checks that the
// x-ms-ratelimit-burst-remaining-xrm-requests header slows the limiter
// before the service answers 429.
func TestRateLimitHeadersFeedLimiter(t *testing.T) {
	srv := dynamicstest.New(t, dynamicstest.WithServiceProtection(dynamicstest.ServiceProtection{Requests: 300}))
	lim := ratelimit.New()
	d := newDriver(t, srv, dynamics.WithLimiter(lim))
	if got := lim.Rate(ratelimit.DefaultLane); got != rate.Inf {
		t.Fatalf("rate before any response: %v", got)
	}
	if _, err := d.ListObjects(t.Context()); err != nil {
		t.Fatal(err)
	}
	// 299 requests left of the documented 6000: under a tenth, so the lane
	// spreads what is left over the 300-second window.
	if got, want := lim.Rate(ratelimit.DefaultLane), rate.Limit(299.0/300); got != want {
		t.Errorf("rate after the remaining count fell below a tenth of the limit: %v a second, want %v", got, want)
	}
}

// TestServiceProtection429 runs into the emulator's request limit and
// checks the error the driver gives.
func TestServiceProtection429(t *testing.T) {
	srv := dynamicstest.New(t, dynamicstest.WithServiceProtection(dynamicstest.ServiceProtection{Requests: 3, Window: time.Hour}))
	// Without slowing down on the remaining-requests header, which would
	// otherwise spread the last requests over the window.
	d := newDriver(t, srv, noRetry(), dynamics.WithLimiter(ratelimit.New(ratelimit.WithSlowdownThreshold(0))))
	var err error
	for range 5 {
		if _, err = d.Describe(t.Context(), "account"); err != nil {
			break
		}
		d.ForgetMetadata("")
	}
	var ce *crm.Error
	if !errors.As(err, &ce) || ce.Kind != crm.KindRateLimited || ce.Code != "0x80072322" || ce.RetryAfter <= 59*time.Minute {
		t.Fatalf("got %v, want rate limited 0x80072322 with a Retry-After near an hour", err)
	}
}

// TestCallerObjectID checks acting on behalf of a user: the records show
// the user, not the application, as their creator.
func TestCallerObjectID(t *testing.T) {
	srv := dynamicstest.New(t)
	const oid = "5f2b0c7e-8a47-4c1b-9a55-3d6f2e1a0b9c"
	userID, err := srv.AddUser("Ada Lovelace", oid)
	if err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, srv, dynamics.WithCallerObjectID(oid))
	c := newClient(t, d)
	id, err := c.Create(t.Context(), "account", crm.Fields{"name": "On behalf"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Get(t.Context(), "account", id, "createdby", "modifiedby")
	if err != nil {
		t.Fatal(err)
	}
	if r.Fields["createdby"] != userID || r.Fields["modifiedby"] != userID {
		t.Errorf("createdby %v modifiedby %v, want the user %s", r.Fields["createdby"], r.Fields["modifiedby"], userID)
	}
	// Per call: back to the application user.
	if err := c.Update(dynamics.ContextWithCaller(t.Context(), ""), "account", id, crm.Fields{"name": "By the app"}); err != nil {
		t.Fatal(err)
	}
	r, _ = c.Get(t.Context(), "account", id, "modifiedby")
	if r.Fields["modifiedby"] != srv.ApplicationUserID() {
		t.Errorf("modifiedby %v, want the application user %s", r.Fields["modifiedby"], srv.ApplicationUserID())
	}
	_, err = c.Create(dynamics.ContextWithCaller(t.Context(), "00000000-0000-4000-8000-000000000000"), "account", crm.Fields{"name": "Nobody"})
	if !errors.Is(err, crm.ErrForbidden) {
		t.Errorf("acting for an unknown user: %v, want forbidden", err)
	}
}

// TestOptionSetsAndLookups writes choices by label and by number and a
// lookup by id, and reads them back.
func TestOptionSetsAndLookups(t *testing.T) {
	srv := dynamicstest.New(t)
	c := newClient(t, newDriver(t, srv))
	ctx := t.Context()
	acc, err := c.Create(ctx, "account", crm.Fields{"name": "Parent", "industrycode": "Consulting"})
	if err != nil {
		t.Fatal(err)
	}
	con, err := c.Create(ctx, "contact", crm.Fields{"lastname": "Child", "parentcustomerid": acc, "crmkit_interests": []string{"Software", "100000002"}})
	if err != nil {
		t.Fatal(err)
	}
	prj, err := c.Create(ctx, "crmkit_project", crm.Fields{"crmkit_name": "P", "crmkit_accountid": acc})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Get(ctx, "account", acc, "industrycode")
	k, _ := c.Get(ctx, "contact", con)
	p, _ := c.Get(ctx, "crmkit_project", prj, "crmkit_accountid", "crmkit_status")
	if a.Fields["industrycode"] != "7" {
		t.Errorf("industrycode %v, want 7 (Consulting)", a.Fields["industrycode"])
	}
	if k.Fields["parentcustomerid"] != acc || !slices.Equal(k.Fields["crmkit_interests"].([]string), []string{"100000000", "100000002"}) {
		t.Errorf("contact %v", k.Fields)
	}
	if p.Fields["crmkit_accountid"] != acc || p.Fields["crmkit_status"] != "100000000" {
		t.Errorf("project %v, want the account and the default status", p.Fields)
	}
	var found int
	for _, err := range c.Query(ctx, crm.Query{Object: "account", Where: crm.Eq("industrycode", "Consulting")}) {
		if err != nil {
			t.Fatal(err)
		}
		found++
	}
	if found != 1 {
		t.Errorf("filter by choice label found %d", found)
	}
}

// TestTokenSource sends the bearer token and turns a refused one into kind
// unauthorized, without the token in the error.
func TestTokenSource(t *testing.T) {
	const secret = "s3cret-access-token"
	srv := dynamicstest.New(t, dynamicstest.WithBearerToken(secret))
	good := newDriver(t, srv, dynamics.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: secret})))
	if _, err := good.Describe(t.Context(), "account"); err != nil {
		t.Fatal(err)
	}
	bad := newDriver(t, srv, dynamics.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "expired-" + secret})), noRetry())
	_, err := bad.Describe(t.Context(), "account")
	if !errors.Is(err, crm.ErrUnauthorized) {
		t.Fatalf("got %v, want unauthorized", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("the error shows the token: %v", err)
	}
	for _, e := range srv.Log().Entries() {
		if v := e.Header.Get("Authorization"); v != "" && v != "[redacted]" {
			t.Errorf("the request log holds %q", v)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	srv := dynamicstest.New(t)
	d := newDriver(t, srv)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := d.Write(ctx, crm.WriteRequest{Object: "account", Writes: []crm.Write{{Op: crm.OpCreate, Fields: crm.Fields{"name": "x"}}}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Write: %v", err)
	}
	if n := srv.Log().Total(); n != 0 {
		t.Errorf("%d requests with a cancelled context", n)
	}
}

func TestGetRefusesNonGUID(t *testing.T) {
	srv := dynamicstest.New(t)
	_, err := newDriver(t, srv).Get(t.Context(), crm.GetRequest{Object: "account", ID: "../contacts"})
	if crm.KindOf(err) != crm.KindInvalidRequest {
		t.Errorf("Get with a non-GUID id: %v, want invalid request", err)
	}
	if srv.Log().Total() != 0 {
		t.Error("a request was sent")
	}
}

// TestModifiedOnPolling reads the change feed of a table without change
// tracking by modifiedon: the lookback reads recent records again, but
// they are reported once, and a later update is reported.
func TestModifiedOnPolling(t *testing.T) {
	srv := dynamicstest.New(t)
	d := newDriver(t, srv, dynamics.WithModifiedOnPolling(time.Hour))
	c := newClient(t, d)
	var ids []string
	for i := range 3 {
		id, err := c.Create(t.Context(), "lead", crm.Fields{"lastname": fmt.Sprintf("Lead %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	read := func(cursor string) (map[string]int, string) {
		t.Helper()
		got := map[string]int{}
		for p, err := range c.Changes(t.Context(), "lead", cursor, crm.WithPageSize(2)) {
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range p.Changes {
				got[ch.Record.ID]++
			}
			cursor = p.Cursor
		}
		return got, cursor
	}
	got, cursor := read("")
	if len(got) != 3 {
		t.Fatalf("first poll: %v, want the 3 leads", got)
	}
	again, cursor := read(cursor)
	if len(again) != 0 {
		t.Errorf("second poll with nothing new: %v, want nothing (the lookback's re-reads are skipped)", again)
	}
	if err := c.Update(t.Context(), "lead", ids[1], crm.Fields{"lastname": "Changed"}); err != nil {
		t.Fatal(err)
	}
	third, _ := read(cursor)
	if len(third) != 1 || third[ids[1]] != 1 {
		t.Errorf("poll after one update: %v, want exactly %s", third, ids[1])
	}
	for _, e := range srv.Log().Entries() {
		if e.Route == "query" && strings.Contains(e.Query, "$filter=") && !strings.Contains(e.Query, "modifiedon%20ge%20") {
			t.Errorf("poll query %q does not filter on modifiedon", e.Query)
		}
	}
	objs, err := d.ListObjects(t.Context())
	if err != nil || !slices.ContainsFunc(objs, func(o crm.ObjectInfo) bool { return o.Name == "crmkit_project" && o.Custom }) {
		t.Errorf("ListObjects: %v %v", objs, err)
	}
}
