package memcrm_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"
)

// Describe an object, upsert a batch on an external id with one result per
// record, then read a filtered query a page at a time.
func Example() {
	ctx := context.Background()
	at := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	drv, err := memcrm.New(memcrm.WithClock(func() time.Time { return at }))
	if err != nil {
		log.Fatal(err)
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		log.Fatal(err)
	}

	schema, err := client.Describe(ctx, "Contact")
	if err != nil {
		log.Fatal(err)
	}
	last, _ := schema.Field("lastname")
	fmt.Printf("%s has %d fields; %s is %s, required=%v; upsert keys: %v\n",
		schema.Object, len(schema.Fields), last.Name, last.Type, last.Required, schema.ExternalIDFields())

	upsert := func(key string, f crm.Fields) crm.Write {
		return crm.Write{Op: crm.OpUpsert, ExternalField: "ExternalId", ExternalValue: key, Fields: f}
	}
	results, err := client.Write(ctx, "Contact", []crm.Write{
		upsert("app-1", crm.Fields{"LastName": "Lovelace", "Score": 90}),
		upsert("app-2", crm.Fields{"LastName": "Babbage", "Score": 75}),
		upsert("app-3", crm.Fields{"LastName": "Byron", "Score": "high"}),
		upsert("app-4", crm.Fields{"LastName": "Somerville", "Score": 82}),
		upsert("app-1", crm.Fields{"Title": "Countess"}),
	})
	if err != nil {
		log.Fatal(err)
	}
	for i, r := range results {
		var ce *crm.Error
		switch {
		case errors.As(r.Err, &ce):
			fmt.Printf("write %d: %s error in %v\n", i, ce.Kind, ce.Fields)
		case r.Created:
			fmt.Printf("write %d: created %s\n", i, r.ID)
		default:
			fmt.Printf("write %d: updated %s\n", i, r.ID)
		}
	}

	q := crm.Query{
		Object:  "Contact",
		Fields:  []string{"LastName", "Score"},
		Where:   crm.Ge("Score", 75),
		OrderBy: []crm.Order{crm.Desc("Score")},
	}
	for page, err := range client.QueryPages(ctx, q, crm.WithPageSize(2)) {
		if err != nil {
			log.Fatal(err)
		}
		for _, r := range page.Records {
			fmt.Printf("  %s %v\n", r.Fields["LastName"], r.Fields["Score"])
		}
		fmt.Printf("page of %d of %d; more: %v\n", len(page.Records), page.Total, page.NextCursor != "")
	}
	// Output:
	// Contact has 16 fields; LastName is string, required=true; upsert keys: [ExternalId]
	// write 0: created contact-1
	// write 1: created contact-2
	// write 2: validation error in [Score]
	// write 3: created contact-3
	// write 4: updated contact-1
	//   Lovelace 90
	//   Somerville 82
	// page of 2 of 3; more: true
	//   Babbage 75
	// page of 1 of 3; more: false
}

// Seed fixtures, then follow the change feed from a stored cursor.
func ExampleDriver_Seed() {
	ctx := context.Background()
	drv, err := memcrm.New()
	if err != nil {
		log.Fatal(err)
	}
	ids, err := drv.Seed("Account", crm.Fields{"Name": "Acme"}, crm.Fields{"Name": "Globex"})
	if err != nil {
		log.Fatal(err)
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		log.Fatal(err)
	}

	var cursor string // stored by the application between runs
	for page, err := range client.Changes(ctx, "Account", cursor) {
		if err != nil {
			log.Fatal(err)
		}
		cursor = page.Cursor
	}
	if err := client.Update(ctx, "Account", ids[0], crm.Fields{"Industry": "Retail"}); err != nil {
		log.Fatal(err)
	}
	if err := client.Delete(ctx, "Account", ids[1]); err != nil {
		log.Fatal(err)
	}
	for page, err := range client.Changes(ctx, "Account", cursor) {
		if err != nil {
			log.Fatal(err)
		}
		for _, c := range page.Changes {
			fmt.Println(c.Kind, c.Record.ID, c.Record.Fields["Name"])
		}
		cursor = page.Cursor
	}
	// Output:
	// updated account-1 Acme
	// deleted account-2 Globex
}
