package hubspottest_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"

	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
)

// The emulator answers any HTTP client as HubSpot would, here a plain one
// creating a contact and reading it back by email.
func Example() {
	srv, err := hubspottest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	send := func(method, path, body string) string {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer pat-na1-example")
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprint(resp.StatusCode, " ", len(b) > 0)
	}
	fmt.Println(send("POST", "/crm/objects/2026-03/contacts", `{"properties":{"email":"ada@example.com","firstname":"Ada"}}`))
	fmt.Println(send("GET", "/crm/v3/objects/contacts/ada%40example.com?idProperty=email&properties=firstname", ""))
	fmt.Println(send("GET", "/crm/v3/objects/contacts/999", ""))
	st := srv.Stats()
	fmt.Println(st.Requests, st.ByStatus[201], st.ByStatus[200], st.ByStatus[404])
	// Output:
	// 201 true
	// 200 true
	// 404 true
	// 3 1 1 1
}
