package salesforcetest

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
)

// soapTypes are the soapType values describe reports.
var soapTypes = map[string]string{
	"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int", "long": "xsd:long",
	"double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double", "date": "xsd:date",
	"datetime": "xsd:dateTime", "time": "xsd:time",
}

func soapType(t string) string {
	if s, ok := soapTypes[t]; ok {
		return s
	}
	return "xsd:string"
}

// javaType names a type as Salesforce's JSON parser does in its errors.
func javaType(t string) string {
	switch t {
	case "boolean":
		return "boolean"
	case "int":
		return "int"
	case "long":
		return "long"
	case "double", "currency", "percent":
		return "double"
	case "date":
		return "date"
	case "datetime":
		return "datetime"
	}
	return "String"
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "VALUE_STRING"
	case json.Number:
		return "VALUE_NUMBER"
	case bool:
		return "VALUE_TRUE"
	case []any:
		return "START_ARRAY"
	case map[string]any:
		return "START_OBJECT"
	}
	return "VALUE_NULL"
}

func clipText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "..."
}

// fromJSON converts a value decoded from a request body (with UseNumber) to
// the store's form for the field, as Salesforce's JSON parser does. A value
// it cannot read is a JSON_PARSER_ERROR.
func fromJSON(f *field, v any) (any, *apiError) {
	if v == nil {
		return nil, nil
	}
	bad := func() (any, *apiError) {
		text := fmt.Sprint(v)
		if _, ok := v.(map[string]any); ok {
			text = "{...}"
		}
		return nil, &apiError{Code: "JSON_PARSER_ERROR", Message: fmt.Sprintf("Cannot deserialize instance of %s from %s value %s or request may be missing a required field",
			javaType(f.Type), jsonKind(v), clipText(text, 64))}
	}
	switch f.Type {
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return b, nil
			}
		}
		return bad()
	case "int", "long":
		var text string
		switch x := v.(type) {
		case json.Number:
			text = x.String()
		case string:
			text = strings.TrimSpace(x)
		default:
			return bad()
		}
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n, nil
		}
		if d, err := crm.ParseDecimal(text); err == nil {
			if n, ok := d.Round(0).Int64(); ok {
				return n, nil
			}
		}
		return bad()
	case "double", "currency", "percent":
		var text string
		switch x := v.(type) {
		case json.Number:
			text = x.String()
		case string:
			text = strings.TrimSpace(x)
		default:
			return bad()
		}
		d, err := crm.ParseDecimal(text)
		if err != nil {
			return bad()
		}
		return d.Round(int32(f.Scale)), nil
	case "date":
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		if len(s) > 10 && s[10] == 'T' {
			s = s[:10]
		}
		d, err := crm.ParseDate(s)
		if err != nil {
			return bad()
		}
		return d, nil
	case "datetime":
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		if t, err := crm.ParseTime(s); err == nil {
			return t.Truncate(time.Millisecond), nil
		}
		if d, err := crm.ParseDate(s); err == nil {
			return d.In(time.UTC), nil
		}
		return bad()
	case "multipicklist":
		switch x := v.(type) {
		case string:
			if x == "" {
				return nil, nil
			}
			parts := strings.Split(x, ";")
			for i := range parts {
				parts[i] = strings.TrimSpace(parts[i])
			}
			return parts, nil
		case []any:
			out := make([]string, 0, len(x))
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return bad()
				}
				out = append(out, s)
			}
			return out, nil
		}
		return bad()
	}
	// Text, picklists, ids and references. Salesforce stores an empty
	// string as null.
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil, nil
		}
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return bad()
}

// sfTime formats a time as Salesforce's REST API does.
const sfTime = "2006-01-02T15:04:05.000-0700"

// appendValue appends a stored value as Salesforce renders it in JSON.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case crm.Decimal:
		return append(b, x.String()...)
	case time.Time:
		b = append(b, '"')
		b = x.UTC().AppendFormat(b, sfTime)
		return append(b, '"')
	case crm.Date:
		return appendString(b, x.String())
	case []string:
		return appendString(b, strings.Join(x, ";"))
	}
	return appendString(b, fmt.Sprint(v))
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// intDigits counts the digits before the point of a decimal.
func intDigits(d crm.Decimal) int {
	r := d.Rat()
	q := new(big.Int).Quo(r.Num(), r.Denom())
	q.Abs(q)
	if q.Sign() == 0 {
		return 0
	}
	return len(q.String())
}
