package salesforcetest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// wire is a raw REST client, as a client in another language would be.
type wire struct {
	t     *testing.T
	s     *Server
	token string
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", a.status, err, a.body)
	}
}

// errors decodes Salesforce's error array.
func (a answer) errors(t *testing.T) []restError {
	t.Helper()
	var errs []restError
	a.json(t, &errs)
	return errs
}

func newWire(t *testing.T, opts ...Option) *wire {
	s := New(t, opts...)
	return &wire{t: t, s: s, token: s.Token()}
}

func (w *wire) do(method, path, body string, header ...string) answer {
	w.t.Helper()
	req, err := http.NewRequest(method, w.s.URL+path, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := w.s.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

const v = "/services/data/v63.0"

func q(soql string) string { return "?q=" + url.QueryEscape(soql) }

func wantError(t *testing.T, a answer, status int, code string) restError {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d (%s), want %d %s", a.status, a.body, status, code)
	}
	if ct := a.header.Get("Content-Type"); ct != jsonContentType {
		t.Errorf("Content-Type %q", ct)
	}
	errs := a.errors(t)
	if len(errs) == 0 || errs[0].ErrorCode != code {
		t.Fatalf("errors %+v, want %s", errs, code)
	}
	return errs[0]
}

func TestIDs(t *testing.T) {
	if got := checksum("001D000000IqhSL"); got != "IAZ" {
		t.Errorf("checksum(001D000000IqhSL) = %s, want IAZ", got)
	}
	id := makeID("003", 12345)
	if len(id) != 18 || id[:3] != "003" {
		t.Fatalf("makeID = %q", id)
	}
	for _, in := range []string{id, id[:15], strings.ToLower(id), strings.ToUpper(id[:15]) + id[15:]} {
		got, ok := canonicalID(in)
		if in == strings.ToUpper(id[:15])+id[15:] {
			// Upper-casing the 15 characters contradicts the checksum for digits only,
			// which the checksum restores.
		}
		if in == id[:15] || in == id || in == strings.ToLower(id) {
			if !ok || got != id {
				t.Errorf("canonicalID(%q) = %q, %v; want %q", in, got, ok, id)
			}
		}
	}
	if _, ok := canonicalID("003Dm00000000AB!"); ok {
		t.Error("an id with punctuation was accepted")
	}
	if a, b := makeID("001", 61), makeID("001", 62); a >= b {
		t.Errorf("ids do not sort in issue order: %s >= %s", a, b)
	}
}

func TestVersionsAndAuth(t *testing.T) {
	w := newWire(t)
	w.token = ""
	a := w.do("GET", "/services/data/", "")
	var versions []struct{ Label, URL, Version string }
	a.json(t, &versions)
	if a.status != 200 || len(versions) == 0 || a.header.Get("Sforce-Limit-Info") != "" {
		t.Fatalf("versions: %d %s (limit info %q)", a.status, a.body, a.header.Get("Sforce-Limit-Info"))
	}
	last := versions[len(versions)-1]
	if last.Version != "67.0" || last.Label != "Summer '26" || last.URL != "/services/data/v67.0" {
		t.Errorf("latest version %+v", last)
	}
	if got := releaseLabel("63.0"); got != "Spring '25" {
		t.Errorf("63.0 is %q", got)
	}
	wantError(t, w.do("GET", v+"/sobjects", ""), 401, "INVALID_SESSION_ID")
	w.token = "00Dx!forged"
	wantError(t, w.do("GET", v+"/sobjects", ""), 401, "INVALID_SESSION_ID")
	w.token = w.s.Token()
	wantError(t, w.do("GET", "/services/data/v20.0/sobjects", ""), 404, "NOT_FOUND")
	a = w.do("GET", v+"/sobjects/", "")
	var global struct {
		MaxBatchSize int `json:"maxBatchSize"`
		SObjects     []struct {
			Name, KeyPrefix string
		} `json:"sobjects"`
	}
	a.json(t, &global)
	if a.status != 200 || global.MaxBatchSize != 200 || len(global.SObjects) != 5 {
		t.Errorf("describe-global: %d %+v", a.status, global)
	}
	if got := a.header.Get("Sforce-Limit-Info"); got != "api-usage=1/15000" {
		t.Errorf("Sforce-Limit-Info %q", got)
	}
	if a.header.Get("X-Sfdc-Request-Id") == "" {
		t.Error("no request id")
	}
	// An expired session, then the new token.
	old := w.s.Token()
	w.s.ExpireSession()
	wantError(t, w.do("GET", v+"/limits", ""), 401, "INVALID_SESSION_ID")
	if w.token = w.s.Token(); w.token == old {
		t.Fatal("ExpireSession did not issue a new token")
	}
	if a := w.do("GET", v+"/limits", ""); a.status != 200 {
		t.Errorf("limits with the new token: %d", a.status)
	}
}

func TestDailyAllocation(t *testing.T) {
	w := newWire(t, WithDailyLimit(3))
	for i := 1; i <= 3; i++ {
		a := w.do("GET", v+"/limits", "")
		if a.status != 200 || a.header.Get("Sforce-Limit-Info") != fmt.Sprintf("api-usage=%d/3", i) {
			t.Fatalf("call %d: %d %q", i, a.status, a.header.Get("Sforce-Limit-Info"))
		}
	}
	e := wantError(t, w.do("GET", v+"/limits", ""), 403, "REQUEST_LIMIT_EXCEEDED")
	if e.Message != "TotalRequests Limit exceeded." {
		t.Errorf("message %q", e.Message)
	}
	if used, max := w.s.DailyUsage(); used != 3 || max != 3 {
		t.Errorf("usage %d/%d", used, max)
	}
	w.s.SetDailyLimit(0)
	if a := w.do("GET", v+"/limits", ""); a.status != 200 {
		t.Errorf("unlimited: %d", a.status)
	}
}

func TestRowsLifecycle(t *testing.T) {
	w := newWire(t, WithFields("Contact", Field{Name: "Ext__c", Type: "string", ExternalID: true}))
	a := w.do("POST", v+"/sobjects/Contact/", `{"attributes":{"type":"Contact"},"LastName":"Lovelace","Email":"ada@example.com","Ext__c":"A-1"}`)
	var created struct {
		ID      string `json:"id"`
		Success bool   `json:"success"`
		Errors  []any  `json:"errors"`
	}
	a.json(t, &created)
	if a.status != 201 || !created.Success || created.Errors == nil || len(created.ID) != 18 || created.ID[:3] != "003" {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	id := created.ID

	a = w.do("GET", v+"/sobjects/Contact/"+strings.ToLower(id)+"?fields=LastName,Email,SystemModstamp", "")
	var rec map[string]any
	a.json(t, &rec)
	if a.status != 200 || rec["Id"] != id || rec["LastName"] != "Lovelace" || rec["attributes"] == nil {
		t.Fatalf("get: %d %s", a.status, a.body)
	}
	stamp, _ := rec["SystemModstamp"].(string)
	if _, err := time.Parse("2006-01-02T15:04:05.000-0700", stamp); err != nil || !strings.HasSuffix(stamp, "+0000") {
		t.Errorf("SystemModstamp %q is not Salesforce's format", stamp)
	}
	if a := w.do("PATCH", v+"/sobjects/Contact/"+id[:15], `{"FirstName":"Ada","attributes":{"type":"Contact"}}`); a.status != 204 || len(a.body) != 0 {
		t.Fatalf("update: %d %s", a.status, a.body)
	}
	a = w.do("GET", v+"/sobjects/Contact/Ext__c/A-1", "")
	a.json(t, &rec)
	if rec["Name"] != "Ada Lovelace" || rec["LastModifiedDate"] == nil || rec["OwnerId"] != w.s.UserID() || rec["IsDeleted"] != false {
		t.Errorf("computed fields: Name %v LastModifiedDate %v OwnerId %v IsDeleted %v", rec["Name"], rec["LastModifiedDate"], rec["OwnerId"], rec["IsDeleted"])
	}

	// Upsert: 201 created, 200 updated, 300 when the key matches several.
	a = w.do("PATCH", v+"/sobjects/Contact/Ext__c/B-2", `{"LastName":"Byron"}`)
	if a.status != 201 || !strings.Contains(string(a.body), `"created":true`) {
		t.Errorf("upsert insert: %d %s", a.status, a.body)
	}
	a = w.do("PATCH", v+"/sobjects/Contact/Ext__c/b-2", `{"Title":"Poet"}`)
	if a.status != 200 || !strings.Contains(string(a.body), `"created":false`) {
		t.Errorf("upsert update: %d %s", a.status, a.body)
	}
	if a := w.do("PATCH", "/services/data/v45.0/sobjects/Contact/Ext__c/B-2", `{"Title":"Lord"}`); a.status != 204 {
		t.Errorf("upsert update before v46: %d, want 204", a.status)
	}
	w.do("POST", v+"/sobjects/Contact", `{"LastName":"Twin","Ext__c":"DUP"}`)
	w.do("POST", v+"/sobjects/Contact", `{"LastName":"Twin","Ext__c":"DUP"}`)
	a = w.do("PATCH", v+"/sobjects/Contact/Ext__c/DUP", `{"Title":"x"}`)
	var urls []string
	a.json(t, &urls)
	if a.status != 300 || len(urls) != 2 || !strings.HasPrefix(urls[0], v+"/sobjects/Contact/003") {
		t.Errorf("upsert of a shared key: %d %s", a.status, a.body)
	}
	wantError(t, w.do("PATCH", v+"/sobjects/Contact/Email/x@y.z", `{}`), 404, "NOT_FOUND")

	if a := w.do("DELETE", v+"/sobjects/Contact/"+id, ""); a.status != 204 {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	wantError(t, w.do("GET", v+"/sobjects/Contact/"+id, ""), 404, "NOT_FOUND")
	e := wantError(t, w.do("PATCH", v+"/sobjects/Contact/"+id, `{"Title":"x"}`), 404, "ENTITY_IS_DELETED")
	if e.Message != "entity is deleted" {
		t.Errorf("message %q", e.Message)
	}
	wantError(t, w.do("DELETE", v+"/sobjects/Contact/001Dm0000000001IAA", ""), 400, "MALFORMED_ID")
	wantError(t, w.do("GET", v+"/sobjects/Contact/not-an-id", ""), 404, "NOT_FOUND")
	wantError(t, w.do("GET", v+"/sobjects/Nope__c/describe", ""), 404, "NOT_FOUND")
	a = w.do("PUT", v+"/sobjects/Contact/"+id, `{}`)
	wantError(t, a, 405, "METHOD_NOT_ALLOWED")
	if a.header.Get("Allow") == "" {
		t.Error("405 without Allow")
	}
	wantError(t, w.do("POST", v+"/sobjects/Contact", `{"LastName":`), 400, "JSON_PARSER_ERROR")

	// A gzip body, as go-salesforce sends.
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write([]byte(`{"LastName":"Zipped"}`))
	_ = zw.Close()
	a = w.do("POST", v+"/sobjects/Contact", zb.String(), "Content-Encoding", "gzip")
	if a.status != 201 {
		t.Errorf("gzip create: %d %s", a.status, a.body)
	}
}

// The validation errors carry Salesforce's codes, messages and fields.
func TestValidationBodies(t *testing.T) {
	w := newWire(t)
	cases := []struct {
		name, body, code, msg string
		fields                []string
	}{
		{"required", `{"FirstName":"x"}`, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", []string{"LastName"}},
		{"length", `{"LastName":"` + strings.Repeat("é", 81) + `"}`, "STRING_TOO_LONG", "Last Name: data value too large: ", []string{"LastName"}},
		{"picklist", `{"LastName":"x","Salutation":"Sir"}`, "", "", nil}, // unrestricted: accepted
		{"read-only", `{"LastName":"x","CreatedDate":"2024-01-01T00:00:00Z","Name":"y"}`, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: CreatedDate, Name.", []string{"CreatedDate", "Name"}},
		{"unknown", `{"LastName":"x","Foo__c":1}`, "INVALID_FIELD", "No such column 'Foo__c' on sobject of type Contact", []string{"Foo__c"}},
		{"type", `{"LastName":"x","Birthdate":"yesterday"}`, "JSON_PARSER_ERROR", "Cannot deserialize instance of date from VALUE_STRING value yesterday", nil},
		{"email", `{"LastName":"x","Email":"not-an-address"}`, "INVALID_EMAIL_ADDRESS", "Email: invalid email address: not-an-address", []string{"Email"}},
		{"lookup", `{"LastName":"x","AccountId":"003Dm0000000001IAA"}`, "MALFORMED_ID", "Account ID: id value of incorrect type: 003Dm0000000001IAA", []string{"AccountId"}},
		{"missing lookup", `{"LastName":"x","AccountId":"001Dm0000000009IAA"}`, "INVALID_CROSS_REFERENCE_KEY", "Account ID: invalid cross reference id", []string{"AccountId"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := w.do("POST", v+"/sobjects/Contact", c.body)
			if c.code == "" {
				if a.status != 201 {
					t.Fatalf("%d %s, want 201", a.status, a.body)
				}
				return
			}
			e := wantError(t, a, 400, c.code)
			if !strings.HasPrefix(e.Message, c.msg) {
				t.Errorf("message %q, want it to start %q", e.Message, c.msg)
			}
			if strings.Join(e.Fields, ",") != strings.Join(c.fields, ",") {
				t.Errorf("fields %q, want %q", e.Fields, c.fields)
			}
		})
	}
	// A restricted picklist and a required one.
	a := w.do("POST", v+"/sobjects/Opportunity", `{"Name":"Deal","CloseDate":"2026-12-01","StageName":"Won-ish"}`)
	e := wantError(t, a, 400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
	if e.Message != "Stage: bad value for restricted picklist field: Won-ish" || e.Fields[0] != "StageName" {
		t.Errorf("picklist error %+v", e)
	}
	if a := w.do("POST", v+"/sobjects/Lead", `{"LastName":"x","Company":"y"}`); a.status != 201 {
		t.Fatalf("lead: %d %s", a.status, a.body)
	}
	// A unique field.
	w.do("POST", v+"/sobjects/User", `{"Username":"u@x.co","LastName":"U","Email":"u@x.co","Alias":"u","TimeZoneSidKey":"GMT","LocaleSidKey":"en_US","EmailEncodingKey":"UTF-8","LanguageLocaleKey":"en_US","ProfileId":"00eDm0000000001IAA"}`)
	a = w.do("POST", v+"/sobjects/User", `{"Username":"U@X.CO","LastName":"U","Email":"u@x.co","Alias":"u","TimeZoneSidKey":"GMT","LocaleSidKey":"en_US","EmailEncodingKey":"UTF-8","LanguageLocaleKey":"en_US","ProfileId":"00eDm0000000001IAA"}`)
	e = wantError(t, a, 400, "DUPLICATE_VALUE")
	if !strings.HasPrefix(e.Message, "duplicate value found: Username duplicates value on record with id: 005") {
		t.Errorf("duplicate message %q", e.Message)
	}
}

func TestCollections(t *testing.T) {
	w := newWire(t, WithFields("Account", Field{Name: "Ext__c", Type: "string", ExternalID: true, Unique: true}))
	a := w.do("POST", v+"/composite/sobjects", `{"allOrNone":false,"records":[
		{"attributes":{"type":"Account"},"Name":"A"},
		{"attributes":{"type":"Account"},"Name":""},
		{"attributes":{"type":"Contact"},"LastName":"C"}]}`)
	var res []struct {
		ID      string     `json:"id"`
		Success bool       `json:"success"`
		Created *bool      `json:"created"`
		Errors  []dmlError `json:"errors"`
	}
	a.json(t, &res)
	if a.status != 200 || len(res) != 3 || !res[0].Success || res[1].Success || !res[2].Success || res[2].ID[:3] != "003" {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	if e := res[1].Errors[0]; e.StatusCode != "REQUIRED_FIELD_MISSING" || e.Fields[0] != "Name" {
		t.Errorf("record error %+v", e)
	}
	acc := res[0].ID

	// Update with a lower-case id key, as some clients send it.
	a = w.do("PATCH", v+"/composite/sobjects", `{"records":[{"attributes":{"type":"Account"},"id":"`+acc+`","Website":"https://a.example"},
		{"attributes":{"type":"Account"},"id":"001Dm0000000099IAA","Name":"ghost"}]}`)
	a.json(t, &res)
	if !res[0].Success || res[1].Success || res[1].Errors[0].StatusCode != "INVALID_CROSS_REFERENCE_KEY" {
		t.Errorf("update: %s", a.body)
	}

	// Upsert: created flags, and a key twice in one call.
	a = w.do("PATCH", v+"/composite/sobjects/Account/Ext__c", `{"allOrNone":false,"records":[
		{"attributes":{"type":"Account"},"Ext__c":"K1","Name":"One"},
		{"attributes":{"type":"Account"},"Ext__c":"K2","Name":"Two"},
		{"attributes":{"type":"Account"},"Ext__c":"K2","Name":"Two again"}]}`)
	a.json(t, &res)
	if !res[0].Success || res[0].Created == nil || !*res[0].Created || res[1].Success || res[1].Errors[0].StatusCode != "DUPLICATE_EXTERNAL_ID" {
		t.Errorf("upsert: %s", a.body)
	}
	a = w.do("PATCH", v+"/composite/sobjects/Account/Ext__c", `{"records":[{"attributes":{"type":"Account"},"Ext__c":"k1","Name":"One!"}]}`)
	a.json(t, &res)
	if !res[0].Success || *res[0].Created {
		t.Errorf("upsert update: %s", a.body)
	}

	// allOrNone: nothing is written when one record fails.
	a = w.do("POST", v+"/composite/sobjects", `{"allOrNone":true,"records":[
		{"attributes":{"type":"Account"},"Name":"Kept?"},{"attributes":{"type":"Account"}}]}`)
	a.json(t, &res)
	if res[0].Success || res[0].Errors[0].StatusCode != "ALL_OR_NONE_OPERATION_ROLLED_BACK" || res[1].Errors[0].StatusCode != "REQUIRED_FIELD_MISSING" {
		t.Errorf("allOrNone: %s", a.body)
	}
	if a := w.do("GET", v+"/query"+q("SELECT Id FROM Account WHERE Name = 'Kept?'"), ""); !strings.Contains(string(a.body), `"totalSize":0`) {
		t.Errorf("allOrNone wrote a record: %s", a.body)
	}

	// An unreadable record fails the whole call.
	wantError(t, w.do("POST", v+"/composite/sobjects", `{"records":[{"attributes":{"type":"Account"},"Name":"x","NumberOfEmployees":"many"}]}`), 400, "JSON_PARSER_ERROR")

	// More than 200 records.
	var many []string
	for i := range 201 {
		many = append(many, fmt.Sprintf(`{"attributes":{"type":"Account"},"Name":"N%d"}`, i))
	}
	wantError(t, w.do("POST", v+"/composite/sobjects", `{"records":[`+strings.Join(many, ",")+`]}`), 400, "EXCEEDED_ID_LIMIT")

	// Retrieve and delete.
	a = w.do("GET", v+"/composite/sobjects/Account?ids="+acc+",001Dm0000000099IAA&fields=Name,Website", "")
	var got []map[string]any
	a.json(t, &got)
	if len(got) != 2 || got[0]["Website"] != "https://a.example" || got[1] != nil {
		t.Errorf("retrieve: %s", a.body)
	}
	a = w.do("DELETE", v+"/composite/sobjects?ids="+acc+",bogus&allOrNone=false", "")
	a.json(t, &res)
	if !res[0].Success || res[1].Success || res[1].Errors[0].StatusCode != "MALFORMED_ID" {
		t.Errorf("delete: %s", a.body)
	}
	a = w.do("DELETE", v+"/composite/sobjects?ids="+acc, "")
	a.json(t, &res)
	if res[0].Success || res[0].Errors[0].StatusCode != "ENTITY_IS_DELETED" {
		t.Errorf("delete again: %s", a.body)
	}
}

func TestQueryPagingAndQueryAll(t *testing.T) {
	w := newWire(t)
	var recs []crm.Fields
	for i := range 450 {
		recs = append(recs, crm.Fields{"Name": fmt.Sprintf("Acct %03d", i), "NumberOfEmployees": int64(i)})
	}
	ids, err := w.s.Seed("Account", recs...)
	if err != nil {
		t.Fatal(err)
	}
	type page struct {
		TotalSize      int              `json:"totalSize"`
		Done           bool             `json:"done"`
		NextRecordsURL string           `json:"nextRecordsUrl"`
		Records        []map[string]any `json:"records"`
	}
	var p page
	// '+' for spaces, as Go clients send.
	a := w.do("GET", v+"/query/?q=SELECT+Id,+Name+FROM+Account+WHERE+NumberOfEmployees+>=+50+ORDER+BY+Name+DESC", "", "Sforce-Query-Options", "batchSize=150")
	a.json(t, &p)
	if a.status != 200 || p.TotalSize != 400 || p.Done || len(p.Records) != 200 || p.Records[0]["Name"] != "Acct 449" {
		t.Fatalf("first page: %d total %d done %v records %d first %v", a.status, p.TotalSize, p.Done, len(p.Records), p.Records[0]["Name"])
	}
	first := p.NextRecordsURL
	loc := first[strings.LastIndexByte(first, '/')+1:]
	if !strings.HasPrefix(first, v+"/query/01g") || strings.Contains(loc, "/") || !strings.HasSuffix(loc, "-200") {
		t.Errorf("nextRecordsUrl %q", first)
	}
	// Served under /queryAll/ too, and by another version, as jsforce rebuilds it.
	a = w.do("GET", "/services/data/v60.0/queryAll/"+loc, "")
	a.json(t, &p)
	if !p.Done || len(p.Records) != 200 || p.Records[199]["Name"] != "Acct 050" {
		t.Fatalf("second page: done %v records %d", p.Done, len(p.Records))
	}
	again := w.do("GET", first, "")
	if again.status != 200 {
		t.Errorf("following a locator twice: %d", again.status)
	}
	wantError(t, w.do("GET", v+"/query/01gDm00000000zzAAA-200", ""), 400, "INVALID_QUERY_LOCATOR")

	// Deleted rows only through queryAll, with IsDeleted.
	if a := w.do("DELETE", v+"/sobjects/Account/"+ids[7], ""); a.status != 204 {
		t.Fatal(a.status)
	}
	a = w.do("GET", v+"/query"+q("SELECT Id FROM Account WHERE Name = 'Acct 007'"), "")
	a.json(t, &p)
	if p.TotalSize != 0 {
		t.Errorf("query sees a deleted row: %s", a.body)
	}
	a = w.do("GET", v+"/queryAll"+q("SELECT Id, IsDeleted FROM Account WHERE Name = 'Acct 007' AND IsDeleted = true"), "")
	a.json(t, &p)
	if p.TotalSize != 1 || p.Records[0]["IsDeleted"] != true {
		t.Errorf("queryAll: %s", a.body)
	}
	a = w.do("GET", v+"/sobjects/Account/deleted/?start="+url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339))+"&end="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), "")
	var del struct {
		DeletedRecords []struct{ ID string } `json:"deletedRecords"`
	}
	a.json(t, &del)
	if a.status != 200 {
		t.Errorf("getDeleted: %d %s", a.status, a.body)
	}
	a = w.do("GET", v+"/sobjects/Account/updated/?start="+url.QueryEscape(time.Now().Add(-40*24*time.Hour).Format(time.RFC3339))+"&end="+url.QueryEscape(time.Now().Format(time.RFC3339)), "")
	wantError(t, a, 400, "INVALID_REPLICATION_DATE")

	// COUNT(), LIMIT and OFFSET, LIKE patterns, IN, NOT, date literals.
	for _, c := range []struct {
		soql string
		n    int
	}{
		{"SELECT COUNT() FROM Account WHERE NumberOfEmployees < 10", 9}, // Acct 007 is deleted
		{"SELECT Id FROM Account ORDER BY NumberOfEmployees LIMIT 5 OFFSET 10", 5},
		{"SELECT Id FROM Account WHERE Name LIKE 'acct 04_'", 10},
		{"SELECT Id FROM Account WHERE Name LIKE '%44%' AND NumberOfEmployees > 400", 10},
		{"SELECT Id FROM Account WHERE Name LIKE 'Acct 1%' AND (NumberOfEmployees = 100 OR NumberOfEmployees IN (101, 102))", 3},
		{"SELECT Id FROM Account WHERE NOT Name IN ('Acct 000', 'Acct 001') AND NumberOfEmployees < 5", 3},
		{"SELECT Id FROM Account WHERE Name NOT IN ('Acct 000') AND NumberOfEmployees < 5", 4},
		{"SELECT Id FROM Account WHERE CreatedDate = TODAY AND NumberOfEmployees < 3", 3},
		{"SELECT Id FROM Account WHERE CreatedDate < YESTERDAY", 0},
		{"SELECT Id FROM Account WHERE Website = null AND NumberOfEmployees <= 1", 2},
		{"SELECT Id FROM Account WHERE LastModifiedDate > 2020-01-01T00:00:00Z AND NumberOfEmployees = 3", 1},
		{"SELECT Id FROM Account WHERE Name = 'Acct\\_003'", 0},
	} {
		a := w.do("GET", v+"/query"+q(c.soql), "")
		a.json(t, &p)
		if a.status != 200 || p.TotalSize != c.n {
			t.Errorf("%s: %d totalSize %d, want %d (%s)", c.soql, a.status, p.TotalSize, c.n, a.body)
		}
	}
}

// The SOQL errors a client's bugs cause: the code, and the caret message.
func TestQueryErrors(t *testing.T) {
	w := newWire(t)
	for _, c := range []struct{ soql, code, msg string }{
		{"SELECT Id FORM Account", "MALFORMED_QUERY", "unexpected token: FORM"},
		{"SELECT Id FROM Account WHERE Name = 'a\\q'", "MALFORMED_QUERY", `Illegal character sequence '\q'`},
		{"SELECT Id FROM Account WHERE Name = 'unterminated", "MALFORMED_QUERY", "mismatched character '<EOF>'"},
		{"SELECT Id FROM Account WHERE Name = 'a' AND Site = 'b' OR Phone = 'c'", "MALFORMED_QUERY", "unexpected token: OR"},
		{"SELECT Idd FROM Account", "INVALID_FIELD", "ERROR at Row:1:Column:8\nNo such column 'Idd' on entity 'Account'"},
		{"SELECT Id FROM Acount", "INVALID_TYPE", "sObject type 'Acount' is not supported"},
		{"SELECT Id FROM Account WHERE Description = 'x'", "INVALID_FIELD", "field 'Description' can not be filtered"},
		{"SELECT Id FROM Account WHERE NumberOfEmployees = '5'", "INVALID_FIELD", "must be of type int and should not be enclosed in quotes"},
		{"SELECT Id FROM Account WHERE Name = 5", "INVALID_FIELD", "must be of type string and should be enclosed in quotes"},
		{"SELECT Id FROM Account WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: abc"},
		{"SELECT Id, Id FROM Account", "INVALID_FIELD", "duplicate field selected: Id"},
		{"SELECT Id FROM Account ORDER BY Description", "INVALID_FIELD", "can not be sorted"},
	} {
		a := w.do("GET", v+"/query"+q(c.soql), "")
		e := wantError(t, a, 400, c.code)
		if !strings.Contains(e.Message, c.msg) {
			t.Errorf("%s: message %q, want it to contain %q", c.soql, e.Message, c.msg)
		}
	}
}

func TestDescribeShape(t *testing.T) {
	w := newWire(t, WithObject(Object{Name: "Invoice__c", Fields: []Field{{Name: "Amount__c", Type: "currency", Scale: 2, Required: true}}}))
	a := w.do("GET", v+"/sobjects/Invoice__c/describe", "")
	var d struct {
		Name      string `json:"name"`
		KeyPrefix string `json:"keyPrefix"`
		Custom    bool   `json:"custom"`
		Fields    []map[string]any
		URLs      map[string]string `json:"urls"`
	}
	a.json(t, &d)
	if a.status != 200 || !d.Custom || d.KeyPrefix != "a00" || d.URLs["rowTemplate"] != v+"/sobjects/Invoice__c/{ID}" {
		t.Fatalf("describe: %d %+v", a.status, d)
	}
	byName := map[string]map[string]any{}
	for _, f := range d.Fields {
		byName[f["name"].(string)] = f
	}
	amount := byName["Amount__c"]
	if amount["type"] != "currency" || amount["nillable"] != false || amount["createable"] != true || amount["custom"] != true || amount["scale"] != 2.0 || amount["soapType"] != "xsd:double" {
		t.Errorf("Amount__c %v", amount)
	}
	for _, name := range []string{"Id", "Name", "OwnerId", "IsDeleted", "CreatedDate", "SystemModstamp"} {
		if byName[name] == nil {
			t.Errorf("the custom object lacks %s", name)
		}
	}
	if byName["SystemModstamp"]["createable"] != false || byName["IsDeleted"]["updateable"] != false {
		t.Error("system fields are writable")
	}
	lm := a.header.Get("Last-Modified")
	if a := w.do("GET", v+"/sobjects/Invoice__c/describe", "", "If-Modified-Since", lm); a.status != 304 {
		t.Errorf("describe If-Modified-Since: %d", a.status)
	}
	if err := w.s.AddObject(Object{Name: "Plain"}); err == nil {
		t.Error("AddObject took a standard-looking name")
	}
}

func TestServerOptions(t *testing.T) {
	for _, c := range []struct {
		opts []Option
		want string
	}{
		{[]Option{WithDailyLimit(-1)}, "WithDailyLimit"},
		{[]Option{WithAPIVersions("sixty")}, "WithAPIVersions"},
		{[]Option{WithFields("Nope", Field{Name: "X__c", Type: "string"})}, "no such object"},
		{[]Option{WithObject(Object{Name: "Bad__c", Fields: []Field{{Name: "X__c", Type: "blob"}}})}, "has type \"blob\""},
		{[]Option{WithObject(Object{Name: "Bad__c", Fields: []Field{{Name: "R__c", Type: "reference"}}})}, "needs ReferenceTo"},
	} {
		if _, err := NewServer(c.opts...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewServer: %v, want an error containing %q", err, c.want)
		}
	}
}

func TestFaultsAreLoggedAndCounted(t *testing.T) {
	w := newWire(t)
	w.s.Inject("limits", 1, Unavailable())
	wantError(t, w.do("GET", v+"/limits", ""), 503, "SERVER_UNAVAILABLE")
	if a := w.do("GET", v+"/limits", ""); a.status != 200 {
		t.Fatalf("after the fault: %d", a.status)
	}
	reqs := w.s.Requests()
	if len(reqs) != 2 || reqs[0].Fault != "status 503" || reqs[0].Status != 503 || reqs[1].Fault != "" {
		t.Errorf("log %+v", reqs)
	}
	if w.s.Count("limits") != 2 || w.s.Total() != 2 {
		t.Errorf("counts %v", w.s.Counts())
	}
	if reqs[0].Header.Get("Authorization") != "[redacted]" {
		t.Error("the log holds the token")
	}
}

// The Bulk API 2.0 lifecycle as jsforce drives it: create, upload, close,
// poll, results.
func TestBulkIngestLifecycle(t *testing.T) {
	w := newWire(t)
	a := w.do("POST", v+"/jobs/ingest", `{"object":"Account","operation":"insert","contentType":"CSV","lineEnding":"LF","columnDelimiter":"PIPE"}`)
	var job struct {
		ID, State, ContentURL, ErrorMessage string
		NumberRecordsProcessed              int
		NumberRecordsFailed                 int
	}
	a.json(t, &job)
	if a.status != 200 || job.State != "Open" || !strings.HasPrefix(job.ID, "750") {
		t.Fatalf("create job: %d %s", a.status, a.body)
	}
	path := v + "/jobs/ingest/" + job.ID
	csvBody := "Name|NumberOfEmployees|Website\nAcme|10|\n|5|x\n\"Pipe|Co\"|#N/A|https://p.example\n"
	if a := w.do("PUT", path+"/batches", csvBody, "Content-Type", "text/csv"); a.status != 201 {
		t.Fatalf("upload: %d %s", a.status, a.body)
	}
	wantError(t, w.do("PUT", path+"/batches", csvBody, "Content-Type", "text/csv"), 400, "INVALIDJOBSTATE")
	wantError(t, w.do("GET", path+"/successfulResults", ""), 400, "INVALIDJOBSTATE")
	if a := w.do("PATCH", path, `{"state":"UploadComplete"}`); a.status != 200 || !strings.Contains(string(a.body), `"state":"UploadComplete"`) {
		t.Fatalf("close: %d %s", a.status, a.body)
	}
	var states []string
	for range 3 {
		w.do("GET", path, "").json(t, &job)
		states = append(states, job.State)
	}
	if strings.Join(states, ",") != "InProgress,JobComplete,JobComplete" || job.NumberRecordsProcessed != 3 || job.NumberRecordsFailed != 1 {
		t.Errorf("states %v, job %+v", states, job)
	}
	a = w.do("GET", path+"/successfulResults", "")
	lines := strings.Split(strings.TrimSpace(string(a.body)), "\n")
	if a.header.Get("Content-Type") != "text/csv" || len(lines) != 3 || lines[0] != "sf__Id|sf__Created|Name|NumberOfEmployees|Website" || !strings.Contains(lines[2], `"Pipe|Co"`) {
		t.Errorf("successful results:\n%s", a.body)
	}
	a = w.do("GET", path+"/failedResults", "")
	if !strings.Contains(string(a.body), "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --") {
		t.Errorf("failed results:\n%s", a.body)
	}
	if a := w.do("GET", path+"/unprocessedrecords", ""); strings.TrimSpace(string(a.body)) != "Name|NumberOfEmployees|Website" {
		t.Errorf("unprocessed: %s", a.body)
	}
	if a := w.do("DELETE", path, ""); a.status != 204 {
		t.Errorf("delete job: %d", a.status)
	}
	wantError(t, w.do("GET", path, ""), 404, "NOT_FOUND")

	// A header naming a field the object lacks fails the job.
	w.do("POST", v+"/jobs/ingest", `{"object":"Account","operation":"insert"}`).json(t, &job)
	path = v + "/jobs/ingest/" + job.ID
	w.do("PUT", path+"/batches", "Name,Nope__c\nx,y\n", "Content-Type", "text/csv")
	w.do("PATCH", path, `{"state":"UploadComplete"}`)
	w.do("GET", path, "")
	w.do("GET", path, "").json(t, &job)
	if job.State != "Failed" || job.ErrorMessage != "InvalidBatch : Field name not found : Nope__c" {
		t.Errorf("failed job %+v", job)
	}
	wantError(t, w.do("POST", v+"/jobs/ingest", `{"object":"Account","operation":"upsert","externalIdFieldName":"Name"}`), 400, "INVALIDJOB")
	wantError(t, w.do("POST", v+"/jobs/ingest", `{"object":"Account","operation":"merge"}`), 400, "INVALIDJOB")
}

func TestBulkQueryLifecycle(t *testing.T) {
	w := newWire(t)
	recs := make([]crm.Fields, 25)
	for i := range recs {
		recs[i] = crm.Fields{"Name": fmt.Sprintf("B%02d", i), "AnnualRevenue": crm.NewDecimal(int64(i), 0)}
	}
	if _, err := w.s.Seed("Account", recs...); err != nil {
		t.Fatal(err)
	}
	wantError(t, w.do("POST", v+"/jobs/query", `{"operation":"query","query":"SELECT Nope FROM Account"}`), 400, "INVALID_FIELD")
	var job struct{ ID, State string }
	w.do("POST", v+"/jobs/query", `{"operation":"query","query":"SELECT Name, AnnualRevenue, CreatedDate FROM Account WHERE AnnualRevenue >= 5"}`).json(t, &job)
	path := v + "/jobs/query/" + job.ID
	wantError(t, w.do("GET", path+"/results", ""), 400, "INVALIDJOBSTATE")
	for i := 0; job.State != "JobComplete"; i++ {
		if i > 3 {
			t.Fatalf("the query job is stuck in %s", job.State)
		}
		w.do("GET", path, "").json(t, &job)
	}
	var rows int
	loc := ""
	for pages := 0; ; pages++ {
		u := path + "/results?maxRecords=8"
		if loc != "" {
			u += "&locator=" + loc
		}
		a := w.do("GET", u, "", "Accept", "text/csv")
		lines := strings.Split(strings.TrimSpace(string(a.body)), "\n")
		if lines[0] != "Name,AnnualRevenue,CreatedDate" || !strings.HasSuffix(lines[1], "Z") {
			t.Fatalf("page %d:\n%s", pages, a.body)
		}
		if n := a.header.Get("Sforce-NumberOfRecords"); n != fmt.Sprint(len(lines)-1) {
			t.Errorf("Sforce-NumberOfRecords %s for %d rows", n, len(lines)-1)
		}
		rows += len(lines) - 1
		if loc = a.header.Get("Sforce-Locator"); loc == "null" {
			break
		}
	}
	if rows != 20 {
		t.Errorf("%d rows, want 20", rows)
	}
}

// The curl session of the package documentation, step by step, on a
// standalone server seeded from JSON.
func TestCurlSessionAndSeed(t *testing.T) {
	s, err := NewServer(WithAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.LoadSeed(strings.NewReader(`{"Account":[{"Name":"Acme","AnnualRevenue":1000000,"Industry":"Energy"}],
		"Contact":[{"LastName":"Hopper","Birthdate":"1906-12-09"}]}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.LoadSeed(strings.NewReader(`{"Nope":[{}]}`)); err == nil {
		t.Error("a seed for an unknown object loaded")
	}
	w := &wire{t: t, s: s, token: s.Token()}
	if a := w.do("GET", v+"/sobjects/Contact/describe", ""); a.status != 200 {
		t.Fatalf("describe: %d", a.status)
	}
	var created struct{ ID string }
	w.do("POST", v+"/sobjects/Contact", `{"LastName":"Lovelace"}`).json(t, &created)
	if a := w.do("PATCH", v+"/sobjects/Contact/"+created.ID, `{"FirstName":"Ada"}`); a.status != 204 {
		t.Fatalf("update: %d", a.status)
	}
	a := w.do("GET", v+"/query?q=SELECT%20Id,%20Name%20FROM%20Contact%20WHERE%20LastName%20=%20'Lovelace'", "")
	want := `{"totalSize":1,"done":true,"records":[{"attributes":{"type":"Contact","url":"/services/data/v63.0/sobjects/Contact/` + created.ID + `"},"Id":"` + created.ID + `","Name":"Ada Lovelace"}]}`
	if string(a.body) != want {
		t.Errorf("query:\n%s\nwant\n%s", a.body, want)
	}
	a = w.do("GET", v+"/query"+q("SELECT Name, AnnualRevenue FROM Account"), "")
	if !strings.Contains(string(a.body), `"Name":"Acme","AnnualRevenue":1000000`) {
		t.Errorf("seeded account: %s", a.body)
	}
}
