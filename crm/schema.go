package crm

import (
	"slices"
	"strings"
	"time"
)

// FieldType is the portable type of a CRM field. Each adapter maps its CRM's
// own types onto these (Salesforce "currency", Dataverse "Money" and HubSpot
// "number" with a currency format all become TypeCurrency, say), and the
// type decides which Go value a field carries; see [FieldType.Value].
type FieldType string

// The field types.
const (
	TypeID            FieldType = "id"            // the record's own id: string
	TypeString        FieldType = "string"        // short text: string
	TypeText          FieldType = "text"          // long or rich text: string
	TypeEmail         FieldType = "email"         // string
	TypePhone         FieldType = "phone"         // string
	TypeURL           FieldType = "url"           // string
	TypeBool          FieldType = "bool"          // bool
	TypeInt           FieldType = "int"           // int64
	TypeDecimal       FieldType = "decimal"       // Decimal
	TypeCurrency      FieldType = "currency"      // Decimal
	TypePercent       FieldType = "percent"       // Decimal
	TypeDateTime      FieldType = "datetime"      // time.Time in UTC
	TypeDate          FieldType = "date"          // Date
	TypePicklist      FieldType = "picklist"      // string: the picklist value (API name)
	TypeMultiPicklist FieldType = "multipicklist" // []string
	TypeReference     FieldType = "reference"     // string: the id of the referenced record
)

// ValueKind names the Go type that values of a field type have.
type ValueKind string

// The value kinds.
const (
	ValueString  ValueKind = "string"
	ValueBool    ValueKind = "bool"
	ValueInt64   ValueKind = "int64"
	ValueDecimal ValueKind = "crm.Decimal"
	ValueTime    ValueKind = "time.Time"
	ValueDate    ValueKind = "crm.Date"
	ValueStrings ValueKind = "[]string"
	ValueUnknown ValueKind = "unknown"
)

// Value returns the Go type that a field of type t holds.
func (t FieldType) Value() ValueKind {
	switch t {
	case TypeID, TypeString, TypeText, TypeEmail, TypePhone, TypeURL, TypePicklist, TypeReference:
		return ValueString
	case TypeBool:
		return ValueBool
	case TypeInt:
		return ValueInt64
	case TypeDecimal, TypeCurrency, TypePercent:
		return ValueDecimal
	case TypeDateTime:
		return ValueTime
	case TypeDate:
		return ValueDate
	case TypeMultiPicklist:
		return ValueStrings
	}
	return ValueUnknown
}

// ValueKindOf returns the kind of a normalised value: the Go type that
// [NormalizeValue] produces for some field type. Anything else, including
// nil and types such as int or float64 that normalisation turns into
// int64 or [Decimal], is ValueUnknown, so callers can check that a value
// fits a field (ValueKindOf(v) == f.Type.Value()) without a type switch of
// their own.
func ValueKindOf(v any) ValueKind {
	switch v.(type) {
	case string:
		return ValueString
	case bool:
		return ValueBool
	case int64:
		return ValueInt64
	case Decimal:
		return ValueDecimal
	case time.Time:
		return ValueTime
	case Date:
		return ValueDate
	case []string:
		return ValueStrings
	}
	return ValueUnknown
}

// Schema is the description of one CRM object, as returned by Describe.
type Schema struct {
	Object string // the API name, such as "Contact", "account", "contacts"
	Label  string // the human name
	Custom bool   // defined by the customer, not the CRM vendor

	// IDField names the field that holds the record id ("Id", "accountid",
	// "hs_object_id").
	IDField string
	// ModifiedField names the field that holds the last-modified time
	// ("SystemModstamp", "modifiedon", "hs_lastmodifieddate").
	ModifiedField string

	Fields []Field
}

// Field returns the described field with the given name. Names match without
// regard to case, as they do in the CRMs crmkit speaks to.
func (s *Schema) Field(name string) (*Field, bool) {
	for i := range s.Fields {
		if strings.EqualFold(s.Fields[i].Name, name) {
			return &s.Fields[i], true
		}
	}
	return nil, false
}

// Clone returns a deep copy of s: its Fields and each field's Picklist and
// References are copied too, so a driver or store can hand out its cached
// schema and the caller may change the copy without touching the cache.
// Clone of a nil schema is nil.
func (s *Schema) Clone() *Schema {
	if s == nil {
		return nil
	}
	c := *s
	c.Fields = slices.Clone(s.Fields)
	for i := range c.Fields {
		c.Fields[i].Picklist = slices.Clone(c.Fields[i].Picklist)
		c.Fields[i].References = slices.Clone(c.Fields[i].References)
	}
	return &c
}

// ExternalIDFields returns the names of the fields that can key an upsert.
func (s *Schema) ExternalIDFields() []string {
	var out []string
	for _, f := range s.Fields {
		if f.ExternalID {
			out = append(out, f.Name)
		}
	}
	return out
}

// Field describes one field of a CRM object.
type Field struct {
	Name  string
	Label string
	Type  FieldType

	// NativeType is the CRM's own name for the type ("currency", "Money",
	// "enumeration"), kept for messages and schema-drift reports.
	NativeType string

	Length    int // maximum length of text values, in characters; 0 if not limited
	Precision int // total digits of a number, 0 if not stated
	Scale     int // digits after the point, 0 if not stated

	Nillable   bool // may be null
	Required   bool // must be given on create (not nillable and no default)
	Createable bool // may be set on create, for the integration user
	Updateable bool // may be changed on update, for the integration user
	ExternalID bool // may key an upsert
	Unique     bool // no two records may share a value
	Custom     bool // defined by the customer, not the CRM vendor

	// Picklist lists the allowed values of a picklist or multi-select field.
	Picklist []PicklistValue
	// References lists the objects a reference field may point to.
	References []string
}

// PicklistValue is one allowed value of a picklist field. Value is what is
// stored and sent over the wire; Label is what users see. Dataverse option
// sets store numbers: their Value is the number written in decimal.
type PicklistValue struct {
	Value   string
	Label   string
	Active  bool
	Default bool
}

// PicklistValue returns the picklist entry whose value or label equals v.
func (f *Field) PicklistValue(v string) (PicklistValue, bool) {
	for _, p := range f.Picklist {
		if p.Value == v {
			return p, true
		}
	}
	for _, p := range f.Picklist {
		if strings.EqualFold(p.Label, v) {
			return p, true
		}
	}
	return PicklistValue{}, false
}

// ObjectInfo is the summary of one object in a CRM, as listed by an
// [ObjectLister].
type ObjectInfo struct {
	Name       string
	Label      string
	Custom     bool
	Queryable  bool
	Createable bool
	Updateable bool
	Deletable  bool
}
