package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/crmkit/crmkit/crm"
)

// property is a property as HubSpot's properties API describes it.
type property struct {
	Name                 string `json:"name"`
	Label                string `json:"label"`
	Type                 string `json:"type"`
	FieldType            string `json:"fieldType"`
	Description          string `json:"description"`
	HasUniqueValue       bool   `json:"hasUniqueValue"`
	Hidden               bool   `json:"hidden"`
	HubspotDefined       bool   `json:"hubspotDefined"`
	Calculated           bool   `json:"calculated"`
	Archived             bool   `json:"archived"`
	ShowCurrencySymbol   bool   `json:"showCurrencySymbol"`
	NumberDisplayHint    string `json:"numberDisplayHint"`
	ReferencedObjectType string `json:"referencedObjectType"`
	Options              []struct {
		Label  string `json:"label"`
		Value  string `json:"value"`
		Hidden bool   `json:"hidden"`
	} `json:"options"`
	ModificationMetadata struct {
		ReadOnlyValue bool `json:"readOnlyValue"`
	} `json:"modificationMetadata"`
}

// objectSchema is the part of a custom object's schema Describe reads.
type objectSchema struct {
	Name   string `json:"name"`
	Labels struct {
		Singular string `json:"singular"`
	} `json:"labels"`
	RequiredProperties []string `json:"requiredProperties"`
}

// standard objects and the properties their creates require (HubSpot's
// properties API does not say; its documentation does). A company needs a
// name or a domain, which a schema cannot express, so neither is marked.
var standard = map[string]struct {
	label    string
	required []string
}{
	"contacts":  {"Contact", nil},
	"companies": {"Company", nil},
	"deals":     {"Deal", []string{"dealname", "dealstage", "pipeline"}},
	"tickets":   {"Ticket", []string{"subject", "hs_pipeline", "hs_pipeline_stage"}},
	"0-1":       {"Contact", nil},
	"0-2":       {"Company", nil},
	"0-3":       {"Deal", []string{"dealname", "dealstage", "pipeline"}},
	"0-5":       {"Ticket", []string{"subject", "hs_pipeline", "hs_pipeline_stage"}},
}

// isContacts reports whether object names contacts, which keep their
// last-modified time in lastmodifieddate rather than hs_lastmodifieddate.
func isContacts(object string) bool {
	return strings.EqualFold(object, "contacts") || object == "0-1"
}

// modifiedProperty is the object's last-modified property.
func modifiedProperty(object string) string {
	if isContacts(object) {
		return "lastmodifieddate"
	}
	return "hs_lastmodifieddate"
}

// Describe returns an object's schema from the properties API: every
// property with its type, whether the integration may write it, whether it
// is unique (and so an upsert key), its enumeration options. An object
// HubSpot does not know is KindNotFound. The schema is also cached for
// converting values (see WithSchemaTTL).
func (d *Driver) Describe(ctx context.Context, object string) (*crm.Schema, error) {
	if strings.TrimSpace(object) == "" {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "describe", Message: "the object name is empty: name a HubSpot object type such as \"contacts\""}
	}
	var body struct {
		Results []property `json:"results"`
	}
	if _, err := d.call(ctx, "describe", object, http.MethodGet, d.propertiesPath(object), nil, nil, &body); err != nil {
		return nil, err
	}
	s := &crm.Schema{Object: object, IDField: "hs_object_id", ModifiedField: modifiedProperty(object)}
	var required []string
	if st, ok := standard[strings.ToLower(object)]; ok {
		s.Label, required = st.label, st.required
	} else {
		s.Custom = true
		var os objectSchema
		_, err := d.call(ctx, "describe", object, http.MethodGet, "/crm-object-schemas/v3/schemas/"+url.PathEscape(object), nil, nil, &os)
		switch {
		case err == nil:
			s.Label, required = os.Labels.Singular, os.RequiredProperties
		case crm.KindOf(err) != crm.KindNotFound:
			return nil, err
		}
		if s.Label == "" {
			s.Label = object
		}
	}
	hasID := false
	for i := range body.Results {
		p := &body.Results[i]
		if p.Archived {
			continue
		}
		f := field(object, p)
		for _, r := range required {
			if r == f.Name {
				f.Required, f.Nillable = true, false
			}
		}
		hasID = hasID || f.Name == "hs_object_id"
		s.Fields = append(s.Fields, f)
	}
	if !hasID {
		s.Fields = append(s.Fields, crm.Field{Name: "hs_object_id", Label: "Record ID", Type: crm.TypeID, NativeType: "number"})
	}
	if _, ok := s.Field(s.ModifiedField); !ok {
		s.ModifiedField = ""
	}
	d.mu.Lock()
	d.schemas[object] = cachedSchema{s: s, at: d.now()}
	d.mu.Unlock()
	return s.Clone(), nil
}

// field maps one property onto a crm.Field.
func field(object string, p *property) crm.Field {
	writable := !p.ModificationMetadata.ReadOnlyValue && !p.Calculated
	unique := p.HasUniqueValue || (isContacts(object) && p.Name == "email")
	f := crm.Field{
		Name: p.Name, Label: p.Label, NativeType: p.Type + "/" + p.FieldType,
		Nillable: true, Createable: writable, Updateable: writable,
		ExternalID: unique, Unique: unique, Custom: !p.HubspotDefined,
	}
	f.Type = fieldType(p)
	if f.Type == crm.TypeID {
		f.Nillable, f.Createable, f.Updateable = false, false, false
	}
	for _, o := range p.Options {
		f.Picklist = append(f.Picklist, crm.PicklistValue{Value: o.Value, Label: o.Label, Active: !o.Hidden})
	}
	if p.ReferencedObjectType != "" {
		f.References = []string{p.ReferencedObjectType}
	}
	return f
}

func fieldType(p *property) crm.FieldType {
	if p.Name == "hs_object_id" {
		return crm.TypeID
	}
	switch p.Type {
	case "string":
		switch {
		case p.Name == "email":
			return crm.TypeEmail
		case p.FieldType == "textarea" || p.FieldType == "html":
			return crm.TypeText
		case p.FieldType == "phonenumber":
			return crm.TypePhone
		case p.FieldType == "file":
			return crm.TypeURL
		}
		return crm.TypeString
	case "phone_number":
		return crm.TypePhone
	case "number":
		switch {
		case p.ShowCurrencySymbol || p.NumberDisplayHint == "currency":
			return crm.TypeCurrency
		case p.NumberDisplayHint == "percentage" || p.NumberDisplayHint == "probability":
			return crm.TypePercent
		}
		return crm.TypeDecimal
	case "bool":
		return crm.TypeBool
	case "date":
		return crm.TypeDate
	case "datetime":
		return crm.TypeDateTime
	case "enumeration":
		switch {
		case p.FieldType == "booleancheckbox":
			return crm.TypeBool
		case p.ReferencedObjectType != "":
			return crm.TypeReference
		case p.FieldType == "checkbox":
			return crm.TypeMultiPicklist
		}
		return crm.TypePicklist
	}
	return crm.TypeString
}

// schema returns the object's schema from the cache, describing it when
// the cached one is missing or older than the TTL.
func (d *Driver) schema(ctx context.Context, object string) (*crm.Schema, error) {
	d.mu.Lock()
	c, ok := d.schemas[object]
	d.mu.Unlock()
	if ok && d.now().Sub(c.at) < d.schemaTTL {
		return c.s, nil
	}
	if _, err := d.Describe(ctx, object); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.schemas[object].s, nil
}

// fieldOf finds a described field for a filter or a sort, or fails naming
// it.
func fieldOf(s *crm.Schema, op, name string) (*crm.Field, error) {
	if f, ok := s.Field(name); ok {
		return f, nil
	}
	return nil, &crm.Error{Kind: crm.KindValidation, CRM: Name, Operation: op, Object: s.Object, Fields: []string{name},
		Message: fmt.Sprintf("%s has no property %q: check the name against Describe(%q) (HubSpot property names are internal names in lower case)", s.Object, name, s.Object)}
}

// isText reports whether a field holds free text, whose search IN values
// HubSpot compares in lower case.
func isText(f *crm.Field) bool {
	switch f.Type {
	case crm.TypeString, crm.TypeText, crm.TypeEmail, crm.TypePhone, crm.TypeURL:
		return true
	}
	return false
}

func hasSpace(s string) bool { return strings.IndexFunc(s, unicode.IsSpace) >= 0 }
