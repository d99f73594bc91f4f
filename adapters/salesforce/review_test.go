package salesforce_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/salesforce"
	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm"
)

// editingProxy serves the emulated org through a proxy that lets edit
// change each answer before the driver reads it, for answers the org
// itself never gives; it returns a driver that talks to the proxy.
func editingProxy(t *testing.T, srv *salesforcetest.Server, edit func(r *http.Request, h http.Header, body []byte) []byte) *salesforce.Driver {
	t.Helper()
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, r)
		h := rec.Result().Header.Clone()
		body := edit(r, h, rec.Body.Bytes())
		h.Del("Content-Length")
		maps.Copy(w.Header(), h)
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}))
	t.Cleanup(p.Close)
	d, err := salesforce.New(salesforce.WithInstanceURL(p.URL), salesforce.WithTokenSource(srv.TokenSource()),
		salesforce.WithBulkPollInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// An object name that is not an sObject API name never reaches a URL
// path: ".." would otherwise climb out of /sobjects/.
func TestObjectNameMustBeAnAPIName(t *testing.T) {
	srv, d, _ := setup(t, nil)
	for _, name := range []string{"..", ".", "", "Contact/..", "Con tact", "Contact.describe", "1Contact", "_Contact", "Contact\x00"} {
		srv.ResetLog()
		_, err := d.Describe(t.Context(), name)
		ce := wantKind(t, err, crm.KindInvalidRequest)
		if ce != nil && !strings.Contains(ce.Message, "letters, digits and underscores") {
			t.Errorf("Describe(%q): %v, want the rule in the message", name, err)
		}
		_, err = d.Get(t.Context(), crm.GetRequest{Object: name, ID: "003000000000001AAA"})
		wantKind(t, err, crm.KindInvalidRequest)
		if n := srv.Total(); n != 0 {
			t.Errorf("Describe(%q) sent %d requests: %v", name, n, srv.Requests())
		}
	}
	if _, err := d.Describe(t.Context(), "Contact"); err != nil {
		t.Errorf("Describe(Contact): %v", err)
	}
}

// Contains is held to SOQL's 4,000-character literal limit, as Eq is.
func TestContainsLiteralLimit(t *testing.T) {
	srv, d, _ := setup(t, nil)
	if _, err := d.Describe(t.Context(), "Contact"); err != nil {
		t.Fatal(err)
	}
	srv.ResetLog()
	_, err := d.Query(t.Context(), crm.QueryRequest{Query: crm.Query{Object: "Contact", Fields: []string{"LastName"},
		Where: crm.Contains("LastName", strings.Repeat("x", 4001))}})
	ce := wantKind(t, err, crm.KindValidation)
	if ce != nil && (len(ce.Fields) != 1 || ce.Fields[0] != "LastName" || !strings.Contains(ce.Message, "4000")) {
		t.Errorf("error %v (fields %v), want one naming LastName and the limit", ce, ce.Fields)
	}
	if n := srv.Count("query"); n != 0 {
		t.Errorf("the query was sent (%d requests)", n)
	}
	if _, err := d.Query(t.Context(), crm.QueryRequest{Query: crm.Query{Object: "Contact", Fields: []string{"LastName"},
		Where: crm.Contains("LastName", strings.Repeat("x", 4000))}}); err != nil {
		t.Errorf("a 4,000-character Contains: %v", err)
	}
}

// routeLog lists the org's requests on routes that start with prefix, as
// "METHOD route status".
func routeLog(srv *salesforcetest.Server, prefix string) []string {
	var out []string
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r.Route, prefix) {
			out = append(out, fmt.Sprint(r.Method, " ", r.Route, " ", r.Status))
		}
	}
	return out
}

// An ingest job that fails before UploadComplete is aborted before it is
// deleted, so that no job is left open (or, once complete, undeletable).
func TestFailedBulkJobIsAborted(t *testing.T) {
	ws := []crm.Write{{Op: crm.OpCreate, Fields: crm.Fields{"LastName": "Aborted"}}, {Op: crm.OpCreate, Fields: crm.Fields{"LastName": "Too"}}}
	t.Run("upload fails", func(t *testing.T) {
		srv, d, _ := setup(t, nil, salesforce.WithBulkPollInterval(time.Millisecond))
		srv.Inject("bulk.ingest.upload", 1, salesforcetest.StatusFault(http.StatusBadRequest, "INVALIDBATCH", "bad upload"))
		rs, err := d.BulkWrite(t.Context(), crm.WriteRequest{Object: "Contact", Writes: ws})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			if r.Err == nil {
				t.Errorf("write %d succeeded", i)
			}
		}
		want := []string{"POST bulk.ingest 200", "PUT bulk.ingest.upload 400", "PATCH bulk.ingest.job 200", "DELETE bulk.ingest.job 204"}
		if got := routeLog(srv, "bulk."); !slicesEqual(got, want) {
			t.Errorf("requests %q, want %q", got, want)
		}
	})
	t.Run("UploadComplete answer lost", func(t *testing.T) {
		srv, d, _ := setup(t, nil, salesforce.WithBulkPollInterval(time.Millisecond))
		srv.Inject("bulk.ingest.job", 1, salesforcetest.StatusFault(http.StatusBadRequest, "INVALIDJOBSTATE", "lost").AfterWork())
		if _, err := d.BulkWrite(t.Context(), crm.WriteRequest{Object: "Contact", Writes: ws}); err != nil {
			t.Fatal(err)
		}
		got := routeLog(srv, "bulk.ingest.job")
		want := []string{"PATCH bulk.ingest.job 400", "PATCH bulk.ingest.job 200", "DELETE bulk.ingest.job 204"}
		if !slicesEqual(got, want) {
			t.Errorf("requests %q, want %q (the job must be aborted, then deleted)", got, want)
		}
	})
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// An answer that does not decode by the describe is not retryable (the
// same request gets the same answer), and the cached describe is dropped.
func TestBadAnswerIsNotRetryable(t *testing.T) {
	srv := salesforcetest.New(t, contactFields)
	ids, err := srv.Seed("Contact", crm.Fields{"LastName": "Garbled", "Score__c": crm.NewDecimal(150, 2)})
	if err != nil {
		t.Fatal(err)
	}
	score := regexp.MustCompile(`"Score__c":[0-9.]+`)
	d := editingProxy(t, srv, func(r *http.Request, _ http.Header, body []byte) []byte {
		if strings.HasSuffix(r.URL.Path, "/sobjects/Contact/"+ids[0]) {
			return score.ReplaceAll(body, []byte(`"Score__c":"one and a half"`))
		}
		return body
	})
	_, err = d.Get(t.Context(), crm.GetRequest{Object: "Contact", ID: ids[0]})
	wantKind(t, err, crm.KindInvalidRequest)
	if crm.IsRetryable(err) {
		t.Errorf("a bad answer is retryable: %v", err)
	}
	before := srv.Count("describe")
	_, _ = d.Get(t.Context(), crm.GetRequest{Object: "Contact", ID: ids[0]})
	if n := srv.Count("describe"); n != before+1 {
		t.Errorf("after a bad answer the driver described Contact %d more times, want 1 (the cache dropped)", n-before)
	}
}

// A native query is decoded by each record's attributes.type, not by
// Query.Object.
func TestNativeQueryDecodesByRecordType(t *testing.T) {
	srv := salesforcetest.New(t, contactFields, salesforcetest.WithObject(salesforcetest.Object{Name: "Gauge__c",
		Fields: []salesforcetest.Field{{Name: "Score__c", Type: "string"}}}))
	if _, err := srv.Seed("Gauge__c", crm.Fields{"Score__c": "high"}); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, srv)
	p, err := d.Query(t.Context(), crm.QueryRequest{Query: crm.Query{Object: "Contact", Native: "SELECT Id, Score__c FROM Gauge__c"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 1 || p.Records[0].Object != "Gauge__c" || p.Records[0].Fields["Score__c"] != "high" {
		t.Errorf("records %+v", p.Records)
	}
}

// Bulk query loose ends: a native bulk query names its object before a
// job starts; the job is deleted after its last page; a locator crmkit
// cannot carry is refused when it comes, not on the next call.
func TestBulkQueryLooseEnds(t *testing.T) {
	srv, d, _ := setup(t, nil, salesforce.WithBulkPollInterval(time.Millisecond))
	if _, err := srv.Seed("Contact", crm.Fields{"LastName": "A"}, crm.Fields{"LastName": "B"}, crm.Fields{"LastName": "C"}); err != nil {
		t.Fatal(err)
	}
	_, err := d.BulkQuery(t.Context(), crm.QueryRequest{Query: crm.Query{Native: "SELECT Id FROM Contact WHERE LastName = 'nobody'"}})
	wantKind(t, err, crm.KindInvalidRequest)
	if n := srv.Count("bulk.query"); n != 0 {
		t.Errorf("a native bulk query without Object started %d jobs", n)
	}

	q := crm.Query{Object: "Contact", Fields: []string{"LastName"}}
	p, err := d.BulkQuery(t.Context(), crm.QueryRequest{Query: q, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.NextCursor == "" || len(p.Records) != 2 {
		t.Fatalf("first page: %d records, cursor %q", len(p.Records), p.NextCursor)
	}
	if got := routeLog(srv, "bulk.query.job"); strings.Contains(strings.Join(got, ","), "DELETE") {
		t.Errorf("the job was deleted before its last page: %q", got)
	}
	p, err = d.BulkQuery(t.Context(), crm.QueryRequest{Query: q, Cursor: p.NextCursor, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.NextCursor != "" || len(p.Records) != 1 {
		t.Fatalf("last page: %d records, cursor %q", len(p.Records), p.NextCursor)
	}
	got := routeLog(srv, "bulk.query.job")
	if len(got) == 0 || got[len(got)-1] != "DELETE bulk.query.job 204" {
		t.Errorf("requests %q, want the job deleted after its last page", got)
	}

	odd := editingProxy(t, srv, func(r *http.Request, h http.Header, body []byte) []byte {
		if h.Get("Sforce-Locator") != "" && h.Get("Sforce-Locator") != "null" {
			h.Set("Sforce-Locator", "abc:def/../x")
		}
		return body
	})
	_, err = odd.BulkQuery(t.Context(), crm.QueryRequest{Query: q, PageSize: 2})
	ce := wantKind(t, err, crm.KindInvalidRequest)
	if ce != nil && !strings.Contains(ce.Message, "Sforce-Locator") {
		t.Errorf("error %v, want one about the locator", err)
	}
}

// Changes refuses a SOQL URI longer than Salesforce takes, before sending
// it, and says to narrow Fields.
func TestChangesURILimit(t *testing.T) {
	fields := make([]salesforcetest.Field, 600)
	names := make([]string, len(fields))
	for i := range fields {
		names[i] = fmt.Sprintf("Long_Field_Name_Number_%03d__c", i)
		fields[i] = salesforcetest.Field{Name: names[i], Type: "string"}
	}
	srv := salesforcetest.New(t, salesforcetest.WithObject(salesforcetest.Object{Name: "Wide__c", Fields: fields}))
	d := newDriver(t, srv)
	_, err := d.Changes(t.Context(), crm.ChangesRequest{Object: "Wide__c", Fields: names})
	ce := wantKind(t, err, crm.KindInvalidRequest)
	if ce != nil && !strings.Contains(ce.Message, "Fields") {
		t.Errorf("error %v, want one asking to narrow Fields", err)
	}
	if n := srv.Count("queryAll"); n != 0 {
		t.Errorf("the over-long query was sent (%d requests)", n)
	}
	if _, err := d.Changes(t.Context(), crm.ChangesRequest{Object: "Wide__c", Fields: names[:10]}); err != nil {
		t.Errorf("a narrow change feed: %v", err)
	}
}

// A bulk write whose CSV would pass the upload limit is split over several
// ingest jobs, each under the limit, with every job's results mapped back
// to its own writes; a job that fails fails only its writes.
func TestBulkWriteSplitsLargeUploads(t *testing.T) {
	srv, d, _ := setup(t, nil, salesforce.WithBulkPollInterval(time.Millisecond))
	const limit = 300
	salesforce.SetBulkUploadLimit(d, limit)
	ws := make([]crm.Write, 40)
	for i := range ws {
		ws[i] = crm.Write{Op: crm.OpCreate, Fields: crm.Fields{"LastName": fmt.Sprintf("Split-%02d", i)}}
	}
	ws[5].Fields["Title"] = strings.Repeat("t", 400) // a row longer than the limit goes in a job of its own
	srv.Inject("bulk.ingest.upload", 1, salesforcetest.StatusFault(http.StatusBadRequest, "INVALIDBATCH", "bad upload"))
	rs, err := d.BulkWrite(t.Context(), crm.WriteRequest{Object: "Contact", Writes: ws})
	if err != nil {
		t.Fatal(err)
	}
	jobs := srv.Count("bulk.ingest")
	if jobs < 4 {
		t.Fatalf("%d ingest jobs, want the write split over several", jobs)
	}
	over := 0
	for _, r := range srv.Requests() {
		if r.Route == "bulk.ingest.upload" && atoi(t, r.Header.Get("Content-Length")) > limit {
			over++
		}
	}
	if over != 1 {
		t.Errorf("%d uploads over the %d-byte limit, want 1 (the job of the one row longer than it)", over, limit)
	}
	failed := 0
	for i, r := range rs {
		if r.Err != nil {
			failed++
			if i > 10 {
				t.Errorf("write %d failed (%v), but the failed upload was the first job's", i, r.Err)
			}
			continue
		}
		f, _, ok := srv.Get("Contact", r.ID)
		if !ok || !r.Created || f["LastName"] != ws[i].Fields["LastName"] {
			t.Errorf("write %d: result %+v, stored %v", i, r, f)
		}
	}
	if failed == 0 || failed == len(ws) {
		t.Errorf("%d writes failed, want those of the first job only", failed)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
