// Package memory is a syncengine.Store that keeps a pairing's sync state in
// the process's memory: links, cursors, the outbox and its dead letters, the
// decision log, parked conflicts and leases.
//
// Use it in tests, in examples, and for a sync that runs in one process and
// may start from scratch after a restart (every record is then matched
// again on its key, which is safe but slow for a large data set). For state
// that survives a restart, use syncengine/store/sqlite.
//
// A Store is safe for concurrent use. Commit applies a whole Changeset under
// one lock, after checking that every id it settles, updates or releases
// exists, so a failed Commit changes nothing. Everything that goes in or
// comes out is copied, so callers may keep and change what they passed or
// got. Times are kept in UTC to the microsecond, as the SQLite store keeps
// them, so that code tested here behaves the same there.
//
// The Store passes syncengine/store/storetest, the conformance suite every
// Store must pass.
//
//	st := memory.New()
//	link := &syncengine.Link{AppID: "42", CRMID: "003XYZ"}
//	if err := st.Commit(ctx, "contacts", &syncengine.Changeset{Links: []*syncengine.Link{link}}); err != nil {
//		return err
//	}
//	links, err := st.Links(ctx, "contacts", syncengine.App, []string{"42"})
//
// Leases expire by the clock given with WithClock (time.Now by default), so
// a test can move time forward without sleeping.
package memory
