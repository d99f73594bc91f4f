package dynamicstest_test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
)

type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	return m
}

// call sends one request to the Web API; headers come in name, value pairs.
func call(t *testing.T, s *dynamicstest.Server, method, path, body string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.APIURL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func create(t *testing.T, s *dynamicstest.Server, set, body string) string {
	t.Helper()
	r := call(t, s, "POST", set, body, "Content-Type", "application/json")
	if r.status != 204 {
		t.Fatalf("POST %s: %d %s", set, r.status, r.body)
	}
	id := regexp.MustCompile(`\(([0-9a-f-]{36})\)$`).FindStringSubmatch(r.header.Get("OData-EntityId"))
	if id == nil {
		t.Fatalf("OData-EntityId %q", r.header.Get("OData-EntityId"))
	}
	return id[1]
}

func TestErrorBody(t *testing.T) {
	s := dynamicstest.New(t)
	const id = "00000000-0000-4000-8000-000000000001"
	r := call(t, s, "GET", "accounts("+id+")", "")
	want := `{"error":{"code":"0x80040217","message":"account With Id = ` + id + ` Does Not Exist"}}`
	if r.status != 404 || r.body != want {
		t.Errorf("got %d %s\nwant 404 %s", r.status, r.body, want)
	}
	if r.header.Get("OData-Version") != "4.0" || r.header.Get("REQ_ID") == "" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("headers %v", r.header)
	}
	r = call(t, s, "GET", "account", "")
	if r.status != 404 || !strings.Contains(r.body, "Use the entity set name 'accounts'") {
		t.Errorf("a logical name instead of the entity set: %d %s", r.status, r.body)
	}
	r = call(t, s, "POST", "accounts", `{"name":"x","Name":"y"}`, "Content-Type", "application/json")
	if r.status != 400 || !strings.Contains(r.body, `"code":"0x80048d19"`) || !strings.Contains(r.body, "'Name'") {
		t.Errorf("a property in the wrong case: %d %s", r.status, r.body)
	}
	r = call(t, s, "POST", "accounts", `{"name":"x","industrycode":99}`, "Content-Type", "application/json")
	if r.status != 400 || !strings.Contains(r.body, `"code":"0x8004431A"`) || !strings.Contains(r.body, "Accepted Values: 1,2,3,4,7,33") {
		t.Errorf("an option out of range: %d %s", r.status, r.body)
	}
}

func TestCreateAndRepresentation(t *testing.T) {
	s := dynamicstest.New(t)
	r := call(t, s, "POST", "accounts", `{"name":"A","revenue":12.345,"industrycode":7}`, "Content-Type", "application/json")
	if r.status != 204 || r.body != "" || !strings.HasPrefix(r.header.Get("OData-EntityId"), s.APIURL()+"accounts(") {
		t.Fatalf("create: %d %v %q", r.status, r.header, r.body)
	}
	r = call(t, s, "POST", "accounts?$select=name,revenue", `{"name":"B","revenue":12.345}`, "Content-Type", "application/json", "Prefer", "return=representation")
	m := r.json(t)
	if r.status != 201 || m["revenue"] != 12.35 || m["name"] != "B" || !strings.HasPrefix(m["@odata.etag"].(string), `W/"`) ||
		m["@odata.context"] != s.APIURL()+"$metadata#accounts(name,revenue,accountid)/$entity" || m["statecode"] != nil {
		t.Errorf("create with representation: %d %s", r.status, r.body)
	}
	r = call(t, s, "GET", fmt.Sprintf("accounts(%s)?$select=statecode,statuscode,createdon", m["accountid"]), "", "Prefer", `odata.include-annotations="OData.Community.Display.V1.FormattedValue"`)
	g := r.json(t)
	if g["statecode"] != 0.0 || g["statuscode"] != 1.0 || g["statuscode@OData.Community.Display.V1.FormattedValue"] != "Active" ||
		!regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(g["createdon"].(string)) {
		t.Errorf("defaults, formatted values and date format: %s", r.body)
	}
}

func TestConditionalRequests(t *testing.T) {
	s := dynamicstest.New(t)
	id := create(t, s, "accounts", `{"name":"v1"}`)
	const missing = "00000000-0000-4000-8000-0000000000ff"
	if r := call(t, s, "PATCH", "accounts("+missing+")", `{"name":"x"}`, "If-Match", "*"); r.status != 404 {
		t.Errorf("PATCH If-Match: * of a missing record: %d, want 404", r.status)
	}
	if r := call(t, s, "PATCH", "accounts("+missing+")", `{"name":"made"}`); r.status != 204 {
		t.Errorf("PATCH without If-Match of a missing record (upsert): %d, want 204", r.status)
	}
	g := call(t, s, "GET", "accounts("+id+")?$select=name", "")
	etag := g.header.Get("ETag")
	if r := call(t, s, "GET", "accounts("+id+")", "", "If-None-Match", etag); r.status != 304 {
		t.Errorf("GET If-None-Match current ETag: %d, want 304", r.status)
	}
	if r := call(t, s, "PATCH", "accounts("+id+")", `{"name":"v2"}`, "If-Match", etag); r.status != 204 {
		t.Errorf("PATCH with the current ETag: %d", r.status)
	}
	r := call(t, s, "PATCH", "accounts("+id+")", `{"name":"v3"}`, "If-Match", etag)
	if r.status != 412 || !strings.Contains(r.body, "0x80060882") {
		t.Errorf("PATCH with a stale ETag: %d %s, want 412 0x80060882", r.status, r.body)
	}
	if r := call(t, s, "DELETE", "accounts("+id+")", "", "If-Match", etag); r.status != 412 {
		t.Errorf("DELETE with a stale ETag: %d, want 412", r.status)
	}
	if r := call(t, s, "PATCH", "accounts("+id+")", `{"name":"x"}`, "If-None-Match", "*"); r.status != 412 || !strings.Contains(r.body, "already exists") {
		t.Errorf("create-only upsert of an existing record: %d %s", r.status, r.body)
	}
	if r := call(t, s, "DELETE", "accounts("+id+")", ""); r.status != 204 {
		t.Errorf("DELETE: %d", r.status)
	}
	if r := call(t, s, "DELETE", "accounts("+id+")", ""); r.status != 404 {
		t.Errorf("DELETE again: %d, want 404", r.status)
	}
}

func TestAlternateKey(t *testing.T) {
	s := dynamicstest.New(t)
	r := call(t, s, "PATCH", "accounts(accountnumber='A%2F1')?$select=name", `{"name":"Key"}`, "Prefer", "return=representation")
	if r.status != 201 || r.header.Get("OData-EntityId") != s.APIURL()+"accounts(accountnumber='A%2F1')" {
		t.Fatalf("upsert by key: %d %v %s", r.status, r.header, r.body)
	}
	if r = call(t, s, "PATCH", "accounts(accountnumber='a%2f1')", `{"name":"Key 2"}`, "Prefer", "return=representation"); r.status != 200 {
		t.Errorf("second upsert (keys match without regard to case): %d %s", r.status, r.body)
	}
	if r = call(t, s, "GET", "accounts(name='Key 2')", ""); r.status != 400 || !strings.Contains(r.body, "0x80060890") {
		t.Errorf("a column that is no key: %d %s", r.status, r.body)
	}
	if r = call(t, s, "POST", "accounts", `{"name":"Dup","accountnumber":"A/1"}`); r.status != 412 || !strings.Contains(r.body, "0x80060892") {
		t.Errorf("a duplicate key value: %d %s", r.status, r.body)
	}
}

func TestQueryOptions(t *testing.T) {
	s := dynamicstest.New(t)
	for i := range 7 {
		create(t, s, "contacts", fmt.Sprintf(`{"lastname":"N%d","numberofchildren":%d}`, i, i))
	}
	if r := call(t, s, "GET", "contacts?$skip=2", ""); r.status != 400 || !strings.Contains(r.body, "$skip") {
		t.Errorf("$skip: %d %s, want 400", r.status, r.body)
	}
	r := call(t, s, "GET", "contacts?$select=lastname&$top=2", "")
	if n := len(r.json(t)["value"].([]any)); n != 2 || strings.Contains(r.body, "nextLink") {
		t.Errorf("$top=2: %d rows %s", n, r.body)
	}
	r = call(t, s, "GET", "contacts?$select=lastname&$top=2&$filter=numberofchildren%20ge%201&$orderby=lastname%20desc", "", "Prefer", "odata.maxpagesize=4", "Host", "contoso.example.test")
	m := r.json(t)
	next, _ := m["@odata.nextLink"].(string)
	if n := len(m["value"].([]any)); n != 4 || r.header.Get("Preference-Applied") != "odata.maxpagesize=4" {
		t.Errorf("$top under maxpagesize is ignored: %d rows, Preference-Applied %q", n, r.header.Get("Preference-Applied"))
	}
	if !strings.HasPrefix(next, "http://contoso.example.test/api/data/v9.2/contacts?") || !strings.Contains(next, "$skiptoken=%3Ccookie%20pagenumber%3D%222%22") {
		t.Errorf("next link %q, want it absolute, from the host the client used, with a paging cookie", next)
	}
	r = call(t, s, "GET", strings.TrimPrefix(next, "http://contoso.example.test/api/data/v9.2/"), "", "Prefer", "odata.maxpagesize=4")
	if v := r.json(t)["value"].([]any); len(v) != 2 || v[1].(map[string]any)["lastname"] != "N1" {
		t.Errorf("second page: %s", r.body)
	}
	for _, bad := range []string{"lastname eq 5", "numberofchildren eq '5'", "contactid eq 'not-a-guid'", "lastname eq 'open", "nosuch eq 1", "birthdate eq 2020-01-01T00:00:00Z"} {
		if r := call(t, s, "GET", "contacts?$filter="+strings.ReplaceAll(bad, " ", "%20"), ""); r.status != 400 {
			t.Errorf("$filter=%s: %d %s, want 400", bad, r.status, r.body)
		}
	}
	if r := call(t, s, "GET", "contacts/$count", ""); r.body != "7" {
		t.Errorf("$count: %q", r.body)
	}
}

func TestChangeTracking(t *testing.T) {
	s := dynamicstest.New(t)
	keep := create(t, s, "accounts", `{"name":"keep"}`)
	gone := create(t, s, "accounts", `{"name":"gone"}`)
	if r := call(t, s, "GET", "accounts?$filter=name%20eq%20'x'", "", "Prefer", "odata.track-changes"); r.status != 400 || !strings.Contains(r.body, `\"$filter\" query parameter isn't supported when Change Tracking is enabled`) {
		t.Errorf("track-changes with $filter: %d %s", r.status, r.body)
	}
	r := call(t, s, "GET", "accounts?$select=name", "", "Prefer", "odata.track-changes")
	delta, _ := r.json(t)["@odata.deltaLink"].(string)
	if r.header.Get("Preference-Applied") != "odata.track-changes" || !strings.Contains(delta, "$deltatoken=") {
		t.Fatalf("initial read: %v %s", r.header, r.body)
	}
	call(t, s, "PATCH", "accounts("+keep+")", `{"name":"kept"}`, "If-Match", "*")
	call(t, s, "DELETE", "accounts("+gone+")", "")
	r = call(t, s, "GET", strings.TrimPrefix(delta, s.APIURL()), "")
	m := r.json(t)
	v := m["value"].([]any)
	if len(v) != 2 || v[0].(map[string]any)["name"] != "kept" || v[1].(map[string]any)["reason"] != "deleted" || v[1].(map[string]any)["id"] != gone ||
		v[1].(map[string]any)["@odata.context"] != s.APIURL()+"$metadata#accounts/$deletedEntity" || m["@odata.deltaLink"] == nil {
		t.Errorf("delta: %s", r.body)
	}
	// A table without change tracking: the preference is not applied.
	r = call(t, s, "GET", "leads", "", "Prefer", "odata.track-changes")
	if r.status != 200 || r.header.Get("Preference-Applied") != "" || strings.Contains(r.body, "deltaLink") {
		t.Errorf("track-changes on leads: %d %v %s", r.status, r.header, r.body)
	}
	if r = call(t, s, "GET", "leads?$deltatoken=1", ""); r.status != 400 || !strings.Contains(r.body, "Change tracking is not enabled") {
		t.Errorf("a delta token on leads: %d %s", r.status, r.body)
	}
}

const batchCT = "multipart/mixed; boundary=\"batch_AAA\""

func TestBatchLenientAndOrdered(t *testing.T) {
	s := dynamicstest.New(t)
	// A quoted boundary, a leading blank line, a blank line before a request
	// line, a change set with a $1 reference in the body, and a GET.
	body := "\r\n--batch_AAA\r\nContent-Type: multipart/mixed; boundary=changeset_BBB\r\n\r\n" +
		"--changeset_BBB\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n" +
		"POST " + s.APIURL() + "accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"name\":\"Parent\"}\r\n" +
		"--changeset_BBB\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 2\r\n\r\n" +
		"\r\nPOST /api/data/v9.2/contacts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"lastname\":\"Child\",\"parentcustomerid@odata.bind\":\"$1\"}\r\n" +
		"--changeset_BBB--\r\n" +
		"--batch_AAA\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		"GET contacts?$select=lastname,_parentcustomerid_value HTTP/1.1\r\nAccept: application/json\r\n\r\n" +
		"--batch_AAA--\r\n"
	r := call(t, s, "POST", "$batch", body, "Content-Type", batchCT)
	if r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	if !strings.HasPrefix(r.body, "--batchresponse_") || !strings.Contains(r.header.Get("Content-Type"), "boundary=batchresponse_") {
		t.Errorf("the response must start with its batchresponse_ boundary, no preamble: %q", r.body[:40])
	}
	for _, want := range []string{"boundary=changesetresponse_", "Content-ID: 1", "Content-ID: 2", "HTTP/1.1 204 No Content", "OData-EntityId: ", "Location: ", "HTTP/1.1 200 OK", `"lastname":"Child"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the response lacks %q:\n%s", want, r.body)
		}
	}
	if m := regexp.MustCompile(`"_parentcustomerid_value":"([0-9a-f-]{36})"`).FindStringSubmatch(r.body); m == nil {
		t.Errorf("the $1 reference did not bind the contact to the account:\n%s", r.body)
	}
}

func batchOf(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("--batch_AAA\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" + p + "\r\n")
	}
	b.WriteString("--batch_AAA--\r\n")
	return b.String()
}

func post(name string) string {
	return "POST accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"name\":\"" + name + "\"}"
}

func TestBatchErrors(t *testing.T) {
	s := dynamicstest.New(t)
	long := strings.Repeat("x", 161)
	body := batchOf(post("one"), post(long), post("three"))
	r := call(t, s, "POST", "$batch", body, "Content-Type", batchCT)
	if n, _ := s.Len("account"); r.status != 400 || n != 1 || strings.Count(r.body, "HTTP/1.1 ") != 2 {
		t.Errorf("without continue-on-error: status %d, %d accounts, %d parts; want 400, 1, 2 (stopped at the failure)\n%s", r.status, n, strings.Count(r.body, "HTTP/1.1 "), r.body)
	}
	r = call(t, s, "POST", "$batch", body, "Content-Type", batchCT, "Prefer", "odata.continue-on-error")
	if n, _ := s.Len("account"); r.status != 200 || n != 3 || strings.Count(r.body, "HTTP/1.1 ") != 3 || r.header.Get("Preference-Applied") != "odata.continue-on-error" {
		t.Errorf("with continue-on-error: status %d, %d accounts; want 200, 3\n%s", r.status, n, r.body)
	}
	// A failing change set is answered by one error and leaves nothing.
	cs := "--batch_AAA\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n" +
		"--cs\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\n" + post("in change set") + "\r\n" +
		"--cs\r\nContent-Type: application/http\r\nContent-ID: 2\r\n\r\n" + post(long) + "\r\n--cs--\r\n--batch_AAA--\r\n"
	r = call(t, s, "POST", "$batch", cs, "Content-Type", batchCT)
	if n, _ := s.Len("account"); r.status != 400 || n != 3 || strings.Count(r.body, "HTTP/1.1 ") != 1 || !strings.Contains(r.body, "Content-ID: 2") {
		t.Errorf("failed change set: status %d, %d accounts; want 400, still 3, one error for Content-ID 2\n%s", r.status, n, r.body)
	}
	get := "--batch_AAA\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: application/http\r\n\r\nGET accounts HTTP/1.1\r\n\r\n\r\n--cs--\r\n--batch_AAA--\r\n"
	if r = call(t, s, "POST", "$batch", get, "Content-Type", batchCT); r.status != 400 || !strings.Contains(r.body, "GET request is not allowed inside a change set") {
		t.Errorf("GET in a change set: %d %s", r.status, r.body)
	}
	many := make([]string, 1001)
	for i := range many {
		many[i] = "GET WhoAmI HTTP/1.1\r\n"
	}
	if r = call(t, s, "POST", "$batch", batchOf(many...), "Content-Type", batchCT); r.status != 400 || !strings.Contains(r.body, "limit of 1000") {
		t.Errorf("1001 operations: %d %s", r.status, r.body)
	}
	if r = call(t, s, "POST", "$batch", body, "Content-Type", "application/json"); r.status != 400 {
		t.Errorf("a $batch that is not multipart: %d", r.status)
	}
}

func TestServiceProtection(t *testing.T) {
	s := dynamicstest.New(t, dynamicstest.WithServiceProtection(dynamicstest.ServiceProtection{Requests: 2, Window: time.Minute}))
	r := call(t, s, "GET", "WhoAmI", "")
	if r.header.Get("x-ms-ratelimit-burst-remaining-xrm-requests") != "1" || r.header.Get("x-ms-ratelimit-time-remaining-xrm-requests") == "" {
		t.Errorf("rate limit headers: %v", r.header)
	}
	call(t, s, "GET", "WhoAmI", "")
	r = call(t, s, "GET", "WhoAmI", "")
	want := `{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 2 over time window of 60 seconds."}}`
	if r.status != 429 || r.body != want || r.header.Get("Retry-After") != "60" {
		t.Errorf("third request: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	// A fault in Dataverse's shape.
	s2 := dynamicstest.New(t)
	s2.Faults().Inject("whoami", 1, dynamicstest.Throttle(dynamicstest.CodeConcurrency, 2*time.Second))
	if r := call(t, s2, "GET", "WhoAmI", ""); r.status != 429 || r.header.Get("Retry-After") != "2" || !strings.Contains(r.body, "0x80072326") {
		t.Errorf("throttle fault: %d %v %s", r.status, r.header, r.body)
	}
	if r := call(t, s2, "GET", "WhoAmI", ""); r.status != 200 {
		t.Errorf("after the fault: %d", r.status)
	}
}

func TestBearerToken(t *testing.T) {
	s := dynamicstest.New(t, dynamicstest.WithBearerToken("tok"))
	if r := call(t, s, "GET", "WhoAmI", ""); r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %v", r.status, r.header)
	}
	if r := call(t, s, "GET", "WhoAmI", "", "Authorization", "Bearer tok"); r.status != 200 {
		t.Errorf("right token: %d", r.status)
	}
}

func TestMetadata(t *testing.T) {
	s := dynamicstest.New(t)
	r := call(t, s, "GET", "EntityDefinitions?$select=LogicalName,ChangeTrackingEnabled&$filter=EntitySetName%20eq%20'crmkit_projects'", "")
	v := r.json(t)["value"].([]any)
	if len(v) != 1 || v[0].(map[string]any)["LogicalName"] != "crmkit_project" || v[0].(map[string]any)["ChangeTrackingEnabled"] != false {
		t.Errorf("EntityDefinitions filtered by entity set: %s", r.body)
	}
	r = call(t, s, "GET", "EntityDefinitions(LogicalName='account')/Attributes?$filter=AttributeType%20eq%20Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'&$select=LogicalName", "")
	if v := r.json(t)["value"].([]any); len(v) != 2 {
		t.Errorf("picklist attributes of account: %s", r.body)
	}
	r = call(t, s, "GET", "EntityDefinitions(LogicalName='account')/Attributes?$expand=OptionSet", "")
	if r.status != 400 {
		t.Errorf("OptionSet without a cast: %d, want 400", r.status)
	}
	r = call(t, s, "GET", "EntityDefinitions(LogicalName='crmkit_project')?$expand=Attributes($select=LogicalName,SchemaName;$filter=LogicalName%20eq%20'crmkit_accountid'),ManyToOneRelationships", "")
	m := r.json(t)
	attrs := m["Attributes"].([]any)
	if len(attrs) != 1 || attrs[0].(map[string]any)["SchemaName"] != "crmkit_AccountId" || !strings.Contains(r.body, `"ReferencingEntityNavigationPropertyName":"crmkit_AccountId"`) {
		t.Errorf("nested $expand options and the navigation property: %s", r.body)
	}
	r = call(t, s, "GET", "$metadata", "")
	var doc struct {
		XMLName xml.Name
	}
	if err := xml.Unmarshal([]byte(r.body), &doc); err != nil || !strings.Contains(r.body, `<EntitySet Name="accounts" EntityType="Microsoft.Dynamics.CRM.account"/>`) ||
		!strings.Contains(r.body, `<NavigationProperty Name="crmkit_AccountId" Type="mscrm.account">`) {
		t.Errorf("$metadata: %v\n%s", err, r.body[:min(len(r.body), 500)])
	}
}

func TestNewServerStandalone(t *testing.T) {
	s, err := dynamicstest.NewServer(dynamicstest.WithAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := call(t, s, "GET", "", "")
	if r.status != 200 || !strings.Contains(r.body, `"name":"accounts"`) {
		t.Errorf("service document: %d %s", r.status, r.body)
	}
	if _, err := dynamicstest.NewServer(dynamicstest.WithTables(dynamicstest.Table{LogicalName: "Bad"})); err == nil {
		t.Error("a table with an upper-case logical name was accepted")
	}
}

func TestCustomTablesAndTracking(t *testing.T) {
	s := dynamicstest.New(t, dynamicstest.WithTables(dynamicstest.Table{
		LogicalName: "new_widget", PrimaryNameAttribute: "new_name", Custom: true,
		Attributes: []dynamicstest.Attribute{
			{LogicalName: "new_name", Type: dynamicstest.String, MaxLength: 20, Custom: true},
			{LogicalName: "new_size", Type: dynamicstest.Picklist, Custom: true, Options: []dynamicstest.Choice{{Value: 100000000, Label: "Small"}, {Value: 100000001, Label: "Large"}}},
		},
	}), dynamicstest.WithChangeTracking("lead"))
	id := create(t, s, "new_widgets", `{"new_name":"w","new_size":100000001}`)
	r := call(t, s, "GET", "new_widgets("+id+")?$select=new_size", "", "Prefer", `odata.include-annotations="*"`)
	if m := r.json(t); m["new_size@OData.Community.Display.V1.FormattedValue"] != "Large" {
		t.Errorf("custom table: %s", r.body)
	}
	if r = call(t, s, "GET", "leads", "", "Prefer", "odata.track-changes"); !strings.Contains(r.body, "deltaLink") {
		t.Errorf("change tracking turned on for leads: %s", r.body)
	}
}

// A delegated token acts as the user who signed in, as in Dataverse: WhoAmI
// names their systemuser and what they create is theirs. An app-only token
// keeps acting as the application user, CallerObjectId overrides both, and
// a user who is not (or no longer) a systemuser is refused.
func TestDelegatedTokenActsAsSignedInUser(t *testing.T) {
	srv := authCodeServer(t, newCredential(t))
	back := signIn(t, srv, authParams(srv, map[string]string{"login_hint": userUPN}))
	status, body := postToken(t, srv, redeemForm(back.Get("code"), nil))
	user, _ := body["access_token"].(string)
	if status != http.StatusOK || user == "" {
		t.Fatalf("code redemption: %d %v", status, body)
	}
	status, body = postToken(t, srv, url.Values{"grant_type": {"client_credentials"}, "client_id": {secretApp},
		"client_secret": {secretValue}, "scope": {srv.EntraScope()}})
	app, _ := body["access_token"].(string)
	if status != http.StatusOK || app == "" {
		t.Fatalf("client credentials: %d %v", status, body)
	}
	as := func(tok string, more ...string) []string {
		return append([]string{"Authorization", "Bearer " + tok}, more...)
	}
	whoAmI := func(tok string, more ...string) reply { return call(t, srv, "GET", "WhoAmI", "", as(tok, more...)...) }

	r := call(t, srv, "GET", "systemusers?$select=systemuserid&$filter=azureactivedirectoryobjectid%20eq%20"+userOID, "", as(app)...)
	rows, _ := r.json(t)["value"].([]any)
	if r.status != http.StatusOK || len(rows) != 1 {
		t.Fatalf("the signed-in user's systemuser: %d %s", r.status, r.body)
	}
	userID, _ := rows[0].(map[string]any)["systemuserid"].(string)
	if userID == "" || userID == srv.ApplicationUserID() {
		t.Fatalf("systemuserid %q, want the user's own (the application user is %s)", userID, srv.ApplicationUserID())
	}

	for _, c := range []struct {
		name, tok, want string
	}{{"delegated", user, userID}, {"app-only", app, srv.ApplicationUserID()}} {
		if r := whoAmI(c.tok); r.status != http.StatusOK || r.json(t)["UserId"] != c.want {
			t.Errorf("WhoAmI with the %s token: %d %s, want UserId %s", c.name, r.status, r.body, c.want)
		}
	}

	r = call(t, srv, "POST", "accounts?$select=name,_createdby_value,_modifiedby_value", `{"name":"Ada's account"}`,
		as(user, "Content-Type", "application/json", "Prefer", "return=representation")...)
	if r.status != http.StatusCreated {
		t.Fatalf("create with the delegated token: %d %s", r.status, r.body)
	}
	if m := r.json(t); m["_createdby_value"] != userID || m["_modifiedby_value"] != userID {
		t.Errorf("created with the delegated token: %s, want createdby and modifiedby %s", r.body, userID)
	}

	// A header naming a user still decides, as for an app-only token.
	const otherOID = "88888888-8888-4888-8888-888888888888"
	otherID, err := srv.AddUser("Grace Hopper", otherOID)
	if err != nil {
		t.Fatal(err)
	}
	if r := whoAmI(user, "CallerObjectId", otherOID); r.status != http.StatusOK || r.json(t)["UserId"] != otherID {
		t.Errorf("WhoAmI with the delegated token and CallerObjectId: %d %s, want UserId %s", r.status, r.body, otherID)
	}
	if r := whoAmI(user, "MSCRMCallerID", otherID); r.status != http.StatusOK || r.json(t)["UserId"] != otherID {
		t.Errorf("WhoAmI with the delegated token and MSCRMCallerID: %d %s, want UserId %s", r.status, r.body, otherID)
	}

	// Once the user is no longer a systemuser, their token is refused.
	if r := call(t, srv, "DELETE", "systemusers("+userID+")", "", as(app)...); r.status != http.StatusNoContent {
		t.Fatalf("deleting the user's systemuser: %d %s", r.status, r.body)
	}
	r = whoAmI(user)
	if e, _ := r.json(t)["error"].(map[string]any); r.status != http.StatusForbidden || e["code"] != "0x80072560" ||
		e["message"] != "The user is not a member of the organization." {
		t.Errorf("WhoAmI for a user who is not a systemuser: %d %s, want 403 0x80072560", r.status, r.body)
	}
	if r := whoAmI(app); r.status != http.StatusOK || r.json(t)["UserId"] != srv.ApplicationUserID() {
		t.Errorf("WhoAmI with the app-only token after: %d %s", r.status, r.body)
	}
}
