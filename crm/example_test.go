package crm_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"
)

func newExampleClient() *crm.Client {
	drv, err := memcrm.New()
	if err != nil {
		log.Fatal(err)
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		log.Fatal(err)
	}
	return client
}

// Query streams records a page at a time; breaking out of the loop stops the
// reads.
func ExampleClient_Query() {
	ctx := context.Background()
	client := newExampleClient()
	for i, name := range []string{"Hopper", "Lovelace", "Hamilton", "Turing"} {
		_, err := client.Create(ctx, "Contact", crm.Fields{"LastName": name, "Score": int64(10 * i)})
		if err != nil {
			log.Fatal(err)
		}
	}

	q := crm.Query{
		Object:  "Contact",
		Fields:  []string{"LastName", "Score"},
		Where:   crm.Or(crm.Contains("LastName", "ha"), crm.Gt("Score", int64(25))),
		OrderBy: []crm.Order{crm.Asc("LastName")},
	}
	for rec, err := range client.Query(ctx, q, crm.WithPageSize(2)) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec.Fields["LastName"], rec.Fields["Score"])
	}
	// Output:
	// Hamilton 20
	// Turing 30
}

// Write returns one result per record, so one bad record does not hide the
// others' outcome; upserts by an external id never make duplicates.
func ExampleClient_Write() {
	ctx := context.Background()
	client := newExampleClient()
	writes := []crm.Write{
		{Op: crm.OpUpsert, ExternalField: "ExternalId", ExternalValue: "app-1", Fields: crm.Fields{"LastName": "Lovelace"}},
		{Op: crm.OpUpsert, ExternalField: "ExternalId", ExternalValue: "app-2", Fields: crm.Fields{"LastName": "Hopper", "Score": "lots"}},
		{Op: crm.OpUpsert, ExternalField: "ExternalId", ExternalValue: "app-1", Fields: crm.Fields{"Title": "Countess"}},
	}
	results, err := client.Write(ctx, "Contact", writes)
	if err != nil {
		log.Fatal(err)
	}
	for i, r := range results {
		if r.Err != nil {
			fmt.Printf("%d: failed: %s\n", i, crm.KindOf(r.Err))
			continue
		}
		fmt.Printf("%d: created=%v same record as 0: %v\n", i, r.Created, r.ID == results[0].ID)
	}
	// Output:
	// 0: created=true same record as 0: true
	// 1: failed: validation
	// 2: created=false same record as 0: true
}

// Errors carry a kind that says what to do; the sentinels match on it.
func ExampleError() {
	ctx := context.Background()
	client := newExampleClient()
	_, err := client.Get(ctx, "Contact", "003000000000000")
	var ce *crm.Error
	if errors.As(err, &ce) {
		fmt.Println(errors.Is(err, crm.ErrNotFound), ce.Kind.Retryable())
		fmt.Println(ce.Kind.Remedy())
	}
	// Output:
	// true false
	// check the object and record id; the record may have been deleted
}

// Decimal keeps money exact, and keeps the scale it was written with.
func ExampleDecimal() {
	price := crm.MustDecimal("19.90")
	fmt.Println(price, price.Equal(crm.MustDecimal("19.9")), price.Round(0))
	// Output: 19.90 true 20
}

// The change feed yields pages; store each page's cursor after processing it
// and pass it back to resume, even after a restart. Like the CRMs' own feeds,
// it reports each record's latest state, not every intermediate write.
func ExampleClient_Changes() {
	ctx := context.Background()
	client := newExampleClient()
	id, _ := client.Create(ctx, "Contact", crm.Fields{"LastName": "Lovelace"})
	other, _ := client.Create(ctx, "Contact", crm.Fields{"LastName": "Hopper"})

	var cursor string
	for page, err := range client.Changes(ctx, "Contact", "") {
		if err != nil {
			log.Fatal(err)
		}
		cursor = page.Cursor // persist this
	}

	_ = client.Update(ctx, "Contact", other, crm.Fields{"Title": "Rear Admiral"})
	_ = client.Update(ctx, "Contact", id, crm.Fields{"Title": "Countess"})
	_ = client.Delete(ctx, "Contact", other)
	for page, err := range client.Changes(ctx, "Contact", cursor) {
		if err != nil {
			log.Fatal(err)
		}
		for _, ch := range page.Changes {
			fmt.Println(ch.Kind, ch.Record.Fields["LastName"], ch.Record.Deleted)
		}
	}
	// Output:
	// updated Lovelace false
	// deleted Hopper true
}
