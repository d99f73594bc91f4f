package mapping_test

import (
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/mapping"
)

const benchRecords = 100_000

// benchMap is a map of 30 fields in the mix a real integration has: half
// plain text, the rest numbers, a decimal, a checkbox, a picklist, a
// multi-select, a truncation, a date-time and a date across zones, number
// text, money in cents, yes/no text, a reference, a hash, a mask and a
// constant.
func benchMap(b *testing.B) (*mapping.Map, *mapping.MemoryLinks) {
	b.Helper()
	app := []mapping.AppField{}
	fields := []crm.Field{}
	rules := []mapping.Rule{}
	add := func(kind crm.ValueKind, f crm.Field, r mapping.Rule) {
		name := fmt.Sprintf("f%02d", len(rules))
		f.Name = "F" + name[1:] + "__c"
		f.Createable, f.Updateable, f.Nillable = true, true, true
		app = append(app, mapping.AppField{Name: name, Kind: kind, Length: f.Length})
		fields = append(fields, f)
		r.App, r.CRM = name, f.Name
		if r.Convert != nil && isConstant(r.Convert) {
			r.App = ""
		}
		rules = append(rules, r)
	}
	for range 14 {
		add(crm.ValueString, crm.Field{Type: crm.TypeString, Length: 255}, mapping.Rule{})
	}
	add(crm.ValueInt64, crm.Field{Type: crm.TypeInt}, mapping.Rule{})
	add(crm.ValueInt64, crm.Field{Type: crm.TypeInt}, mapping.Rule{})
	add(crm.ValueDecimal, crm.Field{Type: crm.TypeDecimal}, mapping.Rule{})
	add(crm.ValueBool, crm.Field{Type: crm.TypeBool}, mapping.Rule{})
	status := crm.Field{Type: crm.TypePicklist}
	for _, v := range []string{"New", "Working", "Won", "Lost"} {
		status.Picklist = append(status.Picklist, crm.PicklistValue{Value: v, Active: true})
	}
	add(crm.ValueString, status, mapping.Rule{Convert: mapping.Picklist{Values: map[string]string{"new": "New", "open": "Working", "won": "Won", "lost": "Lost"}}})
	add(crm.ValueString, crm.Field{Type: crm.TypeMultiPicklist}, mapping.Rule{Convert: mapping.MultiSelect{}})
	add(crm.ValueString, crm.Field{Type: crm.TypeString, Length: 40}, mapping.Rule{Convert: mapping.Truncate{}})
	add(crm.ValueTime, crm.Field{Type: crm.TypeDateTime}, mapping.Rule{Convert: mapping.DateTime{AppZone: "Europe/London", CRMZone: "America/New_York"}})
	add(crm.ValueDate, crm.Field{Type: crm.TypeDate}, mapping.Rule{Convert: mapping.DateTime{AppZone: "Asia/Kathmandu", CRMZone: "Pacific/Kiritimati"}})
	add(crm.ValueString, crm.Field{Type: crm.TypeInt}, mapping.Rule{Convert: mapping.Number{}})
	add(crm.ValueInt64, crm.Field{Type: crm.TypeCurrency, Precision: 18, Scale: 2}, mapping.Rule{Convert: mapping.Currency{MinorUnits: 2}})
	add(crm.ValueString, crm.Field{Type: crm.TypeBool}, mapping.Rule{Convert: mapping.Bool{True: []string{"Y"}, False: []string{"N"}}})
	add(crm.ValueString, crm.Field{Type: crm.TypeReference, References: []string{"Account"}}, mapping.Rule{Convert: mapping.Reference{AppObject: "company"}})
	add(crm.ValueString, crm.Field{Type: crm.TypeString, Length: 64}, mapping.Rule{Dir: mapping.ToCRM, Protect: mapping.Hash(true)})
	add(crm.ValueString, crm.Field{Type: crm.TypeString, Length: 40}, mapping.Rule{Dir: mapping.ToCRM, Protect: mapping.Mask(4)})
	add(crm.ValueString, crm.Field{Type: crm.TypeString, Length: 40}, mapping.Rule{Convert: mapping.Constant{Value: "crmkit"}})
	if len(rules) != 30 {
		b.Fatalf("the benchmark map has %d rules, want 30", len(rules))
	}
	links := mapping.NewMemoryLinks()
	for i := range 1000 {
		links.Link(mapping.Ref{AppObject: "company", CRMObject: "Account"}, fmt.Sprintf("co-%d", i), fmt.Sprintf("001%06d", i))
	}
	m, err := mapping.New(mapping.ObjectMap{Name: "bench", App: mapping.AppSchema{Object: "deal", Fields: app}, CRMObject: "Deal", Rules: rules},
		&crm.Schema{Object: "Deal", Fields: fields},
		mapping.WithHashKey(testKey), mapping.WithLinks(links), mapping.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	return m, links
}

func isConstant(c mapping.Conversion) bool {
	_, ok := c.(mapping.Constant)
	return ok
}

// benchRecord is the i-th application record of the benchmark: every value
// differs from record to record, as in a real table.
func benchRecord(i int) crm.Fields {
	f := make(crm.Fields, 30)
	for j := range 14 {
		f[fmt.Sprintf("f%02d", j)] = fmt.Sprintf("text %d of record %d", j, i)
	}
	f["f14"] = int64(i)
	f["f15"] = int64(i * 7)
	f["f16"] = crm.NewDecimal(int64(i)*37, 2)
	f["f17"] = i%2 == 0
	f["f18"] = []string{"new", "open", "won", "lost"}[i%4]
	f["f19"] = "Software;Hardware"
	f["f20"] = fmt.Sprintf("a subject line that is longer than forty characters, number %d", i)
	f["f21"] = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	f["f22"] = crm.Date{Year: 2026, Month: time.Month(1 + i%12), Day: 1 + i%28}
	f["f23"] = fmt.Sprint(i % 1000)
	f["f24"] = int64(i) * 199
	f["f25"] = []string{"Y", "N"}[i%2]
	f["f26"] = fmt.Sprintf("co-%d", i%1000)
	f["f27"] = fmt.Sprintf("person%d@example.com", i)
	f["f28"] = fmt.Sprintf("+44 20 7946 %04d", i%10000)
	return f
}

// BenchmarkToCRM maps 100,000 application records of 30 fields to the CRM
// and reports the cost per record.
func BenchmarkToCRM(b *testing.B) {
	m, _ := benchMap(b)
	records := make([]crm.Fields, benchRecords)
	for i := range records {
		records[i] = benchRecord(i)
	}
	perRecord(b, func() {
		for _, r := range records {
			if _, err := m.ToCRM(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFromCRM maps 100,000 CRM records of 30 fields (25 of which come
// back; the hash, mask and constant flow one way) to the application.
func BenchmarkFromCRM(b *testing.B) {
	m, _ := benchMap(b)
	records := make([]crm.Fields, benchRecords)
	for i := range records {
		out, err := m.ToCRM(ctx, benchRecord(i))
		if err != nil {
			b.Fatal(err)
		}
		records[i] = out
	}
	perRecord(b, func() {
		for _, r := range records {
			if _, err := m.FromCRM(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// perRecord runs mapAll in the benchmark loop and reports time, allocations
// and bytes per record.
func perRecord(b *testing.B, mapAll func()) {
	b.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for b.Loop() {
		mapAll()
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	total := float64(b.N) * benchRecords
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/record")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/record")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/record")
}
