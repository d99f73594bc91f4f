package hubspot_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/crmkit/crmkit/adapters/hubspot"
	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
	"github.com/crmkit/crmkit/crm"
)

// A driver against an emulated portal, wrapped in a crm.Client: upsert by a
// unique property, then search.
func Example() {
	srv, err := hubspottest.NewServer(hubspottest.WithProperty("contacts",
		hubspottest.Property{Name: "erp_id", Label: "ERP id", Type: "string", FieldType: "text", HasUniqueValue: true}))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	drv, err := hubspot.New(
		hubspot.WithBaseURL(srv.URL), // in production, leave it: https://api.hubapi.com
		hubspot.WithHTTPClient(srv.Client()),
		hubspot.WithPrivateAppToken("pat-na1-example"),
	)
	if err != nil {
		log.Fatal(err)
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct{ erp, first, city string }{{"E-1", "Ada", "London"}, {"E-2", "Grace", "Arlington"}, {"E-1", "Ada", "Paris"}} {
		r, err := client.Upsert(ctx, "contacts", "erp_id", c.erp, crm.Fields{"firstname": c.first, "city": c.city})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: created=%v\n", c.erp, r.Created)
	}
	q := crm.Query{Object: "contacts", Where: crm.In("city", "Paris", "Arlington"), Fields: []string{"firstname", "city"}, OrderBy: []crm.Order{crm.Asc("firstname")}}
	for rec, err := range client.Query(ctx, q) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec.Fields["firstname"], rec.Fields["city"])
	}
	// Output:
	// E-1: created=true
	// E-2: created=true
	// E-1: created=false
	// Ada Paris
	// Grace Arlington
}

// A daily 429 is crm.KindQuotaExhausted, not retried: the account's
// allocation, shared by every app, is spent until midnight.
func Example_quotaExhausted() {
	srv, err := hubspottest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	drv, err := hubspot.New(hubspot.WithBaseURL(srv.URL), hubspot.WithPrivateAppToken("pat-na1-example"))
	if err != nil {
		log.Fatal(err)
	}
	srv.UseDaily(hubspottest.DefaultDailyLimit)

	_, err = drv.Describe(context.Background(), "contacts")
	var ce *crm.Error
	if errors.As(err, &ce) {
		fmt.Println(ce.Kind, ce.StatusCode, ce.Code, ce.Retryable())
		fmt.Println(ce.Remedy())
	}
	// Output:
	// quota exhausted 429 RATE_LIMIT/DAILY false
	// stop until the quota window resets, or raise the CRM's allocation
}
