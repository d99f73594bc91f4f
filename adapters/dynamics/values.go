package dynamics

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// This file converts between crmkit's values and the Web API's JSON: option
// sets as numbers, lookups as _x_value GUIDs read and @odata.bind written,
// DateOnly columns as calendar dates that never shift a day,
// TimeZoneIndependent columns as wall-clock times, money as exact decimals.

var guidRE = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

func isGUID(s string) bool { return guidRE.MatchString(s) }

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

const wireTime = "2006-01-02T15:04:05Z"

// decodeRow turns one JSON row into a record. Columns the definition does
// not know are left out.
func decodeRow(t *table, row map[string]any) (*crm.Record, error) {
	r := &crm.Record{Object: t.logical, Fields: crm.Fields{}}
	if v, ok := row["@odata.etag"].(string); ok {
		r.Version = v
	}
	for k, v := range row {
		if strings.Contains(k, "@") {
			continue
		}
		name := k
		if strings.HasPrefix(k, "_") && strings.HasSuffix(k, "_value") {
			name = k[1 : len(k)-len("_value")]
		}
		c := t.col(name)
		if c == nil || c.wire() != k {
			continue
		}
		val, err := c.decode(v)
		if err != nil {
			return nil, &crm.Error{Kind: crm.KindUnknown, CRM: Name, Operation: "read", Object: t.logical, Fields: []string{c.name},
				Message: fmt.Sprintf("column %s holds a value the driver cannot read as %s: %v", c.name, c.field.Type, err)}
		}
		r.Fields[c.name] = val
	}
	id, _ := r.Fields[t.pk].(string)
	r.ID = id
	if m, ok := r.Fields["modifiedon"].(time.Time); ok {
		r.ModifiedAt = m
	}
	return r, nil
}

// decode converts a JSON value of the column to crmkit's value.
func (c *column) decode(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.field.Type {
	case crm.TypeMultiPicklist:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("a %T, want the comma-separated option values", v)
		}
		if s == "" {
			return []string{}, nil
		}
		out := strings.Split(s, ",")
		for i := range out {
			out[i] = strings.TrimSpace(out[i])
		}
		return out, nil
	case crm.TypePicklist:
		switch x := v.(type) {
		case json.Number:
			return x.String(), nil
		case string:
			return x, nil
		}
		return nil, fmt.Errorf("a %T, want an option value", v)
	case crm.TypeDate:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("a %T, want a date", v)
		}
		// A DateOnly column is a calendar date: take it as written, never
		// through a time zone.
		if len(s) > 10 && s[10] == 'T' {
			s = s[:10]
		}
		return crm.ParseDate(s)
	case crm.TypeID, crm.TypeReference:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("a %T, want a GUID", v)
		}
		return strings.ToLower(s), nil
	}
	return crm.NormalizeValue(c.field.Type, v)
}

// encode converts a crmkit value for the column to its JSON form, and
// returns the JSON property it goes under: the column, or for a lookup
// "<navigation property>@odata.bind" with a reference to the record.
func (d *Driver) encode(c *column, v any, setOf func(string) (string, error)) (string, any, error) {
	if c.isLookup() {
		key := c.nav + "@odata.bind"
		if v == nil {
			return key, nil, nil
		}
		s, ok := v.(string)
		if !ok {
			return "", nil, fmt.Errorf("a %T, want the GUID of the record it points to", v)
		}
		if strings.HasPrefix(s, "/") || strings.Contains(s, "(") {
			return key, s, nil // already a reference, such as /contacts(<guid>)
		}
		if !isGUID(s) {
			return "", nil, fmt.Errorf("%q is not a GUID: a lookup takes the id of the record it points to", clip(s))
		}
		if len(c.targets) != 1 {
			return "", nil, fmt.Errorf("the lookup can point to %s: give a reference such as /%s(<guid>) to say which", strings.Join(c.targets, " or "), c.targets[0]+"s")
		}
		set, err := setOf(c.targets[0])
		if err != nil {
			return "", nil, err
		}
		return key, "/" + set + "(" + strings.ToLower(s) + ")", nil
	}
	if v == nil {
		return c.name, nil, nil
	}
	switch c.field.Type {
	case crm.TypePicklist:
		n, err := c.optionValue(v)
		if err != nil {
			return "", nil, err
		}
		return c.name, n, nil
	case crm.TypeMultiPicklist:
		var items []any
		switch x := v.(type) {
		case []string:
			for _, s := range x {
				items = append(items, s)
			}
		case []int:
			for _, n := range x {
				items = append(items, n)
			}
		case []any:
			items = x
		case string:
			for _, s := range strings.FieldsFunc(x, func(r rune) bool { return r == ';' || r == ',' }) {
				items = append(items, strings.TrimSpace(s))
			}
		default:
			return "", nil, fmt.Errorf("a %T, want a []string of option values or labels", v)
		}
		nums := make([]string, len(items))
		for i, it := range items {
			n, err := c.optionValue(it)
			if err != nil {
				return "", nil, err
			}
			nums[i] = strconv.Itoa(n)
		}
		return c.name, strings.Join(nums, ","), nil
	case crm.TypeDateTime:
		if c.behavior == BehaviorTimeZoneIndependent {
			s, err := wallClock(v)
			if err != nil {
				return "", nil, err
			}
			return c.name, s, nil
		}
	}
	nv, err := crm.NormalizeValue(c.field.Type, v)
	if err != nil {
		return "", nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "crm: "))
	}
	switch x := nv.(type) {
	case crm.Decimal:
		return c.name, json.RawMessage(x.String()), nil
	case time.Time:
		return c.name, x.UTC().Format(wireTime), nil
	case crm.Date:
		return c.name, x.String(), nil
	case int64:
		if c.attrType == "Integer" && (x < -2147483648 || x > 2147483647) {
			return "", nil, fmt.Errorf("%d is outside the range of a whole number column", x)
		}
	}
	return c.name, nv, nil
}

// wallClock renders a value of a TimeZoneIndependent column: the wall-clock
// time as the caller wrote it, in a time.Time's own zone or a string's,
// since Dataverse stores it without conversion and the Z it carries is not
// a real UTC. Writes and filters both use it, so that they agree.
func wallClock(v any) (string, error) {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case string:
		p, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			if p, err = time.Parse("2006-01-02T15:04:05", x); err != nil {
				return "", fmt.Errorf("%q is not a date-time (want RFC 3339, e.g. 2026-11-27T09:00:00)", clip(x))
			}
		}
		t = p
	default:
		return "", fmt.Errorf("a %T, want a time.Time", v)
	}
	return t.Format("2006-01-02T15:04:05") + "Z", nil
}

// optionValue finds an option by its number (as an int or its text) or by
// its label.
func (c *column) optionValue(v any) (int, error) {
	var text string
	switch x := v.(type) {
	case int:
		text = strconv.Itoa(x)
	case int32:
		text = strconv.Itoa(int(x))
	case int64:
		text = strconv.FormatInt(x, 10)
	case json.Number:
		text = x.String()
	case string:
		text = strings.TrimSpace(x)
	default:
		return 0, fmt.Errorf("a %T, want an option value (a number) or label", v)
	}
	if n, err := strconv.Atoi(text); err == nil {
		if len(c.options) == 0 || slices.ContainsFunc(c.options, func(o option) bool { return o.value == n }) {
			return n, nil
		}
	}
	for _, o := range c.options {
		if strings.EqualFold(o.label, text) {
			return o.value, nil
		}
	}
	return 0, fmt.Errorf("%q is not one of its options: use one of %s", clip(text), c.optionList())
}

func (c *column) optionList() string {
	parts := make([]string, len(c.options))
	for i, o := range c.options {
		parts[i] = fmt.Sprintf("%d (%s)", o.value, o.label)
	}
	return strings.Join(parts, ", ")
}

func clip(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:61]) + "..."
	}
	return s
}

// literal renders a filter or key value of the column as an OData literal:
// a string quoted with its quotes doubled; GUIDs, numbers, dates and
// date-times bare; options as their numbers.
func (c *column) literal(v any) (string, error) {
	switch c.field.Type {
	case crm.TypeID, crm.TypeReference:
		s, ok := v.(string)
		if !ok || !isGUID(s) {
			return "", fmt.Errorf("%v is not a GUID", v)
		}
		return strings.ToLower(s), nil
	case crm.TypePicklist:
		n, err := c.optionValue(v)
		if err != nil {
			return "", err
		}
		return strconv.Itoa(n), nil
	case crm.TypeMultiPicklist:
		return "", fmt.Errorf("a multi-select choice column cannot be compared with a single value")
	case crm.TypeInt:
		nv, err := crm.NormalizeValue(crm.TypeInt, v)
		if err != nil {
			d, derr := crm.NormalizeValue(crm.TypeDecimal, v)
			if derr != nil {
				return "", fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "crm: "))
			}
			return d.(crm.Decimal).String(), nil
		}
		return strconv.FormatInt(nv.(int64), 10), nil
	case crm.TypeDateTime:
		if c.behavior == BehaviorTimeZoneIndependent {
			// As written, so that a filter finds what a write stored.
			return wallClock(v)
		}
	}
	nv, err := crm.NormalizeValue(c.field.Type, v)
	if err != nil {
		return "", fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "crm: "))
	}
	return literalOf(nv), nil
}

// literalOf renders a normalised value as an OData literal.
func literalOf(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case crm.Decimal:
		return x.String()
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case crm.Date:
		return x.String()
	}
	return "'" + strings.ReplaceAll(fmt.Sprint(v), "'", "''") + "'"
}
