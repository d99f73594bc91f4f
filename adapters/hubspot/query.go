package hubspot

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// HubSpot's limits on a search's filters.
const (
	maxGroups         = 5
	maxFiltersInGroup = 6
	maxFilters        = 18
)

// Get reads one record by its id (hs_object_id). A missing or archived
// record is KindNotFound.
func (d *Driver) Get(ctx context.Context, req crm.GetRequest) (*crm.Record, error) {
	return d.get(ctx, req.Object, req.ID, "", req.Fields)
}

// GetByProperty reads the live record whose unique property (a property
// with hasUniqueValue, or a contact's email) holds value, as HubSpot's
// idProperty does. A missing record is KindNotFound.
func (d *Driver) GetByProperty(ctx context.Context, object, property, value string, fields []string) (*crm.Record, error) {
	if property == "" || value == "" {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "get", Object: object, Message: "GetByProperty needs a unique property and a value"}
	}
	return d.get(ctx, object, value, property, fields)
}

func (d *Driver) get(ctx context.Context, object, id, idProperty string, fields []string) (*crm.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if id == "" {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "get", Object: object, Message: "the record id is empty"}
	}
	s, err := d.schema(ctx, object)
	if err != nil {
		return nil, err
	}
	fields = d.fields(object, fields)
	if err := checkFields(s, "get", fields); err != nil {
		return nil, err
	}
	q := url.Values{}
	if fields != nil {
		q.Set("properties", strings.Join(fields, ","))
	}
	if idProperty != "" {
		q.Set("idProperty", idProperty)
	}
	var w wireRecord
	if _, err := d.call(ctx, "get", object, http.MethodGet, d.objectsPath(object, id), q, nil, &w); err != nil {
		if crm.KindOf(err) == crm.KindNotFound {
			return nil, withRecord(err, id)
		}
		return nil, err
	}
	return toRecord(object, s, &w, fields), nil
}

// fields is what to read: the caller's fields, else WithDefaultFields, else
// nil for HubSpot's defaults.
func (d *Driver) fields(object string, fields []string) []string {
	if fields == nil {
		fields = d.defaults[object]
	}
	return fields
}

// checkFields refuses a field the object does not have: HubSpot would
// silently leave it out, and the caller would read null.
func checkFields(s *crm.Schema, op string, fields []string) error {
	for _, f := range fields {
		if _, err := fieldOf(s, op, f); err != nil {
			return err
		}
	}
	return nil
}

// queryCursor is the state of a query between pages, sent to the caller as
// opaque text.
type queryCursor struct {
	V    int      `json:"v"`
	Mode string   `json:"m"`           // list, key, offset, native
	Next string   `json:"a,omitempty"` // list: paging.next.after; offset: the offset
	Last string   `json:"l,omitempty"` // key: the last id read
	N    int      `json:"n,omitempty"` // records returned so far, for Query.Limit
	Lo   string   `json:"lo,omitempty"`
	Seen []string `json:"s,omitempty"` // offset: ids already returned whose sort value is Lo
	Run  bool     `json:"r,omitempty"` // offset: the query restarted from Lo
}

// encodeCursor renders a cursor struct as opaque URL-safe text.
func encodeCursor(c any) string {
	if q, ok := c.(*queryCursor); ok {
		q.V = 1
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(op, object, s string, into any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, into)
	}
	if err != nil {
		return &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: op, Object: object,
			Message: "the cursor is not one this driver made: pass a NextCursor (or Cursor) from a page of the same object, or start over with an empty cursor"}
	}
	return nil
}

// badCursor is the error for a cursor that decodes but does not fit the
// query it is passed with: crafted, or taken from another query's page.
func badCursor(object, why string) error {
	return &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "query", Object: object,
		Message: "the cursor does not belong to this query (" + why + "): pass the NextCursor of a page of the same query, or start over with an empty cursor"}
}

// checkCursor refuses a decoded cursor that does not fit the path the query
// takes (mode: list, key, offset or native), so that paging never acts on
// state this query could not have made. A fresh cursor (no mode) fits any
// path.
func checkCursor(object string, cur *queryCursor, mode string, ordered bool) error {
	if cur.Run && (!ordered || mode != "offset") {
		return badCursor(object, "it restarts a sorted search, and the query is not sorted")
	}
	if cur.Mode != "" && cur.Mode != mode {
		return badCursor(object, fmt.Sprintf("it pages in %s mode, and the query pages in %s mode", cur.Mode, mode))
	}
	if mode == "offset" || mode == "native" {
		if cur.Next != "" {
			off, err := strconv.Atoi(cur.Next)
			if err != nil || off < 0 || off > searchCap {
				return badCursor(object, fmt.Sprintf("its offset %q is not a whole number from 0 to %d", cur.Next, searchCap))
			}
		}
	}
	return nil
}

// searchBody is a search request.
type searchBody struct {
	FilterGroups []filterGroup `json:"filterGroups"`
	Sorts        []sortRule    `json:"sorts,omitempty"`
	Properties   []string      `json:"properties,omitempty"`
	Limit        int           `json:"limit"`
	After        string        `json:"after,omitempty"`
}

type filterGroup struct {
	Filters []filter `json:"filters"`
}

type filter struct {
	PropertyName string   `json:"propertyName"`
	Operator     string   `json:"operator"`
	Value        *string  `json:"value,omitempty"`
	Values       []string `json:"values,omitempty"`
}

type sortRule struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"`
}

type searchPage struct {
	Total   int          `json:"total"`
	Results []wireRecord `json:"results"`
	Paging  struct {
		Next struct {
			After string `json:"after"`
		} `json:"next"`
	} `json:"paging"`
}

func ptr(s string) *string { return &s }

// Query returns one page of a query. Without a filter or an order it lists
// the object (GET, 100 a page, not counted against search's limit); with
// them it searches, with the portable filter compiled into HubSpot's filter
// groups. A search without an order pages by record id, so it reads past
// search's 10,000-result cap; a search ordered by a property pages by
// offset and, near the cap, starts a new search from the last value read,
// skipping the records already returned. Query.Native is a search body
// (JSON) sent as is, paged by offset up to the cap.
func (d *Driver) Query(ctx context.Context, req crm.QueryRequest) (*crm.Page, error) {
	q := req.Query
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if q.Object == "" {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "query", Message: "Query.Object is empty: HubSpot searches one object type, such as \"contacts\""}
	}
	if q.IncludeDeleted {
		return nil, &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "query", Object: q.Object,
			Message: "HubSpot's search cannot see archived records, so a query cannot include them: read deletes from Changes, or list archived records with ListArchived"}
	}
	var cur queryCursor
	if req.Cursor != "" {
		if err := decodeCursor("query", q.Object, req.Cursor, &cur); err != nil {
			return nil, err
		}
		if cur.Mode == "" || cur.N < 0 {
			return nil, badCursor(q.Object, "it names no paging mode")
		}
	}
	size := req.PageSize
	if size <= 0 {
		size = maxListPage
	}
	if q.Limit > 0 {
		if cur.N >= q.Limit {
			return &crm.Page{Total: -1}, nil
		}
		size = min(size, q.Limit-cur.N)
	}
	var (
		p   *crm.Page
		err error
	)
	switch {
	case q.Native != "":
		p, err = d.queryNative(ctx, &q, &cur, min(size, maxSearchPage))
	case q.Where == nil && len(q.OrderBy) == 0:
		p, err = d.queryList(ctx, &q, &cur, min(size, maxListPage))
	default:
		p, err = d.querySearch(ctx, &q, &cur, min(size, maxSearchPage))
	}
	if err != nil {
		return nil, err
	}
	if q.Limit > 0 && cur.N >= q.Limit {
		p.NextCursor = ""
	}
	return p, nil
}

func (d *Driver) queryList(ctx context.Context, q *crm.Query, cur *queryCursor, size int) (*crm.Page, error) {
	if err := checkCursor(q.Object, cur, "list", false); err != nil {
		return nil, err
	}
	s, err := d.schema(ctx, q.Object)
	if err != nil {
		return nil, err
	}
	fields := d.fields(q.Object, q.Fields)
	if err := checkFields(s, "query", fields); err != nil {
		return nil, err
	}
	v := url.Values{"limit": {strconv.Itoa(size)}}
	if fields != nil {
		v.Set("properties", strings.Join(fields, ","))
	}
	if cur.Next != "" {
		v.Set("after", cur.Next)
	}
	var body searchPage
	if _, err := d.call(ctx, "query", q.Object, http.MethodGet, d.objectsPath(q.Object), v, nil, &body); err != nil {
		return nil, err
	}
	p := &crm.Page{Total: -1}
	for i := range body.Results {
		p.Records = append(p.Records, toRecord(q.Object, s, &body.Results[i], fields))
	}
	cur.N += len(p.Records)
	if next := body.Paging.Next.After; next != "" {
		cur.Mode, cur.Next = "list", next
		p.NextCursor = encodeCursor(cur)
	}
	return p, nil
}

// querySearch runs one page of a search.
func (d *Driver) querySearch(ctx context.Context, q *crm.Query, cur *queryCursor, size int) (*crm.Page, error) {
	s, err := d.schema(ctx, q.Object)
	if err != nil {
		return nil, err
	}
	groups, err := compileFilter(s, q.Where)
	if err != nil {
		return nil, err
	}
	if len(q.OrderBy) > 1 {
		return nil, &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "query", Object: q.Object,
			Message: fmt.Sprintf("HubSpot's search sorts by one property, and the query orders by %d: keep the first and sort the rest in the application", len(q.OrderBy))}
	}
	fields := d.fields(q.Object, q.Fields)
	if err := checkFields(s, "query", fields); err != nil {
		return nil, err
	}
	body := searchBody{Limit: size}
	if fields != nil {
		body.Properties = slices.Clone(fields)
	}
	var order *crm.Field
	if len(q.OrderBy) == 1 {
		if order, err = fieldOf(s, "query", q.OrderBy[0].Field); err != nil {
			return nil, err
		}
		dir := "ASCENDING"
		if q.OrderBy[0].Desc {
			dir = "DESCENDING"
		}
		body.Sorts = []sortRule{{order.Name, dir}}
		if body.Properties != nil && !slices.Contains(body.Properties, order.Name) {
			body.Properties = append(body.Properties, order.Name)
		}
	}
	first := cur.Mode == ""
	keyset := order == nil && fits(groups, 1)
	mode := "offset"
	if keyset {
		mode = "key"
	}
	if err := checkCursor(q.Object, cur, mode, order != nil); err != nil {
		return nil, err
	}
	switch {
	case keyset:
		// Page by id: each page a new search for ids after the last one
		// read, so the 10,000-result cap never applies.
		cur.Mode = "key"
		body.Sorts = []sortRule{{"hs_object_id", "ASCENDING"}}
		if cur.Last != "" {
			groups = withFilter(groups, filter{PropertyName: "hs_object_id", Operator: "GT", Value: ptr(cur.Last)})
		}
	default:
		cur.Mode = "offset"
	}
	return d.searchPages(ctx, q, s, cur, &body, groups, order, fields, first)
}

// searchPages sends the search for one page. In offset mode it restarts
// the search from the last sort value read when the next page would pass
// the cap, and skips the records at that value it has already returned.
func (d *Driver) searchPages(ctx context.Context, q *crm.Query, s *crm.Schema, cur *queryCursor, body *searchBody,
	groups []filterGroup, order *crm.Field, fields []string, first bool) (*crm.Page, error) {
	p := &crm.Page{Total: -1}
	for range 64 { // a bound, in case HubSpot keeps returning what was read
		b := *body
		b.FilterGroups = groups
		off := 0
		if cur.Mode == "offset" {
			off, _ = strconv.Atoi(cur.Next)
			if off+b.Limit > searchCap {
				if err := restart(s, cur, order); err != nil {
					return nil, err
				}
				off = 0
			}
			if cur.Run {
				dir := "GTE"
				if b.Sorts[0].Direction == "DESCENDING" {
					dir = "LTE"
				}
				if !fits(groups, 1) {
					return nil, &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "query", Object: s.Object,
						Message: fmt.Sprintf("the query matches more than HubSpot's %d search results, and its filter leaves no room (5 groups of 6, 18 filters) to read further: narrow or simplify the filter", searchCap)}
				}
				b.FilterGroups = withFilter(groups, filter{PropertyName: order.Name, Operator: dir, Value: ptr(cur.Lo)})
			}
			if off > 0 {
				b.After = strconv.Itoa(off)
			}
		}
		var page searchPage
		if _, err := d.call(ctx, "query", q.Object, http.MethodPost, d.objectsPath(q.Object, "search"), nil, &b, &page); err != nil {
			return nil, err
		}
		if first && !cur.Run && cur.Last == "" {
			p.Total = page.Total
		}
		for i := range page.Results {
			w := &page.Results[i]
			if cur.Mode == "offset" && slices.Contains(cur.Seen, w.ID) {
				continue
			}
			p.Records = append(p.Records, toRecord(q.Object, s, w, fields))
			if cur.Mode == "offset" && order != nil {
				val, _ := w.Properties[order.Name].(string)
				if val != cur.Lo {
					cur.Lo, cur.Seen = val, nil
				}
				cur.Seen = append(cur.Seen, w.ID)
			}
		}
		more := page.Paging.Next.After != ""
		if cur.Mode == "offset" && !more && len(page.Results) == b.Limit && off+len(page.Results) >= searchCap {
			more = true // the cap, not the end: go on from the last value read
		}
		switch cur.Mode {
		case "key":
			if n := len(page.Results); n > 0 {
				cur.Last = page.Results[n-1].ID
			}
		case "offset":
			cur.Next = strconv.Itoa(off + len(page.Results))
		}
		cur.N += len(p.Records)
		if more {
			p.NextCursor = encodeCursor(cur)
		}
		if len(p.Records) > 0 || !more {
			return p, nil
		}
	}
	return nil, &crm.Error{Kind: crm.KindUnknown, CRM: Name, Operation: "query", Object: q.Object,
		Message: "HubSpot's search kept returning records already read; stopping instead of looping"}
}

// restart begins a new offset run from the last sort value read.
func restart(s *crm.Schema, cur *queryCursor, order *crm.Field) error {
	if order == nil || cur.Lo == "" {
		return &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "query", Object: s.Object,
			Message: fmt.Sprintf("the query matches more than HubSpot's %d search results and cannot be continued past them (the last record has no value to restart from): order by a property every record has, or leave the order out to page by id", searchCap)}
	}
	cur.Run, cur.Next = true, "0"
	return nil
}

// queryNative sends Query.Native, a search body, paging by offset.
func (d *Driver) queryNative(ctx context.Context, q *crm.Query, cur *queryCursor, size int) (*crm.Page, error) {
	if err := checkCursor(q.Object, cur, "native", false); err != nil {
		return nil, err
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(q.Native), &body); err != nil {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "query", Object: q.Object,
			Message: "Query.Native must be a HubSpot search body in JSON, such as {\"filterGroups\":[...]}: " + err.Error()}
	}
	off, _ := strconv.Atoi(cur.Next)
	if off+size > searchCap {
		size = searchCap - off
	}
	body["limit"] = size
	if off > 0 {
		body["after"] = strconv.Itoa(off)
	}
	s, err := d.schema(ctx, q.Object)
	if err != nil {
		return nil, err
	}
	var page searchPage
	if _, err := d.call(ctx, "query", q.Object, http.MethodPost, d.objectsPath(q.Object, "search"), nil, body, &page); err != nil {
		return nil, err
	}
	var fields []string
	if props, ok := body["properties"].([]any); ok {
		for _, p := range props {
			if name, ok := p.(string); ok {
				fields = append(fields, name)
			}
		}
	}
	p := &crm.Page{Total: -1}
	if cur.Mode == "" {
		p.Total = page.Total
	}
	for i := range page.Results {
		p.Records = append(p.Records, toRecord(q.Object, s, &page.Results[i], fields))
	}
	cur.N += len(p.Records)
	cur.Mode, cur.Next = "native", strconv.Itoa(off+len(page.Results))
	if page.Paging.Next.After != "" && off+len(page.Results) < searchCap {
		p.NextCursor = encodeCursor(cur)
	}
	return p, nil
}

// fits reports whether every group has room for extra filters within
// HubSpot's limits.
func fits(groups []filterGroup, extra int) bool {
	total := 0
	for _, g := range groups {
		if len(g.Filters)+extra > maxFiltersInGroup {
			return false
		}
		total += len(g.Filters) + extra
	}
	return total <= maxFilters && len(groups) <= maxGroups
}

// withFilter adds f to every group (or makes it the only group).
func withFilter(groups []filterGroup, f filter) []filterGroup {
	if len(groups) == 0 {
		return []filterGroup{{Filters: []filter{f}}}
	}
	out := make([]filterGroup, len(groups))
	for i, g := range groups {
		out[i].Filters = append(slices.Clone(g.Filters), f)
	}
	return out
}

// compileFilter turns a portable filter into HubSpot's filter groups: a
// disjunction (groups, ORed) of conjunctions (filters, ANDed). Not is
// pushed down to the comparisons (NOT (a AND b) is NOT a OR NOT b), and And
// is distributed over Or. A filter that needs more than 5 groups, more than
// 6 filters in a group or more than 18 in all cannot be sent, and fails
// with KindUnsupported saying so; a field the object lacks, or a literal
// of the wrong type, fails with KindValidation naming the field.
func compileFilter(s *crm.Schema, f crm.Filter) ([]filterGroup, error) {
	if f == nil {
		return nil, nil
	}
	dnf, err := compile(s, f, false)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, g := range dnf {
		if len(g) > maxFiltersInGroup {
			return nil, tooComplex(s, f, fmt.Sprintf("a group of %d filters (HubSpot takes at most %d per group)", len(g), maxFiltersInGroup))
		}
		total += len(g)
	}
	switch {
	case len(dnf) > maxGroups:
		return nil, tooComplex(s, f, fmt.Sprintf("%d filter groups (HubSpot takes at most %d)", len(dnf), maxGroups))
	case total > maxFilters:
		return nil, tooComplex(s, f, fmt.Sprintf("%d filters in all (HubSpot takes at most %d)", total, maxFilters))
	}
	out := make([]filterGroup, len(dnf))
	for i, g := range dnf {
		out[i].Filters = g
	}
	return out, nil
}

func tooComplex(s *crm.Schema, f crm.Filter, what string) error {
	return &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "query", Object: s.Object,
		Message: fmt.Sprintf("the filter %v becomes %s: simplify it, use In instead of many Eq in an Or, or split the query", f, what)}
}

// maxExpansion bounds the groups the distribution of And over Or may make
// before the limits are checked, so a hostile filter cannot take memory.
const maxExpansion = 64

// compile returns the filter, negated if neg, in disjunctive normal form.
func compile(s *crm.Schema, f crm.Filter, neg bool) ([][]filter, error) {
	switch x := f.(type) {
	case *crm.AndFilter, *crm.OrFilter:
		var children []crm.Filter
		isAnd := false
		if a, ok := x.(*crm.AndFilter); ok {
			children, isAnd = a.Filters, true
		} else {
			children = x.(*crm.OrFilter).Filters
		}
		if neg {
			isAnd = !isAnd // De Morgan
		}
		if isAnd {
			out := [][]filter{{}}
			for _, c := range children {
				cd, err := compile(s, c, neg)
				if err != nil {
					return nil, err
				}
				var next [][]filter
				for _, a := range out {
					for _, b := range cd {
						next = append(next, append(slices.Clone(a), b...))
					}
				}
				if len(next) > maxExpansion {
					return nil, tooComplex(s, f, fmt.Sprintf("more than %d filter groups", maxExpansion))
				}
				out = next
			}
			return out, nil
		}
		var out [][]filter
		for _, c := range children {
			cd, err := compile(s, c, neg)
			if err != nil {
				return nil, err
			}
			out = append(out, cd...)
			if len(out) > maxExpansion {
				return nil, tooComplex(s, f, fmt.Sprintf("more than %d filter groups", maxExpansion))
			}
		}
		return out, nil
	case *crm.NotFilter:
		return compile(s, x.Filter, !neg)
	case *crm.Compare:
		fl, err := compileCompare(s, x, neg)
		if err != nil {
			return nil, err
		}
		return [][]filter{{fl}}, nil
	case *crm.InFilter:
		fd, err := fieldOf(s, "query", x.Field)
		if err != nil {
			return nil, err
		}
		op := "IN"
		if neg {
			op = "NOT_IN"
		}
		fl := filter{PropertyName: fd.Name, Operator: op}
		for _, v := range x.Values {
			text, err := filterValue(s, fd, v)
			if err != nil {
				return nil, err
			}
			if isText(fd) {
				text = strings.ToLower(text) // HubSpot compares string IN values in lower case
			}
			fl.Values = append(fl.Values, text)
		}
		return [][]filter{{fl}}, nil
	case *crm.NullFilter:
		fd, err := fieldOf(s, "query", x.Field)
		if err != nil {
			return nil, err
		}
		isNull := x.IsNull != neg
		op := "HAS_PROPERTY"
		if isNull {
			op = "NOT_HAS_PROPERTY"
		}
		return [][]filter{{{PropertyName: fd.Name, Operator: op}}}, nil
	case *crm.ModifiedSinceFilter:
		if s.ModifiedField == "" {
			return nil, &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "query", Object: s.Object, Message: s.Object + " has no last-modified property to filter on"}
		}
		op := "GTE"
		if neg {
			op = "LT"
		}
		return [][]filter{{{PropertyName: s.ModifiedField, Operator: op, Value: ptr(strconv.FormatInt(x.Time.UnixMilli(), 10))}}}, nil
	case nil:
		return [][]filter{{}}, nil
	}
	return nil, &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "query", Object: s.Object,
		Message: fmt.Sprintf("filter type %T is not one of crm's filter types: build filters with crm.Eq, crm.And and the like", f)}
}

var negated = map[crm.Operator][2]string{
	crm.CmpEq: {"EQ", "NEQ"},
	crm.CmpNe: {"NEQ", "EQ"},
	crm.CmpGt: {"GT", "LTE"},
	crm.CmpGe: {"GTE", "LT"},
	crm.CmpLt: {"LT", "GTE"},
	crm.CmpLe: {"LTE", "GT"},
}

func compileCompare(s *crm.Schema, c *crm.Compare, neg bool) (filter, error) {
	fd, err := fieldOf(s, "query", c.Field)
	if err != nil {
		return filter{}, err
	}
	if c.Op == crm.CmpContains {
		sub, _ := c.Value.(string)
		if sub == "" || hasSpace(sub) || strings.Contains(sub, "*") {
			return filter{}, &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "query", Object: s.Object, Fields: []string{fd.Name},
				Message: fmt.Sprintf("HubSpot's search matches words (CONTAINS_TOKEN), not substrings: Contains(%s, %q) holds a space or a *, which it cannot search for; filter on whole words, or read the records and match in the application", fd.Name, sub)}
		}
		if !isText(fd) {
			return filter{}, &crm.Error{Kind: crm.KindValidation, CRM: Name, Operation: "query", Object: s.Object, Fields: []string{fd.Name},
				Message: fmt.Sprintf("Contains works on text properties, and %s.%s is %s", s.Object, fd.Name, fd.Type)}
		}
		op := "CONTAINS_TOKEN"
		if neg {
			op = "NOT_CONTAINS_TOKEN"
		}
		return filter{PropertyName: fd.Name, Operator: op, Value: ptr("*" + sub + "*")}, nil
	}
	ops, ok := negated[c.Op]
	if !ok {
		return filter{}, &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "query", Object: s.Object, Fields: []string{fd.Name},
			Message: fmt.Sprintf("operator %q is not one of crm's operators", c.Op)}
	}
	if c.Op != crm.CmpEq && c.Op != crm.CmpNe && (fd.Type.Value() == crm.ValueBool || fd.Type.Value() == crm.ValueStrings) {
		return filter{}, &crm.Error{Kind: crm.KindValidation, CRM: Name, Operation: "query", Object: s.Object, Fields: []string{fd.Name},
			Message: fmt.Sprintf("%s.%s is %s, which has no order: use Eq or In", s.Object, fd.Name, fd.Type)}
	}
	text, err := filterValue(s, fd, c.Value)
	if err != nil {
		return filter{}, err
	}
	op := ops[0]
	if neg {
		op = ops[1]
	}
	return filter{PropertyName: fd.Name, Operator: op, Value: ptr(text)}, nil
}
