package dynamics_test

import (
	"fmt"
	"testing"

	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
	"github.com/crmkit/crmkit/crm"
)

// BenchmarkUpsert10000 upserts 10,000 contacts by their alternate key
// through crm.Client.Write, which sends them in $batch requests of 1,000:
// the first round creates them, every later one updates them. It reports
// records a second and the HTTP calls each round used (the floor is 10).
func BenchmarkUpsert10000(b *testing.B) {
	srv := dynamicstest.New(b)
	d := newDriver(b, srv)
	c := newClient(b, d)
	if _, err := d.Describe(b.Context(), "contact"); err != nil {
		b.Fatal(err)
	}
	const n = 10000
	ws := make([]crm.Write, n)
	for i := range ws {
		ws[i] = crm.Write{Op: crm.OpUpsert, ExternalField: "crmkit_externalid", ExternalValue: fmt.Sprintf("EXT-%05d", i),
			Fields: crm.Fields{"lastname": fmt.Sprintf("Contact %05d", i), "numberofchildren": int64(i % 7)}}
	}
	srv.Log().Reset()
	b.ResetTimer()
	for b.Loop() {
		rs, err := c.Write(b.Context(), "contact", ws)
		if err != nil {
			b.Fatal(err)
		}
		if err := rs.Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(srv.Log().Total())/float64(b.N), "http-calls/op")
	if got, _ := srv.Len("contact"); got != n {
		b.Fatalf("%d contacts after the upserts, want %d", got, n)
	}
}
