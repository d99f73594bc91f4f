package endpointtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/syncengine"
)

// Target is what the suite needs from an endpoint under test.
type Target struct {
	// Endpoint is the endpoint under test.
	Endpoint syncengine.Endpoint

	// TextField is a writable, nillable string field. The suite writes short
	// ASCII values into it, unique per record, and finds its records by them.
	TextField string
	// OtherField is a second writable, nillable string field, for the test
	// that an Update leaves absent fields alone; "" makes that test use
	// TextField only.
	OtherField string
	// Fill holds values for the endpoint's other required fields; every
	// record the suite creates (by Upsert or Insert) carries them.
	Fill crm.Fields

	// Insert, Modify and Remove change the endpoint's records the way its
	// own side does, outside the engine: the application writing its table,
	// or a person editing the CRM. Insert returns the new record's id. Each
	// fails t itself on error. When Insert is nil, the tests of changes made
	// outside the engine are skipped; Modify and Remove may be nil on their
	// own, which skips their part.
	Insert func(t *testing.T, fields crm.Fields) string
	Modify func(t *testing.T, id string, fields crm.Fields)
	Remove func(t *testing.T, id string)

	// SupportsKey reports that Get and Changes return the Key an Upsert
	// stored, as Record.Key: the application endpoints keep it in a key
	// column, a CRM endpoint in its external-id field (when it reads it).
	SupportsKey bool
	// ChecksKinds reports that the endpoint refuses a value of the wrong
	// kind (a []string in TextField) with KindValidation; otherwise only a
	// write to an unknown field is tested.
	ChecksKinds bool
	// AnyField reports that the endpoint accepts fields of any name (a
	// memtable without declared fields). The bad-write test then writes a
	// value of no normalised kind (a float64) instead of an unknown field.
	AnyField bool
	// PageSize is the most records the endpoint puts in one change page, as
	// configured for the test. The paging test writes 2*PageSize+1 records
	// (7 when PageSize is 0, and then it cannot check the pages' sizes).
	PageSize int
	// Repeats reports that the feed may report again, after a cursor,
	// records that changed shortly before it (a lookback window, as on
	// PostgreSQL or a CRM whose change timestamps commit out of order). The
	// suite then allows such repeats, as long as they carry the record's
	// unchanged version, and does not bound a page's size.
	Repeats bool
	// NoVersions reports that the endpoint has no concurrency tokens
	// (Record.Version is always empty); the version tests are skipped.
	NoVersions bool
	// MissingID is an id in the endpoint's own format that no record has
	// (such as "app-999999"); "" skips asking for one that never existed.
	MissingID string
}

// Run runs the conformance suite: one named subtest per behaviour the sync
// engine relies on. It calls newTarget at the start of each subtest; an
// endpoint that can start empty per subtest should. The suite only checks
// records it wrote itself, each tagged with a unique text, so it also works
// on shared data.
func Run(t *testing.T, newTarget func(t *testing.T) Target) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, setup(t, newTarget(t)))
		})
	}
}

var cases = []struct {
	name string
	run  func(*testing.T, *harness)
}{
	{"Upsert", testUpsert},
	{"UpsertTwiceInOneCall", testUpsertTwiceInOneCall},
	{"UpsertAfterDelete", testUpsertAfterDelete},
	{"Update", testUpdate},
	{"Delete", testDelete},
	{"GetMissing", testGetMissing},
	{"FeedFromStart", testFeedFromStart},
	{"FeedAfterCursor", testFeedAfterCursor},
	{"OutsideChanges", testOutsideChanges},
	{"Tombstones", testTombstones},
	{"Paging", testPaging},
	{"Versions", testVersions},
	{"BadWrite", testBadWrite},
	{"Find", testFind},
	{"BatchSize", testBatchSize},
	{"Cancel", testCancel},
	{"Concurrent", testConcurrent},
}

type harness struct {
	tg  Target
	ep  syncengine.Endpoint
	tag string
	n   atomic.Int64
}

func setup(t *testing.T, tg Target) *harness {
	t.Helper()
	switch {
	case tg.Endpoint == nil:
		t.Fatal("endpointtest: Target.Endpoint is nil: newTarget must return the endpoint under test")
	case tg.TextField == "":
		t.Fatal("endpointtest: Target.TextField is empty: name a writable, nillable string field")
	case tg.OtherField == tg.TextField:
		t.Fatalf("endpointtest: Target.OtherField is TextField (%q): name another field, or leave it empty", tg.TextField)
	case tg.PageSize < 0:
		t.Fatalf("endpointtest: Target.PageSize is %d: use 0 when unknown, or the endpoint's page size", tg.PageSize)
	}
	for _, f := range []string{tg.TextField, tg.OtherField} {
		if tg.Fill.Has(f) {
			t.Fatalf("endpointtest: Target.Fill sets %q, which the suite writes itself", f)
		}
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &harness{tg: tg, ep: tg.Endpoint, tag: "et" + hex.EncodeToString(b)}
}

// text returns a value for TextField that no other record has.
func (h *harness) text(label string) string {
	return fmt.Sprintf("%s %s %d", h.tag, label, h.n.Add(1))
}

// key returns a sync key that no other record has.
func (h *harness) key() string {
	return fmt.Sprintf("k%s%d", h.tag, h.n.Add(1))
}

// fields returns Fill plus f.
func (h *harness) fields(f crm.Fields) crm.Fields {
	out := h.tg.Fill.Clone()
	if out == nil {
		out = crm.Fields{}
	}
	for k, v := range f {
		out[k] = v
	}
	return out
}

// apply sends writes in batches of the endpoint's size and checks there is
// one result per write.
func (h *harness) apply(t *testing.T, ws []syncengine.Write) []syncengine.WriteResult {
	t.Helper()
	size := len(ws)
	if bs, ok := h.ep.(syncengine.BatchSizer); ok && bs.BatchSize() > 0 {
		size = bs.BatchSize()
	}
	var out []syncengine.WriteResult
	for start := 0; start < len(ws); start += size {
		part := ws[start:min(start+size, len(ws))]
		rs, err := h.ep.Apply(t.Context(), part)
		if err != nil {
			t.Fatalf("Apply of %d writes: %v", len(part), err)
		}
		if len(rs) != len(part) {
			t.Fatalf("Apply of %d writes returned %d results, want one per write", len(part), len(rs))
		}
		out = append(out, rs...)
	}
	return out
}

// applyOK applies writes that must all succeed.
func (h *harness) applyOK(t *testing.T, ws ...syncengine.Write) []syncengine.WriteResult {
	t.Helper()
	rs := h.apply(t, ws)
	for i, r := range rs {
		if r.Err != nil {
			t.Fatalf("write %d (%s %s%s): %v", i, ws[i].Op, ws[i].ID, ws[i].Key, r.Err)
		}
		if r.ID == "" {
			t.Fatalf("write %d (%s) succeeded with an empty WriteResult.ID", i, ws[i].Op)
		}
		if ws[i].Op != syncengine.Upsert && r.ID != ws[i].ID {
			t.Errorf("write %d (%s %s) reports ID %q, want the id written to", i, ws[i].Op, ws[i].ID, r.ID)
		}
	}
	return rs
}

// create upserts a new record with a fresh key and the given text, and
// returns its id and key.
func (h *harness) create(t *testing.T, text string) (id, key string) {
	t.Helper()
	key = h.key()
	r := h.applyOK(t, syncengine.Write{Op: syncengine.Upsert, Key: key, Fields: h.fields(crm.Fields{h.tg.TextField: text})})[0]
	if !r.Created {
		t.Fatalf("the first upsert with the new key %q reports Created=false", key)
	}
	return r.ID, key
}

func (h *harness) update(t *testing.T, id string, f crm.Fields) syncengine.WriteResult {
	t.Helper()
	return h.applyOK(t, syncengine.Write{Op: syncengine.Update, ID: id, Fields: f})[0]
}

func (h *harness) delete(t *testing.T, id string) syncengine.WriteResult {
	t.Helper()
	return h.applyOK(t, syncengine.Write{Op: syncengine.Delete, ID: id})[0]
}

func (h *harness) get(t *testing.T, ids ...string) map[string]*syncengine.Record {
	t.Helper()
	m, err := h.ep.Get(t.Context(), ids)
	if err != nil {
		t.Fatalf("Get(%v): %v", ids, err)
	}
	for id, r := range m {
		switch {
		case r == nil:
			t.Fatalf("Get(%v) maps %s to a nil record", ids, id)
		case r.ID != id:
			t.Fatalf("Get(%v) maps %s to a record with ID %q", ids, id, r.ID)
		case !slices.Contains(ids, id):
			t.Fatalf("Get(%v) returned %s, which was not asked for", ids, id)
		case r.Deleted:
			t.Errorf("Get(%v) returned %s with Deleted=true; a deleted record must be absent", ids, id)
		}
	}
	return m
}

// mustGet returns the live record id.
func (h *harness) mustGet(t *testing.T, id string) *syncengine.Record {
	t.Helper()
	r, ok := h.get(t, id)[id]
	if !ok {
		t.Fatalf("Get(%s): the record is absent, want it live", id)
	}
	return r
}

// checkText checks a record's TextField (when it is reported).
func (h *harness) checkText(t *testing.T, how string, r *syncengine.Record, want any) {
	t.Helper()
	got, ok := r.Fields[h.tg.TextField]
	if !ok {
		if how == "Get" {
			t.Errorf("%s %s: %s is missing from Fields (%v)", how, r.ID, h.tg.TextField, r.Fields)
		}
		return
	}
	if !crm.EqualValues(got, want) {
		t.Errorf("%s %s: %s = %#v, want %#v", how, r.ID, h.tg.TextField, got, want)
	}
}

// feed is what a stretch of the change feed said, in order.
type feed struct {
	records []*syncengine.Record
	pages   []*syncengine.ChangePage
	end     string
}

// last returns the last report of id, or nil.
func (f *feed) last(id string) *syncengine.Record {
	for i := len(f.records) - 1; i >= 0; i-- {
		if f.records[i].ID == id {
			return f.records[i]
		}
	}
	return nil
}

// lastIndex returns the position of the last report of id, or -1.
func (f *feed) lastIndex(id string) int {
	for i := len(f.records) - 1; i >= 0; i-- {
		if f.records[i].ID == id {
			return i
		}
	}
	return -1
}

// withText returns the ids of the records last reported with TextField text.
func (f *feed) withText(field, text string) []string {
	var ids []string
	seen := map[string]bool{}
	for i := len(f.records) - 1; i >= 0; i-- {
		r := f.records[i]
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		if s, _ := r.Fields[field].(string); s == text && !r.Deleted {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// drain reads the feed from cursor to its end.
func (h *harness) drain(t *testing.T, cursor string) *feed {
	t.Helper()
	f := &feed{}
	start := cursor
	for {
		p, err := h.ep.Changes(t.Context(), cursor)
		if err != nil {
			t.Fatalf("Changes(%q) (page %d from %q): %v", cursor, len(f.pages)+1, start, err)
		}
		if p == nil {
			t.Fatalf("Changes(%q) returned a nil page and no error", cursor)
		}
		if p.Cursor == "" {
			t.Fatalf("Changes(%q) returned a page with an empty Cursor: the engine would store it and start over from the beginning", cursor)
		}
		for i, r := range p.Records {
			if r == nil || r.ID == "" {
				t.Fatalf("Changes(%q): record %d of the page is nil or has no ID", cursor, i)
			}
			if !h.tg.NoVersions && r.Version == "" {
				t.Errorf("Changes(%q): %s has an empty Version (set Target.NoVersions if the endpoint has none)", cursor, r.ID)
			}
		}
		if !h.tg.Repeats && h.tg.PageSize > 0 && len(p.Records) > h.tg.PageSize {
			t.Errorf("Changes(%q) returned %d records, more than the page size %d", cursor, len(p.Records), h.tg.PageSize)
		}
		f.pages = append(f.pages, p)
		f.records = append(f.records, p.Records...)
		cursor = p.Cursor
		if !p.More {
			break
		}
		if len(f.pages) > 10000 {
			t.Fatalf("the feed from %q does not end: More is still true after %d pages", start, len(f.pages))
		}
	}
	f.end = cursor
	return f
}

func testUpsert(t *testing.T, h *harness) {
	key := h.key()
	first, second := h.text("upsert first"), h.text("upsert second")
	w := syncengine.Write{Op: syncengine.Upsert, Key: key, Fields: h.fields(crm.Fields{h.tg.TextField: first})}
	r1 := h.applyOK(t, w)[0]
	if !r1.Created {
		t.Errorf("the first upsert with key %q reports Created=false, want true", key)
	}
	// The same upsert again, as after a crash: the same record, not a new one.
	again := h.applyOK(t, w)[0]
	if again.Created || again.ID != r1.ID {
		t.Errorf("the same upsert sent twice: second result ID %q Created=%v, want ID %q Created=false", again.ID, again.Created, r1.ID)
	}
	w.Fields = crm.Fields{h.tg.TextField: second}
	r2 := h.applyOK(t, w)[0]
	if r2.Created || r2.ID != r1.ID {
		t.Errorf("an upsert with an existing key: ID %q Created=%v, want ID %q Created=false", r2.ID, r2.Created, r1.ID)
	}
	got := h.mustGet(t, r1.ID)
	h.checkText(t, "Get", got, second)
	for name, v := range h.tg.Fill {
		if g, ok := got.Fields[name]; ok && !crm.EqualValues(g, v) {
			t.Errorf("Get %s: %s = %#v after an upsert that did not set it, want %#v", r1.ID, name, g, v)
		}
	}
	if h.tg.SupportsKey && got.Key != key {
		t.Errorf("Get %s: Key = %q, want the upsert's key %q", r1.ID, got.Key, key)
	}
	if r2.Version != "" && got.Version != r2.Version {
		t.Errorf("Get %s: Version %q, but the upsert reported Version %q", r1.ID, got.Version, r2.Version)
	}

	f := h.drain(t, "")
	if ids := f.withText(h.tg.TextField, second); len(ids) != 1 || ids[0] != r1.ID {
		t.Errorf("the feed from the start has the upserted text on records %v, want only %s: the upsert made a duplicate", ids, r1.ID)
	}
	if ids := f.withText(h.tg.TextField, first); len(ids) != 0 {
		t.Errorf("the feed from the start still has the first upsert's text on records %v", ids)
	}
	last := f.last(r1.ID)
	switch {
	case last == nil:
		t.Errorf("the feed from the start does not report %s", r1.ID)
	case h.tg.SupportsKey && last.Key != key:
		t.Errorf("the feed reports %s with Key %q, want %q", r1.ID, last.Key, key)
	}
}

func testUpsertTwiceInOneCall(t *testing.T, h *harness) {
	key := h.key()
	text := h.text("twice")
	w := syncengine.Write{Op: syncengine.Upsert, Key: key, Fields: h.fields(crm.Fields{h.tg.TextField: text})}
	rs := h.applyOK(t, w, w)
	if !rs[0].Created || rs[1].Created || rs[0].ID != rs[1].ID {
		t.Errorf("two upserts with one key in one Apply: results (%s, Created=%v) and (%s, Created=%v); want one record, created then updated",
			rs[0].ID, rs[0].Created, rs[1].ID, rs[1].Created)
	}
	if ids := h.drain(t, "").withText(h.tg.TextField, text); len(ids) != 1 {
		t.Errorf("after two upserts with one key in one Apply, the feed has %d records with their text (%v), want 1", len(ids), ids)
	}
}

func testUpsertAfterDelete(t *testing.T, h *harness) {
	id, key := h.create(t, h.text("before delete"))
	h.delete(t, id)
	text := h.text("after delete")
	r := h.applyOK(t, syncengine.Write{Op: syncengine.Upsert, Key: key, Fields: h.fields(crm.Fields{h.tg.TextField: text})})[0]
	got := h.mustGet(t, r.ID)
	h.checkText(t, "Get", got, text)
	if h.tg.SupportsKey && got.Key != key {
		t.Errorf("after an upsert with the key of a deleted record, Get %s reports Key %q, want %q", r.ID, got.Key, key)
	}
	if r.ID == id && !r.Created {
		t.Errorf("an upsert that brought deleted record %s back reports Created=false, want true: the engine must treat it as a create", id)
	}
}

func testUpdate(t *testing.T, h *harness) {
	other := h.tg.OtherField
	t1, t2 := h.text("update 1"), h.text("update 2")
	f := crm.Fields{h.tg.TextField: t1}
	var o1 string
	if other != "" {
		o1 = h.text("other")
		f[other] = o1
	}
	key := h.key()
	id := h.applyOK(t, syncengine.Write{Op: syncengine.Upsert, Key: key, Fields: h.fields(f)})[0].ID

	h.update(t, id, crm.Fields{h.tg.TextField: t2})
	got := h.mustGet(t, id)
	h.checkText(t, "Get", got, t2)
	if other != "" && !crm.EqualValues(got.Fields[other], o1) {
		t.Errorf("after an Update that did not name %s, Get %s reports %s = %#v, want %q unchanged", other, id, other, got.Fields[other], o1)
	}
	for name, v := range h.tg.Fill {
		if g, ok := got.Fields[name]; ok && !crm.EqualValues(g, v) {
			t.Errorf("after an Update that did not name %s, Get %s reports %#v, want %#v unchanged", name, id, g, v)
		}
	}
	if h.tg.SupportsKey && got.Key != key {
		t.Errorf("an Update changed %s's Key to %q, want %q kept", id, got.Key, key)
	}

	nulled := h.tg.TextField
	if other != "" {
		nulled = other
	}
	h.update(t, id, crm.Fields{nulled: nil})
	got = h.mustGet(t, id)
	if v := got.Fields[nulled]; v != nil {
		t.Errorf("after an Update setting %s to nil, Get %s reports %#v, want null", nulled, id, v)
	}
	if other != "" {
		h.checkText(t, "Get", got, t2)
	}
}

func testDelete(t *testing.T, h *harness) {
	id, _ := h.create(t, h.text("delete"))
	keep, _ := h.create(t, h.text("keep"))
	h.delete(t, id)
	if m := h.get(t, id, keep); m[id] != nil || m[keep] == nil {
		t.Errorf("after deleting %s, Get(%s, %s) returned %v; want only %s", id, id, keep, keys(m), keep)
	}
	// Again, as after a crash before the result was stored: still a success.
	h.delete(t, id)
	rs := h.apply(t, []syncengine.Write{{Op: syncengine.Delete, ID: id}, {Op: syncengine.Delete, ID: id}})
	for i, r := range rs {
		if r.Err != nil {
			t.Errorf("deleting the deleted record %s again (write %d of one Apply): %v, want success", id, i, r.Err)
		}
	}
	if h.tg.MissingID != "" {
		if r := h.apply(t, []syncengine.Write{{Op: syncengine.Delete, ID: h.tg.MissingID}})[0]; r.Err != nil {
			t.Errorf("deleting %s, which never existed: %v, want success", h.tg.MissingID, r.Err)
		}
	}
	if h.get(t, keep)[keep] == nil {
		t.Errorf("deleting %s also removed %s", id, keep)
	}
}

func keys(m map[string]*syncengine.Record) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func testGetMissing(t *testing.T, h *harness) {
	live, _ := h.create(t, h.text("live"))
	gone, _ := h.create(t, h.text("gone"))
	h.delete(t, gone)
	ids := []string{live, gone}
	if h.tg.MissingID != "" {
		ids = append(ids, h.tg.MissingID)
	}
	m := h.get(t, ids...)
	if len(m) != 1 || m[live] == nil {
		t.Errorf("Get(%v) returned %v, want only the live record %s", ids, keys(m), live)
	}
	if m := h.get(t); len(m) != 0 {
		t.Errorf("Get() with no ids returned %d records", len(m))
	}
}

func testFeedFromStart(t *testing.T, h *harness) {
	texts := map[string]string{}
	var ids []string
	for range 3 {
		txt := h.text("start")
		id, _ := h.create(t, txt)
		texts[id] = txt
		ids = append(ids, id)
	}
	if h.tg.Insert != nil {
		txt := h.text("inserted")
		id := h.tg.Insert(t, h.fields(crm.Fields{h.tg.TextField: txt}))
		texts[id] = txt
		ids = append(ids, id)
	}
	h.update(t, ids[0], crm.Fields{h.tg.TextField: texts[ids[0]] + "!"})
	texts[ids[0]] += "!"
	h.delete(t, ids[1])

	f := h.drain(t, "")
	for _, id := range ids {
		last := f.last(id)
		switch {
		case last == nil:
			t.Errorf("the feed from the start does not report %s", id)
		case id == ids[1]:
			if !last.Deleted {
				t.Errorf("the feed from the start reports deleted %s last with Deleted=false, want a tombstone", id)
			}
		case last.Deleted:
			t.Errorf("the feed from the start reports live %s as deleted", id)
		default:
			h.checkText(t, "the feed from the start reports", last, texts[id])
			if g := h.mustGet(t, id); !h.tg.NoVersions && g.Version != last.Version {
				t.Errorf("the feed reports %s last at version %q, but Get reports %q: the feed missed its latest change", id, last.Version, g.Version)
			}
		}
	}
}

func testFeedAfterCursor(t *testing.T, h *harness) {
	untouched, _ := h.create(t, h.text("untouched"))
	changed, _ := h.create(t, h.text("changed"))
	before := h.mustGet(t, untouched)
	cursor := h.drain(t, "").end

	// Changes after the cursor: changed, then created, then changed again;
	// so created's last change comes before changed's.
	h.update(t, changed, crm.Fields{h.tg.TextField: h.text("changed 2")})
	created, _ := h.create(t, h.text("created"))
	final := h.text("changed 3")
	h.update(t, changed, crm.Fields{h.tg.TextField: final})

	f := h.drain(t, cursor)
	if r := f.last(untouched); r != nil {
		if !h.tg.Repeats {
			t.Errorf("the feed after a cursor reports %s, which has not changed since (set Target.Repeats if the feed re-reads a lookback window)", untouched)
		} else if !h.tg.NoVersions && r.Version != before.Version {
			t.Errorf("the feed repeats unchanged %s with version %q, want its version %q", untouched, r.Version, before.Version)
		}
	}
	for _, id := range []string{changed, created} {
		if f.last(id) == nil {
			t.Fatalf("the feed after a cursor does not report %s, written after it", id)
		}
	}
	h.checkText(t, "the feed after a cursor reports", f.last(changed), final)
	if f.lastIndex(changed) < f.lastIndex(created) {
		t.Errorf("the feed reports %s's last change (position %d) before %s's earlier one (position %d): it must be ordered by change",
			changed, f.lastIndex(changed), created, f.lastIndex(created))
	}
	// From the end, nothing (or only repeats) is left.
	rest := h.drain(t, f.end)
	for _, r := range rest.records {
		if r.ID == changed || r.ID == created {
			if !h.tg.Repeats {
				t.Errorf("the feed from its own end cursor reports %s again", r.ID)
			}
		}
	}
}

func testOutsideChanges(t *testing.T, h *harness) {
	if h.tg.Insert == nil {
		t.Skip("skipped: Target.Insert is nil")
	}
	cursor := h.drain(t, "").end
	txt := h.text("outside")
	id := h.tg.Insert(t, h.fields(crm.Fields{h.tg.TextField: txt}))
	f := h.drain(t, cursor)
	if r := f.last(id); r == nil {
		t.Fatalf("the feed does not report %s, inserted outside the engine", id)
	} else {
		h.checkText(t, "the feed reports inserted", r, txt)
		if h.tg.SupportsKey && r.Key != "" {
			t.Errorf("a record inserted outside the engine has Key %q, want empty: only the engine's upserts set keys", r.Key)
		}
	}
	h.checkText(t, "Get", h.mustGet(t, id), txt)
	cursor = f.end

	if h.tg.Modify != nil {
		txt2 := h.text("outside modified")
		h.tg.Modify(t, id, crm.Fields{h.tg.TextField: txt2})
		f = h.drain(t, cursor)
		if r := f.last(id); r == nil {
			t.Errorf("the feed does not report %s, modified outside the engine", id)
		} else {
			h.checkText(t, "the feed reports modified", r, txt2)
		}
		h.checkText(t, "Get", h.mustGet(t, id), txt2)
		cursor = f.end
	}
	if h.tg.Remove != nil {
		h.tg.Remove(t, id)
		f = h.drain(t, cursor)
		if r := f.last(id); r == nil || !r.Deleted {
			t.Errorf("the feed does not report %s, removed outside the engine, as a tombstone (last report: %+v)", id, r)
		}
		if h.get(t, id)[id] != nil {
			t.Errorf("Get returns %s after it was removed outside the engine", id)
		}
	}
}

func testTombstones(t *testing.T, h *harness) {
	id, _ := h.create(t, h.text("tombstone"))
	cursor := h.drain(t, "").end
	h.delete(t, id)
	for _, from := range []string{cursor, ""} {
		r := h.drain(t, from).last(id)
		switch {
		case r == nil:
			t.Errorf("the feed from %q does not report the delete of %s", from, id)
		case !r.Deleted:
			t.Errorf("the feed from %q reports deleted %s last with Deleted=false, want a tombstone", from, id)
		}
	}
}

func testPaging(t *testing.T, h *harness) {
	n := 7
	if h.tg.PageSize > 0 {
		n = 2*h.tg.PageSize + 1
	}
	cursor := h.drain(t, "").end
	ws := make([]syncengine.Write, n)
	want := map[string]bool{}
	for i := range ws {
		ws[i] = syncengine.Write{Op: syncengine.Upsert, Key: h.key(), Fields: h.fields(crm.Fields{h.tg.TextField: h.text("page")})}
	}
	for _, r := range h.applyOK(t, ws...) {
		want[r.ID] = true
	}
	f := h.drain(t, cursor)
	if h.tg.PageSize > 0 && len(f.pages) < 3 {
		t.Errorf("%d changes with page size %d came in %d pages, want at least 3", n, h.tg.PageSize, len(f.pages))
	}
	for i, p := range f.pages[:len(f.pages)-1] {
		if !p.More {
			t.Errorf("page %d of %d has More=false", i+1, len(f.pages))
		}
	}
	missing := func(recs []*syncengine.Record, want map[string]bool) []string {
		got := map[string]bool{}
		for _, r := range recs {
			got[r.ID] = true
		}
		var out []string
		for id := range want {
			if !got[id] {
				out = append(out, id)
			}
		}
		slices.Sort(out)
		return out
	}
	if m := missing(f.records, want); len(m) > 0 {
		t.Fatalf("reading %d changes page by page missed %v", n, m)
	}
	// Resume from each page's cursor, as after a crash there: the pages read
	// before plus the feed from there miss nothing.
	var seen []*syncengine.Record
	for i, p := range f.pages {
		seen = append(seen, p.Records...)
		if !p.More {
			break
		}
		rest := h.drain(t, p.Cursor)
		if m := missing(append(slices.Clone(seen), rest.records...), want); len(m) > 0 {
			t.Errorf("resuming after page %d from its cursor %q misses %v", i+1, p.Cursor, m)
		}
	}
}

func testVersions(t *testing.T, h *harness) {
	if h.tg.NoVersions {
		t.Skip("skipped: Target.NoVersions")
	}
	id, _ := h.create(t, h.text("versions"))
	seen := map[string]string{} // version -> what made it
	step := func(what string) string {
		t.Helper()
		a, b := h.mustGet(t, id), h.mustGet(t, id)
		if a.Version == "" {
			t.Fatalf("after %s, Get %s has an empty Version (set Target.NoVersions if the endpoint has none)", what, id)
		}
		if a.Version != b.Version {
			t.Errorf("after %s, two Gets of %s report versions %q and %q, want the same", what, id, a.Version, b.Version)
		}
		if prev, ok := seen[a.Version]; ok {
			t.Errorf("after %s, %s has version %q, the same as after %s: every change must change the version", what, id, a.Version, prev)
		}
		seen[a.Version] = what
		f1, f2 := h.drain(t, ""), h.drain(t, "")
		if r1, r2 := f1.last(id), f2.last(id); r1 == nil || r2 == nil || r1.Version != a.Version || r2.Version != a.Version {
			t.Errorf("after %s, two reads of the feed report %s at versions %v and %v, want Get's %q", what, id, version(r1), version(r2), a.Version)
		}
		return a.Version
	}
	step("the create")
	if r := h.update(t, id, crm.Fields{h.tg.TextField: h.text("versions 2")}); r.Version != "" {
		if v := step("an Update"); v != r.Version {
			t.Errorf("the Update reported version %q, but Get reports %q", r.Version, v)
		}
	} else {
		step("an Update")
	}
	// An update that sets the same value is still a write.
	same := h.mustGet(t, id).Fields[h.tg.TextField]
	h.update(t, id, crm.Fields{h.tg.TextField: same})
	step("an Update to the same value")
	if h.tg.Modify != nil {
		h.tg.Modify(t, id, crm.Fields{h.tg.TextField: h.text("versions 3")})
		step("a Modify outside the engine")
	}
	last := h.mustGet(t, id).Version
	h.delete(t, id)
	if r := h.drain(t, "").last(id); r != nil && r.Version != "" && r.Version == last {
		t.Errorf("the tombstone of %s has the version %q of its last live state; a delete is a change", id, r.Version)
	}
}

func version(r *syncengine.Record) any {
	if r == nil {
		return "(absent)"
	}
	return r.Version
}

func testBadWrite(t *testing.T, h *harness) {
	const unknown = "endpointtest_no_such_field"
	var badValue any = "x"
	if h.tg.AnyField {
		badValue = 1.5
	}
	target, _ := h.create(t, h.text("bad target"))
	goodText, badText := h.text("good"), h.text("bad")
	badKey := h.key()
	ws := []syncengine.Write{
		{Op: syncengine.Upsert, Key: h.key(), Fields: h.fields(crm.Fields{h.tg.TextField: goodText})},
		{Op: syncengine.Upsert, Key: badKey, Fields: h.fields(crm.Fields{h.tg.TextField: badText, unknown: badValue})},
		{Op: syncengine.Update, ID: target, Fields: crm.Fields{unknown: badValue}},
		{Op: syncengine.Update, ID: target, Fields: crm.Fields{h.tg.TextField: goodText + " updated"}},
	}
	bad := map[int]string{1: unknown, 2: unknown}
	if h.tg.ChecksKinds {
		ws = append(ws, syncengine.Write{Op: syncengine.Update, ID: target, Fields: crm.Fields{h.tg.TextField: []string{"a", "b"}}})
		bad[len(ws)-1] = h.tg.TextField
	}
	rs := h.apply(t, ws)
	for i, r := range rs {
		field, isBad := bad[i]
		if !isBad {
			if r.Err != nil {
				t.Errorf("good write %d (%s) failed beside bad ones: %v", i, ws[i].Op, r.Err)
			}
			continue
		}
		var ce *crm.Error
		switch {
		case r.Err == nil:
			t.Errorf("write %d (%s) with a bad value in %s succeeded, want KindValidation", i, ws[i].Op, field)
			continue
		case !errors.As(r.Err, &ce):
			t.Errorf("write %d (%s) failed with %T %v, want a *crm.Error", i, ws[i].Op, r.Err, r.Err)
			continue
		}
		if ce.Kind != crm.KindValidation {
			t.Errorf("write %d (%s) failed with kind %s, want validation: %v", i, ws[i].Op, ce.Kind, ce)
		}
		if !slices.Contains(ce.Fields, field) {
			t.Errorf("write %d (%s): the error names fields %v, want %s: %v", i, ws[i].Op, ce.Fields, field, ce)
		}
		if ws[i].Op == syncengine.Update && ce.RecordID != ws[i].ID && !strings.Contains(ce.Error(), ws[i].ID) {
			t.Errorf("write %d (update %s): the error does not name the record: %v", i, ws[i].ID, ce)
		}
	}
	f := h.drain(t, "")
	if ids := f.withText(h.tg.TextField, goodText); len(ids) != 1 {
		t.Errorf("the good upsert beside bad writes made %d records (%v), want 1", len(ids), ids)
	}
	if ids := f.withText(h.tg.TextField, badText); len(ids) != 0 {
		t.Errorf("the failed upsert made records %v", ids)
	}
	h.checkText(t, "Get", h.mustGet(t, target), goodText+" updated")
}

func testFind(t *testing.T, h *harness) {
	fd, ok := h.ep.(syncengine.Finder)
	if !ok {
		t.Skip("skipped: the endpoint is not a syncengine.Finder")
	}
	txt := h.text("find")
	id, _ := h.create(t, txt)
	gone, _ := h.create(t, h.text("find gone"))
	goneText := h.mustGet(t, gone).Fields[h.tg.TextField]
	h.delete(t, gone)
	rs, err := fd.Find(t.Context(), h.tg.TextField, txt)
	if err != nil {
		t.Fatalf("Find(%s, %q): %v", h.tg.TextField, txt, err)
	}
	if len(rs) != 1 || rs[0] == nil || rs[0].ID != id {
		t.Errorf("Find(%s, %q) returned %d records, want only %s", h.tg.TextField, txt, len(rs), id)
	} else {
		h.checkText(t, "Find", rs[0], txt)
	}
	rs, err = fd.Find(t.Context(), h.tg.TextField, goneText)
	if err != nil {
		t.Fatalf("Find of a deleted record's value: %v", err)
	}
	if len(rs) != 0 {
		t.Errorf("Find returned %d records for the value of deleted %s, want none", len(rs), gone)
	}
	rs, err = fd.Find(t.Context(), h.tg.TextField, h.text("nobody"))
	if err != nil || len(rs) != 0 {
		t.Errorf("Find of a value no record has: %d records, error %v; want none and no error", len(rs), err)
	}
}

func testBatchSize(t *testing.T, h *harness) {
	bs, ok := h.ep.(syncengine.BatchSizer)
	if !ok {
		t.Skip("skipped: the endpoint is not a syncengine.BatchSizer")
	}
	if n := bs.BatchSize(); n <= 0 {
		t.Errorf("BatchSize() = %d, want a positive number", n)
	}
}

func testCancel(t *testing.T, h *harness) {
	text := h.text("cancel")
	id, _ := h.create(t, text)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(call string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: error %v, want one matching context.Canceled", call, err)
		}
	}
	_, err := h.ep.Changes(ctx, "")
	check("Changes", err)
	_, err = h.ep.Get(ctx, []string{id})
	check("Get", err)
	// Apply may fail the call, or fail each write with the cancellation (as
	// not sent); either way the write must not land.
	rs, err := h.ep.Apply(ctx, []syncengine.Write{{Op: syncengine.Update, ID: id, Fields: crm.Fields{h.tg.TextField: h.text("cancelled")}}})
	if err == nil && len(rs) == 1 && errors.Is(rs[0].Err, context.Canceled) {
		if r := h.mustGet(t, id); r.Fields[h.tg.TextField] != text {
			t.Errorf("Apply with a cancelled context failed its write, but the write landed: %s = %#v", h.tg.TextField, r.Fields[h.tg.TextField])
		}
	} else {
		check("Apply", err)
	}
	if fd, ok := h.ep.(syncengine.Finder); ok {
		_, err = fd.Find(ctx, h.tg.TextField, "x")
		check("Find", err)
	}
}

// testConcurrent writes and reads from several goroutines at once; under the
// race detector it finds unsynchronised state, and it checks no write is lost.
func testConcurrent(t *testing.T, h *harness) {
	const workers, each = 4, 5
	cursor := h.drain(t, "").end
	var wg sync.WaitGroup
	var mu sync.Mutex
	var texts []string
	errs := make(chan error, workers*each*3)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				txt := h.text(fmt.Sprintf("concurrent %d.%d", w, i))
				rs, err := h.ep.Apply(t.Context(), []syncengine.Write{{Op: syncengine.Upsert, Key: h.key(), Fields: h.fields(crm.Fields{h.tg.TextField: txt})}})
				if err == nil && (len(rs) != 1 || rs[0].Err != nil) {
					err = fmt.Errorf("upsert: %v", rs)
				}
				if err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				texts = append(texts, txt)
				mu.Unlock()
				if _, err := h.ep.Get(t.Context(), []string{rs[0].ID}); err != nil {
					errs <- err
				}
				if _, err := h.ep.Changes(t.Context(), cursor); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a concurrent call failed: %v", err)
	}
	f := h.drain(t, cursor)
	for _, txt := range texts {
		if ids := f.withText(h.tg.TextField, txt); len(ids) != 1 {
			t.Errorf("after concurrent upserts, the feed has %d records with text %q, want 1", len(ids), txt)
		}
	}
}
