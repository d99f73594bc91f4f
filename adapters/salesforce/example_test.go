package salesforce_test

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/adapters/salesforce"
	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm"
)

// A Salesforce driver inside a crm.Client, against an emulated org: an
// upsert by external id, then a query whose literal is escaped for SOQL.
func Example() {
	org, err := salesforcetest.NewServer(salesforcetest.WithFields("Contact",
		salesforcetest.Field{Name: "Ext__c", Type: "string", ExternalID: true, Unique: true}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer org.Close()

	drv, err := salesforce.New(
		salesforce.WithInstanceURL(org.URL),
		salesforce.WithTokenSource(org.TokenSource()),
		salesforce.WithAppName("example-sync"),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	res, err := client.Upsert(ctx, "Contact", "Ext__c", "A-1", crm.Fields{"LastName": "O'Brien", "Email": "obrien@example.com"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("created:", res.Created)

	for rec, err := range client.Query(ctx, crm.Query{Object: "Contact", Fields: []string{"LastName", "Email"}, Where: crm.Eq("LastName", "O'Brien")}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(rec.Fields["LastName"], rec.Fields["Email"], rec.ID == res.ID)
	}

	_, err = client.Create(ctx, "Contact", crm.Fields{"FirstName": "Nameless"})
	fmt.Println(crm.KindOf(err), err.(*crm.Error).Code)
	// Output:
	// created: true
	// O'Brien obrien@example.com true
	// validation REQUIRED_FIELD_MISSING
}
