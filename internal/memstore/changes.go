package memstore

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/crmkit/crmkit/crm"
)

// Change is one entry of a table's change feed: the record as its latest
// write left it (a tombstone for a delete).
type Change struct {
	Kind   crm.ChangeKind
	Record *Record
}

// ChangeBatch is one page of a change feed.
type ChangeBatch struct {
	Changes []Change
	// Next is the sequence number to pass as after to read on: that of the
	// last change in the batch, or the store's latest when the batch holds
	// everything up to now.
	Next uint64
	// More reports whether changes were left out because of the limit.
	More bool
}

// ChangesSince returns the records of object written after sequence number
// after, in write order, at most limit of them (0 for all), with the given
// fields (nil for all).
//
// Each record appears once, as its latest write left it. Its kind is
// ChangeDeleted when it is deleted, ChangeCreated when it was created after
// after, and ChangeUpdated otherwise. Passing each batch's Next as the next
// call's after reads every write exactly once.
func (s *Store) ChangesSince(object string, after uint64, limit int, fields []string) (*ChangeBatch, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, err := s.table("changes", object)
	if err != nil {
		return nil, err
	}
	if after > s.seq {
		return nil, invalid("changes", t.schema.Object, fmt.Sprintf("the feed position %d is ahead of the store's latest write %d: the position comes from another store; start from the beginning", after, s.seq))
	}
	if limit < 0 {
		return nil, invalid("changes", t.schema.Object, fmt.Sprintf("limit is %d: use 0 for all changes or a positive number", limit))
	}
	sel, err := t.selectFields("changes", fields)
	if err != nil {
		return nil, err
	}
	var rows []*row
	for _, r := range t.rows {
		if r.seq > after {
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(a, b *row) int { return cmp.Compare(a.seq, b.seq) })
	b := &ChangeBatch{Next: s.seq}
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
		b.More = true
		b.Next = rows[limit-1].seq
	}
	b.Changes = make([]Change, len(rows))
	for i, r := range rows {
		kind := crm.ChangeUpdated
		switch {
		case r.deleted:
			kind = crm.ChangeDeleted
		case r.createdSeq > after:
			kind = crm.ChangeCreated
		}
		b.Changes[i] = Change{Kind: kind, Record: t.record(r, sel)}
	}
	return b, nil
}
