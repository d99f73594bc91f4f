// Package storetest is the conformance suite of syncengine.Store: one
// exported function, Run, that exercises every behaviour the sync engine
// relies on against any implementation, in named subtests.
//
// crmkit runs it against syncengine/store/memory and syncengine/store/sqlite;
// a team that keeps its sync state elsewhere (its own database, a key-value
// service) runs it against its own Store before handing it to the engine. It
// is the Store contract in executable form: where the interface's comments
// leave a choice open, the suite fixes it, and its subtests say so by name.
//
// # Using it
//
// Call Run from a test with a constructor that returns a fresh, empty store.
// The constructor receives the clock the store must read whenever it needs
// the current time (lease expiry), so lease tests take no real time:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) syncengine.Store {
//			s, err := mystore.Open(t.Context(), dsn, mystore.WithClock(now))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// # What it fixes
//
// Beyond the interface's comments, the suite holds every store to these
// rules, which the engine relies on:
//
//   - Times come back in UTC, equal to what was stored to the microsecond.
//   - Empty and nil maps and byte slices are interchangeable: a link stored
//     with no hashes comes back with none, a payload of zero bytes with zero.
//   - Links.RemoveLinks removes the link that pairs the given AppID with the
//     given CRMID; an empty id matches any id on its side; a link that is not
//     stored is ignored.
//   - IDs of outbox entries, decisions and parked conflicts increase and are
//     never reused, even after the newest entry is settled, and are written
//     back into the caller's structs only when the Commit succeeds.
//   - Settle, Update and Release of an id that the pairing does not hold
//     (another pairing's id included) fail the whole Commit with an error
//     wrapping syncengine.ErrNotFound, and nothing of the changeset stays.
//   - Outbox queries combine their conditions with AND; a non-nil empty IDs
//     selects nothing.
//   - A lease is free at and after its expiry instant. Releasing a lease one
//     does not hold does nothing.
//   - Every method fails with the context's error once the context is done,
//     even for an empty changeset.
//   - Bad input (a link without both ids, an unknown side or operation, an
//     empty lease owner, a non-positive ttl) is an error, never a panic.
package storetest
