package crmtest

import (
	"testing"

	"github.com/crmkit/crmkit/crm"
)

// feed is what a change feed said about each record, by id, in order.
type feed map[string][]crm.Change

// readChanges reads an object's change feed from cursor to its end and
// returns what it said and the cursor to resume from.
func (h *harness) readChanges(t *testing.T, c *crm.Client, cursor string, opts ...crm.CallOption) (feed, string) {
	t.Helper()
	f := feed{}
	pages := 0
	for page, err := range c.Changes(t.Context(), h.schema.Object, cursor, opts...) {
		if err != nil {
			t.Fatalf("Changes after cursor %q (page %d): %v", cursor, pages+1, err)
		}
		f.add(t, page)
		cursor = page.Cursor
		if pages++; pages > 100000 {
			t.Fatal("the change feed does not end: More stays true")
		}
	}
	return f, cursor
}

func (f feed) add(t *testing.T, page *crm.ChangePage) {
	t.Helper()
	for i, c := range page.Changes {
		if c.Record == nil || c.Record.ID == "" {
			t.Errorf("change %d of a page has no record or no record id: %+v", i, c)
			continue
		}
		if c.Kind < crm.ChangeCreated || c.Kind > crm.ChangeDeleted {
			t.Errorf("change for %s has kind %d, which is not a crm.ChangeKind", c.Record.ID, c.Kind)
		}
		f[c.Record.ID] = append(f[c.Record.ID], c)
	}
}

func testChanges(t *testing.T, h *harness) {
	updated := h.create(t, h.record("Changes updated", nil))
	_, cursor := h.readChanges(t, h.client, "")

	h.update(t, updated, crm.Fields{h.name.Name: "Changes updated 2"})
	created := h.create(t, h.record("Changes created", nil))
	deleted := h.create(t, h.record("Changes deleted", nil))
	if err := h.client.Delete(t.Context(), h.schema.Object, deleted); err != nil {
		t.Fatalf("Delete: %v", err)
	}

	check := func(t *testing.T, how string, f feed) {
		t.Helper()
		for _, id := range []string{updated, created} {
			cs := f[id]
			if len(cs) == 0 {
				t.Errorf("%s: the feed has no change for %s, which was written after the cursor", how, id)
			}
			for _, c := range cs {
				if c.Kind != crm.ChangeCreated && c.Kind != crm.ChangeUpdated || c.Record.Deleted {
					t.Errorf("%s: change for live record %s has kind %s and Deleted=%v, want created or updated and not deleted", how, id, c.Kind, c.Record.Deleted)
				}
			}
		}
		if !h.info.Supports(crm.FeatureChangeDeletes) {
			return
		}
		found := false
		for _, c := range f[deleted] {
			if c.Kind == crm.ChangeDeleted {
				found = true
				if !c.Record.Deleted {
					t.Errorf("%s: the delete of %s comes with Record.Deleted=false, want true", how, deleted)
				}
			}
		}
		if !found {
			t.Errorf("%s: the feed has no deleted change for %s (it has %d other changes for it)", how, deleted, len(f[deleted]))
		}
	}

	// From the stored cursor, with a new Client, as after a restart.
	restarted, err := crm.NewClient(h.drv)
	if err != nil {
		t.Fatal(err)
	}
	f, end := h.readChanges(t, restarted, cursor)
	check(t, "reading from the cursor", f)
	if end == "" {
		t.Error("the feed ended with an empty cursor")
	}

	t.Run("ResumeMidFeed", func(t *testing.T) {
		// One change per page: stop after the first page, as a crash would,
		// and resume from that page's cursor with yet another Client.
		f := feed{}
		var mid string
		for page, err := range restarted.Changes(t.Context(), h.schema.Object, cursor, crm.WithPageSize(1)) {
			if err != nil {
				t.Fatal(err)
			}
			f.add(t, page)
			mid = page.Cursor
			break
		}
		if mid == "" {
			t.Fatal("the first change page has an empty cursor")
		}
		again, err := crm.NewClient(h.drv)
		if err != nil {
			t.Fatal(err)
		}
		rest, _ := h.readChanges(t, again, mid, crm.WithPageSize(1))
		for id, cs := range rest {
			f[id] = append(f[id], cs...)
		}
		check(t, "reading one page, then resuming from its cursor", f)
	})

	t.Run("Deletes", func(t *testing.T) {
		h.need(t, crm.FeatureChangeDeletes)
		if len(f[deleted]) == 0 {
			t.Errorf("the feed does not report the delete of %s", deleted)
		}
	})
}
