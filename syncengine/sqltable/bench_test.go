package sqltable_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/sqltable"
)

func batch(n, round int) []syncengine.Write {
	ws := make([]syncengine.Write, n)
	for i := range ws {
		ws[i] = syncengine.Write{Op: syncengine.Upsert, Key: fmt.Sprintf("crm-%d-%d", round, i),
			Fields: crm.Fields{"name": "Name " + strconv.Itoa(i), "email": fmt.Sprintf("e%d@example.com", i),
				"score": int64(i), "amount": crm.NewDecimal(int64(i), 2)}}
	}
	return ws
}

// BenchmarkApply upserts 1,000 records per op in one Apply: creates on the
// first op, updates after.
func BenchmarkApply(b *testing.B) {
	e := newEndpoint(b, openDB(b), contacts, sqltable.WithBatchSize(1000))
	ws := batch(1000, 0)
	b.ReportAllocs()
	for b.Loop() {
		rs, err := e.Apply(b.Context(), ws)
		if err != nil || rs[999].Err != nil {
			b.Fatal(err, rs[999].Err)
		}
	}
}

// BenchmarkChanges reads 1,000 changes per op, in pages of 500, from the
// middle of a table of 10,000 rows.
func BenchmarkChanges(b *testing.B) {
	e := newEndpoint(b, openDB(b), contacts)
	for i := range 10 {
		if _, err := e.Apply(b.Context(), batch(1000, i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		cursor, n := "4000", 0
		for n < 1000 {
			p, err := e.Changes(b.Context(), cursor)
			if err != nil {
				b.Fatal(err)
			}
			n += len(p.Records)
			cursor = p.Cursor
		}
	}
}
