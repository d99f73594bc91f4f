package hubspot_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/hubspot"
	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
	"github.com/crmkit/crmkit/crm"
)

// BenchmarkUpsert10000 upserts 10,000 contacts through the Client against
// an emulated portal with a ten-secondly limit, and reports the records per
// second reached, the ceiling the limit allows (limit × 100 records per 10
// seconds), and the 429s received. The goal is no 429: the driver paces
// itself, and slows further when the X-HubSpot-RateLimit-* headers say the
// window is nearly spent.
//
//   - paced: the driver is told the portal's limit (WithTenSecondlyLimit).
//   - learned: the portal's limit is half what the driver assumes, so only
//     the headers can slow it.
func BenchmarkUpsert10000(b *testing.B) {
	for _, c := range []struct {
		name          string
		portal, drive int
	}{
		{"paced", 100, 100},
		{"learned", 50, 100},
	} {
		b.Run(c.name, func(b *testing.B) {
			const n = 10_000
			ws := make([]crm.Write, n)
			for i := range ws {
				ws[i] = crm.Write{Op: crm.OpUpsert, ExternalField: "crmkit_external_id", ExternalValue: fmt.Sprintf("bench-%05d", i),
					Fields: crm.Fields{"firstname": fmt.Sprint("Bench ", i), "crmkit_score": int64(i)}}
			}
			var elapsed time.Duration
			var rejected int
			for b.Loop() {
				srv := hubspottest.New(b, append(testProps, hubspottest.WithBurstLimit(c.portal))...)
				drv := newDriver(b, srv, hubspot.WithTenSecondlyLimit(c.drive))
				client, _ := crm.NewClient(drv)
				start := time.Now()
				rs, err := client.Write(b.Context(), "contacts", ws)
				if err != nil {
					b.Fatal(err)
				}
				if err := rs.Err(); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				rejected += srv.Stats().Burst429
			}
			runs := float64(b.N)
			b.ReportMetric(runs*n/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(c.portal)*100/10, "ceiling-records/s")
			b.ReportMetric(float64(rejected)/runs, "429s/op")
		})
	}
}
