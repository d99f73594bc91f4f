// Package memstore is the in-memory data kernel that crmkit's reference
// driver (crm/memcrm) and its CRM emulators share. It holds tables of
// records described by *crm.Schema values and does what every CRM does with
// them, whatever its wire protocol: validate and store writes, answer
// filtered and ordered queries a page at a time, and keep a change feed.
// Each emulator puts its own protocol face (paths, payloads, error bodies,
// ids) on top; memstore knows nothing of HTTP.
//
// # Tables and records
//
// A [Store] has one table per object, added with [Store.AddTable]. Object and
// field names match without regard to case; records are kept and returned
// under the schema's own names. Values are normalised by the field's type
// (see crm.NormalizeValue) and copied in and out, so no caller can change a
// stored record behind the store's back.
//
// Every write takes the next number of one store-wide sequence: that number,
// in decimal, is the record's new Version, and its place in the change feed.
// Ids come from a per-table [IDFunc] ([SequentialIDs] by default), and the
// clock from [WithClock], so emulators can issue ids in their CRM's shape and
// tests can control time.
//
//	st := memstore.New(memstore.WithClock(clock))
//	err := st.AddTable(schema, memstore.WithIDs(sfIDs), memstore.WithCreatedField("CreatedDate"))
//	rec, err := st.Create("Contact", crm.Fields{"LastName": "Lovelace"})
//	rec, err = st.Update("Contact", rec.ID, crm.Fields{"Email": nil}, memstore.IfVersion(rec.Version))
//	rec, created, err := st.Upsert("Contact", "ExternalId", "A-1", crm.Fields{"LastName": "Byron"})
//
// # Validation
//
// Writes fail with a *crm.Error whose Fields name the offending fields and
// whose Message says what to do:
//
//   - KindValidation: an unknown field, a value of the wrong type, a read-only
//     field, a missing required field, null in a non-nillable field, text
//     longer than the field's Length, a value outside a picklist;
//   - KindDuplicate: a value already held by another record in an
//     external-id or unique field;
//   - KindNotFound: a missing or deleted record;
//   - KindConflict: an [IfVersion] that is not the record's version.
//
// Every validation problem of one write is reported at once.
//
// # Queries and change feeds
//
// [Store.Query] evaluates every crm filter type, sorts by the query's
// OrderBy and then by id, and returns one page after a keyset [Position].
// Because a position names a place in the order, not an offset, records
// inserted or deleted between two pages never make the next page repeat or
// skip a record that was there all along. A record whose sort field changes
// between pages can move across the position and be read twice or not at
// all, as in any keyset paging: sync code should order by id (the default)
// or by a field that never changes. Positions marshal to text, for drivers to
// wrap in their opaque cursors.
//
// Deletes leave tombstones, so [Store.ChangesSince] reports creates, updates
// and deletes in write order from any sequence number.
//
// # Lookups and matching
//
// An emulator serving a request addressed by an external id or an alternate
// key finds its record with [Store.Lookup], which reads the store's own
// unique index, so it needs no index of its own:
//
//	rec, err := st.Lookup("Contact", "External_Id__c", "A-1") // KindNotFound if none holds it
//
// [SameValue] and [Compare] are the equality and order the store's filters
// use (text without regard to case, numbers by value), for emulators that
// evaluate a filter themselves and must match what the store would.
package memstore
