package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/store/internal/storecheck"
)

// statements are the store's SQL, with its schema's table names in.
type statements struct {
	lock                                 string
	linksByApp, linksByCRM               string
	deleteLinks, insertLinks             string
	removeLink, removeByApp, removeByCRM string
	cursor, upsertCursor                 string
	outbox, settle, update, enqueue      string
	decisions, decide                    string
	parked, park, release                string
	acquireLease, releaseLease           string
}

func newStatements(schema string) statements {
	t := func(name string) string { return pgx.Identifier{schema, name}.Sanitize() }
	links, cursors, outbox := t("crmkit_sync_links"), t("crmkit_sync_cursors"), t("crmkit_sync_outbox")
	decisions, parked, leases := t("crmkit_sync_decisions"), t("crmkit_sync_parked"), t("crmkit_sync_leases")
	const linkCols = `app_id, crm_id, app_version, crm_version, app_hashes, crm_hashes, deleted, synced_at`
	const entryCols = `id, target, op, source_id, target_id, key, payload, attempts, next_attempt, dead, error_kind, error, created_at, updated_at`
	return statements{
		lock:        `SELECT pg_advisory_xact_lock($1)`,
		linksByApp:  `SELECT ` + linkCols + ` FROM ` + links + ` WHERE pairing = $1 AND app_id = ANY($2)`,
		linksByCRM:  `SELECT ` + linkCols + ` FROM ` + links + ` WHERE pairing = $1 AND crm_id = ANY($2)`,
		deleteLinks: `DELETE FROM ` + links + ` WHERE pairing = $1 AND (app_id = ANY($2) OR crm_id = ANY($3))`,
		insertLinks: `INSERT INTO ` + links + ` (pairing, ` + linkCols + `)
			SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[], $9::timestamptz[])`,
		removeLink:   `DELETE FROM ` + links + ` WHERE pairing = $1 AND app_id = $2 AND crm_id = $3`,
		removeByApp:  `DELETE FROM ` + links + ` WHERE pairing = $1 AND app_id = $2`,
		removeByCRM:  `DELETE FROM ` + links + ` WHERE pairing = $1 AND crm_id = $2`,
		cursor:       `SELECT cursor FROM ` + cursors + ` WHERE pairing = $1 AND side = $2`,
		upsertCursor: `INSERT INTO ` + cursors + ` (pairing, side, cursor) VALUES ($1, $2, $3) ON CONFLICT (pairing, side) DO UPDATE SET cursor = EXCLUDED.cursor`,
		outbox:       `SELECT ` + entryCols + ` FROM ` + outbox + ` WHERE pairing = $1 AND dead = $2`,
		settle:       `DELETE FROM ` + outbox + ` WHERE pairing = $1 AND id = ANY($2) RETURNING id`,
		update: `UPDATE ` + outbox + ` SET attempts = $3, next_attempt = $4, dead = $5, error_kind = $6, error = $7, updated_at = $8
			WHERE pairing = $1 AND id = $2`,
		enqueue: `INSERT INTO ` + outbox + ` (pairing, target, op, source_id, target_id, key, payload, attempts, next_attempt, dead, error_kind, error, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
		decisions: `SELECT id, at, app_id, crm_id, field, app_value, crm_value, winner, resolver, reason FROM ` + decisions + `
			WHERE pairing = $1 AND id > $2 ORDER BY id LIMIT $3`,
		decide: `INSERT INTO ` + decisions + ` (pairing, at, app_id, crm_id, field, app_value, crm_value, winner, resolver, reason)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		parked:  `SELECT id, app_id, crm_id, payload, reason, at FROM ` + parked + ` WHERE pairing = $1 ORDER BY id`,
		park:    `INSERT INTO ` + parked + ` (pairing, app_id, crm_id, payload, reason, at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		release: `DELETE FROM ` + parked + ` WHERE pairing = $1 AND id = ANY($2) RETURNING id`,
		// The upsert's WHERE lets the row change only when owner already
		// holds the lease or it has expired; otherwise no row comes back.
		// Concurrent upserts of one pairing are serialised on its row, and
		// each sees the row as the one before it left it.
		acquireLease: `INSERT INTO ` + leases + ` AS l (pairing, owner, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (pairing) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
			WHERE l.owner = $2 OR l.expires_at <= $4
			RETURNING owner`,
		releaseLease: `DELETE FROM ` + leases + ` WHERE pairing = $1 AND owner = $2`,
	}
}

// Links returns the links of the given record ids on one side, keyed by
// that id, in one statement (id = ANY($2)) however many ids there are.
func (s *Store) Links(ctx context.Context, pairing string, side syncengine.Side, ids []string) (map[string]*syncengine.Link, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := storecheck.Side("postgres store: Links", side); err != nil {
		return nil, err
	}
	if err := checkText("postgres store: Links: pairing", pairing); err != nil {
		return nil, err
	}
	// An id PostgreSQL text cannot hold cannot have been stored: it has no
	// link, and is left out of the query.
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if textOK(id) {
			valid = append(valid, id)
		}
	}
	out := make(map[string]*syncengine.Link, len(valid))
	if len(valid) == 0 {
		return out, nil
	}
	query := s.sql.linksByApp
	if side == syncengine.CRM {
		query = s.sql.linksByCRM
	}
	rows, err := s.pool.Query(ctx, query, pairing, valid)
	if err != nil {
		return nil, s.fail(ctx, err, "Links of pairing %q", pairing)
	}
	defer rows.Close()
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			return nil, s.fail(ctx, err, "Links of pairing %q", pairing)
		}
		if side == syncengine.App {
			out[l.AppID] = l
		} else {
			out[l.CRMID] = l
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, err, "Links of pairing %q", pairing)
	}
	return out, nil
}

func scanLink(rows pgx.Rows) (*syncengine.Link, error) {
	var (
		l                    syncengine.Link
		appHashes, crmHashes pgtype.Text
	)
	if err := rows.Scan(&l.AppID, &l.CRMID, &l.AppVersion, &l.CRMVersion, &appHashes, &crmHashes, &l.Deleted, &l.SyncedAt); err != nil {
		return nil, err
	}
	var err error
	if l.AppHashes, err = storecheck.DecodeHashes(appHashes.String); err != nil {
		return nil, fmt.Errorf("link of app record %q: app hashes: %w", l.AppID, err)
	}
	if l.CRMHashes, err = storecheck.DecodeHashes(crmHashes.String); err != nil {
		return nil, fmt.Errorf("link of app record %q: CRM hashes: %w", l.AppID, err)
	}
	l.SyncedAt = l.SyncedAt.UTC()
	return &l, nil
}

// hashesText is a link's field hashes as a column value, NULL when there
// are none.
func hashesText(what string, m map[string]string) (pgtype.Text, error) {
	s, err := storecheck.EncodeHashes(what, m)
	return pgtype.Text{String: s, Valid: s != ""}, err
}

// Cursor returns the side's stored change-feed cursor, "" if none.
func (s *Store) Cursor(ctx context.Context, pairing string, side syncengine.Side) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := storecheck.Side("postgres store: Cursor", side); err != nil {
		return "", err
	}
	if err := checkText("postgres store: Cursor: pairing", pairing); err != nil {
		return "", err
	}
	var cur []byte
	err := s.pool.QueryRow(ctx, s.sql.cursor, pairing, int16(side)).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", s.fail(ctx, err, "Cursor of pairing %q, side %v", pairing, side)
	}
	return string(cur), nil
}

// Outbox returns the entries q selects, in ID order, in one statement.
func (s *Store) Outbox(ctx context.Context, pairing string, q syncengine.OutboxQuery) ([]*syncengine.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := storecheck.Query(q); err != nil {
		return nil, fmt.Errorf("postgres store: Outbox: %w", err)
	}
	if err := checkText("postgres store: Outbox: pairing", pairing); err != nil {
		return nil, err
	}
	if q.IDs != nil && len(q.IDs) == 0 {
		return nil, nil
	}
	// Only the conditions the query sets go in, so that each shape of
	// query gets a plan of its own from the server.
	query := s.sql.outbox
	args := []any{pairing, q.Dead}
	if !q.Dead && !q.DueBy.IsZero() {
		args = append(args, storecheck.Time(q.DueBy))
		query += ` AND next_attempt <= $` + strconv.Itoa(len(args))
	}
	if q.Target != 0 {
		args = append(args, int16(q.Target))
		query += ` AND target = $` + strconv.Itoa(len(args))
	}
	if q.IDs != nil {
		args = append(args, q.IDs)
		query += ` AND id = ANY($` + strconv.Itoa(len(args)) + `)`
	}
	query += ` ORDER BY id`
	if q.Limit > 0 {
		args = append(args, int64(q.Limit))
		query += ` LIMIT $` + strconv.Itoa(len(args))
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, s.fail(ctx, err, "Outbox of pairing %q", pairing)
	}
	defer rows.Close()
	var out []*syncengine.OutboxEntry
	for rows.Next() {
		var (
			e              syncengine.OutboxEntry
			target, op     int16
			attempts       int64
			next, cre, upd time.Time
		)
		if err := rows.Scan(&e.ID, &target, &op, &e.SourceID, &e.TargetID, &e.Key, &e.Payload, &attempts, &next,
			&e.Dead, &e.ErrorKind, &e.Error, &cre, &upd); err != nil {
			return nil, s.fail(ctx, err, "Outbox of pairing %q", pairing)
		}
		if len(e.Payload) == 0 {
			e.Payload = nil
		}
		e.Target, e.Op, e.Attempts = syncengine.Side(target), syncengine.WriteOp(op), int(attempts)
		e.NextAttempt, e.CreatedAt, e.UpdatedAt = next.UTC(), cre.UTC(), upd.UTC()
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, err, "Outbox of pairing %q", pairing)
	}
	return out, nil
}

// Decisions returns the decision log after the entry afterID, oldest first,
// at most limit entries (all when limit <= 0).
func (s *Store) Decisions(ctx context.Context, pairing string, afterID int64, limit int) ([]*syncengine.DecisionRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkText("postgres store: Decisions: pairing", pairing); err != nil {
		return nil, err
	}
	var lim any // NULL: LIMIT ALL
	if limit > 0 {
		lim = int64(limit)
	}
	rows, err := s.pool.Query(ctx, s.sql.decisions, pairing, afterID, lim)
	if err != nil {
		return nil, s.fail(ctx, err, "Decisions of pairing %q", pairing)
	}
	defer rows.Close()
	var out []*syncengine.DecisionRecord
	for rows.Next() {
		var d syncengine.DecisionRecord
		if err := rows.Scan(&d.ID, &d.At, &d.AppID, &d.CRMID, &d.Field, &d.AppValue, &d.CRMValue, &d.Winner, &d.Resolver, &d.Reason); err != nil {
			return nil, s.fail(ctx, err, "Decisions of pairing %q", pairing)
		}
		d.At = d.At.UTC()
		out = append(out, &d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, err, "Decisions of pairing %q", pairing)
	}
	return out, nil
}

// Parked returns the conflicts parked for review, oldest first.
func (s *Store) Parked(ctx context.Context, pairing string) ([]*syncengine.ParkedConflict, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkText("postgres store: Parked: pairing", pairing); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, s.sql.parked, pairing)
	if err != nil {
		return nil, s.fail(ctx, err, "Parked of pairing %q", pairing)
	}
	defer rows.Close()
	var out []*syncengine.ParkedConflict
	for rows.Next() {
		var p syncengine.ParkedConflict
		if err := rows.Scan(&p.ID, &p.AppID, &p.CRMID, &p.Payload, &p.Reason, &p.At); err != nil {
			return nil, s.fail(ctx, err, "Parked of pairing %q", pairing)
		}
		if len(p.Payload) == 0 {
			p.Payload = nil
		}
		p.At = p.At.UTC()
		out = append(out, &p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, err, "Parked of pairing %q", pairing)
	}
	return out, nil
}

// linkRows are links as column arrays, for one INSERT ... SELECT FROM
// unnest(...).
type linkRows struct {
	appIDs, crmIDs, appVersions, crmVersions []string
	appHashes, crmHashes                     []pgtype.Text
	deleted                                  []bool
	syncedAt                                 []time.Time
	// allApp and allCRM are the ids of every link of the changeset, kept
	// or replaced: any stored link with one of them goes.
	allApp, allCRM []string
}

// newLinkRows applies Changeset.Links in order within the changeset (a
// later link replaces an earlier one with the same app id or CRM id), so
// that the survivors can go in with one statement, and checks that every
// id, version and hash can be stored.
func newLinkRows(ls []*syncengine.Link) (*linkRows, error) {
	r := &linkRows{}
	byApp := make(map[string]int, len(ls))
	byCRM := make(map[string]int, len(ls))
	dropped := make([]bool, len(ls))
	for i, l := range ls {
		what := fmt.Sprintf("Changeset.Links[%d]", i)
		for _, f := range []struct{ name, v string }{{"AppID", l.AppID}, {"CRMID", l.CRMID}, {"AppVersion", l.AppVersion}, {"CRMVersion", l.CRMVersion}} {
			if err := checkText(what+"."+f.name, f.v); err != nil {
				return nil, err
			}
		}
		if j, ok := byApp[l.AppID]; ok {
			dropped[j] = true
			delete(byCRM, ls[j].CRMID)
		}
		if j, ok := byCRM[l.CRMID]; ok {
			dropped[j] = true
			delete(byApp, ls[j].AppID)
		}
		byApp[l.AppID], byCRM[l.CRMID] = i, i
		r.allApp = append(r.allApp, l.AppID)
		r.allCRM = append(r.allCRM, l.CRMID)
	}
	for i, l := range ls {
		if dropped[i] {
			continue
		}
		what := fmt.Sprintf("Changeset.Links[%d]", i)
		appH, err := hashesText(what+".AppHashes", l.AppHashes)
		if err != nil {
			return nil, err
		}
		crmH, err := hashesText(what+".CRMHashes", l.CRMHashes)
		if err != nil {
			return nil, err
		}
		r.appIDs = append(r.appIDs, l.AppID)
		r.crmIDs = append(r.crmIDs, l.CRMID)
		r.appVersions = append(r.appVersions, l.AppVersion)
		r.crmVersions = append(r.crmVersions, l.CRMVersion)
		r.appHashes = append(r.appHashes, appH)
		r.crmHashes = append(r.crmHashes, crmH)
		r.deleted = append(r.deleted, l.Deleted)
		r.syncedAt = append(r.syncedAt, storecheck.Time(l.SyncedAt))
	}
	return r, nil
}

// checkCommitText checks the ids and names of c that PostgreSQL text must
// hold exactly (links are checked by newLinkRows).
func checkCommitText(c *syncengine.Changeset) error {
	type field struct{ name, v string }
	check := func(what string, fs ...field) error {
		for _, f := range fs {
			if err := checkText(what+"."+f.name, f.v); err != nil {
				return err
			}
		}
		return nil
	}
	for i, e := range c.Enqueue {
		if err := check(fmt.Sprintf("Changeset.Enqueue[%d]", i), field{"SourceID", e.SourceID}, field{"TargetID", e.TargetID}, field{"Key", e.Key}); err != nil {
			return err
		}
	}
	for i, d := range c.Decisions {
		if err := check(fmt.Sprintf("Changeset.Decisions[%d]", i), field{"AppID", d.AppID}, field{"CRMID", d.CRMID}, field{"Field", d.Field}); err != nil {
			return err
		}
	}
	for i, p := range c.Park {
		if err := check(fmt.Sprintf("Changeset.Park[%d]", i), field{"AppID", p.AppID}, field{"CRMID", p.CRMID}); err != nil {
			return err
		}
	}
	return nil
}

// Commit applies c in one READ COMMITTED transaction: all of it or none of
// it. The transaction first takes an advisory lock on the pairing, so the
// commits of one pairing run one at a time, across every Store sharing the
// database: each statement then sees the state the previous commit left,
// and ids of one pairing become visible in increasing order, which is what
// lets a reader page the decision log by id without missing an entry.
//
// An id c settles, updates or releases that the pairing does not hold fails
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
		return fmt.Errorf("postgres store: Commit to pairing %q: %w", pairing, err)
	}
	if err := checkText("pairing", pairing); err != nil {
		return fmt.Errorf("postgres store: Commit: %w", err)
	}
	if err := checkCommitText(c); err != nil {
		return fmt.Errorf("postgres store: Commit to pairing %q: %w", pairing, err)
	}
	links, err := newLinkRows(c.Links)
	if err != nil {
		return fmt.Errorf("postgres store: Commit to pairing %q: %w", pairing, err)
	}
	entryIDs := make([]int64, len(c.Enqueue))
	decisionIDs := make([]int64, len(c.Decisions))
	parkedIDs := make([]int64, len(c.Park))

	err = s.inTx(ctx, func(tx pgx.Tx) error {
		b := &batch{tx: tx}
		b.exec("lock the pairing", nil, s.sql.lock, s.commitKey(pairing))
		for _, side := range []syncengine.Side{syncengine.App, syncengine.CRM} {
			if cur, ok := c.Cursors[side]; ok {
				b.exec(fmt.Sprintf("store the %v cursor", side), nil, s.sql.upsertCursor, pairing, int16(side), []byte(cur))
			}
		}
		if len(c.Links) > 0 {
			// Every stored link sharing an app id or a CRM id with one of
			// c's goes, then the survivors of c's own order go in.
			b.exec("replace links", nil, s.sql.deleteLinks, pairing, links.allApp, links.allCRM)
			b.exec("store links", nil, s.sql.insertLinks, pairing, links.appIDs, links.crmIDs, links.appVersions,
				links.crmVersions, links.appHashes, links.crmHashes, links.deleted, links.syncedAt)
		}
		for _, l := range c.RemoveLinks {
			if !textOK(l.AppID) || !textOK(l.CRMID) {
				continue // not storable, so not stored: nothing to remove
			}
			what := fmt.Sprintf("remove the link of app record %q and CRM record %q", l.AppID, l.CRMID)
			switch {
			case l.AppID != "" && l.CRMID != "":
				b.exec(what, nil, s.sql.removeLink, pairing, l.AppID, l.CRMID)
			case l.AppID != "":
				b.exec(what, nil, s.sql.removeByApp, pairing, l.AppID)
			default:
				b.exec(what, nil, s.sql.removeByCRM, pairing, l.CRMID)
			}
		}
		if len(c.Settle) > 0 {
			b.query("settle outbox entries", allFound("settle outbox entry", c.Settle), s.sql.settle, pairing, c.Settle)
		}
		for _, e := range c.Update {
			if err := b.sendIfFull(ctx); err != nil {
				return err
			}
			b.exec(fmt.Sprintf("update outbox entry %d", e.ID), affectedOne, s.sql.update, pairing, e.ID, int64(e.Attempts),
				storecheck.Time(e.NextAttempt), e.Dead, humanText(e.ErrorKind), humanText(e.Error), storecheck.Time(e.UpdatedAt))
		}
		for i, e := range c.Enqueue {
			if err := b.sendIfFull(ctx); err != nil {
				return err
			}
			b.query(fmt.Sprintf("enqueue outbox entry %d of %d", i+1, len(c.Enqueue)), scanID(&entryIDs[i]), s.sql.enqueue,
				pairing, int16(e.Target), int16(e.Op), e.SourceID, e.TargetID, e.Key, e.Payload, int64(e.Attempts),
				storecheck.Time(e.NextAttempt), e.Dead, humanText(e.ErrorKind), humanText(e.Error),
				storecheck.Time(e.CreatedAt), storecheck.Time(e.UpdatedAt))
		}
		for i, d := range c.Decisions {
			if err := b.sendIfFull(ctx); err != nil {
				return err
			}
			b.query(fmt.Sprintf("log decision %d of %d", i+1, len(c.Decisions)), scanID(&decisionIDs[i]), s.sql.decide,
				pairing, storecheck.Time(d.At), d.AppID, d.CRMID, d.Field, humanText(d.AppValue), humanText(d.CRMValue),
				humanText(d.Winner), humanText(d.Resolver), humanText(d.Reason))
		}
		for i, p := range c.Park {
			if err := b.sendIfFull(ctx); err != nil {
				return err
			}
			b.query(fmt.Sprintf("park the conflict of app record %q and CRM record %q", p.AppID, p.CRMID), scanID(&parkedIDs[i]),
				s.sql.park, pairing, p.AppID, p.CRMID, p.Payload, humanText(p.Reason), storecheck.Time(p.At))
		}
		if len(c.Release) > 0 {
			b.query("release parked conflicts", allFound("release parked conflict", c.Release), s.sql.release, pairing, c.Release)
		}
		return b.send(ctx)
	})
	if err != nil {
		return s.fail(ctx, err, "Commit to pairing %q", pairing)
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

// exec queues a statement whose command tag check inspects (nil: any).
// An error names what the statement was for.
func (b *batch) exec(what string, check func(pgconn.CommandTag) error, query string, args ...any) {
	b.queue(query, args...).Fn = func(br pgx.BatchResults) error {
		ct, err := br.Exec()
		if err == nil && check != nil {
			err = check(ct)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
}

// query queues a statement whose rows read consumes.
func (b *batch) query(what string, read func(pgx.Rows) error, query string, args ...any) {
	b.queue(query, args...).Fn = func(br pgx.BatchResults) error {
		rows, _ := br.Query() // an error shows in rows.Err
		defer rows.Close()
		err := read(rows)
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
}

func (b *batch) sendIfFull(ctx context.Context) error {
	if !b.full() {
		return nil
	}
	return b.send(ctx)
}

// affectedOne turns a statement that touched no row into ErrNotFound.
func affectedOne(ct pgconn.CommandTag) error {
	if ct.RowsAffected() == 0 {
		return syncengine.ErrNotFound
	}
	return nil
}

// scanID reads the one id an INSERT ... RETURNING id gives into dst.
func scanID(dst *int64) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return errors.New("the server returned no id")
		}
		return rows.Scan(dst)
	}
}

// allFound reads the ids a DELETE ... RETURNING id gives and reports the
// first of want that is missing, as ErrNotFound; an id wanted twice is
// missing the second time, as it would be deleted one at a time.
func allFound(what string, want []int64) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		got := make(map[int64]bool, len(want))
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			got[id] = true
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range want {
			if !got[id] {
				return fmt.Errorf("%s %d: %w", what, id, syncengine.ErrNotFound)
			}
			delete(got, id)
		}
		return nil
	}
}

// AcquireLease takes or renews the pairing's lease for owner until ttl from
// now by the store's clock (see WithClock), in one statement, and reports
// whether owner holds it. A lease is free at and after its expiry instant.
func (s *Store) AcquireLease(ctx context.Context, pairing, owner string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := storecheck.Lease(owner, ttl); err != nil {
		return false, fmt.Errorf("postgres store: AcquireLease of pairing %q: %w", pairing, err)
	}
	if err := errors.Join(checkText("pairing", pairing), checkText("lease owner", owner)); err != nil {
		return false, fmt.Errorf("postgres store: AcquireLease: %w", err)
	}
	now := storecheck.Time(s.now())
	var got string
	err := s.pool.QueryRow(ctx, s.sql.acquireLease, pairing, owner, storecheck.Time(now.Add(ttl)), now).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, s.fail(ctx, err, "AcquireLease of pairing %q for %q", pairing, owner)
	}
	return true, nil
}

// ReleaseLease gives up owner's lease, if owner holds it.
func (s *Store) ReleaseLease(ctx context.Context, pairing, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := storecheck.LeaseRelease(owner); err != nil {
		return fmt.Errorf("postgres store: ReleaseLease of pairing %q: %w", pairing, err)
	}
	if !textOK(pairing) || !textOK(owner) {
		return nil // neither can be stored, so owner holds no lease
	}
	if _, err := s.pool.Exec(ctx, s.sql.releaseLease, pairing, owner); err != nil {
		return s.fail(ctx, err, "ReleaseLease of pairing %q for %q", pairing, owner)
	}
	return nil
}
