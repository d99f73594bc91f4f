package syncengine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine/conflict"
)

// DeadLetter is a write the engine gave up on, as the API shows it.
type DeadLetter struct {
	ID int64
	// Target is the side the write was for; SourceID the record it came
	// from, on the other side; TargetID the record written to, if known.
	Target   Side
	Op       WriteOp
	SourceID string
	TargetID string
	// Fields are the values that were to be written, in the target's field
	// names, with personal fields redacted as the map protects them. Nil
	// when the record failed before it was mapped.
	Fields    crm.Fields
	Attempts  int
	ErrorKind string
	Error     string
	At        time.Time
}

// DeadLetters lists the pairing's dead letters, oldest first.
func (e *Engine) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	es, err := e.store.Outbox(ctx, e.name, OutboxQuery{Dead: true})
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, 0, len(es))
	for _, en := range es {
		dl := DeadLetter{ID: en.ID, Target: en.Target, Op: en.Op, SourceID: en.SourceID, TargetID: en.TargetID,
			Attempts: en.Attempts, ErrorKind: en.ErrorKind, Error: en.Error, At: en.UpdatedAt}
		if pl, err := decodePayload(en.Payload); err == nil {
			if f, err := decodeFields(pl.Fields); err == nil && f != nil {
				if en.Target == App {
					f = e.p.Map.Redact(f)
				}
				dl.Fields = f
			}
		}
		out = append(out, dl)
	}
	return out, nil
}

// Replay sends a dead letter again, re-mapped from the source record as it is
// now (so a fix made at the source, or in the map, is what goes out, never a
// stale payload), and returns the run's report. A source record deleted since
// carries its delete instead.
func (e *Engine) Replay(ctx context.Context, id int64) (*Report, error) {
	return e.admin(ctx, func(r *run, p *plan) error {
		es, err := e.store.Outbox(ctx, e.name, OutboxQuery{Dead: true, IDs: []int64{id}})
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return fmt.Errorf("syncengine: no dead letter %d in pairing %q: %w", id, e.name, ErrNotFound)
		}
		en := es[0]
		p.cs.Settle = append(p.cs.Settle, en.ID)
		src := en.Target.Other()
		got, err := r.get(ctx, src, []string{en.SourceID})
		if err != nil {
			return err
		}
		links, err := e.store.Links(ctx, e.name, src, []string{en.SourceID})
		if err != nil {
			return err
		}
		pr := &pair{link: links[en.SourceID], force: src}
		rec := got[en.SourceID]
		if rec == nil {
			rec = &Record{ID: en.SourceID, Deleted: true}
		}
		if src == App {
			pr.app = rec
		} else {
			pr.crm = rec
		}
		if pr.link != nil && pr.link.Deleted && !rec.Deleted {
			pr.link = nil // re-created at the source since: sync it as new
		}
		return r.reconcile(ctx, p, pr)
	})
}

// Discard deletes a dead letter without sending it.
func (e *Engine) Discard(ctx context.Context, id int64) error {
	es, err := e.store.Outbox(ctx, e.name, OutboxQuery{Dead: true, IDs: []int64{id}})
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return fmt.Errorf("syncengine: no dead letter %d in pairing %q: %w", id, e.name, ErrNotFound)
	}
	return e.store.Commit(ctx, e.name, &Changeset{Settle: []int64{id}})
}

// Parked lists the conflicts held for review, oldest first, with both
// sides' values as they were when the conflict was parked.
func (e *Engine) Parked(ctx context.Context) ([]ParkedRecord, error) {
	ps, err := e.store.Parked(ctx, e.name)
	if err != nil {
		return nil, err
	}
	out := make([]ParkedRecord, 0, len(ps))
	for _, pc := range ps {
		pr := ParkedRecord{ID: pc.ID, AppID: pc.AppID, CRMID: pc.CRMID, Reason: pc.Reason, At: pc.At}
		if c, err := decodeConflict(pc.Payload); err == nil && c != nil {
			c.App.Fields = e.p.Map.Redact(c.App.Fields)
			c.CRM.Fields = e.p.Map.Redact(c.CRM.Fields)
			pr.Conflict = c
		}
		out = append(out, pr)
	}
	return out, nil
}

// ParkedRecord is a conflict waiting for a person, as the API shows it.
type ParkedRecord struct {
	ID    int64
	AppID string
	CRMID string
	// Conflict holds both sides' values (personal fields redacted); nil for
	// a record parked because its match was ambiguous.
	Conflict *conflict.Conflict
	Reason   string
	At       time.Time
}

// Release decides a parked conflict with resolver (conflict.SourceOfTruth,
// a conflict.Func of the person's choices, ...) applied to both records as
// they are now, and syncs the result. For a record parked because its match
// was ambiguous, Release forgets the hold; link the records by hand first,
// or it is synced as new at its next change.
func (e *Engine) Release(ctx context.Context, id int64, resolver conflict.Resolver) (*Report, error) {
	return e.admin(ctx, func(r *run, p *plan) error {
		ps, err := e.store.Parked(ctx, e.name)
		if err != nil {
			return err
		}
		var pc *ParkedConflict
		for _, c := range ps {
			if c.ID == id {
				pc = c
			}
		}
		if pc == nil {
			return fmt.Errorf("syncengine: no parked conflict %d in pairing %q: %w", id, e.name, ErrNotFound)
		}
		p.cs.Release = append(p.cs.Release, id)
		if pc.AppID == "" || pc.CRMID == "" {
			return nil
		}
		apps, err := r.get(ctx, App, []string{pc.AppID})
		if err != nil {
			return err
		}
		crms, err := r.get(ctx, CRM, []string{pc.CRMID})
		if err != nil {
			return err
		}
		links, err := e.store.Links(ctx, e.name, App, []string{pc.AppID})
		if err != nil {
			return err
		}
		pr := &pair{app: apps[pc.AppID], crm: crms[pc.CRMID], link: links[pc.AppID], resolver: resolver}
		if pr.app == nil {
			pr.app = &Record{ID: pc.AppID, Deleted: true}
		}
		if pr.crm == nil {
			pr.crm = &Record{ID: pc.CRMID, Deleted: true}
		}
		if pr.link != nil && pr.link.CRMID != pc.CRMID {
			return fmt.Errorf("syncengine: parked conflict %d: app record %q has been linked to another CRM record since; discard the hold instead", id, pc.AppID)
		}
		return r.reconcile(ctx, p, pr)
	})
}

// Decisions returns the decision log after the entry afterID, oldest first,
// at most limit entries (all when limit <= 0).
func (e *Engine) Decisions(ctx context.Context, afterID int64, limit int) ([]*DecisionRecord, error) {
	return e.store.Decisions(ctx, e.name, afterID, limit)
}

// admin runs an operator's action as a small run of its own: it takes the
// lease, plans with fn, commits, and sends what was planned.
func (e *Engine) admin(ctx context.Context, fn func(*run, *plan) error) (*Report, error) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	rep := &Report{Pairing: e.name, Started: e.now()}
	r := &run{e: e, rep: rep}
	ok, err := e.store.AcquireLease(ctx, e.name, e.owner, e.leaseTTL)
	if err != nil {
		return rep, err
	}
	if !ok {
		return rep, ErrLeaseHeld
	}
	defer func() { _ = e.store.ReleaseLease(context.WithoutCancel(ctx), e.name, e.owner) }()
	p, err := r.newPlan(ctx)
	if err != nil {
		return rep, err
	}
	p.parkedA, p.parkedC = map[string]bool{}, map[string]bool{} // an operator's action goes through holds
	if err := fn(r, p); err != nil {
		return rep, err
	}
	if err := e.store.Commit(ctx, e.name, &p.cs); err != nil {
		return rep, err
	}
	err = r.drive(ctx, true)
	rep.Finished = e.now()
	return rep, err
}

type encodedVersion struct {
	ID         string                  `json:"id"`
	Fields     map[string]encodedValue `json:"fields"`
	Changed    []string                `json:"changed,omitempty"`
	ModifiedAt time.Time               `json:"modified_at"`
}

type encodedConflict struct {
	App          encodedVersion `json:"app"`
	CRM          encodedVersion `json:"crm"`
	Contested    []string       `json:"contested"`
	FirstContact bool           `json:"first_contact,omitempty"`
}

func encodeConflict(c *conflict.Conflict) ([]byte, error) {
	var ec encodedConflict
	var err error
	for _, v := range []struct {
		in  conflict.Version
		out *encodedVersion
	}{{c.App, &ec.App}, {c.CRM, &ec.CRM}} {
		v.out.ID, v.out.Changed, v.out.ModifiedAt = v.in.ID, v.in.Changed, v.in.ModifiedAt
		if v.out.Fields, err = encodeFields(v.in.Fields); err != nil {
			return nil, err
		}
	}
	ec.Contested, ec.FirstContact = c.Contested, c.FirstContact
	return json.Marshal(ec)
}

func decodeConflict(b []byte) (*conflict.Conflict, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var ec encodedConflict
	if err := json.Unmarshal(b, &ec); err != nil {
		return nil, err
	}
	c := &conflict.Conflict{Contested: ec.Contested, FirstContact: ec.FirstContact}
	var err error
	for _, v := range []struct {
		in  encodedVersion
		out *conflict.Version
	}{{ec.App, &c.App}, {ec.CRM, &c.CRM}} {
		v.out.ID, v.out.Changed, v.out.ModifiedAt = v.in.ID, v.in.Changed, v.in.ModifiedAt
		if v.out.Fields, err = decodeFields(v.in.Fields); err != nil {
			return nil, err
		}
	}
	return c, nil
}
