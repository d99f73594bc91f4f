// Package sqlite is the sync engine's embedded default store: a
// syncengine.Store in one SQLite file, on the pure-Go driver
// modernc.org/sqlite (no cgo).
//
// Use it when the sync runs on one machine: one process, or several
// processes sharing the file (a worker and an admin command, say), which
// take turns through the pairing's lease. For workers on several machines,
// use a server database.
//
//	st, err := sqlite.Open(ctx, "/var/lib/myapp/sync.db")
//	if err != nil {
//		return err
//	}
//	defer st.Close()
//	// hand st to the sync engine
//
// # Durability and sharing
//
// Open sets, on every connection:
//
//   - journal_mode=WAL: readers never wait for the writer nor the writer
//     for readers, and a commit appends to the write-ahead log instead of
//     rewriting pages in place.
//   - synchronous=NORMAL: with WAL, a commit is written to the log (handed
//     to the operating system) before Commit returns, but the log is only
//     fsynced at checkpoints. A killed process therefore loses nothing it
//     committed: the operating system still has the writes. Only an
//     operating system crash or a power cut may lose the last few
//     transactions, and even then the file stays consistent, since each
//     transaction is all or nothing. For the engine that is safe: a lost
//     commit only makes it redo a step (every write it sends is idempotent).
//   - busy_timeout (DefaultBusyTimeout, see WithBusyTimeout): a connection
//     that finds the file locked by another process's write waits for it
//     rather than failing with SQLITE_BUSY.
//
// Every write (Commit and the lease calls) runs in a transaction begun with
// BEGIN IMMEDIATE, which takes the file's write lock before its first
// statement. A transaction that starts as a reader and later writes can fail
// with SQLITE_BUSY at once when another process wrote in between, busy
// timeout or not; one that holds the lock from the start only ever waits.
// Within one Store, writers queue in Go, each watching its context.
//
// # Sharing a database with the host
//
// New makes a Store on a *sql.DB the host already has. Every table the
// store makes starts with crmkit_sync_, so the file may hold the host's own
// tables too. The host's DSN must set the busy timeout (New checks it) and
// should set WAL:
//
//	db, err := sql.Open("sqlite", "file:app.db?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
//	...
//	st, err := sqlite.New(ctx, db)
//
// # Schema
//
// The store creates its tables itself, on Open and New, and records the
// schema's version in crmkit_sync_schema; a newer crmkit migrates an older
// file in place, in one transaction, and an older crmkit refuses a newer
// file rather than guess. Times are stored as integer Unix microseconds in
// UTC, and come back in UTC. Field hashes of a link are stored as JSON, so
// field names and hashes must be valid UTF-8 (hex or base64 hashes are).
// Outbox, decision and parked ids come from AUTOINCREMENT columns, so an id
// is never given twice, even after the newest entry is deleted.
//
// The package passes syncengine/store/storetest, the conformance suite every
// Store must pass.
package sqlite
