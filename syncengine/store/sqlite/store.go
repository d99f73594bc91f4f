package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/store/internal/storecheck"
)

const linkColumns = `app_id, crm_id, app_version, crm_version, app_hashes, crm_hashes, deleted, synced_at`

// Links returns the links of the given record ids on one side, keyed by
// that id. Thousands of ids are looked up in IN lists of 500.
func (s *Store) Links(ctx context.Context, pairing string, side syncengine.Side, ids []string) (map[string]*syncengine.Link, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := storecheck.Side("sqlite store: Links", side); err != nil {
		return nil, err
	}
	column := "app_id"
	if side == syncengine.CRM {
		column = "crm_id"
	}
	out := make(map[string]*syncengine.Link, len(ids))
	chunks := (len(ids) + chunk - 1) / chunk
	err := s.read(ctx, chunks, func(q querier) error {
		args := make([]any, 0, 1+min(len(ids), chunk))
		for start := 0; start < len(ids); start += chunk {
			part := ids[start:min(start+chunk, len(ids))]
			args = append(args[:0], pairing)
			for _, id := range part {
				args = append(args, id)
			}
			rows, err := q.QueryContext(ctx, `SELECT `+linkColumns+` FROM crmkit_sync_links WHERE pairing = ? AND `+
				column+` IN (`+placeholders(len(part))+`)`, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				l, err := scanLink(rows)
				if err != nil {
					rows.Close()
					return err
				}
				if side == syncengine.App {
					out[l.AppID] = l
				} else {
					out[l.CRMID] = l
				}
			}
			if err := closeRows(rows); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fail(ctx, err, "Links of pairing %q", pairing)
	}
	return out, nil
}

func scanLink(rows *sql.Rows) (*syncengine.Link, error) {
	var (
		l                  syncengine.Link
		appHashes, crmHash string
		synced             int64
	)
	if err := rows.Scan(&l.AppID, &l.CRMID, &l.AppVersion, &l.CRMVersion, &appHashes, &crmHash, &l.Deleted, &synced); err != nil {
		return nil, err
	}
	var err error
	if l.AppHashes, err = storecheck.DecodeHashes(appHashes); err != nil {
		return nil, fmt.Errorf("link of app record %q: app hashes: %w", l.AppID, err)
	}
	if l.CRMHashes, err = storecheck.DecodeHashes(crmHash); err != nil {
		return nil, fmt.Errorf("link of app record %q: CRM hashes: %w", l.AppID, err)
	}
	l.SyncedAt = fromMicros(synced)
	return &l, nil
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// Cursor returns the side's stored change-feed cursor, "" if none.
func (s *Store) Cursor(ctx context.Context, pairing string, side syncengine.Side) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := storecheck.Side("sqlite store: Cursor", side); err != nil {
		return "", err
	}
	var cur string
	err := s.db.QueryRowContext(ctx, `SELECT cursor FROM crmkit_sync_cursors WHERE pairing = ? AND side = ?`, pairing, int64(side)).Scan(&cur)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", fail(ctx, err, "Cursor of pairing %q, side %v", pairing, side)
	}
	return cur, nil
}

const entryColumns = `id, target, op, source_id, target_id, key, payload, attempts, next_attempt, dead, error_kind, error, created_at, updated_at`

// Outbox returns the entries q selects, in ID order.
func (s *Store) Outbox(ctx context.Context, pairing string, q syncengine.OutboxQuery) ([]*syncengine.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := storecheck.Query(q); err != nil {
		return nil, fmt.Errorf("sqlite store: Outbox: %w", err)
	}
	if q.IDs != nil && len(q.IDs) == 0 {
		return nil, nil
	}
	where := `pairing = ? AND dead = ?`
	args := []any{pairing, q.Dead}
	if !q.Dead && !q.DueBy.IsZero() {
		where += ` AND next_attempt <= ?`
		args = append(args, micros(q.DueBy))
	}
	if q.Target != 0 {
		where += ` AND target = ?`
		args = append(args, int64(q.Target))
	}
	limit := ""
	if q.Limit > 0 {
		limit = fmt.Sprintf(" LIMIT %d", q.Limit)
	}

	var out []*syncengine.OutboxEntry
	chunks := (len(q.IDs) + chunk - 1) / chunk
	err := s.read(ctx, chunks, func(db querier) error {
		if q.IDs == nil {
			var err error
			out, err = queryEntries(ctx, db, `SELECT `+entryColumns+` FROM crmkit_sync_outbox WHERE `+where+` ORDER BY id`+limit, args)
			return err
		}
		for start := 0; start < len(q.IDs); start += chunk {
			part := q.IDs[start:min(start+chunk, len(q.IDs))]
			a := slices.Clip(args)
			for _, id := range part {
				a = append(a, id)
			}
			es, err := queryEntries(ctx, db, `SELECT `+entryColumns+` FROM crmkit_sync_outbox WHERE `+where+
				` AND id IN (`+placeholders(len(part))+`) ORDER BY id`+limit, a)
			if err != nil {
				return err
			}
			out = append(out, es...)
		}
		return nil
	})
	if err != nil {
		return nil, fail(ctx, err, "Outbox of pairing %q", pairing)
	}
	if chunks > 1 {
		slices.SortFunc(out, func(a, b *syncengine.OutboxEntry) int { return cmp.Compare(a.ID, b.ID) })
		out = slices.CompactFunc(out, func(a, b *syncengine.OutboxEntry) bool { return a.ID == b.ID })
		if q.Limit > 0 && len(out) > q.Limit {
			out = out[:q.Limit]
		}
	}
	return out, nil
}

func queryEntries(ctx context.Context, db querier, query string, args []any) ([]*syncengine.OutboxEntry, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var out []*syncengine.OutboxEntry
	for rows.Next() {
		var (
			e                      syncengine.OutboxEntry
			target, op, attempts   int64
			next, created, updated int64
		)
		if err := rows.Scan(&e.ID, &target, &op, &e.SourceID, &e.TargetID, &e.Key, &e.Payload, &attempts, &next,
			&e.Dead, &e.ErrorKind, &e.Error, &created, &updated); err != nil {
			rows.Close()
			return nil, err
		}
		if len(e.Payload) == 0 {
			e.Payload = nil
		}
		e.Target, e.Op, e.Attempts = syncengine.Side(target), syncengine.WriteOp(op), int(attempts)
		e.NextAttempt, e.CreatedAt, e.UpdatedAt = fromMicros(next), fromMicros(created), fromMicros(updated)
		out = append(out, &e)
	}
	return out, closeRows(rows)
}

// Decisions returns the decision log after the entry afterID, oldest first,
// at most limit entries (all when limit <= 0).
func (s *Store) Decisions(ctx context.Context, pairing string, afterID int64, limit int) ([]*syncengine.DecisionRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, at, app_id, crm_id, field, app_value, crm_value, winner, resolver, reason
		FROM crmkit_sync_decisions WHERE pairing = ? AND id > ? ORDER BY id LIMIT ?`, pairing, afterID, limit)
	if err != nil {
		return nil, fail(ctx, err, "Decisions of pairing %q", pairing)
	}
	var out []*syncengine.DecisionRecord
	for rows.Next() {
		var (
			d  syncengine.DecisionRecord
			at int64
		)
		if err := rows.Scan(&d.ID, &at, &d.AppID, &d.CRMID, &d.Field, &d.AppValue, &d.CRMValue, &d.Winner, &d.Resolver, &d.Reason); err != nil {
			rows.Close()
			return nil, fail(ctx, err, "Decisions of pairing %q", pairing)
		}
		d.At = fromMicros(at)
		out = append(out, &d)
	}
	if err := closeRows(rows); err != nil {
		return nil, fail(ctx, err, "Decisions of pairing %q", pairing)
	}
	return out, nil
}

// Parked returns the conflicts parked for review, oldest first.
func (s *Store) Parked(ctx context.Context, pairing string) ([]*syncengine.ParkedConflict, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, app_id, crm_id, payload, reason, at
		FROM crmkit_sync_parked WHERE pairing = ? ORDER BY id`, pairing)
	if err != nil {
		return nil, fail(ctx, err, "Parked of pairing %q", pairing)
	}
	var out []*syncengine.ParkedConflict
	for rows.Next() {
		var (
			p  syncengine.ParkedConflict
			at int64
		)
		if err := rows.Scan(&p.ID, &p.AppID, &p.CRMID, &p.Payload, &p.Reason, &at); err != nil {
			rows.Close()
			return nil, fail(ctx, err, "Parked of pairing %q", pairing)
		}
		if len(p.Payload) == 0 {
			p.Payload = nil
		}
		p.At = fromMicros(at)
		out = append(out, &p)
	}
	if err := closeRows(rows); err != nil {
		return nil, fail(ctx, err, "Parked of pairing %q", pairing)
	}
	return out, nil
}

// Commit applies c in one write transaction: all of it or none of it. An
// id c settles, updates or releases that the pairing does not hold fails
// the commit with an error wrapping syncengine.ErrNotFound. IDs are written
// back into c's structs only when the commit succeeds.
func (s *Store) Commit(ctx context.Context, pairing string, c *syncengine.Changeset) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.Empty() {
		return nil
	}
	if err := storecheck.Changeset(c); err != nil {
		return fmt.Errorf("sqlite store: Commit to pairing %q: %w", pairing, err)
	}
	entryIDs := make([]int64, len(c.Enqueue))
	decisionIDs := make([]int64, len(c.Decisions))
	parkedIDs := make([]int64, len(c.Park))
	err := s.write(ctx, func(ctx context.Context, t *txn) error {
		for _, side := range []syncengine.Side{syncengine.App, syncengine.CRM} {
			cur, ok := c.Cursors[side]
			if !ok {
				continue
			}
			if _, err := t.exec(ctx, `INSERT INTO crmkit_sync_cursors (pairing, side, cursor) VALUES (?, ?, ?)
				ON CONFLICT (pairing, side) DO UPDATE SET cursor = excluded.cursor`, pairing, int64(side), cur); err != nil {
				return fmt.Errorf("store the %v cursor: %w", side, err)
			}
		}
		for _, l := range c.Links {
			appH, err := storecheck.EncodeHashes(fmt.Sprintf("link of app record %q: app hashes", l.AppID), l.AppHashes)
			if err != nil {
				return err
			}
			crmH, err := storecheck.EncodeHashes(fmt.Sprintf("link of app record %q: CRM hashes", l.AppID), l.CRMHashes)
			if err != nil {
				return err
			}
			// OR REPLACE deletes every row the new one conflicts with, on
			// either UNIQUE constraint: the link with the same app id and
			// the link with the same CRM id, as Changeset.Links requires.
			if _, err := t.exec(ctx, `INSERT OR REPLACE INTO crmkit_sync_links (pairing, `+linkColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, pairing, l.AppID, l.CRMID, l.AppVersion, l.CRMVersion,
				appH, crmH, l.Deleted, micros(l.SyncedAt)); err != nil {
				return fmt.Errorf("store the link of app record %q and CRM record %q: %w", l.AppID, l.CRMID, err)
			}
		}
		for _, l := range c.RemoveLinks {
			var err error
			switch {
			case l.AppID != "" && l.CRMID != "":
				_, err = t.exec(ctx, `DELETE FROM crmkit_sync_links WHERE pairing = ? AND app_id = ? AND crm_id = ?`, pairing, l.AppID, l.CRMID)
			case l.AppID != "":
				_, err = t.exec(ctx, `DELETE FROM crmkit_sync_links WHERE pairing = ? AND app_id = ?`, pairing, l.AppID)
			default:
				_, err = t.exec(ctx, `DELETE FROM crmkit_sync_links WHERE pairing = ? AND crm_id = ?`, pairing, l.CRMID)
			}
			if err != nil {
				return fmt.Errorf("remove the link of app record %q and CRM record %q: %w", l.AppID, l.CRMID, err)
			}
		}
		for _, id := range c.Settle {
			if err := affectedOne(t.exec(ctx, `DELETE FROM crmkit_sync_outbox WHERE pairing = ? AND id = ?`, pairing, id)); err != nil {
				return fmt.Errorf("settle outbox entry %d: %w", id, err)
			}
		}
		for _, e := range c.Update {
			if err := affectedOne(t.exec(ctx, `UPDATE crmkit_sync_outbox
				SET attempts = ?, next_attempt = ?, dead = ?, error_kind = ?, error = ?, updated_at = ?
				WHERE pairing = ? AND id = ?`, int64(e.Attempts), micros(e.NextAttempt), e.Dead, e.ErrorKind, e.Error,
				micros(e.UpdatedAt), pairing, e.ID)); err != nil {
				return fmt.Errorf("update outbox entry %d: %w", e.ID, err)
			}
		}
		for i, e := range c.Enqueue {
			res, err := t.exec(ctx, `INSERT INTO crmkit_sync_outbox (pairing, target, op, source_id, target_id, key, payload,
				attempts, next_attempt, dead, error_kind, error, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, pairing, int64(e.Target), int64(e.Op), e.SourceID,
				e.TargetID, e.Key, e.Payload, int64(e.Attempts), micros(e.NextAttempt), e.Dead, e.ErrorKind, e.Error,
				micros(e.CreatedAt), micros(e.UpdatedAt))
			if err == nil {
				entryIDs[i], err = res.LastInsertId()
			}
			if err != nil {
				return fmt.Errorf("enqueue outbox entry %d of %d: %w", i+1, len(c.Enqueue), err)
			}
		}
		for i, d := range c.Decisions {
			res, err := t.exec(ctx, `INSERT INTO crmkit_sync_decisions (pairing, at, app_id, crm_id, field, app_value,
				crm_value, winner, resolver, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, pairing, micros(d.At),
				d.AppID, d.CRMID, d.Field, d.AppValue, d.CRMValue, d.Winner, d.Resolver, d.Reason)
			if err == nil {
				decisionIDs[i], err = res.LastInsertId()
			}
			if err != nil {
				return fmt.Errorf("log decision %d of %d: %w", i+1, len(c.Decisions), err)
			}
		}
		for i, p := range c.Park {
			res, err := t.exec(ctx, `INSERT INTO crmkit_sync_parked (pairing, app_id, crm_id, payload, reason, at)
				VALUES (?, ?, ?, ?, ?, ?)`, pairing, p.AppID, p.CRMID, p.Payload, p.Reason, micros(p.At))
			if err == nil {
				parkedIDs[i], err = res.LastInsertId()
			}
			if err != nil {
				return fmt.Errorf("park the conflict of app record %q and CRM record %q: %w", p.AppID, p.CRMID, err)
			}
		}
		for _, id := range c.Release {
			if err := affectedOne(t.exec(ctx, `DELETE FROM crmkit_sync_parked WHERE pairing = ? AND id = ?`, pairing, id)); err != nil {
				return fmt.Errorf("release parked conflict %d: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fail(ctx, err, "Commit to pairing %q", pairing)
	}
	for i, e := range c.Enqueue {
		e.ID = entryIDs[i]
	}
	for i, d := range c.Decisions {
		d.ID = decisionIDs[i]
	}
	for i, p := range c.Park {
		p.ID = parkedIDs[i]
	}
	return nil
}

// affectedOne turns a statement that touched no row into ErrNotFound.
func affectedOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return syncengine.ErrNotFound
	}
	return nil
}

// AcquireLease takes or renews the pairing's lease for owner until ttl from
// now by the store's clock, and reports whether owner holds it. A lease is
// free at and after its expiry instant.
func (s *Store) AcquireLease(ctx context.Context, pairing, owner string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := storecheck.Lease(owner, ttl); err != nil {
		return false, fmt.Errorf("sqlite store: AcquireLease of pairing %q: %w", pairing, err)
	}
	var held bool
	err := s.write(ctx, func(ctx context.Context, t *txn) error {
		now := s.now()
		// The upsert's WHERE lets the row change only when owner already
		// holds the lease or it has expired; otherwise no row changes.
		res, err := t.exec(ctx, `INSERT INTO crmkit_sync_leases (pairing, owner, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (pairing) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
			WHERE crmkit_sync_leases.owner = excluded.owner OR crmkit_sync_leases.expires_at <= ?`,
			pairing, owner, micros(now.Add(ttl)), micros(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		held = n == 1
		return err
	})
	if err != nil {
		return false, fail(ctx, err, "AcquireLease of pairing %q for %q", pairing, owner)
	}
	return held, nil
}

// ReleaseLease gives up owner's lease, if owner holds it.
func (s *Store) ReleaseLease(ctx context.Context, pairing, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := storecheck.LeaseRelease(owner); err != nil {
		return fmt.Errorf("sqlite store: ReleaseLease of pairing %q: %w", pairing, err)
	}
	err := s.write(ctx, func(ctx context.Context, t *txn) error {
		_, err := t.exec(ctx, `DELETE FROM crmkit_sync_leases WHERE pairing = ? AND owner = ?`, pairing, owner)
		return err
	})
	if err != nil {
		return fail(ctx, err, "ReleaseLease of pairing %q for %q", pairing, owner)
	}
	return nil
}
