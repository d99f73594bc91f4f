package hubspot

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// wireRecord is a record as HubSpot sends it. Property values are strings,
// or null for a requested property without a value.
type wireRecord struct {
	ID                 string         `json:"id"`
	Properties         map[string]any `json:"properties"`
	CreatedAt          string         `json:"createdAt"`
	UpdatedAt          string         `json:"updatedAt"`
	Archived           bool           `json:"archived"`
	ArchivedAt         string         `json:"archivedAt"`
	New                *bool          `json:"new"`
	ObjectWriteTraceID string         `json:"objectWriteTraceId"`
}

// timeLayout is how HubSpot writes datetimes: UTC with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"

// toRecord converts a wire record: each value by its property's described
// type. A property asked for but absent (HubSpot leaves out empty ones) is
// present with nil. Values that do not parse as their type are kept as the
// text HubSpot sent.
func toRecord(object string, s *crm.Schema, w *wireRecord, requested []string) *crm.Record {
	r := &crm.Record{Object: object, ID: w.ID, Fields: make(crm.Fields, len(w.Properties)+len(requested)), Deleted: w.Archived, Version: w.UpdatedAt}
	if t, err := crm.ParseTime(w.UpdatedAt); err == nil {
		r.ModifiedAt = t
	}
	if w.Archived && w.ArchivedAt != "" {
		if t, err := crm.ParseTime(w.ArchivedAt); err == nil {
			r.ModifiedAt = t
		}
	}
	for _, name := range requested {
		if f, ok := s.Field(name); ok {
			name = f.Name
		}
		r.Fields[name] = nil
	}
	for name, v := range w.Properties {
		var f *crm.Field
		if s != nil {
			f, _ = s.Field(name)
		}
		r.Fields[name] = fromWire(f, v)
	}
	return r
}

// fromWire converts one property value from the wire.
func fromWire(f *crm.Field, v any) any {
	var text string
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		text = x
	case json.Number:
		text = x.String()
	case bool:
		text = strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
	if f == nil {
		return text
	}
	if text == "" {
		return nil // HubSpot clears a property to ""; crmkit calls that null
	}
	switch f.Type {
	case crm.TypeDate:
		if ms, err := strconv.ParseInt(text, 10, 64); err == nil {
			return crm.DateOf(time.UnixMilli(ms).UTC())
		}
	case crm.TypeDateTime:
		if t, err := crm.ParseTime(text); err == nil {
			return t
		}
		if ms, err := strconv.ParseInt(text, 10, 64); err == nil {
			return time.UnixMilli(ms).UTC()
		}
		return text
	}
	if out, err := crm.NormalizeValue(f.Type, text); err == nil {
		return out
	}
	return text
}

// toWire renders a value as the string HubSpot takes; nil clears the
// property, which HubSpot does with "". f may be nil when the object could
// not be described.
func toWire(f *crm.Field, v any) (string, error) {
	if v == nil {
		return "", nil
	}
	if f != nil {
		switch f.Type {
		case crm.TypeDate:
			switch x := v.(type) {
			case crm.Date:
				return x.String(), nil
			case time.Time:
				return crm.DateOf(x.UTC()).String(), nil
			}
		case crm.TypeDateTime:
			switch x := v.(type) {
			case time.Time:
				return x.UTC().Format(timeLayout), nil
			case crm.Date:
				return x.In(time.UTC).Format(timeLayout), nil
			}
		}
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint, uint32, uint64:
		return fmt.Sprint(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("%v is not a number HubSpot can store", x)
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
	case json.Number:
		return x.String(), nil
	case crm.Decimal:
		return x.String(), nil
	case time.Time:
		return x.UTC().Format(timeLayout), nil
	case crm.Date:
		return x.String(), nil
	case []string:
		return strings.Join(x, ";"), nil
	case fmt.Stringer:
		return x.String(), nil
	}
	return "", fmt.Errorf("a %s cannot be sent to HubSpot: use a string, bool, number, crm.Decimal, time.Time, crm.Date or []string", reflect.TypeOf(v))
}

// filterValue renders a filter literal for search: datetimes and dates as
// epoch milliseconds (dates at midnight UTC), numbers exactly, text as is.
// The literal is first normalised to the field's type, so a wrong type is
// caught here, naming the field.
func filterValue(s *crm.Schema, f *crm.Field, v any) (string, error) {
	bad := func(err error) error {
		return &crm.Error{Kind: crm.KindValidation, CRM: Name, Operation: "query", Object: s.Object, Fields: []string{f.Name},
			Message: fmt.Sprintf("filter on %s.%s: %s", s.Object, f.Name, strings.TrimPrefix(err.Error(), "crm: "))}
	}
	nv, err := crm.NormalizeValue(f.Type, v)
	if err != nil && f.Type.Value() == crm.ValueInt64 {
		nv, err = crm.NormalizeValue(crm.TypeDecimal, v)
	}
	if err != nil {
		return "", bad(err)
	}
	switch x := nv.(type) {
	case time.Time:
		return strconv.FormatInt(x.UnixMilli(), 10), nil
	case crm.Date:
		return strconv.FormatInt(x.In(time.UTC).UnixMilli(), 10), nil
	case []string:
		if len(x) != 1 {
			return "", bad(fmt.Errorf("compare a multi-select with one value at a time"))
		}
		return x[0], nil
	}
	out, err := toWire(f, nv)
	if err != nil {
		return "", bad(err)
	}
	return out, nil
}
