package crm

import (
	"maps"
	"slices"
	"time"
)

// Record is one CRM record as crmkit sees it, whatever the CRM.
//
// Fields holds the record's field values by field name. In a write, a field
// that is absent from the map is left unchanged, and a field present with a
// nil value is set to null. Values are normalised by the field's described
// type (see [FieldType.Value]): string, bool, int64, [Decimal], time.Time in
// UTC, [Date], or []string.
type Record struct {
	Object string // the CRM object, such as "Contact" or "account"
	ID     string // the CRM's id for the record

	Fields Fields

	// ModifiedAt is when the CRM last changed the record, in UTC.
	ModifiedAt time.Time
	// Version is the CRM's concurrency token (an ETag, a SystemModstamp, an
	// updatedAt). Pass it back in Write.IfVersion to update only if nobody
	// else has changed the record since.
	Version string
	// Deleted is set on records read from a change feed or with
	// Query.IncludeDeleted that the CRM has deleted (or archived).
	Deleted bool
}

// Clone returns a deep copy of r, so a caller can change it freely.
func (r *Record) Clone() *Record {
	if r == nil {
		return nil
	}
	c := *r
	c.Fields = r.Fields.Clone()
	return &c
}

// Fields maps field names to normalised values. A present key with a nil value
// means null; an absent key means "not read" or, in a write, "leave unchanged".
type Fields map[string]any

// Has reports whether the field is present, even with a nil value.
func (f Fields) Has(name string) bool {
	_, ok := f[name]
	return ok
}

// String returns the field as a string, and whether it was a non-null string.
func (f Fields) String(name string) (string, bool) {
	s, ok := f[name].(string)
	return s, ok
}

// Names returns the field names in sorted order.
func (f Fields) Names() []string { return slices.Sorted(maps.Keys(f)) }

// Clone returns a deep copy; []string values are copied too.
func (f Fields) Clone() Fields {
	if f == nil {
		return nil
	}
	c := make(Fields, len(f))
	for k, v := range f {
		if ss, ok := v.([]string); ok {
			v = slices.Clone(ss)
		}
		c[k] = v
	}
	return c
}
