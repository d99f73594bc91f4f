package memtable_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/memtable"
)

// The application inserts and edits records; the engine upserts one from the
// CRM and reads the change feed.
func Example() {
	ctx := context.Background()
	at := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	app := memtable.New(
		memtable.WithFields(map[string]crm.ValueKind{"name": crm.ValueString, "score": crm.ValueInt64}),
		memtable.WithClock(func() time.Time { return at }),
	)

	// The application's own writes.
	ada, err := app.Insert(crm.Fields{"name": "Ada", "score": int64(90)})
	if err != nil {
		log.Fatal(err)
	}
	if err := app.Modify(ada, crm.Fields{"score": int64(95)}); err != nil {
		log.Fatal(err)
	}

	// The engine's writes: a create from CRM record 003A, sent twice as after
	// a crash, and a bad value that fails alone.
	res, err := app.Apply(ctx, []syncengine.Write{
		{Op: syncengine.Upsert, Key: "003A", Fields: crm.Fields{"name": "Grace"}},
		{Op: syncengine.Upsert, Key: "003A", Fields: crm.Fields{"name": "Grace", "score": int64(88)}},
		{Op: syncengine.Update, ID: ada, Fields: crm.Fields{"score": "high"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res {
		fmt.Printf("id=%s created=%v err=%v\n", r.ID, r.Created, r.Err)
	}

	page, err := app.Changes(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range page.Records {
		fmt.Printf("%s key=%q version=%s %v\n", r.ID, r.Key, r.Version, r.Fields)
	}
	fmt.Println("resume from", page.Cursor, "more:", page.More)
	// Output:
	// id=app-2 created=true err=<nil>
	// id=app-2 created=false err=<nil>
	// id=app-1 created=false err=memtable: update app-1: validation: field score holds int64 values; got a string [fields: score]
	// app-1 key="" version=2 map[name:Ada score:95]
	// app-2 key="003A" version=4 map[name:Grace score:88]
	// resume from 4 more: false
}
