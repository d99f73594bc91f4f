package hubspottest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/memstore"
)

// Property is one property of an object type, in the shape of HubSpot's
// properties API. Tests declare custom properties with [WithProperty]; the
// standard ones are built in.
type Property struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Type        string `json:"type"`      // string, number, date, datetime, enumeration, bool, phone_number
	FieldType   string `json:"fieldType"` // text, textarea, number, date, select, radio, checkbox, booleancheckbox, phonenumber, ...
	GroupName   string `json:"groupName"`
	Description string `json:"description"`
	// Options are the allowed values of an enumeration.
	Options []EnumOption `json:"options"`
	// HasUniqueValue makes the property an idProperty for reads and
	// upserts; no two records may share a value.
	HasUniqueValue bool `json:"hasUniqueValue"`
	// ReadOnlyValue marks a property that the API refuses to write.
	ReadOnlyValue bool `json:"-"`
	Calculated    bool `json:"calculated"`
	Hidden        bool `json:"hidden"`
	// HubspotDefined is set on the built-in properties; false for custom
	// ones.
	HubspotDefined       bool   `json:"hubspotDefined"`
	ShowCurrencySymbol   bool   `json:"showCurrencySymbol,omitempty"`
	NumberDisplayHint    string `json:"numberDisplayHint,omitempty"`
	ReferencedObjectType string `json:"referencedObjectType,omitempty"`
}

// EnumOption is one allowed value of an enumeration property.
type EnumOption struct {
	Label        string `json:"label"`
	Value        string `json:"value"`
	DisplayOrder int    `json:"displayOrder"`
	Hidden       bool   `json:"hidden"`
	Description  string `json:"description"`
}

// ObjectSchema declares a custom object type, as the schemas API takes it.
// The emulator adds hs_object_id, hs_createdate and hs_lastmodifieddate.
type ObjectSchema struct {
	// Name is the object's name, such as "cars"; its fullyQualifiedName
	// becomes p{portalId}_{name} and its objectTypeId 2-{n}.
	Name                   string
	SingularLabel          string
	PluralLabel            string
	PrimaryDisplayProperty string
	RequiredProperties     []string
	SearchableProperties   []string
	Properties             []Property
}

// objectType is one object type of the portal: its names, its properties
// and how the emulator stores it.
type objectType struct {
	name     string // contacts, companies, cars
	typeID   string // 0-1, 2-101
	fqn      string // p62515_cars for custom objects
	upper    string // CONTACT, as in batch error messages
	singular string
	plural   string
	custom   bool

	props     []*Property
	byName    map[string]*Property
	defaults  []string   // properties returned when none are requested
	required  [][]string // each entry: at least one of these must be set on create
	search    []string   // properties the free-text query looks in
	modProp   string     // lastmodifieddate for contacts, hs_lastmodifieddate for the rest
	createdBy string     // createdate, or hs_createdate for custom objects
	primary   string
	requiredP []string // a custom schema's requiredProperties
	idBase    uint64
}

func (ot *objectType) prop(name string) (*Property, bool) {
	p, ok := ot.byName[name]
	return p, ok
}

// unique reports whether a property may key a read or an upsert: it has a
// unique value, or it is a contact's email.
func (ot *objectType) unique(p *Property) bool {
	return p.HasUniqueValue || (ot.name == "contacts" && p.Name == "email")
}

// alwaysReturned are the properties every record carries in a response,
// whatever was asked for.
func (ot *objectType) alwaysReturned() []string {
	return []string{"hs_object_id", ot.createdBy, ot.modProp}
}

func enum(values ...string) []EnumOption {
	out := make([]EnumOption, len(values))
	for i, v := range values {
		label, value, ok := strings.Cut(v, "=")
		if !ok {
			value = label
		}
		out[i] = EnumOption{Label: label, Value: value, DisplayOrder: i}
	}
	return out
}

func std(name, label, typ, fieldType string) Property {
	return Property{Name: name, Label: label, Type: typ, FieldType: fieldType, HubspotDefined: true}
}

func readOnly(p Property) Property { p.ReadOnlyValue = true; return p }

// systemProps are the properties HubSpot maintains on every record.
func systemProps(created, modified string, extra ...string) []Property {
	out := []Property{
		readOnly(std("hs_object_id", "Record ID", "number", "number")),
		readOnly(std(created, "Create Date", "datetime", "date")),
		readOnly(std(modified, "Last Modified Date", "datetime", "date")),
	}
	for _, e := range extra {
		out = append(out, readOnly(std(e, e, "datetime", "date")))
	}
	return out
}

// standardTypes are the built-in object types, with a realistic subset of
// their default properties.
func standardTypes() []*objectType {
	contacts := &objectType{
		name: "contacts", typeID: "0-1", upper: "CONTACT", singular: "Contact", plural: "Contacts",
		modProp: "lastmodifieddate", createdBy: "createdate", idBase: 100_000_000_000,
		defaults: []string{"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"},
		search:   []string{"firstname", "lastname", "email", "phone", "company"},
	}
	// Contacts also have an hs_lastmodifieddate that HubSpot does not keep
	// current: a search on it finds nothing, the trap integrations fall in.
	contacts.setProps(append(systemProps("createdate", "lastmodifieddate", "hs_lastmodifieddate"),
		std("email", "Email", "string", "text"),
		std("firstname", "First Name", "string", "text"),
		std("lastname", "Last Name", "string", "text"),
		std("phone", "Phone Number", "string", "phonenumber"),
		std("company", "Company Name", "string", "text"),
		std("website", "Website URL", "string", "text"),
		std("jobtitle", "Job Title", "string", "text"),
		std("city", "City", "string", "text"),
		std("country", "Country/Region", "string", "text"),
		Property{Name: "lifecyclestage", Label: "Lifecycle Stage", Type: "enumeration", FieldType: "radio", HubspotDefined: true,
			Options: enum("Subscriber=subscriber", "Lead=lead", "Marketing Qualified Lead=marketingqualifiedlead",
				"Sales Qualified Lead=salesqualifiedlead", "Opportunity=opportunity", "Customer=customer", "Evangelist=evangelist", "Other=other")},
		Property{Name: "hubspot_owner_id", Label: "Contact owner", Type: "enumeration", FieldType: "select", HubspotDefined: true, ReferencedObjectType: "OWNER"},
	))

	companies := &objectType{
		name: "companies", typeID: "0-2", upper: "COMPANY", singular: "Company", plural: "Companies",
		modProp: "hs_lastmodifieddate", createdBy: "createdate", idBase: 200_000_000_000,
		defaults: []string{"createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"},
		required: [][]string{{"name", "domain"}},
		search:   []string{"name", "domain", "phone", "website"},
	}
	companies.setProps(append(systemProps("createdate", "hs_lastmodifieddate"),
		std("name", "Company name", "string", "text"),
		std("domain", "Company Domain Name", "string", "text"),
		std("phone", "Phone Number", "string", "phonenumber"),
		std("website", "Website URL", "string", "text"),
		std("city", "City", "string", "text"),
		std("description", "Description", "string", "textarea"),
		std("numberofemployees", "Number of Employees", "number", "number"),
		Property{Name: "annualrevenue", Label: "Annual Revenue", Type: "number", FieldType: "number", HubspotDefined: true, ShowCurrencySymbol: true, NumberDisplayHint: "currency"},
		Property{Name: "industry", Label: "Industry", Type: "enumeration", FieldType: "select", HubspotDefined: true,
			Options: enum("Computer Software=COMPUTER_SOFTWARE", "Financial Services=FINANCIAL_SERVICES", "Retail=RETAIL", "Other=OTHER")},
	))

	deals := &objectType{
		name: "deals", typeID: "0-3", upper: "DEAL", singular: "Deal", plural: "Deals",
		modProp: "hs_lastmodifieddate", createdBy: "createdate", idBase: 300_000_000_000,
		defaults: []string{"amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id", "pipeline"},
		required: [][]string{{"dealname"}, {"dealstage"}, {"pipeline"}},
		search:   []string{"dealname"},
	}
	deals.setProps(append(systemProps("createdate", "hs_lastmodifieddate"),
		std("dealname", "Deal Name", "string", "text"),
		Property{Name: "amount", Label: "Amount", Type: "number", FieldType: "number", HubspotDefined: true, ShowCurrencySymbol: true, NumberDisplayHint: "currency"},
		std("closedate", "Close Date", "datetime", "date"),
		std("description", "Deal Description", "string", "textarea"),
		Property{Name: "pipeline", Label: "Pipeline", Type: "enumeration", FieldType: "select", HubspotDefined: true,
			Options: enum("Sales Pipeline=default")},
		Property{Name: "dealstage", Label: "Deal Stage", Type: "enumeration", FieldType: "radio", HubspotDefined: true,
			Options: enum("Appointment Scheduled=appointmentscheduled", "Qualified To Buy=qualifiedtobuy",
				"Presentation Scheduled=presentationscheduled", "Decision Maker Bought-In=decisionmakerboughtin",
				"Contract Sent=contractsent", "Closed Won=closedwon", "Closed Lost=closedlost")},
		Property{Name: "hs_priority", Label: "Priority", Type: "enumeration", FieldType: "select", HubspotDefined: true,
			Options: enum("Low=low", "Medium=medium", "High=high")},
	))

	tickets := &objectType{
		name: "tickets", typeID: "0-5", upper: "TICKET", singular: "Ticket", plural: "Tickets",
		modProp: "hs_lastmodifieddate", createdBy: "createdate", idBase: 400_000_000_000,
		defaults: []string{"content", "createdate", "hs_lastmodifieddate", "hs_object_id", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority", "subject"},
		required: [][]string{{"subject"}, {"hs_pipeline"}, {"hs_pipeline_stage"}},
		search:   []string{"subject", "content"},
	}
	tickets.setProps(append(systemProps("createdate", "hs_lastmodifieddate"),
		std("subject", "Ticket name", "string", "text"),
		std("content", "Ticket description", "string", "textarea"),
		Property{Name: "hs_pipeline", Label: "Pipeline", Type: "enumeration", FieldType: "select", HubspotDefined: true,
			Options: enum("Support Pipeline=0")},
		Property{Name: "hs_pipeline_stage", Label: "Ticket status", Type: "enumeration", FieldType: "select", HubspotDefined: true,
			Options: enum("New=1", "Waiting on contact=2", "Waiting on us=3", "Closed=4")},
		Property{Name: "hs_ticket_priority", Label: "Priority", Type: "enumeration", FieldType: "select", HubspotDefined: true,
			Options: enum("Low=LOW", "Medium=MEDIUM", "High=HIGH")},
	))
	return []*objectType{contacts, companies, deals, tickets}
}

// customType builds the object type of a custom schema.
func customType(s ObjectSchema, portal int64, n int) (*objectType, error) {
	if s.Name == "" || strings.ContainsAny(s.Name, "/ ") {
		return nil, fmt.Errorf("hubspottest: a custom object needs a name without slashes or spaces, got %q", s.Name)
	}
	name := strings.ToLower(s.Name)
	ot := &objectType{
		name: name, typeID: fmt.Sprintf("2-%d", 100+n), fqn: fmt.Sprintf("p%d_%s", portal, name),
		upper: strings.ToUpper(name), singular: s.SingularLabel, plural: s.PluralLabel, custom: true,
		modProp: "hs_lastmodifieddate", createdBy: "hs_createdate", idBase: uint64(500+n) * 1_000_000_000,
		defaults:  []string{"hs_createdate", "hs_lastmodifieddate", "hs_object_id"},
		primary:   s.PrimaryDisplayProperty,
		requiredP: slices.Clone(s.RequiredProperties),
		search:    slices.Clone(s.SearchableProperties),
	}
	if ot.singular == "" {
		ot.singular = s.Name
	}
	if ot.plural == "" {
		ot.plural = s.Name
	}
	for _, r := range s.RequiredProperties {
		ot.required = append(ot.required, []string{r})
	}
	if len(ot.search) == 0 && s.PrimaryDisplayProperty != "" {
		ot.search = []string{s.PrimaryDisplayProperty}
	}
	props := systemProps("hs_createdate", "hs_lastmodifieddate")
	for _, p := range s.Properties {
		p.HubspotDefined = false
		props = append(props, p)
	}
	if err := ot.checkProps(props); err != nil {
		return nil, err
	}
	ot.setProps(props)
	return ot, nil
}

func (ot *objectType) setProps(props []Property) {
	ot.props = make([]*Property, len(props))
	ot.byName = make(map[string]*Property, len(props))
	for i := range props {
		p := props[i]
		if p.GroupName == "" {
			p.GroupName = strings.TrimSuffix(ot.singular, "s") + "information"
			p.GroupName = strings.ToLower(p.GroupName)
		}
		ot.props[i] = &p
		ot.byName[p.Name] = &p
	}
}

// checkProps refuses property declarations the emulator could not serve.
func (ot *objectType) checkProps(props []Property) error {
	seen := map[string]bool{}
	for _, p := range props {
		switch {
		case p.Name == "" || p.Name != strings.ToLower(p.Name):
			return fmt.Errorf("hubspottest: %s property %q: HubSpot property names are lower case and not empty", ot.name, p.Name)
		case seen[p.Name]:
			return fmt.Errorf("hubspottest: %s property %q is declared twice", ot.name, p.Name)
		}
		seen[p.Name] = true
		if _, err := crmType(&p); err != nil {
			return fmt.Errorf("hubspottest: %s property %q: %w", ot.name, p.Name, err)
		}
	}
	return nil
}

// crmType is how the emulator stores a property's values in memstore.
func crmType(p *Property) (crm.FieldType, error) {
	if p.Name == "hs_object_id" {
		return crm.TypeID, nil
	}
	switch p.Type {
	case "string", "phone_number":
		return crm.TypeString, nil
	case "number":
		return crm.TypeDecimal, nil
	case "bool":
		return crm.TypeBool, nil
	case "date":
		return crm.TypeDate, nil
	case "datetime":
		return crm.TypeDateTime, nil
	case "enumeration":
		switch p.FieldType {
		case "checkbox":
			return crm.TypeMultiPicklist, nil
		case "booleancheckbox":
			return crm.TypeBool, nil
		}
		return crm.TypePicklist, nil
	}
	return "", fmt.Errorf("type %q is not one of string, number, date, datetime, enumeration, bool, phone_number", p.Type)
}

// schema is the memstore schema of the type. Every property is writable
// there: the emulator itself refuses read-only ones, with HubSpot's errors.
func (ot *objectType) schema() *crm.Schema {
	s := &crm.Schema{Object: ot.name, IDField: "hs_object_id", ModifiedField: ot.modProp}
	for _, p := range ot.props {
		t, _ := crmType(p)
		s.Fields = append(s.Fields, crm.Field{
			Name: p.Name, Type: t, Nillable: p.Name != "hs_object_id", Createable: true, Updateable: true,
			Unique: ot.unique(p),
		})
	}
	return s
}

func (ot *objectType) addTable(st *memstore.Store) error {
	base := ot.idBase
	return st.AddTable(ot.schema(),
		memstore.WithIDs(func(n uint64) string { return strconv.FormatUint(base+n, 10) }),
		memstore.WithCreatedField(ot.createdBy))
}

// propError is one property's validation failure, as HubSpot reports it.
type propError struct {
	name    string
	code    string // PROPERTY_DOESNT_EXIST, INVALID_OPTION, READ_ONLY_VALUE, ...
	message string
}

// parseValue turns a property value from the wire into the value memstore
// keeps. The empty string clears a property.
func parseValue(p *Property, raw string) (any, *propError) {
	if raw == "" {
		return nil, nil
	}
	bad := func(code, msg string) (any, *propError) {
		return nil, &propError{name: p.Name, code: code, message: msg}
	}
	t, _ := crmType(p)
	switch t {
	case crm.TypeDecimal:
		d, err := crm.ParseDecimal(strings.TrimSpace(raw))
		if err != nil {
			return bad("INVALID_DECIMAL", fmt.Sprintf("%q was not a valid number.", clip(raw)))
		}
		return d, nil
	case crm.TypeBool:
		switch strings.ToLower(raw) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return bad("INVALID_BOOLEAN", fmt.Sprintf("%q was not a valid boolean; use true or false.", clip(raw)))
	case crm.TypeDate:
		if d, err := crm.ParseDate(raw); err == nil {
			return d, nil
		}
		if ms, err := strconv.ParseInt(raw, 10, 64); err == nil {
			ts := time.UnixMilli(ms).UTC()
			if ts.Truncate(24*time.Hour) != ts {
				return bad("INVALID_DATE", fmt.Sprintf("%s is not midnight UTC; date properties take YYYY-MM-DD or the epoch milliseconds of midnight UTC.", raw))
			}
			return crm.DateOf(ts), nil
		}
		return bad("INVALID_DATE", fmt.Sprintf("%q was not a valid date; use YYYY-MM-DD or epoch milliseconds at midnight UTC.", clip(raw)))
	case crm.TypeDateTime:
		if ms, err := strconv.ParseInt(raw, 10, 64); err == nil {
			return time.UnixMilli(ms).UTC(), nil
		}
		if ts, err := time.Parse(time.RFC3339Nano, raw); err == nil {
			return ts.UTC().Truncate(time.Millisecond), nil
		}
		if d, err := crm.ParseDate(raw); err == nil {
			return d.In(time.UTC), nil
		}
		return bad("INVALID_DATETIME", fmt.Sprintf("%q was not a valid datetime; use ISO 8601 or epoch milliseconds.", clip(raw)))
	case crm.TypePicklist:
		if len(p.Options) > 0 && !hasOption(p, raw) {
			return bad("INVALID_OPTION", fmt.Sprintf("%q was not one of the allowed options: [%s]", clip(raw), optionList(p)))
		}
		return raw, nil
	case crm.TypeMultiPicklist:
		vals := strings.Split(raw, ";")
		for _, v := range vals {
			if len(p.Options) > 0 && !hasOption(p, v) {
				return bad("INVALID_OPTION", fmt.Sprintf("%q was not one of the allowed options: [%s]", clip(v), optionList(p)))
			}
		}
		return vals, nil
	}
	return raw, nil
}

func hasOption(p *Property, v string) bool {
	for _, o := range p.Options {
		if o.Value == v {
			return true
		}
	}
	return false
}

func optionList(p *Property) string {
	vs := make([]string, len(p.Options))
	for i, o := range p.Options {
		vs[i] = o.Value
	}
	return strings.Join(vs, ", ")
}

func clip(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:61]) + "..."
	}
	return s
}

// formatValue renders a stored value as HubSpot sends it: every value a
// string, datetimes in UTC with milliseconds.
func formatValue(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case crm.Decimal:
		return x.String(), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case time.Time:
		return formatTime(x), true
	case crm.Date:
		return x.String(), true
	case []string:
		return strings.Join(x, ";"), true
	}
	return fmt.Sprint(v), true
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
