package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/crmkit/crmkit/syncengine"
)

// BenchmarkCommit commits a changeset the size of one busy engine step:
// 100 links and 100 outbox entries.
func BenchmarkCommit(b *testing.B) {
	s := open(b, testPool(b))
	ctx := b.Context()
	now := time.Now()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		c := &syncengine.Changeset{Cursors: map[syncengine.Side]string{syncengine.CRM: fmt.Sprint(n)}}
		for i := range 100 {
			c.Links = append(c.Links, &syncengine.Link{
				AppID: fmt.Sprint("app-", n, "-", i), CRMID: fmt.Sprint("crm-", n, "-", i), AppVersion: "1", CRMVersion: "2",
				AppHashes: map[string]string{"email": "6f1ed002ab5595859014ebf0951522d9", "name": "b068931cc450442b63f5b3d276ea4297"},
				CRMHashes: map[string]string{"Email": "6f1ed002ab5595859014ebf0951522d9", "LastName": "b068931cc450442b63f5b3d276ea4297"},
				SyncedAt:  now,
			})
			c.Enqueue = append(c.Enqueue, &syncengine.OutboxEntry{
				Target: syncengine.CRM, Op: syncengine.Upsert, SourceID: "app-1", Key: "app-1",
				Payload: make([]byte, 256), NextAttempt: now, CreatedAt: now, UpdatedAt: now,
			})
		}
		if err := s.Commit(ctx, "p", c); err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// BenchmarkLinks looks up 500 ids among 10,000 links, as the engine does
// for each page of changes.
func BenchmarkLinks(b *testing.B) {
	s := open(b, testPool(b))
	ctx := b.Context()
	c := &syncengine.Changeset{}
	for i := range 10_000 {
		c.Links = append(c.Links, &syncengine.Link{
			AppID: fmt.Sprint("app-", i), CRMID: fmt.Sprint("crm-", i),
			AppHashes: map[string]string{"email": "6f1ed002ab5595859014ebf0951522d9", "name": "b068931cc450442b63f5b3d276ea4297"},
		})
	}
	if err := s.Commit(ctx, "p", c); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = fmt.Sprint("app-", i*20)
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := s.Links(ctx, "p", syncengine.App, ids)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != len(ids) {
			b.Fatalf("found %d links, want %d", len(got), len(ids))
		}
	}
}
