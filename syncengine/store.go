package syncengine

import (
	"context"
	"errors"
	"time"
)

// Store keeps a pairing's sync state: links, cursors, the outbox with its
// dead letters, the decision log, parked conflicts and leases. Everything the
// engine changes in one step goes through Commit as one Changeset, which the
// store applies atomically: that is what makes a crash at any point safe.
//
// crmkit ships syncengine/store/memory (tests, one process),
// syncengine/store/sqlite (the embedded default: one file, several processes
// of one machine) and syncengine/store/postgres (workers on several
// machines). Every implementation must pass syncengine/store/storetest.
// All methods are safe for concurrent use, and every id and name is scoped by
// the pairing.
type Store interface {
	// Links returns the links of the given record ids on one side, keyed by
	// that id. Ids without a link are absent.
	Links(ctx context.Context, pairing string, side Side, ids []string) (map[string]*Link, error)
	// Cursor returns the side's stored change-feed cursor, "" if none.
	Cursor(ctx context.Context, pairing string, side Side) (string, error)
	// Outbox returns entries in ID order, as the query selects.
	Outbox(ctx context.Context, pairing string, q OutboxQuery) ([]*OutboxEntry, error)
	// Decisions returns the decision log after the entry afterID, oldest
	// first, at most limit entries (all when limit <= 0).
	Decisions(ctx context.Context, pairing string, afterID int64, limit int) ([]*DecisionRecord, error)
	// Parked returns the conflicts parked for review, oldest first.
	Parked(ctx context.Context, pairing string) ([]*ParkedConflict, error)
	// Commit applies a Changeset atomically: all of it or none of it.
	Commit(ctx context.Context, pairing string, c *Changeset) error
	// AcquireLease takes or renews the pairing's lease for owner until ttl
	// from now, and reports whether owner holds it. A lease held by another
	// owner that has not expired is not taken.
	AcquireLease(ctx context.Context, pairing, owner string, ttl time.Duration) (bool, error)
	// ReleaseLease gives up owner's lease, if owner holds it.
	ReleaseLease(ctx context.Context, pairing, owner string) error
}

// ErrNotFound is returned by a store when an entry asked for by id does not
// exist (an outbox entry settled since, a parked conflict already released).
var ErrNotFound = errors.New("syncengine: not found")

// Link pairs an application record with a CRM record and remembers what both
// looked like at the last sync: their versions and, field by field, a hash of
// each value (never the value itself). The hashes let the engine tell a real
// change from the echo of its own write, and which fields each side changed.
type Link struct {
	AppID string
	CRMID string
	// AppVersion and CRMVersion are the versions last seen or written.
	AppVersion string
	CRMVersion string
	// AppHashes and CRMHashes map each side's field names to the hash of
	// the field's value at the last sync, in that side's own field names.
	AppHashes map[string]string
	CRMHashes map[string]string
	// Deleted marks a pair deleted on both sides (or archived). The link is
	// kept as a tombstone, so the echo of the delete is recognised.
	Deleted bool
	// SyncedAt is when the pair was last brought into agreement.
	SyncedAt time.Time
}

// OutboxQuery selects outbox entries.
type OutboxQuery struct {
	// Dead selects dead letters; otherwise pending entries.
	Dead bool
	// DueBy, for pending entries, selects only those due at or before it
	// (zero: all pending entries).
	DueBy time.Time
	// Target selects entries bound for one side (zero: both).
	Target Side
	// IDs selects these entries only (nil: all).
	IDs []int64
	// Limit caps the number returned (<= 0: no cap).
	Limit int
}

// OutboxEntry is one planned write, stored before the call is made and
// settled (deleted) after it succeeds. A pending entry found after a restart
// is sent again, which is safe because every write is idempotent. An entry
// that fails permanently, or too many times, becomes a dead letter: kept with
// its payload and its error until it is replayed or discarded.
type OutboxEntry struct {
	// ID is assigned by the store on enqueue, increasing.
	ID int64
	// Target is the side the write goes to.
	Target Side
	Op     WriteOp
	// SourceID is the id, on the other side, of the record the write comes
	// from; a replay re-reads it there.
	SourceID string
	// TargetID is the record written to, for an Update or a Delete.
	TargetID string
	// Key is the sync key of an Upsert.
	Key string
	// Payload is the engine's encoding of the write's fields and of the link
	// as it will be once the write lands. Stores keep it as opaque bytes.
	Payload []byte
	// Attempts counts the sends that failed.
	Attempts int
	// NextAttempt is when the entry is next due.
	NextAttempt time.Time
	// Dead marks a dead letter.
	Dead bool
	// ErrorKind and Error describe the last failure (crm.Kind's name and the
	// error's message, which never holds field values or credentials).
	ErrorKind string
	Error     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DecisionRecord is one entry of the decision log: why a contested field
// took the value it did.
type DecisionRecord struct {
	// ID is assigned by the store, increasing.
	ID    int64
	At    time.Time
	AppID string
	CRMID string
	// Field is the contested field, in the application's names.
	Field string
	// AppValue and CRMValue render both values, with protected fields
	// masked as the map protects them.
	AppValue string
	CRMValue string
	// Winner is "app", "crm" or "parked".
	Winner   string
	Resolver string
	Reason   string
}

// ParkedConflict is a record held for a person to decide.
type ParkedConflict struct {
	// ID is assigned by the store, increasing.
	ID    int64
	AppID string
	CRMID string
	// Payload is the engine's encoding of the conflict (both sides' values).
	Payload []byte
	Reason  string
	At      time.Time
}

// Changeset is everything one step of the engine changes in its store,
// applied atomically by Store.Commit in this order: cursors, links (each
// replaces any link with the same AppID or the same CRMID), removed links,
// settled entries (deleted), updated entries (by ID: Attempts, NextAttempt,
// Dead, ErrorKind, Error, UpdatedAt), enqueued entries (IDs assigned and
// written back into the given structs), decisions, parked conflicts (IDs
// written back), released conflicts (deleted).
type Changeset struct {
	Cursors     map[Side]string
	Links       []*Link
	RemoveLinks []*Link
	Settle      []int64
	Update      []*OutboxEntry
	Enqueue     []*OutboxEntry
	Decisions   []*DecisionRecord
	Park        []*ParkedConflict
	Release     []int64
}

// Empty reports whether the changeset changes nothing.
func (c *Changeset) Empty() bool {
	return c == nil || len(c.Cursors)+len(c.Links)+len(c.RemoveLinks)+len(c.Settle)+len(c.Update)+
		len(c.Enqueue)+len(c.Decisions)+len(c.Park)+len(c.Release) == 0
}
