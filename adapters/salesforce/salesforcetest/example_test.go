package salesforcetest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm"
)

// The emulated org speaks Salesforce's REST API to any HTTP client: here a
// plain one, as a client in another language would be.
func ExampleNewServer() {
	org, err := salesforcetest.NewServer(salesforcetest.WithDailyLimit(100))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer org.Close()
	if _, err := org.Seed("Account", crm.Fields{"Name": "Acme"}, crm.Fields{"Name": "Globex"}); err != nil {
		fmt.Println(err)
		return
	}

	call := func(method, path, body string) {
		req, _ := http.NewRequest(method, org.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+org.Token())
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, resp.Header.Get("Sforce-Limit-Info"), strings.TrimSpace(string(b)))
	}
	call("GET", "/services/data/v63.0/query?q="+url.QueryEscape("SELECT Name FROM Account WHERE Name LIKE 'G%'"), "")
	call("POST", "/services/data/v63.0/sobjects/Account", `{"Site":"no name"}`)
	fmt.Println("queries:", org.Count("query"), "creates:", org.Count("sobject.create"))
	// Output:
	// 200 api-usage=1/100 {"totalSize":1,"done":true,"records":[{"attributes":{"type":"Account","url":"/services/data/v63.0/sobjects/Account/001Dm0000000002IAA"},"Name":"Globex"}]}
	// 400 api-usage=2/100 [{"message":"Required fields are missing: [Name]","errorCode":"REQUIRED_FIELD_MISSING","fields":["Name"]}]
	// queries: 1 creates: 1
}
