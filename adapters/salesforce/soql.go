package salesforce

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// maxLiteral is the longest string literal SOQL takes in a WHERE clause.
const maxLiteral = 4000

// maxURI is the longest request URI Salesforce takes; a GET query beyond it
// fails with 414.
const maxURI = 16384

// EscapeSOQL escapes text for use inside a single-quoted SOQL string
// literal: the backslash first, then the quote, as SOQL reserves exactly
// those two, and line breaks and tabs as their escape sequences, so that a
// value never ends the literal early. It does not add the quotes.
func EscapeSOQL(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// escapeLike escapes text for a LIKE pattern: as EscapeSOQL, and the
// wildcards % and _ so that they match themselves.
func escapeLike(s string) string {
	s = EscapeSOQL(s)
	s = strings.ReplaceAll(s, "%", `\%`)
	return strings.ReplaceAll(s, "_", `\_`)
}

// soqlTime formats a date-time literal: UTC, with milliseconds when the
// time has any, since SystemModstamp has millisecond precision.
func soqlTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
}

// compiler turns portable filters into SOQL for one object, checking every
// field against the object's schema (field names cannot be escaped, only
// allowed) and every value against its field's type.
type compiler struct {
	s  *sfSchema
	op string
}

func (c *compiler) fail(kind crm.Kind, field, format string, args ...any) error {
	e := &crm.Error{Kind: kind, CRM: Name, Operation: c.op, Object: c.s.schema.Object, Message: fmt.Sprintf(format, args...)}
	if field != "" {
		e.Fields = []string{field}
	}
	return e
}

func (c *compiler) field(name string, filter bool) (*sfField, error) {
	f, ok := c.s.field(name)
	if !ok {
		return nil, c.fail(crm.KindValidation, name, "%s has no field %q: check the name against Describe(%q)", c.s.schema.Object, name, c.s.schema.Object)
	}
	if filter && !f.filterable {
		return nil, c.fail(crm.KindValidation, f.Name, "%s.%s (%s) cannot be filtered in SOQL: filter on another field", c.s.schema.Object, f.Name, f.sfType)
	}
	return f, nil
}

// literal writes a value as a SOQL literal of the field's type.
func (c *compiler) literal(f *sfField, v any) (string, error) {
	nv, err := crm.NormalizeValue(f.Type, v)
	if err != nil && f.Type.Value() == crm.ValueInt64 {
		nv, err = crm.NormalizeValue(crm.TypeDecimal, v) // Score > 2.5 on an int field
	}
	if err != nil {
		return "", c.fail(crm.KindValidation, f.Name, "filter on %s.%s: %s", c.s.schema.Object, f.Name, strings.TrimPrefix(err.Error(), "crm: "))
	}
	switch x := nv.(type) {
	case string:
		if len([]rune(x)) > maxLiteral {
			return "", c.fail(crm.KindInvalidRequest, f.Name, "a filter value for %s is longer than the %d characters SOQL takes in a literal", f.Name, maxLiteral)
		}
		return "'" + EscapeSOQL(x) + "'", nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case crm.Decimal:
		return x.String(), nil
	case time.Time:
		return soqlTime(x), nil
	case crm.Date:
		return x.String(), nil
	case []string:
		return "'" + EscapeSOQL(strings.Join(x, ";")) + "'", nil
	}
	return "", c.fail(crm.KindInvalidRequest, f.Name, "filter on %s: a %T cannot be written as SOQL", f.Name, nv)
}

// where compiles a filter into a SOQL condition.
func (c *compiler) where(f crm.Filter) (string, error) {
	switch x := f.(type) {
	case *crm.Compare:
		fd, err := c.field(x.Field, true)
		if err != nil {
			return "", err
		}
		if x.Op == crm.CmpContains {
			s, ok := x.Value.(string)
			if !ok || fd.Type.Value() != crm.ValueString {
				return "", c.fail(crm.KindValidation, fd.Name, "Contains needs a text field and a string; %s is %s", fd.Name, fd.sfType)
			}
			if len([]rune(s)) > maxLiteral {
				return "", c.fail(crm.KindValidation, fd.Name, "the Contains value for %s is longer than the %d characters SOQL takes in a literal: shorten it", fd.Name, maxLiteral)
			}
			return fd.Name + " LIKE '%" + escapeLike(s) + "%'", nil
		}
		ops := map[crm.Operator]string{crm.CmpEq: "=", crm.CmpNe: "!=", crm.CmpGt: ">", crm.CmpGe: ">=", crm.CmpLt: "<", crm.CmpLe: "<="}
		op, ok := ops[x.Op]
		if !ok {
			return "", c.fail(crm.KindUnsupported, fd.Name, "operator %q is not one of crm's operators", x.Op)
		}
		if x.Value == nil {
			return "", c.fail(crm.KindInvalidRequest, fd.Name, "filter %s %s nil: use IsNull or NotNull", fd.Name, x.Op)
		}
		lit, err := c.literal(fd, x.Value)
		if err != nil {
			return "", err
		}
		return fd.Name + " " + op + " " + lit, nil
	case *crm.InFilter:
		fd, err := c.field(x.Field, true)
		if err != nil {
			return "", err
		}
		if len(x.Values) == 0 {
			return "", c.fail(crm.KindInvalidRequest, fd.Name, "In(%q) has no values: it would match nothing", fd.Name)
		}
		lits := make([]string, len(x.Values))
		for i, v := range x.Values {
			if lits[i], err = c.literal(fd, v); err != nil {
				return "", err
			}
		}
		return fd.Name + " IN (" + strings.Join(lits, ", ") + ")", nil
	case *crm.NullFilter:
		fd, err := c.field(x.Field, true)
		if err != nil {
			return "", err
		}
		if x.IsNull {
			return fd.Name + " = null", nil
		}
		return fd.Name + " != null", nil
	case *crm.ModifiedSinceFilter:
		if c.s.schema.ModifiedField == "" {
			return "", c.fail(crm.KindUnsupported, "", "%s has no SystemModstamp, so ModifiedSince cannot be applied", c.s.schema.Object)
		}
		return c.s.schema.ModifiedField + " >= " + soqlTime(x.Time), nil
	case *crm.AndFilter:
		return c.join(x.Filters, " AND ", "Id != null")
	case *crm.OrFilter:
		return c.join(x.Filters, " OR ", "Id = null")
	case *crm.NotFilter:
		if x.Filter == nil {
			return "", c.fail(crm.KindInvalidRequest, "", "Not(nil) negates nothing: give Not a filter")
		}
		if in, ok := x.Filter.(*crm.InFilter); ok {
			s, err := c.where(in)
			if err != nil {
				return "", err
			}
			name, rest, _ := strings.Cut(s, " IN (")
			return name + " NOT IN (" + rest, nil
		}
		s, err := c.where(x.Filter)
		if err != nil {
			return "", err
		}
		return "(NOT (" + s + "))", nil
	case nil:
		return "", nil
	}
	return "", c.fail(crm.KindUnsupported, "", "filter type %T is not one of crm's filter types: build filters with crm.Eq, crm.And and the like", f)
}

// join writes filters joined by AND or OR, each in parentheses, since SOQL
// refuses the two mixed without them; empty is the given condition.
func (c *compiler) join(fs []crm.Filter, sep, empty string) (string, error) {
	if len(fs) == 0 {
		return empty, nil
	}
	parts := make([]string, 0, len(fs))
	for _, f := range fs {
		s, err := c.where(f)
		if err != nil {
			return "", err
		}
		parts = append(parts, "("+s+")")
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return "(" + strings.Join(parts, sep) + ")", nil
}

// selectList resolves the fields to read: the named ones (nil for every
// field the driver knows), always with Id, SystemModstamp, and IsDeleted
// when deleted rows are read, so that records carry their id, version and
// state.
func (c *compiler) selectList(names []string, deleted bool) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if f, ok := c.s.field(n); ok && !seen[f.Name] {
			seen[f.Name] = true
			out = append(out, f.Name)
		}
	}
	add("Id")
	if names == nil {
		for _, n := range c.s.names {
			add(n)
		}
	}
	for _, n := range names {
		if _, err := c.field(n, false); err != nil {
			return nil, err
		}
		add(n)
	}
	add("SystemModstamp")
	if deleted {
		add("IsDeleted")
	}
	return out, nil
}

// buildSOQL writes a portable query as SOQL.
func (c *compiler) buildSOQL(q *crm.Query) (string, error) {
	fields, err := c.selectList(q.Fields, q.IncludeDeleted)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(fields, ", "))
	b.WriteString(" FROM ")
	b.WriteString(c.s.schema.Object)
	if q.Where != nil {
		w, err := c.where(q.Where)
		if err != nil {
			return "", err
		}
		if w != "" {
			b.WriteString(" WHERE ")
			b.WriteString(w)
		}
	}
	for i, o := range q.OrderBy {
		f, err := c.field(o.Field, false)
		if err != nil {
			return "", err
		}
		if !f.sortable {
			return "", c.fail(crm.KindValidation, f.Name, "%s.%s (%s) cannot be sorted in SOQL: order by another field", c.s.schema.Object, f.Name, f.sfType)
		}
		if i == 0 {
			b.WriteString(" ORDER BY ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
		if o.Desc {
			b.WriteString(" DESC")
		} else {
			b.WriteString(" ASC")
		}
	}
	if q.Limit > 0 {
		b.WriteString(" LIMIT ")
		b.WriteString(strconv.Itoa(q.Limit))
	}
	return b.String(), nil
}
