package crm

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// NormalizeValue converts v to the Go value that a field of type t carries
// (see [FieldType.Value]). Adapters call it on values decoded from the wire;
// applications may call it on values they build. nil stays nil (null).
//
// It accepts the usual encodings of each type: numbers as int, float64,
// json.Number or numeric strings; times as time.Time or RFC 3339 strings;
// dates as Date, time.Time or "YYYY-MM-DD"; multi-select values as []string,
// []any or a ";"-joined string (the Salesforce and HubSpot wire form).
// A value that cannot be converted exactly gives an error that says what was
// expected; a float64 with a fractional part is never accepted for an int.
func NormalizeValue(t FieldType, v any) (any, error) {
	out, err := normalize(t, v)
	if err != nil && !errors.Is(err, errUnknownType) {
		// The value itself stays out of the message: errors reach logs and
		// spans, and a field value may be personal data.
		return nil, fmt.Errorf("crm: a %T is not a valid %s value: want %s", v, t, valueHint(t.Value()))
	}
	return out, err
}

var errUnknownType = errors.New("unknown field type")

func valueHint(k ValueKind) string {
	switch k {
	case ValueString:
		return "a string"
	case ValueBool:
		return "a bool, or the text true or false"
	case ValueInt64:
		return "a whole number (int64, or digits as text)"
	case ValueDecimal:
		return "an exact number (crm.Decimal, or text such as -12.50 or 1e3)"
	case ValueTime:
		return "a time.Time, or RFC 3339 text such as 2026-11-27T13:00:00Z"
	case ValueDate:
		return "a crm.Date, or text such as 2026-11-27"
	case ValueStrings:
		return `a []string, or ";"-separated text`
	}
	return string(k)
}

func normalize(t FieldType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t.Value() {
	case ValueString:
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case Decimal:
			return x.String(), nil
		case Date:
			return x.String(), nil
		case int, int32, int64, bool:
			return fmt.Sprint(x), nil
		}
	case ValueBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return b, nil
			}
		}
	case ValueInt64:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return int64(x), nil
			}
		case json.Number:
			if n, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
				return n, nil
			}
			if d, err := ParseDecimal(x.String()); err == nil {
				if n, ok := d.Int64(); ok {
					return n, nil
				}
			}
		case string:
			if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				return n, nil
			}
		case Decimal:
			if n, ok := x.Int64(); ok {
				return n, nil
			}
		}
	case ValueDecimal:
		switch x := v.(type) {
		case Decimal:
			return x, nil
		case int64:
			return NewDecimal(x, 0), nil
		case int:
			return NewDecimal(int64(x), 0), nil
		case json.Number:
			return ParseDecimal(x.String())
		case string:
			return ParseDecimal(strings.TrimSpace(x))
		case float64:
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				// The shortest text that reads back as x: what the CRM sent.
				return ParseDecimal(strconv.FormatFloat(x, 'g', -1, 64))
			}
		}
	case ValueTime:
		switch x := v.(type) {
		case time.Time:
			return x.UTC(), nil
		case string:
			if ts, err := ParseTime(x); err == nil {
				return ts, nil
			}
		}
	case ValueDate:
		switch x := v.(type) {
		case Date:
			return x, nil
		case time.Time:
			return DateOf(x), nil
		case string:
			s := x
			if len(s) > 10 && s[10] == 'T' {
				// A date-only field sent as midnight: keep the calendar date as written.
				s = s[:10]
			}
			return ParseDate(s)
		}
	case ValueStrings:
		switch x := v.(type) {
		case []string:
			return slices.Clone(x), nil
		case string:
			if x == "" {
				return []string{}, nil
			}
			return strings.Split(x, ";"), nil
		case []any:
			out := make([]string, 0, len(x))
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("crm: a %s value must hold strings, got %T", t, e)
				}
				out = append(out, s)
			}
			return out, nil
		}
	default:
		return nil, fmt.Errorf("crm: field type %q is not one crmkit knows: %w", t, errUnknownType)
	}
	return nil, errNoConversion
}

var errNoConversion = errors.New("no exact conversion")

// clip shortens text for an error message, on a character boundary.
func clip(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:61]) + "..."
	}
	return s
}

// ParseTime parses the date-time forms CRMs send: RFC 3339 with or without
// fractional seconds, Salesforce's "+0000" offsets, and Unix milliseconds
// (HubSpot). The result is in UTC.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && len(s) >= 12 {
		return time.UnixMilli(ms).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("crm: %q is not a date-time (want RFC 3339, e.g. 2026-11-27T13:00:00Z)", clip(s))
}

// EqualValues reports whether two normalised values are the same value:
// decimals by value, times by instant, multi-selects element by element.
func EqualValues(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	switch x := a.(type) {
	case Decimal:
		y, ok := b.(Decimal)
		return ok && x.Equal(y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []string:
		y, ok := b.([]string)
		return ok && slices.Equal(x, y)
	}
	// Values outside the normalised kinds (a []any from JSON, say) may not be
	// comparable with ==, which would panic.
	if !reflect.TypeOf(a).Comparable() || !reflect.TypeOf(b).Comparable() {
		return false
	}
	return a == b
}

// CompareValues orders two normalised values of the same kind. It reports
// false when they cannot be ordered (different kinds, booleans, multi-selects,
// or nil).
func CompareValues(a, b any) (int, bool) {
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	case int64:
		switch y := b.(type) {
		case int64:
			return cmpInt(x, y), true
		case Decimal:
			return NewDecimal(x, 0).Cmp(y), true
		}
	case Decimal:
		switch y := b.(type) {
		case Decimal:
			return x.Cmp(y), true
		case int64:
			return x.Cmp(NewDecimal(y, 0)), true
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y), true
		}
	case Date:
		if y, ok := b.(Date); ok {
			return x.Compare(y), true
		}
	}
	return 0, false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
