package syncengine_test

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/conflict"
	"github.com/crmkit/crmkit/syncengine/memtable"
	"github.com/crmkit/crmkit/syncengine/store/memory"
	"github.com/crmkit/crmkit/syncengine/store/sqlite"
)

// The benchmarks measure the engine's own cost: both endpoints in memory
// (memtable and memcrm, whose calls cost microseconds), the state in a
// SQLite file unless a name says otherwise. They report
//
//   - records/s: changed records synced per second of RunOnce;
//   - calls/1000rec: CRM calls (Report.Calls.CRM, or what the emulated org
//     served) per 1,000 changed records. Writes go in batches of 200, so
//     the floor is 1,000/200 = 5; reading the change feed adds a call or
//     more per run, and the echoes of the engine's own writes come back
//     through the CRM's feed on the next run.
//
// The CRM endpoint asks for feed pages of 2,000, Salesforce's largest query
// page (memcrm's default page is 100, which would add 10 feed calls per
// 1,000 echoes).

const (
	benchBatch = 200
	benchPage  = 2000
)

type benchPair struct {
	app    *memtable.Table
	drv    *memcrm.Driver
	client *crm.Client
	org    *salesforcetest.Server // when the CRM is the emulated org
	eng    *syncengine.Engine
	store  syncengine.Store
}

// newBenchPair pairs a fresh memtable with a fresh memcrm (batch 200), with
// the state in a SQLite file or, with inMemory, in syncengine/store/memory.
func newBenchPair(b *testing.B, inMemory bool) *benchPair {
	b.Helper()
	drv, err := memcrm.New(memcrm.WithMaxBatchSize(benchBatch), memcrm.WithDailyLimit(0))
	if err != nil {
		b.Fatal(err)
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		b.Fatal(err)
	}
	p := &benchPair{drv: drv, client: client}
	p.build(b, memcrmNames, memcrm.ContactSchema(), inMemory)
	return p
}

// newBenchPairSalesforce pairs a fresh memtable with an emulated
// Salesforce org, through the real adapter over HTTP.
func newBenchPairSalesforce(b *testing.B) *benchPair {
	b.Helper()
	org := salesforceOrg(b, nil, salesforcetest.WithLogSize(1))
	client := salesforceClient(b, org)
	schema, err := client.Describe(b.Context(), "Contact")
	if err != nil {
		b.Fatal(err)
	}
	p := &benchPair{client: client, org: org}
	p.build(b, salesforceNames, schema, false)
	return p
}

func (p *benchPair) build(b *testing.B, n crmNames, schema *crm.Schema, inMemory bool) {
	b.Helper()
	m := customerMap(b, n, schema)
	crmEP, err := syncengine.NewCRMEndpoint(p.client, n.Object, n.External,
		syncengine.WithCRMFields(m.CRMFields()...), syncengine.WithCRMPageSize(benchPage))
	if err != nil {
		b.Fatal(err)
	}
	if inMemory {
		p.store = memory.New()
	} else {
		st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "sync.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		p.store = st
	}
	p.app = memtable.New()
	p.eng, err = syncengine.New(p.store, syncengine.Pairing{
		Map: m, App: p.app, CRM: crmEP,
		Match:    []syncengine.MatchRule{{App: "email", CRM: n.Email}},
		Resolver: conflict.SourceOfTruth(conflict.CRM),
	}, syncengine.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
}

// seed fills the application with appN customers and the CRM with crmN
// contacts, overlap of them the same people by email (a fifth of those
// with another name in the CRM).
func (p *benchPair) seed(b *testing.B, n crmNames, appN, crmN, overlap int) {
	b.Helper()
	for i := range appN {
		email := fmt.Sprintf("app-%d@example.com", i)
		if i >= appN-overlap {
			email = fmt.Sprintf("both-%d@example.com", i-(appN-overlap))
		}
		if _, err := p.app.Insert(crm.Fields{"email": email, "name": fmt.Sprintf("Person %d", i), "status": "New"}); err != nil {
			b.Fatal(err)
		}
	}
	recs := make([]crm.Fields, crmN)
	for i := range crmN {
		email, name := fmt.Sprintf("crm-%d@example.com", i), fmt.Sprintf("Contact %d", i)
		if j := i - (crmN - overlap); j >= 0 {
			email, name = fmt.Sprintf("both-%d@example.com", j), fmt.Sprintf("Person %d", appN-overlap+j)
			if j%5 == 0 {
				name = fmt.Sprintf("Renamed %d", j)
			}
		}
		recs[i] = crm.Fields{n.Email: email, n.Name: name, n.Status: n.GoodStatus}
	}
	var err error
	if p.org != nil {
		_, err = p.org.Seed(n.Object, recs...)
	} else {
		_, err = p.drv.Seed(n.Object, recs...)
	}
	if err != nil {
		b.Fatal(err)
	}
}

// settle runs until the pair is quiet, outside the timer.
func (p *benchPair) settle(b *testing.B) {
	b.Helper()
	for range 5 {
		rep, err := p.eng.RunOnce(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if rep.Writes() == 0 && rep.Pending == 0 {
			return
		}
	}
	b.Fatal("the pair did not settle in 5 runs")
}

// BenchmarkInitialLoad syncs 1,000 application customers and 1,000 CRM
// contacts, 200 of them the same people, from scratch: 1,800 records
// created on the other side or matched. records/s counts the 2,000 records
// read; calls/1000rec the CRM calls per 1,000 of them: one feed page holds
// the CRM's 1,000, the 800 creates take 4 upserts of 200, and the 200
// matched need no CRM write (the CRM's values win), so 5 calls, 2.5 per
// 1,000. Matching asks the CRM nothing: its whole feed is in hand.
func BenchmarkInitialLoad(b *testing.B) {
	for _, tc := range []struct {
		name     string
		inMemory bool
	}{{"sqlite", false}, {"memory", true}} {
		b.Run(tc.name, func(b *testing.B) {
			var (
				elapsed           time.Duration
				records, crmCalls int
			)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				p := newBenchPair(b, tc.inMemory)
				p.seed(b, memcrmNames, 1000, 1000, 200)
				b.StartTimer()
				start := time.Now()
				rep, err := p.eng.RunOnce(b.Context())
				elapsed += time.Since(start)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if rep.Created.CRM != 800 || rep.Created.App != 800 || rep.Matched != 200 {
					b.Fatalf("the load should create 800 on each side and match 200:\n%v", rep)
				}
				records += rep.Read.Total()
				crmCalls += rep.Calls.CRM
				b.StartTimer()
			}
			b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(crmCalls)*1000/float64(records), "calls/1000rec")
		})
	}
}

// BenchmarkIncrementalUpdates changes 1,000 of 2,000 synced application
// customers and syncs, then runs once more, as the next poll would, to
// absorb the echoes of its own writes from the CRM's feed. calls/1000rec
// counts the CRM calls of both runs: 1 empty feed page and 5 batches of 200
// updates in the first, 1 page of 1,000 echoes in the second, so 7 against
// the floor of 5; write-calls/1000rec counts the first run's alone (6).
func BenchmarkIncrementalUpdates(b *testing.B) {
	for _, tc := range []struct {
		name     string
		inMemory bool
	}{{"sqlite", false}, {"memory", true}} {
		b.Run(tc.name, func(b *testing.B) {
			p := newBenchPair(b, tc.inMemory)
			benchIncremental(b, p, memcrmNames, func(rep, echo *syncengine.Report) int {
				return rep.Calls.CRM + echo.Calls.CRM
			}, func(rep *syncengine.Report) int { return rep.Calls.CRM })
		})
	}
}

// BenchmarkIncrementalUpdatesSalesforce is BenchmarkIncrementalUpdates
// against the emulated org, through the real adapter over HTTP, with the
// calls counted by the org itself: the wire cost, describe and the
// adapter's own requests included.
func BenchmarkIncrementalUpdatesSalesforce(b *testing.B) {
	p := newBenchPairSalesforce(b)
	var before, mid int
	benchIncremental(b, p, salesforceNames, func(_, _ *syncengine.Report) int {
		return p.org.Total() - before
	}, func(*syncengine.Report) int { return mid - before }, func(stage int) {
		switch stage {
		case 0:
			before = p.org.Total()
		case 1:
			mid = p.org.Total()
		}
	})
}

// benchIncremental runs the incremental benchmark on p: total says how
// many CRM calls the write run and the echo run made together, write how
// many the write run made; mark, if given, is told when each run starts.
func benchIncremental(b *testing.B, p *benchPair, n crmNames, total func(rep, echo *syncengine.Report) int,
	write func(rep *syncengine.Report) int, mark ...func(stage int)) {
	b.Helper()
	const size, changed = 2000, 1000
	p.seed(b, n, size, 0, 0)
	p.settle(b)
	ids := make([]string, 0, size)
	for _, r := range p.app.Records() {
		ids = append(ids, r.ID)
	}
	at := func(stage int) {
		for _, m := range mark {
			m(stage)
		}
	}
	var (
		elapsed            time.Duration
		records, calls, wc int
		iter               int
	)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		iter++
		for i := range changed {
			id := ids[(iter*changed+i)%len(ids)]
			if err := p.app.Modify(id, crm.Fields{"name": fmt.Sprintf("Person %s v%d", id, iter)}); err != nil {
				b.Fatal(err)
			}
		}
		at(0)
		b.StartTimer()
		start := time.Now()
		rep, err := p.eng.RunOnce(b.Context())
		b.StopTimer()
		at(1)
		b.StartTimer()
		var echo *syncengine.Report
		if err == nil {
			echo, err = p.eng.RunOnce(b.Context())
		}
		elapsed += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if rep.Updated.CRM != changed || echo.Writes() != 0 || echo.Echoes < changed {
			b.Fatalf("want %d updates, then their echoes skipped:\n%v\n%v", changed, rep, echo)
		}
		records += changed
		calls += total(rep, echo)
		wc += write(rep)
		b.StartTimer()
	}
	b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(calls)*1000/float64(records), "calls/1000rec")
	b.ReportMetric(float64(wc)*1000/float64(records), "write-calls/1000rec")
}

// BenchmarkQuiet is the cost of a run that finds nothing to do, over 2,000
// synced pairs: what every poll of a quiet pairing costs. calls/run are its
// CRM calls (one empty feed page).
func BenchmarkQuiet(b *testing.B) {
	p := newBenchPair(b, false)
	p.seed(b, memcrmNames, 1000, 1000, 0)
	p.settle(b)
	calls := 0
	b.ReportAllocs()
	for b.Loop() {
		rep, err := p.eng.RunOnce(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if rep.Writes() != 0 || rep.Read.Total() != 0 {
			b.Fatalf("a quiet pair's run should read and write nothing:\n%v", rep)
		}
		calls += rep.Calls.CRM
	}
	b.ReportMetric(float64(calls)/float64(b.N), "calls/run")
}
