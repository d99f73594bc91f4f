package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/crmkit/crmkit/syncengine"
)

// NewStore returns a fresh, empty store for one subtest. The store must read
// the current time from now (for lease expiry) and never from the system
// clock, so that the suite decides when leases expire. Register any cleanup
// with t.Cleanup.
type NewStore func(t *testing.T, now func() time.Time) syncengine.Store

// Run runs the conformance suite against the stores newStore makes. Every
// subtest gets a store of its own. Run the test with -race: the suite commits
// from many goroutines at once.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"Links", []subtest{
			{"ByBothSides", testLinksByBothSides},
			{"RoundTrip", testLinksRoundTrip},
			{"EmptyMaps", testLinksEmptyMaps},
			{"Tombstone", testLinksTombstone},
			{"RelinkReplacesOld", testLinksRelink},
			{"RelinkAcrossTwoLinks", testLinksRelinkAcrossTwo},
			{"AppliedInOrder", testLinksAppliedInOrder},
			{"RemoveLinks", testLinksRemove},
			{"ManyIDs", testLinksManyIDs},
			{"CopiesInAndOut", testLinksCopies},
			{"InvalidSide", testLinksInvalidSide},
		}},
		{"Cursors", []subtest{
			{"PerSideAndPairing", testCursors},
			{"InvalidSide", testCursorsInvalidSide},
		}},
		{"Outbox", []subtest{
			{"EnqueueAssignsIncreasingIDs", testOutboxEnqueueIDs},
			{"RoundTrip", testOutboxRoundTrip},
			{"Payload", testOutboxPayload},
			{"Query", testOutboxQuery},
			{"Update", testOutboxUpdate},
			{"Settle", testOutboxSettle},
			{"IDsNeverReused", testOutboxIDsNeverReused},
			{"CopiesInAndOut", testOutboxCopies},
			{"InvalidQuery", testOutboxInvalidQuery},
		}},
		{"Decisions", []subtest{
			{"Paging", testDecisionsPaging},
		}},
		{"Parked", []subtest{
			{"ParkListRelease", testParked},
			{"IDsNeverReused", testParkedIDsNeverReused},
			{"CopiesInAndOut", testParkedCopies},
		}},
		{"Commit", []subtest{
			{"Empty", testCommitEmpty},
			{"AtomicOnNotFound", testCommitAtomic},
			{"InvalidChangeset", testCommitInvalid},
			{"PairingsIsolated", testPairingsIsolated},
			{"Concurrent", testCommitConcurrent},
		}},
		{"Times", []subtest{
			{"UTCMicroseconds", testTimes},
		}},
		{"Context", []subtest{
			{"Cancelled", testContextCancelled},
		}},
		{"Leases", []subtest{
			{"AcquireRenewRelease", testLeases},
			{"Expiry", testLeaseExpiry},
			{"PerPairing", testLeasePerPairing},
			{"OneWinnerAmongMany", testLeaseConcurrent},
			{"InvalidInput", testLeaseInvalid},
		}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, st := range g.tests {
				t.Run(st.name, func(t *testing.T) {
					c := newClock()
					st.fn(t, &harness{s: newStore(t, c.Now), clock: c})
				})
			}
		})
	}
}

type subtest struct {
	name string
	fn   func(t *testing.T, h *harness)
}

// clock is the suite's fake clock, read by the store under test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type harness struct {
	s     syncengine.Store
	clock *clock
}

const (
	p1 = "pairing-one"
	p2 = "pairing-two"
)

// cmpOpts compares what a store returns with what was stored: times equal
// to the microsecond, empty and nil maps and slices alike.
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b time.Time) bool {
		d := a.Sub(b)
		return d > -time.Microsecond && d < time.Microsecond
	}),
	cmpopts.EquateEmpty(),
}

func (h *harness) commit(t *testing.T, pairing string, c *syncengine.Changeset) {
	t.Helper()
	if err := h.s.Commit(t.Context(), pairing, c); err != nil {
		t.Fatalf("Commit(%q): %v", pairing, err)
	}
}

func (h *harness) links(t *testing.T, pairing string, side syncengine.Side, ids ...string) map[string]*syncengine.Link {
	t.Helper()
	got, err := h.s.Links(t.Context(), pairing, side, ids)
	if err != nil {
		t.Fatalf("Links(%q, %v, %d ids): %v", pairing, side, len(ids), err)
	}
	return got
}

func (h *harness) cursor(t *testing.T, pairing string, side syncengine.Side) string {
	t.Helper()
	got, err := h.s.Cursor(t.Context(), pairing, side)
	if err != nil {
		t.Fatalf("Cursor(%q, %v): %v", pairing, side, err)
	}
	return got
}

func (h *harness) outbox(t *testing.T, pairing string, q syncengine.OutboxQuery) []*syncengine.OutboxEntry {
	t.Helper()
	got, err := h.s.Outbox(t.Context(), pairing, q)
	if err != nil {
		t.Fatalf("Outbox(%q, %+v): %v", pairing, q, err)
	}
	return got
}

func (h *harness) decisions(t *testing.T, pairing string, afterID int64, limit int) []*syncengine.DecisionRecord {
	t.Helper()
	got, err := h.s.Decisions(t.Context(), pairing, afterID, limit)
	if err != nil {
		t.Fatalf("Decisions(%q, %d, %d): %v", pairing, afterID, limit, err)
	}
	return got
}

func (h *harness) parked(t *testing.T, pairing string) []*syncengine.ParkedConflict {
	t.Helper()
	got, err := h.s.Parked(t.Context(), pairing)
	if err != nil {
		t.Fatalf("Parked(%q): %v", pairing, err)
	}
	return got
}

func (h *harness) acquire(t *testing.T, pairing, owner string, ttl time.Duration) bool {
	t.Helper()
	ok, err := h.s.AcquireLease(t.Context(), pairing, owner, ttl)
	if err != nil {
		t.Fatalf("AcquireLease(%q, %q, %v): %v", pairing, owner, ttl, err)
	}
	return ok
}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpOpts); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func ids[T any](items []T, id func(T) int64) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func entryIDs(es []*syncengine.OutboxEntry) []int64 {
	return ids(es, func(e *syncengine.OutboxEntry) int64 { return e.ID })
}

func at(h *harness, d time.Duration) time.Time { return h.clock.Now().Add(d) }

func link(app, crm string) *syncengine.Link {
	return &syncengine.Link{AppID: app, CRMID: crm, AppVersion: "av-" + app, CRMVersion: "cv-" + crm}
}

func entry(target syncengine.Side, next time.Time) *syncengine.OutboxEntry {
	return &syncengine.OutboxEntry{Target: target, Op: syncengine.Update, SourceID: "src", TargetID: "dst", NextAttempt: next}
}

// --- Links ---------------------------------------------------------------

func testLinksByBothSides(t *testing.T, h *harness) {
	h.commit(t, p1, &syncengine.Changeset{Links: []*syncengine.Link{link("a1", "c1"), link("a2", "c2")}})

	byApp := h.links(t, p1, syncengine.App, "a1", "a2", "a3", "a1")
	if got := keys(byApp); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Fatalf("Links(App, a1 a2 a3 a1) keys = %v, want [a1 a2]: ids without a link are absent, duplicates harmless", got)
	}
	diff(t, "link a2 by app id", link("a2", "c2"), byApp["a2"])

	byCRM := h.links(t, p1, syncengine.CRM, "c2", "a1")
	if got := keys(byCRM); !slices.Equal(got, []string{"c2"}) {
		t.Fatalf("Links(CRM, c2 a1) keys = %v, want [c2]: a CRM lookup must not match app ids", got)
	}
	diff(t, "link c2 by CRM id", link("a2", "c2"), byCRM["c2"])

	if got := h.links(t, p1, syncengine.App); len(got) != 0 {
		t.Errorf("Links with no ids = %v, want empty", got)
	}
	if got := h.links(t, p2, syncengine.App, "a1"); len(got) != 0 {
		t.Errorf("Links of another pairing = %v, want empty", got)
	}
}

func testLinksRoundTrip(t *testing.T, h *harness) {
	want := &syncengine.Link{
		AppID: "app-1", CRMID: "003XYZ", AppVersion: "7", CRMVersion: "2025-03-04T05:06:07.000+0000",
		AppHashes: map[string]string{"email": "h1", "name": "h2", "": "empty-name", "ünïcode": "h\x00bin"},
		CRMHashes: map[string]string{"Email": "h1", "LastName": "h2"},
		SyncedAt:  time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC),
	}
	h.commit(t, p1, &syncengine.Changeset{Links: []*syncengine.Link{want}})
	diff(t, "link by app id", want, h.links(t, p1, syncengine.App, "app-1")["app-1"])
	diff(t, "link by CRM id", want, h.links(t, p1, syncengine.CRM, "003XYZ")["003XYZ"])

	// Upserting the same pair replaces every field.
	next := &syncengine.Link{AppID: "app-1", CRMID: "003XYZ", AppVersion: "8", AppHashes: map[string]string{"email": "h9"}}
	h.commit(t, p1, &syncengine.Changeset{Links: []*syncengine.Link{next}})
	diff(t, "link after upsert", next, h.links(t, p1, syncengine.App, "app-1")["app-1"])
}

func testLinksEmptyMaps(t *testing.T, h *harness) {
	in := []*syncengine.Link{
		{AppID: "nil", CRMID: "c-nil"},
		{AppID: "empty", CRMID: "c-empty", AppHashes: map[string]string{}, CRMHashes: map[string]string{}},
	}
	h.commit(t, p1, &syncengine.Changeset{Links: in})
	got := h.links(t, p1, syncengine.App, "nil", "empty")
	for _, l := range in {
		g := got[l.AppID]
		if g == nil {
			t.Fatalf("link %q missing", l.AppID)
		}
		if len(g.AppHashes) != 0 || len(g.CRMHashes) != 0 {
			t.Errorf("link %q hashes = %v / %v, want none", l.AppID, g.AppHashes, g.CRMHashes)
		}
	}
}

func testLinksTombstone(t *testing.T, h *harness) {
	l := link("a1", "c1")
	h.commit(t, p1, &syncengine.Changeset{Links: []*syncengine.Link{l}})
	dead := link("a1", "c1")
	dead.Deleted = true
	dead.SyncedAt = at(h, 0)
	h.commit(t, p1, &syncengine.Changeset{Links: []*syncengine.Link{dead}})
	diff(t, "tombstone by app id", dead, h.links(t, p1, syncengine.App, "a1")["a1"])
	diff(t, "tombstone by CRM id", dead, h.links(t, p1, syncengine.CRM, "c1")["c1"])
}

func testLinksRelink(t *testing.T, h *harness) {
	h.commit(t, p1, &syncengine.Changeset{Links: []*syncengine.Link{link("a1", "c1")}})
	h.commit(t, p1, &syncengine.Changeset{Links: []*syncengine.Link{link("a1", "c2")}})
	if got := h.links(t, p1, syncengine.CRM, "c1", "c2"); !slices.Equal(keys(got), []string{"c2"}) {
		t.Fatalf("after relinking a1 from c1 to c2, Links(CRM, c1 c2) keys = %v, want [c2]: the old link must go entirely", keys(got))
	}
	diff(t, "relinked link", link("a1", "c2"), h.links(t, p1, syncengine.App, "a1")["a1"])

	// And the other way: CRM record c2 relinked to app record a5.
	h.commit(t, p1, &syncengine.Changeset{Links: []*syncengine.Link{link("a5", "c2")}})
	if got := h.links(t, p1, syncengine.App, "a1", "a5"); !slices.Equal(keys(got), []string{"a5"}) {
		t.Fatalf("after relinking c2 from a1 to a5, Links(App, a1 a5) keys = %v, want [a5]", keys(got))
	}
}

func testLinksRelinkAcrossTwo(t *testing.T, h *harness) {
	h.commit(t, p1, &syncengine.Changeset{Links: []*syncengine.Link{link("a1", "c1"), link("a2", "c2"), link("a3", "c3")}})
	// (a1, c2) collides with both (a1, c1) and (a2, c2): both go.
	h.commit(t, p1, &syncengine.Changeset{Links: []*syncengine.Link{link("a1", "c2")}})
	if got := keys(h.links(t, p1, syncengine.App, "a1", "a2", "a3")); !slices.Equal(got, []string{"a1", "a3"}) {
		t.Errorf("Links(App) keys = %v, want [a1 a3]", got)
	}
	if got := keys(h.links(t, p1, syncengine.CRM, "c1", "c2", "c3")); !slices.Equal(got, []string{"c2", "c3"}) {
		t.Errorf("Links(CRM) keys = %v, want [c2 c3]", got)
	}
	diff(t, "merged link", link("a1", "c2"), h.links(t, p1, syncengine.CRM, "c2")["c2"])
}

func testLinksAppliedInOrder(t *testing.T, h *harness) {
	// Within one changeset links apply in order, then removals.
	h.commit(t, p1, &syncengine.Changeset{
		Links:       []*syncengine.Link{link("a1", "c1"), link("a1", "c3"), link("a2", "c2")},
		RemoveLinks: []*syncengine.Link{{AppID: "a2", CRMID: "c2"}},
	})
	got := h.links(t, p1, syncengine.App, "a1", "a2")
	if !slices.Equal(keys(got), []string{"a1"}) || got["a1"].CRMID != "c3" {
		t.Fatalf("Links = %v, want only a1 linked to c3", got)
	}
	if got := h.links(t, p1, syncengine.CRM, "c1"); len(got) != 0 {
		t.Errorf("c1 still linked: %v", got["c1"])
	}
}

func testLinksRemove(t *testing.T, h *harness) {
	all := []*syncengine.Link{link("a1", "c1"), link("a2", "c2"), link("a3", "c3"), link("a4", "c4"), link("a5", "c5")}
	h.commit(t, p1, &syncengine.Changeset{Links: all})
	h.commit(t, p2, &syncengine.Changeset{Links: []*syncengine.Link{link("a1", "c1")}})
	h.commit(t, p1, &syncengine.Changeset{RemoveLinks: []*syncengine.Link{
		{AppID: "a1", CRMID: "c1"}, // exact pair: removed
		{AppID: "a2", CRMID: "c9"}, // a2 is linked to c2, not c9: kept
		{AppID: "a3"},              // any CRM id: removed
		{CRMID: "c4"},              // any app id: removed
		{AppID: "a9", CRMID: "c9"}, // not stored: ignored
	}})
	if got := keys(h.links(t, p1, syncengine.App, "a1", "a2", "a3", "a4", "a5")); !slices.Equal(got, []string{"a2", "a5"}) {
		t.Errorf("after RemoveLinks, Links(App) keys = %v, want [a2 a5]", got)
	}
	if got := keys(h.links(t, p1, syncengine.CRM, "c1", "c2", "c3", "c4", "c5")); !slices.Equal(got, []string{"c2", "c5"}) {
		t.Errorf("after RemoveLinks, Links(CRM) keys = %v, want [c2 c5]", got)
	}
	if got := h.links(t, p2, syncengine.App, "a1"); got["a1"] == nil {
		t.Errorf("RemoveLinks in %q removed the link of %q", p1, p2)
	}
}

func testLinksManyIDs(t *testing.T, h *harness) {
	const n = 1234
	var in []*syncengine.Link
	var appIDs, crmIDs []string
	for i := range n {
		l := link(fmt.Sprintf("app-%05d", i), fmt.Sprintf("crm-%05d", i))
		l.AppHashes = map[string]string{"f": fmt.Sprint(i)}
		in = append(in, l)
		appIDs = append(appIDs, l.AppID)
		crmIDs = append(crmIDs, l.CRMID)
	}
	h.commit(t, p1, &syncengine.Changeset{Links: in})
	query := append(slices.Clone(appIDs), "app-missing-1", "app-missing-2")
	got := h.links(t, p1, syncengine.App, query...)
	if len(got) != n {
		t.Fatalf("Links(App, %d ids) returned %d links, want %d", len(query), len(got), n)
	}
	for i, id := range appIDs {
		if g := got[id]; g == nil || g.CRMID != crmIDs[i] || g.AppHashes["f"] != fmt.Sprint(i) {
			t.Fatalf("Links(App)[%q] = %+v, want CRM id %q and hash %d", id, g, crmIDs[i], i)
		}
	}
	got = h.links(t, p1, syncengine.CRM, crmIDs[600:]...)
	if len(got) != n-600 || got[crmIDs[n-1]].AppID != appIDs[n-1] {
		t.Fatalf("Links(CRM, %d ids) returned %d links, want %d", n-600, len(got), n-600)
	}
}

func testLinksCopies(t *testing.T, h *harness) {
	in := link("a1", "c1")
	in.AppHashes = map[string]string{"email": "h1"}
	in.CRMHashes = map[string]string{"Email": "h1"}
	h.commit(t, p1, &syncengine.Changeset{Links: []*syncengine.Link{in}})
	in.AppHashes["email"] = "changed by caller"
	in.CRMHashes["Other"] = "added by caller"
	in.AppVersion = "changed"

	got := h.links(t, p1, syncengine.App, "a1")["a1"]
	want := link("a1", "c1")
	want.AppHashes = map[string]string{"email": "h1"}
	want.CRMHashes = map[string]string{"Email": "h1"}
	diff(t, "link after the caller changed what it committed", want, got)

	got.AppHashes["email"] = "changed by reader"
	got.CRMHashes["x"] = "y"
	got.CRMID = "c9"
	diff(t, "link after a reader changed what it got", want, h.links(t, p1, syncengine.App, "a1")["a1"])
}

func testLinksInvalidSide(t *testing.T, h *harness) {
	for _, side := range []syncengine.Side{0, 3, 255} {
		if _, err := h.s.Links(t.Context(), p1, side, []string{"a1"}); err == nil {
			t.Errorf("Links(side %d) succeeded, want an error naming the side", side)
		}
	}
}

// --- Cursors -------------------------------------------------------------

func testCursors(t *testing.T, h *harness) {
	if got := h.cursor(t, p1, syncengine.App); got != "" {
		t.Fatalf("Cursor of a new store = %q, want empty", got)
	}
	h.commit(t, p1, &syncengine.Changeset{Cursors: map[syncengine.Side]string{syncengine.App: "app-1", syncengine.CRM: "crm-1"}})
	h.commit(t, p2, &syncengine.Changeset{Cursors: map[syncengine.Side]string{syncengine.App: "other-app"}})
	h.commit(t, p1, &syncengine.Changeset{Cursors: map[syncengine.Side]string{syncengine.CRM: "crm-2"}})

	for _, c := range []struct {
		pairing string
		side    syncengine.Side
		want    string
	}{
		{p1, syncengine.App, "app-1"},
		{p1, syncengine.CRM, "crm-2"},
		{p2, syncengine.App, "other-app"},
		{p2, syncengine.CRM, ""},
	} {
		if got := h.cursor(t, c.pairing, c.side); got != c.want {
			t.Errorf("Cursor(%q, %v) = %q, want %q", c.pairing, c.side, got, c.want)
		}
	}

	// Storing "" resets a cursor: the next feed starts from the beginning.
	h.commit(t, p1, &syncengine.Changeset{Cursors: map[syncengine.Side]string{syncengine.App: ""}})
	if got := h.cursor(t, p1, syncengine.App); got != "" {
		t.Errorf("Cursor after storing empty = %q, want empty", got)
	}
	long := string(bytes.Repeat([]byte("cursör\x00"), 2000))
	h.commit(t, p1, &syncengine.Changeset{Cursors: map[syncengine.Side]string{syncengine.App: long}})
	if got := h.cursor(t, p1, syncengine.App); got != long {
		t.Errorf("long binary cursor came back with %d bytes, want %d identical", len(got), len(long))
	}
}

func testCursorsInvalidSide(t *testing.T, h *harness) {
	if _, err := h.s.Cursor(t.Context(), p1, 0); err == nil {
		t.Error("Cursor(side 0) succeeded, want an error naming the side")
	}
	if err := h.s.Commit(t.Context(), p1, &syncengine.Changeset{Cursors: map[syncengine.Side]string{7: "x"}}); err == nil {
		t.Error("Commit with a cursor for side 7 succeeded, want an error naming the side")
	}
}

// --- Outbox --------------------------------------------------------------

func testOutboxEnqueueIDs(t *testing.T, h *harness) {
	first := []*syncengine.OutboxEntry{entry(syncengine.CRM, at(h, 0)), entry(syncengine.App, at(h, 0)), entry(syncengine.CRM, at(h, 0))}
	first[1].ID = 424242 // a caller's stale ID is replaced
	h.commit(t, p1, &syncengine.Changeset{Enqueue: first})
	second := []*syncengine.OutboxEntry{entry(syncengine.CRM, at(h, 0)), entry(syncengine.CRM, at(h, 0))}
	h.commit(t, p1, &syncengine.Changeset{Enqueue: second})

	all := append(slices.Clone(first), second...)
	written := entryIDs(all)
	for i, id := range written {
		if id <= 0 || (i > 0 && id <= written[i-1]) {
			t.Fatalf("IDs written back = %v, want positive and increasing in enqueue order", written)
		}
	}
	if got := entryIDs(h.outbox(t, p1, syncengine.OutboxQuery{})); !slices.Equal(got, written) {
		t.Errorf("Outbox IDs = %v, want the IDs written back %v", got, written)
	}
}

func testOutboxRoundTrip(t *testing.T, h *harness) {
	want := &syncengine.OutboxEntry{
		Target: syncengine.App, Op: syncengine.Upsert, SourceID: "003A", TargetID: "", Key: "ext-1",
		Payload: []byte(`{"fields":{"email":"x@example.com"}}`), Attempts: 2, NextAttempt: at(h, time.Minute),
		ErrorKind: "rate_limited", Error: "429 from CRM", CreatedAt: at(h, -time.Hour), UpdatedAt: at(h, -time.Second),
	}
	del := &syncengine.OutboxEntry{Target: syncengine.CRM, Op: syncengine.Delete, SourceID: "a7", TargetID: "003B", Dead: true, Error: "gone"}
	h.commit(t, p1, &syncengine.Changeset{Enqueue: []*syncengine.OutboxEntry{want, del}})
	got := h.outbox(t, p1, syncengine.OutboxQuery{})
	diff(t, "pending entries", []*syncengine.OutboxEntry{want}, got)
	diff(t, "dead entries", []*syncengine.OutboxEntry{del}, h.outbox(t, p1, syncengine.OutboxQuery{Dead: true}))
}

func testOutboxPayload(t *testing.T, h *harness) {
	binary := make([]byte, 256*3)
	for i := range binary {
		binary[i] = byte(i)
	}
	payloads := [][]byte{nil, {}, {0}, []byte("plain"), binary, bytes.Repeat([]byte{0xff, 0x00}, 1<<16)}
	var in []*syncengine.OutboxEntry
	for _, p := range payloads {
		e := entry(syncengine.CRM, at(h, 0))
		e.Payload = p
		in = append(in, e)
	}
	h.commit(t, p1, &syncengine.Changeset{Enqueue: in})
	got := h.outbox(t, p1, syncengine.OutboxQuery{})
	if len(got) != len(payloads) {
		t.Fatalf("Outbox returned %d entries, want %d", len(got), len(payloads))
	}
	for i, p := range payloads {
		if !bytes.Equal(got[i].Payload, p) {
			t.Errorf("payload %d came back as %d bytes, want %d identical bytes", i, len(got[i].Payload), len(p))
		}
	}
}

func testOutboxQuery(t *testing.T, h *harness) {
	t0 := at(h, 0)
	e := []*syncengine.OutboxEntry{
		entry(syncengine.CRM, t0.Add(-time.Minute)), // 0
		entry(syncengine.App, t0.Add(time.Minute)),  // 1
		entry(syncengine.CRM, t0),                   // 2: due exactly at t0
		entry(syncengine.CRM, t0.Add(-time.Hour)),   // 3: dead
		entry(syncengine.App, t0),                   // 4: dead
		entry(syncengine.CRM, t0.Add(time.Hour)),    // 5
	}
	e[3].Dead, e[4].Dead = true, true
	h.commit(t, p1, &syncengine.Changeset{Enqueue: e})
	other := entry(syncengine.CRM, t0.Add(-time.Hour))
	h.commit(t, p2, &syncengine.Changeset{Enqueue: []*syncengine.OutboxEntry{other}})
	id := func(is ...int) []int64 {
		out := []int64{}
		for _, i := range is {
			out = append(out, e[i].ID)
		}
		return out
	}
	for _, c := range []struct {
		name string
		q    syncengine.OutboxQuery
		want []int64
	}{
		{"all pending", syncengine.OutboxQuery{}, id(0, 1, 2, 5)},
		{"all dead", syncengine.OutboxQuery{Dead: true}, id(3, 4)},
		{"due by t0 inclusive", syncengine.OutboxQuery{DueBy: t0}, id(0, 2)},
		{"due by far past", syncengine.OutboxQuery{DueBy: t0.Add(-24 * time.Hour)}, id()},
		{"DueBy ignored for dead letters", syncengine.OutboxQuery{Dead: true, DueBy: t0.Add(-24 * time.Hour)}, id(3, 4)},
		{"target CRM", syncengine.OutboxQuery{Target: syncengine.CRM}, id(0, 2, 5)},
		{"target App dead", syncengine.OutboxQuery{Target: syncengine.App, Dead: true}, id(4)},
		{"ids in any order, ID order out, dead excluded", syncengine.OutboxQuery{IDs: id(5, 1, 3)}, id(1, 5)},
		{"ids of dead letters", syncengine.OutboxQuery{Dead: true, IDs: id(4, 3, 0)}, id(3, 4)},
		{"empty non-nil ids select nothing", syncengine.OutboxQuery{IDs: []int64{}}, id()},
		{"unknown ids", syncengine.OutboxQuery{IDs: []int64{-1, 0, 1 << 60}}, id()},
		{"another pairing's id", syncengine.OutboxQuery{IDs: []int64{other.ID}}, id()},
		{"limit", syncengine.OutboxQuery{Limit: 2}, id(0, 1)},
		{"negative limit is no cap", syncengine.OutboxQuery{Limit: -1}, id(0, 1, 2, 5)},
		{"all conditions", syncengine.OutboxQuery{DueBy: t0, Target: syncengine.CRM, IDs: id(2, 0, 1), Limit: 1}, id(0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := entryIDs(h.outbox(t, p1, c.q))
			if !slices.Equal(got, c.want) {
				t.Errorf("Outbox(%+v) IDs = %v, want %v", c.q, got, c.want)
			}
		})
	}
	if got := entryIDs(h.outbox(t, p2, syncengine.OutboxQuery{})); !slices.Equal(got, []int64{other.ID}) {
		t.Errorf("Outbox of %q = %v, want only its own entry %d", p2, got, other.ID)
	}
}

func testOutboxUpdate(t *testing.T, h *harness) {
	orig := &syncengine.OutboxEntry{
		Target: syncengine.CRM, Op: syncengine.Upsert, SourceID: "a1", Key: "k1", Payload: []byte("p"),
		NextAttempt: at(h, 0), CreatedAt: at(h, 0), UpdatedAt: at(h, 0),
	}
	h.commit(t, p1, &syncengine.Changeset{Enqueue: []*syncengine.OutboxEntry{orig}})
	upd := &syncengine.OutboxEntry{
		ID: orig.ID, Attempts: 3, NextAttempt: at(h, 5*time.Minute), Dead: true, ErrorKind: "validation",
		Error: "field Email: invalid", UpdatedAt: at(h, time.Second),
		// Fields Update does not change, however the caller sets them:
		Target: syncengine.App, Op: syncengine.Delete, SourceID: "zz", TargetID: "zz", Key: "zz",
		Payload: []byte("changed"), CreatedAt: at(h, time.Hour),
	}
	h.commit(t, p1, &syncengine.Changeset{Update: []*syncengine.OutboxEntry{upd}})
	want := *orig
	want.Attempts, want.NextAttempt, want.Dead = 3, upd.NextAttempt, true
	want.ErrorKind, want.Error, want.UpdatedAt = upd.ErrorKind, upd.Error, upd.UpdatedAt
	if got := h.outbox(t, p1, syncengine.OutboxQuery{}); len(got) != 0 {
		t.Errorf("pending after marking dead = %v, want none", entryIDs(got))
	}
	diff(t, "updated entry", []*syncengine.OutboxEntry{&want}, h.outbox(t, p1, syncengine.OutboxQuery{Dead: true}))

	// And back to pending, as a replay does.
	back := want
	back.Dead, back.Attempts, back.ErrorKind, back.Error = false, 0, "", ""
	h.commit(t, p1, &syncengine.Changeset{Update: []*syncengine.OutboxEntry{&back}})
	diff(t, "replayed entry", []*syncengine.OutboxEntry{&back}, h.outbox(t, p1, syncengine.OutboxQuery{}))
}

func testOutboxSettle(t *testing.T, h *harness) {
	e := []*syncengine.OutboxEntry{entry(syncengine.CRM, at(h, 0)), entry(syncengine.CRM, at(h, 0)), entry(syncengine.App, at(h, 0))}
	e[2].Dead = true
	h.commit(t, p1, &syncengine.Changeset{Enqueue: e})
	h.commit(t, p1, &syncengine.Changeset{Settle: []int64{e[0].ID, e[2].ID}})
	if got := entryIDs(h.outbox(t, p1, syncengine.OutboxQuery{})); !slices.Equal(got, []int64{e[1].ID}) {
		t.Errorf("pending after settle = %v, want [%d]", got, e[1].ID)
	}
	if got := h.outbox(t, p1, syncengine.OutboxQuery{Dead: true}); len(got) != 0 {
		t.Errorf("dead letters after settling the only one = %v, want none", entryIDs(got))
	}
	err := h.s.Commit(t.Context(), p1, &syncengine.Changeset{Settle: []int64{e[0].ID}})
	if !errors.Is(err, syncengine.ErrNotFound) {
		t.Errorf("settling an entry twice: err = %v, want one wrapping syncengine.ErrNotFound", err)
	}
}

func testOutboxIDsNeverReused(t *testing.T, h *harness) {
	a, b := entry(syncengine.CRM, at(h, 0)), entry(syncengine.CRM, at(h, 0))
	h.commit(t, p1, &syncengine.Changeset{Enqueue: []*syncengine.OutboxEntry{a, b}})
	h.commit(t, p1, &syncengine.Changeset{Settle: []int64{a.ID, b.ID}})
	c := entry(syncengine.CRM, at(h, 0))
	h.commit(t, p1, &syncengine.Changeset{Enqueue: []*syncengine.OutboxEntry{c}})
	if c.ID <= b.ID {
		t.Errorf("entry enqueued after settling the newest got ID %d, want above %d: an ID must never be reused", c.ID, b.ID)
	}
}

func testOutboxCopies(t *testing.T, h *harness) {
	in := entry(syncengine.CRM, at(h, 0))
	in.Payload = []byte("original")
	h.commit(t, p1, &syncengine.Changeset{Enqueue: []*syncengine.OutboxEntry{in}})
	in.Payload[0] = 'X'
	in.Key = "changed"
	got := h.outbox(t, p1, syncengine.OutboxQuery{})
	if len(got) != 1 || string(got[0].Payload) != "original" || got[0].Key != "" {
		t.Fatalf("entry after the caller changed what it enqueued = %+v, want payload %q", got, "original")
	}
	got[0].Payload[0] = 'Y'
	got[0].Attempts = 99
	again := h.outbox(t, p1, syncengine.OutboxQuery{})
	if string(again[0].Payload) != "original" || again[0].Attempts != 0 {
		t.Errorf("entry after a reader changed what it got = payload %q attempts %d, want %q and 0", again[0].Payload, again[0].Attempts, "original")
	}
}

func testOutboxInvalidQuery(t *testing.T, h *harness) {
	if _, err := h.s.Outbox(t.Context(), p1, syncengine.OutboxQuery{Target: 9}); err == nil {
		t.Error("Outbox with Target 9 succeeded, want an error naming the side")
	}
}

// --- Decisions -----------------------------------------------------------

func testDecisionsPaging(t *testing.T, h *harness) {
	var all []*syncengine.DecisionRecord
	for i := range 5 {
		all = append(all, &syncengine.DecisionRecord{
			At: at(h, time.Duration(i)*time.Second), AppID: fmt.Sprint("a", i), CRMID: fmt.Sprint("c", i),
			Field: "email", AppValue: "x@example.com", CRMValue: "****", Winner: "crm", Resolver: "newest-wins", Reason: fmt.Sprint("reason ", i),
		})
	}
	h.commit(t, p1, &syncengine.Changeset{Decisions: all[:2]})
	h.commit(t, p2, &syncengine.Changeset{Decisions: []*syncengine.DecisionRecord{{Field: "other pairing"}}})
	h.commit(t, p1, &syncengine.Changeset{Decisions: all[2:]})

	got := h.decisions(t, p1, 0, 0)
	diff(t, "all decisions", all, got)
	for i := 1; i < len(got); i++ {
		if got[i].ID <= got[i-1].ID {
			t.Fatalf("decision IDs %v not increasing", ids(got, func(d *syncengine.DecisionRecord) int64 { return d.ID }))
		}
	}
	diff(t, "first page", all[:2], h.decisions(t, p1, 0, 2))
	diff(t, "page after the second", all[2:4], h.decisions(t, p1, all[1].ID, 2))
	diff(t, "negative limit", all[3:], h.decisions(t, p1, all[2].ID, -1))
	if got := h.decisions(t, p1, all[4].ID, 10); len(got) != 0 {
		t.Errorf("decisions after the last = %d, want none", len(got))
	}
	if got := h.decisions(t, p2, 0, 0); len(got) != 1 || got[0].Field != "other pairing" {
		t.Errorf("decisions of %q = %+v, want only its own", p2, got)
	}
}

// --- Parked --------------------------------------------------------------

func testParked(t *testing.T, h *harness) {
	in := []*syncengine.ParkedConflict{
		{AppID: "a1", CRMID: "c1", Payload: []byte{0, 1, 2, 0xff}, Reason: "both changed email", At: at(h, 0)},
		{AppID: "a2", CRMID: "c2", Reason: "no winner", At: at(h, time.Second)},
		{AppID: "a3", CRMID: "c3", Payload: []byte("{}"), At: at(h, 2*time.Second)},
	}
	h.commit(t, p1, &syncengine.Changeset{Park: in[:1]})
	h.commit(t, p1, &syncengine.Changeset{Park: in[1:]})
	if in[0].ID <= 0 || in[1].ID <= in[0].ID || in[2].ID <= in[1].ID {
		t.Fatalf("parked IDs written back = %d %d %d, want positive and increasing", in[0].ID, in[1].ID, in[2].ID)
	}
	diff(t, "parked, oldest first", in, h.parked(t, p1))
	if got := h.parked(t, p2); len(got) != 0 {
		t.Errorf("parked of %q = %d, want none", p2, len(got))
	}

	h.commit(t, p1, &syncengine.Changeset{Release: []int64{in[1].ID}})
	diff(t, "parked after release", []*syncengine.ParkedConflict{in[0], in[2]}, h.parked(t, p1))

	err := h.s.Commit(t.Context(), p1, &syncengine.Changeset{Release: []int64{in[1].ID}})
	if !errors.Is(err, syncengine.ErrNotFound) {
		t.Errorf("releasing twice: err = %v, want one wrapping syncengine.ErrNotFound", err)
	}
	err = h.s.Commit(t.Context(), p2, &syncengine.Changeset{Release: []int64{in[0].ID}})
	if !errors.Is(err, syncengine.ErrNotFound) {
		t.Errorf("releasing another pairing's conflict: err = %v, want one wrapping syncengine.ErrNotFound", err)
	}
}

func testParkedIDsNeverReused(t *testing.T, h *harness) {
	a := &syncengine.ParkedConflict{AppID: "a"}
	h.commit(t, p1, &syncengine.Changeset{Park: []*syncengine.ParkedConflict{a}})
	h.commit(t, p1, &syncengine.Changeset{Release: []int64{a.ID}})
	b := &syncengine.ParkedConflict{AppID: "b"}
	h.commit(t, p1, &syncengine.Changeset{Park: []*syncengine.ParkedConflict{b}})
	if b.ID <= a.ID {
		t.Errorf("conflict parked after releasing the newest got ID %d, want above %d", b.ID, a.ID)
	}
}

func testParkedCopies(t *testing.T, h *harness) {
	in := &syncengine.ParkedConflict{AppID: "a", Payload: []byte("abc")}
	h.commit(t, p1, &syncengine.Changeset{Park: []*syncengine.ParkedConflict{in}})
	in.Payload[0] = 'X'
	got := h.parked(t, p1)
	if string(got[0].Payload) != "abc" {
		t.Fatalf("payload after the caller changed it = %q, want %q", got[0].Payload, "abc")
	}
	got[0].Payload[0] = 'Y'
	if again := h.parked(t, p1); string(again[0].Payload) != "abc" {
		t.Errorf("payload after a reader changed it = %q, want %q", again[0].Payload, "abc")
	}
}

// --- Commit --------------------------------------------------------------

func testCommitEmpty(t *testing.T, h *harness) {
	h.commit(t, p1, &syncengine.Changeset{Cursors: map[syncengine.Side]string{syncengine.App: "c"}})
	before := h.snapshot(t, p1)
	for _, c := range []*syncengine.Changeset{nil, {}, {Cursors: map[syncengine.Side]string{}, Links: []*syncengine.Link{}, Settle: []int64{}}} {
		if !c.Empty() {
			t.Fatalf("test changeset %+v is not Empty", c)
		}
		h.commit(t, p1, c)
	}
	diff(t, "state after empty commits", before, h.snapshot(t, p1))
}

// state is everything a pairing holds, for before/after comparisons.
type state struct {
	AppCursor, CRMCursor string
	LinksByApp           map[string]*syncengine.Link
	LinksByCRM           map[string]*syncengine.Link
	Pending, Dead        []*syncengine.OutboxEntry
	Decisions            []*syncengine.DecisionRecord
	Parked               []*syncengine.ParkedConflict
}

// snapshotIDs are the record ids the atomicity tests use.
var snapshotIDs = []string{"a1", "a2", "a3", "a9", "c1", "c2", "c3", "c9"}

func (h *harness) snapshot(t *testing.T, pairing string) state {
	t.Helper()
	return state{
		AppCursor:  h.cursor(t, pairing, syncengine.App),
		CRMCursor:  h.cursor(t, pairing, syncengine.CRM),
		LinksByApp: h.links(t, pairing, syncengine.App, snapshotIDs...),
		LinksByCRM: h.links(t, pairing, syncengine.CRM, snapshotIDs...),
		Pending:    h.outbox(t, pairing, syncengine.OutboxQuery{}),
		Dead:       h.outbox(t, pairing, syncengine.OutboxQuery{Dead: true}),
		Decisions:  h.decisions(t, pairing, 0, 0),
		Parked:     h.parked(t, pairing),
	}
}

// seed gives pairing p1 one of everything and returns the ids of its
// outbox entry, its dead letter and its parked conflict, and the id of an
// outbox entry of p2.
func (h *harness) seed(t *testing.T) (entryID, deadID, parkedID, otherID int64) {
	t.Helper()
	e, d := entry(syncengine.CRM, at(h, 0)), entry(syncengine.App, at(h, 0))
	d.Dead = true
	p := &syncengine.ParkedConflict{AppID: "a3", CRMID: "c3", Payload: []byte("x")}
	h.commit(t, p1, &syncengine.Changeset{
		Cursors:   map[syncengine.Side]string{syncengine.App: "app-0", syncengine.CRM: "crm-0"},
		Links:     []*syncengine.Link{link("a1", "c1"), link("a2", "c2")},
		Enqueue:   []*syncengine.OutboxEntry{e, d},
		Decisions: []*syncengine.DecisionRecord{{AppID: "a1", Field: "email", Winner: "app"}},
		Park:      []*syncengine.ParkedConflict{p},
	})
	o := entry(syncengine.CRM, at(h, 0))
	h.commit(t, p2, &syncengine.Changeset{Enqueue: []*syncengine.OutboxEntry{o}})
	return e.ID, d.ID, p.ID, o.ID
}

func testCommitAtomic(t *testing.T, h *harness) {
	entryID, deadID, parkedID, otherID := h.seed(t)
	const missing = 1 << 50
	cases := []struct {
		name string
		edit func(c *syncengine.Changeset)
	}{
		{"update of a missing id", func(c *syncengine.Changeset) {
			c.Update = []*syncengine.OutboxEntry{{ID: deadID, Attempts: 1}, {ID: missing, Attempts: 1}}
		}},
		{"settle of a missing id", func(c *syncengine.Changeset) { c.Settle = []int64{entryID, missing} }},
		{"settle of the same id twice", func(c *syncengine.Changeset) { c.Settle = []int64{entryID, entryID} }},
		{"update of an id settled in the same changeset", func(c *syncengine.Changeset) {
			c.Settle = []int64{entryID}
			c.Update = []*syncengine.OutboxEntry{{ID: entryID, Attempts: 1}}
		}},
		{"settle of another pairing's id", func(c *syncengine.Changeset) { c.Settle = []int64{otherID} }},
		{"update of another pairing's id", func(c *syncengine.Changeset) {
			c.Update = []*syncengine.OutboxEntry{{ID: otherID, Attempts: 1}}
		}},
		{"release of a missing id", func(c *syncengine.Changeset) { c.Release = []int64{parkedID, missing} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := h.snapshot(t, p1)
			otherBefore := h.snapshot(t, p2)
			enq := entry(syncengine.CRM, at(h, 0))
			dec := &syncengine.DecisionRecord{AppID: "a9", Field: "name", Winner: "crm"}
			park := &syncengine.ParkedConflict{AppID: "a9", CRMID: "c9"}
			c := &syncengine.Changeset{
				Cursors:     map[syncengine.Side]string{syncengine.App: "app-1", syncengine.CRM: "crm-1"},
				Links:       []*syncengine.Link{link("a1", "c9"), link("a3", "c3")},
				RemoveLinks: []*syncengine.Link{{AppID: "a2"}},
				Enqueue:     []*syncengine.OutboxEntry{enq},
				Decisions:   []*syncengine.DecisionRecord{dec},
				Park:        []*syncengine.ParkedConflict{park},
			}
			tc.edit(c)
			err := h.s.Commit(t.Context(), p1, c)
			if !errors.Is(err, syncengine.ErrNotFound) {
				t.Fatalf("Commit: err = %v, want one wrapping syncengine.ErrNotFound", err)
			}
			diff(t, "state of "+p1+" after a failed commit", before, h.snapshot(t, p1))
			diff(t, "state of "+p2+" after a failed commit", otherBefore, h.snapshot(t, p2))
			if enq.ID != 0 || dec.ID != 0 || park.ID != 0 {
				t.Errorf("failed commit wrote IDs back (entry %d, decision %d, parked %d), want all 0", enq.ID, dec.ID, park.ID)
			}
		})
	}
}

func testCommitInvalid(t *testing.T, h *harness) {
	h.seed(t)
	cases := []struct {
		name string
		c    syncengine.Changeset
	}{
		{"link without CRM id", syncengine.Changeset{Links: []*syncengine.Link{link("a1", "c1"), {AppID: "a2"}}}},
		{"link without app id", syncengine.Changeset{Links: []*syncengine.Link{{CRMID: "c2"}}}},
		{"nil link", syncengine.Changeset{Links: []*syncengine.Link{nil}}},
		{"removal without ids", syncengine.Changeset{RemoveLinks: []*syncengine.Link{{}}}},
		{"entry with no target", syncengine.Changeset{Enqueue: []*syncengine.OutboxEntry{{Op: syncengine.Upsert}}}},
		{"entry with an unknown op", syncengine.Changeset{Enqueue: []*syncengine.OutboxEntry{{Target: syncengine.CRM, Op: 9}}}},
		{"nil entry", syncengine.Changeset{Enqueue: []*syncengine.OutboxEntry{nil}}},
		{"nil update", syncengine.Changeset{Update: []*syncengine.OutboxEntry{nil}}},
		{"nil decision", syncengine.Changeset{Decisions: []*syncengine.DecisionRecord{nil}}},
		{"nil parked", syncengine.Changeset{Park: []*syncengine.ParkedConflict{nil}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := h.snapshot(t, p1)
			c := tc.c
			c.Cursors = map[syncengine.Side]string{syncengine.App: "should-not-stick"}
			c.Decisions = append(c.Decisions, &syncengine.DecisionRecord{Field: "should-not-stick"})
			err := h.s.Commit(t.Context(), p1, &c)
			if err == nil {
				t.Fatal("Commit succeeded, want an error naming the bad part")
			}
			if errors.Is(err, syncengine.ErrNotFound) {
				t.Errorf("Commit: err = %v, want an input error, not ErrNotFound", err)
			}
			diff(t, "state after a rejected commit", before, h.snapshot(t, p1))
		})
	}
}

func testPairingsIsolated(t *testing.T, h *harness) {
	for i, p := range []string{p1, p2} {
		n := fmt.Sprint(i)
		h.commit(t, p, &syncengine.Changeset{
			Cursors:   map[syncengine.Side]string{syncengine.App: "app-" + n, syncengine.CRM: "crm-" + n},
			Links:     []*syncengine.Link{{AppID: "a1", CRMID: "c1", AppVersion: n}},
			Enqueue:   []*syncengine.OutboxEntry{{Target: syncengine.CRM, Op: syncengine.Upsert, Key: n}},
			Decisions: []*syncengine.DecisionRecord{{Field: n}},
			Park:      []*syncengine.ParkedConflict{{Reason: n}},
		})
	}
	if !h.acquire(t, p1, "owner-1", time.Minute) || !h.acquire(t, p2, "owner-2", time.Minute) {
		t.Fatal("leases of two pairings are not independent")
	}
	for i, p := range []string{p1, p2} {
		n := fmt.Sprint(i)
		s := h.snapshot(t, p)
		if s.AppCursor != "app-"+n || s.CRMCursor != "crm-"+n {
			t.Errorf("%q cursors = %q, %q", p, s.AppCursor, s.CRMCursor)
		}
		if l := s.LinksByApp["a1"]; l == nil || l.AppVersion != n || len(s.LinksByApp) != 1 {
			t.Errorf("%q links = %+v, want only its own a1", p, s.LinksByApp)
		}
		if len(s.Pending) != 1 || s.Pending[0].Key != n {
			t.Errorf("%q outbox = %+v, want only its own entry", p, s.Pending)
		}
		if len(s.Decisions) != 1 || s.Decisions[0].Field != n {
			t.Errorf("%q decisions = %+v, want only its own", p, s.Decisions)
		}
		if len(s.Parked) != 1 || s.Parked[0].Reason != n {
			t.Errorf("%q parked = %+v, want only its own", p, s.Parked)
		}
	}
	// Relinking in one pairing leaves the other's link alone.
	h.commit(t, p1, &syncengine.Changeset{Links: []*syncengine.Link{link("a1", "c2")}})
	if l := h.links(t, p2, syncengine.CRM, "c1")["c1"]; l == nil || l.AppID != "a1" {
		t.Errorf("relink in %q removed the link of %q", p1, p2)
	}
}

func testCommitConcurrent(t *testing.T, h *harness) {
	const workers, commits, perCommit = 8, 10, 3
	var (
		mu   sync.Mutex
		seen = map[int64]bool{}
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	for w := range workers {
		wg.Go(func() {
			for c := range commits {
				batch := make([]*syncengine.OutboxEntry, perCommit)
				for i := range batch {
					batch[i] = &syncengine.OutboxEntry{Target: syncengine.CRM, Op: syncengine.Upsert, Key: fmt.Sprintf("w%d-c%d-%d", w, c, i)}
				}
				cs := &syncengine.Changeset{
					Enqueue: batch,
					Links:   []*syncengine.Link{link(fmt.Sprintf("a-%d-%d", w, c), fmt.Sprintf("c-%d-%d", w, c))},
					Cursors: map[syncengine.Side]string{syncengine.App: fmt.Sprintf("w%d-c%d", w, c)},
				}
				if err := h.s.Commit(t.Context(), p1, cs); err != nil {
					errs <- fmt.Errorf("worker %d commit %d: %w", w, c, err)
					return
				}
				mu.Lock()
				for i, e := range batch {
					if seen[e.ID] {
						mu.Unlock()
						errs <- fmt.Errorf("worker %d commit %d: ID %d given twice", w, c, e.ID)
						return
					}
					if i > 0 && e.ID <= batch[i-1].ID {
						mu.Unlock()
						errs <- fmt.Errorf("worker %d commit %d: IDs %v not increasing", w, c, entryIDs(batch))
						return
					}
					seen[e.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := h.outbox(t, p1, syncengine.OutboxQuery{})
	if len(got) != workers*commits*perCommit {
		t.Fatalf("outbox holds %d entries, want %d: an enqueue was lost", len(got), workers*commits*perCommit)
	}
	for i, e := range got {
		if !seen[e.ID] || (i > 0 && e.ID <= got[i-1].ID) {
			t.Fatalf("outbox entry %d has ID %d, not written back or out of order", i, e.ID)
		}
	}
	var appIDs []string
	for w := range workers {
		for c := range commits {
			appIDs = append(appIDs, fmt.Sprintf("a-%d-%d", w, c))
		}
	}
	if n := len(h.links(t, p1, syncengine.App, appIDs...)); n != workers*commits {
		t.Errorf("links after concurrent commits = %d, want %d", n, workers*commits)
	}
}

// --- Times ---------------------------------------------------------------

func testTimes(t *testing.T, h *harness) {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	for _, tc := range []struct {
		name string
		want time.Time
	}{
		{"nanoseconds in another zone", time.Date(2025, 6, 7, 8, 9, 10, 123456789, zone)},
		{"end of the century", time.Date(2099, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"one microsecond", time.Date(1999, 1, 1, 0, 0, 0, 1000, time.UTC)},
		{"with a monotonic reading", time.Now()},
		{"zero", time.Time{}},
	} {
		want := tc.want
		t.Run(tc.name, func(t *testing.T) {
			l := &syncengine.Link{AppID: "a", CRMID: "c", SyncedAt: want}
			e := &syncengine.OutboxEntry{Target: syncengine.CRM, Op: syncengine.Update, NextAttempt: want, CreatedAt: want, UpdatedAt: want}
			d := &syncengine.DecisionRecord{At: want}
			p := &syncengine.ParkedConflict{At: want}
			h.commit(t, p1, &syncengine.Changeset{Links: []*syncengine.Link{l}, Enqueue: []*syncengine.OutboxEntry{e}, Decisions: []*syncengine.DecisionRecord{d}, Park: []*syncengine.ParkedConflict{p}})
			defer h.commit(t, p1, &syncengine.Changeset{Settle: []int64{e.ID}, Release: []int64{p.ID}})

			ge := h.outbox(t, p1, syncengine.OutboxQuery{IDs: []int64{e.ID}})
			gd := h.decisions(t, p1, d.ID-1, 1)
			if len(ge) != 1 || len(gd) != 1 {
				t.Fatalf("stored entry or decision not found")
			}
			var gp *syncengine.ParkedConflict
			for _, x := range h.parked(t, p1) {
				if x.ID == p.ID {
					gp = x
				}
			}
			if gp == nil {
				t.Fatal("parked conflict not found")
			}
			for name, got := range map[string]time.Time{
				"Link.SyncedAt":           h.links(t, p1, syncengine.App, "a")["a"].SyncedAt,
				"OutboxEntry.NextAttempt": ge[0].NextAttempt,
				"OutboxEntry.CreatedAt":   ge[0].CreatedAt,
				"OutboxEntry.UpdatedAt":   ge[0].UpdatedAt,
				"DecisionRecord.At":       gd[0].At,
				"ParkedConflict.At":       gp.At,
			} {
				if d := got.Sub(want); d <= -time.Microsecond || d >= time.Microsecond {
					t.Errorf("%s = %v, want %v to the microsecond", name, got, want)
				}
				if got.Location() != time.UTC {
					t.Errorf("%s location = %v, want UTC", name, got.Location())
				}
				if want.IsZero() != got.IsZero() {
					t.Errorf("%s IsZero = %v, want %v", name, got.IsZero(), want.IsZero())
				}
			}
		})
	}
}

// --- Context -------------------------------------------------------------

func testContextCancelled(t *testing.T, h *harness) {
	h.seed(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]func() error{
		"Links": func() error { _, err := h.s.Links(ctx, p1, syncengine.App, []string{"a1"}); return err },
		"Cursor": func() error {
			_, err := h.s.Cursor(ctx, p1, syncengine.App)
			return err
		},
		"Outbox":    func() error { _, err := h.s.Outbox(ctx, p1, syncengine.OutboxQuery{}); return err },
		"Decisions": func() error { _, err := h.s.Decisions(ctx, p1, 0, 0); return err },
		"Parked":    func() error { _, err := h.s.Parked(ctx, p1); return err },
		"Commit": func() error {
			return h.s.Commit(ctx, p1, &syncengine.Changeset{Cursors: map[syncengine.Side]string{syncengine.App: "cancelled"}})
		},
		"Commit empty": func() error { return h.s.Commit(ctx, p1, &syncengine.Changeset{}) },
		"AcquireLease": func() error { _, err := h.s.AcquireLease(ctx, p1, "o", time.Minute); return err },
		"ReleaseLease": func() error { return h.s.ReleaseLease(ctx, p1, "o") },
	}
	for _, name := range keys(calls) {
		if err := calls[name](); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want one wrapping context.Canceled", name, err)
		}
	}
	if got := h.cursor(t, p1, syncengine.App); got != "app-0" {
		t.Errorf("cursor after a cancelled commit = %q, want %q", got, "app-0")
	}
	if !h.acquire(t, p1, "other", time.Minute) {
		t.Error("a cancelled AcquireLease took the lease")
	}
}

// --- Leases --------------------------------------------------------------

func testLeases(t *testing.T, h *harness) {
	const ttl = 30 * time.Second
	if !h.acquire(t, p1, "A", ttl) {
		t.Fatal("A could not take a free lease")
	}
	if h.acquire(t, p1, "B", ttl) {
		t.Fatal("B took A's unexpired lease")
	}
	h.clock.Advance(20 * time.Second)
	if !h.acquire(t, p1, "A", ttl) {
		t.Fatal("A could not renew its own lease")
	}
	h.clock.Advance(20 * time.Second) // 40s: past the first expiry, before the renewed one
	if h.acquire(t, p1, "B", ttl) {
		t.Fatal("B took A's lease after A renewed it")
	}
	if err := h.s.ReleaseLease(t.Context(), p1, "B"); err != nil {
		t.Fatalf("ReleaseLease by a non-holder: %v", err)
	}
	if h.acquire(t, p1, "C", ttl) {
		t.Fatal("a release by B, who does not hold the lease, freed A's lease")
	}
	if err := h.s.ReleaseLease(t.Context(), p1, "A"); err != nil {
		t.Fatalf("ReleaseLease: %v", err)
	}
	if !h.acquire(t, p1, "B", ttl) {
		t.Fatal("B could not take the lease A released")
	}
	if h.acquire(t, p1, "A", ttl) {
		t.Fatal("A took B's lease back")
	}
	if err := h.s.ReleaseLease(t.Context(), p2, "B"); err != nil {
		t.Fatalf("ReleaseLease of a pairing never leased: %v", err)
	}
}

func testLeaseExpiry(t *testing.T, h *harness) {
	const ttl = 10 * time.Second
	if !h.acquire(t, p1, "A", ttl) {
		t.Fatal("A could not take a free lease")
	}
	h.clock.Advance(ttl - time.Millisecond)
	if h.acquire(t, p1, "B", ttl) {
		t.Fatal("B took A's lease a millisecond before it expired")
	}
	h.clock.Advance(time.Millisecond)
	if !h.acquire(t, p1, "B", ttl) {
		t.Fatal("B could not take A's lease at its expiry")
	}
	if h.acquire(t, p1, "A", ttl) {
		t.Fatal("A took the lease back from B")
	}
	// A, whose lease lapsed, cannot release B's.
	if err := h.s.ReleaseLease(t.Context(), p1, "A"); err != nil {
		t.Fatal(err)
	}
	if h.acquire(t, p1, "C", ttl) {
		t.Fatal("A's release freed B's lease")
	}
	h.clock.Advance(time.Hour)
	if !h.acquire(t, p1, "A", time.Millisecond) {
		t.Fatal("A could not take a long-expired lease")
	}
}

func testLeasePerPairing(t *testing.T, h *harness) {
	if !h.acquire(t, p1, "A", time.Minute) {
		t.Fatal("A could not take p1's lease")
	}
	if !h.acquire(t, p2, "B", time.Minute) {
		t.Fatal("B could not take p2's lease while A holds p1's")
	}
	if !h.acquire(t, p2+"x", "A", time.Minute) {
		t.Fatal("A could not hold two pairings' leases")
	}
	if err := h.s.ReleaseLease(t.Context(), p2, "A"); err != nil {
		t.Fatal(err)
	}
	if h.acquire(t, p2, "C", time.Minute) {
		t.Fatal("A's release of p2 freed B's lease")
	}
}

func testLeaseConcurrent(t *testing.T, h *harness) {
	const owners = 8
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		winner []string
		errs   []error
	)
	for i := range owners {
		wg.Go(func() {
			owner := fmt.Sprint("owner-", i)
			ok, err := h.s.AcquireLease(t.Context(), p1, owner, time.Minute)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				winner = append(winner, owner)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("AcquireLease errors: %v", errs)
	}
	if len(winner) != 1 {
		t.Fatalf("owners holding the lease after a race: %v, want exactly one", winner)
	}
}

func testLeaseInvalid(t *testing.T, h *harness) {
	for _, c := range []struct {
		owner string
		ttl   time.Duration
	}{{"", time.Minute}, {"A", 0}, {"A", -time.Second}} {
		if ok, err := h.s.AcquireLease(t.Context(), p1, c.owner, c.ttl); err == nil || ok {
			t.Errorf("AcquireLease(owner %q, ttl %v) = %v, %v; want false and an error", c.owner, c.ttl, ok, err)
		}
	}
	if err := h.s.ReleaseLease(t.Context(), p1, ""); err == nil {
		t.Error("ReleaseLease with an empty owner succeeded, want an error")
	}
	if !h.acquire(t, p1, "A", time.Minute) {
		t.Error("a rejected request left the lease taken")
	}
}
