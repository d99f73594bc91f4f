package dynamicstest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
)

// ExampleNewServer starts a standalone emulated environment and creates an
// account through the Web API, as any Dataverse client would.
func ExampleNewServer() {
	srv, err := dynamicstest.NewServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.APIURL()+"accounts?$select=name,industrycode",
		strings.NewReader(`{"name":"Contoso","industrycode":7}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", `return=representation,odata.include-annotations="OData.Community.Display.V1.FormattedValue"`)
	resp, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status)
	fmt.Println(strings.Contains(string(body), `"industrycode@OData.Community.Display.V1.FormattedValue":"Consulting"`))
	n, _ := srv.Len("account")
	fmt.Println(n, "account")
	// Output:
	// 201 Created
	// true
	// 1 account
}
