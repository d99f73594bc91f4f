package dynamics

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// changeCursor is what a change feed's cursor holds.
//
// With change tracking it is the link to read next: an @odata.nextLink
// within a read, or the @odata.deltaLink that starts the next one.
//
// With modifiedon polling it is the watermark: Since is the modifiedon the
// next poll reads from (the latest seen, less the lookback), Pass the next
// link of a poll in progress, and Seen the ETags of the records already
// reported whose modifiedon is at or after Since, so that the overlap the
// lookback re-reads is not reported twice.
type changeCursor struct {
	Table    string            `json:"t"`
	Mode     string            `json:"m"` // "delta" or "poll"
	Link     string            `json:"l,omitempty"`
	PageSize int               `json:"p,omitempty"`
	Since    string            `json:"s,omitempty"`
	Max      string            `json:"x,omitempty"` // poll: the latest modifiedon seen in this pass
	Seen     map[string]string `json:"v,omitempty"` // poll: id -> modifiedon|etag
}

// markTime is the fixed-width form of the polling watermark, so that marks
// sort as the times they hold.
const markTime = "2006-01-02T15:04:05.000Z"

// maxSeen bounds a polling cursor: beyond it, the oldest entries go, and a
// record in the lookback window may be reported twice (never missed).
const maxSeen = 5000

// Changes reads one page of a table's change feed. On a table with change
// tracking it uses Dataverse's delta links: the first read (empty cursor)
// returns every record, with Prefer: odata.track-changes, and ends with a
// delta link; later reads return the records created, updated or deleted
// since, deletes as ChangeDeleted. Dataverse does not tell creates from
// updates, so both are ChangeUpdated. On a table without change tracking it
// fails with KindUnsupported, unless the driver was built
// WithModifiedOnPolling.
func (d *Driver) Changes(ctx context.Context, req crm.ChangesRequest) (*crm.ChangePage, error) {
	if err := begin(ctx, "changes", req.Object); err != nil {
		return nil, err
	}
	t, err := d.table(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	var c changeCursor
	if req.Cursor != "" {
		if err := decodeCursor(req.Cursor, &c); err != nil || (c.Mode != "delta" && c.Mode != "poll") {
			return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "changes", Object: t.logical,
				Message: fmt.Sprintf("not a change feed cursor of the %s driver: pass a ChangePage.Cursor it returned, or an empty cursor to start over", Name)}
		}
		if err := checkCursorTable("changes", t, c.Table); err != nil {
			return nil, err
		}
		// The watermarks go into a $filter: a cursor's must be times, and
		// are rendered again from the times they hold.
		for _, m := range []*string{&c.Since, &c.Max} {
			if *m == "" {
				continue
			}
			tm, err := time.Parse(markTime, *m)
			if err != nil {
				return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "changes", Object: t.logical,
					Message: "the change feed cursor's watermark is not a time: pass a ChangePage.Cursor this driver returned, or an empty cursor to start over"}
			}
			*m = tm.UTC().Format(markTime)
		}
	} else {
		c.Table = t.logical
		c.PageSize = d.pageSize(req.PageSize)
		c.Mode = "delta"
		if !t.tracking {
			if !d.polling {
				return nil, noChangeTracking(t)
			}
			c.Mode = "poll"
		}
	}
	if req.PageSize > 0 {
		c.PageSize = d.pageSize(req.PageSize)
	}
	if c.PageSize == 0 {
		c.PageSize = d.defPage
	}
	if c.Mode == "poll" {
		return d.poll(ctx, t, req, c)
	}
	return d.delta(ctx, t, req, c)
}

func noChangeTracking(t *table) error {
	return &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "changes", Object: t.logical,
		Message: fmt.Sprintf("the table %s does not have change tracking enabled: turn on \"Track changes\" in its advanced properties in Power Apps (EntityMetadata.ChangeTrackingEnabled; it cannot be turned off again), or build the driver WithModifiedOnPolling to poll modifiedon instead (deletes are then not seen)", t.logical)}
}

func (d *Driver) delta(ctx context.Context, t *table, req crm.ChangesRequest, c changeCursor) (*crm.ChangePage, error) {
	prefer := "odata.maxpagesize=" + strconv.Itoa(c.PageSize)
	sel, err := selectList(t, req.Fields)
	if err != nil {
		return nil, err
	}
	want := url.Values{}
	if sel != "" {
		want.Set("$select", sel)
	}
	if c.Link == "" {
		c.Link = d.base + t.set
		if sel != "" {
			c.Link += "?$select=" + escapeValue(sel)
		}
		prefer += ",odata.track-changes"
	} else if err := d.checkLink("changes", t, c.Link, want); err != nil {
		return nil, err
	}
	var col collection
	if _, err := d.getJSON(ctx, "changes", t.logical, c.Link, prefer, &col); err != nil {
		return nil, err
	}
	if col.NextLink == "" && col.DeltaLink == "" {
		// The service ignored odata.track-changes: the table's change
		// tracking is off, whatever the cached definition said.
		d.ForgetMetadata(t.logical)
		return nil, noChangeTracking(t)
	}
	page := &crm.ChangePage{}
	for _, row := range col.Value {
		if ctxURL, _ := row["@odata.context"].(string); strings.HasSuffix(ctxURL, "/$deletedEntity") || row["reason"] == "deleted" {
			id, _ := row["id"].(string)
			page.Changes = append(page.Changes, crm.Change{Kind: crm.ChangeDeleted,
				Record: &crm.Record{Object: t.logical, ID: strings.ToLower(id), Fields: crm.Fields{}, Deleted: true}})
			continue
		}
		r, err := decodeRow(t, row)
		if err != nil {
			return nil, err
		}
		page.Changes = append(page.Changes, crm.Change{Kind: crm.ChangeUpdated, Record: r})
	}
	next := col.DeltaLink
	if col.NextLink != "" {
		next, page.More = col.NextLink, true
	}
	if err := d.checkLink("changes", t, next, want); err != nil {
		return nil, err
	}
	c.Link = next
	page.Cursor = encodeCursor(c)
	return page, nil
}

// poll reads changes by modifiedon, for a table without change tracking.
func (d *Driver) poll(ctx context.Context, t *table, req crm.ChangesRequest, c changeCursor) (*crm.ChangePage, error) {
	if t.col("modifiedon") == nil {
		return nil, &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "changes", Object: t.logical,
			Message: "the table has neither change tracking nor a modifiedon column to poll"}
	}
	fields := req.Fields
	if fields != nil && !slices.Contains(fields, "modifiedon") {
		fields = append(slices.Clone(fields), "modifiedon")
	}
	sel, err := selectList(t, fields)
	if err != nil {
		return nil, err
	}
	opts := []string{}
	if sel != "" {
		opts = append(opts, "$select="+escapeValue(sel))
	}
	if c.Since != "" {
		opts = append(opts, "$filter="+escapeValue("modifiedon ge "+c.Since))
	}
	opts = append(opts, "$orderby="+escapeValue("modifiedon asc,"+t.pk+" asc"))
	want, _ := url.ParseQuery(strings.Join(opts, "&")) // the driver's own rendering: it parses
	if c.Link == "" {
		c.Link = d.base + t.set + "?" + strings.Join(opts, "&")
	} else if err := d.checkLink("changes", t, c.Link, want); err != nil {
		return nil, err
	}
	var col collection
	if _, err := d.getJSON(ctx, "changes", t.logical, c.Link, "odata.maxpagesize="+strconv.Itoa(c.PageSize), &col); err != nil {
		return nil, err
	}
	if c.Seen == nil {
		c.Seen = map[string]string{}
	}
	page := &crm.ChangePage{}
	for _, row := range col.Value {
		r, err := decodeRow(t, row)
		if err != nil {
			return nil, err
		}
		mod := r.ModifiedAt.UTC().Format(markTime)
		if mod > c.Max {
			c.Max = mod
		}
		mark := mod + "|" + r.Version
		if c.Seen[r.ID] == mark {
			continue // read again by the lookback, unchanged
		}
		c.Seen[r.ID] = mark
		page.Changes = append(page.Changes, crm.Change{Kind: crm.ChangeUpdated, Record: r})
	}
	// Forget what the next pass's lookback will not read again: it can
	// never be reported twice.
	if c.Max != "" {
		latest, _ := time.Parse(markTime, c.Max)
		horizon := latest.Add(-d.lookback).UTC().Format(markTime)
		for id, mark := range c.Seen {
			if mod, _, _ := strings.Cut(mark, "|"); mod < horizon {
				delete(c.Seen, id)
			}
		}
	}
	if col.NextLink != "" {
		if err := d.checkLink("changes", t, col.NextLink, want); err != nil {
			return nil, err
		}
		c.Link, page.More = col.NextLink, true
	} else {
		// The pass is over: the next one reads from the latest modifiedon
		// seen, less the lookback.
		c.Link = ""
		if c.Max != "" {
			latest, _ := time.Parse(markTime, c.Max)
			since := latest.Add(-d.lookback).UTC().Format(markTime)
			if since > c.Since {
				c.Since = since
			}
		}
		c.Max = ""
	}
	if len(c.Seen) > maxSeen {
		marks := slices.SortedFunc(maps.Keys(c.Seen), func(a, b string) int { return strings.Compare(c.Seen[a], c.Seen[b]) })
		for _, id := range marks[:len(c.Seen)-maxSeen] {
			delete(c.Seen, id)
		}
	}
	page.Cursor = encodeCursor(c)
	return page, nil
}
