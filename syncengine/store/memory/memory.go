package memory

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/store/internal/storecheck"
)

// Option configures a Store.
type Option func(*options)

type options struct {
	now func() time.Time
}

// WithClock sets the clock the store reads for lease expiry. Tests pass a
// fake clock so that a lease expires without a real wait; the default is
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// Store is an in-memory syncengine.Store. Make one with New; the zero value
// is not ready for use.
type Store struct {
	now func() time.Time

	mu       sync.Mutex
	pairings map[string]*pairing
	// The last IDs given. Shared by all pairings, like the SQLite store's
	// AUTOINCREMENT columns, and never lowered, so no ID is given twice.
	lastEntry, lastDecision, lastParked int64
}

var _ syncengine.Store = (*Store)(nil)

type pairing struct {
	byApp     map[string]*syncengine.Link
	byCRM     map[string]*syncengine.Link
	cursors   map[syncengine.Side]string
	outbox    map[int64]*syncengine.OutboxEntry
	decisions []*syncengine.DecisionRecord // in ID order
	parked    map[int64]*syncengine.ParkedConflict
	lease     *lease
}

type lease struct {
	owner   string
	expires time.Time
}

// New returns an empty Store.
func New(opts ...Option) *Store {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return &Store{now: o.now, pairings: map[string]*pairing{}}
}

// get returns the pairing's state, nil if it has none. Callers hold s.mu.
func (s *Store) get(name string) *pairing { return s.pairings[name] }

// make returns the pairing's state, creating it. Callers hold s.mu.
func (s *Store) make(name string) *pairing {
	p := s.pairings[name]
	if p == nil {
		p = &pairing{
			byApp:   map[string]*syncengine.Link{},
			byCRM:   map[string]*syncengine.Link{},
			cursors: map[syncengine.Side]string{},
			outbox:  map[int64]*syncengine.OutboxEntry{},
			parked:  map[int64]*syncengine.ParkedConflict{},
		}
		s.pairings[name] = p
	}
	return p
}

// Links returns the links of the given record ids on one side, keyed by
// that id.
func (s *Store) Links(ctx context.Context, pairingName string, side syncengine.Side, ids []string) (map[string]*syncengine.Link, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := storecheck.Side("memory store: Links", side); err != nil {
		return nil, err
	}
	out := make(map[string]*syncengine.Link)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(pairingName)
	if p == nil {
		return out, nil
	}
	index := p.byApp
	if side == syncengine.CRM {
		index = p.byCRM
	}
	for _, id := range ids {
		if l := index[id]; l != nil {
			out[id] = copyLink(l)
		}
	}
	return out, nil
}

// Cursor returns the side's stored change-feed cursor, "" if none.
func (s *Store) Cursor(ctx context.Context, pairingName string, side syncengine.Side) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := storecheck.Side("memory store: Cursor", side); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.get(pairingName); p != nil {
		return p.cursors[side], nil
	}
	return "", nil
}

// Outbox returns the entries q selects, in ID order.
func (s *Store) Outbox(ctx context.Context, pairingName string, q syncengine.OutboxQuery) ([]*syncengine.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := storecheck.Query(q); err != nil {
		return nil, fmt.Errorf("memory store: Outbox: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(pairingName)
	if p == nil {
		return nil, nil
	}
	match := func(e *syncengine.OutboxEntry) bool {
		if e.Dead != q.Dead || (q.Target != 0 && e.Target != q.Target) {
			return false
		}
		return q.Dead || q.DueBy.IsZero() || !e.NextAttempt.After(q.DueBy)
	}
	var found []*syncengine.OutboxEntry
	if q.IDs != nil {
		for _, id := range q.IDs {
			if e := p.outbox[id]; e != nil && match(e) {
				found = append(found, e)
			}
		}
	} else {
		for _, e := range p.outbox {
			if match(e) {
				found = append(found, e)
			}
		}
	}
	slices.SortFunc(found, func(a, b *syncengine.OutboxEntry) int { return cmpID(a.ID, b.ID) })
	found = slices.CompactFunc(found, func(a, b *syncengine.OutboxEntry) bool { return a.ID == b.ID })
	if q.Limit > 0 && len(found) > q.Limit {
		found = found[:q.Limit]
	}
	out := make([]*syncengine.OutboxEntry, len(found))
	for i, e := range found {
		out[i] = copyEntry(e)
	}
	return out, nil
}

func cmpID(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Decisions returns the decision log after the entry afterID, oldest first,
// at most limit entries (all when limit <= 0).
func (s *Store) Decisions(ctx context.Context, pairingName string, afterID int64, limit int) ([]*syncengine.DecisionRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(pairingName)
	if p == nil {
		return nil, nil
	}
	i := sort.Search(len(p.decisions), func(i int) bool { return p.decisions[i].ID > afterID })
	rest := p.decisions[i:]
	if limit > 0 && len(rest) > limit {
		rest = rest[:limit]
	}
	out := make([]*syncengine.DecisionRecord, len(rest))
	for i, d := range rest {
		c := *d
		out[i] = &c
	}
	return out, nil
}

// Parked returns the conflicts parked for review, oldest first.
func (s *Store) Parked(ctx context.Context, pairingName string) ([]*syncengine.ParkedConflict, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(pairingName)
	if p == nil {
		return nil, nil
	}
	out := make([]*syncengine.ParkedConflict, 0, len(p.parked))
	for _, id := range slices.Sorted(maps.Keys(p.parked)) {
		out = append(out, copyParked(p.parked[id]))
	}
	return out, nil
}

// Commit applies c atomically. It first checks every id c settles, updates
// or releases, and changes nothing if one is missing (the error wraps
// syncengine.ErrNotFound); IDs are written back into c's structs only when
// the commit succeeds.
func (s *Store) Commit(ctx context.Context, pairingName string, c *syncengine.Changeset) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.Empty() {
		return nil
	}
	if err := storecheck.Changeset(c); err != nil {
		return fmt.Errorf("memory store: Commit to pairing %q: %w", pairingName, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.make(pairingName)

	// Check phase: everything that can fail, fails here.
	settled := make(map[int64]bool, len(c.Settle))
	for _, id := range c.Settle {
		if p.outbox[id] == nil || settled[id] {
			return fmt.Errorf("memory store: Commit to pairing %q: settle outbox entry %d: %w", pairingName, id, syncengine.ErrNotFound)
		}
		settled[id] = true
	}
	for _, e := range c.Update {
		if p.outbox[e.ID] == nil || settled[e.ID] {
			return fmt.Errorf("memory store: Commit to pairing %q: update outbox entry %d: %w", pairingName, e.ID, syncengine.ErrNotFound)
		}
	}
	released := make(map[int64]bool, len(c.Release))
	for _, id := range c.Release {
		if p.parked[id] == nil || released[id] {
			return fmt.Errorf("memory store: Commit to pairing %q: release parked conflict %d: %w", pairingName, id, syncengine.ErrNotFound)
		}
		released[id] = true
	}

	// Apply phase, in the order Changeset documents. Nothing here fails.
	for side, cur := range c.Cursors {
		p.cursors[side] = cur
	}
	for _, l := range c.Links {
		p.removeLink(p.byApp[l.AppID])
		p.removeLink(p.byCRM[l.CRMID])
		nl := copyLink(l)
		p.byApp[nl.AppID] = nl
		p.byCRM[nl.CRMID] = nl
	}
	for _, l := range c.RemoveLinks {
		var old *syncengine.Link
		if l.AppID != "" {
			old = p.byApp[l.AppID]
		} else {
			old = p.byCRM[l.CRMID]
		}
		if old != nil && (l.CRMID == "" || old.CRMID == l.CRMID) {
			p.removeLink(old)
		}
	}
	for _, id := range c.Settle {
		delete(p.outbox, id)
	}
	for _, u := range c.Update {
		e := p.outbox[u.ID]
		e.Attempts = u.Attempts
		e.NextAttempt = storecheck.Time(u.NextAttempt)
		e.Dead = u.Dead
		e.ErrorKind = u.ErrorKind
		e.Error = u.Error
		e.UpdatedAt = storecheck.Time(u.UpdatedAt)
	}
	entryIDs := make([]int64, len(c.Enqueue))
	for i, e := range c.Enqueue {
		s.lastEntry++
		ne := copyEntry(e)
		ne.ID = s.lastEntry
		p.outbox[ne.ID] = ne
		entryIDs[i] = ne.ID
	}
	decisionIDs := make([]int64, len(c.Decisions))
	for i, d := range c.Decisions {
		s.lastDecision++
		nd := *d
		nd.ID = s.lastDecision
		nd.At = storecheck.Time(nd.At)
		p.decisions = append(p.decisions, &nd)
		decisionIDs[i] = nd.ID
	}
	parkedIDs := make([]int64, len(c.Park))
	for i, pc := range c.Park {
		s.lastParked++
		np := copyParked(pc)
		np.ID = s.lastParked
		p.parked[np.ID] = np
		parkedIDs[i] = np.ID
	}
	for _, id := range c.Release {
		delete(p.parked, id)
	}

	// Only now, with nothing left to fail, do the caller's structs change.
	for i, e := range c.Enqueue {
		e.ID = entryIDs[i]
	}
	for i, d := range c.Decisions {
		d.ID = decisionIDs[i]
	}
	for i, pc := range c.Park {
		pc.ID = parkedIDs[i]
	}
	return nil
}

func (p *pairing) removeLink(l *syncengine.Link) {
	if l == nil {
		return
	}
	delete(p.byApp, l.AppID)
	delete(p.byCRM, l.CRMID)
}

// AcquireLease takes or renews the pairing's lease for owner until ttl from
// now by the store's clock, and reports whether owner holds it. A lease is
// free at and after its expiry instant.
func (s *Store) AcquireLease(ctx context.Context, pairingName, owner string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := storecheck.Lease(owner, ttl); err != nil {
		return false, fmt.Errorf("memory store: AcquireLease of pairing %q: %w", pairingName, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.make(pairingName)
	now := s.now()
	if l := p.lease; l != nil && l.owner != owner && now.Before(l.expires) {
		return false, nil
	}
	p.lease = &lease{owner: owner, expires: now.Add(ttl)}
	return true, nil
}

// ReleaseLease gives up owner's lease, if owner holds it.
func (s *Store) ReleaseLease(ctx context.Context, pairingName, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := storecheck.LeaseRelease(owner); err != nil {
		return fmt.Errorf("memory store: ReleaseLease of pairing %q: %w", pairingName, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.get(pairingName); p != nil && p.lease != nil && p.lease.owner == owner {
		p.lease = nil
	}
	return nil
}

func copyLink(l *syncengine.Link) *syncengine.Link {
	c := *l
	c.AppHashes = copyMap(l.AppHashes)
	c.CRMHashes = copyMap(l.CRMHashes)
	c.SyncedAt = storecheck.Time(l.SyncedAt)
	return &c
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

func copyEntry(e *syncengine.OutboxEntry) *syncengine.OutboxEntry {
	c := *e
	c.Payload = copyBytes(e.Payload)
	c.NextAttempt = storecheck.Time(e.NextAttempt)
	c.CreatedAt = storecheck.Time(e.CreatedAt)
	c.UpdatedAt = storecheck.Time(e.UpdatedAt)
	return &c
}

func copyParked(p *syncengine.ParkedConflict) *syncengine.ParkedConflict {
	c := *p
	c.Payload = copyBytes(p.Payload)
	c.At = storecheck.Time(p.At)
	return &c
}

func copyBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}
