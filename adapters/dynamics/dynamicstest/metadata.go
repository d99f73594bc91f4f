package dynamicstest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// This file serves the table definitions: EntityDefinitions (the JSON
// metadata that crmkit's adapter describes tables from) and $metadata (the
// CSDL document OData clients generate code from).

func label(s string) map[string]any {
	l := map[string]any{"Label": s, "LanguageCode": 1033, "IsManaged": true}
	return map[string]any{"LocalizedLabels": []any{l}, "UserLocalizedLabel": l}
}

func managed(v any) map[string]any {
	return map[string]any{"Value": v, "CanBeChanged": true}
}

func (e *env) entityMeta(t *etable) map[string]any {
	return map[string]any{
		"@odata.type":                    "#Microsoft.Dynamics.CRM.EntityMetadata",
		"MetadataId":                     t.metadataID,
		"LogicalName":                    t.LogicalName,
		"SchemaName":                     t.SchemaName,
		"EntitySetName":                  t.EntitySetName,
		"LogicalCollectionName":          t.EntitySetName,
		"CollectionSchemaName":           t.SchemaName + "s",
		"DisplayName":                    label(t.DisplayName),
		"DisplayCollectionName":          label(t.DisplayName + "s"),
		"PrimaryIdAttribute":             t.PrimaryIDAttribute,
		"PrimaryNameAttribute":           nilIfEmpty(t.PrimaryNameAttribute),
		"ObjectTypeCode":                 t.ObjectTypeCode,
		"IsCustomEntity":                 t.Custom,
		"IsManaged":                      !t.Custom,
		"IsActivity":                     false,
		"IsValidForAdvancedFind":         true,
		"ChangeTrackingEnabled":          t.ChangeTracking,
		"CanChangeTrackingBeEnabled":     managed(true),
		"IsOptimisticConcurrencyEnabled": true,
		"OwnershipType":                  "UserOwned",
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (a *eattr) odataType() string {
	switch a.Type {
	case Uniqueidentifier:
		return "UniqueIdentifierAttributeMetadata"
	case Customer, Owner:
		return "LookupAttributeMetadata"
	}
	return string(a.Type) + "AttributeMetadata"
}

func (a *eattr) typeName() string {
	return string(a.Type) + "Type"
}

func (a *eattr) meta() map[string]any {
	at := string(a.Type)
	if a.Type == MultiSelectPicklist {
		at = "Virtual"
	}
	m := map[string]any{
		"@odata.type":       "#Microsoft.Dynamics.CRM." + a.odataType(),
		"MetadataId":        a.metadataID,
		"LogicalName":       a.LogicalName,
		"SchemaName":        a.SchemaName,
		"EntityLogicalName": a.table.LogicalName,
		"AttributeType":     at,
		"AttributeTypeName": map[string]any{"Value": a.typeName()},
		"DisplayName":       label(a.DisplayName),
		"RequiredLevel":     map[string]any{"Value": string(a.Required), "CanBeChanged": !a.pk, "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"},
		"IsValidForCreate":  a.validCreate,
		"IsValidForUpdate":  a.validUpdate,
		"IsValidForRead":    true,
		"IsCustomAttribute": a.Custom,
		"IsPrimaryId":       a.pk,
		"IsPrimaryName":     a.LogicalName == a.table.PrimaryNameAttribute,
		"IsLogical":         false,
		"AttributeOf":       nil,
		"ColumnNumber":      slices.Index(a.table.attrs, a) + 1,
	}
	switch a.Type {
	case String:
		m["MaxLength"] = a.MaxLength
		m["DatabaseLength"] = a.MaxLength * 2
		m["FormatName"] = map[string]any{"Value": a.Format}
		m["Format"] = a.Format
	case Memo:
		m["MaxLength"] = a.MaxLength
		m["Format"] = "TextArea"
	case Decimal, Money, Double:
		m["Precision"] = a.Precision
		m["MinValue"] = -100000000000
		m["MaxValue"] = 100000000000
	case Integer:
		m["MinValue"] = -2147483648
		m["MaxValue"] = 2147483647
		m["Format"] = "None"
	case DateTime:
		format := "DateAndTime"
		if a.DateTimeBehavior == DateOnly {
			format = "DateOnly"
		}
		m["Format"] = format
		m["DateTimeBehavior"] = map[string]any{"Value": a.DateTimeBehavior}
		m["CanChangeDateTimeBehavior"] = managed(a.DateTimeBehavior == UserLocal && !a.system)
	case Picklist, State, Status:
		m["DefaultFormValue"] = a.DefaultOption
	case MultiSelectPicklist:
		m["DefaultFormValue"] = -1
	case Lookup, Customer, Owner:
		m["Targets"] = a.Targets
	case Boolean:
		m["DefaultValue"] = false
	}
	return m
}

func (a *eattr) optionSet() map[string]any {
	opts := make([]any, len(a.Options))
	for i, o := range a.Options {
		m := map[string]any{"Value": o.Value, "Label": label(o.Label), "Description": label(""), "Color": nil, "IsManaged": !a.Custom}
		if a.Type == Status {
			m["@odata.type"] = "#Microsoft.Dynamics.CRM.StatusOptionMetadata"
			m["State"] = o.State
		}
		opts[i] = m
	}
	kind := "Picklist"
	switch a.Type {
	case State:
		kind = "State"
	case Status:
		kind = "Status"
	}
	return map[string]any{
		"MetadataId":        metadataID("optionset", a.table.LogicalName, a.LogicalName),
		"Name":              a.table.LogicalName + "_" + a.LogicalName,
		"IsGlobal":          false,
		"IsCustomOptionSet": a.Custom,
		"OptionSetType":     kind,
		"Options":           opts,
	}
}

func keyMeta(t *etable, k ekey) map[string]any {
	return map[string]any{
		"MetadataId":           k.metadataID,
		"LogicalName":          k.LogicalName,
		"SchemaName":           k.LogicalName,
		"DisplayName":          label(k.LogicalName),
		"EntityLogicalName":    t.LogicalName,
		"KeyAttributes":        k.Attributes,
		"EntityKeyIndexStatus": "Active",
	}
}

func relMeta(t *etable, a *eattr) []map[string]any {
	var out []map[string]any
	for _, target := range a.Targets {
		out = append(out, map[string]any{
			"MetadataId":                              metadataID("relationship", t.LogicalName, a.LogicalName, target),
			"SchemaName":                              target + "_" + t.LogicalName + "_" + a.LogicalName,
			"RelationshipType":                        "OneToManyRelationship",
			"ReferencedEntity":                        target,
			"ReferencedAttribute":                     target + "id",
			"ReferencingEntity":                       t.LogicalName,
			"ReferencingAttribute":                    a.LogicalName,
			"ReferencingEntityNavigationPropertyName": a.NavigationProperty,
			"ReferencedEntityNavigationPropertyName":  target + "_" + t.LogicalName + "_" + a.LogicalName,
		})
	}
	return out
}

// expandItem is one item of a metadata $expand, with its nested options.
type expandItem struct {
	name   string
	sel    []string
	filter expr
}

func parseExpand(s string) ([]expandItem, *apiError) {
	var out []expandItem
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	depth, start := 0, 0
	var parts []string
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, s[start:])
	for _, p := range parts {
		p = strings.TrimSpace(p)
		name, inner, has, err := splitSegment(p)
		if err != nil {
			return nil, errQuery(err.Error())
		}
		it := expandItem{name: name}
		if has {
			for _, opt := range strings.Split(inner, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(opt), "=")
				switch k {
				case "$select":
					it.sel = strings.Split(v, ",")
				case "$filter":
					x, err := parseFilter(v)
					if err != nil {
						return nil, errQuery(err.Error())
					}
					it.filter = x
				default:
					return nil, errNotImplemented("The nested query option " + k)
				}
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// project keeps the selected properties of a metadata item (MetadataId and
// @odata.type always).
func project(m map[string]any, sel []string) map[string]any {
	if len(sel) == 0 {
		return m
	}
	out := map[string]any{"MetadataId": m["MetadataId"]}
	if v, ok := m["@odata.type"]; ok {
		out["@odata.type"] = v
	}
	for _, s := range sel {
		s = strings.TrimSpace(s)
		if v, ok := m[s]; ok {
			out[s] = v
		}
	}
	return out
}

// evalMeta evaluates a metadata $filter against one item.
func evalMeta(x expr, m map[string]any) (bool, *apiError) {
	switch x := x.(type) {
	case *logicExpr:
		l, err := evalMeta(x.left, m)
		if err != nil {
			return false, err
		}
		r, err := evalMeta(x.right, m)
		if err != nil {
			return false, err
		}
		if x.op == "and" {
			return l && r, nil
		}
		return l || r, nil
	case *notExpr:
		v, err := evalMeta(x.x, m)
		return !v, err
	case *cmpExpr:
		if x.op != "eq" && x.op != "ne" {
			return false, errNotImplemented("The operator " + x.op + " in a metadata query")
		}
		v, ok := m[x.prop]
		if !ok {
			return false, errQuery(fmt.Sprintf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.EntityMetadata'.", x.prop))
		}
		var eq bool
		switch x.lit.kind {
		case litString, litEnum:
			s, _ := v.(string)
			eq = s == x.lit.str
		case litBool:
			b, _ := v.(bool)
			eq = b == x.lit.b
		case litInt:
			eq = fmt.Sprint(v) == x.lit.raw
		case litNull:
			eq = v == nil
		case litGUID:
			s, _ := v.(string)
			eq = strings.EqualFold(s, x.lit.str)
		default:
			return false, errNotImplemented("This literal in a metadata query")
		}
		return eq == (x.op == "eq"), nil
	}
	return false, errNotImplemented("This expression in a metadata query")
}

func (e *env) tableByMetaKey(key string) (*etable, *apiError) {
	parts, err := parseKey(key)
	if err != nil {
		return nil, errBadRequest(err.Error())
	}
	if len(parts) == 1 {
		p := parts[0]
		switch {
		case p.name == "" && p.lit.kind == litGUID:
			for _, t := range e.tables {
				if t.metadataID == p.lit.str {
					return t, nil
				}
			}
		case p.name == "LogicalName" && p.lit.kind == litString:
			if t := e.byName[p.lit.str]; t != nil && t.LogicalName == p.lit.str {
				return t, nil
			}
			return nil, &apiError{status: http.StatusNotFound, code: codeNotFound, message: fmt.Sprintf("Could not find entity with name '%s'.", p.lit.str)}
		default:
			return nil, errBadRequest("EntityDefinitions are addressed by MetadataId or by LogicalName='name'.")
		}
	}
	return nil, &apiError{status: http.StatusNotFound, code: codeNotFound, message: fmt.Sprintf("Could not find entity with key '%s'.", key)}
}

// entityDefinitions serves EntityDefinitions, one table's definition, and
// its Attributes (with a type cast and OptionSet expansion), Keys and
// ManyToOneRelationships.
func (e *env) entityDefinitions(o *request, key string, hasKey bool, rest []string, q url.Values) *response {
	sel := splitList(q.Get("$select"))
	expand, aerr := parseExpand(q.Get("$expand"))
	if aerr != nil {
		return errResponse(aerr)
	}
	var filter expr
	if f := q.Get("$filter"); f != "" {
		x, err := parseFilter(f)
		if err != nil {
			return errResponse(errQuery(err.Error()))
		}
		filter = x
	}
	ctx := o.base + "$metadata#EntityDefinitions"
	if !hasKey {
		if len(rest) > 0 {
			return errResponse(errBadRequest("Address one table: EntityDefinitions(LogicalName='account')/" + strings.Join(rest, "/")))
		}
		var out []any
		for _, t := range e.tables {
			m := e.entityMeta(t)
			if filter != nil {
				ok, aerr := evalMeta(filter, m)
				if aerr != nil {
					return errResponse(aerr)
				}
				if !ok {
					continue
				}
			}
			item, aerr := e.expandEntity(t, project(m, sel), expand)
			if aerr != nil {
				return errResponse(aerr)
			}
			out = append(out, item)
		}
		if out == nil {
			out = []any{}
		}
		return jsonResponse(http.StatusOK, map[string]any{"@odata.context": ctx, "value": out})
	}
	t, aerr := e.tableByMetaKey(key)
	if aerr != nil {
		return errResponse(aerr)
	}
	if len(rest) == 0 {
		item, aerr := e.expandEntity(t, project(e.entityMeta(t), sel), expand)
		if aerr != nil {
			return errResponse(aerr)
		}
		item["@odata.context"] = ctx + "/$entity"
		return jsonResponse(http.StatusOK, item)
	}
	nav, navKey, navHasKey, err := splitSegment(rest[0])
	if err != nil {
		return errResponse(errBadRequest(err.Error()))
	}
	switch nav {
	case "Attributes":
		cast := ""
		if len(rest) > 1 {
			cast = strings.TrimPrefix(rest[1], "Microsoft.Dynamics.CRM.")
		}
		if len(rest) > 2 {
			return errResponse(errNotImplemented("The path " + strings.Join(rest, "/")))
		}
		var items []any
		for _, a := range t.attrs {
			if navHasKey {
				parts, err := parseKey(navKey)
				if err != nil || len(parts) != 1 {
					return errResponse(errBadRequest("Attributes are addressed by MetadataId or by LogicalName='name'."))
				}
				if parts[0].lit.str != a.LogicalName && parts[0].lit.str != a.metadataID {
					continue
				}
			}
			if cast != "" && a.odataType() != cast && !(cast == "EnumAttributeMetadata" && len(a.Options) > 0) {
				continue
			}
			m := a.meta()
			if filter != nil {
				ok, aerr := evalMeta(filter, m)
				if aerr != nil {
					return errResponse(aerr)
				}
				if !ok {
					continue
				}
			}
			m = project(m, sel)
			for _, it := range expand {
				switch it.name {
				case "OptionSet":
					if len(a.Options) == 0 || cast == "" {
						return errResponse(errQuery("Could not find a property named 'OptionSet' on type 'Microsoft.Dynamics.CRM.AttributeMetadata': cast to the attribute type first, such as Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata."))
					}
					m["OptionSet"] = project(a.optionSet(), it.sel)
				case "GlobalOptionSet":
					m["GlobalOptionSet"] = nil
				default:
					return errResponse(errNotImplemented("$expand=" + it.name + " on attributes"))
				}
			}
			items = append(items, m)
		}
		if navHasKey {
			if len(items) == 0 {
				return errResponse(&apiError{status: http.StatusNotFound, code: codeNotFound, message: fmt.Sprintf("Could not find attribute %s on entity %s.", navKey, t.LogicalName)})
			}
			return jsonResponse(http.StatusOK, items[0])
		}
		if items == nil {
			items = []any{}
		}
		return jsonResponse(http.StatusOK, map[string]any{"@odata.context": ctx + "('" + t.LogicalName + "')/Attributes", "value": items})
	case "Keys":
		var items []any
		for _, k := range t.keys {
			items = append(items, project(keyMeta(t, k), sel))
		}
		if items == nil {
			items = []any{}
		}
		return jsonResponse(http.StatusOK, map[string]any{"@odata.context": ctx + "('" + t.LogicalName + "')/Keys", "value": items})
	case "ManyToOneRelationships":
		var items []any
		for _, a := range t.attrs {
			if a.isLookup() {
				for _, r := range relMeta(t, a) {
					items = append(items, project(r, sel))
				}
			}
		}
		if items == nil {
			items = []any{}
		}
		return jsonResponse(http.StatusOK, map[string]any{"@odata.context": ctx + "('" + t.LogicalName + "')/ManyToOneRelationships", "value": items})
	}
	return errResponse(errNotImplemented("EntityDefinitions/" + nav))
}

func (e *env) expandEntity(t *etable, m map[string]any, expand []expandItem) (map[string]any, *apiError) {
	for _, it := range expand {
		var items []any
		switch it.name {
		case "Attributes":
			for _, a := range t.attrs {
				am := a.meta()
				if it.filter != nil {
					ok, aerr := evalMeta(it.filter, am)
					if aerr != nil {
						return nil, aerr
					}
					if !ok {
						continue
					}
				}
				items = append(items, project(am, it.sel))
			}
		case "Keys":
			for _, k := range t.keys {
				items = append(items, project(keyMeta(t, k), it.sel))
			}
		case "ManyToOneRelationships":
			for _, a := range t.attrs {
				if a.isLookup() {
					for _, r := range relMeta(t, a) {
						items = append(items, project(r, it.sel))
					}
				}
			}
		default:
			return nil, errNotImplemented("$expand=" + it.name)
		}
		if items == nil {
			items = []any{}
		}
		m[it.name] = items
	}
	return m, nil
}

func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

// metadataDocument renders the CSDL $metadata document for the tables.
func (e *env) metadataDocument() *response {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">` + "\n")
	b.WriteString(`<edmx:Reference Uri="http://vocabularies.odata.org/OData.Community.Keys.V1.xml"><edmx:Include Namespace="OData.Community.Keys.V1" Alias="Keys"/></edmx:Reference>` + "\n")
	b.WriteString(`<edmx:Reference Uri="http://vocabularies.odata.org/OData.Community.Display.V1.xml"><edmx:Include Namespace="OData.Community.Display.V1" Alias="Display"/></edmx:Reference>` + "\n")
	b.WriteString(`<edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">` + "\n")
	b.WriteString(`<EntityType Name="crmbaseentity" Abstract="true"/>` + "\n")
	for _, t := range e.tables {
		fmt.Fprintf(&b, `<EntityType Name="%s" BaseType="mscrm.crmbaseentity"><Key><PropertyRef Name="%s"/></Key>`, t.LogicalName, t.PrimaryIDAttribute)
		for _, a := range t.attrs {
			typ := a.edm()
			if a.isLookup() {
				typ = "Edm.Guid"
			}
			if a.Type == Decimal || a.Type == Money {
				fmt.Fprintf(&b, `<Property Name="%s" Type="%s" Scale="%d"/>`, a.wireName(), typ, a.Precision)
				continue
			}
			fmt.Fprintf(&b, `<Property Name="%s" Type="%s"/>`, a.wireName(), typ)
		}
		b.WriteString(`<Property Name="versionnumber" Type="Edm.Int64"/>`)
		for _, a := range t.attrs {
			if a.isLookup() && len(a.Targets) == 1 {
				target := e.byName[a.Targets[0]]
				fmt.Fprintf(&b, `<NavigationProperty Name="%s" Type="mscrm.%s"><ReferentialConstraint Property="%s" ReferencedProperty="%s"/></NavigationProperty>`,
					a.NavigationProperty, target.LogicalName, a.wireName(), target.PrimaryIDAttribute)
			}
		}
		b.WriteString("</EntityType>\n")
	}
	b.WriteString(`<EntityContainer Name="System">`)
	for _, t := range e.tables {
		fmt.Fprintf(&b, `<EntitySet Name="%s" EntityType="Microsoft.Dynamics.CRM.%s"/>`, t.EntitySetName, t.LogicalName)
	}
	b.WriteString("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>\n")
	return &response{status: http.StatusOK, header: http.Header{"Content-Type": {"application/xml"}}, body: []byte(b.String())}
}
