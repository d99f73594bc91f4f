package syncengine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine/conflict"
)

func cloneLink(l *Link) *Link {
	if l == nil {
		return nil
	}
	c := *l
	c.AppHashes = maps.Clone(l.AppHashes)
	c.CRMHashes = maps.Clone(l.CRMHashes)
	return &c
}

// reconcile decides what one record's changes mean: an echo to skip, a
// create, an update one way or both, a conflict to resolve or park, or a
// delete; and adds the writes and the link to the plan.
func (r *run) reconcile(ctx context.Context, p *plan, pr *pair) error {
	e := r.e
	m := e.p.Map
	l := pr.link
	app, cr := pr.app, pr.crm
	if pr.resolver == nil {
		if (app != nil && p.parkedA[app.ID]) || (cr != nil && p.parkedC[cr.ID]) ||
			(l != nil && (p.parkedA[l.AppID] || p.parkedC[l.CRMID])) {
			r.rep.Waiting++
			return nil
		}
	}
	if l != nil && l.Deleted {
		// A tombstone. A report of a side that is deleted, or live but as
		// the engine left it (an archived record's echo), is an echo.
		appLive := app != nil && !app.Deleted && len(changed(filter(app.Fields, e.appSet), l.AppHashes)) > 0
		crmLive := cr != nil && !cr.Deleted && len(changed(filter(cr.Fields, e.crmSet), l.CRMHashes)) > 0
		if !appLive && !crmLive {
			r.rep.Echoes++
			return nil
		}
		// A record restored (undeleted) after its pair was deleted: it is
		// synced as new, and its link replaced when its create lands.
		l = nil
		if app != nil && app.Deleted {
			app = nil
		}
		if cr != nil && cr.Deleted {
			cr = nil
		}
	}
	nl := cloneLink(l)
	if l != nil {
		// The fast path: the version the engine last saw or wrote.
		if app != nil && pr.force != App && !app.Deleted && app.Version != "" && app.Version == l.AppVersion {
			app = nil
			r.rep.Echoes++
		}
		if cr != nil && pr.force != CRM && !cr.Deleted && cr.Version != "" && cr.Version == l.CRMVersion {
			cr = nil
			r.rep.Echoes++
		}
	}
	if (app != nil && app.Deleted) || (cr != nil && cr.Deleted) {
		return r.planDelete(p, l, app, cr)
	}

	var (
		A, C           crm.Fields
		appChanged     []string
		crmChanged     []string
		appBase, crmBs map[string]string
	)
	if l != nil {
		appBase, crmBs = l.AppHashes, l.CRMHashes
	}
	if app != nil {
		A = filter(app.Fields, e.appSet)
		appChanged = changed(A, appBase)
	}
	if cr != nil {
		C = filter(cr.Fields, e.crmSet)
		crmChanged = changed(C, crmBs)
	}
	if l != nil {
		if app != nil && len(appChanged) == 0 && pr.force != App {
			r.rep.Echoes++
			nl.AppVersion = app.Version
			app = nil
		}
		if cr != nil && len(crmChanged) == 0 && pr.force != CRM {
			r.rep.Echoes++
			nl.CRMVersion = cr.Version
			cr = nil
		}
		if app == nil && cr == nil {
			if nl.AppVersion != l.AppVersion || nl.CRMVersion != l.CRMVersion {
				p.link(nl)
			}
			return nil
		}
	}

	var V crm.Fields
	if cr != nil {
		var err error
		if V, err = m.FromCRM(ctx, cr.Fields); err != nil {
			appID := ""
			if l != nil {
				appID = l.AppID
			}
			r.deadLetterPlan(p, App, Update, cr.ID, appID, err)
			cr, C = nil, nil
			if app == nil {
				return nil
			}
		}
	}
	first := l == nil
	if first && app != nil && cr != nil {
		// Two records just matched: a create still pending from either
		// would make a duplicate of the other.
		p.supersede(CRM, app.ID)
		p.supersede(App, cr.ID)
	}

	// Which application fields did the CRM change? A field whose CRM value,
	// converted, differs from the application's value at the last sync.
	// Which application fields did the CRM change? Those that the CRM
	// fields it changed convert into, and whose value differs from the
	// application's at the last sync. (Comparing every converted field with
	// the application's would take the CRM's unchanged value for a change
	// whenever the two sides disagree for another reason: a write still
	// pending, a dead letter, a conversion that loses detail.)
	var crmChangedApp []string
	if cr != nil {
		touched := V
		if !first {
			sub := make(crm.Fields, len(crmChanged))
			for _, f := range crmChanged {
				sub[f] = cr.Fields[f]
			}
			if conv, err := m.FromCRM(ctx, sub); err == nil {
				touched = conv
			}
		}
		for f, v := range V {
			// A computed field may change with any CRM field: it counts as
			// touched whenever the CRM changed something.
			_, t := touched[f]
			if (t || !e.plainApp[f]) && (first || differs(appBase, f, v)) {
				crmChangedApp = append(crmChangedApp, f)
			}
		}
		sort.Strings(crmChangedApp)
	}
	appCh := make(map[string]bool, len(appChanged))
	for _, f := range appChanged {
		appCh[f] = true
	}
	var contested []string
	if app != nil && cr != nil {
		for _, f := range crmChangedApp {
			av, ok := A[f]
			if !ok || crm.EqualValues(av, V[f]) {
				continue
			}
			// On first contact nothing is known of either side's history:
			// a value against an empty field is not a disagreement, the
			// value fills the gap. Once linked, clearing a field that the
			// other side edited is a conflict like any other.
			if first && (av == nil || V[f] == nil) {
				continue
			}
			if first || appCh[f] {
				contested = append(contested, f)
			}
		}
	}

	winners := map[string]Side{}
	if len(contested) > 0 {
		c := &conflict.Conflict{
			Pairing:      e.name,
			App:          conflict.Version{ID: app.ID, Fields: maps.Clone(A), Changed: sorted(appChanged), ModifiedAt: app.ModifiedAt},
			CRM:          conflict.Version{ID: cr.ID, Fields: maps.Clone(V), Changed: crmChangedApp, ModifiedAt: cr.ModifiedAt},
			Contested:    contested,
			FirstContact: first,
		}
		res := e.p.Resolver
		if pr.resolver != nil {
			res = pr.resolver
		}
		d, err := res.Resolve(ctx, c)
		if err == nil {
			err = d.Check(c)
		}
		if err != nil {
			// One record's trouble must not stall the pairing: it waits
			// for a person, with the reason, and the rest goes on.
			d = conflict.Decision{Park: true, Resolver: "error", Reason: oneLine(err.Error())}
		}
		r.logDecisions(p, c, d)
		if d.Park {
			pl, err := encodeConflict(c)
			if err != nil {
				return err
			}
			p.cs.Park = append(p.cs.Park, &ParkedConflict{AppID: app.ID, CRMID: cr.ID, Payload: pl, Reason: d.Resolver + ": " + d.Reason, At: e.now()})
			r.rep.Parked++
			r.rep.conflict("parked")
			return nil
		}
		winners = d.Winners
		r.rep.conflict(d.Resolver + ": " + winnerSummary(d.Winners))
	} else if app != nil && cr != nil && !first && len(appChanged) > 0 && len(crmChanged) > 0 {
		r.rep.Merged++
	}

	// The hashes of each side as observed now.
	obsApp := maps.Clone(appBase)
	if app != nil {
		obsApp = overlay(appBase, A)
	}
	obsCRM := maps.Clone(crmBs)
	if cr != nil {
		obsCRM = overlay(crmBs, C)
	}
	crmChangedSet := make(map[string]bool, len(crmChangedApp))
	for _, f := range crmChangedApp {
		crmChangedSet[f] = true
	}

	// The record as it should be on both sides, in application terms.
	D := make(crm.Fields, len(A)+len(V))
	for f, v := range V {
		D[f] = v
	}
	for f, v := range A {
		_, inV := V[f]
		switch {
		case !inV:
			D[f] = v
		case first:
			if v != nil {
				D[f] = v
			}
		case appCh[f] || !crmChangedSet[f]:
			D[f] = v
		}
	}
	for f, w := range winners {
		if w == App {
			D[f] = A[f]
		} else {
			D[f] = V[f]
		}
	}

	// Application → CRM: what the record should hold there, less what it
	// holds already.
	if app != nil && e.p.Direction != CRMToApp {
		out, err := m.ToCRM(ctx, D)
		switch {
		case err != nil:
			crmID := ""
			if cr != nil {
				crmID = cr.ID
			} else if l != nil {
				crmID = l.CRMID
			}
			r.deadLetterPlan(p, CRM, Update, app.ID, crmID, err)
		case first && cr == nil:
			if err := r.enqueue(p, CRM, Upsert, app.ID, "", app.ID, out, &payload{SourceVersion: app.Version, SourceHashes: obsApp}); err != nil {
				return err
			}
		default:
			send := crm.Fields{}
			for k, v := range out {
				if differs(obsCRM, k, v) {
					send[k] = v
				}
			}
			if len(send) > 0 {
				if err := r.enqueue(p, CRM, Update, app.ID, l.crmID(cr), "", send, &payload{}); err != nil {
					return err
				}
			}
		}
	}

	// CRM → application: the fields the CRM changed (all of them on first
	// contact), less what the application holds already.
	if cr != nil && e.p.Direction != AppToCRM {
		if first && app == nil {
			if err := r.enqueue(p, App, Upsert, cr.ID, "", cr.ID, V, &payload{SourceVersion: cr.Version, SourceHashes: obsCRM}); err != nil {
				return err
			}
		} else {
			send := crm.Fields{}
			for f := range V {
				if (first || crmChangedSet[f] || winners[f] == CRM) && differs(obsApp, f, D[f]) {
					send[f] = D[f]
				}
			}
			if len(send) > 0 {
				// The CRM fields this write carries are not counted as
				// synced until it lands: while it waits, is superseded or is
				// dead-lettered, they still read as the CRM's change, so a
				// newer write or a replay carries them again.
				hold := r.heldBack(ctx, cr, crmChanged, send)
				for f := range hold {
					if h, ok := crmBs[f]; ok {
						obsCRM[f] = h
					} else {
						delete(obsCRM, f)
					}
				}
				if err := r.enqueue(p, App, Update, cr.ID, l.appID(app), "", send, &payload{SourceHashes: hold}); err != nil {
					return err
				}
			}
		}
	}

	// The link as observed, when there is one to keep (creates make theirs
	// when they land).
	if !first || (app != nil && cr != nil) {
		if nl == nil {
			nl = &Link{AppID: app.ID, CRMID: cr.ID}
		}
		if app != nil {
			nl.AppVersion = app.Version
		}
		if cr != nil {
			nl.CRMVersion = cr.Version
		}
		nl.AppHashes, nl.CRMHashes = obsApp, obsCRM
		nl.SyncedAt = e.now()
		p.link(nl)
	}
	return nil
}

// heldBack returns the hashes of the changed CRM fields that feed the
// application fields a write carries (all of them when that cannot be told).
func (r *run) heldBack(ctx context.Context, cr *Record, crmChanged []string, send crm.Fields) map[string]string {
	hold := map[string]string{}
	for _, f := range crmChanged {
		v := cr.Fields[f]
		out, err := r.e.p.Map.FromCRM(ctx, crm.Fields{f: v})
		feeds := err != nil
		for af := range out {
			if _, ok := send[af]; ok && (r.e.plainApp[af] || err != nil) {
				feeds = true
			}
		}
		if feeds {
			hold[f] = hashValue(v)
		}
	}
	return hold
}

func (l *Link) crmID(cr *Record) string {
	if l != nil {
		return l.CRMID
	}
	return cr.ID
}

func (l *Link) appID(app *Record) string {
	if l != nil {
		return l.AppID
	}
	return app.ID
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

func winnerSummary(w map[string]Side) string {
	var app, c bool
	for _, s := range w {
		if s == App {
			app = true
		} else {
			c = true
		}
	}
	switch {
	case app && c:
		return "mixed"
	case app:
		return "app"
	}
	return "crm"
}

func (r *run) logDecisions(p *plan, c *conflict.Conflict, d conflict.Decision) {
	m := r.e.p.Map
	av, cv := m.Redact(c.App.Fields), m.Redact(c.CRM.Fields)
	for _, f := range c.Contested {
		w := "parked"
		if !d.Park {
			w = d.Winners[f].String()
		}
		p.cs.Decisions = append(p.cs.Decisions, &DecisionRecord{
			At: r.e.now(), AppID: c.App.ID, CRMID: c.CRM.ID, Field: f,
			AppValue: render(av[f]), CRMValue: render(cv[f]),
			Winner: w, Resolver: d.Resolver, Reason: d.Reason,
		})
	}
}

// planDelete carries a delete on one side to the other, as the pairing's
// delete policy says. A delete wins over an update made on the other side in
// the same window; the decision log says so.
func (r *run) planDelete(p *plan, l *Link, app, cr *Record) error {
	if l == nil {
		// A record never synced: nothing to carry, but a create of it still
		// pending must not land.
		if app != nil && app.Deleted {
			p.supersede(CRM, app.ID)
		}
		if cr != nil && cr.Deleted {
			p.supersede(App, cr.ID)
		}
		return nil
	}
	e := r.e
	appDel, crmDel := app != nil && app.Deleted, cr != nil && cr.Deleted
	nl := cloneLink(l)
	if appDel && crmDel {
		nl.Deleted = true
		nl.SyncedAt = e.now()
		p.link(nl)
		return nil
	}
	from, target, policy, archive, dir := App, CRM, e.p.OnAppDelete, e.p.ArchiveCRM, CRMToApp
	srcID, targetID, other := l.AppID, l.CRMID, cr
	if crmDel {
		from, target, policy, archive, dir = CRM, App, e.p.OnCRMDelete, e.p.ArchiveApp, AppToCRM
		srcID, targetID, other = l.CRMID, l.AppID, app
	}
	if e.p.Direction == dir {
		return nil // deletes on this side are not synced
	}
	if other != nil {
		p.cs.Decisions = append(p.cs.Decisions, &DecisionRecord{
			At: e.now(), AppID: l.AppID, CRMID: l.CRMID, Field: "*", Winner: from.String(), Resolver: "delete-wins",
			Reason: fmt.Sprintf("deleted in the %s while changed in the %s: a delete wins over an update", from, target),
		})
		r.rep.conflict("delete-wins: " + from.String())
	}
	if from == App {
		nl.AppVersion = app.Version
	} else {
		nl.CRMVersion = cr.Version
	}
	switch policy {
	case DeleteIgnore:
		p.cs.RemoveLinks = append(p.cs.RemoveLinks, l)
		return nil
	case DeleteArchive:
		if err := r.enqueue(p, target, Update, srcID, targetID, "", archive, &payload{Tombstone: true}); err != nil {
			return err
		}
	default:
		if err := r.enqueue(p, target, Delete, srcID, targetID, "", nil, &payload{Tombstone: true}); err != nil {
			return err
		}
	}
	p.link(nl)
	return nil
}

func (r *run) enqueue(p *plan, target Side, op WriteOp, sourceID, targetID, key string, fields crm.Fields, pl *payload) error {
	enc, err := encodeFields(fields)
	if err != nil {
		return fmt.Errorf("syncengine: %s record %q: %w", target.Other(), sourceID, err)
	}
	pl.Fields = enc
	b, err := pl.encode()
	if err != nil {
		return err
	}
	now := r.e.now()
	p.supersede(target, sourceID)
	p.cs.Enqueue = append(p.cs.Enqueue, &OutboxEntry{
		Target: target, Op: op, SourceID: sourceID, TargetID: targetID, Key: key,
		Payload: b, NextAttempt: now, CreatedAt: now, UpdatedAt: now,
	})
	return nil
}

// deadLetterPlan records a record that cannot be mapped: nothing is sent,
// and the entry waits, replayable, for the data or the map to be fixed.
func (r *run) deadLetterPlan(p *plan, target Side, op WriteOp, sourceID, targetID string, err error) {
	now := r.e.now()
	p.supersede(target, sourceID)
	key := ""
	if targetID == "" {
		op, key = Upsert, sourceID
	}
	p.cs.Enqueue = append(p.cs.Enqueue, &OutboxEntry{
		Target: target, Op: op, SourceID: sourceID, TargetID: targetID, Key: key,
		Dead: true, Attempts: 0, ErrorKind: crm.KindValidation.String(),
		Error: "mapping: " + oneLine(err.Error()), NextAttempt: now, CreatedAt: now, UpdatedAt: now,
	})
	r.rep.DeadLettered++
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }
