package memstore

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Query selects records of one object: which (Where), in which order
// (OrderBy, then the id), which fields, and one page of them after a keyset
// position.
type Query struct {
	Object  string
	Where   crm.Filter  // nil matches every record
	OrderBy []crm.Order // the id always breaks ties, ascending
	Fields  []string    // nil selects every field; the id field is always selected
	// IncludeDeleted also returns tombstones, with Deleted set.
	IncludeDeleted bool
	// After, when set, starts the page after this position in the query's
	// order: the Next of the previous page. Because it is a position in the
	// order rather than an offset, records written between two pages neither
	// repeat nor shift the rest: records that sort after the position are
	// read, the others are not.
	After *Position
	// Limit is the most records to return; 0 returns all.
	Limit int
}

// Result is one page of a query.
type Result struct {
	Records []*Record
	// Next is the position after the last record, for the next page's
	// After; nil when no records follow.
	Next *Position
	// Total is the number of records the query matches, counted on the
	// first page (After nil); -1 on later pages, where counting would cost a
	// scan of the whole table.
	Total int
}

// Position is a place in a query's order: the sort-key values and the id of
// the record at that place. It marshals to text, so that drivers can put it
// in an opaque cursor; a position decoded from text is checked against the
// query's order when it is used.
type Position struct {
	Values []any // one per OrderBy entry, normalised; nil for null
	ID     string
}

type positionJSON struct {
	V  [][]string `json:"v"`
	ID string     `json:"id"`
}

// MarshalText encodes the position as compact JSON that keeps each value's
// kind.
func (p Position) MarshalText() ([]byte, error) {
	pj := positionJSON{V: make([][]string, len(p.Values)), ID: p.ID}
	for i, v := range p.Values {
		switch x := v.(type) {
		case nil:
		case string:
			pj.V[i] = []string{"s", x}
		case bool:
			pj.V[i] = []string{"b", strconv.FormatBool(x)}
		case int64:
			pj.V[i] = []string{"i", strconv.FormatInt(x, 10)}
		case crm.Decimal:
			pj.V[i] = []string{"d", x.String()}
		case time.Time:
			pj.V[i] = []string{"t", x.UTC().Format(time.RFC3339Nano)}
		case crm.Date:
			pj.V[i] = []string{"D", x.String()}
		default:
			return nil, fmt.Errorf("memstore: a position cannot hold a %T", v)
		}
	}
	return json.Marshal(pj)
}

// UnmarshalText decodes what MarshalText made, refusing anything else.
func (p *Position) UnmarshalText(b []byte) error {
	var pj positionJSON
	if err := json.Unmarshal(b, &pj); err != nil {
		return fmt.Errorf("memstore: a position is JSON made by Position.MarshalText: %w", err)
	}
	if pj.ID == "" {
		return fmt.Errorf("memstore: the position has no id")
	}
	vals := make([]any, len(pj.V))
	for i, e := range pj.V {
		if len(e) == 0 {
			continue
		}
		if len(e) != 2 {
			return fmt.Errorf("memstore: position value %d has %d parts, want kind and text", i, len(e))
		}
		var err error
		switch e[0] {
		case "s":
			vals[i] = e[1]
		case "b":
			vals[i], err = strconv.ParseBool(e[1])
		case "i":
			vals[i], err = strconv.ParseInt(e[1], 10, 64)
		case "d":
			vals[i], err = crm.ParseDecimal(e[1])
		case "t":
			vals[i], err = time.Parse(time.RFC3339Nano, e[1])
		case "D":
			vals[i], err = crm.ParseDate(e[1])
		default:
			err = fmt.Errorf("unknown kind %q", e[0])
		}
		if err != nil {
			return fmt.Errorf("memstore: position value %d: %w", i, err)
		}
	}
	p.Values, p.ID = vals, pj.ID
	return nil
}

// Query returns one page of q.
//
// Filters follow the CRMs: string comparisons (Eq, Ne, In, Gt, ...) ignore
// case; Contains is a substring match that ignores case; Ne and Not match
// nulls; ordered comparisons never match nulls; ModifiedSince compares the
// record's last write time. In ascending order nulls come first; in
// descending order, last.
func (s *Store) Query(q Query) (*Result, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, err := s.table("query", q.Object)
	if err != nil {
		return nil, err
	}
	if q.Limit < 0 {
		return nil, invalid("query", t.schema.Object, fmt.Sprintf("Limit is %d: use 0 for all records or a positive number", q.Limit))
	}
	sel, err := t.selectFields("query", q.Fields)
	if err != nil {
		return nil, err
	}
	match, err := t.compile(q.Where)
	if err != nil {
		return nil, err
	}
	order, err := t.orderKeys(q.OrderBy)
	if err != nil {
		return nil, err
	}
	if q.After != nil {
		if err := t.checkPosition(order, q.After); err != nil {
			return nil, err
		}
	}

	keep := func(r *row) bool { return (!r.deleted || q.IncludeDeleted) && match(r) }
	page := &pageHeap{order: order, limit: q.Limit}
	total := -1
	if q.After == nil {
		total = 0
	}
	if len(order) == 0 {
		// In id order the table is already sorted: start after the
		// position and stop once the page is full, so a page costs what it
		// holds. Only the first page counts the total.
		start := 0
		if q.After != nil {
			start, _ = slices.BinarySearchFunc(t.byID, q.After.ID, func(r *row, id string) int {
				if compareIDs(r.id, id) <= 0 {
					return -1
				}
				return 1
			})
		}
		for i, r := range t.byID[start:] {
			if !keep(r) {
				continue
			}
			if q.Limit > 0 && len(page.rows) == q.Limit {
				page.more = true
				if total >= 0 {
					for _, r := range t.byID[start+i:] {
						if keep(r) {
							total++
						}
					}
				}
				break
			}
			page.rows = append(page.rows, sorted{r: r})
			if total >= 0 {
				total++
			}
		}
	} else {
		// Any other order: one pass over the table, keeping only the first
		// Limit rows after the position in a bounded heap, so a page costs
		// O(n log Limit) rather than a full sort.
		for _, r := range t.rows {
			if !keep(r) {
				continue
			}
			if total >= 0 {
				total++
			}
			k := keyOf(order, r)
			if q.After != nil && comparePos(order, k, r.id, q.After.Values, q.After.ID) <= 0 {
				continue
			}
			page.offer(sorted{r: r, key: k})
		}
	}
	rows := page.sorted()
	res := &Result{Total: total}
	if q.Limit > 0 && page.more {
		last := rows[len(rows)-1]
		res.Next = &Position{Values: last.key, ID: last.r.id}
	}
	res.Records = make([]*Record, 0, len(rows))
	for _, r := range rows {
		res.Records = append(res.Records, t.record(r.r, sel))
	}
	return res, nil
}

// sorted is a row with its sort key computed once.
type sorted struct {
	r   *row
	key []any
}

// pageHeap keeps the first limit rows offered, in sort order, as a max-heap
// whose root is the last row of the page so far; limit 0 keeps every row.
type pageHeap struct {
	order []orderKey
	limit int
	rows  []sorted
	more  bool // a row was offered beyond the limit
}

func (h *pageHeap) less(a, b sorted) bool {
	return comparePos(h.order, a.key, a.r.id, b.key, b.r.id) < 0
}

func (h *pageHeap) offer(s sorted) {
	if h.limit <= 0 {
		h.rows = append(h.rows, s)
		return
	}
	if len(h.rows) < h.limit {
		h.rows = append(h.rows, s)
		for i := len(h.rows) - 1; i > 0; { // sift up
			parent := (i - 1) / 2
			if !h.less(h.rows[parent], h.rows[i]) {
				break
			}
			h.rows[parent], h.rows[i] = h.rows[i], h.rows[parent]
			i = parent
		}
		return
	}
	h.more = true
	if !h.less(s, h.rows[0]) {
		return
	}
	h.rows[0] = s
	for i := 0; ; { // sift down
		big, l, r := i, 2*i+1, 2*i+2
		if l < len(h.rows) && h.less(h.rows[big], h.rows[l]) {
			big = l
		}
		if r < len(h.rows) && h.less(h.rows[big], h.rows[r]) {
			big = r
		}
		if big == i {
			break
		}
		h.rows[i], h.rows[big] = h.rows[big], h.rows[i]
		i = big
	}
}

// sorted returns the kept rows in sort order.
func (h *pageHeap) sorted() []sorted {
	slices.SortFunc(h.rows, func(a, b sorted) int { return comparePos(h.order, a.key, a.r.id, b.key, b.r.id) })
	return h.rows
}

// orderKey is one resolved sort key.
type orderKey struct {
	field *crm.Field
	desc  bool
}

func (t *table) orderKeys(orders []crm.Order) ([]orderKey, error) {
	out := make([]orderKey, len(orders))
	for i, o := range orders {
		f, ok := t.field(o.Field)
		if !ok {
			return nil, t.unknownField("query", "", o.Field)
		}
		if f.Type.Value() == crm.ValueStrings {
			return nil, &crm.Error{Kind: crm.KindValidation, Operation: "query", Object: t.schema.Object, Fields: []string{f.Name},
				Message: fmt.Sprintf("field %s is a multi-select picklist, which cannot be sorted: order by another field", f.Name)}
		}
		out[i] = orderKey{field: f, desc: o.Desc}
	}
	return out, nil
}

func keyOf(order []orderKey, r *row) []any {
	if len(order) == 0 {
		return nil
	}
	out := make([]any, len(order))
	for i, k := range order {
		out[i] = r.fields[k.field.Name]
	}
	return out
}

// checkPosition makes sure a position fits the query's order, since it may
// have been decoded from a cursor.
func (t *table) checkPosition(order []orderKey, p *Position) error {
	bad := func(msg string) error {
		return invalid("query", t.schema.Object, "the page position does not fit this query ("+msg+"): pass the position from a page of the same query")
	}
	if p.ID == "" {
		return bad("it has no id")
	}
	if len(p.Values) != len(order) {
		return bad(fmt.Sprintf("it has %d sort values, the query sorts by %d fields", len(p.Values), len(order)))
	}
	for i, k := range order {
		if v := p.Values[i]; v != nil && crm.ValueKindOf(v) != k.field.Type.Value() {
			return bad(fmt.Sprintf("sort value %d is a %T, field %s holds %s", i, v, k.field.Name, k.field.Type.Value()))
		}
	}
	return nil
}

// comparePos orders two records (or a record and a position) by the sort
// keys, then by id.
func comparePos(order []orderKey, av []any, aid string, bv []any, bid string) int {
	for i, k := range order {
		c := orderValues(av[i], bv[i])
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return compareIDs(aid, bid)
}

// compareIDs orders ids shorter first, then by text, so that sequential
// numeric ids sort in the order they were issued.
func compareIDs(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// orderValues is the total order the store sorts by: nulls first; strings
// without regard to case, then by exact text; false before true.
func orderValues(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			if c := strings.Compare(strings.ToLower(x), strings.ToLower(y)); c != 0 {
				return c
			}
			return strings.Compare(x, y)
		}
	}
	if x, ok := a.(bool); ok {
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	}
	if c, ok := crm.CompareValues(a, b); ok {
		return c
	}
	// Mixed kinds cannot occur in one field; order by kind name to stay total.
	return strings.Compare(string(crm.ValueKindOf(a)), string(crm.ValueKindOf(b)))
}

// predicate decides whether a row matches a filter.
type predicate func(*row) bool

// compile turns a filter into a predicate, checking every field and literal
// first, so a bad filter fails before any record is read.
func (t *table) compile(f crm.Filter) (predicate, error) {
	switch x := f.(type) {
	case nil:
		return func(*row) bool { return true }, nil
	case *crm.Compare:
		return t.compileCompare(x)
	case *crm.InFilter:
		fd, err := t.filterField(x.Field)
		if err != nil {
			return nil, err
		}
		if len(x.Values) == 0 {
			return nil, &crm.Error{Kind: crm.KindInvalidRequest, Operation: "query", Object: t.schema.Object, Fields: []string{fd.Name},
				Message: fmt.Sprintf("In(%s) has no values: it would match nothing", fd.Name)}
		}
		lits := make([]any, len(x.Values))
		for i, v := range x.Values {
			if lits[i], err = t.literal(fd, "in", v); err != nil {
				return nil, err
			}
		}
		name := fd.Name
		return func(r *row) bool {
			v := r.fields[name]
			return slices.ContainsFunc(lits, func(l any) bool { return SameValue(v, l) })
		}, nil
	case *crm.NullFilter:
		fd, err := t.filterField(x.Field)
		if err != nil {
			return nil, err
		}
		name, want := fd.Name, x.IsNull
		return func(r *row) bool { return (r.fields[name] == nil) == want }, nil
	case *crm.ModifiedSinceFilter:
		since := x.Time
		return func(r *row) bool { return !r.modified.Before(since) }, nil
	case *crm.AndFilter:
		ps, err := t.compileAll(x.Filters)
		if err != nil {
			return nil, err
		}
		return func(r *row) bool {
			for _, p := range ps {
				if !p(r) {
					return false
				}
			}
			return true
		}, nil
	case *crm.OrFilter:
		ps, err := t.compileAll(x.Filters)
		if err != nil {
			return nil, err
		}
		return func(r *row) bool {
			for _, p := range ps {
				if p(r) {
					return true
				}
			}
			return false
		}, nil
	case *crm.NotFilter:
		if x.Filter == nil {
			return nil, invalid("query", t.schema.Object, "Not(nil) negates nothing: give Not a filter")
		}
		p, err := t.compile(x.Filter)
		if err != nil {
			return nil, err
		}
		return func(r *row) bool { return !p(r) }, nil
	}
	return nil, &crm.Error{Kind: crm.KindUnsupported, Operation: "query", Object: t.schema.Object,
		Message: fmt.Sprintf("filter type %T is not one of crm's filter types: build filters with crm.Eq, crm.And and the like", f)}
}

func (t *table) compileAll(fs []crm.Filter) ([]predicate, error) {
	ps := make([]predicate, len(fs))
	for i, f := range fs {
		p, err := t.compile(f)
		if err != nil {
			return nil, err
		}
		ps[i] = p
	}
	return ps, nil
}

func (t *table) filterField(name string) (*crm.Field, error) {
	f, ok := t.field(name)
	if !ok {
		return nil, t.unknownField("query", "", name)
	}
	return f, nil
}

func (t *table) compileCompare(c *crm.Compare) (predicate, error) {
	fd, err := t.filterField(c.Field)
	if err != nil {
		return nil, err
	}
	name := fd.Name
	if c.Value == nil {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, Operation: "query", Object: t.schema.Object, Fields: []string{name},
			Message: fmt.Sprintf("filter %s %s compares with nil: use IsNull(%q) or NotNull(%q)", name, c.Op, name, name)}
	}
	badOp := func(why string) error {
		return &crm.Error{Kind: crm.KindValidation, Operation: "query", Object: t.schema.Object, Fields: []string{name},
			Message: fmt.Sprintf("filter %s %s: %s", name, c.Op, why)}
	}
	switch c.Op {
	case crm.CmpContains:
		if fd.Type.Value() != crm.ValueString {
			return nil, badOp(fmt.Sprintf("Contains works on text fields, and %s is %s", name, fd.Type))
		}
		sub, ok := c.Value.(string)
		if !ok {
			return nil, badOp(fmt.Sprintf("Contains needs a string, got %T", c.Value))
		}
		sub = strings.ToLower(sub)
		return func(r *row) bool {
			v, ok := r.fields[name].(string)
			return ok && strings.Contains(strings.ToLower(v), sub)
		}, nil
	case crm.CmpEq, crm.CmpNe:
		lit, err := t.literal(fd, string(c.Op), c.Value)
		if err != nil {
			return nil, err
		}
		want := c.Op == crm.CmpEq
		return func(r *row) bool { return SameValue(r.fields[name], lit) == want }, nil
	case crm.CmpGt, crm.CmpGe, crm.CmpLt, crm.CmpLe:
		switch fd.Type.Value() {
		case crm.ValueBool, crm.ValueStrings:
			return nil, badOp(fmt.Sprintf("%s is %s, which has no order: use Eq or In", name, fd.Type))
		}
		lit, err := t.literal(fd, string(c.Op), c.Value)
		if err != nil {
			return nil, err
		}
		op := c.Op
		return func(r *row) bool {
			v := r.fields[name]
			if v == nil {
				return false
			}
			c := Compare(v, lit)
			switch op {
			case crm.CmpGt:
				return c > 0
			case crm.CmpGe:
				return c >= 0
			case crm.CmpLt:
				return c < 0
			}
			return c <= 0
		}, nil
	}
	return nil, &crm.Error{Kind: crm.KindUnsupported, Operation: "query", Object: t.schema.Object, Fields: []string{name},
		Message: fmt.Sprintf("operator %q is not one of crm's operators", c.Op)}
}

// Compare orders two non-nil normalised values as the store's ordered
// filters (Gt, Ge, Lt, Le) do: strings without regard to case, numbers by
// value whatever their Go type, times by instant, dates by day. Values that
// have no order (different kinds, bools, multi-selects) compare as 0. Emulators that evaluate
// a filter themselves use it so that they match exactly the records the
// store would.
func Compare(a, b any) int {
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return strings.Compare(strings.ToLower(x), strings.ToLower(y))
		}
	}
	c, _ := crm.CompareValues(a, b)
	return c
}

// literal normalises a filter value to the field's type. A number field also
// takes a fractional literal (Score > 2.5).
func (t *table) literal(f *crm.Field, op string, v any) (any, error) {
	if v == nil {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, Operation: "query", Object: t.schema.Object, Fields: []string{f.Name},
			Message: fmt.Sprintf("filter %s %s has a nil value: use IsNull or NotNull", f.Name, op)}
	}
	lit, err := crm.NormalizeValue(f.Type, v)
	if err != nil && f.Type.Value() == crm.ValueInt64 {
		if d, derr := crm.NormalizeValue(crm.TypeDecimal, v); derr == nil {
			return d, nil
		}
	}
	if err != nil {
		return nil, &crm.Error{Kind: crm.KindValidation, Operation: "query", Object: t.schema.Object, Fields: []string{f.Name},
			Message: fmt.Sprintf("filter %s %s: %s", f.Name, op, strings.TrimPrefix(err.Error(), "crm: "))}
	}
	return lit, nil
}
