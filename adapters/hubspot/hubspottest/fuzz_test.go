package hubspottest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
)

// FuzzSearch posts any body to search: the emulator answers 200 or a 400
// with HubSpot's error body, never a 500 or a panic.
func FuzzSearch(f *testing.F) {
	f.Add(`{"filterGroups":[{"filters":[{"propertyName":"createdate","operator":"BETWEEN","value":"0","highValue":"2026-01-01T00:00:00Z"}]}],"sorts":["-firstname"],"limit":3}`)
	f.Add(`{"filterGroups":[{"filters":[{"propertyName":"email","operator":"IN","values":["a",1,true,null]}]}],"after":9999}`)
	f.Add(`{"query":"ada","properties":["email","nosuch"],"sorts":[{"propertyName":"lastmodifieddate","direction":"sideways"}]}`)
	f.Add(`{"filterGroups":[{"filters":[{"propertyName":"lifecyclestage","operator":"NOT_CONTAINS_TOKEN","value":"*"}]}]}`)
	f.Add(`[]`)
	srv := hubspottest.NewInProcess(f, hubspottest.WithSearchLimit(0))
	if _, err := srv.Seed("contacts", map[string]string{"firstname": "Ada", "email": "ada@example.com"}); err != nil {
		f.Fatal(err)
	}
	client := srv.Client()
	f.Fuzz(func(t *testing.T, body string) {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/crm/v3/objects/contacts/search", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer x")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 && resp.StatusCode != 400 {
			t.Fatalf("body %q: status %d, want 200 or 400", body, resp.StatusCode)
		}
	})
}
