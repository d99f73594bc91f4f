package syncengine

import (
	"context"
	"fmt"
	"strings"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine/conflict"
)

// pair is one record's changes in a planning window: what each side
// reported (nil: no change seen), and the link between them, if any.
type pair struct {
	app, crm *Record
	link     *Link
	// force re-sends the source side's state even though it matches what
	// the link remembers (a replay of a dead letter).
	force Side
	// resolver overrides the pairing's (a release of a parked conflict).
	resolver conflict.Resolver
}

// plan collects what one planning step will commit.
type plan struct {
	cs      Changeset
	parkedA map[string]bool
	parkedC map[string]bool
	// pending holds the outbox's pending entries by target and source
	// record: a newer write for the same record supersedes them.
	pending map[pendingKey][]int64
}

type pendingKey struct {
	target Side
	source string
}

func (p *plan) link(l *Link) {
	p.cs.Links = append(p.cs.Links, l)
}

// supersede settles the pending writes to target that came from source: a
// newer decision about the record replaces them, so an old write held back
// for a retry never lands after a newer one, and a create or update that
// the record's deletion or matching made moot is never sent.
func (p *plan) supersede(target Side, source string) {
	k := pendingKey{target, source}
	if ids := p.pending[k]; len(ids) > 0 {
		p.cs.Settle = append(p.cs.Settle, ids...)
		delete(p.pending, k)
	}
}

// newPlan starts a plan with what it must know of the store: the parked
// records and the pending writes.
func (r *run) newPlan(ctx context.Context) (*plan, error) {
	p := &plan{pending: map[pendingKey][]int64{}}
	if err := r.loadParked(ctx, p); err != nil {
		return nil, err
	}
	es, err := r.e.store.Outbox(ctx, r.e.name, OutboxQuery{})
	if err != nil {
		return nil, err
	}
	for _, en := range es {
		k := pendingKey{en.Target, en.SourceID}
		p.pending[k] = append(p.pending[k], en.ID)
	}
	return p, nil
}

// planStep reads one window of changes from both sides, decides what to
// write, and commits the outbox entries with the new cursors in one
// changeset. It reports whether either feed has more.
func (r *run) planStep(ctx context.Context) (bool, error) {
	e := r.e
	ctx, span := e.tracer.Start(ctx, "syncengine.plan")
	defer span.End()

	var (
		appRecs, crmRecs []*Record
		cut              = map[Side]bool{} // the side's feed has more than the window
		cursors          = map[Side]string{}
	)
	read := func(side Side, ep Endpoint) ([]*Record, error) {
		cur, err := e.store.Cursor(ctx, e.name, side)
		if err != nil {
			return nil, err
		}
		start := cur
		var recs []*Record
		for len(recs) < e.window {
			page, err := ep.Changes(ctx, cur)
			r.rep.Calls.add(side, 1)
			if err != nil {
				return nil, fmt.Errorf("syncengine: reading %s changes: %w", side, err)
			}
			recs = append(recs, page.Records...)
			if page.Cursor != "" {
				cur = page.Cursor
			}
			if !page.More {
				break
			}
			if len(recs) >= e.window {
				cut[side] = true
			}
		}
		if cur != start {
			cursors[side] = cur
		}
		if r.fullRead == nil {
			r.fullRead = map[Side]bool{}
		}
		r.fullRead[side] = start == "" && !cut[side]
		r.rep.Read.add(side, len(recs))
		return recs, nil
	}
	var err error
	if e.p.Direction != CRMToApp {
		if appRecs, err = read(App, e.p.App); err != nil {
			return false, err
		}
	}
	if e.p.Direction != AppToCRM {
		if crmRecs, err = read(CRM, e.p.CRM); err != nil {
			return false, err
		}
	}
	if len(appRecs) == 0 && len(crmRecs) == 0 && len(cursors) == 0 {
		return false, nil
	}

	p, err := r.newPlan(ctx)
	if err != nil {
		return false, err
	}
	p.cs.Cursors = cursors
	pairs, err := r.pairUp(ctx, p, latest(appRecs), latest(crmRecs))
	if err != nil {
		return false, err
	}
	if err := r.fillCut(ctx, pairs, cut); err != nil {
		return false, err
	}
	for _, pr := range pairs {
		if err := r.reconcile(ctx, p, pr); err != nil {
			return false, err
		}
	}
	// Planning can be long (a large window, lookups): make sure the lease
	// is still ours before committing what it decided.
	if err := r.renewLease(ctx); err != nil {
		return false, err
	}
	if err := e.store.Commit(ctx, e.name, &p.cs); err != nil {
		return false, err
	}
	return cut[App] || cut[CRM], nil
}

// fillCut reads, for linked records seen on one side only, the other side's
// current state when that side's feed was cut at the window: its change may
// lie beyond the window, and deciding without it would overwrite it
// instead of seeing a conflict.
func (r *run) fillCut(ctx context.Context, pairs []*pair, cut map[Side]bool) error {
	for _, side := range []Side{App, CRM} {
		if !cut[side] {
			continue
		}
		var want []string
		for _, pr := range pairs {
			if pr.link == nil {
				continue
			}
			if side == App && pr.app == nil {
				want = append(want, pr.link.AppID)
			} else if side == CRM && pr.crm == nil {
				want = append(want, pr.link.CRMID)
			}
		}
		if len(want) == 0 {
			continue
		}
		got, err := r.get(ctx, side, want)
		if err != nil {
			return err
		}
		for _, pr := range pairs {
			if pr.link == nil {
				continue
			}
			if side == App && pr.app == nil {
				pr.app = got[pr.link.AppID]
			} else if side == CRM && pr.crm == nil {
				pr.crm = got[pr.link.CRMID]
			}
		}
	}
	return nil
}

func (r *run) loadParked(ctx context.Context, p *plan) error {
	parked, err := r.e.store.Parked(ctx, r.e.name)
	if err != nil {
		return err
	}
	p.parkedA, p.parkedC = map[string]bool{}, map[string]bool{}
	for _, c := range parked {
		if c.AppID != "" {
			p.parkedA[c.AppID] = true
		}
		if c.CRMID != "" {
			p.parkedC[c.CRMID] = true
		}
	}
	return nil
}

// latest keeps each record's last reported state, in feed order.
func latest(recs []*Record) []*Record {
	idx := make(map[string]int, len(recs))
	out := make([]*Record, 0, len(recs))
	for _, rec := range recs {
		if i, ok := idx[rec.ID]; ok {
			out[i] = rec
			continue
		}
		idx[rec.ID] = len(out)
		out = append(out, rec)
	}
	return out
}

func ids(recs []*Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// pairUp joins the two sides' changes through links, then matches the
// records seen for the first time: by sync key, by natural key, and by the
// host's function.
func (r *run) pairUp(ctx context.Context, p *plan, appRecs, crmRecs []*Record) ([]*pair, error) {
	e := r.e
	appLinks, err := e.store.Links(ctx, e.name, App, ids(appRecs))
	if err != nil {
		return nil, err
	}
	crmLinks, err := e.store.Links(ctx, e.name, CRM, ids(crmRecs))
	if err != nil {
		return nil, err
	}
	crmByID := make(map[string]*Record, len(crmRecs))
	for _, c := range crmRecs {
		crmByID[c.ID] = c
	}
	appByID := make(map[string]*Record, len(appRecs))
	for _, a := range appRecs {
		appByID[a.ID] = a
	}

	var pairs []*pair
	used := map[string]bool{} // crm ids paired
	var newApp, newCRM []*Record
	for _, a := range appRecs {
		if l := appLinks[a.ID]; l != nil {
			c := crmByID[l.CRMID]
			if c != nil {
				used[c.ID] = true
			}
			pairs = append(pairs, &pair{app: a, crm: c, link: l})
			continue
		}
		if p.parkedA[a.ID] {
			r.rep.Waiting++ // held for a person: not matched again
			continue
		}
		newApp = append(newApp, a)
	}
	for _, c := range crmRecs {
		if used[c.ID] {
			continue
		}
		if l := crmLinks[c.ID]; l != nil {
			pairs = append(pairs, &pair{crm: c, link: l, app: nil})
			continue
		}
		if p.parkedC[c.ID] {
			r.rep.Waiting++
			continue
		}
		newCRM = append(newCRM, c)
	}
	if len(newApp) == 0 && len(newCRM) == 0 {
		return pairs, nil
	}
	m := &matcher{r: r, p: p, newApp: newApp, newCRM: newCRM,
		appTaken: map[string]bool{}, crmTaken: map[string]bool{}}
	matched, err := m.match(ctx)
	if err != nil {
		return nil, err
	}
	pairs = append(pairs, matched...)
	for _, a := range newApp {
		switch {
		case a.Deleted:
			// Never synced, now deleted: a create of it still waiting in the
			// outbox must not land.
			p.supersede(CRM, a.ID)
		case !m.appTaken[a.ID]:
			pairs = append(pairs, &pair{app: a})
		}
	}
	for _, c := range newCRM {
		switch {
		case c.Deleted:
			p.supersede(App, c.ID)
		case !m.crmTaken[c.ID]:
			pairs = append(pairs, &pair{crm: c})
		}
	}
	return pairs, nil
}

type matcher struct {
	r                  *run
	p                  *plan
	newApp, newCRM     []*Record
	appTaken, crmTaken map[string]bool
}

func (m *matcher) match(ctx context.Context) ([]*pair, error) {
	e := m.r.e
	var out []*pair
	take := func(a, c *Record) {
		m.appTaken[a.ID], m.crmTaken[c.ID] = true, true
		m.r.rep.Matched++
		out = append(out, &pair{app: a, crm: c})
	}
	appByID := map[string]*Record{}
	for _, a := range m.newApp {
		appByID[a.ID] = a
	}
	crmByID := map[string]*Record{}
	for _, c := range m.newCRM {
		crmByID[c.ID] = c
	}

	// 1. The sync key: a record the engine created carries its source's id.
	var fetchApp, fetchCRM []string
	for _, c := range m.newCRM {
		if c.Key == "" || c.Deleted {
			continue
		}
		if a := appByID[c.Key]; a != nil && !m.appTaken[a.ID] {
			take(a, c)
		} else if a == nil {
			fetchApp = append(fetchApp, c.Key)
		}
	}
	for _, a := range m.newApp {
		if a.Key == "" || a.Deleted || m.appTaken[a.ID] {
			continue
		}
		if c := crmByID[a.Key]; c != nil && !m.crmTaken[c.ID] {
			take(a, c)
		} else if c == nil {
			fetchCRM = append(fetchCRM, a.Key)
		}
	}
	if err := m.byKeyElsewhere(ctx, fetchApp, fetchCRM, take); err != nil {
		return nil, err
	}

	// 2. Natural keys, first among the changes in hand, then by Finder.
	for _, rule := range e.p.Match {
		if err := m.byNaturalKey(ctx, rule, take); err != nil {
			return nil, err
		}
	}

	// 3. The host's function.
	if fn := e.p.MatchFunc; fn != nil {
		for _, a := range m.newApp {
			if m.appTaken[a.ID] || a.Deleted {
				continue
			}
			id, err := fn(ctx, App, a)
			if err != nil {
				return nil, fmt.Errorf("syncengine: MatchFunc for app record %q: %w", a.ID, err)
			}
			if id == "" {
				continue
			}
			if c, err := m.counterpart(ctx, CRM, id, crmByID); err != nil {
				return nil, err
			} else if c != nil {
				take(a, c)
			}
		}
		for _, c := range m.newCRM {
			if m.crmTaken[c.ID] || c.Deleted {
				continue
			}
			id, err := fn(ctx, CRM, c)
			if err != nil {
				return nil, fmt.Errorf("syncengine: MatchFunc for CRM record %q: %w", c.ID, err)
			}
			if id == "" {
				continue
			}
			if a, err := m.counterpart(ctx, App, id, appByID); err != nil {
				return nil, err
			} else if a != nil {
				take(a, c)
			}
		}
	}
	return out, nil
}

// counterpart returns the record id on side if it exists and is not linked
// to anything yet.
func (m *matcher) counterpart(ctx context.Context, side Side, id string, inHand map[string]*Record) (*Record, error) {
	taken := m.appTaken
	if side == CRM {
		taken = m.crmTaken
	}
	if taken[id] {
		return nil, nil
	}
	if rec := inHand[id]; rec != nil {
		if rec.Deleted {
			return nil, nil
		}
		return rec, nil
	}
	links, err := m.r.e.store.Links(ctx, m.r.e.name, side, []string{id})
	if err != nil || links[id] != nil {
		return nil, err
	}
	got, err := m.r.get(ctx, side, []string{id})
	if err != nil {
		return nil, err
	}
	if rec := got[id]; rec != nil && !rec.Deleted {
		return rec, nil
	}
	return nil, nil
}

func (m *matcher) byKeyElsewhere(ctx context.Context, fetchApp, fetchCRM []string, take func(a, c *Record)) error {
	for _, side := range []Side{App, CRM} {
		want := fetchApp
		if side == CRM {
			want = fetchCRM
		}
		if len(want) == 0 {
			continue
		}
		links, err := m.r.e.store.Links(ctx, m.r.e.name, side, want)
		if err != nil {
			return err
		}
		var free []string
		for _, id := range want {
			if links[id] == nil {
				free = append(free, id)
			}
		}
		if len(free) == 0 {
			continue
		}
		got, err := m.r.get(ctx, side, free)
		if err != nil {
			return err
		}
		if side == App {
			for _, c := range m.newCRM {
				if a := got[c.Key]; a != nil && !a.Deleted && !m.crmTaken[c.ID] && !m.appTaken[a.ID] && !c.Deleted {
					take(a, c)
				}
			}
		} else {
			for _, a := range m.newApp {
				if c := got[a.Key]; c != nil && !c.Deleted && !m.appTaken[a.ID] && !m.crmTaken[c.ID] && !a.Deleted {
					take(a, c)
				}
			}
		}
	}
	return nil
}

func naturalKey(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		s := strings.ToLower(strings.TrimSpace(x))
		return s, s != ""
	}
	return render(v), true
}

func (m *matcher) byNaturalKey(ctx context.Context, rule MatchRule, take func(a, c *Record)) error {
	e := m.r.e
	// Index the new CRM records by the rule's value in application terms.
	index := map[string][]*Record{}
	for _, c := range m.newCRM {
		if m.crmTaken[c.ID] || c.Deleted {
			continue
		}
		if k, ok := naturalKey(c.Fields[rule.CRM]); ok {
			index[k] = append(index[k], c)
		}
	}
	// The app newcomers with no candidate in hand are looked up in the CRM
	// in as few calls as it allows, unless its whole feed is in hand.
	var lookup []*Record
	var values []any
	for _, a := range m.newApp {
		if m.appTaken[a.ID] || a.Deleted {
			continue
		}
		k, ok := naturalKey(a.Fields[rule.App])
		if !ok || len(index[k]) > 0 {
			continue
		}
		lookup = append(lookup, a)
		v := a.Fields[rule.App]
		if s, ok := v.(string); ok {
			v = strings.TrimSpace(s)
		}
		values = append(values, v)
	}
	if len(lookup) > 0 && !m.r.fullRead[CRM] {
		var found []*Record
		var err error
		switch f := e.p.CRM.(type) {
		case BatchFinder:
			found, err = f.FindAny(ctx, rule.CRM, values)
			m.r.rep.Calls.add(CRM, (len(values)+99)/100)
		case Finder:
			for _, v := range values {
				got, ferr := f.Find(ctx, rule.CRM, v)
				m.r.rep.Calls.add(CRM, 1)
				if ferr != nil {
					err = ferr
					break
				}
				found = append(found, got...)
			}
		}
		if err != nil {
			return fmt.Errorf("syncengine: matching app records on %s: %w", rule.CRM, err)
		}
		if found, err = m.unlinked(ctx, CRM, found); err != nil {
			return err
		}
		for _, c := range found {
			if k, ok := naturalKey(c.Fields[rule.CRM]); ok {
				index[k] = append(index[k], c)
			}
		}
	}
	for _, a := range m.newApp {
		if m.appTaken[a.ID] || a.Deleted {
			continue
		}
		k, ok := naturalKey(a.Fields[rule.App])
		if !ok {
			continue
		}
		var cands []*Record
		seen := map[string]bool{}
		for _, c := range index[k] {
			if !m.crmTaken[c.ID] && !seen[c.ID] {
				seen[c.ID] = true
				cands = append(cands, c)
			}
		}
		switch len(cands) {
		case 0:
		case 1:
			take(a, cands[0])
		default:
			m.ambiguous(App, a, len(cands), rule)
		}
	}
	finderApp, _ := e.p.App.(Finder)
	if finderApp == nil || m.r.fullRead[App] {
		return nil
	}
	for _, c := range m.newCRM {
		if m.crmTaken[c.ID] || c.Deleted {
			continue
		}
		v := c.Fields[rule.CRM]
		if _, ok := naturalKey(v); !ok {
			continue
		}
		if s, ok := v.(string); ok {
			v = strings.TrimSpace(s)
		}
		found, err := finderApp.Find(ctx, rule.App, v)
		m.r.rep.Calls.add(App, 1)
		if err != nil {
			return fmt.Errorf("syncengine: matching CRM record %q on %s: %w", c.ID, rule.App, err)
		}
		cands, err := m.unlinked(ctx, App, found)
		if err != nil {
			return err
		}
		switch len(cands) {
		case 0:
		case 1:
			take(cands[0], c)
		default:
			m.ambiguous(CRM, c, len(cands), rule)
		}
	}
	return nil
}

func (m *matcher) unlinked(ctx context.Context, side Side, found []*Record) ([]*Record, error) {
	if len(found) == 0 {
		return nil, nil
	}
	links, err := m.r.e.store.Links(ctx, m.r.e.name, side, ids(found))
	if err != nil {
		return nil, err
	}
	taken := m.appTaken
	if side == CRM {
		taken = m.crmTaken
	}
	var out []*Record
	for _, f := range found {
		if links[f.ID] == nil && !taken[f.ID] && !f.Deleted {
			out = append(out, f)
		}
	}
	return out, nil
}

// ambiguous parks a record that matches several on the other side: creating
// it would make a duplicate, and choosing one is a person's call.
func (m *matcher) ambiguous(side Side, rec *Record, n int, rule MatchRule) {
	pc := &ParkedConflict{Reason: fmt.Sprintf("ambiguous match: %d unlinked records on the other side share its %s/%s; link one by hand or make the key unique", n, rule.App, rule.CRM), At: m.r.e.now()}
	if side == App {
		pc.AppID = rec.ID
		m.appTaken[rec.ID] = true
	} else {
		pc.CRMID = rec.ID
		m.crmTaken[rec.ID] = true
	}
	m.p.cs.Park = append(m.p.cs.Park, pc)
	m.r.rep.Parked++
}

// get reads records from one side, counting the call.
func (r *run) get(ctx context.Context, side Side, want []string) (map[string]*Record, error) {
	ep := r.e.p.App
	if side == CRM {
		ep = r.e.p.CRM
	}
	got, err := ep.Get(ctx, want)
	r.rep.Calls.add(side, 1)
	if err != nil {
		return nil, fmt.Errorf("syncengine: reading %s records: %w", side, err)
	}
	return got, nil
}

func filter(f crm.Fields, set map[string]bool) crm.Fields {
	out := make(crm.Fields, len(f))
	for k, v := range f {
		if set[k] {
			out[k] = v
		}
	}
	return out
}

func changed(f crm.Fields, base map[string]string) []string {
	var out []string
	for k, v := range f {
		if base == nil || differs(base, k, v) {
			out = append(out, k)
		}
	}
	return out
}

// differs reports whether v differs from the value whose hash base holds
// for k. A field the base does not know counts as null: a side that reports
// every field, nulls included, agrees with one that leaves nulls out.
func differs(base map[string]string, k string, v any) bool {
	h, ok := base[k]
	if !ok {
		return v != nil
	}
	return h != hashValue(v)
}

func overlay(base map[string]string, f crm.Fields) map[string]string {
	out := make(map[string]string, len(base)+len(f))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range f {
		out[k] = hashValue(v)
	}
	return out
}
