package dynamics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// This file reads table definitions from EntityDefinitions: what Describe
// returns, and what every other call needs to speak to a table (its entity
// set name, its primary key, how each column is written and filtered).

// Date-time behaviours of a DateTime column.
const (
	BehaviorUserLocal           = "UserLocal"
	BehaviorDateOnly            = "DateOnly"
	BehaviorTimeZoneIndependent = "TimeZoneIndependent"
)

type label struct {
	UserLocalizedLabel *struct {
		Label string `json:"Label"`
	} `json:"UserLocalizedLabel"`
	LocalizedLabels []struct {
		Label string `json:"Label"`
	} `json:"LocalizedLabels"`
}

func (l label) text() string {
	if l.UserLocalizedLabel != nil && l.UserLocalizedLabel.Label != "" {
		return l.UserLocalizedLabel.Label
	}
	if len(l.LocalizedLabels) > 0 {
		return l.LocalizedLabels[0].Label
	}
	return ""
}

type valueOf struct {
	Value string `json:"Value"`
}

type entityDef struct {
	MetadataID             string    `json:"MetadataId"`
	LogicalName            string    `json:"LogicalName"`
	SchemaName             string    `json:"SchemaName"`
	EntitySetName          string    `json:"EntitySetName"`
	PrimaryIDAttribute     string    `json:"PrimaryIdAttribute"`
	PrimaryNameAttribute   *string   `json:"PrimaryNameAttribute"`
	DisplayName            label     `json:"DisplayName"`
	IsCustomEntity         bool      `json:"IsCustomEntity"`
	ChangeTrackingEnabled  bool      `json:"ChangeTrackingEnabled"`
	OptimisticConcurrency  *bool     `json:"IsOptimisticConcurrencyEnabled"`
	Attributes             []attrDef `json:"Attributes"`
	Keys                   []keyDef  `json:"Keys"`
	ManyToOneRelationships []relDef  `json:"ManyToOneRelationships"`
}

type attrDef struct {
	ODataType         string   `json:"@odata.type"`
	LogicalName       string   `json:"LogicalName"`
	SchemaName        string   `json:"SchemaName"`
	AttributeType     string   `json:"AttributeType"`
	AttributeTypeName *valueOf `json:"AttributeTypeName"`
	AttributeOf       *string  `json:"AttributeOf"`
	DisplayName       label    `json:"DisplayName"`
	RequiredLevel     *valueOf `json:"RequiredLevel"`
	IsValidForCreate  *bool    `json:"IsValidForCreate"`
	IsValidForUpdate  *bool    `json:"IsValidForUpdate"`
	IsValidForRead    *bool    `json:"IsValidForRead"`
	IsCustomAttribute bool     `json:"IsCustomAttribute"`
	IsPrimaryID       bool     `json:"IsPrimaryId"`
	MaxLength         *int     `json:"MaxLength"`
	Precision         *int     `json:"Precision"`
	Format            *string  `json:"Format"`
	FormatName        *valueOf `json:"FormatName"`
	DateTimeBehavior  *valueOf `json:"DateTimeBehavior"`
	Targets           []string `json:"Targets"`
	DefaultFormValue  *int     `json:"DefaultFormValue"`
	OptionSet         *struct {
		Options []struct {
			Value int   `json:"Value"`
			Label label `json:"Label"`
		} `json:"Options"`
	} `json:"OptionSet"`
}

type keyDef struct {
	LogicalName   string   `json:"LogicalName"`
	KeyAttributes []string `json:"KeyAttributes"`
}

type relDef struct {
	ReferencingAttribute string `json:"ReferencingAttribute"`
	ReferencedEntity     string `json:"ReferencedEntity"`
	NavigationProperty   string `json:"ReferencingEntityNavigationPropertyName"`
}

// table is what the driver knows about one Dataverse table.
type table struct {
	logical     string
	set         string
	pk          string
	primaryName string
	tracking    bool
	schema      *crm.Schema
	cols        map[string]*column // by lower-cased logical name
}

// column is one described column.
type column struct {
	name        string // logical name
	attrType    string // AttributeType; "MultiSelectPicklist" for those
	behavior    string // DateTimeBehavior of DateTime columns
	field       *crm.Field
	targets     []string
	nav         string // navigation property for @odata.bind
	validCreate bool
	validUpdate bool
	pk          bool
	options     []option
}

type option struct {
	value int
	label string
}

func (c *column) isLookup() bool {
	return c.attrType == "Lookup" || c.attrType == "Customer" || c.attrType == "Owner"
}

// wire is the column's name in a row, a $select, a $filter or an $orderby.
func (c *column) wire() string {
	if c.isLookup() {
		return "_" + c.name + "_value"
	}
	return c.name
}

func (t *table) col(name string) *column { return t.cols[strings.ToLower(name)] }

type cachedTable struct {
	t  *table
	at time.Time
}

// ForgetMetadata drops the cached definition of a table (all tables when
// object is empty), so that the next call reads it again: after a column,
// an option or a key was added, say.
func (d *Driver) ForgetMetadata(object string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if object == "" {
		d.tables = map[string]*cachedTable{}
		return
	}
	delete(d.tables, strings.ToLower(object))
	if logical, ok := d.setToTable[object]; ok {
		delete(d.tables, logical)
	}
}

// table returns a table's definition, from the cache or from
// EntityDefinitions. object is the table's logical name ("account") or its
// entity set name ("accounts").
func (d *Driver) table(ctx context.Context, object string) (*table, error) {
	if strings.TrimSpace(object) == "" {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Message: "the object name is empty: name a table by its logical name, such as \"account\""}
	}
	key := strings.ToLower(object)
	d.mu.Lock()
	if logical, ok := d.setToTable[object]; ok {
		key = logical
	}
	c := d.tables[key]
	d.mu.Unlock()
	if c != nil && d.now().Sub(c.at) < d.metaTTL {
		return c.t, nil
	}
	t, err := d.loadTable(ctx, object)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.tables[t.logical] = &cachedTable{t: t, at: d.now()}
	d.setToTable[t.set] = t.logical
	d.mu.Unlock()
	return t, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func (d *Driver) loadTable(ctx context.Context, object string) (*table, error) {
	if !validName(object) {
		return nil, &crm.Error{Kind: crm.KindNotFound, CRM: Name, Operation: "describe", Object: object,
			Message: fmt.Sprintf("%q is not a table name: Dataverse logical names are letters, digits and underscores, such as \"account\" or \"crmkit_project\"", object)}
	}
	const sel = "$select=LogicalName,SchemaName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,DisplayName,IsCustomEntity,ChangeTrackingEnabled,IsOptimisticConcurrencyEnabled" +
		"&$expand=Attributes,Keys($select=LogicalName,KeyAttributes),ManyToOneRelationships($select=ReferencingAttribute,ReferencedEntity,ReferencingEntityNavigationPropertyName)"
	logical := strings.ToLower(object)
	var def entityDef
	_, err := d.getJSON(ctx, "describe", object, d.base+"EntityDefinitions(LogicalName='"+logical+"')?"+escapeQuery(sel), "", &def)
	if crm.KindOf(err) == crm.KindNotFound {
		// Perhaps an entity set name, such as "accounts".
		var list struct {
			Value []entityDef `json:"value"`
		}
		if _, lerr := d.getJSON(ctx, "describe", object, d.base+"EntityDefinitions?"+escapeQuery("$select=LogicalName&$filter=EntitySetName eq '"+object+"'"), "", &list); lerr == nil && len(list.Value) == 1 {
			logical = list.Value[0].LogicalName
			_, err = d.getJSON(ctx, "describe", object, d.base+"EntityDefinitions(LogicalName='"+logical+"')?"+escapeQuery(sel), "", &def)
		}
	}
	if err != nil {
		var ce *crm.Error
		if errors.As(err, &ce) && ce.Kind == crm.KindNotFound {
			c := *ce
			c.Operation, c.Object = "describe", object
			c.Message = fmt.Sprintf("the environment has no table %q (looked up as a logical name and as an entity set name): %s", object, ce.Message)
			return nil, &c
		}
		return nil, err
	}
	// Choice columns carry their options only under a type cast.
	casts := map[string]string{}
	for _, a := range def.Attributes {
		switch {
		case a.AttributeType == "Picklist":
			casts["PicklistAttributeMetadata"] = ""
		case a.AttributeType == "State":
			casts["StateAttributeMetadata"] = ""
		case a.AttributeType == "Status":
			casts["StatusAttributeMetadata"] = ""
		case a.AttributeTypeName != nil && a.AttributeTypeName.Value == "MultiSelectPicklistType":
			casts["MultiSelectPicklistAttributeMetadata"] = ""
		}
	}
	options := map[string]*attrDef{}
	for _, cast := range slices.Sorted(mapKeys(casts)) {
		var list struct {
			Value []attrDef `json:"value"`
		}
		u := d.base + "EntityDefinitions(LogicalName='" + def.LogicalName + "')/Attributes/Microsoft.Dynamics.CRM." + cast + "?" +
			escapeQuery("$select=LogicalName&$expand=OptionSet($select=Options)")
		if _, err := d.getJSON(ctx, "describe", object, u, "", &list); err != nil {
			return nil, err
		}
		for i := range list.Value {
			options[list.Value[i].LogicalName] = &list.Value[i]
		}
	}
	return buildTable(&def, options)
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// buildTable turns a definition into the driver's table and a crm.Schema.
func buildTable(def *entityDef, options map[string]*attrDef) (*table, error) {
	if def.LogicalName == "" || def.EntitySetName == "" || def.PrimaryIDAttribute == "" {
		return nil, &crm.Error{Kind: crm.KindUnknown, CRM: Name, Operation: "describe", Object: def.LogicalName,
			Message: "the table definition lacks LogicalName, EntitySetName or PrimaryIdAttribute"}
	}
	t := &table{logical: def.LogicalName, set: def.EntitySetName, pk: def.PrimaryIDAttribute, tracking: def.ChangeTrackingEnabled, cols: map[string]*column{}}
	if def.PrimaryNameAttribute != nil {
		t.primaryName = *def.PrimaryNameAttribute
	}
	s := &crm.Schema{Object: def.LogicalName, Label: def.DisplayName.text(), Custom: def.IsCustomEntity, IDField: def.PrimaryIDAttribute}
	keyed := map[string]bool{}
	for _, k := range def.Keys {
		if len(k.KeyAttributes) == 1 {
			keyed[k.KeyAttributes[0]] = true
		}
	}
	navs := map[string]string{}
	for _, r := range def.ManyToOneRelationships {
		if r.NavigationProperty != "" {
			if _, dup := navs[r.ReferencingAttribute]; !dup {
				navs[r.ReferencingAttribute] = r.NavigationProperty
			}
		}
	}
	var cols []*column
	for i := range def.Attributes {
		a := &def.Attributes[i]
		if a.AttributeOf != nil && *a.AttributeOf != "" || a.IsValidForRead != nil && !*a.IsValidForRead {
			continue // a shadow of another column, such as primarycontactidname
		}
		c := newColumn(a, options[a.LogicalName], def)
		if c == nil {
			continue
		}
		c.nav = navs[c.name]
		if c.nav == "" && c.isLookup() {
			c.nav = c.name
			if a.IsCustomAttribute && a.SchemaName != "" {
				c.nav = a.SchemaName
			}
		}
		c.field.ExternalID = keyed[c.name]
		c.field.Unique = keyed[c.name]
		cols = append(cols, c)
	}
	for _, c := range cols {
		s.Fields = append(s.Fields, *c.field)
	}
	for i, c := range cols {
		c.field = &s.Fields[i]
		t.cols[c.name] = c
	}
	if t.cols["modifiedon"] != nil {
		s.ModifiedField = "modifiedon"
	}
	if t.cols[strings.ToLower(t.pk)] == nil {
		return nil, &crm.Error{Kind: crm.KindUnknown, CRM: Name, Operation: "describe", Object: def.LogicalName,
			Message: fmt.Sprintf("the table definition does not describe its primary key column %s", t.pk)}
	}
	t.schema = s
	return t, nil
}

// newColumn maps a column definition to crmkit's types; nil for columns
// crmkit does not carry (images, files, party lists, virtual columns).
func newColumn(a *attrDef, opts *attrDef, def *entityDef) *column {
	typeName := ""
	if a.AttributeTypeName != nil {
		typeName = a.AttributeTypeName.Value
	}
	c := &column{name: a.LogicalName, attrType: a.AttributeType, targets: a.Targets, pk: a.IsPrimaryID || a.LogicalName == def.PrimaryIDAttribute}
	if typeName == "MultiSelectPicklistType" {
		c.attrType = "MultiSelectPicklist"
	}
	c.validCreate = a.IsValidForCreate == nil || *a.IsValidForCreate
	c.validUpdate = a.IsValidForUpdate == nil || *a.IsValidForUpdate
	f := &crm.Field{Name: a.LogicalName, Label: a.DisplayName.text(), NativeType: c.attrType, Custom: a.IsCustomAttribute, References: a.Targets}
	switch c.attrType {
	case "String":
		f.Type = crm.TypeString
		format := ""
		if a.FormatName != nil {
			format = a.FormatName.Value
		} else if a.Format != nil {
			format = *a.Format
		}
		switch format {
		case "Email":
			f.Type = crm.TypeEmail
		case "Phone":
			f.Type = crm.TypePhone
		case "Url":
			f.Type = crm.TypeURL
		}
	case "Memo":
		f.Type = crm.TypeText
	case "Integer", "BigInt":
		f.Type = crm.TypeInt
	case "Decimal", "Double":
		f.Type = crm.TypeDecimal
	case "Money":
		f.Type = crm.TypeCurrency
	case "Boolean":
		f.Type = crm.TypeBool
	case "DateTime":
		c.behavior = BehaviorUserLocal
		if a.DateTimeBehavior != nil && a.DateTimeBehavior.Value != "" {
			c.behavior = a.DateTimeBehavior.Value
		} else if a.Format != nil && *a.Format == "DateOnly" {
			c.behavior = BehaviorDateOnly
		}
		f.Type = crm.TypeDateTime
		if c.behavior == BehaviorDateOnly {
			f.Type = crm.TypeDate
		}
	case "Picklist", "State", "Status":
		f.Type = crm.TypePicklist
	case "MultiSelectPicklist":
		f.Type = crm.TypeMultiPicklist
	case "Lookup", "Customer", "Owner":
		f.Type = crm.TypeReference
	case "Uniqueidentifier":
		f.Type = crm.TypeString
		if c.pk {
			f.Type = crm.TypeID
		}
	default:
		return nil
	}
	if a.MaxLength != nil && (c.attrType == "String" || c.attrType == "Memo") {
		f.Length = *a.MaxLength
	}
	if a.Precision != nil {
		f.Scale = *a.Precision
	}
	required := a.RequiredLevel != nil && (a.RequiredLevel.Value == "SystemRequired" || a.RequiredLevel.Value == "ApplicationRequired")
	if c.pk {
		// The record id: Write.ID carries it, never the fields.
		f.Createable, f.Updateable, f.Nillable, f.Required, f.Unique = false, false, false, false, true
		c.validCreate, c.validUpdate = false, false
	} else {
		f.Createable, f.Updateable = c.validCreate, c.validUpdate
		f.Required = required && c.validCreate
		f.Nillable = !required
	}
	if opts != nil && opts.OptionSet != nil {
		def := -1
		if opts.DefaultFormValue != nil {
			def = *opts.DefaultFormValue
		} else if a.DefaultFormValue != nil {
			def = *a.DefaultFormValue
		}
		for _, o := range opts.OptionSet.Options {
			c.options = append(c.options, option{value: o.Value, label: o.Label.text()})
			f.Picklist = append(f.Picklist, crm.PicklistValue{Value: strconv.Itoa(o.Value), Label: o.Label.text(), Active: true, Default: o.Value == def})
		}
		if f.Required && def >= 0 {
			f.Required = false // a create may leave it out: it has a default
		}
	}
	c.field = f
	return c
}

// Describe returns a table's schema from EntityDefinitions: its columns
// with their crmkit types, lengths, required levels, whether they can be
// written on create and on update, the columns of single-column alternate
// keys as external ids, and the choices of choice columns with both their
// numbers (as PicklistValue.Value, "1") and their labels. object is the
// table's logical name ("account") or its entity set name ("accounts").
func (d *Driver) Describe(ctx context.Context, object string) (*crm.Schema, error) {
	if err := begin(ctx, "describe", object); err != nil {
		return nil, err
	}
	t, err := d.table(ctx, object)
	if err != nil {
		return nil, err
	}
	return t.schema.Clone(), nil
}

// ListObjects lists the environment's tables from EntityDefinitions.
func (d *Driver) ListObjects(ctx context.Context) ([]crm.ObjectInfo, error) {
	if err := begin(ctx, "list_objects", ""); err != nil {
		return nil, err
	}
	var list struct {
		Value []struct {
			LogicalName    string `json:"LogicalName"`
			DisplayName    label  `json:"DisplayName"`
			IsCustomEntity bool   `json:"IsCustomEntity"`
			EntitySetName  string `json:"EntitySetName"`
		} `json:"value"`
	}
	u := d.base + "EntityDefinitions?" + escapeQuery("$select=LogicalName,DisplayName,IsCustomEntity,EntitySetName")
	if _, err := d.getJSON(ctx, "list_objects", "", u, "", &list); err != nil {
		return nil, err
	}
	var out []crm.ObjectInfo
	for _, e := range list.Value {
		if e.EntitySetName == "" {
			continue // not reachable through the Web API
		}
		out = append(out, crm.ObjectInfo{Name: e.LogicalName, Label: e.DisplayName.text(), Custom: e.IsCustomEntity,
			Queryable: true, Createable: true, Updateable: true, Deletable: true})
	}
	return out, nil
}

// escapeQuery percent-encodes a query string's option values the way OData
// services expect: "$select=a,b&$filter=x eq 'y'" keeps its $ names, = and
// &, and everything inside each value that is not plainly safe is escaped
// (a space as %20, never +).
func escapeQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if ok {
			parts[i] = k + "=" + escapeValue(v)
		}
	}
	return strings.Join(parts, "&")
}

// escapeValue percent-encodes one query option value: letters, digits and
// -._~'(),:$*@ stay, everything else (space, +, &, #, %, ?, =, /, and every
// byte of a non-ASCII character) is %XX.
func escapeValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-._~'(),:$*@", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
