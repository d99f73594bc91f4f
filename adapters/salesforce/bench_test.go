package salesforce_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/salesforce"
	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm"
)

// BenchmarkUpsert10000 upserts 10,000 records by external id through the
// Client and sObject Collections, against the emulator in the same
// process, and reports records a second and the API calls each 10,000 took
// (the floor is 50: 200 a call). BenchmarkUpsert10000Bulk does the same
// through a Bulk API 2.0 ingest job.
func BenchmarkUpsert10000(b *testing.B) { benchmarkUpsert(b, crm.BulkNever) }

func BenchmarkUpsert10000Bulk(b *testing.B) {
	benchmarkUpsert(b, crm.BulkAlways, salesforce.WithBulkPollInterval(time.Millisecond))
}

// benchmarkUpsert upserts 10,000 contacts a round through the Client, with
// the bulk API or without, and reports records a second and calls a round.
func benchmarkUpsert(b *testing.B, bulk crm.BulkMode, opts ...salesforce.Option) {
	const n = 10000
	srv := salesforcetest.New(b, contactFields, salesforcetest.WithDailyLimit(0))
	d := newDriver(b, srv, opts...)
	c, err := crm.NewClient(d)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.Describe(b.Context(), "Contact"); err != nil {
		b.Fatal(err)
	}
	ws := make([]crm.Write, n)
	round := 0
	srv.ResetLog()
	b.ReportAllocs()
	for b.Loop() {
		round++
		for i := range ws {
			ws[i] = crm.Write{Op: crm.OpUpsert, ExternalField: "External_Id__c", ExternalValue: fmt.Sprintf("B-%d", i),
				Fields: crm.Fields{"LastName": fmt.Sprintf("Bench %d/%d", i, round), "Score__c": crm.NewDecimal(int64(i), 2)}}
		}
		rs, err := c.Write(b.Context(), "Contact", ws, crm.WithBulk(bulk))
		if err != nil || rs.Err() != nil {
			b.Fatal(err, rs.Err())
		}
	}
	b.ReportMetric(float64(n*round)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(srv.Total())/float64(round), "calls/op")
}

// BenchmarkQuery100000 iterates 100,000 records of a lean custom object
// through the Client's streaming iterator and reports the bytes allocated
// per record (the emulator, in the same process, included) and how much
// the live heap grew while iterating, measured after a collection every ten
// pages: the iterator holds one page at a time, so the growth stays near a
// page's worth (plus the emulator's query locator) whatever the total.
func BenchmarkQuery100000(b *testing.B) {
	const n = 100000
	srv := salesforcetest.New(b, salesforcetest.WithDailyLimit(0), salesforcetest.WithObject(salesforcetest.Object{
		Name: "Reading__c", Fields: []salesforcetest.Field{
			{Name: "Value__c", Type: "double", Precision: 18, Scale: 4},
			{Name: "Source__c", Type: "string", Length: 40},
		}}))
	recs := make([]crm.Fields, n)
	for i := range recs {
		recs[i] = crm.Fields{"Name": fmt.Sprintf("R-%06d", i), "Value__c": crm.NewDecimal(int64(i), 4), "Source__c": "meter"}
	}
	if _, err := srv.Seed("Reading__c", recs...); err != nil {
		b.Fatal(err)
	}
	recs = nil
	d := newDriver(b, srv)
	c, err := crm.NewClient(d)
	if err != nil {
		b.Fatal(err)
	}
	q := crm.Query{Object: "Reading__c", Fields: []string{"Name", "Value__c", "Source__c"}}
	var before, after, peak runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	total := 0
	b.ReportAllocs()
	for b.Loop() {
		count := 0
		for page, err := range c.QueryPages(b.Context(), q, crm.WithPageSize(salesforce.MaxPageSize)) {
			if err != nil {
				b.Fatal(err)
			}
			count += len(page.Records)
			if count%(10*salesforce.MaxPageSize) == 0 {
				// The live heap, mid-iteration: after a collection only what
				// is still referenced remains.
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak.HeapAlloc {
					peak = m
				}
			}
		}
		if count != n {
			b.Fatalf("read %d records, want %d", count, n)
		}
		total += count
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(total), "B/record")
	b.ReportMetric(float64(int64(peak.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "live-heap-growth-MB")
}
