// Package endpointtest is the conformance suite for sync-engine endpoints:
// one exported function, [Run], that checks every behaviour the engine
// relies on against any [syncengine.Endpoint]. crmkit runs it against its
// own endpoints (syncengine/memtable, syncengine/sqltable and the CRM
// endpoint over crm/memcrm); a team that writes an endpoint for its own
// application runs it against theirs.
//
//	func TestEndpoint(t *testing.T) {
//		endpointtest.Run(t, func(t *testing.T) endpointtest.Target {
//			tb := memtable.New(memtable.WithFields(fields), memtable.WithPageSize(3))
//			return endpointtest.Target{
//				Endpoint:  tb,
//				TextField: "name", OtherField: "email",
//				Insert: func(t *testing.T, f crm.Fields) string { id, err := tb.Insert(f); ...; return id },
//				Modify: ..., Remove: ...,
//				SupportsKey: true, ChecksKinds: true, PageSize: 3,
//			}
//		})
//	}
//
// # What it checks
//
// Each behaviour is a named subtest, so a failure says which promise broke:
//
//   - Upsert: an Upsert creates (Created true), the same Upsert again
//     updates the same record (Created false, same ID, no duplicate in the
//     feed), and Get and Changes report the Key back (Target.SupportsKey).
//     Two upserts with one key in one Apply make one record; an upsert with
//     the key of a deleted record makes a live record again.
//   - Update sets only the fields it names; nil sets null.
//   - Delete succeeds, and succeeds again on the deleted record.
//   - Get leaves out deleted and missing ids.
//   - The feed from "" reports every record the suite wrote, at its latest
//     version, and tombstones of deleted ones; after a cursor it reports only
//     what changed later (unless Target.Repeats), in the order of the
//     changes; changes made outside the engine (the Insert, Modify and Remove
//     hooks) appear in it.
//   - Paging: pages hold at most Target.PageSize records, More is true on
//     every page but the last, the feed ends, and resuming from any page's
//     cursor loses nothing. A page's Cursor is never empty.
//   - Versions change on every write (even one that sets the same value, and
//     a delete) and are the same on two reads of one state, in Get and in
//     the feed; a write's reported Version is the one Get then reports.
//   - A bad write (an unknown field, or a value of the wrong kind when
//     Target.ChecksKinds) fails alone with a *crm.Error of KindValidation
//     naming the field and, for an update, the record; the other writes of
//     the call succeed.
//   - Find (for a syncengine.Finder) finds live records by value only;
//     BatchSize (for a syncengine.BatchSizer) is positive.
//   - A cancelled context makes every call fail with an error matching
//     context.Canceled.
//   - Concurrent Apply, Get and Changes calls lose nothing (run with -race).
//
// The suite creates records through the endpoint with fresh keys and text
// values tagged per run, and only ever checks the records it wrote, so it
// also works on an endpoint whose data other tests share. It never deletes
// what it created: give it a fresh, disposable endpoint in newTarget.
package endpointtest
