package sqltable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// ParseCursor reads a cursor that Changes returned: the highest version the
// feed has reported, in decimal; "" is the beginning (0). Anything else is
// refused with KindInvalidRequest.
func ParseCursor(cursor string) (int64, error) {
	if cursor == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(cursor, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != cursor {
		return 0, &crm.Error{Kind: crm.KindInvalidRequest, CRM: "sqltable", Operation: "changes",
			Message: fmt.Sprintf("cursor %q is not one a sqltable endpoint made (want a version number, or empty to start over)", clip(cursor))}
	}
	return n, nil
}

// encode converts a normalised value to what the dialect stores for a column
// of kind k. It refuses a value of another kind.
func encode(d Dialect, k crm.ValueKind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if got := crm.ValueKindOf(v); got != k {
		if got == crm.ValueUnknown {
			return nil, fmt.Errorf("got a %T, which is not a normalised value; want %s", v, k)
		}
		return nil, fmt.Errorf("the column holds %s values; got a %s", k, got)
	}
	switch x := v.(type) {
	case crm.Decimal:
		return x.String(), nil
	case crm.Date:
		if x.Year < 1 || x.Year > 9999 {
			return nil, fmt.Errorf("the year %d is outside 0001-9999, which YYYY-MM-DD text can hold", x.Year)
		}
		if crm.DateOf(x.In(time.UTC)) != x {
			return nil, errors.New("the crm.Date is not a calendar date (month 1-12, a day the month has)")
		}
		return x.String(), nil
	case time.Time:
		if y := x.UTC().Year(); y < 1 || y > 9999 {
			return nil, fmt.Errorf("the year %d is outside 0001-9999, which RFC 3339 text and timestamptz can hold", y)
		}
		if d == PostgreSQL {
			return x.UTC(), nil
		}
		return x.UTC().Format(time.RFC3339Nano), nil
	case []string:
		if x == nil {
			x = []string{}
		}
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	}
	return v, nil // string, bool, int64: every driver binds them as they are
}

// decode converts a value read from the database (as database/sql scans it
// into an any) to the normalised value of kind k. It is lenient with what
// applications store by hand (integers in a TEXT column, 0 and 1 for
// booleans, SQLite's "YYYY-MM-DD HH:MM:SS" times) and never panics; a value
// it cannot read exactly is an error that leaves the value out.
func decode(k crm.ValueKind, v any) (any, error) {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if v == nil {
		return nil, nil
	}
	bad := func() (any, error) {
		return nil, fmt.Errorf("the database holds a %T that is not a valid %s", v, k)
	}
	switch k {
	case crm.ValueString:
		switch x := v.(type) {
		case string:
			return x, nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		case bool:
			return strconv.FormatBool(x), nil
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano), nil
		}
	case crm.ValueBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			if x == 0 || x == 1 {
				return x == 1, nil
			}
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "1", "t", "true":
				return true, nil
			case "0", "f", "false":
				return false, nil
			}
		}
	case crm.ValueInt64:
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return int64(x), nil
			}
		case string:
			if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				return n, nil
			}
		}
	case crm.ValueDecimal:
		switch x := v.(type) {
		case string:
			if d, err := crm.ParseDecimal(strings.TrimSpace(x)); err == nil {
				return d, nil
			}
		case int64:
			return crm.NewDecimal(x, 0), nil
		case float64:
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				if d, err := crm.ParseDecimal(strconv.FormatFloat(x, 'g', -1, 64)); err == nil {
					return d, nil
				}
			}
		}
	case crm.ValueTime:
		var t time.Time
		switch x := v.(type) {
		case time.Time:
			t = x.UTC()
		case string:
			p, err := parseTime(x)
			if err != nil {
				return nil, err
			}
			t = p
		default:
			return bad()
		}
		if y := t.Year(); y < 1 || y > 9999 {
			return nil, fmt.Errorf("the database holds a date-time in the year %d, outside 0001-9999", y)
		}
		return t, nil
	case crm.ValueDate:
		switch x := v.(type) {
		case time.Time:
			if y := x.Year(); y >= 1 && y <= 9999 {
				return crm.DateOf(x), nil
			}
		case string:
			s := x
			if len(s) > 10 && (s[10] == 'T' || s[10] == ' ') {
				s = s[:10]
			}
			if d, err := crm.ParseDate(s); err == nil {
				return d, nil
			}
		}
	case crm.ValueStrings:
		if x, ok := v.(string); ok {
			var ss []string
			if err := json.Unmarshal([]byte(x), &ss); err == nil {
				if ss == nil && strings.TrimSpace(x) == "null" {
					return nil, nil
				}
				if ss == nil {
					ss = []string{}
				}
				return ss, nil
			}
		}
	}
	return bad()
}

// parseTime reads the time forms found in SQL columns: RFC 3339, and
// SQLite's own "YYYY-MM-DD HH:MM:SS[.SSS]" (UTC, as CURRENT_TIMESTAMP writes).
func parseTime(s string) (time.Time, error) {
	if t, err := crm.ParseTime(s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("the database holds text that is not a date-time (want RFC 3339)")
}

// decodeID renders a primary key as the engine's id string.
func decodeID(v any) (string, error) {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10), nil
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	}
	return "", fmt.Errorf("the id column holds a %T, want an integer or text", v)
}

// decodeVersion reads the version column; NULL is no version (-1).
func decodeVersion(v any) (int64, error) {
	n, err := decode(crm.ValueInt64, v)
	if err != nil {
		return 0, errors.New("the version column holds a value that is not an integer")
	}
	if n == nil {
		return -1, nil
	}
	return n.(int64), nil
}

// truthy reads the deleted column: NULL and 0 are live, anything else deleted.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case []byte:
		return truthy(string(x))
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "", "0", "f", "false":
			return false
		}
	}
	return true
}

// failure classifies a database error of one write.
type failure struct {
	kind    crm.Kind
	columns []string // the columns the database names, when it does
	message string   // safe to show: no values
}

var (
	sqliteColumns = regexp.MustCompile(`(?:UNIQUE|NOT NULL|PRIMARY KEY|CHECK) constraint failed: ([A-Za-z0-9_."]+(?:, [A-Za-z0-9_."]+)*)`)
	pgColumn      = regexp.MustCompile(`column "([A-Za-z0-9_]+)"`)
)

// recordFailure reports whether err is a failure of the one record being
// written (a constraint or a value the database refused) rather than of the
// call (a lost connection, a busy database, a cancelled context).
func recordFailure(ctx context.Context, err error) (failure, bool) {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return failure{}, false
	}
	var sqlstate interface{ SQLState() string }
	if errors.As(err, &sqlstate) {
		state := sqlstate.SQLState()
		msg := err.Error()
		f := failure{kind: crm.KindValidation, message: msg}
		if m := pgColumn.FindStringSubmatch(msg); m != nil {
			f.columns = []string{m[1]}
		}
		switch {
		case state == "23505":
			f.kind = crm.KindDuplicate
		case strings.HasPrefix(state, "23"):
		case strings.HasPrefix(state, "22"):
			// Data exceptions may quote the value; keep it out.
			f.message = "the database refused a value (SQLSTATE " + state + ")"
		default:
			return failure{}, false
		}
		return f, true
	}
	var coded interface{ Code() int }
	msg := err.Error()
	switch {
	case errors.As(err, &coded):
		switch code := coded.Code(); code & 0xff {
		case 19: // SQLITE_CONSTRAINT
			f := failure{kind: crm.KindValidation, message: msg, columns: sqliteColumnsOf(msg)}
			if code == 2067 || code == 1555 { // _UNIQUE, _PRIMARYKEY
				f.kind = crm.KindDuplicate
			}
			return f, true
		case 18, 20: // SQLITE_TOOBIG, SQLITE_MISMATCH
			return failure{kind: crm.KindValidation, message: msg}, true
		}
		return failure{}, false
	case strings.Contains(msg, "constraint failed"): // SQLite drivers without a Code method
		f := failure{kind: crm.KindValidation, message: msg, columns: sqliteColumnsOf(msg)}
		if strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "PRIMARY KEY constraint failed") {
			f.kind = crm.KindDuplicate
		}
		return f, true
	}
	return failure{}, false
}

// sqliteColumnsOf reads the columns of "UNIQUE constraint failed: t.a, t.b".
func sqliteColumnsOf(msg string) []string {
	m := sqliteColumns.FindStringSubmatch(msg)
	if m == nil {
		return nil
	}
	var out []string
	for _, part := range strings.Split(m[1], ", ") {
		if i := strings.LastIndexByte(part, '.'); i >= 0 {
			part = part[i+1:]
		}
		out = append(out, strings.Trim(part, `"`))
	}
	return out
}

// callError wraps a failure of a whole call. Transient database conditions
// (a busy or locked SQLite file, a serialization failure, a lost
// connection) become KindUnavailable so the engine retries them; a
// cancelled context stays itself.
func callError(op, table string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqltable: %s %s: %w", op, table, err)
	}
	transient := false
	var sqlstate interface{ SQLState() string }
	var coded interface{ Code() int }
	switch {
	case errors.As(err, &sqlstate):
		s := sqlstate.SQLState()
		transient = s == "40001" || s == "40P01" || strings.HasPrefix(s, "08") || strings.HasPrefix(s, "53") || strings.HasPrefix(s, "57P")
	case errors.As(err, &coded):
		c := coded.Code() & 0xff
		transient = c == 5 || c == 6 // SQLITE_BUSY, SQLITE_LOCKED
	}
	if transient {
		return &crm.Error{Kind: crm.KindUnavailable, CRM: "sqltable", Operation: op, Object: table, Err: err}
	}
	return fmt.Errorf("sqltable: %s %s: %w", op, table, err)
}
