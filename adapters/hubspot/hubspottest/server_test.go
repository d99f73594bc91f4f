package hubspottest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
)

// call sends one request with a bearer token and decodes the JSON answer.
func call(t *testing.T, srv *hubspottest.Server, method, path string, body any, hdr ...string) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer pat-na1-test")
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %s", method, path, raw)
		}
	}
	return resp.StatusCode, resp.Header, out
}

func want(t *testing.T, got, want int, body map[string]any) {
	t.Helper()
	if got != want {
		t.Fatalf("status %d, want %d; body %v", got, want, body)
	}
}

func props(m map[string]any) map[string]any {
	p, _ := m["properties"].(map[string]any)
	return p
}

func results(m map[string]any) []map[string]any {
	rs, _ := m["results"].([]any)
	out := make([]map[string]any, len(rs))
	for i, r := range rs {
		out[i], _ = r.(map[string]any)
	}
	return out
}

func TestAuthentication(t *testing.T) {
	srv := hubspottest.New(t, hubspottest.WithTokens("pat-na1-test"))
	status, hdr, body := call(t, srv, "GET", "/crm/v3/objects/contacts", nil, "Authorization", "")
	want(t, status, 401, body)
	if body["category"] != "INVALID_AUTHENTICATION" || !strings.HasPrefix(body["message"].(string), "Authentication credentials not found.") {
		t.Errorf("401 body = %v", body)
	}
	if hdr.Get("X-HubSpot-Correlation-Id") == "" || hdr.Get("X-HubSpot-Correlation-Id") != body["correlationId"] {
		t.Errorf("correlation id header %q, body %v", hdr.Get("X-HubSpot-Correlation-Id"), body["correlationId"])
	}
	status, _, body = call(t, srv, "GET", "/crm/v3/objects/contacts", nil, "Authorization", "Bearer someone-else")
	want(t, status, 401, body)
	status, _, body = call(t, srv, "GET", "/crm/v3/objects/contacts", nil)
	want(t, status, 200, body)
}

func TestRecordShapeAndPathFamilies(t *testing.T) {
	srv := hubspottest.New(t)
	status, hdr, c := call(t, srv, "POST", "/crm/objects/2026-03/contacts", map[string]any{"properties": map[string]any{"email": "a@b.co", "firstname": "Ada"}})
	want(t, status, 201, c)
	if ct := hdr.Get("Content-Type"); ct != "application/json;charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	id, ok := c["id"].(string)
	if !ok || id == "" {
		t.Fatalf("id is %#v, want a string", c["id"])
	}
	p := props(c)
	if p["hs_object_id"] != id || p["email"] != "a@b.co" || p["lastmodifieddate"] == nil || p["hs_lastmodifieddate"] != nil {
		t.Errorf("contact properties = %v", p)
	}
	created, _ := c["createdAt"].(string)
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", created); err != nil {
		t.Errorf("createdAt %q is not ISO 8601 UTC with milliseconds", created)
	}
	if c["updatedAt"] != p["lastmodifieddate"] {
		t.Errorf("updatedAt %v does not mirror lastmodifieddate %v", c["updatedAt"], p["lastmodifieddate"])
	}
	// The same record on the legacy path, and by objectTypeId.
	for _, path := range []string{"/crm/v3/objects/contacts/" + id, "/crm/v3/objects/0-1/" + id, "/crm/objects/2026-03/0-1/" + id} {
		status, _, got := call(t, srv, "GET", path, nil)
		want(t, status, 200, got)
		if got["id"] != id {
			t.Errorf("GET %s: id %v", path, got["id"])
		}
	}
	// Companies keep hs_lastmodifieddate.
	status, _, co := call(t, srv, "POST", "/crm/v3/objects/companies", map[string]any{"properties": map[string]any{"name": "Acme", "numberofemployees": 12}})
	want(t, status, 201, co)
	if p := props(co); p["hs_lastmodifieddate"] == nil || p["lastmodifieddate"] != nil || p["numberofemployees"] != "12" {
		t.Errorf("company properties = %v (values must be strings)", p)
	}
	// An unknown type.
	status, _, body := call(t, srv, "GET", "/crm/v3/objects/widgets", nil)
	want(t, status, 400, body)
	if body["message"] != "Unable to infer object type from: widgets" {
		t.Errorf("unknown type body = %v", body)
	}
}

func TestPropertiesParameterForms(t *testing.T) {
	srv := hubspottest.New(t)
	_, _, c := call(t, srv, "POST", "/crm/v3/objects/contacts", map[string]any{"properties": map[string]any{"email": "x@y.z", "firstname": "X", "lastname": "Y", "city": "Oslo"}})
	id := c["id"].(string)
	for _, q := range []string{"properties=firstname&properties=city", "properties=firstname%2Ccity", "properties=firstname,nosuch&properties=city"} {
		status, _, got := call(t, srv, "GET", "/crm/v3/objects/contacts/"+id+"?"+q, nil)
		want(t, status, 200, got)
		p := props(got)
		if p["firstname"] != "X" || p["city"] != "Oslo" || p["lastname"] != nil {
			t.Errorf("?%s: properties %v, want firstname and city (and the system ones), not lastname", q, p)
		}
	}
	// By idProperty, the email percent-encoded in the path.
	status, _, got := call(t, srv, "GET", "/crm/v3/objects/contacts/x%40y.z?idProperty=email&properties=email", nil)
	want(t, status, 200, got)
	if got["id"] != id {
		t.Errorf("by idProperty: %v", got)
	}
	status, _, got = call(t, srv, "GET", "/crm/v3/objects/contacts/999", nil)
	want(t, status, 404, got)
	if got["category"] != "OBJECT_NOT_FOUND" || got["message"] != "Object not found.  objectId are usually numeric." {
		t.Errorf("404 body = %v", got)
	}
}

func TestListPagingAndArchived(t *testing.T) {
	srv := hubspottest.New(t)
	var recs []map[string]string
	for i := range 7 {
		recs = append(recs, map[string]string{"firstname": fmt.Sprint("n", i)})
	}
	ids, err := srv.Seed("contacts", recs...)
	if err != nil {
		t.Fatal(err)
	}
	status, _, _ := call(t, srv, "DELETE", "/crm/v3/objects/contacts/"+ids[2], nil)
	want(t, status, 204, nil)
	var got []string
	path := "/crm/v3/objects/contacts?limit=3"
	for range 10 {
		status, _, page := call(t, srv, "GET", path, nil)
		want(t, status, 200, page)
		for _, r := range results(page) {
			got = append(got, r["id"].(string))
		}
		pg, _ := page["paging"].(map[string]any)
		next, _ := pg["next"].(map[string]any)
		if next == nil {
			break
		}
		if link, _ := next["link"].(string); !strings.Contains(link, "after="+next["after"].(string)) {
			t.Errorf("paging.next.link %q does not carry after", link)
		}
		path = "/crm/v3/objects/contacts?limit=3&after=" + next["after"].(string)
	}
	if want := []string{ids[0], ids[1], ids[3], ids[4], ids[5], ids[6]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listed %v, want %v (the archived one left out)", got, want)
	}
	status, _, page := call(t, srv, "GET", "/crm/v3/objects/contacts?archived=true", nil)
	want(t, status, 200, page)
	rs := results(page)
	if len(rs) != 1 || rs[0]["id"] != ids[2] || rs[0]["archived"] != true || rs[0]["archivedAt"] == nil {
		t.Errorf("archived=true listed %v, want only %s, archived with archivedAt", rs, ids[2])
	}
	status, _, one := call(t, srv, "GET", "/crm/v3/objects/contacts/"+ids[2]+"?archived=true", nil)
	want(t, status, 200, one)
	status, _, one = call(t, srv, "GET", "/crm/v3/objects/contacts/"+ids[2], nil)
	want(t, status, 404, one)
}

func TestBatches(t *testing.T) {
	srv := hubspottest.New(t)
	base := "/crm/v3/objects/contacts/batch/"
	inputs := func(n int, f func(i int) map[string]any) map[string]any {
		var in []map[string]any
		for i := range n {
			in = append(in, f(i))
		}
		return map[string]any{"inputs": in}
	}
	status, _, body := call(t, srv, "POST", base+"create", inputs(101, func(i int) map[string]any { return map[string]any{"properties": map[string]any{}} }))
	want(t, status, 400, body)

	// All or nothing without trace ids.
	status, _, body = call(t, srv, "POST", base+"create", inputs(3, func(i int) map[string]any {
		p := map[string]any{"firstname": fmt.Sprint("c", i)}
		if i == 1 {
			p["nosuch"] = "x"
		}
		return map[string]any{"properties": p}
	}))
	want(t, status, 400, body)
	if !strings.HasPrefix(body["message"].(string), "Property values were not valid: ") || body["category"] != "VALIDATION_ERROR" {
		t.Errorf("400 body %v", body)
	}
	if st := srv.Stats(); st.ByStatus[201] != 0 {
		t.Fatalf("a refused batch created records")
	}
	// Input by input with trace ids: 207.
	status, _, body = call(t, srv, "POST", base+"create", inputs(3, func(i int) map[string]any {
		p := map[string]any{"firstname": fmt.Sprint("c", i), "email": fmt.Sprintf("c%d@x.io", i)}
		if i == 1 {
			p["nosuch"] = "x"
		}
		return map[string]any{"properties": p, "objectWriteTraceId": fmt.Sprint("t", i)}
	}))
	want(t, status, 207, body)
	if body["numErrors"] != 1.0 || len(results(body)) != 2 {
		t.Fatalf("207 body %v", body)
	}
	e := body["errors"].([]any)[0].(map[string]any)
	if fmt.Sprint(e["context"].(map[string]any)["objectWriteTraceId"]) != "[t1]" {
		t.Errorf("the error names %v, want trace id t1", e["context"])
	}
	var ids []string
	for _, r := range results(body) {
		ids = append(ids, r["id"].(string))
		if r["objectWriteTraceId"] == nil {
			t.Errorf("result %v does not echo its objectWriteTraceId", r)
		}
	}
	// Update with an unknown id: 207 OBJECT_NOT_FOUND naming it.
	status, _, body = call(t, srv, "POST", base+"update", map[string]any{"inputs": []map[string]any{
		{"id": ids[0], "properties": map[string]any{"lastname": "L"}}, {"id": "999", "properties": map[string]any{"lastname": "L"}}}})
	want(t, status, 207, body)
	e = body["errors"].([]any)[0].(map[string]any)
	if e["category"] != "OBJECT_NOT_FOUND" || fmt.Sprint(e["context"].(map[string]any)["ids"]) != "[999]" ||
		e["message"] != "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid." {
		t.Errorf("not-found error %v", e)
	}
	// Duplicate ids.
	status, _, body = call(t, srv, "POST", base+"update", map[string]any{"inputs": []map[string]any{
		{"id": ids[0], "properties": map[string]any{}}, {"id": ids[0], "properties": map[string]any{}}}})
	want(t, status, 400, body)
	if body["message"] != fmt.Sprintf("Duplicate IDs found in batch input: [%s]. IDs must be unique", ids[0]) {
		t.Errorf("duplicate ids body %v", body)
	}
	// Upsert: new true, then false.
	for round, wantNew := range []bool{true, false} {
		status, _, body = call(t, srv, "POST", base+"upsert", map[string]any{"inputs": []map[string]any{
			{"id": "up@x.io", "idProperty": "email", "properties": map[string]any{"firstname": fmt.Sprint("U", round)}}}})
		want(t, status, 200, body)
		if r := results(body)[0]; r["new"] != wantNew {
			t.Errorf("upsert round %d: new = %v, want %v", round, r["new"], wantNew)
		}
	}
	// Archive: 204, and the records are gone.
	status, _, body = call(t, srv, "POST", base+"archive", map[string]any{"inputs": []map[string]any{{"id": ids[0]}, {"id": "999"}}})
	want(t, status, 204, body)
	status, _, body = call(t, srv, "GET", "/crm/v3/objects/contacts/"+ids[0], nil)
	want(t, status, 404, body)
	// A contact with an email already taken.
	status, _, body = call(t, srv, "POST", "/crm/v3/objects/contacts", map[string]any{"properties": map[string]any{"email": "UP@x.io"}})
	want(t, status, 409, body)
	if !strings.HasPrefix(body["message"].(string), "Contact already exists. Existing ID: ") {
		t.Errorf("409 body %v", body)
	}
}

func search(t *testing.T, srv *hubspottest.Server, object string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	return call(t, srv, "POST", "/crm/v3/objects/"+object+"/search", body)
}

func TestSearch(t *testing.T) {
	srv := hubspottest.New(t, hubspottest.WithSearchLimit(0))
	var recs []map[string]string
	for i := range 12 {
		recs = append(recs, map[string]string{"firstname": fmt.Sprintf("Name%02d", i), "city": []string{"Oslo", "Bergen"}[i%2]})
	}
	ids, err := srv.Seed("contacts", recs...)
	if err != nil {
		t.Fatal(err)
	}
	eq := func(p, v string) map[string]any {
		return map[string]any{"propertyName": p, "operator": "EQ", "value": v}
	}
	status, hdr, body := search(t, srv, "contacts", map[string]any{"filterGroups": []any{map[string]any{"filters": []any{eq("city", "oslo")}}}, "limit": 4,
		"sorts": []any{map[string]any{"propertyName": "firstname", "direction": "DESCENDING"}}})
	want(t, status, 200, body)
	if body["total"] != 6.0 || len(results(body)) != 4 || props(results(body)[0])["firstname"] != "Name10" {
		t.Errorf("search body %v", body)
	}
	if next := body["paging"].(map[string]any)["next"].(map[string]any); next["after"] != "4" {
		t.Errorf("paging.next = %v, want after 4", next)
	}
	if hdr.Get("X-HubSpot-RateLimit-Max") != "" || hdr.Get("X-HubSpot-RateLimit-Daily") != "" {
		t.Errorf("search answered with rate-limit headers: %v", hdr)
	}
	// The sort's string form.
	status, _, body = search(t, srv, "contacts", map[string]any{"sorts": []any{"firstname"}, "limit": 1})
	want(t, status, 200, body)
	if props(results(body)[0])["firstname"] != "Name00" {
		t.Errorf("sorts [\"firstname\"]: %v", body)
	}
	// Limits.
	group := map[string]any{"filters": []any{eq("city", "oslo")}}
	six := map[string]any{"filters": []any{eq("city", "a"), eq("city", "b"), eq("city", "c"), eq("city", "d"), eq("city", "e"), eq("city", "f"), eq("city", "g")}}
	for name, b := range map[string]any{
		"6 groups":     map[string]any{"filterGroups": []any{group, group, group, group, group, group}},
		"7 filters":    map[string]any{"filterGroups": []any{six}},
		"19 filters":   map[string]any{"filterGroups": []any{fourOf(eq), fourOf(eq), fourOf(eq), fourOf(eq), map[string]any{"filters": []any{eq("city", "x"), eq("city", "y"), eq("city", "z")}}}},
		"two sorts":    map[string]any{"sorts": []any{"firstname", "city"}},
		"limit 201":    map[string]any{"limit": 201},
		"after 10000":  map[string]any{"after": "10000"},
		"unknown prop": map[string]any{"filterGroups": []any{map[string]any{"filters": []any{eq("nosuch", "x")}}}},
		"long body":    map[string]any{"query": strings.Repeat("x", 3001)},
	} {
		status, _, body := search(t, srv, "contacts", b)
		if status != 400 || body["category"] != "VALIDATION_ERROR" {
			t.Errorf("%s: status %d body %v, want 400 VALIDATION_ERROR", name, status, body)
		}
	}
	// Archived records are invisible.
	call(t, srv, "DELETE", "/crm/v3/objects/contacts/"+ids[0], nil)
	status, _, body = search(t, srv, "contacts", map[string]any{"filterGroups": []any{map[string]any{"filters": []any{eq("firstname", "Name00")}}}})
	want(t, status, 200, body)
	if body["total"] != 0.0 {
		t.Errorf("an archived record matched: %v", body)
	}
	// String IN values must be lower case.
	in := func(vals ...string) map[string]any {
		return map[string]any{"filterGroups": []any{map[string]any{"filters": []any{map[string]any{"propertyName": "city", "operator": "IN", "values": vals}}}}}
	}
	if _, _, body := search(t, srv, "contacts", in("oslo")); body["total"] != 5.0 {
		t.Errorf("IN [oslo]: total %v, want 5", body["total"])
	}
	if _, _, body := search(t, srv, "contacts", in("Oslo")); body["total"] != 0.0 {
		t.Errorf("IN [Oslo]: total %v, want 0 (HubSpot matches string IN values in lower case)", body["total"])
	}
	// Contacts do not keep hs_lastmodifieddate: a search on it finds nothing.
	since := map[string]any{"filterGroups": []any{map[string]any{"filters": []any{map[string]any{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "0"}}}}}
	if _, _, body := search(t, srv, "contacts", since); body["total"] != 0.0 {
		t.Errorf("contacts by hs_lastmodifieddate: total %v, want 0", body["total"])
	}
	since["filterGroups"].([]any)[0].(map[string]any)["filters"].([]any)[0].(map[string]any)["propertyName"] = "lastmodifieddate"
	if _, _, body := search(t, srv, "contacts", since); body["total"] != 11.0 {
		t.Errorf("contacts by lastmodifieddate: total %v, want 11", body["total"])
	}
}

func fourOf(eq func(p, v string) map[string]any) map[string]any {
	return map[string]any{"filters": []any{eq("city", "a"), eq("city", "b"), eq("city", "c"), eq("city", "d")}}
}

func TestSearchCap(t *testing.T) {
	srv := hubspottest.New(t, hubspottest.WithSearchLimit(0))
	recs := make([]map[string]string, 10_050)
	for i := range recs {
		recs[i] = map[string]string{"firstname": "x"}
	}
	if _, err := srv.Seed("contacts", recs...); err != nil {
		t.Fatal(err)
	}
	status, _, body := search(t, srv, "contacts", map[string]any{"limit": 200, "after": "9900", "properties": []string{"firstname"}})
	want(t, status, 200, body)
	if body["total"] != 10050.0 || len(results(body)) != 100 || body["paging"] != nil {
		t.Errorf("at 9900: total %v, %d results, paging %v; want 10050, 100 and no next page", body["total"], len(results(body)), body["paging"])
	}
	status, _, body = search(t, srv, "contacts", map[string]any{"after": "10000"})
	want(t, status, 400, body)
}

func TestRateLimits(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	srv := hubspottest.New(t, hubspottest.WithClock(clock), hubspottest.WithBurstLimit(3), hubspottest.WithDailyLimit(6), hubspottest.WithSearchLimit(2))
	for i := range 3 {
		status, hdr, body := call(t, srv, "GET", "/crm/v3/objects/contacts", nil)
		want(t, status, 200, body)
		if hdr.Get("X-HubSpot-RateLimit-Max") != "3" || hdr.Get("X-HubSpot-RateLimit-Remaining") != fmt.Sprint(2-i) ||
			hdr.Get("X-HubSpot-RateLimit-Interval-Milliseconds") != "10000" ||
			hdr.Get("X-HubSpot-RateLimit-Daily") != "6" || hdr.Get("X-HubSpot-RateLimit-Daily-Remaining") != fmt.Sprint(5-i) {
			t.Errorf("request %d headers %v", i, hdr)
		}
	}
	status, _, body := call(t, srv, "GET", "/crm/v3/objects/contacts", nil)
	want(t, status, 429, body)
	if body["errorType"] != "RATE_LIMIT" || body["policyName"] != "TEN_SECONDLY_ROLLING" || body["message"] != "You have reached your ten_secondly_rolling limit." ||
		!strings.HasPrefix(body["groupName"].(string), "publicapi:private_app-api-calls-ten-secondly:") {
		t.Errorf("ten-secondly 429 body %v", body)
	}
	// Search has its own limit, and is exempt from the ten-secondly one.
	for range 2 {
		status, _, body := search(t, srv, "contacts", map[string]any{})
		want(t, status, 200, body)
	}
	status, hdr, body := search(t, srv, "contacts", map[string]any{})
	want(t, status, 429, body)
	if body["message"] != "You have reached your secondly limit." || body["errorType"] != "RATE_LIMIT" || hdr.Get("X-HubSpot-RateLimit-Max") != "" {
		t.Errorf("search 429: body %v headers %v", body, hdr)
	}
	now = now.Add(11 * time.Second) // the rolling window has passed; 5 of 6 daily calls are used
	status, _, body = call(t, srv, "GET", "/crm/v3/objects/contacts", nil)
	want(t, status, 200, body)
	status, _, body = call(t, srv, "GET", "/crm/v3/objects/contacts", nil)
	want(t, status, 429, body)
	if body["policyName"] != "DAILY" || body["message"] != "You have reached your daily limit." || body["errorType"] != "RATE_LIMIT" {
		t.Errorf("daily 429 body %v", body)
	}
	now = now.Add(14 * time.Hour) // past midnight
	status, _, body = call(t, srv, "GET", "/crm/v3/objects/contacts", nil)
	want(t, status, 200, body)
	st := srv.Stats()
	if st.Burst429 != 1 || st.Secondly429 != 1 || st.Daily429 != 1 || st.Searches != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestFaults(t *testing.T) {
	srv := hubspottest.New(t)
	srv.Inject(hubspottest.Fault{Path: "/crm/v3/objects/contacts", Status: 503, Times: 2})
	for range 2 {
		status, _, body := call(t, srv, "GET", "/crm/v3/objects/contacts", nil)
		want(t, status, 503, body)
	}
	status, _, body := call(t, srv, "GET", "/crm/v3/objects/contacts", nil)
	want(t, status, 200, body)

	srv.Inject(hubspottest.Fault{Status: 429, Policy: hubspottest.PolicyDaily})
	status, _, body = call(t, srv, "GET", "/crm/v3/objects/companies", nil)
	want(t, status, 429, body)
	if body["policyName"] != "DAILY" {
		t.Errorf("injected daily 429: %v", body)
	}
	srv.Inject(hubspottest.Fault{ExpiredToken: true})
	status, _, body = call(t, srv, "GET", "/crm/v3/objects/companies", nil)
	want(t, status, 401, body)
	if body["category"] != "EXPIRED_AUTHENTICATION" {
		t.Errorf("expired token body %v", body)
	}

	// net/http sends a GET again once when a reused connection resets, so
	// the fault holds until cleared.
	srv.Inject(hubspottest.Fault{Reset: true, Times: -1})
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/crm/v3/objects/contacts", nil)
	req.Header.Set("Authorization", "Bearer x")
	if resp, err := srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a reset connection answered %d", resp.StatusCode)
	}
	srv.ClearFaults()

	srv.Inject(hubspottest.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, "GET", srv.URL+"/crm/v3/objects/contacts", nil)
	req.Header.Set("Authorization", "Bearer x")
	if resp, err := srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a hung request answered %d", resp.StatusCode)
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a hung request failed with %v, want the client's deadline", err)
	}

	// The in-process transport turns a reset into an error too.
	srv.Inject(hubspottest.Fault{Reset: true})
	req, _ = http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/crm/v3/objects/contacts", nil)
	req.Header.Set("Authorization", "Bearer x")
	if resp, err := srv.Transport().RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Errorf("in process, a reset answered %d", resp.StatusCode)
	}
	if n := len(srv.Requests()); n < 8 {
		t.Errorf("the request log has %d entries, want every request", n)
	}
}

func TestOAuth(t *testing.T) {
	srv := hubspottest.New(t, hubspottest.WithApp("cid", "csecret", "http://localhost/cb"), hubspottest.WithTokenLifetime(time.Minute))
	token := func(form url.Values) (int, map[string]any) {
		resp, err := srv.Client().PostForm(srv.URL+"/oauth/v1/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code := srv.AuthorizationCode("http://localhost/cb", "crm.objects.contacts.read")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://localhost/cb"}, "client_id": {"cid"}, "client_secret": {"csecret"}}
	status, tok := token(form)
	want(t, status, 200, tok)
	if tok["token_type"] != "bearer" || tok["expires_in"] != 60.0 || tok["refresh_token"] == nil || tok["token_use"] != "access_token" {
		t.Errorf("token response %v", tok)
	}
	if status, again := token(form); status != 400 || again["status"] != "BAD_AUTH_CODE" {
		t.Errorf("a code used twice: %d %v", status, again)
	}
	st, hdr, body := call(t, srv, "GET", "/crm/v3/objects/contacts", nil, "Authorization", "Bearer "+tok["access_token"].(string))
	want(t, st, 200, body)
	if hdr.Get("X-HubSpot-RateLimit-Daily") != "" {
		t.Errorf("an OAuth call got daily headers")
	}
	srv.ExpireTokens()
	st, _, body = call(t, srv, "GET", "/crm/v3/objects/contacts", nil, "Authorization", "Bearer "+tok["access_token"].(string))
	want(t, st, 401, body)
	status, fresh := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}, "client_id": {"cid"}, "client_secret": {"csecret"}})
	want(t, status, 200, fresh)
	status, bad := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}, "client_id": {"cid"}, "client_secret": {"csecret"}})
	if status != 400 || bad["status"] != "BAD_REFRESH_TOKEN" {
		t.Errorf("unknown refresh token: %d %v", status, bad)
	}
}

func TestAssociations(t *testing.T) {
	srv := hubspottest.New(t)
	contacts, _ := srv.Seed("contacts", map[string]string{"firstname": "A"})
	companies, _ := srv.Seed("companies", map[string]string{"name": "Acme"})
	c, co := contacts[0], companies[0]
	status, _, body := call(t, srv, "PUT", "/crm/objects/2026-03/contacts/"+c+"/associations/default/companies/"+co, nil)
	want(t, status, 200, body)
	status, _, body = call(t, srv, "GET", "/crm/v4/objects/companies/"+co+"/associations/contacts", nil)
	want(t, status, 200, body)
	rs := results(body)
	if len(rs) != 1 || strconv.FormatFloat(rs[0]["toObjectId"].(float64), 'f', -1, 64) != c {
		t.Fatalf("company's contacts: %v", body)
	}
	types := rs[0]["associationTypes"].([]any)[0].(map[string]any)
	if types["typeId"] != 280.0 || types["category"] != "HUBSPOT_DEFINED" {
		t.Errorf("company→contact type %v, want 280 HUBSPOT_DEFINED", types)
	}
	status, _, body = call(t, srv, "POST", "/crm/associations/2026-03/contacts/companies/batch/read", map[string]any{"inputs": []any{map[string]any{"id": c}}})
	want(t, status, 200, body)
	if to := results(body)[0]["to"].([]any); len(to) != 1 {
		t.Errorf("batch read: %v", body)
	}
	status, _, body = call(t, srv, "GET", "/crm/v3/objects/contacts/"+c+"?associations=companies", nil)
	want(t, status, 200, body)
	if body["associations"] == nil {
		t.Errorf("GET ?associations=companies has no associations: %v", body)
	}
	status, _, _ = call(t, srv, "DELETE", "/crm/v4/objects/contacts/"+c+"/associations/companies/"+co, nil)
	want(t, status, 204, nil)
	_, _, body = call(t, srv, "GET", "/crm/v4/objects/companies/"+co+"/associations/contacts", nil)
	if len(results(body)) != 0 {
		t.Errorf("after DELETE: %v", body)
	}
}

func TestProperties(t *testing.T) {
	srv := hubspottest.New(t, hubspottest.WithProperty("contacts", hubspottest.Property{Name: "crmkit_key", Label: "Key", Type: "string", FieldType: "text", HasUniqueValue: true}))
	status, _, body := call(t, srv, "GET", "/crm/properties/2026-03/contacts", nil)
	want(t, status, 200, body)
	found := map[string]map[string]any{}
	for _, p := range results(body) {
		found[p["name"].(string)] = p
	}
	if p := found["crmkit_key"]; p == nil || p["hasUniqueValue"] != true || p["hubspotDefined"] != false {
		t.Errorf("custom property %v", p)
	}
	if p := found["lastmodifieddate"]; p == nil || p["modificationMetadata"].(map[string]any)["readOnlyValue"] != true {
		t.Errorf("lastmodifieddate %v", p)
	}
	if p := found["lifecyclestage"]; p == nil || p["type"] != "enumeration" || len(p["options"].([]any)) == 0 {
		t.Errorf("lifecyclestage %v", p)
	}
	status, _, body = call(t, srv, "GET", "/crm/v3/properties/nosuch", nil)
	want(t, status, 400, body)
}
