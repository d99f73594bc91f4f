package hubspot

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// changeCursor is where a change feed stands, sent to the caller as
// opaque text.
//
// The live phase searches on the object's last-modified property in
// ascending order, restarting every page from the last time read (so
// search's 10,000-result cap never applies). A page that ends inside a
// millisecond shared by several records stops before that millisecond, and
// the next page reads the whole millisecond by id (Tie), so no record is
// lost to an order HubSpot does not define. The delete phase lists
// archived records, which search cannot see, and reports those archived
// since the last scan.
type changeCursor struct {
	V     int    `json:"v"`
	Phase string `json:"p,omitempty"` // "" live, "del" deletes
	W     int64  `json:"w,omitempty"` // last modified time read, Unix ms; 0 before the first
	Start bool   `json:"st,omitempty"`
	Tie   bool   `json:"t,omitempty"` // read the records modified at W by id
	L     string `json:"l,omitempty"` // tie: the last id read at W
	D     int64  `json:"d,omitempty"` // deletes archived after this time were not yet reported
	A     string `json:"a,omitempty"` // deletes: the archived list's after
	E     string `json:"e,omitempty"` // deletes: the last id examined on that list page
	DM    int64  `json:"dm,omitempty"`
	DS    int64  `json:"ds,omitempty"` // deletes: when this scan began
}

// Changes returns one page of the object's change feed: records created or
// modified (found by search on lastmodifieddate for contacts and
// hs_lastmodifieddate for other objects), then records archived (from the
// archived list, as deletes). With an index lag (see WithIndexLag) it reads
// only changes at least that old. Pass each page's Cursor to the next call.
func (d *Driver) Changes(ctx context.Context, req crm.ChangesRequest) (*crm.ChangePage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	object := req.Object
	var cur changeCursor
	if req.Cursor != "" {
		if err := decodeCursor("changes", object, req.Cursor, &cur); err != nil {
			return nil, err
		}
	}
	s, err := d.schema(ctx, object)
	if err != nil {
		return nil, err
	}
	size := req.PageSize
	if size <= 0 {
		size = maxListPage
	}
	fields := d.fields(object, req.Fields)
	if err := checkFields(s, "changes", fields); err != nil {
		return nil, err
	}
	now := d.now().UnixMilli()
	hi := int64(0)
	if d.lag > 0 {
		hi = now - d.lag.Milliseconds()
	}
	page := &crm.ChangePage{}
	if cur.Phase == "" {
		if err := d.liveChanges(ctx, s, &cur, page, size, hi, fields); err != nil {
			return nil, err
		}
	} else {
		if err := d.deleteChanges(ctx, s, &cur, page, size, now, hi); err != nil {
			return nil, err
		}
	}
	page.Cursor = encodeChangeCursor(&cur)
	return page, nil
}

func encodeChangeCursor(c *changeCursor) string {
	c.V = 1
	return encodeCursor(c)
}

// liveChanges reads one page of created and modified records.
func (d *Driver) liveChanges(ctx context.Context, s *crm.Schema, cur *changeCursor, page *crm.ChangePage, size int, hi int64, fields []string) error {
	mod := s.ModifiedField
	if mod == "" {
		mod = modifiedProperty(s.Object)
	}
	ms := func(v int64) *string { return ptr(strconv.FormatInt(v, 10)) }
	for range 3 {
		body := searchBody{Limit: min(size, maxSearchPage), Properties: fields}
		if fields != nil && !slices.Contains(fields, mod) {
			body.Properties = append(slices.Clone(fields), mod)
		}
		var g filterGroup
		if cur.Tie {
			g.Filters = append(g.Filters, filter{PropertyName: mod, Operator: "EQ", Value: ms(cur.W)})
			if cur.L != "" {
				g.Filters = append(g.Filters, filter{PropertyName: "hs_object_id", Operator: "GT", Value: ptr(cur.L)})
			}
			body.Sorts = []sortRule{{"hs_object_id", "ASCENDING"}}
		} else {
			if cur.Start {
				g.Filters = append(g.Filters, filter{PropertyName: mod, Operator: "GT", Value: ms(cur.W)})
			}
			if hi > 0 {
				g.Filters = append(g.Filters, filter{PropertyName: mod, Operator: "LTE", Value: ms(hi)})
			}
			body.Sorts = []sortRule{{mod, "ASCENDING"}}
		}
		if len(g.Filters) > 0 {
			body.FilterGroups = []filterGroup{g}
		}
		var res searchPage
		if _, err := d.call(ctx, "changes", s.Object, http.MethodPost, d.objectsPath(s.Object, "search"), nil, &body, &res); err != nil {
			return err
		}
		full := res.Paging.Next.After != "" || len(res.Results) >= body.Limit
		if cur.Tie {
			for i := range res.Results {
				page.Changes = append(page.Changes, change(s, &res.Results[i], fields))
				cur.L = res.Results[i].ID
			}
			if full {
				page.More = true
				return nil
			}
			cur.Tie, cur.L = false, ""
			if len(page.Changes) > 0 {
				page.More = true
				return nil
			}
			continue // the millisecond is done: go on with the next ones
		}
		times := make([]int64, len(res.Results))
		for i := range res.Results {
			times[i] = modifiedMillis(&res.Results[i], mod)
		}
		if full && len(res.Results) > 0 {
			// The page may end inside a millisecond: keep what comes before
			// it, and read that millisecond by id next.
			last := times[len(times)-1]
			for i := range res.Results {
				if times[i] < last {
					page.Changes = append(page.Changes, change(s, &res.Results[i], fields))
				}
			}
			cur.W, cur.Start, cur.Tie, cur.L = last, true, true, ""
			page.More = true
			if len(page.Changes) > 0 {
				return nil
			}
			continue
		}
		for i := range res.Results {
			page.Changes = append(page.Changes, change(s, &res.Results[i], fields))
			cur.W, cur.Start = times[i], true
		}
		// Every change so far has been read: the archived records next.
		cur.Phase, cur.A, cur.E, cur.DM, cur.DS = "del", "", "", 0, 0
		page.More = true
		return nil
	}
	page.More = true
	return nil
}

// modifiedMillis is a record's last-modified time in Unix milliseconds,
// from the property or, failing that, updatedAt.
func modifiedMillis(w *wireRecord, mod string) int64 {
	if v, ok := w.Properties[mod].(string); ok {
		if t, err := crm.ParseTime(v); err == nil {
			return t.UnixMilli()
		}
	}
	if t, err := crm.ParseTime(w.UpdatedAt); err == nil {
		return t.UnixMilli()
	}
	return 0
}

// change makes a feed entry of a live record: created when it was never
// modified after its creation.
func change(s *crm.Schema, w *wireRecord, fields []string) crm.Change {
	kind := crm.ChangeUpdated
	if w.CreatedAt != "" && w.CreatedAt == w.UpdatedAt {
		kind = crm.ChangeCreated
	}
	return crm.Change{Kind: kind, Record: toRecord(s.Object, s, w, fields)}
}

// deleteChanges reads the archived list and reports the records archived
// since the last scan. HubSpot lists archived records by id, not by archive
// time, so every scan reads the whole list, 100 records a request; a page
// of changes that fills up mid-list resumes after the last id examined.
func (d *Driver) deleteChanges(ctx context.Context, s *crm.Schema, cur *changeCursor, page *crm.ChangePage, size int, now, hi int64) error {
	if cur.A == "" && cur.E == "" {
		cur.DS = now
	}
	upper := int64(0)
	if hi > 0 {
		upper = cur.DS - d.lag.Milliseconds()
	}
	for range 5 { // requests per call, so a page with few deletes comes back in time
		v := url.Values{"archived": {"true"}, "limit": {strconv.Itoa(maxListPage)}, "properties": {"hs_object_id"}}
		if cur.A != "" {
			v.Set("after", cur.A)
		}
		var body searchPage
		if _, err := d.call(ctx, "changes", s.Object, http.MethodGet, d.objectsPath(s.Object), v, nil, &body); err != nil {
			return err
		}
		for i := range body.Results {
			w := &body.Results[i]
			if cur.E != "" && compareIDs(w.ID, cur.E) <= 0 {
				continue // examined by an earlier page of changes
			}
			if len(page.Changes) == size {
				page.More = true
				return nil
			}
			cur.E = w.ID
			at := w.ArchivedAt
			if at == "" {
				at = w.UpdatedAt
			}
			t, err := crm.ParseTime(at)
			if err != nil {
				continue
			}
			ms := t.UnixMilli()
			if ms <= cur.D || (upper > 0 && ms > upper) {
				continue
			}
			cur.DM = max(cur.DM, ms)
			page.Changes = append(page.Changes, crm.Change{Kind: crm.ChangeDeleted,
				Record: &crm.Record{Object: s.Object, ID: w.ID, Fields: crm.Fields{}, ModifiedAt: t, Version: w.UpdatedAt, Deleted: true}})
		}
		next := body.Paging.Next.After
		if next == "" {
			break
		}
		cur.A, cur.E = next, ""
		if len(page.Changes) > 0 {
			page.More = true
			return nil
		}
	}
	if cur.A != "" && cur.E == "" && len(page.Changes) == 0 {
		page.More = true // five empty list pages: carry on in the next call
		return nil
	}
	// The scan is over. Records archived while it ran may sit behind it in
	// id order, so the next scan reports everything archived after the
	// scan began (or, with a lag, after the lag's bound).
	switch {
	case upper > 0:
		cur.D = max(cur.D, upper)
	default:
		cur.D = max(cur.D, min(cur.DM, cur.DS-1))
	}
	cur.Phase, cur.A, cur.E, cur.DM, cur.DS = "", "", "", 0, 0
	page.More = false
	return nil
}

// compareIDs orders HubSpot's numeric ids: shorter first, then by text.
func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}
