package memory_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/store/memory"
)

func Example() {
	ctx := context.Background()
	st := memory.New()

	// One commit: a link, a cursor and a planned write, all or nothing.
	entry := &syncengine.OutboxEntry{Target: syncengine.CRM, Op: syncengine.Upsert, SourceID: "42", Key: "42"}
	err := st.Commit(ctx, "contacts", &syncengine.Changeset{
		Cursors: map[syncengine.Side]string{syncengine.App: "page-7"},
		Links:   []*syncengine.Link{{AppID: "42", CRMID: "003XYZ"}},
		Enqueue: []*syncengine.OutboxEntry{entry},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("entry id:", entry.ID)

	links, err := st.Links(ctx, "contacts", syncengine.App, []string{"42"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("42 is linked to", links["42"].CRMID)
	// Output:
	// entry id: 1
	// 42 is linked to 003XYZ
}

// A fake clock moves a lease past its expiry without waiting.
func ExampleWithClock() {
	ctx := context.Background()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	st := memory.New(memory.WithClock(func() time.Time { return now }))

	a, _ := st.AcquireLease(ctx, "contacts", "worker-a", time.Minute)
	b, _ := st.AcquireLease(ctx, "contacts", "worker-b", time.Minute)
	fmt.Println(a, b)

	now = now.Add(time.Minute)
	b, _ = st.AcquireLease(ctx, "contacts", "worker-b", time.Minute)
	fmt.Println(b)
	// Output:
	// true false
	// true
}
