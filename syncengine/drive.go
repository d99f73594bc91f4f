package syncengine

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/retry"
)

// drive sends the outbox's due entries, in order, batched by side and
// operation. With wait, it then waits for entries scheduled for a retry, for
// as long as the engine's patience allows.
func (r *run) drive(ctx context.Context, wait bool) error {
	e := r.e
	ctx, span := e.tracer.Start(ctx, "syncengine.drive")
	defer span.End()
	for {
		due, err := e.store.Outbox(ctx, e.name, OutboxQuery{DueBy: e.now(), Limit: 5000})
		if err != nil {
			return err
		}
		if len(due) > 0 {
			if err := r.send(ctx, due); err != nil {
				return err
			}
			continue
		}
		if !wait {
			return nil
		}
		pending, err := e.store.Outbox(ctx, e.name, OutboxQuery{})
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		next := pending[0].NextAttempt
		for _, p := range pending[1:] {
			if p.NextAttempt.Before(next) {
				next = p.NextAttempt
			}
		}
		d := next.Sub(e.now())
		if d > e.patience {
			return nil
		}
		if err := retry.Sleep(ctx, d); err != nil {
			return err
		}
		if err := r.renewLease(ctx); err != nil {
			return err
		}
	}
}

// send applies entries in batches of the target's size. Entries for one side
// are grouped by operation so that batches are full (one planning step
// interleaves writes to both sides, and matched and new records); order is
// kept within each group, and fully when a record has several entries
// pending, whose order matters.
func (r *run) send(ctx context.Context, entries []*OutboxEntry) error {
	for _, side := range []Side{App, CRM} {
		for _, group := range groupByOp(entries, side) {
			size := r.batchSize(side)
			for i := 0; i < len(group); i += size {
				chunk := group[i:min(i+size, len(group))]
				if err := r.renewLease(ctx); err != nil {
					return err
				}
				cs := &Changeset{}
				err := r.apply(ctx, side, chunk, cs)
				// What landed is settled even when ctx ended meanwhile:
				// otherwise a restart would send it again over newer edits.
				if cerr := r.e.store.Commit(context.WithoutCancel(ctx), r.e.name, cs); cerr != nil {
					return cerr
				}
				if err != nil {
					return err
				}
				r.e.emit(r.rep)
			}
		}
	}
	return nil
}

// groupByOp returns side's entries grouped by operation, in order of first
// appearance, or, when one record has more than one entry, in runs of
// consecutive entries of one operation.
func groupByOp(entries []*OutboxEntry, side Side) [][]*OutboxEntry {
	var mine []*OutboxEntry
	seen := map[string]bool{}
	repeated := false
	for _, en := range entries {
		if en.Target != side {
			continue
		}
		mine = append(mine, en)
		if seen[en.SourceID] {
			repeated = true
		}
		seen[en.SourceID] = true
	}
	var out [][]*OutboxEntry
	if repeated {
		for i := 0; i < len(mine); {
			j := i + 1
			for j < len(mine) && mine[j].Op == mine[i].Op {
				j++
			}
			out = append(out, mine[i:j])
			i = j
		}
		return out
	}
	idx := map[WriteOp]int{}
	for _, en := range mine {
		k, ok := idx[en.Op]
		if !ok {
			k = len(out)
			idx[en.Op] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], en)
	}
	return out
}

func (r *run) endpoint(side Side) Endpoint {
	if side == App {
		return r.e.p.App
	}
	return r.e.p.CRM
}

func (r *run) batchSize(side Side) int {
	n := 100
	if b, ok := r.endpoint(side).(BatchSizer); ok && b.BatchSize() > 0 {
		n = b.BatchSize()
	}
	if c := r.e.batchCap; c > 0 && c < n {
		n = c
	}
	return n
}

// apply sends one batch and records each entry's outcome in cs: settled with
// its link, scheduled for a retry, or dead. A batch that fails as a whole
// with a permanent error is split in halves until the bad record is alone,
// so that one bad record never dead-letters its neighbours.
func (r *run) apply(ctx context.Context, side Side, chunk []*OutboxEntry, cs *Changeset) error {
	writes := make([]Write, len(chunk))
	fields := make([]crm.Fields, len(chunk))
	pls := make([]*payload, len(chunk))
	for i, en := range chunk {
		pl, err := decodePayload(en.Payload)
		if err == nil {
			fields[i], err = decodeFields(pl.Fields)
		}
		if err != nil {
			r.fail(cs, en, crm.Errorf(crm.KindInvalidRequest, "%v", err), false)
			chunk[i] = nil
			continue
		}
		pls[i] = pl
		writes[i] = Write{Op: en.Op, ID: en.TargetID, Key: en.Key, Fields: fields[i]}
	}
	// Drop the entries that could not be decoded.
	var keep []int
	for i := range chunk {
		if chunk[i] != nil {
			keep = append(keep, i)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	if len(keep) < len(chunk) {
		var c2 []*OutboxEntry
		var w2 []Write
		var f2 []crm.Fields
		var p2 []*payload
		for _, i := range keep {
			c2, w2, f2, p2 = append(c2, chunk[i]), append(w2, writes[i]), append(f2, fields[i]), append(p2, pls[i])
		}
		chunk, writes, fields, pls = c2, w2, f2, p2
	}

	// A side whose quota ran out in this run gets no more calls: every one
	// would be refused, and would cost what is left of the day.
	if qerr := r.quotaOut[side]; qerr != nil {
		for _, en := range chunk {
			r.postpone(cs, en, qerr)
		}
		return nil
	}

	results, err := r.endpoint(side).Apply(ctx, writes)
	r.rep.Calls.add(side, 1)
	if err == nil && len(results) != len(writes) {
		err = fmt.Errorf("syncengine: the %s endpoint returned %d results for %d writes", side, len(results), len(writes))
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // entries stay pending; the next run re-sends them
		}
		results = make([]WriteResult, len(writes))
		for i := range results {
			results[i].Err = err
		}
	}

	// Unauthorized: refresh once, send again; a second refusal ends the run.
	if allFailed(results, func(err error) bool { return crm.KindOf(err) == crm.KindUnauthorized }) {
		if r.e.refresh == nil || r.refreshed[side] {
			return fmt.Errorf("syncengine: the %s refused the engine's credentials: %w", side, results[0].Err)
		}
		if r.refreshed == nil {
			r.refreshed = map[Side]bool{}
		}
		r.refreshed[side] = true
		if rerr := r.e.refresh(ctx, side); rerr != nil {
			return fmt.Errorf("syncengine: refreshing the %s credentials: %w", side, rerr)
		}
		return r.apply(ctx, side, chunk, cs)
	}

	// The quota is spent: the writes wait for it, however many attempts
	// they have had, and are not split (each half would cost a call).
	if allFailed(results, func(err error) bool { return crm.KindOf(err) == crm.KindQuotaExhausted }) {
		if r.quotaOut == nil {
			r.quotaOut = map[Side]error{}
		}
		r.quotaOut[side] = results[0].Err
		for _, en := range chunk {
			r.postpone(cs, en, results[0].Err)
		}
		return nil
	}

	// A whole batch refused for a reason that is not any record's (no
	// permission on the object, an operation the CRM does not offer): the
	// run stops with the writes kept, rather than split them one by one
	// and dead-letter every record for a setting.
	if len(chunk) > 1 && sameError(results) && batchLevel(results[0].Err) {
		return fmt.Errorf("syncengine: the %s refused a batch of %d writes: %w", side, len(chunk), results[0].Err)
	}

	// A whole batch refused for one reason: isolate the bad record.
	if len(chunk) > 1 && sameError(results) && !transient(results[0].Err) {
		mid := len(chunk) / 2
		if err := r.apply(ctx, side, chunk[:mid], cs); err != nil {
			return err
		}
		return r.apply(ctx, side, chunk[mid:], cs)
	}

	// Settle the successes, with their links.
	links, err := r.linksFor(ctx, side, chunk)
	if err != nil {
		return err
	}
	for i, en := range chunk {
		res := results[i]
		if res.Err != nil {
			if crm.KindOf(res.Err) == crm.KindQuotaExhausted {
				r.postpone(cs, en, res.Err)
			} else {
				r.fail(cs, en, res.Err, true)
			}
			continue
		}
		r.settle(cs, links, en, pls[i], fields[i], res)
	}
	for _, l := range links {
		if l.dirty {
			cs.Links = append(cs.Links, l.Link)
		}
	}
	return nil
}

type heldLink struct {
	*Link
	dirty bool
}

// linksFor loads the links of the entries' source records.
func (r *run) linksFor(ctx context.Context, target Side, chunk []*OutboxEntry) (map[string]*heldLink, error) {
	ids := make([]string, len(chunk))
	for i, en := range chunk {
		ids[i] = en.SourceID
	}
	got, err := r.e.store.Links(ctx, r.e.name, target.Other(), ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*heldLink, len(got))
	for id, l := range got {
		out[id] = &heldLink{Link: l}
	}
	return out, nil
}

func (r *run) settle(cs *Changeset, links map[string]*heldLink, en *OutboxEntry, pl *payload, fields crm.Fields, res WriteResult) {
	cs.Settle = append(cs.Settle, en.ID)
	target := en.Target
	hl := links[en.SourceID]
	if hl != nil && hl.Deleted && !pl.Tombstone && en.Op == Upsert {
		// The create of a record restored after its pair was deleted: it
		// gets a fresh link, not the tombstone.
		hl = nil
	}
	existed := hl != nil
	if hl == nil {
		if res.ID == "" && en.Op == Upsert {
			// The side did not say which record it wrote; the record's sync
			// key links it when it comes back through the feed.
			r.e.log.Warn("syncengine: an upsert landed without an id; it will be linked by its sync key", "pairing", r.e.name, "side", target.String())
			r.count(en, pl, res)
			return
		}
		l := &Link{}
		if target == CRM {
			l.AppID, l.AppVersion, l.AppHashes = en.SourceID, pl.SourceVersion, pl.SourceHashes
		} else {
			l.CRMID, l.CRMVersion, l.CRMHashes = en.SourceID, pl.SourceVersion, pl.SourceHashes
		}
		hl = &heldLink{Link: l}
		links[en.SourceID] = hl
	}
	l := hl.Link
	hl.dirty = true
	id := res.ID
	if id == "" {
		id = en.TargetID
	}
	// The version a write returns is not recorded: it is the version after
	// the write, which may include an edit someone else made since the
	// engine read the record, and that edit would then pass for an echo.
	// The write's echo is recognised by its hashes instead.
	if target == CRM {
		l.CRMID, l.CRMVersion, l.CRMHashes = id, "", overlay(l.CRMHashes, fields)
	} else {
		l.AppID, l.AppVersion, l.AppHashes = id, "", overlay(l.AppHashes, fields)
	}
	if existed && len(pl.SourceHashes) > 0 {
		// The source fields this write carried count as synced now.
		if target == App {
			l.CRMHashes = mergeHashes(l.CRMHashes, pl.SourceHashes)
		} else {
			l.AppHashes = mergeHashes(l.AppHashes, pl.SourceHashes)
		}
	}
	if pl.Tombstone {
		l.Deleted = true
	}
	l.SyncedAt = r.e.now()
	r.count(en, pl, res)
}

func (r *run) count(en *OutboxEntry, pl *payload, res WriteResult) {
	switch {
	case en.Op == Delete:
		r.rep.Deleted.add(en.Target, 1)
	case pl.Tombstone:
		r.rep.Archived.add(en.Target, 1)
	case en.Op == Upsert && res.Created:
		r.rep.Created.add(en.Target, 1)
	default:
		r.rep.Updated.add(en.Target, 1)
	}
}

// fail schedules a retry for a transient failure, or makes the entry a
// dead letter.
func (r *run) fail(cs *Changeset, en *OutboxEntry, err error, mayRetry bool) {
	e := r.e
	now := e.now()
	up := *en
	up.Attempts++
	up.UpdatedAt = now
	up.ErrorKind = crm.KindOf(err).String()
	up.Error = oneLine(err.Error())
	if mayRetry && transient(err) && up.Attempts < e.maxAttempts {
		wait := max(e.backoff(up.Attempts), retry.RetryAfter(err))
		up.NextAttempt = now.Add(wait)
		r.rep.Retried++
	} else {
		up.Dead = true
		if transient(err) {
			up.Error = fmt.Sprintf("gave up after %d attempts: %s", up.Attempts, up.Error)
		}
		r.rep.DeadLettered++
	}
	cs.Update = append(cs.Update, &up)
}

// postpone keeps a write refused for a spent quota pending until the quota
// is likely back (the CRM's Retry-After, or the engine's quota wait),
// without counting an attempt: the record is not at fault.
func (r *run) postpone(cs *Changeset, en *OutboxEntry, err error) {
	now := r.e.now()
	up := *en
	up.UpdatedAt = now
	up.ErrorKind = crm.KindOf(err).String()
	up.Error = oneLine(err.Error())
	up.NextAttempt = now.Add(max(r.e.quotaWait, retry.RetryAfter(err)))
	r.rep.Deferred++
	cs.Update = append(cs.Update, &up)
}

func mergeHashes(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// batchLevel reports whether an error that refused a whole batch concerns
// the object or the connection rather than a record in it.
func batchLevel(err error) bool {
	switch crm.KindOf(err) {
	case crm.KindForbidden, crm.KindUnsupported:
		return true
	}
	return false
}

// renewLease extends the run's lease, or reports that another worker took it.
func (r *run) renewLease(ctx context.Context) error {
	ok, err := r.e.store.AcquireLease(ctx, r.e.name, r.e.owner, r.e.leaseTTL)
	if err != nil {
		return err
	}
	if !ok {
		return ErrLeaseHeld
	}
	return nil
}

// transient reports whether a write may succeed if sent again unchanged. An
// unknown outcome counts: every write the engine sends is idempotent.
func transient(err error) bool {
	var ce *crm.Error
	if errors.As(err, &ce) {
		return ce.Kind.Retryable() || ce.Kind == crm.KindUnknown
	}
	return !errors.Is(err, context.Canceled) // a plain error from a host's endpoint: try again
}

func allFailed(res []WriteResult, pred func(error) bool) bool {
	if len(res) == 0 {
		return false
	}
	for _, r := range res {
		if r.Err == nil || !pred(r.Err) {
			return false
		}
	}
	return true
}

// sameError reports whether every write failed with the one error of their
// batch (the Client gives each write of a refused batch the same error).
func sameError(res []WriteResult) bool {
	first := res[0].Err
	if first == nil {
		return false
	}
	for _, r := range res[1:] {
		if r.Err != first {
			return false
		}
	}
	return true
}
