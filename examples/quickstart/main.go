// Command quickstart is crmkit's tour in one program. It runs against the
// in-memory CRM driver, so it needs no account and no network:
//
//	go run ./examples/quickstart
//
// It describes an object, upserts a batch of contacts by an external id (two
// of them bad on purpose, to show per-record results), runs a filtered query
// page by page, resumes it from a saved cursor, re-runs the upsert to show
// that a retried create never makes a duplicate, and reads the change feed.
//
// Swap memcrm.New for a Salesforce, HubSpot or Dynamics driver and the rest
// of the program stays the same.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	drv, err := memcrm.New()
	if err != nil {
		return err
	}
	// WithSchemaChecks refuses a write to an unknown or read-only field
	// before any call is made, naming the field.
	client, err := crm.NewClient(drv, crm.WithSchemaChecks(0))
	if err != nil {
		return err
	}

	// 1. Describe: what fields does a Contact have, and which can we write?
	schema, err := client.Describe(ctx, "Contact")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "== Describe %s: %d fields\n", schema.Object, len(schema.Fields))
	for _, f := range schema.Fields {
		var flags []string
		if f.Required {
			flags = append(flags, "required")
		}
		if !f.Createable && !f.Updateable {
			flags = append(flags, "read-only")
		}
		if f.ExternalID {
			flags = append(flags, "external id")
		}
		if f.Unique {
			flags = append(flags, "unique")
		}
		fmt.Fprintf(out, "   %-18s %-14s %s\n", f.Name, f.Type, strings.Join(flags, ", "))
	}

	// 2. A batched upsert by external id: 250 contacts go out in two batches
	// of the driver's size, and come back as 250 results.
	writes := contacts(250)
	writes[17].Fields["Status"] = "Gone fishing"             // not a value of the picklist
	writes[203].Fields["CreatedAt"] = "2020-01-01T00:00:00Z" // a read-only field
	results, err := client.Write(ctx, "Contact", writes)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== Upsert %d contacts by ExternalId: %d created, %d failed\n",
		len(writes), countCreated(results), len(results.Failed()))
	for _, i := range results.Failed() {
		fmt.Fprintf(out, "   write %d (%s): %v\n      remedy: %s\n",
			i, writes[i].ExternalValue, results[i].Err, crm.KindOf(results[i].Err).Remedy())
	}

	// 3. A filtered query, read page by page; each page's cursor can be
	// stored and the read resumed later, even by another process.
	q := crm.Query{
		Object:  "Contact",
		Fields:  []string{"LastName", "Email", "AnnualValue"},
		Where:   crm.And(crm.Eq("Status", "Customer"), crm.Ge("AnnualValue", crm.MustDecimal("1000.00"))),
		OrderBy: []crm.Order{crm.Desc("AnnualValue")},
	}
	fmt.Fprintf(out, "\n== Query: %s\n", q.Where)
	var saved string
	pages, total := 0, 0
	for page, err := range client.QueryPages(ctx, q, crm.WithPageSize(40)) {
		if err != nil {
			return err
		}
		pages++
		total += len(page.Records)
		if len(page.Records) > 0 {
			first := page.Records[0]
			fmt.Fprintf(out, "   page %d: %d records, first %s %v\n", pages, len(page.Records), first.Fields["LastName"], first.Fields["AnnualValue"])
		}
		if pages == 2 {
			saved = page.NextCursor
		}
	}
	fmt.Fprintf(out, "   %d records in %d pages\n", total, pages)

	resumed := 0
	for _, err := range client.Query(ctx, q, crm.WithPageSize(40), crm.WithCursor(saved)) {
		if err != nil {
			return err
		}
		resumed++
	}
	fmt.Fprintf(out, "   resumed from page 2's cursor: %d records remain\n", resumed)

	// 4. The same upsert again, as a retry would send it: nothing is
	// created twice.
	again, err := client.Write(ctx, "Contact", contacts(250))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== The same upsert again: %d created (the two refused before, now valid), %d updated, %d failed\n",
		countCreated(again), len(again)-countCreated(again)-len(again.Failed()), len(again.Failed()))

	// 5. The change feed: everything since the beginning, page by page.
	// A real integration stores page.Cursor after each page.
	changes, cursor := 0, ""
	for page, err := range client.Changes(ctx, "Contact", "", crm.WithPageSize(100)) {
		if err != nil {
			return err
		}
		changes += len(page.Changes)
		cursor = page.Cursor
	}
	fmt.Fprintf(out, "\n== Change feed: %d changes; store cursor %q to resume\n", changes, clip(cursor))
	return nil
}

// contacts builds n upserts keyed by the application's own id.
func contacts(n int) []crm.Write {
	statuses := []string{"Customer", "Customer", "Qualified", "New"}
	ws := make([]crm.Write, n)
	for i := range ws {
		ws[i] = crm.Write{
			Op:            crm.OpUpsert,
			ExternalField: "ExternalId",
			ExternalValue: fmt.Sprintf("app-%04d", i),
			Fields: crm.Fields{
				"FirstName":   "Ada",
				"LastName":    fmt.Sprintf("Lovelace-%04d", i),
				"Email":       fmt.Sprintf("ada.%04d@example.com", i),
				"Status":      statuses[i%len(statuses)],
				"AnnualValue": crm.NewDecimal(int64(i)*1250, 2), // exact: 12.50 per step
			},
		}
	}
	return ws
}

func countCreated(rs crm.WriteResults) int {
	n := 0
	for _, r := range rs {
		if r.Err == nil && r.Created {
			n++
		}
	}
	return n
}

func clip(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}
