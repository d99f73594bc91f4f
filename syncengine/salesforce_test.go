package syncengine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/salesforce"
	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm"
)

var salesforceNames = crmNames{Object: "Contact", Email: "Email", Name: "LastName", Phone: "Phone",
	Status: "Status__c", Notes: "Description", Unmapped: "Title", External: "App_Id__c",
	GoodStatus: "Customer", LostStatus: "Lost", BadStatus: "Platinum"}

// salesforceOrg starts an emulated org with the custom fields the pairing
// needs: a restricted status picklist and the external id the engine
// upserts on.
func salesforceOrg(t testing.TB, clk *clock, opts ...salesforcetest.Option) *salesforcetest.Server {
	base := []salesforcetest.Option{
		salesforcetest.WithFields("Contact",
			salesforcetest.Field{Name: "Status__c", Type: "picklist", Picklist: []string{"New", "Customer", "Lost"}},
			salesforcetest.Field{Name: "App_Id__c", Type: "string", Length: 64, ExternalID: true, Unique: true},
		),
		salesforcetest.WithDailyLimit(0),
	}
	if clk != nil {
		base = append(base, salesforcetest.WithClock(clk.Now))
	}
	return salesforcetest.New(t, append(base, opts...)...)
}

func salesforceClient(t testing.TB, org *salesforcetest.Server, opts ...salesforce.Option) *crm.Client {
	t.Helper()
	drv, err := salesforce.New(append([]salesforce.Option{
		salesforce.WithInstanceURL(org.URL),
		salesforce.WithTokenSource(org.TokenSource()),
		salesforce.WithHTTPClient(org.Client()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

var salesforceBackend = backend{name: "salesforce", fieldNames: salesforceNames,
	open: func(t testing.TB, clk *clock) (*crm.Client, *crm.Schema, crmNames) {
		client := salesforceClient(t, salesforceOrg(t, clk))
		schema, err := client.Describe(context.Background(), "Contact")
		if err != nil {
			t.Fatal(err)
		}
		return client, schema, salesforceNames
	}}

// sfEnv is a pairing against an emulated org the test can reach into.
func sfEnv(t *testing.T, opts ...envOption) (*env, *salesforcetest.Server) {
	var org *salesforcetest.Server
	b := salesforceBackend
	b.open = func(t testing.TB, clk *clock) (*crm.Client, *crm.Schema, crmNames) {
		org = salesforceOrg(t, clk)
		client := salesforceClient(t, org)
		schema, err := client.Describe(context.Background(), "Contact")
		if err != nil {
			t.Fatal(err)
		}
		return client, schema, salesforceNames
	}
	e := newEnvOn(t, b, opts...)
	return e, org
}

// A row whose transaction committed late, stamped behind rows the engine
// has already read past, is still synced: the feed re-reads a lookback
// window, and the engine applies what it has seen before as a no-op.
func TestSalesforceLateCommittedRowIsCaught(t *testing.T) {
	e, _ := sfEnv(t)
	e.crmCreate(e.c("Email", "early@example.com", "Name", "Early"))
	e.run()
	e.clock.Advance(10 * time.Second)
	e.crmCreate(e.c("Email", "later@example.com", "Name", "Later"))
	e.run() // the cursor is now past "later"

	// A transaction that began 20 seconds ago commits now.
	e.clock.Advance(-20 * time.Second)
	e.crmCreate(e.c("Email", "late@example.com", "Name", "Late"))
	e.clock.Advance(21 * time.Second)

	rep := e.run()
	if rep.Created.App != 1 {
		t.Fatalf("the late row should reach the app:\n%v", rep)
	}
	if _, ok := e.appCustomers()["late@example.com"]; !ok {
		t.Fatal("the late row is missing from the app")
	}
	e.agree()
	e.quiet()
}

// The org commits a batch of upserts and the connection drops before the
// answer arrives: the engine (or the transport) sends it again, and the
// upsert on the sync key makes no duplicate.
func TestSalesforceCreateRetriedAfterLostResponse(t *testing.T) {
	e, org := sfEnv(t)
	for i := range 3 {
		e.appInsert(crm.Fields{"email": fmt.Sprintf("p%d@example.com", i), "name": "P"})
	}
	org.Inject("collections.upsert", 2, salesforcetest.ConnectionReset().AfterWork())
	rep := e.run()
	if n := org.Count("collections.upsert"); n < 3 {
		t.Fatalf("the upsert should have been sent 3 times (two lost answers), was sent %d times", n)
	}
	if got := len(e.crmContacts()); got != 3 {
		t.Fatalf("the org holds %d contacts after retried creates, want 3 (report %v)", got, rep)
	}
	e.agree()
	e.quiet()
}
