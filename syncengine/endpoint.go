package syncengine

import (
	"context"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine/conflict"
)

// Side names one side of a pairing. It is conflict.Side, so that resolvers
// and the engine speak of the same two sides.
type Side = conflict.Side

const (
	// App is the host application's side.
	App = conflict.App
	// CRM is the CRM's side.
	CRM = conflict.CRM
)

// Record is one record as an Endpoint reports it, in that side's own field
// names.
type Record struct {
	// ID is the record's id on its side.
	ID string
	// Key is the sync key the record carries, if any: on the CRM side the
	// value of the external-id field the engine upserts on (the application
	// id of the record it was created from); on the application side, the
	// CRM id the record was created from. Matching on first contact uses it,
	// so a record the engine created is recognised even if the process died
	// before it could store the link.
	Key string
	// Fields holds the record's values. A change feed may report only some
	// fields; the engine compares only those present.
	Fields crm.Fields
	// ModifiedAt is when the side last changed the record, by its own clock.
	ModifiedAt time.Time
	// Version is the side's concurrency token for this state of the record;
	// empty when the side has none. Two reads of the same state report the
	// same Version.
	Version string
	// Deleted marks a record the side has deleted (or archived).
	Deleted bool
}

// ChangePage is one page of an endpoint's change feed.
type ChangePage struct {
	Records []*Record
	// Cursor resumes the feed after this page. The engine stores it once the
	// page's changes are safely planned, and passes it back on the next call.
	Cursor string
	// More reports that the feed has more changes after this page.
	More bool
}

// WriteOp is the operation of a Write.
type WriteOp uint8

const (
	// Upsert creates the record whose key is Write.Key, or updates it when
	// it exists. Every create the engine makes is an Upsert, so that sending
	// it twice never makes a duplicate.
	Upsert WriteOp = iota + 1
	// Update sets Fields on the record Write.ID.
	Update
	// Delete deletes the record Write.ID. Deleting a record that is already
	// gone succeeds.
	Delete
)

// String returns "upsert", "update" or "delete".
func (op WriteOp) String() string {
	switch op {
	case Upsert:
		return "upsert"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return "unknown"
}

// Write is one write the engine asks an endpoint to apply, in the endpoint's
// own field names.
type Write struct {
	Op     WriteOp
	ID     string // Update, Delete
	Key    string // Upsert
	Fields crm.Fields
}

// WriteResult is the outcome of one Write.
type WriteResult struct {
	// ID is the record's id on the endpoint's side (the new id after an
	// Upsert that created).
	ID string
	// Version is the record's version after the write, when the side says.
	Version string
	// Created reports that an Upsert made a new record.
	Created bool
	// Err is the write's failure, nil on success. Use *crm.Error (its Kind
	// steers the engine: a retryable kind is retried, others dead-lettered).
	Err error
}

// Endpoint is one side of a pairing, reduced to the verbs the engine needs:
// give me your changes since a cursor, give me these records, apply these
// writes. A CRM is one endpoint (see NewCRMEndpoint); the host application
// is the other, and crmkit ships one for a table in any database/sql
// database (syncengine/sqltable) and one in memory (syncengine/memtable).
//
// Every method may be called again with the same arguments after a crash or
// a retry: Changes must be at least once, and Apply must be idempotent
// (Upsert by Key, Update by ID, Delete tolerating a missing record).
type Endpoint interface {
	// Changes returns the next page of changes after cursor; an empty cursor
	// starts from the beginning and reports every record.
	Changes(ctx context.Context, cursor string) (*ChangePage, error)
	// Get returns the current state of the records with the given ids. An id
	// whose record no longer exists is absent from the map.
	Get(ctx context.Context, ids []string) (map[string]*Record, error)
	// Apply applies writes and returns one result per write, in order. An
	// error return means no write's outcome is known (they are retried);
	// a record's own failure goes in its result.
	Apply(ctx context.Context, writes []Write) ([]WriteResult, error)
}

// Finder is an Endpoint that can find records by a field's value. The engine
// uses it to match a new record on a natural key (such as email) when its
// counterpart is not among the changes it is processing. Text should be
// compared ignoring case and surrounding spaces, as the engine compares
// natural keys (memtable and sqltable do; the CRMs compare without case).
type Finder interface {
	Find(ctx context.Context, field string, value any) ([]*Record, error)
}

// BatchFinder is a Finder that can look up many values in one call (a CRM,
// where each call costs API allocation). The engine prefers it.
type BatchFinder interface {
	// FindAny returns the records whose field equals any of values.
	FindAny(ctx context.Context, field string, values []any) ([]*Record, error)
}

// BatchSizer is an Endpoint that says how many writes one Apply call should
// carry; the engine groups writes into batches of that size (100 when an
// endpoint does not say).
type BatchSizer interface {
	BatchSize() int
}
