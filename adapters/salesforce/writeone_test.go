package salesforce_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/adapters/salesforce"
	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm"
)

// legacyField is an external id that is not unique, as orgs that imported
// data from an older system often have: several records may hold a value.
var legacyField = salesforcetest.WithFields("Contact",
	salesforcetest.Field{Name: "Legacy_Id__c", Type: "string", Length: 64, ExternalID: true},
)

// setupOne starts an org with the custom Contact fields and a warm schema
// cache, so that the request log holds only the writes.
func setupOne(t *testing.T, srvOpts ...salesforcetest.Option) (*salesforcetest.Server, *salesforce.Driver, *crm.Client) {
	t.Helper()
	srv, d, c := setup(t, append([]salesforcetest.Option{legacyField}, srvOpts...))
	if _, err := d.Describe(t.Context(), "Contact"); err != nil {
		t.Fatal(err)
	}
	srv.ResetLog()
	return srv, d, c
}

// wantOnly checks that the log holds exactly one request, to route, and
// returns its status.
func wantOnly(t *testing.T, srv *salesforcetest.Server, route string) int {
	t.Helper()
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Route != route {
		t.Fatalf("requests %v, want exactly one to %s", srv.Counts(), route)
	}
	srv.ResetLog()
	return reqs[0].Status
}

func writeOne(t *testing.T, d *salesforce.Driver, w crm.Write) crm.WriteResult {
	t.Helper()
	rs, err := d.Write(t.Context(), crm.WriteRequest{Object: "Contact", Writes: []crm.Write{w}})
	if err != nil {
		t.Fatalf("Write(%v): %v", w.Op, err)
	}
	if len(rs) != 1 {
		t.Fatalf("Write returned %d results for one write", len(rs))
	}
	return rs[0]
}

// A one-write Client.Write makes exactly one request, to the single-record
// route, for each operation, and the results have the Collections shape.
func TestSingleRecordWrites(t *testing.T) {
	srv, d, c := setupOne(t)
	ctx := t.Context()

	rs, err := c.Write(ctx, "Contact", []crm.Write{{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "Single", "Title": "Buyer"}}})
	if err != nil || rs.Err() != nil {
		t.Fatalf("create: %v %v", err, rs.Err())
	}
	if st := wantOnly(t, srv, "sobject.create"); st != 201 {
		t.Errorf("create answered %d, want 201", st)
	}
	id := rs[0].ID
	if len(id) != 18 || !rs[0].Created || rs[0].Version != "" {
		t.Errorf("create result %+v, want an 18-character id, Created and no version (as from Collections)", rs[0])
	}
	if f, _, ok := srv.Get("Contact", id); !ok || f["LastName"] != "Single" || f["Title"] != "Buyer" {
		t.Errorf("stored after create: %v", f)
	}

	// An update by the 15-character id reports the 18-character one, as
	// Collections does.
	res := writeOne(t, d, crm.Write{Op: crm.OpUpdate, ID: id[:15], Fields: crm.Fields{"Title": "Director", "Score__c": crm.MustDecimal("7.5")}})
	if res.Err != nil || res.ID != id || res.Created {
		t.Fatalf("update result %+v, want ID %s, not created", res, id)
	}
	if st := wantOnly(t, srv, "sobject.update"); st != 204 {
		t.Errorf("update answered %d, want 204", st)
	}
	if f, _, _ := srv.Get("Contact", id); f["Title"] != "Director" || f["LastName"] != "Single" || !crm.EqualValues(f["Score__c"], crm.MustDecimal("7.5")) {
		t.Errorf("stored after update: %v", f)
	}

	if err := c.Delete(ctx, "Contact", id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if st := wantOnly(t, srv, "sobject.delete"); st != 204 {
		t.Errorf("delete answered %d, want 204", st)
	}
	if _, deleted, ok := srv.Get("Contact", id); !ok || !deleted {
		t.Errorf("after delete: present %v, deleted %v; want in the recycle bin", ok, deleted)
	}
	if n := srv.Count("collections.create") + srv.Count("collections.update") + srv.Count("collections.delete"); n != 0 {
		t.Errorf("%d Collections calls for single writes", n)
	}
}

// An upsert creates (201) and then updates (200) through the single-record
// route, reporting Created exactly.
func TestSingleRecordUpsert(t *testing.T) {
	srv, d, c := setupOne(t)
	first, err := c.Upsert(t.Context(), "Contact", "External_Id__c", "SINGLE-1", crm.Fields{"LastName": "First"})
	if err != nil {
		t.Fatal(err)
	}
	if st := wantOnly(t, srv, "sobject.upsert"); st != 201 {
		t.Errorf("first upsert answered %d, want 201", st)
	}
	if !first.Created || len(first.ID) != 18 {
		t.Errorf("first upsert %+v, want Created and an id", first)
	}
	second := writeOne(t, d, crm.Write{Op: crm.OpUpsert, ExternalField: "external_id__c", ExternalValue: "single-1", Fields: crm.Fields{"LastName": "Second"}})
	if second.Err != nil || second.Created || second.ID != first.ID {
		t.Errorf("second upsert %+v, want ID %s and Created=false", second, first.ID)
	}
	if st := wantOnly(t, srv, "sobject.upsert"); st != 200 {
		t.Errorf("second upsert answered %d, want 200", st)
	}
	f, _, _ := srv.Get("Contact", first.ID)
	if f["LastName"] != "Second" || f["External_Id__c"] != "SINGLE-1" {
		t.Errorf("stored after the second upsert: %v", f)
	}
	if n := liveContacts(t, c); n != 1 {
		t.Errorf("%d contacts, want 1", n)
	}
}

// An upsert key that a URL path cannot carry safely goes through
// Collections, still in one call.
func TestSingleUpsertWithDottedKeyUsesCollections(t *testing.T) {
	srv, d, _ := setupOne(t)
	for _, key := range []string{"ana@example.inc", "a/b", `a\b`} {
		res := writeOne(t, d, crm.Write{Op: crm.OpUpsert, ExternalField: "External_Id__c", ExternalValue: key, Fields: crm.Fields{"LastName": "Dotted"}})
		if res.Err != nil || !res.Created || res.ID == "" {
			t.Errorf("upsert of %q: %+v", key, res)
		}
		wantOnly(t, srv, "collections.upsert")
	}
}

// Several records holding the key of a non-unique external id: Salesforce
// answers 300 and changes nothing; the result is KindDuplicate, names the
// field and the count, and never the value.
func TestSingleUpsertMultipleMatches(t *testing.T) {
	srv, d, c := setupOne(t)
	const key = "LEG-7731"
	ids, err := srv.Seed("Contact", crm.Fields{"LastName": "Twin A", "Legacy_Id__c": key}, crm.Fields{"LastName": "Twin B", "Legacy_Id__c": key})
	if err != nil {
		t.Fatal(err)
	}
	res := writeOne(t, d, crm.Write{Op: crm.OpUpsert, ExternalField: "Legacy_Id__c", ExternalValue: key, Fields: crm.Fields{"LastName": "Which"}})
	if st := wantOnly(t, srv, "sobject.upsert"); st != 300 {
		t.Errorf("upsert answered %d, want 300", st)
	}
	ce := wantKind(t, res.Err, crm.KindDuplicate)
	if res.ID != "" || res.Created {
		t.Errorf("result %+v, want no id and not created", res)
	}
	if ce != nil {
		if ce.StatusCode != 300 || ce.Code != "MULTIPLE_CHOICES" || !slices.Equal(ce.Fields, []string{"Legacy_Id__c"}) || ce.RequestID == "" {
			t.Errorf("error %#v: want 300 MULTIPLE_CHOICES on Legacy_Id__c with the request id", ce)
		}
		msg := ce.Error()
		if !strings.Contains(msg, "2 Contact records") || !strings.Contains(msg, "Legacy_Id__c") || !strings.Contains(msg, ids[0]) {
			t.Errorf("message %q does not count the matches and name the field and records", msg)
		}
		if strings.Contains(strings.ToLower(msg), strings.ToLower(key)) {
			t.Errorf("message %q repeats the key's value", msg)
		}
	}
	for _, id := range ids {
		if f, _, _ := srv.Get("Contact", id); f["LastName"] == "Which" {
			t.Errorf("record %s was changed by an ambiguous upsert", id)
		}
	}
	if n := liveContacts(t, c); n != 2 {
		t.Errorf("%d contacts, want the 2 seeded", n)
	}

	// Through the Client, the same outcome is the one result's error.
	_, err = c.Upsert(t.Context(), "Contact", "Legacy_Id__c", key, crm.Fields{"LastName": "Which"})
	if !errors.Is(err, crm.ErrDuplicate) {
		t.Errorf("Client.Upsert: %v, want crm.ErrDuplicate", err)
	}
}

// A 300 whose body is not the list of URLs (from a proxy, or a fault) is
// still an ambiguous key.
func TestSingleUpsertMultipleChoicesInjected(t *testing.T) {
	srv, d, _ := setupOne(t)
	srv.Inject("sobject.upsert", 1, salesforcetest.StatusFault(300, "MULTIPLE_CHOICES", "several"))
	res := writeOne(t, d, crm.Write{Op: crm.OpUpsert, ExternalField: "Legacy_Id__c", ExternalValue: "X-1", Fields: crm.Fields{"LastName": "X"}})
	ce := wantKind(t, res.Err, crm.KindDuplicate)
	if ce != nil && (!strings.Contains(ce.Message, "several Contact records") || ce.RequestID == "" || strings.Contains(ce.Message, "X-1")) {
		t.Errorf("error %v: want several matches, the request id, and not the value", ce)
	}
}

// A single-record write's error body is that record's result, with the
// kind, code, fields and request id a Collections result would carry.
func TestSingleRecordErrors(t *testing.T) {
	srv, d, _ := setupOne(t)
	taken, err := srv.Seed("Contact", crm.Fields{"LastName": "Holder", "External_Id__c": "TAKEN"})
	if err != nil {
		t.Fatal(err)
	}
	gone := seedContact(t, srv)
	if res := writeOne(t, d, crm.Write{Op: crm.OpDelete, ID: gone}); res.Err != nil {
		t.Fatal(res.Err)
	}
	missing := "003" + strings.Repeat("0", 11) + "9AAA" // well formed, no such record
	srv.ResetLog()

	cases := []struct {
		name   string
		w      crm.Write
		route  string
		status int
		kind   crm.Kind
		code   string
		field  string
	}{
		{"required field", crm.Write{Op: crm.OpCreate, Fields: crm.Fields{"Title": "No name"}}, "sobject.create", 400, crm.KindValidation, "REQUIRED_FIELD_MISSING", "LastName"},
		{"unique value", crm.Write{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "Copy", "External_Id__c": "taken"}}, "sobject.create", 400, crm.KindDuplicate, "DUPLICATE_VALUE", "External_Id__c"},
		{"bad email", crm.Write{Op: crm.OpUpsert, ExternalField: "External_Id__c", ExternalValue: "NEW-1", Fields: crm.Fields{"LastName": "E", "Email": "not-an-address"}}, "sobject.upsert", 400, crm.KindValidation, "INVALID_EMAIL_ADDRESS", "Email"},
		{"update of a missing record", crm.Write{Op: crm.OpUpdate, ID: missing, Fields: crm.Fields{"Title": "x"}}, "sobject.update", 404, crm.KindNotFound, "NOT_FOUND", ""},
		{"delete of a deleted record", crm.Write{Op: crm.OpDelete, ID: gone}, "sobject.delete", 404, crm.KindNotFound, "ENTITY_IS_DELETED", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv.ResetLog()
			res := writeOne(t, d, tc.w)
			if st := wantOnly(t, srv, tc.route); st != tc.status {
				t.Errorf("answered %d, want %d", st, tc.status)
			}
			ce := wantKind(t, res.Err, tc.kind)
			if ce == nil {
				return
			}
			if ce.Code != tc.code || ce.StatusCode != tc.status || ce.RequestID == "" || ce.CRM != salesforce.Name || ce.Object != "Contact" || ce.Operation != tc.w.Op.String() {
				t.Errorf("error %#v: want %d %s with the request id, operation and object", ce, tc.status, tc.code)
			}
			if tc.field != "" && !slices.Contains(ce.Fields, tc.field) {
				t.Errorf("fields %q, want %s named", ce.Fields, tc.field)
			}
			if ce.RecordID != tc.w.ID || res.ID != tc.w.ID {
				t.Errorf("record id %q, result id %q; want the write's id %q", ce.RecordID, res.ID, tc.w.ID)
			}

			// The same write in a two-write request goes through
			// Collections and fails with the same kind (and code, but for
			// a missing record, which Collections reports as
			// INVALID_CROSS_REFERENCE_KEY).
			other := crm.Write{Op: tc.w.Op, ID: tc.w.ID, ExternalField: tc.w.ExternalField, ExternalValue: tc.w.ExternalValue + "-2", Fields: tc.w.Fields}
			if tc.w.Op == crm.OpCreate || tc.w.Op == crm.OpUpsert {
				other.Fields = crm.Fields{"LastName": "Fine"}
			}
			rs, err := d.Write(t.Context(), crm.WriteRequest{Object: "Contact", Writes: []crm.Write{tc.w, other}})
			if err != nil {
				t.Fatal(err)
			}
			if k, code := crm.KindOf(rs[0].Err), codeOf(rs[0].Err); k != tc.kind || (code != tc.code && tc.code != "NOT_FOUND") {
				t.Errorf("through Collections: kind %q code %q, want %q %q", k, code, tc.kind, tc.code)
			}
		})
	}
	if f, _, _ := srv.Get("Contact", taken[0]); f["LastName"] != "Holder" {
		t.Errorf("the holder of the unique value changed: %v", f)
	}
}

// liveContacts counts the org's contacts through a query.
func liveContacts(t *testing.T, c *crm.Client) int {
	t.Helper()
	n := 0
	for _, err := range c.Query(t.Context(), crm.Query{Object: "Contact", Fields: []string{"Id"}}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func codeOf(err error) string {
	var ce *crm.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}

// A failure of the call itself (a spent quota, a server error) is the
// Write's error, as when a Collections call fails, and a server error on
// an idempotent update is retried.
func TestSingleRecordCallFailures(t *testing.T) {
	srv, d, c := setupOne(t)
	id := seedContact(t, srv)

	srv.Inject("sobject.update", 1, salesforcetest.Unavailable())
	if err := c.Update(t.Context(), "Contact", id, crm.Fields{"Title": "Retried"}); err != nil {
		t.Fatalf("update after one 503: %v", err)
	}
	if n := srv.Count("sobject.update"); n != 2 {
		t.Errorf("%d update calls, want 2 (one 503, one retry)", n)
	}

	srv.SetDailyLimit(10)
	srv.SetDailyUsage(10)
	rs, err := d.Write(t.Context(), crm.WriteRequest{Object: "Contact", Writes: []crm.Write{{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "Late"}}}})
	if rs != nil {
		t.Errorf("results %v with the quota spent, want the Write's error", rs)
	}
	ce := wantKind(t, err, crm.KindQuotaExhausted)
	if ce != nil && (ce.StatusCode != 403 || ce.RequestID == "") {
		t.Errorf("error %#v: want 403 with the request id", ce)
	}
	if _, err := c.Create(t.Context(), "Contact", crm.Fields{"LastName": "Late"}); !errors.Is(err, crm.ErrQuotaExhausted) {
		t.Errorf("Client.Create with the quota spent: %v", err)
	}
}
