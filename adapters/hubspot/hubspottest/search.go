package hubspottest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/memstore"
)

// Search limits, as HubSpot documents them.
const (
	maxFilterGroups     = 5
	maxFiltersPerGroup  = 6
	maxFiltersTotal     = 18
	maxSearchLimit      = 200
	maxSearchBodyLength = 3000
)

type searchFilter struct {
	PropertyName string `json:"propertyName"`
	Operator     string `json:"operator"`
	Value        any    `json:"value"`
	HighValue    any    `json:"highValue"`
	Values       []any  `json:"values"`
}

type searchRequest struct {
	FilterGroups []struct {
		Filters []searchFilter `json:"filters"`
	} `json:"filterGroups"`
	Sorts      []json.RawMessage `json:"sorts"`
	Properties []string          `json:"properties"`
	Limit      *int              `json:"limit"`
	After      json.RawMessage   `json:"after"`
	Query      string            `json:"query"`
}

type searchResponse struct {
	Total   int          `json:"total"`
	Results []wireRecord `json:"results"`
	Paging  *paging      `json:"paging,omitempty"`
}

// search serves POST /objects/{t}/search: filter groups ORed, filters in a
// group ANDed, one sort, an integer offset as `after`, and nothing past the
// 10,000th result. Archived records never match.
func (s *Server) search(w http.ResponseWriter, r *http.Request, ot *objectType) *apiError {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return badRequest("reading the request body: %v", err)
	}
	if len(body) > maxSearchBodyLength {
		return badRequest("The search request body is %d characters long; the limit is %d.", len(body), maxSearchBodyLength)
	}
	var req searchRequest
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.UseNumber()
	if err := d.Decode(&req); err != nil {
		return badRequest("Invalid input JSON: %v", err)
	}
	limit := 10
	if req.Limit != nil {
		limit = *req.Limit
	}
	if limit < 0 || limit > maxSearchLimit {
		return badRequest("limit must be between 0 and %d, got %d", maxSearchLimit, limit)
	}
	offset, e := searchOffset(req.After)
	if e != nil {
		return e
	}
	if offset >= maxSearchResults {
		return badRequest("Search results are limited to %d per query: after=%d is past them. Narrow the filter, or start a new query from the last value seen.", maxSearchResults, offset)
	}
	where, e := ot.compileSearch(&req)
	if e != nil {
		return e
	}
	order, e := ot.searchSort(req.Sorts)
	if e != nil {
		return e
	}
	show := ot.selection(req.Properties)
	end := min(offset+limit, maxSearchResults)
	res, err := s.store.Query(memstore.Query{Object: ot.name, Where: where, OrderBy: order, Fields: show, Limit: max(end, 1)})
	if err != nil {
		return ot.fromStore(err)
	}
	out := searchResponse{Total: res.Total, Results: []wireRecord{}}
	if limit > 0 && offset < len(res.Records) {
		for _, rec := range res.Records[offset:min(end, len(res.Records))] {
			out.Results = append(out.Results, ot.render(rec, show))
		}
	}
	if next := offset + len(out.Results); limit > 0 && next < min(res.Total, maxSearchResults) {
		out.Paging = &paging{Next: &pagingNext{After: strconv.Itoa(next)}}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// searchOffset reads `after`, sent as a string or a number.
func searchOffset(raw json.RawMessage) (int, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, badRequest("after must be the paging.next.after of a previous page")
	}
	text := fmt.Sprint(v)
	if text == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 0 {
		return 0, badRequest("after must be the paging.next.after of a previous page, got %q", clip(text))
	}
	return n, nil
}

// searchSort reads the one sort rule search allows, in either form clients
// send: {"propertyName":"x","direction":"DESCENDING"} or "x" (a leading "-"
// for descending).
func (ot *objectType) searchSort(sorts []json.RawMessage) ([]crm.Order, *apiError) {
	if len(sorts) == 0 {
		return nil, nil // creation order, which is id order
	}
	if len(sorts) > 1 {
		return nil, badRequest("Only one sort is allowed per search request; got %d.", len(sorts))
	}
	var o struct {
		PropertyName string `json:"propertyName"`
		Direction    string `json:"direction"`
	}
	var name string
	if err := json.Unmarshal(sorts[0], &name); err == nil {
		o.PropertyName = strings.TrimPrefix(name, "-")
		if strings.HasPrefix(name, "-") {
			o.Direction = "DESCENDING"
		}
	} else if err := json.Unmarshal(sorts[0], &o); err != nil {
		return nil, badRequest("a sort is a property name or {propertyName, direction}")
	}
	if _, ok := ot.prop(o.PropertyName); !ok {
		return nil, unknownProperty(o.PropertyName)
	}
	switch strings.ToUpper(o.Direction) {
	case "", "ASCENDING":
		return []crm.Order{crm.Asc(o.PropertyName)}, nil
	case "DESCENDING":
		return []crm.Order{crm.Desc(o.PropertyName)}, nil
	}
	return nil, badRequest("sort direction must be ASCENDING or DESCENDING, got %q", clip(o.Direction))
}

func unknownProperty(name string) *apiError {
	return invalidProperties([]propError{{name: name, code: "PROPERTY_DOESNT_EXIST", message: fmt.Sprintf("Property %q does not exist", clip(name))}})
}

// compileSearch turns the filter groups and the free-text query into a
// memstore filter, after checking HubSpot's limits on groups and filters.
func (ot *objectType) compileSearch(req *searchRequest) (crm.Filter, *apiError) {
	if n := len(req.FilterGroups); n > maxFilterGroups {
		return nil, badRequest("Too many filter groups: %d. The maximum is %d.", n, maxFilterGroups)
	}
	total := 0
	var groups []crm.Filter
	for gi, g := range req.FilterGroups {
		if n := len(g.Filters); n > maxFiltersPerGroup {
			return nil, badRequest("Too many filters in filter group %d: %d. The maximum is %d per group.", gi, n, maxFiltersPerGroup)
		}
		total += len(g.Filters)
		var fs []crm.Filter
		for _, f := range g.Filters {
			cf, e := ot.compileFilter(f)
			if e != nil {
				return nil, e
			}
			fs = append(fs, cf)
		}
		if len(fs) > 0 {
			groups = append(groups, crm.And(fs...))
		}
	}
	if total > maxFiltersTotal {
		return nil, badRequest("Too many filters: %d across all filter groups. The maximum is %d.", total, maxFiltersTotal)
	}
	where := crm.Or(groups...)
	if len(groups) == 0 {
		where = nil
	}
	if q := strings.TrimSpace(req.Query); q != "" {
		var anyOf []crm.Filter
		for _, p := range ot.search {
			if _, ok := ot.prop(p); ok {
				anyOf = append(anyOf, crm.Contains(p, q))
			}
		}
		if len(anyOf) == 0 {
			return nil, badRequest("%s has no searchable properties for a query", ot.name)
		}
		where = crm.And(where, crm.Or(anyOf...))
	}
	return where, nil
}

// nothing matches no record.
var nothing = crm.And(crm.IsNull("hs_object_id"), crm.NotNull("hs_object_id"))

// compileFilter turns one search filter into a memstore filter.
//
// The emulator matches as HubSpot does where it can: case-insensitively,
// with string IN and NOT_IN values that must be lower case (a value with
// capitals matches nothing), and dates given as epoch milliseconds or ISO
// 8601. CONTAINS_TOKEN is matched as a case-insensitive substring of the
// value with its * wildcards removed, which is close to HubSpot's token
// match for single words.
func (ot *objectType) compileFilter(f searchFilter) (crm.Filter, *apiError) {
	p, ok := ot.prop(f.PropertyName)
	if !ok {
		if strings.HasPrefix(f.PropertyName, "associations.") {
			return nil, badRequest("association filters (%s) are not supported by the emulator", clip(f.PropertyName))
		}
		return nil, unknownProperty(f.PropertyName)
	}
	name := p.Name
	val := func(v any) (any, *apiError) {
		text, ok := scalar(v)
		if !ok {
			return nil, badRequest("filter on %s: the value must be a string, number or boolean", name)
		}
		return filterValue(p, text)
	}
	op := strings.ToUpper(f.Operator)
	switch op {
	case "EQ", "NEQ", "LT", "LTE", "GT", "GTE":
		v, e := val(f.Value)
		if e != nil {
			return nil, e
		}
		if v == nil {
			if op == "EQ" {
				return crm.IsNull(name), nil
			}
			return crm.NotNull(name), nil
		}
		switch op {
		case "EQ":
			return crm.Eq(name, v), nil
		case "NEQ":
			return crm.Ne(name, v), nil
		case "LT":
			return crm.Lt(name, v), nil
		case "LTE":
			return crm.Le(name, v), nil
		case "GT":
			return crm.Gt(name, v), nil
		}
		return crm.Ge(name, v), nil
	case "BETWEEN":
		lo, e := val(f.Value)
		if e != nil {
			return nil, e
		}
		hi, e := val(f.HighValue)
		if e != nil {
			return nil, e
		}
		if lo == nil || hi == nil {
			return nil, badRequest("BETWEEN on %s needs value and highValue", name)
		}
		return crm.And(crm.Ge(name, lo), crm.Le(name, hi)), nil
	case "IN", "NOT_IN":
		if len(f.Values) == 0 {
			return nil, badRequest("%s on %s needs values", op, name)
		}
		var vals []any
		for _, raw := range f.Values {
			text, ok := scalar(raw)
			if !ok {
				return nil, badRequest("filter on %s: values must be strings, numbers or booleans", name)
			}
			if (p.Type == "string" || p.Type == "phone_number") && strings.IndexFunc(text, unicode.IsUpper) >= 0 {
				continue // HubSpot compares string IN values in lower case
			}
			v, e := filterValue(p, text)
			if e != nil {
				return nil, e
			}
			if v != nil {
				vals = append(vals, v)
			}
		}
		in := nothing
		if len(vals) > 0 {
			in = crm.In(name, vals...)
		}
		if op == "NOT_IN" {
			return crm.Not(in), nil
		}
		return in, nil
	case "HAS_PROPERTY":
		return crm.NotNull(name), nil
	case "NOT_HAS_PROPERTY":
		return crm.IsNull(name), nil
	case "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN":
		text, ok := scalar(f.Value)
		if !ok {
			return nil, badRequest("%s on %s needs a value", op, name)
		}
		if t, _ := crmType(p); t.Value() != crm.ValueString {
			return nil, badRequest("%s works on text properties, and %s is %s", op, name, p.Type)
		}
		core := strings.Trim(text, "*")
		c := crm.Contains(name, core)
		if op == "NOT_CONTAINS_TOKEN" {
			return crm.Not(c), nil
		}
		return c, nil
	}
	return nil, badRequest("Unknown operator %q in a filter on %s", clip(f.Operator), name)
}

// scalar renders a JSON filter value as text.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case nil:
		return "", true
	}
	return "", false
}

// filterValue converts a filter value for comparison with a property's
// stored values: dates and datetimes as epoch milliseconds or ISO 8601.
func filterValue(p *Property, text string) (any, *apiError) {
	t, _ := crmType(p)
	switch t {
	case crm.TypeID, crm.TypeString, crm.TypePicklist, crm.TypeMultiPicklist:
		if text == "" {
			return nil, nil
		}
		return text, nil
	case crm.TypeDateTime:
		if ms, err := strconv.ParseInt(text, 10, 64); err == nil {
			return time.UnixMilli(ms).UTC(), nil
		}
	case crm.TypeDate:
		if ms, err := strconv.ParseInt(text, 10, 64); err == nil {
			return crm.DateOf(time.UnixMilli(ms).UTC()), nil
		}
	}
	v, pe := parseValue(p, text)
	if pe != nil {
		return nil, badRequest("filter on %s: %s", p.Name, pe.message)
	}
	return v, nil
}
