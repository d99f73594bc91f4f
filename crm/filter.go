package crm

import (
	"fmt"
	"strings"
	"time"
)

// Filter is a portable condition on records. Build one with [Eq], [Ne], [In],
// [Gt], [Ge], [Lt], [Le], [Contains], [IsNull], [NotNull], [ModifiedSince],
// [And], [Or] and [Not]; each adapter compiles it into its CRM's query
// language (SOQL, an OData $filter, a HubSpot search body), escaping every
// literal, so a value never becomes syntax.
//
// The set of filter types is closed: adapters switch over [*Compare], [*InFilter],
// [*NullFilter], [*ModifiedSinceFilter], [*AndFilter], [*OrFilter] and
// [*NotFilter], and must refuse anything else with KindUnsupported.
type Filter interface {
	fmt.Stringer
	isFilter()
}

// Operator is a comparison operator of a [Compare] filter.
type Operator string

// The comparison operators.
const (
	CmpEq       Operator = "="
	CmpNe       Operator = "!="
	CmpGt       Operator = ">"
	CmpGe       Operator = ">="
	CmpLt       Operator = "<"
	CmpLe       Operator = "<="
	CmpContains Operator = "contains" // substring, case-insensitive where the CRM allows
)

// Compare is a comparison of one field against one literal value.
type Compare struct {
	Field string
	Op    Operator
	Value any // a normalised value; never nil (use IsNull)
}

// InFilter matches records whose field equals one of Values.
type InFilter struct {
	Field  string
	Values []any
}

// NullFilter matches records whose field is null (IsNull true) or not.
type NullFilter struct {
	Field  string
	IsNull bool
}

// ModifiedSinceFilter matches records modified at or after Time, by the
// object's own last-modified field, whatever the CRM calls it.
type ModifiedSinceFilter struct {
	Time time.Time
}

// AndFilter matches records that match every filter.
type AndFilter struct{ Filters []Filter }

// OrFilter matches records that match any filter.
type OrFilter struct{ Filters []Filter }

// NotFilter matches records that do not match Filter.
type NotFilter struct{ Filter Filter }

func (*Compare) isFilter()             {}
func (*InFilter) isFilter()            {}
func (*NullFilter) isFilter()          {}
func (*ModifiedSinceFilter) isFilter() {}
func (*AndFilter) isFilter()           {}
func (*OrFilter) isFilter()            {}
func (*NotFilter) isFilter()           {}

// Eq matches field = value.
func Eq(field string, value any) Filter { return &Compare{Field: field, Op: CmpEq, Value: value} }

// Ne matches field != value.
func Ne(field string, value any) Filter { return &Compare{Field: field, Op: CmpNe, Value: value} }

// Gt matches field > value.
func Gt(field string, value any) Filter { return &Compare{Field: field, Op: CmpGt, Value: value} }

// Ge matches field >= value.
func Ge(field string, value any) Filter { return &Compare{Field: field, Op: CmpGe, Value: value} }

// Lt matches field < value.
func Lt(field string, value any) Filter { return &Compare{Field: field, Op: CmpLt, Value: value} }

// Le matches field <= value.
func Le(field string, value any) Filter { return &Compare{Field: field, Op: CmpLe, Value: value} }

// Contains matches text fields that contain substr.
func Contains(field string, substr string) Filter {
	return &Compare{Field: field, Op: CmpContains, Value: substr}
}

// In matches field equal to any of values.
func In(field string, values ...any) Filter { return &InFilter{Field: field, Values: values} }

// IsNull matches records whose field is null.
func IsNull(field string) Filter { return &NullFilter{Field: field, IsNull: true} }

// NotNull matches records whose field is not null.
func NotNull(field string) Filter { return &NullFilter{Field: field, IsNull: false} }

// ModifiedSince matches records modified at or after t.
func ModifiedSince(t time.Time) Filter { return &ModifiedSinceFilter{Time: t.UTC()} }

// And matches records that match all filters. nil filters are dropped, so
// optional conditions compose: And(nil, nil) is nil, which matches every
// record, and And(f) is f.
func And(filters ...Filter) Filter {
	fs := compact(filters)
	switch len(fs) {
	case 0:
		return nil
	case 1:
		return fs[0]
	}
	return &AndFilter{Filters: fs}
}

// Or matches records that match any of filters. nil filters are dropped; Or(f)
// is f. An Or with nothing left would match no record, which is never what a
// caller means, so [Query.Validate] refuses it.
func Or(filters ...Filter) Filter {
	fs := compact(filters)
	if len(fs) == 1 {
		return fs[0]
	}
	return &OrFilter{Filters: fs}
}

// Not negates a filter.
func Not(f Filter) Filter { return &NotFilter{Filter: f} }

func compact(fs []Filter) []Filter {
	out := make([]Filter, 0, len(fs))
	for _, f := range fs {
		if f != nil {
			out = append(out, f)
		}
	}
	return out
}

func (c *Compare) String() string {
	return fmt.Sprintf("%s %s %s", c.Field, c.Op, literal(c.Value))
}

func (f *InFilter) String() string {
	parts := make([]string, len(f.Values))
	for i, v := range f.Values {
		parts[i] = literal(v)
	}
	return fmt.Sprintf("%s in (%s)", f.Field, strings.Join(parts, ", "))
}

func (f *NullFilter) String() string {
	if f.IsNull {
		return f.Field + " is null"
	}
	return f.Field + " is not null"
}

func (f *ModifiedSinceFilter) String() string {
	return "modified since " + f.Time.Format(time.RFC3339Nano)
}

func (f *AndFilter) String() string { return join(f.Filters, " and ") }
func (f *OrFilter) String() string  { return join(f.Filters, " or ") }
func (f *NotFilter) String() string { return "not (" + fmt.Sprint(f.Filter) + ")" }

func join(fs []Filter, sep string) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = "(" + f.String() + ")"
	}
	return strings.Join(parts, sep)
}

func literal(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// WalkFilter calls fn for f and every filter nested in it, depth first. It
// stops early, returning fn's error, when fn returns one. Adapters use it to
// check a filter (fields exist, values have the right type) before compiling.
func WalkFilter(f Filter, fn func(Filter) error) error {
	if f == nil {
		return nil
	}
	if err := fn(f); err != nil {
		return err
	}
	var children []Filter
	switch x := f.(type) {
	case *AndFilter:
		children = x.Filters
	case *OrFilter:
		children = x.Filters
	case *NotFilter:
		children = []Filter{x.Filter}
	}
	for _, c := range children {
		if err := WalkFilter(c, fn); err != nil {
			return err
		}
	}
	return nil
}

// Order is one sort key of a query.
type Order struct {
	Field string
	Desc  bool
}

// Asc sorts by field, ascending.
func Asc(field string) Order { return Order{Field: field} }

// Desc sorts by field, descending.
func Desc(field string) Order { return Order{Field: field, Desc: true} }

// Query is a read of one object: which records (Where), which fields
// (Fields), in which order (OrderBy), and how many at most (Limit).
//
// Native is the explicit escape hatch: a query in the CRM's own language (raw
// SOQL, FetchXML, a HubSpot search body) that the adapter sends as is. It is
// exclusive with Where, OrderBy and Limit, and nothing in it is escaped: never
// build it from untrusted input.
type Query struct {
	Object  string
	Fields  []string // nil selects the adapter's default fields (usually all)
	Where   Filter   // nil matches every record
	OrderBy []Order
	Limit   int // 0 means no limit

	// IncludeDeleted also returns deleted (archived) records still held by
	// the CRM, with Record.Deleted set.
	IncludeDeleted bool

	Native string
}

// Validate reports problems that no driver could accept: a missing object, a
// native query mixed with portable parts, a negative limit, a Compare with a
// nil value.
func (q *Query) Validate() error {
	if q.Object == "" && q.Native == "" {
		return &Error{Kind: KindInvalidRequest, Operation: "query", Message: "Query.Object is empty: name the CRM object to read, such as \"Contact\""}
	}
	if q.Native != "" && (q.Where != nil || len(q.OrderBy) > 0 || q.Limit != 0) {
		return &Error{Kind: KindInvalidRequest, Operation: "query", Object: q.Object, Message: "Query.Native cannot be combined with Where, OrderBy or Limit: put them in the native query"}
	}
	if q.Limit < 0 {
		return &Error{Kind: KindInvalidRequest, Operation: "query", Object: q.Object, Message: fmt.Sprintf("Query.Limit is %d: use 0 for no limit or a positive number", q.Limit)}
	}
	return WalkFilter(q.Where, func(f Filter) error {
		switch x := f.(type) {
		case *Compare:
			if x.Value == nil {
				return &Error{Kind: KindInvalidRequest, Operation: "query", Object: q.Object, Fields: []string{x.Field}, Message: fmt.Sprintf("filter %s %s compares with nil: use IsNull(%q) or NotNull(%q)", x.Field, x.Op, x.Field, x.Field)}
			}
			if x.Op == CmpContains {
				if _, ok := x.Value.(string); !ok {
					return &Error{Kind: KindInvalidRequest, Operation: "query", Object: q.Object, Fields: []string{x.Field}, Message: "Contains needs a string value"}
				}
			}
		case *OrFilter:
			if len(x.Filters) == 0 {
				return &Error{Kind: KindInvalidRequest, Operation: "query", Object: q.Object, Message: "an Or has no filters: it would match nothing (to match every record, leave Where nil)"}
			}
		case *AndFilter:
			if len(x.Filters) == 0 {
				return &Error{Kind: KindInvalidRequest, Operation: "query", Object: q.Object, Message: "an And has no filters: leave Where nil to match every record"}
			}
		case *NotFilter:
			if x.Filter == nil {
				return &Error{Kind: KindInvalidRequest, Operation: "query", Object: q.Object, Message: "Not(nil) negates nothing: give it a filter"}
			}
		case *InFilter:
			if len(x.Values) == 0 {
				return &Error{Kind: KindInvalidRequest, Operation: "query", Object: q.Object, Fields: []string{x.Field}, Message: fmt.Sprintf("In(%q) has no values: it would match nothing", x.Field)}
			}
		case *NullFilter, *ModifiedSinceFilter:
		}
		return nil
	})
}
