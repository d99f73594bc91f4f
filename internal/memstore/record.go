package memstore

import (
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Record is a stored record as the store hands it out: a deep copy that the
// caller may change freely.
type Record struct {
	Object string // the schema's object name
	ID     string
	// Fields holds the selected fields under the schema's names; nil values
	// are nulls. A record read with no field selection has every described
	// field.
	Fields crm.Fields
	// Version changes on every write: it is the write's sequence number in
	// decimal.
	Version  string
	Created  time.Time // UTC
	Modified time.Time // UTC; the deletion time for a deleted record
	// Seq is the store-wide sequence number of the record's last write.
	Seq     uint64
	Deleted bool
}

// CRM returns the record as a *crm.Record. The two share r's Fields map:
// every Record the store returns already holds its own copy, so a second
// copy here would only double the cost of every record a page carries.
func (r *Record) CRM() *crm.Record {
	if r == nil {
		return nil
	}
	return &crm.Record{
		Object:     r.Object,
		ID:         r.ID,
		Fields:     r.Fields,
		ModifiedAt: r.Modified,
		Version:    r.Version,
		Deleted:    r.Deleted,
	}
}

// selection is a resolved list of canonical field names; nil means all.
type selection []string

// selectFields resolves names to the schema's own names. The id field is
// always selected.
func (t *table) selectFields(op string, names []string) (selection, error) {
	if names == nil {
		return nil, nil
	}
	out := selection{t.idField.Name}
	seen := map[string]bool{strings.ToLower(t.idField.Name): true}
	for _, n := range names {
		f, ok := t.field(n)
		if !ok {
			return nil, t.unknownField(op, "", n)
		}
		if k := strings.ToLower(f.Name); !seen[k] {
			seen[k] = true
			out = append(out, f.Name)
		}
	}
	return out, nil
}

func (t *table) record(r *row, sel selection) *Record {
	var fields crm.Fields
	if sel == nil {
		fields = r.fields.Clone()
	} else {
		fields = make(crm.Fields, len(sel))
		for _, n := range sel {
			v := r.fields[n]
			if ss, ok := v.([]string); ok {
				v = append([]string(nil), ss...)
			}
			fields[n] = v
		}
	}
	return &Record{
		Object:   t.schema.Object,
		ID:       r.id,
		Fields:   fields,
		Version:  strconv.FormatUint(r.seq, 10),
		Created:  r.created,
		Modified: r.modified,
		Seq:      r.seq,
		Deleted:  r.deleted,
	}
}
