package crm_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"
)

// BenchmarkClientQuery iterates 100,000 records through Client.Query over the
// in-memory driver, in pages of 2,000, and reports the cost per record: the
// overhead the Client and the driver add on top of whatever the CRM costs.
func BenchmarkClientQuery(b *testing.B) {
	const records = 100_000
	drv, err := memcrm.New(memcrm.WithMaxBatchSize(2000))
	if err != nil {
		b.Fatal(err)
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		b.Fatal(err)
	}
	ws := make([]crm.Write, records)
	for i := range ws {
		ws[i] = crm.Write{Op: crm.OpCreate, Fields: crm.Fields{
			"LastName": fmt.Sprintf("Person %06d", i), "Email": fmt.Sprintf("p%06d@example.com", i),
			"Score": int64(i % 100), "AnnualValue": crm.NewDecimal(int64(i), 2),
		}}
	}
	res, err := client.Write(b.Context(), "Contact", ws)
	if err != nil || res.Err() != nil {
		b.Fatal(err, res.Err())
	}
	q := crm.Query{Object: "Contact", Fields: []string{"LastName", "Email", "Score", "AnnualValue"}}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for _, err := range client.Query(b.Context(), q, crm.WithPageSize(2000)) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != records {
			b.Fatalf("iterated %d records, want %d", n, records)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	total := float64(b.N) * records
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/record")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/record")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/record")
}
