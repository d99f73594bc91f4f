package mapping

import (
	"time"

	"github.com/crmkit/crmkit/crm"
)

// AppSchema declares the application side of an [ObjectMap]: the object and
// the fields the application holds. The CRM side comes from Describe; this
// side is declared, so that both can be checked at start-up.
type AppSchema struct {
	Object string // the application's name for the object, such as "customer"
	Fields []AppField
}

// Field returns the declared field with the given name. Application field
// names are identifiers in the host's code, so they match exactly.
func (s *AppSchema) Field(name string) (*AppField, bool) {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i], true
		}
	}
	return nil, false
}

// AppField declares one field of the application object.
type AppField struct {
	Name string
	// Kind is the Go type of the field's values, one of crmkit's normalised
	// kinds: crm.ValueString, ValueBool, ValueInt64, ValueDecimal,
	// ValueTime, ValueDate or ValueStrings.
	Kind crm.ValueKind
	// Length is the most characters a text value may hold; 0 if unlimited.
	// With it, a CRM field longer than the application's is caught at
	// start-up instead of by a failed insert.
	Length int
	// ReadOnly marks a field the CRM must never write (the application's
	// own id, a column the application computes).
	ReadOnly bool
	// Personal marks personal data. The data-flow report lists every such
	// field with how it is protected, and errors about it never quote
	// another component's message, in case that message holds the value.
	Personal bool
	// Values lists the allowed values of an enumerated text field. With it,
	// picklist tables are checked for completeness on both sides.
	Values []string
	// Note says what the field is, for the data-flow report.
	Note string
}

// kinds crmkit carries, by the names the declarative file uses.
var kindNames = []struct {
	name string
	kind crm.ValueKind
}{
	{"string", crm.ValueString},
	{"bool", crm.ValueBool},
	{"int", crm.ValueInt64},
	{"decimal", crm.ValueDecimal},
	{"datetime", crm.ValueTime},
	{"date", crm.ValueDate},
	{"strings", crm.ValueStrings},
}

// parseKind accepts the file's names and crm.ValueKind's own spellings.
func parseKind(s string) (crm.ValueKind, bool) {
	for _, k := range kindNames {
		if s == k.name || s == string(k.kind) {
			return k.kind, true
		}
	}
	return "", false
}

// kindName is how messages and the file spell a kind.
func kindName(k crm.ValueKind) string {
	for _, n := range kindNames {
		if n.kind == k {
			return n.name
		}
	}
	if k == "" {
		return "(no kind)"
	}
	return string(k)
}

func validKind(k crm.ValueKind) bool {
	for _, n := range kindNames {
		if n.kind == k {
			return true
		}
	}
	return false
}

// typeFor returns a CRM field type whose values have kind k, so that
// crm.NormalizeValue can do the lenient, exact conversions for it.
func typeFor(k crm.ValueKind) crm.FieldType {
	switch k {
	case crm.ValueString:
		return crm.TypeString
	case crm.ValueBool:
		return crm.TypeBool
	case crm.ValueInt64:
		return crm.TypeInt
	case crm.ValueDecimal:
		return crm.TypeDecimal
	case crm.ValueTime:
		return crm.TypeDateTime
	case crm.ValueDate:
		return crm.TypeDate
	case crm.ValueStrings:
		return crm.TypeMultiPicklist
	}
	return ""
}

// coerce makes v a value of kind k: as is when it already is one, else by the
// contract's exact conversions (an int becomes an int64, say). Floats are
// refused for exact decimals: money never passes through a float64 here.
// Times bound for the CRM are put in UTC, as the contract wants; times bound
// for the application keep the zone their conversion gave them.
func coerce(k crm.ValueKind, v any, toCRM bool) (any, error) {
	if v == nil || k == "" || k == crm.ValueUnknown {
		return v, nil
	}
	switch x := v.(type) {
	case time.Time:
		if k == crm.ValueTime {
			if toCRM {
				return x.UTC(), nil
			}
			return x, nil
		}
	case float64, float32:
		if k == crm.ValueDecimal {
			return nil, invalidf("a %T is not accepted for an exact decimal: pass a crm.Decimal, an int64 or decimal text, or use the currency conversion", v)
		}
	}
	if crm.ValueKindOf(v) == k {
		return v, nil
	}
	out, err := crm.NormalizeValue(typeFor(k), v)
	if err != nil {
		return nil, invalidf("a %T is not a %s value: map it with a conversion, or give a %s", v, kindName(k), kindName(k))
	}
	return out, nil
}
