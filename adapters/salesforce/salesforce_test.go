package salesforce_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/crmkit/crmkit/adapters/salesforce"
	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/ratelimit"
	"github.com/crmkit/crmkit/crm/retry"
)

// setup starts an emulated org with the test's custom Contact fields and
// returns it with a driver and a client for it.
func setup(t testing.TB, srvOpts []salesforcetest.Option, opts ...salesforce.Option) (*salesforcetest.Server, *salesforce.Driver, *crm.Client) {
	t.Helper()
	srv := salesforcetest.New(t, append([]salesforcetest.Option{contactFields}, srvOpts...)...)
	d := newDriver(t, srv, opts...)
	c, err := crm.NewClient(d)
	if err != nil {
		t.Fatal(err)
	}
	return srv, d, c
}

func wantKind(t *testing.T, err error, kind crm.Kind) *crm.Error {
	t.Helper()
	var ce *crm.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got error %v (%T), want a *crm.Error of kind %q", err, err, kind)
	}
	if ce.Kind != kind {
		t.Errorf("got kind %q (%v), want %q", ce.Kind, err, kind)
	}
	return ce
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []salesforce.Option
		want string
	}{
		{"no instance", nil, "WithInstanceURL is required"},
		{"relative instance", []salesforce.Option{salesforce.WithInstanceURL("mydomain.my.salesforce.com")}, "not an absolute"},
		{"old version", []salesforce.Option{salesforce.WithInstanceURL("https://x.my.salesforce.com"), salesforce.WithAPIVersion("45.0")}, "46.0 or newer"},
		{"bad version", []salesforce.Option{salesforce.WithInstanceURL("https://x.my.salesforce.com"), salesforce.WithAPIVersion("sixty")}, "such as \"63.0\""},
		{"negative lookback", []salesforce.Option{salesforce.WithInstanceURL("https://x.my.salesforce.com"), salesforce.WithLookback(-time.Second)}, "WithLookback"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := salesforce.New(c.opts...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: error %v, want one containing %q", err, c.want)
			}
		})
	}
	d, err := salesforce.New(salesforce.WithInstanceURL("https://x.my.salesforce.com/"), salesforce.WithAPIVersion("v60.0"))
	if err != nil {
		t.Fatal(err)
	}
	if d.APIVersion() != "60.0" {
		t.Errorf("APIVersion() = %q, want 60.0", d.APIVersion())
	}
}

// The driver reads the org's versions once and refuses one it does not
// offer, naming what it offers.
func TestAPIVersionCheckedAgainstOrg(t *testing.T) {
	srv := salesforcetest.New(t, salesforcetest.WithAPIVersions("58.0", "59.0", "60.0"))
	d := newDriver(t, srv, salesforce.WithAPIVersion("63.0"))
	_, err := d.Describe(t.Context(), "Contact")
	ce := wantKind(t, err, crm.KindUnsupported)
	if ce != nil && (!strings.Contains(ce.Message, "63.0") || !strings.Contains(ce.Message, "58.0 to 60.0")) {
		t.Errorf("the error %q does not name the pinned version and the org's versions", ce.Message)
	}
	if n := srv.Count("describe"); n != 0 {
		t.Errorf("the driver described Contact %d times with a version the org lacks", n)
	}

	ok := newDriver(t, srv, salesforce.WithAPIVersion("59.0"))
	for range 3 {
		if _, err := ok.Describe(t.Context(), "Account"); err != nil {
			t.Fatal(err)
		}
		ok.ForgetSchema("Account")
	}
	if n := srv.Count("versions"); n != 2 {
		t.Errorf("GET /services/data/ was called %d times, want 2 (once per driver)", n)
	}
}

// Every error code of the reference becomes a *crm.Error of the right kind,
// with Salesforce's code, message, fields and request id.
func TestErrorCodeMapping(t *testing.T) {
	srv, d, _ := setup(t, nil, salesforce.WithRetry(nil))
	id := seedContact(t, srv)
	cases := []struct {
		status int
		code   string
		msg    string
		want   crm.Kind
	}{
		{401, "INVALID_SESSION_ID", "Session expired or invalid", crm.KindUnauthorized},
		{403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", crm.KindQuotaExhausted},
		{403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.", crm.KindRateLimited},
		{429, "REQUEST_LIMIT_EXCEEDED", "Too many requests.", crm.KindRateLimited},
		{403, "API_DISABLED_FOR_ORG", "API is not enabled for this Organization or Partner", crm.KindForbidden},
		{403, "API_CURRENTLY_DISABLED", "API is disabled for this User", crm.KindForbidden},
		{400, "INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id", crm.KindForbidden},
		{400, "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY", "insufficient access rights on cross-reference id", crm.KindForbidden},
		{404, "NOT_FOUND", "The requested resource does not exist", crm.KindNotFound},
		{405, "METHOD_NOT_ALLOWED", "HTTP Method 'PUT' not allowed. Allowed are GET,PATCH,DELETE", crm.KindUnsupported},
		{400, "MALFORMED_QUERY", "unexpected token: FORM", crm.KindInvalidRequest},
		{400, "INVALID_FIELD", "No such column 'Foo' on entity 'Contact'", crm.KindValidation},
		{400, "INVALID_TYPE", "sObject type 'Foo' is not supported.", crm.KindNotFound},
		{400, "MALFORMED_ID", "Contact ID: id value of incorrect type: 123", crm.KindInvalidRequest},
		{400, "INVALID_QUERY_LOCATOR", "invalid query locator", crm.KindInvalidRequest},
		{400, "QUERY_TIMEOUT", "Your query request was running for too long.", crm.KindUnavailable},
		{400, "JSON_PARSER_ERROR", "Cannot deserialize instance of double from VALUE_STRING", crm.KindValidation},
		{400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", crm.KindValidation},
		{400, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: CreatedDate.", crm.KindValidation},
		{400, "STRING_TOO_LONG", "Last Name: data value too large", crm.KindValidation},
		{400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", crm.KindValidation},
		{400, "DUPLICATE_VALUE", "duplicate value found: External_Id__c duplicates value on record with id: 003", crm.KindDuplicate},
		{400, "DUPLICATES_DETECTED", "Use one of these records?", crm.KindDuplicate},
		{400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Score must be positive", crm.KindValidation},
		{404, "ENTITY_IS_DELETED", "entity is deleted", crm.KindNotFound},
		{400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", crm.KindUnavailable},
		{400, "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "ContactTrigger: execution of AfterUpdate caused by: System.DmlException", crm.KindValidation},
		{400, "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "ContactTrigger: UNABLE_TO_LOCK_ROW, unable to obtain exclusive access", crm.KindUnavailable},
		{400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call", crm.KindInvalidRequest},
		{400, "INVALID_REPLICATION_DATE", "startDate can not be more than 30 days ago", crm.KindInvalidRequest},
		{400, "ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back", crm.KindUnavailable},
		{400, "PROCESSING_HALTED", "The transaction was rolled back", crm.KindUnavailable},
		{500, "UNKNOWN_EXCEPTION", "An unexpected error occurred.", crm.KindUnavailable},
		{503, "SERVER_UNAVAILABLE", "Server Unavailable", crm.KindUnavailable},
		{412, "PRECONDITION_FAILED", "The entity has been modified", crm.KindConflict},
		{414, "URI_TOO_LONG", "URI Too Long", crm.KindInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			srv.Inject("sobject.get", 1, salesforcetest.StatusFault(c.status, c.code, c.msg))
			_, err := d.Get(t.Context(), crm.GetRequest{Object: "Contact", ID: id})
			ce := wantKind(t, err, c.want)
			if ce == nil {
				return
			}
			if ce.Code != c.code || ce.StatusCode != c.status || ce.Message == "" {
				t.Errorf("Code %q StatusCode %d Message %q, want %q %d and the message", ce.Code, ce.StatusCode, ce.Message, c.code, c.status)
			}
			if ce.RequestID == "" {
				t.Error("the error lost Salesforce's request id")
			}
			if ce.CRM != "salesforce" || ce.Operation != "get" || ce.Object != "Contact" {
				t.Errorf("the error says CRM %q operation %q object %q", ce.CRM, ce.Operation, ce.Object)
			}
		})
	}

	// The same codes inside a Collections result, as a record's statusCode.
	for _, c := range cases {
		if c.status != 400 {
			continue
		}
		t.Run("record/"+c.code, func(t *testing.T) {
			srv.ClearFaults()
			srv.InjectRecordFault(salesforcetest.RecordFault{Route: "collections.create", Times: 1, Code: c.code, Message: c.msg, Fields: []string{"LastName"}})
			rs, err := d.Write(t.Context(), crm.WriteRequest{Object: "Contact", Writes: []crm.Write{
				{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "fails"}},
				{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "works"}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			if c.code == "INVALID_FIELD" || c.code == "MALFORMED_ID" || c.code == "INVALID_CROSS_REFERENCE_KEY" {
				want = crm.KindValidation // a record's field, not the request
			}
			ce := wantKind(t, rs[0].Err, want)
			if ce != nil && (ce.Code != c.code || ce.RequestID == "" || !slices.Contains(ce.Fields, "LastName")) {
				t.Errorf("record error: code %q request id %q fields %q", ce.Code, ce.RequestID, ce.Fields)
			}
			if rs[1].Err != nil || rs[1].ID == "" {
				t.Errorf("the other record of the batch: %+v, want it created", rs[1])
			}
		})
	}
	if got, want := salesforce.KindOfCode("SOMETHING_NEW", 409), crm.KindConflict; got != want {
		t.Errorf("KindOfCode of an unknown code with 409 = %q, want %q", got, want)
	}
}

func seedContact(t testing.TB, srv *salesforcetest.Server) string {
	t.Helper()
	ids, err := srv.Seed("Contact", crm.Fields{"LastName": "Seeded"})
	if err != nil {
		t.Fatal(err)
	}
	return ids[0]
}

// Filters full of SOQL syntax compile to escaped literals: the exact SOQL
// the emulator received shows it.
func TestHostileLiterals(t *testing.T) {
	srv, _, c := setup(t, nil)
	values := []string{`O'Brien`, `back\slash`, `trailing\`, `\'`, `x' OR LastName != 'y`, `') OR (1=1`, "new\nline", "tab\tand\rreturn", `100%_done`}
	fields := make([]crm.Fields, len(values))
	for i, v := range values {
		fields[i] = crm.Fields{"LastName": v, "Title": "hostile"}
	}
	ws := make([]crm.Write, len(values))
	for i, f := range fields {
		ws[i] = crm.Write{Op: crm.OpCreate, Fields: f}
	}
	rs, err := c.Write(t.Context(), "Contact", ws)
	if err != nil || rs.Err() != nil {
		t.Fatal(err, rs.Err())
	}
	for i, v := range values {
		var got []string
		for r, err := range c.Query(t.Context(), crm.Query{Object: "Contact", Fields: []string{"LastName"}, Where: crm.And(crm.Eq("Title", "hostile"), crm.Eq("LastName", v))}) {
			if err != nil {
				t.Fatalf("Eq(LastName, %q): %v", v, err)
			}
			got = append(got, r.ID)
		}
		if !slices.Equal(got, []string{rs[i].ID}) {
			t.Errorf("Eq(LastName, %q) found %v, want only %s", v, got, rs[i].ID)
		}
		var like []string
		for r, err := range c.Query(t.Context(), crm.Query{Object: "Contact", Fields: []string{"LastName"}, Where: crm.And(crm.Eq("Title", "hostile"), crm.Contains("LastName", v))}) {
			if err != nil {
				t.Fatalf("Contains(LastName, %q): %v", v, err)
			}
			like = append(like, r.ID)
		}
		if !slices.Equal(like, []string{rs[i].ID}) {
			t.Errorf("Contains(LastName, %q) found %v, want only %s", v, like, rs[i].ID)
		}
	}
	// What went over the wire: the quote and the backslash escaped, the
	// LIKE wildcards escaped.
	var sawQuote, sawLike bool
	for _, r := range srv.Requests() {
		if r.Route != "query" {
			continue
		}
		q := r.Query
		sawQuote = sawQuote || strings.Contains(q, "O%5C%27Brien")    // O\'Brien
		sawLike = sawLike || strings.Contains(q, "100%5C%25%5C_done") // 100\%\_done
	}
	if !sawQuote || !sawLike {
		t.Errorf("the SOQL sent did not escape as expected (quote escaped: %v, LIKE wildcards escaped: %v)", sawQuote, sawLike)
	}
	if got, want := salesforce.EscapeSOQL(`a'b\c`+"\n"), `a\'b\\c\n`; got != want {
		t.Errorf("EscapeSOQL = %q, want %q", got, want)
	}
}

// Ten thousand records come back over at least five pages, each once, and
// the pages are Salesforce's own: a query call and queryMore calls.
func TestPaging10000(t *testing.T) {
	srv, _, c := setup(t, nil)
	const n = 10000
	recs := make([]crm.Fields, n)
	for i := range recs {
		recs[i] = crm.Fields{"LastName": fmt.Sprintf("Page %05d", i), "Title": "paging"}
	}
	ids, err := srv.Seed("Contact", recs...)
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetLog()
	seen := map[string]bool{}
	pages := 0
	for page, err := range c.QueryPages(t.Context(), crm.Query{Object: "Contact", Fields: []string{"LastName"}, Where: crm.Eq("Title", "paging")}, crm.WithPageSize(2000)) {
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if page.Total != n {
			t.Errorf("page %d: Total %d, want %d", pages, page.Total, n)
		}
		for _, r := range page.Records {
			if seen[r.ID] {
				t.Fatalf("record %s came twice", r.ID)
			}
			seen[r.ID] = true
		}
	}
	if len(seen) != n || pages < 5 {
		t.Fatalf("got %d records in %d pages, want %d in at least 5", len(seen), pages, n)
	}
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("record %s never came", id)
		}
	}
	if q, more := srv.Count("query"), srv.Count("queryMore"); q != 1 || q+more != pages {
		t.Errorf("the org served %d query and %d queryMore calls for %d pages", q, more, pages)
	}
	for _, r := range srv.Requests() {
		if r.Route == "query" && r.Header.Get("Sforce-Query-Options") != "batchSize=2000" {
			t.Errorf("the query asked for %q, want batchSize=2000", r.Header.Get("Sforce-Query-Options"))
		}
	}
}

// 450 upserts by external id take exactly three Collections calls, and a
// second round updates the same records.
func TestUpsert450InThreeCalls(t *testing.T) {
	srv, d, c := setup(t, nil)
	if _, err := d.Describe(t.Context(), "Contact"); err != nil { // warm the schema cache
		t.Fatal(err)
	}
	ws := make([]crm.Write, 450)
	for i := range ws {
		ws[i] = crm.Write{Op: crm.OpUpsert, ExternalField: "External_Id__c", ExternalValue: fmt.Sprintf("EXT-%04d", i),
			Fields: crm.Fields{"LastName": fmt.Sprintf("Upsert %d", i), "Score__c": crm.NewDecimal(int64(i), 1)}}
	}
	for round, wantCreated := range []bool{true, false} {
		srv.ResetLog()
		rs, err := c.Write(t.Context(), "Contact", ws)
		if err != nil || rs.Err() != nil {
			t.Fatalf("round %d: %v %v", round, err, rs.Err())
		}
		for i, r := range rs {
			if r.Created != wantCreated || r.ID == "" {
				t.Fatalf("round %d, write %d: %+v, want Created=%v", round, i, r, wantCreated)
			}
		}
		if n := srv.Count("collections.upsert"); n != 3 {
			t.Errorf("round %d: %d Collections upsert calls, want 3", round, n)
		}
		if n := srv.Total(); n != 3 {
			t.Errorf("round %d: %d calls in all (%v), want 3", round, n, srv.Counts())
		}
	}
	f, deleted, ok := srv.Get("Contact", mustUpsertID(t, c, "EXT-0449"))
	if !ok || deleted || f["LastName"] != "Upsert 449" || !crm.EqualValues(f["Score__c"], crm.MustDecimal("44.9")) {
		t.Errorf("stored record: %v (deleted %v)", f, deleted)
	}
}

func mustUpsertID(t *testing.T, c *crm.Client, key string) string {
	t.Helper()
	for r, err := range c.Query(t.Context(), crm.Query{Object: "Contact", Fields: []string{"Id"}, Where: crm.Eq("External_Id__c", key)}) {
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	t.Fatalf("no record with External_Id__c %s", key)
	return ""
}

// clock is a settable clock for the emulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// A row whose transaction commits after later rows were read carries an
// older SystemModstamp than the cursor: the lookback window catches it, a
// feed without lookback misses it.
func TestLookbackCatchesLateCommit(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	srv := salesforcetest.New(t, contactFields, salesforcetest.WithClock(clk.Now))
	for _, lookback := range []time.Duration{10 * time.Second, 0} {
		t.Run(lookback.String(), func(t *testing.T) {
			d := newDriver(t, srv, salesforce.WithLookback(lookback))
			c, _ := crm.NewClient(d)
			base := clk.Now()
			clk.Set(base.Add(time.Minute))
			early, err := c.Create(t.Context(), "Contact", crm.Fields{"LastName": "Early " + lookback.String()})
			if err != nil {
				t.Fatal(err)
			}
			cursor := drain(t, c, "")
			// A transaction that began before Early was written commits now.
			clk.Set(base.Add(time.Minute - 3*time.Second))
			late, err := c.Create(t.Context(), "Contact", crm.Fields{"LastName": "Late " + lookback.String()})
			if err != nil {
				t.Fatal(err)
			}
			clk.Set(base.Add(2 * time.Minute))
			changes := readAll(t, c, cursor)
			_, sawLate := changes[late]
			if sawLate != (lookback > 0) {
				t.Errorf("lookback %v: the late row was seen: %v", lookback, sawLate)
			}
			if _, again := changes[early]; again {
				t.Errorf("lookback %v: the feed delivered %s again", lookback, early)
			}
			clk.Set(base.Add(3 * time.Minute))
		})
	}
}

// drain reads a change feed to its end and returns the cursor.
func drain(t *testing.T, c *crm.Client, cursor string) string {
	t.Helper()
	for page, err := range c.Changes(t.Context(), "Contact", cursor) {
		if err != nil {
			t.Fatal(err)
		}
		cursor = page.Cursor
	}
	return cursor
}

func readAll(t *testing.T, c *crm.Client, cursor string) map[string]crm.Change {
	t.Helper()
	out := map[string]crm.Change{}
	for page, err := range c.Changes(t.Context(), "Contact", cursor) {
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range page.Changes {
			out[ch.Record.ID] = ch
		}
	}
	return out
}

// A delete comes through the feed from the recycle bin (queryAll), and the
// cursor, stored as a string, survives a restart of the driver.
func TestDeleteSeenThroughFeed(t *testing.T) {
	srv, _, c := setup(t, nil)
	id, err := c.Create(t.Context(), "Contact", crm.Fields{"LastName": "Doomed"})
	if err != nil {
		t.Fatal(err)
	}
	cursor := drain(t, c, "")
	if err := c.Delete(t.Context(), "Contact", id); err != nil {
		t.Fatal(err)
	}
	restarted, _ := crm.NewClient(newDriver(t, srv))
	changes := readAll(t, restarted, cursor)
	ch, ok := changes[id]
	if !ok || ch.Kind != crm.ChangeDeleted || !ch.Record.Deleted {
		t.Fatalf("the feed after the cursor says %+v for the deleted record, want a ChangeDeleted with Record.Deleted", ch)
	}
	if srv.Count("queryAll") == 0 {
		t.Error("the feed did not use queryAll")
	}
	if again := readAll(t, restarted, drain(t, restarted, cursor)); len(again) != 0 {
		t.Errorf("reading on from the end of the feed gave %d changes, want none", len(again))
	}
}

// A spent daily allocation stops writes with KindQuotaExhausted and a
// message that says what to do; no record is written.
func TestSpentQuotaStopsWrites(t *testing.T) {
	srv, _, c := setup(t, []salesforcetest.Option{salesforcetest.WithDailyLimit(100)})
	if _, err := c.Describe(t.Context(), "Contact"); err != nil {
		t.Fatal(err)
	}
	srv.SetDailyUsage(100)
	rs, err := c.Write(t.Context(), "Contact", []crm.Write{
		{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "A"}},
		{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "B"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		ce := wantKind(t, r.Err, crm.KindQuotaExhausted)
		if !errors.Is(r.Err, crm.ErrQuotaExhausted) {
			t.Errorf("write %d: errors.Is(err, crm.ErrQuotaExhausted) is false", i)
		}
		if ce != nil && (ce.StatusCode != 403 || ce.Code != "REQUEST_LIMIT_EXCEEDED" || !strings.Contains(ce.Message, "allocation")) {
			t.Errorf("write %d: %v; want 403 REQUEST_LIMIT_EXCEEDED explaining the allocation", i, ce)
		}
		if r.Err != nil && r.Err.(*crm.Error).Retryable() {
			t.Errorf("write %d: a spent quota is reported as retryable", i)
		}
	}
	if n, _ := countContacts(srv); n != 0 {
		t.Errorf("%d contacts were written with the quota spent", n)
	}
}

// With a daily guard, the limiter learns the use from Sforce-Limit-Info and
// stops the next call before it reaches the org.
func TestLimitInfoFeedsTheLimiter(t *testing.T) {
	lim := ratelimit.New(ratelimit.WithDailyGuard(0.5))
	srv, _, c := setup(t, []salesforcetest.Option{salesforcetest.WithDailyLimit(1000)}, salesforce.WithLimiter(lim))
	if _, err := c.Describe(t.Context(), "Contact"); err != nil {
		t.Fatal(err)
	}
	used, max := srv.DailyUsage()
	if got := lim.Daily(); got.Used != used || got.Max != max {
		t.Errorf("the limiter saw %+v, the org counts %d/%d", got, used, max)
	}
	srv.SetDailyUsage(600)
	if _, err := c.ListObjects(t.Context()); err != nil { // this answer reports 601/1000
		t.Fatal(err)
	}
	srv.ResetLog()
	_, err := c.Create(t.Context(), "Contact", crm.Fields{"LastName": "Held"})
	wantKind(t, err, crm.KindQuotaExhausted)
	if n := srv.Total(); n != 0 {
		t.Errorf("the guarded write reached the org (%d requests)", n)
	}
}

func countContacts(srv *salesforcetest.Server) (int, error) {
	n := 0
	for _, r := range srv.Requests() {
		if r.Route == "collections.create" && r.Status == 200 {
			n++
		}
	}
	return n, nil
}

// A 401 INVALID_SESSION_ID is answered by one token refresh and a replay.
func TestExpiredSessionRefreshedOnce(t *testing.T) {
	srv, _, c := setup(t, nil)
	if _, err := c.Create(t.Context(), "Contact", crm.Fields{"LastName": "Before"}); err != nil {
		t.Fatal(err)
	}
	srv.ExpireSession()
	srv.ResetLog()
	id, err := c.Create(t.Context(), "Contact", crm.Fields{"LastName": "After"})
	if err != nil {
		t.Fatalf("create after the session expired: %v", err)
	}
	var statuses []int
	for _, r := range srv.Requests() {
		statuses = append(statuses, r.Status)
	}
	if !slices.Equal(statuses, []int{401, 201}) {
		t.Errorf("statuses %v, want one 401 then the replayed create (201)", statuses)
	}
	if f, _, ok := srv.Get("Contact", id); !ok || f["LastName"] != "After" {
		t.Errorf("the replayed create did not write the record: %v", f)
	}

	// A token source that cannot do better: the 401 stands, once.
	srv.RevokeToken(srv.Token())
	srv.ResetLog()
	_, err = c.Create(t.Context(), "Contact", crm.Fields{"LastName": "Never"})
	wantKind(t, err, crm.KindUnauthorized)
	if n := srv.Total(); n != 1 {
		t.Errorf("%d requests with a revoked token, want 1", n)
	}
}

// Every call names the integration in Sforce-Call-Options.
func TestCallOptionsOnEveryCall(t *testing.T) {
	srv, _, c := setup(t, nil, salesforce.WithAppName("billing sync/2"))
	id, err := c.Create(t.Context(), "Contact", crm.Fields{"LastName": "A"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(t.Context(), "Contact", id); err != nil {
		t.Fatal(err)
	}
	for range c.Query(t.Context(), crm.Query{Object: "Contact"}) {
	}
	if len(srv.Requests()) < 4 {
		t.Fatalf("only %d requests", len(srv.Requests()))
	}
	for _, r := range srv.Requests() {
		if got := r.Header.Get("Sforce-Call-Options"); got != "client=billingsync2" {
			t.Errorf("%s %s carried Sforce-Call-Options %q", r.Method, r.Path, got)
		}
		if r.Header.Get("Authorization") != "" && r.Header.Get("Authorization") != "[redacted]" {
			t.Error("the request log holds a token")
		}
	}
}

// Writes that Salesforce would refuse for field-level security or types
// fail before any call, naming the field.
func TestWriteCheckedBeforeSending(t *testing.T) {
	srv, d, _ := setup(t, nil)
	if _, err := d.Describe(t.Context(), "Contact"); err != nil {
		t.Fatal(err)
	}
	srv.ResetLog()
	rs, err := d.Write(t.Context(), crm.WriteRequest{Object: "Contact", Writes: []crm.Write{
		{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "x", "SystemModstamp": time.Now()}},
		{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "x", "Score__c": "many"}},
		{Op: crm.OpUpsert, ExternalField: "Email", ExternalValue: "a@b.co", Fields: crm.Fields{"LastName": "x"}},
		{Op: crm.OpUpdate, ID: "not an id", Fields: crm.Fields{"LastName": "x"}},
		{Op: crm.OpUpdate, ID: "003Dm0000000001IAA", IfVersion: "1", Fields: crm.Fields{"LastName": "x"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		kind  crm.Kind
		field string
	}{{crm.KindValidation, "SystemModstamp"}, {crm.KindValidation, "Score__c"}, {crm.KindValidation, "Email"}, {crm.KindInvalidRequest, "Id"}, {crm.KindUnsupported, ""}} {
		ce := wantKind(t, rs[i].Err, want.kind)
		if ce != nil && want.field != "" && !slices.Contains(ce.Fields, want.field) {
			t.Errorf("write %d: fields %q, want %s named", i, ce.Fields, want.field)
		}
	}
	if n := srv.Total(); n != 0 {
		t.Errorf("%d requests were sent for writes that could not succeed", n)
	}
}

// A 503 on a read is retried; a connection reset on a create is not,
// since the create may have happened.
func TestFaultsAndRetries(t *testing.T) {
	srv, _, c := setup(t, nil, salesforce.WithRetry(retry.New(retry.WithBackoff(time.Millisecond, 5*time.Millisecond))))
	id := seedContact(t, srv)
	srv.Inject("sobject.get", 1, salesforcetest.Unavailable())
	if _, err := c.Get(t.Context(), "Contact", id); err != nil {
		t.Fatalf("Get after one 503: %v", err)
	}
	if n := srv.Count("sobject.get"); n != 2 {
		t.Errorf("%d gets, want 2 (one 503, one retry)", n)
	}

	srv.Inject("sobject.create", 1, salesforcetest.ConnectionReset().AfterWork())
	_, err := c.Create(t.Context(), "Contact", crm.Fields{"LastName": "Maybe"})
	if err == nil {
		t.Fatal("a create whose answer was lost succeeded")
	}
	// The store, not the request log, says how often the create ran: the
	// log entry of a cut connection may land after the client saw the reset.
	made := 0
	for _, err := range c.Query(t.Context(), crm.Query{Object: "Contact", Fields: []string{"Id"}, Where: crm.Eq("LastName", "Maybe")}) {
		if err != nil {
			t.Fatal(err)
		}
		made++
	}
	if made != 1 {
		t.Errorf("the create ran %d times, want once (POST is not idempotent)", made)
	}

	// Upserts are idempotent, so a lost answer is retried safely.
	srv.Inject("sobject.upsert", 1, salesforcetest.ConnectionReset().AfterWork())
	res, err := c.Upsert(t.Context(), "Contact", "External_Id__c", "RETRY-1", crm.Fields{"LastName": "Once"})
	if err != nil {
		t.Fatalf("upsert after a lost answer: %v", err)
	}
	if res.Created {
		t.Error("the retried upsert reports Created, though the first attempt created the record")
	}
	if n := srv.Count("sobject.upsert"); n != 2 {
		t.Errorf("%d upsert calls, want 2", n)
	}

	// Row-lock contention on some records of a batch.
	srv.InjectRecordFault(salesforcetest.RecordFault{Route: "collections.create", Every: 2, Times: 2})
	ws := make([]crm.Write, 4)
	for i := range ws {
		ws[i] = crm.Write{Op: crm.OpCreate, Fields: crm.Fields{"LastName": fmt.Sprint("Lock ", i)}}
	}
	rs, err := c.Write(t.Context(), "Contact", ws)
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.Failed(); !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("failed writes %v, want [1 3]", got)
	}
	if !crm.IsRetryable(rs[1].Err) || crm.KindOf(rs[1].Err) != crm.KindUnavailable {
		t.Errorf("UNABLE_TO_LOCK_ROW gave %v, want a retryable KindUnavailable", rs[1].Err)
	}
}

// Describe shows field-level security, custom objects and custom fields.
func TestDescribe(t *testing.T) {
	srv := salesforcetest.New(t, contactFields, salesforcetest.WithObject(salesforcetest.Object{
		Name: "Invoice__c", Fields: []salesforcetest.Field{
			{Name: "Amount__c", Type: "currency", Precision: 16, Scale: 2, Required: true},
			{Name: "Status__c", Type: "picklist", Picklist: []string{"Draft", "Sent", "Paid"}, DefaultValue: "Draft"},
			{Name: "Contact__c", Type: "reference", ReferenceTo: []string{"Contact"}},
		}}))
	d := newDriver(t, srv)
	s, err := d.Describe(t.Context(), "Invoice__c")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Custom || s.IDField != "Id" || s.ModifiedField != "SystemModstamp" {
		t.Errorf("schema %+v", s)
	}
	check := func(name string, typ crm.FieldType, required, createable, updateable bool) {
		t.Helper()
		f, ok := s.Field(name)
		if !ok {
			t.Fatalf("no field %s", name)
		}
		if f.Type != typ || f.Required != required || f.Createable != createable || f.Updateable != updateable {
			t.Errorf("%s: type %s required %v createable %v updateable %v", name, f.Type, f.Required, f.Createable, f.Updateable)
		}
	}
	check("Amount__c", crm.TypeCurrency, true, true, true)
	check("Status__c", crm.TypePicklist, false, true, true)
	check("Contact__c", crm.TypeReference, false, true, true)
	check("Name", crm.TypeString, true, true, true)
	check("CreatedDate", crm.TypeDateTime, false, false, false)
	check("Id", crm.TypeID, false, false, false)
	if f, _ := s.Field("Status__c"); len(f.Picklist) != 3 || !f.Picklist[0].Default {
		t.Errorf("picklist %+v", f.Picklist)
	}
	_, err = d.Describe(t.Context(), "Nope__c")
	wantKind(t, err, crm.KindNotFound)

	objs, err := d.ListObjects(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	for _, want := range []string{"Account", "Contact", "Lead", "Opportunity", "User", "Invoice__c"} {
		if !slices.Contains(names, want) {
			t.Errorf("ListObjects lacks %s: %v", want, names)
		}
	}
	lim, err := d.Limits(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if lim.Daily.Max != salesforcetest.DefaultDailyLimit || lim.Daily.Used < 1 {
		t.Errorf("Limits().Daily = %+v", lim.Daily)
	}
}

// A stored query cursor that the org has forgotten is a clear error.
func TestExpiredCursor(t *testing.T) {
	clk := &clock{t: time.Now()}
	srv, _, c := setup(t, []salesforcetest.Option{salesforcetest.WithClock(clk.Now)})
	recs := make([]crm.Fields, 250)
	for i := range recs {
		recs[i] = crm.Fields{"LastName": fmt.Sprint(i)}
	}
	if _, err := srv.Seed("Contact", recs...); err != nil {
		t.Fatal(err)
	}
	q := crm.Query{Object: "Contact", Fields: []string{"LastName"}}
	p, err := c.QueryPage(t.Context(), q, "", crm.WithPageSize(200))
	if err != nil || p.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, p.NextCursor)
	}
	clk.Set(clk.Now().Add(time.Hour))
	_, err = c.QueryPage(t.Context(), q, p.NextCursor, crm.WithPageSize(200))
	ce := wantKind(t, err, crm.KindInvalidRequest)
	if ce != nil && ce.Code != "INVALID_QUERY_LOCATOR" {
		t.Errorf("code %q", ce.Code)
	}
	_, err = c.QueryPage(t.Context(), q, "https://evil.example/services/data/v63.0/query/x-1", crm.WithPageSize(200))
	wantKind(t, err, crm.KindInvalidRequest)
}

// Above the bulk threshold the Client's writes go through one Bulk API 2.0
// ingest job, whose results come back one per write, in order.
func TestBulkWrite(t *testing.T) {
	srv, d, c := setup(t, nil, salesforce.WithBulkPollInterval(time.Millisecond), salesforce.WithBulkThreshold(100))
	if got := d.Info().BulkThreshold; got != 100 {
		t.Fatalf("BulkThreshold %d", got)
	}
	const n = 250
	ws := make([]crm.Write, n)
	for i := range ws {
		ws[i] = crm.Write{Op: crm.OpUpsert, ExternalField: "External_Id__c", ExternalValue: fmt.Sprintf("BULK-%03d", i),
			Fields: crm.Fields{"LastName": fmt.Sprintf("Bulk, \"%d\"\nline", i), "Score__c": crm.NewDecimal(int64(i), 2), "Title": nil}}
	}
	ws[7].Fields["LastName"] = strings.Repeat("x", 81)
	srv.InjectRecordFault(salesforcetest.RecordFault{Route: "bulk.ingest", Every: 100, Times: 1})
	for round, wantCreated := range []bool{true, false} {
		srv.ResetLog()
		rs, err := c.Write(t.Context(), "Contact", ws)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			switch {
			case i == 7:
				ce := wantKind(t, r.Err, crm.KindValidation)
				if ce != nil && (ce.Code != "STRING_TOO_LONG" || !slices.Contains(ce.Fields, "LastName")) {
					t.Errorf("round %d, write 7: %v", round, ce)
				}
			case round == 0 && i == 99:
				if crm.KindOf(r.Err) != crm.KindUnavailable || !crm.IsRetryable(r.Err) {
					t.Errorf("write 99 under a row lock: %v", r.Err)
				}
			case r.Err != nil:
				t.Fatalf("round %d, write %d: %v", round, i, r.Err)
			case r.Created != (wantCreated || i == 99) || r.ID == "":
				t.Fatalf("round %d, write %d: %+v, want Created=%v", round, i, r, wantCreated)
			}
		}
		if got := srv.Count("bulk.ingest"); got != 1 {
			t.Errorf("round %d: %d ingest jobs, want 1 (counts %v)", round, got, srv.Counts())
		}
		if got := srv.Count("collections.upsert"); got != 0 {
			t.Errorf("round %d: %d Collections calls", round, got)
		}
	}
	f, _, ok := srv.Get("Contact", mustUpsertID(t, c, "BULK-042"))
	if !ok || f["LastName"] != "Bulk, \"42\"\nline" || f["Title"] != nil || !crm.EqualValues(f["Score__c"], crm.MustDecimal("0.42")) {
		t.Errorf("stored: %v", f)
	}

	// Deletes in bulk, forced below the threshold.
	var dels []crm.Write
	for r, err := range c.Query(t.Context(), crm.Query{Object: "Contact", Fields: []string{"Id"}, Where: crm.Contains("External_Id__c", "BULK-0")}) {
		if err != nil {
			t.Fatal(err)
		}
		dels = append(dels, crm.Write{Op: crm.OpDelete, ID: r.ID})
	}
	rs, err := c.Write(t.Context(), "Contact", dels, crm.WithBulk(crm.BulkAlways))
	if err != nil || rs.Err() != nil || len(dels) != 99 { // BULK-007 was never written
		t.Fatalf("bulk delete of %d: %v %v", len(dels), err, rs.Err())
	}
	if _, deleted, _ := srv.Get("Contact", dels[0].ID); !deleted {
		t.Error("the bulk delete left the record")
	}
}

// A bulk query job pages its CSV results with Sforce-Locator.
func TestBulkQuery(t *testing.T) {
	srv, d, _ := setup(t, nil, salesforce.WithBulkPollInterval(time.Millisecond))
	recs := make([]crm.Fields, 4500)
	for i := range recs {
		recs[i] = crm.Fields{"LastName": fmt.Sprintf("Q%04d", i), "Score__c": crm.NewDecimal(int64(i), 0), "Title": "bulkq"}
	}
	if _, err := srv.Seed("Contact", recs...); err != nil {
		t.Fatal(err)
	}
	q := crm.Query{Object: "Contact", Fields: []string{"LastName", "Score__c"}, Where: crm.Eq("Title", "bulkq")}
	var got int
	cursor, pages := "", 0
	for {
		p, err := d.BulkQuery(t.Context(), crm.QueryRequest{Query: q, Cursor: cursor, PageSize: 2000})
		if err != nil {
			t.Fatal(err)
		}
		if pages == 0 && p.Total != 4500 {
			t.Errorf("Total %d", p.Total)
		}
		for _, r := range p.Records {
			if r.ID == "" || r.ModifiedAt.IsZero() {
				t.Fatalf("record %+v lacks its id or stamp", r)
			}
			if _, ok := r.Fields["Score__c"].(crm.Decimal); !ok {
				t.Fatalf("Score__c is %T", r.Fields["Score__c"])
			}
		}
		got += len(p.Records)
		pages++
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if got != 4500 || pages != 3 {
		t.Errorf("%d records in %d pages, want 4500 in 3", got, pages)
	}
	if n := srv.Count("bulk.query"); n != 1 {
		t.Errorf("%d query jobs", n)
	}
	_, err := d.BulkQuery(t.Context(), crm.QueryRequest{Query: q, Cursor: "bulk:nope"})
	wantKind(t, err, crm.KindInvalidRequest)
}

// freshJWT is a token source that runs the JWT-bearer flow on every call,
// so that the driver's refresh after a 401 gets a new session.
type freshJWT struct{ cfg *jwt.Config }

func (f freshJWT) Token() (*oauth2.Token, error) {
	return f.cfg.TokenSource(context.Background()).Token()
}

// The JWT-bearer flow end to end: the emulator's token endpoint checks the
// assertion against the app's certificate; when the session times out, the
// driver refreshes once and carries on.
func TestJWTBearerEndToEnd(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "billing-sync"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	clk := &clock{t: time.Now()}
	srv := salesforcetest.New(t, contactFields, salesforcetest.WithClock(clk.Now), salesforcetest.WithSessionTimeout(time.Minute),
		salesforcetest.WithConnectedApp(salesforcetest.ConnectedApp{ClientID: "billing-sync-key", Certificate: cert}))
	cfg := &jwt.Config{Email: "billing-sync-key", Subject: "integration@crmkit.example", Audience: "https://login.salesforce.com",
		PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		TokenURL:   srv.URL + "/services/oauth2/token"}
	d, err := salesforce.New(salesforce.WithInstanceURL(srv.URL), salesforce.WithTokenSource(freshJWT{cfg}))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := crm.NewClient(d)
	if _, err := c.Create(t.Context(), "Contact", crm.Fields{"LastName": "Signed"}); err != nil {
		t.Fatal(err)
	}
	clk.Set(clk.Now().Add(2 * time.Minute)) // the session times out
	srv.ResetLog()
	if _, err := c.Create(t.Context(), "Contact", crm.Fields{"LastName": "Resigned"}); err != nil {
		t.Fatalf("after the session timed out: %v", err)
	}
	var got []string
	for _, r := range srv.Requests() {
		got = append(got, fmt.Sprint(r.Route, " ", r.Status))
	}
	if want := []string{"sobject.create 401", "oauth2.token 200", "sobject.create 201"}; !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}
