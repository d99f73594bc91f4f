// Package memtable is an application table in memory that the sync engine
// can sync: the host-application side of a pairing, for tests, examples,
// benchmarks and prototypes that have no database yet.
//
// A [Table] implements [syncengine.Endpoint] (Changes, Get, Apply),
// [syncengine.Finder] and [syncengine.BatchSizer], and passes the endpoint
// conformance suite in syncengine/endpointtest. Its host-side methods change
// it as the application itself would, outside the engine, so a test can play
// both the user of the application and the engine:
//
//	app := memtable.New(memtable.WithFields(map[string]crm.ValueKind{
//		"name":  crm.ValueString,
//		"email": crm.ValueString,
//	}))
//	id, err := app.Insert(crm.Fields{"name": "Ada", "email": "ada@example.com"})
//	...
//	page, err := app.Changes(ctx, "") // everything, then resume from page.Cursor
//
// # Behaviour
//
//   - Ids are "app-1", "app-2", ... in creation order. Record and Records
//     return live records in that order.
//   - Versions are a table-wide write counter: every write (an Apply write
//     or an Insert, Modify or Remove) gives the record it touches the next
//     number, so Version changes on every change and two reads of one state
//     agree. The change-feed cursor is the same counter, as decimal text.
//   - Changes reports records written after the cursor in write order, each
//     once at its latest state, at most WithPageSize per page. Deletes
//     leave tombstones (Record{ID, Deleted: true}) that the feed reports
//     forever; Get and Find leave them out.
//   - An Upsert stores its Key with the record it creates, and reports it
//     back as Record.Key; the same Upsert sent again updates that record. An
//     Upsert whose key belongs to a deleted record brings the record back,
//     with Created set. Records made by Insert have no key.
//   - Update sets only the fields it names (nil sets null) and fails with
//     KindNotFound on a missing or deleted record. Delete of a missing or
//     deleted record succeeds.
//   - With WithFields, a write naming an undeclared field or giving a value
//     of the wrong kind fails alone with a *crm.Error of KindValidation that
//     names the field and the record; the other writes of the call go ahead.
//     Without it any normalised value is accepted (string, bool, int64,
//     crm.Decimal, time.Time, crm.Date, []string or nil).
//   - Values are copied in and out: changing a record you were given never
//     changes the table.
//   - A cancelled context makes Changes, Get, Apply and Find fail with an
//     error that matches context.Canceled.
//
// Reading the feed costs O(log n) to find the cursor plus the page itself;
// writes are amortised O(1). Find indexes a field on first use.
package memtable
